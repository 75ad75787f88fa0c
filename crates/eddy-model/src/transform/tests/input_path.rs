//! `InputPath` rendering and `check_path`.

use super::*;

// --- InputPath ---------------------------------------------------------------------------

#[test]
fn input_path_selects_objects_minified_in_order() {
    let event = r#"{"detail": { "z": 1, "a": {"k" : [1, 2.50, "x"]}, "m": null }}"#;
    assert_eq!(
        with_path("$.detail", event).unwrap(),
        r#"{"z":1,"a":{"k":[1,2.50,"x"]},"m":null}"#
    );
    assert_eq!(
        with_path("$.detail", EC2_EVENT).unwrap(),
        r#"{"instance-id":"i-0123456789","state":"RUNNING"}"#
    );
}

#[test]
fn input_path_to_a_string_keeps_its_quotes() {
    // AWS-recorded (LocalStack snapshot): `$.detail.payload.sf_id` delivers `"baz"`.
    assert_eq!(
        with_path("$.detail.state", EC2_EVENT).unwrap(),
        "\"RUNNING\""
    );
    assert_eq!(
        with_path("$.detail-type", EC2_EVENT).unwrap(),
        "\"EC2 Instance State-change Notification\""
    );
    let event = r#"{"detail":{"n":-1.5e3,"b":false,"s":"a\"b\u00e9"}}"#;
    assert_eq!(with_path("$.detail.n", event).unwrap(), "-1.5e3");
    assert_eq!(with_path("$.detail.b", event).unwrap(), "false");
    assert_eq!(with_path("$.detail.s", event).unwrap(), r#""a\"b\u00e9""#);
}

#[test]
fn input_path_root_and_missing() {
    assert_eq!(with_path("$", EC2_EVENT).unwrap(), EC2_EVENT);
    assert_eq!(with_path("$.detail.nothing", EC2_EVENT).unwrap(), "");
    assert_eq!(with_path("$.resources[5]", EC2_EVENT).unwrap(), "");
    assert_eq!(with_path("$.detail.state.deeper", EC2_EVENT).unwrap(), "");
    assert_eq!(with_path("$.detail[0]", EC2_EVENT).unwrap(), "");
}

#[test]
fn input_path_arrays_indices_and_wildcards() {
    let event = r#"{"detail":{"items":[{"id":1,"tags":["a","b"]},{"id":2},{"name":"x"}],"o":{"p":1,"q":"two"}}}"#;
    assert_eq!(with_path("$.detail.items[0].id", event).unwrap(), "1");
    assert_eq!(
        with_path("$.detail.items[-1].name", event).unwrap(),
        "\"x\""
    );
    assert_eq!(
        with_path("$.detail.items[0].tags[1]", event).unwrap(),
        "\"b\""
    );
    assert_eq!(with_path("$.detail.items[*].id", event).unwrap(), "[1,2]");
    assert_eq!(with_path("$.detail.items.*.id", event).unwrap(), "[1,2]");
    assert_eq!(with_path("$.detail.o.*", event).unwrap(), r#"[1,"two"]"#);
    assert_eq!(
        with_path("$.detail.items[*].tags[*]", event).unwrap(),
        r#"["a","b"]"#
    );
    assert_eq!(with_path("$.detail.nothing[*]", event).unwrap(), "[]");
    assert_eq!(
        with_path("$.resources[*]", EC2_EVENT).unwrap(),
        r#"["arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111"]"#
    );
}

#[test]
fn input_path_bracket_notation_dashes_underscores_slashes() {
    let event = r#"{"detail":{"a.b":1,"with space":2,"it's":3,"x-y_z":{"/p/q":4},"k":{"0":5}}}"#;
    assert_eq!(with_path("$['detail']['a.b']", event).unwrap(), "1");
    assert_eq!(
        with_path("$[\"detail\"][\"with space\"]", event).unwrap(),
        "2"
    );
    assert_eq!(with_path(r"$.detail['it\'s']", event).unwrap(), "3");
    assert_eq!(with_path("$.detail.x-y_z./p/q", event).unwrap(), "4");
    assert_eq!(with_path("$.detail.k.0", event).unwrap(), "5");
    assert_eq!(
        with_path("$['detail']['instance-id']", EC2_EVENT).unwrap(),
        "\"i-0123456789\""
    );
}

#[test]
fn duplicate_keys_resolve_to_the_last() {
    assert_eq!(with_path("$.a", r#"{"a":1,"a":2}"#).unwrap(), "2");
}

#[test]
fn input_path_errors() {
    assert!(with_path("$.detail", "not json").is_err());
    assert!(with_path("$..detail", EC2_EVENT).is_err());
    let e = with_path("detail", EC2_EVENT).unwrap_err();
    assert!(e.to_string().contains("must start with $"), "{e}");
}

// --- check_path ----------------------------------------------------------------------------

#[test]
fn check_path_accepts_the_documented_subset() {
    for ok in [
        "$",
        "$.detail",
        "$.detail-type",
        "$.detail.instance-id",
        "$.detail.snake_case.CamelCase9",
        "$.resources[0]",
        "$.resources[-1]",
        "$.detail.items[*].id",
        "$.detail.*",
        "$['detail']['a b']",
        "$[\"detail\"]",
        "$.detail.path/with/slashes",
        "$.detail.k:v@x",
        " $.detail ",
    ] {
        assert_eq!(check_path(ok), Ok(()), "{ok}");
    }
}

#[test]
fn check_path_rejects_the_rest() {
    for (bad, why) in [
        ("", "must start with $"),
        ("detail", "must start with $"),
        ("$.", "a name must follow"),
        ("$..a", "deep scan"),
        ("$.a[?(@.b)]", "filter"),
        ("$.a[0:2]", "slices"),
        ("$.a[0,1]", "unions"),
        ("$.a[", "expected an index"),
        ("$.a[0", "expected ']'"),
        ("$['a", "unterminated"),
        ("$.a b", "not allowed"),
        ("$.a]", "not allowed"),
        ("$a", "unexpected character"),
        ("$.a[x]", "expected an index"),
        ("$.a[1-]", "invalid array index"),
        ("$.[0]", "cannot follow"),
    ] {
        let e = check_path(bad).expect_err(bad);
        assert!(e.to_string().contains(why), "{bad}: {e}");
    }
    let long = format!("$.{}", "a".repeat(MAX_PATH_LEN));
    assert!(
        check_path(&long)
            .unwrap_err()
            .to_string()
            .contains("longer than 256")
    );
    assert_eq!(
        check_path(&format!("$.{}", "a".repeat(MAX_PATH_LEN - 2))),
        Ok(())
    );
}
