//! The evaluator over a known corpus of 50 records (one a minute from 2024-01-01 00:00 UTC;
//! even ones plain text, odd ones JSON), with the expected results of each query.

use eddy_logs_query::{Query, QueryResults, Record};

const T0: i64 = 1_704_067_200_000; // 2024-01-01 00:00:00 UTC

struct Event {
    timestamp: i64,
    message: String,
    stream: String,
}

const USERS: [&str; 3] = ["alice", "bob", "carol"];

fn level(i: i64) -> &'static str {
    if i % 7 == 0 {
        "ERROR"
    } else if i % 5 == 0 {
        "WARN"
    } else {
        "INFO"
    }
}

fn latency(i: i64) -> i64 {
    (i * 13) % 100
}

fn corpus() -> Vec<Event> {
    (0..50)
        .map(|i| {
            let user = USERS[(i % 3) as usize];
            let message = if i % 2 == 0 {
                format!("{} user={user} action=login latency={}", level(i), latency(i))
            } else {
                format!(
                    r#"{{"level":"{}","user":"{user}","latency":{},"detail":{{"path":"/p{}","ok":{}}}}}"#,
                    level(i),
                    latency(i),
                    i % 4,
                    i % 2 == 1 && i % 3 != 0
                )
            };
            Event { timestamp: T0 + i * 60_000, message, stream: format!("stream-{}", i % 2) }
        })
        .collect()
}

fn run(q: &str) -> QueryResults {
    let events = corpus();
    let query = Query::parse(q).unwrap_or_else(|e| panic!("{q}: {e}"));
    query.run(events.iter().map(|e| Record {
        timestamp: e.timestamp,
        ingestion_time: e.timestamp + 250,
        message: &e.message,
        log_stream: &e.stream,
        log_group: "/app/web",
    }))
}

/// Rows as `field=value` joined by spaces, for compact expectations.
fn rows(q: &str) -> Vec<String> {
    run(q)
        .rows
        .iter()
        .map(|row| {
            row.iter()
                .map(|(f, v)| format!("{f}={v}"))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

#[test]
fn default_output_and_timestamp_format() {
    let r = rows("limit 2");
    assert_eq!(
        r,
        [
            "@timestamp=2024-01-01 00:00:00.000 @message=ERROR user=alice action=login latency=0",
            r#"@timestamp=2024-01-01 00:01:00.000 @message={"level":"INFO","user":"bob","latency":13,"detail":{"path":"/p1","ok":true}}"#,
        ]
    );
    let stats = run("limit 2").statistics;
    assert_eq!((stats.records_scanned, stats.records_matched), (50, 50));
}

#[test]
fn count_all_and_by_level() {
    assert_eq!(rows("stats count(*)"), ["count(*)=50"]);
    // ERROR: i % 7 == 0 (8 of them); WARN: i % 5 == 0 and not ERROR (10 - 2 = 8).
    assert_eq!(
        rows(
            "parse @message '* user=' as plain | fields coalesce(level, plain) as lvl | stats count(*) as n by lvl | sort n desc, lvl"
        ),
        ["lvl=INFO n=34", "lvl=ERROR n=8", "lvl=WARN n=8"]
    );
}

#[test]
fn filter_like_string_and_regex() {
    let r = run("filter @message like 'ERROR' | stats count(*)");
    assert_eq!(r.rows[0][0].1, "8");
    assert_eq!(r.statistics.records_matched, 8);
    assert_eq!(
        rows("filter @message like /(?i)^warn / | stats count(*)"),
        ["count(*)=4"]
    );
    assert_eq!(
        rows("filter @message not like /ERROR|WARN/ | stats count(*)"),
        ["count(*)=34"]
    );
}

#[test]
fn json_fields_are_discovered_with_dotted_paths() {
    assert_eq!(
        rows(
            "filter detail.path = '/p3' | fields @timestamp, user, detail.path, detail.ok | limit 2"
        ),
        [
            "@timestamp=2024-01-01 00:03:00.000 user=alice detail.path=/p3 detail.ok=false",
            "@timestamp=2024-01-01 00:07:00.000 user=bob detail.path=/p3 detail.ok=true",
        ]
    );
    // Plain-text records have no `user` field until parsed.
    assert_eq!(
        rows("filter ispresent(user) | stats count(*)"),
        ["count(*)=25"]
    );
}

#[test]
fn numeric_comparisons_on_json_numbers_and_parsed_text() {
    let expected = (0..50).filter(|i| latency(*i) >= 50).count();
    let r = rows(
        "parse @message 'latency=*' as plain_latency | filter latency >= 50 or plain_latency >= 50 | stats count(*)",
    );
    assert_eq!(r, [format!("count(*)={expected}")]);
}

#[test]
fn parse_glob_then_stats_by_parsed_field() {
    assert_eq!(
        rows(
            "parse @message 'user=* action=* latency=*' as u, action, lat | filter ispresent(u) | stats count(*) as n, sum(lat) as total, max(lat) by u | sort u"
        ),
        expected_by_user(|i| i % 2 == 0)
    );
}

fn expected_by_user(keep: impl Fn(i64) -> bool) -> Vec<String> {
    USERS
        .iter()
        .enumerate()
        .map(|(k, u)| {
            let lats: Vec<i64> = (0..50)
                .filter(|i| i % 3 == k as i64 && keep(*i))
                .map(latency)
                .collect();
            format!(
                "u={u} n={} total={} max(lat)={}",
                lats.len(),
                lats.iter().sum::<i64>(),
                lats.iter().max().unwrap()
            )
        })
        .collect()
}

#[test]
fn parse_regex_named_groups() {
    assert_eq!(
        rows(
            r"parse @message /user=(?<u>\w+) action=\w+ latency=(?<lat>\d+)/ | filter ispresent(u) | stats count(*) as n, sum(lat) as total, max(lat) by u | sort u"
        ),
        expected_by_user(|i| i % 2 == 0)
    );
}

#[test]
fn avg_is_written_without_a_trailing_zero_when_integral() {
    // Odd records (JSON) by user.
    let r = rows("filter ispresent(user) | stats avg(latency) as a by user | sort user");
    let expected: Vec<String> = USERS
        .iter()
        .enumerate()
        .map(|(k, u)| {
            let lats: Vec<f64> = (0..50)
                .filter(|i| i % 2 == 1 && i % 3 == k as i64)
                .map(|i| latency(i) as f64)
                .collect();
            let avg = lats.iter().sum::<f64>() / lats.len() as f64;
            let avg = if avg.fract() == 0.0 {
                format!("{}", avg as i64)
            } else {
                format!("{avg}")
            };
            format!("user={u} a={avg}")
        })
        .collect();
    assert_eq!(r, expected);
    assert_eq!(
        rows("stats avg(latency) as a by user | filter user = 'alice'"),
        ["user=alice a=49.5"]
    );
}

#[test]
fn bins_over_timestamp() {
    // 50 minutes: ten 5-minute bins of 5 records each.
    let r = rows("stats count(*) by bin(5m)");
    assert_eq!(r.len(), 10);
    assert_eq!(r[0], "bin(5m)=2024-01-01 00:00:00.000 count(*)=5");
    assert_eq!(r[9], "bin(5m)=2024-01-01 00:45:00.000 count(*)=5");
    assert_eq!(
        rows("stats count(*) as n by bin(30m) as half"),
        [
            "half=2024-01-01 00:00:00.000 n=30",
            "half=2024-01-01 00:30:00.000 n=20"
        ]
    );
    assert_eq!(
        rows("stats count(*) by bin(1mo)"),
        ["bin(1mo)=2024-01-01 00:00:00.000 count(*)=50"]
    );
}

#[test]
fn sort_desc_with_limit_keeps_the_top() {
    assert_eq!(
        rows("fields @timestamp, @logStream | sort @timestamp desc | limit 3"),
        [
            "@timestamp=2024-01-01 00:49:00.000 @logStream=stream-1",
            "@timestamp=2024-01-01 00:48:00.000 @logStream=stream-0",
            "@timestamp=2024-01-01 00:47:00.000 @logStream=stream-1",
        ]
    );
    let r = rows("filter ispresent(latency) | sort latency desc | display latency, user | limit 2");
    assert_eq!(r, ["latency=99 user=carol", "latency=95 user=alice"]);
    // Several keys: user ascending, then the latest first (alice's JSON records are i = 45, 39).
    let r = rows(
        "filter ispresent(user) | sort user asc, @timestamp desc | display user, latency | limit 2",
    );
    assert_eq!(r, ["user=alice latency=85", "user=alice latency=7"]);
    // `limit` before `sort`: the first three records, then sorted.
    let r = rows("limit 3 | sort @timestamp desc | display @timestamp");
    assert_eq!(
        r,
        [
            "@timestamp=2024-01-01 00:02:00.000",
            "@timestamp=2024-01-01 00:01:00.000",
            "@timestamp=2024-01-01 00:00:00.000"
        ]
    );
}

#[test]
fn fields_functions_and_arithmetic() {
    assert_eq!(
        rows(
            "filter user = 'bob' | fields toupper(user) as U, strlen(user) as n, latency * 2 + 1 as x, concat(user, '@', @logStream) as who, tolower('ABC') as l | limit 1"
        ),
        ["U=BOB n=3 x=27 who=bob@stream-1 l=abc"]
    );
}

#[test]
fn in_lists_and_boolean_logic() {
    let expected = (0..50)
        .filter(|i| i % 2 == 1 && (level(*i) == "ERROR" || level(*i) == "WARN"))
        .count();
    assert_eq!(
        rows("filter level in ['ERROR', 'WARN'] | stats count(*)"),
        [format!("count(*)={expected}")]
    );
    let expected = (0..50)
        .filter(|i| i % 2 == 1 && !(level(*i) == "INFO" || i % 3 == 0))
        .count();
    assert_eq!(
        rows("filter ispresent(level) and not (level = 'INFO' or user = 'alice') | stats count(*)"),
        [format!("count(*)={expected}")]
    );
}

#[test]
fn builtin_fields() {
    assert_eq!(
        rows("fields @log, @logStream, @ingestionTime | limit 1"),
        ["@log=/app/web @logStream=stream-0 @ingestionTime=2024-01-01 00:00:00.250"]
    );
    assert_eq!(
        rows("stats count(*) by @logStream | sort @logStream desc"),
        [
            "@logStream=stream-1 count(*)=25",
            "@logStream=stream-0 count(*)=25",
        ]
    );
}

#[test]
fn absent_fields_are_left_out_of_rows() {
    assert_eq!(
        rows("fields user, @logStream | limit 2"),
        ["@logStream=stream-0", "user=bob @logStream=stream-1"]
    );
}

#[test]
fn stats_results_filtered_computed_and_limited() {
    assert_eq!(
        rows(
            "stats count(*) as n by bin(10m) as t | filter n >= 10 | fields t, n / 2 as half | sort t desc | limit 2"
        ),
        [
            "t=2024-01-01 00:40:00.000 half=5",
            "t=2024-01-01 00:30:00.000 half=5"
        ]
    );
    // Over the JSON records' `latency` (odd i).
    let lats: Vec<i64> = (0..50).filter(|i| i % 2 == 1).map(latency).collect();
    let (min, max, sum) = (
        lats.iter().min().unwrap(),
        lats.iter().max().unwrap(),
        lats.iter().sum::<i64>(),
    );
    // An aggregate named by its text after `stats`.
    assert_eq!(
        rows("stats count(*) by @logStream | sort count(*) desc, @logStream | limit 1"),
        ["@logStream=stream-0 count(*)=25"]
    );
    assert_eq!(
        rows("stats min(latency), max(latency), sum(latency)"),
        [format!(
            "min(latency)={min} max(latency)={max} sum(latency)={sum}"
        )]
    );
}

#[test]
fn count_of_a_field_counts_where_present() {
    assert_eq!(
        rows("stats count(user) as users, count(*) as all"),
        ["users=25 all=50"]
    );
}

#[test]
fn empty_input() {
    let q = Query::parse("stats count(*)").unwrap();
    assert_eq!(
        q.run([]).rows,
        vec![vec![("count(*)".to_string(), "0".to_string())]]
    );
    let q = Query::parse("stats count(*) by bin(1m)").unwrap();
    assert!(q.run([]).rows.is_empty());
}
