//! What the AWS endpoint answers for what eddy does not serve: another AWS service (STS,
//! IAM, Step Functions, …), an operation of a service it serves, or a protocol it does not speak
//! for that service.
//!
//! Every such answer is in the protocol of the request, so the SDK or CLI that sent it reports
//! it as the service's own error (botocore raises `ClientError`, the aws CLI prints "An error
//! occurred (CODE) …") with a message naming the service, the operation and what eddy serves,
//! instead of failing to parse a reply in another protocol:
//!
//! | request | recognised by | answer |
//! | --- | --- | --- |
//! | AWS query (STS, IAM, CloudFormation, …) | `Action=` in the query string or form body | `text/xml` `<ErrorResponse>`, `InvalidAction`, 400 |
//! | S3's other endpoints (rest-xml: S3 Express, Object Lambda, ...) | signing name `s3*` other than `s3` | `application/xml` `<Error>`, `NotImplemented`, 501 |
//! | AWS JSON, unknown `X-Amz-Target` service | the target's prefix | JSON `UnknownOperationException`, 400 |
//! | rest-json (or anything else) for another signing name | the credential scope | JSON `UnknownOperationException`, 404 |
//! | an unknown operation of a served service | the service's own dispatch | its code, with [`operation_message`] |
//!
//! `InvalidAction` (400) is what AWS's query services answer for an action they do not know
//! (their "Common Errors"); `NotImplemented` (501) is S3's code for functionality it does not
//! implement, and neither status is one the SDKs retry. The request metrics count all of these
//! under operation `unknown`, so no client can mint metric labels.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use eddy_net::url::form_pairs;

use super::query::escape;
use crate::App;
use crate::error::ApiError;

/// What eddy serves, as the messages below say it.
pub const SERVED: &str = "it serves EventBridge, SQS, SNS, Lambda, \
                          EventBridge Scheduler, API Gateway v2 and CloudWatch Logs";

/// Names echoed from a request are cut to this many characters.
const ECHO_MAX: usize = 100;

/// A request none of eddy's services answers, as far as its headers (and, for the query
/// protocol, its form body) tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unserved {
    /// The AWS query protocol: `Action=ACTION`, for the service the request was signed for.
    Query {
        service: Option<String>,
        action: String,
    },
    /// S3's rest-xml protocol.
    S3,
    /// Signed for a service eddy does not serve, in no protocol recognised above (rest-json).
    Service(String),
    /// Signed for a JSON service eddy serves, but without `X-Amz-Target`.
    MissingTarget(String),
    /// Nothing names a service.
    Unknown,
}

impl Unserved {
    /// Classifies a request from its signing name, headers and query string, and `form`, the
    /// `Action` of its form body when it has one (see [`form_body`]).
    pub fn of(
        signing: Option<&str>,
        headers: &HeaderMap,
        query: Option<&str>,
        form: Option<String>,
    ) -> Self {
        let sigv2 = headers
            .get("authorization")
            .is_some_and(|v| v.as_bytes().starts_with(b"AWS ") && v.as_bytes().contains(&b':'));
        if signing.is_some_and(|s| s.starts_with("s3")) || (signing.is_none() && sigv2) {
            return Self::S3;
        }
        if let Some(action) = query.and_then(|q| form_value(q, "Action")).or(form) {
            return Self::Query {
                service: signing.map(str::to_owned),
                action,
            };
        }
        match signing {
            Some(s @ ("events" | "sqs" | "logs")) => Self::MissingTarget(s.to_owned()),
            Some(s) => Self::Service(s.to_owned()),
            None => Self::Unknown,
        }
    }
}

/// Whether a request's body is a form (`application/x-www-form-urlencoded`), so that it may be
/// an AWS query-protocol call whose `Action` is in the body.
pub fn form_body(headers: &HeaderMap) -> bool {
    headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        })
}

/// The first value of `key` in a form-encoded string (`a=1&b=2`), decoded.
pub fn form_value(form: &str, key: &str) -> Option<String> {
    form_pairs(form).find_map(|(k, v)| (k == key).then_some(v))
}

/// Answers a request of [`Unserved`] kind `what` in its protocol, with the error code it
/// carries (for the request metrics).
pub fn answer(
    what: &Unserved,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> (Response, &'static str) {
    let json = |e: ApiError| (super::error_response(&e), e.code);
    match what {
        Unserved::Query { service, action } => {
            let e = query_unserved(service.as_deref(), action);
            (query_error(&e), e.code)
        }
        Unserved::S3 => (
            s3_error(&s3_operation(method, uri, headers), uri.path()),
            "NotImplemented",
        ),
        Unserved::Service(service) => {
            let e = ApiError::new(
                "UnknownOperationException",
                StatusCode::NOT_FOUND,
                format!(
                    "eddy does not implement {} ({method} {}) yet; {SERVED}",
                    display_name(service),
                    echo(uri.path()),
                ),
            );
            (super::rest::error_response(&e), e.code)
        }
        Unserved::MissingTarget(service) => json(ApiError::unknown_operation(format!(
            "the request is signed for {} but has no X-Amz-Target header, which names the \
             operation of an AWS JSON protocol call",
            display_name(service)
        ))),
        Unserved::Unknown => json(ApiError::unknown_operation(format!(
            "eddy cannot tell which AWS service this request is for: it has no X-Amz-Target \
             header, no SigV4 credential scope naming a service and no Action parameter; {SERVED}"
        ))),
    }
}

/// The error for a query-protocol `action` of `service` (a signing name) that eddy does not
/// implement. (SNS and SQS, which eddy serves in the query protocol, answer their unknown
/// actions themselves, with [`operation_message`].)
fn query_unserved(service: Option<&str>, action: &str) -> ApiError {
    let action = echo(action);
    let message = match service {
        Some(s) => format!(
            "eddy does not implement {} ({action}) yet; {SERVED}",
            display_name(s)
        ),
        None => format!(
            "eddy does not implement the AWS query protocol action {action} (the request names \
             no service in a SigV4 credential scope); {SERVED}"
        ),
    };
    ApiError::bad("InvalidAction", message)
}

/// The message for an operation a served service does not have: `service` is its display
/// name, `operation` what the request asked for.
pub fn operation_message(service: &str, operation: &str) -> String {
    format!(
        "eddy does not implement the {service} operation {} yet; docs/aws-support.md in eddy's \
         repository lists the operations it serves",
        echo(operation)
    )
}

/// Whether an error is a served service's answer to an operation it does not have.
pub fn is_unknown_operation(e: &ApiError) -> bool {
    // SQS answers `UnsupportedOperation` (its own code) and only for that.
    matches!(e.code, "UnknownOperationException" | "UnsupportedOperation")
}

/// The answer to an AWS JSON call whose `X-Amz-Target` names a service eddy does not serve.
pub fn unknown_target(service: &str, operation: &str) -> ApiError {
    let name = match service {
        "AWSStepFunctions" => "Step Functions",
        "DynamoDB_20120810" => "DynamoDB",
        "DynamoDBStreams_20120810" => "DynamoDB Streams",
        "Kinesis_20131202" => "Kinesis",
        "Firehose_20150804" => "Data Firehose",
        "TrentService" => "KMS",
        "secretsmanager" => "Secrets Manager",
        "AmazonSSM" => "Systems Manager (SSM)",
        "AWSCognitoIdentityProviderService" => "Cognito user pools",
        "AWSCognitoIdentityService" => "Cognito identity pools",
        "AmazonEC2ContainerServiceV20141113" => "ECS",
        "AmazonEC2ContainerRegistry_V20150921" => "ECR",
        "CertificateManager" => "Certificate Manager",
        "AWSEventBridgePipes" => "EventBridge Pipes",
        "GraniteServiceVersion20100801" => "CloudWatch",
        _ => "",
    };
    let target = echo(&format!("{service}.{operation}"));
    let message = if name.is_empty() {
        format!("eddy does not implement the AWS JSON operation {target} yet; {SERVED}")
    } else {
        format!("eddy does not implement {name} ({target}) yet; {SERVED}")
    };
    ApiError::unknown_operation(message)
}

/// How the messages name the service of a signing name.
pub fn display_name(signing: &str) -> String {
    let name = match signing {
        "sns" => "SNS",
        "sqs" => "SQS",
        "sts" => "STS",
        "iam" => "IAM",
        "s3" => "S3",
        "cloudformation" => "CloudFormation",
        "ec2" => "EC2",
        "rds" => "RDS",
        "monitoring" => "CloudWatch",
        "ses" | "email" => "SES",
        "elasticloadbalancing" => "Elastic Load Balancing",
        "autoscaling" => "Auto Scaling",
        "elasticache" => "ElastiCache",
        "states" => "Step Functions",
        "dynamodb" => "DynamoDB",
        "kinesis" => "Kinesis",
        "firehose" => "Data Firehose",
        "kms" => "KMS",
        "secretsmanager" => "Secrets Manager",
        "ssm" => "Systems Manager (SSM)",
        "iot" => "IoT",
        "appsync" => "AppSync",
        "cognito-idp" => "Cognito user pools",
        "ecs" => "ECS",
        "ecr" => "ECR",
        "pipes" => "EventBridge Pipes",
        "schemas" => "EventBridge Schemas",
        "xray" => "X-Ray",
        "events" => "EventBridge",
        "logs" => "CloudWatch Logs",
        "lambda" => "Lambda",
        "scheduler" => "EventBridge Scheduler",
        "apigateway" => "API Gateway",
        _ => return format!("the AWS service `{}`", echo(signing)),
    };
    name.to_owned()
}

/// `s` cut to [`ECHO_MAX`] characters, for a message that repeats what a client sent.
pub fn echo(s: &str) -> String {
    if s.chars().count() <= ECHO_MAX {
        s.to_owned()
    } else {
        let cut: String = s.chars().take(ECHO_MAX).collect();
        format!("{cut}…")
    }
}

/// The S3 operation a request most likely is (`ListBuckets`, `PutObject`, …), or its method and
/// path when the guess would be a stretch.
pub fn s3_operation(method: &Method, uri: &Uri, headers: &HeaderMap) -> String {
    let query = uri.query().unwrap_or("");
    // Recent botocore names the operation itself.
    if let Some(op) = form_value(query, "x-id").filter(|op| !op.is_empty()) {
        return echo(&op);
    }
    let path = uri.path().trim_start_matches('/');
    let (bucket, key) = match path.split_once('/') {
        Some((b, k)) => (b, k),
        None => (path, ""),
    };
    const LISTING: &[&str] = &[
        "list-type",
        "prefix",
        "delimiter",
        "max-keys",
        "marker",
        "continuation-token",
        "start-after",
        "encoding-type",
        "fetch-owner",
        "versionId",
        "max-buckets",
        "bucket-region",
    ];
    let plain = query.split('&').filter(|p| !p.is_empty()).all(|p| {
        let k = p.split_once('=').map_or(p, |(k, _)| k);
        LISTING.contains(&k)
    });
    let op = match (method.as_str(), bucket.is_empty(), key.is_empty()) {
        _ if !plain => None,
        ("GET", true, _) => Some("ListBuckets"),
        ("GET", false, true) if form_value(query, "list-type").as_deref() == Some("2") => {
            Some("ListObjectsV2")
        }
        ("GET", false, true) => Some("ListObjects"),
        ("PUT", false, true) => Some("CreateBucket"),
        ("HEAD", false, true) => Some("HeadBucket"),
        ("DELETE", false, true) => Some("DeleteBucket"),
        ("PUT", false, false) if headers.contains_key("x-amz-copy-source") => Some("CopyObject"),
        ("PUT", false, false) => Some("PutObject"),
        ("GET", false, false) => Some("GetObject"),
        ("HEAD", false, false) => Some("HeadObject"),
        ("DELETE", false, false) => Some("DeleteObject"),
        _ => None,
    };
    match op {
        Some(op) => op.to_owned(),
        None if query.is_empty() => echo(&format!("{method} {}", uri.path())),
        None => echo(&format!("{method} {}?{query}", uri.path())),
    }
}

fn request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The AWS query protocol's error shape (what botocore's query parser reads):
/// `<ErrorResponse><Error><Type>Sender</Type><Code>…</Code><Message>…</Message></Error>
/// <RequestId>…</RequestId></ErrorResponse>`, `text/xml`.
pub fn query_error(e: &ApiError) -> Response {
    let id = request_id();
    let fault = if e.status.is_server_error() {
        "Receiver"
    } else {
        "Sender"
    };
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ErrorResponse><Error><Type>{fault}</Type>\
         <Code>{}</Code><Message>{}</Message></Error><RequestId>{id}</RequestId></ErrorResponse>",
        escape(e.code),
        escape(&e.message)
    );
    xml_response(e.status, "text/xml", body, &id, "x-amzn-requestid")
}

/// S3's error shape: `<Error><Code>NotImplemented</Code><Message>…</Message><Resource>…
/// </Resource><RequestId>…</RequestId></Error>`, `application/xml`, 501.
pub fn s3_error(operation: &str, resource: &str) -> Response {
    let id = request_id();
    let message = format!("eddy does not implement S3 ({operation}) yet; {SERVED}");
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NotImplemented</Code>\
         <Message>{}</Message><Resource>{}</Resource><RequestId>{id}</RequestId></Error>",
        escape(&message),
        escape(&echo(resource))
    );
    xml_response(
        StatusCode::NOT_IMPLEMENTED,
        "application/xml",
        body,
        &id,
        "x-amz-request-id",
    )
}

fn xml_response(
    status: StatusCode,
    content_type: &'static str,
    body: String,
    id: &str,
    id_header: &'static str,
) -> Response {
    let mut res = (status, [("content-type", content_type)], Body::from(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(id) {
        res.headers_mut().insert(id_header, v.clone());
        res.headers_mut().insert("x-amzn-requestid", v);
    }
    res
}

/// Answers a request no service of eddy's routes (no `X-Amz-Target`, no rest-json service):
/// reads the body only when it is a form that may hold a query-protocol `Action`. Returns the
/// response and the error code it carries (for the request metrics).
pub async fn respond(
    app: &App,
    signing: Option<&str>,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Body,
) -> (Response, &'static str) {
    let mut form = None;
    let s3 = signing.is_some_and(|s| s.starts_with("s3"));
    if !s3 && form_body(headers) {
        match super::read_body(app, headers, body, app.config.max_body_bytes).await {
            Ok((bytes, _held)) => {
                form = std::str::from_utf8(&bytes)
                    .ok()
                    .and_then(|text| form_value(text, "Action"));
            }
            Err(e) => {
                let e = super::body_error(e);
                return (query_error(&e), e.code);
            }
        }
    }
    answer(
        &Unserved::of(signing, headers, uri.query(), form),
        method,
        uri,
        headers,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn protocols_are_told_apart() {
        let none = HeaderMap::new();
        assert_eq!(
            Unserved::of(Some("sns"), &none, None, Some("ListTopics".into())),
            Unserved::Query {
                service: Some("sns".into()),
                action: "ListTopics".into()
            }
        );
        assert_eq!(
            Unserved::of(
                Some("sts"),
                &none,
                Some("Action=GetCallerIdentity&Version=2011-06-15"),
                None
            ),
            Unserved::Query {
                service: Some("sts".into()),
                action: "GetCallerIdentity".into()
            }
        );
        assert_eq!(Unserved::of(Some("s3"), &none, None, None), Unserved::S3);
        // S3 even when a query string happens to say `Action`.
        assert_eq!(
            Unserved::of(Some("s3"), &none, Some("Action=x"), None),
            Unserved::S3
        );
        let sigv2 = headers(&[("authorization", "AWS AKID:c2ln")]);
        assert_eq!(Unserved::of(None, &sigv2, None, None), Unserved::S3);
        assert_eq!(
            Unserved::of(Some("iot"), &none, None, None),
            Unserved::Service("iot".into())
        );
        assert_eq!(
            Unserved::of(Some("events"), &none, None, None),
            Unserved::MissingTarget("events".into())
        );
        assert_eq!(Unserved::of(None, &none, None, None), Unserved::Unknown);
    }

    #[test]
    fn form_bodies_and_values() {
        assert!(form_body(&headers(&[(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8"
        )])));
        assert!(!form_body(&headers(&[(
            "content-type",
            "application/x-amz-json-1.1"
        )])));
        assert_eq!(
            form_value("Version=1&Action=List%20Topics+x", "Action").as_deref(),
            Some("List Topics x")
        );
        assert_eq!(form_value("Version=1", "Action"), None);
    }

    /// A response's body, as text, and its request id from `header`.
    async fn body_and_request_id(res: Response, header: &str) -> (String, String) {
        let id = res.headers()[header].to_str().unwrap().to_owned();
        let body = axum::body::to_bytes(res.into_body(), 1 << 20)
            .await
            .unwrap();
        (String::from_utf8(body.to_vec()).unwrap(), id)
    }

    #[tokio::test]
    async fn query_errors_have_the_query_shape() {
        let res = query_error(&query_unserved(Some("sns"), "List<Topics>"));
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        assert_eq!(res.headers()["content-type"], "text/xml");
        let (body, id) = body_and_request_id(res, "x-amzn-requestid").await;
        assert!(body.contains(
            "<ErrorResponse><Error><Type>Sender</Type><Code>InvalidAction</Code><Message>eddy \
             does not implement SNS (List&lt;Topics&gt;) yet; it serves EventBridge"
        ));
        assert!(body.ends_with(&format!("<RequestId>{id}</RequestId></ErrorResponse>")));
    }

    #[test]
    fn unserved_query_actions_name_the_service_or_say_none_was_named() {
        let e = query_unserved(Some("iam"), "ListUsers");
        assert_eq!(e.code, "InvalidAction");
        assert!(e.message.starts_with(
            "eddy does not implement IAM (ListUsers) yet; it serves EventBridge, SQS, SNS"
        ));
        let e = query_unserved(None, "DescribeInstances");
        assert!(
            e.message
                .contains("action DescribeInstances (the request names no service")
        );
    }

    #[tokio::test]
    async fn s3_errors_have_the_s3_shape() {
        let res = s3_error("ListBuckets", "/");
        assert_eq!(res.status(), StatusCode::NOT_IMPLEMENTED);
        assert_eq!(res.headers()["content-type"], "application/xml");
        let (body, id) = body_and_request_id(res, "x-amz-request-id").await;
        assert!(body.contains(
            "<Error><Code>NotImplemented</Code><Message>eddy does not implement S3 (ListBuckets) \
             yet; it serves"
        ));
        assert!(body.ends_with(&format!(
            "<Resource>/</Resource><RequestId>{id}</RequestId></Error>"
        )));
    }

    #[test]
    fn s3_operations_are_named() {
        let op = |m: Method, uri: &'static str, h: &HeaderMap| {
            s3_operation(&m, &uri.parse::<Uri>().unwrap(), h)
        };
        let none = HeaderMap::new();
        assert_eq!(op(Method::GET, "/", &none), "ListBuckets");
        assert_eq!(
            op(Method::GET, "/b?list-type=2&prefix=a", &none),
            "ListObjectsV2"
        );
        assert_eq!(op(Method::PUT, "/b", &none), "CreateBucket");
        assert_eq!(op(Method::PUT, "/b/k/x", &none), "PutObject");
        let copy = headers(&[("x-amz-copy-source", "/a/b")]);
        assert_eq!(op(Method::PUT, "/b/k", &copy), "CopyObject");
        assert_eq!(op(Method::GET, "/b/k?x-id=GetObject", &none), "GetObject");
        assert_eq!(op(Method::GET, "/b?location", &none), "GET /b?location");
    }

    #[test]
    fn unknown_targets_name_the_service_and_operation() {
        let e = unknown_target("AWSStepFunctions", "ListStateMachines");
        assert_eq!(e.code, "UnknownOperationException");
        assert!(e.message.starts_with(
            "eddy does not implement Step Functions (AWSStepFunctions.ListStateMachines) yet"
        ));
        let e = unknown_target("AmazonFoo", "Bar");
        assert!(
            e.message
                .starts_with("eddy does not implement the AWS JSON operation AmazonFoo.Bar yet")
        );
    }

    #[test]
    fn echoes_are_bounded_and_xml_is_escaped() {
        assert_eq!(echo(&"x".repeat(500)).chars().count(), ECHO_MAX + 1);
        assert_eq!(
            escape("a&b<\"'>\u{1}"),
            "a&amp;b&lt;&quot;&apos;&gt;\u{FFFD}"
        );
        assert_eq!(display_name("nope"), "the AWS service `nope`");
    }
}
