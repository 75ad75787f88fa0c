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
        .route("/_eddy/apply", post(apply))
        .route("/_eddy/tail", get(crate::admin::tail))
        .route("/_eddy/redrive", post(crate::admin::redrive))
}

/// `POST /_eddy/apply`: applies an app manifest's resources (what `eddy apply` sends):
/// `{"Region": R, "Resources": {...}, "DryRun": bool}` → `{"Changes": [...]}`, or on failure
/// `{"message", "code", "Changes": [steps done]}` with 400.
async fn apply(State(app): State<Arc<App>>, body: axum::body::Bytes) -> Response {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Input {
        region: Option<String>,
        resources: eddy_manifest::Resources,
        #[serde(default)]
        dry_run: bool,
    }
    let json = |status: StatusCode, v: serde_json::Value| {
        (
            status,
            [("content-type", "application/json")],
            v.to_string(),
        )
            .into_response()
    };
    let input: Input = match serde_json::from_slice(&body) {
        Ok(i) => i,
        Err(e) => {
            return json(
                StatusCode::BAD_REQUEST,
                serde_json::json!({"message": format!("not an apply request: {e}")}),
            );
        }
    };
    let region = input
        .region
        .unwrap_or_else(|| app.config.default_region.clone());
    match crate::apply::apply(&app, &region, &input.resources, input.dry_run).await {
        Ok(changes) => json(StatusCode::OK, serde_json::json!({"Changes": changes})),
        Err(e) => json(
            crate::apply::status(&e),
            serde_json::json!({"message": e.to_string(), "code": e.code, "Changes": e.done}),
        ),
    }
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
