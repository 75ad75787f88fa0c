//! The object index ([`ObjectStore`]) in the PostgreSQL store: the tables of the embedded store
//! (see `embedded/objects.rs`) in migration 3, with `"C"` collation on keys (byte order).
//!
//! A version's position is `nextval('object_seq')` (growing, never reused), and `latest` is kept
//! on write as in the embedded store. Nodes writing versions of the same key at once would both
//! see the same latest version, so an object write first takes a transaction advisory lock per
//! key it changes: writes of one key follow one another, and the position a write takes under
//! the lock is higher than that of every write of the key that committed before.
//!
//! # Lock order
//!
//! An [`ObjectStore::objects_write`] is one transaction that takes its locks in this order:
//! the acked work items (by id) and the ticks' rows (by schedule), as an append does
//! ([`super::append::fence_in`]); the keys' advisory locks (by lock value); the versions' rows;
//! the upload's row and its parts; the blob counts (by blob id); then the queues' locks (by
//! queue) and the event log's row, as an append does ([`super::append::write_in`]). Appends,
//! sends and the other writes take subsets of these in the same order, so nodes cannot
//! deadlock. A write that finishes an upload (a completion, an abort) locks the upload's row
//! `FOR UPDATE` and only then reads and deletes its parts, refusing the write when the row is
//! gone (another finish committed first) or when a part it keeps is no longer there (a part put
//! committed first); [`ObjectStore::upload_part_put`] locks the upload's row (shared) before
//! its part, so a part is never added to an upload a completion or an abort removed, and never
//! replaced under a completion that checked it. A bucket purge locks the versions by key, then
//! the uploads by id.

use std::collections::HashSet;

use tokio_postgres::Row;

use super::pool::Tx;
use super::{PgError, PgResult, PostgresStore, Shared, append};
use crate::objects::index::{Refs, decode_blobs, encode_blobs, lower_bound, not_parts, prefix_end};
use crate::objects::{
    BlobRef, ObjectChange, ObjectQuery, ObjectRecord, ObjectStore, ObjectWrite, PartRecord,
    UploadChange, UploadRecord, VersionQuery,
};
use crate::{BoxFuture, Result};

const COLUMNS: &str = "bucket, key, version_id, seq, latest, delete_marker, blobs, inline, size, etag, modified_ms, meta";

fn record(r: &Row) -> ObjectRecord {
    ObjectRecord {
        bucket: r.get(0),
        key: r.get(1),
        version_id: r.get(2),
        seq: r.get(3),
        latest: r.get(4),
        delete_marker: r.get(5),
        blobs: decode_blobs(r.get(6)),
        inline: r.get(7),
        size: r.get::<_, i64>(8) as u64,
        etag: r.get(9),
        modified_ms: r.get(10),
        meta: r.get(11),
    }
}

fn upload(r: &Row) -> UploadRecord {
    UploadRecord {
        upload_id: r.get(0),
        bucket: r.get(1),
        key: r.get(2),
        initiated_ms: r.get(3),
        meta: r.get(4),
    }
}

fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The blob ids of a version's `blobs` column.
fn ids(text: &str) -> impl Iterator<Item = &str> {
    text.split(',')
        .filter_map(|b| b.rsplit_once(':').map(|(id, _)| id))
}

/// Locks the keys a write changes, in lock-value order (see the module docs).
async fn lock_keys(tx: &mut Tx<'_>, changes: &[ObjectChange]) -> PgResult<()> {
    let mut buckets = Vec::new();
    let mut keys = Vec::new();
    for c in changes {
        let (b, k) = match c {
            ObjectChange::Put(o) => (&o.bucket, &o.key),
            ObjectChange::Delete { bucket, key, .. } | ObjectChange::Meta { bucket, key, .. } => {
                (bucket, key)
            }
        };
        buckets.push(b.as_str());
        keys.push(k.as_str());
    }
    if buckets.is_empty() {
        return Ok(());
    }
    tx.query(
        "SELECT pg_advisory_xact_lock(h) FROM (
             SELECT DISTINCT hashtextextended(
                 'eddy.object.' || current_schema() || '/' || b || '/' || k, 0) AS h
             FROM unnest($1::text[], $2::text[]) AS u(b, k)
             ORDER BY h
         ) AS l",
        &[&buckets, &keys],
    )
    .await?;
    Ok(())
}

async fn put(tx: &mut Tx<'_>, o: &ObjectRecord, refs: &mut Refs) -> PgResult<()> {
    let old = tx
        .query_opt(
            "SELECT blobs FROM objects WHERE bucket = $1 AND key = $2 AND version_id = $3",
            &[&o.bucket, &o.key, &o.version_id],
        )
        .await?;
    if let Some(old) = &old {
        refs.remove(ids(old.get(0)));
    }
    tx.execute(
        "UPDATE objects SET latest = false WHERE bucket = $1 AND key = $2 AND latest",
        &[&o.bucket, &o.key],
    )
    .await?;
    let blobs = encode_blobs(&o.blobs);
    let size = o.size as i64;
    tx.execute(
        "INSERT INTO objects (bucket, key, version_id, seq, latest, delete_marker, blobs, inline,
                             size, etag, modified_ms, meta)
         VALUES ($1, $2, $3, nextval('object_seq'), true, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT (bucket, key, version_id) DO UPDATE SET
             seq = excluded.seq, latest = true, delete_marker = excluded.delete_marker,
             blobs = excluded.blobs, inline = excluded.inline, size = excluded.size,
             etag = excluded.etag, modified_ms = excluded.modified_ms, meta = excluded.meta",
        &[
            &o.bucket,
            &o.key,
            &o.version_id,
            &o.delete_marker,
            &blobs,
            &o.inline,
            &size,
            &o.etag,
            &o.modified_ms,
            &o.meta,
        ],
    )
    .await?;
    refs.add(o.blobs.iter().map(|b| b.id.as_str()));
    Ok(())
}

async fn delete(
    tx: &mut Tx<'_>,
    bucket: &str,
    key: &str,
    version_id: &str,
    refs: &mut Refs,
) -> PgResult<()> {
    let Some(row) = tx
        .query_opt(
            "DELETE FROM objects WHERE bucket = $1 AND key = $2 AND version_id = $3
             RETURNING latest, blobs",
            &[&bucket, &key, &version_id],
        )
        .await?
    else {
        return Ok(());
    };
    refs.remove(ids(row.get(1)));
    if row.get::<_, bool>(0) {
        tx.execute(
            "UPDATE objects SET latest = true WHERE (bucket, key, seq) = (
                 SELECT bucket, key, seq FROM objects WHERE bucket = $1 AND key = $2
                 ORDER BY seq DESC LIMIT 1
             )",
            &[&bucket, &key],
        )
        .await?;
    }
    Ok(())
}

/// Applies a write's netted blob counts (in id order); answers the blobs whose count reached
/// zero (but those `refs` keeps).
async fn settle(tx: &mut Tx<'_>, refs: &Refs) -> PgResult<Vec<String>> {
    let (ids, deltas): (Vec<&str>, Vec<i64>) = refs.changes().unzip();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    tx.execute(
        "INSERT INTO blob_refs (id, refs)
         SELECT * FROM unnest($1::text[], $2::bigint[]) ORDER BY 1
         ON CONFLICT (id) DO UPDATE SET refs = blob_refs.refs + excluded.refs",
        &[&ids, &deltas],
    )
    .await?;
    let released: Vec<&str> = refs
        .changes()
        .filter(|(_, d)| *d < 0)
        .map(|(id, _)| id)
        .collect();
    if released.is_empty() {
        return Ok(Vec::new());
    }
    let gone = tx
        .query(
            "DELETE FROM blob_refs WHERE id = ANY($1) AND refs <= 0 RETURNING id",
            &[&released],
        )
        .await?;
    Ok(gone
        .iter()
        .map(|r| r.get::<_, String>(0))
        .filter(|id| refs.frees(id))
        .collect())
}

/// Removes an upload and its parts; their blobs are released, and answered as freed unless
/// `keep` names them. The upload's row is locked first (see "Lock order"), so that a racing
/// finish or part put of it waits for this transaction, or this one for it, and what is checked
/// here stays true until the commit: refuses an upload that is gone ([`PgError::UploadGone`])
/// and a `keep` naming a blob that is not one of its parts' ([`PgError::PartReplaced`]). The
/// caller then drops the transaction, rolling back everything the write did.
async fn finish(
    tx: &mut Tx<'_>,
    upload_id: String,
    keep: Vec<String>,
    refs: &mut Refs,
) -> PgResult<()> {
    // Read committed: a finish that waited for another one's lock finds the row deleted and
    // answers no row; one that waited for a part put's shared lock then reads its part below.
    let found = tx
        .query_opt(
            "SELECT 1 FROM uploads WHERE upload_id = $1 FOR UPDATE",
            &[&upload_id],
        )
        .await?;
    if found.is_none() {
        return Err(PgError::UploadGone(upload_id));
    }
    let parts: Vec<String> = tx
        .query(
            "DELETE FROM parts WHERE upload_id = $1 RETURNING blob_id",
            &[&upload_id],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let replaced = not_parts(&keep, &parts);
    if !replaced.is_empty() {
        return Err(PgError::PartReplaced {
            upload_id,
            blobs: replaced,
        });
    }
    tx.execute("DELETE FROM uploads WHERE upload_id = $1", &[&upload_id])
        .await?;
    refs.remove(parts.iter().map(String::as_str));
    refs.keep.extend(keep);
    Ok(())
}

async fn write(shared: &Shared, w: ObjectWrite) -> PgResult<Vec<String>> {
    let mut conn = shared.pool.get().await?;
    let mut tx = conn.begin().await?;
    append::fence_in(&mut tx, &w.append).await?;
    lock_keys(&mut tx, &w.changes).await?;
    let mut refs = Refs::default();
    for c in &w.changes {
        match c {
            ObjectChange::Put(o) => put(&mut tx, o, &mut refs).await?,
            ObjectChange::Delete {
                bucket,
                key,
                version_id,
            } => delete(&mut tx, bucket, key, version_id, &mut refs).await?,
            ObjectChange::Meta {
                bucket,
                key,
                version_id,
                meta,
            } => {
                tx.execute(
                    "UPDATE objects SET meta = $4
                     WHERE bucket = $1 AND key = $2 AND version_id = $3",
                    &[bucket, key, version_id, meta],
                )
                .await?;
            }
        }
    }
    if let Some(UploadChange::Finish { upload_id, keep }) = w.upload {
        finish(&mut tx, upload_id, keep, &mut refs).await?;
    }
    let freed = settle(&mut tx, &refs).await?;
    append::write_in(&mut tx, w.append, shared.store_now()).await?;
    tx.commit().await?;
    Ok(freed)
}

async fn part_put(shared: &Shared, p: PartRecord) -> PgResult<Option<Vec<String>>> {
    let mut conn = shared.pool.get().await?;
    let mut tx = conn.begin().await?;
    let exists = tx
        .query_opt(
            "SELECT 1 FROM uploads WHERE upload_id = $1 FOR SHARE",
            &[&p.upload_id],
        )
        .await?
        .is_some();
    if !exists {
        return Ok(None);
    }
    let mut refs = Refs::default();
    let number = i64::from(p.part_number);
    let size = p.blob.size as i64;
    let old = tx
        .query_opt(
            "SELECT blob_id FROM parts WHERE upload_id = $1 AND part_number = $2 FOR UPDATE",
            &[&p.upload_id, &number],
        )
        .await?;
    if let Some(old) = &old {
        refs.remove([old.get::<_, &str>(0)]);
    }
    tx.execute(
        "INSERT INTO parts (upload_id, part_number, blob_id, blob_size, etag, modified_ms, meta)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (upload_id, part_number) DO UPDATE SET
             blob_id = excluded.blob_id, blob_size = excluded.blob_size, etag = excluded.etag,
             modified_ms = excluded.modified_ms, meta = excluded.meta",
        &[
            &p.upload_id,
            &number,
            &p.blob.id,
            &size,
            &p.etag,
            &p.modified_ms,
            &p.meta,
        ],
    )
    .await?;
    refs.add([p.blob.id.as_str()]);
    let freed = settle(&mut tx, &refs).await?;
    tx.commit().await?;
    Ok(Some(freed))
}

async fn purge(shared: &Shared, bucket: String) -> PgResult<Vec<String>> {
    let mut conn = shared.pool.get().await?;
    let mut tx = conn.begin().await?;
    let mut refs = Refs::default();
    let versions = tx
        .query(
            "SELECT blobs FROM objects WHERE bucket = $1 ORDER BY key, version_id FOR UPDATE",
            &[&bucket],
        )
        .await?;
    for v in &versions {
        refs.remove(ids(v.get(0)));
    }
    tx.execute("DELETE FROM objects WHERE bucket = $1", &[&bucket])
        .await?;
    let uploads: Vec<String> = tx
        .query(
            "SELECT upload_id FROM uploads WHERE bucket = $1 ORDER BY upload_id FOR UPDATE",
            &[&bucket],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    if !uploads.is_empty() {
        let parts = tx
            .query(
                "DELETE FROM parts WHERE upload_id = ANY($1) RETURNING blob_id",
                &[&uploads],
            )
            .await?;
        refs.remove(parts.iter().map(|r| r.get::<_, &str>(0)));
        tx.execute("DELETE FROM uploads WHERE upload_id = ANY($1)", &[&uploads])
            .await?;
    }
    let freed = settle(&mut tx, &refs).await?;
    tx.commit().await?;
    Ok(freed)
}

async fn get(
    shared: &Shared,
    bucket: String,
    key: String,
    version_id: Option<String>,
) -> PgResult<Option<ObjectRecord>> {
    let mut conn = shared.pool.get().await?;
    let row = match version_id {
        Some(v) => {
            conn.query_opt(
                &format!(
                    "SELECT {COLUMNS} FROM objects
                     WHERE bucket = $1 AND key = $2 AND version_id = $3"
                ),
                &[&bucket, &key, &v],
            )
            .await?
        }
        None => {
            conn.query_opt(
                &format!(
                    "SELECT {COLUMNS} FROM objects WHERE bucket = $1 AND key = $2
                     ORDER BY seq DESC LIMIT 1"
                ),
                &[&bucket, &key],
            )
            .await?
        }
    };
    Ok(row.as_ref().map(record))
}

async fn list(shared: &Shared, q: ObjectQuery) -> PgResult<Vec<ObjectRecord>> {
    // One lower bound (the later of the prefix and `after`) and the prefix's end, each an index
    // condition: a page scans its own keys only.
    let (from, inclusive) = lower_bound(&q.prefix, q.after.as_deref());
    let end = prefix_end(&q.prefix);
    let n = limit(q.limit);
    let op = if inclusive { ">=" } else { ">" };
    let mut conn = shared.pool.get().await?;
    let rows = match &end {
        Some(end) => {
            let sql = format!(
                "SELECT {COLUMNS} FROM objects
                 WHERE bucket = $1 AND latest AND NOT delete_marker AND key {op} $2 AND key < $3
                 ORDER BY key LIMIT $4"
            );
            conn.query(&sql, &[&q.bucket, &from, end, &n]).await?
        }
        None => {
            let sql = format!(
                "SELECT {COLUMNS} FROM objects
                 WHERE bucket = $1 AND latest AND NOT delete_marker AND key {op} $2
                 ORDER BY key LIMIT $3"
            );
            conn.query(&sql, &[&q.bucket, &from, &n]).await?
        }
    };
    Ok(rows.iter().map(record).collect())
}

async fn versions(shared: &Shared, q: VersionQuery) -> PgResult<Vec<ObjectRecord>> {
    let (after_key, after_seq) = match &q.after {
        Some((k, s)) => (Some(k.as_str()), *s),
        None => (None, i64::MAX),
    };
    let from = match after_key {
        Some(k) if k >= q.prefix.as_str() => k,
        _ => q.prefix.as_str(),
    };
    // Without `after`: every key from the prefix on (`key > ''` is every key but ``, which
    // `$4 = ''` with `seq < i64::MAX` lets through).
    let after_key = after_key.unwrap_or("");
    let end = prefix_end(&q.prefix);
    let n = limit(q.limit);
    let mut conn = shared.pool.get().await?;
    let rows = match &end {
        Some(end) => {
            let sql = format!(
                "SELECT {COLUMNS} FROM objects
                 WHERE bucket = $1 AND key >= $2 AND key < $3 AND (key > $4 OR seq < $5)
                 ORDER BY key, seq DESC LIMIT $6"
            );
            conn.query(&sql, &[&q.bucket, &from, end, &after_key, &after_seq, &n])
                .await?
        }
        None => {
            let sql = format!(
                "SELECT {COLUMNS} FROM objects
                 WHERE bucket = $1 AND key >= $2 AND (key > $3 OR seq < $4)
                 ORDER BY key, seq DESC LIMIT $5"
            );
            conn.query(&sql, &[&q.bucket, &from, &after_key, &after_seq, &n])
                .await?
        }
    };
    Ok(rows.iter().map(record).collect())
}

async fn uploads_list(
    shared: &Shared,
    bucket: String,
    prefix: String,
    after: Option<(String, String)>,
    n: usize,
) -> PgResult<Vec<UploadRecord>> {
    let from = match &after {
        Some((k, _)) if k.as_str() >= prefix.as_str() => k.clone(),
        _ => prefix.clone(),
    };
    let end = prefix_end(&prefix);
    let (after_key, after_id) = match &after {
        Some((k, id)) => (Some(k.as_str()), id.as_str()),
        None => (None, ""),
    };
    let mut conn = shared.pool.get().await?;
    // After `(key, upload_id)` in (key, initiated, id) order: within the key, past that
    // upload's place (all of the key's uploads, when that upload is gone).
    let rows = conn
        .query(
            "SELECT upload_id, bucket, key, initiated_ms, meta FROM uploads
             WHERE bucket = $1 AND key >= $2 AND ($3::text IS NULL OR key < $3)
               AND ($4::text IS NULL OR key > $4
                    OR (initiated_ms, upload_id) > (
                        coalesce((SELECT initiated_ms FROM uploads WHERE upload_id = $5),
                                 -9223372036854775808),
                        $5))
             ORDER BY key, initiated_ms, upload_id LIMIT $6",
            &[&bucket, &from, &end, &after_key, &after_id, &limit(n)],
        )
        .await?;
    Ok(rows.iter().map(upload).collect())
}

impl ObjectStore for PostgresStore {
    fn objects_write(&self, write: ObjectWrite) -> BoxFuture<'_, Result<Vec<String>>> {
        Box::pin(async move { self.shared.wrote(self::write(&self.shared, write).await) })
    }

    fn object_get(
        &self,
        bucket: String,
        key: String,
        version_id: Option<String>,
    ) -> BoxFuture<'_, Result<Option<ObjectRecord>>> {
        Box::pin(async move { Ok(get(&self.shared, bucket, key, version_id).await?) })
    }

    fn objects_list(&self, query: ObjectQuery) -> BoxFuture<'_, Result<Vec<ObjectRecord>>> {
        Box::pin(async move { Ok(list(&self.shared, query).await?) })
    }

    fn object_versions(&self, query: VersionQuery) -> BoxFuture<'_, Result<Vec<ObjectRecord>>> {
        Box::pin(async move { Ok(versions(&self.shared, query).await?) })
    }

    fn bucket_is_empty(&self, bucket: String) -> BoxFuture<'_, Result<bool>> {
        Box::pin(async move {
            let mut conn = self.shared.pool.get().await?;
            let any: bool = conn
                .query_one(
                    "SELECT EXISTS (SELECT 1 FROM objects WHERE bucket = $1)
                         OR EXISTS (SELECT 1 FROM uploads WHERE bucket = $1)",
                    &[&bucket],
                )
                .await?
                .get(0);
            Ok(!any)
        })
    }

    fn bucket_purge(&self, bucket: String) -> BoxFuture<'_, Result<Vec<String>>> {
        Box::pin(async move { self.shared.wrote(purge(&self.shared, bucket).await) })
    }

    fn upload_create(&self, u: UploadRecord) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            let r = async {
                let mut conn = self.shared.pool.get().await?;
                conn.execute(
                    "INSERT INTO uploads (upload_id, bucket, key, initiated_ms, meta)
                     VALUES ($1, $2, $3, $4, $5)",
                    &[&u.upload_id, &u.bucket, &u.key, &u.initiated_ms, &u.meta],
                )
                .await?;
                Ok(())
            }
            .await;
            self.shared.wrote(r)
        })
    }

    fn upload_get(&self, upload_id: String) -> BoxFuture<'_, Result<Option<UploadRecord>>> {
        Box::pin(async move {
            let mut conn = self.shared.pool.get().await?;
            let row = conn
                .query_opt(
                    "SELECT upload_id, bucket, key, initiated_ms, meta FROM uploads
                     WHERE upload_id = $1",
                    &[&upload_id],
                )
                .await?;
            Ok(row.as_ref().map(upload))
        })
    }

    fn uploads_list(
        &self,
        bucket: String,
        prefix: String,
        after: Option<(String, String)>,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<UploadRecord>>> {
        Box::pin(async move { Ok(uploads_list(&self.shared, bucket, prefix, after, limit).await?) })
    }

    fn upload_part_put(&self, part: PartRecord) -> BoxFuture<'_, Result<Option<Vec<String>>>> {
        Box::pin(async move { self.shared.wrote(part_put(&self.shared, part).await) })
    }

    fn upload_parts(
        &self,
        upload_id: String,
        after: u32,
        n: usize,
    ) -> BoxFuture<'_, Result<Vec<PartRecord>>> {
        Box::pin(async move {
            let mut conn = self.shared.pool.get().await?;
            let rows = conn
                .query(
                    "SELECT upload_id, part_number, blob_id, blob_size, etag, modified_ms, meta
                     FROM parts WHERE upload_id = $1 AND part_number > $2
                     ORDER BY part_number LIMIT $3",
                    &[&upload_id, &i64::from(after), &limit(n)],
                )
                .await?;
            Ok(rows
                .iter()
                .map(|r| PartRecord {
                    upload_id: r.get(0),
                    part_number: u32::try_from(r.get::<_, i64>(1)).unwrap_or(u32::MAX),
                    blob: BlobRef {
                        id: r.get(2),
                        size: r.get::<_, i64>(3) as u64,
                    },
                    etag: r.get(4),
                    modified_ms: r.get(5),
                    meta: r.get(6),
                })
                .collect())
        })
    }

    fn blobs_referenced(&self, ids: Vec<String>) -> BoxFuture<'_, Result<Vec<String>>> {
        Box::pin(async move {
            let mut conn = self.shared.pool.get().await?;
            let found: HashSet<String> = conn
                .query("SELECT id FROM blob_refs WHERE id = ANY($1)", &[&ids])
                .await?
                .iter()
                .map(|r| r.get(0))
                .collect();
            Ok(ids.into_iter().filter(|id| found.contains(id)).collect())
        })
    }
}
