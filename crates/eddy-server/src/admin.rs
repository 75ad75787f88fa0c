//! eddy's own endpoints for its CLI, beyond the AWS APIs (on the AWS listener):
//!
//! * `GET /_eddy/tail?bus=NAME[&region=R]`: a live stream (newline-delimited JSON, one line per
//!   committed event: `{"bus", "rules": [matched rule ARNs], "event": {...}}`) for
//!   `eddy events tail`;
//! * `POST /_eddy/redrive` `{"Queue": NAME}`: moves a dead-letter queue's messages back where
//!   they came from (`eddy dlq redrive`): an event dead-lettered by a rule target goes back to
//!   that target as a new delivery; a message moved there by a queue's redrive policy goes back
//!   to its source queue. Each message is deleted only after it was put back (at least once).
//! * `GET /_eddy/status[?region=R]`: what this eddy runs (buses, rules, queues with depth,
//!   functions with instances, topics with subscriptions, buckets with their notifications,
//!   event source mappings, schedules with their next tick, APIs) for `eddy status`.

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

/// The `region` query parameter, else the server's default region.
fn region(app: &App, q: &HashMap<String, String>) -> String {
    q.get("region")
        .cloned()
        .unwrap_or_else(|| app.config.default_region.clone())
}

pub async fn tail(
    State(app): State<Arc<App>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let bus = q
        .get("bus")
        .cloned()
        .unwrap_or_else(|| "default".to_owned());
    let region = region(&app, &q);
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

/// `GET /_eddy/status[?region=R]`: what this eddy runs, for `eddy status`, `eddy queue list`
/// and `eddy functions list`: buses with their rules, queues with their depth, functions with
/// their instances and whether they can start, schedules with their next tick, HTTP APIs with
/// their routes. Read from this node's caches and, for queue depths, the store.
pub async fn status(
    State(app): State<Arc<App>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let region = region(&app, &q);
    let now = app.clock.now_ms();
    let time = |ms: Option<i64>| ms.map(eddy_model::event::format_time);

    let (buses, rules) = app
        .catalog
        .read(|d| {
            let (mut buses, mut rules) = (Vec::new(), Vec::new());
            for b in d.buses_in(&region) {
                let before = rules.len();
                rules.extend(d.rules_of(&region, &b.name).cloned());
                buses.push(json!({"name": b.name, "rules": rules.len() - before}));
            }
            (buses, rules)
        })
        .await;
    let rules: Vec<Value> = rules
        .iter()
        .map(|r| {
            json!({
                "bus": r.bus,
                "name": r.name,
                "state": r.state.as_str(),
                "targets": r.targets.len(),
                "event_pattern": r.event_pattern,
                "schedule": r.schedule_expression,
                "next_tick": time(crate::scheduler::next_rule_tick(&app, r, now)),
            })
        })
        .collect();

    let mut queues = Vec::new();
    for def in app.queues.list(&region) {
        let mut q = json!({
            "name": def.name,
            "fifo": def.fifo(),
            "dead_letter_queue": def.redrive().map(|(target, _)| target),
        });
        match app.queues.stats(&def).await {
            Ok(s) => {
                q["visible"] = json!(s.visible);
                q["in_flight"] = json!(s.in_flight);
                q["delayed"] = json!(s.delayed);
            }
            Err(e) => q["error"] = json!(e.to_string()),
        }
        queues.push(q);
    }

    let functions: Vec<Value> = app
        .functions
        .list(&region)
        .iter()
        .map(|f| {
            let pool = app.functions.pool(&region, &f.name);
            let (state, reason) = match app.functions.readiness(&region, &f.name) {
                Some(eddy_runtime::Readiness::NotReady(why)) => ("cannot start", Some(why)),
                Some(eddy_runtime::Readiness::Ready(note)) => ("ready", note),
                None => ("not checked", None),
            };
            json!({
                "name": f.name,
                "runtime": f.runtime,
                "handler": f.handler,
                "warm_instances": pool.as_ref().map_or(0, |p| p.idle_count()),
                "running_invocations": pool.as_ref().map_or(0, |p| p.in_flight()),
                "state": state,
                "reason": reason,
            })
        })
        .collect();

    let topics: Vec<Value> = app
        .topics
        .list(&region)
        .iter()
        .map(|t| {
            let subs = app.topics.subscriptions(&region, Some(&t.name));
            json!({
                "name": t.name,
                "fifo": t.fifo(),
                "subscriptions": subs.iter().map(|s| json!({
                    "protocol": s.protocol,
                    "endpoint": s.endpoint,
                    "pending": !s.confirmed,
                    "raw": s.raw(),
                    "filter": s.attributes.get("FilterPolicy"),
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    // Bucket names are global; those created in this region.
    let buckets: Vec<Value> = app
        .buckets
        .list()
        .iter()
        .filter(|b| b.region == region)
        .map(|b| {
            use eddy_core::buckets::DestinationKind;
            json!({
                "name": b.name,
                "region": b.region,
                "versioning": b.versioning.map(|on| if on { "Enabled" } else { "Suspended" }),
                "eventbridge": b.notification.eventbridge,
                "notifications": b.notification.destinations.iter().map(|d| json!({
                    "id": d.id,
                    "kind": match d.kind {
                        DestinationKind::Queue => "queue",
                        DestinationKind::Topic => "topic",
                        DestinationKind::Function => "function",
                    },
                    "arn": d.arn,
                    "events": d.events,
                    "prefix": d.prefix,
                    "suffix": d.suffix,
                })).collect::<Vec<_>>(),
                "cors_rules": b.cors.as_ref().map_or(0, Vec::len),
            })
        })
        .collect();
    let sources: Vec<Value> = app
        .sources
        .list(&region, None, None)
        .iter()
        .map(|m| {
            json!({
                "uuid": m.uuid,
                "function": m.function_name,
                "queue": m.event_source_arn.rsplit(':').next().unwrap_or(&m.event_source_arn),
                "batch_size": m.batch_size,
                "state": m.state.as_str(),
            })
        })
        .collect();

    let (defs, _more) = app.schedules.list(&region, None, |_| true, usize::MAX);
    let schedules: Vec<Value> = defs
        .iter()
        .map(|d| {
            json!({
                "group": d.group,
                "name": d.name,
                "expression": d.schedule_expression,
                "timezone": d.schedule_expression_timezone,
                "state": d.state,
                "next_tick": time(crate::scheduler::next_schedule_tick(&app, d, now)),
            })
        })
        .collect();

    let apis: Vec<Value> = app
        .routes
        .list(&region)
        .iter()
        .map(|a| {
            json!({
                "id": a.api_id,
                "name": a.name,
                "base_path": a.base_path,
                "routes": a.routes.iter().map(|r| r.route_key.clone()).collect::<Vec<_>>(),
            })
        })
        .collect();

    json_response(
        StatusCode::OK,
        json!({
            "region": region,
            "node": app.config.node,
            "now": eddy_model::event::format_time(now),
            "aws_endpoint": app.config.aws_endpoint,
            "http_endpoint": app.config.http_endpoint,
            "buses": buses,
            "rules": rules,
            "queues": queues,
            "functions": functions,
            "topics": topics,
            "buckets": buckets,
            "event_source_mappings": sources,
            "schedules": schedules,
            "apis": apis,
        }),
    )
}
