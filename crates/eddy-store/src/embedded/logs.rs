//! The embedded backend's log events (see [`crate::logs`]): one table, indexed by group and
//! time.

use rusqlite::{Transaction, params};

use super::DbResult as Result;
use crate::logs::{LogEvent, LogQuery, LogStream, NewLogEvent};

pub(crate) fn append(tx: &Transaction<'_>, events: &[NewLogEvent], now_ms: i64) -> Result<()> {
    let mut st = tx.prepare_cached(
        "INSERT INTO log_events (grp, stream, ts_ms, ingest_ms, message) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for e in events {
        st.execute(params![
            e.group,
            e.stream,
            e.timestamp_ms,
            now_ms,
            e.message
        ])?;
    }
    Ok(())
}

pub(crate) fn read(tx: &rusqlite::Connection, q: &LogQuery) -> Result<Vec<LogEvent>> {
    let order = if q.backwards { "DESC" } else { "ASC" };
    let after = if q.backwards {
        "(ts_ms < ?4 OR (ts_ms = ?4 AND seq < ?5))"
    } else {
        "(ts_ms > ?4 OR (ts_ms = ?4 AND seq > ?5))"
    };
    let sql = format!(
        "SELECT seq, grp, stream, ts_ms, ingest_ms, message FROM log_events
         WHERE grp = ?1 AND ts_ms >= ?2 AND ts_ms < ?3 AND (?4 IS NULL OR {after})
         ORDER BY ts_ms {order}, seq {order}"
    );
    let mut st = tx.prepare_cached(&sql)?;
    let rows = st.query_map(
        params![
            q.group,
            q.lower_bound(),
            q.upper_bound(),
            q.after.map(|p| p.timestamp_ms),
            q.after.map(|p| p.seq)
        ],
        |r| {
            Ok(LogEvent {
                seq: r.get(0)?,
                group: r.get(1)?,
                stream: r.get(2)?,
                timestamp_ms: r.get(3)?,
                ingestion_ms: r.get(4)?,
                message: r.get(5)?,
            })
        },
    )?;
    let mut out = Vec::new();
    for row in rows {
        let e = row?;
        if !q.streams.is_empty() && !q.streams.contains(&e.stream) {
            continue;
        }
        out.push(e);
        if out.len() >= q.limit {
            break;
        }
    }
    Ok(out)
}

/// Streams of a group with their first/last event times and sizes.
pub(crate) fn streams(tx: &rusqlite::Connection, group: &str) -> Result<Vec<LogStream>> {
    let mut st = tx.prepare_cached(
        "SELECT stream, min(ts_ms), max(ts_ms), sum(length(message)) FROM log_events
         WHERE grp = ?1 GROUP BY stream ORDER BY stream",
    )?;
    let rows = st.query_map([group], |r| {
        Ok(LogStream {
            name: r.get(0)?,
            first_ms: r.get(1)?,
            last_ms: r.get(2)?,
            stored_bytes: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

pub(crate) fn delete_group(tx: &Transaction<'_>, group: &str) -> Result<()> {
    tx.prepare_cached("DELETE FROM log_events WHERE grp = ?1")?
        .execute([group])?;
    Ok(())
}

pub(crate) fn delete_stream(
    tx: &Transaction<'_>,
    group: &str,
    stream: &str,
    max: usize,
) -> Result<usize> {
    let n = tx
        .prepare_cached(
            "DELETE FROM log_events WHERE seq IN (
                 SELECT seq FROM log_events WHERE grp = ?1 AND stream = ?2
                 ORDER BY ts_ms, seq LIMIT ?3)",
        )?
        .execute(params![group, stream, max as i64])?;
    Ok(n)
}

/// Deletes the oldest of a group's events before `before_ms`, at most `max`, walking
/// `log_events_by_time` from the group's start: the cost is the rows deleted, however many
/// remain.
pub(crate) fn expire(
    tx: &Transaction<'_>,
    group: &str,
    before_ms: i64,
    max: usize,
) -> Result<usize> {
    let n = tx
        .prepare_cached(
            "DELETE FROM log_events WHERE seq IN (
                 SELECT seq FROM log_events WHERE grp = ?1 AND ts_ms < ?2
                 ORDER BY ts_ms, seq LIMIT ?3)",
        )?
        .execute(params![group, before_ms, max as i64])?;
    Ok(n)
}
