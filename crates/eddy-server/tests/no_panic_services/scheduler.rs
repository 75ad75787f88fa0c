//! EventBridge Scheduler (rest-json): every operation of botocore's `scheduler/2021-06-30`
//! model, with schedule expressions, time zones and dates at their edges, while the scheduler
//! and the delivery engine run (they must survive whatever the API accepted).

use super::{Call, Fixture, RestCase, RestVocab, Vocab, rest_case, run_rest_case};

const VOCAB: RestVocab = RestVocab {
    service: "scheduler",
    routes: &[
        ("GET", "/schedule-groups"),
        ("POST", "/schedule-groups/{}"),
        ("DELETE", "/schedule-groups/{}"),
        ("GET", "/schedule-groups/{}"),
        ("GET", "/schedules"),
        ("POST", "/schedules/{}"),
        ("POST", "/schedules/{Name}"),
        ("PUT", "/schedules/{}"),
        ("PUT", "/schedules/{Name}"),
        ("DELETE", "/schedules/{Name}"),
        ("GET", "/schedules/{Name}"),
        ("GET", "/tags/{ScheduleGroupArn}"),
        ("POST", "/tags/{ScheduleGroupArn}"),
        ("DELETE", "/tags/{ScheduleGroupArn}"),
        ("GET", "/schedules/{}/{}"),
    ],
    segments: &[
        "s1",
        "s2",
        "grp",
        "default",
        "missing",
        "a.b-c_d",
        "bad name",
        "schedule",
        "arn:aws:scheduler:us-east-1:123456789012:schedule-group/grp",
        "arn:aws:scheduler:us-east-1:123456789012:schedule-group/default",
        "arn:aws:scheduler:us-east-1:123456789012:schedule-group/missing",
        "arn:aws:scheduler:us-east-1:123456789012:schedule-group/",
        "arn:aws:scheduler:us-east-1:123456789012:schedule/default/s1",
        "arn:aws:scheduler:eu-west-1:123456789012:schedule-group/grp",
        "arn:aws:events:us-east-1:123456789012:rule/r",
    ],
    query_keys: &[
        "groupName",
        "clientToken",
        "NamePrefix",
        "NextToken",
        "MaxResults",
        "ScheduleGroup",
        "State",
        "TagKeys",
    ],
    query_values: &[
        "default",
        "grp",
        "missing",
        "s",
        "ENABLED",
        "DISABLED",
        "0",
        "1",
        "100",
        "101",
        "-5",
        "x",
        "default/s1",
        "grp/",
        "/",
        "eddy:missed-ticks",
        "k",
    ],
    headers: &[(
        "content-type",
        &["application/json", "application/x-amz-json-1.1"],
    )],
    body: Vocab {
        keys: &[
            "ActionAfterCompletion",
            "Arn",
            "ClientToken",
            "DeadLetterConfig",
            "Description",
            "DetailType",
            "EcsParameters",
            "EndDate",
            "EventBridgeParameters",
            "FlexibleTimeWindow",
            "GroupName",
            "Input",
            "KinesisParameters",
            "KmsKeyArn",
            "MaximumEventAgeInSeconds",
            "MaximumRetryAttempts",
            "MaximumWindowInMinutes",
            "MessageGroupId",
            "Mode",
            "Name",
            "RetryPolicy",
            "RoleArn",
            "SageMakerPipelineParameters",
            "ScheduleExpression",
            "ScheduleExpressionTimezone",
            "SqsParameters",
            "Source",
            "StartDate",
            "State",
            "Tags",
            "Target",
            "Key",
            "Value",
        ],
        strings: &[
            "rate(1 minute)",
            "rate(5 minutes)",
            "rate(1 minutes)",
            "rate(0 minutes)",
            "rate(-1 hours)",
            "rate(99999999999999999999 days)",
            "rate(9223372036854775807 days)",
            "rate(1 fortnight)",
            "cron(0 12 * * ? *)",
            "cron(* * * * * *)",
            "cron(0/0 * * * ? *)",
            "cron(0 0 31 2 ? *)",
            "cron(0 0 30 2 ? 2027-2030)",
            "cron(0 0 L * ? *)",
            "cron(0 0 LW * ? *)",
            "cron(0 0 ? * 6#5 *)",
            "cron(0 0 ? * 1#6 *)",
            "cron(0 0 31W * ? *)",
            "cron(0 0 1 1 ? 1970)",
            "cron(0 0 1 1 ? 2199)",
            "cron(59 23 29 2 ? *)",
            "cron(0 0 ? * MON-FRI *)",
            "cron(0 0 ? * SUN-SAT/7 *)",
            "cron(0-59/61 * * * ? *)",
            "cron(0 0 1-31/0 * ? *)",
            "cron()",
            "at(2027-01-01T00:00:00)",
            "at(1970-01-01T00:00:00)",
            "at(9999-12-31T23:59:59)",
            "at(2027-02-30T00:00:00)",
            "at(2027-01-01)",
            "UTC",
            "America/New_York",
            "Europe/London",
            "Asia/Kathmandu",
            "Not/AZone",
            "+05:00",
            "OFF",
            "FLEXIBLE",
            "ENABLED",
            "DISABLED",
            "NONE",
            "DELETE",
            "default",
            "grp",
            "s1",
            "arn:aws:sqs:us-east-1:123456789012:q",
            "arn:aws:sqs:us-east-1:123456789012:q.fifo",
            "arn:aws:events:us-east-1:123456789012:event-bus/default",
            "arn:aws:lambda:us-east-1:123456789012:function:f",
            "arn:aws:scheduler:::aws-sdk:sqs:sendMessage",
            "arn:aws:iam::123456789012:role/r",
            "arn:aws:iam::123456789012:user/u",
            "{\"a\":1}",
            "aws.scheduler",
            "my.app",
            "eddy:missed-ticks",
            "latest",
            "skip",
            "all",
            "sometimes",
            "alias/k",
        ],
        seeds: &[
            (
                "POST /schedules/{}",
                r#"{"ScheduleExpression":"rate(5 minutes)","FlexibleTimeWindow":{"Mode":"OFF"},
                    "GroupName":"grp","State":"ENABLED","Description":"d",
                    "StartDate":1798761600,"EndDate":1830297600,
                    "ScheduleExpressionTimezone":"Europe/London","ActionAfterCompletion":"NONE",
                    "Target":{"Arn":"arn:aws:sqs:us-east-1:123456789012:q",
                        "RoleArn":"arn:aws:iam::123456789012:role/r","Input":"{}",
                        "RetryPolicy":{"MaximumRetryAttempts":0,"MaximumEventAgeInSeconds":60},
                        "DeadLetterConfig":{"Arn":"arn:aws:sqs:us-east-1:123456789012:dlq"},
                        "SqsParameters":{"MessageGroupId":"g"}}}"#,
            ),
            (
                "PUT /schedules/{Name}",
                r#"{"ScheduleExpression":"at(2027-01-01T00:00:00)",
                    "FlexibleTimeWindow":{"Mode":"FLEXIBLE","MaximumWindowInMinutes":1440},
                    "ActionAfterCompletion":"DELETE",
                    "Target":{"Arn":"arn:aws:events:us-east-1:123456789012:event-bus/default",
                        "RoleArn":"arn:aws:iam::123456789012:role/r",
                        "EventBridgeParameters":{"DetailType":"t","Source":"my.app"}}}"#,
            ),
            (
                "POST /schedules/{}",
                r#"{"ScheduleExpression":"cron(0 0 L * ? *)","FlexibleTimeWindow":{"Mode":"OFF"},
                    "ScheduleExpressionTimezone":"America/New_York",
                    "Target":{"Arn":"arn:aws:lambda:us-east-1:123456789012:function:f",
                        "RoleArn":"arn:aws:iam::123456789012:role/r"}}"#,
            ),
            (
                "POST /schedule-groups/{}",
                r#"{"Tags":[{"Key":"eddy:missed-ticks","Value":"all"},{"Key":"k","Value":"v"}]}"#,
            ),
            (
                "POST /tags/{ScheduleGroupArn}",
                r#"{"Tags":[{"Key":"eddy:missed-ticks","Value":"skip"}]}"#,
            ),
        ],
    },
};

fn call(method: axum::http::Method, path: &str, body: &str) -> Call {
    Call::new(method, path)
        .header("content-type", "application/json")
        .body(body)
        .signed("scheduler")
}

/// Operations that must succeed at least once in a run.
const REACHED: &[&str] = &[
    "GET /schedules",
    "POST /schedules/{}",
    "POST /schedule-groups/{}",
    "GET /tags/{ScheduleGroupArn}",
];

/// Answer members later requests name.
const CAPTURES: &[&str] = &["Name", "GroupName", "ScheduleGroupArn", "Arn"];

#[test]
fn no_request_panics_or_answers_5xx() {
    use axum::http::Method;
    // 2027-01-01T00:00:00Z, moved forward between cases so that schedules fire.
    let fx = Fixture::with_clock(eddy_server::clock::Clock::manual(1_798_761_600_000));
    let background = fx.start_background();
    let group = fx.setup(call(Method::POST, "/schedule-groups/grp", "{}"));
    fx.capture(&group, CAPTURES);
    fx.setup(call(
        Method::POST,
        "/schedules/s1",
        r#"{"ScheduleExpression":"rate(1 minute)","FlexibleTimeWindow":{"Mode":"OFF"},
            "Target":{"Arn":"arn:aws:sqs:us-east-1:123456789012:q",
                      "RoleArn":"arn:aws:iam::123456789012:role/r","Input":"{}"}}"#,
    ));
    fx.setup(call(
        Method::POST,
        "/schedules/s2",
        r#"{"GroupName":"grp","ScheduleExpression":"cron(0 12 * * ? *)",
            "ScheduleExpressionTimezone":"Asia/Kathmandu",
            "FlexibleTimeWindow":{"Mode":"FLEXIBLE","MaximumWindowInMinutes":5},
            "Target":{"Arn":"arn:aws:events:us-east-1:123456789012:event-bus/default",
                      "RoleArn":"arn:aws:iam::123456789012:role/r",
                      "EventBridgeParameters":{"DetailType":"t","Source":"my.app"}}}"#,
    ));
    let cases = (proptest::collection::vec(rest_case(&VOCAB), 1..6), 0..30i64);
    fx.check(256, cases, |fx, (cases, minutes): (Vec<RestCase>, i64)| {
        for case in cases {
            let reply = run_rest_case(fx, &case)?;
            fx.capture(&reply, CAPTURES);
        }
        // What `POST /_eddy/clock` does: every tick due by the new time fires.
        fx.rt.block_on(async {
            fx.app.scheduler.sync().await;
            fx.app
                .clock
                .advance(minutes * 60_000)
                .map_err(|e| e.to_string())?;
            fx.app.scheduler.sync().await;
            Ok::<_, String>(())
        })
    });
    let fired = fx
        .rt
        .block_on(fx.app.store_counts())
        .expect("store counts")
        .events;
    assert!(fired > 0, "no schedule fired");
    fx.assert_reached(REACHED);
    fx.stop_background(background);
}
