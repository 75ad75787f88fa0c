//! [`validate`](fn@super::validate): checks a JSON text without building anything and without
//! recursion, so any input is safe (the API layer runs it on every event's `Detail`).

use super::grammar::{Parser, number_end};
use super::{JsonError, LoneSurrogates, TOO_DEEP, TopLevel};

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
