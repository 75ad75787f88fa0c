//! Redriving a dead-letter queue (`eddy dlq redrive`): each message goes back where it came
//! from, then is deleted (at least once: a crash in between may send it twice, never lose it).
//!
//! * An event a rule target gave up on (its `RULE_ARN` and `TARGET_ARN` message attributes,
//!   set by the delivery engine) becomes a new delivery of the stored event to that target.
//! * A message a queue's redrive policy moved here goes back to that source queue.
//!
//! A message with nowhere to go (its rule or target deleted, no source queue) stays, visible
//! again at once.

use std::time::Duration;

use eddy_store::{AppendBatch, Message, NewEvent};
use serde_json::Value;

use super::{OutMessage, QueueDef, QueueError, StoredAttributes};
use crate::core_error::CoreError;
use crate::work::{RuleRef, Work};

/// What a redrive moved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Redriven {
    /// Events sent back to their rule targets.
    pub to_targets: u64,
    /// Messages sent back to the queue whose redrive policy moved them.
    pub to_queue: u64,
    /// Messages left in the dead-letter queue (nowhere to go).
    pub skipped: u64,
}

/// How long a message being redriven stays invisible to other readers.
const IN_FLIGHT_SECS: i64 = 60;

/// The `StringValue` of a message attribute.
fn attribute(m: &Message, name: &str) -> Option<String> {
    let stored: StoredAttributes = serde_json::from_str(&m.attributes).ok()?;
    stored
        .message_attributes
        .get(name)?
        .get("StringValue")?
        .as_str()
        .map(str::to_owned)
}

impl crate::Core {
    /// Moves the messages of dead-letter queue `queue` of `region` back (see the module docs).
    pub async fn redrive_dead_letters(
        &self,
        region: &str,
        queue: &str,
    ) -> Result<Redriven, QueueError> {
        let dlq = self.queues.get(region, queue).ok_or(QueueError::NotFound)?;
        // The queue whose redrive policy names this one, for messages it moved here.
        let source = self
            .queues
            .list(region)
            .into_iter()
            .find(|q| q.redrive().is_some_and(|(key, _)| key == dlq.key()));
        let mut done = Redriven::default();
        loop {
            let got = self
                .queues
                .receive(&dlq, 10, IN_FLIGHT_SECS, Duration::ZERO)
                .await?;
            if got.is_empty() {
                break;
            }
            for m in got {
                let moved = match (attribute(&m, "RULE_ARN"), attribute(&m, "TARGET_ARN")) {
                    (Some(rule), Some(target)) => {
                        let back = self.back_to_target(&rule, &target, &m.body).await?;
                        done.to_targets += u64::from(back);
                        back
                    }
                    _ => match &source {
                        Some(src) => {
                            self.back_to_queue(src, &m).await?;
                            done.to_queue += 1;
                            true
                        }
                        None => false,
                    },
                };
                if moved {
                    self.store
                        .queue_delete(dlq.key(), vec![m.receipt])
                        .await
                        .map_err(CoreError::from)?;
                } else {
                    done.skipped += 1;
                    // Visible again right away for whoever reads the queue next.
                    let now = self.clock.now_ms();
                    self.store
                        .queue_change_visibility(dlq.key(), vec![(m.receipt, now)], now)
                        .await
                        .map_err(CoreError::from)?;
                }
            }
            if done.skipped > 0 && done.to_targets + done.to_queue == 0 {
                break;
            }
        }
        Ok(done)
    }

    /// Puts a dead-lettered event back on its way to the rule target that gave up on it: a new
    /// delivery (work item) of the stored event. False when the rule or target no longer exists.
    async fn back_to_target(
        &self,
        rule_arn: &str,
        target_arn: &str,
        body: &str,
    ) -> Result<bool, CoreError> {
        let Some(rule) = RuleRef::of_arn(rule_arn) else {
            return Ok(false);
        };
        let target_id = self
            .catalog
            .read(|d| {
                d.rule(rule.region, rule.bus, rule.name).and_then(|r| {
                    r.targets
                        .iter()
                        .find(|t| t.arn == target_arn)
                        .map(|t| t.id.clone())
                })
            })
            .await;
        let Some(target_id) = target_id else {
            return Ok(false);
        };
        let event: Value = serde_json::from_str(body).unwrap_or(Value::Null);
        let id = event["id"]
            .as_str()
            .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned);
        let now = self.clock.now_ms();
        let batch = AppendBatch {
            events: vec![NewEvent {
                id,
                // Not the bus itself: archives must not see a redriven event twice.
                bus: format!("{}:$redrive", rule.region),
                time_ms: now,
                body: body.to_owned(),
                hops: 0,
            }],
            // The dead letter's work, whatever its kind, again.
            work: vec![Work::of(rule_arn, &target_id).new_work(0)],
            now_ms: Some(now),
            ..AppendBatch::default()
        };
        self.store.append(batch).await?;
        self.bus.work_ready().notify_one();
        Ok(true)
    }

    /// Sends a message back to the queue that moved it to the dead-letter queue.
    async fn back_to_queue(&self, source: &QueueDef, m: &Message) -> Result<(), CoreError> {
        let stored: StoredAttributes = serde_json::from_str(&m.attributes).unwrap_or_default();
        let out = OutMessage {
            body: m.body.clone(),
            message_attributes: stored.message_attributes,
            group_id: m.group_id.clone(),
            // A new deduplication id: the message's own would have it dropped as a duplicate
            // of itself within the deduplication interval.
            dedup_id: source.fifo().then(|| uuid::Uuid::new_v4().to_string()),
            ..OutMessage::default()
        };
        self.queues.send(source, vec![out]).await?;
        Ok(())
    }
}
