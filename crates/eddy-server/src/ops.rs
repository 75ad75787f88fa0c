//! Operations endpoints on the AWS listener: health (which reports a full store), Prometheus
//! metrics, the dev-mode reset that test suites (including moto-style ones) call between tests,
//! and the dev-mode clock.
//!
//! `GET /_eddy/clock` answers `{"now": RFC 3339, "offset_ms": N}`. `POST /_eddy/clock` (only with
//! `--dev`) takes `{"advance_seconds": N}` or `{"set": "2027-01-01T00:00:00Z"}`, moves eddy's
//! clock forward (never backwards: 400), and answers `{"now": …}` once every schedule tick due up
//! to the new time has fired, in order, and its events are durable. A move that would fire more
//! than [`crate::scheduler::MAX_TICKS_PER_MOVE`] ticks is refused with a 400 naming the schedules
//! that fire most, and the clock stays put. Retries and queue visibility timeouts follow the
//! moved clock too.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::App;
use crate::error::ApiError;

pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/_eddy/health", get(health))
        .route("/metrics", get(metrics))
        .route("/_eddy/reset", post(reset))
        .route("/moto-api/reset", post(reset))
        .route("/_eddy/apply", post(apply))
        .route("/_eddy/tail", get(crate::admin::tail))
        .route("/_eddy/redrive", post(crate::admin::redrive))
        .route("/_eddy/status", get(crate::admin::status))
        .route("/_eddy/clock", get(clock_get).post(clock_post))
        .method_not_allowed_fallback(method_not_allowed)
}

/// A method an endpoint does not take: 405 with a `message`, like every other refusal of
/// eddy's own endpoints (axum's default has no body).
async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> Response {
    json(
        StatusCode::METHOD_NOT_ALLOWED,
        serde_json::json!({
            "message": format!("`{}` does not take `{method}`", uri.path())
        }),
    )
}

/// `POST /_eddy/apply`: applies an app manifest's resources (what `eddy apply` sends):
/// `{"Region": R, "Resources": {...}, "DryRun": bool, "Adopt": bool}` →
/// `{"Changes": [...], "Warnings": [functions that cannot start yet, with the fix]}`,
/// or on failure `{"message", "code", "Changes": [steps done]}` with the failed step's status
/// (409 for resources that exist but no manifest made, without `Adopt`).
async fn apply(State(app): State<Arc<App>>, body: crate::aws::LimitedBody) -> Response {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Input {
        region: Option<String>,
        resources: eddy_manifest::Resources,
        #[serde(default)]
        dry_run: bool,
        #[serde(default)]
        adopt: bool,
    }
    let json = |status: StatusCode, v: serde_json::Value| {
        (
            status,
            [("content-type", "application/json")],
            v.to_string(),
        )
            .into_response()
    };
    let input: Input = match serde_json::from_slice(&body.bytes) {
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
    let options = crate::apply::ApplyOptions {
        dry_run: input.dry_run,
        adopt: input.adopt,
    };
    match crate::apply::apply(&app, &region, &input.resources, options).await {
        Ok(applied) => json(
            StatusCode::OK,
            serde_json::json!({"Changes": applied.changes, "Warnings": applied.warnings}),
        ),
        Err(e) => json(
            crate::apply::status(&e),
            serde_json::json!({"message": e.to_string(), "code": e.code, "Changes": e.done}),
        ),
    }
}

fn json(status: StatusCode, body: serde_json::Value) -> Response {
    (
        status,
        [("content-type", "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn clock_now(app: &App) -> serde_json::Value {
    serde_json::json!({
        "now": crate::clock::fmt_ms(app.clock.now_ms()),
        "offset_ms": app.clock.offset_ms(),
    })
}

async fn clock_get(State(app): State<Arc<App>>) -> Response {
    json(StatusCode::OK, clock_now(&app))
}

/// Where `POST /_eddy/clock` moves the clock.
#[derive(Clone, Copy)]
enum Target {
    Advance(i64),
    At(i64),
}

async fn clock_post(State(app): State<Arc<App>>, body: crate::aws::LimitedBody) -> Response {
    let bad = |m: String| json(StatusCode::BAD_REQUEST, serde_json::json!({ "message": m }));
    if !app.config.dev {
        return json(
            StatusCode::FORBIDDEN,
            serde_json::json!({"message": "the clock can only be moved when eddy runs with --dev"}),
        );
    }
    let v: serde_json::Value = match serde_json::from_slice(&body.bytes) {
        Ok(v) => v,
        Err(e) => return bad(format!("the body is not JSON: {e}")),
    };
    // Changes committed before this call take effect at the time they were made, not at the
    // new time: let the scheduler see them first.
    let _recorded_before = app.scheduler.sync().await;
    let target = match (v.get("advance_seconds"), v.get("set")) {
        (Some(a), None) => match a.as_f64().filter(|s| s.is_finite()) {
            Some(s) if (0.0..=1e12).contains(&s) => Target::Advance((s * 1000.0).round() as i64),
            Some(_) if a.as_f64().is_some_and(|s| s < 0.0) => {
                return bad(
                    "`advance_seconds` must not be negative: the clock never moves backwards"
                        .into(),
                );
            }
            _ => return bad("`advance_seconds` must be a number of seconds".into()),
        },
        (None, Some(t)) => {
            let Some(ms) = t.as_str().and_then(crate::clock::parse_rfc3339) else {
                return bad(
                    "`set` must be an RFC 3339 time with an offset, like `2027-01-01T00:00:00Z`"
                        .into(),
                );
            };
            Target::At(ms)
        }
        _ => {
            return bad(
                "give exactly one of `advance_seconds` (a number) or `set` (an RFC 3339 time)"
                    .into(),
            );
        }
    };
    let to_ms = match target {
        Target::Advance(ms) => app.clock.now_ms().saturating_add(ms),
        Target::At(ms) => ms,
    };
    if let Err(refused) = app.scheduler.check_move(to_ms).await {
        return bad(refused.to_string());
    }
    let moved = match target {
        Target::Advance(ms) => app.clock.advance(ms),
        Target::At(ms) => app.clock.set(ms),
    };
    if let Err(e) = moved {
        return bad(e.to_string());
    }
    if !app.scheduler.sync().await {
        return json(
            StatusCode::SERVICE_UNAVAILABLE,
            serde_json::json!({
                "message": "the clock moved, but the store could not record every tick it fired; \
                            they fire again once the store takes writes",
                "now": crate::clock::fmt_ms(app.clock.now_ms()),
            }),
        );
    }
    json(StatusCode::OK, clock_now(&app))
}

/// `GET /_eddy/health`: 200 `{"status":"ok"}` while eddy can serve, 503
/// `{"status":"unavailable","store":"full","message":…}` while the store is full (it turns ok
/// again by itself when space returns). Conditions that deserve the operator's attention without
/// making eddy unavailable are listed in `"warnings"` (absent when there are none): an
/// unauthenticated AWS endpoint reachable from other machines.
async fn health(State(app): State<Arc<App>>) -> Response {
    let warnings: Vec<&str> = app.config.exposed.iter().map(String::as_str).collect();
    let (status, mut body) = match app.store_health() {
        eddy_store::StoreHealth::Ok => (StatusCode::OK, serde_json::json!({"status": "ok"})),
        eddy_store::StoreHealth::Full { message } => (
            StatusCode::SERVICE_UNAVAILABLE,
            serde_json::json!({"status": "unavailable", "store": "full", "message": message}),
        ),
    };
    if !warnings.is_empty() {
        body["warnings"] = serde_json::json!(warnings);
    }
    // Nodes sharing a store: the cluster as this node sees it, read from the store (so a node
    // that cannot reach it says so).
    if matches!(app.config.store, Some(eddy_store::StoreUri::Postgres(_))) {
        body["node"] = serde_json::json!(app.config.node);
        match app.cluster().await {
            Ok(view) => {
                let nodes: Vec<serde_json::Value> = view
                    .nodes
                    .iter()
                    .map(|n| {
                        serde_json::json!({
                            "name": n.name,
                            "address": n.address,
                            "version": n.version,
                            "started": eddy_model::event::format_time(n.started_ms),
                            "seen_seconds_ago": n.seen_ago_ms as f64 / 1000.0,
                            "live": n.live,
                        })
                    })
                    .collect();
                body["cluster"] = serde_json::json!({
                    "fires_schedules": view.fires_schedules,
                    "nodes": nodes,
                });
            }
            Err(e) => {
                tracing::warn!(error = %e, "health: cannot read the node registry");
                return json(
                    StatusCode::SERVICE_UNAVAILABLE,
                    serde_json::json!({"status": "unavailable", "node": app.config.node,
                        "store": "unreachable", "message": "the store cannot be reached"}),
                );
            }
        }
    }
    json(status, body)
}

async fn metrics(State(app): State<Arc<App>>) -> Response {
    if app.metrics.store_gauges_stale()
        && let Ok(c) = app.store_counts().await
    {
        app.metrics.store_work_items.set(c.work_items as i64);
        app.metrics.store_events.set(c.events as i64);
        app.metrics.store_bytes.set(c.bytes as i64);
        let age_ms = c
            .oldest_event_ms
            .map_or(0, |t| app.clock.now_ms().saturating_sub(t).max(0));
        app.metrics.event_log_oldest_age_seconds.set(age_ms / 1000);
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
    // The caches empty themselves as they follow the store's feed.
    if let Err(e) = app.reset().await {
        return crate::aws::error_response(&ApiError::from(e));
    }
    ([("content-type", "application/json")], r#"{"status":"ok"}"#).into_response()
}
