//! Definitions ([`DefinitionStore`](eddy_store::DefinitionStore)): an apply commits its group of
//! changes at once and is announced whole to every watcher, in commit order; `definitions` reads
//! them ordered by kind then key and reflects every acknowledged change; reset wipes everything
//! and says so.

use std::collections::BTreeMap;

use eddy_store::{DefinitionChange, Notification, Store};
use tokio::sync::broadcast::error::TryRecvError;

use crate::{Backend, Harness, T0, log, message, whole_group, with_work};

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
    s.apply(first.clone()).await.expect("apply");
    let second = vec![
        DefinitionChange::delete("bus", "r:a"),
        DefinitionChange::put("rule", "r:a:x", b"3".to_vec()),
        DefinitionChange::delete("bus", "never"),
    ];
    s.apply(second.clone()).await.expect("apply");
    assert_eq!(
        watch.recv().await.expect("notification"),
        Notification::Changed(first)
    );
    assert_eq!(
        watch.recv().await.expect("notification"),
        Notification::Changed(second)
    );
    assert!(matches!(watch.try_recv(), Err(TryRecvError::Empty)));
    let want = vec![("rule".to_owned(), "r:a:x".to_owned(), b"3".to_vec())];
    assert_eq!(s.definitions().await.expect("definitions"), want);
    h.restart().await;
    assert_eq!(h.store().definitions().await.expect("definitions"), want);
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
    let got = s.definitions().await.expect("definitions");
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
        let Notification::Changed(changes) = watch.recv().await.expect("notification") else {
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
        .into_iter()
        .filter(|(_, key, _)| key != "before")
        .collect();
    let replayed: Vec<_> = replayed.into_iter().map(|((k, n), v)| (k, n, v)).collect();
    assert_eq!(read, replayed);
}

/// Reset wipes every concern (events, work, dead letters, definitions, queues, logs, ticks) and
/// tells watchers.
pub async fn reset_wipes_everything_and_says_so<B: Backend>() {
    let h = Harness::<B>::open().await;
    let s: &dyn Store = h.store();
    let mut batch = with_work("e", 2, T0);
    batch.ticks = vec![eddy_store::Tick {
        schedule: "s".into(),
        tick_ms: 60_000,
    }];
    s.append(batch).await.expect("append");
    let items = s.lease(None, T0, 1, 60_000).await.expect("lease");
    assert!(
        s.dead_letter(items[0].lease(), "x".into(), T0)
            .await
            .expect("dead letter")
    );
    s.apply(vec![DefinitionChange::put("bus", "b", b"1".to_vec())])
        .await
        .expect("apply");
    s.queue_send("q".into(), vec![message("m")], T0, Vec::new())
        .await
        .expect("send");
    s.logs_append(vec![log("g", "s", 1)], T0, Vec::new())
        .await
        .expect("logs");
    let mut watch = s.watch();
    s.reset().await.expect("reset");
    assert_eq!(
        watch.recv().await.expect("notification"),
        Notification::Reset
    );
    let c = s.counts().await.expect("counts");
    assert_eq!(
        (
            c.events,
            c.work_items,
            c.dead_letters,
            c.definitions,
            c.oldest_event_ms
        ),
        (0, 0, 0, 0, None)
    );
    assert!(s.events(0, 10).await.expect("events").is_empty());
    assert!(s.dead_letters(10).await.expect("dead").is_empty());
    assert!(s.definitions().await.expect("definitions").is_empty());
    assert_eq!(s.next_due().await.expect("next due"), None);
    assert_eq!(
        s.queue_stats("q".into(), T0).await.expect("stats").visible,
        0
    );
    assert!(
        s.logs_read(whole_group("g"))
            .await
            .expect("logs")
            .is_empty()
    );
    assert!(s.ticks().await.expect("ticks").is_empty());
    // The store works on after a reset.
    s.append(with_work("after", 1, T0)).await.expect("append");
    assert_eq!(s.counts().await.expect("counts").work_items, 1);
}
