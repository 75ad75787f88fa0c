//! What concerns the whole store ([`Store`]): reset wipes every concern and tells watchers;
//! health says writes succeed while they do.

use eddy_store::{DefinitionChange, Notification, Store, StoreHealth, Tick};

use crate::{Backend, Harness, T0, log, message, whole_group, with_work};

/// Reset wipes every concern (events, work, dead letters, definitions, queues, logs, ticks) and
/// tells watchers.
pub async fn reset_wipes_everything_and_says_so<B: Backend>() {
    let h = Harness::<B>::open().await;
    let s: &dyn Store = h.store();
    let mut batch = with_work("e", 2, T0);
    batch.ticks = vec![Tick {
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
    let before = s.definitions().await.expect("definitions").version;
    let mut watch = s.watch();
    let version = s.reset().await.expect("reset");
    assert!(
        version > before,
        "a reset has a later version: {before}, {version}"
    );
    assert_eq!(
        watch.recv().await.expect("notification"),
        Notification::Reset { version }
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
    let wiped = s.definitions().await.expect("definitions");
    assert!(wiped.items.is_empty());
    assert_eq!(wiped.version, version);
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

/// A store whose writes succeed reports [`StoreHealth::Ok`], before and after writing (the
/// full-disk side of health is each backend's own test: it needs a disk that fills up).
pub async fn health_is_ok_while_writes_succeed<B: Backend>() {
    let h = Harness::<B>::open().await;
    let s = h.store();
    assert_eq!(s.health(), StoreHealth::Ok);
    s.append(with_work("e", 1, T0)).await.expect("append");
    s.apply(vec![DefinitionChange::put("k", "v", b"1".to_vec())])
        .await
        .expect("apply");
    assert_eq!(s.health(), StoreHealth::Ok);
}

/// `reclaim` gives back at most what it is asked, changes nothing a read sees, and runs dry: after
/// most of a large log expires, repeated calls answer less than their bound within a bounded
/// number of calls (a backend whose engine reclaims by itself answers 0 at once).
pub async fn reclaim_is_bounded_and_changes_nothing_read<B: Backend>() {
    let h = Harness::<B>::open().await;
    let s = h.store();
    let body = format!("{{\"pad\":\"{}\"}}", "x".repeat(4_000));
    for chunk in 0..10 {
        let events = (0..100)
            .map(|n| eddy_store::NewEvent {
                id: format!("e{chunk}-{n}"),
                bus: "r:b".into(),
                time_ms: 0,
                body: body.clone(),
                hops: 0,
            })
            .collect();
        s.append(eddy_store::AppendBatch {
            events,
            now_ms: Some(if chunk == 9 { 5_000 } else { 1_000 }),
            ..eddy_store::AppendBatch::default()
        })
        .await
        .expect("append");
    }
    loop {
        let e = s
            .expire(eddy_store::Expiry {
                events_before_ms: Some(2_000),
                max_events: 500,
                ..eddy_store::Expiry::default()
            })
            .await
            .expect("expire");
        if e.events == 0 {
            break;
        }
    }
    let kept: Vec<String> = s
        .events(0, 1_000)
        .await
        .expect("events")
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(kept.len(), 100);
    let step = 256 << 10;
    let mut calls = 0;
    loop {
        let given = s.reclaim(step).await.expect("reclaim");
        assert!(given <= step, "at most the bound: {given}");
        calls += 1;
        if given < step {
            break;
        }
        assert!(calls < 1_000, "reclaim never runs dry");
    }
    let after: Vec<String> = s
        .events(0, 1_000)
        .await
        .expect("events")
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(after, kept, "reclaiming changed what a read sees");
}
