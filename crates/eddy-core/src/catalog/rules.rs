//! Creating, changing and deleting rules and their targets: the one place that decides whether a
//! rule's definition is valid (its pattern, its schedule, its targets' ARNs, input shaping and
//! FIFO message groups, how many targets it has) and whether a change may be made (managed
//! rules), for every caller (the EventBridge API, the manifest). Refusals are [`RuleError`]s in
//! the core's words; the EventBridge adapter words them as AWS does.

use eddy_model::DEFAULT_BUS;
use eddy_model::definitions::{RuleDef, RuleState, Tags, TargetDef};
use eddy_model::limits;
use eddy_model::names::Arn;
use eddy_pattern::Pattern;
use serde_json::Value;

use super::{Catalog, Change, Defs};
use crate::core_error::CoreError;

/// A rule to create or replace (PutRule); its targets stay as they are.
#[derive(Debug, Clone)]
pub struct RuleSpec {
    pub bus: String,
    pub name: String,
    pub event_pattern: Option<String>,
    pub schedule_expression: Option<String>,
    /// `None`: enabled.
    pub state: Option<RuleState>,
    pub description: Option<String>,
    pub role_arn: Option<String>,
    /// Empty: a replaced rule keeps its tags.
    pub tags: Tags,
}

/// Why a rule or target operation refused.
#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    #[error("a rule needs an event pattern or a schedule expression")]
    NoPatternNorSchedule,
    #[error("schedule expressions are only for rules on the default bus")]
    ScheduleOnCustomBus,
    /// Not a `rate()` or `cron()` expression (`at()` is for Scheduler only).
    #[error("the schedule expression is not valid")]
    InvalidSchedule,
    /// The event pattern does not compile (the pattern compiler's message).
    #[error("invalid event pattern: {0}")]
    InvalidPattern(String),
    #[error("event bus {0} does not exist")]
    BusNotFound(String),
    #[error("rule {name} does not exist on bus {bus}")]
    NotFound { name: String, bus: String },
    /// A managed rule (an archive's) is changed only by its owner.
    #[error("rule {0} is managed")]
    Managed(String),
    /// A managed rule is deleted only with `force`.
    #[error("rule {0} is managed and is deleted only with force")]
    ManagedDeleteNeedsForce(String),
    /// A managed rule's targets are removed only with `force`.
    #[error("rule {0} is managed and its targets are removed only with force")]
    ManagedRemoveNeedsForce(String),
    #[error("a rule with targets cannot be deleted")]
    HasTargets,
    #[error("the target is not valid: {0}")]
    InvalidTarget(TargetFault),
    /// More targets than a rule takes.
    #[error("a rule takes at most {} targets", limits::target::PER_RULE)]
    TooManyTargets,
    #[error(transparent)]
    Core(#[from] CoreError),
}

/// What is wrong with a target.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetFault {
    /// An ARN (the target's or its dead-letter queue's) that is not one.
    #[error("{0} is not an ARN in the correct format")]
    Arn(String),
    /// Input shaping that cannot work (the checker's message).
    #[error("{0}")]
    Input(String),
    /// A FIFO queue target without a message group (the target's id).
    #[error("target {0} delivers to a FIFO queue and needs SqsParameters.MessageGroupId")]
    FifoWithoutGroup(String),
}

/// Checks a target as a whole: its ARN, input shaping, dead-letter queue, FIFO message group.
pub fn check_target(t: &TargetDef) -> Result<(), TargetFault> {
    if Arn::parse(&t.arn).is_none() {
        return Err(TargetFault::Arn(t.arn.clone()));
    }
    eddy_model::transform::check_target(t).map_err(|e| TargetFault::Input(e.to_string()))?;
    if let Some(dlq) = t.dead_letter_config.as_ref().and_then(|d| d.arn.as_deref())
        && Arn::parse(dlq).is_none_or(|a| a.service != "sqs")
    {
        return Err(TargetFault::Arn(dlq.to_owned()));
    }
    if let Some(arn) = Arn::parse(&t.arn)
        && arn.service == "sqs"
        && arn.resource.ends_with(".fifo")
        && !t
            .other
            .get("SqsParameters")
            .and_then(|p| p.get("MessageGroupId"))
            .is_some_and(Value::is_string)
    {
        return Err(TargetFault::FifoWithoutGroup(t.id.clone()));
    }
    Ok(())
}

/// The rule `name` on `bus` (which must exist), unless it is managed.
fn unmanaged<'d>(
    d: &'d Defs,
    region: &str,
    bus: &str,
    name: &str,
) -> Result<&'d RuleDef, RuleError> {
    let rule = existing(d, region, bus, name)?;
    if rule.managed_by.is_some() {
        return Err(RuleError::Managed(name.to_owned()));
    }
    Ok(rule)
}

/// The rule `name` on `bus` (which must exist).
fn existing<'d>(
    d: &'d Defs,
    region: &str,
    bus: &str,
    name: &str,
) -> Result<&'d RuleDef, RuleError> {
    if d.bus(region, bus).is_none() {
        return Err(RuleError::BusNotFound(bus.to_owned()));
    }
    d.rule(region, bus, name)
        .ok_or_else(|| RuleError::NotFound {
            name: name.to_owned(),
            bus: bus.to_owned(),
        })
}

impl Catalog {
    /// Compiles an event pattern under this catalog's limits.
    pub fn compile_pattern(&self, source: &str) -> Result<Pattern, RuleError> {
        Pattern::parse_with(source, self.limits())
            .map_err(|e| RuleError::InvalidPattern(e.to_string()))
    }

    /// Creates or replaces a rule of `region` (PutRule): its targets, and its tags unless new
    /// ones are given, stay.
    pub async fn put_rule(&self, region: &str, spec: RuleSpec) -> Result<RuleDef, RuleError> {
        if spec.event_pattern.is_none() && spec.schedule_expression.is_none() {
            return Err(RuleError::NoPatternNorSchedule);
        }
        if let Some(s) = &spec.schedule_expression {
            if spec.bus != DEFAULT_BUS {
                return Err(RuleError::ScheduleOnCustomBus);
            }
            // Rules take rate() and cron() (UTC); at() is for EventBridge Scheduler only.
            match eddy_schedule::ScheduleExpression::parse(s) {
                Ok(expr) if expr.allowed_for_rules() => {}
                _ => return Err(RuleError::InvalidSchedule),
            }
        }
        if let Some(p) = &spec.event_pattern {
            self.compile_pattern(p)?;
        }
        let now = self.clock.now_ms();
        self.mutate(|defs| {
            if defs.bus(region, &spec.bus).is_none() {
                return Err(RuleError::BusNotFound(spec.bus.clone()));
            }
            let old = defs.rule(region, &spec.bus, &spec.name);
            if let Some(old) = old
                && old.managed_by.is_some()
            {
                return Err(RuleError::Managed(spec.name.clone()));
            }
            let rule = RuleDef {
                region: region.to_owned(),
                bus: spec.bus,
                name: spec.name,
                event_pattern: spec.event_pattern,
                schedule_expression: spec.schedule_expression,
                state: spec.state.unwrap_or(RuleState::Enabled),
                description: spec.description,
                role_arn: spec.role_arn,
                managed_by: None,
                tags: match old {
                    Some(o) if spec.tags.is_empty() => o.tags.clone(),
                    _ => spec.tags,
                },
                targets: old.map(|o| o.targets.clone()).unwrap_or_default(),
                created_ms: old.map_or(now, |o| o.created_ms),
            };
            Ok((rule.clone(), vec![Change::PutRule(rule)]))
        })
        .await
    }

    /// Deletes a rule without targets; a rule that does not exist is no error (as DeleteRule).
    /// A managed rule only with `force`.
    pub async fn delete_rule(
        &self,
        region: &str,
        bus: &str,
        name: &str,
        force: bool,
    ) -> Result<(), RuleError> {
        self.mutate(|d| {
            let rule = match existing(d, region, bus, name) {
                Ok(rule) => rule,
                Err(RuleError::NotFound { .. }) => return Ok(((), vec![])),
                Err(e) => return Err(e),
            };
            if rule.managed_by.is_some() && !force {
                return Err(RuleError::ManagedDeleteNeedsForce(name.to_owned()));
            }
            if !rule.targets.is_empty() {
                return Err(RuleError::HasTargets);
            }
            let change = Change::DeleteRule {
                region: region.to_owned(),
                bus: bus.to_owned(),
                name: name.to_owned(),
            };
            Ok(((), vec![change]))
        })
        .await
    }

    /// Enables or disables a rule.
    pub async fn set_rule_state(
        &self,
        region: &str,
        bus: &str,
        name: &str,
        state: RuleState,
    ) -> Result<(), RuleError> {
        self.mutate(|d| {
            let rule = unmanaged(d, region, bus, name)?;
            if rule.state == state {
                return Ok(((), vec![]));
            }
            let mut rule = rule.clone();
            rule.state = state;
            Ok(((), vec![Change::PutRule(rule)]))
        })
        .await
    }

    /// Adds targets to a rule, replacing those with the same ids (PutTargets).
    pub async fn put_targets(
        &self,
        region: &str,
        bus: &str,
        rule: &str,
        targets: Vec<TargetDef>,
    ) -> Result<(), RuleError> {
        for t in &targets {
            check_target(t).map_err(RuleError::InvalidTarget)?;
        }
        self.mutate(|d| {
            let mut rule = unmanaged(d, region, bus, rule)?.clone();
            for t in targets {
                match rule.targets.iter_mut().find(|old| old.id == t.id) {
                    Some(old) => *old = t,
                    None => rule.targets.push(t),
                }
            }
            if rule.targets.len() > limits::target::PER_RULE {
                return Err(RuleError::TooManyTargets);
            }
            Ok(((), vec![Change::PutRule(rule)]))
        })
        .await
    }

    /// Removes targets of a rule by id (RemoveTargets), a managed rule's only with `force`;
    /// answers the ids the rule did not have.
    pub async fn remove_targets(
        &self,
        region: &str,
        bus: &str,
        rule: &str,
        ids: &[String],
        force: bool,
    ) -> Result<Vec<String>, RuleError> {
        self.mutate(|d| {
            let current = existing(d, region, bus, rule)?;
            if current.managed_by.is_some() && !force {
                return Err(RuleError::ManagedRemoveNeedsForce(rule.to_owned()));
            }
            let mut changed = current.clone();
            let mut missing = Vec::new();
            for id in ids {
                let before = changed.targets.len();
                changed.targets.retain(|t| &t.id != id);
                if changed.targets.len() == before {
                    missing.push(id.clone());
                }
            }
            let changes = if missing.len() == ids.len() {
                vec![]
            } else {
                vec![Change::PutRule(changed)]
            };
            Ok((missing, changes))
        })
        .await
    }
}
