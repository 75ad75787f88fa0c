//! The event as a JSON tree, for input shaping: read with eddy's one JSON reader
//! ([`eddy_pattern::json::read`], which keeps every literal as it is spelled and every object's
//! members in order, duplicates included), and written back minified or quote-stripped.
//!
//! Input shaping passes text through rather than interpreting it, so it reads more leniently
//! than the matcher: nesting up to [`MAX_DEPTH`] (the matcher's trees stop at 256), and a `\u`
//! escape of a lone surrogate is kept as it is spelled ([`LoneSurrogates::Keep`]); decoded, such
//! a string reads as its text between the quotes ([`decode_str`]).

use std::borrow::Cow;

use eddy_pattern::json::{self, LoneSurrogates, ReadLimits, Str, Value};

use super::TransformError;

/// Deepest JSON nesting read (deeper input is rejected rather than risking the stack).
pub(super) const MAX_DEPTH: usize = 512;

const LIMITS: ReadLimits = ReadLimits {
    max_depth: MAX_DEPTH,
    lone_surrogates: LoneSurrogates::Keep,
};

/// Reads the event (the envelope's JSON text).
pub(super) fn parse_event(event_json: &str) -> Result<Value<'_>, TransformError> {
    parse_json(event_json)
        .map_err(|why| TransformError::new(format!("The event is not valid JSON: {why}.")))
}

/// Reads any JSON text; the error says why and at which byte.
pub(super) fn parse_json(text: &str) -> Result<Value<'_>, String> {
    json::read(text, LIMITS).map_err(|e| format!("{} at byte {}", e.reason, e.offset))
}

/// Decodes a string literal. One holding a lone surrogate escape falls back to its text between
/// the quotes.
pub(super) fn decode_str<'a>(s: &Str<'a>) -> Cow<'a, str> {
    s.decode().unwrap_or(Cow::Borrowed(s.body()))
}

/// Whether an object key, decoded as [`decode_str`] does, is `name`.
pub(super) fn key_is(key: &Str<'_>, name: &str) -> bool {
    if key.has_escapes() {
        decode_str(key) == name
    } else {
        key.body() == name
    }
}

/// Minified JSON, member order and literal spellings kept.
pub(super) fn write_json(out: &mut String, node: &Value<'_>) {
    match node {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(text) => out.push_str(text),
        Value::String(s) => out.push_str(s.literal()),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(out, item);
            }
            out.push(']');
        }
        Value::Object(members) => {
            out.push('{');
            for (i, (key, value)) in members.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(key.literal());
                out.push(':');
                write_json(out, value);
            }
            out.push('}');
        }
    }
}

/// A JSON array of `nodes`, each as [`write_json`] writes it.
pub(super) fn write_json_array(out: &mut String, nodes: &[&Value<'_>]) {
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
pub(super) fn write_stripped(out: &mut String, node: &Value<'_>) {
    match node {
        Value::String(s) => out.extend(decode_str(s).chars().filter(|&c| c != '"')),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_stripped(out, item);
            }
            out.push(']');
        }
        Value::Object(members) => {
            out.push('{');
            for (i, (key, value)) in members.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.extend(decode_str(key).chars().filter(|&c| c != '"'));
                out.push(':');
                write_stripped(out, value);
            }
            out.push('}');
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => write_json(out, node),
    }
}
