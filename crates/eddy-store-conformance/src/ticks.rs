//! Schedule ticks ([`TickStore`]): recorded only with the events they fire (atomically, by
//! [`EventLog::append`](eddy_store::EventLog::append)); each tick recorded once: an append whose
//! tick is not later than the recorded one is refused whole ([`StoreError::TickTaken`]), also
//! when many race; kept across a restart; forgotten on request.

use eddy_store::{AppendBatch, NewWork, StoreError, Tick, TickStore};

use crate::{Backend, Harness, event, join_all};

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

/// Ticks are recorded with their events and kept across a restart. An append whose tick is not
/// later than the recorded one (older, or the same tick fired again) is refused whole with
/// `TickTaken` naming the schedule: none of its events, work or other ticks are written.
pub async fn a_tick_not_later_than_the_recorded_one_is_refused_whole<B: Backend>() {
    let mut h = Harness::<B>::open().await;
    let s = h.store();
    assert!(s.ticks().await.expect("ticks").is_empty());
    s.append(fired("a", 60_000)).await.expect("append");
    s.append(fired("a", 120_000)).await.expect("a later tick");
    s.append(fired("b", 60_000)).await.expect("append");
    for stale in [30_000, 120_000] {
        let e = s.append(fired("a", stale)).await.expect_err("a stale tick");
        assert!(
            matches!(&e, StoreError::TickTaken(taken) if taken == &["a".to_owned()]),
            "{e:?}"
        );
    }
    // One stale tick refuses the other, later, ticks of the same append.
    let mut mixed = fired("a", 180_000);
    mixed.ticks.push(Tick {
        schedule: "b".into(),
        tick_ms: 60_000,
    });
    let e = s
        .append(mixed)
        .await
        .expect_err("a stale tick among later ones");
    assert!(
        matches!(&e, StoreError::TickTaken(taken) if taken == &["b".to_owned()]),
        "{e:?}"
    );
    let counts = s.counts().await.expect("counts");
    assert_eq!((counts.events, counts.work_items), (3, 3), "refused whole");
    h.restart().await;
    let s = h.store();
    assert_eq!(
        sorted_ticks(s).await,
        [("a".to_owned(), 120_000), ("b".to_owned(), 60_000)]
    );
    let e = s
        .append(fired("a", 120_000))
        .await
        .expect_err("after a restart");
    assert!(matches!(e, StoreError::TickTaken(_)), "{e:?}");
    // Several ticks of one schedule in one append: each later than the one before.
    let mut rising = fired("c", 180_000);
    rising.ticks.push(Tick {
        schedule: "c".into(),
        tick_ms: 240_000,
    });
    s.append(rising).await.expect("rising ticks");
    let mut falling = fired("d", 240_000);
    falling.ticks.push(Tick {
        schedule: "d".into(),
        tick_ms: 180_000,
    });
    let e = s.append(falling).await.expect_err("falling ticks");
    assert!(
        matches!(&e, StoreError::TickTaken(taken) if taken == &["d".to_owned()]),
        "{e:?}"
    );
    assert_eq!(
        sorted_ticks(s).await,
        [
            ("a".to_owned(), 120_000),
            ("b".to_owned(), 60_000),
            ("c".to_owned(), 240_000)
        ]
    );
    assert_eq!(s.counts().await.expect("counts").events, 4);
}

/// The same tick appended many times at once (as nodes or restarted schedulers racing would)
/// is recorded by exactly one append; the others are refused with `TickTaken`. Appends racing
/// with them in the same group commit (other schedules, stale ones) are decided each on its
/// own.
pub async fn the_same_tick_appended_at_once_is_recorded_once<B: Backend>() {
    let h = Harness::<B>::open().await;
    let s = h.store();
    s.append(fired("old", 60_000)).await.expect("append");
    for round in 0..5 {
        let tick = 60_000 * (round + 2);
        // The first tick of `new{round}` (no row yet), the next tick of `old`, a stale tick
        // of `old`, and a lone tick of `other{round}`: all at once.
        let mut appends = Vec::new();
        for _ in 0..4 {
            appends.push(s.append(fired(&format!("new{round}"), tick)));
            appends.push(s.append(fired("old", tick)));
        }
        appends.push(s.append(fired("old", 30_000)));
        appends.push(s.append(fired(&format!("other{round}"), tick)));
        let answers = join_all(appends).await;
        let won = answers.iter().filter(|a| a.is_ok()).count();
        assert_eq!(won, 3, "one per schedule: {answers:?}");
        for a in &answers {
            if let Err(e) = a {
                assert!(matches!(e, StoreError::TickTaken(_)), "{e:?}");
            }
        }
    }
    let ticks = sorted_ticks(s).await;
    assert_eq!(ticks.len(), 11, "{ticks:?}");
    assert!(ticks.contains(&("old".to_owned(), 360_000)), "{ticks:?}");
    assert_eq!(s.counts().await.expect("counts").events, 16);
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
