//! Schedule ticks: recorded atomically with the events they fire, kept across a reopen, never
//! moved backwards, wiped by reset.

use eddy_store::{
    AppendBatch, EmbeddedStore, EventLog, NewEvent, NewWork, Store, Tick, TickStore, WorkStore,
};

fn fired(schedule: &str, tick_ms: i64) -> AppendBatch {
    AppendBatch {
        events: vec![NewEvent {
            id: format!("{schedule}-{tick_ms}"),
            bus: "r:default".into(),
            time_ms: tick_ms,
            body: "{}".into(),
            hops: 0,
        }],
        work: vec![NewWork {
            event: 0,
            rule: "rule".into(),
            target: "t".into(),
        }],
        ticks: vec![Tick {
            schedule: schedule.into(),
            tick_ms,
        }],
        now_ms: Some(tick_ms),
        ..AppendBatch::default()
    }
}

#[tokio::test]
async fn ticks_are_recorded_with_their_events_and_survive_a_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let store = EmbeddedStore::open(dir.path()).expect("open");
        assert!(store.ticks().await.expect("ticks").is_empty());
        store.append(fired("a", 60_000)).await.expect("append");
        store.append(fired("a", 120_000)).await.expect("append");
        store.append(fired("b", 60_000)).await.expect("append");
        // An older tick never replaces a newer one.
        store.append(fired("a", 30_000)).await.expect("append");
        // The work item is due at the caller's clock, not the store's.
        assert_eq!(store.next_due().await.expect("due"), Some(30_000));
    }
    let store = EmbeddedStore::open(dir.path()).expect("reopen");
    let mut ticks = store.ticks().await.expect("ticks");
    ticks.sort();
    assert_eq!(ticks, vec![("a".into(), 120_000), ("b".into(), 60_000)]);
    assert_eq!(store.counts().await.expect("counts").events, 4);
    store.forget_ticks(vec!["a".into()]).await.expect("forget");
    assert_eq!(
        store.ticks().await.expect("ticks"),
        vec![("b".into(), 60_000)]
    );
    store.reset().await.expect("reset");
    assert!(store.ticks().await.expect("ticks").is_empty());
}

#[tokio::test]
async fn a_failed_append_records_no_tick() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = EmbeddedStore::open(dir.path()).expect("open");
    let mut bad = fired("a", 60_000);
    // A work item naming no event fails the whole transaction.
    bad.work[0].event = 7;
    assert!(store.append(bad).await.is_err());
    assert!(store.ticks().await.expect("ticks").is_empty());
    assert_eq!(store.counts().await.expect("counts").events, 0);
}
