//! Publishing as a whole ([`Core::publish`]): the checked notifications are stored with their
//! deliveries in one durable append. A subscribed queue's message is written in that append
//! itself (no work item, no delivery engine round: the fastest at-least-once there is, and a
//! crash keeps the message if and only if it keeps the publication); every other
//! subscription (functions, HTTP endpoints, log-written email and SMS, a queue this node does
//! not know, a raw message a queue cannot take) gets a work item
//! ([`crate::delivery::notify`]).
//!
//! Also here: how a notification becomes a queue message, and how envelopes are signed, for
//! both paths.

use std::collections::BTreeMap;
use std::sync::Arc;

use eddy_store::{Lease, QueueMessages};
use serde_json::{Value, json};

use super::envelope::{self, Signed, Urls};
use super::publish::{MAX_RAW_QUEUE_ATTRIBUTES, Notification};
use super::signing::Key;
use super::{Publication, Published, Route, SubscriptionDef, TopicDef, TopicError, Topics};
use crate::Core;
use crate::delivery::target::TargetKind;
use crate::metrics::DeliveryLabels;
use crate::queues::{OutMessage, QueueDef, Queues};
use crate::work::NOTIFY;

/// How one topic's envelopes are signed and what URLs they carry.
pub(crate) struct Envelopes {
    key: Option<Arc<Key>>,
    urls: Urls,
    /// The topic's `SignatureVersion`.
    version: &'static str,
    /// FIFO topics' envelopes are not signed.
    fifo: bool,
}

impl Envelopes {
    pub(crate) fn new(topics: &Topics, topic: Option<&TopicDef>, key: Option<Arc<Key>>) -> Self {
        let urls = topics.urls(key.as_ref().map_or("", |k| k.cert_file.as_str()));
        let version = match topic.map(|t| t.attr("SignatureVersion")) {
            Some("2") => "2",
            _ => "1",
        };
        Self {
            key,
            urls,
            version,
            fifo: topic.is_some_and(TopicDef::fifo),
        }
    }

    pub(crate) fn urls(&self) -> &Urls {
        &self.urls
    }

    /// Whether envelopes can be made: unsigned ones always, signed ones with the key.
    fn ready(&self) -> bool {
        self.fifo || self.key.is_some()
    }

    /// A signature over the string SNS signs, with `version` (`None` without the key).
    pub(crate) fn signed(&self, n: &Notification, message: &str, version: &str) -> Option<Signed> {
        let key = self.key.as_ref()?;
        Some(key.sign(&envelope::string_to_sign(n, message, &self.urls), version))
    }

    /// The JSON envelope a subscriber of `protocol` receives (FIFO topics sign nothing).
    pub(crate) fn envelope(
        &self,
        n: &Notification,
        protocol: &str,
        subscription_arn: &str,
    ) -> String {
        let message = n.message_for(protocol);
        let signed = if self.fifo {
            None
        } else {
            self.signed(n, &message, self.version)
        };
        envelope::envelope(n, &message, subscription_arn, &self.urls, signed.as_ref())
    }
}

/// The queue message a notification makes for an `sqs` subscription: the envelope, or (raw)
/// the message with its attributes as the message's; FIFO queues get the publication's group
/// and deduplication ids (`dedup` when it has none). `Err` says why it cannot be delivered.
pub(crate) fn queue_message(
    sub: &SubscriptionDef,
    n: &Notification,
    queue_fifo: bool,
    envelope: impl FnOnce() -> String,
    dedup: impl FnOnce() -> String,
) -> Result<OutMessage, String> {
    let mut m = OutMessage::default();
    if sub.raw() {
        if n.message_attributes.len() > MAX_RAW_QUEUE_ATTRIBUTES {
            return Err(format!(
                "the message has {} attributes; a raw delivery to a queue carries at most \
                 {MAX_RAW_QUEUE_ATTRIBUTES}",
                n.message_attributes.len()
            ));
        }
        m.body = n.message_for("sqs");
        m.message_attributes = n
            .message_attributes
            .iter()
            .map(|(k, a)| {
                let v = match &a.binary_value {
                    Some(b) => json!({"DataType": a.data_type, "BinaryValue": b}),
                    None => json!({"DataType": a.data_type, "StringValue": a.value()}),
                };
                (k.clone(), v)
            })
            .collect::<BTreeMap<String, Value>>();
    } else {
        m.body = envelope();
    }
    if queue_fifo {
        m.group_id = Some(n.group_id.clone().unwrap_or_else(|| "default".to_owned()));
        m.dedup_id = Some(n.dedup_id.clone().unwrap_or_else(dedup));
    }
    Ok(m)
}

impl Core {
    /// Publishes messages to a topic: each is checked, and the accepted ones are stored with
    /// their deliveries in one durable append, which also removes the work items `ack` (a rule
    /// delivering to the topic). Answers, in order, each message's id or why it was refused.
    pub async fn publish(
        &self,
        region: &str,
        topic: &str,
        publications: Vec<Publication>,
        ack: Vec<Lease>,
    ) -> Result<Vec<Result<Published, TopicError>>, TopicError> {
        let prepared = self.topics.prepare(region, topic, publications)?;
        let t = &prepared.topic;
        let signs = !t.fifo()
            && prepared.notes.iter().any(|(_, routes)| {
                routes
                    .iter()
                    .any(|r| r.sub.protocol == "sqs" && !r.sub.raw())
            });
        // Without the key (it cannot be read or made just now), signed envelopes go through
        // the delivery engine, which retries.
        let key = if signs {
            self.topics.signing_key().await.ok()
        } else {
            None
        };
        let env = Envelopes::new(&self.topics, Some(t), key);
        let mut queues: BTreeMap<String, (QueueDef, Vec<OutMessage>)> = BTreeMap::new();
        let mut stored = Vec::with_capacity(prepared.notes.len());
        let mut inline = 0;
        let mut dedups = Vec::new();
        for (n, routes) in prepared.notes {
            let mut later = Vec::new();
            for r in &routes {
                match self.inline(r, &n, &env) {
                    Some((queue, m)) => {
                        queues
                            .entry(queue.key())
                            .or_insert_with(|| (queue, Vec::new()))
                            .1
                            .push(m);
                        inline += 1;
                    }
                    None => later.push(r.arn.clone()),
                }
            }
            if let (Some(d), Some(seq)) = (&n.dedup_id, &n.sequence_number) {
                dedups.push((d.clone(), n.message_id.clone(), seq.clone()));
            }
            stored.push((n, later));
        }
        let mut keys = Vec::with_capacity(queues.len());
        let mut messages = Vec::with_capacity(queues.len());
        for (key, (queue, out)) in queues {
            let (new, _) = Queues::prepare(&queue, out);
            messages.push(QueueMessages {
                queue: key.clone(),
                messages: new,
            });
            keys.push(key);
        }
        self.topics.append(region, stored, messages, ack).await?;
        for key in keys {
            self.queues.woke(&key);
        }
        let topic_arn = t.arn(self.topics.account());
        for (d, id, seq) in dedups {
            self.topics
                .fifo
                .remember(&topic_arn, &d, &id, &seq, prepared.now);
        }
        if inline > 0 {
            self.metrics
                .deliveries
                .get_or_create(&DeliveryLabels {
                    rule: topic_arn,
                    target: NOTIFY.to_owned(),
                    outcome: "delivered".to_owned(),
                })
                .inc_by(inline as u64);
        }
        Ok(prepared.answers)
    }

    /// The queue and message of a subscription delivered in the publishing append itself: an
    /// `sqs` subscription of a queue this node knows, whose message can be made now.
    fn inline(
        &self,
        r: &Route,
        n: &Notification,
        env: &Envelopes,
    ) -> Option<(QueueDef, OutMessage)> {
        if r.sub.protocol != "sqs" || !(r.sub.raw() || env.ready()) {
            return None;
        }
        let TargetKind::Queue { region, name } = TargetKind::of(&r.sub.endpoint) else {
            return None;
        };
        let queue = self.queues.get(&region, &name)?;
        let m = queue_message(
            &r.sub,
            n,
            queue.fifo(),
            || env.envelope(n, "sqs", &r.arn),
            || format!("{}-{}", n.message_id, r.sub.id),
        )
        .ok()?;
        Some((queue, m))
    }
}
