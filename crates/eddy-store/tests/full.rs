//! A full disk, for real: the store on a small tmpfs. A write that does not fit fails with
//! `StoreError::Full` and leaves nothing behind, `health()` says full, reads still work, and when
//! space returns (a filler file removed) the store notices by itself and writes resume, with
//! every acknowledged event kept (also across a reopen).
//!
//! Mounting needs root; otherwise the test runs itself again inside a user and mount namespace
//! (`unshare --user --map-root-user --mount`), or says why it skipped.

use std::path::{Path, PathBuf};

use std::time::{Duration, Instant};

use eddy_store::{
    AppendBatch, DefinitionChange, DefinitionStore, EmbeddedStore, EventLog, LogStore, NewEvent,
    NewWork, Store, StoreError, StoreHealth,
};

// Shared with eddy's black-box disk-full test (this crate cannot depend on eddy-testkit).
#[path = "../../eddy-testkit/src/tmpfs.rs"]
mod tmpfs;
use tmpfs::on_tmpfs;

fn event(id: &str, size: usize) -> AppendBatch {
    AppendBatch {
        events: vec![NewEvent {
            id: id.to_owned(),
            bus: "r:default".into(),
            time_ms: 1,
            body: format!("{{\"detail\":\"{}\"}}", "x".repeat(size)),
            hops: 0,
        }],
        work: vec![NewWork {
            event: 0,
            rule: "rule".into(),
            target: "t".into(),
        }],
        ..AppendBatch::default()
    }
}

async fn ids(store: &EmbeddedStore) -> Vec<String> {
    let events = store.events(0, 100_000).await.expect("read events");
    events.into_iter().map(|e| e.id).collect()
}

#[test]
fn a_full_disk_refuses_writes_then_resumes_when_space_returns() {
    on_tmpfs(
        "a_full_disk_refuses_writes_then_resumes_when_space_returns",
        "2m",
        |fs| {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(full_then_resume(fs.path().to_owned()));
        },
    );
}

async fn full_then_resume(root: PathBuf) {
    // Space to give back later.
    let filler = root.join("filler");
    std::fs::write(&filler, vec![1u8; 512 * 1024]).expect("filler");
    let dir = root.join("store");
    let store = EmbeddedStore::open(&dir).expect("open");
    assert_eq!(store.health(), StoreHealth::Ok);

    let mut acked = Vec::new();
    let mut refused = Vec::new();
    let error = loop {
        let id = format!("before-{}", acked.len());
        match store.append(event(&id, 16 * 1024)).await {
            Ok(()) => acked.push(id),
            Err(e) => {
                refused.push(id);
                break e;
            }
        }
        assert!(acked.len() < 500, "2 MiB never filled up");
    };
    let expected = format!(
        "the store is full: no space left on the file system of `{}`",
        dir.display()
    );
    assert!(matches!(error, StoreError::Full(_)), "{error:?}");
    assert_eq!(error.to_string(), expected);
    assert_eq!(
        store.health(),
        StoreHealth::Full {
            message: expected.clone()
        }
    );
    // Every path reports the same error, and the writer keeps working: reads still answer.
    let e = store
        .apply(vec![DefinitionChange::put("k", "v", vec![7; 64 * 1024])])
        .await
        .expect_err("a 64 KiB definition cannot fit");
    assert!(matches!(e, StoreError::Full(_)), "{e:?}");
    let e = store
        .logs_append(
            vec![eddy_store::NewLogEvent {
                group: "g".into(),
                stream: "s".into(),
                timestamp_ms: 1,
                message: "y".repeat(64 * 1024),
            }],
            1,
            Vec::new(),
        )
        .await
        .expect_err("64 KiB of logs cannot fit");
    assert!(matches!(e, StoreError::Full(_)), "{e:?}");
    assert_eq!(ids(&store).await, acked, "reads while full");
    assert!(
        store
            .definitions()
            .await
            .expect("definitions")
            .items
            .is_empty()
    );
    eprintln!("{} events acknowledged before the disk filled", acked.len());

    // Space returns: the store notices by itself (its own probe), without any write from us,
    // also while reads keep it busy.
    std::fs::remove_file(&filler).expect("remove filler");
    let started = Instant::now();
    while store.health() != StoreHealth::Ok {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "health still says full 5 s after space returned"
        );
        store.counts().await.expect("counts");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    eprintln!("healthy again after {:?}", started.elapsed());
    for i in 0..8 {
        let id = format!("after-{i}");
        store
            .append(event(&id, 16 * 1024))
            .await
            .expect("append after space returned");
        acked.push(id);
    }
    store
        .apply(vec![DefinitionChange::put("k", "v", vec![7; 1024])])
        .await
        .expect("apply after space returned");
    assert_eq!(
        ids(&store).await,
        acked,
        "every acknowledged event, nothing refused"
    );
    let counts = store.counts().await.expect("counts");
    assert_eq!(counts.work_items, acked.len() as u64);
    drop(store);

    // Durable: a reopen finds exactly the acknowledged events.
    let store = reopen(&dir).await;
    assert_eq!(ids(&store).await, acked, "after a reopen");
    assert!(!acked.iter().any(|a| refused.contains(a)));
}

/// Opens the store again once the writer thread of the previous handle has let go.
async fn reopen(dir: &Path) -> EmbeddedStore {
    tokio::time::sleep(Duration::from_millis(100)).await;
    EmbeddedStore::open(dir).expect("reopen")
}
