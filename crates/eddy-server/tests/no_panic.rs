//! Property test: no request body, on any EventBridge operation, makes the AWS endpoint panic or
//! answer 500. Every error answer has the AWS error shape.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use eddy_server::{App, ServerConfig};
use http_body_util::BodyExt;
use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use serde_json::{Map, Value};
use tower::ServiceExt;

const OPERATIONS: &[&str] = &[
    "PutEvents",
    "TestEventPattern",
    "PutRule",
    "DescribeRule",
    "ListRules",
    "DeleteRule",
    "EnableRule",
    "DisableRule",
    "ListRuleNamesByTarget",
    "PutTargets",
    "RemoveTargets",
    "ListTargetsByRule",
    "CreateEventBus",
    "DescribeEventBus",
    "ListEventBuses",
    "UpdateEventBus",
    "DeleteEventBus",
    "TagResource",
    "UntagResource",
    "ListTagsForResource",
    "PutPermission",
    "RemovePermission",
    "CreateArchive",
    "Bogus",
];

const KEYS: &[&str] = &[
    "Name",
    "EventPattern",
    "Entries",
    "Targets",
    "Id",
    "Arn",
    "Source",
    "DetailType",
    "Detail",
    "EventBusName",
    "Limit",
    "NextToken",
    "State",
    "Tags",
    "Key",
    "Value",
    "ResourceARN",
    "TagKeys",
    "Ids",
    "Rule",
    "Event",
    "Policy",
    "Action",
    "Principal",
    "StatementId",
    "Input",
    "InputPath",
    "InputTransformer",
    "InputTemplate",
    "InputPathsMap",
    "RetryPolicy",
    "MaximumRetryAttempts",
    "MaximumEventAgeInSeconds",
    "Time",
    "Resources",
    "Description",
    "ScheduleExpression",
    "TargetArn",
    "NamePrefix",
    "Force",
    "RemoveAllPermissions",
    "DeadLetterConfig",
    "SqsParameters",
    "MessageGroupId",
    "Condition",
    "Type",
];

const STRINGS: &[&str] = &[
    "",
    "default",
    "orders",
    "r1",
    "a b",
    "arn:aws:events:us-east-1:123456789012:event-bus/orders",
    "arn:aws:events:us-east-1:123456789012:rule/r1",
    "arn:aws:events:us-east-1:123456789012:rule/orders/r1",
    "arn:aws:sqs:us-east-1:123456789012:q.fifo",
    "arn:aws:sqs:us-east-1:123456789012:q",
    "arn:",
    "{\"source\":[\"a\"]}",
    "{\"detail\":{\"n\":[{\"numeric\":[\">\",1e308,\"<\",-1]}]}}",
    "{\"a\":[{\"wildcard\":\"**\"}]}",
    "{\"$or\":[]}",
    "{}",
    "[]",
    "{",
    "rate(1 minute)",
    "cron(0 12 * * ? *)",
    "ENABLED",
    "DISABLED",
    "events:PutEvents",
    "*",
    "eddy1zz",
    "eddy16162",
    "$.detail",
    "{\"id\":\"1\",\"account\":\"1\",\"source\":\"a\",\"time\":\"t\",\"region\":\"r\",\"resources\":[],\"detail-type\":\"d\",\"detail\":{}}",
];

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        prop::sample::select(STRINGS).prop_map(|s| Value::String(s.to_owned())),
        ".{0,40}".prop_map(Value::String),
    ]
}

fn json() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..12).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(KEYS), inner), 0..8).prop_map(|kv| {
                Value::Object(
                    kv.into_iter()
                        .map(|(k, v)| (k.to_owned(), v))
                        .collect::<Map<_, _>>(),
                )
            }),
        ]
    })
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => json().prop_map(|v| v.to_string().into_bytes()),
        1 => prop::collection::vec(any::<u8>(), 0..64),
        1 => Just(Vec::new()),
    ]
}

fn app() -> (tokio::runtime::Runtime, axum::Router, tempfile::TempDir) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = ServerConfig::new(dir.path());
    config.dev = true;
    // Durability is not under test here; skip the fsyncs to run more cases.
    config.sync = false;
    let app: Arc<App> = rt.block_on(App::open(config)).expect("open app");
    (rt, app.aws_router(), dir)
}

/// One server for all cases (opening a store per case made this test take a minute): what
/// earlier cases created is there for later ones.
#[test]
fn no_request_panics_or_answers_500() {
    let (rt, router, _dir) = app();
    let config = ProptestConfig {
        cases: 600,
        // Cases share the server's state, so a saved case would not replay the same way.
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    let ops = prop::collection::vec((prop::sample::select(OPERATIONS), body()), 1..6);
    let result = TestRunner::new(config).run(&ops, |ops| {
        rt.block_on(async {
            for (op, body) in ops {
                let req = Request::post("/")
                    .header("x-amz-target", format!("AWSEvents.{op}"))
                    .header(
                        "authorization",
                        "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/events/aws4_request, \
                         SignedHeaders=host, Signature=0",
                    )
                    .header("content-type", "application/x-amz-json-1.1")
                    .body(Body::from(body.clone()))
                    .expect("request");
                let res = router.clone().oneshot(req).await.expect("infallible");
                let status = res.status();
                let bytes = res.into_body().collect().await.expect("body").to_bytes();
                prop_assert_ne!(
                    status,
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "{} with {} answered 500: {}",
                    op,
                    String::from_utf8_lossy(&body),
                    String::from_utf8_lossy(&bytes)
                );
                let v: Value = serde_json::from_slice(&bytes).expect("JSON answer");
                if !status.is_success() {
                    prop_assert!(v["__type"].is_string(), "error without __type: {}", v);
                    prop_assert!(v["message"].is_string(), "error without message: {}", v);
                }
            }
            Ok(())
        })
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}
