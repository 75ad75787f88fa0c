//! `InputTransformer` templates: splitting an `InputTemplate` into text and placeholders,
//! resolving each placeholder to a value (an `InputPathsMap` path or a predefined variable), and
//! writing the values where they stand with the JSON-string escaping rules below.
//!
//! `InputPathsMap` binds variables to paths; `<name>` in `InputTemplate` is a placeholder when
//! `name` is a map key or one of the predefined variables (which take precedence, being
//! reserved). Any other `<…>` text is left as it is
//! ([`check_transformer`](super::check_transformer) rejects a `<name>` that looks like a variable
//! but is not defined, with AWS's message).
//!
//! Predefined variables:
//! * `aws.events.rule-arn`, `aws.events.rule-name`: strings from [`TransformContext`];
//! * `aws.events.event.ingestion-time`: string, `YYYY-MM-DDTHH:MM:SSZ` (UTC) of
//!   [`TransformContext::ingestion_time_ms`];
//! * `aws.events.event`: the envelope without `detail`, with `detail-type` renamed `detailType`
//!   and members in the order AWS emits them (`id, account, detailType, time, source, region,
//!   resources, version`, then anything else), as recorded against AWS;
//! * `aws.events.event.json`: the whole envelope as JSON.
//!
//! A variable whose path selects nothing is *missing*: it renders as nothing (AWS: "that
//! variable isn't created and won't appear in the output"), except bare in a JSON template,
//! where it renders as `""` — both recorded against AWS (`"…from detail "` and
//! `"command": ""`).
//!
//! **JSON templates.** A template is a JSON template when it is valid JSON once every
//! placeholder outside a string literal is read as a value (`{"a": <x>}`, `[<x>, 1]`, `<x>`,
//! and also a lone string literal such as `"<x> is <y>"`). In a JSON template, substitution
//! depends on where the placeholder stands, and the output is minified (member order kept):
//! * outside a string literal, the value goes in as JSON: a string is quoted and escaped
//!   (AWS: "EventBridge automatically adds quotes to string variable values"), numbers,
//!   booleans, `null`, objects and arrays as their JSON text;
//! * inside a string literal, a string goes in as its characters, numbers/booleans/`null` as
//!   their JSON text, and an object or array as its JSON text with every quote removed (AWS:
//!   "EventBridge removes any internal quotes to ensure a valid string", e.g.
//!   `{instance-id:i-0123456789,state:RUNNING}`). AWS says it does not escape values; eddy does
//!   escape what it inserts in a string (`"`, `\`, control characters), so the output of a JSON
//!   template is always valid JSON. `<aws.events.event>`/`<aws.events.event.json>` are meant to
//!   be used bare; inside a string eddy inserts their JSON text escaped, as any string.
//!
//! **Other templates** (plain text such as `<instance> is in state <status>`, or the CLI form
//! `"instance "<instance>" is in <state>"`, or several quoted lines) are substituted textually:
//! strings as their raw characters, numbers/booleans/`null` as JSON text, objects and arrays
//! quote-stripped as above, the predefined event variables as raw JSON; nothing is escaped or
//! quoted and white space is kept. That matches every plain-text example in the user guide
//! (including the CLI one, whose output has no added quotes).
//!
//! Known deviation: the user guide's "Amazon CloudWatch log group" example shows a bare
//! `<timestamp>` rendered without quotes (`"timestamp" : 2015-11-11T21:29:54Z`), i.e. invalid
//! JSON; eddy quotes it like every other bare string.
//!
//! # Validation at `PutTargets`

use std::collections::BTreeMap;

use eddy_pattern::json::{Str, Value, write_json_string};

use super::path::{Selected, parse_path, select};
use super::tree::{
    decode_str, key_is, parse_event, parse_json, write_json, write_json_array, write_stripped,
};
use super::{
    PREDEFINED, TransformContext, TransformError, VAR_EVENT, VAR_EVENT_JSON, VAR_INGESTION_TIME,
    VAR_RULE_ARN, VAR_RULE_NAME,
};
use crate::definitions::InputTransformer;
use crate::event::format_time;

/// A piece of a template: literal text, or a placeholder and whether it stands inside a JSON
/// string literal of the template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Tok<'t> {
    Lit(&'t str),
    Var { name: &'t str, in_string: bool },
}

/// Whether `name` is shaped like a variable (`[A-Za-z0-9_.-]+`).
fn is_var_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// Splits a template into literal text and placeholders (`<name>` with a variable-shaped name
/// for which `defined` holds), tracking JSON string literals (`"` toggles, `\` escapes inside).
pub(super) fn tokenize<'t>(template: &'t str, defined: impl Fn(&str) -> bool) -> Vec<Tok<'t>> {
    let bytes = template.as_bytes();
    let mut tokens = Vec::new();
    let mut lit_start = 0;
    let mut in_string = false;
    let mut escaped = false;
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if escaped {
            escaped = false;
            i += 1;
            continue;
        }
        match b {
            b'\\' if in_string => escaped = true,
            b'"' => in_string = !in_string,
            b'<' => {
                let rest = template.get(i + 1..).unwrap_or("");
                if let Some(close) = rest.find('>') {
                    let name = rest.get(..close).unwrap_or("");
                    if is_var_name(name) && defined(name) {
                        if lit_start < i {
                            tokens.push(Tok::Lit(template.get(lit_start..i).unwrap_or("")));
                        }
                        tokens.push(Tok::Var { name, in_string });
                        i += close + 2;
                        lit_start = i;
                        continue;
                    }
                }
            }
            _ => {}
        }
        i += 1;
    }
    if lit_start < template.len() {
        tokens.push(Tok::Lit(template.get(lit_start..).unwrap_or("")));
    }
    tokens
}

/// Whether the template is JSON once bare placeholders are read as values.
fn is_json_template(tokens: &[Tok<'_>]) -> bool {
    let mut probe = String::new();
    for tok in tokens {
        match tok {
            Tok::Lit(text) => probe.push_str(text),
            Tok::Var {
                in_string: false, ..
            } => probe.push_str("null"),
            Tok::Var {
                in_string: true, ..
            } => probe.push('x'),
        }
    }
    parse_json(&probe).is_ok()
}

/// A variable's value, ready to be written in any position.
#[derive(Debug, Clone)]
enum Val {
    /// The path selected nothing.
    Missing,
    /// A JSON string, decoded.
    Str(String),
    /// A number, boolean or `null`, as JSON text.
    Scalar(String),
    /// An object or array: minified JSON, and the same with every quote removed.
    Compound { json: String, stripped: String },
    /// JSON inserted as it is (the predefined event variables).
    RawJson(String),
}

impl Val {
    fn of_node(node: &Value<'_>) -> Val {
        match node {
            Value::String(s) => Val::Str(decode_str(s).into_owned()),
            Value::Null | Value::Bool(_) | Value::Number(_) => {
                let mut s = String::new();
                write_json(&mut s, node);
                Val::Scalar(s)
            }
            Value::Array(_) | Value::Object(_) => {
                let mut json = String::new();
                write_json(&mut json, node);
                let mut stripped = String::new();
                write_stripped(&mut stripped, node);
                Val::Compound { json, stripped }
            }
        }
    }

    fn of_nodes(nodes: &[&Value<'_>]) -> Val {
        let mut json = String::new();
        write_json_array(&mut json, nodes);
        let mut stripped = String::from("[");
        for (i, node) in nodes.iter().enumerate() {
            if i > 0 {
                stripped.push(',');
            }
            write_stripped(&mut stripped, node);
        }
        stripped.push(']');
        Val::Compound { json, stripped }
    }
}

pub(super) fn render_template(
    t: &InputTransformer,
    event_json: &str,
    cx: &TransformContext<'_>,
) -> Result<String, TransformError> {
    let root = parse_event(event_json)?;
    let empty = BTreeMap::new();
    let map = t.input_paths_map.as_ref().unwrap_or(&empty);
    let template = t.input_template.as_str();
    let tokens = tokenize(template, |name| {
        PREDEFINED.contains(&name) || map.contains_key(name)
    });
    let json_mode = is_json_template(&tokens);

    let mut values: BTreeMap<&str, Val> = BTreeMap::new();
    let mut out = String::with_capacity(template.len() + 64);
    for tok in &tokens {
        match *tok {
            Tok::Lit(text) => out.push_str(text),
            Tok::Var { name, in_string } => {
                if !values.contains_key(name) {
                    let v = resolve(name, map, &root, cx)?;
                    values.insert(name, v);
                }
                if let Some(val) = values.get(name) {
                    write_val(&mut out, val, json_mode, in_string);
                }
            }
        }
    }
    if json_mode && let Ok(node) = parse_json(&out) {
        let mut minified = String::with_capacity(out.len());
        write_json(&mut minified, &node);
        return Ok(minified);
    }
    Ok(out)
}

/// The value of one defined variable.
fn resolve(
    name: &str,
    map: &BTreeMap<String, String>,
    root: &Value<'_>,
    cx: &TransformContext<'_>,
) -> Result<Val, TransformError> {
    match name {
        VAR_RULE_ARN => return Ok(Val::Str(cx.rule_arn.to_owned())),
        VAR_RULE_NAME => return Ok(Val::Str(cx.rule_name.to_owned())),
        VAR_INGESTION_TIME => return Ok(Val::Str(format_time(cx.ingestion_time_ms))),
        VAR_EVENT => {
            let mut s = String::new();
            write_json(&mut s, &event_without_detail(root));
            return Ok(Val::RawJson(s));
        }
        VAR_EVENT_JSON => {
            let mut s = String::new();
            write_json(&mut s, root);
            return Ok(Val::RawJson(s));
        }
        _ => {}
    }
    let Some(path) = map.get(name) else {
        return Ok(Val::Missing);
    };
    let path = parse_path(path)?;
    Ok(match select(root, &path) {
        Selected::Missing => Val::Missing,
        Selected::One(node) => Val::of_node(node),
        Selected::Many(nodes) => Val::of_nodes(&nodes),
    })
}

/// `<aws.events.event>`: the envelope without `detail`, `detail-type` as `detailType`, members
/// in AWS's order.
fn event_without_detail<'a>(root: &Value<'a>) -> Value<'a> {
    const ORDER: [&str; 8] = [
        "id",
        "account",
        "detail-type",
        "time",
        "source",
        "region",
        "resources",
        "version",
    ];
    let Value::Object(members) = root else {
        return root.clone();
    };
    let mut out: Vec<(Str<'a>, Value<'a>)> = Vec::with_capacity(members.len());
    for key in ORDER {
        if let Some((k, v)) = members.iter().rev().find(|(k, _)| key_is(k, key)) {
            if key == "detail-type" {
                if let Some(renamed) = Str::unescaped("\"detailType\"") {
                    out.push((renamed, v.clone()));
                }
            } else {
                out.push((*k, v.clone()));
            }
        }
    }
    for (k, v) in members {
        let name = decode_str(k);
        if name != "detail"
            && !ORDER.contains(&name.as_ref())
            && !out.iter().any(|(o, _)| decode_str(o) == name)
        {
            out.push((*k, v.clone()));
        }
    }
    Value::Object(out)
}

fn write_val(out: &mut String, val: &Val, json_mode: bool, in_string: bool) {
    match (json_mode, in_string) {
        (true, false) => match val {
            Val::Missing => out.push_str("\"\""),
            Val::Str(s) => write_json_string(out, s),
            Val::Scalar(t) | Val::Compound { json: t, .. } | Val::RawJson(t) => out.push_str(t),
        },
        (true, true) => match val {
            Val::Missing => {}
            Val::Str(s) | Val::Scalar(s) | Val::Compound { stripped: s, .. } | Val::RawJson(s) => {
                push_escaped(out, s)
            }
        },
        (false, _) => match val {
            Val::Missing => {}
            Val::Str(s) | Val::Scalar(s) | Val::Compound { stripped: s, .. } | Val::RawJson(s) => {
                out.push_str(s)
            }
        },
    }
}

/// Appends `s` escaped for the inside of a JSON string literal (no quotes added).
fn push_escaped(out: &mut String, s: &str) {
    let mut quoted = String::with_capacity(s.len() + 2);
    write_json_string(&mut quoted, s);
    out.push_str(
        quoted
            .strip_prefix('"')
            .and_then(|q| q.strip_suffix('"'))
            .unwrap_or(""),
    );
}
