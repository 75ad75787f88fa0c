//! Parser tests from AWS's documented examples (EventBridge "Cron expressions reference" and
//! "Rate expressions", EventBridge Scheduler "Schedule types") and invalid forms, including
//! ones AWS is publicly reported to reject with `Parameter ScheduleExpression is not valid.`

use eddy_schedule::{
    CronField, RULE_INVALID_MESSAGE, Rate, RateUnit, ScheduleError, ScheduleExpression,
};

fn ok(s: &str) -> ScheduleExpression {
    ScheduleExpression::parse(s).unwrap_or_else(|e| panic!("{s} should parse: {e}"))
}

fn err(s: &str) -> ScheduleError {
    match ScheduleExpression::parse(s) {
        Ok(e) => panic!("{s} should be rejected, parsed as {e:?}"),
        Err(e) => e,
    }
}

#[test]
fn eventbridge_cron_examples() {
    // The examples table of the EventBridge user guide.
    for s in [
        "cron(0 10 * * ? *)",            // 10:00 every day
        "cron(15 12 * * ? *)",           // 12:15 every day
        "cron(0 18 ? * MON-FRI *)",      // 18:00 Monday to Friday
        "cron(0 8 1 * ? *)",             // 08:00 on the first day of the month
        "cron(0/15 * * * ? *)",          // every 15 minutes
        "cron(0/10 * ? * MON-FRI *)",    // every 10 minutes Monday to Friday
        "cron(0/5 8-17 ? * MON-FRI *)",  // every 5 minutes, 08:00-17:55, Monday to Friday
        "cron(0/30 20-2 ? * MON-FRI *)", // every 30 minutes, 22:00-02:00 (wrapping hours)
        "cron(0 9 ? * 2#1 *)",           // 09:00 on the first Monday of each month
        "cron(1/10 * * * ? *)",          // the `/` wildcard's example: minutes 1, 11, 21, ...
        "cron(0 12 * JAN,FEB,MAR ? *)",  // the `,` wildcard's example
        "cron(0 12 1-15 * ? *)",         // the `-` wildcard's example
        "cron(0 12 3W * ? *)",           // the `W` wildcard's example
        "cron(0 12 L * ? *)",            // `L` in day-of-month
        "cron(0 12 ? * L *)",            // `L` in day-of-week
        "cron(0 12 ? * 3#2 *)",          // the `#` wildcard's example: second Tuesday
        "cron(0 0 * * ? 1970-2199)",     // the whole year range
    ] {
        assert!(ok(s).allowed_for_rules(), "{s}");
    }
}

#[test]
fn scheduler_examples() {
    // EventBridge Scheduler "Schedule types": cron, rate and one-time examples.
    ok("cron(15 10 ? * 6L 2022-2023)");
    ok("cron(0 12 * * ? *)");
    assert_eq!(
        ok("rate(5 minutes)"),
        ScheduleExpression::Rate(Rate {
            value: 5,
            unit: RateUnit::Minute
        })
    );
    let at = ok("at(2022-11-20T13:04:00)");
    assert!(!at.allowed_for_rules());
    assert!(at.is_one_time());
    assert_eq!(at.to_string(), "at(2022-11-20T13:04:00)");
}

#[test]
fn accepted_by_aws_per_public_reports() {
    // LocalStack issue 13572: expressions AWS accepts.
    ok("cron(0-15/1 8-8 ? * 2,3,4,5,6,7 *)");
    ok("cron(30-30 13-13 ? * 2,4,6 *)");
    ok("cron(1-31/30 1-1 ? * 1,7 *)");
    // pyawscron issue 61: valid in AWS Scheduler.
    ok("cron(0 0 1/10,2,3/8 * ? *)");
    // Every minute: the finest schedule.
    ok("cron(* * * * ? *)");
    ok("cron(*/1 * * * ? *)");
}

#[test]
fn rate_examples() {
    for (s, value, unit) in [
        ("rate(1 minute)", 1, RateUnit::Minute),
        ("rate(5 minutes)", 5, RateUnit::Minute),
        ("rate(1 hour)", 1, RateUnit::Hour),
        ("rate(12 hours)", 12, RateUnit::Hour),
        ("rate(1 day)", 1, RateUnit::Day),
        ("rate(7 days)", 7, RateUnit::Day),
    ] {
        let e = ok(s);
        assert_eq!(e, ScheduleExpression::Rate(Rate { value, unit }));
        assert_eq!(e.to_string(), s);
        assert!(e.allowed_for_rules());
    }
}

#[test]
fn names_are_case_insensitive_and_canonical_text_keeps_spelling() {
    let e = ok("cron(0  18 ?  * mon-fri *)");
    assert_eq!(e.to_string(), "cron(0 18 ? * mon-fri *)");
    let upper = ok("cron(0 18 ? * MON-FRI *)");
    let (utc, t0) = (jiff::tz::TimeZone::UTC, jiff::Timestamp::UNIX_EPOCH);
    let a: Vec<_> = e.fire_times(t0, &utc, None).take(20).collect();
    let b: Vec<_> = upper.fire_times(t0, &utc, None).take(20).collect();
    assert_eq!(a, b);
}

#[test]
fn rate_errors() {
    // Publicly reported `PutRule` rejections.
    assert_eq!(
        err("rate(3 minute)"),
        ScheduleError::RatePlural {
            value: 3,
            unit: "minute".into()
        }
    );
    assert_eq!(
        err("rate(1 minutes)"),
        ScheduleError::RatePlural {
            value: 1,
            unit: "minutes".into()
        }
    );
    assert!(matches!(
        err("rate(1 hours)"),
        ScheduleError::RatePlural { .. }
    ));
    assert!(matches!(
        err("rate(5 hour)"),
        ScheduleError::RatePlural { .. }
    ));
    assert_eq!(err("rate(0 minutes)"), ScheduleError::RateValue("0".into()));
    assert_eq!(
        err("rate(-5 minutes)"),
        ScheduleError::RateValue("-5".into())
    );
    assert_eq!(
        err("rate(1.5 hours)"),
        ScheduleError::RateValue("1.5".into())
    );
    assert_eq!(
        err("rate(99999999999 minutes)"),
        ScheduleError::RateValue("99999999999".into())
    );
    assert_eq!(
        err("rate(5 weeks)"),
        ScheduleError::RateUnit("weeks".into())
    );
    assert_eq!(
        err("rate(5 Minutes)"),
        ScheduleError::RateUnit("Minutes".into())
    );
    assert_eq!(err("rate(5)"), ScheduleError::RateSyntax);
    assert_eq!(err("rate(5 minutes now)"), ScheduleError::RateSyntax);
    assert_eq!(err("rate()"), ScheduleError::RateSyntax);
    assert_eq!(
        err("rate(3 minute)").to_string(),
        "rate unit `minute` does not agree with value 3: use the singular unit iff the value is 1"
    );
}

#[test]
fn form_errors() {
    for s in [
        "",
        "RATE(5 minutes)",
        " rate(5 minutes)",
        "rate(5 minutes) ",
        "rate 5 minutes",
        "cron(0 10 * * ? *",
        "every 5 minutes",
        "0 10 * * ? *",
        "at 2022-11-20T13:04:00",
    ] {
        assert_eq!(err(s), ScheduleError::UnknownForm, "{s}");
    }
    assert_eq!(
        err("").to_string(),
        "schedule expression must be `rate(value unit)`, `cron(fields)` or `at(yyyy-mm-ddThh:mm:ss)`"
    );
}

#[test]
fn cron_field_count() {
    // Five-field cron (Unix style) is a common, publicly reported mistake.
    assert_eq!(err("cron(*/1 * * * *)"), ScheduleError::CronFieldCount(5));
    assert_eq!(err("cron(0/10 * ? * *)"), ScheduleError::CronFieldCount(5));
    assert_eq!(err("cron(0 0 0 * * ? *)"), ScheduleError::CronFieldCount(7));
    assert_eq!(err("cron()"), ScheduleError::CronFieldCount(0));
    assert_eq!(
        err("cron(*/1 * * * *)").to_string(),
        "cron expression must have 6 fields (minutes hours day-of-month month day-of-week year), found 5"
    );
}

#[test]
fn cron_day_fields_need_exactly_one_question_mark() {
    // LocalStack PR 12156: AWS rejects `cron(7 20 * * 1-7 *)`.
    for s in [
        "cron(7 20 * * 1-7 *)",
        "cron(0 0 * * * *)",
        "cron(0 0 1 * MON *)",
        "cron(0 0 ? * ? *)",
    ] {
        assert_eq!(err(s), ScheduleError::CronDayConflict, "{s}");
    }
    assert_eq!(
        err("cron(0 0 ? * ? *)").to_string(),
        "cron expression must have `?` in exactly one of the `day-of-month` and `day-of-week` fields"
    );
}

fn field_err(s: &str) -> (CronField, String) {
    match err(s) {
        ScheduleError::CronField { field, reason, .. } => (field, reason),
        other => panic!("{s}: expected a field error, got {other:?}"),
    }
}

#[test]
fn cron_field_errors() {
    use CronField::*;
    let cases: &[(&str, CronField, &str)] = &[
        // aws-sdk-js issue 4212: AWS rejects `*/60` in minutes.
        (
            "cron(*/60 * * * ? *)",
            Minutes,
            "increment `60` must be a number from 1 to 59",
        ),
        // winglang issue 7115: AWS rejects `-1` in day-of-week.
        ("cron(15 12 ? * -1 *)", DayOfWeek, "a value is missing"),
        ("cron(60 * * * ? *)", Minutes, "`60` is out of range 0-59"),
        ("cron(0 24 * * ? *)", Hours, "`24` is out of range 0-23"),
        ("cron(0 0 0 * ? *)", DayOfMonth, "`0` is out of range 1-31"),
        (
            "cron(0 0 32 * ? *)",
            DayOfMonth,
            "`32` is out of range 1-31",
        ),
        ("cron(0 0 1 13 ? *)", Month, "`13` is out of range 1-12"),
        (
            "cron(0 0 1 FOO ? *)",
            Month,
            "`FOO` is not a number or a name",
        ),
        ("cron(0 0 ? * 0 *)", DayOfWeek, "`0` is out of range 1-7"),
        // A malformed field is named even when the `?` rule is broken too.
        ("cron(15 12 * * 0 *)", DayOfWeek, "`0` is out of range 1-7"),
        (
            "cron(0 0 ? * 6l *)",
            DayOfWeek,
            "`6l` is not a number or a name",
        ),
        ("cron(0 0 ? * 8 *)", DayOfWeek, "`8` is out of range 1-7"),
        (
            "cron(0 0 * * ? 1969)",
            Year,
            "`1969` is out of range 1970-2199",
        ),
        (
            "cron(0 0 * * ? 2200)",
            Year,
            "`2200` is out of range 1970-2199",
        ),
        (
            "cron(0 0 * * ? 2020/0)",
            Year,
            "increment `0` must be a number from 1 to 230",
        ),
        (
            "cron(0 */24 * * ? *)",
            Hours,
            "increment `24` must be a number from 1 to 23",
        ),
        (
            "cron(0 0 */32 * ? *)",
            DayOfMonth,
            "increment `32` must be a number from 1 to 31",
        ),
        (
            "cron(0 0 1 */13 ? *)",
            Month,
            "increment `13` must be a number from 1 to 12",
        ),
        (
            "cron(0 0 ? * */2 *)",
            DayOfWeek,
            "`/` is not allowed in `day-of-week`",
        ),
        (
            "cron(0 0 ? * 2/2 *)",
            DayOfWeek,
            "`/` is not allowed in `day-of-week`",
        ),
        (
            "cron(0/ * * * ? *)",
            Minutes,
            "increment `` must be a number from 1 to 59",
        ),
        ("cron(a * * * ? *)", Minutes, "`a` is not a number"),
        ("cron(1,,2 * * * ? *)", Minutes, "a list item is empty"),
        // boto3 issue 2876: commas between fields.
        (
            "cron(0/5, 9-18, ?, *, MON-FRI, *)",
            Minutes,
            "a list item is empty",
        ),
        (
            "cron(0 12 ? * 3#1,6#3 *)",
            DayOfWeek,
            "only one `#` expression is allowed, and it must stand alone",
        ),
        (
            "cron(0 12 ? * 3#6 *)",
            DayOfWeek,
            "the number after `#` must be from 1 to 5",
        ),
        (
            "cron(0 12 ? * 3#0 *)",
            DayOfWeek,
            "the number after `#` must be from 1 to 5",
        ),
        ("cron(0 12 ? * 8#1 *)", DayOfWeek, "`8` is out of range 1-7"),
        (
            "cron(0 12 ? * 1-3L *)",
            DayOfWeek,
            "`L` must stand alone or follow a single day, as in `6L`",
        ),
        (
            "cron(0 12 LW * ? *)",
            DayOfMonth,
            "`L` must stand alone (offsets and `LW` are not supported)",
        ),
        (
            "cron(0 12 L-3 * ? *)",
            DayOfMonth,
            "`L` must stand alone (offsets and `LW` are not supported)",
        ),
        (
            "cron(0 12 1-5W * ? *)",
            DayOfMonth,
            "`W` must follow a single day, as in `15W`",
        ),
        (
            "cron(0 12 32W * ? *)",
            DayOfMonth,
            "`32` is out of range 1-31",
        ),
        ("cron(0 12 1,? * MON *)", DayOfMonth, "`?` must stand alone"),
        (
            "cron(0 12 3#2 * ? *)",
            DayOfMonth,
            "`#` is only allowed in `day-of-week`",
        ),
        (
            "cron(0 12 ? * 2W *)",
            DayOfWeek,
            "`2W` is not a number or a name",
        ),
        ("cron(? 12 1 * ? *)", Minutes, "`?` is not a number"),
    ];
    for (s, field, reason) in cases {
        assert_eq!(field_err(s), (*field, reason.to_string()), "{s}");
    }
    assert_eq!(
        err("cron(*/60 * * * ? *)").to_string(),
        "cron `minutes` field `*/60` is not valid: increment `60` must be a number from 1 to 59"
    );
}

#[test]
fn at_errors() {
    for s in [
        "at(2022-11-20T13:04:00Z)",
        "at(2022-11-20T13:04:00+01:00)",
        "at(2022-11-20T13:04:00.000)",
        "at(2022-11-20 13:04:00)",
        "at(2022-11-20T13:04)",
        "at(22-11-20T13:04:00)",
        "at(2022-11-20)",
        "at()",
    ] {
        assert_eq!(err(s), ScheduleError::AtSyntax, "{s}");
    }
    for s in [
        "at(2022-02-30T00:00:00)",
        "at(2023-02-29T00:00:00)",
        "at(2022-13-01T00:00:00)",
        "at(2022-11-20T24:00:00)",
        "at(2022-11-20T13:60:00)",
        "at(2022-11-20T13:04:60)",
    ] {
        assert!(matches!(err(s), ScheduleError::AtInvalid(_)), "{s}");
    }
    ok("at(2024-02-29T00:00:00)");
    assert_eq!(
        err("at(2022-02-30T00:00:00)").to_string(),
        "at expression `2022-02-30T00:00:00` is not a valid date and time"
    );
}

#[test]
fn aws_answers() {
    let e = err("rate(3 minute)");
    assert_eq!(
        e.rule_message(),
        "Parameter ScheduleExpression is not valid."
    );
    assert_eq!(
        RULE_INVALID_MESSAGE,
        "Parameter ScheduleExpression is not valid."
    );
    assert_eq!(
        e.scheduler_message("rate(3 minute)"),
        "Invalid Schedule Expression rate(3 minute)."
    );
}
