//! Object data in and out: a request body streamed into a blob (or kept inline when small),
//! hashed on the way, and a blob range streamed back out, through the store's
//! [`BlobStore`]. Memory stays bounded by a few chunks whatever the object's size.

use std::pin::Pin;

use bytes::{Bytes, BytesMut};
use eddy_store::{BlobRef, BlobStore};
use futures_util::{Stream, StreamExt};

use super::BucketError;
use super::checksums::{Digests, Hashes};

/// A body: chunks of bytes, or why the client's upload broke off.
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, std::io::Error>> + Send + Sync>>;

/// Objects up to this size are kept in the object index itself rather than in a blob.
pub const INLINE_MAX: usize = 64 * 1024;

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
    pub async fn discard(self, blobs: &dyn BlobStore) {
        if let Written::Blob(b) = self {
            blobs.delete(vec![b.id]).await;
        }
    }
}

/// Reads `body` to its end into a blob (or inline, when it is at most [`INLINE_MAX`] and
/// `inline` allows it), hashing it with `hashes`. Refuses bodies over `max` bytes; a refused or
/// broken body leaves no blob.
pub async fn write(
    blobs: &dyn BlobStore,
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
    let mut sink = blobs.create().await.map_err(BucketError::io)?;
    let mut pending = Some(head.freeze()).filter(|h| !h.is_empty());
    let mut next = Some(first_over);
    loop {
        let chunk = match (pending.take(), next.take()) {
            (Some(h), n) => {
                next = n;
                h
            }
            (None, Some(c)) => c,
            (None, None) => match body.next().await {
                None => break,
                Some(Err(e)) => return Err(BucketError::Body(e.to_string())),
                Some(Ok(c)) => {
                    total += c.len() as u64;
                    if total > max {
                        return Err(BucketError::TooLarge);
                    }
                    c
                }
            },
        };
        hashes.update(&chunk);
        sink.write(chunk).await.map_err(BucketError::io)?;
    }
    let blob = sink.finish().await.map_err(BucketError::io)?;
    Ok((Written::Blob(blob), hashes.finish()))
}

/// The bytes `[start, end)` of an object stored as `inline` data or `blobs`, streamed. The
/// blobs are opened before this returns (so a missing one is an error now, not a broken body
/// later).
pub async fn read(
    blobs: &dyn BlobStore,
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
    blobs.read(plan).await.map_err(BucketError::io)
}
