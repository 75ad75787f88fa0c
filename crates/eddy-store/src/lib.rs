//! The store: the durable log and state behind everything eddy acknowledges.
//!
//! This crate is the store **contract** and its two backends. It knows no HTTP and no AWS
//! wire format. The contract is eight traits, one per concern, that every backend implements:
//!
//! | trait | what it keeps |
//! | --- | --- |
//! | [`EventLog`] | every event a bus accepted, in append order, appended with the work it owes |
//! | [`WorkStore`] | work items (one per event, rule and target still to deliver) with leases, and the dead letters that gave up |
//! | [`QueueStore`] | SQS-shaped queues: messages, visibility, receipts, FIFO groups, deduplication |
//! | [`DefinitionStore`] | definitions (buses, rules, queues, functions...) as opaque values under `(kind, key)`, with a change feed |
//! | [`LogStore`] | log events by group and stream (function logs, log-group targets) |
//! | [`TickStore`] | the last fired tick of every schedule |
//! | [`ClusterStore`] | the nodes sharing the store: leadership of singleton roles, a registry with heartbeats |
//! | [`ObjectStore`] | buckets' object index (versions, metadata, multipart uploads); the data itself is in [`Blobs`] |
//!
//! [`Store`] bundles the eight (plus [`Store::reset`] and [`Store::health`]), so a server holds one
//! `Arc<dyn Store>` and hands narrower views (`Arc<dyn QueueStore>`, ...) to the parts that need
//! only one concern. [`open`] resolves a store URI ([`StoreUri`]: `sqlite:DIR` or
//! `postgres://...`) to a backend; errors ([`StoreError`]) name no backend.
//!
//! | backend | for | module |
//! | --- | --- | --- |
//! | [`EmbeddedStore`] | one node: SQLite in the data directory (the default) | `embedded` |
//! | [`PostgresStore`] | several nodes sharing one PostgreSQL database | `postgres` |
//!
//! Every backend must pass the conformance suite in the crate `eddy-store-conformance`, which
//! checks the contract below concern by concern, crash points included (the embedded store runs
//! it from that crate's `tests/embedded.rs`).
//!
//! # Durability contract
//!
//! What a backend must guarantee, whatever it is built on. "Durable" means: it survives a crash
//! of the process and a loss of power of the machine once the call returned `Ok`. Every method
//! that changes state returns only after the change is durable; a call that fails changed
//! nothing (a backend rolls the whole change back).
//!
//! **Event log** ([`EventLog`]).
//! * [`EventLog::append`] returns `Ok` only after the events, the work items they owe, the work
//!   items the batch completes ([`AppendBatch::ack`]) and the schedule ticks it records
//!   ([`AppendBatch::ticks`]) are durable, **atomically**: after a crash all of them are there or
//!   none. There is no window in which an acknowledged event exists without the deliveries it
//!   owes, and no window in which a tick is recorded without the events it fired (so the
//!   scheduler neither fires a recorded tick again nor loses an unrecorded one).
//! * Log positions (`seq`) increase in append order and are never reused.
//! * A backend may share one commit among concurrent callers (group commit); it answers none of
//!   them before that commit is durable.
//!
//! **Work items and leases** ([`WorkStore`]).
//! * [`WorkStore::lease`] hands out due items and makes each invisible until the lease ends; the
//!   lease is durable before it is handed out. A holder that crashes loses its lease when it
//!   ends and the item is handed out again: **a crash may repeat a delivery, never drop one**.
//! * **Every lease is fenced.** Each time an item is leased it gets a new fencing token (a
//!   counter kept with the item, which only grows), carried by [`WorkItem::token`]; the holder
//!   names its lease as [`Lease`] (item id and token). [`WorkStore::ack`] (delivered),
//!   [`WorkStore::nack`] (retry at a time), [`WorkStore::dead_letter`] (give up, keep the
//!   reason) and [`WorkStore::extend`] (renew) change the item only while that lease is the
//!   current one: the item is still leased, under the same token. A **stale holder** (whose
//!   lease ran out, and perhaps went to another holder who got a new token) is refused: the
//!   call answers which leases it refused, changes nothing for them, and still settles the
//!   others. A stale holder can therefore never remove, reschedule or dead-letter an item that
//!   someone else now delivers, nor renew a lease it lost.
//! * The writes that complete work items together with their delivery (the work items named
//!   by [`AppendBatch::ack`], [`QueueStore::queue_send`]'s and [`LogStore::logs_append`]'s
//!   `ack`) are fenced the same way, and atomically: if any lease they name is no longer
//!   current, **nothing** is written and the call fails with [`StoreError::LeaseLost`] naming
//!   those leases, so a stale holder's late delivery neither lands nor removes the item.
//! * **Lease deadlines are kept on the store's own clock**, never on the caller's `now_ms`:
//!   `now_ms` says which items are *due* (callers with a movable dev clock pass theirs, so
//!   retries and delays follow it), while a lease of `lease_ms` ends `lease_ms` later by the
//!   store's clock (the system clock for the embedded store, [`StoreClock`]). A caller's clock
//!   moved forward by hours therefore makes waiting items due, but never ends a lease that a
//!   live holder keeps renewing, and so never duplicates work in flight.
//! * These are durable when they return. An ack lost in a crash means one more delivery of that
//!   item, never a lost one.
//! * Work item ids are never reused, so a late ack of an item that was delivered and removed
//!   can never remove another item.
//! * [`WorkStore::release_leases`] ends every lease at once: a single process that restarts
//!   knows that every lease it finds died with its previous life, so items held by a process
//!   that was killed are due again at once, without waiting for their deadlines.
//!
//! **Queues** ([`QueueStore`]).
//! * A sent message is durable when [`QueueStore::queue_send`] returns; a received message that
//!   is not deleted becomes visible again when its visibility timeout runs out, after a crash
//!   too. Only the latest receipt handle of a message deletes it or changes its visibility.
//! * A send that names work items ([`QueueStore::queue_send`]'s `ack`) removes them in the same
//!   atomic change: a queue target receives each event once even across crashes.
//!
//! **Definitions** ([`DefinitionStore`]).
//! * [`DefinitionStore::apply`] commits a group of changes atomically and durably, then
//!   announces them to every watcher ([`DefinitionStore::watch`]) in commit order, each commit
//!   with its **version** (growing, never reused, kept across restarts). Caches of definitions
//!   follow this feed, their own process's writes included, so that processes sharing a store
//!   see each other's changes; a writer waits until its cache has applied the version its
//!   `apply` answered. A watcher that lags (its receiver reports it) re-reads
//!   [`DefinitionStore::definitions`], which always reflects every acknowledged change and
//!   says which version it is.
//!
//! **Logs** ([`LogStore`]).
//! * Appended log events are durable when [`LogStore::logs_append`] returns, atomically with the
//!   work items it names (a log-group target's delivery).
//!
//! **Ticks** ([`TickStore`]).
//! * A tick is recorded only with the events it fired ([`AppendBatch::ticks`]), and **each tick
//!   fires once, whatever the number of nodes**: an append whose ticks are not all *later* than
//!   the tick recorded for their schedule (by an earlier append, or earlier in the same
//!   [`AppendBatch::ticks`]) writes **nothing** and fails with [`StoreError::TickTaken`] naming
//!   those schedules, exactly as a fenced write whose lease was lost does. So when two nodes (or
//!   a node and its restarted self) fire the same tick, the database lets one append through and
//!   refuses the other whole: its events never reach the log. Appends that share a group commit
//!   with a refused one are unaffected (each append is all-or-nothing on its own). The check and
//!   the record are one atomic step under the store's own locks (the PostgreSQL store locks the
//!   tick rows, inserting the first tick of a schedule so that two nodes inserting it at once
//!   cannot both win). [`TickStore::ticks`] reads what was recorded; after
//!   [`TickStore::forget_ticks`] a schedule's next tick is recorded afresh, whatever its time.
//!
//! **Objects** ([`ObjectStore`]).
//! * [`ObjectStore::objects_write`] returns `Ok` only after its record changes, its upload
//!   change and its [`AppendBatch`] (the object's events and the deliveries they owe) are
//!   durable, **atomically**, with the fencing and tick rules of [`EventLog::append`]: a write
//!   whose `ack` names a lease no longer current, or whose tick was taken, writes **nothing**
//!   (no record, no upload change, no event) and fails with [`StoreError::LeaseLost`] /
//!   [`StoreError::TickTaken`]. After a crash an object is there with its events, or neither
//!   is. An empty append is fine.
//! * **A multipart upload finishes once, with the parts it was read with.** An
//!   [`UploadChange::Finish`] (a completion keeping the parts' blobs it names, or an abort
//!   keeping none) is checked and applied as one atomic step under the store's own locks: when
//!   the upload no longer exists (another completion or an abort finished it, a bucket purge
//!   removed it) the write is refused with [`StoreError::UploadGone`], and when `keep` names a
//!   blob that is not, at that moment, the blob of one of the upload's parts (an upload of the
//!   part replaced it since the caller read the parts) it is refused with
//!   [`StoreError::PartReplaced`]. Either way **nothing** is written (no record, no upload
//!   change, no event), exactly as a fenced write whose lease was lost. So a completed object
//!   never names a blob that a racing abort or part upload freed (and its caller deleted), two
//!   completions of one upload cannot both commit, and every blob's reference count stays
//!   right. These refusals are races between callers, never a caller's mistake: the caller
//!   answers that the upload is gone, or reads the parts again.
//! * Every write of a version gives it a new position (`seq`, growing, never reused, a reset
//!   included); the **latest** version of a key is the one with the highest position, so a
//!   delete of the latest makes the previous one latest, and a replacement (same version id)
//!   becomes latest again. A [`ObjectChange::Meta`] change keeps the position.
//!   [`ObjectStore::objects_list`] answers latest versions that are not delete markers, in
//!   byte order of their keys; [`ObjectStore::object_versions`] answers every version, delete
//!   markers included (key ascending, newest first).
//! * Object data lives in blob files ([`Blobs`]), written and synced before the record that
//!   names them, and deleted only after no record names them: every change answers the blobs
//!   no version and no part refers to any more (a completed upload's `keep` are not answered),
//!   for the caller to delete; a crash between the two leaves orphans that
//!   [`Blobs::sweep`] finds and [`ObjectStore::blobs_referenced`] confirms.
//! * A part for an upload that no longer exists (completed or aborted) is not recorded
//!   ([`ObjectStore::upload_part_put`] answers `None`, as a finish of it is refused with
//!   [`StoreError::UploadGone`]): no part outlives its upload.
//!
//! **Nodes** ([`ClusterStore`]).
//! * [`ClusterStore::leadership`] says whether this node holds a singleton role (the
//!   scheduler): at most one node at a time reports `true` for a role, as far as the backend can
//!   tell (the PostgreSQL store holds a session advisory lock and reports `false` as soon as it
//!   cannot be sure it still holds it). Leadership is for **efficiency**, not correctness:
//!   what must never happen twice is enforced by the data itself (a tick by
//!   [`StoreError::TickTaken`], a delivery by its lease's fencing token), so a stale leader
//!   that acts once more is refused, not doubled.
//! * [`ClusterStore::heartbeat`] records that a node is alive, on the store's clock;
//!   [`ClusterStore::nodes`] lists the nodes recorded. Neither is durable in the sense above:
//!   the registry describes processes, not data (the embedded store keeps its one node in
//!   memory), and [`Store::reset`] leaves it alone.
//!
//! **Space.** Deleting (retention, acks, queue deletes) frees space inside the store;
//! [`Store::reclaim`] gives it back to the file system in bounded steps, so a store that shrank
//! also shrinks on disk without a stop-the-world compaction.
//!
//! **A full disk loses nothing acknowledged.** A change that cannot be written for lack of
//! space is rolled back whole and its caller gets [`StoreError::Full`]: it was never
//! acknowledged. Everything acknowledged before stays durable. From that moment
//! [`Store::health`] reports [`StoreHealth::Full`], until a later write succeeds: when space
//! returns, writes resume without a restart. Reads keep working while the store is full.
//!
//! **Failures name no backend.** A backend reports its own failures as [`StoreError::Backend`]
//! (the cause kept as the error's source), a store it cannot reach right now (connection
//! refused, lost or timed out, no connection free in time) as [`StoreError::Unavailable`], lack
//! of space as [`StoreError::Full`], a store that was shut down as [`StoreError::Closed`], a
//! fenced write whose leases were lost as [`StoreError::LeaseLost`], an append whose tick
//! another append recorded first as [`StoreError::TickTaken`], and the finish of a multipart
//! upload that another write finished or changed first as [`StoreError::UploadGone`] /
//! [`StoreError::PartReplaced`]. No store error is a caller's mistake (the last four are
//! races: the caller lost to another writer). **Nothing is acknowledged that was not
//! committed**: a write whose commit has an unknown outcome (the connection broke after
//! `COMMIT` was sent) fails, with [`StoreError::Unavailable`]; it may have been made, so
//! retrying it repeats it (at least once, never lost).
//!
//! # The embedded backend
//!
//! [`EmbeddedStore`] keeps everything in one SQLite database in WAL mode with
//! `synchronous = FULL`: the write-ahead log is fsynced before a commit returns. One writer
//! thread does group commit. Opening it runs SQLite's own WAL recovery; there is no
//! eddy-specific recovery step, because every state change above is a single committed
//! transaction (an object write is one command of the group commit, its append included). See
//! the `embedded` module for its files and their modes, and `embedded/objects.rs` for the
//! object index's tables and indexes.
//!
//! # The PostgreSQL backend
//!
//! [`PostgresStore`] keeps everything in one PostgreSQL schema, shared by every node. Each
//! change above is one PostgreSQL transaction, answered after its `COMMIT` returned with the
//! server's `synchronous_commit` (by default `on`: the WAL is flushed first); one task per node
//! does group commit for appends. Leases are taken with `FOR UPDATE SKIP LOCKED` and kept on the
//! database's clock; [`WorkStore::release_leases`] ends only the calling node's leases, since
//! other nodes' leases belong to live processes. Ticks are compared under row locks in the
//! append's transaction; leadership is a session advisory lock per role; the node registry is a
//! table. An object write is one transaction that takes an advisory lock per key it changes
//! (so the latest version of a key is decided by one writer at a time) and its append's locks
//! in the append's order (`postgres/objects.rs`, "Lock order"). See the `postgres` module.

pub mod blobs;
mod embedded;
pub mod logs;
pub mod objects;
mod postgres;
pub mod queue;
mod uri;

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

pub use blobs::{BlobSink, BlobStore, BlobStream, BlobWriter, Blobs};
pub use embedded::{EmbeddedStore, EmbeddedStoreOptions};
pub use logs::{LogEvent, LogPosition, LogQuery, LogStream, NewLogEvent};
pub use objects::{
    BlobRef, ObjectChange, ObjectQuery, ObjectRecord, ObjectStore, ObjectWrite, PartRecord,
    UploadChange, UploadRecord, VersionQuery,
};
pub use postgres::{PostgresStore, PostgresStoreOptions, with_schema as postgres_uri_with_schema};
pub use queue::{Message, NewMessage, QueueStats, ReceiveOptions, Sent};
pub use uri::{OpenError, StoreOptions, StoreUri, open};

/// A boxed, sendable future: what the store traits' methods return, so the traits stay object
/// safe.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Errors of the store. A store error is never the caller's fault.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The backend failed to read or write (an I/O error, a damaged file, a lost connection).
    /// The backend's own error is the source.
    #[error("store i/o failed: {0}")]
    Backend(#[source] BackendError),
    #[error("the store is closed")]
    Closed,
    /// No space left where the store writes: the change was not made (and so never
    /// acknowledged). Retrying once space returns succeeds; [`Store::health`] says when. The
    /// text says where, e.g. "no space left on the file system of `/var/lib/eddy`".
    #[error("the store is full: {0}")]
    Full(String),
    /// A write that completes work items named leases that are no longer current (they ran out,
    /// or another holder leased the items since): nothing of the write was made. These are the
    /// leases refused.
    #[error("the lease of {} work item(s) was lost: nothing was written", .0.len())]
    LeaseLost(Vec<Lease>),
    /// An append's ticks were not all later than the ticks recorded for their schedules
    /// (another node, or an earlier append, fired them first): nothing of the append was
    /// written. These are the schedules whose tick was taken, each once.
    #[error("the tick of {} schedule(s) was already fired: nothing was written", .0.len())]
    TickTaken(Vec<String>),
    /// An object write finished ([`UploadChange::Finish`]) a multipart upload that no longer
    /// exists: another write completed or aborted it (or purged its bucket) since the caller
    /// read it. Nothing of the write was made. This is the upload's id.
    #[error("the multipart upload `{0}` no longer exists: nothing was written")]
    UploadGone(String),
    /// An object write finished a multipart upload keeping blobs that are no longer parts of
    /// it: a part was uploaded again (replacing the one the caller read) since the caller read
    /// the parts. Nothing of the write was made; the upload and its parts are as they were.
    /// These are the upload's id and the blobs of `keep` that are not its parts' blobs.
    #[error(
        "{} blob(s) the completion of the multipart upload `{upload_id}` keeps are no longer its parts: nothing was written",
        .blobs.len()
    )]
    PartReplaced {
        upload_id: String,
        blobs: Vec<String>,
    },
    /// The store cannot be reached right now (connection refused, lost or timed out, no
    /// connection free in time): retryable, and it clears by itself when the store is back.
    /// Nothing was acknowledged; a write that failed this way while committing may have been
    /// made all the same (see the crate docs, "Failures name no backend"). The text says why.
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
}

impl StoreError {
    /// A backend failure, keeping `cause` as the source.
    pub fn backend(cause: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Backend(BackendError(cause.into()))
    }
}

/// A backend's own error, opaque to callers: its text is the backend's message.
#[derive(Debug)]
pub struct BackendError(Box<dyn std::error::Error + Send + Sync>);

impl std::fmt::Display for BackendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for BackendError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
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
    /// transaction; fenced: if one of these leases is no longer current, nothing is appended
    /// ([`StoreError::LeaseLost`]).
    pub ack: Vec<Lease>,
    /// Schedule ticks these events fire, recorded in the same transaction (see [`Tick`]); each
    /// must be later than the tick recorded for its schedule (or earlier in this list), or
    /// nothing is appended ([`StoreError::TickTaken`]): each tick fires once.
    pub ticks: Vec<Tick>,
    /// The ingestion time (ms since the epoch) to record for the events and their work items
    /// (which become due at it); the store's own clock when `None`. Callers with a movable clock
    /// pass theirs so that due times and event ages follow it.
    pub now_ms: Option<i64>,
    /// Messages sent to queues in the same transaction (a topic's deliveries to the queues
    /// subscribed to it), as [`QueueStore::queue_send`] sends them, at the append's ingestion
    /// time: they are there if and only if the events are.
    pub messages: Vec<QueueMessages>,
}

/// Messages for one queue, sent with an [`AppendBatch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueMessages {
    /// The queue's key, as [`QueueStore::queue_send`] names it.
    pub queue: String,
    pub messages: Vec<NewMessage>,
}

/// The last fired tick of one schedule: the scheduler appends it with the events that tick fired,
/// so a tick is recorded if and only if its events are, and neither a restart nor another node
/// fires it twice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tick {
    /// The schedule's key, as the scheduler names schedules.
    pub schedule: String,
    /// The nominal time of the tick (ms since the epoch). It must be later than the tick
    /// recorded for the schedule, or the append is refused whole ([`StoreError::TickTaken`]).
    pub tick_ms: i64,
}

/// One node of those sharing a store, as [`ClusterStore::heartbeat`] records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeInfo {
    /// The node's name (distinct per node, the same across its restarts).
    pub name: String,
    /// Where the node serves, free-form (e.g. its AWS endpoint's address).
    pub address: String,
    /// The node's version, free-form.
    pub version: String,
    /// When the node started (ms since the epoch, its own clock).
    pub started_ms: i64,
    /// When its last heartbeat was recorded, by the **store's** clock (what a caller passes to
    /// [`ClusterStore::heartbeat`] is ignored). To tell how long ago another node was seen,
    /// compare with this node's own `last_seen_ms`, written by its latest heartbeat on the same
    /// clock.
    pub last_seen_ms: i64,
}

/// One lease of one work item: what its holder names to settle or renew it. Only the current
/// lease of an item (the item still leased, under this token) is honoured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Lease {
    /// The work item's id.
    pub id: i64,
    /// The fencing token this lease was handed out with.
    pub token: i64,
}

/// A work item handed out by [`WorkStore::lease`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkItem {
    /// Store-assigned id. Ids are never reused, so an ack from a holder whose lease ran out can
    /// only ever name the item it delivered.
    pub id: i64,
    /// The fencing token of this lease: it grows each time the item is leased, so a holder
    /// whose lease ran out and went to another holder is told apart from the current one.
    pub token: i64,
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

impl WorkItem {
    /// The lease this item was handed out under.
    pub fn lease(&self) -> Lease {
        Lease {
            id: self.id,
            token: self.token,
        }
    }
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
/// ([`EventLog::events_by_time`]).
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

/// Every definition as of one version of the definitions ([`DefinitionStore::definitions`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Definitions {
    /// The version of the last change these reflect (0: none was ever committed).
    pub version: u64,
    /// `(kind, key, value)`, ordered by kind then key.
    pub items: Vec<Definition>,
}

/// What a watcher of definitions receives. Every commit that changes definitions has a
/// **version**: versions grow by commit order and are never reused, also across restarts and
/// resets, so a cache that applied version `v` knows it reflects every change up to `v`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notification {
    /// These changes were committed, in this order, as `version`.
    Changed {
        version: u64,
        changes: Vec<DefinitionChange>,
    },
    /// Everything was wiped ([`Store::reset`]), as `version`.
    Reset { version: u64 },
}

impl Notification {
    /// The version of the commit this announces.
    pub fn version(&self) -> u64 {
        match self {
            Notification::Changed { version, .. } | Notification::Reset { version } => *version,
        }
    }
}

/// Counts of what the store holds, for metrics and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreCounts {
    pub events: u64,
    pub work_items: u64,
    pub dead_letters: u64,
    pub definitions: u64,
    /// When the oldest event still in the log was ingested (`None`: the log is empty).
    pub oldest_event_ms: Option<i64>,
    /// The store's size on disk, in bytes (the database file and its write-ahead log).
    pub bytes: u64,
}

/// What [`EventLog::expire`] deletes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expiry {
    /// Events ingested before this may go (`None`: none go).
    pub events_before_ms: Option<i64>,
    /// Per log bus (`REGION:BUS`, as [`NewEvent::bus`]), events ingested at or after this time
    /// stay whatever `events_before_ms` says (an archive's retention; `i64::MIN` keeps them all).
    pub keep: Vec<(String, i64)>,
    /// Dead letters that died before this go (`None`: none go).
    pub dead_before_ms: Option<i64>,
    /// Most events deleted in one call.
    pub max_events: usize,
}

/// What one [`EventLog::expire`] deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Expired {
    pub events: u64,
    pub dead_letters: u64,
}

/// Observes store internals (commit latency, batch sizes) without the store knowing about any
/// metrics library.
pub trait StoreObserver: Send + Sync + 'static {
    /// One transaction committed (and synced) holding `requests` caller requests.
    fn committed(&self, duration: Duration, requests: usize);
}

/// The store's own clock, which lease deadlines are measured on (milliseconds since the epoch).
/// Not the callers' clock: see the crate docs, "Work items and leases".
pub trait StoreClock: Send + Sync + 'static {
    fn now_ms(&self) -> i64;
}

/// The system clock.
pub struct SystemClock;

impl StoreClock for SystemClock {
    fn now_ms(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64)
    }
}

/// An observer that ignores everything.
pub struct NoObserver;

impl StoreObserver for NoObserver {
    fn committed(&self, _: Duration, _: usize) {}
}

/// The event log: events in append order, appended atomically with the work they owe (see the
/// crate docs, "Event log").
pub trait EventLog: Send + Sync {
    /// Appends events, the work items they owe and the ticks they fire, and removes the work
    /// items they complete, atomically.
    fn append(&self, batch: AppendBatch) -> BoxFuture<'_, Result<()>>;

    /// Reads events from the log with `seq > after`, in order.
    fn events(&self, after: i64, limit: usize) -> BoxFuture<'_, Result<Vec<StoredEvent>>>;

    /// Reads the events of one bus whose event time is in `[from_ms, to_ms)` and whose ingestion
    /// time is in `[ingested_from_ms, ingested_to_ms)`, ordered by event time then log position,
    /// starting after `range.after`. Pages never skip or repeat an event: pass the
    /// `(time_ms, seq)` of the last event returned as the next page's `after`.
    fn events_by_time(&self, range: EventRange) -> BoxFuture<'_, Result<Vec<StoredEvent>>>;

    /// Counts what the store holds (events, work items, dead letters, definitions).
    fn counts(&self) -> BoxFuture<'_, Result<StoreCounts>>;

    /// Deletes what the log no longer needs (see [`Expiry`]): dead letters that died before
    /// `dead_before_ms`, then up to `max_events` events ingested before `events_before_ms`
    /// that no work item and no dead letter refers to and that `keep` does not hold. Answers
    /// how many of each were deleted; call again while it deletes `max_events`.
    fn expire(&self, expiry: Expiry) -> BoxFuture<'_, Result<Expired>>;
}

/// Work items with leases, and dead letters (see the crate docs, "Work items and leases").
pub trait WorkStore: Send + Sync {
    /// Leases up to `max` work items, optionally only for one `target`: first those whose lease
    /// ran out (by the store's clock), oldest deadline first, then those due by the caller's
    /// clock (`due <= now_ms`), oldest due first. Each gets a new fencing token, has its attempt
    /// count incremented, and stays invisible until `lease_ms` from now by the store's clock.
    fn lease(
        &self,
        target: Option<String>,
        now_ms: i64,
        max: usize,
        lease_ms: i64,
    ) -> BoxFuture<'_, Result<Vec<WorkItem>>>;

    /// Renews leases: each that is still current now ends `lease_ms` from now by the store's
    /// clock. Answers the leases refused (no longer current); the others are renewed.
    fn extend(&self, leases: Vec<Lease>, lease_ms: i64) -> BoxFuture<'_, Result<Vec<Lease>>>;

    /// Makes every leased work item due now. Called once at start-up by the only process that
    /// uses an embedded store: leases held when it stopped died with it, so their items are
    /// delivered again at once instead of after the lease runs out.
    fn release_leases(&self, now_ms: i64) -> BoxFuture<'_, Result<u64>>;

    /// [`WorkStore::release_leases`], but for the leases in `keep` (item ids), which their
    /// holder still delivers. A lease call whose answer was lost (the connection broke after it
    /// committed) leaves items leased to a holder that never heard of them; the holder, once it
    /// reaches the store again and with no lease call in flight, hands them back with this
    /// rather than leaving them until their deadlines. Answers how many it released.
    fn release_leases_except(&self, now_ms: i64, keep: Vec<i64>) -> BoxFuture<'_, Result<u64>>;

    /// When the earliest work item that is not leased is due, if there is any.
    fn next_due(&self) -> BoxFuture<'_, Result<Option<i64>>>;

    /// Removes delivered work items whose lease is current. Answers the leases refused (no
    /// longer current: their items are left alone).
    fn ack(&self, leases: Vec<Lease>) -> BoxFuture<'_, Result<Vec<Lease>>>;

    /// Makes a leased item due again at `due_ms` (the caller's clock), ending the lease. `false`
    /// when the lease is no longer current (nothing changed).
    fn nack(&self, lease: Lease, due_ms: i64) -> BoxFuture<'_, Result<bool>>;

    /// Moves a leased work item to the dead letters with a reason. `false` when the lease is no
    /// longer current (nothing changed).
    fn dead_letter(&self, lease: Lease, reason: String, now_ms: i64)
    -> BoxFuture<'_, Result<bool>>;

    /// Reads dead letters, oldest first.
    fn dead_letters(&self, limit: usize) -> BoxFuture<'_, Result<Vec<DeadLetter>>>;
}

/// SQS-shaped queues (see [`queue`] and the crate docs, "Queues").
pub trait QueueStore: Send + Sync {
    /// Sends messages to a queue; answers in order. `ack` names the leases of work items this
    /// send delivers: they are removed in the same atomic change, so a queue target receives
    /// each event exactly once even across crashes. Fenced: if one of the leases is no longer
    /// current, nothing is sent ([`StoreError::LeaseLost`]).
    fn queue_send(
        &self,
        queue: String,
        messages: Vec<NewMessage>,
        now_ms: i64,
        ack: Vec<Lease>,
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
}

/// Definitions with a change feed (see the crate docs, "Definitions").
pub trait DefinitionStore: Send + Sync {
    /// Commits definition changes atomically, then notifies watchers; answers the version of
    /// this commit. The notification is sent before the call returns, so a watcher that has
    /// seen this version has seen the change.
    fn apply(&self, changes: Vec<DefinitionChange>) -> BoxFuture<'_, Result<u64>>;

    /// Every definition, with the version they reflect (read in one consistent snapshot).
    fn definitions(&self) -> BoxFuture<'_, Result<Definitions>>;

    /// Subscribes to definition changes committed from now on, in version order.
    fn watch(&self) -> tokio::sync::broadcast::Receiver<Notification>;
}

/// Log events by group and stream (see [`logs`] and the crate docs, "Logs").
pub trait LogStore: Send + Sync {
    /// Appends log events; `ack` names the leases of work items this append delivers, removed
    /// in the same atomic change (fenced like [`QueueStore::queue_send`]'s).
    fn logs_append(
        &self,
        events: Vec<NewLogEvent>,
        now_ms: i64,
        ack: Vec<Lease>,
    ) -> BoxFuture<'_, Result<()>>;

    /// Appends log events and, in the same transaction, `append` (the events and work items
    /// that deliver them to subscriptions, queue messages, leases acknowledged): both are there
    /// or neither. Refusals as [`EventLog::append`]'s (a lost lease, [`StoreError::LeaseLost`])
    /// write nothing.
    fn logs_write(
        &self,
        events: Vec<NewLogEvent>,
        now_ms: i64,
        append: AppendBatch,
    ) -> BoxFuture<'_, Result<()>>;

    /// Reads log events of one group in time order.
    fn logs_read(&self, query: LogQuery) -> BoxFuture<'_, Result<Vec<LogEvent>>>;

    /// The streams of a log group.
    fn logs_streams(&self, group: String) -> BoxFuture<'_, Result<Vec<LogStream>>>;

    /// Deletes every log event of a group.
    fn logs_delete_group(&self, group: String) -> BoxFuture<'_, Result<()>>;

    /// Deletes at most `max` log events of one stream of a group (oldest first); returns how
    /// many. Callers repeat it until it deletes fewer than `max`: each call is one short write.
    fn logs_delete_stream(
        &self,
        group: String,
        stream: String,
        max: usize,
    ) -> BoxFuture<'_, Result<usize>>;

    /// Deletes at most `max` of a group's log events whose event time is before `before_ms`
    /// (oldest first) and returns how many it deleted: retention, in bounded steps, so that a
    /// caller expiring a large backlog never holds the writer for long. Fewer than `max` means
    /// none are left.
    fn logs_expire(
        &self,
        group: String,
        before_ms: i64,
        max: usize,
    ) -> BoxFuture<'_, Result<usize>>;
}

/// Schedule ticks (see the crate docs, "Ticks"). Ticks are recorded by [`EventLog::append`].
pub trait TickStore: Send + Sync {
    /// The last recorded tick of every schedule, as `(schedule key, tick ms)`.
    fn ticks(&self) -> BoxFuture<'_, Result<Vec<(String, i64)>>>;

    /// Forgets the recorded ticks of schedules that no longer exist.
    fn forget_ticks(&self, schedules: Vec<String>) -> BoxFuture<'_, Result<()>>;
}

/// The nodes sharing the store (see the crate docs, "Nodes").
pub trait ClusterStore: Send + Sync {
    /// Whether this node leads `role` (e.g. `"scheduler"`): `true` while it may run the
    /// role's singleton loop, `false` while another node may. The receiver follows changes:
    /// a node that loses its hold on the store turns `false` at once, and another node takes
    /// over within a few seconds when the leader dies. Cheap to call again: every receiver of a
    /// role follows the same leadership, kept for as long as the store lives; once the store is
    /// dropped, they read `false`. The embedded store always leads. The PostgreSQL store needs
    /// the tokio runtime it was opened on to be running (its task keeps a connection per role).
    fn leadership(&self, role: &str) -> tokio::sync::watch::Receiver<bool>;

    /// Records that `node` is alive now (its `last_seen_ms` is the store's clock; what the caller
    /// passes there is ignored); its other fields replace what was recorded under its name.
    fn heartbeat(&self, node: NodeInfo) -> BoxFuture<'_, Result<()>>;

    /// Every node recorded, by name.
    fn nodes(&self) -> BoxFuture<'_, Result<Vec<NodeInfo>>>;
}

/// A whole store: every concern, plus what concerns them all. What a server holds; it hands
/// each part the narrower trait it needs (`Arc<dyn Store>` converts to `Arc<dyn QueueStore>`).
pub trait Store:
    EventLog
    + WorkStore
    + QueueStore
    + DefinitionStore
    + LogStore
    + TickStore
    + ClusterStore
    + ObjectStore
    + 'static
{
    /// Wipes everything (dev mode's reset); watchers get [`Notification::Reset`]. Answers its
    /// version (see [`Notification`]).
    fn reset(&self) -> BoxFuture<'_, Result<u64>>;

    /// Gives space that deleted data left behind back to the file system, at most `max_bytes`
    /// of it in this call, so that one call holds the store's writes up only briefly; answers
    /// how many bytes it gave back (0: nothing left to give, or a backend whose engine does
    /// this by itself). A backend may keep some free space for the writes to come instead of
    /// giving it back. Changes nothing that any read sees. Callers repeat it while it answers
    /// `max_bytes`.
    fn reclaim(&self, max_bytes: u64) -> BoxFuture<'_, Result<u64>>;

    /// Where this store keeps object data ([`BlobStore`]): files beside the embedded store's
    /// database, the database itself for PostgreSQL.
    fn blob_store(&self) -> std::sync::Arc<dyn BlobStore>;

    /// Whether writes succeed right now: [`StoreHealth::Full`] from the moment a write fails for
    /// lack of space until a write succeeds again. Cheap (no I/O): health checks may call it as
    /// often as they like.
    fn health(&self) -> StoreHealth;
}
