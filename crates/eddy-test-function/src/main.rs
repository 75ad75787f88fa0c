//! A Lambda function built on the official Rust runtime client (`lambda_runtime`), used by
//! eddy's tests and benchmarks. What it does is chosen by `_HANDLER`:
//!
//! * `echo`: answers `{"event", "context", "env", "uid"}`: the event, what the runtime API told
//!   it (request id, deadline, invoked ARN, client context), selected environment variables,
//!   and the user id it runs as;
//! * `sleep`: sleeps `event.ms` milliseconds, then echoes;
//! * `fail`: returns an error (`errorType` `TestFailure`);
//! * `panic`: panics in the handler;
//! * `exit`: exits the process with status 3 in the middle of the invocation;
//! * `log`: prints `event.lines` lines to stdout, then echoes;
//! * `invalid-utf8`: prints a line holding bytes that are not UTF-8, then `event.lines` lines
//!   (`log line N`), then echoes;
//! * `long-line`: prints one line of `event.bytes` bytes (`x`), then the line `after the long
//!   line`, then echoes;
//! * `fs`: tries to read each file of `event.read` and list each directory of `event.list`;
//!   answers `{"read": {PATH: OUTCOME}, "list": {PATH: OUTCOME}, "uid", "gid"}` where OUTCOME is
//!   `ok`, `denied` (permission denied), `missing` or the error's text;
//! * `memory`: touches `event.mb` megabytes, then echoes;
//! * `big`: answers a string of `event.bytes` bytes;
//! * `http`: for HTTP routes: answers the full proxy response form with the received event as
//!   the JSON body, two cookies, status `x-status` (default 200); with `x-binary` the body is
//!   the bytes 0, 1, 2, 255 in base64; `?sleep_ms=N` sleeps first;
//! * `simple`: for HTTP routes: answers `{"hello": "world"}` (the simplified response form);
//! * `authorizer`: a Lambda authorizer: allows when the (first) identity source is `allow`,
//!   with the context `{"user": "u1", "calls": N}` (N counts its calls); simple responses for
//!   payload 2.0, an IAM policy for 1.0;
//! * `sqs-record`: for an SQS event from an event source mapping: appends one line per record,
//!   `TOKEN RECEIVED_US BATCH_LEN` (the body up to its first space, the microseconds since the
//!   epoch when the handler started, the records in the event), to the file `$RECORD_FILE`, in
//!   one write per invocation; answers `{}` (the whole batch succeeded).
//!
//! It exits with an init error when `_HANDLER` names none of these.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};

const VARS: &[&str] = &[
    "_HANDLER",
    "LAMBDA_TASK_ROOT",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_MAX_CONCURRENCY",
    "AWS_LAMBDA_RUNTIME_API",
    "MY_SETTING",
    "EDDY_SECRET",
    "HOME",
];

/// The real user (`Uid:`) or group (`Gid:`) id of this process.
fn id(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn uid() -> Option<u64> {
    id("Uid:")
}

/// The `fs` handler: see the module docs.
fn probe_files(event: &Value) -> Value {
    fn outcome<T>(r: std::io::Result<T>) -> Value {
        match r {
            Ok(_) => "ok".into(),
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => "denied".into(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => "missing".into(),
            Err(e) => e.to_string().into(),
        }
    }
    let paths = |key: &str| -> Vec<String> {
        event[key]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|p| p.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let read: serde_json::Map<String, Value> = paths("read")
        .into_iter()
        .map(|p| {
            let r = outcome(std::fs::read(&p));
            (p, r)
        })
        .collect();
    let list: serde_json::Map<String, Value> = paths("list")
        .into_iter()
        .map(|p| {
            let r = outcome(std::fs::read_dir(&p).and_then(|d| d.collect::<Result<Vec<_>, _>>()));
            (p, r)
        })
        .collect();
    json!({"read": read, "list": list, "uid": uid(), "gid": id("Gid:")})
}

/// The soft limit of one `/proc/self/limits` line.
fn limit(name: &str) -> Option<String> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with(name))?;
    line[name.len()..]
        .split_whitespace()
        .next()
        .map(str::to_owned)
}

fn epoch_ms() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}

fn echo(event: LambdaEvent<Value>) -> Value {
    let env: serde_json::Map<String, Value> = VARS
        .iter()
        .filter_map(|k| {
            std::env::var(k)
                .ok()
                .map(|v| ((*k).to_owned(), Value::String(v)))
        })
        .collect();
    let ctx = &event.context;
    json!({
        "event": event.payload,
        "context": {
            "request_id": ctx.request_id,
            "deadline": ctx.deadline,
            "invoked_function_arn": ctx.invoked_function_arn,
            "client_context": ctx.client_context.as_ref().map(|c| json!({"custom": c.custom, "environment": c.environment})),
            "xray_trace_id": ctx.xray_trace_id,
        },
        "env": env,
        "uid": uid(),
        "pid": std::process::id(),
        "nofile": limit("Max open files"),
        "cwd": std::env::current_dir().ok().map(|p| p.display().to_string()),
    })
}

/// The `sqs-record` handler: see the module docs.
fn record_sqs(event: &Value) -> Result<(), Error> {
    use std::fmt::Write as _;
    use std::io::Write as _;
    let received = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros());
    let records = event["Records"].as_array().map_or(&[][..], Vec::as_slice);
    let mut lines = String::with_capacity(records.len() * 40);
    for r in records {
        let body = r["body"].as_str().unwrap_or_default();
        let token = body.split(' ').next().unwrap_or_default();
        let _infallible = writeln!(lines, "{token} {received} {}", records.len());
    }
    let path = std::env::var("RECORD_FILE").map_err(|_| Error::from("no RECORD_FILE"))?;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)?;
    // One write: lines of invocations running at once in other processes do not interleave.
    f.write_all(lines.as_bytes())?;
    Ok(())
}

static CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// The `http` handler: see the module docs.
async fn http(event: LambdaEvent<Value>) -> Value {
    let e = &event.payload;
    let v1 = e["version"] == "1.0";
    let header = |name: &str| e["headers"][name].as_str().map(str::to_owned);
    let query = |name: &str| e["queryStringParameters"][name].as_str().map(str::to_owned);
    if let Some(ms) = query("sleep_ms").and_then(|m| m.parse().ok()) {
        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
    }
    let status: u16 = header("x-status")
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    let cookies = json!(["session=abc; Path=/", "theme=dark"]);
    let mut answer = json!({
        "statusCode": status,
        "headers": {"content-type": "application/json", "x-handler": "http"},
        "body": e.to_string(),
    });
    if v1 {
        answer["multiValueHeaders"] = json!({"set-cookie": cookies});
    } else {
        answer["cookies"] = cookies;
    }
    if header("x-binary").is_some() {
        answer["headers"]["content-type"] = "application/octet-stream".into();
        answer["body"] = "AAEC/w==".into();
        answer["isBase64Encoded"] = true.into();
    }
    answer
}

async fn handle(event: LambdaEvent<Value>) -> Result<Value, Error> {
    let handler = std::env::var("_HANDLER").unwrap_or_default();
    match handler.as_str() {
        "echo" => Ok(echo(event)),
        "sleep" => {
            let ms = event.payload["ms"].as_u64().unwrap_or(0);
            let from = epoch_ms();
            tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
            let until = epoch_ms();
            let mut out = echo(event);
            // When it slept (ms since the epoch): tests see whether invocations overlapped.
            out["slept"] = json!([from, until]);
            Ok(out)
        }
        "fail" => Err(Error::from(format!(
            "failed on purpose: {}",
            event.payload["reason"].as_str().unwrap_or("no reason")
        ))),
        "panic" => panic!("panicked on purpose"),
        "exit" => std::process::exit(3),
        "log" => {
            let n = event.payload["lines"].as_u64().unwrap_or(1);
            for i in 0..n {
                println!("log line {i}");
            }
            Ok(echo(event))
        }
        "invalid-utf8" => {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            out.write_all(b"not utf-8: \xff\xfe\xc3(\n")?;
            for i in 0..event.payload["lines"].as_u64().unwrap_or(1) {
                writeln!(out, "log line {i}")?;
            }
            out.flush()?;
            Ok(echo(event))
        }
        "long-line" => {
            use std::io::Write;
            let n = event.payload["bytes"].as_u64().unwrap_or(0) as usize;
            let mut out = std::io::stdout().lock();
            out.write_all(&vec![b'x'; n])?;
            out.write_all(b"\nafter the long line\n")?;
            out.flush()?;
            Ok(echo(event))
        }
        "fs" => Ok(probe_files(&event.payload)),
        "memory" => {
            let mb = event.payload["mb"].as_u64().unwrap_or(1) as usize;
            let mut v = vec![0u8; mb * 1024 * 1024];
            for i in (0..v.len()).step_by(4096) {
                v[i] = 1;
            }
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            Ok(json!({"touched_mb": mb, "sum": v.iter().map(|b| *b as u64).sum::<u64>()}))
        }
        "big" => {
            let n = event.payload["bytes"].as_u64().unwrap_or(0) as usize;
            Ok(Value::String("x".repeat(n)))
        }
        "http" => Ok(http(event).await),
        "simple" => Ok(json!({"hello": "world"})),
        "sqs-record" => {
            record_sqs(&event.payload)?;
            Ok(json!({}))
        }
        "authorizer" => {
            let n = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            let e = &event.payload;
            let context = json!({"user": "u1", "calls": n});
            if e["version"] == "1.0" {
                // Payload 1.0: one identity string; answer with an IAM policy.
                let allow = e["identitySource"].as_str() == Some("allow");
                let effect = if allow { "Allow" } else { "Deny" };
                return Ok(json!({
                    "principalId": "u1",
                    "policyDocument": {"Version": "2012-10-17", "Statement": [
                        {"Action": "execute-api:Invoke", "Effect": effect, "Resource": e["methodArn"]}
                    ]},
                    "context": context,
                }));
            }
            let allow = e["identitySource"][0].as_str() == Some("allow");
            Ok(json!({"isAuthorized": allow, "context": context}))
        }
        other => Err(Error::from(format!("unknown handler `{other}`"))),
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let handler = std::env::var("_HANDLER").unwrap_or_default();
    if handler == "init-fail" {
        return Err(Error::from("init failed on purpose"));
    }
    if std::env::var_os("AWS_LAMBDA_MAX_CONCURRENCY").is_some() {
        // A Lambda Managed Instances configuration: several invocations at once.
        return lambda_runtime::run_concurrent(service_fn(handle)).await;
    }
    lambda_runtime::run(service_fn(handle)).await
}
