//! The store: the durable log and state behind everything eddy acknowledges.
//!
//! This crate owns three kinds of durable data and nothing else (it knows no HTTP and no AWS
//! wire format):
//!
//! * the **event log**: every event a bus accepted, in append order;
//! * **work items**: one per (event, rule, target) that still has to be delivered, with a due
//!   time, an attempt count and a lease; and the **dead letters** that gave up;
//! * **definitions**: buses, rules, targets and whatever else the control plane keeps, as opaque
//!   values under a `(kind, key)` pair, with change notification.
//!
//! The [`Store`] trait is the narrow contract a backend implements. [`EmbeddedStore`] is the
//! single-node backend on SQLite; a NATS JetStream backend implements the same trait later.
//!
//! # Durability contract
//!
//! * [`Store::append`] returns `Ok` only after the events **and** their work items are durable:
//!   they are written in one SQLite transaction and the write-ahead log is fsynced
//!   (`journal_mode = WAL`, `synchronous = FULL`) before any caller in that commit is answered.
//!   Concurrent callers share one transaction and one fsync (group commit). A crash before the
//!   fsync loses the whole batch, and none of its callers has been acknowledged; a crash after it
//!   loses nothing.
//! * Events and their work items are committed atomically, so there is no window in which an
//!   acknowledged event exists without the deliveries it owes.
//! * Schedule ticks ([`AppendBatch::ticks`]) are committed in the same transaction as the events
//!   they fired: after a crash a tick is either recorded with its events or absent with them, so
//!   the scheduler neither fires a recorded tick again nor loses an unrecorded one.
//!   [`Store::ticks`] reads the last recorded tick of every schedule.
//! * [`Store::lease`] makes a work item invisible until `now + lease`; the change is durable
//!   before the lease is handed out. If the holder crashes, the item becomes due again when the
//!   lease expires and is delivered again: **a crash may repeat a delivery, never drop one**.
//! * [`Store::ack`] (delivered), [`Store::nack`] (retry later) and [`Store::dead_letter`] (give
//!   up, keep the reason) are durable when they return. An ack lost in a crash means one more
//!   delivery of that item, never a lost one.
//! * [`Store::apply`] commits a group of definition changes atomically and durably, then
//!   notifies watchers ([`Store::watch`]). A watcher that lags re-reads [`Store::definitions`].
//!
//! * **A full disk loses nothing acknowledged.** A change that cannot be written for lack of
//!   space (SQLite's `SQLITE_FULL`, or `ENOSPC`/`EDQUOT` from the file system) is rolled back
//!   whole and its caller gets [`StoreError::Full`]: it was never acknowledged. Everything
//!   acknowledged before stays durable. From that moment [`Store::health`] reports
//!   [`StoreHealth::Full`], until a later write succeeds (a caller's, or the store's own probe,
//!   about once a second while it is full): when space returns, writes resume without a restart.
//!
//! # Recovery
//!
//! Opening a store runs SQLite's own WAL recovery; there is no eddy-specific recovery step,
//! because every state change above is a single committed transaction. Leased items whose
//! lease ran out while eddy was down are simply due.
//!
//! # Files
//!
//! The embedded store's files hold events, definitions (API keys, function environments) and
//! messages, so only the user that runs eddy may read them: a directory the store creates is
//! `0700`, and `eddy.db`, `eddy.db-wal` and `eddy.db-shm` are `0600` whatever the umask. Files
//! of an existing store that are readable by others are tightened to `0600` when it opens.

mod embedded;
pub mod logs;
pub mod queue;

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

pub use embedded::{EmbeddedStore, EmbeddedStoreOptions};
pub use logs::{LogEvent, LogQuery, LogStream, NewLogEvent};
pub use queue::{Message, NewMessage, QueueStats, ReceiveOptions, Sent};

/// A boxed, sendable future: what the [`Store`] methods return, so the trait stays object safe.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Errors of the store. A store error is never the caller's fault.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store i/o failed: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("store i/o failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("the store is closed")]
    Closed,
    /// No space left where the store writes: the change was not made (and so never
    /// acknowledged). Retrying once space returns succeeds; [`Store::health`] says when. The
    /// text says where, e.g. "no space left on the file system of `/var/lib/eddy`".
    #[error("the store is full: {0}")]
    Full(String),
}

/// Whether the store can take writes (see [`Store::health`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreHealth {
    /// Writes succeed.
    Ok,
    /// The last write failed for lack of space; writes fail with [`StoreError::Full`] until
    /// space returns. `message` is that error's text.
    Full { message: String },
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// An event to append to the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    /// The event id (`id` in the envelope).
    pub id: String,
    /// The bus that accepted it, as the caller names buses (eddy uses `REGION/NAME`).
    pub bus: String,
    /// Event time in milliseconds since the epoch (`time` in the envelope).
    pub time_ms: i64,
    /// The full event envelope as JSON text.
    pub body: String,
    /// How many bus-to-bus forwards brought the event here (0 when put by a client).
    pub hops: u32,
}

/// A delivery owed for an event of the same [`AppendBatch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewWork {
    /// Index into [`AppendBatch::events`].
    pub event: usize,
    /// The rule that matched (its ARN).
    pub rule: String,
    /// The target within the rule (its id).
    pub target: String,
}

/// Events and their work items, appended atomically.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppendBatch {
    pub events: Vec<NewEvent>,
    pub work: Vec<NewWork>,
    /// Work items this append completes (a bus target forwarding its event), removed in the same
    /// transaction.
    pub ack: Vec<i64>,
    /// Schedule ticks these events fire, recorded in the same transaction (see [`Tick`]).
    pub ticks: Vec<Tick>,
    /// The ingestion time (ms since the epoch) to record for the events and their work items
    /// (which become due at it); the store's own clock when `None`. Callers with a movable clock
    /// pass theirs so that due times and event ages follow it.
    pub now_ms: Option<i64>,
}

/// The last fired tick of one schedule: the scheduler appends it with the events that tick fired,
/// so a tick is recorded if and only if its events are, and a restart never fires it twice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tick {
    /// The schedule's key, as the scheduler names schedules.
    pub schedule: String,
    /// The nominal time of the tick (ms since the epoch). A later tick of the same schedule
    /// replaces an earlier one; an earlier one never replaces a later one.
    pub tick_ms: i64,
}

/// A work item handed out by [`Store::lease`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkItem {
    /// Store-assigned id, used to ack/nack/dead-letter. Ids are never reused, so an ack from a
    /// holder whose lease ran out can only ever remove the item it delivered.
    pub id: i64,
    pub event_id: String,
    pub bus: String,
    pub rule: String,
    pub target: String,
    /// Attempts made so far, including the one this lease is for.
    pub attempts: u32,
    /// When the item was created (ms since the epoch): the event's ingestion time.
    pub created_ms: i64,
    /// The event envelope.
    pub body: String,
    /// Bus-to-bus forwards so far.
    pub hops: u32,
}

/// A work item that gave up, with the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// The id the work item had.
    pub id: i64,
    pub event_id: String,
    pub bus: String,
    pub rule: String,
    pub target: String,
    pub attempts: u32,
    pub reason: String,
    pub dead_ms: i64,
    pub body: String,
}

/// An event as read back from the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    /// Position in the log (1-based, increasing).
    pub seq: i64,
    pub id: String,
    pub bus: String,
    pub time_ms: i64,
    pub ingested_ms: i64,
    pub body: String,
}

/// A window of one bus's events by event time, read in event-time order
/// ([`Store::events_by_time`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRange {
    /// The bus, as [`NewEvent::bus`] names it.
    pub bus: String,
    /// Event time, inclusive (ms since the epoch).
    pub from_ms: i64,
    /// Event time, exclusive.
    pub to_ms: i64,
    /// Only events ingested at or after this time.
    pub ingested_from_ms: i64,
    /// Only events ingested before this time.
    pub ingested_to_ms: i64,
    /// Resume after this position `(time_ms, seq)`: the last event of the previous page.
    pub after: Option<(i64, i64)>,
    /// Most events to return.
    pub limit: usize,
}

impl EventRange {
    /// Every event of `bus`, whatever its times, from the start.
    pub fn all(bus: impl Into<String>, limit: usize) -> Self {
        Self {
            bus: bus.into(),
            from_ms: i64::MIN,
            to_ms: i64::MAX,
            ingested_from_ms: i64::MIN,
            ingested_to_ms: i64::MAX,
            after: None,
            limit,
        }
    }
}

/// One change to a definition: `value: None` deletes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefinitionChange {
    pub kind: String,
    pub key: String,
    pub value: Option<Vec<u8>>,
}

impl DefinitionChange {
    pub fn put(kind: &str, key: impl Into<String>, value: Vec<u8>) -> Self {
        Self {
            kind: kind.to_owned(),
            key: key.into(),
            value: Some(value),
        }
    }

    pub fn delete(kind: &str, key: impl Into<String>) -> Self {
        Self {
            kind: kind.to_owned(),
            key: key.into(),
            value: None,
        }
    }
}

/// A stored definition: `(kind, key, value)`.
pub type Definition = (String, String, Vec<u8>);

/// What a watcher of definitions receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notification {
    /// These changes were committed, in this order.
    Changed(Vec<DefinitionChange>),
    /// Everything was wiped ([`Store::reset`]).
    Reset,
}

/// Counts of what the store holds, for metrics and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreCounts {
    pub events: u64,
    pub work_items: u64,
    pub dead_letters: u64,
    pub definitions: u64,
}

/// Observes store internals (commit latency, batch sizes) without the store knowing about any
/// metrics library.
pub trait StoreObserver: Send + Sync + 'static {
    /// One transaction committed (and synced) holding `requests` caller requests.
    fn committed(&self, duration: Duration, requests: usize);
}

/// An observer that ignores everything.
pub struct NoObserver;

impl StoreObserver for NoObserver {
    fn committed(&self, _: Duration, _: usize) {}
}

/// The durability contract (see the crate docs). Every method that changes state returns only
/// after the change is durable.
pub trait Store: Send + Sync + 'static {
    /// Appends events and the work items they owe, atomically.
    fn append(&self, batch: AppendBatch) -> BoxFuture<'_, Result<()>>;

    /// Leases up to `max` due work items (`due <= now_ms`), oldest first, optionally only for one
    /// `target`; each becomes invisible until `now_ms + lease_ms` and has its attempt count
    /// incremented.
    fn lease(
        &self,
        target: Option<String>,
        now_ms: i64,
        max: usize,
        lease_ms: i64,
    ) -> BoxFuture<'_, Result<Vec<WorkItem>>>;

    /// Makes every leased work item due now. Called once at start-up by the only process that
    /// uses an embedded store: leases held when it stopped died with it, so their items are
    /// delivered again at once instead of after the lease runs out.
    fn release_leases(&self, now_ms: i64) -> BoxFuture<'_, Result<u64>>;

    /// When the earliest work item is due, if there is any.
    fn next_due(&self) -> BoxFuture<'_, Result<Option<i64>>>;

    /// Removes delivered work items.
    fn ack(&self, ids: Vec<i64>) -> BoxFuture<'_, Result<()>>;

    /// Makes a leased item due again at `due_ms`.
    fn nack(&self, id: i64, due_ms: i64) -> BoxFuture<'_, Result<()>>;

    /// Moves a work item to the dead letters with a reason.
    fn dead_letter(&self, id: i64, reason: String, now_ms: i64) -> BoxFuture<'_, Result<()>>;

    /// Reads dead letters, oldest first.
    fn dead_letters(&self, limit: usize) -> BoxFuture<'_, Result<Vec<DeadLetter>>>;

    /// Reads events from the log with `seq > after`, in order.
    fn events(&self, after: i64, limit: usize) -> BoxFuture<'_, Result<Vec<StoredEvent>>>;

    /// Reads the events of one bus whose event time is in `[from_ms, to_ms)` and whose ingestion
    /// time is in `[ingested_from_ms, ingested_to_ms)`, ordered by event time then log position,
    /// starting after `range.after`. Pages never skip or repeat an event: pass the
    /// `(time_ms, seq)` of the last event returned as the next page's `after`.
    fn events_by_time(&self, range: EventRange) -> BoxFuture<'_, Result<Vec<StoredEvent>>>;

    /// Commits definition changes atomically, then notifies watchers.
    fn apply(&self, changes: Vec<DefinitionChange>) -> BoxFuture<'_, Result<()>>;

    /// Every definition, as `(kind, key, value)`, ordered by kind then key.
    fn definitions(&self) -> BoxFuture<'_, Result<Vec<Definition>>>;

    /// Subscribes to definition changes committed from now on.
    fn watch(&self) -> tokio::sync::broadcast::Receiver<Notification>;

    /// Counts what the store holds.
    fn counts(&self) -> BoxFuture<'_, Result<StoreCounts>>;

    /// Wipes everything (dev mode's reset).
    fn reset(&self) -> BoxFuture<'_, Result<()>>;

    /// The last recorded tick of every schedule, as `(schedule key, tick ms)`.
    fn ticks(&self) -> BoxFuture<'_, Result<Vec<(String, i64)>>>;

    /// Forgets the recorded ticks of schedules that no longer exist.
    fn forget_ticks(&self, schedules: Vec<String>) -> BoxFuture<'_, Result<()>>;

    /// Sends messages to a queue (see [`queue`]); answers in order. `ack` names work items this
    /// send delivers: they are removed in the same transaction, so a queue target receives each
    /// event exactly once even across crashes.
    fn queue_send(
        &self,
        queue: String,
        messages: Vec<NewMessage>,
        now_ms: i64,
        ack: Vec<i64>,
    ) -> BoxFuture<'_, Result<Vec<Sent>>>;

    /// Receives up to `opts.max` visible messages, making each invisible for the visibility
    /// timeout and giving it a new receipt handle.
    fn queue_receive(
        &self,
        queue: String,
        opts: ReceiveOptions,
    ) -> BoxFuture<'_, Result<Vec<Message>>>;

    /// Deletes the message a receipt handle names; `false` when no message has that receipt.
    fn queue_delete(
        &self,
        queue: String,
        receipts: Vec<String>,
    ) -> BoxFuture<'_, Result<Vec<bool>>>;

    /// Sets when received messages become visible again (`(receipt, visible_ms)`); `false` for a
    /// receipt that names no message in flight.
    fn queue_change_visibility(
        &self,
        queue: String,
        changes: Vec<(String, i64)>,
        now_ms: i64,
    ) -> BoxFuture<'_, Result<Vec<bool>>>;

    /// Deletes every message of a queue (and its deduplication memory).
    fn queue_purge(&self, queue: String) -> BoxFuture<'_, Result<()>>;

    /// Message counts of a queue.
    fn queue_stats(&self, queue: String, now_ms: i64) -> BoxFuture<'_, Result<QueueStats>>;

    /// When the queue's next message becomes visible, if it holds any.
    fn queue_next_visible(&self, queue: String) -> BoxFuture<'_, Result<Option<i64>>>;

    /// Appends log events (see [`logs`]); `ack` names work items this append delivers, removed
    /// in the same transaction.
    fn logs_append(
        &self,
        events: Vec<NewLogEvent>,
        now_ms: i64,
        ack: Vec<i64>,
    ) -> BoxFuture<'_, Result<()>>;

    /// Reads log events of one group in time order.
    fn logs_read(&self, query: LogQuery) -> BoxFuture<'_, Result<Vec<LogEvent>>>;

    /// The streams of a log group.
    fn logs_streams(&self, group: String) -> BoxFuture<'_, Result<Vec<LogStream>>>;

    /// Deletes every log event of a group.
    fn logs_delete_group(&self, group: String) -> BoxFuture<'_, Result<()>>;

    /// Whether writes succeed right now: [`StoreHealth::Full`] from the moment a write fails for
    /// lack of space until a write succeeds again. Cheap (no I/O): health checks may call it as
    /// often as they like.
    fn health(&self) -> StoreHealth;
}
