//! SQS (AWS JSON 1.0, `AmazonSQS.*`): every operation of botocore's `sqs/2012-11-05` model.

use serde_json::Value;

use super::{Call, Fixture, JsonCase, Vocab, json_case, run_json_case};

const OPERATIONS: &[&str] = &[
    "AddPermission",
    "CancelMessageMoveTask",
    "ChangeMessageVisibility",
    "ChangeMessageVisibilityBatch",
    "CreateQueue",
    "DeleteMessage",
    "DeleteMessageBatch",
    "DeleteQueue",
    "GetQueueAttributes",
    "GetQueueUrl",
    "ListDeadLetterSourceQueues",
    "ListMessageMoveTasks",
    "ListQueueTags",
    "ListQueues",
    "PurgeQueue",
    "ReceiveMessage",
    "RemovePermission",
    "SendMessage",
    "SendMessageBatch",
    "SetQueueAttributes",
    "StartMessageMoveTask",
    "TagQueue",
    "UntagQueue",
    "Bogus",
    "",
];

const VOCAB: Vocab = Vocab {
    keys: &[
        "AWSAccountIds",
        "Actions",
        "AttributeNames",
        "Attributes",
        "BinaryListValues",
        "BinaryValue",
        "DataType",
        "DelaySeconds",
        "DestinationArn",
        "Entries",
        "Id",
        "Label",
        "MaxNumberOfMessages",
        "MaxNumberOfMessagesPerSecond",
        "MaxResults",
        "MessageAttributeNames",
        "MessageAttributes",
        "MessageBody",
        "MessageDeduplicationId",
        "MessageGroupId",
        "MessageSystemAttributeNames",
        "MessageSystemAttributes",
        "NextToken",
        "QueueName",
        "QueueNamePrefix",
        "QueueOwnerAWSAccountId",
        "QueueUrl",
        "ReceiptHandle",
        "ReceiveRequestAttemptId",
        "SourceArn",
        "StringListValues",
        "StringValue",
        "TagKeys",
        "Tags",
        "TaskHandle",
        "VisibilityTimeout",
        "WaitTimeSeconds",
        "tags",
        // Attribute names, as keys of `Attributes` and `MessageAttributes`.
        "FifoQueue",
        "ContentBasedDeduplication",
        "RedrivePolicy",
        "RedriveAllowPolicy",
        "MaximumMessageSize",
        "MessageRetentionPeriod",
        "ReceiveMessageWaitTimeSeconds",
        "KmsMasterKeyId",
        "KmsDataKeyReusePeriodSeconds",
        "SqsManagedSseEnabled",
        "DeduplicationScope",
        "FifoThroughputLimit",
        "Policy",
        "AWSTraceHeader",
        "deadLetterTargetArn",
        "maxReceiveCount",
        "All",
    ],
    strings: &[
        "q",
        "q.fifo",
        "dlq",
        "src",
        "new-queue",
        "new.fifo",
        "a b",
        "http://localhost/123456789012/q",
        "http://localhost/123456789012/q.fifo",
        "http://localhost/123456789012/dlq",
        "http://localhost/123456789012/src",
        "http://localhost/123456789012/missing",
        "http://localhost/123456789012/",
        "https://sqs.us-east-1.amazonaws.com/123456789012/q",
        "arn:aws:sqs:us-east-1:123456789012:dlq",
        "arn:aws:sqs:us-east-1:123456789012:src",
        "arn:aws:sqs:eu-west-1:123456789012:dlq",
        "{\"deadLetterTargetArn\":\"arn:aws:sqs:us-east-1:123456789012:dlq\",\"maxReceiveCount\":\"1\"}",
        "{\"deadLetterTargetArn\":\"arn:aws:sqs:us-east-1:123456789012:q\",\"maxReceiveCount\":5}",
        "{\"deadLetterTargetArn\":\"arn:aws:sqs:us-east-1:123456789012:q.fifo\",\"maxReceiveCount\":1001}",
        "{\"redrivePermission\":\"allowAll\"}",
        "{",
        "true",
        "false",
        "0",
        "21",
        "60",
        "900",
        "901",
        "1024",
        "262144",
        "1048577",
        "43200",
        "1209600",
        "perQueue",
        "perMessageGroupId",
        "queue",
        "messageGroup",
        "alias/aws/sqs",
        "All",
        "SentTimestamp",
        "ApproximateReceiveCount",
        "ApproximateNumberOfMessages",
        "QueueArn",
        "String",
        "Number",
        "Binary",
        "String.custom",
        "Number.int",
        "Binary.",
        "aGVsbG8=",
        "not base64!",
        "1.0123456789abcdef0123456789abcdef",
        "99999999999999999999.0123456789abcdef0123456789abcdef",
        "1.xyz",
        "g1",
        "d1",
        "id-1",
        "id 1",
        "Root=1-5759e988-bd862e3fe1be46a994272793",
        "aws.reserved",
        "a..b",
        ".start",
        "SendMessage",
        "*",
    ],
    seeds: &[
        (
            "CreateQueue",
            r#"{"QueueName":"new-queue","Attributes":{"DelaySeconds":"0","VisibilityTimeout":"30",
                "MaximumMessageSize":"1024","MessageRetentionPeriod":"60"},"tags":{"k":"v"}}"#,
        ),
        (
            "CreateQueue",
            r#"{"QueueName":"new.fifo","Attributes":{"FifoQueue":"true",
                "ContentBasedDeduplication":"true","DeduplicationScope":"messageGroup",
                "FifoThroughputLimit":"perMessageGroupId"}}"#,
        ),
        (
            "SetQueueAttributes",
            r#"{"QueueUrl":"http://localhost/123456789012/src","Attributes":{
                "RedrivePolicy":"{\"deadLetterTargetArn\":\"arn:aws:sqs:us-east-1:123456789012:dlq\",\"maxReceiveCount\":\"1\"}",
                "VisibilityTimeout":"0"}}"#,
        ),
        (
            "SendMessage",
            r#"{"QueueUrl":"http://localhost/123456789012/q","MessageBody":"hello","DelaySeconds":0,
                "MessageAttributes":{"a":{"DataType":"String","StringValue":"x"},
                    "b":{"DataType":"Binary","BinaryValue":"aGVsbG8="},
                    "n":{"DataType":"Number.int","StringValue":"1.5"}},
                "MessageSystemAttributes":{"AWSTraceHeader":{"DataType":"String",
                    "StringValue":"Root=1-5759e988-bd862e3fe1be46a994272793"}}}"#,
        ),
        (
            "SendMessage",
            r#"{"QueueUrl":"http://localhost/123456789012/q.fifo","MessageBody":"m",
                "MessageGroupId":"g1","MessageDeduplicationId":"d1"}"#,
        ),
        (
            "SendMessageBatch",
            r#"{"QueueUrl":"http://localhost/123456789012/src","Entries":[
                {"Id":"a","MessageBody":"1"},{"Id":"b","MessageBody":"2","DelaySeconds":1}]}"#,
        ),
        (
            "ReceiveMessage",
            r#"{"QueueUrl":"http://localhost/123456789012/src","MaxNumberOfMessages":10,
                "VisibilityTimeout":0,"WaitTimeSeconds":0,"AttributeNames":["All"],
                "MessageAttributeNames":["All"],"MessageSystemAttributeNames":["All"]}"#,
        ),
        (
            "ReceiveMessage",
            r#"{"QueueUrl":"http://localhost/123456789012/q.fifo","MaxNumberOfMessages":1,
                "ReceiveRequestAttemptId":"x","MessageAttributeNames":["a.*"]}"#,
        ),
        (
            "DeleteMessage",
            r#"{"QueueUrl":"http://localhost/123456789012/q","ReceiptHandle":"@ReceiptHandle@"}"#,
        ),
        (
            "DeleteMessageBatch",
            r#"{"QueueUrl":"http://localhost/123456789012/q","Entries":[
                {"Id":"a","ReceiptHandle":"@ReceiptHandle@"},{"Id":"b","ReceiptHandle":"1.xyz"}]}"#,
        ),
        (
            "ChangeMessageVisibility",
            r#"{"QueueUrl":"http://localhost/123456789012/src","ReceiptHandle":"@ReceiptHandle@",
                "VisibilityTimeout":0}"#,
        ),
        (
            "ChangeMessageVisibilityBatch",
            r#"{"QueueUrl":"http://localhost/123456789012/q","Entries":[
                {"Id":"a","ReceiptHandle":"@ReceiptHandle@","VisibilityTimeout":43200}]}"#,
        ),
        (
            "ListQueues",
            r#"{"QueueNamePrefix":"q","MaxResults":1,"NextToken":"q"}"#,
        ),
        (
            "TagQueue",
            r#"{"QueueUrl":"http://localhost/123456789012/q","Tags":{"k":"v"}}"#,
        ),
        (
            "UntagQueue",
            r#"{"QueueUrl":"http://localhost/123456789012/q","TagKeys":["k"]}"#,
        ),
        (
            "GetQueueAttributes",
            r#"{"QueueUrl":"http://localhost/123456789012/src","AttributeNames":["All"]}"#,
        ),
        (
            "ListDeadLetterSourceQueues",
            r#"{"QueueUrl":"http://localhost/123456789012/dlq"}"#,
        ),
        (
            "PurgeQueue",
            r#"{"QueueUrl":"http://localhost/123456789012/dlq"}"#,
        ),
        (
            "StartMessageMoveTask",
            r#"{"SourceArn":"arn:aws:sqs:us-east-1:123456789012:dlq"}"#,
        ),
    ],
};

/// Long polls make a case wait up to 20 s for nothing: receives here answer at once. Says
/// whether it changed `v`.
fn no_long_polls(v: &mut Value) -> bool {
    let mut changed = false;
    match v {
        Value::Object(m) => {
            for (k, v) in m.iter_mut() {
                if k == "WaitTimeSeconds" || k == "ReceiveMessageWaitTimeSeconds" {
                    let secs = match v {
                        Value::Number(n) => n.as_f64(),
                        Value::String(s) => s.trim().parse::<f64>().ok(),
                        _ => None,
                    };
                    if secs.is_some_and(|s| s > 0.0 && s <= 20.0) {
                        *v = match v {
                            Value::String(_) => Value::from("0"),
                            _ => Value::from(0),
                        };
                        changed = true;
                    }
                }
                changed |= no_long_polls(v);
            }
        }
        Value::Array(a) => {
            for v in a {
                changed |= no_long_polls(v);
            }
        }
        _ => {}
    }
    changed
}

fn call(op: &str, body: &str) -> Call {
    Call::new(axum::http::Method::POST, "/")
        .header("x-amz-target", format!("AmazonSQS.{op}"))
        .header("content-type", "application/x-amz-json-1.0")
        .body(body)
        .signed("sqs")
}

/// Operations that must succeed at least once in a run.
const REACHED: &[&str] = &["CreateQueue", "SendMessage", "ReceiveMessage", "ListQueues"];

#[test]
fn no_request_panics_or_answers_5xx() {
    let fx = Fixture::new();
    fx.setup(call("CreateQueue", r#"{"QueueName":"q"}"#));
    fx.setup(call("CreateQueue", r#"{"QueueName":"dlq"}"#));
    fx.setup(call(
        "CreateQueue",
        r#"{"QueueName":"q.fifo","Attributes":{"FifoQueue":"true","ContentBasedDeduplication":"true"}}"#,
    ));
    fx.setup(call(
        "CreateQueue",
        r#"{"QueueName":"src","Attributes":{"RedrivePolicy":"{\"deadLetterTargetArn\":\"arn:aws:sqs:us-east-1:123456789012:dlq\",\"maxReceiveCount\":\"1\"}"}}"#,
    ));
    for q in ["q", "src", "dlq"] {
        fx.setup(call(
            "SendMessage",
            &format!(r#"{{"QueueUrl":"http://localhost/123456789012/{q}","MessageBody":"m"}}"#),
        ));
    }
    let cases = proptest::collection::vec(json_case(OPERATIONS, &VOCAB), 1..8);
    fx.check(256, cases, |fx, cases: Vec<JsonCase>| {
        for mut case in cases {
            if let Ok(mut v) = serde_json::from_slice::<Value>(&case.body)
                && no_long_polls(&mut v)
            {
                case.body = v.to_string().into_bytes();
            }
            let reply = run_json_case(fx, &case, "AmazonSQS", "application/x-amz-json-1.0", "sqs")?;
            fx.capture(&reply, &["ReceiptHandle"]);
            // SDKs read the query protocol's code from `x-amzn-query-error`: `CODE;Sender`.
            if let Some(q) = reply.headers.get("x-amzn-query-error") {
                let text = q.to_str().unwrap_or("");
                if !text.ends_with(";Sender") || text.len() <= ";Sender".len() {
                    return Err(format!("x-amzn-query-error `{text}` for {case:?}"));
                }
            }
        }
        Ok(())
    });
    fx.assert_reached(REACHED);
}
