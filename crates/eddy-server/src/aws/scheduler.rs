//! The EventBridge Scheduler API (rest-json, signing name `scheduler`, API 2021-06-30): schedules,
//! schedule groups and their tags, as botocore's model describes them (paths, members, status
//! codes, error codes). Definitions live in [`crate::schedules`]; firing is
//! [`crate::scheduler`]'s job.
//!
//! Error texts: `Schedule NAME does not exist.`, `Schedule group NAME does not exist.`,
//! `Schedule NAME already exists.` and `The StartDate you specify cannot be earlier than 5
//! minutes ago.` are AWS's (as moto's tests assert them); the others are eddy's, in AWS's style.

use std::sync::Arc;

use axum::http::{Method, StatusCode};
use axum::response::Response;
use eddy_model::definitions::{DeadLetterConfig, RetryPolicy, Tags};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::Ctx;
use super::rest::{self, RestRequest};
use crate::App;
use crate::error::{ApiError, Violations};
use crate::schedules::{
    DEFAULT_GROUP, EventBridgeParameters, FlexibleTimeWindow, GroupDef, MISSED_TICKS_TAG,
    MissedTicks, ScheduleDef, ScheduleError, ScheduleSpec, ScheduleTarget,
};

const NAME_PATTERN: &str = "^[0-9a-zA-Z-_.]+$";

/// Answers one Scheduler API call: the operation's name (for metrics) and its response.
pub async fn call(
    app: &Arc<App>,
    ctx: &Ctx,
    req: RestRequest,
) -> (&'static str, Result<Response, ApiError>) {
    let path = req.path();
    let m = &req.method;
    match (m, path.as_slice()) {
        (&Method::POST, ["schedules", name]) => (
            "CreateSchedule",
            put_schedule(app, ctx, name, &req, true).await,
        ),
        (&Method::PUT, ["schedules", name]) => (
            "UpdateSchedule",
            put_schedule(app, ctx, name, &req, false).await,
        ),
        (&Method::GET, ["schedules", name]) => ("GetSchedule", get_schedule(app, ctx, name, &req)),
        (&Method::DELETE, ["schedules", name]) => (
            "DeleteSchedule",
            delete_schedule(app, ctx, name, &req).await,
        ),
        (&Method::GET, ["schedules"]) => ("ListSchedules", list_schedules(app, ctx, &req)),
        (&Method::POST, ["schedule-groups", name]) => (
            "CreateScheduleGroup",
            create_group(app, ctx, name, &req).await,
        ),
        (&Method::GET, ["schedule-groups", name]) => {
            ("GetScheduleGroup", get_group(app, ctx, name))
        }
        (&Method::DELETE, ["schedule-groups", name]) => {
            ("DeleteScheduleGroup", delete_group(app, ctx, name).await)
        }
        (&Method::GET, ["schedule-groups"]) => ("ListScheduleGroups", list_groups(app, ctx, &req)),
        (&Method::POST, ["tags", arn]) => ("TagResource", tag(app, arn, &req).await),
        (&Method::DELETE, ["tags", arn]) => ("UntagResource", untag(app, arn, &req).await),
        (&Method::GET, ["tags", arn]) => ("ListTagsForResource", list_tags(app, arn)),
        _ => ("unknown", Err(req.unknown_operation())),
    }
}

fn not_found(message: impl Into<String>) -> ApiError {
    ApiError::new("ResourceNotFoundException", StatusCode::NOT_FOUND, message)
}

fn conflict(message: impl Into<String>) -> ApiError {
    ApiError::new("ConflictException", StatusCode::CONFLICT, message)
}

/// Scheduler's words for the core's refusals of schedule and group changes.
impl From<ScheduleError> for ApiError {
    fn from(e: ScheduleError) -> Self {
        match e {
            ScheduleError::Expression { expression, error } => {
                ApiError::validation(error.scheduler_message(&expression))
            }
            ScheduleError::WindowNeedsMaximum => ApiError::validation(
                "MaximumWindowInMinutes is required when the FlexibleTimeWindow mode is FLEXIBLE.",
            ),
            ScheduleError::WindowMaximumWhenOff => ApiError::validation(
                "MaximumWindowInMinutes must not be set when the FlexibleTimeWindow mode is OFF.",
            ),
            ScheduleError::TimeZone(tz) => ApiError::validation(format!("Invalid time zone {tz}.")),
            ScheduleError::StartTooEarly => ApiError::validation(
                "The StartDate you specify cannot be earlier than 5 minutes ago.",
            ),
            ScheduleError::EndPassed => ApiError::validation(
                "The EndDate you specify cannot be earlier than the current time.",
            ),
            ScheduleError::EndBeforeStart => {
                ApiError::validation("The EndDate you specify must be later than the StartDate.")
            }
            ScheduleError::MissedTicks(v) => ApiError::validation(format!(
                "The eddy:missed-ticks tag takes latest, skip or all, not {v}."
            )),
            ScheduleError::GroupNotFound(g) => {
                not_found(format!("Schedule group {g} does not exist."))
            }
            ScheduleError::GroupExists(g) => {
                conflict(format!("Schedule group {g} already exists."))
            }
            ScheduleError::DeleteDefaultGroup => {
                ApiError::validation("The default schedule group cannot be deleted.")
            }
            ScheduleError::NotFound(n) => not_found(format!("Schedule {n} does not exist.")),
            ScheduleError::Exists(n) => conflict(format!("Schedule {n} already exists.")),
            ScheduleError::Core(e) => e.into(),
        }
    }
}

fn ok(value: &Value) -> Result<Response, ApiError> {
    rest::json(StatusCode::OK, value)
}

fn valid_name(s: &str) -> bool {
    eddy_model::names::SCHEDULE_NAME.check(s).is_ok()
}

fn check_name(v: &mut Violations, member: &str, value: Option<&str>) {
    v.length(member, value, 1, 64);
    if let Some(s) = value
        && !s.is_empty()
        && s.len() <= 64
        && !valid_name(s)
    {
        v.add(
            member,
            Some(s),
            format!("Member must satisfy regular expression pattern: {NAME_PATTERN}"),
        );
    }
}

/// Epoch seconds (AWS's JSON timestamps) as milliseconds.
fn secs(v: f64) -> i64 {
    (v * 1000.0).round() as i64
}

fn to_secs(ms: i64) -> Value {
    if ms % 1000 == 0 {
        json!(ms / 1000)
    } else {
        json!(ms as f64 / 1000.0)
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct ScheduleInput {
    action_after_completion: Option<String>,
    #[allow(dead_code)]
    client_token: Option<String>,
    description: Option<String>,
    end_date: Option<f64>,
    flexible_time_window: Option<FlexibleTimeWindow>,
    group_name: Option<String>,
    kms_key_arn: Option<String>,
    schedule_expression: Option<String>,
    schedule_expression_timezone: Option<String>,
    start_date: Option<f64>,
    state: Option<String>,
    target: Option<Value>,
}

fn check_target(v: &mut Violations, t: &Value) -> Result<ScheduleTarget, ApiError> {
    let target: ScheduleTarget = serde_json::from_value(t.clone()).map_err(|e| {
        ApiError::validation(format!(
            "1 validation error detected: Target is not valid: {e}"
        ))
    })?;
    v.length("target.arn", Some(&target.arn), 1, 1600);
    v.length("target.roleArn", Some(&target.role_arn), 1, 1600);
    if !target.role_arn.starts_with("arn:") || !target.role_arn.contains(":role/") {
        v.add(
            "target.roleArn",
            Some(&target.role_arn),
            "Member must satisfy regular expression pattern: \
             ^arn:aws(-[a-z]+)?:iam::\\d{12}:role\\/[\\w+=,.@\\/-]+$",
        );
    }
    v.length("target.input", target.input.as_deref(), 1, usize::MAX);
    if let Some(RetryPolicy {
        maximum_retry_attempts,
        maximum_event_age_in_seconds,
    }) = target.retry_policy
    {
        v.within(
            "target.retryPolicy.maximumRetryAttempts",
            maximum_retry_attempts.map(i64::from),
            eddy_model::limits::target::RETRY_ATTEMPTS,
        );
        v.within(
            "target.retryPolicy.maximumEventAgeInSeconds",
            maximum_event_age_in_seconds.map(i64::from),
            eddy_model::limits::target::EVENT_AGE,
        );
    }
    if let Some(DeadLetterConfig { arn: Some(arn) }) = &target.dead_letter_config
        && !(arn.starts_with("arn:") && arn.contains(":sqs:"))
    {
        v.add(
            "target.deadLetterConfig.arn",
            Some(arn),
            "Member must satisfy regular expression pattern: \
             ^arn:aws(-[a-z]+)?:sqs:[a-z0-9\\-]+:\\d{12}:[a-zA-Z0-9\\-_]+$",
        );
    }
    if let Some(EventBridgeParameters {
        detail_type,
        source,
    }) = &target.event_bridge_parameters
    {
        v.length(
            "target.eventBridgeParameters.detailType",
            Some(detail_type),
            1,
            128,
        );
        v.length("target.eventBridgeParameters.source", Some(source), 1, 256);
        if source.starts_with("aws.") {
            v.add(
                "target.eventBridgeParameters.source",
                Some(source),
                "Member must not start with `aws.`",
            );
        }
    }
    Ok(target)
}

async fn put_schedule(
    app: &Arc<App>,
    ctx: &Ctx,
    name: &str,
    req: &RestRequest,
    create: bool,
) -> Result<Response, ApiError> {
    let input: ScheduleInput = rest::parse(&req.body)?;
    let mut v = Violations::new();
    check_name(&mut v, "name", Some(name));
    check_name(&mut v, "groupName", input.group_name.as_deref());
    match &input.schedule_expression {
        None => v.required("scheduleExpression"),
        Some(e) => v.length("scheduleExpression", Some(e), 1, 256),
    }
    v.length(
        "scheduleExpressionTimezone",
        input.schedule_expression_timezone.as_deref(),
        1,
        50,
    );
    v.length("description", input.description.as_deref(), 0, 512);
    v.one_of("state", input.state.as_deref(), &["ENABLED", "DISABLED"]);
    v.one_of(
        "actionAfterCompletion",
        input.action_after_completion.as_deref(),
        &["NONE", "DELETE"],
    );
    match &input.flexible_time_window {
        None => v.required("flexibleTimeWindow"),
        Some(w) => {
            v.one_of(
                "flexibleTimeWindow.mode",
                Some(&w.mode),
                &["OFF", "FLEXIBLE"],
            );
            v.within(
                "flexibleTimeWindow.maximumWindowInMinutes",
                w.maximum_window_in_minutes,
                eddy_model::limits::schedule::FLEXIBLE_WINDOW_MINUTES,
            );
        }
    }
    let target = match &input.target {
        None => {
            v.required("target");
            None
        }
        Some(t) => Some(check_target(&mut v, t)?),
    };
    v.finish()?;
    let (Some(expression), Some(window), Some(target)) = (
        input.schedule_expression,
        input.flexible_time_window,
        target,
    ) else {
        return Err(ApiError::validation("a required member is missing"));
    };
    let group = input.group_name.unwrap_or_else(|| DEFAULT_GROUP.to_owned());
    let spec = ScheduleSpec {
        expression,
        timezone: input.schedule_expression_timezone,
        start_ms: input.start_date.filter(|s| s.is_finite()).map(secs),
        end_ms: input.end_date.filter(|s| s.is_finite()).map(secs),
        description: input.description,
        state: input.state,
        kms_key_arn: input.kms_key_arn,
        flexible_time_window: window,
        action_after_completion: input.action_after_completion,
        target,
    };
    let schedules = &app.schedules;
    let def = if create {
        schedules
            .create_schedule(&ctx.region, &group, name, spec)
            .await?
    } else {
        schedules
            .update_schedule(&ctx.region, &group, name, spec)
            .await?
    };
    let arn = def.arn(app.catalog.account());
    ok(&json!({ "ScheduleArn": arn }))
}

fn group_param<'a>(req: &'a RestRequest, v: &mut Violations) -> &'a str {
    let g = req.query("groupName");
    check_name(v, "groupName", g);
    g.unwrap_or(DEFAULT_GROUP)
}

fn target_json(t: &ScheduleTarget) -> Value {
    let mut out = serde_json::to_value(t).unwrap_or_else(|_| json!({}));
    if let Some(o) = out.as_object_mut() {
        // AWS reports its defaults for a target without a retry policy.
        let rp = o
            .entry("RetryPolicy")
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .map(std::mem::take)
            .unwrap_or_default();
        let mut rp: Map<String, Value> = rp;
        rp.entry("MaximumEventAgeInSeconds")
            .or_insert(json!(86_400));
        rp.entry("MaximumRetryAttempts").or_insert(json!(185));
        o.insert("RetryPolicy".into(), Value::Object(rp));
    }
    out
}

fn schedule_json(app: &App, d: &ScheduleDef) -> Value {
    let mut m = Map::new();
    m.insert(
        "ActionAfterCompletion".into(),
        json!(d.action_after_completion),
    );
    m.insert("Arn".into(), json!(d.arn(app.catalog.account())));
    m.insert("CreationDate".into(), to_secs(d.created_ms));
    if let Some(s) = &d.description {
        m.insert("Description".into(), json!(s));
    }
    if let Some(e) = d.end_ms {
        m.insert("EndDate".into(), to_secs(e));
    }
    m.insert(
        "FlexibleTimeWindow".into(),
        serde_json::to_value(&d.flexible_time_window).unwrap_or(Value::Null),
    );
    m.insert("GroupName".into(), json!(d.group));
    if let Some(k) = &d.kms_key_arn {
        m.insert("KmsKeyArn".into(), json!(k));
    }
    m.insert("LastModificationDate".into(), to_secs(d.modified_ms));
    m.insert("Name".into(), json!(d.name));
    m.insert("ScheduleExpression".into(), json!(d.schedule_expression));
    m.insert(
        "ScheduleExpressionTimezone".into(),
        json!(d.schedule_expression_timezone.as_deref().unwrap_or("UTC")),
    );
    if let Some(s) = d.start_ms {
        m.insert("StartDate".into(), to_secs(s));
    }
    m.insert("State".into(), json!(d.state));
    m.insert("Target".into(), target_json(&d.target));
    Value::Object(m)
}

fn get_schedule(app: &App, ctx: &Ctx, name: &str, req: &RestRequest) -> Result<Response, ApiError> {
    let mut v = Violations::new();
    check_name(&mut v, "name", Some(name));
    let group = group_param(req, &mut v);
    v.finish()?;
    let d = app
        .schedules
        .get(&ctx.region, group, name)
        .ok_or_else(|| not_found(format!("Schedule {name} does not exist.")))?;
    ok(&schedule_json(app, &d))
}

async fn delete_schedule(
    app: &App,
    ctx: &Ctx,
    name: &str,
    req: &RestRequest,
) -> Result<Response, ApiError> {
    let mut v = Violations::new();
    check_name(&mut v, "name", Some(name));
    let group = group_param(req, &mut v);
    v.finish()?;
    app.schedules
        .delete_schedule(&ctx.region, group, name)
        .await?;
    ok(&json!({}))
}

fn max_results(v: &mut Violations, req: &RestRequest) -> usize {
    let raw = req.query("MaxResults");
    let n = raw.map(|s| s.parse::<i64>().unwrap_or(0));
    v.range("maxResults", n, 1, 100);
    n.map_or(100, |n| n.clamp(1, 100) as usize)
}

fn list_schedules(app: &App, ctx: &Ctx, req: &RestRequest) -> Result<Response, ApiError> {
    let mut v = Violations::new();
    let group = req.query("ScheduleGroup");
    check_name(&mut v, "groupName", group);
    let prefix = req.query("NamePrefix");
    check_name(&mut v, "namePrefix", prefix);
    let state = req.query("State");
    v.one_of("state", state, &["ENABLED", "DISABLED"]);
    let limit = max_results(&mut v, req);
    let token = req.query("NextToken");
    v.length("nextToken", token, 1, 2048);
    v.finish()?;
    if let Some(g) = group
        && app.schedules.group(&ctx.region, g).is_none()
    {
        return Err(not_found(format!("Schedule group {g} does not exist.")));
    }
    let after = match token {
        None => None,
        Some(t) => Some(
            t.split_once('/')
                .ok_or_else(|| ApiError::validation("The NextToken provided is not valid."))?,
        ),
    };
    let (page, more) = app.schedules.list(
        &ctx.region,
        after,
        |d| {
            group.is_none_or(|g| d.group == g)
                && prefix.is_none_or(|p| d.name.starts_with(p))
                && state.is_none_or(|s| d.state == s)
        },
        limit,
    );
    let account = app.catalog.account();
    let items: Vec<Value> = page
        .iter()
        .map(|d| {
            json!({
                "Arn": d.arn(account),
                "CreationDate": to_secs(d.created_ms),
                "GroupName": d.group,
                "LastModificationDate": to_secs(d.modified_ms),
                "Name": d.name,
                "State": d.state,
                "Target": { "Arn": d.target.arn },
            })
        })
        .collect();
    let mut out = json!({ "Schedules": items });
    if more && let Some(last) = page.last() {
        out["NextToken"] = json!(format!("{}/{}", last.group, last.name));
    }
    ok(&out)
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct TagInput {
    #[serde(default)]
    tags: Option<Vec<Value>>,
}

fn parse_tags(v: &mut Violations, tags: &[Value]) -> Tags {
    let mut out = Tags::new();
    if tags.len() > 200 {
        v.add(
            "tags",
            None,
            "Member must have length less than or equal to 200",
        );
    }
    for t in tags {
        let key = t.get("Key").and_then(Value::as_str);
        let value = t.get("Value").and_then(Value::as_str);
        match (key, value) {
            (Some(k), Some(val)) => {
                v.length("tags.member.key", Some(k), 1, 128);
                v.length("tags.member.value", Some(val), 1, 256);
                if k == MISSED_TICKS_TAG && MissedTicks::parse(val).is_none() {
                    v.add(
                        "tags.member.value",
                        Some(val),
                        "the eddy:missed-ticks tag takes latest, skip or all",
                    );
                }
                out.insert(k.to_owned(), val.to_owned());
            }
            (None, _) => v.required("tags.member.key"),
            (_, None) => v.required("tags.member.value"),
        }
    }
    out
}

async fn create_group(
    app: &App,
    ctx: &Ctx,
    name: &str,
    req: &RestRequest,
) -> Result<Response, ApiError> {
    let input: TagInput = rest::parse(&req.body)?;
    let mut v = Violations::new();
    check_name(&mut v, "name", Some(name));
    let tags = parse_tags(&mut v, input.tags.as_deref().unwrap_or(&[]));
    v.finish()?;
    let g = app.schedules.create_group(&ctx.region, name, tags).await?;
    let arn = g.arn(app.catalog.account());
    ok(&json!({ "ScheduleGroupArn": arn }))
}

fn group_json(app: &App, g: &GroupDef) -> Value {
    json!({
        "Arn": g.arn(app.catalog.account()),
        "CreationDate": to_secs(g.created_ms),
        "LastModificationDate": to_secs(g.modified_ms),
        "Name": g.name,
        "State": "ACTIVE",
    })
}

fn get_group(app: &App, ctx: &Ctx, name: &str) -> Result<Response, ApiError> {
    let mut v = Violations::new();
    check_name(&mut v, "name", Some(name));
    v.finish()?;
    let g = app
        .schedules
        .group(&ctx.region, name)
        .ok_or_else(|| not_found(format!("Schedule group {name} does not exist.")))?;
    ok(&group_json(app, &g))
}

async fn delete_group(app: &App, ctx: &Ctx, name: &str) -> Result<Response, ApiError> {
    let mut v = Violations::new();
    check_name(&mut v, "name", Some(name));
    v.finish()?;
    app.schedules.delete_group(&ctx.region, name).await?;
    ok(&json!({}))
}

fn list_groups(app: &App, ctx: &Ctx, req: &RestRequest) -> Result<Response, ApiError> {
    let mut v = Violations::new();
    let prefix = req.query("NamePrefix");
    check_name(&mut v, "namePrefix", prefix);
    let limit = max_results(&mut v, req);
    let token = req.query("NextToken");
    v.length("nextToken", token, 1, 2048);
    v.finish()?;
    let groups: Vec<GroupDef> = app
        .schedules
        .groups(&ctx.region)
        .into_iter()
        .filter(|g| prefix.is_none_or(|p| g.name.starts_with(p)))
        .filter(|g| token.is_none_or(|t| g.name.as_str() > t))
        .collect();
    let more = groups.len() > limit;
    let page = &groups[..groups.len().min(limit)];
    let mut out = json!({
        "ScheduleGroups": page.iter().map(|g| group_json(app, g)).collect::<Vec<_>>(),
    });
    if more && let Some(last) = page.last() {
        out["NextToken"] = json!(last.name);
    }
    ok(&out)
}

/// The group a tag ARN names: `arn:aws:scheduler:REGION:ACCOUNT:schedule-group/NAME`.
fn tagged_group(app: &App, arn: &str) -> Result<GroupDef, ApiError> {
    let parsed = eddy_model::names::Arn::parse(arn);
    let Some((region, name)) = parsed.as_ref().and_then(|a| {
        (a.service == "scheduler")
            .then(|| a.resource.strip_prefix("schedule-group/"))
            .flatten()
            .filter(|n| valid_name(n))
            .map(|n| (a.region.to_owned(), n.to_owned()))
    }) else {
        let mut v = Violations::new();
        v.add(
            "resourceArn",
            Some(arn),
            "Member must satisfy regular expression pattern: \
             ^arn:aws(-[a-z]+)?:scheduler:[a-z0-9\\-]+:\\d{12}:schedule-group\\/[0-9a-zA-Z-_.]+$",
        );
        v.finish()?;
        return Err(ApiError::validation("invalid resource ARN"));
    };
    app.schedules
        .group(&region, &name)
        .ok_or_else(|| not_found(format!("Schedule group {name} does not exist.")))
}

async fn tag(app: &App, arn: &str, req: &RestRequest) -> Result<Response, ApiError> {
    let input: TagInput = rest::parse(&req.body)?;
    let g = tagged_group(app, arn)?;
    let mut v = Violations::new();
    let Some(tags) = input.tags else {
        v.required("tags");
        v.finish()?;
        return ok(&json!({}));
    };
    let tags = parse_tags(&mut v, &tags);
    v.finish()?;
    app.schedules.tag_group(&g.region, &g.name, tags).await?;
    ok(&json!({}))
}

async fn untag(app: &App, arn: &str, req: &RestRequest) -> Result<Response, ApiError> {
    let g = tagged_group(app, arn)?;
    let keys: Vec<&str> = req
        .query
        .iter()
        .filter(|(k, _)| k == "TagKeys")
        .map(|(_, v)| v.as_str())
        .collect();
    if keys.is_empty() {
        let mut v = Violations::new();
        v.required("tagKeys");
        v.finish()?;
    }
    app.schedules.untag_group(&g.region, &g.name, &keys).await?;
    ok(&json!({}))
}

fn list_tags(app: &App, arn: &str) -> Result<Response, ApiError> {
    let g = tagged_group(app, arn)?;
    let tags: Vec<Value> = g
        .tags
        .iter()
        .map(|(k, v)| json!({ "Key": k, "Value": v }))
        .collect();
    ok(&json!({ "Tags": tags }))
}
