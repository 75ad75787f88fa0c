//! `eddy status`, `eddy queue list` and `eddy functions list`: what a running eddy runs, from
//! its `/_eddy/status` view, as tables (or `--json`).

use std::process::ExitCode;

use serde_json::Value;

use super::{Client, Endpoint, block_on};

/// Arguments of `eddy status`, `eddy queue list` and `eddy functions list`.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// Print eddy's whole answer as JSON.
    #[arg(long)]
    json: bool,
    /// Wait up to this many seconds for eddy to answer (just after `eddy serve &`).
    #[arg(long, value_name = "SECONDS", default_value_t = 0)]
    wait: u64,
    #[command(flatten)]
    endpoint: Endpoint,
}

/// Which part of the status to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    All,
    Queues,
    Functions,
}

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or("-")
}

fn count(v: &Value) -> String {
    v.as_u64().map_or_else(|| "-".to_owned(), |n| n.to_string())
}

fn queues(status: &Value) {
    let queues = status["queues"].as_array().cloned().unwrap_or_default();
    say!("QUEUES ({})", queues.len());
    if queues.is_empty() {
        return;
    }
    say!(
        "  {:<40} {:>9} {:>9} {:>9}  DEAD-LETTER QUEUE",
        "NAME",
        "VISIBLE",
        "IN FLIGHT",
        "DELAYED"
    );
    for q in &queues {
        say!(
            "  {:<40} {:>9} {:>9} {:>9}  {}",
            text(&q["name"]),
            count(&q["visible"]),
            count(&q["in_flight"]),
            count(&q["delayed"]),
            q["dead_letter_queue"]
                .as_str()
                .map(|arn| arn.rsplit(':').next().unwrap_or(arn))
                .unwrap_or("-"),
        );
    }
}

fn functions(status: &Value) {
    let functions = status["functions"].as_array().cloned().unwrap_or_default();
    say!("FUNCTIONS ({})", functions.len());
    if functions.is_empty() {
        return;
    }
    say!(
        "  {:<32} {:<16} {:>5} {:>7}  STATE",
        "NAME",
        "RUNTIME",
        "WARM",
        "RUNNING"
    );
    for f in &functions {
        say!(
            "  {:<32} {:<16} {:>5} {:>7}  {}",
            text(&f["name"]),
            text(&f["runtime"]),
            count(&f["warm_instances"]),
            count(&f["running_invocations"]),
            text(&f["state"]),
        );
        if let Some(reason) = f["reason"].as_str() {
            say!("      {reason}");
        }
    }
}

fn topics_and_sources(status: &Value) {
    let topics = status["topics"].as_array().cloned().unwrap_or_default();
    say!("TOPICS ({})", topics.len());
    for t in &topics {
        let subs = t["subscriptions"].as_array().cloned().unwrap_or_default();
        say!("  {:<40} {} subscriptions", text(&t["name"]), subs.len());
        for s in &subs {
            let pending = if s["pending"] == true {
                "  [pending confirmation]"
            } else {
                ""
            };
            let filter = s["filter"]
                .as_str()
                .map(|f| format!("  filter {f}"))
                .unwrap_or_default();
            say!(
                "    {:<11} {}{pending}{filter}",
                text(&s["protocol"]),
                text(&s["endpoint"])
            );
        }
    }
    let sources = status["event_source_mappings"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    say!("QUEUE SOURCES ({})", sources.len());
    for m in &sources {
        say!(
            "  {:<32} <- {:<32} batch {:<5} {}",
            text(&m["function"]),
            text(&m["queue"]),
            count(&m["batch_size"]),
            text(&m["state"]),
        );
    }
}

fn buckets(status: &Value) {
    let buckets = status["buckets"].as_array().cloned().unwrap_or_default();
    say!("BUCKETS ({})", buckets.len());
    for b in &buckets {
        let notifications = b["notifications"].as_array().cloned().unwrap_or_default();
        let eventbridge = if b["eventbridge"] == true {
            ", EventBridge"
        } else {
            ""
        };
        say!(
            "  {:<40} versioning {:<9}  {} notifications{eventbridge}",
            text(&b["name"]),
            b["versioning"].as_str().unwrap_or("off"),
            notifications.len(),
        );
        for n in &notifications {
            let arn = text(&n["arn"]);
            let target = match arn.split_once(":function:") {
                Some((_, rest)) => rest,
                None => arn.rsplit(':').next().unwrap_or(arn),
            };
            let events: Vec<&str> = n["events"]
                .as_array()
                .map(|e| e.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let filter: String = [("prefix", &n["prefix"]), ("suffix", &n["suffix"])]
                .iter()
                .filter_map(|(k, v)| Some(format!("  {k} {}", v.as_str()?)))
                .collect();
            say!(
                "    {:<9} {:<30} {}{filter}",
                text(&n["kind"]),
                target,
                events.join(",")
            );
        }
    }
}

fn buses_and_rules(status: &Value) {
    let buses = status["buses"].as_array().cloned().unwrap_or_default();
    say!("BUSES ({})", buses.len());
    for b in &buses {
        say!("  {:<40} {} rules", text(&b["name"]), count(&b["rules"]));
    }
    let rules = status["rules"].as_array().cloned().unwrap_or_default();
    say!("RULES ({})", rules.len());
    for r in &rules {
        let what = r["event_pattern"]
            .as_str()
            .or(r["schedule"].as_str())
            .unwrap_or("");
        let next = r["next_tick"]
            .as_str()
            .map(|t| format!("  next {t}"))
            .unwrap_or_default();
        say!(
            "  {:<40} {:<8} {} targets  {what}{next}",
            format!("{}/{}", text(&r["bus"]), text(&r["name"])),
            text(&r["state"]),
            count(&r["targets"]),
        );
    }
}

fn schedules_and_apis(status: &Value) {
    let schedules = status["schedules"].as_array().cloned().unwrap_or_default();
    say!("SCHEDULES ({})", schedules.len());
    for s in &schedules {
        say!(
            "  {:<40} {:<8} {:<28} next {}",
            format!("{}/{}", text(&s["group"]), text(&s["name"])),
            text(&s["state"]),
            text(&s["expression"]),
            s["next_tick"].as_str().unwrap_or("never"),
        );
    }
    let apis = status["apis"].as_array().cloned().unwrap_or_default();
    say!("HTTP APIS ({})", apis.len());
    for a in &apis {
        let routes: Vec<&str> = a["routes"]
            .as_array()
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        say!(
            "  {:<40} {}  {}",
            text(&a["name"]),
            text(&a["base_path"]),
            routes.join(", ")
        );
    }
}

/// Prints `part` of the running eddy's status.
pub fn run(args: StatusArgs, part: Part) -> ExitCode {
    block_on(async move {
        let client = Client::new(&args.endpoint)?;
        let path = format!("/_eddy/status?region={}", client.region());
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(args.wait);
        let status = loop {
            match client.eddy_get(&path).await {
                Ok(status) => break status,
                Err(_) if std::time::Instant::now() < deadline => {
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
                Err(e) => return Err(e),
            }
        };
        if args.json {
            let shown = match part {
                Part::All => status,
                Part::Queues => status["queues"].clone(),
                Part::Functions => status["functions"].clone(),
            };
            say!("{shown}");
            return Ok(ExitCode::SUCCESS);
        }
        match part {
            Part::All => {
                say!(
                    "eddy at {} (routes {}), region {}, node {}, {}",
                    text(&status["aws_endpoint"]),
                    text(&status["http_endpoint"]),
                    text(&status["region"]),
                    text(&status["node"]),
                    text(&status["now"]),
                );
                buses_and_rules(&status);
                queues(&status);
                functions(&status);
                topics_and_sources(&status);
                buckets(&status);
                schedules_and_apis(&status);
            }
            Part::Queues => queues(&status),
            Part::Functions => functions(&status),
        }
        Ok(ExitCode::SUCCESS)
    })
}
