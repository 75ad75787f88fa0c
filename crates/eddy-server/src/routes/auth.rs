//! Authorizers of HTTP APIs: JWT authorizers (verified here, with `ring`, the crypto library
//! already in the tree for rustls), Lambda authorizers (a function decides, with result caching)
//! and API keys.
//!
//! JWT: the token comes from the identity source (default `$request.header.Authorization`, a
//! `Bearer ` prefix is optional); RS256, ES256 and HS256 signatures are checked against the
//! keys of a JWKS document (from a file, a URL, or the issuer's OpenID discovery document,
//! cached for 5 minutes and refetched when a `kid` is unknown); `exp` must lie ahead and `nbf`
//! behind (60 s of leeway), `iss` must equal the issuer, `aud` (or `client_id`) must name one of
//! the audiences; a route with scopes needs one of them in `scope`/`scp`. Failures are 401
//! `{"message":"Unauthorized"}` with a `www-authenticate` description, missing scopes 403
//! `{"message":"Forbidden"}`. Claims reach the function as `requestContext.authorizer.jwt`.
//!
//! Lambda (REQUEST) authorizers get the payload 2.0 event with `type`, `routeArn` and
//! `identitySource` (or, with `AuthorizerPayloadFormatVersion` 1.0, the 1.0 event with
//! `methodArn`), and answer the simple form `{"isAuthorized": bool, "context": {...}}` (an
//! IAM policy answer is accepted too). A request without its identity sources is 401 without
//! calling the function; a decision is cached per identity for the authorizer's TTL.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use base64::Engine;
use eddy_runtime::Invocation;
use ring::signature::{self, UnparsedPublicKey};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::proxy::{self, RequestInfo};
use super::{AuthorizerDef, JwtConfig};
use crate::App;
use crate::config::CodeRoots;
use crate::egress::Egress;

/// How long fetched keys are used before they are fetched again.
const JWKS_TTL: Duration = Duration::from_secs(300);
/// Clock skew allowed on `exp` and `nbf`.
const LEEWAY_SECS: i64 = 60;
/// Lambda authorizers answer within this (API Gateway: 10 s).
const AUTHORIZER_TIMEOUT: Duration = Duration::from_secs(10);
/// Most cached Lambda authorizer decisions per authorizer.
const CACHE_MAX: usize = 10_000;

/// Why a request was refused.
pub fn unauthorized(description: Option<&str>) -> Response {
    let mut res = proxy::message(StatusCode::UNAUTHORIZED, "Unauthorized");
    if let Some(d) = description {
        let v = format!("Bearer error=\"invalid_token\" error_description=\"{d}\"");
        if let Ok(v) = HeaderValue::from_str(&v) {
            res.headers_mut().insert("www-authenticate", v);
        }
    }
    res
}

pub fn forbidden() -> Response {
    proxy::message(StatusCode::FORBIDDEN, "Forbidden")
}

/// The value of one identity source (`$request.header.X`, `$request.querystring.X`,
/// `$context.X`, `$stageVariables.X`).
pub fn identity_value(info: &RequestInfo, source: &str) -> Option<String> {
    if let Some(h) = source.strip_prefix("$request.header.") {
        let values: Vec<&str> = info
            .headers
            .get_all(h.to_ascii_lowercase().as_str())
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        return (!values.is_empty()).then(|| values.join(","));
    }
    if let Some(q) = source.strip_prefix("$request.querystring.") {
        return info.query_values().get(q).map(|v| v.join(","));
    }
    if let Some(s) = source.strip_prefix("$stageVariables.") {
        return info.stage_variables.get(s).cloned();
    }
    if let Some(c) = source.strip_prefix("$context.") {
        return match c {
            "requestId" => Some(info.request_id.clone()),
            "identity.sourceIp" => Some(info.source_ip.clone()),
            "routeKey" => Some(info.route_key.clone()),
            _ => None,
        };
    }
    None
}

/// One key of a JWKS document.
#[derive(Debug, Clone, Deserialize)]
struct Jwk {
    kty: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    alg: Option<String>,
    #[serde(default)]
    n: Option<String>,
    #[serde(default)]
    e: Option<String>,
    #[serde(default)]
    crv: Option<String>,
    #[serde(default)]
    x: Option<String>,
    #[serde(default)]
    y: Option<String>,
    #[serde(default)]
    k: Option<String>,
}

#[derive(Deserialize)]
struct Jwks {
    keys: Vec<Jwk>,
}

fn b64url(s: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s.trim_end_matches('='))
        .ok()
}

impl Jwk {
    /// Checks `sig` over `msg` with this key under `alg`.
    fn verify(&self, alg: &str, msg: &[u8], sig: &[u8]) -> bool {
        match (alg, self.kty.as_str()) {
            ("HS256", "oct") => {
                let Some(k) = self.k.as_deref().and_then(b64url) else {
                    return false;
                };
                let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &k);
                ring::hmac::verify(&key, msg, sig).is_ok()
            }
            ("RS256", "RSA") => {
                let (Some(n), Some(e)) = (
                    self.n.as_deref().and_then(b64url),
                    self.e.as_deref().and_then(b64url),
                ) else {
                    return false;
                };
                signature::RsaPublicKeyComponents { n: &n, e: &e }
                    .verify(&signature::RSA_PKCS1_2048_8192_SHA256, msg, sig)
                    .is_ok()
            }
            ("ES256", "EC") if self.crv.as_deref() == Some("P-256") => {
                let (Some(x), Some(y)) = (
                    self.x.as_deref().and_then(b64url),
                    self.y.as_deref().and_then(b64url),
                ) else {
                    return false;
                };
                let mut point = Vec::with_capacity(65);
                point.push(4);
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                    .verify(msg, sig)
                    .is_ok()
            }
            _ => false,
        }
    }
}

/// Where JWT authorizers may get their keys: files under the code roots, and URLs whose
/// addresses the egress policy allows (see [`crate::egress`]).
#[derive(Clone)]
pub struct KeySources {
    http: reqwest::Client,
    roots: CodeRoots,
    egress: Egress,
}

impl KeySources {
    pub fn new(roots: CodeRoots, egress: Egress) -> anyhow::Result<Self> {
        Ok(Self {
            http: egress.client(Duration::from_secs(5))?,
            roots,
            egress,
        })
    }

    /// Why `def`'s JWKS file or URL may not be used, if it may not.
    pub fn check(&self, config: &JwtConfig) -> Result<(), String> {
        if let Some(f) = &config.jwks_file {
            self.roots
                .check(std::path::Path::new(f))
                .map_err(|e| format!("jwksFile {e}"))?;
        }
        for url in config
            .jwks_uri
            .iter()
            .chain(std::iter::once(&config.issuer))
        {
            if let Ok(u) = reqwest::Url::parse(url) {
                self.egress
                    .check_url(&u)
                    .map_err(|e| format!("`{url}`: {e}"))?;
            }
        }
        Ok(())
    }

    async fn fetch_json(&self, url: &str) -> Option<Value> {
        let parsed = reqwest::Url::parse(url).ok()?;
        if let Err(e) = self.egress.check_url(&parsed) {
            tracing::warn!(%url, error = %e, "not fetching a JWT authorizer's document");
            return None;
        }
        let res = match self.http.get(parsed).send().await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(%url, error = %e, "cannot fetch a JWT authorizer's document");
                return None;
            }
        };
        if !res.status().is_success() {
            return None;
        }
        serde_json::from_slice(&res.bytes().await.ok()?).ok()
    }

    async fn read_json(&self, file: &str) -> Option<Value> {
        let path = match self.roots.check(std::path::Path::new(file)) {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e, "not reading a JWT authorizer's jwksFile");
                return None;
            }
        };
        let bytes = tokio::task::spawn_blocking(move || std::fs::read(path))
            .await
            .ok()?
            .ok()?;
        serde_json::from_slice(&bytes).ok()
    }
}

/// A JWT authorizer with its cached keys.
pub struct JwtAuthorizer {
    identity_source: String,
    config: JwtConfig,
    sources: KeySources,
    keys: tokio::sync::Mutex<Option<(Instant, Arc<Vec<Jwk>>)>>,
}

/// Why a token was refused (the `www-authenticate` description).
type Refusal = &'static str;

impl JwtAuthorizer {
    pub fn new(def: &AuthorizerDef, config: &JwtConfig, sources: &KeySources) -> Self {
        Self {
            identity_source: def
                .identity_source
                .first()
                .cloned()
                .unwrap_or_else(|| "$request.header.Authorization".to_owned()),
            config: config.clone(),
            sources: sources.clone(),
            keys: tokio::sync::Mutex::new(None),
        }
    }

    async fn load_keys(&self) -> Option<Vec<Jwk>> {
        let doc: Value = if let Some(f) = &self.config.jwks_file {
            self.sources.read_json(f).await?
        } else {
            let url = match &self.config.jwks_uri {
                Some(u) => u.clone(),
                None => {
                    let discovery = format!(
                        "{}/.well-known/openid-configuration",
                        self.config.issuer.trim_end_matches('/')
                    );
                    self.sources
                        .fetch_json(&discovery)
                        .await?
                        .get("jwks_uri")?
                        .as_str()?
                        .to_owned()
                }
            };
            self.sources.fetch_json(&url).await?
        };
        let jwks: Jwks = serde_json::from_value(doc).ok()?;
        Some(jwks.keys)
    }

    /// The keys, fetched again when stale or when `refresh` (an unknown `kid`, at most once a
    /// minute).
    async fn keys(&self, refresh: bool) -> Option<Arc<Vec<Jwk>>> {
        let mut guard = self.keys.lock().await;
        if let Some((at, keys)) = guard.as_ref() {
            let age = at.elapsed();
            if age < JWKS_TTL && !(refresh && age > Duration::from_secs(60)) {
                return Some(keys.clone());
            }
        }
        match self.load_keys().await {
            Some(keys) => {
                let keys = Arc::new(keys);
                *guard = Some((Instant::now(), keys.clone()));
                Some(keys)
            }
            None => {
                tracing::warn!(issuer = %self.config.issuer, "cannot load the JWKS of a JWT authorizer");
                guard.as_ref().map(|(_, k)| k.clone())
            }
        }
    }

    /// Checks the request's token; the `requestContext.authorizer` value when it passes.
    pub async fn authorize(
        &self,
        info: &RequestInfo,
        scopes: &[String],
    ) -> Result<Value, Response> {
        let Some(raw) = identity_value(info, &self.identity_source) else {
            return Err(unauthorized(None));
        };
        let token = raw
            .strip_prefix("Bearer ")
            .or_else(|| raw.strip_prefix("bearer "))
            .unwrap_or(&raw)
            .trim();
        let claims = match self.verify(token, info.time_ms / 1000).await {
            Ok(c) => c,
            Err(why) => return Err(unauthorized(Some(why))),
        };
        let granted: Vec<String> = match claims.get("scope").or_else(|| claims.get("scp")) {
            Some(Value::String(s)) => s.split_whitespace().map(str::to_owned).collect(),
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        };
        if !scopes.is_empty() && !scopes.iter().any(|s| granted.contains(s)) {
            return Err(forbidden());
        }
        // API Gateway passes claims as strings (other values as their JSON text).
        let claims: Map<String, Value> = claims
            .into_iter()
            .map(|(k, v)| {
                let s = match v {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                (k, Value::String(s))
            })
            .collect();
        let scopes = if granted.is_empty() {
            Value::Null
        } else {
            json!(granted)
        };
        Ok(json!({ "jwt": { "claims": claims, "scopes": scopes } }))
    }

    /// Verifies a compact JWT at `now` (seconds); its claims when valid.
    async fn verify(&self, token: &str, now: i64) -> Result<Map<String, Value>, Refusal> {
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err("the token is malformed");
        };
        let header: Value = b64url(h)
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or("the token is malformed")?;
        let claims: Map<String, Value> = b64url(p)
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or("the token is malformed")?;
        let sig = b64url(s).ok_or("the token is malformed")?;
        let alg = header["alg"].as_str().unwrap_or("");
        if !matches!(alg, "RS256" | "ES256" | "HS256") {
            return Err("the token's signing algorithm is not supported");
        }
        let kid = header["kid"].as_str();
        let msg = &token.as_bytes()[..h.len() + 1 + p.len()];
        let mut verified = false;
        for refresh in [false, true] {
            let Some(keys) = self.keys(refresh).await else {
                return Err("the signing keys cannot be loaded");
            };
            let candidates: Vec<&Jwk> = keys
                .iter()
                .filter(|k| kid.is_none() || k.kid.as_deref() == kid)
                .filter(|k| k.alg.as_deref().is_none_or(|a| a == alg))
                .collect();
            if candidates.is_empty() && !refresh && kid.is_some() {
                continue;
            }
            verified = candidates.iter().any(|k| k.verify(alg, msg, &sig));
            break;
        }
        if !verified {
            return Err("signature verification failed");
        }
        let exp = claims.get("exp").and_then(Value::as_f64);
        match exp {
            None => return Err("the token has no exp claim"),
            Some(e) if (e as i64) + LEEWAY_SECS <= now => return Err("the token has expired"),
            _ => {}
        }
        if let Some(nbf) = claims.get("nbf").and_then(Value::as_f64)
            && nbf as i64 > now + LEEWAY_SECS
        {
            return Err("the token is not valid yet");
        }
        if claims.get("iss").and_then(Value::as_str) != Some(self.config.issuer.as_str()) {
            return Err("the token's issuer is not accepted");
        }
        if !self.config.audience.is_empty() {
            let mut auds: Vec<&str> = match claims.get("aud") {
                Some(Value::String(a)) => vec![a.as_str()],
                Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
                _ => Vec::new(),
            };
            if let Some(c) = claims.get("client_id").and_then(Value::as_str) {
                auds.push(c);
            }
            if !auds
                .iter()
                .any(|a| self.config.audience.iter().any(|x| x == a))
            {
                return Err("the token's audience is not accepted");
            }
        }
        Ok(claims)
    }
}

/// A Lambda (REQUEST) authorizer with its decision cache.
pub struct LambdaAuthorizer {
    function: super::FunctionRef,
    identity_source: Vec<String>,
    ttl: Duration,
    /// Payload format 1.0 (`methodArn`, one identity string) instead of 2.0.
    v1: bool,
    cache: Mutex<HashMap<String, (Instant, Option<Value>)>>,
}

impl LambdaAuthorizer {
    pub fn new(def: &AuthorizerDef, function: super::FunctionRef) -> Self {
        Self {
            function,
            identity_source: def.identity_source.clone(),
            ttl: Duration::from_secs(u64::from(def.authorizer_result_ttl_in_seconds)),
            v1: def.authorizer_payload_format_version.as_deref() == Some("1.0"),
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Asks the function (or the cache); the `requestContext.authorizer` value when allowed.
    pub async fn authorize(&self, app: &App, info: &RequestInfo) -> Result<Value, Response> {
        let mut identity = Vec::with_capacity(self.identity_source.len());
        for s in &self.identity_source {
            match identity_value(info, s) {
                Some(v) if !v.is_empty() => identity.push(v),
                _ => return Err(unauthorized(None)),
            }
        }
        let cache_key = (!identity.is_empty() && !self.ttl.is_zero()).then(|| identity.join("\0"));
        if let Some(k) = &cache_key {
            let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((until, decision)) = cache.get(k)
                && *until > Instant::now()
            {
                return decision
                    .clone()
                    .map(|c| json!({ "lambda": c }))
                    .ok_or_else(forbidden);
            }
        }
        let path = info.resource().trim_start_matches('/');
        let method = info.route_key.split(' ').next().unwrap_or("");
        let arn = format!(
            "arn:aws:execute-api:{}:{}:{}/$default/{}/{}",
            info.region, info.account, info.api_id, method, path
        );
        let event = if self.v1 {
            let mut e = info.event_v1();
            e["type"] = "REQUEST".into();
            e["methodArn"] = arn.into();
            e["identitySource"] = identity.join(",").into();
            e
        } else {
            let mut e = info.event_v2();
            e["type"] = "REQUEST".into();
            e["routeArn"] = arn.into();
            e["identitySource"] = json!(identity);
            e
        };
        let f = &self.function;
        let Ok(target) = app
            .functions
            .resolve(&f.region, &f.name, f.qualifier.as_deref())
        else {
            tracing::warn!(function = %f.name, "the Lambda authorizer's function does not exist");
            return Err(proxy::internal_error());
        };
        let inv = Invocation {
            payload: event.to_string().into(),
            invoked_arn: target.invoked_arn.clone(),
            ..Invocation::default()
        };
        let outcome = match tokio::time::timeout(AUTHORIZER_TIMEOUT, target.pool.invoke(inv)).await
        {
            Ok(Ok(o)) if o.function_error.is_none() => o,
            Ok(Err(_)) => {
                return Err(proxy::message(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Service Unavailable",
                ));
            }
            _ => return Err(proxy::internal_error()),
        };
        let answer: Value = serde_json::from_slice(&outcome.payload).unwrap_or(Value::Null);
        let decision = decide(&answer).ok_or_else(proxy::internal_error)?;
        if let Some(k) = cache_key {
            let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            if cache.len() >= CACHE_MAX {
                cache.clear();
            }
            cache.insert(k, (Instant::now() + self.ttl, decision.clone()));
        }
        decision
            .map(|c| json!({ "lambda": c }))
            .ok_or_else(forbidden)
    }
}

/// A Lambda authorizer's answer: `Some(Some(context))` allows, `Some(None)` denies, `None` is
/// malformed.
fn decide(answer: &Value) -> Option<Option<Value>> {
    let context = answer
        .get("context")
        .filter(|c| c.is_object())
        .cloned()
        .unwrap_or_else(|| json!({}));
    if let Some(allowed) = answer.get("isAuthorized") {
        return Some(allowed.as_bool()?.then_some(context));
    }
    let statements = answer.get("policyDocument")?.get("Statement")?;
    let statements: Vec<&Value> = match statements {
        Value::Array(a) => a.iter().collect(),
        other => vec![other],
    };
    let allow = statements
        .iter()
        .any(|s| s.get("Effect").and_then(Value::as_str) == Some("Allow"));
    let deny = statements
        .iter()
        .any(|s| s.get("Effect").and_then(Value::as_str) == Some("Deny"));
    Some((allow && !deny).then_some(context))
}

/// Whether a request carries one of the API's keys.
pub fn api_key_ok(info: &RequestInfo, keys: &[String]) -> bool {
    info.header("x-api-key")
        .is_some_and(|k| keys.iter().any(|x| x == k))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decisions() {
        assert_eq!(
            decide(&json!({"isAuthorized": true, "context": {"u": "1"}})),
            Some(Some(json!({"u": "1"})))
        );
        assert_eq!(decide(&json!({"isAuthorized": false})), Some(None));
        assert_eq!(decide(&json!({"isAuthorized": "yes"})), None);
        assert_eq!(decide(&json!("nope")), None);
        assert_eq!(
            decide(&json!({"policyDocument": {"Statement": [{"Effect": "Allow"}]}})),
            Some(Some(json!({})))
        );
    }

    #[tokio::test]
    async fn hs256_tokens_are_checked() {
        let _already = rustls::crypto::ring::default_provider()
            .install_default()
            .is_err();
        let dir = tempfile::tempdir().unwrap();
        let secret = b"0123456789abcdef0123456789abcdef";
        let k = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret);
        let jwks = dir.path().join("jwks.json");
        std::fs::write(
            &jwks,
            json!({"keys": [{"kty": "oct", "kid": "s", "k": k}]}).to_string(),
        )
        .unwrap();
        let a = JwtAuthorizer::new(
            &AuthorizerDef::default(),
            &JwtConfig {
                issuer: "https://issuer".into(),
                audience: vec!["shop".into()],
                jwks_file: Some(jwks.display().to_string()),
                jwks_uri: None,
            },
            &KeySources::new(
                CodeRoots::new([dir.path().to_owned()]).unwrap(),
                Egress::default(),
            )
            .unwrap(),
        );
        let sign = |claims: Value| {
            let enc =
                |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
            let msg = format!(
                "{}.{}",
                enc(&json!({"alg": "HS256", "kid": "s"})),
                enc(&claims)
            );
            let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
            let sig = ring::hmac::sign(&key, msg.as_bytes());
            format!(
                "{msg}.{}",
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sig.as_ref())
            )
        };
        let now = 1_700_000_000;
        let good = sign(json!({"iss": "https://issuer", "aud": "shop", "exp": now + 60}));
        assert!(a.verify(&good, now).await.is_ok());
        let expired = sign(json!({"iss": "https://issuer", "aud": "shop", "exp": now - 600}));
        assert_eq!(a.verify(&expired, now).await, Err("the token has expired"));
        let aud = sign(json!({"iss": "https://issuer", "aud": "other", "exp": now + 60}));
        assert_eq!(
            a.verify(&aud, now).await,
            Err("the token's audience is not accepted")
        );
        let mut tampered = good.clone();
        tampered.push('x');
        assert!(a.verify(&tampered, now).await.is_err());
        assert!(a.verify("a.b", now).await.is_err());
    }
}
