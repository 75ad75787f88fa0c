//! The embedded backend: SQLite in WAL mode, one writer thread doing group commit.
//!
//! Every request is a [`Command`] sent to the writer thread. The thread takes the first waiting
//! command, drains whatever else is already queued (up to [`MAX_BATCH`]), runs them all in one
//! transaction, commits (which fsyncs the WAL), and only then answers each caller. Concurrent
//! callers therefore share one fsync. Reads go through the same thread, so they see every
//! acknowledged write.
//!
//! A batch that fails for lack of space (`SQLITE_FULL`, or an I/O error while the file system
//! has no room left) is rolled back whole and every caller in it gets [`StoreError::Full`]. The
//! writer then remembers that the store is full ([`Store::health`]) and tries a one-row write of
//! its own every [`PROBE_INTERVAL`]; the first write that commits, whoever made it, clears the
//! state.
//!
//! # Leases
//!
//! A work item's row says whether it is `leased`, and holds its fencing `token` (incremented by
//! every lease) and one deadline, `due_ms`, read on two clocks: while the item waits it is when
//! the item is due by the callers' clock; while it is leased it is when the lease ends by the
//! store's own clock ([`crate::StoreClock`]). The index `work_by_state (leased, due_ms, id)`
//! serves both questions ("due by the callers' clock", "lease ended by the store's clock")
//! with a range scan each, so leases cost no index beyond the one a plain due-time queue needs.
//! Leasing, renewing and settling compare `(id, token, leased = 1)` in the same statement that
//! changes the row, inside the writer's transaction: two holders can never both pass.
//!
//! # Ticks and nodes
//!
//! An append's ticks are compared with the recorded ones and recorded in its own savepoint of
//! the writer's transaction, so an append whose tick is not later is rolled back whole
//! ([`StoreError::TickTaken`]) while the others of its group commit go on. The store is the only
//! node of its database: it always leads ([`crate::ClusterStore::leadership`]) and keeps its
//! node's heartbeat in memory.
//!
//! # Objects
//!
//! The object index (`objects.rs`) is tables of the same database. An object write is one
//! command of the group commit ([`EmbeddedStore::exec`]): its append runs first, with the
//! refusals of [`EventLog::append`], then its record, upload and blob-count changes, all in the
//! command's savepoint, so a refused or failed write leaves nothing.
//!
//! # Files
//!
//! The store's files hold events, definitions (API keys, function environments) and messages,
//! so only the user that runs eddy may read them: [`EmbeddedStore::open_with`] creates the
//! directory `0700` and `eddy.db` `0600` before SQLite opens it (SQLite gives the `-wal` and
//! `-shm` files it creates the mode of the database file), and tightens to `0600` the files of
//! an existing store that others may read. An existing directory keeps its mode: that is its
//! owner's choice.

use std::fs::{DirBuilder, OpenOptions, Permissions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension, Transaction, params};
use tokio::sync::{broadcast, oneshot};

use crate::logs::{LogEvent, LogQuery, LogStream, NewLogEvent};
use crate::queue::{Message, NewMessage, QueueStats, ReceiveOptions, Sent};
use crate::{
    AppendBatch, BoxFuture, ClusterStore, DeadLetter, DefinitionChange, DefinitionStore,
    Definitions, EventLog, EventRange, Expired, Expiry, Lease, LogStore, NoObserver, NodeInfo,
    Notification, QueueStore, Result, Store, StoreClock, StoreCounts, StoreError, StoreHealth,
    StoreObserver, StoredEvent, SystemClock, Tick, TickStore, WorkItem, WorkStore,
};

mod logs;
mod objects;
mod queue;

/// The embedded backend's own errors, turned into [`StoreError`] (which names no backend) when
/// they reach a caller.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DbError {
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error("the store is closed")]
    Closed,
    #[error("the store is full: {0}")]
    Full(String),
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
}

impl From<DbError> for StoreError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::Sqlite(e) => StoreError::backend(e),
            DbError::Io(e) => StoreError::backend(e),
            DbError::Closed => StoreError::Closed,
            DbError::Full(where_) => StoreError::Full(where_),
            DbError::LeaseLost(leases) => StoreError::LeaseLost(leases),
            DbError::TickTaken(schedules) => StoreError::TickTaken(schedules),
            DbError::UploadGone(upload_id) => StoreError::UploadGone(upload_id),
            DbError::PartReplaced { upload_id, blobs } => {
                StoreError::PartReplaced { upload_id, blobs }
            }
        }
    }
}

pub(crate) type DbResult<T> = std::result::Result<T, DbError>;

/// Records in `event_log` the highest position handed out so far, before events are deleted.
const TOP_SEQ: &str =
    "UPDATE event_log SET top_seq = max(top_seq, coalesce((SELECT max(seq) FROM events), 0))";

/// Most caller requests folded into one transaction.
const MAX_BATCH: usize = 4096;

/// How often a full store, left alone, tries a write of its own to learn that space returned.
const PROBE_INTERVAL: Duration = Duration::from_secs(1);

/// What the space check writes after an ambiguous I/O error: a file system that cannot take
/// this much more is full.
const SPACE_CHECK_BYTES: usize = 64 * 1024;

/// The database file and the files SQLite keeps beside it.
const DB_FILES: [&str; 4] = ["eddy.db", "eddy.db-wal", "eddy.db-shm", "eddy.db-journal"];

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL,
    bus TEXT NOT NULL,
    time_ms INTEGER NOT NULL,
    ingested_ms INTEGER NOT NULL,
    hops INTEGER NOT NULL DEFAULT 0,
    body TEXT NOT NULL
);
-- One row, written only by expiry and reset (never by appends, to keep them one page
-- lighter): `top_seq` is the highest log position handed out as they last saw it, so that an
-- append after they deleted the newest events does not hand those positions out again (as
-- SQLite's rowid, max + 1, would); `missing` counts the positions up to it that hold no event
-- any more, so the log's count is `max(max(seq), top_seq) - missing` however expiry left gaps.
CREATE TABLE IF NOT EXISTS event_log (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    top_seq INTEGER NOT NULL,
    missing INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS work (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event_seq INTEGER NOT NULL,
    rule TEXT NOT NULL,
    target TEXT NOT NULL,
    due_ms INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    leased INTEGER NOT NULL DEFAULT 0,
    created_ms INTEGER NOT NULL,
    token INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS dead (
    id INTEGER PRIMARY KEY,
    work_id INTEGER NOT NULL,
    event_seq INTEGER NOT NULL,
    rule TEXT NOT NULL,
    target TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    reason TEXT NOT NULL,
    dead_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    queue TEXT NOT NULL,
    message_id TEXT NOT NULL,
    body TEXT NOT NULL,
    attributes TEXT NOT NULL,
    sent_ms INTEGER NOT NULL,
    visible_ms INTEGER NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    first_receive_ms INTEGER,
    receipt TEXT,
    group_id TEXT,
    dedup_id TEXT
);
CREATE INDEX IF NOT EXISTS messages_by_visibility ON messages (queue, visible_ms, id);
CREATE INDEX IF NOT EXISTS messages_by_age ON messages (queue, sent_ms);
CREATE INDEX IF NOT EXISTS messages_in_order ON messages (queue, id);
CREATE TABLE IF NOT EXISTS dedup (
    queue TEXT NOT NULL,
    dedup_id TEXT NOT NULL,
    message_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    sent_ms INTEGER NOT NULL,
    PRIMARY KEY (queue, dedup_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS dedup_by_age ON dedup (queue, sent_ms);
CREATE TABLE IF NOT EXISTS log_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    grp TEXT NOT NULL,
    stream TEXT NOT NULL,
    ts_ms INTEGER NOT NULL,
    ingest_ms INTEGER NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS log_events_by_time ON log_events (grp, ts_ms, seq);
CREATE TABLE IF NOT EXISTS ticks (
    schedule TEXT PRIMARY KEY,
    tick_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS definitions (
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    value BLOB NOT NULL,
    PRIMARY KEY (kind, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS definitions_version (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS probe (
    id INTEGER PRIMARY KEY,
    at_ms INTEGER NOT NULL
);
";

/// Free space [`Store::reclaim`] keeps for reuse rather than give back: this much, or a quarter
/// of the space in use if that is less.
const RECLAIM_RESERVE_BYTES: i64 = 64 << 20;
/// What the write-ahead log is truncated to after a checkpoint (bytes).
const JOURNAL_SIZE_LIMIT: i64 = 64 << 20;
/// A store made without incremental vacuum is converted when it is opened if it is smaller than
/// this (converting rewrites the whole file once); a larger one keeps its free pages for reuse.
const CONVERT_BELOW_BYTES: u64 = 1 << 30;

/// Makes the database keep its free pages in a list that [`Store::reclaim`] can hand back to
/// the file system (`auto_vacuum = INCREMENTAL`). A new database gets it before its first table;
/// an older store is converted once, when small enough (see [`CONVERT_BELOW_BYTES`]).
fn incremental_vacuum(conn: &Connection, path: &Path) -> DbResult<()> {
    const INCREMENTAL: i64 = 2;
    let mode: i64 = conn.pragma_query_value(None, "auto_vacuum", |r| r.get(0))?;
    if mode == INCREMENTAL {
        return Ok(());
    }
    let tables: i64 = conn.query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))?;
    conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")?;
    if tables == 0 {
        return Ok(());
    }
    let size = std::fs::metadata(path).map_or(0, |m| m.len());
    if size < CONVERT_BELOW_BYTES {
        tracing::info!(
            bytes = size,
            "converting the store to incremental vacuum (once)"
        );
        conn.execute_batch("VACUUM")?;
    } else {
        tracing::warn!(
            bytes = size,
            "the store predates incremental vacuum and is too large to convert at start-up: \
             its free space is reused but not given back to the file system"
        );
    }
    Ok(())
}

/// Brings a store made by an earlier eddy to this schema: the work items' fencing token, the
/// index by lease state that replaces the one by due time alone, and the event log's row
/// (counted once from the events there).
fn migrate(conn: &Connection) -> DbResult<()> {
    let has_token = conn
        .prepare("SELECT 1 FROM pragma_table_info('work') WHERE name = 'token'")?
        .exists([])?;
    if !has_token {
        conn.execute_batch("ALTER TABLE work ADD COLUMN token INTEGER NOT NULL DEFAULT 0")?;
    }
    conn.execute_batch(
        "DROP INDEX IF EXISTS work_by_due;
         CREATE INDEX IF NOT EXISTS work_by_state ON work (leased, due_ms, id);
         INSERT INTO event_log (id, top_seq, missing)
         SELECT 1, (SELECT coalesce(max(seq), 0) FROM events),
                (SELECT coalesce(max(seq), 0) - count(*) FROM events)
         WHERE NOT EXISTS (SELECT 1 FROM event_log);",
    )?;
    Ok(())
}

/// Options for [`EmbeddedStore::open_with`].
pub struct EmbeddedStoreOptions {
    /// Fsync the WAL on every commit. Turning this off breaks the durability contract; it exists
    /// only to measure what the fsync costs.
    pub sync: bool,
    pub observer: Arc<dyn StoreObserver>,
    /// The clock lease deadlines are measured on: the system clock, except in tests.
    pub clock: Arc<dyn StoreClock>,
    /// The SQLite VFS to open the database through (SQLite's default when `None`): the
    /// power-loss test opens it through a VFS that forgets unsynced writes.
    pub vfs: Option<String>,
}

impl Default for EmbeddedStoreOptions {
    fn default() -> Self {
        Self {
            sync: true,
            observer: Arc::new(NoObserver),
            clock: Arc::new(SystemClock),
            vfs: None,
        }
    }
}

type Reply<T> = oneshot::Sender<Result<T>>;

/// Most read connections open at once (and reads running at once).
const READERS: usize = 2;

/// The read-only connections [`EmbeddedStore::read`] uses, opened on first need and kept.
struct Readers {
    path: PathBuf,
    vfs: Option<String>,
    idle: std::sync::Mutex<Vec<Connection>>,
    permits: tokio::sync::Semaphore,
}

impl Readers {
    fn open(&self) -> DbResult<Connection> {
        let flags =
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = match &self.vfs {
            None => Connection::open_with_flags(&self.path, flags)?,
            Some(vfs) => Connection::open_with_flags_and_vfs(&self.path, flags, vfs.as_str())?,
        };
        conn.pragma_update(None, "cache_size", -4096)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        Ok(conn)
    }

    /// Runs `f` in a read transaction (one consistent snapshot) on an idle connection.
    fn with<T>(&self, f: impl FnOnce(&Connection) -> DbResult<T>) -> DbResult<T> {
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let conn = match idle {
            Some(c) => c,
            None => self.open()?,
        };
        let r = (|| {
            let tx = conn.unchecked_transaction()?;
            let r = f(&tx)?;
            tx.finish()?;
            Ok(r)
        })();
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < READERS {
            idle.push(conn);
        }
        r
    }
}

enum Command {
    Append(AppendBatch, Reply<()>),
    Lease {
        target: Option<String>,
        now_ms: i64,
        /// Now by the store's clock, when the command was sent.
        store_now_ms: i64,
        max: usize,
        lease_ms: i64,
        reply: Reply<Vec<WorkItem>>,
    },
    /// Answers the refused leases.
    Ack(Vec<Lease>, Reply<Vec<Lease>>),
    Nack {
        lease: Lease,
        due_ms: i64,
        reply: Reply<bool>,
    },
    DeadLetter {
        lease: Lease,
        reason: String,
        now_ms: i64,
        reply: Reply<bool>,
    },
    Apply(Vec<DefinitionChange>, Reply<u64>),
    Definitions(Reply<Definitions>),
    Reset(Reply<u64>),
    /// The full store's own one-row write (see the module docs); nobody waits for its answer.
    Probe(Reply<()>),
    /// Any other operation: runs inside the group-commit transaction; its answer is held until
    /// the commit is durable. Called with `None` when the transaction failed before its turn:
    /// it then only hands back its reply, to carry the batch's error.
    Exec(Exec),
}

type Exec = Box<dyn FnOnce(Option<&Transaction<'_>>) -> Pending + Send>;

/// The SQLite-backed store. Cheap to share behind an `Arc`; dropping the last handle stops the
/// writer thread after it finishes the commands already queued.
pub struct EmbeddedStore {
    tx: mpsc::Sender<Command>,
    readers: Arc<Readers>,
    notify: broadcast::Sender<Notification>,
    path: PathBuf,
    space: Arc<Space>,
    clock: Arc<dyn StoreClock>,
    /// Always `true`: the only node of its store leads every role.
    leader: tokio::sync::watch::Sender<bool>,
    /// The last heartbeat of its node.
    node: std::sync::Mutex<Option<NodeInfo>>,
    /// Object data: files in `objects/` beside the database.
    blobs: Arc<crate::Blobs>,
}

/// Whether the store is full, shared by the handles and the writer thread.
struct Space {
    full: AtomicBool,
    /// Where there is no space, as [`StoreError::Full`] says it.
    detail: String,
}

impl Space {
    fn full(&self) -> bool {
        self.full.load(Ordering::Acquire)
    }

    fn error(&self) -> DbError {
        DbError::Full(self.detail.clone())
    }
}

impl EmbeddedStore {
    /// Opens (creating if needed) the store in `dir` (file `eddy.db`).
    pub fn open(dir: &Path) -> Result<Self> {
        Self::open_with(dir, EmbeddedStoreOptions::default())
    }

    /// Opens (creating if needed) the store in `dir`. A directory it creates is `0700`; the
    /// store's files are `0600`, and an existing store's looser files are tightened (and a
    /// warning says so). An existing directory keeps its mode: that is its owner's choice.
    pub fn open_with(dir: &Path, options: EmbeddedStoreOptions) -> Result<Self> {
        let space = Arc::new(Space {
            full: AtomicBool::new(false),
            detail: format!("no space left on the file system of `{}`", dir.display()),
        });
        let path = dir.join("eddy.db");
        let conn = (|| -> DbResult<Connection> {
            create_private_dir(dir)?;
            private_files(dir)?;
            let conn = match &options.vfs {
                None => Connection::open(&path)?,
                Some(vfs) => Connection::open_with_flags_and_vfs(
                    &path,
                    rusqlite::OpenFlags::default(),
                    vfs.as_str(),
                )?,
            };
            incremental_vacuum(&conn, &path)?;
            conn.pragma_update(None, "journal_mode", "WAL")?;
            // The write-ahead log shrinks back to this after a checkpoint that emptied it.
            conn.pragma_update(None, "journal_size_limit", JOURNAL_SIZE_LIMIT)?;
            conn.pragma_update(
                None,
                "synchronous",
                if options.sync { "FULL" } else { "OFF" },
            )?;
            conn.pragma_update(None, "foreign_keys", "OFF")?;
            conn.pragma_update(None, "cache_size", -16384)?;
            conn.execute_batch(SCHEMA)?;
            conn.execute_batch(objects::SCHEMA)?;
            migrate(&conn)?;
            Ok(conn)
        })()
        .map_err(|e| StoreError::from(if is_full(&e) { space.error() } else { e }))?;
        let (tx, rx) = mpsc::channel();
        let (notify, _) = broadcast::channel(1024);
        let writer = Writer {
            conn,
            observer: options.observer,
            notify: notify.clone(),
            space: space.clone(),
            dir: dir.to_owned(),
        };
        std::thread::Builder::new()
            .name("eddy-store-writer".into())
            .spawn(move || writer.run(rx))
            .map_err(StoreError::backend)?;
        let readers = Arc::new(Readers {
            path: path.clone(),
            vfs: options.vfs.clone(),
            idle: std::sync::Mutex::new(Vec::new()),
            permits: tokio::sync::Semaphore::new(READERS),
        });
        Ok(Self {
            tx,
            readers,
            notify,
            path,
            space,
            clock: options.clock,
            leader: tokio::sync::watch::Sender::new(true),
            node: std::sync::Mutex::new(None),
            blobs: Arc::new(crate::Blobs::open(dir.join("objects")).map_err(StoreError::backend)?),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` inside the writer's next group-commit transaction and answers with its result
    /// once that transaction is durable.
    pub(crate) fn exec<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> DbResult<T> + Send + 'static,
    ) -> BoxFuture<'_, Result<T>> {
        self.call(move |reply: Reply<T>| {
            Command::Exec(Box::new(move |tx| {
                let r = match tx {
                    Some(tx) => f(tx),
                    None => Err(DbError::Closed),
                };
                Pending::Any(Box::new((reply, r)))
            }))
        })
    }

    /// Runs the read `f` on one of the read connections, beside the writer rather than behind
    /// it. In WAL mode a reader sees every transaction committed before it began, so a read
    /// never misses a write that was answered before it was asked.
    pub(crate) fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> DbResult<T> + Send + 'static,
    ) -> BoxFuture<'_, Result<T>> {
        let readers = self.readers.clone();
        Box::pin(async move {
            let _permit = readers
                .permits
                .acquire()
                .await
                .map_err(|_| StoreError::Closed)?;
            let on_thread = readers.clone();
            let r = tokio::task::spawn_blocking(move || on_thread.with(f))
                .await
                .map_err(StoreError::backend)?;
            r.map_err(StoreError::from)
        })
    }

    fn call<T: Send + 'static>(
        &self,
        make: impl FnOnce(Reply<T>) -> Command,
    ) -> BoxFuture<'_, Result<T>> {
        let (reply, rx) = oneshot::channel();
        let sent = self.tx.send(make(reply));
        Box::pin(async move {
            sent.map_err(|_| StoreError::Closed)?;
            rx.await.map_err(|_| StoreError::Closed)?
        })
    }
}

impl EventLog for EmbeddedStore {
    fn append(&self, mut batch: AppendBatch) -> BoxFuture<'_, Result<()>> {
        // No time given: the store's own clock stamps the events (and when their work is due).
        batch.now_ms.get_or_insert_with(|| self.clock.now_ms());
        self.call(|r| Command::Append(batch, r))
    }

    fn events(&self, after: i64, limit: usize) -> BoxFuture<'_, Result<Vec<StoredEvent>>> {
        self.read(move |c| events(c, after, limit))
    }

    fn events_by_time(&self, range: EventRange) -> BoxFuture<'_, Result<Vec<StoredEvent>>> {
        self.exec(move |tx| events_by_time(tx, &range))
    }

    fn counts(&self) -> BoxFuture<'_, Result<StoreCounts>> {
        Box::pin(async move {
            let mut c = self.read(counts).await?;
            c.bytes = files_size(&self.path);
            Ok(c)
        })
    }

    fn expire(&self, expiry: Expiry) -> BoxFuture<'_, Result<Expired>> {
        Box::pin(async move {
            let mut expired = Expired::default();
            if let Some(before) = expiry.dead_before_ms {
                expired.dead_letters = self
                    .exec(move |tx| {
                        Ok(tx
                            .prepare_cached("DELETE FROM dead WHERE dead_ms < ?1")?
                            .execute([before])? as u64)
                    })
                    .await?;
            }
            let Some(before) = expiry.events_before_ms else {
                return Ok(expired);
            };
            // Found on a reader (a scan past kept events must not hold the writer), deleted by
            // the writer. No event found here can gain a work item or a dead letter meanwhile:
            // new work comes with new events, and dead letters come from existing work.
            let keep = expiry.keep;
            let max = i64::try_from(expiry.max_events).unwrap_or(i64::MAX);
            let doomed = self.read(move |c| expirable(c, before, &keep, max)).await?;
            if doomed.is_empty() {
                return Ok(expired);
            }
            expired.events = self
                .exec(move |tx| {
                    // The newest event may be among them: record the top first.
                    tx.prepare_cached(TOP_SEQ)?.execute([])?;
                    let mut st = tx.prepare_cached("DELETE FROM events WHERE seq = ?1")?;
                    let mut n = 0;
                    for seq in doomed {
                        n += st.execute([seq])? as u64;
                    }
                    tx.prepare_cached("UPDATE event_log SET missing = missing + ?1")?
                        .execute([n as i64])?;
                    Ok(n)
                })
                .await?;
            Ok(expired)
        })
    }
}

impl WorkStore for EmbeddedStore {
    fn lease(
        &self,
        target: Option<String>,
        now_ms: i64,
        max: usize,
        lease_ms: i64,
    ) -> BoxFuture<'_, Result<Vec<WorkItem>>> {
        let store_now_ms = self.clock.now_ms();
        self.call(|reply| Command::Lease {
            target,
            now_ms,
            store_now_ms,
            max,
            lease_ms,
            reply,
        })
    }

    fn extend(&self, leases: Vec<Lease>, lease_ms: i64) -> BoxFuture<'_, Result<Vec<Lease>>> {
        let until = self.clock.now_ms().saturating_add(lease_ms);
        self.exec(move |tx| {
            let mut st = tx.prepare_cached(
                "UPDATE work SET due_ms = ?3 WHERE id = ?1 AND token = ?2 AND leased = 1",
            )?;
            let mut refused = Vec::new();
            for l in leases {
                if st.execute(params![l.id, l.token, until])? == 0 {
                    refused.push(l);
                }
            }
            Ok(refused)
        })
    }

    fn release_leases(&self, now_ms: i64) -> BoxFuture<'_, Result<u64>> {
        self.release_leases_except(now_ms, Vec::new())
    }

    fn release_leases_except(&self, now_ms: i64, keep: Vec<i64>) -> BoxFuture<'_, Result<u64>> {
        self.exec(move |tx| {
            // The ids to keep as a JSON array, read back with `json_each` (any number of them).
            let keep = format!(
                "[{}]",
                keep.iter()
                    .map(i64::to_string)
                    .collect::<Vec<_>>()
                    .join(",")
            );
            let n = tx
                .prepare_cached(
                    "UPDATE work SET due_ms = ?1, leased = 0 WHERE leased = 1 \
                     AND id NOT IN (SELECT value FROM json_each(?2))",
                )?
                .execute(rusqlite::params![now_ms, keep])?;
            Ok(n as u64)
        })
    }

    fn next_due(&self) -> BoxFuture<'_, Result<Option<i64>>> {
        self.exec(|tx| {
            Ok(tx
                .prepare_cached("SELECT due_ms FROM work WHERE leased = 0 ORDER BY due_ms LIMIT 1")?
                .query_row([], |r| r.get::<_, i64>(0))
                .optional()?)
        })
    }

    fn ack(&self, leases: Vec<Lease>) -> BoxFuture<'_, Result<Vec<Lease>>> {
        self.call(|r| Command::Ack(leases, r))
    }

    fn nack(&self, lease: Lease, due_ms: i64) -> BoxFuture<'_, Result<bool>> {
        self.call(|reply| Command::Nack {
            lease,
            due_ms,
            reply,
        })
    }

    fn dead_letter(
        &self,
        lease: Lease,
        reason: String,
        now_ms: i64,
    ) -> BoxFuture<'_, Result<bool>> {
        self.call(|reply| Command::DeadLetter {
            lease,
            reason,
            now_ms,
            reply,
        })
    }

    fn dead_letters(&self, limit: usize) -> BoxFuture<'_, Result<Vec<DeadLetter>>> {
        self.read(move |c| dead_letters(c, limit))
    }
}

impl QueueStore for EmbeddedStore {
    fn queue_send(
        &self,
        queue: String,
        messages: Vec<NewMessage>,
        now_ms: i64,
        ack: Vec<Lease>,
    ) -> BoxFuture<'_, Result<Vec<Sent>>> {
        self.exec(move |tx| {
            fenced_ack(tx, &ack)?;
            queue::send(tx, &queue, messages, now_ms)
        })
    }

    fn queue_receive(
        &self,
        queue: String,
        opts: ReceiveOptions,
    ) -> BoxFuture<'_, Result<Vec<Message>>> {
        self.exec(move |tx| queue::receive(tx, &queue, &opts))
    }

    fn queue_delete(
        &self,
        queue: String,
        receipts: Vec<String>,
    ) -> BoxFuture<'_, Result<Vec<bool>>> {
        self.exec(move |tx| {
            receipts
                .iter()
                .map(|r| queue::delete(tx, &queue, r))
                .collect()
        })
    }

    fn queue_change_visibility(
        &self,
        queue: String,
        changes: Vec<(String, i64)>,
        now_ms: i64,
    ) -> BoxFuture<'_, Result<Vec<bool>>> {
        self.exec(move |tx| {
            changes
                .iter()
                .map(|(r, at)| queue::change_visibility(tx, &queue, r, now_ms, *at))
                .collect()
        })
    }

    fn queue_purge(&self, queue: String) -> BoxFuture<'_, Result<()>> {
        self.exec(move |tx| queue::purge(tx, &queue))
    }

    fn queue_stats(&self, queue: String, now_ms: i64) -> BoxFuture<'_, Result<QueueStats>> {
        self.read(move |c| queue::stats(c, &queue, now_ms))
    }

    fn queue_next_visible(&self, queue: String) -> BoxFuture<'_, Result<Option<i64>>> {
        self.exec(move |tx| queue::next_visible(tx, &queue))
    }
}

impl DefinitionStore for EmbeddedStore {
    fn apply(&self, changes: Vec<DefinitionChange>) -> BoxFuture<'_, Result<u64>> {
        self.call(|r| Command::Apply(changes, r))
    }

    fn definitions(&self) -> BoxFuture<'_, Result<Definitions>> {
        self.call(Command::Definitions)
    }

    fn watch(&self) -> broadcast::Receiver<Notification> {
        self.notify.subscribe()
    }
}

impl LogStore for EmbeddedStore {
    fn logs_append(
        &self,
        events: Vec<NewLogEvent>,
        now_ms: i64,
        ack: Vec<Lease>,
    ) -> BoxFuture<'_, Result<()>> {
        self.exec(move |tx| {
            fenced_ack(tx, &ack)?;
            logs::append(tx, &events, now_ms)
        })
    }

    fn logs_write(
        &self,
        events: Vec<NewLogEvent>,
        now_ms: i64,
        mut batch: AppendBatch,
    ) -> BoxFuture<'_, Result<()>> {
        batch.now_ms.get_or_insert(now_ms);
        self.exec(move |tx| {
            // The append first: its refusals fail the command before anything is written.
            append(tx, batch)?;
            logs::append(tx, &events, now_ms)
        })
    }

    fn logs_read(&self, query: LogQuery) -> BoxFuture<'_, Result<Vec<LogEvent>>> {
        self.read(move |c| logs::read(c, &query))
    }

    fn logs_streams(&self, group: String) -> BoxFuture<'_, Result<Vec<LogStream>>> {
        self.read(move |c| logs::streams(c, &group))
    }

    fn logs_delete_group(&self, group: String) -> BoxFuture<'_, Result<()>> {
        self.exec(move |tx| logs::delete_group(tx, &group))
    }

    fn logs_delete_stream(
        &self,
        group: String,
        stream: String,
        max: usize,
    ) -> BoxFuture<'_, Result<usize>> {
        self.exec(move |tx| logs::delete_stream(tx, &group, &stream, max))
    }

    fn logs_expire(
        &self,
        group: String,
        before_ms: i64,
        max: usize,
    ) -> BoxFuture<'_, Result<usize>> {
        self.exec(move |tx| logs::expire(tx, &group, before_ms, max))
    }
}

impl TickStore for EmbeddedStore {
    fn ticks(&self) -> BoxFuture<'_, Result<Vec<(String, i64)>>> {
        self.exec(|tx| {
            let mut st = tx.prepare_cached("SELECT schedule, tick_ms FROM ticks")?;
            let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    fn forget_ticks(&self, schedules: Vec<String>) -> BoxFuture<'_, Result<()>> {
        self.exec(move |tx| {
            let mut st = tx.prepare_cached("DELETE FROM ticks WHERE schedule = ?1")?;
            for s in &schedules {
                st.execute([s])?;
            }
            Ok(())
        })
    }
}

impl Drop for EmbeddedStore {
    /// A store that goes away leads nothing: receivers of its leadership that outlive it read
    /// `false`.
    fn drop(&mut self) {
        self.leader.send_replace(false);
    }
}

impl ClusterStore for EmbeddedStore {
    fn leadership(&self, _role: &str) -> tokio::sync::watch::Receiver<bool> {
        self.leader.subscribe()
    }

    fn heartbeat(&self, mut node: NodeInfo) -> BoxFuture<'_, Result<()>> {
        node.last_seen_ms = self.clock.now_ms();
        *self.node.lock().unwrap_or_else(|e| e.into_inner()) = Some(node);
        Box::pin(async { Ok(()) })
    }

    fn nodes(&self) -> BoxFuture<'_, Result<Vec<NodeInfo>>> {
        let node = self.node.lock().unwrap_or_else(|e| e.into_inner()).clone();
        Box::pin(async move { Ok(node.into_iter().collect()) })
    }
}

impl Store for EmbeddedStore {
    fn reset(&self) -> BoxFuture<'_, Result<u64>> {
        self.call(Command::Reset)
    }

    fn reclaim(&self, max_bytes: u64) -> BoxFuture<'_, Result<u64>> {
        self.exec(move |tx| {
            let page: i64 = tx.query_row("PRAGMA page_size", [], |r| r.get(0))?;
            let free = |tx: &Transaction<'_>| -> rusqlite::Result<i64> {
                tx.query_row("PRAGMA freelist_count", [], |r| r.get(0))
            };
            let before = free(tx)?;
            let total: i64 = tx.query_row("PRAGMA page_count", [], |r| r.get(0))?;
            // Keep a reserve of free pages for the writes to come (a queue that drains fills
            // again): giving space back only to take it again costs the writer for nothing.
            let reserve = (RECLAIM_RESERVE_BYTES / page.max(1)).min((total - before) / 4);
            let spare = u64::try_from(before - reserve).unwrap_or(0);
            let pages = (max_bytes / page.max(1) as u64).min(spare);
            if pages == 0 {
                return Ok(0);
            }
            // Each step of the statement frees one page: run it to the end.
            let mut st = tx.prepare(&format!("PRAGMA incremental_vacuum({pages})"))?;
            let mut rows = st.query([])?;
            while rows.next()?.is_some() {}
            drop(rows);
            drop(st);
            let given = before.saturating_sub(free(tx)?);
            Ok(given as u64 * page as u64)
        })
    }

    fn blob_store(&self) -> Arc<dyn crate::BlobStore> {
        self.blobs.clone()
    }

    fn health(&self) -> StoreHealth {
        if self.space.full() {
            StoreHealth::Full {
                message: self.space.error().to_string(),
            }
        } else {
            StoreHealth::Ok
        }
    }
}

/// Creates `dir` with mode `0700` (its missing parents as the umask says) unless it exists.
fn create_private_dir(dir: &Path) -> DbResult<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent)?;
    }
    match DirBuilder::new().mode(0o700).create(dir) {
        // The umask may have taken bits away; the owner needs all three.
        Ok(()) => Ok(std::fs::set_permissions(
            dir,
            Permissions::from_mode(0o700),
        )?),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Creates `eddy.db` with mode `0600` before SQLite opens it, and tightens to `0600` every
/// store file that others may read or write.
fn private_files(dir: &Path) -> DbResult<()> {
    match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(dir.join(DB_FILES[0]))
    {
        Ok(file) => {
            file.set_permissions(Permissions::from_mode(0o600))?;
            // The new file's name is durable once its directory is synced (SQLite syncs the
            // directory of the WAL it creates, not of the database file it is handed).
            std::fs::File::open(dir)?.sync_all()?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e.into()),
    }
    let mut tightened = Vec::new();
    for name in DB_FILES {
        let path = dir.join(name);
        let mode = match std::fs::metadata(&path) {
            Ok(meta) => meta.permissions().mode(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e.into()),
        };
        if mode & 0o077 != 0 {
            std::fs::set_permissions(&path, Permissions::from_mode(0o600))?;
            tightened.push(format!("{name} ({:o})", mode & 0o7777));
        }
    }
    if !tightened.is_empty() {
        tracing::warn!(
            dir = %dir.display(),
            files = %tightened.join(", "),
            "other users could read the store's files: made them private (0600)"
        );
    }
    Ok(())
}

/// Whether an error says there is no space left (SQLite's `SQLITE_FULL`, `ENOSPC`, `EDQUOT`).
fn is_full(e: &DbError) -> bool {
    match e {
        DbError::Full(_) => true,
        DbError::Sqlite(rusqlite::Error::SqliteFailure(f, _)) => {
            f.code == rusqlite::ErrorCode::DiskFull
        }
        DbError::Io(e) => matches!(
            e.kind(),
            std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
        ),
        _ => false,
    }
}

/// Whether an error is an I/O failure whose cause SQLite does not report: SQLite answers
/// `SQLITE_FULL` for `ENOSPC` on most writes, but a plain `SQLITE_IOERR` for `EDQUOT` and for
/// failures to grow the `-shm` file or to sync. [`space_exhausted`] decides those.
fn is_io_failure(e: &DbError) -> bool {
    match e {
        DbError::Sqlite(rusqlite::Error::SqliteFailure(f, _)) => {
            f.code == rusqlite::ErrorCode::SystemIoFailure
        }
        DbError::Io(e) => e.raw_os_error().is_some(),
        _ => false,
    }
}

/// Whether the file system of `dir` cannot take [`SPACE_CHECK_BYTES`] more, found by writing
/// (and syncing) that much to a private scratch file, removed again.
fn space_exhausted(dir: &Path) -> bool {
    let path = dir.join(".eddy-space-check");
    let written = (|| -> std::io::Result<()> {
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&path)?;
        file.write_all(&[0; SPACE_CHECK_BYTES])?;
        file.sync_data()
    })();
    let _gone = std::fs::remove_file(&path).is_ok();
    written.is_err_and(|e| is_full(&DbError::Io(e)))
}

/// The answer to one command, held until the transaction that produced it is durable.
enum Pending {
    Unit(Reply<()>, DbResult<()>),
    Flag(Reply<bool>, DbResult<bool>),
    Leases(Reply<Vec<Lease>>, DbResult<Vec<Lease>>),
    Work(Reply<Vec<WorkItem>>, DbResult<Vec<WorkItem>>),
    Defs(Reply<Definitions>, DbResult<Definitions>),
    Version(Reply<u64>, DbResult<u64>),
    Any(Box<dyn AnyReply>),
}

/// A typed answer behind [`Pending::Any`].
trait AnyReply: Send {
    fn error(&self) -> Option<&DbError>;
    fn send(self: Box<Self>, outcome: &Outcome<'_>);
}

impl<T: Send> AnyReply for (Reply<T>, DbResult<T>) {
    fn error(&self) -> Option<&DbError> {
        self.1.as_ref().err()
    }

    fn send(self: Box<Self>, outcome: &Outcome<'_>) {
        let (tx, r) = *self;
        let _gone = tx.send(outcome.finish(r)).is_err();
    }
}

/// How a batch ended, which decides what its callers are told.
struct Outcome<'a> {
    /// The transaction failed (nothing of the batch was committed), with this message.
    failed: Option<String>,
    /// The batch ran out of space: [`StoreError::Full`] replaces its I/O errors.
    full: Option<&'a Space>,
}

impl Outcome<'_> {
    fn finish<T>(&self, r: DbResult<T>) -> Result<T> {
        if let Some(space) = self.full
            && (self.failed.is_some() || r.as_ref().is_err_and(|e| is_full(e) || is_io_failure(e)))
        {
            return Err(space.error().into());
        }
        match &self.failed {
            Some(e) => Err(StoreError::backend(e.clone())),
            None => r.map_err(StoreError::from),
        }
    }
}

impl Pending {
    fn error(&self) -> Option<&DbError> {
        match self {
            Pending::Any(a) => a.error(),
            Pending::Unit(_, r) => r.as_ref().err(),
            Pending::Flag(_, r) => r.as_ref().err(),
            Pending::Leases(_, r) => r.as_ref().err(),
            Pending::Work(_, r) => r.as_ref().err(),
            Pending::Defs(_, r) => r.as_ref().err(),
            Pending::Version(_, r) => r.as_ref().err(),
        }
    }

    fn is_err(&self) -> bool {
        self.error().is_some()
    }

    /// The reply of a command that never ran because the transaction failed first; its answer
    /// is the batch's error ([`Outcome::failed`]).
    fn abandoned(cmd: Command) -> Pending {
        fn never<T>() -> DbResult<T> {
            Err(DbError::Closed)
        }
        match cmd {
            Command::Append(_, reply) | Command::Probe(reply) => Pending::Unit(reply, never()),
            Command::Apply(_, reply) | Command::Reset(reply) => Pending::Version(reply, never()),
            Command::Ack(_, reply) => Pending::Leases(reply, never()),
            Command::Nack { reply, .. } | Command::DeadLetter { reply, .. } => {
                Pending::Flag(reply, never())
            }
            Command::Lease { reply, .. } => Pending::Work(reply, never()),
            Command::Definitions(reply) => Pending::Defs(reply, never()),
            Command::Exec(f) => f(None),
        }
    }

    /// Sends the answer as the batch's `outcome` decides. A caller that went away is not an
    /// error: its change is durable all the same.
    fn send(self, outcome: &Outcome<'_>) {
        let _unused = match self {
            Pending::Any(a) => {
                a.send(outcome);
                true
            }
            Pending::Unit(tx, r) => tx.send(outcome.finish(r)).is_ok(),
            Pending::Flag(tx, r) => tx.send(outcome.finish(r)).is_ok(),
            Pending::Leases(tx, r) => tx.send(outcome.finish(r)).is_ok(),
            Pending::Work(tx, r) => tx.send(outcome.finish(r)).is_ok(),
            Pending::Defs(tx, r) => tx.send(outcome.finish(r)).is_ok(),
            Pending::Version(tx, r) => tx.send(outcome.finish(r)).is_ok(),
        };
    }
}

struct Writer {
    conn: Connection,
    observer: Arc<dyn StoreObserver>,
    notify: broadcast::Sender<Notification>,
    space: Arc<Space>,
    dir: PathBuf,
}

impl Writer {
    fn run(mut self, rx: mpsc::Receiver<Command>) {
        let mut batch = Vec::with_capacity(64);
        // While the store is full: when the writer last tried a write of its own. Callers' reads
        // keep coming without telling whether space returned, so the probe runs on time however
        // busy the writer is.
        let mut probed = Instant::now();
        loop {
            if self.space.full() {
                match rx.recv_timeout(PROBE_INTERVAL.saturating_sub(probed.elapsed())) {
                    Ok(cmd) => batch.push(cmd),
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => break,
                }
                if probed.elapsed() >= PROBE_INTERVAL {
                    batch.push(Command::Probe(oneshot::channel().0));
                    probed = Instant::now();
                }
            } else {
                match rx.recv() {
                    Ok(cmd) => batch.push(cmd),
                    Err(_) => break,
                }
                probed = Instant::now();
            }
            if batch.is_empty() {
                continue;
            }
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(cmd) => batch.push(cmd),
                    Err(_) => break,
                }
            }
            self.commit(&mut batch);
        }
    }

    fn commit(&mut self, batch: &mut Vec<Command>) {
        let started = Instant::now();
        let requests = batch.len();
        let mut pending = Vec::with_capacity(requests);
        let mut notes = Vec::new();
        let changes_before = self.conn.total_changes();
        let result = run_batch(&mut self.conn, batch, &mut pending, &mut notes);
        if !self.conn.is_autocommit() {
            // A failed COMMIT can leave the transaction open: end it, so that the next batch
            // starts from the last committed state.
            if let Err(e) = self.conn.execute_batch("ROLLBACK") {
                tracing::error!(error = %e, "cannot roll back a failed store transaction");
            }
        }
        let errors = || {
            pending
                .iter()
                .filter_map(Pending::error)
                .chain(result.as_ref().err())
        };
        let full =
            errors().any(is_full) || (errors().any(is_io_failure) && space_exhausted(&self.dir));
        let wrote = result.is_ok() && self.conn.total_changes() > changes_before;
        if full {
            if !self.space.full.swap(true, Ordering::AcqRel) {
                tracing::error!(
                    dir = %self.dir.display(),
                    "the store is full: writes fail until space is freed"
                );
            }
        } else if wrote && self.space.full.swap(false, Ordering::AcqRel) {
            tracing::info!(dir = %self.dir.display(), "the store has space again: writes resume");
        }
        let failed = match &result {
            Ok(()) => None,
            Err(e) => {
                if !full {
                    tracing::error!(error = %e, "store commit failed");
                }
                notes.clear();
                Some(e.to_string())
            }
        };
        self.observer.committed(started.elapsed(), requests);
        for note in notes {
            let _receivers = self.notify.send(note).unwrap_or(0);
        }
        let outcome = Outcome {
            failed,
            full: full.then_some(&*self.space),
        };
        for p in pending {
            p.send(&outcome);
        }
    }
}

/// Runs every command of `batch` in one transaction, each in its own savepoint so that one that
/// fails leaves nothing behind while the others still commit, then commits. Every command leaves
/// exactly one answer in `pending`, also when the transaction fails before or after its turn.
fn run_batch(
    conn: &mut Connection,
    batch: &mut Vec<Command>,
    pending: &mut Vec<Pending>,
    notes: &mut Vec<Notification>,
) -> DbResult<()> {
    let tx = match conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => {
            pending.extend(batch.drain(..).map(Pending::abandoned));
            return Err(e.into());
        }
    };
    let mut broken = None;
    for cmd in batch.drain(..) {
        if broken.is_some() {
            pending.push(Pending::abandoned(cmd));
            continue;
        }
        if let Err(e) = tx
            .prepare_cached("SAVEPOINT cmd")
            .and_then(|mut st| st.execute([]))
        {
            pending.push(Pending::abandoned(cmd));
            broken = Some(e.into());
            continue;
        }
        let before = pending.len();
        execute(&tx, cmd, pending, notes);
        let failed = pending.get(before).is_some_and(Pending::is_err);
        let settled = (|| -> DbResult<()> {
            // SQLite may roll the whole transaction back on its own after some errors
            // (`SQLITE_FULL`, `SQLITE_IOERR`): then nothing of this batch can commit.
            if tx.is_autocommit() {
                return Err(DbError::Io(std::io::Error::other(
                    "sqlite rolled the transaction back",
                )));
            }
            if failed {
                tx.prepare_cached("ROLLBACK TO cmd")?.execute([])?;
            }
            tx.prepare_cached("RELEASE cmd")?.execute([])?;
            Ok(())
        })();
        if let Err(e) = settled {
            broken = Some(e);
        }
    }
    match broken {
        // Dropping the transaction rolls it back.
        Some(e) => Err(e),
        None => Ok(tx.commit()?),
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn execute(
    tx: &Transaction<'_>,
    cmd: Command,
    pending: &mut Vec<Pending>,
    notes: &mut Vec<Notification>,
) {
    match cmd {
        Command::Append(batch, reply) => pending.push(Pending::Unit(reply, append(tx, batch))),
        Command::Lease {
            target,
            now_ms,
            store_now_ms,
            max,
            lease_ms,
            reply,
        } => pending.push(Pending::Work(
            reply,
            lease(tx, target.as_deref(), (now_ms, store_now_ms), max, lease_ms),
        )),
        Command::Ack(leases, reply) => pending.push(Pending::Leases(reply, ack(tx, &leases))),
        Command::Nack {
            lease,
            due_ms,
            reply,
        } => {
            let r = tx
                .prepare_cached(
                    "UPDATE work SET due_ms = ?3, leased = 0
                     WHERE id = ?1 AND token = ?2 AND leased = 1",
                )
                .and_then(|mut st| st.execute(params![lease.id, lease.token, due_ms]))
                .map(|n| n > 0)
                .map_err(DbError::from);
            pending.push(Pending::Flag(reply, r));
        }
        Command::DeadLetter {
            lease,
            reason,
            now_ms,
            reply,
        } => {
            let r = (|| {
                let n = tx
                    .prepare_cached(
                        "INSERT INTO dead (work_id, event_seq, rule, target, attempts, reason, dead_ms)
                         SELECT id, event_seq, rule, target, attempts, ?3, ?4 FROM work
                         WHERE id = ?1 AND token = ?2 AND leased = 1",
                    )?
                    .execute(params![lease.id, lease.token, reason, now_ms])?;
                if n > 0 {
                    tx.prepare_cached("DELETE FROM work WHERE id = ?1")?
                        .execute([lease.id])?;
                }
                Ok(n > 0)
            })();
            pending.push(Pending::Flag(reply, r));
        }
        Command::Apply(changes, reply) => {
            let r = apply(tx, &changes).and_then(|()| next_version(tx));
            if let Ok(version) = r {
                notes.push(Notification::Changed { version, changes });
            }
            pending.push(Pending::Version(reply, r));
        }
        Command::Definitions(reply) => {
            let r = (|| {
                let mut st = tx.prepare_cached(
                    "SELECT kind, key, value FROM definitions ORDER BY kind, key",
                )?;
                let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
                let items = rows.collect::<rusqlite::Result<Vec<_>>>()?;
                let version = tx
                    .prepare_cached("SELECT version FROM definitions_version WHERE id = 1")?
                    .query_row([], |r| r.get::<_, i64>(0))
                    .optional()?
                    .unwrap_or(0) as u64;
                // Read at start-up (and by manifest applies): the pages it pulled into the
                // cache are not the hot ones; give them back (16 MiB with 100,000 schedules).
                tx.execute_batch("PRAGMA shrink_memory")?;
                Ok(Definitions { version, items })
            })();
            pending.push(Pending::Defs(reply, r));
        }
        Command::Exec(f) => pending.push(f(Some(tx))),
        Command::Probe(reply) => {
            let r = tx
                .prepare_cached(
                    "INSERT INTO probe (id, at_ms) VALUES (1, ?1)
                     ON CONFLICT (id) DO UPDATE SET at_ms = excluded.at_ms",
                )
                .and_then(|mut st| st.execute([now_ms()]))
                .map(|_| ())
                .map_err(DbError::from);
            pending.push(Pending::Unit(reply, r));
        }
        Command::Reset(reply) => {
            let r = tx
                .execute_batch(
                    "UPDATE event_log SET top_seq = max(top_seq, coalesce((SELECT max(seq) FROM events), 0));
                     UPDATE event_log SET missing = top_seq;
                     DELETE FROM events; DELETE FROM work; DELETE FROM dead; DELETE FROM definitions;
                     DELETE FROM messages; DELETE FROM dedup; DELETE FROM log_events;
                     DELETE FROM ticks;",
                )
                .and_then(|()| tx.execute_batch(objects::RESET))
                .map_err(DbError::from)
                .and_then(|()| next_version(tx));
            if let Ok(version) = r {
                notes.push(Notification::Reset { version });
            }
            pending.push(Pending::Version(reply, r));
        }
    }
}

fn append(tx: &Transaction<'_>, batch: AppendBatch) -> DbResult<()> {
    // Refusals first (a lost lease, then a tick taken), as the PostgreSQL store decides them;
    // the command's savepoint rolls back whatever a refusal leaves.
    fenced_ack(tx, &batch.ack)?;
    record_ticks(tx, &batch.ticks)?;
    let ingested = batch.now_ms.unwrap_or_else(now_ms);
    let mut seqs = Vec::with_capacity(batch.events.len());
    if !batch.events.is_empty() {
        // After the newest events were expired (or everything reset), positions go on from
        // the top recorded then, not from the newest event left (see `event_log`).
        let first: i64 = tx
            .prepare_cached(
                "SELECT max(coalesce((SELECT max(seq) FROM events), 0),
                            (SELECT top_seq FROM event_log)) + 1",
            )?
            .query_row([], |r| r.get(0))?;
        let mut st = tx.prepare_cached(
            "INSERT INTO events (seq, id, bus, time_ms, ingested_ms, hops, body)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?;
        for (seq, e) in (first..).zip(&batch.events) {
            st.execute(params![
                seq, e.id, e.bus, e.time_ms, ingested, e.hops, e.body
            ])?;
            seqs.push(seq);
        }
    }
    if !batch.work.is_empty() {
        let mut st = tx.prepare_cached(
            "INSERT INTO work (event_seq, rule, target, due_ms, attempts, created_ms)
             VALUES (?1, ?2, ?3, ?4, 0, ?4)",
        )?;
        for w in &batch.work {
            let Some(seq) = seqs.get(w.event) else {
                return Err(DbError::Io(std::io::Error::other(
                    "work item names no event",
                )));
            };
            st.execute(params![seq, w.rule, w.target, ingested])?;
        }
    }
    for q in batch.messages {
        queue::send(tx, &q.queue, q.messages, ingested)?;
    }
    Ok(())
}

/// Records `ticks` in order, each of which must be later than the one recorded for its schedule
/// before it (by an earlier append, or earlier in `ticks`); fails with [`DbError::TickTaken`]
/// naming the schedules whose tick is not, so that the command's savepoint rolls the append back.
fn record_ticks(tx: &Transaction<'_>, ticks: &[Tick]) -> DbResult<()> {
    if ticks.is_empty() {
        return Ok(());
    }
    let mut read = tx.prepare_cached("SELECT tick_ms FROM ticks WHERE schedule = ?1")?;
    let mut latest: std::collections::HashMap<&str, i64> = std::collections::HashMap::new();
    let mut taken: Vec<String> = Vec::new();
    for t in ticks {
        let recorded = match latest.get(t.schedule.as_str()) {
            Some(at) => Some(*at),
            None => read
                .query_row([&t.schedule], |r| r.get::<_, i64>(0))
                .optional()?,
        };
        if recorded.is_some_and(|at| t.tick_ms <= at) {
            if !taken.contains(&t.schedule) {
                taken.push(t.schedule.clone());
            }
        } else {
            latest.insert(&t.schedule, t.tick_ms);
        }
    }
    if !taken.is_empty() {
        return Err(DbError::TickTaken(taken));
    }
    let mut write = tx.prepare_cached(
        "INSERT INTO ticks (schedule, tick_ms) VALUES (?1, ?2)
         ON CONFLICT (schedule) DO UPDATE SET tick_ms = excluded.tick_ms",
    )?;
    for (schedule, tick_ms) in latest {
        write.execute(params![schedule, tick_ms])?;
    }
    Ok(())
}

/// Removes the work items of the current leases among `leases`; answers the others (refused).
fn ack(tx: &Transaction<'_>, leases: &[Lease]) -> DbResult<Vec<Lease>> {
    let mut st =
        tx.prepare_cached("DELETE FROM work WHERE id = ?1 AND token = ?2 AND leased = 1")?;
    let mut refused = Vec::new();
    for l in leases {
        if st.execute(params![l.id, l.token])? == 0 {
            refused.push(*l);
        }
    }
    Ok(refused)
}

/// [`ack`] for a write that completes work items: fails with [`DbError::LeaseLost`] when a lease
/// is refused, so that the command's savepoint rolls the whole write back.
fn fenced_ack(tx: &Transaction<'_>, leases: &[Lease]) -> DbResult<()> {
    let refused = ack(tx, leases)?;
    if refused.is_empty() {
        Ok(())
    } else {
        Err(DbError::LeaseLost(refused))
    }
}

/// Leases up to `max` items: those whose lease ended by the store's clock (`store_now`), then
/// those due by the caller's (`now`). See the module docs, "Leases".
fn lease(
    tx: &Transaction<'_>,
    target: Option<&str>,
    (now, store_now): (i64, i64),
    max: usize,
    lease_ms: i64,
) -> DbResult<Vec<WorkItem>> {
    let mut items = Vec::new();
    // `?1` the lease state, `?2` the deadline on that state's clock.
    let mut st = tx.prepare_cached(
        "SELECT w.id, w.token, e.id, e.bus, w.rule, w.target, w.attempts, w.created_ms, e.body,
                e.hops
         FROM work w JOIN events e ON e.seq = w.event_seq
         WHERE w.leased = ?1 AND w.due_ms <= ?2 AND (?3 IS NULL OR w.target = ?3)
         ORDER BY w.due_ms, w.id LIMIT ?4",
    )?;
    for (leased, by) in [(1, store_now), (0, now)] {
        let left = i64::try_from(max - items.len()).unwrap_or(i64::MAX);
        if left == 0 {
            break;
        }
        let rows = st.query_map(params![leased, by, target, left], |r| {
            Ok(WorkItem {
                id: r.get(0)?,
                token: r.get(1)?,
                event_id: r.get(2)?,
                bus: r.get(3)?,
                rule: r.get(4)?,
                target: r.get(5)?,
                attempts: r.get(6)?,
                created_ms: r.get(7)?,
                body: r.get(8)?,
                hops: r.get(9)?,
            })
        })?;
        for row in rows {
            items.push(row?);
        }
    }
    let mut up = tx.prepare_cached(
        "UPDATE work SET due_ms = ?2, attempts = attempts + 1, leased = 1, token = token + 1
         WHERE id = ?1",
    )?;
    let until = store_now.saturating_add(lease_ms);
    for item in &mut items {
        up.execute(params![item.id, until])?;
        item.attempts += 1;
        item.token += 1;
    }
    Ok(items)
}

fn dead_letters(tx: &Connection, limit: usize) -> DbResult<Vec<DeadLetter>> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut st = tx.prepare_cached(
        "SELECT d.work_id, e.id, e.bus, d.rule, d.target, d.attempts, d.reason, d.dead_ms, e.body
         FROM dead d JOIN events e ON e.seq = d.event_seq ORDER BY d.dead_ms, d.id LIMIT ?1",
    )?;
    let rows = st.query_map([limit], |r| {
        Ok(DeadLetter {
            id: r.get(0)?,
            event_id: r.get(1)?,
            bus: r.get(2)?,
            rule: r.get(3)?,
            target: r.get(4)?,
            attempts: r.get(5)?,
            reason: r.get(6)?,
            dead_ms: r.get(7)?,
            body: r.get(8)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// An event from a row of `SELECT seq, id, bus, time_ms, ingested_ms, body FROM events`.
fn stored_event(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredEvent> {
    Ok(StoredEvent {
        seq: r.get(0)?,
        id: r.get(1)?,
        bus: r.get(2)?,
        time_ms: r.get(3)?,
        ingested_ms: r.get(4)?,
        body: r.get(5)?,
    })
}

fn events(tx: &Connection, after: i64, limit: usize) -> DbResult<Vec<StoredEvent>> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut st = tx.prepare_cached(
        "SELECT seq, id, bus, time_ms, ingested_ms, body FROM events WHERE seq > ?1
         ORDER BY seq LIMIT ?2",
    )?;
    let rows = st.query_map(params![after, limit], stored_event)?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

fn events_by_time(tx: &Transaction<'_>, range: &EventRange) -> DbResult<Vec<StoredEvent>> {
    let limit = i64::try_from(range.limit).unwrap_or(i64::MAX);
    let (after_time, after_seq) = range.after.unwrap_or((i64::MIN, i64::MIN));
    // `events_by_bus_time` (bus, time_ms, then rowid) serves both the range and the order. It is
    // built the first time anything reads events by time (archives, replays), not at start-up,
    // so PutEvents only pays for it in stores that use archives: an index write per event costs
    // ~20% of PutEvents throughput. Building it holds the writer once, for a few seconds per
    // million events.
    tx.execute_batch("CREATE INDEX IF NOT EXISTS events_by_bus_time ON events (bus, time_ms)")?;
    let mut st = tx.prepare_cached(
        "SELECT seq, id, bus, time_ms, ingested_ms, body FROM events
         WHERE bus = ?1 AND time_ms >= max(?2, ?5) AND time_ms < ?3
           AND (time_ms, seq) > (?5, ?6)
           AND ingested_ms >= ?4 AND ingested_ms < ?7
         ORDER BY time_ms, seq LIMIT ?8",
    )?;
    let rows = st.query_map(
        params![
            range.bus,
            range.from_ms,
            range.to_ms,
            range.ingested_from_ms,
            after_time,
            after_seq,
            range.ingested_to_ms,
            limit
        ],
        stored_event,
    )?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// Takes the next version of the definitions (see [`Notification`]), in the committing
/// transaction: a change that rolls back gives its version back.
fn next_version(tx: &Transaction<'_>) -> DbResult<u64> {
    let v: i64 = tx
        .prepare_cached(
            "INSERT INTO definitions_version (id, version) VALUES (1, 1)
             ON CONFLICT (id) DO UPDATE SET version = version + 1
             RETURNING version",
        )?
        .query_row([], |r| r.get(0))?;
    Ok(v as u64)
}

fn apply(tx: &Transaction<'_>, changes: &[DefinitionChange]) -> DbResult<()> {
    let mut put = tx.prepare_cached(
        "INSERT INTO definitions (kind, key, value) VALUES (?1, ?2, ?3)
         ON CONFLICT (kind, key) DO UPDATE SET value = excluded.value",
    )?;
    let mut del = tx.prepare_cached("DELETE FROM definitions WHERE kind = ?1 AND key = ?2")?;
    for c in changes {
        match &c.value {
            Some(v) => put.execute(params![c.kind, c.key, v])?,
            None => del.execute(params![c.kind, c.key])?,
        };
    }
    Ok(())
}

/// The events [`EventLog::expire`] may delete, oldest first: ingested before `before`, older
/// than every event a work item or dead letter refers to, and not kept for their bus.
fn expirable(c: &Connection, before: i64, keep: &[(String, i64)], max: i64) -> DbResult<Vec<i64>> {
    let floor: i64 = c.query_row(
        "SELECT min(coalesce((SELECT min(event_seq) FROM work), 9223372036854775807),
                    coalesce((SELECT min(event_seq) FROM dead), 9223372036854775807))",
        [],
        |r| r.get(0),
    )?;
    let mut sql = String::from("SELECT seq FROM events WHERE seq < ?1 AND ingested_ms < ?2");
    let mut args: Vec<rusqlite::types::Value> = vec![floor.into(), before.into()];
    for (bus, from) in keep {
        let n = args.len();
        sql.push_str(&format!(
            " AND NOT (bus = ?{} AND ingested_ms >= ?{})",
            n + 1,
            n + 2
        ));
        args.push(bus.clone().into());
        args.push((*from).into());
    }
    sql.push_str(&format!(" ORDER BY seq LIMIT ?{}", args.len() + 1));
    args.push(max.into());
    let mut st = c.prepare(&sql)?;
    let rows = st.query_map(rusqlite::params_from_iter(args), |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<Vec<i64>>>()?)
}

/// What the store holds. Cheap however long the event log grows: the log is counted from its
/// newest position and the positions expiry and reset emptied (`event_log`); the other tables
/// (backlog, dead letters, definitions) by scanning them.
fn counts(tx: &Connection) -> DbResult<StoreCounts> {
    let query = |sql: &str| -> DbResult<u64> {
        let n: Option<i64> = tx.query_row(sql, [], |r| r.get(0)).optional()?.flatten();
        Ok(n.unwrap_or(0).max(0) as u64)
    };
    let count = |table: &str| query(&format!("SELECT count(*) FROM {table}"));
    Ok(StoreCounts {
        events: query(
            "SELECT max(coalesce((SELECT max(seq) FROM events), 0), top_seq) - missing
             FROM event_log",
        )?,
        work_items: count("work")?,
        dead_letters: count("dead")?,
        definitions: count("definitions")?,
        oldest_event_ms: tx
            .query_row(
                "SELECT ingested_ms FROM events ORDER BY seq LIMIT 1",
                [],
                |r| r.get(0),
            )
            .optional()?,
        bytes: 0,
    })
}

/// The size of the database file and its write-ahead log (`-shm` is a memory map of the
/// log's index, not data); a file that is missing counts 0.
fn files_size(db: &Path) -> u64 {
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    [db.as_os_str(), wal.as_os_str()]
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads run on their own connections: they answer while the writer is busy, and they see
    /// every write answered before them.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reads_do_not_wait_behind_the_writer() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = EmbeddedStore::open(dir.path()).expect("open");
        let message = NewMessage {
            message_id: "m".into(),
            body: "b".into(),
            attributes: "{}".into(),
            delay_ms: 0,
            group_id: None,
            dedup_id: None,
        };
        store
            .queue_send("q".into(), vec![message], 0, Vec::new())
            .await
            .expect("send");
        // Hold the writer until the reads below have answered.
        let (release, held) = std::sync::mpsc::channel::<()>();
        let busy = store.exec(move |_| {
            let _released = held.recv_timeout(std::time::Duration::from_secs(30));
            Ok(())
        });
        // The command is queued when `exec` is called: the writer is held from here on.
        let reads = async {
            let reads = async {
                let stats = store.queue_stats("q".into(), 1).await.expect("stats");
                let counts = store.counts().await.expect("counts");
                (stats, counts)
            };
            let answered = tokio::time::timeout(std::time::Duration::from_secs(20), reads).await;
            release.send(()).expect("release");
            answered
        };
        let (held_writer, answered) = tokio::join!(busy, reads);
        held_writer.expect("writer");
        let (stats, _counts) = answered.expect("reads waited for the busy writer");
        assert_eq!(stats.visible, 1, "the read saw the answered send");
    }
}
