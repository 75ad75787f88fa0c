//! Throughput of three queries over 1,000,000 synthetic records (one every 10 ms, a mix of
//! plain-text and JSON messages, 1 in 50 an `ERROR`), pushed one by one as the Logs adapter
//! would. Run: `cargo run --release --example bench -p eddy-logs-query`.

use std::time::Instant;

use eddy_logs_query::{Query, Record};

const N: usize = 1_000_000;
const T0: i64 = 1_704_067_200_000;

fn main() {
    let users = ["alice", "bob", "carol", "dave", "erin", "frank", "grace"];
    let messages: Vec<String> = (0..N)
        .map(|i| {
            let level = if i % 50 == 0 { "ERROR" } else { "INFO" };
            let user = users[i % users.len()];
            if i % 2 == 0 {
                format!(
                    "{level} request done user={user} x={} path=/api/v1/orders/{i}",
                    i % 1000
                )
            } else {
                format!(
                    r#"{{"level":"{level}","user":"{user}","x":{},"path":"/api/v1/orders/{i}"}}"#,
                    i % 1000
                )
            }
        })
        .collect();
    let records: Vec<Record<'_>> = messages
        .iter()
        .enumerate()
        .map(|(i, m)| Record {
            timestamp: T0 + i as i64 * 10,
            ingestion_time: T0 + i as i64 * 10 + 5,
            message: m,
            log_stream: "bench",
            log_group: "/bench",
        })
        .collect();

    for q in [
        "stats count(*) by bin(1m)",
        "filter @message like /ERROR/ | stats count(*) by bin(5m)",
        "parse @message 'user=* x=*' as user, x | stats avg(x) by user",
    ] {
        let query = Query::parse(q).expect("query parses");
        let start = Instant::now();
        let mut run = query.start();
        for r in &records {
            run.push(r);
        }
        let results = run.finish();
        let secs = start.elapsed().as_secs_f64();
        println!(
            "{q}\n  {N} records in {:.1} ms: {:.1} M records/s, {} rows, {} matched",
            secs * 1000.0,
            N as f64 / secs / 1e6,
            results.rows.len(),
            results.statistics.records_matched,
        );
    }
}
