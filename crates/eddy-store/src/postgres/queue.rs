//! Queues (see [`crate::queue`]): messages in one table, ordered by their id, with visibility
//! as a due time, as in the embedded store, made safe for consumers on several nodes:
//!
//! * a standard queue's receive picks visible messages with `FOR UPDATE SKIP LOCKED`, so two
//!   consumers never take the same message and never wait for each other;
//! * a FIFO queue's receive takes the queue's advisory lock first (receives of one FIFO queue run
//!   one at a time, cluster-wide), so that "the first message of each group not blocked by one
//!   in flight" is decided on a state nobody else changes meanwhile;
//! * a send that names a group or a deduplication id takes the queue's send lock, so that
//!   deduplication is checked and recorded atomically and a group's messages get ids in send
//!   order.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

use tokio_postgres::Row;

use super::pool::Tx;
use super::{PgResult, Shared, work};
use crate::Lease;
use crate::queue::{DEDUP_WINDOW_MS, Message, NewMessage, QueueStats, ReceiveOptions, Sent};

/// How many FIFO candidates one query reads (see the embedded store's `FIFO_PAGE`).
const FIFO_PAGE: i64 = 64;

/// Takes the advisory lock `what` of `queue` until the transaction ends.
async fn lock(tx: &mut Tx<'_>, what: &str, queue: &str) -> PgResult<()> {
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended($1 || $2, 0))",
        &[&what, &queue],
    )
    .await?;
    Ok(())
}

pub(crate) async fn send(
    shared: &Shared,
    queue: String,
    messages: Vec<NewMessage>,
    now_ms: i64,
    ack: Vec<Lease>,
) -> PgResult<Vec<Sent>> {
    let mut conn = shared.pool.get().await?;
    let mut tx = conn.begin().await?;
    work::fenced_ack(&mut tx, ack).await?;
    let out = send_in(&mut tx, &queue, messages, now_ms).await?;
    tx.commit().await?;
    Ok(out)
}

/// Sends messages within a transaction (a plain send's, or an append's).
pub(crate) async fn send_in(
    tx: &mut Tx<'_>,
    queue: &str,
    messages: Vec<NewMessage>,
    now_ms: i64,
) -> PgResult<Vec<Sent>> {
    let queue = queue.to_owned();
    let ordered = messages
        .iter()
        .any(|m| m.group_id.is_some() || m.dedup_id.is_some());
    if ordered {
        lock(tx, "eddy.send.", &queue).await?;
        tx.execute(
            "DELETE FROM dedup WHERE queue = $1 AND sent_ms < $2",
            &[&queue, &(now_ms - DEDUP_WINDOW_MS)],
        )
        .await?;
    }
    let mut out = Vec::with_capacity(messages.len());
    for m in messages {
        if let Some(d) = &m.dedup_id {
            let seen = tx
                .query_opt(
                    "SELECT message_id, seq FROM dedup
                     WHERE queue = $1 AND dedup_id = $2 AND sent_ms >= $3",
                    &[&queue, d, &(now_ms - DEDUP_WINDOW_MS)],
                )
                .await?;
            if let Some(r) = seen {
                out.push(Sent {
                    message_id: r.get(0),
                    seq: r.get(1),
                    duplicate: true,
                });
                continue;
            }
        }
        let seq: i64 = tx
            .query_one(
                "INSERT INTO messages (queue, message_id, body, attributes, sent_ms, visible_ms,
                                       group_id, dedup_id)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
                &[
                    &queue,
                    &m.message_id,
                    &m.body,
                    &m.attributes,
                    &now_ms,
                    &(now_ms + m.delay_ms.max(0)),
                    &m.group_id,
                    &m.dedup_id,
                ],
            )
            .await?
            .get(0);
        if let Some(d) = &m.dedup_id {
            tx.execute(
                "INSERT INTO dedup (queue, dedup_id, message_id, seq, sent_ms)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (queue, dedup_id) DO UPDATE
                 SET message_id = excluded.message_id, seq = excluded.seq,
                     sent_ms = excluded.sent_ms",
                &[&queue, d, &m.message_id, &seq, &now_ms],
            )
            .await?;
        }
        out.push(Sent {
            message_id: m.message_id,
            seq,
            duplicate: false,
        });
    }
    Ok(out)
}

/// A message that a receive may hand out.
struct Candidate {
    seq: i64,
    group: Option<String>,
    visible_ms: i64,
    receive_count: i64,
}

fn candidate(r: &Row) -> Candidate {
    Candidate {
        seq: r.get(0),
        group: r.get(1),
        visible_ms: r.get(2),
        receive_count: r.get(3),
    }
}

pub(crate) async fn receive(
    shared: &Shared,
    queue: String,
    opts: ReceiveOptions,
) -> PgResult<Vec<Message>> {
    let mut conn = shared.pool.get().await?;
    let mut tx = conn.begin().await?;
    if opts.fifo {
        lock(&mut tx, "eddy.fifo.", &queue).await?;
    }
    tx.execute(
        "DELETE FROM messages WHERE id IN (
             SELECT id FROM messages WHERE queue = $1 AND sent_ms < $2
             FOR UPDATE SKIP LOCKED)",
        &[&queue, &(opts.now_ms - opts.retention_ms)],
    )
    .await?;
    let mut picked = Vec::new();
    if opts.fifo {
        // A group is blocked by any earlier message of it in flight or delayed.
        let mut blocked: Vec<Option<String>> = Vec::new();
        let mut after = 0_i64;
        'pages: loop {
            let page: Vec<Candidate> = tx
                .query(
                    "SELECT id, group_id, visible_ms, receive_count FROM messages
                     WHERE queue = $1 AND id > $2 ORDER BY id LIMIT $3",
                    &[&queue, &after, &FIFO_PAGE],
                )
                .await?
                .iter()
                .map(candidate)
                .collect();
            let full = page.len() as i64 == FIFO_PAGE;
            for c in page {
                after = c.seq;
                if picked.len() >= opts.max {
                    break 'pages;
                }
                if blocked.contains(&c.group) {
                    continue;
                }
                if c.visible_ms > opts.now_ms {
                    blocked.push(c.group);
                    continue;
                }
                if !redriven(&mut tx, &c, &opts).await? {
                    picked.push(c.seq);
                }
            }
            if !full {
                break;
            }
        }
    } else {
        // Extra rows leave room for messages that move to the dead-letter queue instead.
        let limit = i64::try_from(opts.max.saturating_mul(4).max(16)).unwrap_or(i64::MAX);
        let candidates: Vec<Candidate> = tx
            .query(
                "SELECT id, group_id, visible_ms, receive_count FROM messages
                 WHERE queue = $1 AND visible_ms <= $2 ORDER BY visible_ms, id LIMIT $3
                 FOR UPDATE SKIP LOCKED",
                &[&queue, &opts.now_ms, &limit],
            )
            .await?
            .iter()
            .map(candidate)
            .collect();
        for c in candidates {
            if picked.len() >= opts.max {
                break;
            }
            if !redriven(&mut tx, &c, &opts).await? {
                picked.push(c.seq);
            }
        }
    }
    let mut out = Vec::with_capacity(picked.len());
    for seq in picked {
        let receipt = format!("{seq}.{}", random_suffix(seq, opts.now_ms));
        let r = tx
            .query_one(
                "UPDATE messages SET visible_ms = $2, receive_count = receive_count + 1,
                     first_receive_ms = coalesce(first_receive_ms, $3), receipt = $4
                 WHERE id = $1
                 RETURNING id, message_id, body, attributes, sent_ms, receive_count,
                           first_receive_ms, receipt, group_id, dedup_id",
                &[
                    &seq,
                    &(opts.now_ms + opts.visibility_ms),
                    &opts.now_ms,
                    &receipt,
                ],
            )
            .await?;
        out.push(Message {
            seq: r.get(0),
            message_id: r.get(1),
            body: r.get(2),
            attributes: r.get(3),
            sent_ms: r.get(4),
            receive_count: u32::try_from(r.get::<_, i64>(5)).unwrap_or(u32::MAX),
            first_receive_ms: r.get(6),
            receipt: r.get(7),
            group_id: r.get(8),
            dedup_id: r.get(9),
        });
    }
    tx.commit().await?;
    Ok(out)
}

/// Moves a message received too often to the dead-letter queue (keeping its id, body and
/// attributes; visible, its receive count reset); true when it did.
async fn redriven(tx: &mut Tx<'_>, c: &Candidate, opts: &ReceiveOptions) -> PgResult<bool> {
    match &opts.redrive {
        Some((dlq, max_receives)) if c.receive_count >= i64::from(*max_receives) => {
            tx.execute(
                "WITH gone AS (DELETE FROM messages WHERE id = $1
                               RETURNING message_id, body, attributes, sent_ms)
                 INSERT INTO messages (queue, message_id, body, attributes, sent_ms, visible_ms)
                 SELECT $2, message_id, body, attributes, sent_ms, 0 FROM gone",
                &[&c.seq, dlq],
            )
            .await?;
            Ok(true)
        }
        _ => Ok(false),
    }
}

/// A receipt suffix unique per receive: random enough that a stale handle never matches.
fn random_suffix(seq: i64, now_ms: i64) -> String {
    let mut h = RandomState::new().build_hasher();
    h.write_i64(seq);
    h.write_i64(now_ms);
    let a = h.finish();
    let mut h = RandomState::new().build_hasher();
    h.write_u64(a);
    format!("{a:016x}{:016x}", h.finish())
}

/// The row id a receipt handle starts with (`SEQ.RANDOM`).
fn receipt_seq(receipt: &str) -> Option<i64> {
    receipt
        .split_once('.')
        .and_then(|(seq, _)| seq.parse::<i64>().ok())
}

pub(crate) async fn delete(
    shared: &Shared,
    queue: String,
    receipts: Vec<String>,
) -> PgResult<Vec<bool>> {
    let mut conn = shared.pool.get().await?;
    let mut tx = conn.begin().await?;
    let mut out = Vec::with_capacity(receipts.len());
    for receipt in &receipts {
        let Some(seq) = receipt_seq(receipt) else {
            out.push(false);
            continue;
        };
        let n = tx
            .execute(
                "DELETE FROM messages WHERE id = $1 AND queue = $2 AND receipt = $3",
                &[&seq, &queue, receipt],
            )
            .await?;
        out.push(n > 0);
    }
    tx.commit().await?;
    Ok(out)
}

pub(crate) async fn change_visibility(
    shared: &Shared,
    queue: String,
    changes: Vec<(String, i64)>,
    now_ms: i64,
) -> PgResult<Vec<bool>> {
    let mut conn = shared.pool.get().await?;
    let mut tx = conn.begin().await?;
    let mut out = Vec::with_capacity(changes.len());
    for (receipt, visible_ms) in &changes {
        let Some(seq) = receipt_seq(receipt) else {
            out.push(false);
            continue;
        };
        let n = tx
            .execute(
                "UPDATE messages SET visible_ms = $4
                 WHERE id = $1 AND queue = $2 AND receipt = $3 AND visible_ms > $5",
                &[&seq, &queue, receipt, visible_ms, &now_ms],
            )
            .await?;
        out.push(n > 0);
    }
    tx.commit().await?;
    Ok(out)
}

pub(crate) async fn purge(shared: &Shared, queue: String) -> PgResult<()> {
    let mut conn = shared.pool.get().await?;
    let mut tx = conn.begin().await?;
    tx.execute("DELETE FROM messages WHERE queue = $1", &[&queue])
        .await?;
    tx.execute("DELETE FROM dedup WHERE queue = $1", &[&queue])
        .await?;
    tx.commit().await?;
    Ok(())
}

pub(crate) async fn stats(shared: &Shared, queue: String, now_ms: i64) -> PgResult<QueueStats> {
    let mut conn = shared.pool.get().await?;
    let r = conn
        .query_one(
            "SELECT count(*) FILTER (WHERE visible_ms <= $2),
                    count(*) FILTER (WHERE visible_ms > $2 AND receive_count > 0),
                    count(*) FILTER (WHERE visible_ms > $2 AND receive_count = 0)
             FROM messages WHERE queue = $1",
            &[&queue, &now_ms],
        )
        .await?;
    let n = |i: usize| r.get::<_, i64>(i).max(0) as u64;
    Ok(QueueStats {
        visible: n(0),
        in_flight: n(1),
        delayed: n(2),
    })
}

pub(crate) async fn next_visible(shared: &Shared, queue: String) -> PgResult<Option<i64>> {
    let mut conn = shared.pool.get().await?;
    Ok(conn
        .query_one(
            "SELECT min(visible_ms) FROM messages WHERE queue = $1",
            &[&queue],
        )
        .await?
        .get(0))
}
