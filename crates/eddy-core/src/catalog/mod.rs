//! The catalog: every bus and rule definition, held in memory, persisted through the store, and
//! compiled into one matcher per bus.
//!
//! Reads of the matchers ([`Catalog::snapshot`]) never wait for the control plane: each bus has
//! an immutable [`BusSnapshot`] behind an `Arc`, and a change builds a new snapshot and swaps it
//! in. Changes ([`Catalog::mutate`]) are serialised by one async mutex and committed to the store
//! (durably); memory and snapshots change only when the change comes back through the store's
//! change feed ([`crate::follow`]), which the writer waits for: what a caller was told succeeded
//! survives a restart, and another process sharing the store sees it too.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, RwLock};

use eddy_model::DEFAULT_BUS;
use eddy_model::definitions::{BusDef, RuleDef, TargetDef};
use eddy_model::names::Scope;
use eddy_pattern::{Limits, Matcher, MatcherBuilder, Pattern};
use eddy_store::{Definition, DefinitionChange, Store};
use prometheus_client::metrics::counter::Counter;

use crate::clock::Clock;
use crate::core_error::CoreError;
use crate::follow::{Feed, Follow};
use crate::metrics::{Metrics, RuleLabels};
use crate::work::RuleRef;

mod buses;
mod rules;

pub use buses::{BusError, BusUpdate, NewBus};
pub use rules::{RuleError, RuleSpec, TargetFault, check_target};

const KIND_BUS: &str = "bus";
const KIND_RULE: &str = "rule";

/// `(region, bus)`.
pub type BusKey = (String, String);
/// `(region, bus, rule)`.
pub type RuleKey = (String, String, String);

/// The ARN of the target of an archive's managed rule (`arn:aws:events:REGION:::`, as AWS
/// shows it).
pub fn archive_target_arn(region: &str) -> String {
    format!("arn:aws:events:{region}:::")
}

/// Whether a target is an archive's (see [`archive_target_arn`]): archives read the durable log
/// themselves, so no work item is made for it.
pub fn is_archive_target(arn: &str) -> bool {
    arn.strip_prefix("arn:aws:events:")
        .and_then(|rest| rest.strip_suffix(":::"))
        .is_some_and(|region| !region.is_empty() && !region.contains(':'))
}

/// One rule as the matcher path sees it.
pub struct SnapRule {
    pub name: String,
    pub arn: String,
    /// Target ids, in order.
    pub targets: Vec<String>,
    pub matched: Counter,
    /// Events on which this rule's array-consistency search gave up (see `bus`).
    pub search_gave_up: Counter,
}

/// The compiled form of one bus: its matcher and the enabled rules the matcher's ids refer to.
#[derive(Default)]
pub struct BusSnapshot {
    pub matcher: Matcher,
    pub rules: Vec<SnapRule>,
}

/// The definitions, as the control plane edits them.
#[derive(Default, Clone)]
pub struct Defs {
    pub buses: BTreeMap<BusKey, BusDef>,
    pub rules: BTreeMap<RuleKey, RuleDef>,
    /// When this catalog first saw a region: the default bus's creation time.
    pub created_ms: i64,
}

impl Defs {
    /// The bus, including the `default` bus that every region has.
    pub fn bus(&self, region: &str, name: &str) -> Option<BusDef> {
        if let Some(b) = self.buses.get(&(region.to_owned(), name.to_owned())) {
            return Some(b.clone());
        }
        (name == DEFAULT_BUS).then(|| BusDef {
            region: region.to_owned(),
            name: DEFAULT_BUS.to_owned(),
            description: None,
            event_source_name: None,
            kms_key_identifier: None,
            dead_letter_config: None,
            policy: None,
            tags: BTreeMap::new(),
            created_ms: self.created_ms,
            modified_ms: self.created_ms,
        })
    }

    /// Every bus of a region, `default` first, then by name.
    pub fn buses_in(&self, region: &str) -> Vec<BusDef> {
        let mut out: Vec<BusDef> = self.bus(region, DEFAULT_BUS).into_iter().collect();
        out.extend(
            self.buses
                .range((region.to_owned(), String::new())..)
                .take_while(|((r, _), _)| r == region)
                .filter(|((_, n), _)| n != DEFAULT_BUS)
                .map(|(_, b)| b.clone()),
        );
        out
    }

    pub fn rule(&self, region: &str, bus: &str, name: &str) -> Option<&RuleDef> {
        self.rules
            .get(&(region.to_owned(), bus.to_owned(), name.to_owned()))
    }

    /// Rules of one bus, by name.
    pub fn rules_of<'a>(
        &'a self,
        region: &'a str,
        bus: &'a str,
    ) -> impl Iterator<Item = &'a RuleDef> + 'a {
        self.rules
            .range((region.to_owned(), bus.to_owned(), String::new())..)
            .take_while(move |((r, b, _), _)| r == region && b == bus)
            .map(|(_, d)| d)
    }
}

/// A change the control plane asks for.
#[derive(Debug, Clone)]
pub enum Change {
    PutBus(BusDef),
    DeleteBus {
        region: String,
        name: String,
    },
    PutRule(RuleDef),
    DeleteRule {
        region: String,
        bus: String,
        name: String,
    },
}

fn bus_key(region: &str, name: &str) -> String {
    format!("{region}:{name}")
}

fn rule_key(region: &str, bus: &str, name: &str) -> String {
    format!("{region}:{bus}:{name}")
}

impl Change {
    fn to_store(&self) -> Result<DefinitionChange, CoreError> {
        let encode = |v: serde_json::Result<Vec<u8>>| v.map_err(CoreError::from);
        Ok(match self {
            Change::PutBus(b) => DefinitionChange::put(
                KIND_BUS,
                bus_key(&b.region, &b.name),
                encode(serde_json::to_vec(b))?,
            ),
            Change::DeleteBus { region, name } => {
                DefinitionChange::delete(KIND_BUS, bus_key(region, name))
            }
            Change::PutRule(r) => DefinitionChange::put(
                KIND_RULE,
                rule_key(&r.region, &r.bus, &r.name),
                encode(serde_json::to_vec(r))?,
            ),
            Change::DeleteRule { region, bus, name } => {
                DefinitionChange::delete(KIND_RULE, rule_key(region, bus, name))
            }
        })
    }
}

/// See the module docs.
pub struct Catalog {
    store: Arc<dyn Store>,
    feed: Arc<Feed>,
    clock: Clock,
    metrics: Arc<Metrics>,
    account: String,
    limits: Limits,
    /// Serialises changes (held until the change is in memory).
    control: tokio::sync::Mutex<()>,
    defs: RwLock<Defs>,
    /// Compiled patterns by rule, kept so a snapshot rebuild does not re-parse every rule.
    patterns: std::sync::Mutex<HashMap<RuleKey, Pattern>>,
    snapshots: RwLock<HashMap<BusKey, Arc<BusSnapshot>>>,
}

impl Catalog {
    /// Loads the buses and rules among the store's `definitions` and compiles the matchers.
    pub fn load(
        store: Arc<dyn Store>,
        feed: Arc<Feed>,
        definitions: &[Definition],
        metrics: Arc<Metrics>,
        account: String,
        limits: Limits,
        clock: Clock,
    ) -> anyhow::Result<Self> {
        let mut defs = Defs {
            created_ms: clock.now_ms(),
            ..Defs::default()
        };
        for (kind, key, value) in definitions {
            match kind.as_str() {
                KIND_BUS => {
                    let b: BusDef = serde_json::from_slice(value).map_err(|e| {
                        anyhow::anyhow!("bus definition `{key}` is unreadable: {e}")
                    })?;
                    defs.buses.insert((b.region.clone(), b.name.clone()), b);
                }
                KIND_RULE => {
                    let r: RuleDef = serde_json::from_slice(value).map_err(|e| {
                        anyhow::anyhow!("rule definition `{key}` is unreadable: {e}")
                    })?;
                    defs.rules
                        .insert((r.region.clone(), r.bus.clone(), r.name.clone()), r);
                }
                _ => {}
            }
        }
        let catalog = Self {
            store,
            feed,
            clock,
            metrics,
            account,
            limits,
            control: tokio::sync::Mutex::new(()),
            defs: RwLock::new(Defs::default()),
            patterns: std::sync::Mutex::new(HashMap::new()),
            snapshots: RwLock::new(HashMap::new()),
        };
        catalog.replace(defs);
        Ok(catalog)
    }

    /// Replaces every definition and recompiles every bus.
    fn replace(&self, defs: Defs) {
        let mut current = self.write_defs();
        *current = defs;
        self.lock_patterns().clear();
        self.snapshots
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        let buses: HashSet<BusKey> = current
            .buses
            .keys()
            .cloned()
            .chain(current.rules.keys().map(|(r, b, _)| (r.clone(), b.clone())))
            .collect();
        for key in &buses {
            self.rebuild(&current, key);
        }
    }

    fn read_defs(&self) -> std::sync::RwLockReadGuard<'_, Defs> {
        self.defs.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write_defs(&self) -> std::sync::RwLockWriteGuard<'_, Defs> {
        self.defs.write().unwrap_or_else(|e| e.into_inner())
    }

    pub fn account(&self) -> &str {
        &self.account
    }

    pub fn scope(&self, region: &str) -> Scope {
        Scope::new(region, &self.account)
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Reads the definitions (`f` must not block: changes wait for it).
    pub async fn read<T>(&self, f: impl FnOnce(&Defs) -> T) -> T {
        f(&self.read_defs())
    }

    /// A rule and one of its targets, when both still exist.
    pub fn target(&self, rule: RuleRef<'_>, target_id: &str) -> Option<(RuleDef, TargetDef)> {
        let defs = self.read_defs();
        let rule = defs.rule(rule.region, rule.bus, rule.name)?;
        let target = rule.targets.iter().find(|t| t.id == target_id)?.clone();
        Some((rule.clone(), target))
    }

    /// The compiled bus, or `None` when the bus does not exist. The `default` bus always exists.
    pub fn snapshot(&self, region: &str, bus: &str) -> Option<Arc<BusSnapshot>> {
        let key = (region.to_owned(), bus.to_owned());
        if let Some(s) = self
            .snapshots
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
        {
            return Some(s.clone());
        }
        (bus == DEFAULT_BUS).then(|| Arc::new(BusSnapshot::default()))
    }

    /// Runs one control-plane change: `decide` looks at the current definitions and returns the
    /// answer and the changes to make (or an error, which changes nothing). The changes are made
    /// durable, and the call returns once they are in memory and compiled into the affected
    /// buses' matchers (see the module docs).
    pub async fn mutate<T, E: From<CoreError>>(
        &self,
        decide: impl FnOnce(&Defs) -> Result<(T, Vec<Change>), E>,
    ) -> Result<T, E> {
        let _control = self.control.lock().await;
        let (answer, changes) = decide(&self.read_defs())?;
        if changes.is_empty() {
            return Ok(answer);
        }
        let stored = changes
            .iter()
            .map(Change::to_store)
            .collect::<Result<Vec<_>, _>>()?;
        let version = self.store.apply(stored).await.map_err(CoreError::from)?;
        self.feed.caught_up(version).await;
        Ok(answer)
    }

    /// Applies one committed change of a bus or rule; answers the bus it touched.
    fn follow_one(&self, defs: &mut Defs, c: &DefinitionChange) -> Option<BusKey> {
        match c.kind.as_str() {
            KIND_BUS => {
                let (region, name) = c.key.split_once(':')?;
                let key = (region.to_owned(), name.to_owned());
                match c.value.as_deref().map(serde_json::from_slice::<BusDef>) {
                    Some(Ok(b)) => {
                        defs.buses.insert(key.clone(), b);
                    }
                    None => {
                        defs.buses.remove(&key);
                    }
                    Some(Err(e)) => {
                        tracing::warn!(key = %c.key, error = %e, "stored bus is unreadable; ignored");
                        return None;
                    }
                }
                Some(key)
            }
            KIND_RULE => {
                let (region, rest) = c.key.split_once(':')?;
                let (bus, name) = rest.split_once(':')?;
                let key = (region.to_owned(), bus.to_owned(), name.to_owned());
                match c.value.as_deref().map(serde_json::from_slice::<RuleDef>) {
                    Some(Ok(r)) => {
                        self.lock_patterns().remove(&key);
                        defs.rules.insert(key, r);
                    }
                    None => {
                        self.lock_patterns().remove(&key);
                        defs.rules.remove(&key);
                    }
                    Some(Err(e)) => {
                        tracing::warn!(key = %c.key, error = %e, "stored rule is unreadable; ignored");
                        return None;
                    }
                }
                Some((region.to_owned(), bus.to_owned()))
            }
            _ => None,
        }
    }

    fn lock_patterns(&self) -> std::sync::MutexGuard<'_, HashMap<RuleKey, Pattern>> {
        self.patterns.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Compiles one bus's enabled pattern rules into a new snapshot and swaps it in.
    fn rebuild(&self, defs: &Defs, key: &BusKey) {
        let (region, bus) = key;
        let exists = defs.bus(region, bus).is_some();
        let mut snapshots = self.snapshots.write().unwrap_or_else(|e| e.into_inner());
        if !exists {
            snapshots.remove(key);
            return;
        }
        let scope = self.scope(region);
        let mut builder = MatcherBuilder::new();
        let mut rules = Vec::new();
        let mut patterns = self.lock_patterns();
        for rule in defs.rules_of(region, bus) {
            let Some(src) = rule.event_pattern.as_deref() else {
                continue;
            };
            if !rule.state.is_enabled() {
                continue;
            }
            let rkey = (region.clone(), bus.clone(), rule.name.clone());
            let pattern = match patterns.get(&rkey) {
                Some(p) => p.clone(),
                None => match Pattern::parse_with(src, &self.limits) {
                    Ok(p) => {
                        patterns.insert(rkey, p.clone());
                        p
                    }
                    Err(e) => {
                        tracing::warn!(rule = %rule.name, error = %e, "stored pattern no longer compiles; rule skipped");
                        continue;
                    }
                },
            };
            let Ok(id) = u32::try_from(rules.len()) else {
                break;
            };
            builder.add(id, &pattern);
            let labels = RuleLabels {
                bus: bus.clone(),
                rule: rule.name.clone(),
            };
            rules.push(SnapRule {
                name: rule.name.clone(),
                arn: scope.rule_arn(bus, &rule.name),
                targets: rule
                    .targets
                    .iter()
                    .filter(|t| !is_archive_target(&t.arn))
                    .map(|t| t.id.clone())
                    .collect(),
                matched: self.metrics.matched.get_or_create(&labels).clone(),
                search_gave_up: self
                    .metrics
                    .search_budget_exhausted
                    .get_or_create(&labels)
                    .clone(),
            });
        }
        snapshots.insert(
            key.clone(),
            Arc::new(BusSnapshot {
                matcher: builder.build(),
                rules,
            }),
        );
    }
}

impl Follow for Catalog {
    fn follow(&self, changes: &[DefinitionChange]) {
        let mut defs = self.write_defs();
        let touched: HashSet<BusKey> = changes
            .iter()
            .filter_map(|c| self.follow_one(&mut defs, c))
            .collect();
        for key in &touched {
            self.rebuild(&defs, key);
        }
    }

    fn reload(&self, definitions: &[Definition]) {
        let mut defs = Defs {
            created_ms: self.read_defs().created_ms,
            ..Defs::default()
        };
        for c in definitions {
            let change = DefinitionChange::put(&c.0, c.1.clone(), c.2.clone());
            let _bus = self.follow_one(&mut defs, &change);
        }
        self.replace(defs);
    }

    fn reset(&self) {
        self.replace(Defs {
            created_ms: self.clock.now_ms(),
            ..Defs::default()
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_archive_target_is_one() {
        assert!(is_archive_target(&archive_target_arn("eu-west-1")));
        for arn in [
            "arn:aws:events:eu-west-1:123456789012:event-bus/default",
            "arn:aws:events::::",
            "arn:aws:events:a:b:::",
            "arn:aws:sqs:eu-west-1:::",
        ] {
            assert!(!is_archive_target(arn), "{arn}");
        }
    }
}
