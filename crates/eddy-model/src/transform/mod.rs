//! Target input shaping: what a rule's target receives instead of (or as) the matched event.
//!
//! This module owns the three EventBridge target options `Input`, `InputPath` and
//! `InputTransformer`: rendering them for one event ([`render_input`]) and validating them when a
//! target is put ([`check_path`], [`check_transformer`], [`check_target`]). It is pure: text in,
//! text out, no I/O. Sources: the EventBridge user guide page "Amazon EventBridge input
//! transformation" (examples and "Common issues"), the API reference (`Target`,
//! `InputTransformer`), and LocalStack's snapshot tests recorded against real AWS
//! (`tests/aws/services/events/test_events_inputs.snapshot.json`).
//!
//! # Which option wins
//!
//! `PutTargets` allows at most one of the three (see [`check_target`]). Should a stored target
//! carry several anyway, `Input` wins over `InputPath`, which wins over `InputTransformer`. With
//! none, the target receives the event envelope text unchanged.
//!
//! # `Input`
//!
//! Delivered verbatim (AWS requires it to be JSON text; [`check_target`] checks that).
//!
//! # JSON paths (`InputPath` and `InputPathsMap` values)
//!
//! The subset EventBridge documents: `$` (the whole event), dot steps (`$.detail.instance-id`;
//! names may hold any character but `.`, `[`, `]`, quotes and white space, so dashes,
//! underscores and forward slashes work), bracket steps with a quoted name (`$['detail']`,
//! `$["a.b"]`, with `\'`/`\"`/`\\` escapes), array indices (`[0]`; negative counts from the end,
//! as Jayway JsonPath does), and the wildcard (`.*` or `[*]`: every element of an array or every
//! member value of an object). Deep scan (`..`), filters, slices and unions are rejected.
//! Duplicate object keys resolve to the last one.
//!
//! A path without a wildcard selects one value or nothing. A path with a wildcard always
//! selects a JSON array of everything it reached (possibly `[]`), like Jayway's indefinite paths.
//!
//! # `InputPath`
//!
//! The target receives the JSON text of the selected value, minified with member order kept:
//! `$.detail` gives the detail object, `$.detail.state` gives `"RUNNING"` *with* the quotes
//! (AWS-recorded: an SQS body of `"baz"`). When the path selects nothing, [`render_input`]
//! returns the empty string. A selected value is never empty text, so callers can tell; what
//! AWS does there is not documented (LocalStack sends nothing), so the dispatcher decides.
//!
//! # `InputTransformer`
//!
//! `InputPathsMap` binds variables to paths; `<name>` in `InputTemplate` is a placeholder when
//! `name` is a map key or one of the predefined variables (which take precedence, being
//! reserved). Any other `<…>` text is left as it is ([`check_transformer`] rejects a `<name>`
//! that looks like a variable but is not defined, with AWS's message).
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
//!
//! [`check_target`] (and the pieces it uses) enforce: only one of `Input`/`InputPath`/
//! `InputTransformer` (AWS's exact message); `Input` is JSON; paths ≤ 256 characters and in the
//! subset above; `InputTemplate` 1–8192 characters; ≤ 100 `InputPathsMap` entries whose keys
//! match `[A-Za-z0-9_-]{1,256}` and do not start with `aws.`; every `<name>` placeholder defined
//! (AWS's exact message); no bare placeholder as an object key of a template that is a JSON
//! object. The wording of messages other than the two AWS-recorded ones is eddy's.

use std::collections::BTreeMap;
use std::fmt;

use crate::definitions::{InputTransformer, TargetDef};
use eddy_pattern::json::write_json_string;

use crate::event::format_time;

/// Longest `InputPath` or `InputPathsMap` value AWS accepts.
pub const MAX_PATH_LEN: usize = 256;
/// Longest `InputTemplate` AWS accepts (characters).
pub const MAX_TEMPLATE_LEN: usize = 8192;
/// Most `InputPathsMap` entries AWS accepts.
pub const MAX_VARIABLES: usize = 100;
/// Longest `InputPathsMap` key AWS accepts.
pub const MAX_VARIABLE_NAME_LEN: usize = 256;

/// `<aws.events.rule-arn>`.
pub const VAR_RULE_ARN: &str = "aws.events.rule-arn";
/// `<aws.events.rule-name>`.
pub const VAR_RULE_NAME: &str = "aws.events.rule-name";
/// `<aws.events.event.ingestion-time>`.
pub const VAR_INGESTION_TIME: &str = "aws.events.event.ingestion-time";
/// `<aws.events.event>`.
pub const VAR_EVENT: &str = "aws.events.event";
/// `<aws.events.event.json>`.
pub const VAR_EVENT_JSON: &str = "aws.events.event.json";

const PREDEFINED: [&str; 5] = [
    VAR_RULE_ARN,
    VAR_RULE_NAME,
    VAR_INGESTION_TIME,
    VAR_EVENT,
    VAR_EVENT_JSON,
];

/// Deepest JSON nesting parsed (deeper input is rejected rather than risking the stack).
const MAX_DEPTH: usize = 512;

/// What the predefined variables need.
#[derive(Debug, Clone, Copy)]
pub struct TransformContext<'a> {
    pub rule_arn: &'a str,
    pub rule_name: &'a str,
    /// When EventBridge accepted the event, milliseconds since the epoch.
    pub ingestion_time_ms: i64,
}

/// Why a target's input could not be rendered or validated. `Display` gives the reason, worded
/// for a `ValidationException` message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransformError {
    message: String,
}

impl TransformError {
    fn new(message: impl Into<String>) -> Self {
        TransformError {
            message: message.into(),
        }
    }

    /// The reason, as `Display` writes it.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for TransformError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for TransformError {}

// ---------------------------------------------------------------------------------------------
// Public API

/// The payload a target receives for `event_json` (the full envelope as JSON text): the event
/// itself when the target sets none of Input/InputPath/InputTransformer; the constant `Input`;
/// the value at `InputPath` (empty when the path selects nothing); or the rendered
/// `InputTemplate`. See the module docs for the exact rules.
pub fn render_input(
    target: &TargetDef,
    event_json: &str,
    cx: &TransformContext<'_>,
) -> Result<String, TransformError> {
    if let Some(input) = &target.input {
        return Ok(input.clone());
    }
    if let Some(path) = &target.input_path {
        let path = parse_path(path)?;
        let root = parse_event(event_json)?;
        let mut out = String::new();
        match select(&root, &path) {
            Selected::Missing => {}
            Selected::One(node) => write_json(&mut out, node),
            Selected::Many(nodes) => write_json_array(&mut out, &nodes),
        }
        return Ok(out);
    }
    if let Some(transformer) = &target.input_transformer {
        return render_template(transformer, event_json, cx);
    }
    Ok(event_json.to_owned())
}

/// Validates a JSON path as EventBridge accepts it in InputPath / InputPathsMap values (for
/// PutTargets): at most 256 characters, in the subset the module docs describe.
pub fn check_path(path: &str) -> Result<(), TransformError> {
    if path.chars().count() > MAX_PATH_LEN {
        return Err(TransformError::new(format!(
            "Invalid JSON path {path:?}: longer than {MAX_PATH_LEN} characters."
        )));
    }
    parse_path(path).map(drop)
}

/// Validates an InputTransformer at PutTargets time: template length, the number and form of
/// `InputPathsMap` keys (reserved `aws.` prefix), its paths, undefined placeholders, and no
/// placeholder as an object key. Messages name no target; [`check_target`] words them with one.
pub fn check_transformer(t: &InputTransformer) -> Result<(), TransformError> {
    check_transformer_for(t, None)
}

/// Validates a whole target's input options at PutTargets time: only one of Input, InputPath
/// and InputTransformer; Input is JSON text; then [`check_path`] / [`check_transformer`], with
/// messages naming the target as AWS does.
pub fn check_target(target: &TargetDef) -> Result<(), TransformError> {
    let id = target.id.as_str();
    let set = usize::from(target.input.is_some())
        + usize::from(target.input_path.is_some())
        + usize::from(target.input_transformer.is_some());
    if set > 1 {
        return Err(TransformError::new(format!(
            "Only one of Input, InputPath, or InputTransformer must be provided for target {id}."
        )));
    }
    // A `\u` escape of a lone UTF-16 surrogate is refused too: the JSON readers downstream
    // (serde_json, in function destinations' records) refuse it, so it could not be delivered
    // as the same JSON.
    if let Some(input) = &target.input
        && (parse_json(input).is_err()
            || eddy_pattern::json::validate(input, usize::MAX)
                .is_err_and(|e| e.reason == eddy_pattern::json::LONE_SURROGATE))
    {
        return Err(TransformError::new(format!(
            "Input for target {id} is not valid JSON text."
        )));
    }
    if let Some(path) = &target.input_path
        && let Err(e) = check_path(path)
    {
        return Err(TransformError::new(format!(
            "InputPath for target {id} is invalid: {e}"
        )));
    }
    if let Some(t) = &target.input_transformer {
        check_transformer_for(t, Some(id))?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Validation

fn check_transformer_for(
    t: &InputTransformer,
    target_id: Option<&str>,
) -> Result<(), TransformError> {
    let for_target = target_id
        .map(|id| format!(" for target {id}"))
        .unwrap_or_default();
    let template = t.input_template.as_str();
    let len = template.chars().count();
    if len == 0 || len > MAX_TEMPLATE_LEN {
        return Err(TransformError::new(format!(
            "InputTemplate{for_target} must be between 1 and {MAX_TEMPLATE_LEN} characters long."
        )));
    }
    let empty = BTreeMap::new();
    let map = t.input_paths_map.as_ref().unwrap_or(&empty);
    if map.len() > MAX_VARIABLES {
        return Err(TransformError::new(format!(
            "InputPathsMap{for_target} has {} entries; at most {MAX_VARIABLES} are allowed.",
            map.len()
        )));
    }
    for (key, path) in map {
        if key.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("aws.")) {
            return Err(TransformError::new(format!(
                "InputPathsMap{for_target} key {key} is reserved: keys cannot start with \"aws.\"."
            )));
        }
        if key.is_empty()
            || key.len() > MAX_VARIABLE_NAME_LEN
            || !key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(TransformError::new(format!(
                "InputPathsMap{for_target} key {key:?} is invalid: keys must be 1 to \
                 {MAX_VARIABLE_NAME_LEN} characters of [A-Za-z0-9_-]."
            )));
        }
        if let Err(e) = check_path(path) {
            return Err(TransformError::new(format!(
                "InputPathsMap{for_target} value for key {key} is invalid: {e}"
            )));
        }
    }
    let tokens = tokenize(template, |_| true);
    for tok in &tokens {
        if let Tok::Var { name, .. } = tok
            && !map.contains_key(*name)
            && !PREDEFINED.contains(name)
        {
            return Err(TransformError::new(format!(
                "InputTemplate{for_target} contains invalid placeholder {name}."
            )));
        }
    }
    if template.trim_start().starts_with('{') {
        for (i, tok) in tokens.iter().enumerate() {
            if let Tok::Var {
                name,
                in_string: false,
            } = tok
                && tokens
                    .get(i + 1)
                    .and_then(|next| match next {
                        Tok::Lit(text) => text.trim_start().chars().next(),
                        Tok::Var { .. } => None,
                    })
                    .is_some_and(|c| c == ':')
            {
                return Err(TransformError::new(format!(
                    "InputTemplate{for_target} uses placeholder {name} as an object key; \
                     a placeholder cannot be used as an object key."
                )));
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Templates

/// A piece of a template: literal text, or a placeholder and whether it stands inside a JSON
/// string literal of the template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok<'t> {
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
fn tokenize<'t>(template: &'t str, defined: impl Fn(&str) -> bool) -> Vec<Tok<'t>> {
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
    fn of_node(node: &Node<'_>) -> Val {
        match node {
            Node::Str(raw) => Val::Str(decode_str(raw)),
            Node::Null | Node::Bool(_) | Node::Num(_) => {
                let mut s = String::new();
                write_json(&mut s, node);
                Val::Scalar(s)
            }
            Node::Arr(_) | Node::Obj(_) => {
                let mut json = String::new();
                write_json(&mut json, node);
                let mut stripped = String::new();
                write_stripped(&mut stripped, node);
                Val::Compound { json, stripped }
            }
        }
    }

    fn of_nodes(nodes: &[&Node<'_>]) -> Val {
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

fn render_template(
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
    root: &Node<'_>,
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
fn event_without_detail<'a>(root: &Node<'a>) -> Node<'a> {
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
    let Node::Obj(members) = root else {
        return root.clone();
    };
    let mut out = Vec::with_capacity(members.len());
    for key in ORDER {
        if let Some(m) = members.iter().rev().find(|m| m.key == key) {
            if key == "detail-type" {
                out.push(Member {
                    raw_key: "\"detailType\"",
                    key: "detailType".to_owned(),
                    value: m.value.clone(),
                });
            } else {
                out.push(m.clone());
            }
        }
    }
    for m in members {
        if m.key != "detail"
            && !ORDER.contains(&m.key.as_str())
            && !out.iter().any(|o| o.key == m.key)
        {
            out.push(m.clone());
        }
    }
    Node::Obj(out)
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

// ---------------------------------------------------------------------------------------------
// JSON paths

#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Name(String),
    Index(i64),
    Wild,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Path {
    steps: Vec<Step>,
}

impl Path {
    fn is_indefinite(&self) -> bool {
        self.steps.contains(&Step::Wild)
    }
}

fn path_error(path: &str, why: &str) -> TransformError {
    TransformError::new(format!("Invalid JSON path {path:?}: {why}."))
}

fn parse_path(path: &str) -> Result<Path, TransformError> {
    let text = path.trim();
    let mut chars = text.char_indices().peekable();
    if chars.next().map(|(_, c)| c) != Some('$') {
        return Err(path_error(path, "a path must start with $"));
    }
    let mut steps = Vec::new();
    while let Some((_, c)) = chars.next() {
        match c {
            '.' => match chars.peek().map(|&(_, c)| c) {
                None => return Err(path_error(path, "a name must follow '.'")),
                Some('.') => {
                    return Err(path_error(path, "deep scan (..) is not supported"));
                }
                Some('[') => return Err(path_error(path, "'[' cannot follow '.'")),
                Some(_) => {
                    let mut name = String::new();
                    while let Some(&(_, c)) = chars.peek() {
                        if c == '.' || c == '[' {
                            break;
                        }
                        if c == ']' || c == '\'' || c == '"' || c.is_whitespace() {
                            return Err(path_error(
                                path,
                                &format!("character {c:?} is not allowed in a dot-notation name"),
                            ));
                        }
                        name.push(c);
                        chars.next();
                    }
                    steps.push(if name == "*" {
                        Step::Wild
                    } else {
                        Step::Name(name)
                    });
                }
            },
            '[' => {
                let step = match chars.peek().map(|&(_, c)| c) {
                    Some('*') => {
                        chars.next();
                        Step::Wild
                    }
                    Some(q @ ('\'' | '"')) => {
                        chars.next();
                        let mut name = String::new();
                        let mut closed = false;
                        while let Some((_, c)) = chars.next() {
                            if c == '\\' {
                                match chars.next() {
                                    Some((_, e @ ('\\' | '\'' | '"'))) => name.push(e),
                                    _ => return Err(path_error(path, "invalid escape in a name")),
                                }
                            } else if c == q {
                                closed = true;
                                break;
                            } else {
                                name.push(c);
                            }
                        }
                        if !closed {
                            return Err(path_error(path, "unterminated quoted name"));
                        }
                        Step::Name(name)
                    }
                    Some(c) if c == '-' || c.is_ascii_digit() => {
                        let mut digits = String::new();
                        while let Some(&(_, c)) = chars.peek() {
                            if c == '-' || c.is_ascii_digit() {
                                digits.push(c);
                                chars.next();
                            } else {
                                break;
                            }
                        }
                        match digits.parse::<i64>() {
                            Ok(n) => Step::Index(n),
                            Err(_) => return Err(path_error(path, "invalid array index")),
                        }
                    }
                    Some('?') => {
                        return Err(path_error(path, "filter expressions are not supported"));
                    }
                    _ => return Err(path_error(path, "expected an index, '*' or a quoted name")),
                };
                match chars.next().map(|(_, c)| c) {
                    Some(']') => steps.push(step),
                    Some(':') => return Err(path_error(path, "array slices are not supported")),
                    Some(',') => return Err(path_error(path, "unions are not supported")),
                    _ => return Err(path_error(path, "expected ']'")),
                }
            }
            other => {
                return Err(path_error(
                    path,
                    &format!("unexpected character {other:?}; expected '.' or '['"),
                ));
            }
        }
    }
    Ok(Path { steps })
}

enum Selected<'n, 'a> {
    Missing,
    One(&'n Node<'a>),
    Many(Vec<&'n Node<'a>>),
}

fn select<'n, 'a>(root: &'n Node<'a>, path: &Path) -> Selected<'n, 'a> {
    let mut current: Vec<&'n Node<'a>> = vec![root];
    for step in &path.steps {
        let mut next = Vec::with_capacity(current.len());
        for node in current {
            match (step, node) {
                (Step::Name(name), Node::Obj(members)) => {
                    if let Some(m) = members.iter().rev().find(|m| &m.key == name) {
                        next.push(&m.value);
                    }
                }
                (Step::Index(i), Node::Arr(items)) => {
                    let len = i64::try_from(items.len()).unwrap_or(i64::MAX);
                    let at = if *i < 0 { len.saturating_add(*i) } else { *i };
                    if let Some(item) = usize::try_from(at).ok().and_then(|at| items.get(at)) {
                        next.push(item);
                    }
                }
                (Step::Wild, Node::Arr(items)) => next.extend(items.iter()),
                (Step::Wild, Node::Obj(members)) => next.extend(members.iter().map(|m| &m.value)),
                _ => {}
            }
        }
        current = next;
    }
    if path.is_indefinite() {
        Selected::Many(current)
    } else {
        match current.first() {
            Some(node) => Selected::One(node),
            None => Selected::Missing,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// A small order-preserving JSON reader (serde_json's `Value` sorts keys unless a feature is on,
// and the output must keep the event's member order).

#[derive(Debug, Clone, PartialEq)]
struct Member<'a> {
    /// The key as written, quotes included.
    raw_key: &'a str,
    /// The key decoded.
    key: String,
    value: Node<'a>,
}

#[derive(Debug, Clone, PartialEq)]
enum Node<'a> {
    Null,
    Bool(bool),
    /// The number as written.
    Num(&'a str),
    /// The string literal as written, quotes included.
    Str(&'a str),
    Arr(Vec<Node<'a>>),
    Obj(Vec<Member<'a>>),
}

fn parse_event(event_json: &str) -> Result<Node<'_>, TransformError> {
    parse_json(event_json)
        .map_err(|why| TransformError::new(format!("The event is not valid JSON: {why}.")))
}

fn parse_json(text: &str) -> Result<Node<'_>, String> {
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
fn decode_str(raw: &str) -> String {
    serde_json::from_str::<String>(raw).unwrap_or_else(|_| {
        raw.strip_prefix('"')
            .and_then(|r| r.strip_suffix('"'))
            .unwrap_or(raw)
            .to_owned()
    })
}

/// Minified JSON, member order and literal spellings kept.
fn write_json(out: &mut String, node: &Node<'_>) {
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

fn write_json_array(out: &mut String, nodes: &[&Node<'_>]) {
    out.push('[');
    for (i, node) in nodes.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_json(out, node);
    }
    out.push(']');
}

/// JSON with every quote removed (strings and keys written decoded, without their quotes and
/// without any quote they contain): how AWS writes an object or array referenced in a string.
fn write_stripped(out: &mut String, node: &Node<'_>) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    /// The user guide's example EC2 event, as eddy writes envelopes (compact).
    const EC2_EVENT: &str = r#"{"version":"0","id":"7bf73129-1428-4cd3-a780-95db273d1602","detail-type":"EC2 Instance State-change Notification","source":"aws.ec2","account":"123456789012","time":"2015-11-11T21:29:54Z","region":"us-east-1","resources":["arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111"],"detail":{"instance-id":"i-0123456789","state":"RUNNING"}}"#;

    const RULE_ARN: &str = "arn:aws:events:us-east-2:123456789012:rule/example";

    fn cx() -> TransformContext<'static> {
        TransformContext {
            rule_arn: RULE_ARN,
            rule_name: "example",
            // 2015-11-11T21:29:55.250Z
            ingestion_time_ms: 1_447_277_395_250,
        }
    }

    fn target() -> TargetDef {
        TargetDef {
            id: "t1".into(),
            arn: "arn:aws:sqs:us-east-1:123456789012:q".into(),
            role_arn: None,
            input: None,
            input_path: None,
            input_transformer: None,
            retry_policy: None,
            dead_letter_config: None,
            other: BTreeMap::new(),
        }
    }

    fn transformer(paths: &[(&str, &str)], template: &str) -> InputTransformer {
        InputTransformer {
            input_paths_map: Some(
                paths
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
            ),
            input_template: template.to_owned(),
        }
    }

    /// The user guide's input paths: timestamp, instance, state (and resource, from the newer
    /// revision of the page).
    fn guide_paths() -> Vec<(&'static str, &'static str)> {
        vec![
            ("timestamp", "$.time"),
            ("instance", "$.detail.instance-id"),
            ("state", "$.detail.state"),
            ("resource", "$.resources[0]"),
        ]
    }

    fn render_with(paths: &[(&str, &str)], template: &str, event: &str) -> String {
        let mut t = target();
        t.input_transformer = Some(transformer(paths, template));
        render_input(&t, event, &cx()).unwrap()
    }

    fn render(template: &str) -> String {
        render_with(&guide_paths(), template, EC2_EVENT)
    }

    fn with_path(path: &str, event: &str) -> Result<String, TransformError> {
        let mut t = target();
        t.input_path = Some(path.to_owned());
        render_input(&t, event, &cx())
    }

    fn json(text: &str) -> Value {
        serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
    }

    // --- no shaping, Input ---------------------------------------------------------------

    #[test]
    fn without_shaping_the_event_is_delivered_verbatim() {
        let odd = "{ \"a\" : 1 }";
        assert_eq!(render_input(&target(), odd, &cx()).unwrap(), odd);
        assert_eq!(
            render_input(&target(), EC2_EVENT, &cx()).unwrap(),
            EC2_EVENT
        );
    }

    #[test]
    fn constant_input_is_delivered_verbatim() {
        let mut t = target();
        t.input = Some("{ \"constant\" : [1, 2] }".into());
        assert_eq!(
            render_input(&t, EC2_EVENT, &cx()).unwrap(),
            "{ \"constant\" : [1, 2] }"
        );
        // Input wins even over garbage events: the event is not read.
        assert_eq!(
            render_input(&t, "not json", &cx()).unwrap(),
            "{ \"constant\" : [1, 2] }"
        );
    }

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
        let event =
            r#"{"detail":{"a.b":1,"with space":2,"it's":3,"x-y_z":{"/p/q":4},"k":{"0":5}}}"#;
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

    // --- the user guide's template examples ---------------------------------------------------

    #[test]
    fn guide_simple_string() {
        assert_eq!(
            render(r#""instance <instance> is in <state>""#),
            r#""instance i-0123456789 is in RUNNING""#
        );
    }

    #[test]
    fn guide_string_with_escaped_quotes() {
        assert_eq!(
            render(r#""instance \"<instance>\" is in <state>""#),
            r#""instance \"i-0123456789\" is in RUNNING""#
        );
    }

    #[test]
    fn guide_string_with_quotes_as_the_cli_sends_it() {
        // "The AWS CLI escapes the slash characters and the result is
        // "instance "i-0123456789" is in RUNNING"": not JSON, substituted textually.
        assert_eq!(
            render(r#""instance "<instance>" is in <state>""#),
            r#""instance "i-0123456789" is in RUNNING""#
        );
    }

    #[test]
    fn guide_simple_json() {
        assert_eq!(
            render("{\n  \"instance\" : <instance>,\n  \"state\": <state>\n}"),
            r#"{"instance":"i-0123456789","state":"RUNNING"}"#
        );
    }

    #[test]
    fn guide_json_with_strings_and_variables() {
        let out = render(
            "{\n \"instance\" : <instance>,\n \"state\": \"<state>\",\n \"instanceStatus\": \"instance \\\"<instance>\\\" is in <state>\"\n}",
        );
        assert_eq!(
            out,
            r#"{"instance":"i-0123456789","state":"RUNNING","instanceStatus":"instance \"i-0123456789\" is in RUNNING"}"#
        );
        assert_eq!(
            json(&out)["instanceStatus"],
            "instance \"i-0123456789\" is in RUNNING"
        );
    }

    #[test]
    fn guide_json_with_a_mix_of_variables_and_static_information() {
        assert_eq!(
            render(
                "{\n  \"instance\" : <instance>,\n  \"state\": [ 9, <state>, true ],\n  \"Transformed\" : \"Yes\"\n}\n"
            ),
            r#"{"instance":"i-0123456789","state":[9,"RUNNING",true],"Transformed":"Yes"}"#
        );
    }

    #[test]
    fn guide_reserved_variables_in_json() {
        let out = render(
            "{\n  \"instance\" : <instance>,\n  \"state\": <state>,\n  \"ruleArn\" : <aws.events.rule-arn>,\n  \"ruleName\" : <aws.events.rule-name>,\n  \"originalEvent\" : <aws.events.event>\n}",
        );
        assert_eq!(
            out,
            concat!(
                r#"{"instance":"i-0123456789","state":"RUNNING","#,
                r#""ruleArn":"arn:aws:events:us-east-2:123456789012:rule/example","#,
                r#""ruleName":"example","originalEvent":{"#,
                r#""id":"7bf73129-1428-4cd3-a780-95db273d1602","account":"123456789012","#,
                r#""detailType":"EC2 Instance State-change Notification","#,
                r#""time":"2015-11-11T21:29:54Z","source":"aws.ec2","region":"us-east-1","#,
                r#""resources":["arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111"],"#,
                r#""version":"0"}}"#
            )
        );
    }

    #[test]
    fn guide_reserved_variables_in_a_string() {
        assert_eq!(
            render(r#""<aws.events.rule-name> triggered""#),
            r#""example triggered""#
        );
    }

    #[test]
    fn guide_cloudwatch_log_group_example_quotes_the_bare_timestamp() {
        // The guide shows `"timestamp" : 2015-11-11T21:29:54Z` (invalid JSON); eddy quotes it.
        let out = render(
            "{\n  \"timestamp\" : <timestamp>,\n  \"message\": \"instance \\\"<instance>\\\" is in <state>\"\n}",
        );
        assert_eq!(
            json(&out),
            json!({"timestamp": "2015-11-11T21:29:54Z", "message": "instance \"i-0123456789\" is in RUNNING"})
        );
    }

    #[test]
    fn guide_array_index_input_path() {
        assert_eq!(
            render("{\"resource\": <resource>}"),
            r#"{"resource":"arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111"}"#
        );
    }

    #[test]
    fn api_reference_examples() {
        let paths = [
            ("instance", "$.detail.instance"),
            ("status", "$.detail.status"),
        ];
        let event = r#"{"detail":{"instance":"i-1","status":"stopped"}}"#;
        assert_eq!(
            render_with(&paths, "<instance> is in state <status>", event),
            "i-1 is in state stopped"
        );
        assert_eq!(
            render_with(&paths, "<instance> is in state \"<status>\"", event),
            "i-1 is in state \"stopped\""
        );
        assert_eq!(
            render_with(
                &paths,
                r#"{"myInstance": <instance>,"myStatus": "<instance> is in state \"<status>\""}"#,
                event
            ),
            r#"{"myInstance":"i-1","myStatus":"i-1 is in state \"stopped\""}"#
        );
    }

    #[test]
    fn multi_line_text_templates_are_kept_as_written() {
        let out = render("\"<instance> - <state>\"\n\"Since: <timestamp>\"\n");
        assert_eq!(
            out,
            "\"i-0123456789 - RUNNING\"\n\"Since: 2015-11-11T21:29:54Z\"\n"
        );
    }

    // --- AWS-recorded behaviours (LocalStack snapshots) ---------------------------------------

    #[test]
    fn recorded_string_template_with_a_missing_variable_renders_nothing() {
        let paths = [
            ("detail-type", "$.detail-type"),
            ("timestamp", "$.time"),
            ("command", "$.detail.notinmessage"),
        ];
        let template = "\"Event of <detail-type> type, at time <timestamp>, info extracted from detail <command>\"";
        assert_eq!(
            render_with(&paths, template, EC2_EVENT),
            "\"Event of EC2 Instance State-change Notification type, at time 2015-11-11T21:29:54Z, info extracted from detail \""
        );
        let special =
            "\"{[/Check with special starting characters for event of <detail-type> type\"";
        assert_eq!(
            render_with(&paths, special, EC2_EVENT),
            "\"{[/Check with special starting characters for event of EC2 Instance State-change Notification type\""
        );
    }

    #[test]
    fn recorded_json_template_with_a_missing_bare_variable_renders_empty_string() {
        let paths = [
            ("detail-type", "$.detail-type"),
            ("timestamp", "$.time"),
            ("command", "$.detail.notinmessage"),
        ];
        assert_eq!(
            render_with(
                &paths,
                r#"{"detailType": <detail-type>,  "time": <timestamp>, "command": <command>}"#,
                EC2_EVENT
            ),
            r#"{"detailType":"EC2 Instance State-change Notification","time":"2015-11-11T21:29:54Z","command":""}"#
        );
        assert_eq!(
            render_with(&paths, "[<command>, \"<command>\"]", EC2_EVENT),
            r#"["",""]"#
        );
    }

    #[test]
    fn recorded_predefined_variables() {
        let out = render(
            "\"Message containing all pre defined variables <aws.events.rule-arn> <aws.events.rule-name> <aws.events.event.ingestion-time>\"",
        );
        assert_eq!(
            out,
            format!(
                "\"Message containing all pre defined variables {RULE_ARN} example 2015-11-11T21:29:55Z\""
            )
        );
        let out = render(
            r#"{"originalEvent": <aws.events.event>, "originalEventJson": <aws.events.event.json>}"#,
        );
        let v = json(&out);
        assert_eq!(v["originalEventJson"], json(EC2_EVENT));
        assert_eq!(
            v["originalEvent"]["detailType"],
            "EC2 Instance State-change Notification"
        );
        assert!(v["originalEvent"].get("detail").is_none());
        assert!(v["originalEvent"].get("detail-type").is_none());
    }

    #[test]
    fn predefined_variables_beat_a_map_entry_of_the_same_name() {
        let paths = [("aws.events.rule-name", "$.source")];
        assert_eq!(
            render_with(&paths, "<aws.events.rule-name>", EC2_EVENT),
            "\"example\""
        );
    }

    #[test]
    fn event_variable_keeps_extra_members_and_tolerates_non_objects() {
        let event = r#"{"detail-type":"d","extra":[1],"detail":{},"version":"0","id":"i"}"#;
        assert_eq!(
            render_with(&[], "<aws.events.event>", event),
            r#"{"id":"i","detailType":"d","version":"0","extra":[1]}"#
        );
        assert_eq!(render_with(&[], "<aws.events.event>", "[1, 2]"), "[1,2]");
    }

    // --- value kinds and positions ----------------------------------------------------------------

    const KINDS: &str = r#"{"detail":{"s":"say \"hi\"\\\n\tend","n":42,"f":-0.5,"t":true,"z":null,"o":{"a":"x","b":[1,"y"]},"arr":["p","q"],"e":""}}"#;

    fn kinds() -> Vec<(&'static str, &'static str)> {
        vec![
            ("s", "$.detail.s"),
            ("n", "$.detail.n"),
            ("f", "$.detail.f"),
            ("t", "$.detail.t"),
            ("z", "$.detail.z"),
            ("o", "$.detail.o"),
            ("arr", "$.detail.arr"),
            ("e", "$.detail.e"),
            ("many", "$.detail.arr[*]"),
            ("gone", "$.detail.gone"),
        ]
    }

    #[test]
    fn bare_values_in_a_json_template_are_json() {
        let out = render_with(
            &kinds(),
            r#"{"s": <s>, "n": <n>, "f": <f>, "t": <t>, "z": <z>, "o": <o>, "arr": <arr>, "e": <e>, "many": <many>, "gone": <gone>}"#,
            KINDS,
        );
        assert_eq!(
            out,
            r#"{"s":"say \"hi\"\\\n\tend","n":42,"f":-0.5,"t":true,"z":null,"o":{"a":"x","b":[1,"y"]},"arr":["p","q"],"e":"","many":["p","q"],"gone":""}"#
        );
        assert_eq!(json(&out)["s"], "say \"hi\"\\\n\tend");
    }

    #[test]
    fn values_inside_strings_of_a_json_template_are_text_escaped() {
        let out = render_with(
            &kinds(),
            r#"{"all": "s=<s> n=<n> f=<f> t=<t> z=<z> o=<o> arr=<arr> e=<e> gone=<gone>."}"#,
            KINDS,
        );
        assert_eq!(
            json(&out)["all"],
            "s=say \"hi\"\\\n\tend n=42 f=-0.5 t=true z=null o={a:x,b:[1,y]} arr=[p,q] e= gone=."
        );
    }

    #[test]
    fn objects_referenced_in_a_string_lose_their_quotes() {
        let paths = [("detail", "$.detail")];
        assert_eq!(
            render_with(&paths, "\"Detail is <detail>\"", EC2_EVENT),
            "\"Detail is {instance-id:i-0123456789,state:RUNNING}\""
        );
        assert_eq!(
            render_with(&paths, "Detail is <detail>", EC2_EVENT),
            "Detail is {instance-id:i-0123456789,state:RUNNING}"
        );
        // …and keep them as a JSON value.
        assert_eq!(
            render_with(&paths, "{\"detail\": <detail>}", EC2_EVENT),
            r#"{"detail":{"instance-id":"i-0123456789","state":"RUNNING"}}"#
        );
    }

    #[test]
    fn text_templates_insert_raw_characters() {
        let out = render_with(&kinds(), "s=<s> n=<n> o=<o> z=<z> gone=<gone>!", KINDS);
        assert_eq!(
            out,
            "s=say \"hi\"\\\n\tend n=42 o={a:x,b:[1,y]} z=null gone=!"
        );
        assert_eq!(
            render_with(&[], "event: <aws.events.event.json>", EC2_EVENT),
            format!("event: {EC2_EVENT}")
        );
    }

    #[test]
    fn a_lone_bare_placeholder_is_a_json_template() {
        let paths = [("detail", "$.detail"), ("state", "$.detail.state")];
        assert_eq!(
            render_with(&paths, " <detail> ", EC2_EVENT),
            r#"{"instance-id":"i-0123456789","state":"RUNNING"}"#
        );
        assert_eq!(render_with(&paths, "<state>", EC2_EVENT), "\"RUNNING\"");
        assert_eq!(
            render_with(&[], "<aws.events.event.json>", EC2_EVENT),
            EC2_EVENT
        );
    }

    #[test]
    fn event_variables_inside_a_json_string_stay_valid_json() {
        let out = render_with(&[], r#"{"e": "was <aws.events.event.json>"}"#, EC2_EVENT);
        assert_eq!(json(&out)["e"], format!("was {EC2_EVENT}"));
    }

    #[test]
    fn ingestion_time_is_iso_8601_utc_seconds() {
        let out = render_with(
            &[],
            "{\"at\": <aws.events.event.ingestion-time>}",
            EC2_EVENT,
        );
        assert_eq!(out, r#"{"at":"2015-11-11T21:29:55Z"}"#);
        let mut t = target();
        t.input_transformer = Some(transformer(&[], "<aws.events.event.ingestion-time>"));
        let zero = TransformContext {
            ingestion_time_ms: 1_767_225_600_000,
            ..cx()
        };
        assert_eq!(
            render_input(&t, EC2_EVENT, &zero).unwrap(),
            "\"2026-01-01T00:00:00Z\""
        );
    }

    #[test]
    fn non_placeholders_are_left_alone() {
        assert_eq!(render("\"a < b and c > d\""), "\"a < b and c > d\"");
        assert_eq!(
            render("\"<undefined> <instance>\""),
            "\"<undefined> i-0123456789\""
        );
        assert_eq!(render("<<instance>>"), "<i-0123456789>");
        assert_eq!(render("x <instance"), "x <instance");
        assert_eq!(render("{\"k\": \"<>\"}"), "{\"k\":\"<>\"}");
    }

    #[test]
    fn json_template_output_is_minified_but_strings_keep_their_spaces() {
        assert_eq!(
            render("{ \"a\" : [ 1 , { \"b c\" : \" <state> \" } ] }"),
            r#"{"a":[1,{"b c":" RUNNING "}]}"#
        );
        assert_eq!(
            render("  \"  padded <state>  \"  "),
            "\"  padded RUNNING  \""
        );
    }

    #[test]
    fn template_without_paths_map_and_without_placeholders() {
        let mut t = target();
        t.input_transformer = Some(InputTransformer {
            input_paths_map: None,
            input_template: "{\"static\": true}".into(),
        });
        assert_eq!(
            render_input(&t, EC2_EVENT, &cx()).unwrap(),
            r#"{"static":true}"#
        );
        t.input_transformer = Some(InputTransformer {
            input_paths_map: None,
            input_template: "plain text".into(),
        });
        assert_eq!(render_input(&t, EC2_EVENT, &cx()).unwrap(), "plain text");
    }

    #[test]
    fn unicode_survives() {
        let event = r#"{"detail":{"name":"Zoë 🚀","esc":"\u00e9\ud83d\ude80"}}"#;
        let paths = [("name", "$.detail.name"), ("esc", "$.detail.esc")];
        assert_eq!(
            render_with(&paths, "\"¡<name>! <esc>\"", event),
            "\"¡Zoë 🚀! é🚀\""
        );
        assert_eq!(render_with(&paths, "<name>", event), "\"Zoë 🚀\"");
    }

    #[test]
    fn template_errors() {
        let mut t = target();
        t.input_transformer = Some(transformer(&[("a", "$.detail")], "<a>"));
        assert!(render_input(&t, "{", &cx()).is_err());
        t.input_transformer = Some(transformer(&[("a", "not a path")], "<a>"));
        assert!(render_input(&t, EC2_EVENT, &cx()).is_err());
        let deep = format!(
            "{}{}",
            "[".repeat(MAX_DEPTH + 10),
            "]".repeat(MAX_DEPTH + 10)
        );
        t.input_transformer = Some(transformer(&[("a", "$")], "<a>"));
        let e = render_input(&t, &deep, &cx()).unwrap_err();
        assert!(e.to_string().contains("too deep"), "{e}");
    }

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

    // --- the JSON reader -------------------------------------------------------------------------

    #[test]
    fn reader_agrees_with_serde_json_on_validity() {
        for text in [
            "null",
            "true",
            "false",
            "0",
            "-0",
            "1.5",
            "1e5",
            "1E+5",
            "-1.25e-3",
            "\"\"",
            "\"\\u00e9\\n\"",
            "[]",
            "{}",
            " [1, {\"a\": [true]}] ",
            "{\"a\":1,\"a\":2}",
        ] {
            assert!(parse_json(text).is_ok(), "{text}");
            assert!(serde_json::from_str::<Value>(text).is_ok(), "{text}");
        }
        for text in [
            "",
            " ",
            "01",
            "1.",
            ".5",
            "+1",
            "1e",
            "-",
            "tru",
            "nul",
            "\"a",
            "\"\\x\"",
            "\"\\u12\"",
            "\"\u{1}\"",
            "[1,]",
            "{\"a\":1,}",
            "{a:1}",
            "[1 2]",
            "{\"a\" 1}",
            "1 2",
            "[",
            "{",
            "'a'",
        ] {
            assert!(parse_json(text).is_err(), "{text:?}");
            assert!(serde_json::from_str::<Value>(text).is_err(), "{text:?}");
        }
    }
}
