//! EventBridge Scheduler's schedules and schedule groups: their definitions, held in memory for
//! reads and persisted in the store (kinds `schedule` and `schedule-group`) for restarts.
//!
//! Changes to different schedules run concurrently (so their store commits share fsyncs: many
//! concurrent `CreateSchedule` calls cost a few commits, not one each); changes to the same
//! schedule are serialised by a lock stripe held until the change is in memory. Memory changes
//! only from the store's change feed ([`crate::follow`]), which a writer waits for.
//!
//! The scheduler ([`crate::scheduler`]) learns about changes from the follower once they are
//! here, and reads targets from here when a schedule fires; the delivery engine resolves a
//! schedule's work items through [`Schedules::delivery_target`].
//!
//! eddy extension: the tag `eddy:missed-ticks` on a schedule *group* (`latest`, the default;
//! `skip`; or `all`) chooses what its schedules do with ticks missed while eddy was down
//! (Scheduler's `TagResource` tags only groups, so the policy is per group).

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, RwLock};

use eddy_model::definitions::{DeadLetterConfig, RetryPolicy, RuleDef, RuleState, Tags, TargetDef};
use eddy_store::{Definition, DefinitionChange, Store};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::clock::Clock;
use crate::core_error::CoreError;
use crate::follow::{Feed, Follow};
use crate::work::SCHEDULE_TARGET;

mod definition;

pub use definition::{ScheduleError, ScheduleSpec};

pub const KIND_SCHEDULE: &str = "schedule";
pub const KIND_GROUP: &str = "schedule-group";
pub const DEFAULT_GROUP: &str = "default";
/// The group tag that sets the missed-tick policy (see the module docs).
pub const MISSED_TICKS_TAG: &str = "eddy:missed-ticks";

const STRIPES: usize = 64;

/// `FlexibleTimeWindow`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FlexibleTimeWindow {
    pub mode: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum_window_in_minutes: Option<i64>,
}

/// `EventBridgeParameters`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EventBridgeParameters {
    pub detail_type: String,
    pub source: String,
}

/// A schedule's `Target`. The parameter blocks eddy does not act on are kept as given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ScheduleTarget {
    pub arn: String,
    pub role_arn: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_policy: Option<RetryPolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_letter_config: Option<DeadLetterConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_bridge_parameters: Option<EventBridgeParameters>,
    /// `SqsParameters`, `KinesisParameters`, `EcsParameters`, … as given.
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

/// One schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ScheduleDef {
    pub region: String,
    pub group: String,
    pub name: String,
    pub schedule_expression: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_expression_timezone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `ENABLED` or `DISABLED`.
    pub state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_arn: Option<String>,
    pub flexible_time_window: FlexibleTimeWindow,
    /// `NONE` or `DELETE`.
    pub action_after_completion: String,
    pub target: ScheduleTarget,
    pub created_ms: i64,
    pub modified_ms: i64,
}

impl ScheduleDef {
    pub fn arn(&self, account: &str) -> String {
        schedule_arn(&self.region, account, &self.group, &self.name)
    }

    /// The key of its definition in the store.
    pub fn store_key(&self) -> String {
        schedule_key(&self.region, &self.group, &self.name)
    }

    pub fn enabled(&self) -> bool {
        self.state == "ENABLED"
    }

    /// The flexible window in milliseconds (0 when `OFF`).
    pub fn window_ms(&self) -> i64 {
        if self.flexible_time_window.mode == "FLEXIBLE" {
            self.flexible_time_window
                .maximum_window_in_minutes
                .unwrap_or(0)
                * 60_000
        } else {
            0
        }
    }
}

/// A schedule group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GroupDef {
    pub region: String,
    pub name: String,
    #[serde(default)]
    pub tags: Tags,
    pub created_ms: i64,
    pub modified_ms: i64,
}

impl GroupDef {
    pub fn arn(&self, account: &str) -> String {
        format!(
            "arn:aws:scheduler:{}:{account}:schedule-group/{}",
            self.region, self.name
        )
    }
}

/// What a schedule does with ticks missed while eddy was down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MissedTicks {
    /// Fire the most recent missed tick once (the default).
    Latest,
    /// Fire none of them.
    Skip,
    /// Fire each of them, in order, at most [`MissedTicks::ALL_BOUND`] (the most recent ones).
    All,
}

impl MissedTicks {
    pub const ALL_BOUND: usize = 100;

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "latest" => Some(Self::Latest),
            "skip" => Some(Self::Skip),
            "all" => Some(Self::All),
            _ => None,
        }
    }
}

pub fn schedule_arn(region: &str, account: &str, group: &str, name: &str) -> String {
    format!("arn:aws:scheduler:{region}:{account}:schedule/{group}/{name}")
}

pub fn schedule_key(region: &str, group: &str, name: &str) -> String {
    format!("{region}:{group}/{name}")
}

fn group_key(region: &str, name: &str) -> String {
    format!("{region}:{name}")
}

/// A schedule's place in the registry: `REGION\0GROUP\0NAME` in one allocation (names hold no
/// NUL), which sorts as the `(region, group, name)` tuple does.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Key(Box<str>);

impl Key {
    fn new(region: &str, group: &str, name: &str) -> Self {
        Self(format!("{region}\0{group}\0{name}").into_boxed_str())
    }

    fn parts(&self) -> (&str, &str, &str) {
        let mut it = self.0.splitn(3, '\0');
        let region = it.next().unwrap_or_default();
        let group = it.next().unwrap_or_default();
        let name = it.next().unwrap_or_default();
        (region, group, name)
    }
}

/// See the module docs.
pub struct Schedules {
    store: Arc<dyn Store>,
    feed: Arc<Feed>,
    schedules: RwLock<BTreeMap<Key, Arc<ScheduleDef>>>,
    groups: RwLock<BTreeMap<(String, String), GroupDef>>,
    stripes: Vec<tokio::sync::Mutex<()>>,
    /// Creation time reported for the implicit `default` group.
    started_ms: i64,
    clock: Clock,
}

fn encode<T: Serialize>(v: &T) -> Result<Vec<u8>, CoreError> {
    Ok(serde_json::to_vec(v)?)
}

impl Schedules {
    pub fn load(
        store: Arc<dyn Store>,
        feed: Arc<Feed>,
        definitions: &[Definition],
        clock: Clock,
    ) -> anyhow::Result<Self> {
        let mut schedules = BTreeMap::new();
        let mut groups = BTreeMap::new();
        for (kind, key, value) in definitions {
            match kind.as_str() {
                KIND_SCHEDULE => {
                    let d: ScheduleDef = serde_json::from_slice(value)
                        .map_err(|e| anyhow::anyhow!("schedule `{key}` is unreadable: {e}"))?;
                    schedules.insert(Key::new(&d.region, &d.group, &d.name), Arc::new(d));
                }
                KIND_GROUP => {
                    let g: GroupDef = serde_json::from_slice(value).map_err(|e| {
                        anyhow::anyhow!("schedule group `{key}` is unreadable: {e}")
                    })?;
                    groups.insert((g.region.clone(), g.name.clone()), g);
                }
                _ => {}
            }
        }
        Ok(Self {
            store,
            feed,
            schedules: RwLock::new(schedules),
            groups: RwLock::new(groups),
            stripes: (0..STRIPES).map(|_| tokio::sync::Mutex::new(())).collect(),
            started_ms: clock.now_ms(),
            clock,
        })
    }

    fn stripe(&self, key: &Key) -> &tokio::sync::Mutex<()> {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        key.hash(&mut h);
        &self.stripes[(h.finish() as usize) % STRIPES]
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<Key, Arc<ScheduleDef>>> {
        self.schedules.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<Key, Arc<ScheduleDef>>> {
        self.schedules.write().unwrap_or_else(|e| e.into_inner())
    }

    fn groups_read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<(String, String), GroupDef>> {
        self.groups.read().unwrap_or_else(|e| e.into_inner())
    }

    fn groups_write(
        &self,
    ) -> std::sync::RwLockWriteGuard<'_, BTreeMap<(String, String), GroupDef>> {
        self.groups.write().unwrap_or_else(|e| e.into_inner())
    }

    pub fn get(&self, region: &str, group: &str, name: &str) -> Option<Arc<ScheduleDef>> {
        self.read().get(&Key::new(region, group, name)).cloned()
    }

    /// The schedule whose store key is `key`.
    pub fn get_by_store_key(&self, key: &str) -> Option<Arc<ScheduleDef>> {
        let (region, rest) = key.split_once(':')?;
        let (group, name) = rest.split_once('/')?;
        self.get(region, group, name)
    }

    /// Every schedule (the scheduler's rebuild).
    pub fn all(&self) -> Vec<Arc<ScheduleDef>> {
        self.read().values().cloned().collect()
    }

    /// Schedules of a region in (group, name) order, after `after` (a `(group, name)`), filtered.
    pub fn list(
        &self,
        region: &str,
        after: Option<(&str, &str)>,
        mut keep: impl FnMut(&ScheduleDef) -> bool,
        limit: usize,
    ) -> (Vec<Arc<ScheduleDef>>, bool) {
        let start = match after {
            Some((g, n)) => std::ops::Bound::Excluded(Key::new(region, g, n)),
            None => std::ops::Bound::Included(Key::new(region, "", "")),
        };
        let map = self.read();
        let mut out = Vec::new();
        for (_, d) in map
            .range((start, std::ops::Bound::Unbounded))
            .take_while(|(k, _)| k.parts().0 == region)
        {
            if keep(d) {
                if out.len() == limit {
                    return (out, true);
                }
                out.push(d.clone());
            }
        }
        (out, false)
    }

    /// Creates or replaces a schedule: `decide` sees the current one and returns the new one
    /// and an answer, or an error that changes nothing.
    pub async fn upsert<A, E: From<CoreError>>(
        &self,
        region: &str,
        group: &str,
        name: &str,
        decide: impl FnOnce(Option<&ScheduleDef>) -> Result<(ScheduleDef, A), E>,
    ) -> Result<A, E> {
        let key = Key::new(region, group, name);
        let _guard = self.stripe(&key).lock().await;
        let current = self.read().get(&key).cloned();
        let (def, answer) = decide(current.as_deref())?;
        let change = DefinitionChange::put(KIND_SCHEDULE, def.store_key(), encode(&def)?);
        self.commit(vec![change]).await?;
        Ok(answer)
    }

    /// Commits changes and waits until they are in memory (see the module docs).
    async fn commit(&self, changes: Vec<DefinitionChange>) -> Result<(), CoreError> {
        let version = self.store.apply(changes).await?;
        self.feed.caught_up(version).await;
        Ok(())
    }

    /// Deletes a schedule; `false` when there was none.
    pub async fn delete(&self, region: &str, group: &str, name: &str) -> Result<bool, CoreError> {
        let key = Key::new(region, group, name);
        let _guard = self.stripe(&key).lock().await;
        if !self.read().contains_key(&key) {
            return Ok(false);
        }
        let change = DefinitionChange::delete(KIND_SCHEDULE, schedule_key(region, group, name));
        self.commit(vec![change]).await?;
        Ok(true)
    }

    /// The group, including the `default` group every region has.
    pub fn group(&self, region: &str, name: &str) -> Option<GroupDef> {
        if let Some(g) = self
            .groups_read()
            .get(&(region.to_owned(), name.to_owned()))
        {
            return Some(g.clone());
        }
        (name == DEFAULT_GROUP).then(|| GroupDef {
            region: region.to_owned(),
            name: DEFAULT_GROUP.to_owned(),
            tags: Tags::new(),
            created_ms: self.started_ms,
            modified_ms: self.started_ms,
        })
    }

    /// Groups of a region by name, `default` included.
    pub fn groups(&self, region: &str) -> Vec<GroupDef> {
        let mut out: BTreeMap<String, GroupDef> = self
            .groups_read()
            .values()
            .filter(|g| g.region == region)
            .map(|g| (g.name.clone(), g.clone()))
            .collect();
        if let Some(d) = self.group(region, DEFAULT_GROUP) {
            out.entry(DEFAULT_GROUP.to_owned()).or_insert(d);
        }
        out.into_values().collect()
    }

    /// Stores a group (creation or tag change).
    async fn put_group(&self, g: GroupDef) -> Result<(), CoreError> {
        let change = DefinitionChange::put(KIND_GROUP, group_key(&g.region, &g.name), encode(&g)?);
        self.commit(vec![change]).await
    }

    /// Deletes a group and every schedule in it, in one durable change.
    async fn delete_group_and_schedules(&self, region: &str, name: &str) -> Result<(), CoreError> {
        // Every stripe, in order: no schedule of the group changes meanwhile.
        let mut guards = Vec::with_capacity(STRIPES);
        for s in &self.stripes {
            guards.push(s.lock().await);
        }
        let doomed: Vec<Key> = self
            .read()
            .keys()
            .filter(|k| {
                let (r, g, _) = k.parts();
                r == region && g == name
            })
            .cloned()
            .collect();
        let mut changes: Vec<DefinitionChange> = doomed
            .iter()
            .map(|k| {
                let (r, g, n) = k.parts();
                DefinitionChange::delete(KIND_SCHEDULE, schedule_key(r, g, n))
            })
            .collect();
        changes.push(DefinitionChange::delete(
            KIND_GROUP,
            group_key(region, name),
        ));
        self.commit(changes).await
    }

    /// The missed-tick policy of a group (its `eddy:missed-ticks` tag).
    pub fn missed_ticks(&self, region: &str, group: &str) -> MissedTicks {
        self.groups_read()
            .get(&(region.to_owned(), group.to_owned()))
            .and_then(|g| g.tags.get(MISSED_TICKS_TAG))
            .and_then(|v| MissedTicks::parse(v))
            .unwrap_or(MissedTicks::Latest)
    }

    /// The rule-shaped view of a schedule's target for the delivery engine: the schedule ARN
    /// names the "rule", [`SCHEDULE_TARGET`] the target.
    pub fn delivery_target(&self, schedule_arn: &str) -> Option<(RuleDef, TargetDef)> {
        let arn = eddy_model::names::Arn::parse(schedule_arn)?;
        let rest = arn.resource.strip_prefix("schedule/")?;
        let (group, name) = rest.split_once('/')?;
        let d = self.get(arn.region, group, name)?;
        let rule = RuleDef {
            region: d.region.clone(),
            bus: eddy_model::DEFAULT_BUS.to_owned(),
            name: d.name.clone(),
            event_pattern: None,
            schedule_expression: Some(d.schedule_expression.clone()),
            state: RuleState::Enabled,
            description: None,
            role_arn: None,
            managed_by: None,
            tags: Tags::new(),
            targets: Vec::new(),
            created_ms: d.created_ms,
        };
        let mut other = BTreeMap::new();
        if let Some(sqs) = d.target.other.get("SqsParameters") {
            other.insert("SqsParameters".to_owned(), sqs.clone());
        }
        let target = TargetDef {
            id: SCHEDULE_TARGET.to_owned(),
            arn: d.target.arn.clone(),
            role_arn: Some(d.target.role_arn.clone()),
            input: d.target.input.clone(),
            input_path: None,
            input_transformer: None,
            retry_policy: d.target.retry_policy,
            dead_letter_config: d.target.dead_letter_config.clone(),
            other,
        };
        Some((rule, target))
    }

    /// The invocation of schedule `schedule_arn` is settled: a one-time schedule with
    /// `ActionAfterCompletion: DELETE` whose time has passed is deleted now.
    pub async fn completed(&self, schedule_arn: &str, now_ms: i64) {
        let Some(arn) = eddy_model::names::Arn::parse(schedule_arn) else {
            return;
        };
        let Some((group, name)) = arn
            .resource
            .strip_prefix("schedule/")
            .and_then(|r| r.split_once('/'))
        else {
            return;
        };
        let Some(d) = self.get(arn.region, group, name) else {
            return;
        };
        if d.action_after_completion != "DELETE" {
            return;
        }
        let Ok(expr) = eddy_schedule::ScheduleExpression::parse(&d.schedule_expression) else {
            return;
        };
        let tz = d
            .schedule_expression_timezone
            .as_deref()
            .and_then(|t| jiff::tz::TimeZone::get(t).ok())
            .unwrap_or(jiff::tz::TimeZone::UTC);
        let Ok(now) = jiff::Timestamp::from_millisecond(now_ms) else {
            return;
        };
        // Still to fire (an update moved it later): keep it.
        if !expr.is_one_time() || expr.next_after(now, &tz, None).is_some() {
            return;
        }
        if let Err(e) = self.delete(arn.region, group, name).await {
            tracing::warn!(error = %e, schedule = %name, "cannot delete a completed schedule");
        }
    }
}

impl Follow for Schedules {
    fn follow(&self, changes: &[DefinitionChange]) {
        for c in changes {
            match c.kind.as_str() {
                KIND_SCHEDULE => {
                    let Some((region, rest)) = c.key.split_once(':') else {
                        continue;
                    };
                    let Some((group, name)) = rest.split_once('/') else {
                        continue;
                    };
                    let key = Key::new(region, group, name);
                    match c
                        .value
                        .as_deref()
                        .map(serde_json::from_slice::<ScheduleDef>)
                    {
                        Some(Ok(d)) => {
                            self.write().insert(key, Arc::new(d));
                        }
                        None => {
                            self.write().remove(&key);
                        }
                        Some(Err(e)) => {
                            tracing::warn!(key = %c.key, error = %e, "stored schedule is unreadable; ignored");
                        }
                    }
                }
                KIND_GROUP => {
                    let Some((region, name)) = c.key.split_once(':') else {
                        continue;
                    };
                    let key = (region.to_owned(), name.to_owned());
                    match c.value.as_deref().map(serde_json::from_slice::<GroupDef>) {
                        Some(Ok(g)) => {
                            self.groups_write().insert(key, g);
                        }
                        None => {
                            self.groups_write().remove(&key);
                        }
                        Some(Err(e)) => {
                            tracing::warn!(key = %c.key, error = %e, "stored schedule group is unreadable; ignored");
                        }
                    }
                }
                _ => {}
            }
        }
    }

    fn reload(&self, definitions: &[Definition]) {
        self.write().clear();
        self.groups_write().clear();
        let puts: Vec<DefinitionChange> = definitions
            .iter()
            .filter(|(kind, _, _)| kind == KIND_SCHEDULE || kind == KIND_GROUP)
            .map(|(kind, key, value)| DefinitionChange::put(kind, key.clone(), value.clone()))
            .collect();
        self.follow(&puts);
    }
}
