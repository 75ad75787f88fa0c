//! Unit tests of target input shaping, by concern: [`input_path`] (`InputPath` and
//! `check_path`), [`templates`] (`InputTransformer` rendering), [`checks`] (validation at
//! `PutTargets`); the shared fixtures, `Input`, and the JSON reader's agreement with serde_json
//! are here.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::tree::{MAX_DEPTH, parse_json};
use super::*;
use crate::definitions::InputTransformer;

mod checks;
mod input_path;
mod templates;

/// The user guide's example EC2 event, as eddy writes envelopes (compact).
const EC2_EVENT: &str = r#"{"version":"0","id":"7bf73129-1428-4cd3-a780-95db273d1602","detail-type":"EC2 Instance State-change Notification","source":"aws.ec2","account":"123456789012","time":"2015-11-11T21:29:54Z","region":"us-east-1","resources":["arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111"],"detail":{"instance-id":"i-0123456789","state":"RUNNING"}}"#;

const RULE_ARN: &str = "arn:aws:events:us-east-2:123456789012:rule/example";

fn cx() -> TransformContext<'static> {
    TransformContext {
        rule_arn: RULE_ARN,
        rule_name: "example",
        // 2015-11-11T21:29:55.250Z
        ingestion_time_ms: 1_447_277_395_250,
    }
}

fn target() -> TargetDef {
    TargetDef {
        id: "t1".into(),
        arn: "arn:aws:sqs:us-east-1:123456789012:q".into(),
        role_arn: None,
        input: None,
        input_path: None,
        input_transformer: None,
        retry_policy: None,
        dead_letter_config: None,
        other: BTreeMap::new(),
    }
}

fn transformer(paths: &[(&str, &str)], template: &str) -> InputTransformer {
    InputTransformer {
        input_paths_map: Some(
            paths
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        ),
        input_template: template.to_owned(),
    }
}

/// The user guide's input paths: timestamp, instance, state (and resource, from the newer
/// revision of the page).
fn guide_paths() -> Vec<(&'static str, &'static str)> {
    vec![
        ("timestamp", "$.time"),
        ("instance", "$.detail.instance-id"),
        ("state", "$.detail.state"),
        ("resource", "$.resources[0]"),
    ]
}

fn render_with(paths: &[(&str, &str)], template: &str, event: &str) -> String {
    let mut t = target();
    t.input_transformer = Some(transformer(paths, template));
    render_input(&t, event, &cx()).unwrap()
}

fn render(template: &str) -> String {
    render_with(&guide_paths(), template, EC2_EVENT)
}

fn with_path(path: &str, event: &str) -> Result<String, TransformError> {
    let mut t = target();
    t.input_path = Some(path.to_owned());
    render_input(&t, event, &cx())
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

// --- no shaping, Input ---------------------------------------------------------------

#[test]
fn without_shaping_the_event_is_delivered_verbatim() {
    let odd = "{ \"a\" : 1 }";
    assert_eq!(render_input(&target(), odd, &cx()).unwrap(), odd);
    assert_eq!(
        render_input(&target(), EC2_EVENT, &cx()).unwrap(),
        EC2_EVENT
    );
}

#[test]
fn constant_input_is_delivered_verbatim() {
    let mut t = target();
    t.input = Some("{ \"constant\" : [1, 2] }".into());
    assert_eq!(
        render_input(&t, EC2_EVENT, &cx()).unwrap(),
        "{ \"constant\" : [1, 2] }"
    );
    // Input wins even over garbage events: the event is not read.
    assert_eq!(
        render_input(&t, "not json", &cx()).unwrap(),
        "{ \"constant\" : [1, 2] }"
    );
}

// --- the JSON reader -------------------------------------------------------------------------

#[test]
fn reader_agrees_with_serde_json_on_validity() {
    for text in [
        "null",
        "true",
        "false",
        "0",
        "-0",
        "1.5",
        "1e5",
        "1E+5",
        "-1.25e-3",
        "\"\"",
        "\"\\u00e9\\n\"",
        "[]",
        "{}",
        " [1, {\"a\": [true]}] ",
        "{\"a\":1,\"a\":2}",
    ] {
        assert!(parse_json(text).is_ok(), "{text}");
        assert!(serde_json::from_str::<Value>(text).is_ok(), "{text}");
    }
    for text in [
        "",
        " ",
        "01",
        "1.",
        ".5",
        "+1",
        "1e",
        "-",
        "tru",
        "nul",
        "\"a",
        "\"\\x\"",
        "\"\\u12\"",
        "\"\u{1}\"",
        "[1,]",
        "{\"a\":1,}",
        "{a:1}",
        "[1 2]",
        "{\"a\" 1}",
        "1 2",
        "[",
        "{",
        "'a'",
    ] {
        assert!(parse_json(text).is_err(), "{text:?}");
        assert!(serde_json::from_str::<Value>(text).is_err(), "{text:?}");
    }
}
