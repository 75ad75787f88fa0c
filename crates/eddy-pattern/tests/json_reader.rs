//! Property tests of eddy's one JSON reader (`json::read`, `json::parse`, `json::validate`)
//! against serde_json, on any text: valid or damaged, duplicate keys, every escape (surrogate
//! pairs and lone surrogates), numbers far beyond f64 and u64, and nesting far past the limits.
//! The readers never panic, agree with serde_json on what is JSON (but for numbers that overflow
//! an f64, which serde_json refuses and eddy keeps as spelled), read the same values, and bound
//! their depth.

use eddy_pattern::json::{
    self, LONE_SURROGATE, LoneSurrogates, ReadLimits, Str, TOO_DEEP, TopLevel, Value,
};
use proptest::prelude::*;
use serde_json::Value as Serde;

/// A JSON string literal: plain characters, every simple escape, `\u` escapes of anything
/// (surrogate pairs, lone surrogates of both halves, `\u0000`).
fn string_literal() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        4 => "[a-z .-]{1,4}",
        1 => "[^\"\\\\\u{0}-\u{1f}]{1,2}",
        1 => "\\\\[\"\\\\/bfnrt]",
        1 => "\\\\u[0-9a-fA-F]{4}",
        1 => "\\\\u[dD][89abAB][0-9a-fA-F]{2}",
        1 => "\\\\u[dD][c-fC-F][0-9a-fA-F]{2}",
        1 => "\\\\u[dD][89abAB][0-9a-fA-F]{2}\\\\u[dD][c-fC-F][0-9a-fA-F]{2}",
    ];
    prop::collection::vec(piece, 0..5).prop_map(|p| format!("\"{}\"", p.concat()))
}

/// Numbers of every shape the grammar allows, far beyond f64 and u64.
fn number() -> impl Strategy<Value = String> {
    "-?(0|[1-9][0-9]{0,30})(\\.[0-9]{1,25})?([eE][+-]?[0-9]{1,5})?"
}

fn ws() -> impl Strategy<Value = String> {
    "[ \t\n\r]{0,2}"
}

/// JSON text with white space between tokens and few distinct keys (so duplicates are common).
fn json_text() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        Just("\"a\"".to_owned()),
        Just("\"b\"".to_owned()),
        Just("\"\\u0061\"".to_owned()),
        Just("\"detail\"".to_owned()),
        string_literal(),
    ];
    let leaf = prop_oneof![
        Just("null".to_owned()),
        Just("true".to_owned()),
        Just("false".to_owned()),
        number(),
        string_literal(),
    ];
    leaf.prop_recursive(5, 48, 5, move |inner| {
        let key = key.clone();
        prop_oneof![
            prop::collection::vec((ws(), inner.clone(), ws()), 0..5).prop_map(|items| {
                let items: Vec<String> = items.into_iter().map(|(a, v, b)| a + &v + &b).collect();
                format!("[{}]", items.join(","))
            }),
            prop::collection::vec((key, ws(), inner, ws()), 0..5).prop_map(|members| {
                let members: Vec<String> = members
                    .into_iter()
                    .map(|(k, a, v, b)| format!("{a}{k}{b}:{a}{v}{b}"))
                    .collect();
                format!("{{{}}}", members.join(","))
            }),
        ]
    })
}

/// Valid JSON text, sometimes damaged by one edit (a character removed, or one inserted).
fn maybe_damaged() -> impl Strategy<Value = String> {
    (
        json_text(),
        any::<bool>(),
        any::<prop::sample::Index>(),
        prop::sample::select(vec![
            '{', '}', '[', ']', '"', ',', ':', '\\', '0', '-', 'e', '.', 'n', ' ', '\u{1}',
        ]),
        any::<bool>(),
    )
        .prop_map(|(text, damage, at, c, remove)| {
            if !damage {
                return text;
            }
            let mut chars: Vec<char> = text.chars().collect();
            let i = at.index(chars.len() + 1);
            if remove && i < chars.len() {
                chars.remove(i);
            } else {
                chars.insert(i.min(chars.len()), c);
            }
            chars.into_iter().collect()
        })
}

/// `depth` containers around `inner`, arrays or objects.
fn nested(depth: usize, objects: bool, inner: &str) -> String {
    if objects {
        format!("{}{inner}{}", "{\"a\":".repeat(depth), "}".repeat(depth))
    } else {
        format!("{}{inner}{}", "[".repeat(depth), "]".repeat(depth))
    }
}

fn limits(max_depth: usize, lone_surrogates: LoneSurrogates) -> ReadLimits {
    ReadLimits {
        max_depth,
        lone_surrogates,
    }
}

/// The tree as serde_json reads the same text: the last of duplicate keys wins, numbers as
/// serde_json reads their spelling.
fn to_serde(v: &Value<'_>) -> Serde {
    fn text(s: &Str<'_>) -> String {
        s.decode().expect("refused lone surrogates").into_owned()
    }
    match v {
        Value::Null => Serde::Null,
        Value::Bool(b) => Serde::Bool(*b),
        Value::Number(n) => serde_json::from_str(n).expect("serde_json reads the number"),
        Value::String(s) => Serde::String(text(s)),
        Value::Array(items) => Serde::Array(items.iter().map(to_serde).collect()),
        Value::Object(members) => {
            let mut map = serde_json::Map::new();
            for (k, v) in members {
                map.insert(text(k), to_serde(v));
            }
            Serde::Object(map)
        }
    }
}

/// Whether the literal holds a `\u` escape of a lone surrogate.
fn has_lone_surrogate(s: &Str<'_>) -> bool {
    json::read(s.literal(), ReadLimits::default()).is_err_and(|e| e.reason == LONE_SURROGATE)
}

fn strings<'v, 'a>(v: &'v Value<'a>, out: &mut Vec<&'v Str<'a>>) {
    match v {
        Value::String(s) => out.push(s),
        Value::Array(items) => items.iter().for_each(|i| strings(i, out)),
        Value::Object(members) => members.iter().for_each(|(k, v)| {
            out.push(k);
            strings(v, out);
        }),
        _ => {}
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn read_agrees_with_serde_json(text in maybe_damaged()) {
        let ours = json::read(&text, limits(1000, LoneSurrogates::Refuse));
        let theirs = serde_json::from_str::<Serde>(&text);
        match (&ours, &theirs) {
            (Ok(v), Ok(s)) => prop_assert_eq!(&to_serde(v), s),
            (Err(_), Err(_)) => {}
            (Ok(_), Err(e)) => prop_assert!(
                e.to_string().starts_with("number out of range"),
                "eddy accepts, serde_json refuses: {}", e
            ),
            (Err(e), Ok(_)) => prop_assert!(false, "eddy refuses ({:?}), serde_json accepts", e),
        }
        // The owned tree is the borrowed one, decoded.
        let parsed = json::parse(&text);
        prop_assert_eq!(parsed.is_ok(), ours.is_ok());
        if let (Ok(p), Ok(v)) = (parsed, &ours) {
            prop_assert_eq!(p, v.to_json());
        }
    }

    #[test]
    fn validate_accepts_what_read_accepts(text in maybe_damaged()) {
        let read = json::read(&text, limits(1000, LoneSurrogates::Refuse));
        let valid = json::validate(&text, 1000);
        prop_assert_eq!(read.is_ok(), valid.is_ok(), "read {:?} validate {:?}", read, valid);
        if let (Ok(v), Ok(top)) = (read, valid) {
            let expected = match v {
                Value::Object(_) => TopLevel::Object,
                Value::Array(_) => TopLevel::Array,
                _ => TopLevel::Scalar,
            };
            prop_assert_eq!(top, expected);
        }
    }

    #[test]
    fn keeping_lone_surrogates_changes_nothing_else(text in maybe_damaged()) {
        let refused = json::read(&text, limits(1000, LoneSurrogates::Refuse));
        let kept = json::read(&text, limits(1000, LoneSurrogates::Keep));
        match (&refused, &kept) {
            (Ok(r), Ok(k)) => prop_assert_eq!(r, k),
            (Err(e), Ok(k)) => {
                prop_assert_eq!(e.reason, LONE_SURROGATE);
                let mut all = Vec::new();
                strings(k, &mut all);
                prop_assert!(all.iter().any(|s| s.decode().is_none()));
                for s in all {
                    prop_assert_eq!(s.decode().is_none(), has_lone_surrogate(s), "{}", s.literal());
                }
            }
            (Ok(_), Err(e)) => prop_assert!(false, "Keep refuses what Refuse accepts: {:?}", e),
            (Err(r), Err(k)) => prop_assert_ne!(k.reason, LONE_SURROGATE, "Refuse said {:?}", r),
        }
    }

    #[test]
    fn never_panics_on_any_text(text in any::<String>(), bytes in any::<Vec<u8>>()) {
        for lone in [LoneSurrogates::Refuse, LoneSurrogates::Keep] {
            json::read(&text, limits(64, lone)).ok();
        }
        json::parse(&text).ok();
        json::parse_bytes(&bytes).ok();
        json::validate(&text, 64).ok();
    }

    #[test]
    fn depth_is_bounded(
        depth in 1usize..300,
        max in 0usize..300,
        objects in any::<bool>(),
        empty in any::<bool>(),
    ) {
        // The top-level value is at depth 0: `depth` containers around a number put it at
        // `depth`; empty innermost containers stop one level short.
        let text = nested(depth, objects && !empty, if empty { "" } else { "1" });
        let deepest = if empty { depth.saturating_sub(1) } else { depth };
        let r = json::read(&text, limits(max, LoneSurrogates::Refuse));
        if deepest <= max {
            prop_assert!(r.is_ok(), "{:?}", r);
        } else {
            prop_assert_eq!(r.map(drop).map_err(|e| e.reason), Err(TOO_DEEP));
        }
    }
}

#[test]
fn parse_refuses_past_256_levels() {
    assert!(json::parse(&nested(256, false, "1")).is_ok());
    assert_eq!(
        json::parse(&nested(257, false, "1")).map_err(|e| e.reason),
        Err(TOO_DEEP)
    );
    assert!(json::parse(&nested(257, false, "")).is_ok());
    assert_eq!(
        json::parse(&nested(258, true, "1")).map_err(|e| e.reason),
        Err(TOO_DEEP)
    );
}

#[test]
fn nesting_far_past_any_stack_is_refused() {
    for text in [
        nested(1_000_000, false, "1"),
        nested(1_000_000, true, "1"),
        "[".repeat(1_000_000),
    ] {
        for lone in [LoneSurrogates::Refuse, LoneSurrogates::Keep] {
            let e = json::read(&text, limits(512, lone)).unwrap_err();
            assert_eq!(e.reason, TOO_DEEP);
        }
        assert_eq!(json::parse(&text).unwrap_err().reason, TOO_DEEP);
    }
}

#[test]
fn literals_keep_their_spelling() {
    let text = r#"{"k\u0065y": "a\/b\u00e9", "n": -1.50e+003, "x": "\ud800"}"#;
    assert!(json::read(text, ReadLimits::default()).is_err());
    let Ok(Value::Object(members)) = json::read(text, limits(8, LoneSurrogates::Keep)) else {
        panic!("an object");
    };
    let (k, v) = &members[0];
    assert_eq!(k.literal(), r#""k\u0065y""#);
    assert!(k.decodes_to("key"));
    let Value::String(s) = v else { panic!() };
    assert_eq!(s.body(), r"a\/b\u00e9");
    assert_eq!(s.decode().as_deref(), Some("a/bé"));
    assert_eq!(members[1].1, Value::Number("-1.50e+003"));
    let Value::String(lone) = &members[2].1 else {
        panic!()
    };
    assert_eq!(lone.decode(), None);
    assert_eq!(lone.literal(), r#""\ud800""#);
    assert_eq!(
        Str::unescaped(r#""detailType""#).map(|s| s.body()),
        Some("detailType")
    );
    assert_eq!(Str::unescaped(r#""a\"b""#), None);
    assert_eq!(Str::unescaped("nope"), None);
}
