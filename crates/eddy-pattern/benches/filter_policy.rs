//! Benchmarks for SNS filter policies: one 5-key policy (exact strings, `String.Array`,
//! `numeric`, `prefix`, `anything-but`) against a message's attributes, matching and not
//! matching, and the same policy in the body scope against a JSON body.
//!
//! ```text
//! cargo bench -p eddy-pattern --bench filter_policy
//! ```

use std::collections::HashMap;

use eddy_pattern::filter_policy::{DataType, FilterPolicy, Scope};

fn main() {
    divan::main();
}

const POLICY: &str = r#"{"store":["example_corp","other_corp"],"event":[{"anything-but":"order_cancelled"}],"customer_interests":["rugby","football","baseball"],"price_usd":[{"numeric":[">=",100,"<",1000]}],"region":[{"prefix":"eu-"}]}"#;

fn attrs(price: &str) -> HashMap<String, (DataType, String)> {
    [
        (
            "customer_interests",
            DataType::StringArray,
            r#"["soccer", "rugby", "hockey"]"#,
        ),
        ("store", DataType::String, "example_corp"),
        ("event", DataType::String, "order_placed"),
        ("price_usd", DataType::Number, price),
        ("region", DataType::String, "eu-west-1"),
        ("trace", DataType::String, "abc123"),
    ]
    .into_iter()
    .map(|(k, t, v)| (k.to_owned(), (t, v.to_owned())))
    .collect()
}

#[divan::bench]
fn parse_policy() -> bool {
    FilterPolicy::parse(divan::black_box(POLICY), Scope::MessageAttributes).is_ok()
}

#[divan::bench]
fn attributes_5_keys_match(bencher: divan::Bencher) {
    let p = FilterPolicy::parse(POLICY, Scope::MessageAttributes).expect("valid");
    let a = attrs("210.75");
    assert!(p.matches_attributes(&a));
    bencher.bench_local(|| p.matches_attributes(divan::black_box(&a)));
}

#[divan::bench]
fn attributes_5_keys_no_match(bencher: divan::Bencher) {
    let p = FilterPolicy::parse(POLICY, Scope::MessageAttributes).expect("valid");
    let a = attrs("21.75");
    assert!(!p.matches_attributes(&a));
    bencher.bench_local(|| p.matches_attributes(divan::black_box(&a)));
}

#[divan::bench]
fn attributes_5_keys_no_string_array(bencher: divan::Bencher) {
    let policy = POLICY.replace(
        r#""customer_interests":["rugby","football","baseball"]"#,
        r#""channel":["web","mobile","store"]"#,
    );
    let p = FilterPolicy::parse(&policy, Scope::MessageAttributes).expect("valid");
    let mut a = attrs("210.75");
    a.insert("channel".into(), (DataType::String, "mobile".into()));
    assert!(p.matches_attributes(&a));
    bencher.bench_local(|| p.matches_attributes(divan::black_box(&a)));
}

#[divan::bench]
fn body_5_keys_match(bencher: divan::Bencher) {
    let p = FilterPolicy::parse(POLICY, Scope::MessageBody).expect("valid");
    let body = r#"{"customer_interests":["soccer","rugby","hockey"],"store":"example_corp","event":"order_placed","price_usd":210.75,"region":"eu-west-1","trace":"abc123"}"#;
    assert!(p.matches_body(body));
    bencher.bench_local(|| p.matches_body(divan::black_box(body)));
}
