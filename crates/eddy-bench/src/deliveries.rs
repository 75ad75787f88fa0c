//! `eddy-bench deliveries`: how fast and how soon matched events reach their target.
//!
//! Sets up a rule whose one target is an eddy queue or an HTTP endpoint served by this process
//! (behind a connection and an API destination), puts `--events` events (as fast as possible, or
//! at `--rate` events/s), and measures:
//! * throughput: events delivered per second, from the first put to the last delivery;
//! * with `--backlog` (HTTP): deliveries held back (rate limit 1/s) while the events are put,
//!   then released: the rate at which eddy delivers a backlog with no ingest competing;
//! * for HTTP targets, end-to-end latency per event: from the PutEvents response that returned
//!   its id to the receiver reading the request (negative when the delivery won the race; counted
//!   as zero).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

use crate::http1::Conn;
use crate::percentile;
use crate::put_events::request_body;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TargetKind {
    Queue,
    Http,
}

#[derive(Debug, clap::Args)]
pub struct DeliveriesArgs {
    /// host:port of eddy's AWS endpoint; several, comma-separated, for the nodes of a cluster
    /// (PutEvents connections are spread over them, deliveries counted on all of them).
    #[arg(long, default_value = "127.0.0.1:4566")]
    endpoint: String,
    /// What the rule delivers to.
    #[arg(long, value_enum, default_value = "queue")]
    target: TargetKind,
    /// Events to put.
    #[arg(long, default_value_t = 100_000)]
    events: u64,
    /// Entries per PutEvents request (1-10).
    #[arg(long, default_value_t = 10)]
    batch: usize,
    /// Concurrent PutEvents connections.
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// Events/s across all connections (0 = as fast as possible).
    #[arg(long, default_value_t = 0)]
    rate: u64,
    /// HTTP target only: hold deliveries back while the events are put (the API destination's
    /// invocation rate limit is 1/s), then lift the limit and measure how fast eddy delivers
    /// the backlog with nothing else running (`backlog_deliveries_per_sec`).
    #[arg(long)]
    backlog: bool,
}

type Times = Arc<Mutex<HashMap<String, Instant>>>;

async fn call(c: &mut Conn, target: &str, body: serde_json::Value) -> anyhow::Result<String> {
    let r = c.aws_call(target, body.to_string().as_bytes()).await?;
    let text = String::from_utf8_lossy(&r.body).into_owned();
    anyhow::ensure!(r.status == 200, "{target} failed: {text}");
    Ok(text)
}

/// A minimal HTTP/1.1 receiver: records when each event id arrives, answers 200.
async fn receiver(arrivals: Times) -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let arrivals = arrivals.clone();
            tokio::spawn(async move {
                let _closed = serve_conn(sock, arrivals).await.is_err();
            });
        }
    });
    Ok(format!("http://{addr}/events"))
}

async fn serve_conn(sock: tokio::net::TcpStream, arrivals: Times) -> anyhow::Result<()> {
    sock.set_nodelay(true)?;
    let mut r = BufReader::new(sock);
    let mut line = String::new();
    loop {
        line.clear();
        if r.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let mut len = 0usize;
        loop {
            line.clear();
            r.read_line(&mut line).await?;
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                len = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; len];
        r.read_exact(&mut body).await?;
        let at = Instant::now();
        if let Some(id) = event_id(&body) {
            arrivals
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(id.to_owned(), at);
        }
        r.get_mut()
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
            .await?;
    }
}

/// The `id` of a delivered event, found without building the whole document (the receiver
/// shares the machine with the server it measures). An EventBridge envelope's first `"id"` key
/// is its own (`version` comes before it, `detail` after).
fn event_id(body: &[u8]) -> Option<&str> {
    const KEY: &[u8] = b"\"id\":\"";
    let start = body.windows(KEY.len()).position(|w| w == KEY)? + KEY.len();
    let len = body[start..].iter().position(|&b| b == b'"')?;
    std::str::from_utf8(&body[start..start + len]).ok()
}

/// Reads one counter from eddy's `/metrics`, summed over the label sets that contain every one
/// of `filters`.
pub(crate) async fn metric(endpoint: &str, name: &str, filters: &[&str]) -> anyhow::Result<f64> {
    let mut stream = tokio::net::TcpStream::connect(endpoint).await?;
    let req = format!("GET /metrics HTTP/1.1\r\nHost: {endpoint}\r\nConnection: close\r\n\r\n");
    stream.write_all(req.as_bytes()).await?;
    let mut text = String::new();
    stream.read_to_string(&mut text).await?;
    Ok(text
        .lines()
        .filter(|l| l.starts_with(name) && filters.iter().all(|f| l.contains(f)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum())
}

/// [`metric`] summed over every node.
async fn metric_sum(endpoints: &[String], name: &str, filters: &[&str]) -> anyhow::Result<f64> {
    let mut sum = 0.0;
    for e in endpoints {
        sum += metric(e, name, filters).await?;
    }
    Ok(sum)
}

pub async fn run(args: DeliveriesArgs) -> anyhow::Result<()> {
    anyhow::ensure!((1..=10).contains(&args.batch), "--batch must be 1-10");
    anyhow::ensure!(
        !args.backlog || args.target == TargetKind::Http,
        "--backlog needs --target http"
    );
    let name = format!("bench-deliveries-{}", std::process::id());
    let endpoints = crate::endpoints(&args.endpoint);
    anyhow::ensure!(!endpoints.is_empty(), "--endpoint names no endpoint");
    let mut c = Conn::connect(&endpoints[0]).await?;
    let arrivals: Times = Arc::new(Mutex::new(HashMap::new()));
    let target_arn = match args.target {
        TargetKind::Queue => {
            call(
                &mut c,
                "AmazonSQS.CreateQueue",
                serde_json::json!({ "QueueName": name }),
            )
            .await?;
            format!("arn:aws:sqs:us-east-1:123456789012:{name}")
        }
        TargetKind::Http => {
            let url = receiver(arrivals.clone()).await?;
            let conn = call(&mut c, "AWSEvents.CreateConnection", serde_json::json!({
                "Name": name, "AuthorizationType": "API_KEY",
                "AuthParameters": {"ApiKeyAuthParameters": {"ApiKeyName": "x-key", "ApiKeyValue": "k"}},
            }))
            .await?;
            let conn: serde_json::Value = serde_json::from_str(&conn)?;
            let dest = call(
                &mut c,
                "AWSEvents.CreateApiDestination",
                serde_json::json!({
                    "Name": name, "ConnectionArn": conn["ConnectionArn"], "InvocationEndpoint": url,
                    "HttpMethod": "POST",
                    "InvocationRateLimitPerSecond": if args.backlog { 1 } else { 1_000_000 },
                }),
            )
            .await?;
            let dest: serde_json::Value = serde_json::from_str(&dest)?;
            dest["ApiDestinationArn"]
                .as_str()
                .context("no destination arn")?
                .to_owned()
        }
    };
    call(&mut c, "AWSEvents.PutRule", serde_json::json!({
        "Name": name,
        "EventPattern": r#"{"source":["bench.orders"],"detail":{"customer":{"tier":["gold"]}}}"#,
    }))
    .await?;
    call(
        &mut c,
        "AWSEvents.PutTargets",
        serde_json::json!({
            "Rule": name, "Targets": [{"Id": "t", "Arn": target_arn}],
        }),
    )
    .await?;

    if endpoints.len() > 1 {
        // The other nodes learn of the rule from the store's change feed.
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    // Only this run's rule: other rules may match the same events.
    let rule_label = format!("rule/{name}\"");
    let delivered_filter = ["outcome=\"delivered\"", rule_label.as_str()];
    let before = metric_sum(
        &endpoints,
        "eddy_delivery_attempts_total",
        &delivered_filter,
    )
    .await?;
    let acks: Times = Arc::new(Mutex::new(HashMap::new()));
    let requests = args.events.div_ceil(args.batch as u64);
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let period = (args.rate > 0).then(|| {
        Duration::from_secs_f64(args.connections as f64 * args.batch as f64 / args.rate as f64)
    });
    let mut tasks = Vec::new();
    for i in 0..args.connections {
        let endpoint = endpoints[i % endpoints.len()].clone();
        let (next, acks) = (next.clone(), acks.clone());
        let (batch, spread) = (args.batch, i as f64 / args.connections as f64);
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::connect(&endpoint).await?;
            let mut at = period.map(|p| Instant::now() + p.mul_f64(spread));
            loop {
                if let (Some(t), Some(p)) = (at, period) {
                    tokio::time::sleep_until(t.into()).await;
                    at = Some(t + p);
                }
                let seq = next.fetch_add(1, Ordering::Relaxed);
                if seq >= requests {
                    return anyhow::Ok(());
                }
                let r = conn
                    .aws_call("AWSEvents.PutEvents", &request_body(batch, seq))
                    .await?;
                let now = Instant::now();
                anyhow::ensure!(r.status == 200, "PutEvents failed");
                let v: serde_json::Value = serde_json::from_slice(&r.body)?;
                let mut acks = acks.lock().unwrap_or_else(|e| e.into_inner());
                for e in v["Entries"].as_array().into_iter().flatten() {
                    if let Some(id) = e["EventId"].as_str() {
                        acks.insert(id.to_owned(), now);
                    }
                }
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    let put_secs = started.elapsed().as_secs_f64();
    let events = requests * args.batch as u64;
    let want = before + events as f64;
    // What was still owed when the last put returned, drained with no ingest competing.
    let at_put_end = metric_sum(
        &endpoints,
        "eddy_delivery_attempts_total",
        &delivered_filter,
    )
    .await?
        - before;
    // With --backlog: lift the rate limit now; the backlog is delivered with nothing else running.
    let released = if args.backlog {
        call(
            &mut c,
            "AWSEvents.UpdateApiDestination",
            serde_json::json!({"Name": name, "InvocationRateLimitPerSecond": 1_000_000}),
        )
        .await?;
        let done = metric_sum(
            &endpoints,
            "eddy_delivery_attempts_total",
            &delivered_filter,
        )
        .await?;
        Some((Instant::now(), done))
    } else {
        None
    };
    loop {
        let done = metric_sum(
            &endpoints,
            "eddy_delivery_attempts_total",
            &delivered_filter,
        )
        .await?;
        if done >= want {
            break;
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(600),
            "deliveries stalled"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let total_secs = started.elapsed().as_secs_f64();
    let backlog_per_sec = released.map(|(at, done)| {
        let owed = want - done;
        (owed / at.elapsed().as_secs_f64().max(1e-3)).round()
    });
    let mut out = serde_json::json!({
        "bench": "deliveries",
        "target": format!("{:?}", args.target).to_lowercase(),
        "events": events,
        "batch": args.batch,
        "target_rate": args.rate,
        "put_seconds": (put_secs * 100.0).round() / 100.0,
        "all_delivered_seconds": (total_secs * 100.0).round() / 100.0,
        "ingest_events_per_sec": (events as f64 / put_secs).round(),
        "deliveries_per_sec": (events as f64 / total_secs).round(),
        "backlog_at_put_end": events as f64 - at_put_end,
        "drain_deliveries_per_sec":
            ((events as f64 - at_put_end) / (total_secs - put_secs).max(1e-3)).round(),
    });
    if let Some(rate) = backlog_per_sec {
        out["backlog_deliveries_per_sec"] = serde_json::json!(rate);
    }
    if args.target == TargetKind::Http {
        let acks = acks.lock().unwrap_or_else(|e| e.into_inner());
        let arrivals = arrivals.lock().unwrap_or_else(|e| e.into_inner());
        let mut lat: Vec<u64> = acks
            .iter()
            .filter_map(|(id, ack)| {
                let got = arrivals.get(id)?;
                Some(got.saturating_duration_since(*ack).as_micros() as u64)
            })
            .collect();
        lat.sort_unstable();
        out["matched_latencies"] = serde_json::json!(lat.len());
        out["end_to_end_ms"] = serde_json::json!({
            "p50": percentile(&lat, 0.50),
            "p90": percentile(&lat, 0.90),
            "p99": percentile(&lat, 0.99),
            "max": percentile(&lat, 1.0),
        });
    }
    println!("{out}");
    // Leave nothing behind that would match (and deliver) the next run's events.
    call(
        &mut c,
        "AWSEvents.RemoveTargets",
        serde_json::json!({ "Rule": name, "Ids": ["t"] }),
    )
    .await?;
    call(
        &mut c,
        "AWSEvents.DeleteRule",
        serde_json::json!({ "Name": name }),
    )
    .await?;
    Ok(())
}
