//! Amazon EventBridge (`AWSEvents.*`, API 2015-10-07) over AWS JSON 1.1: request shapes,
//! validation with AWS's codes and messages, and replies. The state lives in the catalog; putting
//! events goes through the bus.

use eddy_model::DEFAULT_BUS;
use eddy_model::definitions::{BusDef, RuleDef, RuleState, Tags, TargetDef};
use eddy_model::event::DetailError;
use eddy_model::names::{Arn, BUS_NAME, RULE_NAME, TARGET_ID};
use eddy_pattern::Pattern;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{Ctx, Page, empty, parse, reply};
use crate::App;
use crate::bus::{EntryError, PreparedEvent};
use crate::catalog::{Change, Defs};
use crate::error::{ApiError, Violations};

/// Most targets a rule may have (EventBridge's quota).
pub const MAX_TARGETS_PER_RULE: usize = 5;

/// Runs one EventBridge operation.
pub async fn call(app: &App, ctx: &Ctx, op: &str, body: &[u8]) -> Result<Vec<u8>, ApiError> {
    match op {
        "PutEvents" => put_events(app, ctx, parse(body)?).await,
        "TestEventPattern" => test_event_pattern(app, parse(body)?),
        "PutRule" => put_rule(app, ctx, parse(body)?).await,
        "DescribeRule" => describe_rule(app, ctx, parse(body)?).await,
        "ListRules" => list_rules(app, ctx, parse(body)?).await,
        "DeleteRule" => delete_rule(app, ctx, parse(body)?).await,
        "EnableRule" => set_rule_state(app, ctx, parse(body)?, RuleState::Enabled).await,
        "DisableRule" => set_rule_state(app, ctx, parse(body)?, RuleState::Disabled).await,
        "ListRuleNamesByTarget" => list_rule_names_by_target(app, ctx, parse(body)?).await,
        "PutTargets" => put_targets(app, ctx, parse(body)?).await,
        "RemoveTargets" => remove_targets(app, ctx, parse(body)?).await,
        "ListTargetsByRule" => list_targets_by_rule(app, ctx, parse(body)?).await,
        "CreateEventBus" => create_event_bus(app, ctx, parse(body)?).await,
        "DescribeEventBus" => describe_event_bus(app, ctx, parse(body)?).await,
        "ListEventBuses" => list_event_buses(app, ctx, parse(body)?).await,
        "UpdateEventBus" => update_event_bus(app, ctx, parse(body)?).await,
        "DeleteEventBus" => delete_event_bus(app, ctx, parse(body)?).await,
        "TagResource" => tag_resource(app, ctx, parse(body)?).await,
        "UntagResource" => untag_resource(app, ctx, parse(body)?).await,
        "ListTagsForResource" => list_tags_for_resource(app, ctx, parse(body)?).await,
        "PutPermission" => put_permission(app, ctx, parse(body)?).await,
        "RemovePermission" => remove_permission(app, ctx, parse(body)?).await,
        "CreateArchive" | "DescribeArchive" | "ListArchives" | "UpdateArchive"
        | "DeleteArchive" | "StartReplay" | "DescribeReplay" | "ListReplays" | "CancelReplay" => {
            super::archives::call(app, ctx, op, body).await
        }
        _ => match super::destinations::call(app, ctx, op, body).await {
            Some(r) => r,
            None => Err(ApiError::unknown_operation(format!(
                "Unknown operation AWSEvents.{op}: eddy does not implement it"
            ))),
        },
    }
}

fn epoch_seconds(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

/// Resolves an `EventBusName`-style member (a name or a bus ARN) to a bus name; `None` is the
/// default bus.
fn bus_name(v: &mut Violations, member: &str, value: Option<&str>) -> String {
    let Some(value) = value else {
        return DEFAULT_BUS.to_owned();
    };
    if let Some(arn) = Arn::parse(value)
        && let Some(name) = arn.resource.strip_prefix("event-bus/")
    {
        v.length(member, Some(value), 1, 1600);
        v.name(member, Some(name), BUS_NAME, true);
        return name.to_owned();
    }
    v.name(member, Some(value), BUS_NAME, true);
    value.to_owned()
}

fn bus_missing(name: &str) -> ApiError {
    ApiError::not_found(format!("Event bus {name} does not exist."))
}

/// `Ok` when the bus exists (the `default` bus always does).
fn require_bus(d: &Defs, region: &str, bus: &str) -> Result<(), ApiError> {
    match d.bus(region, bus) {
        Some(_) => Ok(()),
        None => Err(bus_missing(bus)),
    }
}

fn rule_missing(name: &str) -> ApiError {
    ApiError::not_found(format!("Rule {name} does not exist."))
}

fn rule_missing_on_bus(name: &str, bus: &str) -> ApiError {
    ApiError::not_found(format!("Rule {name} does not exist on EventBus {bus}."))
}

/// Parses a pattern with the server's limits, reporting errors as EventBridge does.
fn compile_pattern(app: &App, src: &str) -> Result<Pattern, ApiError> {
    Pattern::parse_with(src, app.catalog.limits())
        .map_err(|e| ApiError::invalid_pattern(e.to_string()))
}

// ---------------------------------------------------------------------------------------------
// PutEvents

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PutEventsInput {
    entries: Option<Vec<PutEventsEntry>>,
    #[allow(dead_code)]
    endpoint_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PutEventsEntry {
    time: Option<f64>,
    source: Option<String>,
    resources: Option<Vec<String>>,
    detail_type: Option<String>,
    detail: Option<String>,
    event_bus_name: Option<String>,
    #[allow(dead_code)]
    trace_header: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct PutEventsOutput {
    failed_entry_count: usize,
    entries: Vec<PutEventsResultEntry>,
}

#[derive(Serialize, Default)]
#[serde(rename_all = "PascalCase")]
struct PutEventsResultEntry {
    #[serde(skip_serializing_if = "Option::is_none")]
    event_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_code: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_message: Option<String>,
}

/// The size AWS charges an entry: Time (14 bytes when set) + Source + DetailType + Detail +
/// every Resources item, in UTF-8 bytes.
fn entry_size(e: &PutEventsEntry) -> usize {
    let mut n = if e.time.is_some() { 14 } else { 0 };
    n += e.source.as_deref().map_or(0, str::len);
    n += e.detail_type.as_deref().map_or(0, str::len);
    n += e.detail.as_deref().map_or(0, str::len);
    n += e.resources.iter().flatten().map(String::len).sum::<usize>();
    n
}

fn invalid_argument(field: &str) -> EntryError {
    EntryError {
        code: "InvalidArgument",
        message: format!("Parameter {field} is not valid. Reason: {field} is a required argument."),
    }
}

/// Checks one entry; per-entry problems do not fail the request.
fn prepare_entry(e: PutEventsEntry) -> Result<PreparedEvent, EntryError> {
    let source = e
        .source
        .filter(|s| !s.is_empty())
        .ok_or_else(|| invalid_argument("Source"))?;
    let detail_type = e
        .detail_type
        .filter(|s| !s.is_empty())
        .ok_or_else(|| invalid_argument("DetailType"))?;
    let detail = e
        .detail
        .filter(|s| !s.is_empty())
        .ok_or_else(|| invalid_argument("Detail"))?;
    if source.chars().any(char::is_control) {
        return Err(EntryError {
            code: "InvalidArgument",
            message: "Parameter Source is not valid. Reason: Source must not contain control \
                      characters."
                .to_owned(),
        });
    }
    // The Detail itself (a JSON object, its depth, its escapes) is checked by the bus, for every
    // event put, with `MalformedDetail` as that entry's answer.
    let mut v = Violations::new();
    let bus = bus_name(&mut v, "eventBusName", e.event_bus_name.as_deref());
    if !v.is_empty() {
        return Err(EntryError {
            code: "InvalidArgument",
            message: "Parameter EventBusName is not valid.".to_owned(),
        });
    }
    let time_ms = match e.time {
        Some(t) if t.is_finite() => Some((t * 1000.0).floor() as i64),
        Some(_) => {
            return Err(EntryError {
                code: "InvalidArgument",
                message: "Parameter Time is not valid.".to_owned(),
            });
        }
        None => None,
    };
    Ok(PreparedEvent {
        bus,
        source,
        detail_type,
        detail,
        resources: e.resources.unwrap_or_default(),
        time_ms,
    })
}

async fn put_events(app: &App, ctx: &Ctx, input: PutEventsInput) -> Result<Vec<u8>, ApiError> {
    let Some(entries) = input.entries else {
        let mut v = Violations::new();
        v.required("entries");
        return Err(v.finish().unwrap_err());
    };
    if entries.is_empty() || entries.len() > 10 {
        let bound = if entries.is_empty() {
            "Member must have length greater than or equal to 1"
        } else {
            "Member must have length less than or equal to 10"
        };
        let mut v = Violations::new();
        v.add("entries", Some("[PutEventsRequestEntry]"), bound);
        return v.finish().map(|_| Vec::new());
    }
    let total: usize = entries.iter().map(entry_size).sum();
    if total > app.config.max_entries_size {
        return Err(ApiError::validation(
            "Total size of the entries in the request is over the limit.",
        ));
    }
    let prepared = entries.into_iter().map(prepare_entry).collect();
    let results = app
        .bus
        .put(&ctx.region, prepared, app.clock.now_ms())
        .await?;
    let failed = results.iter().filter(|r| r.is_err()).count();
    let entries = results
        .into_iter()
        .map(|r| match r {
            Ok(id) => PutEventsResultEntry {
                event_id: Some(id),
                ..Default::default()
            },
            Err(e) => PutEventsResultEntry {
                event_id: None,
                error_code: Some(e.code),
                error_message: Some(e.message),
            },
        })
        .collect();
    reply(&PutEventsOutput {
        failed_entry_count: failed,
        entries,
    })
}

// ---------------------------------------------------------------------------------------------
// TestEventPattern

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TestEventPatternInput {
    event_pattern: Option<String>,
    event: Option<String>,
}

/// Fields a test event must carry, as EventBridge requires.
const REQUIRED_EVENT_FIELDS: [&str; 7] = [
    "id",
    "account",
    "source",
    "time",
    "region",
    "resources",
    "detail-type",
];

fn test_event_pattern(app: &App, input: TestEventPatternInput) -> Result<Vec<u8>, ApiError> {
    let mut v = Violations::new();
    if input.event_pattern.is_none() {
        v.required("eventPattern");
    }
    if input.event.is_none() {
        v.required("event");
    }
    v.length("eventPattern", input.event_pattern.as_deref(), 0, 4096);
    v.finish()?;
    let (Some(pattern), Some(event)) = (input.event_pattern, input.event) else {
        return Err(ApiError::internal("checked above"));
    };
    let pattern = compile_pattern(app, &pattern)?;
    let not_json =
        || ApiError::validation("Parameter Event is not valid. Reason: Event is not valid JSON.");
    // The same limits as an event put on a bus: an envelope one level deeper than a Detail.
    match eddy_model::event::check_event(&event) {
        Ok(_) => {}
        Err(DetailError::TooDeep) => {
            return Err(ApiError::validation(format!(
                "Parameter Event is not valid. Reason: Event is nested deeper than {} levels.",
                eddy_model::event::MAX_DETAIL_DEPTH + 1
            )));
        }
        Err(DetailError::LoneSurrogate) => {
            return Err(ApiError::validation(
                "Parameter Event is not valid. Reason: Event contains a \\u escape of a lone \
                 UTF-16 surrogate.",
            ));
        }
        Err(DetailError::Malformed) => return Err(not_json()),
    }
    let parsed: Value = serde_json::from_str(&event).map_err(|_| not_json())?;
    let Some(obj) = parsed.as_object() else {
        return Err(ApiError::validation(
            "Parameter Event is not valid. Reason: Event must be a JSON object.",
        ));
    };
    for field in REQUIRED_EVENT_FIELDS {
        if !obj.contains_key(field) {
            return Err(ApiError::validation(format!(
                "Parameter Event is not valid. Reason: Provided Event is missing the field \
                 '{field}'."
            )));
        }
    }
    let result = pattern
        .matches(&event)
        .map_err(|e| ApiError::validation(format!("Parameter Event is not valid. Reason: {e}")))?;
    reply(&json!({ "Result": result }))
}

// ---------------------------------------------------------------------------------------------
// Rules

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TagWire {
    key: Option<String>,
    value: Option<String>,
}

fn check_tags(v: &mut Violations, member: &str, tags: Option<Vec<TagWire>>) -> Tags {
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

fn tags_wire(tags: &Tags) -> Vec<Value> {
    tags.iter()
        .map(|(k, v)| json!({"Key": k, "Value": v}))
        .collect()
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PutRuleInput {
    name: Option<String>,
    schedule_expression: Option<String>,
    event_pattern: Option<String>,
    state: Option<String>,
    description: Option<String>,
    role_arn: Option<String>,
    tags: Option<Vec<TagWire>>,
    event_bus_name: Option<String>,
}

async fn put_rule(app: &App, ctx: &Ctx, input: PutRuleInput) -> Result<Vec<u8>, ApiError> {
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
    if input.event_pattern.is_none() && input.schedule_expression.is_none() {
        return Err(ApiError::validation(
            "Parameter(s) EventPattern or ScheduleExpression must be specified.",
        ));
    }
    if let Some(s) = &input.schedule_expression {
        if bus != DEFAULT_BUS {
            return Err(ApiError::validation(
                "ScheduleExpression is supported only on the default event bus.",
            ));
        }
        // Rules take rate() and cron() (UTC); at() is for EventBridge Scheduler only.
        match eddy_schedule::ScheduleExpression::parse(s) {
            Ok(expr) if expr.allowed_for_rules() => {}
            _ => return Err(ApiError::validation(eddy_schedule::RULE_INVALID_MESSAGE)),
        }
    }
    if let Some(p) = &input.event_pattern {
        compile_pattern(app, p)?;
    }
    let state = input
        .state
        .as_deref()
        .and_then(RuleState::parse)
        .unwrap_or(RuleState::Enabled);
    let region = ctx.region.clone();
    let arn = app.catalog.scope(&region).rule_arn(&bus, &name);
    let now = app.clock.now_ms();
    app.catalog
        .mutate(|defs| {
            if defs.bus(&region, &bus).is_none() {
                return Err(bus_missing(&bus));
            }
            let old = defs.rule(&region, &bus, &name);
            if let Some(old) = old
                && old.managed_by.is_some()
            {
                return Err(managed(&name));
            }
            let rule = RuleDef {
                region: region.clone(),
                bus: bus.clone(),
                name: name.clone(),
                event_pattern: input.event_pattern,
                schedule_expression: input.schedule_expression,
                state,
                description: input.description,
                role_arn: input.role_arn,
                managed_by: None,
                tags: match old {
                    Some(o) if tags.is_empty() => o.tags.clone(),
                    _ => tags,
                },
                targets: old.map(|o| o.targets.clone()).unwrap_or_default(),
                created_ms: old.map_or(now, |o| o.created_ms),
            };
            Ok(((), vec![Change::PutRule(rule)]))
        })
        .await?;
    reply(&json!({ "RuleArn": arn }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RuleRef {
    name: Option<String>,
    event_bus_name: Option<String>,
    #[serde(default)]
    force: Option<bool>,
}

fn check_rule_ref(input: &RuleRef) -> Result<(String, String), ApiError> {
    let mut v = Violations::new();
    v.name("name", input.name.as_deref(), RULE_NAME, true);
    let bus = bus_name(&mut v, "eventBusName", input.event_bus_name.as_deref());
    v.finish()?;
    Ok((input.name.clone().unwrap_or_default(), bus))
}

fn rule_wire(app: &App, r: &RuleDef, with_created_by: bool) -> Value {
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

async fn describe_rule(app: &App, ctx: &Ctx, input: RuleRef) -> Result<Vec<u8>, ApiError> {
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
struct ListRulesInput {
    name_prefix: Option<String>,
    event_bus_name: Option<String>,
    next_token: Option<String>,
    limit: Option<i64>,
}

async fn list_rules(app: &App, ctx: &Ctx, input: ListRulesInput) -> Result<Vec<u8>, ApiError> {
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

async fn delete_rule(app: &App, ctx: &Ctx, input: RuleRef) -> Result<Vec<u8>, ApiError> {
    let (name, bus) = check_rule_ref(&input)?;
    let force = input.force.unwrap_or(false);
    let region = ctx.region.clone();
    app.catalog
        .mutate(|d| {
            require_bus(d, &region, &bus)?;
            let Some(rule) = d.rule(&region, &bus, &name) else {
                return Ok(((), vec![]));
            };
            if rule.managed_by.is_some() && !force {
                return Err(ApiError::managed_rule(format!(
                    "Rule {name} is managed by an AWS service and can only be deleted with Force."
                )));
            }
            if !rule.targets.is_empty() {
                return Err(ApiError::validation(
                    "Rule can't be deleted since it has targets.",
                ));
            }
            Ok((
                (),
                vec![Change::DeleteRule {
                    region: region.clone(),
                    bus: bus.clone(),
                    name,
                }],
            ))
        })
        .await?;
    empty()
}

/// A managed rule (an archive's) refused a change: PutRule, PutTargets, EnableRule and
/// DisableRule always, DeleteRule and RemoveTargets without `Force`.
fn managed(name: &str) -> ApiError {
    ApiError::managed_rule(format!(
        "Rule {name} is managed by an AWS service and cannot be modified."
    ))
}

async fn set_rule_state(
    app: &App,
    ctx: &Ctx,
    input: RuleRef,
    state: RuleState,
) -> Result<Vec<u8>, ApiError> {
    let (name, bus) = check_rule_ref(&input)?;
    let region = ctx.region.clone();
    app.catalog
        .mutate(|d| {
            require_bus(d, &region, &bus)?;
            let Some(rule) = d.rule(&region, &bus, &name) else {
                return Err(rule_missing(&name));
            };
            if rule.managed_by.is_some() {
                return Err(managed(&name));
            }
            if rule.state == state {
                return Ok(((), vec![]));
            }
            let mut rule = rule.clone();
            rule.state = state;
            Ok(((), vec![Change::PutRule(rule)]))
        })
        .await?;
    empty()
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListRuleNamesByTargetInput {
    target_arn: Option<String>,
    event_bus_name: Option<String>,
    next_token: Option<String>,
    limit: Option<i64>,
}

async fn list_rule_names_by_target(
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
// Targets

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PutTargetsInput {
    rule: Option<String>,
    event_bus_name: Option<String>,
    targets: Option<Vec<Value>>,
}

/// Checks one target (`i` is 1-based for messages) and builds its definition.
fn check_target(v: &mut Violations, i: usize, raw: Value) -> Result<TargetDef, ApiError> {
    let m = format!("targets.{i}.member");
    let target: TargetDef = match serde_json::from_value(raw.clone()) {
        Ok(t) => t,
        Err(e) => {
            // Report missing required members as validation errors, wrong types as
            // serialization errors.
            let obj = raw.as_object();
            let has = |k: &str| obj.is_some_and(|o| o.contains_key(k));
            if obj.is_some() && (!has("Id") || !has("Arn")) {
                if !has("Id") {
                    v.required(&format!("{m}.id"));
                }
                if !has("Arn") {
                    v.required(&format!("{m}.arn"));
                }
                return Err(std::mem::take(v).finish().unwrap_err());
            }
            let s = e.to_string();
            return Err(ApiError::serialization(match s.rfind(" at line ") {
                Some(i) => s[..i].to_owned(),
                None => s,
            }));
        }
    };
    v.name(&format!("{m}.id"), Some(&target.id), TARGET_ID, true);
    v.length(&format!("{m}.arn"), Some(&target.arn), 1, 1600);
    v.length(&format!("{m}.roleArn"), target.role_arn.as_deref(), 1, 1600);
    v.length(&format!("{m}.input"), target.input.as_deref(), 0, 8192);
    v.length(
        &format!("{m}.inputPath"),
        target.input_path.as_deref(),
        0,
        256,
    );
    if let Some(t) = &target.input_transformer {
        v.length(
            &format!("{m}.inputTransformer.inputTemplate"),
            Some(&t.input_template),
            1,
            8192,
        );
        if t.input_paths_map.as_ref().is_some_and(|p| p.len() > 100) {
            v.add(
                &format!("{m}.inputTransformer.inputPathsMap"),
                None,
                "Member must have length less than or equal to 100",
            );
        }
    }
    if let Some(r) = &target.retry_policy {
        v.range(
            &format!("{m}.retryPolicy.maximumRetryAttempts"),
            r.maximum_retry_attempts.map(i64::from),
            0,
            185,
        );
        v.range(
            &format!("{m}.retryPolicy.maximumEventAgeInSeconds"),
            r.maximum_event_age_in_seconds.map(i64::from),
            60,
            86400,
        );
    }
    Ok(target)
}

/// Checks that need the target as a whole, after the member constraints passed.
fn check_target_semantics(t: &TargetDef) -> Result<(), ApiError> {
    if Arn::parse(&t.arn).is_none() {
        return Err(ApiError::validation(format!(
            "Parameter {} is not valid. Reason: Provided Arn is not in correct format.",
            t.arn
        )));
    }
    eddy_model::transform::check_target(t).map_err(|e| ApiError::validation(e.to_string()))?;
    if let Some(dlq) = t.dead_letter_config.as_ref().and_then(|d| d.arn.as_deref())
        && Arn::parse(dlq).is_none_or(|a| a.service != "sqs")
    {
        return Err(ApiError::validation(format!(
            "Parameter {dlq} is not valid. Reason: Provided Arn is not in correct format."
        )));
    }
    if let Some(arn) = Arn::parse(&t.arn)
        && arn.service == "sqs"
        && arn.resource.ends_with(".fifo")
        && !t
            .other
            .get("SqsParameters")
            .and_then(|p| p.get("MessageGroupId"))
            .is_some_and(Value::is_string)
    {
        return Err(ApiError::validation(format!(
            "Parameter(s) SqsParameters must be specified for target: {}.",
            t.id
        )));
    }
    Ok(())
}

async fn put_targets(app: &App, ctx: &Ctx, input: PutTargetsInput) -> Result<Vec<u8>, ApiError> {
    let mut v = Violations::new();
    v.name("rule", input.rule.as_deref(), RULE_NAME, true);
    let bus = bus_name(&mut v, "eventBusName", input.event_bus_name.as_deref());
    let raw_targets = input.targets.unwrap_or_default();
    if raw_targets.is_empty() {
        v.add(
            "targets",
            Some("[]"),
            "Member must have length greater than or equal to 1",
        );
    } else if raw_targets.len() > 100 {
        v.add(
            "targets",
            None,
            "Member must have length less than or equal to 100",
        );
    }
    let mut targets = Vec::with_capacity(raw_targets.len());
    for (i, raw) in raw_targets.into_iter().enumerate() {
        targets.push(check_target(&mut v, i + 1, raw)?);
    }
    v.finish()?;
    for t in &targets {
        check_target_semantics(t)?;
    }
    let name = input.rule.unwrap_or_default();
    let region = ctx.region.clone();
    app.catalog
        .mutate(|d| {
            require_bus(d, &region, &bus)?;
            let Some(rule) = d.rule(&region, &bus, &name) else {
                return Err(rule_missing_on_bus(&name, &bus));
            };
            if rule.managed_by.is_some() {
                return Err(managed(&name));
            }
            let mut rule = rule.clone();
            for t in targets {
                match rule.targets.iter_mut().find(|old| old.id == t.id) {
                    Some(old) => *old = t,
                    None => rule.targets.push(t),
                }
            }
            if rule.targets.len() > MAX_TARGETS_PER_RULE {
                return Err(ApiError::limit_exceeded(format!(
                    "The requested resource exceeds the maximum number allowed: a rule can have \
                     at most {MAX_TARGETS_PER_RULE} targets."
                )));
            }
            Ok(((), vec![Change::PutRule(rule)]))
        })
        .await?;
    reply(&json!({ "FailedEntryCount": 0, "FailedEntries": [] }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RemoveTargetsInput {
    rule: Option<String>,
    event_bus_name: Option<String>,
    ids: Option<Vec<String>>,
    force: Option<bool>,
}

async fn remove_targets(
    app: &App,
    ctx: &Ctx,
    input: RemoveTargetsInput,
) -> Result<Vec<u8>, ApiError> {
    let mut v = Violations::new();
    v.name("rule", input.rule.as_deref(), RULE_NAME, true);
    let bus = bus_name(&mut v, "eventBusName", input.event_bus_name.as_deref());
    let ids = input.ids.unwrap_or_default();
    if ids.is_empty() {
        v.add(
            "ids",
            Some("[]"),
            "Member must have length greater than or equal to 1",
        );
    } else if ids.len() > 100 {
        v.add(
            "ids",
            None,
            "Member must have length less than or equal to 100",
        );
    }
    for (i, id) in ids.iter().enumerate() {
        v.name(&format!("ids.{}.member", i + 1), Some(id), TARGET_ID, true);
    }
    v.finish()?;
    let name = input.rule.unwrap_or_default();
    let force = input.force.unwrap_or(false);
    let region = ctx.region.clone();
    let failed = app
        .catalog
        .mutate(|d| {
            require_bus(d, &region, &bus)?;
            let Some(rule) = d.rule(&region, &bus, &name) else {
                return Err(rule_missing_on_bus(&name, &bus));
            };
            if rule.managed_by.is_some() && !force {
                return Err(ApiError::managed_rule(format!(
                    "Rule {name} is managed by an AWS service; its targets can only be removed \
                     with Force."
                )));
            }
            let mut rule = rule.clone();
            let mut failed = Vec::new();
            for id in &ids {
                let before = rule.targets.len();
                rule.targets.retain(|t| &t.id != id);
                if rule.targets.len() == before {
                    failed.push(json!({
                        "TargetId": id,
                        "ErrorCode": "ResourceNotFoundException",
                        "ErrorMessage": format!("Target {id} does not exist on rule {name}."),
                    }));
                }
            }
            let changes = if failed.len() == ids.len() {
                vec![]
            } else {
                vec![Change::PutRule(rule)]
            };
            Ok((failed, changes))
        })
        .await?;
    reply(&json!({ "FailedEntryCount": failed.len(), "FailedEntries": failed }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListTargetsByRuleInput {
    rule: Option<String>,
    event_bus_name: Option<String>,
    next_token: Option<String>,
    limit: Option<i64>,
}

async fn list_targets_by_rule(
    app: &App,
    ctx: &Ctx,
    input: ListTargetsByRuleInput,
) -> Result<Vec<u8>, ApiError> {
    let mut v = Violations::new();
    v.name("rule", input.rule.as_deref(), RULE_NAME, true);
    let bus = bus_name(&mut v, "eventBusName", input.event_bus_name.as_deref());
    let page = Page::new(&mut v, input.next_token.as_deref(), input.limit, 100)?;
    v.finish()?;
    let name = input.rule.unwrap_or_default();
    let mut targets = app
        .catalog
        .read(|d| {
            require_bus(d, &ctx.region, &bus)?;
            d.rule(&ctx.region, &bus, &name)
                .map(|r| r.targets.clone())
                .ok_or_else(|| rule_missing_on_bus(&name, &bus))
        })
        .await?;
    targets.sort_by(|a, b| a.id.cmp(&b.id));
    page.reply(targets, |t| t.id.as_str(), "Targets", |t| json!(t))
}

// ---------------------------------------------------------------------------------------------
// Buses

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateEventBusInput {
    name: Option<String>,
    event_source_name: Option<String>,
    description: Option<String>,
    kms_key_identifier: Option<String>,
    dead_letter_config: Option<Value>,
    tags: Option<Vec<TagWire>>,
}

async fn create_event_bus(
    app: &App,
    ctx: &Ctx,
    input: CreateEventBusInput,
) -> Result<Vec<u8>, ApiError> {
    let mut v = Violations::new();
    v.name("name", input.name.as_deref(), BUS_NAME, true);
    v.length(
        "eventSourceName",
        input.event_source_name.as_deref(),
        1,
        256,
    );
    v.length("description", input.description.as_deref(), 0, 512);
    v.length(
        "kmsKeyIdentifier",
        input.kms_key_identifier.as_deref(),
        0,
        2048,
    );
    let tags = check_tags(&mut v, "tags", input.tags);
    v.finish()?;
    let name = input.name.unwrap_or_default();
    if name.contains('/') && input.event_source_name.is_none() {
        return Err(ApiError::validation("Event bus name must not contain '/'."));
    }
    if let Some(src) = &input.event_source_name
        && !src.starts_with("aws.partner/")
    {
        return Err(ApiError::validation(format!(
            "Event source {src} does not exist."
        )));
    }
    let region = ctx.region.clone();
    let arn = app.catalog.scope(&region).bus_arn(&name);
    let now = app.clock.now_ms();
    let bus = app
        .catalog
        .mutate(|d| {
            if d.bus(&region, &name).is_some() {
                return Err(ApiError::already_exists(format!(
                    "Event bus {name} already exists."
                )));
            }
            let bus = BusDef {
                region: region.clone(),
                name: name.clone(),
                description: input.description,
                event_source_name: input.event_source_name,
                kms_key_identifier: input.kms_key_identifier,
                dead_letter_config: input.dead_letter_config,
                policy: None,
                tags,
                created_ms: now,
                modified_ms: now,
            };
            Ok((bus.clone(), vec![Change::PutBus(bus)]))
        })
        .await?;
    let mut out = json!({ "EventBusArn": arn });
    if let Some(d) = bus.description {
        out["Description"] = json!(d);
    }
    if let Some(k) = bus.kms_key_identifier {
        out["KmsKeyIdentifier"] = json!(k);
    }
    if let Some(c) = bus.dead_letter_config {
        out["DeadLetterConfig"] = c;
    }
    reply(&out)
}

fn bus_wire(app: &App, b: &BusDef, full: bool) -> Value {
    let mut m = serde_json::Map::new();
    m.insert("Name".into(), json!(b.name));
    m.insert(
        "Arn".into(),
        json!(app.catalog.scope(&b.region).bus_arn(&b.name)),
    );
    if let Some(d) = &b.description {
        m.insert("Description".into(), json!(d));
    }
    if full {
        if let Some(k) = &b.kms_key_identifier {
            m.insert("KmsKeyIdentifier".into(), json!(k));
        }
        if let Some(c) = &b.dead_letter_config {
            m.insert("DeadLetterConfig".into(), c.clone());
        }
    }
    if let Some(p) = &b.policy {
        m.insert("Policy".into(), json!(p.to_string()));
    }
    m.insert("CreationTime".into(), json!(epoch_seconds(b.created_ms)));
    m.insert(
        "LastModifiedTime".into(),
        json!(epoch_seconds(b.modified_ms)),
    );
    Value::Object(m)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct BusRef {
    name: Option<String>,
}

async fn describe_event_bus(app: &App, ctx: &Ctx, input: BusRef) -> Result<Vec<u8>, ApiError> {
    let mut v = Violations::new();
    let name = bus_name(&mut v, "name", input.name.as_deref());
    v.finish()?;
    let bus = app
        .catalog
        .read(|d| d.bus(&ctx.region, &name).ok_or_else(|| bus_missing(&name)))
        .await?;
    reply(&bus_wire(app, &bus, true))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListEventBusesInput {
    name_prefix: Option<String>,
    next_token: Option<String>,
    limit: Option<i64>,
}

async fn list_event_buses(
    app: &App,
    ctx: &Ctx,
    input: ListEventBusesInput,
) -> Result<Vec<u8>, ApiError> {
    let mut v = Violations::new();
    v.length("namePrefix", input.name_prefix.as_deref(), 1, 256);
    let page = Page::new(&mut v, input.next_token.as_deref(), input.limit, 100)?;
    v.finish()?;
    let prefix = input.name_prefix.unwrap_or_default();
    let mut buses = app.catalog.read(|d| d.buses_in(&ctx.region)).await;
    buses.retain(|b| b.name.starts_with(&prefix));
    buses.sort_by(|a, b| a.name.cmp(&b.name));
    page.reply(
        buses,
        |b| b.name.as_str(),
        "EventBuses",
        |b| bus_wire(app, b, false),
    )
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UpdateEventBusInput {
    name: Option<String>,
    kms_key_identifier: Option<String>,
    description: Option<String>,
    dead_letter_config: Option<Value>,
}

async fn update_event_bus(
    app: &App,
    ctx: &Ctx,
    input: UpdateEventBusInput,
) -> Result<Vec<u8>, ApiError> {
    let mut v = Violations::new();
    let name = bus_name(&mut v, "name", input.name.as_deref());
    v.length("description", input.description.as_deref(), 0, 512);
    v.length(
        "kmsKeyIdentifier",
        input.kms_key_identifier.as_deref(),
        0,
        2048,
    );
    v.finish()?;
    let region = ctx.region.clone();
    let now = app.clock.now_ms();
    let bus = app
        .catalog
        .mutate(|d| {
            let mut bus = d.bus(&region, &name).ok_or_else(|| bus_missing(&name))?;
            if input.description.is_some() {
                bus.description = input.description;
            }
            if input.kms_key_identifier.is_some() {
                bus.kms_key_identifier = input.kms_key_identifier;
            }
            if input.dead_letter_config.is_some() {
                bus.dead_letter_config = input.dead_letter_config;
            }
            bus.modified_ms = now;
            Ok((bus.clone(), vec![Change::PutBus(bus)]))
        })
        .await?;
    reply(&bus_wire(app, &bus, true))
}

async fn delete_event_bus(app: &App, ctx: &Ctx, input: BusRef) -> Result<Vec<u8>, ApiError> {
    let mut v = Violations::new();
    if input.name.is_none() {
        v.required("name");
    }
    let name = bus_name(&mut v, "name", input.name.as_deref());
    v.finish()?;
    if name == DEFAULT_BUS {
        return Err(ApiError::validation("Cannot delete event bus default."));
    }
    let region = ctx.region.clone();
    app.catalog
        .mutate(|d| {
            if d.bus(&region, &name).is_none() {
                return Ok(((), vec![]));
            }
            let mut changes: Vec<Change> = d
                .rules_of(&region, &name)
                .map(|r| Change::DeleteRule {
                    region: region.clone(),
                    bus: name.clone(),
                    name: r.name.clone(),
                })
                .collect();
            changes.push(Change::DeleteBus {
                region: region.clone(),
                name: name.clone(),
            });
            Ok(((), changes))
        })
        .await?;
    empty()
}

// ---------------------------------------------------------------------------------------------
// Tags

/// What a `ResourceARN` names.
enum Tagged {
    Bus(String),
    Rule { bus: String, name: String },
}

fn tagged(arn: &str, region: &str) -> Result<Tagged, ApiError> {
    let parsed = Arn::parse(arn).filter(|a| a.service == "events" && a.region == region);
    let bad = || {
        ApiError::validation(format!(
            "Parameter {arn} is not valid. Reason: Provided Arn is not in correct format."
        ))
    };
    let a = parsed.ok_or_else(bad)?;
    if let Some(bus) = a.resource.strip_prefix("event-bus/") {
        return Ok(Tagged::Bus(bus.to_owned()));
    }
    if let Some(rest) = a.resource.strip_prefix("rule/") {
        return Ok(match rest.rsplit_once('/') {
            Some((bus, name)) => Tagged::Rule {
                bus: bus.to_owned(),
                name: name.to_owned(),
            },
            None => Tagged::Rule {
                bus: DEFAULT_BUS.to_owned(),
                name: rest.to_owned(),
            },
        });
    }
    Err(bad())
}

/// Reads the tags of a bus or rule, or edits them with `edit`.
async fn with_tags(
    app: &App,
    region: &str,
    arn: &str,
    edit: Option<&(dyn Fn(&mut Tags) + Sync)>,
) -> Result<Tags, ApiError> {
    let target = tagged(arn, region)?;
    let now = app.clock.now_ms();
    app.catalog
        .mutate(|d: &Defs| match &target {
            Tagged::Bus(name) => {
                let mut bus = d.bus(region, name).ok_or_else(|| bus_missing(name))?;
                let Some(edit) = edit else {
                    return Ok((bus.tags, vec![]));
                };
                edit(&mut bus.tags);
                bus.modified_ms = now;
                Ok((bus.tags.clone(), vec![Change::PutBus(bus)]))
            }
            Tagged::Rule { bus, name } => {
                let rule = d
                    .rule(region, bus, name)
                    .ok_or_else(|| rule_missing_on_bus(name, bus))?;
                let Some(edit) = edit else {
                    return Ok((rule.tags.clone(), vec![]));
                };
                let mut rule = rule.clone();
                edit(&mut rule.tags);
                Ok((rule.tags.clone(), vec![Change::PutRule(rule)]))
            }
        })
        .await
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TagResourceInput {
    #[serde(rename = "ResourceARN")]
    resource_arn: Option<String>,
    tags: Option<Vec<TagWire>>,
}

async fn tag_resource(app: &App, ctx: &Ctx, input: TagResourceInput) -> Result<Vec<u8>, ApiError> {
    let mut v = Violations::new();
    if input.resource_arn.is_none() {
        v.required("resourceARN");
    }
    v.length("resourceARN", input.resource_arn.as_deref(), 1, 1600);
    if input.tags.is_none() {
        v.required("tags");
    }
    let tags = check_tags(&mut v, "tags", input.tags);
    v.finish()?;
    let arn = input.resource_arn.unwrap_or_default();
    let add = |t: &mut Tags| t.extend(tags.clone());
    with_tags(app, &ctx.region, &arn, Some(&add)).await?;
    empty()
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UntagResourceInput {
    #[serde(rename = "ResourceARN")]
    resource_arn: Option<String>,
    tag_keys: Option<Vec<String>>,
}

async fn untag_resource(
    app: &App,
    ctx: &Ctx,
    input: UntagResourceInput,
) -> Result<Vec<u8>, ApiError> {
    let mut v = Violations::new();
    if input.resource_arn.is_none() {
        v.required("resourceARN");
    }
    v.length("resourceARN", input.resource_arn.as_deref(), 1, 1600);
    if input.tag_keys.is_none() {
        v.required("tagKeys");
    }
    v.finish()?;
    let arn = input.resource_arn.unwrap_or_default();
    let keys = input.tag_keys.unwrap_or_default();
    let remove = |t: &mut Tags| {
        for k in &keys {
            t.remove(k);
        }
    };
    with_tags(app, &ctx.region, &arn, Some(&remove)).await?;
    empty()
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListTagsInput {
    #[serde(rename = "ResourceARN")]
    resource_arn: Option<String>,
}

async fn list_tags_for_resource(
    app: &App,
    ctx: &Ctx,
    input: ListTagsInput,
) -> Result<Vec<u8>, ApiError> {
    let mut v = Violations::new();
    if input.resource_arn.is_none() {
        v.required("resourceARN");
    }
    v.length("resourceARN", input.resource_arn.as_deref(), 1, 1600);
    v.finish()?;
    let arn = input.resource_arn.unwrap_or_default();
    let tags = with_tags(app, &ctx.region, &arn, None).await?;
    reply(&json!({ "Tags": tags_wire(&tags) }))
}

// ---------------------------------------------------------------------------------------------
// Bus policy

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PutPermissionInput {
    event_bus_name: Option<String>,
    action: Option<String>,
    principal: Option<String>,
    statement_id: Option<String>,
    condition: Option<Value>,
    policy: Option<String>,
}

fn statements(policy: &Option<Value>) -> Vec<Value> {
    policy
        .as_ref()
        .and_then(|p| p.get("Statement"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

async fn put_permission(
    app: &App,
    ctx: &Ctx,
    input: PutPermissionInput,
) -> Result<Vec<u8>, ApiError> {
    let mut v = Violations::new();
    let bus = bus_name(&mut v, "eventBusName", input.event_bus_name.as_deref());
    v.length("action", input.action.as_deref(), 1, 64);
    v.length("principal", input.principal.as_deref(), 1, 12);
    v.length("statementId", input.statement_id.as_deref(), 1, 64);
    if let Some(a) = input.action.as_deref()
        && !a
            .strip_prefix("events:")
            .is_some_and(|r| !r.is_empty() && r.chars().all(|c| c.is_ascii_alphabetic()))
    {
        v.add(
            "action",
            Some(a),
            "Member must satisfy regular expression pattern: events:[a-zA-Z]+",
        );
    }
    if let Some(p) = input.principal.as_deref()
        && !(p == "*" || (p.len() == 12 && p.chars().all(|c| c.is_ascii_digit())))
    {
        v.add(
            "principal",
            Some(p),
            "Member must satisfy regular expression pattern: (\\d{12}|\\*)",
        );
    }
    if let Some(s) = input.statement_id.as_deref()
        && !s
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        v.add(
            "statementId",
            Some(s),
            "Member must satisfy regular expression pattern: [a-zA-Z0-9-_]+",
        );
    }
    v.finish()?;
    let region = ctx.region.clone();
    let bus_arn = app.catalog.scope(&region).bus_arn(&bus);
    let new_policy: Option<Value> = match &input.policy {
        Some(p) => Some(serde_json::from_str(p).map_err(|_| {
            ApiError::validation("Parameter Policy is not valid. Reason: Policy is not valid JSON.")
        })?),
        None => None,
    };
    let statement = if new_policy.is_none() {
        let (Some(action), Some(principal), Some(sid)) =
            (input.action, input.principal, input.statement_id)
        else {
            return Err(ApiError::validation(
                "One of Policy or (Action, Principal, StatementId) must be provided.",
            ));
        };
        let principal = if principal == "*" {
            json!("*")
        } else {
            json!({ "AWS": format!("arn:aws:iam::{principal}:root") })
        };
        let mut s = json!({
            "Sid": sid,
            "Effect": "Allow",
            "Principal": principal,
            "Action": action,
            "Resource": bus_arn,
        });
        if let Some(c) = input.condition {
            s["Condition"] = json!({
                "StringEquals": { c.get("Key").and_then(Value::as_str).unwrap_or("aws:PrincipalOrgID"):
                    c.get("Value").cloned().unwrap_or(Value::Null) }
            });
        }
        Some(s)
    } else {
        None
    };
    let now = app.clock.now_ms();
    app.catalog
        .mutate(|d| {
            let mut b = d.bus(&region, &bus).ok_or_else(|| bus_missing(&bus))?;
            match (new_policy, statement) {
                (Some(p), _) => b.policy = Some(p),
                (None, Some(s)) => {
                    let mut stmts = statements(&b.policy);
                    stmts.retain(|old| old.get("Sid") != s.get("Sid"));
                    stmts.push(s);
                    b.policy = Some(json!({ "Version": "2012-10-17", "Statement": stmts }));
                }
                (None, None) => {}
            }
            b.modified_ms = now;
            Ok(((), vec![Change::PutBus(b)]))
        })
        .await?;
    empty()
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RemovePermissionInput {
    statement_id: Option<String>,
    remove_all_permissions: Option<bool>,
    event_bus_name: Option<String>,
}

async fn remove_permission(
    app: &App,
    ctx: &Ctx,
    input: RemovePermissionInput,
) -> Result<Vec<u8>, ApiError> {
    let mut v = Violations::new();
    let bus = bus_name(&mut v, "eventBusName", input.event_bus_name.as_deref());
    v.length("statementId", input.statement_id.as_deref(), 1, 64);
    v.finish()?;
    let all = input.remove_all_permissions.unwrap_or(false);
    let region = ctx.region.clone();
    let now = app.clock.now_ms();
    app.catalog
        .mutate(|d| {
            let mut b = d.bus(&region, &bus).ok_or_else(|| bus_missing(&bus))?;
            if all {
                b.policy = None;
            } else {
                let Some(sid) = &input.statement_id else {
                    return Err(ApiError::validation(
                        "Parameter StatementId is not valid. Reason: StatementId is required \
                         unless RemoveAllPermissions is true.",
                    ));
                };
                if b.policy.is_none() {
                    return Err(ApiError::not_found("EventBus does not have a policy."));
                }
                let mut stmts = statements(&b.policy);
                let before = stmts.len();
                stmts.retain(|s| s.get("Sid").and_then(Value::as_str) != Some(sid));
                if stmts.len() == before {
                    return Err(ApiError::not_found(
                        "Statement with the provided id does not exist.",
                    ));
                }
                b.policy = if stmts.is_empty() {
                    None
                } else {
                    Some(json!({ "Version": "2012-10-17", "Statement": stmts }))
                };
            }
            b.modified_ms = now;
            Ok(((), vec![Change::PutBus(b)]))
        })
        .await?;
    empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_size_counts_like_aws() {
        let e = PutEventsEntry {
            time: Some(1.0),
            source: Some("ab".into()),
            resources: Some(vec!["xyz".into()]),
            detail_type: Some("é".into()),
            detail: Some("{}".into()),
            event_bus_name: None,
            trace_header: None,
        };
        assert_eq!(entry_size(&e), 14 + 2 + 3 + 2 + 2);
    }

    #[test]
    fn tagged_arns() {
        assert!(matches!(
            tagged("arn:aws:events:us-east-1:123456789012:rule/r", "us-east-1"),
            Ok(Tagged::Rule { ref bus, ref name }) if bus == "default" && name == "r"
        ));
        assert!(matches!(
            tagged("arn:aws:events:us-east-1:123456789012:rule/b/r", "us-east-1"),
            Ok(Tagged::Rule { ref bus, ref name }) if bus == "b" && name == "r"
        ));
        assert!(matches!(
            tagged("arn:aws:events:us-east-1:123456789012:event-bus/b", "us-east-1"),
            Ok(Tagged::Bus(ref b)) if b == "b"
        ));
        assert!(tagged("nope", "us-east-1").is_err());
    }
}
