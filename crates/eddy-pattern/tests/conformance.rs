//! Runs every undisputed case of `tests/data/pattern-cases.jsonl` (recorded from aws/event-ruler
//! and timbray/quamina; see `tests/data/README.md`) and requires agreement on all of them.

use eddy_pattern::json::{self, Json};
use eddy_pattern::{MatcherBuilder, Pattern};

#[test]
fn conformance_cases() {
    let text = include_str!("data/pattern-cases.jsonl");
    let mut failures = Vec::new();
    let mut ran = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let case = json::parse(line).expect("case line is JSON");
        let id = match case.get("id") {
            Some(Json::String(s)) => s.clone(),
            _ => panic!("case without id: {line}"),
        };
        if case.get("disputed") == Some(&Json::Bool(true)) {
            continue;
        }
        ran += 1;
        let pattern = case.get("pattern").expect("pattern").to_json_string();
        let parsed = Pattern::parse(&pattern);
        if case.get("invalid") == Some(&Json::Bool(true)) {
            if parsed.is_ok() {
                failures.push(format!("{id}: accepted invalid pattern {pattern}"));
            }
            continue;
        }
        let want = case.get("match") == Some(&Json::Bool(true));
        let event = case.get("event").expect("event").to_json_string();
        let p = match parsed {
            Ok(p) => p,
            Err(e) => {
                failures.push(format!("{id}: rejected valid pattern {pattern}: {e}"));
                continue;
            }
        };
        match p.matches(&event) {
            Ok(got) if got == want => {}
            Ok(got) => failures.push(format!("{id}: got {got}, want {want}: {pattern} / {event}")),
            Err(e) => failures.push(format!("{id}: event error {e}")),
        }
        // The multi-rule matcher must agree, with the rule among unrelated ones.
        let mut b = MatcherBuilder::new();
        b.add(7, &p);
        b.add(8, &Pattern::parse(r#"{"zzz-unrelated": ["q"]}"#).unwrap());
        let m = b.build();
        let mut out = Vec::new();
        m.matches(event.as_bytes(), &mut out).unwrap();
        if out.contains(&7) != want {
            failures.push(format!("{id}: Matcher disagrees (want {want})"));
        }
    }
    assert!(ran > 270, "only {ran} cases ran");
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
