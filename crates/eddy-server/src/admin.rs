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
use eddy_store::{AppendBatch, NewEvent};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::App;
use crate::aws::{self, Ctx};

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
    match redrive_queue(&app, &region, &input.queue).await {
        Ok(v) => json_response(StatusCode::OK, v),
        Err(e) => json_response(
            if e.status.is_server_error() {
                StatusCode::INTERNAL_SERVER_ERROR
            } else {
                StatusCode::BAD_REQUEST
            },
            json!({"message": e.message, "code": e.code}),
        ),
    }
}

async fn redrive_queue(
    app: &Arc<App>,
    region: &str,
    queue: &str,
) -> Result<Value, crate::error::ApiError> {
    let ctx = Ctx {
        region: region.to_owned(),
        host: "localhost".to_owned(),
    };
    let call = |op: &'static str, body: Value| {
        let ctx = ctx.clone();
        async move {
            let r = aws::call_json(app, &ctx, "AmazonSQS", op, body.to_string().as_bytes()).await?;
            Ok::<Value, crate::error::ApiError>(serde_json::from_slice(&r).unwrap_or(Value::Null))
        }
    };
    let url = call("GetQueueUrl", json!({"QueueName": queue})).await?["QueueUrl"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    // The queue whose redrive policy names this one, for messages it moved here.
    let dlq_arn = format!("arn:aws:sqs:{region}:{}:{queue}", app.config.account_id);
    let source = app
        .queues
        .list(region)
        .into_iter()
        .find(|q| q.redrive().is_some_and(|(arn, _)| arn == dlq_arn));
    let (mut to_targets, mut to_queue, mut skipped) = (0u64, 0u64, 0u64);
    loop {
        let got = call(
            "ReceiveMessage",
            json!({"QueueUrl": url, "MaxNumberOfMessages": 10, "VisibilityTimeout": 60,
                   "MessageAttributeNames": ["All"]}),
        )
        .await?;
        let messages = got["Messages"].as_array().cloned().unwrap_or_default();
        if messages.is_empty() {
            break;
        }
        for m in messages {
            let attr = |k: &str| {
                m["MessageAttributes"][k]["StringValue"]
                    .as_str()
                    .map(str::to_owned)
            };
            let body = m["Body"].as_str().unwrap_or("").to_owned();
            let handle = m["ReceiptHandle"].as_str().unwrap_or("").to_owned();
            let moved = match (attr("RULE_ARN"), attr("TARGET_ARN")) {
                (Some(rule), Some(target_arn)) => {
                    back_to_target(app, &rule, &target_arn, body).await?
                }
                _ => match &source {
                    Some(src) => {
                        let src_url =
                            call("GetQueueUrl", json!({"QueueName": src.name})).await?["QueueUrl"]
                                .as_str()
                                .unwrap_or("")
                                .to_owned();
                        call(
                            "SendMessage",
                            json!({"QueueUrl": src_url, "MessageBody": body}),
                        )
                        .await?;
                        to_queue += 1;
                        true
                    }
                    None => false,
                },
            };
            if moved {
                if attr("RULE_ARN").is_some() {
                    to_targets += 1;
                }
                call(
                    "DeleteMessage",
                    json!({"QueueUrl": url, "ReceiptHandle": handle}),
                )
                .await?;
            } else {
                skipped += 1;
                // Visible again right away for whoever reads the queue next.
                call(
                    "ChangeMessageVisibility",
                    json!({"QueueUrl": url, "ReceiptHandle": handle, "VisibilityTimeout": 0}),
                )
                .await?;
            }
        }
        if skipped > 0 && to_targets + to_queue == 0 {
            break;
        }
    }
    Ok(json!({"RedrivenToTargets": to_targets, "RedrivenToQueue": to_queue, "Skipped": skipped}))
}

/// Puts a dead-lettered event back on its way to the rule target that gave up on it: a new
/// delivery (work item) of the stored event. False when the rule or target no longer exists.
async fn back_to_target(
    app: &App,
    rule_arn: &str,
    target_arn: &str,
    body: String,
) -> Result<bool, crate::error::ApiError> {
    let Some(rule) = crate::work::RuleRef::of_arn(rule_arn) else {
        return Ok(false);
    };
    let region = rule.region.to_owned();
    let target_id = app
        .catalog
        .read(|d| {
            d.rule(rule.region, rule.bus, rule.name).and_then(|r| {
                r.targets
                    .iter()
                    .find(|t| t.arn == target_arn)
                    .map(|t| t.id.clone())
            })
        })
        .await;
    let Some(target_id) = target_id else {
        return Ok(false);
    };
    let event: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    let id = event["id"]
        .as_str()
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned);
    let batch = AppendBatch {
        events: vec![NewEvent {
            id,
            // Not the bus itself: archives must not see a redriven event twice.
            bus: format!("{region}:$redrive"),
            time_ms: app.clock.now_ms(),
            body,
            hops: 0,
        }],
        // The dead letter's work, whatever its kind, again.
        work: vec![crate::work::Work::of(rule_arn, &target_id).new_work(0)],
        now_ms: Some(app.clock.now_ms()),
        ..AppendBatch::default()
    };
    app.store.append(batch).await?;
    app.bus.work_ready().notify_one();
    Ok(true)
}
