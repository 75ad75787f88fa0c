//! The bridge between `s3s`'s operations and eddy's buckets: each S3 operation's input is read
//! into the core's terms, the core does the work, and its answer or [`BucketError`] is put in
//! S3's terms.

use std::sync::{Arc, Weak};
use std::time::{Duration, SystemTime};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use eddy_core::buckets::data::ByteStream;
use eddy_core::buckets::multipart::{CompletedPart as CorePart, PartUpload};
use eddy_core::buckets::objects::{Conditions, Found, PutObject, Range as CoreRange, Stored};
use eddy_core::buckets::{
    Algorithm, BucketError, CorsRule, Destination, DestinationKind, Notification, ObjectMeta,
    Requester,
};
use futures_util::StreamExt;
use s3s::dto::*;
use s3s::{S3, S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

use super::Unsigned;
use crate::App;

/// eddy's buckets behind `s3s`.
pub struct EddyS3 {
    pub(crate) app: Weak<App>,
}

impl EddyS3 {
    fn app(&self) -> S3Result<Arc<App>> {
        self.app.upgrade().ok_or_else(|| {
            S3Error::with_message(S3ErrorCode::ServiceUnavailable, "eddy is stopping")
        })
    }
}

fn unsigned<T>(req: &S3Request<T>) -> Unsigned {
    req.extensions
        .get::<Unsigned>()
        .cloned()
        .unwrap_or_default()
}

fn who<T>(req: &S3Request<T>, app: &App) -> Requester {
    let u = unsigned(req);
    Requester {
        request_id: u.request_id,
        source_ip: u.source_ip,
        principal: app.config.account_id.clone(),
    }
}

fn region<T>(req: &S3Request<T>, app: &App) -> String {
    unsigned(req)
        .region
        .unwrap_or_else(|| app.config.default_region.clone())
}

/// A core refusal in S3's terms.
fn err(e: BucketError) -> S3Error {
    let code = S3ErrorCode::from_bytes(e.code().as_bytes()).unwrap_or(S3ErrorCode::InternalError);
    let status = match &e {
        BucketError::NoSuchBucket(_)
        | BucketError::NoSuchKey { .. }
        | BucketError::NoSuchVersion { .. }
        | BucketError::NoSuchUpload(_)
        | BucketError::NoSuchConfiguration(_) => Some(404),
        BucketError::AlreadyOwnedByYou(_) | BucketError::NotEmpty(_) => Some(409),
        BucketError::DeleteMarkerVersion => Some(405),
        BucketError::PreconditionFailed => Some(412),
        BucketError::NotModified => Some(304),
        BucketError::InvalidRange(_) => Some(416),
        BucketError::Internal(_) | BucketError::Core(_) => Some(500),
        _ => Some(400),
    };
    if matches!(e, BucketError::Internal(_) | BucketError::Core(_)) {
        tracing::error!(error = %e, "an S3 operation failed");
    }
    let mut s = S3Error::with_message(code, e.to_string());
    if let Some(st) = status.and_then(|s| axum::http::StatusCode::from_u16(s).ok()) {
        s.set_status_code(st);
    }
    let mut headers = axum::http::HeaderMap::new();
    match &e {
        BucketError::NoSuchKey {
            delete_marker: true,
            ..
        }
        | BucketError::DeleteMarkerVersion => {
            headers.insert(
                "x-amz-delete-marker",
                "true".parse().expect("a header value"),
            );
        }
        BucketError::InvalidRange(size) => {
            if let Ok(v) = format!("bytes */{size}").parse() {
                headers.insert("content-range", v);
            }
        }
        _ => {}
    }
    if !headers.is_empty() {
        s.set_headers(headers);
    }
    s
}

fn ts(ms: i64) -> Timestamp {
    Timestamp::from(SystemTime::UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64))
}

fn ms(t: &Timestamp) -> i64 {
    let t: time::OffsetDateTime = t.clone().into();
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

fn etag(e: &str) -> ETag {
    ETag::Strong(e.trim_matches('"').to_owned())
}

fn etag_text(e: &ETag) -> String {
    format!("\"{}\"", e.value())
}

fn body_stream(blob: Option<StreamingBlob>) -> ByteStream {
    match blob {
        None => Box::pin(futures_util::stream::empty()),
        Some(b) => Box::pin(b.map(|r| r.map_err(|e| std::io::Error::other(e.to_string())))),
    }
}

/// The tags of an `x-amz-tagging` header (`k1=v1&k2=v2`).
fn header_tags(h: Option<&str>) -> S3Result<Vec<(String, String)>> {
    let Some(h) = h.filter(|h| !h.is_empty()) else {
        return Ok(Vec::new());
    };
    h.split('&')
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let dec = |s: &str| eddy_net::url::percent_decode(&s.replace('+', " "));
            Ok((dec(k), dec(v)))
        })
        .collect()
}

fn tag_set(tags: &[(String, String)]) -> TagSet {
    tags.iter()
        .map(|(k, v)| Tag {
            key: Some(k.clone()),
            value: Some(v.clone()),
        })
        .collect()
}

fn from_tag_set(set: TagSet) -> Vec<(String, String)> {
    set.into_iter()
        .map(|t| (t.key.unwrap_or_default(), t.value.unwrap_or_default()))
        .collect()
}

/// The checksum a client sent in a header for `algorithm`, if any.
macro_rules! header_checksum {
    ($input:expr) => {{
        let i = &$input;
        [
            (Algorithm::Crc32, i.checksum_crc32.clone()),
            (Algorithm::Crc32c, i.checksum_crc32c.clone()),
            (Algorithm::Crc64Nvme, i.checksum_crc64nvme.clone()),
            (Algorithm::Sha1, i.checksum_sha1.clone()),
            (Algorithm::Sha256, i.checksum_sha256.clone()),
        ]
        .into_iter()
        .find_map(|(a, v)| v.map(|v| (a, v)))
    }};
}

/// Which additional checksum to compute and how to learn the value the client expects: a
/// header, or a trailer of the `aws-chunked` body (read once the body has ended).
/// The checksum value a client expects, learned when the body has ended.
type Expected = Option<Box<dyn FnOnce() -> Option<String> + Send>>;

fn checksum_plan(
    header: Option<(Algorithm, String)>,
    algorithm: Option<&ChecksumAlgorithm>,
    headers: &axum::http::HeaderMap,
    u: &Unsigned,
) -> S3Result<(Option<Algorithm>, Expected)> {
    if let Some((a, v)) = header {
        return Ok((Some(a), Some(Box::new(move || Some(v)))));
    }
    let trailer = headers
        .get("x-amz-trailer")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_ascii_lowercase());
    if let Some(t) = trailer
        && let Some(name) = t.strip_prefix("x-amz-checksum-")
    {
        let a = Algorithm::parse(name).ok_or_else(|| {
            S3Error::with_message(
                S3ErrorCode::InvalidRequest,
                "The value specified in the x-amz-trailer header is not supported",
            )
        })?;
        let trailers = u.trailers.clone();
        return Ok((
            Some(a),
            Some(Box::new(move || trailers.and_then(|tr| tr.value(&t)))),
        ));
    }
    let a = match algorithm {
        Some(a) => Some(Algorithm::parse(a.as_str()).ok_or_else(|| {
            S3Error::with_message(
                S3ErrorCode::InvalidRequest,
                "Checksum algorithm provided is unsupported. Please try again with any of the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]",
            )
        })?),
        None => None,
    };
    Ok((a, None))
}

fn content_md5(v: Option<&String>) -> S3Result<Option<Vec<u8>>> {
    match v {
        None => Ok(None),
        Some(s) => B64
            .decode(s)
            .ok()
            .filter(|d| d.len() == 16)
            .map(Some)
            .ok_or_else(|| err(BucketError::InvalidDigest)),
    }
}

macro_rules! set_checksum {
    ($out:expr, $sum:expr) => {
        if let Some((a, v)) = $sum {
            let v = Some(v.clone());
            match a {
                Algorithm::Crc32 => $out.checksum_crc32 = v,
                Algorithm::Crc32c => $out.checksum_crc32c = v,
                Algorithm::Crc64Nvme => $out.checksum_crc64nvme = v,
                Algorithm::Sha1 => $out.checksum_sha1 = v,
                Algorithm::Sha256 => $out.checksum_sha256 = v,
            }
        }
    };
}

#[allow(clippy::too_many_arguments)]
fn meta_of(
    content_type: Option<&ContentType>,
    content_encoding: Option<String>,
    content_disposition: Option<String>,
    content_language: Option<String>,
    cache_control: Option<String>,
    expires: Option<&Timestamp>,
    metadata: Option<Metadata>,
    storage_class: Option<&StorageClass>,
    website_redirect: Option<String>,
    tags: Vec<(String, String)>,
) -> ObjectMeta {
    ObjectMeta {
        content_type: content_type.map(|c| c.to_string()),
        content_encoding,
        content_disposition,
        content_language,
        cache_control,
        expires: expires.map(|t| {
            let mut buf = Vec::new();
            let _formatted = t.format(TimestampFormat::HttpDate, &mut buf).is_ok();
            String::from_utf8_lossy(&buf).into_owned()
        }),
        website_redirect,
        storage_class: storage_class
            .map(|s| s.as_str().to_owned())
            .filter(|s| s != "STANDARD"),
        user: metadata
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v))
            .collect(),
        tags,
        ..ObjectMeta::default()
    }
}

fn user_metadata(m: &ObjectMeta) -> Option<Metadata> {
    (!m.user.is_empty()).then(|| m.user.clone().into_iter().collect())
}

fn expires(m: &ObjectMeta) -> Option<Timestamp> {
    m.expires
        .as_deref()
        .and_then(|e| Timestamp::parse(TimestampFormat::HttpDate, e).ok())
}

fn conditions(
    if_match: Option<&ETagCondition>,
    if_none_match: Option<&ETagCondition>,
    modified_since: Option<&Timestamp>,
    unmodified_since: Option<&Timestamp>,
) -> Conditions {
    let text = |c: &ETagCondition| match c {
        ETagCondition::ETag(e) => etag_text(e),
        ETagCondition::Any => "*".to_owned(),
    };
    Conditions {
        if_match: if_match.map(text),
        if_none_match: if_none_match.map(text),
        if_modified_since_ms: modified_since.map(ms),
        if_unmodified_since_ms: unmodified_since.map(ms),
    }
}

fn copy_source(c: &CopySource) -> S3Result<(String, String, Option<String>)> {
    match c {
        CopySource::Bucket {
            bucket,
            key,
            version_id,
        } => Ok((
            bucket.to_string(),
            key.to_string(),
            version_id.as_ref().map(|v| v.to_string()),
        )),
        _ => Err(S3Error::with_message(
            S3ErrorCode::InvalidArgument,
            "Access points are not supported as copy sources",
        )),
    }
}

fn max_keys(m: Option<i32>) -> S3Result<usize> {
    match m {
        None => Ok(1000),
        Some(n) if n < 0 => Err(S3Error::with_message(
            S3ErrorCode::InvalidArgument,
            "Argument maxKeys must be an integer between 0 and 2147483647",
        )),
        Some(n) => Ok((n as usize).min(1000)),
    }
}

fn object_of(f: &Found) -> Object {
    Object {
        key: Some(f.record.key.clone()),
        e_tag: Some(etag(&f.record.etag)),
        last_modified: Some(ts(f.record.modified_ms)),
        size: Some(f.record.size as i64),
        storage_class: Some(ObjectStorageClass::from(
            f.meta
                .storage_class
                .clone()
                .unwrap_or_else(|| "STANDARD".to_owned()),
        )),
        checksum_algorithm: f
            .meta
            .checksum
            .as_ref()
            .map(|(a, _)| vec![ChecksumAlgorithm::from(a.name().to_owned())]),
        checksum_type: f.meta.checksum_type.clone().map(ChecksumType::from),
        ..Object::default()
    }
}

fn continuation(next: Option<String>) -> Option<String> {
    next.map(|n| B64.encode(n.as_bytes()))
}

fn from_continuation(t: Option<&String>) -> S3Result<Option<String>> {
    match t {
        None => Ok(None),
        Some(t) => B64
            .decode(t)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .map(Some)
            .ok_or_else(|| {
                S3Error::with_message(
                    S3ErrorCode::InvalidArgument,
                    "The continuation token provided is incorrect",
                )
            }),
    }
}

fn notification_of(n: &Notification) -> NotificationConfiguration {
    let filter = |d: &Destination| {
        let mut rules = Vec::new();
        if let Some(p) = &d.prefix {
            rules.push(FilterRule {
                name: Some(FilterRuleName::from("Prefix".to_owned())),
                value: Some(p.clone()),
            });
        }
        if let Some(s) = &d.suffix {
            rules.push(FilterRule {
                name: Some(FilterRuleName::from("Suffix".to_owned())),
                value: Some(s.clone()),
            });
        }
        (!rules.is_empty()).then_some(NotificationConfigurationFilter {
            key: Some(S3KeyFilter {
                filter_rules: Some(rules),
            }),
        })
    };
    let events = |d: &Destination| d.events.iter().map(|e| Event::from(e.clone())).collect();
    let pick = |k: DestinationKind| n.destinations.iter().filter(move |d| d.kind == k);
    let queues: Vec<QueueConfiguration> = pick(DestinationKind::Queue)
        .map(|d| QueueConfiguration {
            events: events(d),
            filter: filter(d),
            id: Some(d.id.clone()),
            queue_arn: d.arn.clone(),
        })
        .collect();
    let topics: Vec<TopicConfiguration> = pick(DestinationKind::Topic)
        .map(|d| TopicConfiguration {
            events: events(d),
            filter: filter(d),
            id: Some(d.id.clone()),
            topic_arn: d.arn.clone(),
        })
        .collect();
    let functions: Vec<LambdaFunctionConfiguration> = pick(DestinationKind::Function)
        .map(|d| LambdaFunctionConfiguration {
            events: events(d),
            filter: filter(d),
            id: Some(d.id.clone()),
            lambda_function_arn: d.arn.clone(),
        })
        .collect();
    NotificationConfiguration {
        event_bridge_configuration: n.eventbridge.then(EventBridgeConfiguration::default),
        queue_configurations: (!queues.is_empty()).then_some(queues),
        topic_configurations: (!topics.is_empty()).then_some(topics),
        lambda_function_configurations: (!functions.is_empty()).then_some(functions),
    }
}

fn destination(
    kind: DestinationKind,
    id: Option<String>,
    arn: String,
    events: Vec<Event>,
    filter: Option<NotificationConfigurationFilter>,
) -> S3Result<Destination> {
    let mut d = Destination {
        id: id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
        kind,
        arn,
        events: events.iter().map(|e| e.as_ref().to_owned()).collect(),
        prefix: None,
        suffix: None,
    };
    for r in filter
        .and_then(|f| f.key)
        .and_then(|k| k.filter_rules)
        .unwrap_or_default()
    {
        let name = r.name.map(|n| n.as_str().to_ascii_lowercase());
        match name.as_deref() {
            Some("prefix") if d.prefix.is_none() => d.prefix = r.value,
            Some("suffix") if d.suffix.is_none() => d.suffix = r.value,
            _ => {
                return Err(S3Error::with_message(
                    S3ErrorCode::InvalidArgument,
                    "FilterRule name must be either prefix or suffix",
                ));
            }
        }
    }
    Ok(d)
}

#[async_trait::async_trait]
impl S3 for EddyS3 {
    async fn create_bucket(
        &self,
        req: S3Request<CreateBucketInput>,
    ) -> S3Result<S3Response<CreateBucketOutput>> {
        let app = self.app()?;
        let region = req
            .input
            .create_bucket_configuration
            .as_ref()
            .and_then(|c| c.location_constraint.as_ref())
            .map(|l| l.as_str().to_owned())
            .filter(|l| !l.is_empty())
            .unwrap_or_else(|| region(&req, &app));
        app.buckets
            .create(&req.input.bucket, &region)
            .await
            .map_err(err)?;
        Ok(S3Response::new(CreateBucketOutput {
            location: Some(format!("/{}", req.input.bucket)),
        }))
    }

    async fn head_bucket(
        &self,
        req: S3Request<HeadBucketInput>,
    ) -> S3Result<S3Response<HeadBucketOutput>> {
        let app = self.app()?;
        let b = app.buckets.get(&req.input.bucket).ok_or_else(|| {
            let mut e = S3Error::new(S3ErrorCode::NoSuchBucket);
            e.set_status_code(axum::http::StatusCode::NOT_FOUND);
            e
        })?;
        Ok(S3Response::new(HeadBucketOutput {
            bucket_region: Some(b.region),
            ..HeadBucketOutput::default()
        }))
    }

    async fn delete_bucket(
        &self,
        req: S3Request<DeleteBucketInput>,
    ) -> S3Result<S3Response<DeleteBucketOutput>> {
        let app = self.app()?;
        app.buckets.delete(&req.input.bucket).await.map_err(err)?;
        Ok(S3Response::new(DeleteBucketOutput::default()))
    }

    async fn list_buckets(
        &self,
        req: S3Request<ListBucketsInput>,
    ) -> S3Result<S3Response<ListBucketsOutput>> {
        let app = self.app()?;
        let prefix = req.input.prefix.clone().unwrap_or_default();
        let buckets: Vec<Bucket> = app
            .buckets
            .list()
            .into_iter()
            .filter(|b| b.name.starts_with(&prefix))
            .filter(|b| {
                req.input
                    .bucket_region
                    .as_ref()
                    .is_none_or(|r| r == &b.region)
            })
            .map(|b| Bucket {
                name: Some(b.name.clone()),
                creation_date: Some(ts(b.created_ms)),
                bucket_region: Some(b.region.clone()),
            })
            .collect();
        Ok(S3Response::new(ListBucketsOutput {
            buckets: Some(buckets),
            owner: Some(Owner {
                id: Some(app.config.account_id.clone()),
                display_name: Some("eddy".to_owned()),
            }),
            prefix: req.input.prefix.clone(),
            continuation_token: None,
        }))
    }

    async fn get_bucket_location(
        &self,
        req: S3Request<GetBucketLocationInput>,
    ) -> S3Result<S3Response<GetBucketLocationOutput>> {
        let app = self.app()?;
        let b = app.buckets.need_bucket(&req.input.bucket).map_err(err)?;
        let location = (b.region != "us-east-1").then(|| BucketLocationConstraint::from(b.region));
        Ok(S3Response::new(GetBucketLocationOutput {
            location_constraint: location,
        }))
    }

    async fn get_bucket_versioning(
        &self,
        req: S3Request<GetBucketVersioningInput>,
    ) -> S3Result<S3Response<GetBucketVersioningOutput>> {
        let app = self.app()?;
        let b = app.buckets.need_bucket(&req.input.bucket).map_err(err)?;
        let status = b.versioning.map(|on| {
            BucketVersioningStatus::from(if on { "Enabled" } else { "Suspended" }.to_owned())
        });
        Ok(S3Response::new(GetBucketVersioningOutput {
            status,
            mfa_delete: None,
        }))
    }

    async fn put_bucket_versioning(
        &self,
        req: S3Request<PutBucketVersioningInput>,
    ) -> S3Result<S3Response<PutBucketVersioningOutput>> {
        let app = self.app()?;
        let status = req
            .input
            .versioning_configuration
            .status
            .as_ref()
            .map(|s| s.as_str().to_owned());
        let on = match status.as_deref() {
            Some("Enabled") => Some(true),
            Some("Suspended") => Some(false),
            None => None,
            Some(_) => {
                return Err(S3Error::with_message(
                    S3ErrorCode::MalformedXML,
                    "The XML you provided was not well-formed or did not validate against our published schema",
                ));
            }
        };
        app.buckets
            .update(&req.input.bucket, |b| {
                if let Some(on) = on {
                    b.versioning = Some(on);
                }
                Ok(())
            })
            .await
            .map_err(err)?;
        Ok(S3Response::new(PutBucketVersioningOutput::default()))
    }

    async fn get_bucket_cors(
        &self,
        req: S3Request<GetBucketCorsInput>,
    ) -> S3Result<S3Response<GetBucketCorsOutput>> {
        let app = self.app()?;
        let b = app.buckets.need_bucket(&req.input.bucket).map_err(err)?;
        let rules = b
            .cors
            .ok_or_else(|| err(BucketError::NoSuchConfiguration("NoSuchCORSConfiguration")))?;
        let rules = rules
            .into_iter()
            .map(|r| CORSRule {
                allowed_headers: (!r.allowed_headers.is_empty()).then_some(r.allowed_headers),
                allowed_methods: r.allowed_methods,
                allowed_origins: r.allowed_origins,
                expose_headers: (!r.expose_headers.is_empty()).then_some(r.expose_headers),
                id: r.id,
                max_age_seconds: r.max_age_seconds,
            })
            .collect();
        Ok(S3Response::new(GetBucketCorsOutput {
            cors_rules: Some(rules),
        }))
    }

    async fn put_bucket_cors(
        &self,
        req: S3Request<PutBucketCorsInput>,
    ) -> S3Result<S3Response<PutBucketCorsOutput>> {
        let app = self.app()?;
        let mut rules = Vec::new();
        for r in req.input.cors_configuration.cors_rules {
            for m in &r.allowed_methods {
                if !["GET", "PUT", "POST", "DELETE", "HEAD"].contains(&m.as_str()) {
                    return Err(S3Error::with_message(
                        S3ErrorCode::InvalidRequest,
                        format!(
                            "Found unsupported HTTP method in CORS config. Unsupported method is {m}"
                        ),
                    ));
                }
            }
            rules.push(CorsRule {
                id: r.id,
                allowed_origins: r.allowed_origins,
                allowed_methods: r.allowed_methods,
                allowed_headers: r.allowed_headers.unwrap_or_default(),
                expose_headers: r.expose_headers.unwrap_or_default(),
                max_age_seconds: r.max_age_seconds,
            });
        }
        app.buckets
            .update(&req.input.bucket, |b| {
                b.cors = Some(rules);
                Ok(())
            })
            .await
            .map_err(err)?;
        Ok(S3Response::new(PutBucketCorsOutput::default()))
    }

    async fn delete_bucket_cors(
        &self,
        req: S3Request<DeleteBucketCorsInput>,
    ) -> S3Result<S3Response<DeleteBucketCorsOutput>> {
        let app = self.app()?;
        app.buckets
            .update(&req.input.bucket, |b| {
                b.cors = None;
                Ok(())
            })
            .await
            .map_err(err)?;
        Ok(S3Response::new(DeleteBucketCorsOutput::default()))
    }

    async fn get_bucket_policy(
        &self,
        req: S3Request<GetBucketPolicyInput>,
    ) -> S3Result<S3Response<GetBucketPolicyOutput>> {
        let app = self.app()?;
        let b = app.buckets.need_bucket(&req.input.bucket).map_err(err)?;
        let policy = b
            .policy
            .ok_or_else(|| err(BucketError::NoSuchConfiguration("NoSuchBucketPolicy")))?;
        Ok(S3Response::new(GetBucketPolicyOutput {
            policy: Some(policy),
        }))
    }

    async fn put_bucket_policy(
        &self,
        req: S3Request<PutBucketPolicyInput>,
    ) -> S3Result<S3Response<PutBucketPolicyOutput>> {
        let app = self.app()?;
        let policy = req.input.policy.clone();
        let valid = serde_json::from_str::<serde_json::Value>(&policy)
            .ok()
            .is_some_and(|v| v.get("Statement").is_some());
        if !valid {
            return Err(S3Error::with_message(
                S3ErrorCode::MalformedPolicy,
                "Policies must be valid JSON and the first byte must be '{'",
            ));
        }
        app.buckets
            .update(&req.input.bucket, |b| {
                b.policy = Some(policy);
                Ok(())
            })
            .await
            .map_err(err)?;
        Ok(S3Response::new(PutBucketPolicyOutput::default()))
    }

    async fn delete_bucket_policy(
        &self,
        req: S3Request<DeleteBucketPolicyInput>,
    ) -> S3Result<S3Response<DeleteBucketPolicyOutput>> {
        let app = self.app()?;
        app.buckets
            .update(&req.input.bucket, |b| {
                b.policy = None;
                Ok(())
            })
            .await
            .map_err(err)?;
        Ok(S3Response::new(DeleteBucketPolicyOutput::default()))
    }

    async fn get_bucket_tagging(
        &self,
        req: S3Request<GetBucketTaggingInput>,
    ) -> S3Result<S3Response<GetBucketTaggingOutput>> {
        let app = self.app()?;
        let b = app.buckets.need_bucket(&req.input.bucket).map_err(err)?;
        let tags = b
            .tags
            .ok_or_else(|| err(BucketError::NoSuchConfiguration("NoSuchTagSet")))?;
        Ok(S3Response::new(GetBucketTaggingOutput {
            tag_set: tag_set(&tags),
        }))
    }

    async fn put_bucket_tagging(
        &self,
        req: S3Request<PutBucketTaggingInput>,
    ) -> S3Result<S3Response<PutBucketTaggingOutput>> {
        let app = self.app()?;
        let tags = from_tag_set(req.input.tagging.tag_set);
        eddy_core::buckets::definition::check_tags(
            &tags,
            eddy_core::buckets::definition::MAX_BUCKET_TAGS,
        )
        .map_err(err)?;
        app.buckets
            .update(&req.input.bucket, |b| {
                b.tags = Some(tags);
                Ok(())
            })
            .await
            .map_err(err)?;
        Ok(S3Response::new(PutBucketTaggingOutput::default()))
    }

    async fn delete_bucket_tagging(
        &self,
        req: S3Request<DeleteBucketTaggingInput>,
    ) -> S3Result<S3Response<DeleteBucketTaggingOutput>> {
        let app = self.app()?;
        app.buckets
            .update(&req.input.bucket, |b| {
                b.tags = None;
                Ok(())
            })
            .await
            .map_err(err)?;
        Ok(S3Response::new(DeleteBucketTaggingOutput::default()))
    }

    async fn get_bucket_notification_configuration(
        &self,
        req: S3Request<GetBucketNotificationConfigurationInput>,
    ) -> S3Result<S3Response<GetBucketNotificationConfigurationOutput>> {
        let app = self.app()?;
        let b = app.buckets.need_bucket(&req.input.bucket).map_err(err)?;
        let n = notification_of(&b.notification);
        Ok(S3Response::new(GetBucketNotificationConfigurationOutput {
            event_bridge_configuration: n.event_bridge_configuration,
            lambda_function_configurations: n.lambda_function_configurations,
            queue_configurations: n.queue_configurations,
            topic_configurations: n.topic_configurations,
        }))
    }

    async fn put_bucket_notification_configuration(
        &self,
        req: S3Request<PutBucketNotificationConfigurationInput>,
    ) -> S3Result<S3Response<PutBucketNotificationConfigurationOutput>> {
        let app = self.app()?;
        let requester = who(&req, &app);
        let c = req.input.notification_configuration;
        let mut n = Notification {
            eventbridge: c.event_bridge_configuration.is_some(),
            destinations: Vec::new(),
        };
        for q in c.queue_configurations.unwrap_or_default() {
            n.destinations.push(destination(
                DestinationKind::Queue,
                q.id,
                q.queue_arn,
                q.events,
                q.filter,
            )?);
        }
        for t in c.topic_configurations.unwrap_or_default() {
            n.destinations.push(destination(
                DestinationKind::Topic,
                t.id,
                t.topic_arn,
                t.events,
                t.filter,
            )?);
        }
        for f in c.lambda_function_configurations.unwrap_or_default() {
            n.destinations.push(destination(
                DestinationKind::Function,
                f.id,
                f.lambda_function_arn,
                f.events,
                f.filter,
            )?);
        }
        app.set_bucket_notification(&req.input.bucket, n, &requester)
            .await
            .map_err(err)?;
        Ok(S3Response::new(
            PutBucketNotificationConfigurationOutput::default(),
        ))
    }

    async fn put_object(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        let app = self.app()?;
        let u = unsigned(&req);
        let requester = who(&req, &app);
        let i = req.input;
        let (checksum, expected) = checksum_plan(
            header_checksum!(i),
            i.checksum_algorithm.as_ref(),
            &req.headers,
            &u,
        )?;
        let tags = header_tags(i.tagging.as_deref())?;
        let meta = meta_of(
            i.content_type.as_ref(),
            i.content_encoding.clone(),
            i.content_disposition.clone(),
            i.content_language.clone(),
            i.cache_control.clone(),
            i.expires.as_ref(),
            i.metadata.clone(),
            i.storage_class.as_ref(),
            i.website_redirect_location.clone(),
            tags,
        );
        let put = PutObject {
            bucket: i.bucket.clone(),
            key: i.key.clone(),
            meta,
            content_md5: content_md5(i.content_md5.as_ref())?,
            checksum,
            expected_checksum: expected,
            payload_sha256: u.payload_sha256.clone(),
            if_none_match: matches!(i.if_none_match, Some(ETagCondition::Any)),
            if_match: i.if_match.as_ref().map(|c| match c {
                ETagCondition::ETag(e) => etag_text(e),
                ETagCondition::Any => "*".to_owned(),
            }),
        };
        let stored: Stored = app
            .put_object(put, body_stream(i.body), &requester)
            .await
            .map_err(err)?;
        let mut out = PutObjectOutput {
            e_tag: Some(etag(&stored.etag)),
            version_id: stored.version_id.clone(),
            checksum_type: stored.checksum_type.clone().map(ChecksumType::from),
            ..PutObjectOutput::default()
        };
        // S3 answers the checksum the client asked for (not the default one it computed).
        if checksum.is_some() {
            set_checksum!(out, &stored.checksum);
        }
        Ok(S3Response::new(out))
    }

    async fn get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        let app = self.app()?;
        let i = &req.input;
        let range = i.range.as_ref().map(|r| match *r {
            Range::Int { first, last } => CoreRange::From { first, last },
            Range::Suffix { length } => CoreRange::Suffix(length),
        });
        let cond = conditions(
            i.if_match.as_ref(),
            i.if_none_match.as_ref(),
            i.if_modified_since.as_ref(),
            i.if_unmodified_since.as_ref(),
        );
        let part = i.part_number.map(|n| n.max(0) as u32);
        let reading = app
            .get_object(
                &i.bucket,
                &i.key,
                i.version_id.as_deref(),
                &cond,
                range,
                part,
            )
            .await
            .map_err(err)?;
        let f = &reading.found;
        let len = reading.range.map_or(f.record.size, |(s, e)| e - s);
        let mut out = GetObjectOutput {
            accept_ranges: Some("bytes".to_owned()),
            body: Some(StreamingBlob::wrap(reading.body)),
            content_length: Some(len as i64),
            e_tag: Some(etag(&f.record.etag)),
            last_modified: Some(ts(f.record.modified_ms)),
            version_id: f.version_id.clone(),
            metadata: user_metadata(&f.meta),
            cache_control: i
                .response_cache_control
                .clone()
                .or(f.meta.cache_control.clone()),
            content_disposition: i
                .response_content_disposition
                .clone()
                .or(f.meta.content_disposition.clone()),
            content_encoding: i
                .response_content_encoding
                .clone()
                .or(f.meta.content_encoding.clone()),
            content_language: i
                .response_content_language
                .clone()
                .or(f.meta.content_language.clone()),
            content_type: i
                .response_content_type
                .clone()
                .or(f.meta.content_type.clone())
                .or(Some("binary/octet-stream".to_owned()))
                .and_then(|c| c.parse().ok()),
            expires: i.response_expires.clone().or(expires(&f.meta)),
            website_redirect_location: f.meta.website_redirect.clone(),
            tag_count: (!f.meta.tags.is_empty()).then_some(f.meta.tags.len() as i32),
            storage_class: f.meta.storage_class.clone().map(StorageClass::from),
            parts_count: (part.is_some() && !f.meta.parts.is_empty())
                .then_some(f.meta.parts.len() as i32),
            ..GetObjectOutput::default()
        };
        if let Some((s, e)) = reading.range {
            out.content_range = Some(format!(
                "bytes {}-{}/{}",
                s,
                e.saturating_sub(1),
                f.record.size
            ));
        }
        if i.checksum_mode
            .as_ref()
            .is_some_and(|m| m.as_str() == "ENABLED")
            && reading.range.is_none()
        {
            set_checksum!(out, &f.meta.checksum);
            out.checksum_type = f.meta.checksum_type.clone().map(ChecksumType::from);
        }
        let mut res = S3Response::new(out);
        if reading.range.is_some() {
            res.status = Some(axum::http::StatusCode::PARTIAL_CONTENT);
        }
        Ok(res)
    }

    async fn head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        let app = self.app()?;
        let i = &req.input;
        let cond = conditions(
            i.if_match.as_ref(),
            i.if_none_match.as_ref(),
            i.if_modified_since.as_ref(),
            i.if_unmodified_since.as_ref(),
        );
        let range = i.range.as_ref().map(|r| match *r {
            Range::Int { first, last } => CoreRange::From { first, last },
            Range::Suffix { length } => CoreRange::Suffix(length),
        });
        let part = i.part_number.map(|n| n.max(0) as u32);
        let reading = app
            .get_object(
                &i.bucket,
                &i.key,
                i.version_id.as_deref(),
                &cond,
                range,
                part,
            )
            .await
            .map_err(err)?;
        drop(reading.body);
        let f = &reading.found;
        let len = reading.range.map_or(f.record.size, |(s, e)| e - s);
        let mut out = HeadObjectOutput {
            accept_ranges: Some("bytes".to_owned()),
            content_length: Some(len as i64),
            e_tag: Some(etag(&f.record.etag)),
            last_modified: Some(ts(f.record.modified_ms)),
            version_id: f.version_id.clone(),
            metadata: user_metadata(&f.meta),
            cache_control: f.meta.cache_control.clone(),
            content_disposition: f.meta.content_disposition.clone(),
            content_encoding: f.meta.content_encoding.clone(),
            content_language: f.meta.content_language.clone(),
            content_type: f
                .meta
                .content_type
                .clone()
                .or(Some("binary/octet-stream".to_owned()))
                .and_then(|c| c.parse().ok()),
            expires: expires(&f.meta),
            website_redirect_location: f.meta.website_redirect.clone(),
            storage_class: f.meta.storage_class.clone().map(StorageClass::from),
            parts_count: (part.is_some() && !f.meta.parts.is_empty())
                .then_some(f.meta.parts.len() as i32),
            ..HeadObjectOutput::default()
        };
        if let Some((s, e)) = reading.range {
            out.content_range = Some(format!(
                "bytes {}-{}/{}",
                s,
                e.saturating_sub(1),
                f.record.size
            ));
        }
        if i.checksum_mode
            .as_ref()
            .is_some_and(|m| m.as_str() == "ENABLED")
        {
            set_checksum!(out, &f.meta.checksum);
            out.checksum_type = f.meta.checksum_type.clone().map(ChecksumType::from);
        }
        let mut res = S3Response::new(out);
        if reading.range.is_some() {
            res.status = Some(axum::http::StatusCode::PARTIAL_CONTENT);
        }
        Ok(res)
    }

    async fn delete_object(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        let app = self.app()?;
        let requester = who(&req, &app);
        let i = &req.input;
        let d = app
            .delete_object(&i.bucket, &i.key, i.version_id.as_deref(), &requester)
            .await
            .map_err(err)?;
        Ok(S3Response::new(DeleteObjectOutput {
            delete_marker: d.delete_marker.then_some(true),
            version_id: d.version_id,
            request_charged: None,
        }))
    }

    async fn delete_objects(
        &self,
        req: S3Request<DeleteObjectsInput>,
    ) -> S3Result<S3Response<DeleteObjectsOutput>> {
        let app = self.app()?;
        let requester = who(&req, &app);
        let i = &req.input;
        if i.delete.objects.len() > 1000 {
            return Err(S3Error::with_message(
                S3ErrorCode::MalformedXML,
                "The XML you provided was not well-formed or did not validate against our published schema",
            ));
        }
        let quiet = i.delete.quiet.unwrap_or(false);
        let (mut deleted, mut errors) = (Vec::new(), Vec::new());
        for o in &i.delete.objects {
            match app
                .delete_object(&i.bucket, &o.key, o.version_id.as_deref(), &requester)
                .await
            {
                Ok(d) => {
                    if !quiet {
                        let marker_vid = (d.delete_marker && o.version_id.is_none())
                            .then(|| d.version_id.clone())
                            .flatten();
                        deleted.push(DeletedObject {
                            key: Some(o.key.clone()),
                            version_id: o.version_id.clone(),
                            delete_marker: d.delete_marker.then_some(true),
                            delete_marker_version_id: marker_vid,
                        });
                    }
                }
                Err(e @ BucketError::NoSuchBucket(_)) => return Err(err(e)),
                Err(e) => errors.push(Error {
                    code: Some(e.code().to_owned()),
                    key: Some(o.key.clone()),
                    message: Some(e.to_string()),
                    version_id: o.version_id.clone(),
                }),
            }
        }
        Ok(S3Response::new(DeleteObjectsOutput {
            deleted: Some(deleted),
            errors: (!errors.is_empty()).then_some(errors),
            request_charged: None,
        }))
    }

    async fn copy_object(
        &self,
        req: S3Request<CopyObjectInput>,
    ) -> S3Result<S3Response<CopyObjectOutput>> {
        let app = self.app()?;
        let requester = who(&req, &app);
        let i = &req.input;
        let (sb, sk, sv) = copy_source(&i.copy_source)?;
        let replace_meta = i
            .metadata_directive
            .as_ref()
            .is_some_and(|d| d.as_str() == "REPLACE")
            .then(|| {
                meta_of(
                    i.content_type.as_ref(),
                    i.content_encoding.clone(),
                    i.content_disposition.clone(),
                    i.content_language.clone(),
                    i.cache_control.clone(),
                    i.expires.as_ref(),
                    i.metadata.clone(),
                    i.storage_class.as_ref(),
                    i.website_redirect_location.clone(),
                    Vec::new(),
                )
            });
        let replace_tags = if i
            .tagging_directive
            .as_ref()
            .is_some_and(|d| d.as_str() == "REPLACE")
        {
            Some(header_tags(i.tagging.as_deref())?)
        } else {
            None
        };
        let cond = conditions(
            i.copy_source_if_match.as_ref(),
            i.copy_source_if_none_match.as_ref(),
            i.copy_source_if_modified_since.as_ref(),
            i.copy_source_if_unmodified_since.as_ref(),
        );
        let (stored, source_version) = app
            .copy_object(
                (&sb, &sk, sv.as_deref()),
                &i.bucket,
                &i.key,
                replace_meta,
                replace_tags,
                &cond,
                &requester,
            )
            .await
            .map_err(err)?;
        let mut result = CopyObjectResult {
            e_tag: Some(etag(&stored.etag)),
            last_modified: Some(ts(stored.modified_ms)),
            ..CopyObjectResult::default()
        };
        set_checksum!(result, &stored.checksum);
        Ok(S3Response::new(CopyObjectOutput {
            copy_object_result: Some(result),
            copy_source_version_id: source_version,
            version_id: stored.version_id,
            ..CopyObjectOutput::default()
        }))
    }

    async fn list_objects_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        let app = self.app()?;
        let i = &req.input;
        let max = max_keys(i.max_keys)?;
        let prefix = i.prefix.clone().unwrap_or_default();
        let after = match from_continuation(i.continuation_token.as_ref())? {
            Some(t) => Some(t),
            None => i.start_after.clone().filter(|s| !s.is_empty()),
        };
        let listing = app
            .list_objects(&i.bucket, &prefix, i.delimiter.as_deref(), after, max)
            .await
            .map_err(err)?;
        let url = i
            .encoding_type
            .as_ref()
            .is_some_and(|e| e.as_str() == "url");
        let enc = |s: String| {
            if url {
                eddy_core::buckets::notify::record_key(&s).replace('+', "%20")
            } else {
                s
            }
        };
        let key_count = (listing.objects.len() + listing.prefixes.len()) as i32;
        let contents: Vec<Object> = listing
            .objects
            .iter()
            .map(|f| {
                let mut o = object_of(f);
                o.key = o.key.map(enc);
                if i.fetch_owner == Some(true) {
                    o.owner = Some(Owner {
                        id: Some(app.config.account_id.clone()),
                        display_name: Some("eddy".to_owned()),
                    });
                }
                o
            })
            .collect();
        Ok(S3Response::new(ListObjectsV2Output {
            name: Some(i.bucket.clone()),
            prefix: Some(enc(prefix)),
            max_keys: Some(i.max_keys.unwrap_or(1000)),
            key_count: Some(key_count),
            continuation_token: i.continuation_token.clone(),
            is_truncated: Some(listing.truncated),
            next_continuation_token: if listing.truncated {
                continuation(listing.next)
            } else {
                None
            },
            contents: Some(contents),
            common_prefixes: (!listing.prefixes.is_empty()).then(|| {
                listing
                    .prefixes
                    .into_iter()
                    .map(|p| CommonPrefix {
                        prefix: Some(enc(p)),
                    })
                    .collect()
            }),
            delimiter: i.delimiter.clone(),
            encoding_type: i.encoding_type.clone(),
            start_after: i.start_after.clone(),
            request_charged: None,
        }))
    }

    async fn list_objects(
        &self,
        req: S3Request<ListObjectsInput>,
    ) -> S3Result<S3Response<ListObjectsOutput>> {
        let app = self.app()?;
        let i = &req.input;
        let max = max_keys(i.max_keys)?;
        let prefix = i.prefix.clone().unwrap_or_default();
        let listing = app
            .list_objects(
                &i.bucket,
                &prefix,
                i.delimiter.as_deref(),
                i.marker.clone().filter(|m| !m.is_empty()),
                max,
            )
            .await
            .map_err(err)?;
        let last = listing
            .objects
            .last()
            .map(|f| f.record.key.clone())
            .into_iter()
            .chain(listing.prefixes.last().cloned())
            .max();
        Ok(S3Response::new(ListObjectsOutput {
            name: Some(i.bucket.clone()),
            prefix: Some(prefix),
            marker: Some(i.marker.clone().unwrap_or_default()),
            max_keys: Some(i.max_keys.unwrap_or(1000)),
            is_truncated: Some(listing.truncated),
            contents: Some(listing.objects.iter().map(object_of).collect()),
            common_prefixes: (!listing.prefixes.is_empty()).then(|| {
                listing
                    .prefixes
                    .iter()
                    .map(|p| CommonPrefix {
                        prefix: Some(p.clone()),
                    })
                    .collect()
            }),
            delimiter: i.delimiter.clone(),
            next_marker: (listing.truncated && i.delimiter.is_some())
                .then_some(last)
                .flatten(),
            encoding_type: i.encoding_type.clone(),
            request_charged: None,
        }))
    }

    async fn list_object_versions(
        &self,
        req: S3Request<ListObjectVersionsInput>,
    ) -> S3Result<S3Response<ListObjectVersionsOutput>> {
        let app = self.app()?;
        let i = &req.input;
        let max = max_keys(i.max_keys)?;
        let prefix = i.prefix.clone().unwrap_or_default();
        let after = i
            .key_marker
            .clone()
            .filter(|k| !k.is_empty())
            .map(|k| (k, i.version_id_marker.clone().filter(|v| !v.is_empty())));
        let listing = app
            .list_versions(&i.bucket, &prefix, i.delimiter.as_deref(), after, max)
            .await
            .map_err(err)?;
        let (mut versions, mut markers) = (Vec::new(), Vec::new());
        for f in &listing.versions {
            if f.record.delete_marker {
                markers.push(DeleteMarkerEntry {
                    is_latest: Some(f.record.latest),
                    key: Some(f.record.key.clone()),
                    last_modified: Some(ts(f.record.modified_ms)),
                    owner: None,
                    version_id: f.version_id.clone(),
                });
            } else {
                versions.push(ObjectVersion {
                    e_tag: Some(etag(&f.record.etag)),
                    is_latest: Some(f.record.latest),
                    key: Some(f.record.key.clone()),
                    last_modified: Some(ts(f.record.modified_ms)),
                    size: Some(f.record.size as i64),
                    storage_class: Some(ObjectVersionStorageClass::from("STANDARD".to_owned())),
                    version_id: f.version_id.clone(),
                    ..ObjectVersion::default()
                });
            }
        }
        let (next_key, next_version) = match (listing.truncated, listing.next) {
            (true, Some((k, v))) => (Some(k), (!v.is_empty()).then_some(v)),
            _ => (None, None),
        };
        Ok(S3Response::new(ListObjectVersionsOutput {
            common_prefixes: (!listing.prefixes.is_empty()).then(|| {
                listing
                    .prefixes
                    .iter()
                    .map(|p| CommonPrefix {
                        prefix: Some(p.clone()),
                    })
                    .collect()
            }),
            delete_markers: (!markers.is_empty()).then_some(markers),
            delimiter: i.delimiter.clone(),
            encoding_type: i.encoding_type.clone(),
            is_truncated: Some(listing.truncated),
            key_marker: Some(i.key_marker.clone().unwrap_or_default()),
            max_keys: Some(i.max_keys.unwrap_or(1000)),
            name: Some(i.bucket.clone()),
            next_key_marker: next_key,
            next_version_id_marker: next_version,
            prefix: Some(prefix),
            request_charged: None,
            version_id_marker: Some(i.version_id_marker.clone().unwrap_or_default()),
            versions: Some(versions),
        }))
    }

    async fn get_object_tagging(
        &self,
        req: S3Request<GetObjectTaggingInput>,
    ) -> S3Result<S3Response<GetObjectTaggingOutput>> {
        let app = self.app()?;
        let i = &req.input;
        let f = app
            .head_object(&i.bucket, &i.key, i.version_id.as_deref())
            .await
            .map_err(err)?;
        Ok(S3Response::new(GetObjectTaggingOutput {
            tag_set: tag_set(&f.meta.tags),
            version_id: f.version_id,
        }))
    }

    async fn put_object_tagging(
        &self,
        req: S3Request<PutObjectTaggingInput>,
    ) -> S3Result<S3Response<PutObjectTaggingOutput>> {
        let app = self.app()?;
        let requester = who(&req, &app);
        let i = req.input;
        let tags = from_tag_set(i.tagging.tag_set);
        let version = app
            .put_object_tags(
                &i.bucket,
                &i.key,
                i.version_id.as_deref(),
                Some(tags),
                &requester,
            )
            .await
            .map_err(err)?;
        Ok(S3Response::new(PutObjectTaggingOutput {
            version_id: version,
        }))
    }

    async fn delete_object_tagging(
        &self,
        req: S3Request<DeleteObjectTaggingInput>,
    ) -> S3Result<S3Response<DeleteObjectTaggingOutput>> {
        let app = self.app()?;
        let requester = who(&req, &app);
        let i = &req.input;
        let version = app
            .put_object_tags(&i.bucket, &i.key, i.version_id.as_deref(), None, &requester)
            .await
            .map_err(err)?;
        Ok(S3Response::new(DeleteObjectTaggingOutput {
            version_id: version,
        }))
    }

    async fn create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        let app = self.app()?;
        let i = &req.input;
        let tags = header_tags(i.tagging.as_deref())?;
        let meta = meta_of(
            i.content_type.as_ref(),
            i.content_encoding.clone(),
            i.content_disposition.clone(),
            i.content_language.clone(),
            i.cache_control.clone(),
            i.expires.as_ref(),
            i.metadata.clone(),
            i.storage_class.as_ref(),
            i.website_redirect_location.clone(),
            tags,
        );
        let algorithm = match &i.checksum_algorithm {
            Some(a) => Some(Algorithm::parse(a.as_str()).ok_or_else(|| {
                S3Error::with_message(
                    S3ErrorCode::InvalidRequest,
                    "Checksum algorithm provided is unsupported.",
                )
            })?),
            None => None,
        };
        let id = app
            .create_upload(
                &i.bucket,
                &i.key,
                meta,
                algorithm,
                i.checksum_type.as_ref().map(|t| t.as_str().to_owned()),
            )
            .await
            .map_err(err)?;
        let (_, m) = app.upload(&i.bucket, &i.key, &id).await.map_err(err)?;
        Ok(S3Response::new(CreateMultipartUploadOutput {
            bucket: Some(i.bucket.clone()),
            key: Some(i.key.clone()),
            upload_id: Some(id),
            checksum_algorithm: m
                .algorithm
                .map(|a| ChecksumAlgorithm::from(a.name().to_owned())),
            checksum_type: m.checksum_type.map(ChecksumType::from),
            ..CreateMultipartUploadOutput::default()
        }))
    }

    async fn upload_part(
        &self,
        req: S3Request<UploadPartInput>,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        let app = self.app()?;
        let u = unsigned(&req);
        let i = req.input;
        let (checksum, expected) = checksum_plan(
            header_checksum!(i),
            i.checksum_algorithm.as_ref(),
            &req.headers,
            &u,
        )?;
        let part = PartUpload {
            bucket: i.bucket.clone(),
            key: i.key.clone(),
            upload_id: i.upload_id.clone(),
            number: i.part_number.max(0) as u32,
            content_md5: content_md5(i.content_md5.as_ref())?,
            checksum,
            expected_checksum: expected,
            payload_sha256: u.payload_sha256.clone(),
        };
        let (e, sum) = app
            .upload_part(part, body_stream(i.body))
            .await
            .map_err(err)?;
        let mut out = UploadPartOutput {
            e_tag: Some(etag(&e)),
            ..UploadPartOutput::default()
        };
        set_checksum!(out, &sum);
        Ok(S3Response::new(out))
    }

    async fn upload_part_copy(
        &self,
        req: S3Request<UploadPartCopyInput>,
    ) -> S3Result<S3Response<UploadPartCopyOutput>> {
        let app = self.app()?;
        let i = &req.input;
        let (sb, sk, sv) = copy_source(&i.copy_source)?;
        let range = match &i.copy_source_range {
            None => None,
            Some(r) => {
                let bad = || {
                    S3Error::with_message(
                        S3ErrorCode::InvalidArgument,
                        "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy",
                    )
                };
                let spec = r.strip_prefix("bytes=").ok_or_else(bad)?;
                let (a, b) = spec.split_once('-').ok_or_else(bad)?;
                let (a, b) = (
                    a.parse::<u64>().map_err(|_| bad())?,
                    b.parse::<u64>().map_err(|_| bad())?,
                );
                if b < a {
                    return Err(bad());
                }
                Some((a, b))
            }
        };
        let cond = conditions(
            i.copy_source_if_match.as_ref(),
            i.copy_source_if_none_match.as_ref(),
            i.copy_source_if_modified_since.as_ref(),
            i.copy_source_if_unmodified_since.as_ref(),
        );
        let (e, modified, source_version) = app
            .upload_part_copy(
                &i.bucket,
                &i.key,
                &i.upload_id,
                i.part_number.max(0) as u32,
                (&sb, &sk, sv.as_deref()),
                range,
                &cond,
            )
            .await
            .map_err(err)?;
        Ok(S3Response::new(UploadPartCopyOutput {
            copy_part_result: Some(CopyPartResult {
                e_tag: Some(etag(&e)),
                last_modified: Some(ts(modified)),
                ..CopyPartResult::default()
            }),
            copy_source_version_id: source_version,
            ..UploadPartCopyOutput::default()
        }))
    }

    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        let app = self.app()?;
        let requester = who(&req, &app);
        let i = req.input;
        let parts = i
            .multipart_upload
            .and_then(|m| m.parts)
            .unwrap_or_default()
            .into_iter()
            .map(|p| CorePart {
                number: p.part_number.unwrap_or(0).max(0) as u32,
                etag: p.e_tag.as_ref().map(etag_text).unwrap_or_default(),
                checksum: header_checksum!(p).map(|(_, v)| v),
            })
            .collect();
        let stored = app
            .complete_upload(&i.bucket, &i.key, &i.upload_id, parts, &requester)
            .await
            .map_err(err)?;
        let mut out = CompleteMultipartUploadOutput {
            bucket: Some(i.bucket.clone()),
            key: Some(i.key.clone()),
            e_tag: Some(etag(&stored.etag)),
            version_id: stored.version_id.clone(),
            location: Some(format!("/{}/{}", i.bucket, i.key)),
            checksum_type: stored.checksum_type.clone().map(ChecksumType::from),
            ..CompleteMultipartUploadOutput::default()
        };
        set_checksum!(out, &stored.checksum);
        Ok(S3Response::new(out))
    }

    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        let app = self.app()?;
        let i = &req.input;
        app.abort_upload(&i.bucket, &i.key, &i.upload_id)
            .await
            .map_err(err)?;
        let mut res = S3Response::new(AbortMultipartUploadOutput::default());
        res.status = Some(axum::http::StatusCode::NO_CONTENT);
        Ok(res)
    }

    async fn list_parts(
        &self,
        req: S3Request<ListPartsInput>,
    ) -> S3Result<S3Response<ListPartsOutput>> {
        let app = self.app()?;
        let i = &req.input;
        let after = i.part_number_marker.unwrap_or(0).max(0) as u32;
        let max = i.max_parts.map_or(1000, |m| m.clamp(0, 1000) as usize);
        let (_, meta, parts, truncated) = app
            .list_parts(&i.bucket, &i.key, &i.upload_id, after, max)
            .await
            .map_err(err)?;
        let next = parts.last().map(|(p, _)| p.part_number as i32);
        let parts = parts
            .into_iter()
            .map(|(p, m)| {
                let mut part = Part {
                    e_tag: Some(etag(&p.etag)),
                    last_modified: Some(ts(p.modified_ms)),
                    part_number: Some(p.part_number as i32),
                    size: Some(p.blob.size as i64),
                    ..Part::default()
                };
                set_checksum!(part, &m.checksum);
                part
            })
            .collect();
        Ok(S3Response::new(ListPartsOutput {
            bucket: Some(i.bucket.clone()),
            key: Some(i.key.clone()),
            upload_id: Some(i.upload_id.clone()),
            is_truncated: Some(truncated),
            max_parts: Some(max as i32),
            next_part_number_marker: next,
            part_number_marker: i.part_number_marker,
            parts: Some(parts),
            checksum_algorithm: meta
                .algorithm
                .map(|a| ChecksumAlgorithm::from(a.name().to_owned())),
            checksum_type: meta.checksum_type.map(ChecksumType::from),
            storage_class: Some(StorageClass::from("STANDARD".to_owned())),
            ..ListPartsOutput::default()
        }))
    }

    async fn list_multipart_uploads(
        &self,
        req: S3Request<ListMultipartUploadsInput>,
    ) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
        let app = self.app()?;
        let i = &req.input;
        let max = i.max_uploads.map_or(1000, |m| m.clamp(0, 1000) as usize);
        let after = i
            .key_marker
            .clone()
            .filter(|k| !k.is_empty())
            .map(|k| (k, i.upload_id_marker.clone().unwrap_or_default()));
        let (uploads, truncated) = app
            .list_uploads(&i.bucket, i.prefix.as_deref().unwrap_or(""), after, max)
            .await
            .map_err(err)?;
        let last = uploads.last().map(|u| (u.key.clone(), u.upload_id.clone()));
        let uploads = uploads
            .into_iter()
            .map(|u| MultipartUpload {
                initiated: Some(ts(u.initiated_ms)),
                key: Some(u.key),
                upload_id: Some(u.upload_id),
                storage_class: Some(StorageClass::from("STANDARD".to_owned())),
                ..MultipartUpload::default()
            })
            .collect();
        Ok(S3Response::new(ListMultipartUploadsOutput {
            bucket: Some(i.bucket.clone()),
            is_truncated: Some(truncated),
            key_marker: i.key_marker.clone(),
            upload_id_marker: i.upload_id_marker.clone(),
            max_uploads: Some(max as i32),
            next_key_marker: truncated.then(|| last.clone().map(|l| l.0)).flatten(),
            next_upload_id_marker: truncated.then(|| last.map(|l| l.1)).flatten(),
            prefix: i.prefix.clone(),
            delimiter: i.delimiter.clone(),
            uploads: Some(uploads),
            ..ListMultipartUploadsOutput::default()
        }))
    }
}
