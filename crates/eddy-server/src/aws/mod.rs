//! The AWS endpoint: one listener for every AWS service eddy speaks.
//!
//! Requests with `X-Amz-Target` are AWS JSON 1.1 calls, dispatched on the target's prefix
//! (`AWSEvents.` is EventBridge, `AmazonSQS.` SQS, `Logs_20140328.` CloudWatch Logs). Requests
//! without it are rest-json calls ([`rest`]: Lambda, Scheduler, API Gateway v2), dispatched on
//! the SigV4 credential scope's service name or the path, or AWS query-protocol calls
//! ([`query`]: SNS, and SQS as SDKs older than botocore 1.34.90 speak it, [`sqs_query`]),
//! dispatched on the credential scope, the `Action` or (SQS) a queue URL's path. Anything else (another
//! service, S3) is answered by [`unsupported`], in the request's own protocol. The region comes
//! from the credential scope.
//! Every response carries `x-amzn-RequestId`.

pub mod apigateway;
pub mod archives;
pub mod destinations;
pub mod events;
pub mod lambda;
pub mod logs;
mod pagination;
pub mod query;
pub mod rest;
pub mod s3;
pub mod scheduler;
pub mod sns;
pub mod sqs;
pub mod sqs_query;
pub mod unsupported;

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

use eddy_net::{BodyError, BodyGuard};

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
pub async fn dispatch(State(app): State<Arc<App>>, req: Request) -> Response {
    let scope = credential_scope(req.headers());
    if s3::is_s3(
        scope.as_ref().map(|(_, s)| s.as_str()),
        req.uri(),
        req.headers(),
    ) {
        let region = scope
            .as_ref()
            .map(|(r, _)| r.clone())
            .unwrap_or_else(|| app.config.default_region.clone());
        let method = req.method().to_string();
        let res = s3::call(&app, &region, req).await;
        let outcome = if res.status().is_success() || res.status().is_redirection() {
            "ok"
        } else {
            "error"
        };
        count(&app, &format!("S3.{method}"), outcome);
        return res;
    }
    let (parts, body) = req.into_parts();
    let (method, uri, headers) = (parts.method, parts.uri, parts.headers);
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
            return query_call(&app, &ctx, signing, &method, &uri, &headers, body).await;
        };
        let limit = service.body_limit(&method, uri.path(), app.config.max_body_bytes);
        let (body, _held) = match read_body(&app, &headers, body, limit).await {
            Ok(read) => read,
            Err(e) => return rest::error_response(&service.body_error(e)),
        };
        let req = rest::RestRequest::new(method, uri.path(), uri.query(), headers, body);
        return rest_call(&app, &ctx, service, req).await;
    };
    let target = target.to_owned();
    let (body, _held) = match read_body(&app, &headers, body, app.config.max_body_bytes).await {
        Ok(read) => read,
        Err(e) => return error_response(&body_error(e)),
    };
    let (service, operation) = target.split_once('.').unwrap_or((&target, ""));
    let result = call_json(&app, &ctx, service, operation, &body).await;
    // The error's code as metrics name it, whatever the protocol (SQS's JSON errors carry the
    // shape's id, `com.amazonaws.sqs#Code`).
    let outcome = match &result {
        Ok(_) => "ok",
        Err(e) => e.code.rsplit('#').next().unwrap_or(e.code),
    };
    let operation = if result
        .as_ref()
        .is_err_and(unsupported::is_unknown_operation)
    {
        "unknown"
    } else {
        operation
    };
    count(&app, operation, outcome);
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

/// The file name of SNS's signing certificate in a path (`/SimpleNotificationService-….pem`).
fn certificate_file(path: &str) -> Option<&str> {
    let file = path.strip_prefix('/')?;
    (file.starts_with("SimpleNotificationService-")
        && file.ends_with(".pem")
        && !file.contains('/'))
    .then_some(file)
}

/// The actions a notification's links make (`SubscribeURL`, `UnsubscribeURL`).
const LINK_ACTIONS: [&str; 2] = ["ConfirmSubscription", "Unsubscribe"];

/// Whether a request is one SNS lets anyone make, credentials or not: a GET of one of the links
/// a notification carries (confirming a subscription with its secret token, unsubscribing),
/// with nothing but its query string, or of the signing certificate, which message validators
/// fetch. Such a request runs that action only ([`query_call`] reads nothing else of it).
fn sns_link(method: &axum::http::Method, uri: &axum::http::Uri, headers: &HeaderMap) -> bool {
    if method != axum::http::Method::GET {
        return false;
    }
    if certificate_file(uri.path()).is_some() {
        return true;
    }
    let bodiless = headers
        .get("content-length")
        .is_none_or(|v| v.as_bytes() == b"0")
        && !headers.contains_key("transfer-encoding");
    uri.path() == "/"
        && bodiless
        && !headers.contains_key("x-amz-target")
        && uri.query().is_some_and(|q| {
            unsupported::form_value(q, "Action").is_some_and(|a| LINK_ACTIONS.contains(&a.as_str()))
        })
}

/// Answers a request that is neither AWS JSON nor rest-json: an AWS query-protocol call of a
/// service eddy speaks it for (SNS, SQS), SNS's signing certificate, or, for anything else, what
/// [`unsupported`] says in the request's protocol.
async fn query_call(
    app: &Arc<App>,
    ctx: &Ctx,
    signing: Option<&str>,
    method: &axum::http::Method,
    uri: &axum::http::Uri,
    headers: &HeaderMap,
    body: Body,
) -> Response {
    if method == axum::http::Method::GET
        && let Some(file) = certificate_file(uri.path())
    {
        count(app, "GetSigningCertificate", "ok");
        return match app.topics.certificate(file).await {
            Some(pem) => (
                StatusCode::OK,
                [("content-type", "application/x-pem-file")],
                pem,
            )
                .into_response(),
            None => (StatusCode::NOT_FOUND, "no such certificate").into_response(),
        };
    }
    if !has_credentials(headers) {
        // Only a notification's link gets here without credentials (see `sns_link`): its
        // query string is all that is read, and its ARN names the region.
        let params = query::Params::parse(uri.query(), "");
        let Some(action) = params
            .get("Action")
            .filter(|a| LINK_ACTIONS.contains(a))
            .map(str::to_owned)
        else {
            return unsupported::query_error(&ApiError::new(
                "MissingAuthenticationToken",
                StatusCode::FORBIDDEN,
                "only a notification's links may be followed without credentials",
            ));
        };
        let arn = params
            .get("TopicArn")
            .or(params.get("SubscriptionArn"))
            .unwrap_or_default();
        let mut ctx = ctx.clone();
        if let Some(a) = eddy_model::names::Arn::parse(arn) {
            ctx.region = a.region.to_owned();
        }
        let (operation, outcome, res) = sns::call(app, &ctx, &action, &params).await;
        count(app, operation, outcome);
        return res;
    }
    let s3 = signing.is_some_and(|s| s.starts_with("s3"));
    let mut form = String::new();
    if !s3 && unsupported::form_body(headers) {
        match read_body(app, headers, body, app.config.max_body_bytes).await {
            Ok((bytes, _held)) => form = String::from_utf8_lossy(&bytes).into_owned(),
            Err(e) => {
                let e = body_error(e);
                count(app, "unknown", e.code);
                return unsupported::query_error(&e);
            }
        }
    }
    let params = query::Params::parse(uri.query(), &form);
    let action = params.get("Action").map(str::to_owned);
    let sns = match (signing, action.as_deref()) {
        (Some("sns"), Some(_)) => true,
        (None, Some(a)) => sns::ACTIONS.contains(&a),
        _ => false,
    };
    if !s3
        && sns
        && let Some(action) = &action
    {
        let (operation, outcome, res) = sns::call(app, ctx, action, &params).await;
        count(app, operation, outcome);
        return res;
    }
    if signing == Some("sns") && action.is_none() {
        let e = ApiError::bad(
            "MissingAction",
            "The request must contain the parameter Action.",
        );
        count(app, "unknown", e.code);
        return unsupported::query_error(&e);
    }
    let sqs = match (signing, action.as_deref()) {
        (Some("sqs"), Some(_)) => true,
        (None, Some(a)) => sqs_query::is_action(a) || sqs_query::is_queue_path(uri.path()),
        _ => false,
    };
    if !s3
        && sqs
        && let Some(action) = &action
    {
        let (operation, outcome, res) = sqs_query::call(app, ctx, action, uri, &params).await;
        count(app, operation, outcome);
        return res;
    }
    let (res, code) = unsupported::answer(
        &unsupported::Unserved::of(signing, headers, uri.query(), action),
        method,
        uri,
        headers,
    );
    count(app, "unknown", code);
    res
}

/// Reads a request body of at most `limit` bytes within the server's body budget; keep the
/// guard until the request is answered.
pub async fn read_body(
    app: &App,
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<(Bytes, BodyGuard), BodyError> {
    eddy_net::read_body(headers, body, limit, &app.bodies).await
}

/// How the AWS endpoint answers a body it could not read.
pub fn body_error(e: BodyError) -> ApiError {
    match e {
        BodyError::TooLarge { limit } => ApiError::new(
            "RequestEntityTooLargeException",
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("Request body is larger than the endpoint accepts ({limit} bytes)"),
        ),
        BodyError::TimedOut => ApiError::new(
            "RequestTimeoutException",
            StatusCode::REQUEST_TIMEOUT,
            "The request body did not arrive in time",
        ),
        BodyError::Failed(m) => ApiError::bad("IncompleteBody", m),
        e @ BodyError::Busy => ApiError::new(
            "ServiceUnavailable",
            StatusCode::SERVICE_UNAVAILABLE,
            e.to_string(),
        ),
    }
}

/// A request body read within the server's limit for requests without a more specific one
/// (`max_body_bytes`) and its body budget, for eddy's own endpoints. Refusals have the AWS error
/// shape.
pub struct LimitedBody {
    pub bytes: Bytes,
    _held: BodyGuard,
}

impl FromRequest<Arc<App>> for LimitedBody {
    type Rejection = Response;

    async fn from_request(req: Request, app: &Arc<App>) -> Result<Self, Response> {
        let (parts, body) = req.into_parts();
        read_body(app, &parts.headers, body, app.config.max_body_bytes)
            .await
            .map(|(bytes, _held)| Self { bytes, _held })
            .map_err(|e| error_response(&body_error(e)))
    }
}

/// Whether a request carries AWS credentials: an `Authorization` header of an AWS signature
/// scheme (`AWS4-HMAC-SHA256 …`, SigV4a, SigV2's `AWS …`). A web page cannot make a browser send
/// one to another origin without a CORS preflight, which eddy grants only to origins the
/// operator allowed.
///
/// A presigned query string (`X-Amz-Signature=…`) is not enough: it is part of a URL, which any
/// page can make a browser request, and until signatures are verified a made-up one cannot be
/// told from a real one. None of the services eddy serves is called with presigned URLs by the
/// SDKs; S3, which is, will verify them under its buckets' CORS rules.
pub fn has_credentials(headers: &HeaderMap) -> bool {
    headers
        .get("authorization")
        .is_some_and(|v| v.as_bytes().starts_with(b"AWS"))
}

/// Whether a request carries credentials in its query string (a presigned URL: SigV4, or S3's
/// SigV2 form that boto3 still makes by default).
pub fn presigned(uri: &axum::http::Uri) -> bool {
    uri.query().is_some_and(|q| {
        (q.contains("X-Amz-Signature=") && q.contains("X-Amz-Credential="))
            || s3::presigned_v2(q).is_some()
    })
}

/// eddy's endpoints on the AWS listener that need no credentials: health and metrics (for
/// probes and scrapers), and the dev-mode reset and clock that moto-style test suites call with
/// plain HTTP. The browser boundary still guards them.
const OPEN_PATHS: &[&str] = &[
    "/_eddy/health",
    "/metrics",
    "/_eddy/reset",
    "/moto-api/reset",
    "/_eddy/clock",
];

/// Middleware: AWS requests (and eddy's `/_eddy/*` endpoints that act on state) must carry
/// credentials (see [`has_credentials`]).
pub async fn require_credentials(req: Request, next: Next) -> Response {
    if OPEN_PATHS.contains(&req.uri().path())
        || has_credentials(req.headers())
        || presigned(req.uri())
        || sns_link(req.method(), req.uri(), req.headers())
    {
        return next.run(req).await;
    }
    let service = credential_scope(req.headers())
        .map(|(_, s)| s)
        .or_else(|| rest::RestService::of(None, req.uri().path()).map(|s| s.name().to_owned()))
        .unwrap_or_else(|| "events".to_owned());
    let mut res = error_response(&ApiError::new(
        "MissingAuthenticationTokenException",
        StatusCode::FORBIDDEN,
        format!(
            "Missing Authentication Token: eddy answers AWS requests only when they carry an \
             AWS `Authorization` header (as the AWS SDKs and the aws CLI send), so that no web \
             page can send them; with curl, add `--user test:test --aws-sigv4 \
             aws:amz:us-east-1:{service}`"
        ),
    ));
    if let Ok(v) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
        res.headers_mut().insert("x-amzn-requestid", v);
    }
    res
}

/// How the AWS listener words a request refused at the browser boundary.
pub fn refuse_at_boundary(refusal: &eddy_net::Refusal) -> Response {
    error_response(&ApiError::new(
        "AccessDeniedException",
        StatusCode::FORBIDDEN,
        refusal.to_string(),
    ))
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
    let (name, result) = match service {
        "AWSEvents" => ("EventBridge", events::call(app, ctx, operation, body).await),
        "AmazonSQS" => ("SQS", sqs::call(app, ctx, operation, body).await),
        "Logs_20140328" => (
            "CloudWatch Logs",
            logs::call(app, ctx, operation, body).await,
        ),
        _ => return Err(unsupported::unknown_target(service, operation)),
    };
    result.map_err(|mut e| {
        if unsupported::is_unknown_operation(&e) {
            e.message = unsupported::operation_message(name, &format!("{service}.{operation}"));
        }
        e
    })
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
    let asked = format!("{} /{}", req.method, req.segments.join("/"));
    let (operation, result) = rest_operation(app, ctx, service, req).await;
    let outcome = match &result {
        Ok(_) => "ok",
        Err(e) => e.code,
    };
    count(app, operation, outcome);
    match result {
        Ok(res) => res,
        Err(mut e) => {
            if operation == "unknown" {
                e.message = unsupported::operation_message(service.display_name(), &asked);
            }
            rest::error_response(&e)
        }
    }
}

/// Counts one request of the AWS endpoint in the request metrics: `operation` is a name from a
/// service's dispatch table, or `unknown`, never what a client sent.
fn count(app: &App, operation: &str, outcome: &str) {
    app.metrics
        .requests
        .get_or_create(&OperationLabels {
            operation: operation.to_owned(),
            outcome: outcome.to_owned(),
        })
        .inc();
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
