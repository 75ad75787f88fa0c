//! HTTP deliveries to API destinations: the request EventBridge sends (method, endpoint with path
//! parameters, query string, headers, the connection's authorisation), the invocation rate limit,
//! OAuth client-credentials tokens, and which answers are worth retrying. `http://` endpoints
//! are sent through the lean [`super::plain`] client, `https://` ones through reqwest.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine;
use bytes::Bytes;
use eddy_model::definitions::TargetDef;
use serde_json::Value;

use super::Failure;
use super::plain::{Outgoing, PlainClient};
use crate::destinations::{ApiDestinationDef, ConnectionDef};

/// How long one HTTP invocation may take (EventBridge's limit for API destinations).
pub const INVOCATION_TIMEOUT: Duration = Duration::from_secs(5);

/// The `User-Agent` of every delivery (EventBridge's).
const USER_AGENT: &str = "Amazon/EventBridge/ApiDestinations";

/// Rate limiters kept at most before idle ones are forgotten.
const MAX_BUCKETS: usize = 10_000;

/// A token bucket for one destination's invocation rate limit.
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// The pooled HTTP client, cached OAuth tokens and rate limiters.
pub struct HttpClient {
    client: reqwest::Client,
    plain: PlainClient,
    tokens: Mutex<HashMap<String, (String, Instant)>>,
    buckets: Mutex<HashMap<String, Bucket>>,
}

/// `Key`/`Value` lists of a connection's HTTP parameters.
fn pairs(params: Option<&Value>, list: &str) -> Vec<(String, String)> {
    params
        .and_then(|p| p.get(list))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|p| {
            Some((
                p.get("Key")?.as_str()?.to_owned(),
                p.get("Value")?.as_str()?.to_owned(),
            ))
        })
        .collect()
}

/// String maps of a target's `HttpParameters`.
fn map(params: Option<&Value>, member: &str) -> Vec<(String, String)> {
    params
        .and_then(|p| p.get(member))
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
        .collect()
}

/// The endpoint with each `*` replaced by the next `PathParameterValues` entry.
pub fn endpoint_url(endpoint: &str, path_values: &[String]) -> String {
    let mut out = String::with_capacity(endpoint.len());
    let mut values = path_values.iter();
    for c in endpoint.chars() {
        match (c, values.clone().next()) {
            ('*', Some(v)) => {
                out.push_str(v);
                values.next();
            }
            (c, _) => out.push(c),
        }
    }
    out
}

/// Whether an HTTP status is worth retrying: throttling, timeouts and server errors.
pub fn retryable_status(status: u16) -> bool {
    status == 408 || status == 429 || status >= 500
}

/// A reqwest builder with eddy's TLS provider (ring) installed, for every HTTP client eddy
/// makes (API destinations, the CLI).
pub fn client_builder() -> reqwest::ClientBuilder {
    // One process-wide TLS provider; a second install (tests start many servers) is fine.
    let _already = rustls::crypto::ring::default_provider()
        .install_default()
        .is_err();
    reqwest::Client::builder()
}

impl HttpClient {
    pub fn new() -> anyhow::Result<Self> {
        let client = client_builder()
            .timeout(INVOCATION_TIMEOUT)
            .pool_max_idle_per_host(256)
            .user_agent(USER_AGENT)
            .build()?;
        Ok(Self {
            client,
            plain: PlainClient::default(),
            tokens: Mutex::new(HashMap::new()),
            buckets: Mutex::new(HashMap::new()),
        })
    }

    /// Waits for the destination's rate limit to allow one more invocation.
    /// The limit is `per_second`, asked again from `current` after each wait, so a changed
    /// limit (UpdateApiDestination) applies to deliveries already waiting, within one token's
    /// wait.
    pub(crate) async fn take_token(&self, key: &str, per_second: i64, current: impl Fn() -> i64) {
        let mut per_second = per_second;
        loop {
            let rate = per_second.max(1) as f64;
            let wait = {
                let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
                // Buckets of destinations and subscriptions gone, or idle for a minute (full
                // again by then), are forgotten before there are too many.
                if buckets.len() >= MAX_BUCKETS && !buckets.contains_key(key) {
                    let now = Instant::now();
                    buckets.retain(|_, b| now.duration_since(b.at) < Duration::from_secs(60));
                }
                let b = buckets.entry(key.to_owned()).or_insert_with(|| Bucket {
                    tokens: rate,
                    at: Instant::now(),
                });
                let now = Instant::now();
                b.tokens = (b.tokens + now.duration_since(b.at).as_secs_f64() * rate).min(rate);
                b.at = now;
                if b.tokens >= 1.0 {
                    b.tokens -= 1.0;
                    return;
                }
                Duration::from_secs_f64((1.0 - b.tokens) / rate)
            };
            tokio::time::sleep(wait).await;
            per_second = current();
        }
    }

    /// An OAuth access token for the connection (client-credentials grant), cached until shortly
    /// before it expires.
    async fn oauth_token(&self, conn: &ConnectionDef) -> Result<String, Failure> {
        let key = format!("{}:{}:{}", conn.region, conn.name, conn.modified_ms);
        if let Some((t, until)) = self
            .tokens
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
            && Instant::now() < *until
        {
            return Ok(t.clone());
        }
        let o = &conn.auth_parameters["OAuthParameters"];
        let endpoint = o["AuthorizationEndpoint"].as_str().unwrap_or_default();
        let method = o["HttpMethod"].as_str().unwrap_or("POST");
        let id = o["ClientParameters"]["ClientID"]
            .as_str()
            .unwrap_or_default();
        let secret = o["ClientParameters"]["ClientSecret"]
            .as_str()
            .unwrap_or_default();
        let http = o.get("OAuthHttpParameters");
        let mut form = vec![("grant_type".to_owned(), "client_credentials".to_owned())];
        form.extend(pairs(http, "BodyParameters"));
        let method =
            reqwest::Method::from_bytes(method.as_bytes()).unwrap_or(reqwest::Method::POST);
        let endpoint = with_query(endpoint, &pairs(http, "QueryStringParameters"))
            .map_err(|e| Failure::permanent("OAuthFailed", e))?;
        let mut req = self
            .client
            .request(method, endpoint)
            .basic_auth(id, Some(secret));
        for (k, v) in pairs(http, "HeaderParameters") {
            req = req.header(k, v);
        }
        let body = form
            .iter()
            .map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v)))
            .collect::<Vec<_>>()
            .join("&");
        req = req
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        let res = req.send().await.map_err(|e| {
            Failure::retryable(
                "OAuthFailed",
                format!("cannot reach the authorization endpoint: {e}"),
            )
        })?;
        let status = res.status().as_u16();
        let text = res.text().await.unwrap_or_default();
        if !(200..300).contains(&status) {
            let f = format!("the authorization endpoint answered {status}");
            return Err(if retryable_status(status) {
                Failure::retryable("OAuthFailed", f)
            } else {
                Failure::permanent("OAuthFailed", f)
            });
        }
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let Some(token) = v.get("access_token").and_then(Value::as_str) else {
            return Err(Failure::permanent(
                "OAuthFailed",
                "the authorization endpoint's answer has no access_token",
            ));
        };
        let ttl = v
            .get("expires_in")
            .and_then(Value::as_u64)
            .unwrap_or(3600)
            .saturating_sub(10);
        self.tokens
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                key,
                (token.to_owned(), Instant::now() + Duration::from_secs(ttl)),
            );
        Ok(token.to_owned())
    }

    /// Sends one event to an API destination. `rate_limit` answers the destination's current
    /// invocation rate limit when the delivery had to wait for its turn (it may have changed).
    pub async fn invoke(
        &self,
        target: &TargetDef,
        dest: &ApiDestinationDef,
        conn: &ConnectionDef,
        body: String,
        rate_limit: impl Fn() -> i64,
    ) -> Result<(), Failure> {
        if conn.state != "AUTHORIZED" {
            return Err(Failure::permanent(
                "ConnectionNotAuthorized",
                format!("connection {} is {}", conn.name, conn.state),
            ));
        }
        self.take_token(
            &format!("{}:{}", dest.region, dest.name),
            dest.invocation_rate_limit_per_second,
            rate_limit,
        )
        .await;
        let params = target.other.get("HttpParameters");
        let path_values: Vec<String> = params
            .and_then(|p| p.get("PathParameterValues"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect();
        let url = endpoint_url(&dest.invocation_endpoint, &path_values);
        let method = reqwest::Method::from_bytes(dest.http_method.as_bytes())
            .map_err(|_| Failure::permanent("InvalidMethod", "invalid HTTP method"))?;
        let invocation = conn.auth_parameters.get("InvocationHttpParameters");
        let mut query = pairs(invocation, "QueryStringParameters");
        query.extend(map(params, "QueryStringParameters"));
        let target_url =
            with_query(&url, &query).map_err(|e| Failure::permanent("InvalidEndpoint", e))?;
        let mut headers = vec![(
            "content-type".to_owned(),
            "application/json; charset=utf-8".to_owned(),
        )];
        headers.extend(pairs(invocation, "HeaderParameters"));
        headers.extend(map(params, "HeaderParameters"));
        match conn.authorization_type.as_str() {
            "API_KEY" => {
                let k = &conn.auth_parameters["ApiKeyAuthParameters"];
                headers.push((
                    k["ApiKeyName"].as_str().unwrap_or_default().to_owned(),
                    k["ApiKeyValue"].as_str().unwrap_or_default().to_owned(),
                ));
            }
            "BASIC" => {
                let b = &conn.auth_parameters["BasicAuthParameters"];
                let user = b["Username"].as_str().unwrap_or_default();
                let pass = b["Password"].as_str().unwrap_or_default();
                let token =
                    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
                headers.push(("authorization".to_owned(), format!("Basic {token}")));
            }
            _ => {
                let token = self.oauth_token(conn).await?;
                headers.push(("authorization".to_owned(), format!("Bearer {token}")));
            }
        }
        let body =
            (!matches!(method, reqwest::Method::GET | reqwest::Method::HEAD)).then_some(body);
        let (status, text) = if target_url.scheme() == "http" {
            self.send_plain(&target_url, method, headers, body).await
        } else {
            self.send_tls(target_url, method, headers, body).await
        }
        .map_err(|what| {
            Failure::retryable("HttpConnectionFailed", format!("request to {url} {what}"))
        })?;
        if (200..300).contains(&status) {
            return Ok(());
        }
        let excerpt: String = text.chars().take(256).collect();
        let message = format!("{url} answered {status}: {excerpt}");
        let code = format!("HTTP_{status}");
        Err(if retryable_status(status) {
            Failure::retryable(&code, message)
        } else {
            Failure::permanent(&code, message)
        })
    }

    /// POSTs `body` with `headers` to `url` (a topic's HTTP subscriber): delivered on a 2xx
    /// answer; anything else, or no answer, is a failure (every one retryable, as SNS retries
    /// them under the delivery policy).
    pub async fn post(
        &self,
        url: &str,
        headers: Vec<(String, String)>,
        body: String,
    ) -> Result<(), Failure> {
        let target = reqwest::Url::parse(url).map_err(|e| {
            Failure::permanent("InvalidEndpoint", format!("the endpoint is not a URL: {e}"))
        })?;
        // What failures say (logs, dead-letter reasons) names no credentials the URL holds.
        let mut shown = target.clone();
        // Both fail only for URLs that cannot have credentials, which then hold none.
        let _cleared = shown.set_username("").is_ok() && shown.set_password(None).is_ok();
        let url = shown.as_str();
        let method = reqwest::Method::POST;
        let (status, text) = if target.scheme() == "http" {
            self.send_plain(&target, method, headers, Some(body)).await
        } else {
            self.send_tls(target, method, headers, Some(body)).await
        }
        .map_err(|what| {
            Failure::retryable("HttpConnectionFailed", format!("request to {url} {what}"))
        })?;
        if (200..300).contains(&status) {
            return Ok(());
        }
        let excerpt: String = text.chars().take(256).collect();
        Err(Failure::retryable(
            &format!("HTTP_{status}"),
            format!("{url} answered {status}: {excerpt}"),
        ))
    }

    /// Sends a delivery to an `https://` endpoint through reqwest. Answers the status and body,
    /// or why no answer came (`"failed: …"`, `"timed out: …"`).
    async fn send_tls(
        &self,
        url: reqwest::Url,
        method: reqwest::Method,
        headers: Vec<(String, String)>,
        body: Option<String>,
    ) -> Result<(u16, String), String> {
        let mut req = self.client.request(method, url);
        for (k, v) in headers {
            req = req.header(k, v);
        }
        if let Some(body) = body {
            req = req.body(body);
        }
        let res = req.send().await.map_err(|e| {
            let what = if e.is_timeout() {
                "timed out"
            } else {
                "failed"
            };
            format!("{what}: {e}")
        })?;
        let status = res.status().as_u16();
        let text = if (200..300).contains(&status) {
            String::new()
        } else {
            res.text().await.unwrap_or_default()
        };
        Ok((status, text))
    }

    /// Sends a delivery to an `http://` endpoint through the lean client ([`PlainClient`]),
    /// with the same headers reqwest would add (`user-agent`, `accept` unless given) and the
    /// same timeout.
    async fn send_plain(
        &self,
        url: &reqwest::Url,
        method: reqwest::Method,
        headers: Vec<(String, String)>,
        body: Option<String>,
    ) -> Result<(u16, String), String> {
        let host = url.host_str().unwrap_or_default();
        let port = url.port_or_known_default().unwrap_or(80);
        let authority = format!("{host}:{port}");
        let mut map = reqwest::header::HeaderMap::with_capacity(headers.len() + 3);
        let host_header = match url.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.to_owned(),
        };
        let value =
            |v: &str| reqwest::header::HeaderValue::from_str(v).map_err(|e| format!("failed: {e}"));
        map.insert(reqwest::header::HOST, value(&host_header)?);
        for (k, v) in &headers {
            let name = reqwest::header::HeaderName::from_bytes(k.as_bytes())
                .map_err(|e| format!("failed: {e}"))?;
            map.append(name, value(v)?);
        }
        map.entry(reqwest::header::USER_AGENT)
            .or_insert(reqwest::header::HeaderValue::from_static(USER_AGENT));
        map.entry(reqwest::header::ACCEPT)
            .or_insert(reqwest::header::HeaderValue::from_static("*/*"));
        let target = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        };
        let out = Outgoing {
            method,
            target,
            headers: map,
            body: body.map(Bytes::from).unwrap_or_default(),
        };
        match tokio::time::timeout(INVOCATION_TIMEOUT, self.plain.send(&authority, &out)).await {
            Ok(Ok(answer)) => Ok((
                answer.status,
                String::from_utf8_lossy(&answer.body).into_owned(),
            )),
            Ok(Err(e)) => Err(format!("failed: {e}")),
            Err(_) => Err(format!(
                "timed out: no answer within {} s",
                INVOCATION_TIMEOUT.as_secs()
            )),
        }
    }
}

/// `url` with `pairs` appended to its query string.
fn with_query(url: &str, pairs: &[(String, String)]) -> Result<reqwest::Url, String> {
    let mut u = reqwest::Url::parse(url).map_err(|e| format!("invalid endpoint {url}: {e}"))?;
    if !pairs.is_empty() {
        let mut q = u.query_pairs_mut();
        for (k, v) in pairs {
            q.append_pair(k, v);
        }
    }
    Ok(u)
}

fn urlencode(s: &str) -> String {
    eddy_net::url::percent_encode(s, b"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_parameters_fill_the_wildcards_in_order() {
        assert_eq!(
            endpoint_url("http://h/a/*/b/*", &["1".into(), "2".into()]),
            "http://h/a/1/b/2"
        );
        assert_eq!(endpoint_url("http://h/a/*", &[]), "http://h/a/*");
    }

    #[test]
    fn which_statuses_retry() {
        for s in [408, 429, 500, 502, 503] {
            assert!(retryable_status(s), "{s}");
        }
        for s in [400, 401, 403, 404, 409, 422] {
            assert!(!retryable_status(s), "{s}");
        }
    }

    #[test]
    fn form_values_are_encoded() {
        assert_eq!(urlencode("a b&c=d"), "a%20b%26c%3Dd");
    }
}
