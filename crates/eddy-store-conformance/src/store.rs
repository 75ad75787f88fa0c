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
