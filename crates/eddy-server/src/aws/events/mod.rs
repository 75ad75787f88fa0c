//! Amazon EventBridge (`AWSEvents.*`, API 2015-10-07) over AWS JSON 1.1: request shapes,
//! validation with AWS's codes and messages, and replies. The state lives in the catalog; putting
//! events goes through the bus.
//!
//! This module dispatches an operation and holds what its operations share (bus and rule names,
//! their "does not exist" errors, patterns); one module per group of operations does the rest:
//! `put_events`, `test_pattern`, `rules`, `targets`, `buses`, `tags` and `policy`
//! (a bus's resource policy). Archives and replays, connections and API destinations have their
//! own modules beside this one.

mod buses;
mod policy;
mod put_events;
mod rules;
mod tags;
mod targets;
mod test_pattern;

use buses::*;
use policy::*;
use put_events::*;
use rules::*;
use tags::*;
use targets::*;
use test_pattern::*;

use eddy_model::DEFAULT_BUS;
use eddy_model::definitions::{BusDef, RuleDef, RuleState, Tags, TargetDef};
use eddy_model::event::DetailError;
use eddy_model::names::{Arn, BUS_NAME, RULE_NAME, TARGET_ID};
use eddy_pattern::Pattern;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{Ctx, Page, empty, parse, reply};
use crate::App;
use crate::bus::{EntryError, PreparedEvent};
use crate::catalog::{Change, Defs};
use crate::error::{ApiError, Violations};

/// Runs one EventBridge operation.
pub async fn call(app: &App, ctx: &Ctx, op: &str, body: &[u8]) -> Result<Vec<u8>, ApiError> {
    match op {
        "PutEvents" => put_events(app, ctx, parse(body)?).await,
        "TestEventPattern" => test_event_pattern(app, parse(body)?),
        "PutRule" => put_rule(app, ctx, parse(body)?).await,
        "DescribeRule" => describe_rule(app, ctx, parse(body)?).await,
        "ListRules" => list_rules(app, ctx, parse(body)?).await,
        "DeleteRule" => delete_rule(app, ctx, parse(body)?).await,
        "EnableRule" => set_rule_state(app, ctx, parse(body)?, RuleState::Enabled).await,
        "DisableRule" => set_rule_state(app, ctx, parse(body)?, RuleState::Disabled).await,
        "ListRuleNamesByTarget" => list_rule_names_by_target(app, ctx, parse(body)?).await,
        "PutTargets" => put_targets(app, ctx, parse(body)?).await,
        "RemoveTargets" => remove_targets(app, ctx, parse(body)?).await,
        "ListTargetsByRule" => list_targets_by_rule(app, ctx, parse(body)?).await,
        "CreateEventBus" => create_event_bus(app, ctx, parse(body)?).await,
        "DescribeEventBus" => describe_event_bus(app, ctx, parse(body)?).await,
        "ListEventBuses" => list_event_buses(app, ctx, parse(body)?).await,
        "UpdateEventBus" => update_event_bus(app, ctx, parse(body)?).await,
        "DeleteEventBus" => delete_event_bus(app, ctx, parse(body)?).await,
        "TagResource" => tag_resource(app, ctx, parse(body)?).await,
        "UntagResource" => untag_resource(app, ctx, parse(body)?).await,
        "ListTagsForResource" => list_tags_for_resource(app, ctx, parse(body)?).await,
        "PutPermission" => put_permission(app, ctx, parse(body)?).await,
        "RemovePermission" => remove_permission(app, ctx, parse(body)?).await,
        "CreateArchive" | "DescribeArchive" | "ListArchives" | "UpdateArchive"
        | "DeleteArchive" | "StartReplay" | "DescribeReplay" | "ListReplays" | "CancelReplay" => {
            super::archives::call(app, ctx, op, body).await
        }
        _ => match super::destinations::call(app, ctx, op, body).await {
            Some(r) => r,
            None => Err(ApiError::unknown_operation(format!(
                "Unknown operation AWSEvents.{op}: eddy does not implement it"
            ))),
        },
    }
}

fn epoch_seconds(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

/// Resolves an `EventBusName`-style member (a name or a bus ARN) to a bus name; `None` is the
/// default bus.
fn bus_name(v: &mut Violations, member: &str, value: Option<&str>) -> String {
    let Some(value) = value else {
        return DEFAULT_BUS.to_owned();
    };
    if let Some(arn) = Arn::parse(value)
        && let Some(name) = arn.resource.strip_prefix("event-bus/")
    {
        v.length(member, Some(value), 1, 1600);
        v.name(member, Some(name), BUS_NAME, true);
        return name.to_owned();
    }
    v.name(member, Some(value), BUS_NAME, true);
    value.to_owned()
}

fn bus_missing(name: &str) -> ApiError {
    ApiError::not_found(format!("Event bus {name} does not exist."))
}

/// `Ok` when the bus exists (the `default` bus always does).
fn require_bus(d: &Defs, region: &str, bus: &str) -> Result<(), ApiError> {
    match d.bus(region, bus) {
        Some(_) => Ok(()),
        None => Err(bus_missing(bus)),
    }
}

fn rule_missing(name: &str) -> ApiError {
    ApiError::not_found(format!("Rule {name} does not exist."))
}

fn rule_missing_on_bus(name: &str, bus: &str) -> ApiError {
    ApiError::not_found(format!("Rule {name} does not exist on EventBus {bus}."))
}

/// Parses a pattern with the server's limits, reporting errors as EventBridge does.
fn compile_pattern(app: &App, src: &str) -> Result<Pattern, ApiError> {
    Pattern::parse_with(src, app.catalog.limits())
        .map_err(|e| ApiError::invalid_pattern(e.to_string()))
}
