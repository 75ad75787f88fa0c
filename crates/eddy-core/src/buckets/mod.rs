//! Buckets: S3-shaped object storage whose changes are events.
//!
//! * [`definition`]: a bucket's definition (versioning, CORS, notifications, policy, tags) and
//!   what is valid in one;
//! * [`data`]: object bytes streamed into blobs (or kept inline when small) and back out;
//! * [`checksums`]: MD5 ETags and the additional checksums, for objects, parts and multipart
//!   uploads;
//! * [`objects`]: the object operations (put, get, copy, delete, list, versions, tags);
//! * [`multipart`]: multipart uploads;
//! * [`notify`]: object events (EventBridge's `Object Created`..., the classic S3 event records
//!   to queues, topics and functions), written atomically with the object change that caused
//!   them, and their delivery.
//!
//! Durability: an object's data is written to a blob and synced before the object index names
//! it; the index change and the object's events are one store transaction; an object answered
//! is therefore durable with its events, and a crash before leaves at most an orphaned blob,
//! which [`Buckets::sweep`] removes at start-up.

pub mod checksums;
pub mod data;
pub mod definition;
pub mod multipart;
pub mod notify;
pub mod objects;

use std::collections::BTreeMap;
use std::sync::Arc;

use eddy_store::{BlobStore, Definition, Store};
use serde::{Deserialize, Serialize};

use crate::clock::Clock;
use crate::core_error::CoreError;
use crate::follow::{Feed, Follow};
use crate::registry::Registry;

pub use checksums::Algorithm;
pub use definition::{BucketDef, CorsRule, Destination, DestinationKind, Notification};

/// Why a bucket operation refused, in S3's terms: each has S3's error code ([`BucketError::code`]).
#[derive(Debug, thiserror::Error)]
pub enum BucketError {
    #[error("The specified bucket does not exist")]
    NoSuchBucket(String),
    #[error("The specified bucket is not valid.")]
    InvalidBucketName(String),
    #[error("Your previous request to create the named bucket succeeded and you already own it.")]
    AlreadyOwnedByYou(String),
    #[error("The bucket you tried to delete is not empty")]
    NotEmpty(String),
    #[error("The specified key does not exist.")]
    NoSuchKey { key: String, delete_marker: bool },
    #[error("The specified version does not exist.")]
    NoSuchVersion { key: String, version_id: String },
    #[error("The specified method is not allowed against this resource.")]
    DeleteMarkerVersion,
    #[error(
        "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed."
    )]
    NoSuchUpload(String),
    #[error("Your key is too long")]
    KeyTooLong,
    #[error("{0}")]
    InvalidArgument(String),
    #[error("{0}")]
    InvalidRequest(String),
    #[error("{0}")]
    InvalidTag(String),
    #[error("{0}")]
    BadTags(String),
    #[error("The Content-MD5 you specified did not match what we received.")]
    BadDigest,
    #[error("The Content-MD5 you specified is not valid.")]
    InvalidDigest,
    #[error("The {0} you specified did not match the calculated checksum.")]
    ChecksumMismatch(String),
    #[error("The provided 'x-amz-content-sha256' header does not match what was computed.")]
    Sha256Mismatch,
    #[error("Your proposed upload exceeds the maximum allowed size")]
    TooLarge,
    #[error("Your proposed upload is smaller than the minimum allowed size")]
    TooSmall,
    #[error(
        "One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part's entity tag."
    )]
    InvalidPart,
    #[error("The list of parts was not in ascending order. Parts must be ordered by part number.")]
    InvalidPartOrder,
    #[error("At least one of the pre-conditions you specified did not hold")]
    PreconditionFailed,
    #[error("Not Modified")]
    NotModified,
    #[error("The requested range is not satisfiable")]
    InvalidRange(u64),
    #[error("The specified configuration does not exist")]
    NoSuchConfiguration(&'static str),
    #[error("{0}")]
    MalformedXml(String),
    #[error("The request body terminated unexpectedly: {0}")]
    Body(String),
    /// The store or the object data's disk cannot take the change right now (full, or out of
    /// reach): nothing was changed, and a retry later succeeds.
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    Internal(String),
    #[error(transparent)]
    Core(CoreError),
}

impl From<CoreError> for BucketError {
    fn from(e: CoreError) -> Self {
        match e {
            CoreError::Store(e) => e.into(),
            e => BucketError::Core(e),
        }
    }
}

impl BucketError {
    /// S3's error code.
    pub fn code(&self) -> &'static str {
        match self {
            BucketError::NoSuchBucket(_) => "NoSuchBucket",
            BucketError::InvalidBucketName(_) => "InvalidBucketName",
            BucketError::AlreadyOwnedByYou(_) => "BucketAlreadyOwnedByYou",
            BucketError::NotEmpty(_) => "BucketNotEmpty",
            BucketError::NoSuchKey { .. } => "NoSuchKey",
            BucketError::NoSuchVersion { .. } => "NoSuchVersion",
            BucketError::DeleteMarkerVersion => "MethodNotAllowed",
            BucketError::NoSuchUpload(_) => "NoSuchUpload",
            BucketError::KeyTooLong => "KeyTooLongError",
            BucketError::InvalidArgument(_) => "InvalidArgument",
            BucketError::InvalidRequest(_) => "InvalidRequest",
            BucketError::InvalidTag(_) => "InvalidTag",
            BucketError::BadTags(_) => "BadRequest",
            BucketError::BadDigest => "BadDigest",
            BucketError::InvalidDigest => "InvalidDigest",
            BucketError::ChecksumMismatch(_) => "BadDigest",
            BucketError::Sha256Mismatch => "XAmzContentSHA256Mismatch",
            BucketError::TooLarge => "EntityTooLarge",
            BucketError::TooSmall => "EntityTooSmall",
            BucketError::InvalidPart => "InvalidPart",
            BucketError::InvalidPartOrder => "InvalidPartOrder",
            BucketError::PreconditionFailed => "PreconditionFailed",
            BucketError::NotModified => "NotModified",
            BucketError::InvalidRange(_) => "InvalidRange",
            BucketError::NoSuchConfiguration(code) => code,
            BucketError::MalformedXml(_) => "MalformedXML",
            BucketError::Body(_) => "IncompleteBody",
            BucketError::Unavailable(_) => "ServiceUnavailable",
            BucketError::Internal(_) | BucketError::Core(_) => "InternalError",
        }
    }

    pub(crate) fn io(e: std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::StorageFull {
            return BucketError::Unavailable(
                "There is no space left for object data: nothing was changed. Retry later.".into(),
            );
        }
        BucketError::Internal(format!("object data could not be written or read: {e}"))
    }
}

impl From<eddy_store::StoreError> for BucketError {
    /// The store's refusals of a multipart upload's finish are races with another request, in
    /// S3's terms: the upload was completed or aborted meanwhile (`NoSuchUpload`), or a part it
    /// completes with was uploaded again meanwhile (`InvalidPart`). Any other store error is
    /// the core's own.
    fn from(e: eddy_store::StoreError) -> Self {
        match e {
            eddy_store::StoreError::UploadGone(upload_id) => BucketError::NoSuchUpload(upload_id),
            eddy_store::StoreError::PartReplaced { .. } => BucketError::InvalidPart,
            e @ eddy_store::StoreError::Full(_) => BucketError::Unavailable(e.to_string()),
            eddy_store::StoreError::Unavailable(_) => BucketError::Unavailable(
                "The service is unavailable for a moment: nothing was changed. Retry.".into(),
            ),
            e => BucketError::Core(CoreError::from(e)),
        }
    }
}

impl From<serde_json::Error> for BucketError {
    fn from(e: serde_json::Error) -> Self {
        BucketError::Core(CoreError::from(e))
    }
}

/// Who made a request, for the events it causes.
#[derive(Debug, Clone, Default)]
pub struct Requester {
    pub request_id: String,
    pub source_ip: String,
    /// The account or principal, as events name it.
    pub principal: String,
}

/// What an object carries besides its bytes (kept as the index record's `meta`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectMeta {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_encoding: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_disposition: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_language: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub website_redirect: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class: Option<String>,
    /// `x-amz-meta-*`, names lowercased.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub user: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<(String, String)>,
    /// The additional checksum (algorithm, base64) and its type (`FULL_OBJECT`, `COMPOSITE`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<(Algorithm, String)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum_type: Option<String>,
    /// The sizes of a multipart object's parts (empty for others).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<u64>,
}

/// The buckets' definitions, blobs and object index.
pub struct Buckets {
    pub(crate) defs: Registry<BucketDef>,
    pub(crate) blobs: Arc<dyn BlobStore>,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) clock: Clock,
}

impl Buckets {
    pub(crate) fn load(
        store: Arc<dyn Store>,
        feed: Arc<Feed>,
        definitions: &[Definition],
        clock: Clock,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            defs: Registry::load(store.clone(), feed, definitions)?,
            blobs: store.blob_store(),
            store,
            clock,
        })
    }

    pub fn get(&self, name: &str) -> Option<BucketDef> {
        self.defs.get(definition::NAMESPACE, name)
    }

    /// A bucket, or `NoSuchBucket`.
    pub fn need_bucket(&self, name: &str) -> Result<BucketDef, BucketError> {
        self.need(name)
    }

    pub(crate) fn need(&self, name: &str) -> Result<BucketDef, BucketError> {
        self.get(name)
            .ok_or_else(|| BucketError::NoSuchBucket(name.to_owned()))
    }

    /// Every bucket, by name.
    pub fn list(&self) -> Vec<BucketDef> {
        self.defs.list(definition::NAMESPACE)
    }

    /// Where object data lives.
    pub fn blobs(&self) -> &dyn BlobStore {
        &*self.blobs
    }

    /// Changes a bucket's definition with `change` (which may refuse).
    pub async fn update(
        &self,
        name: &str,
        change: impl FnOnce(&mut BucketDef) -> Result<(), BucketError>,
    ) -> Result<BucketDef, BucketError> {
        self.defs
            .upsert(definition::NAMESPACE, name, |current| {
                let mut def = current
                    .cloned()
                    .ok_or_else(|| BucketError::NoSuchBucket(name.to_owned()))?;
                change(&mut def)?;
                Ok((def.clone(), def))
            })
            .await
    }

    /// Creates a bucket in `region`; refuses an existing one.
    pub async fn create(&self, name: &str, region: &str) -> Result<BucketDef, BucketError> {
        definition::check_bucket_name(name)?;
        let now = self.clock.now_ms();
        self.defs
            .upsert(definition::NAMESPACE, name, |current| {
                if current.is_some() {
                    return Err(BucketError::AlreadyOwnedByYou(name.to_owned()));
                }
                let def = BucketDef {
                    name: name.to_owned(),
                    region: region.to_owned(),
                    created_ms: now,
                    versioning: None,
                    cors: None,
                    notification: Notification::default(),
                    policy: None,
                    tags: None,
                };
                Ok((def.clone(), def))
            })
            .await
    }

    /// Deletes an empty bucket.
    pub async fn delete(&self, name: &str) -> Result<(), BucketError> {
        self.need(name)?;
        if !self.store.bucket_is_empty(name.to_owned()).await? {
            return Err(BucketError::NotEmpty(name.to_owned()));
        }
        self.defs.delete(definition::NAMESPACE, name).await?;
        // Anything written meanwhile goes with the bucket.
        let freed = self.store.bucket_purge(name.to_owned()).await?;
        self.free(freed).await;
        Ok(())
    }

    /// Deletes blobs nothing refers to any more.
    pub(crate) async fn free(&self, ids: Vec<String>) {
        if ids.is_empty() {
            return;
        }
        self.blobs.delete(ids).await;
    }

    /// Removes blobs nothing refers to that were last changed before `before`: what a crash
    /// left between writing a blob and recording it. Answers how many it removed.
    pub async fn sweep(&self, before: std::time::SystemTime) -> Result<usize, BucketError> {
        let found = self.blobs.sweep(before).await.map_err(BucketError::io)?;
        let mut removed = 0;
        for batch in found.chunks(500) {
            let used = self.store.blobs_referenced(batch.to_vec()).await?;
            let orphans: Vec<String> = batch
                .iter()
                .filter(|id| !used.contains(id))
                .cloned()
                .collect();
            removed += orphans.len();
            self.free(orphans).await;
        }
        Ok(removed)
    }
}

impl Follow for Buckets {
    fn follow(&self, changes: &[eddy_store::DefinitionChange]) {
        self.defs.follow(changes);
    }

    fn reload(&self, definitions: &[Definition]) {
        self.defs.reload(definitions);
    }
}
