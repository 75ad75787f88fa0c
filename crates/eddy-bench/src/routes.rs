//! `eddy-bench routes`: HTTP routes of a running eddy under load. Creates a function from a
//! `bootstrap` executable (the Rust test function's `simple` handler: answers
//! `{"hello":"world"}`), an HTTP API with `GET /bench` to it and `POST /events` as a bus route,
//! then measures, one phase after another:
//!
//! 1. function route throughput: `--connections` keep-alive connections as fast as possible,
//!    and, for comparison, the same function through the Lambda API's Invoke (the runtime's
//!    share of the cost);
//! 2. latency at a steady `--latency-rate`: first a bare hyper server in this process answering
//!    the same `{"hello":"world"}` (the function's logic without eddy), then the function route;
//!    the difference is what eddy (gateway + runtime API + function process) adds;
//! 3. bus route throughput: every 202 comes after the event is durable (fsynced).
//!
//! Prints one JSON line.

use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use serde_json::{Value, json};

use crate::http1::Conn;
use crate::percentile;

#[derive(Debug, clap::Args)]
pub struct RoutesArgs {
    /// host:port of eddy's AWS endpoint.
    #[arg(long, default_value = "127.0.0.1:4566")]
    endpoint: String,
    /// host:port of eddy's HTTP routes listener.
    #[arg(long, default_value = "127.0.0.1:3000")]
    http: String,
    /// The function's `bootstrap` executable (default: `eddy-test-function` next to this binary).
    #[arg(long)]
    bootstrap: Option<PathBuf>,
    /// Concurrent connections of the throughput phases (and the function's reserved
    /// concurrency).
    #[arg(long, default_value_t = 16)]
    connections: usize,
    /// How long each phase runs.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Requests/s of the latency phase.
    #[arg(long, default_value_t = 1000)]
    latency_rate: u64,
    /// Connections of the latency phase.
    #[arg(long, default_value_t = 4)]
    latency_connections: usize,
}

const NAME: &str = "bench-route";

/// One phase's results.
struct Stats {
    count: usize,
    per_sec: f64,
    /// From each request's scheduled start (includes waiting for the timer and for the
    /// connection).
    lat: Vec<u64>,
    /// From the moment each request was written.
    svc: Vec<u64>,
    failures: u64,
}

impl Stats {
    fn json(&self) -> Value {
        json!({
            "requests": self.count,
            "per_sec": self.per_sec.round(),
            "p50_ms": percentile(&self.lat, 0.50),
            "p90_ms": percentile(&self.lat, 0.90),
            "p99_ms": percentile(&self.lat, 0.99),
            "p999_ms": percentile(&self.lat, 0.999),
            "max_ms": percentile(&self.lat, 1.0),
            "svc_p50_ms": percentile(&self.svc, 0.50),
            "svc_p99_ms": percentile(&self.svc, 0.99),
            "failures": self.failures,
        })
    }
}

/// Sends requests on `connections` connections for `seconds` (at `rate` requests/s in total when
/// non-zero; latency counts from each request's scheduled start).
#[allow(clippy::too_many_arguments)]
async fn load(
    addr: &str,
    method: &'static str,
    path: &str,
    body: &'static [u8],
    expect: u16,
    connections: usize,
    seconds: u64,
    rate: u64,
) -> anyhow::Result<Stats> {
    let stop = Arc::new(AtomicBool::new(false));
    let failures = Arc::new(AtomicU64::new(0));
    let period = (rate > 0).then(|| Duration::from_secs_f64(connections as f64 / rate as f64));
    let barrier = Arc::new(tokio::sync::Barrier::new(connections + 1));
    let mut tasks = Vec::new();
    for k in 0..connections {
        let (addr, path, stop, failures, barrier) = (
            addr.to_owned(),
            path.to_owned(),
            stop.clone(),
            failures.clone(),
            barrier.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::connect(&addr).await?;
            // Warm-up: the first call on each connection may start a function instance.
            let r = conn.request(method, &path, &[], body).await?;
            ensure!(
                r.status == expect,
                "{method} {path} answered {}: {}",
                r.status,
                String::from_utf8_lossy(&r.body)
            );
            barrier.wait().await;
            let mut lat = Vec::new();
            let mut svc = Vec::new();
            let mut next =
                period.map(|p| Instant::now() + p.mul_f64(k as f64 / connections as f64));
            while !stop.load(Ordering::Relaxed) {
                let scheduled = match (next, period) {
                    (Some(at), Some(p)) => {
                        tokio::time::sleep_until(at.into()).await;
                        next = Some(at + p);
                        at
                    }
                    _ => Instant::now(),
                };
                let sent = Instant::now();
                let r = conn.request(method, &path, &[], body).await?;
                if r.status != expect {
                    failures.fetch_add(1, Ordering::Relaxed);
                }
                lat.push(scheduled.elapsed().as_micros() as u64);
                svc.push(sent.elapsed().as_micros() as u64);
            }
            anyhow::Ok((lat, svc))
        }));
    }
    barrier.wait().await;
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut lat = Vec::new();
    let mut svc = Vec::new();
    for t in tasks {
        let (l, s) = t.await??;
        lat.extend(l);
        svc.extend(s);
    }
    let elapsed = started.elapsed().as_secs_f64();
    lat.sort_unstable();
    svc.sort_unstable();
    Ok(Stats {
        count: lat.len(),
        per_sec: lat.len() as f64 / elapsed,
        lat,
        svc,
        failures: failures.load(Ordering::Relaxed),
    })
}

/// A bare hyper HTTP/1.1 server answering `{"hello":"world"}`, on its own thread and runtime.
fn baseline_server() -> anyhow::Result<String> {
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    std_listener.set_nonblocking(true)?;
    let addr = std_listener.local_addr()?.to_string();
    std::thread::Builder::new()
        .name("baseline".into())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(_) => return,
            };
            rt.block_on(async move {
                let Ok(listener) = tokio::net::TcpListener::from_std(std_listener) else {
                    return;
                };
                while let Ok((stream, _)) = listener.accept().await {
                    let _nodelay = stream.set_nodelay(true).is_err();
                    tokio::spawn(async move {
                        let service = hyper::service::service_fn(|_req| async {
                            let mut res = hyper::Response::new(http_body_util::Full::new(
                                hyper::body::Bytes::from_static(br#"{"hello":"world"}"#),
                            ));
                            res.headers_mut().insert(
                                "content-type",
                                hyper::header::HeaderValue::from_static("application/json"),
                            );
                            Ok::<_, Infallible>(res)
                        });
                        let _closed = hyper::server::conn::http1::Builder::new()
                            .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                            .await
                            .is_err();
                    });
                }
            });
        })?;
    Ok(addr)
}

async fn call(c: &mut Conn, method: &str, path: &str, body: &Value) -> anyhow::Result<Value> {
    let r = c
        .request(method, path, &[], body.to_string().as_bytes())
        .await?;
    ensure!(
        r.status < 300,
        "{method} {path} failed: {} {}",
        r.status,
        String::from_utf8_lossy(&r.body)
    );
    Ok(serde_json::from_slice(&r.body).unwrap_or(Value::Null))
}

pub async fn run(args: RoutesArgs) -> anyhow::Result<()> {
    ensure!(args.connections > 0, "--connections must be at least 1");
    ensure!(
        args.latency_connections > 0,
        "--latency-connections must be at least 1"
    );
    let code = crate::invoke::code_dir(args.bootstrap.as_deref(), "routes")?;
    let mut c = Conn::connect(&args.endpoint).await?;
    // A function left by an earlier run (404 otherwise).
    c.request("DELETE", &format!("/2015-03-31/functions/{NAME}"), &[], b"")
        .await?;
    call(
        &mut c,
        "POST",
        "/2015-03-31/functions",
        &json!({
            "FunctionName": NAME,
            "Runtime": "provided.al2023",
            "Role": "arn:aws:iam::123456789012:role/bench",
            "Handler": "simple",
            "Code": {"S3Bucket": "hot-reload", "S3Key": code.display().to_string()},
        }),
    )
    .await?;
    let concurrency = args.connections.max(args.latency_connections);
    call(
        &mut c,
        "PUT",
        &format!("/2017-10-31/functions/{NAME}/concurrency"),
        &json!({"ReservedConcurrentExecutions": concurrency}),
    )
    .await?;
    let api = call(
        &mut c,
        "POST",
        "/v2/apis",
        &json!({
            "name": "bench",
            "protocolType": "HTTP",
            "target": format!("arn:aws:lambda:us-east-1:123456789012:function:{NAME}"),
            "routeKey": "GET /bench",
        }),
    )
    .await?;
    let id = api["apiId"].as_str().context("no apiId")?.to_owned();
    let integration = call(
        &mut c,
        "POST",
        &format!("/v2/apis/{id}/integrations"),
        &json!({
            "integrationType": "AWS_PROXY",
            "integrationSubtype": "EventBridge-PutEvents",
            "requestParameters": {"Source": "bench.http", "DetailType": "OrderPlaced", "Detail.orderId": "$request.path.id"},
        }),
    )
    .await?;
    call(
        &mut c,
        "POST",
        &format!("/v2/apis/{id}/routes"),
        &json!({
            "routeKey": "POST /events/{id}",
            "target": format!("integrations/{}", integration["integrationId"].as_str().unwrap_or("")),
        }),
    )
    .await?;

    let fn_path = format!("/_api/{id}/bench");
    let function = load(
        &args.http,
        "GET",
        &fn_path,
        b"",
        200,
        args.connections,
        args.seconds,
        0,
    )
    .await?;
    let invoke = load(
        &args.endpoint,
        "POST",
        &format!("/2015-03-31/functions/{NAME}/invocations"),
        b"{}",
        200,
        args.connections,
        args.seconds,
        0,
    )
    .await?;
    let baseline_addr = baseline_server()?;
    let baseline = load(
        &baseline_addr,
        "GET",
        "/bench",
        b"",
        200,
        args.latency_connections,
        args.seconds,
        args.latency_rate,
    )
    .await?;
    let routed = load(
        &args.http,
        "GET",
        &fn_path,
        b"",
        200,
        args.latency_connections,
        args.seconds,
        args.latency_rate,
    )
    .await?;
    let bus = load(
        &args.http,
        "POST",
        &format!("/_api/{id}/events/o-1"),
        br#"{"order":42,"amount":12.5,"customer":{"tier":"gold"}}"#,
        202,
        args.connections,
        args.seconds,
        0,
    )
    .await?;

    let _best_effort = c
        .request("DELETE", &format!("/v2/apis/{id}"), &[], b"")
        .await
        .is_err();
    let _best_effort = c
        .request("DELETE", &format!("/2015-03-31/functions/{NAME}"), &[], b"")
        .await
        .is_err();
    let _cleanup = std::fs::remove_dir_all(&code).is_err();
    let added = |a: &[u64], b: &[u64], p: f64| {
        ((percentile(a, p) - percentile(b, p)) * 1000.0).round() / 1000.0
    };
    let out = json!({
        "bench": "routes",
        "connections": args.connections,
        "seconds": args.seconds,
        "function_route": function.json(),
        "lambda_invoke": invoke.json(),
        "latency_rate": args.latency_rate,
        "latency_connections": args.latency_connections,
        "baseline_hyper": baseline.json(),
        "function_route_at_rate": routed.json(),
        "added_p50_ms": added(&routed.lat, &baseline.lat, 0.50),
        "added_p99_ms": added(&routed.lat, &baseline.lat, 0.99),
        "added_svc_p50_ms": added(&routed.svc, &baseline.svc, 0.50),
        "added_svc_p99_ms": added(&routed.svc, &baseline.svc, 0.99),
        "bus_route": bus.json(),
    });
    println!("{out}");
    Ok(())
}
