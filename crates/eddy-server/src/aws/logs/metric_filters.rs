//! Metric filters through the Logs API: PutMetricFilter, DescribeMetricFilters,
//! DeleteMetricFilter, TestMetricFilter (counted into `/metrics` by
//! [`crate::metric_filters`]).

use serde::Deserialize;
use serde_json::json;

use super::{check_filter_name, group, invalid, required};
use crate::App;
use crate::aws::{Ctx, empty, reply};
use crate::error::ApiError;
use crate::logs::{FilterPattern, StreamError};
use crate::metric_filters::{MetricFilter, MetricTransformation};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TransformationInput {
    metric_name: Option<String>,
    metric_namespace: Option<String>,
    metric_value: Option<String>,
    default_value: Option<f64>,
    unit: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct PutInput {
    log_group_name: Option<String>,
    filter_name: Option<String>,
    filter_pattern: Option<String>,
    metric_transformations: Option<Vec<TransformationInput>>,
}

pub(super) async fn put(app: &App, ctx: &Ctx, input: PutInput) -> Result<Vec<u8>, ApiError> {
    let g = group(app, ctx, input.log_group_name.as_deref())?;
    let name = check_filter_name(input.filter_name.as_deref())?;
    let pattern = input
        .filter_pattern
        .ok_or_else(|| required("filterPattern"))?;
    FilterPattern::parse(&pattern)
        .map_err(|e| invalid(format!("Invalid metric filter pattern: {e}")))?;
    let given = input
        .metric_transformations
        .ok_or_else(|| required("metricTransformations"))?;
    if given.len() != 1 {
        return Err(invalid(
            "1 validation error detected: Value at 'metricTransformations' failed to satisfy \
             constraint: Member must have length less than or equal to 1",
        ));
    }
    let mut transformations = Vec::new();
    for t in given {
        let t = MetricTransformation {
            metric_name: t.metric_name.ok_or_else(|| required("metricName"))?,
            metric_namespace: t
                .metric_namespace
                .ok_or_else(|| required("metricNamespace"))?,
            metric_value: t.metric_value.ok_or_else(|| required("metricValue"))?,
            default_value: t.default_value,
            unit: t.unit,
        };
        t.check().map_err(invalid)?;
        transformations.push(t);
    }
    let filter = MetricFilter {
        filter_pattern: pattern,
        transformations,
        created_ms: app.clock.now_ms(),
    };
    app.log_groups
        .put_metric_filter(&g, name, filter)
        .await
        .map_err(|e| match e {
            StreamError::TooMany => ApiError::bad(
                "LimitExceededException",
                "Resource limit exceeded: a log group has at most 100 metric filters",
            ),
            StreamError::Core(e) => e.into(),
            _ => super::group_missing(),
        })?;
    empty()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct DeleteInput {
    log_group_name: Option<String>,
    filter_name: Option<String>,
}

pub(super) async fn delete(app: &App, ctx: &Ctx, input: DeleteInput) -> Result<Vec<u8>, ApiError> {
    let g = group(app, ctx, input.log_group_name.as_deref())?;
    let name = check_filter_name(input.filter_name.as_deref())?;
    app.log_groups
        .delete_metric_filter(&g, name)
        .await
        .map_err(|e| match e {
            StreamError::NotFound => {
                ApiError::not_found("The specified metric filter does not exist.")
            }
            StreamError::Core(e) => e.into(),
            _ => super::group_missing(),
        })?;
    empty()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct DescribeInput {
    log_group_name: Option<String>,
    filter_name_prefix: Option<String>,
    metric_name: Option<String>,
    metric_namespace: Option<String>,
    limit: Option<i64>,
    next_token: Option<String>,
}

pub(super) fn describe(app: &App, ctx: &Ctx, input: DescribeInput) -> Result<Vec<u8>, ApiError> {
    let limit = input.limit.unwrap_or(50);
    if !(1..=50).contains(&limit) {
        return Err(invalid(format!(
            "1 validation error detected: Value '{limit}' at 'limit' failed to satisfy \
             constraint: Member must have value less than or equal to 50"
        )));
    }
    let groups = match &input.log_group_name {
        Some(n) => vec![group(app, ctx, Some(n))?],
        None => app.log_groups.list(&ctx.region),
    };
    let prefix = input.filter_name_prefix.unwrap_or_default();
    // The token is the index of the next filter (the order is stable between calls).
    let start = match &input.next_token {
        Some(t) => t
            .parse::<usize>()
            .map_err(|_| invalid("The specified nextToken is invalid."))?,
        None => 0,
    };
    let matching: Vec<_> = groups
        .iter()
        .flat_map(|g| g.metric_filters.iter().map(move |(n, f)| (g, n, f)))
        .filter(|(_, n, _)| n.starts_with(&prefix))
        .filter(|(_, _, f)| {
            f.transformations.iter().any(|t| {
                input
                    .metric_name
                    .as_ref()
                    .is_none_or(|m| *m == t.metric_name)
                    && input
                        .metric_namespace
                        .as_ref()
                        .is_none_or(|m| *m == t.metric_namespace)
            })
        })
        .collect();
    let filters: Vec<_> = matching
        .iter()
        .skip(start)
        .take(limit as usize)
        .map(|(g, n, f)| {
            json!({
                "filterName": n,
                "filterPattern": f.filter_pattern,
                "logGroupName": g.name,
                "creationTime": f.created_ms,
                "metricTransformations": f.transformations.iter().map(|t| {
                    let mut o = json!({
                        "metricName": t.metric_name,
                        "metricNamespace": t.metric_namespace,
                        "metricValue": t.metric_value,
                    });
                    if let Some(d) = t.default_value {
                        o["defaultValue"] = json!(d);
                    }
                    if let Some(u) = &t.unit {
                        o["unit"] = json!(u);
                    }
                    o
                }).collect::<Vec<_>>(),
            })
        })
        .collect();
    let mut out = json!({ "metricFilters": filters });
    let next = start.saturating_add(limit as usize);
    if next < matching.len() {
        out["nextToken"] = json!(next.to_string());
    }
    reply(&out)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct TestInput {
    filter_pattern: Option<String>,
    log_event_messages: Option<Vec<String>>,
}

pub(super) fn test(input: TestInput) -> Result<Vec<u8>, ApiError> {
    let pattern = input
        .filter_pattern
        .ok_or_else(|| required("filterPattern"))?;
    let messages = input
        .log_event_messages
        .ok_or_else(|| required("logEventMessages"))?;
    if messages.is_empty() || messages.len() > 50 {
        return Err(invalid(
            "1 validation error detected: Value at 'logEventMessages' failed to satisfy \
             constraint: Member must have length between 1 and 50",
        ));
    }
    let matches = crate::metric_filters::test(&pattern, &messages)
        .map_err(|e| invalid(format!("Invalid metric filter pattern: {e}")))?;
    reply(&json!({
        "matches": matches.iter().map(|(n, m)| json!({
            "eventNumber": n, "eventMessage": m, "extractedValues": {},
        })).collect::<Vec<_>>(),
    }))
}
