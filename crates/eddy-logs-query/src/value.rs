//! Values a query computes with (text, numbers, timestamps, booleans, absent), how they
//! compare and convert, and how they are written in results (as GetQueryResults's strings).

use std::borrow::Cow;
use std::cmp::Ordering;

/// One value during evaluation. Text borrows from the record where it can.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value<'a> {
    /// The field is absent (or a function had nothing to return).
    Null,
    Str(Cow<'a, str>),
    Num(f64),
    /// Milliseconds since the epoch (`@timestamp`, `@ingestionTime`, `bin(..)`).
    Time(i64),
    Bool(bool),
}

impl Value<'_> {
    pub(crate) fn into_owned(self) -> Value<'static> {
        match self {
            Value::Null => Value::Null,
            Value::Str(s) => Value::Str(Cow::Owned(s.into_owned())),
            Value::Num(n) => Value::Num(n),
            Value::Time(t) => Value::Time(t),
            Value::Bool(b) => Value::Bool(b),
        }
    }

    pub(crate) fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The value as a number, when it is one or is text that reads as one.
    pub(crate) fn as_num(&self) -> Option<f64> {
        match self {
            Value::Num(n) => Some(*n),
            Value::Time(t) => Some(*t as f64),
            Value::Str(s) => s.trim().parse::<f64>().ok().filter(|n| n.is_finite()),
            Value::Bool(_) | Value::Null => None,
        }
    }

    /// The value as text, as it would be shown in results.
    pub(crate) fn as_text(&self) -> Cow<'_, str> {
        match self {
            Value::Str(s) => Cow::Borrowed(s.as_ref()),
            Value::Null => Cow::Borrowed(""),
            other => Cow::Owned(other.render().unwrap_or_default()),
        }
    }

    /// Truthiness for `filter`: booleans as they are, absent is false, anything else is true
    /// unless it is an empty string or zero.
    pub(crate) fn truthy(&self) -> bool {
        match self {
            Value::Bool(b) => *b,
            Value::Null => false,
            Value::Str(s) => !s.is_empty(),
            Value::Num(n) => *n != 0.0,
            Value::Time(_) => true,
        }
    }

    /// The result string, or `None` for an absent value (left out of the result row).
    pub(crate) fn render(&self) -> Option<String> {
        match self {
            Value::Null => None,
            Value::Str(s) => Some(s.to_string()),
            Value::Num(n) => Some(format_number(*n)),
            Value::Time(t) => Some(format_timestamp(*t)),
            Value::Bool(b) => Some(b.to_string()),
        }
    }
}

/// Compares two values for `=`, `<` and friends: numerically when both read as numbers and at
/// least one is a number, otherwise as text. `None` when either is absent.
pub(crate) fn compare(a: &Value<'_>, b: &Value<'_>) -> Option<Ordering> {
    if a.is_null() || b.is_null() {
        return None;
    }
    let numeric =
        matches!(a, Value::Num(_) | Value::Time(_)) || matches!(b, Value::Num(_) | Value::Time(_));
    if numeric && let (Some(x), Some(y)) = (a.as_num(), b.as_num()) {
        return x.partial_cmp(&y);
    }
    Some(a.as_text().cmp(&b.as_text()))
}

/// Ascending order for `sort`, Insights' documented "natural" order: every non-number before
/// every number; numbers (and text made only of a number) numerically; other text compared in
/// chunks of digits (shorter run first, then by value) and non-digits (by code point). Absent
/// values go after everything (the caller keeps them last when descending too).
pub(crate) fn sort_order(a: &Value<'_>, b: &Value<'_>) -> Ordering {
    fn number(v: &Value<'_>) -> Option<f64> {
        match v {
            Value::Num(_) | Value::Time(_) => v.as_num(),
            Value::Str(s) if is_number_text(s) => v.as_num(),
            _ => None,
        }
    }
    match (a.is_null(), b.is_null()) {
        (true, true) => return Ordering::Equal,
        (true, false) => return Ordering::Greater,
        (false, true) => return Ordering::Less,
        _ => {}
    }
    match (number(a), number(b)) {
        (Some(x), Some(y)) => x.total_cmp(&y),
        (Some(_), None) => Ordering::Greater,
        (None, Some(_)) => Ordering::Less,
        (None, None) => natural(&a.as_text(), &b.as_text()),
    }
}

/// `12`, `-3`, `0.5`: text that is only a number.
fn is_number_text(s: &str) -> bool {
    let s = s.strip_prefix('-').unwrap_or(s);
    let (int, frac) = s.split_once('.').unwrap_or((s, "0"));
    !int.is_empty()
        && !frac.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit())
}

fn natural(a: &str, b: &str) -> Ordering {
    fn chunk(s: &str) -> (&str, &str) {
        let digits = s.starts_with(|c: char| c.is_ascii_digit());
        let end = s
            .find(|c: char| c.is_ascii_digit() != digits)
            .unwrap_or(s.len());
        s.split_at(end)
    }
    let (mut a, mut b) = (a, b);
    loop {
        match (a.is_empty(), b.is_empty()) {
            (true, true) => return Ordering::Equal,
            (true, false) => return Ordering::Less,
            (false, true) => return Ordering::Greater,
            _ => {}
        }
        let ((x, rest_a), (y, rest_b)) = (chunk(a), chunk(b));
        let both_digits = x.starts_with(|c: char| c.is_ascii_digit())
            && y.starts_with(|c: char| c.is_ascii_digit());
        let o = if both_digits {
            x.len().cmp(&y.len()).then(x.cmp(y))
        } else {
            x.cmp(y)
        };
        if o != Ordering::Equal {
            return o;
        }
        (a, b) = (rest_a, rest_b);
    }
}

/// Numbers as Insights writes them: integral values without a fraction (`3`, not `3.0`),
/// others with the shortest decimal that reads back to the same double (`2.5`, `0.1`).
pub(crate) fn format_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e17 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

/// `2024-01-01 00:00:00.000` (UTC), the form of `@timestamp` in GetQueryResults.
pub fn format_timestamp(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let rem = ms.rem_euclid(86_400_000);
    let (y, m, d) = civil_from_days(days);
    let (h, mi, s, milli) = (
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000,
    );
    format!("{y:04}-{m:02}-{d:02} {h:02}:{mi:02}:{s:02}.{milli:03}")
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day).
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// (year, month, day) to days since 1970-01-01.
pub(crate) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_in_utc_with_milliseconds() {
        assert_eq!(format_timestamp(0), "1970-01-01 00:00:00.000");
        assert_eq!(
            format_timestamp(1_704_067_200_123),
            "2024-01-01 00:00:00.123"
        );
        assert_eq!(
            format_timestamp(1_709_208_000_000),
            "2024-02-29 12:00:00.000"
        );
        assert_eq!(format_timestamp(-1), "1969-12-31 23:59:59.999");
    }

    #[test]
    fn civil_days_round_trip() {
        for days in [-800_000, -1, 0, 59, 60, 11_016, 19_723, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn numbers_without_a_trailing_zero() {
        assert_eq!(format_number(3.0), "3");
        assert_eq!(format_number(-0.0), "0");
        assert_eq!(format_number(2.5), "2.5");
        assert_eq!(format_number(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(format_number(1e20), "100000000000000000000");
    }

    #[test]
    fn sort_order_is_insights_natural_order() {
        // Insights' documented ascending example, shuffled.
        let expected = [
            "!:",
            "#",
            "*%04",
            "0#",
            "5A",
            "111A",
            "2345_",
            "@",
            "@_",
            "A",
            "A9876fghj",
            "a12345hfh",
            "0",
            "1",
            "2",
            "3",
        ];
        let mut values: Vec<Value<'static>> = expected
            .iter()
            .rev()
            .map(|s| Value::Str(Cow::Borrowed(*s)))
            .collect();
        values.push(Value::Null);
        values.sort_by(sort_order);
        let sorted: Vec<String> = values.iter().map(|v| v.as_text().into_owned()).collect();
        let mut want: Vec<&str> = expected.to_vec();
        want.push("");
        assert_eq!(sorted, want);
        assert_eq!(
            sort_order(&Value::Num(10.0), &Value::Str(Cow::Borrowed("9"))),
            Ordering::Greater
        );
    }

    #[test]
    fn comparisons_are_numeric_when_a_number_is_involved() {
        let s = |t: &'static str| Value::Str(Cow::Borrowed(t));
        assert_eq!(compare(&s("10"), &Value::Num(9.0)), Some(Ordering::Greater));
        assert_eq!(compare(&s("10"), &s("9")), Some(Ordering::Less));
        assert_eq!(compare(&s("x"), &Value::Num(1.0)), Some(Ordering::Greater));
        assert_eq!(compare(&Value::Null, &Value::Num(1.0)), None);
    }
}
