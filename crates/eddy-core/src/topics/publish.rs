//! Publishing: what a message published to a topic must be (SNS's checks and limits), the
//! notification eddy stores for it, and the FIFO topics' deduplication window and sequence
//! numbers.
//!
//! A published message is stored once, as an event of the event log, with one work item
//! ([`crate::work::Work::Notify`]) per subscription whose filter policy it passes, all in one
//! durable append: once the caller holds a message id, every delivery it owes is durable.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use base64::Engine;
use eddy_pattern::filter_policy::DataType;
use serde::{Deserialize, Serialize};

use super::definition::TopicError;

/// Largest message SNS accepts: body and attributes (names, types and values) together.
pub const MAX_MESSAGE_BYTES: usize = 262_144;
/// Most message attributes a raw delivery to a queue carries (SQS's limit): a message with
/// more cannot be delivered raw to a queue.
pub const MAX_RAW_QUEUE_ATTRIBUTES: usize = 10;
/// Longest subject.
pub const MAX_SUBJECT: usize = 100;
/// How long a FIFO topic remembers a deduplication id.
pub const DEDUP_WINDOW_MS: i64 = 5 * 60 * 1000;
/// Longest `MessageGroupId` / `MessageDeduplicationId`.
pub const MAX_ID_LEN: usize = 128;

/// One message attribute as published.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MessageAttribute {
    pub data_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub string_value: Option<String>,
    /// Base64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binary_value: Option<String>,
}

impl MessageAttribute {
    /// The value as notifications carry it (`Value`): the string, or the binary's base64.
    pub fn value(&self) -> &str {
        self.string_value
            .as_deref()
            .or(self.binary_value.as_deref())
            .unwrap_or("")
    }

    /// The type as notifications carry it (`Type`): `String`, `Number`, `Binary`,
    /// `String.Array`, custom suffixes kept.
    pub fn kind(&self) -> &str {
        &self.data_type
    }
}

/// A message to publish, as the caller gave it.
#[derive(Debug, Clone, Default)]
pub struct Publication {
    pub message: String,
    pub subject: Option<String>,
    /// `MessageStructure` (only `json` is defined).
    pub structure: Option<String>,
    pub attributes: BTreeMap<String, MessageAttribute>,
    pub group_id: Option<String>,
    pub dedup_id: Option<String>,
}

/// What kind of message a notification is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Kind {
    #[default]
    Notification,
    SubscriptionConfirmation,
    UnsubscribeConfirmation,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Notification => "Notification",
            Kind::SubscriptionConfirmation => "SubscriptionConfirmation",
            Kind::UnsubscribeConfirmation => "UnsubscribeConfirmation",
        }
    }
}

/// A published message as the event log keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Notification {
    #[serde(default)]
    pub kind: Kind,
    pub message_id: String,
    pub topic_arn: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    pub message: String,
    pub timestamp_ms: i64,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub message_attributes: BTreeMap<String, MessageAttribute>,
    /// `MessageStructure: json`: `message` holds one message per protocol.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub structured: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dedup_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequence_number: Option<String>,
    /// A confirmation's token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

impl Notification {
    /// The message a subscriber of `protocol` receives: with `MessageStructure: json`, the
    /// protocol's own entry, else `default`.
    pub fn message_for(&self, protocol: &str) -> String {
        if !self.structured {
            return self.message.clone();
        }
        let Ok(serde_json::Value::Object(per)) = serde_json::from_str(&self.message) else {
            return self.message.clone();
        };
        per.get(protocol)
            .or_else(|| per.get("default"))
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_owned()
    }

    /// The attribute lookup a filter policy evaluates.
    pub fn attribute(&self, name: &str) -> Option<(DataType, &str)> {
        let a = self.message_attributes.get(name)?;
        Some((DataType::from_sns(&a.data_type)?, a.value()))
    }
}

use super::definition::invalid;

fn invalid_value(message: impl Into<String>) -> TopicError {
    TopicError::InvalidValue(message.into())
}

/// Checks a publication as SNS does, for a topic that is FIFO or not.
pub fn check(p: &Publication, fifo: bool, content_dedup: bool) -> Result<(), TopicError> {
    if p.message.is_empty() {
        return Err(invalid("Empty message"));
    }
    if let Some(s) = &p.subject {
        let printable = s.chars().all(|c| c.is_ascii() && !c.is_ascii_control());
        if s.is_empty() || !printable || s.chars().count() > MAX_SUBJECT {
            return Err(invalid("Subject"));
        }
    }
    match p.structure.as_deref() {
        None => {}
        Some("json") => {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(&p.message) else {
                return Err(invalid(
                    "Message Structure - JSON message body failed to parse",
                ));
            };
            let Some(obj) = v.as_object() else {
                return Err(invalid(
                    "Message Structure - JSON message body failed to parse",
                ));
            };
            if !obj.get("default").is_some_and(serde_json::Value::is_string) {
                return Err(invalid(
                    "Message Structure - No default entry in JSON message body",
                ));
            }
        }
        Some(_) => return Err(invalid("MessageStructure")),
    }
    let mut size = p.message.len();
    for (name, a) in &p.attributes {
        check_attribute(name, a)?;
        size += name.len() + a.data_type.len() + a.value().len();
    }
    if size > MAX_MESSAGE_BYTES {
        return Err(invalid("Message too long"));
    }
    if fifo {
        match &p.group_id {
            None => {
                return Err(invalid(
                    "The MessageGroupId parameter is required for FIFO topics",
                ));
            }
            Some(g) => check_id("MessageGroupId", g)?,
        }
        match &p.dedup_id {
            None if !content_dedup => {
                return Err(invalid(
                    "The topic should either have ContentBasedDeduplication enabled or \
                     MessageDeduplicationId provided explicitly",
                ));
            }
            None => {}
            Some(d) => check_id("MessageDeduplicationId", d)?,
        }
    } else if p.dedup_id.is_some() {
        return Err(invalid(
            "MessageDeduplicationId Reason: The request includes MessageDeduplicationId \
             parameter that is not valid for this topic type",
        ));
    } else if let Some(g) = &p.group_id {
        check_id("MessageGroupId", g)?;
    }
    Ok(())
}

/// A group or deduplication id: 1 to 128 characters of `a-zA-Z0-9` and punctuation.
fn check_id(what: &str, id: &str) -> Result<(), TopicError> {
    let ok = !id.is_empty() && id.len() <= MAX_ID_LEN && id.chars().all(|c| c.is_ascii_graphic());
    if ok {
        Ok(())
    } else {
        Err(invalid(format!(
            "{what} Reason: {what} can only include alphanumeric and punctuation characters. \
             1 to 128 in length."
        )))
    }
}

/// Names SNS keeps for itself.
fn reserved(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.starts_with("aws.") || lower.starts_with("amazon.")
}

fn check_attribute(name: &str, a: &MessageAttribute) -> Result<(), TopicError> {
    if name.is_empty() {
        return Err(invalid_value(
            "The message attribute name must not be empty.",
        ));
    }
    if name.len() >= 256 {
        return Err(invalid_value(
            "Length of message attribute name must be less than 256 bytes.",
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
    {
        return Err(invalid_value(format!(
            "Invalid non-alphanumeric character '#x{:X}' was found in the message attribute \
             name. Can only include alphanumeric characters, hyphens, underscores, or dots.",
            c as u32
        )));
    }
    if name.starts_with('.') {
        return Err(invalid_value(
            "Invalid message attribute name starting with character '.' was found.",
        ));
    }
    if name.ends_with('.') {
        return Err(invalid_value(
            "Invalid message attribute name ending with character '.' was found.",
        ));
    }
    if name.contains("..") {
        return Err(invalid_value(
            "Message attribute name can not have successive '.' character.",
        ));
    }
    if reserved(name) {
        return Err(invalid_value(format!(
            "The message attribute name '{name}' is reserved: names starting with 'AWS.' or \
             'Amazon.' are Amazon SNS's own."
        )));
    }
    let Some(kind) = DataType::from_sns(&a.data_type) else {
        return Err(invalid_value(format!(
            "The message attribute '{name}' has an invalid message attribute type, the set of \
             supported type prefixes is Binary, Number, and String."
        )));
    };
    let dt = &a.data_type;
    let empty = || {
        invalid_value(format!(
            "The message attribute '{name}' must contain non-empty message attribute value for \
             message attribute type '{dt}'."
        ))
    };
    match kind {
        DataType::Binary => {
            if a.binary_value.is_none() && a.string_value.is_some() {
                return Err(invalid_value(format!(
                    "The message attribute '{name}' with type 'Binary' must use field 'Binary'."
                )));
            }
            let Some(b) = a.binary_value.as_deref().filter(|b| !b.is_empty()) else {
                return Err(empty());
            };
            if base64::engine::general_purpose::STANDARD.decode(b).is_err() {
                return Err(invalid_value(format!(
                    "The message attribute '{name}' with type 'Binary' must use field 'Binary'."
                )));
            }
        }
        DataType::String | DataType::Number | DataType::StringArray => {
            if a.string_value.is_none() && a.binary_value.is_some() {
                return Err(invalid_value(format!(
                    "The message attribute '{name}' with type '{dt}' must use field 'String'."
                )));
            }
            let Some(s) = a.string_value.as_deref().filter(|s| !s.is_empty()) else {
                return Err(empty());
            };
            if kind == DataType::Number && !valid_number(s) {
                return Err(invalid_value(format!(
                    "Could not cast message attribute '{name}' value to number."
                )));
            }
            if kind == DataType::StringArray {
                let ok = serde_json::from_str::<serde_json::Value>(s).is_ok_and(|v| {
                    v.as_array().is_some_and(|items| {
                        items.iter().all(|i| {
                            i.is_string() || i.is_number() || i.is_boolean() || i.is_null()
                        })
                    })
                });
                if !ok {
                    return Err(invalid_value(format!(
                        "The message attribute '{name}' of type 'String.Array' must be a JSON \
                         array of strings, numbers, true, false or null."
                    )));
                }
            }
        }
    }
    Ok(())
}

/// A number SNS accepts as a `Number` attribute: decimal, optional sign, fraction and exponent.
fn valid_number(s: &str) -> bool {
    s.trim().parse::<f64>().is_ok_and(f64::is_finite)
        && s.trim()
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | 'e' | 'E'))
}

/// What the deduplication window remembers of a publication: until when, its message id and its
/// sequence number.
type Seen = (i64, String, String);

/// A FIFO topic's deduplication window and sequence numbers, per node.
///
/// The window lives in memory: a node that restarts forgets it, and nodes sharing a store keep
/// their own. A FIFO queue subscribed to the topic deduplicates again, durably and for every
/// node, on the same deduplication id, so a repeat published within five minutes still reaches
/// it once.
#[derive(Default)]
pub struct Fifo {
    /// `(topic ARN, deduplication id)` → `(remembered until, message id, sequence number)`.
    seen: Mutex<HashMap<(String, String), Seen>>,
    /// When the window was last swept of expired entries.
    swept_ms: Mutex<i64>,
    last_seq: Mutex<u128>,
}

/// Entries the window holds at most; past it, the oldest are forgotten early (a publication
/// repeated after that many others is published again, and a FIFO queue subscriber still
/// deduplicates it).
const MAX_REMEMBERED: usize = 1_000_000;

impl Fifo {
    /// The message id and sequence number of a publication with this deduplication id within
    /// the window, if there was one.
    pub fn seen(&self, topic: &str, dedup: &str, now_ms: i64) -> Option<(String, String)> {
        let seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        seen.get(&(topic.to_owned(), dedup.to_owned()))
            .filter(|(until, _, _)| *until > now_ms)
            .map(|(_, id, seq)| (id.clone(), seq.clone()))
    }

    /// Remembers a publication's deduplication id for the window.
    pub fn remember(&self, topic: &str, dedup: &str, id: &str, seq: &str, now_ms: i64) {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        {
            // Expired entries go at most once a second (a sweep is a scan of the window).
            let mut swept = self.swept_ms.lock().unwrap_or_else(|e| e.into_inner());
            if now_ms - *swept >= 1_000 {
                seen.retain(|_, (until, _, _)| *until > now_ms);
                *swept = now_ms;
            }
        }
        if seen.len() >= MAX_REMEMBERED {
            let cutoff = {
                let mut untils: Vec<i64> = seen.values().map(|(u, _, _)| *u).collect();
                let mid = untils.len() / 2;
                *untils.select_nth_unstable(mid).1
            };
            seen.retain(|_, (until, _, _)| *until > cutoff);
        }
        seen.insert(
            (topic.to_owned(), dedup.to_owned()),
            (now_ms + DEDUP_WINDOW_MS, id.to_owned(), seq.to_owned()),
        );
    }

    /// The next sequence number: 20 digits, increasing (milliseconds then a counter).
    pub fn next_seq(&self, now_ms: i64) -> String {
        let mut last = self.last_seq.lock().unwrap_or_else(|e| e.into_inner());
        let floor = u128::try_from(now_ms.max(0)).unwrap_or(0) * 1_000_000;
        *last = (*last + 1).max(floor);
        format!("{:020}", *last % 100_000_000_000_000_000_000)
    }
}

/// The content-based deduplication id: the SHA-256 of the message, hex.
pub fn content_dedup_id(message: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(message.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr(t: &str, v: &str) -> MessageAttribute {
        MessageAttribute {
            data_type: t.into(),
            string_value: Some(v.into()),
            binary_value: None,
        }
    }

    fn msg(m: &str) -> Publication {
        Publication {
            message: m.into(),
            ..Publication::default()
        }
    }

    #[test]
    fn publications_are_checked_as_sns_does() {
        assert!(check(&msg("hi"), false, false).is_ok());
        assert!(check(&msg(""), false, false).is_err());
        assert!(check(&msg(&"x".repeat(MAX_MESSAGE_BYTES + 1)), false, false).is_err());
        let mut p = msg("{\"default\":\"d\",\"sqs\":\"s\"}");
        p.structure = Some("json".into());
        assert!(check(&p, false, false).is_ok());
        p.message = "{\"sqs\":\"s\"}".into();
        assert!(check(&p, false, false).is_err());
        let mut p = msg("hi");
        p.attributes.insert("n".into(), attr("Number", "1.5e3"));
        p.attributes
            .insert("s".into(), attr("String.Array", "[\"a\",1]"));
        assert!(check(&p, false, false).is_ok());
        p.attributes.insert("bad".into(), attr("Number", "one"));
        assert!(check(&p, false, false).is_err());
        let mut p = msg("hi");
        p.attributes.insert("AWS.x".into(), attr("String", "v"));
        assert!(check(&p, false, false).is_err());
        let mut p = msg("hi");
        p.attributes.insert("t".into(), attr("Blob", "v"));
        assert!(check(&p, false, false).is_err());
    }

    #[test]
    fn fifo_publications_need_a_group_and_a_dedup_id() {
        let mut p = msg("hi");
        assert!(check(&p, true, true).is_err());
        p.group_id = Some("g".into());
        assert!(check(&p, true, true).is_ok());
        assert!(check(&p, true, false).is_err());
        p.dedup_id = Some("d".into());
        assert!(check(&p, true, false).is_ok());
        assert!(check(&p, false, false).is_err());
    }

    #[test]
    fn structured_messages_pick_the_protocols_entry() {
        let n = Notification {
            kind: Kind::Notification,
            message_id: "m".into(),
            topic_arn: "t".into(),
            subject: None,
            message: "{\"default\":\"d\",\"sqs\":\"s\"}".into(),
            timestamp_ms: 0,
            message_attributes: BTreeMap::new(),
            structured: true,
            group_id: None,
            dedup_id: None,
            sequence_number: None,
            token: None,
        };
        assert_eq!(n.message_for("sqs"), "s");
        assert_eq!(n.message_for("lambda"), "d");
    }

    #[test]
    fn sequence_numbers_increase_and_dedup_remembers() {
        let f = Fifo::default();
        let a = f.next_seq(1000);
        let b = f.next_seq(1000);
        assert_eq!(a.len(), 20);
        assert!(b > a);
        f.remember("t", "d", "id", &a, 0);
        assert_eq!(f.seen("t", "d", 1).map(|x| x.0), Some("id".into()));
        assert!(f.seen("t", "d", DEDUP_WINDOW_MS + 1).is_none());
    }
}
