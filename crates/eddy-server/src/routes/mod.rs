//! HTTP APIs on the routes listener: their definitions (API, routes, integrations, authorizers,
//! stages, in API Gateway v2's vocabulary), the registry that persists them, and the compiled
//! route table the gateway reads on every request.
//!
//! One [`ApiDef`] holds everything of one API and is stored as one definition (kind `api`,
//! keyed `REGION:API_ID`), so a change is one durable write. After every change the whole table
//! is recompiled and swapped in atomically ([`Routes::table`] hands out an `Arc` snapshot), so
//! routes change at run time without a restart and a request never sees half a change.
//!
//! Submodules: [`matcher`] (route selection), [`proxy`] (the Lambda proxy payloads and response
//! mapping), [`auth`] (JWT and Lambda authorizers, API keys), [`cors`] (preflight and response
//! headers), [`throttle`] (per-route token buckets), [`integrations`] (bus and queue
//! integrations).
//!
//! How APIs share the listener: an API is served at its base path (default `/`; among the APIs
//! whose base path prefixes the request's path, the longest base path with a route for the
//! request wins, so several APIs can share `/`), at `Host: {apiId}.execute-api.localhost` and under `/_api/{apiId}`.
//!
//! From `eddy.toml`: [`ApiDef::from_manifest`] turns the canonical JSON `eddy-manifest` makes of
//! an `[apis.NAME]` table into an [`ApiDef`] whose id is the API's name (so it is served at
//! `/_api/NAME` and `NAME.execute-api.localhost`), with authorizers keyed by their names.

pub mod auth;
pub mod cors;
pub mod http_proxy;
pub mod integrations;
pub mod matcher;
pub mod proxy;
pub mod throttle;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use eddy_store::{Definition, Store};
use serde::{Deserialize, Serialize};

use crate::core_error::CoreError;
use crate::follow::{Feed, Follow};
use crate::registry::{Named, Registry};

/// The integration timeout when an integration sets none (API Gateway's maximum, 30 s).
pub const DEFAULT_TIMEOUT_MS: u32 = 30_000;
/// The largest request body the gateway accepts (API Gateway HTTP APIs: 10 MB).
pub const MAX_BODY_BYTES: usize = 10 * 1024 * 1024;

/// CORS settings of an API (`CorsConfiguration`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Cors {
    pub allow_origins: Vec<String>,
    pub allow_methods: Vec<String>,
    pub allow_headers: Vec<String>,
    pub expose_headers: Vec<String>,
    /// Seconds a browser may cache a preflight answer.
    pub max_age: Option<i64>,
    pub allow_credentials: Option<bool>,
}

/// A token bucket's settings: `rate` requests per second on average, `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Throttle {
    pub rate: f64,
    pub burst: u32,
}

/// One route: `METHOD /path` (or `$default`) and what answers it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RouteDef {
    pub route_id: String,
    pub route_key: String,
    /// `integrations/ID`.
    pub target: Option<String>,
    /// `NONE`, `JWT` or `CUSTOM` (a Lambda authorizer).
    pub authorization_type: String,
    pub authorizer_id: Option<String>,
    /// JWT routes: the token must carry one of these scopes (none: any token).
    pub authorization_scopes: Vec<String>,
    /// The request must carry one of the API's keys in `x-api-key`.
    pub api_key_required: bool,
    /// This route's throttle (overrides the API's and the stage's).
    pub throttle: Option<Throttle>,
}

/// One integration: a function (AWS_PROXY), a bus or a queue (AWS_PROXY with a subtype).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct IntegrationDef {
    pub integration_id: String,
    pub integration_type: String,
    /// `EventBridge-PutEvents` or `SQS-SendMessage`; none for a function.
    pub integration_subtype: Option<String>,
    /// A function ARN (or Lambda's invocation URI) for function integrations.
    pub integration_uri: Option<String>,
    /// `2.0` or `1.0`.
    pub payload_format_version: String,
    pub timeout_in_millis: u32,
    /// Bus and queue integrations: AWS's parameter mapping (`Source`, `DetailType`,
    /// `EventBusName`, `Detail`, `QueueUrl`, `MessageBody`, …), values static or selection
    /// expressions (`$request.body.x`, `$request.header.h`, `$request.path.p`,
    /// `$request.querystring.q`, `$context.requestId`, …). eddy's extension `Detail.NAME`
    /// adds `NAME` to the event's detail object.
    pub request_parameters: BTreeMap<String, String>,
    pub description: Option<String>,
    /// HTTP_PROXY: the method the backend is called with (`ANY`: the request's).
    pub integration_method: Option<String>,
    /// Kept as given (the identity work decides what it allows).
    pub credentials_arn: Option<String>,
}

/// A JWT authorizer's settings. eddy extensions: where the keys come from (`JwksFile`,
/// `JwksUri`); without either they come from the issuer's OpenID discovery document.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct JwtConfig {
    pub issuer: String,
    pub audience: Vec<String>,
    pub jwks_file: Option<String>,
    pub jwks_uri: Option<String>,
}

/// An authorizer: `JWT` or `REQUEST` (a Lambda authorizer).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AuthorizerDef {
    pub authorizer_id: String,
    pub name: String,
    pub authorizer_type: String,
    /// `$request.header.Authorization`, `$request.querystring.token`, …
    pub identity_source: Vec<String>,
    pub jwt_configuration: Option<JwtConfig>,
    /// REQUEST: the function (ARN or Lambda invocation URI).
    pub authorizer_uri: Option<String>,
    pub authorizer_result_ttl_in_seconds: u32,
    pub enable_simple_responses: bool,
    pub authorizer_payload_format_version: Option<String>,
    /// Kept as given (the identity work decides what it allows).
    pub authorizer_credentials_arn: Option<String>,
}

/// A stage. HTTP APIs here serve `$default` only; stages are stored, and their route settings'
/// throttling applies.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct StageDef {
    pub stage_name: String,
    pub auto_deploy: bool,
    pub description: Option<String>,
    pub stage_variables: BTreeMap<String, String>,
    pub default_route_settings: Option<Throttle>,
    /// Per route key.
    pub route_settings: BTreeMap<String, Throttle>,
    pub created_ms: i64,
    pub last_updated_ms: i64,
    /// `AccessLogSettings`: the log group's ARN and the line format (kept as given).
    pub access_log_settings: Option<AccessLogSettings>,
    /// `DefaultRouteSettings.DetailedMetricsEnabled`.
    pub detailed_metrics_enabled: bool,
    pub tags: BTreeMap<String, String>,
}

/// A stage's access log settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AccessLogSettings {
    pub destination_arn: Option<String>,
    pub format: Option<String>,
}

/// One HTTP API.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ApiDef {
    pub region: String,
    pub api_id: String,
    pub name: String,
    pub description: Option<String>,
    pub version: Option<String>,
    /// Where the API is served on the routes listener besides its Host name and `/_api/ID`
    /// (`/` by default).
    pub base_path: String,
    pub cors: Option<Cors>,
    /// The default throttle of every route.
    pub throttle: Option<Throttle>,
    /// Values accepted in `x-api-key` on routes that require a key.
    pub api_keys: Vec<String>,
    pub routes: Vec<RouteDef>,
    pub integrations: Vec<IntegrationDef>,
    pub authorizers: Vec<AuthorizerDef>,
    pub stages: Vec<StageDef>,
    pub tags: BTreeMap<String, String>,
    pub disable_execute_api_endpoint: bool,
    pub created_ms: i64,
}

impl Named for ApiDef {
    const KIND: &'static str = "api";

    fn region(&self) -> &str {
        &self.region
    }

    /// The registry key is the API id (names need not be unique).
    #[allow(clippy::misnamed_getters)]
    fn name(&self) -> &str {
        &self.api_id
    }
}

impl ApiDef {
    pub fn route(&self, id: &str) -> Option<&RouteDef> {
        self.routes.iter().find(|r| r.route_id == id)
    }

    pub fn integration(&self, id: &str) -> Option<&IntegrationDef> {
        self.integrations.iter().find(|i| i.integration_id == id)
    }

    pub fn authorizer(&self, id: &str) -> Option<&AuthorizerDef> {
        self.authorizers.iter().find(|a| a.authorizer_id == id)
    }
}

fn strings(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn throttle_of(v: &serde_json::Value) -> Option<Throttle> {
    Some(Throttle {
        rate: v.get("Rate")?.as_f64()?,
        burst: u32::try_from(v.get("Burst")?.as_u64()?).ok()?,
    })
}

impl ApiDef {
    /// Builds an API from the canonical JSON `eddy-manifest` makes of `[apis.NAME]`
    /// (`Name`, `BasePath`, `Cors`, `Throttle`, `Routes[{RouteKey, Integration: {Function} |
    /// {Bus, Source, DetailType} | {Queue, MessageGroupId}, Authorizer, Throttle}]`,
    /// `Authorizers{NAME: {IdentitySource, Jwt{Issuer, Audience, JwksFile, JwksUrl} |
    /// Function}}`). Relative `JwksFile` paths are resolved against `manifest_dir`. Lambda
    /// authorizers use simple responses, payload 2.0 and a 300 s cache.
    pub fn from_manifest(
        region: &str,
        value: &serde_json::Value,
        manifest_dir: &std::path::Path,
        created_ms: i64,
    ) -> Result<Self, String> {
        let name = value["Name"]
            .as_str()
            .ok_or("an API without a Name")?
            .to_owned();
        let cors = value.get("Cors").filter(|c| c.is_object()).map(|c| Cors {
            allow_origins: strings(&c["AllowOrigins"]),
            allow_methods: strings(&c["AllowMethods"]),
            allow_headers: strings(&c["AllowHeaders"]),
            expose_headers: strings(&c["ExposeHeaders"]),
            max_age: c["MaxAge"].as_i64(),
            allow_credentials: c["AllowCredentials"].as_bool(),
        });
        let mut authorizers = Vec::new();
        if let Some(m) = value["Authorizers"].as_object() {
            for (aname, a) in m {
                let identity = a["IdentitySource"]
                    .as_str()
                    .unwrap_or("$request.header.Authorization")
                    .to_owned();
                let mut def = AuthorizerDef {
                    authorizer_id: aname.clone(),
                    name: aname.clone(),
                    identity_source: vec![identity],
                    ..AuthorizerDef::default()
                };
                if let Some(j) = a.get("Jwt").filter(|j| j.is_object()) {
                    def.authorizer_type = "JWT".into();
                    def.jwt_configuration = Some(JwtConfig {
                        issuer: j["Issuer"].as_str().unwrap_or_default().to_owned(),
                        audience: strings(&j["Audience"]),
                        jwks_file: j["JwksFile"]
                            .as_str()
                            .map(|f| manifest_dir.join(f).display().to_string()),
                        jwks_uri: j["JwksUrl"].as_str().map(str::to_owned),
                    });
                } else if let Some(f) = a["Function"].as_str() {
                    def.authorizer_type = "REQUEST".into();
                    def.authorizer_uri = Some(f.to_owned());
                    def.enable_simple_responses = true;
                    def.authorizer_payload_format_version = Some("2.0".into());
                    def.authorizer_result_ttl_in_seconds = 300;
                } else {
                    return Err(format!("authorizer `{aname}` has neither jwt nor function"));
                }
                authorizers.push(def);
            }
        }
        let mut routes = Vec::new();
        let mut integrations = Vec::new();
        for (i, r) in value["Routes"].as_array().into_iter().flatten().enumerate() {
            let key = r["RouteKey"].as_str().ok_or("a route without a RouteKey")?;
            matcher::RouteKey::parse(key)?;
            let int = &r["Integration"];
            let mut params = BTreeMap::new();
            let mut put = |k: &str, v: &serde_json::Value| {
                if let Some(v) = v.as_str() {
                    params.insert(k.to_owned(), v.to_owned());
                }
            };
            let (subtype, uri, version) = if let Some(f) = int["Function"].as_str() {
                (None, Some(f.to_owned()), "2.0")
            } else if int["Bus"].is_string() {
                put("EventBusName", &int["Bus"]);
                put("Source", &int["Source"]);
                put("DetailType", &int["DetailType"]);
                (Some("EventBridge-PutEvents".to_owned()), None, "1.0")
            } else if int["Queue"].is_string() {
                put("QueueUrl", &int["Queue"]);
                put("MessageGroupId", &int["MessageGroupId"]);
                (Some("SQS-SendMessage".to_owned()), None, "1.0")
            } else {
                return Err(format!("route `{key}` has no integration"));
            };
            let integration = IntegrationDef {
                integration_id: format!("i{i}"),
                integration_type: "AWS_PROXY".into(),
                integration_subtype: subtype,
                integration_uri: uri,
                payload_format_version: version.into(),
                timeout_in_millis: DEFAULT_TIMEOUT_MS,
                request_parameters: params,
                ..IntegrationDef::default()
            };
            Integration::build(&integration, region).map_err(|e| format!("route `{key}`: {e}"))?;
            let authorizer = r["Authorizer"].as_str();
            let authorization_type =
                match authorizer.and_then(|a| authorizers.iter().find(|x| x.authorizer_id == a)) {
                    None if authorizer.is_some() => {
                        return Err(format!("route `{key}` names an unknown authorizer"));
                    }
                    None => "NONE",
                    Some(a) if a.authorizer_type == "JWT" => "JWT",
                    Some(_) => "CUSTOM",
                };
            routes.push(RouteDef {
                route_id: format!("r{i}"),
                route_key: key.to_owned(),
                target: Some(format!("integrations/i{i}")),
                authorization_type: authorization_type.into(),
                authorizer_id: authorizer.map(str::to_owned),
                throttle: throttle_of(&r["Throttle"]),
                ..RouteDef::default()
            });
            integrations.push(integration);
        }
        Ok(ApiDef {
            region: region.to_owned(),
            api_id: name.clone(),
            name,
            base_path: value["BasePath"].as_str().unwrap_or("/").to_owned(),
            cors,
            throttle: throttle_of(&value["Throttle"]),
            routes,
            integrations,
            authorizers,
            created_ms,
            ..ApiDef::default()
        })
    }
}

/// A new random id of `len` lowercase letters and digits (API Gateway's ids look like this).
pub fn new_id(len: usize) -> String {
    let raw = uuid::Uuid::new_v4().simple().to_string();
    let mut s: String = raw.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
    s.truncate(len);
    s
}

/// Parses a function reference: a function ARN (optionally qualified) or Lambda's invocation URI
/// `arn:aws:apigateway:REGION:lambda:path/2015-03-31/functions/ARN/invocations`. Returns
/// (region, name).
pub fn function_ref(uri: &str, default_region: &str) -> Option<FunctionRef> {
    let arn = match uri.split_once(":lambda:path/") {
        Some((_, rest)) => rest
            .split_once("/functions/")?
            .1
            .trim_end_matches("/invocations"),
        None => uri,
    };
    if let Some(rest) = arn.strip_prefix("arn:") {
        // PARTITION:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]
        let parts: Vec<&str> = rest.split(':').collect();
        if parts.len() < 6 || parts[1] != "lambda" || parts[4] != "function" {
            return None;
        }
        let name = parts[5];
        let qualifier = parts
            .get(6)
            .filter(|q| **q != "$LATEST")
            .map(|q| (*q).to_owned());
        valid_function_name(name).then(|| FunctionRef {
            region: parts[2].to_owned(),
            name: name.to_owned(),
            qualifier,
        })
    } else {
        let (name, qualifier) = match arn.split_once(':') {
            Some((n, q)) => (n, (q != "$LATEST").then(|| q.to_owned())),
            None => (arn, None),
        };
        valid_function_name(name).then(|| FunctionRef {
            region: default_region.to_owned(),
            name: name.to_owned(),
            qualifier,
        })
    }
}

/// The function an integration or authorizer names, with its version or alias.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionRef {
    pub region: String,
    pub name: String,
    pub qualifier: Option<String>,
}

fn valid_function_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 64
        && n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A JWT authorizer's key source that eddy may not use (the reason).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct KeySourceRefused(pub String);

/// Why storing an API failed.
#[derive(Debug, thiserror::Error)]
pub enum RoutesError {
    #[error(transparent)]
    Core(#[from] CoreError),
    #[error(transparent)]
    KeySource(#[from] KeySourceRefused),
}

/// Every API, persisted, with the compiled table the gateway serves from.
pub struct Routes {
    defs: Registry<ApiDef>,
    table: RwLock<Arc<Table>>,
    /// Where JWT authorizers get their keys.
    keys: auth::KeySources,
}

/// The compiled table: every API by id and by base path.
#[derive(Default)]
pub struct Table {
    pub by_id: HashMap<String, Arc<CompiledApi>>,
    /// APIs by base path segments, longest first.
    pub by_base: Vec<Arc<CompiledApi>>,
}

impl Table {
    /// The APIs whose base path is a prefix of `segments` (longest base first), each with the
    /// number of segments its base path takes.
    pub fn by_path<'a>(
        &'a self,
        segments: &'a [&'a str],
    ) -> impl Iterator<Item = (&'a Arc<CompiledApi>, usize)> + 'a {
        self.by_base.iter().filter_map(|api| {
            let n = api.base.len();
            (segments.len() >= n && segments[..n].iter().zip(&api.base).all(|(a, b)| a == b))
                .then_some((api, n))
        })
    }
}

/// One API, ready to serve.
pub struct CompiledApi {
    pub def: ApiDef,
    pub base: Vec<String>,
    pub routes: matcher::RouteSet,
    pub compiled: Vec<CompiledRoute>,
    pub cors: Option<cors::CorsPolicy>,
}

/// One route, ready to serve.
pub struct CompiledRoute {
    pub route_key: String,
    /// `None` when the route's target names no integration (answered 500, as AWS does).
    pub integration: Option<Integration>,
    pub auth: RouteAuth,
    pub api_key_required: bool,
    pub throttle: Option<throttle::Bucket>,
}

/// How a route's requests are authorized.
pub enum RouteAuth {
    None,
    Jwt(Arc<auth::JwtAuthorizer>, Vec<String>),
    Lambda(Arc<auth::LambdaAuthorizer>),
}

/// The proxy payload format of a function integration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadFormat {
    V1,
    V2,
}

/// Where a route's requests go.
#[derive(Debug, Clone)]
pub enum Integration {
    Function {
        function: FunctionRef,
        format: PayloadFormat,
        timeout: Duration,
    },
    Bus {
        params: BTreeMap<String, String>,
        timeout: Duration,
    },
    Queue {
        params: BTreeMap<String, String>,
        timeout: Duration,
    },
    /// `HTTP_PROXY`: forwarded to an HTTP backend (see [`http_proxy`]).
    Http {
        uri: String,
        method: String,
        params: BTreeMap<String, String>,
        timeout: Duration,
    },
}

impl Integration {
    /// Builds the runtime form of an integration; `Err` says what is wrong with it.
    pub fn build(def: &IntegrationDef, region: &str) -> Result<Self, String> {
        let timeout = Duration::from_millis(u64::from(if def.timeout_in_millis == 0 {
            DEFAULT_TIMEOUT_MS
        } else {
            def.timeout_in_millis
        }));
        if def.integration_type == "HTTP_PROXY" {
            let uri = def.integration_uri.clone().unwrap_or_default();
            let ok = reqwest::Url::parse(&uri.replace(['{', '}', '+'], ""))
                .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.has_host());
            if !ok {
                return Err(format!(
                    "Invalid integrationUri {uri}: HTTP_PROXY integrations take an http(s) URL"
                ));
            }
            for key in def.request_parameters.keys() {
                let ok = key.split_once(':').is_some_and(|(op, target)| {
                    matches!(op, "append" | "overwrite" | "remove")
                        && (target.starts_with("header.")
                            || target.starts_with("querystring.")
                            || (target == "path" && op == "overwrite"))
                });
                if !ok {
                    return Err(format!("Invalid mapping expression specified: {key}"));
                }
            }
            return Ok(Self::Http {
                uri,
                method: def
                    .integration_method
                    .clone()
                    .unwrap_or_else(|| "ANY".to_owned()),
                params: def.request_parameters.clone(),
                timeout,
            });
        }
        match def.integration_subtype.as_deref() {
            Some("EventBridge-PutEvents") => {
                for k in ["Source", "DetailType"] {
                    if !def.request_parameters.contains_key(k) {
                        return Err(format!(
                            "EventBridge-PutEvents integrations need the request parameter {k}"
                        ));
                    }
                }
                Ok(Self::Bus {
                    params: def.request_parameters.clone(),
                    timeout,
                })
            }
            Some("SQS-SendMessage") => {
                if !def.request_parameters.contains_key("QueueUrl") {
                    return Err(
                        "SQS-SendMessage integrations need the request parameter QueueUrl".into(),
                    );
                }
                Ok(Self::Queue {
                    params: def.request_parameters.clone(),
                    timeout,
                })
            }
            Some(other) => Err(format!(
                "eddy does not support the integration subtype {other}"
            )),
            None => {
                let uri = def.integration_uri.as_deref().unwrap_or("");
                let function = function_ref(uri, region)
                    .ok_or_else(|| format!("Invalid function ARN or invalid uri ({uri})"))?;
                let format = match def.payload_format_version.as_str() {
                    "1.0" => PayloadFormat::V1,
                    _ => PayloadFormat::V2,
                };
                Ok(Self::Function {
                    function,
                    format,
                    timeout,
                })
            }
        }
    }
}

fn base_segments(base: &str) -> Vec<String> {
    base.split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Compiles one API. Routes whose key does not parse are skipped (the API refuses them when
/// they are created).
pub fn compile(def: &ApiDef, keys: &auth::KeySources) -> CompiledApi {
    let mut authorizers: HashMap<&str, RouteAuthSource> = HashMap::new();
    for a in &def.authorizers {
        let src = match a.authorizer_type.as_str() {
            "JWT" => a
                .jwt_configuration
                .as_ref()
                .map(|j| RouteAuthSource::Jwt(Arc::new(auth::JwtAuthorizer::new(a, j, keys)))),
            _ => a
                .authorizer_uri
                .as_deref()
                .and_then(|u| function_ref(u, &def.region))
                .map(|f| RouteAuthSource::Lambda(Arc::new(auth::LambdaAuthorizer::new(a, f)))),
        };
        if let Some(src) = src {
            authorizers.insert(a.authorizer_id.as_str(), src);
        }
    }
    let stage = def.stages.iter().find(|s| s.stage_name == "$default");
    let mut keys = Vec::new();
    let mut compiled = Vec::new();
    for r in &def.routes {
        let Ok(key) = matcher::RouteKey::parse(&r.route_key) else {
            continue;
        };
        let integration = r
            .target
            .as_deref()
            .and_then(|t| t.strip_prefix("integrations/"))
            .and_then(|id| def.integration(id))
            .and_then(|i| Integration::build(i, &def.region).ok());
        let auth = match (r.authorization_type.as_str(), r.authorizer_id.as_deref()) {
            ("JWT", Some(id)) => match authorizers.get(id) {
                Some(RouteAuthSource::Jwt(j)) => {
                    RouteAuth::Jwt(j.clone(), r.authorization_scopes.clone())
                }
                _ => RouteAuth::None,
            },
            ("CUSTOM", Some(id)) => match authorizers.get(id) {
                Some(RouteAuthSource::Lambda(l)) => RouteAuth::Lambda(l.clone()),
                _ => RouteAuth::None,
            },
            _ => RouteAuth::None,
        };
        let throttle = r
            .throttle
            .or_else(|| stage.and_then(|s| s.route_settings.get(&r.route_key).copied()))
            .or(def.throttle)
            .or_else(|| stage.and_then(|s| s.default_route_settings));
        keys.push(key);
        compiled.push(CompiledRoute {
            route_key: r.route_key.clone(),
            integration,
            auth,
            api_key_required: r.api_key_required,
            throttle: throttle.map(throttle::Bucket::new),
        });
    }
    CompiledApi {
        def: def.clone(),
        base: base_segments(&def.base_path),
        routes: matcher::RouteSet::new(keys),
        compiled,
        cors: def.cors.as_ref().map(cors::CorsPolicy::new),
    }
}

enum RouteAuthSource {
    Jwt(Arc<auth::JwtAuthorizer>),
    Lambda(Arc<auth::LambdaAuthorizer>),
}

impl Routes {
    pub fn load(
        store: Arc<dyn Store>,
        feed: Arc<Feed>,
        definitions: &[Definition],
        keys: auth::KeySources,
    ) -> anyhow::Result<Self> {
        let this = Self {
            defs: Registry::load(store, feed, definitions)?,
            table: RwLock::new(Arc::new(Table::default())),
            keys,
        };
        this.rebuild();
        Ok(this)
    }

    /// The current table (cheap: one read lock and an `Arc` clone).
    pub fn table(&self) -> Arc<Table> {
        self.table.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn rebuild(&self) {
        let mut table = Table::default();
        for def in self.defs.all() {
            let api = Arc::new(compile(&def, &self.keys));
            table.by_id.insert(def.api_id.clone(), api.clone());
            table.by_base.push(api);
        }
        // Longest base path first; among equal ones the oldest API wins.
        table.by_base.sort_by(|a, b| {
            b.base
                .len()
                .cmp(&a.base.len())
                .then(a.def.created_ms.cmp(&b.def.created_ms))
                .then(a.def.api_id.cmp(&b.def.api_id))
        });
        *self.table.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(table);
    }

    pub fn get(&self, region: &str, id: &str) -> Option<ApiDef> {
        self.defs.get(region, id)
    }

    pub fn list(&self, region: &str) -> Vec<ApiDef> {
        let mut v = self.defs.list(region);
        v.sort_by(|a, b| a.created_ms.cmp(&b.created_ms).then(a.name.cmp(&b.name)));
        v
    }

    /// Changes an API (see [`Registry::upsert`]); the table is recompiled once it is committed. An API whose JWT
    /// authorizer names a key source eddy may not use (a file outside the code roots, an address
    /// the egress policy refuses) is refused and changes nothing.
    pub async fn upsert<A, E: From<CoreError> + From<KeySourceRefused>>(
        &self,
        region: &str,
        id: &str,
        decide: impl FnOnce(Option<&ApiDef>) -> Result<(ApiDef, A), E>,
    ) -> Result<A, E> {
        let keys = &self.keys;
        self.defs
            .upsert(region, id, |old| {
                let (def, a) = decide(old)?;
                for a in &def.authorizers {
                    if let Some(j) = &a.jwt_configuration {
                        keys.check(j).map_err(KeySourceRefused)?;
                    }
                }
                Ok((def, a))
            })
            .await
    }

    /// Stores an API as given (the manifest's path), replacing any of the same id.
    pub async fn put(&self, def: ApiDef) -> Result<(), RoutesError> {
        let (region, id) = (def.region.clone(), def.api_id.clone());
        self.upsert(&region, &id, |_| Ok((def, ()))).await
    }

    pub async fn delete(&self, region: &str, id: &str) -> Result<(), CoreError> {
        self.defs.delete(region, id).await
    }
}

impl Follow for Routes {
    fn follow(&self, changes: &[eddy_store::DefinitionChange]) {
        if !self.defs.follow(changes).is_empty() {
            self.rebuild();
        }
    }

    fn reload(&self, definitions: &[Definition]) {
        if !self.defs.reload(definitions).is_empty() {
            self.rebuild();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_apis() {
        let v = serde_json::json!({
            "Name": "shop", "BasePath": "/shop",
            "Cors": {"AllowOrigins": ["*"], "AllowMethods": [], "AllowHeaders": [], "ExposeHeaders": [], "MaxAge": 600},
            "Throttle": {"Rate": 100, "Burst": 200},
            "Routes": [
                {"RouteKey": "POST /orders", "Integration": {"Function": "arn:aws:lambda:us-east-1:123456789012:function:place"}, "Authorizer": "users"},
                {"RouteKey": "POST /events", "Integration": {"Bus": "arn:aws:events:us-east-1:123456789012:event-bus/orders", "Source": "shop", "DetailType": "Placed"}, "Throttle": {"Rate": 1, "Burst": 2}},
                {"RouteKey": "$default", "Integration": {"Queue": "arn:aws:sqs:us-east-1:123456789012:inbox"}},
            ],
            "Authorizers": {"users": {"IdentitySource": "$request.header.Authorization", "Jwt": {"Issuer": "https://i", "Audience": ["shop"], "JwksFile": "jwks.json"}}},
        });
        let d = ApiDef::from_manifest("us-east-1", &v, std::path::Path::new("/app"), 1).unwrap();
        assert_eq!(d.api_id, "shop");
        assert_eq!(d.routes[0].authorization_type, "JWT");
        assert_eq!(
            d.authorizers[0]
                .jwt_configuration
                .as_ref()
                .unwrap()
                .jwks_file
                .as_deref(),
            Some("/app/jwks.json")
        );
        assert_eq!(d.integrations[1].request_parameters["Source"], "shop");
        assert_eq!(d.routes[1].throttle.unwrap().burst, 2);
        let _already = rustls::crypto::ring::default_provider()
            .install_default()
            .is_err();
        let keys = auth::KeySources::new(
            crate::config::CodeRoots::default(),
            crate::egress::Egress::default(),
        )
        .unwrap();
        let c = compile(&d, &keys);
        assert_eq!(c.compiled.len(), 3);
        assert!(c.compiled.iter().all(|r| r.integration.is_some()));
        let bad =
            serde_json::json!({"Name": "x", "Routes": [{"RouteKey": "GET /a", "Integration": {}}]});
        assert!(ApiDef::from_manifest("r", &bad, std::path::Path::new("/"), 1).is_err());
    }

    #[test]
    fn function_references() {
        assert_eq!(
            function_ref(
                "arn:aws:lambda:eu-west-1:123456789012:function:f",
                "us-east-1"
            ),
            Some(FunctionRef {
                region: "eu-west-1".into(),
                name: "f".into(),
                qualifier: None
            })
        );
        assert_eq!(
            function_ref(
                "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:g:$LATEST/invocations",
                "x"
            ),
            Some(FunctionRef {
                region: "us-east-1".into(),
                name: "g".into(),
                qualifier: None
            })
        );
        assert_eq!(
            function_ref("h:live", "r"),
            Some(FunctionRef {
                region: "r".into(),
                name: "h".into(),
                qualifier: Some("live".into())
            })
        );
        assert_eq!(function_ref("arn:aws:sqs:r:1:q", "r"), None);
        assert_eq!(function_ref("", "r"), None);
    }
}
