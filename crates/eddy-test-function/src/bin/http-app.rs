//! An unmodified `lambda_http` function with an axum router inside, for eddy's route tests: what
//! a user deploys behind API Gateway, unchanged. Its answers report what it received (which
//! payload variant `lambda_http` parsed, path and query parameters, headers, cookies, body), so
//! tests can assert the event eddy built.
//!
//! Routes: `GET /hello/{name}` (JSON report), `POST /echo` (the body back, bytes as received,
//! status from `x-status`), `GET /cookies` (sets two cookies), anything else 404 from axum.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Request};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use lambda_http::request::RequestContext;
use lambda_http::{Error, RequestExt};
use serde_json::json;

fn variant(req: &Request) -> &'static str {
    match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(_)) => "apigw_http_v2",
        Some(RequestContext::ApiGatewayV1(_)) => "apigw_rest_v1",
        Some(_) => "other",
        None => "none",
    }
}

async fn hello(Path(name): Path<String>, req: Request) -> Response {
    let query: Vec<(String, String)> = req
        .query_string_parameters_ref()
        .map(|q| {
            q.iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect()
        })
        .unwrap_or_default();
    let headers = req.headers();
    let cookie = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join("; ");
    axum::Json(json!({
        "variant": variant(&req),
        "name": name,
        "path": req.uri().path(),
        "query": query,
        "x_multi": headers.get_all("x-multi").iter().filter_map(|v| v.to_str().ok()).collect::<Vec<_>>(),
        "user_agent": headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()),
        "cookie": cookie,
    }))
    .into_response()
}

async fn echo(headers: HeaderMap, body: Bytes) -> Response {
    let status = headers
        .get("x-status")
        .and_then(|v| v.to_str().ok())
        .and_then(|s| s.parse().ok())
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::OK);
    let ct = headers
        .get(header::CONTENT_TYPE)
        .cloned()
        .unwrap_or_else(|| header::HeaderValue::from_static("application/octet-stream"));
    (status, [(header::CONTENT_TYPE, ct)], body).into_response()
}

async fn cookies() -> Response {
    let mut res = "cookies set".into_response();
    let h = res.headers_mut();
    h.append(
        header::SET_COOKIE,
        header::HeaderValue::from_static("a=1; Path=/"),
    );
    h.append(
        header::SET_COOKIE,
        header::HeaderValue::from_static("b=2; HttpOnly"),
    );
    res
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let app = Router::new()
        .route("/hello/{name}", get(hello))
        .route("/echo", post(echo))
        .route("/cookies", get(cookies));
    lambda_http::run(app).await
}
