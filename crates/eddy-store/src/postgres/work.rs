//! Work items and their leases, dead letters, reads of the event log, expiry, counts and ticks.
//!
//! A work item's row holds `leased`, its fencing `token` (incremented by every lease), the node
//! that holds it (`holder`), and one deadline, `due_ms`, read on two clocks as in the embedded
//! store: while the item waits, when it is due by the callers' clock; while it is leased, when
//! the lease ends by the store's clock. Leasing picks rows with `FOR UPDATE SKIP LOCKED`, so
//! nodes leasing at once take disjoint items without waiting for each other; settling compares
//! `(id, token, leased)` in the statement that changes the row.

use std::collections::HashSet;

use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::pool::Tx;
use super::{PgError, PgResult, Shared};
use crate::{DeadLetter, EventRange, Expired, Expiry, Lease, StoreCounts, StoredEvent, WorkItem};

/// [`lease`] in one statement (committed by itself): up to `$3` items whose lease ended by the
/// store's clock (`$1`, or the database's), then due by the caller's (`$4`), picked with `SKIP
/// LOCKED` so that nodes leasing at once take disjoint items; each gets a new token, one more
/// attempt, and a deadline `$5` from now by the store's clock, held by node `$6`. The rows also
/// say in which order they were picked (`k`, the deadline or due time before, the id).
const LEASE: &str = "
WITH lapsed AS (
    SELECT id, due_ms, 0 AS k FROM work
    WHERE leased AND due_ms <= coalesce($1::bigint, eddy_now_ms())
      AND ($2::text IS NULL OR target = $2)
    ORDER BY due_ms, id LIMIT $3 FOR UPDATE SKIP LOCKED
), due AS (
    SELECT id, due_ms, 1 AS k FROM work
    WHERE NOT leased AND due_ms <= $4 AND ($2::text IS NULL OR target = $2)
    ORDER BY due_ms, id LIMIT $3 FOR UPDATE SKIP LOCKED
), picked AS (
    SELECT * FROM (SELECT * FROM lapsed UNION ALL SELECT * FROM due) p
    ORDER BY k, due_ms, id LIMIT $3
)
UPDATE work w SET due_ms = coalesce($1::bigint, eddy_now_ms()) + $5,
    attempts = w.attempts + 1, leased = true, token = w.token + 1, holder = $6
FROM picked p, events e
WHERE w.id = p.id AND e.seq = w.event_seq
RETURNING w.id, w.token, e.id, e.bus, w.rule, w.target, w.attempts, w.created_ms, e.body, e.hops,
          p.k, p.due_ms";

/// Leases up to `max` items: those whose lease ended by the store's clock, oldest deadline
/// first, then those due by the caller's, oldest first.
pub(crate) async fn lease(
    shared: &Shared,
    target: Option<String>,
    now_ms: i64,
    max: usize,
    lease_ms: i64,
) -> PgResult<Vec<WorkItem>> {
    let store_now = shared.store_now();
    let mut conn = shared.pool.get().await?;
    let max = i64::try_from(max).unwrap_or(i64::MAX);
    let rows = conn
        .query(
            LEASE,
            &[&store_now, &target, &max, &now_ms, &lease_ms, &shared.node],
        )
        .await?;
    let mut items: Vec<WorkItem> = rows
        .iter()
        .map(|r| WorkItem {
            id: r.get(0),
            token: r.get(1),
            event_id: r.get(2),
            bus: r.get(3),
            rule: r.get(4),
            target: r.get(5),
            attempts: u32::try_from(r.get::<_, i64>(6)).unwrap_or(u32::MAX),
            created_ms: r.get(7),
            body: r.get(8),
            hops: u32::try_from(r.get::<_, i32>(9)).unwrap_or(0),
        })
        .collect();
    // In the order they were picked: lapsed leases first, then by deadline and id.
    let mut keyed: Vec<((i32, i64, i64), WorkItem)> = rows
        .iter()
        .map(|r| (r.get::<_, i32>(10), r.get::<_, i64>(11), r.get::<_, i64>(0)))
        .zip(items.drain(..))
        .collect();
    keyed.sort_by_key(|(k, _)| *k);
    items.extend(keyed.into_iter().map(|(_, w)| w));
    Ok(items)
}

/// The leases among `leases` that `changed` (the `(id, token)` rows a statement changed) does
/// not name.
fn refused(leases: Vec<Lease>, changed: &[Row]) -> Vec<Lease> {
    let done: HashSet<(i64, i64)> = changed.iter().map(|r| (r.get(0), r.get(1))).collect();
    leases
        .into_iter()
        .filter(|l| !done.contains(&(l.id, l.token)))
        .collect()
}

fn columns(leases: &[Lease]) -> (Vec<i64>, Vec<i64>) {
    leases.iter().map(|l| (l.id, l.token)).unzip()
}

pub(crate) async fn extend(
    shared: &Shared,
    leases: Vec<Lease>,
    lease_ms: i64,
) -> PgResult<Vec<Lease>> {
    if leases.is_empty() {
        return Ok(leases);
    }
    let store_now = shared.store_now();
    let mut conn = shared.pool.get().await?;
    let (ids, tokens) = columns(&leases);
    let rows = conn
        .query(
            "UPDATE work w SET due_ms = coalesce($3::bigint, eddy_now_ms()) + $4
             FROM unnest($1::bigint[], $2::bigint[]) AS l(id, token)
             WHERE w.id = l.id AND w.token = l.token AND w.leased
             RETURNING w.id, w.token",
            &[&ids, &tokens, &store_now, &lease_ms],
        )
        .await?;
    Ok(refused(leases, &rows))
}

/// Ends this node's leases but those in `keep` (see the module docs of `postgres`,
/// "`release_leases`").
pub(crate) async fn release_leases(shared: &Shared, now_ms: i64, keep: &[i64]) -> PgResult<u64> {
    let mut conn = shared.pool.get().await?;
    conn.execute(
        "UPDATE work SET due_ms = $1, leased = false \
         WHERE leased AND holder = $2 AND NOT (id = ANY($3))",
        &[&now_ms, &shared.node, &keep],
    )
    .await
}

pub(crate) async fn next_due(shared: &Shared) -> PgResult<Option<i64>> {
    let mut conn = shared.pool.get().await?;
    Ok(conn
        .query_one("SELECT min(due_ms) FROM work WHERE NOT leased", &[])
        .await?
        .get(0))
}

/// Removes the items of the current leases (`$1` ids, `$2` tokens); answers those removed.
const ACK: &str = "
DELETE FROM work w USING unnest($1::bigint[], $2::bigint[]) AS l(id, token)
WHERE w.id = l.id AND w.token = l.token AND w.leased
RETURNING w.id, w.token";

/// Removes the items of the current leases among `leases` (inside `tx`); answers the others.
pub(crate) async fn ack_in(tx: &mut Tx<'_>, leases: Vec<Lease>) -> PgResult<Vec<Lease>> {
    if leases.is_empty() {
        return Ok(leases);
    }
    let (ids, tokens) = columns(&leases);
    let rows = tx.query(ACK, &[&ids, &tokens]).await?;
    Ok(refused(leases, &rows))
}

/// [`ack_in`] for a write that completes work items: any lease refused fails the write
/// ([`PgError::LeaseLost`]), and the caller's transaction is rolled back whole.
pub(crate) async fn fenced_ack(tx: &mut Tx<'_>, leases: Vec<Lease>) -> PgResult<()> {
    let refused = ack_in(tx, leases).await?;
    if refused.is_empty() {
        Ok(())
    } else {
        Err(PgError::LeaseLost(refused))
    }
}

pub(crate) async fn ack(shared: &Shared, leases: Vec<Lease>) -> PgResult<Vec<Lease>> {
    if leases.is_empty() {
        return Ok(leases);
    }
    let mut conn = shared.pool.get().await?;
    let (ids, tokens) = columns(&leases);
    let rows = conn.query(ACK, &[&ids, &tokens]).await?;
    Ok(refused(leases, &rows))
}

pub(crate) async fn nack(shared: &Shared, lease: Lease, due_ms: i64) -> PgResult<bool> {
    let mut conn = shared.pool.get().await?;
    let n = conn
        .execute(
            "UPDATE work SET due_ms = $3, leased = false WHERE id = $1 AND token = $2 AND leased",
            &[&lease.id, &lease.token, &due_ms],
        )
        .await?;
    Ok(n > 0)
}

pub(crate) async fn dead_letter(
    shared: &Shared,
    lease: Lease,
    reason: String,
    now_ms: i64,
) -> PgResult<bool> {
    let mut conn = shared.pool.get().await?;
    let n = conn
        .execute(
            "WITH gone AS (
                 DELETE FROM work WHERE id = $1 AND token = $2 AND leased
                 RETURNING id, event_seq, rule, target, attempts)
             INSERT INTO dead (work_id, event_seq, rule, target, attempts, reason, dead_ms)
             SELECT id, event_seq, rule, target, attempts, $3, $4 FROM gone",
            &[&lease.id, &lease.token, &reason, &now_ms],
        )
        .await?;
    Ok(n > 0)
}

pub(crate) async fn dead_letters(shared: &Shared, limit: usize) -> PgResult<Vec<DeadLetter>> {
    let mut conn = shared.pool.get().await?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = conn
        .query(
            "SELECT d.work_id, e.id, e.bus, d.rule, d.target, d.attempts, d.reason, d.dead_ms,
                    e.body
             FROM dead d JOIN events e ON e.seq = d.event_seq
             ORDER BY d.dead_ms, d.id LIMIT $1",
            &[&limit],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| DeadLetter {
            id: r.get(0),
            event_id: r.get(1),
            bus: r.get(2),
            rule: r.get(3),
            target: r.get(4),
            attempts: u32::try_from(r.get::<_, i64>(5)).unwrap_or(u32::MAX),
            reason: r.get(6),
            dead_ms: r.get(7),
            body: r.get(8),
        })
        .collect())
}

fn stored_event(r: &Row) -> StoredEvent {
    StoredEvent {
        seq: r.get(0),
        id: r.get(1),
        bus: r.get(2),
        time_ms: r.get(3),
        ingested_ms: r.get(4),
        body: r.get(5),
    }
}

pub(crate) async fn events(
    shared: &Shared,
    after: i64,
    limit: usize,
) -> PgResult<Vec<StoredEvent>> {
    let mut conn = shared.pool.get().await?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = conn
        .query(
            "SELECT seq, id, bus, time_ms, ingested_ms, body FROM events WHERE seq > $1
             ORDER BY seq LIMIT $2",
            &[&after, &limit],
        )
        .await?;
    Ok(rows.iter().map(stored_event).collect())
}

pub(crate) async fn events_by_time(
    shared: &Shared,
    range: EventRange,
) -> PgResult<Vec<StoredEvent>> {
    let mut conn = shared.pool.get().await?;
    let limit = i64::try_from(range.limit).unwrap_or(i64::MAX);
    let (after_time, after_seq) = range.after.unwrap_or((i64::MIN, i64::MIN));
    let rows = conn
        .query(
            "SELECT seq, id, bus, time_ms, ingested_ms, body FROM events
             WHERE bus = $1 AND time_ms >= greatest($2::bigint, $5::bigint) AND time_ms < $3
               AND (time_ms, seq) > ($5, $6)
               AND ingested_ms >= $4 AND ingested_ms < $7
             ORDER BY time_ms, seq LIMIT $8",
            &[
                &range.bus,
                &range.from_ms,
                &range.to_ms,
                &range.ingested_from_ms,
                &after_time,
                &after_seq,
                &range.ingested_to_ms,
                &limit,
            ],
        )
        .await?;
    Ok(rows.iter().map(stored_event).collect())
}

/// How long the store's size on disk ([`StoreCounts::bytes`]) is reused before it is measured
/// again: measuring stats every file of every table and index (milliseconds), while the counts
/// themselves are cheap and asked for often.
const SIZE_TTL: std::time::Duration = std::time::Duration::from_secs(10);

/// What the store holds. The log is counted from its row (`top_seq - missing`); `bytes` is the
/// size of the store's tables and indexes in its schema, measured at most every [`SIZE_TTL`].
pub(crate) async fn counts(shared: &Shared) -> PgResult<StoreCounts> {
    let mut conn = shared.pool.get().await?;
    let r = conn
        .query_one(
            "SELECT (SELECT top_seq - missing FROM event_log WHERE id = 1),
                    (SELECT count(*) FROM work),
                    (SELECT count(*) FROM dead),
                    (SELECT count(*) FROM definitions),
                    (SELECT ingested_ms FROM events ORDER BY seq LIMIT 1)",
            &[],
        )
        .await?;
    let n = |i: usize| r.get::<_, Option<i64>>(i).unwrap_or(0).max(0) as u64;
    let known = *shared.size.lock().unwrap_or_else(|e| e.into_inner());
    let bytes = match known {
        Some((at, bytes)) if at.elapsed() < SIZE_TTL => bytes,
        _ => {
            let bytes: i64 = conn
                .query_one(
                    "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint
                     FROM pg_class c
                     WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r'",
                    &[],
                )
                .await?
                .get(0);
            let bytes = bytes.max(0) as u64;
            *shared.size.lock().unwrap_or_else(|e| e.into_inner()) =
                Some((std::time::Instant::now(), bytes));
            bytes
        }
    };
    Ok(StoreCounts {
        events: n(0),
        work_items: n(1),
        dead_letters: n(2),
        definitions: n(3),
        oldest_event_ms: r.get(4),
        bytes,
    })
}

/// Dead letters that died before `dead_before_ms`, then at most `max_events` events that nothing
/// refers to (older than the oldest event a work item or dead letter refers to), ingested before
/// `events_before_ms` and not kept for their bus.
pub(crate) async fn expire(shared: &Shared, expiry: Expiry) -> PgResult<Expired> {
    let mut conn = shared.pool.get().await?;
    let mut expired = Expired::default();
    if let Some(before) = expiry.dead_before_ms {
        expired.dead_letters = conn
            .execute("DELETE FROM dead WHERE dead_ms < $1", &[&before])
            .await?;
    }
    let Some(before) = expiry.events_before_ms else {
        return Ok(expired);
    };
    let (keep_bus, keep_from): (Vec<&str>, Vec<i64>) =
        expiry.keep.iter().map(|(b, f)| (b.as_str(), *f)).unzip();
    let max = i64::try_from(expiry.max_events).unwrap_or(i64::MAX);
    let mut tx = conn.begin().await?;
    let params: [&(dyn ToSql + Sync); 4] = [&before, &keep_bus, &keep_from, &max];
    let n = tx
        .execute(
            "WITH floor AS (
                 SELECT least(coalesce((SELECT min(event_seq) FROM work), 9223372036854775807),
                               coalesce((SELECT min(event_seq) FROM dead), 9223372036854775807))
                     AS seq),
             doomed AS (
                 SELECT e.seq FROM events e, floor
                 WHERE e.seq < floor.seq AND e.ingested_ms < $1
                   AND NOT EXISTS (
                       SELECT 1 FROM unnest($2::text[], $3::bigint[]) AS k(bus, from_ms)
                       WHERE k.bus = e.bus AND e.ingested_ms >= k.from_ms)
                 ORDER BY e.seq LIMIT $4 FOR UPDATE OF e SKIP LOCKED)
             DELETE FROM events WHERE seq IN (SELECT seq FROM doomed)",
            &params,
        )
        .await?;
    if n > 0 {
        tx.execute(
            "UPDATE event_log SET missing = missing + $1 WHERE id = 1",
            &[&(n as i64)],
        )
        .await?;
    }
    tx.commit().await?;
    expired.events = n;
    Ok(expired)
}

pub(crate) async fn ticks(shared: &Shared) -> PgResult<Vec<(String, i64)>> {
    let mut conn = shared.pool.get().await?;
    let rows = conn
        .query("SELECT schedule, tick_ms FROM ticks ORDER BY schedule", &[])
        .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

pub(crate) async fn forget_ticks(shared: &Shared, schedules: Vec<String>) -> PgResult<()> {
    let mut conn = shared.pool.get().await?;
    conn.execute("DELETE FROM ticks WHERE schedule = ANY($1)", &[&schedules])
        .await?;
    Ok(())
}
