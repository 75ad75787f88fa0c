//! `eddy-bench logs-insights`: Logs Insights queries over a large log group, end to end.
//!
//! Starts `eddy serve` on a fresh data directory, writes `--events` log events into one group
//! with PutLogEvents (10,000 per call, one event every 50 ms of event time ending now: half
//! plain text with one `ERROR` in 50, half JSON), then runs each query `--runs` times through
//! StartQuery and GetQueryResults (polled every 5 ms) and reports the time from StartQuery to
//! the `Complete` status: reading the events from the store in time order and running the
//! query. Prints one JSON line; progress goes to stderr.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use serde_json::{Value, json};

use crate::http1::Conn;
use crate::server::Server;

#[derive(Debug, clap::Args)]
pub struct LogsInsightsArgs {
    /// The eddy binary (default: `eddy` beside this one).
    #[arg(long)]
    eddy: Option<PathBuf>,
    /// A fresh data directory (default: a new one under the system's temporary directory).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    #[arg(long, default_value_t = 1_000_000)]
    events: u64,
    #[arg(long, default_value_t = 3)]
    runs: usize,
}

const GROUP: &str = "/bench/insights";
const PER_CALL: u64 = 10_000;
const STEP_MS: i64 = 50;

const QUERIES: &[&str] = &[
    "stats count(*) by bin(1m)",
    "filter @message like /ERROR/ | stats count(*) by bin(5m)",
    "filter level = 'warn' | stats avg(ms), max(ms) by user",
];

async fn call(c: &mut Conn, op: &str, body: &Value) -> anyhow::Result<Value> {
    let r = c
        .aws_call(&format!("Logs_20140328.{op}"), body.to_string().as_bytes())
        .await?;
    ensure!(
        r.status == 200,
        "{op} failed ({}): {}",
        r.status,
        String::from_utf8_lossy(&r.body)
    );
    Ok(serde_json::from_slice(&r.body)?)
}

fn message(i: u64) -> String {
    let user = ["ann", "bob", "cy", "dee"][(i % 4) as usize];
    if i.is_multiple_of(2) {
        let level = if i.is_multiple_of(50) {
            "ERROR"
        } else {
            "INFO"
        };
        format!("{level} request {i} from {user} took {} ms", i % 300)
    } else {
        let level = if i.is_multiple_of(7) { "warn" } else { "info" };
        json!({"level": level, "user": user, "ms": i % 300, "n": i}).to_string()
    }
}

async fn fill(c: &mut Conn, events: u64) -> anyhow::Result<(i64, i64, f64)> {
    call(c, "CreateLogGroup", &json!({"logGroupName": GROUP})).await?;
    call(
        c,
        "CreateLogStream",
        &json!({"logGroupName": GROUP, "logStreamName": "s"}),
    )
    .await?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_millis() as i64;
    let first = now - events as i64 * STEP_MS;
    let started = Instant::now();
    let mut i = 0;
    while i < events {
        let n = PER_CALL.min(events - i);
        let batch: Vec<Value> = (i..i + n)
            .map(|k| json!({"timestamp": first + k as i64 * STEP_MS, "message": message(k)}))
            .collect();
        let r = call(
            c,
            "PutLogEvents",
            &json!({"logGroupName": GROUP, "logStreamName": "s", "logEvents": batch}),
        )
        .await?;
        ensure!(
            r.get("rejectedLogEventsInfo").is_none(),
            "events were rejected: {r}"
        );
        i += n;
        if i.is_multiple_of(100_000) {
            eprintln!("  {i} events written");
        }
    }
    Ok((first, now, started.elapsed().as_secs_f64()))
}

/// One query: (seconds from StartQuery to Complete, records scanned, rows).
async fn query(c: &mut Conn, q: &str, first: i64, last: i64) -> anyhow::Result<(f64, f64, usize)> {
    let started = Instant::now();
    let id = call(
        c,
        "StartQuery",
        &json!({"logGroupName": GROUP, "startTime": first / 1000, "endTime": last / 1000 + 1,
                "queryString": q}),
    )
    .await?["queryId"]
        .as_str()
        .context("no queryId")?
        .to_owned();
    loop {
        let r = call(c, "GetQueryResults", &json!({"queryId": id})).await?;
        match r["status"].as_str() {
            Some("Complete") => {
                let secs = started.elapsed().as_secs_f64();
                let scanned = r["statistics"]["recordsScanned"].as_f64().unwrap_or(0.0);
                let rows = r["results"].as_array().map_or(0, Vec::len);
                return Ok((secs, scanned, rows));
            }
            Some("Running" | "Scheduled") => tokio::time::sleep(Duration::from_millis(5)).await,
            other => anyhow::bail!("query {q} ended {other:?}: {r}"),
        }
    }
}

pub async fn run(args: LogsInsightsArgs) -> anyhow::Result<()> {
    let eddy = match args.eddy {
        Some(p) => p,
        None => std::env::current_exe()?.with_file_name("eddy"),
    };
    let dir = args.data_dir.unwrap_or_else(|| {
        std::env::temp_dir().join(format!("eddy-bench-insights-{}", std::process::id()))
    });
    let server = Server::start(&eddy, &dir, true)?;
    let mut c = Conn::connect(&server.aws).await?;
    eprintln!("writing {} log events", args.events);
    let (first, last, fill_secs) = fill(&mut c, args.events).await?;
    let mut results = Vec::new();
    for q in QUERIES {
        let mut times = Vec::new();
        let mut scanned = 0.0;
        let mut rows = 0;
        for _ in 0..args.runs {
            let (secs, s, r) = query(&mut c, q, first, last).await?;
            times.push(secs);
            scanned = s;
            rows = r;
        }
        times.sort_by(f64::total_cmp);
        eprintln!("  {q}: {times:?} s");
        results.push(json!({
            "query": q,
            "seconds": times,
            "median_seconds": times[times.len() / 2],
            "records_scanned": scanned,
            "rows": rows,
            "records_per_second": (scanned / times[times.len() / 2]).round(),
        }));
    }
    println!(
        "{}",
        json!({
            "bench": "logs-insights",
            "events": args.events,
            "fill_seconds": fill_secs,
            "fill_events_per_second": (args.events as f64 / fill_secs).round(),
            "queries": results,
        })
    );
    drop(server);
    Ok(())
}
