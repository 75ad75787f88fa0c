//! The number precision rule: which JSON numbers take part in numeric comparison.
//!
//! A number is *comparable* when its decimal value is exactly the value of the shortest
//! round-trip decimal form of the IEEE-754 double nearest to it: in other words, when parsing it
//! as a double loses nothing that the double's own shortest spelling would show. Comparable
//! numbers compare as doubles (so `300`, `300.0` and `3.0e2` are equal). Anything else (beyond
//! the double range, underflowing to zero, or more digits than a double holds, such as
//! `0.30000000000000001`) is not comparable: a pattern using it in `numeric` or `anything-but`
//! is rejected, an exact-value pattern falls back to matching the literal spelling, and an event
//! number that is not comparable only matches exact patterns spelled the same way. This is the
//! rule aws/event-ruler 2.x applies (`ComparableNumber`), so eddy agrees with EventBridge on it.

/// Parses `text` (already known to follow the JSON number grammar) and returns its value if the
/// number is comparable under the rule above.
pub fn comparable(text: &[u8]) -> Option<f64> {
    let d = Decimal::parse(text)?;
    let s = std::str::from_utf8(text).ok()?;
    let v: f64 = s.parse().ok()?;
    if !v.is_finite() {
        return None;
    }
    if d.len == 0 {
        return Some(0.0);
    }
    // Fast path: up to 15 significant digits in the normal range always round-trip.
    if d.len <= 15 && d.exp10 > -290 && d.exp10 < 290 {
        return Some(v);
    }
    if v == 0.0 || d.len > 17 {
        // Underflow, or more digits than any shortest double spelling has.
        return None;
    }
    let mut buf = StackBuf { b: [0; 40], n: 0 };
    use std::fmt::Write as _;
    write!(buf, "{v:e}").ok()?;
    let back = Decimal::parse(&buf.b[..buf.n])?;
    if back == d { Some(v) } else { None }
}

struct StackBuf {
    b: [u8; 40],
    n: usize,
}

impl std::fmt::Write for StackBuf {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.n + s.len();
        let dst = self.b.get_mut(self.n..end).ok_or(std::fmt::Error)?;
        dst.copy_from_slice(s.as_bytes());
        self.n = end;
        Ok(())
    }
}

/// A decimal as sign, significant digits (no leading/trailing zeros; only the first 18 kept,
/// `len` counts all) and the power of ten of the first digit.
#[derive(Debug, PartialEq, Eq)]
struct Decimal {
    neg: bool,
    digits: [u8; 18],
    len: usize,
    exp10: i64,
}

impl Decimal {
    fn parse(t: &[u8]) -> Option<Decimal> {
        let mut i = 0;
        let neg = t.first() == Some(&b'-');
        if neg {
            i += 1;
        }
        let mut digits = [0u8; 18];
        let mut len = 0usize;
        // Significant digits seen, counting zeros inside the number only once a later non-zero
        // digit confirms them.
        let mut pending_zeros = 0usize;
        let mut int_digits: i64 = 0;
        let mut seen_point = false;
        let mut leading_zeros_after_point: i64 = 0;
        while i < t.len() {
            let c = t[i];
            match c {
                b'0'..=b'9' => {
                    if len == 0 && c == b'0' {
                        if seen_point {
                            leading_zeros_after_point += 1;
                        }
                    } else {
                        if !seen_point {
                            int_digits += 1;
                        }
                        if c == b'0' {
                            pending_zeros += 1;
                        } else {
                            for _ in 0..pending_zeros {
                                if len < digits.len() {
                                    digits[len] = 0;
                                }
                                len += 1;
                            }
                            pending_zeros = 0;
                            if len < digits.len() {
                                digits[len] = c - b'0';
                            }
                            len += 1;
                        }
                    }
                }
                b'.' => seen_point = true,
                b'e' | b'E' => break,
                _ => return None,
            }
            i += 1;
        }
        let mut exp: i64 = 0;
        if i < t.len() {
            i += 1;
            let mut eneg = false;
            if let Some(&s) = t.get(i)
                && (s == b'-' || s == b'+')
            {
                eneg = s == b'-';
                i += 1;
            }
            while let Some(&c) = t.get(i) {
                if !c.is_ascii_digit() {
                    return None;
                }
                exp = (exp * 10 + i64::from(c - b'0')).min(1_000_000_000);
                i += 1;
            }
            if eneg {
                exp = -exp;
            }
        }
        if len == 0 {
            return Some(Decimal {
                neg: false,
                digits,
                len,
                exp10: 0,
            });
        }
        let exp10 = if int_digits > 0 {
            int_digits - 1 + exp
        } else {
            -leading_zeros_after_point - 1 + exp
        };
        Some(Decimal {
            neg,
            digits,
            len,
            exp10,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::comparable;

    #[test]
    fn precision_rule() {
        assert_eq!(comparable(b"300"), Some(300.0));
        assert_eq!(comparable(b"3.0e2"), Some(300.0));
        assert_eq!(comparable(b"-0"), Some(0.0));
        assert_eq!(comparable(b"0.1"), Some(0.1));
        assert_eq!(
            comparable(b"-122.42916360922355"),
            Some(-122.42916360922355)
        );
        assert_eq!(comparable(b"0.30000000000000001"), None);
        assert_eq!(comparable(b"1E309"), None);
        assert_eq!(comparable(b"1E-325"), None);
        assert_eq!(comparable(b"2.0e422"), None);
        assert_eq!(comparable(b"123456789012"), Some(123456789012.0));
        assert_eq!(comparable(b"12345678901234567890"), None);
        assert_eq!(comparable(b"9007199254740992"), Some(9007199254740992.0));
        assert_eq!(comparable(b"5e-324"), Some(5e-324));
        assert_eq!(comparable(b"1.7976931348623157e308"), Some(f64::MAX));
    }
}
