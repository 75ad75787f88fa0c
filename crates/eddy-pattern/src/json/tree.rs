//! The tree reader: [`read`] builds a borrowed [`Value`] that keeps every literal as spelled,
//! and the same reader builds the owned [`Json`] for [`parse`](super::parse); recursive, so
//! bounded by the caller's depth limit ([`ReadLimits`]).

use std::borrow::Cow;

use super::grammar::{Lone, Parser, Unescaped, number_end, unescape};
use super::{Json, JsonError, MAX_DEPTH, TOO_DEEP};

/// What [`read`] does with a `\u` escape of a lone UTF-16 surrogate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoneSurrogates {
    /// Refuse the text ([`LONE_SURROGATE`](super::LONE_SURROGATE)).
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
    /// [`MAX_DEPTH`], lone surrogates refused: what [`parse`](super::parse) uses.
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
/// ([`parse`](super::parse)), each node made as it is read.
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

/// [`parse`](super::parse): the owned tree, within the default limits.
pub(super) fn parse_owned(src: &str) -> Result<Json, JsonError> {
    build::<Owned>(src, ReadLimits::default())
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

/// The tree reader behind [`read`] and [`parse`](super::parse): recursive, at most
/// `limits.max_depth + 1` frames deep.
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
