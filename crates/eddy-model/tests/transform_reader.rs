//! Differential property tests: target input shaping now reads events with eddy-pattern's JSON
//! reader (`eddy_pattern::json::read`); before issue 15 it had a reader of its own. That reader is
//! kept here, verbatim, as the oracle: on any text (valid or not, duplicate keys, every escape
//! including lone surrogates, numbers of any size, nesting around the 512 limit) the new path
//! must accept and refuse exactly what the old one did, write the same minified JSON, and decode
//! strings and keys the same way.

use std::collections::BTreeMap;

use eddy_model::definitions::{InputTransformer, TargetDef};
use eddy_model::transform::{TransformContext, render_input};
use proptest::prelude::*;

mod oracle {
    //! The reader `transform.rs` had before issue 15, verbatim but for visibility: the oracle.

    /// Deepest JSON nesting parsed (deeper input is rejected rather than risking the stack).
    const MAX_DEPTH: usize = 512;

    #[derive(Debug, Clone, PartialEq)]
    pub struct Member<'a> {
        /// The key as written, quotes included.
        pub raw_key: &'a str,
        /// The key decoded.
        pub key: String,
        pub value: Node<'a>,
    }

    #[derive(Debug, Clone, PartialEq)]
    pub enum Node<'a> {
        Null,
        Bool(bool),
        /// The number as written.
        Num(&'a str),
        /// The string literal as written, quotes included.
        Str(&'a str),
        Arr(Vec<Node<'a>>),
        Obj(Vec<Member<'a>>),
    }

    pub fn parse_json(text: &str) -> Result<Node<'_>, String> {
        let mut p = Reader {
            text,
            bytes: text.as_bytes(),
            at: 0,
        };
        let node = p.value(0)?;
        p.skip_ws();
        if p.at != p.bytes.len() {
            return Err(format!("unexpected character at byte {}", p.at));
        }
        Ok(node)
    }

    struct Reader<'a> {
        text: &'a str,
        bytes: &'a [u8],
        at: usize,
    }

    impl<'a> Reader<'a> {
        fn peek(&self) -> Option<u8> {
            self.bytes.get(self.at).copied()
        }

        fn skip_ws(&mut self) {
            while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
                self.at += 1;
            }
        }

        fn fail<T>(&self, what: &str) -> Result<T, String> {
            Err(format!("{what} at byte {}", self.at))
        }

        fn slice(&self, from: usize) -> Result<&'a str, String> {
            self.text
                .get(from..self.at)
                .ok_or_else(|| format!("bad slice at byte {from}"))
        }

        fn value(&mut self, depth: usize) -> Result<Node<'a>, String> {
            if depth > MAX_DEPTH {
                return self.fail("nesting too deep");
            }
            self.skip_ws();
            match self.peek() {
                None => self.fail("unexpected end of input"),
                Some(b'{') => {
                    self.at += 1;
                    let mut members = Vec::new();
                    self.skip_ws();
                    if self.peek() == Some(b'}') {
                        self.at += 1;
                        return Ok(Node::Obj(members));
                    }
                    loop {
                        self.skip_ws();
                        let raw_key = self.string()?;
                        self.skip_ws();
                        if self.peek() != Some(b':') {
                            return self.fail("expected ':'");
                        }
                        self.at += 1;
                        let value = self.value(depth + 1)?;
                        members.push(Member {
                            raw_key,
                            key: decode_str(raw_key),
                            value,
                        });
                        self.skip_ws();
                        match self.peek() {
                            Some(b',') => self.at += 1,
                            Some(b'}') => {
                                self.at += 1;
                                return Ok(Node::Obj(members));
                            }
                            _ => return self.fail("expected ',' or '}'"),
                        }
                    }
                }
                Some(b'[') => {
                    self.at += 1;
                    let mut items = Vec::new();
                    self.skip_ws();
                    if self.peek() == Some(b']') {
                        self.at += 1;
                        return Ok(Node::Arr(items));
                    }
                    loop {
                        items.push(self.value(depth + 1)?);
                        self.skip_ws();
                        match self.peek() {
                            Some(b',') => self.at += 1,
                            Some(b']') => {
                                self.at += 1;
                                return Ok(Node::Arr(items));
                            }
                            _ => return self.fail("expected ',' or ']'"),
                        }
                    }
                }
                Some(b'"') => Ok(Node::Str(self.string()?)),
                Some(b't') => self.word("true", Node::Bool(true)),
                Some(b'f') => self.word("false", Node::Bool(false)),
                Some(b'n') => self.word("null", Node::Null),
                Some(b'-' | b'0'..=b'9') => self.number(),
                Some(_) => self.fail("unexpected character"),
            }
        }

        fn word(&mut self, word: &str, node: Node<'a>) -> Result<Node<'a>, String> {
            if self
                .bytes
                .get(self.at..self.at + word.len())
                .is_some_and(|b| b == word.as_bytes())
            {
                self.at += word.len();
                Ok(node)
            } else {
                self.fail("invalid literal")
            }
        }

        fn digits(&mut self) -> usize {
            let start = self.at;
            while self.peek().is_some_and(|b| b.is_ascii_digit()) {
                self.at += 1;
            }
            self.at - start
        }

        fn number(&mut self) -> Result<Node<'a>, String> {
            let start = self.at;
            if self.peek() == Some(b'-') {
                self.at += 1;
            }
            match self.peek() {
                Some(b'0') => self.at += 1,
                Some(b'1'..=b'9') => {
                    self.digits();
                }
                _ => return self.fail("invalid number"),
            }
            if self.peek() == Some(b'.') {
                self.at += 1;
                if self.digits() == 0 {
                    return self.fail("invalid number");
                }
            }
            if matches!(self.peek(), Some(b'e' | b'E')) {
                self.at += 1;
                if matches!(self.peek(), Some(b'+' | b'-')) {
                    self.at += 1;
                }
                if self.digits() == 0 {
                    return self.fail("invalid number");
                }
            }
            Ok(Node::Num(self.slice(start)?))
        }

        /// A string literal, returned as written (quotes included) once checked.
        fn string(&mut self) -> Result<&'a str, String> {
            let start = self.at;
            if self.peek() != Some(b'"') {
                return self.fail("expected a string");
            }
            self.at += 1;
            loop {
                match self.peek() {
                    None => return self.fail("unterminated string"),
                    Some(b'"') => {
                        self.at += 1;
                        return self.slice(start);
                    }
                    Some(b'\\') => {
                        self.at += 1;
                        match self.peek() {
                            Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {
                                self.at += 1
                            }
                            Some(b'u') => {
                                self.at += 1;
                                for _ in 0..4 {
                                    if !self.peek().is_some_and(|b| b.is_ascii_hexdigit()) {
                                        return self.fail("invalid \\u escape");
                                    }
                                    self.at += 1;
                                }
                            }
                            _ => return self.fail("invalid escape"),
                        }
                    }
                    Some(b) if b < 0x20 => return self.fail("control character in string"),
                    Some(_) => self.at += 1,
                }
            }
        }
    }

    /// Decodes a checked string literal (quotes included). A literal serde_json refuses (a lone
    /// surrogate escape) falls back to its text between the quotes.
    pub fn decode_str(raw: &str) -> String {
        serde_json::from_str::<String>(raw).unwrap_or_else(|_| {
            raw.strip_prefix('"')
                .and_then(|r| r.strip_suffix('"'))
                .unwrap_or(raw)
                .to_owned()
        })
    }

    /// Minified JSON, member order and literal spellings kept.
    pub fn write_json(out: &mut String, node: &Node<'_>) {
        match node {
            Node::Null => out.push_str("null"),
            Node::Bool(true) => out.push_str("true"),
            Node::Bool(false) => out.push_str("false"),
            Node::Num(text) | Node::Str(text) => out.push_str(text),
            Node::Arr(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_json(out, item);
                }
                out.push(']');
            }
            Node::Obj(members) => {
                out.push('{');
                for (i, m) in members.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(m.raw_key);
                    out.push(':');
                    write_json(out, &m.value);
                }
                out.push('}');
            }
        }
    }

    /// JSON with every quote removed (strings and keys written decoded, without their quotes and
    /// without any quote they contain): how AWS writes an object or array referenced in a string.
    pub fn write_stripped(out: &mut String, node: &Node<'_>) {
        match node {
            Node::Str(raw) => out.extend(decode_str(raw).chars().filter(|&c| c != '"')),
            Node::Arr(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_stripped(out, item);
                }
                out.push(']');
            }
            Node::Obj(members) => {
                out.push('{');
                for (i, m) in members.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.extend(m.key.chars().filter(|&c| c != '"'));
                    out.push(':');
                    write_stripped(out, &m.value);
                }
                out.push('}');
            }
            Node::Null | Node::Bool(_) | Node::Num(_) => write_json(out, node),
        }
    }
}

fn cx() -> TransformContext<'static> {
    TransformContext {
        rule_arn: "arn:aws:events:us-east-1:123456789012:rule/r",
        rule_name: "r",
        ingestion_time_ms: 1_700_000_000_000,
    }
}

fn target(input_path: Option<&str>, paths: &[(&str, String)], template: Option<&str>) -> TargetDef {
    TargetDef {
        id: "t".into(),
        arn: "arn:aws:sqs:us-east-1:123456789012:q".into(),
        role_arn: None,
        input: None,
        input_path: input_path.map(str::to_owned),
        input_transformer: template.map(|t| InputTransformer {
            input_paths_map: Some(
                paths
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), v.clone()))
                    .collect::<BTreeMap<_, _>>(),
            ),
            input_template: t.to_owned(),
        }),
        retry_policy: None,
        dead_letter_config: None,
        other: BTreeMap::new(),
    }
}

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

/// What the old reader's transform wrote for the whole text (`InputPath` `$`).
fn old_input_path_root(text: &str) -> Result<String, String> {
    oracle::parse_json(text).map(|node| {
        let mut out = String::new();
        oracle::write_json(&mut out, &node);
        out
    })
}

fn new_input_path_root(text: &str) -> Result<String, String> {
    render_input(&target(Some("$"), &[], None), text, &cx()).map_err(|e| e.to_string())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn accepts_refuses_and_writes_as_the_old_reader(text in maybe_damaged()) {
        let old = old_input_path_root(&text);
        let new = new_input_path_root(&text);
        prop_assert_eq!(old.is_ok(), new.is_ok(), "old {:?} new {:?}", old, new);
        if let (Ok(old), Ok(new)) = (old, new) {
            prop_assert_eq!(old, new);
        }
    }

    #[test]
    fn decodes_values_and_keys_as_the_old_reader(text in json_text()) {
        let Ok(oracle::Node::Obj(members)) = oracle::parse_json(&text) else {
            return Ok(());
        };
        for m in &members {
            // The last member of that (decoded) name is the one a path selects.
            let Some(last) = members.iter().rev().find(|o| o.key == m.key) else {
                continue;
            };
            let mut expected = String::from("=");
            match &last.value {
                oracle::Node::Str(raw) => expected.push_str(&oracle::decode_str(raw)),
                oracle::Node::Arr(_) | oracle::Node::Obj(_) => {
                    oracle::write_stripped(&mut expected, &last.value)
                }
                scalar => oracle::write_json(&mut expected, scalar),
            }
            expected.push('=');
            let quoted = m.key.replace('\\', "\\\\").replace('\'', "\\'");
            let paths = [("v", format!("$['{quoted}']"))];
            let got = render_input(&target(None, &paths, Some("=<v>=")), &text, &cx())
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(got, expected, "key {:?}", m.key);
        }
    }

    #[test]
    fn depth_is_bounded_as_before(
        depth in 500usize..530,
        objects in any::<bool>(),
        empty in any::<bool>(),
    ) {
        let text = nested(depth, objects && !empty, if empty { "" } else { "1" });
        let old = old_input_path_root(&text);
        let new = new_input_path_root(&text);
        prop_assert_eq!(old.is_ok(), new.is_ok(), "depth {}: old {:?}", depth, old.err());
        if let Err(e) = new {
            prop_assert!(e.contains("too deep"), "{}", e);
        }
    }
}

#[test]
fn nesting_far_past_the_limit_is_refused_without_touching_the_stack() {
    for text in [
        nested(100_000, false, "1"),
        nested(100_000, true, "1"),
        "[".repeat(1_000_000),
    ] {
        let e = new_input_path_root(&text).unwrap_err();
        assert!(e.contains("too deep"), "{e}");
    }
}
