//! The delivery engine: takes the durable (event, rule, target) work items from the store and
//! delivers each to its target at least once, with retries, backoff and dead-letter queues.
//!
//! * The engine leases due work items in batches, runs each delivery as its own task, bounded
//!   by a global in-flight limit and a per-target concurrency limit.
//! * A delivery shapes the target's input (`Input`, `InputPath`, `InputTransformer`), then hands
//!   it to the target kind: an eddy queue (the message and the work item's removal commit in one
//!   transaction, so a queue receives each event once), another bus (the forwarded event and the
//!   removal commit together; forwarding loops stop after [`crate::bus::MAX_HOPS`]), a
//!   function (the event joins the function's durable asynchronous invocation queue,
//!   [`function`]), an API destination (HTTP), a log group, or a topic (the event is published
//!   to it, and the topic's notifications are work items of their own, [`notify`]).
//! * A failure is retryable (try again after [`retry::backoff_ms`]) or permanent (a target that
//!   does not exist, input that cannot be shaped): permanent failures and exhausted retries go
//!   to the target's dead-letter queue with AWS's attributes, or, without one, to the store's
//!   dead letters, logged and counted, never silently dropped.
//! * Every attempt holds its work item under a fenced lease, renewed while the attempt runs
//!   ([`lease`]): long work (a 15-minute function, a rate-limited API destination) is never
//!   handed to a second attempt, and the dev clock moving forward never ends a lease. A
//!   delivery whose lease was lost all the same cannot settle its item: the store refuses it,
//!   and it is counted (`eddy_delivery_stale_lease_acks_total`).
//! * A crash loses nothing: leased items return at start-up ([`eddy_store::WorkStore::release_leases`]).

pub mod function;
pub mod http;
pub mod lease;
pub mod notify;
pub mod plain;
pub mod retry;
pub mod target;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use eddy_model::definitions::{RuleDef, TargetDef};
use eddy_model::transform::{TransformContext, render_input};
use eddy_store::{Lease, StoreError, WorkItem};
use serde_json::{Value, json};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::Core;
use crate::core_error::CoreError;
use crate::metrics::DeliveryLabels;
use crate::queues::OutMessage;
use crate::work::Work;
use retry::{Policy, Verdict};
use target::TargetKind;

/// Work items leased per store round trip.
const LEASE_BATCH: usize = 512;
/// Deliveries in flight at once, across all targets.
const MAX_IN_FLIGHT: usize = 1024;

const SKIPPED: &str = "Skipped";
/// Not a failure of the target: the attempt's lease was lost, so its item is another attempt's
/// to settle (see [`lease`]).
const LEASE_LOST: &str = "LeaseLost";

/// Why an attempt failed.
#[derive(Debug, Clone)]
pub struct Failure {
    pub code: String,
    pub message: String,
    /// `false`: retrying cannot help (the target does not exist, the input cannot be shaped).
    pub retryable: bool,
}

impl Failure {
    /// Not a failure: the delivery had nothing to send and is already settled.
    fn skipped() -> Self {
        Self {
            code: SKIPPED.into(),
            message: String::new(),
            retryable: false,
        }
    }

    fn lease_lost() -> Self {
        Self {
            code: LEASE_LOST.into(),
            message: String::new(),
            retryable: false,
        }
    }

    /// A store write that was to deliver and settle an item failed: lost its lease, or
    /// retryable.
    fn store(e: &StoreError) -> Self {
        match e {
            StoreError::LeaseLost(_) => Self::lease_lost(),
            e => Self::retryable("InternalFailure", e.to_string()),
        }
    }

    /// [`Failure::store`] for an operation of the core.
    fn core(e: &CoreError) -> Self {
        match e {
            CoreError::Store(e) => Self::store(e),
            e => Self::retryable("InternalFailure", e.to_string()),
        }
    }

    fn permanent(code: &str, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
            retryable: false,
        }
    }

    fn retryable(code: &str, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
            retryable: true,
        }
    }
}

/// Per-target concurrency limits.
struct Limits {
    per_target: usize,
    targets: Mutex<HashMap<String, Arc<Semaphore>>>,
}

impl Limits {
    fn of(&self, key: &str) -> Arc<Semaphore> {
        self.targets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key.to_owned())
            .or_insert_with(|| Arc::new(Semaphore::new(self.per_target)))
            .clone()
    }
}

/// Runs the engine until `stop` turns true.
pub async fn run(app: Arc<Core>, mut stop: tokio::sync::watch::Receiver<bool>) {
    match app.store.release_leases(app.clock.now_ms()).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(
            items = n,
            "resuming deliveries interrupted by the last stop"
        ),
        Err(e) => tracing::error!(error = %e, "cannot release leases; deliveries resume later"),
    }
    let ready = app.bus.work_ready();
    let held = lease::Held::new(app.store.clone(), app.metrics.clone(), app.config.lease_ms);
    tokio::spawn(held.clone().run(stop.clone()));
    let in_flight = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let limits = Arc::new(Limits {
        per_target: app.config.target_concurrency.max(1),
        targets: Mutex::new(HashMap::new()),
    });
    // Retries wait on eddy's clock: when the dev clock moves, look again at once.
    let mut moved = app.clock.moved();
    // A lease call that failed may have committed (its answer lost with the connection): its
    // items are leased to this node, which does not know them. Once the store answers again,
    // and before leasing anything else (so no lease call is in flight), this node hands back
    // every lease it holds without a delivery running, rather than leaving them to their
    // deadlines.
    let mut unknown_leases = false;
    loop {
        if *stop.borrow() {
            break;
        }
        if unknown_leases {
            match app
                .store
                .release_leases_except(app.clock.now_ms(), held.ids())
                .await
            {
                Ok(n) => {
                    unknown_leases = false;
                    if n > 0 {
                        tracing::info!(items = n, "handed back leases a failed lease call took");
                    }
                }
                Err(e) => tracing::debug!(error = %e, "cannot hand back unknown leases yet"),
            }
        }
        let notified = ready.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        app.scheduler.quiet().await;
        let free = in_flight.available_permits().min(LEASE_BATCH);
        let mut lease_failed = false;
        let items = if free == 0 {
            Vec::new()
        } else {
            match app
                .store
                .lease(None, app.clock.now_ms(), free, held.lease_ms())
                .await
            {
                Ok(items) => {
                    held.hold(&items);
                    items
                }
                Err(e) => {
                    tracing::error!(error = %e, "cannot lease work items");
                    lease_failed = true;
                    unknown_leases = true;
                    Vec::new()
                }
            }
        };
        if items.is_empty() {
            // Due items that cannot be leased (a full store): try again in a second, not in a
            // tight loop.
            let next_due = if lease_failed {
                None
            } else {
                app.store.next_due().await.ok().flatten()
            };
            let wait = match next_due {
                Some(due) => {
                    Duration::from_millis((due - app.clock.now_ms()).clamp(1, 1000) as u64)
                }
                None => Duration::from_secs(1),
            };
            tokio::select! {
                () = &mut notified => {}
                () = tokio::time::sleep(wait) => {}
                _ = moved.changed() => {}
                _ = stop.changed() => {}
            }
            continue;
        }
        for group in by_target(items) {
            let n = u32::try_from(group.len()).unwrap_or(u32::MAX);
            let Ok(permits) = in_flight.clone().acquire_many_owned(n).await else {
                return;
            };
            let (app, limits, held) = (app.clone(), limits.clone(), held.clone());
            let leases: Vec<Lease> = group.iter().map(WorkItem::lease).collect();
            tokio::spawn(async move {
                deliver_group(app, limits, group, permits).await;
                held.release(&leases);
            });
        }
    }
}

/// Splits leased items into groups for the same (rule, target), keeping lease order.
fn by_target(items: Vec<WorkItem>) -> Vec<Vec<WorkItem>> {
    let mut groups: Vec<Vec<WorkItem>> = Vec::new();
    let mut index: HashMap<(String, String), usize> = HashMap::new();
    for item in items {
        let key = (item.rule.clone(), item.target.clone());
        match index.get(&key) {
            Some(&i) => groups[i].push(item),
            None => {
                index.insert(key, groups.len());
                groups.push(vec![item]);
            }
        }
    }
    groups
}

/// Delivers a group of work items for one target and settles each: removed, retried later, or
/// dead-lettered. Queue targets get the whole group in one store transaction.
async fn deliver_group(
    app: Arc<Core>,
    limits: Arc<Limits>,
    items: Vec<WorkItem>,
    _permits: OwnedSemaphorePermit,
) {
    let Some(first) = items.first() else { return };
    let kind = Work::of_item(first);
    let scheduled = matches!(kind, Work::ScheduleTick { .. });
    let rule_arn = first.rule.clone();
    let resolved = match kind {
        Work::AsyncInvoke { .. } => {
            function::deliver(app, items).await;
            return;
        }
        Work::Notify { .. } => {
            notify::deliver(app, items).await;
            return;
        }
        Work::BucketNotify { .. } => {
            crate::buckets::notify::deliver(app, items).await;
            return;
        }
        Work::ScheduleTick { schedule_arn } => app.schedules.delivery_target(schedule_arn),
        Work::RuleTarget { target_id, .. } => kind
            .rule()
            .and_then(|rule| app.catalog.target(rule, target_id)),
    };
    let Some((rule, target)) = resolved else {
        // The rule or target was removed after the events matched: nothing to deliver to.
        tracing::info!(rule = %first.rule, target = %first.target, events = items.len(),
            "target removed before delivery; dropping");
        count(&app, first, "dropped", items.len());
        ack(&app, items.iter().map(WorkItem::lease).collect()).await;
        return;
    };
    // The target's concurrency limit: one slot per HTTP attempt, one per queue transaction.
    let gate = limits.of(&format!("{}#{}", first.rule, first.target));
    let policy = Policy::of(target.retry_policy.as_ref());
    let now = app.clock.now_ms();
    let (expired, live): (Vec<WorkItem>, Vec<WorkItem>) = items
        .into_iter()
        .partition(|i| now - i.created_ms > policy.max_age_ms);
    for item in &expired {
        let f = Failure::permanent(
            "EventAgeExceeded",
            "the event is older than MaximumEventAgeInSeconds",
        );
        give_up(&app, item, &target, &f, Some("MaximumEventAgeInSeconds")).await;
    }
    let results = match TargetKind::of(&target.arn) {
        TargetKind::Queue { region, name } => {
            let Ok(_slot) = gate.acquire().await else {
                return;
            };
            to_queue(&app, &rule, &target, &region, &name, &live).await
        }
        _ => {
            // Attempts run concurrently, at most `per_target` at a time.
            let shared = Arc::new((rule.clone(), target.clone()));
            let handles: Vec<_> = live
                .iter()
                .cloned()
                .map(|item| {
                    let (app, gate, shared) = (app.clone(), gate.clone(), shared.clone());
                    tokio::spawn(async move {
                        let _slot = gate.acquire().await;
                        attempt(&app, &shared.0, &shared.1, &item).await
                    })
                })
                .collect();
            let mut out = Vec::with_capacity(handles.len());
            let mut to_ack = Vec::new();
            for (item, h) in live.iter().zip(handles) {
                let r = h.await.unwrap_or_else(|e| {
                    Err(Failure::retryable(
                        "InternalFailure",
                        format!("delivery task failed: {e}"),
                    ))
                });
                if let Ok(Settle::Ack) = r {
                    to_ack.push(item.lease());
                }
                out.push(r.map(drop));
            }
            // Delivered over HTTP: the work items go in one store transaction. A crash before
            // it repeats these deliveries (at least once), never loses them.
            if !to_ack.is_empty() {
                ack(&app, to_ack).await;
            }
            out
        }
    };
    let mut finished = !expired.is_empty();
    // All items of a group share their labels: the delivered ones are counted once.
    let mut delivered = 0;
    for (item, outcome) in live.iter().zip(results) {
        delivered += usize::from(outcome.is_ok());
        finished |= settle_outcome(&app, &target, policy, item, outcome).await;
    }
    if let Some(item) = live.first().filter(|_| delivered > 0) {
        count(&app, item, "delivered", delivered);
    }
    // A one-time schedule with `ActionAfterCompletion: DELETE` is deleted once its invocation is
    // settled (delivered or given up), not when it fires: its target must outlive the delivery.
    if finished && scheduled {
        app.schedules.completed(&rule_arn, app.clock.now_ms()).await;
    }
}

/// Records the outcome of one attempt: its latency when delivered (the caller counts the
/// delivered ones), retried or dead-lettered when not. Answers whether the item is settled for
/// good (not to be retried).
async fn settle_outcome(
    app: &Core,
    target: &TargetDef,
    policy: Policy,
    item: &WorkItem,
    outcome: Result<(), Failure>,
) -> bool {
    match outcome {
        Ok(()) => {
            let latency = (app.clock.now_ms() - item.created_ms).max(0) as f64 / 1000.0;
            app.metrics.delivery_latency_seconds.observe(latency);
        }
        Err(f) if f.code == SKIPPED => count(app, item, "skipped", 1),
        Err(f) if f.code == LEASE_LOST => {
            // Another attempt holds the item now: it settles it, not this one.
            stale(app, 1);
            return false;
        }
        Err(f) => {
            tracing::warn!(event = %item.event_id, rule = %item.rule, target = %target.arn,
                attempt = item.attempts, code = %f.code, reason = %f.message, "delivery failed");
            if !f.retryable {
                give_up(app, item, target, &f, None).await;
                return true;
            }
            let rand = (uuid::Uuid::new_v4().as_u128() >> 75) as f64 / (1u64 << 53) as f64;
            match retry::after_failure(
                policy,
                item.attempts,
                item.created_ms,
                app.clock.now_ms(),
                rand,
            ) {
                Verdict::RetryAt(at) => {
                    count(app, item, "retried", 1);
                    nack(app, item.lease(), at).await;
                    return false;
                }
                Verdict::Exhausted(why) => give_up(app, item, target, &f, Some(why)).await,
            }
        }
    }
    true
}

/// The input a target receives for an item (`Input`, `InputPath`, `InputTransformer` or the
/// event itself).
fn shape(rule: &RuleDef, target: &TargetDef, item: &WorkItem) -> Result<String, Failure> {
    let cx = TransformContext {
        rule_arn: &item.rule,
        rule_name: &rule.name,
        ingestion_time_ms: item.created_ms,
    };
    render_input(target, &item.body, &cx)
        .map_err(|e| Failure::permanent("InvalidInput", e.to_string()))
}

/// Most messages written to a queue in one store transaction.
const QUEUE_CHUNK: usize = 256;

/// Delivers items to an eddy queue: the messages and the work items' removal commit together,
/// a chunk at a time. Returns one outcome per item.
async fn to_queue(
    app: &Core,
    rule: &RuleDef,
    target: &TargetDef,
    region: &str,
    name: &str,
    items: &[WorkItem],
) -> Vec<Result<(), Failure>> {
    let Some(queue) = app.queues.get(region, name) else {
        let f = Failure::permanent(
            "ResourceNotFoundException",
            format!("queue {name} does not exist in {region}"),
        );
        return items.iter().map(|_| Err(f.clone())).collect();
    };
    let fifo = queue.fifo();
    let group_id = fifo.then(|| {
        target
            .other
            .get("SqsParameters")
            .and_then(|p| p.get("MessageGroupId"))
            .and_then(Value::as_str)
            .unwrap_or("default")
            .to_owned()
    });
    let message = |item: &WorkItem, body: String| OutMessage {
        body,
        group_id: group_id.clone(),
        // Per work item, not per event: a replayed event (same id, new work item) must not be
        // dropped as a duplicate of its original delivery.
        dedup_id: fifo.then(|| format!("{}-{}", item.event_id, item.id)),
        ..OutMessage::default()
    };
    let mut outcomes: Vec<Option<Result<(), Failure>>> = vec![None; items.len()];
    let mut empty = Vec::new();
    let mut batch: Vec<(usize, OutMessage)> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        match shape(rule, target, item) {
            Err(f) => outcomes[i] = Some(Err(f)),
            Ok(body) if body.is_empty() => {
                // An InputPath that selects nothing: nothing to send (AWS delivers nothing).
                tracing::info!(event = %item.event_id, target = %target.arn,
                    "InputPath selected nothing; no message sent");
                empty.push(item.lease());
                outcomes[i] = Some(Err(Failure::skipped()));
            }
            Ok(body) => batch.push((i, message(item, body))),
        }
    }
    if !empty.is_empty() {
        ack(app, empty).await;
    }
    while !batch.is_empty() {
        let rest = batch.split_off(batch.len().min(QUEUE_CHUNK));
        let (mut index, messages): (Vec<usize>, Vec<OutMessage>) =
            std::mem::replace(&mut batch, rest).into_iter().unzip();
        let leases = index.iter().map(|&i| items[i].lease()).collect();
        let mut r = app.queues.send_acking(&queue, messages, leases).await;
        // A chunk naming a lost lease is refused whole: the others are sent once more without
        // the items whose leases were lost (those are another attempt's now).
        if let Err(CoreError::Store(StoreError::LeaseLost(lost))) = &r {
            let (gone, kept): (Vec<usize>, Vec<usize>) = index
                .iter()
                .partition(|&&i| lost.iter().any(|l| l.id == items[i].id));
            for &i in &gone {
                outcomes[i] = Some(Err(Failure::lease_lost()));
            }
            if !gone.is_empty() && !kept.is_empty() {
                let messages = kept
                    .iter()
                    .map(|&i| {
                        let body = shape(rule, target, &items[i]).unwrap_or_default();
                        message(&items[i], body)
                    })
                    .collect();
                let leases = kept.iter().map(|&i| items[i].lease()).collect();
                r = app.queues.send_acking(&queue, messages, leases).await;
                index = kept;
            }
        }
        for i in index {
            if outcomes[i].is_none() {
                outcomes[i] = Some(r.as_ref().map(drop).map_err(Failure::core));
            }
        }
    }
    outcomes
        .into_iter()
        .map(|o| o.unwrap_or_else(|| Err(Failure::retryable("InternalFailure", "not attempted"))))
        .collect()
}

/// What is left to do after a successful attempt.
enum Settle {
    /// The work item was removed together with the delivery (bus targets).
    Done,
    /// The work item still has to be removed (HTTP targets).
    Ack,
}

/// One attempt for a target that is not a queue (queues go through [`to_queue`]).
async fn attempt(
    app: &Core,
    rule: &RuleDef,
    target: &TargetDef,
    item: &WorkItem,
) -> Result<Settle, Failure> {
    match TargetKind::of(&target.arn) {
        TargetKind::Queue { .. } => Err(Failure::retryable(
            "InternalFailure",
            "queue deliveries go through to_queue",
        )),
        TargetKind::Bus { region, name } => {
            match app
                .bus
                .forward(&region, &name, item, app.clock.now_ms())
                .await
            {
                Ok(Ok(())) => Ok(Settle::Done),
                Ok(Err(e)) => Err(Failure::permanent(e.code, e.message)),
                Err(e) => Err(Failure::core(&e)),
            }
        }
        TargetKind::Function {
            region,
            name,
            qualifier,
        } => {
            // Like EventBridge, hand the event to the function's asynchronous invocation queue;
            // the function's own retry settings and destinations apply from there.
            let Some(def) = app.functions.get(&region, &name) else {
                return Err(Failure::permanent(
                    "ResourceNotFoundException",
                    format!(
                        "Function not found: arn:aws:lambda:{region}:{}:function:{name}",
                        app.functions.account()
                    ),
                ));
            };
            let body = shape(rule, target, item)?;
            if let Some(q) = qualifier.as_deref()
                && !def.has_qualifier(q)
            {
                return Err(Failure::permanent(
                    "ResourceNotFoundException",
                    format!(
                        "Function not found: {}:{q}",
                        def.arn(app.functions.account())
                    ),
                ));
            }
            function::enqueue(app, &def, qualifier.as_deref(), body, vec![item.lease()])
                .await
                .map(|_| Settle::Done)
                .map_err(|e| Failure::core(&e))
        }
        TargetKind::ApiDestination { region, name } => {
            let Some(dest) = app.destinations.destination(&region, &name) else {
                return Err(Failure::permanent(
                    "ResourceNotFoundException",
                    format!("API destination {name} does not exist"),
                ));
            };
            let Some(conn) = app.destinations.connection_by_arn(&dest.connection_arn) else {
                return Err(Failure::permanent(
                    "ResourceNotFoundException",
                    format!("the connection of API destination {name} does not exist"),
                ));
            };
            let body = shape(rule, target, item)?;
            let limit = dest.invocation_rate_limit_per_second;
            let rate_limit = || {
                app.destinations
                    .destination(&region, &name)
                    .map_or(limit, |d| d.invocation_rate_limit_per_second)
            };
            app.http
                .invoke(target, &dest, &conn, body, rate_limit)
                .await
                .map(|()| Settle::Ack)
        }
        TargetKind::LogGroup { region, name } => {
            let Some(group) = app.log_groups.get(&region, &name) else {
                return Err(Failure::permanent(
                    "ResourceNotFoundException",
                    format!("log group {name} does not exist"),
                ));
            };
            // One log stream per event, named by the event id.
            let event = eddy_store::NewLogEvent {
                group: group.key(),
                stream: item.event_id.clone(),
                timestamp_ms: item.created_ms,
                message: shape(rule, target, item)?,
            };
            app.write_logs(vec![event], app.clock.now_ms(), vec![item.lease()])
                .await
                .map_err(|e| Failure::core(&e))?;
            Ok(Settle::Done)
        }
        TargetKind::Topic { region, name } => {
            // The shaped input becomes the message; it and the work item's removal commit
            // together.
            let message = shape(rule, target, item)?;
            let p = crate::topics::Publication {
                message,
                group_id: app
                    .topics
                    .get(&region, &name)
                    .filter(|t| t.fifo())
                    .map(|_| {
                        target
                            .other
                            .get("SqsParameters")
                            .and_then(|p| p.get("MessageGroupId"))
                            .and_then(Value::as_str)
                            .unwrap_or("default")
                            .to_owned()
                    }),
                dedup_id: app
                    .topics
                    .get(&region, &name)
                    .filter(|t| t.fifo())
                    .map(|_| format!("{}-{}", item.event_id, item.id)),
                ..crate::topics::Publication::default()
            };
            match app
                .publish(&region, &name, vec![p], vec![item.lease()])
                .await
            {
                Ok(mut answers) => match answers.pop() {
                    Some(Ok(_)) => Ok(Settle::Done),
                    Some(Err(e)) => Err(Failure::permanent("InvalidParameter", e.to_string())),
                    None => Err(Failure::retryable("InternalFailure", "no answer")),
                },
                Err(crate::topics::TopicError::Core(e)) => Err(Failure::core(&e)),
                Err(e @ crate::topics::TopicError::TopicNotFound) => {
                    Err(Failure::permanent("NotFound", format!("topic {name}: {e}")))
                }
                Err(e) => Err(Failure::permanent("InvalidParameter", e.to_string())),
            }
        }
        TargetKind::Unsupported { service } => Err(Failure::permanent(
            "UnsupportedTarget",
            format!("eddy does not deliver to `{service}` targets"),
        )),
    }
}

/// Sends an undeliverable event to the target's dead-letter queue with AWS's attributes, or
/// keeps it in the store's dead letters when there is no usable dead-letter queue.
async fn give_up(
    app: &Core,
    item: &WorkItem,
    target: &TargetDef,
    f: &Failure,
    exhausted: Option<&str>,
) {
    let dlq = target
        .dead_letter_config
        .as_ref()
        .and_then(|d| d.arn.as_deref())
        .and_then(|arn| match TargetKind::of(arn) {
            TargetKind::Queue { region, name } => app.queues.get(&region, &name),
            _ => None,
        });
    if let Some(dlq) = dlq {
        let attr = |v: String| json!({ "DataType": "String", "StringValue": v });
        let mut attrs = BTreeMap::new();
        attrs.insert("ERROR_CODE".to_owned(), attr(f.code.clone()));
        attrs.insert("ERROR_MESSAGE".to_owned(), attr(f.message.clone()));
        if let Some(why) = exhausted {
            attrs.insert("EXHAUSTED_RETRY_CONDITION".to_owned(), attr(why.to_owned()));
        }
        attrs.insert(
            "RETRY_ATTEMPTS".to_owned(),
            attr(item.attempts.saturating_sub(1).to_string()),
        );
        attrs.insert("RULE_ARN".to_owned(), attr(item.rule.clone()));
        attrs.insert("TARGET_ARN".to_owned(), attr(target.arn.clone()));
        let message = OutMessage {
            body: item.body.clone(),
            message_attributes: attrs,
            group_id: dlq.fifo().then(|| "eddy-dlq".to_owned()),
            dedup_id: dlq.fifo().then(|| format!("{}-{}", item.event_id, item.id)),
            ..OutMessage::default()
        };
        if to_dead_letter_queue(app, item, &dlq, message).await {
            return;
        }
    }
    let reason = match exhausted {
        Some(why) => format!("{}: {} ({why})", f.code, f.message),
        None => format!("{}: {}", f.code, f.message),
    };
    tracing::warn!(event = %item.event_id, rule = %item.rule, target = %target.arn, %reason,
        "undeliverable event kept in the store's dead letters (the target has no dead-letter queue)");
    to_store_dead_letters(app, item, reason).await;
}

/// Keeps an undeliverable item in the store's dead letters with `reason` (counted as failed),
/// waiting for a store out of reach as every settlement does.
pub(crate) async fn to_store_dead_letters(app: &Core, item: &WorkItem, reason: String) {
    let settled = until_answered(app, || {
        app.store
            .dead_letter(item.lease(), reason.clone(), app.clock.now_ms())
    })
    .await;
    match settled {
        Ok(true) => count(app, item, "failed", 1),
        Ok(false) => stale(app, 1),
        Err(e) => settle_failed(&e),
    }
}

/// Writes an undeliverable item's message to a dead-letter queue, settling the item in the
/// same transaction. Answers whether the item is settled (written, or its lease was lost);
/// `false` leaves it to the store's dead letters.
pub(crate) async fn to_dead_letter_queue(
    app: &Core,
    item: &WorkItem,
    dlq: &crate::queues::QueueDef,
    message: OutMessage,
) -> bool {
    match app
        .queues
        .send_acking(dlq, vec![message], vec![item.lease()])
        .await
    {
        Ok(_) => {
            count(app, item, "dead_lettered", 1);
            true
        }
        Err(e) if lost(app, &e) => true,
        Err(e) => {
            tracing::error!(error = %e, "cannot write to the dead-letter queue");
            false
        }
    }
}

fn count(app: &Core, item: &WorkItem, outcome: &str, n: usize) {
    let rule = Work::of_item(item).metrics_rule();
    app.metrics
        .deliveries
        .get_or_create(&DeliveryLabels {
            rule,
            target: item.target.clone(),
            outcome: outcome.to_owned(),
        })
        .inc_by(n as u64);
}

/// Removes delivered work items. Leases refused (lost: their items are another attempt's now)
/// are counted.
pub(crate) async fn ack(app: &Core, leases: Vec<Lease>) {
    match until_answered(app, || app.store.ack(leases.clone())).await {
        Ok(refused) => stale(app, refused.len()),
        Err(e) => settle_failed(&e),
    }
}

/// Makes a leased item due again at `due_ms`, unless its lease was lost (counted).
pub(crate) async fn nack(app: &Core, lease: Lease, due_ms: i64) {
    match until_answered(app, || app.store.nack(lease, due_ms)).await {
        Ok(true) => {}
        Ok(false) => stale(app, 1),
        Err(e) => settle_failed(&e),
    }
}

/// Counts settlements the store refused because their leases were lost. See [`lease`].
pub(crate) fn stale(app: &Core, n: usize) {
    if n > 0 {
        tracing::warn!(
            items = n,
            "a delivery lost its lease before settling; the item's current attempt settles it"
        );
        app.metrics.stale_lease_acks.inc_by(n as u64);
    }
}

/// Whether a write that was to deliver and settle work items was refused because their leases
/// were lost (counted): nothing was written, and the items are another attempt's now.
pub(crate) fn lost(app: &Core, e: &CoreError) -> bool {
    match e {
        CoreError::Store(StoreError::LeaseLost(leases)) => {
            stale(app, leases.len());
            true
        }
        _ => false,
    }
}

/// A store failure while settling leaves the item leased: it is delivered again once the lease
/// ends (at the next start, or when this process stops renewing it).
fn settle_failed(e: &StoreError) {
    tracing::error!(error = %e, "cannot settle a delivery; it will be retried after its lease");
}

/// Runs a settlement (ack, nack, dead letter) until the store answers it, for at most a lease:
/// a store out of reach for a moment (a PostgreSQL restart, a network partition) must not leave
/// a delivered item to be delivered again, or a failed one waiting for its lease to end, when
/// it could be settled a second later. The lease is renewed meanwhile (the delivery still holds
/// it), so no other attempt takes the item while this one retries. Only a store out of reach or
/// out of space is waited for (both clear by themselves: the full store's writes resume the
/// moment space returns); a refusal (a lost lease), a closed store or a failure of the store
/// itself is an answer.
async fn until_answered<T, F, Fut>(app: &Core, mut settle: F) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, StoreError>>,
{
    let deadline =
        tokio::time::Instant::now() + Duration::from_millis(app.config.lease_ms.max(0) as u64);
    let mut wait = Duration::from_millis(50);
    loop {
        match settle().await {
            Err(e @ (StoreError::Unavailable(_) | StoreError::Full(_)))
                if tokio::time::Instant::now() + wait < deadline =>
            {
                tracing::debug!(error = %e, "cannot settle a delivery yet; retrying");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(2));
            }
            answer => return answer,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use eddy_store::{AppendBatch, NewEvent, NewWork};

    /// An item whose first lease ran out (a zero-length lease) and went to a second holder:
    /// (the stale lease, the current one).
    async fn taken_over(app: &Core) -> (Lease, Lease) {
        app.store
            .append(AppendBatch {
                events: vec![NewEvent {
                    id: "e".into(),
                    bus: "us-east-1:default".into(),
                    time_ms: 0,
                    body: "{}".into(),
                    hops: 0,
                }],
                work: vec![NewWork {
                    event: 0,
                    rule: "r".into(),
                    target: "t".into(),
                }],
                now_ms: Some(0),
                ..AppendBatch::default()
            })
            .await
            .expect("append");
        let first = app.store.lease(None, 0, 1, 0).await.expect("lease");
        let second = app.store.lease(None, 0, 1, 60_000).await.expect("lease");
        assert_eq!(first[0].id, second[0].id);
        (first[0].lease(), second[0].lease())
    }

    #[tokio::test]
    async fn a_stale_attempts_settlements_are_refused_and_counted() {
        let dir = tempfile::tempdir().expect("tempdir");
        let app = Core::open(
            crate::config::ServerConfig::new(dir.path()),
            crate::clock::Clock::system(),
            Box::new(|_| Ok(Vec::new())),
        )
        .await
        .expect("open");
        let (stale_lease, current) = taken_over(&app).await;
        let counted = || app.metrics.stale_lease_acks.get();
        ack(&app, vec![stale_lease]).await;
        assert_eq!(counted(), 1);
        nack(&app, stale_lease, 0).await;
        assert_eq!(counted(), 2);
        let e = app
            .store
            .queue_send("q".into(), Vec::new(), 0, vec![stale_lease])
            .await
            .expect_err("refused");
        assert!(lost(&app, &CoreError::Store(e)));
        assert_eq!(counted(), 3);
        // The current holder settles the item.
        ack(&app, vec![current]).await;
        assert_eq!(counted(), 3);
        assert_eq!(app.store.counts().await.expect("counts").work_items, 0);
    }
}
