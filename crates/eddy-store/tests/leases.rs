//! Fenced leases, rule by rule (the model test in `model.rs` checks them in random sequences):
//! a stale holder's ack, nack, dead-letter and renewal are refused and the current holder's
//! accepted; a lease that ran out goes to the next holder with a new token; writes that complete
//! work items with their delivery are refused whole for a stale holder; the callers' clock
//! moving forward never ends a lease; a restart makes every lease due again.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use eddy_store::{
    AppendBatch, EmbeddedStore, EmbeddedStoreOptions, EventLog, Lease, NewEvent, NewMessage,
    NewWork, QueueStore, StoreClock, StoreError, WorkItem, WorkStore,
};

/// The callers' clock at the start (year 2096: every appended item is due).
const T0: i64 = 4_000_000_000_000;
const LEASE_MS: i64 = 1_000;

/// The store's clock, moved by the test.
struct TestClock(AtomicI64);

impl StoreClock for TestClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

impl TestClock {
    fn advance(&self, ms: i64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
}

fn open(dir: &std::path::Path, clock: &Arc<TestClock>) -> EmbeddedStore {
    EmbeddedStore::open_with(
        dir,
        EmbeddedStoreOptions {
            sync: false,
            clock: clock.clone(),
            ..Default::default()
        },
    )
    .expect("open store")
}

fn setup() -> (tempfile::TempDir, Arc<TestClock>, EmbeddedStore) {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Arc::new(TestClock(AtomicI64::new(T0)));
    let store = open(dir.path(), &clock);
    (dir, clock, store)
}

/// Appends `n` events with one work item each.
async fn append(store: &EmbeddedStore, n: usize) {
    let mut batch = AppendBatch::default();
    for i in 0..n {
        batch.events.push(NewEvent {
            id: format!("e{i}"),
            bus: "r:default".into(),
            time_ms: 0,
            body: "{}".into(),
            hops: 0,
        });
        batch.work.push(NewWork {
            event: i,
            rule: "rule".into(),
            target: "t".into(),
        });
    }
    store.append(batch).await.expect("append");
}

async fn lease_one(store: &EmbeddedStore, now: i64) -> WorkItem {
    let mut got = store.lease(None, now, 1, LEASE_MS).await.expect("lease");
    assert_eq!(got.len(), 1, "one item to lease");
    got.remove(0)
}

/// The first holder's lease runs out and the item goes to a second holder: the first is stale.
async fn taken_over(store: &EmbeddedStore, clock: &TestClock) -> (WorkItem, WorkItem) {
    append(store, 1).await;
    let first = lease_one(store, T0).await;
    assert!(
        store
            .lease(None, T0, 10, LEASE_MS)
            .await
            .expect("lease")
            .is_empty(),
        "a leased item is not handed out again while its lease runs"
    );
    clock.advance(LEASE_MS);
    let second = lease_one(store, T0).await;
    assert_eq!(second.id, first.id);
    assert!(second.token > first.token, "a new lease, a new token");
    assert_eq!(second.attempts, 2);
    (first, second)
}

#[tokio::test]
async fn a_stale_holders_ack_is_refused_and_the_current_holders_accepted() {
    let (_dir, clock, store) = setup();
    let (stale, current) = taken_over(&store, &clock).await;
    let refused = store.ack(vec![stale.lease()]).await.expect("ack");
    assert_eq!(refused, vec![stale.lease()]);
    assert_eq!(store.counts().await.expect("counts").work_items, 1);
    let refused = store.ack(vec![current.lease()]).await.expect("ack");
    assert!(refused.is_empty());
    assert_eq!(store.counts().await.expect("counts").work_items, 0);
    // Acking a settled item again is refused too, not an error.
    let refused = store.ack(vec![current.lease()]).await.expect("ack");
    assert_eq!(refused, vec![current.lease()]);
}

#[tokio::test]
async fn a_batch_ack_settles_the_current_leases_and_answers_the_stale_ones() {
    let (_dir, clock, store) = setup();
    append(&store, 2).await;
    let first = store.lease(None, T0, 1, LEASE_MS).await.expect("lease");
    clock.advance(LEASE_MS);
    let second = store.lease(None, T0, 2, LEASE_MS).await.expect("lease");
    assert_eq!(second.len(), 2, "the lapsed lease and the waiting item");
    let mut all: Vec<Lease> = first.iter().chain(&second).map(WorkItem::lease).collect();
    all.sort();
    let refused = store.ack(all).await.expect("ack");
    assert_eq!(refused, vec![first[0].lease()]);
    assert_eq!(store.counts().await.expect("counts").work_items, 0);
}

#[tokio::test]
async fn a_stale_holders_nack_and_dead_letter_are_refused() {
    let (_dir, clock, store) = setup();
    let (stale, current) = taken_over(&store, &clock).await;
    assert!(!store.nack(stale.lease(), T0).await.expect("nack"));
    assert!(
        !store
            .dead_letter(stale.lease(), "late".into(), T0)
            .await
            .expect("dead letter")
    );
    // Nothing changed: the item is still the current holder's, not due, not dead.
    assert!(
        store
            .lease(None, T0, 10, LEASE_MS)
            .await
            .expect("lease")
            .is_empty()
    );
    assert_eq!(store.counts().await.expect("counts").dead_letters, 0);
    assert!(store.nack(current.lease(), T0 + 5).await.expect("nack"));
    // Nacked: the lease ended, so the same holder cannot settle it twice.
    assert!(!store.nack(current.lease(), T0).await.expect("nack"));
    let again = lease_one(&store, T0 + 5).await;
    assert!(again.token > current.token);
    assert!(
        store
            .dead_letter(again.lease(), "gave up".into(), T0)
            .await
            .expect("dead letter")
    );
    assert_eq!(store.counts().await.expect("counts").dead_letters, 1);
}

#[tokio::test]
async fn renewal_keeps_a_lease_and_a_stale_holder_cannot_renew() {
    let (_dir, clock, store) = setup();
    append(&store, 1).await;
    let held = lease_one(&store, T0).await;
    // Renewed every third of the lease, the lease outlives many lease lengths.
    for _ in 0..10 {
        clock.advance(LEASE_MS / 3);
        let refused = store
            .extend(vec![held.lease()], LEASE_MS)
            .await
            .expect("extend");
        assert!(refused.is_empty());
        assert!(
            store
                .lease(None, T0, 10, LEASE_MS)
                .await
                .expect("lease")
                .is_empty()
        );
    }
    // Not renewed: it runs out and the next holder gets it; the first can no longer renew.
    clock.advance(LEASE_MS);
    let next = lease_one(&store, T0).await;
    let refused = store
        .extend(vec![held.lease()], LEASE_MS)
        .await
        .expect("extend");
    assert_eq!(refused, vec![held.lease()]);
    let refused = store
        .extend(vec![next.lease()], LEASE_MS)
        .await
        .expect("extend");
    assert!(refused.is_empty());
}

#[tokio::test]
async fn the_callers_clock_jumping_forward_never_ends_a_lease() {
    let (_dir, clock, store) = setup();
    append(&store, 2).await;
    let held = lease_one(&store, T0).await;
    // The dev clock moves a year ahead: waiting items are due, the leased one is not handed
    // out again.
    let year = 365 * 24 * 3_600_000;
    let got = store
        .lease(None, T0 + year, 10, LEASE_MS)
        .await
        .expect("lease");
    assert_eq!(got.len(), 1);
    assert_ne!(got[0].id, held.id);
    assert!(
        store
            .lease(None, T0 + 2 * year, 10, LEASE_MS)
            .await
            .expect("lease")
            .is_empty()
    );
    // Its end is the store's clock's business.
    clock.advance(LEASE_MS);
    let again = store
        .lease(None, T0 + 2 * year, 10, LEASE_MS)
        .await
        .expect("lease");
    assert_eq!(again.len(), 2);
}

#[tokio::test]
async fn a_stale_holders_delivery_with_its_ack_is_refused_whole() {
    let (_dir, clock, store) = setup();
    let (stale, current) = taken_over(&store, &clock).await;
    let message = |body: &str| NewMessage {
        message_id: format!("m-{body}"),
        body: body.into(),
        attributes: "{}".into(),
        delay_ms: 0,
        group_id: None,
        dedup_id: None,
    };
    let e = store
        .queue_send("q".into(), vec![message("late")], T0, vec![stale.lease()])
        .await
        .expect_err("stale");
    assert!(
        matches!(&e, StoreError::LeaseLost(l) if l == &vec![stale.lease()]),
        "{e:?}"
    );
    assert_eq!(
        store
            .queue_stats("q".into(), T0)
            .await
            .expect("stats")
            .visible,
        0
    );
    // A forward (an append completing the item) is fenced the same way.
    let forward = |lease: Lease| AppendBatch {
        events: vec![NewEvent {
            id: "fwd".into(),
            bus: "r:other".into(),
            time_ms: 0,
            body: "{}".into(),
            hops: 1,
        }],
        ack: vec![lease],
        ..AppendBatch::default()
    };
    let e = store
        .append(forward(stale.lease()))
        .await
        .expect_err("stale");
    assert!(matches!(e, StoreError::LeaseLost(_)), "{e:?}");
    assert_eq!(store.counts().await.expect("counts").events, 1);
    // The current holder's delivery lands and settles the item.
    store
        .queue_send(
            "q".into(),
            vec![message("on time")],
            T0,
            vec![current.lease()],
        )
        .await
        .expect("send");
    assert_eq!(
        store
            .queue_stats("q".into(), T0)
            .await
            .expect("stats")
            .visible,
        1
    );
    assert_eq!(store.counts().await.expect("counts").work_items, 0);
}

#[tokio::test]
async fn a_restart_makes_every_lease_due_at_once() {
    let (dir, clock, store) = setup();
    append(&store, 3).await;
    let held = store.lease(None, T0, 3, 3_600_000).await.expect("lease");
    assert_eq!(held.len(), 3);
    // The holder dies (SIGKILL): its leases would run for an hour.
    drop(store);
    let store = open(dir.path(), &clock);
    assert_eq!(store.release_leases(T0).await.expect("release"), 3);
    let again = store.lease(None, T0, 10, LEASE_MS).await.expect("lease");
    assert_eq!(again.len(), 3);
    for (a, b) in held.iter().zip(&again) {
        assert!(b.token > a.token);
    }
    // The dead process's leases are stale.
    let refused = store
        .ack(held.iter().map(WorkItem::lease).collect())
        .await
        .expect("ack");
    assert_eq!(refused.len(), 3);
}

#[tokio::test]
async fn next_due_ignores_leased_items() {
    let (_dir, _clock, store) = setup();
    append(&store, 1).await;
    assert!(store.next_due().await.expect("next due").is_some());
    let held = lease_one(&store, T0).await;
    assert_eq!(store.next_due().await.expect("next due"), None);
    assert!(store.nack(held.lease(), T0 + 7).await.expect("nack"));
    assert_eq!(store.next_due().await.expect("next due"), Some(T0 + 7));
}
