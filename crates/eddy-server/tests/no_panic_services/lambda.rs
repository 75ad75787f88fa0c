//! Lambda (rest-json): the operations eddy serves and a sample of the others in botocore's
//! `lambda/2015-03-31` model, with their path parameters, query strings and headers, while the
//! delivery engine runs asynchronous invocations (none can start a process).

use super::{
    CODE_ROOT, Call, Fixture, RestCase, RestVocab, Vocab, ZIP_ESCAPING, ZIP_NOTHING_RUNNABLE,
    rest_case, run_rest_case,
};

const VOCAB: RestVocab = RestVocab {
    service: "lambda",
    routes: &[
        ("POST", "/2015-03-31/functions"),
        ("GET", "/2015-03-31/functions"),
        ("GET", "/2015-03-31/functions/"),
        ("DELETE", "/2015-03-31/functions/{FunctionName}"),
        ("GET", "/2015-03-31/functions/{FunctionName}"),
        ("PUT", "/2015-03-31/functions/{FunctionName}/code"),
        ("GET", "/2015-03-31/functions/{FunctionName}/configuration"),
        ("PUT", "/2015-03-31/functions/{FunctionName}/configuration"),
        ("POST", "/2015-03-31/functions/{FunctionName}/invocations"),
        ("POST", "/2015-03-31/functions/{FunctionName}/invocations"),
        ("POST", "/2015-03-31/functions/{FunctionName}/invocations"),
        ("DELETE", "/2017-10-31/functions/{FunctionName}/concurrency"),
        ("PUT", "/2017-10-31/functions/{FunctionName}/concurrency"),
        ("GET", "/2019-09-30/functions/{FunctionName}/concurrency"),
        (
            "DELETE",
            "/2019-09-25/functions/{FunctionName}/event-invoke-config",
        ),
        (
            "GET",
            "/2019-09-25/functions/{FunctionName}/event-invoke-config",
        ),
        (
            "PUT",
            "/2019-09-25/functions/{FunctionName}/event-invoke-config",
        ),
        (
            "POST",
            "/2019-09-25/functions/{FunctionName}/event-invoke-config",
        ),
        (
            "GET",
            "/2019-09-25/functions/{FunctionName}/event-invoke-config/list",
        ),
        ("GET", "/2017-03-31/tags/{FunctionArn}"),
        ("POST", "/2017-03-31/tags/{FunctionArn}"),
        ("DELETE", "/2017-03-31/tags/{FunctionArn}"),
        ("GET", "/2016-08-19/account-settings"),
        ("GET", "/2015-03-31/functions/{FunctionName}/versions"),
        ("GET", "/2015-03-31/functions/{FunctionName}/aliases"),
        ("PUT", "/2015-03-31/functions/{FunctionName}/aliases/{}"),
        ("DELETE", "/2015-03-31/functions/{FunctionName}/aliases/{}"),
        ("GET", "/2015-03-31/functions/{FunctionName}/policy"),
        ("POST", "/2021-10-31/functions/{FunctionName}/url"),
        ("GET", "/2021-10-31/functions/{FunctionName}/url"),
        ("PUT", "/2021-10-31/functions/{FunctionName}/url"),
        ("DELETE", "/2021-10-31/functions/{FunctionName}/url"),
        ("GET", "/2021-10-31/functions/{FunctionName}/urls"),
        // Operations eddy does not serve.
        ("POST", "/2014-11-13/functions/{FunctionName}/invoke-async"),
        ("POST", "/2015-03-31/event-source-mappings"),
        ("GET", "/2015-03-31/event-source-mappings/{}"),
        ("POST", "/2015-03-31/functions/{FunctionName}/aliases"),
        ("GET", "/2015-03-31/functions/{FunctionName}/aliases/{}"),
        ("POST", "/2015-03-31/functions/{FunctionName}/policy"),
        ("DELETE", "/2015-03-31/functions/{FunctionName}/policy/{}"),
        ("POST", "/2015-03-31/functions/{FunctionName}/versions"),
        ("GET", "/2018-10-31/layers/{}/versions/{}"),
        (
            "PUT",
            "/2019-09-30/functions/{FunctionName}/provisioned-concurrency",
        ),
        ("POST", "/2021-10-31/functions/{FunctionName}/url"),
        (
            "POST",
            "/2021-11-15/functions/{FunctionName}/response-streaming-invocations",
        ),
        (
            "PUT",
            "/2024-08-31/functions/{FunctionName}/recursion-config",
        ),
        ("GET", "/2025-12-01/durable-executions/{}"),
        ("GET", "/{}"),
    ],
    segments: &[
        "f",
        "py",
        "new-fn",
        "missing",
        "f:$LATEST",
        "f:1",
        "f:",
        ":f",
        "function:f",
        "123456789012:function:f",
        "123456789012:function:f:$LATEST",
        "12345:function:f",
        "arn:aws:lambda:us-east-1:123456789012:function:f",
        "arn:aws:lambda:us-east-1:123456789012:function:f:$LATEST",
        "arn:aws:lambda:us-east-1:123456789012:function:py:prod",
        "arn:aws:lambda:eu-west-1:123456789012:function:f",
        "arn:aws:lambda:us-east-1:123456789012:function:",
        "arn:aws:lambda:",
        "arn:aws:lambda:us-east-1",
        "bad name",
        "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff1",
        "list",
        "functions",
        "2015-03-31",
    ],
    query_keys: &[
        "Qualifier",
        "MaxItems",
        "Marker",
        "FunctionVersion",
        "MasterRegion",
        "tagKeys",
        "List",
        "find",
    ],
    query_values: &[
        "$LATEST",
        "1",
        "0",
        "-1",
        "10000",
        "10001",
        "99999999999999999999",
        "f",
        "py",
        "ALL",
        "ALL_VERSIONS",
        "us-east-1",
        "k",
        "LayerVersion",
    ],
    headers: &[
        (
            "x-amz-invocation-type",
            &["RequestResponse", "Event", "DryRun", "Bogus", ""],
        ),
        ("x-amz-log-type", &["None", "Tail", "tail", ""]),
        (
            "x-amz-client-context",
            &[
                "eyJjdXN0b20iOnt9fQ==",
                "W10=",
                "bm90IGpzb24=",
                "not base64",
                "",
                "/w==",
            ],
        ),
        ("x-amz-tenant-id", &["t1", ""]),
        ("x-amz-durable-execution-name", &["d1"]),
        (
            "content-type",
            &[
                "application/json",
                "application/x-amz-json-1.1",
                "text/plain",
            ],
        ),
    ],
    body: Vocab {
        keys: &[
            "Architectures",
            "Arn",
            "CapacityProviderArn",
            "CapacityProviderConfig",
            "Code",
            "CodeSigningConfigArn",
            "DeadLetterConfig",
            "Description",
            "Destination",
            "DestinationConfig",
            "DryRun",
            "Environment",
            "EphemeralStorage",
            "ExecutionEnvironmentMemoryGiBPerVCpu",
            "FunctionName",
            "Handler",
            "ImageConfig",
            "ImageUri",
            "KMSKeyArn",
            "LambdaManagedInstancesCapacityProviderConfig",
            "Layers",
            "LoggingConfig",
            "MaximumEventAgeInSeconds",
            "MaximumRetryAttempts",
            "MemorySize",
            "Mode",
            "OnFailure",
            "OnSuccess",
            "PackageType",
            "PerExecutionEnvironmentMaxConcurrency",
            "Publish",
            "ReservedConcurrentExecutions",
            "RevisionId",
            "Role",
            "Runtime",
            "S3Bucket",
            "S3Key",
            "S3ObjectVersion",
            "Size",
            "SnapStart",
            "Tags",
            "TargetArn",
            "Timeout",
            "TracingConfig",
            "Variables",
            "VpcConfig",
            "ZipFile",
            // Environment variable names.
            "AWS_REGION",
            "_HANDLER",
            "LAMBDA_TASK_ROOT",
            "A",
            "ab",
            "a-b",
            "PATH",
            "LD_PRELOAD",
        ],
        strings: &[
            "f",
            "f:live",
            "f:1",
            "live",
            "py",
            "new-fn",
            "provided.al2023",
            "provided.al2",
            "provided",
            "python3.12",
            "python3.9",
            "nodejs20.x",
            "java21",
            "bootstrap",
            "app.handler",
            "handler with space",
            "arn:aws:iam::123456789012:role/lambda-role",
            "arn:aws:iam::1234:role/x",
            "arn:aws:iam::123456789012:role",
            "role",
            ZIP_NOTHING_RUNNABLE,
            ZIP_ESCAPING,
            "UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA==",
            "aGVsbG8=",
            "not base64!",
            "hot-reload",
            CODE_ROOT,
            "@CODE_ROOT@/readme.txt",
            "@CODE_ROOT@/../..",
            "@CODE_ROOT@/missing",
            "/tmp",
            "/etc",
            "relative/dir",
            "my-bucket",
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/repo:latest",
            "Zip",
            "Image",
            "x86_64",
            "arm64",
            "sparc",
            "Active",
            "PassThrough",
            "arn:aws:sqs:us-east-1:123456789012:dlq",
            "arn:aws:sns:us-east-1:123456789012:t",
            "arn:aws:lambda:us-east-1:123456789012:function:py",
            "arn:aws:events:us-east-1:123456789012:event-bus/default",
            "arn:aws:lambda:us-east-1:123456789012:capacity-provider:fleet-1",
            "arn:aws:lambda:useast1:123456789012:capacity-provider:x",
            "$LATEST",
        ],
        seeds: &[
            (
                "POST /2015-03-31/functions",
                r#"{"FunctionName":"new-fn","Runtime":"provided.al2023","Handler":"bootstrap",
                    "Role":"arn:aws:iam::123456789012:role/r","Timeout":3,"MemorySize":128,
                    "Description":"d","Environment":{"Variables":{"ab":"1"}},
                    "Architectures":["x86_64"],"EphemeralStorage":{"Size":512},
                    "Tags":{"k":"v"},"PackageType":"Zip",
                    "Code":{"S3Bucket":"hot-reload","S3Key":"@CODE_ROOT@"}}"#,
            ),
            (
                "POST /2015-03-31/functions",
                r#"{"FunctionName":"new-py","Runtime":"python3.12","Handler":"app.handler",
                    "Role":"arn:aws:iam::123456789012:role/r",
                    "CapacityProviderConfig":{"LambdaManagedInstancesCapacityProviderConfig":{
                        "CapacityProviderArn":"arn:aws:lambda:us-east-1:123456789012:capacity-provider:fleet-1",
                        "PerExecutionEnvironmentMaxConcurrency":10,
                        "ExecutionEnvironmentMemoryGiBPerVCpu":2.0}},
                    "Code":{"ZipFile":"UEsDBBQAAAAAAO+4hF17feteEQAAABEAAAAKAAAAcmVhZG1lLnR4dG5vdGhpbmcgcnVubmFibGUKUEsBAhQDFAAAAAAA77iEXXt9614RAAAAEQAAAAoAAAAAAAAAAAAAAIABAAAAAHJlYWRtZS50eHRQSwUGAAAAAAEAAQA4AAAAOQAAAAAA"}}"#,
            ),
            (
                "PUT /2015-03-31/functions/{FunctionName}/configuration",
                r#"{"Runtime":"python3.12","Handler":"app.handler","Timeout":900,"MemorySize":10240,
                    "Environment":{"Variables":{"ab":"1","LD_PRELOAD":"x"}},"RevisionId":"@RevisionId@",
                    "EphemeralStorage":{"Size":10240}}"#,
            ),
            (
                "PUT /2015-03-31/functions/{FunctionName}/code",
                r#"{"ZipFile":"UEsDBBQAAAAAAO+4hF17feteEQAAABEAAAAKAAAAcmVhZG1lLnR4dG5vdGhpbmcgcnVubmFibGUKUEsBAhQDFAAAAAAA77iEXXt9614RAAAAEQAAAAoAAAAAAAAAAAAAAIABAAAAAHJlYWRtZS50eHRQSwUGAAAAAAEAAQA4AAAAOQAAAAAA",
                    "Publish":false,"DryRun":false,"Architectures":["arm64"],"RevisionId":"@RevisionId@"}"#,
            ),
            (
                "PUT /2015-03-31/functions/{FunctionName}/code",
                r#"{"S3Bucket":"hot-reload","S3Key":"@CODE_ROOT@"}"#,
            ),
            (
                "POST /2015-03-31/functions/{FunctionName}/invocations",
                r#"{"key":"value","n":[1,2,{"deep":null}]}"#,
            ),
            (
                "PUT /2017-10-31/functions/{FunctionName}/concurrency",
                r#"{"ReservedConcurrentExecutions":1}"#,
            ),
            (
                "PUT /2019-09-25/functions/{FunctionName}/event-invoke-config",
                r#"{"MaximumRetryAttempts":2,"MaximumEventAgeInSeconds":60,
                    "DestinationConfig":{"OnSuccess":{"Destination":"arn:aws:sqs:us-east-1:123456789012:dlq"},
                    "OnFailure":{"Destination":"arn:aws:lambda:us-east-1:123456789012:function:py"}}}"#,
            ),
            (
                "POST /2017-03-31/tags/{FunctionArn}",
                r#"{"Tags":{"k":"v","":"x"}}"#,
            ),
        ],
    },
};

/// Operations that must succeed at least once in a run.
const REACHED: &[&str] = &[
    "GET /2015-03-31/functions",
    "POST /2015-03-31/functions/{FunctionName}/invocations",
    "PUT /2019-09-25/functions/{FunctionName}/event-invoke-config",
    "POST /2017-03-31/tags/{FunctionArn}",
];

/// Answer members later requests name.
const CAPTURES: &[&str] = &["FunctionName", "FunctionArn", "RevisionId"];

#[test]
fn no_request_panics_or_answers_5xx() {
    // 2027-01-01T00:00:00Z, moved forward between cases so that retries of asynchronous
    // invocations fall due.
    let fx = Fixture::with_clock(eddy_server::clock::Clock::manual(1_798_761_600_000));
    let background = fx.start_background();
    let created = fx.setup(
        Call::new(axum::http::Method::POST, "/2015-03-31/functions")
            .header("content-type", "application/json")
            .body(format!(
                r#"{{"FunctionName":"f","Runtime":"provided.al2023","Handler":"bootstrap",
                    "Role":"arn:aws:iam::123456789012:role/r",
                    "Code":{{"S3Bucket":"hot-reload","S3Key":"{CODE_ROOT}"}}}}"#
            ))
            .signed("lambda"),
    );
    fx.capture(&created, CAPTURES);
    let created = fx.setup(
        Call::new(axum::http::Method::POST, "/2015-03-31/functions")
            .header("content-type", "application/json")
            .body(format!(
                r#"{{"FunctionName":"py","Runtime":"python3.12","Handler":"app.handler",
                    "Role":"arn:aws:iam::123456789012:role/r",
                    "Code":{{"ZipFile":"{ZIP_NOTHING_RUNNABLE}"}}}}"#
            ))
            .signed("lambda"),
    );
    fx.capture(&created, CAPTURES);
    let cases = (
        proptest::collection::vec(rest_case(&VOCAB), 1..6),
        0..600i64,
    );
    fx.check(256, cases, |fx, (cases, seconds): (Vec<RestCase>, i64)| {
        for case in cases {
            let reply = run_rest_case(fx, &case)?;
            fx.capture(&reply, CAPTURES);
        }
        fx.advance(seconds * 1000)
    });
    fx.assert_reached(REACHED);
    fx.stop_background(background);
    // Nothing was runnable, so nothing ran: eddy has no child process left.
    let children = child_processes();
    assert!(children.is_empty(), "processes left behind: {children:?}");
}

/// The process ids of this process's children (Linux).
fn child_processes() -> Vec<String> {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("children")).ok())
        .flat_map(|c| c.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
        .collect()
}
