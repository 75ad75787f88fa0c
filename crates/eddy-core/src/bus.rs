//! Putting events on a bus: build the envelope, match it against the bus's rules, and append the
//! event with the work items it owes in one durable batch.
//!
//! Matching happens before the append so that the event and its (event, rule, target) work items
//! are committed together: once a caller holds an event id, its deliveries are durable too.
//! Events forwarded by a bus target take the same path ([`Bus::forward`]), with the forwarding
//! work item acknowledged in the same transaction.
//!
//! Every event is checked before it is matched ([`eddy_model::event::check_detail`]: a JSON
//! object, nested at most `MAX_DETAIL_DEPTH` levels, without lone surrogate escapes), and a
//! problem with one event is that entry's answer (`MalformedDetail`), never an error for the
//! whole batch. Events already in the store (forwards, replays) are not trusted either: one the
//! matcher cannot read is refused on its own (a forward) or matches no rule (a replay).
//!
//! When a rule's array-consistency search gives up on an event (see
//! [`eddy_pattern::SEARCH_BUDGET`]), the rule does not match that event (unless another branch
//! of its pattern does); each time is counted in `eddy_pattern_search_budget_exhausted_total`
//! (per bus and rule) and the first time per rule is logged as a warning.

use std::sync::Arc;

use eddy_model::event::{EventInput, EventOrigin, MAX_DETAIL_DEPTH, check_detail, envelope};
use eddy_store::{AppendBatch, Lease, NewEvent, Store, WorkItem};
use prometheus_client::metrics::counter::Counter;
use tokio::sync::Notify;

use crate::catalog::{BusSnapshot, Catalog, SnapRule};
use crate::clock::Clock;
use crate::core_error::CoreError;
use crate::metrics::{BusLabels, CodeLabels, Metrics};
use crate::work::Work;

/// Most bus-to-bus forwards an event may take; one more is a loop and is stopped.
pub const MAX_HOPS: u32 = 4;

/// One event, checked and ready to put.
#[derive(Debug, Clone)]
pub struct PreparedEvent {
    pub bus: String,
    pub source: String,
    pub detail_type: String,
    /// JSON object text.
    pub detail: String,
    pub resources: Vec<String>,
    /// Event time (ms since the epoch); `None` means now.
    pub time_ms: Option<i64>,
}

/// Why one event was not put.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryError {
    pub code: &'static str,
    pub message: String,
}

/// An envelope on its way into the log.
struct Routed {
    id: String,
    bus: String,
    /// The bus as it was when the event was accepted: looked up once, so that an event
    /// acknowledged for a bus is matched and stored even if the bus is deleted meanwhile.
    snapshot: Arc<BusSnapshot>,
    time_ms: i64,
    hops: u32,
    body: String,
    /// Its position in the caller's batch.
    slot: usize,
}

/// A batch of envelopes matched and ready to commit.
struct Matched {
    batch: AppendBatch,
    /// Entries refused by matching: (slot, why).
    refused: Vec<(usize, EntryError)>,
    matched_rules: Vec<Counter>,
    per_bus: Vec<(String, u64)>,
    tailed: Vec<Tailed>,
}

/// The entry error for an event the matcher cannot read.
fn unreadable(e: &eddy_pattern::EventError) -> EntryError {
    EntryError {
        code: "MalformedDetail",
        message: format!("Detail is malformed. Reason: {e}."),
    }
}

/// Matches one envelope against a bus's rules: the ids of the matching rules are left in
/// `matches`. Rules whose array-consistency search gave up are counted, and logged the first
/// time (the counter's first increment), so the hot path only pays when it happens.
/// The work items `rule` owes the `index`-th event of `batch`: one per target.
fn owe(batch: &mut AppendBatch, rule: &SnapRule, index: usize) {
    for target in &rule.targets {
        batch.work.push(
            Work::RuleTarget {
                rule_arn: &rule.arn,
                target_id: target,
            }
            .new_work(index),
        );
    }
}

fn match_event(
    snapshot: &BusSnapshot,
    bus: &str,
    body: &str,
    matches: &mut Vec<u32>,
    gave_up: &mut Vec<u32>,
) -> Result<(), eddy_pattern::EventError> {
    matches.clear();
    if snapshot.rules.is_empty() {
        return Ok(());
    }
    gave_up.clear();
    snapshot
        .matcher
        .matches_reporting(body.as_bytes(), matches, gave_up)?;
    for &id in gave_up.iter() {
        let Some(rule) = snapshot.rules.get(id as usize) else {
            continue;
        };
        if rule.search_gave_up.inc() == 0 {
            tracing::warn!(
                bus = %bus,
                rule = %rule.name,
                budget = eddy_pattern::SEARCH_BUDGET,
                "the rule's array-consistency search ran out of steps on an event, so the rule \
                 did not match it; the pattern needs too many combinations of array elements \
                 (counted in eddy_pattern_search_budget_exhausted_total, logged once per rule)"
            );
        }
    }
    Ok(())
}

/// Puts events on buses.
pub struct Bus {
    catalog: Arc<Catalog>,
    store: Arc<dyn Store>,
    metrics: Arc<Metrics>,
    /// Woken whenever new work items are committed (the delivery engine waits on it).
    work_ready: Arc<Notify>,
    /// Ingestion times of events put without a caller's time (replays).
    clock: Clock,
    /// Committed events for `eddy events tail` (only filled while someone listens).
    tail: tokio::sync::broadcast::Sender<Arc<Tailed>>,
}

/// A committed event as `eddy events tail` shows it.
#[derive(Debug, Clone)]
pub struct Tailed {
    pub region: String,
    pub bus: String,
    /// ARNs of the rules that matched.
    pub rules: Vec<String>,
    pub body: String,
}

fn bus_missing(bus: &str) -> EntryError {
    EntryError {
        code: "ResourceNotFoundException",
        message: format!("Event bus {bus} does not exist."),
    }
}

impl Bus {
    pub fn new(
        catalog: Arc<Catalog>,
        store: Arc<dyn Store>,
        metrics: Arc<Metrics>,
        clock: Clock,
    ) -> Self {
        Self {
            catalog,
            store,
            metrics,
            work_ready: Arc::new(Notify::new()),
            tail: tokio::sync::broadcast::channel(4096).0,
            clock,
        }
    }

    /// Every event committed from now on, with the rules it matched (a lagging listener loses
    /// the oldest).
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Arc<Tailed>> {
        self.tail.subscribe()
    }

    /// Notified after every append that recorded work items.
    pub fn work_ready(&self) -> Arc<Notify> {
        self.work_ready.clone()
    }

    /// Puts every event whose bus exists and returns, in order, its id or why it failed. Returns
    /// only after every accepted event (and its work items) is durable.
    pub async fn put(
        &self,
        region: &str,
        events: Vec<Result<PreparedEvent, EntryError>>,
        now_ms: i64,
    ) -> Result<Vec<Result<String, EntryError>>, CoreError> {
        self.put_acking(region, events, Vec::new(), now_ms).await
    }

    /// [`Bus::put`], also removing the work items `ack` in the same transaction (a delivery
    /// whose result is these events, like a function's invocation record).
    pub async fn put_acking(
        &self,
        region: &str,
        events: Vec<Result<PreparedEvent, EntryError>>,
        ack: Vec<Lease>,
        now_ms: i64,
    ) -> Result<Vec<Result<String, EntryError>>, CoreError> {
        let mut results = Vec::with_capacity(events.len());
        let mut routed = Vec::with_capacity(events.len());
        for ev in events {
            let ev = match ev {
                Ok(ev) => ev,
                Err(e) => {
                    results.push(Err(e));
                    continue;
                }
            };
            if let Err(e) = check_detail(&ev.detail) {
                results.push(Err(EntryError {
                    code: "MalformedDetail",
                    message: e.to_string(),
                }));
                continue;
            }
            let Some(snapshot) = self.catalog.snapshot(region, &ev.bus) else {
                results.push(Err(bus_missing(&ev.bus)));
                continue;
            };
            let id = uuid::Uuid::new_v4().to_string();
            let time_ms = ev.time_ms.unwrap_or(now_ms);
            let body = envelope(
                &EventInput {
                    source: &ev.source,
                    detail_type: &ev.detail_type,
                    detail: &ev.detail,
                    resources: &ev.resources,
                },
                &EventOrigin {
                    id: &id,
                    account: self.catalog.account(),
                    region,
                    time_ms,
                },
            );
            routed.push(Routed {
                id: id.clone(),
                bus: ev.bus,
                snapshot,
                time_ms,
                hops: 0,
                body,
                slot: results.len(),
            });
            results.push(Ok(id));
        }
        let matched = self.match_batch(region, routed, ack, now_ms);
        for (slot, e) in &matched.refused {
            if let Some(r) = results.get_mut(*slot) {
                *r = Err(e.clone());
            }
        }
        self.commit(matched).await?;
        for r in &results {
            if let Err(e) = r {
                self.metrics
                    .failed_entries
                    .get_or_create(&CodeLabels {
                        code: e.code.to_owned(),
                    })
                    .inc();
            }
        }
        Ok(results)
    }

    /// Puts the event of work item `item` (a bus target) onto bus `bus` of `region`, unchanged,
    /// and acknowledges the work item in the same transaction.
    pub async fn forward(
        &self,
        region: &str,
        bus: &str,
        item: &WorkItem,
        now_ms: i64,
    ) -> Result<Result<(), EntryError>, CoreError> {
        let (event_id, hops) = (&item.event_id, item.hops);
        let Some(snapshot) = self.catalog.snapshot(region, bus) else {
            return Ok(Err(bus_missing(bus)));
        };
        if hops >= MAX_HOPS {
            return Ok(Err(EntryError {
                code: "EventLoopDetected",
                message: format!(
                    "Event {event_id} was forwarded between buses {hops} times; forwarding it to \
                     {bus} again would be a loop"
                ),
            }));
        }
        // A stored event is not trusted: one eddy would not accept today (stored by an older
        // version) is refused here, and its work item is left to the delivery engine's failure
        // handling rather than acknowledged.
        if let Err(e) = eddy_pattern::json::validate(&item.body, MAX_DETAIL_DEPTH + 1) {
            return Ok(Err(EntryError {
                code: "MalformedDetail",
                message: format!(
                    "Detail is malformed. Reason: the event cannot be read: {} at byte {}.",
                    e.reason, e.offset
                ),
            }));
        }
        let routed = Routed {
            id: event_id.to_owned(),
            bus: bus.to_owned(),
            snapshot,
            time_ms: now_ms,
            hops: hops + 1,
            body: item.body.clone(),
            slot: 0,
        };
        let matched = self.match_batch(region, vec![routed], vec![item.lease()], now_ms);
        if let Some((_, e)) = matched.refused.first() {
            // Nothing is committed: the work item stays unacknowledged.
            return Ok(Err(e.clone()));
        }
        self.commit(matched).await?;
        Ok(Ok(()))
    }

    /// Another handle on the same bus (same catalog, store, metrics and delivery wake-up), for
    /// background tasks that outlive a request (replays).
    pub fn handle(&self) -> Bus {
        Bus {
            catalog: self.catalog.clone(),
            store: self.store.clone(),
            metrics: self.metrics.clone(),
            work_ready: self.work_ready.clone(),
            tail: self.tail.clone(),
            clock: self.clock.clone(),
        }
    }

    /// Adds a finished envelope to `batch` for bus `bus` of `region`, with the work items of the
    /// rules it matches, for a caller that appends it together with something else (a bucket's
    /// object change). Answers how many work items it added (`None`: no such bus, nothing
    /// added). The caller wakes the delivery engine ([`Bus::work_ready`]) after its append.
    pub fn route_into(
        &self,
        region: &str,
        bus: &str,
        event: (String, i64, String),
        batch: &mut AppendBatch,
    ) -> Option<usize> {
        let snapshot = self.catalog.snapshot(region, bus)?;
        let (id, time_ms, body) = event;
        let (mut matches, mut gave_up) = (Vec::new(), Vec::new());
        if let Err(e) = match_event(&snapshot, bus, &body, &mut matches, &mut gave_up) {
            tracing::warn!(event = %id, bus = %bus, error = %e, "an event eddy made cannot be matched");
            matches.clear();
        }
        let index = batch.events.len();
        let before = batch.work.len();
        for &m in &matches {
            let Some(rule) = snapshot.rules.get(m as usize) else {
                continue;
            };
            rule.matched.inc();
            owe(batch, rule, index);
        }
        batch.events.push(NewEvent {
            id,
            bus: format!("{region}:{bus}"),
            time_ms,
            body,
            hops: 0,
        });
        let work = batch.work.len() - before;
        self.metrics.work_items.inc_by(work as u64);
        self.metrics
            .events_put
            .get_or_create(&BusLabels {
                bus: bus.to_owned(),
            })
            .inc();
        Some(work)
    }

    /// Appends finished envelopes `(event id, event time ms, body)` to bus `bus` of `region`,
    /// unchanged, matching each only against the enabled rules whose ARNs are in `rules` (every
    /// rule of the bus when `None`); one durable batch with the work items. Replays use this:
    /// their events must reach only the rules a replay names. Answers how many work items were
    /// recorded.
    pub async fn put_for_rules(
        &self,
        region: &str,
        bus: &str,
        events: Vec<(String, i64, String)>,
        rules: Option<&[String]>,
    ) -> Result<Result<usize, EntryError>, CoreError> {
        let Some(snapshot) = self.catalog.snapshot(region, bus) else {
            return Ok(Err(bus_missing(bus)));
        };
        if events.is_empty() {
            return Ok(Ok(0));
        }
        let mut batch = AppendBatch {
            now_ms: Some(self.clock.now_ms()),
            ..AppendBatch::default()
        };
        let (mut matches, mut gave_up) = (Vec::new(), Vec::new());
        let mut matched_rules = Vec::new();
        let n = events.len() as u64;
        for (id, time_ms, body) in events {
            if let Err(e) = match_event(&snapshot, bus, &body, &mut matches, &mut gave_up) {
                // An archived event eddy cannot read (stored by an older version) is replayed
                // to no rule rather than failing the whole replay.
                tracing::warn!(event = %id, bus = %bus, error = %e,
                    "a replayed event cannot be matched; it is replayed to no rule");
                matches.clear();
            }
            let index = batch.events.len();
            for &m in &matches {
                let Some(rule) = snapshot.rules.get(m as usize) else {
                    continue;
                };
                if rules.is_some_and(|allowed| !allowed.contains(&rule.arn)) {
                    continue;
                }
                matched_rules.push(rule.matched.clone());
                owe(&mut batch, rule, index);
            }
            batch.events.push(NewEvent {
                id,
                bus: format!("{region}:{bus}"),
                time_ms,
                body,
                hops: 0,
            });
        }
        let work = batch.work.len();
        self.store.append(batch).await?;
        if work > 0 {
            self.work_ready.notify_one();
        }
        for c in matched_rules {
            c.inc();
        }
        self.metrics.work_items.inc_by(work as u64);
        self.metrics
            .events_put
            .get_or_create(&BusLabels {
                bus: bus.to_owned(),
            })
            .inc_by(n);
        Ok(Ok(work))
    }

    /// Matches each envelope against its bus, building one batch with the events, their work
    /// items and the acks. An envelope the matcher cannot read is left out and reported in
    /// [`Matched::refused`].
    fn match_batch(
        &self,
        region: &str,
        routed: Vec<Routed>,
        ack: Vec<Lease>,
        now_ms: i64,
    ) -> Matched {
        let mut out = Matched {
            batch: AppendBatch {
                ack,
                now_ms: Some(now_ms),
                ..AppendBatch::default()
            },
            refused: Vec::new(),
            matched_rules: Vec::new(),
            per_bus: Vec::new(),
            tailed: Vec::new(),
        };
        let (mut matches, mut gave_up) = (Vec::new(), Vec::new());
        let tailing = self.tail.receiver_count() > 0;
        for r in routed {
            let snapshot = &r.snapshot;
            if let Err(e) = match_event(snapshot, &r.bus, &r.body, &mut matches, &mut gave_up) {
                out.refused.push((r.slot, unreadable(&e)));
                continue;
            }
            let batch = &mut out.batch;
            let index = batch.events.len();
            for &m in &matches {
                let Some(rule) = snapshot.rules.get(m as usize) else {
                    continue;
                };
                out.matched_rules.push(rule.matched.clone());
                owe(batch, rule, index);
            }
            if tailing {
                out.tailed.push(Tailed {
                    region: region.to_owned(),
                    bus: r.bus.clone(),
                    rules: matches
                        .iter()
                        .filter_map(|&m| snapshot.rules.get(m as usize))
                        .map(|rule| rule.arn.clone())
                        .collect(),
                    body: r.body.clone(),
                });
            }
            match out.per_bus.iter_mut().find(|(b, _)| *b == r.bus) {
                Some((_, n)) => *n += 1,
                None => out.per_bus.push((r.bus.clone(), 1)),
            }
            batch.events.push(NewEvent {
                id: r.id,
                bus: format!("{region}:{}", r.bus),
                time_ms: r.time_ms,
                body: r.body,
                hops: r.hops,
            });
        }
        out
    }

    /// Appends a matched batch in one durable transaction, then counts and announces it.
    async fn commit(&self, matched: Matched) -> Result<(), CoreError> {
        let Matched {
            batch,
            matched_rules,
            per_bus,
            tailed,
            ..
        } = matched;
        if batch.events.is_empty() && batch.ack.is_empty() {
            return Ok(());
        }
        let work = batch.work.len();
        self.store.append(batch).await?;
        if work > 0 {
            self.work_ready.notify_one();
        }
        for c in matched_rules {
            c.inc();
        }
        for t in tailed {
            let _nobody = self.tail.send(Arc::new(t)).is_err();
        }
        self.metrics.work_items.inc_by(work as u64);
        for (bus, n) in per_bus {
            self.metrics
                .events_put
                .get_or_create(&BusLabels { bus })
                .inc_by(n);
        }
        Ok(())
    }
}
