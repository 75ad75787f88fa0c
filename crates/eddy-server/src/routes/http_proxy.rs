//! `HTTP_PROXY` integrations: a route's request forwarded to an HTTP backend, as API Gateway
//! HTTP APIs do it. The integration URI is the backend's URL, with `{name}` (and `{proxy}` for
//! a greedy `{proxy+}`) replaced by the route's path parameters; the request's query string,
//! headers (less hop-by-hop ones and `Host`) and body go along with the method (the
//! integration's, or the request's for `ANY`). Parameter mapping changes what is sent:
//! `append:`/`overwrite:`/`remove:` on `header.NAME` and `querystring.NAME`, and
//! `overwrite:path`, with static values or selection expressions. The backend's status,
//! headers and body come back as they are (up to the route listener's 10 MB); a backend that
//! cannot be reached is a 500, one that does not answer within the integration's timeout a 504.
//!
//! The connection obeys eddy's egress policy (no cloud metadata or link-local addresses), and
//! redirects are passed back to the caller, not followed, as API Gateway does.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::Response;

use super::integrations::evaluate_text;
use super::proxy::{self, RequestInfo};
use crate::App;

/// Headers that describe one hop, never forwarded.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
];

/// The largest backend answer passed back (the routes listener's request limit).
const MAX_RESPONSE_BYTES: usize = 10 * 1024 * 1024;

/// The backend URL: `uri` with the route's path parameters in place of `{name}`, each
/// percent-encoded again (a greedy parameter segment by segment), so a parameter can never add
/// path segments, a query or a fragment of its own; `None` when a parameter holds a `.` or `..`
/// segment (it would climb the backend's path). One pass over `uri`: a value that looks like a
/// placeholder stays text.
pub fn target_url(uri: &str, info: &RequestInfo) -> Option<String> {
    let mut out = String::with_capacity(uri.len());
    let mut rest = uri;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            out.push_str(&rest[open..]);
            return Some(out);
        };
        let name = after[..close].trim_end_matches('+');
        match info
            .path_params
            .iter()
            .find(|(k, _)| k.trim_end_matches('+') == name)
        {
            Some((_, v)) => {
                let segments: Vec<&str> = v.split('/').collect();
                if segments.iter().any(|s| *s == "." || *s == "..") {
                    return None;
                }
                let encoded: Vec<String> = segments
                    .iter()
                    .map(|s| eddy_net::url::percent_encode(s, b""))
                    .collect();
                out.push_str(&encoded.join("/"));
            }
            None => out.push_str(&rest[open..open + close + 2]),
        }
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    Some(out)
}

/// What parameter mapping makes of the request: the path (when overwritten), the query pairs
/// and the headers sent.
struct Mapped {
    path: Option<String>,
    query: Vec<(String, String)>,
    headers: HeaderMap,
}

fn map_request(info: &RequestInfo, params: &BTreeMap<String, String>) -> Mapped {
    let mut headers = HeaderMap::new();
    for (k, v) in &info.headers {
        if !HOP_BY_HOP.contains(&k.as_str()) {
            headers.append(k.clone(), v.clone());
        }
    }
    if let Ok(v) = HeaderValue::from_str(&info.source_ip) {
        headers.append("x-forwarded-for", v);
    }
    let mut query: Vec<(String, String)> = eddy_net::url::form_pairs(&info.raw_query).collect();
    let mut path = None;
    for (key, expr) in params {
        let Some((op, target)) = key.split_once(':') else {
            continue;
        };
        let value = evaluate_text(info, expr);
        if let Some(name) = target.strip_prefix("header.") {
            let Ok(name) = HeaderName::from_bytes(name.as_bytes()) else {
                continue;
            };
            match (op, value.and_then(|v| HeaderValue::from_str(&v).ok())) {
                ("remove", _) => {
                    headers.remove(&name);
                }
                ("overwrite", Some(v)) => {
                    headers.insert(name, v);
                }
                ("append", Some(v)) => {
                    headers.append(name, v);
                }
                _ => {}
            }
        } else if let Some(name) = target.strip_prefix("querystring.") {
            match (op, value) {
                ("remove", _) => query.retain(|(k, _)| k != name),
                ("overwrite", Some(v)) => {
                    query.retain(|(k, _)| k != name);
                    query.push((name.to_owned(), v));
                }
                ("append", Some(v)) => query.push((name.to_owned(), v)),
                _ => {}
            }
        } else if target == "path" && op == "overwrite" {
            path = value;
        }
    }
    Mapped {
        path,
        query,
        headers,
    }
}

/// Forwards the request to the backend and answers with what it answers.
pub async fn forward(
    app: &App,
    info: &RequestInfo,
    uri: &str,
    method: &str,
    params: &BTreeMap<String, String>,
    timeout: std::time::Duration,
) -> Response {
    let mapped = map_request(info, params);
    let Some(target) = target_url(uri, info) else {
        return proxy::message(StatusCode::BAD_REQUEST, "Bad Request");
    };
    let mut url = match reqwest::Url::parse(&target) {
        Ok(u) => u,
        Err(_) => return proxy::internal_error(),
    };
    if let Some(p) = &mapped.path {
        url.set_path(p);
    }
    if !mapped.query.is_empty() {
        url.query_pairs_mut()
            .extend_pairs(mapped.query.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    }
    // IP literals do not pass the resolver: checked here.
    if let Err(e) = app.config.egress.check_url(&url) {
        tracing::warn!(error = %e, "an HTTP_PROXY integration names a refused address");
        return proxy::internal_error();
    }
    let method = if method == "ANY" {
        &info.method
    } else {
        method
    };
    let Ok(method) = reqwest::Method::from_bytes(method.as_bytes()) else {
        return proxy::internal_error();
    };
    let sent = app
        .proxy_client
        .request(method, url)
        .headers(mapped.headers)
        .body(info.body.clone())
        .timeout(timeout)
        .send()
        .await;
    let res = match sent {
        Ok(r) => r,
        Err(e) if e.is_timeout() => {
            return proxy::message(StatusCode::GATEWAY_TIMEOUT, "Endpoint request timed out");
        }
        Err(e) => {
            tracing::debug!(error = %e, "an HTTP_PROXY backend cannot be reached");
            return proxy::internal_error();
        }
    };
    let status = res.status();
    let mut headers = HeaderMap::new();
    for (k, v) in res.headers() {
        if !HOP_BY_HOP.contains(&k.as_str()) {
            headers.append(k.clone(), v.clone());
        }
    }
    if res
        .content_length()
        .is_some_and(|n| n > MAX_RESPONSE_BYTES as u64)
    {
        return proxy::internal_error();
    }
    let mut body = Vec::new();
    let mut res = res;
    loop {
        match res.chunk().await {
            Ok(Some(c)) => {
                body.extend_from_slice(&c);
                if body.len() > MAX_RESPONSE_BYTES {
                    return proxy::internal_error();
                }
            }
            Ok(None) => break,
            Err(e) if e.is_timeout() => {
                return proxy::message(StatusCode::GATEWAY_TIMEOUT, "Endpoint request timed out");
            }
            Err(_) => return proxy::internal_error(),
        }
    }
    let mut out = Response::new(Body::from(body));
    *out.status_mut() = status;
    *out.headers_mut() = headers;
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Bytes;

    fn info() -> RequestInfo {
        let mut headers = HeaderMap::new();
        headers.insert("host", HeaderValue::from_static("api.example"));
        headers.insert("x-keep", HeaderValue::from_static("1"));
        headers.insert("connection", HeaderValue::from_static("close"));
        RequestInfo {
            method: "GET".into(),
            raw_path: "/pets/7".into(),
            raw_query: "a=1&b=2".into(),
            headers,
            body: Bytes::new(),
            source_ip: "10.0.0.1".into(),
            protocol: "HTTP/1.1",
            api_id: "api".into(),
            account: "123456789012".into(),
            region: "us-east-1".into(),
            domain: "api.example".into(),
            request_id: "rid".into(),
            time_ms: 0,
            route_key: "GET /pets/{proxy+}".into(),
            path_params: vec![("proxy".into(), "7/toys".into())],
            stage_variables: BTreeMap::new(),
            stage: "$default".into(),
            authorizer: None,
        }
    }

    #[test]
    fn urls_take_the_path_parameters() {
        assert_eq!(
            target_url("http://backend/items/{proxy}", &info()).as_deref(),
            Some("http://backend/items/7/toys")
        );
        assert_eq!(
            target_url("http://backend/x", &info()).as_deref(),
            Some("http://backend/x")
        );
        let with = |v: &str| RequestInfo {
            path_params: vec![("proxy".into(), v.into())],
            ..info()
        };
        // Decoded `?`, `#` and `{x}` stay in the path; `..` segments are refused.
        assert_eq!(
            target_url("http://b/p/{proxy}", &with("a?debug=1#x")).as_deref(),
            Some("http://b/p/a%3Fdebug%3D1%23x")
        );
        assert_eq!(
            target_url("http://b/p/{proxy}/{other}", &with("{other}")).as_deref(),
            Some("http://b/p/%7Bother%7D/{other}")
        );
        assert_eq!(target_url("http://b/p/{proxy}", &with("../admin")), None);
        assert_eq!(target_url("http://b/p/{proxy}", &with("a/./b")), None);
    }

    #[test]
    fn parameter_mapping() {
        let params: BTreeMap<String, String> = [
            ("append:header.x-from", "$request.path.proxy"),
            ("overwrite:header.x-keep", "2"),
            ("remove:querystring.a", "''"),
            ("overwrite:querystring.c", "$context.requestId"),
            ("overwrite:path", "/other"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let m = map_request(&info(), &params);
        assert_eq!(m.headers["x-from"], "7/toys");
        assert_eq!(m.headers["x-keep"], "2");
        assert_eq!(m.headers["x-forwarded-for"], "10.0.0.1");
        assert!(!m.headers.contains_key("connection") && !m.headers.contains_key("host"));
        assert_eq!(
            m.query,
            vec![
                ("b".to_owned(), "2".to_owned()),
                ("c".to_owned(), "rid".to_owned())
            ]
        );
        assert_eq!(m.path.as_deref(), Some("/other"));
    }
}
