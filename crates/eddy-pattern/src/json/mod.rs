//! eddy's one JSON reader: the grammar (white space, literals, numbers, strings and their
//! escapes) written once, and the ways of walking a text with it.
//!
//! * [`validate()`] checks a text without building anything, without recursion (the API layer
//!   runs it on every event's `Detail`, so it is on the PutEvents path);
//! * [`read`] builds a borrowed tree ([`Value`]) that keeps every number and string literal as it
//!   is spelled in the text and object members in order (duplicates included); strings are
//!   decoded only when asked ([`Str::decode`]). Its caller picks the depth limit and whether a
//!   lone surrogate escape is refused ([`ReadLimits`]). Target input shaping
//!   (`eddy-model`'s `transform`) reads events with it;
//! * [`parse`] builds an owned tree ([`Json`], strings decoded) for patterns and the CLI, with
//!   the same tree reader as [`read`] (at [`MAX_DEPTH`], lone surrogates refused);
//! * the event scanner (the crate's `scan` module, the matcher's hot path) reads events lazily
//!   with the same number grammar and string decoding, recording only the values some pattern
//!   uses and skipping the rest a word at a time (its own string and bracket skipping, tuned for
//!   that path; `Pattern::matches` validates an event with [`read`] before scanning it).
//!
//! None of them panics on any input, and each bounds its nesting depth.
//!
//! All are strict where JSON parsers differ: a `\u` escape of a lone UTF-16 surrogate
//! (`"\ud800"`) is refused, because no Rust string, and no UTF-8 text, can hold it (serde_json
//! refuses it too; decoding it to U+FFFD would match a value nobody sent). [`read`] can be told
//! to keep such a literal as it is spelled instead ([`LoneSurrogates::Keep`]), for a reader that
//! only passes text through.
//!
//! # Layout
//!
//! `grammar` (private): the lexical rules and string decoding every reader shares; `validate`:
//! [`validate()`]; `tree`: [`read`], [`Value`], [`Str`], and the builder behind [`parse`].

mod grammar;
mod tree;
mod validate;

use std::fmt::Write as _;

pub(crate) use grammar::{number_end, unescape_into};
pub use tree::{LoneSurrogates, ReadLimits, Str, Value, read};
pub use validate::validate;

/// Maximum nesting depth accepted; deeper input is rejected rather than risking the stack.
pub const MAX_DEPTH: usize = 256;

/// A parsed JSON value. Numbers keep their source spelling.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    /// The number exactly as written (already checked against the JSON grammar).
    Number(String),
    String(String),
    Array(Vec<Json>),
    /// Members in source order; duplicate keys are kept.
    Object(Vec<(String, Json)>),
}

impl Json {
    /// Looks a member up in an object (the first one with that key).
    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Object(members) => members.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Compact JSON text for this value (numbers as originally spelled).
    pub fn to_json_string(&self) -> String {
        let mut out = String::new();
        self.write_to(&mut out);
        out
    }

    fn write_to(&self, out: &mut String) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Number(n) => out.push_str(n),
            Json::String(s) => write_json_string(out, s),
            Json::Array(items) => {
                out.push('[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    v.write_to(out);
                }
                out.push(']');
            }
            Json::Object(members) => {
                out.push('{');
                for (i, (k, v)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_json_string(out, k);
                    out.push(':');
                    v.write_to(out);
                }
                out.push('}');
            }
        }
    }
}

/// Writes `s` as a JSON string literal.
pub fn write_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                write!(out, "\\u{:04x}", c as u32).ok();
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Why a text is not JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError {
    /// Byte offset where reading failed.
    pub offset: usize,
    /// What was wrong.
    pub reason: &'static str,
}

/// What a JSON text is at its top level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopLevel {
    Object,
    Array,
    /// A string, number, boolean or `null`.
    Scalar,
}

/// [`JsonError::reason`] when nesting goes past the limit ([`MAX_DEPTH`] or [`validate()`]'s).
pub const TOO_DEEP: &str = "nesting too deep";

/// [`JsonError::reason`] for a `\u` escape of a lone UTF-16 surrogate.
pub const LONE_SURROGATE: &str = "lone surrogate in \\u escape";

/// Parses one JSON value filling the whole text (surrounding whitespace allowed), nested at most
/// [`MAX_DEPTH`] deep, refusing lone surrogate escapes.
pub fn parse(src: &str) -> Result<Json, JsonError> {
    tree::parse_owned(src)
}

/// Like [`parse`] on bytes, which must be UTF-8.
pub fn parse_bytes(src: &[u8]) -> Result<Json, JsonError> {
    let text = std::str::from_utf8(src).map_err(|e| JsonError {
        offset: e.valid_up_to(),
        reason: "invalid UTF-8",
    })?;
    parse(text)
}
