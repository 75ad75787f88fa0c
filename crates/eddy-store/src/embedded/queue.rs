//! The embedded backend's queues (see [`crate::queue`] for what they are): messages in one
//! table, ordered by their row id, with visibility as a due time.

use rusqlite::{OptionalExtension, Transaction, params};

use super::DbResult as Result;
use crate::queue::{DEDUP_WINDOW_MS, Message, NewMessage, QueueStats, ReceiveOptions, Sent};

pub(crate) fn send(
    tx: &Transaction<'_>,
    queue: &str,
    messages: Vec<NewMessage>,
    now_ms: i64,
) -> Result<Vec<Sent>> {
    tx.prepare_cached("DELETE FROM dedup WHERE queue = ?1 AND sent_ms < ?2")?
        .execute(params![queue, now_ms - DEDUP_WINDOW_MS])?;
    let mut out = Vec::with_capacity(messages.len());
    for m in messages {
        if let Some(d) = &m.dedup_id {
            let seen: Option<(String, i64)> = tx
                .prepare_cached(
                    "SELECT message_id, seq FROM dedup WHERE queue = ?1 AND dedup_id = ?2",
                )?
                .query_row(params![queue, d], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            if let Some((message_id, seq)) = seen {
                out.push(Sent {
                    message_id,
                    seq,
                    duplicate: true,
                });
                continue;
            }
        }
        tx.prepare_cached(
            "INSERT INTO messages (queue, message_id, body, attributes, sent_ms, visible_ms,
                                   group_id, dedup_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?
        .execute(params![
            queue,
            m.message_id,
            m.body,
            m.attributes,
            now_ms,
            now_ms + m.delay_ms.max(0),
            m.group_id,
            m.dedup_id
        ])?;
        let seq = tx.last_insert_rowid();
        if let Some(d) = &m.dedup_id {
            tx.prepare_cached(
                "INSERT INTO dedup (queue, dedup_id, message_id, seq, sent_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![queue, d, m.message_id, seq, now_ms])?;
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
    receive_count: u32,
}

/// How many FIFO candidates one query reads: a receive reads pages in queue order until it has
/// picked enough, so its cost follows the messages in flight ahead of it, not the queue's depth.
const FIFO_PAGE: i64 = 64;

fn candidate(r: &rusqlite::Row<'_>) -> rusqlite::Result<Candidate> {
    Ok(Candidate {
        seq: r.get(0)?,
        group: r.get(1)?,
        visible_ms: r.get(2)?,
        receive_count: r.get(3)?,
    })
}

/// Visible messages of a standard queue, in visibility order (the index's order).
fn standard_candidates(
    tx: &Transaction<'_>,
    queue: &str,
    opts: &ReceiveOptions,
) -> Result<Vec<Candidate>> {
    // Extra rows leave room for messages that move to the dead-letter queue instead.
    let limit = i64::try_from(opts.max.saturating_mul(4).max(16)).unwrap_or(i64::MAX);
    Ok(tx
        .prepare_cached(
            "SELECT id, group_id, visible_ms, receive_count FROM messages
             WHERE queue = ?1 AND visible_ms <= ?2 ORDER BY visible_ms, id LIMIT ?3",
        )?
        .query_map(params![queue, opts.now_ms, limit], candidate)?
        .collect::<rusqlite::Result<Vec<_>>>()?)
}

/// A page of a FIFO queue's messages after `after`, in queue order.
fn fifo_page(tx: &Transaction<'_>, queue: &str, after: i64) -> Result<Vec<Candidate>> {
    Ok(tx
        .prepare_cached(
            "SELECT id, group_id, visible_ms, receive_count FROM messages
             WHERE queue = ?1 AND id > ?2 ORDER BY id LIMIT ?3",
        )?
        .query_map(params![queue, after, FIFO_PAGE], candidate)?
        .collect::<rusqlite::Result<Vec<_>>>()?)
}

pub(crate) fn receive(
    tx: &Transaction<'_>,
    queue: &str,
    opts: &ReceiveOptions,
) -> Result<Vec<Message>> {
    tx.prepare_cached("DELETE FROM messages WHERE queue = ?1 AND sent_ms < ?2")?
        .execute(params![queue, opts.now_ms - opts.retention_ms])?;
    let mut picked = Vec::new();
    if opts.fifo {
        // A group is blocked by any earlier message of it in flight or delayed.
        let mut blocked: Vec<Option<String>> = Vec::new();
        let mut after = 0;
        'pages: loop {
            let page = fifo_page(tx, queue, after)?;
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
                if !redriven(tx, &c, opts)? {
                    picked.push(c.seq);
                }
            }
            if !full {
                break;
            }
        }
    } else {
        for c in standard_candidates(tx, queue, opts)? {
            if picked.len() >= opts.max {
                break;
            }
            if !redriven(tx, &c, opts)? {
                picked.push(c.seq);
            }
        }
    }
    let mut out = Vec::with_capacity(picked.len());
    for seq in picked {
        let receipt = format!("{seq}.{}", uuid_like(seq, opts.now_ms));
        tx.prepare_cached(
            "UPDATE messages SET visible_ms = ?2, receive_count = receive_count + 1,
                 first_receive_ms = coalesce(first_receive_ms, ?3), receipt = ?4
             WHERE id = ?1",
        )?
        .execute(params![
            seq,
            opts.now_ms + opts.visibility_ms,
            opts.now_ms,
            receipt
        ])?;
        let m = tx
            .prepare_cached(
                "SELECT id, message_id, body, attributes, sent_ms, receive_count,
                        first_receive_ms, receipt, group_id, dedup_id
                 FROM messages WHERE id = ?1",
            )?
            .query_row([seq], |r| {
                Ok(Message {
                    seq: r.get(0)?,
                    message_id: r.get(1)?,
                    body: r.get(2)?,
                    attributes: r.get(3)?,
                    sent_ms: r.get(4)?,
                    receive_count: r.get(5)?,
                    first_receive_ms: r.get(6)?,
                    receipt: r.get(7)?,
                    group_id: r.get(8)?,
                    dedup_id: r.get(9)?,
                })
            })?;
        out.push(m);
    }
    Ok(out)
}

/// Moves a message received too often to the dead-letter queue; true when it did.
fn redriven(tx: &Transaction<'_>, c: &Candidate, opts: &ReceiveOptions) -> Result<bool> {
    match &opts.redrive {
        Some((dlq, max_receives)) if c.receive_count >= *max_receives => {
            move_to(tx, c.seq, dlq)?;
            Ok(true)
        }
        _ => Ok(false),
    }
}

/// A receipt suffix unique per receive: random enough that a stale handle never matches.
fn uuid_like(seq: i64, now_ms: i64) -> String {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    let mut h = RandomState::new().build_hasher();
    h.write_i64(seq);
    h.write_i64(now_ms);
    let a = h.finish();
    let mut h = RandomState::new().build_hasher();
    h.write_u64(a);
    format!("{a:016x}{:016x}", h.finish())
}

/// Moves a message to another queue (redrive), keeping its id, body and attributes; it arrives
/// visible, with its receive count reset.
fn move_to(tx: &Transaction<'_>, seq: i64, queue: &str) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO messages (queue, message_id, body, attributes, sent_ms, visible_ms)
         SELECT ?2, message_id, body, attributes, sent_ms, 0 FROM messages WHERE id = ?1",
    )?
    .execute(params![seq, queue])?;
    tx.prepare_cached("DELETE FROM messages WHERE id = ?1")?
        .execute([seq])?;
    Ok(())
}

/// The message a receipt handle names, when the handle is the latest for it. A handle starts
/// with the message's row id (`SEQ.RANDOM`), so this is one primary-key lookup.
fn by_receipt(tx: &Transaction<'_>, queue: &str, receipt: &str) -> Result<Option<i64>> {
    let Some(seq) = receipt
        .split_once('.')
        .and_then(|(seq, _)| seq.parse::<i64>().ok())
    else {
        return Ok(None);
    };
    Ok(tx
        .prepare_cached("SELECT id FROM messages WHERE id = ?1 AND queue = ?2 AND receipt = ?3")?
        .query_row(params![seq, queue, receipt], |r| r.get(0))
        .optional()?)
}

/// Deletes the message a receipt names; `false` when no message has that (latest) receipt.
pub(crate) fn delete(tx: &Transaction<'_>, queue: &str, receipt: &str) -> Result<bool> {
    let Some(id) = by_receipt(tx, queue, receipt)? else {
        return Ok(false);
    };
    tx.prepare_cached("DELETE FROM messages WHERE id = ?1")?
        .execute([id])?;
    Ok(true)
}

/// Sets when a received message becomes visible again; `false` when the receipt names no
/// message in flight.
pub(crate) fn change_visibility(
    tx: &Transaction<'_>,
    queue: &str,
    receipt: &str,
    now_ms: i64,
    visible_ms: i64,
) -> Result<bool> {
    let Some(id) = by_receipt(tx, queue, receipt)? else {
        return Ok(false);
    };
    let n = tx
        .prepare_cached("UPDATE messages SET visible_ms = ?2 WHERE id = ?1 AND visible_ms > ?3")?
        .execute(params![id, visible_ms, now_ms])?;
    Ok(n > 0)
}

pub(crate) fn purge(tx: &Transaction<'_>, queue: &str) -> Result<()> {
    tx.prepare_cached("DELETE FROM messages WHERE queue = ?1")?
        .execute([queue])?;
    tx.prepare_cached("DELETE FROM dedup WHERE queue = ?1")?
        .execute([queue])?;
    Ok(())
}

pub(crate) fn stats(tx: &rusqlite::Connection, queue: &str, now_ms: i64) -> Result<QueueStats> {
    let (visible, in_flight, delayed): (i64, i64, i64) = tx
        .prepare_cached(
            "SELECT coalesce(sum(visible_ms <= ?2), 0),
                    coalesce(sum(visible_ms > ?2 AND receive_count > 0), 0),
                    coalesce(sum(visible_ms > ?2 AND receive_count = 0), 0)
             FROM messages WHERE queue = ?1",
        )?
        .query_row(params![queue, now_ms], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?;
    Ok(QueueStats {
        visible: visible.max(0) as u64,
        in_flight: in_flight.max(0) as u64,
        delayed: delayed.max(0) as u64,
    })
}

/// When the next message of the queue becomes visible (for long polls), if any is waiting.
pub(crate) fn next_visible(tx: &Transaction<'_>, queue: &str) -> Result<Option<i64>> {
    Ok(tx
        .prepare_cached("SELECT min(visible_ms) FROM messages WHERE queue = ?1")?
        .query_row([queue], |r| r.get::<_, Option<i64>>(0))?)
}
