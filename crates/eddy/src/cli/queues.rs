//! `eddy queue send|receive|list` and `eddy dlq redrive`.

use std::process::ExitCode;

use serde_json::{Value, json};

use super::{Client, Endpoint, args_or_lines, block_on, progress, progress_enabled};

#[derive(Debug, clap::Subcommand)]
pub enum QueueCommand {
    /// Send messages to a queue.
    #[command(after_help = "Examples:
  eddy queue send jobs '{\"task\": 1}' '{\"task\": 2}'
  cat bodies.txt | eddy queue send jobs")]
    Send(SendArgs),
    /// Receive (and by default delete) messages from a queue.
    #[command(after_help = "Examples:
  eddy queue receive jobs
  eddy queue receive jobs --max 10 --wait 20 --keep --json")]
    Receive(ReceiveArgs),
    /// List queues with their depth (visible, in flight, delayed) and dead-letter queue.
    List(super::status::StatusArgs),
}

#[derive(Debug, clap::Args)]
pub struct SendArgs {
    /// The queue's name.
    queue: String,
    /// Message bodies; without any, one body per stdin line.
    bodies: Vec<String>,
    /// MessageGroupId (FIFO queues).
    #[arg(long)]
    group: Option<String>,
    #[command(flatten)]
    endpoint: Endpoint,
}

#[derive(Debug, clap::Args)]
pub struct ReceiveArgs {
    /// The queue's name.
    queue: String,
    /// Most messages to receive (1-10).
    #[arg(long, default_value_t = 10)]
    max: u32,
    /// Seconds to wait for a message (long polling, 0-20).
    #[arg(long, default_value_t = 0)]
    wait: u32,
    /// Leave the messages on the queue (they return after the visibility timeout).
    #[arg(long)]
    keep: bool,
    /// One JSON object per message (body, attributes, message attributes).
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    endpoint: Endpoint,
}

async fn queue_url(client: &Client, name: &str) -> anyhow::Result<String> {
    let r = client
        .call("AmazonSQS.GetQueueUrl", json!({"QueueName": name}))
        .await?;
    Ok(r["QueueUrl"].as_str().unwrap_or("").to_owned())
}

pub fn run(cmd: QueueCommand) -> ExitCode {
    match cmd {
        QueueCommand::List(args) => super::status::run(args, super::status::Part::Queues),
        QueueCommand::Send(args) => block_on(async move {
            let client = Client::new(&args.endpoint)?;
            let url = queue_url(&client, &args.queue).await?;
            let bodies = args_or_lines(args.bodies)?;
            let show = progress_enabled() && bodies.len() > 100;
            for (i, chunk) in bodies.chunks(10).enumerate() {
                let entries: Vec<Value> = chunk
                    .iter()
                    .enumerate()
                    .map(|(j, b)| {
                        let mut e = json!({"Id": format!("m{j}"), "MessageBody": b});
                        if let Some(g) = &args.group {
                            e["MessageGroupId"] = json!(g);
                            e["MessageDeduplicationId"] = json!(uuid_like(i * 10 + j));
                        }
                        e
                    })
                    .collect();
                let r = client
                    .call(
                        "AmazonSQS.SendMessageBatch",
                        json!({"QueueUrl": url, "Entries": entries}),
                    )
                    .await?;
                for ok in r["Successful"].as_array().cloned().unwrap_or_default() {
                    if !show {
                        say!("{}", ok["MessageId"].as_str().unwrap_or(""));
                    }
                }
                if let Some(failed) = r["Failed"].as_array().filter(|f| !f.is_empty()) {
                    for f in failed {
                        eprintln!(
                            "failed: {}: {}",
                            f["Code"].as_str().unwrap_or(""),
                            f["Message"].as_str().unwrap_or("")
                        );
                    }
                    return Ok(ExitCode::FAILURE);
                }
                if show {
                    progress(
                        "sending",
                        (i * 10 + chunk.len()).min(bodies.len()),
                        bodies.len(),
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }),
        QueueCommand::Receive(args) => block_on(async move {
            let client = Client::new(&args.endpoint)?;
            let url = queue_url(&client, &args.queue).await?;
            let r = client
                .call(
                    "AmazonSQS.ReceiveMessage",
                    json!({"QueueUrl": url, "MaxNumberOfMessages": args.max, "WaitTimeSeconds": args.wait,
                           "MessageAttributeNames": ["All"], "MessageSystemAttributeNames": ["All"]}),
                )
                .await?;
            let messages = r["Messages"].as_array().cloned().unwrap_or_default();
            for m in &messages {
                if args.json {
                    say!(
                        "{}",
                        json!({"MessageId": m["MessageId"], "Body": m["Body"], "Attributes": m["Attributes"],
                               "MessageAttributes": m["MessageAttributes"]})
                    );
                } else {
                    say!("{}", m["Body"].as_str().unwrap_or(""));
                    if let Some(attrs) = m["MessageAttributes"].as_object() {
                        for (k, v) in attrs {
                            eprintln!("  {k} = {}", v["StringValue"].as_str().unwrap_or(""));
                        }
                    }
                }
                if !args.keep {
                    client
                        .call(
                            "AmazonSQS.DeleteMessage",
                            json!({"QueueUrl": url, "ReceiptHandle": m["ReceiptHandle"]}),
                        )
                        .await?;
                }
            }
            if messages.is_empty() && !args.json {
                eprintln!("(no messages)");
            }
            Ok(ExitCode::SUCCESS)
        }),
    }
}

fn uuid_like(i: usize) -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{t:x}-{i}")
}

#[derive(Debug, clap::Subcommand)]
pub enum DlqCommand {
    /// Move a dead-letter queue's messages back where they came from: events a rule target gave
    /// up on go back to that target; messages a queue's redrive policy moved go back to it.
    #[command(after_help = "Examples:
  eddy dlq redrive webhook-dlq")]
    Redrive(RedriveArgs),
}

#[derive(Debug, clap::Args)]
pub struct RedriveArgs {
    /// The dead-letter queue.
    queue: String,
    /// Print the counts as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    endpoint: Endpoint,
}

pub fn dlq(cmd: DlqCommand) -> ExitCode {
    match cmd {
        DlqCommand::Redrive(args) => block_on(async move {
            let client = Client::new(&args.endpoint)?;
            let r = client
                .eddy(
                    "/_eddy/redrive",
                    json!({"Queue": args.queue, "Region": client.region()}),
                )
                .await?;
            if args.json {
                say!("{r}");
            } else {
                say!(
                    "{}: {} back to their targets, {} back to their source queue, {} left (their rule or target is gone)",
                    args.queue,
                    r["RedrivenToTargets"],
                    r["RedrivenToQueue"],
                    r["Skipped"]
                );
            }
            Ok(ExitCode::SUCCESS)
        }),
    }
}
