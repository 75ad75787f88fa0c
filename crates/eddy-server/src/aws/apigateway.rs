//! The API Gateway v2 API (rest-json under `/v2/apis`) for HTTP APIs: APIs (with quick create),
//! routes, integrations, authorizers and stages. botocore's `apigatewayv2/2018-11-29` model is
//! the reference for paths, member names (camelCase on the wire) and status codes.
//!
//! eddy extensions, accepted in the same JSON bodies (the manifest and raw HTTP callers use
//! them; botocore refuses unknown members client-side): `basePath` and `apiKeys` on
//! CreateApi/UpdateApi, `jwksFile`/`jwksUri` in `jwtConfiguration`, and bus/queue integrations
//! through `integrationSubtype` `EventBridge-PutEvents` / `SQS-SendMessage` with AWS's
//! `requestParameters`.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::Ctx;
use super::rest::{self, RestRequest};
use crate::App;
use crate::error::ApiError;
use crate::routes::matcher::RouteKey;
use crate::routes::{
    ApiDef, AuthorizerDef, Cors, DEFAULT_TIMEOUT_MS, Integration, IntegrationDef, JwtConfig,
    RouteDef, StageDef, Throttle, function_ref, new_id,
};

type Reply = (&'static str, Result<Response, ApiError>);

/// Answers one API Gateway v2 call: the operation's name (for metrics) and its response.
pub async fn call(app: &Arc<App>, ctx: &Ctx, req: RestRequest) -> Reply {
    let path = req.path();
    let m = &req.method;
    let get = *m == Method::GET;
    let post = *m == Method::POST;
    let delete = *m == Method::DELETE;
    let patch = *m == Method::PATCH;
    match path.as_slice() {
        ["v2", "apis"] if post => ("CreateApi", create_api(app, ctx, &req).await),
        ["v2", "apis"] if get => ("GetApis", get_apis(app, ctx)),
        ["v2", "apis", id] if get => (
            "GetApi",
            find(app, ctx, id).and_then(|d| rest::json(StatusCode::OK, &api_json(app, &d))),
        ),
        ["v2", "apis", id] if patch => ("UpdateApi", update_api(app, ctx, id, &req).await),
        ["v2", "apis", id] if delete => ("DeleteApi", delete_api(app, ctx, id).await),
        ["v2", "apis", id, "routes"] if post => {
            ("CreateRoute", create_route(app, ctx, id, &req).await)
        }
        ["v2", "apis", id, "routes"] if get => (
            "GetRoutes",
            find(app, ctx, id).and_then(|d| items(d.routes.iter().map(route_json))),
        ),
        ["v2", "apis", id, "routes", rid] if get => (
            "GetRoute",
            find(app, ctx, id).and_then(|d| {
                let r = d.route(rid).ok_or_else(|| missing(app, "Route", rid))?;
                rest::json(StatusCode::OK, &route_json(r))
            }),
        ),
        ["v2", "apis", id, "routes", rid] if patch => {
            ("UpdateRoute", update_route(app, ctx, id, rid, &req).await)
        }
        ["v2", "apis", id, "routes", rid] if delete => (
            "DeleteRoute",
            remove(app, ctx, id, "Route", rid, |d| {
                let n = d.routes.len();
                d.routes.retain(|r| r.route_id != *rid);
                n != d.routes.len()
            })
            .await,
        ),
        ["v2", "apis", id, "integrations"] if post => (
            "CreateIntegration",
            create_integration(app, ctx, id, &req).await,
        ),
        ["v2", "apis", id, "integrations"] if get => (
            "GetIntegrations",
            find(app, ctx, id).and_then(|d| items(d.integrations.iter().map(integration_json))),
        ),
        ["v2", "apis", id, "integrations", iid] if get => (
            "GetIntegration",
            find(app, ctx, id).and_then(|d| {
                let i = d
                    .integration(iid)
                    .ok_or_else(|| missing(app, "Integration", iid))?;
                rest::json(StatusCode::OK, &integration_json(i))
            }),
        ),
        ["v2", "apis", id, "integrations", iid] if patch => (
            "UpdateIntegration",
            update_integration(app, ctx, id, iid, &req).await,
        ),
        ["v2", "apis", id, "integrations", iid] if delete => (
            "DeleteIntegration",
            remove(app, ctx, id, "Integration", iid, |d| {
                let n = d.integrations.len();
                d.integrations.retain(|i| i.integration_id != *iid);
                n != d.integrations.len()
            })
            .await,
        ),
        ["v2", "apis", id, "authorizers"] if post => (
            "CreateAuthorizer",
            create_authorizer(app, ctx, id, &req).await,
        ),
        ["v2", "apis", id, "authorizers"] if get => (
            "GetAuthorizers",
            find(app, ctx, id).and_then(|d| items(d.authorizers.iter().map(authorizer_json))),
        ),
        ["v2", "apis", id, "authorizers", aid] if get => (
            "GetAuthorizer",
            find(app, ctx, id).and_then(|d| {
                let a = d
                    .authorizer(aid)
                    .ok_or_else(|| missing(app, "Authorizer", aid))?;
                rest::json(StatusCode::OK, &authorizer_json(a))
            }),
        ),
        ["v2", "apis", id, "authorizers", aid] if patch => (
            "UpdateAuthorizer",
            update_authorizer(app, ctx, id, aid, &req).await,
        ),
        ["v2", "apis", id, "authorizers", aid] if delete => (
            "DeleteAuthorizer",
            remove(app, ctx, id, "Authorizer", aid, |d| {
                let n = d.authorizers.len();
                d.authorizers.retain(|a| a.authorizer_id != *aid);
                n != d.authorizers.len()
            })
            .await,
        ),
        ["v2", "apis", id, "stages"] if post => {
            ("CreateStage", create_stage(app, ctx, id, &req).await)
        }
        ["v2", "apis", id, "stages"] if get => (
            "GetStages",
            find(app, ctx, id).and_then(|d| items(d.stages.iter().map(stage_json))),
        ),
        ["v2", "apis", id, "stages", name] if get => (
            "GetStage",
            find(app, ctx, id).and_then(|d| {
                let s = d
                    .stages
                    .iter()
                    .find(|s| s.stage_name == *name)
                    .ok_or_else(|| missing(app, "Stage", name))?;
                rest::json(StatusCode::OK, &stage_json(s))
            }),
        ),
        ["v2", "apis", id, "stages", name] if patch => {
            ("UpdateStage", update_stage(app, ctx, id, name, &req).await)
        }
        ["v2", "tags", arn] => {
            let op = match *m {
                Method::GET => "GetTags",
                Method::POST => "TagResource",
                _ => "UntagResource",
            };
            (op, tags(app, arn, &req).await)
        }
        ["v2", "apis", id, "stages", name] if delete => (
            "DeleteStage",
            remove(app, ctx, id, "Stage", name, |d| {
                let n = d.stages.len();
                d.stages.retain(|s| s.stage_name != *name);
                n != d.stages.len()
            })
            .await,
        ),
        _ => (
            "unknown",
            Err(ApiError::new(
                "NotFoundException",
                StatusCode::NOT_FOUND,
                format!(
                    "eddy does not serve {} /{} of the API Gateway v2 API",
                    req.method,
                    path.join("/")
                ),
            )),
        ),
    }
}

/// A request body, with API Gateway's error code for malformed JSON.
fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    rest::parse(body).map_err(|e| bad(e.message))
}

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::bad("BadRequestException", message)
}

fn conflict(message: impl Into<String>) -> ApiError {
    ApiError::new("ConflictException", StatusCode::CONFLICT, message)
}

/// AWS's text: `Invalid API identifier specified 123456789012:abc`.
fn missing(app: &App, kind: &str, id: &str) -> ApiError {
    ApiError::new(
        "NotFoundException",
        StatusCode::NOT_FOUND,
        format!(
            "Invalid {kind} identifier specified {}:{id}",
            app.config.account_id
        ),
    )
}

fn find(app: &App, ctx: &Ctx, id: &str) -> Result<ApiDef, ApiError> {
    app.routes
        .get(&ctx.region, id)
        .ok_or_else(|| missing(app, "API", id))
}

fn items(values: impl Iterator<Item = Value>) -> Result<Response, ApiError> {
    rest::json(
        StatusCode::OK,
        &json!({ "items": values.collect::<Vec<_>>() }),
    )
}

fn iso(ms: i64) -> String {
    eddy_model::event::format_time(ms)
}

fn put_opt(m: &mut Map<String, Value>, k: &str, v: Option<Value>) {
    if let Some(v) = v {
        m.insert(k.to_owned(), v);
    }
}

/// `http://{apiId}.execute-api.localhost:{port}`.
fn endpoint(app: &App, id: &str) -> String {
    let port = crate::gateway::port(app);
    format!("http://{id}{}:{port}", crate::gateway::HOST_SUFFIX)
}

fn cors_json(c: &Cors) -> Value {
    let mut m = Map::new();
    let list = |v: &Vec<String>| (!v.is_empty()).then(|| json!(v));
    put_opt(&mut m, "allowOrigins", list(&c.allow_origins));
    put_opt(&mut m, "allowMethods", list(&c.allow_methods));
    put_opt(&mut m, "allowHeaders", list(&c.allow_headers));
    put_opt(&mut m, "exposeHeaders", list(&c.expose_headers));
    put_opt(&mut m, "maxAge", c.max_age.map(Value::from));
    put_opt(
        &mut m,
        "allowCredentials",
        c.allow_credentials.map(Value::from),
    );
    Value::Object(m)
}

fn api_json(app: &App, d: &ApiDef) -> Value {
    let mut m = Map::new();
    m.insert("apiId".into(), d.api_id.clone().into());
    m.insert("name".into(), d.name.clone().into());
    m.insert("protocolType".into(), "HTTP".into());
    m.insert("apiEndpoint".into(), endpoint(app, &d.api_id).into());
    m.insert("apiGatewayManaged".into(), false.into());
    m.insert(
        "apiKeySelectionExpression".into(),
        "$request.header.x-api-key".into(),
    );
    m.insert(
        "routeSelectionExpression".into(),
        "$request.method $request.path".into(),
    );
    m.insert("createdDate".into(), iso(d.created_ms).into());
    m.insert(
        "disableExecuteApiEndpoint".into(),
        d.disable_execute_api_endpoint.into(),
    );
    m.insert("ipAddressType".into(), "ipv4".into());
    m.insert("tags".into(), json!(d.tags));
    put_opt(&mut m, "corsConfiguration", d.cors.as_ref().map(cors_json));
    put_opt(
        &mut m,
        "description",
        d.description.clone().map(Value::from),
    );
    put_opt(&mut m, "version", d.version.clone().map(Value::from));
    // eddy's own members.
    m.insert("basePath".into(), d.base_path.clone().into());
    Value::Object(m)
}

fn route_json(r: &RouteDef) -> Value {
    let mut m = Map::new();
    m.insert("routeId".into(), r.route_id.clone().into());
    m.insert("routeKey".into(), r.route_key.clone().into());
    m.insert("apiGatewayManaged".into(), false.into());
    m.insert("apiKeyRequired".into(), r.api_key_required.into());
    m.insert(
        "authorizationType".into(),
        r.authorization_type.clone().into(),
    );
    put_opt(&mut m, "target", r.target.clone().map(Value::from));
    put_opt(
        &mut m,
        "authorizerId",
        r.authorizer_id.clone().map(Value::from),
    );
    if !r.authorization_scopes.is_empty() {
        m.insert("authorizationScopes".into(), json!(r.authorization_scopes));
    }
    Value::Object(m)
}

fn integration_json(i: &IntegrationDef) -> Value {
    let mut m = Map::new();
    m.insert("integrationId".into(), i.integration_id.clone().into());
    m.insert("integrationType".into(), i.integration_type.clone().into());
    m.insert("apiGatewayManaged".into(), false.into());
    m.insert("connectionType".into(), "INTERNET".into());
    m.insert(
        "payloadFormatVersion".into(),
        i.payload_format_version.clone().into(),
    );
    m.insert("timeoutInMillis".into(), i.timeout_in_millis.into());
    match (&i.integration_method, &i.integration_subtype) {
        (Some(method), _) => {
            m.insert("integrationMethod".into(), method.clone().into());
        }
        (None, None) => {
            m.insert("integrationMethod".into(), "POST".into());
        }
        (None, Some(_)) => {}
    }
    put_opt(
        &mut m,
        "credentialsArn",
        i.credentials_arn.clone().map(Value::from),
    );
    put_opt(
        &mut m,
        "integrationSubtype",
        i.integration_subtype.clone().map(Value::from),
    );
    put_opt(
        &mut m,
        "integrationUri",
        i.integration_uri.clone().map(Value::from),
    );
    put_opt(
        &mut m,
        "description",
        i.description.clone().map(Value::from),
    );
    if !i.request_parameters.is_empty() {
        m.insert("requestParameters".into(), json!(i.request_parameters));
    }
    Value::Object(m)
}

fn authorizer_json(a: &AuthorizerDef) -> Value {
    let mut m = Map::new();
    m.insert("authorizerId".into(), a.authorizer_id.clone().into());
    m.insert("name".into(), a.name.clone().into());
    m.insert("authorizerType".into(), a.authorizer_type.clone().into());
    m.insert("identitySource".into(), json!(a.identity_source));
    if let Some(j) = &a.jwt_configuration {
        let mut jm = Map::new();
        jm.insert("issuer".into(), j.issuer.clone().into());
        jm.insert("audience".into(), json!(j.audience));
        m.insert("jwtConfiguration".into(), Value::Object(jm));
    }
    if a.authorizer_type == "REQUEST" {
        m.insert(
            "authorizerResultTtlInSeconds".into(),
            a.authorizer_result_ttl_in_seconds.into(),
        );
        m.insert(
            "enableSimpleResponses".into(),
            a.enable_simple_responses.into(),
        );
        put_opt(
            &mut m,
            "authorizerPayloadFormatVersion",
            a.authorizer_payload_format_version.clone().map(Value::from),
        );
        put_opt(
            &mut m,
            "authorizerUri",
            a.authorizer_uri.clone().map(Value::from),
        );
        put_opt(
            &mut m,
            "authorizerCredentialsArn",
            a.authorizer_credentials_arn.clone().map(Value::from),
        );
    }
    Value::Object(m)
}

fn settings_json(t: &Throttle) -> Value {
    json!({ "throttlingBurstLimit": t.burst, "throttlingRateLimit": t.rate })
}

fn stage_json(s: &StageDef) -> Value {
    let mut m = Map::new();
    m.insert("stageName".into(), s.stage_name.clone().into());
    m.insert("autoDeploy".into(), s.auto_deploy.into());
    m.insert("apiGatewayManaged".into(), false.into());
    m.insert("createdDate".into(), iso(s.created_ms).into());
    m.insert(
        "lastUpdatedDate".into(),
        iso(s.last_updated_ms.max(s.created_ms)).into(),
    );
    m.insert("stageVariables".into(), json!(s.stage_variables));
    let mut defaults = s
        .default_route_settings
        .as_ref()
        .map_or_else(|| json!({}), settings_json);
    defaults["detailedMetricsEnabled"] = json!(s.detailed_metrics_enabled);
    m.insert("defaultRouteSettings".into(), defaults);
    if let Some(a) = &s.access_log_settings {
        let mut al = Map::new();
        put_opt(
            &mut al,
            "destinationArn",
            a.destination_arn.clone().map(Value::from),
        );
        put_opt(&mut al, "format", a.format.clone().map(Value::from));
        m.insert("accessLogSettings".into(), Value::Object(al));
    }
    m.insert("tags".into(), json!(s.tags));
    let routes: Map<String, Value> = s
        .route_settings
        .iter()
        .map(|(k, t)| (k.clone(), settings_json(t)))
        .collect();
    m.insert("routeSettings".into(), Value::Object(routes));
    put_opt(
        &mut m,
        "description",
        s.description.clone().map(Value::from),
    );
    Value::Object(m)
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct CorsIn {
    allow_origins: Vec<String>,
    allow_methods: Vec<String>,
    allow_headers: Vec<String>,
    expose_headers: Vec<String>,
    max_age: Option<i64>,
    allow_credentials: Option<bool>,
}

impl CorsIn {
    fn build(self) -> Result<Cors, ApiError> {
        if let Some(a) = self.max_age
            && !eddy_model::limits::api::CORS_MAX_AGE.contains(&a)
        {
            return Err(bad(format!(
                "Invalid maxAge {a}: it must be between -1 and 86400"
            )));
        }
        Ok(Cors {
            allow_origins: self.allow_origins,
            allow_methods: self.allow_methods,
            allow_headers: self.allow_headers,
            expose_headers: self.expose_headers,
            max_age: self.max_age,
            allow_credentials: self.allow_credentials,
        })
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct ApiIn {
    name: Option<String>,
    protocol_type: Option<String>,
    target: Option<String>,
    route_key: Option<String>,
    cors_configuration: Option<CorsIn>,
    description: Option<String>,
    version: Option<String>,
    tags: BTreeMap<String, String>,
    disable_execute_api_endpoint: Option<bool>,
    base_path: Option<String>,
    api_keys: Option<Vec<String>>,
}

fn check_base_path(p: &str) -> Result<String, ApiError> {
    if !p.starts_with('/') || p.contains(['{', '}', '?', '#', ' ']) || p.contains("//") {
        return Err(bad(format!(
            "Invalid basePath {p}: it must start with / and name literal path segments"
        )));
    }
    if p.split('/').nth(1) == Some("_api") {
        return Err(bad("Invalid basePath: /_api is reserved by eddy"));
    }
    Ok(p.to_owned())
}

async fn create_api(app: &App, ctx: &Ctx, req: &RestRequest) -> Result<Response, ApiError> {
    let input: ApiIn = parse(&req.body)?;
    let name = input
        .name
        .filter(|n| !n.is_empty())
        .ok_or_else(|| bad("Invalid input: name is required"))?;
    if name.chars().count() > 128 {
        return Err(bad("Invalid name: it must be at most 128 characters"));
    }
    match input.protocol_type.as_deref() {
        Some("HTTP") => {}
        Some("WEBSOCKET") => return Err(bad("eddy serves HTTP APIs only, not WEBSOCKET APIs")),
        Some(other) => return Err(bad(format!("Invalid protocolType {other}"))),
        None => return Err(bad("Invalid input: protocolType is required")),
    }
    let now = app.clock.now_ms();
    let id = new_id(10);
    let mut def = ApiDef {
        region: ctx.region.clone(),
        api_id: id.clone(),
        name,
        description: input.description,
        version: input.version,
        base_path: check_base_path(input.base_path.as_deref().unwrap_or("/"))?,
        cors: input.cors_configuration.map(CorsIn::build).transpose()?,
        api_keys: input.api_keys.unwrap_or_default(),
        tags: input.tags,
        disable_execute_api_endpoint: input.disable_execute_api_endpoint.unwrap_or(false),
        created_ms: now,
        ..ApiDef::default()
    };
    match (input.target, input.route_key) {
        (Some(target), key) => {
            if function_ref(&target, &ctx.region).is_none() {
                return Err(bad(format!(
                    "Invalid target {target}: quick create takes a Lambda function ARN"
                )));
            }
            let key = key.unwrap_or_else(|| "$default".to_owned());
            RouteKey::parse(&key).map_err(bad)?;
            let integration_id = new_id(7);
            def.integrations.push(IntegrationDef {
                integration_id: integration_id.clone(),
                integration_type: "AWS_PROXY".into(),
                integration_uri: Some(target),
                payload_format_version: "2.0".into(),
                timeout_in_millis: DEFAULT_TIMEOUT_MS,
                ..IntegrationDef::default()
            });
            def.routes.push(RouteDef {
                route_id: new_id(7),
                route_key: key,
                target: Some(format!("integrations/{integration_id}")),
                authorization_type: "NONE".into(),
                ..RouteDef::default()
            });
            def.stages.push(StageDef {
                stage_name: "$default".into(),
                auto_deploy: true,
                created_ms: now,
                ..StageDef::default()
            });
        }
        (None, Some(_)) => {
            return Err(bad(
                "RouteKey is only supported for quick create, with Target",
            ));
        }
        (None, None) => {}
    }
    let body = api_json(app, &def);
    app.routes
        .upsert(&ctx.region, &id, |_| Ok::<_, ApiError>((def, ())))
        .await?;
    rest::json(StatusCode::CREATED, &body)
}

fn get_apis(app: &App, ctx: &Ctx) -> Result<Response, ApiError> {
    items(
        app.routes
            .list(&ctx.region)
            .iter()
            .map(|d| api_json(app, d)),
    )
}

async fn update_api(
    app: &App,
    ctx: &Ctx,
    id: &str,
    req: &RestRequest,
) -> Result<Response, ApiError> {
    let input: ApiIn = parse(&req.body)?;
    let cors = input.cors_configuration.map(CorsIn::build).transpose()?;
    let base = input
        .base_path
        .as_deref()
        .map(check_base_path)
        .transpose()?;
    let def = app
        .routes
        .upsert(&ctx.region, id, |cur| {
            let mut d = cur.cloned().ok_or_else(|| missing(app, "API", id))?;
            if let Some(n) = input.name {
                d.name = n;
            }
            if let Some(c) = cors {
                d.cors = Some(c);
            }
            if let Some(b) = base {
                d.base_path = b;
            }
            if let Some(k) = input.api_keys {
                d.api_keys = k;
            }
            if input.description.is_some() {
                d.description = input.description;
            }
            if input.version.is_some() {
                d.version = input.version;
            }
            if let Some(x) = input.disable_execute_api_endpoint {
                d.disable_execute_api_endpoint = x;
            }
            Ok::<_, ApiError>((d.clone(), d))
        })
        .await?;
    rest::json(StatusCode::OK, &api_json(app, &def))
}

async fn delete_api(app: &App, ctx: &Ctx, id: &str) -> Result<Response, ApiError> {
    find(app, ctx, id)?;
    app.routes.delete(&ctx.region, id).await?;
    Ok(rest::empty(StatusCode::NO_CONTENT))
}

/// Deletes a sub-resource: `retain` removes it and says whether it was there.
async fn remove(
    app: &App,
    ctx: &Ctx,
    id: &str,
    kind: &str,
    sub: &str,
    retain: impl FnOnce(&mut ApiDef) -> bool,
) -> Result<Response, ApiError> {
    app.routes
        .upsert(&ctx.region, id, |cur| {
            let mut d = cur.cloned().ok_or_else(|| missing(app, "API", id))?;
            if !retain(&mut d) {
                return Err(missing(app, kind, sub));
            }
            Ok((d, ()))
        })
        .await?;
    Ok(rest::empty(StatusCode::NO_CONTENT))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct RouteIn {
    route_key: Option<String>,
    target: Option<String>,
    authorization_type: Option<String>,
    authorizer_id: Option<String>,
    authorization_scopes: Option<Vec<String>>,
    api_key_required: Option<bool>,
}

/// Applies a route request to a route (new or existing) and checks it against its API.
fn apply_route(api: &ApiDef, r: &mut RouteDef, input: RouteIn) -> Result<(), ApiError> {
    if let Some(k) = input.route_key {
        r.route_key = k;
    }
    let key = RouteKey::parse(&r.route_key).map_err(bad)?;
    if let Some(other) = api.routes.iter().find(|o| {
        o.route_id != r.route_id
            && RouteKey::parse(&o.route_key).is_ok_and(|ok| ok.same_shape(&key))
    }) {
        return Err(conflict(format!(
            "Route with key {} already exists for this API",
            other.route_key
        )));
    }
    if input.target.is_some() {
        r.target = input.target.filter(|t| !t.is_empty());
    }
    if let Some(t) = &r.target {
        let ok = t
            .strip_prefix("integrations/")
            .is_some_and(|id| api.integration(id).is_some());
        if !ok {
            return Err(bad(format!(
                "Invalid target {t}: it must be integrations/ID of an integration of this API"
            )));
        }
    }
    if let Some(t) = input.authorization_type {
        r.authorization_type = t;
    }
    if r.authorization_type.is_empty() {
        r.authorization_type = "NONE".into();
    }
    if input.authorizer_id.is_some() {
        r.authorizer_id = input.authorizer_id.filter(|a| !a.is_empty());
    }
    if let Some(s) = input.authorization_scopes {
        r.authorization_scopes = s;
    }
    if let Some(k) = input.api_key_required {
        r.api_key_required = k;
    }
    let wanted = match r.authorization_type.as_str() {
        "NONE" => None,
        "JWT" => Some("JWT"),
        "CUSTOM" => Some("REQUEST"),
        "AWS_IAM" => return Err(bad("eddy does not support AWS_IAM authorization")),
        other => return Err(bad(format!("Invalid authorizationType {other}"))),
    };
    match (wanted, r.authorizer_id.as_deref()) {
        (None, _) => r.authorizer_id = None,
        (Some(_), None) => {
            return Err(bad(format!(
                "authorizerId is required when authorizationType is {}",
                r.authorization_type
            )));
        }
        (Some(kind), Some(id)) => match api.authorizer(id) {
            Some(a) if a.authorizer_type == kind => {}
            Some(_) => {
                return Err(bad(format!(
                    "Authorizer {id} is not of the type {} routes use",
                    r.authorization_type
                )));
            }
            None => return Err(bad(format!("Invalid authorizer identifier {id}"))),
        },
    }
    Ok(())
}

async fn create_route(
    app: &App,
    ctx: &Ctx,
    id: &str,
    req: &RestRequest,
) -> Result<Response, ApiError> {
    let input: RouteIn = parse(&req.body)?;
    if input.route_key.as_deref().is_none_or(str::is_empty) {
        return Err(bad("Invalid input: routeKey is required"));
    }
    let route = app
        .routes
        .upsert(&ctx.region, id, |cur| {
            let mut d = cur.cloned().ok_or_else(|| missing(app, "API", id))?;
            let mut r = RouteDef {
                route_id: new_id(7),
                ..RouteDef::default()
            };
            apply_route(&d, &mut r, input)?;
            d.routes.push(r.clone());
            Ok::<_, ApiError>((d, r))
        })
        .await?;
    rest::json(StatusCode::CREATED, &route_json(&route))
}

async fn update_route(
    app: &App,
    ctx: &Ctx,
    id: &str,
    rid: &str,
    req: &RestRequest,
) -> Result<Response, ApiError> {
    let input: RouteIn = parse(&req.body)?;
    let route = app
        .routes
        .upsert(&ctx.region, id, |cur| {
            let mut d = cur.cloned().ok_or_else(|| missing(app, "API", id))?;
            let mut r = d
                .route(rid)
                .cloned()
                .ok_or_else(|| missing(app, "Route", rid))?;
            apply_route(&d, &mut r, input)?;
            if let Some(slot) = d.routes.iter_mut().find(|x| x.route_id == rid) {
                *slot = r.clone();
            }
            Ok::<_, ApiError>((d, r))
        })
        .await?;
    rest::json(StatusCode::OK, &route_json(&route))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct IntegrationIn {
    integration_type: Option<String>,
    integration_subtype: Option<String>,
    integration_uri: Option<String>,
    integration_method: Option<String>,
    payload_format_version: Option<String>,
    timeout_in_millis: Option<i64>,
    request_parameters: Option<BTreeMap<String, String>>,
    description: Option<String>,
    credentials_arn: Option<String>,
}

/// An integration as `input` makes it from `base` (a new one, or the one an update changes):
/// what the input leaves out is kept.
fn integration_of(
    input: IntegrationIn,
    base: IntegrationDef,
    region: &str,
) -> Result<IntegrationDef, ApiError> {
    let kind = input
        .integration_type
        .clone()
        .or_else(|| (!base.integration_type.is_empty()).then(|| base.integration_type.clone()));
    match kind.as_deref() {
        Some("AWS_PROXY" | "HTTP_PROXY") => {}
        Some(other @ ("AWS" | "HTTP" | "MOCK")) => {
            return Err(bad(format!(
                "eddy supports AWS_PROXY and HTTP_PROXY integrations, not {other}"
            )));
        }
        Some(other) => return Err(bad(format!("Invalid integrationType {other}"))),
        None => return Err(bad("Invalid input: integrationType is required")),
    }
    let kind = kind.unwrap_or_default();
    let timeout = input
        .timeout_in_millis
        .unwrap_or(if base.timeout_in_millis == 0 {
            DEFAULT_TIMEOUT_MS.into()
        } else {
            base.timeout_in_millis.into()
        });
    if !(50..=30_000).contains(&timeout) {
        return Err(bad(format!(
            "Invalid timeoutInMillis {timeout}: it must be between 50 and 30000"
        )));
    }
    let subtype = input.integration_subtype.or(base.integration_subtype);
    let version = match (
        input.payload_format_version.as_deref(),
        &subtype,
        kind.as_str(),
    ) {
        (Some(v @ ("1.0" | "2.0")), _, "AWS_PROXY") => v.to_owned(),
        (Some("1.0"), _, _) => "1.0".to_owned(),
        (Some(v), _, _) => return Err(bad(format!("Invalid payloadFormatVersion {v}"))),
        (None, _, _) if !base.payload_format_version.is_empty() => base.payload_format_version,
        (None, _, "HTTP_PROXY") | (None, Some(_), _) => "1.0".to_owned(),
        (None, None, _) => "2.0".to_owned(),
    };
    let method = input.integration_method.or(base.integration_method);
    if kind == "HTTP_PROXY" && method.is_none() {
        return Err(bad(
            "Invalid input: integrationMethod is required for HTTP_PROXY integrations",
        ));
    }
    let mut request_parameters = base.request_parameters;
    if let Some(p) = input.request_parameters {
        request_parameters = p;
    }
    let def = IntegrationDef {
        integration_id: base.integration_id,
        integration_type: kind,
        integration_subtype: subtype,
        integration_uri: input.integration_uri.or(base.integration_uri),
        integration_method: method,
        payload_format_version: version,
        timeout_in_millis: timeout as u32,
        request_parameters,
        description: input.description.or(base.description),
        credentials_arn: input.credentials_arn.or(base.credentials_arn),
    };
    Integration::build(&def, region).map_err(bad)?;
    Ok(def)
}

async fn create_integration(
    app: &App,
    ctx: &Ctx,
    id: &str,
    req: &RestRequest,
) -> Result<Response, ApiError> {
    let input: IntegrationIn = parse(&req.body)?;
    if input.integration_type.is_none() {
        return Err(bad("Invalid input: integrationType is required"));
    }
    let def = integration_of(
        input,
        IntegrationDef {
            integration_id: new_id(7),
            ..IntegrationDef::default()
        },
        &ctx.region,
    )?;
    let out = integration_json(&def);
    app.routes
        .upsert(&ctx.region, id, |cur| {
            let mut d = cur.cloned().ok_or_else(|| missing(app, "API", id))?;
            d.integrations.push(def);
            Ok::<_, ApiError>((d, ()))
        })
        .await?;
    rest::json(StatusCode::CREATED, &out)
}

async fn update_integration(
    app: &App,
    ctx: &Ctx,
    id: &str,
    iid: &str,
    req: &RestRequest,
) -> Result<Response, ApiError> {
    let input: IntegrationIn = parse(&req.body)?;
    let def = app
        .routes
        .upsert(&ctx.region, id, |cur| {
            let mut d = cur.cloned().ok_or_else(|| missing(app, "API", id))?;
            let slot = d
                .integrations
                .iter_mut()
                .find(|i| i.integration_id == iid)
                .ok_or_else(|| missing(app, "Integration", iid))?;
            let new = integration_of(input, slot.clone(), &ctx.region)?;
            *slot = new.clone();
            Ok::<_, ApiError>((d, new))
        })
        .await?;
    rest::json(StatusCode::OK, &integration_json(&def))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct JwtIn {
    issuer: Option<String>,
    audience: Vec<String>,
    jwks_file: Option<String>,
    jwks_uri: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct AuthorizerIn {
    name: Option<String>,
    authorizer_type: Option<String>,
    identity_source: Option<Vec<String>>,
    jwt_configuration: Option<JwtIn>,
    authorizer_uri: Option<String>,
    authorizer_result_ttl_in_seconds: Option<i64>,
    enable_simple_responses: Option<bool>,
    authorizer_payload_format_version: Option<String>,
    authorizer_credentials_arn: Option<String>,
}

/// An authorizer as `input` makes it, with id `authorizer_id`.
fn authorizer_of(
    input: AuthorizerIn,
    authorizer_id: String,
    region: &str,
) -> Result<AuthorizerDef, ApiError> {
    let name = input
        .name
        .filter(|n| !n.is_empty())
        .ok_or_else(|| bad("Invalid input: name is required"))?;
    let ttl = input.authorizer_result_ttl_in_seconds.unwrap_or(0);
    if !(0..=3600).contains(&ttl) {
        return Err(bad(format!(
            "Invalid authorizerResultTtlInSeconds {ttl}: it must be between 0 and 3600"
        )));
    }
    let identity_source = input.identity_source.unwrap_or_default();
    for s in &identity_source {
        let ok = [
            "$request.header.",
            "$request.querystring.",
            "$context.",
            "$stageVariables.",
        ]
        .iter()
        .any(|p| s.starts_with(p) && s.len() > p.len());
        if !ok {
            return Err(bad(format!("Invalid identity source {s}")));
        }
    }
    let mut def = AuthorizerDef {
        authorizer_id,
        name,
        identity_source,
        authorizer_result_ttl_in_seconds: ttl as u32,
        authorizer_credentials_arn: input.authorizer_credentials_arn,
        ..AuthorizerDef::default()
    };
    match input.authorizer_type.as_deref() {
        Some("JWT") => {
            let j = input
                .jwt_configuration
                .ok_or_else(|| bad("jwtConfiguration is required for JWT authorizers"))?;
            let issuer = j
                .issuer
                .filter(|i| !i.is_empty())
                .ok_or_else(|| bad("jwtConfiguration.issuer is required"))?;
            if def.identity_source.is_empty() {
                def.identity_source = vec!["$request.header.Authorization".into()];
            }
            if def.identity_source.len() != 1 {
                return Err(bad("JWT authorizers take exactly one identity source"));
            }
            def.authorizer_type = "JWT".into();
            def.jwt_configuration = Some(JwtConfig {
                issuer,
                audience: j.audience,
                jwks_file: j.jwks_file,
                jwks_uri: j.jwks_uri,
            });
        }
        Some("REQUEST") => {
            let uri = input
                .authorizer_uri
                .ok_or_else(|| bad("authorizerUri is required for REQUEST authorizers"))?;
            if function_ref(&uri, region).is_none() {
                return Err(bad(format!(
                    "Invalid authorizerUri {uri}: it must name a Lambda function"
                )));
            }
            if ttl > 0 && def.identity_source.is_empty() {
                return Err(bad(
                    "identitySource is required when authorizer caching is enabled",
                ));
            }
            def.authorizer_type = "REQUEST".into();
            def.authorizer_uri = Some(uri);
            def.enable_simple_responses = input.enable_simple_responses.unwrap_or(false);
            def.authorizer_payload_format_version = Some(
                input
                    .authorizer_payload_format_version
                    .unwrap_or_else(|| "2.0".into()),
            );
        }
        Some(other) => return Err(bad(format!("Invalid authorizerType {other}"))),
        None => return Err(bad("Invalid input: authorizerType is required")),
    }
    Ok(def)
}

async fn create_authorizer(
    app: &App,
    ctx: &Ctx,
    id: &str,
    req: &RestRequest,
) -> Result<Response, ApiError> {
    let input: AuthorizerIn = parse(&req.body)?;
    let def = authorizer_of(input, new_id(6), &ctx.region)?;
    let out = authorizer_json(&def);
    app.routes
        .upsert(&ctx.region, id, |cur| {
            let mut d = cur.cloned().ok_or_else(|| missing(app, "API", id))?;
            d.authorizers.push(def);
            Ok::<_, ApiError>((d, ()))
        })
        .await?;
    rest::json(StatusCode::CREATED, &out)
}

/// UpdateAuthorizer: what the input leaves out is kept; routes using the authorizer must still
/// find it of their type.
async fn update_authorizer(
    app: &App,
    ctx: &Ctx,
    id: &str,
    aid: &str,
    req: &RestRequest,
) -> Result<Response, ApiError> {
    let input: AuthorizerIn = parse(&req.body)?;
    let def = app
        .routes
        .upsert(&ctx.region, id, |cur| {
            let mut d = cur.cloned().ok_or_else(|| missing(app, "API", id))?;
            let slot = d
                .authorizers
                .iter_mut()
                .find(|a| a.authorizer_id == aid)
                .ok_or_else(|| missing(app, "Authorizer", aid))?;
            let old = slot.clone();
            let jwt = old.jwt_configuration.clone();
            let merged = AuthorizerIn {
                name: input.name.or(Some(old.name.clone())),
                authorizer_type: input.authorizer_type.or(Some(old.authorizer_type.clone())),
                identity_source: input.identity_source.or(Some(old.identity_source.clone())),
                jwt_configuration: input.jwt_configuration.or_else(|| {
                    jwt.map(|j| JwtIn {
                        issuer: Some(j.issuer),
                        audience: j.audience,
                        jwks_file: j.jwks_file,
                        jwks_uri: j.jwks_uri,
                    })
                }),
                authorizer_uri: input.authorizer_uri.or(old.authorizer_uri.clone()),
                authorizer_result_ttl_in_seconds: input
                    .authorizer_result_ttl_in_seconds
                    .or(Some(i64::from(old.authorizer_result_ttl_in_seconds))),
                enable_simple_responses: input
                    .enable_simple_responses
                    .or(Some(old.enable_simple_responses)),
                authorizer_payload_format_version: input
                    .authorizer_payload_format_version
                    .or(old.authorizer_payload_format_version.clone()),
                authorizer_credentials_arn: input
                    .authorizer_credentials_arn
                    .or(old.authorizer_credentials_arn.clone()),
            };
            let new = authorizer_of(merged, old.authorizer_id.clone(), &ctx.region)?;
            if new.authorizer_type != old.authorizer_type
                && d.routes
                    .iter()
                    .any(|r| r.authorizer_id.as_deref() == Some(aid))
            {
                return Err(bad(format!(
                    "Authorizer {aid} is used by routes of type {}; its type cannot change",
                    old.authorizer_type
                )));
            }
            if let Some(slot) = d.authorizers.iter_mut().find(|a| a.authorizer_id == aid) {
                *slot = new.clone();
            }
            Ok::<_, ApiError>((d, new))
        })
        .await?;
    rest::json(StatusCode::OK, &authorizer_json(&def))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct SettingsIn {
    throttling_burst_limit: Option<i64>,
    throttling_rate_limit: Option<f64>,
    detailed_metrics_enabled: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct AccessLogIn {
    destination_arn: Option<String>,
    format: Option<String>,
}

impl SettingsIn {
    fn throttle(&self) -> Option<Throttle> {
        match (self.throttling_rate_limit, self.throttling_burst_limit) {
            (None, None) => None,
            (rate, burst) => Some(Throttle {
                rate: rate.unwrap_or(10_000.0).max(0.0),
                burst: burst.unwrap_or(5_000).clamp(0, i64::from(u32::MAX)) as u32,
            }),
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct StageIn {
    stage_name: Option<String>,
    auto_deploy: Option<bool>,
    description: Option<String>,
    stage_variables: Option<BTreeMap<String, String>>,
    default_route_settings: Option<SettingsIn>,
    route_settings: Option<BTreeMap<String, SettingsIn>>,
    access_log_settings: Option<AccessLogIn>,
    tags: BTreeMap<String, String>,
}

/// Applies a stage request to a stage (new or existing): what it leaves out is kept.
fn apply_stage(s: &mut StageDef, input: StageIn, now: i64) {
    if let Some(a) = input.auto_deploy {
        s.auto_deploy = a;
    }
    if input.description.is_some() {
        s.description = input.description;
    }
    if let Some(v) = input.stage_variables {
        s.stage_variables = v;
    }
    if let Some(d) = &input.default_route_settings {
        s.default_route_settings = d.throttle();
        if let Some(m) = d.detailed_metrics_enabled {
            s.detailed_metrics_enabled = m;
        }
    }
    if let Some(r) = input.route_settings {
        s.route_settings = r
            .iter()
            .filter_map(|(k, s)| Some((k.clone(), s.throttle()?)))
            .collect();
    }
    if let Some(a) = input.access_log_settings {
        s.access_log_settings = Some(crate::routes::AccessLogSettings {
            destination_arn: a.destination_arn,
            format: a.format,
        });
    }
    s.tags.extend(input.tags);
    s.last_updated_ms = now;
}

async fn create_stage(
    app: &App,
    ctx: &Ctx,
    id: &str,
    req: &RestRequest,
) -> Result<Response, ApiError> {
    let input: StageIn = parse(&req.body)?;
    let name = input
        .stage_name
        .clone()
        .filter(|n| !n.is_empty())
        .ok_or_else(|| bad("Invalid input: stageName is required"))?;
    let now = app.clock.now_ms();
    let mut stage = StageDef {
        stage_name: name.clone(),
        created_ms: now,
        ..StageDef::default()
    };
    apply_stage(&mut stage, input, now);
    let out = stage_json(&stage);
    app.routes
        .upsert(&ctx.region, id, |cur| {
            let mut d = cur.cloned().ok_or_else(|| missing(app, "API", id))?;
            if d.stages.iter().any(|s| s.stage_name == name) {
                return Err(conflict(format!("Stage already exists: {name}")));
            }
            d.stages.push(stage);
            Ok((d, ()))
        })
        .await?;
    rest::json(StatusCode::CREATED, &out)
}

async fn update_stage(
    app: &App,
    ctx: &Ctx,
    id: &str,
    name: &str,
    req: &RestRequest,
) -> Result<Response, ApiError> {
    let input: StageIn = parse(&req.body)?;
    let now = app.clock.now_ms();
    let stage = app
        .routes
        .upsert(&ctx.region, id, |cur| {
            let mut d = cur.cloned().ok_or_else(|| missing(app, "API", id))?;
            let s = d
                .stages
                .iter_mut()
                .find(|s| s.stage_name == name)
                .ok_or_else(|| missing(app, "Stage", name))?;
            apply_stage(s, input, now);
            let s = s.clone();
            Ok::<_, ApiError>((d, s))
        })
        .await?;
    rest::json(StatusCode::OK, &stage_json(&stage))
}

/// The API (and stage) a resource ARN names: `arn:aws:apigateway:REGION::/apis/ID` or
/// `…/apis/ID/stages/NAME`.
fn tagged(arn: &str) -> Option<(&str, &str, Option<&str>)> {
    let rest = arn.strip_prefix("arn:aws:apigateway:")?;
    let (region, path) = rest.split_once("::")?;
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match parts.as_slice() {
        ["apis", id] => Some((region, id, None)),
        ["apis", id, "stages", stage] => Some((region, id, Some(stage))),
        _ => None,
    }
}

/// TagResource, GetTags, UntagResource on APIs and stages.
async fn tags(app: &App, arn: &str, req: &RestRequest) -> Result<Response, ApiError> {
    #[derive(Deserialize, Default)]
    #[serde(rename_all = "camelCase", default)]
    struct TagsIn {
        tags: BTreeMap<String, String>,
    }
    let (region, id, stage) = tagged(arn).ok_or_else(|| {
        ApiError::new(
            "NotFoundException",
            StatusCode::NOT_FOUND,
            format!("Invalid resource ARN {arn}"),
        )
    })?;
    let keys: Vec<String> = req
        .query
        .iter()
        .filter(|(k, _)| k == "tagKeys")
        .map(|(_, v)| v.clone())
        .collect();
    let input: Option<TagsIn> = match req.method {
        Method::POST => Some(parse(&req.body)?),
        _ => None,
    };
    let method = req.method.clone();
    let out = app
        .routes
        .upsert(region, id, |cur| {
            let mut d = cur.cloned().ok_or_else(|| missing(app, "API", id))?;
            let tags = match stage {
                None => &mut d.tags,
                Some(name) => {
                    &mut d
                        .stages
                        .iter_mut()
                        .find(|s| s.stage_name == name)
                        .ok_or_else(|| missing(app, "Stage", name))?
                        .tags
                }
            };
            if method == Method::POST
                && let Some(i) = input
            {
                tags.extend(i.tags);
            } else if method == Method::DELETE {
                for k in &keys {
                    tags.remove(k);
                }
            }
            let out = tags.clone();
            Ok::<_, ApiError>((d, out))
        })
        .await?;
    match method {
        Method::GET => rest::json(StatusCode::OK, &json!({ "tags": out })),
        Method::POST => Ok(rest::empty(StatusCode::CREATED)),
        _ => Ok(rest::empty(StatusCode::NO_CONTENT)),
    }
}
