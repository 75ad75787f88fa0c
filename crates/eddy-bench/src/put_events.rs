//! `eddy-bench put-events`: PutEvents load on a running eddy: many connections, batches of
//! entries, every event durable before its response; events/s and latency percentiles.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::http1::Conn;
use crate::percentile;

#[derive(Debug, clap::Args)]
pub struct PutEventsArgs {
    /// host:port of eddy's AWS endpoint; several, comma-separated, for the nodes of a cluster
    /// (connections are spread over them in turn).
    #[arg(long, default_value = "127.0.0.1:4566")]
    endpoint: String,
    /// Concurrent connections.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Entries per PutEvents request (1–10).
    #[arg(long, default_value_t = 10)]
    batch: usize,
    /// How long to run.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Target events/s across all connections (0 = as fast as possible). Latency is measured from
    /// each request's scheduled start, so a stalled server shows up in the percentiles.
    #[arg(long, default_value_t = 0)]
    rate: u64,
    /// Create a rule (with one target) on the default bus that matches every generated event.
    #[arg(long)]
    setup_rule: bool,
}

/// The body of one PutEvents request: `batch` order events numbered from `seq * 10`.
pub(crate) fn request_body(batch: usize, seq: u64) -> Vec<u8> {
    let entries: Vec<String> = (0..batch)
        .map(|i| {
            format!(
                r#"{{"Source":"bench.orders","DetailType":"OrderPlaced","Detail":"{{\"order\":{},\"amount\":{},\"customer\":{{\"tier\":\"gold\",\"country\":\"NL\"}},\"items\":[\"a\",\"b\"]}}"}}"#,
                seq * 10 + i as u64,
                (seq % 1000) as f64 / 10.0
            )
        })
        .collect();
    format!(r#"{{"Entries":[{}]}}"#, entries.join(",")).into_bytes()
}

/// A rule on the default bus matching every generated event, with an eddy queue as its target
/// (so the deliveries the events cause are real work too).
async fn setup_rule(endpoint: &str) -> anyhow::Result<()> {
    let mut c = Conn::connect(endpoint).await?;
    let r = c
        .aws_call("AmazonSQS.CreateQueue", br#"{"QueueName":"bench"}"#)
        .await?;
    anyhow::ensure!(
        r.status == 200,
        "CreateQueue failed: {}",
        String::from_utf8_lossy(&r.body)
    );
    let rule = serde_json::json!({
        "Name": "bench-orders",
        "EventPattern": r#"{"source":["bench.orders"],"detail":{"customer":{"tier":["gold"]}}}"#,
    });
    let r = c
        .aws_call("AWSEvents.PutRule", rule.to_string().as_bytes())
        .await?;
    anyhow::ensure!(
        r.status == 200,
        "PutRule failed: {}",
        String::from_utf8_lossy(&r.body)
    );
    let targets = serde_json::json!({
        "Rule": "bench-orders",
        "Targets": [{"Id": "q", "Arn": "arn:aws:sqs:us-east-1:123456789012:bench"}],
    });
    let r = c
        .aws_call("AWSEvents.PutTargets", targets.to_string().as_bytes())
        .await?;
    anyhow::ensure!(
        r.status == 200,
        "PutTargets failed: {}",
        String::from_utf8_lossy(&r.body)
    );
    Ok(())
}

pub async fn run(args: PutEventsArgs) -> anyhow::Result<()> {
    anyhow::ensure!((1..=10).contains(&args.batch), "--batch must be 1-10");
    anyhow::ensure!(args.connections > 0, "--connections must be at least 1");
    let endpoints = crate::endpoints(&args.endpoint);
    anyhow::ensure!(!endpoints.is_empty(), "--endpoint names no endpoint");
    if args.setup_rule {
        setup_rule(&endpoints[0]).await?;
        if endpoints.len() > 1 {
            // The other nodes learn of the rule from the store's change feed.
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
    let stop = Arc::new(AtomicBool::new(false));
    let failures = Arc::new(AtomicU64::new(0));
    let duration = Duration::from_secs(args.seconds);
    // Per connection: one request every `period` when rate-limited.
    let period = (args.rate > 0).then(|| {
        Duration::from_secs_f64(args.connections as f64 * args.batch as f64 / args.rate as f64)
    });
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..args.connections {
        let endpoint = endpoints[c % endpoints.len()].clone();
        let stop = stop.clone();
        let failures = failures.clone();
        let batch = args.batch;
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::connect(&endpoint).await?;
            let mut latencies_us = Vec::new();
            let mut seq = c as u64 * 1_000_000;
            // Spread the connections' schedules over one period.
            let mut next =
                period.map(|p| Instant::now() + p.mul_f64(c as f64 / args.connections as f64));
            while !stop.load(Ordering::Relaxed) {
                let scheduled = match (next, period) {
                    (Some(at), Some(p)) => {
                        tokio::time::sleep_until(at.into()).await;
                        next = Some(at + p);
                        at
                    }
                    _ => Instant::now(),
                };
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let body = request_body(batch, seq);
                seq += 1;
                let reply = conn.aws_call("AWSEvents.PutEvents", &body).await?;
                if reply.status != 200
                    || !reply
                        .body
                        .windows(20)
                        .any(|w| w == b"\"FailedEntryCount\":0")
                {
                    failures.fetch_add(1, Ordering::Relaxed);
                }
                latencies_us.push(scheduled.elapsed().as_micros() as u64);
            }
            anyhow::Ok(latencies_us)
        }));
    }
    tokio::time::sleep(duration).await;
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort_unstable();
    let requests = all.len() as u64;
    let events = requests * args.batch as u64;
    let out = serde_json::json!({
        "bench": "put-events",
        "connections": args.connections,
        "batch": args.batch,
        "target_rate": args.rate,
        "seconds": (elapsed * 100.0).round() / 100.0,
        "requests": requests,
        "failed_requests": failures.load(Ordering::Relaxed),
        "events_per_sec": (events as f64 / elapsed).round(),
        "latency_ms": {
            "p50": percentile(&all, 0.50),
            "p90": percentile(&all, 0.90),
            "p99": percentile(&all, 0.99),
            "p999": percentile(&all, 0.999),
            "max": percentile(&all, 1.0),
        },
    });
    println!("{out}");
    Ok(())
}
