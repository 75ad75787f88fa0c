//! Logs Insights through the Logs API: StartQuery, GetQueryResults, StopQuery,
//! DescribeQueries, over [`crate::log_queries`].

use serde::Deserialize;
use serde_json::json;

use super::{group_of, invalid};
use crate::App;
use crate::aws::{Ctx, reply};
use crate::error::ApiError;
use crate::log_queries::StartError;

/// Log groups one query may read (Insights' limit).
const MAX_GROUPS: usize = 50;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct StartInput {
    log_group_name: Option<String>,
    log_group_names: Option<Vec<String>>,
    log_group_identifiers: Option<Vec<String>>,
    start_time: Option<i64>,
    end_time: Option<i64>,
    query_string: Option<String>,
    limit: Option<i64>,
}

fn missing_query() -> ApiError {
    ApiError::not_found("The specified query does not exist.")
}

pub(super) fn start(app: &App, ctx: &Ctx, input: StartInput) -> Result<Vec<u8>, ApiError> {
    let (Some(start), Some(end)) = (input.start_time, input.end_time) else {
        return Err(invalid(
            "1 validation error detected: Value null at 'startTime' or 'endTime' failed to \
             satisfy constraint: Member must not be null",
        ));
    };
    if end < start {
        return Err(invalid("End time should not be before the start time"));
    }
    let query_string = input.query_string.unwrap_or_default();
    if query_string.trim().is_empty() {
        return Err(invalid(
            "1 validation error detected: Value at 'queryString' failed to satisfy \
             constraint: Member must have length greater than or equal to 1",
        ));
    }
    let limit = match input.limit {
        None => None,
        Some(n @ 1..=10_000) => Some(n as usize),
        Some(n) => {
            return Err(invalid(format!(
                "1 validation error detected: Value '{n}' at 'limit' failed to satisfy \
                 constraint: Member must have value between 1 and 10000"
            )));
        }
    };
    let mut names: Vec<(Option<String>, Option<String>)> = Vec::new();
    if let Some(n) = input.log_group_name {
        names.push((Some(n), None));
    }
    for n in input.log_group_names.unwrap_or_default() {
        names.push((Some(n), None));
    }
    for id in input.log_group_identifiers.unwrap_or_default() {
        names.push((None, Some(id)));
    }
    if names.is_empty() {
        return Err(invalid(
            "Exactly one of logGroupName, logGroupNames or logGroupIdentifiers must be given",
        ));
    }
    if names.len() > MAX_GROUPS {
        return Err(invalid(format!(
            "A query can read at most {MAX_GROUPS} log groups"
        )));
    }
    let groups = names
        .iter()
        .map(|(n, id)| group_of(app, ctx, n.as_deref(), id.as_deref()))
        .collect::<Result<Vec<_>, _>>()?;
    let id = app
        .core()
        .start_log_query(
            groups,
            start.saturating_mul(1000),
            end.saturating_mul(1000).saturating_add(999),
            &query_string,
            limit,
        )
        .map_err(|e| match e {
            StartError::Malformed(q) => ApiError::bad("MalformedQueryException", q.to_string()),
            StartError::TooMany => ApiError::bad(
                "LimitExceededException",
                "Resource limit exceeded: too many queries are running; wait for one to end",
            ),
        })?;
    reply(&json!({ "queryId": id }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct IdInput {
    query_id: Option<String>,
}

pub(super) fn results(app: &App, input: IdInput) -> Result<Vec<u8>, ApiError> {
    let id = input.query_id.unwrap_or_default();
    let q = app.log_queries.get(&id).ok_or_else(missing_query)?;
    let (rows, stats) = match &q.results {
        Some(r) => (
            r.rows
                .iter()
                .map(|row| {
                    row.iter()
                        .map(|(f, v)| json!({"field": f, "value": v}))
                        .collect::<Vec<_>>()
                })
                .collect::<Vec<_>>(),
            r.statistics,
        ),
        None => (Vec::new(), Default::default()),
    };
    reply(&json!({
        "results": rows,
        "statistics": {
            "recordsMatched": stats.records_matched as f64,
            "recordsScanned": stats.records_scanned as f64,
            "bytesScanned": stats.bytes_scanned as f64,
        },
        "status": q.status.as_str(),
    }))
}

pub(super) fn stop(app: &App, input: IdInput) -> Result<Vec<u8>, ApiError> {
    let id = input.query_id.unwrap_or_default();
    let stopped = app
        .log_queries
        .stop(&id, app.clock.now_ms())
        .ok_or_else(missing_query)?;
    reply(&json!({ "success": stopped }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct DescribeInput {
    log_group_name: Option<String>,
    status: Option<String>,
    max_results: Option<i64>,
}

pub(super) fn describe(app: &App, input: DescribeInput) -> Result<Vec<u8>, ApiError> {
    let max = input.max_results.unwrap_or(1000).clamp(1, 1000) as usize;
    let queries: Vec<_> = app
        .log_queries
        .list()
        .into_iter()
        .filter(|q| {
            input
                .log_group_name
                .as_ref()
                .is_none_or(|g| *g == q.log_group_name)
        })
        .filter(|q| {
            input
                .status
                .as_deref()
                .is_none_or(|s| s == q.status.as_str())
        })
        .take(max)
        .map(|q| {
            json!({
                "queryId": q.id,
                "queryString": q.query_string,
                "status": q.status.as_str(),
                "createTime": q.created_ms,
                "logGroupName": q.log_group_name,
            })
        })
        .collect();
    reply(&json!({ "queries": queries }))
}
