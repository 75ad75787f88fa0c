//! Object events: what a change to a bucket's objects tells the world, as S3 tells it.
//!
//! * With EventBridge enabled on the bucket, each change is an event on the default bus of the
//!   bucket's region (`source: aws.s3`, `detail-type: Object Created`, `Object Deleted`,
//!   `Object Tags Added`, `Object Tags Deleted`, with S3's detail), matched against the bus's
//!   rules like any other.
//! * Each classic notification configuration (queue, topic, function) whose event types and
//!   prefix/suffix filters take the change gets an S3 event record (`eventVersion` 2.1): a
//!   queue's message is written in the change's own commit; a topic or function gets a work
//!   item of kind [`Work::BucketNotify`], which [`deliver`] sends.
//!
//! Both are appended in the store transaction that makes the change ([`Core::bucket_events`]),
//! so an object exists with its events or neither does. Saving a notification configuration
//! sends `s3:TestEvent` to its queues and topics, as S3 does.

use std::sync::Arc;

use eddy_store::{AppendBatch, NewEvent, ObjectRecord, QueueMessages, WorkItem};
use serde_json::json;

use super::definition::{DestinationKind, EVENT_TYPES, Notification};
use super::{BucketDef, BucketError, Requester};
use crate::Core;
use crate::delivery::target::TargetKind;
use crate::delivery::{lost, nack, to_store_dead_letters};
use crate::queues::OutMessage;
use crate::topics::Publication;
use crate::work::Work;

/// The bus name S3 event records are stored under (never a real bus: names cannot hold `$`).
const S3_BUS: &str = "$s3";

/// Attempts at a classic notification before it goes to the store's dead letters.
const MAX_ATTEMPTS: u32 = 10;

/// One change to an object, as its events describe it.
#[derive(Debug, Clone)]
pub struct Change {
    /// `ObjectCreated:Put`, `ObjectRemoved:DeleteMarkerCreated`, `ObjectTagging:Put`, ...
    pub event_name: String,
    pub key: String,
    pub size: u64,
    pub etag: String,
    pub version_id: String,
}

impl Change {
    pub fn created(how: &str, r: &ObjectRecord) -> Self {
        Self::of(format!("ObjectCreated:{how}"), r)
    }

    pub fn removed(how: &str, r: &ObjectRecord) -> Self {
        Self::of(format!("ObjectRemoved:{how}"), r)
    }

    pub fn tagged(how: &str, r: &ObjectRecord) -> Self {
        Self::of(format!("ObjectTagging:{how}"), r)
    }

    fn of(event_name: String, r: &ObjectRecord) -> Self {
        Self {
            event_name,
            key: r.key.clone(),
            size: r.size,
            etag: r.etag.trim_matches('"').to_owned(),
            version_id: r.version_id.clone(),
        }
    }
}

/// A sequencer: hex, growing with time, as S3's orders events of one key.
fn sequencer() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{nanos:018X}")
}

fn iso(ms: i64, millis: bool) -> String {
    let t = jiff::Timestamp::from_millisecond(ms).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    if millis {
        t.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
    } else {
        t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
    }
}

/// An object key as S3's event records carry it: form-encoded (`red flower.jpg` is
/// `red+flower.jpg`), slashes kept.
pub fn record_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for b in key.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' | b'/' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

impl Core {
    /// The events `changes` to `bucket`'s objects cause, as an append to commit with them.
    pub(crate) fn bucket_events(
        &self,
        bucket: &BucketDef,
        changes: &[Change],
        who: &Requester,
    ) -> Result<Notices, BucketError> {
        let now = self.clock.now_ms();
        let mut out = Notices {
            batch: AppendBatch {
                now_ms: Some(now),
                ..AppendBatch::default()
            },
            queues: Vec::new(),
        };
        let n = &bucket.notification;
        if !n.eventbridge && n.destinations.is_empty() {
            return Ok(out);
        }
        let account = self.config.account_id.clone();
        let requester = if who.principal.is_empty() {
            account.clone()
        } else {
            who.principal.clone()
        };
        for c in changes {
            let seq = sequencer();
            if n.eventbridge
                && let Some(detail_type) = detail_type(&c.event_name)
            {
                let mut object = json!({ "key": c.key });
                if c.event_name.starts_with("ObjectCreated") {
                    object["size"] = json!(c.size);
                    object["etag"] = json!(c.etag);
                } else if c.event_name.starts_with("ObjectTagging") {
                    object["etag"] = json!(c.etag);
                }
                if bucket.versioned() {
                    object["version-id"] = json!(c.version_id);
                }
                object["sequencer"] = json!(seq);
                let mut detail = json!({
                    "version": "0",
                    "bucket": { "name": bucket.name },
                    "object": object,
                    "request-id": who.request_id,
                    "requester": requester,
                    "source-ip-address": who.source_ip,
                });
                if let Some(reason) = reason(&c.event_name) {
                    detail["reason"] = json!(reason);
                }
                if c.event_name == "ObjectRemoved:DeleteMarkerCreated" {
                    detail["deletion-type"] = json!("Delete Marker Created");
                } else if c.event_name.starts_with("ObjectRemoved") {
                    detail["deletion-type"] = json!("Permanently Deleted");
                }
                let id = uuid::Uuid::new_v4().to_string();
                let envelope = json!({
                    "version": "0",
                    "id": id,
                    "detail-type": detail_type,
                    "source": "aws.s3",
                    "account": account,
                    "time": iso(now, false),
                    "region": bucket.region,
                    "resources": [bucket.arn()],
                    "detail": detail,
                });
                self.bus.route_into(
                    &bucket.region,
                    eddy_model::DEFAULT_BUS,
                    (id, now, envelope.to_string()),
                    &mut out.batch,
                );
            }
            for d in &n.destinations {
                if !d.wants(&c.event_name, &c.key) {
                    continue;
                }
                let mut object = json!({ "key": record_key(&c.key) });
                if c.event_name.starts_with("ObjectCreated") {
                    object["size"] = json!(c.size);
                    object["eTag"] = json!(c.etag);
                }
                if bucket.versioned() {
                    object["versionId"] = json!(c.version_id);
                }
                object["sequencer"] = json!(seq);
                let record = json!({ "Records": [{
                    "eventVersion": "2.1",
                    "eventSource": "aws:s3",
                    "awsRegion": bucket.region,
                    "eventTime": iso(now, true),
                    "eventName": c.event_name,
                    "userIdentity": { "principalId": format!("AWS:{requester}") },
                    "requestParameters": { "sourceIPAddress": who.source_ip },
                    "responseElements": {
                        "x-amz-request-id": who.request_id,
                        "x-amz-id-2": who.request_id,
                    },
                    "s3": {
                        "s3SchemaVersion": "1.0",
                        "configurationId": d.id,
                        "bucket": {
                            "name": bucket.name,
                            "ownerIdentity": { "principalId": account },
                            "arn": bucket.arn(),
                        },
                        "object": object,
                    },
                }]});
                self.notice(&mut out, &bucket.region, &d.arn, now, record.to_string());
            }
        }
        Ok(out)
    }

    /// Adds a notice for `arn` to `out`: a standard queue this node knows gets its message in
    /// the append itself (received as soon as the change is committed, with no delivery round
    /// and no more commits); anything else a work item for [`deliver`].
    fn notice(&self, out: &mut Notices, region: &str, arn: &str, now: i64, body: String) {
        if let TargetKind::Queue { region: r, name } = TargetKind::of(arn)
            && let Some(q) = self.queues.get(&r, &name)
            && !q.fifo()
        {
            let key = q.key();
            let (messages, _) = crate::queues::Queues::prepare(
                &q,
                vec![OutMessage {
                    body,
                    ..OutMessage::default()
                }],
            );
            match out.batch.messages.iter_mut().find(|m| m.queue == key) {
                Some(m) => m.messages.extend(messages),
                None => {
                    out.batch.messages.push(QueueMessages {
                        queue: key.clone(),
                        messages,
                    });
                    out.queues.push(key);
                }
            }
            return;
        }
        push_record(&mut out.batch, region, arn, now, body);
    }

    /// Replaces a bucket's notification configuration after checking its destinations exist,
    /// then sends `s3:TestEvent` to its queues and topics.
    pub async fn set_bucket_notification(
        &self,
        bucket: &str,
        notification: Notification,
        who: &Requester,
    ) -> Result<(), BucketError> {
        let def = self.buckets.need(bucket)?;
        let mut missing = Vec::new();
        let mut ids = std::collections::BTreeSet::new();
        for d in &notification.destinations {
            if !ids.insert(d.id.clone()) {
                return Err(BucketError::InvalidArgument(
                    "Configuration is ambiguously defined. Cannot have overlapping suffixes in two rules if the prefixes are overlapping for the same event type."
                        .into(),
                ));
            }
            if d.events.is_empty() {
                return Err(BucketError::MalformedXml(
                    "The XML you provided was not well-formed or did not validate against our published schema"
                        .into(),
                ));
            }
            for e in &d.events {
                if !EVENT_TYPES.contains(&e.as_str()) {
                    return Err(BucketError::InvalidArgument(
                        "The event is not supported for notifications".into(),
                    ));
                }
            }
            let exists = match (d.kind, TargetKind::of(&d.arn)) {
                (DestinationKind::Queue, TargetKind::Queue { region, name }) => {
                    match self.queues.get(&region, &name) {
                        // S3 does not notify FIFO queues.
                        Some(q) if q.fifo() => {
                            return Err(BucketError::InvalidArgument(
                                "FIFO SQS queues are not supported as event notification destinations"
                                    .into(),
                            ));
                        }
                        found => found.is_some(),
                    }
                }
                (DestinationKind::Topic, TargetKind::Topic { region, name }) => {
                    self.topics.get(&region, &name).is_some()
                }
                (
                    DestinationKind::Function,
                    TargetKind::Function {
                        region,
                        name,
                        qualifier,
                    },
                ) => self
                    .functions
                    .get(&region, &name)
                    .is_some_and(|f| qualifier.is_none_or(|q| f.has_qualifier(&q))),
                _ => false,
            };
            if !exists {
                missing.push(d.arn.clone());
            }
        }
        if !missing.is_empty() {
            return Err(BucketError::InvalidArgument(
                "Unable to validate the following destination configurations".into(),
            ));
        }
        self.buckets
            .update(bucket, |b| {
                b.notification = notification.clone();
                Ok(())
            })
            .await?;
        let now = self.clock.now_ms();
        let mut out = Notices {
            batch: AppendBatch {
                now_ms: Some(now),
                ..AppendBatch::default()
            },
            queues: Vec::new(),
        };
        let mut sent = std::collections::BTreeSet::new();
        for d in &notification.destinations {
            if d.kind == DestinationKind::Function || !sent.insert(d.arn.clone()) {
                continue;
            }
            let test = json!({
                "Service": "Amazon S3",
                "Event": "s3:TestEvent",
                "Time": iso(now, true),
                "Bucket": def.name,
                "RequestId": who.request_id,
                "HostId": who.request_id,
            });
            self.notice(&mut out, &def.region, &d.arn, now, test.to_string());
        }
        if !out.batch.events.is_empty() || !out.batch.messages.is_empty() {
            let work = !out.batch.work.is_empty();
            self.buckets
                .store
                .append(out.batch)
                .await
                .map_err(BucketError::from)?;
            if work {
                self.bus.work_ready().notify_one();
            }
            for key in &out.queues {
                self.queues.woke(key);
            }
        }
        Ok(())
    }
}

/// What a change's notices add to its commit: the append, and the queues whose receivers to
/// wake once it is committed.
pub(crate) struct Notices {
    pub(crate) batch: AppendBatch,
    pub(crate) queues: Vec<String>,
}

fn push_record(batch: &mut AppendBatch, region: &str, arn: &str, now: i64, body: String) {
    let index = batch.events.len();
    batch.events.push(NewEvent {
        id: uuid::Uuid::new_v4().to_string(),
        bus: format!("{region}:{S3_BUS}"),
        time_ms: now,
        body,
        hops: 0,
    });
    batch.work.push(
        Work::BucketNotify {
            destination_arn: arn,
        }
        .new_work(index),
    );
}

fn detail_type(event_name: &str) -> Option<&'static str> {
    Some(match event_name.split(':').next()? {
        "ObjectCreated" => "Object Created",
        "ObjectRemoved" => "Object Deleted",
        "ObjectTagging" if event_name.ends_with(":Put") => "Object Tags Added",
        "ObjectTagging" => "Object Tags Deleted",
        _ => return None,
    })
}

fn reason(event_name: &str) -> Option<&'static str> {
    Some(match event_name {
        "ObjectCreated:Put" => "PutObject",
        "ObjectCreated:Post" => "PostObject",
        "ObjectCreated:Copy" => "CopyObject",
        "ObjectCreated:CompleteMultipartUpload" => "CompleteMultipartUpload",
        "ObjectRemoved:Delete" | "ObjectRemoved:DeleteMarkerCreated" => "DeleteObject",
        _ => return None,
    })
}

/// Delivers S3 event records ([`Work::BucketNotify`] items) to their queue, topic or function,
/// each settled in the same store transaction as its delivery.
pub async fn deliver(app: Arc<Core>, items: Vec<WorkItem>) {
    for item in items {
        let Work::BucketNotify { destination_arn } = Work::of_item(&item) else {
            continue;
        };
        let outcome: Result<(), String> = match TargetKind::of(destination_arn) {
            TargetKind::Queue { region, name } => match app.queues.get(&region, &name) {
                None => Err(format!("the queue {destination_arn} does not exist")),
                Some(q) => {
                    let m = OutMessage {
                        body: item.body.clone(),
                        group_id: q.fifo().then(|| "s3".to_owned()),
                        dedup_id: q.fifo().then(|| item.event_id.clone()),
                        ..OutMessage::default()
                    };
                    match app
                        .queues
                        .send_acking(&q, vec![m], vec![item.lease()])
                        .await
                    {
                        Ok(_) => Ok(()),
                        Err(e) if lost(&app, &e) => Ok(()),
                        Err(e) => Err(e.to_string()),
                    }
                }
            },
            TargetKind::Function {
                region,
                name,
                qualifier,
            } => match app.functions.get(&region, &name) {
                None => Err(format!("the function {destination_arn} does not exist")),
                Some(def) => {
                    match crate::delivery::function::enqueue(
                        &app,
                        &def,
                        qualifier.as_deref(),
                        item.body.clone(),
                        vec![item.lease()],
                    )
                    .await
                    {
                        Ok(_) => Ok(()),
                        Err(e) if lost(&app, &e) => Ok(()),
                        Err(e) => Err(e.to_string()),
                    }
                }
            },
            TargetKind::Topic { region, name } => {
                let p = Publication {
                    message: item.body.clone(),
                    subject: Some("Amazon S3 Notification".to_owned()),
                    ..Publication::default()
                };
                match app
                    .publish(&region, &name, vec![p], vec![item.lease()])
                    .await
                {
                    Ok(_) => Ok(()),
                    Err(crate::topics::TopicError::Core(e)) if lost(&app, &e) => Ok(()),
                    Err(e) => Err(e.to_string()),
                }
            }
            _ => Err(format!("{destination_arn} cannot receive S3 notifications")),
        };
        if let Err(reason) = outcome {
            if item.attempts >= MAX_ATTEMPTS {
                tracing::warn!(destination = %destination_arn, %reason,
                    "an S3 event notification could not be delivered; kept in the store's dead letters");
                to_store_dead_letters(&app, &item, reason).await;
            } else {
                let backoff = 1000 * i64::from(1u32 << item.attempts.min(8));
                nack(&app, item.lease(), app.clock.now_ms() + backoff).await;
            }
        }
    }
}
