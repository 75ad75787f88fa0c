//! `eddy-bench sources`: Lambda event source mappings (SQS queue → function) of a running eddy.
//! Creates a queue, a warm Rust function (`provided.al2023`, bootstrap `eddy-test-function` with
//! the `sqs-record` handler) and a mapping of the queue to the function, then measures:
//!
//! * **drain**: N messages sent with SendMessageBatch while the mapping is disabled, then the
//!   mapping enabled: messages the function received per second, from the enabling call to the
//!   last message's arrival in the function (and the time until the queue is empty, deletes
//!   included);
//! * **live**: N messages sent with SendMessageBatch over many connections while the mapping
//!   runs: messages the function received per second, from the first send to the last arrival;
//! * **latency**: single SendMessage calls at a steady rate while the mapping runs: the time from
//!   each SendMessage's response (as the bench reads it) to the moment the function's handler
//!   starts on the message.
//!
//! How arrivals are counted: the handler appends `TOKEN RECEIVED_US BATCH_LEN` per record to a
//! file (one write per invocation), where TOKEN is the message's unique id (the body's first
//! word) and RECEIVED_US the wall clock when the handler started, in µs since the epoch. The
//! bench reads that file as it grows: a message counts once the function itself has written
//! it down. Bench and function share the machine's wall clock, so the latencies compare two
//! readings of one clock. Prints one JSON line.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail, ensure};
use serde_json::{Value, json};

use crate::http1::Conn;
use crate::percentile;

#[derive(Debug, clap::Args)]
pub struct SourcesArgs {
    /// host:port of eddy's AWS endpoint.
    #[arg(long, default_value = "127.0.0.1:4566")]
    endpoint: String,
    /// The function's `bootstrap` executable (default: `eddy-test-function` next to this binary).
    #[arg(long)]
    bootstrap: Option<PathBuf>,
    /// Messages for the drain phase and for the live phase (0 skips them).
    #[arg(long, default_value_t = 100_000)]
    messages: u64,
    /// Connections sending SendMessageBatch (10 entries each).
    #[arg(long, default_value_t = 16)]
    connections: usize,
    /// The mapping's `BatchSize`.
    #[arg(long, default_value_t = 10)]
    batch_size: u32,
    /// The mapping's `MaximumBatchingWindowInSeconds`.
    #[arg(long, default_value_t = 0)]
    window: u32,
    /// The mapping's `ScalingConfig.MaximumConcurrency` (default: none, eddy's default).
    #[arg(long)]
    concurrency: Option<u32>,
    /// Bytes of padding after each message's id (the body's size, about).
    #[arg(long, default_value_t = 100)]
    body_bytes: usize,
    /// Messages for the latency phase (0 skips it).
    #[arg(long, default_value_t = 3_000)]
    latency_messages: u64,
    /// SendMessage calls/s in the latency phase.
    #[arg(long, default_value_t = 500)]
    rate: u64,
    /// Connections sending in the latency phase.
    #[arg(long, default_value_t = 4)]
    latency_connections: usize,
    /// Longest wait for the function to receive a phase's messages.
    #[arg(long, default_value_t = 120)]
    timeout: u64,
}

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_micros() as u64
}

/// An AWS JSON call that must answer 200, on a connection of its own (set-up calls are far
/// apart, longer than eddy keeps an idle connection).
async fn call(endpoint: &str, target: &str, body: &Value) -> anyhow::Result<Value> {
    let mut c = Conn::connect(endpoint).await?;
    let r = c.aws_call(target, body.to_string().as_bytes()).await?;
    ensure!(
        r.status == 200,
        "{target} failed ({}): {}",
        r.status,
        String::from_utf8_lossy(&r.body)
    );
    Ok(serde_json::from_slice(&r.body)?)
}

/// A Lambda rest-json call that must answer `want`.
async fn lambda(
    endpoint: &str,
    method: &str,
    path: &str,
    body: &Value,
    want: u16,
) -> anyhow::Result<Value> {
    let mut c = Conn::connect(endpoint).await?;
    let text = if body.is_null() {
        Vec::new()
    } else {
        body.to_string().into_bytes()
    };
    let r = c.rest_call(method, path, &text).await?;
    ensure!(
        r.status == want,
        "{method} {path} failed ({}): {}",
        r.status,
        String::from_utf8_lossy(&r.body)
    );
    Ok(serde_json::from_slice(&r.body).unwrap_or(Value::Null))
}

/// What the function wrote down: first arrival per token, and how many arrivals there were.
struct Arrivals {
    file: PathBuf,
    offset: u64,
    partial: Vec<u8>,
    first: HashMap<String, u64>,
    duplicates: u64,
    /// Per phase prefix (the token's first character): invocations (sum of 1 / batch length).
    invocations: HashMap<char, f64>,
}

impl Arrivals {
    fn new(file: PathBuf) -> Self {
        Self {
            file,
            offset: 0,
            partial: Vec::new(),
            first: HashMap::new(),
            duplicates: 0,
            invocations: HashMap::new(),
        }
    }

    /// Reads what was appended since the last call.
    fn poll(&mut self) -> anyhow::Result<()> {
        use std::io::{Read, Seek, SeekFrom};
        let mut f = std::fs::File::open(&self.file)?;
        f.seek(SeekFrom::Start(self.offset))?;
        let mut buf = std::mem::take(&mut self.partial);
        let read = f.read_to_end(&mut buf)?;
        self.offset += read as u64;
        let complete = buf.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        self.partial = buf.split_off(complete);
        for line in std::str::from_utf8(&buf)?.lines() {
            let mut parts = line.split(' ');
            let (Some(token), Some(at), Some(len)) = (parts.next(), parts.next(), parts.next())
            else {
                bail!("bad line {line:?} in the function's record");
            };
            let at: u64 = at.parse()?;
            let len: f64 = len.parse()?;
            if let Some(prefix) = token.chars().next() {
                *self.invocations.entry(prefix).or_default() += 1.0 / len;
            }
            match self.first.get(token) {
                Some(_) => self.duplicates += 1,
                None => {
                    self.first.insert(token.to_owned(), at);
                }
            }
        }
        Ok(())
    }

    /// Waits until every token `PREFIX0..PREFIX{n-1}` arrived; answers the last arrival (µs).
    async fn wait_all(&mut self, prefix: char, n: u64, timeout: Duration) -> anyhow::Result<u64> {
        let until = Instant::now() + timeout;
        let mut next = 0;
        let mut last = 0;
        loop {
            self.poll()?;
            while next < n {
                match self.first.get(&format!("{prefix}{next}")) {
                    Some(at) => {
                        last = last.max(*at);
                        next += 1;
                    }
                    None => break,
                }
            }
            if next == n {
                return Ok(last);
            }
            if Instant::now() >= until {
                bail!(
                    "the function received {next} of {n} `{prefix}` messages (in order) in {timeout:?}"
                );
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// Sends `PREFIX0..PREFIX{n-1}` with SendMessageBatch (10 entries) over `connections`
/// connections; answers the wall clock (µs) before the first send.
async fn fill(
    endpoint: &str,
    url: &str,
    prefix: char,
    n: u64,
    connections: usize,
    pad: &str,
) -> anyhow::Result<u64> {
    let started = now_us();
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..connections.max(1) {
        let (endpoint, url, next, pad) = (
            endpoint.to_owned(),
            url.to_owned(),
            next.clone(),
            pad.to_owned(),
        );
        tasks.push(tokio::spawn(async move {
            let mut c = Conn::connect(&endpoint).await?;
            loop {
                let from = next.fetch_add(10, Ordering::Relaxed);
                if from >= n {
                    return anyhow::Ok(());
                }
                let entries: Vec<Value> = (from..(from + 10).min(n))
                    .map(|i| json!({"Id": format!("m{i}"), "MessageBody": format!("{prefix}{i} {pad}")}))
                    .collect();
                let body = json!({"QueueUrl": url, "Entries": entries}).to_string();
                let r = c
                    .aws_call("AmazonSQS.SendMessageBatch", body.as_bytes())
                    .await?;
                ensure!(
                    r.status == 200,
                    "SendMessageBatch failed ({}): {}",
                    r.status,
                    String::from_utf8_lossy(&r.body)
                );
                let v: Value = serde_json::from_slice(&r.body)?;
                let failed = v["Failed"].as_array().map_or(0, Vec::len);
                ensure!(failed == 0, "SendMessageBatch: {failed} entries failed: {v}");
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(started)
}

/// The messages in a queue, visible and in flight.
async fn messages_in(endpoint: &str, url: &str) -> anyhow::Result<u64> {
    let v = call(
        endpoint,
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

/// Waits until the queue holds nothing (every message received and deleted); answers when (µs).
async fn wait_empty(endpoint: &str, url: &str, timeout: Duration) -> anyhow::Result<u64> {
    let until = Instant::now() + timeout;
    loop {
        let left = messages_in(endpoint, url).await?;
        if left == 0 {
            return Ok(now_us());
        }
        ensure!(
            Instant::now() < until,
            "{left} messages still on the queue after {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn per_sec(n: u64, from_us: u64, to_us: u64) -> f64 {
    let secs = to_us.saturating_sub(from_us) as f64 / 1e6;
    if secs > 0.0 {
        (n as f64 / secs).round()
    } else {
        0.0
    }
}

pub async fn run(args: SourcesArgs) -> anyhow::Result<()> {
    ensure!(args.rate > 0, "--rate must be at least 1");
    let ep = args.endpoint.as_str();
    let code = crate::invoke::code_dir(args.bootstrap.as_deref(), "sources")?;
    // The record file, outside the code directory (which eddy may watch for changes), writable
    // by whichever user the function runs as.
    let dir = std::env::temp_dir().join(format!("eddy-bench-arrivals-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let record = dir.join("arrivals");
    std::fs::write(&record, b"")?;
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777))?;
        std::fs::set_permissions(&record, std::fs::Permissions::from_mode(0o666))?;
    }
    let name = format!("bench-esm-{}", std::process::id());

    let q = call(ep, "AmazonSQS.CreateQueue", &json!({"QueueName": name})).await?;
    let url = q["QueueUrl"]
        .as_str()
        .context("CreateQueue without QueueUrl")?
        .to_owned();
    let attrs = call(
        ep,
        "AmazonSQS.GetQueueAttributes",
        &json!({"QueueUrl": url, "AttributeNames": ["QueueArn"]}),
    )
    .await?;
    let arn = attrs["Attributes"]["QueueArn"]
        .as_str()
        .context("no QueueArn")?
        .to_owned();
    let create = json!({
        "FunctionName": name,
        "Runtime": "provided.al2023",
        "Role": "arn:aws:iam::123456789012:role/bench",
        "Handler": "sqs-record",
        "Code": {"S3Bucket": "hot-reload", "S3Key": code.display().to_string()},
        "Environment": {"Variables": {"RECORD_FILE": record.display().to_string()}},
    });
    lambda(ep, "POST", "/2015-03-31/functions", &create, 201).await?;
    let mut mapping = json!({
        "EventSourceArn": arn,
        "FunctionName": name,
        "BatchSize": args.batch_size,
        "MaximumBatchingWindowInSeconds": args.window,
        "Enabled": false,
    });
    if let Some(c) = args.concurrency {
        mapping["ScalingConfig"] = json!({"MaximumConcurrency": c});
    }
    let m = lambda(
        ep,
        "POST",
        "/2015-03-31/event-source-mappings/",
        &mapping,
        202,
    )
    .await?;
    let uuid = m["UUID"]
        .as_str()
        .context("mapping without UUID")?
        .to_owned();
    let enable = |on: bool| {
        let path = format!("/2015-03-31/event-source-mappings/{uuid}");
        async move { lambda(ep, "PUT", &path, &json!({"Enabled": on}), 202).await }
    };

    let pad = "x".repeat(args.body_bytes);
    let timeout = Duration::from_secs(args.timeout);
    let mut arrivals = Arrivals::new(record.clone());
    let mut out = json!({
        "bench": "sources",
        "batch_size": args.batch_size,
        "window_s": args.window,
        "maximum_concurrency": args.concurrency,
        "body_bytes": args.body_bytes,
    });

    // Warm-up: the first invocation starts the function's process.
    enable(true).await?;
    fill(ep, &url, 'W', 10, 1, &pad).await?;
    arrivals.wait_all('W', 10, timeout).await?;
    wait_empty(ep, &url, timeout).await?;

    if args.messages > 0 {
        // Drain: a full queue, then the mapping enabled.
        enable(false).await?;
        // The disable reaches the poller through the change feed; a poll in progress may still
        // take messages of the fill, which would count towards the drain's rate.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let t = fill(ep, &url, 'D', args.messages, args.connections, &pad).await?;
        let filled = now_us();
        let enabled_at = now_us();
        enable(true).await?;
        let last = arrivals.wait_all('D', args.messages, timeout).await?;
        let empty = wait_empty(ep, &url, timeout).await?;
        out["messages"] = json!(args.messages);
        out["fill_per_sec"] = json!(per_sec(args.messages, t, filled));
        out["drain_per_sec"] = json!(per_sec(args.messages, enabled_at, last));
        out["drain_until_empty_s"] = json!(empty.saturating_sub(enabled_at) as f64 / 1e6);
        out["drain_invocations"] = json!(
            arrivals
                .invocations
                .get(&'D')
                .copied()
                .unwrap_or(0.0)
                .round()
        );

        // Live: sending while the mapping runs.
        let t = fill(ep, &url, 'V', args.messages, args.connections, &pad).await?;
        let sent = now_us();
        let last = arrivals.wait_all('V', args.messages, timeout).await?;
        wait_empty(ep, &url, timeout).await?;
        out["live_send_per_sec"] = json!(per_sec(args.messages, t, sent));
        out["live_per_sec"] = json!(per_sec(args.messages, t, last));
        out["live_invocations"] = json!(
            arrivals
                .invocations
                .get(&'V')
                .copied()
                .unwrap_or(0.0)
                .round()
        );
    }

    if args.latency_messages > 0 {
        // Latency: single SendMessage calls at a steady rate, open loop per connection.
        let n = args.latency_messages;
        let conns = args.latency_connections.max(1);
        let period = Duration::from_secs_f64(conns as f64 / args.rate as f64);
        let next = Arc::new(AtomicU64::new(0));
        let start = Instant::now() + Duration::from_millis(20);
        let mut tasks = Vec::new();
        for k in 0..conns {
            let (endpoint, url, next, pad) =
                (ep.to_owned(), url.clone(), next.clone(), pad.clone());
            tasks.push(tokio::spawn(async move {
                let mut c = Conn::connect(&endpoint).await?;
                let mut at = start + period.mul_f64(k as f64 / conns as f64);
                let mut sent: Vec<(u64, u64, u64)> = Vec::new();
                loop {
                    tokio::time::sleep_until(at.into()).await;
                    at += period;
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        return anyhow::Ok(sent);
                    }
                    let body = json!({"QueueUrl": url, "MessageBody": format!("L{i} {pad}")});
                    let before = now_us();
                    let r = c
                        .aws_call("AmazonSQS.SendMessage", body.to_string().as_bytes())
                        .await?;
                    let after = now_us();
                    ensure!(r.status == 200, "SendMessage failed ({})", r.status);
                    sent.push((i, before, after));
                }
            }));
        }
        let mut sent = Vec::new();
        for t in tasks {
            sent.extend(t.await??);
        }
        arrivals.wait_all('L', n, timeout).await?;
        wait_empty(ep, &url, timeout).await?;
        let (mut from_response, mut from_request) = (Vec::new(), Vec::new());
        let mut before_response = 0u64;
        for (i, before, after) in sent {
            let at = arrivals.first[&format!("L{i}")];
            if at < after {
                before_response += 1;
            }
            from_response.push(at.saturating_sub(after));
            from_request.push(at.saturating_sub(before));
        }
        from_response.sort_unstable();
        from_request.sort_unstable();
        out["latency_messages"] = json!(n);
        out["latency_rate"] = json!(args.rate);
        out["latency_p50_ms"] = json!(percentile(&from_response, 0.50));
        out["latency_p99_ms"] = json!(percentile(&from_response, 0.99));
        out["latency_max_ms"] = json!(percentile(&from_response, 1.0));
        out["latency_from_request_p50_ms"] = json!(percentile(&from_request, 0.50));
        out["latency_from_request_p99_ms"] = json!(percentile(&from_request, 0.99));
        out["received_before_response"] = json!(before_response);
        out["latency_invocations"] = json!(
            arrivals
                .invocations
                .get(&'L')
                .copied()
                .unwrap_or(0.0)
                .round()
        );
    }
    out["duplicates"] = json!(arrivals.duplicates);

    let _best_effort = lambda(
        ep,
        "DELETE",
        &format!("/2015-03-31/event-source-mappings/{uuid}"),
        &Value::Null,
        202,
    )
    .await
    .is_err();
    let _best_effort = lambda(
        ep,
        "DELETE",
        &format!("/2015-03-31/functions/{name}"),
        &Value::Null,
        204,
    )
    .await
    .is_err();
    let _best_effort = call(ep, "AmazonSQS.DeleteQueue", &json!({"QueueUrl": url}))
        .await
        .is_err();
    let _cleanup = std::fs::remove_dir_all(&code).is_err();
    let _cleanup = std::fs::remove_dir_all(&dir).is_err();
    println!("{out}");
    Ok(())
}
