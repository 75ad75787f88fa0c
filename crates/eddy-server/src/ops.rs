//! Operations endpoints on the AWS listener: health, Prometheus metrics, and the dev-mode reset
//! that test suites (including moto-style ones) call between tests.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::error::ApiError;
use crate::{App, now_ms};

pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/_eddy/health", get(health))
        .route("/metrics", get(metrics))
        .route("/_eddy/reset", post(reset))
        .route("/moto-api/reset", post(reset))
}

async fn health() -> Response {
    ([("content-type", "application/json")], r#"{"status":"ok"}"#).into_response()
}

async fn metrics(State(app): State<Arc<App>>) -> Response {
    if let Ok(c) = app.store.counts().await {
        app.metrics.store_work_items.set(c.work_items as i64);
        app.metrics.store_events.set(c.events as i64);
    }
    (
        [(
            "content-type",
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        app.metrics.render(),
    )
        .into_response()
}

async fn reset(State(app): State<Arc<App>>) -> Response {
    if !app.config.dev {
        return (
            StatusCode::FORBIDDEN,
            [("content-type", "application/json")],
            r#"{"message":"reset is only available when eddy runs with --dev"}"#,
        )
            .into_response();
    }
    if let Err(e) = app.store.reset().await {
        return crate::aws::error_response(&ApiError::from(e));
    }
    app.catalog.clear(now_ms()).await;
    app.queues.clear();
    app.archives.clear();
    app.destinations.clear();
    app.log_groups.clear();
    app.functions.clear();
    app.routes.clear();
    ([("content-type", "application/json")], r#"{"status":"ok"}"#).into_response()
}

/// Gives axum's "body too large" rejection (plain text, 413) the AWS error shape; 413 answers
/// an operation already shaped (Lambda's `RequestTooLargeException`) pass unchanged.
pub async fn body_limit_shape(res: Response) -> Response {
    if res.status() == StatusCode::PAYLOAD_TOO_LARGE
        && !res.headers().contains_key("x-amzn-errortype")
    {
        return crate::aws::error_response(&ApiError::new(
            "RequestEntityTooLargeException",
            StatusCode::PAYLOAD_TOO_LARGE,
            "Request body is larger than the endpoint accepts",
        ));
    }
    res
}
