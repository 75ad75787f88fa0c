//! [`BlobStore`]: the object data every store keeps ([`Store::blob_store`]), checked through
//! the trait alone. A blob written in many small pieces reads back whole and by any range
//! (across the backend's chunk boundaries, whatever they are: ranges start and end at odd
//! offsets around each MiB); only a finished blob exists; a copy is a blob of its own; deletes
//! of missing blobs are fine; a missing blob fails a read before any byte is streamed; sweeps
//! forget unfinished blobs and answer finished ones made before a time.
//!
//! Blobs are timed on the wall clock ([`BlobStore::sweep`] takes a [`SystemTime`]), not on the
//! store's clock: the sweep check waits a tenth of a second on each side of the time it sweeps
//! by, and assumes a database server's clock is within that of the machine running the checks.
//!
//! [`Store::blob_store`]: eddy_store::Store::blob_store

use std::io;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use eddy_store::{BlobRef, BlobStore};

use crate::{Backend, Harness};

/// A mebibyte.
pub const MIB: u64 = 1024 * 1024;

/// `len` bytes that differ from one offset to the next and from one `seed` to another (so a
/// byte read from the wrong place, or the wrong blob, shows).
pub fn pattern(seed: u64, len: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            // xorshift64
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// The sizes of the pieces blobs are written in, in turn: small and odd, as request bodies
/// arrive.
const PIECES: &[usize] = &[1, 7, 4096, 65_537, 1000, 8191, 30_011];

/// The pieces of `data`, in turn.
fn pieces(data: &[u8]) -> impl Iterator<Item = Bytes> + '_ {
    let mut at = 0;
    PIECES.iter().cycle().map_while(move |&n| {
        (at < data.len()).then(|| {
            let end = (at + n).min(data.len());
            let piece = Bytes::copy_from_slice(&data[at..end]);
            at = end;
            piece
        })
    })
}

/// Writes `data` as one blob, in small pieces.
pub async fn write(blobs: &dyn BlobStore, data: &[u8]) -> BlobRef {
    let mut sink = blobs.create().await.expect("create a blob");
    for piece in pieces(data) {
        sink.write(piece).await.expect("write a blob");
    }
    let blob = sink.finish().await.expect("finish a blob");
    assert_eq!(blob.size, data.len() as u64, "the size of a finished blob");
    blob
}

/// Reads `parts` to the end: all their bytes, or the first error (when the read was asked for,
/// or in the stream).
pub async fn read(blobs: &dyn BlobStore, parts: &[(&str, u64, u64)]) -> io::Result<Vec<u8>> {
    let parts = parts
        .iter()
        .map(|&(id, from, len)| (id.to_owned(), from, len))
        .collect();
    let mut stream = blobs.read(parts).await?;
    let mut all = Vec::new();
    while let Some(chunk) = std::future::poll_fn(|cx| stream.as_mut().poll_next(cx)).await {
        all.extend_from_slice(&chunk?);
    }
    Ok(all)
}

/// The bytes `[from, from + len)` of `data`.
fn range(data: &[u8], from: u64, len: u64) -> &[u8] {
    &data[from as usize..(from + len) as usize]
}

/// Far enough ahead that every blob made so far is older.
fn later() -> SystemTime {
    SystemTime::now() + Duration::from_secs(3600)
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

/// A blob of 3 MiB and 17 bytes written in small pieces, interleaved with another, reads back
/// whole and by ranges at odd offsets across MiB boundaries, alone and several in one read;
/// a read past a blob's end fails rather than answering short; an empty blob reads empty.
pub async fn a_blob_reads_back_whole_and_by_ranges<B: Backend>() {
    let h = Harness::<B>::open().await;
    let blobs = h.store().blob_store();
    let size = 3 * MIB + 17;
    let data = pattern(1, size);
    let other = pattern(2, 300_000);
    // Written at once, piece by piece: neither sees the other's bytes.
    let mut a = blobs.create().await.expect("create");
    let mut b = blobs.create().await.expect("create");
    let mut other_pieces = pieces(&other);
    for piece in pieces(&data) {
        a.write(piece).await.expect("write");
        if let Some(p) = other_pieces.next() {
            b.write(p).await.expect("write");
        }
    }
    for p in other_pieces {
        b.write(p).await.expect("write");
    }
    let a = a.finish().await.expect("finish");
    let b = b.finish().await.expect("finish");
    assert_eq!((a.size, b.size), (size, other.len() as u64));
    assert_ne!(a.id, b.id);
    for id in [&a.id, &b.id] {
        assert!(
            id.len() == 32 && id.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')),
            "a blob id is 32 lowercase hex digits: {id}"
        );
    }
    let whole = read(&*blobs, &[(&a.id, 0, size)]).await.expect("read");
    assert!(whole == data, "the whole blob reads back as written");
    assert!(read(&*blobs, &[(&b.id, 0, b.size)]).await.expect("read") == other);
    for (from, len) in [
        (0, 1),
        (0, 0),
        (MIB - 3, 7),
        (MIB, MIB),
        (MIB - 1, 2 * MIB + 2),
        (12_345, 2 * MIB + 999),
        (2 * MIB + 1, MIB),
        (3 * MIB - 5, 22),
        (size - 17, 17),
        (size - 1, 1),
    ] {
        let got = read(&*blobs, &[(&a.id, from, len)]).await.expect("read");
        assert!(got == range(&data, from, len), "{len} bytes from {from}");
    }
    let parts = [
        (a.id.as_str(), MIB - 1, 5),
        (b.id.as_str(), 299_990, 10),
        (b.id.as_str(), 5, 0),
        (a.id.as_str(), 2 * MIB + 7, MIB + 10),
        (a.id.as_str(), 3, 4),
    ];
    let mut expected = Vec::new();
    for (id, from, len) in parts {
        let bytes = if id == a.id { &data } else { &other };
        expected.extend_from_slice(range(bytes, from, len));
    }
    assert!(read(&*blobs, &parts).await.expect("read parts") == expected);
    for (from, len) in [(size - 1, 2), (size, 1), (0, size + 1)] {
        assert!(
            read(&*blobs, &[(&a.id, from, len)]).await.is_err(),
            "{len} bytes from {from} of {size} must fail, not answer short"
        );
    }
    let empty = write(&*blobs, &[]).await;
    assert_eq!(empty.size, 0);
    assert!(
        read(&*blobs, &[(&empty.id, 0, 0)])
            .await
            .expect("read")
            .is_empty()
    );
}

/// A sink dropped before it finished leaves no blob: the sweep answers only the finished blob,
/// before and after a restart.
pub async fn a_dropped_sink_leaves_nothing_and_is_swept<B: Backend>() {
    let mut h = Harness::<B>::open().await;
    let blobs = h.store().blob_store();
    let kept = write(&*blobs, &pattern(3, 1000)).await;
    let data = pattern(4, 2 * MIB + 5);
    let mut dropped = blobs.create().await.expect("create");
    for piece in pieces(&data) {
        dropped.write(piece).await.expect("write");
    }
    drop(dropped);
    drop(blobs.create().await.expect("create"));
    assert_eq!(
        blobs.sweep(later()).await.expect("sweep"),
        vec![kept.id.clone()]
    );
    drop(blobs);
    h.restart().await;
    let blobs = h.store().blob_store();
    assert_eq!(blobs.sweep(later()).await.expect("sweep"), vec![kept.id]);
}

/// A copy is a blob of its own, with the same bytes: it outlives its source. A copy of a
/// missing blob fails.
pub async fn a_copy_is_a_blob_of_its_own<B: Backend>() {
    let h = Harness::<B>::open().await;
    let blobs = h.store().blob_store();
    let data = pattern(5, MIB + 100);
    let a = write(&*blobs, &data).await;
    let c = blobs.copy(a.id.clone()).await.expect("copy");
    assert_eq!(c.size, a.size);
    assert_ne!(c.id, a.id);
    blobs.delete(vec![a.id.clone()]).await;
    assert!(read(&*blobs, &[(&a.id, 0, 1)]).await.is_err());
    assert!(read(&*blobs, &[(&c.id, 0, c.size)]).await.expect("read") == data);
    assert!(
        read(&*blobs, &[(&c.id, MIB - 2, 50)]).await.expect("read") == range(&data, MIB - 2, 50)
    );
    assert!(
        blobs.copy(a.id.clone()).await.is_err(),
        "a copy of a deleted blob"
    );
    assert!(
        blobs.copy("0".repeat(32)).await.is_err(),
        "a copy of a missing blob"
    );
    assert_eq!(blobs.sweep(later()).await.expect("sweep"), vec![c.id]);
}

/// Deleted blobs cannot be read; deleting missing blobs, ids that name no blob, the same blob
/// twice or nothing at all is fine; the other blobs stay.
pub async fn delete_removes_blobs_and_missing_ones_are_fine<B: Backend>() {
    let h = Harness::<B>::open().await;
    let blobs = h.store().blob_store();
    let a = write(&*blobs, &pattern(6, 5000)).await;
    let b_data = pattern(7, 5000);
    let b = write(&*blobs, &b_data).await;
    blobs
        .delete(vec![
            a.id.clone(),
            "0".repeat(32),
            a.id.clone(),
            "not a blob id".into(),
            "../../etc/passwd".into(),
        ])
        .await;
    blobs.delete(Vec::new()).await;
    blobs.delete(vec![a.id.clone()]).await;
    let e = read(&*blobs, &[(&a.id, 0, 1)]).await.expect_err("deleted");
    assert_eq!(e.kind(), io::ErrorKind::NotFound, "{e}");
    assert!(read(&*blobs, &[(&b.id, 0, b.size)]).await.expect("read") == b_data);
    assert_eq!(blobs.sweep(later()).await.expect("sweep"), vec![b.id]);
}

/// A sweep answers the finished blobs made before its time, not those made after it.
pub async fn sweep_answers_finished_blobs_made_before_its_time<B: Backend>() {
    let h = Harness::<B>::open().await;
    let blobs = h.store().blob_store();
    let early = write(&*blobs, &pattern(8, 2000)).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let t = SystemTime::now();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let late = write(&*blobs, &pattern(9, 2000)).await;
    assert_eq!(blobs.sweep(t).await.expect("sweep"), vec![early.id.clone()]);
    let long_ago = t - Duration::from_secs(3600);
    assert!(blobs.sweep(long_ago).await.expect("sweep").is_empty());
    assert_eq!(
        sorted(blobs.sweep(later()).await.expect("sweep")),
        sorted(vec![early.id, late.id])
    );
}

/// A read naming a missing blob (never written, deleted, or an id no blob can have) fails when
/// it is asked for, with `NotFound`, before any byte is streamed: even when other parts of the
/// read exist, or the missing part is empty.
pub async fn a_read_of_a_missing_blob_fails_before_streaming<B: Backend>() {
    let h = Harness::<B>::open().await;
    let blobs = h.store().blob_store();
    let a = write(&*blobs, &pattern(10, 3000)).await;
    let gone = write(&*blobs, &pattern(11, 3000)).await;
    blobs.delete(vec![gone.id.clone()]).await;
    let missing = "0".repeat(32);
    for parts in [
        vec![(missing.as_str(), 0, 1)],
        vec![(gone.id.as_str(), 0, 1)],
        vec![(a.id.as_str(), 0, 5), (missing.as_str(), 0, 1)],
        vec![(a.id.as_str(), 0, 5), (missing.as_str(), 0, 0)],
        vec![("../../etc/passwd", 0, 1)],
        vec![("", 0, 0)],
    ] {
        let owned = parts
            .iter()
            .map(|&(id, from, len)| (id.to_owned(), from, len))
            .collect();
        match blobs.read(owned).await {
            Ok(_) => panic!("a read of {parts:?} answered a stream"),
            Err(e) => assert_eq!(e.kind(), io::ErrorKind::NotFound, "{parts:?}: {e}"),
        }
    }
}
