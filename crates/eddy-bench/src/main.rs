//! The `eddy-bench` binary: load generators that drive a running eddy over real HTTP. They live
//! here rather than in the production `eddy` binary, and talk to eddy only over its endpoints.

/// mimalloc, as the `eddy` binary: the generators' own CPU cost stays comparable with the numbers
/// recorded while they were `eddy bench` (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod deliveries;
mod function_url;
mod http1;
mod invoke;
mod logs_insights;
mod publish;
mod put_events;
mod queue_depth;
mod routes;
mod s3;
mod schedules;
mod server;
mod sources;
mod sqs_protocols;

use std::process::ExitCode;

use clap::Parser;

/// Load generators against a running eddy. Each prints one JSON line.
#[derive(Debug, Parser)]
#[command(name = "eddy-bench", version, about)]
enum Command {
    /// PutEvents load: many connections, batches of entries, every event durable before its
    /// response. Prints one JSON line with events/s and latency percentiles.
    ///
    /// Example: `eddy-bench put-events --endpoint 127.0.0.1:4566 --connections 64 --seconds 10`
    PutEvents(put_events::PutEventsArgs),
    /// Delivery throughput and end-to-end latency to a queue or an HTTP target (an in-process
    /// receiver behind an API destination). Prints one JSON line.
    ///
    /// Examples: `eddy-bench deliveries --target queue --events 100000`,
    /// `eddy-bench deliveries --target http --events 20000 --rate 2000 --batch 1`
    Deliveries(deliveries::DeliveriesArgs),
    /// Function invocations through the Lambda API: cold starts (new process per Invoke) and
    /// warm throughput and latency. Prints one JSON line.
    ///
    /// Example: `eddy-bench invoke --connections 8 --seconds 10` (uses `eddy-test-function`
    /// next to the eddy-bench binary as the function's bootstrap)
    Invoke(invoke::InvokeArgs),
    /// Creates many EventBridge Scheduler schedules (CreateSchedule calls/s), then watches the
    /// server: CPU from /proc/PID/stat, tick lateness from its metrics. Prints one JSON line.
    ///
    /// Example: `eddy-bench schedules --count 100000 --pid $(pidof eddy)`
    Schedules(schedules::SchedulesArgs),
    /// HTTP routes: a function route's throughput, the latency eddy adds over a bare hyper
    /// server at a steady rate, and a bus route's throughput (events durable before each 202).
    /// Prints one JSON line.
    ///
    /// Example: `eddy-bench routes --endpoint 127.0.0.1:4566 --http 127.0.0.1:3000`
    Routes(routes::RoutesArgs),
    /// SNS: Publish or PublishBatch throughput to a topic with SQS subscribers, and the fan-out
    /// deliveries per second. Prints one JSON line.
    ///
    /// Examples: `eddy-bench publish --batch 10 --subscribers 1`,
    /// `eddy-bench publish --batch 1 --messages 50000`, `eddy-bench publish --subscribers 10`
    Publish(publish::PublishArgs),
    /// PutEvents latency while a deep queue drains: fills a queue to each depth with
    /// SendMessageBatch, then drains it (ReceiveMessage + DeleteMessageBatch) while PutEvents
    /// runs open-loop at a fixed rate; with a no-drain baseline. Starts its own `eddy serve`
    /// unless given `--endpoint`. Prints one JSON line.
    ///
    /// Example: `eddy-bench queue-depth --depths 1000,1000000 --rate 5000 --seconds 30`
    QueueDepth(queue_depth::QueueDepthArgs),
    /// Lambda event source mappings (SQS queue → warm Rust function): how fast a full queue
    /// drains through the function, how fast messages flow while being sent, and the latency
    /// from SendMessage's response to the function's handler at a steady rate. Prints one JSON
    /// line.
    ///
    /// Example: `eddy-bench sources --messages 100000 --batch-size 10 --rate 500` (uses
    /// `eddy-test-function` next to the eddy-bench binary as the function's bootstrap)
    Sources(sources::SourcesArgs),
    /// S3 on the AWS endpoint: a large object PUT (single request and multipart) and GET against
    /// `dd`'s write and read bandwidth on the same file system, with eddy's resident memory;
    /// small-object PutObject and GetObject rates by concurrency; and the latency from a PUT's
    /// response to its EventBridge event received from an SQS queue. Starts its own `eddy serve`
    /// unless given `--endpoint`. Prints one JSON line.
    ///
    /// Example: `eddy-bench s3 --large-bytes 1073741824 --concurrency 16,64,128 --seconds 10`
    S3(s3::S3Args),
    /// Logs Insights end to end: writes a large log group with PutLogEvents, then times
    /// StartQuery to a `Complete` GetQueryResults for a few queries. Prints one JSON line.
    ///
    /// Example: `eddy-bench logs-insights --events 1000000 --runs 3`
    LogsInsights(logs_insights::LogsInsightsArgs),
    /// SQS over AWS JSON 1.0 against the AWS query protocol on one server: SendMessage, and
    /// ReceiveMessage(10) + DeleteMessageBatch, msgs/s per protocol (median of interleaved
    /// rounds) and the ratio query/JSON. Starts its own `eddy serve` unless given `--endpoint`.
    /// Prints one JSON line.
    ///
    /// Example: `eddy-bench sqs-protocols --connections 16 --rounds 6 --seconds 4`
    SqsProtocols(sqs_protocols::SqsProtocolsArgs),
    /// The latency a function URL adds over an HTTP API route to the same function: one
    /// keep-alive connection each, sequential requests in interleaved rounds, p50/p90/p99/max
    /// of both and their differences. Starts its own `eddy serve` unless given `--endpoint`
    /// and `--http`. Prints one JSON line.
    ///
    /// Example: `eddy-bench function-url --requests 2000 --warmup 200 --rounds 10` (uses
    /// `eddy-test-function` next to the eddy-bench binary as the function's bootstrap)
    FunctionUrl(function_url::FunctionUrlArgs),
}

fn main() -> ExitCode {
    let command = Command::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("eddy-bench: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match command {
        Command::PutEvents(args) => rt.block_on(put_events::run(args)),
        Command::Deliveries(args) => rt.block_on(deliveries::run(args)),
        Command::Invoke(args) => rt.block_on(invoke::run(args)),
        Command::Schedules(args) => rt.block_on(schedules::run(args)),
        Command::Routes(args) => rt.block_on(routes::run(args)),
        Command::Publish(args) => rt.block_on(publish::run(args)),
        Command::QueueDepth(args) => rt.block_on(queue_depth::run(args)),
        Command::Sources(args) => rt.block_on(sources::run(args)),
        Command::S3(args) => rt.block_on(s3::run(args)),
        Command::LogsInsights(args) => rt.block_on(logs_insights::run(args)),
        Command::SqsProtocols(args) => rt.block_on(sqs_protocols::run(args)),
        Command::FunctionUrl(args) => rt.block_on(function_url::run(args)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("eddy-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The endpoints an `--endpoint` names: one `host:port`, or several comma-separated (the nodes
/// of a cluster; connections are spread over them in turn).
pub(crate) fn endpoints(arg: &str) -> Vec<String> {
    arg.split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The `p` quantile (0.0-1.0) of sorted microseconds, in milliseconds (0 when there are none).
pub(crate) fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)] as f64 / 1000.0
}
