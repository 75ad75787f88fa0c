//! Queues: SQS-shaped queue definitions (attributes, tags), persisted in the store, and the
//! operations shared by the SQS API and the delivery engine (send with digests, receive with
//! long polling and redrive).
//!
//! Messages live in the store (`eddy_store::queue`); this module owns what a queue *is*: its
//! attributes with AWS's defaults and limits, its ARN and URL, and the wake-ups of long polls.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use eddy_model::definitions::Tags;
use eddy_model::limits::queue as limits;
use eddy_model::names::Arn;
use eddy_store::{Definition, Message, NewMessage, ReceiveOptions, Sent, Store};
use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::Notify;

use crate::clock::Clock;
use crate::core_error::CoreError;
use crate::follow::{Feed, Follow};
use crate::registry::{self, Named, Registry};

mod definition;
mod redrive;

pub use definition::{QueueError, RedriveFault, check_attributes};
pub use redrive::Redriven;

/// Attributes a user may set, with AWS's defaults. `MaximumMessageSize` defaults to the largest
/// message SQS takes, 1 MiB (it was 256 KiB; botocore's current SQS model documents "Valid
/// values: An integer from 1,024 bytes (1 KiB) to 1,048,576 bytes (1 MiB). Default: 1,048,576
/// bytes (1 MiB)").
pub const SETTABLE: &[(&str, &str)] = &[
    ("DelaySeconds", "0"),
    ("MaximumMessageSize", "1048576"),
    ("MessageRetentionPeriod", "345600"),
    ("ReceiveMessageWaitTimeSeconds", "0"),
    ("VisibilityTimeout", "30"),
    ("RedrivePolicy", ""),
    ("RedriveAllowPolicy", ""),
    ("Policy", ""),
    ("FifoQueue", "false"),
    ("ContentBasedDeduplication", "false"),
    ("KmsMasterKeyId", ""),
    ("KmsDataKeyReusePeriodSeconds", "300"),
    ("DeduplicationScope", "queue"),
    ("FifoThroughputLimit", "perQueue"),
    ("SqsManagedSseEnabled", "true"),
];

/// A queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct QueueDef {
    pub region: String,
    pub name: String,
    /// Attributes as set (defaults are applied on read).
    pub attributes: BTreeMap<String, String>,
    #[serde(default)]
    pub tags: Tags,
    pub created_ms: i64,
    pub modified_ms: i64,
}

impl QueueDef {
    pub fn attr(&self, name: &str) -> &str {
        if let Some(v) = self.attributes.get(name) {
            return v;
        }
        SETTABLE
            .iter()
            .find(|(n, _)| *n == name)
            .map_or("", |(_, d)| d)
    }

    fn num(&self, name: &str) -> i64 {
        self.attr(name).parse().unwrap_or(0)
    }

    pub fn fifo(&self) -> bool {
        self.attr("FifoQueue") == "true"
    }

    pub fn content_based_dedup(&self) -> bool {
        self.attr("ContentBasedDeduplication") == "true"
    }

    pub fn visibility_secs(&self) -> i64 {
        self.num("VisibilityTimeout")
    }

    pub fn delay_secs(&self) -> i64 {
        self.num("DelaySeconds")
    }

    pub fn wait_secs(&self) -> i64 {
        self.num("ReceiveMessageWaitTimeSeconds")
    }

    pub fn max_size(&self) -> usize {
        usize::try_from(self.num("MaximumMessageSize"))
            .unwrap_or(*limits::MAXIMUM_MESSAGE_SIZE.end() as usize)
    }

    pub fn retention_ms(&self) -> i64 {
        self.num("MessageRetentionPeriod") * 1000
    }

    /// `(dead-letter queue key, maxReceiveCount)` from the `RedrivePolicy`.
    pub fn redrive(&self) -> Option<(String, u32)> {
        let policy: Value = serde_json::from_str(self.attr("RedrivePolicy")).ok()?;
        let arn = policy.get("deadLetterTargetArn")?.as_str()?;
        let max = match policy.get("maxReceiveCount")? {
            Value::Number(n) => n.as_u64()?,
            Value::String(s) => s.parse().ok()?,
            _ => return None,
        };
        let a = Arn::parse(arn)?;
        Some((Queues::key(a.region, a.resource), u32::try_from(max).ok()?))
    }

    pub fn arn(&self, account: &str) -> String {
        format!("arn:aws:sqs:{}:{account}:{}", self.region, self.name)
    }

    pub fn key(&self) -> String {
        Queues::key(&self.region, &self.name)
    }
}

/// A message to put on a queue, before the store sees it.
#[derive(Debug, Clone, Default)]
pub struct OutMessage {
    pub body: String,
    /// SQS `MessageAttributes` as given (`{name: {DataType, StringValue|BinaryValue}}`).
    pub message_attributes: BTreeMap<String, Value>,
    /// System attributes kept with the message (e.g. `AWSTraceHeader`, or eddy's dead-letter
    /// reasons).
    pub system: BTreeMap<String, String>,
    pub delay_secs: Option<i64>,
    pub group_id: Option<String>,
    pub dedup_id: Option<String>,
}

/// What the store keeps in a message's `attributes` column.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StoredAttributes {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub message_attributes: BTreeMap<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub md5_of_message_attributes: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub system: BTreeMap<String, String>,
}

/// A sent message's answer.
#[derive(Debug, Clone)]
pub struct SentMessage {
    pub message_id: String,
    pub md5_of_body: String,
    pub md5_of_message_attributes: Option<String>,
    pub seq: i64,
}

pub fn md5_hex(bytes: &[u8]) -> String {
    let digest = Md5::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The MD5 of message attributes as SQS computes it: for each attribute in name order, the
/// name, data type and value, each prefixed by its 4-byte big-endian length, with a transport
/// byte (1 string/number, 2 binary) before the value.
pub fn md5_of_attributes(attrs: &BTreeMap<String, Value>) -> Option<String> {
    use base64::Engine;
    if attrs.is_empty() {
        return None;
    }
    let mut buf = Vec::new();
    let push = |b: &[u8], buf: &mut Vec<u8>| {
        buf.extend_from_slice(&(b.len() as u32).to_be_bytes());
        buf.extend_from_slice(b);
    };
    for (name, v) in attrs {
        let data_type = v
            .get("DataType")
            .and_then(Value::as_str)
            .unwrap_or("String");
        push(name.as_bytes(), &mut buf);
        push(data_type.as_bytes(), &mut buf);
        if let Some(s) = v.get("StringValue").and_then(Value::as_str) {
            buf.push(1);
            push(s.as_bytes(), &mut buf);
        } else if let Some(b) = v.get("BinaryValue").and_then(Value::as_str) {
            buf.push(2);
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(b)
                .unwrap_or_default();
            push(&bytes, &mut buf);
        }
    }
    Some(md5_hex(&buf))
}

impl Named for QueueDef {
    const KIND: &'static str = "queue";

    fn region(&self) -> &str {
        &self.region
    }

    fn name(&self) -> &str {
        &self.name
    }
}

/// See the module docs.
pub struct Queues {
    store: Arc<dyn Store>,
    defs: Registry<QueueDef>,
    wakers: Mutex<HashMap<String, Arc<Notify>>>,
    clock: Clock,
    /// On a store other nodes share, how often a long poll looks again: messages sent through
    /// another node wake no waiter here. `None`: one node, whose own sends wake its polls.
    recheck: Option<Duration>,
}

/// How often a long poll looks for messages sent through other nodes.
pub const SHARED_RECHECK: Duration = Duration::from_millis(200);

impl Queues {
    pub fn load(
        store: Arc<dyn Store>,
        feed: Arc<Feed>,
        definitions: &[Definition],
        clock: Clock,
        recheck: Option<Duration>,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            defs: Registry::load(store.clone(), feed, definitions)?,
            store,
            wakers: Mutex::new(HashMap::new()),
            clock,
            recheck,
        })
    }

    /// The store key of a queue.
    pub fn key(region: &str, name: &str) -> String {
        registry::key(region, name)
    }

    pub fn get(&self, region: &str, name: &str) -> Option<QueueDef> {
        self.defs.get(region, name)
    }

    /// Queues of a region, by name.
    pub fn list(&self, region: &str) -> Vec<QueueDef> {
        self.defs.list(region)
    }

    /// Creates or replaces a queue definition (see [`Registry::upsert`]).
    pub async fn upsert<T, E: From<CoreError>>(
        &self,
        region: &str,
        name: &str,
        decide: impl FnOnce(Option<&QueueDef>) -> Result<(QueueDef, T), E>,
    ) -> Result<T, E> {
        self.defs.upsert(region, name, decide).await
    }

    /// Deletes a queue and its messages.
    pub async fn delete(&self, region: &str, name: &str) -> Result<(), CoreError> {
        self.defs.delete(region, name).await?;
        let key = Self::key(region, name);
        self.store.queue_purge(key.clone()).await?;
        self.waker(&key).notify_waiters();
        Ok(())
    }

    fn waker(&self, key: &str) -> Arc<Notify> {
        self.wakers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key.to_owned())
            .or_default()
            .clone()
    }

    /// Sends messages to a queue; durable when it returns. FIFO queues get their content-based
    /// deduplication ids here.
    pub async fn send(
        &self,
        queue: &QueueDef,
        messages: Vec<OutMessage>,
    ) -> Result<Vec<SentMessage>, CoreError> {
        self.send_acking(queue, messages, Vec::new()).await
    }

    /// [`Queues::send`], removing the work items `ack` in the same transaction (a delivery).
    pub async fn send_acking(
        &self,
        queue: &QueueDef,
        messages: Vec<OutMessage>,
        ack: Vec<eddy_store::Lease>,
    ) -> Result<Vec<SentMessage>, CoreError> {
        let (new, mut out) = Self::prepare(queue, messages);
        let sent: Vec<Sent> = self
            .store
            .queue_send(queue.key(), new, self.clock.now_ms(), ack)
            .await?;
        for (o, s) in out.iter_mut().zip(sent) {
            o.message_id = s.message_id;
            o.seq = s.seq;
        }
        self.woke(&queue.key());
        Ok(out)
    }

    /// Messages as the store keeps them (digests, stored attributes, the queue's delay, FIFO
    /// deduplication ids), with the answers to fill in once sent. For senders that write them
    /// with something else in one store transaction (a topic's fan-out), who then call
    /// [`Queues::woke`].
    pub fn prepare(
        queue: &QueueDef,
        messages: Vec<OutMessage>,
    ) -> (Vec<NewMessage>, Vec<SentMessage>) {
        let mut out = Vec::with_capacity(messages.len());
        let mut new = Vec::with_capacity(messages.len());
        for m in messages {
            let md5_of_body = md5_hex(m.body.as_bytes());
            let md5_attrs = md5_of_attributes(&m.message_attributes);
            let stored = StoredAttributes {
                message_attributes: m.message_attributes,
                md5_of_message_attributes: md5_attrs.clone(),
                system: m.system,
            };
            let dedup_id = match (&m.dedup_id, queue.fifo() && queue.content_based_dedup()) {
                (Some(d), _) => Some(d.clone()),
                (None, true) => Some(format!("content-{md5_of_body}")),
                (None, false) => None,
            };
            let message_id = uuid::Uuid::new_v4().to_string();
            new.push(NewMessage {
                message_id,
                body: m.body,
                attributes: serde_json::to_string(&stored).unwrap_or_else(|_| "{}".into()),
                delay_ms: m.delay_secs.unwrap_or_else(|| queue.delay_secs()) * 1000,
                group_id: m.group_id,
                dedup_id: if queue.fifo() { dedup_id } else { None },
            });
            out.push(SentMessage {
                message_id: String::new(),
                md5_of_body,
                md5_of_message_attributes: md5_attrs,
                seq: 0,
            });
        }
        (new, out)
    }

    /// Wakes the long polls of a queue that messages were just written to.
    pub fn woke(&self, key: &str) {
        self.waker(key).notify_waiters();
    }

    /// How many messages a queue holds, by state.
    pub async fn stats(&self, queue: &QueueDef) -> Result<eddy_store::QueueStats, CoreError> {
        Ok(self
            .store
            .queue_stats(queue.key(), self.clock.now_ms())
            .await?)
    }

    /// Deletes every message of a queue.
    pub async fn purge(&self, queue: &QueueDef) -> Result<(), CoreError> {
        Ok(self.store.queue_purge(queue.key()).await?)
    }

    /// Deletes the messages receipt handles name (a handle of a message already deleted, or
    /// received again since, deletes nothing and is no error, as in SQS).
    pub async fn delete_messages(
        &self,
        queue: &QueueDef,
        receipts: Vec<String>,
    ) -> Result<Vec<bool>, CoreError> {
        Ok(self.store.queue_delete(queue.key(), receipts).await?)
    }

    /// Makes received messages visible again `secs` from now (`(receipt, secs)`); `false` for a
    /// receipt that names no message in flight.
    pub async fn change_visibility(
        &self,
        queue: &QueueDef,
        changes: Vec<(String, i64)>,
    ) -> Result<Vec<bool>, CoreError> {
        let now = self.clock.now_ms();
        let changes = changes
            .into_iter()
            .map(|(r, secs)| (r, now + secs * 1000))
            .collect();
        let done = self
            .store
            .queue_change_visibility(queue.key(), changes, now)
            .await?;
        self.waker(&queue.key()).notify_waiters();
        Ok(done)
    }

    /// Receives messages, waiting up to `wait` for one to arrive or become visible.
    pub async fn receive(
        &self,
        queue: &QueueDef,
        max: usize,
        visibility_secs: i64,
        wait: Duration,
    ) -> Result<Vec<Message>, CoreError> {
        let key = queue.key();
        let deadline = tokio::time::Instant::now() + wait;
        let waker = self.waker(&key);
        loop {
            let notified = waker.notified();
            let mut moved = self.clock.moved();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let opts = ReceiveOptions {
                now_ms: self.clock.now_ms(),
                max,
                visibility_ms: visibility_secs * 1000,
                fifo: queue.fifo(),
                redrive: queue.redrive(),
                retention_ms: queue.retention_ms(),
            };
            let got = self.store.queue_receive(key.clone(), opts).await?;
            if !got.is_empty() {
                if let Some((dlq, _)) = queue.redrive() {
                    self.waker(&dlq).notify_waiters();
                }
                return Ok(got);
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Ok(got);
            }
            // Wake when a message is sent, when the next one becomes visible, or at the deadline
            // (on a shared store, also every little while: other nodes' sends wake nothing here).
            let mut wake = deadline;
            if let Some(every) = self.recheck {
                wake = wake.min(now + every);
            }
            if let Some(at) = self.store.queue_next_visible(key.clone()).await? {
                let ms = (at - self.clock.now_ms()).clamp(1, 20_000);
                wake = wake.min(now + Duration::from_millis(ms as u64));
            }
            tokio::select! {
                () = &mut notified => {}
                () = tokio::time::sleep_until(wake) => {}
                // The dev clock moved: delayed or invisible messages may be visible now.
                _ = moved.changed() => {}
            }
        }
    }
}

impl Follow for Queues {
    fn follow(&self, changes: &[eddy_store::DefinitionChange]) {
        self.defs.follow(changes);
    }

    fn reload(&self, definitions: &[Definition]) {
        self.defs.reload(definitions);
    }
}
