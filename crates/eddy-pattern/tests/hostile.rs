//! Hostile input: JSON nested past the limits, lone surrogate escapes, and events that make the
//! array-consistency search give up. Each has one clear answer, never a panic.

use eddy_pattern::json::{self, LONE_SURROGATE, TOO_DEEP, TopLevel};
use eddy_pattern::{MatcherBuilder, Pattern};
use proptest::prelude::*;

fn nested(depth: usize) -> String {
    format!("{}{}", "[".repeat(depth), "]".repeat(depth))
}

fn nested_objects(depth: usize) -> String {
    format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth))
}

// ---------------------------------------------------------------- json::validate

#[test]
fn validate_counts_depth_from_the_outermost_container() {
    assert_eq!(json::validate("1", 0), Ok(TopLevel::Scalar));
    assert_eq!(json::validate(" \"x\" ", 0), Ok(TopLevel::Scalar));
    assert_eq!(json::validate("{}", 1), Ok(TopLevel::Object));
    assert_eq!(json::validate("[]", 1), Ok(TopLevel::Array));
    assert_eq!(json::validate("{}", 0).map_err(|e| e.reason), Err(TOO_DEEP));
    for limit in [1, 2, 10, 100, 127] {
        assert!(json::validate(&nested(limit), limit).is_ok(), "{limit}");
        assert!(
            json::validate(&nested_objects(limit), limit).is_ok(),
            "{limit}"
        );
        let e = json::validate(&nested(limit + 1), limit).unwrap_err();
        assert_eq!(e.reason, TOO_DEEP);
        assert_eq!(
            e.offset, limit,
            "the error points at the container too many"
        );
        let e = json::validate(&nested_objects(limit + 1), limit).unwrap_err();
        assert_eq!(e.reason, TOO_DEEP);
    }
}

#[test]
fn validate_survives_nesting_far_past_any_stack() {
    let deep = nested(1_000_000);
    assert_eq!(json::validate(&deep, 100).unwrap_err().reason, TOO_DEEP);
    assert_eq!(json::validate(&deep, usize::MAX), Ok(TopLevel::Array));
    let unclosed = "[".repeat(1_000_000);
    assert!(json::validate(&unclosed, usize::MAX).is_err());
}

#[test]
fn validate_refuses_lone_surrogates_and_keeps_pairs() {
    for ok in [
        r#""\ud83d\ude00""#,
        r#""\uD83D\uDE00""#,
        r#""\ufffd""#,
        r#""\ud7ff\ue000""#,
        r#"{"\ud83d\ude00":1}"#,
    ] {
        assert!(json::validate(ok, 10).is_ok(), "{ok}");
        assert!(json::parse(ok).is_ok(), "{ok}");
    }
    for lone in [
        r#""\ud800""#,
        r#""\udbff""#,
        r#""\udc00""#,
        r#""\udfff x""#,
        r#""\ud800\u0041""#,
        r#""\ud800\ud800""#,
        r#""\ud800\n""#,
        r#""a\udc00\ud800""#,
        r#"{"\ud800":1}"#,
        r#"{"a":["x","\ude00"]}"#,
    ] {
        assert_eq!(
            json::validate(lone, 10).map_err(|e| e.reason),
            Err(LONE_SURROGATE),
            "{lone}"
        );
        assert_eq!(
            json::parse(lone).map_err(|e| e.reason),
            Err(LONE_SURROGATE),
            "{lone}"
        );
        assert!(serde_json::from_str::<serde_json::Value>(lone).is_err());
    }
}

#[test]
fn validate_refuses_what_is_not_json() {
    for bad in [
        "",
        " ",
        "{",
        "}",
        "[1,]",
        "{\"a\":1,}",
        "{\"a\" 1}",
        "{1:1}",
        "[1 2]",
        "01",
        "1.",
        "-",
        "tru",
        "nul",
        "\"a",
        "\"\u{1}\"",
        "\"\\x\"",
        "\"\\u12\"",
        "{} {}",
        "[]]",
        "{\"a\":1]",
        "[1}",
    ] {
        assert!(json::validate(bad, 10).is_err(), "{bad:?}");
        assert!(
            serde_json::from_str::<serde_json::Value>(bad).is_err(),
            "{bad:?}"
        );
    }
}

/// Text built from JSON's structural pieces, mostly near-valid.
fn jsonish() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "{",
        "}",
        "[",
        "]",
        ",",
        ":",
        "\"",
        "\"k\"",
        "\"v\"",
        "1",
        "-2.5",
        "0",
        "true",
        "null",
        " ",
        "\\",
        "\\n",
        "\\u0041",
        "\\ud83d",
        "\\ude00",
        "\\ud800",
        "\"\\ud83d\\ude00\"",
        "\u{1}",
        "é",
        "{\"a\":",
        "[[",
        "]]",
    ]);
    prop::collection::vec(pieces, 0..40).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4000, ..ProptestConfig::default() })]

    /// serde_json's DOM parser allows 127 levels: `validate` with that limit agrees with it on
    /// every text (neither accepts lone surrogates; numbers here never overflow).
    #[test]
    fn validate_agrees_with_serde_json(text in jsonish()) {
        let ours = json::validate(&text, 127);
        let theirs = serde_json::from_str::<serde_json::Value>(&text);
        prop_assert_eq!(ours.is_ok(), theirs.is_ok(), "{:?}: {:?} vs {:?}", text, ours, theirs);
        // The tree parser accepts the same texts (its own depth limit is higher).
        prop_assert_eq!(json::parse(&text).is_ok(), ours.is_ok(), "{:?}", text);
    }

    #[test]
    fn validate_agrees_with_serde_json_on_valid_json(depth in 0usize..140, wrap in any::<bool>()) {
        let text = if wrap { nested_objects(depth) } else { nested(depth) };
        let ours = json::validate(&text, 127).is_ok();
        let theirs = serde_json::from_str::<serde_json::Value>(&text).is_ok();
        prop_assert_eq!(ours, theirs, "depth {}", depth);
    }
}

// ---------------------------------------------------------------- patterns

#[test]
fn a_pattern_with_a_lone_surrogate_is_refused_not_decoded() {
    let e = Pattern::parse(r#"{"source":["\ud800"]}"#).unwrap_err();
    assert_eq!(
        e.to_string(),
        "Event pattern is not valid. Reason: Invalid JSON: a \\u escape names a lone UTF-16 \
         surrogate"
    );
    // Before, the escape was decoded to U+FFFD and matched an event that carried one.
    let p = Pattern::parse(r#"{"source":["\ud83d\ude00"]}"#).unwrap();
    assert!(p.matches(r#"{"source":"😀"}"#).unwrap());
}

#[test]
fn a_pattern_nested_too_deeply_is_refused() {
    let src = format!("{}[1]{}", "{\"a\":".repeat(300), "}".repeat(300));
    let e = Pattern::parse_with(
        &src,
        &eddy_pattern::Limits {
            max_pattern_len: 10_000,
            ..Default::default()
        },
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "Event pattern is not valid. Reason: Invalid JSON: nested too deeply"
    );
}

#[test]
fn an_event_too_deep_for_the_scanner_is_an_error_not_a_panic() {
    let p = Pattern::parse(r#"{"a":[1]}"#).unwrap();
    let mut b = MatcherBuilder::new();
    b.add(7, &p);
    let m = b.build();
    let event = format!("{{\"a\":{}}}", nested(100_000));
    assert!(m.matches(event.as_bytes(), &mut Vec::new()).is_err());
    // Skipped subtrees are not followed, so their depth does not matter.
    let event = format!("{{\"b\":{},\"a\":1}}", nested(100_000));
    let mut out = Vec::new();
    m.matches(event.as_bytes(), &mut out).unwrap();
    assert_eq!(out, vec![7]);
}

// ---------------------------------------------------------------- the search budget

// The pattern and events that exhaust the search budget, shared with eddy-server's test.
#[path = "support/budget.rs"]
mod budget;
use budget::{BUDGET_PATTERN, budget_event};

#[test]
fn a_search_within_its_budget_decides_exactly() {
    let p = Pattern::parse(BUDGET_PATTERN).unwrap();
    let mut b = MatcherBuilder::new();
    b.add(3, &p);
    let m = b.build();
    // 8 elements: 8 * 8³ choices, well within the budget; the last element of `a` matches.
    let (mut out, mut gave_up) = (Vec::new(), Vec::new());
    m.matches_reporting(budget_event(8).as_bytes(), &mut out, &mut gave_up)
        .unwrap();
    assert_eq!(out, vec![3]);
    assert!(gave_up.is_empty());
    assert!(p.matches(&budget_event(8)).unwrap());
}

#[test]
fn a_search_that_runs_out_of_budget_is_reported_and_decided_as_no_match() {
    let p = Pattern::parse(BUDGET_PATTERN).unwrap();
    let other = Pattern::parse(r#"{"b":[1]}"#).unwrap();
    let mut b = MatcherBuilder::new();
    b.add(3, &p);
    b.add(4, &other);
    let m = b.build();
    // 40 elements: 40 * 40³ ≈ 2.6 million choices before the matching one, past the budget of
    // one million steps. A full search would match (the last element of `a` has no `z`); the
    // matcher gives up and decides "no match", and says so.
    let event = budget_event(40);
    let (mut out, mut gave_up) = (Vec::new(), Vec::new());
    m.matches_reporting(event.as_bytes(), &mut out, &mut gave_up)
        .unwrap();
    assert_eq!(out, vec![4]);
    assert_eq!(gave_up, vec![3]);
    // `matches` decides the same without the report, and so does a one-pattern check.
    let mut out = Vec::new();
    m.matches(event.as_bytes(), &mut out).unwrap();
    assert_eq!(out, vec![4]);
    assert!(!p.matches(&event).unwrap());
    // The report is per call: an event that needs no search reports nothing.
    let (mut out, mut gave_up) = (Vec::new(), Vec::new());
    m.matches_reporting(budget_event(8).as_bytes(), &mut out, &mut gave_up)
        .unwrap();
    out.sort_unstable();
    assert_eq!(out, vec![3, 4]);
    assert!(gave_up.is_empty());
}

#[test]
fn a_rule_that_matches_through_another_branch_is_not_reported() {
    // The `$or`'s second branch matches without any search, so giving up on the first branch
    // costs this rule nothing.
    let src =
        r#"{"$or":[{"a":{"x":[1],"z":[{"exists":false}]},"b":[1],"c":[1],"d":[1]},{"b":[1]}]}"#;
    let p = Pattern::parse(src).unwrap();
    let mut b = MatcherBuilder::new();
    b.add(9, &p);
    let m = b.build();
    let (mut out, mut gave_up) = (Vec::new(), Vec::new());
    m.matches_reporting(budget_event(40).as_bytes(), &mut out, &mut gave_up)
        .unwrap();
    assert_eq!(out, vec![9]);
    assert!(gave_up.is_empty(), "{gave_up:?}");
}
