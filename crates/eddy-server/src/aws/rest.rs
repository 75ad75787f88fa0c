//! The rest-json side of the AWS endpoint: services addressed by method and path (Lambda,
//! Scheduler, API Gateway v2) rather than by `X-Amz-Target`.
//!
//! The service is the SigV4 credential scope's signing name when the request is signed, else it
//! is recognised from the path prefix (unsigned `curl` calls). Handlers get a [`RestRequest`] and
//! answer a full [`Response`] (rest-json operations choose their own success status); errors are
//! rendered once, here, in the rest-json shape: status, `x-amzn-ErrorType: CODE` and a JSON body
//! `{"Type": "User", "message": TEXT}` (botocore reads the code from the header and the text from
//! `message`).

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use eddy_net::url::percent_decode;

use crate::error::ApiError;

/// A rest-json service eddy serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestService {
    Lambda,
    Scheduler,
    ApiGateway,
}

impl RestService {
    /// The service a request is for: its signing name, or failing that its path.
    pub fn of(signing_name: Option<&str>, path: &str) -> Option<Self> {
        match signing_name {
            Some("lambda") => return Some(Self::Lambda),
            Some("scheduler") => return Some(Self::Scheduler),
            Some("apigateway") => return Some(Self::ApiGateway),
            _ => {}
        }
        let first = path.trim_start_matches('/').split('/').next().unwrap_or("");
        match first {
            "2015-03-31" | "2019-09-25" | "2017-03-31" | "2016-08-19" | "2021-11-15"
            | "2018-10-31" | "2020-06-30" | "2021-10-31" | "2017-10-31" | "2019-09-30" => {
                Some(Self::Lambda)
            }
            "schedules" | "schedule-groups" => Some(Self::Scheduler),
            "tags" if path.contains(":scheduler:") => Some(Self::Scheduler),
            "v2" => Some(Self::ApiGateway),
            _ => None,
        }
    }

    /// The largest request body a call to `path` may carry: Lambda's code uploads take a 50 MB
    /// zip (base64-encoded, in JSON); everything else `default`.
    pub fn body_limit(self, method: &Method, path: &str, default: usize) -> usize {
        if self != Self::Lambda {
            return default;
        }
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        match segments.as_slice() {
            [_, "functions"] if method == Method::POST => super::lambda::MAX_REQUEST_BYTES,
            [_, "functions", _, "code"] if method == Method::PUT => {
                super::lambda::MAX_REQUEST_BYTES
            }
            _ => default,
        }
    }

    /// How the service answers a request body it could not read.
    pub fn body_error(self, e: eddy_net::BodyError) -> ApiError {
        match (self, e) {
            (Self::Lambda, eddy_net::BodyError::TooLarge { limit }) => ApiError::new(
                "RequestTooLargeException",
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("Request must be smaller than {limit} bytes"),
            ),
            (_, e) => super::body_error(e),
        }
    }

    /// The service's name in messages.
    pub fn display_name(self) -> &'static str {
        match self {
            Self::Lambda => "Lambda",
            Self::Scheduler => "EventBridge Scheduler",
            Self::ApiGateway => "API Gateway v2",
        }
    }

    /// The label used in metrics.
    pub fn name(self) -> &'static str {
        match self {
            Self::Lambda => "lambda",
            Self::Scheduler => "scheduler",
            Self::ApiGateway => "apigateway",
        }
    }
}

/// One rest-json request, decoded enough for routing.
#[derive(Debug)]
pub struct RestRequest {
    pub method: Method,
    /// The path segments, percent-decoded (`/2015-03-31/functions/f` → `["2015-03-31",
    /// "functions", "f"]`).
    pub segments: Vec<String>,
    /// The query string's pairs, percent-decoded, in order.
    pub query: Vec<(String, String)>,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl RestRequest {
    pub fn new(
        method: Method,
        path: &str,
        query: Option<&str>,
        headers: HeaderMap,
        body: Bytes,
    ) -> Self {
        let segments = path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(percent_decode)
            .collect();
        let query = eddy_net::url::form_pairs(query.unwrap_or("")).collect();
        Self {
            method,
            segments,
            query,
            headers,
            body,
        }
    }

    /// The answer to a method and path no operation of the service has: AWS's
    /// `UnknownOperationException`, 404.
    pub fn unknown_operation(&self) -> ApiError {
        ApiError::new(
            "UnknownOperationException",
            StatusCode::NOT_FOUND,
            format!(
                "Unknown operation {} /{}",
                self.method,
                self.segments.join("/")
            ),
        )
    }

    /// The path segments as `&str`s, for matching.
    pub fn path(&self) -> Vec<&str> {
        self.segments.iter().map(String::as_str).collect()
    }

    /// The first value of query parameter `name`.
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A JSON response with `status`.
pub fn json<T: Serialize>(status: StatusCode, value: &T) -> Result<Response, ApiError> {
    let body = serde_json::to_vec(value)
        .map_err(|e| ApiError::internal(format!("cannot encode reply: {e}")))?;
    Ok((status, [("content-type", "application/json")], body).into_response())
}

/// An empty response with `status`.
pub fn empty(status: StatusCode) -> Response {
    status.into_response()
}

/// The rest-json error shape.
pub fn error_response(e: &ApiError) -> Response {
    #[derive(Serialize)]
    struct Wire<'a> {
        #[serde(rename = "Type")]
        kind: &'a str,
        message: &'a str,
    }
    let kind = if e.status.is_server_error() {
        "Service"
    } else {
        "User"
    };
    let body = serde_json::to_vec(&Wire {
        kind,
        message: &e.message,
    })
    .unwrap_or_else(|_| b"{}".to_vec());
    let mut res = (e.status, [("content-type", "application/json")], body).into_response();
    res.headers_mut()
        .insert("x-amzn-errortype", HeaderValue::from_static(e.code));
    res
}

/// Parses a rest-json request body (values may borrow from it); an empty body is `{}`.
/// Malformed JSON is AWS's `InvalidRequestContentException`.
pub fn parse<'a, T: serde::Deserialize<'a>>(body: &'a [u8]) -> Result<T, ApiError> {
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}".as_slice()
    } else {
        body
    };
    serde_json::from_slice(body).map_err(|e| {
        let s = e.to_string();
        let s = match s.rfind(" at line ") {
            Some(i) => s[..i].to_owned(),
            None => s,
        };
        ApiError::bad(
            "InvalidRequestContentException",
            format!("Could not parse request body into json: {s}"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn services_by_signing_name_and_path() {
        assert_eq!(
            RestService::of(Some("lambda"), "/anything"),
            Some(RestService::Lambda)
        );
        assert_eq!(
            RestService::of(None, "/2015-03-31/functions/f/invocations"),
            Some(RestService::Lambda)
        );
        assert_eq!(
            RestService::of(None, "/schedules/s"),
            Some(RestService::Scheduler)
        );
        assert_eq!(
            RestService::of(None, "/v2/apis"),
            Some(RestService::ApiGateway)
        );
        assert_eq!(RestService::of(Some("events"), "/"), None);
        assert_eq!(RestService::of(None, "/"), None);
    }

    #[test]
    fn segments_and_query_are_decoded() {
        let r = RestRequest::new(
            Method::GET,
            "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A1%3Afunction%3Af",
            Some("Qualifier=%24LATEST&MaxItems=5&flag"),
            HeaderMap::new(),
            Bytes::new(),
        );
        assert_eq!(
            r.path(),
            [
                "2015-03-31",
                "functions",
                "arn:aws:lambda:us-east-1:1:function:f"
            ]
        );
        assert_eq!(r.query("Qualifier"), Some("$LATEST"));
        assert_eq!(r.query("MaxItems"), Some("5"));
        assert_eq!(r.query("flag"), Some(""));
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
    }
}
