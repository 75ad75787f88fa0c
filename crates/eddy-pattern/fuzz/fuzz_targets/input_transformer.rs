//! Fuzzes EventBridge target input options: `InputPath` and `InputTransformer` paths and
//! templates, checked as PutTargets checks them and rendered against an event (the fuzzer's
//! or a fixed one). Input: `TEMPLATE\x01EVENT\x01KEY\x01PATH\x01KEY\x01PATH...`.
#![no_main]
use std::collections::BTreeMap;

use eddy_model::definitions::{InputTransformer, TargetDef};
use eddy_model::transform::{TransformContext, check_path, check_target, render_input};
use libfuzzer_sys::fuzz_target;

const EVENT: &str = r#"{"version":"0","id":"1","detail-type":"t","source":"s","account":"123456789012","time":"2027-01-01T00:00:00Z","region":"us-east-1","resources":["a"],"detail":{"a":[1,{"b":"x"}],"n":1.5e3,"s":"q\"uote"}}"#;

fn target(id: &str) -> TargetDef {
    TargetDef {
        id: id.to_owned(),
        arn: "arn:aws:sqs:us-east-1:123456789012:q".to_owned(),
        role_arn: None,
        input: None,
        input_path: None,
        input_transformer: None,
        retry_policy: None,
        dead_letter_config: None,
        other: BTreeMap::new(),
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut parts = text.split('\u{1}');
    let template = parts.next().unwrap_or_default();
    let event = parts.next().filter(|e| !e.is_empty()).unwrap_or(EVENT);
    let mut paths = BTreeMap::new();
    while let (Some(k), Some(v)) = (parts.next(), parts.next()) {
        paths.insert(k.to_owned(), v.to_owned());
    }
    let cx = TransformContext {
        rule_arn: "arn:aws:events:us-east-1:123456789012:rule/r",
        rule_name: "r",
        ingestion_time_ms: 1_798_761_600_000,
    };
    // The template's text as an `InputPath`.
    let _ = check_path(template);
    let mut by_path = target("p");
    by_path.input_path = Some(template.to_owned());
    let _ = check_target(&by_path);
    let _ = render_input(&by_path, event, &cx);
    // As an `InputTransformer`: rendered whether or not PutTargets would have taken it (a
    // stored target predates a check that became stricter).
    let mut transformed = target("t");
    transformed.input_transformer = Some(InputTransformer {
        input_paths_map: (!paths.is_empty()).then_some(paths),
        input_template: template.to_owned(),
    });
    let _ = check_target(&transformed);
    let _ = render_input(&transformed, event, &cx);
});
