//! Log retention and the store's size gauges: `logs_expire` deletes a group's events older than
//! a time (by event time, oldest first, a bounded number per call) and nothing else; `counts`
//! reports the oldest event's ingestion time and the files' size.

use eddy_store::{AppendBatch, EmbeddedStore, EventLog, LogQuery, LogStore, NewEvent, NewLogEvent};

fn log(group: &str, stream: &str, timestamp_ms: i64) -> NewLogEvent {
    NewLogEvent {
        group: group.into(),
        stream: stream.into(),
        timestamp_ms,
        message: format!("{group} {stream} {timestamp_ms}"),
    }
}

async fn times(store: &EmbeddedStore, group: &str) -> Vec<i64> {
    store
        .logs_read(LogQuery {
            group: group.into(),
            streams: Vec::new(),
            start_ms: None,
            end_ms: None,
            after: None,
            limit: 1000,
            backwards: false,
        })
        .await
        .expect("read")
        .iter()
        .map(|e| e.timestamp_ms)
        .collect()
}

#[tokio::test]
async fn expire_deletes_old_events_of_one_group_in_bounded_steps() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = EmbeddedStore::open(dir.path()).expect("open");
    // Out of time order, across two streams, ingested late: event time is what counts.
    let events = [50, 10, 40, 20, 30, 60]
        .iter()
        .enumerate()
        .map(|(i, t)| log("a", if i % 2 == 0 { "s1" } else { "s2" }, *t))
        .chain([log("b", "s", 10), log("b", "s", 20)])
        .collect();
    store
        .logs_append(events, 1_000, Vec::new())
        .await
        .expect("append");

    assert_eq!(
        store.logs_expire("a".into(), 45, 2).await.expect("expire"),
        2
    );
    assert_eq!(
        times(&store, "a").await,
        vec![30, 40, 50, 60],
        "oldest first"
    );
    assert_eq!(
        store.logs_expire("a".into(), 45, 2).await.expect("expire"),
        2
    );
    assert_eq!(
        store.logs_expire("a".into(), 45, 2).await.expect("expire"),
        0
    );
    assert_eq!(times(&store, "a").await, vec![50, 60]);
    assert_eq!(
        times(&store, "b").await,
        vec![10, 20],
        "other groups untouched"
    );
    assert_eq!(
        store
            .logs_expire("none".into(), 45, 2)
            .await
            .expect("expire"),
        0
    );
}

#[tokio::test]
async fn counts_report_the_oldest_event_and_the_files_size() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = EmbeddedStore::open(dir.path()).expect("open");
    let empty = store.counts().await.expect("counts");
    assert_eq!(empty.oldest_event_ms, None);
    assert!(empty.bytes > 0, "the schema takes room");
    for (i, now_ms) in [5_000, 7_000].iter().enumerate() {
        store
            .append(AppendBatch {
                events: vec![NewEvent {
                    id: format!("e{i}"),
                    bus: "b".into(),
                    time_ms: 1,
                    body: "x".repeat(100_000),
                    hops: 0,
                }],
                now_ms: Some(*now_ms),
                ..AppendBatch::default()
            })
            .await
            .expect("append");
    }
    let c = store.counts().await.expect("counts");
    assert_eq!(c.oldest_event_ms, Some(5_000));
    assert!(
        c.bytes >= empty.bytes + 200_000,
        "{} then {}",
        empty.bytes,
        c.bytes
    );
}
