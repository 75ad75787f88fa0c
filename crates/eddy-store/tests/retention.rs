//! Retention: `expire` deletes old events that nothing refers to, keeps what work items, dead
//! letters and per-bus keep rules hold, and expires dead letters by age.

use eddy_store::{
    AppendBatch, EmbeddedStore, EmbeddedStoreOptions, EventLog, Expiry, NewEvent, NewWork,
    WorkStore,
};

fn event(id: &str, bus: &str) -> NewEvent {
    NewEvent {
        id: id.into(),
        bus: bus.into(),
        time_ms: 0,
        body: "{}".into(),
        hops: 0,
    }
}

/// Appends `ids` on `bus` ingested at `at`, with a work item for those in `with_work`.
async fn append(store: &EmbeddedStore, bus: &str, at: i64, ids: &[&str], with_work: &[&str]) {
    let mut batch = AppendBatch {
        now_ms: Some(at),
        ..AppendBatch::default()
    };
    for id in ids {
        if with_work.contains(id) {
            batch.work.push(NewWork {
                event: batch.events.len(),
                rule: "arn:aws:events:r:1:rule/x".into(),
                target: "t".into(),
            });
        }
        batch.events.push(event(id, bus));
    }
    store.append(batch).await.expect("append");
}

async fn ids(store: &EmbeddedStore) -> Vec<String> {
    let mut out: Vec<String> = store
        .events(0, 1000)
        .await
        .expect("events")
        .into_iter()
        .map(|e| e.id)
        .collect();
    out.sort();
    out
}

fn open(dir: &std::path::Path) -> EmbeddedStore {
    EmbeddedStore::open_with(
        dir,
        EmbeddedStoreOptions {
            sync: false,
            ..Default::default()
        },
    )
    .expect("open")
}

#[tokio::test]
async fn expiry_deletes_only_what_nothing_needs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    append(&store, "r:plain", 1_000, &["old-a", "old-b"], &[]).await;
    append(&store, "r:archived", 1_000, &["kept-by-archive"], &[]).await;
    append(
        &store,
        "r:plain",
        2_000,
        &["old-with-work", "after-work"],
        &["old-with-work"],
    )
    .await;
    append(&store, "r:plain", 9_000, &["young"], &[]).await;
    let expiry = Expiry {
        events_before_ms: Some(5_000),
        keep: vec![("r:archived".into(), 0)],
        dead_before_ms: None,
        max_events: 100,
    };
    let expired = store.expire(expiry.clone()).await.expect("expire");
    assert_eq!(expired.events, 2);
    // The event with pending work stays, and so does every later one (the floor is the oldest
    // referenced event); the archived bus keeps its events; young events stay.
    assert_eq!(
        ids(&store).await,
        ["after-work", "kept-by-archive", "old-with-work", "young"]
    );
    // Once the work is done, both go.
    let items = store.lease(None, 10_000, 10, 60_000).await.expect("lease");
    assert_eq!(items.len(), 1);
    let refused = store
        .ack(items.iter().map(|i| i.lease()).collect())
        .await
        .expect("ack");
    assert!(refused.is_empty());
    assert_eq!(store.expire(expiry).await.expect("expire").events, 2);
    assert_eq!(ids(&store).await, ["kept-by-archive", "young"]);
}

#[tokio::test]
async fn a_dead_letter_keeps_its_event_until_it_expires() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    append(&store, "r:plain", 1_000, &["dead"], &["dead"]).await;
    let items = store.lease(None, 1_000, 10, 60_000).await.expect("lease");
    assert!(
        store
            .dead_letter(items[0].lease(), "gave up".into(), 2_000)
            .await
            .expect("dead letter")
    );
    let mut expiry = Expiry {
        events_before_ms: Some(50_000),
        keep: Vec::new(),
        dead_before_ms: Some(1_500),
        max_events: 100,
    };
    let expired = store.expire(expiry.clone()).await.expect("expire");
    assert_eq!((expired.events, expired.dead_letters), (0, 0));
    assert_eq!(ids(&store).await, ["dead"]);
    expiry.dead_before_ms = Some(3_000);
    let expired = store.expire(expiry).await.expect("expire");
    assert_eq!((expired.events, expired.dead_letters), (1, 1));
    assert!(ids(&store).await.is_empty());
    assert!(store.dead_letters(10).await.expect("dead").is_empty());
}

#[tokio::test]
async fn expiry_deletes_at_most_max_events_per_call() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let names: Vec<String> = (0..25).map(|i| format!("e{i:02}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    append(&store, "r:plain", 1_000, &refs, &[]).await;
    let expiry = Expiry {
        events_before_ms: Some(5_000),
        keep: Vec::new(),
        dead_before_ms: None,
        max_events: 10,
    };
    let mut calls = Vec::new();
    loop {
        let n = store.expire(expiry.clone()).await.expect("expire").events;
        calls.push(n);
        if n < 10 {
            break;
        }
    }
    assert_eq!(calls, [10, 10, 5]);
    assert!(ids(&store).await.is_empty());
}
