//! Hostile input on the AWS endpoint, one clear answer each: a Detail nested too deeply or with a
//! lone surrogate escape is refused per entry (never a 500 for the batch), a rule whose
//! array-consistency search gives up is counted in `/metrics`, and SQS refuses invalid base64
//! binary attributes, lone surrogates and a queue that redrives to itself.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use eddy_server::{App, ServerConfig};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

struct Server {
    rt: tokio::runtime::Runtime,
    app: Arc<App>,
    router: axum::Router,
    _dir: tempfile::TempDir,
}

impl Server {
    fn start() -> Self {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = ServerConfig::new(dir.path());
        config.dev = true;
        config.sync = false;
        let app: Arc<App> = rt.block_on(App::open(config)).expect("open app");
        Server {
            rt,
            router: app.aws_router(),
            app,
            _dir: dir,
        }
    }

    /// One AWS JSON call: (status, `__type` or "ok", body).
    fn call(&self, target: &str, body: &str) -> (StatusCode, Value) {
        let service = if target.starts_with("AmazonSQS") {
            "sqs"
        } else {
            "events"
        };
        let req = Request::post("/")
            .header("host", "127.0.0.1")
            .header("x-amz-target", target)
            .header("content-type", "application/x-amz-json-1.1")
            .header(
                "authorization",
                format!(
                    "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/{service}/aws4_request, \
                     SignedHeaders=host, Signature=0"
                ),
            )
            .body(Body::from(body.to_owned()))
            .expect("request");
        self.rt.block_on(async {
            let res = self.router.clone().oneshot(req).await.expect("infallible");
            let status = res.status();
            let bytes = res.into_body().collect().await.expect("body").to_bytes();
            let v = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            (status, v)
        })
    }

    fn ok(&self, target: &str, body: Value) -> Value {
        let (status, v) = self.call(target, &body.to_string());
        assert_eq!(status, StatusCode::OK, "{target} {body}: {v}");
        v
    }

    fn metrics(&self) -> String {
        let req = Request::get("/metrics")
            .header("host", "127.0.0.1")
            .body(Body::empty())
            .expect("request");
        self.rt.block_on(async {
            let res = self.router.clone().oneshot(req).await.expect("infallible");
            let bytes = res.into_body().collect().await.expect("body").to_bytes();
            String::from_utf8_lossy(&bytes).into_owned()
        })
    }
}

fn nested_arrays(depth: usize) -> String {
    format!("{}{}", "[".repeat(depth), "]".repeat(depth))
}

fn entry(detail: &str) -> Value {
    json!({"Source": "app", "DetailType": "t", "Detail": detail})
}

#[test]
fn a_detail_nested_too_deeply_is_refused_per_entry_not_a_500() {
    let s = Server::start();
    // A rule on a path inside the deep value, so matching walks into it (the 500 of old).
    s.ok(
        "AWSEvents.PutRule",
        json!({"Name": "deep", "EventPattern": r#"{"detail":{"a":[{"exists":true}]}}"#}),
    );
    let deep = format!(r#"{{"a":{}}}"#, nested_arrays(600));
    let at_limit = format!(r#"{{"a":{}}}"#, nested_arrays(99));
    let past_limit = format!(r#"{{"a":{}}}"#, nested_arrays(100));
    let (status, v) = s.call(
        "AWSEvents.PutEvents",
        &json!({"Entries": [
            entry(r#"{"a":1}"#),
            entry(&deep),
            entry(&at_limit),
            entry(&past_limit),
            entry(r#"{"a":"\ud800"}"#),
            entry(r#"{"a":"\ud83d\ude00"}"#),
        ]})
        .to_string(),
    );
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["FailedEntryCount"], 3, "{v}");
    let e = &v["Entries"];
    let too_deep = json!({
        "ErrorCode": "MalformedDetail",
        "ErrorMessage": "Detail is malformed. Reason: it is nested deeper than 100 levels."
    });
    assert!(e[0]["EventId"].is_string());
    assert_eq!(e[1], too_deep);
    assert!(e[2]["EventId"].is_string(), "{}", e[2]);
    assert_eq!(e[3], too_deep);
    assert_eq!(
        e[4],
        json!({
            "ErrorCode": "MalformedDetail",
            "ErrorMessage": "Detail is malformed. Reason: it contains a \\u escape of a lone \
                             UTF-16 surrogate."
        })
    );
    assert!(e[5]["EventId"].is_string());
    let m = s.metrics();
    assert!(
        m.contains(r#"eddy_events_put_total{bus="default"} 3"#),
        "{m}"
    );
    assert!(
        m.contains(r#"eddy_events_failed_entries_total{code="MalformedDetail"} 3"#),
        "{m}"
    );
}

/// Events already in the store are not trusted: one stored before today's checks (too deep for
/// the matcher, or with a lone surrogate) is refused on its own when a bus target forwards it
/// (its work item is not acknowledged), and replayed to no rule, never an error for the batch.
#[test]
fn stored_events_the_matcher_cannot_read_fail_alone() {
    let s = Server::start();
    s.ok(
        "AWSEvents.PutRule",
        json!({"Name": "deep", "EventPattern": r#"{"detail":{"a":[{"exists":true}]}}"#}),
    );
    let body = |detail: &str| {
        format!(
            r#"{{"version":"0","id":"e","detail-type":"t","source":"app","account":"123456789012","time":"2026-01-01T00:00:00Z","region":"us-east-1","resources":[],"detail":{detail}}}"#
        )
    };
    let deep = body(&format!(r#"{{"a":{}}}"#, nested_arrays(600)));
    let lone = body(r#"{"a":"\ud800"}"#);
    for stored in [&deep, &lone] {
        let item = eddy_store::WorkItem {
            id: 424_242,
            token: 1,
            event_id: "e".into(),
            bus: "us-east-1:other".into(),
            rule: "arn:aws:events:us-east-1:123456789012:rule/other/fwd".into(),
            target: "t".into(),
            attempts: 1,
            created_ms: 0,
            body: stored.clone(),
            hops: 0,
        };
        let r =
            s.rt.block_on(s.app.bus.forward("us-east-1", "default", &item, 0))
                .expect("no server error");
        let e = r.expect_err("refused");
        assert_eq!(e.code, "MalformedDetail", "{}", e.message);
    }
    let replayed =
        s.rt.block_on(s.app.bus.put_for_rules(
            "us-east-1",
            "default",
            vec![
                ("r1".into(), 0, deep.clone()),
                ("r2".into(), 0, body(r#"{"a":1}"#)),
            ],
            None,
        ))
        .expect("no server error");
    // Both events are replayed; only the readable one matched (the rule has no targets, so no
    // work items either way).
    assert_eq!(replayed, Ok(0));
    let m = s.metrics();
    assert!(
        m.contains(r#"eddy_rule_matched_events_total{bus="default",rule="deep"} 1"#),
        "{m}"
    );
    assert!(
        m.contains(r#"eddy_events_put_total{bus="default"} 2"#),
        "{m}"
    );
}

#[test]
fn test_event_pattern_refuses_deep_events_and_lone_surrogates_with_a_validation_error() {
    let s = Server::start();
    let event = |detail: &str| {
        format!(
            r#"{{"id":"1","account":"1","source":"a","time":"t","region":"r","resources":[],"detail-type":"d","detail":{detail}}}"#
        )
    };
    let call = |ev: String| {
        s.call(
            "AWSEvents.TestEventPattern",
            &json!({"EventPattern": r#"{"source":["a"]}"#, "Event": ev}).to_string(),
        )
    };
    let (status, v) = call(event(&format!(r#"{{"a":{}}}"#, nested_arrays(99))));
    assert_eq!((status, v["Result"].clone()), (StatusCode::OK, json!(true)));
    for depth in [100, 130, 100_000] {
        let (status, v) = call(event(&format!(r#"{{"a":{}}}"#, nested_arrays(depth))));
        assert_eq!(status, StatusCode::BAD_REQUEST, "{depth}: {v}");
        assert_eq!(v["__type"], "ValidationException");
        assert_eq!(
            v["message"],
            "Parameter Event is not valid. Reason: Event is nested deeper than 101 levels."
        );
    }
    let (status, v) = call(event(r#"{"a":"\udc00"}"#));
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(v["__type"], "ValidationException");
}

#[test]
fn patterns_with_lone_surrogates_or_deep_nesting_are_invalid_patterns() {
    let s = Server::start();
    for (pattern, reason) in [
        (
            r#"{"source":["\ud800"]}"#.to_owned(),
            "Invalid JSON: a \\u escape names a lone UTF-16 surrogate",
        ),
        (
            format!("{}[1]{}", "{\"a\":".repeat(300), "}".repeat(300)),
            "Invalid JSON: nested too deeply",
        ),
    ] {
        let (status, v) = s.call(
            "AWSEvents.PutRule",
            &json!({"Name": "r", "EventPattern": pattern}).to_string(),
        );
        assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
        assert_eq!(v["__type"], "InvalidEventPatternException");
        assert_eq!(
            v["message"],
            format!("Event pattern is not valid. Reason: {reason}")
        );
    }
}

#[test]
fn a_source_with_control_characters_is_an_invalid_argument() {
    let s = Server::start();
    let v = s.ok(
        "AWSEvents.PutEvents",
        json!({"Entries": [
            {"Source": "my\u{0}app", "DetailType": "t", "Detail": "{}"},
            {"Source": "my\napp", "DetailType": "t", "Detail": "{}"},
            {"Source": "my\u{85}app", "DetailType": "t", "Detail": "{}"},
            {"Source": "my.app", "DetailType": "t", "Detail": "{}"},
        ]}),
    );
    assert_eq!(v["FailedEntryCount"], 3);
    for i in 0..3 {
        assert_eq!(
            v["Entries"][i],
            json!({
                "ErrorCode": "InvalidArgument",
                "ErrorMessage": "Parameter Source is not valid. Reason: Source must not contain \
                                 control characters."
            })
        );
    }
    assert!(v["Entries"][3]["EventId"].is_string());
}

// The pattern and event of eddy-pattern's budget test (under `detail` here): a full search
// would match, but it needs millions of steps, so the matcher gives up.
#[path = "../../eddy-pattern/tests/support/budget.rs"]
mod budget;

#[test]
fn a_search_that_gives_up_is_counted_per_rule_and_the_event_does_not_match() {
    let s = Server::start();
    s.ok(
        "AWSEvents.PutRule",
        json!({"Name": "combinatorial",
               "EventPattern": format!(r#"{{"detail":{}}}"#, budget::BUDGET_PATTERN)}),
    );
    s.ok(
        "AWSEvents.PutRule",
        json!({"Name": "plain", "EventPattern": r#"{"source":["app"]}"#}),
    );
    let metric =
        r#"eddy_pattern_search_budget_exhausted_total{bus="default",rule="combinatorial"}"#;
    let matched = r#"eddy_rule_matched_events_total{bus="default",rule="combinatorial"}"#;
    // Small: decided exactly (a match), nothing counted.
    s.ok(
        "AWSEvents.PutEvents",
        json!({"Entries": [entry(&budget::budget_event(8))]}),
    );
    let m = s.metrics();
    assert!(m.contains(&format!("{metric} 0")), "{m}");
    assert!(m.contains(&format!("{matched} 1")), "{m}");
    // Large: the search gives up; the event is accepted, matched by `plain` only, and counted.
    for _ in 0..2 {
        let v = s.ok(
            "AWSEvents.PutEvents",
            json!({"Entries": [entry(&budget::budget_event(40))]}),
        );
        assert_eq!(v["FailedEntryCount"], 0);
    }
    let m = s.metrics();
    assert!(m.contains(&format!("{metric} 2")), "{m}");
    assert!(m.contains(&format!("{matched} 1")), "{m}");
    assert!(
        m.contains(r#"eddy_rule_matched_events_total{bus="default",rule="plain"} 3"#),
        "{m}"
    );
}

// ------------------------------------------------------------------------------------- SQS

fn create_queue(s: &Server, name: &str, attrs: Value) -> String {
    s.ok(
        "AmazonSQS.CreateQueue",
        json!({"QueueName": name, "Attributes": attrs}),
    )["QueueUrl"]
        .as_str()
        .expect("url")
        .to_owned()
}

#[test]
fn invalid_base64_binary_attributes_are_a_serialization_exception() {
    let s = Server::start();
    let url = create_queue(&s, "q", json!({}));
    for bad in ["xyz", "YmxvYg=", "-_==", "not base64!", "Zm9v\n"] {
        let attrs = json!({"a": {"DataType": "Binary", "BinaryValue": bad}});
        let (status, v) = s.call(
            "AmazonSQS.SendMessage",
            &json!({"QueueUrl": url, "MessageBody": "m", "MessageAttributes": attrs}).to_string(),
        );
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad:?}: {v}");
        assert_eq!(v["__type"], "SerializationException", "{bad:?}");
        assert_eq!(
            v["message"],
            "Value for message attribute 'a' member BinaryValue is not valid base64"
        );
        let (status, v) = s.call(
            "AmazonSQS.SendMessageBatch",
            &json!({"QueueUrl": url, "Entries": [
                {"Id": "1", "MessageBody": "m"},
                {"Id": "2", "MessageBody": "m", "MessageAttributes": attrs},
            ]})
            .to_string(),
        );
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad:?}: {v}");
        assert_eq!(v["__type"], "SerializationException");
    }
    // Nothing was sent; a valid value still is.
    let v = s.ok(
        "AmazonSQS.SendMessage",
        json!({"QueueUrl": url, "MessageBody": "m",
               "MessageAttributes": {"a": {"DataType": "Binary", "BinaryValue": "YmxvYg=="}}}),
    );
    assert!(v["MD5OfMessageAttributes"].is_string());
    let v = s.ok(
        "AmazonSQS.ReceiveMessage",
        json!({"QueueUrl": url, "MaxNumberOfMessages": 10}),
    );
    assert_eq!(v["Messages"].as_array().map(Vec::len), Some(1), "{v}");
}

#[test]
fn a_lone_surrogate_in_a_message_is_invalid_message_contents() {
    let s = Server::start();
    let url = create_queue(&s, "q", json!({}));
    let body = format!(r#"{{"QueueUrl":"{url}","MessageBody":"a\ud800b"}}"#);
    let (status, v) = s.call("AmazonSQS.SendMessage", &body);
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(v["__type"], "com.amazonaws.sqs#InvalidMessageContents");
    let body = format!(r#"{{"QueueUrl":"{url}","Entries":[{{"Id":"1","MessageBody":"\udfff"}}]}}"#);
    let (status, v) = s.call("AmazonSQS.SendMessageBatch", &body);
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(v["__type"], "com.amazonaws.sqs#InvalidMessageContents");
    // Other malformed JSON stays a serialization error.
    let (status, v) = s.call("AmazonSQS.SendMessage", r#"{"QueueUrl":"#);
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(v["__type"], "SerializationException");
}

#[test]
fn a_queue_cannot_redrive_to_itself_or_to_nothing() {
    let s = Server::start();
    let policy = |arn: &str| json!({"deadLetterTargetArn": arn, "maxReceiveCount": 3}).to_string();
    let arn = |name: &str| format!("arn:aws:sqs:us-east-1:123456789012:{name}");
    let refused = |target: &str, attrs: Value, reason: &str| {
        let (status, v) = s.call(target, &attrs.to_string());
        assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
        assert_eq!(
            v["__type"], "com.amazonaws.sqs#InvalidParameterValueException",
            "{v}"
        );
        let p = attrs
            .pointer("/Attributes/RedrivePolicy")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        assert_eq!(
            v["message"],
            format!("Value {p} for parameter RedrivePolicy is invalid. Reason: {reason}")
        );
    };
    let itself = "Dead-letter target must not be the source queue itself.";
    // CreateQueue naming itself.
    refused(
        "AmazonSQS.CreateQueue",
        json!({"QueueName": "loop", "Attributes": {"RedrivePolicy": policy(&arn("loop"))}}),
        itself,
    );
    // SetQueueAttributes naming itself.
    let url = create_queue(&s, "q", json!({}));
    refused(
        "AmazonSQS.SetQueueAttributes",
        json!({"QueueUrl": url, "Attributes": {"RedrivePolicy": policy(&arn("q"))}}),
        itself,
    );
    refused(
        "AmazonSQS.CreateQueue",
        json!({"QueueName": "q2", "Attributes": {"RedrivePolicy": policy(&arn("missing"))}}),
        "Dead letter target does not exist.",
    );
    create_queue(&s, "dlq.fifo", json!({"FifoQueue": "true"}));
    refused(
        "AmazonSQS.SetQueueAttributes",
        json!({"QueueUrl": url, "Attributes": {"RedrivePolicy": policy(&arn("dlq.fifo"))}}),
        "Dead-letter queue must be same type of queue as the source..",
    );
    refused(
        "AmazonSQS.SetQueueAttributes",
        json!({"QueueUrl": url, "Attributes": {"RedrivePolicy":
            policy("arn:aws:sqs:eu-west-1:123456789012:dlq")}}),
        "Dead-letter target must be in same region as the source.",
    );
    // A real dead-letter queue is accepted, and the queue kept no policy from the refusals.
    let v = s.ok(
        "AmazonSQS.GetQueueAttributes",
        json!({"QueueUrl": url, "AttributeNames": ["All"]}),
    );
    assert!(v["Attributes"].get("RedrivePolicy").is_none(), "{v}");
    create_queue(&s, "dlq", json!({}));
    s.ok(
        "AmazonSQS.SetQueueAttributes",
        json!({"QueueUrl": url, "Attributes": {"RedrivePolicy": policy(&arn("dlq"))}}),
    );
}
