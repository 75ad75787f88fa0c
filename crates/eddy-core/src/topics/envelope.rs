//! What subscribers receive: a notification rendered as SNS renders it for each protocol (the
//! JSON envelope of queues, HTTP endpoints and `email-json`, Lambda's `Records` event, raw
//! delivery), with the URLs it carries and the string SNS signs.

use serde_json::Value;
#[cfg(test)]
use serde_json::json;

use super::publish::{Kind, Notification};

/// The URLs a notification carries, all on eddy's AWS endpoint.
#[derive(Debug, Clone)]
pub struct Urls {
    /// The AWS endpoint, e.g. `http://127.0.0.1:4566`.
    pub base: String,
    /// The signing certificate's URL.
    pub cert: String,
}

impl Urls {
    pub fn unsubscribe(&self, subscription_arn: &str) -> String {
        format!(
            "{}/?Action=Unsubscribe&SubscriptionArn={}",
            self.base,
            encode(subscription_arn)
        )
    }

    pub fn subscribe(&self, topic_arn: &str, token: &str) -> String {
        format!(
            "{}/?Action=ConfirmSubscription&TopicArn={}&Token={}",
            self.base,
            encode(topic_arn),
            encode(token)
        )
    }
}

/// Percent-encodes a query value (ARNs hold `:`, kept as SNS keeps them).
fn encode(s: &str) -> String {
    eddy_net::url::percent_encode(s, b":")
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ`
pub fn timestamp(ms: i64) -> String {
    let ts = jiff::Timestamp::from_millisecond(ms).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    ts.strftime("%Y-%m-%dT%H:%M:%S.%3fZ").to_string()
}

/// The string SNS signs for a notification whose delivered message is `message`: `Key\nValue\n`
/// for each field, in SNS's fixed order.
pub fn string_to_sign(n: &Notification, message: &str, urls: &Urls) -> String {
    let mut out = String::new();
    let mut field = |k: &str, v: &str| {
        out.push_str(k);
        out.push('\n');
        out.push_str(v);
        out.push('\n');
    };
    field("Message", message);
    field("MessageId", &n.message_id);
    match n.kind {
        Kind::Notification => {
            if let Some(s) = &n.subject {
                field("Subject", s);
            }
            field("Timestamp", &timestamp(n.timestamp_ms));
        }
        Kind::SubscriptionConfirmation | Kind::UnsubscribeConfirmation => {
            let token = n.token.as_deref().unwrap_or_default();
            field("SubscribeURL", &urls.subscribe(&n.topic_arn, token));
            field("Timestamp", &timestamp(n.timestamp_ms));
            field("Token", token);
        }
    }
    field("TopicArn", &n.topic_arn);
    field("Type", n.kind.as_str());
    out
}

/// A signature over [`string_to_sign`]: its version (`1` SHA1withRSA, `2` SHA256withRSA) and
/// base64 value.
#[derive(Debug, Clone)]
pub struct Signed {
    pub version: &'static str,
    pub signature: String,
}

/// A JSON object written in the order its fields are added (SNS's field order is what users
/// see; serde_json's map would sort them).
#[derive(Default)]
struct Obj(String);

impl Obj {
    fn raw(&mut self, key: &str, json: &str) {
        self.0.push(if self.0.is_empty() { '{' } else { ',' });
        self.0.push_str(&Value::from(key).to_string());
        self.0.push(':');
        self.0.push_str(json);
    }

    fn str(&mut self, key: &str, value: &str) {
        self.raw(key, &Value::from(value).to_string());
    }

    fn end(mut self) -> String {
        if self.0.is_empty() {
            self.0.push('{');
        }
        self.0.push('}');
        self.0
    }
}

/// The message attributes as notifications carry them: `{name: {Type, Value}}`.
fn attributes(n: &Notification) -> String {
    let mut o = Obj::default();
    for (k, a) in &n.message_attributes {
        let mut v = Obj::default();
        v.str("Type", a.kind());
        v.str("Value", a.value());
        o.raw(k, &v.end());
    }
    o.end()
}

/// The JSON envelope (queues, HTTP endpoints, `email-json`), in SNS's field order. `signed` is
/// `None` for FIFO topics, whose envelopes carry no signature.
pub fn envelope(
    n: &Notification,
    message: &str,
    subscription_arn: &str,
    urls: &Urls,
    signed: Option<&Signed>,
) -> String {
    let mut o = Obj::default();
    o.str("Type", n.kind.as_str());
    o.str("MessageId", &n.message_id);
    if let Some(t) = &n.token {
        o.str("Token", t);
    }
    if let Some(seq) = &n.sequence_number {
        o.str("SequenceNumber", seq);
    }
    o.str("TopicArn", &n.topic_arn);
    if let Some(s) = &n.subject {
        o.str("Subject", s);
    }
    o.str("Message", message);
    if n.kind != Kind::Notification {
        let token = n.token.as_deref().unwrap_or_default();
        o.str("SubscribeURL", &urls.subscribe(&n.topic_arn, token));
    }
    o.str("Timestamp", &timestamp(n.timestamp_ms));
    if let Some(s) = signed {
        o.str("SignatureVersion", s.version);
        o.str("Signature", &s.signature);
        o.str("SigningCertURL", &urls.cert);
    }
    if n.kind == Kind::Notification {
        o.str("UnsubscribeURL", &urls.unsubscribe(subscription_arn));
        if !n.message_attributes.is_empty() && !n.structured {
            o.raw("MessageAttributes", &attributes(n));
        }
    }
    o.end()
}

/// Lambda's event for a notification: one record with the `Sns` object (note Lambda's
/// `SigningCertUrl` and `UnsubscribeUrl` spelling, and `Subject: null` when there is none).
pub fn lambda_event(
    n: &Notification,
    message: &str,
    subscription_arn: &str,
    urls: &Urls,
    signed: &Signed,
) -> String {
    let mut sns = Obj::default();
    sns.str("Type", n.kind.as_str());
    sns.str("MessageId", &n.message_id);
    sns.str("TopicArn", &n.topic_arn);
    match &n.subject {
        Some(s) => sns.str("Subject", s),
        None => sns.raw("Subject", "null"),
    }
    sns.str("Message", message);
    sns.str("Timestamp", &timestamp(n.timestamp_ms));
    sns.str("SignatureVersion", signed.version);
    sns.str("Signature", &signed.signature);
    sns.str("SigningCertUrl", &urls.cert);
    sns.str("UnsubscribeUrl", &urls.unsubscribe(subscription_arn));
    sns.raw("MessageAttributes", &attributes(n));
    let mut record = Obj::default();
    record.str("EventSource", "aws:sns");
    record.str("EventVersion", "1.0");
    record.str("EventSubscriptionArn", subscription_arn);
    record.raw("Sns", &sns.end());
    let mut root = Obj::default();
    root.raw("Records", &format!("[{}]", record.end()));
    root.end()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topics::publish::MessageAttribute;

    fn note() -> Notification {
        let mut attrs = std::collections::BTreeMap::new();
        attrs.insert(
            "color".to_owned(),
            MessageAttribute {
                data_type: "String".into(),
                string_value: Some("red".into()),
                binary_value: None,
            },
        );
        Notification {
            kind: Kind::Notification,
            message_id: "m-1".into(),
            topic_arn: "arn:aws:sns:us-east-1:123456789012:t".into(),
            subject: Some("hi".into()),
            message: "hello".into(),
            timestamp_ms: 1_700_000_000_123,
            message_attributes: attrs,
            structured: false,
            group_id: None,
            dedup_id: None,
            sequence_number: None,
            token: None,
        }
    }

    fn urls() -> Urls {
        Urls {
            base: "http://127.0.0.1:4566".into(),
            cert: "http://127.0.0.1:4566/SimpleNotificationService-x.pem".into(),
        }
    }

    #[test]
    fn envelopes_keep_sns_field_order() {
        let signed = Signed {
            version: "1",
            signature: "c2ln".into(),
        };
        let text = envelope(
            &note(),
            "hello",
            "arn:aws:sns:us-east-1:123456789012:t:s",
            &urls(),
            Some(&signed),
        );
        let keys: Vec<&str> = [
            "Type",
            "MessageId",
            "TopicArn",
            "Subject",
            "Message",
            "Timestamp",
            "SignatureVersion",
            "Signature",
            "SigningCertURL",
            "UnsubscribeURL",
            "MessageAttributes",
        ]
        .to_vec();
        let mut at = 0;
        for k in keys {
            let i = text
                .find(&format!("\"{k}\""))
                .unwrap_or_else(|| panic!("{k} in {text}"));
            assert!(i >= at, "{k} out of order in {text}");
            at = i;
        }
        let v: Value = serde_json::from_str(&text).expect("json");
        assert_eq!(v["Timestamp"], "2023-11-14T22:13:20.123Z");
        assert_eq!(
            v["MessageAttributes"]["color"],
            json!({"Type": "String", "Value": "red"})
        );
        assert_eq!(
            v["UnsubscribeURL"],
            "http://127.0.0.1:4566/?Action=Unsubscribe&SubscriptionArn=arn:aws:sns:us-east-1:123456789012:t:s"
        );
    }

    #[test]
    fn lambda_records_spell_urls_as_lambda_does() {
        let signed = Signed {
            version: "1",
            signature: "c2ln".into(),
        };
        let mut n = note();
        n.subject = None;
        let v: Value = serde_json::from_str(&lambda_event(&n, "hello", "sub", &urls(), &signed))
            .expect("json");
        let sns = &v["Records"][0]["Sns"];
        assert_eq!(v["Records"][0]["EventSource"], "aws:sns");
        assert_eq!(sns["Subject"], Value::Null);
        assert!(sns["SigningCertUrl"].is_string());
        assert!(sns["UnsubscribeUrl"].is_string());
    }

    #[test]
    fn the_string_to_sign_follows_sns_order() {
        let s = string_to_sign(&note(), "hello", &urls());
        assert_eq!(
            s,
            "Message\nhello\nMessageId\nm-1\nSubject\nhi\nTimestamp\n2023-11-14T22:13:20.123Z\n\
             TopicArn\narn:aws:sns:us-east-1:123456789012:t\nType\nNotification\n"
        );
    }
}
