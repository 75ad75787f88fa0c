//! Object data in and out: a request body streamed into a blob (or kept inline when small),
//! hashed on the way, and a blob range streamed back out. Memory stays bounded by a few chunks
//! whatever the object's size; file I/O runs on blocking threads, off the async workers.

use std::io::{Read, Seek, SeekFrom};
use std::pin::Pin;

use bytes::{Bytes, BytesMut};
use eddy_store::{BlobRef, Blobs};
use futures_util::{Stream, StreamExt};

use super::BucketError;
use super::checksums::{Digests, Hashes};

/// A body: chunks of bytes, or why the client's upload broke off.
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, std::io::Error>> + Send + Sync>>;

/// Objects up to this size are kept in the object index itself rather than in a blob.
pub const INLINE_MAX: usize = 64 * 1024;

/// Chunks handed to the writer thread at most at once (memory bound: this many request frames).
const QUEUE: usize = 16;

/// Where written data went.
pub enum Written {
    Inline(Vec<u8>),
    Blob(BlobRef),
}

impl Written {
    pub fn blobs(&self) -> Vec<BlobRef> {
        match self {
            Written::Inline(_) => Vec::new(),
            Written::Blob(b) => vec![b.clone()],
        }
    }

    pub fn inline(&self) -> Option<Vec<u8>> {
        match self {
            Written::Inline(d) => Some(d.clone()),
            Written::Blob(_) => None,
        }
    }

    /// Deletes the blob written (the write was refused after all).
    pub fn discard(self, blobs: &Blobs) {
        if let Written::Blob(b) = self {
            blobs.delete(&[b.id]);
        }
    }
}

/// Reads `body` to its end into a blob (or inline, when it is at most [`INLINE_MAX`] and
/// `inline` allows it), hashing it with `hashes`. Refuses bodies over `max` bytes.
pub async fn write(
    blobs: &Blobs,
    mut body: ByteStream,
    mut hashes: Hashes,
    max: u64,
    inline: bool,
) -> Result<(Written, Digests), BucketError> {
    let mut head = BytesMut::new();
    let mut total: u64 = 0;
    let limit = if inline { INLINE_MAX } else { 0 };
    // Small bodies stay in memory.
    let first_over = loop {
        match body.next().await {
            None => {
                hashes.update(&head);
                let digests = hashes.finish();
                return Ok((Written::Inline(head.to_vec()), digests));
            }
            Some(Err(e)) => return Err(BucketError::Body(e.to_string())),
            Some(Ok(chunk)) => {
                total += chunk.len() as u64;
                if total > max {
                    return Err(BucketError::TooLarge);
                }
                if head.len() + chunk.len() > limit {
                    break chunk;
                }
                head.extend_from_slice(&chunk);
            }
        }
    };
    let mut writer = blobs.writer().map_err(BucketError::io)?;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Bytes>(QUEUE);
    let thread = tokio::task::spawn_blocking(move || {
        while let Some(chunk) = rx.blocking_recv() {
            hashes.update(&chunk);
            writer.write(&chunk)?;
        }
        let digests = hashes.finish();
        Ok::<_, std::io::Error>((writer, digests))
    });
    let mut failed = None;
    let send = |chunk: Bytes| {
        let tx = tx.clone();
        async move { tx.send(chunk).await.is_ok() }
    };
    if (!head.is_empty() && !send(head.freeze()).await) || !send(first_over).await {
        failed = Some(BucketError::Internal("the blob writer stopped".into()));
    }
    while failed.is_none() {
        match body.next().await {
            None => break,
            Some(Err(e)) => failed = Some(BucketError::Body(e.to_string())),
            Some(Ok(chunk)) => {
                total += chunk.len() as u64;
                if total > max {
                    failed = Some(BucketError::TooLarge);
                } else if !send(chunk).await {
                    failed = Some(BucketError::Internal("the blob writer stopped".into()));
                }
            }
        }
    }
    drop(tx);
    let joined = thread
        .await
        .map_err(|e| BucketError::Internal(e.to_string()))?;
    if let Some(e) = failed {
        // The writer is dropped with its unfinished file.
        return Err(e);
    }
    let (writer, digests) = joined.map_err(BucketError::io)?;
    let blob = tokio::task::spawn_blocking(move || writer.finish())
        .await
        .map_err(|e| BucketError::Internal(e.to_string()))?
        .map_err(BucketError::io)?;
    Ok((Written::Blob(blob), digests))
}

/// The bytes `[start, end)` of an object stored as `inline` data or `blobs`, streamed. The
/// blob files are opened before this returns (so a missing one is an error now, not a broken
/// body later).
pub async fn read(
    blobs: &Blobs,
    inline: Option<Vec<u8>>,
    parts: Vec<BlobRef>,
    start: u64,
    end: u64,
) -> Result<ByteStream, BucketError> {
    if let Some(data) = inline {
        let data = Bytes::from(data);
        let (s, e) = (
            (start as usize).min(data.len()),
            (end as usize).min(data.len()),
        );
        let chunk = data.slice(s..e.max(s));
        return Ok(Box::pin(futures_util::stream::iter([Ok(chunk)])));
    }
    // Which blobs, from where, how much.
    let mut plan = Vec::new();
    let mut offset = 0u64;
    for b in parts {
        let (b_start, b_end) = (offset, offset + b.size);
        offset = b_end;
        if b_end <= start || b_start >= end {
            continue;
        }
        let from = start.saturating_sub(b_start);
        let to = end.min(b_end) - b_start;
        plan.push((b.id, from, to - from));
    }
    let dir = blobs.clone();
    let files = tokio::task::spawn_blocking(move || {
        plan.into_iter()
            .map(|(id, from, len)| {
                let mut f = dir.open_blob(&id)?;
                f.seek(SeekFrom::Start(from))?;
                Ok((f, len))
            })
            .collect::<std::io::Result<Vec<_>>>()
    })
    .await
    .map_err(|e| BucketError::Internal(e.to_string()))?
    .map_err(BucketError::io)?;
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(4);
    tokio::task::spawn_blocking(move || {
        const CHUNK: usize = 1024 * 1024;
        for (mut f, mut left) in files {
            while left > 0 {
                let n = (left as usize).min(CHUNK);
                let mut buf = vec![0u8; n];
                let r = f.read_exact(&mut buf).map(|()| Bytes::from(buf));
                let failed = r.is_err();
                if tx.blocking_send(r).is_err() || failed {
                    return;
                }
                left -= n as u64;
            }
        }
    });
    Ok(Box::pin(futures_util::stream::unfold(rx, |mut rx| async {
        rx.recv().await.map(|item| (item, rx))
    })))
}

/// Copies `[start, end)` of an object into a new blob (UploadPartCopy), hashing it.
pub async fn copy_range(
    blobs: &Blobs,
    inline: Option<Vec<u8>>,
    parts: Vec<BlobRef>,
    start: u64,
    end: u64,
    hashes: Hashes,
) -> Result<(Written, Digests), BucketError> {
    let body = read(blobs, inline, parts, start, end).await?;
    write(blobs, body, hashes, u64::MAX, false).await
}
