//! Object data in the database: the PostgreSQL store's [`BlobStore`], so that every node sharing
//! the database reads every object, and the database's backups hold the data with its index.
//!
//! # Tables (migration 4)
//!
//! `blobs` has a row per blob: its id (32 lowercase hex digits, as [`crate::Blobs`] names
//! them), its size once finished, the size of its chunks, whether it is finished, and when it
//! last changed (`created_ms`, on the database's clock: see "Sweep"). `blob_chunks` holds its
//! bytes, `chunk` bytes per row (the last row holds the rest), numbered from 0; their rows go
//! with the blob's (`ON DELETE CASCADE`). The chunk size is recorded per blob, so a later
//! version may write other sizes and still read what this one wrote.
//!
//! Chunk data is stored `EXTERNAL`: out of line in the TOAST table and not compressed. Object
//! data is mostly compressed already (images, archives), so compressing costs writes for
//! little; and uncompressed TOAST values are read in slices (`substring`), so a range read
//! fetches only the pages it needs.
//!
//! # Writing
//!
//! [`BlobStore::create`] inserts the blob's row, unfinished. The sink gathers what it is given
//! into chunks of [`CHUNK`] bytes and inserts each full one in a transaction of its own, on a
//! task, while the caller fills the next (one insert in flight at a time: at most two chunks in
//! memory per sink). Chunks committed before the blob is finished count for nothing: only
//! [`BlobSink::finish`], one transaction that inserts the last chunk and marks the blob
//! finished with its size, makes it a blob; it is answered after `COMMIT`, durable as every
//! commit of the store (`synchronous_commit` as the server has it; the earlier chunks' WAL
//! records precede it, so they are flushed with it). A sink dropped unfinished (or whose writes
//! failed) deletes its rows on a task; one that cannot (its process died) leaves them to
//! [`BlobStore::sweep`].
//!
//! Chunks of 1 MiB rather than 4: measured the same (`benches/pg_blobs.rs`, a 64 MiB blob in
//! pieces of 64 KiB, debug build, PostgreSQL 15 on the same 2-core machine, other builds
//! running: 110-240 MB/s written, 500-750 MB/s read, with either size), for a quarter of the
//! memory per sink.
//!
//! # Reading
//!
//! [`BlobStore::read`] first looks up every blob it is given, finished, and checks each range
//! lies within it: a missing blob or a range past its end fails the call, not the stream. A task
//! then fetches slices of at most [`READ`] bytes (`substring` of one chunk row), one query each
//! on a connection taken from the pool for that query only, at most [`READ_AHEAD`] slices ahead
//! of the reader: never the whole blob in memory, and a slow reader holds no connection. Unlike
//! a file held open, a blob deleted while it is being read (its object replaced or deleted
//! meanwhile) ends the stream with an error rather than reading on: holding a snapshot open
//! for the whole of a slow download would tie up a pooled connection and hold back vacuum.
//!
//! # Copy, delete, sweep
//!
//! [`BlobStore::copy`] copies on the server (`INSERT ... SELECT`), the source's row locked
//! (`FOR SHARE`) so that it cannot be deleted halfway. [`BlobStore::delete`] deletes rows (in
//! id order, so concurrent deletes cannot deadlock). [`BlobStore::sweep`] deletes unfinished
//! blobs that last changed before `before` and answers the finished ones created before it.
//! A blob's time is the database's clock (`eddy_now_ms()`), so the blobs of all nodes are
//! stamped on one clock; a sink touches its blob with every chunk, so a long upload that still
//! makes progress is not swept (as a file being written keeps a recent modification time).
//! `before` is the caller's clock, which the margin callers leave (an hour between nodes)
//! covers.

use std::io;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::{Bytes, BytesMut};
use tokio::task::JoinHandle;

use super::{PgError, PgResult, Shared};
use crate::blobs::{BlobSink, BlobStore, BlobStream, new_id, receiver_stream};
use crate::objects::BlobRef;
use crate::{BoxFuture, StoreError};

/// The size of the chunks a blob is written in (every chunk but a blob's last).
pub(crate) const CHUNK: usize = 1024 * 1024;
/// The most a read fetches in one query.
const READ: u64 = 1024 * 1024;
/// Slices a reader's task fetches ahead of the reader.
const READ_AHEAD: usize = 2;

/// The PostgreSQL store's blobs (see the module docs).
pub(crate) struct PgBlobs {
    shared: Arc<Shared>,
}

impl PgBlobs {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }
}

/// A store error as the I/O error the blob traits answer (its text says what happened).
fn io_error(e: StoreError) -> io::Error {
    let kind = match &e {
        StoreError::Full(_) => io::ErrorKind::StorageFull,
        _ => io::ErrorKind::Other,
    };
    io::Error::new(kind, e)
}

/// A failed read as an I/O error.
fn read_error(e: PgError) -> io::Error {
    io_error(StoreError::from(e))
}

fn not_found(id: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        format!("blob `{id}` does not exist"),
    )
}

/// A time as milliseconds since the epoch (before it: negative).
fn millis(t: SystemTime) -> i64 {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
    }
}

/// Inserts chunk `$2` (data `$3`) of the unfinished blob `$1` and touches the blob: one row
/// when the blob was there to take it, none when it was not (an unfinished blob swept or reset
/// meanwhile).
const INSERT_CHUNK: &str = "WITH b AS (
         UPDATE blobs SET created_ms = eddy_now_ms() WHERE id = $1 AND NOT finished RETURNING id
     )
     INSERT INTO blob_chunks (blob, n, data) SELECT id, $2, $3 FROM b";

/// The error of a chunk that found its blob gone.
fn forgotten(id: &str) -> io::Error {
    io::Error::other(format!(
        "blob `{id}` was removed before it was finished (swept, or the store reset)"
    ))
}

/// One full chunk, written in a transaction of its own.
async fn write_chunk(shared: &Shared, id: &str, n: i32, data: Bytes) -> io::Result<()> {
    let r = async {
        let mut conn = shared.pool.get().await?;
        conn.execute(INSERT_CHUNK, &[&id, &n, &&data[..]]).await
    }
    .await;
    match shared.wrote(r).map_err(io_error)? {
        1 => Ok(()),
        _ => Err(forgotten(id)),
    }
}

/// Deletes blobs `ids` (their chunks go with them).
async fn delete(shared: &Shared, ids: &[String]) -> PgResult<u64> {
    let mut conn = shared.pool.get().await?;
    conn.execute(
        "DELETE FROM blobs WHERE id IN (
             SELECT id FROM blobs WHERE id = ANY($1) ORDER BY id FOR UPDATE
         )",
        &[&ids],
    )
    .await
}

/// A blob being written (see the module docs, "Writing").
struct PgSink {
    shared: Arc<Shared>,
    id: String,
    /// What is not yet in a chunk handed to the database.
    buf: BytesMut,
    /// The number of the next chunk.
    next: i32,
    size: u64,
    /// The insert of the last full chunk, while it runs.
    inflight: Option<JoinHandle<io::Result<()>>>,
    /// A write failed: the blob cannot be finished.
    failed: bool,
    /// Finished: the blob is the caller's now.
    done: bool,
}

impl PgSink {
    /// Waits for the chunk insert in flight, if any.
    async fn settle(&mut self) -> io::Result<()> {
        let Some(insert) = self.inflight.take() else {
            return Ok(());
        };
        let r = insert.await.map_err(io::Error::other).and_then(|r| r);
        if r.is_err() {
            self.failed = true;
        }
        r
    }

    fn check(&self) -> io::Result<()> {
        if self.failed {
            return Err(io::Error::other(format!(
                "an earlier write of blob `{}` failed",
                self.id
            )));
        }
        Ok(())
    }
}

impl BlobSink for PgSink {
    fn write(&mut self, chunk: Bytes) -> BoxFuture<'_, io::Result<()>> {
        Box::pin(async move {
            self.check()?;
            self.size += chunk.len() as u64;
            self.buf.extend_from_slice(&chunk);
            while self.buf.len() >= CHUNK {
                let full = self.buf.split_to(CHUNK).freeze();
                self.settle().await?;
                let n = self.next;
                self.next = n
                    .checked_add(1)
                    .ok_or_else(|| io::Error::other("the blob is too large"))?;
                let (shared, id) = (self.shared.clone(), self.id.clone());
                self.inflight = Some(tokio::spawn(async move {
                    write_chunk(&shared, &id, n, full).await
                }));
            }
            Ok(())
        })
    }

    fn finish(mut self: Box<Self>) -> BoxFuture<'static, io::Result<BlobRef>> {
        Box::pin(async move {
            self.check()?;
            self.settle().await?;
            let last = self.buf.split().freeze();
            let (id, n, size) = (self.id.clone(), self.next, self.size);
            let r = async {
                let mut conn = self.shared.pool.get().await?;
                let mut tx = conn.begin().await?;
                if !last.is_empty() && tx.execute(INSERT_CHUNK, &[&id, &n, &&last[..]]).await? != 1
                {
                    return Ok(false);
                }
                let marked = tx
                    .execute(
                        "UPDATE blobs SET finished = true, size = $2, created_ms = eddy_now_ms()
                         WHERE id = $1 AND NOT finished",
                        &[&id, &(size as i64)],
                    )
                    .await?;
                if marked != 1 {
                    return Ok(false);
                }
                tx.commit().await?;
                Ok(true)
            }
            .await;
            match self.shared.wrote(r) {
                Ok(true) => {
                    self.done = true;
                    Ok(BlobRef { id, size })
                }
                Ok(false) => {
                    self.failed = true;
                    Err(forgotten(&id))
                }
                Err(e) => {
                    self.failed = true;
                    Err(io_error(e))
                }
            }
        })
    }
}

impl Drop for PgSink {
    /// Unfinished, the blob is forgotten: its rows are deleted on a task (after the insert in
    /// flight), or by a later sweep if the task never runs.
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let shared = self.shared.clone();
        let id = std::mem::take(&mut self.id);
        let inflight = self.inflight.take();
        self.shared.runtime.spawn(async move {
            if let Some(insert) = inflight {
                let _settled = insert.await.is_ok();
            }
            if let Err(e) = delete(&shared, std::slice::from_ref(&id)).await {
                tracing::debug!(blob = %id, error = %e, "an unfinished blob is left to the sweep");
            }
        });
    }
}

/// A range of a blob to read.
struct Part {
    id: String,
    from: u64,
    len: u64,
    chunk: u64,
}

/// The parts of a read, their blobs looked up (see the module docs, "Reading").
async fn open(shared: &Shared, parts: Vec<(String, u64, u64)>) -> io::Result<Vec<Part>> {
    let mut ids: Vec<&str> = parts.iter().map(|(id, _, _)| id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    let rows = async {
        let mut conn = shared.pool.get().await?;
        conn.query(
            "SELECT id, size, chunk FROM blobs WHERE id = ANY($1) AND finished",
            &[&ids],
        )
        .await
    }
    .await
    .map_err(read_error)?;
    let found: std::collections::HashMap<String, (u64, u64)> = rows
        .iter()
        .map(|r| {
            let size: i64 = r.get(1);
            let chunk: i32 = r.get(2);
            (r.get(0), (size as u64, chunk as u64))
        })
        .collect();
    parts
        .into_iter()
        .map(|(id, from, len)| {
            let &(size, chunk) = found.get(&id).ok_or_else(|| not_found(&id))?;
            if from.checked_add(len).is_none_or(|end| end > size) {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("blob `{id}` holds {size} bytes: {len} from {from} is past its end"),
                ));
            }
            Ok(Part {
                id,
                from,
                len,
                chunk: chunk.max(1),
            })
        })
        .collect()
}

/// `len` bytes of blob `id` from `within` in its chunk `n`.
async fn slice(shared: &Shared, id: &str, n: u64, within: u64, len: u64) -> io::Result<Bytes> {
    let too_large = || io::Error::other("a blob range too large to read");
    let n = i32::try_from(n).map_err(|_| too_large())?;
    let start = i32::try_from(within + 1).map_err(|_| too_large())?;
    let count = i32::try_from(len).map_err(|_| too_large())?;
    let row = async {
        let mut conn = shared.pool.get().await?;
        conn.query_opt(
            "SELECT substring(data FROM $3 FOR $4) FROM blob_chunks WHERE blob = $1 AND n = $2",
            &[&id, &n, &start, &count],
        )
        .await
    }
    .await
    .map_err(read_error)?;
    let data: Vec<u8> = match row {
        Some(r) => r.get(0),
        None => Vec::new(),
    };
    if data.len() as u64 != len {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("blob `{id}` was deleted while it was read"),
        ));
    }
    Ok(Bytes::from(data))
}

/// Sends the bytes of `parts` to `tx`, slice by slice, until the reader goes away.
async fn stream(
    shared: Arc<Shared>,
    parts: Vec<Part>,
    tx: tokio::sync::mpsc::Sender<io::Result<Bytes>>,
) {
    for p in parts {
        let end = p.from + p.len;
        let mut at = p.from;
        while at < end {
            let (n, within) = (at / p.chunk, at % p.chunk);
            let len = READ.min(p.chunk - within).min(end - at);
            let r = slice(&shared, &p.id, n, within, len).await;
            let failed = r.is_err();
            if tx.send(r).await.is_err() || failed {
                return;
            }
            at += len;
        }
    }
}

/// A copy of the finished blob `id`.
async fn copy(shared: &Shared, id: &str) -> PgResult<Option<BlobRef>> {
    let new = new_id();
    let mut conn = shared.pool.get().await?;
    let mut tx = conn.begin().await?;
    let Some(row) = tx
        .query_opt(
            "SELECT size FROM blobs WHERE id = $1 AND finished FOR SHARE",
            &[&id],
        )
        .await?
    else {
        return Ok(None);
    };
    let size: i64 = row.get(0);
    tx.execute(
        "INSERT INTO blobs (id, size, chunk, finished, created_ms)
         SELECT $2, size, chunk, true, eddy_now_ms() FROM blobs WHERE id = $1",
        &[&id, &new],
    )
    .await?;
    tx.execute(
        "INSERT INTO blob_chunks (blob, n, data) SELECT $2, n, data FROM blob_chunks
         WHERE blob = $1",
        &[&id, &new],
    )
    .await?;
    tx.commit().await?;
    Ok(Some(BlobRef {
        id: new,
        size: size as u64,
    }))
}

/// Forgets unfinished blobs that last changed before `before_ms`; answers the finished ones
/// created before it.
async fn sweep(shared: &Shared, before_ms: i64) -> PgResult<Vec<String>> {
    let mut conn = shared.pool.get().await?;
    conn.execute(
        "DELETE FROM blobs WHERE id IN (
             SELECT id FROM blobs WHERE NOT finished AND created_ms < $1 ORDER BY id FOR UPDATE
         )",
        &[&before_ms],
    )
    .await?;
    let rows = conn
        .query(
            "SELECT id FROM blobs WHERE finished AND created_ms < $1",
            &[&before_ms],
        )
        .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

impl BlobStore for PgBlobs {
    fn create(&self) -> BoxFuture<'_, io::Result<Box<dyn BlobSink>>> {
        Box::pin(async move {
            let id = new_id();
            let r = async {
                let mut conn = self.shared.pool.get().await?;
                conn.execute(
                    "INSERT INTO blobs (id, size, chunk, finished, created_ms)
                     VALUES ($1, 0, $2, false, eddy_now_ms())",
                    &[&id, &(CHUNK as i32)],
                )
                .await
            }
            .await;
            self.shared.wrote(r).map_err(io_error)?;
            Ok(Box::new(PgSink {
                shared: self.shared.clone(),
                id,
                buf: BytesMut::with_capacity(CHUNK),
                next: 0,
                size: 0,
                inflight: None,
                failed: false,
                done: false,
            }) as Box<dyn BlobSink>)
        })
    }

    fn read(&self, parts: Vec<(String, u64, u64)>) -> BoxFuture<'_, io::Result<BlobStream>> {
        Box::pin(async move {
            let parts = open(&self.shared, parts).await?;
            let (tx, rx) = tokio::sync::mpsc::channel(READ_AHEAD);
            tokio::spawn(stream(self.shared.clone(), parts, tx));
            Ok(receiver_stream(rx))
        })
    }

    fn copy(&self, id: String) -> BoxFuture<'_, io::Result<BlobRef>> {
        Box::pin(async move {
            let r = copy(&self.shared, &id).await;
            self.shared
                .wrote(r)
                .map_err(io_error)?
                .ok_or_else(|| not_found(&id))
        })
    }

    fn delete(&self, ids: Vec<String>) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            if ids.is_empty() {
                return;
            }
            let r = delete(&self.shared, &ids).await;
            if let Err(e) = self.shared.wrote(r) {
                tracing::warn!(blobs = ids.len(), error = %e, "freed blobs could not be deleted");
            }
        })
    }

    fn sweep(&self, before: SystemTime) -> BoxFuture<'_, io::Result<Vec<String>>> {
        Box::pin(async move {
            let r = sweep(&self.shared, millis(before)).await;
            self.shared.wrote(r).map_err(io_error)
        })
    }
}
