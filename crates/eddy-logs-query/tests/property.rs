//! Property tests: random filters against a naive reference evaluator, `stats count(*)`
//! against the rows the same filter returns, and the bounded top-k of `sort | limit` against a
//! full sort.

use eddy_logs_query::{Query, Record};
use proptest::prelude::*;

/// One synthetic record: JSON with `n` and `user` (each maybe absent) in stream `s`.
#[derive(Debug, Clone)]
struct Rec {
    n: Option<i64>,
    user: Option<&'static str>,
    stream: &'static str,
    message: String,
}

const USERS: [&str; 3] = ["ann", "ben", "cy"];
const STREAMS: [&str; 2] = ["a", "b"];

fn rec() -> impl Strategy<Value = Rec> {
    (
        proptest::option::of(-5i64..20),
        proptest::option::of(0usize..3),
        0usize..2,
    )
        .prop_map(|(n, u, s)| {
            let mut fields = Vec::new();
            if let Some(n) = n {
                fields.push(format!(r#""n":{n}"#));
            }
            if let Some(u) = u {
                fields.push(format!(r#""user":"{}""#, USERS[u]));
            }
            Rec {
                n,
                user: u.map(|u| USERS[u]),
                stream: STREAMS[s],
                message: format!("{{{}}}", fields.join(",")),
            }
        })
}

#[derive(Debug, Clone)]
enum Filter {
    NumCmp(&'static str, i64),
    UserEq(&'static str),
    UserLike(&'static str),
    StreamIs(&'static str),
    Present(&'static str),
    Not(Box<Filter>),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
}

fn filter() -> impl Strategy<Value = Filter> {
    let leaf = prop_oneof![
        (
            prop::sample::select(vec!["=", "!=", "<", "<=", ">", ">="]),
            -5i64..20
        )
            .prop_map(|(op, v)| Filter::NumCmp(op, v)),
        prop::sample::select(USERS.to_vec()).prop_map(Filter::UserEq),
        prop::sample::select(vec!["n", "e", "y", "zz"]).prop_map(Filter::UserLike),
        prop::sample::select(STREAMS.to_vec()).prop_map(Filter::StreamIs),
        prop::sample::select(vec!["n", "user"]).prop_map(Filter::Present),
    ];
    leaf.prop_recursive(3, 16, 2, |inner| {
        prop_oneof![
            inner.clone().prop_map(|f| Filter::Not(Box::new(f))),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Filter::And(Box::new(a), Box::new(b))),
            (inner.clone(), inner).prop_map(|(a, b)| Filter::Or(Box::new(a), Box::new(b))),
        ]
    })
}

fn text(f: &Filter) -> String {
    match f {
        Filter::NumCmp(op, v) => format!("n {op} {v}"),
        Filter::UserEq(u) => format!("user = '{u}'"),
        Filter::UserLike(s) => format!("user like '{s}'"),
        Filter::StreamIs(s) => format!("@logStream = \"{s}\""),
        Filter::Present(f) => format!("ispresent({f})"),
        Filter::Not(f) => format!("not ({})", text(f)),
        Filter::And(a, b) => format!("({}) and ({})", text(a), text(b)),
        Filter::Or(a, b) => format!("({}) or ({})", text(a), text(b)),
    }
}

/// The reference: comparisons with an absent field are false.
fn holds(f: &Filter, r: &Rec) -> bool {
    match f {
        Filter::NumCmp(op, v) => r.n.is_some_and(|n| match *op {
            "=" => n == *v,
            "!=" => n != *v,
            "<" => n < *v,
            "<=" => n <= *v,
            ">" => n > *v,
            _ => n >= *v,
        }),
        Filter::UserEq(u) => r.user == Some(*u),
        Filter::UserLike(s) => r.user.is_some_and(|u| u.contains(s)),
        Filter::StreamIs(s) => r.stream == *s,
        Filter::Present(f) => {
            if *f == "n" {
                r.n.is_some()
            } else {
                r.user.is_some()
            }
        }
        Filter::Not(f) => !holds(f, r),
        Filter::And(a, b) => holds(a, r) && holds(b, r),
        Filter::Or(a, b) => holds(a, r) || holds(b, r),
    }
}

fn records(recs: &[Rec]) -> impl Iterator<Item = Record<'_>> {
    recs.iter().enumerate().map(|(i, r)| Record {
        timestamp: 1_000_000 + i as i64 * 1000,
        ingestion_time: 1_000_000 + i as i64 * 1000,
        message: &r.message,
        log_stream: r.stream,
        log_group: "g",
    })
}

proptest! {
    #[test]
    fn count_equals_the_reference_and_the_rows(recs in prop::collection::vec(rec(), 0..60), f in filter()) {
        let expected = recs.iter().filter(|r| holds(&f, r)).count();
        let counted = Query::parse(&format!("filter {} | stats count(*) as c", text(&f))).unwrap().run(records(&recs));
        prop_assert_eq!(&counted.rows[0][0].1, &expected.to_string());
        prop_assert_eq!(counted.statistics.records_matched, expected as u64);
        let listed = Query::parse(&format!("filter {}", text(&f))).unwrap().run(records(&recs));
        prop_assert_eq!(listed.rows.len(), expected);
    }

    #[test]
    fn bounded_top_k_equals_a_full_sort(recs in prop::collection::vec(rec(), 0..200), k in 1usize..30, desc in any::<bool>()) {
        let dir = if desc { "desc" } else { "asc" };
        let q = Query::parse(&format!("filter ispresent(n) | sort n {dir} | limit {k} | display n, @timestamp")).unwrap();
        let got = q.run(records(&recs));
        // Reference: stable sort of (n, arrival), then the first k.
        let mut all: Vec<(i64, usize)> = recs.iter().enumerate().filter_map(|(i, r)| r.n.map(|n| (n, i))).collect();
        all.sort_by(|a, b| if desc { b.0.cmp(&a.0).then(a.1.cmp(&b.1)) } else { a.cmp(b) });
        all.truncate(k);
        let want: Vec<String> = all.iter().map(|(n, _)| n.to_string()).collect();
        let have: Vec<String> = got.rows.iter().map(|row| row[0].1.clone()).collect();
        prop_assert_eq!(have, want);
        let want_times: Vec<String> = all.iter().map(|(_, i)| eddy_logs_query::format_timestamp(1_000_000 + *i as i64 * 1000)).collect();
        let have_times: Vec<String> = got.rows.iter().map(|row| row[1].1.clone()).collect();
        prop_assert_eq!(have_times, want_times);
    }
}
