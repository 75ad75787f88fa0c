//! Archives and replays on the durable event log (EventBridge `CreateArchive` … `CancelReplay`).
//!
//! **Archives copy nothing.** The store's log already keeps every event a bus accepted, with its
//! event time and ingestion time, so an archive is only a definition: which bus, which pattern,
//! how long. Its events are computed from the log when asked: the events of its bus ingested
//! since the archive was created (and within `RetentionDays` when that is not 0) that match the
//! archive's pattern. As in AWS, where the archive is a managed rule whose pattern adds
//! `"replay-name": [{"exists": false}]`, events re-delivered by a replay are never archived
//! again. An `UpdateArchive` that changes the pattern applies to events ingested from then on:
//! each definition keeps the patterns it had with the time each took effect. AWS's managed rule
//! (`Events-Archive-NAME`) is kept in the catalog for users to see; its target makes no work
//! items ([`crate::catalog::is_archive_target`]).
//!
//! **Replays** run as background tasks. A replay reads its archive's events whose event time is
//! in `[EventStartTime, EventEndTime)` in event-time order (unlike AWS, which only orders by the
//! minute), adds `"replay-name": NAME` to each envelope and appends them to the bus with work
//! items for the rules in `Destination.FilterArns` only (every rule of the bus when absent), so
//! deliveries take the ordinary durable path. Only events ingested before the replay started
//! are replayed. Progress (`EventLastReplayedTime` and a `(time, seq)` cursor) is written to the
//! replay's definition after every batch.
//!
//! **Restarts.** Replay definitions (state, progress) live in the store's definitions. On load,
//! a replay that was `CANCELLING` becomes `CANCELLED`; one that was `STARTING` or `RUNNING` is
//! resumed from its cursor as soon as the archives know the bus ([`Archives::attach`], which every
//! archive or replay API call also does). A crash between a batch's append and its progress
//! write replays that batch again: replays are at-least-once, like deliveries.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use eddy_pattern::json::write_json_string;
use eddy_pattern::{Limits, Pattern};
use eddy_store::{EventRange, Store, StoredEvent};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::{Notify, watch};

use crate::bus::Bus;
use crate::clock::Clock;
use crate::core_error::CoreError;
use crate::follow::{Feed, Follow};
use crate::registry::{self, Named, Registry};

/// Events read from the log per page (and appended per replay batch).
const PAGE: usize = 256;

/// How long a replay stays `STARTING` before it sends anything (AWS takes minutes; a moment here
/// leaves time to cancel a replay that was started by mistake).
const STARTING_MS: u64 = 500;

/// How long `CancelReplay` waits for the replay task to stop before answering.
const CANCEL_WAIT_MS: u64 = 2000;

/// The field replays add to the envelope, and that archives exclude.
pub const REPLAY_NAME_FIELD: &str = "replay-name";

/// One pattern of an archive and the ingestion time from which it applies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PatternEpoch {
    pub since_ms: i64,
    pub event_pattern: Option<String>,
}

/// An archive.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ArchiveDef {
    pub region: String,
    pub name: String,
    /// The bus whose events it holds.
    pub bus: String,
    pub description: Option<String>,
    /// Every pattern it had, oldest first; the last is the current one.
    pub epochs: Vec<PatternEpoch>,
    /// Days to keep events; 0 keeps them forever.
    pub retention_days: i64,
    pub kms_key_identifier: Option<String>,
    pub created_ms: i64,
}

impl ArchiveDef {
    pub fn event_pattern(&self) -> Option<&str> {
        self.epochs.last().and_then(|e| e.event_pattern.as_deref())
    }

    /// Ingestion times before this are outside the archive (creation, retention).
    pub fn ingested_from(&self, now_ms: i64) -> i64 {
        if self.retention_days > 0 {
            let kept = self.retention_days.saturating_mul(86_400_000);
            self.created_ms.max(now_ms.saturating_sub(kept))
        } else {
            self.created_ms
        }
    }
}

impl Named for ArchiveDef {
    const KIND: &'static str = "archive";

    fn region(&self) -> &str {
        &self.region
    }

    fn name(&self) -> &str {
        &self.name
    }
}

/// A replay's state, as AWS names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ReplayState {
    Starting,
    Running,
    Cancelling,
    Completed,
    Cancelled,
    Failed,
}

impl ReplayState {
    /// In the order of AWS's enum messages (sorted).
    pub const ALL: [&'static str; 6] = [
        "CANCELLED",
        "CANCELLING",
        "COMPLETED",
        "FAILED",
        "RUNNING",
        "STARTING",
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ReplayState::Starting => "STARTING",
            ReplayState::Running => "RUNNING",
            ReplayState::Cancelling => "CANCELLING",
            ReplayState::Completed => "COMPLETED",
            ReplayState::Cancelled => "CANCELLED",
            ReplayState::Failed => "FAILED",
        }
    }

    /// Still working (a task runs or will run for it).
    pub fn is_active(self) -> bool {
        matches!(self, ReplayState::Starting | ReplayState::Running)
    }
}

/// Where a replay sends events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReplayDestination {
    pub arn: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter_arns: Option<Vec<String>>,
}

/// A replay, with its progress.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReplayDef {
    pub region: String,
    pub name: String,
    pub description: Option<String>,
    /// The archive's ARN.
    pub event_source_arn: String,
    /// The archive as it was when the replay started (it may be deleted meanwhile).
    pub archive: ArchiveDef,
    pub destination: ReplayDestination,
    pub event_start_ms: i64,
    pub event_end_ms: i64,
    pub state: ReplayState,
    pub state_reason: Option<String>,
    pub replay_start_ms: i64,
    pub replay_end_ms: Option<i64>,
    pub event_last_replayed_ms: Option<i64>,
    /// `(time_ms, seq)` of the last log event examined.
    pub cursor: Option<(i64, i64)>,
}

impl Named for ReplayDef {
    const KIND: &'static str = "replay";

    fn region(&self) -> &str {
        &self.region
    }

    fn name(&self) -> &str {
        &self.name
    }
}

/// Why an archive or replay operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error(transparent)]
    Core(#[from] CoreError),
    /// An archive's event pattern is not valid (the reason, as EventBridge words it).
    #[error("{0}")]
    InvalidPattern(String),
    #[error("Replay {0} does not exist.")]
    ReplayMissing(String),
    /// The replay is neither starting nor running.
    #[error("Replay {0} is not in a valid state for this operation.")]
    ReplayNotActive(String),
}

impl ArchiveError {
    /// What a failed replay's `StateReason` says: the error, or nothing of eddy's internals.
    fn reason(&self) -> String {
        match self {
            Self::Core(_) => "An internal error occurred.".to_owned(),
            other => other.to_string(),
        }
    }
}

/// The archive's effective pattern, as AWS's managed archive rule has it: the archive's pattern
/// (every event when none) and `"replay-name": [{"exists": false}]`.
pub fn effective_pattern(pattern: Option<&str>) -> Result<String, ArchiveError> {
    let mut obj = match pattern {
        None => serde_json::Map::new(),
        Some(p) => match serde_json::from_str::<Value>(p) {
            Ok(Value::Object(m)) => m,
            _ => {
                return Err(ArchiveError::InvalidPattern(
                    "Event pattern is not valid. Reason: Invalid JSON".to_owned(),
                ));
            }
        },
    };
    obj.insert(
        REPLAY_NAME_FIELD.to_owned(),
        serde_json::json!([{ "exists": false }]),
    );
    serde_json::to_string(&Value::Object(obj)).map_err(|e| CoreError::from(e).into())
}

/// Decides which log events belong to an archive.
pub struct Membership {
    /// `(since_ms, effective pattern)`, oldest first.
    epochs: Vec<(i64, Pattern)>,
    pub ingested_from: i64,
}

impl Membership {
    pub fn new(archive: &ArchiveDef, limits: &Limits, now_ms: i64) -> Result<Self, ArchiveError> {
        // The added `replay-name` clause may take a valid pattern past the length limit.
        let limits = Limits {
            max_pattern_len: limits.max_pattern_len.saturating_add(64),
            ..limits.clone()
        };
        let mut epochs = Vec::with_capacity(archive.epochs.len());
        for e in &archive.epochs {
            let src = effective_pattern(e.event_pattern.as_deref())?;
            let p = Pattern::parse_with(&src, &limits)
                .map_err(|e| ArchiveError::InvalidPattern(e.to_string()))?;
            epochs.push((e.since_ms, p));
        }
        Ok(Self {
            epochs,
            ingested_from: archive.ingested_from(now_ms),
        })
    }

    pub fn contains(&self, e: &StoredEvent) -> bool {
        if e.ingested_ms < self.ingested_from {
            return false;
        }
        let pattern = self
            .epochs
            .iter()
            .rev()
            .find(|(since, _)| *since <= e.ingested_ms)
            .or_else(|| self.epochs.first());
        pattern.is_some_and(|(_, p)| p.matches(&e.body).unwrap_or(false))
    }
}

/// `body` (an envelope: a JSON object) with `"replay-name": name` added at the end.
pub fn with_replay_name(body: &str, name: &str) -> String {
    let trimmed = body.trim_end();
    let Some(inner) = trimmed.strip_suffix('}') else {
        return body.to_owned();
    };
    let inner = inner.trim_end();
    let mut out = String::with_capacity(body.len() + name.len() + 20);
    out.push_str(inner);
    if !inner.trim_start().ends_with('{') {
        out.push(',');
    }
    out.push('"');
    out.push_str(REPLAY_NAME_FIELD);
    out.push_str("\":");
    write_json_string(&mut out, name);
    out.push('}');
    out
}

/// Size and count of an archive's events.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ArchiveStats {
    pub event_count: u64,
    pub size_bytes: u64,
}

/// What replays need that arrives after loading: the bus to put events on, pattern limits.
struct Engine {
    bus: Bus,
    limits: Limits,
}

/// A replay task's controls.
struct Running {
    cancel: AtomicBool,
    wake: Notify,
    done: watch::Sender<bool>,
}

struct Inner {
    store: Arc<dyn Store>,
    archives: Registry<ArchiveDef>,
    replays: Registry<ReplayDef>,
    clock: Clock,
    running: Mutex<HashMap<(String, String), Arc<Running>>>,
    engine: OnceLock<Engine>,
    /// Bumped by [`Archives::clear`]: tasks of an older generation write nothing more.
    generation: AtomicU64,
    /// Replays that were active when the store was loaded: resumed by [`Archives::attach`].
    to_resume: Mutex<Vec<(String, String)>>,
}

/// Archive and replay definitions and the replays in progress.
pub struct Archives {
    inner: Arc<Inner>,
}

/// How a replay task ended.
enum Ended {
    Completed,
    Cancelled,
    Failed(String),
    /// The replay vanished (reset or deleted): write nothing.
    Gone,
}

impl Archives {
    /// Per log bus (`REGION:BUS`), the ingestion time from which its archives need its events
    /// (the earliest of its archives'); for [`crate::retention`].
    pub fn kept_from(&self, now_ms: i64) -> Vec<(String, i64)> {
        let mut kept: HashMap<String, i64> = HashMap::new();
        for a in self.inner.archives.all() {
            let from = a.ingested_from(now_ms);
            kept.entry(registry::key(&a.region, &a.bus))
                .and_modify(|t| *t = (*t).min(from))
                .or_insert(from);
        }
        kept.into_iter().collect()
    }

    pub fn load(
        store: Arc<dyn Store>,
        feed: Arc<Feed>,
        definitions: &[eddy_store::Definition],
        clock: Clock,
    ) -> anyhow::Result<Self> {
        let replays: Vec<ReplayDef> = definitions
            .iter()
            .filter(|(kind, _, _)| kind == ReplayDef::KIND)
            .filter_map(|(_, _, v)| serde_json::from_slice(v).ok())
            .collect();
        let inner = Inner {
            archives: Registry::load(store.clone(), feed.clone(), definitions)?,
            replays: Registry::load(store.clone(), feed, definitions)?,
            clock,
            store,
            running: Mutex::new(HashMap::new()),
            engine: OnceLock::new(),
            generation: AtomicU64::new(0),
            to_resume: Mutex::new(
                replays
                    .iter()
                    .filter(|r| r.state.is_active())
                    .map(|r| (r.region.clone(), r.name.clone()))
                    .collect(),
            ),
        };
        Ok(Self {
            inner: Arc::new(inner),
        })
    }

    /// Finishes the cancels that were in progress when eddy stopped.
    async fn finish_cancels(&self) {
        let now = self.inner.clock.now_ms();
        let cancelling: Vec<ReplayDef> = self
            .inner
            .replays
            .all()
            .into_iter()
            .filter(|r| r.state == ReplayState::Cancelling)
            .collect();
        for r in cancelling {
            let done = self
                .inner
                .replays
                .upsert(&r.region, &r.name, |cur| {
                    let mut d = cur.cloned().unwrap_or_else(|| r.clone());
                    d.state = ReplayState::Cancelled;
                    d.replay_end_ms = Some(now);
                    Ok::<_, CoreError>((d, ()))
                })
                .await;
            if let Err(e) = done {
                tracing::error!(replay = %r.name, error = %e, "cannot finish a cancelled replay");
            }
        }
    }

    /// Gives the archives the bus replays put events on, resumes the replays that were running
    /// when eddy stopped, and finishes those that were being cancelled. Only the first call does
    /// anything.
    pub fn attach(&self, bus: &Bus, limits: &Limits) {
        let engine = Engine {
            bus: bus.handle(),
            limits: limits.clone(),
        };
        if self.inner.engine.set(engine).is_err() {
            return;
        }
        // A cancel that was in progress when eddy stopped is finished now.
        let this = Archives {
            inner: self.inner.clone(),
        };
        tokio::spawn(async move { this.finish_cancels().await });
        let pending = std::mem::take(
            &mut *self
                .inner
                .to_resume
                .lock()
                .unwrap_or_else(|e| e.into_inner()),
        );
        for (region, name) in pending {
            if self
                .inner
                .replays
                .get(&region, &name)
                .is_some_and(|r| r.state.is_active())
            {
                tracing::info!(replay = %name, region = %region, "resuming replay");
                self.spawn(&region, &name);
            }
        }
    }

    /// Stops running replays (the store was reset).
    fn stop_all(&self) {
        self.inner.generation.fetch_add(1, Ordering::SeqCst);
        self.inner
            .to_resume
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        let running: Vec<Arc<Running>> =
            self.inner.lock_running().drain().map(|(_, r)| r).collect();
        for r in running {
            r.cancel.store(true, Ordering::SeqCst);
            r.wake.notify_waiters();
        }
    }

    pub fn archive(&self, region: &str, name: &str) -> Option<ArchiveDef> {
        self.inner.archives.get(region, name)
    }

    /// Archives of a region, by name.
    pub fn list_archives(&self, region: &str) -> Vec<ArchiveDef> {
        self.inner.archives.list(region)
    }

    /// Creates or changes an archive (see [`Registry::upsert`]).
    pub async fn upsert_archive<T, E: From<CoreError>>(
        &self,
        region: &str,
        name: &str,
        decide: impl FnOnce(Option<&ArchiveDef>) -> Result<(ArchiveDef, T), E>,
    ) -> Result<T, E> {
        self.inner.archives.upsert(region, name, decide).await
    }

    pub async fn delete_archive(&self, region: &str, name: &str) -> Result<(), CoreError> {
        self.inner.archives.delete(region, name).await
    }

    /// Counts the events of each archive, reading each bus's log once.
    pub async fn stats(
        &self,
        archives: &[ArchiveDef],
        limits: &Limits,
    ) -> Result<Vec<ArchiveStats>, ArchiveError> {
        let now = self.inner.clock.now_ms();
        let mut out = vec![ArchiveStats::default(); archives.len()];
        let mut buses: Vec<(&str, &str)> = archives
            .iter()
            .map(|a| (a.region.as_str(), a.bus.as_str()))
            .collect();
        buses.sort_unstable();
        buses.dedup();
        for (region, bus) in buses {
            let mut members = Vec::new();
            for (i, a) in archives.iter().enumerate() {
                if a.region == region && a.bus == bus {
                    members.push((i, Membership::new(a, limits, now)?));
                }
            }
            let from = members
                .iter()
                .map(|(_, m)| m.ingested_from)
                .min()
                .unwrap_or(i64::MIN);
            let mut range = EventRange {
                ingested_from_ms: from,
                ..EventRange::all(registry::key(region, bus), PAGE * 4)
            };
            loop {
                let page = self
                    .inner
                    .store
                    .events_by_time(range.clone())
                    .await
                    .map_err(CoreError::from)?;
                let Some(last) = page.last() else { break };
                range.after = Some((last.time_ms, last.seq));
                for e in &page {
                    for (i, m) in &members {
                        if m.contains(e) {
                            out[*i].event_count += 1;
                            out[*i].size_bytes += e.body.len() as u64;
                        }
                    }
                }
            }
        }
        Ok(out)
    }

    pub fn replay(&self, region: &str, name: &str) -> Option<ReplayDef> {
        self.inner.replays.get(region, name)
    }

    /// Replays of a region, by name.
    pub fn list_replays(&self, region: &str) -> Vec<ReplayDef> {
        self.inner.replays.list(region)
    }

    /// Records a new replay (`decide` checks that none has the name) and starts it.
    pub async fn start_replay<E: From<CoreError>>(
        &self,
        region: &str,
        name: &str,
        decide: impl FnOnce(Option<&ReplayDef>) -> Result<ReplayDef, E>,
    ) -> Result<ReplayDef, E> {
        let def = self
            .inner
            .replays
            .upsert(region, name, |cur| {
                let d = decide(cur)?;
                Ok::<_, E>((d.clone(), d))
            })
            .await?;
        self.spawn(region, name);
        Ok(def)
    }

    /// Cancels a replay that is starting or running: `Ok(state before)` once the task stopped
    /// (or after [`CANCEL_WAIT_MS`]); the `IllegalStatusException` when it is in another state.
    pub async fn cancel_replay(&self, region: &str, name: &str) -> Result<ReplayDef, ArchiveError> {
        let def = self
            .inner
            .replays
            .upsert(region, name, |cur| {
                let Some(cur) = cur else {
                    return Err(ArchiveError::ReplayMissing(name.to_owned()));
                };
                if !cur.state.is_active() {
                    return Err(ArchiveError::ReplayNotActive(name.to_owned()));
                }
                let mut d = cur.clone();
                d.state = ReplayState::Cancelling;
                Ok((d.clone(), d))
            })
            .await?;
        let key = (region.to_owned(), name.to_owned());
        let running = self.inner.lock_running().get(&key).cloned();
        match running {
            Some(r) => {
                let mut done = r.done.subscribe();
                r.cancel.store(true, Ordering::SeqCst);
                r.wake.notify_waiters();
                let wait = done.wait_for(|d| *d);
                let _late = tokio::time::timeout(Duration::from_millis(CANCEL_WAIT_MS), wait)
                    .await
                    .is_err();
            }
            None => {
                // No task (not attached yet after a restart): cancelled at once.
                self.inner
                    .finish(region, name, Ended::Cancelled, self.generation())
                    .await;
            }
        }
        Ok(def)
    }

    fn generation(&self) -> u64 {
        self.inner.generation.load(Ordering::SeqCst)
    }

    /// Starts the task of a replay when the engine is attached (else [`Archives::attach`] will).
    fn spawn(&self, region: &str, name: &str) {
        if self.inner.engine.get().is_none() {
            return;
        }
        let key = (region.to_owned(), name.to_owned());
        let (done, _) = watch::channel(false);
        let running = Arc::new(Running {
            cancel: AtomicBool::new(false),
            wake: Notify::new(),
            done,
        });
        {
            let mut map = self.inner.lock_running();
            if map.contains_key(&key) {
                return;
            }
            map.insert(key.clone(), running.clone());
        }
        let inner = self.inner.clone();
        let generation = self.generation();
        tokio::spawn(async move {
            let ended = inner.run(&key.0, &key.1, &running, generation).await;
            inner.finish(&key.0, &key.1, ended, generation).await;
            {
                let mut map = inner.lock_running();
                if map.get(&key).is_some_and(|r| Arc::ptr_eq(r, &running)) {
                    map.remove(&key);
                }
            }
            running.done.send_replace(true);
        });
    }
}

impl Inner {
    fn lock_running(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), Arc<Running>>> {
        self.running.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn current(&self, generation: u64) -> bool {
        self.generation.load(Ordering::SeqCst) == generation
    }

    /// Changes a replay's definition unless it is gone or the state was reset since.
    async fn update(
        &self,
        region: &str,
        name: &str,
        generation: u64,
        change: impl FnOnce(&mut ReplayDef),
    ) -> Result<bool, ArchiveError> {
        if !self.current(generation) {
            return Ok(false);
        }
        self.replays
            .upsert(region, name, |cur| match cur {
                None => Err(ArchiveError::ReplayMissing(name.to_owned())),
                Some(c) => {
                    let mut d = c.clone();
                    change(&mut d);
                    Ok((d, true))
                }
            })
            .await
            .or_else(|e| match e {
                ArchiveError::ReplayMissing(_) => Ok(false),
                e => Err(e),
            })
    }

    /// Records how a replay ended.
    async fn finish(&self, region: &str, name: &str, ended: Ended, generation: u64) {
        let (state, reason) = match ended {
            Ended::Gone => return,
            Ended::Completed => (ReplayState::Completed, None),
            Ended::Cancelled => (ReplayState::Cancelled, None),
            Ended::Failed(r) => (ReplayState::Failed, Some(r)),
        };
        let now = self.clock.now_ms();
        let r = self
            .update(region, name, generation, |d| {
                d.state = state;
                d.state_reason = reason;
                d.replay_end_ms = Some(now);
            })
            .await;
        if let Err(e) = r {
            tracing::error!(replay = %name, error = %e, "cannot record the end of a replay");
        }
    }

    /// The replay task: sends the archive's events, a page at a time, until done or cancelled.
    async fn run(&self, region: &str, name: &str, running: &Running, generation: u64) -> Ended {
        let Some(engine) = self.engine.get() else {
            return Ended::Gone;
        };
        let cancelled = || running.cancel.load(Ordering::SeqCst);
        let Some(def) = self.replays.get(region, name) else {
            return Ended::Gone;
        };
        if def.state == ReplayState::Starting {
            let wake = running.wake.notified();
            tokio::pin!(wake);
            wake.as_mut().enable();
            if !cancelled() {
                tokio::select! {
                    () = &mut wake => {}
                    () = tokio::time::sleep(Duration::from_millis(STARTING_MS)) => {}
                }
            }
        }
        if cancelled() {
            return if self.current(generation) {
                Ended::Cancelled
            } else {
                Ended::Gone
            };
        }
        match self
            .update(region, name, generation, |d| {
                if d.state == ReplayState::Starting {
                    d.state = ReplayState::Running;
                }
            })
            .await
        {
            Ok(true) => {}
            Ok(false) => return Ended::Gone,
            Err(e) => return Ended::Failed(e.reason()),
        }
        let membership = match Membership::new(&def.archive, &engine.limits, def.replay_start_ms) {
            Ok(m) => m,
            Err(e) => return Ended::Failed(e.reason()),
        };
        let bus = def.archive.bus.clone();
        let mut range = EventRange {
            bus: registry::key(region, &bus),
            from_ms: def.event_start_ms,
            to_ms: def.event_end_ms,
            ingested_from_ms: membership.ingested_from,
            // Events that arrive after the replay started (its own among them) are not replayed.
            ingested_to_ms: def.replay_start_ms.saturating_add(1),
            after: def.cursor,
            limit: PAGE,
        };
        let filter = def.destination.filter_arns.clone();
        loop {
            if cancelled() {
                return if self.current(generation) {
                    Ended::Cancelled
                } else {
                    Ended::Gone
                };
            }
            let page = match self.store.events_by_time(range.clone()).await {
                Ok(p) => p,
                Err(e) => return Ended::Failed(format!("cannot read the archive: {e}")),
            };
            let Some(last) = page.last() else {
                return Ended::Completed;
            };
            range.after = Some((last.time_ms, last.seq));
            let mut last_replayed = None;
            let events: Vec<(String, i64, String)> = page
                .into_iter()
                .filter(|e| membership.contains(e))
                .map(|e| {
                    last_replayed = Some(e.time_ms);
                    let body = with_replay_name(&e.body, name);
                    (e.id, e.time_ms, body)
                })
                .collect();
            if !events.is_empty() {
                match engine
                    .bus
                    .put_for_rules(region, &bus, events, filter.as_deref())
                    .await
                {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => return Ended::Failed(e.message),
                    Err(e) => return Ended::Failed(ArchiveError::from(e).reason()),
                }
            }
            let cursor = range.after;
            match self
                .update(region, name, generation, |d| {
                    d.cursor = cursor;
                    if last_replayed.is_some() {
                        d.event_last_replayed_ms = last_replayed;
                    }
                })
                .await
            {
                Ok(true) => {}
                Ok(false) => return Ended::Gone,
                Err(e) => return Ended::Failed(e.reason()),
            }
            tokio::task::yield_now().await;
        }
    }
}

impl Follow for Archives {
    fn follow(&self, changes: &[eddy_store::DefinitionChange]) {
        self.inner.archives.follow(changes);
        self.inner.replays.follow(changes);
    }

    fn reload(&self, definitions: &[eddy_store::Definition]) {
        self.inner.archives.reload(definitions);
        self.inner.replays.reload(definitions);
    }

    fn reset(&self) {
        self.stop_all();
        self.reload(&[]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn archive(epochs: Vec<(i64, Option<&str>)>, retention_days: i64) -> ArchiveDef {
        ArchiveDef {
            region: "r".into(),
            name: "a".into(),
            bus: "default".into(),
            description: None,
            epochs: epochs
                .into_iter()
                .map(|(since_ms, p)| PatternEpoch {
                    since_ms,
                    event_pattern: p.map(str::to_owned),
                })
                .collect(),
            retention_days,
            kms_key_identifier: None,
            created_ms: 1000,
        }
    }

    fn stored(ingested_ms: i64, body: &str) -> StoredEvent {
        StoredEvent {
            seq: 1,
            id: "e".into(),
            bus: "r:default".into(),
            time_ms: 0,
            ingested_ms,
            body: body.into(),
        }
    }

    #[test]
    fn effective_pattern_excludes_replayed_events() {
        assert_eq!(
            effective_pattern(None).unwrap(),
            r#"{"replay-name":[{"exists":false}]}"#
        );
        let p = effective_pattern(Some(r#"{"source":["a"]}"#)).unwrap();
        let v: Value = serde_json::from_str(&p).unwrap();
        assert_eq!(v["source"], serde_json::json!(["a"]));
        assert_eq!(v["replay-name"], serde_json::json!([{"exists": false}]));
        assert!(effective_pattern(Some("[1]")).is_err());
    }

    #[test]
    fn replay_name_is_added_to_the_envelope() {
        let body = r#"{"version":"0","id":"x","detail":{"a":1}}"#;
        let out = with_replay_name(body, "r1");
        assert_eq!(
            out,
            r#"{"version":"0","id":"x","detail":{"a":1},"replay-name":"r1"}"#
        );
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["replay-name"], "r1");
        assert_eq!(with_replay_name("{}", "r"), r#"{"replay-name":"r"}"#);
    }

    #[test]
    fn membership_follows_creation_retention_patterns_and_replays() {
        let limits = Limits::default();
        let a = archive(vec![(1000, None)], 0);
        let m = Membership::new(&a, &limits, 10_000).unwrap();
        assert!(!m.contains(&stored(999, r#"{"source":"a"}"#)));
        assert!(m.contains(&stored(1000, r#"{"source":"a"}"#)));
        assert!(!m.contains(&stored(2000, r#"{"source":"a","replay-name":"r"}"#)));

        // The pattern in force at ingestion time decides.
        let a = archive(
            vec![
                (1000, Some(r#"{"source":["a"]}"#)),
                (5000, Some(r#"{"source":["b"]}"#)),
            ],
            0,
        );
        let m = Membership::new(&a, &limits, 10_000).unwrap();
        assert!(m.contains(&stored(2000, r#"{"source":"a"}"#)));
        assert!(!m.contains(&stored(2000, r#"{"source":"b"}"#)));
        assert!(m.contains(&stored(6000, r#"{"source":"b"}"#)));
        assert!(!m.contains(&stored(6000, r#"{"source":"a"}"#)));

        // Retention: one day back from now.
        let a = archive(vec![(1000, None)], 1);
        let now = 1000 + 3 * 86_400_000;
        let m = Membership::new(&a, &limits, now).unwrap();
        assert_eq!(m.ingested_from, now - 86_400_000);
        assert!(!m.contains(&stored(now - 86_400_001, "{}")));
        assert!(m.contains(&stored(now - 86_400_000, "{}")));
    }

    #[test]
    fn replay_states_spell_like_aws() {
        for s in [
            ReplayState::Starting,
            ReplayState::Running,
            ReplayState::Cancelling,
            ReplayState::Completed,
            ReplayState::Cancelled,
            ReplayState::Failed,
        ] {
            assert!(ReplayState::ALL.contains(&s.as_str()));
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(json, format!("\"{}\"", s.as_str()));
        }
    }
}
