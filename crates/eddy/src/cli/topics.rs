//! `eddy publish` and `eddy topics`: publishing to a topic and seeing its subscriptions, over
//! the SNS API (the query protocol, as the AWS SDKs speak it).

use std::process::ExitCode;

use anyhow::bail;
use serde_json::json;

use super::{Client, Endpoint, args_or_lines, block_on, progress, progress_enabled};

/// Arguments of `eddy publish`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  eddy publish orders '{\"id\": 1, \"total\": 20}'
  eddy publish orders 'disk full' --subject Alert --attribute severity=high --attribute level:Number=3
  cat messages.txt | eddy publish orders
  eddy publish orders.fifo 'step 1' --group order-1")]
pub struct PublishArgs {
    /// The topic: its name or ARN.
    topic: String,
    /// Messages; without any, one message per stdin line.
    messages: Vec<String>,
    /// The subject (email subscribers see it).
    #[arg(long)]
    subject: Option<String>,
    /// A message attribute, `NAME=VALUE` (a String) or `NAME:TYPE=VALUE` (`Number`,
    /// `String.Array`, …); repeatable.
    #[arg(long = "attribute", value_name = "NAME[:TYPE]=VALUE")]
    attributes: Vec<String>,
    /// MessageGroupId (FIFO topics).
    #[arg(long)]
    group: Option<String>,
    /// MessageDeduplicationId (FIFO topics without content-based deduplication); with several
    /// messages, each gets it with `-N` appended.
    #[arg(long)]
    dedup: Option<String>,
    /// Print one JSON object per message (`MessageId`, `SequenceNumber`).
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    endpoint: Endpoint,
}

/// Arguments of `eddy topics`.
#[derive(Debug, clap::Args)]
pub struct TopicsArgs {
    /// Print JSON (topics with their subscriptions) instead of a table.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    endpoint: Endpoint,
}

/// The text of the first `<tag>…</tag>` in an XML body, unescaped.
pub fn element(xml: &str, tag: &str) -> Option<String> {
    elements(xml, tag).into_iter().next()
}

/// The texts of every `<tag>…</tag>` in an XML body, unescaped.
pub fn elements(xml: &str, tag: &str) -> Vec<String> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(i) = rest.find(&open) {
        rest = &rest[i + open.len()..];
        let Some(j) = rest.find(&close) else { break };
        out.push(unescape(&rest[..j]));
        rest = &rest[j + close.len()..];
    }
    out
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&#13;", "\r")
        .replace("&amp;", "&")
}

fn p(k: impl Into<String>, v: impl Into<String>) -> (String, String) {
    (k.into(), v.into())
}

/// A topic's ARN from its name or ARN.
async fn topic_arn(client: &Client, topic: &str) -> anyhow::Result<String> {
    if topic.starts_with("arn:") {
        return Ok(topic.to_owned());
    }
    for arn in list_all(client, "ListTopics", &[], "TopicArn").await? {
        if arn.rsplit(':').next() == Some(topic) {
            return Ok(arn);
        }
    }
    bail!(
        "no topic named {topic} in {} (see `eddy topics`)",
        client.region()
    )
}

/// Every page of a list action: the values of `tag` in each.
async fn list_all(
    client: &Client,
    action: &str,
    params: &[(String, String)],
    tag: &str,
) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut ps = vec![p("Action", action)];
        ps.extend_from_slice(params);
        if let Some(t) = &token {
            ps.push(p("NextToken", t.clone()));
        }
        let xml = client.query("sns", &ps).await?;
        out.extend(elements(&xml, tag));
        token = element(&xml, "NextToken");
        if token.is_none() {
            return Ok(out);
        }
    }
}

/// The message attribute parameters of `--attribute` arguments (entry `n` of the call).
fn attribute_params(prefix: &str, attributes: &[String]) -> anyhow::Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for (i, a) in attributes.iter().enumerate() {
        let Some((name, value)) = a.split_once('=') else {
            bail!("--attribute {a}: write NAME=VALUE or NAME:TYPE=VALUE");
        };
        let (name, kind) = name.split_once(':').unwrap_or((name, "String"));
        let e = format!("{prefix}MessageAttributes.entry.{}", i + 1);
        out.push(p(format!("{e}.Name"), name));
        out.push(p(format!("{e}.Value.DataType"), kind));
        out.push(p(format!("{e}.Value.StringValue"), value));
    }
    Ok(out)
}

pub fn publish(args: PublishArgs) -> ExitCode {
    block_on(async move {
        let client = Client::new(&args.endpoint)?;
        let arn = topic_arn(&client, &args.topic).await?;
        let messages = args_or_lines(args.messages.clone())?;
        let show = progress_enabled() && messages.len() > 100 && !args.json;
        let several = messages.len() > 1;
        let mut done = 0;
        for (c, chunk) in messages.chunks(10).enumerate() {
            let mut ps = vec![p("Action", "PublishBatch"), p("TopicArn", arn.clone())];
            for (i, m) in chunk.iter().enumerate() {
                let n = c * 10 + i;
                let e = format!("PublishBatchRequestEntries.member.{}.", i + 1);
                ps.push(p(format!("{e}Id"), format!("m{n}")));
                ps.push(p(format!("{e}Message"), m.clone()));
                if let Some(s) = &args.subject {
                    ps.push(p(format!("{e}Subject"), s.clone()));
                }
                if let Some(g) = &args.group {
                    ps.push(p(format!("{e}MessageGroupId"), g.clone()));
                }
                if let Some(d) = &args.dedup {
                    let d = if several {
                        format!("{d}-{n}")
                    } else {
                        d.clone()
                    };
                    ps.push(p(format!("{e}MessageDeduplicationId"), d));
                }
                ps.extend(attribute_params(&e, &args.attributes)?);
            }
            let xml = client.query("sns", &ps).await?;
            let ids = elements(&xml, "MessageId");
            let seqs = elements(&xml, "SequenceNumber");
            for (i, id) in ids.iter().enumerate() {
                if args.json {
                    let mut o = json!({"MessageId": id});
                    if let Some(s) = seqs.get(i) {
                        o["SequenceNumber"] = json!(s);
                    }
                    say!("{o}");
                } else if !show {
                    say!("{id}");
                }
            }
            for (code, message) in elements(&xml, "Code").iter().zip(elements(&xml, "Message")) {
                eprintln!("failed: {code}: {message}");
            }
            done += chunk.len();
            if show {
                progress("publishing", done, messages.len());
            }
        }
        if show {
            say!("{} messages published to {arn}", messages.len());
        }
        Ok(ExitCode::SUCCESS)
    })
}

pub fn topics(args: TopicsArgs) -> ExitCode {
    block_on(async move {
        let client = Client::new(&args.endpoint)?;
        let arns = list_all(&client, "ListTopics", &[], "TopicArn").await?;
        let mut out = Vec::new();
        for arn in &arns {
            let xml = client
                .query(
                    "sns",
                    &[
                        p("Action", "ListSubscriptionsByTopic"),
                        p("TopicArn", arn.clone()),
                    ],
                )
                .await?;
            let mut subs = Vec::new();
            for member in elements(&xml, "member") {
                let sub_arn = element(&member, "SubscriptionArn").unwrap_or_default();
                let mut filter = None;
                if sub_arn.starts_with("arn:") {
                    let attrs = client
                        .query(
                            "sns",
                            &[
                                p("Action", "GetSubscriptionAttributes"),
                                p("SubscriptionArn", sub_arn.clone()),
                            ],
                        )
                        .await?;
                    let keys = elements(&attrs, "key");
                    let values = elements(&attrs, "value");
                    filter = keys
                        .iter()
                        .zip(values)
                        .find(|(k, _)| *k == "FilterPolicy")
                        .map(|(_, v)| v);
                }
                subs.push(json!({
                    "SubscriptionArn": sub_arn,
                    "Protocol": element(&member, "Protocol"),
                    "Endpoint": element(&member, "Endpoint"),
                    "FilterPolicy": filter,
                }));
            }
            out.push(json!({"TopicArn": arn, "Subscriptions": subs}));
        }
        if args.json {
            say!("{}", serde_json::to_string_pretty(&out)?);
            return Ok(ExitCode::SUCCESS);
        }
        if out.is_empty() {
            say!("no topics in {}", client.region());
        }
        for t in &out {
            let arn = t["TopicArn"].as_str().unwrap_or_default();
            let name = arn.rsplit(':').next().unwrap_or(arn);
            let subs = t["Subscriptions"].as_array().cloned().unwrap_or_default();
            say!(
                "{name}  ({} subscription{})",
                subs.len(),
                if subs.len() == 1 { "" } else { "s" }
            );
            for s in subs {
                let pending = if s["SubscriptionArn"] == "PendingConfirmation" {
                    "  [pending confirmation]"
                } else {
                    ""
                };
                let filter = s["FilterPolicy"]
                    .as_str()
                    .map(|f| format!("  filter {f}"))
                    .unwrap_or_default();
                say!(
                    "  {:<10} {}{pending}{filter}",
                    s["Protocol"].as_str().unwrap_or_default(),
                    s["Endpoint"].as_str().unwrap_or_default()
                );
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}
