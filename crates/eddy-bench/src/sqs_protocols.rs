//! `eddy-bench sqs-protocols`: SQS throughput over its two wire protocols on one server: AWS
//! JSON 1.0 (`X-Amz-Target: AmazonSQS.…`, JSON replies; what today's SDKs speak) against the AWS
//! query protocol (a form-encoded `POST /` with `Action=…&Version=2012-11-05`, XML replies; what
//! SDKs before botocore 1.34.90 speak). Same server, same kind of queue (standard), same message
//! body, same `--connections` keep-alive connections, for two phases:
//!
//! * **send**: SendMessage as fast as eddy answers, for `--seconds`, into a fresh queue;
//! * **receive**: a fresh queue filled with `--receive-messages` messages (SendMessageBatch over
//!   AWS JSON, untimed, the same for both), then drained: each connection loops
//!   ReceiveMessage(MaxNumberOfMessages=10) then DeleteMessageBatch of what it got (or one
//!   DeleteMessage each with `--single-deletes`) until every message is deleted; messages
//!   deleted per second.
//!
//! Both protocols run in every round, interleaved phase by phase, the first protocol alternating
//! from round to round (JSON, query; query, JSON; …) so that drift (the store growing, other
//! work on the machine) falls on both alike; each protocol's number is the median of its rounds.
//! With the server's process id (its own, or `--pid`) every run also reports messages per second
//! of eddy's CPU time, and the ratio of those medians: on a machine whose cores other work
//! shares, what a message costs eddy varies less than msgs/s does.
//! The generator does the same work for both: request bodies built once per connection, replies
//! scanned for the few fields it needs rather than parsed. Starts its own `eddy serve` unless
//! given `--endpoint`. Prints one JSON line (msgs/s per protocol and phase, with the ratio
//! query/JSON); progress goes to stderr.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use serde_json::{Value, json};

use crate::http1::{Conn, Reply};
use crate::percentile;
use crate::schedules::cpu_ticks;
use crate::server::Server;

#[derive(Debug, clap::Args)]
pub struct SqsProtocolsArgs {
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
    /// Concurrent keep-alive connections of every measured phase (on 2 cores, 16 got more
    /// from eddy than 8 whenever the machine was otherwise quiet).
    #[arg(long, default_value_t = 16)]
    connections: usize,
    /// Rounds; each runs every phase once per protocol.
    #[arg(long, default_value_t = 6)]
    rounds: usize,
    /// How long each send phase runs.
    #[arg(long, default_value_t = 4)]
    seconds: u64,
    /// Messages each receive phase drains.
    #[arg(long, default_value_t = 100_000)]
    receive_messages: u64,
    /// Longest a receive phase may take before the bench gives up on it.
    #[arg(long, default_value_t = 120)]
    receive_timeout: u64,
    /// Delete each received message with DeleteMessage rather than the batch with
    /// DeleteMessageBatch.
    #[arg(long)]
    single_deletes: bool,
    /// Bytes of each message body (letters only: the same bytes in JSON and in a form).
    #[arg(long, default_value_t = 256)]
    message_bytes: usize,
    /// Connections filling the receive phases' queues (SendMessageBatch of 10).
    #[arg(long, default_value_t = 8)]
    fill_connections: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    Json,
    Query,
}

impl Protocol {
    fn name(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::Query => "query",
        }
    }
}

/// `s` percent-encoded for a form value (everything but RFC 3986's unreserved characters).
fn form(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// One SQS call in `protocol`: `action` with `json` (an AWS JSON 1.0 body) or `query` (the
/// form's parameters after `Action` and `Version`).
async fn sqs(
    conn: &mut Conn,
    protocol: Protocol,
    action: &str,
    json: &str,
    query: &str,
) -> anyhow::Result<Reply> {
    match protocol {
        Protocol::Json => {
            let target = format!("AmazonSQS.{action}");
            conn.request(
                "POST",
                "/",
                &[
                    ("Content-Type", "application/x-amz-json-1.0"),
                    ("X-Amz-Target", &target),
                ],
                json.as_bytes(),
            )
            .await
        }
        Protocol::Query => {
            let body = format!("Action={action}&Version=2012-11-05&{query}");
            conn.query_call(&body).await
        }
    }
}

/// The same call's request, built once: its headers and body.
struct Prepared {
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
}

impl Prepared {
    fn new(protocol: Protocol, action: &str, json: &str, query: &str) -> Self {
        match protocol {
            Protocol::Json => Self {
                headers: vec![
                    ("Content-Type", "application/x-amz-json-1.0".to_owned()),
                    ("X-Amz-Target", format!("AmazonSQS.{action}")),
                ],
                body: json.as_bytes().to_vec(),
            },
            Protocol::Query => Self {
                headers: vec![(
                    "Content-Type",
                    "application/x-www-form-urlencoded".to_owned(),
                )],
                body: format!("Action={action}&Version=2012-11-05&{query}").into_bytes(),
            },
        }
    }

    async fn send(&self, conn: &mut Conn) -> anyhow::Result<Reply> {
        let headers: Vec<(&str, &str)> =
            self.headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        conn.request("POST", "/", &headers, &self.body).await
    }
}

/// The receipt handles in a ReceiveMessage reply of `protocol`, scanned for rather than parsed
/// (eddy's handles are `SEQ.HEX`: nothing to unescape).
fn receipts(protocol: Protocol, body: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(body);
    let (open, close) = match protocol {
        Protocol::Json => ("\"ReceiptHandle\":\"", "\""),
        Protocol::Query => ("<ReceiptHandle>", "</ReceiptHandle>"),
    };
    text.split(open)
        .skip(1)
        .filter_map(|rest| rest.split_once(close).map(|(h, _)| h.to_owned()))
        .collect()
}

/// Non-overlapping occurrences of `needle` in `body`.
fn count(body: &[u8], needle: &str) -> usize {
    String::from_utf8_lossy(body).matches(needle).count()
}

/// One phase of one protocol.
struct PhaseResult {
    messages: u64,
    seconds: f64,
    /// Per request (send) or per ReceiveMessage (receive), µs, sorted.
    lat: Vec<u64>,
    /// Per delete request (receive only), µs, sorted.
    delete_lat: Vec<u64>,
    failures: u64,
    empty_receives: u64,
    server_cpu_pct: Option<f64>,
    bench_cpu_pct: Option<f64>,
}

impl PhaseResult {
    fn per_sec(&self) -> f64 {
        self.messages as f64 / self.seconds.max(1e-3)
    }

    /// Messages per second of the server's CPU time: what a message costs eddy, steadier than
    /// msgs/s on a machine whose cores other work shares.
    fn per_server_cpu_sec(&self) -> Option<f64> {
        let pct = self.server_cpu_pct.filter(|p| *p > 0.0)?;
        Some(self.messages as f64 / (self.seconds.max(1e-3) * pct / 100.0))
    }

    fn json(&self, round: usize) -> Value {
        let mut v = json!({
            "round": round,
            "messages": self.messages,
            "seconds": (self.seconds * 1000.0).round() / 1000.0,
            "msgs_per_sec": self.per_sec().round(),
            "msgs_per_server_cpu_sec": self.per_server_cpu_sec().map(f64::round),
            "p50_ms": percentile(&self.lat, 0.50),
            "p99_ms": percentile(&self.lat, 0.99),
            "failures": self.failures,
            "server_cpu_pct": self.server_cpu_pct,
            "bench_cpu_pct": self.bench_cpu_pct,
        });
        if !self.delete_lat.is_empty() {
            v["delete_p50_ms"] = json!(percentile(&self.delete_lat, 0.50));
            v["delete_p99_ms"] = json!(percentile(&self.delete_lat, 0.99));
            v["empty_receives"] = json!(self.empty_receives);
        }
        v
    }
}

/// The server's and this process's CPU over a phase, as % of one core.
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

    /// (server, bench); Linux counts CPU time in ticks of 1/100 s.
    fn pct(&self) -> (Option<f64>, Option<f64>) {
        let secs = self.at.elapsed().as_secs_f64().max(1e-3);
        let pct = |t0: Option<u64>, pid: Option<u32>| {
            let t1 = cpu_ticks(pid?).ok()?;
            Some((t1.saturating_sub(t0?) as f64 / secs).round())
        };
        (
            pct(self.server0, self.pid),
            pct(self.bench0, Some(std::process::id())),
        )
    }
}

async fn create_queue(endpoint: &str, name: &str) -> anyhow::Result<String> {
    let mut c = Conn::connect_sqs(endpoint).await?;
    let r = sqs(
        &mut c,
        Protocol::Json,
        "CreateQueue",
        &json!({"QueueName": name}).to_string(),
        "",
    )
    .await?;
    ensure!(
        r.status == 200,
        "CreateQueue failed ({}): {}",
        r.status,
        String::from_utf8_lossy(&r.body)
    );
    let v: Value = serde_json::from_slice(&r.body)?;
    Ok(v["QueueUrl"]
        .as_str()
        .context("CreateQueue without QueueUrl")?
        .to_owned())
}

async fn delete_queue(endpoint: &str, url: &str) -> anyhow::Result<()> {
    let mut c = Conn::connect_sqs(endpoint).await?;
    let r = sqs(
        &mut c,
        Protocol::Json,
        "DeleteQueue",
        &json!({"QueueUrl": url}).to_string(),
        "",
    )
    .await?;
    ensure!(r.status == 200, "DeleteQueue failed ({})", r.status);
    Ok(())
}

/// SendMessage on every connection for `--seconds`.
async fn send_phase(
    endpoint: &str,
    url: &str,
    protocol: Protocol,
    body: &str,
    args: &SqsProtocolsArgs,
    pid: Option<u32>,
) -> anyhow::Result<PhaseResult> {
    let stop = Arc::new(AtomicBool::new(false));
    let failures = Arc::new(AtomicU64::new(0));
    let barrier = Arc::new(tokio::sync::Barrier::new(args.connections + 1));
    let json_body = json!({"QueueUrl": url, "MessageBody": body}).to_string();
    let query_body = format!("QueueUrl={}&MessageBody={}", form(url), form(body));
    let mut tasks = Vec::new();
    for _ in 0..args.connections {
        let (endpoint, stop, failures, barrier) = (
            endpoint.to_owned(),
            stop.clone(),
            failures.clone(),
            barrier.clone(),
        );
        let request = Prepared::new(protocol, "SendMessage", &json_body, &query_body);
        let id = match protocol {
            Protocol::Json => "\"MessageId\":",
            Protocol::Query => "<MessageId>",
        };
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::connect_sqs(&endpoint).await?;
            // One call first: the connection is up and the reply is the expected one.
            let r = request.send(&mut conn).await?;
            ensure!(
                r.status == 200 && count(&r.body, id) == 1,
                "SendMessage ({}) answered {}: {}",
                protocol.name(),
                r.status,
                String::from_utf8_lossy(&r.body)
            );
            barrier.wait().await;
            let mut lat = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                let r = request.send(&mut conn).await?;
                lat.push(t.elapsed().as_micros() as u64);
                if r.status != 200 || count(&r.body, id) != 1 {
                    failures.fetch_add(1, Ordering::Relaxed);
                }
            }
            anyhow::Ok(lat)
        }));
    }
    barrier.wait().await;
    let cpu = Cpu::start(pid);
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(args.seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await??);
    }
    let seconds = started.elapsed().as_secs_f64();
    let (server_cpu_pct, bench_cpu_pct) = cpu.pct();
    lat.sort_unstable();
    let failures = failures.load(Ordering::Relaxed);
    Ok(PhaseResult {
        messages: lat.len() as u64 - failures,
        seconds,
        lat,
        delete_lat: Vec::new(),
        failures,
        empty_receives: 0,
        server_cpu_pct,
        bench_cpu_pct,
    })
}

/// Fills `url` with `n` messages of `body` (SendMessageBatch over AWS JSON).
async fn fill(
    endpoint: &str,
    url: &str,
    n: u64,
    body: &str,
    connections: usize,
) -> anyhow::Result<()> {
    let requests = n.div_ceil(10);
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..connections.max(1) {
        let (endpoint, url, next, body) = (
            endpoint.to_owned(),
            url.to_owned(),
            next.clone(),
            body.to_owned(),
        );
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::connect_sqs(&endpoint).await?;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= requests {
                    return anyhow::Ok(());
                }
                let k = (n - i * 10).min(10);
                let entries: Vec<Value> = (0..k)
                    .map(|j| json!({"Id": j.to_string(), "MessageBody": body}))
                    .collect();
                let req = json!({"QueueUrl": url, "Entries": entries}).to_string();
                let r = sqs(&mut conn, Protocol::Json, "SendMessageBatch", &req, "").await?;
                ensure!(
                    r.status == 200 && count(&r.body, "\"MD5OfMessageBody\"") == k as usize,
                    "SendMessageBatch failed ({}): {}",
                    r.status,
                    String::from_utf8_lossy(&r.body)
                );
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(())
}

/// What one receiving connection did.
struct Receiver {
    receive_us: Vec<u64>,
    delete_us: Vec<u64>,
    empty: u64,
    failures: u64,
}

/// Every connection loops ReceiveMessage(10) + delete until `n` messages are deleted.
async fn receive_phase(
    endpoint: &str,
    url: &str,
    protocol: Protocol,
    n: u64,
    args: &SqsProtocolsArgs,
    pid: Option<u32>,
) -> anyhow::Result<PhaseResult> {
    let deleted = Arc::new(AtomicU64::new(0));
    let barrier = Arc::new(tokio::sync::Barrier::new(args.connections + 1));
    let deadline = Duration::from_secs(args.receive_timeout);
    let receive_json = json!({
        "QueueUrl": url, "MaxNumberOfMessages": 10, "WaitTimeSeconds": 0, "VisibilityTimeout": 600,
    })
    .to_string();
    let receive_query = format!(
        "QueueUrl={}&MaxNumberOfMessages=10&WaitTimeSeconds=0&VisibilityTimeout=600",
        form(url)
    );
    let single = args.single_deletes;
    let mut tasks = Vec::new();
    for _ in 0..args.connections {
        let (endpoint, url, deleted, barrier) = (
            endpoint.to_owned(),
            url.to_owned(),
            deleted.clone(),
            barrier.clone(),
        );
        let receive = Prepared::new(protocol, "ReceiveMessage", &receive_json, &receive_query);
        let (url_json, url_form) = (json!(url).to_string(), form(&url));
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::connect_sqs(&endpoint).await?;
            barrier.wait().await;
            let started = Instant::now();
            let mut me = Receiver {
                receive_us: Vec::new(),
                delete_us: Vec::new(),
                empty: 0,
                failures: 0,
            };
            // Request bodies are written into these, reused call after call.
            let (mut jbuf, mut qbuf) = (String::new(), String::new());
            while deleted.load(Ordering::Relaxed) < n {
                ensure!(
                    started.elapsed() < deadline,
                    "{} of {n} messages deleted after {} s",
                    deleted.load(Ordering::Relaxed),
                    deadline.as_secs()
                );
                let t = Instant::now();
                let r = receive.send(&mut conn).await?;
                me.receive_us.push(t.elapsed().as_micros() as u64);
                if r.status != 200 {
                    me.failures += 1;
                    continue;
                }
                let handles = receipts(protocol, &r.body);
                if handles.is_empty() {
                    me.empty += 1;
                    continue;
                }
                let t = Instant::now();
                let ok = if single {
                    let mut ok = 0;
                    for h in &handles {
                        jbuf.clear();
                        qbuf.clear();
                        jbuf.push_str(&format!(
                            "{{\"QueueUrl\":{url_json},\"ReceiptHandle\":\"{h}\"}}"
                        ));
                        qbuf.push_str(&format!("QueueUrl={url_form}&ReceiptHandle={}", form(h)));
                        let d = sqs(&mut conn, protocol, "DeleteMessage", &jbuf, &qbuf).await?;
                        if d.status == 200 {
                            ok += 1;
                        } else {
                            me.failures += 1;
                        }
                    }
                    ok
                } else {
                    jbuf.clear();
                    qbuf.clear();
                    jbuf.push_str(&format!("{{\"QueueUrl\":{url_json},\"Entries\":["));
                    qbuf.push_str(&format!("QueueUrl={url_form}"));
                    for (i, h) in handles.iter().enumerate() {
                        if i > 0 {
                            jbuf.push(',');
                        }
                        jbuf.push_str(&format!("{{\"Id\":\"{i}\",\"ReceiptHandle\":\"{h}\"}}"));
                        qbuf.push_str(&format!(
                            "&DeleteMessageBatchRequestEntry.{n}.Id={i}\
                             &DeleteMessageBatchRequestEntry.{n}.ReceiptHandle={}",
                            form(h),
                            n = i + 1
                        ));
                    }
                    jbuf.push_str("]}");
                    let d = sqs(&mut conn, protocol, "DeleteMessageBatch", &jbuf, &qbuf).await?;
                    let ok = match protocol {
                        Protocol::Json if count(&d.body, "\"Failed\":[]") == 1 => {
                            count(&d.body, "\"Id\":")
                        }
                        Protocol::Json => 0,
                        Protocol::Query if count(&d.body, "<BatchResultErrorEntry>") == 0 => {
                            count(&d.body, "<DeleteMessageBatchResultEntry>")
                        }
                        Protocol::Query => 0,
                    };
                    if d.status != 200 || ok != handles.len() {
                        me.failures += 1;
                    }
                    ok
                };
                me.delete_us.push(t.elapsed().as_micros() as u64);
                deleted.fetch_add(ok as u64, Ordering::Relaxed);
            }
            anyhow::Ok(me)
        }));
    }
    barrier.wait().await;
    let cpu = Cpu::start(pid);
    let started = Instant::now();
    let mut out = PhaseResult {
        messages: 0,
        seconds: 0.0,
        lat: Vec::new(),
        delete_lat: Vec::new(),
        failures: 0,
        empty_receives: 0,
        server_cpu_pct: None,
        bench_cpu_pct: None,
    };
    for t in tasks {
        let me = t.await??;
        out.lat.extend(me.receive_us);
        out.delete_lat.extend(me.delete_us);
        out.failures += me.failures;
        out.empty_receives += me.empty;
    }
    out.seconds = started.elapsed().as_secs_f64();
    (out.server_cpu_pct, out.bench_cpu_pct) = cpu.pct();
    out.messages = deleted.load(Ordering::Relaxed);
    out.lat.sort_unstable();
    out.delete_lat.sort_unstable();
    Ok(out)
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    match xs.len() {
        0 => 0.0,
        n if n % 2 == 1 => xs[n / 2],
        n => (xs[n / 2 - 1] + xs[n / 2]) / 2.0,
    }
}

/// One phase's runs per protocol, their medians and the ratio query/JSON.
fn summary(runs: &[(Protocol, usize, PhaseResult)]) -> Value {
    let mut out = json!({});
    let (mut medians, mut per_cpu) = ([0.0; 2], [None; 2]);
    for (i, p) in [Protocol::Json, Protocol::Query].into_iter().enumerate() {
        let mine: Vec<&(Protocol, usize, PhaseResult)> =
            runs.iter().filter(|(q, _, _)| *q == p).collect();
        medians[i] = median(mine.iter().map(|(_, _, r)| r.per_sec()).collect());
        per_cpu[i] = mine
            .iter()
            .map(|(_, _, r)| r.per_server_cpu_sec())
            .collect::<Option<Vec<f64>>>()
            .map(median);
        out[p.name()] = json!({
            "median_msgs_per_sec": medians[i].round(),
            "median_msgs_per_server_cpu_sec": per_cpu[i].map(f64::round),
            "runs": mine.iter().map(|(_, round, r)| r.json(*round)).collect::<Vec<_>>(),
        });
    }
    let ratio = |json: f64, query: f64| {
        if json > 0.0 {
            (query / json * 1000.0).round() / 1000.0
        } else {
            0.0
        }
    };
    out["ratio_query_json"] = json!(ratio(medians[0], medians[1]));
    out["ratio_query_json_per_server_cpu"] = json!(match per_cpu {
        [Some(j), Some(q)] => Some(ratio(j, q)),
        _ => None,
    });
    out
}

pub async fn run(args: SqsProtocolsArgs) -> anyhow::Result<()> {
    ensure!(args.connections > 0, "--connections must be at least 1");
    ensure!(args.rounds > 0, "--rounds must be at least 1");
    ensure!(
        args.receive_messages > 0,
        "--receive-messages must be at least 1"
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
                    std::env::temp_dir().join(format!("eddy-bench-sqs-{}", std::process::id())),
                    true,
                ),
            };
            let s = Server::start(&eddy, &dir, remove)?;
            let out = (s.aws.clone(), Some(s.child.id()));
            server = Some(s);
            out
        }
    };
    let body: String = (0..args.message_bytes)
        .map(|i| (b'a' + (i % 26) as u8) as char)
        .collect();
    let tag = std::process::id();
    let mut sends = Vec::new();
    let mut receives = Vec::new();
    let mut queues = Vec::new();
    for round in 0..args.rounds {
        let order = if round % 2 == 0 {
            [Protocol::Json, Protocol::Query]
        } else {
            [Protocol::Query, Protocol::Json]
        };
        for p in order {
            let url =
                create_queue(&endpoint, &format!("proto-send-{tag}-{round}-{}", p.name())).await?;
            let r = send_phase(&endpoint, &url, p, &body, &args, pid).await?;
            eprintln!(
                "sqs-protocols: round {round} send {}: {:.0} msgs/s ({} failures)",
                p.name(),
                r.per_sec(),
                r.failures
            );
            sends.push((p, round, r));
            queues.push(url);
        }
        for p in order {
            let url =
                create_queue(&endpoint, &format!("proto-recv-{tag}-{round}-{}", p.name())).await?;
            fill(
                &endpoint,
                &url,
                args.receive_messages,
                &body,
                args.fill_connections,
            )
            .await?;
            let r = receive_phase(&endpoint, &url, p, args.receive_messages, &args, pid).await?;
            eprintln!(
                "sqs-protocols: round {round} receive+delete {}: {:.0} msgs/s ({} failures, {} empty receives)",
                p.name(),
                r.per_sec(),
                r.failures,
                r.empty_receives
            );
            receives.push((p, round, r));
            queues.push(url);
        }
    }
    if server.is_none() {
        // A running server keeps nothing of the bench's.
        for url in &queues {
            delete_queue(&endpoint, url).await?;
        }
    }
    let out = json!({
        "bench": "sqs-protocols",
        "connections": args.connections,
        "rounds": args.rounds,
        "seconds": args.seconds,
        "message_bytes": args.message_bytes,
        "receive_messages": args.receive_messages,
        "deletes": if args.single_deletes { "single" } else { "batch" },
        "send": summary(&sends),
        "receive_delete": summary(&receives),
    });
    println!("{out}");
    drop(server);
    Ok(())
}
