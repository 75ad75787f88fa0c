//! Queues ([`QueueStore`]): a sent message is received as sent; a received one is invisible
//! until its visibility ends, then received again with a new receipt; only the latest receipt
//! deletes it or changes its visibility; delays; stats; FIFO groups in order, one holder at a
//! time, and deduplication within the window; purge; redrive to a dead-letter queue; retention;
//! a send that completes a work item settles it in the same change.

use eddy_store::queue::DEDUP_WINDOW_MS;
use eddy_store::{Message, NewMessage, QueueStore, ReceiveOptions};

use crate::{Backend, Harness, T0, message, with_work};

const VISIBILITY_MS: i64 = 30_000;
const FOUR_DAYS_MS: i64 = 4 * 24 * 3_600_000;

fn receive(now_ms: i64, max: usize) -> ReceiveOptions {
    ReceiveOptions {
        now_ms,
        max,
        visibility_ms: VISIBILITY_MS,
        fifo: false,
        redrive: None,
        retention_ms: FOUR_DAYS_MS,
    }
}

fn fifo(now_ms: i64, max: usize) -> ReceiveOptions {
    ReceiveOptions {
        fifo: true,
        ..receive(now_ms, max)
    }
}

fn in_group(id: &str, group: &str) -> NewMessage {
    NewMessage {
        group_id: Some(group.into()),
        dedup_id: Some(id.into()),
        ..message(id)
    }
}

fn names(messages: &[Message]) -> Vec<&str> {
    messages.iter().map(|m| m.message_id.as_str()).collect()
}

fn sorted(messages: &[Message]) -> Vec<&str> {
    let mut out = names(messages);
    out.sort();
    out
}

async fn send(s: &dyn QueueStore, queue: &str, messages: Vec<NewMessage>, now_ms: i64) {
    s.queue_send(queue.into(), messages, now_ms, Vec::new())
        .await
        .expect("send");
}

async fn stats(s: &dyn QueueStore, queue: &str, now_ms: i64) -> (u64, u64, u64) {
    let st = s.queue_stats(queue.into(), now_ms).await.expect("stats");
    (st.visible, st.in_flight, st.delayed)
}

/// A sent message is received with its id, body, attributes, send time and position (as the
/// send answered it), a receive count of 1 and a receipt; queues are apart; at most `max` per
/// receive.
pub async fn a_sent_message_is_received_as_sent<B: Backend>() {
    let h = Harness::<B>::open().await;
    let s = h.store();
    let mut m = message("m1");
    m.attributes = r#"{"a":{"DataType":"String","StringValue":"x"}}"#.into();
    let sent = s
        .queue_send("q".into(), vec![m.clone(), message("m2")], T0, Vec::new())
        .await
        .expect("send");
    assert_eq!(sent.len(), 2);
    assert_eq!(
        (sent[0].message_id.as_str(), sent[0].duplicate),
        ("m1", false)
    );
    assert!(sent[0].seq < sent[1].seq, "{sent:?}");
    send(s, "other", vec![message("o1")], T0).await;
    let got = s
        .queue_receive("q".into(), receive(T0 + 1, 1))
        .await
        .expect("receive");
    assert_eq!(got.len(), 1, "at most max");
    let rest = s
        .queue_receive("q".into(), receive(T0 + 1, 10))
        .await
        .expect("receive");
    let all: Vec<&Message> = got.iter().chain(&rest).collect();
    assert_eq!(all.len(), 2, "each visible message once");
    let m1 = all.iter().find(|x| x.message_id == "m1").expect("m1");
    assert_eq!(
        (
            m1.seq,
            m1.body.as_str(),
            m1.attributes.as_str(),
            m1.sent_ms,
            m1.receive_count,
            m1.first_receive_ms,
            &m1.group_id,
            &m1.dedup_id,
        ),
        (
            sent[0].seq,
            "body of m1",
            m.attributes.as_str(),
            T0,
            1,
            T0 + 1,
            &None,
            &None
        )
    );
    assert!(!m1.receipt.is_empty());
    assert_ne!(all[0].receipt, all[1].receipt);
    let other = s
        .queue_receive("other".into(), receive(T0 + 1, 10))
        .await
        .expect("receive");
    assert_eq!(names(&other), ["o1"]);
    assert!(
        s.queue_receive("empty".into(), receive(T0 + 1, 10))
            .await
            .expect("receive")
            .is_empty()
    );
}

/// A received message that is not deleted is invisible until its visibility timeout ends, then
/// received again with a higher count, a new receipt and its first receive time kept.
pub async fn a_received_message_is_invisible_until_its_visibility_ends<B: Backend>() {
    let h = Harness::<B>::open().await;
    let s = h.store();
    send(s, "q", vec![message("m")], T0).await;
    let first = s
        .queue_receive("q".into(), receive(T0, 10))
        .await
        .expect("receive");
    assert_eq!(names(&first), ["m"]);
    let end = T0 + VISIBILITY_MS;
    assert!(
        s.queue_receive("q".into(), receive(end - 1, 10))
            .await
            .expect("receive")
            .is_empty()
    );
    assert_eq!(
        s.queue_next_visible("q".into()).await.expect("next"),
        Some(end)
    );
    let again = s
        .queue_receive("q".into(), receive(end, 10))
        .await
        .expect("receive");
    assert_eq!(names(&again), ["m"]);
    assert_eq!(again[0].receive_count, 2);
    assert_eq!(again[0].first_receive_ms, T0);
    assert_ne!(again[0].receipt, first[0].receipt);
    assert!(
        s.queue_delete("q".into(), vec![again[0].receipt.clone()])
            .await
            .expect("delete")[0]
    );
    assert_eq!(stats(s, "q", end + VISIBILITY_MS).await, (0, 0, 0));
    assert_eq!(s.queue_next_visible("q".into()).await.expect("next"), None);
}

/// Only the latest receipt of a message deletes it or changes its visibility; a receipt of
/// another queue, a made-up one or one already used answers `false` and changes nothing.
pub async fn only_the_latest_receipt_deletes_or_changes_visibility<B: Backend>() {
    let h = Harness::<B>::open().await;
    let s = h.store();
    send(s, "q", vec![message("m")], T0).await;
    let old = s
        .queue_receive("q".into(), receive(T0, 1))
        .await
        .expect("receive")[0]
        .receipt
        .clone();
    let later = T0 + VISIBILITY_MS;
    let new = s
        .queue_receive("q".into(), receive(later, 1))
        .await
        .expect("receive")[0]
        .receipt
        .clone();
    let refused = s
        .queue_delete(
            "q".into(),
            vec![old.clone(), "made-up".into(), String::new()],
        )
        .await
        .expect("delete");
    assert_eq!(refused, [false, false, false]);
    let changed = s
        .queue_change_visibility("q".into(), vec![(old.clone(), later)], later)
        .await
        .expect("change visibility");
    assert_eq!(changed, [false]);
    assert_eq!(
        s.queue_delete("other".into(), vec![new.clone()])
            .await
            .expect("delete"),
        [false],
        "another queue's receipt"
    );
    assert_eq!(stats(s, "q", later).await, (0, 1, 0), "still in flight");
    let done = s
        .queue_delete("q".into(), vec![new.clone(), new.clone()])
        .await
        .expect("delete");
    assert_eq!(done, [true, false], "deleted once");
    assert_eq!(stats(s, "q", later).await, (0, 0, 0));
}

/// Changing the visibility of a message in flight sets when it is visible again: now (it can be
/// received at once) or later; a message not in flight cannot be changed.
pub async fn change_visibility_moves_a_message_in_flight<B: Backend>() {
    let h = Harness::<B>::open().await;
    let s = h.store();
    send(s, "q", vec![message("a"), message("b")], T0).await;
    let got = s
        .queue_receive("q".into(), receive(T0, 10))
        .await
        .expect("receive");
    assert_eq!(got.len(), 2);
    let (a, b) = if got[0].message_id == "a" {
        (&got[0], &got[1])
    } else {
        (&got[1], &got[0])
    };
    let changed = s
        .queue_change_visibility(
            "q".into(),
            vec![
                (a.receipt.clone(), T0 + 1),
                (b.receipt.clone(), T0 + 100_000),
            ],
            T0 + 1,
        )
        .await
        .expect("change visibility");
    assert_eq!(changed, [true, true]);
    let again = s
        .queue_receive("q".into(), receive(T0 + 1, 10))
        .await
        .expect("receive");
    assert_eq!(names(&again), ["a"], "a at once, b not before its new time");
    let a_later = T0 + 200_000;
    let changed = s
        .queue_change_visibility(
            "q".into(),
            vec![(again[0].receipt.clone(), a_later)],
            T0 + 2,
        )
        .await
        .expect("change visibility");
    assert_eq!(changed, [true], "a later end");
    assert!(
        s.queue_receive("q".into(), receive(T0 + 99_999, 10))
            .await
            .expect("receive")
            .is_empty()
    );
    let b_again = s
        .queue_receive("q".into(), receive(T0 + 100_000, 10))
        .await
        .expect("receive");
    assert_eq!(names(&b_again), ["b"]);
    // `b`'s first receipt is not its latest any more; `a`'s latest is, but once `a` is visible
    // again it is not in flight.
    let changed = s
        .queue_change_visibility(
            "q".into(),
            vec![
                (b.receipt.clone(), a_later),
                (again[0].receipt.clone(), a_later + 5),
            ],
            a_later,
        )
        .await
        .expect("change visibility");
    assert_eq!(changed, [false, false]);
}

/// A delayed message is neither received nor visible before its delay ends; stats count it as
/// delayed and `queue_next_visible` says when it comes.
pub async fn delayed_messages_wait<B: Backend>() {
    let h = Harness::<B>::open().await;
    let s = h.store();
    let delayed = NewMessage {
        delay_ms: 5_000,
        ..message("later")
    };
    send(s, "q", vec![delayed], T0).await;
    assert_eq!(
        s.queue_next_visible("q".into()).await.expect("next"),
        Some(T0 + 5_000)
    );
    assert_eq!(stats(s, "q", T0).await, (0, 0, 1));
    assert!(
        s.queue_receive("q".into(), receive(T0 + 4_999, 10))
            .await
            .expect("receive")
            .is_empty()
    );
    assert_eq!(stats(s, "q", T0 + 5_000).await, (1, 0, 0));
    let got = s
        .queue_receive("q".into(), receive(T0 + 5_000, 10))
        .await
        .expect("receive");
    assert_eq!(names(&got), ["later"]);
    assert_eq!(got[0].sent_ms, T0);
}

/// Stats count visible messages, messages in flight (received, invisible) and delayed ones
/// (never received, invisible), as of the time asked.
pub async fn stats_count_visible_in_flight_and_delayed<B: Backend>() {
    let h = Harness::<B>::open().await;
    let s = h.store();
    assert_eq!(stats(s, "q", T0).await, (0, 0, 0));
    let delayed = NewMessage {
        delay_ms: 60_000,
        ..message("d")
    };
    send(
        s,
        "q",
        vec![message("a"), message("b"), message("c"), delayed],
        T0,
    )
    .await;
    let got = s
        .queue_receive("q".into(), receive(T0, 1))
        .await
        .expect("receive");
    assert_eq!(got.len(), 1);
    assert_eq!(stats(s, "q", T0).await, (2, 1, 1));
    assert_eq!(stats(s, "q", T0 + VISIBILITY_MS).await, (3, 0, 1));
    assert_eq!(stats(s, "q", T0 + 60_000).await, (4, 0, 0));
    assert_eq!(stats(s, "other", T0).await, (0, 0, 0));
}

/// FIFO: a group's messages are received in send order, and while one of them is in flight the
/// group's later messages are held back; other groups go on.
pub async fn fifo_groups_are_received_in_order_one_holder_at_a_time<B: Backend>() {
    let h = Harness::<B>::open().await;
    let s = h.store();
    send(
        s,
        "q.fifo",
        vec![
            in_group("a1", "A"),
            in_group("b1", "B"),
            in_group("a2", "A"),
        ],
        T0,
    )
    .await;
    send(
        s,
        "q.fifo",
        vec![in_group("a3", "A"), in_group("b2", "B")],
        T0,
    )
    .await;
    let first = s
        .queue_receive("q.fifo".into(), fifo(T0, 1))
        .await
        .expect("receive");
    assert_eq!(names(&first), ["a1"]);
    assert_eq!(first[0].group_id.as_deref(), Some("A"));
    let second = s
        .queue_receive("q.fifo".into(), fifo(T0, 1))
        .await
        .expect("receive");
    assert_eq!(names(&second), ["b1"], "A is held while a1 is in flight");
    assert!(
        s.queue_receive("q.fifo".into(), fifo(T0, 10))
            .await
            .expect("receive")
            .is_empty(),
        "both groups are held"
    );
    let receipt = first[0].receipt.clone();
    assert_eq!(
        s.queue_delete("q.fifo".into(), vec![receipt])
            .await
            .expect("delete"),
        [true]
    );
    let next = s
        .queue_receive("q.fifo".into(), fifo(T0, 10))
        .await
        .expect("receive");
    assert_eq!(names(&next), ["a2", "a3"], "in order, B still held");
    // Their visibility ends: the group comes back in order, and B goes on once b1 is deleted.
    let end = T0 + VISIBILITY_MS;
    let b1 = second[0].receipt.clone();
    assert_eq!(
        s.queue_delete("q.fifo".into(), vec![b1])
            .await
            .expect("delete"),
        [true]
    );
    let again = s
        .queue_receive("q.fifo".into(), fifo(end, 10))
        .await
        .expect("receive");
    assert_eq!(names(&again), ["a2", "a3", "b2"]);
    assert_eq!(again[0].receive_count, 2);
}

/// FIFO deduplication: a message with a deduplication id seen within the window is accepted but
/// not enqueued again (the answer names the first message); after the window it is new.
pub async fn fifo_deduplication_within_the_window<B: Backend>() {
    let h = Harness::<B>::open().await;
    let s = h.store();
    let first = s
        .queue_send("q.fifo".into(), vec![in_group("x", "A")], T0, Vec::new())
        .await
        .expect("send");
    let mut again = in_group("x-again", "A");
    again.dedup_id = Some("x".into());
    let dup = s
        .queue_send(
            "q.fifo".into(),
            vec![again.clone(), in_group("y", "A")],
            T0 + DEDUP_WINDOW_MS - 1,
            Vec::new(),
        )
        .await
        .expect("send");
    assert!(dup[0].duplicate);
    assert_eq!(
        (dup[0].message_id.as_str(), dup[0].seq),
        ("x", first[0].seq)
    );
    assert!(!dup[1].duplicate);
    // The same id on another queue is another message.
    let other = s
        .queue_send("other.fifo".into(), vec![again.clone()], T0, Vec::new())
        .await
        .expect("send");
    assert!(!other[0].duplicate);
    let got = s
        .queue_receive("q.fifo".into(), fifo(T0 + DEDUP_WINDOW_MS, 10))
        .await
        .expect("receive");
    assert_eq!(names(&got), ["x", "y"]);
    let late = s
        .queue_send(
            "q.fifo".into(),
            vec![again],
            T0 + DEDUP_WINDOW_MS + 1,
            Vec::new(),
        )
        .await
        .expect("send");
    assert!(!late[0].duplicate, "the window has passed");
    assert_eq!(late[0].message_id, "x-again");
}

/// Purge deletes every message of one queue, in flight or not, and its deduplication memory.
pub async fn purge_empties_a_queue_and_forgets_deduplication<B: Backend>() {
    let h = Harness::<B>::open().await;
    let s = h.store();
    send(
        s,
        "q.fifo",
        vec![in_group("a", "A"), in_group("b", "B")],
        T0,
    )
    .await;
    send(s, "keep", vec![message("k")], T0).await;
    let got = s
        .queue_receive("q.fifo".into(), fifo(T0, 1))
        .await
        .expect("receive");
    s.queue_purge("q.fifo".into()).await.expect("purge");
    assert_eq!(stats(s, "q.fifo", T0).await, (0, 0, 0));
    assert_eq!(
        s.queue_next_visible("q.fifo".into()).await.expect("next"),
        None
    );
    assert_eq!(
        s.queue_delete("q.fifo".into(), vec![got[0].receipt.clone()])
            .await
            .expect("delete"),
        [false]
    );
    let again = s
        .queue_send("q.fifo".into(), vec![in_group("a", "A")], T0, Vec::new())
        .await
        .expect("send");
    assert!(!again[0].duplicate, "purge forgets deduplication ids");
    assert_eq!(
        stats(s, "keep", T0).await,
        (1, 0, 0),
        "other queues untouched"
    );
}

/// With a redrive policy, a message already received `max_receives` times moves to the
/// dead-letter queue instead of being received again, keeping its id, body and attributes.
pub async fn redrive_moves_a_message_received_too_often<B: Backend>() {
    let h = Harness::<B>::open().await;
    let s = h.store();
    send(s, "q", vec![message("m")], T0).await;
    let redrive = |now| ReceiveOptions {
        redrive: Some(("dlq".into(), 2)),
        ..receive(now, 10)
    };
    let mut now = T0;
    for count in 1..=2 {
        let got = s
            .queue_receive("q".into(), redrive(now))
            .await
            .expect("receive");
        assert_eq!(got[0].receive_count, count);
        now += VISIBILITY_MS;
    }
    assert!(
        s.queue_receive("q".into(), redrive(now))
            .await
            .expect("receive")
            .is_empty()
    );
    assert_eq!(stats(s, "q", now).await, (0, 0, 0));
    let dead = s
        .queue_receive("dlq".into(), receive(now, 10))
        .await
        .expect("receive");
    assert_eq!(names(&dead), ["m"]);
    assert_eq!(
        (dead[0].body.as_str(), dead[0].receive_count),
        ("body of m", 1)
    );
}

/// A message older than the queue's retention period is never received again.
pub async fn retention_drops_old_messages<B: Backend>() {
    let h = Harness::<B>::open().await;
    let s = h.store();
    send(s, "q", vec![message("old")], T0).await;
    send(s, "q", vec![message("new")], T0 + 10_000).await;
    let opts = ReceiveOptions {
        retention_ms: 60_000,
        ..receive(T0 + 60_001, 10)
    };
    let got = s.queue_receive("q".into(), opts).await.expect("receive");
    assert_eq!(sorted(&got), ["new"]);
    assert_eq!(stats(s, "q", T0 + 60_001 + VISIBILITY_MS).await, (1, 0, 0));
}

/// A send that names work items' leases removes them in the same change: the queue target
/// receives the event once.
pub async fn a_send_with_its_ack_settles_the_work_item<B: Backend>() {
    let h = Harness::<B>::open().await;
    let s = h.store();
    s.append(with_work("e", 2, T0)).await.expect("append");
    let items = s.lease(None, T0, 2, 60_000).await.expect("lease");
    let leases = items.iter().map(eddy_store::WorkItem::lease).collect();
    let sent = s
        .queue_send("q".into(), vec![message("a"), message("b")], T0, leases)
        .await
        .expect("send");
    assert_eq!(sent.len(), 2);
    assert_eq!(s.counts().await.expect("counts").work_items, 0);
    assert_eq!(stats(s, "q", T0).await, (2, 0, 0));
    assert!(
        s.lease(None, T0 + 1_000_000, 10, 1_000)
            .await
            .expect("lease")
            .is_empty()
    );
}

/// An append that sends queue messages (a topic's fan-out) sends them if and only if it appends
/// its events: received as sent, at the append's time, FIFO deduplication included; a refused
/// append (a lost lease) sends nothing.
pub async fn an_append_sends_its_messages_with_its_events<B: Backend>() {
    let h = Harness::<B>::open().await;
    let s = h.store();
    let mut batch = with_work("n", 1, T0);
    batch.messages = vec![
        eddy_store::QueueMessages {
            queue: "a".into(),
            messages: vec![message("a1"), message("a2")],
        },
        eddy_store::QueueMessages {
            queue: "f".into(),
            messages: vec![in_group("f1", "g"), in_group("f1", "g")],
        },
    ];
    s.append(batch).await.expect("append");
    assert_eq!(s.counts().await.expect("counts").events, 1);
    assert_eq!(stats(s, "a", T0).await, (2, 0, 0));
    assert_eq!(
        stats(s, "f", T0).await,
        (1, 0, 0),
        "the repeat is deduplicated"
    );
    let got = s
        .queue_receive("a".into(), receive(T0, 10))
        .await
        .expect("receive");
    assert_eq!(sorted(&got), ["a1", "a2"]);
    assert!(
        got.iter()
            .all(|m| m.sent_ms == T0 && m.body.starts_with("body of a"))
    );
    // A refused append sends nothing.
    let held = s.lease(None, T0, 1, 1_000).await.expect("lease");
    let lost = held[0].lease();
    assert!(s.nack(lost, T0).await.expect("nack"));
    let mut refused = with_work("m", 1, T0);
    refused.ack = vec![lost];
    refused.messages = vec![eddy_store::QueueMessages {
        queue: "b".into(),
        messages: vec![message("b1")],
    }];
    assert!(s.append(refused).await.is_err());
    assert_eq!(stats(s, "b", T0).await, (0, 0, 0));
    assert_eq!(s.counts().await.expect("counts").events, 1);
}
