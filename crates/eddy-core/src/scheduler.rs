//! The scheduler: fires scheduled rules (EventBridge `ScheduleExpression`) and EventBridge
//! Scheduler schedules on time, once, across restarts.
//!
//! # How it works
//! * One task ([`run`]) keeps every enabled schedule in a map and its next tick in a min-heap
//!   (lazy deletion by generation), sleeps on [`Clock::sleep_until`] until the earliest, fires
//!   everything due in due-time order, computes each schedule's next tick, and sleeps again.
//!   100,000 schedules cost one heap entry each and no work between ticks.
//! * It learns about changes from the store's definition notifications (rules, schedules), so a
//!   change takes effect as soon as it is durable. A change that keeps a schedule's timing (a
//!   new target, a new description) keeps its place in the heap.
//! * **Firing** appends, in one durable store batch, the tick's event, its work items (one per
//!   target; the delivery engine does the rest: retries, dead-letter queues) and the tick itself
//!   ([`eddy_store::Tick`]). A tick is therefore recorded exactly when its event is: a restart
//!   never fires a recorded tick again and never loses an unrecorded one.
//!   - A scheduled rule puts an `aws.events` / `Scheduled Event` event (resources = the rule
//!     ARN, detail `{}`, `time` = the nominal tick) with work items for that rule's targets only:
//!     as on AWS, other rules on the bus never see it.
//!   - A Scheduler schedule records one work item whose "rule" is the schedule ARN and whose
//!     target is [`crate::work::SCHEDULE_TARGET`] ([`Work::ScheduleTick`]); the delivery engine resolves it through
//!     [`crate::schedules::Schedules::delivery_target`] (queue targets get `Input` as the body;
//!     bus targets get a PutEvents entry built here from `EventBridgeParameters`, detail =
//!     `Input`). One-time schedules with `ActionAfterCompletion: DELETE` are deleted after the
//!     append.
//! * **Missed ticks** (while eddy was down) are settled once at start-up, per schedule: `latest`
//!   (default) fires the most recent missed tick once, `skip` fires none, `all` fires them in
//!   order, at most [`MissedTicks::ALL_BOUND`] (the most recent ones). Scheduler schedules take
//!   the policy from their group's `eddy:missed-ticks` tag; rules use `latest`. Ticks that fall
//!   due while eddy runs (including when the dev clock jumps) all fire, in order.
//! * **Time** is [`Core::clock`](crate::Core::clock): `POST /_eddy/clock` moves it and then calls [`Scheduler::sync`],
//!   which answers once everything due up to the new time is durably appended.
//! * Rate schedules are anchored at their `StartDate` or creation time (whole seconds): a rule
//!   first fires one period after its creation, a Scheduler schedule at its start. Flexible time
//!   windows fire at a random point of the window after the nominal time (the event's `time`
//!   stays nominal).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use eddy_model::definitions::RuleDef;
use eddy_model::event::{EventInput, EventOrigin, envelope};
use eddy_schedule::ScheduleExpression;
use eddy_store::{AppendBatch, DefinitionChange, NewEvent, Tick};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::Core;
use crate::delivery::target::TargetKind;
use crate::follow::Followed;
use crate::schedules::{self, MissedTicks, ScheduleDef};
use crate::work::Work;

/// Most ticks fired in one store batch.
const FIRE_BATCH: usize = 2048;
/// Most fired batches queued in the store at once.
const PIPELINE: usize = 3;
/// The log's bus name for the events of Scheduler schedules (not a valid bus name, so no bus
/// can read them by accident).
pub const SCHEDULER_LOG_BUS: &str = "#scheduler";

const KIND_RULE: &str = "rule";

/// Most ticks one move of the dev clock may fire: a move that would fire more is refused, and
/// the clock stays where it was (a 73-year jump over a `rate(5 minutes)` rule is 7.7 million
/// ticks, each an event and a delivery).
pub const MAX_TICKS_PER_MOVE: u64 = 100_000;

enum Request {
    Sync(oneshot::Sender<bool>),
    /// Would moving the clock to this time fire more than [`MAX_TICKS_PER_MOVE`] ticks?
    Check(i64, oneshot::Sender<Result<(), TooManyTicks>>),
}

/// A clock move refused because it would fire too many ticks: the schedules that would fire
/// most in the first [`MAX_TICKS_PER_MOVE`] ticks after now, most first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TooManyTicks {
    /// `(what, ticks)`: `rule `BUS/NAME`` or `schedule `GROUP/NAME``, and how many of the first
    /// ticks it would fire (at least that many in the whole move).
    pub heaviest: Vec<(String, u64)>,
    /// How many schedules would fire in all among the first ticks.
    pub schedules: usize,
}

impl std::fmt::Display for TooManyTicks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "moving the clock that far would fire more than {MAX_TICKS_PER_MOVE} scheduled ticks at once, \
             so the clock was not moved; "
        )?;
        let named: Vec<String> = self
            .heaviest
            .iter()
            .map(|(what, n)| format!("{what} (at least {n} ticks)"))
            .collect();
        write!(f, "{}", named.join(", "))?;
        let more = self.schedules.saturating_sub(self.heaviest.len());
        if more > 0 {
            write!(f, " and {more} more")?;
        }
        write!(
            f,
            " would fire; move the clock in smaller steps, or disable or delete those schedules first"
        )
    }
}

/// The handle on the scheduler task that [`Core`] keeps.
pub struct Scheduler {
    tx: mpsc::UnboundedSender<Request>,
    rx: Mutex<Option<mpsc::UnboundedReceiver<Request>>>,
    running: AtomicBool,
    /// True while this node fires the schedules (it leads the `scheduler` role of the store).
    leading: AtomicBool,
    /// True while a burst of ticks (more than one store batch) is being recorded.
    bursting: tokio::sync::watch::Sender<bool>,
}

impl Default for Scheduler {
    fn default() -> Self {
        Self::new()
    }
}

impl Scheduler {
    pub fn new() -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        Self {
            tx,
            rx: Mutex::new(Some(rx)),
            running: AtomicBool::new(false),
            leading: AtomicBool::new(false),
            bursting: tokio::sync::watch::channel(false).0,
        }
    }

    /// Whether this node fires the schedules now (of the nodes sharing a store, one does).
    pub fn leads(&self) -> bool {
        self.leading.load(Ordering::SeqCst)
    }

    /// Returns once every tick due at the clock's current time has been fired: true when all of
    /// them are durably recorded, false when the store refused some (they stay due and are fired
    /// again). At once (true) when the scheduler is not running.
    pub async fn sync(&self) -> bool {
        if !self.running.load(Ordering::SeqCst) {
            return true;
        }
        let (done, wait) = oneshot::channel();
        if self.tx.send(Request::Sync(done)).is_err() {
            return true;
        }
        wait.await.unwrap_or(true)
    }

    /// Returns when no burst of ticks is being recorded. The delivery engine waits on it before
    /// leasing, so that 100,000 ticks due in the same second are committed first (the store has
    /// one writer) and delivered right after.
    pub async fn quiet(&self) {
        let mut rx = self.bursting.subscribe();
        let _closed = rx.wait_for(|b| !*b).await.is_err();
    }

    /// Refuses a move of the clock to `to_ms` that would fire more than [`MAX_TICKS_PER_MOVE`]
    /// ticks (allowed at once when the scheduler is not running). Call after [`Self::sync`].
    pub async fn check_move(&self, to_ms: i64) -> Result<(), TooManyTicks> {
        if !self.running.load(Ordering::SeqCst) {
            return Ok(());
        }
        let (done, wait) = oneshot::channel();
        if self.tx.send(Request::Check(to_ms, done)).is_err() {
            return Ok(());
        }
        wait.await.unwrap_or(Ok(()))
    }
}

/// What fires. Kept small: 100,000 schedules hold one each.
#[derive(Debug, Clone, PartialEq)]
enum Source {
    Rule(Box<RuleSource>),
    /// The definition as the scheduler last saw it committed (its ARN is built when it fires).
    Schedule(Arc<ScheduleDef>),
}

#[derive(Debug, Clone, PartialEq)]
struct RuleSource {
    region: String,
    bus: String,
    name: String,
    arn: String,
}

impl Source {
    /// How an error names it: ``rule `BUS/NAME` `` or ``schedule `GROUP/NAME` ``.
    fn describe(&self) -> String {
        match self {
            Source::Rule(r) => format!("rule `{}/{}`", r.bus, r.name),
            Source::Schedule(def) => format!("schedule `{}/{}`", def.group, def.name),
        }
    }
}

/// The timing of one schedule besides its expression and zone: two entries with equal
/// expressions, zones and timings fire at the same ticks.
#[derive(Debug, Clone, PartialEq)]
struct Timing {
    anchor_ms: Option<i64>,
    start_ms: Option<i64>,
    end_ms: Option<i64>,
    window_ms: i64,
}

struct Entry {
    generation: u64,
    /// Shared by every schedule with the same expression (see [`parsed`]).
    expr: Arc<ScheduleExpression>,
    tz: TimeZone,
    timing: Timing,
    source: Source,
    /// Ticks are sought strictly after this (ms).
    floor_ms: i64,
    policy: MissedTicks,
}

impl Entry {
    fn next_after(&self, after_ms: i64) -> Option<i64> {
        let after = Timestamp::from_millisecond(after_ms.max(self.floor_ms)).ok()?;
        let anchor = self
            .timing
            .anchor_ms
            .and_then(|a| Timestamp::from_millisecond(a).ok());
        let t = self
            .expr
            .next_after(after, &self.tz, anchor)?
            .as_millisecond();
        match self.timing.end_ms {
            Some(end) if !self.expr.is_one_time() && t > end => None,
            _ => Some(t),
        }
    }

    /// Up to `keep` of the most recent ticks in `(after_ms, now_ms]`, in order.
    fn recent_ticks(&self, after_ms: i64, now_ms: i64, keep: usize) -> Vec<i64> {
        const HOUR: i64 = 3_600_000;
        const STEPS: usize = 200_000;
        for window in [HOUR, 24 * HOUR, 32 * 24 * HOUR, 400 * 24 * HOUR, i64::MAX] {
            let from = after_ms.max(now_ms.saturating_sub(window));
            let mut out = std::collections::VecDeque::with_capacity(keep + 1);
            let mut cursor = from;
            let mut steps = 0;
            while let Some(t) = self.next_after(cursor) {
                if t > now_ms || steps == STEPS {
                    break;
                }
                out.push_back(t);
                if out.len() > keep {
                    out.pop_front();
                }
                cursor = t;
                steps += 1;
            }
            if out.len() >= keep || from == after_ms {
                return out.into();
            }
        }
        Vec::new()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Due {
    due_ms: i64,
    nominal_ms: i64,
    generation: u64,
    key: Arc<str>,
}

#[derive(Default)]
struct State {
    entries: HashMap<Arc<str>, Entry>,
    last: HashMap<Arc<str>, i64>,
    heap: BinaryHeap<Reverse<Due>>,
    next_gen: u64,
}

fn trunc_s(ms: i64) -> i64 {
    ms - ms.rem_euclid(1000)
}

fn jitter(window_ms: i64) -> i64 {
    if window_ms <= 0 {
        return 0;
    }
    let r = (uuid::Uuid::new_v4().as_u128() >> 64) as u64;
    (r % window_ms as u64) as i64
}

fn rule_key(store_key: &str) -> Arc<str> {
    format!("{KIND_RULE}:{store_key}").into()
}

fn schedule_key(store_key: &str) -> Arc<str> {
    format!("{}:{store_key}", schedules::KIND_SCHEDULE).into()
}

/// The parsed form of a schedule expression, shared by all the schedules that use the same
/// text (100,000 schedules commonly use a handful of expressions; a parsed cron is ~250 bytes).
fn parsed(text: &str) -> Option<Arc<ScheduleExpression>> {
    use std::sync::{LazyLock, Weak};
    static PARSED: LazyLock<Mutex<HashMap<String, Weak<ScheduleExpression>>>> =
        LazyLock::new(Default::default);
    let mut cache = PARSED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(e) = cache.get(text).and_then(Weak::upgrade) {
        return Some(e);
    }
    let e = Arc::new(ScheduleExpression::parse(text).ok()?);
    if cache.len() >= 1024 && cache.len().is_power_of_two() {
        cache.retain(|_, w| w.strong_count() > 0);
    }
    cache.insert(text.to_owned(), Arc::downgrade(&e));
    Some(e)
}

/// When a scheduled rule next fires: its first nominal tick after `now_ms`, as the scheduler
/// computes it; `None` when it is disabled, not scheduled or has no tick left.
pub fn next_rule_tick(app: &Core, r: &RuleDef, now_ms: i64) -> Option<i64> {
    rule_entry(app, r)?.next_after(now_ms)
}

/// When a Scheduler schedule next fires (see [`next_rule_tick`]); a flexible window may fire it
/// up to the window later.
pub fn next_schedule_tick(app: &Core, d: &Arc<ScheduleDef>, now_ms: i64) -> Option<i64> {
    schedule_entry(app, d)?.next_after(now_ms)
}

/// The scheduler's view of a rule, when it is an enabled scheduled rule.
fn rule_entry(app: &Core, r: &RuleDef) -> Option<Entry> {
    let expression = r.schedule_expression.as_ref()?;
    if !r.state.is_enabled() {
        return None;
    }
    let expr = parsed(expression)?;
    Some(Entry {
        generation: 0,
        expr,
        tz: TimeZone::UTC,
        timing: Timing {
            anchor_ms: Some(trunc_s(r.created_ms)),
            start_ms: None,
            end_ms: None,
            window_ms: 0,
        },
        source: Source::Rule(Box::new(RuleSource {
            region: r.region.clone(),
            bus: r.bus.clone(),
            name: r.name.clone(),
            arn: app.catalog.scope(&r.region).rule_arn(&r.bus, &r.name),
        })),
        floor_ms: r.created_ms,
        policy: MissedTicks::Latest,
    })
}

/// The scheduler's view of a Scheduler schedule, when it is enabled.
fn schedule_entry(app: &Core, d: &Arc<ScheduleDef>) -> Option<Entry> {
    if !d.enabled() {
        return None;
    }
    let expr = parsed(&d.schedule_expression)?;
    let tz_name = d.schedule_expression_timezone.as_deref().unwrap_or("UTC");
    let tz = TimeZone::get(tz_name).ok()?;
    let one_time = expr.is_one_time();
    let start = if one_time { None } else { d.start_ms };
    let mut floor = trunc_s(d.modified_ms) - 1;
    if let Some(s) = start {
        floor = floor.max(s - 1);
    }
    Some(Entry {
        generation: 0,
        expr,
        tz,
        timing: Timing {
            anchor_ms: Some(start.unwrap_or_else(|| trunc_s(d.created_ms))),
            start_ms: start,
            end_ms: d.end_ms,
            window_ms: d.window_ms(),
        },
        source: Source::Schedule(d.clone()),
        floor_ms: floor,
        policy: app.schedules.missed_ticks(&d.region, &d.group),
    })
}

impl State {
    /// Adds or replaces a schedule. `startup_now`: settle missed ticks up to that time with the
    /// entry's policy. `live_now`: a change seen while running (no tick before it fires).
    fn upsert(&mut self, key: Arc<str>, mut e: Entry, startup_now: Option<i64>, live_now: i64) {
        if let Some(old) = self.entries.get_mut(&key)
            && old.timing == e.timing
            && old.expr == e.expr
            && old.tz == e.tz
        {
            // Same ticks: keep its place in the heap, take the new target and policy.
            old.source = e.source;
            old.policy = e.policy;
            return;
        }
        self.next_gen += 1;
        e.generation = self.next_gen;
        let last = self.last.get(&key).copied();
        let mut cursor = e.floor_ms;
        if let Some(l) = last {
            cursor = cursor.max(l);
        }
        // A rule changed while running fires no tick before the change (a schedule's floor is
        // already its last modification).
        if startup_now.is_none() && matches!(e.source, Source::Rule(_)) {
            cursor = cursor.max(live_now);
        }
        let first = match startup_now {
            Some(now) => match e.next_after(cursor) {
                Some(t) if t <= now => match e.policy {
                    MissedTicks::Skip => e.next_after(now),
                    MissedTicks::Latest => e.recent_ticks(cursor, now, 1).first().copied(),
                    MissedTicks::All => e
                        .recent_ticks(cursor, now, MissedTicks::ALL_BOUND)
                        .first()
                        .copied(),
                },
                other => other,
            },
            None => e.next_after(cursor),
        };
        if let Some(t) = first {
            self.heap.push(Reverse(Due {
                due_ms: t + jitter(e.timing.window_ms),
                nominal_ms: t,
                generation: e.generation,
                key: key.clone(),
            }));
        }
        self.entries.insert(key, e);
    }

    /// Puts back a tick whose batch was not recorded, for the schedule's current entry (none
    /// when the schedule is gone).
    fn due_again(&mut self, key: Arc<str>, nominal_ms: i64, due_ms: i64) {
        if let Some(generation) = self.entries.get(&key).map(|e| e.generation) {
            self.heap.push(Reverse(Due {
                due_ms,
                nominal_ms,
                generation,
                key,
            }));
        }
    }

    fn remove(&mut self, key: &str) {
        self.entries.remove(key);
    }

    /// The ticks that moving the clock from `now_ms` to `to_ms` would fire, walked in time
    /// order across all schedules but no further than `bound + 1` of them: `None` when there
    /// are at most `bound`, else the schedules that fire among the first ticks, most first.
    fn too_many_ticks(&self, now_ms: i64, to_ms: i64, bound: u64) -> Option<TooManyTicks> {
        let mut next: BinaryHeap<Reverse<(i64, &Arc<str>)>> = self
            .entries
            .iter()
            .filter_map(|(k, e)| e.next_after(now_ms).map(|t| Reverse((t, k))))
            .filter(|Reverse((t, _))| *t <= to_ms)
            .collect();
        let mut fired: HashMap<&Arc<str>, u64> = HashMap::new();
        let mut total = 0u64;
        while let Some(Reverse((t, key))) = next.pop() {
            *fired.entry(key).or_default() += 1;
            total += 1;
            if total > bound {
                let mut heaviest: Vec<(String, u64)> = fired
                    .iter()
                    .filter_map(|(k, n)| Some((self.entries.get(*k)?.source.describe(), *n)))
                    .collect();
                heaviest.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
                let schedules = heaviest.len();
                heaviest.truncate(5);
                return Some(TooManyTicks {
                    heaviest,
                    schedules,
                });
            }
            if let Some(after) = self.entries.get(key).and_then(|e| e.next_after(t))
                && after <= to_ms
            {
                next.push(Reverse((after, key)));
            }
        }
        None
    }

    fn next_due(&mut self) -> Option<i64> {
        while let Some(Reverse(d)) = self.heap.peek() {
            if self
                .entries
                .get(&d.key)
                .is_some_and(|e| e.generation == d.generation)
            {
                return Some(d.due_ms);
            }
            self.heap.pop();
        }
        None
    }

    /// Pops up to `max` ticks due at `now_ms`, scheduling each one's successor.
    fn take_due(&mut self, now_ms: i64, max: usize) -> Vec<(Arc<str>, Source, i64, i64)> {
        let mut out = Vec::new();
        while out.len() < max {
            let Some(due) = self.next_due() else { break };
            if due > now_ms {
                break;
            }
            let Some(Reverse(d)) = self.heap.pop() else {
                break;
            };
            let Some(e) = self.entries.get(&d.key) else {
                continue;
            };
            if let Some(next) = e.next_after(d.nominal_ms) {
                self.heap.push(Reverse(Due {
                    due_ms: next + jitter(e.timing.window_ms),
                    nominal_ms: next,
                    generation: e.generation,
                    key: d.key.clone(),
                }));
            }
            out.push((d.key, e.source.clone(), d.nominal_ms, d.due_ms));
        }
        out
    }
}

/// Starts the scheduler task, which runs until `stop` turns true. From this call on,
/// [`Scheduler::sync`] waits for the task (requests made before it has loaded are answered once
/// it has). `None` when this app's scheduler was already started.
pub fn spawn(
    app: Arc<Core>,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Option<tokio::task::JoinHandle<()>> {
    let requests = app
        .scheduler
        .rx
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take()?;
    app.scheduler.running.store(true, Ordering::SeqCst);
    // Subscribe before loading, so no change applied meanwhile is missed.
    let changes = app.feed.subscribe();
    Some(tokio::spawn(run(app, stop, requests, changes)))
}

/// The store role whose leader fires the schedules.
const ROLE: &str = "scheduler";

/// A node that takes over firing from another (not at its own start) fires the ticks due in
/// the last this-many milliseconds as due now: a handover is not downtime, so no missed-tick
/// policy skips them. Older ones are missed ticks, settled by their policy.
const HANDOVER_GRACE_MS: i64 = 30_000;

/// Leadership gained this soon after the scheduler started is the node's start, not a takeover.
const START: Duration = Duration::from_secs(5);

/// Waits until leadership changes; never returns once the store is gone (the node stops).
async fn leadership_changed(rx: &mut tokio::sync::watch::Receiver<bool>) {
    if rx.changed().await.is_err() {
        std::future::pending::<()>().await;
    }
}

async fn run(
    app: Arc<Core>,
    mut stop: tokio::sync::watch::Receiver<bool>,
    mut requests: mpsc::UnboundedReceiver<Request>,
    mut changes: broadcast::Receiver<Followed>,
) {
    // Of the nodes sharing a store, the one leading this role fires the schedules (the embedded
    // store always leads); the store refuses a tick fired twice anyway (`TickTaken`).
    let mut leadership = app.store.leadership(ROLE);
    let mut state = State::default();
    let mut led = false;
    let started = tokio::time::Instant::now();
    let mut moved = app.clock.moved();
    loop {
        let leads = *leadership.borrow_and_update();
        if leads != led {
            led = leads;
            app.scheduler.leading.store(leads, Ordering::SeqCst);
            if leads {
                // Taking over: from what the store recorded, settling missed ticks as at start
                // (but for the last moments before a takeover, which fire as due).
                let grace = if started.elapsed() < START {
                    0
                } else {
                    HANDOVER_GRACE_MS
                };
                state = load(&app, grace).await;
                tracing::info!(node = %app.config.node, "this node fires the schedules");
            } else {
                state = State::default();
                tracing::info!(node = %app.config.node, "another node fires the schedules");
            }
        }
        if !led {
            tokio::select! {
                () = leadership_changed(&mut leadership) => {}
                // Definitions are read again when this node takes over.
                _ = changes.recv() => {}
                r = requests.recv() => match r {
                    // Nothing for this node to fire.
                    Some(Request::Sync(done)) => {
                        let _gone = done.send(true).is_err();
                    }
                    Some(Request::Check(_, done)) => {
                        let _gone = done.send(Ok(())).is_err();
                    }
                    None => break,
                },
                _ = stop.changed() => break,
            }
            continue;
        }
        drain(&app, &mut state, &mut changes).await;
        fire_due(&app, &mut state).await;
        app.metrics
            .scheduler_schedules
            .set(state.entries.len() as i64);
        let next = state.next_due();
        moved.borrow_and_update();
        let sleep = async {
            match next {
                Some(at) => app.clock.sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = sleep => {}
            _ = moved.changed() => {}
            () = leadership_changed(&mut leadership) => {}
            n = changes.recv() => handle(&app, &mut state, n).await,
            r = requests.recv() => match r {
                Some(Request::Sync(done)) => {
                    drain(&app, &mut state, &mut changes).await;
                    let recorded = fire_due(&app, &mut state).await;
                    let _gone = done.send(recorded).is_err();
                }
                Some(Request::Check(to_ms, done)) => {
                    drain(&app, &mut state, &mut changes).await;
                    let now = app.clock.now_ms();
                    let verdict = match state.too_many_ticks(now, to_ms, MAX_TICKS_PER_MOVE) {
                        Some(refused) => Err(refused),
                        None => Ok(()),
                    };
                    let _gone = done.send(verdict).is_err();
                }
                None => break,
            },
            _ = stop.changed() => break,
        }
    }
    app.scheduler.running.store(false, Ordering::SeqCst);
    app.scheduler.leading.store(false, Ordering::SeqCst);
}

/// Loads every scheduled rule and schedule with its last recorded tick, settling the ticks
/// missed until `grace_ms` ago by their policies (later ones fire as due).
async fn load(app: &Core, grace_ms: i64) -> State {
    let mut state = State::default();
    match app.store.ticks().await {
        Ok(ticks) => {
            for (k, t) in ticks {
                state.last.insert(k.into(), t);
            }
        }
        Err(e) => tracing::error!(error = %e, "cannot read recorded ticks"),
    }
    let now = app.clock.now_ms();
    each_current(app, |key, e| {
        state.upsert(key, e, Some(now - grace_ms), now)
    })
    .await;
    tracing::info!(schedules = state.entries.len(), "scheduler started");
    state
}

/// Hands `each` every scheduled rule and schedule the caches hold now, as the scheduler's
/// entries (one at a time: 100,000 schedules make no list).
async fn each_current(app: &Core, mut each: impl FnMut(Arc<str>, Entry)) {
    app.catalog
        .read(|defs| {
            for r in defs.rules.values() {
                if let Some(e) = rule_entry(app, r) {
                    each(rule_key(&format!("{}:{}:{}", r.region, r.bus, r.name)), e);
                }
            }
        })
        .await;
    for d in app.schedules.all() {
        if let Some(e) = schedule_entry(app, &d) {
            each(schedule_key(&d.store_key()), e);
        }
    }
}

/// Applies the definition changes already waiting.
async fn drain(app: &Core, state: &mut State, rx: &mut broadcast::Receiver<Followed>) {
    loop {
        match rx.try_recv() {
            Ok(n) => apply(app, state, n).await,
            Err(broadcast::error::TryRecvError::Lagged(_)) => *state = rebuild(app, state).await,
            Err(_) => return,
        }
    }
}

async fn handle(app: &Core, state: &mut State, n: Result<Followed, broadcast::error::RecvError>) {
    match n {
        Ok(n) => apply(app, state, n).await,
        Err(broadcast::error::RecvError::Lagged(_)) => *state = rebuild(app, state).await,
        Err(broadcast::error::RecvError::Closed) => {}
    }
}

/// After missing notifications: every schedule again from memory, keeping the fired ticks.
async fn rebuild(app: &Core, old: &mut State) -> State {
    let mut state = State {
        last: std::mem::take(&mut old.last),
        entries: std::mem::take(&mut old.entries),
        heap: std::mem::take(&mut old.heap),
        next_gen: old.next_gen,
    };
    let now = app.clock.now_ms();
    let mut seen = std::collections::HashSet::new();
    each_current(app, |key, e| {
        seen.insert(key.clone());
        state.upsert(key, e, None, now);
    })
    .await;
    state.entries.retain(|k, _| seen.contains(k));
    state
}

async fn apply(app: &Core, state: &mut State, n: Followed) {
    let now = app.clock.now_ms();
    match n {
        Followed::Reset => *state = State::default(),
        Followed::Reloaded => *state = rebuild(app, state).await,
        Followed::Changed(changes) => {
            for c in changes.iter() {
                apply_one(app, state, c, now);
            }
        }
    }
}

fn apply_one(app: &Core, state: &mut State, c: &DefinitionChange, now: i64) {
    match c.kind.as_str() {
        KIND_RULE => {
            let key = rule_key(&c.key);
            let entry = c
                .value
                .as_deref()
                .and_then(|v| serde_json::from_slice::<RuleDef>(v).ok())
                .and_then(|r| rule_entry(app, &r));
            match entry {
                Some(e) => state.upsert(key, e, None, now),
                None => state.remove(&key),
            }
        }
        schedules::KIND_SCHEDULE => {
            let key = schedule_key(&c.key);
            // The registry already holds the committed definition (the follower applied it
            // before relaying the change): share it rather than parse another copy.
            let def = c.value.as_deref().and_then(|v| {
                app.schedules
                    .get_by_store_key(&c.key)
                    .or_else(|| serde_json::from_slice::<ScheduleDef>(v).ok().map(Arc::new))
            });
            let entry = def.and_then(|d| schedule_entry(app, &d));
            match entry {
                Some(e) => state.upsert(key, e, None, now),
                None => state.remove(&key),
            }
        }
        _ => {}
    }
}

/// A store batch of fired ticks on its way to durability.
struct InFlight<'a> {
    append: eddy_store::BoxFuture<'a, eddy_store::Result<()>>,
    /// `(key, nominal ms, due ms)` of each tick.
    fired: Vec<(Arc<str>, i64, i64)>,
    work: usize,
}

/// Fires everything due now, in due-time order, a store batch at a time. Up to [`PIPELINE`]
/// batches are in the store's queue at once (the store takes them in order), so building the
/// next batch overlaps with committing the previous one. False when the store refused a batch:
/// its ticks are due again, and firing stops until the next wake-up.
async fn fire_due(app: &Core, state: &mut State) -> bool {
    let mut recorded = true;
    let mut pending: std::collections::VecDeque<InFlight<'_>> = Default::default();
    let mut batches = 0;
    loop {
        let now = app.clock.now_ms();
        let due = state.take_due(now, FIRE_BATCH);
        if due.is_empty() {
            break;
        }
        batches += 1;
        if batches == 2 {
            app.scheduler.bursting.send_replace(true);
        }
        let mut batch = AppendBatch {
            now_ms: Some(now),
            ..AppendBatch::default()
        };
        let mut fired = Vec::with_capacity(due.len());
        for (key, source, nominal, due_ms) in due {
            build(app, &mut batch, &source, nominal).await;
            batch.ticks.push(Tick {
                schedule: key.to_string(),
                tick_ms: nominal,
            });
            fired.push((key, nominal, due_ms));
        }
        let work = batch.work.len();
        // The command is queued in the store when `append` is called, not when awaited.
        pending.push_back(InFlight {
            append: app.store.append(batch),
            fired,
            work,
        });
        if pending.len() >= PIPELINE
            && let Some(p) = pending.pop_front()
            && !settle(app, state, p).await
        {
            recorded = false;
            break;
        }
    }
    while let Some(p) = pending.pop_front() {
        recorded &= settle(app, state, p).await;
    }
    if batches >= 2 {
        app.scheduler.bursting.send_replace(false);
    }
    recorded
}

/// Waits for one batch: its ticks are recorded (true), or (the store failed) due again. A batch
/// refused because another node fired some of its ticks (`TickTaken`, a leader handing over)
/// wrote nothing: those ticks count as fired, the others are due again at once.
async fn settle(app: &Core, state: &mut State, p: InFlight<'_>) -> bool {
    let outcome = p.append.await;
    if let Err(eddy_store::StoreError::TickTaken(taken)) = &outcome {
        let taken: std::collections::HashSet<&str> = taken.iter().map(String::as_str).collect();
        tracing::info!(
            ticks = taken.len(),
            "ticks fired by another node; skipping them"
        );
        for (key, nominal_ms, due_ms) in p.fired {
            if taken.contains(&*key) {
                let last = state.last.entry(key).or_insert(nominal_ms);
                *last = (*last).max(nominal_ms);
            } else {
                state.due_again(key, nominal_ms, due_ms);
            }
        }
        return true;
    }
    if let Err(e) = outcome {
        tracing::error!(error = %e, ticks = p.fired.len(), "cannot record fired ticks; retrying them");
        for (key, nominal_ms, due_ms) in p.fired {
            state.due_again(key, nominal_ms, due_ms);
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        return false;
    }
    let done = app.clock.now_ms();
    app.metrics.scheduler_ticks.inc_by(p.fired.len() as u64);
    for (key, nominal, due_ms) in p.fired {
        let late = (done - due_ms).max(0) as f64 / 1000.0;
        app.metrics.scheduler_lateness_seconds.observe(late);
        state.last.insert(key, nominal);
    }
    if p.work > 0 {
        app.metrics.work_items.inc_by(p.work as u64);
        app.bus.work_ready().notify_one();
    }
    true
}

/// Adds the event and work items of one tick to `batch` (nothing when its rule or schedule is
/// gone, disabled, or has no target).
async fn build(app: &Core, batch: &mut AppendBatch, source: &Source, nominal_ms: i64) {
    // Per kind: the event's region, the bus it is stored under, its source, detail type and
    // detail, and the targets (work items) it goes to.
    let (arn, region, bus, src, detail_type, detail, targets) = match source {
        Source::Rule(rule) => {
            let RuleSource {
                region,
                bus,
                name,
                arn,
            } = &**rule;
            let targets: Vec<String> = app
                .catalog
                .read(|defs| {
                    defs.rule(region, bus, name)
                        .filter(|r| r.state.is_enabled())
                        .map(|r| r.targets.iter().map(|t| t.id.clone()).collect())
                        .unwrap_or_default()
                })
                .await;
            if targets.is_empty() {
                return;
            }
            let bus = bus.clone();
            (
                arn.clone(),
                region.as_str(),
                bus,
                "aws.events",
                "Scheduled Event",
                "{}",
                targets,
            )
        }
        Source::Schedule(d) => {
            if !d.enabled() {
                return;
            }
            let bus_params = match TargetKind::of(&d.target.arn) {
                TargetKind::Bus { .. } => d.target.event_bridge_parameters.as_ref(),
                _ => None,
            };
            let (src, detail_type, detail) = match bus_params {
                Some(p) => (
                    p.source.as_str(),
                    p.detail_type.as_str(),
                    d.target.input.as_deref().unwrap_or("{}"),
                ),
                None => ("aws.scheduler", "Scheduled Event", "{}"),
            };
            // No rule targets: the schedule's one target is its tick's work item.
            let targets = Vec::new();
            let bus = SCHEDULER_LOG_BUS.to_owned();
            (
                d.arn(app.catalog.account()),
                d.region.as_str(),
                bus,
                src,
                detail_type,
                detail,
                targets,
            )
        }
    };
    let id = uuid::Uuid::new_v4().to_string();
    let resources = [arn.clone()];
    let body = envelope(
        &EventInput {
            source: src,
            detail_type,
            detail,
            resources: &resources,
        },
        &EventOrigin {
            id: &id,
            account: app.catalog.account(),
            region,
            time_ms: nominal_ms,
        },
    );
    let index = batch.events.len();
    batch.events.push(NewEvent {
        id,
        bus: format!("{region}:{bus}"),
        time_ms: nominal_ms,
        body,
        hops: 0,
    });
    if matches!(source, Source::Schedule(_)) {
        batch
            .work
            .push(Work::ScheduleTick { schedule_arn: &arn }.new_work(index));
    }
    for t in &targets {
        batch.work.push(
            Work::RuleTarget {
                rule_arn: &arn,
                target_id: t,
            }
            .new_work(index),
        );
    }
}
