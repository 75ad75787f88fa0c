//! Subscription filters through the Logs API: PutSubscriptionFilter,
//! DescribeSubscriptionFilters, DeleteSubscriptionFilter (delivered by
//! [`crate::log_subscriptions`]).

use serde::Deserialize;
use serde_json::json;

use super::{check_filter_name, group, group_missing, invalid, required};
use crate::App;
use crate::aws::{Ctx, empty, reply};
use crate::error::ApiError;
use crate::log_subscriptions::{SubscriptionFilter, check_destination};
use crate::logs::{FilterPattern, StreamError};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct PutInput {
    log_group_name: Option<String>,
    filter_name: Option<String>,
    filter_pattern: Option<String>,
    destination_arn: Option<String>,
    role_arn: Option<String>,
    distribution: Option<String>,
}

pub(super) async fn put(app: &App, ctx: &Ctx, input: PutInput) -> Result<Vec<u8>, ApiError> {
    let g = group(app, ctx, input.log_group_name.as_deref())?;
    let name = check_filter_name(input.filter_name.as_deref())?;
    let pattern = input
        .filter_pattern
        .ok_or_else(|| required("filterPattern"))?;
    FilterPattern::parse(&pattern)
        .map_err(|e| invalid(format!("Invalid subscription filter pattern: {e}")))?;
    let destination = input
        .destination_arn
        .ok_or_else(|| required("destinationArn"))?;
    check_destination(app, &destination).map_err(invalid)?;
    if let Some(d) = &input.distribution
        && d != "Random"
        && d != "ByLogStream"
    {
        return Err(invalid(format!(
            "1 validation error detected: Value '{d}' at 'distribution' failed to satisfy \
             constraint: Member must satisfy enum value set: [Random, ByLogStream]"
        )));
    }
    let filter = SubscriptionFilter {
        filter_pattern: pattern,
        destination_arn: destination,
        role_arn: input.role_arn,
        distribution: input.distribution,
        created_ms: app.clock.now_ms(),
    };
    app.log_groups
        .put_subscription_filter(&g, name, filter)
        .await
        .map_err(|e| match e {
            StreamError::TooMany => ApiError::bad(
                "LimitExceededException",
                "Resource limit exceeded: a log group has at most 2 subscription filters",
            ),
            StreamError::Core(e) => e.into(),
            _ => group_missing(),
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
        .delete_subscription_filter(&g, name)
        .await
        .map_err(|e| match e {
            StreamError::NotFound => {
                ApiError::not_found("The specified subscription filter does not exist.")
            }
            StreamError::Core(e) => e.into(),
            _ => group_missing(),
        })?;
    empty()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct DescribeInput {
    log_group_name: Option<String>,
    filter_name_prefix: Option<String>,
}

pub(super) fn describe(app: &App, ctx: &Ctx, input: DescribeInput) -> Result<Vec<u8>, ApiError> {
    let g = group(app, ctx, input.log_group_name.as_deref())?;
    let prefix = input.filter_name_prefix.unwrap_or_default();
    let filters: Vec<_> = g
        .subscription_filters
        .iter()
        .filter(|(n, _)| n.starts_with(&prefix))
        .map(|(n, f)| {
            let mut o = json!({
                "filterName": n,
                "logGroupName": g.name,
                "filterPattern": f.filter_pattern,
                "destinationArn": f.destination_arn,
                "distribution": f.distribution.as_deref().unwrap_or("ByLogStream"),
                "creationTime": f.created_ms,
            });
            if let Some(r) = &f.role_arn {
                o["roleArn"] = json!(r);
            }
            o
        })
        .collect();
    reply(&json!({ "subscriptionFilters": filters }))
}
