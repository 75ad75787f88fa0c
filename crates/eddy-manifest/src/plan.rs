//! The plan: what to create, update and delete so the current resources become the desired
//! ones. Pure; `eddy apply` executes it. This module owns the order of changes:
//!
//! 1. creates, updates and unchanged resources, kind by kind in dependency order — queues,
//!    buses, API destinations, functions, topics (with their subscriptions), buckets (with
//!    their notifications, which name queues, topics and functions), event source mappings,
//!    rules (with their targets), schedules, APIs — and,
//!    among queues, a dead-letter queue before the queues that redrive to it;
//! 2. then deletes, in the reverse order (APIs first, queues last; a queue before its
//!    dead-letter queue), so nothing is deleted while something still refers to it.
//!
//! The `default` bus is never deleted. Applying a plan and planning again yields only
//! [`Action::Unchanged`].

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::resources::Resources;

/// A kind of resource, in creation order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Queue,
    Bus,
    ApiDestination,
    Function,
    Topic,
    Bucket,
    EventSourceMapping,
    Rule,
    Schedule,
    Api,
}

impl Kind {
    /// Every kind, in creation order.
    pub const ALL: [Kind; 10] = [
        Kind::Queue,
        Kind::Bus,
        Kind::ApiDestination,
        Kind::Function,
        Kind::Topic,
        Kind::Bucket,
        Kind::EventSourceMapping,
        Kind::Rule,
        Kind::Schedule,
        Kind::Api,
    ];

    /// `queue`, `bus`, `api destination`, …
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Queue => "queue",
            Kind::Bus => "bus",
            Kind::ApiDestination => "api destination",
            Kind::Function => "function",
            Kind::Topic => "topic",
            Kind::Bucket => "bucket",
            Kind::EventSourceMapping => "event source mapping",
            Kind::Rule => "rule",
            Kind::Schedule => "schedule",
            Kind::Api => "api",
        }
    }
}

impl Resources {
    /// The definitions of one kind.
    pub fn of(&self, kind: Kind) -> &BTreeMap<String, Value> {
        match kind {
            Kind::Queue => &self.queues,
            Kind::Bus => &self.buses,
            Kind::ApiDestination => &self.api_destinations,
            Kind::Function => &self.functions,
            Kind::Topic => &self.topics,
            Kind::Bucket => &self.buckets,
            Kind::EventSourceMapping => &self.event_source_mappings,
            Kind::Rule => &self.rules,
            Kind::Schedule => &self.schedules,
            Kind::Api => &self.apis,
        }
    }

    /// The definitions of one kind, to fill in.
    pub fn of_mut(&mut self, kind: Kind) -> &mut BTreeMap<String, Value> {
        match kind {
            Kind::Queue => &mut self.queues,
            Kind::Bus => &mut self.buses,
            Kind::ApiDestination => &mut self.api_destinations,
            Kind::Function => &mut self.functions,
            Kind::Topic => &mut self.topics,
            Kind::Bucket => &mut self.buckets,
            Kind::EventSourceMapping => &mut self.event_source_mappings,
            Kind::Rule => &mut self.rules,
            Kind::Schedule => &mut self.schedules,
            Kind::Api => &mut self.apis,
        }
    }
}

/// What to do with one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Create,
    Update,
    Delete,
    Unchanged,
    /// Never planned: what apply reports for a planned delete it did not carry out because the
    /// resource still holds data (a bucket with objects). The resource stays, no longer managed
    /// by the manifest; apply's warnings say why.
    Kept,
}

/// One step of a plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub kind: Kind,
    /// The resource's key (`BUS/NAME` for rules, `GROUP/NAME` for schedules).
    pub name: String,
    pub action: Action,
    /// The desired definition (for `Create`, `Update` and `Unchanged`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub definition: Option<Value>,
}

/// Compares `desired` with `current` and returns every resource's change, in the order to
/// apply them (see the module docs).
pub fn plan(desired: &Resources, current: &Resources) -> Vec<Change> {
    let mut out = Vec::new();
    for kind in Kind::ALL {
        let want = desired.of(kind);
        let have = current.of(kind);
        for name in ordered(kind, want) {
            let def = &want[&name];
            let action = match have.get(&name) {
                None => Action::Create,
                Some(cur) if cur == def => Action::Unchanged,
                Some(_) => Action::Update,
            };
            out.push(Change {
                kind,
                name,
                action,
                definition: Some(def.clone()),
            });
        }
    }
    for kind in Kind::ALL.into_iter().rev() {
        let want = desired.of(kind);
        let have = current.of(kind);
        for name in ordered(kind, have).into_iter().rev() {
            if want.contains_key(&name) || (kind == Kind::Bus && name == crate::model::DEFAULT_BUS)
            {
                continue;
            }
            out.push(Change {
                kind,
                name,
                action: Action::Delete,
                definition: None,
            });
        }
    }
    out
}

/// Names in creation order: by name, except that a queue comes after its dead-letter queue.
fn ordered(kind: Kind, defs: &BTreeMap<String, Value>) -> Vec<String> {
    if kind != Kind::Queue {
        return defs.keys().cloned().collect();
    }
    let mut out = Vec::with_capacity(defs.len());
    let mut done = BTreeSet::new();
    for name in defs.keys() {
        visit(name, defs, &mut done, &mut out, 0);
    }
    out
}

fn visit(
    name: &str,
    defs: &BTreeMap<String, Value>,
    done: &mut BTreeSet<String>,
    out: &mut Vec<String>,
    depth: usize,
) {
    if done.contains(name) || !defs.contains_key(name) || depth > defs.len() {
        return;
    }
    if let Some(dlq) = dead_letter_queue(&defs[name])
        && dlq != name
    {
        visit(&dlq, defs, done, out, depth + 1);
    }
    if done.insert(name.to_owned()) {
        out.push(name.to_owned());
    }
}

/// The name of the queue `RedrivePolicy.deadLetterTargetArn` names.
fn dead_letter_queue(def: &Value) -> Option<String> {
    let policy = def.get("Attributes")?.get("RedrivePolicy")?.as_str()?;
    let policy: Value = serde_json::from_str(policy).ok()?;
    let arn = policy.get("deadLetterTargetArn")?.as_str()?;
    arn.rsplit(':').next().map(str::to_owned)
}
