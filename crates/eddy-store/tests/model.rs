//! Model-based property test of the embedded store: random sequences of append, lease, ack,
//! nack, dead-letter and restart, checked against an in-memory model of the same contract.

use std::collections::BTreeMap;

use eddy_store::{
    AppendBatch, DefinitionChange, DefinitionStore, EmbeddedStore, EmbeddedStoreOptions, EventLog,
    NewEvent, NewWork, Notification, Store, WorkItem, WorkStore,
};
use proptest::prelude::*;

/// Far enough in the future that every appended item (due at its wall-clock ingestion time) is
/// due from the model's first instant.
const T0: i64 = 4_000_000_000_000;

#[derive(Debug, Clone)]
enum Op {
    /// Events, each with this many targets.
    Append(Vec<u8>),
    Lease {
        max: usize,
        lease_ms: i64,
    },
    /// Acts on the n-th item of the last lease (if any).
    Ack(usize),
    Nack(usize, i64),
    Dead(usize),
    Advance(i64),
    Restart,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => prop::collection::vec(0u8..3, 1..4).prop_map(Op::Append),
        3 => (1usize..5, 1i64..50).prop_map(|(max, lease_ms)| Op::Lease { max, lease_ms }),
        2 => (0usize..5).prop_map(Op::Ack),
        1 => (0usize..5, 0i64..40).prop_map(|(i, d)| Op::Nack(i, d)),
        1 => (0usize..5).prop_map(Op::Dead),
        2 => (1i64..60).prop_map(Op::Advance),
        1 => Just(Op::Restart),
    ]
}

/// A work item in the model, keyed by (event id, target).
#[derive(Debug, Clone)]
struct ModelItem {
    due: i64,
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
    /// Due items, oldest due first then oldest created; each leased until `now + lease_ms`.
    fn lease(&mut self, now: i64, max: usize, lease_ms: i64) -> Vec<Key> {
        let mut due: Vec<_> = self
            .items
            .iter()
            .filter(|(_, i)| i.due <= now)
            .map(|(k, i)| (i.due, i.order, k.clone()))
            .collect();
        due.sort();
        due.truncate(max);
        due.into_iter()
            .map(|(_, _, k)| {
                if let Some(it) = self.items.get_mut(&k) {
                    it.due = now + lease_ms;
                    it.attempts += 1;
                    it.leased = true;
                }
                k
            })
            .collect()
    }
}

fn key(w: &WorkItem) -> Key {
    (w.event_id.clone(), w.target.clone())
}

fn open(dir: &std::path::Path) -> EmbeddedStore {
    // The fsync is not what this test checks; restarts here are clean reopenings.
    EmbeddedStore::open_with(
        dir,
        EmbeddedStoreOptions {
            sync: false,
            ..Default::default()
        },
    )
    .expect("open store")
}

async fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = open(dir.path());
    let mut model = Model::default();
    let mut now = T0;
    let mut last_lease: Vec<WorkItem> = Vec::new();
    for op in ops {
        match op {
            Op::Append(targets) => {
                let mut batch = AppendBatch::default();
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
                            due: 0,
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
                let want = model.lease(now, max, lease_ms);
                last_lease = store.lease(None, now, max, lease_ms).await.expect("lease");
                let got: Vec<Key> = last_lease.iter().map(key).collect();
                prop_assert_eq!(&got, &want);
                for w in &last_lease {
                    prop_assert_eq!(w.attempts, model.items[&key(w)].attempts);
                    prop_assert_eq!(&w.body, &format!("{{\"id\":\"{}\"}}", w.event_id));
                }
            }
            Op::Ack(i) => {
                if let Some(w) = last_lease.get(i) {
                    store.ack(vec![w.id]).await.expect("ack");
                    model.items.remove(&key(w));
                }
            }
            Op::Nack(i, delay) => {
                if let Some(w) = last_lease.get(i) {
                    store.nack(w.id, now + delay).await.expect("nack");
                    if let Some(m) = model.items.get_mut(&key(w)) {
                        m.due = now + delay;
                        m.leased = false;
                    }
                }
            }
            Op::Dead(i) => {
                if let Some(w) = last_lease.get(i) {
                    store
                        .dead_letter(w.id, "gave up".into(), now)
                        .await
                        .expect("dead letter");
                    if model.items.remove(&key(w)).is_some() {
                        model.dead.push(key(w));
                    }
                }
            }
            Op::Advance(ms) => now += ms,
            Op::Restart => {
                // A restart hands back every lease the dead process held.
                drop(store);
                store = open(dir.path());
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
    let store = open(dir.path());
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
    let store = open(dir.path());
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
    let store = open(dir.path());
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
        .dead_letter(first[0].id, "x".into(), T0)
        .await
        .expect("dead");
    store.append(one("b")).await.expect("append");
    let second = store.lease(None, T0, 10, 1000).await.expect("lease");
    assert_ne!(first[0].id, second[0].id);
    // Dead-lettering the new item must not collide with the first dead letter.
    store
        .dead_letter(second[0].id, "y".into(), T0)
        .await
        .expect("dead");
    assert_eq!(store.dead_letters(10).await.expect("dead letters").len(), 2);
}
