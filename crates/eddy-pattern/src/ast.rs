//! The validated form of a pattern: a list of branches (the `$or` alternatives multiplied out),
//! each an AND of fields, each field an OR of operators. Also the one place that says what each
//! operator matches, value by value.

use crate::ci::{Anchor, CiPat};
use crate::cidr::Cidr;
use crate::wildcard::Wildcard;

/// One leaf value of an event, as the matcher sees it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Value<'a> {
    /// String content, escapes decoded.
    Str(&'a [u8]),
    /// Number as spelled, and its value if comparable (see [`crate::number`]).
    Num(&'a [u8], Option<f64>),
    Bool(bool),
    Null,
}

/// A numeric interval; unbounded sides use infinities.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Range {
    pub lo: f64,
    pub lo_open: bool,
    pub hi: f64,
    pub hi_open: bool,
}

impl Range {
    pub fn contains(&self, v: f64) -> bool {
        (if self.lo_open {
            v > self.lo
        } else {
            v >= self.lo
        }) && (if self.hi_open {
            v < self.hi
        } else {
            v <= self.hi
        })
    }
}

/// What an `anything-but` excludes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum But {
    Strs(Vec<Box<[u8]>>),
    Nums(Vec<f64>),
    Prefix(Vec<Box<[u8]>>),
    Suffix(Vec<Box<[u8]>>),
    EqCi(Vec<CiPat>),
    Wildcard(Vec<Wildcard>),
}

impl But {
    /// Is the value excluded (so `anything-but` does not match it)?
    pub fn excludes(&self, v: &Value<'_>) -> bool {
        match (self, v) {
            (But::Strs(list), Value::Str(s)) => list.iter().any(|x| &**x == *s),
            (But::Nums(list), Value::Num(_, Some(n))) => list.contains(n),
            (But::Prefix(list), Value::Str(s)) => list.iter().any(|x| s.starts_with(x)),
            (But::Suffix(list), Value::Str(s)) => list.iter().any(|x| s.ends_with(x)),
            (But::EqCi(list), Value::Str(s)) => list.iter().any(|x| x.matches(s, Anchor::Whole)),
            (But::Wildcard(list), Value::Str(s)) => list.iter().any(|x| x.matches(s)),
            _ => false,
        }
    }
}

/// One operator inside a field's array.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Op {
    Str(Box<[u8]>),
    /// An exact number: matches numerically when comparable, else by spelling.
    Num {
        value: Option<f64>,
        raw: Box<[u8]>,
    },
    Null,
    Bool(bool),
    Prefix(Box<[u8]>),
    Suffix(Box<[u8]>),
    PrefixCi(CiPat),
    SuffixCi(CiPat),
    EqCi(CiPat),
    Wildcard(Wildcard),
    Range(Range),
    /// `exists: true`.
    Exists,
    Cidr(Cidr),
    But(But),
}

impl Op {
    /// Does this operator accept the leaf value `v`?
    pub fn matches(&self, v: &Value<'_>) -> bool {
        match (self, v) {
            (Op::Str(x), Value::Str(s)) => &**x == *s,
            (Op::Num { value, raw }, Value::Num(r, n)) => {
                (value.is_some() && *value == *n) || &**raw == *r
            }
            (Op::Null, Value::Null) => true,
            (Op::Bool(b), Value::Bool(c)) => b == c,
            (Op::Prefix(p), Value::Str(s)) => s.starts_with(p),
            (Op::Suffix(p), Value::Str(s)) => s.ends_with(p),
            (Op::PrefixCi(p), Value::Str(s)) => p.matches(s, Anchor::Prefix),
            (Op::SuffixCi(p), Value::Str(s)) => p.matches(s, Anchor::Suffix),
            (Op::EqCi(p), Value::Str(s)) => p.matches(s, Anchor::Whole),
            (Op::Wildcard(w), Value::Str(s)) => w.matches(s),
            (Op::Range(r), Value::Num(_, Some(n))) => r.contains(*n),
            (Op::Exists, _) => true,
            (Op::Cidr(c), Value::Str(s)) => c.contains(s),
            (Op::But(b), v) => !b.excludes(v),
            _ => false,
        }
    }
}

/// The operators of one field; `absent_ok` when the array held `{"exists": false}`.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Slot {
    pub ops: Vec<Op>,
    pub absent_ok: bool,
}

/// A field path: the dotted name split into segments (`a.b` and `{"a":{"b":..}}` are the same
/// path, as in EventBridge).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Path(pub Vec<Box<[u8]>>);

impl Path {
    pub fn from_dotted(s: &str) -> Path {
        Path(s.split('.').map(|seg| seg.as_bytes().into()).collect())
    }
}

/// An AND of fields.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Branch {
    pub fields: Vec<(Path, Slot)>,
}
