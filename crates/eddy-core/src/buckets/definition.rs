//! A bucket's definition and the one place that decides what is valid in it: bucket names as
//! S3 allows them, object keys, tags, CORS rules and notification configurations, for every
//! caller (the S3 API, the manifest).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::BucketError;
use crate::registry::Named;

/// Where buckets live in the registry: bucket names are global, not per region.
pub const NAMESPACE: &str = "s3";

/// The longest object key S3 accepts, in bytes.
pub const MAX_KEY_BYTES: usize = 1024;
/// Most tags on an object.
pub const MAX_OBJECT_TAGS: usize = 10;
/// Most tags on a bucket.
pub const MAX_BUCKET_TAGS: usize = 50;

/// A bucket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BucketDef {
    pub name: String,
    /// The region it was created in (`LocationConstraint`).
    pub region: String,
    pub created_ms: i64,
    /// `None`: never enabled; `Some(true)` enabled, `Some(false)` suspended.
    #[serde(default)]
    pub versioning: Option<bool>,
    #[serde(default)]
    pub cors: Option<Vec<CorsRule>>,
    #[serde(default)]
    pub notification: Notification,
    /// The bucket policy's text, stored (not enforced yet).
    #[serde(default)]
    pub policy: Option<String>,
    #[serde(default)]
    pub tags: Option<Vec<(String, String)>>,
}

impl Named for BucketDef {
    const KIND: &'static str = "bucket";

    fn region(&self) -> &str {
        NAMESPACE
    }

    fn name(&self) -> &str {
        &self.name
    }
}

impl BucketDef {
    pub fn arn(&self) -> String {
        format!("arn:aws:s3:::{}", self.name)
    }

    /// The version id new writes get: a fresh one while versioning is enabled, else `null`.
    pub fn new_version_id(&self) -> String {
        if self.versioning == Some(true) {
            uuid::Uuid::new_v4().simple().to_string()
        } else {
            "null".to_owned()
        }
    }

    /// Whether versioning was ever enabled (versions other than `null` may exist).
    pub fn versioned(&self) -> bool {
        self.versioning.is_some()
    }
}

/// One CORS rule of a bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct CorsRule {
    #[serde(default)]
    pub id: Option<String>,
    pub allowed_origins: Vec<String>,
    pub allowed_methods: Vec<String>,
    #[serde(default)]
    pub allowed_headers: Vec<String>,
    #[serde(default)]
    pub expose_headers: Vec<String>,
    #[serde(default)]
    pub max_age_seconds: Option<i32>,
}

impl CorsRule {
    /// Whether this rule allows `origin` to make a `method` request with `headers`.
    pub fn allows(&self, origin: &str, method: &str, headers: &[String]) -> bool {
        self.allowed_origins.iter().any(|o| wildcard(o, origin))
            && self.allowed_methods.iter().any(|m| m == method)
            && headers.iter().all(|h| {
                self.allowed_headers
                    .iter()
                    .any(|a| wildcard(&a.to_ascii_lowercase(), &h.to_ascii_lowercase()))
            })
    }
}

/// S3's CORS wildcards: at most one `*`, matching any run of characters.
fn wildcard(pattern: &str, value: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == value,
        Some((before, after)) => {
            value.len() >= before.len() + after.len()
                && value.starts_with(before)
                && value.ends_with(after)
        }
    }
}

/// Where a bucket's object events go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Notification {
    /// EventBridge notifications to the default bus of the bucket's region.
    #[serde(default)]
    pub eventbridge: bool,
    #[serde(default)]
    pub destinations: Vec<Destination>,
}

/// One classic notification configuration (queue, topic or function).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Destination {
    pub id: String,
    /// `queue`, `topic` or `function`.
    pub kind: DestinationKind,
    pub arn: String,
    /// `s3:ObjectCreated:*`, `s3:ObjectRemoved:Delete`, ...
    pub events: Vec<String>,
    #[serde(default)]
    pub prefix: Option<String>,
    #[serde(default)]
    pub suffix: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DestinationKind {
    Queue,
    Topic,
    Function,
}

/// The event types S3 notification configurations accept.
pub use eddy_model::names::S3_EVENT_TYPES as EVENT_TYPES;

impl Destination {
    /// Whether an event named `event` (`ObjectCreated:Put`) of `key` goes here.
    pub fn wants(&self, event: &str, key: &str) -> bool {
        let (group, _) = event.split_once(':').unwrap_or((event, ""));
        self.events.iter().any(|e| {
            let e = e.strip_prefix("s3:").unwrap_or(e);
            e == event || e.strip_suffix(":*").is_some_and(|g| g == group)
        }) && self
            .prefix
            .as_ref()
            .is_none_or(|p| key.starts_with(p.as_str()))
            && self
                .suffix
                .as_ref()
                .is_none_or(|s| key.ends_with(s.as_str()))
    }
}

/// Checks a bucket name against S3's rules for general purpose buckets
/// ([`eddy_model::names::bucket_name_problem`]).
pub fn check_bucket_name(name: &str) -> Result<(), BucketError> {
    match eddy_model::names::bucket_name_problem(name) {
        Some(_) => Err(BucketError::InvalidBucketName(name.to_owned())),
        None => Ok(()),
    }
}

/// Checks an object key: 1 to 1024 bytes of UTF-8 (the protocol layer has decoded it) with no
/// NUL. Keys are names, never paths: `../` is an ordinary part of a key (objects are stored in
/// blobs named by the store, not by their keys), so it is allowed as S3 allows it.
pub fn check_key(key: &str) -> Result<(), BucketError> {
    if key.is_empty() {
        return Err(BucketError::InvalidArgument(
            "Object key must not be empty".into(),
        ));
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(BucketError::KeyTooLong);
    }
    if key.contains('\0') {
        return Err(BucketError::InvalidArgument(
            "Object key must not contain NUL characters".into(),
        ));
    }
    Ok(())
}

/// Checks a tag set: keys 1..=128 and values 0..=256 characters, no duplicate keys, at most
/// `max` tags, no `aws:` prefix.
pub fn check_tags(tags: &[(String, String)], max: usize) -> Result<(), BucketError> {
    if tags.len() > max {
        return Err(BucketError::BadTags(
            "Object tags cannot be greater than 10".into(),
        ));
    }
    let mut seen = BTreeMap::new();
    for (k, v) in tags {
        if k.is_empty() || k.chars().count() > 128 {
            return Err(BucketError::InvalidTag(
                "The TagKey you have provided is invalid".into(),
            ));
        }
        if v.chars().count() > 256 {
            return Err(BucketError::InvalidTag(
                "The TagValue you have provided is invalid".into(),
            ));
        }
        if k.starts_with("aws:") {
            return Err(BucketError::InvalidTag(
                "Your TagKey cannot be prefixed with aws:".into(),
            ));
        }
        if seen.insert(k.as_str(), v.as_str()).is_some() {
            return Err(BucketError::InvalidTag(
                "Cannot provide multiple Tags with the same key".into(),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names_follow_s3s_rules() {
        for ok in ["abc", "my-bucket", "my.bucket.1", &"a".repeat(63), "1ab"] {
            assert!(check_bucket_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "ab",
            &"a".repeat(64),
            "My-Bucket",
            "-abc",
            "abc-",
            "a..b",
            "a.-b",
            "192.168.5.4",
            "xn--abc",
            "abc-s3alias",
            "a_b",
            "a b",
            "ab/",
        ] {
            assert!(check_bucket_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn keys_are_bounded_and_have_no_nul() {
        assert!(check_key("../../etc/passwd").is_ok());
        assert!(check_key(&"k".repeat(1024)).is_ok());
        assert!(matches!(
            check_key(&"k".repeat(1025)),
            Err(BucketError::KeyTooLong)
        ));
        assert!(check_key("a\0b").is_err());
        assert!(check_key("").is_err());
    }

    #[test]
    fn destinations_filter_on_event_prefix_and_suffix() {
        let d = Destination {
            id: "x".into(),
            kind: DestinationKind::Queue,
            arn: "arn:aws:sqs:us-east-1:000000000000:q".into(),
            events: vec!["s3:ObjectCreated:*".into()],
            prefix: Some("images/".into()),
            suffix: Some(".jpg".into()),
        };
        assert!(d.wants("ObjectCreated:Put", "images/a.jpg"));
        assert!(d.wants("ObjectCreated:CompleteMultipartUpload", "images/a.jpg"));
        assert!(!d.wants("ObjectRemoved:Delete", "images/a.jpg"));
        assert!(!d.wants("ObjectCreated:Put", "docs/a.jpg"));
        assert!(!d.wants("ObjectCreated:Put", "images/a.png"));
    }

    #[test]
    fn cors_wildcards() {
        let r = CorsRule {
            allowed_origins: vec!["https://*.example.com".into()],
            allowed_methods: vec!["PUT".into()],
            allowed_headers: vec!["*".into()],
            ..CorsRule::default()
        };
        assert!(r.allows("https://app.example.com", "PUT", &["content-type".into()]));
        assert!(!r.allows("https://evil.com", "PUT", &[]));
        assert!(!r.allows("https://app.example.com", "DELETE", &[]));
    }
}
