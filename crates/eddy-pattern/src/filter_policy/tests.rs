use std::collections::HashMap;

use proptest::prelude::*;

use super::*;
use crate::Pattern;

use DataType::{Binary, Number, StringArray};
const STR: DataType = DataType::String;

fn attrs(pairs: &[(&str, DataType, &str)]) -> HashMap<String, (DataType, String)> {
    pairs
        .iter()
        .map(|(k, t, v)| (k.to_string(), (*t, v.to_string())))
        .collect()
}

fn pol(src: &str) -> FilterPolicy {
    FilterPolicy::parse(src, Scope::MessageAttributes).expect("valid attribute policy")
}

fn body_pol(src: &str) -> FilterPolicy {
    FilterPolicy::parse(src, Scope::MessageBody).expect("valid body policy")
}

fn refusal(src: &str, scope: Scope) -> String {
    FilterPolicy::parse(src, scope)
        .expect_err("policy should be refused")
        .message()
}

fn refused(src: &str) -> String {
    refusal(src, Scope::MessageAttributes)
}

/// The message attributes of the SNS developer guide's example message.
fn guide_attrs() -> HashMap<String, (DataType, String)> {
    attrs(&[
        (
            "customer_interests",
            StringArray,
            r#"["soccer", "rugby", "hockey"]"#,
        ),
        ("store", STR, "example_corp"),
        ("event", STR, "order_placed"),
        ("price_usd", Number, "210.75"),
    ])
}

/// The same message as a body (payload-based filtering).
const GUIDE_BODY: &str = r#"{"customer_interests":["soccer","rugby","hockey"],"store":"example_corp","event":"order_placed","price_usd":210.75}"#;

// ---- conformance vectors: the SNS developer guide's examples ----

#[test]
fn guide_examples_attribute_and_body_scope() {
    let cases: &[(&str, bool)] = &[
        (
            r#"{"store":["example_corp"],"event":[{"anything-but":"order_cancelled"}],"customer_interests":["rugby","football","baseball"],"price_usd":[{"numeric":[">=",100]}]}"#,
            true,
        ),
        (r#"{"customer_interests":["rugby"]}"#, true),
        (r#"{"customer_interests":["basketball"]}"#, false),
        (r#"{"customer_interests":[{"prefix":"bas"}]}"#, false),
        (r#"{"customer_interests":[{"prefix":"hoc"}]}"#, true),
        (r#"{"store":[{"suffix":"_corp"}]}"#, true),
        (r#"{"store":[{"equals-ignore-case":"EXAMPLE_CORP"}]}"#, true),
        (
            r#"{"event":[{"anything-but":["order_cancelled","order_placed"]}]}"#,
            false,
        ),
        (r#"{"event":[{"anything-but":{"prefix":"order-"}}]}"#, true),
        (r#"{"event":[{"anything-but":{"prefix":"order_"}}]}"#, false),
        (r#"{"price_usd":[{"numeric":[">",0,"<=",150]}]}"#, false),
        (r#"{"price_usd":[{"numeric":["=",210.75]}]}"#, true),
        (r#"{"price_usd":[210.75]}"#, true),
        (r#"{"price_usd":[{"anything-but":[100,210.75]}]}"#, false),
        (r#"{"store":[{"exists":true}]}"#, true),
        (r#"{"store":[{"exists":false}]}"#, false),
        (r#"{"encrypted":[{"exists":false}]}"#, true),
        (r#"{"encrypted":[{"exists":true}]}"#, false),
        (
            r#"{"store":["other"],"$or":[{"event":["order_placed"]},{"price_usd":[1]}]}"#,
            false,
        ),
        (
            r#"{"store":["example_corp"],"$or":[{"event":["nope"]},{"price_usd":[{"numeric":[">",200]}]}]}"#,
            true,
        ),
    ];
    let a = guide_attrs();
    for (src, want) in cases {
        assert_eq!(pol(src).matches_attributes(&a), *want, "attributes: {src}");
        assert_eq!(body_pol(src).matches_body(GUIDE_BODY), *want, "body: {src}");
    }
}

#[test]
fn guide_complexity_examples() {
    // 3 x 1 x 2 = 6: accepted.
    pol(
        r#"{"key_a":["value_one","value_two","value_three"],"key_b":["value_one"],"key_c":["value_one","value_two"]}"#,
    );
    // Body scope: 3 x 4 (three levels) x 2 x 3 (two levels) = 72: accepted.
    body_pol(
        r#"{"key_a":{"key_b":{"key_c":["v1","v2","v3","v4"]}},"key_d":{"key_e":["v1","v2","v3"]}}"#,
    );
    // ... and x 1 x 3 more = 216: refused.
    assert_eq!(
        refusal(
            r#"{"key_a":{"key_b":{"key_c":["v1","v2","v3","v4"]}},"key_d":{"key_e":["v1","v2","v3"]},"key_f":["v1","v2","v3"]}"#,
            Scope::MessageBody
        ),
        "Invalid parameter: FilterPolicy: Filter policy is too complex"
    );
}

// ---- limits ----

#[test]
fn five_keys_accepted_six_refused() {
    pol(r#"{"a":["1"],"b":["1"],"c":["1"],"d":["1"],"e":["1"]}"#);
    assert_eq!(
        refused(r#"{"a":["1"],"b":["1"],"c":["1"],"d":["1"],"e":["1"],"f":["1"]}"#),
        "Invalid parameter: FilterPolicy: Filter policy can not have more than 5 keys"
    );
    // Body scope: nested keys under a top-level key do not count (the guide's example has six
    // leaf keys under four top-level keys).
    body_pol(
        r#"{"state":["SUCCESS"],"severity":[{"exists":true}],"message":[{"exists":true}],"finding":{"standard_control":[{"exists":true}],"region":[{"exists":true}],"account":[{"exists":true}]}}"#,
    );
    assert_eq!(
        refusal(
            r#"{"a":{"x":["1"]},"b":["1"],"c":["1"],"d":["1"],"e":["1"],"f":{"y":["1"]}}"#,
            Scope::MessageBody
        ),
        "Invalid parameter: FilterPolicy: Filter policy can not have more than 5 keys"
    );
}

#[test]
fn combinations_150_accepted_151_refused() {
    let values = |n: usize| {
        (0..n)
            .map(|i| format!("\"v{i}\""))
            .collect::<Vec<_>>()
            .join(",")
    };
    pol(&format!(r#"{{"store":[{}]}}"#, values(150)));
    assert_eq!(
        refused(&format!(r#"{{"store":[{}]}}"#, values(151))),
        "Invalid parameter: FilterPolicy: Filter policy is too complex"
    );
    // 10 x 15 = 150 accepted, 10 x 16 refused.
    pol(&format!(r#"{{"a":[{}],"b":[{}]}}"#, values(10), values(15)));
    assert_eq!(
        refused(&format!(r#"{{"a":[{}],"b":[{}]}}"#, values(10), values(16))),
        "Invalid parameter: FilterPolicy: Filter policy is too complex"
    );
    // $or alternatives add: 2 x (40 + 35) = 150 accepted, 2 x (40 + 36) refused.
    pol(&format!(
        r#"{{"a":["x","y"],"$or":[{{"b":[{}]}},{{"c":[{}]}}]}}"#,
        values(40),
        values(35)
    ));
    assert_eq!(
        refused(&format!(
            r#"{{"a":["x","y"],"$or":[{{"b":[{}]}},{{"c":[{}]}}]}}"#,
            values(40),
            values(36)
        )),
        "Invalid parameter: FilterPolicy: Filter policy is too complex"
    );
}

#[test]
fn size_limit_256_kb() {
    let pad = " ".repeat(MAX_POLICY_BYTES);
    assert_eq!(
        refused(&format!(r#"{{"a":["b"]}}{pad}"#)),
        "Invalid parameter: FilterPolicy: Filter policy is too long"
    );
}

#[test]
fn nested_policy_only_in_body_scope() {
    assert_eq!(
        refused(r#"{"store":{"key":[{"exists":true}]}}"#),
        "Invalid parameter: Filter policy scope MessageAttributes does not support nested filter policy"
    );
    let p = body_pol(r#"{"store":{"key":["x"]}}"#);
    assert!(p.matches_body(r#"{"store":{"key":"x"}}"#));
    assert!(!p.matches_body(r#"{"store":{"key":"y"}}"#));
    // Dotted keys name the same path, as in EventBridge.
    assert!(p.matches_body(r#"{"store":{"key":"x"},"other":1}"#));
    assert!(body_pol(r#"{"store.key":["x"]}"#).matches_body(r#"{"store":{"key":"x"}}"#));
}

// ---- refusals, SNS's texts ----

#[test]
fn refusals_with_sns_messages() {
    let cases: &[(&str, &str)] = &[
        (
            r#"{"store":[["example_corp"]]}"#,
            "Match value must be String, number, true, false, or null",
        ),
        (
            r#"{"store":[{"exists":null}]}"#,
            "exists match pattern must be either true or false.",
        ),
        (
            r#"{"store":[{"error":true}]}"#,
            "Unrecognized match type error",
        ),
        (
            r#"{"store":[{"wildcard":"a*"}]}"#,
            "Unrecognized match type wildcard",
        ),
        (
            r#"{"store":[{"prefix":1}]}"#,
            "prefix match pattern must be a string",
        ),
        (
            r#"{"store":[{"prefix":{"equals-ignore-case":"a"}}]}"#,
            "prefix match pattern must be a string",
        ),
        (
            r#"{"store":[{"suffix":true}]}"#,
            "suffix match pattern must be a string",
        ),
        (
            r#"{"store":[{"equals-ignore-case":1}]}"#,
            "equals-ignore-case match pattern must be a string",
        ),
        (
            r#"{"store":[{"prefix":"a","suffix":"b"}]}"#,
            "Only one key allowed in match expression",
        ),
        (
            r#"{"store":[{"anything-but":{"suffix":"a"}}]}"#,
            "Unsupported anything-but pattern: suffix",
        ),
        (
            r#"{"store":[{"anything-but":{"wildcard":"a*"}}]}"#,
            "Unsupported anything-but pattern: wildcard",
        ),
        (r#"{"store":[]}"#, "Empty arrays are not allowed"),
        (
            r#"{"store":"x"}"#,
            "\"store\" must be an object or an array",
        ),
        (
            r#"{"price":[{"numeric":["<","100"]}]}"#,
            "Value of < must be numeric",
        ),
        (
            r#"{"price":[{"numeric":[">",50,"<=","100"]}]}"#,
            "Value of <= must be numeric",
        ),
        (
            r#"{"price":[{"numeric":[]}]}"#,
            "Invalid member in numeric match: ]",
        ),
        (
            r#"{"price":[{"numeric":[50,"<=","100"]}]}"#,
            "Invalid member in numeric match: 50",
        ),
        (
            r#"{"price":[{"numeric":["<"]}]}"#,
            "Value of < must be numeric",
        ),
        (
            r#"{"price":[{"numeric":["0"]}]}"#,
            "Unrecognized numeric range operator: 0",
        ),
        (
            r#"{"price":[{"numeric":["<",20,">",1]}]}"#,
            "Too many elements in numeric expression",
        ),
        (
            r#"{"price":[{"numeric":[">",20,">",1]}]}"#,
            "Bad numeric range operator: >",
        ),
        (
            r#"{"price":[{"numeric":[">",20,"<",1]}]}"#,
            "Bottom must be less than top",
        ),
        (
            r#"{"price":[{"numeric":[">",20,"<"]}]}"#,
            "Value of < must be numeric",
        ),
        (
            r#"{"price":[{"numeric":["=","x"]}]}"#,
            "Value of equals must be numeric",
        ),
        (
            r#"{"ip":[{"cidr":"10.0.0.0"}]}"#,
            "Malformed CIDR, one '/' required",
        ),
        (
            r#"{"ip":[{"cidr":"10.0.0.0/x"}]}"#,
            "Malformed CIDR, mask bits must be an integer",
        ),
        (
            r#"{"ip":[{"cidr":"10.0.0.300/24"}]}"#,
            "Nonstandard IP address: 10.0.0.300",
        ),
        (
            r#"{"ip":[{"cidr":24}]}"#,
            "prefix match pattern must be a string",
        ),
    ];
    for (src, reason) in cases {
        let err = FilterPolicy::parse(src, Scope::MessageAttributes).expect_err(src);
        assert_eq!(err.reason(), *reason, "{src}");
        assert_eq!(err.code(), ErrorCode::InvalidParameter, "{src}");
        assert_eq!(
            err.to_string(),
            format!("Invalid parameter: FilterPolicy: {reason}"),
            "{src}"
        );
    }
}

#[test]
fn numbers_outside_one_billion_are_an_internal_failure() {
    for src in [
        r#"{"store":[1000000001]}"#,
        r#"{"store":[-1000000001]}"#,
        r#"{"p":[{"numeric":[">",1000000001]}]}"#,
        r#"{"p":[{"numeric":[">",0,"<",1e10]}]}"#,
        r#"{"p":[{"anything-but":[5000000000]}]}"#,
    ] {
        let err = FilterPolicy::parse(src, Scope::MessageAttributes).expect_err(src);
        assert_eq!(err.code(), ErrorCode::InternalFailure, "{src}");
    }
    pol(r#"{"store":[1000000000, -1000000000]}"#);
    pol(r#"{"p":[{"numeric":[">=",-1000000000,"<=",1000000000]}]}"#);
}

// ---- operators on attributes ----

#[test]
fn exact_strings_are_case_sensitive_and_typed() {
    let p = pol(r#"{"store":["example_corp"]}"#);
    assert!(p.matches_attributes(&attrs(&[("store", STR, "example_corp")])));
    assert!(!p.matches_attributes(&attrs(&[("store", STR, "Example_Corp")])));
    // A string policy value does not match a Number attribute, nor a number a String one.
    assert!(!pol(r#"{"n":["10"]}"#).matches_attributes(&attrs(&[("n", Number, "10")])));
    assert!(!pol(r#"{"n":[10]}"#).matches_attributes(&attrs(&[("n", STR, "10")])));
    assert!(pol(r#"{"n":[10]}"#).matches_attributes(&attrs(&[("n", Number, "10.0")])));
}

#[test]
fn absent_attributes() {
    let a = attrs(&[("other", STR, "x")]);
    assert!(!pol(r#"{"store":["x"]}"#).matches_attributes(&a));
    assert!(!pol(r#"{"store":[{"anything-but":"x"}]}"#).matches_attributes(&a));
    assert!(!pol(r#"{"store":[{"prefix":""}]}"#).matches_attributes(&a));
    assert!(pol(r#"{"store":[{"exists":false}]}"#).matches_attributes(&a));
    assert!(pol(r#"{"store":["x",{"exists":false}]}"#).matches_attributes(&a));
    assert!(!pol(r#"{"store":[{"exists":true}]}"#).matches_attributes(&a));
    // No attributes at all.
    assert!(!pol(r#"{"store":["x"]}"#).matches_attributes(&attrs(&[])));
}

#[test]
fn binary_attributes_are_ignored() {
    let a = attrs(&[("blob", Binary, "AAEC")]);
    assert!(!pol(r#"{"blob":[{"exists":true}]}"#).matches_attributes(&a));
    assert!(pol(r#"{"blob":[{"exists":false}]}"#).matches_attributes(&a));
    assert!(!pol(r#"{"blob":["AAEC"]}"#).matches_attributes(&a));
}

#[test]
fn string_array_matches_any_element() {
    let a = attrs(&[("c", StringArray, r#"["soccer", 5, true, null]"#)]);
    assert!(pol(r#"{"c":["soccer"]}"#).matches_attributes(&a));
    assert!(pol(r#"{"c":[5]}"#).matches_attributes(&a));
    assert!(pol(r#"{"c":[{"numeric":[">",4]}]}"#).matches_attributes(&a));
    assert!(pol(r#"{"c":[true]}"#).matches_attributes(&a));
    assert!(pol(r#"{"c":[null]}"#).matches_attributes(&a));
    assert!(!pol(r#"{"c":["rugby"]}"#).matches_attributes(&a));
    // anything-but: some element other than the listed ones is enough.
    assert!(pol(r#"{"c":[{"anything-but":"soccer"}]}"#).matches_attributes(&a));
    let only = attrs(&[("c", StringArray, r#"["soccer"]"#)]);
    assert!(!pol(r#"{"c":[{"anything-but":"soccer"}]}"#).matches_attributes(&only));
    // Not JSON, or not an array: no match.
    for bad in [r#"["soccer""#, "soccer", r#""soccer""#, r#"{"a":"soccer"}"#] {
        let a = attrs(&[("c", StringArray, bad)]);
        assert!(!pol(r#"{"c":["soccer"]}"#).matches_attributes(&a), "{bad}");
        assert!(
            !pol(r#"{"c":[{"exists":true}]}"#).matches_attributes(&a),
            "{bad}"
        );
    }
}

#[test]
fn numeric_ranges_and_equality() {
    let m = |src: &str, v: &str| pol(src).matches_attributes(&attrs(&[("p", Number, v)]));
    assert!(m(r#"{"p":[{"numeric":[">",0,"<=",150]}]}"#, "150"));
    assert!(!m(r#"{"p":[{"numeric":[">",0,"<=",150]}]}"#, "150.00001"));
    assert!(!m(r#"{"p":[{"numeric":[">",0,"<=",150]}]}"#, "0"));
    assert!(m(r#"{"p":[{"numeric":["=",301.5]}]}"#, "301.50"));
    assert!(m(r#"{"p":[{"numeric":["<",-1e3]}]}"#, "-1000.5"));
    assert!(m(r#"{"p":[{"numeric":[">=",0.00001]}]}"#, "0.00001"));
    assert!(!m(r#"{"p":[{"numeric":[">=",0.00001]}]}"#, "0.000009"));
    // A Number attribute that is not a number matches nothing numeric.
    assert!(!m(r#"{"p":[{"numeric":[">",0]}]}"#, "abc"));
    // numeric does not apply to String attributes.
    assert!(!pol(r#"{"p":[{"numeric":[">",0]}]}"#).matches_attributes(&attrs(&[("p", STR, "5")])));
}

#[test]
fn anything_but_forms() {
    let m = |src: &str, t: DataType, v: &str| pol(src).matches_attributes(&attrs(&[("k", t, v)]));
    assert!(m(r#"{"k":[{"anything-but":["a","b"]}]}"#, STR, "c"));
    assert!(!m(r#"{"k":[{"anything-but":["a","b"]}]}"#, STR, "b"));
    assert!(m(r#"{"k":[{"anything-but":[1,2]}]}"#, Number, "3"));
    assert!(!m(r#"{"k":[{"anything-but":[1,2]}]}"#, Number, "2.0"));
    assert!(m(r#"{"k":[{"anything-but":100}]}"#, Number, "101"));
    assert!(m(
        r#"{"k":[{"anything-but":{"prefix":"ord"}}]}"#,
        STR,
        "xord"
    ));
    assert!(!m(
        r#"{"k":[{"anything-but":{"prefix":"ord"}}]}"#,
        STR,
        "order"
    ));
    // Values of another type are not excluded.
    assert!(m(r#"{"k":[{"anything-but":["1"]}]}"#, Number, "1"));
}

#[test]
fn cidr_matches_ip_addresses() {
    let p = pol(r#"{"ip":[{"cidr":"10.0.0.0/24"}]}"#);
    assert!(p.matches_attributes(&attrs(&[("ip", STR, "10.0.0.255")])));
    assert!(!p.matches_attributes(&attrs(&[("ip", STR, "10.0.1.0")])));
    assert!(!p.matches_attributes(&attrs(&[("ip", STR, "not an ip")])));
    let p6 = pol(r#"{"ip":[{"cidr":"2001:db8::/32"}]}"#);
    assert!(p6.matches_attributes(&attrs(&[("ip", STR, "2001:db8::1")])));
}

#[test]
fn or_at_top_level() {
    let p = pol(r#"{"$or":[{"a":["1"]},{"b":["2"]}]}"#);
    assert!(p.matches_attributes(&attrs(&[("a", STR, "1")])));
    assert!(p.matches_attributes(&attrs(&[("b", STR, "2")])));
    assert!(!p.matches_attributes(&attrs(&[("a", STR, "2")])));
}

// ---- body scope ----

#[test]
fn body_must_be_a_json_object() {
    let p = body_pol(r#"{"a":[{"exists":false}]}"#);
    assert!(p.matches_body("{}"));
    assert!(!p.matches_body("not json"));
    assert!(!p.matches_body("[1,2]"));
    assert!(!p.matches_body(r#""text""#));
    assert!(!p.matches_body(r#"{"a":1"#));
}

#[test]
fn body_arrays_match_any_element() {
    let p = body_pol(r#"{"Records":{"eventName":[{"prefix":"ObjectCreated:"}]}}"#);
    assert!(p.matches_body(
        r#"{"Records":[{"eventName":"ObjectRemoved:Delete"},{"eventName":"ObjectCreated:Put"}]}"#
    ));
    assert!(!p.matches_body(r#"{"Records":[{"eventName":"ObjectRemoved:Delete"}]}"#));
}

#[test]
fn scope_mismatch_never_matches() {
    assert!(!pol(r#"{"a":["1"]}"#).matches_body(r#"{"a":"1"}"#));
    assert!(!body_pol(r#"{"a":["1"]}"#).matches_attributes(&attrs(&[("a", STR, "1")])));
}

#[test]
fn data_type_spellings() {
    assert_eq!(DataType::from_sns("String"), Some(STR));
    assert_eq!(DataType::from_sns("String.Array"), Some(StringArray));
    assert_eq!(DataType::from_sns("Number.float"), Some(Number));
    assert_eq!(DataType::from_sns("Binary"), Some(Binary));
    assert_eq!(DataType::from_sns("Blob"), None);
}

// ---- agreement with the EventBridge matcher on a shared subset ----

#[derive(Debug, Clone)]
enum Cond {
    Exact(String),
    Prefix(String),
    Num(i32),
    Gt(i32),
    Range(i32, i32),
}

impl Cond {
    fn json(&self) -> String {
        match self {
            Cond::Exact(s) => format!("\"{s}\""),
            Cond::Prefix(s) => format!(r#"{{"prefix":"{s}"}}"#),
            Cond::Num(n) => format!("{}", *n as f64 / 4.0),
            Cond::Gt(n) => format!(r#"{{"numeric":[">",{n}]}}"#),
            Cond::Range(a, b) => format!(r#"{{"numeric":[">=",{a},"<",{}]}}"#, a + b.abs() + 1),
        }
    }
}

#[derive(Debug, Clone)]
enum Val {
    S(String),
    N(i32),
}

fn word() -> impl Strategy<Value = String> {
    "[ab]{0,3}"
}

fn cond() -> impl Strategy<Value = Cond> {
    prop_oneof![
        word().prop_map(Cond::Exact),
        word().prop_map(Cond::Prefix),
        (-8i32..8).prop_map(Cond::Num),
        (-3i32..3).prop_map(Cond::Gt),
        ((-3i32..3), (-3i32..3)).prop_map(|(a, b)| Cond::Range(a, b)),
    ]
}

fn val() -> impl Strategy<Value = Val> {
    prop_oneof![word().prop_map(Val::S), (-8i32..8).prop_map(Val::N)]
}

const KEYS: [&str; 5] = ["a", "b", "c", "d", "e"];

proptest! {
    #[test]
    fn agrees_with_eventbridge(
        policy in proptest::collection::btree_map(0usize..5, proptest::collection::vec(cond(), 1..4), 1..=5),
        msg in proptest::collection::btree_map(0usize..5, val(), 0..=5),
    ) {
        // SNS refuses a policy of more than 150 value combinations (`too_complex_refused`);
        // the shared subset is the policies it accepts.
        prop_assume!(policy.values().map(Vec::len).product::<usize>() <= 150);
        let policy_json = format!(
            "{{{}}}",
            policy
                .iter()
                .map(|(k, cs)| format!(
                    "\"{}\":[{}]",
                    KEYS[*k],
                    cs.iter().map(Cond::json).collect::<Vec<_>>().join(",")
                ))
                .collect::<Vec<_>>()
                .join(",")
        );
        let mut a = HashMap::new();
        let mut event = Vec::new();
        for (k, v) in &msg {
            match v {
                Val::S(s) => {
                    a.insert(KEYS[*k].to_string(), (STR, s.clone()));
                    event.push(format!("\"{}\":\"{s}\"", KEYS[*k]));
                }
                Val::N(n) => {
                    let text = format!("{}", *n as f64 / 4.0);
                    a.insert(KEYS[*k].to_string(), (Number, text.clone()));
                    event.push(format!("\"{}\":{text}", KEYS[*k]));
                }
            }
        }
        let event = format!("{{{}}}", event.join(","));
        let eb = Pattern::parse(&policy_json).expect("EventBridge accepts the shared subset");
        let want = eb.matches(&event).expect("event is JSON");
        let attr = FilterPolicy::parse(&policy_json, Scope::MessageAttributes).expect("SNS accepts");
        let body = FilterPolicy::parse(&policy_json, Scope::MessageBody).expect("SNS accepts");
        prop_assert_eq!(attr.matches_attributes(&a), want, "attributes {} vs {}", policy_json, event);
        prop_assert_eq!(body.matches_body(&event), want, "body {} vs {}", policy_json, event);
    }
}

#[test]
fn empty_policy_matches_everything() {
    assert!(pol("{}").matches_attributes(&attrs(&[])));
    assert!(body_pol("{}").matches_body(r#"{"a":1}"#));
    assert!(!body_pol("{}").matches_body("not json"));
}
