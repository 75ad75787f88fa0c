//! API Gateway v2 (rest-json under `/v2`): the HTTP API operations eddy serves and a sample of
//! the others in botocore's `apigatewayv2/2018-11-29` model. Ids of what earlier requests
//! created (APIs, routes, integrations, authorizers, stages) are reused as path parameters and
//! in bodies (`integrations/ID`).

use super::{CAPTURED, Call, Fixture, RestCase, RestVocab, Vocab, rest_case, run_rest_case};

const VOCAB: RestVocab = RestVocab {
    service: "apigateway",
    routes: &[
        ("POST", "/v2/apis"),
        ("GET", "/v2/apis"),
        ("PUT", "/v2/apis"),
        ("DELETE", "/v2/apis/{apiId}"),
        ("GET", "/v2/apis/{apiId}"),
        ("PUT", "/v2/apis/{apiId}"),
        ("PATCH", "/v2/apis/{apiId}"),
        ("POST", "/v2/apis/{apiId}/authorizers"),
        ("GET", "/v2/apis/{apiId}/authorizers"),
        ("DELETE", "/v2/apis/{apiId}/authorizers/{authorizerId}"),
        ("GET", "/v2/apis/{apiId}/authorizers/{authorizerId}"),
        ("PATCH", "/v2/apis/{apiId}/authorizers/{authorizerId}"),
        ("DELETE", "/v2/apis/{apiId}/cors"),
        ("POST", "/v2/apis/{apiId}/deployments"),
        ("POST", "/v2/apis/{apiId}/integrations"),
        ("GET", "/v2/apis/{apiId}/integrations"),
        ("DELETE", "/v2/apis/{apiId}/integrations/{integrationId}"),
        ("GET", "/v2/apis/{apiId}/integrations/{integrationId}"),
        ("PATCH", "/v2/apis/{apiId}/integrations/{integrationId}"),
        ("POST", "/v2/apis/{apiId}/routes"),
        ("GET", "/v2/apis/{apiId}/routes"),
        ("DELETE", "/v2/apis/{apiId}/routes/{routeId}"),
        ("GET", "/v2/apis/{apiId}/routes/{routeId}"),
        ("PATCH", "/v2/apis/{apiId}/routes/{routeId}"),
        ("POST", "/v2/apis/{apiId}/routes/{routeId}/routeresponses"),
        ("POST", "/v2/apis/{apiId}/stages"),
        ("GET", "/v2/apis/{apiId}/stages"),
        ("DELETE", "/v2/apis/{apiId}/stages/{stageName}"),
        ("GET", "/v2/apis/{apiId}/stages/{stageName}"),
        ("PATCH", "/v2/apis/{apiId}/stages/{stageName}"),
        (
            "DELETE",
            "/v2/apis/{apiId}/stages/{stageName}/routesettings/{}",
        ),
        ("POST", "/v2/domainnames"),
        ("GET", "/v2/tags/{}"),
        ("POST", "/v2/tags/{}"),
        ("POST", "/v2/vpclinks"),
        ("GET", "/v2"),
    ],
    segments: &[
        CAPTURED,
        CAPTURED,
        CAPTURED,
        "$default",
        "prod",
        "missing",
        "fuzz",
        "apis",
        "arn:aws:apigateway:us-east-1::/apis/missing",
        "GET /orders/{id}",
    ],
    query_keys: &[
        "maxResults",
        "nextToken",
        "tagKeys",
        "basepath",
        "failOnWarnings",
    ],
    query_values: &["1", "0", "-1", "500", "x", "prepend", "true"],
    headers: &[(
        "content-type",
        &["application/json", "application/x-amz-json-1.1"],
    )],
    body: Vocab {
        keys: &[
            "accessLogSettings",
            "allowCredentials",
            "allowHeaders",
            "allowMethods",
            "allowOrigins",
            "apiKeyRequired",
            "apiKeySelectionExpression",
            "audience",
            "authorizationScopes",
            "authorizationType",
            "authorizerId",
            "authorizerPayloadFormatVersion",
            "authorizerResultTtlInSeconds",
            "authorizerType",
            "authorizerUri",
            "autoDeploy",
            "connectionType",
            "corsConfiguration",
            "credentialsArn",
            "defaultRouteSettings",
            "description",
            "disableExecuteApiEndpoint",
            "enableSimpleResponses",
            "exposeHeaders",
            "identitySource",
            "integrationMethod",
            "integrationSubtype",
            "integrationType",
            "integrationUri",
            "issuer",
            "jwtConfiguration",
            "maxAge",
            "name",
            "payloadFormatVersion",
            "protocolType",
            "requestParameters",
            "routeKey",
            "routeSelectionExpression",
            "routeSettings",
            "stageName",
            "stageVariables",
            "tags",
            "target",
            "throttlingBurstLimit",
            "throttlingRateLimit",
            "timeoutInMillis",
            "version",
            // eddy's extensions.
            "basePath",
            "apiKeys",
            "jwksFile",
            "jwksUri",
            // requestParameters of bus and queue integrations.
            "Source",
            "DetailType",
            "Detail",
            "EventBusName",
            "Resources",
            "Time",
            "QueueUrl",
            "MessageBody",
            "MessageGroupId",
            "DelaySeconds",
        ],
        strings: &[
            "HTTP",
            "WEBSOCKET",
            "JWT",
            "REQUEST",
            "CUSTOM",
            "AWS_IAM",
            "NONE",
            "AWS_PROXY",
            "HTTP_PROXY",
            "MOCK",
            "EventBridge-PutEvents",
            "SQS-SendMessage",
            "StepFunctions-StartExecution",
            "1.0",
            "2.0",
            "3.0",
            "$default",
            "GET /orders/{id}",
            "POST /orders/{id}",
            "ANY /{proxy+}",
            "GET /a/{b+}/c",
            "GET /a/{a}/{a}",
            "GET /{a}{b}",
            "GET /a/{}",
            "GET //",
            "GET a",
            "TRACE /x",
            "GET /ä/%zz",
            "GET",
            "integrations/@integrationId@",
            "@authorizerId@",
            "integrations/missing",
            "integrations/",
            "arn:aws:lambda:us-east-1:123456789012:function:f",
            "arn:aws:lambda:us-east-1:123456789012:function:f:$LATEST",
            "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:f/invocations",
            "arn:aws:lambda:eu-west-1:123456789012:function:f",
            "http://localhost:9/x",
            "$request.header.Authorization",
            "$request.header.",
            "$request.querystring.q",
            "$context.requestId",
            "$stageVariables.v",
            "$request.body",
            "$request.body.a.b",
            "$request.body.",
            "$request.body[0]",
            "$request.path.id",
            "$request.path",
            "${request.body}",
            "$",
            "http://localhost/123456789012/q",
            "https://issuer.example",
            "@CODE_ROOT@/readme.txt",
            "@CODE_ROOT@/missing.json",
            "/etc/shadow",
            "http://169.254.169.254/latest/meta-data/",
            "http://127.0.0.1:1/jwks.json",
            "/",
            "/base",
            "/_api",
            "/a//b",
            "/{x}",
            "*",
            "https://o.example",
            "prod",
        ],
        seeds: &[
            (
                "POST /v2/apis",
                r#"{"name":"a","protocolType":"HTTP","description":"d","version":"1",
                    "corsConfiguration":{"allowOrigins":["*"],"allowMethods":["GET"],
                        "allowHeaders":["x"],"exposeHeaders":["y"],"maxAge":10,"allowCredentials":false},
                    "tags":{"k":"v"},"basePath":"/base","apiKeys":["k"],
                    "disableExecuteApiEndpoint":false}"#,
            ),
            (
                "POST /v2/apis",
                r#"{"name":"quick","protocolType":"HTTP","routeKey":"GET /q/{id}",
                    "target":"arn:aws:lambda:us-east-1:123456789012:function:f"}"#,
            ),
            (
                "PATCH /v2/apis/{apiId}",
                r#"{"name":"b","basePath":"/b2","apiKeys":[],
                    "corsConfiguration":{"allowOrigins":["https://o.example"],"maxAge":-1}}"#,
            ),
            (
                "POST /v2/apis/{apiId}/integrations",
                r#"{"integrationType":"AWS_PROXY","payloadFormatVersion":"2.0","timeoutInMillis":30000,
                    "integrationUri":"arn:aws:lambda:us-east-1:123456789012:function:f"}"#,
            ),
            (
                "POST /v2/apis/{apiId}/integrations",
                r#"{"integrationType":"AWS_PROXY","integrationSubtype":"EventBridge-PutEvents",
                    "requestParameters":{"Source":"$request.header.x-source","DetailType":"t",
                        "Detail":"$request.body","EventBusName":"default"}}"#,
            ),
            (
                "POST /v2/apis/{apiId}/integrations",
                r#"{"integrationType":"AWS_PROXY","integrationSubtype":"SQS-SendMessage",
                    "requestParameters":{"QueueUrl":"http://localhost/123456789012/q",
                        "MessageBody":"$request.body"}}"#,
            ),
            (
                "POST /v2/apis/{apiId}/routes",
                r#"{"routeKey":"POST /orders/{id}","target":"integrations/@integrationId@",
                    "authorizationType":"NONE","apiKeyRequired":true}"#,
            ),
            (
                "POST /v2/apis/{apiId}/routes",
                r#"{"routeKey":"GET /secure","authorizationType":"JWT","authorizerId":"@authorizerId@",
                    "authorizationScopes":["admin"],"target":"integrations/@integrationId@"}"#,
            ),
            (
                "PATCH /v2/apis/{apiId}/routes/{routeId}",
                r#"{"routeKey":"ANY /{proxy+}","authorizationType":"CUSTOM","authorizerId":"@authorizerId@"}"#,
            ),
            (
                "POST /v2/apis/{apiId}/authorizers",
                r#"{"name":"jwt","authorizerType":"JWT",
                    "identitySource":["$request.header.Authorization"],
                    "jwtConfiguration":{"issuer":"https://issuer.example","audience":["a"],
                        "jwksFile":"@CODE_ROOT@/readme.txt"}}"#,
            ),
            (
                "POST /v2/apis/{apiId}/authorizers",
                r#"{"name":"jwt2","authorizerType":"JWT",
                    "jwtConfiguration":{"issuer":"https://issuer.example","audience":[],
                        "jwksUri":"http://169.254.169.254/latest/meta-data/"}}"#,
            ),
            (
                "POST /v2/apis/{apiId}/authorizers",
                r#"{"name":"req","authorizerType":"REQUEST",
                    "authorizerUri":"arn:aws:lambda:us-east-1:123456789012:function:f",
                    "identitySource":["$request.header.x-key"],"authorizerResultTtlInSeconds":300,
                    "enableSimpleResponses":true,"authorizerPayloadFormatVersion":"2.0"}"#,
            ),
            (
                "POST /v2/apis/{apiId}/stages",
                r#"{"stageName":"prod","autoDeploy":true,"description":"d","stageVariables":{"v":"1"},
                    "defaultRouteSettings":{"throttlingBurstLimit":10,"throttlingRateLimit":5.5},
                    "routeSettings":{"GET /x":{"throttlingBurstLimit":1}}}"#,
            ),
        ],
    },
};

/// Ids in answers that later requests may name.
const IDS: &[&str] = &[
    "apiId",
    "routeId",
    "integrationId",
    "authorizerId",
    "stageName",
];

/// Operations that must succeed at least once in a run.
const REACHED: &[&str] = &[
    "GET /v2/apis",
    "POST /v2/apis",
    "POST /v2/apis/{apiId}/integrations",
];

#[test]
fn no_request_panics_or_answers_5xx() {
    use axum::http::Method;
    let fx = Fixture::new();
    let call = |method: Method, path: &str, body: &str| {
        Call::new(method, path)
            .header("content-type", "application/json")
            .body(body)
            .signed("apigateway")
    };
    let api = fx.setup(call(
        Method::POST,
        "/v2/apis",
        r#"{"name":"fuzz","protocolType":"HTTP"}"#,
    ));
    fx.capture(&api, IDS);
    let id = api.json().expect("CreateApi answer")["apiId"]
        .as_str()
        .expect("apiId")
        .to_owned();
    let integration = fx.setup(call(
        Method::POST,
        &format!("/v2/apis/{id}/integrations"),
        r#"{"integrationType":"AWS_PROXY","integrationSubtype":"EventBridge-PutEvents",
            "requestParameters":{"Source":"s","DetailType":"t","Detail":"$request.body"}}"#,
    ));
    fx.capture(&integration, IDS);
    let integration = integration.json().expect("CreateIntegration answer")["integrationId"]
        .as_str()
        .expect("integrationId")
        .to_owned();
    for (path, body) in [
        (
            "routes",
            format!(r#"{{"routeKey":"POST /orders/{{id}}","target":"integrations/{integration}"}}"#),
        ),
        (
            "authorizers",
            r#"{"name":"a","authorizerType":"JWT","jwtConfiguration":{"issuer":"https://i","audience":["x"]}}"#
                .to_owned(),
        ),
        ("stages", r#"{"stageName":"$default"}"#.to_owned()),
    ] {
        let reply = fx.setup(call(Method::POST, &format!("/v2/apis/{id}/{path}"), &body));
        fx.capture(&reply, IDS);
    }
    let cases = proptest::collection::vec(rest_case(&VOCAB), 1..6);
    fx.check(256, cases, |fx, cases: Vec<RestCase>| {
        for case in cases {
            let reply = run_rest_case(fx, &case)?;
            fx.capture(&reply, IDS);
        }
        Ok(())
    });
    fx.assert_reached(REACHED);
}
