//! The object operations: put, get (ranges, conditions), head, copy, delete (versions and
//! delete markers), listings (latest versions with delimiters, all versions) and tags. Each
//! change is one store transaction with the events it causes ([`super::notify`]).

use eddy_store::{ObjectChange, ObjectQuery, ObjectRecord, ObjectWrite, VersionQuery};

use super::checksums::{Algorithm, Digests, Hashes};
use super::data::{self, ByteStream};
use super::definition::{MAX_OBJECT_TAGS, check_key, check_tags};
use super::notify::Change;
use super::{BucketError, ObjectMeta, Requester};
use crate::Core;

/// The largest object one PutObject writes (5 GiB, as S3).
pub const MAX_PUT: u64 = 5 * 1024 * 1024 * 1024;

/// A PutObject.
pub struct PutObject {
    pub bucket: String,
    pub key: String,
    pub meta: ObjectMeta,
    /// `Content-MD5`, decoded.
    pub content_md5: Option<Vec<u8>>,
    /// The additional checksum to compute, and the value the client sent (a header or, once
    /// the body has ended, a trailer) to check it against.
    pub checksum: Option<Algorithm>,
    pub expected_checksum: Option<Box<dyn FnOnce() -> Option<String> + Send>>,
    /// `x-amz-content-sha256` when it is a digest to verify.
    pub payload_sha256: Option<String>,
    /// `If-None-Match: *` (write only if no object has the key) and `If-Match` (only if the
    /// current ETag is this).
    pub if_none_match: bool,
    pub if_match: Option<String>,
}

/// What a write answers.
#[derive(Debug, Clone)]
pub struct Stored {
    pub etag: String,
    pub version_id: Option<String>,
    pub checksum: Option<(Algorithm, String)>,
    pub checksum_type: Option<String>,
    pub size: u64,
    pub modified_ms: i64,
}

/// An object found, with its metadata.
#[derive(Debug, Clone)]
pub struct Found {
    pub record: ObjectRecord,
    pub meta: ObjectMeta,
    /// The version id to show (`None` in a bucket that never had versioning).
    pub version_id: Option<String>,
}

/// GetObject's conditions.
#[derive(Debug, Clone, Default)]
pub struct Conditions {
    pub if_match: Option<String>,
    pub if_none_match: Option<String>,
    pub if_modified_since_ms: Option<i64>,
    pub if_unmodified_since_ms: Option<i64>,
}

/// A byte range as HTTP asks for it.
#[derive(Debug, Clone, Copy)]
pub enum Range {
    /// `bytes=first-[last]`
    From { first: u64, last: Option<u64> },
    /// `bytes=-suffix`
    Suffix(u64),
}

/// An object's bytes to send.
pub struct Reading {
    pub found: Found,
    /// `[start, end)` and the whole size, when a range was asked for.
    pub range: Option<(u64, u64)>,
    pub body: ByteStream,
}

/// One page of a listing.
#[derive(Debug, Clone, Default)]
pub struct Listing {
    pub objects: Vec<Found>,
    pub prefixes: Vec<String>,
    /// Where the next page starts (a key, or a common prefix's skip point).
    pub next: Option<String>,
    pub truncated: bool,
}

/// One page of a versions listing.
#[derive(Debug, Clone, Default)]
pub struct VersionListing {
    pub versions: Vec<Found>,
    pub prefixes: Vec<String>,
    pub next: Option<(String, String)>,
    pub truncated: bool,
}

/// What DeleteObject did.
#[derive(Debug, Clone, Default)]
pub struct Deleted {
    pub delete_marker: bool,
    pub version_id: Option<String>,
}

pub(crate) fn found(bucket_versioned: bool, record: ObjectRecord) -> Result<Found, BucketError> {
    let meta: ObjectMeta = serde_json::from_str(&record.meta).unwrap_or_default();
    let version_id =
        (bucket_versioned || record.version_id != "null").then(|| record.version_id.clone());
    Ok(Found {
        record,
        meta,
        version_id,
    })
}

/// `etag` compared to a condition's list of ETags (`*` matches any).
fn etag_matches(condition: &str, etag: &str) -> bool {
    condition
        .split(',')
        .map(str::trim)
        .any(|c| c == "*" || c.trim_start_matches("W/").trim_matches('"') == etag.trim_matches('"'))
}

/// The data of a new version: in blobs or inline, its size and ETag.
pub(crate) struct Data {
    pub blobs: Vec<eddy_store::BlobRef>,
    pub inline: Option<Vec<u8>>,
    pub size: u64,
    pub etag: String,
}

/// A new latest version of `key` in `bucket`, written at `now`, and what writing it answers.
pub(crate) fn new_version(
    bucket: &super::BucketDef,
    key: &str,
    data: Data,
    meta: &ObjectMeta,
    now: i64,
) -> Result<(ObjectRecord, Stored), BucketError> {
    let record = ObjectRecord {
        bucket: bucket.name.clone(),
        key: key.to_owned(),
        version_id: bucket.new_version_id(),
        seq: 0,
        latest: true,
        delete_marker: false,
        blobs: data.blobs,
        inline: data.inline,
        size: data.size,
        etag: data.etag,
        modified_ms: now,
        meta: serde_json::to_string(meta)?,
    };
    let stored = Stored {
        etag: record.etag.clone(),
        version_id: bucket.versioned().then(|| record.version_id.clone()),
        checksum: meta.checksum.clone(),
        checksum_type: meta.checksum_type.clone(),
        size: record.size,
        modified_ms: now,
    };
    Ok((record, stored))
}

impl Core {
    /// PutObject: the body is written and synced, then recorded with its events in one store
    /// transaction.
    pub async fn put_object(
        &self,
        put: PutObject,
        body: ByteStream,
        who: &Requester,
    ) -> Result<Stored, BucketError> {
        let bucket = self.buckets.need(&put.bucket)?;
        check_key(&put.key)?;
        check_tags(&put.meta.tags, MAX_OBJECT_TAGS)?;
        if put.if_none_match || put.if_match.is_some() {
            self.check_write_conditions(
                &put.bucket,
                &put.key,
                put.if_none_match,
                put.if_match.as_deref(),
            )
            .await?;
        }
        // Without a checksum asked for, S3 computes a CRC64NVME of every new object.
        let algorithm = put.checksum.unwrap_or(Algorithm::Crc64Nvme);
        let hashes = Hashes::new(Some(algorithm), put.payload_sha256.is_some());
        let (written, digests) =
            data::write(&*self.buckets.blobs, body, hashes, MAX_PUT, true).await?;
        if let Err(e) = verify(
            &put.content_md5,
            put.expected_checksum,
            &put.payload_sha256,
            &digests,
        ) {
            written.discard(&*self.buckets.blobs).await;
            return Err(e);
        }
        let mut meta = put.meta;
        meta.checksum = digests.checksum.clone();
        meta.checksum_type = Some("FULL_OBJECT".to_owned());
        let data = Data {
            blobs: written.blobs(),
            inline: written.inline(),
            size: digests.size,
            etag: digests.etag(),
        };
        let (record, stored) = new_version(&bucket, &put.key, data, &meta, self.clock.now_ms())?;
        let change = Change::created("Put", &record);
        if let Err(e) = self
            .write_objects(
                &bucket,
                vec![ObjectChange::Put(record)],
                None,
                vec![change],
                who,
            )
            .await
        {
            written.discard(&*self.buckets.blobs).await;
            return Err(e);
        }
        Ok(stored)
    }

    /// `If-None-Match: *` / `If-Match` on writes.
    pub(crate) async fn check_write_conditions(
        &self,
        bucket: &str,
        key: &str,
        if_none_match: bool,
        if_match: Option<&str>,
    ) -> Result<(), BucketError> {
        let current = self
            .buckets
            .store
            .object_get(bucket.to_owned(), key.to_owned(), None)
            .await?
            .filter(|r| !r.delete_marker);
        if if_none_match && current.is_some() {
            return Err(BucketError::PreconditionFailed);
        }
        if let Some(want) = if_match {
            match &current {
                Some(r) if etag_matches(want, &r.etag) => {}
                Some(_) => return Err(BucketError::PreconditionFailed),
                None => {
                    return Err(BucketError::NoSuchKey {
                        key: key.to_owned(),
                        delete_marker: false,
                    });
                }
            }
        }
        Ok(())
    }

    /// Commits object changes with their events; frees the blobs they released.
    pub(crate) async fn write_objects(
        &self,
        bucket: &super::BucketDef,
        changes: Vec<ObjectChange>,
        upload: Option<eddy_store::UploadChange>,
        events: Vec<Change>,
        who: &Requester,
    ) -> Result<(), BucketError> {
        let notices = self.bucket_events(bucket, &events, who)?;
        let append = notices.batch;
        let work = !append.work.is_empty();
        let freed = self
            .buckets
            .store
            .objects_write(ObjectWrite {
                changes,
                upload,
                append,
            })
            .await?;
        if work {
            self.bus.work_ready().notify_one();
        }
        for key in &notices.queues {
            self.queues.woke(key);
        }
        self.buckets.free(freed).await;
        Ok(())
    }

    /// One version of an object (the latest when `version_id` is `None`), refusing delete
    /// markers as S3 does.
    pub async fn head_object(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<Found, BucketError> {
        let def = self.buckets.need(bucket)?;
        let record = self
            .buckets
            .store
            .object_get(
                bucket.to_owned(),
                key.to_owned(),
                version_id.map(str::to_owned),
            )
            .await?;
        match record {
            None => Err(match version_id {
                Some(v) => BucketError::NoSuchVersion {
                    key: key.to_owned(),
                    version_id: v.to_owned(),
                },
                None => BucketError::NoSuchKey {
                    key: key.to_owned(),
                    delete_marker: false,
                },
            }),
            Some(r) if r.delete_marker => Err(if version_id.is_some() {
                BucketError::DeleteMarkerVersion
            } else {
                BucketError::NoSuchKey {
                    key: key.to_owned(),
                    delete_marker: true,
                }
            }),
            Some(r) => found(def.versioned(), r),
        }
    }

    /// GetObject: conditions checked, a range (or one part) read.
    pub async fn get_object(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        conditions: &Conditions,
        range: Option<Range>,
        part_number: Option<u32>,
    ) -> Result<Reading, BucketError> {
        let (found, range) = self
            .object_range(bucket, key, version_id, conditions, range, part_number)
            .await?;
        let (start, end) = range.unwrap_or((0, found.record.size));
        let body = data::read(
            &*self.buckets.blobs,
            found.record.inline.clone(),
            found.record.blobs.clone(),
            start,
            end,
        )
        .await?;
        Ok(Reading { found, range, body })
    }

    /// What GetObject would send (HeadObject): the object after its conditions, and the range
    /// `[start, end)` asked for, without reading any of it.
    pub async fn object_range(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        conditions: &Conditions,
        range: Option<Range>,
        part_number: Option<u32>,
    ) -> Result<(Found, Option<(u64, u64)>), BucketError> {
        let f = self.head_object(bucket, key, version_id).await?;
        check_read_conditions(&f.record, conditions)?;
        let size = f.record.size;
        let range = match (range, part_number) {
            (_, Some(n)) => {
                let sizes = if f.meta.parts.is_empty() {
                    vec![size]
                } else {
                    f.meta.parts.clone()
                };
                let i = n as usize;
                if n == 0 || i > sizes.len() {
                    return Err(BucketError::InvalidRange(size));
                }
                let start: u64 = sizes[..i - 1].iter().sum();
                Some((start, start + sizes[i - 1]))
            }
            (Some(r), None) => Some(resolve_range(r, size)?),
            (None, None) => None,
        };
        Ok((f, range))
    }

    /// CopyObject: the source's data shared (blobs are immutable), metadata copied or
    /// replaced.
    #[allow(clippy::too_many_arguments)]
    pub async fn copy_object(
        &self,
        source: (&str, &str, Option<&str>),
        bucket: &str,
        key: &str,
        replace_meta: Option<ObjectMeta>,
        replace_tags: Option<Vec<(String, String)>>,
        conditions: &Conditions,
        who: &Requester,
    ) -> Result<(Stored, Option<String>), BucketError> {
        let dest = self.buckets.need(bucket)?;
        check_key(key)?;
        let src = self.head_object(source.0, source.1, source.2).await?;
        check_read_conditions(&src.record, conditions).map_err(|e| match e {
            BucketError::NotModified => BucketError::PreconditionFailed,
            e => e,
        })?;
        if source.0 == bucket
            && source.1 == key
            && source.2.is_none_or(|v| v == src.record.version_id)
            && replace_meta.is_none()
            && replace_tags.is_none()
        {
            return Err(BucketError::InvalidRequest(
                "This copy request is illegal because it is trying to copy an object to itself \
                 without changing the object's metadata, storage class, website redirect \
                 location or encryption attributes."
                    .into(),
            ));
        }
        let mut meta = match replace_meta {
            Some(mut m) => {
                m.checksum = src.meta.checksum.clone();
                m.checksum_type = src.meta.checksum_type.clone();
                m.parts = src.meta.parts.clone();
                m.tags = src.meta.tags.clone();
                m
            }
            None => src.meta.clone(),
        };
        if let Some(tags) = replace_tags {
            check_tags(&tags, MAX_OBJECT_TAGS)?;
            meta.tags = tags;
        }
        let mut copied = Vec::with_capacity(src.record.blobs.len());
        for b in &src.record.blobs {
            match self.buckets.blobs.copy(b.id.clone()).await {
                Ok(c) => copied.push(c),
                Err(e) => {
                    self.buckets
                        .free(copied.into_iter().map(|c| c.id).collect())
                        .await;
                    return Err(BucketError::io(e));
                }
            }
        }
        let data = Data {
            blobs: copied.clone(),
            inline: src.record.inline.clone(),
            size: src.record.size,
            etag: src.record.etag.clone(),
        };
        let (record, stored) = new_version(&dest, key, data, &meta, self.clock.now_ms())?;
        let change = Change::created("Copy", &record);
        if let Err(e) = self
            .write_objects(
                &dest,
                vec![ObjectChange::Put(record)],
                None,
                vec![change],
                who,
            )
            .await
        {
            self.buckets
                .free(copied.into_iter().map(|b| b.id).collect())
                .await;
            return Err(e);
        }
        Ok((stored, src.version_id))
    }

    /// DeleteObject: a version removed, or a delete marker written (versioned buckets).
    pub async fn delete_object(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        who: &Requester,
    ) -> Result<Deleted, BucketError> {
        let def = self.buckets.need(bucket)?;
        let store = &self.buckets.store;
        if let Some(v) = version_id {
            let existing = store
                .object_get(bucket.to_owned(), key.to_owned(), Some(v.to_owned()))
                .await?;
            let Some(existing) = existing else {
                // Deleting a version that does not exist succeeds (S3 answers 204).
                return Ok(Deleted {
                    delete_marker: false,
                    version_id: Some(v.to_owned()),
                });
            };
            let change = Change::removed("Delete", &existing);
            self.write_objects(
                &def,
                vec![ObjectChange::Delete {
                    bucket: bucket.to_owned(),
                    key: key.to_owned(),
                    version_id: v.to_owned(),
                }],
                None,
                vec![change],
                who,
            )
            .await?;
            return Ok(Deleted {
                delete_marker: existing.delete_marker,
                version_id: Some(v.to_owned()),
            });
        }
        if !def.versioned() {
            let existing = store
                .object_get(bucket.to_owned(), key.to_owned(), Some("null".to_owned()))
                .await?;
            if let Some(existing) = existing {
                let change = Change::removed("Delete", &existing);
                self.write_objects(
                    &def,
                    vec![ObjectChange::Delete {
                        bucket: bucket.to_owned(),
                        key: key.to_owned(),
                        version_id: "null".to_owned(),
                    }],
                    None,
                    vec![change],
                    who,
                )
                .await?;
            }
            return Ok(Deleted::default());
        }
        let marker = ObjectRecord {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            version_id: def.new_version_id(),
            seq: 0,
            latest: true,
            delete_marker: true,
            blobs: Vec::new(),
            inline: None,
            size: 0,
            etag: String::new(),
            modified_ms: self.clock.now_ms(),
            meta: "{}".to_owned(),
        };
        let vid = marker.version_id.clone();
        let change = Change::removed("DeleteMarkerCreated", &marker);
        self.write_objects(
            &def,
            vec![ObjectChange::Put(marker)],
            None,
            vec![change],
            who,
        )
        .await?;
        Ok(Deleted {
            delete_marker: true,
            version_id: Some(vid),
        })
    }

    /// ListObjects(V2): latest versions under `prefix` after `after`, with keys grouped into
    /// common prefixes at `delimiter`; at most `max` entries (objects and prefixes).
    pub async fn list_objects(
        &self,
        bucket: &str,
        prefix: &str,
        delimiter: Option<&str>,
        after: Option<String>,
        max: usize,
    ) -> Result<Listing, BucketError> {
        let def = self.buckets.need(bucket)?;
        let mut out = Listing::default();
        let mut cursor = after;
        let delimiter = delimiter.filter(|d| !d.is_empty());
        if max == 0 {
            return Ok(out);
        }
        let limit = (max + 1).min(1001);
        loop {
            let page = self
                .buckets
                .store
                .objects_list(ObjectQuery {
                    bucket: bucket.to_owned(),
                    prefix: prefix.to_owned(),
                    after: cursor.clone(),
                    limit,
                })
                .await?;
            let exhausted = page.len() < limit;
            let mut skipped = false;
            for r in page {
                if out.objects.len() + out.prefixes.len() >= max {
                    out.truncated = true;
                    return Ok(out);
                }
                if let Some(cp) = common_prefix(&r.key, prefix, delimiter) {
                    let skip = past(&cp);
                    out.next = Some(skip.clone());
                    out.prefixes.push(cp);
                    cursor = Some(skip);
                    skipped = true;
                    break;
                }
                out.next = Some(r.key.clone());
                cursor = Some(r.key.clone());
                out.objects.push(found(def.versioned(), r)?);
            }
            if !skipped && exhausted {
                out.next = None;
                return Ok(out);
            }
        }
    }

    /// ListObjectVersions: every version and delete marker under `prefix`, newest first per
    /// key, after `(key, version id)`.
    pub async fn list_versions(
        &self,
        bucket: &str,
        prefix: &str,
        delimiter: Option<&str>,
        after: Option<(String, Option<String>)>,
        max: usize,
    ) -> Result<VersionListing, BucketError> {
        let def = self.buckets.need(bucket)?;
        let store = &self.buckets.store;
        let mut out = VersionListing::default();
        let delimiter = delimiter.filter(|d| !d.is_empty());
        let mut cursor = match after {
            None => None,
            Some((key, None)) => Some((key, i64::MIN)),
            Some((key, Some(v))) => {
                let seq = store
                    .object_get(bucket.to_owned(), key.clone(), Some(v))
                    .await?
                    .map_or(i64::MAX, |r| r.seq);
                Some((key, seq))
            }
        };
        if max == 0 {
            return Ok(out);
        }
        let limit = (max + 1).min(1001);
        loop {
            let page = store
                .object_versions(VersionQuery {
                    bucket: bucket.to_owned(),
                    prefix: prefix.to_owned(),
                    after: cursor.clone(),
                    limit,
                })
                .await?;
            let exhausted = page.len() < limit;
            let mut skipped = false;
            for r in page {
                if out.versions.len() + out.prefixes.len() >= max {
                    out.truncated = true;
                    return Ok(out);
                }
                if let Some(cp) = common_prefix(&r.key, prefix, delimiter) {
                    let skip = past(&cp);
                    out.prefixes.push(cp);
                    cursor = Some((skip.clone(), i64::MIN));
                    out.next = Some((skip, String::new()));
                    skipped = true;
                    break;
                }
                cursor = Some((r.key.clone(), r.seq));
                out.next = Some((r.key.clone(), r.version_id.clone()));
                let mut f = found(true, r)?;
                if !def.versioned() {
                    f.version_id = Some("null".to_owned());
                }
                out.versions.push(f);
            }
            if !skipped && exhausted {
                out.next = None;
                return Ok(out);
            }
        }
    }

    /// Replaces (or with `None` removes) an object version's tags.
    pub async fn put_object_tags(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        tags: Option<Vec<(String, String)>>,
        who: &Requester,
    ) -> Result<Option<String>, BucketError> {
        let def = self.buckets.need(bucket)?;
        if let Some(t) = &tags {
            check_tags(t, MAX_OBJECT_TAGS)?;
        }
        let f = self.head_object(bucket, key, version_id).await?;
        let mut meta = f.meta.clone();
        let event = if tags.is_some() { "Put" } else { "Delete" };
        meta.tags = tags.unwrap_or_default();
        let change = Change::tagged(event, &f.record);
        self.write_objects(
            &def,
            vec![ObjectChange::Meta {
                bucket: bucket.to_owned(),
                key: key.to_owned(),
                version_id: f.record.version_id.clone(),
                meta: serde_json::to_string(&meta)?,
            }],
            None,
            vec![change],
            who,
        )
        .await?;
        Ok(f.version_id)
    }
}

/// Checks the client's digests against what was computed.
pub(crate) fn verify(
    content_md5: &Option<Vec<u8>>,
    expected_checksum: Option<Box<dyn FnOnce() -> Option<String> + Send>>,
    payload_sha256: &Option<String>,
    digests: &Digests,
) -> Result<(), BucketError> {
    if let Some(md5) = content_md5 {
        if md5.len() != 16 {
            return Err(BucketError::InvalidDigest);
        }
        if md5[..] != digests.md5[..] {
            return Err(BucketError::BadDigest);
        }
    }
    if let (Some(want), Some(got)) = (payload_sha256, &digests.sha256_hex)
        && !want.eq_ignore_ascii_case(got)
    {
        return Err(BucketError::Sha256Mismatch);
    }
    if let Some(expected) = expected_checksum.and_then(|f| f())
        && let Some((a, got)) = &digests.checksum
        && &expected != got
    {
        return Err(BucketError::ChecksumMismatch(format!(
            "{} checksum",
            a.name()
        )));
    }
    Ok(())
}

fn check_read_conditions(r: &ObjectRecord, c: &Conditions) -> Result<(), BucketError> {
    let modified_s = r.modified_ms / 1000;
    if let Some(m) = &c.if_match {
        if !etag_matches(m, &r.etag) {
            return Err(BucketError::PreconditionFailed);
        }
    } else if let Some(t) = c.if_unmodified_since_ms
        && modified_s > t / 1000
    {
        return Err(BucketError::PreconditionFailed);
    }
    if let Some(m) = &c.if_none_match {
        if etag_matches(m, &r.etag) {
            return Err(BucketError::NotModified);
        }
    } else if let Some(t) = c.if_modified_since_ms
        && modified_s <= t / 1000
    {
        return Err(BucketError::NotModified);
    }
    Ok(())
}

/// A range resolved against an object of `size` bytes: `[start, end)`.
fn resolve_range(r: Range, size: u64) -> Result<(u64, u64), BucketError> {
    match r {
        Range::From { first, last } => {
            if first >= size {
                return Err(BucketError::InvalidRange(size));
            }
            let end = last.map_or(size, |l| (l + 1).min(size));
            if end <= first {
                return Err(BucketError::InvalidRange(size));
            }
            Ok((first, end))
        }
        Range::Suffix(n) => {
            if n == 0 {
                return Err(BucketError::InvalidRange(size));
            }
            Ok((size.saturating_sub(n), size))
        }
    }
}

/// The common prefix `key` rolls up into: `prefix` and what follows it up to and including the
/// first `delimiter`, if the rest of the key holds one.
fn common_prefix(key: &str, prefix: &str, delimiter: Option<&str>) -> Option<String> {
    let d = delimiter?;
    let i = key[prefix.len()..].find(d)?;
    Some(key[..prefix.len() + i + d.len()].to_owned())
}

/// A cursor after every key that starts with `prefix` (keys are at most 1024 bytes, so enough
/// U+10FFFF characters, the greatest in byte order, pass them all).
fn past(prefix: &str) -> String {
    let mut s = prefix.to_owned();
    while s.len() <= super::definition::MAX_KEY_BYTES {
        s.push(char::MAX);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_resolve_as_http_says() {
        let from = |first, last| Range::From { first, last };
        assert_eq!(resolve_range(from(0, Some(9)), 100).unwrap(), (0, 10));
        assert_eq!(resolve_range(from(90, None), 100).unwrap(), (90, 100));
        assert_eq!(resolve_range(from(90, Some(500)), 100).unwrap(), (90, 100));
        assert_eq!(resolve_range(Range::Suffix(10), 100).unwrap(), (90, 100));
        assert_eq!(resolve_range(Range::Suffix(500), 100).unwrap(), (0, 100));
        assert!(resolve_range(from(100, None), 100).is_err());
        assert!(resolve_range(Range::Suffix(0), 100).is_err());
    }

    #[test]
    fn keys_roll_up_at_the_first_delimiter_after_the_prefix() {
        assert_eq!(common_prefix("a/b/c", "", Some("/")).as_deref(), Some("a/"));
        assert_eq!(
            common_prefix("a/b/c", "a/", Some("/")).as_deref(),
            Some("a/b/")
        );
        assert_eq!(common_prefix("a/b", "a/", Some("/")), None);
        assert_eq!(common_prefix("a/b", "", None), None);
        assert_eq!(
            common_prefix("x--y--z", "x", Some("--")).as_deref(),
            Some("x--")
        );
    }

    #[test]
    fn etag_conditions() {
        assert!(etag_matches("\"abc\"", "\"abc\""));
        assert!(etag_matches("abc", "\"abc\""));
        assert!(etag_matches("\"x\", \"abc\"", "\"abc\""));
        assert!(etag_matches("*", "\"abc\""));
        assert!(!etag_matches("\"x\"", "\"abc\""));
    }
}
