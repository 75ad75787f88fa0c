//! Browsers and buckets: a bucket's CORS configuration decides which web pages may use it,
//! as S3's does, ahead of the AWS listener's browser boundary (which refuses every foreign
//! origin).
//!
//! Only two kinds of cross-origin requests get past the boundary, and only for a bucket whose
//! CORS rules allow the page's origin and method: a CORS preflight (`OPTIONS` with
//! `Access-Control-Request-Method`), answered from the rules; and a request with its
//! credentials in a presigned URL (how apps let a page upload or download one object), run with
//! the `Access-Control-Allow-*` headers added. Everything else with a foreign `Origin` meets
//! the boundary. A bucket without CORS rules, like S3's, allows no page at all: the owner opts
//! in per bucket and per origin.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use eddy_core::buckets::CorsRule;

use super::{error, new_request_id, vhost_bucket};
use crate::App;

/// The bucket a request addresses (virtual host, else the first path segment).
fn bucket_of(req: &Request) -> Option<String> {
    if let Some(b) = vhost_bucket(req.headers()) {
        return Some(b);
    }
    let first = req.uri().path().trim_start_matches('/').split('/').next()?;
    (!first.is_empty()).then(|| first.to_owned())
}

/// Runs before the browser boundary (see the module docs).
pub async fn gate(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    let Some(origin) = req
        .headers()
        .get("origin")
        .and_then(|o| o.to_str().ok())
        .map(str::to_owned)
    else {
        return next.run(req).await;
    };
    let preflight = req.method() == Method::OPTIONS
        && req.headers().contains_key("access-control-request-method");
    let presigned = super::super::presigned(req.uri());
    if !preflight && !presigned {
        return next.run(req).await;
    }
    let Some(def) = bucket_of(&req).and_then(|b| app.buckets.get(&b)) else {
        return next.run(req).await;
    };
    let request_id = new_request_id();
    let Some(rules) = def.cors.clone() else {
        return forbidden(
            &request_id,
            "CORSResponse",
            "CORS is not enabled for this bucket.",
        );
    };
    if preflight {
        let method = req
            .headers()
            .get("access-control-request-method")
            .and_then(|m| m.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let headers: Vec<String> = req
            .headers()
            .get("access-control-request-headers")
            .and_then(|h| h.to_str().ok())
            .map(|h| {
                h.split(',')
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        let Some(rule) = rules.iter().find(|r| r.allows(&origin, &method, &headers)) else {
            return not_allowed(&request_id);
        };
        let mut res = Response::new(axum::body::Body::empty());
        allow(&mut res, rule, &origin);
        let h = res.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&rule.allowed_methods.join(", ")) {
            h.insert("access-control-allow-methods", v);
        }
        if !headers.is_empty()
            && let Ok(v) = HeaderValue::from_str(&headers.join(", "))
        {
            h.insert("access-control-allow-headers", v);
        }
        if let Some(age) = rule.max_age_seconds
            && let Ok(v) = HeaderValue::from_str(&age.to_string())
        {
            h.insert("access-control-max-age", v);
        }
        return res;
    }
    let method = req.method().as_str().to_owned();
    let Some(rule) = rules
        .iter()
        .find(|r| r.allows(&origin, &method, &[]))
        .cloned()
    else {
        return not_allowed(&request_id);
    };
    let region = app.config.default_region.clone();
    let mut res = super::call(&app, &region, req).await;
    allow(&mut res, &rule, &origin);
    res
}

fn allow(res: &mut Response, rule: &CorsRule, origin: &str) {
    let h = res.headers_mut();
    let allowed = if rule.allowed_origins.iter().any(|o| o == "*") {
        "*"
    } else {
        origin
    };
    if let Ok(v) = HeaderValue::from_str(allowed) {
        h.insert("access-control-allow-origin", v);
    }
    if !rule.expose_headers.is_empty()
        && let Ok(v) = HeaderValue::from_str(&rule.expose_headers.join(", "))
    {
        h.insert("access-control-expose-headers", v);
    }
    h.insert(
        "vary",
        HeaderValue::from_static(
            "Origin, Access-Control-Request-Headers, Access-Control-Request-Method",
        ),
    );
}

fn not_allowed(request_id: &str) -> Response {
    forbidden(
        request_id,
        "AccessForbidden",
        "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.",
    )
}

fn forbidden(request_id: &str, code: &str, message: &str) -> Response {
    error(StatusCode::FORBIDDEN, code, message, request_id)
}
