//! `eddy-bench queue-depth`: PutEvents latency while a deep queue drains, through HTTP.
//!
//! Starts `eddy serve` on a fresh data directory (or uses one at `--endpoint`), puts a rule on
//! the default bus that sends every generated event to a second queue (the sink; `--rule none`
//! leaves the events unmatched), and then runs, one phase after another:
//!
//! 1. baseline: PutEvents at `--rate` events/s for `--seconds`, nothing else;
//! 2. for each of `--depths`: a new queue filled to that depth with SendMessageBatch(10) from
//!    `--fill-connections` connections as fast as eddy takes them (the fill is timed), then, for
//!    `--seconds`, `--drainers` connections each looping ReceiveMessage(10) +
//!    DeleteMessageBatch(10) until the queue is empty, while PutEvents runs at `--rate` as in
//!    the baseline. With `--refill` every drainer sends back as many messages as it deleted, so
//!    the depth holds for the whole phase (a queue with traffic at that depth).
//!
//! PutEvents is open-loop: each connection sends on a fixed schedule and latency is measured
//! from the scheduled send time, so a stalled server shows in the percentiles instead of
//! slowing the generator down (coordinated omission). Between phases the bench waits until the
//! rule's deliveries have caught up, so no phase inherits the previous one's backlog. Each phase
//! also reports the server's and the bench's CPU (from `/proc`) and the store's group commits
//! (from eddy's `/metrics`); `--latencies` writes every PutEvents request to a file. Prints one
//! JSON line; progress goes to stderr.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use serde_json::{Value, json};

use crate::deliveries::metric;
use crate::http1::Conn;
use crate::percentile;
use crate::put_events::request_body;
use crate::schedules::{cpu_ticks, quantile};
use crate::server::Server;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RuleKind {
    /// A rule matching every generated event, its target a second queue.
    Queue,
    /// No rule: the events are stored and match nothing.
    None,
}

#[derive(Debug, clap::Args)]
pub struct QueueDepthArgs {
    /// host:port of a running eddy's AWS endpoint; without it the bench starts `eddy serve` on
    /// free ports and a fresh data directory, and stops it at the end.
    #[arg(long)]
    endpoint: Option<String>,
    /// The running eddy's process id, for its CPU time (only with `--endpoint`).
    #[arg(long)]
    pid: Option<u32>,
    /// The `eddy` binary to start (default: `eddy` next to this binary).
    #[arg(long)]
    eddy: Option<PathBuf>,
    /// The started eddy's data directory (default: a fresh directory under the system's temp
    /// directory, removed at the end). It must not exist yet.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Queue depths to measure, one phase each, in order.
    #[arg(long, value_delimiter = ',', default_value = "1000,1000000")]
    depths: Vec<u64>,
    /// PutEvents events/s during every phase.
    #[arg(long, default_value_t = 5000)]
    rate: u64,
    /// Entries per PutEvents request (1-10).
    #[arg(long, default_value_t = 10)]
    batch: usize,
    /// PutEvents connections (each sends on its own fixed schedule).
    #[arg(long, default_value_t = 16)]
    put_connections: usize,
    /// How long each phase (baseline, then each depth's drain) runs.
    #[arg(long, default_value_t = 30)]
    seconds: u64,
    /// Connections draining the queue, each ReceiveMessage(10) then DeleteMessageBatch(10).
    #[arg(long, default_value_t = 4)]
    drainers: usize,
    /// Connections filling the queue with SendMessageBatch(10).
    #[arg(long, default_value_t = 16)]
    fill_connections: usize,
    /// Bytes of each message body.
    #[arg(long, default_value_t = 300)]
    message_bytes: usize,
    /// Hold the depth while draining: after each DeleteMessageBatch the drainer sends as many
    /// new messages (SendMessageBatch), so the queue never empties and every depth sees the
    /// same work for the whole phase.
    #[arg(long)]
    refill: bool,
    /// Also write every PutEvents request to this file, one CSV line each: phase, scheduled send
    /// time (µs since the Unix epoch), latency and service time (µs); for lining requests up
    /// with a profiler's timestamps (`perf record -k CLOCK_REALTIME`).
    #[arg(long)]
    latencies: Option<PathBuf>,
    /// What the generated events match.
    #[arg(long, value_enum, default_value = "queue")]
    rule: RuleKind,
}

async fn call(c: &mut Conn, target: &str, body: &Value) -> anyhow::Result<Value> {
    let r = c.aws_call(target, body.to_string().as_bytes()).await?;
    ensure!(
        r.status == 200,
        "{target} failed ({}): {}",
        r.status,
        String::from_utf8_lossy(&r.body)
    );
    Ok(serde_json::from_slice(&r.body)?)
}

/// Set-up and inspection calls, each on a connection of its own: they are minutes apart, longer
/// than eddy keeps an idle connection open.
struct Control(String);

impl Control {
    async fn call(&self, target: &str, body: &Value) -> anyhow::Result<Value> {
        call(&mut Conn::connect(&self.0).await?, target, body).await
    }
}

/// One PutEvents request of a phase.
struct Sample {
    /// Scheduled send time, from the phase's start.
    at_us: u64,
    /// From the scheduled send time to the response.
    lat_us: u64,
    /// From writing the request to the response.
    svc_us: u64,
    ok: bool,
}

/// PutEvents at `rate` events/s from `connections` connections, every request scheduled from
/// `start` up to `end` (a request that is late is still sent, and its lateness counted).
async fn put_load(
    endpoint: &str,
    args: &QueueDepthArgs,
    start: Instant,
    end: Instant,
) -> anyhow::Result<Vec<Sample>> {
    let period =
        Duration::from_secs_f64(args.put_connections as f64 * args.batch as f64 / args.rate as f64);
    let mut tasks = Vec::new();
    for c in 0..args.put_connections {
        let (endpoint, batch) = (endpoint.to_owned(), args.batch);
        let offset = period.mul_f64(c as f64 / args.put_connections as f64);
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::connect(&endpoint).await?;
            let mut samples = Vec::new();
            let mut seq = c as u64 * 100_000_000;
            let mut next = start + offset;
            while next < end {
                tokio::time::sleep_until(next.into()).await;
                let scheduled = next;
                next += period;
                let body = request_body(batch, seq);
                seq += 1;
                let sent = Instant::now();
                let r = conn.aws_call("AWSEvents.PutEvents", &body).await?;
                let done = Instant::now();
                samples.push(Sample {
                    at_us: scheduled.duration_since(start).as_micros() as u64,
                    lat_us: done.duration_since(scheduled).as_micros() as u64,
                    svc_us: done.duration_since(sent).as_micros() as u64,
                    ok: r.status == 200
                        && r.body.windows(20).any(|w| w == b"\"FailedEntryCount\":0"),
                });
            }
            anyhow::Ok(samples)
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    Ok(all)
}

/// Percentiles of the samples scheduled in the first `secs` of their phase, and the rate
/// achieved: their events over the time from the phase's start to the last one's response (at
/// least `secs`).
fn put_stats(samples: &[Sample], secs: f64, batch: usize) -> Value {
    let until_us = (secs * 1e6) as u64;
    let window: Vec<&Sample> = samples.iter().filter(|s| s.at_us < until_us).collect();
    let last_us = window.iter().map(|s| s.at_us + s.lat_us).max().unwrap_or(0);
    let took = secs.max(last_us as f64 / 1e6);
    let mut lat: Vec<u64> = window.iter().map(|s| s.lat_us).collect();
    let mut svc: Vec<u64> = window.iter().map(|s| s.svc_us).collect();
    lat.sort_unstable();
    svc.sort_unstable();
    json!({
        "seconds": round2(secs),
        "last_response_seconds": round2(last_us as f64 / 1e6),
        "requests": window.len(),
        "failed_requests": window.iter().filter(|s| !s.ok).count(),
        "events_per_sec": (window.len() as f64 * batch as f64 / took.max(1e-3)).round(),
        "p50_ms": percentile(&lat, 0.50),
        "p90_ms": percentile(&lat, 0.90),
        "p99_ms": percentile(&lat, 0.99),
        "p999_ms": percentile(&lat, 0.999),
        "max_ms": percentile(&lat, 1.0),
        "svc_p50_ms": percentile(&svc, 0.50),
        "svc_p99_ms": percentile(&svc, 0.99),
    })
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// CPU time of the server and of this process across a phase, as % of one core.
struct Cpu {
    pid: Option<u32>,
    server0: Option<u64>,
    bench0: Option<u64>,
    at: Instant,
}

impl Cpu {
    fn start(pid: Option<u32>) -> Self {
        Self {
            pid,
            server0: pid.and_then(|p| cpu_ticks(p).ok()),
            bench0: cpu_ticks(std::process::id()).ok(),
            at: Instant::now(),
        }
    }

    fn json(&self) -> Value {
        // Linux reports CPU time in ticks of 1/100 s (USER_HZ).
        let secs = self.at.elapsed().as_secs_f64();
        let pct = |t0: Option<u64>, pid: Option<u32>| {
            let t1 = cpu_ticks(pid?).ok()?;
            Some((t1.saturating_sub(t0?) as f64 / secs).round())
        };
        json!({
            "server_cpu_pct": pct(self.server0, self.pid),
            "bench_cpu_pct": pct(self.bench0, Some(std::process::id())),
            "loadavg": loadavg(),
        })
    }
}

/// One histogram of eddy's `/metrics`: `(le, cumulative count)` buckets, sum and count.
type Histogram = (Vec<(f64, u64)>, f64, u64);

/// The store's group commits so far: commit durations and requests per commit.
async fn commits(endpoint: &str) -> anyhow::Result<(Histogram, Histogram)> {
    let mut c = Conn::connect(endpoint).await?;
    let r = c.rest_call("GET", "/metrics", b"").await?;
    let text = String::from_utf8_lossy(&r.body);
    let histogram = |name: &str| -> anyhow::Result<Histogram> {
        let (mut buckets, mut sum, mut count) = (Vec::new(), 0.0, 0);
        let bucket = format!("{name}_bucket{{le=\"");
        let (sum_key, count_key) = (format!("{name}_sum"), format!("{name}_count"));
        for line in text.lines() {
            let Some((key, value)) = line.rsplit_once(' ') else {
                continue;
            };
            if let Some(rest) = key.strip_prefix(bucket.as_str()) {
                let le = rest.trim_end_matches("\"}");
                let le = if le == "+Inf" {
                    f64::INFINITY
                } else {
                    le.parse()?
                };
                buckets.push((le, value.parse()?));
            } else if key == sum_key {
                sum = value.parse()?;
            } else if key == count_key {
                count = value.parse()?;
            }
        }
        Ok((buckets, sum, count))
    };
    Ok((
        histogram("eddy_store_commit_seconds")?,
        histogram("eddy_store_commit_requests")?,
    ))
}

/// The store's commits between two scrapes: how many per second, their mean and p99 duration
/// (the p99 is a bucket's upper bound), and the mean requests sharing one.
fn commit_stats(
    before: &(Histogram, Histogram),
    after: &(Histogram, Histogram),
    secs: f64,
) -> Value {
    let ((t0, tsum0, n0), (_, rsum0, _)) = before;
    let ((t1, tsum1, n1), (_, rsum1, _)) = after;
    let n = n1.saturating_sub(*n0);
    let per = |x: f64| if n > 0 { x / n as f64 } else { 0.0 };
    json!({
        "per_sec": (n as f64 / secs.max(1e-3)).round(),
        "mean_ms": round2(per(tsum1 - tsum0) * 1e3),
        "p99_ms_le": quantile(t0, t1, 0.99) * 1e3,
        "requests_per_commit": round2(per(rsum1 - rsum0)),
    })
}

/// Fills `url` with `depth` messages; returns the seconds it took.
async fn fill(endpoint: &str, url: &str, depth: u64, args: &QueueDepthArgs) -> anyhow::Result<f64> {
    let requests = depth.div_ceil(10);
    let next = Arc::new(AtomicU64::new(0));
    let pad = "x".repeat(args.message_bytes.saturating_sub(12));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..args.fill_connections {
        let (endpoint, url, next, pad) = (
            endpoint.to_owned(),
            url.to_owned(),
            next.clone(),
            pad.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::connect(&endpoint).await?;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= requests {
                    return anyhow::Ok(());
                }
                let n = (depth - i * 10).min(10);
                let entries: Vec<Value> = (0..n)
                    .map(|k| json!({"Id": k.to_string(), "MessageBody": format!("m{:010}-{pad}", i * 10 + k)}))
                    .collect();
                let v = call(
                    &mut conn,
                    "AmazonSQS.SendMessageBatch",
                    &json!({"QueueUrl": url, "Entries": entries}),
                )
                .await?;
                let ok = v["Successful"].as_array().map_or(0, Vec::len) as u64;
                ensure!(ok == n, "SendMessageBatch stored {ok} of {n}: {v}");
                if i > 0 && i % 10_000 == 0 {
                    eprintln!(
                        "queue-depth: filled {} of {depth} in {:.1} s",
                        i * 10,
                        started.elapsed().as_secs_f64()
                    );
                }
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(started.elapsed().as_secs_f64())
}

/// What the drainers did in one phase.
struct Drained {
    messages: u64,
    /// When the last drainer found the queue empty; `None` when the phase ended first.
    empty_after: Option<Duration>,
    receive_us: Vec<u64>,
    delete_us: Vec<u64>,
}

/// `args.drainers` connections receiving and deleting from `url` until it is empty or `stop`.
async fn drain(
    endpoint: &str,
    url: &str,
    args: &QueueDepthArgs,
    start: Instant,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<Drained> {
    let mut tasks = Vec::new();
    let (refill, pad) = (args.refill, "x".repeat(args.message_bytes - 12));
    for drainer in 0..args.drainers {
        let (endpoint, url, stop) = (endpoint.to_owned(), url.to_owned(), stop.clone());
        let pad = pad.clone();
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::connect(&endpoint).await?;
            let (mut receive_us, mut delete_us, mut messages) = (Vec::new(), Vec::new(), 0u64);
            let receive = json!({
                "QueueUrl": url, "MaxNumberOfMessages": 10, "WaitTimeSeconds": 0,
                "VisibilityTimeout": 600,
            })
            .to_string();
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                let r = conn
                    .aws_call("AmazonSQS.ReceiveMessage", receive.as_bytes())
                    .await?;
                receive_us.push(t.elapsed().as_micros() as u64);
                ensure!(
                    r.status == 200,
                    "ReceiveMessage failed: {}",
                    String::from_utf8_lossy(&r.body)
                );
                let v: Value = serde_json::from_slice(&r.body)?;
                let Some(got) = v["Messages"].as_array().filter(|m| !m.is_empty()) else {
                    return anyhow::Ok((Some(start.elapsed()), messages, receive_us, delete_us));
                };
                let entries: Vec<Value> = got
                    .iter()
                    .enumerate()
                    .map(|(i, m)| json!({"Id": i.to_string(), "ReceiptHandle": m["ReceiptHandle"]}))
                    .collect();
                let t = Instant::now();
                let d = call(
                    &mut conn,
                    "AmazonSQS.DeleteMessageBatch",
                    &json!({"QueueUrl": url, "Entries": entries}),
                )
                .await?;
                delete_us.push(t.elapsed().as_micros() as u64);
                let ok = d["Successful"].as_array().map_or(0, Vec::len);
                ensure!(ok == got.len(), "DeleteMessageBatch: {d}");
                messages += ok as u64;
                if refill {
                    // As many new messages as were deleted: the depth holds.
                    let entries: Vec<Value> = (0..ok)
                        .map(|k| json!({"Id": k.to_string(), "MessageBody": format!("r{:02}{:08}-{pad}", drainer % 100, (messages + k as u64) % 100_000_000)}))
                        .collect();
                    let v = call(
                        &mut conn,
                        "AmazonSQS.SendMessageBatch",
                        &json!({"QueueUrl": url, "Entries": entries}),
                    )
                    .await?;
                    let sent = v["Successful"].as_array().map_or(0, Vec::len);
                    ensure!(sent == ok, "SendMessageBatch stored {sent} of {ok}: {v}");
                }
            }
            Ok((None, messages, receive_us, delete_us))
        }));
    }
    let mut out = Drained {
        messages: 0,
        empty_after: Some(Duration::ZERO),
        receive_us: Vec::new(),
        delete_us: Vec::new(),
    };
    for t in tasks {
        let (empty, messages, r, d) = t.await??;
        out.messages += messages;
        out.empty_after = match (out.empty_after, empty) {
            (Some(a), Some(b)) => Some(a.max(b)),
            _ => None,
        };
        out.receive_us.extend(r);
        out.delete_us.extend(d);
    }
    out.receive_us.sort_unstable();
    out.delete_us.sort_unstable();
    Ok(out)
}

/// The rule's deliveries so far (0 without a rule).
async fn delivered(endpoint: &str, rule: Option<&str>) -> anyhow::Result<f64> {
    let Some(rule) = rule else { return Ok(0.0) };
    let label = format!("rule/{rule}\"");
    metric(
        endpoint,
        "eddy_delivery_attempts_total",
        &["outcome=\"delivered\"", label.as_str()],
    )
    .await
}

/// Waits (up to two minutes) until the rule has delivered `want` events; returns the seconds
/// waited and what was still owed when the wait began (both 0 without a rule).
async fn catch_up(endpoint: &str, rule: Option<&str>, want: f64) -> anyhow::Result<(f64, f64)> {
    if rule.is_none() {
        return Ok((0.0, 0.0));
    }
    let started = Instant::now();
    let owed = want - delivered(endpoint, rule).await?;
    while delivered(endpoint, rule).await? < want {
        ensure!(
            started.elapsed() < Duration::from_secs(120),
            "the rule's deliveries did not catch up within 120 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok((round2(started.elapsed().as_secs_f64()), owed))
}

pub async fn run(args: QueueDepthArgs) -> anyhow::Result<()> {
    ensure!((1..=10).contains(&args.batch), "--batch must be 1-10");
    ensure!(args.rate > 0, "--rate must be at least 1");
    ensure!(
        args.put_connections > 0 && args.drainers > 0 && args.fill_connections > 0,
        "--put-connections, --drainers and --fill-connections must be at least 1"
    );
    ensure!(
        args.message_bytes >= 12,
        "--message-bytes must be at least 12"
    );
    let mut server = None;
    let (endpoint, pid) = match &args.endpoint {
        Some(e) => (e.clone(), args.pid),
        None => {
            let eddy = match &args.eddy {
                Some(p) => p.clone(),
                None => std::env::current_exe()?.with_file_name("eddy"),
            };
            let (dir, remove) = match &args.data_dir {
                Some(d) => (d.clone(), false),
                None => (
                    std::env::temp_dir().join(format!("eddy-bench-depth-{}", std::process::id())),
                    true,
                ),
            };
            let s = Server::start(&eddy, &dir, remove)?;
            let out = (s.aws.clone(), Some(s.child.id()));
            server = Some(s);
            out
        }
    };
    let loadavg_start = loadavg();
    let tag = std::process::id();
    let c = Control(endpoint.clone());
    let rule = match args.rule {
        RuleKind::None => None,
        RuleKind::Queue => {
            let (sink, rule) = (format!("depth-sink-{tag}"), format!("depth-{tag}"));
            c.call("AmazonSQS.CreateQueue", &json!({"QueueName": sink}))
                .await?;
            c.call("AWSEvents.PutRule", &json!({
                "Name": rule,
                "EventPattern": r#"{"source":["bench.orders"],"detail":{"customer":{"tier":["gold"]}}}"#,
            }))
            .await?;
            let arn = format!("arn:aws:sqs:us-east-1:123456789012:{sink}");
            c.call(
                "AWSEvents.PutTargets",
                &json!({"Rule": rule, "Targets": [{"Id": "sink", "Arn": arn}]}),
            )
            .await?;
            Some(rule)
        }
    };
    let mut log = LatencyLog(match &args.latencies {
        Some(p) => Some(std::io::BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("create {}", p.display()))?,
        )),
        None => None,
    });
    let mut put_so_far = delivered(&endpoint, rule.as_deref()).await?;
    let phase_len = Duration::from_secs(args.seconds);

    // Baseline: PutEvents alone.
    eprintln!("queue-depth: baseline, PutEvents at {}/s", args.rate);
    let commits0 = commits(&endpoint).await?;
    let cpu = Cpu::start(pid);
    let (start, start_unix) = phase_start();
    let samples = put_load(&endpoint, &args, start, start + phase_len).await?;
    log.write("baseline", start_unix, &samples)?;
    let mut baseline = json!({
        "put_events": put_stats(&samples, args.seconds as f64, args.batch),
        "store_commits": commit_stats(&commits0, &commits(&endpoint).await?, cpu.at.elapsed().as_secs_f64()),
    });
    merge(&mut baseline, cpu.json());
    put_so_far += ok_events(&samples, args.batch);
    let (secs, owed) = catch_up(&endpoint, rule.as_deref(), put_so_far).await?;
    baseline["deliveries_owed_at_end"] = json!(owed);
    baseline["deliveries_caught_up_seconds"] = json!(secs);

    let mut depths = Vec::new();
    for &depth in &args.depths {
        let name = format!("depth-{depth}-{tag}");
        let v = c
            .call("AmazonSQS.CreateQueue", &json!({"QueueName": name}))
            .await?;
        let url = v["QueueUrl"]
            .as_str()
            .context("CreateQueue without QueueUrl")?
            .to_owned();
        eprintln!("queue-depth: filling {name} to {depth}");
        let fill_cpu = Cpu::start(pid);
        let fill_secs = fill(&endpoint, &url, depth, &args).await?;
        let fill_usage = fill_cpu.json();
        let visible = messages_in(&c, &url).await?;
        eprintln!(
            "queue-depth: filled in {fill_secs:.1} s; draining with PutEvents at {}/s",
            args.rate
        );

        let commits0 = commits(&endpoint).await?;
        let cpu = Cpu::start(pid);
        let stop = Arc::new(AtomicBool::new(false));
        let (start, start_unix) = phase_start();
        let stopper = tokio::spawn({
            let stop = stop.clone();
            async move {
                tokio::time::sleep_until((start + phase_len).into()).await;
                stop.store(true, Ordering::Relaxed);
            }
        });
        let (samples, drained) = tokio::join!(
            put_load(&endpoint, &args, start, start + phase_len),
            async {
                tokio::time::sleep_until(start.into()).await;
                drain(&endpoint, &url, &args, start, stop.clone()).await
            },
        );
        stop.store(true, Ordering::Relaxed);
        stopper.abort();
        let (samples, drained) = (samples?, drained?);
        log.write(&format!("depth-{depth}"), start_unix, &samples)?;
        let drain_secs = drained.empty_after.map_or(args.seconds as f64, |d| {
            d.as_secs_f64().min(args.seconds as f64)
        });
        let commits1 = commits(&endpoint).await?;
        let mut phase = json!({
            "depth": depth,
            "fill_seconds": round2(fill_secs),
            "fill_messages_per_sec": (depth as f64 / fill_secs.max(1e-3)).round(),
            "fill_usage": fill_usage,
            "visible_after_fill": visible,
            "drained": drained.messages,
            "left_in_queue": messages_in(&c, &url).await?,
            "drained_to_empty": drained.empty_after.is_some(),
            "drain_seconds": round2(drain_secs),
            "drain_messages_per_sec": (drained.messages as f64 / drain_secs.max(1e-3)).round(),
            "receive_ms": {
                "calls": drained.receive_us.len(),
                "p50": percentile(&drained.receive_us, 0.50),
                "p99": percentile(&drained.receive_us, 0.99),
                "max": percentile(&drained.receive_us, 1.0),
            },
            "delete_ms": {
                "calls": drained.delete_us.len(),
                "p50": percentile(&drained.delete_us, 0.50),
                "p99": percentile(&drained.delete_us, 0.99),
                "max": percentile(&drained.delete_us, 1.0),
            },
            "put_events_while_draining": put_stats(&samples, drain_secs, args.batch),
            "put_events": put_stats(&samples, args.seconds as f64, args.batch),
            "store_commits": commit_stats(&commits0, &commits1, cpu.at.elapsed().as_secs_f64()),
        });
        merge(&mut phase, cpu.json());
        put_so_far += ok_events(&samples, args.batch);
        let (secs, owed) = catch_up(&endpoint, rule.as_deref(), put_so_far).await?;
        phase["deliveries_owed_at_end"] = json!(owed);
        phase["deliveries_caught_up_seconds"] = json!(secs);
        eprintln!("queue-depth: {phase}");
        depths.push(phase);
    }

    let out = json!({
        "bench": "queue-depth",
        "rate": args.rate,
        "batch": args.batch,
        "put_connections": args.put_connections,
        "drainers": args.drainers,
        "fill_connections": args.fill_connections,
        "message_bytes": args.message_bytes,
        "seconds": args.seconds,
        "rule": format!("{:?}", args.rule).to_lowercase(),
        "refill": args.refill,
        "loadavg_start": loadavg_start,
        "loadavg_end": loadavg(),
        "baseline": baseline,
        "depths": depths,
    });
    println!("{out}");
    if server.is_none()
        && let Some(rule) = &rule
    {
        // Leave nothing behind that would match (and deliver) the next run's events.
        c.call(
            "AWSEvents.RemoveTargets",
            &json!({"Rule": rule, "Ids": ["sink"]}),
        )
        .await?;
        c.call("AWSEvents.DeleteRule", &json!({"Name": rule}))
            .await?;
    }
    drop(server);
    Ok(())
}

/// The messages in a queue, visible and in flight (`ApproximateNumberOfMessages` +
/// `ApproximateNumberOfMessagesNotVisible`).
async fn messages_in(c: &Control, url: &str) -> anyhow::Result<u64> {
    let v = c
        .call(
            "AmazonSQS.GetQueueAttributes",
            &json!({"QueueUrl": url, "AttributeNames": ["ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible"]}),
        )
        .await?;
    let n = |k: &str| -> anyhow::Result<u64> {
        let s = v["Attributes"][k]
            .as_str()
            .with_context(|| format!("no {k} in {v}"))?;
        Ok(s.parse()?)
    };
    Ok(n("ApproximateNumberOfMessages")? + n("ApproximateNumberOfMessagesNotVisible")?)
}

/// A phase's start, a moment from now, on the monotonic clock and in µs since the Unix epoch.
fn phase_start() -> (Instant, u64) {
    let lead = Duration::from_millis(20);
    let unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    (Instant::now() + lead, (unix + lead).as_micros() as u64)
}

/// `--latencies`: every PutEvents request, one CSV line each.
struct LatencyLog(Option<std::io::BufWriter<std::fs::File>>);

impl LatencyLog {
    fn write(&mut self, phase: &str, start_unix_us: u64, samples: &[Sample]) -> anyhow::Result<()> {
        use std::io::Write;
        let Some(out) = &mut self.0 else {
            return Ok(());
        };
        for s in samples {
            writeln!(
                out,
                "{phase},{},{},{}",
                start_unix_us + s.at_us,
                s.lat_us,
                s.svc_us
            )?;
        }
        out.flush()?;
        Ok(())
    }
}

/// The events of the samples that succeeded.
fn ok_events(samples: &[Sample], batch: usize) -> f64 {
    (samples.iter().filter(|s| s.ok).count() * batch) as f64
}

fn merge(into: &mut Value, from: Value) {
    if let (Some(into), Value::Object(from)) = (into.as_object_mut(), from) {
        into.extend(from);
    }
}
