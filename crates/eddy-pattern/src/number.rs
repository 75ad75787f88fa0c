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
    match is_shortest(&d, v) {
        Some(true) => return Some(v),
        Some(false) => return None,
        None => {}
    }
    let mut buf = StackBuf { b: [0; 40], n: 0 };
    use std::fmt::Write as _;
    write!(buf, "{v:e}").ok()?;
    let back = Decimal::parse(&buf.b[..buf.n])?;
    if back == d { Some(v) } else { None }
}

/// Decides, with integer arithmetic, whether `d` (16 or 17 significant digits) is the shortest
/// round-trip spelling of `v`, the double nearest to it, for the common magnitudes (roughly
/// 1e-6 to 1e17 in absolute value). `None` when it cannot tell cheaply: other magnitudes, a
/// power-of-two significand (lopsided rounding interval), or a value exactly on a boundary; the
/// caller then formats `v` and compares.
///
/// The shortest spelling is the decimal with the fewest digits inside `v`'s rounding interval
/// and, among those, the one closest to `v`. `d` is inside the interval, so it is the shortest
/// spelling exactly when (1) no decimal with fewer digits is inside the interval (checking the
/// two neighbours of `d` one digit shorter suffices, the interval being convex) and (2) `d` is
/// strictly closer to `v` than half a unit of its last digit (so neither same-length neighbour
/// is closer). Every quantity is scaled by `4 * 10^-q * 2^-e` to be an integer.
fn is_shortest(d: &Decimal, v: f64) -> Option<bool> {
    if !(16..=17).contains(&d.len) {
        return None;
    }
    let mut dd: u128 = 0;
    for &k in &d.digits[..d.len] {
        dd = dd * 10 + u128::from(k);
    }
    // d = dd * 10^q
    let q = d.exp10 - (d.len as i64 - 1);
    let bits = v.abs().to_bits();
    let biased = (bits >> 52) as i64;
    let frac = bits & ((1u64 << 52) - 1);
    if biased == 0 || biased == 0x7ff || frac == 0 {
        return None;
    }
    // v = m * 2^e
    let m = u128::from(frac | (1u64 << 52));
    let e = biased - 1075;
    if !(-21..=0).contains(&q) || !(-66..=0).contains(&e) {
        return None;
    }
    let p10 = 10u128.checked_pow(u32::try_from(-q).ok()?)?;
    let p2 = 1u128.checked_shl(u32::try_from(-e).ok()?)?;
    // Scaled: d4 = 4 d, v4 = 4 v; half a unit in d's last place = 2 * 2^-e; half an ulp of v
    // = 2 * 10^-q.
    let d4 = dd.checked_mul(p2)?.checked_mul(4)?;
    let v4 = m.checked_mul(p10)?.checked_mul(4)?;
    let half_ulp = p10.checked_mul(2)?;
    // (2) the closest spelling of this length.
    let dist = d4.abs_diff(v4);
    let half_digit = p2.checked_mul(2)?;
    if dist > half_digit {
        return Some(false);
    }
    if dist == half_digit {
        return None;
    }
    // (1) no shorter spelling: the neighbours one digit shorter are multiples of 10 * 10^q.
    let lo = dd / 10;
    for c in [lo, lo + 1] {
        let c4 = c.checked_mul(p2)?.checked_mul(40)?;
        let cd = c4.abs_diff(v4);
        if cd < half_ulp {
            return Some(false);
        }
        if cd == half_ulp {
            return None;
        }
    }
    Some(true)
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
        assert_eq!(
            comparable(b"-122.42754771908929"),
            Some(-122.42754771908929)
        );
        assert_eq!(comparable(b"-122.42754771908927"), None);
        assert_eq!(comparable(b"-122.42754771908931"), None);
        assert_eq!(comparable(b"37.755576168014046"), None);
        assert_eq!(comparable(b"37.755576168014045"), Some(37.755576168014045));
        assert_eq!(comparable(b"0.10000000000000001"), None);
    }

    /// The integer shortcut agrees with formatting the double, on 16- and 17-digit spellings
    /// near many doubles (the doubles' own spellings and their last-digit neighbours).
    #[test]
    fn shortcut_agrees_with_formatting() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut checked = 0;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let scale = [1e-6, 1e-3, 0.5, 1.0, 37.0, 122.0, 1e3, 1e6, 1e9, 1e12, 1e15];
            let v = (x >> 11) as f64 / (1u64 << 53) as f64 * scale[(x % 11) as usize];
            for digits in [15usize, 16] {
                let s = format!("{v:.digits$e}");
                let Some((mant, exp)) = s.split_once('e') else {
                    continue;
                };
                let last: i64 = mant.bytes().last().map_or(0, |b| i64::from(b - b'0'));
                for delta in [-1i64, 0, 1] {
                    let nd = last + delta;
                    if !(0..=9).contains(&nd) {
                        continue;
                    }
                    let text = format!("{}{nd}e{exp}", &mant[..mant.len() - 1]);
                    let Some(d) = super::Decimal::parse(text.as_bytes()) else {
                        continue;
                    };
                    let val: f64 = text.parse().unwrap();
                    let Some(fast) = super::is_shortest(&d, val) else {
                        continue;
                    };
                    let slow = format!("{val:e}");
                    let back = super::Decimal::parse(slow.as_bytes()).unwrap();
                    assert_eq!(fast, back == d, "{text}: shortest is {slow}");
                    checked += 1;
                }
            }
        }
        assert!(checked > 50_000, "only {checked} checked");
    }
}
