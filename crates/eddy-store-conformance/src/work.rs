//! Work items and fenced leases ([`WorkStore`]): what a lease hands out and in which order;
//! every settle and renewal honoured only for the current lease (a stale holder is refused and
//! nothing changes for it); writes that complete work items with their delivery refused whole
//! for a stale holder ([`StoreError::LeaseLost`]); lease deadlines on the store's clock, due
//! times on the callers'; `release_leases`; ids never reused. The model test ([`crate::model`])
//! checks the same rules in random sequences.

use eddy_store::{AppendBatch, Lease, NewEvent, NewWork, StoreError, WorkItem, WorkStore};

use crate::{Backend, Harness, T0, event, ids, message, with_work};

const LEASE_MS: i64 = 1_000;

async fn lease_one(store: &dyn WorkStore, now: i64) -> WorkItem {
    let mut got = store.lease(None, now, 1, LEASE_MS).await.expect("lease");
    assert_eq!(got.len(), 1, "one item to lease");
    got.remove(0)
}

async fn nothing_due(store: &dyn WorkStore, now: i64) -> bool {
    store
        .lease(None, now, 10, LEASE_MS)
        .await
        .expect("lease")
        .is_empty()
}

/// One item; the first holder's lease runs out (by the store's clock) and the item goes to a
/// second holder with a new token: the first is stale.
async fn taken_over<B: Backend>(h: &Harness<B>) -> (WorkItem, WorkItem) {
    let s = h.store();
    s.append(with_work("e", 1, T0)).await.expect("append");
    let first = lease_one(s, T0).await;
    assert!(
        nothing_due(s, T0).await,
        "a leased item is not handed out again while its lease runs"
    );
    h.clock().advance(LEASE_MS - 1);
    assert!(nothing_due(s, T0).await, "not before the lease ends");
    h.clock().advance(1);
    let second = lease_one(s, T0).await;
    assert_eq!(second.id, first.id);
    assert!(second.token > first.token, "a new lease, a new token");
    assert_eq!((first.attempts, second.attempts), (1, 2));
    (first, second)
}

/// A leased item carries its event (id, bus, body, hops), its rule and target, when it was
/// created (the event's ingestion time) and its attempts.
pub async fn appended_work_is_leased_with_its_event<B: Backend>() {
    let h = Harness::<B>::open().await;
    let s = h.store();
    s.append(AppendBatch {
        events: vec![NewEvent {
            hops: 3,
            ..event("e", "r:bus", 42)
        }],
        work: vec![NewWork {
            event: 0,
            rule: "arn:rule".into(),
            target: "target-1".into(),
        }],
        now_ms: Some(T0 + 7),
        ..AppendBatch::default()
    })
    .await
    .expect("append");
    assert!(nothing_due(s, T0 + 6).await, "due at its ingestion time");
    let w = lease_one(s, T0 + 7).await;
    assert_eq!(
        (
            w.event_id.as_str(),
            w.bus.as_str(),
            w.rule.as_str(),
            w.target.as_str(),
            w.body.as_str(),
            w.hops,
            w.attempts,
            w.created_ms,
        ),
        (
            "e",
            "r:bus",
            "arn:rule",
            "target-1",
            r#"{"id":"e"}"#,
            3,
            1,
            T0 + 7
        )
    );
    assert_eq!(
        w.lease(),
        Lease {
            id: w.id,
            token: w.token
        }
    );
}

/// An append that gives no time (`now_ms: None`) is stamped by the store's own clock: its
/// events' ingestion time, and when its work is due.
pub async fn an_append_without_a_time_is_stamped_by_the_stores_clock<B: Backend>() {
    let h = Harness::<B>::open().await;
    let s = h.store();
    h.clock().advance(500);
    let mut batch = with_work("e", 1, 0);
    batch.now_ms = None;
    s.append(batch).await.expect("append");
    let events = s.events(0, 10).await.expect("events");
    assert_eq!(events[0].ingested_ms, T0 + 500);
    assert_eq!(s.next_due().await.expect("next due"), Some(T0 + 500));
    assert!(nothing_due(s, T0 + 499).await);
    assert_eq!(lease_one(s, T0 + 500).await.created_ms, T0 + 500);
}

/// A lease hands out first the items whose lease ran out (oldest deadline first), then the
/// items due by the callers' clock (oldest due first, then oldest item), at most `max`.
pub async fn lease_order_is_lapsed_leases_then_oldest_due<B: Backend>() {
    let h = Harness::<B>::open().await;
    let s = h.store();
    s.append(with_work("a", 4, T0)).await.expect("append");
    let all = s.lease(None, T0, 4, LEASE_MS).await.expect("lease");
    assert_eq!(all.len(), 4);
    // Item 0 due later than item 1; item 2 lapses after item 3.
    assert!(s.nack(all[0].lease(), T0 + 20).await.expect("nack"));
    assert!(s.nack(all[1].lease(), T0 + 10).await.expect("nack"));
    assert!(
        s.extend(vec![all[2].lease()], LEASE_MS + 5)
            .await
            .expect("extend")
            .is_empty()
    );
    h.clock().advance(LEASE_MS + 5);
    s.append(with_work("b", 1, T0 + 5)).await.expect("append");
    let got = s.lease(None, T0 + 30, 2, LEASE_MS).await.expect("lease");
    assert_eq!(
        ids(&got),
        [all[3].id, all[2].id],
        "lapsed, oldest deadline first"
    );
    let got = s.lease(None, T0 + 30, 10, LEASE_MS).await.expect("lease");
    let names: Vec<&str> = got.iter().map(|w| w.event_id.as_str()).collect();
    assert_eq!(names, ["b0", "a1", "a0"], "then by due time");
}

/// `lease(Some(target), ..)` hands out only that target's items.
pub async fn lease_by_target<B: Backend>() {
    let h = Harness::<B>::open().await;
    let s = h.store();
    let mut batch = with_work("e", 2, T0);
    batch.work.push(NewWork {
        event: 0,
        rule: "rule".into(),
        target: "other".into(),
    });
    s.append(batch).await.expect("append");
    let got = s
        .lease(Some("other".into()), T0, 10, LEASE_MS)
        .await
        .expect("lease");
    assert_eq!(got.len(), 1);
    assert_eq!(
        (got[0].event_id.as_str(), got[0].target.as_str()),
        ("e0", "other")
    );
    assert!(
        s.lease(Some("none".into()), T0, 10, LEASE_MS)
            .await
            .expect("lease")
            .is_empty()
    );
    let rest = s.lease(None, T0, 10, LEASE_MS).await.expect("lease");
    assert!(rest.iter().all(|w| w.target == "t") && rest.len() == 2);
}

/// A stale holder's ack is refused and changes nothing; the current holder's is accepted; an
/// ack of a settled item is refused, not an error.
pub async fn a_stale_holders_ack_is_refused<B: Backend>() {
    let h = Harness::<B>::open().await;
    let s = h.store();
    let (stale, current) = taken_over(&h).await;
    let refused = s.ack(vec![stale.lease()]).await.expect("ack");
    assert_eq!(refused, vec![stale.lease()]);
    assert_eq!(s.counts().await.expect("counts").work_items, 1);
    assert!(s.ack(vec![current.lease()]).await.expect("ack").is_empty());
    assert_eq!(s.counts().await.expect("counts").work_items, 0);
    let refused = s.ack(vec![current.lease()]).await.expect("ack");
    assert_eq!(refused, vec![current.lease()]);
    // An id the store never handed out.
    let never = Lease {
        id: current.id + 1_000,
        token: 1,
    };
    assert_eq!(s.ack(vec![never]).await.expect("ack"), vec![never]);
}

/// One ack naming current and stale leases settles the current ones and answers the stale.
pub async fn a_batch_ack_settles_the_current_leases_and_answers_the_stale_ones<B: Backend>() {
    let h = Harness::<B>::open().await;
    let s = h.store();
    s.append(with_work("e", 2, T0)).await.expect("append");
    let first = s.lease(None, T0, 1, LEASE_MS).await.expect("lease");
    h.clock().advance(LEASE_MS);
    let second = s.lease(None, T0, 2, LEASE_MS).await.expect("lease");
    assert_eq!(second.len(), 2, "the lapsed lease and the waiting item");
    let mut all: Vec<Lease> = first.iter().chain(&second).map(WorkItem::lease).collect();
    all.sort();
    let refused = s.ack(all).await.expect("ack");
    assert_eq!(refused, vec![first[0].lease()]);
    assert_eq!(s.counts().await.expect("counts").work_items, 0);
}

/// A stale holder's nack and dead-letter are refused and change nothing; the current holder's
/// nack ends its lease (so it cannot settle twice).
pub async fn a_stale_holders_nack_and_dead_letter_are_refused<B: Backend>() {
    let h = Harness::<B>::open().await;
    let s = h.store();
    let (stale, current) = taken_over(&h).await;
    assert!(!s.nack(stale.lease(), T0).await.expect("nack"));
    assert!(
        !s.dead_letter(stale.lease(), "late".into(), T0)
            .await
            .expect("dead letter")
    );
    assert!(nothing_due(s, T0).await, "still the current holder's");
    assert_eq!(s.counts().await.expect("counts").dead_letters, 0);
    assert!(s.nack(current.lease(), T0 + 5).await.expect("nack"));
    assert!(!s.nack(current.lease(), T0).await.expect("nack"));
    assert!(
        !s.dead_letter(current.lease(), "late".into(), T0)
            .await
            .expect("dead letter"),
        "a nacked lease is over"
    );
    let again = lease_one(s, T0 + 5).await;
    assert!(again.token > current.token);
    assert!(
        s.dead_letter(again.lease(), "gave up".into(), T0)
            .await
            .expect("dead letter")
    );
    assert_eq!(s.counts().await.expect("counts").dead_letters, 1);
    assert!(!s.nack(again.lease(), T0).await.expect("nack"), "dead");
}

/// A nack makes the item due at the time the caller names, on the callers' clock, whatever the
/// store's clock says; the next lease counts one more attempt.
pub async fn a_nack_makes_the_item_due_at_the_callers_time<B: Backend>() {
    let h = Harness::<B>::open().await;
    let s = h.store();
    s.append(with_work("e", 1, T0)).await.expect("append");
    let w = lease_one(s, T0).await;
    assert!(s.nack(w.lease(), T0 + 100).await.expect("nack"));
    h.clock().advance(1_000_000);
    assert!(nothing_due(s, T0 + 99).await);
    let again = lease_one(s, T0 + 100).await;
    assert_eq!((again.id, again.attempts), (w.id, 2));
}

/// A dead letter keeps what the item was (its id, event, rule, target, attempts), the reason and
/// when it died; dead letters read oldest first.
pub async fn dead_letters_keep_the_item_and_the_reason<B: Backend>() {
    let h = Harness::<B>::open().await;
    let s = h.store();
    s.append(with_work("e", 2, T0)).await.expect("append");
    let items = s.lease(None, T0, 2, LEASE_MS).await.expect("lease");
    assert!(
        s.dead_letter(items[1].lease(), "first".into(), T0 + 1)
            .await
            .expect("dead letter")
    );
    assert!(s.nack(items[0].lease(), T0).await.expect("nack"));
    let again = lease_one(s, T0).await;
    assert!(
        s.dead_letter(again.lease(), "second".into(), T0 + 2)
            .await
            .expect("dead letter")
    );
    let dead = s.dead_letters(10).await.expect("dead letters");
    let got: Vec<_> = dead
        .iter()
        .map(|d| {
            (
                d.id,
                d.event_id.as_str(),
                d.bus.as_str(),
                d.rule.as_str(),
                d.target.as_str(),
                d.attempts,
                d.reason.as_str(),
                d.dead_ms,
                d.body.as_str(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                items[1].id,
                "e1",
                "r:default",
                "rule",
                "t",
                1,
                "first",
                T0 + 1,
                r#"{"id":"e1"}"#
            ),
            (
                items[0].id,
                "e0",
                "r:default",
                "rule",
                "t",
                2,
                "second",
                T0 + 2,
                r#"{"id":"e0"}"#
            ),
        ]
    );
    assert_eq!(s.dead_letters(1).await.expect("dead letters").len(), 1);
    assert_eq!(s.counts().await.expect("counts").work_items, 0);
}

/// Renewed often enough, a lease outlives many lease lengths; not renewed, it runs out and the
/// next holder gets the item, and the first can no longer renew.
pub async fn renewal_keeps_a_lease_and_a_stale_holder_cannot_renew<B: Backend>() {
    let h = Harness::<B>::open().await;
    let s = h.store();
    s.append(with_work("e", 1, T0)).await.expect("append");
    let held = lease_one(s, T0).await;
    for _ in 0..10 {
        h.clock().advance(LEASE_MS / 3);
        let refused = s
            .extend(vec![held.lease()], LEASE_MS)
            .await
            .expect("extend");
        assert!(refused.is_empty());
        assert!(nothing_due(s, T0).await);
    }
    h.clock().advance(LEASE_MS);
    let next = lease_one(s, T0).await;
    let refused = s
        .extend(vec![held.lease()], LEASE_MS)
        .await
        .expect("extend");
    assert_eq!(refused, vec![held.lease()]);
    assert!(
        s.extend(vec![next.lease()], LEASE_MS)
            .await
            .expect("extend")
            .is_empty()
    );
    // A renewal sets the end from now, also shorter than before.
    assert!(
        s.extend(vec![next.lease()], 10)
            .await
            .expect("extend")
            .is_empty()
    );
    h.clock().advance(10);
    assert_eq!(lease_one(s, T0).await.id, next.id);
}

/// The callers' clock moving forward (a dev clock, by a year) makes waiting items due but never
/// ends a lease: lease deadlines are on the store's clock.
pub async fn the_callers_clock_jumping_forward_never_ends_a_lease<B: Backend>() {
    let h = Harness::<B>::open().await;
    let s = h.store();
    s.append(with_work("e", 2, T0)).await.expect("append");
    let held = lease_one(s, T0).await;
    let year = 365 * 24 * 3_600_000;
    let got = s.lease(None, T0 + year, 10, LEASE_MS).await.expect("lease");
    assert_eq!(got.len(), 1);
    assert_ne!(got[0].id, held.id);
    assert!(nothing_due(s, T0 + 2 * year).await);
    h.clock().advance(LEASE_MS);
    let again = s
        .lease(None, T0 + 2 * year, 10, LEASE_MS)
        .await
        .expect("lease");
    assert_eq!(again.len(), 2);
}

/// A stale holder's delivery that completes its item (a queue send, a forward) is refused whole
/// with [`StoreError::LeaseLost`]: nothing is sent or appended; the current holder's lands and
/// settles the item.
pub async fn a_stale_holders_delivery_with_its_ack_is_refused_whole<B: Backend>() {
    let h = Harness::<B>::open().await;
    let s = h.store();
    let (stale, current) = taken_over(&h).await;
    let e = s
        .queue_send("q".into(), vec![message("late")], T0, vec![stale.lease()])
        .await
        .expect_err("stale");
    assert!(
        matches!(&e, StoreError::LeaseLost(l) if l == &vec![stale.lease()]),
        "{e:?}"
    );
    let stats = s.queue_stats("q".into(), T0).await.expect("stats");
    assert_eq!((stats.visible, stats.in_flight, stats.delayed), (0, 0, 0));
    let forward = |lease: Lease| AppendBatch {
        events: vec![NewEvent {
            hops: 1,
            ..event("fwd", "r:other", 0)
        }],
        ack: vec![lease],
        now_ms: Some(T0),
        ..AppendBatch::default()
    };
    let e = s.append(forward(stale.lease())).await.expect_err("stale");
    assert!(matches!(e, StoreError::LeaseLost(_)), "{e:?}");
    assert_eq!(s.counts().await.expect("counts").events, 1);
    s.queue_send(
        "q".into(),
        vec![message("on time")],
        T0,
        vec![current.lease()],
    )
    .await
    .expect("send");
    assert_eq!(
        s.queue_stats("q".into(), T0).await.expect("stats").visible,
        1
    );
    assert_eq!(s.counts().await.expect("counts").work_items, 0);
    // Settled: the same lease cannot deliver again.
    let e = s
        .queue_send(
            "q".into(),
            vec![message("twice")],
            T0,
            vec![current.lease()],
        )
        .await
        .expect_err("settled");
    assert!(matches!(e, StoreError::LeaseLost(_)), "{e:?}");
    assert_eq!(
        s.queue_stats("q".into(), T0).await.expect("stats").visible,
        1
    );
}

/// `release_leases` makes every leased item due at the time given, at once: the leases of a
/// process that died (here, held for an hour) are stale after a restart.
pub async fn release_leases_makes_every_lease_due_at_once<B: Backend>() {
    let mut h = Harness::<B>::open().await;
    h.store()
        .append(with_work("e", 4, T0))
        .await
        .expect("append");
    let held = h
        .store()
        .lease(None, T0, 3, 3_600_000)
        .await
        .expect("lease");
    assert_eq!(held.len(), 3);
    h.restart().await;
    let s = h.store();
    assert_eq!(s.release_leases(T0 + 1).await.expect("release"), 3);
    assert_eq!(s.next_due().await.expect("next due"), Some(T0));
    let again = s.lease(None, T0 + 1, 10, LEASE_MS).await.expect("lease");
    assert_eq!(again.len(), 4);
    for a in &held {
        let b = again.iter().find(|b| b.id == a.id).expect("leased again");
        assert!(b.token > a.token);
        assert_eq!(b.attempts, 2);
    }
    let refused = s
        .ack(held.iter().map(WorkItem::lease).collect())
        .await
        .expect("ack");
    assert_eq!(refused.len(), 3, "the dead process's leases are stale");
    assert_eq!(s.release_leases(T0 + 2).await.expect("release"), 4);
    assert_eq!(s.release_leases(T0 + 3).await.expect("release"), 0);
}

/// `release_leases_except` hands back every lease but those named (a holder's leases whose
/// answers it never got), which stay current: their holder still settles them.
pub async fn release_leases_except_keeps_the_named_leases<B: Backend>() {
    let h = Harness::<B>::open().await;
    let s = h.store();
    s.append(with_work("e", 5, T0)).await.expect("append");
    let held = s.lease(None, T0, 5, 3_600_000).await.expect("lease");
    assert_eq!(held.len(), 5);
    let keep: Vec<i64> = held[..2].iter().map(|w| w.id).collect();
    assert_eq!(
        s.release_leases_except(T0 + 1, keep.clone())
            .await
            .expect("release"),
        3
    );
    let again = s.lease(None, T0 + 1, 10, LEASE_MS).await.expect("lease");
    let mut ids: Vec<i64> = again.iter().map(|w| w.id).collect();
    ids.sort_unstable();
    let mut released: Vec<i64> = held[2..].iter().map(|w| w.id).collect();
    released.sort_unstable();
    assert_eq!(
        ids, released,
        "only the leases not kept are handed out again"
    );
    let kept: Vec<Lease> = held[..2].iter().map(WorkItem::lease).collect();
    assert!(
        s.ack(kept).await.expect("ack").is_empty(),
        "the kept leases are still current"
    );
    // Nothing kept: every lease goes back (those of the second round included).
    assert_eq!(
        s.release_leases_except(T0 + 2, Vec::new())
            .await
            .expect("release"),
        3
    );
}

/// `next_due` is when the earliest item that is not leased is due.
pub async fn next_due_ignores_leased_items<B: Backend>() {
    let h = Harness::<B>::open().await;
    let s = h.store();
    assert_eq!(s.next_due().await.expect("next due"), None);
    s.append(with_work("e", 1, T0 + 3)).await.expect("append");
    assert_eq!(s.next_due().await.expect("next due"), Some(T0 + 3));
    let held = lease_one(s, T0 + 3).await;
    assert_eq!(s.next_due().await.expect("next due"), None);
    assert!(s.nack(held.lease(), T0 + 7).await.expect("nack"));
    assert_eq!(s.next_due().await.expect("next due"), Some(T0 + 7));
    let held = lease_one(s, T0 + 7).await;
    assert!(s.ack(vec![held.lease()]).await.expect("ack").is_empty());
    assert_eq!(s.next_due().await.expect("next due"), None);
}

/// Work item ids are never reused, also after the newest item was settled: a late ack can only
/// ever name the item it delivered.
pub async fn ids_are_never_reused<B: Backend>() {
    let mut h = Harness::<B>::open().await;
    let s = h.store();
    s.append(with_work("a", 1, T0)).await.expect("append");
    let first = lease_one(s, T0).await;
    assert!(
        s.dead_letter(first.lease(), "x".into(), T0)
            .await
            .expect("dead")
    );
    s.append(with_work("b", 1, T0)).await.expect("append");
    let second = lease_one(s, T0).await;
    assert_ne!(first.id, second.id);
    assert!(s.ack(vec![second.lease()]).await.expect("ack").is_empty());
    h.restart().await;
    let s = h.store();
    s.append(with_work("c", 1, T0)).await.expect("append");
    let third = lease_one(s, T0).await;
    assert!(third.id != first.id && third.id != second.id);
    // A late ack naming an old item (with the token the new one happens to have) is refused.
    let late = Lease {
        id: second.id,
        token: third.token,
    };
    assert_eq!(s.ack(vec![late]).await.expect("ack"), vec![late]);
    assert!(
        s.dead_letter(third.lease(), "y".into(), T0)
            .await
            .expect("dead")
    );
    assert_eq!(s.dead_letters(10).await.expect("dead letters").len(), 2);
}
