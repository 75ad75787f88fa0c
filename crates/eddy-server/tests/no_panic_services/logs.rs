//! CloudWatch Logs (AWS JSON 1.1, `Logs_20140328.*`): the operations eddy serves and some of
//! botocore's `logs/2014-03-28` model it does not.

use super::{Call, Fixture, JsonCase, Vocab, json_case, run_json_case};

const OPERATIONS: &[&str] = &[
    "CreateLogGroup",
    "DeleteLogGroup",
    "DescribeLogGroups",
    "CreateLogStream",
    "DescribeLogStreams",
    "PutLogEvents",
    "GetLogEvents",
    "FilterLogEvents",
    "DeleteLogStream",
    "PutRetentionPolicy",
    "TagLogGroup",
    "UntagLogGroup",
    "ListTagsLogGroup",
    "TagResource",
    "UntagResource",
    "ListTagsForResource",
    "DeleteRetentionPolicy",
    "StartQuery",
    "StartLiveTail",
    "Bogus",
];

const VOCAB: Vocab = Vocab {
    keys: &[
        "accountIdentifiers",
        "deletionProtectionEnabled",
        "descending",
        "endTime",
        "filterPattern",
        "includeLinkedAccounts",
        "interleaved",
        "kmsKeyId",
        "limit",
        "logEvents",
        "logGroupClass",
        "logGroupIdentifier",
        "logGroupIdentifiers",
        "logGroupName",
        "logGroupNamePattern",
        "logGroupNamePrefix",
        "logStreamName",
        "logStreamNamePrefix",
        "logStreamNames",
        "message",
        "nextToken",
        "orderBy",
        "retentionInDays",
        "sequenceToken",
        "startFromHead",
        "startTime",
        "tags",
        "timestamp",
        "unmask",
        "queryString",
        "resourceArn",
        "tagKeys",
    ],
    strings: &[
        "g",
        "arn:aws:logs:us-east-1:123456789012:log-group:g",
        "arn:aws:logs:us-east-1:123456789012:log-group:g:*",
        "/aws/lambda/f",
        "/aws/events/orders",
        "missing",
        "bad name!",
        "s",
        "s:1",
        "s*",
        "2027/01/01/[$LATEST]abc",
        "f/0",
        "f/0/0",
        "b/0/0",
        "f/-9223372036854775808/-9223372036854775808",
        "b/9223372036854775807/9223372036854775807",
        "f/1000/-1",
        "b/-1/5",
        "f/1/2/3",
        "f/x",
        "x/1",
        "f/",
        "ERROR",
        "\"quoted phrase\"",
        "?ERROR ?WARN",
        "-ERROR",
        "{ $.level = \"error\" }",
        "{ $.n > 5 }",
        "{ $.a.b[0] = * }",
        "[ip, user, ...]",
        "[w1=\"a\" || w1=\"b\", w2]",
        "{ ($.a = 1) && ($.b = 2 || $.c != 3) }",
        "{ $.x = %regex.*% }",
        "{",
        "[",
        "{ $. = 1 }",
        "LogStreamName",
        "LastEventTime",
        "STANDARD",
        "fields @timestamp",
    ],
    seeds: &[
        (
            "CreateLogGroup",
            r#"{"logGroupName":"new/group_1.x-#","tags":{"k":"v"}}"#,
        ),
        (
            "CreateLogStream",
            r#"{"logGroupName":"g","logStreamName":"s2"}"#,
        ),
        (
            "PutLogEvents",
            r#"{"logGroupName":"g","logStreamName":"s","logEvents":[
                {"timestamp":1798761600000,"message":"ERROR {\"level\":\"error\",\"n\":7}"},
                {"timestamp":1798761600001,"message":"10.0.0.1 alice GET /"}]}"#,
        ),
        (
            "GetLogEvents",
            r#"{"logGroupName":"g","logStreamName":"s","startFromHead":true,"limit":1,
                "startTime":0,"endTime":1798761600000,"nextToken":"f/0/0"}"#,
        ),
        (
            "FilterLogEvents",
            r#"{"logGroupName":"g","logStreamNames":["s"],"filterPattern":"{ $.n > 5 }",
                "limit":1,"startTime":0,"nextToken":"f/0/0"}"#,
        ),
        (
            "FilterLogEvents",
            r#"{"logGroupName":"g","filterPattern":"[ip, user = alice, ...]"}"#,
        ),
        (
            "DescribeLogGroups",
            r#"{"logGroupNamePrefix":"/aws","limit":1,"nextToken":"g"}"#,
        ),
        (
            "DescribeLogStreams",
            r#"{"logGroupName":"g","orderBy":"LastEventTime","descending":true}"#,
        ),
        ("DeleteLogGroup", r#"{"logGroupName":"new/group_1.x-#"}"#),
    ],
};

fn call(op: &str, body: &str) -> Call {
    Call::new(axum::http::Method::POST, "/")
        .header("x-amz-target", format!("Logs_20140328.{op}"))
        .header("content-type", "application/x-amz-json-1.1")
        .body(body)
        .signed("logs")
}

/// Operations that must succeed at least once in a run.
const REACHED: &[&str] = &[
    "DescribeLogGroups",
    "FilterLogEvents",
    "GetLogEvents",
    "PutLogEvents",
];

#[test]
fn no_request_panics_or_answers_5xx() {
    let fx = Fixture::new();
    fx.setup(call("CreateLogGroup", r#"{"logGroupName":"g"}"#));
    fx.setup(call(
        "CreateLogGroup",
        r#"{"logGroupName":"/aws/lambda/f"}"#,
    ));
    fx.setup(call(
        "CreateLogStream",
        r#"{"logGroupName":"g","logStreamName":"s"}"#,
    ));
    fx.setup(call(
        "PutLogEvents",
        r#"{"logGroupName":"g","logStreamName":"s","logEvents":[
            {"timestamp":1798761600000,"message":"ERROR {\"level\":\"error\",\"n\":7}"},
            {"timestamp":1798761601000,"message":"10.0.0.1 alice GET /"}]}"#,
    ));
    let cases = proptest::collection::vec(json_case(OPERATIONS, &VOCAB), 1..8);
    fx.check(256, cases, |fx, cases: Vec<JsonCase>| {
        for case in cases {
            run_json_case(
                fx,
                &case,
                "Logs_20140328",
                "application/x-amz-json-1.1",
                "logs",
            )?;
        }
        Ok(())
    });
    fx.assert_reached(REACHED);
}
