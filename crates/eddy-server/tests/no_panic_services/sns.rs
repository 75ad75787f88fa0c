//! SNS (the AWS query protocol, `Action=…` form bodies): every action eddy serves and some it
//! does not, with flattened parameters (`Attributes.entry.N.key`, `Tags.member.N.Key`,
//! `MessageAttributes.entry.N.Value.DataType`, `PublishBatchRequestEntries.member.N.…`) drawn
//! from SNS's vocabulary and hostile values.

use axum::http::{Method, StatusCode};
use proptest::prelude::*;

use super::{Call, Fixture, Sender, Shape, check_reply, pct, sender};

const ACTIONS: &[&str] = &[
    "CreateTopic",
    "DeleteTopic",
    "GetTopicAttributes",
    "SetTopicAttributes",
    "ListTopics",
    "Subscribe",
    "Unsubscribe",
    "ConfirmSubscription",
    "ListSubscriptions",
    "ListSubscriptionsByTopic",
    "GetSubscriptionAttributes",
    "SetSubscriptionAttributes",
    "Publish",
    "PublishBatch",
    "TagResource",
    "UntagResource",
    "ListTagsForResource",
    "AddPermission",
    "CreatePlatformApplication",
    "Bogus",
    "",
];

/// Parameter names, flattened as botocore sends them (`N` is replaced by an index).
const NAMES: &[&str] = &[
    "Name",
    "TopicArn",
    "TargetArn",
    "ResourceArn",
    "SubscriptionArn",
    "Protocol",
    "Endpoint",
    "Token",
    "AttributeName",
    "AttributeValue",
    "Message",
    "Subject",
    "MessageStructure",
    "MessageGroupId",
    "MessageDeduplicationId",
    "PhoneNumber",
    "NextToken",
    "ReturnSubscriptionArn",
    "Attributes.entry.N.key",
    "Attributes.entry.N.value",
    "Tags.member.N.Key",
    "Tags.member.N.Value",
    "TagKeys.member.N",
    "MessageAttributes.entry.N.Name",
    "MessageAttributes.entry.N.Value.DataType",
    "MessageAttributes.entry.N.Value.StringValue",
    "MessageAttributes.entry.N.Value.BinaryValue",
    "PublishBatchRequestEntries.member.N.Id",
    "PublishBatchRequestEntries.member.N.Message",
    "PublishBatchRequestEntries.member.N.MessageGroupId",
    "PublishBatchRequestEntries.member.N.MessageAttributes.entry.1.Name",
    "PublishBatchRequestEntries.member.N.MessageAttributes.entry.1.Value.DataType",
    "PublishBatchRequestEntries.member.N.MessageAttributes.entry.1.Value.StringValue",
];

const VALUES: &[&str] = &[
    "t",
    "t.fifo",
    "arn:aws:sns:us-east-1:123456789012:t",
    "arn:aws:sns:us-east-1:123456789012:t.fifo",
    "arn:aws:sns:us-east-1:123456789012:missing",
    "arn:aws:sns:eu-west-1:123456789012:t",
    "arn:aws:sns:us-east-1:123456789012:t:00000000-0000-0000-0000-000000000000",
    "arn:aws:sns:us-east-1",
    "arn:aws:sqs:us-east-1:123456789012:q",
    "arn:aws:sqs:us-east-1:123456789012:q.fifo",
    "arn:aws:lambda:us-east-1:123456789012:function:f",
    "http://127.0.0.1:9/hook",
    "https://127.0.0.1:9/hook",
    "dev@example.com",
    "+15555550100",
    "sqs",
    "lambda",
    "http",
    "email",
    "sms",
    "firehose",
    "pigeon",
    "FifoTopic",
    "ContentBasedDeduplication",
    "DisplayName",
    "Policy",
    "DeliveryPolicy",
    "FilterPolicy",
    "FilterPolicyScope",
    "RawMessageDelivery",
    "RedrivePolicy",
    "MessageBody",
    "MessageAttributes",
    "true",
    "false",
    "json",
    "String",
    "Number",
    "Binary",
    "String.Array",
    "[\"a\",1,null]",
    "[",
    "1e400",
    "AAE=",
    "not base64!",
    "{\"a\":[\"b\"]}",
    "{\"a\":[{\"numeric\":[\">\",1]}],\"b\":[{\"prefix\":\"x\"}]}",
    "{\"a\":[{\"wildcard\":\"x*\"}]}",
    "{\"default\":\"d\",\"sqs\":\"s\"}",
    "{\"deadLetterTargetArn\":\"arn:aws:sqs:us-east-1:123456789012:q\"}",
    "{\"healthyRetryPolicy\":{\"numRetries\":1,\"minDelayTarget\":1}}",
    "{",
    "",
    "g1",
    "d1",
    "a.b",
    "AWS.x",
    "..",
    "\u{0}\u{1}<>&'\"",
    "0",
    "-1",
];

/// One SNS request: an action and its parameters, and who sends it.
#[derive(Debug, Clone)]
struct Case {
    action: &'static str,
    params: Vec<(String, String)>,
    sender: Sender,
    /// A body that is not a form at all.
    junk: Option<Vec<u8>>,
}

fn value() -> BoxedStrategy<String> {
    prop_oneof![
        8 => prop::sample::select(VALUES).prop_map(str::to_owned),
        1 => "\\PC{0,40}",
        1 => (1usize..300_000).prop_map(|n| "x".repeat(n)),
    ]
    .boxed()
}

fn param() -> BoxedStrategy<(String, String)> {
    (prop::sample::select(NAMES), 0u32..12, value())
        .prop_map(|(name, n, v)| (name.replace('N', &n.to_string()), v))
        .boxed()
}

/// Valid requests to start from: cases add random parameters to them.
const SEEDS: &[(&str, &[(&str, &str)])] = &[
    ("CreateTopic", &[("Name", "new")]),
    (
        "CreateTopic",
        &[
            ("Name", "new.fifo"),
            ("Attributes.entry.1.key", "FifoTopic"),
            ("Attributes.entry.1.value", "true"),
        ],
    ),
    (
        "Publish",
        &[
            ("TopicArn", "arn:aws:sns:us-east-1:123456789012:t"),
            ("Message", "m"),
            ("MessageAttributes.entry.1.Name", "a"),
            ("MessageAttributes.entry.1.Value.DataType", "String"),
            ("MessageAttributes.entry.1.Value.StringValue", "x"),
        ],
    ),
    (
        "PublishBatch",
        &[
            ("TopicArn", "arn:aws:sns:us-east-1:123456789012:t"),
            ("PublishBatchRequestEntries.member.1.Id", "a"),
            ("PublishBatchRequestEntries.member.1.Message", "m"),
        ],
    ),
    (
        "Subscribe",
        &[
            ("TopicArn", "arn:aws:sns:us-east-1:123456789012:t"),
            ("Protocol", "sqs"),
            ("Endpoint", "arn:aws:sqs:us-east-1:123456789012:q"),
        ],
    ),
    ("ListTopics", &[]),
    (
        "GetTopicAttributes",
        &[("TopicArn", "arn:aws:sns:us-east-1:123456789012:t")],
    ),
];

fn seeded() -> BoxedStrategy<(&'static str, Vec<(String, String)>)> {
    (
        prop::sample::select(SEEDS),
        proptest::collection::vec(param(), 0..3),
    )
        .prop_map(|((action, base), extra)| {
            let mut params: Vec<(String, String)> = base
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
            params.extend(extra);
            (action, params)
        })
        .boxed()
}

fn case() -> BoxedStrategy<Case> {
    let request = prop_oneof![
        3 => (
            prop::sample::select(ACTIONS),
            proptest::collection::vec(param(), 0..12)
        ),
        2 => seeded(),
    ];
    (
        request,
        sender(),
        prop_oneof![
            20 => Just(None),
            1 => proptest::collection::vec(any::<u8>(), 0..200).prop_map(Some),
        ],
    )
        .prop_map(|((action, params), sender, junk)| Case {
            action,
            params,
            sender,
            junk,
        })
        .boxed()
}

fn form(action: &str, params: &[(String, String)]) -> Vec<u8> {
    let mut out = format!("Action={}&Version=2010-03-31", pct(action));
    for (k, v) in params {
        out.push_str(&format!("&{}={}", pct(k), pct(v)));
    }
    out.into_bytes()
}

fn call(action: &str, params: &[(&str, &str)]) -> Call {
    let params: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Call::new(Method::POST, "/")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(action, &params))
        .signed("sns")
}

/// Actions that must succeed at least once in a run.
const REACHED: &[&str] = &["CreateTopic", "Publish", "ListTopics"];

#[test]
fn no_request_panics_or_answers_5xx() {
    let fx = Fixture::new();
    fx.setup(call("CreateTopic", &[("Name", "t")]));
    fx.setup(call(
        "CreateTopic",
        &[
            ("Name", "t.fifo"),
            ("Attributes.entry.1.key", "FifoTopic"),
            ("Attributes.entry.1.value", "true"),
        ],
    ));
    let cases = proptest::collection::vec(case(), 1..8);
    fx.check(256, cases, |fx, cases: Vec<Case>| {
        for case in cases {
            let body = case
                .junk
                .clone()
                .unwrap_or_else(|| form(case.action, &case.params));
            let c = Call::new(Method::POST, "/")
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body);
            let c = case.sender.prepare(c, "sns");
            let reply = fx.rt.block_on(fx.send(&c))?;
            if case.sender == Sender::Sdk && case.junk.is_none() {
                fx.record(case.action, &reply);
            }
            check_reply(Shape::AwsQuery, &c, &reply)?;
            if case.sender.refused() && reply.status != StatusCode::FORBIDDEN {
                return Err(format!(
                    "a request from {:?} was not refused: {c:?} answered {}",
                    case.sender, reply.status
                ));
            }
        }
        Ok(())
    });
    fx.assert_reached(REACHED);
}
