//! Buckets' object index (the [`ObjectStore`] concern): which versions of which keys exist,
//! with what metadata and in which blobs, and the multipart uploads in progress.
//!
//! The object *data* is not here: it lives in blobs ([`crate::blobs`]), immutable files the
//! caller writes and syncs before it records them here. A record names its blobs; a change that
//! removes or replaces a record answers the blobs nothing refers to any more, for the caller to
//! delete. A blob that was written but never recorded (a crash between the two) is an orphan
//! that [`crate::blobs::Blobs::sweep`] removes, asking [`ObjectStore::blobs_referenced`].
//!
//! # Versions
//!
//! Every record is one version `(bucket, key, version_id)`. Writing a version that exists
//! replaces it (its blobs are answered as freed); every write gives the version a new position
//! (`seq`, growing, store-assigned), and the **latest** version of a key is the one with the
//! highest position. So an unversioned bucket writes the version `"null"` again and again
//! (S3's behaviour), a versioned bucket writes new ids and keeps the old versions, and a delete
//! marker is a record with `delete_marker` set and no blobs.
//!
//! # Durability
//!
//! [`ObjectStore::objects_write`] commits its record changes, its upload change and its
//! [`AppendBatch`] (the object's events and their deliveries) atomically and durably before it
//! returns, with the same fencing and tick rules as [`crate::EventLog::append`]: after a crash
//! an object is there with its events, or neither is. A write that finishes a multipart upload
//! is refused whole when the upload is gone or its parts changed since the caller read them
//! (see [`UploadChange::Finish`]).

use crate::{AppendBatch, BoxFuture, Result};

/// A blob of an object or part: its id (as [`crate::blobs::Blobs`] names it) and size in bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobRef {
    pub id: String,
    pub size: u64,
}

/// One version of one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRecord {
    pub bucket: String,
    pub key: String,
    /// `"null"` in a bucket that never had versioning enabled (and for writes while it is
    /// suspended).
    pub version_id: String,
    /// The position of the write that made this version (store-assigned; ignored on write).
    pub seq: i64,
    /// Whether this is the latest version of its key (computed on read; ignored on write).
    pub latest: bool,
    pub delete_marker: bool,
    /// The data, in order (none for a delete marker, an empty object or one held `inline`).
    pub blobs: Vec<BlobRef>,
    /// The data of a small object, kept in the index itself instead of a blob (then `blobs` is
    /// empty).
    pub inline: Option<Vec<u8>>,
    /// Total size in bytes.
    pub size: u64,
    /// The ETag as S3 answers it, quotes included.
    pub etag: String,
    /// Last modified, ms since the epoch.
    pub modified_ms: i64,
    /// Everything else (content headers, user metadata, checksums, tags, storage class), as
    /// JSON text the caller owns.
    pub meta: String,
}

/// A multipart upload in progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadRecord {
    pub upload_id: String,
    pub bucket: String,
    pub key: String,
    pub initiated_ms: i64,
    /// What the completed object will carry (JSON text the caller owns).
    pub meta: String,
}

/// One uploaded part of a multipart upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartRecord {
    pub upload_id: String,
    pub part_number: u32,
    pub blob: BlobRef,
    pub etag: String,
    pub modified_ms: i64,
    /// Checksums and the like (JSON text the caller owns).
    pub meta: String,
}

/// One change to the object index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectChange {
    /// Writes a version (replacing one with the same id), which becomes the latest.
    Put(ObjectRecord),
    /// Removes one version (nothing when it does not exist). The key's latest version is then
    /// the remaining one with the highest position.
    Delete {
        bucket: String,
        key: String,
        version_id: String,
    },
    /// Replaces a version's `meta` (tags), keeping its position; nothing when it does not exist.
    Meta {
        bucket: String,
        key: String,
        version_id: String,
        meta: String,
    },
}

/// What happens to a multipart upload in an [`ObjectWrite`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UploadChange {
    /// Removes the upload and every part of it; the parts' blobs that `keep` does not name are
    /// freed (completing: the completed object now owns the blobs it names; aborting: `keep`
    /// is empty).
    ///
    /// Checked when the write commits, under the store's locks: the whole write is refused,
    /// nothing of it written, with [`crate::StoreError::UploadGone`] when the upload no longer
    /// exists (finished by another write since the caller read it), and with
    /// [`crate::StoreError::PartReplaced`] when `keep` names a blob that is not the blob of one
    /// of the upload's parts (a part uploaded again since the caller read the parts). A
    /// completion therefore never makes an object of blobs a racing abort or part upload freed.
    Finish {
        upload_id: String,
        keep: Vec<String>,
    },
}

/// Changes to the object index committed as one, with the events they owe.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectWrite {
    pub changes: Vec<ObjectChange>,
    pub upload: Option<UploadChange>,
    /// Appended in the same transaction (see [`crate::EventLog::append`]); may be empty.
    pub append: AppendBatch,
}

/// Where a listing of latest versions starts and what it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectQuery {
    pub bucket: String,
    /// Only keys starting with this.
    pub prefix: String,
    /// Only keys after this one (byte order), if any.
    pub after: Option<String>,
    pub limit: usize,
}

/// Where a listing of versions starts: after `(key, seq)` in (key ascending, seq descending)
/// order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionQuery {
    pub bucket: String,
    pub prefix: String,
    pub after: Option<(String, i64)>,
    pub limit: usize,
}

/// The object index of every bucket (see the module docs).
pub trait ObjectStore: Send + Sync {
    /// Commits `write` atomically (see the module docs, "Durability"); answers the ids of the
    /// blobs no record and no part refers to any more (replaced or removed versions, parts a
    /// finished upload did not keep), for the caller to delete. Refused whole, besides the
    /// append's refusals, with [`crate::StoreError::UploadGone`] or
    /// [`crate::StoreError::PartReplaced`] (see [`UploadChange::Finish`]).
    fn objects_write(&self, write: ObjectWrite) -> BoxFuture<'_, Result<Vec<String>>>;

    /// One version of a key: `version_id` `None` is the latest one (a delete marker included).
    fn object_get(
        &self,
        bucket: String,
        key: String,
        version_id: Option<String>,
    ) -> BoxFuture<'_, Result<Option<ObjectRecord>>>;

    /// The latest versions of keys in key order (byte order), leaving out keys whose latest
    /// version is a delete marker.
    fn objects_list(&self, query: ObjectQuery) -> BoxFuture<'_, Result<Vec<ObjectRecord>>>;

    /// Every version (delete markers included) in key order, newest first within a key.
    fn object_versions(&self, query: VersionQuery) -> BoxFuture<'_, Result<Vec<ObjectRecord>>>;

    /// Whether a bucket holds anything: a version, a delete marker or an upload.
    fn bucket_is_empty(&self, bucket: String) -> BoxFuture<'_, Result<bool>>;

    /// Removes every version and upload of a bucket; answers the blobs freed.
    fn bucket_purge(&self, bucket: String) -> BoxFuture<'_, Result<Vec<String>>>;

    /// Records a new multipart upload.
    fn upload_create(&self, upload: UploadRecord) -> BoxFuture<'_, Result<()>>;

    /// An upload by id.
    fn upload_get(&self, upload_id: String) -> BoxFuture<'_, Result<Option<UploadRecord>>>;

    /// A bucket's uploads whose key starts with `prefix`, in (key, initiated, id) order, after
    /// `(key, upload_id)`.
    fn uploads_list(
        &self,
        bucket: String,
        prefix: String,
        after: Option<(String, String)>,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<UploadRecord>>>;

    /// Records a part (replacing the part with that number); answers the replaced part's blob,
    /// freed. Fails with nothing written when the upload no longer exists: answers `Ok(None)`
    /// then, and the caller deletes the blob it wrote. A part put and a finish of its upload
    /// follow one another: a part put after the finish answers `Ok(None)`, a finish after a
    /// part put that replaced a part it keeps is refused ([`crate::StoreError::PartReplaced`]).
    fn upload_part_put(&self, part: PartRecord) -> BoxFuture<'_, Result<Option<Vec<String>>>>;

    /// An upload's parts in part-number order, after `after`.
    fn upload_parts(
        &self,
        upload_id: String,
        after: u32,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<PartRecord>>>;

    /// Of these blob ids, those that a version or a part refers to.
    fn blobs_referenced(&self, ids: Vec<String>) -> BoxFuture<'_, Result<Vec<String>>>;
}

/// What the backends share to implement [`ObjectStore`]: how a record's blobs are kept as text,
/// where a key prefix ends, and the reference counts that decide which blobs a write freed.
pub(crate) mod index {
    use std::collections::{BTreeMap, HashSet};

    use super::BlobRef;

    /// A record's blobs as the index keeps them: `id:size` joined by `,` (blob ids are hex).
    pub(crate) fn encode_blobs(blobs: &[BlobRef]) -> String {
        blobs
            .iter()
            .map(|b| format!("{}:{}", b.id, b.size))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The blobs [`encode_blobs`] wrote (an entry that cannot be read is left out).
    pub(crate) fn decode_blobs(text: &str) -> Vec<BlobRef> {
        text.split(',')
            .filter_map(|b| {
                let (id, size) = b.rsplit_once(':')?;
                Some(BlobRef {
                    id: id.to_owned(),
                    size: size.parse().ok()?,
                })
            })
            .collect()
    }

    /// The least string greater than every string that starts with `prefix` (byte order, which
    /// is code point order in UTF-8); `None` when nothing is (an empty prefix, or one of
    /// `char::MAX` only).
    pub(crate) fn prefix_end(prefix: &str) -> Option<String> {
        let mut chars: Vec<char> = prefix.chars().collect();
        while let Some(last) = chars.pop() {
            let next = match last as u32 + 1 {
                0xD800 => Some('\u{E000}'),
                n => char::from_u32(n),
            };
            if let Some(next) = next {
                chars.push(next);
                return Some(chars.into_iter().collect());
            }
        }
        None
    }

    /// Where a listing starts: `(bound, inclusive)`, the later of the prefix (inclusive) and the
    /// `after` key (exclusive).
    pub(crate) fn lower_bound<'a>(prefix: &'a str, after: Option<&'a str>) -> (&'a str, bool) {
        match after {
            Some(after) if after >= prefix => (after, false),
            _ => (prefix, true),
        }
    }

    /// The blobs of `keep` that are not among `parts` (an upload's parts' blobs, as a finish
    /// found them), each once: what refuses the finish when not empty.
    pub(crate) fn not_parts(keep: &[String], parts: &[String]) -> Vec<String> {
        let parts: HashSet<&str> = parts.iter().map(String::as_str).collect();
        let mut seen = HashSet::new();
        keep.iter()
            .filter(|id| !parts.contains(id.as_str()) && seen.insert(id.as_str()))
            .cloned()
            .collect()
    }

    /// The blob references a write adds and removes, netted per blob, and the blobs it must not
    /// answer as freed (those an upload's completion keeps).
    #[derive(Default)]
    pub(crate) struct Refs {
        pub(crate) delta: BTreeMap<String, i64>,
        pub(crate) keep: HashSet<String>,
    }

    impl Refs {
        pub(crate) fn add<'a>(&mut self, ids: impl IntoIterator<Item = &'a str>) {
            for id in ids {
                *self.delta.entry(id.to_owned()).or_default() += 1;
            }
        }

        pub(crate) fn remove<'a>(&mut self, ids: impl IntoIterator<Item = &'a str>) {
            for id in ids {
                *self.delta.entry(id.to_owned()).or_default() -= 1;
            }
        }

        /// The changes to apply, in id order (so that writers lock counts in one order).
        pub(crate) fn changes(&self) -> impl Iterator<Item = (&str, i64)> {
            self.delta
                .iter()
                .filter(|(_, d)| **d != 0)
                .map(|(id, d)| (id.as_str(), *d))
        }

        /// Whether a blob whose count reached zero is answered as freed.
        pub(crate) fn frees(&self, id: &str) -> bool {
            !self.keep.contains(id)
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn prefix_ends_bound_exactly_the_keys_that_start_with_it() {
            assert_eq!(prefix_end(""), None);
            assert_eq!(prefix_end("a/").as_deref(), Some("a0"));
            assert_eq!(prefix_end("é").as_deref(), Some("ê"));
            assert_eq!(prefix_end("a\u{D7FF}").as_deref(), Some("a\u{E000}"));
            assert_eq!(prefix_end("a\u{10FFFF}").as_deref(), Some("b"));
            assert_eq!(prefix_end("\u{10FFFF}"), None);
            let end = prefix_end("ab").unwrap();
            for k in ["ab", "ab\u{10FFFF}", "abz", "ab\u{0}"] {
                assert!(k.starts_with("ab") && k < end.as_str(), "{k}");
            }
            assert!("ac" >= end.as_str());
        }

        #[test]
        fn not_parts_are_the_kept_blobs_no_part_holds_each_once() {
            let ids = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
            let parts = ids(&["a", "b"]);
            assert!(not_parts(&ids(&["a", "b"]), &parts).is_empty());
            assert!(not_parts(&[], &parts).is_empty());
            assert_eq!(
                not_parts(&ids(&["a", "x", "y", "x"]), &parts),
                ids(&["x", "y"])
            );
            assert_eq!(not_parts(&ids(&["a"]), &[]), ids(&["a"]));
        }

        #[test]
        fn blobs_read_back_as_written() {
            let blobs = vec![
                BlobRef {
                    id: "a".repeat(32),
                    size: 5,
                },
                BlobRef {
                    id: "b".repeat(32),
                    size: 0,
                },
            ];
            assert_eq!(decode_blobs(&encode_blobs(&blobs)), blobs);
            assert!(decode_blobs("").is_empty());
        }
    }
}
