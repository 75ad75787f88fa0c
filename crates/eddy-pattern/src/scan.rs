//! The event scanner: one pass over the event's bytes that records only the leaf values at paths
//! some pattern uses, each with its array membership, and skips every other subtree without
//! decoding it.
//!
//! It checks the structure of everything it reads, and never panics, but it is not a full JSON
//! validator: skipped subtrees are only checked for balanced brackets and strings, and reading
//! stops early once every used member of an object has been seen (the rest of that object is
//! skipped; at the top level it is not read at all). Within one object the first occurrence of a
//! duplicated key is the one matched. [`crate::Pattern::matches`] validates the whole event first.

use crate::EventError;
use crate::json::{number_end, unescape_into};
use crate::trie::{NO_FIELD, Trie};

/// Deepest nesting the scanner follows inside used paths.
const MAX_DEPTH: u32 = 512;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Str,
    Num,
    True,
    False,
    Null,
}

/// A recorded leaf value.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Leaf {
    pub field: u32,
    pub kind: Kind,
    /// Byte range of the value (string content without quotes) in the event or, if `in_buf`, in
    /// the decoded-string buffer.
    pub start: u32,
    pub end: u32,
    pub in_buf: bool,
    /// Range into `ScanOut::mems`: the (array, index) pairs on the way to this leaf.
    pub mem_start: u32,
    pub mem_len: u32,
}

/// Scanner output and reusable buffers.
#[derive(Debug, Default)]
pub(crate) struct ScanOut {
    pub leaves: Vec<Leaf>,
    pub mems: Vec<(u32, u32)>,
    pub buf: Vec<u8>,
    stack: Vec<(u32, u32)>,
    next_array: u32,
    keybuf: Vec<u8>,
}

impl ScanOut {
    pub fn clear(&mut self) {
        self.leaves.clear();
        self.mems.clear();
        self.buf.clear();
        self.stack.clear();
        self.next_array = 0;
    }

    #[inline]
    pub fn bytes<'a>(&'a self, event: &'a [u8], l: &Leaf) -> &'a [u8] {
        let src = if l.in_buf { &self.buf[..] } else { event };
        src.get(l.start as usize..l.end as usize).unwrap_or(&[])
    }

    #[inline]
    pub fn membership(&self, l: &Leaf) -> &[(u32, u32)] {
        self.mems
            .get(l.mem_start as usize..(l.mem_start + l.mem_len) as usize)
            .unwrap_or(&[])
    }
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;
const LOW7: u64 = 0x7F7F_7F7F_7F7F_7F7F;

/// Bit 7 of each byte of `x` that is zero; the lowest set bit is always exact.
#[inline(always)]
fn zero_bytes(x: u64) -> u64 {
    x.wrapping_sub(ONES) & !x & HIGH
}

#[inline(always)]
fn word(b: &[u8], i: usize) -> Option<u64> {
    let chunk: [u8; 8] = b.get(i..i + 8)?.try_into().ok()?;
    Some(u64::from_le_bytes(chunk))
}

/// Index of the next `"` or `\\` at or after `i`.
#[inline]
fn next_quote_or_backslash(b: &[u8], mut i: usize) -> Option<usize> {
    while let Some(w) = word(b, i) {
        let m =
            zero_bytes(w ^ (ONES * u64::from(b'"'))) | zero_bytes(w ^ (ONES * u64::from(b'\\')));
        if m != 0 {
            return Some(i + (m.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    while let Some(&c) = b.get(i) {
        if c == b'"' || c == b'\\' {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// With `i` just after an opening quote: the index of the closing quote and whether an escape
/// was seen.
#[inline]
fn string_close(b: &[u8], mut i: usize) -> Option<(usize, bool)> {
    let mut esc = false;
    loop {
        let p = next_quote_or_backslash(b, i)?;
        if b[p] == b'"' {
            return Some((p, esc));
        }
        esc = true;
        i = p + 2;
    }
}

struct Scanner<'a, 't> {
    b: &'a [u8],
    i: usize,
    trie: &'t Trie,
    out: &'a mut ScanOut,
}

fn bad(what: &str) -> EventError {
    EventError::new(format!("event is not valid JSON: {what}"))
}

/// Scans `event` (which must be a JSON object) recording the leaves `trie` asks for.
pub(crate) fn scan(trie: &Trie, event: &[u8], out: &mut ScanOut) -> Result<(), EventError> {
    out.clear();
    let mut s = Scanner {
        b: event,
        i: 0,
        trie,
        out,
    };
    s.ws();
    if s.peek() != Some(b'{') {
        return Err(EventError::new("event is not a JSON object".to_owned()));
    }
    let done_early = s.object(0, 0, true)?;
    if !done_early {
        s.ws();
        if s.i != s.b.len() {
            return Err(bad("trailing characters"));
        }
    }
    Ok(())
}

impl Scanner<'_, '_> {
    #[inline]
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    #[inline]
    fn ws(&mut self) {
        while let Some(&c) = self.b.get(self.i) {
            if c == b' ' || c == b'\n' || c == b'\r' || c == b'\t' {
                self.i += 1;
            } else {
                break;
            }
        }
    }

    /// With `self.i` just after an opening quote, returns (end, has_escape) and moves past the
    /// closing quote.
    #[inline]
    fn string_body(&mut self) -> Result<(usize, usize, bool), EventError> {
        let start = self.i;
        let (end, esc) = string_close(self.b, start).ok_or_else(|| bad("unterminated string"))?;
        self.i = end + 1;
        Ok((start, end, esc))
    }

    /// Scans an object at `self.i` (on `{`) for trie node `node`. `tail` says that once this
    /// object has all its used members, nothing after it matters (every enclosing object is then
    /// complete too). Returns true when scanning stopped early for that reason.
    fn object(&mut self, node: u32, depth: u32, tail: bool) -> Result<bool, EventError> {
        if depth > MAX_DEPTH {
            return Err(EventError::new("event nests too deeply".to_owned()));
        }
        self.i += 1;
        let trie = self.trie;
        let total = trie.child_count(node);
        let track = total > 0 && total <= 64;
        let mut seen: u64 = 0;
        let mut remaining = total;
        self.ws();
        if self.peek() == Some(b'}') {
            self.i += 1;
            return Ok(false);
        }
        loop {
            self.ws();
            if self.peek() != Some(b'"') {
                return Err(bad("expected a key"));
            }
            self.i += 1;
            let (ks, ke, kesc) = self.string_body()?;
            self.ws();
            if self.peek() != Some(b':') {
                return Err(bad("expected ':'"));
            }
            self.i += 1;
            self.ws();
            let child = if total == 0 {
                None
            } else if kesc {
                let mut kb = std::mem::take(&mut self.out.keybuf);
                kb.clear();
                let ok = unescape_into(&self.b[ks..ke], &mut kb);
                let r = if ok {
                    trie.lookup_dotted(node, &kb)
                } else {
                    None
                };
                self.out.keybuf = kb;
                r.map(|c| (c, u32::MAX))
            } else {
                trie.lookup(node, &self.b[ks..ke])
            };
            match child {
                Some((c, idx)) if idx < 64 && track => {
                    let bit = 1u64 << idx;
                    if seen & bit != 0 {
                        self.skip_value()?;
                    } else {
                        seen |= bit;
                        remaining -= 1;
                        if self.value(c, depth + 1, tail && remaining == 0)? {
                            return Ok(true);
                        }
                    }
                }
                Some((c, _)) => {
                    if self.value(c, depth + 1, false)? {
                        return Ok(true);
                    }
                }
                None => self.skip_value()?,
            }
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    return Ok(false);
                }
                _ => return Err(bad("expected ',' or '}'")),
            }
            if track && remaining == 0 {
                if tail {
                    return Ok(true);
                }
                self.skip_rest(b'}')?;
                return Ok(false);
            }
        }
    }

    fn array(&mut self, node: u32, depth: u32) -> Result<(), EventError> {
        if depth > MAX_DEPTH {
            return Err(EventError::new("event nests too deeply".to_owned()));
        }
        self.i += 1;
        let id = self.out.next_array;
        self.out.next_array += 1;
        let mut idx: u32 = 0;
        self.ws();
        if self.peek() == Some(b']') {
            self.i += 1;
            return Ok(());
        }
        loop {
            self.ws();
            match self.peek() {
                Some(b'{' | b'[') => {
                    self.out.stack.push((id, idx));
                    let r = self.value(node, depth + 1, false);
                    self.out.stack.pop();
                    r?;
                }
                _ => {
                    self.value(node, depth + 1, false)?;
                }
            }
            self.ws();
            match self.peek() {
                Some(b',') => {
                    self.i += 1;
                    idx += 1;
                }
                Some(b']') => {
                    self.i += 1;
                    return Ok(());
                }
                _ => return Err(bad("expected ',' or ']'")),
            }
        }
    }

    #[inline]
    fn emit(&mut self, field: u32, kind: Kind, start: usize, end: usize, in_buf: bool) {
        let mem_start = self.out.mems.len() as u32;
        let mem_len = self.out.stack.len() as u32;
        if mem_len > 0 {
            self.out.mems.extend_from_slice(&self.out.stack);
        }
        self.out.leaves.push(Leaf {
            field,
            kind,
            start: start as u32,
            end: end as u32,
            in_buf,
            mem_start,
            mem_len,
        });
    }

    /// Reads one value at trie node `node`; true means scanning stopped early (see `object`).
    fn value(&mut self, node: u32, depth: u32, tail: bool) -> Result<bool, EventError> {
        let trie = self.trie;
        let field = trie.field(node);
        match self.peek() {
            Some(b'{') => {
                if trie.child_count(node) == 0 {
                    self.skip_value().map(|()| false)
                } else {
                    self.object(node, depth, tail)
                }
            }
            Some(b'[') => self.array(node, depth).map(|()| false),
            Some(b'"') => {
                self.i += 1;
                let (s, e, esc) = self.string_body()?;
                if field != NO_FIELD {
                    if esc {
                        let bs = self.out.buf.len();
                        if !unescape_into(&self.b[s..e], &mut self.out.buf) {
                            return Err(bad("invalid escape"));
                        }
                        let be = self.out.buf.len();
                        self.emit(field, Kind::Str, bs, be, true);
                    } else {
                        if self.b[s..e].iter().any(|&c| c < 0x20) {
                            return Err(bad("control character in string"));
                        }
                        self.emit(field, Kind::Str, s, e, false);
                    }
                }
                Ok(false)
            }
            Some(c @ (b't' | b'f' | b'n')) => {
                let (word, kind): (&[u8], Kind) = match c {
                    b't' => (b"true", Kind::True),
                    b'f' => (b"false", Kind::False),
                    _ => (b"null", Kind::Null),
                };
                if self.b.get(self.i..self.i + word.len()) != Some(word) {
                    return Err(bad("invalid literal"));
                }
                let s = self.i;
                self.i += word.len();
                if field != NO_FIELD {
                    self.emit(field, kind, s, self.i, false);
                }
                Ok(false)
            }
            Some(_) => {
                let s = self.i;
                let e = number_end(self.b, s).ok_or_else(|| bad("invalid number"))?;
                self.i = e;
                if field != NO_FIELD {
                    self.emit(field, Kind::Num, s, e, false);
                }
                Ok(false)
            }
            None => Err(bad("unexpected end")),
        }
    }

    /// Skips one value of any kind.
    fn skip_value(&mut self) -> Result<(), EventError> {
        match self.peek() {
            Some(b'"') => {
                self.i += 1;
                self.string_body().map(|_| ())
            }
            Some(b'{') => {
                self.i += 1;
                self.skip_rest(b'}')
            }
            Some(b'[') => {
                self.i += 1;
                self.skip_rest(b']')
            }
            Some(_) => {
                let s = self.i;
                while let Some(&c) = self.b.get(self.i) {
                    if matches!(c, b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t') {
                        break;
                    }
                    self.i += 1;
                }
                if self.i == s {
                    Err(bad("expected a value"))
                } else {
                    Ok(())
                }
            }
            None => Err(bad("unexpected end")),
        }
    }

    /// Skips to just past the bracket closing the container we are inside, checking only that
    /// brackets balance (by count) and strings end.
    fn skip_rest(&mut self, _close: u8) -> Result<(), EventError> {
        match skip_to_close(self.b, self.i) {
            Some(end) => {
                self.i = end;
                Ok(())
            }
            None => Err(bad("unbalanced or truncated")),
        }
    }
}

/// Exact per-byte zero test: bit 7 set in each byte of `x` that is zero.
#[inline(always)]
fn zero_bytes_exact(x: u64) -> u64 {
    !(((x & LOW7).wrapping_add(LOW7)) | x | LOW7)
}

/// Sum of the bytes of `x` when each byte is at most 8 and they total at most 255.
#[inline(always)]
fn byte_sum(x: u64) -> u32 {
    (x.wrapping_mul(ONES) >> 56) as u32
}

/// From `i` inside a container (just after its opening bracket), returns the index just past
/// its closing bracket. Works a word (8 bytes) at a time without branches on the bytes: quote
/// positions give the in-string mask by a prefix sum (a multiply), brackets outside strings are
/// counted by another multiply. Words holding a backslash, or more closers than the current
/// depth (so one of them may close the container), are walked byte by byte.
pub(crate) fn skip_to_close(b: &[u8], mut i: usize) -> Option<usize> {
    const QUOTE: u64 = ONES * b'"' as u64;
    const BSLASH: u64 = ONES * b'\\' as u64;
    const OPEN: u64 = ONES * b'{' as u64;
    const CLOSE: u64 = ONES * b'}' as u64;
    const CASE: u64 = ONES * 0x20;
    let mut depth: u32 = 0;
    // 0 or ONES: whether the previous word ended inside a string.
    let mut in_str: u64 = 0;
    let mut esc = false;
    loop {
        if !esc {
            while let Some(w) = word(b, i) {
                let q = zero_bytes_exact(w ^ QUOTE) >> 7;
                // Byte k of `qsum` counts the quotes at or before k; the top byte, all of them.
                let qsum = q.wrapping_mul(ONES);
                // `[`/`\\`/`]` become `{`/`|`/`}` with bit 5 set: one exact range test
                // (0x7a < byte < 0x7e, ASCII only) finds words that may hold any of them.
                let lw = w | CASE;
                let low = lw & LOW7;
                let special =
                    (ONES * 0xFD).wrapping_sub(low) & !lw & low.wrapping_add(ONES * 0x05) & HIGH;
                if special == 0 {
                    // No bracket or backslash (the common word): only the string state moves.
                    in_str ^= ((qsum >> 56) & 1).wrapping_mul(ONES);
                    i += 8;
                    continue;
                }
                // Any backslash sends the word to the byte walk (exact as a yes/no test).
                if zero_bytes(w ^ BSLASH) != 0 {
                    break;
                }
                // Byte k of `par` is 1 when byte k is inside a string (an opening quote counts
                // as inside, a closing one as outside; neither is a bracket).
                let par = (qsum & ONES) ^ in_str;
                let outside = par ^ ONES;
                let o = (zero_bytes_exact(lw ^ OPEN) >> 7) & outside;
                let c = (zero_bytes_exact(lw ^ CLOSE) >> 7) & outside;
                let nc = byte_sum(c);
                if nc > depth {
                    break;
                }
                depth = depth + byte_sum(o) - nc;
                in_str = ((par >> 56) & 1).wrapping_mul(ONES);
                i += 8;
            }
        }
        // Byte by byte: the tail, words with escapes, or a word that may close the container.
        let stop = (i + 8).min(b.len());
        if i >= stop {
            return None;
        }
        let mut s = in_str != 0;
        while i < stop {
            let c = b[i];
            i += 1;
            if s {
                if esc {
                    esc = false;
                } else if c == b'\\' {
                    esc = true;
                } else if c == b'"' {
                    s = false;
                }
            } else {
                match c {
                    b'"' => s = true,
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        if depth == 0 {
                            return Some(i);
                        }
                        depth -= 1;
                    }
                    _ => {}
                }
            }
        }
        in_str = if s { ONES } else { 0 };
    }
}

#[cfg(test)]
mod tests {
    use super::skip_to_close;

    /// The obvious byte-at-a-time version of [`skip_to_close`].
    fn reference(b: &[u8], mut i: usize) -> Option<usize> {
        let (mut depth, mut in_str, mut esc) = (0u32, false, false);
        while let Some(&c) = b.get(i) {
            i += 1;
            if in_str {
                if esc {
                    esc = false;
                } else if c == b'\\' {
                    esc = true;
                } else if c == b'"' {
                    in_str = false;
                }
            } else {
                match c {
                    b'"' => in_str = true,
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        if depth == 0 {
                            return Some(i);
                        }
                        depth -= 1;
                    }
                    _ => {}
                }
            }
        }
        None
    }

    #[test]
    fn word_skipper_agrees_with_byte_walk() {
        let alphabet = b"[]{}\"\\a1,: |#\x7f";
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for round in 0..200_000 {
            let len = (next() % 90) as usize;
            // Mostly plain text with a few structural bytes, sometimes dense.
            let dense = round % 3 == 0;
            let b: Vec<u8> = (0..len)
                .map(|_| {
                    let r = next();
                    if dense || r % 4 == 0 {
                        alphabet[((r >> 8) % alphabet.len() as u64) as usize]
                    } else {
                        b'0' + (r % 10) as u8
                    }
                })
                .collect();
            for start in 0..b.len().min(10) {
                assert_eq!(
                    skip_to_close(&b, start),
                    reference(&b, start),
                    "{:?} from {start}",
                    String::from_utf8_lossy(&b)
                );
            }
        }
    }
}
