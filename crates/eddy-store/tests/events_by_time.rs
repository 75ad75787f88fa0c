//! `Store::events_by_time`: one bus's events in an event-time window, in event-time order, paged
//! without gaps or repeats, filtered by ingestion time.

use eddy_store::{AppendBatch, EmbeddedStore, EventLog, EventRange, NewEvent};

fn event(id: &str, bus: &str, time_ms: i64) -> NewEvent {
    NewEvent {
        id: id.to_owned(),
        bus: bus.to_owned(),
        time_ms,
        body: format!("{{\"id\":\"{id}\"}}"),
        hops: 0,
    }
}

async fn append(store: &EmbeddedStore, events: Vec<NewEvent>) {
    store
        .append(AppendBatch {
            events,
            ..AppendBatch::default()
        })
        .await
        .expect("append");
}

fn ids(events: &[eddy_store::StoredEvent]) -> Vec<&str> {
    events.iter().map(|e| e.id.as_str()).collect()
}

#[tokio::test]
async fn reads_a_window_of_one_bus_in_event_time_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = EmbeddedStore::open(dir.path()).expect("open");
    // Appended out of event-time order, on two buses, with two events at the same time.
    append(
        &store,
        vec![
            event("c", "r:a", 300),
            event("a", "r:a", 100),
            event("x", "r:b", 150),
            event("b1", "r:a", 200),
            event("e", "r:a", 500),
        ],
    )
    .await;
    append(
        &store,
        vec![event("b2", "r:a", 200), event("d", "r:a", 400)],
    )
    .await;

    let all = store
        .events_by_time(EventRange::all("r:a", 100))
        .await
        .expect("read");
    assert_eq!(ids(&all), ["a", "b1", "b2", "c", "d", "e"]);
    assert!(all.iter().all(|e| e.bus == "r:a"));

    // [200, 500): the start is inclusive, the end exclusive.
    let window = EventRange {
        from_ms: 200,
        to_ms: 500,
        ..EventRange::all("r:a", 100)
    };
    let got = store.events_by_time(window.clone()).await.expect("read");
    assert_eq!(ids(&got), ["b1", "b2", "c", "d"]);

    // Pages of 1 resume after (time_ms, seq), including between two events of the same time.
    let mut paged = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .events_by_time(EventRange {
                after,
                limit: 1,
                ..window.clone()
            })
            .await
            .expect("read");
        let Some(last) = page.last() else { break };
        after = Some((last.time_ms, last.seq));
        paged.extend(page);
    }
    assert_eq!(ids(&paged), ["b1", "b2", "c", "d"]);

    // Other buses and empty windows.
    let b = store
        .events_by_time(EventRange::all("r:b", 100))
        .await
        .expect("read");
    assert_eq!(ids(&b), ["x"]);
    let none = store
        .events_by_time(EventRange {
            from_ms: 600,
            ..EventRange::all("r:a", 100)
        })
        .await
        .expect("read");
    assert!(none.is_empty());
}

#[tokio::test]
async fn filters_by_ingestion_time_and_survives_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = EmbeddedStore::open(dir.path()).expect("open");
    append(&store, vec![event("old", "r:a", 10)]).await;
    let first = store
        .events_by_time(EventRange::all("r:a", 10))
        .await
        .expect("read");
    let cut = first[0].ingested_ms + 1;
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    append(&store, vec![event("new", "r:a", 5)]).await;
    drop(store);

    let store = EmbeddedStore::open(dir.path()).expect("reopen");
    let since = store
        .events_by_time(EventRange {
            ingested_from_ms: cut,
            ..EventRange::all("r:a", 10)
        })
        .await
        .expect("read");
    assert_eq!(ids(&since), ["new"]);
    let before = store
        .events_by_time(EventRange {
            ingested_to_ms: cut,
            ..EventRange::all("r:a", 10)
        })
        .await
        .expect("read");
    assert_eq!(ids(&before), ["old"]);
    let both = store
        .events_by_time(EventRange::all("r:a", 10))
        .await
        .expect("read");
    assert_eq!(ids(&both), ["new", "old"]);
}
