//! `eddy put-events`, `eddy rules`, `eddy events tail`.

use std::process::ExitCode;

use anyhow::bail;
use serde_json::{Value, json};

use super::{Client, Endpoint, block_on, progress, progress_enabled, stdin};

/// Arguments of `eddy put-events`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  eddy put-events --source shop --detail-type OrderPlaced '{\"id\": 1, \"total\": 20}'
  eddy put-events '{\"source\": \"shop\", \"detail-type\": \"OrderPlaced\", \"detail\": {\"id\": 1}}'
  cat events.jsonl | eddy put-events --bus orders")]
pub struct PutEventsArgs {
    /// Events as JSON: an envelope-like object (`source`, `detail-type`, `detail`), a PutEvents
    /// entry (`Source`, `DetailType`, `Detail`), or just the detail with --source and
    /// --detail-type. Without any, reads JSON lines (or one JSON array) from stdin.
    events: Vec<String>,
    /// The bus (default: `default`, or the event's own `EventBusName`).
    #[arg(long)]
    bus: Option<String>,
    /// Source for events that name none.
    #[arg(long)]
    source: Option<String>,
    /// Detail type for events that name none.
    #[arg(long)]
    detail_type: Option<String>,
    /// Print the PutEvents results as JSON lines.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    endpoint: Endpoint,
}

/// Turns one user-given event into a PutEvents entry.
fn entry(v: &Value, args: &PutEventsArgs) -> anyhow::Result<Value> {
    let Value::Object(m) = v else {
        bail!("an event must be a JSON object, got {v}");
    };
    let text = |d: &Value| match d {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let mut e = json!({});
    if m.contains_key("Source") || m.contains_key("DetailType") || m.contains_key("Detail") {
        e = v.clone();
    } else if m.contains_key("source") || m.contains_key("detail-type") {
        e["Source"] = m.get("source").cloned().unwrap_or(Value::Null);
        e["DetailType"] = m.get("detail-type").cloned().unwrap_or(Value::Null);
        e["Detail"] = json!(text(m.get("detail").unwrap_or(&json!({}))));
        if let Some(r) = m.get("resources") {
            e["Resources"] = r.clone();
        }
    } else {
        e["Detail"] = json!(v.to_string());
    }
    if e.get("Detail").is_some_and(|d| !d.is_string()) {
        e["Detail"] = json!(text(&e["Detail"]));
    }
    if e.get("Source").is_none_or(Value::is_null) {
        match &args.source {
            Some(s) => e["Source"] = json!(s),
            None => bail!("event {v} names no source: add \"source\" or pass --source"),
        }
    }
    if e.get("DetailType").is_none_or(Value::is_null) {
        match &args.detail_type {
            Some(s) => e["DetailType"] = json!(s),
            None => {
                bail!("event {v} names no detail type: add \"detail-type\" or pass --detail-type")
            }
        }
    }
    if e.get("EventBusName").is_none()
        && let Some(b) = &args.bus
    {
        e["EventBusName"] = json!(b);
    }
    Ok(e)
}

pub fn put_events(args: PutEventsArgs) -> ExitCode {
    block_on(async move {
        let raw: Vec<Value> = if args.events.is_empty() {
            let input = stdin()?;
            let trimmed = input.trim_start();
            if trimmed.starts_with('[') {
                serde_json::from_str::<Vec<Value>>(trimmed)?
            } else {
                trimmed
                    .lines()
                    .filter(|l| !l.trim().is_empty())
                    .map(serde_json::from_str)
                    .collect::<Result<_, _>>()?
            }
        } else {
            args.events
                .iter()
                .map(|e| serde_json::from_str(e))
                .collect::<Result<_, _>>()
                .map_err(|e| anyhow::anyhow!("an event is not JSON: {e}"))?
        };
        let entries: Vec<Value> = raw
            .iter()
            .map(|v| entry(v, &args))
            .collect::<Result<_, _>>()?;
        let client = Client::new(&args.endpoint)?;
        let show = progress_enabled() && entries.len() > 100 && !args.json;
        let mut failed = 0;
        let mut done = 0;
        for chunk in entries.chunks(10) {
            let r = client
                .call("AWSEvents.PutEvents", json!({"Entries": chunk}))
                .await?;
            for e in r["Entries"].as_array().cloned().unwrap_or_default() {
                if args.json {
                    say!("{e}");
                } else if let Some(id) = e["EventId"].as_str() {
                    if !show {
                        say!("{id}");
                    }
                } else {
                    failed += 1;
                    eprintln!(
                        "failed: {}: {}",
                        e["ErrorCode"].as_str().unwrap_or(""),
                        e["ErrorMessage"].as_str().unwrap_or("")
                    );
                }
            }
            done += chunk.len();
            if show {
                progress("putting events", done, entries.len());
            }
        }
        if show {
            say!("{} events put, {failed} failed", entries.len() - failed);
        }
        Ok(if failed == 0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        })
    })
}

/// Arguments of `eddy rules`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  eddy rules
  eddy rules --bus orders --json

MATCHED counts the events each rule matched since this eddy process started (kept in memory, not
in the store): it starts from 0 again when eddy restarts.")]
pub struct RulesArgs {
    /// The bus whose rules to list.
    #[arg(long, default_value = "default")]
    bus: String,
    /// One JSON object per rule.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    endpoint: Endpoint,
}

/// `eddy_rule_matched_events` per rule ARN from the Prometheus text.
async fn match_counts(client: &Client) -> std::collections::HashMap<String, u64> {
    let mut out = std::collections::HashMap::new();
    let Ok(r) = client
        .rest("events", reqwest::Method::GET, "/metrics", &[], Vec::new())
        .await
    else {
        return out;
    };
    for line in String::from_utf8_lossy(&r.2).lines() {
        let Some(rest) = line.strip_prefix("eddy_rule_matched_events_total{") else {
            continue;
        };
        let Some((labels, value)) = rest.rsplit_once("} ") else {
            continue;
        };
        if let Some(rule) = labels
            .split("rule=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
        {
            out.insert(
                rule.to_owned(),
                value.trim().parse::<f64>().unwrap_or(0.0) as u64,
            );
        }
    }
    out
}

pub fn rules(args: RulesArgs) -> ExitCode {
    block_on(async move {
        let client = Client::new(&args.endpoint)?;
        let mut rules = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut body = json!({"EventBusName": args.bus, "Limit": 100});
            if let Some(t) = &token {
                body["NextToken"] = json!(t);
            }
            let r = client.call("AWSEvents.ListRules", body).await?;
            rules.extend(r["Rules"].as_array().cloned().unwrap_or_default());
            match r["NextToken"].as_str() {
                Some(t) => token = Some(t.to_owned()),
                None => break,
            }
        }
        let counts = match_counts(&client).await;
        if !args.json {
            say!(
                "{:<32} {:<9} {:>9} {:>7}  PATTERN / SCHEDULE",
                "NAME",
                "STATE",
                "MATCHED",
                "TARGETS"
            );
        }
        for r in rules {
            let name = r["Name"].as_str().unwrap_or("");
            let arn = r["Arn"].as_str().unwrap_or("");
            let targets = client
                .call(
                    "AWSEvents.ListTargetsByRule",
                    json!({"Rule": name, "EventBusName": args.bus}),
                )
                .await?;
            let n = targets["Targets"].as_array().map_or(0, Vec::len);
            let matched = counts
                .get(arn)
                .or_else(|| counts.get(name))
                .copied()
                .unwrap_or(0);
            let what = r["EventPattern"]
                .as_str()
                .or(r["ScheduleExpression"].as_str())
                .unwrap_or("");
            if args.json {
                say!(
                    "{}",
                    json!({"name": name, "arn": arn, "state": r["State"], "matched": matched,
                           "targets": n, "pattern": r["EventPattern"], "schedule": r["ScheduleExpression"]})
                );
            } else {
                say!(
                    "{:<32} {:<9} {:>9} {:>7}  {}",
                    name,
                    r["State"].as_str().unwrap_or(""),
                    matched,
                    n,
                    what
                );
            }
        }
        if !args.json {
            eprintln!(
                "(MATCHED counts events since this eddy process started; it starts from 0 again \
                 when eddy restarts)"
            );
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// Arguments of `eddy events tail`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  eddy events tail
  eddy events tail orders --json")]
pub struct TailArgs {
    /// The bus to watch.
    #[arg(default_value = "default")]
    bus: String,
    /// Print each event as one JSON line (`{\"bus\", \"rules\", \"event\"}`).
    #[arg(long)]
    json: bool,
    /// Stop after this many events (`0`: check that the bus can be tailed, print nothing and
    /// exit).
    #[arg(long)]
    count: Option<usize>,
    #[command(flatten)]
    endpoint: Endpoint,
}

pub fn tail(args: TailArgs) -> ExitCode {
    block_on(async move {
        let client = Client::new(&args.endpoint)?;
        let mut r = client
            .stream(&format!(
                "/_eddy/tail?bus={}&region={}",
                args.bus,
                client.region()
            ))
            .await?;
        if args.count == Some(0) {
            return Ok(ExitCode::SUCCESS);
        }
        if !args.json {
            eprintln!("tailing bus {} (Ctrl-C to stop)", args.bus);
        }
        let mut buf = Vec::new();
        let mut seen = 0;
        while let Some(chunk) = r.chunk().await? {
            buf.extend_from_slice(&chunk);
            while let Some(i) = buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = buf.drain(..=i).collect();
                let v: Value = serde_json::from_slice(&line).unwrap_or(Value::Null);
                if args.json {
                    say!("{}", String::from_utf8_lossy(&line).trim_end());
                } else if let Some(n) = v["lagged"].as_u64() {
                    eprintln!("({n} events skipped: the terminal fell behind)");
                } else {
                    let e = &v["event"];
                    let rules: Vec<&str> = v["rules"]
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .filter_map(Value::as_str)
                                .map(|arn| arn.rsplit('/').next().unwrap_or(arn))
                                .collect()
                        })
                        .unwrap_or_default();
                    say!(
                        "{} {} {} {} -> {}",
                        e["time"].as_str().unwrap_or(""),
                        e["source"].as_str().unwrap_or(""),
                        e["detail-type"].as_str().unwrap_or(""),
                        e["detail"],
                        if rules.is_empty() {
                            "(no rule matched)".to_owned()
                        } else {
                            rules.join(", ")
                        }
                    );
                }
                seen += 1;
                if args.count.is_some_and(|c| seen >= c) {
                    return Ok(ExitCode::SUCCESS);
                }
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}
