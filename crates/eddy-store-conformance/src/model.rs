//! The model-based property test: random sequences of appends, leases, acks, nacks,
//! dead-letters, renewals, clock moves, queue sends, receives, deletes and visibility changes,
//! schedule ticks fired (often stale or repeated: each is recorded once, a refused one appends
//! nothing) and forgotten, and restarts (crash points: with or without `release_leases`), checked after every step
//! against an in-memory model of the contract. On a backend that can simulate one, a second
//! property puts power losses among the steps.
//!
//! Settling calls act on any lease ever handed out, and queue calls on any receipt ever handed
//! out, so stale holders (whose lease ran out, or went to another holder with a new token) and
//! stale receipts are exercised too: the store must refuse exactly what the model says is no
//! longer current. Standard queues promise no order, so the model checks what a receive hands
//! out as a set: as many as asked for (or as are visible), all of them visible.
//!
//! Case counts are modest (the suite runs in CI for every backend); a failure prints the
//! shrunk sequence, which [`known_sequences_agree_with_the_model`] can then keep.

use std::collections::BTreeMap;

use eddy_store::{AppendBatch, NewEvent, NewWork, ReceiveOptions, StoreError, Tick, WorkItem};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestError, TestRunner};

use crate::{Backend, Harness, T0, message};

/// The queue the model sends to.
const QUEUE: &str = "q";

/// One step of a sequence.
#[derive(Debug, Clone)]
pub enum Op {
    /// Events, each with this many targets.
    Append(Vec<u8>),
    Lease {
        max: usize,
        lease_ms: i64,
    },
    /// Acts on the n-th newest lease ever handed out (if any): current or stale.
    Ack(usize),
    Nack(usize, i64),
    Dead(usize),
    Extend(usize, i64),
    /// Both clocks move: time passes.
    Advance(i64),
    /// Only the callers' clock moves (the dev clock jumping forward).
    Jump(i64),
    /// A crash and a restart; with `release`, the new process releases every lease (as a single
    /// process does at start-up).
    Restart {
        release: bool,
    },
    /// A power loss and a reboot (only in sequences run on a store that can lose power).
    PowerLoss,
    /// Messages with these delays.
    Send(Vec<i64>),
    Receive {
        max: usize,
        visibility_ms: i64,
    },
    /// Acts on the n-th newest receipt ever handed out (if any): latest or stale.
    Delete(usize),
    /// Makes the message visible `ms` from now.
    Visibility(usize, i64),
    /// One event firing these ticks `(schedule, tick)`, in order, from a handful of schedules
    /// and times (so that most collide with a recorded one).
    Fire(Vec<(u8, i64)>),
    /// Forgets the recorded tick of a schedule.
    Forget(u8),
}

/// The steps of a sequence on a store that can lose power: the same, and power losses.
fn op_or_power_loss() -> impl Strategy<Value = Op> {
    prop_oneof![9 => op(), 1 => Just(Op::PowerLoss)]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => prop::collection::vec(0u8..3, 1..4).prop_map(Op::Append),
        3 => (1usize..5, 1i64..50).prop_map(|(max, lease_ms)| Op::Lease { max, lease_ms }),
        2 => (0usize..8).prop_map(Op::Ack),
        1 => (0usize..8, 0i64..40).prop_map(|(i, d)| Op::Nack(i, d)),
        1 => (0usize..8).prop_map(Op::Dead),
        1 => (0usize..8, 1i64..50).prop_map(|(i, l)| Op::Extend(i, l)),
        2 => (1i64..60).prop_map(Op::Advance),
        1 => (1i64..10_000_000).prop_map(Op::Jump),
        1 => any::<bool>().prop_map(|release| Op::Restart { release }),
        2 => prop::collection::vec(prop_oneof![Just(0i64), 1i64..40], 1..3).prop_map(Op::Send),
        2 => (1usize..4, 1i64..50)
            .prop_map(|(max, visibility_ms)| Op::Receive { max, visibility_ms }),
        1 => (0usize..6).prop_map(Op::Delete),
        1 => (0usize..6, 0i64..50).prop_map(|(i, ms)| Op::Visibility(i, ms)),
        2 => prop::collection::vec((0u8..3, 0i64..6), 1..3).prop_map(Op::Fire),
        1 => (0u8..3).prop_map(Op::Forget),
    ]
}

/// A work item in the model, keyed by (event id, target).
#[derive(Debug, Clone)]
struct ModelItem {
    /// When due, by the callers' clock (while not leased).
    due: i64,
    /// When the lease ends, by the store's clock (while leased).
    until: i64,
    token: i64,
    attempts: u32,
    order: u64,
    leased: bool,
}

type Key = (String, String);

/// A message in the model.
#[derive(Debug, Clone)]
struct ModelMessage {
    /// When it is (or becomes) visible, by the callers' clock.
    visible: i64,
    received: u32,
    /// Its latest receipt.
    receipt: Option<String>,
}

#[derive(Default)]
struct Model {
    items: BTreeMap<Key, ModelItem>,
    dead: Vec<Key>,
    events: u64,
    next_order: u64,
    messages: BTreeMap<String, ModelMessage>,
    next_message: u64,
    /// The recorded tick of each schedule.
    ticks: BTreeMap<String, i64>,
}

impl Model {
    /// Leases whose time ran out by the store's clock (oldest deadline first), then items due by
    /// the callers' clock (oldest due first), each by creation order; each leased until
    /// `store_now + lease_ms` with a new token.
    fn lease(&mut self, now: i64, store_now: i64, max: usize, lease_ms: i64) -> Vec<Key> {
        let pick = |leased: bool, by: i64| {
            let mut v: Vec<_> = self
                .items
                .iter()
                .filter(|(_, i)| i.leased == leased)
                .map(|(k, i)| (if leased { i.until } else { i.due }, i.order, k.clone()))
                .filter(|(t, _, _)| *t <= by)
                .collect();
            v.sort();
            v
        };
        let mut keys: Vec<Key> = pick(true, store_now)
            .into_iter()
            .chain(pick(false, now))
            .map(|(_, _, k)| k)
            .collect();
        keys.truncate(max);
        for k in &keys {
            if let Some(it) = self.items.get_mut(k) {
                it.until = store_now + lease_ms;
                it.token += 1;
                it.attempts += 1;
                it.leased = true;
            }
        }
        keys
    }

    /// The item `lease` names, if that lease is current.
    fn held(&mut self, key: &Key, w: &WorkItem) -> Option<&mut ModelItem> {
        self.items
            .get_mut(key)
            .filter(|m| m.leased && m.token == w.token)
    }

    /// The message whose latest receipt is `receipt`.
    fn by_receipt(&mut self, receipt: &str) -> Option<&mut ModelMessage> {
        self.messages
            .values_mut()
            .find(|m| m.receipt.as_deref() == Some(receipt))
    }

    /// `(visible, in flight, delayed)` at `now`.
    fn stats(&self, now: i64) -> (u64, u64, u64) {
        let mut s = (0, 0, 0);
        for m in self.messages.values() {
            match (m.visible <= now, m.received > 0) {
                (true, _) => s.0 += 1,
                (false, true) => s.1 += 1,
                (false, false) => s.2 += 1,
            }
        }
        s
    }
}

fn key(w: &WorkItem) -> Key {
    (w.event_id.clone(), w.target.clone())
}

/// Runs one sequence against a fresh store (one that can lose power, with `power_loss`) and the
/// model.
async fn run<B: Backend>(ops: Vec<Op>, power_loss: bool) -> Result<(), TestCaseError> {
    let mut h = if power_loss {
        Harness::<B>::open_for_power_loss().await
    } else {
        Harness::<B>::open().await
    };
    let mut model = Model::default();
    let mut now = T0;
    // Every lease and every receipt handed out, oldest first.
    let mut leases: Vec<WorkItem> = Vec::new();
    let mut receipts: Vec<String> = Vec::new();
    let nth = |leases: &Vec<WorkItem>, i: usize| leases.iter().rev().nth(i).cloned();
    for op in ops {
        let store_now = h.store_now();
        match op {
            Op::Append(targets) => {
                let mut batch = AppendBatch {
                    now_ms: Some(now),
                    ..AppendBatch::default()
                };
                for (i, n) in targets.iter().enumerate() {
                    let id = format!("e{}", model.events);
                    model.events += 1;
                    batch.events.push(NewEvent {
                        id: id.clone(),
                        bus: "r:default".into(),
                        time_ms: 1,
                        body: format!("{{\"id\":\"{id}\"}}"),
                        hops: 0,
                    });
                    for t in 0..*n {
                        let target = format!("t{t}");
                        batch.work.push(NewWork {
                            event: i,
                            rule: "rule".into(),
                            target: target.clone(),
                        });
                        let item = ModelItem {
                            due: now,
                            until: 0,
                            token: 0,
                            attempts: 0,
                            order: model.next_order,
                            leased: false,
                        };
                        model.items.insert((id.clone(), target), item);
                        model.next_order += 1;
                    }
                }
                h.store().append(batch).await.expect("append");
            }
            Op::Lease { max, lease_ms } => {
                let want = model.lease(now, store_now, max, lease_ms);
                let got = h
                    .store()
                    .lease(None, now, max, lease_ms)
                    .await
                    .expect("lease");
                let got_keys: Vec<Key> = got.iter().map(key).collect();
                prop_assert_eq!(&got_keys, &want);
                for w in &got {
                    let m = &model.items[&key(w)];
                    prop_assert_eq!(w.attempts, m.attempts);
                    prop_assert_eq!(w.token, m.token);
                    prop_assert_eq!(&w.body, &format!("{{\"id\":\"{}\"}}", w.event_id));
                }
                leases.extend(got);
            }
            Op::Ack(i) => {
                if let Some(w) = nth(&leases, i) {
                    let held = model.held(&key(&w), &w).is_some();
                    let refused = h.store().ack(vec![w.lease()]).await.expect("ack");
                    prop_assert_eq!(refused.is_empty(), held);
                    if held {
                        model.items.remove(&key(&w));
                    }
                }
            }
            Op::Nack(i, delay) => {
                if let Some(w) = nth(&leases, i) {
                    let ok = h.store().nack(w.lease(), now + delay).await.expect("nack");
                    let held = model.held(&key(&w), &w);
                    prop_assert_eq!(ok, held.is_some());
                    if let Some(m) = held {
                        m.due = now + delay;
                        m.leased = false;
                    }
                }
            }
            Op::Dead(i) => {
                if let Some(w) = nth(&leases, i) {
                    let ok = h
                        .store()
                        .dead_letter(w.lease(), "gave up".into(), now)
                        .await
                        .expect("dead letter");
                    let held = model.held(&key(&w), &w).is_some();
                    prop_assert_eq!(ok, held);
                    if held {
                        model.items.remove(&key(&w));
                        model.dead.push(key(&w));
                    }
                }
            }
            Op::Extend(i, lease_ms) => {
                if let Some(w) = nth(&leases, i) {
                    let refused = h
                        .store()
                        .extend(vec![w.lease()], lease_ms)
                        .await
                        .expect("extend");
                    let held = model.held(&key(&w), &w);
                    prop_assert_eq!(refused.is_empty(), held.is_some());
                    if let Some(m) = held {
                        m.until = store_now + lease_ms;
                    }
                }
            }
            Op::Advance(ms) => {
                now += ms;
                h.clock().advance(ms);
            }
            Op::Jump(ms) => now += ms,
            Op::PowerLoss => {
                // Everything was acknowledged, so everything is still there: the model is
                // unchanged, leases included.
                prop_assert!(h.power_loss().await, "this backend cannot lose power");
            }
            Op::Restart { release } => {
                h.restart().await;
                if release {
                    let released = h.store().release_leases(now).await.expect("release");
                    let mut want = 0;
                    for m in model.items.values_mut().filter(|m| m.leased) {
                        m.due = now;
                        m.leased = false;
                        want += 1;
                    }
                    prop_assert_eq!(released, want);
                }
            }
            Op::Send(delays) => {
                let mut batch = Vec::new();
                for delay_ms in delays {
                    let id = format!("m{}", model.next_message);
                    model.next_message += 1;
                    model.messages.insert(
                        id.clone(),
                        ModelMessage {
                            visible: now + delay_ms,
                            received: 0,
                            receipt: None,
                        },
                    );
                    batch.push(eddy_store::NewMessage {
                        delay_ms,
                        ..message(&id)
                    });
                }
                let sent = h
                    .store()
                    .queue_send(QUEUE.into(), batch, now, Vec::new())
                    .await
                    .expect("send");
                prop_assert!(sent.iter().all(|s| !s.duplicate));
            }
            Op::Receive { max, visibility_ms } => {
                let visible = model.stats(now).0 as usize;
                let got = h
                    .store()
                    .queue_receive(
                        QUEUE.into(),
                        ReceiveOptions {
                            now_ms: now,
                            max,
                            visibility_ms,
                            fifo: false,
                            redrive: None,
                            retention_ms: i64::MAX / 4,
                        },
                    )
                    .await
                    .expect("receive");
                prop_assert_eq!(got.len(), visible.min(max));
                for m in got {
                    let Some(mm) = model.messages.get_mut(&m.message_id) else {
                        return Err(TestCaseError::fail(format!(
                            "received {}, which is not in the queue",
                            m.message_id
                        )));
                    };
                    prop_assert!(
                        mm.visible <= now,
                        "received {} while invisible",
                        m.message_id
                    );
                    mm.received += 1;
                    prop_assert_eq!(m.receive_count, mm.received);
                    mm.visible = now + visibility_ms;
                    mm.receipt = Some(m.receipt.clone());
                    receipts.push(m.receipt);
                }
            }
            Op::Delete(i) => {
                if let Some(r) = receipts.iter().rev().nth(i).cloned() {
                    let latest = model.by_receipt(&r).is_some();
                    let got = h
                        .store()
                        .queue_delete(QUEUE.into(), vec![r.clone()])
                        .await
                        .expect("delete");
                    prop_assert_eq!(got, vec![latest]);
                    model
                        .messages
                        .retain(|_, m| m.receipt.as_deref() != Some(&r));
                }
            }
            Op::Fire(fired) => {
                let id = format!("e{}", model.events);
                let mut batch = AppendBatch {
                    now_ms: Some(now),
                    events: vec![NewEvent {
                        id: id.clone(),
                        bus: "r:default".into(),
                        time_ms: 1,
                        body: format!("{{\"id\":\"{id}\"}}"),
                        hops: 0,
                    }],
                    ..AppendBatch::default()
                };
                // Each tick in order must be later than the one recorded before it.
                let mut after = model.ticks.clone();
                let mut taken: Vec<String> = Vec::new();
                for (schedule, tick_ms) in fired {
                    let schedule = format!("s{schedule}");
                    if after.get(&schedule).is_some_and(|at| tick_ms <= *at) {
                        if !taken.contains(&schedule) {
                            taken.push(schedule.clone());
                        }
                    } else {
                        after.insert(schedule.clone(), tick_ms);
                    }
                    batch.ticks.push(Tick { schedule, tick_ms });
                }
                match h.store().append(batch).await {
                    Ok(()) => {
                        prop_assert!(taken.is_empty(), "ticks of {:?} fired again", taken);
                        model.events += 1;
                        model.ticks = after;
                    }
                    Err(StoreError::TickTaken(got)) => prop_assert_eq!(got, taken),
                    Err(e) => return Err(TestCaseError::fail(format!("append: {e}"))),
                }
            }
            Op::Forget(schedule) => {
                let schedule = format!("s{schedule}");
                h.store()
                    .forget_ticks(vec![schedule.clone()])
                    .await
                    .expect("forget");
                model.ticks.remove(&schedule);
            }
            Op::Visibility(i, ms) => {
                if let Some(r) = receipts.iter().rev().nth(i).cloned() {
                    let in_flight = model.by_receipt(&r).filter(|m| m.visible > now);
                    let want = in_flight.is_some();
                    if let Some(m) = in_flight {
                        m.visible = now + ms;
                    }
                    let got = h
                        .store()
                        .queue_change_visibility(QUEUE.into(), vec![(r, now + ms)], now)
                        .await
                        .expect("change visibility");
                    prop_assert_eq!(got, vec![want]);
                }
            }
        }
        let counts = h.store().counts().await.expect("counts");
        prop_assert_eq!(counts.events, model.events);
        prop_assert_eq!(counts.work_items, model.items.len() as u64);
        prop_assert_eq!(counts.dead_letters, model.dead.len() as u64);
        let stats = h
            .store()
            .queue_stats(QUEUE.into(), now)
            .await
            .expect("stats");
        prop_assert_eq!(
            (stats.visible, stats.in_flight, stats.delayed),
            model.stats(now)
        );
        let ticks: BTreeMap<String, i64> = h
            .store()
            .ticks()
            .await
            .expect("ticks")
            .into_iter()
            .collect();
        prop_assert_eq!(&ticks, &model.ticks);
    }
    let mut got: Vec<Key> = h
        .store()
        .dead_letters(1000)
        .await
        .expect("dead letters")
        .into_iter()
        .map(|d| (d.event_id, d.target))
        .collect();
    got.sort();
    let mut want = model.dead.clone();
    want.sort();
    prop_assert_eq!(got, want);
    Ok(())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime for the model")
}

/// Runs `cases` random sequences (from the strategy `sequences` makes) against the model.
async fn explore<B: Backend, S>(cases: u32, sequences: fn() -> S, power_loss: bool)
where
    S: Strategy<Value = Vec<Op>> + 'static,
{
    // Proptest runs cases synchronously: on a thread of its own, outside this check's runtime.
    let outcome = std::thread::spawn(move || {
        let runtime = runtime();
        let config = Config {
            cases,
            // Failures are kept as sequences in `known_sequences_agree_with_the_model`, not in
            // files beside the backend's tests.
            failure_persistence: None,
            ..Config::default()
        };
        TestRunner::new(config)
            .run(&sequences(), |ops| {
                runtime.block_on(run::<B>(ops, power_loss))
            })
            .map_err(|e| match e {
                TestError::Fail(why, ops) => format!("{why}\nminimal failing sequence: {ops:?}"),
                TestError::Abort(why) => format!("aborted: {why}"),
            })
    })
    .join();
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(failure)) => panic!("the store disagrees with the model: {failure}"),
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// Random sequences of up to 40 steps (200 of them) agree with the model.
pub async fn store_agrees_with_the_model<B: Backend>() {
    explore::<B, _>(200, || prop::collection::vec(op(), 1..40), false).await;
}

/// Random sequences of up to 40 steps with power losses among them (32 of them, on a store that
/// syncs) agree with the model: a power loss between any two calls loses nothing acknowledged.
/// Backends that cannot simulate a power loss skip this check (it says so on stderr).
pub async fn power_losses_agree_with_the_model<B: Backend>() {
    if !Harness::<B>::open_for_power_loss().await.power_loss().await {
        eprintln!("skipped: this backend cannot simulate a power loss");
        return;
    }
    let sequences = || prop::collection::vec(op_or_power_loss(), 1..40);
    explore::<B, _>(32, sequences, true).await;
}

/// Sequences that once broke a store, kept so that every backend runs them.
pub async fn known_sequences_agree_with_the_model<B: Backend>() {
    let known = vec![
        // A nack and an ack of the same stale lease, after a lease that took over others.
        vec![
            Op::Append(vec![1, 1, 2]),
            Op::Append(vec![1]),
            Op::Lease {
                max: 2,
                lease_ms: 1,
            },
            Op::Lease {
                max: 3,
                lease_ms: 1,
            },
            Op::Nack(4, 0),
            Op::Ack(4),
        ],
    ];
    for ops in known {
        if let Err(e) = run::<B>(ops.clone(), false).await {
            panic!("the store disagrees with the model: {e}\nsequence: {ops:?}");
        }
    }
}
