//! Event source mappings through the Lambda API: CreateEventSourceMapping,
//! GetEventSourceMapping, ListEventSourceMappings, UpdateEventSourceMapping and
//! DeleteEventSourceMapping, over `eddy_core::sources` (which checks and runs them). This module
//! only parses the wire form, writes Lambda's `EventSourceMappingConfiguration` and words the
//! core's refusals as Lambda does.

use axum::http::StatusCode;
use axum::response::Response;
use eddy_core::sources::{
    self, EventSourceMappingDef, MappingUpdate, NewMapping, ScalingConfig, SourceError,
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{name_error, parse_name};
use crate::App;
use crate::aws::Ctx;
use crate::aws::rest::{self, RestRequest};
use crate::error::ApiError;

/// `ListEventSourceMappings`' page size when `MaxItems` is not given.
const DEFAULT_MAX_ITEMS: usize = 100;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct FilterInput {
    pattern: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct FilterCriteriaInput {
    #[serde(default)]
    filters: Vec<FilterInput>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ScalingInput {
    maximum_concurrency: Option<i64>,
}

/// The members of `CreateEventSourceMapping` and `UpdateEventSourceMapping` eddy uses (the
/// others, for stream and Kafka sources, are ignored as Lambda ignores them for SQS).
#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct Input {
    event_source_arn: Option<String>,
    function_name: Option<String>,
    enabled: Option<bool>,
    batch_size: Option<i64>,
    maximum_batching_window_in_seconds: Option<i64>,
    filter_criteria: Option<FilterCriteriaInput>,
    function_response_types: Option<Vec<String>>,
    scaling_config: Option<ScalingInput>,
}

fn validation(member: &str, value: impl std::fmt::Display, constraint: &str) -> ApiError {
    ApiError::validation(format!(
        "1 validation error detected: Value '{value}' at '{member}' failed to satisfy \
         constraint: {constraint}"
    ))
}

impl Input {
    /// The checks botocore's model states for these members (Lambda answers them with
    /// `ValidationException` before looking at anything else).
    fn validate(&self) -> Result<(), ApiError> {
        if let Some(v) = self.batch_size {
            if v < 1 {
                return Err(validation(
                    "batchSize",
                    v,
                    "Member must have value greater than or equal to 1",
                ));
            }
            if v > 10_000 {
                return Err(validation(
                    "batchSize",
                    v,
                    "Member must have value less than or equal to 10000",
                ));
            }
        }
        if let Some(v) = self.maximum_batching_window_in_seconds {
            if v < 0 {
                return Err(validation(
                    "maximumBatchingWindowInSeconds",
                    v,
                    "Member must have value greater than or equal to 0",
                ));
            }
            if v > 300 {
                return Err(validation(
                    "maximumBatchingWindowInSeconds",
                    v,
                    "Member must have value less than or equal to 300",
                ));
            }
        }
        if let Some(c) = self
            .scaling_config
            .as_ref()
            .and_then(|s| s.maximum_concurrency)
        {
            if c < 2 {
                return Err(validation(
                    "scalingConfig.maximumConcurrency",
                    c,
                    "Member must have value greater than or equal to 2",
                ));
            }
            if c > 1000 {
                return Err(validation(
                    "scalingConfig.maximumConcurrency",
                    c,
                    "Member must have value less than or equal to 1000",
                ));
            }
        }
        if let Some(types) = &self.function_response_types {
            if types.len() > 1 {
                return Err(validation(
                    "functionResponseTypes",
                    format!("[{}]", types.join(", ")),
                    "Member must have length less than or equal to 1",
                ));
            }
            if types.iter().any(|t| t != "ReportBatchItemFailures") {
                return Err(validation(
                    "functionResponseTypes",
                    format!("[{}]", types.join(", ")),
                    "Member must satisfy constraint: [Member must satisfy enum value set: \
                     [ReportBatchItemFailures]]",
                ));
            }
        }
        if let Some(raw) = &self.function_name
            && parse_name(raw).is_none()
        {
            return Err(name_error(raw));
        }
        Ok(())
    }

    fn filters(&self) -> Result<Option<Vec<String>>, ApiError> {
        let Some(fc) = &self.filter_criteria else {
            return Ok(None);
        };
        fc.filters
            .iter()
            .map(|f| {
                f.pattern.clone().ok_or_else(|| {
                    ApiError::bad(
                        "InvalidParameterValueException",
                        "Invalid filter pattern definition.",
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    fn scaling(&self) -> Option<ScalingConfig> {
        self.scaling_config.as_ref().map(|s| ScalingConfig {
            // In range: checked by `validate`.
            maximum_concurrency: s.maximum_concurrency.map(|c| c as u32),
        })
    }
}

/// `EventSourceMappingConfiguration`.
fn config(app: &App, d: &EventSourceMappingDef) -> Value {
    let account = app.functions.account();
    let mut out = json!({
        "UUID": d.uuid,
        "EventSourceMappingArn": d.arn(account),
        "BatchSize": d.batch_size,
        "MaximumBatchingWindowInSeconds": d.maximum_batching_window_in_seconds,
        "EventSourceArn": d.event_source_arn,
        "FunctionArn": d.function_arn(account),
        // Epoch seconds, as Lambda's rest-json timestamps.
        "LastModified": d.last_modified_ms as f64 / 1000.0,
        "State": d.state.as_str(),
        "StateTransitionReason": d.state_transition_reason,
        "FunctionResponseTypes": d.function_response_types.iter().map(|t| t.as_str()).collect::<Vec<_>>(),
    });
    if !d.filter_criteria.is_empty() {
        out["FilterCriteria"] = json!({
            "Filters": d.filter_criteria.iter().map(|p| json!({"Pattern": p})).collect::<Vec<_>>(),
        });
    }
    if let Some(s) = &d.scaling_config {
        out["ScalingConfig"] = match s.maximum_concurrency {
            Some(c) => json!({"MaximumConcurrency": c}),
            None => json!({}),
        };
    }
    out
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::bad("InvalidParameterValueException", message)
}

fn resource_not_found() -> ApiError {
    ApiError::new(
        "ResourceNotFoundException",
        StatusCode::NOT_FOUND,
        "The resource you requested does not exist.",
    )
}

/// Lambda's words for the core's refusals.
fn source_error(app: &App, ctx: &Ctx, e: SourceError) -> ApiError {
    let account = app.functions.account();
    match e {
        SourceError::FunctionNotFound(given) => {
            let arn = match parse_name(&given) {
                Some((name, _)) if !given.starts_with("arn:") => {
                    format!("arn:aws:lambda:{}:{account}:function:{name}", ctx.region)
                }
                _ => given,
            };
            ApiError::new(
                "ResourceNotFoundException",
                StatusCode::NOT_FOUND,
                format!("Function not found: {arn}"),
            )
        }
        SourceError::NotQueueArn(arn) => invalid(format!(
            "Unrecognized event source, must be an Amazon SQS queue ARN (eddy polls only SQS \
             queues): {arn}"
        )),
        SourceError::OtherRegion(arn) => invalid(format!(
            "The event source {arn} is in another region than the function ({})",
            ctx.region
        )),
        SourceError::QueueNotFound(_) => invalid(
            "Error occurred while ReceiveMessage. SQSError Code : \
             AWS.SimpleQueueService.NonExistentQueue, SQSError Message : The specified queue \
             does not exist for this wsdl version.",
        ),
        SourceError::VisibilityTimeout {
            queue_secs,
            function_secs,
        } => invalid(format!(
            "Queue visibility timeout: {queue_secs} seconds is less than Function timeout: \
             {function_secs} seconds"
        )),
        SourceError::BatchSize { max, .. } if max < 10_000 => invalid(format!(
            "BatchSize must be between 1 and {max} for FIFO queues."
        )),
        SourceError::BatchSize { value, .. } => validation(
            "batchSize",
            value,
            "Member must have value less than or equal to 10000",
        ),
        SourceError::Window(v) => validation(
            "maximumBatchingWindowInSeconds",
            v,
            "Member must have value less than or equal to 300",
        ),
        SourceError::WindowRequired { .. } => invalid(
            "Maximum batch window in seconds must be greater than 0 if maximum batch size is \
             greater than 10",
        ),
        SourceError::FifoWindow => invalid("Batching window is not supported for FIFO queues"),
        SourceError::MaximumConcurrency(c) => validation(
            "scalingConfig.maximumConcurrency",
            c,
            "Member must have value between 2 and 1000",
        ),
        SourceError::TooManyFilters(n) => invalid(format!(
            "The total number of filters ({n}) exceeds the limit of 5 filters per event source \
             mapping."
        )),
        SourceError::Filter { .. } => invalid("Invalid filter pattern definition."),
        SourceError::ResponseType(t) => validation(
            "functionResponseTypes",
            format!("[{t}]"),
            "Member must satisfy constraint: [Member must satisfy enum value set: \
             [ReportBatchItemFailures]]",
        ),
        SourceError::Exists { uuid } => {
            let (queue, function) = app
                .sources
                .get(&ctx.region, &uuid)
                .map(|d| (d.event_source_arn, d.function_name))
                .unwrap_or_default();
            ApiError::new(
                "ResourceConflictException",
                StatusCode::CONFLICT,
                format!(
                    "An event source mapping with SQS arn (\" {queue} \") and function \
                     (\" {function} \") already exists. Please update or delete the existing \
                     mapping with UUID {uuid}"
                ),
            )
        }
        SourceError::NotFound(_) => resource_not_found(),
        SourceError::Core(e) => e.into(),
    }
}

/// `POST /2015-03-31/event-source-mappings/`.
pub(super) async fn create(app: &App, ctx: &Ctx, req: &RestRequest) -> Result<Response, ApiError> {
    let input: Input = rest::parse(&req.body)?;
    let function = input
        .function_name
        .clone()
        .ok_or_else(|| invalid("FunctionName is required"))?;
    let event_source_arn = input
        .event_source_arn
        .clone()
        .ok_or_else(|| invalid("Unrecognized event source."))?;
    input.validate()?;
    let new = NewMapping {
        function,
        event_source_arn,
        enabled: input.enabled,
        batch_size: input.batch_size,
        maximum_batching_window_in_seconds: input.maximum_batching_window_in_seconds,
        scaling_config: input.scaling(),
        filter_criteria: input.filters()?.unwrap_or_default(),
        function_response_types: input.function_response_types.clone().unwrap_or_default(),
    };
    let def = sources::create(app.core(), &ctx.region, new)
        .await
        .map_err(|e| source_error(app, ctx, e))?;
    rest::json(StatusCode::ACCEPTED, &config(app, &def))
}

/// `GET /2015-03-31/event-source-mappings/{UUID}`.
pub(super) fn get(app: &App, ctx: &Ctx, uuid: &str) -> Result<Response, ApiError> {
    let def = app
        .sources
        .get(&ctx.region, uuid)
        .ok_or_else(resource_not_found)?;
    rest::json(StatusCode::OK, &config(app, &def))
}

/// `GET /2015-03-31/event-source-mappings/?FunctionName&EventSourceArn&Marker&MaxItems`.
pub(super) fn list(app: &App, ctx: &Ctx, req: &RestRequest) -> Result<Response, ApiError> {
    let max = match req.query("MaxItems") {
        None => DEFAULT_MAX_ITEMS,
        Some(s) => match s.parse::<usize>() {
            Ok(n) if (1..=10_000).contains(&n) => n,
            _ => {
                return Err(validation(
                    "maxItems",
                    s,
                    "Member must have value between 1 and 10000",
                ));
            }
        },
    };
    let function = req.query("FunctionName");
    if let Some(f) = function
        && parse_name(f).is_none()
    {
        return Err(name_error(f));
    }
    let mut all = app
        .sources
        .list(&ctx.region, function, req.query("EventSourceArn"));
    all.sort_by(|a, b| a.uuid.cmp(&b.uuid));
    let start = match req.query("Marker") {
        Some(m) => all
            .iter()
            .position(|d| d.uuid.as_str() > m)
            .unwrap_or(all.len()),
        None => 0,
    };
    let page: Vec<&EventSourceMappingDef> = all[start..].iter().take(max).collect();
    let mut out = json!({
        "EventSourceMappings": page.iter().map(|d| config(app, d)).collect::<Vec<_>>(),
    });
    if start + page.len() < all.len()
        && let Some(last) = page.last()
    {
        out["NextMarker"] = json!(last.uuid);
    }
    rest::json(StatusCode::OK, &out)
}

/// `PUT /2015-03-31/event-source-mappings/{UUID}`.
pub(super) async fn update(
    app: &App,
    ctx: &Ctx,
    uuid: &str,
    req: &RestRequest,
) -> Result<Response, ApiError> {
    let input: Input = rest::parse(&req.body)?;
    input.validate()?;
    let upd = MappingUpdate {
        function: input.function_name.clone(),
        enabled: input.enabled,
        batch_size: input.batch_size,
        maximum_batching_window_in_seconds: input.maximum_batching_window_in_seconds,
        scaling_config: input.scaling(),
        filter_criteria: input.filters()?,
        function_response_types: input.function_response_types.clone(),
    };
    let def = sources::update(app.core(), &ctx.region, uuid, upd)
        .await
        .map_err(|e| source_error(app, ctx, e))?;
    rest::json(StatusCode::ACCEPTED, &config(app, &def))
}

/// `DELETE /2015-03-31/event-source-mappings/{UUID}`.
pub(super) async fn delete(app: &App, ctx: &Ctx, uuid: &str) -> Result<Response, ApiError> {
    let def = sources::delete(app.core(), &ctx.region, uuid)
        .await
        .map_err(|e| source_error(app, ctx, e))?;
    rest::json(StatusCode::ACCEPTED, &config(app, &def))
}
