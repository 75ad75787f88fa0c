//! `eddy buckets`: the buckets with their region, versioning and where their object events go,
//! over the S3 API (`ListBuckets`, `GetBucketVersioning`,
//! `GetBucketNotificationConfiguration`, as the AWS SDKs call them).

use std::process::ExitCode;

use reqwest::Method;
use serde_json::{Value, json};

use super::topics::{element, elements};
use super::{Client, Endpoint, block_on};

/// Arguments of `eddy buckets`.
#[derive(Debug, clap::Args)]
pub struct BucketsArgs {
    /// Print JSON (buckets with their versioning and notifications) instead of a table.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    endpoint: Endpoint,
}

/// An S3 GET's XML body.
async fn get(client: &Client, path: &str) -> anyhow::Result<String> {
    let (_, _, body) = client
        .rest("s3", Method::GET, path, &[], Vec::new())
        .await?;
    Ok(String::from_utf8_lossy(&body).into_owned())
}

/// The notification configurations of a `NotificationConfiguration` document, as JSON:
/// `{"Kind", "Id", "Arn", "Events", "Prefix", "Suffix"}`.
fn destinations(xml: &str) -> Vec<Value> {
    let mut out = Vec::new();
    // S3's XML names function configurations `CloudFunctionConfiguration`.
    for (tag, arn_tag, kind) in [
        ("QueueConfiguration", "Queue", "queue"),
        ("TopicConfiguration", "Topic", "topic"),
        ("CloudFunctionConfiguration", "CloudFunction", "function"),
        (
            "LambdaFunctionConfiguration",
            "LambdaFunctionArn",
            "function",
        ),
    ] {
        for c in elements(xml, tag) {
            let mut prefix = None;
            let mut suffix = None;
            for rule in elements(&c, "FilterRule") {
                let name = element(&rule, "Name").unwrap_or_default();
                match name.to_ascii_lowercase().as_str() {
                    "prefix" => prefix = element(&rule, "Value"),
                    "suffix" => suffix = element(&rule, "Value"),
                    _ => {}
                }
            }
            out.push(json!({
                "Kind": kind,
                "Id": element(&c, "Id"),
                "Arn": element(&c, arn_tag),
                "Events": elements(&c, "Event"),
                "Prefix": prefix,
                "Suffix": suffix,
            }));
        }
    }
    out
}

/// The name in a queue, topic or function ARN.
fn short(arn: &str) -> &str {
    match arn.split_once(":function:") {
        Some((_, rest)) => rest.split(':').next().unwrap_or(rest),
        None => arn.rsplit(':').next().unwrap_or(arn),
    }
}

pub fn buckets(args: BucketsArgs) -> ExitCode {
    block_on(async move {
        let client = Client::new(&args.endpoint)?;
        let list = get(&client, "/").await?;
        let mut out = Vec::new();
        for b in elements(&list, "Bucket") {
            let name = element(&b, "Name").unwrap_or_default();
            let path = format!("/{}", eddy_net::url::percent_encode(&name, b""));
            let versioning = element(
                &get(&client, &format!("{path}?versioning")).await?,
                "Status",
            );
            let n = get(&client, &format!("{path}?notification")).await?;
            let eventbridge = n.contains("<EventBridgeConfiguration");
            out.push(json!({
                "Name": name,
                "Region": element(&b, "BucketRegion"),
                "Versioning": versioning,
                "EventBridge": eventbridge,
                "Notifications": destinations(&n),
            }));
        }
        if args.json {
            say!("{}", serde_json::to_string_pretty(&out)?);
            return Ok(ExitCode::SUCCESS);
        }
        if out.is_empty() {
            say!("no buckets");
        }
        for b in &out {
            let notifications = b["Notifications"].as_array().cloned().unwrap_or_default();
            let mut summary = vec![format!(
                "{} notification{}",
                notifications.len(),
                if notifications.len() == 1 { "" } else { "s" }
            )];
            if b["EventBridge"] == true {
                summary.push("EventBridge".to_owned());
            }
            say!(
                "{:<40} {:<14} versioning {:<9}  {}",
                b["Name"].as_str().unwrap_or_default(),
                b["Region"].as_str().unwrap_or("-"),
                b["Versioning"].as_str().unwrap_or("off"),
                summary.join(", "),
            );
            for d in notifications {
                let events: Vec<&str> = d["Events"]
                    .as_array()
                    .map(|e| e.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                let filter: String = [("prefix", &d["Prefix"]), ("suffix", &d["Suffix"])]
                    .iter()
                    .filter_map(|(k, v)| Some(format!("  {k} {}", v.as_str()?)))
                    .collect();
                say!(
                    "  {:<9} {:<30} {}{filter}",
                    d["Kind"].as_str().unwrap_or_default(),
                    short(d["Arn"].as_str().unwrap_or_default()),
                    events.join(","),
                );
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notification_documents_are_read() {
        let xml = "<NotificationConfiguration><QueueConfiguration><Id>q</Id>\
            <Queue>arn:aws:sqs:us-east-1:1:jobs</Queue><Event>s3:ObjectCreated:*</Event>\
            <Filter><S3Key><FilterRule><Name>prefix</Name><Value>in/</Value></FilterRule>\
            </S3Key></Filter></QueueConfiguration><CloudFunctionConfiguration><Id>f</Id>\
            <CloudFunction>arn:aws:lambda:us-east-1:1:function:thumbs</CloudFunction>\
            <Event>s3:ObjectRemoved:*</Event></CloudFunctionConfiguration>\
            <EventBridgeConfiguration></EventBridgeConfiguration></NotificationConfiguration>";
        let d = destinations(xml);
        assert_eq!(d.len(), 2);
        assert_eq!(d[0]["Kind"], "queue");
        assert_eq!(d[0]["Prefix"], "in/");
        assert_eq!(d[0]["Suffix"], Value::Null);
        assert_eq!(short(d[1]["Arn"].as_str().unwrap_or_default()), "thumbs");
        assert_eq!(d[1]["Events"], json!(["s3:ObjectRemoved:*"]));
    }
}
