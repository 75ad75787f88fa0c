//! Multipart uploads: create, upload (or copy) parts, list, complete, abort. Parts are blobs of
//! their own; completing makes the object own the parts' blobs in order (no copy), so a 1 GiB
//! upload is written once.

use eddy_store::{ObjectChange, ObjectRecord, PartRecord, UploadChange, UploadRecord};
use serde::{Deserialize, Serialize};

use super::checksums::{self, Algorithm, Hashes};
use super::data::{self, ByteStream};
use super::definition::{MAX_OBJECT_TAGS, check_key, check_tags};
use super::notify::Change;
use super::objects::{Data, MAX_PUT, Range, Stored, new_version, verify};
use super::{BucketError, ObjectMeta, Requester};
use crate::Core;

/// The smallest part but the last (5 MiB).
pub const MIN_PART: u64 = 5 * 1024 * 1024;
/// Part numbers run from 1 to this.
pub const MAX_PARTS: u32 = 10_000;
/// How many times a completion reads and checks its parts when a part it keeps is uploaded
/// again while it completes (see [`Core::complete_upload`]).
pub const COMPLETE_ATTEMPTS: u32 = 3;

/// What an upload keeps until it completes.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct UploadMeta {
    pub object: ObjectMeta,
    #[serde(default)]
    pub algorithm: Option<Algorithm>,
    /// `COMPOSITE` or `FULL_OBJECT`.
    #[serde(default)]
    pub checksum_type: Option<String>,
}

/// What a part keeps.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PartMeta {
    #[serde(default)]
    pub checksum: Option<(Algorithm, String)>,
}

/// A part as CompleteMultipartUpload names it.
#[derive(Debug, Clone)]
pub struct CompletedPart {
    pub number: u32,
    pub etag: String,
    pub checksum: Option<String>,
}

/// A part's upload (UploadPart).
pub struct PartUpload {
    pub bucket: String,
    pub key: String,
    pub upload_id: String,
    pub number: u32,
    pub content_md5: Option<Vec<u8>>,
    pub checksum: Option<Algorithm>,
    pub expected_checksum: Option<Box<dyn FnOnce() -> Option<String> + Send>>,
    pub payload_sha256: Option<String>,
}

impl Core {
    /// CreateMultipartUpload: answers the upload id.
    pub async fn create_upload(
        &self,
        bucket: &str,
        key: &str,
        object: ObjectMeta,
        algorithm: Option<Algorithm>,
        checksum_type: Option<String>,
    ) -> Result<String, BucketError> {
        self.buckets.need(bucket)?;
        check_key(key)?;
        check_tags(&object.tags, MAX_OBJECT_TAGS)?;
        let checksum_type = match (algorithm, checksum_type.as_deref()) {
            (_, Some(t)) if t != "COMPOSITE" && t != "FULL_OBJECT" => {
                return Err(BucketError::InvalidRequest(format!(
                    "Value for x-amz-checksum-type header is invalid: {t}"
                )));
            }
            (None, Some(_)) => {
                return Err(BucketError::InvalidRequest(
                    "The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header."
                        .into(),
                ));
            }
            (Some(Algorithm::Crc64Nvme), Some("COMPOSITE")) => {
                return Err(BucketError::InvalidRequest(
                    "The COMPOSITE checksum type is not supported for CRC64NVME".into(),
                ));
            }
            (Some(a), Some("FULL_OBJECT")) if !a.is_crc() => {
                return Err(BucketError::InvalidRequest(format!(
                    "The FULL_OBJECT checksum type is not supported for {}",
                    a.name()
                )));
            }
            (Some(Algorithm::Crc64Nvme), None) => Some("FULL_OBJECT".to_owned()),
            (Some(_), None) => Some("COMPOSITE".to_owned()),
            (_, t) => t.map(str::to_owned),
        };
        let upload_id = format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        let meta = UploadMeta {
            object,
            algorithm,
            checksum_type,
        };
        self.buckets
            .store
            .upload_create(UploadRecord {
                upload_id: upload_id.clone(),
                bucket: bucket.to_owned(),
                key: key.to_owned(),
                initiated_ms: self.clock.now_ms(),
                meta: serde_json::to_string(&meta)?,
            })
            .await?;
        Ok(upload_id)
    }

    /// The upload `upload_id` of `bucket`/`key`.
    pub async fn upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<(UploadRecord, UploadMeta), BucketError> {
        self.buckets.need(bucket)?;
        match self.buckets.store.upload_get(upload_id.to_owned()).await? {
            Some(u) if u.bucket == bucket && u.key == key => {
                let meta = serde_json::from_str(&u.meta).unwrap_or_default();
                Ok((u, meta))
            }
            _ => Err(BucketError::NoSuchUpload(upload_id.to_owned())),
        }
    }

    /// UploadPart: the part's data to a blob, recorded (replacing a part of that number).
    pub async fn upload_part(
        &self,
        part: PartUpload,
        body: ByteStream,
    ) -> Result<(String, Option<(Algorithm, String)>), BucketError> {
        if !(1..=MAX_PARTS).contains(&part.number) {
            return Err(BucketError::InvalidArgument(
                "Part number must be an integer between 1 and 10000, inclusive".into(),
            ));
        }
        let (_, meta) = self
            .upload(&part.bucket, &part.key, &part.upload_id)
            .await?;
        let algorithm = part.checksum.or(meta.algorithm);
        let hashes = Hashes::new(algorithm, part.payload_sha256.is_some());
        let (written, digests) =
            data::write(&*self.buckets.blobs, body, hashes, MAX_PUT, false).await?;
        if let Err(e) = verify(
            &part.content_md5,
            part.expected_checksum,
            &part.payload_sha256,
            &digests,
        ) {
            written.discard(&*self.buckets.blobs).await;
            return Err(e);
        }
        self.record_part(&part.upload_id, part.number, written, &digests)
            .await?;
        Ok((digests.etag(), digests.checksum))
    }

    /// UploadPartCopy: a range of an object copied into a part.
    #[allow(clippy::too_many_arguments)]
    pub async fn upload_part_copy(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        number: u32,
        source: (&str, &str, Option<&str>),
        range: Option<(u64, u64)>,
        conditions: &super::objects::Conditions,
    ) -> Result<(String, i64, Option<String>), BucketError> {
        if !(1..=MAX_PARTS).contains(&number) {
            return Err(BucketError::InvalidArgument(
                "Part number must be an integer between 1 and 10000, inclusive".into(),
            ));
        }
        let (_, meta) = self.upload(bucket, key, upload_id).await?;
        let reading = self
            .get_object(
                source.0,
                source.1,
                source.2,
                conditions,
                range.map(|(first, last)| Range::From {
                    first,
                    last: Some(last),
                }),
                None,
            )
            .await
            .map_err(|e| match e {
                BucketError::NotModified => BucketError::PreconditionFailed,
                e => e,
            })?;
        let hashes = Hashes::new(meta.algorithm, false);
        let (written, digests) =
            data::write(&*self.buckets.blobs, reading.body, hashes, MAX_PUT, false).await?;
        self.record_part(upload_id, number, written, &digests)
            .await?;
        Ok((
            digests.etag(),
            self.clock.now_ms(),
            reading.found.version_id,
        ))
    }

    async fn record_part(
        &self,
        upload_id: &str,
        number: u32,
        written: data::Written,
        digests: &checksums::Digests,
    ) -> Result<(), BucketError> {
        let blob = match &written {
            data::Written::Blob(b) => b.clone(),
            data::Written::Inline(_) => {
                return Err(BucketError::Internal(
                    "a part was not written to a blob".into(),
                ));
            }
        };
        let record = PartRecord {
            upload_id: upload_id.to_owned(),
            part_number: number,
            blob,
            etag: digests.etag(),
            modified_ms: self.clock.now_ms(),
            meta: serde_json::to_string(&PartMeta {
                checksum: digests.checksum.clone(),
            })?,
        };
        match self.buckets.store.upload_part_put(record).await {
            Ok(Some(freed)) => {
                self.buckets.free(freed).await;
                Ok(())
            }
            Ok(None) => {
                written.discard(&*self.buckets.blobs).await;
                Err(BucketError::NoSuchUpload(upload_id.to_owned()))
            }
            Err(e) => {
                written.discard(&*self.buckets.blobs).await;
                Err(e.into())
            }
        }
    }

    /// An upload's parts after `after`, at most `max`.
    pub async fn list_parts(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        after: u32,
        max: usize,
    ) -> Result<(UploadRecord, UploadMeta, Vec<(PartRecord, PartMeta)>, bool), BucketError> {
        let (u, meta) = self.upload(bucket, key, upload_id).await?;
        let mut parts = self
            .buckets
            .store
            .upload_parts(upload_id.to_owned(), after, max + 1)
            .await?;
        let truncated = parts.len() > max;
        parts.truncate(max);
        let parts = parts
            .into_iter()
            .map(|p| {
                let m = serde_json::from_str(&p.meta).unwrap_or_default();
                (p, m)
            })
            .collect();
        Ok((u, meta, parts, truncated))
    }

    /// A bucket's uploads in progress.
    pub async fn list_uploads(
        &self,
        bucket: &str,
        prefix: &str,
        after: Option<(String, String)>,
        max: usize,
    ) -> Result<(Vec<UploadRecord>, bool), BucketError> {
        self.buckets.need(bucket)?;
        let mut uploads = self
            .buckets
            .store
            .uploads_list(bucket.to_owned(), prefix.to_owned(), after, max + 1)
            .await?;
        let truncated = uploads.len() > max;
        uploads.truncate(max);
        Ok((uploads, truncated))
    }

    /// AbortMultipartUpload. An upload completed or aborted by another request meanwhile (the
    /// store refuses to finish it twice) is `NoSuchUpload`, as one gone before.
    pub async fn abort_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<(), BucketError> {
        let def = self.buckets.need(bucket)?;
        self.upload(bucket, key, upload_id).await?;
        self.write_objects(
            &def,
            Vec::new(),
            Some(UploadChange::Finish {
                upload_id: upload_id.to_owned(),
                keep: Vec::new(),
            }),
            Vec::new(),
            &Requester::default(),
        )
        .await
    }

    /// CompleteMultipartUpload: the named parts, in order, become the object.
    ///
    /// The parts are read, checked and then kept by the write that makes the object, which the
    /// store refuses when the upload changed in between (see `UploadChange::Finish`): completed
    /// or aborted by another request, `NoSuchUpload`; a part it keeps uploaded again, the parts
    /// are read and checked again (the new part may carry the ETag named), up to
    /// [`COMPLETE_ATTEMPTS`] times, then `InvalidPart`. The object never names a blob that the
    /// racing request freed.
    pub async fn complete_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        parts: Vec<CompletedPart>,
        who: &Requester,
    ) -> Result<Stored, BucketError> {
        let def = self.buckets.need(bucket)?;
        let (_, meta) = self.upload(bucket, key, upload_id).await?;
        if parts.is_empty() {
            return Err(BucketError::MalformedXml(
                "The XML you provided was not well-formed or did not validate against our published schema"
                    .into(),
            ));
        }
        if parts.windows(2).any(|w| w[0].number >= w[1].number) {
            return Err(BucketError::InvalidPartOrder);
        }
        let mut attempt = 1;
        loop {
            if attempt > 1 {
                // Gone since the refusal (its parts with it): `NoSuchUpload`, not `InvalidPart`.
                self.upload(bucket, key, upload_id).await?;
            }
            let (record, answer) = self.completion(&def, key, upload_id, &meta, &parts).await?;
            let keep = record.blobs.iter().map(|b| b.id.clone()).collect();
            let change = Change::created("CompleteMultipartUpload", &record);
            let written = self
                .write_objects(
                    &def,
                    vec![ObjectChange::Put(record)],
                    Some(UploadChange::Finish {
                        upload_id: upload_id.to_owned(),
                        keep,
                    }),
                    vec![change],
                    who,
                )
                .await;
            match written {
                Ok(()) => return Ok(answer),
                // Only the store's refusal (`PartReplaced`) is `InvalidPart` here: the parts
                // named were checked above.
                Err(BucketError::InvalidPart) if attempt < COMPLETE_ATTEMPTS => attempt += 1,
                Err(e) => return Err(e),
            }
        }
    }

    /// The object a completion makes of the upload's parts as they are now, and its answer:
    /// the parts named, checked against those stored (number, ETag, size, checksum).
    async fn completion(
        &self,
        def: &super::BucketDef,
        key: &str,
        upload_id: &str,
        meta: &UploadMeta,
        parts: &[CompletedPart],
    ) -> Result<(ObjectRecord, Stored), BucketError> {
        let mut stored = Vec::new();
        let mut after = 0;
        loop {
            let page = self
                .buckets
                .store
                .upload_parts(upload_id.to_owned(), after, 1000)
                .await?;
            let done = page.len() < 1000;
            if let Some(last) = page.last() {
                after = last.part_number;
            }
            stored.extend(page);
            if done {
                break;
            }
        }
        let mut chosen = Vec::with_capacity(parts.len());
        for (i, want) in parts.iter().enumerate() {
            let Some(p) = stored.iter().find(|p| p.part_number == want.number) else {
                // The parts went with the upload when another request finished it meanwhile.
                if self
                    .buckets
                    .store
                    .upload_get(upload_id.to_owned())
                    .await?
                    .is_none()
                {
                    return Err(BucketError::NoSuchUpload(upload_id.to_owned()));
                }
                return Err(BucketError::InvalidPart);
            };
            if p.etag.trim_matches('"') != want.etag.trim_matches('"') {
                return Err(BucketError::InvalidPart);
            }
            if i + 1 < parts.len() && p.blob.size < MIN_PART {
                return Err(BucketError::TooSmall);
            }
            let pm: PartMeta = serde_json::from_str(&p.meta).unwrap_or_default();
            if let (Some(given), Some((_, have))) = (&want.checksum, &pm.checksum)
                && given != have
            {
                return Err(BucketError::InvalidPart);
            }
            chosen.push((p.clone(), pm));
        }
        let etags: Vec<String> = chosen.iter().map(|(p, _)| p.etag.clone()).collect();
        let etag = checksums::multipart_etag(&etags);
        let mut object = meta.object.clone();
        if let Some(a) = meta.algorithm {
            let sums: Option<Vec<(String, u64)>> = chosen
                .iter()
                .map(|(p, m)| m.checksum.as_ref().map(|(_, c)| (c.clone(), p.blob.size)))
                .collect();
            let full = meta.checksum_type.as_deref() == Some("FULL_OBJECT");
            object.checksum = sums
                .and_then(|s| checksums::multipart_checksum(a, &s, full))
                .map(|c| (a, c));
            object.checksum_type = meta.checksum_type.clone();
        }
        object.parts = chosen.iter().map(|(p, _)| p.blob.size).collect();
        let blobs: Vec<_> = chosen.into_iter().map(|(p, _)| p.blob).collect();
        let size = blobs.iter().map(|b| b.size).sum();
        let now = self.clock.now_ms();
        let data = Data {
            blobs,
            inline: None,
            size,
            etag,
        };
        new_version(def, key, data, &object, now)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use bytes::Bytes;
    use futures_util::StreamExt;

    use super::*;
    use crate::buckets::objects::Conditions;

    async fn core(dir: &std::path::Path) -> Arc<Core> {
        let core = Core::open(
            crate::config::ServerConfig::new(dir),
            crate::clock::Clock::system(),
            Box::new(|_| Ok(Vec::new())),
        )
        .await
        .expect("open");
        core.buckets
            .create("bkt", "us-east-1")
            .await
            .expect("bucket");
        core
    }

    fn body(data: &'static [u8]) -> ByteStream {
        Box::pin(futures_util::stream::iter([Ok(Bytes::from_static(data))]))
    }

    async fn put_part(
        core: &Core,
        upload_id: &str,
        data: &'static [u8],
    ) -> Result<String, BucketError> {
        let part = PartUpload {
            bucket: "bkt".into(),
            key: "k".into(),
            upload_id: upload_id.into(),
            number: 1,
            content_md5: None,
            checksum: None,
            expected_checksum: None,
            payload_sha256: None,
        };
        Ok(core.upload_part(part, body(data)).await?.0)
    }

    async fn complete(core: &Core, upload_id: &str, etag: &str) -> Result<Stored, BucketError> {
        let parts = vec![CompletedPart {
            number: 1,
            etag: etag.to_owned(),
            checksum: None,
        }];
        core.complete_upload("bkt", "k", upload_id, parts, &Requester::default())
            .await
    }

    /// The object's bytes, read back whole (its blobs are all there).
    async fn read(core: &Core) -> Vec<u8> {
        let reading = core
            .get_object("bkt", "k", None, &Conditions::default(), None, None)
            .await
            .expect("get");
        let mut body = reading.body;
        let mut data = Vec::new();
        while let Some(chunk) = body.next().await {
            data.extend_from_slice(&chunk.expect("the object's data is there"));
        }
        data
    }

    fn gone(r: &Result<impl std::fmt::Debug, BucketError>) -> bool {
        matches!(r, Err(BucketError::NoSuchUpload(_)))
    }

    /// The store's refusals of a finish are S3's answers to a race, never an internal error.
    #[test]
    fn a_finish_refused_by_the_store_is_s3s_answer() {
        let e = BucketError::from(eddy_store::StoreError::UploadGone("u".into()));
        assert!(matches!(&e, BucketError::NoSuchUpload(u) if u == "u"));
        assert_eq!(e.code(), "NoSuchUpload");
        let e = BucketError::from(eddy_store::StoreError::PartReplaced {
            upload_id: "u".into(),
            blobs: vec!["b".into()],
        });
        assert_eq!(e.code(), "InvalidPart");
    }

    /// Two completions and an abort of one upload at once: exactly one of them wins, the
    /// others answer `NoSuchUpload`, and a completed object's data is all there.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn racing_completions_and_aborts_finish_an_upload_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let core = core(dir.path()).await;
        for round in 0..20 {
            let id = core
                .create_upload("bkt", "k", ObjectMeta::default(), None, None)
                .await
                .expect("create");
            let etag = put_part(&core, &id, b"part data").await.expect("part");
            let (a, b, c) = tokio::join!(
                tokio::spawn({
                    let (core, id, etag) = (core.clone(), id.clone(), etag.clone());
                    async move { complete(&core, &id, &etag).await }
                }),
                tokio::spawn({
                    let (core, id, etag) = (core.clone(), id.clone(), etag.clone());
                    async move { complete(&core, &id, &etag).await }
                }),
                tokio::spawn({
                    let (core, id) = (core.clone(), id.clone());
                    async move { core.abort_upload("bkt", "k", &id).await }
                }),
            );
            let (a, b, c) = (a.expect("join"), b.expect("join"), c.expect("join"));
            let completed = [&a, &b].iter().filter(|r| r.is_ok()).count();
            let aborted = usize::from(c.is_ok());
            assert_eq!(
                completed + aborted,
                1,
                "round {round}: one finish wins: {a:?} {b:?} {c:?}"
            );
            assert!(
                [
                    gone(&a) || a.is_ok(),
                    gone(&b) || b.is_ok(),
                    gone(&c) || c.is_ok()
                ]
                .iter()
                .all(|x| *x),
                "round {round}: the others answer NoSuchUpload: {a:?} {b:?} {c:?}"
            );
            if completed == 1 {
                assert_eq!(read(&core).await, b"part data");
                core.delete_object("bkt", "k", None, &Requester::default())
                    .await
                    .expect("delete");
            }
        }
    }

    /// A completion and an upload of the same part (the same bytes, so the same ETag) at once:
    /// the completion wins either way (before the part upload, which then answers
    /// `NoSuchUpload`, or after it, with the new part), and the object's data is all there.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_completion_racing_a_part_upload_names_only_live_blobs() {
        let dir = tempfile::tempdir().expect("tempdir");
        let core = core(dir.path()).await;
        for round in 0..20 {
            let id = core
                .create_upload("bkt", "k", ObjectMeta::default(), None, None)
                .await
                .expect("create");
            let etag = put_part(&core, &id, b"same bytes").await.expect("part");
            // The part upload first, the completion from a little later on each round, so that
            // some rounds record the part between the completion's read and its write.
            let delay = std::time::Duration::from_micros(250 * round);
            let (again, done) = tokio::join!(
                tokio::spawn({
                    let (core, id) = (core.clone(), id.clone());
                    async move { put_part(&core, &id, b"same bytes").await }
                }),
                tokio::spawn({
                    let (core, id, etag) = (core.clone(), id.clone(), etag.clone());
                    async move {
                        tokio::time::sleep(delay).await;
                        complete(&core, &id, &etag).await
                    }
                }),
            );
            let (done, again) = (done.expect("join"), again.expect("join"));
            assert!(done.is_ok(), "round {round}: {done:?}");
            assert!(again.is_ok() || gone(&again), "round {round}: {again:?}");
            assert_eq!(read(&core).await, b"same bytes");
        }
    }
}
