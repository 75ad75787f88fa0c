//! The bridge between `s3s`'s operations and eddy's buckets: [`EddyS3`] implements `s3s`'s
//! trait by handing each operation to `buckets`, `objects` or `multipart`, and this module holds
//! what they share to read S3's inputs into the core's terms and put the core's answers and
//! [`BucketError`]s in S3's (errors, timestamps, ETags, checksums, metadata, tags, notification
//! configurations).

use std::sync::{Arc, Weak};
use std::time::{Duration, SystemTime};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use eddy_core::buckets::data::ByteStream;
use eddy_core::buckets::objects::{Conditions, Found};
use eddy_core::buckets::{
    Algorithm, BucketError, Destination, DestinationKind, Notification, ObjectMeta, Requester,
};
use futures_util::StreamExt;
use s3s::dto::*;
use s3s::{S3, S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

use super::{Unsigned, buckets, multipart, objects};
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

pub(super) fn unsigned<T>(req: &S3Request<T>) -> Unsigned {
    req.extensions
        .get::<Unsigned>()
        .cloned()
        .unwrap_or_default()
}

pub(super) fn who<T>(req: &S3Request<T>, app: &App) -> Requester {
    let u = unsigned(req);
    Requester {
        request_id: u.request_id,
        source_ip: u.source_ip,
        principal: app.config.account_id.clone(),
    }
}

pub(super) fn region<T>(req: &S3Request<T>, app: &App) -> String {
    unsigned(req)
        .region
        .unwrap_or_else(|| app.config.default_region.clone())
}

/// A core refusal in S3's terms.
pub(super) fn err(e: BucketError) -> S3Error {
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
        BucketError::Unavailable(_) => Some(503),
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

pub(super) fn ts(ms: i64) -> Timestamp {
    Timestamp::from(SystemTime::UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64))
}

pub(super) fn ms(t: &Timestamp) -> i64 {
    let t: time::OffsetDateTime = t.clone().into();
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

pub(super) fn etag(e: &str) -> ETag {
    ETag::Strong(e.trim_matches('"').to_owned())
}

pub(super) fn etag_text(e: &ETag) -> String {
    format!("\"{}\"", e.value())
}

pub(super) fn body_stream(blob: Option<StreamingBlob>) -> ByteStream {
    match blob {
        None => Box::pin(futures_util::stream::empty()),
        Some(b) => Box::pin(b.map(|r| r.map_err(|e| std::io::Error::other(e.to_string())))),
    }
}

/// The tags of an `x-amz-tagging` header (`k1=v1&k2=v2`).
pub(super) fn header_tags(h: Option<&str>) -> S3Result<Vec<(String, String)>> {
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

pub(super) fn tag_set(tags: &[(String, String)]) -> TagSet {
    tags.iter()
        .map(|(k, v)| Tag {
            key: Some(k.clone()),
            value: Some(v.clone()),
        })
        .collect()
}

pub(super) fn from_tag_set(set: TagSet) -> Vec<(String, String)> {
    set.into_iter()
        .map(|t| (t.key.unwrap_or_default(), t.value.unwrap_or_default()))
        .collect()
}

/// The checksum a client sent in a header for `algorithm`, if any.
macro_rules! header_checksum_ {
    ($input:expr) => {{
        let i = &$input;
        [
            (
                eddy_core::buckets::Algorithm::Crc32,
                i.checksum_crc32.clone(),
            ),
            (
                eddy_core::buckets::Algorithm::Crc32c,
                i.checksum_crc32c.clone(),
            ),
            (
                eddy_core::buckets::Algorithm::Crc64Nvme,
                i.checksum_crc64nvme.clone(),
            ),
            (eddy_core::buckets::Algorithm::Sha1, i.checksum_sha1.clone()),
            (
                eddy_core::buckets::Algorithm::Sha256,
                i.checksum_sha256.clone(),
            ),
        ]
        .into_iter()
        .find_map(|(a, v)| v.map(|v| (a, v)))
    }};
}
pub(super) use header_checksum_ as header_checksum;

/// Which additional checksum to compute and how to learn the value the client expects: a
/// header, or a trailer of the `aws-chunked` body (read once the body has ended).
/// The checksum value a client expects, learned when the body has ended.
pub(super) type Expected = Option<Box<dyn FnOnce() -> Option<String> + Send>>;

pub(super) fn checksum_plan(
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

pub(super) fn content_md5(v: Option<&String>) -> S3Result<Option<Vec<u8>>> {
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

macro_rules! set_checksum_ {
    ($out:expr, $sum:expr) => {
        if let Some((a, v)) = $sum {
            let v = Some(v.clone());
            match a {
                eddy_core::buckets::Algorithm::Crc32 => $out.checksum_crc32 = v,
                eddy_core::buckets::Algorithm::Crc32c => $out.checksum_crc32c = v,
                eddy_core::buckets::Algorithm::Crc64Nvme => $out.checksum_crc64nvme = v,
                eddy_core::buckets::Algorithm::Sha1 => $out.checksum_sha1 = v,
                eddy_core::buckets::Algorithm::Sha256 => $out.checksum_sha256 = v,
            }
        }
    };
}
pub(super) use set_checksum_ as set_checksum;

/// The object metadata an operation's input carries (PutObject, CopyObject,
/// CreateMultipartUpload share these members), with `tags`.
macro_rules! meta_of_ {
    ($input:expr, $tags:expr) => {{
        let i = &$input;
        $crate::aws::s3::service::meta_of(
            i.content_type.as_ref(),
            i.content_encoding.clone(),
            i.content_disposition.clone(),
            i.content_language.clone(),
            i.cache_control.clone(),
            i.expires.as_ref(),
            i.metadata.clone(),
            i.storage_class.as_ref(),
            i.website_redirect_location.clone(),
            $tags,
        )
    }};
}
pub(super) use meta_of_ as meta_of;

/// What GetObject and HeadObject read alike: their conditions, range and part number.
macro_rules! read_args_ {
    ($input:expr) => {{
        let i = &$input;
        let cond = $crate::aws::s3::service::conditions(
            i.if_match.as_ref(),
            i.if_none_match.as_ref(),
            i.if_modified_since.as_ref(),
            i.if_unmodified_since.as_ref(),
        );
        let range = i.range.as_ref().map(|r| match *r {
            s3s::dto::Range::Int { first, last } => {
                eddy_core::buckets::objects::Range::From { first, last }
            }
            s3s::dto::Range::Suffix { length } => {
                eddy_core::buckets::objects::Range::Suffix(length)
            }
        });
        let part = i.part_number.map(|n| n.max(0) as u32);
        (cond, range, part)
    }};
}
pub(super) use read_args_ as read_args;

/// A listing's common prefixes as S3 lists them (none: the element is left out).
pub(super) fn common_prefixes(
    prefixes: &[String],
    encode: impl Fn(String) -> String,
) -> Option<Vec<CommonPrefix>> {
    (!prefixes.is_empty()).then(|| {
        prefixes
            .iter()
            .map(|p| CommonPrefix {
                prefix: Some(encode(p.clone())),
            })
            .collect()
    })
}

#[allow(clippy::too_many_arguments)]
pub(super) fn meta_of(
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

pub(super) fn user_metadata(m: &ObjectMeta) -> Option<Metadata> {
    (!m.user.is_empty()).then(|| m.user.clone().into_iter().collect())
}

pub(super) fn expires(m: &ObjectMeta) -> Option<Timestamp> {
    m.expires
        .as_deref()
        .and_then(|e| Timestamp::parse(TimestampFormat::HttpDate, e).ok())
}

pub(super) fn conditions(
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

pub(super) fn copy_source(c: &CopySource) -> S3Result<(String, String, Option<String>)> {
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

pub(super) fn max_keys(m: Option<i32>) -> S3Result<usize> {
    match m {
        None => Ok(1000),
        Some(n) if n < 0 => Err(S3Error::with_message(
            S3ErrorCode::InvalidArgument,
            "Argument maxKeys must be an integer between 0 and 2147483647",
        )),
        Some(n) => Ok((n as usize).min(1000)),
    }
}

pub(super) fn object_of(f: &Found) -> Object {
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

pub(super) fn continuation(next: Option<String>) -> Option<String> {
    next.map(|n| B64.encode(n.as_bytes()))
}

pub(super) fn from_continuation(t: Option<&String>) -> S3Result<Option<String>> {
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

pub(super) fn notification_of(n: &Notification) -> NotificationConfiguration {
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

pub(super) fn destination(
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
        buckets::create_bucket(self.app()?, req).await
    }

    async fn head_bucket(
        &self,
        req: S3Request<HeadBucketInput>,
    ) -> S3Result<S3Response<HeadBucketOutput>> {
        buckets::head_bucket(self.app()?, req).await
    }

    async fn delete_bucket(
        &self,
        req: S3Request<DeleteBucketInput>,
    ) -> S3Result<S3Response<DeleteBucketOutput>> {
        buckets::delete_bucket(self.app()?, req).await
    }

    async fn list_buckets(
        &self,
        req: S3Request<ListBucketsInput>,
    ) -> S3Result<S3Response<ListBucketsOutput>> {
        buckets::list_buckets(self.app()?, req).await
    }

    async fn get_bucket_location(
        &self,
        req: S3Request<GetBucketLocationInput>,
    ) -> S3Result<S3Response<GetBucketLocationOutput>> {
        buckets::get_bucket_location(self.app()?, req).await
    }

    async fn get_bucket_versioning(
        &self,
        req: S3Request<GetBucketVersioningInput>,
    ) -> S3Result<S3Response<GetBucketVersioningOutput>> {
        buckets::get_bucket_versioning(self.app()?, req).await
    }

    async fn put_bucket_versioning(
        &self,
        req: S3Request<PutBucketVersioningInput>,
    ) -> S3Result<S3Response<PutBucketVersioningOutput>> {
        buckets::put_bucket_versioning(self.app()?, req).await
    }

    async fn get_bucket_cors(
        &self,
        req: S3Request<GetBucketCorsInput>,
    ) -> S3Result<S3Response<GetBucketCorsOutput>> {
        buckets::get_bucket_cors(self.app()?, req).await
    }

    async fn put_bucket_cors(
        &self,
        req: S3Request<PutBucketCorsInput>,
    ) -> S3Result<S3Response<PutBucketCorsOutput>> {
        buckets::put_bucket_cors(self.app()?, req).await
    }

    async fn delete_bucket_cors(
        &self,
        req: S3Request<DeleteBucketCorsInput>,
    ) -> S3Result<S3Response<DeleteBucketCorsOutput>> {
        buckets::delete_bucket_cors(self.app()?, req).await
    }

    async fn get_bucket_policy(
        &self,
        req: S3Request<GetBucketPolicyInput>,
    ) -> S3Result<S3Response<GetBucketPolicyOutput>> {
        buckets::get_bucket_policy(self.app()?, req).await
    }

    async fn put_bucket_policy(
        &self,
        req: S3Request<PutBucketPolicyInput>,
    ) -> S3Result<S3Response<PutBucketPolicyOutput>> {
        buckets::put_bucket_policy(self.app()?, req).await
    }

    async fn delete_bucket_policy(
        &self,
        req: S3Request<DeleteBucketPolicyInput>,
    ) -> S3Result<S3Response<DeleteBucketPolicyOutput>> {
        buckets::delete_bucket_policy(self.app()?, req).await
    }

    async fn get_bucket_tagging(
        &self,
        req: S3Request<GetBucketTaggingInput>,
    ) -> S3Result<S3Response<GetBucketTaggingOutput>> {
        buckets::get_bucket_tagging(self.app()?, req).await
    }

    async fn put_bucket_tagging(
        &self,
        req: S3Request<PutBucketTaggingInput>,
    ) -> S3Result<S3Response<PutBucketTaggingOutput>> {
        buckets::put_bucket_tagging(self.app()?, req).await
    }

    async fn delete_bucket_tagging(
        &self,
        req: S3Request<DeleteBucketTaggingInput>,
    ) -> S3Result<S3Response<DeleteBucketTaggingOutput>> {
        buckets::delete_bucket_tagging(self.app()?, req).await
    }

    async fn get_bucket_notification_configuration(
        &self,
        req: S3Request<GetBucketNotificationConfigurationInput>,
    ) -> S3Result<S3Response<GetBucketNotificationConfigurationOutput>> {
        buckets::get_bucket_notification_configuration(self.app()?, req).await
    }

    async fn put_bucket_notification_configuration(
        &self,
        req: S3Request<PutBucketNotificationConfigurationInput>,
    ) -> S3Result<S3Response<PutBucketNotificationConfigurationOutput>> {
        buckets::put_bucket_notification_configuration(self.app()?, req).await
    }

    async fn put_object(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        objects::put_object(self.app()?, req).await
    }

    async fn get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        objects::get_object(self.app()?, req).await
    }

    async fn head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        objects::head_object(self.app()?, req).await
    }

    async fn delete_object(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        objects::delete_object(self.app()?, req).await
    }

    async fn delete_objects(
        &self,
        req: S3Request<DeleteObjectsInput>,
    ) -> S3Result<S3Response<DeleteObjectsOutput>> {
        objects::delete_objects(self.app()?, req).await
    }

    async fn copy_object(
        &self,
        req: S3Request<CopyObjectInput>,
    ) -> S3Result<S3Response<CopyObjectOutput>> {
        objects::copy_object(self.app()?, req).await
    }

    async fn list_objects_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        objects::list_objects_v2(self.app()?, req).await
    }

    async fn list_objects(
        &self,
        req: S3Request<ListObjectsInput>,
    ) -> S3Result<S3Response<ListObjectsOutput>> {
        objects::list_objects(self.app()?, req).await
    }

    async fn list_object_versions(
        &self,
        req: S3Request<ListObjectVersionsInput>,
    ) -> S3Result<S3Response<ListObjectVersionsOutput>> {
        objects::list_object_versions(self.app()?, req).await
    }

    async fn get_object_tagging(
        &self,
        req: S3Request<GetObjectTaggingInput>,
    ) -> S3Result<S3Response<GetObjectTaggingOutput>> {
        objects::get_object_tagging(self.app()?, req).await
    }

    async fn put_object_tagging(
        &self,
        req: S3Request<PutObjectTaggingInput>,
    ) -> S3Result<S3Response<PutObjectTaggingOutput>> {
        objects::put_object_tagging(self.app()?, req).await
    }

    async fn delete_object_tagging(
        &self,
        req: S3Request<DeleteObjectTaggingInput>,
    ) -> S3Result<S3Response<DeleteObjectTaggingOutput>> {
        objects::delete_object_tagging(self.app()?, req).await
    }

    async fn create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        multipart::create_multipart_upload(self.app()?, req).await
    }

    async fn upload_part(
        &self,
        req: S3Request<UploadPartInput>,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        multipart::upload_part(self.app()?, req).await
    }

    async fn upload_part_copy(
        &self,
        req: S3Request<UploadPartCopyInput>,
    ) -> S3Result<S3Response<UploadPartCopyOutput>> {
        multipart::upload_part_copy(self.app()?, req).await
    }

    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        multipart::complete_multipart_upload(self.app()?, req).await
    }

    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        multipart::abort_multipart_upload(self.app()?, req).await
    }

    async fn list_parts(
        &self,
        req: S3Request<ListPartsInput>,
    ) -> S3Result<S3Response<ListPartsOutput>> {
        multipart::list_parts(self.app()?, req).await
    }

    async fn list_multipart_uploads(
        &self,
        req: S3Request<ListMultipartUploadsInput>,
    ) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
        multipart::list_multipart_uploads(self.app()?, req).await
    }
}
