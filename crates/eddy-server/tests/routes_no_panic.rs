//! Property tests: no request on the routes listener (any method, path, headers, body) and no
//! request body on the API Gateway v2 API makes eddy panic or answer 5xx for a client mistake;
//! every error has its API's shape (`{"message": …}`).

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use eddy_server::routes::{ApiDef, AuthorizerDef, Cors, IntegrationDef, JwtConfig, RouteDef};
use eddy_server::{App, ServerConfig};
use http_body_util::BodyExt;
use proptest::prelude::*;
use serde_json::{Map, Value};
use tower::ServiceExt;

struct Fixture {
    app: Arc<App>,
    rt: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
}

fn fixture() -> Fixture {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let jwks = dir.path().join("jwks.json");
    std::fs::write(
        &jwks,
        r#"{"keys":[{"kty":"oct","kid":"k","k":"c2VjcmV0"}]}"#,
    )
    .unwrap();
    let mut config = ServerConfig::new(dir.path());
    config.sync = false;
    config.code_roots = eddy_server::config::CodeRoots::new([dir.path().to_owned()]).unwrap();
    let app = rt.block_on(App::open(config)).unwrap();
    let bus = |id: &str, detail: &str| IntegrationDef {
        integration_id: id.into(),
        integration_type: "AWS_PROXY".into(),
        integration_subtype: Some("EventBridge-PutEvents".into()),
        payload_format_version: "1.0".into(),
        request_parameters: [
            ("Source".to_owned(), "$request.header.x-source".to_owned()),
            ("DetailType".to_owned(), "t".to_owned()),
            ("Detail".to_owned(), detail.to_owned()),
            ("Detail.id".to_owned(), "$request.path.id".to_owned()),
            ("Detail.q".to_owned(), "$request.querystring.q".to_owned()),
            ("Detail.b".to_owned(), "$request.body.a.b".to_owned()),
        ]
        .into_iter()
        .collect(),
        ..IntegrationDef::default()
    };
    let route = |key: &str, target: &str| RouteDef {
        route_id: key.replace([' ', '/', '{', '}', '+', '$'], ""),
        route_key: key.into(),
        target: Some(format!("integrations/{target}")),
        authorization_type: "NONE".into(),
        ..RouteDef::default()
    };
    let mut jwt = route("GET /secure/{id}", "i1");
    jwt.authorization_type = "JWT".into();
    jwt.authorizer_id = Some("a1".into());
    jwt.authorization_scopes = vec!["admin".into()];
    let mut keyed = route("DELETE /keyed", "i1");
    keyed.api_key_required = true;
    let api = ApiDef {
        region: "us-east-1".into(),
        api_id: "fuzz".into(),
        name: "fuzz".into(),
        base_path: "/".into(),
        cors: Some(Cors {
            allow_origins: vec!["*".into()],
            ..Cors::default()
        }),
        api_keys: vec!["k".into()],
        routes: vec![
            route("POST /orders/{id}", "i1"),
            route("ANY /raw/{proxy+}", "i2"),
            jwt,
            keyed,
        ],
        integrations: vec![
            bus("i1", "$request.body"),
            bus("i2", "$request.body.detail"),
        ],
        authorizers: vec![AuthorizerDef {
            authorizer_id: "a1".into(),
            name: "a1".into(),
            authorizer_type: "JWT".into(),
            identity_source: vec!["$request.header.Authorization".into()],
            jwt_configuration: Some(JwtConfig {
                issuer: "https://i".into(),
                audience: vec!["x".into()],
                jwks_file: Some(jwks.display().to_string()),
                jwks_uri: None,
            }),
            ..AuthorizerDef::default()
        }],
        ..ApiDef::default()
    };
    rt.block_on(app.apis().put(api)).unwrap();
    Fixture { app, rt, _dir: dir }
}

const SEGMENTS: &[&str] = &[
    "orders", "raw", "secure", "keyed", "_api", "fuzz", "x", "", "%zz", "%C3%A9", "%2F", "..",
    "{id}", "a+b", "%00",
];
const METHODS: &[&str] = &["GET", "POST", "PUT", "DELETE", "OPTIONS", "HEAD", "PATCH"];
const HEADER_VALUES: &[&str] = &[
    "",
    "Bearer a.b.c",
    "Bearer eyJhbGciOiJIUzI1NiJ9.e30.x",
    "Bearer eyJhbGciOiJub25lIn0.eyJleHAiOjF9.",
    "application/json",
    "application/octet-stream",
    "text/plain; charset=utf-8",
    "src",
    "k",
    "https://o.example",
];

fn request() -> impl Strategy<Value = Request<Body>> {
    (
        prop::sample::select(METHODS),
        prop::collection::vec(prop::sample::select(SEGMENTS), 0..5),
        prop::option::of("[a-z=&%0-9]{0,12}"),
        prop::collection::vec(
            (
                prop::sample::select(
                    &[
                        "authorization",
                        "content-type",
                        "x-api-key",
                        "x-source",
                        "origin",
                        "access-control-request-method",
                        "cookie",
                        "host",
                    ][..],
                ),
                prop::sample::select(HEADER_VALUES),
            ),
            0..5,
        ),
        prop_oneof![
            prop::collection::vec(any::<u8>(), 0..64),
            Just(br#"{"a":{"b":1},"detail":{"x":1}}"#.to_vec()),
            Just(b"[1,2]".to_vec()),
            Just(br#"{"detail":"{\"y\":2}"}"#.to_vec()),
        ],
    )
        .prop_map(|(method, segs, query, headers, body)| {
            let mut uri = format!("/{}", segs.join("/"));
            if let Some(q) = query {
                uri = format!("{uri}?{q}");
            }
            let mut b = Request::builder().method(method).uri(uri);
            for (k, v) in headers {
                b = b.header(k, v);
            }
            b.body(Body::from(body))
                .unwrap_or_else(|_| Request::new(Body::empty()))
        })
}

fn api_body() -> impl Strategy<Value = (usize, Value)> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        prop::sample::select(
            &[
                "HTTP",
                "WEBSOCKET",
                "JWT",
                "REQUEST",
                "AWS_PROXY",
                "NONE",
                "CUSTOM",
                "GET /a/{b}",
                "$default",
                "ANY /{p+}/x",
                "integrations/zz",
                "arn:aws:lambda:us-east-1:123456789012:function:f",
                "EventBridge-PutEvents",
                "SQS-SendMessage",
                "$request.header.Authorization",
                "/base",
                "/_api",
                "1.0",
                "",
            ][..]
        )
        .prop_map(|s| Value::String(s.to_owned())),
    ];
    let value = leaf.prop_recursive(2, 12, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[A-Za-z]{1,6}", inner, 0..3)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    });
    let keys = &[
        "name",
        "protocolType",
        "target",
        "routeKey",
        "corsConfiguration",
        "basePath",
        "apiKeys",
        "authorizationType",
        "authorizerId",
        "integrationType",
        "integrationSubtype",
        "integrationUri",
        "payloadFormatVersion",
        "timeoutInMillis",
        "requestParameters",
        "authorizerType",
        "identitySource",
        "jwtConfiguration",
        "authorizerUri",
        "authorizerResultTtlInSeconds",
        "stageName",
        "routeSettings",
        "defaultRouteSettings",
    ][..];
    (
        0..7usize,
        prop::collection::vec((prop::sample::select(keys), value), 0..6).prop_map(|kv| {
            Value::Object(
                kv.into_iter()
                    .map(|(k, v)| (k.to_owned(), v))
                    .collect::<Map<String, Value>>(),
            )
        }),
    )
}

fn check_shape(status: StatusCode, body: &[u8]) -> Result<(), TestCaseError> {
    prop_assert!(
        !status.is_server_error(),
        "{status}: {}",
        String::from_utf8_lossy(body)
    );
    if status.is_client_error() && !body.is_empty() {
        let v: Value = serde_json::from_slice(body)
            .map_err(|_| TestCaseError::fail(format!("{status} without JSON")))?;
        prop_assert!(v["message"].is_string(), "{v}");
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn routes_listener_never_fails_on_client_input(req in request()) {
        let f = fixture_once();
        let (status, body) = f.rt.block_on(async {
            let res = eddy_server::gateway::router(f.app.clone()).oneshot(req).await.unwrap();
            let status = res.status();
            (status, res.into_body().collect().await.unwrap().to_bytes())
        });
        check_shape(status, &body)?;
    }

    #[test]
    fn api_gateway_v2_never_fails_on_client_input((op, body) in api_body()) {
        let f = fixture_once();
        let (method, path) = [
            ("POST", "/v2/apis"),
            ("PATCH", "/v2/apis/fuzz"),
            ("POST", "/v2/apis/fuzz/routes"),
            ("POST", "/v2/apis/fuzz/integrations"),
            ("POST", "/v2/apis/fuzz/authorizers"),
            ("POST", "/v2/apis/fuzz/stages"),
            ("PATCH", "/v2/apis/fuzz/routes/POSTordersid"),
        ][op];
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", "application/json")
            // Without credentials every call is refused before it reaches the API.
            .header(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/apigateway/aws4_request, \
                 SignedHeaders=host, Signature=0",
            )
            .body(Body::from(body.to_string()))
            .unwrap();
        let (status, bytes) = f.rt.block_on(async {
            let res = f.app.aws_router().oneshot(req).await.unwrap();
            let status = res.status();
            (status, res.into_body().collect().await.unwrap().to_bytes())
        });
        check_shape(status, &bytes)?;
    }
}

fn fixture_once() -> &'static Fixture {
    static F: std::sync::OnceLock<Fixture> = std::sync::OnceLock::new();
    F.get_or_init(fixture)
}
