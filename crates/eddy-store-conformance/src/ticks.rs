//! Schedule ticks ([`TickStore`]): recorded only with the events they fire (atomically, by
//! [`EventLog::append`](eddy_store::EventLog::append)); a later tick of a schedule replaces an
//! earlier one, never the reverse; kept across a restart; forgotten on request.

use eddy_store::{AppendBatch, NewWork, Tick, TickStore};

use crate::{Backend, Harness, event};

/// The batch a scheduler appends when `schedule` fires at `tick_ms`: one event with one
/// delivery, and the tick.
fn fired(schedule: &str, tick_ms: i64) -> AppendBatch {
    AppendBatch {
        events: vec![event(
            &format!("{schedule}-{tick_ms}"),
            "r:default",
            tick_ms,
        )],
        work: vec![NewWork {
            event: 0,
            rule: "rule".into(),
            target: "t".into(),
        }],
        ticks: vec![Tick {
            schedule: schedule.into(),
            tick_ms,
        }],
        now_ms: Some(tick_ms),
        ..AppendBatch::default()
    }
}

async fn sorted_ticks(s: &dyn TickStore) -> Vec<(String, i64)> {
    let mut ticks = s.ticks().await.expect("ticks");
    ticks.sort();
    ticks
}

/// Ticks are recorded with their events and kept across a restart; an older tick never
/// replaces a newer one (its events are appended all the same).
pub async fn a_later_tick_replaces_an_earlier_one_never_the_reverse<B: Backend>() {
    let mut h = Harness::<B>::open().await;
    let s = h.store();
    assert!(s.ticks().await.expect("ticks").is_empty());
    s.append(fired("a", 60_000)).await.expect("append");
    s.append(fired("a", 120_000)).await.expect("append");
    s.append(fired("b", 60_000)).await.expect("append");
    s.append(fired("a", 30_000)).await.expect("append");
    // The work item is due at the caller's clock, not the store's.
    assert_eq!(s.next_due().await.expect("due"), Some(30_000));
    h.restart().await;
    let s = h.store();
    assert_eq!(
        sorted_ticks(s).await,
        [("a".to_owned(), 120_000), ("b".to_owned(), 60_000)]
    );
    assert_eq!(s.counts().await.expect("counts").events, 4);
    // Two ticks of one schedule in one batch: the later one stays.
    let mut both = fired("c", 180_000);
    both.ticks.insert(
        0,
        Tick {
            schedule: "c".into(),
            tick_ms: 240_000,
        },
    );
    s.append(both).await.expect("append");
    assert_eq!(
        sorted_ticks(s).await,
        [
            ("a".to_owned(), 120_000),
            ("b".to_owned(), 60_000),
            ("c".to_owned(), 240_000)
        ]
    );
}

/// An append that fails records none of its ticks.
pub async fn a_failed_append_records_no_tick<B: Backend>() {
    let h = Harness::<B>::open().await;
    let s = h.store();
    s.append(fired("a", 60_000)).await.expect("append");
    let mut bad = fired("a", 120_000);
    // A work item naming no event fails the whole append.
    bad.work[0].event = 7;
    bad.ticks.push(Tick {
        schedule: "b".into(),
        tick_ms: 1,
    });
    assert!(s.append(bad).await.is_err());
    assert_eq!(sorted_ticks(s).await, [("a".to_owned(), 60_000)]);
    assert_eq!(s.counts().await.expect("counts").events, 1);
}

/// `forget_ticks` forgets the schedules named (unknown ones are no error) and only them; a
/// forgotten schedule's next tick is recorded afresh, whatever its time.
pub async fn forget_ticks_forgets_only_those_named<B: Backend>() {
    let h = Harness::<B>::open().await;
    let s = h.store();
    s.append(fired("a", 120_000)).await.expect("append");
    s.append(fired("b", 60_000)).await.expect("append");
    s.forget_ticks(vec!["a".into(), "never".into()])
        .await
        .expect("forget");
    assert_eq!(sorted_ticks(s).await, [("b".to_owned(), 60_000)]);
    s.append(fired("a", 60_000)).await.expect("append");
    assert_eq!(
        sorted_ticks(s).await,
        [("a".to_owned(), 60_000), ("b".to_owned(), 60_000)]
    );
    s.forget_ticks(Vec::new()).await.expect("forget nothing");
    assert_eq!(sorted_ticks(s).await.len(), 2);
}
