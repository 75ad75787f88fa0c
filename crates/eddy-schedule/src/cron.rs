//! AWS's six-field cron: parsing, validation and civil-time matching.

use std::fmt;

use jiff::civil::{Date, DateTime};

use crate::error::{CronField, ScheduleError};

/// A set of small integers (at most 256 values), stored as `value - base` bits.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Set([u64; 4]);

impl Set {
    fn insert(&mut self, i: u32) {
        if i < 256 {
            self.0[(i / 64) as usize] |= 1 << (i % 64);
        }
    }

    fn contains(&self, i: u32) -> bool {
        i < 256 && self.0[(i / 64) as usize] & (1 << (i % 64)) != 0
    }

    fn is_empty(&self) -> bool {
        self.0.iter().all(|w| *w == 0)
    }
}

impl fmt::Debug for Set {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set()
            .entries((0..256).filter(|i| self.contains(*i)))
            .finish()
    }
}

/// The day-of-month field when it constrains the day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DomSpec {
    /// Days 1-31 (bit = day). A day the month lacks never matches.
    Days(Set),
    /// `L`: the last day of the month.
    Last,
    /// `nW`: the weekday (Monday-Friday) nearest day `n`, without leaving the month.
    NearestWeekday(u8),
}

/// The day-of-week field when it constrains the day (1 = Sunday ... 7 = Saturday).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DowSpec {
    /// Weekdays (bit = 1..=7). `L` alone is Saturday, the last day of the week.
    Days(Set),
    /// `dL`: the last weekday `d` of the month.
    Last(u8),
    /// `d#n`: the `n`-th weekday `d` of the month (n = 1..=5).
    Nth(u8, u8),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DaySpec {
    /// Day-of-week is `?`.
    Month(DomSpec),
    /// Day-of-month is `?`.
    Week(DowSpec),
}

/// A parsed and validated `cron(...)` expression.
#[derive(Clone, PartialEq, Eq)]
pub struct Cron {
    minutes: Set,
    hours: Set,
    months: Set,
    /// Bit = year - 1970.
    years: Set,
    days: DaySpec,
    /// The six fields as written, joined by one space.
    text: String,
}

impl fmt::Debug for Cron {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cron({})", self.text)
    }
}

impl fmt::Display for Cron {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cron({})", self.text)
    }
}

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const WEEKDAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

impl Cron {
    /// Parses the text between `cron(` and `)`.
    pub(crate) fn parse(inner: &str) -> Result<Cron, ScheduleError> {
        let fields: Vec<&str> = inner.split_ascii_whitespace().collect();
        if fields.len() != 6 {
            return Err(ScheduleError::CronFieldCount(fields.len()));
        }
        let minutes = parse_list(CronField::Minutes, fields[0])?;
        let hours = parse_list(CronField::Hours, fields[1])?;
        let months = parse_list(CronField::Month, fields[3])?;
        let years = parse_list(CronField::Year, fields[5])?;
        let (dom, dow) = (fields[2], fields[4]);
        let days = match (dom == "?", dow == "?") {
            (true, false) => DaySpec::Week(parse_dow(dow)?),
            (false, true) => DaySpec::Month(parse_dom(dom)?),
            _ => {
                // Report a malformed field before the `?` rule, so the message names it.
                if dom != "?" {
                    parse_dom(dom)?;
                    parse_dow(dow)?;
                }
                return Err(ScheduleError::CronDayConflict);
            }
        };
        let text = inner.split_ascii_whitespace().collect::<Vec<_>>().join(" ");
        Ok(Cron {
            minutes,
            hours,
            months,
            years,
            days,
            text,
        })
    }

    /// Whether the wall-clock minute of `dt` (seconds ignored) matches every field.
    pub fn matches(&self, dt: DateTime) -> bool {
        self.hours.contains(dt.hour() as u32)
            && self.minutes.contains(dt.minute() as u32)
            && self.date_matches(dt.date())
    }

    /// Whether a civil date matches the day-of-month/day-of-week, month and year fields.
    fn date_matches(&self, d: Date) -> bool {
        let year = i32::from(d.year());
        if !(1970..=2199).contains(&year) || !self.years.contains((year - 1970) as u32) {
            return false;
        }
        if !self.months.contains(d.month() as u32) {
            return false;
        }
        self.day_matches(d)
    }

    fn day_matches(&self, d: Date) -> bool {
        let day = d.day() as u32;
        let last = d.days_in_month() as u32;
        let weekday = d.weekday().to_sunday_one_offset() as u32;
        match &self.days {
            DaySpec::Month(DomSpec::Days(set)) => set.contains(day),
            DaySpec::Month(DomSpec::Last) => day == last,
            DaySpec::Month(DomSpec::NearestWeekday(n)) => {
                let n = u32::from(*n);
                if n > last {
                    return false;
                }
                // Weekday of day n, from this day's weekday (both 1 = Sunday).
                let wd_n = (weekday as i64 - 1 + (n as i64 - day as i64)).rem_euclid(7) + 1;
                let target = match wd_n {
                    7 if n == 1 => 3,        // Saturday the 1st -> Monday the 3rd
                    7 => n - 1,              // Saturday -> Friday
                    1 if n == last => n - 2, // Sunday the last -> Friday
                    1 => n + 1,              // Sunday -> Monday
                    _ => n,
                };
                day == target
            }
            DaySpec::Week(DowSpec::Days(set)) => set.contains(weekday),
            DaySpec::Week(DowSpec::Last(w)) => weekday == u32::from(*w) && day + 7 > last,
            DaySpec::Week(DowSpec::Nth(w, n)) => {
                weekday == u32::from(*w) && (day - 1) / 7 + 1 == u32::from(*n)
            }
        }
    }

    /// The first civil date-time at or after `from` (truncated to the minute) that matches,
    /// or `None` if there is none before the end of year 2199.
    pub(crate) fn next_civil(&self, from: DateTime) -> Option<DateTime> {
        let mut date = from.date();
        let mut first = true;
        if date.year() < 1970 {
            date = Date::new(1970, 1, 1).ok()?;
            first = false;
        }
        loop {
            let year = i32::from(date.year());
            if year > 2199 {
                return None;
            }
            if !self.years.contains((year - 1970) as u32) {
                date = Date::new(date.year().checked_add(1)?, 1, 1).ok()?;
                first = false;
                continue;
            }
            if !self.months.contains(date.month() as u32) {
                date = date.last_of_month().tomorrow().ok()?;
                first = false;
                continue;
            }
            if self.day_matches(date) {
                let (h0, m0) = if first {
                    (from.hour() as u32, from.minute() as u32)
                } else {
                    (0, 0)
                };
                for h in (h0..24).filter(|h| self.hours.contains(*h)) {
                    let m_start = if h == h0 { m0 } else { 0 };
                    if let Some(m) = (m_start..60).find(|m| self.minutes.contains(*m)) {
                        return DateTime::new(
                            date.year(),
                            date.month(),
                            date.day(),
                            h as i8,
                            m as i8,
                            0,
                            0,
                        )
                        .ok();
                    }
                }
            }
            date = date.tomorrow().ok()?;
            first = false;
        }
    }
}

/// Parses a number or (for month and day-of-week) a three-letter name.
fn parse_value(field: CronField, whole: &str, s: &str) -> Result<u32, ScheduleError> {
    let (min, max) = field.bounds();
    let names: &[&str] = match field {
        CronField::Month => &MONTHS,
        CronField::DayOfWeek => &WEEKDAYS,
        _ => &[],
    };
    if let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(s)) {
        return Ok(i as u32 + 1);
    }
    if s.is_empty() {
        return Err(ScheduleError::field(field, whole, "a value is missing"));
    }
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        let what = if names.is_empty() {
            format!("`{s}` is not a number")
        } else {
            format!("`{s}` is not a number or a name")
        };
        return Err(ScheduleError::field(field, whole, what));
    }
    let v = s.parse::<u32>().ok().filter(|v| (min..=max).contains(v));
    v.ok_or_else(|| {
        ScheduleError::field(field, whole, format!("`{s}` is out of range {min}-{max}"))
    })
}

/// Parses a field made of `,`-separated items, each `*`, `v`, `a-b` (may wrap), optionally
/// followed by `/step`; `v/step` runs from `v` to the field's maximum.
fn parse_list(field: CronField, text: &str) -> Result<Set, ScheduleError> {
    let (min, max) = field.bounds();
    let base = if field == CronField::Year { 1970 } else { 0 };
    let size = max - min + 1;
    let mut set = Set::default();
    if text.is_empty() {
        return Err(ScheduleError::field(field, text, "the field is empty"));
    }
    for item in text.split(',') {
        if item.is_empty() {
            return Err(ScheduleError::field(field, text, "a list item is empty"));
        }
        let (range, step) = match item.split_once('/') {
            Some((range, step)) => {
                // Quartz's bound: an increment may not exceed the field's largest value.
                let step_max = if field == CronField::Year { size } else { max };
                let parsed = step
                    .bytes()
                    .all(|b| b.is_ascii_digit())
                    .then(|| step.parse::<u32>().ok())
                    .flatten()
                    .filter(|s| (1..=step_max).contains(s));
                let Some(step) = parsed else {
                    return Err(ScheduleError::field(
                        field,
                        text,
                        format!("increment `{step}` must be a number from 1 to {step_max}"),
                    ));
                };
                (range, Some(step))
            }
            None => (item, None),
        };
        let (start, end) = if range == "*" {
            (min, max)
        } else if let Some((a, b)) = range.split_once('-') {
            (parse_value(field, text, a)?, parse_value(field, text, b)?)
        } else {
            let v = parse_value(field, text, range)?;
            (v, if step.is_some() { max } else { v })
        };
        // Positions after `start`, wrapping past the maximum back to the minimum.
        let span = if start <= end {
            end - start
        } else {
            size - (start - end)
        };
        for k in (0..=span).step_by(step.unwrap_or(1) as usize) {
            let v = min + (start - min + k) % size;
            set.insert(v - base);
        }
    }
    debug_assert!(!set.is_empty());
    Ok(set)
}

fn parse_dom(text: &str) -> Result<DomSpec, ScheduleError> {
    let field = CronField::DayOfMonth;
    if text == "L" {
        return Ok(DomSpec::Last);
    }
    if text.contains('L') {
        return Err(ScheduleError::field(
            field,
            text,
            "`L` must stand alone (offsets and `LW` are not supported)",
        ));
    }
    if let Some(day) = text.strip_suffix('W') {
        if day.contains(['W', ',', '-', '/', '*']) {
            return Err(ScheduleError::field(
                field,
                text,
                "`W` must follow a single day, as in `15W`",
            ));
        }
        return Ok(DomSpec::NearestWeekday(parse_value(field, text, day)? as u8));
    }
    if text.contains('W') {
        return Err(ScheduleError::field(
            field,
            text,
            "`W` must follow a single day, as in `15W`",
        ));
    }
    if text.contains('?') {
        return Err(ScheduleError::field(field, text, "`?` must stand alone"));
    }
    if text.contains('#') {
        return Err(ScheduleError::field(
            field,
            text,
            "`#` is only allowed in `day-of-week`",
        ));
    }
    parse_list(field, text).map(DomSpec::Days)
}

fn parse_dow(text: &str) -> Result<DowSpec, ScheduleError> {
    let field = CronField::DayOfWeek;
    if text == "L" {
        let mut set = Set::default();
        set.insert(7);
        return Ok(DowSpec::Days(set));
    }
    if text.contains('#') {
        if text.contains([',', '-', '/', '*']) {
            return Err(ScheduleError::field(
                field,
                text,
                "only one `#` expression is allowed, and it must stand alone",
            ));
        }
        let Some((day, nth)) = text.split_once('#') else {
            return Err(ScheduleError::field(
                field,
                text,
                "`#` must be used as `day#n`",
            ));
        };
        let day = parse_value(field, text, day)?;
        let nth = match nth.parse::<u8>() {
            Ok(n) if (1..=5).contains(&n) && nth.bytes().all(|b| b.is_ascii_digit()) => n,
            _ => {
                return Err(ScheduleError::field(
                    field,
                    text,
                    "the number after `#` must be from 1 to 5",
                ));
            }
        };
        return Ok(DowSpec::Nth(day as u8, nth));
    }
    // `dL`, including names such as `FRIL`.
    if let Some(day) = text.strip_suffix('L') {
        if day.is_empty() || day.contains([',', '-', '/', '*', 'L']) {
            return Err(ScheduleError::field(
                field,
                text,
                "`L` must stand alone or follow a single day, as in `6L`",
            ));
        }
        return Ok(DowSpec::Last(parse_value(field, text, day)? as u8));
    }
    if text.contains('L') {
        return Err(ScheduleError::field(
            field,
            text,
            "`L` must stand alone or follow a single day, as in `6L`",
        ));
    }
    if text.contains('?') {
        return Err(ScheduleError::field(field, text, "`?` must stand alone"));
    }
    if text.contains('/') {
        // AWS's table lists `, - * ? L #` for day-of-week: no increments.
        return Err(ScheduleError::field(
            field,
            text,
            "`/` is not allowed in `day-of-week`",
        ));
    }
    parse_list(field, text).map(DowSpec::Days)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dom(text: &str) -> Set {
        match parse_dom(text).unwrap() {
            DomSpec::Days(s) => s,
            other => panic!("{other:?}"),
        }
    }

    fn values(set: Set) -> Vec<u32> {
        (0..256).filter(|i| set.contains(*i)).collect()
    }

    #[test]
    fn lists_ranges_steps() {
        assert_eq!(
            values(parse_list(CronField::Minutes, "0/15").unwrap()),
            [0, 15, 30, 45]
        );
        assert_eq!(
            values(parse_list(CronField::Minutes, "1/10").unwrap()),
            [1, 11, 21, 31, 41, 51]
        );
        assert_eq!(
            values(parse_list(CronField::Hours, "20-2").unwrap()),
            [0, 1, 2, 20, 21, 22, 23]
        );
        assert_eq!(
            values(parse_list(CronField::Hours, "20-2/2").unwrap()),
            [0, 2, 20, 22]
        );
        assert_eq!(
            values(parse_list(CronField::Hours, "*/6").unwrap()),
            [0, 6, 12, 18]
        );
        assert_eq!(
            values(parse_list(CronField::Month, "NOV-FEB").unwrap()),
            [1, 2, 11, 12]
        );
        assert_eq!(
            values(parse_list(CronField::Month, "jan,Mar,5").unwrap()),
            [1, 3, 5]
        );
        assert_eq!(values(dom("1-31/30")), [1, 31]);
        assert_eq!(values(parse_list(CronField::Year, "2020").unwrap()), [50]);
        assert_eq!(
            values(parse_list(CronField::Minutes, "30-30").unwrap()),
            [30]
        );
    }

    #[test]
    fn dow_specials() {
        assert_eq!(parse_dow("6L").unwrap(), DowSpec::Last(6));
        assert_eq!(parse_dow("FRIL").unwrap(), DowSpec::Last(6));
        assert_eq!(parse_dow("3#2").unwrap(), DowSpec::Nth(3, 2));
        assert_eq!(parse_dow("TUE#2").unwrap(), DowSpec::Nth(3, 2));
        let DowSpec::Days(sat) = parse_dow("L").unwrap() else {
            panic!()
        };
        assert_eq!(values(sat), [7]);
        let DowSpec::Days(wrap) = parse_dow("FRI-MON").unwrap() else {
            panic!()
        };
        assert_eq!(values(wrap), [1, 2, 6, 7]);
    }
}
