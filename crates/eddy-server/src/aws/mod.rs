//! The AWS endpoint: one listener for every AWS service eddy speaks.
//!
//! Requests with `X-Amz-Target` are AWS JSON 1.1 calls, dispatched on the target's prefix
//! (`AWSEvents.` is EventBridge, `AmazonSQS.` SQS, `Logs_20140328.` CloudWatch Logs). Requests
//! without it are rest-json calls ([`rest`]: Lambda, Scheduler, API Gateway v2), dispatched on
//! the SigV4 credential scope's service name or the path. The region comes from the credential
//! scope.
//! Every response carries `x-amzn-RequestId`.

pub mod apigateway;
pub mod archives;
pub mod destinations;
pub mod events;
pub mod lambda;
pub mod logs;
mod pagination;
pub mod rest;
pub mod scheduler;
pub mod sqs;

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::App;
use crate::error::ApiError;
use crate::metrics::OperationLabels;

pub use pagination::Page;

const JSON_11: &str = "application/x-amz-json-1.1";
const JSON_10: &str = "application/x-amz-json-1.0";

/// What every operation knows about its request.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub region: String,
    /// The `Host` the client used, for URLs eddy hands back (SQS queue URLs).
    pub host: String,
}

/// The region and signing service named by a SigV4 `Authorization` header's credential scope:
/// `Credential=AKID/DATE/REGION/SERVICE/aws4_request`.
pub fn credential_scope(headers: &HeaderMap) -> Option<(String, String)> {
    let auth = headers.get("authorization")?.to_str().ok()?;
    let cred = auth.split("Credential=").nth(1)?;
    let cred = cred.split([',', ' ']).next()?;
    let mut parts = cred.split('/');
    let _key = parts.next()?;
    let _date = parts.next()?;
    let region = parts.next()?;
    let service = parts.next()?;
    if region.is_empty()
        || !region
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
        || region.len() > 32
    {
        return None;
    }
    Some((region.to_owned(), service.to_owned()))
}

/// Answers every request on `/` of the AWS listener.
pub async fn dispatch(
    State(app): State<Arc<App>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let scope = credential_scope(&headers);
    let region = scope
        .as_ref()
        .map(|(r, _)| r.clone())
        .unwrap_or_else(|| app.config.default_region.clone());
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost")
        .to_owned();
    let ctx = Ctx { region, host };
    let Some(target) = headers.get("x-amz-target").and_then(|v| v.to_str().ok()) else {
        let signing = scope.as_ref().map(|(_, s)| s.as_str());
        let Some(service) = rest::RestService::of(signing, uri.path()) else {
            return error_response(&ApiError::unknown_operation(
                "Missing X-Amz-Target header: the AWS endpoint answers AWS JSON 1.1 requests",
            ));
        };
        let req = rest::RestRequest::new(method, uri.path(), uri.query(), headers, body);
        return rest_call(&app, &ctx, service, req).await;
    };
    if body.len() > app.config.max_body_bytes {
        return error_response(&ApiError::new(
            "RequestEntityTooLargeException",
            StatusCode::PAYLOAD_TOO_LARGE,
            "Request body is larger than the endpoint accepts",
        ));
    }
    let (service, operation) = target.split_once('.').unwrap_or((target, ""));
    let result = call_json(&app, &ctx, service, operation, &body).await;
    let outcome = match &result {
        Ok(_) => "ok",
        Err(e) => e.code,
    };
    let operation = if result
        .as_ref()
        .is_err_and(|e| e.code == "UnknownOperationException")
    {
        "unknown"
    } else {
        operation
    };
    app.metrics
        .requests
        .get_or_create(&OperationLabels {
            operation: operation.to_owned(),
            outcome: outcome.to_owned(),
        })
        .inc();
    let content_type = if service == "AmazonSQS" {
        JSON_10
    } else {
        JSON_11
    };
    let mut res = match result {
        Ok(body) => json_response(StatusCode::OK, body),
        Err(e) => error_response(&e),
    };
    res.headers_mut()
        .insert("content-type", HeaderValue::from_static(content_type));
    res
}

/// Runs one AWS JSON operation (`X-Amz-Target: SERVICE.OPERATION`) and returns its reply body.
/// Also how eddy calls its own API in-process (applying a manifest).
pub async fn call_json(
    app: &Arc<App>,
    ctx: &Ctx,
    service: &str,
    operation: &str,
    body: &[u8],
) -> Result<Vec<u8>, ApiError> {
    match service {
        "AWSEvents" => events::call(app, ctx, operation, body).await,
        "AmazonSQS" => sqs::call(app, ctx, operation, body).await,
        "Logs_20140328" => logs::call(app, ctx, operation, body).await,
        _ => Err(ApiError::unknown_operation(format!(
            "Unknown operation {service}.{operation}"
        ))),
    }
}

/// Runs one rest-json operation: its name (for metrics) and its response, or the error as the
/// operation raised it. Also how eddy calls its own API in process (applying a manifest).
pub(crate) async fn rest_operation(
    app: &Arc<App>,
    ctx: &Ctx,
    service: rest::RestService,
    req: rest::RestRequest,
) -> (&'static str, Result<Response, ApiError>) {
    match service {
        rest::RestService::Lambda => lambda::call(app, ctx, req).await,
        rest::RestService::Scheduler => scheduler::call(app, ctx, req).await,
        rest::RestService::ApiGateway => apigateway::call(app, ctx, req).await,
    }
}

/// Answers one rest-json request and counts it.
async fn rest_call(
    app: &Arc<App>,
    ctx: &Ctx,
    service: rest::RestService,
    req: rest::RestRequest,
) -> Response {
    let (operation, result) = rest_operation(app, ctx, service, req).await;
    let outcome = match &result {
        Ok(_) => "ok",
        Err(e) => e.code,
    };
    app.metrics
        .requests
        .get_or_create(&OperationLabels {
            operation: operation.to_owned(),
            outcome: outcome.to_owned(),
        })
        .inc();
    match result {
        Ok(res) => res,
        Err(e) => rest::error_response(&e),
    }
}

/// Adds `x-amzn-RequestId` to every response of the AWS listener.
pub async fn request_id(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    // An operation may have set its own (Invoke: the invocation's request id).
    if !res.headers().contains_key("x-amzn-requestid")
        && let Ok(v) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string())
    {
        res.headers_mut().insert("x-amzn-requestid", v);
    }
    res
}

fn json_response(status: StatusCode, body: Vec<u8>) -> Response {
    (status, [("content-type", JSON_11)], body).into_response()
}

/// The AWS JSON error shape.
pub fn error_response(e: &ApiError) -> Response {
    #[derive(Serialize)]
    struct Wire<'a> {
        __type: &'a str,
        message: &'a str,
    }
    let body = serde_json::to_vec(&Wire {
        __type: e.code,
        message: &e.message,
    })
    .unwrap_or_else(|_| b"{}".to_vec());
    let mut res = json_response(e.status, body);
    res.headers_mut()
        .insert("x-amzn-errortype", HeaderValue::from_static(e.code));
    if let Some(q) = e.query_code {
        let fault = if e.status.is_server_error() {
            "Receiver"
        } else {
            "Sender"
        };
        if let Ok(v) = HeaderValue::from_str(&format!("{q};{fault}")) {
            res.headers_mut().insert("x-amzn-query-error", v);
        }
    }
    res
}

/// Parses a JSON 1.1 request body; an empty body is `{}`.
pub fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}".as_slice()
    } else {
        body
    };
    serde_json::from_slice(body).map_err(|e| {
        let msg = match e.classify() {
            serde_json::error::Category::Data => {
                // Strip serde's " at line L column C" suffix: AWS messages name no positions.
                let s = e.to_string();
                match s.rfind(" at line ") {
                    Some(i) => s[..i].to_owned(),
                    None => s,
                }
            }
            _ => "Invalid JSON in request body".to_owned(),
        };
        ApiError::serialization(msg)
    })
}

/// Serialises a response body.
pub fn reply<T: Serialize>(value: &T) -> Result<Vec<u8>, ApiError> {
    serde_json::to_vec(value).map_err(|e| ApiError::internal(format!("cannot encode reply: {e}")))
}

/// The empty reply of operations without an output shape.
pub fn empty() -> Result<Vec<u8>, ApiError> {
    Ok(b"{}".to_vec())
}
