//! The JSON grammar every reader shares: white space, literals, numbers, string literals and
//! their escapes (with the lone-surrogate rule), and decoding a string's escapes.

use super::tree::LoneSurrogates;
use super::{JsonError, LONE_SURROGATE};

/// A position in a text being read.
pub(super) struct Parser<'a> {
    pub(super) b: &'a [u8],
    pub(super) i: usize,
}

impl Parser<'_> {
    pub(super) fn err(&self, reason: &'static str) -> JsonError {
        JsonError {
            offset: self.i,
            reason,
        }
    }

    pub(super) fn ws(&mut self) {
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
    pub(super) fn skip_string(&mut self, lone: LoneSurrogates) -> Result<bool, JsonError> {
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
    pub(super) fn key(&mut self) -> Result<(), JsonError> {
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

    pub(super) fn skip_lit(&mut self, word: &[u8]) -> Result<(), JsonError> {
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
