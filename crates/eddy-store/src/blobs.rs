//! Blobs: the immutable byte strings that hold object data, behind [`BlobStore`]. Every store
//! has one ([`crate::Store::blob_store`]): the embedded store keeps blobs as files in a directory
//! of their own (`objects/` in the data directory, [`Blobs`]); the PostgreSQL store keeps them in
//! its database, so every node reads every object.
//!
//! The contract, whatever keeps them: a blob is written in full ([`BlobSink::finish`]) and is
//! durable before its id is answered; it never changes afterwards; nothing but the writer sees
//! it before then; [`BlobStore::delete`] of a missing blob is fine (deletes are repeated after
//! crashes); [`BlobStore::sweep`] answers the finished blobs older than a time (the candidates
//! for orphans) and forgets unfinished ones older than that time.
//!
//! # The file system
//!
//! A blob is written to `tmp/` under a fresh id, synced, then renamed to `blobs/XX/ID` and its
//! directory synced ([`BlobWriter::finish`]): a blob that exists under `blobs/` is whole and
//! durable. Only then does its writer record it in the object index
//! ([`crate::objects::ObjectStore`]), and only after the index no longer names it is it deleted
//! ([`Blobs::delete`]). A crash between the steps leaves files nothing names: `tmp/` files and
//! unrecorded blobs, which [`Blobs::sweep`] finds and the caller deletes once the index confirms
//! nobody refers to them. Blobs are never changed in place, so a reader holding one open reads
//! the whole of what was written, even while it is deleted.
//!
//! Files and directories are private to the user running eddy (0600 and 0700).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::time::SystemTime;

use bytes::Bytes;
use futures_core::Stream;

use crate::BoxFuture;
use crate::objects::BlobRef;

/// A blob's bytes, streamed.
pub type BlobStream = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send + Sync>>;

/// Where blobs are kept (see the module docs).
pub trait BlobStore: Send + Sync + 'static {
    /// Starts a new blob.
    fn create(&self) -> BoxFuture<'_, io::Result<Box<dyn BlobSink>>>;

    /// The bytes of `parts`, in order: `(blob id, offset, length)` each. Every blob is opened
    /// before this answers (a missing one fails now, not in the middle of the stream).
    fn read(&self, parts: Vec<(String, u64, u64)>) -> BoxFuture<'_, io::Result<BlobStream>>;

    /// A new blob with the bytes of blob `id`.
    fn copy(&self, id: String) -> BoxFuture<'_, io::Result<BlobRef>>;

    /// Deletes blobs; missing ones are fine.
    fn delete(&self, ids: Vec<String>) -> BoxFuture<'_, ()>;

    /// Forgets unfinished blobs started before `before`, and answers the finished blobs made
    /// before `before`: the candidates a caller deletes once it knows nothing refers to them.
    fn sweep(&self, before: SystemTime) -> BoxFuture<'_, io::Result<Vec<String>>>;
}

/// A blob being written. Dropped unfinished, the blob is forgotten.
pub trait BlobSink: Send {
    /// Appends bytes.
    fn write(&mut self, chunk: Bytes) -> BoxFuture<'_, io::Result<()>>;

    /// Makes the blob durable and answers its id and size.
    fn finish(self: Box<Self>) -> BoxFuture<'static, io::Result<BlobRef>>;
}

/// A blob directory: the file system's [`BlobStore`].
#[derive(Debug, Clone)]
pub struct Blobs {
    root: PathBuf,
    /// Bytes all reads together may hold in memory (see [`READ_BUDGET`]).
    reading: std::sync::Arc<tokio::sync::Semaphore>,
}

impl Blobs {
    /// Opens (creating) the blob directory `root`.
    pub fn open(root: impl Into<PathBuf>) -> io::Result<Self> {
        let root = root.into();
        for dir in [root.clone(), root.join("tmp"), root.join("blobs")] {
            mkdir(&dir)?;
        }
        Ok(Self {
            root,
            reading: std::sync::Arc::new(tokio::sync::Semaphore::new(READ_BUDGET)),
        })
    }

    /// Where the blob directory is.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A new blob to write.
    pub fn writer(&self) -> io::Result<BlobWriter> {
        let id = new_id();
        let tmp = self.root.join("tmp").join(&id);
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        Ok(BlobWriter {
            file: Some(file),
            id,
            tmp,
            size: 0,
            dir: self.clone(),
        })
    }

    /// The file of blob `id`; `None` for an id that cannot be a blob's (so that no id read from
    /// anywhere names a file outside the directory).
    pub fn path(&self, id: &str) -> Option<PathBuf> {
        valid_id(id).then(|| self.root.join("blobs").join(&id[..2]).join(id))
    }

    /// Opens blob `id` for reading.
    pub fn open_blob(&self, id: &str) -> io::Result<File> {
        let path = self
            .path(id)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "not a blob id"))?;
        File::open(path)
    }

    /// A new blob with the content of blob `id` (a hard link: blobs never change, so sharing
    /// the file is a copy).
    pub fn copy(&self, id: &str) -> io::Result<BlobRef> {
        let from = self
            .path(id)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "not a blob id"))?;
        let size = fs::metadata(&from)?.len();
        let new = new_id();
        let to = self.path(&new).expect("fresh ids are valid");
        let dir = to.parent().expect("blobs have a directory");
        mkdir(dir)?;
        fs::hard_link(&from, &to)?;
        File::open(dir)?.sync_all()?;
        Ok(BlobRef { id: new, size })
    }

    /// Deletes blobs (missing ones are fine: a delete may be repeated after a crash).
    pub fn delete(&self, ids: &[String]) {
        for id in ids {
            if let Some(path) = self.path(id)
                && let Err(e) = fs::remove_file(&path)
                && e.kind() != io::ErrorKind::NotFound
            {
                tracing::warn!(blob = %id, error = %e, "a freed blob could not be deleted");
            }
        }
    }

    /// Deletes unfinished blobs in `tmp/` last changed before `before`, and answers the ids of
    /// finished blobs last changed before `before`: the candidates to delete once the object
    /// index says nothing refers to them. `before` must leave time for a writer to record a
    /// blob it just finished (a process that just started, alone on its data directory, may
    /// pass its own start time).
    pub fn sweep(&self, before: SystemTime) -> io::Result<Vec<String>> {
        for entry in fs::read_dir(self.root.join("tmp"))? {
            let entry = entry?;
            if older(&entry, before) {
                let _gone = fs::remove_file(entry.path()).is_ok();
            }
        }
        let mut found = Vec::new();
        for shard in fs::read_dir(self.root.join("blobs"))? {
            let shard = shard?;
            if !shard.file_type()?.is_dir() {
                continue;
            }
            for entry in fs::read_dir(shard.path())? {
                let entry = entry?;
                if let Some(name) = entry.file_name().to_str()
                    && valid_id(name)
                    && older(&entry, before)
                {
                    found.push(name.to_owned());
                }
            }
        }
        Ok(found)
    }
}

/// Chunks handed to a file sink's writer thread at most at once.
const QUEUE: usize = 16;
/// How much a file read hands over at once.
const READ_CHUNK: usize = 4 * 1024 * 1024;
/// Bytes every read of a blob directory together may hold in memory: a chunk is read only with
/// its share of this, given back when the chunk is sent and dropped, so a thousand slow
/// downloads wait for each other instead of filling memory.
const READ_BUDGET: usize = 256 * 1024 * 1024;

/// A chunk read, holding its share of the read budget until it is dropped.
struct Held {
    data: Vec<u8>,
    _share: tokio::sync::OwnedSemaphorePermit,
}

impl AsRef<[u8]> for Held {
    fn as_ref(&self) -> &[u8] {
        &self.data
    }
}

fn joined<T>(r: std::result::Result<io::Result<T>, tokio::task::JoinError>) -> io::Result<T> {
    r.map_err(io::Error::other)?
}

impl BlobStore for Blobs {
    fn create(&self) -> BoxFuture<'_, io::Result<Box<dyn BlobSink>>> {
        let dir = self.clone();
        Box::pin(async move {
            let mut writer = joined(tokio::task::spawn_blocking(move || dir.writer()).await)?;
            let (tx, mut rx) = tokio::sync::mpsc::channel::<Bytes>(QUEUE);
            // One thread writes the file, off the async workers.
            let thread = tokio::task::spawn_blocking(move || {
                while let Some(chunk) = rx.blocking_recv() {
                    writer.write(&chunk)?;
                }
                Ok(writer)
            });
            Ok(Box::new(FileSink {
                tx: Some(tx),
                thread: Some(thread),
            }) as Box<dyn BlobSink>)
        })
    }

    fn read(&self, parts: Vec<(String, u64, u64)>) -> BoxFuture<'_, io::Result<BlobStream>> {
        let dir = self.clone();
        Box::pin(async move {
            let files = joined(
                tokio::task::spawn_blocking(move || {
                    parts
                        .into_iter()
                        .map(|(id, from, len)| {
                            let mut f = dir.open_blob(&id)?;
                            f.seek(SeekFrom::Start(from))?;
                            Ok((f, len))
                        })
                        .collect::<io::Result<Vec<_>>>()
                })
                .await,
            )?;
            let (tx, rx) = tokio::sync::mpsc::channel::<io::Result<Bytes>>(1);
            let (runtime, budget) = (tokio::runtime::Handle::current(), self.reading.clone());
            tokio::task::spawn_blocking(move || {
                for (mut f, mut left) in files {
                    while left > 0 {
                        let n = (left as usize).min(READ_CHUNK);
                        let Ok(share) =
                            runtime.block_on(budget.clone().acquire_many_owned(n as u32))
                        else {
                            return;
                        };
                        // Read into fresh capacity: `read_to_end` fills it from the file
                        // without zeroing it first.
                        let mut buf = Vec::with_capacity(n);
                        let r = match (&mut f).take(n as u64).read_to_end(&mut buf) {
                            Ok(got) if got == n => Ok(Bytes::from_owner(Held {
                                data: buf,
                                _share: share,
                            })),
                            Ok(_) => Err(io::Error::new(
                                io::ErrorKind::UnexpectedEof,
                                "the blob is shorter than its object says",
                            )),
                            Err(e) => Err(e),
                        };
                        let failed = r.is_err();
                        if tx.blocking_send(r).is_err() || failed {
                            return;
                        }
                        left -= n as u64;
                    }
                }
            });
            Ok(receiver_stream(rx))
        })
    }

    fn copy(&self, id: String) -> BoxFuture<'_, io::Result<BlobRef>> {
        let dir = self.clone();
        Box::pin(async move { joined(tokio::task::spawn_blocking(move || dir.copy(&id)).await) })
    }

    fn delete(&self, ids: Vec<String>) -> BoxFuture<'_, ()> {
        let dir = self.clone();
        Box::pin(async move {
            let _done = tokio::task::spawn_blocking(move || dir.delete(&ids))
                .await
                .is_ok();
        })
    }

    fn sweep(&self, before: SystemTime) -> BoxFuture<'_, io::Result<Vec<String>>> {
        let dir = self.clone();
        Box::pin(
            async move { joined(tokio::task::spawn_blocking(move || dir.sweep(before)).await) },
        )
    }
}

/// A stream of what a channel receives.
pub(crate) fn receiver_stream<T: Send + Sync + 'static>(
    rx: tokio::sync::mpsc::Receiver<io::Result<T>>,
) -> Pin<Box<dyn Stream<Item = io::Result<T>> + Send + Sync>> {
    struct Rx<T>(tokio::sync::mpsc::Receiver<io::Result<T>>);
    impl<T> Stream for Rx<T> {
        type Item = io::Result<T>;
        fn poll_next(
            mut self: Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Self::Item>> {
            self.0.poll_recv(cx)
        }
    }
    Box::pin(Rx(rx))
}

/// A file blob being written by its thread.
struct FileSink {
    tx: Option<tokio::sync::mpsc::Sender<Bytes>>,
    thread: Option<tokio::task::JoinHandle<io::Result<BlobWriter>>>,
}

impl BlobSink for FileSink {
    fn write(&mut self, chunk: Bytes) -> BoxFuture<'_, io::Result<()>> {
        Box::pin(async move {
            let sent = match &self.tx {
                Some(tx) => tx.send(chunk).await.is_ok(),
                None => false,
            };
            if sent {
                return Ok(());
            }
            // The thread stopped: its error says why.
            self.tx = None;
            match self.thread.take() {
                Some(t) => match joined(t.await) {
                    Err(e) => Err(e),
                    Ok(_) => Err(io::Error::other("the blob writer stopped")),
                },
                None => Err(io::Error::other("the blob writer stopped")),
            }
        })
    }

    fn finish(mut self: Box<Self>) -> BoxFuture<'static, io::Result<BlobRef>> {
        let tx = self.tx.take();
        let thread = self.thread.take();
        Box::pin(async move {
            drop(tx);
            let thread = thread.ok_or_else(|| io::Error::other("the blob writer stopped"))?;
            let writer = joined(thread.await)?;
            joined(tokio::task::spawn_blocking(move || writer.finish()).await)
        })
    }
}

/// A blob file being written; nothing of it is visible until [`BlobWriter::finish`]. Dropped
/// unfinished, it deletes its file.
pub struct BlobWriter {
    file: Option<File>,
    id: String,
    tmp: PathBuf,
    size: u64,
    dir: Blobs,
}

impl BlobWriter {
    /// Appends bytes.
    pub fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        let file = self.file.as_mut().expect("the file is open until finished");
        file.write_all(bytes)?;
        self.size += bytes.len() as u64;
        Ok(())
    }

    /// Bytes written so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Syncs the blob and moves it into place: from now on it exists, whole, across crashes.
    pub fn finish(mut self) -> io::Result<BlobRef> {
        let file = self.file.take().expect("finished once");
        file.sync_all()?;
        drop(file);
        let to = self.dir.path(&self.id).expect("fresh ids are valid");
        let dir = to.parent().expect("blobs have a directory");
        mkdir(dir)?;
        fs::rename(&self.tmp, &to)?;
        File::open(dir)?.sync_all()?;
        Ok(BlobRef {
            id: std::mem::take(&mut self.id),
            size: self.size,
        })
    }
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        if !self.id.is_empty() {
            self.file = None;
            let _gone = fs::remove_file(&self.tmp).is_ok();
        }
    }
}

fn mkdir(dir: &Path) -> io::Result<()> {
    match fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

fn older(entry: &fs::DirEntry, before: SystemTime) -> bool {
    entry
        .metadata()
        .and_then(|m| m.modified())
        .is_ok_and(|t| t < before)
}

/// 32 lowercase hex digits.
pub(crate) fn new_id() -> String {
    let a: u128 = rand_u128();
    format!("{a:032x}")
}

fn valid_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Unpredictable enough for file names (they are never secrets): the clock, the process and a
/// counter, mixed.
fn rand_u128() -> u128 {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let mut h1 = RandomState::new().build_hasher();
    h1.write_u64(n);
    h1.write_u128(nanos);
    let mut h2 = RandomState::new().build_hasher();
    h2.write_u64(n ^ 0x9e37_79b9_7f4a_7c15);
    h2.write_u32(std::process::id());
    (u128::from(h1.finish()) << 64) | u128::from(h2.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_blob_is_visible_only_when_finished_and_a_dropped_one_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = Blobs::open(dir.path().join("objects")).unwrap();
        let mut w = blobs.writer().unwrap();
        w.write(b"hello ").unwrap();
        w.write(b"world").unwrap();
        let b = w.finish().unwrap();
        assert_eq!(b.size, 11);
        assert_eq!(
            fs::read(blobs.path(&b.id).unwrap()).unwrap(),
            b"hello world"
        );
        let mut dropped = blobs.writer().unwrap();
        dropped.write(b"partial").unwrap();
        drop(dropped);
        assert_eq!(
            fs::read_dir(dir.path().join("objects/tmp"))
                .unwrap()
                .count(),
            0
        );
        let c = blobs.copy(&b.id).unwrap();
        blobs.delete(std::slice::from_ref(&b.id));
        assert_eq!(
            fs::read(blobs.path(&c.id).unwrap()).unwrap(),
            b"hello world"
        );
        let later = SystemTime::now() + std::time::Duration::from_secs(1);
        assert_eq!(blobs.sweep(later).unwrap(), vec![c.id.clone()]);
        blobs.delete(&[c.id]);
        assert!(blobs.sweep(later).unwrap().is_empty());
    }

    #[test]
    fn ids_that_are_not_blob_ids_name_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = Blobs::open(dir.path()).unwrap();
        for id in [
            "../../etc/passwd",
            "",
            "AB",
            &"g".repeat(32),
            &"a".repeat(33),
        ] {
            assert!(blobs.path(id).is_none(), "{id}");
        }
        assert!(blobs.path(&"a".repeat(32)).is_some());
    }
}
