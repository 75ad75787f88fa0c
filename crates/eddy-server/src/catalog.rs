//! The catalog: every bus and rule definition, held in memory, persisted through the store, and
//! compiled into one matcher per bus.
//!
//! Reads of the matchers ([`Catalog::snapshot`]) never wait for the control plane: each bus has
//! an immutable [`BusSnapshot`] behind an `Arc`, and a change builds a new snapshot and swaps it
//! in. Changes ([`Catalog::mutate`]) are serialised by one async mutex; a change is written to the
//! store (durably) before memory and snapshots are updated, so what a caller was told succeeded
//! survives a restart.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, RwLock};

use eddy_model::DEFAULT_BUS;
use eddy_model::definitions::{BusDef, RuleDef, TargetDef};
use eddy_model::names::Scope;
use eddy_pattern::{Limits, Matcher, MatcherBuilder, Pattern};
use eddy_store::{DefinitionChange, Store};
use prometheus_client::metrics::counter::Counter;

use crate::core_error::CoreError;
use crate::metrics::{Metrics, RuleLabels};

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

    fn bus(&self) -> BusKey {
        match self {
            Change::PutBus(b) => (b.region.clone(), b.name.clone()),
            Change::DeleteBus { region, name } => (region.clone(), name.clone()),
            Change::PutRule(r) => (r.region.clone(), r.bus.clone()),
            Change::DeleteRule { region, bus, .. } => (region.clone(), bus.clone()),
        }
    }
}

/// See the module docs.
pub struct Catalog {
    store: Arc<dyn Store>,
    metrics: Arc<Metrics>,
    account: String,
    limits: Limits,
    defs: tokio::sync::Mutex<Defs>,
    /// Compiled patterns by rule, kept so a snapshot rebuild does not re-parse every rule.
    patterns: std::sync::Mutex<HashMap<RuleKey, Pattern>>,
    snapshots: RwLock<HashMap<BusKey, Arc<BusSnapshot>>>,
}

impl Catalog {
    /// Loads the buses and rules among the store's `definitions` and compiles the matchers.
    pub async fn load(
        store: Arc<dyn Store>,
        definitions: &[eddy_store::Definition],
        metrics: Arc<Metrics>,
        account: String,
        limits: Limits,
        now_ms: i64,
    ) -> anyhow::Result<Self> {
        let mut defs = Defs {
            created_ms: now_ms,
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
            metrics,
            account,
            limits,
            defs: tokio::sync::Mutex::new(Defs::default()),
            patterns: std::sync::Mutex::new(HashMap::new()),
            snapshots: RwLock::new(HashMap::new()),
        };
        let buses: HashSet<BusKey> = defs
            .buses
            .keys()
            .cloned()
            .chain(defs.rules.keys().map(|(r, b, _)| (r.clone(), b.clone())))
            .collect();
        for key in &buses {
            catalog.rebuild(&defs, key);
        }
        *catalog.defs.lock().await = defs;
        Ok(catalog)
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

    /// A copy of the definitions for reading.
    pub async fn read<T>(&self, f: impl FnOnce(&Defs) -> T) -> T {
        f(&*self.defs.lock().await)
    }

    /// The rule a rule ARN names and one of its targets, when both still exist.
    pub async fn target(&self, rule_arn: &str, target_id: &str) -> Option<(RuleDef, TargetDef)> {
        let arn = eddy_model::names::Arn::parse(rule_arn)?;
        let rest = arn.resource.strip_prefix("rule/")?;
        let (bus, name) = rest.rsplit_once('/').unwrap_or((DEFAULT_BUS, rest));
        let defs = self.defs.lock().await;
        let rule = defs.rule(arn.region, bus, name)?;
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
    /// durable, then applied in memory and compiled into the affected buses' matchers.
    pub async fn mutate<T, E: From<CoreError>>(
        &self,
        decide: impl FnOnce(&Defs) -> Result<(T, Vec<Change>), E>,
    ) -> Result<T, E> {
        let mut defs = self.defs.lock().await;
        let (answer, changes) = decide(&defs)?;
        if changes.is_empty() {
            return Ok(answer);
        }
        let stored = changes
            .iter()
            .map(Change::to_store)
            .collect::<Result<Vec<_>, _>>()?;
        self.store.apply(stored).await.map_err(CoreError::from)?;
        let mut touched = HashSet::new();
        for change in changes {
            touched.insert(change.bus());
            match change {
                Change::PutBus(b) => {
                    defs.buses.insert((b.region.clone(), b.name.clone()), b);
                }
                Change::DeleteBus { region, name } => {
                    defs.buses.remove(&(region, name));
                }
                Change::PutRule(r) => {
                    let key = (r.region.clone(), r.bus.clone(), r.name.clone());
                    self.lock_patterns().remove(&key);
                    defs.rules.insert(key, r);
                }
                Change::DeleteRule { region, bus, name } => {
                    let key = (region, bus, name);
                    self.lock_patterns().remove(&key);
                    defs.rules.remove(&key);
                }
            }
        }
        for key in &touched {
            self.rebuild(&defs, key);
        }
        Ok(answer)
    }

    /// Forgets everything (after the store was reset).
    pub async fn clear(&self, now_ms: i64) {
        let mut defs = self.defs.lock().await;
        *defs = Defs {
            created_ms: now_ms,
            ..Defs::default()
        };
        self.lock_patterns().clear();
        self.snapshots
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
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
