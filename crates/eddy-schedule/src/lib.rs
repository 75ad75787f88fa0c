//! # eddy-schedule: AWS schedule expressions and their fire times
//!
//! What it is: a pure library (no I/O, no async, no clock) that parses and validates the
//! schedule expressions of EventBridge rules and EventBridge Scheduler exactly as AWS documents
//! them — `rate(value unit)`, six-field `cron(minutes hours day-of-month month day-of-week year)`
//! and one-time `at(yyyy-mm-ddThh:mm:ss)` — and computes when a schedule next fires, in any IANA
//! time zone (the tz database is bundled, so results do not depend on the host).
//!
//! What it is not: it does not keep time, store ticks, apply `StartDate`/`EndDate` windows,
//! flexible time windows or missed-tick policies, nor check the 256-character API limit; the
//! server's scheduler does that, feeding the times it has from its own (test-controllable) clock.
//!
//! ## Main types
//! - [`ScheduleExpression`]: [`ScheduleExpression::parse`], [`ScheduleExpression::next_after`],
//!   [`ScheduleExpression::allowed_for_rules`] (rules take `rate`/`cron` only, in UTC).
//! - [`Rate`] / [`RateUnit`], [`Cron`], and for `at` a [`jiff::civil::DateTime`].
//! - [`ScheduleError`] with eddy's precise `Display` text, plus [`ScheduleError::rule_message`]
//!   (`Parameter ScheduleExpression is not valid.`, AWS's exact text) and
//!   [`ScheduleError::scheduler_message`] (`Invalid Schedule Expression <expr>.`).
//!
//! ## Grammar (AWS's documentation; eddy's choices where it is silent are marked *eddy*)
//! - `rate(N unit)`: `N` a positive integer (*eddy*: up to `u32::MAX`, leading zeros allowed),
//!   unit `minute|hour|day` when N = 1 and `minutes|hours|days` otherwise.
//! - `cron(...)`: six fields separated by white space. `,` lists, `-` ranges (which may wrap:
//!   hours `22-2`, days `FRI-MON`), `*`, `a/b` (from `a` every `b` up to the field's maximum),
//!   `a-b/c`, `*/c` (not in day-of-week, whose documented specials are `, - * ? L #`). Names
//!   `JAN`-`DEC` and `SUN`-`SAT` (1 = Sunday), case-insensitive like Quartz (*eddy*: the
//!   letters `L`, `W` must be upper case; the `W` of nearest-weekday never leaves the month, and
//!   `31W` does not fire in a 30-day month). A day the month lacks (the 31st, Feb 29 outside
//!   leap years) is skipped, never moved. Exactly one of day-of-month and day-of-week is `?`.
//!   Day-of-month also takes `L` (last day) and `nW` (the weekday nearest day n, within the
//!   month); day-of-week takes `L` (Saturday), `dL` (the last weekday d of the month) and
//!   `d#n` (n = 1..5). `L`, `nW`, `dL` and `d#n`
//!   stand alone in their field (AWS: one `#` expression per field; *eddy*: the same for the
//!   others, as Quartz). Ranges: minutes 0-59, hours 0-23, day-of-month 1-31, month 1-12,
//!   day-of-week 1-7, year 1970-2199. Increments run from 1 to the field's largest value (so
//!   `*/60` in minutes is invalid, as AWS answers) — year: 1 to 230. *eddy* rejects Quartz extras
//!   AWS does not document: `LW`, `L-n`, `?` inside a list.
//! - `at(yyyy-mm-ddThh:mm:ss)`: a wall-clock time, no offset, no fraction; the date must exist.
//!
//! ## Fire times ([`ScheduleExpression::next_after`])
//! The result is the first fire time *strictly after* `after`; call it again with the returned
//! time to walk the schedule.
//! - `rate`: fires at `anchor + k × period` for k = 0, 1, 2, … where the anchor is the
//!   schedule's start (Scheduler's `StartDate`, or the creation time of a rule or of a schedule
//!   without `StartDate`); without an anchor, the Unix epoch. Periods are exact durations: a day is
//!   24 hours even across daylight-saving changes (AWS Scheduler's documented behaviour). The
//!   time zone is ignored.
//! - `cron`: evaluated on the wall clock of the given zone (UTC for rules); fires at second 0 of
//!   each matching minute; never after 2199.
//! - `at`: fires once, at the wall-clock time in the zone; `None` once that time has passed.
//!
//! ## The daylight-saving rule
//! AWS Scheduler: "When the time shifts forward in Spring, your schedule invocation gets skipped
//! if the cron expression falls on a non-existent date and time. When the time shifts back in
//! the Fall, your schedule runs only once and doesn't repeat its invocation." So:
//! - a local time skipped by a spring-forward change does not fire (it is not moved to the next
//!   valid time), for `cron` and `at` alike;
//! - a local time repeated by a fall-back change fires once, at its **first** occurrence (the
//!   earlier instant, still on the summer offset). AWS does not name the occurrence; "runs only
//!   once and doesn't repeat" reads as the first, and firing at the first is the only choice that
//!   never fires late. A `cron(*/15 * * * ? *)` therefore pauses for the repeated hour.

mod cron;
mod error;

use std::fmt;

use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::{AmbiguousOffset, TimeZone};

pub use crate::cron::Cron;
pub use crate::error::{CronField, RULE_INVALID_MESSAGE, ScheduleError};

/// The unit of a `rate(...)` expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RateUnit {
    Minute,
    Hour,
    Day,
}

impl RateUnit {
    /// Length of one unit in seconds (a day is always 24 hours).
    pub fn seconds(self) -> u64 {
        match self {
            RateUnit::Minute => 60,
            RateUnit::Hour => 3_600,
            RateUnit::Day => 86_400,
        }
    }
}

/// A parsed `rate(value unit)` expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rate {
    /// Positive.
    pub value: u32,
    pub unit: RateUnit,
}

impl Rate {
    /// The period in seconds.
    pub fn period_seconds(&self) -> u64 {
        u64::from(self.value) * self.unit.seconds()
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = match self.unit {
            RateUnit::Minute => "minute",
            RateUnit::Hour => "hour",
            RateUnit::Day => "day",
        };
        let plural = if self.value == 1 { "" } else { "s" };
        write!(f, "rate({} {unit}{plural})", self.value)
    }
}

/// A parsed, valid schedule expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScheduleExpression {
    /// `rate(value unit)`.
    Rate(Rate),
    /// `cron(...)`.
    Cron(Box<Cron>),
    /// `at(yyyy-mm-ddThh:mm:ss)`: a wall-clock time in the schedule's zone.
    At(DateTime),
}

impl fmt::Display for ScheduleExpression {
    /// The canonical text: runs of white space inside `cron(...)` become one space.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScheduleExpression::Rate(rate) => rate.fmt(f),
            ScheduleExpression::Cron(cron) => cron.fmt(f),
            ScheduleExpression::At(dt) => write!(f, "at({})", dt.strftime("%Y-%m-%dT%H:%M:%S")),
        }
    }
}

impl std::str::FromStr for ScheduleExpression {
    type Err = ScheduleError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ScheduleExpression::parse(s)
    }
}

fn inner<'a>(s: &'a str, keyword: &str) -> Option<&'a str> {
    s.strip_prefix(keyword)?
        .strip_prefix('(')?
        .strip_suffix(')')
}

impl ScheduleExpression {
    /// Parses and validates an expression. Keywords are lower case and there is no white space
    /// outside the parentheses (*eddy*'s reading of AWS's grammar).
    pub fn parse(s: &str) -> Result<ScheduleExpression, ScheduleError> {
        if let Some(body) = inner(s, "rate") {
            parse_rate(body).map(ScheduleExpression::Rate)
        } else if let Some(body) = inner(s, "cron") {
            Cron::parse(body).map(|c| ScheduleExpression::Cron(Box::new(c)))
        } else if let Some(body) = inner(s, "at") {
            parse_at(body).map(ScheduleExpression::At)
        } else {
            Err(ScheduleError::UnknownForm)
        }
    }

    /// Whether an EventBridge rule may use this expression: `rate` and `cron` (in UTC), not
    /// `at`. For a rule, answer an `at(...)` with [`RULE_INVALID_MESSAGE`].
    pub fn allowed_for_rules(&self) -> bool {
        !matches!(self, ScheduleExpression::At(_))
    }

    /// Whether the schedule fires once (`at`) rather than repeatedly.
    pub fn is_one_time(&self) -> bool {
        matches!(self, ScheduleExpression::At(_))
    }

    /// The first fire time strictly after `after`, or `None` if there is none.
    ///
    /// - `tz`: the zone whose wall clock `cron` and `at` are read in (UTC for rules); ignored by
    ///   `rate`.
    /// - `start`: the anchor of a `rate` schedule (its `StartDate`, else its creation time); it
    ///   fires at `start + k × period`, k ≥ 0, so at `start` itself first. `None` anchors at the
    ///   Unix epoch. Ignored by `cron` and `at` (the caller applies `StartDate`/`EndDate`).
    ///
    /// A local time skipped by a daylight-saving change does not fire; a repeated one fires at
    /// its first occurrence only (see the crate documentation).
    pub fn next_after(
        &self,
        after: Timestamp,
        tz: &TimeZone,
        start: Option<Timestamp>,
    ) -> Option<Timestamp> {
        match self {
            ScheduleExpression::Rate(rate) => rate_next(rate, after, start),
            ScheduleExpression::At(dt) => resolve(tz, *dt).filter(|ts| *ts > after),
            ScheduleExpression::Cron(cron) => cron_next(cron, after, tz),
        }
    }

    /// The fire times strictly after `after`, in order (see [`ScheduleExpression::next_after`]).
    pub fn fire_times<'a>(
        &'a self,
        after: Timestamp,
        tz: &'a TimeZone,
        start: Option<Timestamp>,
    ) -> impl Iterator<Item = Timestamp> + 'a {
        let mut cursor = after;
        std::iter::from_fn(move || {
            let next = self.next_after(cursor, tz, start)?;
            cursor = next;
            Some(next)
        })
    }
}

fn parse_rate(body: &str) -> Result<Rate, ScheduleError> {
    let mut parts = body.split_ascii_whitespace();
    let (Some(value), Some(unit), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(ScheduleError::RateSyntax);
    };
    let parsed = value
        .bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| value.parse::<u32>().ok())
        .flatten()
        .filter(|v| *v > 0);
    let Some(value) = parsed else {
        return Err(ScheduleError::RateValue(value.to_string()));
    };
    let (unit_kind, plural) = match unit {
        "minute" => (RateUnit::Minute, false),
        "minutes" => (RateUnit::Minute, true),
        "hour" => (RateUnit::Hour, false),
        "hours" => (RateUnit::Hour, true),
        "day" => (RateUnit::Day, false),
        "days" => (RateUnit::Day, true),
        _ => return Err(ScheduleError::RateUnit(unit.to_string())),
    };
    if plural == (value == 1) {
        return Err(ScheduleError::RatePlural {
            value,
            unit: unit.to_string(),
        });
    }
    Ok(Rate {
        value,
        unit: unit_kind,
    })
}

fn parse_at(body: &str) -> Result<DateTime, ScheduleError> {
    let b = body.as_bytes();
    let shape_ok = b.len() == 19
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            _ => c.is_ascii_digit(),
        });
    if !shape_ok {
        return Err(ScheduleError::AtSyntax);
    }
    let num = |r: std::ops::Range<usize>| body.get(r).and_then(|s| s.parse::<i16>().ok());
    let invalid = || ScheduleError::AtInvalid(body.to_string());
    let (Some(y), Some(mo), Some(d), Some(h), Some(mi), Some(s)) = (
        num(0..4),
        num(5..7),
        num(8..10),
        num(11..13),
        num(14..16),
        num(17..19),
    ) else {
        return Err(invalid());
    };
    let small = |v: i16| i8::try_from(v).map_err(|_| invalid());
    DateTime::new(
        y,
        small(mo)?,
        small(d)?,
        small(h)?,
        small(mi)?,
        small(s)?,
        0,
    )
    .map_err(|_| invalid())
}

/// The instant of a wall-clock time in `tz` under AWS's daylight-saving rule: `None` in a gap,
/// the earlier instant in a fold.
fn resolve(tz: &TimeZone, dt: DateTime) -> Option<Timestamp> {
    let offset = match tz.to_ambiguous_timestamp(dt).offset() {
        AmbiguousOffset::Unambiguous { offset } => offset,
        AmbiguousOffset::Gap { .. } => return None,
        AmbiguousOffset::Fold { before, .. } => before,
    };
    offset.to_timestamp(dt).ok()
}

fn rate_next(rate: &Rate, after: Timestamp, start: Option<Timestamp>) -> Option<Timestamp> {
    let anchor = start.unwrap_or(Timestamp::UNIX_EPOCH);
    if after < anchor {
        return Some(anchor);
    }
    let period = i128::from(rate.period_seconds()) * 1_000_000_000;
    let elapsed = after.as_nanosecond() - anchor.as_nanosecond();
    let k = elapsed / period + 1;
    Timestamp::from_nanosecond(anchor.as_nanosecond() + k * period).ok()
}

fn cron_next(cron: &Cron, after: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
    let local = tz.to_datetime(after);
    let mut from = DateTime::new(
        local.year(),
        local.month(),
        local.day(),
        local.hour(),
        local.minute(),
        0,
        0,
    )
    .ok()?;
    loop {
        let candidate = cron.next_civil(from)?;
        if let Some(ts) = resolve(tz, candidate).filter(|ts| *ts > after) {
            return Some(ts);
        }
        // Skipped by spring-forward, or its first occurrence is not after `after` (we are in
        // the repeated hour after a fall-back): try the next matching minute.
        from = candidate
            .checked_add(jiff::SignedDuration::from_mins(1))
            .ok()?;
    }
}
