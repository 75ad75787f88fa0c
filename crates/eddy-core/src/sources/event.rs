//! What a batch of SQS messages becomes and what becomes of it, as pure functions: Lambda's SQS
//! event (one record per message, exactly the shape Lambda delivers), the filter criteria's view
//! of a record (its body parsed when it is JSON), and which messages a finished invocation
//! deletes (all, all but the reported failures, or none).

use std::collections::{BTreeMap, BTreeSet};

use eddy_pattern::Pattern;
use eddy_store::Message;
use serde_json::{Map, Value, json};

use crate::queues::StoredAttributes;

/// How deep a JSON body may nest for filters to see it parsed (deeper bodies are matched as
/// strings, which no body-property pattern matches).
const MAX_BODY_DEPTH: usize = 128;

/// Where the records of a batch come from.
#[derive(Debug, Clone, Copy)]
pub struct Source<'a> {
    pub queue_arn: &'a str,
    pub region: &'a str,
    /// `SenderId` (eddy's account, as the SQS API reports it).
    pub account: &'a str,
    pub fifo: bool,
}

/// One message as Lambda's SQS event record.
pub fn record(src: &Source<'_>, m: &Message) -> Value {
    let stored: StoredAttributes = serde_json::from_str(&m.attributes).unwrap_or_default();
    let mut attributes = Map::new();
    let mut put = |k: &str, v: String| {
        attributes.insert(k.to_owned(), Value::String(v));
    };
    put("ApproximateReceiveCount", m.receive_count.to_string());
    put("SentTimestamp", m.sent_ms.to_string());
    put("SenderId", src.account.to_owned());
    put(
        "ApproximateFirstReceiveTimestamp",
        m.first_receive_ms.to_string(),
    );
    if let Some(t) = stored.system.get("AWSTraceHeader") {
        put("AWSTraceHeader", t.clone());
    }
    if src.fifo {
        put("SequenceNumber", format!("{:020}", m.seq));
        if let Some(g) = &m.group_id {
            put("MessageGroupId", g.clone());
        }
        if let Some(d) = &m.dedup_id {
            put("MessageDeduplicationId", d.clone());
        }
    }
    let mut rec = json!({
        "messageId": m.message_id,
        "receiptHandle": m.receipt,
        "body": m.body,
        "attributes": attributes,
        "messageAttributes": message_attributes(&stored.message_attributes),
        "md5OfBody": crate::queues::md5_hex(m.body.as_bytes()),
    });
    if let Some(md5) = &stored.md5_of_message_attributes {
        rec["md5OfMessageAttributes"] = json!(md5);
    }
    rec["eventSource"] = json!("aws:sqs");
    rec["eventSourceARN"] = json!(src.queue_arn);
    rec["awsRegion"] = json!(src.region);
    rec
}

/// SQS message attributes as stored (`{name: {DataType, StringValue|BinaryValue}}`) in the
/// event's spelling: `{name: {stringValue|binaryValue, stringListValues, binaryListValues,
/// dataType}}`.
fn message_attributes(attrs: &BTreeMap<String, Value>) -> Value {
    let out: Map<String, Value> = attrs
        .iter()
        .map(|(name, v)| {
            let mut a = Map::new();
            if let Some(s) = v.get("StringValue") {
                a.insert("stringValue".into(), s.clone());
            }
            if let Some(b) = v.get("BinaryValue") {
                a.insert("binaryValue".into(), b.clone());
            }
            let list = |k: &str| v.get(k).cloned().unwrap_or_else(|| json!([]));
            a.insert("stringListValues".into(), list("StringListValues"));
            a.insert("binaryListValues".into(), list("BinaryListValues"));
            let data_type = v
                .get("DataType")
                .cloned()
                .unwrap_or_else(|| json!("String"));
            a.insert("dataType".into(), data_type);
            (name.clone(), Value::Object(a))
        })
        .collect();
    Value::Object(out)
}

/// The invocation payload: `{"Records":[...]}`.
pub fn event(records: &[Value]) -> String {
    json!({ "Records": records }).to_string()
}

/// A record as filters see it: the record with its `body` parsed when the body is JSON (kept a
/// string otherwise). So, as Lambda documents, a pattern on `body` properties matches JSON
/// bodies only, a plain-string `body` pattern plain-string bodies only.
pub fn filter_view(record: &Value) -> String {
    let mut rec = record.clone();
    let body = match rec.as_object_mut().and_then(|o| o.remove("body")) {
        Some(Value::String(b)) => b,
        _ => return record.to_string(),
    };
    let body_json = if eddy_pattern::json::validate(&body, MAX_BODY_DEPTH).is_ok() {
        body
    } else {
        Value::String(body).to_string()
    };
    let mut text = rec.to_string();
    // The record is a non-empty object: splice the body in before its closing brace.
    text.pop();
    text.push_str(",\"body\":");
    text.push_str(&body_json);
    text.push('}');
    text
}

/// Whether a record passes a mapping's filters (no filters: every record passes; else any one
/// matching is enough).
pub fn passes(filters: &[Pattern], record: &Value) -> bool {
    if filters.is_empty() {
        return true;
    }
    let view = filter_view(record);
    filters.iter().any(|p| p.matches(&view).unwrap_or(false))
}

/// Which messages of a batch an invocation that returned (no function error) deletes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settlement {
    /// The batch succeeded.
    All,
    /// Every message but these (message ids) succeeded.
    AllBut(BTreeSet<String>),
    /// The whole batch failed: its messages return after their visibility timeout.
    None,
}

/// Judges a function's response to a batch of messages `ids`. Without `ReportBatchItemFailures`
/// (`report` false) any response is a success. With it, as Lambda: an empty or `null` response,
/// or a response without (or with an empty or `null`) `batchItemFailures`, is a success; a
/// response that is not JSON, a `batchItemFailures` that is not a list, or an entry without a
/// non-empty `itemIdentifier` string naming a message of the batch fails the whole batch.
pub fn settle(response: &[u8], ids: &[&str], report: bool) -> Settlement {
    if !report || response.iter().all(u8::is_ascii_whitespace) {
        return Settlement::All;
    }
    let Ok(v) = serde_json::from_slice::<Value>(response) else {
        return Settlement::None;
    };
    let failures = match v.get("batchItemFailures") {
        None | Some(Value::Null) => return Settlement::All,
        Some(Value::Array(f)) => f,
        Some(_) => return Settlement::None,
    };
    let mut failed = BTreeSet::new();
    for f in failures {
        match f.get("itemIdentifier").and_then(Value::as_str) {
            Some(id) if !id.is_empty() && ids.contains(&id) => {
                failed.insert(id.to_owned());
            }
            _ => return Settlement::None,
        }
    }
    if failed.is_empty() {
        Settlement::All
    } else {
        Settlement::AllBut(failed)
    }
}

impl Settlement {
    /// Whether the message `id` is to be deleted.
    pub fn deletes(&self, id: &str) -> bool {
        match self {
            Self::All => true,
            Self::AllBut(failed) => !failed.contains(id),
            Self::None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(body: &str, attributes: &str) -> Message {
        Message {
            seq: 7,
            message_id: "m-1".into(),
            body: body.into(),
            attributes: attributes.into(),
            sent_ms: 1_700_000_000_000,
            receive_count: 2,
            first_receive_ms: 1_700_000_000_500,
            receipt: "7.0123456789abcdef0123456789abcdef".into(),
            group_id: None,
            dedup_id: None,
        }
    }

    const STANDARD: Source<'static> = Source {
        queue_arn: "arn:aws:sqs:us-east-1:000000000000:q",
        region: "us-east-1",
        account: "000000000000",
        fifo: false,
    };

    #[test]
    fn a_standard_queues_record_is_lambdas() {
        let rec = record(&STANDARD, &message("hello", "{}"));
        assert_eq!(
            rec,
            json!({
                "messageId": "m-1",
                "receiptHandle": "7.0123456789abcdef0123456789abcdef",
                "body": "hello",
                "attributes": {
                    "ApproximateReceiveCount": "2",
                    "SentTimestamp": "1700000000000",
                    "SenderId": "000000000000",
                    "ApproximateFirstReceiveTimestamp": "1700000000500",
                },
                "messageAttributes": {},
                "md5OfBody": "5d41402abc4b2a76b9719d911017c592",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:q",
                "awsRegion": "us-east-1",
            })
        );
        let ev: Value = serde_json::from_str(&event(&[rec.clone(), rec])).unwrap();
        assert_eq!(ev["Records"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn fifo_records_and_message_attributes() {
        let stored = json!({
            "MessageAttributes": {
                "n": {"DataType": "Number", "StringValue": "5"},
                "b": {"DataType": "Binary", "BinaryValue": "AAE="},
            },
            "Md5OfMessageAttributes": "abc",
            "System": {"AWSTraceHeader": "Root=1-x"},
        });
        let mut m = message("{}", &stored.to_string());
        m.group_id = Some("g".into());
        m.dedup_id = Some("d".into());
        let src = Source {
            fifo: true,
            ..STANDARD
        };
        let rec = record(&src, &m);
        let attrs = &rec["attributes"];
        assert_eq!(attrs["SequenceNumber"], "00000000000000000007");
        assert_eq!(attrs["MessageGroupId"], "g");
        assert_eq!(attrs["MessageDeduplicationId"], "d");
        assert_eq!(attrs["AWSTraceHeader"], "Root=1-x");
        assert_eq!(
            rec["messageAttributes"],
            json!({
                "n": {"stringValue": "5", "stringListValues": [], "binaryListValues": [],
                      "dataType": "Number"},
                "b": {"binaryValue": "AAE=", "stringListValues": [], "binaryListValues": [],
                      "dataType": "Binary"},
            })
        );
        assert_eq!(rec["md5OfMessageAttributes"], "abc");
        // A standard queue's record has no FIFO attributes.
        let rec = record(&STANDARD, &m);
        assert!(rec["attributes"].get("MessageGroupId").is_none());
    }

    fn pattern(p: &str) -> Pattern {
        Pattern::parse(p).unwrap()
    }

    #[test]
    fn filters_see_json_bodies_parsed_and_plain_bodies_as_strings() {
        let json_body = record(&STANDARD, &message(r#"{"kind":"a","n":5}"#, "{}"));
        let plain = record(&STANDARD, &message("kind a", "{}"));
        let on_kind = [pattern(r#"{"body":{"kind":["a"]}}"#)];
        assert!(passes(&on_kind, &json_body));
        assert!(!passes(&on_kind, &plain));
        let numeric = [pattern(r#"{"body":{"n":[{"numeric":[">",4]}]}}"#)];
        assert!(passes(&numeric, &json_body));
        let on_string = [pattern(r#"{"body":["kind a"]}"#)];
        assert!(passes(&on_string, &plain));
        assert!(!passes(&on_string, &json_body));
        // Any filter matching is enough; none given passes everything.
        let either = [pattern(r#"{"body":{"kind":["b"]}}"#), on_kind[0].clone()];
        assert!(passes(&either, &json_body));
        assert!(passes(&[], &plain));
        // The record's other fields are there too.
        let on_attr = [pattern(
            r#"{"attributes":{"ApproximateReceiveCount":["2"]}}"#,
        )];
        assert!(passes(&on_attr, &plain));
    }

    #[test]
    fn a_response_without_reporting_deletes_everything() {
        assert_eq!(settle(b"not json", &["a"], false), Settlement::All);
        let partial = br#"{"batchItemFailures":[{"itemIdentifier":"a"}]}"#;
        assert_eq!(settle(partial, &["a", "b"], false), Settlement::All);
    }

    #[test]
    fn reported_failures_keep_their_messages() {
        let ids = ["a", "b", "c"];
        let s = settle(
            br#"{"batchItemFailures":[{"itemIdentifier":"a"},{"itemIdentifier":"c"}]}"#,
            &ids,
            true,
        );
        assert_eq!(
            s,
            Settlement::AllBut(["a".to_owned(), "c".to_owned()].into())
        );
        assert!(!s.deletes("a") && s.deletes("b") && !s.deletes("c"));
    }

    #[test]
    fn lambdas_success_and_failure_conditions() {
        let ids = ["a", "b"];
        for ok in [
            &b""[..],
            b"null",
            b"{}",
            br#"{"batchItemFailures":[]}"#,
            br#"{"batchItemFailures":null}"#,
            br#""done""#,
        ] {
            assert_eq!(
                settle(ok, &ids, true),
                Settlement::All,
                "{}",
                String::from_utf8_lossy(ok)
            );
        }
        for failed in [
            &b"not json"[..],
            br#"{"batchItemFailures":{}}"#,
            br#"{"batchItemFailures":[{"itemIdentifier":""}]}"#,
            br#"{"batchItemFailures":[{"itemIdentifier":null}]}"#,
            br#"{"batchItemFailures":[{"id":"a"}]}"#,
            br#"{"batchItemFailures":[{"itemIdentifier":"zzz"}]}"#,
            br#"{"batchItemFailures":[{"itemIdentifier":"a"},{"itemIdentifier":"zzz"}]}"#,
        ] {
            let s = settle(failed, &ids, true);
            assert_eq!(s, Settlement::None, "{}", String::from_utf8_lossy(failed));
            assert!(!s.deletes("a") && !s.deletes("b"));
        }
    }
}
