//! eddy-pattern: the EventBridge event-pattern engine (work in progress skeleton).

use thiserror::Error;

/// Limits applied when parsing a pattern.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Maximum pattern length in characters (EventBridge default 2048, at most 4096).
    pub max_pattern_len: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_pattern_len: 2048 }
    }
}

/// A validated event pattern.
#[derive(Debug, Clone)]
pub struct Pattern {
    src: String,
}

/// A pattern EventBridge would reject.
#[derive(Debug, Clone, Error)]
#[error("Event pattern is not valid. Reason: {reason}")]
pub struct PatternError {
    reason: String,
}

/// An event that is not a JSON object.
#[derive(Debug, Clone, Error)]
#[error("event is not valid: {reason}")]
pub struct EventError {
    reason: String,
}

impl Pattern {
    pub fn parse(src: &str) -> Result<Pattern, PatternError> {
        Self::parse_with(src, &Limits::default())
    }
    pub fn parse_with(src: &str, limits: &Limits) -> Result<Pattern, PatternError> {
        if src.chars().count() > limits.max_pattern_len {
            return Err(PatternError { reason: "pattern too long".into() });
        }
        Ok(Pattern { src: src.to_owned() })
    }
    pub fn matches(&self, _event_json: &str) -> Result<bool, EventError> {
        let _ = &self.src;
        Ok(false)
    }
}

/// Collects patterns into one [`Matcher`].
#[derive(Debug, Default)]
pub struct MatcherBuilder {
    rules: Vec<(u32, Pattern)>,
}

impl MatcherBuilder {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn add(&mut self, id: u32, pattern: &Pattern) {
        self.rules.push((id, pattern.clone()));
    }
    pub fn build(self) -> Matcher {
        Matcher { rules: self.rules }
    }
}

/// All rules of a bus compiled into one structure.
#[derive(Debug, Default)]
pub struct Matcher {
    rules: Vec<(u32, Pattern)>,
}

impl Matcher {
    pub fn matches(&self, event: &[u8], out: &mut Vec<u32>) -> Result<(), EventError> {
        let s = std::str::from_utf8(event).map_err(|_| EventError { reason: "not utf-8".into() })?;
        for (id, p) in &self.rules {
            if p.matches(s)? {
                out.push(*id);
            }
        }
        Ok(())
    }
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}
