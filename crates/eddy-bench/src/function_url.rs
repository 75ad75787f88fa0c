//! `eddy-bench function-url`: the latency a function URL adds over an HTTP API route to the same
//! function. Creates one function from a `bootstrap` executable (the Rust test function's `http`
//! handler, which answers payload format 2.0 with the event it got), an HTTP API quick-created
//! with the function as its target (`GET /bench`, called through `/_api/{apiId}/bench` on the
//! HTTP listener) and a function URL (`AuthType: NONE`, called on the same listener with the
//! URL's `Host: URL_ID.lambda-url.us-east-1.localhost:PORT`), then sends `GET /bench` one
//! request at a time on one keep-alive connection per path: `--warmup` requests each, then
//! `--requests` each in `--rounds` rounds, the paths alternating within a round and which goes
//! first alternating from round to round. Both paths share the function's one warm instance.
//! Prints one JSON line: p50/p90/p99/max per path and the URL's p50 and p99 minus the route's.
//! Starts its own `eddy serve` (with the system's temp directory as a code root) unless given
//! `--endpoint` and `--http`.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, ensure};
use serde_json::{Value, json};

use crate::http1::Conn;
use crate::percentile;
use crate::server::Server;

#[derive(Debug, clap::Args)]
pub struct FunctionUrlArgs {
    /// host:port of a running eddy's AWS endpoint (with `--http`); without it the bench starts
    /// `eddy serve` on free ports and a fresh data directory, and stops it at the end.
    #[arg(long, requires = "http")]
    endpoint: Option<String>,
    /// host:port of the running eddy's HTTP routes listener (with `--endpoint`).
    #[arg(long, requires = "endpoint")]
    http: Option<String>,
    /// The `eddy` binary to start (default: `eddy` next to this binary).
    #[arg(long)]
    eddy: Option<PathBuf>,
    /// The started eddy's data directory (default: a fresh directory under the system's temp
    /// directory, removed at the end). It must not exist yet.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// The function's `bootstrap` executable (default: `eddy-test-function` next to this binary).
    #[arg(long)]
    bootstrap: Option<PathBuf>,
    /// `_HANDLER` of the function (`http` answers with the event it got; `simple` with
    /// `{"hello":"world"}`).
    #[arg(long, default_value = "http")]
    handler: String,
    /// Requests per path before measuring.
    #[arg(long, default_value_t = 200)]
    warmup: usize,
    /// Measured requests per path.
    #[arg(long, default_value_t = 2000)]
    requests: usize,
    /// Rounds the measured requests are split into.
    #[arg(long, default_value_t = 10)]
    rounds: usize,
}

const NAME: &str = "bench-function-url";

/// One of the two paths to the function.
struct Front {
    name: &'static str,
    conn: Conn,
    path: String,
    /// µs per measured request.
    lat: Vec<u64>,
    /// Each round's median, ms.
    round_p50: Vec<f64>,
    bytes: usize,
}

impl Front {
    /// One `GET`; its latency in µs.
    async fn get(&mut self) -> anyhow::Result<u64> {
        let t = Instant::now();
        let r = self.conn.request("GET", &self.path, &[], b"").await?;
        let us = t.elapsed().as_micros() as u64;
        ensure!(
            r.status == 200,
            "{} answered {}: {}",
            self.name,
            r.status,
            String::from_utf8_lossy(&r.body)
        );
        self.bytes = r.body.len();
        Ok(us)
    }

    fn json(&self) -> Value {
        let mut lat = self.lat.clone();
        lat.sort_unstable();
        let mean = lat.iter().sum::<u64>() as f64 / lat.len().max(1) as f64 / 1000.0;
        json!({
            "requests": lat.len(),
            "response_bytes": self.bytes,
            "mean_ms": (mean * 1000.0).round() / 1000.0,
            "p50_ms": percentile(&lat, 0.50),
            "p90_ms": percentile(&lat, 0.90),
            "p99_ms": percentile(&lat, 0.99),
            "max_ms": percentile(&lat, 1.0),
            "round_p50_ms": self.round_p50,
        })
    }
}

/// A control-plane call on a connection of its own that must answer below 300.
async fn call(endpoint: &str, method: &str, path: &str, body: &Value) -> anyhow::Result<Value> {
    let mut c = Conn::connect(endpoint).await?;
    let text = if body.is_null() {
        Vec::new()
    } else {
        body.to_string().into_bytes()
    };
    let r = c.request(method, path, &[], &text).await?;
    ensure!(
        r.status < 300,
        "{method} {path} failed: {} {}",
        r.status,
        String::from_utf8_lossy(&r.body)
    );
    Ok(serde_json::from_slice(&r.body).unwrap_or(Value::Null))
}

pub async fn run(args: FunctionUrlArgs) -> anyhow::Result<()> {
    ensure!(args.requests > 0, "--requests must be at least 1");
    ensure!(
        (1..=args.requests).contains(&args.rounds),
        "--rounds must be 1 to --requests"
    );
    let code = crate::invoke::code_dir(args.bootstrap.as_deref(), "function-url")?;
    let mut server = None;
    let (endpoint, http) = match (&args.endpoint, &args.http) {
        (Some(e), Some(h)) => (e.clone(), h.clone()),
        _ => {
            let eddy = match &args.eddy {
                Some(p) => p.clone(),
                None => std::env::current_exe()?.with_file_name("eddy"),
            };
            let (dir, remove) = match &args.data_dir {
                Some(d) => (d.clone(), false),
                None => (
                    std::env::temp_dir().join(format!("eddy-bench-url-{}", std::process::id())),
                    true,
                ),
            };
            let root = code.parent().context("no parent of the code directory")?;
            let s = Server::start_with(
                &eddy,
                &dir,
                remove,
                &["--code-root".as_ref(), root.as_os_str()],
            )?;
            let out = (s.aws.clone(), s.http.clone());
            server = Some(s);
            out
        }
    };
    let result = measure(&args, &endpoint, &http, &code).await;
    // Whatever happened, leave nothing behind on a running server.
    if server.is_none() {
        let _best_effort = call(
            &endpoint,
            "DELETE",
            &format!("/2015-03-31/functions/{NAME}"),
            &Value::Null,
        )
        .await
        .is_err();
    }
    let _cleanup = std::fs::remove_dir_all(&code).is_err();
    drop(server);
    println!("{}", result?);
    Ok(())
}

async fn measure(
    args: &FunctionUrlArgs,
    endpoint: &str,
    http: &str,
    code: &std::path::Path,
) -> anyhow::Result<Value> {
    // A function left by an earlier run (404 otherwise); its URL goes with it.
    Conn::connect(endpoint)
        .await?
        .request("DELETE", &format!("/2015-03-31/functions/{NAME}"), &[], b"")
        .await?;
    let f = call(
        endpoint,
        "POST",
        "/2015-03-31/functions",
        &json!({
            "FunctionName": NAME,
            "Runtime": "provided.al2023",
            "Role": "arn:aws:iam::123456789012:role/bench",
            "Handler": args.handler,
            "Code": {"S3Bucket": "hot-reload", "S3Key": code.display().to_string()},
        }),
    )
    .await?;
    let arn = f["FunctionArn"].as_str().context("no FunctionArn")?;
    let api = call(
        endpoint,
        "POST",
        "/v2/apis",
        &json!({"name": NAME, "protocolType": "HTTP", "target": arn, "routeKey": "GET /bench"}),
    )
    .await?;
    let api_id = api["apiId"].as_str().context("no apiId")?.to_owned();
    let url = call(
        endpoint,
        "POST",
        &format!("/2021-10-31/functions/{NAME}/url"),
        &json!({"AuthType": "NONE"}),
    )
    .await?;
    let url = url["FunctionUrl"].as_str().context("no FunctionUrl")?;
    // `http://URL_ID.lambda-url.REGION.localhost:PORT/`: the Host header, sent to the listener.
    let host = url
        .strip_prefix("http://")
        .map(|h| h.trim_end_matches('/'))
        .with_context(|| format!("unexpected FunctionUrl {url}"))?
        .to_owned();
    let mut url_conn = Conn::connect(http).await?;
    url_conn.set_host(&host);
    let mut paths = [
        Front {
            name: "route",
            conn: Conn::connect(http).await?,
            path: format!("/_api/{api_id}/bench"),
            lat: Vec::with_capacity(args.requests),
            round_p50: Vec::new(),
            bytes: 0,
        },
        Front {
            name: "function_url",
            conn: url_conn,
            path: "/bench".to_owned(),
            lat: Vec::with_capacity(args.requests),
            round_p50: Vec::new(),
            bytes: 0,
        },
    ];
    // Each path reaches the function through its own front end: the route's event names the
    // route, the URL's its `$default` route key (with the `http` handler, which echoes them).
    for p in &mut paths {
        let r = p.conn.request("GET", &p.path, &[], b"").await?;
        ensure!(
            r.status == 200,
            "{} answered {}: {}",
            p.name,
            r.status,
            String::from_utf8_lossy(&r.body)
        );
        if args.handler == "http" {
            let event: Value = serde_json::from_slice(&r.body)?;
            let want = if p.name == "route" {
                "GET /bench"
            } else {
                "$default"
            };
            ensure!(
                event["routeKey"] == want,
                "{} reached the function as {}",
                p.name,
                event["routeKey"]
            );
        }
    }
    for _ in 0..args.warmup {
        for p in &mut paths {
            p.get().await?;
        }
    }
    for round in 0..args.rounds {
        // Rounds split the requests as evenly as they go.
        let n = args.requests * (round + 1) / args.rounds - args.requests * round / args.rounds;
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        let mut mine = [Vec::with_capacity(n), Vec::with_capacity(n)];
        for _ in 0..n {
            for &i in &order {
                mine[i].push(paths[i].get().await?);
            }
        }
        for (p, mut lat) in paths.iter_mut().zip(mine) {
            p.lat.extend_from_slice(&lat);
            lat.sort_unstable();
            p.round_p50.push(percentile(&lat, 0.50));
        }
    }
    let _best_effort = call(
        endpoint,
        "DELETE",
        &format!("/2021-10-31/functions/{NAME}/url"),
        &Value::Null,
    )
    .await
    .is_err();
    let _best_effort = call(
        endpoint,
        "DELETE",
        &format!("/v2/apis/{api_id}"),
        &Value::Null,
    )
    .await
    .is_err();
    let sorted = |p: &Front| {
        let mut l = p.lat.clone();
        l.sort_unstable();
        l
    };
    let (route, furl) = (sorted(&paths[0]), sorted(&paths[1]));
    let added = |q: f64| ((percentile(&furl, q) - percentile(&route, q)) * 1000.0).round() / 1000.0;
    Ok(json!({
        "bench": "function-url",
        "handler": args.handler,
        "warmup": args.warmup,
        "requests": args.requests,
        "rounds": args.rounds,
        "route": paths[0].json(),
        "function_url": paths[1].json(),
        "added_p50_ms": added(0.50),
        "added_p90_ms": added(0.90),
        "added_p99_ms": added(0.99),
    }))
}
