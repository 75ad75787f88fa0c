//! Log events ([`LogStore`]): appended durably (atomically with the work items they deliver,
//! fenced like a queue send); read by group in time order, filtered by stream and time, paged
//! both ways without gaps or repeats; streams described; a group deleted; expiry in bounded
//! steps, oldest first.

use eddy_store::{LogEvent, LogPosition, LogQuery, LogStore, NewLogEvent, StoreError};

use crate::{Backend, Harness, T0, log, whole_group, with_work};

async fn times(s: &dyn LogStore, query: LogQuery) -> Vec<i64> {
    s.logs_read(query)
        .await
        .expect("read")
        .iter()
        .map(|e| e.timestamp_ms)
        .collect()
}

/// A group's events read back in time order (then append order), with their stream, message and
/// ingestion time; filtered by streams and by `[start_ms, end_ms)`; at most `limit`; backwards
/// newest first; other groups apart.
pub async fn logs_read_in_time_order_with_filters<B: Backend>() {
    let h = Harness::<B>::open().await;
    let s = h.store();
    s.logs_append(
        vec![
            log("g", "s1", 30),
            log("g", "s2", 10),
            log("other", "s1", 20),
        ],
        T0,
        Vec::new(),
    )
    .await
    .expect("append");
    s.logs_append(
        vec![log("g", "s1", 20), log("g", "s2", 40)],
        T0 + 1,
        Vec::new(),
    )
    .await
    .expect("append");
    let all = s.logs_read(whole_group("g")).await.expect("read");
    let got: Vec<(&str, i64, i64, &str)> = all
        .iter()
        .map(|e| {
            (
                e.stream.as_str(),
                e.timestamp_ms,
                e.ingestion_ms,
                e.message.as_str(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("s2", 10, T0, "g s2 10"),
            ("s1", 20, T0 + 1, "g s1 20"),
            ("s1", 30, T0, "g s1 30"),
            ("s2", 40, T0 + 1, "g s2 40"),
        ]
    );
    assert!(all.iter().all(|e| e.group == "g"));
    let q = |f: fn(&mut LogQuery)| {
        let mut q = whole_group("g");
        f(&mut q);
        q
    };
    assert_eq!(
        times(s, q(|q| q.streams = vec!["s1".into()])).await,
        [20, 30]
    );
    assert_eq!(
        times(s, q(|q| q.streams = vec!["s1".into(), "s2".into()])).await,
        [10, 20, 30, 40]
    );
    assert_eq!(
        times(s, q(|q| q.streams = vec!["none".into()])).await,
        Vec::<i64>::new()
    );
    assert_eq!(
        times(s, q(|q| (q.start_ms, q.end_ms) = (Some(20), Some(40)))).await,
        [20, 30]
    );
    assert_eq!(times(s, q(|q| q.limit = 3)).await, [10, 20, 30]);
    assert_eq!(times(s, q(|q| q.backwards = true)).await, [40, 30, 20, 10]);
    assert_eq!(
        times(
            s,
            q(|q| (q.backwards, q.limit, q.streams) = (true, 1, vec!["s1".into()]))
        )
        .await,
        [30]
    );
    assert_eq!(times(s, whole_group("other")).await, [20]);
    assert!(
        s.logs_read(whole_group("none"))
            .await
            .expect("read")
            .is_empty()
    );
}

/// Pages of one continue after the last event's position, forwards and backwards, without gaps
/// or repeats, also across events with the same timestamp.
pub async fn logs_page_forwards_and_backwards_without_gaps<B: Backend>() {
    let h = Harness::<B>::open().await;
    let s = h.store();
    let events: Vec<NewLogEvent> = [5, 1, 5, 3, 5, 1]
        .iter()
        .enumerate()
        .map(|(i, t)| NewLogEvent {
            message: format!("m{i}"),
            ..log("g", "s", *t)
        })
        .collect();
    s.logs_append(events, T0, Vec::new()).await.expect("append");
    let all = s.logs_read(whole_group("g")).await.expect("read");
    let positions: Vec<LogPosition> = all.iter().map(LogEvent::position).collect();
    let mut sorted = positions.clone();
    sorted.sort();
    assert_eq!(positions, sorted, "in (timestamp, position) order");
    for backwards in [false, true] {
        let mut paged = Vec::new();
        let mut after = None;
        loop {
            let page = s
                .logs_read(LogQuery {
                    after,
                    limit: 1,
                    backwards,
                    ..whole_group("g")
                })
                .await
                .expect("read");
            let Some(last) = page.last() else { break };
            after = Some(last.position());
            paged.extend(page);
            assert!(paged.len() <= 6, "pages repeat");
        }
        if backwards {
            paged.reverse();
        }
        assert_eq!(paged, all, "backwards: {backwards}");
    }
}

/// `logs_streams` describes each stream of a group: its first and last event times and the
/// bytes its messages take.
pub async fn logs_streams_describe_each_stream<B: Backend>() {
    let h = Harness::<B>::open().await;
    let s = h.store();
    s.logs_append(
        vec![
            log("g", "b", 30),
            log("g", "a", 20),
            log("g", "b", 10),
            log("other", "c", 1),
        ],
        T0,
        Vec::new(),
    )
    .await
    .expect("append");
    let mut streams = s.logs_streams("g".into()).await.expect("streams");
    streams.sort_by(|x, y| x.name.cmp(&y.name));
    let got: Vec<(&str, i64, i64, i64)> = streams
        .iter()
        .map(|st| (st.name.as_str(), st.first_ms, st.last_ms, st.stored_bytes))
        .collect();
    let bytes = |m: &[&str]| m.iter().map(|m| m.len() as i64).sum::<i64>();
    assert_eq!(
        got,
        [
            ("a", 20, 20, bytes(&["g a 20"])),
            ("b", 10, 30, bytes(&["g b 30", "g b 10"])),
        ]
    );
    assert!(
        s.logs_streams("none".into())
            .await
            .expect("streams")
            .is_empty()
    );
}

/// Deleting a stream deletes its events, and nothing of other streams or groups.
pub async fn logs_delete_stream_deletes_one_stream<B: Backend>() {
    let h = Harness::<B>::open().await;
    let s = h.store();
    s.logs_append(
        vec![log("a", "s", 1), log("a", "t", 2), log("b", "s", 3)],
        T0,
        Vec::new(),
    )
    .await
    .expect("append");
    s.logs_append(vec![log("a", "s", 4)], T0, Vec::new())
        .await
        .expect("append");
    // In bounded steps: one event, then the rest.
    let one = s
        .logs_delete_stream("a".into(), "s".into(), 1)
        .await
        .expect("delete");
    assert_eq!(one, 1);
    let rest = s
        .logs_delete_stream("a".into(), "s".into(), 10)
        .await
        .expect("delete");
    assert_eq!(rest, 1);
    let none = s
        .logs_delete_stream("a".into(), "none".into(), 10)
        .await
        .expect("delete");
    assert_eq!(none, 0);
    assert_eq!(times(s, whole_group("a")).await, [2]);
    assert_eq!(times(s, whole_group("b")).await, [3]);
    let streams: Vec<String> = s
        .logs_streams("a".into())
        .await
        .expect("streams")
        .into_iter()
        .map(|x| x.name)
        .collect();
    assert_eq!(streams, ["t"]);
}

/// Deleting a group deletes its events and its streams, and nothing of other groups.
pub async fn logs_delete_group_deletes_one_group<B: Backend>() {
    let h = Harness::<B>::open().await;
    let s = h.store();
    s.logs_append(vec![log("a", "s", 1), log("b", "s", 2)], T0, Vec::new())
        .await
        .expect("append");
    s.logs_delete_group("a".into()).await.expect("delete");
    s.logs_delete_group("none".into()).await.expect("delete");
    assert!(
        s.logs_read(whole_group("a"))
            .await
            .expect("read")
            .is_empty()
    );
    assert!(
        s.logs_streams("a".into())
            .await
            .expect("streams")
            .is_empty()
    );
    assert_eq!(times(s, whole_group("b")).await, [2]);
    // The group can be written again.
    s.logs_append(vec![log("a", "s", 3)], T0, Vec::new())
        .await
        .expect("append");
    assert_eq!(times(s, whole_group("a")).await, [3]);
}

/// `logs_expire` deletes a group's events older than a time, by event time, oldest first, at
/// most `max` per call, and nothing else.
pub async fn logs_expire_in_bounded_steps<B: Backend>() {
    let h = Harness::<B>::open().await;
    let s = h.store();
    // Out of time order, across two streams: event time is what counts.
    let events = [50, 10, 40, 20, 30, 60]
        .iter()
        .enumerate()
        .map(|(i, t)| log("a", if i % 2 == 0 { "s1" } else { "s2" }, *t))
        .chain([log("b", "s", 10), log("b", "s", 20)])
        .collect();
    s.logs_append(events, 1_000, Vec::new())
        .await
        .expect("append");
    assert_eq!(s.logs_expire("a".into(), 45, 2).await.expect("expire"), 2);
    assert_eq!(
        times(s, whole_group("a")).await,
        [30, 40, 50, 60],
        "oldest first"
    );
    assert_eq!(s.logs_expire("a".into(), 45, 2).await.expect("expire"), 2);
    assert_eq!(s.logs_expire("a".into(), 45, 2).await.expect("expire"), 0);
    assert_eq!(times(s, whole_group("a")).await, [50, 60]);
    assert_eq!(
        times(s, whole_group("b")).await,
        [10, 20],
        "other groups untouched"
    );
    assert_eq!(
        s.logs_expire("none".into(), 45, 2).await.expect("expire"),
        0
    );
}

/// A log append that delivers work items is fenced: a lost lease refuses the whole append
/// ([`StoreError::LeaseLost`]); the current holder's append lands and settles its items.
pub async fn logs_append_is_fenced<B: Backend>() {
    let h = Harness::<B>::open().await;
    let s = h.store();
    s.append(with_work("e", 2, T0)).await.expect("append");
    let items = s.lease(None, T0, 2, 1_000).await.expect("lease");
    let (current, lost) = (items[0].lease(), items[1].lease());
    assert!(s.ack(vec![lost]).await.expect("ack").is_empty());
    let e = s
        .logs_append(vec![log("g", "s", 1)], T0, vec![current, lost])
        .await
        .expect_err("a settled item");
    assert!(
        matches!(&e, StoreError::LeaseLost(l) if l == &vec![lost]),
        "{e:?}"
    );
    assert!(
        s.logs_read(whole_group("g"))
            .await
            .expect("read")
            .is_empty()
    );
    assert_eq!(s.counts().await.expect("counts").work_items, 1);
    s.logs_append(vec![log("g", "s", 2)], T0, vec![current])
        .await
        .expect("append");
    assert_eq!(times(s, whole_group("g")).await, [2]);
    assert_eq!(s.counts().await.expect("counts").work_items, 0);
}

/// `logs_write`: the log events and the append (events, work items, acknowledged leases) are
/// written together, or, when a lease was lost, neither.
pub async fn logs_write_is_atomic_with_its_append<B: Backend>() {
    let h = Harness::<B>::open().await;
    let s = h.store();
    s.append(with_work("e", 2, T0)).await.expect("append");
    let items = s.lease(None, T0, 2, 1_000).await.expect("lease");
    let (current, lost) = (items[0].lease(), items[1].lease());
    assert!(s.ack(vec![lost]).await.expect("ack").is_empty());
    let before = s.counts().await.expect("counts");
    let mut refused = with_work("sub", 1, T0);
    refused.ack = vec![current, lost];
    let e = s
        .logs_write(vec![log("g", "s", 1)], T0, refused)
        .await
        .expect_err("a settled item");
    assert!(matches!(e, StoreError::LeaseLost(_)), "{e:?}");
    assert!(
        s.logs_read(whole_group("g"))
            .await
            .expect("read")
            .is_empty()
    );
    let now = s.counts().await.expect("counts");
    assert_eq!(
        (now.events, now.work_items),
        (before.events, before.work_items)
    );
    let mut batch = with_work("sub", 1, T0);
    batch.ack = vec![current];
    s.logs_write(vec![log("g", "s", 2)], T0, batch)
        .await
        .expect("write");
    assert_eq!(times(s, whole_group("g")).await, [2]);
    let after = s.counts().await.expect("counts");
    // One work item acknowledged, one written with the subscription's event.
    assert_eq!(after.work_items, before.work_items);
    assert_eq!(after.events, before.events + 1);
}
