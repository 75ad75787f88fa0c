//! Asynchronous function invocations (`InvocationType: Event`, and every delivery of a rule or
//! schedule to a function) as Lambda runs them: accepted into a durable queue (a work item
//! of kind [`Work::AsyncInvoke`]), invoked by the
//! delivery engine, retried on function errors up to `MaximumRetryAttempts` (default 2, one
//! then two minutes apart) and on throttling until `MaximumEventAgeInSeconds` (default 6 h),
//! and finally reported to the on-success or on-failure destination (a queue, a bus or another
//! function) in the same store transaction that removes the work item.

use std::sync::Arc;

use eddy_runtime::{Invocation, InvokeError, Outcome};
use eddy_store::{AppendBatch, Lease, NewEvent, WorkItem};
use serde_json::{Value, json};

use super::target::TargetKind;
use super::{ack, lost, nack};
use crate::Core;
use crate::bus::PreparedEvent;
use crate::core_error::CoreError;
use crate::functions::{EventInvokeConfig, FunctionDef};
use crate::queues::OutMessage;
use crate::work::Work;

/// The bus name their payloads are stored under (never a real bus: names cannot hold `$`).
const ASYNC_BUS: &str = "$lambda";

/// Accepts an asynchronous invocation of `def` (of its version or alias `qualifier`, when given)
/// durably; `ack` names the leases of work items completed by this acceptance (a rule's
/// delivery to the function). Returns the request id.
pub async fn enqueue(
    app: &Core,
    def: &FunctionDef,
    qualifier: Option<&str>,
    payload: String,
    ack: Vec<Lease>,
) -> Result<String, CoreError> {
    let now = app.clock.now_ms();
    let mut batch = AppendBatch {
        ack,
        now_ms: Some(now),
        ..AppendBatch::default()
    };
    let id = add_invocation(app, &mut batch, def, qualifier, payload, now);
    app.store.append(batch).await.map_err(CoreError::from)?;
    app.bus.work_ready().notify_one();
    Ok(id)
}

/// Adds an asynchronous invocation of `def` (its version or alias `qualifier`) to `batch`: the
/// payload as an event and its work item, appended with whatever else the batch holds. Returns
/// the request id.
pub fn add_invocation(
    app: &Core,
    batch: &mut AppendBatch,
    def: &FunctionDef,
    qualifier: Option<&str>,
    payload: String,
    now: i64,
) -> String {
    let id = uuid::Uuid::new_v4().to_string();
    batch.events.push(NewEvent {
        id: id.clone(),
        bus: format!("{}:{ASYNC_BUS}", def.region),
        time_ms: now,
        body: payload,
        hops: 0,
    });
    let function_arn = match qualifier {
        Some(q) => format!("{}:{q}", def.arn(app.functions.account())),
        None => def.arn(app.functions.account()),
    };
    batch.work.push(
        Work::AsyncInvoke {
            function_arn: &function_arn,
        }
        .new_work(batch.events.len() - 1),
    );
    id
}

/// Invokes the function of a group of asynchronous invocation items and settles each.
pub async fn deliver(app: Arc<Core>, items: Vec<WorkItem>) {
    let Some(first) = items.first() else { return };
    let TargetKind::Function {
        region,
        name,
        qualifier,
    } = TargetKind::of(&first.rule)
    else {
        return;
    };
    let Some(def) = app.functions.get(&region, &name) else {
        tracing::warn!(function = %name, invocations = items.len(),
            "function deleted before its asynchronous invocations ran; dropping them");
        ack(&app, items.iter().map(WorkItem::lease).collect()).await;
        return;
    };
    let def = Arc::new(def);
    let qualifier: Arc<Option<String>> = Arc::new(qualifier);
    let handles: Vec<_> = items
        .into_iter()
        .map(|item| {
            let (app, def, q) = (app.clone(), def.clone(), qualifier.clone());
            tokio::spawn(async move { deliver_one(&app, &def, q.as_deref(), item).await })
        })
        .collect();
    for h in handles {
        let _finished = h.await.is_ok();
    }
}

async fn deliver_one(app: &Core, def: &FunctionDef, qualifier: Option<&str>, item: WorkItem) {
    let config = def.event_invoke.clone().unwrap_or_default();
    let now = app.clock.now_ms();
    let age = now - item.created_ms;
    if age > config.max_age_ms() {
        finish(
            app,
            def,
            &config,
            &item,
            None,
            "EventAgeExceeded",
            "$LATEST",
        )
        .await;
        return;
    }
    // Each invocation resolves its alias anew: routing weights split invocations.
    let target = match app.functions.resolve(&def.region, &def.name, qualifier) {
        Ok(t) => t,
        // The version or alias is gone: the invocation failed for good, and its on-failure
        // destination hears of it.
        Err(crate::functions::FunctionError::QualifierNotFound { .. }) => {
            tracing::warn!(function = %def.name, qualifier = ?qualifier, request = %item.event_id,
                "the version or alias of an asynchronous invocation is gone");
            finish(
                app,
                def,
                &config,
                &item,
                None,
                "RetriesExhausted",
                "$LATEST",
            )
            .await;
            return;
        }
        // Known but not deployed on this node yet (the change is on its way): try later.
        Err(_) => {
            nack(app, item.lease(), app.clock.now_ms() + 1000).await;
            return;
        }
    };
    let inv = Invocation {
        payload: item.body.clone().into(),
        request_id: item.event_id.clone(),
        invoked_arn: target.invoked_arn.clone(),
        ..Invocation::default()
    };
    let version = target.version.as_str();
    match target.pool.invoke(inv).await {
        Ok(outcome) if outcome.function_error.is_none() => {
            finish(app, def, &config, &item, Some(&outcome), "Success", version).await;
        }
        Ok(outcome) => {
            // attempts counts this one; retries so far = attempts - 1.
            let retries_done = item.attempts.saturating_sub(1);
            if retries_done >= config.retries() {
                finish(
                    app,
                    def,
                    &config,
                    &item,
                    Some(&outcome),
                    "RetriesExhausted",
                    version,
                )
                .await;
            } else {
                // Lambda waits one minute before the first retry, two before the second.
                let wait = 60_000 * i64::from(retries_done + 1);
                tracing::info!(function = %def.name, request = %item.event_id,
                    attempt = item.attempts, "asynchronous invocation failed; retrying");
                nack(app, item.lease(), app.clock.now_ms() + wait).await;
            }
        }
        Err(InvokeError::TooManyRequests) => {
            // Throttled: back off (1 s doubling to 5 min) until the event is too old.
            let wait = (1000_i64 << item.attempts.min(9)).min(300_000);
            nack(app, item.lease(), app.clock.now_ms() + wait).await;
        }
    }
}

/// Lambda's invocation record, sent to destinations.
fn record(
    app: &Core,
    def: &FunctionDef,
    item: &WorkItem,
    outcome: Option<&Outcome>,
    condition: &str,
    version: &str,
) -> String {
    let payload: Value =
        serde_json::from_str(&item.body).unwrap_or_else(|_| Value::String(item.body.clone()));
    let mut response_context = json!({"statusCode": 200, "executedVersion": version});
    let mut response_payload = Value::Null;
    if let Some(o) = outcome {
        if let Some(fe) = o.function_error {
            response_context["functionError"] = json!(fe);
        }
        response_payload = serde_json::from_slice(&o.payload)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&o.payload).into_owned()));
    }
    let mut rec = json!({
        "version": "1.0",
        "timestamp": eddy_model::event::format_time(app.clock.now_ms()),
        "requestContext": {
            "requestId": item.event_id,
            "functionArn": format!("{}:{version}", def.arn(app.functions.account())),
            "condition": condition,
            "approximateInvokeCount": item.attempts,
        },
        "requestPayload": payload,
        "responseContext": response_context,
    });
    if outcome.is_some() {
        rec["responsePayload"] = response_payload;
    }
    rec.to_string()
}

/// Settles a finished invocation: the destination for its condition gets the record and the
/// work item goes in the same transaction.
async fn finish(
    app: &Core,
    def: &FunctionDef,
    config: &EventInvokeConfig,
    item: &WorkItem,
    outcome: Option<&Outcome>,
    condition: &str,
    version: &str,
) {
    let success = condition == "Success";
    if !success {
        tracing::warn!(function = %def.name, request = %item.event_id, %condition,
            "asynchronous invocation failed for good");
    }
    let destination = if success {
        config.on_success.as_deref()
    } else {
        config.on_failure.as_deref()
    };
    let Some(dest) = destination else {
        ack(app, vec![item.lease()]).await;
        return;
    };
    let rec = record(app, def, item, outcome, condition, version);
    let leases = vec![item.lease()];
    // `None`: the lease was lost (counted), nothing was sent.
    let failed = |e: CoreError| (!lost(app, &e)).then(|| e.to_string());
    let sent = match TargetKind::of(dest) {
        TargetKind::Queue { region, name } => match app.queues.get(&region, &name) {
            Some(q) => {
                let msg = OutMessage {
                    body: rec,
                    group_id: q.fifo().then(|| def.name.clone()),
                    dedup_id: q.fifo().then(|| format!("{}-{}", item.event_id, item.id)),
                    ..OutMessage::default()
                };
                app.queues
                    .send_acking(&q, vec![msg], leases)
                    .await
                    .map(drop)
                    .map_err(failed)
            }
            None => Err(Some(format!("queue {name} does not exist"))),
        },
        TargetKind::Bus { region, name } => {
            let detail_type = if success {
                "Lambda Function Invocation Result - Success"
            } else {
                "Lambda Function Invocation Result - Failure"
            };
            let ev = PreparedEvent {
                bus: name,
                source: "lambda".to_owned(),
                detail_type: detail_type.to_owned(),
                detail: rec,
                resources: vec![def.arn(app.functions.account())],
                time_ms: None,
            };
            match app
                .bus
                .put_acking(&region, vec![Ok(ev)], leases, app.clock.now_ms())
                .await
            {
                Ok(r) => match r.into_iter().next() {
                    Some(Err(e)) => Err(Some(e.message)),
                    _ => Ok(()),
                },
                Err(e) => Err(failed(e)),
            }
        }
        TargetKind::Function {
            region,
            name,
            qualifier,
        } => match app.functions.get(&region, &name) {
            Some(target) => enqueue(app, &target, qualifier.as_deref(), rec, leases)
                .await
                .map(drop)
                .map_err(failed),
            None => Err(Some(format!("function {name} does not exist"))),
        },
        _ => Err(Some(format!(
            "destination {dest} is not a queue, bus or function"
        ))),
    };
    if let Err(Some(e)) = sent {
        tracing::warn!(function = %def.name, destination = %dest, error = %e,
            "cannot send the invocation record to its destination; dropping it");
        ack(app, vec![item.lease()]).await;
    }
}
