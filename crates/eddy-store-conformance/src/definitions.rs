//! Definitions ([`DefinitionStore`](eddy_store::DefinitionStore)): an apply commits its group of
//! changes at once and is announced whole to every watcher, in commit order; `definitions` reads
//! them ordered by kind then key and reflects every acknowledged change, never half of one.

use std::collections::BTreeMap;

use eddy_store::{DefinitionChange, Notification};
use tokio::sync::broadcast::error::TryRecvError;

use crate::{Backend, Harness};

/// An apply's changes are there together (also after a restart) and announced as one
/// notification, as applied; a put replaces the value; a delete removes it (deleting what is not
/// there is no error).
pub async fn apply_commits_a_group_and_announces_it<B: Backend>() {
    let mut h = Harness::<B>::open().await;
    let s = h.store();
    let mut watch = s.watch();
    let first = vec![
        DefinitionChange::put("bus", "r:a", b"1".to_vec()),
        DefinitionChange::put("rule", "r:a:x", b"2".to_vec()),
    ];
    let v1 = s.apply(first.clone()).await.expect("apply");
    let second = vec![
        DefinitionChange::delete("bus", "r:a"),
        DefinitionChange::put("rule", "r:a:x", b"3".to_vec()),
        DefinitionChange::delete("bus", "never"),
    ];
    let v2 = s.apply(second.clone()).await.expect("apply");
    assert!(v2 > v1, "versions grow by commit order: {v1}, {v2}");
    assert_eq!(
        watch.recv().await.expect("notification"),
        Notification::Changed {
            version: v1,
            changes: first
        }
    );
    assert_eq!(
        watch.recv().await.expect("notification"),
        Notification::Changed {
            version: v2,
            changes: second
        }
    );
    assert!(matches!(watch.try_recv(), Err(TryRecvError::Empty)));
    let want = vec![("rule".to_owned(), "r:a:x".to_owned(), b"3".to_vec())];
    let read = s.definitions().await.expect("definitions");
    assert_eq!((read.version, read.items), (v2, want.clone()));
    h.restart().await;
    let read = h.store().definitions().await.expect("definitions");
    assert_eq!(
        (read.version, read.items),
        (v2, want),
        "the version survives a restart"
    );
    let v3 = h
        .store()
        .apply(vec![DefinitionChange::delete("rule", "r:a:x")])
        .await
        .expect("apply");
    assert!(
        v3 > v2,
        "versions are never reused after a restart: {v2}, {v3}"
    );
}

/// `definitions` answers every definition ordered by kind, then key, with its value byte for
/// byte.
pub async fn definitions_are_ordered_by_kind_then_key<B: Backend>() {
    let h = Harness::<B>::open().await;
    let s = h.store();
    let binary = vec![0u8, 255, 1, 128, 0];
    s.apply(vec![
        DefinitionChange::put("rule", "b", b"rb".to_vec()),
        DefinitionChange::put("bus", "z", binary.clone()),
        DefinitionChange::put("rule", "a", b"ra".to_vec()),
        DefinitionChange::put("bus", "a", Vec::new()),
        DefinitionChange::put("queue", "m", b"qm".to_vec()),
    ])
    .await
    .expect("apply");
    let got = s.definitions().await.expect("definitions").items;
    let keys: Vec<(&str, &str)> = got
        .iter()
        .map(|(k, n, _)| (k.as_str(), n.as_str()))
        .collect();
    assert_eq!(
        keys,
        [
            ("bus", "a"),
            ("bus", "z"),
            ("queue", "m"),
            ("rule", "a"),
            ("rule", "b")
        ]
    );
    assert_eq!(got[0].2, Vec::<u8>::new());
    assert_eq!(got[1].2, binary);
    assert_eq!(s.counts().await.expect("counts").definitions, 5);
}

/// Applies made at the same time are announced in the order they were committed: replaying
/// the feed gives what `definitions` reads. A watcher sees only what was committed after it
/// subscribed.
pub async fn the_feed_follows_commit_order<B: Backend>() {
    let h = Harness::<B>::open().await;
    let s = h.store();
    s.apply(vec![DefinitionChange::put("k", "before", b"0".to_vec())])
        .await
        .expect("apply");
    let mut watch = s.watch();
    let put = |v: &str| vec![DefinitionChange::put("k", "x", v.as_bytes().to_vec())];
    let (a, b, c, d) = tokio::join!(
        s.apply(put("a")),
        s.apply(put("b")),
        s.apply(vec![DefinitionChange::delete("k", "x")]),
        s.apply(put("d")),
    );
    for r in [a, b, c, d] {
        r.expect("apply");
    }
    let mut replayed: BTreeMap<(String, String), Vec<u8>> = BTreeMap::new();
    for _ in 0..4 {
        let Notification::Changed { changes, .. } = watch.recv().await.expect("notification")
        else {
            panic!("a reset nobody asked for");
        };
        for c in changes {
            match c.value {
                Some(v) => replayed.insert((c.kind, c.key), v),
                None => replayed.remove(&(c.kind, c.key)),
            };
        }
    }
    assert!(matches!(watch.try_recv(), Err(TryRecvError::Empty)));
    let read: Vec<_> = s
        .definitions()
        .await
        .expect("definitions")
        .items
        .into_iter()
        .filter(|(_, key, _)| key != "before")
        .collect();
    let replayed: Vec<_> = replayed.into_iter().map(|((k, n), v)| (k, n, v)).collect();
    assert_eq!(read, replayed);
}

/// A reader never sees half of an apply: while applies each set two definitions to the same
/// value, every read finds the two equal.
pub async fn a_reader_never_sees_half_an_apply<B: Backend>() {
    let h = Harness::<B>::open().await;
    let s = h.store();
    let pair = |v: u8| {
        vec![
            DefinitionChange::put("k", "a", vec![v]),
            DefinitionChange::put("k", "b", vec![v]),
        ]
    };
    s.apply(pair(0)).await.expect("apply");
    let writes = async {
        for v in 1..=20 {
            s.apply(pair(v)).await.expect("apply");
        }
    };
    let reads = async {
        let mut seen = Vec::new();
        for _ in 0..20 {
            let defs = s.definitions().await.expect("definitions").items;
            let values: Vec<&Vec<u8>> = defs.iter().map(|(_, _, v)| v).collect();
            assert_eq!(values.len(), 2, "{defs:?}");
            assert_eq!(values[0], values[1], "half an apply: {defs:?}");
            seen.push(values[0][0]);
            tokio::task::yield_now().await;
        }
        seen
    };
    let ((), seen) = tokio::join!(writes, reads);
    assert_eq!(seen.len(), 20);
    assert_eq!(
        s.definitions().await.expect("definitions").items,
        [
            ("k".to_owned(), "a".to_owned(), vec![20]),
            ("k".to_owned(), "b".to_owned(), vec![20])
        ]
    );
}

/// Every commit that changes definitions has a version: the feed announces versions in commit
/// order, `definitions` says which version it reflects, and a watcher that has seen a version
/// finds that change (and every earlier one) in `definitions`.
pub async fn the_feed_and_the_definitions_carry_versions<B: Backend>() {
    let h = Harness::<B>::open().await;
    let s = h.store();
    let start = s.definitions().await.expect("definitions").version;
    let mut watch = s.watch();
    let put = |n: u8| vec![DefinitionChange::put("k", format!("x{n}"), vec![n])];
    let (a, b, c) = tokio::join!(s.apply(put(1)), s.apply(put(2)), s.apply(put(3)));
    let mut answered = [a, b, c].map(|r| r.expect("apply")).to_vec();
    answered.sort_unstable();
    let mut announced = Vec::new();
    for _ in 0..3 {
        announced.push(watch.recv().await.expect("notification").version());
    }
    assert_eq!(
        announced, answered,
        "announced in version order, as answered"
    );
    assert!(announced[0] > start);
    let read = s.definitions().await.expect("definitions");
    assert_eq!(read.version, announced[2]);
    assert_eq!(read.items.len(), 3);
}
