//! Amazon SQS (API 2012-11-05) over the AWS query protocol ([`super::query`]), as SDKs spoke it
//! before SQS moved to AWS JSON 1.0 (boto3/botocore < 1.34.90, aws CLI v1 < 1.32.90, v2 <
//! 2.13.34, and other SDKs of that age).
//!
//! This module is a translator, nothing more: it reads a query request's flattened parameters
//! into the JSON request [`super::sqs::run`] takes, runs it, and writes the JSON reply as SQS's
//! XML, so both protocols share one implementation of every operation, its checks and its
//! errors. The names come from botocore 1.34.89's `sqs/2012-11-05/service-2.json` (the last
//! release with SQS's query-protocol model):
//!
//! * input maps and lists are flattened under their `locationName`: `Attribute.N.Name/Value`,
//!   `AttributeName.N`, `MessageAttribute.N.Name` + `.Value.StringValue/BinaryValue/DataType/
//!   StringListValue.N/BinaryListValue.N`, `MessageSystemAttribute.N…`, `Tag.N.Key/Value`,
//!   `TagKey.N`, `SendMessageBatchRequestEntry.N.…` (and the other batches' entries);
//! * the queue is `QueueUrl`, or, when that is absent, the URL the request was posted to
//!   (`/ACCOUNT/QUEUE`), as older SDKs send it;
//! * replies are `<ActionResponse xmlns="http://queue.amazonaws.com/doc/2012-11-05/">` with the
//!   output's lists and maps flattened the same way (`<Message>`, `<Attribute><Name/><Value/>`,
//!   `<MessageAttribute><Name/><Value>…</Value>`, `<SendMessageBatchResultEntry>`,
//!   `<BatchResultErrorEntry>`, `<QueueUrl>`, `<Tag><Key/><Value/>`); blobs are base64;
//! * errors have the query `<ErrorResponse>` shape with SQS's query-protocol code
//!   ([`ApiError::query_code`], e.g. `AWS.SimpleQueueService.NonExistentQueue`).

use axum::http::Uri;
use axum::response::Response;
use serde_json::{Map, Value};

use super::Ctx;
use super::query::{Params, Xml};
use crate::App;
use crate::error::ApiError;

/// SQS's XML namespace.
pub const NAMESPACE: &str = "http://queue.amazonaws.com/doc/2012-11-05/";

/// How one input member is written in the query protocol.
#[derive(Debug, Clone, Copy)]
enum Member {
    /// A string: `NAME`.
    Text(&'static str),
    /// An integer: `NAME`.
    Int(&'static str),
    /// A flattened list of strings: JSON member, then `PARAM.N`.
    Strings(&'static str, &'static str),
    /// A flattened map of strings: JSON member, `PARAM.N.KEY`, `PARAM.N.VALUE`.
    Map(&'static str, &'static str, &'static str, &'static str),
    /// A flattened map of message attribute values: JSON member, then `PARAM.N.Name` and
    /// `PARAM.N.Value.…`.
    MessageAttributes(&'static str, &'static str),
    /// A flattened list of batch entries: JSON member (`Entries`), `PARAM.N.…`, the entry's
    /// members.
    Entries(&'static str, &'static str, &'static [Member]),
}

use Member::*;

const QUEUE_URL: Member = Text("QueueUrl");

const SEND: &[Member] = &[
    Text("MessageBody"),
    Int("DelaySeconds"),
    MessageAttributes("MessageAttributes", "MessageAttribute"),
    MessageAttributes("MessageSystemAttributes", "MessageSystemAttribute"),
    Text("MessageDeduplicationId"),
    Text("MessageGroupId"),
];

const SEND_ENTRY: &[Member] = &[
    Text("Id"),
    Text("MessageBody"),
    Int("DelaySeconds"),
    MessageAttributes("MessageAttributes", "MessageAttribute"),
    MessageAttributes("MessageSystemAttributes", "MessageSystemAttribute"),
    Text("MessageDeduplicationId"),
    Text("MessageGroupId"),
];

/// Every action eddy's SQS answers, with its input members (`QueueUrl` aside).
const ACTIONS: &[(&str, &[Member])] = &[
    (
        "CreateQueue",
        &[
            Text("QueueName"),
            Map("Attributes", "Attribute", "Name", "Value"),
            Map("tags", "Tag", "Key", "Value"),
        ],
    ),
    ("GetQueueUrl", &[Text("QueueName")]),
    (
        "ListQueues",
        &[
            Text("QueueNamePrefix"),
            Text("NextToken"),
            Int("MaxResults"),
        ],
    ),
    ("DeleteQueue", &[]),
    (
        "GetQueueAttributes",
        &[Strings("AttributeNames", "AttributeName")],
    ),
    (
        "SetQueueAttributes",
        &[Map("Attributes", "Attribute", "Name", "Value")],
    ),
    ("SendMessage", SEND),
    (
        "SendMessageBatch",
        &[Entries(
            "Entries",
            "SendMessageBatchRequestEntry",
            SEND_ENTRY,
        )],
    ),
    (
        "ReceiveMessage",
        &[
            Strings("AttributeNames", "AttributeName"),
            Strings("MessageSystemAttributeNames", "MessageSystemAttributeName"),
            Strings("MessageAttributeNames", "MessageAttributeName"),
            Int("MaxNumberOfMessages"),
            Int("VisibilityTimeout"),
            Int("WaitTimeSeconds"),
            Text("ReceiveRequestAttemptId"),
        ],
    ),
    ("DeleteMessage", &[Text("ReceiptHandle")]),
    (
        "DeleteMessageBatch",
        &[Entries(
            "Entries",
            "DeleteMessageBatchRequestEntry",
            &[Text("Id"), Text("ReceiptHandle")],
        )],
    ),
    (
        "ChangeMessageVisibility",
        &[Text("ReceiptHandle"), Int("VisibilityTimeout")],
    ),
    (
        "ChangeMessageVisibilityBatch",
        &[Entries(
            "Entries",
            "ChangeMessageVisibilityBatchRequestEntry",
            &[Text("Id"), Text("ReceiptHandle"), Int("VisibilityTimeout")],
        )],
    ),
    ("PurgeQueue", &[]),
    ("TagQueue", &[Map("Tags", "Tag", "Key", "Value")]),
    ("UntagQueue", &[Strings("TagKeys", "TagKey")]),
    ("ListQueueTags", &[]),
    (
        "ListDeadLetterSourceQueues",
        &[Text("NextToken"), Int("MaxResults")],
    ),
    (
        "AddPermission",
        &[
            Text("Label"),
            Strings("AWSAccountIds", "AWSAccountId"),
            Strings("Actions", "ActionName"),
        ],
    ),
    ("RemovePermission", &[Text("Label")]),
];

/// Whether `action` is one of SQS's (for requests that name no service).
pub fn is_action(action: &str) -> bool {
    ACTIONS.iter().any(|(a, _)| *a == action)
}

/// Whether a path is a queue URL's (`/ACCOUNT/QUEUE`), where older SDKs post a queue's actions.
pub fn is_queue_path(path: &str) -> bool {
    let mut segments = path.trim_start_matches('/').split('/');
    match (segments.next(), segments.next(), segments.next()) {
        (Some(account), Some(queue), None) => {
            !account.is_empty()
                && account.len() <= 32
                && account.chars().all(|c| c.is_ascii_digit())
                && !queue.is_empty()
        }
        _ => false,
    }
}

/// Runs one SQS action. Answers the action's name for the metrics (`unknown` for one eddy does
/// not know), its outcome (`ok` or the error code) and the response.
pub async fn call(
    app: &App,
    ctx: &Ctx,
    action: &str,
    uri: &Uri,
    p: &Params,
) -> (&'static str, &'static str, Response) {
    let Some(&(name, members)) = ACTIONS.iter().find(|(a, _)| *a == action) else {
        let e = ApiError::bad(
            "InvalidAction",
            super::unsupported::operation_message("SQS", action),
        );
        return ("unknown", e.code, super::unsupported::query_error(&e));
    };
    let result = match request(ctx, uri, p, members) {
        Ok(body) => super::sqs::run(app, ctx, name, &body).await,
        Err(e) => Err(e),
    };
    let reply = result.and_then(|bytes| {
        serde_json::from_slice::<Value>(&bytes)
            .map_err(|e| ApiError::internal(format!("cannot read SQS's reply: {e}")))
    });
    match reply {
        Ok(Value::Object(out)) => {
            let result = (!out.is_empty() || has_output(name)).then(|| xml(name, &out));
            (name, "ok", super::query::respond(NAMESPACE, name, result))
        }
        Ok(_) => (name, "ok", super::query::respond(NAMESPACE, name, None)),
        Err(e) => {
            let outcome = e.code;
            (
                name,
                outcome,
                super::unsupported::query_error(&query_error(e)),
            )
        }
    }
}

/// Whether an action has an output shape (and so an `ActionResult` element, even when empty).
fn has_output(action: &str) -> bool {
    !matches!(
        action,
        "DeleteQueue"
            | "SetQueueAttributes"
            | "PurgeQueue"
            | "TagQueue"
            | "UntagQueue"
            | "DeleteMessage"
            | "ChangeMessageVisibility"
            | "AddPermission"
            | "RemovePermission"
    )
}

/// An error as the query protocol reports it: SQS's query-protocol code, where it has one.
fn query_error(mut e: ApiError) -> ApiError {
    if let Some(code) = e.query_code {
        e.code = code;
    }
    e
}

// ---------------------------------------------------------------------------------------------
// Query parameters → the JSON request

/// The JSON request of an action with `members` (and `QueueUrl`).
fn request(ctx: &Ctx, uri: &Uri, p: &Params, members: &[Member]) -> Result<Vec<u8>, ApiError> {
    let mut out = object(p, members)?;
    if let Some(url) = read(p, QUEUE_URL)? {
        out.insert("QueueUrl".into(), url);
    } else if is_queue_path(uri.path()) {
        out.insert(
            "QueueUrl".into(),
            Value::String(format!("http://{}{}", ctx.host, uri.path())),
        );
    }
    super::reply(&Value::Object(out))
}

/// The JSON object of `members` read from `p`.
fn object(p: &Params, members: &[Member]) -> Result<Map<String, Value>, ApiError> {
    let mut out = Map::new();
    for &m in members {
        if let Some(v) = read(p, m)? {
            out.insert(json_name(m).to_owned(), v);
        }
    }
    Ok(out)
}

fn json_name(m: Member) -> &'static str {
    match m {
        Text(n) | Int(n) => n,
        Strings(n, _) | Map(n, ..) | MessageAttributes(n, _) | Entries(n, ..) => n,
    }
}

/// Whether a list or map member was sent at all: as members (`PARAM.1…`), or, empty, as
/// `JSONNAME=` (botocore writes an empty list under its member name).
fn present(p: &Params, json: &str, param: &str, members: &[Params]) -> bool {
    !members.is_empty() || p.get(json).is_some() || p.get(param).is_some()
}

/// One member's JSON value, `None` when the request does not have it.
fn read(p: &Params, m: Member) -> Result<Option<Value>, ApiError> {
    Ok(match m {
        Text(name) => p.get(name).map(|v| Value::String(v.to_owned())),
        Int(name) => match p.get(name) {
            None => None,
            Some(v) => Some(Value::from(v.trim().parse::<i64>().map_err(|_| {
                ApiError::bad(
                    "InvalidParameterValueException",
                    format!(
                        "Value {} for parameter {name} is invalid. Reason: Must be an integer.",
                        super::unsupported::echo(v)
                    ),
                )
                .with_query_code("InvalidParameterValue")
            })?)),
        },
        Strings(json, param) => {
            let items = p.indexed(param);
            present(p, json, param, &items).then(|| {
                Value::Array(
                    items
                        .iter()
                        .filter_map(|i| i.get("").map(|s| Value::String(s.to_owned())))
                        .collect(),
                )
            })
        }
        Map(json, param, key, value) => {
            let entries = p.indexed(param);
            present(p, json, param, &entries).then(|| {
                Value::Object(
                    entries
                        .iter()
                        .filter_map(|e| {
                            Some((
                                e.get(key)?.to_owned(),
                                Value::String(e.get(value).unwrap_or_default().to_owned()),
                            ))
                        })
                        .collect(),
                )
            })
        }
        MessageAttributes(json, param) => {
            let entries = p.indexed(param);
            present(p, json, param, &entries).then(|| {
                Value::Object(
                    entries
                        .iter()
                        .filter_map(|e| Some((e.get("Name")?.to_owned(), attribute_value(e))))
                        .collect(),
                )
            })
        }
        Entries(json, param, fields) => {
            let entries = p.indexed(param);
            if present(p, json, param, &entries) {
                let mut list = Vec::with_capacity(entries.len());
                for e in &entries {
                    list.push(Value::Object(object(e, fields)?));
                }
                Some(Value::Array(list))
            } else {
                None
            }
        }
    })
}

/// A message attribute's value (`…N.Value.*`) as SQS's JSON protocol writes it. Binary values
/// are base64 in both protocols.
fn attribute_value(entry: &Params) -> Value {
    let v = entry.nested("Value");
    let mut out = Map::new();
    for field in ["DataType", "StringValue", "BinaryValue"] {
        if let Some(s) = v.get(field) {
            out.insert(field.into(), Value::String(s.to_owned()));
        }
    }
    for (json, param) in [
        ("StringListValues", "StringListValue"),
        ("BinaryListValues", "BinaryListValue"),
    ] {
        let items = v.indexed(param);
        if !items.is_empty() {
            out.insert(
                json.into(),
                items
                    .iter()
                    .filter_map(|i| i.get("").map(|s| Value::String(s.to_owned())))
                    .collect(),
            );
        }
    }
    Value::Object(out)
}

// ---------------------------------------------------------------------------------------------
// The JSON reply → XML

/// How a JSON reply member is written in XML.
enum Element {
    /// A flattened list: each item an element of this name.
    List(String),
    /// A flattened map: each entry an element of this name holding the key and value
    /// elements.
    Map(&'static str, &'static str, &'static str),
    /// Anything else: one element of the member's name.
    Plain,
}

fn element(action: &str, member: &str) -> Element {
    match member {
        "QueueUrls" | "queueUrls" => Element::List("QueueUrl".into()),
        "Messages" => Element::List("Message".into()),
        "Successful" => Element::List(format!("{action}ResultEntry")),
        "Failed" => Element::List("BatchResultErrorEntry".into()),
        "StringListValues" => Element::List("StringListValue".into()),
        "BinaryListValues" => Element::List("BinaryListValue".into()),
        "Attributes" => Element::Map("Attribute", "Name", "Value"),
        "MessageAttributes" => Element::Map("MessageAttribute", "Name", "Value"),
        "Tags" => Element::Map("Tag", "Key", "Value"),
        _ => Element::Plain,
    }
}

/// The `ActionResult` content of a JSON reply. Members come in the reply's key order (sorted),
/// not the model's: the query protocol's XML readers find members by name.
fn xml(action: &str, reply: &Map<String, Value>) -> Xml {
    let mut x = Xml::default();
    write_members(&mut x, action, reply);
    x
}

fn write_members(x: &mut Xml, action: &str, members: &Map<String, Value>) {
    for (name, v) in members {
        match (element(action, name), v) {
            (Element::List(item), Value::Array(items)) => {
                for i in items {
                    write_value(x, action, &item, i);
                }
            }
            (Element::Map(entry, key, value), Value::Object(entries)) => {
                for (k, v) in entries {
                    x.open(entry).text(key, k);
                    write_value(x, action, value, v);
                    x.close(entry);
                }
            }
            _ => write_value(x, action, name, v),
        }
    }
}

fn write_value(x: &mut Xml, action: &str, tag: &str, v: &Value) {
    match v {
        Value::Null => {}
        Value::String(s) => {
            x.text(tag, s);
        }
        Value::Bool(b) => {
            x.text(tag, if *b { "true" } else { "false" });
        }
        Value::Number(n) => {
            x.text(tag, &n.to_string());
        }
        Value::Object(members) => {
            x.open(tag);
            write_members(x, action, members);
            x.close(tag);
        }
        Value::Array(items) => {
            for i in items {
                write_value(x, action, tag, i);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ctx() -> Ctx {
        Ctx {
            region: "us-east-1".into(),
            host: "localhost:4566".into(),
        }
    }

    fn translate(action: &str, path: &str, form: &str) -> Value {
        let members = ACTIONS
            .iter()
            .find(|(a, _)| *a == action)
            .map(|(_, m)| *m)
            .expect("action");
        let uri: Uri = path.parse().expect("uri");
        let body = request(&ctx(), &uri, &Params::parse(None, form), members).expect("request");
        serde_json::from_slice(&body).expect("json")
    }

    #[test]
    fn send_requests_read_back_as_json() {
        let got = translate(
            "SendMessage",
            "/",
            "Action=SendMessage&QueueUrl=http%3A%2F%2Fh%2F1%2Fq&MessageBody=hi&DelaySeconds=5\
             &MessageAttribute.1.Name=s&MessageAttribute.1.Value.DataType=String\
             &MessageAttribute.1.Value.StringValue=v\
             &MessageAttribute.2.Name=b&MessageAttribute.2.Value.DataType=Binary\
             &MessageAttribute.2.Value.BinaryValue=AAE%3D\
             &MessageSystemAttribute.1.Name=AWSTraceHeader\
             &MessageSystemAttribute.1.Value.DataType=String\
             &MessageSystemAttribute.1.Value.StringValue=Root%3D1",
        );
        assert_eq!(
            got,
            json!({
                "QueueUrl": "http://h/1/q",
                "MessageBody": "hi",
                "DelaySeconds": 5,
                "MessageAttributes": {
                    "s": {"DataType": "String", "StringValue": "v"},
                    "b": {"DataType": "Binary", "BinaryValue": "AAE="},
                },
                "MessageSystemAttributes": {
                    "AWSTraceHeader": {"DataType": "String", "StringValue": "Root=1"},
                },
            })
        );
    }

    #[test]
    fn batches_lists_and_maps_read_back() {
        let got = translate(
            "SendMessageBatch",
            "/000000000000/q",
            "SendMessageBatchRequestEntry.2.Id=b&SendMessageBatchRequestEntry.2.MessageBody=2\
             &SendMessageBatchRequestEntry.1.Id=a&SendMessageBatchRequestEntry.1.MessageBody=1\
             &SendMessageBatchRequestEntry.1.MessageGroupId=g",
        );
        assert_eq!(
            got,
            json!({
                "QueueUrl": "http://localhost:4566/000000000000/q",
                "Entries": [
                    {"Id": "a", "MessageBody": "1", "MessageGroupId": "g"},
                    {"Id": "b", "MessageBody": "2"},
                ],
            })
        );
        let got = translate(
            "CreateQueue",
            "/",
            "QueueName=q&Attribute.1.Name=DelaySeconds&Attribute.1.Value=3&Tag.1.Key=k\
             &Tag.1.Value=v",
        );
        assert_eq!(
            got,
            json!({"QueueName": "q", "Attributes": {"DelaySeconds": "3"}, "tags": {"k": "v"}})
        );
        let got = translate(
            "ReceiveMessage",
            "/",
            "QueueUrl=u&AttributeName.1=All&MessageAttributeName.1=a&MessageAttributeName.2=b\
             &MaxNumberOfMessages=10",
        );
        assert_eq!(
            got,
            json!({"QueueUrl": "u", "AttributeNames": ["All"],
                   "MessageAttributeNames": ["a", "b"], "MaxNumberOfMessages": 10})
        );
        // botocore writes an empty list as its member name with no value.
        let got = translate("GetQueueAttributes", "/", "QueueUrl=u&AttributeNames=");
        assert_eq!(got, json!({"QueueUrl": "u", "AttributeNames": []}));
    }

    #[test]
    fn permissions_read_back() {
        let got = translate(
            "AddPermission",
            "/",
            "QueueUrl=u&Label=l&AWSAccountId.1=111122223333&AWSAccountId.2=444455556666\
             &ActionName.1=SendMessage&ActionName.2=ReceiveMessage",
        );
        assert_eq!(
            got,
            json!({"QueueUrl": "u", "Label": "l",
                   "AWSAccountIds": ["111122223333", "444455556666"],
                   "Actions": ["SendMessage", "ReceiveMessage"]})
        );
        let got = translate("RemovePermission", "/", "QueueUrl=u&Label=l");
        assert_eq!(got, json!({"QueueUrl": "u", "Label": "l"}));
        assert!(!has_output("AddPermission") && !has_output("RemovePermission"));
    }

    #[test]
    fn integers_must_be_integers() {
        let uri: Uri = "/".parse().expect("uri");
        let e = request(
            &ctx(),
            &uri,
            &Params::parse(None, "MaxNumberOfMessages=ten"),
            &[Int("MaxNumberOfMessages")],
        )
        .expect_err("not an integer");
        assert_eq!(e.query_code, Some("InvalidParameterValue"));
    }

    #[test]
    fn queue_paths() {
        assert!(is_queue_path("/000000000000/orders"));
        assert!(is_queue_path("/123456789012/orders.fifo"));
        assert!(!is_queue_path("/"));
        assert!(!is_queue_path("/2015-03-31/functions"));
        assert!(!is_queue_path("/a/b"));
        assert!(!is_queue_path("/1/b/c"));
    }

    #[test]
    fn replies_are_written_as_flattened_xml() {
        let reply = json!({
            "Messages": [{
                "MessageId": "m",
                "Body": "<b>",
                "Attributes": {"SentTimestamp": "1"},
                "MessageAttributes": {
                    "n": {"DataType": "Binary", "BinaryValue": "AAE=",
                          "StringListValues": ["x", "y"]},
                },
            }],
        });
        let Value::Object(reply) = reply else {
            unreachable!()
        };
        assert_eq!(
            xml("ReceiveMessage", &reply).into_string(),
            "<Message><Attribute><Name>SentTimestamp</Name><Value>1</Value></Attribute>\
             <Body>&lt;b&gt;</Body>\
             <MessageAttribute><Name>n</Name><Value><BinaryValue>AAE=</BinaryValue>\
             <DataType>Binary</DataType><StringListValue>x</StringListValue>\
             <StringListValue>y</StringListValue></Value></MessageAttribute>\
             <MessageId>m</MessageId></Message>"
        );
        let Value::Object(reply) = json!({
            "Successful": [{"Id": "a"}],
            "Failed": [{"Id": "b", "SenderFault": true, "Code": "C", "Message": "M"}],
        }) else {
            unreachable!()
        };
        assert_eq!(
            xml("DeleteMessageBatch", &reply).into_string(),
            "<BatchResultErrorEntry><Code>C</Code><Id>b</Id><Message>M</Message>\
             <SenderFault>true</SenderFault></BatchResultErrorEntry>\
             <DeleteMessageBatchResultEntry><Id>a</Id></DeleteMessageBatchResultEntry>"
        );
        let Value::Object(reply) = json!({"queueUrls": ["u1", "u2"], "Tags": {"k": "v"}}) else {
            unreachable!()
        };
        assert_eq!(
            xml("X", &reply).into_string(),
            "<Tag><Key>k</Key><Value>v</Value></Tag><QueueUrl>u1</QueueUrl><QueueUrl>u2</QueueUrl>"
        );
    }

    #[test]
    fn errors_carry_the_query_code() {
        let e = ApiError::bad("QueueDoesNotExist", "gone")
            .with_query_code("AWS.SimpleQueueService.NonExistentQueue");
        assert_eq!(
            query_error(e).code,
            "AWS.SimpleQueueService.NonExistentQueue"
        );
        assert_eq!(query_error(ApiError::bad("X", "m")).code, "X");
    }
}
