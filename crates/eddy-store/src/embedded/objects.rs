//! The object index ([`ObjectStore`]) in the embedded store.
//!
//! # Tables
//!
//! * `objects`: one row per version. Its rowid is its position (`seq INTEGER PRIMARY KEY
//!   AUTOINCREMENT`: every insert takes a position higher than any handed out before, reset
//!   included), so writing a version deletes its row and inserts a new one. `latest` is kept on
//!   write (1 on the highest position of a key), so that listing latest versions is a range
//!   scan of the partial index `objects_listed (bucket, key) WHERE latest = 1 AND
//!   delete_marker = 0`, however many versions and delete markers a bucket holds.
//!   `objects_by_key (bucket, key, seq DESC)` serves the latest version of a key, the version
//!   listing (key ascending, newest first) and the upkeep of `latest`; `objects_by_version`
//!   finds a version by id.
//! * `uploads` and `parts`: multipart uploads in progress and their parts.
//! * `blob_refs`: how many versions and parts name each blob. A write nets its changes per blob
//!   and applies them last: a blob whose count reaches zero is freed (answered to the caller),
//!   and [`ObjectStore::blobs_referenced`] is a primary-key lookup.
//!
//! # Writes
//!
//! [`ObjectStore::objects_write`] runs in the writer's group commit, as one command: its
//! append first (with [`super::append`]'s refusals: a lost lease, a tick taken), then the record
//! changes, the upload change (refused when the upload is gone or a part it keeps was replaced)
//! and the blob counts. A refusal or a failure rolls back the command's savepoint, so nothing
//! of it is written, while the other commands of its group commit go on. The one writer runs
//! commands one after another, so a finish and a part put of the same upload (or two finishes)
//! never interleave: the later one sees what the earlier one did. Reads run on the read
//! connections.

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use crate::objects::index::{Refs, decode_blobs, encode_blobs, lower_bound, not_parts, prefix_end};
use crate::objects::{
    BlobRef, ObjectChange, ObjectQuery, ObjectRecord, ObjectStore, ObjectWrite, PartRecord,
    UploadChange, UploadRecord, VersionQuery,
};
use crate::{BoxFuture, Result};

use super::{DbError, DbResult, EmbeddedStore};

/// The object index's tables (part of the store's schema, see `SCHEMA`).
pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS objects (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    bucket TEXT NOT NULL,
    key TEXT NOT NULL,
    version_id TEXT NOT NULL,
    latest INTEGER NOT NULL,
    delete_marker INTEGER NOT NULL,
    blobs TEXT NOT NULL,
    inline BLOB,
    size INTEGER NOT NULL,
    etag TEXT NOT NULL,
    modified_ms INTEGER NOT NULL,
    meta TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS objects_by_version ON objects (bucket, key, version_id);
CREATE INDEX IF NOT EXISTS objects_by_key ON objects (bucket, key, seq DESC);
CREATE INDEX IF NOT EXISTS objects_listed ON objects (bucket, key)
    WHERE latest = 1 AND delete_marker = 0;
CREATE TABLE IF NOT EXISTS uploads (
    upload_id TEXT PRIMARY KEY,
    bucket TEXT NOT NULL,
    key TEXT NOT NULL,
    initiated_ms INTEGER NOT NULL,
    meta TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS uploads_by_key ON uploads (bucket, key, initiated_ms, upload_id);
CREATE TABLE IF NOT EXISTS parts (
    upload_id TEXT NOT NULL,
    part_number INTEGER NOT NULL,
    blob_id TEXT NOT NULL,
    blob_size INTEGER NOT NULL,
    etag TEXT NOT NULL,
    modified_ms INTEGER NOT NULL,
    meta TEXT NOT NULL,
    PRIMARY KEY (upload_id, part_number)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS blob_refs (
    id TEXT PRIMARY KEY,
    refs INTEGER NOT NULL
) WITHOUT ROWID;
";

/// What [`crate::Store::reset`] runs to wipe the object index (positions are not reused after
/// it: `AUTOINCREMENT` remembers the highest).
pub(super) const RESET: &str =
    "DELETE FROM objects; DELETE FROM uploads; DELETE FROM parts; DELETE FROM blob_refs;";

const COLUMNS: &str = "bucket, key, version_id, seq, latest, delete_marker, blobs, inline, size, etag, modified_ms, meta";

fn record(r: &rusqlite::Row<'_>) -> rusqlite::Result<ObjectRecord> {
    Ok(ObjectRecord {
        bucket: r.get(0)?,
        key: r.get(1)?,
        version_id: r.get(2)?,
        seq: r.get(3)?,
        latest: r.get(4)?,
        delete_marker: r.get(5)?,
        blobs: decode_blobs(&r.get::<_, String>(6)?),
        inline: r.get(7)?,
        size: r.get::<_, i64>(8)? as u64,
        etag: r.get(9)?,
        modified_ms: r.get(10)?,
        meta: r.get(11)?,
    })
}

fn upload(r: &rusqlite::Row<'_>) -> rusqlite::Result<UploadRecord> {
    Ok(UploadRecord {
        upload_id: r.get(0)?,
        bucket: r.get(1)?,
        key: r.get(2)?,
        initiated_ms: r.get(3)?,
        meta: r.get(4)?,
    })
}

fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The blobs of a version (its `blobs` column).
fn ids(text: &str) -> impl Iterator<Item = &str> {
    text.split(',')
        .filter_map(|b| b.rsplit_once(':').map(|(id, _)| id))
}

/// Writes a version; it becomes its key's latest. The key's latest version is read first: in
/// the common case (an unversioned bucket writing `"null"` again, or a new key) it is the
/// version replaced, or there is none, and one lookup serves both.
fn put(tx: &Transaction<'_>, o: &ObjectRecord, refs: &mut Refs) -> DbResult<()> {
    let latest: Option<(i64, String, String)> = tx
        .prepare_cached(
            "SELECT seq, version_id, blobs FROM objects WHERE bucket = ?1 AND key = ?2
             ORDER BY seq DESC LIMIT 1",
        )?
        .query_row(params![o.bucket, o.key], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()?;
    let old = match latest {
        Some((seq, version_id, blobs)) if version_id == o.version_id => Some((seq, blobs)),
        Some((seq, _, _)) => {
            tx.prepare_cached("UPDATE objects SET latest = 0 WHERE seq = ?1")?
                .execute([seq])?;
            tx.prepare_cached(
                "SELECT seq, blobs FROM objects
                 WHERE bucket = ?1 AND key = ?2 AND version_id = ?3",
            )?
            .query_row(params![o.bucket, o.key, o.version_id], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?
        }
        None => None,
    };
    if let Some((seq, blobs)) = &old {
        tx.prepare_cached("DELETE FROM objects WHERE seq = ?1")?
            .execute([seq])?;
        refs.remove(ids(blobs));
    }
    let blobs = encode_blobs(&o.blobs);
    tx.prepare_cached(
        "INSERT INTO objects (bucket, key, version_id, latest, delete_marker, blobs, inline, size,
                              etag, modified_ms, meta)
         VALUES (?1, ?2, ?3, 1, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
        o.bucket,
        o.key,
        o.version_id,
        o.delete_marker,
        blobs,
        o.inline,
        o.size as i64,
        o.etag,
        o.modified_ms,
        o.meta
    ])?;
    refs.add(o.blobs.iter().map(|b| b.id.as_str()));
    Ok(())
}

/// Removes a version; the key's latest is then its highest position left.
fn delete(
    tx: &Transaction<'_>,
    bucket: &str,
    key: &str,
    version_id: &str,
    refs: &mut Refs,
) -> DbResult<()> {
    let Some((seq, latest, blobs)) = tx
        .prepare_cached(
            "SELECT seq, latest, blobs FROM objects
             WHERE bucket = ?1 AND key = ?2 AND version_id = ?3",
        )?
        .query_row(params![bucket, key, version_id], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, bool>(1)?,
                r.get::<_, String>(2)?,
            ))
        })
        .optional()?
    else {
        return Ok(());
    };
    tx.prepare_cached("DELETE FROM objects WHERE seq = ?1")?
        .execute([seq])?;
    refs.remove(ids(&blobs));
    if latest {
        tx.prepare_cached(
            "UPDATE objects SET latest = 1 WHERE seq = (
                 SELECT seq FROM objects WHERE bucket = ?1 AND key = ?2 ORDER BY seq DESC LIMIT 1
             )",
        )?
        .execute(params![bucket, key])?;
    }
    Ok(())
}

/// Removes an upload and its parts; their blobs are released, and answered as freed unless
/// `keep` names them. Refuses an upload that is gone ([`DbError::UploadGone`]) and a `keep`
/// naming a blob that is not one of its parts' ([`DbError::PartReplaced`]); the command's
/// savepoint then rolls back what it deleted here and everything the write did before.
fn finish(
    tx: &Transaction<'_>,
    upload_id: &str,
    keep: Vec<String>,
    refs: &mut Refs,
) -> DbResult<()> {
    let found = tx
        .prepare_cached("DELETE FROM uploads WHERE upload_id = ?1")?
        .execute([upload_id])?;
    if found == 0 {
        return Err(DbError::UploadGone(upload_id.to_owned()));
    }
    let blobs = {
        let mut st =
            tx.prepare_cached("DELETE FROM parts WHERE upload_id = ?1 RETURNING blob_id")?;
        let rows = st.query_map([upload_id], |r| r.get::<_, String>(0))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()?
    };
    let replaced = not_parts(&keep, &blobs);
    if !replaced.is_empty() {
        return Err(DbError::PartReplaced {
            upload_id: upload_id.to_owned(),
            blobs: replaced,
        });
    }
    refs.remove(blobs.iter().map(String::as_str));
    refs.keep.extend(keep);
    Ok(())
}

/// Applies a write's netted blob counts; answers the blobs whose count reached zero (but those
/// `refs` keeps).
fn settle(tx: &Transaction<'_>, refs: &Refs) -> DbResult<Vec<String>> {
    let mut count = tx.prepare_cached(
        "INSERT INTO blob_refs (id, refs) VALUES (?1, ?2)
         ON CONFLICT (id) DO UPDATE SET refs = refs + excluded.refs",
    )?;
    let mut gone = tx.prepare_cached("DELETE FROM blob_refs WHERE id = ?1 AND refs <= 0")?;
    let mut freed = Vec::new();
    for (id, d) in refs.changes() {
        count.execute(params![id, d])?;
        if d < 0 && gone.execute([id])? > 0 && refs.frees(id) {
            freed.push(id.to_owned());
        }
    }
    Ok(freed)
}

fn write(tx: &Transaction<'_>, w: ObjectWrite) -> DbResult<Vec<String>> {
    // The append first: its refusals (a lost lease, a tick taken) fail the command before
    // anything else is written, and the command's savepoint rolls back what it wrote.
    super::append(tx, w.append)?;
    let mut refs = Refs::default();
    for c in &w.changes {
        match c {
            ObjectChange::Put(o) => put(tx, o, &mut refs)?,
            ObjectChange::Delete {
                bucket,
                key,
                version_id,
            } => delete(tx, bucket, key, version_id, &mut refs)?,
            ObjectChange::Meta {
                bucket,
                key,
                version_id,
                meta,
            } => {
                tx.prepare_cached(
                    "UPDATE objects SET meta = ?4 WHERE bucket = ?1 AND key = ?2 AND version_id = ?3",
                )?
                .execute(params![bucket, key, version_id, meta])?;
            }
        }
    }
    match w.upload {
        Some(UploadChange::Finish { upload_id, keep }) => finish(tx, &upload_id, keep, &mut refs)?,
        None => {}
    }
    settle(tx, &refs)
}

fn part_put(tx: &Transaction<'_>, p: PartRecord) -> DbResult<Option<Vec<String>>> {
    let exists = tx
        .prepare_cached("SELECT 1 FROM uploads WHERE upload_id = ?1")?
        .exists([&p.upload_id])?;
    if !exists {
        return Ok(None);
    }
    let mut refs = Refs::default();
    let old: Option<String> = tx
        .prepare_cached("SELECT blob_id FROM parts WHERE upload_id = ?1 AND part_number = ?2")?
        .query_row(params![p.upload_id, p.part_number], |r| r.get(0))
        .optional()?;
    if let Some(old) = &old {
        refs.remove([old.as_str()]);
    }
    tx.prepare_cached(
        "INSERT INTO parts (upload_id, part_number, blob_id, blob_size, etag, modified_ms, meta)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (upload_id, part_number) DO UPDATE SET
             blob_id = excluded.blob_id, blob_size = excluded.blob_size, etag = excluded.etag,
             modified_ms = excluded.modified_ms, meta = excluded.meta",
    )?
    .execute(params![
        p.upload_id,
        p.part_number,
        p.blob.id,
        p.blob.size as i64,
        p.etag,
        p.modified_ms,
        p.meta
    ])?;
    refs.add([p.blob.id.as_str()]);
    Ok(Some(settle(tx, &refs)?))
}

fn purge(tx: &Transaction<'_>, bucket: &str) -> DbResult<Vec<String>> {
    let mut refs = Refs::default();
    {
        let mut st = tx.prepare_cached("DELETE FROM objects WHERE bucket = ?1 RETURNING blobs")?;
        let rows = st.query_map([bucket], |r| r.get::<_, String>(0))?;
        for blobs in rows {
            refs.remove(ids(&blobs?));
        }
        let mut st = tx.prepare_cached(
            "DELETE FROM parts WHERE upload_id IN (SELECT upload_id FROM uploads WHERE bucket = ?1)
             RETURNING blob_id",
        )?;
        let rows = st.query_map([bucket], |r| r.get::<_, String>(0))?;
        for blob in rows {
            refs.remove([blob?.as_str()]);
        }
    }
    tx.prepare_cached("DELETE FROM uploads WHERE bucket = ?1")?
        .execute([bucket])?;
    settle(tx, &refs)
}

fn get(
    c: &Connection,
    bucket: &str,
    key: &str,
    version_id: Option<&str>,
) -> DbResult<Option<ObjectRecord>> {
    let r = match version_id {
        Some(v) => c
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM objects WHERE bucket = ?1 AND key = ?2 AND version_id = ?3"
            ))?
            .query_row(params![bucket, key, v], record)
            .optional()?,
        None => c
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM objects WHERE bucket = ?1 AND key = ?2
                 ORDER BY seq DESC LIMIT 1"
            ))?
            .query_row(params![bucket, key], record)
            .optional()?,
    };
    Ok(r)
}

/// The range of keys a listing reads, as SQL on `key` with its parameters (from `?2` on; `?1`
/// is the bucket): one lower bound (the later of the prefix and `after`), so that the scan
/// starts where the page does, and the prefix's end.
fn key_range(prefix: &str, after: Option<&str>) -> (String, Vec<String>) {
    let (from, inclusive) = lower_bound(prefix, after);
    let mut sql = format!("key {} ?2", if inclusive { ">=" } else { ">" });
    let mut args = vec![from.to_owned()];
    if let Some(end) = prefix_end(prefix) {
        sql.push_str(" AND key < ?3");
        args.push(end);
    }
    (sql, args)
}

fn list(c: &Connection, q: &ObjectQuery) -> DbResult<Vec<ObjectRecord>> {
    let (range, args) = key_range(&q.prefix, q.after.as_deref());
    let n = args.len() + 2;
    let sql = format!(
        "SELECT {COLUMNS} FROM objects INDEXED BY objects_listed
         WHERE bucket = ?1 AND latest = 1 AND delete_marker = 0 AND {range}
         ORDER BY key LIMIT ?{n}"
    );
    let mut st = c.prepare_cached(&sql)?;
    let mut values: Vec<rusqlite::types::Value> = vec![q.bucket.clone().into()];
    values.extend(args.into_iter().map(Into::into));
    values.push(limit(q.limit).into());
    let rows = st.query_map(rusqlite::params_from_iter(values), record)?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

fn versions(c: &Connection, q: &VersionQuery) -> DbResult<Vec<ObjectRecord>> {
    // From the later of the prefix and the `after` key, inclusive: versions of the `after` key
    // older than its `seq` come first.
    let after_key = q.after.as_ref().map(|(k, _)| k.as_str());
    let from = match after_key {
        Some(k) if k >= q.prefix.as_str() => k,
        _ => q.prefix.as_str(),
    };
    let mut values: Vec<rusqlite::types::Value> =
        vec![q.bucket.clone().into(), from.to_owned().into()];
    let mut sql = format!("SELECT {COLUMNS} FROM objects WHERE bucket = ?1 AND key >= ?2");
    if let Some(end) = prefix_end(&q.prefix) {
        values.push(end.into());
        sql.push_str(&format!(" AND key < ?{}", values.len()));
    }
    if let Some((k, seq)) = &q.after {
        values.push(k.clone().into());
        values.push((*seq).into());
        let (k, s) = (values.len() - 1, values.len());
        sql.push_str(&format!(" AND (key > ?{k} OR seq < ?{s})"));
    }
    values.push(limit(q.limit).into());
    sql.push_str(&format!(" ORDER BY key, seq DESC LIMIT ?{}", values.len()));
    let mut st = c.prepare_cached(&sql)?;
    let rows = st.query_map(rusqlite::params_from_iter(values), record)?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

fn uploads_list(
    c: &Connection,
    bucket: &str,
    prefix: &str,
    after: Option<&(String, String)>,
    n: usize,
) -> DbResult<Vec<UploadRecord>> {
    let from = match after {
        Some((k, _)) if k.as_str() >= prefix => k.as_str(),
        _ => prefix,
    };
    let mut values: Vec<rusqlite::types::Value> =
        vec![bucket.to_owned().into(), from.to_owned().into()];
    let mut sql = String::from(
        "SELECT upload_id, bucket, key, initiated_ms, meta FROM uploads
         WHERE bucket = ?1 AND key >= ?2",
    );
    if let Some(end) = prefix_end(prefix) {
        values.push(end.into());
        sql.push_str(&format!(" AND key < ?{}", values.len()));
    }
    if let Some((k, id)) = after {
        // After `(key, upload_id)` in (key, initiated, id) order: within the key, past that
        // upload's place (all of the key's uploads, when that upload is gone).
        values.push(k.clone().into());
        values.push(id.clone().into());
        let (k, u) = (values.len() - 1, values.len());
        sql.push_str(&format!(
            " AND (key > ?{k} OR (initiated_ms, upload_id) >
                 (coalesce((SELECT initiated_ms FROM uploads WHERE upload_id = ?{u}),
                           -9223372036854775808), ?{u}))"
        ));
    }
    values.push(limit(n).into());
    sql.push_str(&format!(
        " ORDER BY key, initiated_ms, upload_id LIMIT ?{}",
        values.len()
    ));
    let mut st = c.prepare_cached(&sql)?;
    let rows = st.query_map(rusqlite::params_from_iter(values), upload)?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

fn parts(c: &Connection, upload_id: &str, after: u32, n: usize) -> DbResult<Vec<PartRecord>> {
    let mut st = c.prepare_cached(
        "SELECT upload_id, part_number, blob_id, blob_size, etag, modified_ms, meta FROM parts
         WHERE upload_id = ?1 AND part_number > ?2 ORDER BY part_number LIMIT ?3",
    )?;
    let rows = st.query_map(params![upload_id, after, limit(n)], |r| {
        Ok(PartRecord {
            upload_id: r.get(0)?,
            part_number: r.get(1)?,
            blob: BlobRef {
                id: r.get(2)?,
                size: r.get::<_, i64>(3)? as u64,
            },
            etag: r.get(4)?,
            modified_ms: r.get(5)?,
            meta: r.get(6)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

impl ObjectStore for EmbeddedStore {
    fn objects_write(&self, mut w: ObjectWrite) -> BoxFuture<'_, Result<Vec<String>>> {
        // As `append`: no time given, the store's clock stamps the events.
        w.append.now_ms.get_or_insert_with(|| self.clock.now_ms());
        self.exec(move |tx| write(tx, w))
    }

    fn object_get(
        &self,
        bucket: String,
        key: String,
        version_id: Option<String>,
    ) -> BoxFuture<'_, Result<Option<ObjectRecord>>> {
        self.read(move |c| get(c, &bucket, &key, version_id.as_deref()))
    }

    fn objects_list(&self, query: ObjectQuery) -> BoxFuture<'_, Result<Vec<ObjectRecord>>> {
        self.read(move |c| list(c, &query))
    }

    fn object_versions(&self, query: VersionQuery) -> BoxFuture<'_, Result<Vec<ObjectRecord>>> {
        self.read(move |c| versions(c, &query))
    }

    fn bucket_is_empty(&self, bucket: String) -> BoxFuture<'_, Result<bool>> {
        self.read(move |c| {
            let any = c
                .prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM objects WHERE bucket = ?1)
                         OR EXISTS (SELECT 1 FROM uploads WHERE bucket = ?1)",
                )?
                .query_row([&bucket], |r| r.get::<_, bool>(0))?;
            Ok(!any)
        })
    }

    fn bucket_purge(&self, bucket: String) -> BoxFuture<'_, Result<Vec<String>>> {
        self.exec(move |tx| purge(tx, &bucket))
    }

    fn upload_create(&self, u: UploadRecord) -> BoxFuture<'_, Result<()>> {
        self.exec(move |tx| {
            tx.prepare_cached(
                "INSERT INTO uploads (upload_id, bucket, key, initiated_ms, meta)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                u.upload_id,
                u.bucket,
                u.key,
                u.initiated_ms,
                u.meta
            ])?;
            Ok(())
        })
    }

    fn upload_get(&self, upload_id: String) -> BoxFuture<'_, Result<Option<UploadRecord>>> {
        self.read(move |c| {
            Ok(c.prepare_cached(
                "SELECT upload_id, bucket, key, initiated_ms, meta FROM uploads
                 WHERE upload_id = ?1",
            )?
            .query_row([&upload_id], upload)
            .optional()?)
        })
    }

    fn uploads_list(
        &self,
        bucket: String,
        prefix: String,
        after: Option<(String, String)>,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<UploadRecord>>> {
        self.read(move |c| uploads_list(c, &bucket, &prefix, after.as_ref(), limit))
    }

    fn upload_part_put(&self, part: PartRecord) -> BoxFuture<'_, Result<Option<Vec<String>>>> {
        self.exec(move |tx| part_put(tx, part))
    }

    fn upload_parts(
        &self,
        upload_id: String,
        after: u32,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<PartRecord>>> {
        self.read(move |c| parts(c, &upload_id, after, limit))
    }

    fn blobs_referenced(&self, ids: Vec<String>) -> BoxFuture<'_, Result<Vec<String>>> {
        self.read(move |c| {
            let mut st = c.prepare_cached("SELECT 1 FROM blob_refs WHERE id = ?1")?;
            let mut found = Vec::new();
            for id in ids {
                if st.exists([&id])? {
                    found.push(id);
                }
            }
            Ok(found)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plan SQLite picks for `sql`, one line per step.
    fn plan(c: &Connection, sql: &str, args: &[rusqlite::types::Value]) -> String {
        let mut st = c
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .expect("explain");
        let rows = st
            .query_map(rusqlite::params_from_iter(args), |r| r.get::<_, String>(3))
            .expect("plan");
        rows.map(|r| r.expect("row")).collect::<Vec<_>>().join("\n")
    }

    /// A page of a listing is a range search of an index starting at the page (never a scan
    /// of the bucket): latest versions through `objects_listed`, versions through
    /// `objects_by_key`, both bounded by the prefix, with no sort step.
    #[test]
    fn listings_search_an_index_from_where_the_page_starts() {
        let c = Connection::open_in_memory().expect("open");
        c.execute_batch(SCHEMA).expect("schema");
        let (range, _) = key_range("p/", Some("p/x"));
        let sql = format!(
            "SELECT {COLUMNS} FROM objects INDEXED BY objects_listed
             WHERE bucket = ?1 AND latest = 1 AND delete_marker = 0 AND {range}
             ORDER BY key LIMIT ?4"
        );
        let args = ["b", "p/x", "p0"].map(|s| s.to_owned().into());
        let mut args = args.to_vec();
        args.push(10i64.into());
        let p = plan(&c, &sql, &args);
        assert!(
            p.contains("objects_listed (bucket=? AND key>? AND key<?)"),
            "{p}"
        );
        assert!(!p.contains("TEMP B-TREE"), "{p}");
        let p = plan(
            &c,
            &format!(
                "SELECT {COLUMNS} FROM objects WHERE bucket = ?1 AND key >= ?2 AND key < ?3
                 AND (key > ?4 OR seq < ?5) ORDER BY key, seq DESC LIMIT ?6"
            ),
            &[
                "b".to_owned().into(),
                "p/x".to_owned().into(),
                "p0".to_owned().into(),
                "p/x".to_owned().into(),
                5i64.into(),
                10i64.into(),
            ],
        );
        assert!(
            p.contains("objects_by_key (bucket=? AND key>? AND key<?)"),
            "{p}"
        );
        assert!(!p.contains("TEMP B-TREE"), "{p}");
    }
}
