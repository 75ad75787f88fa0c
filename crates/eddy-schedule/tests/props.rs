//! Property tests: next fire times agree with `croner` (Quartz mode) on generated expressions
//! that use only features both implement, and no input makes the parser panic.

use std::str::FromStr;

use chrono::{DateTime as ChronoDateTime, TimeZone as _, Utc};
use croner::parser::{CronParser, Seconds, Year};
use eddy_schedule::ScheduleExpression;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use proptest::prelude::*;

/// One list item of a plain numeric field within `lo..=hi`: a value, a non-wrapping range, or
/// a stepped form (`*/s`, `a/s`, `a-b/s`). croner does not wrap ranges, so neither do we here.
fn item(lo: u32, hi: u32) -> impl Strategy<Value = String> {
    let step_max = hi.min(59);
    prop_oneof![
        4 => (lo..=hi).prop_map(|v| v.to_string()),
        3 => (lo..=hi, lo..=hi).prop_map(|(a, b)| format!("{}-{}", a.min(b), a.max(b))),
        2 => (1..=step_max).prop_map(|s| format!("*/{s}")),
        2 => (lo..=hi, 1..=step_max).prop_map(|(a, s)| format!("{a}/{s}")),
        1 => (lo..=hi, lo..=hi, 1..=step_max)
            .prop_map(|(a, b, s)| format!("{}-{}/{s}", a.min(b), a.max(b))),
    ]
}

fn list(lo: u32, hi: u32) -> impl Strategy<Value = String> {
    prop_oneof![
        1 => Just("*".to_string()),
        4 => prop::collection::vec(item(lo, hi), 1..4).prop_map(|v| v.join(",")),
    ]
}

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const DAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

fn month() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => list(1, 12),
        1 => prop::collection::vec(0..12usize, 1..4)
            .prop_map(|v| v.iter().map(|i| MONTHS[*i]).collect::<Vec<_>>().join(",")),
    ]
}

/// (day-of-month, day-of-week), exactly one of them `?`.
fn days() -> impl Strategy<Value = (String, String)> {
    let dom = prop_oneof![
        4 => list(1, 31),
        1 => Just("L".to_string()),
        // croner and Quartz agree on `W` for days every month has.
        1 => (1..=28u32).prop_map(|d| format!("{d}W")),
    ];
    let dow = prop_oneof![
        2 => Just("*".to_string()),
        3 => prop::collection::vec(1..=7u32, 1..4)
            .prop_map(|v| v.iter().map(u32::to_string).collect::<Vec<_>>().join(",")),
        2 => (1..=7u32, 1..=7u32).prop_map(|(a, b)| format!("{}-{}", a.min(b), a.max(b))),
        2 => (0..7usize, 0..7usize)
            .prop_map(|(a, b)| format!("{}-{}", DAYS[a.min(b)], DAYS[a.max(b)])),
        2 => (1..=7u32, 1..=5u32).prop_map(|(d, n)| format!("{d}#{n}")),
        1 => (1..=7u32).prop_map(|d| format!("{d}L")),
    ];
    prop_oneof![
        dom.prop_map(|d| (d, "?".to_string())),
        dow.prop_map(|d| ("?".to_string(), d)),
    ]
}

fn year() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => Just("*".to_string()),
        2 => (2020..=2045u32, 0..=15u32).prop_map(|(a, n)| format!("{a}-{}", a + n)),
        1 => (2020..=2030u32, 1..=4u32).prop_map(|(a, s)| format!("{a}/{s}")),
    ]
}

fn cron_fields() -> impl Strategy<Value = [String; 6]> {
    (list(0, 59), list(0, 23), days(), month(), year())
        .prop_map(|(mi, h, (dom, dow), mo, y)| [mi, h, dom, mo, dow, y])
}

/// The same expression for croner: a leading seconds field, `?` as `*` (croner treats `?` as
/// `*`, and with one day field `*` it matches on the other alone — AWS's rule).
fn croner_pattern(f: &[String; 6]) -> String {
    let q = |s: &String| if s == "?" { "*".to_string() } else { s.clone() };
    format!(
        "0 {} {} {} {} {} {}",
        f[0],
        f[1],
        q(&f[2]),
        f[3],
        q(&f[4]),
        f[5]
    )
}

fn to_chrono(ts: Timestamp) -> ChronoDateTime<Utc> {
    Utc.timestamp_opt(ts.as_second(), 0)
        .single()
        .expect("in range")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn next_fire_times_agree_with_croner(
        fields in cron_fields(),
        start in 1_577_836_800i64..2_208_988_800, // 2020-01-01 .. 2040-01-01
    ) {
        let text = format!("cron({})", fields.join(" "));
        let ours = ScheduleExpression::parse(&text)
            .unwrap_or_else(|e| panic!("{text}: {e}"));
        let oracle = CronParser::builder()
            .seconds(Seconds::Required)
            .year(Year::Required)
            .alternative_weekdays(true)
            .sloppy_ranges(true)
            .build()
            .parse(&croner_pattern(&fields))
            .unwrap_or_else(|e| panic!("croner rejects {text}: {e}"));

        let utc = TimeZone::UTC;
        let mut cursor = Timestamp::from_second(start).unwrap();
        for _ in 0..4 {
            let mine = ours.next_after(cursor, &utc, None);
            let theirs = oracle.find_next_occurrence(&to_chrono(cursor), false).ok();
            match (mine, theirs) {
                (Some(m), Some(t)) => prop_assert_eq!(m.as_second(), t.timestamp(), "{}", text),
                (None, Some(t)) => prop_assert!(t.timestamp() > 7_258_118_400, "{text}: croner {t}"),
                (Some(m), None) => prop_assert!(false, "{text}: ours {m}, croner none"),
                (None, None) => {}
            }
            match mine {
                Some(m) => cursor = m,
                None => break,
            }
        }
    }

    #[test]
    fn arbitrary_strings_never_panic(s in ".{0,64}") {
        if let Ok(expr) = ScheduleExpression::parse(&s) {
            prop_assert_eq!(ScheduleExpression::parse(&expr.to_string()), Ok(expr));
        }
    }

    #[test]
    fn near_miss_expressions_never_panic(
        kw in prop::sample::select(vec!["cron", "rate", "at"]),
        body in "[0-9A-Za-z ?*,/#LW:T-]{0,40}",
        after in -10_000_000_000i64..10_000_000_000,
    ) {
        let text = format!("{kw}({body})");
        if let Ok(expr) = ScheduleExpression::parse(&text) {
            let tz = TimeZone::get("America/Santiago").unwrap();
            let t = Timestamp::from_second(after).unwrap();
            let _ = expr.next_after(t, &tz, Some(t));
            // Canonical text parses back to the same expression.
            prop_assert_eq!(ScheduleExpression::from_str(&expr.to_string()).ok(), Some(expr));
        }
    }
}

/// The DST oracle: walking every minute from `after`, the first instant whose wall-clock time
/// matches and is the first occurrence of that wall-clock time (not in a gap by construction).
fn brute_next(cron: &eddy_schedule::Cron, after: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
    use jiff::tz::AmbiguousOffset;
    let first_minute = after.as_second().div_euclid(60) * 60 + 60;
    (0..3 * 24 * 60)
        .map(|k| Timestamp::from_second(first_minute + k * 60).unwrap())
        .find(|t| {
            let civil = tz.to_datetime(*t);
            let first = match tz.to_ambiguous_timestamp(civil).offset() {
                AmbiguousOffset::Fold { before, .. } => before.to_timestamp(civil).unwrap() == *t,
                _ => true,
            };
            cron.matches(civil) && first
        })
}

/// Instants around daylight-saving changes in both hemispheres (2024).
const TRANSITIONS: [(&str, i64); 8] = [
    ("Europe/Paris", 1_711_846_800), // 2024-03-31T01:00Z spring forward
    ("Europe/Paris", 1_729_990_800), // 2024-10-27T01:00Z fall back
    ("America/New_York", 1_710_054_000), // 2024-03-10T07:00Z
    ("America/New_York", 1_730_613_600), // 2024-11-03T06:00Z
    ("Australia/Sydney", 1_712_419_200), // 2024-04-06T16:00Z
    ("Australia/Sydney", 1_728_144_000), // 2024-10-05T16:00Z
    ("America/Santiago", 1_712_458_800), // 2024-04-07T03:00Z
    ("America/Santiago", 1_725_768_000), // 2024-09-08T04:00Z
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn dst_next_fire_matches_minute_walk(
        minutes in list(0, 59),
        hours in list(0, 23),
        which in 0..TRANSITIONS.len(),
        offset in -2 * 86_400i64..86_400,
    ) {
        let text = format!("cron({minutes} {hours} * * ? *)");
        let ScheduleExpression::Cron(cron) = ScheduleExpression::parse(&text).unwrap() else {
            unreachable!()
        };
        let expr = ScheduleExpression::Cron(cron.clone());
        let (name, at) = TRANSITIONS[which];
        let tz = TimeZone::get(name).unwrap();
        let mut cursor = Timestamp::from_second(at + offset).unwrap();
        for _ in 0..5 {
            let mine = expr.next_after(cursor, &tz, None);
            let walked = brute_next(&cron, cursor, &tz);
            prop_assert_eq!(mine, walked, "{} in {} after {}", text, name, cursor);
            match mine {
                Some(m) => cursor = m,
                None => break,
            }
        }
    }
}
