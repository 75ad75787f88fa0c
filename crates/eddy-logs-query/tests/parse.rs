//! The parser: each command's accepted forms, the names results carry, and errors with their
//! positions.

use eddy_logs_query::{Query, QueryError};

fn fields(q: &str) -> Vec<String> {
    Query::parse(q)
        .unwrap_or_else(|e| panic!("{q}: {e}"))
        .output_fields()
        .into_iter()
        .map(String::from)
        .collect()
}

fn error(q: &str) -> QueryError {
    match Query::parse(q) {
        Ok(_) => panic!("{q}: parsed"),
        Err(e) => e,
    }
}

#[test]
fn default_output_is_timestamp_and_message() {
    assert_eq!(
        fields("filter @message like 'x'"),
        ["@timestamp", "@message"]
    );
}

#[test]
fn fields_with_aliases_and_expressions() {
    assert_eq!(
        fields("fields @timestamp, strlen(@message) as len, concat(a, '-', b), x * 2 + 1"),
        ["@timestamp", "len", "concat(a, '-', b)", "x * 2 + 1"]
    );
    // A second `fields` adds to the first; a name listed again is not repeated.
    assert_eq!(fields("fields a | fields b, a"), ["a", "b"]);
}

#[test]
fn display_chooses_the_output() {
    assert_eq!(
        fields("fields a, b, toupper(c) as C | display C, a"),
        ["C", "a"]
    );
}

#[test]
fn filter_forms() {
    for q in [
        "filter a = 1 and b != 'x' or not (c < 2) and d <= 3 and e > 4 and f >= 5",
        "filter @message like /ERROR|WARN/",
        "filter @message =~ /(?i)error/",
        "filter @message not like 'debug'",
        "filter level in ['ERROR', 'WARN'] and level not in ['INFO']",
        "filter ispresent(user) and not isempty(user)",
        "filter detail.user == 'alice'",
        "filter `field with spaces` = 1 # a comment",
        "filter latency / 1000 > 1.5e0",
    ] {
        Query::parse(q).unwrap_or_else(|e| panic!("{q}: {e}"));
    }
}

#[test]
fn parse_forms() {
    assert_eq!(
        fields("parse @message 'user=* action=*' as user, action | fields user, action"),
        ["user", "action"]
    );
    assert_eq!(
        fields(r"parse @message /(?<user>\w+) did (?<what>\w+)/ | display what"),
        ["what"]
    );
    // Without a source field, `parse` reads `@message`.
    Query::parse("parse '[*]' as level").unwrap();
}

#[test]
fn stats_forms() {
    assert_eq!(fields("stats count(*) by bin(5m)"), ["bin(5m)", "count(*)"]);
    assert_eq!(
        fields(
            "stats count(*) as n, avg(latency), sum(x) as total, min(x), max(x) by user, bin(1h) as hour"
        ),
        [
            "user",
            "hour",
            "n",
            "avg(latency)",
            "total",
            "min(x)",
            "max(x)"
        ]
    );
    assert_eq!(fields("stats count() as n | sort n desc | limit 3"), ["n"]);
    assert_eq!(
        fields("stats count(*) as n by u | filter n > 1 | fields n * 2 as twice"),
        ["twice"]
    );
    for unit in [
        "100ms", "30s", "5min", "2hrs", "1d", "1w", "1mo", "1q", "1y",
    ] {
        Query::parse(&format!("stats count(*) by bin({unit})")).unwrap();
    }
}

#[test]
fn sort_and_limit() {
    Query::parse("sort @timestamp desc, user asc, x | limit 20").unwrap();
    Query::parse("SORT @timestamp | LIMIT 5").unwrap();
}

fn at(e: &QueryError) -> (usize, usize) {
    (e.line, e.col)
}

#[test]
fn errors_name_the_symbol_and_its_position() {
    let e = error("fields @message | filter x = = 1");
    assert_eq!(
        e.to_string(),
        "Invalid query: unexpected symbol `=` at line 1, col 30"
    );
    let e = error("filter x = 1\n| stats count(*) by )");
    assert_eq!(
        (at(&e), e.message.as_str()),
        ((2, 21), "unexpected symbol `)`")
    );
    assert_eq!(error("filter (x = 1").message, "unexpected end of query");
    assert_eq!(error("").message, "empty query");
    assert_eq!(error("fields a ; b").message, "unexpected symbol `;`");
}

#[test]
fn errors_for_what_the_subset_refuses() {
    let cases = [
        ("fields a | dedup a", "command `dedup` is not supported", 12),
        ("frobnicate", "unknown command `frobnicate`", 1),
        ("fields nope(a)", "unknown function `nope`", 8),
        (
            "stats count_distinct(a)",
            "function `count_distinct` is not supported",
            7,
        ),
        (
            "stats strlen(a)",
            "`strlen` is not an aggregate function",
            7,
        ),
        (
            "fields count(*)",
            "aggregate function `count` is only allowed in `stats`",
            8,
        ),
        (
            "stats count(*) | sort sum(x)",
            "`sum(x)` is not a column of the `stats` result",
            23,
        ),
        (
            "stats sum(a) / count(*)",
            "only single aggregate function calls are supported in `stats`",
            14,
        ),
        (
            "stats count(*) | stats count(*)",
            "only one `stats` command is supported",
            18,
        ),
        (
            "stats count(*) | parse 'a*' as b",
            "`parse` after `stats` is not supported",
            18,
        ),
        (
            "limit 5 | filter a = 1",
            "`filter` after `limit` is not supported",
            11,
        ),
        ("limit 0", "`limit` takes a positive whole number", 7),
        (
            "stats count(*) by bin(5 parsecs)",
            "`bin` takes a period such as `5m` or `1h`",
            23,
        ),
        (
            "parse @message 'a=* b=*' as a",
            "the pattern has 2 `*` but 1 names follow `as`",
            16,
        ),
        (
            "parse @message /(\\w+)/",
            "the regular expression has no named group",
            16,
        ),
        ("filter x like 'unterminated", "unterminated string", 15),
        (
            "filter x like /unterminated",
            "unterminated regular expression",
            15,
        ),
        (
            "fields strlen(a, b)",
            "wrong number of arguments to `strlen`",
            8,
        ),
    ];
    for (q, message, col) in cases {
        let e = error(q);
        assert_eq!(
            (e.message.as_str(), e.line, e.col),
            (message, 1, col),
            "{q}"
        );
    }
    assert!(
        error("filter x like /(/")
            .message
            .starts_with("invalid regular expression")
    );
}

#[test]
fn columns_count_characters_not_bytes() {
    let e = error("filter m = 'é' ;");
    assert_eq!(at(&e), (1, 16));
}
