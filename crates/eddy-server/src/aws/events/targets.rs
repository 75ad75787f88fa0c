//! Targets: PutTargets, RemoveTargets, ListTargetsByRule, and the checks of a target.

use super::*;
use eddy_model::limits;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct PutTargetsInput {
    rule: Option<String>,
    event_bus_name: Option<String>,
    targets: Option<Vec<Value>>,
}

/// Checks one target (`i` is 1-based for messages) and builds its definition.
pub(super) fn check_target(
    v: &mut Violations,
    i: usize,
    raw: Value,
) -> Result<TargetDef, ApiError> {
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
        v.within(
            &format!("{m}.retryPolicy.maximumRetryAttempts"),
            r.maximum_retry_attempts.map(i64::from),
            limits::target::RETRY_ATTEMPTS,
        );
        v.within(
            &format!("{m}.retryPolicy.maximumEventAgeInSeconds"),
            r.maximum_event_age_in_seconds.map(i64::from),
            limits::target::EVENT_AGE,
        );
    }
    Ok(target)
}

pub(super) async fn put_targets(
    app: &App,
    ctx: &Ctx,
    input: PutTargetsInput,
) -> Result<Vec<u8>, ApiError> {
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
    let name = input.rule.unwrap_or_default();
    app.catalog
        .put_targets(&ctx.region, &bus, &name, targets)
        .await?;
    reply(&json!({ "FailedEntryCount": 0, "FailedEntries": [] }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct RemoveTargetsInput {
    rule: Option<String>,
    event_bus_name: Option<String>,
    ids: Option<Vec<String>>,
    force: Option<bool>,
}

pub(super) async fn remove_targets(
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
    let missing = app
        .catalog
        .remove_targets(&ctx.region, &bus, &name, &ids, force)
        .await?;
    let failed: Vec<Value> = missing
        .iter()
        .map(|id| {
            json!({
                "TargetId": id,
                "ErrorCode": "ResourceNotFoundException",
                "ErrorMessage": format!("Target {id} does not exist on rule {name}."),
            })
        })
        .collect();
    reply(&json!({ "FailedEntryCount": failed.len(), "FailedEntries": failed }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ListTargetsByRuleInput {
    rule: Option<String>,
    event_bus_name: Option<String>,
    next_token: Option<String>,
    limit: Option<i64>,
}

pub(super) async fn list_targets_by_rule(
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
