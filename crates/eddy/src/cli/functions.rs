//! `eddy invoke` and `eddy logs`.

use std::process::ExitCode;
use std::time::Duration;

use base64::Engine;
use serde_json::{Value, json};

use super::{Client, Endpoint, block_on, stdin};

/// Arguments of `eddy invoke`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  eddy invoke hello '{\"name\": \"eddy\"}'
  echo '{\"n\": 1}' | eddy invoke hello - --log
  eddy invoke worker '{}' --async")]
pub struct InvokeArgs {
    /// The function's name or ARN.
    function: String,
    /// The event (JSON); `-` reads it from stdin; default `{}`.
    payload: Option<String>,
    /// Also print the invocation's log tail (to stderr).
    #[arg(long)]
    log: bool,
    /// Invoke asynchronously (InvocationType Event): queued durably, answers at once.
    #[arg(long = "async")]
    asynchronous: bool,
    /// Print `{"StatusCode", "FunctionError", "Payload", "Log"}` as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    endpoint: Endpoint,
}

pub fn invoke(args: InvokeArgs) -> ExitCode {
    block_on(async move {
        let payload = match args.payload.as_deref() {
            None => "{}".to_owned(),
            Some("-") => stdin()?,
            Some(p) => p.to_owned(),
        };
        let client = Client::new(&args.endpoint)?;
        let mut headers = vec![(
            "x-amz-invocation-type",
            if args.asynchronous {
                "Event"
            } else {
                "RequestResponse"
            }
            .to_owned(),
        )];
        if args.log {
            headers.push(("x-amz-log-type", "Tail".to_owned()));
        }
        let (status, h, body) = client
            .rest(
                "lambda",
                reqwest::Method::POST,
                &format!("/2015-03-31/functions/{}/invocations", args.function),
                &headers,
                payload.into_bytes(),
            )
            .await?;
        let function_error = h
            .get("x-amz-function-error")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let log = h
            .get("x-amz-log-result")
            .and_then(|v| v.to_str().ok())
            .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
            .map(|b| String::from_utf8_lossy(&b).into_owned());
        let text = String::from_utf8_lossy(&body).into_owned();
        if args.json {
            let payload: Value = serde_json::from_str(&text).unwrap_or(Value::String(text.clone()));
            say!(
                "{}",
                json!({"StatusCode": status, "FunctionError": function_error, "Payload": payload, "Log": log})
            );
        } else {
            if let Some(l) = &log {
                eprint!("{l}");
            }
            if args.asynchronous {
                say!(
                    "queued (request id {})",
                    h.get("x-amzn-requestid")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("?")
                );
            } else {
                say!("{text}");
            }
        }
        Ok(if function_error.is_some() {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        })
    })
}

/// Arguments of `eddy logs`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  eddy logs hello
  eddy logs hello --follow
  eddy logs hello --since 5m --json
  eddy logs hello --until 'order 1 placed' --timeout 30   # in scripts: wait for a line")]
pub struct LogsArgs {
    /// The function's name.
    function: String,
    /// Keep printing new lines as they arrive.
    #[arg(long, short)]
    follow: bool,
    /// Follow until a line containing this text was printed, then exit.
    #[arg(long, value_name = "TEXT")]
    until: Option<String>,
    /// With --follow or --until: give up after this many seconds (exit status 1).
    #[arg(long, value_name = "SECONDS")]
    timeout: Option<u64>,
    /// How far back to start: `30s`, `10m`, `2h` (default: everything kept).
    #[arg(long)]
    since: Option<String>,
    /// One JSON object per line (`timestamp`, `stream`, `message`).
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    endpoint: Endpoint,
}

fn parse_since(s: &str) -> anyhow::Result<i64> {
    let (n, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: i64 = n
        .parse()
        .map_err(|_| anyhow::anyhow!("--since takes a duration like 30s, 10m or 2h, not `{s}`"))?;
    let ms = match unit {
        "s" | "" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => anyhow::bail!("--since takes a duration like 30s, 10m or 2h, not `{s}`"),
    };
    Ok(n * ms)
}

pub fn logs(args: LogsArgs) -> ExitCode {
    block_on(async move {
        let client = Client::new(&args.endpoint)?;
        let group = format!("/aws/lambda/{}", args.function);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_millis() as i64;
        let mut start = match &args.since {
            Some(s) => now - parse_since(s)?,
            None => 0,
        };
        // Lines at the same millisecond as the last one printed: not printed twice.
        let mut printed_at_start: Vec<String> = Vec::new();
        let follow = args.follow || args.until.is_some();
        let deadline = args
            .timeout
            .map(|t| std::time::Instant::now() + Duration::from_secs(t));
        let mut found = false;
        loop {
            let mut token: Option<String> = None;
            let mut newest = start;
            let mut at_newest: Vec<String> = Vec::new();
            loop {
                let mut body = json!({"logGroupName": group, "startTime": start});
                if let Some(t) = &token {
                    body["nextToken"] = json!(t);
                }
                let r = client.call("Logs_20140328.FilterLogEvents", body).await?;
                for e in r["events"].as_array().cloned().unwrap_or_default() {
                    let ts = e["timestamp"].as_i64().unwrap_or(0);
                    let id = e["eventId"].as_str().unwrap_or("").to_owned();
                    if ts == start && printed_at_start.contains(&id) {
                        continue;
                    }
                    if ts > newest {
                        newest = ts;
                        at_newest.clear();
                    }
                    if ts == newest {
                        at_newest.push(id);
                    }
                    let message = e["message"].as_str().unwrap_or("");
                    if args.json {
                        say!(
                            "{}",
                            json!({"timestamp": ts, "stream": e["logStreamName"], "message": message})
                        );
                    } else {
                        say!("{message}");
                    }
                    found |= args.until.as_deref().is_some_and(|t| message.contains(t));
                }
                match r["nextToken"].as_str() {
                    Some(t) => token = Some(t.to_owned()),
                    None => break,
                }
            }
            if !follow || found {
                return Ok(ExitCode::SUCCESS);
            }
            if deadline.is_some_and(|d| std::time::Instant::now() >= d) {
                match &args.until {
                    Some(t) => eprintln!("eddy logs: no line with `{t}` within the timeout"),
                    None => eprintln!("eddy logs: timeout"),
                }
                return Ok(ExitCode::FAILURE);
            }
            if newest > start {
                start = newest;
                printed_at_start = at_newest;
            } else {
                printed_at_start.extend(at_newest);
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    })
}
