//! Property tests for `eddy_model::transform`: rendering never panics, JSON templates always
//! render valid JSON with the variables' values where they were placed, and InputPath selects
//! the value at the path.

use std::collections::BTreeMap;

use eddy_model::definitions::{InputTransformer, TargetDef};
use eddy_model::transform::{
    TransformContext, check_path, check_target, check_transformer, render_input,
};
use proptest::prelude::*;
use serde_json::{Value, json};

fn cx() -> TransformContext<'static> {
    TransformContext {
        rule_arn: "arn:aws:events:us-east-1:123456789012:rule/r\"q",
        rule_name: "r\"q",
        ingestion_time_ms: 1_700_000_000_123,
    }
}

fn target_with(input_path: Option<String>, transformer: Option<InputTransformer>) -> TargetDef {
    TargetDef {
        id: "t".into(),
        arn: "arn:aws:sqs:us-east-1:123456789012:q".into(),
        role_arn: None,
        input: None,
        input_path,
        input_transformer: transformer,
        retry_policy: None,
        dead_letter_config: None,
        other: BTreeMap::new(),
    }
}

/// Any JSON value, with strings full of quotes, backslashes, control characters and
/// non-ASCII text.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        // Binary fractions: serde_json (without `float_roundtrip`) reads them back exactly.
        (-1_000_000i32..1_000_000).prop_map(|n| json!(f64::from(n) / 8.0)),
        any::<String>().prop_map(Value::String),
        "[\"\\\\<>{}\\[\\]:, \n\ta-z]{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z\"\\\\ .-]{0,6}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn envelope(detail: &Value) -> String {
    json!({
        "version": "0",
        "id": "id-1",
        "detail-type": "t\"ype",
        "source": "s",
        "account": "123456789012",
        "time": "2024-01-01T00:00:00Z",
        "region": "us-east-1",
        "resources": ["a", "b"],
        "detail": detail,
    })
    .to_string()
}

/// Template-ish text: the characters that matter to templates and paths, plus anything.
fn templateish() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "([\"\\\\{}\\[\\]:, <>$.*'a-c0-9]|<v[0-3]>|<aws\\.events\\.[a-z.-]{0,20}>|\\$\\.detail){0,40}",
    ]
}

fn pathish() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "\\$([.][a-z*\"'-]{0,4}|\\[[0-9*'\"a-z:,?-]{0,5}\\]|[.]{2}){0,5}",
    ]
}

/// What a placeholder stands in, in a generated JSON template.
#[derive(Debug, Clone)]
enum Slot {
    /// `<vN>` bare.
    Bare(usize),
    /// `"pre<vN>post"`.
    InString(usize, String, String),
    /// A predefined variable, bare.
    Predefined(&'static str),
}

fn slot() -> impl Strategy<Value = Slot> {
    // Text around an in-string placeholder: anything but `<` (so it adds no placeholder).
    let text = "[^<]{0,8}";
    prop_oneof![
        (0usize..4).prop_map(Slot::Bare),
        (0usize..4, text, text).prop_map(|(i, a, b)| Slot::InString(i, a, b)),
        prop_oneof![
            Just("aws.events.rule-arn"),
            Just("aws.events.rule-name"),
            Just("aws.events.event.ingestion-time"),
            Just("aws.events.event"),
            Just("aws.events.event.json"),
        ]
        .prop_map(Slot::Predefined),
    ]
}

/// A JSON string literal's inside for `s`.
fn escaped(s: &str) -> String {
    let quoted = Value::String(s.to_owned()).to_string();
    quoted[1..quoted.len() - 1].to_owned()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn rendering_and_checking_never_panic(
        template in templateish(),
        paths in prop::collection::btree_map("v[0-3]|aws\\.x|[a-z]{0,3}", pathish(), 0..5),
        input_path in pathish(),
        detail in any_json(),
        garbage in any::<String>(),
        use_garbage in any::<bool>(),
    ) {
        let event = if use_garbage { garbage } else { envelope(&detail) };
        let transformer = InputTransformer {
            input_paths_map: Some(paths),
            input_template: template,
        };
        let by_template = target_with(None, Some(transformer.clone()));
        let by_path = target_with(Some(input_path.clone()), None);
        let results = [
            render_input(&by_template, &event, &cx()).map(drop),
            render_input(&by_path, &event, &cx()).map(drop),
            check_transformer(&transformer),
            check_path(&input_path),
            check_target(&by_template),
            check_target(&by_path),
        ];
        for r in results {
            if let Err(e) = r {
                prop_assert!(!e.to_string().is_empty());
            }
        }
    }

    #[test]
    fn json_templates_render_valid_json_with_values_in_place(
        values in prop::collection::vec(any_json(), 4),
        strings in prop::collection::vec(any::<String>(), 4),
        use_strings in prop::collection::vec(any::<bool>(), 4),
        missing in prop::collection::vec(any::<bool>(), 4),
        slots in prop::collection::vec(slot(), 1..6),
        pretty in any::<bool>(),
    ) {
        // Variable vN reads detail.vN: a string (most interesting) or any JSON value, or a
        // path that is missing.
        let mut detail = serde_json::Map::new();
        let mut expected: Vec<Option<Value>> = Vec::new();
        let mut paths = BTreeMap::new();
        for i in 0..4 {
            let v = if use_strings[i] {
                Value::String(strings[i].clone())
            } else {
                values[i].clone()
            };
            detail.insert(format!("v{i}"), v.clone());
            if missing[i] {
                paths.insert(format!("v{i}"), format!("$.detail.absent{i}"));
                expected.push(None);
            } else {
                paths.insert(format!("v{i}"), format!("$.detail.v{i}"));
                expected.push(Some(v));
            }
        }
        let event_value = json!({"version": "0", "detail-type": "d", "detail": detail});
        let event = event_value.to_string();

        let sep = if pretty { ",\n  " } else { "," };
        let fields: Vec<String> = slots
            .iter()
            .enumerate()
            .map(|(k, s)| match s {
                Slot::Bare(i) => format!("\"f{k}\" : <v{i}>"),
                Slot::InString(i, a, b) => {
                    format!("\"f{k}\": \"{}<v{i}>{}\"", escaped(a), escaped(b))
                }
                Slot::Predefined(name) => format!("\"f{k}\": <{name}>"),
            })
            .collect();
        let template = format!("{{{}}}", fields.join(sep));
        let transformer = InputTransformer {
            input_paths_map: Some(paths),
            input_template: template.clone(),
        };
        prop_assert_eq!(check_transformer(&transformer), Ok(()));
        let out = render_input(&target_with(None, Some(transformer)), &event, &cx())
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let parsed: Value = serde_json::from_str(&out)
            .map_err(|e| TestCaseError::fail(format!("{e}: {template} -> {out}")))?;
        prop_assert!(!out.contains('\n'), "not minified: {}", out);

        for (k, s) in slots.iter().enumerate() {
            let got = &parsed[format!("f{k}")];
            match s {
                Slot::Bare(i) => match &expected[*i] {
                    Some(v) => prop_assert_eq!(got, v),
                    None => prop_assert_eq!(got, &json!("")),
                },
                Slot::InString(i, a, b) => {
                    let middle = match &expected[*i] {
                        None => String::new(),
                        Some(Value::String(s)) => s.clone(),
                        // Other kinds: checked for validity only (scalars as JSON text,
                        // compounds quote-stripped).
                        Some(_) => continue,
                    };
                    prop_assert_eq!(got, &Value::String(format!("{a}{middle}{b}")));
                }
                Slot::Predefined("aws.events.event.json") => prop_assert_eq!(got, &event_value),
                Slot::Predefined("aws.events.rule-name") => prop_assert_eq!(got, &json!("r\"q")),
                Slot::Predefined(_) => {}
            }
        }
    }

    #[test]
    fn input_path_selects_the_value(detail in any_json()) {
        let event = envelope(&detail);
        let out = render_input(&target_with(Some("$.detail".into()), None), &event, &cx())
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let got: Value = serde_json::from_str(&out)
            .map_err(|e| TestCaseError::fail(format!("{e}: {out}")))?;
        prop_assert_eq!(got, detail.clone());
        if let Value::Object(members) = &detail {
            for (key, value) in members {
                let quoted = key.replace('\\', "\\\\").replace('\'', "\\'");
                let path = format!("$.detail['{quoted}']");
                prop_assert_eq!(check_path(&path), Ok(()));
                let out = render_input(&target_with(Some(path), None), &event, &cx())
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                let got: Value = serde_json::from_str(&out)
                    .map_err(|e| TestCaseError::fail(format!("{e}: {out}")))?;
                prop_assert_eq!(&got, value);
            }
        }
    }
}
