//! Validation at `PutTargets`: `check_transformer` and `check_target`.

use super::*;

// --- check_transformer / check_target -----------------------------------------------------

#[test]
fn check_transformer_accepts_the_guide_examples() {
    let paths = guide_paths();
    for template in [
        r#""instance <instance> is in <state>""#,
        "{\"instance\": <instance>, \"state\": [9, <state>, true]}",
        "{\"ruleArn\": <aws.events.rule-arn>, \"e\": <aws.events.event>, \"j\": <aws.events.event.json>, \"t\": <aws.events.event.ingestion-time>, \"n\": <aws.events.rule-name>}",
        "{\"<instance>\": 1}",
        "a < b",
    ] {
        assert_eq!(
            check_transformer(&transformer(&paths, template)),
            Ok(()),
            "{template}"
        );
    }
    let none = InputTransformer {
        input_paths_map: None,
        input_template: "<aws.events.rule-name>".into(),
    };
    assert_eq!(check_transformer(&none), Ok(()));
}

#[test]
fn check_transformer_rejects_undefined_placeholders_with_aws_message() {
    let t = transformer(
        &[("detail-type", "$.detail-type")],
        "\"Event of <detail-type> type, with not defined key <notdefinedkey>\"",
    );
    assert_eq!(
        check_transformer(&t).unwrap_err().to_string(),
        "InputTemplate contains invalid placeholder notdefinedkey."
    );
    let mut target = target();
    target.id = "target-1".into();
    target.input_transformer = Some(t);
    assert_eq!(
        check_target(&target).unwrap_err().to_string(),
        "InputTemplate for target target-1 contains invalid placeholder notdefinedkey."
    );
    // A predefined-looking name that is not one of the five is undefined too.
    let t = transformer(&[], "<aws.events.rule>");
    assert!(
        check_transformer(&t)
            .unwrap_err()
            .to_string()
            .contains("aws.events.rule.")
    );
}

#[test]
fn check_transformer_rejects_bad_keys_and_paths() {
    let e = check_transformer(&transformer(&[("aws.mine", "$.a")], "x")).unwrap_err();
    assert!(e.to_string().contains("cannot start with \"aws.\""), "{e}");
    let e = check_transformer(&transformer(&[("AWS.mine", "$.a")], "x")).unwrap_err();
    assert!(e.to_string().contains("reserved"), "{e}");
    for bad in ["", "a.b", "a b", "é"] {
        let e = check_transformer(&transformer(&[(bad, "$.a")], "x")).unwrap_err();
        assert!(e.to_string().contains("[A-Za-z0-9_-]"), "{bad}: {e}");
    }
    let long = "k".repeat(MAX_VARIABLE_NAME_LEN + 1);
    assert!(check_transformer(&transformer(&[(&long, "$.a")], "x")).is_err());
    let e = check_transformer(&transformer(&[("k", "$..a")], "<k>")).unwrap_err();
    assert!(e.to_string().contains("value for key k is invalid"), "{e}");
}

#[test]
fn check_transformer_limits() {
    let keys: Vec<String> = (0..=MAX_VARIABLES).map(|i| format!("v{i}")).collect();
    let paths: Vec<(&str, &str)> = keys.iter().map(|k| (k.as_str(), "$.a")).collect();
    let e = check_transformer(&transformer(&paths, "x")).unwrap_err();
    assert!(e.to_string().contains("at most 100"), "{e}");
    assert_eq!(
        check_transformer(&transformer(&paths[..MAX_VARIABLES], "x")),
        Ok(())
    );
    assert!(check_transformer(&transformer(&[], "")).is_err());
    assert!(check_transformer(&transformer(&[], &"x".repeat(MAX_TEMPLATE_LEN + 1))).is_err());
    assert_eq!(
        check_transformer(&transformer(&[], &"é".repeat(MAX_TEMPLATE_LEN))),
        Ok(())
    );
}

#[test]
fn check_transformer_rejects_a_placeholder_as_an_object_key() {
    let paths = [("k", "$.a"), ("v", "$.b")];
    for template in ["{<k>: 1}", "{\"a\": 1, <k> : <v>}", "{\"a\": {<k>:2}}"] {
        let e = check_transformer(&transformer(&paths, template)).unwrap_err();
        assert!(
            e.to_string().contains("cannot be used as an object key"),
            "{template}: {e}"
        );
    }
    // Only object templates are concerned; a text template may say `<k>: <v>`.
    assert_eq!(check_transformer(&transformer(&paths, "<k>: <v>")), Ok(()));
    assert_eq!(
        check_transformer(&transformer(&paths, "{\"x\": [<k>, <v>]}")),
        Ok(())
    );
}

#[test]
fn check_target_options() {
    let mut t = target();
    assert_eq!(check_target(&t), Ok(()));
    t.input = Some("{\"a\":1}".into());
    assert_eq!(check_target(&t), Ok(()));
    t.input_path = Some("$.detail".into());
    assert_eq!(
        check_target(&t).unwrap_err().to_string(),
        "Only one of Input, InputPath, or InputTransformer must be provided for target t1."
    );
    t.input = None;
    assert_eq!(check_target(&t), Ok(()));
    t.input_transformer = Some(transformer(&[], "x"));
    assert!(check_target(&t).is_err());
    t.input_transformer = None;
    t.input_path = Some("$..x".into());
    let e = check_target(&t).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("InputPath for target t1 is invalid"),
        "{e}"
    );
    t.input_path = None;
    t.input = Some("not json".into());
    assert!(
        check_target(&t)
            .unwrap_err()
            .to_string()
            .contains("not valid JSON")
    );
    t.input = Some(r#"{"a":"\ud800"}"#.into());
    assert_eq!(
        check_target(&t).unwrap_err().to_string(),
        "Input for target t1 is not valid JSON text."
    );
    t.input = Some(r#"{"a":"\ud83d\ude00"}"#.into());
    assert_eq!(check_target(&t), Ok(()));
}
