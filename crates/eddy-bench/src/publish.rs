//! `eddy-bench publish`: SNS publishing and fan-out.
//!
//! Creates a topic with `--subscribers` SQS queues subscribed (raw delivery), then publishes
//! `--messages` messages over `--connections` connections, with Publish (`--batch 1`) or
//! PublishBatch (`--batch 2..10`), each acknowledged only once the message and its deliveries
//! are durable. Measures:
//! * publish throughput: messages acknowledged per second, and the latency of each call;
//! * fan-out: deliveries to the queues per second, from the first publish to the last delivery
//!   (read from eddy's delivery metrics, labelled with the topic).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::deliveries::metric;
use crate::http1::Conn;
use crate::percentile;

#[derive(Debug, clap::Args)]
pub struct PublishArgs {
    /// host:port of eddy's AWS endpoint.
    #[arg(long, default_value = "127.0.0.1:4566")]
    endpoint: String,
    /// SQS queues subscribed to the topic.
    #[arg(long, default_value_t = 1)]
    subscribers: usize,
    /// Messages to publish.
    #[arg(long, default_value_t = 100_000)]
    messages: u64,
    /// Messages per call: 1 is Publish, 2-10 PublishBatch.
    #[arg(long, default_value_t = 10)]
    batch: usize,
    /// Concurrent connections.
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// Message body size in bytes.
    #[arg(long, default_value_t = 100)]
    size: usize,
}

fn enc(s: &str) -> String {
    eddy_net::url::percent_encode(s, b"")
}

async fn query(c: &mut Conn, form: &str) -> anyhow::Result<String> {
    let r = c.query_call(form).await?;
    let text = String::from_utf8_lossy(&r.body).into_owned();
    anyhow::ensure!(r.status == 200, "{form} failed: {text}");
    Ok(text)
}

/// The text of the first `<tag>…</tag>` in an XML body.
fn element<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let len = xml[start..].find('<')?;
    Some(&xml[start..start + len])
}

/// The form body of one publish call of `batch` messages.
fn publish_form(topic_arn: &str, batch: usize, seq: u64, body: &str) -> String {
    let topic = enc(topic_arn);
    if batch == 1 {
        return format!(
            "Action=Publish&TopicArn={topic}&Message={}-{seq}",
            enc(body)
        );
    }
    let mut form = format!("Action=PublishBatch&TopicArn={topic}");
    for i in 1..=batch {
        form.push_str(&format!(
            "&PublishBatchRequestEntries.member.{i}.Id=m{i}\
             &PublishBatchRequestEntries.member.{i}.Message={}-{seq}-{i}",
            enc(body)
        ));
    }
    form
}

pub async fn run(args: PublishArgs) -> anyhow::Result<()> {
    anyhow::ensure!((1..=10).contains(&args.batch), "--batch must be 1-10");
    let name = format!("bench-publish-{}", std::process::id());
    let mut c = Conn::connect(&args.endpoint).await?;
    let created = query(&mut c, &format!("Action=CreateTopic&Name={name}")).await?;
    let topic_arn = element(&created, "TopicArn")
        .ok_or_else(|| anyhow::anyhow!("CreateTopic answered no TopicArn: {created}"))?
        .to_owned();
    for i in 0..args.subscribers {
        let q = format!("{name}-{i}");
        let body = serde_json::json!({ "QueueName": q }).to_string();
        let r = c.aws_call("AmazonSQS.CreateQueue", body.as_bytes()).await?;
        anyhow::ensure!(r.status == 200, "CreateQueue failed");
        query(
            &mut c,
            &format!(
                "Action=Subscribe&TopicArn={}&Protocol=sqs&Endpoint={}\
                 &Attributes.entry.1.key=RawMessageDelivery&Attributes.entry.1.value=true",
                enc(&topic_arn),
                enc(&format!("arn:aws:sqs:us-east-1:123456789012:{q}"))
            ),
        )
        .await?;
    }
    let label = format!("rule=\"{topic_arn}\"");
    let filter = ["outcome=\"delivered\"", label.as_str()];
    let before = metric(&args.endpoint, "eddy_delivery_attempts_total", &filter).await?;
    let calls = args.messages.div_ceil(args.batch as u64);
    let body: String = "x".repeat(args.size);
    let next = Arc::new(AtomicU64::new(0));
    let latencies = Arc::new(Mutex::new(Vec::with_capacity(calls as usize)));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..args.connections {
        let (next, latencies) = (next.clone(), latencies.clone());
        let (endpoint, topic_arn, body, batch) = (
            args.endpoint.clone(),
            topic_arn.clone(),
            body.clone(),
            args.batch,
        );
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::connect(&endpoint).await?;
            let mut mine = Vec::new();
            loop {
                let seq = next.fetch_add(1, Ordering::Relaxed);
                if seq >= calls {
                    break;
                }
                let form = publish_form(&topic_arn, batch, seq, &body);
                let t = Instant::now();
                let r = conn.query_call(&form).await?;
                mine.push(t.elapsed().as_micros() as u64);
                anyhow::ensure!(
                    r.status == 200,
                    "publish failed: {}",
                    String::from_utf8_lossy(&r.body)
                );
            }
            latencies
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend(mine);
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let publish_secs = started.elapsed().as_secs_f64();
    let messages = calls * args.batch as u64;
    let want = before + (messages * args.subscribers as u64) as f64;
    loop {
        let done = metric(&args.endpoint, "eddy_delivery_attempts_total", &filter).await?;
        if done >= want {
            break;
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(900),
            "deliveries stalled at {} of {}",
            done - before,
            want - before
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let total_secs = started.elapsed().as_secs_f64();
    let mut lat = std::mem::take(&mut *latencies.lock().unwrap_or_else(|e| e.into_inner()));
    lat.sort_unstable();
    let deliveries = messages * args.subscribers as u64;
    println!(
        "{}",
        serde_json::json!({
            "bench": "publish",
            "messages": messages,
            "batch": args.batch,
            "connections": args.connections,
            "subscribers": args.subscribers,
            "publish_seconds": (publish_secs * 100.0).round() / 100.0,
            "messages_per_sec": (messages as f64 / publish_secs).round(),
            "calls_per_sec": (calls as f64 / publish_secs).round(),
            "call_ms": {
                "p50": percentile(&lat, 0.50),
                "p99": percentile(&lat, 0.99),
                "max": percentile(&lat, 1.0),
            },
            "deliveries": deliveries,
            "all_delivered_seconds": (total_secs * 100.0).round() / 100.0,
            "deliveries_per_sec": (deliveries as f64 / total_secs).round(),
        })
    );
    query(
        &mut c,
        &format!("Action=DeleteTopic&TopicArn={}", enc(&topic_arn)),
    )
    .await?;
    for i in 0..args.subscribers {
        let body = serde_json::json!({
            "QueueUrl": format!("http://{}/123456789012/{name}-{i}", args.endpoint)
        })
        .to_string();
        let _gone = c.aws_call("AmazonSQS.DeleteQueue", body.as_bytes()).await?;
    }
    Ok(())
}
