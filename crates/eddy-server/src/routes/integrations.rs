//! The bus and queue integrations of routes (AWS's `EventBridge-PutEvents` and
//! `SQS-SendMessage` subtypes), and the parameter mapping they share.
//!
//! Bus: the request becomes one event: `Source`, `DetailType` and `EventBusName` (default
//! `default`) from the integration's request parameters, `Detail` (default `$request.body`, which
//! must be a JSON object, else 400) plus one field per `Detail.NAME` parameter (request
//! metadata the route selects, like `"Detail.orderId": "$request.path.id"`). The answer is 202
//! `{"eventId": …}` once the event and its deliveries are durable.
//!
//! Queue: `QueueUrl` (a URL, ARN or name), `MessageBody` (default `$request.body`),
//! `MessageGroupId`, `MessageDeduplicationId`, `DelaySeconds`; the answer is 202
//! `{"messageId": …}` once the message is durable.
//!
//! Parameter values are static text or selection expressions: `$request.body`,
//! `$request.body.a.b`, `$request.header.NAME`, `$request.path.NAME`,
//! `$request.querystring.NAME`, `$context.requestId`, `$context.identity.sourceIp`,
//! `$context.routeKey`, `$context.httpMethod`, `$context.path`, `$context.apiId`,
//! `$context.requestTimeEpoch`.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::proxy::{self, RequestInfo};
use crate::App;
use crate::bus::PreparedEvent;
use crate::queues::OutMessage;

/// Largest event detail accepted from a route (EventBridge's 256 KB entry limit).
const MAX_DETAIL_BYTES: usize = 256 * 1024;

fn accepted(body: Value) -> Response {
    let mut res = proxy::message(StatusCode::ACCEPTED, "");
    *res.body_mut() = axum::body::Body::from(body.to_string());
    res
}

fn bad_request(text: &str) -> Response {
    proxy::message(StatusCode::BAD_REQUEST, text)
}

/// The request body as JSON, if it is.
fn body_json(info: &RequestInfo) -> Option<Value> {
    serde_json::from_slice(&info.body).ok()
}

/// Evaluates one parameter value; `Ok(None)` when the expression selects nothing, `Err` when the
/// body had to be JSON and is not.
fn evaluate(
    info: &RequestInfo,
    expr: &str,
    body: &mut Option<Option<Value>>,
) -> Result<Option<Value>, ()> {
    let text = |s: String| Ok(Some(Value::String(s)));
    if let Some(rest) = expr.strip_prefix("$request.body") {
        if rest.is_empty() {
            return text(String::from_utf8_lossy(&info.body).into_owned());
        }
        let parsed = body.get_or_insert_with(|| body_json(info));
        let Some(json) = parsed else {
            return Err(());
        };
        let mut v = &*json;
        for key in rest.trim_start_matches('.').split('.') {
            match v.get(key) {
                Some(x) => v = x,
                None => return Ok(None),
            }
        }
        return Ok(Some(v.clone()));
    }
    if let Some(h) = expr.strip_prefix("$request.header.") {
        return Ok(info
            .header(&h.to_ascii_lowercase())
            .map(|s| Value::String(s.to_owned())));
    }
    if let Some(p) = expr.strip_prefix("$request.path.") {
        return Ok(info
            .path_params
            .iter()
            .find(|(k, _)| k == p)
            .map(|(_, v)| Value::String(v.clone())));
    }
    if let Some(q) = expr.strip_prefix("$request.querystring.") {
        return Ok(info
            .query_values()
            .get(q)
            .map(|v| Value::String(v.join(","))));
    }
    if let Some(c) = expr.strip_prefix("$context.") {
        return Ok(match c {
            "requestId" => Some(info.request_id.clone().into()),
            "identity.sourceIp" => Some(info.source_ip.clone().into()),
            "routeKey" => Some(info.route_key.clone().into()),
            "httpMethod" => Some(info.method.clone().into()),
            "path" => Some(info.raw_path.clone().into()),
            "apiId" => Some(info.api_id.clone().into()),
            "requestTimeEpoch" => Some(info.time_ms.into()),
            _ => None,
        });
    }
    text(expr.to_owned())
}

/// A parameter value (static or a selection expression) as text; `None` when it selects
/// nothing (a body that is not JSON selects nothing).
pub fn evaluate_text(info: &RequestInfo, expr: &str) -> Option<String> {
    let mut body = None;
    evaluate(info, expr, &mut body)
        .ok()
        .flatten()
        .map(|v| match v {
            Value::String(s) => s,
            other => other.to_string(),
        })
}

/// A parameter as text.
fn text_param(
    info: &RequestInfo,
    params: &BTreeMap<String, String>,
    name: &str,
    body: &mut Option<Option<Value>>,
) -> Result<Option<String>, ()> {
    let Some(expr) = params.get(name) else {
        return Ok(None);
    };
    Ok(evaluate(info, expr, body)?.map(|v| match v {
        Value::String(s) => s,
        other => other.to_string(),
    }))
}

/// Puts the request on a bus.
pub async fn bus(app: &App, info: &RequestInfo, params: &BTreeMap<String, String>) -> Response {
    let mut body = None;
    let not_json = || bad_request("The request body must be a JSON object");
    let detail_expr = params.get("Detail").map_or("$request.body", String::as_str);
    let mut detail = if detail_expr == "$request.body" {
        match body_json(info) {
            Some(Value::Object(m)) => m,
            _ => return not_json(),
        }
    } else {
        match evaluate(info, detail_expr, &mut body) {
            Ok(Some(Value::Object(m))) => m,
            Ok(Some(Value::String(s))) => match serde_json::from_str(&s) {
                Ok(Value::Object(m)) => m,
                _ => return not_json(),
            },
            Ok(None) => Map::new(),
            _ => return not_json(),
        }
    };
    for (k, expr) in params {
        if let Some(field) = k.strip_prefix("Detail.") {
            match evaluate(info, expr, &mut body) {
                Ok(Some(v)) => {
                    detail.insert(field.to_owned(), v);
                }
                Ok(None) => {}
                Err(()) => return not_json(),
            }
        }
    }
    let (Ok(source), Ok(detail_type), Ok(bus)) = (
        text_param(info, params, "Source", &mut body),
        text_param(info, params, "DetailType", &mut body),
        text_param(info, params, "EventBusName", &mut body),
    ) else {
        return not_json();
    };
    let (Some(source), Some(detail_type)) = (source, detail_type) else {
        return bad_request("The request has no value for the event's Source or DetailType");
    };
    let bus = bus.unwrap_or_else(|| "default".to_owned());
    let bus = bus
        .rsplit_once(":event-bus/")
        .map_or(bus.as_str(), |(_, n)| n)
        .to_owned();
    let detail = Value::Object(detail).to_string();
    if detail.len() + source.len() + detail_type.len() > MAX_DETAIL_BYTES {
        return proxy::message(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large");
    }
    let event = PreparedEvent {
        bus,
        source,
        detail_type,
        detail,
        resources: Vec::new(),
        time_ms: None,
    };
    match app
        .bus
        .put(&info.region, vec![Ok(event)], app.clock.now_ms())
        .await
    {
        Ok(mut results) => match results.pop() {
            Some(Ok(id)) => accepted(json!({ "eventId": id })),
            // The request's own content was refused (a Detail nested too deeply): the client's
            // mistake, not the server's.
            Some(Err(e)) if e.code == "MalformedDetail" => bad_request(&e.message),
            Some(Err(e)) => {
                tracing::warn!(code = e.code, message = %e.message, "a bus route's event was not put");
                proxy::internal_error()
            }
            None => proxy::internal_error(),
        },
        Err(e) => {
            tracing::warn!(error = %e, "a bus route's event was not put");
            proxy::internal_error()
        }
    }
}

/// Sends the request to a queue.
pub async fn queue(app: &App, info: &RequestInfo, params: &BTreeMap<String, String>) -> Response {
    let mut body = None;
    let mut get = |name: &str| text_param(info, params, name, &mut body);
    let (Ok(url), Ok(message), Ok(group), Ok(dedup), Ok(delay)) = (
        get("QueueUrl"),
        get("MessageBody"),
        get("MessageGroupId"),
        get("MessageDeduplicationId"),
        get("DelaySeconds"),
    ) else {
        return bad_request("The request body must be JSON");
    };
    let url = url.unwrap_or_default();
    let name = url
        .trim_end_matches('/')
        .rsplit(['/', ':'])
        .next()
        .unwrap_or("")
        .to_owned();
    let message = match message {
        Some(m) => m,
        None if !params.contains_key("MessageBody") => {
            String::from_utf8_lossy(&info.body).into_owned()
        }
        None => String::new(),
    };
    if message.is_empty() {
        return bad_request("The message body must not be empty");
    }
    let Some(queue) = app.queues.get(&info.region, &name) else {
        tracing::warn!(queue = %name, "a queue route's queue does not exist");
        return proxy::internal_error();
    };
    if message.len() > queue.max_size() {
        return proxy::message(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large");
    }
    let out = OutMessage {
        body: message,
        delay_secs: delay.and_then(|d| d.parse().ok()),
        group_id: group,
        dedup_id: dedup,
        ..OutMessage::default()
    };
    if queue.fifo() && out.group_id.is_none() {
        return bad_request("The request has no value for MessageGroupId");
    }
    match app.queues.send(&queue, vec![out]).await {
        Ok(mut sent) => match sent.pop() {
            Some(s) => accepted(json!({ "messageId": s.message_id })),
            None => proxy::internal_error(),
        },
        Err(e) => {
            tracing::warn!(error = %e, "a queue route's message was not sent");
            proxy::internal_error()
        }
    }
}
