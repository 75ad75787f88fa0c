//! Target input shaping: what a rule's target receives instead of (or as) the matched event.
//!
//! This module owns the three EventBridge target options `Input`, `InputPath` and
//! `InputTransformer`: rendering them for one event ([`render_input`]) and validating them when a
//! target is put ([`check_path`], [`check_transformer`], [`check_target`]). It is pure: text in,
//! text out, no I/O. Sources: the EventBridge user guide page "Amazon EventBridge input
//! transformation" (examples and "Common issues"), the API reference (`Target`,
//! `InputTransformer`), and LocalStack's snapshot tests recorded against real AWS
//! (`tests/aws/services/events/test_events_inputs.snapshot.json`).
//!
//! # Which option wins
//!
//! `PutTargets` allows at most one of the three (see [`check_target`]). Should a stored target
//! carry several anyway, `Input` wins over `InputPath`, which wins over `InputTransformer`. With
//! none, the target receives the event envelope text unchanged.
//!
//! # `Input`
//!
//! Delivered verbatim (AWS requires it to be JSON text; [`check_target`] checks that).
//!
//! # Layout
//!
//! * `path`: JSON paths (`InputPath`, `InputPathsMap` values): the subset EventBridge takes,
//!   and what a path selects;
//! * `template`: `InputTemplate` placeholders, the predefined variables, and how each value is
//!   written where it stands (JSON templates and text templates);
//! * `check`: validation at `PutTargets`, with AWS's messages;
//! * `tree`: the event as a JSON tree, read with eddy's one JSON reader
//!   ([`eddy_pattern::json::read`]) and written back.

mod check;
mod path;
mod template;
mod tree;

use std::fmt;

pub use check::{check_path, check_target, check_transformer};

use crate::definitions::TargetDef;
use path::{Selected, parse_path, select};
use tree::{parse_event, write_json, write_json_array};

/// Longest `InputPath` or `InputPathsMap` value AWS accepts.
pub const MAX_PATH_LEN: usize = 256;
/// Longest `InputTemplate` AWS accepts (characters).
pub const MAX_TEMPLATE_LEN: usize = 8192;
/// Most `InputPathsMap` entries AWS accepts.
pub const MAX_VARIABLES: usize = 100;
/// Longest `InputPathsMap` key AWS accepts.
pub const MAX_VARIABLE_NAME_LEN: usize = 256;

/// `<aws.events.rule-arn>`.
pub const VAR_RULE_ARN: &str = "aws.events.rule-arn";
/// `<aws.events.rule-name>`.
pub const VAR_RULE_NAME: &str = "aws.events.rule-name";
/// `<aws.events.event.ingestion-time>`.
pub const VAR_INGESTION_TIME: &str = "aws.events.event.ingestion-time";
/// `<aws.events.event>`.
pub const VAR_EVENT: &str = "aws.events.event";
/// `<aws.events.event.json>`.
pub const VAR_EVENT_JSON: &str = "aws.events.event.json";

const PREDEFINED: [&str; 5] = [
    VAR_RULE_ARN,
    VAR_RULE_NAME,
    VAR_INGESTION_TIME,
    VAR_EVENT,
    VAR_EVENT_JSON,
];

/// What the predefined variables need.
#[derive(Debug, Clone, Copy)]
pub struct TransformContext<'a> {
    pub rule_arn: &'a str,
    pub rule_name: &'a str,
    /// When EventBridge accepted the event, milliseconds since the epoch.
    pub ingestion_time_ms: i64,
}

/// Why a target's input could not be rendered or validated. `Display` gives the reason, worded
/// for a `ValidationException` message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransformError {
    message: String,
}

impl TransformError {
    fn new(message: impl Into<String>) -> Self {
        TransformError {
            message: message.into(),
        }
    }

    /// The reason, as `Display` writes it.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for TransformError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for TransformError {}

/// The payload a target receives for `event_json` (the full envelope as JSON text): the event
/// itself when the target sets none of Input/InputPath/InputTransformer; the constant `Input`;
/// the value at `InputPath` (empty when the path selects nothing); or the rendered
/// `InputTemplate`. See the `path` and `template` modules for the exact rules.
pub fn render_input(
    target: &TargetDef,
    event_json: &str,
    cx: &TransformContext<'_>,
) -> Result<String, TransformError> {
    if let Some(input) = &target.input {
        return Ok(input.clone());
    }
    if let Some(path) = &target.input_path {
        let path = parse_path(path)?;
        let root = parse_event(event_json)?;
        let mut out = String::new();
        match select(&root, &path) {
            Selected::Missing => {}
            Selected::One(node) => write_json(&mut out, node),
            Selected::Many(nodes) => write_json_array(&mut out, &nodes),
        }
        return Ok(out);
    }
    if let Some(transformer) = &target.input_transformer {
        return template::render_template(transformer, event_json, cx);
    }
    Ok(event_json.to_owned())
}

#[cfg(test)]
mod tests;
