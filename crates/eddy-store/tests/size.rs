//! The embedded store's size gauge: `counts().bytes` is the size of its files (the database and
//! its write-ahead log), which grows with what is written. (What `counts` counts is checked
//! for every backend by `eddy-store-conformance`; the size is this backend's own.)

use eddy_store::{AppendBatch, EmbeddedStore, EventLog, NewEvent};

#[tokio::test]
async fn counts_report_the_files_size() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = EmbeddedStore::open(dir.path()).expect("open");
    let empty = store.counts().await.expect("counts");
    assert!(empty.bytes > 0, "the schema takes room");
    for (i, now_ms) in [5_000, 7_000].iter().enumerate() {
        store
            .append(AppendBatch {
                events: vec![NewEvent {
                    id: format!("e{i}"),
                    bus: "b".into(),
                    time_ms: 1,
                    body: "x".repeat(100_000),
                    hops: 0,
                }],
                now_ms: Some(*now_ms),
                ..AppendBatch::default()
            })
            .await
            .expect("append");
    }
    let c = store.counts().await.expect("counts");
    assert!(
        c.bytes >= empty.bytes + 200_000,
        "{} then {}",
        empty.bytes,
        c.bytes
    );
}
