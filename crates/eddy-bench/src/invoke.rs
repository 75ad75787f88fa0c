//! `eddy-bench invoke`: function invocations through the Lambda API of a running eddy. Creates a
//! function from a `bootstrap` executable (the Rust test function, built on `lambda_runtime`),
//! then measures cold starts (a configuration change drains the warm instances, so the next
//! Invoke starts a new process) and warm Invoke throughput and latency. Prints one JSON line.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};

use crate::http1::Conn;
use crate::percentile;

#[derive(Debug, clap::Args)]
pub struct InvokeArgs {
    /// host:port of eddy's AWS endpoint.
    #[arg(long, default_value = "127.0.0.1:4566")]
    endpoint: String,
    /// The function's `bootstrap` executable (default: `eddy-test-function` next to this binary).
    #[arg(long)]
    bootstrap: Option<PathBuf>,
    /// `_HANDLER` of the function (`echo` for the test function).
    #[arg(long, default_value = "echo")]
    handler: String,
    /// Concurrent connections for the warm phase (and the function's reserved concurrency).
    #[arg(long, default_value_t = 8)]
    connections: usize,
    /// How long the warm phase runs.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Target invocations/s across all connections (0 = as fast as possible).
    #[arg(long, default_value_t = 0)]
    rate: u64,
    /// Cold starts to measure before the warm phase.
    #[arg(long, default_value_t = 20)]
    cold: usize,
}

const NAME: &str = "bench-invoke";

/// A temporary code directory (readable by anyone) holding `bootstrap`, a copy of the given
/// executable or of `eddy-test-function` next to this binary; for the function benchmarks.
pub(crate) fn code_dir(bootstrap: Option<&Path>, bench: &str) -> anyhow::Result<PathBuf> {
    let bootstrap = match bootstrap {
        Some(p) => p.to_owned(),
        None => std::env::current_exe()?
            .parent()
            .context("no directory for the eddy-bench binary")?
            .join("eddy-test-function"),
    };
    ensure!(
        bootstrap.exists(),
        "{} does not exist: build it with `cargo build --release -p eddy-test-function` or pass --bootstrap",
        bootstrap.display()
    );
    let code = std::env::temp_dir().join(format!("eddy-bench-{bench}-{}", std::process::id()));
    std::fs::create_dir_all(&code)?;
    std::fs::copy(&bootstrap, code.join("bootstrap"))?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&code, std::fs::Permissions::from_mode(0o755))?;
    Ok(code)
}

pub async fn run(args: InvokeArgs) -> anyhow::Result<()> {
    ensure!(args.connections > 0, "--connections must be at least 1");
    let code = code_dir(args.bootstrap.as_deref(), "invoke")?;
    let mut c = Conn::connect(&args.endpoint).await?;
    // A function left by an earlier run (404 otherwise).
    c.request("DELETE", &format!("/2015-03-31/functions/{NAME}"), &[], b"")
        .await?;
    let create = serde_json::json!({
        "FunctionName": NAME,
        "Runtime": "provided.al2023",
        "Role": "arn:aws:iam::123456789012:role/bench",
        "Handler": args.handler,
        "Code": {"S3Bucket": "hot-reload", "S3Key": code.display().to_string()},
    });
    let r = c
        .request(
            "POST",
            "/2015-03-31/functions",
            &[],
            create.to_string().as_bytes(),
        )
        .await?;
    ensure!(
        r.status == 201,
        "CreateFunction failed: {}",
        String::from_utf8_lossy(&r.body)
    );
    let conc = serde_json::json!({"ReservedConcurrentExecutions": args.connections});
    let r = c
        .request(
            "PUT",
            &format!("/2017-10-31/functions/{NAME}/concurrency"),
            &[],
            conc.to_string().as_bytes(),
        )
        .await?;
    ensure!(
        r.status == 200,
        "PutFunctionConcurrency failed: {}",
        String::from_utf8_lossy(&r.body)
    );

    let invoke_path = format!("/2015-03-31/functions/{NAME}/invocations");
    let payload = br#"{"order":42,"items":["a","b"]}"#;
    // Cold starts: each configuration change is a new revision; the next Invoke starts a process.
    let mut cold_us = Vec::with_capacity(args.cold);
    for i in 0..args.cold {
        let cfg = serde_json::json!({"Description": format!("cold {i}")});
        let r = c
            .request(
                "PUT",
                &format!("/2015-03-31/functions/{NAME}/configuration"),
                &[],
                cfg.to_string().as_bytes(),
            )
            .await?;
        ensure!(r.status == 200, "UpdateFunctionConfiguration failed");
        let t = Instant::now();
        let r = c.request("POST", &invoke_path, &[], payload).await?;
        cold_us.push(t.elapsed().as_micros() as u64);
        ensure!(
            r.status == 200,
            "Invoke failed: {}",
            String::from_utf8_lossy(&r.body)
        );
    }
    cold_us.sort_unstable();

    // Warm phase: start the instances, then measure.
    let stop = Arc::new(AtomicBool::new(false));
    let failures = Arc::new(AtomicU64::new(0));
    let period = (args.rate > 0)
        .then(|| Duration::from_secs_f64(args.connections as f64 / args.rate as f64));
    let mut tasks = Vec::new();
    let barrier = Arc::new(tokio::sync::Barrier::new(args.connections + 1));
    for k in 0..args.connections {
        let (endpoint, stop, failures, path, barrier) = (
            args.endpoint.clone(),
            stop.clone(),
            failures.clone(),
            invoke_path.clone(),
            barrier.clone(),
        );
        let n = args.connections;
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::connect(&endpoint).await?;
            // Warm-up: every connection's first call may start an instance.
            conn.request("POST", &path, &[], payload).await?;
            barrier.wait().await;
            let mut lat = Vec::new();
            let mut next = period.map(|p| Instant::now() + p.mul_f64(k as f64 / n as f64));
            while !stop.load(Ordering::Relaxed) {
                let scheduled = match (next, period) {
                    (Some(at), Some(p)) => {
                        tokio::time::sleep_until(at.into()).await;
                        next = Some(at + p);
                        at
                    }
                    _ => Instant::now(),
                };
                let r = conn.request("POST", &path, &[], payload).await?;
                if r.status != 200 {
                    failures.fetch_add(1, Ordering::Relaxed);
                }
                lat.push(scheduled.elapsed().as_micros() as u64);
            }
            anyhow::Ok(lat)
        }));
    }
    barrier.wait().await;
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(args.seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort_unstable();
    let _best_effort = c
        .request("DELETE", &format!("/2015-03-31/functions/{NAME}"), &[], b"")
        .await
        .is_err();
    let _cleanup = std::fs::remove_dir_all(&code).is_err();
    let out = serde_json::json!({
        "bench": "invoke",
        "connections": args.connections,
        "cold_starts": cold_us.len(),
        "cold_p50_ms": percentile(&cold_us, 0.50),
        "cold_max_ms": percentile(&cold_us, 1.0),
        "warm_invocations": all.len(),
        "warm_per_sec": (all.len() as f64 / elapsed).round(),
        "warm_p50_ms": percentile(&all, 0.50),
        "warm_p99_ms": percentile(&all, 0.99),
        "warm_max_ms": percentile(&all, 1.0),
        "failures": failures.load(Ordering::Relaxed),
    });
    println!("{out}");
    Ok(())
}
