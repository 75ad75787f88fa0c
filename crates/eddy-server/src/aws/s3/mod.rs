//! S3 on the AWS endpoint: the `s3s` crate speaks the protocol (routing, XML, headers), eddy's
//! core keeps the buckets ([`eddy_core::buckets`]); [`service`] is the bridge.
//!
//! Which requests are S3's ([`is_s3`]): SigV4-signed for the `s3` service (a header or a
//! presigned URL), addressed to a bucket's virtual host (`BUCKET.s3.localhost`), or unsigned
//! requests no other service claims (a browser's presigned upload, `curl` of an object).
//!
//! eddy accepts any access keys (development mode), so it cannot check signatures with a
//! secret, and `s3s` would: [`call`] turns a signed request into the anonymous one it stands
//! for before `s3s` sees it. A presigned URL's expiry is checked (`AccessDenied`, "Request has
//! expired") and its signing parameters removed; the `Authorization` header is removed; an
//! `aws-chunked` body (the SDKs' streaming uploads) is decoded, its trailing checksum kept for
//! the object's checksum check; a payload's `x-amz-content-sha256` digest is verified as the
//! object is written.

mod buckets;
pub mod cors;
mod multipart;
mod objects;
mod service;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use s3s::host::{S3Host, VirtualHost};
use s3s::service::{S3Service, S3ServiceBuilder};

use crate::App;

pub use service::EddyS3;

/// The domain whose subdomains are buckets (`BUCKET.s3.localhost`).
pub const VIRTUAL_HOST_DOMAIN: &str = "s3.localhost";

/// What [`call`] learned about a request, for the S3 implementation (request extensions).
#[derive(Debug, Clone, Default)]
pub(crate) struct Unsigned {
    pub region: Option<String>,
    pub source_ip: String,
    pub request_id: String,
    /// `x-amz-content-sha256` when it is a digest of the payload.
    pub payload_sha256: Option<String>,
    /// The trailing headers of an `aws-chunked` body, once it has been read.
    pub trailers: Option<eddy_net::aws_chunked::Trailers>,
}

/// Virtual hosts: `BUCKET.s3.localhost[:port]` names a bucket; any other host is path-style.
struct Hosts;

impl S3Host for Hosts {
    fn parse_host_header<'a>(&'a self, host: &'a str) -> s3s::S3Result<VirtualHost<'a>> {
        let name = host.rsplit_once(':').map_or(host, |(h, port)| {
            if port.bytes().all(|b| b.is_ascii_digit()) {
                h
            } else {
                host
            }
        });
        match name.strip_suffix(VIRTUAL_HOST_DOMAIN) {
            Some(bucket) if bucket.ends_with('.') && bucket.len() > 1 => {
                Ok(VirtualHost::new(VIRTUAL_HOST_DOMAIN)
                    .with_bucket(bucket[..bucket.len() - 1].to_owned()))
            }
            _ => Ok(VirtualHost::new(name)),
        }
    }
}

/// The bucket a request's `Host` names (`BUCKET.s3.localhost`), if it names one.
pub(crate) fn vhost_bucket(headers: &HeaderMap) -> Option<String> {
    let host = headers.get("host")?.to_str().ok()?;
    let vh = Hosts.parse_host_header(host).ok()?;
    vh.bucket().map(str::to_owned)
}

/// A request id as S3 makes them (16 uppercase hex digits).
pub(crate) fn new_request_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..16].to_ascii_uppercase()
}

/// The S3 service eddy serves.
pub fn build(app: std::sync::Weak<App>) -> S3Service {
    let mut b = S3ServiceBuilder::new(EddyS3 { app });
    b.set_host(Hosts);
    b.build()
}

/// Whether a request is S3's (see the module docs). `signing` is the SigV4 credential scope's
/// service, `rest_or_query` whether another protocol claims the request.
pub fn is_s3(signing: Option<&str>, uri: &axum::http::Uri, headers: &HeaderMap) -> bool {
    if signing == Some("s3") {
        return true;
    }
    if uri.query().and_then(presigned_v2).is_some() {
        return true;
    }
    // SigV2's `Authorization: AWS KEY:SIGNATURE`: S3's, unless it is a query-protocol call
    // (an `Action`, or a form posted), as the oldest SDKs sign SQS and SNS.
    let query_call = uri
        .query()
        .is_some_and(|q| q.split('&').any(|p| p.split('=').next() == Some("Action")))
        || headers.get("content-type").is_some_and(|t| {
            t.as_bytes()
                .starts_with(b"application/x-www-form-urlencoded")
        });
    if signing.is_none()
        && !query_call
        && headers.get("authorization").is_some_and(|v| {
            v.as_bytes().starts_with(b"AWS ") && !v.as_bytes().starts_with(b"AWS4")
        })
    {
        return true;
    }
    if let Some(q) = uri.query()
        && q.contains("X-Amz-Credential=")
    {
        return q.contains("%2Fs3%2Faws4_request") || q.contains("/s3/aws4_request");
    }
    vhost_bucket(headers).is_some()
}

/// The largest XML document a request may send in `aws-chunked` framing.
const MAX_DOCUMENT: usize = 10 * 1024 * 1024;

/// Whether an operation streams its body into an object (PutObject, UploadPart) rather than
/// reading a document: a PUT of a key whose query names no subresource but a part's.
/// `vhost`: the bucket is named by the host, so the whole path is the key.
fn streams_body(method: &Method, path: &str, query: Option<&str>, vhost: bool) -> bool {
    let path = path.trim_start_matches('/');
    let key = if vhost {
        !path.is_empty()
    } else {
        path.split_once('/').is_some_and(|(_, k)| !k.is_empty())
    };
    let subresource = query.is_some_and(|q| {
        q.split('&').any(|p| {
            let name = p.split('=').next().unwrap_or_default();
            !name.is_empty() && !["partNumber", "uploadId", "versionId"].contains(&name)
        })
    });
    method == Method::PUT && key && !subresource
}

/// The query parameters of S3's SigV2 presigned URLs.
const V2_PARAMS: [&str; 4] = [
    "AWSAccessKeyId",
    "Signature",
    "Expires",
    "x-amz-security-token",
];

/// When a SigV2 presigned URL expires (seconds since the epoch), if `query` is one: it has
/// `AWSAccessKeyId`, `Signature` and a numeric `Expires`, and no query-protocol `Action`.
pub fn presigned_v2(query: &str) -> Option<u64> {
    let mut found = (false, false, None);
    for p in query.split('&') {
        let (name, value) = p.split_once('=').unwrap_or((p, ""));
        match name {
            "AWSAccessKeyId" => found.0 = true,
            "Signature" => found.1 = true,
            "Expires" => found.2 = value.parse::<u64>().ok(),
            "Action" => return None,
            _ => {}
        }
    }
    match found {
        (true, true, Some(e)) => Some(e),
        _ => None,
    }
}

/// Answers an S3 request.
pub async fn call(app: &Arc<App>, region: &str, req: Request) -> Response {
    let (mut parts, body) = req.into_parts();
    let request_id = new_request_id();
    let source_ip = parts
        .extensions
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .map_or_else(|| "127.0.0.1".to_owned(), |c| c.0.ip().to_string());
    let mut unsigned = Unsigned {
        region: Some(region.to_owned()),
        source_ip,
        request_id: request_id.clone(),
        ..Unsigned::default()
    };
    // A presigned URL: checked for expiry, its signing parameters removed.
    if let Some(q) = parts.uri.query()
        && q.contains("X-Amz-Signature=")
    {
        match eddy_net::presign::presigned(q, std::time::SystemTime::now()) {
            Ok(Some(p)) => {
                unsigned.region = Some(p.credential.region.clone());
                let rest = eddy_net::presign::strip_presign_params(q);
                let path = parts.uri.path();
                let pq = if rest.is_empty() {
                    path.to_owned()
                } else {
                    format!("{path}?{rest}")
                };
                match pq.parse() {
                    Ok(uri) => parts.uri = uri,
                    Err(_) => {
                        return error(
                            StatusCode::BAD_REQUEST,
                            "InvalidURI",
                            "Couldn't parse the specified URI.",
                            &request_id,
                        );
                    }
                }
            }
            Ok(None) => {}
            Err(eddy_net::presign::SigV4Error::Expired { .. }) => {
                return error(
                    StatusCode::FORBIDDEN,
                    "AccessDenied",
                    "Request has expired",
                    &request_id,
                );
            }
            Err(e) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "AuthorizationQueryParametersError",
                    &e.to_string(),
                    &request_id,
                );
            }
        }
    }
    // S3's SigV2 presigned form (`AWSAccessKeyId`, `Signature`, `Expires`).
    if let Some(q) = parts.uri.query()
        && let Some(expires) = presigned_v2(q)
    {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        if expires < now {
            return error(
                StatusCode::FORBIDDEN,
                "AccessDenied",
                "Request has expired",
                &request_id,
            );
        }
        let rest: Vec<&str> = q
            .split('&')
            .filter(|p| {
                let name = p.split('=').next().unwrap_or_default();
                !V2_PARAMS.contains(&name)
            })
            .collect();
        let path = parts.uri.path();
        let pq = if rest.is_empty() {
            path.to_owned()
        } else {
            format!("{path}?{}", rest.join("&"))
        };
        match pq.parse() {
            Ok(uri) => parts.uri = uri,
            Err(_) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "InvalidURI",
                    "Couldn't parse the specified URI.",
                    &request_id,
                );
            }
        }
    }
    parts.headers.remove("authorization");
    let sha = parts
        .headers
        .get("x-amz-content-sha256")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let encoding = parts
        .headers
        .get("content-encoding")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = if eddy_net::aws_chunked::is_aws_chunked(sha.as_deref(), encoding.as_deref()) {
        let decoded = parts
            .headers
            .get("x-amz-decoded-content-length")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let chunked = eddy_net::aws_chunked::AwsChunked::new(body, decoded);
        unsigned.trailers = Some(chunked.trailers());
        match decoded {
            Some(n) => {
                parts.headers.insert("content-length", HeaderValue::from(n));
            }
            None => {
                parts.headers.remove("content-length");
            }
        }
        match encoding
            .as_deref()
            .and_then(eddy_net::aws_chunked::content_encoding_without_aws_chunked)
        {
            Some(rest) => {
                if let Ok(v) = HeaderValue::from_str(&rest) {
                    parts.headers.insert("content-encoding", v);
                }
            }
            None => {
                parts.headers.remove("content-encoding");
            }
        }
        let vhost = vhost_bucket(&parts.headers).is_some();
        if streams_body(&parts.method, parts.uri.path(), parts.uri.query(), vhost) {
            Body::new(chunked)
        } else {
            // A body `s3s` reads whole (an XML document): decoded here, so a broken framing is
            // the client's error, not one in the middle of the protocol layer.
            match http_body_util::Limited::new(chunked, MAX_DOCUMENT)
                .collect()
                .await
            {
                Ok(b) => {
                    let bytes = b.to_bytes();
                    parts
                        .headers
                        .insert("content-length", HeaderValue::from(bytes.len()));
                    Body::from(bytes)
                }
                Err(e) => {
                    return error(
                        StatusCode::BAD_REQUEST,
                        "IncompleteBody",
                        &format!("The request body could not be read: {e}"),
                        &request_id,
                    );
                }
            }
        }
    } else {
        if let Some(s) = &sha
            && eddy_net::payload_hash::parse_sha256_hex(s).is_some()
        {
            unsigned.payload_sha256 = Some(s.to_ascii_lowercase());
        }
        body
    };
    parts.headers.remove("x-amz-content-sha256");
    parts.headers.remove("x-amz-decoded-content-length");
    parts.extensions.insert(unsigned);
    let req = axum::http::Request::from_parts(parts, s3s::Body::http_body_unsync(body));
    let method = req.method().clone();
    match app.s3().call(req).await {
        Ok(res) => {
            let (mut parts, body) = res.into_parts();
            if let Ok(v) = HeaderValue::from_str(&request_id) {
                parts.headers.entry("x-amz-request-id").or_insert(v);
            }
            if method == Method::HEAD {
                return Response::from_parts(parts, Body::empty());
            }
            if parts.status.is_client_error() || parts.status.is_server_error() {
                // Error documents are small: completed with what S3's carry.
                if let Ok(bytes) = body.collect().await.map(|b| b.to_bytes()) {
                    let text = complete_error(&String::from_utf8_lossy(&bytes), &request_id);
                    parts.headers.remove("content-length");
                    return Response::from_parts(parts, Body::from(text));
                }
                return Response::from_parts(parts, Body::empty());
            }
            Response::from_parts(parts, Body::new(body))
        }
        Err(e) => {
            tracing::warn!(error = ?e, "an S3 request failed below the protocol");
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalError",
                "We encountered an internal error. Please try again.",
                &request_id,
            )
        }
    }
}

/// S3's message for an error code, for the error documents that came without one.
fn default_message(code: &str) -> Option<&'static str> {
    Some(match code {
        "InvalidBucketName" => "The specified bucket is not valid.",
        "MalformedXML" => {
            "The XML you provided was not well-formed or did not validate against our published schema"
        }
        "NoSuchBucket" => "The specified bucket does not exist",
        "NoSuchKey" => "The specified key does not exist.",
        "InvalidArgument" => "Invalid Argument",
        "InvalidRequest" => "Invalid Request",
        "NotImplemented" => "A header you provided implies functionality that is not implemented",
        "MethodNotAllowed" => "The specified method is not allowed against this resource.",
        "InvalidURI" => "Couldn't parse the specified URI.",
        "AccessDenied" => "Access Denied",
        "SignatureDoesNotMatch" => {
            "The request signature we calculated does not match the signature you provided."
        }
        "MissingContentLength" => "You must provide the Content-Length HTTP header.",
        "EntityTooLarge" => "Your proposed upload exceeds the maximum allowed size",
        "InvalidRange" => "The requested range is not satisfiable",
        "KeyTooLongError" => "Your key is too long",
        "InvalidDigest" => "The Content-MD5 you specified is not valid.",
        "BadDigest" => "The Content-MD5 you specified did not match what we received.",
        "IncompleteBody" => {
            "You did not provide the number of bytes specified by the Content-Length HTTP header"
        }
        "InvalidPart" => "One or more of the specified parts could not be found.",
        "InvalidPartOrder" => "The list of parts was not in ascending order.",
        "NoSuchUpload" => "The specified upload does not exist.",
        "NoSuchVersion" => "The specified version does not exist.",
        "EntityTooSmall" => "Your proposed upload is smaller than the minimum allowed object size.",
        "MalformedPolicy" => "Policies must be valid JSON and the first byte must be '{'",
        "PreconditionFailed" => "At least one of the pre-conditions you specified did not hold",
        "UnexpectedContent" => "This request does not support content",
        "XAmzContentSHA256Mismatch" => {
            "The provided 'x-amz-content-sha256' header does not match what was computed."
        }
        "InvalidStorageClass" => "The storage class you specified is not valid",
        "InvalidTag" => "The tag provided was not a valid tag.",
        "InvalidObjectState" => "The operation is not valid for the object's storage class",
        "InternalError" => "We encountered an internal error. Please try again.",
        _ => return None,
    })
}

/// An error document with S3's message for its code when it had none, and the request id.
fn complete_error(text: &str, request_id: &str) -> String {
    let Some(end) = text.rfind("</Error>") else {
        return text.to_owned();
    };
    let mut extra = String::new();
    if !text.contains("<Message>")
        && let Some(code) = text
            .split("<Code>")
            .nth(1)
            .and_then(|r| r.split("</Code>").next())
    {
        let m = default_message(code)
            .map(str::to_owned)
            .unwrap_or_else(|| format!("The request was refused: {code}"));
        extra.push_str(&format!(
            "<Message>{}</Message>",
            crate::aws::query::escape(&m)
        ));
    }
    if !text.contains("<RequestId>") {
        extra.push_str(&format!(
            "<RequestId>{}</RequestId>",
            crate::aws::query::escape(request_id)
        ));
    }
    format!("{}{extra}{}", &text[..end], &text[end..])
}

/// An S3 error document.
pub fn error(status: StatusCode, code: &str, message: &str, request_id: &str) -> Response {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{}</Code><Message>{}</Message><RequestId>{}</RequestId></Error>",
        crate::aws::query::escape(code),
        crate::aws::query::escape(message),
        crate::aws::query::escape(request_id),
    );
    (
        status,
        [
            ("content-type", "application/xml"),
            ("x-amz-request-id", request_id),
        ],
        body,
    )
        .into_response()
}
