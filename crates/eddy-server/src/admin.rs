//! eddy's own endpoints for its CLI, beyond the AWS APIs (on the AWS listener):
//!
//! * `GET /_eddy/tail?bus=NAME[&region=R]`: a live stream (newline-delimited JSON, one line per
//!   committed event: `{"bus", "rules": [matched rule ARNs], "event": {...}}`) for
//!   `eddy events tail`;
//! * `POST /_eddy/redrive` `{"Queue": NAME}`: moves a dead-letter queue's messages back where
//!   they came from (`eddy dlq redrive`): an event dead-lettered by a rule target goes back to
//!   that target as a new delivery; a message moved there by a queue's redrive policy goes back
//!   to its source queue. Each message is deleted only after it was put back (at least once).

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::App;

fn json_response(status: StatusCode, v: Value) -> Response {
    (
        status,
        [("content-type", "application/json")],
        v.to_string(),
    )
        .into_response()
}

pub async fn tail(
    State(app): State<Arc<App>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let bus = q
        .get("bus")
        .cloned()
        .unwrap_or_else(|| "default".to_owned());
    let region = q
        .get("region")
        .cloned()
        .unwrap_or_else(|| app.config.default_region.clone());
    if app.catalog.snapshot(&region, &bus).is_none() {
        return json_response(
            StatusCode::NOT_FOUND,
            json!({"message": format!("Event bus {bus} does not exist.")}),
        );
    }
    let rx = app.bus.subscribe();
    let stream = futures_util::stream::unfold(rx, move |mut rx| {
        let (bus, region) = (bus.clone(), region.clone());
        async move {
            loop {
                match rx.recv().await {
                    Ok(t) if t.bus == bus && t.region == region => {
                        let event: Value =
                            serde_json::from_str(&t.body).unwrap_or(Value::String(t.body.clone()));
                        let line = format!(
                            "{}\n",
                            json!({"bus": t.bus, "rules": t.rules, "event": event})
                        );
                        return Some((Ok::<_, std::convert::Infallible>(line), rx));
                    }
                    Ok(_) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        let line = format!("{}\n", json!({"lagged": n}));
                        return Some((Ok(line), rx));
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
                }
            }
        }
    });
    (
        [("content-type", "application/x-ndjson")],
        Body::from_stream(stream),
    )
        .into_response()
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RedriveInput {
    queue: String,
    region: Option<String>,
}

pub async fn redrive(State(app): State<Arc<App>>, body: crate::aws::LimitedBody) -> Response {
    let input: RedriveInput = match serde_json::from_slice(&body.bytes) {
        Ok(i) => i,
        Err(e) => {
            return json_response(
                StatusCode::BAD_REQUEST,
                json!({"message": format!("expected {{\"Queue\": NAME}}: {e}")}),
            );
        }
    };
    let region = input
        .region
        .unwrap_or_else(|| app.config.default_region.clone());
    match app.redrive_dead_letters(&region, &input.queue).await {
        Ok(r) => json_response(
            StatusCode::OK,
            json!({
                "RedrivenToTargets": r.to_targets,
                "RedrivenToQueue": r.to_queue,
                "Skipped": r.skipped,
            }),
        ),
        Err(e) => {
            let e = crate::error::ApiError::from(e);
            let status = if e.status.is_server_error() {
                StatusCode::INTERNAL_SERVER_ERROR
            } else {
                StatusCode::BAD_REQUEST
            };
            json_response(status, json!({"message": e.message, "code": e.code}))
        }
    }
}
