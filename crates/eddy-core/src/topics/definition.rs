//! Topics and subscriptions as eddy keeps them, and the one place that decides whether a topic
//! name, a subscription's protocol and endpoint, and their attributes are valid, for every
//! caller (the SNS API, the manifest).
//!
//! Refusals are [`TopicError`]s worded as SNS words them (the texts of SNS's own answers where
//! they are known), so the SNS adapter only adds the code. Attribute checks answer the reason
//! alone: `Set…Attributes` says `Invalid parameter: REASON`, `CreateTopic` and `Subscribe` say
//! `Invalid parameter: Attributes Reason: REASON`.

use std::collections::BTreeMap;

use eddy_model::definitions::Tags;
use eddy_model::names::Arn;
use eddy_pattern::filter_policy::{FilterPolicy, Scope};
use serde::{Deserialize, Serialize};

use crate::core_error::CoreError;
use crate::registry::Named;

/// Longest topic name (with `.fifo`).
pub const MAX_TOPIC_NAME: usize = 256;

/// Topic attributes a user may set. Attributes SNS keeps for delivery-status logging
/// (`…FeedbackRoleArn`, `…SuccessFeedbackSampleRate`) are kept as given.
pub const TOPIC_SETTABLE: &[&str] = &[
    "DeliveryPolicy",
    "DisplayName",
    "Policy",
    "KmsMasterKeyId",
    "SignatureVersion",
    "TracingConfig",
    "FifoTopic",
    "ContentBasedDeduplication",
    "ArchivePolicy",
    "FifoThroughputScope",
];

/// Subscription attributes a user may set.
pub const SUBSCRIPTION_SETTABLE: &[&str] = &[
    "DeliveryPolicy",
    "FilterPolicy",
    "FilterPolicyScope",
    "RawMessageDelivery",
    "RedrivePolicy",
    "SubscriptionRoleArn",
    "ReplayPolicy",
];

/// The protocols eddy delivers to. `email`, `email-json` and `sms` are written to a log group
/// instead of being sent (see [`crate::delivery::notify`]); `eventbridge` (an event bus's ARN as
/// the endpoint) is eddy's own: SNS has no such protocol, and eddy puts each notification on
/// the bus as an event.
pub const PROTOCOLS: &[&str] = &[
    "sqs",
    "lambda",
    "http",
    "https",
    "email",
    "email-json",
    "sms",
    "eventbridge",
];

/// A topic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TopicDef {
    pub region: String,
    pub name: String,
    /// Attributes as set (defaults are applied on read).
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    #[serde(default)]
    pub tags: Tags,
    pub created_ms: i64,
}

impl TopicDef {
    pub fn attr(&self, name: &str) -> &str {
        self.attributes.get(name).map_or("", String::as_str)
    }

    pub fn fifo(&self) -> bool {
        self.attr("FifoTopic") == "true"
    }

    pub fn content_based_dedup(&self) -> bool {
        self.attr("ContentBasedDeduplication") == "true"
    }

    /// `arn:aws:sns:REGION:ACCOUNT:NAME`
    pub fn arn(&self, account: &str) -> String {
        topic_arn(&self.region, account, &self.name)
    }
}

impl Named for TopicDef {
    const KIND: &'static str = "topic";

    fn region(&self) -> &str {
        &self.region
    }

    fn name(&self) -> &str {
        &self.name
    }
}

/// `arn:aws:sns:REGION:ACCOUNT:NAME`
pub fn topic_arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:sns:{region}:{account}:{name}")
}

/// A subscription of a topic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SubscriptionDef {
    pub region: String,
    /// The last part of its ARN (a UUID).
    pub id: String,
    /// The topic's name.
    pub topic: String,
    pub protocol: String,
    pub endpoint: String,
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    /// `false` until the endpoint confirms (`http`, `https`, `email`, …).
    pub confirmed: bool,
    /// The confirmation token sent to the endpoint, while pending.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    pub created_ms: i64,
}

impl SubscriptionDef {
    /// `arn:aws:sns:REGION:ACCOUNT:TOPIC:ID`
    pub fn arn(&self, account: &str) -> String {
        format!(
            "{}:{}",
            topic_arn(&self.region, account, &self.topic),
            self.id
        )
    }

    pub fn attr(&self, name: &str) -> &str {
        self.attributes.get(name).map_or("", String::as_str)
    }

    pub fn raw(&self) -> bool {
        self.attr("RawMessageDelivery") == "true"
    }

    pub fn scope(&self) -> Scope {
        if self.attr("FilterPolicyScope") == "MessageBody" {
            Scope::MessageBody
        } else {
            Scope::MessageAttributes
        }
    }

    /// The compiled filter policy, if the subscription has one (checked when it was set).
    pub fn filter(&self) -> Option<FilterPolicy> {
        let src = self.attributes.get("FilterPolicy")?;
        if src.trim().is_empty() {
            return None;
        }
        FilterPolicy::parse(src, self.scope()).ok()
    }

    /// The dead-letter queue's ARN from the `RedrivePolicy`.
    pub fn dead_letter_arn(&self) -> Option<String> {
        let policy: serde_json::Value = serde_json::from_str(self.attr("RedrivePolicy")).ok()?;
        Some(policy.get("deadLetterTargetArn")?.as_str()?.to_owned())
    }
}

impl Named for SubscriptionDef {
    const KIND: &'static str = "subscription";

    fn region(&self) -> &str {
        &self.region
    }

    fn name(&self) -> &str {
        &self.id
    }
}

/// Why a topic operation refused.
#[derive(Debug, thiserror::Error)]
pub enum TopicError {
    /// SNS's `InvalidParameter`, with its whole message.
    #[error("{0}")]
    Invalid(String),
    /// SNS's `InvalidParameterValue`: the whole message.
    #[error("{0}")]
    InvalidValue(String),
    /// The topic does not exist.
    #[error("Topic does not exist")]
    TopicNotFound,
    /// The subscription does not exist.
    #[error("Subscription does not exist")]
    SubscriptionNotFound,
    /// A resource named in a request (a tag's resource) does not exist.
    #[error("Resource does not exist")]
    ResourceNotFound,
    /// More tags than a topic may have (50).
    #[error("Could not complete request: tag quota of per resource exceeded")]
    TagLimit,
    /// SNS's `InternalFailure` (what SNS answers for some filter policies).
    #[error("{0}")]
    Internal(String),
    #[error(transparent)]
    Core(#[from] CoreError),
}

/// `Invalid parameter: REASON`
pub fn invalid(reason: impl std::fmt::Display) -> TopicError {
    TopicError::Invalid(format!("Invalid parameter: {reason}"))
}

/// A refused attribute: its reason, to be worded by the operation (see the module docs).
#[derive(Debug)]
pub enum AttributeError {
    Reason(String),
    Other(TopicError),
}

impl AttributeError {
    /// As `Set…Attributes` words it.
    pub fn set(self) -> TopicError {
        match self {
            AttributeError::Reason(r) => invalid(r),
            AttributeError::Other(e) => e,
        }
    }

    /// As `CreateTopic` and `Subscribe` word it.
    pub fn create(self) -> TopicError {
        match self {
            AttributeError::Reason(r) if r == "AttributeName" => invalid(r),
            AttributeError::Reason(r) => invalid(format!("Attributes Reason: {r}")),
            AttributeError::Other(e) => e,
        }
    }
}

fn reason(r: impl Into<String>) -> AttributeError {
    AttributeError::Reason(r.into())
}

/// Checks a topic name as SNS does: 1 to 256 characters of letters, digits, `-` and `_`; a
/// FIFO topic's ends in `.fifo`, and only a FIFO topic's may.
pub fn check_topic_name(name: &str, fifo: bool) -> Result<(), TopicError> {
    let base = if fifo {
        name.strip_suffix(".fifo")
    } else {
        Some(name)
    };
    let ok = name.len() <= MAX_TOPIC_NAME
        && base.is_some_and(|b| {
            !b.is_empty()
                && b.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        });
    if ok {
        Ok(())
    } else if !fifo && name.ends_with(".fifo") {
        Err(invalid("Topic Name"))
    } else if fifo {
        Err(invalid(
            "Fifo Topic names must end with .fifo and must be made up of only uppercase and \
             lowercase ASCII letters, numbers, underscores, and hyphens, and must be between 1 \
             and 256 characters long.",
        ))
    } else {
        Err(invalid("Topic Name"))
    }
}

fn boolean(name: &str, value: &str) -> Result<(), AttributeError> {
    if value.eq_ignore_ascii_case("true") || value.eq_ignore_ascii_case("false") {
        Ok(())
    } else {
        Err(reason(format!(
            "{name}: Invalid value [{value}]. Must be true or false."
        )))
    }
}

/// Normalises `true`/`false` as SNS stores them (lower case).
fn normal(name: &str, value: &str) -> String {
    match name {
        "FifoTopic" | "ContentBasedDeduplication" | "RawMessageDelivery" => {
            value.to_ascii_lowercase()
        }
        _ => value.to_owned(),
    }
}

/// Checks one topic attribute; answers the value to store. `fifo` is whether the topic is (or
/// will be) a FIFO topic.
pub fn check_topic_attribute(
    name: &str,
    value: &str,
    fifo: bool,
) -> Result<String, AttributeError> {
    let settable = TOPIC_SETTABLE.contains(&name)
        || name.ends_with("FeedbackRoleArn")
        || name.ends_with("SuccessFeedbackSampleRate");
    if !settable {
        return Err(reason("AttributeName"));
    }
    let json_object =
        |v: &str| serde_json::from_str::<serde_json::Value>(v).is_ok_and(|v| v.is_object());
    match name {
        "FifoTopic" => boolean(name, value)?,
        "ContentBasedDeduplication" => {
            boolean(name, value)?;
            if !fifo && value.eq_ignore_ascii_case("true") {
                return Err(reason(
                    "ContentBasedDeduplication: Content-based deduplication can only be set for \
                     FIFO topics",
                ));
            }
        }
        "DisplayName" if value.chars().count() > 100 => {
            return Err(reason("DisplayName: must be at most 100 characters"));
        }
        "SignatureVersion" if value != "1" && value != "2" => {
            return Err(reason(format!(
                "SignatureVersion: Invalid value [{value}]. Valid values are 1, 2"
            )));
        }
        "Policy" | "DeliveryPolicy" | "ArchivePolicy" if !value.is_empty() => {
            if !json_object(value) {
                return Err(reason(format!("{name}: failed to parse JSON.")));
            }
            if name == "ArchivePolicy" && !fifo {
                return Err(reason(
                    "ArchivePolicy: Message archiving can only be set for FIFO topics",
                ));
            }
        }
        "TracingConfig" if value != "Active" && value != "PassThrough" => {
            return Err(reason(format!(
                "TracingConfig: Invalid value [{value}]. Valid values are Active, PassThrough"
            )));
        }
        "FifoThroughputScope" => {
            if !fifo {
                return Err(reason(
                    "FifoThroughputScope: can only be set for FIFO topics",
                ));
            }
            if value != "Topic" && value != "MessageGroup" {
                return Err(reason(format!(
                    "FifoThroughputScope: Invalid value [{value}]. Valid values are Topic, \
                     MessageGroup"
                )));
            }
        }
        _ => {}
    }
    Ok(normal(name, value))
}

/// Checks a subscription's protocol and endpoint as SNS does (`fifo`: the topic is a FIFO
/// topic, which delivers only to SQS queues).
pub fn check_endpoint(protocol: &str, endpoint: &str, fifo: bool) -> Result<(), TopicError> {
    if !PROTOCOLS.contains(&protocol) {
        if matches!(protocol, "application" | "firehose") {
            return Err(invalid(format!(
                "eddy does not deliver to `{protocol}` subscriptions (it delivers to: {})",
                PROTOCOLS.join(", ")
            )));
        }
        return Err(invalid(format!(
            "Amazon SNS does not support this protocol string: {protocol}"
        )));
    }
    if fifo && protocol != "sqs" {
        return Err(invalid(format!(
            "Invalid protocol type: {protocol}. FIFO topics deliver only to SQS queues"
        )));
    }
    let arn_of = |service: &str| Arn::parse(endpoint).filter(|a| a.service == service);
    let ok = match protocol {
        "sqs" => arn_of("sqs").is_some_and(|a| !a.resource.contains(':')),
        "lambda" => arn_of("lambda").is_some_and(|a| a.resource.starts_with("function:")),
        "http" => endpoint.starts_with("http://") && endpoint.len() > 7,
        "https" => endpoint.starts_with("https://") && endpoint.len() > 8,
        "email" | "email-json" => {
            let mut parts = endpoint.split('@');
            matches!(
                (parts.next(), parts.next(), parts.next()),
                (Some(u), Some(d), None) if !u.is_empty() && d.contains('.')
            )
        }
        "eventbridge" => arn_of("events").is_some_and(|a| a.resource.starts_with("event-bus/")),
        "sms" => {
            let digits = endpoint.strip_prefix('+').unwrap_or(endpoint);
            (7..=15).contains(&digits.len()) && digits.chars().all(|c| c.is_ascii_digit())
        }
        _ => false,
    };
    if !ok {
        return Err(match protocol {
            "sqs" => invalid("SQS endpoint ARN"),
            "lambda" => invalid("Lambda endpoint ARN"),
            "email" | "email-json" => invalid("Email address"),
            "sms" => TopicError::Invalid(format!("Invalid SMS endpoint: {endpoint}")),
            "eventbridge" => invalid("EventBridge endpoint ARN: use an event bus's ARN"),
            _ => invalid("Endpoint must match the specified protocol"),
        });
    }
    if protocol == "sqs" && !fifo && endpoint.ends_with(".fifo") {
        return Err(invalid(
            "Invalid parameter: Endpoint Reason: FIFO SQS Queues can not be subscribed to \
             standard SNS topics",
        ));
    }
    Ok(())
}

/// Checks one subscription attribute against the subscription as it would be with it (`sub`
/// holds every other attribute); answers the value to store.
pub fn check_subscription_attribute(
    sub: &SubscriptionDef,
    name: &str,
    value: &str,
) -> Result<String, AttributeError> {
    if !SUBSCRIPTION_SETTABLE.contains(&name) {
        return Err(reason("AttributeName"));
    }
    match name {
        "RawMessageDelivery" => {
            boolean(name, value)?;
            if !matches!(
                sub.protocol.as_str(),
                "sqs" | "http" | "https" | "firehose" | "eventbridge"
            ) && value.eq_ignore_ascii_case("true")
            {
                return Err(reason(format!(
                    "RawMessageDelivery: Raw message delivery is not supported for the {} \
                     protocol",
                    sub.protocol
                )));
            }
        }
        "FilterPolicyScope" => {
            let scope = match value {
                "MessageAttributes" => Scope::MessageAttributes,
                "MessageBody" => Scope::MessageBody,
                _ => {
                    return Err(reason(format!(
                        "FilterPolicyScope: Invalid value [{value}]. Please use either \
                         MessageBody or MessageAttributes"
                    )));
                }
            };
            if let Some(policy) = sub.attributes.get("FilterPolicy").filter(|p| !p.is_empty()) {
                FilterPolicy::parse(policy, scope).map_err(|e| filter_error(&e))?;
            }
        }
        "FilterPolicy" if !value.trim().is_empty() => {
            FilterPolicy::parse(value, sub.scope()).map_err(|e| filter_error(&e))?;
        }
        "RedrivePolicy" if !value.is_empty() => check_redrive(value)?,
        "DeliveryPolicy"
            if !value.is_empty()
                && serde_json::from_str::<serde_json::Value>(value)
                    .map_or(true, |v| !v.is_object()) =>
        {
            return Err(reason("DeliveryPolicy: failed to parse JSON."));
        }
        _ => {}
    }
    Ok(normal(name, value))
}

/// A filter policy refusal as an [`AttributeError`].
fn filter_error(e: &eddy_pattern::filter_policy::FilterPolicyError) -> AttributeError {
    match e.code() {
        eddy_pattern::filter_policy::ErrorCode::InvalidParameter => {
            let message = e.message();
            reason(
                message
                    .strip_prefix("Invalid parameter: ")
                    .unwrap_or(&message),
            )
        }
        eddy_pattern::filter_policy::ErrorCode::InternalFailure => {
            AttributeError::Other(TopicError::Internal(e.message()))
        }
    }
}

/// Checks a subscription's `RedrivePolicy`: JSON naming an SQS queue's ARN as
/// `deadLetterTargetArn`.
fn check_redrive(value: &str) -> Result<(), AttributeError> {
    let Ok(policy) = serde_json::from_str::<serde_json::Value>(value) else {
        return Err(reason("RedrivePolicy: failed to parse JSON."));
    };
    let ok = policy
        .get("deadLetterTargetArn")
        .and_then(serde_json::Value::as_str)
        .and_then(Arn::parse)
        .is_some_and(|a| a.service == "sqs");
    if !ok {
        return Err(reason(
            "RedrivePolicy: deadLetterTargetArn is an invalid arn",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_names_follow_sns_rules() {
        assert!(check_topic_name("orders_2-x", false).is_ok());
        assert!(check_topic_name("orders.fifo", true).is_ok());
        assert!(check_topic_name(&"a".repeat(256), false).is_ok());
        assert!(check_topic_name(&"a".repeat(257), false).is_err());
        assert!(check_topic_name("", false).is_err());
        assert!(check_topic_name("has space", false).is_err());
        assert!(check_topic_name("orders.fifo", false).is_err());
        assert!(check_topic_name("orders", true).is_err());
        assert!(check_topic_name(".fifo", true).is_err());
    }

    #[test]
    fn endpoints_must_match_their_protocol() {
        let q = "arn:aws:sqs:us-east-1:123456789012:q";
        assert!(check_endpoint("sqs", q, false).is_ok());
        assert!(check_endpoint("sqs", "https://example.com", false).is_err());
        assert!(
            check_endpoint(
                "lambda",
                "arn:aws:lambda:us-east-1:123456789012:function:f",
                false
            )
            .is_ok()
        );
        assert!(check_endpoint("http", "http://127.0.0.1:9/x", false).is_ok());
        assert!(check_endpoint("https", "http://127.0.0.1:9/x", false).is_err());
        assert!(check_endpoint("email", "dev@example.com", false).is_ok());
        assert!(check_endpoint("email", "nobody", false).is_err());
        assert!(check_endpoint("sms", "+15555550100", false).is_ok());
        assert!(check_endpoint("carrier-pigeon", "x", false).is_err());
        assert!(check_endpoint("lambda", "arn:aws:lambda:us-east-1:1:function:f", true).is_err());
    }

    #[test]
    fn subscription_attributes_are_checked_against_the_subscription() {
        let sub = SubscriptionDef {
            region: "us-east-1".into(),
            id: "x".into(),
            topic: "t".into(),
            protocol: "lambda".into(),
            endpoint: "arn:aws:lambda:us-east-1:1:function:f".into(),
            attributes: BTreeMap::new(),
            confirmed: true,
            token: None,
            created_ms: 0,
        };
        assert!(check_subscription_attribute(&sub, "RawMessageDelivery", "true").is_err());
        assert!(check_subscription_attribute(&sub, "RawMessageDelivery", "false").is_ok());
        assert!(check_subscription_attribute(&sub, "FilterPolicy", r#"{"a":["b"]}"#).is_ok());
        let e = check_subscription_attribute(&sub, "FilterPolicy", r#"{"a":[{"wildcard":"b*"}]}"#);
        assert!(matches!(e, Err(AttributeError::Reason(_))));
        assert!(check_subscription_attribute(&sub, "FilterPolicyScope", "Body").is_err());
        assert!(check_subscription_attribute(&sub, "Nope", "x").is_err());
        assert!(
            check_subscription_attribute(
                &sub,
                "RedrivePolicy",
                r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:1:dlq"}"#
            )
            .is_ok()
        );
        assert!(check_subscription_attribute(&sub, "RedrivePolicy", "{}").is_err());
    }
}
