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

const MONTHS: [&str; 12] =
    ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
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
    format!("0 {} {} {} {} {} {}", f[0], f[1], q(&f[2]), f[3], q(&f[4]), f[5])
}

fn to_chrono(ts: Timestamp) -> ChronoDateTime<Utc> {
    Utc.timestamp_opt(ts.as_second(), 0).single().expect("in range")
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
        let _ = ScheduleExpression::parse(&s);
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
