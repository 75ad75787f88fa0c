//! The embedded backend: SQLite in WAL mode, one writer thread doing group commit.
//!
//! Every request is a [`Command`] sent to the writer thread. The thread takes the first waiting
//! command, drains whatever else is already queued (up to [`MAX_BATCH`]), runs them all in one
//! transaction, commits (which fsyncs the WAL), and only then answers each caller. Concurrent
//! callers therefore share one fsync. Reads go through the same thread, so they see every
//! acknowledged write.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension, Transaction, params};
use tokio::sync::{broadcast, oneshot};

use crate::logs::{self, LogEvent, LogQuery, LogStream, NewLogEvent};
use crate::queue::{self, Message, NewMessage, QueueStats, ReceiveOptions, Sent};
use crate::{
    AppendBatch, BoxFuture, DeadLetter, Definition, DefinitionChange, EventRange, NoObserver,
    Notification, Result, Store, StoreCounts, StoreError, StoreObserver, StoredEvent, WorkItem,
};

/// Most caller requests folded into one transaction.
const MAX_BATCH: usize = 4096;

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
CREATE TABLE IF NOT EXISTS work (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event_seq INTEGER NOT NULL,
    rule TEXT NOT NULL,
    target TEXT NOT NULL,
    due_ms INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    leased INTEGER NOT NULL DEFAULT 0,
    created_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS work_by_due ON work (due_ms, id);
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
CREATE TABLE IF NOT EXISTS dedup (
    queue TEXT NOT NULL,
    dedup_id TEXT NOT NULL,
    message_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    sent_ms INTEGER NOT NULL,
    PRIMARY KEY (queue, dedup_id)
) WITHOUT ROWID;
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
";

/// Options for [`EmbeddedStore::open_with`].
pub struct EmbeddedStoreOptions {
    /// Fsync the WAL on every commit. Turning this off breaks the durability contract; it exists
    /// only to measure what the fsync costs.
    pub sync: bool,
    pub observer: Arc<dyn StoreObserver>,
}

impl Default for EmbeddedStoreOptions {
    fn default() -> Self {
        Self {
            sync: true,
            observer: Arc::new(NoObserver),
        }
    }
}

type Reply<T> = oneshot::Sender<Result<T>>;

enum Command {
    Append(AppendBatch, Reply<()>),
    Lease {
        target: Option<String>,
        now_ms: i64,
        max: usize,
        lease_ms: i64,
        reply: Reply<Vec<WorkItem>>,
    },
    Ack(Vec<i64>, Reply<()>),
    Nack {
        id: i64,
        due_ms: i64,
        reply: Reply<()>,
    },
    DeadLetter {
        id: i64,
        reason: String,
        now_ms: i64,
        reply: Reply<()>,
    },
    DeadLetters(usize, Reply<Vec<DeadLetter>>),
    Events {
        after: i64,
        limit: usize,
        reply: Reply<Vec<StoredEvent>>,
    },
    Apply(Vec<DefinitionChange>, Reply<()>),
    Definitions(Reply<Vec<Definition>>),
    Counts(Reply<StoreCounts>),
    Reset(Reply<()>),
    /// Any other operation: runs inside the group-commit transaction; its answer is held until
    /// the commit is durable.
    Exec(Exec),
}

type Exec = Box<dyn FnOnce(&Transaction<'_>) -> Pending + Send>;

/// The SQLite-backed store. Cheap to share behind an `Arc`; dropping the last handle stops the
/// writer thread after it finishes the commands already queued.
pub struct EmbeddedStore {
    tx: mpsc::Sender<Command>,
    notify: broadcast::Sender<Notification>,
    path: PathBuf,
}

impl EmbeddedStore {
    /// Opens (creating if needed) the store in `dir` (file `eddy.db`).
    pub fn open(dir: &Path) -> Result<Self> {
        Self::open_with(dir, EmbeddedStoreOptions::default())
    }

    pub fn open_with(dir: &Path, options: EmbeddedStoreOptions) -> Result<Self> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join("eddy.db");
        let conn = Connection::open(&path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(
            None,
            "synchronous",
            if options.sync { "FULL" } else { "OFF" },
        )?;
        conn.pragma_update(None, "foreign_keys", "OFF")?;
        conn.pragma_update(None, "cache_size", -16384)?;
        conn.execute_batch(SCHEMA)?;
        let (tx, rx) = mpsc::channel();
        let (notify, _) = broadcast::channel(1024);
        let writer = Writer {
            conn,
            observer: options.observer,
            notify: notify.clone(),
        };
        std::thread::Builder::new()
            .name("eddy-store-writer".into())
            .spawn(move || writer.run(rx))?;
        Ok(Self { tx, notify, path })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` inside the writer's next group-commit transaction and answers with its result
    /// once that transaction is durable.
    pub(crate) fn exec<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> Result<T> + Send + 'static,
    ) -> BoxFuture<'_, Result<T>> {
        self.call(move |reply: Reply<T>| {
            Command::Exec(Box::new(move |tx| Pending::Any(Box::new((reply, f(tx))))))
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

impl Store for EmbeddedStore {
    fn append(&self, batch: AppendBatch) -> BoxFuture<'_, Result<()>> {
        self.call(|r| Command::Append(batch, r))
    }

    fn lease(
        &self,
        target: Option<String>,
        now_ms: i64,
        max: usize,
        lease_ms: i64,
    ) -> BoxFuture<'_, Result<Vec<WorkItem>>> {
        self.call(|reply| Command::Lease {
            target,
            now_ms,
            max,
            lease_ms,
            reply,
        })
    }

    fn ack(&self, ids: Vec<i64>) -> BoxFuture<'_, Result<()>> {
        self.call(|r| Command::Ack(ids, r))
    }

    fn nack(&self, id: i64, due_ms: i64) -> BoxFuture<'_, Result<()>> {
        self.call(|reply| Command::Nack { id, due_ms, reply })
    }

    fn dead_letter(&self, id: i64, reason: String, now_ms: i64) -> BoxFuture<'_, Result<()>> {
        self.call(|reply| Command::DeadLetter {
            id,
            reason,
            now_ms,
            reply,
        })
    }

    fn dead_letters(&self, limit: usize) -> BoxFuture<'_, Result<Vec<DeadLetter>>> {
        self.call(|r| Command::DeadLetters(limit, r))
    }

    fn events(&self, after: i64, limit: usize) -> BoxFuture<'_, Result<Vec<StoredEvent>>> {
        self.call(|reply| Command::Events {
            after,
            limit,
            reply,
        })
    }

    fn events_by_time(&self, range: EventRange) -> BoxFuture<'_, Result<Vec<StoredEvent>>> {
        self.exec(move |tx| events_by_time(tx, &range))
    }

    fn apply(&self, changes: Vec<DefinitionChange>) -> BoxFuture<'_, Result<()>> {
        self.call(|r| Command::Apply(changes, r))
    }

    fn definitions(&self) -> BoxFuture<'_, Result<Vec<Definition>>> {
        self.call(Command::Definitions)
    }

    fn watch(&self) -> broadcast::Receiver<Notification> {
        self.notify.subscribe()
    }

    fn counts(&self) -> BoxFuture<'_, Result<StoreCounts>> {
        self.call(Command::Counts)
    }

    fn reset(&self) -> BoxFuture<'_, Result<()>> {
        self.call(Command::Reset)
    }

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

    fn queue_send(
        &self,
        queue: String,
        messages: Vec<NewMessage>,
        now_ms: i64,
        ack_ids: Vec<i64>,
    ) -> BoxFuture<'_, Result<Vec<Sent>>> {
        self.exec(move |tx| {
            let sent = queue::send(tx, &queue, messages, now_ms)?;
            ack(tx, &ack_ids)?;
            Ok(sent)
        })
    }

    fn release_leases(&self, now_ms: i64) -> BoxFuture<'_, Result<u64>> {
        self.exec(move |tx| {
            let n = tx
                .prepare_cached("UPDATE work SET due_ms = ?1, leased = 0 WHERE leased = 1")?
                .execute([now_ms])?;
            Ok(n as u64)
        })
    }

    fn next_due(&self) -> BoxFuture<'_, Result<Option<i64>>> {
        self.exec(|tx| {
            Ok(tx
                .prepare_cached("SELECT min(due_ms) FROM work")?
                .query_row([], |r| r.get::<_, Option<i64>>(0))?)
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
        self.exec(move |tx| queue::stats(tx, &queue, now_ms))
    }

    fn queue_next_visible(&self, queue: String) -> BoxFuture<'_, Result<Option<i64>>> {
        self.exec(move |tx| queue::next_visible(tx, &queue))
    }

    fn logs_append(
        &self,
        events: Vec<NewLogEvent>,
        now_ms: i64,
        ack_ids: Vec<i64>,
    ) -> BoxFuture<'_, Result<()>> {
        self.exec(move |tx| {
            logs::append(tx, &events, now_ms)?;
            ack(tx, &ack_ids)
        })
    }

    fn logs_read(&self, query: LogQuery) -> BoxFuture<'_, Result<Vec<LogEvent>>> {
        self.exec(move |tx| logs::read(tx, &query))
    }

    fn logs_streams(&self, group: String) -> BoxFuture<'_, Result<Vec<LogStream>>> {
        self.exec(move |tx| logs::streams(tx, &group))
    }

    fn logs_delete_group(&self, group: String) -> BoxFuture<'_, Result<()>> {
        self.exec(move |tx| logs::delete_group(tx, &group))
    }
}

/// The answer to one command, held until the transaction that produced it is durable.
enum Pending {
    Unit(Reply<()>, Result<()>),
    Work(Reply<Vec<WorkItem>>, Result<Vec<WorkItem>>),
    Dead(Reply<Vec<DeadLetter>>, Result<Vec<DeadLetter>>),
    Events(Reply<Vec<StoredEvent>>, Result<Vec<StoredEvent>>),
    Defs(Reply<Vec<Definition>>, Result<Vec<Definition>>),
    Counts(Reply<StoreCounts>, Result<StoreCounts>),
    Any(Box<dyn AnyReply>),
}

/// A typed answer behind [`Pending::Any`].
trait AnyReply: Send {
    fn is_err(&self) -> bool;
    fn send(self: Box<Self>, failed: Option<&str>);
}

impl<T: Send> AnyReply for (Reply<T>, Result<T>) {
    fn is_err(&self) -> bool {
        self.1.is_err()
    }

    fn send(self: Box<Self>, failed: Option<&str>) {
        let (tx, r) = *self;
        let r = match failed {
            Some(e) => Err(StoreError::Io(std::io::Error::other(e.to_owned()))),
            None => r,
        };
        let _gone = tx.send(r).is_err();
    }
}

impl Pending {
    fn is_err(&self) -> bool {
        match self {
            Pending::Any(a) => a.is_err(),
            Pending::Unit(_, r) => r.is_err(),
            Pending::Work(_, r) => r.is_err(),
            Pending::Dead(_, r) => r.is_err(),
            Pending::Events(_, r) => r.is_err(),
            Pending::Defs(_, r) => r.is_err(),
            Pending::Counts(_, r) => r.is_err(),
        }
    }

    /// Sends the answer, or `err` instead when the commit failed. A caller that went away is not
    /// an error: its change is durable all the same.
    fn send(self, failed: Option<&str>) {
        fn pick<T>(r: Result<T>, failed: Option<&str>) -> Result<T> {
            match failed {
                Some(e) => Err(StoreError::Io(std::io::Error::other(e.to_owned()))),
                None => r,
            }
        }
        let _unused = match self {
            Pending::Any(a) => {
                a.send(failed);
                true
            }
            Pending::Unit(tx, r) => tx.send(pick(r, failed)).is_ok(),
            Pending::Work(tx, r) => tx.send(pick(r, failed)).is_ok(),
            Pending::Dead(tx, r) => tx.send(pick(r, failed)).is_ok(),
            Pending::Events(tx, r) => tx.send(pick(r, failed)).is_ok(),
            Pending::Defs(tx, r) => tx.send(pick(r, failed)).is_ok(),
            Pending::Counts(tx, r) => tx.send(pick(r, failed)).is_ok(),
        };
    }
}

struct Writer {
    conn: Connection,
    observer: Arc<dyn StoreObserver>,
    notify: broadcast::Sender<Notification>,
}

impl Writer {
    fn run(mut self, rx: mpsc::Receiver<Command>) {
        let mut batch = Vec::with_capacity(64);
        while let Ok(first) = rx.recv() {
            batch.push(first);
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
        let result = (|| -> Result<()> {
            let tx = self
                .conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            for cmd in batch.drain(..) {
                // Each command runs in its own savepoint, so one that fails leaves nothing
                // behind while the others in the batch still commit.
                tx.prepare_cached("SAVEPOINT cmd")?.execute([])?;
                let before = pending.len();
                execute(&tx, cmd, &mut pending, &mut notes);
                let failed = pending.get(before).is_some_and(Pending::is_err);
                if failed {
                    tx.prepare_cached("ROLLBACK TO cmd")?.execute([])?;
                }
                tx.prepare_cached("RELEASE cmd")?.execute([])?;
            }
            tx.commit()?;
            Ok(())
        })();
        let failed = match &result {
            Ok(()) => None,
            Err(e) => {
                tracing::error!(error = %e, "store commit failed");
                notes.clear();
                Some(e.to_string())
            }
        };
        self.observer.committed(started.elapsed(), requests);
        for note in notes {
            let _receivers = self.notify.send(note).unwrap_or(0);
        }
        for p in pending {
            p.send(failed.as_deref());
        }
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
            max,
            lease_ms,
            reply,
        } => pending.push(Pending::Work(
            reply,
            lease(tx, target.as_deref(), now_ms, max, lease_ms),
        )),
        Command::Ack(ids, reply) => pending.push(Pending::Unit(reply, ack(tx, &ids))),
        Command::Nack { id, due_ms, reply } => {
            let r = tx
                .prepare_cached("UPDATE work SET due_ms = ?2, leased = 0 WHERE id = ?1")
                .and_then(|mut st| st.execute(params![id, due_ms]))
                .map(|_| ())
                .map_err(StoreError::from);
            pending.push(Pending::Unit(reply, r));
        }
        Command::DeadLetter {
            id,
            reason,
            now_ms,
            reply,
        } => {
            let r = (|| {
                tx.prepare_cached(
                    "INSERT INTO dead (work_id, event_seq, rule, target, attempts, reason, dead_ms)
                     SELECT id, event_seq, rule, target, attempts, ?2, ?3 FROM work WHERE id = ?1",
                )?
                .execute(params![id, reason, now_ms])?;
                tx.prepare_cached("DELETE FROM work WHERE id = ?1")?
                    .execute([id])?;
                Ok(())
            })();
            pending.push(Pending::Unit(reply, r));
        }
        Command::DeadLetters(limit, reply) => {
            pending.push(Pending::Dead(reply, dead_letters(tx, limit)));
        }
        Command::Events {
            after,
            limit,
            reply,
        } => {
            pending.push(Pending::Events(reply, events(tx, after, limit)));
        }
        Command::Apply(changes, reply) => {
            let r = apply(tx, &changes);
            if r.is_ok() {
                notes.push(Notification::Changed(changes));
            }
            pending.push(Pending::Unit(reply, r));
        }
        Command::Definitions(reply) => {
            let r = (|| {
                let mut st = tx.prepare_cached(
                    "SELECT kind, key, value FROM definitions ORDER BY kind, key",
                )?;
                let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
                Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
            })();
            pending.push(Pending::Defs(reply, r));
        }
        Command::Counts(reply) => pending.push(Pending::Counts(reply, counts(tx))),
        Command::Exec(f) => pending.push(f(tx)),
        Command::Reset(reply) => {
            let r = tx
                .execute_batch(
                    "DELETE FROM events; DELETE FROM work; DELETE FROM dead; DELETE FROM definitions;
                     DELETE FROM messages; DELETE FROM dedup; DELETE FROM log_events;
                     DELETE FROM ticks;",
                )
                .map_err(StoreError::from);
            if r.is_ok() {
                notes.push(Notification::Reset);
            }
            pending.push(Pending::Unit(reply, r));
        }
    }
}

fn append(tx: &Transaction<'_>, batch: AppendBatch) -> Result<()> {
    let ingested = batch.now_ms.unwrap_or_else(now_ms);
    let mut seqs = Vec::with_capacity(batch.events.len());
    {
        let mut st = tx.prepare_cached(
            "INSERT INTO events (id, bus, time_ms, ingested_ms, hops, body)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        for e in &batch.events {
            st.execute(params![e.id, e.bus, e.time_ms, ingested, e.hops, e.body])?;
            seqs.push(tx.last_insert_rowid());
        }
    }
    if !batch.work.is_empty() {
        let mut st = tx.prepare_cached(
            "INSERT INTO work (event_seq, rule, target, due_ms, attempts, created_ms)
             VALUES (?1, ?2, ?3, ?4, 0, ?4)",
        )?;
        for w in &batch.work {
            let Some(seq) = seqs.get(w.event) else {
                return Err(StoreError::Io(std::io::Error::other(
                    "work item names no event",
                )));
            };
            st.execute(params![seq, w.rule, w.target, ingested])?;
        }
    }
    if !batch.ticks.is_empty() {
        let mut st = tx.prepare_cached(
            "INSERT INTO ticks (schedule, tick_ms) VALUES (?1, ?2)
             ON CONFLICT (schedule) DO UPDATE SET tick_ms = max(tick_ms, excluded.tick_ms)",
        )?;
        for t in &batch.ticks {
            st.execute(params![t.schedule, t.tick_ms])?;
        }
    }
    ack(tx, &batch.ack)
}

fn ack(tx: &Transaction<'_>, ids: &[i64]) -> Result<()> {
    let mut st = tx.prepare_cached("DELETE FROM work WHERE id = ?1")?;
    for id in ids {
        st.execute([id])?;
    }
    Ok(())
}

fn lease(
    tx: &Transaction<'_>,
    target: Option<&str>,
    now_ms: i64,
    max: usize,
    lease_ms: i64,
) -> Result<Vec<WorkItem>> {
    let max = i64::try_from(max).unwrap_or(i64::MAX);
    let mut st = tx.prepare_cached(
        "SELECT w.id, e.id, e.bus, w.rule, w.target, w.attempts, w.created_ms, e.body, e.hops
         FROM work w JOIN events e ON e.seq = w.event_seq
         WHERE w.due_ms <= ?1 AND (?2 IS NULL OR w.target = ?2)
         ORDER BY w.due_ms, w.id LIMIT ?3",
    )?;
    let mut items = st
        .query_map(params![now_ms, target, max], |r| {
            Ok(WorkItem {
                id: r.get(0)?,
                event_id: r.get(1)?,
                bus: r.get(2)?,
                rule: r.get(3)?,
                target: r.get(4)?,
                attempts: r.get(5)?,
                created_ms: r.get(6)?,
                body: r.get(7)?,
                hops: r.get(8)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut up = tx.prepare_cached(
        "UPDATE work SET due_ms = ?2, attempts = attempts + 1, leased = 1 WHERE id = ?1",
    )?;
    for item in &mut items {
        up.execute(params![item.id, now_ms.saturating_add(lease_ms)])?;
        item.attempts += 1;
    }
    Ok(items)
}

fn dead_letters(tx: &Transaction<'_>, limit: usize) -> Result<Vec<DeadLetter>> {
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

fn events(tx: &Transaction<'_>, after: i64, limit: usize) -> Result<Vec<StoredEvent>> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut st = tx.prepare_cached(
        "SELECT seq, id, bus, time_ms, ingested_ms, body FROM events WHERE seq > ?1
         ORDER BY seq LIMIT ?2",
    )?;
    let rows = st.query_map(params![after, limit], stored_event)?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

fn events_by_time(tx: &Transaction<'_>, range: &EventRange) -> Result<Vec<StoredEvent>> {
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

fn apply(tx: &Transaction<'_>, changes: &[DefinitionChange]) -> Result<()> {
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

/// What the store holds. Runs on the writer thread, so it must stay cheap however long the
/// event log grows: the log is counted from its first and last `seq` (it is append-only and
/// `seq` has no gaps: rows are only ever removed all at once, by [`Store::reset`]), the other
/// tables (backlog, dead letters, definitions) by scanning them.
fn counts(tx: &Transaction<'_>) -> Result<StoreCounts> {
    let query = |sql: &str| -> Result<u64> {
        let n: Option<i64> = tx.query_row(sql, [], |r| r.get(0)).optional()?.flatten();
        Ok(n.unwrap_or(0).max(0) as u64)
    };
    let count = |table: &str| query(&format!("SELECT count(*) FROM {table}"));
    Ok(StoreCounts {
        events: query("SELECT max(seq) - min(seq) + 1 FROM events")?,
        work_items: count("work")?,
        dead_letters: count("dead")?,
        definitions: count("definitions")?,
    })
}
