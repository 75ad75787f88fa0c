//! Group commit of the event log ([`crate::EventLog::append`]): one task per store takes the
//! appends waiting for it, checks them, and writes them all in one transaction of multi-row
//! inserts (`unnest` over arrays: one statement per table, however many events), then answers
//! each caller once `COMMIT` returned. Concurrent callers therefore share one commit and one WAL
//! flush; a caller is never answered before the commit that holds its events.
//!
//! Within a batch each append stays all-or-nothing on its own: an append whose forwarded work
//! items' leases are no longer current ([`crate::AppendBatch::ack`]) or whose work names no
//! event is left out of the transaction and answered with its error, while the others commit.
//! The acked items are locked (`FOR UPDATE`) before their tokens are compared, so another node
//! cannot settle them between the check and the delete.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{mpsc, oneshot};

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
                    Some(leases) => Err(PgError::LeaseLost(leases).into()),
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
            let full = e.is_full();
            let _noted = shared.wrote::<()>(Err(e)).is_err();
            for r in accepted {
                let answer = if full {
                    Err(crate::StoreError::Full(message.clone()))
                } else {
                    Err(crate::StoreError::backend(message.clone()))
                };
                let _gone = r.reply.send(answer).is_err();
            }
        }
    }
}

/// The transaction: answers, per request, the leases that made it refused (`None`: written).
async fn write(shared: &Shared, batch: &mut [Request]) -> PgResult<Vec<Option<Vec<Lease>>>> {
    let mut conn = shared.pool.get().await?;
    let mut tx = conn.begin().await?;
    let store_now = shared.store_now();

    // Fencing: lock the acked items, then keep only the requests whose leases are all current
    // (and not already claimed by an earlier request of this batch).
    let mut refused: Vec<Option<Vec<Lease>>> = vec![None; batch.len()];
    let acked: Vec<i64> = batch
        .iter()
        .flat_map(|r| r.batch.ack.iter().map(|l| l.id))
        .collect();
    if !acked.is_empty() {
        let rows = tx
            .query(
                "SELECT id, token FROM work WHERE id = ANY($1) AND leased ORDER BY id FOR UPDATE",
                &[&acked],
            )
            .await?;
        let current: HashMap<i64, i64> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
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
            if lost.is_empty() {
                for l in &r.batch.ack {
                    claimed.insert(l.id);
                    delete.push(l.id);
                }
            } else {
                *refused = Some(lost);
            }
        }
        if !delete.is_empty() {
            tx.execute("DELETE FROM work WHERE id = ANY($1)", &[&delete])
                .await?;
        }
    }
    let written = || {
        batch
            .iter()
            .zip(&refused)
            .filter(|(_, refused)| refused.is_none())
            .map(|(r, _)| &r.batch)
    };

    // Events take their positions under the log row's lock: positions follow commit order.
    let events: usize = written().map(|b| b.events.len()).sum();
    if events > 0 {
        let top: i64 = tx
            .query_one(
                "UPDATE event_log SET top_seq = top_seq + $1 WHERE id = 1 RETURNING top_seq",
                &[&(events as i64)],
            )
            .await?
            .get(0);
        let mut seq = top - events as i64;
        let mut e = EventColumns::default();
        let mut w = WorkColumns::default();
        for b in written() {
            let ingested = b.now_ms.or(store_now);
            let first = seq + 1;
            for ev in &b.events {
                seq += 1;
                e.seq.push(seq);
                e.id.push(&ev.id);
                e.bus.push(&ev.bus);
                e.time.push(ev.time_ms);
                e.ingested.push(ingested);
                e.hops.push(i32::try_from(ev.hops).unwrap_or(i32::MAX));
                e.body.push(&ev.body);
            }
            for work in &b.work {
                w.event.push(first + work.event as i64);
                w.rule.push(&work.rule);
                w.target.push(&work.target);
                w.due.push(ingested);
            }
        }
        tx.execute(
            "INSERT INTO events (seq, id, bus, time_ms, ingested_ms, hops, body)
             SELECT s, i, b, t, coalesce(g, eddy_now_ms()), h, y
             FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::bigint[],
                         $6::integer[], $7::text[]) AS u(s, i, b, t, g, h, y)",
            &[
                &e.seq,
                &e.id,
                &e.bus,
                &e.time,
                &e.ingested,
                &e.hops,
                &e.body,
            ],
        )
        .await?;
        if !w.event.is_empty() {
            tx.execute(
                "INSERT INTO work (event_seq, rule, target, due_ms, created_ms)
                 SELECT s, r, t, coalesce(d, eddy_now_ms()), coalesce(d, eddy_now_ms())
                 FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[])
                     AS u(s, r, t, d)",
                &[&w.event, &w.rule, &w.target, &w.due],
            )
            .await?;
        }
    }

    // Ticks: the latest of each schedule (one row per schedule in the statement).
    let mut ticks: HashMap<&str, i64> = HashMap::new();
    for t in written().flat_map(|b| &b.ticks) {
        let at = ticks.entry(&t.schedule).or_insert(t.tick_ms);
        *at = (*at).max(t.tick_ms);
    }
    if !ticks.is_empty() {
        let (schedules, at): (Vec<&str>, Vec<i64>) = ticks.into_iter().unzip();
        tx.execute(
            "INSERT INTO ticks (schedule, tick_ms)
             SELECT * FROM unnest($1::text[], $2::bigint[])
             ON CONFLICT (schedule) DO UPDATE SET tick_ms = greatest(ticks.tick_ms, excluded.tick_ms)",
            &[&schedules, &at],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(refused)
}

/// The events of a batch, column by column (one array parameter each).
#[derive(Default)]
struct EventColumns<'a> {
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
