//! Rules: PutRule, DescribeRule, ListRules, DeleteRule, Enable/DisableRule,
//! ListRuleNamesByTarget.

use super::*;
use crate::catalog::{RuleError, RuleSpec, TargetFault};

/// EventBridge's words for the core's refusals of rule and target changes.
impl From<RuleError> for ApiError {
    fn from(e: RuleError) -> Self {
        match e {
            RuleError::NoPatternNorSchedule => ApiError::validation(
                "Parameter(s) EventPattern or ScheduleExpression must be specified.",
            ),
            RuleError::ScheduleOnCustomBus => ApiError::validation(
                "ScheduleExpression is supported only on the default event bus.",
            ),
            RuleError::InvalidSchedule => ApiError::validation(eddy_schedule::RULE_INVALID_MESSAGE),
            RuleError::InvalidPattern(m) => ApiError::invalid_pattern(m),
            RuleError::BusNotFound(bus) => bus_missing(&bus),
            RuleError::NotFound { name, bus } => rule_missing_on_bus(&name, &bus),
            RuleError::Managed(name) => ApiError::managed_rule(format!(
                "Rule {name} is managed by an AWS service and cannot be modified."
            )),
            RuleError::ManagedDeleteNeedsForce(name) => ApiError::managed_rule(format!(
                "Rule {name} is managed by an AWS service and can only be deleted with Force."
            )),
            RuleError::ManagedRemoveNeedsForce(name) => ApiError::managed_rule(format!(
                "Rule {name} is managed by an AWS service; its targets can only be removed with \
                 Force."
            )),
            RuleError::HasTargets => {
                ApiError::validation("Rule can't be deleted since it has targets.")
            }
            RuleError::InvalidTarget(TargetFault::Arn(arn)) => ApiError::validation(format!(
                "Parameter {arn} is not valid. Reason: Provided Arn is not in correct format."
            )),
            RuleError::InvalidTarget(TargetFault::Input(m)) => ApiError::validation(m),
            RuleError::InvalidTarget(TargetFault::FifoWithoutGroup(id)) => ApiError::validation(
                format!("Parameter(s) SqsParameters must be specified for target: {id}."),
            ),
            RuleError::TooManyTargets => ApiError::limit_exceeded(format!(
                "The requested resource exceeds the maximum number allowed: a rule can have at \
                 most {} targets.",
                eddy_model::limits::target::PER_RULE
            )),
            RuleError::Core(e) => e.into(),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct TagWire {
    key: Option<String>,
    value: Option<String>,
}

pub(super) fn check_tags(v: &mut Violations, member: &str, tags: Option<Vec<TagWire>>) -> Tags {
    let mut out = Tags::new();
    for (i, t) in tags.into_iter().flatten().enumerate() {
        let m = format!("{member}.{}.member", i + 1);
        match &t.key {
            None => v.required(&format!("{m}.key")),
            Some(k) => v.length(&format!("{m}.key"), Some(k), 1, 128),
        }
        match &t.value {
            None => v.required(&format!("{m}.value")),
            Some(val) => v.length(&format!("{m}.value"), Some(val), 0, 256),
        }
        if let (Some(k), Some(val)) = (t.key, t.value) {
            out.insert(k, val);
        }
    }
    out
}

pub(super) fn tags_wire(tags: &Tags) -> Vec<Value> {
    tags.iter()
        .map(|(k, v)| json!({"Key": k, "Value": v}))
        .collect()
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct PutRuleInput {
    name: Option<String>,
    schedule_expression: Option<String>,
    event_pattern: Option<String>,
    state: Option<String>,
    description: Option<String>,
    role_arn: Option<String>,
    tags: Option<Vec<TagWire>>,
    event_bus_name: Option<String>,
}

pub(super) async fn put_rule(
    app: &App,
    ctx: &Ctx,
    input: PutRuleInput,
) -> Result<Vec<u8>, ApiError> {
    let mut v = Violations::new();
    v.name("name", input.name.as_deref(), RULE_NAME, true);
    v.length(
        "scheduleExpression",
        input.schedule_expression.as_deref(),
        0,
        256,
    );
    v.length("eventPattern", input.event_pattern.as_deref(), 0, 4096);
    v.one_of("state", input.state.as_deref(), &RuleState::ALL);
    v.length("description", input.description.as_deref(), 0, 512);
    v.length("roleArn", input.role_arn.as_deref(), 1, 1600);
    let bus = bus_name(&mut v, "eventBusName", input.event_bus_name.as_deref());
    let tags = check_tags(&mut v, "tags", input.tags);
    v.finish()?;
    let name = input.name.unwrap_or_default();
    let arn = app.catalog.scope(&ctx.region).rule_arn(&bus, &name);
    let spec = RuleSpec {
        bus,
        name,
        event_pattern: input.event_pattern,
        schedule_expression: input.schedule_expression,
        state: input.state.as_deref().and_then(RuleState::parse),
        description: input.description,
        role_arn: input.role_arn,
        tags,
    };
    app.catalog.put_rule(&ctx.region, spec).await?;
    reply(&json!({ "RuleArn": arn }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct RuleRef {
    name: Option<String>,
    event_bus_name: Option<String>,
    #[serde(default)]
    force: Option<bool>,
}

pub(super) fn check_rule_ref(input: &RuleRef) -> Result<(String, String), ApiError> {
    let mut v = Violations::new();
    v.name("name", input.name.as_deref(), RULE_NAME, true);
    let bus = bus_name(&mut v, "eventBusName", input.event_bus_name.as_deref());
    v.finish()?;
    Ok((input.name.clone().unwrap_or_default(), bus))
}

pub(super) fn rule_wire(app: &App, r: &RuleDef, with_created_by: bool) -> Value {
    let mut m = serde_json::Map::new();
    m.insert("Name".into(), json!(r.name));
    m.insert(
        "Arn".into(),
        json!(app.catalog.scope(&r.region).rule_arn(&r.bus, &r.name)),
    );
    if let Some(p) = &r.event_pattern {
        m.insert("EventPattern".into(), json!(p));
    }
    if let Some(s) = &r.schedule_expression {
        m.insert("ScheduleExpression".into(), json!(s));
    }
    m.insert("State".into(), json!(r.state.as_str()));
    if let Some(d) = &r.description {
        m.insert("Description".into(), json!(d));
    }
    if let Some(a) = &r.role_arn {
        m.insert("RoleArn".into(), json!(a));
    }
    if let Some(a) = &r.managed_by {
        m.insert("ManagedBy".into(), json!(a));
    }
    m.insert("EventBusName".into(), json!(r.bus));
    if with_created_by {
        m.insert("CreatedBy".into(), json!(app.catalog.account()));
    }
    Value::Object(m)
}

pub(super) async fn describe_rule(
    app: &App,
    ctx: &Ctx,
    input: RuleRef,
) -> Result<Vec<u8>, ApiError> {
    let (name, bus) = check_rule_ref(&input)?;
    let rule = app
        .catalog
        .read(|d| {
            require_bus(d, &ctx.region, &bus)?;
            d.rule(&ctx.region, &bus, &name)
                .cloned()
                .ok_or_else(|| rule_missing(&name))
        })
        .await?;
    reply(&rule_wire(app, &rule, true))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ListRulesInput {
    name_prefix: Option<String>,
    event_bus_name: Option<String>,
    next_token: Option<String>,
    limit: Option<i64>,
}

pub(super) async fn list_rules(
    app: &App,
    ctx: &Ctx,
    input: ListRulesInput,
) -> Result<Vec<u8>, ApiError> {
    let mut v = Violations::new();
    v.length("namePrefix", input.name_prefix.as_deref(), 1, 64);
    let bus = bus_name(&mut v, "eventBusName", input.event_bus_name.as_deref());
    let page = Page::new(&mut v, input.next_token.as_deref(), input.limit, 100)?;
    v.finish()?;
    let prefix = input.name_prefix.unwrap_or_default();
    let rules = app
        .catalog
        .read(|d| {
            require_bus(d, &ctx.region, &bus)?;
            Ok::<_, ApiError>(
                d.rules_of(&ctx.region, &bus)
                    .filter(|r| r.name.starts_with(&prefix))
                    .cloned()
                    .collect::<Vec<_>>(),
            )
        })
        .await?;
    page.reply(
        rules,
        |r| r.name.as_str(),
        "Rules",
        |r| rule_wire(app, r, false),
    )
}

pub(super) async fn delete_rule(app: &App, ctx: &Ctx, input: RuleRef) -> Result<Vec<u8>, ApiError> {
    let (name, bus) = check_rule_ref(&input)?;
    let force = input.force.unwrap_or(false);
    app.catalog
        .delete_rule(&ctx.region, &bus, &name, force)
        .await?;
    empty()
}

pub(super) async fn set_rule_state(
    app: &App,
    ctx: &Ctx,
    input: RuleRef,
    state: RuleState,
) -> Result<Vec<u8>, ApiError> {
    let (name, bus) = check_rule_ref(&input)?;
    app.catalog
        .set_rule_state(&ctx.region, &bus, &name, state)
        .await
        .map_err(|e| match e {
            // EnableRule and DisableRule do not name the bus.
            RuleError::NotFound { name, .. } => rule_missing(&name),
            e => e.into(),
        })?;
    empty()
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ListRuleNamesByTargetInput {
    target_arn: Option<String>,
    event_bus_name: Option<String>,
    next_token: Option<String>,
    limit: Option<i64>,
}

pub(super) async fn list_rule_names_by_target(
    app: &App,
    ctx: &Ctx,
    input: ListRuleNamesByTargetInput,
) -> Result<Vec<u8>, ApiError> {
    let mut v = Violations::new();
    if input.target_arn.is_none() {
        v.required("targetArn");
    }
    v.length("targetArn", input.target_arn.as_deref(), 1, 1600);
    let bus = bus_name(&mut v, "eventBusName", input.event_bus_name.as_deref());
    let page = Page::new(&mut v, input.next_token.as_deref(), input.limit, 100)?;
    v.finish()?;
    let arn = input.target_arn.unwrap_or_default();
    let names = app
        .catalog
        .read(|d| {
            require_bus(d, &ctx.region, &bus)?;
            Ok::<_, ApiError>(
                d.rules_of(&ctx.region, &bus)
                    .filter(|r| r.targets.iter().any(|t| t.arn == arn))
                    .map(|r| r.name.clone())
                    .collect::<Vec<_>>(),
            )
        })
        .await?;
    page.reply(names, String::as_str, "RuleNames", |n| json!(n))
}

// ---------------------------------------------------------------------------------------------
