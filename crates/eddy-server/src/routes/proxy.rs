//! The Lambda proxy integration of HTTP APIs: the request event a function receives (payload
//! format 2.0 by default, 1.0 on request) and how its answer becomes the HTTP response.
//!
//! Request (2.0): `rawPath`, `rawQueryString` as received, `cookies` from the `Cookie` headers,
//! `headers` with lower-case names and duplicates joined by commas, `queryStringParameters`
//! (decoded, duplicates joined), `pathParameters`, `body` (base64 with `isBase64Encoded` unless
//! the content type is text and the bytes are UTF-8), and `requestContext` (method, path,
//! source IP, user agent, request id, route key, stage `$default`, time). 1.0 has `resource`,
//! `path`, `httpMethod`, single- and multi-value headers and query parameters.
//!
//! Response: 2.0 accepts the full form `{statusCode, headers, cookies, body, isBase64Encoded}`
//! and the simplified form (any JSON without `statusCode`: 200, `application/json`, the JSON as
//! the body, a JSON string as its text); 1.0 accepts the full form only. Anything else is API
//! Gateway's 500 `{"message":"Internal Server Error"}`.

use std::collections::BTreeMap;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use base64::Engine;
use serde_json::{Map, Value, json};

use super::PayloadFormat;

/// What a route's integration and authorizer know about the request.
#[derive(Debug, Clone)]
pub struct RequestInfo {
    pub method: String,
    /// The path as the API saw it (without the `/_api/{apiId}` prefix), still percent-encoded.
    pub raw_path: String,
    /// The query string as received, without `?`.
    pub raw_query: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub source_ip: String,
    pub protocol: &'static str,
    pub api_id: String,
    pub account: String,
    pub region: String,
    /// The `Host` the client used (without the port).
    pub domain: String,
    pub request_id: String,
    pub time_ms: i64,
    pub route_key: String,
    pub path_params: Vec<(String, String)>,
    pub stage_variables: BTreeMap<String, String>,
    /// The stage that serves the request (`$default`, or the name the path starts with).
    pub stage: String,
    /// `requestContext.authorizer`: `{"jwt": …}` or `{"lambda": …}`.
    pub authorizer: Option<Value>,
}

/// `12/Mar/2020:19:03:58 +0000`.
pub fn clf_time(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        .strftime("%d/%b/%Y:%H:%M:%S +0000")
        .to_string()
}

/// Whether a body of this content type is passed as text (when it is UTF-8).
fn is_text(content_type: Option<&str>) -> bool {
    let Some(ct) = content_type else {
        return true;
    };
    let ct = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    ct.is_empty()
        || ct.starts_with("text/")
        || ct.ends_with("/json")
        || ct.ends_with("+json")
        || ct.ends_with("/xml")
        || ct.ends_with("+xml")
        || ct.contains("javascript")
        || ct == "application/x-www-form-urlencoded"
        || ct == "application/graphql"
        || ct == "application/yaml"
}

impl RequestInfo {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body as the event carries it, and whether it is base64.
    pub fn body_field(&self) -> (Option<String>, bool) {
        if self.body.is_empty() {
            return (None, false);
        }
        if is_text(self.header("content-type"))
            && let Ok(s) = std::str::from_utf8(&self.body)
        {
            return (Some(s.to_owned()), false);
        }
        (
            Some(base64::engine::general_purpose::STANDARD.encode(&self.body)),
            true,
        )
    }

    /// Header names (lower case) with their values, duplicates in order. `Cookie` is left out
    /// when `skip_cookie`.
    fn header_values(&self, skip_cookie: bool) -> BTreeMap<String, Vec<String>> {
        let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (k, v) in &self.headers {
            if skip_cookie && k == "cookie" {
                continue;
            }
            let v = String::from_utf8_lossy(v.as_bytes()).into_owned();
            out.entry(k.as_str().to_owned()).or_default().push(v);
        }
        out
    }

    /// Query parameters, decoded, duplicates in order.
    pub fn query_values(&self) -> BTreeMap<String, Vec<String>> {
        let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (k, v) in eddy_net::url::form_pairs(&self.raw_query) {
            out.entry(k).or_default().push(v);
        }
        out
    }

    /// The cookies of every `Cookie` header.
    pub fn cookies(&self) -> Vec<String> {
        self.headers
            .get_all("cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_owned)
            .collect()
    }

    fn path_params_value(&self) -> Option<Value> {
        (!self.path_params.is_empty()).then(|| {
            Value::Object(
                self.path_params
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                    .collect(),
            )
        })
    }

    fn stage_vars_value(&self) -> Option<Value> {
        (!self.stage_variables.is_empty()).then(|| json!(self.stage_variables))
    }

    fn domain_prefix(&self) -> &str {
        self.domain.split('.').next().unwrap_or("")
    }

    fn user_agent(&self) -> &str {
        self.header("user-agent").unwrap_or("")
    }

    /// The path of the route key (`/items/{id}`), or `$default`.
    pub fn resource(&self) -> &str {
        self.route_key
            .split_once(' ')
            .map_or(self.route_key.as_str(), |(_, p)| p)
    }

    /// The payload format 2.0 event.
    pub fn event_v2(&self) -> Value {
        let mut e = Map::new();
        e.insert("version".into(), "2.0".into());
        e.insert("routeKey".into(), self.route_key.clone().into());
        e.insert("rawPath".into(), self.raw_path.clone().into());
        e.insert("rawQueryString".into(), self.raw_query.clone().into());
        let cookies = self.cookies();
        if !cookies.is_empty() {
            e.insert("cookies".into(), json!(cookies));
        }
        let headers: Map<String, Value> = self
            .header_values(true)
            .into_iter()
            .map(|(k, v)| (k, Value::String(v.join(","))))
            .collect();
        e.insert("headers".into(), Value::Object(headers));
        let query = self.query_values();
        if !query.is_empty() {
            let q: Map<String, Value> = query
                .into_iter()
                .map(|(k, v)| (k, Value::String(v.join(","))))
                .collect();
            e.insert("queryStringParameters".into(), Value::Object(q));
        }
        if let Some(p) = self.path_params_value() {
            e.insert("pathParameters".into(), p);
        }
        if let Some(s) = self.stage_vars_value() {
            e.insert("stageVariables".into(), s);
        }
        let (body, b64) = self.body_field();
        if let Some(b) = body {
            e.insert("body".into(), b.into());
        }
        e.insert("isBase64Encoded".into(), b64.into());
        let mut ctx = json!({
            "accountId": self.account,
            "apiId": self.api_id,
            "domainName": self.domain,
            "domainPrefix": self.domain_prefix(),
            "http": {
                "method": self.method,
                "path": self.raw_path,
                "protocol": self.protocol,
                "sourceIp": self.source_ip,
                "userAgent": self.user_agent(),
            },
            "requestId": self.request_id,
            "routeKey": self.route_key,
            "stage": self.stage,
            "time": clf_time(self.time_ms),
            "timeEpoch": self.time_ms,
        });
        if let Some(a) = &self.authorizer {
            ctx["authorizer"] = a.clone();
        }
        e.insert("requestContext".into(), ctx);
        Value::Object(e)
    }

    /// The payload format 1.0 event.
    pub fn event_v1(&self) -> Value {
        let headers = self.header_values(false);
        let single: Map<String, Value> = headers
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), Value::String(v.last()?.clone()))))
            .collect();
        let multi: Map<String, Value> = headers.into_iter().map(|(k, v)| (k, json!(v))).collect();
        let query = self.query_values();
        let (qs, mqs) = if query.is_empty() {
            (Value::Null, Value::Null)
        } else {
            let single: Map<String, Value> = query
                .iter()
                .filter_map(|(k, v)| Some((k.clone(), Value::String(v.last()?.clone()))))
                .collect();
            (Value::Object(single), json!(query))
        };
        let (body, b64) = self.body_field();
        let mut ctx = json!({
            "accountId": self.account,
            "apiId": self.api_id,
            "domainName": self.domain,
            "domainPrefix": self.domain_prefix(),
            "extendedRequestId": self.request_id,
            "httpMethod": self.method,
            "identity": {
                "accessKey": null,
                "accountId": null,
                "caller": null,
                "cognitoAuthenticationProvider": null,
                "cognitoAuthenticationType": null,
                "cognitoIdentityId": null,
                "cognitoIdentityPoolId": null,
                "principalOrgId": null,
                "sourceIp": self.source_ip,
                "user": null,
                "userAgent": self.user_agent(),
                "userArn": null,
            },
            "path": self.raw_path,
            "protocol": self.protocol,
            "requestId": self.request_id,
            "requestTime": clf_time(self.time_ms),
            "requestTimeEpoch": self.time_ms,
            "resourceId": self.route_key,
            "resourcePath": self.resource(),
            "stage": self.stage,
        });
        if let Some(a) = &self.authorizer {
            // 1.0 puts the JWT claims and a Lambda authorizer's context directly under
            // `authorizer`.
            ctx["authorizer"] = a
                .get("lambda")
                .cloned()
                .or_else(|| a.get("jwt").cloned().map(|j| json!({ "jwt": j })))
                .unwrap_or_else(|| a.clone());
        }
        json!({
            "version": "1.0",
            "resource": self.resource(),
            "path": self.raw_path,
            "httpMethod": self.method,
            "headers": single,
            "multiValueHeaders": multi,
            "queryStringParameters": qs,
            "multiValueQueryStringParameters": mqs,
            "requestContext": ctx,
            "pathParameters": self.path_params_value().unwrap_or(Value::Null),
            "stageVariables": self.stage_vars_value().unwrap_or(Value::Null),
            "body": body,
            "isBase64Encoded": b64,
        })
    }

    pub fn event(&self, format: PayloadFormat) -> Value {
        match format {
            PayloadFormat::V1 => self.event_v1(),
            PayloadFormat::V2 => self.event_v2(),
        }
    }
}

/// API Gateway's answer with a `{"message": …}` body.
pub fn message(status: StatusCode, text: &str) -> Response {
    let body = json!({ "message": text }).to_string();
    let mut res = Response::new(Body::from(body));
    *res.status_mut() = status;
    res.headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    res
}

pub fn internal_error() -> Response {
    message(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
}

/// A scalar header value as text (`true`, `3`, `"x"`); objects and arrays are refused.
fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Maps a function's answer to the HTTP response; `None` means the answer is malformed (500).
pub fn map_response(format: PayloadFormat, payload: &[u8]) -> Option<Response> {
    let value: Value = serde_json::from_slice(payload).ok()?;
    let full = value.as_object().filter(|o| o.contains_key("statusCode"));
    let Some(obj) = full else {
        if format == PayloadFormat::V1 {
            return None;
        }
        // The simplified form.
        let body = match &value {
            Value::String(s) => s.clone().into_bytes(),
            _ => payload.to_vec(),
        };
        let mut res = Response::new(Body::from(body));
        res.headers_mut()
            .insert("content-type", HeaderValue::from_static("application/json"));
        return Some(res);
    };
    let status = match &obj["statusCode"] {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }?;
    let status = StatusCode::from_u16(u16::try_from(status).ok()?).ok()?;
    let mut headers = HeaderMap::new();
    if let Some(h) = obj.get("headers").filter(|h| !h.is_null()) {
        for (k, v) in h.as_object()? {
            let name = HeaderName::from_bytes(k.as_bytes()).ok()?;
            let value = HeaderValue::from_str(&scalar(v)?).ok()?;
            headers.insert(name, value);
        }
    }
    if let Some(h) = obj.get("multiValueHeaders").filter(|h| !h.is_null()) {
        for (k, vs) in h.as_object()? {
            let name = HeaderName::from_bytes(k.as_bytes()).ok()?;
            headers.remove(&name);
            for v in vs.as_array()? {
                headers.append(name.clone(), HeaderValue::from_str(&scalar(v)?).ok()?);
            }
        }
    }
    if let Some(c) = obj.get("cookies").filter(|c| !c.is_null()) {
        for cookie in c.as_array()? {
            headers.append("set-cookie", HeaderValue::from_str(cookie.as_str()?).ok()?);
        }
    }
    let b64 = obj
        .get("isBase64Encoded")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let body = match obj.get("body") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) if b64 => {
            base64::engine::general_purpose::STANDARD.decode(s).ok()?
        }
        Some(Value::String(s)) => s.clone().into_bytes(),
        // API Gateway passes a non-string body as its JSON text.
        Some(other) => other.to_string().into_bytes(),
    };
    if format == PayloadFormat::V2 && !headers.contains_key("content-type") && !body.is_empty() {
        headers.insert("content-type", HeaderValue::from_static("application/json"));
    }
    let mut res = Response::new(Body::from(body));
    *res.status_mut() = status;
    *res.headers_mut() = headers;
    Some(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> RequestInfo {
        let mut headers = HeaderMap::new();
        headers.append("x-multi", HeaderValue::from_static("a"));
        headers.append("x-multi", HeaderValue::from_static("b"));
        headers.append("cookie", HeaderValue::from_static("k1=v1; k2=v2"));
        headers.append("content-type", HeaderValue::from_static("image/png"));
        RequestInfo {
            method: "POST".into(),
            raw_path: "/items/42".into(),
            raw_query: "a=1&a=2&b=x%20y".into(),
            headers,
            body: Bytes::from_static(&[0, 159, 146, 150]),
            source_ip: "127.0.0.1".into(),
            protocol: "HTTP/1.1",
            api_id: "abc".into(),
            account: "123456789012".into(),
            region: "us-east-1".into(),
            domain: "abc.execute-api.localhost".into(),
            request_id: "rid".into(),
            time_ms: 1_583_348_638_390,
            route_key: "POST /items/{id}".into(),
            path_params: vec![("id".into(), "42".into())],
            stage_variables: BTreeMap::new(),
            stage: "$default".into(),
            authorizer: None,
        }
    }

    #[test]
    fn v2_event_fields() {
        let e = info().event_v2();
        assert_eq!(e["rawQueryString"], "a=1&a=2&b=x%20y");
        assert_eq!(e["cookies"], json!(["k1=v1", "k2=v2"]));
        assert_eq!(e["headers"]["x-multi"], "a,b");
        assert!(e["headers"].get("cookie").is_none());
        assert_eq!(e["queryStringParameters"], json!({"a": "1,2", "b": "x y"}));
        assert_eq!(e["pathParameters"], json!({"id": "42"}));
        assert_eq!(e["isBase64Encoded"], true);
        assert_eq!(e["body"], "AJ+Slg==");
        assert_eq!(e["requestContext"]["time"], "04/Mar/2020:19:03:58 +0000");
        assert_eq!(e["requestContext"]["domainPrefix"], "abc");
        let v1 = info().event_v1();
        assert_eq!(v1["multiValueHeaders"]["x-multi"], json!(["a", "b"]));
        assert_eq!(v1["headers"]["x-multi"], "b");
        assert_eq!(
            v1["multiValueQueryStringParameters"]["a"],
            json!(["1", "2"])
        );
        assert_eq!(v1["resource"], "/items/{id}");
    }

    #[test]
    fn responses() {
        let r = map_response(PayloadFormat::V2, br#"{"hello":"world"}"#).unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "application/json");
        let r = map_response(
            PayloadFormat::V2,
            br#"{"statusCode":201,"cookies":["a=1","b=2"],"body":"aGk=","isBase64Encoded":true,"headers":{"x-n":3}}"#,
        )
        .unwrap();
        assert_eq!(r.status(), 201);
        assert_eq!(r.headers().get_all("set-cookie").iter().count(), 2);
        assert_eq!(r.headers()["x-n"], "3");
        assert!(map_response(PayloadFormat::V2, b"not json").is_none());
        assert!(map_response(PayloadFormat::V1, br#"{"a":1}"#).is_none());
        assert!(map_response(PayloadFormat::V2, br#"{"statusCode":"x"}"#).is_none());
        assert!(map_response(PayloadFormat::V2, br#"{"statusCode":99999}"#).is_none());
    }
}
