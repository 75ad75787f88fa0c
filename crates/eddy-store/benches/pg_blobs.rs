//! Object data throughput: how fast one blob of MIB MiB is written (in pieces of PIECE KiB, as a
//! request body arrives) and read back whole, on the PostgreSQL store and, for comparison, the
//! embedded store's files.
//!
//! `cargo bench -p eddy-store --bench pg_blobs [-- MIB PIECE]` (defaults 64 and 64; a debug
//! build runs it too: `cargo test -p eddy-store --bench pg_blobs`) writes to a fresh schema of
//! the server at `EDDY_TEST_PG` (default `postgres://postgres@127.0.0.1:5432/postgres`) and
//! prints one JSON line per store: MB/s written (up to `finish`, durable) and read. Commits wait
//! for the WAL flush (`synchronous_commit` as the server has it), as in production.

mod common;

use std::time::Instant;

use bytes::Bytes;
use eddy_store::{BlobStore, EmbeddedStore, PostgresStore, PostgresStoreOptions, Store};

/// Bytes that do not compress.
fn data(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

async fn run(name: &str, blobs: &dyn BlobStore, data: &[u8], piece: usize) {
    let mb = data.len() as f64 / 1e6;
    let started = Instant::now();
    let mut sink = blobs.create().await.expect("create");
    for p in data.chunks(piece) {
        sink.write(Bytes::copy_from_slice(p)).await.expect("write");
    }
    let blob = sink.finish().await.expect("finish");
    let wrote = started.elapsed();
    let started = Instant::now();
    let mut stream = blobs
        .read(vec![(blob.id.clone(), 0, blob.size)])
        .await
        .expect("read");
    let mut read = 0usize;
    let mut same = true;
    while let Some(chunk) = std::future::poll_fn(|cx| stream.as_mut().poll_next(cx)).await {
        let chunk = chunk.expect("read");
        same &= chunk[..] == data[read..read + chunk.len()];
        read += chunk.len();
    }
    let took = started.elapsed();
    assert!(same && read == data.len(), "read back as written");
    blobs.delete(vec![blob.id]).await;
    println!(
        r#"{{"store":"{name}","mib":{},"piece_kib":{},"write_mb_s":{:.1},"read_mb_s":{:.1}}}"#,
        data.len() >> 20,
        piece >> 10,
        mb / wrote.as_secs_f64(),
        mb / took.as_secs_f64()
    );
}

fn main() {
    let arg = common::args();
    let (mib, piece_kib) = (arg(0, 64), arg(1, 64));
    let bytes = data(mib << 20);
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(async {
            let server = common::server();
            let uri = common::fresh_schema(&server, "eddy_bench_blobs").await;
            let store = PostgresStore::connect(&uri, PostgresStoreOptions::default())
                .await
                .expect("open the PostgreSQL store");
            run("postgres", &*store.blob_store(), &bytes, piece_kib << 10).await;
            drop(store);
            common::drop_schema(&server, "eddy_bench_blobs").await;
            let dir = tempfile::tempdir().expect("tempdir");
            let store = EmbeddedStore::open(dir.path()).expect("open the embedded store");
            run("embedded", &*store.blob_store(), &bytes, piece_kib << 10).await;
        });
}
