//! Model-based property test of the embedded store: random sequences of append, lease, ack,
//! nack, dead-letter, extend (renew), clock moves and restart, checked against an in-memory
//! model of the same contract. Settling calls act on any lease ever handed out, so stale
//! holders (whose lease ran out, or was taken over with a new token) are exercised too: the
//! store must refuse exactly the leases the model says are no longer current.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use eddy_store::{
    AppendBatch, DefinitionChange, DefinitionStore, EmbeddedStore, EmbeddedStoreOptions, EventLog,
    Lease, NewEvent, NewWork, Notification, Store, StoreClock, WorkItem, WorkStore,
};
use proptest::prelude::*;

/// Where both clocks start (appends give the callers' clock as their time, as eddy does).
const T0: i64 = 4_000_000_000_000;

#[derive(Debug, Clone)]
enum Op {
    /// Events, each with this many targets.
    Append(Vec<u8>),
    Lease {
        max: usize,
        lease_ms: i64,
    },
    /// Acts on the n-th newest lease ever handed out (if any): current or stale.
    Ack(usize),
    Nack(usize, i64),
    Dead(usize),
    Extend(usize, i64),
    /// Both clocks move: time passes.
    Advance(i64),
    /// Only the callers' clock moves (the dev clock jumping forward).
    Jump(i64),
    Restart,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => prop::collection::vec(0u8..3, 1..4).prop_map(Op::Append),
        3 => (1usize..5, 1i64..50).prop_map(|(max, lease_ms)| Op::Lease { max, lease_ms }),
        2 => (0usize..8).prop_map(Op::Ack),
        1 => (0usize..8, 0i64..40).prop_map(|(i, d)| Op::Nack(i, d)),
        1 => (0usize..8).prop_map(Op::Dead),
        1 => (0usize..8, 1i64..50).prop_map(|(i, l)| Op::Extend(i, l)),
        2 => (1i64..60).prop_map(Op::Advance),
        1 => (1i64..10_000_000).prop_map(Op::Jump),
        1 => Just(Op::Restart),
    ]
}

/// The store's clock, moved by the test.
struct TestClock(AtomicI64);

impl StoreClock for TestClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// A work item in the model, keyed by (event id, target).
#[derive(Debug, Clone)]
struct ModelItem {
    /// When due, by the callers' clock (while not leased).
    due: i64,
    /// When the lease ends, by the store's clock (while leased).
    until: i64,
    token: i64,
    attempts: u32,
    order: u64,
    leased: bool,
}

type Key = (String, String);

#[derive(Default)]
struct Model {
    items: BTreeMap<Key, ModelItem>,
    dead: Vec<Key>,
    events: u64,
    next_order: u64,
}

impl Model {
    /// Leases whose time ran out by the store's clock (oldest deadline first), then items due by
    /// the callers' clock (oldest due first), each by creation order; each leased until
    /// `store_now + lease_ms` with a new token.
    fn lease(&mut self, now: i64, store_now: i64, max: usize, lease_ms: i64) -> Vec<Key> {
        let pick = |leased: bool, by: i64| {
            let mut v: Vec<_> = self
                .items
                .iter()
                .filter(|(_, i)| i.leased == leased)
                .map(|(k, i)| (if leased { i.until } else { i.due }, i.order, k.clone()))
                .filter(|(t, _, _)| *t <= by)
                .collect();
            v.sort();
            v
        };
        let mut keys: Vec<Key> = pick(true, store_now)
            .into_iter()
            .chain(pick(false, now))
            .map(|(_, _, k)| k)
            .collect();
        keys.truncate(max);
        for k in &keys {
            if let Some(it) = self.items.get_mut(k) {
                it.until = store_now + lease_ms;
                it.token += 1;
                it.attempts += 1;
                it.leased = true;
            }
        }
        keys
    }

    /// The item `lease` names, if that lease is current.
    fn held(&mut self, key: &Key, lease: Lease) -> Option<&mut ModelItem> {
        self.items
            .get_mut(key)
            .filter(|m| m.leased && m.token == lease.token)
    }
}

fn key(w: &WorkItem) -> Key {
    (w.event_id.clone(), w.target.clone())
}

fn open(dir: &std::path::Path, clock: &Arc<TestClock>) -> EmbeddedStore {
    // The fsync is not what this test checks; restarts here are clean reopenings.
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

async fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Arc::new(TestClock(AtomicI64::new(T0)));
    let mut store = open(dir.path(), &clock);
    let mut model = Model::default();
    let mut now = T0;
    // Every lease handed out, oldest first.
    let mut leases: Vec<WorkItem> = Vec::new();
    let nth = |leases: &Vec<WorkItem>, i: usize| leases.iter().rev().nth(i).cloned();
    for op in ops {
        let store_now = clock.now_ms();
        match op {
            Op::Append(targets) => {
                let mut batch = AppendBatch {
                    now_ms: Some(now),
                    ..AppendBatch::default()
                };
                for (i, n) in targets.iter().enumerate() {
                    let id = format!("e{}", model.events);
                    model.events += 1;
                    batch.events.push(NewEvent {
                        id: id.clone(),
                        bus: "r:default".into(),
                        time_ms: 1,
                        body: format!("{{\"id\":\"{id}\"}}"),
                        hops: 0,
                    });
                    for t in 0..*n {
                        let target = format!("t{t}");
                        batch.work.push(NewWork {
                            event: i,
                            rule: "rule".into(),
                            target: target.clone(),
                        });
                        let item = ModelItem {
                            due: now,
                            until: 0,
                            token: 0,
                            attempts: 0,
                            order: model.next_order,
                            leased: false,
                        };
                        model.items.insert((id.clone(), target), item);
                        model.next_order += 1;
                    }
                }
                store.append(batch).await.expect("append");
            }
            Op::Lease { max, lease_ms } => {
                let want = model.lease(now, store_now, max, lease_ms);
                let got = store.lease(None, now, max, lease_ms).await.expect("lease");
                let got_keys: Vec<Key> = got.iter().map(key).collect();
                prop_assert_eq!(&got_keys, &want);
                for w in &got {
                    let m = &model.items[&key(w)];
                    prop_assert_eq!(w.attempts, m.attempts);
                    prop_assert_eq!(w.token, m.token);
                    prop_assert_eq!(&w.body, &format!("{{\"id\":\"{}\"}}", w.event_id));
                }
                leases.extend(got);
            }
            Op::Ack(i) => {
                if let Some(w) = nth(&leases, i) {
                    let held = model.held(&key(&w), w.lease()).is_some();
                    let refused = store.ack(vec![w.lease()]).await.expect("ack");
                    prop_assert_eq!(refused.is_empty(), held);
                    if held {
                        model.items.remove(&key(&w));
                    }
                }
            }
            Op::Nack(i, delay) => {
                if let Some(w) = nth(&leases, i) {
                    let ok = store.nack(w.lease(), now + delay).await.expect("nack");
                    let held = model.held(&key(&w), w.lease());
                    prop_assert_eq!(ok, held.is_some());
                    if let Some(m) = held {
                        m.due = now + delay;
                        m.leased = false;
                    }
                }
            }
            Op::Dead(i) => {
                if let Some(w) = nth(&leases, i) {
                    let ok = store
                        .dead_letter(w.lease(), "gave up".into(), now)
                        .await
                        .expect("dead letter");
                    let held = model.held(&key(&w), w.lease()).is_some();
                    prop_assert_eq!(ok, held);
                    if held {
                        model.items.remove(&key(&w));
                        model.dead.push(key(&w));
                    }
                }
            }
            Op::Extend(i, lease_ms) => {
                if let Some(w) = nth(&leases, i) {
                    let refused = store
                        .extend(vec![w.lease()], lease_ms)
                        .await
                        .expect("extend");
                    let held = model.held(&key(&w), w.lease());
                    prop_assert_eq!(refused.is_empty(), held.is_some());
                    if let Some(m) = held {
                        m.until = store_now + lease_ms;
                    }
                }
            }
            Op::Advance(ms) => {
                now += ms;
                clock.0.fetch_add(ms, Ordering::SeqCst);
            }
            Op::Jump(ms) => now += ms,
            Op::Restart => {
                // A restart hands back every lease the dead process held.
                drop(store);
                store = open(dir.path(), &clock);
                let released = store.release_leases(now).await.expect("release");
                let mut want = 0;
                for m in model.items.values_mut().filter(|m| m.leased) {
                    m.due = now;
                    m.leased = false;
                    want += 1;
                }
                prop_assert_eq!(released, want);
            }
        }
        let counts = store.counts().await.expect("counts");
        prop_assert_eq!(counts.events, model.events);
        prop_assert_eq!(counts.work_items, model.items.len() as u64);
        prop_assert_eq!(counts.dead_letters, model.dead.len() as u64);
    }
    let mut got: Vec<Key> = store
        .dead_letters(1000)
        .await
        .expect("dead letters")
        .into_iter()
        .map(|d| (d.event_id, d.target))
        .collect();
    got.sort();
    let mut want = model.dead.clone();
    want.sort();
    prop_assert_eq!(got, want);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn store_agrees_with_model(ops in prop::collection::vec(op(), 1..40)) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(run(ops))?;
    }
}

#[tokio::test]
async fn definitions_persist_and_notify() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Arc::new(TestClock(AtomicI64::new(T0)));
    let store = open(dir.path(), &clock);
    let mut watch = store.watch();
    store
        .apply(vec![
            DefinitionChange::put("bus", "r:a", b"1".to_vec()),
            DefinitionChange::put("rule", "r:a:x", b"2".to_vec()),
        ])
        .await
        .expect("apply");
    store
        .apply(vec![DefinitionChange::delete("bus", "r:a")])
        .await
        .expect("apply");
    let first = watch.recv().await.expect("notification");
    assert!(matches!(first, Notification::Changed(ref c) if c.len() == 2));
    drop(store);
    let store = open(dir.path(), &clock);
    assert_eq!(
        store.definitions().await.expect("definitions"),
        vec![("rule".to_owned(), "r:a:x".to_owned(), b"2".to_vec())]
    );
    store.reset().await.expect("reset");
    assert!(store.definitions().await.expect("definitions").is_empty());
}

#[tokio::test]
async fn ids_are_never_reused_after_the_newest_item_is_acked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Arc::new(TestClock(AtomicI64::new(T0)));
    let store = open(dir.path(), &clock);
    let one = |id: &str| AppendBatch {
        events: vec![NewEvent {
            id: id.into(),
            bus: "b".into(),
            time_ms: 0,
            body: "{}".into(),
            hops: 0,
        }],
        work: vec![NewWork {
            event: 0,
            rule: "r".into(),
            target: "t".into(),
        }],
        ack: vec![],
        ..AppendBatch::default()
    };
    store.append(one("a")).await.expect("append");
    let first = store.lease(None, T0, 10, 1000).await.expect("lease");
    store
        .dead_letter(first[0].lease(), "x".into(), T0)
        .await
        .expect("dead");
    store.append(one("b")).await.expect("append");
    let second = store.lease(None, T0, 10, 1000).await.expect("lease");
    assert_ne!(first[0].id, second[0].id);
    // Dead-lettering the new item must not collide with the first dead letter.
    store
        .dead_letter(second[0].lease(), "y".into(), T0)
        .await
        .expect("dead");
    assert_eq!(store.dead_letters(10).await.expect("dead letters").len(), 2);
}
