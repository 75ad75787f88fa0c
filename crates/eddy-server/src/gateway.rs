//! The HTTP routes listener (`--http-listen`): user APIs as API Gateway HTTP APIs serve them.
//!
//! Per request, against the current compiled table ([`crate::routes::Routes::table`], one
//! `Arc` clone): find the API (`Host: {apiId}.execute-api.localhost`, the path prefix
//! `/_api/{apiId}`, or the longest matching base path), answer a CORS preflight, select the
//! route (404/405), take a throttle token (429), read the body up to 10 MB (413), check the API
//! key and the authorizer (401/403), run the integration (function proxy, bus, queue) within its
//! timeout (504), then add CORS headers. Every answer carries `apigw-requestid`.
//!
//! Requests to a function URL's host (`URL_ID.lambda-url.…`) go to [`crate::function_urls`].

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use eddy_runtime::{Invocation, InvokeError};

use crate::App;
use crate::metrics::RouteLabels;
use crate::routes::cors::CorsPolicy;
use crate::routes::matcher::Selected;
use crate::routes::proxy::{self, RequestInfo};
use crate::routes::{Integration, MAX_BODY_BYTES, PayloadFormat, RouteAuth, auth, integrations};

/// The suffix of the Host names that address one API (`{apiId}.execute-api.localhost`; any
/// `{apiId}.execute-api.…` name is accepted).
pub const HOST_SUFFIX: &str = ".execute-api.localhost";

/// The HTTP listener's port, as the addresses eddy hands out name it (`3000` before it is
/// known).
pub fn port(app: &App) -> &str {
    app.config
        .http_endpoint
        .as_deref()
        .and_then(|e| e.rsplit_once(':'))
        .map(|(_, p)| p.trim_end_matches('/'))
        .unwrap_or("3000")
}

pub fn router(app: Arc<App>) -> Router {
    Router::new().fallback(handle).with_state(app)
}

fn not_found() -> Response {
    proxy::message(StatusCode::NOT_FOUND, "Not Found")
}

/// Which API and route answered, for metrics.
#[derive(Default)]
struct Tag {
    api: Option<String>,
    route: Option<String>,
}

async fn handle(State(app): State<Arc<App>>, req: Request) -> Response {
    let started = std::time::Instant::now();
    let request_id = crate::routes::new_id(14);
    let mut tag = Tag::default();
    let mut res = serve(&app, req, &request_id, &mut tag).await;
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        res.headers_mut().insert("apigw-requestid", v);
    }
    app.metrics
        .http_requests
        .get_or_create(&RouteLabels {
            api: tag.api.unwrap_or_else(|| "-".to_owned()),
            route: tag.route.unwrap_or_else(|| "-".to_owned()),
            status: res.status().as_str().to_owned(),
        })
        .inc();
    app.metrics
        .http_request_seconds
        .observe(started.elapsed().as_secs_f64());
    res
}

async fn serve(app: &App, req: Request, request_id: &str, tag: &mut Tag) -> Response {
    let time_ms = app.clock.now_ms();
    let (parts, body) = req.into_parts();
    let table = app.routes.table();
    let host = parts
        .headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .or_else(|| parts.uri.host())
        .unwrap_or("localhost");
    let host_name = match host.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    }
    .to_owned();
    let host_name = host_name.as_str();
    if let Some(id) = crate::function_urls::url_id(host_name) {
        tag.api = Some(format!("lambda-url:{id}"));
        let id = id.to_owned();
        return crate::function_urls::serve(app, parts, body, &id, host_name, request_id).await;
    }
    let path = parts.uri.path();
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    // The API, the segments its routes see, and the raw path its functions see.
    // `{apiId}.execute-api.localhost`, or any `{apiId}.execute-api.…` a client kept from AWS.
    let host_id = host_name
        .split_once(".execute-api.")
        .map(|(id, _)| id)
        .filter(|id| !id.is_empty() && !id.contains('.'));
    let (api, mut skip, raw_path) = if let Some(id) = host_id {
        // Host names are case-insensitive; API ids from a manifest may have capitals.
        let found = table.by_id.get(id).or_else(|| {
            table
                .by_id
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(id))
                .map(|(_, v)| v)
        });
        match found {
            Some(api) => (api, 0, path.to_owned()),
            None => return not_found(),
        }
    } else if segments.first() == Some(&"_api") && segments.len() >= 2 {
        match table.by_id.get(segments[1]) {
            Some(api) => {
                let rest = segments[2..].join("/");
                (api, 2, format!("/{rest}"))
            }
            None => return not_found(),
        }
    } else {
        // The first API (longest base path first) with a route for the request; else one that
        // serves the path under other methods; else the first (its 404, with its CORS headers).
        let wanted = if CorsPolicy::is_preflight(parts.method.as_str(), &parts.headers) {
            parts
                .headers
                .get("access-control-request-method")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("OPTIONS")
        } else {
            parts.method.as_str()
        };
        let (mut first, mut other_method, mut chosen) = (None, None, None);
        for (api, n) in table.by_path(&segments) {
            first.get_or_insert((api, n));
            match api.routes.select(wanted, &segments[n..]) {
                Selected::Route(..) => {
                    chosen = Some((api, n));
                    break;
                }
                Selected::MethodNotAllowed(_) => {
                    other_method.get_or_insert((api, n));
                }
                Selected::NotFound => {}
            }
        }
        match chosen.or(other_method).or(first) {
            Some((api, n)) => (api, n, path.to_owned()),
            None => return not_found(),
        }
    };
    tag.api = Some(api.def.api_id.clone());
    // A named stage serves the paths that start with its name (`/prod/...`), `$default` the
    // rest, as API Gateway's stage URLs; the path functions see keeps the stage's name.
    let stage = match segments.get(skip) {
        Some(first)
            if *first != "$default" && api.def.stages.iter().any(|s| s.stage_name == *first) =>
        {
            skip += 1;
            (*first).to_owned()
        }
        _ => "$default".to_owned(),
    };
    let method = parts.method.as_str();
    if let Some(cors) = &api.cors
        && CorsPolicy::is_preflight(method, &parts.headers)
    {
        let mut res = Response::new(Body::empty());
        *res.status_mut() = StatusCode::NO_CONTENT;
        *res.headers_mut() = cors.preflight(&parts.headers);
        return res;
    }
    let route_segments = segments.get(skip..).unwrap_or(&[]);
    let (index, path_params) = match api.routes.select(method, route_segments) {
        Selected::Route(i, p) => (i, p),
        Selected::NotFound => return decorate(api, &parts.headers, not_found()),
        Selected::MethodNotAllowed(allowed) => {
            let mut res = proxy::message(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed");
            if let Ok(v) = HeaderValue::from_str(&allowed.join(", ")) {
                res.headers_mut().insert("allow", v);
            }
            return decorate(api, &parts.headers, res);
        }
    };
    let Some(route) = api.compiled.get(index) else {
        return not_found();
    };
    tag.route = Some(route.route_key.clone());
    if let Some(bucket) = &route.throttle
        && let Err(secs) = bucket.take()
    {
        let mut res = proxy::message(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests");
        res.headers_mut()
            .insert("retry-after", HeaderValue::from(secs));
        return decorate(api, &parts.headers, res);
    }
    let (body, _held) =
        match eddy_net::read_body(&parts.headers, body, MAX_BODY_BYTES, &app.bodies).await {
            Ok(read) => read,
            Err(eddy_net::BodyError::TooLarge { .. }) => {
                let res = proxy::message(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large");
                return decorate(api, &parts.headers, res);
            }
            Err(eddy_net::BodyError::TimedOut) => {
                let res = proxy::message(StatusCode::REQUEST_TIMEOUT, "Request Timeout");
                return decorate(api, &parts.headers, res);
            }
            Err(eddy_net::BodyError::Failed(_)) => {
                let res = proxy::message(StatusCode::BAD_REQUEST, "Bad Request");
                return decorate(api, &parts.headers, res);
            }
            Err(eddy_net::BodyError::Busy) => {
                let res = proxy::message(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable");
                return decorate(api, &parts.headers, res);
            }
        };
    let source_ip = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "127.0.0.1".to_owned(), |c| c.0.ip().to_string());
    let protocol = match parts.version {
        axum::http::Version::HTTP_10 => "HTTP/1.0",
        axum::http::Version::HTTP_2 => "HTTP/2.0",
        _ => "HTTP/1.1",
    };
    let mut info = RequestInfo {
        method: method.to_owned(),
        raw_path,
        raw_query: parts.uri.query().unwrap_or("").to_owned(),
        headers: parts.headers,
        body,
        source_ip,
        protocol,
        api_id: api.def.api_id.clone(),
        account: app.config.account_id.clone(),
        region: api.def.region.clone(),
        domain: host_name.to_owned(),
        request_id: request_id.to_owned(),
        time_ms,
        route_key: route.route_key.clone(),
        path_params,
        stage_variables: api
            .def
            .stages
            .iter()
            .find(|s| s.stage_name == stage)
            .map(|s| s.stage_variables.clone())
            .unwrap_or_default(),
        stage,
        authorizer: None,
    };
    if route.api_key_required && !auth::api_key_ok(&info, &api.def.api_keys) {
        return decorate(api, &info.headers, auth::forbidden());
    }
    let authorized = match &route.auth {
        RouteAuth::None => Ok(None),
        RouteAuth::Jwt(a, scopes) => a.authorize(&info, scopes).await.map(Some),
        RouteAuth::Lambda(a) => a.authorize(app, &info).await.map(Some),
    };
    match authorized {
        Ok(a) => info.authorizer = a,
        Err(res) => return decorate(api, &info.headers, res),
    }
    let res = match &route.integration {
        None => proxy::internal_error(),
        Some(Integration::Function {
            function,
            format,
            timeout,
        }) => invoke(app, &info, function, *format, *timeout).await,
        Some(Integration::Bus { params, timeout }) => {
            within(*timeout, integrations::bus(app, &info, params)).await
        }
        Some(Integration::Queue { params, timeout }) => {
            within(*timeout, integrations::queue(app, &info, params)).await
        }
        Some(Integration::Http {
            uri,
            method,
            params,
            timeout,
        }) => crate::routes::http_proxy::forward(app, &info, uri, method, params, *timeout).await,
    };
    decorate(api, &info.headers, res)
}

fn timed_out() -> Response {
    proxy::message(StatusCode::GATEWAY_TIMEOUT, "Endpoint request timed out")
}

async fn within(
    timeout: std::time::Duration,
    f: impl std::future::Future<Output = Response>,
) -> Response {
    tokio::time::timeout(timeout, f)
        .await
        .unwrap_or_else(|_| timed_out())
}

fn decorate(
    api: &crate::routes::CompiledApi,
    request: &axum::http::HeaderMap,
    mut res: Response,
) -> Response {
    if let Some(cors) = &api.cors {
        cors.decorate(request, res.headers_mut());
    }
    res
}

/// Runs a function integration: the proxy event in, the mapped response out.
async fn invoke(
    app: &App,
    info: &RequestInfo,
    function: &crate::routes::FunctionRef,
    format: PayloadFormat,
    timeout: std::time::Duration,
) -> Response {
    let name = &function.name;
    let Ok(target) = app
        .functions
        .resolve(&function.region, name, function.qualifier.as_deref())
    else {
        tracing::warn!(function = %name, "a route's function (or its version or alias) does not exist");
        return proxy::internal_error();
    };
    let pool = &target.pool;
    let payload = match serde_json::to_vec(&info.event(format)) {
        Ok(p) => p,
        Err(_) => return proxy::internal_error(),
    };
    let inv = Invocation {
        payload: payload.into(),
        invoked_arn: target.invoked_arn.clone(),
        ..Invocation::default()
    };
    match tokio::time::timeout(timeout, pool.invoke(inv)).await {
        Err(_) => timed_out(),
        Ok(Err(InvokeError::TooManyRequests)) => {
            proxy::message(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable")
        }
        Ok(Ok(o)) if o.function_error.is_some() => {
            let timed = serde_json::from_slice::<serde_json::Value>(&o.payload)
                .ok()
                .and_then(|v| {
                    v.get("errorType")?
                        .as_str()
                        .map(|t| t == "Sandbox.Timedout")
                })
                .unwrap_or(false);
            if timed {
                timed_out()
            } else {
                proxy::internal_error()
            }
        }
        Ok(Ok(o)) => proxy::map_response(format, &o.payload).unwrap_or_else(|| {
            tracing::debug!(function = %name, "a function's answer is not a valid proxy response");
            proxy::internal_error()
        }),
    }
}
