//! Group commit of the event log ([`crate::EventLog::append`]): one task per store takes the
//! appends waiting for it, checks them, and writes them all with one statement of multi-row
//! inserts (`unnest` over arrays, however many events; [`WRITE`]), then answers each caller once
//! its commit returned. Concurrent callers therefore share one commit and one WAL flush; a caller
//! is never answered before the commit that holds its events.
//!
//! Positions come from the one row of `event_log`, whose lock orders appends across nodes (so
//! positions follow commit order). Every node's appends wait for that lock, so it is held for as
//! little as possible: one statement and its commit, no round trips in between (taking it in a
//! separate statement cost a third of the throughput of three nodes appending single events).
//!
//! An append that sends queue messages ([`crate::AppendBatch::messages`]) takes the
//! transactional path, and its messages are sent after the write, in the same transaction.
//!
//! Within a batch each append stays all-or-nothing on its own: an append whose forwarded work
//! items' leases are no longer current ([`crate::AppendBatch::ack`]), whose ticks are not later
//! than the recorded ones ([`crate::AppendBatch::ticks`]) or whose work names no event is left
//! out of the transaction and answered with its error, while the others commit. The acked items
//! are locked (`FOR UPDATE`) before their tokens are compared, so another node cannot settle
//! them between the check and the delete.
//!
//! Ticks are decided the same way, under locks ([`lock_ticks`]): the schedules' rows are locked
//! before they are compared. A schedule that has no row yet gets one first (`INSERT ... ON
//! CONFLICT DO NOTHING`, with a placeholder that never commits): the insert locks it, and a
//! second node inserting the same first tick at once waits for the first one's transaction and
//! then finds its row, so two nodes never both fire a schedule's first tick. The rows are taken
//! in schedule order, so nodes locking the same schedules cannot deadlock.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{mpsc, oneshot};

use super::pool::Tx;
use super::{PgError, PgResult, Shared};
use crate::{AppendBatch, Lease, Result};

/// Appends waiting for the appender at most (callers beyond wait to hand theirs over).
pub(crate) const QUEUE: usize = 4096;

/// Most appends folded into one transaction.
const MAX_REQUESTS: usize = 1024;
/// Most events in one transaction (a batch stops growing past it).
const MAX_EVENTS: usize = 16_384;

pub(crate) struct Request {
    pub(crate) batch: AppendBatch,
    pub(crate) reply: oneshot::Sender<Result<()>>,
}

/// The appender task: runs until the store is dropped.
pub(crate) async fn run(shared: Arc<Shared>, mut requests: mpsc::Receiver<Request>) {
    let mut batch = Vec::with_capacity(64);
    while let Some(first) = requests.recv().await {
        let mut events = first.batch.events.len();
        batch.push(first);
        while batch.len() < MAX_REQUESTS && events < MAX_EVENTS {
            match requests.try_recv() {
                Ok(r) => {
                    events += r.batch.events.len();
                    batch.push(r);
                }
                Err(_) => break,
            }
        }
        commit(&shared, &mut batch).await;
    }
}

/// Writes `batch` in one transaction and answers every request in it.
async fn commit(shared: &Shared, batch: &mut Vec<Request>) {
    let started = Instant::now();
    let requests = batch.len();
    // Requests that cannot be written are answered at once, the others after the commit.
    let mut accepted = Vec::with_capacity(batch.len());
    for r in batch.drain(..) {
        if r.batch.work.iter().any(|w| w.event >= r.batch.events.len()) {
            let e = shared.wrote::<()>(Err(PgError::Invalid("a work item names no event")));
            let _gone = r.reply.send(e).is_err();
        } else {
            accepted.push(r);
        }
    }
    let outcome = write(shared, &mut accepted).await;
    shared.observer.committed(started.elapsed(), requests);
    match outcome {
        Ok(refused) => {
            for (r, refused) in accepted.into_iter().zip(refused) {
                let answer = match refused {
                    None => shared.wrote(Ok(())),
                    Some(refusal) => Err(refusal.into()),
                };
                let _gone = r.reply.send(answer).is_err();
            }
        }
        Err(e) => {
            let message = match &e {
                PgError::Db(db) => super::describe(db),
                other => other.to_string(),
            };
            tracing::warn!(error = %message, appends = accepted.len(), "store append failed");
            let (full, unavailable) = (e.is_full(), e.is_unavailable());
            let _noted = shared.wrote::<()>(Err(e)).is_err();
            for r in accepted {
                let answer = if full {
                    Err(crate::StoreError::Full(message.clone()))
                } else if unavailable {
                    Err(crate::StoreError::Unavailable(message.clone()))
                } else {
                    Err(crate::StoreError::backend(message.clone()))
                };
                let _gone = r.reply.send(answer).is_err();
            }
        }
    }
}

/// Writes the whole batch, events, work items and ticks, with one statement: the log row's
/// lock (which orders positions across nodes) is then held for that statement and the commit
/// only, not for several round trips.
const WRITE: &str = "
WITH top AS (
    UPDATE event_log SET top_seq = top_seq + $1 WHERE id = 1 RETURNING top_seq - $1 AS base
), ev AS (
    INSERT INTO events (seq, id, bus, time_ms, ingested_ms, hops, body)
    SELECT top.base + u.o, u.i, u.b, u.t, coalesce(u.g, eddy_now_ms()), u.h, u.y
    FROM top, unnest($2::bigint[], $3::text[], $4::text[], $5::bigint[], $6::bigint[],
                     $7::integer[], $8::text[]) AS u(o, i, b, t, g, h, y)
), wk AS (
    INSERT INTO work (event_seq, rule, target, due_ms, created_ms)
    SELECT top.base + w.o, w.r, w.t, coalesce(w.d, eddy_now_ms()), coalesce(w.d, eddy_now_ms())
    FROM top, unnest($9::bigint[], $10::text[], $11::text[], $12::bigint[]) AS w(o, r, t, d)
), tk AS (
    INSERT INTO ticks (schedule, tick_ms)
    SELECT * FROM unnest($13::text[], $14::bigint[])
    ON CONFLICT (schedule) DO UPDATE SET tick_ms = greatest(ticks.tick_ms, excluded.tick_ms)
)
SELECT base FROM top";

/// Writes the batch: answers, per request, why it was refused ([`PgError::LeaseLost`],
/// [`PgError::TickTaken`]; `None`: written). A batch that completes no work items and records
/// no ticks is one statement, committed by itself; one that does is a transaction that first
/// locks and checks those items and ticks.
async fn write(shared: &Shared, batch: &mut [Request]) -> PgResult<Vec<Option<PgError>>> {
    let mut conn = shared.pool.get().await?;
    let store_now = shared.store_now();
    let mut refused: Vec<Option<PgError>> = batch.iter().map(|_| None).collect();
    let acked: Vec<i64> = batch
        .iter()
        .flat_map(|r| r.batch.ack.iter().map(|l| l.id))
        .collect();
    let mut schedules: Vec<&str> = batch
        .iter()
        .flat_map(|r| r.batch.ticks.iter().map(|t| t.schedule.as_str()))
        .collect();
    let sends = batch.iter().any(|r| !r.batch.messages.is_empty());
    if acked.is_empty() && schedules.is_empty() && !sends {
        let columns = Columns::of(batch.iter().map(|r| &r.batch), store_now);
        if !columns.is_empty() {
            conn.query_one(WRITE, &columns.params()).await?;
        }
        return Ok(refused);
    }
    let mut tx = conn.begin().await?;
    // Fencing: lock the acked items and the ticks' rows, then keep only the requests whose
    // leases are all current (and not already claimed by an earlier request of this batch)
    // and whose ticks are all later than the recorded ones (or an earlier request's).
    let current: HashMap<i64, i64> = if acked.is_empty() {
        HashMap::new()
    } else {
        tx.query(
            "SELECT id, token FROM work WHERE id = ANY($1) AND leased ORDER BY id FOR UPDATE",
            &[&acked],
        )
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
    };
    schedules.sort_unstable();
    schedules.dedup();
    let (mut recorded, fresh) = lock_ticks(&mut tx, &schedules).await?;
    let mut claimed = HashSet::new();
    let mut delete = Vec::new();
    for (r, refused) in batch.iter().zip(refused.iter_mut()) {
        let lost: Vec<Lease> = r
            .batch
            .ack
            .iter()
            .filter(|l| current.get(&l.id) != Some(&l.token) || claimed.contains(&l.id))
            .copied()
            .collect();
        if !lost.is_empty() {
            *refused = Some(PgError::LeaseLost(lost));
            continue;
        }
        // Each tick in order: later than the one recorded before it (by the database, an
        // earlier request of this batch, or an earlier tick of this request).
        let mut latest: HashMap<&str, i64> = HashMap::new();
        let mut taken: Vec<String> = Vec::new();
        for t in &r.batch.ticks {
            let before = latest
                .get(t.schedule.as_str())
                .or_else(|| recorded.get(t.schedule.as_str()));
            if before.is_some_and(|at| t.tick_ms <= *at) {
                if !taken.contains(&t.schedule) {
                    taken.push(t.schedule.clone());
                }
            } else {
                latest.insert(&t.schedule, t.tick_ms);
            }
        }
        if !taken.is_empty() {
            *refused = Some(PgError::TickTaken(taken));
            continue;
        }
        for l in &r.batch.ack {
            claimed.insert(l.id);
            delete.push(l.id);
        }
        for (schedule, at) in latest {
            recorded.insert(schedule, at);
        }
    }
    if !delete.is_empty() {
        tx.execute("DELETE FROM work WHERE id = ANY($1)", &[&delete])
            .await?;
    }
    // First ticks that no written request fired: their placeholder rows go.
    let unfired: Vec<&str> = fresh
        .into_iter()
        .filter(|s| !recorded.contains_key(s))
        .collect();
    if !unfired.is_empty() {
        tx.execute("DELETE FROM ticks WHERE schedule = ANY($1)", &[&unfired])
            .await?;
    }
    // The queue messages of the written requests, in the same transaction, before the write
    // that takes the event log's lock (every node's appends wait for it: it is held for the
    // write and the commit only); in queue order, so that appends on two nodes taking the same
    // queues' locks cannot deadlock.
    let mut sends = Vec::new();
    for (r, refused) in batch.iter_mut().zip(&refused) {
        if refused.is_some() || r.batch.messages.is_empty() {
            continue;
        }
        let now = match r.batch.now_ms.or(store_now) {
            Some(now) => now,
            None => tx.query_one("SELECT eddy_now_ms()", &[]).await?.get(0),
        };
        sends.extend(
            std::mem::take(&mut r.batch.messages)
                .into_iter()
                .map(|q| (q, now)),
        );
    }
    sends.sort_by(|(a, _), (b, _)| a.queue.cmp(&b.queue));
    for (q, now) in sends {
        super::queue::send_in(&mut tx, &q.queue, q.messages, now).await?;
    }
    let written = batch
        .iter()
        .zip(&refused)
        .filter(|(_, refused)| refused.is_none())
        .map(|(r, _)| &r.batch);
    let columns = Columns::of(written, store_now);
    if !columns.is_empty() {
        tx.query_one(WRITE, &columns.params()).await?;
    }
    tx.commit().await?;
    Ok(refused)
}

/// The fencing of one append inside a caller's transaction (an object write's,
/// [`crate::ObjectStore::objects_write`]), taking the same locks in the same order as [`write`]
/// (the acked work items by id, then the ticks' rows by schedule): fails with
/// [`PgError::LeaseLost`] or [`PgError::TickTaken`] (the caller rolls back), or settles the
/// acked items and leaves the ticks locked for [`write_in`] to record.
pub(crate) async fn fence_in(tx: &mut Tx<'_>, batch: &AppendBatch) -> PgResult<()> {
    if batch.work.iter().any(|w| w.event >= batch.events.len()) {
        return Err(PgError::Invalid("a work item names no event"));
    }
    let acked: Vec<i64> = batch.ack.iter().map(|l| l.id).collect();
    if !acked.is_empty() {
        let current: HashMap<i64, i64> = tx
            .query(
                "SELECT id, token FROM work WHERE id = ANY($1) AND leased ORDER BY id FOR UPDATE",
                &[&acked],
            )
            .await?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        let lost: Vec<Lease> = batch
            .ack
            .iter()
            .filter(|l| current.get(&l.id) != Some(&l.token))
            .copied()
            .collect();
        if !lost.is_empty() {
            return Err(PgError::LeaseLost(lost));
        }
        tx.execute("DELETE FROM work WHERE id = ANY($1)", &[&acked])
            .await?;
    }
    let mut schedules: Vec<&str> = batch.ticks.iter().map(|t| t.schedule.as_str()).collect();
    schedules.sort_unstable();
    schedules.dedup();
    let (recorded, _first) = lock_ticks(tx, &schedules).await?;
    let mut latest: HashMap<&str, i64> = HashMap::new();
    let mut taken: Vec<String> = Vec::new();
    for t in &batch.ticks {
        let before = latest
            .get(t.schedule.as_str())
            .or_else(|| recorded.get(t.schedule.as_str()));
        if before.is_some_and(|at| t.tick_ms <= *at) {
            if !taken.contains(&t.schedule) {
                taken.push(t.schedule.clone());
            }
        } else {
            latest.insert(&t.schedule, t.tick_ms);
        }
    }
    if !taken.is_empty() {
        return Err(PgError::TickTaken(taken));
    }
    // Every schedule of the batch fires (a first tick's placeholder row is overwritten by
    // `write_in`).
    Ok(())
}

/// The rest of one append fenced by [`fence_in`], inside the same transaction: its queue
/// messages (queue order), then its events, work items and ticks with [`WRITE`], which takes
/// the event log's lock last, as [`write`] does.
pub(crate) async fn write_in(
    tx: &mut Tx<'_>,
    mut batch: AppendBatch,
    store_now: Option<i64>,
) -> PgResult<()> {
    if !batch.messages.is_empty() {
        let now = match batch.now_ms.or(store_now) {
            Some(now) => now,
            None => tx.query_one("SELECT eddy_now_ms()", &[]).await?.get(0),
        };
        let mut sends = std::mem::take(&mut batch.messages);
        sends.sort_by(|a, b| a.queue.cmp(&b.queue));
        for q in sends {
            super::queue::send_in(tx, &q.queue, q.messages, now).await?;
        }
    }
    let columns = Columns::of(std::iter::once(&batch), store_now);
    if !columns.is_empty() {
        tx.query_one(WRITE, &columns.params()).await?;
    }
    Ok(())
}

/// Locks the tick rows of `schedules` (sorted, distinct) for the transaction: answers the
/// recorded ticks, and the schedules that had no row (inserted now with a placeholder, which
/// the transaction must overwrite or delete before it commits).
async fn lock_ticks<'s>(
    tx: &mut Tx<'_>,
    schedules: &[&'s str],
) -> PgResult<(HashMap<&'s str, i64>, Vec<&'s str>)> {
    if schedules.is_empty() {
        return Ok((HashMap::new(), Vec::new()));
    }
    // A schedule's first tick: the insert locks the new row; another node inserting the same
    // row waits here for this transaction, then finds the row (`DO NOTHING`) and locks it below.
    let fresh: HashSet<String> = tx
        .query(
            "INSERT INTO ticks (schedule, tick_ms)
             SELECT s, $2 FROM unnest($1::text[]) AS s ORDER BY s
             ON CONFLICT (schedule) DO NOTHING RETURNING schedule",
            &[&schedules, &PLACEHOLDER],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    // The others (a new statement, so a new snapshot: it sees a row another node inserted and
    // committed while the insert above waited). A join rather than `schedule = ANY($1)`: once
    // the statement runs on a generic plan, `ANY` over thousands of schedules is a linear scan
    // of the array per row (measured: 10 s for 16,384 schedules on three nodes).
    let rows: HashMap<String, i64> = tx
        .query(
            "SELECT t.schedule, t.tick_ms FROM ticks t
             JOIN unnest($1::text[]) AS s(schedule) ON t.schedule = s.schedule
             ORDER BY t.schedule FOR UPDATE OF t",
            &[&schedules],
        )
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let mut recorded = HashMap::new();
    let mut first = Vec::new();
    for &s in schedules {
        if fresh.contains(s) {
            first.push(s);
        } else if let Some(at) = rows.get(s) {
            recorded.insert(s, *at);
        }
        // Neither: forgotten (`forget_ticks`) since the insert; nothing recorded, and the
        // write below inserts it again if a request fires it.
    }
    Ok((recorded, first))
}

/// The tick a schedule's row holds between its insert by [`lock_ticks`] and the end of the
/// transaction (overwritten by [`WRITE`] or deleted; never committed).
const PLACEHOLDER: i64 = i64::MIN;

/// The parameters of [`WRITE`] for a batch: its events, work items and ticks column by column
/// (one array each), positions as offsets from the first position the batch takes.
#[derive(Default)]
struct Columns<'a> {
    events: i64,
    e: EventColumns<'a>,
    w: WorkColumns<'a>,
    schedules: Vec<&'a str>,
    ticks: Vec<i64>,
}

impl<'a> Columns<'a> {
    fn of(batches: impl Iterator<Item = &'a AppendBatch>, store_now: Option<i64>) -> Self {
        let mut c = Columns::default();
        // The latest tick of each schedule (one row per schedule in the statement).
        let mut ticks: HashMap<&str, i64> = HashMap::new();
        for b in batches {
            let ingested = b.now_ms.or(store_now);
            let first = c.events + 1;
            for ev in &b.events {
                c.events += 1;
                c.e.seq.push(c.events);
                c.e.id.push(&ev.id);
                c.e.bus.push(&ev.bus);
                c.e.time.push(ev.time_ms);
                c.e.ingested.push(ingested);
                c.e.hops.push(i32::try_from(ev.hops).unwrap_or(i32::MAX));
                c.e.body.push(&ev.body);
            }
            for work in &b.work {
                c.w.event.push(first + work.event as i64);
                c.w.rule.push(&work.rule);
                c.w.target.push(&work.target);
                c.w.due.push(ingested);
            }
            for t in &b.ticks {
                let at = ticks.entry(&t.schedule).or_insert(t.tick_ms);
                *at = (*at).max(t.tick_ms);
            }
        }
        (c.schedules, c.ticks) = ticks.into_iter().unzip();
        c
    }

    fn is_empty(&self) -> bool {
        self.events == 0 && self.schedules.is_empty()
    }

    fn params(&self) -> [&(dyn tokio_postgres::types::ToSql + Sync); 14] {
        [
            &self.events,
            &self.e.seq,
            &self.e.id,
            &self.e.bus,
            &self.e.time,
            &self.e.ingested,
            &self.e.hops,
            &self.e.body,
            &self.w.event,
            &self.w.rule,
            &self.w.target,
            &self.w.due,
            &self.schedules,
            &self.ticks,
        ]
    }
}

/// The events of a batch, column by column (one array parameter each).
#[derive(Default)]
struct EventColumns<'a> {
    /// Offsets from the batch's first position (1-based).
    seq: Vec<i64>,
    id: Vec<&'a str>,
    bus: Vec<&'a str>,
    time: Vec<i64>,
    ingested: Vec<Option<i64>>,
    hops: Vec<i32>,
    body: Vec<&'a str>,
}

/// The work items of a batch, column by column.
#[derive(Default)]
struct WorkColumns<'a> {
    event: Vec<i64>,
    rule: Vec<&'a str>,
    target: Vec<&'a str>,
    due: Vec<Option<i64>>,
}
