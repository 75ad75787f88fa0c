//! Object index throughput: how many durable PutObjects of 4 KiB (held inline) per second the
//! embedded store takes from concurrent callers, and whether listing a page of 1,000 keys costs
//! the same at the start and at the end of a bucket of 20,000.
//!
//! `cargo bench -p eddy-store --bench object_put [-- CONCURRENCY...]` (a debug build runs it
//! too: `cargo test -p eddy-store --bench object_put`) prints one JSON line per concurrency:
//! writes per second with and without one event each, then one line for the listing. Store
//! fsyncs are on, as in production.

use std::time::{Duration, Instant};

use eddy_store::{
    AppendBatch, EmbeddedStore, NewEvent, ObjectChange, ObjectQuery, ObjectRecord, ObjectStore,
    ObjectWrite,
};

const RUN: Duration = Duration::from_secs(3);

fn put(key: String, event: bool) -> ObjectWrite {
    let record = ObjectRecord {
        bucket: "bench".into(),
        key: key.clone(),
        version_id: "null".into(),
        seq: 0,
        latest: false,
        delete_marker: false,
        blobs: Vec::new(),
        inline: Some(vec![0x5a; 4096]),
        size: 4096,
        etag: "\"0123456789abcdef0123456789abcdef\"".into(),
        modified_ms: 1_800_000_000_000,
        meta: r#"{"content-type":"application/octet-stream"}"#.into(),
    };
    let mut append = AppendBatch::default();
    if event {
        append.events.push(NewEvent {
            id: key.clone(),
            bus: "default".into(),
            time_ms: 1_800_000_000_000,
            body: format!(r#"{{"detail-type":"Object Created","key":"{key}"}}"#),
            hops: 0,
        });
    }
    ObjectWrite {
        changes: vec![ObjectChange::Put(record)],
        upload: None,
        append,
    }
}

async fn writes(store: &'static EmbeddedStore, concurrency: usize, event: bool) -> f64 {
    let start = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|t| {
            tokio::spawn(async move {
                let mut n = 0u64;
                while start.elapsed() < RUN {
                    let key = format!("c{concurrency}/e{event}/t{t}/{n:08}");
                    store.objects_write(put(key, event)).await.expect("put");
                    n += 1;
                }
                n
            })
        })
        .collect();
    let mut total = 0;
    for t in tasks {
        total += t.await.expect("task");
    }
    total as f64 / start.elapsed().as_secs_f64()
}

/// The baseline: appends of one 4 KiB event each through the same writer.
async fn appends(store: &'static EmbeddedStore, concurrency: usize) -> f64 {
    use eddy_store::EventLog;
    let start = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|t| {
            tokio::spawn(async move {
                let mut n = 0u64;
                while start.elapsed() < RUN {
                    let mut batch = AppendBatch::default();
                    batch.events.push(NewEvent {
                        id: format!("{t}-{n}"),
                        bus: "default".into(),
                        time_ms: 1_800_000_000_000,
                        body: "x".repeat(4096),
                        hops: 0,
                    });
                    store.append(batch).await.expect("append");
                    n += 1;
                }
                n
            })
        })
        .collect();
    let mut total = 0;
    for t in tasks {
        total += t.await.expect("task");
    }
    total as f64 / start.elapsed().as_secs_f64()
}

async fn listing(store: &'static EmbeddedStore) {
    let keys = 20_000;
    let mut i = 0;
    while i < keys {
        let batch: Vec<_> = (i..(i + 500).min(keys))
            .map(|k| {
                let mut w = put(format!("list/{k:06}"), false);
                if let ObjectChange::Put(o) = &mut w.changes[0] {
                    o.inline = Some(vec![1; 16]);
                }
                store.objects_write(w)
            })
            .collect();
        for f in batch {
            f.await.expect("put");
        }
        i += 500;
    }
    let page = |after: Option<String>| ObjectQuery {
        bucket: "bench".into(),
        prefix: "list/".into(),
        after,
        limit: 1000,
    };
    let mut after = None;
    let mut times = Vec::new();
    loop {
        let t = Instant::now();
        let got = store.objects_list(page(after.clone())).await.expect("list");
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        match got.last() {
            Some(last) => after = Some(last.key.clone()),
            None => break,
        }
    }
    println!(
        r#"{{"list_keys":{keys},"pages":{},"first_page_ms":{:.2},"last_page_ms":{:.2}}}"#,
        times.len() - 1,
        times[0],
        times[times.len() - 2]
    );
}

fn main() {
    let concurrency: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let concurrency = if concurrency.is_empty() {
        vec![1, 16, 64, 256]
    } else {
        concurrency
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let store: &'static EmbeddedStore =
        Box::leak(Box::new(EmbeddedStore::open(dir.path()).expect("open")));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        for c in concurrency {
            let bare = writes(store, c, false).await;
            let with_event = writes(store, c, true).await;
            let baseline = appends(store, c).await;
            println!(
                r#"{{"concurrency":{c},"puts_per_s":{bare:.0},"puts_with_event_per_s":{with_event:.0},"appends_4k_per_s":{baseline:.0}}}"#
            );
        }
        listing(store).await;
    });
}
