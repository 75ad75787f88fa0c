//! The PostgreSQL backend: several eddy nodes share one database (issue 16's scale-out).
//!
//! [`PostgresStore`] implements every trait of the store contract on one PostgreSQL schema
//! (the connection's `search_path`), with the same semantics as the embedded store and the same
//! conformance suite. Where the embedded store relies on being the only process, this one relies
//! on PostgreSQL's row locks, so that nodes sharing the database never hand out the same work
//! item or message twice:
//!
//! | concern | how | file |
//! | --- | --- | --- |
//! | connections | a small pool of connections opened on demand, each with the statements it prepared; a broken one is dropped and replaced | `pool.rs` |
//! | schema | numbered migrations run at open, under an advisory lock | `schema.rs` |
//! | event log | group commit: one task per node folds concurrent appends into one transaction of multi-row (`unnest`) inserts, answered after `COMMIT` | `append.rs` |
//! | work items | leases taken with `FOR UPDATE SKIP LOCKED`, fenced by a token compared in the statement that changes the row | `work.rs` |
//! | queues | receives with `SKIP LOCKED` (standard) or under a per-queue advisory lock (FIFO: group order); sends with deduplication under a per-queue lock | `queue.rs` |
//! | logs | one table indexed by group and time | `logs.rs` |
//! | definitions | a version row whose lock orders applies; a change log read after `LISTEN/NOTIFY` wake-ups and on a timer | `feed.rs` |
//! | ticks | locked (or inserted, for a schedule's first) in the append's transaction before they are compared, so one node's append of a tick wins and the others' are refused | `append.rs` |
//! | objects | versions with a position from a sequence and `latest` kept on write, under a per-key advisory lock; uploads, parts and blob reference counts; an object write is one transaction with its append | `objects.rs` |
//! | object data | blobs in chunks of 1 MiB (`bytea`, stored out of line uncompressed), written a chunk per transaction and counted only once finished; read a slice per query, never whole | `blobs.rs` |
//! | nodes | leadership by a session advisory lock on a connection of its own; the node registry in `nodes` | `cluster.rs` |
//! | TLS | rustls (ring) behind the driver's TLS hooks | `tls.rs` |
//!
//! # Driver
//!
//! `tokio-postgres` (the sfackler/rust-postgres project, pure Rust) with a pool of our own
//! (`pool.rs`: a semaphore, a `Vec` of idle connections and their prepared statements) rather
//! than `sqlx`. Measured on this 2-core machine (clean debug build of an empty binary on tokio,
//! December 2026): tokio alone 4.0 s; with `tokio-postgres` 10.2 s (+6 s, 84 crates in the lock
//! file); with `sqlx` (`postgres`, `runtime-tokio`, no default features) 30.8 s (+27 s, 142
//! crates), 33.6 s with its macros. `tokio-postgres` also exposes what this backend needs
//! directly: array parameters for multi-row `unnest` inserts, prepared statements kept per
//! connection, and `LISTEN/NOTIFY` messages read from the connection itself
//! (`Connection::poll_message`). `deadpool-postgres` would add a dependency for what those few
//! lines of `pool.rs` do.

//! # TLS and credentials
//!
//! Credentials are the URI's (`postgres://USER:PASSWORD@HOST/DB`; the password never appears in
//! what eddy prints). `sslmode=require` encrypts every connection and verifies the server's
//! certificate, chain and host name, against the CA certificates in `sslrootcert=PATH` (PEM),
//! or the Mozilla roots built in: stricter than libpq's `require`, which checks nothing. Without
//! it (`disable`, or the driver's default `prefer`) connections are not encrypted.
//!
//! # Durability
//!
//! Every change is one transaction committed with the server's `synchronous_commit` as it is
//! configured (PostgreSQL's default, `on`: the commit record is flushed to the WAL before
//! `COMMIT` returns); a caller is answered only after its `COMMIT` returned. The store never
//! lowers it, except when opened with `sync: false` ([`crate::StoreOptions::sync`]), which exists
//! only to measure what the flush costs.
//!
//! # Clocks
//!
//! Lease deadlines are kept on the store's clock. By default that is **the database's clock**
//! (`now()` of the transaction, through the SQL function `eddy_now_ms()`), so nodes whose own
//! clocks drift apart still agree on when a lease ends; [`PostgresStoreOptions::clock`] replaces
//! it (the conformance suite moves a test clock by hand).
//!
//! # Leases across nodes: `release_leases`
//!
//! Each lease records the node that took it ([`PostgresStoreOptions::node`]).
//! [`WorkStore::release_leases`] ends only the leases **of this node**: a node that restarts
//! knows that the leases it held died with its previous life, but the leases of other nodes are
//! held by live processes (ending them would deliver their work twice). Leases of a node that
//! died and does not come back end at their deadlines, as every lease does. Nodes must therefore
//! have distinct names that stay the same across their restarts.
//!
//! # Space
//!
//! [`Store::reclaim`] answers 0: PostgreSQL's autovacuum makes the space of deleted rows
//! reusable by itself, and giving it back to the file system (`VACUUM FULL`) would lock the
//! tables, which a shared store must not do behind its nodes' backs. A write that fails for lack
//! of space (`disk_full`, SQLSTATE 53100) is [`StoreError::Full`] and turns
//! [`Store::health`] to [`StoreHealth::Full`] until a write succeeds.
//!
//! # Failures
//!
//! A server that cannot be reached right now is [`StoreError::Unavailable`]: a connection
//! refused, lost or timed out, a server shutting down or refusing connections (SQLSTATE classes
//! `08`, `57P01`-`57P03`, `53300`), a write reaching a read-only standby (`25006`: a failover
//! under way), or no pooled connection free within
//! [`PostgresStoreOptions::acquire_timeout`]. Any other failure (a failed statement, a TLS
//! certificate refused, a wrong password) is [`StoreError::Backend`] (the driver's error as the
//! source). Never a panic; nothing was acknowledged that did not commit.
//!
//! Connections give up within seconds on a database that stops answering (connect and TCP
//! timeouts of 10 s, keepalive probes after 15 s idle, unless the URI sets its own), so a node
//! cut off from the database fails its calls instead of hanging, and opens new connections once
//! the database is back. One case is PostgreSQL's, not ours to close: a connection that breaks
//! after `COMMIT` was sent but before its answer arrived leaves the caller with an error
//! ([`StoreError::Unavailable`]) for a change that may have committed; a retried PutEvents then
//! appends its events again (delivery stays at least once, never lost), and a retried tick is
//! refused ([`StoreError::TickTaken`]) if its first append did commit.
//!
//! The store needs a tokio runtime: its connections and the tasks behind appends and the change
//! feed run on the runtime that opened it, and stop when the store is dropped.

use std::sync::{Arc, Mutex};

use tokio::sync::{broadcast, mpsc};
use tokio::task::AbortHandle;
use tokio_postgres::error::SqlState;

use crate::logs::{LogEvent, LogQuery, LogStream, NewLogEvent};
use crate::queue::{Message, NewMessage, QueueStats, ReceiveOptions, Sent};
use crate::{
    AppendBatch, BoxFuture, ClusterStore, DeadLetter, DefinitionChange, DefinitionStore,
    Definitions, EventLog, EventRange, Expired, Expiry, Lease, LogStore, NoObserver, NodeInfo,
    Notification, QueueStore, Result, Store, StoreClock, StoreCounts, StoreError, StoreHealth,
    StoreObserver, StoredEvent, TickStore, WorkItem, WorkStore,
};

mod append;
mod blobs;
mod cluster;
mod feed;
mod logs;
mod objects;
mod pool;
mod queue;
mod schema;
mod tls;
mod work;

/// `uri` with its connections' `search_path` set to `schema`: the store on that schema (several
/// eddy systems, or test runs, can share one database, each on its own schema).
pub fn with_schema(uri: &str, schema: &str) -> String {
    let sep = if uri.contains('?') { '&' } else { '?' };
    format!("{uri}{sep}options=-c%20search_path%3D{schema}")
}

use pool::Pool;

/// The PostgreSQL backend's own errors, turned into [`StoreError`] (which names no backend) when
/// they reach a caller.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PgError {
    #[error("{}", describe(.0))]
    Db(#[from] tokio_postgres::Error),
    #[error("the lease of {} work item(s) was lost", .0.len())]
    LeaseLost(Vec<Lease>),
    #[error("the tick of {} schedule(s) was already fired", .0.len())]
    TickTaken(Vec<String>),
    #[error("the multipart upload `{0}` no longer exists")]
    UploadGone(String),
    #[error("{} kept blob(s) are no longer parts of the multipart upload `{upload_id}`", .blobs.len())]
    PartReplaced {
        upload_id: String,
        blobs: Vec<String>,
    },
    /// The database cannot be reached right now (not a driver error: the pool's own wait).
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    Invalid(&'static str),
    #[error("the store is closed")]
    Closed,
}

impl PgError {
    /// Whether PostgreSQL ran out of space for this write.
    fn is_full(&self) -> bool {
        matches!(self, PgError::Db(e) if e.code() == Some(&SqlState::DISK_FULL))
    }

    /// Whether the database cannot be reached right now (see the module docs, "Failures").
    pub(crate) fn is_unavailable(&self) -> bool {
        match self {
            PgError::Db(e) => unreachable_db(e),
            PgError::Unavailable(_) => true,
            _ => false,
        }
    }
}

/// Whether a driver error says the database cannot be reached right now, rather than that it
/// failed: the server's own codes for that, or the driver's kinds for a connection that broke,
/// could not be made or timed out (`tokio-postgres` shows its error kinds only in their text).
fn unreachable_db(e: &tokio_postgres::Error) -> bool {
    if let Some(code) = e.code() {
        return code.code().starts_with("08")
            || [
                SqlState::ADMIN_SHUTDOWN,
                SqlState::CRASH_SHUTDOWN,
                SqlState::CANNOT_CONNECT_NOW,
                SqlState::TOO_MANY_CONNECTIONS,
                // A standby not promoted yet (a failover under way, the address already moved).
                SqlState::READ_ONLY_SQL_TRANSACTION,
            ]
            .contains(code);
    }
    e.is_closed()
        || matches!(
            e.to_string().as_str(),
            "error connecting to server"
                | "error communicating with the server"
                | "timeout waiting for server"
        )
}

impl From<PgError> for StoreError {
    fn from(e: PgError) -> Self {
        match e {
            PgError::Db(e) if e.code() == Some(&SqlState::DISK_FULL) => {
                StoreError::Full(format!("the PostgreSQL server has no space left: {e}"))
            }
            PgError::Db(e) if unreachable_db(&e) => StoreError::Unavailable(describe(&e)),
            PgError::Db(e) => StoreError::backend(Described::from(e)),
            PgError::LeaseLost(leases) => StoreError::LeaseLost(leases),
            PgError::TickTaken(schedules) => StoreError::TickTaken(schedules),
            PgError::UploadGone(upload_id) => StoreError::UploadGone(upload_id),
            PgError::PartReplaced { upload_id, blobs } => {
                StoreError::PartReplaced { upload_id, blobs }
            }
            PgError::Unavailable(why) => StoreError::Unavailable(why),
            PgError::Invalid(what) => StoreError::backend(what),
            PgError::Closed => StoreError::Closed,
        }
    }
}

pub(crate) type PgResult<T> = std::result::Result<T, PgError>;

/// A driver error whose text says what happened: the driver's own text is only its kind
/// ("db error", "error connecting to server"), the cause is in its source. The text holds the
/// whole chain, so it reports no source of its own (which would print the causes twice).
#[derive(Debug)]
pub(crate) struct Described {
    text: String,
}

/// The text of a driver error and of its causes, joined.
pub(crate) fn describe(error: &tokio_postgres::Error) -> String {
    let mut text = error.to_string();
    let mut cause = std::error::Error::source(error);
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

impl From<tokio_postgres::Error> for Described {
    fn from(error: tokio_postgres::Error) -> Self {
        Self {
            text: describe(&error),
        }
    }
}

impl std::fmt::Display for Described {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::error::Error for Described {}

/// Options for [`PostgresStore::connect`].
pub struct PostgresStoreOptions {
    /// The clock lease deadlines are measured on; `None` (the default): the database's.
    pub clock: Option<Arc<dyn StoreClock>>,
    /// This node's name, recorded with the leases it takes (see the module docs,
    /// "`release_leases`"): distinct per node, the same across its restarts. The default is the
    /// machine's host name.
    pub node: String,
    /// Most connections open at once (the change feed's listener and one connection per
    /// leadership role come on top).
    pub connections: usize,
    /// How long a call waits for a free connection before it fails with
    /// [`StoreError::Unavailable`] (every connection busy that long means the database is not
    /// keeping up).
    pub acquire_timeout: std::time::Duration,
    /// Commits wait for the WAL flush (`synchronous_commit` as the server has it). `false`
    /// breaks the durability contract; it exists only to measure what the flush costs.
    pub sync: bool,
    pub observer: Arc<dyn StoreObserver>,
}

impl Default for PostgresStoreOptions {
    fn default() -> Self {
        Self {
            clock: None,
            node: host_name(),
            connections: 8,
            acquire_timeout: ACQUIRE_TIMEOUT,
            sync: true,
            observer: Arc::new(NoObserver),
        }
    }
}

/// The machine's host name (`eddy` when it cannot be read).
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "eddy".to_owned())
}

/// How long opening a connection, or unacknowledged data on one, may take before the connection
/// is given up (unless the URI says otherwise: `connect_timeout`, `tcp_user_timeout`).
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// How long a call waits for a free pooled connection by default.
const ACQUIRE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// Idle connections are probed this often, so a dead peer is noticed (unless the URI says
/// otherwise: `keepalives_idle`)...
const KEEPALIVE: std::time::Duration = std::time::Duration::from_secs(15);
/// ... instead of the driver's default, two hours.
const DRIVER_KEEPALIVE: std::time::Duration = std::time::Duration::from_secs(2 * 60 * 60);

/// What the store's handle and its tasks share.
pub(crate) struct Shared {
    pub(crate) pool: Pool,
    clock: Option<Arc<dyn StoreClock>>,
    pub(crate) node: String,
    observer: Arc<dyn StoreObserver>,
    /// Set while writes fail for lack of space: the error's text.
    full: Mutex<Option<String>>,
    /// The store's size on disk as last measured, and when (see `work::counts`).
    pub(crate) size: Mutex<Option<(std::time::Instant, u64)>>,
    /// The runtime the store's tasks run on (leadership tasks start later, from any thread).
    runtime: tokio::runtime::Handle,
}

impl Shared {
    /// Now by the store's clock, when it is not the database's (`None`: `eddy_now_ms()`).
    pub(crate) fn store_now(&self) -> Option<i64> {
        self.clock.as_ref().map(|c| c.now_ms())
    }

    /// The answer to a write: notes whether the store is full (see [`Store::health`]).
    pub(crate) fn wrote<T>(&self, r: PgResult<T>) -> Result<T> {
        let mut full = self.full.lock().unwrap_or_else(|e| e.into_inner());
        match &r {
            Err(e) if e.is_full() => {
                if full.is_none() {
                    tracing::error!(error = %e, "the store is full: writes fail until space is freed");
                }
                *full = Some(e.to_string());
            }
            Ok(_) if full.is_some() => {
                tracing::info!("the store has space again: writes resume");
                *full = None;
            }
            _ => {}
        }
        r.map_err(StoreError::from)
    }
}

/// Takes the parameter `key` out of a URI's query (`?a=1&key=v&b=2`): the URI without it, and
/// its value (percent-encoding is not decoded: values are paths and names).
pub(crate) fn take_param(uri: &str, key: &str) -> (String, Option<String>) {
    let Some((base, query)) = uri.split_once('?') else {
        return (uri.to_owned(), None);
    };
    let mut value = None;
    let rest: Vec<&str> = query
        .split('&')
        .filter(
            |p| match p.strip_prefix(key).and_then(|v| v.strip_prefix('=')) {
                Some(v) => {
                    value = Some(v.to_owned());
                    false
                }
                None => !p.is_empty(),
            },
        )
        .collect();
    if rest.is_empty() {
        (base.to_owned(), value)
    } else {
        (format!("{base}?{}", rest.join("&")), value)
    }
}

/// Aborts the store's tasks when the store is dropped.
struct Tasks(Vec<AbortHandle>);

impl Drop for Tasks {
    fn drop(&mut self) {
        for t in &self.0 {
            t.abort();
        }
    }
}

/// The PostgreSQL-backed store (see the module docs). Dropping it stops its tasks and closes
/// its connections.
pub struct PostgresStore {
    shared: Arc<Shared>,
    appends: mpsc::Sender<append::Request>,
    feed: Arc<feed::Feed>,
    /// The leadership of each role asked for, and its task.
    leaders: Mutex<std::collections::HashMap<String, tokio::sync::watch::Sender<bool>>>,
    /// Declared after everything its tasks use, so they stop first.
    _tasks: Tasks,
    leading: Mutex<Tasks>,
    /// Object data (see `blobs.rs`).
    blobs: Arc<dyn crate::BlobStore>,
}

impl PostgresStore {
    /// Connects to the database `uri` names (`postgres://USER@HOST:PORT/DB?...`, any parameter
    /// `tokio-postgres` knows), brings its schema up to date, and starts the append and change
    /// feed tasks on the current tokio runtime.
    pub async fn connect(uri: &str, options: PostgresStoreOptions) -> Result<Self> {
        // `sslrootcert` is libpq's, not the driver's: taken out here (see `tls.rs`).
        let (uri, root_cert) = take_param(uri, "sslrootcert");
        let mut config: tokio_postgres::Config = uri.parse().map_err(StoreError::backend)?;
        let tls = if config.get_ssl_mode() == tokio_postgres::config::SslMode::Require {
            let tls = tls::Tls::new(root_cert.as_deref().map(std::path::Path::new))
                .map_err(StoreError::backend)?;
            Some(tls)
        } else {
            None
        };
        if config.get_application_name().is_none() {
            config.application_name(format!("eddy {}", options.node));
        }
        // A database that stops answering must fail calls in seconds, not after the kernel's
        // TCP timeouts (minutes): a node cut off from it stops acknowledging and says why.
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_tcp_user_timeout().is_none() {
            config.tcp_user_timeout(CONNECT_TIMEOUT);
        }
        if config.get_keepalives_idle() == DRIVER_KEEPALIVE {
            config.keepalives_idle(KEEPALIVE);
        }
        let setup = if options.sync {
            String::new()
        } else {
            "SET synchronous_commit = off".to_owned()
        };
        let shared = Arc::new(Shared {
            pool: Pool::new(
                config,
                tls,
                setup,
                options.connections,
                options.acquire_timeout,
            ),
            clock: options.clock,
            node: options.node,
            observer: options.observer,
            full: Mutex::new(None),
            size: Mutex::new(None),
            runtime: tokio::runtime::Handle::current(),
        });
        let channel = {
            let mut conn = shared.pool.get().await?;
            schema::migrate(&mut conn).await?;
            let schema: String = conn.query_one("SELECT current_schema()", &[]).await?.get(0);
            format!("eddy.definitions.{schema}")
        };
        let blobs: Arc<dyn crate::BlobStore> = Arc::new(blobs::PgBlobs::new(shared.clone()));
        let feed = Arc::new(feed::Feed::open(&shared, channel).await?);
        let (appends, requests) = mpsc::channel(append::QUEUE);
        let appender = tokio::spawn(append::run(shared.clone(), requests));
        let listener = tokio::spawn(feed::listen(shared.clone(), feed.clone()));
        Ok(Self {
            shared,
            appends,
            feed,
            leaders: Mutex::new(std::collections::HashMap::new()),
            _tasks: Tasks(vec![appender.abort_handle(), listener.abort_handle()]),
            leading: Mutex::new(Tasks(Vec::new())),
            blobs,
        })
    }
}

impl EventLog for PostgresStore {
    fn append(&self, batch: AppendBatch) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            let (reply, answer) = tokio::sync::oneshot::channel();
            self.appends
                .send(append::Request { batch, reply })
                .await
                .map_err(|_| StoreError::Closed)?;
            answer.await.map_err(|_| StoreError::Closed)?
        })
    }

    fn events(&self, after: i64, limit: usize) -> BoxFuture<'_, Result<Vec<StoredEvent>>> {
        Box::pin(async move { Ok(work::events(&self.shared, after, limit).await?) })
    }

    fn events_by_time(&self, range: EventRange) -> BoxFuture<'_, Result<Vec<StoredEvent>>> {
        Box::pin(async move { Ok(work::events_by_time(&self.shared, range).await?) })
    }

    fn counts(&self) -> BoxFuture<'_, Result<StoreCounts>> {
        Box::pin(async move { Ok(work::counts(&self.shared).await?) })
    }

    fn expire(&self, expiry: Expiry) -> BoxFuture<'_, Result<Expired>> {
        Box::pin(async move { self.shared.wrote(work::expire(&self.shared, expiry).await) })
    }
}

impl WorkStore for PostgresStore {
    fn lease(
        &self,
        target: Option<String>,
        now_ms: i64,
        max: usize,
        lease_ms: i64,
    ) -> BoxFuture<'_, Result<Vec<WorkItem>>> {
        Box::pin(async move {
            let r = work::lease(&self.shared, target, now_ms, max, lease_ms).await;
            self.shared.wrote(r)
        })
    }

    fn extend(&self, leases: Vec<Lease>, lease_ms: i64) -> BoxFuture<'_, Result<Vec<Lease>>> {
        Box::pin(async move {
            self.shared
                .wrote(work::extend(&self.shared, leases, lease_ms).await)
        })
    }

    fn release_leases(&self, now_ms: i64) -> BoxFuture<'_, Result<u64>> {
        self.release_leases_except(now_ms, Vec::new())
    }

    fn release_leases_except(&self, now_ms: i64, keep: Vec<i64>) -> BoxFuture<'_, Result<u64>> {
        Box::pin(async move {
            self.shared
                .wrote(work::release_leases(&self.shared, now_ms, &keep).await)
        })
    }

    fn next_due(&self) -> BoxFuture<'_, Result<Option<i64>>> {
        Box::pin(async move { Ok(work::next_due(&self.shared).await?) })
    }

    fn ack(&self, leases: Vec<Lease>) -> BoxFuture<'_, Result<Vec<Lease>>> {
        Box::pin(async move { self.shared.wrote(work::ack(&self.shared, leases).await) })
    }

    fn nack(&self, lease: Lease, due_ms: i64) -> BoxFuture<'_, Result<bool>> {
        Box::pin(async move {
            self.shared
                .wrote(work::nack(&self.shared, lease, due_ms).await)
        })
    }

    fn dead_letter(
        &self,
        lease: Lease,
        reason: String,
        now_ms: i64,
    ) -> BoxFuture<'_, Result<bool>> {
        Box::pin(async move {
            let r = work::dead_letter(&self.shared, lease, reason, now_ms).await;
            self.shared.wrote(r)
        })
    }

    fn dead_letters(&self, limit: usize) -> BoxFuture<'_, Result<Vec<DeadLetter>>> {
        Box::pin(async move { Ok(work::dead_letters(&self.shared, limit).await?) })
    }
}

impl QueueStore for PostgresStore {
    fn queue_send(
        &self,
        queue: String,
        messages: Vec<NewMessage>,
        now_ms: i64,
        ack: Vec<Lease>,
    ) -> BoxFuture<'_, Result<Vec<Sent>>> {
        Box::pin(async move {
            let r = queue::send(&self.shared, queue, messages, now_ms, ack).await;
            self.shared.wrote(r)
        })
    }

    fn queue_receive(
        &self,
        queue: String,
        opts: ReceiveOptions,
    ) -> BoxFuture<'_, Result<Vec<Message>>> {
        Box::pin(async move {
            self.shared
                .wrote(queue::receive(&self.shared, queue, opts).await)
        })
    }

    fn queue_delete(
        &self,
        queue: String,
        receipts: Vec<String>,
    ) -> BoxFuture<'_, Result<Vec<bool>>> {
        Box::pin(async move {
            self.shared
                .wrote(queue::delete(&self.shared, queue, receipts).await)
        })
    }

    fn queue_change_visibility(
        &self,
        queue: String,
        changes: Vec<(String, i64)>,
        now_ms: i64,
    ) -> BoxFuture<'_, Result<Vec<bool>>> {
        Box::pin(async move {
            let r = queue::change_visibility(&self.shared, queue, changes, now_ms).await;
            self.shared.wrote(r)
        })
    }

    fn queue_purge(&self, queue: String) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move { self.shared.wrote(queue::purge(&self.shared, queue).await) })
    }

    fn queue_stats(&self, queue: String, now_ms: i64) -> BoxFuture<'_, Result<QueueStats>> {
        Box::pin(async move { Ok(queue::stats(&self.shared, queue, now_ms).await?) })
    }

    fn queue_next_visible(&self, queue: String) -> BoxFuture<'_, Result<Option<i64>>> {
        Box::pin(async move { Ok(queue::next_visible(&self.shared, queue).await?) })
    }
}

impl DefinitionStore for PostgresStore {
    fn apply(&self, changes: Vec<DefinitionChange>) -> BoxFuture<'_, Result<u64>> {
        Box::pin(async move {
            let r = feed::apply(&self.shared, &self.feed, changes).await;
            self.shared.wrote(r)
        })
    }

    fn definitions(&self) -> BoxFuture<'_, Result<Definitions>> {
        Box::pin(async move { Ok(feed::definitions(&self.shared).await?) })
    }

    fn watch(&self) -> broadcast::Receiver<Notification> {
        self.feed.notify.subscribe()
    }
}

impl LogStore for PostgresStore {
    fn logs_append(
        &self,
        events: Vec<NewLogEvent>,
        now_ms: i64,
        ack: Vec<Lease>,
    ) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            let r = logs::append(&self.shared, events, now_ms, ack).await;
            self.shared.wrote(r)
        })
    }

    fn logs_write(
        &self,
        events: Vec<NewLogEvent>,
        now_ms: i64,
        batch: AppendBatch,
    ) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            let r = logs::write(&self.shared, events, now_ms, batch).await;
            self.shared.wrote(r)
        })
    }

    fn logs_read(&self, query: LogQuery) -> BoxFuture<'_, Result<Vec<LogEvent>>> {
        Box::pin(async move { Ok(logs::read(&self.shared, query).await?) })
    }

    fn logs_streams(&self, group: String) -> BoxFuture<'_, Result<Vec<LogStream>>> {
        Box::pin(async move { Ok(logs::streams(&self.shared, group).await?) })
    }

    fn logs_delete_group(&self, group: String) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            self.shared
                .wrote(logs::delete_group(&self.shared, group).await)
        })
    }

    fn logs_delete_stream(
        &self,
        group: String,
        stream: String,
        max: usize,
    ) -> BoxFuture<'_, Result<usize>> {
        Box::pin(async move {
            self.shared
                .wrote(logs::delete_stream(&self.shared, group, stream, max).await)
        })
    }

    fn logs_expire(
        &self,
        group: String,
        before_ms: i64,
        max: usize,
    ) -> BoxFuture<'_, Result<usize>> {
        Box::pin(async move {
            let r = logs::expire(&self.shared, group, before_ms, max).await;
            self.shared.wrote(r)
        })
    }
}

impl TickStore for PostgresStore {
    fn ticks(&self) -> BoxFuture<'_, Result<Vec<(String, i64)>>> {
        Box::pin(async move { Ok(work::ticks(&self.shared).await?) })
    }

    fn forget_ticks(&self, schedules: Vec<String>) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            self.shared
                .wrote(work::forget_ticks(&self.shared, schedules).await)
        })
    }
}

impl Drop for PostgresStore {
    /// A store that goes away leads nothing: receivers of its leadership that outlive it read
    /// `false` (its tasks, stopped next, release the locks with their sessions).
    fn drop(&mut self) {
        let leaders = self.leaders.get_mut().unwrap_or_else(|e| e.into_inner());
        for leads in leaders.values() {
            leads.send_replace(false);
        }
    }
}

impl ClusterStore for PostgresStore {
    /// See the `cluster` module, "Leadership".
    fn leadership(&self, role: &str) -> tokio::sync::watch::Receiver<bool> {
        let mut leaders = self.leaders.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(leads) = leaders.get(role) {
            return leads.subscribe();
        }
        let (leads, receiver) = tokio::sync::watch::channel(false);
        let task = self.shared.runtime.spawn(cluster::lead(
            self.shared.clone(),
            role.to_owned(),
            leads.clone(),
        ));
        self.leading
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .0
            .push(task.abort_handle());
        leaders.insert(role.to_owned(), leads);
        receiver
    }

    fn heartbeat(&self, node: NodeInfo) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            self.shared
                .wrote(cluster::heartbeat(&self.shared, node).await)
        })
    }

    fn nodes(&self) -> BoxFuture<'_, Result<Vec<NodeInfo>>> {
        Box::pin(async move { Ok(cluster::nodes(&self.shared).await?) })
    }
}

impl Store for PostgresStore {
    fn reset(&self) -> BoxFuture<'_, Result<u64>> {
        Box::pin(async move {
            self.shared
                .wrote(feed::reset(&self.shared, &self.feed).await)
        })
    }

    /// Answers 0: see the module docs, "Space".
    fn reclaim(&self, _max_bytes: u64) -> BoxFuture<'_, Result<u64>> {
        Box::pin(async { Ok(0) })
    }

    fn blob_store(&self) -> Arc<dyn crate::BlobStore> {
        self.blobs.clone()
    }

    fn health(&self) -> StoreHealth {
        match &*self.shared.full.lock().unwrap_or_else(|e| e.into_inner()) {
            None => StoreHealth::Ok,
            Some(message) => StoreHealth::Full {
                message: message.clone(),
            },
        }
    }
}
