//! # eddy-pattern: the EventBridge event-pattern engine
//!
//! What it is: a pure library (no I/O, no async) that parses and validates Amazon EventBridge
//! event patterns exactly as EventBridge does (same accept/reject decisions, error texts in the
//! `Event pattern is not valid. Reason: ...` form), compiles every rule of a bus into one
//! [`Matcher`], and matches events against it by scanning the event's bytes once, decoding only
//! the values at paths some pattern uses.
//!
//! What it is not: it does not know about buses, rules, targets or the event envelope (that is
//! `eddy-model`/`eddy-server`), and it does not transform events.
//!
//! ## Main types
//! - [`Pattern`]: one validated pattern ([`Pattern::parse`], [`Pattern::matches`] for one-off
//!   `TestEventPattern` checks, which also validate the whole event).
//! - [`MatcherBuilder`] → [`Matcher`]: many patterns by `u32` id; [`Matcher::matches`] appends
//!   the ids of matching rules ([`Matcher::matches_reporting`] also names the rules whose
//!   array-consistency search gave up, see [`SEARCH_BUDGET`]). Rebuild and swap (an
//!   `Arc<Matcher>`) to change rules.
//! - [`json`]: eddy's one JSON reader. [`json::validate`] checks JSON text (grammar, nesting
//!   depth, lone surrogates) without building it; [`json::read`] builds a borrowed tree that
//!   keeps every literal's spelling (target input shaping uses it); [`json::parse`] an owned one.
//! - [`PatternError`], [`EventError`], [`Limits`].
//! - [`filter_policy`]: SNS subscription filter policies (attribute and body scope) on the same
//!   operators and matcher, with SNS's limits and error texts (`docs/filter-policies.md`).
//!
//! ## Semantics (AWS documentation first, aws/event-ruler where the docs are silent)
//! - A pattern is an object; every leaf is a non-empty array of alternatives (OR); fields AND.
//!   `{"a":{"b":[..]}}` and `{"a.b":[..]}` name the same field. `$or` (two or more objects) may
//!   appear at any level and nests; more than [`Limits::max_or_combinations`] combinations are
//!   rejected.
//! - An event array matches if any element matches. Fields under the same array of objects must
//!   match within the same element (array consistency), at every array level.
//! - `exists` applies to leaves: `exists:true` needs a scalar value (including `null`) at the
//!   path; `exists:false` is met by a missing field, an empty array or an object there.
//! - `anything-but` never matches a missing field, but matches `null` and values of other types.
//! - Strings, numbers, booleans and `null` are distinct types (`"300"` is not `300`);
//!   `prefix`, `suffix`, `wildcard`, `equals-ignore-case` and `cidr` match strings only.
//! - Ignore-case operators: see [`ci`](crate::ci) — each pattern character matches its full
//!   lower-case or upper-case mapping (so `ß` matches `SS`).
//!
//! ## The number precision rule
//! Numbers compare as IEEE-754 doubles, but only *comparable* numbers take part: a number is
//! comparable when its decimal value equals the shortest round-trip decimal of the nearest double
//! (so `300`, `3.0e2`, `0.1`, `-122.42916360922355` are; `1e309`, `1e-325`,
//! `0.30000000000000001` and `12345678901234567890` are not). `numeric` and `anything-but`
//! operands must be comparable or the pattern is rejected (`Cannot compare number : ...`). An
//! exact number in a pattern matches any comparable event number of the same value, or failing
//! that, an event number spelled identically. Event numbers that are not comparable never match
//! `numeric` ranges. This is aws/event-ruler 2.x's rule.
//!
//! ## Duplicate keys in events
//! JSON leaves them undefined; the matcher uses the first occurrence within an object.

mod ast;
pub mod ci;
mod cidr;
pub mod filter_policy;
pub mod json;
mod matcher;
pub mod number;
mod parse;
mod scan;
mod trie;
mod wildcard;

use std::sync::Arc;

pub use matcher::{Matcher, MatcherBuilder, SEARCH_BUDGET, Scratch};
use thiserror::Error;

/// Limits applied when parsing a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Maximum pattern length in characters: EventBridge's default is 2048; accounts can have it
    /// raised to 4096.
    pub max_pattern_len: usize,
    /// Maximum number of alternatives the `$or`s of one pattern multiply out to (1000).
    pub max_or_combinations: usize,
    /// Complexity budget for wildcards: the total number of `*` across a pattern's `wildcard`
    /// operands (including those inside `anything-but`).
    pub max_wildcard_stars: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_pattern_len: 2048,
            max_or_combinations: 1000,
            max_wildcard_stars: 100,
        }
    }
}

/// A pattern EventBridge would reject. `Display` gives the full AWS text.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("Event pattern is not valid. Reason: {}", self.reason_text())]
pub struct PatternError {
    reason: String,
    field: Option<String>,
}

impl PatternError {
    /// The reason alone (without the `Event pattern is not valid. Reason: ` prefix).
    pub fn reason(&self) -> String {
        self.reason_text()
    }

    /// The dotted field the problem is in, when it is inside one.
    pub fn field(&self) -> Option<&str> {
        self.field.as_deref()
    }

    fn reason_text(&self) -> String {
        match &self.field {
            Some(f) => format!("{} (field '{f}')", self.reason),
            None => self.reason.clone(),
        }
    }
}

/// An event that cannot be matched: not JSON, or not a JSON object.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{reason}")]
pub struct EventError {
    reason: String,
}

impl EventError {
    pub(crate) fn new(reason: String) -> Self {
        EventError { reason }
    }
}

/// A validated event pattern.
#[derive(Debug, Clone)]
pub struct Pattern {
    src: Arc<str>,
    pub(crate) branches: Arc<Vec<ast::Branch>>,
    single: Arc<Matcher>,
}

impl Pattern {
    /// Parses with default [`Limits`].
    pub fn parse(src: &str) -> Result<Pattern, PatternError> {
        Self::parse_with(src, &Limits::default())
    }

    /// Parses and validates `src`.
    pub fn parse_with(src: &str, limits: &Limits) -> Result<Pattern, PatternError> {
        let branches = Arc::new(parse::parse(src, limits)?);
        let mut b = MatcherBuilder::new();
        b.add_branches(0, branches.clone());
        Ok(Pattern {
            src: src.into(),
            branches,
            single: Arc::new(b.build()),
        })
    }

    /// The pattern text as given.
    pub fn source(&self) -> &str {
        &self.src
    }

    /// Matches one event (any JSON object). The whole event is validated as JSON first.
    pub fn matches(&self, event_json: &str) -> Result<bool, EventError> {
        match json::read(event_json, json::ReadLimits::default()) {
            Ok(json::Value::Object(_)) => {}
            Ok(_) => return Err(EventError::new("event is not a JSON object".to_owned())),
            Err(e) => {
                return Err(EventError::new(format!(
                    "event is not valid JSON: {} at byte {}",
                    e.reason, e.offset
                )));
            }
        }
        let mut out = Vec::with_capacity(1);
        self.single.matches(event_json.as_bytes(), &mut out)?;
        Ok(!out.is_empty())
    }
}
