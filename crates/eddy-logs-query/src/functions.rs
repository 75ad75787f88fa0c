//! Scalar functions usable in `fields`, `filter`, `sort` and `stats ... by`, and `bin()`'s
//! time units.

use std::borrow::Cow;

use crate::value::{Value, civil_from_days, days_from_civil};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Func {
    Concat,
    Strlen,
    ToUpper,
    ToLower,
    Trim,
    IsPresent,
    IsEmpty,
    IsBlank,
    Abs,
    Ceil,
    Floor,
    Coalesce,
}

impl Func {
    pub(crate) fn by_name(name: &str) -> Option<Func> {
        Some(match name.to_ascii_lowercase().as_str() {
            "concat" => Func::Concat,
            "strlen" => Func::Strlen,
            "toupper" => Func::ToUpper,
            "tolower" => Func::ToLower,
            "trim" => Func::Trim,
            "ispresent" => Func::IsPresent,
            "isempty" => Func::IsEmpty,
            "isblank" => Func::IsBlank,
            "abs" => Func::Abs,
            "ceil" => Func::Ceil,
            "floor" => Func::Floor,
            "coalesce" => Func::Coalesce,
            _ => return None,
        })
    }

    /// (fewest, most) arguments.
    pub(crate) fn arity(self) -> (usize, usize) {
        match self {
            Func::Concat | Func::Coalesce => (1, usize::MAX),
            _ => (1, 1),
        }
    }

    pub(crate) fn call<'r>(self, args: Vec<Value<'r>>) -> Value<'r> {
        let mut rest = args.into_iter();
        let first = rest.next().unwrap_or(Value::Null);
        let text = |v: &Value<'_>, f: fn(&str) -> String| match v {
            Value::Null => Value::Null,
            v => Value::Str(Cow::Owned(f(&v.as_text()))),
        };
        let num =
            |v: &Value<'_>, f: fn(f64) -> f64| v.as_num().map_or(Value::Null, |n| Value::Num(f(n)));
        match self {
            Func::Concat => {
                let mut out = first.as_text().into_owned();
                for v in rest {
                    out.push_str(&v.as_text());
                }
                Value::Str(Cow::Owned(out))
            }
            Func::Strlen => match first {
                Value::Null => Value::Null,
                v => Value::Num(v.as_text().chars().count() as f64),
            },
            Func::ToUpper => text(&first, str::to_uppercase),
            Func::ToLower => text(&first, str::to_lowercase),
            Func::Trim => text(&first, |s| s.trim().to_string()),
            Func::IsPresent => Value::Bool(!first.is_null()),
            Func::IsEmpty => Value::Bool(first.is_null() || first.as_text().is_empty()),
            Func::IsBlank => Value::Bool(first.is_null() || first.as_text().trim().is_empty()),
            Func::Abs => num(&first, f64::abs),
            Func::Ceil => num(&first, f64::ceil),
            Func::Floor => num(&first, f64::floor),
            Func::Coalesce if !first.is_null() => first,
            Func::Coalesce => rest.find(|v| !v.is_null()).unwrap_or(Value::Null),
        }
    }
}

/// The period of `bin(..)`: a fixed number of milliseconds or a number of calendar months.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinUnit {
    Millis(i64),
    Months(i64),
}

impl BinUnit {
    /// Reads `5m`, `1h`, `30sec`, `2hrs`, `1mo`, `1q`, `1y` (the units Insights documents).
    pub(crate) fn parse(word: &str) -> Option<BinUnit> {
        let digits = word.find(|c: char| !c.is_ascii_digit())?;
        let n: i64 = word[..digits].parse().ok().filter(|n| *n > 0)?;
        let unit = word[digits..].to_ascii_lowercase();
        let base = unit
            .strip_suffix('s')
            .filter(|u| u.len() > 1)
            .unwrap_or(&unit);
        let ms = match base {
            "ms" | "msec" | "millisecond" => 1,
            "s" | "sec" | "second" => 1_000,
            "m" | "min" | "minute" => 60_000,
            "h" | "hr" | "hour" => 3_600_000,
            "d" | "day" => 86_400_000,
            "w" | "week" => 7 * 86_400_000,
            "mo" | "mon" | "month" => return Some(BinUnit::Months(n)),
            "q" | "qtr" | "quarter" => return Some(BinUnit::Months(3 * n)),
            "y" | "yr" | "year" => return Some(BinUnit::Months(12 * n)),
            _ => return None,
        };
        Some(BinUnit::Millis(n.checked_mul(ms)?))
    }

    /// The start of the bin holding `ms` (UTC; months counted from January 1970).
    pub(crate) fn floor(self, ms: i64) -> i64 {
        match self {
            BinUnit::Millis(p) => ms.div_euclid(p) * p,
            BinUnit::Months(p) => {
                let (y, m, _) = civil_from_days(ms.div_euclid(86_400_000));
                let index = (y - 1970) * 12 + i64::from(m) - 1;
                let start = index.div_euclid(p) * p;
                let (y, m) = (1970 + start.div_euclid(12), start.rem_euclid(12) as u32 + 1);
                days_from_civil(y, m, 1) * 86_400_000
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_and_plurals() {
        assert_eq!(BinUnit::parse("5m"), Some(BinUnit::Millis(300_000)));
        assert_eq!(BinUnit::parse("2hrs"), Some(BinUnit::Millis(7_200_000)));
        assert_eq!(BinUnit::parse("30secs"), Some(BinUnit::Millis(30_000)));
        assert_eq!(BinUnit::parse("100ms"), Some(BinUnit::Millis(100)));
        assert_eq!(BinUnit::parse("1q"), Some(BinUnit::Months(3)));
        assert_eq!(BinUnit::parse("1yr"), Some(BinUnit::Months(12)));
        assert_eq!(BinUnit::parse("0m"), None);
        assert_eq!(BinUnit::parse("5parsecs"), None);
    }

    #[test]
    fn calendar_bins_start_on_the_first_of_the_month() {
        let may_17_2024 = 1_715_904_000_000 + 3_600_000;
        assert_eq!(BinUnit::Months(1).floor(may_17_2024), 1_714_521_600_000); // 2024-05-01
        assert_eq!(BinUnit::Months(3).floor(may_17_2024), 1_711_929_600_000); // 2024-04-01
        assert_eq!(BinUnit::Months(12).floor(may_17_2024), 1_704_067_200_000); // 2024-01-01
        assert_eq!(
            BinUnit::Millis(3_600_000).floor(may_17_2024 + 59_000),
            may_17_2024
        );
    }

    #[test]
    fn string_functions() {
        let s = |t: &'static str| Value::Str(Cow::Borrowed(t));
        assert_eq!(
            Func::Concat.call(vec![s("a"), Value::Num(1.0), s("b")]),
            s("a1b")
        );
        assert_eq!(Func::Strlen.call(vec![s("héllo")]), Value::Num(5.0));
        assert_eq!(
            Func::Coalesce.call(vec![Value::Null, Value::Null, s("z")]),
            s("z")
        );
        assert_eq!(Func::IsEmpty.call(vec![s("")]), Value::Bool(true));
        assert_eq!(Func::IsBlank.call(vec![s("  ")]), Value::Bool(true));
        assert_eq!(Func::ToUpper.call(vec![Value::Null]), Value::Null);
    }
}
