//! A small strict JSON reader for patterns (and the CLI): keeps numbers as their original text,
//! keeps object members in order (duplicates included), and never panics on any input.
//!
//! Patterns are tiny (at most a few KiB), so this builds a tree; events never go through here on
//! the hot path (see `scan`).

use std::fmt::Write as _;

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

/// Parses one JSON value filling the whole text (surrounding whitespace allowed).
pub fn parse(src: &str) -> Result<Json, JsonError> {
    parse_bytes(src.as_bytes())
}

/// Like [`parse`] on bytes; strings must be valid UTF-8.
pub fn parse_bytes(src: &[u8]) -> Result<Json, JsonError> {
    let mut p = Parser { b: src, i: 0 };
    p.ws();
    let v = p.value(0)?;
    p.ws();
    if p.i != p.b.len() {
        return Err(p.err("trailing characters"));
    }
    Ok(v)
}

struct Parser<'a> {
    b: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn err(&self, reason: &'static str) -> JsonError {
        JsonError {
            offset: self.i,
            reason,
        }
    }

    fn ws(&mut self) {
        while let Some(&c) = self.b.get(self.i) {
            if c == b' ' || c == b'\n' || c == b'\r' || c == b'\t' {
                self.i += 1;
            } else {
                break;
            }
        }
    }

    fn lit(&mut self, word: &[u8], v: Json) -> Result<Json, JsonError> {
        if self.b.get(self.i..self.i + word.len()) == Some(word) {
            self.i += word.len();
            Ok(v)
        } else {
            Err(self.err("invalid literal"))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Json, JsonError> {
        if depth > MAX_DEPTH {
            return Err(self.err("nesting too deep"));
        }
        match self.b.get(self.i) {
            None => Err(self.err("unexpected end")),
            Some(b'{') => {
                self.i += 1;
                let mut members = Vec::new();
                self.ws();
                if self.b.get(self.i) == Some(&b'}') {
                    self.i += 1;
                    return Ok(Json::Object(members));
                }
                loop {
                    self.ws();
                    if self.b.get(self.i) != Some(&b'"') {
                        return Err(self.err("expected a key"));
                    }
                    let k = self.string()?;
                    self.ws();
                    if self.b.get(self.i) != Some(&b':') {
                        return Err(self.err("expected ':'"));
                    }
                    self.i += 1;
                    self.ws();
                    let v = self.value(depth + 1)?;
                    members.push((k, v));
                    self.ws();
                    match self.b.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b'}') => {
                            self.i += 1;
                            return Ok(Json::Object(members));
                        }
                        _ => return Err(self.err("expected ',' or '}'")),
                    }
                }
            }
            Some(b'[') => {
                self.i += 1;
                let mut items = Vec::new();
                self.ws();
                if self.b.get(self.i) == Some(&b']') {
                    self.i += 1;
                    return Ok(Json::Array(items));
                }
                loop {
                    self.ws();
                    items.push(self.value(depth + 1)?);
                    self.ws();
                    match self.b.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b']') => {
                            self.i += 1;
                            return Ok(Json::Array(items));
                        }
                        _ => return Err(self.err("expected ',' or ']'")),
                    }
                }
            }
            Some(b'"') => Ok(Json::String(self.string()?)),
            Some(b't') => self.lit(b"true", Json::Bool(true)),
            Some(b'f') => self.lit(b"false", Json::Bool(false)),
            Some(b'n') => self.lit(b"null", Json::Null),
            Some(_) => {
                let end = number_end(self.b, self.i).ok_or_else(|| self.err("invalid number"))?;
                let text = std::str::from_utf8(&self.b[self.i..end])
                    .map_err(|_| self.err("invalid number"))?
                    .to_owned();
                self.i = end;
                Ok(Json::Number(text))
            }
        }
    }

    fn string(&mut self) -> Result<String, JsonError> {
        let start = self.i + 1;
        let (end, has_escape) = string_end(self.b, start).ok_or_else(|| self.err("bad string"))?;
        let raw = &self.b[start..end];
        let s = if has_escape {
            let mut out = Vec::with_capacity(raw.len());
            if !unescape_into(raw, &mut out) {
                return Err(self.err("bad escape"));
            }
            String::from_utf8(out).map_err(|_| self.err("invalid UTF-8"))?
        } else {
            std::str::from_utf8(raw)
                .map_err(|_| self.err("invalid UTF-8"))?
                .to_owned()
        };
        self.i = end + 1;
        Ok(s)
    }
}

/// Given `start` just after an opening quote, finds the closing quote. Returns its index and
/// whether any escape was seen. Rejects raw control characters.
pub(crate) fn string_end(b: &[u8], start: usize) -> Option<(usize, bool)> {
    let mut i = start;
    let mut esc = false;
    while let Some(&c) = b.get(i) {
        match c {
            b'"' => return Some((i, esc)),
            b'\\' => {
                esc = true;
                i += 2;
            }
            0..=0x1f => return None,
            _ => i += 1,
        }
    }
    None
}

/// Returns the end of a JSON number starting at `i`, or `None` if it does not follow the grammar.
pub(crate) fn number_end(b: &[u8], mut i: usize) -> Option<usize> {
    if b.get(i) == Some(&b'-') {
        i += 1;
    }
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => {
            while matches!(b.get(i), Some(b'0'..=b'9')) {
                i += 1;
            }
        }
        _ => return None,
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        if !matches!(b.get(i), Some(b'0'..=b'9')) {
            return None;
        }
        while matches!(b.get(i), Some(b'0'..=b'9')) {
            i += 1;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if !matches!(b.get(i), Some(b'0'..=b'9')) {
            return None;
        }
        while matches!(b.get(i), Some(b'0'..=b'9')) {
            i += 1;
        }
    }
    Some(i)
}

fn hex4(b: &[u8]) -> Option<u32> {
    if b.len() < 4 {
        return None;
    }
    let mut v = 0u32;
    for &c in &b[..4] {
        v = v * 16 + (c as char).to_digit(16)?;
    }
    Some(v)
}

/// Decodes the body of a JSON string (between the quotes) into `out`. Returns false on a bad
/// escape. Lone surrogates become U+FFFD.
pub(crate) fn unescape_into(raw: &[u8], out: &mut Vec<u8>) -> bool {
    let mut i = 0;
    while i < raw.len() {
        let c = raw[i];
        if c != b'\\' {
            out.push(c);
            i += 1;
            continue;
        }
        let Some(&e) = raw.get(i + 1) else {
            return false;
        };
        i += 2;
        let simple = match e {
            b'"' => b'"',
            b'\\' => b'\\',
            b'/' => b'/',
            b'b' => 8,
            b'f' => 12,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'u' => 0,
            _ => return false,
        };
        if e != b'u' {
            out.push(simple);
            continue;
        }
        let Some(hi) = hex4(&raw[i..]) else {
            return false;
        };
        i += 4;
        let cp = if (0xD800..0xDC00).contains(&hi) {
            if raw.get(i) == Some(&b'\\') && raw.get(i + 1) == Some(&b'u') {
                match hex4(&raw[i + 2..]) {
                    Some(lo) if (0xDC00..0xE000).contains(&lo) => {
                        i += 6;
                        0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                    }
                    Some(_) => 0xFFFD,
                    None => return false,
                }
            } else {
                0xFFFD
            }
        } else if (0xDC00..0xE000).contains(&hi) {
            0xFFFD
        } else {
            hi
        };
        let ch = char::from_u32(cp).unwrap_or('\u{FFFD}');
        let mut buf = [0u8; 4];
        out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
    }
    true
}
