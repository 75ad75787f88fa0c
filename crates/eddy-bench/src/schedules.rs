//! `eddy-bench schedules`: how fast a running eddy accepts CreateSchedule calls, and how it
//! behaves holding that many schedules: tick lateness (from `eddy_scheduler_lateness_seconds`)
//! and the server process's CPU (from `/proc/PID/stat`) while no API calls arrive.
//!
//! The schedules are `cron(M H * * ? *)` with their minute of the day spread evenly
//! (`i mod 1440`), so 100,000 schedules fire about 69 ticks at every minute mark, each a message
//! to one eddy queue: a realistic "many daily jobs" load rather than an artificial burst.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::http1::Conn;
use crate::percentile;

#[derive(Debug, clap::Args)]
pub struct SchedulesArgs {
    /// host:port of eddy's AWS endpoint.
    #[arg(long, default_value = "127.0.0.1:4566")]
    endpoint: String,
    /// Schedules to create.
    #[arg(long, default_value_t = 100_000)]
    count: u64,
    /// Concurrent connections creating them.
    #[arg(long, default_value_t = 64)]
    connections: u64,
    /// The eddy server's process id (for its CPU time); 0 skips the CPU measurement.
    #[arg(long, default_value_t = 0)]
    pid: u32,
    /// One expression for every schedule (e.g. `cron(* * * * ? *)` for a burst at every minute
    /// mark) instead of the spread daily crons.
    #[arg(long)]
    expression: Option<String>,
    /// How long to watch the server after creating the schedules.
    #[arg(long, default_value_t = 65)]
    observe_seconds: u64,
}

/// `utime + stime` of a process, in clock ticks.
pub(crate) fn cpu_ticks(pid: u32) -> anyhow::Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the `(comm)`; utime and stime are fields 14 and 15 of the whole line.
    let rest = stat.rsplit_once(')').context("bad /proc stat")?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = f.get(11).context("no utime")?.parse()?;
    let stime: u64 = f.get(12).context("no stime")?.parse()?;
    Ok(utime + stime)
}

fn rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some((kb / 1024.0 * 10.0).round() / 10.0)
}

/// `(le, cumulative count)` buckets, sum and count of the lateness histogram.
async fn lateness(endpoint: &str) -> anyhow::Result<(Vec<(f64, u64)>, f64, u64)> {
    let mut c = Conn::connect(endpoint).await?;
    let r = c.rest_call("GET", "/metrics", b"").await?;
    let text = String::from_utf8_lossy(&r.body);
    let (mut buckets, mut sum, mut count) = (Vec::new(), 0.0, 0);
    for line in text.lines() {
        let Some((key, value)) = line.rsplit_once(' ') else {
            continue;
        };
        if let Some(rest) = key.strip_prefix("eddy_scheduler_lateness_seconds_bucket{le=\"") {
            let le = rest.trim_end_matches("\"}");
            let le = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse()?
            };
            buckets.push((le, value.parse()?));
        } else if key == "eddy_scheduler_lateness_seconds_sum" {
            sum = value.parse()?;
        } else if key == "eddy_scheduler_lateness_seconds_count" {
            count = value.parse()?;
        }
    }
    Ok((buckets, sum, count))
}

/// The upper bound of the bucket holding quantile `q` of the ticks between two scrapes.
pub(crate) fn quantile(before: &[(f64, u64)], after: &[(f64, u64)], q: f64) -> f64 {
    let delta: Vec<(f64, u64)> = after
        .iter()
        .map(|(le, n)| {
            let b = before.iter().find(|(l, _)| l == le).map_or(0, |(_, m)| *m);
            (*le, n - b.min(*n))
        })
        .collect();
    let total = delta.last().map_or(0, |(_, n)| *n);
    if total == 0 {
        return 0.0;
    }
    let want = (total as f64 * q).ceil() as u64;
    delta
        .iter()
        .find(|(_, n)| *n >= want)
        .map_or(f64::INFINITY, |(le, _)| *le)
}

pub async fn run(args: SchedulesArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.connections > 0, "--connections must be at least 1");
    let mut c = Conn::connect(&args.endpoint).await?;
    let r = c
        .aws_call(
            "AmazonSQS.CreateQueue",
            br#"{"QueueName":"bench-schedules"}"#,
        )
        .await?;
    anyhow::ensure!(r.status == 200, "CreateQueue failed");
    let next = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..args.connections {
        let (endpoint, next, failures, count, fixed) = (
            args.endpoint.clone(),
            next.clone(),
            failures.clone(),
            args.count,
            args.expression.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::connect(&endpoint).await?;
            let mut latencies_us = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count {
                    break;
                }
                let minute_of_day = i % 1440;
                let expression = fixed.clone().unwrap_or_else(|| {
                    format!("cron({} {} * * ? *)", minute_of_day % 60, minute_of_day / 60)
                });
                let body = format!(
                    r#"{{"ScheduleExpression":"{expression}","FlexibleTimeWindow":{{"Mode":"OFF"}},"Target":{{"Arn":"arn:aws:sqs:us-east-1:123456789012:bench-schedules","RoleArn":"arn:aws:iam::123456789012:role/bench","Input":"{{\"job\":{i}}}"}}}}"#
                );
                let t = Instant::now();
                let r = conn
                    .rest_call("POST", &format!("/schedules/bench-{i}"), body.as_bytes())
                    .await?;
                latencies_us.push(t.elapsed().as_micros() as u64);
                if r.status != 200 && failures.fetch_add(1, Ordering::Relaxed) == 0 {
                    eprintln!(
                        "CreateSchedule failed: {} {}",
                        r.status,
                        String::from_utf8_lossy(&r.body)
                    );
                }
            }
            anyhow::Ok(latencies_us)
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    let create_secs = started.elapsed().as_secs_f64();
    all.sort_unstable();

    // Let the creation's own work settle, then watch.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (before, sum0, count0) = lateness(&args.endpoint).await?;
    let cpu0 = (args.pid > 0).then(|| cpu_ticks(args.pid)).transpose()?;
    let watch_started = Instant::now();
    tokio::time::sleep(Duration::from_secs(30)).await;
    let cpu30 = (args.pid > 0).then(|| cpu_ticks(args.pid)).transpose()?;
    let secs30 = watch_started.elapsed().as_secs_f64();
    let rest = args.observe_seconds.saturating_sub(30);
    tokio::time::sleep(Duration::from_secs(rest)).await;
    let cpu_end = (args.pid > 0).then(|| cpu_ticks(args.pid)).transpose()?;
    let secs_all = watch_started.elapsed().as_secs_f64();
    let (after, sum1, count1) = lateness(&args.endpoint).await?;
    // Linux reports CPU time in ticks of 1/100 s (USER_HZ).
    let pct = |a: Option<u64>, b: Option<u64>, secs: f64| match (a, b) {
        (Some(a), Some(b)) => Some(((b - a) as f64 / 100.0 / secs * 1000.0).round() / 10.0),
        _ => None,
    };
    let ticks = count1.saturating_sub(count0);
    let out = serde_json::json!({
        "bench": "schedules",
        "schedules": args.count,
        "connections": args.connections,
        "create_seconds": (create_secs * 100.0).round() / 100.0,
        "create_calls_per_sec": (args.count as f64 / create_secs).round(),
        "failed_calls": failures.load(Ordering::Relaxed),
        "create_latency_ms": {
            "p50": percentile(&all, 0.50),
            "p99": percentile(&all, 0.99),
            "max": percentile(&all, 1.0),
        },
        "observe_seconds": (secs_all * 10.0).round() / 10.0,
        "cpu_percent_first_30s": pct(cpu0, cpu30, secs30),
        "cpu_percent_observed": pct(cpu0, cpu_end, secs_all),
        "rss_mib": if args.pid > 0 { rss_mib(args.pid) } else { None },
        "ticks_observed": ticks,
        "lateness_seconds": {
            "mean": if ticks > 0 { ((sum1 - sum0) / ticks as f64 * 1e4).round() / 1e4 } else { 0.0 },
            "p50_at_most": quantile(&before, &after, 0.50),
            "p99_at_most": quantile(&before, &after, 0.99),
            "max_at_most": quantile(&before, &after, 1.0),
        },
    });
    println!("{out}");
    Ok(())
}
