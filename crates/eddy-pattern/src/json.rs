//! eddy's one JSON reader: the grammar (white space, literals, numbers, strings and their
//! escapes) written once, and the ways of walking a text with it.
//!
//! * [`validate`] checks a text without building anything, without recursion (the API layer runs
//!   it on every event's `Detail`, so it is on the PutEvents path);
//! * [`read`] builds a borrowed tree ([`Value`]) that keeps every number and string literal as it
//!   is spelled in the text and object members in order (duplicates included); strings are
//!   decoded only when asked ([`Str::decode`]). Its caller picks the depth limit and whether a
//!   lone surrogate escape is refused ([`ReadLimits`]). Target input shaping
//!   (`eddy-model`'s `transform`) reads events with it;
//! * [`parse`] builds an owned tree ([`Json`], strings decoded) for patterns and the CLI, on top
//!   of [`read`];
//! * the event scanner (the crate's `scan` module, the matcher's hot path) reads events lazily with
//!   the same number grammar and string decoding, recording only the values some pattern uses.
//!
//! None of them panics on any input, and each bounds its nesting depth.
//!
//! All are strict where JSON parsers differ: a `\u` escape of a lone UTF-16 surrogate
//! (`"\ud800"`) is refused, because no Rust string, and no UTF-8 text, can hold it (serde_json
//! refuses it too; decoding it to U+FFFD would match a value nobody sent). [`read`] can be told
//! to keep such a literal as it is spelled instead ([`LoneSurrogates::Keep`]), for a reader that
//! only passes text through.

use std::borrow::Cow;
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

/// What a JSON text is at its top level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopLevel {
    Object,
    Array,
    /// A string, number, boolean or `null`.
    Scalar,
}

/// [`JsonError::reason`] when nesting goes past the limit ([`MAX_DEPTH`] or [`validate`]'s).
pub const TOO_DEEP: &str = "nesting too deep";

/// [`JsonError::reason`] for a `\u` escape of a lone UTF-16 surrogate.
pub const LONE_SURROGATE: &str = "lone surrogate in \\u escape";

/// Checks that `src` is one JSON value (surrounding white space allowed) without building it:
/// the grammar, strings (no raw control characters, valid escapes, no lone surrogate escapes),
/// and no container nested deeper than `max_depth` (the outermost object or array is depth 1).
/// It keeps no recursion and at most `max_depth` bytes of state, so any input is safe.
pub fn validate(src: &str, max_depth: usize) -> Result<TopLevel, JsonError> {
    let mut p = Parser {
        b: src.as_bytes(),
        i: 0,
    };
    // One byte per open container: `{` or `[`.
    let mut open: Vec<u8> = Vec::new();
    p.ws();
    let top = match p.b.get(p.i) {
        Some(b'{') => TopLevel::Object,
        Some(b'[') => TopLevel::Array,
        _ => TopLevel::Scalar,
    };
    loop {
        // A value is expected here.
        p.ws();
        match p.b.get(p.i) {
            Some(&c @ (b'{' | b'[')) => {
                if open.len() >= max_depth {
                    return Err(p.err(TOO_DEEP));
                }
                p.i += 1;
                p.ws();
                let close = if c == b'{' { b'}' } else { b']' };
                if p.b.get(p.i) == Some(&close) {
                    p.i += 1;
                } else {
                    open.push(c);
                    if c == b'{' {
                        p.key()?;
                    }
                    continue;
                }
            }
            Some(b'"') => p.skip_string(LoneSurrogates::Refuse).map(drop)?,
            Some(b't') => p.skip_lit(b"true")?,
            Some(b'f') => p.skip_lit(b"false")?,
            Some(b'n') => p.skip_lit(b"null")?,
            Some(_) => p.i = number_end(p.b, p.i).ok_or_else(|| p.err("invalid number"))?,
            None => return Err(p.err("unexpected end")),
        }
        // A value ended: close containers until one has another member.
        loop {
            p.ws();
            let Some(&c) = open.last() else {
                if p.i != p.b.len() {
                    return Err(p.err("trailing characters"));
                }
                return Ok(top);
            };
            match (c, p.b.get(p.i)) {
                (_, Some(b',')) => {
                    p.i += 1;
                    if c == b'{' {
                        p.ws();
                        p.key()?;
                    }
                    break;
                }
                (b'{', Some(b'}')) | (b'[', Some(b']')) => {
                    p.i += 1;
                    open.pop();
                }
                (b'{', _) => return Err(p.err("expected ',' or '}'")),
                _ => return Err(p.err("expected ',' or ']'")),
            }
        }
    }
}

/// Parses one JSON value filling the whole text (surrounding whitespace allowed), nested at most
/// [`MAX_DEPTH`] deep, refusing lone surrogate escapes.
pub fn parse(src: &str) -> Result<Json, JsonError> {
    build::<Owned>(src, ReadLimits::default())
}

/// Like [`parse`] on bytes, which must be UTF-8.
pub fn parse_bytes(src: &[u8]) -> Result<Json, JsonError> {
    let text = std::str::from_utf8(src).map_err(|e| JsonError {
        offset: e.valid_up_to(),
        reason: "invalid UTF-8",
    })?;
    parse(text)
}

/// What [`read`] does with a `\u` escape of a lone UTF-16 surrogate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoneSurrogates {
    /// Refuse the text ([`LONE_SURROGATE`]).
    Refuse,
    /// Accept it: the literal keeps its spelling, and [`Str::decode`] gives `None` for it.
    Keep,
}

/// How deep [`read`] goes and how strict it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadLimits {
    /// A value nested inside more than this many containers is refused ([`TOO_DEEP`]): the
    /// top-level value is at depth 0, so `max_depth + 1` nested arrays holding a number are
    /// refused while the same arrays empty are not.
    pub max_depth: usize,
    pub lone_surrogates: LoneSurrogates,
}

impl Default for ReadLimits {
    /// [`MAX_DEPTH`], lone surrogates refused: what [`parse`] uses.
    fn default() -> Self {
        ReadLimits {
            max_depth: MAX_DEPTH,
            lone_surrogates: LoneSurrogates::Refuse,
        }
    }
}

/// A string literal as it is spelled in the text read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Str<'a> {
    /// The literal, quotes included.
    literal: &'a str,
    escaped: bool,
}

impl<'a> Str<'a> {
    /// A literal that holds no escape, quote, backslash or control character, such as
    /// `"\"detailType\""`; `None` for anything else.
    pub fn unescaped(literal: &'a str) -> Option<Str<'a>> {
        let body = literal.strip_prefix('"')?.strip_suffix('"')?;
        body.bytes()
            .all(|c| c >= 0x20 && c != b'"' && c != b'\\')
            .then_some(Str {
                literal,
                escaped: false,
            })
    }

    /// The literal as written, quotes included.
    pub fn literal(&self) -> &'a str {
        self.literal
    }

    /// The text between the quotes, escapes as written.
    pub fn body(&self) -> &'a str {
        self.literal
            .get(1..self.literal.len().saturating_sub(1))
            .unwrap_or("")
    }

    /// Whether the literal holds any escape.
    pub fn has_escapes(&self) -> bool {
        self.escaped
    }

    /// The decoded string (borrowed when there is no escape); `None` when the literal holds a
    /// lone surrogate escape, which only [`LoneSurrogates::Keep`] lets through.
    pub fn decode(&self) -> Option<Cow<'a, str>> {
        let body = self.body();
        if !self.escaped {
            return Some(Cow::Borrowed(body));
        }
        let mut out = Vec::with_capacity(body.len());
        match unescape(body.as_bytes(), &mut out, Lone::Refuse) {
            Unescaped::Ok => String::from_utf8(out).ok().map(Cow::Owned),
            Unescaped::Bad | Unescaped::Lone => None,
        }
    }

    /// Whether the decoded string is `s` (without allocating when there is no escape).
    pub fn decodes_to(&self, s: &str) -> bool {
        if self.escaped {
            self.decode().is_some_and(|d| d == s)
        } else {
            self.body() == s
        }
    }
}

/// A JSON value read by [`read`], borrowing from the text: numbers and strings as spelled,
/// object members in order with duplicates kept.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    Null,
    Bool(bool),
    /// The number as written (already checked against the JSON grammar).
    Number(&'a str),
    String(Str<'a>),
    Array(Vec<Value<'a>>),
    Object(Vec<(Str<'a>, Value<'a>)>),
}

impl Value<'_> {
    /// The owned tree, strings decoded (a lone surrogate read with [`LoneSurrogates::Keep`]
    /// becomes U+FFFD).
    pub fn to_json(&self) -> Json {
        match self {
            Value::Null => Json::Null,
            Value::Bool(b) => Json::Bool(*b),
            Value::Number(n) => Json::Number((*n).to_owned()),
            Value::String(s) => Json::String(owned_text(s)),
            Value::Array(items) => Json::Array(items.iter().map(Value::to_json).collect()),
            Value::Object(members) => Json::Object(
                members
                    .iter()
                    .map(|(k, v)| (owned_text(k), v.to_json()))
                    .collect(),
            ),
        }
    }
}

/// A literal decoded, a lone surrogate as U+FFFD.
fn owned_text(s: &Str<'_>) -> String {
    match s.decode() {
        Some(d) => d.into_owned(),
        None => {
            let mut out = Vec::new();
            unescape(s.body().as_bytes(), &mut out, Lone::Replace);
            String::from_utf8_lossy(&out).into_owned()
        }
    }
}

/// What the tree reader builds: the borrowed [`Value`] ([`read`]) or the owned [`Json`]
/// ([`parse`]), each node made as it is read.
trait Build<'a> {
    type Node;
    type Key;
    fn null() -> Self::Node;
    fn bool(b: bool) -> Self::Node;
    fn number(text: &'a str) -> Self::Node;
    fn string(s: Str<'a>) -> Self::Node;
    fn key(s: Str<'a>) -> Self::Key;
    fn array(items: Vec<Self::Node>) -> Self::Node;
    fn object(members: Vec<(Self::Key, Self::Node)>) -> Self::Node;
}

/// Builds [`Value`].
enum Borrowed {}

impl<'a> Build<'a> for Borrowed {
    type Node = Value<'a>;
    type Key = Str<'a>;
    fn null() -> Value<'a> {
        Value::Null
    }
    fn bool(b: bool) -> Value<'a> {
        Value::Bool(b)
    }
    fn number(text: &'a str) -> Value<'a> {
        Value::Number(text)
    }
    fn string(s: Str<'a>) -> Value<'a> {
        Value::String(s)
    }
    fn key(s: Str<'a>) -> Str<'a> {
        s
    }
    fn array(items: Vec<Value<'a>>) -> Value<'a> {
        Value::Array(items)
    }
    fn object(members: Vec<(Str<'a>, Value<'a>)>) -> Value<'a> {
        Value::Object(members)
    }
}

/// Builds [`Json`].
enum Owned {}

impl<'a> Build<'a> for Owned {
    type Node = Json;
    type Key = String;
    fn null() -> Json {
        Json::Null
    }
    fn bool(b: bool) -> Json {
        Json::Bool(b)
    }
    fn number(text: &'a str) -> Json {
        Json::Number(text.to_owned())
    }
    fn string(s: Str<'a>) -> Json {
        Json::String(owned_text(&s))
    }
    fn key(s: Str<'a>) -> String {
        owned_text(&s)
    }
    fn array(items: Vec<Json>) -> Json {
        Json::Array(items)
    }
    fn object(members: Vec<(String, Json)>) -> Json {
        Json::Object(members)
    }
}

/// Reads one JSON value filling the whole text (surrounding white space allowed) into a
/// borrowed tree, within `limits`.
pub fn read(src: &str, limits: ReadLimits) -> Result<Value<'_>, JsonError> {
    build::<Borrowed>(src, limits)
}

fn build<'a, B: Build<'a>>(src: &'a str, limits: ReadLimits) -> Result<B::Node, JsonError> {
    let mut r = Reader::<B> {
        p: Parser {
            b: src.as_bytes(),
            i: 0,
        },
        src,
        limits,
        build: std::marker::PhantomData,
    };
    r.p.ws();
    let v = r.value(0)?;
    r.p.ws();
    if r.p.i != r.p.b.len() {
        return Err(r.p.err("trailing characters"));
    }
    Ok(v)
}

/// The tree reader behind [`read`] and [`parse`]: recursive, at most `limits.max_depth + 1`
/// frames deep.
struct Reader<'a, B> {
    p: Parser<'a>,
    src: &'a str,
    limits: ReadLimits,
    build: std::marker::PhantomData<B>,
}

impl<'a, B: Build<'a>> Reader<'a, B> {
    fn slice(&self, from: usize) -> Result<&'a str, JsonError> {
        self.src
            .get(from..self.p.i)
            .ok_or_else(|| self.p.err("invalid UTF-8"))
    }

    /// With the reader on an opening quote: the literal, moved past.
    fn string(&mut self) -> Result<Str<'a>, JsonError> {
        let start = self.p.i;
        let escaped = self.p.skip_string(self.limits.lone_surrogates)?;
        Ok(Str {
            literal: self.slice(start)?,
            escaped,
        })
    }

    fn value(&mut self, depth: usize) -> Result<B::Node, JsonError> {
        if depth > self.limits.max_depth {
            return Err(self.p.err(TOO_DEEP));
        }
        match self.p.b.get(self.p.i) {
            None => Err(self.p.err("unexpected end")),
            Some(b'{') => {
                self.p.i += 1;
                let mut members = Vec::new();
                self.p.ws();
                if self.p.b.get(self.p.i) == Some(&b'}') {
                    self.p.i += 1;
                    return Ok(B::object(members));
                }
                loop {
                    self.p.ws();
                    if self.p.b.get(self.p.i) != Some(&b'"') {
                        return Err(self.p.err("expected a key"));
                    }
                    let k = self.string()?;
                    self.p.ws();
                    if self.p.b.get(self.p.i) != Some(&b':') {
                        return Err(self.p.err("expected ':'"));
                    }
                    self.p.i += 1;
                    self.p.ws();
                    let v = self.value(depth + 1)?;
                    members.push((B::key(k), v));
                    self.p.ws();
                    match self.p.b.get(self.p.i) {
                        Some(b',') => self.p.i += 1,
                        Some(b'}') => {
                            self.p.i += 1;
                            return Ok(B::object(members));
                        }
                        _ => return Err(self.p.err("expected ',' or '}'")),
                    }
                }
            }
            Some(b'[') => {
                self.p.i += 1;
                let mut items = Vec::new();
                self.p.ws();
                if self.p.b.get(self.p.i) == Some(&b']') {
                    self.p.i += 1;
                    return Ok(B::array(items));
                }
                loop {
                    self.p.ws();
                    items.push(self.value(depth + 1)?);
                    self.p.ws();
                    match self.p.b.get(self.p.i) {
                        Some(b',') => self.p.i += 1,
                        Some(b']') => {
                            self.p.i += 1;
                            return Ok(B::array(items));
                        }
                        _ => return Err(self.p.err("expected ',' or ']'")),
                    }
                }
            }
            Some(b'"') => Ok(B::string(self.string()?)),
            Some(b't') => self.p.skip_lit(b"true").map(|()| B::bool(true)),
            Some(b'f') => self.p.skip_lit(b"false").map(|()| B::bool(false)),
            Some(b'n') => self.p.skip_lit(b"null").map(|()| B::null()),
            Some(_) => {
                let start = self.p.i;
                self.p.i =
                    number_end(self.p.b, start).ok_or_else(|| self.p.err("invalid number"))?;
                Ok(B::number(self.slice(start)?))
            }
        }
    }
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

    /// With `self.i` on an opening quote: checks one string and moves past it. Returns whether
    /// it holds any escape; a lone surrogate escape is accepted only with
    /// [`LoneSurrogates::Keep`].
    fn skip_string(&mut self, lone: LoneSurrogates) -> Result<bool, JsonError> {
        let start = self.i + 1;
        let mut i = start;
        let mut escaped = false;
        loop {
            match self.b.get(i) {
                None => {
                    self.i = i;
                    return Err(self.err("unterminated string"));
                }
                Some(b'"') => break,
                Some(b'\\') => {
                    escaped = true;
                    i = match escape_end(self.b, i) {
                        Ok(end) => end,
                        // The lone escape alone; what follows is read on its own.
                        Err(LONE_SURROGATE) if lone == LoneSurrogates::Keep => i + 6,
                        Err(reason) => {
                            self.i = i;
                            return Err(self.err(reason));
                        }
                    }
                }
                Some(0..=0x1f) => {
                    self.i = i;
                    return Err(self.err("control character in string"));
                }
                Some(_) => i += 1,
            }
        }
        self.i = i + 1;
        Ok(escaped)
    }

    /// An object key and its `:`, with `self.i` on the key's opening quote.
    fn key(&mut self) -> Result<(), JsonError> {
        if self.b.get(self.i) != Some(&b'"') {
            return Err(self.err("expected a key"));
        }
        self.skip_string(LoneSurrogates::Refuse)?;
        self.ws();
        if self.b.get(self.i) != Some(&b':') {
            return Err(self.err("expected ':'"));
        }
        self.i += 1;
        Ok(())
    }

    fn skip_lit(&mut self, word: &[u8]) -> Result<(), JsonError> {
        if self.b.get(self.i..self.i + word.len()) == Some(word) {
            self.i += word.len();
            Ok(())
        } else {
            Err(self.err("invalid literal"))
        }
    }
}

/// With `b[i]` a backslash inside a string: the index just past its escape, or why it is bad.
fn escape_end(b: &[u8], i: usize) -> Result<usize, &'static str> {
    match b.get(i + 1) {
        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => Ok(i + 2),
        Some(b'u') => {
            let hi = b.get(i + 2..).and_then(hex4).ok_or("bad escape")?;
            if (0xDC00..0xE000).contains(&hi) {
                return Err(LONE_SURROGATE);
            }
            if !(0xD800..0xDC00).contains(&hi) {
                return Ok(i + 6);
            }
            if b.get(i + 6) != Some(&b'\\') || b.get(i + 7) != Some(&b'u') {
                return Err(LONE_SURROGATE);
            }
            match b.get(i + 8..).and_then(hex4) {
                Some(lo) if (0xDC00..0xE000).contains(&lo) => Ok(i + 12),
                Some(_) => Err(LONE_SURROGATE),
                None => Err("bad escape"),
            }
        }
        _ => Err("bad escape"),
    }
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

/// What to do with a `\u` escape of a lone UTF-16 surrogate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lone {
    /// Decode it as U+FFFD (the event scanner: events were validated when they were put).
    Replace,
    /// Refuse the string.
    Refuse,
}

/// How [`unescape`] went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unescaped {
    Ok,
    /// A malformed escape.
    Bad,
    /// A lone surrogate, with [`Lone::Refuse`].
    Lone,
}

/// Decodes the body of a JSON string (between the quotes) into `out`. Returns false on a bad
/// escape. Lone surrogates become U+FFFD.
pub(crate) fn unescape_into(raw: &[u8], out: &mut Vec<u8>) -> bool {
    unescape(raw, out, Lone::Replace) == Unescaped::Ok
}

/// Decodes the body of a JSON string (between the quotes) into `out`, lone surrogates as `lone`
/// says.
pub(crate) fn unescape(raw: &[u8], out: &mut Vec<u8>, lone: Lone) -> Unescaped {
    let mut i = 0;
    while i < raw.len() {
        let c = raw[i];
        if c != b'\\' {
            out.push(c);
            i += 1;
            continue;
        }
        let Some(&e) = raw.get(i + 1) else {
            return Unescaped::Bad;
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
            _ => return Unescaped::Bad,
        };
        if e != b'u' {
            out.push(simple);
            continue;
        }
        let Some(hi) = raw.get(i..).and_then(hex4) else {
            return Unescaped::Bad;
        };
        i += 4;
        let cp = if (0xD800..0xDC00).contains(&hi) {
            if raw.get(i) == Some(&b'\\') && raw.get(i + 1) == Some(&b'u') {
                match raw.get(i + 2..).and_then(hex4) {
                    Some(lo) if (0xDC00..0xE000).contains(&lo) => {
                        i += 6;
                        0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                    }
                    Some(_) => 0xFFFD,
                    None => return Unescaped::Bad,
                }
            } else {
                0xFFFD
            }
        } else if (0xDC00..0xE000).contains(&hi) {
            0xFFFD
        } else {
            hi
        };
        if cp == 0xFFFD && lone == Lone::Refuse && hi != 0xFFFD {
            return Unescaped::Lone;
        }
        let ch = char::from_u32(cp).unwrap_or('\u{FFFD}');
        let mut buf = [0u8; 4];
        out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
    }
    Unescaped::Ok
}
