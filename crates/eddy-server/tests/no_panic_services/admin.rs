//! eddy's own endpoints on the AWS listener: `/_eddy/apply`, `/_eddy/redrive`, `/_eddy/tail`
//! (its head only: the stream never ends), `/_eddy/clock`, `/_eddy/reset`, `/moto-api/reset`,
//! `/_eddy/health` and `/metrics`, with every method, random query strings and bodies.

use axum::http::{Method, StatusCode};
use proptest::prelude::*;

use super::{Call, Fixture, Sender, Shape, Vocab, body, check_reply, seeded, sender};

/// Paths that need no credentials (probes, scrapers, moto-style test suites).
const OPEN: &[&str] = &[
    "/_eddy/health",
    "/metrics",
    "/_eddy/reset",
    "/moto-api/reset",
    "/_eddy/clock",
];

const ENDPOINTS: &[(&str, &str)] = &[
    ("POST", "/_eddy/apply"),
    ("POST", "/_eddy/apply"),
    ("POST", "/_eddy/apply"),
    ("POST", "/_eddy/redrive"),
    ("POST", "/_eddy/redrive"),
    ("GET", "/_eddy/tail"),
    ("GET", "/_eddy/clock"),
    ("POST", "/_eddy/clock"),
    ("POST", "/_eddy/clock"),
    ("GET", "/_eddy/health"),
    ("GET", "/metrics"),
    ("GET", "/_eddy/unknown"),
    ("GET", "/_eddy"),
];

const RESETS: &[(&str, &str)] = &[("POST", "/_eddy/reset"), ("POST", "/moto-api/reset")];

const METHODS: &[&str] = &["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"];

const QUERIES: &[&str] = &[
    "bus=default",
    "bus=orders",
    "bus=missing",
    "bus=",
    "bus=default&region=us-east-1",
    "bus=default&region=eu-west-1",
    "region=%zz",
    "bus=%FF%FE",
    "bus=a&bus=b",
    "&&=",
    "%",
];

const VOCAB: Vocab = Vocab {
    keys: &[
        // /_eddy/apply
        "Region",
        "Resources",
        "DryRun",
        "queues",
        "buses",
        "api_destinations",
        "functions",
        "rules",
        "schedules",
        "apis",
        "QueueName",
        "Attributes",
        "FifoQueue",
        "VisibilityTimeout",
        "RedrivePolicy",
        "Name",
        "Description",
        "InvocationEndpoint",
        "HttpMethod",
        "InvocationRateLimitPerSecond",
        "FunctionName",
        "Runtime",
        "Handler",
        "Code",
        "ZipFile",
        "Directory",
        "Environment",
        "Variables",
        "Timeout",
        "MemorySize",
        "ReservedConcurrentExecutions",
        "EventInvokeConfig",
        "MaximumRetryAttempts",
        "EventBusName",
        "EventPattern",
        "ScheduleExpression",
        "State",
        "Targets",
        "Id",
        "Arn",
        "Input",
        "InputPath",
        "InputTransformer",
        "InputTemplate",
        "InputPathsMap",
        "GroupName",
        "ScheduleExpressionTimezone",
        "FlexibleTimeWindow",
        "Mode",
        "Target",
        "RoleArn",
        "MissedTicks",
        "BasePath",
        "Cors",
        "AllowOrigins",
        "Routes",
        "RouteKey",
        "Integration",
        "Function",
        "Bus",
        "Queue",
        "Source",
        "DetailType",
        "Authorizer",
        "Authorizers",
        "Jwt",
        "Issuer",
        "Audience",
        "JwksFile",
        "JwksUrl",
        "IdentitySource",
        "Throttle",
        "Rate",
        "Burst",
        // /_eddy/redrive
        "Queue",
        // /_eddy/clock
        "advance_seconds",
        "set",
    ],
    strings: &[
        "us-east-1",
        "eu-west-1",
        "",
        "bad region!",
        "q",
        "dlq",
        "src",
        "missing",
        "orders",
        "default",
        "default/r1",
        "orders/r1",
        "grp/s1",
        "s1",
        "fn",
        "api",
        "true",
        "30",
        "provided.al2023",
        "python3.12",
        "bootstrap",
        "@CODE_ROOT@",
        "@CODE_ROOT@/readme.txt",
        "@CODE_ROOT@/missing.zip",
        "/nonexistent.zip",
        "relative.zip",
        "{\"source\":[\"a\"]}",
        "{",
        "rate(1 minute)",
        "cron(0 12 * * ? *)",
        "at(2027-01-01T00:00:00)",
        "ENABLED",
        "DISABLED",
        "OFF",
        "latest",
        "skip",
        "all",
        "POST /orders/{id}",
        "ANY /{proxy+}",
        "$default",
        "GET /a/{}",
        "arn:aws:sqs:us-east-1:123456789012:q",
        "arn:aws:sqs:us-east-1:123456789012:dlq",
        "arn:aws:lambda:us-east-1:123456789012:function:fn",
        "arn:aws:events:us-east-1:123456789012:event-bus/orders",
        "arn:aws:iam::123456789012:role/r",
        "http://localhost:9/hook",
        "https://issuer.example",
        "POST",
        "$.detail",
        "<x>",
        "2027-01-01T00:00:00Z",
        "2027-01-01T00:00:00+25:00",
        "9999-12-31T23:59:59Z",
        "-009999-01-01T00:00:00Z",
        "2027-13-01T00:00:00Z",
        "now",
    ],
    seeds: &[
        (
            "/_eddy/apply",
            r#"{"Region":"us-east-1","DryRun":false,"Resources":{
                "queues":{"aq":{"QueueName":"aq","Attributes":{"VisibilityTimeout":"30","DelaySeconds":"0"}}},
                "buses":{"orders":{"Name":"orders","Description":"d"}},
                "rules":{"orders/r1":{"Name":"r1","EventBusName":"orders","State":"ENABLED",
                    "EventPattern":"{\"source\":[\"a\"]}",
                    "Targets":[{"Id":"t1","Arn":"arn:aws:sqs:us-east-1:123456789012:aq",
                        "InputTransformer":{"InputPathsMap":{"s":"$.source"},"InputTemplate":"<s>"}}]}}}}"#,
        ),
        (
            "/_eddy/apply",
            r#"{"Resources":{
                "functions":{"fn":{"FunctionName":"fn","Runtime":"provided.al2023","Handler":"bootstrap",
                    "Code":{"Directory":"@CODE_ROOT@"},"Environment":{"Variables":{"ab":"1"}},
                    "Timeout":3,"MemorySize":128,"ReservedConcurrentExecutions":1,
                    "EventInvokeConfig":{"MaximumRetryAttempts":0,"MaximumEventAgeInSeconds":60}}},
                "schedules":{"grp/s1":{"Name":"s1","GroupName":"grp","ScheduleExpression":"rate(1 minute)",
                    "ScheduleExpressionTimezone":"UTC","State":"ENABLED","FlexibleTimeWindow":{"Mode":"OFF"},
                    "MissedTicks":"skip","Target":{"Arn":"arn:aws:sqs:us-east-1:123456789012:q","Input":"{}"}}},
                "api_destinations":{"hook":{"Name":"hook","InvocationEndpoint":"http://localhost:9/hook",
                    "HttpMethod":"POST","InvocationRateLimitPerSecond":1}}}}"#,
        ),
        (
            "/_eddy/apply",
            r#"{"Resources":{"apis":{"api":{"Name":"api","BasePath":"/api",
                "Cors":{"AllowOrigins":["*"]},
                "Authorizers":{"jwt":{"IdentitySource":"$request.header.Authorization",
                    "Jwt":{"Issuer":"https://issuer.example","Audience":["a"],"JwksFile":"@CODE_ROOT@/readme.txt"}}},
                "Routes":[{"RouteKey":"POST /orders/{id}","Authorizer":"jwt",
                    "Integration":{"Bus":"arn:aws:events:us-east-1:123456789012:event-bus/default","Source":"s","DetailType":"t"}},
                    {"RouteKey":"GET /q","Integration":{"Queue":"arn:aws:sqs:us-east-1:123456789012:q"},
                     "Throttle":{"Rate":1,"Burst":1}}]}}}}"#,
        ),
        ("/_eddy/apply", r#"{"Resources":{},"DryRun":true}"#),
        ("/_eddy/redrive", r#"{"Queue":"dlq"}"#),
        ("/_eddy/redrive", r#"{"Queue":"src","Region":"us-east-1"}"#),
        ("/_eddy/clock", r#"{"advance_seconds":60}"#),
        ("/_eddy/clock", r#"{"set":"2027-01-01T00:00:00Z"}"#),
    ],
};

#[derive(Debug, Clone)]
struct AdminCase {
    method: Method,
    path: &'static str,
    query: Option<&'static str>,
    body: Vec<u8>,
    sender: Sender,
}

fn admin_case() -> impl Strategy<Value = AdminCase> {
    let target = prop_oneof![
        40 => (prop::sample::select(ENDPOINTS), body(&VOCAB)).prop_map(|((m, p), b)| (m, p, b)),
        30 => seeded(&VOCAB).prop_map(|(p, b)| ("POST", p, b)),
        1 => prop::sample::select(RESETS).prop_map(|(m, p)| (m, p, Vec::new())),
    ];
    (
        target,
        prop_oneof![10 => Just(None), 1 => prop::sample::select(METHODS).prop_map(Some)],
        prop::option::weighted(0.3, prop::sample::select(QUERIES)),
        sender(),
    )
        .prop_map(|((method, path, body), other, query, sender)| AdminCase {
            method: Method::from_bytes(other.unwrap_or(method).as_bytes()).unwrap_or(Method::GET),
            path,
            query,
            body,
            sender,
        })
}

impl AdminCase {
    fn call(&self) -> Call {
        let uri = match self.query {
            Some(q) => format!("{}?{q}", self.path),
            None => self.path.to_owned(),
        };
        let call = Call::new(self.method.clone(), uri)
            .header("content-type", "application/json")
            .body(self.body.clone());
        self.sender.prepare(call, "events")
    }
}

fn sqs(op: &str, body: &str) -> Call {
    Call::new(Method::POST, "/")
        .header("x-amz-target", format!("AmazonSQS.{op}"))
        .header("content-type", "application/x-amz-json-1.0")
        .body(body)
        .signed("sqs")
}

/// Operations that must succeed at least once in a run.
const REACHED: &[&str] = &[
    "POST /_eddy/apply",
    "POST /_eddy/clock",
    "GET /_eddy/tail",
    "GET /_eddy/health",
];

#[test]
fn no_request_panics_or_answers_5xx() {
    let fx = Fixture::new();
    fx.setup(sqs("CreateQueue", r#"{"QueueName":"q"}"#));
    fx.setup(sqs("CreateQueue", r#"{"QueueName":"dlq"}"#));
    fx.setup(sqs(
        "CreateQueue",
        r#"{"QueueName":"src","Attributes":{"RedrivePolicy":"{\"deadLetterTargetArn\":\"arn:aws:sqs:us-east-1:123456789012:dlq\",\"maxReceiveCount\":\"1\"}"}}"#,
    ));
    fx.setup(sqs(
        "SendMessage",
        r#"{"QueueUrl":"http://localhost/123456789012/dlq","MessageBody":"m"}"#,
    ));
    let cases = proptest::collection::vec(admin_case(), 1..6);
    fx.check(256, cases, |fx, cases: Vec<AdminCase>| {
        for case in cases {
            let call = case.call();
            let reply = fx.rt.block_on(fx.send(&call))?;
            if case.sender == Sender::Sdk {
                fx.record(&format!("{} {}", case.method, case.path), &reply);
            }
            check_reply(Shape::Eddy, &call, &reply)?;
            let open = OPEN.contains(&case.path);
            let refused = match case.sender {
                Sender::Unsigned => !open,
                other => other.refused(),
            };
            if refused && reply.status != StatusCode::FORBIDDEN {
                return Err(format!(
                    "a request from {:?} was not refused: {call:?} answered {}",
                    case.sender, reply.status
                ));
            }
        }
        Ok(())
    });
    fx.assert_reached(REACHED);
}
