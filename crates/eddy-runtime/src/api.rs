//! The Lambda Runtime API (version 2018-06-01) one instance's process talks to, on its own
//! loopback port (`AWS_LAMBDA_RUNTIME_API`): `GET …/invocation/next` long-polls for the
//! invocation the pool assigned to this instance; `…/{id}/response` and `…/{id}/error` answer
//! it; `…/init/error` reports a failed start.
//!
//! The port is behind the browser boundary (`eddy_net::boundary`): a web page cannot read an
//! invocation's payload from `next` through DNS rebinding, nor post a response, and only a
//! few connections at a time are served (a runtime needs one per invocation it runs at once).
//!
//! Status codes: `202` with `{"status":"OK"}` when accepted; `400` with `InvalidRequestID` for an
//! id that is not the running invocation (unknown, or already answered); `413` for a response
//! over 6 MB (the invocation then fails with `Function.ResponseSizeTooLarge`).

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::instance::{Reply, Shared};
use crate::logs;

/// The largest response or error body a function may return.
pub const MAX_RESPONSE_BYTES: usize = 6 * 1024 * 1024;

/// The connection limits of one instance's Runtime API port.
pub(crate) fn limits() -> eddy_net::Limits {
    eddy_net::Limits {
        max_connections: 64,
        ..eddy_net::Limits::default()
    }
}

/// How the Runtime API words a request refused at the browser boundary.
fn refuse(refusal: &eddy_net::Refusal) -> Response {
    let body = serde_json::json!({"errorMessage": refusal.to_string(), "errorType": "Forbidden"});
    (
        StatusCode::FORBIDDEN,
        [("content-type", "application/json")],
        body.to_string(),
    )
        .into_response()
}

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let guard = eddy_net::Guard::new(Arc::new(eddy_net::Boundary::default()), refuse);
    Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route(
            "/2018-06-01/runtime/invocation/{id}/response",
            post(response),
        )
        .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
        .route("/2018-06-01/runtime/init/error", post(init_error))
        .layer(DefaultBodyLimit::disable())
        .with_state(shared)
        .layer(axum::middleware::from_fn_with_state(
            guard,
            eddy_net::enforce,
        ))
}

fn status(code: StatusCode, body: &'static str) -> Response {
    (code, [("content-type", "application/json")], body).into_response()
}

fn accepted() -> Response {
    status(StatusCode::ACCEPTED, r#"{"status":"OK"}"#)
}

fn invalid_id() -> Response {
    status(
        StatusCode::BAD_REQUEST,
        r#"{"errorMessage":"Invalid request ID","errorType":"InvalidRequestID"}"#,
    )
}

async fn next(State(shared): State<Arc<Shared>>) -> Response {
    let pending = {
        let mut rx = shared.next_rx.lock().await;
        rx.recv().await
    };
    let Some(p) = pending else {
        // The pool dropped this instance: the process is about to be killed.
        return status(
            StatusCode::INTERNAL_SERVER_ERROR,
            r#"{"errorMessage":"instance is shutting down","errorType":"Runtime.Shutdown"}"#,
        );
    };
    let now = Instant::now();
    shared.mark_ready(now);
    let deadline_ms = crate::epoch_ms() + p.timeout.as_millis() as i64;
    if shared.spec.instance_concurrency <= 1 {
        // One invocation at a time: its tail starts here. With several at once the tail is
        // the instance's latest output, whichever invocation wrote it.
        let mut tail = shared.tail.lock().unwrap_or_else(|e| e.into_inner());
        tail.clear();
    }
    shared.log(&logs::start_line(&p.id, &shared.spec.version));
    if let Some(picked) = p.picked {
        let _gone = picked.send(now).is_err();
    }
    let mut headers = HeaderMap::new();
    let mut put = |name: &'static str, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            headers.insert(name, v);
        }
    };
    put("lambda-runtime-aws-request-id", &p.id);
    put("lambda-runtime-deadline-ms", &deadline_ms.to_string());
    put("lambda-runtime-invoked-function-arn", &p.invoked_arn);
    put("lambda-runtime-trace-id", &p.trace_id);
    if let Some(cc) = &p.client_context {
        put("lambda-runtime-client-context", cc);
    }
    if let Some(ci) = &p.cognito_identity {
        put("lambda-runtime-cognito-identity", ci);
    }
    put("content-type", "application/json");
    (StatusCode::OK, headers, p.payload).into_response()
}

/// Reads a body of at most [`MAX_RESPONSE_BYTES`]; `None` when it is larger.
async fn limited(body: Body) -> Option<Bytes> {
    axum::body::to_bytes(body, MAX_RESPONSE_BYTES).await.ok()
}

async fn response(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    body: Body,
) -> Response {
    if !shared.is_running(&id) {
        return invalid_id();
    }
    match limited(body).await {
        Some(bytes) => {
            if shared.finish(&id, Reply::Response(bytes)) {
                accepted()
            } else {
                invalid_id()
            }
        }
        None => {
            let message = format!(
                "Response payload size exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes)."
            );
            let _gone = shared.finish(
                &id,
                Reply::failed("Function.ResponseSizeTooLarge", message, false),
            );
            status(
                StatusCode::PAYLOAD_TOO_LARGE,
                r#"{"errorMessage":"Payload too large","errorType":"RequestEntityTooLarge"}"#,
            )
        }
    }
}

async fn error(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if !shared.is_running(&id) {
        return invalid_id();
    }
    let payload = error_body(&headers, body, None).await;
    if shared.finish(&id, Reply::Error(payload)) {
        accepted()
    } else {
        invalid_id()
    }
}

async fn init_error(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Body) -> Response {
    let payload = error_body(&headers, body, Some("Runtime.InitError")).await;
    shared.set_init_error(payload);
    accepted()
}

/// An `/error` or `/init/error` post as the caller sees it: the body (bounded) with the
/// `Lambda-Runtime-Function-Error-Type` header, or `default_kind` without one.
async fn error_body(headers: &HeaderMap, body: Body, default_kind: Option<&str>) -> Bytes {
    let kind = headers
        .get("lambda-runtime-function-error-type")
        .and_then(|v| v.to_str().ok())
        .or(default_kind);
    let payload = limited(body)
        .await
        .unwrap_or_else(|| Bytes::from_static(br#"{"errorMessage":"error payload too large"}"#));
    error_payload(payload, kind)
}

/// The error body the caller sees: the runtime's JSON when it is an object, else one made from
/// the error-type header and the raw text.
fn error_payload(body: Bytes, kind: Option<&str>) -> Bytes {
    if let Ok(serde_json::Value::Object(_)) = serde_json::from_slice::<serde_json::Value>(&body) {
        return body;
    }
    let text = String::from_utf8_lossy(&body).into_owned();
    let value = serde_json::json!({
        "errorMessage": text,
        "errorType": kind.unwrap_or("Runtime.Unknown"),
    });
    Bytes::from(value.to_string())
}
