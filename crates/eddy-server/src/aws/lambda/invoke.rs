//! Invocations through the Lambda API (Invoke: RequestResponse, Event, DryRun), reserved
//! concurrency, and asynchronous invocation settings (PutFunctionEventInvokeConfig and friends).

use axum::body::Bytes;
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use eddy_model::limits;
use eddy_runtime::{Invocation, InvokeError};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{find, find_qualified, function_error};
use crate::App;
use crate::aws::Ctx;
use crate::aws::rest::{self, RestRequest};
use crate::error::{ApiError, Violations};
use crate::functions::{EventInvokeConfig, EventInvokeUpdate, FunctionDef};

/// Invoke payload limits: 6 MB synchronous, 1 MB asynchronous.
const MAX_SYNC_PAYLOAD: usize = 6 * 1024 * 1024;
const MAX_ASYNC_PAYLOAD: usize = 1024 * 1024;

pub(super) async fn invoke(
    app: &App,
    ctx: &Ctx,
    raw: &str,
    req: &RestRequest,
) -> Result<Response, ApiError> {
    let q = find_qualified(app, ctx, raw, req)?;
    let d = &q.latest;
    let kind = req
        .header("x-amz-invocation-type")
        .unwrap_or("RequestResponse");
    let log_type = req.header("x-amz-log-type").unwrap_or("None");
    if !matches!(kind, "RequestResponse" | "Event" | "DryRun") {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value '{kind}' at 'invocationType' failed to satisfy \
             constraint: Member must satisfy enum value set: [Event, RequestResponse, DryRun]"
        )));
    }
    if !matches!(log_type, "None" | "Tail") {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value '{log_type}' at 'logType' failed to satisfy \
             constraint: Member must satisfy enum value set: [Tail, None]"
        )));
    }
    let payload: Bytes = if req.body.iter().all(u8::is_ascii_whitespace) {
        Bytes::from_static(b"{}")
    } else {
        req.body.clone()
    };
    let limit = if kind == "Event" {
        MAX_ASYNC_PAYLOAD
    } else {
        MAX_SYNC_PAYLOAD
    };
    if payload.len() > limit {
        return Err(ApiError::new(
            "RequestTooLargeException",
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("Request must be smaller than {limit} bytes for the InvokeFunction operation"),
        ));
    }
    if serde_json::from_slice::<serde::de::IgnoredAny>(&payload).is_err() {
        return Err(ApiError::bad(
            "InvalidRequestContentException",
            "Could not parse request body into json: Could not parse payload into json: \
             Unexpected character: was expecting a JSON value",
        ));
    }
    match kind {
        "DryRun" => return Ok(rest::empty(StatusCode::NO_CONTENT)),
        "Event" => {
            let text = String::from_utf8_lossy(&payload).into_owned();
            let id = crate::delivery::function::enqueue(
                app,
                d,
                q.qualifier
                    .as_deref()
                    .filter(|q| *q != crate::functions::LATEST),
                text,
                Vec::new(),
            )
            .await?;
            let mut res = StatusCode::ACCEPTED.into_response();
            if let Ok(v) = HeaderValue::from_str(&id) {
                res.headers_mut().insert("x-amzn-requestid", v);
            }
            return Ok(res);
        }
        _ => {}
    }
    let client_context = match req.header("x-amz-client-context") {
        Some(b64) => {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .filter(|s| serde_json::from_str::<Value>(s).is_ok_and(|v| v.is_object()));
            match decoded {
                Some(s) => Some(s),
                None => {
                    return Err(ApiError::bad(
                        "InvalidRequestContentException",
                        "Client context must be a valid Base64-encoded JSON object.",
                    ));
                }
            }
        }
        None => None,
    };
    // An alias resolves per invocation (its routing weights pick the version).
    let target = app
        .functions
        .resolve(&d.region, &d.name, q.qualifier.as_deref())
        .map_err(|e| function_error(app, ctx, e))?;
    let inv = Invocation {
        payload,
        invoked_arn: target.invoked_arn.clone(),
        client_context,
        tail: log_type == "Tail",
        ..Invocation::default()
    };
    let outcome = target.pool.invoke(inv).await.map_err(|e| match e {
        InvokeError::TooManyRequests => ApiError::new(
            "TooManyRequestsException",
            StatusCode::TOO_MANY_REQUESTS,
            "Rate Exceeded.",
        ),
    })?;
    let mut res = (
        StatusCode::OK,
        [("content-type", "application/json")],
        outcome.payload,
    )
        .into_response();
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&target.version) {
        h.insert("x-amz-executed-version", v);
    }
    if let Ok(v) = HeaderValue::from_str(&outcome.request_id) {
        h.insert("x-amzn-requestid", v);
    }
    if let Some(fe) = outcome.function_error {
        h.insert("x-amz-function-error", HeaderValue::from_static(fe));
    }
    if log_type == "Tail" {
        let b64 = base64::engine::general_purpose::STANDARD.encode(outcome.log_tail.as_bytes());
        if let Ok(v) = HeaderValue::from_str(&b64) {
            h.insert("x-amz-log-result", v);
        }
    }
    Ok(res)
}

pub(super) async fn put_concurrency(
    app: &App,
    ctx: &Ctx,
    raw: &str,
    req: &RestRequest,
) -> Result<Response, ApiError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Input {
        reserved_concurrent_executions: Option<i64>,
    }
    let d = find(app, ctx, raw, req)?;
    let input: Input = rest::parse(&req.body)?;
    let Some(n) = input.reserved_concurrent_executions else {
        return Err(ApiError::validation(
            "1 validation error detected: Value null at 'reservedConcurrentExecutions' failed \
             to satisfy constraint: Member must not be null",
        ));
    };
    if n < 0 {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value '{n}' at 'reservedConcurrentExecutions' failed \
             to satisfy constraint: Member must have value greater than or equal to 0"
        )));
    }
    app.functions
        .put_concurrency(&d.region, &d.name, n)
        .await
        .map_err(|e| function_error(app, ctx, e))?;
    rest::json(StatusCode::OK, &json!({"ReservedConcurrentExecutions": n}))
}

pub(super) async fn delete_concurrency(
    app: &App,
    ctx: &Ctx,
    raw: &str,
    req: &RestRequest,
) -> Result<Response, ApiError> {
    let d = find(app, ctx, raw, req)?;
    app.functions
        .delete_concurrency(&d.region, &d.name)
        .await
        .map_err(|e| function_error(app, ctx, e))?;
    Ok(rest::empty(StatusCode::NO_CONTENT))
}

/// `FunctionEventInvokeConfig`; its `FunctionArn` is qualified only when the request was (as
/// AWS answers).
fn event_invoke_shape(
    app: &App,
    d: &FunctionDef,
    qualifier: Option<&str>,
    c: &EventInvokeConfig,
) -> Value {
    let mut dest = json!({});
    if let Some(s) = &c.on_success {
        dest["OnSuccess"] = json!({"Destination": s});
    }
    if let Some(f) = &c.on_failure {
        dest["OnFailure"] = json!({"Destination": f});
    }
    let mut out = json!({
        "LastModified": c.last_modified_ms as f64 / 1000.0,
        "FunctionArn": match qualifier {
            Some(q) => format!("{}:{q}", d.arn(app.functions.account())),
            None => d.arn(app.functions.account()),
        },
        "DestinationConfig": dest,
    });
    if let Some(n) = c.maximum_retry_attempts {
        out["MaximumRetryAttempts"] = json!(n);
    }
    if let Some(n) = c.maximum_event_age_in_seconds {
        out["MaximumEventAgeInSeconds"] = json!(n);
    }
    out
}

pub(super) async fn event_invoke_config(
    app: &App,
    ctx: &Ctx,
    raw: &str,
    req: &RestRequest,
) -> Result<Response, ApiError> {
    #[derive(Deserialize, Default)]
    #[serde(rename_all = "PascalCase")]
    struct Dest {
        destination: Option<String>,
    }
    #[derive(Deserialize, Default)]
    #[serde(rename_all = "PascalCase")]
    struct Dests {
        on_success: Option<Dest>,
        on_failure: Option<Dest>,
    }
    #[derive(Deserialize, Default)]
    #[serde(rename_all = "PascalCase")]
    struct Input {
        maximum_retry_attempts: Option<i64>,
        maximum_event_age_in_seconds: Option<i64>,
        destination_config: Option<Dests>,
    }
    let d = find(app, ctx, raw, req)?;
    let (_, qualifier) = super::qualifier_of(raw, req)?;
    let qualifier = qualifier.as_deref();
    let arn = d.arn(app.functions.account());
    match req.method {
        Method::GET => match &d.event_invoke {
            Some(c) => rest::json(StatusCode::OK, &event_invoke_shape(app, &d, qualifier, c)),
            None => Err(ApiError::new(
                "ResourceNotFoundException",
                StatusCode::NOT_FOUND,
                format!("The function {arn} doesn't have an EventInvokeConfig"),
            )),
        },
        Method::DELETE => {
            app.functions
                .delete_event_invoke_config(&d.region, &d.name)
                .await
                .map_err(|e| function_error(app, ctx, e))?;
            Ok(rest::empty(StatusCode::NO_CONTENT))
        }
        Method::PUT | Method::POST => {
            let input: Input = rest::parse(&req.body)?;
            let mut v = Violations::new();
            v.within(
                "maximumRetryAttempts",
                input.maximum_retry_attempts,
                limits::function::ASYNC_RETRY_ATTEMPTS,
            );
            v.within(
                "maximumEventAgeInSeconds",
                input.maximum_event_age_in_seconds,
                limits::function::ASYNC_EVENT_AGE,
            );
            v.finish()?;
            let dests = input.destination_config.unwrap_or_default();
            let update = EventInvokeUpdate {
                maximum_retry_attempts: input.maximum_retry_attempts,
                maximum_event_age_in_seconds: input.maximum_event_age_in_seconds,
                on_success: dests.on_success.and_then(|x| x.destination),
                on_failure: dests.on_failure.and_then(|x| x.destination),
            };
            let merge = req.method == Method::POST;
            let (d, c) = app
                .functions
                .put_event_invoke_config(&d.region, &d.name, update, merge)
                .await
                .map_err(|e| function_error(app, ctx, e))?;
            rest::json(StatusCode::OK, &event_invoke_shape(app, &d, qualifier, &c))
        }
        _ => Err(ApiError::new(
            "UnknownOperationException",
            StatusCode::NOT_FOUND,
            "Unknown operation",
        )),
    }
}
