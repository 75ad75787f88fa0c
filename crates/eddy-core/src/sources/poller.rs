//! The pollers: [`run`] keeps one poller task per enabled mapping, and each poller long-polls
//! its queue, builds Lambda's SQS event and invokes the function synchronously, as Lambda's
//! SQS event source does.
//!
//! * **Which pollers run.** [`run`] starts a poller for every enabled mapping the registry
//!   holds (so pollers come back after a restart, from the stored definitions), and looks again
//!   whenever the change feed reports applied changes (and every few seconds): a mapping that
//!   changed gets a new poller, one disabled or deleted loses its poller. A stopped poller
//!   receives nothing more; batches it already received finish. A mapping whose queue or
//!   function does not exist (deleted after the mapping was made) runs no poller (a long poll
//!   in progress is dropped) until they exist again.
//!   Every node sharing a store polls, as several Lambda pollers share one queue.
//! * **Batches.** A poller receives up to `BatchSize` messages with the queue's visibility
//!   timeout, long-polling (20 s) for the first; with a batching window it keeps receiving until
//!   the batch is full or the window (counted from the first message) ends. A batch also ends
//!   before Lambda's 6 MB synchronous payload limit; messages past it are made visible again.
//! * **Concurrency.** At most `ScalingConfig.MaximumConcurrency` batches of a mapping run at
//!   once; without it, [`DEFAULT_CONCURRENCY`] at first (the five pollers Lambda starts with),
//!   and five more each time a receive finds a backlog (every batch it asked for full, no slot
//!   free), up to [`DEFAULT_SCALE_LIMIT`](super::definition::DEFAULT_SCALE_LIMIT), as Lambda
//!   scales up with a queue's backlog. A batch holds its slot until its invocation ends (the
//!   deletes that follow hold none). A FIFO queue's mapping runs one batch at a time, so that a
//!   message group is processed in order. Without a batching window, one receive takes a batch
//!   for every free slot (up to [`BATCHES_PER_RECEIVE`]), as that many pollers would: a
//!   receive is a store transaction, and under a backlog its commit, not the function, bounded
//!   one-batch-at-a-time receiving (about 10,000 messages/s on the embedded store). The
//!   messages of one receive are cut into batches of `BatchSize` in queue order, each run at
//!   once; with a batching window a receive collects one batch, as described above.
//! * **Filters.** Messages that match none of the mapping's filters are deleted without an
//!   invocation, as Lambda does.
//! * **Outcome.** A successful invocation deletes the batch (with `ReportBatchItemFailures`:
//!   all but the failures it reports, see [`event::settle`]); a function error or timeout
//!   deletes nothing, so the messages come back after their visibility timeout and reach the
//!   queue's dead-letter queue by its redrive policy (which receiving applies). A throttled
//!   invocation is retried while the batch's visibility timeout lasts, never past it: eddy never
//!   extends a message's visibility on its own.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use eddy_pattern::Pattern;
use eddy_runtime::{Invocation, InvokeError};
use eddy_store::Message;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, broadcast, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::EventSourceMappingDef;
use super::definition::{DEFAULT_CONCURRENCY, compile_filters};
use super::event::{self, Settlement, Source};
use crate::Core;
use crate::core_error::CoreError;
use crate::queues::QueueDef;

/// The long poll for a batch's first message (SQS's longest).
const LONG_POLL: Duration = Duration::from_secs(20);
/// Messages asked for in one receive (SQS's `MaxNumberOfMessages` limit, as Lambda's pollers).
const RECEIVE_MAX: usize = 10;
/// The most batches one receive takes (for free concurrency slots, without a batching window).
const BATCHES_PER_RECEIVE: usize = 10;
/// Lambda's limit on a synchronous invocation's payload.
const MAX_PAYLOAD: usize = 6 * 1024 * 1024;
/// What a record adds to its body and attributes, about (the envelope's fields and ids).
const RECORD_OVERHEAD: usize = 600;
/// How often [`run`] looks at the mappings even when the feed says nothing.
const RECHECK: Duration = Duration::from_secs(5);
/// How long a poller waits when its queue is missing or the store fails.
const IDLE: Duration = Duration::from_secs(1);
/// A throttled invocation's first and longest wait before it is retried.
const THROTTLE_BACKOFF: (Duration, Duration) = (Duration::from_millis(50), Duration::from_secs(1));

/// A running poller.
struct Running {
    def: EventSourceMappingDef,
    stop: watch::Sender<bool>,
    /// `None`: the mapping's filters do not compile (reported once; nothing runs).
    task: Option<JoinHandle<()>>,
}

/// Runs every enabled mapping's poller until `stop` turns true (see the module docs).
pub async fn run(core: Arc<Core>, mut stop: watch::Receiver<bool>) {
    let mut followed = Some(core.feed.subscribe());
    let mut running: HashMap<(String, String), Running> = HashMap::new();
    loop {
        if *stop.borrow() {
            break;
        }
        reconcile(&core, &mut running);
        let feed = async {
            match followed.as_mut() {
                Some(rx) => matches!(rx.recv().await, Err(broadcast::error::RecvError::Closed)),
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            closed = feed => if closed { followed = None },
            // A stop sender gone is a stop.
            changed = stop.changed() => if changed.is_err() { break },
            () = tokio::time::sleep(RECHECK) => {}
        }
    }
    for r in running.into_values() {
        let _stopped = r.stop.send(true).is_ok();
    }
}

/// Starts, restarts and stops pollers so that exactly the enabled mappings run, each as it is
/// defined now.
fn reconcile(core: &Arc<Core>, running: &mut HashMap<(String, String), Running>) {
    let wanted: HashMap<(String, String), EventSourceMappingDef> = core
        .sources
        .all()
        .into_iter()
        .filter(EventSourceMappingDef::enabled)
        .filter(|d| runnable(core, d))
        .map(|d| ((d.region.clone(), d.uuid.clone()), d))
        .collect();
    running.retain(|id, r| {
        let keep = wanted.get(id).is_some_and(|d| *d == r.def)
            && r.task.as_ref().is_none_or(|t| !t.is_finished());
        if !keep {
            let _stopped = r.stop.send(true).is_ok();
        }
        keep
    });
    for (id, def) in wanted {
        if running.contains_key(&id) {
            continue;
        }
        let (stop, stopped) = watch::channel(false);
        let task = match compile_filters(&def.filter_criteria, core.sources.limits()) {
            Ok(filters) => {
                tracing::info!(mapping = %def.uuid, function = %def.function_name,
                    queue = %def.event_source_arn, "event source mapping poller started");
                Some(tokio::spawn(poll(
                    core.clone(),
                    Arc::new(def.clone()),
                    Arc::new(filters),
                    stopped,
                )))
            }
            Err(e) => {
                tracing::warn!(mapping = %def.uuid, error = %e,
                    "event source mapping not started: its filters do not compile");
                None
            }
        };
        running.insert(id, Running { def, stop, task });
    }
}

/// Whether a mapping's function and queue exist. A mapping without one runs no poller, so that
/// deleting the function (or the queue) stops the poller at once, a long poll in progress
/// included: otherwise that poll would take the next message, find no function, and leave it
/// invisible with a receive spent towards the dead-letter queue. The poller comes back when
/// the change feed reports the function (or queue) created again.
fn runnable(core: &Core, def: &EventSourceMappingDef) -> bool {
    def.queue().is_some_and(|(region, name)| {
        core.queues.get(region, name).is_some()
            && core
                .functions
                .get(&def.region, &def.function_name)
                .is_some()
    })
}

/// Waits `d`, or less if `stop` changes; answers whether to stop.
async fn idle(stop: &mut watch::Receiver<bool>, d: Duration) -> bool {
    tokio::select! {
        _ = stop.changed() => true,
        () = tokio::time::sleep(d) => *stop.borrow(),
    }
}

/// One mapping's poller (see the module docs).
async fn poll(
    core: Arc<Core>,
    def: Arc<EventSourceMappingDef>,
    filters: Arc<Vec<Pattern>>,
    stop: watch::Receiver<bool>,
) {
    let Some((_, queue_name)) = def.queue() else {
        return;
    };
    // A queue's name says whether it is FIFO, for as long as the mapping names it.
    let fifo = queue_name.ends_with(".fifo");
    let slots = Slots::new(def.concurrency(fifo), def.concurrency_limit(fifo));
    receive(core, def, filters, stop, slots).await;
}

/// A mapping's concurrency slots: as many as it starts with, more (up to `limit`) while its
/// queue has a backlog. Slots are never taken back while the poller runs: a slot costs nothing
/// unless a batch fills it, and batches fill before more of them run.
pub(crate) struct Slots {
    pub(crate) semaphore: Arc<Semaphore>,
    opened: AtomicU32,
    limit: u32,
}

impl Slots {
    pub(crate) fn new(start: u32, limit: u32) -> Self {
        let start = start.min(limit);
        Self {
            semaphore: Arc::new(Semaphore::new(start as usize)),
            opened: AtomicU32::new(start),
            limit,
        }
    }

    /// Adds [`DEFAULT_CONCURRENCY`] slots, up to the limit.
    pub(crate) fn grow(&self) {
        let mut now = self.opened.load(Ordering::Relaxed);
        while now < self.limit {
            let next = (now + DEFAULT_CONCURRENCY).min(self.limit);
            match self
                .opened
                .compare_exchange(now, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => {
                    self.semaphore.add_permits((next - now) as usize);
                    return;
                }
                Err(seen) => now = seen,
            }
        }
    }
}

/// A poller's loop: takes the free slots, receives a batch for each, runs them.
async fn receive(
    core: Arc<Core>,
    def: Arc<EventSourceMappingDef>,
    filters: Arc<Vec<Pattern>>,
    mut stop: watch::Receiver<bool>,
    slots: Slots,
) {
    let semaphore = &slots.semaphore;
    let Some((queue_region, queue_name)) = def.queue() else {
        return;
    };
    loop {
        if *stop.borrow() {
            return;
        }
        // Without its queue or its function a mapping receives nothing (receiving would spend
        // the messages' receive counts towards their dead-letter queue).
        let function = core.functions.get(&def.region, &def.function_name);
        let queue = core.queues.get(queue_region, queue_name);
        let (Some(queue), Some(_)) = (queue, function) else {
            if idle(&mut stop, IDLE).await {
                return;
            }
            continue;
        };
        let queue = Arc::new(queue);
        let permit = tokio::select! {
            p = semaphore.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => return,
            },
            _ = stop.changed() => return,
        };
        // Without a batching window, one receive takes a batch for every free slot (see the
        // module docs).
        let mut permits = vec![permit];
        if def.maximum_batching_window_in_seconds == 0 {
            while permits.len() < BATCHES_PER_RECEIVE {
                match semaphore.clone().try_acquire_owned() {
                    Ok(p) => permits.push(p),
                    Err(_) => break,
                }
            }
        }
        // A stop drops a receive in progress: messages it took come back after their
        // visibility timeout, as any consumer's would.
        let batches = tokio::select! {
            b = collect_batches(&core, &def, &queue, permits.len()) => b,
            _ = stop.changed() => return,
        };
        match batches {
            Ok(batches) => {
                // A backlog: every batch asked for came back full, and no slot is free.
                let want = def.batch_size.max(1) as usize;
                if batches.len() == permits.len()
                    && batches.iter().all(|b| b.messages.len() >= want)
                    && semaphore.available_permits() == 0
                {
                    slots.grow();
                }
                // Each batch runs with a permit of its own; permits left over are released.
                for (mut b, permit) in batches.into_iter().zip(permits) {
                    b.slot = Some(permit);
                    let (core, def, filters, queue) = (
                        core.clone(),
                        def.clone(),
                        filters.clone(),
                        Arc::clone(&queue),
                    );
                    tokio::spawn(async move { process(&core, &def, &queue, &filters, b).await });
                }
            }
            Err(e) => {
                tracing::warn!(mapping = %def.uuid, error = %e, "cannot receive from the queue");
                if idle(&mut stop, IDLE).await {
                    return;
                }
            }
        }
    }
}

/// Messages received for one invocation.
pub(crate) struct Batch {
    pub(crate) messages: Vec<Message>,
    /// When the first message becomes visible again (its receive plus the visibility
    /// timeout): the batch is not held past it.
    pub(crate) visible_again: Instant,
    /// The mapping's concurrency slot the batch holds until its invocation ends (not while its
    /// messages are deleted: `MaximumConcurrency` bounds invocations).
    pub(crate) slot: Option<OwnedSemaphorePermit>,
}

/// Receives one batch (see the module docs): empty when nothing arrived in a long poll.
pub(crate) async fn collect(
    core: &Core,
    def: &EventSourceMappingDef,
    queue: &QueueDef,
) -> Result<Batch, CoreError> {
    let want = def.batch_size.max(1) as usize;
    let visibility = queue.visibility_secs();
    let mut messages = core
        .queues
        .receive(queue, want.min(RECEIVE_MAX), visibility, LONG_POLL)
        .await?;
    let now = Instant::now();
    let visible_again = now + Duration::from_secs(visibility.max(0) as u64);
    let window = Duration::from_secs(u64::from(def.maximum_batching_window_in_seconds));
    // The window ends early enough for the invocation to finish before the first message
    // becomes visible again (else another receive could take it while this batch still runs).
    let timeout = core
        .functions
        .get(&def.region, &def.function_name)
        .map_or(0, |f| f.timeout);
    let room = Duration::from_secs((visibility.max(0) as u64).saturating_sub(u64::from(timeout)));
    let deadline = now + window.min(room);
    let mut size: usize = messages.iter().map(approximate_size).sum();
    let mut excess = Vec::new();
    while !messages.is_empty() && messages.len() < want && size < MAX_PAYLOAD {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        let more = core
            .queues
            .receive(
                queue,
                (want - messages.len()).min(RECEIVE_MAX),
                visibility,
                left,
            )
            .await?;
        for m in more {
            let s = approximate_size(&m);
            if size + s > MAX_PAYLOAD {
                excess.push(m);
            } else {
                size += s;
                messages.push(m);
            }
        }
        if !excess.is_empty() {
            break;
        }
    }
    if !excess.is_empty() {
        let back = excess.into_iter().map(|m| (m.receipt, 0)).collect();
        core.queues.change_visibility(queue, back).await?;
    }
    Ok(Batch {
        messages,
        visible_again,
        slot: None,
    })
}

/// Receives up to `batches` batches at once (see the module docs): one receive of
/// `BatchSize` × `batches` messages, cut into batches of `BatchSize` that also end before
/// Lambda's payload limit; messages past the last batch are made visible again. With a
/// batching window (or one batch) this is [`collect`]. Empty when nothing arrived in a long
/// poll.
pub(crate) async fn collect_batches(
    core: &Core,
    def: &EventSourceMappingDef,
    queue: &QueueDef,
    batches: usize,
) -> Result<Vec<Batch>, CoreError> {
    if batches <= 1 || def.maximum_batching_window_in_seconds > 0 {
        let b = collect(core, def, queue).await?;
        return Ok(if b.messages.is_empty() {
            Vec::new()
        } else {
            vec![b]
        });
    }
    let want = def.batch_size.max(1) as usize;
    let visibility = queue.visibility_secs();
    let messages = core
        .queues
        .receive(
            queue,
            want.min(RECEIVE_MAX) * batches,
            visibility,
            LONG_POLL,
        )
        .await?;
    let visible_again = Instant::now() + Duration::from_secs(visibility.max(0) as u64);
    let mut out: Vec<Batch> = Vec::new();
    let mut current: Vec<Message> = Vec::new();
    let mut size = 0;
    let mut excess = Vec::new();
    for m in messages {
        let s = approximate_size(&m);
        if !current.is_empty() && (current.len() >= want || size + s > MAX_PAYLOAD) {
            out.push(Batch {
                messages: std::mem::take(&mut current),
                visible_again,
                slot: None,
            });
            size = 0;
        }
        if out.len() == batches {
            excess.push(m);
        } else {
            size += s;
            current.push(m);
        }
    }
    if !current.is_empty() {
        out.push(Batch {
            messages: current,
            visible_again,
            slot: None,
        });
    }
    if !excess.is_empty() {
        let back = excess.into_iter().map(|m| (m.receipt, 0)).collect();
        core.queues.change_visibility(queue, back).await?;
    }
    Ok(out)
}

/// A message's share of the invocation payload, about.
fn approximate_size(m: &Message) -> usize {
    m.body.len() + m.attributes.len() + RECORD_OVERHEAD
}

/// Runs one batch: filters, invocation, deletes (see the module docs).
pub(crate) async fn process(
    core: &Core,
    def: &EventSourceMappingDef,
    queue: &QueueDef,
    filters: &[Pattern],
    batch: Batch,
) {
    let src = Source {
        queue_arn: &def.event_source_arn,
        region: &def.region,
        account: core.functions.account(),
        fifo: queue.fifo(),
    };
    let Batch {
        messages,
        visible_again,
        slot,
    } = batch;
    let (mut kept, mut records, mut filtered) = (Vec::new(), Vec::new(), Vec::new());
    for m in messages {
        let rec = event::record(&src, &m);
        if event::passes(filters, &rec) {
            kept.push(m);
            records.push(rec);
        } else {
            filtered.push(m);
        }
    }
    if !filtered.is_empty() {
        tracing::debug!(mapping = %def.uuid, messages = filtered.len(),
            "messages matched no filter; deleted");
        settle(core, def, queue, &filtered, &Settlement::All).await;
    }
    if kept.is_empty() {
        return;
    }
    let payload = bytes::Bytes::from(event::event(&records));
    let mut backoff = THROTTLE_BACKOFF.0;
    let outcome = loop {
        // An alias resolves per batch (its routing weights pick the version).
        let Ok(target) =
            core.functions
                .resolve(&def.region, &def.function_name, def.qualifier.as_deref())
        else {
            tracing::warn!(mapping = %def.uuid, function = %def.function_name,
                "the mapping's function (or its version or alias) does not exist; its messages stay on the queue");
            return;
        };
        let inv = Invocation {
            payload: payload.clone(),
            invoked_arn: target.invoked_arn.clone(),
            ..Invocation::default()
        };
        match target.pool.invoke(inv).await {
            Ok(outcome) => break outcome,
            Err(InvokeError::TooManyRequests) => {
                if Instant::now() + backoff >= visible_again {
                    tracing::info!(mapping = %def.uuid, function = %def.function_name,
                        "function throttled for the whole visibility timeout; the batch returns to the queue");
                    return;
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(THROTTLE_BACKOFF.1);
            }
        }
    };
    drop(slot);
    if let Some(error) = outcome.function_error {
        tracing::info!(mapping = %def.uuid, function = %def.function_name,
            request = %outcome.request_id, %error, messages = kept.len(),
            "function failed the batch; its messages return after their visibility timeout");
        return;
    }
    let ids: Vec<&str> = kept.iter().map(|m| m.message_id.as_str()).collect();
    let settlement = event::settle(&outcome.payload, &ids, def.reports_item_failures());
    if settlement == Settlement::None {
        tracing::info!(mapping = %def.uuid, function = %def.function_name,
            request = %outcome.request_id,
            "the function's batch response is not valid; the whole batch failed");
    }
    settle(core, def, queue, &kept, &settlement).await;
}

/// Deletes the messages of a batch that `settlement` deletes. A receipt that is stale (the
/// message was received again after its visibility timeout) deletes nothing, as in SQS.
pub(crate) async fn settle(
    core: &Core,
    def: &EventSourceMappingDef,
    queue: &QueueDef,
    messages: &[Message],
    settlement: &Settlement,
) {
    let receipts: Vec<String> = messages
        .iter()
        .filter(|m| settlement.deletes(&m.message_id))
        .map(|m| m.receipt.clone())
        .collect();
    if receipts.is_empty() {
        return;
    }
    if let Err(e) = core.queues.delete_messages(queue, receipts).await {
        tracing::warn!(mapping = %def.uuid, error = %e,
            "cannot delete processed messages; they will be received again");
    }
}
