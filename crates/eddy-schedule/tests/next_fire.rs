//! Next-fire computation: the contract (strictly after, rate anchors, one-time `at`), the day
//! specials (`L`, `W`, `#`), wrapping ranges, leap years and short months, and AWS's
//! daylight-saving rule in several zones, both hemispheres.

use eddy_schedule::ScheduleExpression;
use jiff::Timestamp;
use jiff::tz::TimeZone;

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn expr(s: &str) -> ScheduleExpression {
    ScheduleExpression::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn zone(name: &str) -> TimeZone {
    TimeZone::get(name).unwrap()
}

/// The next `n` fire times after `after` in `tz`, as RFC 3339 UTC strings.
fn fires(e: &str, after: &str, tz: &str, n: usize) -> Vec<String> {
    let tz = zone(tz);
    expr(e)
        .fire_times(ts(after), &tz, None)
        .take(n)
        .map(|t| t.to_string())
        .collect()
}

fn next_utc(e: &str, after: &str) -> Option<String> {
    expr(e)
        .next_after(ts(after), &TimeZone::UTC, None)
        .map(|t| t.to_string())
}

#[test]
fn strictly_after() {
    let e = "cron(0 10 * * ? *)";
    assert_eq!(
        next_utc(e, "2024-01-01T09:59:59Z").unwrap(),
        "2024-01-01T10:00:00Z"
    );
    assert_eq!(
        next_utc(e, "2024-01-01T10:00:00Z").unwrap(),
        "2024-01-02T10:00:00Z"
    );
    assert_eq!(
        next_utc(e, "2024-01-01T10:00:00.5Z").unwrap(),
        "2024-01-02T10:00:00Z"
    );
    assert_eq!(
        fires("cron(0/15 * * * ? *)", "2024-01-01T00:07:00Z", "UTC", 3),
        [
            "2024-01-01T00:15:00Z",
            "2024-01-01T00:30:00Z",
            "2024-01-01T00:45:00Z"
        ]
    );
    assert_eq!(
        fires("cron(1/10 * * * ? *)", "2024-01-01T00:55:00Z", "UTC", 2),
        ["2024-01-01T01:01:00Z", "2024-01-01T01:11:00Z"]
    );
}

#[test]
fn weekday_ranges_and_wrapping() {
    // 2024-01-05 is a Friday.
    assert_eq!(
        fires("cron(0 18 ? * MON-FRI *)", "2024-01-05T18:00:00Z", "UTC", 2),
        ["2024-01-08T18:00:00Z", "2024-01-09T18:00:00Z"]
    );
    // Friday to Monday wraps through the weekend.
    assert_eq!(
        fires("cron(0 0 ? * FRI-MON *)", "2024-01-02T00:00:00Z", "UTC", 5),
        [
            "2024-01-05T00:00:00Z",
            "2024-01-06T00:00:00Z",
            "2024-01-07T00:00:00Z",
            "2024-01-08T00:00:00Z",
            "2024-01-12T00:00:00Z"
        ]
    );
    // Hours 22-2 wrap past midnight.
    assert_eq!(
        fires("cron(0 22-2 * * ? *)", "2024-01-01T02:00:00Z", "UTC", 5),
        [
            "2024-01-01T22:00:00Z",
            "2024-01-01T23:00:00Z",
            "2024-01-02T00:00:00Z",
            "2024-01-02T01:00:00Z",
            "2024-01-02T02:00:00Z"
        ]
    );
    // Months NOV-FEB wrap past December.
    assert_eq!(
        fires("cron(0 0 1 NOV-FEB ? *)", "2024-02-01T00:00:00Z", "UTC", 4),
        [
            "2024-11-01T00:00:00Z",
            "2024-12-01T00:00:00Z",
            "2025-01-01T00:00:00Z",
            "2025-02-01T00:00:00Z"
        ]
    );
    // `L` alone in day-of-week is Saturday; 2024-01-01 is a Monday.
    assert_eq!(
        next_utc("cron(0 0 ? * L *)", "2024-01-01T00:00:00Z").unwrap(),
        "2024-01-06T00:00:00Z"
    );
}

#[test]
fn last_day_of_month_and_leap_years() {
    assert_eq!(
        fires("cron(0 0 L * ? *)", "2024-01-31T00:00:00Z", "UTC", 4),
        [
            "2024-02-29T00:00:00Z",
            "2024-03-31T00:00:00Z",
            "2024-04-30T00:00:00Z",
            "2024-05-31T00:00:00Z"
        ]
    );
    assert_eq!(
        next_utc("cron(0 0 L 2 ? *)", "2023-01-01T00:00:00Z").unwrap(),
        "2023-02-28T00:00:00Z"
    );
    assert_eq!(
        next_utc("cron(0 0 L 2 ? *)", "2099-03-01T00:00:00Z").unwrap(),
        "2100-02-28T00:00:00Z"
    );
    // Feb 29 only in leap years; 2100 is not one.
    assert_eq!(
        fires("cron(0 0 29 2 ? *)", "2024-03-01T00:00:00Z", "UTC", 2),
        ["2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z"]
    );
    assert_eq!(
        next_utc("cron(0 0 29 2 ? *)", "2096-03-01T00:00:00Z").unwrap(),
        "2104-02-29T00:00:00Z"
    );
    assert_eq!(
        next_utc("cron(0 0 29 FEB ? 2100)", "2024-01-01T00:00:00Z"),
        None
    );
    // The 31st is skipped in months that lack it (no roll-over to the 1st).
    assert_eq!(
        fires("cron(0 0 31 * ? *)", "2024-01-31T00:00:00Z", "UTC", 3),
        [
            "2024-03-31T00:00:00Z",
            "2024-05-31T00:00:00Z",
            "2024-07-31T00:00:00Z"
        ]
    );
    assert_eq!(next_utc("cron(0 0 30 2 ? *)", "2024-01-01T00:00:00Z"), None);
}

#[test]
fn nearest_weekday() {
    // 2024-06-15 is a Saturday -> Friday 14th; 2024-09-15 is a Sunday -> Monday 16th.
    let e = "cron(0 9 15W * ? *)";
    assert_eq!(
        next_utc(e, "2024-06-01T00:00:00Z").unwrap(),
        "2024-06-14T09:00:00Z"
    );
    assert_eq!(
        next_utc(e, "2024-09-01T00:00:00Z").unwrap(),
        "2024-09-16T09:00:00Z"
    );
    assert_eq!(
        next_utc(e, "2024-07-01T00:00:00Z").unwrap(),
        "2024-07-15T09:00:00Z"
    );
    // 2024-06-01 is a Saturday: 1W does not leave the month, so Monday the 3rd.
    assert_eq!(
        next_utc("cron(0 9 1W 6 ? *)", "2024-01-01T00:00:00Z").unwrap(),
        "2024-06-03T09:00:00Z"
    );
    // 2024-03-31 is a Sunday and the month's last day: Friday the 29th.
    assert_eq!(
        next_utc("cron(0 9 31W 3 ? *)", "2024-01-01T00:00:00Z").unwrap(),
        "2024-03-29T09:00:00Z"
    );
    // 31W never fires in a 30-day month.
    assert_eq!(
        next_utc("cron(0 9 31W 4 ? *)", "2024-01-01T00:00:00Z"),
        None
    );
}

#[test]
fn nth_and_last_weekday() {
    // First Monday: 2024-01-01 is one; February's is the 5th.
    assert_eq!(
        fires("cron(0 9 ? * 2#1 *)", "2023-12-31T00:00:00Z", "UTC", 2),
        ["2024-01-01T09:00:00Z", "2024-02-05T09:00:00Z"]
    );
    // Second Tuesday.
    assert_eq!(
        next_utc("cron(0 12 ? * 3#2 *)", "2024-01-01T00:00:00Z").unwrap(),
        "2024-01-09T12:00:00Z"
    );
    // Fifth Friday: none in January or February 2024; March 29th.
    assert_eq!(
        next_utc("cron(0 0 ? * 6#5 *)", "2024-01-01T00:00:00Z").unwrap(),
        "2024-03-29T00:00:00Z"
    );
    // Scheduler's example: 10:15 on the last Friday of every month in 2022-2023.
    let e = "cron(15 10 ? * 6L 2022-2023)";
    assert_eq!(
        fires(e, "2022-01-01T00:00:00Z", "UTC", 3),
        [
            "2022-01-28T10:15:00Z",
            "2022-02-25T10:15:00Z",
            "2022-03-25T10:15:00Z"
        ]
    );
    assert_eq!(next_utc(e, "2023-12-29T10:15:00Z"), None);
    assert_eq!(
        next_utc("cron(0 0 ? * FRIL *)", "2024-01-01T00:00:00Z").unwrap(),
        "2024-01-26T00:00:00Z"
    );
}

#[test]
fn years() {
    assert_eq!(
        next_utc("cron(0 0 1 1 ? 2199)", "2199-01-01T00:00:00Z"),
        None
    );
    assert_eq!(
        next_utc("cron(0 0 1 1 ? 2199)", "1960-01-01T00:00:00Z").unwrap(),
        "2199-01-01T00:00:00Z"
    );
    assert_eq!(
        next_utc("cron(0 0 1 1 ? *)", "1960-06-01T00:00:00Z").unwrap(),
        "1970-01-01T00:00:00Z"
    );
    assert_eq!(
        fires("cron(0 0 1 1 ? 2020/5)", "2021-01-01T00:00:00Z", "UTC", 2),
        ["2025-01-01T00:00:00Z", "2030-01-01T00:00:00Z"]
    );
}

#[test]
fn rate_is_anchored_at_start() {
    let e = expr("rate(5 minutes)");
    let utc = TimeZone::UTC;
    let start = ts("2024-01-01T00:00:30Z");
    let next = |after: &str| {
        e.next_after(ts(after), &utc, Some(start))
            .unwrap()
            .to_string()
    };
    assert_eq!(next("2023-12-31T00:00:00Z"), "2024-01-01T00:00:30Z"); // first run at the start
    assert_eq!(next("2024-01-01T00:00:30Z"), "2024-01-01T00:05:30Z");
    assert_eq!(next("2024-01-01T00:07:00Z"), "2024-01-01T00:10:30Z");
    assert_eq!(next("2024-01-01T00:10:29.999Z"), "2024-01-01T00:10:30Z");
    // Without an anchor: the Unix epoch, so whole multiples of the period.
    assert_eq!(
        e.next_after(ts("2024-01-01T00:07:00Z"), &utc, None)
            .unwrap()
            .to_string(),
        "2024-01-01T00:10:00Z"
    );
    assert_eq!(
        expr("rate(1 hour)")
            .next_after(ts("2024-01-01T00:07:00Z"), &utc, None)
            .unwrap()
            .to_string(),
        "2024-01-01T01:00:00Z"
    );
}

#[test]
fn rate_days_are_24_hours_across_dst() {
    // AWS Scheduler: a day is a 24-hour duration; over Paris' spring-forward the wall-clock
    // time moves from 09:00 to 10:00.
    let paris = zone("Europe/Paris");
    let start = ts("2024-03-30T08:00:00Z"); // 09:00 CET
    let times: Vec<String> = expr("rate(1 day)")
        .fire_times(ts("2024-03-30T07:00:00Z"), &paris, Some(start))
        .take(3)
        .map(|t| {
            t.to_zoned_datetime(paris.clone())
                .strftime("%Y-%m-%d %H:%M %Z")
                .to_string()
        })
        .collect();
    assert_eq!(
        times,
        [
            "2024-03-30 09:00 CET",
            "2024-03-31 10:00 CEST",
            "2024-04-01 10:00 CEST"
        ]
    );
}

#[test]
fn at_fires_once() {
    let paris = zone("Europe/Paris");
    let e = expr("at(2024-06-01T12:00:00)");
    assert_eq!(
        e.next_after(ts("2024-01-01T00:00:00Z"), &paris, None),
        Some(ts("2024-06-01T10:00:00Z"))
    );
    assert_eq!(e.next_after(ts("2024-06-01T10:00:00Z"), &paris, None), None);
    assert_eq!(
        e.fire_times(ts("2024-01-01T00:00:00Z"), &paris, None)
            .count(),
        1
    );
    // In UTC.
    assert_eq!(
        e.next_after(ts("2024-01-01T00:00:00Z"), &TimeZone::UTC, None),
        Some(ts("2024-06-01T12:00:00Z"))
    );
    // A skipped local time never fires; a repeated one fires at its first occurrence.
    assert_eq!(
        expr("at(2024-03-31T02:30:00)").next_after(ts("2024-01-01T00:00:00Z"), &paris, None),
        None
    );
    assert_eq!(
        expr("at(2024-10-27T02:30:00)").next_after(ts("2024-01-01T00:00:00Z"), &paris, None),
        Some(ts("2024-10-27T00:30:00Z"))
    );
}

#[test]
fn paris_spring_forward() {
    // 2024-03-31 02:00 CET -> 03:00 CEST: 02:30 does not exist that day.
    assert_eq!(
        fires(
            "cron(30 2 * * ? *)",
            "2024-03-29T12:00:00Z",
            "Europe/Paris",
            3
        ),
        [
            "2024-03-30T01:30:00Z",
            "2024-04-01T00:30:00Z",
            "2024-04-02T00:30:00Z"
        ]
    );
    // Noon stays noon on the wall clock: 11:00Z in winter, 10:00Z in summer.
    assert_eq!(
        fires(
            "cron(0 12 * * ? *)",
            "2024-03-30T00:00:00Z",
            "Europe/Paris",
            2
        ),
        ["2024-03-30T11:00:00Z", "2024-03-31T10:00:00Z"]
    );
    // Every 15 minutes: 01:45 CET is followed by 03:00 CEST, 15 real minutes later.
    assert_eq!(
        fires(
            "cron(0/15 * * * ? *)",
            "2024-03-31T00:30:00Z",
            "Europe/Paris",
            3
        ),
        [
            "2024-03-31T00:45:00Z",
            "2024-03-31T01:00:00Z",
            "2024-03-31T01:15:00Z"
        ]
    );
}

#[test]
fn paris_fall_back() {
    // 2024-10-27 03:00 CEST -> 02:00 CET: 02:30 happens twice and fires once, in CEST.
    assert_eq!(
        fires(
            "cron(30 2 * * ? *)",
            "2024-10-26T12:00:00Z",
            "Europe/Paris",
            2
        ),
        ["2024-10-27T00:30:00Z", "2024-10-28T01:30:00Z"]
    );
    // Asked from inside the repeated hour (02:10 CET), the second 02:30 does not fire.
    assert_eq!(
        fires(
            "cron(30 2 * * ? *)",
            "2024-10-27T01:10:00Z",
            "Europe/Paris",
            1
        ),
        ["2024-10-28T01:30:00Z"]
    );
    // Every 15 minutes pauses for the repeated hour.
    assert_eq!(
        fires(
            "cron(0/15 * * * ? *)",
            "2024-10-27T00:30:00Z",
            "Europe/Paris",
            3
        ),
        [
            "2024-10-27T00:45:00Z",
            "2024-10-27T02:00:00Z",
            "2024-10-27T02:15:00Z"
        ]
    );
}

#[test]
fn new_york() {
    // 2024-03-10 02:00 EST -> 03:00 EDT: Sunday 02:30 is skipped that week.
    assert_eq!(
        fires(
            "cron(30 2 ? * SUN *)",
            "2024-03-04T00:00:00Z",
            "America/New_York",
            2
        ),
        ["2024-03-17T06:30:00Z", "2024-03-24T06:30:00Z"]
    );
    // 2024-11-03 02:00 EDT -> 01:00 EST: 01:30 fires once, in EDT (05:30Z), not at 06:30Z.
    assert_eq!(
        fires(
            "cron(30 1 * * ? *)",
            "2024-11-02T12:00:00Z",
            "America/New_York",
            2
        ),
        ["2024-11-03T05:30:00Z", "2024-11-04T06:30:00Z"]
    );
    assert_eq!(
        fires(
            "cron(30 1 * * ? *)",
            "2024-11-03T06:15:00Z",
            "America/New_York",
            1
        ),
        ["2024-11-04T06:30:00Z"]
    );
    // Hourly across the fall-back: 01:00 EDT, then 02:00 EST two real hours later.
    assert_eq!(
        fires(
            "cron(0 * * * ? *)",
            "2024-11-03T04:30:00Z",
            "America/New_York",
            3
        ),
        [
            "2024-11-03T05:00:00Z",
            "2024-11-03T07:00:00Z",
            "2024-11-03T08:00:00Z"
        ]
    );
}

#[test]
fn sydney() {
    // Southern hemisphere. 2024-10-06 02:00 AEST -> 03:00 AEDT: 02:30 skipped.
    assert_eq!(
        fires(
            "cron(30 2 * * ? *)",
            "2024-10-04T12:00:00Z",
            "Australia/Sydney",
            2
        ),
        ["2024-10-04T16:30:00Z", "2024-10-06T15:30:00Z"]
    );
    // 2024-04-07 03:00 AEDT -> 02:00 AEST: 02:30 fires once, in AEDT (+11).
    assert_eq!(
        fires(
            "cron(30 2 * * ? *)",
            "2024-04-05T12:00:00Z",
            "Australia/Sydney",
            3
        ),
        [
            "2024-04-05T15:30:00Z",
            "2024-04-06T15:30:00Z",
            "2024-04-07T16:30:00Z"
        ]
    );
}

#[test]
fn santiago_midnight_transitions() {
    // Chile changes clocks at midnight. 2024-09-08 00:00 -04 -> 01:00 -03: no midnight that
    // day, so a daily midnight job skips it.
    assert_eq!(
        fires(
            "cron(0 0 * * ? *)",
            "2024-09-06T12:00:00Z",
            "America/Santiago",
            2
        ),
        ["2024-09-07T04:00:00Z", "2024-09-09T03:00:00Z"]
    );
    // 2024-04-07 00:00 -03 -> 2024-04-06 23:00 -04: 23:30 on the 6th happens twice, fires once.
    assert_eq!(
        fires(
            "cron(30 23 * * ? *)",
            "2024-04-05T12:00:00Z",
            "America/Santiago",
            3
        ),
        [
            "2024-04-06T02:30:00Z",
            "2024-04-07T02:30:00Z",
            "2024-04-08T03:30:00Z"
        ]
    );
}

#[test]
fn rules_are_utc() {
    let e = expr("cron(0 12 * * ? *)");
    assert!(e.allowed_for_rules());
    assert_eq!(
        e.next_after(ts("2024-07-01T00:00:00Z"), &TimeZone::UTC, None),
        Some(ts("2024-07-01T12:00:00Z"))
    );
}
