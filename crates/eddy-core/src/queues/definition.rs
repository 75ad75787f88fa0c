//! Creating and changing a queue's definition: the one place that decides whether a queue name
//! and its attributes are valid (against `eddy_model`'s names and limits) and whether a change
//! may be made, for every caller (the SQS API, the manifest).
//!
//! Refusals are [`QueueError`]s in the core's words; the SQS adapter words them as SQS does.

use std::collections::BTreeMap;

use eddy_model::definitions::Tags;
use eddy_model::limits::queue as limits;
use eddy_model::names::{Arn, valid_queue_name};
use serde_json::Value;

use super::{QueueDef, Queues, SETTABLE};
use crate::core_error::CoreError;

/// Why a queue operation refused.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// The name breaks SQS's rules; `fifo` when it was meant for a FIFO queue (the attributes
    /// said so, or it ends in `.fifo`).
    #[error("the queue name is not valid")]
    InvalidName { fifo: bool },
    #[error("unknown attribute {0}")]
    UnknownAttribute(String),
    #[error("invalid value for attribute {0}")]
    InvalidAttributeValue(String),
    /// The `RedrivePolicy` (its text in `value`) is refused for `fault`.
    #[error("invalid redrive policy {value}: {fault:?}")]
    Redrive { value: String, fault: RedriveFault },
    /// A queue of this name exists with a different value of `attribute`.
    #[error("a queue of this name exists with a different {attribute}")]
    Exists { attribute: String },
    #[error("the queue does not exist")]
    NotFound,
    #[error(transparent)]
    Core(#[from] CoreError),
}

/// What is wrong with a `RedrivePolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedriveFault {
    NotJson,
    /// `deadLetterTargetArn` is not an SQS queue's ARN.
    NotQueueArn,
    /// `maxReceiveCount` is outside its limits.
    MaxReceiveCount,
    /// The dead-letter queue is in another region.
    OtherRegion,
    /// The dead-letter queue is the queue itself (messages would loop forever).
    ItSelf,
    /// The dead-letter queue does not exist.
    Missing,
    /// A FIFO queue's dead-letter queue must be FIFO, a standard queue's standard.
    OtherKind,
}

/// Checks attribute names and values as SQS does (`fifo` says which kind of queue they are
/// for): only settable attributes, numbers within their limits, booleans, a well-formed
/// redrive policy.
pub fn check_attributes(attrs: &BTreeMap<String, String>, fifo: bool) -> Result<(), QueueError> {
    for (name, value) in attrs {
        if !SETTABLE.iter().any(|(n, _)| n == name) {
            return Err(QueueError::UnknownAttribute(name.clone()));
        }
        let invalid = || QueueError::InvalidAttributeValue(name.clone());
        let range = |limits: std::ops::RangeInclusive<i64>| match value.parse::<i64>() {
            Ok(v) if limits.contains(&v) => Ok(()),
            _ => Err(invalid()),
        };
        match name.as_str() {
            "DelaySeconds" => range(limits::DELAY_SECONDS)?,
            "MaximumMessageSize" => range(limits::MAXIMUM_MESSAGE_SIZE)?,
            "MessageRetentionPeriod" => range(limits::MESSAGE_RETENTION_PERIOD)?,
            "ReceiveMessageWaitTimeSeconds" => range(limits::RECEIVE_MESSAGE_WAIT_TIME)?,
            "VisibilityTimeout" => range(limits::VISIBILITY_TIMEOUT)?,
            "KmsDataKeyReusePeriodSeconds" => range(limits::KMS_DATA_KEY_REUSE_PERIOD)?,
            "FifoQueue" | "ContentBasedDeduplication" | "SqsManagedSseEnabled" => {
                if value != "true" && value != "false" {
                    return Err(invalid());
                }
                if name == "ContentBasedDeduplication" && !fifo && value == "true" {
                    return Err(invalid());
                }
            }
            "RedrivePolicy" if !value.is_empty() => {
                let fault = |fault| QueueError::Redrive {
                    value: value.clone(),
                    fault,
                };
                let v: Value =
                    serde_json::from_str(value).map_err(|_| fault(RedriveFault::NotJson))?;
                let arn = v.get("deadLetterTargetArn").and_then(Value::as_str);
                let max = match v.get("maxReceiveCount") {
                    Some(Value::Number(n)) => n.as_i64(),
                    Some(Value::String(s)) => s.parse().ok(),
                    _ => None,
                };
                if arn.and_then(Arn::parse).is_none_or(|a| a.service != "sqs") {
                    return Err(fault(RedriveFault::NotQueueArn));
                }
                if !max.is_some_and(|m| limits::MAX_RECEIVE_COUNT.contains(&m)) {
                    return Err(fault(RedriveFault::MaxReceiveCount));
                }
            }
            "FifoThroughputLimit"
                if !matches!(value.as_str(), "perQueue" | "perMessageGroupId") =>
            {
                return Err(invalid());
            }
            "DeduplicationScope" if !matches!(value.as_str(), "queue" | "messageGroup") => {
                return Err(invalid());
            }
            _ => {}
        }
    }
    Ok(())
}

impl Queues {
    /// Checks the queue a `RedrivePolicy` names, for queue `name` of `region` (`fifo` says which
    /// kind it is or will be): in the same region, not the queue itself, existing, and of the
    /// same kind.
    fn check_redrive_target(
        &self,
        region: &str,
        name: &str,
        fifo: bool,
        attrs: &BTreeMap<String, String>,
    ) -> Result<(), QueueError> {
        let Some(value) = attrs.get("RedrivePolicy").filter(|v| !v.is_empty()) else {
            return Ok(());
        };
        let policy: Value = serde_json::from_str(value).unwrap_or(Value::Null);
        let Some(arn) = policy
            .get("deadLetterTargetArn")
            .and_then(Value::as_str)
            .and_then(Arn::parse)
        else {
            // `check_attributes` refused what is not an SQS ARN already.
            return Ok(());
        };
        let fault = |fault| {
            Err(QueueError::Redrive {
                value: value.clone(),
                fault,
            })
        };
        if arn.region != region {
            return fault(RedriveFault::OtherRegion);
        }
        if arn.resource == name {
            return fault(RedriveFault::ItSelf);
        }
        match self.get(region, arn.resource) {
            None => fault(RedriveFault::Missing),
            Some(dlq) if dlq.fifo() != fifo => fault(RedriveFault::OtherKind),
            Some(_) => Ok(()),
        }
    }

    /// Creates queue `name` in `region` with `attributes` and `tags`, as SQS's CreateQueue:
    /// creating a queue that exists with the same attributes answers it unchanged; with a
    /// different value of one of them, [`QueueError::Exists`].
    pub async fn create(
        &self,
        region: &str,
        name: &str,
        attributes: BTreeMap<String, String>,
        tags: Tags,
    ) -> Result<QueueDef, QueueError> {
        let fifo = attributes.get("FifoQueue").is_some_and(|v| v == "true");
        if !valid_queue_name(name, fifo) {
            return Err(QueueError::InvalidName {
                fifo: fifo || name.ends_with(".fifo"),
            });
        }
        check_attributes(&attributes, fifo)?;
        self.check_redrive_target(region, name, fifo, &attributes)?;
        let now = self.clock.now_ms();
        self.upsert(region, name, |current| {
            if let Some(cur) = current {
                if let Some((k, _)) = attributes.iter().find(|(k, v)| cur.attr(k) != v.as_str()) {
                    return Err(QueueError::Exists {
                        attribute: k.clone(),
                    });
                }
                return Ok((cur.clone(), cur.clone()));
            }
            let def = QueueDef {
                region: region.to_owned(),
                name: name.to_owned(),
                attributes,
                tags,
                created_ms: now,
                modified_ms: now,
            };
            Ok((def.clone(), def))
        })
        .await
    }

    /// Sets attributes of an existing queue, as SQS's SetQueueAttributes (a queue's kind,
    /// `FifoQueue`, never changes).
    pub async fn set_attributes(
        &self,
        region: &str,
        name: &str,
        attributes: BTreeMap<String, String>,
    ) -> Result<(), QueueError> {
        let q = self.get(region, name).ok_or(QueueError::NotFound)?;
        if attributes
            .get("FifoQueue")
            .is_some_and(|f| f != q.attr("FifoQueue"))
        {
            return Err(QueueError::InvalidAttributeValue("FifoQueue".to_owned()));
        }
        check_attributes(&attributes, q.fifo())?;
        self.check_redrive_target(region, name, q.fifo(), &attributes)?;
        let now = self.clock.now_ms();
        self.upsert(region, name, |current| {
            let mut def = current.cloned().ok_or(QueueError::NotFound)?;
            def.attributes.extend(attributes);
            def.modified_ms = now;
            Ok((def, ()))
        })
        .await
    }
}
