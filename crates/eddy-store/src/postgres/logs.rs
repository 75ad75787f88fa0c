//! Log events (see [`crate::logs`]): one table indexed by group and time; appends are one
//! multi-row insert, fenced with the work items they deliver.

use super::pool::Tx;
use super::{PgResult, Shared, work};
use crate::logs::{LogEvent, LogQuery, LogStream, NewLogEvent};
use crate::{AppendBatch, Lease};

pub(crate) async fn append(
    shared: &Shared,
    events: Vec<NewLogEvent>,
    now_ms: i64,
    ack: Vec<Lease>,
) -> PgResult<()> {
    let mut conn = shared.pool.get().await?;
    let mut tx = conn.begin().await?;
    work::fenced_ack(&mut tx, ack).await?;
    let groups: Vec<&str> = events.iter().map(|e| e.group.as_str()).collect();
    let streams: Vec<&str> = events.iter().map(|e| e.stream.as_str()).collect();
    let times: Vec<i64> = events.iter().map(|e| e.timestamp_ms).collect();
    let messages: Vec<&str> = events.iter().map(|e| e.message.as_str()).collect();
    tx.execute(
        "INSERT INTO log_events (grp, stream, ts_ms, ingest_ms, message)
         SELECT g, s, t, $5, m
         FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[]) WITH ORDINALITY
             AS u(g, s, t, m, n)
         ORDER BY n",
        &[&groups, &streams, &times, &messages, &now_ms],
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// [`append`] of log events and an [`AppendBatch`] in one transaction (see
/// `LogStore::logs_write`).
pub(crate) async fn write(
    shared: &Shared,
    events: Vec<NewLogEvent>,
    now_ms: i64,
    mut batch: AppendBatch,
) -> PgResult<()> {
    batch.now_ms.get_or_insert(now_ms);
    let mut conn = shared.pool.get().await?;
    let mut tx = conn.begin().await?;
    super::append::fence_in(&mut tx, &batch).await?;
    insert(&mut tx, &events, now_ms).await?;
    super::append::write_in(&mut tx, batch, shared.store_now()).await?;
    tx.commit().await?;
    Ok(())
}

async fn insert(tx: &mut Tx<'_>, events: &[NewLogEvent], now_ms: i64) -> PgResult<()> {
    let groups: Vec<&str> = events.iter().map(|e| e.group.as_str()).collect();
    let streams: Vec<&str> = events.iter().map(|e| e.stream.as_str()).collect();
    let times: Vec<i64> = events.iter().map(|e| e.timestamp_ms).collect();
    let messages: Vec<&str> = events.iter().map(|e| e.message.as_str()).collect();
    tx.execute(
        "INSERT INTO log_events (grp, stream, ts_ms, ingest_ms, message)
         SELECT g, s, t, $5, m
         FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[]) WITH ORDINALITY
             AS u(g, s, t, m, n)
         ORDER BY n",
        &[&groups, &streams, &times, &messages, &now_ms],
    )
    .await?;
    Ok(())
}

pub(crate) async fn read(shared: &Shared, q: LogQuery) -> PgResult<Vec<LogEvent>> {
    let mut conn = shared.pool.get().await?;
    let (order, after) = if q.backwards {
        ("DESC", "(ts_ms, seq) < ($4, $5)")
    } else {
        ("ASC", "(ts_ms, seq) > ($4, $5)")
    };
    let sql = format!(
        "SELECT seq, grp, stream, ts_ms, ingest_ms, message FROM log_events
         WHERE grp = $1 AND ts_ms >= $2 AND ts_ms < $3
           AND ($4::bigint IS NULL OR {after})
           AND (cardinality($6::text[]) = 0 OR stream = ANY($6))
         ORDER BY ts_ms {order}, seq {order} LIMIT $7"
    );
    let limit = i64::try_from(q.limit).unwrap_or(i64::MAX);
    let rows = conn
        .query(
            &sql,
            &[
                &q.group,
                &q.lower_bound(),
                &q.upper_bound(),
                &q.after.map(|p| p.timestamp_ms),
                &q.after.map(|p| p.seq),
                &q.streams,
                &limit,
            ],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| LogEvent {
            seq: r.get(0),
            group: r.get(1),
            stream: r.get(2),
            timestamp_ms: r.get(3),
            ingestion_ms: r.get(4),
            message: r.get(5),
        })
        .collect())
}

/// Streams of a group with their first and last event times and the bytes of their messages.
pub(crate) async fn streams(shared: &Shared, group: String) -> PgResult<Vec<LogStream>> {
    let mut conn = shared.pool.get().await?;
    let rows = conn
        .query(
            "SELECT stream, min(ts_ms), max(ts_ms), sum(octet_length(message))::bigint
             FROM log_events WHERE grp = $1 GROUP BY stream ORDER BY stream",
            &[&group],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| LogStream {
            name: r.get(0),
            first_ms: r.get(1),
            last_ms: r.get(2),
            stored_bytes: r.get(3),
        })
        .collect())
}

pub(crate) async fn delete_group(shared: &Shared, group: String) -> PgResult<()> {
    let mut conn = shared.pool.get().await?;
    conn.execute("DELETE FROM log_events WHERE grp = $1", &[&group])
        .await?;
    Ok(())
}

pub(crate) async fn delete_stream(
    shared: &Shared,
    group: String,
    stream: String,
    max: usize,
) -> PgResult<usize> {
    let mut conn = shared.pool.get().await?;
    let max = i64::try_from(max).unwrap_or(i64::MAX);
    let n = conn
        .execute(
            "DELETE FROM log_events WHERE seq IN (
                 SELECT seq FROM log_events WHERE grp = $1 AND stream = $2
                 ORDER BY ts_ms, seq LIMIT $3)",
            &[&group, &stream, &max],
        )
        .await?;
    Ok(n as usize)
}

/// Deletes the oldest of a group's events before `before_ms`, at most `max`.
pub(crate) async fn expire(
    shared: &Shared,
    group: String,
    before_ms: i64,
    max: usize,
) -> PgResult<usize> {
    let mut conn = shared.pool.get().await?;
    let max = i64::try_from(max).unwrap_or(i64::MAX);
    let n = conn
        .execute(
            "DELETE FROM log_events WHERE seq IN (
                 SELECT seq FROM log_events WHERE grp = $1 AND ts_ms < $2
                 ORDER BY ts_ms, seq LIMIT $3)",
            &[&group, &before_ms, &max],
        )
        .await?;
    Ok(n as usize)
}
