//! The event log ([`EventLog`]): appends are atomic with the work they owe, the work they
//! complete and the ticks they record; positions grow in append order and are never reused;
//! reads by position and by event time (paged without gaps or repeats); counts; expiry (what
//! work items, dead letters and per-bus keep rules hold stays).

use eddy_store::{
    AppendBatch, EventLog, EventRange, Expiry, NewWork, StoreError, StoredEvent, Tick,
};

use crate::{Backend, Harness, T0, event, with_work};

/// Appends `ids` on `bus` ingested at `at`, with a work item for those in `with_work`.
async fn append_at(
    log: &dyn EventLog,
    bus: &str,
    at: i64,
    ids: &[&str],
    with_work: &[&str],
) -> Result<(), StoreError> {
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
        batch.events.push(event(id, bus, 0));
    }
    log.append(batch).await
}

async fn append_plain(log: &dyn EventLog, events: Vec<eddy_store::NewEvent>) {
    log.append(AppendBatch {
        events,
        now_ms: Some(T0),
        ..AppendBatch::default()
    })
    .await
    .expect("append");
}

/// The ids of every event in the log, sorted.
async fn all_ids(log: &dyn EventLog) -> Vec<String> {
    let mut out: Vec<String> = log
        .events(0, 10_000)
        .await
        .expect("events")
        .into_iter()
        .map(|e| e.id)
        .collect();
    out.sort();
    out
}

fn names(events: &[StoredEvent]) -> Vec<&str> {
    events.iter().map(|e| e.id.as_str()).collect()
}

/// Events read back as appended (id, bus, event time, ingestion time, body), in append order
/// with growing positions; `events(after, limit)` pages by position.
pub async fn appended_events_read_back_in_order<B: Backend>() {
    let h = Harness::<B>::open().await;
    let s = h.store();
    assert!(s.events(0, 10).await.expect("events").is_empty());
    let mut first = event("b", "r:x", 20);
    first.hops = 2;
    s.append(AppendBatch {
        events: vec![first, event("a", "r:y", 10)],
        now_ms: Some(T0 + 5),
        ..AppendBatch::default()
    })
    .await
    .expect("append");
    append_plain(s, vec![event("c", "r:x", 5)]).await;
    let all = s.events(0, 10).await.expect("events");
    assert_eq!(names(&all), ["b", "a", "c"], "append order");
    assert!(all.windows(2).all(|w| w[0].seq < w[1].seq), "{all:?}");
    assert_eq!(
        (all[0].bus.as_str(), all[0].time_ms, all[0].ingested_ms),
        ("r:x", 20, T0 + 5)
    );
    assert_eq!(all[0].body, r#"{"id":"b"}"#);
    assert_eq!(all[2].ingested_ms, T0);
    let page = s.events(all[0].seq, 1).await.expect("events");
    assert_eq!(names(&page), ["a"]);
    let rest = s.events(all[1].seq, 10).await.expect("events");
    assert_eq!(names(&rest), ["c"]);
    assert!(s.events(all[2].seq, 10).await.expect("events").is_empty());
}

/// An append that fails (a work item naming no event of its batch) leaves nothing: no event, no
/// work item, no tick, no acknowledged item removed.
pub async fn a_failed_append_leaves_nothing<B: Backend>() {
    let h = Harness::<B>::open().await;
    let s = h.store();
    s.append(with_work("w", 1, T0)).await.expect("append");
    let held = s.lease(None, T0, 1, 60_000).await.expect("lease");
    let mut bad = with_work("bad", 2, T0);
    bad.work[1].event = 7;
    bad.ack = vec![held[0].lease()];
    bad.ticks = vec![Tick {
        schedule: "s".into(),
        tick_ms: 60_000,
    }];
    assert!(s.append(bad).await.is_err(), "a work item naming no event");
    let counts = s.counts().await.expect("counts");
    assert_eq!((counts.events, counts.work_items), (1, 1));
    assert_eq!(all_ids(s).await, ["w0"]);
    assert!(s.ticks().await.expect("ticks").is_empty());
    // The lease the failed append named is still current.
    assert!(s.ack(vec![held[0].lease()]).await.expect("ack").is_empty());
}

/// An append that completes a work item whose lease is no longer current (a stale holder's late
/// forward) appends nothing and answers [`StoreError::LeaseLost`] naming exactly the lost leases.
pub async fn a_stale_forward_appends_nothing<B: Backend>() {
    let h = Harness::<B>::open().await;
    let s = h.store();
    s.append(with_work("w", 2, T0)).await.expect("append");
    let held = s.lease(None, T0, 2, 1_000).await.expect("lease");
    let (current, lost) = (held[0].lease(), held[1].lease());
    assert!(s.nack(lost, T0).await.expect("nack"));
    let mut forward = with_work("fwd", 1, T0);
    forward.ack = vec![current, lost];
    forward.ticks = vec![Tick {
        schedule: "s".into(),
        tick_ms: 1,
    }];
    let e = s.append(forward).await.expect_err("a lost lease");
    assert!(
        matches!(&e, StoreError::LeaseLost(l) if l == &vec![lost]),
        "{e:?}"
    );
    assert_eq!(all_ids(s).await, ["w0", "w1"]);
    assert_eq!(s.counts().await.expect("counts").work_items, 2);
    assert!(s.ticks().await.expect("ticks").is_empty());
    // The current lease was not settled by the refused append.
    let mut ok = with_work("fwd", 1, T0);
    ok.ack = vec![current];
    s.append(ok).await.expect("a current lease");
    assert_eq!(s.counts().await.expect("counts").work_items, 2);
    assert_eq!(all_ids(s).await, ["fwd0", "w0", "w1"]);
}

/// Positions grow in append order and are never reused: not after the newest events expired,
/// not after a restart, not after a reset; counts stay exact meanwhile.
pub async fn positions_are_never_reused<B: Backend>() {
    let mut h = Harness::<B>::open().await;
    append_at(h.store(), "r:a", 1_000, &["a", "b", "c"], &[])
        .await
        .expect("append");
    let before = h.store().events(0, 10).await.expect("events");
    let top = before.last().expect("three events").seq;
    let expired = h
        .store()
        .expire(Expiry {
            events_before_ms: Some(i64::MAX),
            max_events: 100,
            ..Expiry::default()
        })
        .await
        .expect("expire");
    let left = h.store().events(0, 10).await.expect("events");
    assert_eq!(expired.events as usize + left.len(), 3);
    append_at(h.store(), "r:a", 2_000, &["d"], &[])
        .await
        .expect("append");
    let d = h.store().events(top, 10).await.expect("events");
    assert_eq!(names(&d), ["d"], "the new event is after every earlier one");
    h.restart().await;
    append_at(h.store(), "r:a", 3_000, &["e"], &[])
        .await
        .expect("append");
    let e = h.store().events(d[0].seq, 10).await.expect("events");
    assert_eq!(names(&e), ["e"], "and after a restart too");
    assert_eq!(
        h.store().counts().await.expect("counts").events,
        left.len() as u64 + 2
    );
    h.store().reset().await.expect("reset");
    assert_eq!(h.store().counts().await.expect("counts").events, 0);
    append_at(h.store(), "r:a", 4_000, &["f"], &[])
        .await
        .expect("append");
    let f = h.store().events(0, 10).await.expect("events");
    assert_eq!(names(&f), ["f"]);
    assert!(f[0].seq > e[0].seq, "nor after a reset");
    assert_eq!(h.store().counts().await.expect("counts").events, 1);
}

/// One bus's events in an event-time window, in event-time order (then position), start
/// inclusive and end exclusive; pages of one resume after `(time_ms, seq)` without gaps or
/// repeats, also between two events of the same time.
pub async fn events_by_time_reads_a_window_in_event_time_order<B: Backend>() {
    let h = Harness::<B>::open().await;
    let s = h.store();
    // Appended out of event-time order, on two buses, with two events at the same time.
    append_plain(
        s,
        vec![
            event("c", "r:a", 300),
            event("a", "r:a", 100),
            event("x", "r:b", 150),
            event("b1", "r:a", 200),
            event("e", "r:a", 500),
        ],
    )
    .await;
    append_plain(s, vec![event("b2", "r:a", 200), event("d", "r:a", 400)]).await;

    let all = s
        .events_by_time(EventRange::all("r:a", 100))
        .await
        .expect("read");
    assert_eq!(names(&all), ["a", "b1", "b2", "c", "d", "e"]);
    assert!(all.iter().all(|e| e.bus == "r:a"));

    let window = EventRange {
        from_ms: 200,
        to_ms: 500,
        ..EventRange::all("r:a", 100)
    };
    let got = s.events_by_time(window.clone()).await.expect("read");
    assert_eq!(names(&got), ["b1", "b2", "c", "d"]);
    let limited = s
        .events_by_time(EventRange {
            limit: 2,
            ..window.clone()
        })
        .await
        .expect("read");
    assert_eq!(names(&limited), ["b1", "b2"]);

    let mut paged = Vec::new();
    let mut after = None;
    loop {
        let page = s
            .events_by_time(EventRange {
                after,
                limit: 1,
                ..window.clone()
            })
            .await
            .expect("read");
        assert!(page.len() <= 1);
        let Some(last) = page.last() else { break };
        after = Some((last.time_ms, last.seq));
        paged.extend(page);
    }
    assert_eq!(names(&paged), ["b1", "b2", "c", "d"]);

    let b = s
        .events_by_time(EventRange::all("r:b", 100))
        .await
        .expect("read");
    assert_eq!(names(&b), ["x"]);
    let none = s
        .events_by_time(EventRange {
            from_ms: 600,
            ..EventRange::all("r:a", 100)
        })
        .await
        .expect("read");
    assert!(none.is_empty());
    let unknown = s
        .events_by_time(EventRange::all("r:none", 100))
        .await
        .expect("read");
    assert!(unknown.is_empty());
}

/// `events_by_time` keeps only events ingested in `[ingested_from_ms, ingested_to_ms)`, and reads
/// the same after a restart.
pub async fn events_by_time_filters_by_ingestion_time<B: Backend>() {
    let mut h = Harness::<B>::open().await;
    let s = h.store();
    s.append(AppendBatch {
        events: vec![event("old", "r:a", 10)],
        now_ms: Some(T0),
        ..AppendBatch::default()
    })
    .await
    .expect("append");
    s.append(AppendBatch {
        events: vec![event("new", "r:a", 5)],
        now_ms: Some(T0 + 10),
        ..AppendBatch::default()
    })
    .await
    .expect("append");
    h.restart().await;
    let s = h.store();
    let read = |from: i64, to: i64| {
        s.events_by_time(EventRange {
            ingested_from_ms: from,
            ingested_to_ms: to,
            ..EventRange::all("r:a", 10)
        })
    };
    assert_eq!(names(&read(T0 + 1, i64::MAX).await.expect("read")), ["new"]);
    assert_eq!(
        names(&read(T0 + 10, i64::MAX).await.expect("read")),
        ["new"]
    );
    assert_eq!(
        names(&read(i64::MIN, T0 + 10).await.expect("read")),
        ["old"]
    );
    assert_eq!(
        names(&read(i64::MIN, i64::MAX).await.expect("read")),
        ["new", "old"]
    );
    assert!(read(T0 + 1, T0 + 10).await.expect("read").is_empty());
}

/// `counts` counts events, work items, dead letters and definitions, and says when the oldest
/// event still in the log was ingested; expiry and settling change them.
pub async fn counts_count_what_the_store_holds<B: Backend>() {
    let h = Harness::<B>::open().await;
    let s = h.store();
    let empty = s.counts().await.expect("counts");
    assert_eq!(
        (
            empty.events,
            empty.work_items,
            empty.dead_letters,
            empty.definitions,
            empty.oldest_event_ms
        ),
        (0, 0, 0, 0, None)
    );
    s.append(with_work("a", 3, T0 + 7)).await.expect("append");
    append_at(s, "r:b", T0 + 9, &["b"], &[])
        .await
        .expect("append");
    s.apply(vec![
        eddy_store::DefinitionChange::put("bus", "r:a", b"{}".to_vec()),
        eddy_store::DefinitionChange::put("bus", "r:b", b"{}".to_vec()),
    ])
    .await
    .expect("apply");
    let items = s.lease(None, T0 + 10, 2, 60_000).await.expect("lease");
    assert!(
        s.dead_letter(items[0].lease(), "gave up".into(), T0 + 10)
            .await
            .expect("dead letter")
    );
    assert!(s.ack(vec![items[1].lease()]).await.expect("ack").is_empty());
    let c = s.counts().await.expect("counts");
    assert_eq!(
        (
            c.events,
            c.work_items,
            c.dead_letters,
            c.definitions,
            c.oldest_event_ms
        ),
        (4, 1, 1, 2, Some(T0 + 7))
    );
}

/// Expiry deletes old events that nothing refers to; an event with pending work stays, and so
/// does every later one; a bus's keep rule holds its events; young events stay. Counts follow.
pub async fn expiry_deletes_only_what_nothing_needs<B: Backend>() {
    let h = Harness::<B>::open().await;
    let s = h.store();
    let append = |bus: &'static str, at, ids: &'static [&'static str], work| async move {
        append_at(s, bus, at, ids, work).await.expect("append");
    };
    append("r:plain", 1_000, &["old-a", "old-b"], &[]).await;
    append("r:archived", 1_000, &["kept-by-archive"], &[]).await;
    append(
        "r:plain",
        2_000,
        &["old-with-work", "after-work"],
        &["old-with-work"],
    )
    .await;
    append("r:plain", 9_000, &["young"], &[]).await;
    let expiry = Expiry {
        events_before_ms: Some(5_000),
        keep: vec![("r:archived".into(), 0)],
        dead_before_ms: None,
        max_events: 100,
    };
    let expired = s.expire(expiry.clone()).await.expect("expire");
    assert_eq!((expired.events, expired.dead_letters), (2, 0));
    assert_eq!(
        all_ids(s).await,
        ["after-work", "kept-by-archive", "old-with-work", "young"]
    );
    assert_eq!(s.counts().await.expect("counts").events, 4);
    // Once the work is done, both go.
    let items = s.lease(None, 10_000, 10, 60_000).await.expect("lease");
    assert_eq!(items.len(), 1);
    assert!(s.ack(vec![items[0].lease()]).await.expect("ack").is_empty());
    assert_eq!(s.expire(expiry).await.expect("expire").events, 2);
    assert_eq!(all_ids(s).await, ["kept-by-archive", "young"]);
    let c = s.counts().await.expect("counts");
    assert_eq!((c.events, c.oldest_event_ms), (2, Some(1_000)));
    // A keep rule holds only what was ingested at or after its time.
    let expiry = Expiry {
        events_before_ms: Some(5_000),
        keep: vec![("r:archived".into(), 1_001)],
        dead_before_ms: None,
        max_events: 100,
    };
    assert_eq!(s.expire(expiry).await.expect("expire").events, 1);
    assert_eq!(all_ids(s).await, ["young"]);
}

/// A dead letter holds its event until the dead letter itself expires (by when it died).
pub async fn a_dead_letter_keeps_its_event_until_it_expires<B: Backend>() {
    let h = Harness::<B>::open().await;
    let s = h.store();
    append_at(s, "r:plain", 1_000, &["dead"], &["dead"])
        .await
        .expect("append");
    let items = s.lease(None, 1_000, 10, 60_000).await.expect("lease");
    assert!(
        s.dead_letter(items[0].lease(), "gave up".into(), 2_000)
            .await
            .expect("dead letter")
    );
    let mut expiry = Expiry {
        events_before_ms: Some(50_000),
        keep: Vec::new(),
        dead_before_ms: Some(1_500),
        max_events: 100,
    };
    let expired = s.expire(expiry.clone()).await.expect("expire");
    assert_eq!((expired.events, expired.dead_letters), (0, 0));
    assert_eq!(all_ids(s).await, ["dead"]);
    // Dead at 2_000: not before 2_000.
    expiry.dead_before_ms = Some(2_000);
    let expired = s.expire(expiry.clone()).await.expect("expire");
    assert_eq!((expired.events, expired.dead_letters), (0, 0));
    expiry.dead_before_ms = Some(3_000);
    let expired = s.expire(expiry).await.expect("expire");
    assert_eq!((expired.events, expired.dead_letters), (1, 1));
    assert!(all_ids(s).await.is_empty());
    assert!(s.dead_letters(10).await.expect("dead").is_empty());
}

/// One `expire` call deletes at most `max_events` events, oldest first; a call that deletes fewer
/// left none.
pub async fn expiry_deletes_at_most_max_events_per_call<B: Backend>() {
    let h = Harness::<B>::open().await;
    let s = h.store();
    let names: Vec<String> = (0..25).map(|i| format!("e{i:02}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    append_at(s, "r:plain", 1_000, &refs, &[])
        .await
        .expect("append");
    let expiry = Expiry {
        events_before_ms: Some(5_000),
        keep: Vec::new(),
        dead_before_ms: None,
        max_events: 10,
    };
    let first = s.expire(expiry.clone()).await.expect("expire").events;
    assert_eq!(all_ids(s).await, refs[10..], "the oldest went first");
    let mut calls = vec![first];
    while calls.last() == Some(&10) {
        calls.push(s.expire(expiry.clone()).await.expect("expire").events);
    }
    assert_eq!(calls, [10, 10, 5], "fewer than max_events: none left");
    assert!(all_ids(s).await.is_empty());
}

/// Appends made at the same time (a backend may share one commit among them) are each
/// acknowledged whole, with all their work.
pub async fn concurrent_appends_are_all_kept<B: Backend>() {
    let h = Harness::<B>::open().await;
    let s = h.store();
    let (a, b, c) = tokio::join!(
        s.append(with_work("a", 3, T0)),
        s.append(with_work("b", 1, T0)),
        s.append(with_work("c", 2, T0)),
    );
    a.expect("append a");
    b.expect("append b");
    c.expect("append c");
    assert_eq!(all_ids(s).await, ["a0", "a1", "a2", "b0", "c0", "c1"]);
    let all = s.events(0, 10).await.expect("events");
    // Each batch's events are contiguous and in order.
    for prefix in ["a", "b", "c"] {
        let seqs: Vec<i64> = all
            .iter()
            .filter(|e| e.id.starts_with(prefix))
            .map(|e| e.seq)
            .collect();
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{prefix}: {seqs:?}");
    }
    assert_eq!(s.counts().await.expect("counts").work_items, 6);
    let leased = s.lease(None, T0, 10, 1_000).await.expect("lease");
    let mut got: Vec<&str> = leased.iter().map(|w| w.event_id.as_str()).collect();
    got.sort();
    assert_eq!(got, ["a0", "a1", "a2", "b0", "c0", "c1"]);
}
