//! A bus's resource policy: PutPermission, RemovePermission.

use super::*;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct PutPermissionInput {
    event_bus_name: Option<String>,
    action: Option<String>,
    principal: Option<String>,
    statement_id: Option<String>,
    condition: Option<Value>,
    policy: Option<String>,
}

pub(super) fn statements(policy: &Option<Value>) -> Vec<Value> {
    policy
        .as_ref()
        .and_then(|p| p.get("Statement"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

pub(super) async fn put_permission(
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
            Ok::<_, ApiError>(((), vec![Change::PutBus(b)]))
        })
        .await?;
    empty()
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct RemovePermissionInput {
    statement_id: Option<String>,
    remove_all_permissions: Option<bool>,
    event_bus_name: Option<String>,
}

pub(super) async fn remove_permission(
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
