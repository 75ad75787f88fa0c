//! Function URL configurations through the Lambda API (`/2021-10-31/functions/NAME/url`):
//! CreateFunctionUrlConfig, GetFunctionUrlConfig, UpdateFunctionUrlConfig,
//! DeleteFunctionUrlConfig, ListFunctionUrlConfigs. The URLs are served by
//! [`crate::function_urls`] on the HTTP listener.

use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{function_arn, function_error, not_found_404, qualifier_of};
use crate::App;
use crate::aws::Ctx;
use crate::aws::rest::{self, RestRequest};
use crate::error::{ApiError, Violations};
use crate::functions::{FunctionError, UrlConfig, UrlCors, UrlUpdate};

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct CorsInput {
    allow_credentials: Option<bool>,
    allow_headers: Option<Vec<String>>,
    allow_methods: Option<Vec<String>>,
    allow_origins: Option<Vec<String>>,
    expose_headers: Option<Vec<String>>,
    max_age: Option<i64>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct Input {
    auth_type: Option<String>,
    cors: Option<CorsInput>,
    invoke_mode: Option<String>,
}

/// `yyyy-mm-ddThh:mm:ss.ffffffZ`, as Lambda dates URL configs.
fn timestamp(ms: i64) -> String {
    let t = eddy_model::event::format_time(ms);
    format!("{}.{:03}000Z", t.trim_end_matches('Z'), ms.rem_euclid(1000))
}

/// The members' model constraints.
fn check(input: &Input) -> Result<UrlUpdate, ApiError> {
    let mut v = Violations::new();
    v.one_of("authType", input.auth_type.as_deref(), &["NONE", "AWS_IAM"]);
    v.one_of(
        "invokeMode",
        input.invoke_mode.as_deref(),
        &["BUFFERED", "RESPONSE_STREAM"],
    );
    if let Some(c) = &input.cors {
        let mut list = |member: &str, l: &Option<Vec<String>>, items: usize, len: usize| {
            if let Some(l) = l
                && (l.len() > items || l.iter().any(|s| s.is_empty() || s.len() > len))
            {
                v.add(
                    member,
                    Some(&format!("[{}]", l.join(", "))),
                    format!(
                        "Member must have length less than or equal to {items}, and each item \
                         1 to {len} characters"
                    ),
                );
            }
        };
        list("cors.allowHeaders", &c.allow_headers, 100, 1024);
        list("cors.allowMethods", &c.allow_methods, 6, 6);
        list("cors.allowOrigins", &c.allow_origins, 100, 253);
        list("cors.exposeHeaders", &c.expose_headers, 100, 1024);
        v.range("cors.maxAge", c.max_age, 0, 86_400);
    }
    v.finish()?;
    Ok(UrlUpdate {
        auth_type: input.auth_type.clone(),
        invoke_mode: input.invoke_mode.clone(),
        cors: input.cors.as_ref().map(|c| UrlCors {
            allow_credentials: c.allow_credentials,
            allow_headers: c.allow_headers.clone().unwrap_or_default(),
            allow_methods: c.allow_methods.clone().unwrap_or_default(),
            allow_origins: c.allow_origins.clone().unwrap_or_default(),
            expose_headers: c.expose_headers.clone().unwrap_or_default(),
            max_age: c.max_age.and_then(|m| u32::try_from(m).ok()),
        }),
    })
}

fn cors_shape(c: &UrlCors) -> Value {
    let mut out = json!({});
    if let Some(b) = c.allow_credentials {
        out["AllowCredentials"] = json!(b);
    }
    for (k, l) in [
        ("AllowHeaders", &c.allow_headers),
        ("AllowMethods", &c.allow_methods),
        ("AllowOrigins", &c.allow_origins),
        ("ExposeHeaders", &c.expose_headers),
    ] {
        if !l.is_empty() {
            out[k] = json!(l);
        }
    }
    if let Some(m) = c.max_age {
        out["MaxAge"] = json!(m);
    }
    out
}

/// A `FunctionUrlConfig`; `created` leaves out `LastModifiedTime` (CreateFunctionUrlConfig's
/// answer).
fn shape(app: &App, ctx: &Ctx, name: &str, qualifier: &str, c: &UrlConfig, created: bool) -> Value {
    let arn = if qualifier.is_empty() {
        function_arn(app, ctx, name)
    } else {
        function_arn(app, ctx, &format!("{name}:{qualifier}"))
    };
    let mut out = json!({
        "FunctionUrl": crate::function_urls::url(app, &ctx.region, &c.url_id),
        "FunctionArn": arn,
        "AuthType": c.auth_type,
        "CreationTime": timestamp(c.created_ms),
        "InvokeMode": c.invoke_mode,
    });
    if !created {
        out["LastModifiedTime"] = json!(timestamp(c.last_modified_ms));
    }
    if let Some(cors) = &c.cors {
        out["Cors"] = cors_shape(cors);
    }
    out
}

/// The function name and the qualifier (an alias) of a URL config request.
fn target(raw: &str, req: &RestRequest) -> Result<(String, Option<String>), ApiError> {
    qualifier_of(raw, req)
}

/// `Function does not exist` (Create, Update, List of a missing function or alias).
fn no_function() -> ApiError {
    not_found_404("Function does not exist")
}

fn error(app: &App, ctx: &Ctx, e: FunctionError, missing: fn() -> ApiError) -> ApiError {
    match e {
        FunctionError::NotFound(_) | FunctionError::QualifierNotFound { .. } => missing(),
        e => function_error(app, ctx, e),
    }
}

fn gone() -> ApiError {
    not_found_404("The resource you requested does not exist.")
}

pub(super) async fn create(
    app: &App,
    ctx: &Ctx,
    raw: &str,
    req: &RestRequest,
) -> Result<Response, ApiError> {
    let input: Input = rest::parse(&req.body)?;
    if input.auth_type.is_none() {
        let mut v = Violations::new();
        v.required("authType");
        v.finish()?;
    }
    let update = check(&input)?;
    let (name, qualifier) = target(raw, req)?;
    let c = app
        .functions
        .create_url(&ctx.region, &name, qualifier.as_deref(), update)
        .await
        .map_err(|e| error(app, ctx, e, no_function))?;
    let q = qualifier.unwrap_or_default();
    rest::json(StatusCode::CREATED, &shape(app, ctx, &name, &q, &c, true))
}

pub(super) fn get(
    app: &App,
    ctx: &Ctx,
    raw: &str,
    req: &RestRequest,
) -> Result<Response, ApiError> {
    let (name, qualifier) = target(raw, req)?;
    let c = app
        .functions
        .url(&ctx.region, &name, qualifier.as_deref())
        .map_err(|e| error(app, ctx, e, gone))?;
    let q = qualifier.unwrap_or_default();
    rest::json(StatusCode::OK, &shape(app, ctx, &name, &q, &c, false))
}

pub(super) async fn update(
    app: &App,
    ctx: &Ctx,
    raw: &str,
    req: &RestRequest,
) -> Result<Response, ApiError> {
    let input: Input = rest::parse(&req.body)?;
    let update = check(&input)?;
    let (name, qualifier) = target(raw, req)?;
    let c = app
        .functions
        .update_url(&ctx.region, &name, qualifier.as_deref(), update)
        .await
        .map_err(|e| match e {
            FunctionError::UrlNotFound(_) => gone(),
            e => error(app, ctx, e, no_function),
        })?;
    let q = qualifier.unwrap_or_default();
    rest::json(StatusCode::OK, &shape(app, ctx, &name, &q, &c, false))
}

pub(super) async fn delete(
    app: &App,
    ctx: &Ctx,
    raw: &str,
    req: &RestRequest,
) -> Result<Response, ApiError> {
    let (name, qualifier) = target(raw, req)?;
    app.functions
        .delete_url(&ctx.region, &name, qualifier.as_deref())
        .await
        .map_err(|e| error(app, ctx, e, gone))?;
    Ok(rest::empty(StatusCode::NO_CONTENT))
}

pub(super) fn list(
    app: &App,
    ctx: &Ctx,
    raw: &str,
    req: &RestRequest,
) -> Result<Response, ApiError> {
    let (name, _) = target(raw, req)?;
    let max = match req.query("MaxItems") {
        None => 50,
        Some(s) => match s.parse::<usize>() {
            Ok(n) if (1..=50).contains(&n) => n,
            _ => {
                return Err(ApiError::validation(format!(
                    "1 validation error detected: Value '{s}' at 'maxItems' failed to satisfy \
                     constraint: Member must have value between 1 and 50"
                )));
            }
        },
    };
    let urls = app
        .functions
        .urls(&ctx.region, &name)
        .map_err(|e| error(app, ctx, e, no_function))?;
    let all: Vec<(String, Value)> = urls
        .iter()
        .map(|(q, c)| (q.clone(), shape(app, ctx, &name, q, c, false)))
        .collect();
    let start = match req.query("Marker") {
        Some(m) => all.iter().position(|(q, _)| q == m).map_or(0, |i| i + 1),
        None => 0,
    };
    let rest_items = &all[start.min(all.len())..];
    let page: Vec<Value> = rest_items
        .iter()
        .take(max)
        .map(|(_, v)| v.clone())
        .collect();
    let mut out = json!({"FunctionUrlConfigs": page});
    if rest_items.len() > max {
        out["NextMarker"] = json!(rest_items[max - 1].0);
    }
    rest::json(StatusCode::OK, &out)
}
