//! Amazon CloudWatch Logs (`Logs_20140328.*`) over AWS JSON 1.1: log groups and their
//! retention policies, GetLogEvents and FilterLogEvents here; log streams and PutLogEvents in
//! [`streams`], tags in [`tags`], Logs Insights queries in [`insights`], metric filters in
//! [`metric_filters`], subscription filters in [`subscriptions`].
//!
//! Reads name their group by `logGroupName` or `logGroupIdentifier` (a name or an ARN).

mod insights;
mod metric_filters;
mod streams;
mod subscriptions;
mod tags;

use serde::Deserialize;
use serde_json::{Value, json};

use super::{Ctx, empty, parse, reply};
use crate::App;
use crate::error::ApiError;
use crate::logs::{FilterPattern, LogGroupDef, RETENTION_DAYS};
use eddy_store::{LogEvent, LogPosition, LogQuery};

/// Runs one CloudWatch Logs operation.
pub async fn call(app: &App, ctx: &Ctx, op: &str, body: &[u8]) -> Result<Vec<u8>, ApiError> {
    match op {
        "CreateLogGroup" => create_log_group(app, ctx, parse(body)?).await,
        "DeleteLogGroup" => delete_log_group(app, ctx, parse(body)?).await,
        "DescribeLogGroups" => describe_log_groups(app, ctx, parse(body)?),
        "PutRetentionPolicy" => put_retention_policy(app, ctx, parse(body)?).await,
        "DeleteRetentionPolicy" => delete_retention_policy(app, ctx, parse(body)?).await,
        "CreateLogStream" => streams::create(app, ctx, parse(body)?).await,
        "DeleteLogStream" => streams::delete(app, ctx, parse(body)?).await,
        "DescribeLogStreams" => streams::describe(app, ctx, parse(body)?).await,
        "PutLogEvents" => streams::put_log_events(app, ctx, parse(body)?).await,
        "TagLogGroup" => tags::tag_log_group(app, ctx, parse(body)?).await,
        "UntagLogGroup" => tags::untag_log_group(app, ctx, parse(body)?).await,
        "ListTagsLogGroup" => tags::list_tags_log_group(app, ctx, parse(body)?),
        "TagResource" => tags::tag_resource(app, ctx, parse(body)?).await,
        "UntagResource" => tags::untag_resource(app, ctx, parse(body)?).await,
        "ListTagsForResource" => tags::list_tags_for_resource(app, ctx, parse(body)?),
        "PutSubscriptionFilter" => subscriptions::put(app, ctx, parse(body)?).await,
        "DeleteSubscriptionFilter" => subscriptions::delete(app, ctx, parse(body)?).await,
        "DescribeSubscriptionFilters" => subscriptions::describe(app, ctx, parse(body)?),
        "PutMetricFilter" => metric_filters::put(app, ctx, parse(body)?).await,
        "DeleteMetricFilter" => metric_filters::delete(app, ctx, parse(body)?).await,
        "DescribeMetricFilters" => metric_filters::describe(app, ctx, parse(body)?),
        "TestMetricFilter" => metric_filters::test(parse(body)?),
        "StartQuery" => insights::start(app, ctx, parse(body)?),
        "GetQueryResults" => insights::results(app, parse(body)?),
        "StopQuery" => insights::stop(app, parse(body)?),
        "DescribeQueries" => insights::describe(app, parse(body)?),
        "GetLogEvents" => get_log_events(app, ctx, parse(body)?).await,
        "FilterLogEvents" => filter_log_events(app, ctx, parse(body)?).await,
        _ => Err(ApiError::unknown_operation(format!(
            "Unknown operation Logs_20140328.{op}: eddy does not implement it"
        ))),
    }
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::bad("InvalidParameterException", message)
}

/// A required member that is missing, in the model's words.
fn required(member: &str) -> ApiError {
    invalid(format!(
        "1 validation error detected: Value null at '{member}' failed to satisfy constraint: \
         Member must not be null"
    ))
}

/// A metric or subscription filter's name: `[^:*]*`, 1-512 characters.
fn check_filter_name(name: Option<&str>) -> Result<&str, ApiError> {
    match name {
        Some(n) if !n.is_empty() && n.len() <= 512 && !n.contains([':', '*']) => Ok(n),
        Some(n) => Err(invalid(format!(
            "1 validation error detected: Value '{n}' at 'filterName' failed to satisfy \
             constraint: Member must satisfy regular expression pattern: [^:*]*"
        ))),
        None => Err(required("filterName")),
    }
}

fn group_missing() -> ApiError {
    ApiError::not_found("The specified log group does not exist.")
}

fn check_group_name(name: Option<&str>) -> Result<String, ApiError> {
    let Some(n) = name else {
        return Err(invalid(
            "1 validation error detected: Value null at 'logGroupName' failed to satisfy constraint: Member must not be null",
        ));
    };
    let ok = !n.is_empty()
        && n.len() <= 512
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-/#".contains(c));
    if !ok {
        return Err(invalid(format!(
            "1 validation error detected: Value '{n}' at 'logGroupName' failed to satisfy \
             constraint: Member must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]+"
        )));
    }
    Ok(n.to_owned())
}

fn group(app: &App, ctx: &Ctx, name: Option<&str>) -> Result<LogGroupDef, ApiError> {
    let name = check_group_name(name)?;
    app.log_groups
        .get(&ctx.region, &name)
        .ok_or_else(group_missing)
}

/// The group a read names: `logGroupName`, or `logGroupIdentifier` (a name, or a group's ARN
/// with or without `:*`); exactly one of them.
fn group_of(
    app: &App,
    ctx: &Ctx,
    name: Option<&str>,
    identifier: Option<&str>,
) -> Result<LogGroupDef, ApiError> {
    match (name, identifier) {
        (Some(_), Some(_)) => Err(invalid(
            "LogGroup name and LogGroup ARN are mutually exclusive parameters.",
        )),
        (None, Some(id)) => match id.strip_prefix("arn:") {
            Some(_) => {
                let (region, group) = group_arn(id).ok_or_else(|| {
                    invalid(format!("1 validation error detected: Value '{id}' at 'logGroupIdentifier' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w#+=/:,.@-]*"))
                })?;
                let name = check_group_name(Some(group))?;
                app.log_groups.get(region, &name).ok_or_else(group_missing)
            }
            None => group(app, ctx, Some(id)),
        },
        (name, None) => group(app, ctx, name),
    }
}

/// The region and group name of a log group ARN (`arn:aws:logs:REGION:ACCOUNT:log-group:NAME`,
/// optionally ending in `:*`).
fn group_arn(arn: &str) -> Option<(&str, &str)> {
    let rest = arn.strip_prefix("arn:aws:logs:")?;
    let (region, rest) = rest.split_once(':')?;
    let (_account, rest) = rest.split_once(':')?;
    let name = rest.strip_prefix("log-group:")?;
    Some((region, name.strip_suffix(":*").unwrap_or(name)))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GroupInput {
    log_group_name: Option<String>,
    tags: Option<std::collections::BTreeMap<String, String>>,
}

async fn create_log_group(app: &App, ctx: &Ctx, input: GroupInput) -> Result<Vec<u8>, ApiError> {
    let name = check_group_name(input.log_group_name.as_deref())?;
    if app.log_groups.get(&ctx.region, &name).is_some() {
        return Err(ApiError::already_exists(
            "The specified log group already exists",
        ));
    }
    app.log_groups
        .put(LogGroupDef {
            region: ctx.region.clone(),
            name,
            retention_in_days: None,
            tags: input.tags.unwrap_or_default(),
            streams: Default::default(),
            metric_filters: Default::default(),
            subscription_filters: Default::default(),
            created_ms: app.clock.now_ms(),
        })
        .await?;
    empty()
}

async fn delete_log_group(app: &App, ctx: &Ctx, input: GroupInput) -> Result<Vec<u8>, ApiError> {
    let g = group(app, ctx, input.log_group_name.as_deref())?;
    app.log_groups.delete(&g).await?;
    empty()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RetentionInput {
    log_group_name: Option<String>,
    retention_in_days: Option<i64>,
}

async fn put_retention_policy(
    app: &App,
    ctx: &Ctx,
    input: RetentionInput,
) -> Result<Vec<u8>, ApiError> {
    let days = match input.retention_in_days {
        Some(d) if RETENTION_DAYS.contains(&d) => d,
        Some(d) => {
            let allowed = RETENTION_DAYS.map(|d| d.to_string()).join(", ");
            return Err(invalid(format!(
                "1 validation error detected: Value '{d}' at 'retentionInDays' failed to \
                 satisfy constraint: Member must satisfy enum value set: [{allowed}]"
            )));
        }
        None => {
            return Err(invalid(
                "1 validation error detected: Value null at 'retentionInDays' failed to satisfy constraint: Member must not be null",
            ));
        }
    };
    let g = group(app, ctx, input.log_group_name.as_deref())?;
    app.log_groups
        .put(LogGroupDef {
            retention_in_days: Some(days),
            ..g
        })
        .await?;
    empty()
}

async fn delete_retention_policy(
    app: &App,
    ctx: &Ctx,
    input: RetentionInput,
) -> Result<Vec<u8>, ApiError> {
    let g = group(app, ctx, input.log_group_name.as_deref())?;
    if g.retention_in_days.is_some() {
        app.log_groups
            .put(LogGroupDef {
                retention_in_days: None,
                ..g
            })
            .await?;
    }
    empty()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DescribeGroupsInput {
    log_group_name_prefix: Option<String>,
    next_token: Option<String>,
    limit: Option<i64>,
}

fn describe_log_groups(
    app: &App,
    ctx: &Ctx,
    input: DescribeGroupsInput,
) -> Result<Vec<u8>, ApiError> {
    let limit = input.limit.unwrap_or(50);
    if !(1..=50).contains(&limit) {
        return Err(invalid(
            "1 validation error detected: Value at 'limit' failed to satisfy constraint: Member must have value between 1 and 50",
        ));
    }
    let prefix = input.log_group_name_prefix.unwrap_or_default();
    let groups: Vec<LogGroupDef> = app
        .log_groups
        .list(&ctx.region)
        .into_iter()
        .filter(|g| g.name.starts_with(&prefix))
        .filter(|g| {
            input
                .next_token
                .as_ref()
                .is_none_or(|t| g.name.as_str() > t.as_str())
        })
        .collect();
    let more = groups.len() > limit as usize;
    let page: Vec<&LogGroupDef> = groups.iter().take(limit as usize).collect();
    let account = &app.config.account_id;
    let mut out = json!({ "logGroups": page.iter().map(|g| {
        let mut out = json!({
            "logGroupName": g.name,
            "creationTime": g.created_ms,
            "metricFilterCount": 0,
            "arn": format!("{}:*", g.arn(account)),
            "logGroupArn": g.arn(account),
            "storedBytes": 0,
        });
        if let Some(days) = g.retention_in_days {
            out["retentionInDays"] = json!(days);
        }
        out
    }).collect::<Vec<_>>() });
    if more && let Some(last) = page.last() {
        out["nextToken"] = json!(last.name);
    }
    reply(&out)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GetInput {
    log_group_name: Option<String>,
    log_group_identifier: Option<String>,
    log_stream_name: Option<String>,
    start_time: Option<i64>,
    end_time: Option<i64>,
    next_token: Option<String>,
    limit: Option<i64>,
    start_from_head: Option<bool>,
}

/// `f/TIME/SEQ` or `b/TIME/SEQ`: the position the next page continues from, and in which
/// direction.
fn token(t: &str) -> Result<(bool, LogPosition), ApiError> {
    let bad = || invalid("The specified nextToken is invalid.");
    let mut parts = t.split('/');
    let (Some(dir), Some(time), Some(seq), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    let position = LogPosition {
        timestamp_ms: time.parse().map_err(|_| bad())?,
        seq: seq.parse().map_err(|_| bad())?,
    };
    match dir {
        "f" => Ok((false, position)),
        "b" => Ok((true, position)),
        _ => Err(bad()),
    }
}

fn format_token(backwards: bool, p: LogPosition) -> String {
    let dir = if backwards { 'b' } else { 'f' };
    format!("{dir}/{}/{}", p.timestamp_ms, p.seq)
}

/// Before every event (the forward start) and after every event (the backward start).
const HEAD: LogPosition = LogPosition {
    timestamp_ms: i64::MIN,
    seq: i64::MIN,
};
const TAIL: LogPosition = LogPosition {
    timestamp_ms: i64::MAX,
    seq: i64::MAX,
};

async fn get_log_events(app: &App, ctx: &Ctx, input: GetInput) -> Result<Vec<u8>, ApiError> {
    let g = group_of(
        app,
        ctx,
        input.log_group_name.as_deref(),
        input.log_group_identifier.as_deref(),
    )?;
    let stream = input
        .log_stream_name
        .ok_or_else(|| invalid("logStreamName is required"))?;
    let limit = input.limit.unwrap_or(10_000);
    if !(1..=10_000).contains(&limit) {
        return Err(invalid("limit must be between 1 and 10000"));
    }
    let (backwards, after) = match &input.next_token {
        Some(t) => {
            let (b, s) = token(t)?;
            (b, Some(s))
        }
        None => (!input.start_from_head.unwrap_or(false), None),
    };
    let mut events = app
        .log_groups
        .read(
            &g,
            LogQuery {
                group: String::new(),
                streams: vec![stream],
                start_ms: input.start_time,
                end_ms: input.end_time,
                after,
                limit: limit as usize,
                backwards,
            },
        )
        .await?;
    if backwards {
        events.reverse();
    }
    let first = events
        .first()
        .map_or(after.unwrap_or(TAIL), LogEvent::position);
    let last = events
        .last()
        .map_or(after.unwrap_or(HEAD), LogEvent::position);
    reply(&json!({
        "events": events.iter().map(|e| json!({
            "timestamp": e.timestamp_ms, "message": e.message, "ingestionTime": e.ingestion_ms,
        })).collect::<Vec<_>>(),
        "nextForwardToken": format_token(false, last),
        "nextBackwardToken": format_token(true, first),
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FilterInput {
    log_group_name: Option<String>,
    log_group_identifier: Option<String>,
    log_stream_names: Option<Vec<String>>,
    start_time: Option<i64>,
    end_time: Option<i64>,
    filter_pattern: Option<String>,
    next_token: Option<String>,
    limit: Option<i64>,
}

async fn filter_log_events(app: &App, ctx: &Ctx, input: FilterInput) -> Result<Vec<u8>, ApiError> {
    let g = group_of(
        app,
        ctx,
        input.log_group_name.as_deref(),
        input.log_group_identifier.as_deref(),
    )?;
    let pattern = FilterPattern::parse(input.filter_pattern.as_deref().unwrap_or(""))
        .map_err(|e| invalid(format!("Invalid filter pattern: {e}")))?;
    let limit = input.limit.unwrap_or(10_000);
    if !(1..=10_000).contains(&limit) {
        return Err(invalid("limit must be between 1 and 10000"));
    }
    let after = match &input.next_token {
        Some(t) => match token(t)? {
            (false, position) => Some(position),
            (true, _) => return Err(invalid("The specified nextToken is invalid.")),
        },
        None => None,
    };
    let mut matched = Vec::new();
    let mut cursor = after;
    let mut more = false;
    // Read in pages until the limit of matching events is reached or the group is exhausted.
    loop {
        let page = app
            .log_groups
            .read(
                &g,
                LogQuery {
                    group: String::new(),
                    streams: input.log_stream_names.clone().unwrap_or_default(),
                    start_ms: input.start_time,
                    end_ms: input.end_time,
                    after: cursor,
                    limit: 1000,
                    backwards: false,
                },
            )
            .await?;
        let Some(last) = page.last() else { break };
        cursor = Some(last.position());
        let full = page.len() == 1000;
        for e in page {
            if pattern.matches(&e.message) {
                if matched.len() == limit as usize {
                    more = true;
                    break;
                }
                matched.push(e);
            }
        }
        if more || !full {
            break;
        }
    }
    let mut out = json!({
        "events": matched.iter().map(|e| json!({
            "logStreamName": e.stream, "timestamp": e.timestamp_ms, "message": e.message,
            "ingestionTime": e.ingestion_ms, "eventId": e.seq.to_string(),
        })).collect::<Vec<_>>(),
        "searchedLogStreams": [],
    });
    if more && let Some(last) = matched.last() {
        out["nextToken"] = Value::String(format_token(false, last.position()));
    }
    reply(&out)
}
