//! Function URLs on the HTTP listener: a request to `URL_ID.lambda-url.REGION.localhost:PORT`
//! (any `URL_ID.lambda-url.…` host) invokes the function, or the alias, whose URL it is, as
//! Lambda's URL front end does: CORS preflights answered from the URL's `Cors` (the function
//! never sees them), the request as payload format 2.0 (`routeKey` and `stage` `$default`,
//! `apiId` the URL id), the answer mapped back (a JSON value without `statusCode` is the body of
//! a 200), the URL's CORS headers added, a function error a 502.
//!
//! `AuthType: AWS_IAM` URLs refuse requests that are not signed (403, as Lambda); signatures
//! are not verified yet (as on the AWS endpoint). `InvokeMode: RESPONSE_STREAM` takes the
//! streaming functions' answer (a JSON prelude, eight NUL bytes, the body) and sends it once
//! complete: buffered, not streamed.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use eddy_runtime::{Invocation, InvokeError};

use crate::App;
use crate::functions::{UrlConfig, UrlCors};
use crate::routes::cors::CorsPolicy;
use crate::routes::proxy::{self, RequestInfo};
use crate::routes::{Cors, PayloadFormat};

/// The label after a URL id in a function URL's host name.
pub const HOST_LABEL: &str = ".lambda-url.";

/// The largest request a function URL takes (Lambda's 6 MB invocation payload).
const MAX_REQUEST_BYTES: usize = 6 * 1024 * 1024;

/// The URL id of a function URL's host name (`URL_ID.lambda-url.…`), if it is one.
pub fn url_id(host_name: &str) -> Option<&str> {
    host_name
        .split_once(HOST_LABEL)
        .map(|(id, _)| id)
        .filter(|id| !id.is_empty() && !id.contains('.'))
}

/// `http://URL_ID.lambda-url.REGION.localhost:PORT/`, the listener's address in Lambda's form.
pub fn url(app: &App, region: &str, url_id: &str) -> String {
    let port = crate::gateway::port(app);
    format!("http://{url_id}{HOST_LABEL}{region}.localhost:{port}/")
}

fn forbidden() -> Response {
    let mut res = Response::new(Body::from(r#"{"Message":"Forbidden"}"#));
    *res.status_mut() = StatusCode::FORBIDDEN;
    res.headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    res.headers_mut().insert(
        "x-amzn-errortype",
        HeaderValue::from_static("AccessDeniedException"),
    );
    res
}

fn text(status: StatusCode, body: &'static str) -> Response {
    let mut res = Response::new(Body::from(body));
    *res.status_mut() = status;
    res
}

fn policy(c: &UrlCors) -> CorsPolicy {
    CorsPolicy::new(&Cors {
        allow_origins: c.allow_origins.clone(),
        allow_methods: c.allow_methods.clone(),
        allow_headers: c.allow_headers.clone(),
        expose_headers: c.expose_headers.clone(),
        max_age: c.max_age.map(i64::from),
        allow_credentials: c.allow_credentials,
    })
}

/// Answers one request to a function URL.
pub async fn serve(
    app: &App,
    parts: Parts,
    body: Body,
    url_id: &str,
    host_name: &str,
    request_id: &str,
) -> Response {
    let Some((target, config)) = app.functions.url_target(&url_id.to_ascii_lowercase()) else {
        return forbidden();
    };
    let cors = config.cors.as_ref().map(policy);
    let method = parts.method.as_str().to_owned();
    if let Some(c) = &cors
        && CorsPolicy::is_preflight(&method, &parts.headers)
    {
        let mut res = Response::new(Body::empty());
        *res.headers_mut() = c.preflight(&parts.headers);
        return res;
    }
    let mut res = invoke(
        app, parts, body, url_id, host_name, request_id, &target, &config,
    )
    .await;
    if let Ok(v) = HeaderValue::from_str(request_id) {
        res.headers_mut().insert("x-amzn-requestid", v);
    }
    res
}

#[allow(clippy::too_many_arguments)]
async fn invoke(
    app: &App,
    parts: Parts,
    body: Body,
    url_id: &str,
    host_name: &str,
    request_id: &str,
    target: &crate::functions::urls::UrlTarget,
    config: &UrlConfig,
) -> Response {
    let cors = config.cors.as_ref().map(policy);
    let request_headers = parts.headers.clone();
    let decorate = |mut res: Response| {
        if let Some(c) = &cors {
            c.decorate(&request_headers, res.headers_mut());
        }
        res
    };
    if config.auth_type == "AWS_IAM"
        && !parts.headers.contains_key("authorization")
        && !parts.uri.query().unwrap_or("").contains("X-Amz-Signature=")
    {
        return decorate(forbidden());
    }
    let body = match eddy_net::read_body(&parts.headers, body, MAX_REQUEST_BYTES, &app.bodies).await
    {
        Ok((b, _held)) => b,
        Err(eddy_net::BodyError::TooLarge { .. }) => {
            return decorate(text(
                StatusCode::PAYLOAD_TOO_LARGE,
                "Request Entity Too Large",
            ));
        }
        Err(eddy_net::BodyError::TimedOut) => {
            return decorate(text(StatusCode::REQUEST_TIMEOUT, "Request Timeout"));
        }
        Err(eddy_net::BodyError::Busy) => {
            return decorate(text(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable"));
        }
        Err(eddy_net::BodyError::Failed(_)) => {
            return decorate(text(StatusCode::BAD_REQUEST, "Bad Request"));
        }
    };
    let resolved = match app.functions.resolve(
        &target.region,
        &target.function,
        target.qualifier.as_deref(),
    ) {
        Ok(r) => r,
        Err(_) => return decorate(forbidden()),
    };
    let info = RequestInfo {
        method: parts.method.as_str().to_owned(),
        raw_path: parts.uri.path().to_owned(),
        raw_query: parts.uri.query().unwrap_or("").to_owned(),
        source_ip: parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or_else(|| "127.0.0.1".to_owned(), |c| c.0.ip().to_string()),
        protocol: match parts.version {
            axum::http::Version::HTTP_10 => "HTTP/1.0",
            axum::http::Version::HTTP_2 => "HTTP/2.0",
            _ => "HTTP/1.1",
        },
        headers: parts.headers,
        body,
        api_id: url_id.to_owned(),
        account: if config.auth_type == "NONE" {
            "anonymous".to_owned()
        } else {
            app.config.account_id.clone()
        },
        region: target.region.clone(),
        domain: host_name.to_owned(),
        request_id: request_id.to_owned(),
        time_ms: app.clock.now_ms(),
        route_key: "$default".to_owned(),
        path_params: Vec::new(),
        stage_variables: Default::default(),
        stage: "$default".to_owned(),
        authorizer: None,
    };
    let payload = match serde_json::to_vec(&info.event_v2()) {
        Ok(p) => p,
        Err(_) => return decorate(proxy::internal_error()),
    };
    let inv = Invocation {
        payload: payload.into(),
        invoked_arn: resolved.invoked_arn.clone(),
        request_id: request_id.to_owned(),
        ..Invocation::default()
    };
    let res = match resolved.pool.invoke(inv).await {
        Err(InvokeError::TooManyRequests) => text(StatusCode::TOO_MANY_REQUESTS, "Rate Exceeded."),
        Ok(o) if o.function_error.is_some() => {
            text(StatusCode::BAD_GATEWAY, "Internal Server Error")
        }
        Ok(o) if config.invoke_mode == "RESPONSE_STREAM" => streamed(&o.payload)
            .or_else(|| proxy::map_response(PayloadFormat::V2, &o.payload))
            .unwrap_or_else(|| text(StatusCode::BAD_GATEWAY, "Internal Server Error")),
        Ok(o) => proxy::map_response(PayloadFormat::V2, &o.payload)
            .unwrap_or_else(|| text(StatusCode::BAD_GATEWAY, "Internal Server Error")),
    };
    decorate(res)
}

/// A streamed HTTP response as Lambda's streaming functions write it: a JSON prelude
/// (`statusCode`, `headers`, `cookies`), eight NUL bytes, then the body. `None` when the
/// payload has no prelude (the function answered as a buffered one would).
fn streamed(payload: &[u8]) -> Option<Response> {
    const DELIMITER: &[u8] = &[0; 8];
    let at = payload.windows(8).position(|w| w == DELIMITER)?;
    let prelude: serde_json::Value = serde_json::from_slice(&payload[..at]).ok()?;
    let body = &payload[at + 8..];
    let mut head = prelude.as_object()?.clone();
    head.insert("body".into(), serde_json::Value::String(base64_text(body)));
    head.insert("isBase64Encoded".into(), true.into());
    head.entry("statusCode").or_insert(200.into());
    let mut res = proxy::map_response(PayloadFormat::V2, &serde_json::to_vec(&head).ok()?)?;
    if !head
        .get("headers")
        .and_then(|h| h.as_object())
        .is_some_and(|h| h.keys().any(|k| k.eq_ignore_ascii_case("content-type")))
    {
        res.headers_mut().insert(
            "content-type",
            HeaderValue::from_static("application/octet-stream"),
        );
    }
    Some(res)
}

fn base64_text(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn streamed_answers_have_a_prelude_and_a_body() {
        let mut payload = br#"{"statusCode":201,"headers":{"x-a":"b"}}"#.to_vec();
        payload.extend_from_slice(&[0; 8]);
        payload.extend_from_slice(b"chunk one, chunk two");
        let res = streamed(&payload).unwrap();
        assert_eq!(res.status(), StatusCode::CREATED);
        assert_eq!(res.headers()["x-a"], "b");
        assert_eq!(res.headers()["content-type"], "application/octet-stream");
        let body = axum::body::to_bytes(res.into_body(), 1024).await.unwrap();
        assert_eq!(&body[..], b"chunk one, chunk two");
        assert!(streamed(b"{\"statusCode\":200}").is_none());
    }

    #[test]
    fn url_ids_from_host_names() {
        assert_eq!(
            url_id("abc123.lambda-url.us-east-1.localhost"),
            Some("abc123")
        );
        assert_eq!(url_id("abc123.lambda-url.us-east-1.on.aws"), Some("abc123"));
        assert_eq!(url_id("a.b.lambda-url.us-east-1.localhost"), None);
        assert_eq!(url_id(".lambda-url.x"), None);
        assert_eq!(url_id("localhost"), None);
    }
}
