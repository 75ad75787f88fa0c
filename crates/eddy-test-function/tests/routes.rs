//! HTTP routes end to end: a real `lambda_runtime` function behind eddy's routes listener,
//! configured through the API Gateway v2 API: proxy payloads 2.0 and 1.0, response mapping,
//! cookies, binary bodies, 404/405, Host and `/_api` addressing, JWT (HS256, RS256, ES256) and
//! Lambda authorizers, API keys, CORS, throttling, body limit, timeouts, bus and queue routes,
//! and an unmodified `lambda_http` function (axum inside) behind routes.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use base64::Engine;
use eddy_testkit::Sandbox;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair, RsaKeyPair};
use serde_json::{Value, json};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

struct Env {
    sb: Sandbox,
    client: reqwest::Client,
    dir: tempfile::TempDir,
    code: PathBuf,
}

struct Reply {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

impl Env {
    async fn start() -> Self {
        let sb = Sandbox::start().await.unwrap();
        let (dir, code) = common::code_dir();
        Self {
            sb,
            client: reqwest::Client::new(),
            dir,
            code,
        }
    }

    /// One rest-json call on the AWS endpoint.
    async fn aws(&self, method: &str, path: &str, body: Value) -> (u16, Value) {
        let r = self
            .client
            .request(
                method.parse().unwrap(),
                format!("http://{}{path}", self.sb.aws),
            )
            .header("authorization", eddy_testkit::AUTHORIZATION)
            .header("content-type", "application/json")
            .body(if body.is_null() {
                String::new()
            } else {
                body.to_string()
            })
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let bytes = r.bytes().await.unwrap();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    async fn function(&self, name: &str, handler: &str, timeout: u32) {
        self.function_in(name, handler, timeout, &self.code).await;
    }

    async fn function_in(&self, name: &str, handler: &str, timeout: u32, code: &std::path::Path) {
        let (s, v) = self
            .aws(
                "POST",
                "/2015-03-31/functions",
                json!({
                    "FunctionName": name,
                    "Runtime": "provided.al2023",
                    "Role": "arn:aws:iam::123456789012:role/r",
                    "Handler": handler,
                    "Timeout": timeout,
                    "Code": {"S3Bucket": "hot-reload", "S3Key": code.display().to_string()},
                }),
            )
            .await;
        assert_eq!(s, 201, "{v}");
    }

    async fn api(&self, body: Value) -> String {
        let (s, v) = self.aws("POST", "/v2/apis", body).await;
        assert_eq!(s, 201, "{v}");
        v["apiId"].as_str().unwrap().to_owned()
    }

    async fn create(&self, api: &str, what: &str, body: Value) -> Value {
        let (s, v) = self
            .aws("POST", &format!("/v2/apis/{api}/{what}"), body)
            .await;
        assert_eq!(s, 201, "{what}: {v}");
        v
    }

    /// A function integration and a route to it.
    async fn function_route(&self, api: &str, key: &str, function: &str, extra: Value) -> String {
        let mut i = json!({
            "integrationType": "AWS_PROXY",
            "integrationUri": format!("arn:aws:lambda:us-east-1:123456789012:function:{function}"),
        });
        if let Value::Object(m) = &extra["integration"] {
            for (k, v) in m {
                i[k] = v.clone();
            }
        }
        let i = self.create(api, "integrations", i).await;
        let mut r = json!({
            "routeKey": key,
            "target": format!("integrations/{}", i["integrationId"].as_str().unwrap()),
        });
        if let Value::Object(m) = &extra["route"] {
            for (k, v) in m {
                r[k] = v.clone();
            }
        }
        let r = self.create(api, "routes", r).await;
        r["routeId"].as_str().unwrap().to_owned()
    }

    async fn http(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Reply {
        let mut req = self.client.request(
            method.parse().unwrap(),
            format!("http://{}{path}", self.sb.http),
        );
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let r = req.body(body).send().await.unwrap();
        Reply {
            status: r.status().as_u16(),
            headers: r.headers().clone(),
            body: r.bytes().await.unwrap().to_vec(),
        }
    }

    async fn sqs(&self, op: &str, body: Value) -> Value {
        let (s, v) = self
            .sb
            .aws_call(&format!("AmazonSQS.{op}"), body)
            .await
            .unwrap();
        assert_eq!(s, 200, "{op}: {v}");
        v
    }
}

#[tokio::test]
async fn function_routes_get_proxy_events_and_answer_through_them() {
    let env = Env::start().await;
    env.function("web", "http", 5).await;
    env.function("plain", "simple", 5).await;
    let api = env
        .api(json!({"name": "shop", "protocolType": "HTTP"}))
        .await;
    env.function_route(&api, "ANY /items/{id}", "web", json!({}))
        .await;
    env.function_route(
        &api,
        "GET /v1/{proxy+}",
        "web",
        json!({"integration": {"payloadFormatVersion": "1.0"}}),
    )
    .await;
    env.function_route(&api, "GET /simple", "plain", json!({}))
        .await;
    env.function_route(&api, "POST /only-post", "plain", json!({}))
        .await;

    // Payload 2.0 through /_api/{apiId}.
    let r = env
        .http(
            "POST",
            &format!("/_api/{api}/items/42?a=1&a=2&b=x%20y"),
            &[
                ("x-multi", "one"),
                ("x-multi", "two"),
                ("cookie", "k1=v1; k2=v2"),
                ("user-agent", "routes-test"),
                ("content-type", "application/json"),
                ("x-status", "201"),
            ],
            br#"{"n":1}"#.to_vec(),
        )
        .await;
    assert_eq!(r.status, 201);
    assert!(r.headers.contains_key("apigw-requestid"));
    let cookies: Vec<_> = r.headers.get_all("set-cookie").iter().collect();
    assert_eq!(cookies, ["session=abc; Path=/", "theme=dark"]);
    let e = r.json();
    assert_eq!(e["version"], "2.0");
    assert_eq!(e["routeKey"], "ANY /items/{id}");
    assert_eq!(e["rawPath"], "/items/42");
    assert_eq!(e["rawQueryString"], "a=1&a=2&b=x%20y");
    assert_eq!(e["cookies"], json!(["k1=v1", "k2=v2"]));
    assert_eq!(e["headers"]["x-multi"], "one,two");
    assert_eq!(e["queryStringParameters"], json!({"a": "1,2", "b": "x y"}));
    assert_eq!(e["pathParameters"], json!({"id": "42"}));
    assert_eq!(e["body"], r#"{"n":1}"#);
    assert_eq!(e["isBase64Encoded"], false);
    let ctx = &e["requestContext"];
    assert_eq!(ctx["http"]["method"], "POST");
    assert_eq!(ctx["http"]["path"], "/items/42");
    assert_eq!(ctx["http"]["sourceIp"], "127.0.0.1");
    assert_eq!(ctx["http"]["userAgent"], "routes-test");
    assert_eq!(ctx["stage"], "$default");
    assert_eq!(ctx["apiId"], api.as_str());
    assert_eq!(ctx["routeKey"], "ANY /items/{id}");
    assert!(ctx["timeEpoch"].as_i64().unwrap() > 1_700_000_000_000);
    assert!(ctx["time"].as_str().unwrap().ends_with(" +0000"));
    assert_eq!(
        ctx["requestId"].as_str(),
        r.headers["apigw-requestid"].to_str().ok()
    );

    // A binary body goes in base64; a binary answer comes out as bytes.
    let r = env
        .http(
            "PUT",
            &format!("/_api/{api}/items/7"),
            &[
                ("content-type", "application/octet-stream"),
                ("x-binary", "1"),
            ],
            vec![0, 159, 146, 150],
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, [0, 1, 2, 255]);
    assert_eq!(r.headers["content-type"], "application/octet-stream");

    // The Host header form (what SDK users get as ApiEndpoint).
    let host = format!("{api}.execute-api.localhost");
    let r = env
        .http("GET", "/items/9", &[("host", host.as_str())], Vec::new())
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["pathParameters"]["id"], "9");
    assert_eq!(r.json()["requestContext"]["domainName"], host.as_str());

    // Payload 1.0 with a greedy path.
    let r = env
        .http(
            "GET",
            &format!("/_api/{api}/v1/a/b?x=1&x=2"),
            &[("x-multi", "one"), ("x-multi", "two")],
            Vec::new(),
        )
        .await;
    assert_eq!(r.status, 200);
    let cookies: Vec<_> = r.headers.get_all("set-cookie").iter().collect();
    assert_eq!(cookies.len(), 2);
    let e = r.json();
    assert_eq!(e["version"], "1.0");
    assert_eq!(e["resource"], "/v1/{proxy+}");
    assert_eq!(e["httpMethod"], "GET");
    assert_eq!(e["pathParameters"], json!({"proxy": "a/b"}));
    assert_eq!(e["multiValueHeaders"]["x-multi"], json!(["one", "two"]));
    assert_eq!(e["queryStringParameters"]["x"], "2");
    assert_eq!(e["multiValueQueryStringParameters"]["x"], json!(["1", "2"]));
    assert_eq!(e["requestContext"]["identity"]["sourceIp"], "127.0.0.1");
    assert_eq!(e["body"], Value::Null);

    // The simplified response form; 404; 405.
    let r = env
        .http("GET", &format!("/_api/{api}/simple"), &[], Vec::new())
        .await;
    assert_eq!((r.status, r.json()), (200, json!({"hello": "world"})));
    assert_eq!(r.headers["content-type"], "application/json");
    let r = env
        .http("GET", &format!("/_api/{api}/nothing"), &[], Vec::new())
        .await;
    assert_eq!((r.status, r.json()), (404, json!({"message": "Not Found"})));
    let r = env
        .http("GET", &format!("/_api/{api}/only-post"), &[], Vec::new())
        .await;
    assert_eq!(r.status, 405);
    assert_eq!(r.headers["allow"], "POST");
    let r = env.http("GET", "/_api/nope/x", &[], Vec::new()).await;
    assert_eq!(r.status, 404);

    // Base path: the API is at `/` by default, so the plain path works too.
    let r = env.http("GET", "/simple", &[], Vec::new()).await;
    assert_eq!(r.status, 200);

    // Routes change at run time: deleting the API takes its routes away.
    let (s, _) = env
        .aws("DELETE", &format!("/v2/apis/{api}"), Value::Null)
        .await;
    assert_eq!(s, 204);
    let r = env.http("GET", "/simple", &[], Vec::new()).await;
    assert_eq!(r.status, 404);
    env.sb.shutdown().await.unwrap();
}

fn jwt(header: Value, claims: Value, sign: impl FnOnce(&[u8]) -> Vec<u8>) -> String {
    let msg = format!(
        "{}.{}",
        B64.encode(header.to_string()),
        B64.encode(claims.to_string())
    );
    let sig = sign(msg.as_bytes());
    format!("{msg}.{}", B64.encode(sig))
}

#[tokio::test]
async fn jwt_authorizers_check_signature_issuer_audience_expiry_and_scopes() {
    let env = Env::start().await;
    env.function("web", "http", 5).await;
    let rng = SystemRandom::new();
    let secret = b"a shared secret of 32 bytes!!!!!";
    let rsa = RsaKeyPair::from_der(include_bytes!("data/rsa-test-key.der")).unwrap();
    let pk: signature::RsaPublicKeyComponents<Vec<u8>> = rsa.public().into();
    let n = B64.encode(&pk.n);
    let e = B64.encode(&pk.e);
    let ec_doc =
        EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let ec = EcdsaKeyPair::from_pkcs8(
        &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        ec_doc.as_ref(),
        &rng,
    )
    .unwrap();
    let point = ec.public_key().as_ref();
    let jwks = json!({"keys": [
        {"kty": "oct", "kid": "hs", "alg": "HS256", "k": B64.encode(secret)},
        {"kty": "RSA", "kid": "rs", "alg": "RS256", "n": n, "e": e},
        {"kty": "EC", "kid": "es", "crv": "P-256", "x": B64.encode(&point[1..33]), "y": B64.encode(&point[33..])},
    ]});
    let jwks_file = env.dir.path().join("jwks.json");
    std::fs::write(&jwks_file, jwks.to_string()).unwrap();

    let api = env
        .api(json!({"name": "secure", "protocolType": "HTTP"}))
        .await;
    let a = env
        .create(
            &api,
            "authorizers",
            json!({
                "name": "users",
                "authorizerType": "JWT",
                "identitySource": ["$request.header.Authorization"],
                "jwtConfiguration": {
                    "issuer": "https://issuer.example",
                    "audience": ["shop"],
                    "jwksFile": jwks_file.display().to_string(),
                },
            }),
        )
        .await;
    let aid = a["authorizerId"].as_str().unwrap();
    env.function_route(
        &api,
        "GET /me",
        "web",
        json!({"route": {"authorizationType": "JWT", "authorizerId": aid}}),
    )
    .await;
    env.function_route(
        &api,
        "GET /admin",
        "web",
        json!({"route": {"authorizationType": "JWT", "authorizerId": aid, "authorizationScopes": ["admin"]}}),
    )
    .await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = |aud: &str, exp: u64| json!({"iss": "https://issuer.example", "aud": aud, "sub": "u-1", "exp": exp, "scope": "read write"});
    let hs = |c: Value| {
        jwt(json!({"alg": "HS256", "kid": "hs"}), c, |m| {
            let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
            ring::hmac::sign(&key, m).as_ref().to_vec()
        })
    };
    let rs = |c: Value| {
        jwt(json!({"alg": "RS256", "kid": "rs"}), c, |m| {
            let mut sig = vec![0; rsa.public().modulus_len()];
            rsa.sign(&signature::RSA_PKCS1_SHA256, &rng, m, &mut sig)
                .unwrap();
            sig
        })
    };
    let es = |c: Value| {
        jwt(json!({"alg": "ES256", "kid": "es"}), c, |m| {
            ec.sign(&rng, m).unwrap().as_ref().to_vec()
        })
    };
    let call = |token: Option<String>, path: &'static str| {
        let env = &env;
        let api = api.clone();
        async move {
            let auth = token.map(|t| format!("Bearer {t}"));
            let headers: Vec<(&str, &str)> = auth
                .as_deref()
                .map(|a| vec![("authorization", a)])
                .unwrap_or_default();
            env.http("GET", &format!("/_api/{api}{path}"), &headers, Vec::new())
                .await
        }
    };
    for token in [
        hs(claims("shop", now + 600)),
        rs(claims("shop", now + 600)),
        es(claims("shop", now + 600)),
    ] {
        let r = call(Some(token), "/me").await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        let a = &r.json()["requestContext"]["authorizer"]["jwt"];
        assert_eq!(a["claims"]["sub"], "u-1");
        assert_eq!(a["claims"]["exp"], (now + 600).to_string());
        assert_eq!(a["scopes"], json!(["read", "write"]));
    }
    let r = call(Some(rs(claims("shop", now - 3600))), "/me").await;
    assert_eq!(
        (r.status, r.json()),
        (401, json!({"message": "Unauthorized"}))
    );
    assert!(
        r.headers["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("expired")
    );
    let r = call(Some(hs(claims("other", now + 600))), "/me").await;
    assert_eq!(r.status, 401);
    let r = call(None, "/me").await;
    assert_eq!(r.status, 401);
    let mut forged = hs(claims("shop", now + 600));
    forged.replace_range(forged.len() - 4.., "AAAA");
    assert_eq!(call(Some(forged), "/me").await.status, 401);
    assert_eq!(call(Some("garbage".into()), "/me").await.status, 401);
    // Scopes: the token has read and write, the route wants admin.
    let r = call(Some(hs(claims("shop", now + 600))), "/admin").await;
    assert_eq!((r.status, r.json()), (403, json!({"message": "Forbidden"})));
    env.sb.shutdown().await.unwrap();
}

#[tokio::test]
async fn lambda_authorizers_allow_deny_and_cache() {
    let env = Env::start().await;
    env.function("web", "http", 5).await;
    env.function("gate", "authorizer", 5).await;
    let api = env
        .api(json!({"name": "gated", "protocolType": "HTTP"}))
        .await;
    let a = env
        .create(
            &api,
            "authorizers",
            json!({
                "name": "gate",
                "authorizerType": "REQUEST",
                "authorizerUri": "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:gate/invocations",
                "identitySource": ["$request.header.Authorization"],
                "authorizerPayloadFormatVersion": "2.0",
                "enableSimpleResponses": true,
                "authorizerResultTtlInSeconds": 300,
            }),
        )
        .await;
    let aid = a["authorizerId"].as_str().unwrap();
    env.function_route(
        &api,
        "GET /private",
        "web",
        json!({"route": {"authorizationType": "CUSTOM", "authorizerId": aid}}),
    )
    .await;
    let path = format!("/_api/{api}/private");
    let r = env
        .http("GET", &path, &[("authorization", "allow")], Vec::new())
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let ctx = r.json()["requestContext"]["authorizer"]["lambda"].clone();
    assert_eq!(ctx["user"], "u1");
    let calls = ctx["calls"].as_u64().unwrap();
    // Cached: the authorizer is not called again for the same identity.
    let r = env
        .http("GET", &path, &[("authorization", "allow")], Vec::new())
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json()["requestContext"]["authorizer"]["lambda"]["calls"],
        calls
    );
    let r = env
        .http("GET", &path, &[("authorization", "deny")], Vec::new())
        .await;
    assert_eq!((r.status, r.json()), (403, json!({"message": "Forbidden"})));
    let r = env.http("GET", &path, &[], Vec::new()).await;
    assert_eq!(
        (r.status, r.json()),
        (401, json!({"message": "Unauthorized"}))
    );
    env.sb.shutdown().await.unwrap();
}

#[tokio::test]
async fn cors_api_keys_throttling_body_limit_and_timeouts() {
    let env = Env::start().await;
    env.function("web", "http", 5).await;
    env.function("slow", "http", 1).await;
    let api = env
        .api(json!({
            "name": "guarded",
            "protocolType": "HTTP",
            "basePath": "/guarded",
            "apiKeys": ["k-123"],
            "corsConfiguration": {
                "allowOrigins": ["https://app.example"],
                "allowMethods": ["GET", "POST"],
                "allowHeaders": ["content-type"],
                "exposeHeaders": ["x-handler"],
                "maxAge": 600,
            },
        }))
        .await;
    let open = env
        .function_route(&api, "POST /echo", "web", json!({}))
        .await;
    env.function_route(
        &api,
        "GET /keyed",
        "web",
        json!({"route": {"apiKeyRequired": true}}),
    )
    .await;
    env.function_route(
        &api,
        "GET /quick",
        "web",
        json!({"integration": {"timeoutInMillis": 300}}),
    )
    .await;
    env.function_route(&api, "GET /slow", "slow", json!({}))
        .await;
    let _ = open;

    // CORS: the preflight never reaches a route; real answers get the headers.
    let r = env
        .http(
            "OPTIONS",
            "/guarded/echo",
            &[
                ("origin", "https://app.example"),
                ("access-control-request-method", "POST"),
            ],
            Vec::new(),
        )
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(
        r.headers["access-control-allow-origin"],
        "https://app.example"
    );
    assert_eq!(r.headers["access-control-allow-methods"], "GET,POST");
    assert_eq!(r.headers["access-control-allow-headers"], "content-type");
    assert_eq!(r.headers["access-control-max-age"], "600");
    let r = env
        .http(
            "POST",
            "/guarded/echo",
            &[("origin", "https://app.example")],
            b"{}".to_vec(),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.headers["access-control-allow-origin"],
        "https://app.example"
    );
    assert_eq!(r.headers["access-control-expose-headers"], "x-handler");
    assert_eq!(r.json()["rawPath"], "/guarded/echo");

    // API keys.
    assert_eq!(
        env.http("GET", "/guarded/keyed", &[], Vec::new())
            .await
            .status,
        403
    );
    assert_eq!(
        env.http(
            "GET",
            "/guarded/keyed",
            &[("x-api-key", "k-123")],
            Vec::new()
        )
        .await
        .status,
        200
    );

    // Bodies above axum's 2 MB default pass (the gateway's limit is 10 MB).
    let big = vec![b'y'; 3 * 1024 * 1024];
    let r = env.http("POST", "/guarded/echo", &[], big).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json()["body"].as_str().map(str::len),
        Some(3 * 1024 * 1024)
    );

    // 413 for bodies over 10 MB.
    let r = env
        .http(
            "POST",
            "/guarded/echo",
            &[],
            vec![b'x'; 10 * 1024 * 1024 + 1],
        )
        .await;
    assert_eq!(
        (r.status, r.json()),
        (413, json!({"message": "Request Entity Too Large"}))
    );

    // 504: the integration timeout, then the function's own timeout (1 s).
    let r = env
        .http("GET", "/guarded/quick?sleep_ms=2000", &[], Vec::new())
        .await;
    assert_eq!(
        (r.status, r.json()),
        (504, json!({"message": "Endpoint request timed out"}))
    );
    let r = env
        .http("GET", "/guarded/slow?sleep_ms=3000", &[], Vec::new())
        .await;
    assert_eq!(r.status, 504);

    // Throttling through the $default stage's route settings: a burst of 2, then 429.
    env.create(
        &api,
        "stages",
        json!({
            "stageName": "$default",
            "autoDeploy": true,
            "routeSettings": {"POST /echo": {"throttlingBurstLimit": 2, "throttlingRateLimit": 0.5}},
        }),
    )
    .await;
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let r = env.http("POST", "/guarded/echo", &[], b"{}".to_vec()).await;
        statuses.push(r.status);
        if r.status == 429 {
            assert_eq!(r.json(), json!({"message": "Too Many Requests"}));
            assert!(
                r.headers["retry-after"]
                    .to_str()
                    .unwrap()
                    .parse::<u64>()
                    .unwrap()
                    >= 1
            );
        }
    }
    assert_eq!(statuses, [200, 200, 429]);
    env.sb.shutdown().await.unwrap();
}

#[tokio::test]
async fn bus_and_queue_routes() {
    let env = Env::start().await;
    let q = env.sqs("CreateQueue", json!({"QueueName": "orders"})).await;
    let url = q["QueueUrl"].as_str().unwrap().to_owned();
    env.sqs("CreateQueue", json!({"QueueName": "inbox"})).await;
    let (s, v) = env
        .sb
        .aws_call(
            "AWSEvents.PutRule",
            json!({"Name": "orders", "EventPattern": r#"{"source":["shop"]}"#}),
        )
        .await
        .unwrap();
    assert_eq!(s, 200, "{v}");
    let (s, v) = env
        .sb
        .aws_call(
            "AWSEvents.PutTargets",
            json!({"Rule": "orders", "Targets": [{"Id": "q", "Arn": "arn:aws:sqs:us-east-1:123456789012:orders"}]}),
        )
        .await
        .unwrap();
    assert_eq!(s, 200, "{v}");
    let api = env
        .api(json!({"name": "events", "protocolType": "HTTP"}))
        .await;
    let i = env
        .create(
            &api,
            "integrations",
            json!({
                "integrationType": "AWS_PROXY",
                "integrationSubtype": "EventBridge-PutEvents",
                "requestParameters": {
                    "Source": "shop",
                    "DetailType": "OrderPlaced",
                    "Detail.orderId": "$request.path.id",
                    "Detail.sourceIp": "$context.identity.sourceIp",
                },
            }),
        )
        .await;
    env.create(
        &api,
        "routes",
        json!({"routeKey": "POST /orders/{id}", "target": format!("integrations/{}", i["integrationId"].as_str().unwrap())}),
    )
    .await;
    let i = env
        .create(
            &api,
            "integrations",
            json!({
                "integrationType": "AWS_PROXY",
                "integrationSubtype": "SQS-SendMessage",
                "requestParameters": {"QueueUrl": "inbox"},
            }),
        )
        .await;
    env.create(
        &api,
        "routes",
        json!({"routeKey": "POST /inbox", "target": format!("integrations/{}", i["integrationId"].as_str().unwrap())}),
    )
    .await;

    let r = env
        .http(
            "POST",
            &format!("/_api/{api}/orders/o-7"),
            &[("content-type", "application/json")],
            br#"{"amount": 12}"#.to_vec(),
        )
        .await;
    assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.body));
    let event_id = r.json()["eventId"].as_str().unwrap().to_owned();
    let got = env
        .sqs(
            "ReceiveMessage",
            json!({"QueueUrl": url, "WaitTimeSeconds": 5}),
        )
        .await;
    let event: Value = serde_json::from_str(got["Messages"][0]["Body"].as_str().unwrap()).unwrap();
    assert_eq!(event["id"], event_id.as_str());
    assert_eq!(event["source"], "shop");
    assert_eq!(event["detail-type"], "OrderPlaced");
    assert_eq!(
        event["detail"],
        json!({"amount": 12, "orderId": "o-7", "sourceIp": "127.0.0.1"})
    );
    let r = env
        .http(
            "POST",
            &format!("/_api/{api}/orders/o-8"),
            &[],
            b"not json".to_vec(),
        )
        .await;
    assert_eq!(r.status, 400);

    let r = env
        .http(
            "POST",
            &format!("/_api/{api}/inbox"),
            &[],
            b"hello".to_vec(),
        )
        .await;
    assert_eq!(r.status, 202);
    assert!(r.json()["messageId"].is_string());
    let inbox = env.sqs("GetQueueUrl", json!({"QueueName": "inbox"})).await;
    tokio::time::sleep(Duration::from_millis(10)).await;
    let got = env
        .sqs(
            "ReceiveMessage",
            json!({"QueueUrl": inbox["QueueUrl"], "WaitTimeSeconds": 2}),
        )
        .await;
    assert_eq!(got["Messages"][0]["Body"], "hello");
    env.sb.shutdown().await.unwrap();
}

#[tokio::test]
async fn api_gateway_v2_api_shapes_and_errors() {
    let env = Env::start().await;
    env.function("web", "http", 5).await;
    // Quick create.
    let (s, v) = env
        .aws(
            "POST",
            "/v2/apis",
            json!({"name": "quick", "protocolType": "HTTP", "target": "arn:aws:lambda:us-east-1:123456789012:function:web", "routeKey": "GET /hi"}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let id = v["apiId"].as_str().unwrap().to_owned();
    let port = env.sb.http.port();
    assert_eq!(
        v["apiEndpoint"],
        format!("http://{id}.execute-api.localhost:{port}")
    );
    let (_, routes) = env
        .aws("GET", &format!("/v2/apis/{id}/routes"), Value::Null)
        .await;
    assert_eq!(routes["items"][0]["routeKey"], "GET /hi");
    let (_, ints) = env
        .aws("GET", &format!("/v2/apis/{id}/integrations"), Value::Null)
        .await;
    assert_eq!(ints["items"][0]["payloadFormatVersion"], "2.0");
    let (_, stages) = env
        .aws("GET", &format!("/v2/apis/{id}/stages"), Value::Null)
        .await;
    assert_eq!(stages["items"][0]["stageName"], "$default");
    let r = env
        .http("GET", &format!("/_api/{id}/hi"), &[], Vec::new())
        .await;
    assert_eq!(r.status, 200);
    // A second API on the same base path `/`: each plain path goes to the API with a route.
    let (_, v) = env
        .aws(
            "POST",
            "/v2/apis",
            json!({"name": "second", "protocolType": "HTTP", "target": "arn:aws:lambda:us-east-1:123456789012:function:web", "routeKey": "GET /second"}),
        )
        .await;
    let second = v["apiId"].as_str().unwrap().to_owned();
    let r = env.http("GET", "/hi", &[], Vec::new()).await;
    assert_eq!(r.json()["requestContext"]["apiId"], id.as_str());
    let r = env.http("GET", "/second", &[], Vec::new()).await;
    assert_eq!(r.json()["requestContext"]["apiId"], second.as_str());
    let r = env.http("POST", "/second", &[], Vec::new()).await;
    assert_eq!(r.status, 405);
    let (s, _) = env
        .aws("DELETE", &format!("/v2/apis/{second}"), Value::Null)
        .await;
    assert_eq!(s, 204);
    // Errors.
    let (s, v) = env.aws("GET", "/v2/apis/nope", Value::Null).await;
    assert_eq!(s, 404);
    assert_eq!(
        v["message"],
        "Invalid API identifier specified 123456789012:nope"
    );
    let (s, _) = env
        .aws(
            "POST",
            &format!("/v2/apis/{id}/routes"),
            json!({"routeKey": "GET /hi"}),
        )
        .await;
    assert_eq!(s, 409);
    let (s, _) = env
        .aws(
            "POST",
            &format!("/v2/apis/{id}/routes"),
            json!({"routeKey": "FETCH /x"}),
        )
        .await;
    assert_eq!(s, 400);
    let (s, _) = env
        .aws("POST", "/v2/apis", json!({"protocolType": "HTTP"}))
        .await;
    assert_eq!(s, 400);
    let r = env
        .client
        .post(format!("http://{}/v2/apis", env.sb.aws))
        .header("authorization", eddy_testkit::AUTHORIZATION)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.headers()["x-amzn-errortype"], "BadRequestException");
    let (s, _) = env
        .aws(
            "POST",
            &format!("/v2/apis/{id}/integrations"),
            json!({"integrationType": "AWS_PROXY", "integrationUri": "not a function"}),
        )
        .await;
    assert_eq!(s, 400);
    let (s, v) = env.aws("GET", "/v2/apis", Value::Null).await;
    assert_eq!((s, v["items"].as_array().map(Vec::len)), (200, Some(1)));
    env.sb.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_unmodified_lambda_http_axum_function_answers_through_routes() {
    let env = Env::start().await;
    let app_code = env.dir.path().join("app");
    std::fs::create_dir(&app_code).unwrap();
    std::fs::copy(env!("CARGO_BIN_EXE_http-app"), app_code.join("bootstrap")).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&app_code, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    env.function_in("app", "unused", 5, &app_code).await;
    let v2 = env
        .api(json!({"name": "app", "protocolType": "HTTP", "target": "arn:aws:lambda:us-east-1:123456789012:function:app"}))
        .await;
    let v1 = env
        .api(json!({"name": "app-v1", "protocolType": "HTTP", "basePath": "/legacy"}))
        .await;
    env.function_route(
        &v1,
        "$default",
        "app",
        json!({"integration": {"payloadFormatVersion": "1.0"}}),
    )
    .await;

    let r = env
        .http(
            "GET",
            &format!("/_api/{v2}/hello/ann?x=1&x=2&y=z"),
            &[
                ("x-multi", "one"),
                ("x-multi", "two"),
                ("cookie", "k=v; k2=v2"),
                ("user-agent", "routes-test"),
            ],
            Vec::new(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let got = r.json();
    assert_eq!(got["variant"], "apigw_http_v2");
    assert_eq!(got["name"], "ann");
    assert_eq!(got["path"], "/hello/ann");
    let xs: Vec<&str> = got["query"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p[0] == "x")
        .filter_map(|p| p[1].as_str())
        .collect();
    assert_eq!(xs.join(","), "1,2");
    let multi: Vec<&str> = got["x_multi"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(multi.join(","), "one,two");
    assert_eq!(got["user_agent"], "routes-test");
    assert!(got["cookie"].as_str().unwrap().contains("k2=v2"));

    // Binary in, binary out, the status the app chose.
    let bytes = vec![0u8, 159, 146, 150, 255];
    let r = env
        .http(
            "POST",
            &format!("/_api/{v2}/echo"),
            &[
                ("content-type", "application/octet-stream"),
                ("x-status", "201"),
            ],
            bytes.clone(),
        )
        .await;
    assert_eq!(r.status, 201);
    assert_eq!(r.body, bytes);
    let r = env
        .http("GET", &format!("/_api/{v2}/cookies"), &[], Vec::new())
        .await;
    assert_eq!(r.status, 200);
    let cookies: Vec<_> = r.headers.get_all("set-cookie").iter().collect();
    assert_eq!(cookies, ["a=1; Path=/", "b=2; HttpOnly"]);
    let r = env
        .http("GET", &format!("/_api/{v2}/nothing"), &[], Vec::new())
        .await;
    assert_eq!(r.status, 404);

    // Payload 1.0 (the REST API shape) through the base path of the second API.
    let r = env
        .http("GET", "/legacy/hello/bob?q=1", &[], Vec::new())
        .await;
    assert_eq!(r.status, 404, "axum sees the full path under a base path");
    let r = env
        .http("GET", &format!("/_api/{v1}/hello/bob?q=1"), &[], Vec::new())
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["variant"], "apigw_rest_v1");
    assert_eq!(r.json()["name"], "bob");
    env.sb.shutdown().await.unwrap();
}
