//! The manifest's types: what `eddy.toml` may say, as serde structs. This module owns the
//! format's shape (every table rejects unknown keys); the checks that need more than one value
//! (ranges, references, names, patterns, expressions) live in `validate`.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

/// The bus every account has; rules without `bus` go there.
pub const DEFAULT_BUS: &str = "default";
/// The schedule group schedules without `group` join.
pub const DEFAULT_GROUP: &str = "default";

/// A parsed and validated `eddy.toml` (`version = 1`). Resources are keyed by name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Manifest {
    /// Always 1.
    pub version: u32,
    /// `[buses.NAME]`: custom event buses (`default` always exists and is not declared).
    pub buses: BTreeMap<String, Bus>,
    /// `[queues.NAME]`: SQS-shaped queues (targets, dead-letter queues).
    pub queues: BTreeMap<String, Queue>,
    /// `[api_destinations.NAME]`: HTTP endpoints rules can deliver to (webhooks).
    pub api_destinations: BTreeMap<String, ApiDestination>,
    /// `[functions.NAME]`: user code run as local processes speaking the Lambda Runtime API.
    pub functions: BTreeMap<String, Function>,
    /// `[topics.NAME]`: SNS-shaped topics and their subscriptions.
    pub topics: BTreeMap<String, Topic>,
    /// `[buckets.NAME]`: S3-shaped buckets and where their object events go.
    pub buckets: BTreeMap<String, Bucket>,
    /// `[rules.NAME]`: a pattern or schedule on one bus, and its targets.
    pub rules: BTreeMap<String, Rule>,
    /// `[schedules.NAME]`: EventBridge Scheduler schedules.
    pub schedules: BTreeMap<String, Schedule>,
    /// `[apis.NAME]`: HTTP APIs: routes and their integrations.
    pub apis: BTreeMap<String, Api>,
}

/// `[buses.NAME]`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bus {
    /// Free text.
    pub description: Option<String>,
}

/// `[queues.NAME]`. A FIFO queue's name ends in `.fifo` (quote it: `[queues."jobs.fifo"]`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Queue {
    /// A FIFO queue (default false).
    #[serde(default)]
    pub fifo: bool,
    /// FIFO only: deduplicate by a SHA-256 of the body.
    pub content_based_deduplication: Option<bool>,
    /// Seconds a received message stays invisible (0-43200, default 30).
    pub visibility_timeout: Option<u32>,
    /// Seconds a message is kept (60-1209600, default 345600).
    pub message_retention: Option<u32>,
    /// Seconds every new message is delayed (0-900, default 0).
    pub delay: Option<u32>,
    /// Move messages received too often to a dead-letter queue.
    pub redrive: Option<Redrive>,
}

/// `redrive = { dead_letter_queue = "NAME", max_receive_count = N }`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Redrive {
    /// A queue of this manifest, or a queue ARN.
    pub dead_letter_queue: String,
    /// Receives before a message moves (1-1000).
    pub max_receive_count: u32,
}

/// `[api_destinations.NAME]`: an HTTP endpoint a rule target can call.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiDestination {
    /// `http://` or `https://` URL (may contain `*` path parameters, as in AWS).
    pub endpoint: String,
    /// HTTP method (default `POST`).
    #[serde(default = "default_method")]
    pub method: String,
    /// Invocations per second (1-300, default 300).
    pub rate_limit: Option<u32>,
}

fn default_method() -> String {
    "POST".to_owned()
}

/// `[functions.NAME]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Function {
    /// A directory, or a `.zip` file, relative to the manifest's directory.
    pub code: String,
    /// A Lambda runtime identifier: `provided.al2023`, `python3.12`, `nodejs22.x`, …
    pub runtime: String,
    /// The handler (`app.handler`); optional for `provided.*` runtimes.
    pub handler: Option<String>,
    /// Environment variables.
    #[serde(default)]
    pub environment: BTreeMap<String, String>,
    /// Seconds an invocation may run (1-900, default 3).
    pub timeout: Option<u32>,
    /// Memory in MB (128-10240, default 128).
    pub memory: Option<u32>,
    /// Most instances running at once (reserved concurrency, 0-1000).
    pub concurrency: Option<u32>,
    /// Asynchronous invocation: retries, event age and destinations.
    #[serde(rename = "async")]
    pub async_invoke: Option<AsyncInvoke>,
    /// Queues the function consumes (event source mappings, `[[functions.NAME.sources]]`).
    #[serde(default)]
    pub sources: Vec<EventSource>,
}

/// `[[functions.NAME.sources]]`: a queue the function consumes, in batches.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventSource {
    /// A queue of this manifest, or a queue ARN.
    pub queue: String,
    /// Messages per invocation (1-10000, default 10; at most 10 for FIFO queues).
    pub batch_size: Option<u32>,
    /// Seconds to gather a batch (0-300, default 0; at least 1 when `batch_size` > 10).
    pub batching_window: Option<u32>,
    /// Most batches at once (2-1000; default 5).
    pub maximum_concurrency: Option<u32>,
    /// Event patterns over the SQS record: messages matching none are dropped uninvoked.
    #[serde(default)]
    pub filters: Vec<Value>,
    /// The function answers `{"batchItemFailures": [...]}` (partial batch failures).
    #[serde(default)]
    pub report_batch_item_failures: bool,
    /// Default true.
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

/// `[topics.NAME]`. A FIFO topic's name ends in `.fifo`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Topic {
    /// A FIFO topic (default false).
    #[serde(default)]
    pub fifo: bool,
    /// FIFO only: deduplicate by a SHA-256 of the message.
    pub content_based_deduplication: Option<bool>,
    /// The display name (email subscribers see it).
    pub display_name: Option<String>,
    /// `[[topics.NAME.subscriptions]]`.
    #[serde(default)]
    pub subscriptions: Vec<Subscription>,
}

/// One subscription: exactly one of `queue`, `function`, `http`, `https`, `email`,
/// `email_json`, `sms`, `bus`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subscription {
    /// A queue of this manifest, or a queue ARN.
    pub queue: Option<String>,
    /// A function of this manifest, or a function ARN.
    pub function: Option<String>,
    /// An `http://` URL.
    pub http: Option<String>,
    /// An `https://` URL.
    pub https: Option<String>,
    /// An email address (written to the topic's log group, not sent).
    pub email: Option<String>,
    /// An email address receiving the JSON notification (written to the log group).
    pub email_json: Option<String>,
    /// A phone number (written to the log group, not sent).
    pub sms: Option<String>,
    /// An event bus of this manifest (or `default`, or a bus ARN): eddy's own protocol, each
    /// notification an event on the bus.
    pub bus: Option<String>,
    /// Deliver the message alone, not the JSON notification (queues and HTTP).
    #[serde(default)]
    pub raw: bool,
    /// An SNS filter policy: a table, or a string of JSON.
    pub filter: Option<Value>,
    /// What the filter applies to: `MessageAttributes` (default) or `MessageBody`.
    pub filter_scope: Option<String>,
    /// Where undeliverable messages go: a queue of this manifest or a queue ARN.
    pub dead_letter_queue: Option<String>,
}

impl Subscription {
    /// `(protocol, endpoint as written)` for each endpoint the subscription sets.
    pub fn endpoints(&self) -> Vec<(&'static str, &str)> {
        [
            ("sqs", &self.queue),
            ("lambda", &self.function),
            ("http", &self.http),
            ("https", &self.https),
            ("email", &self.email),
            ("email-json", &self.email_json),
            ("sms", &self.sms),
            ("eventbridge", &self.bus),
        ]
        .into_iter()
        .filter_map(|(p, e)| Some((p, e.as_deref()?)))
        .collect()
    }
}

/// `[buckets.NAME]`: an S3-shaped bucket. Bucket names are global, as in S3: 3 to 63 lowercase
/// letters, digits, `.` and `-` (quote names with dots: `[buckets."assets.example"]`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bucket {
    /// `true`: versioning enabled; `false`: suspended; absent: never enabled (S3 cannot turn
    /// versioning off once on: removing the key from a versioned bucket suspends it).
    pub versioning: Option<bool>,
    /// Send the bucket's object events to EventBridge, on the default bus (default false).
    #[serde(default)]
    pub eventbridge: bool,
    /// `[[buckets.NAME.notifications]]`: queues, topics and functions told of object events.
    #[serde(default)]
    pub notifications: Vec<BucketNotification>,
    /// `[[buckets.NAME.cors]]`: which web pages may use the bucket (up to 100 rules).
    #[serde(default)]
    pub cors: Vec<BucketCors>,
    /// Up to 50 tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

/// The events a bucket notification gets when it names none.
pub const DEFAULT_BUCKET_EVENTS: &[&str] = &["s3:ObjectCreated:*"];

fn default_bucket_events() -> Vec<String> {
    DEFAULT_BUCKET_EVENTS
        .iter()
        .map(|e| (*e).to_owned())
        .collect()
}

/// One notification of a bucket: exactly one of `queue`, `topic`, `function`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BucketNotification {
    /// The configuration's id, unique within the bucket (default: the name it refers to, or
    /// `notification-N` for an ARN; `NAME-N` when several refer to the same name).
    pub id: Option<String>,
    /// A standard queue of this manifest, or a queue ARN.
    pub queue: Option<String>,
    /// A standard topic of this manifest, or a topic ARN.
    pub topic: Option<String>,
    /// A function of this manifest, or a function ARN.
    pub function: Option<String>,
    /// S3 event types (default `["s3:ObjectCreated:*"]`).
    #[serde(default = "default_bucket_events")]
    pub events: Vec<String>,
    /// Only keys starting with this.
    pub prefix: Option<String>,
    /// Only keys ending with this.
    pub suffix: Option<String>,
}

impl Default for BucketNotification {
    fn default() -> Self {
        Self {
            id: None,
            queue: None,
            topic: None,
            function: None,
            events: default_bucket_events(),
            prefix: None,
            suffix: None,
        }
    }
}

impl BucketNotification {
    /// The resource the notification names, as written (the first set of `queue`, `topic`,
    /// `function`).
    pub fn reference(&self) -> Option<&str> {
        self.queue
            .as_deref()
            .or(self.topic.as_deref())
            .or(self.function.as_deref())
    }
}

/// One CORS rule of a bucket.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BucketCors {
    /// Origins (`https://app.example.com`), each with at most one `*`.
    pub allowed_origins: Vec<String>,
    /// `GET`, `PUT`, `POST`, `DELETE`, `HEAD`.
    pub allowed_methods: Vec<String>,
    /// Request headers a preflight may name, each with at most one `*`.
    #[serde(default)]
    pub allowed_headers: Vec<String>,
    /// Response headers scripts may read.
    #[serde(default)]
    pub expose_headers: Vec<String>,
    /// Seconds browsers may cache a preflight answer.
    pub max_age: Option<u32>,
}

/// `async = { maximum_retry_attempts, maximum_event_age_seconds, on_success, on_failure }`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AsyncInvoke {
    /// 0-2 (default 2).
    pub maximum_retry_attempts: Option<u32>,
    /// 60-21600 (default 21600).
    pub maximum_event_age_seconds: Option<u32>,
    /// `queue:NAME`, `function:NAME`, `bus:NAME` or an ARN.
    pub on_success: Option<String>,
    /// `queue:NAME`, `function:NAME`, `bus:NAME` or an ARN.
    pub on_failure: Option<String>,
}

/// `ENABLED` or `DISABLED` (AWS's spelling).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum State {
    #[default]
    #[serde(rename = "ENABLED")]
    Enabled,
    #[serde(rename = "DISABLED")]
    Disabled,
}

impl State {
    /// `ENABLED` / `DISABLED`.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Enabled => "ENABLED",
            State::Disabled => "DISABLED",
        }
    }
}

/// `[rules.NAME]`: exactly one of `pattern` and `schedule`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// The bus the rule is on (default `default`).
    #[serde(default = "default_bus")]
    pub bus: String,
    /// Free text.
    pub description: Option<String>,
    /// An event pattern: an inline table, or a string of JSON.
    pub pattern: Option<Value>,
    /// `rate(...)` or `cron(...)` (default bus only).
    pub schedule: Option<String>,
    /// Default `ENABLED`.
    #[serde(default)]
    pub state: State,
    /// Up to 5 targets (`[[rules.NAME.targets]]`).
    #[serde(default)]
    pub targets: Vec<Target>,
}

fn default_bus() -> String {
    DEFAULT_BUS.to_owned()
}

impl Rule {
    /// The pattern as compact JSON text (a string pattern is re-serialised), if any.
    pub fn pattern_json(&self) -> Option<String> {
        self.pattern.as_ref().map(json_text)
    }
}

/// Compact JSON for a value given as a table or as a string of JSON.
pub(crate) fn json_text(v: &Value) -> String {
    match v {
        Value::String(s) => serde_json::from_str::<Value>(s)
            .map(|parsed| parsed.to_string())
            .unwrap_or_else(|_| s.clone()),
        other => other.to_string(),
    }
}

/// One rule target: exactly one of `arn`, `queue`, `function`, `bus`, `api_destination`,
/// `topic`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// Target id, unique within the rule (default: the referenced name, or `target-N`).
    pub id: Option<String>,
    /// Any target by ARN.
    pub arn: Option<String>,
    /// A queue of this manifest.
    pub queue: Option<String>,
    /// A function of this manifest.
    pub function: Option<String>,
    /// A bus of this manifest (or `default`).
    pub bus: Option<String>,
    /// An API destination of this manifest.
    pub api_destination: Option<String>,
    /// A topic of this manifest.
    pub topic: Option<String>,
    /// Constant input: a table or a string of JSON.
    pub input: Option<Value>,
    /// A JSON path into the event (`$.detail`).
    pub input_path: Option<String>,
    /// Paths and a template.
    pub input_transformer: Option<InputTransformer>,
    /// FIFO queue targets: the message group.
    pub message_group_id: Option<String>,
    /// Delivery retry policy.
    pub retry: Option<Retry>,
    /// Where events that cannot be delivered go: a queue of this manifest or a queue ARN.
    pub dead_letter_queue: Option<String>,
}

/// `input_transformer = { paths = { name = "$.path" }, template = "..." }`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputTransformer {
    /// Placeholder name → JSON path.
    #[serde(default)]
    pub paths: BTreeMap<String, String>,
    /// The template, with `<name>` placeholders.
    pub template: String,
}

/// `retry = { maximum_retry_attempts = 0-185, maximum_event_age_seconds = 60-86400 }`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retry {
    pub maximum_retry_attempts: Option<u32>,
    pub maximum_event_age_seconds: Option<u32>,
}

/// What a schedule does with ticks missed while eddy was not running.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Missed {
    /// Fire once for the latest missed tick (default).
    #[default]
    Latest,
    /// Fire none of them.
    Skip,
    /// Fire every missed tick, oldest first.
    All,
}

impl Missed {
    /// `latest` / `skip` / `all`.
    pub fn as_str(self) -> &'static str {
        match self {
            Missed::Latest => "latest",
            Missed::Skip => "skip",
            Missed::All => "all",
        }
    }
}

/// `[schedules.NAME]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    /// `rate(...)`, `cron(...)` or `at(...)`.
    pub expression: String,
    /// An IANA time zone for `cron` and `at` (default UTC).
    pub timezone: Option<String>,
    /// The schedule group (default `default`).
    #[serde(default = "default_group")]
    pub group: String,
    /// Free text.
    pub description: Option<String>,
    /// What fires.
    pub target: ScheduleTarget,
    /// Constant input: a table or a string of JSON.
    pub input: Option<Value>,
    /// Fire up to this many minutes late, spreading load (1-1440; default: on time).
    pub flexible_window_minutes: Option<u32>,
    /// Ticks missed while eddy was down (default `latest`).
    #[serde(default)]
    pub missed: Missed,
    /// Default `ENABLED`.
    #[serde(default)]
    pub state: State,
}

fn default_group() -> String {
    DEFAULT_GROUP.to_owned()
}

/// A schedule's target: exactly one of `arn`, `queue`, `function`, `bus`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleTarget {
    pub arn: Option<String>,
    pub queue: Option<String>,
    pub function: Option<String>,
    pub bus: Option<String>,
    /// Bus targets: the event's `source` (required).
    pub source: Option<String>,
    /// Bus targets: the event's `detail-type` (required).
    pub detail_type: Option<String>,
    /// FIFO queue targets: the message group.
    pub message_group_id: Option<String>,
    pub retry: Option<Retry>,
    /// A queue of this manifest or a queue ARN.
    pub dead_letter_queue: Option<String>,
}

/// `[apis.NAME]`: an HTTP API on the routes listener.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Api {
    /// Prefix of every route (default `/`).
    #[serde(default = "default_base_path")]
    pub base_path: String,
    pub cors: Option<Cors>,
    /// Default throttle for every route.
    pub throttle: Option<Throttle>,
    /// `[[apis.NAME.routes]]`.
    #[serde(default)]
    pub routes: Vec<Route>,
    /// `[apis.NAME.authorizers.AUTH]`.
    #[serde(default)]
    pub authorizers: BTreeMap<String, Authorizer>,
}

fn default_base_path() -> String {
    "/".to_owned()
}

/// `cors = { allow_origins = [...], ... }`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cors {
    #[serde(default)]
    pub allow_origins: Vec<String>,
    #[serde(default)]
    pub allow_methods: Vec<String>,
    #[serde(default)]
    pub allow_headers: Vec<String>,
    #[serde(default)]
    pub expose_headers: Vec<String>,
    /// Seconds browsers may cache a preflight answer (0-86400).
    pub max_age: Option<u32>,
    pub allow_credentials: Option<bool>,
}

/// `throttle = { rate = per-second, burst = N }`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Throttle {
    pub rate: u32,
    pub burst: u32,
}

/// One route: `route = "METHOD /path"` (or `$default`) and exactly one integration:
/// `function`, `bus` (with `source` and `detail_type`) or `queue`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// `GET /orders/{id}`, `ANY /files/{proxy+}` or `$default`.
    pub route: String,
    /// Invoke a function and answer with its result.
    pub function: Option<String>,
    /// Put the request body on a bus as an event's detail and answer 202.
    pub bus: Option<String>,
    /// Bus integrations: the event's `source`.
    pub source: Option<String>,
    /// Bus integrations: the event's `detail-type`.
    pub detail_type: Option<String>,
    /// Send the request body to a queue and answer 202.
    pub queue: Option<String>,
    /// FIFO queue integrations: the message group.
    pub message_group_id: Option<String>,
    /// An authorizer of this API.
    pub authorizer: Option<String>,
    pub throttle: Option<Throttle>,
}

/// `[apis.NAME.authorizers.AUTH]`: exactly one of `jwt` and `function`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Authorizer {
    pub jwt: Option<Jwt>,
    /// A Lambda authorizer: a function of this manifest.
    pub function: Option<String>,
    /// Where the token is (default `$request.header.Authorization`).
    pub identity_source: Option<String>,
}

/// `jwt = { issuer, audience, jwks_file | jwks_url }`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Jwt {
    pub issuer: String,
    #[serde(default)]
    pub audience: Vec<String>,
    /// A JWKS document relative to the manifest's directory.
    pub jwks_file: Option<String>,
    /// Where to fetch the JWKS document.
    pub jwks_url: Option<String>,
}
