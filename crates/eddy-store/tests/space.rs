//! The embedded store gives space back to the file system: after retention deletes most of the
//! log, `reclaim` in bounded steps shrinks `eddy.db`; and a store made before incremental vacuum
//! is converted when it is opened.

use std::path::Path;

use eddy_store::{
    AppendBatch, EmbeddedStore, EmbeddedStoreOptions, EventLog, Expiry, NewEvent, Store,
};

fn open(dir: &Path) -> EmbeddedStore {
    EmbeddedStore::open_with(
        dir,
        EmbeddedStoreOptions {
            sync: false,
            ..Default::default()
        },
    )
    .expect("open")
}

fn db_bytes(dir: &Path) -> u64 {
    std::fs::metadata(dir.join("eddy.db")).map_or(0, |m| m.len())
}

/// Drops the store and waits until its writer closed the database (the last connection to
/// close checkpoints the write-ahead log into `eddy.db` and removes it).
async fn close(store: EmbeddedStore, dir: &Path) {
    drop(store);
    for _ in 0..500 {
        if !dir.join("eddy.db-wal").exists() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("the store did not close");
}

#[tokio::test]
async fn reclaim_gives_deleted_space_back_in_bounded_steps() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let body = format!("{{\"pad\":\"{}\"}}", "x".repeat(8_000));
    for chunk in 0..40 {
        let events = (0..100)
            .map(|n| NewEvent {
                id: format!("e{chunk}-{n}"),
                bus: "r:b".into(),
                time_ms: 0,
                body: body.clone(),
                hops: 0,
            })
            .collect();
        store
            .append(AppendBatch {
                events,
                now_ms: Some(1_000),
                ..AppendBatch::default()
            })
            .await
            .expect("append");
    }
    close(store, dir.path()).await;
    let full = db_bytes(dir.path());
    assert!(full > 30 << 20, "32 MB of events written: {full} bytes");

    let store = open(dir.path());
    // Nothing deleted yet: nothing to give back.
    assert_eq!(store.reclaim(1 << 20).await.expect("reclaim"), 0);
    loop {
        let expired = store
            .expire(Expiry {
                events_before_ms: Some(2_000),
                max_events: 1_000,
                ..Expiry::default()
            })
            .await
            .expect("expire");
        if expired.events == 0 {
            break;
        }
    }
    let step = 4 << 20;
    let mut given = 0;
    let mut calls = 0;
    loop {
        let n = store.reclaim(step).await.expect("reclaim");
        assert!(n <= step, "one call gives at most its bound: {n}");
        given += n;
        calls += 1;
        if n < step {
            break;
        }
    }
    assert!(
        calls >= 7,
        "bounded steps: {calls} calls gave {given} bytes"
    );
    assert!(given > 28 << 20, "gave back {given} bytes of {full}");
    close(store, dir.path()).await;
    let after = db_bytes(dir.path());
    assert!(
        after < full / 8,
        "eddy.db shrank on disk: {full} bytes before, {after} after"
    );

    // The store still works, and what it holds reads back.
    let store = open(dir.path());
    assert_eq!(store.events(0, 10).await.expect("events").len(), 0);
    assert_eq!(store.reclaim(step).await.expect("reclaim"), 0);
}

#[tokio::test]
async fn an_older_store_is_converted_to_incremental_vacuum_when_opened() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("eddy.db");
    {
        // A database as an earlier eddy made it: tables without auto-vacuum.
        let conn = rusqlite::Connection::open(&path).expect("sqlite");
        conn.pragma_update(None, "journal_mode", "WAL")
            .expect("wal");
        conn.execute_batch(
            "CREATE TABLE definitions (kind TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL,
                 PRIMARY KEY (kind, key)) WITHOUT ROWID;
             INSERT INTO definitions VALUES ('bus', 'r:b', x'7b7d');",
        )
        .expect("schema");
        let mode: i64 = conn
            .pragma_query_value(None, "auto_vacuum", |r| r.get(0))
            .expect("mode");
        assert_eq!(mode, 0);
    }
    let store = open(dir.path());
    let defs = eddy_store::DefinitionStore::definitions(&store)
        .await
        .expect("definitions");
    assert_eq!(
        defs.items.len(),
        1,
        "the definition survived the conversion"
    );
    close(store, dir.path()).await;
    let conn = rusqlite::Connection::open(&path).expect("sqlite");
    let mode: i64 = conn
        .pragma_query_value(None, "auto_vacuum", |r| r.get(0))
        .expect("mode");
    assert_eq!(mode, 2, "auto_vacuum is INCREMENTAL");
}
