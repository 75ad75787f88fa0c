//! The object index ([`ObjectStore`](eddy_store::ObjectStore)): versions and which is latest,
//! delete markers, listings in byte order, multipart uploads and their parts, the blobs each
//! change frees, and object writes atomic with their append (fencing and ticks included).

use eddy_store::{
    AppendBatch, BlobRef, ObjectChange, ObjectQuery, ObjectRecord, ObjectWrite, PartRecord, Store,
    StoreError, Tick, UploadChange, UploadRecord, VersionQuery,
};

use crate::{Backend, Harness, T0, with_work};

/// A blob id as the blob directory makes them (32 hex digits), from a short name.
pub fn blob(name: &str) -> String {
    let hex: String = name.bytes().map(|b| format!("{b:02x}")).collect();
    format!("{hex:0>32}")
}

fn blob_ref(name: &str, size: u64) -> BlobRef {
    BlobRef {
        id: blob(name),
        size,
    }
}

/// A version of `key` in bucket `b` held in blobs named `blobs` (each 10 bytes).
pub fn version(key: &str, version_id: &str, blobs: &[&str]) -> ObjectRecord {
    ObjectRecord {
        bucket: "b".into(),
        key: key.into(),
        version_id: version_id.into(),
        seq: 0,
        latest: false,
        delete_marker: false,
        blobs: blobs.iter().map(|n| blob_ref(n, 10)).collect(),
        inline: None,
        size: 10 * blobs.len() as u64,
        etag: format!("\"{key}-{version_id}\""),
        modified_ms: T0,
        meta: format!("{{\"v\":\"{version_id}\"}}"),
    }
}

/// A small object of bucket `b` held inline.
pub fn inline(key: &str, data: &[u8]) -> ObjectRecord {
    ObjectRecord {
        inline: Some(data.to_vec()),
        size: data.len() as u64,
        ..version(key, "null", &[])
    }
}

fn marker(key: &str, version_id: &str) -> ObjectRecord {
    ObjectRecord {
        delete_marker: true,
        size: 0,
        ..version(key, version_id, &[])
    }
}

fn puts(records: Vec<ObjectRecord>) -> ObjectWrite {
    ObjectWrite {
        changes: records.into_iter().map(ObjectChange::Put).collect(),
        ..ObjectWrite::default()
    }
}

fn delete(key: &str, version_id: &str) -> ObjectWrite {
    ObjectWrite {
        changes: vec![ObjectChange::Delete {
            bucket: "b".into(),
            key: key.into(),
            version_id: version_id.into(),
        }],
        ..ObjectWrite::default()
    }
}

async fn write(s: &dyn Store, w: ObjectWrite) -> Vec<String> {
    let mut freed = s.objects_write(w).await.expect("objects write");
    freed.sort();
    freed
}

fn query(prefix: &str, after: Option<&str>, limit: usize) -> ObjectQuery {
    ObjectQuery {
        bucket: "b".into(),
        prefix: prefix.into(),
        after: after.map(str::to_owned),
        limit,
    }
}

async fn listed(s: &dyn Store, prefix: &str, after: Option<&str>, limit: usize) -> Vec<String> {
    s.objects_list(query(prefix, after, limit))
        .await
        .expect("list")
        .into_iter()
        .map(|o| o.key)
        .collect()
}

async fn latest(s: &dyn Store, key: &str) -> Option<ObjectRecord> {
    s.object_get("b".into(), key.into(), None)
        .await
        .expect("get")
}

/// Every version of bucket `b` as `(key, version_id, latest, delete_marker)`, in listing order.
async fn all_versions(s: &dyn Store) -> Vec<(String, String, bool, bool)> {
    s.object_versions(VersionQuery {
        bucket: "b".into(),
        prefix: String::new(),
        after: None,
        limit: 1000,
    })
    .await
    .expect("versions")
    .into_iter()
    .map(|o| (o.key, o.version_id, o.latest, o.delete_marker))
    .collect()
}

fn v(key: &str, id: &str, latest: bool, marker: bool) -> (String, String, bool, bool) {
    (key.into(), id.into(), latest, marker)
}

/// A version reads back as written (inline data and blobs); writing it again replaces it with
/// a later position and answers the blobs it no longer names; a version of another bucket or
/// key is unaffected.
pub async fn a_put_reads_back_and_a_replacement_frees_its_blobs<B: Backend>() {
    let h = Harness::<B>::open().await;
    let s = h.store();
    assert!(latest(s, "k").await.is_none());
    let small = inline("small", &[0, 1, 2, 255]);
    let first = version("k", "null", &["a", "b"]);
    assert!(
        write(s, puts(vec![first.clone(), small.clone()]))
            .await
            .is_empty()
    );
    let got = latest(s, "k").await.expect("the version is there");
    assert!(got.latest);
    assert!(got.seq > 0, "a position is assigned: {}", got.seq);
    assert_eq!(
        ObjectRecord {
            seq: 0,
            latest: false,
            ..got.clone()
        },
        first
    );
    let got_small = s
        .object_get("b".into(), "small".into(), Some("null".into()))
        .await
        .expect("get")
        .expect("there");
    assert_eq!(got_small.inline.as_deref(), Some(&[0u8, 1, 2, 255][..]));
    assert!(got_small.blobs.is_empty());
    assert!(
        s.object_get("other".into(), "k".into(), None)
            .await
            .expect("get")
            .is_none()
    );
    // The replacement keeps blob `b` and adds `c`: only `a` is freed.
    let second = version("k", "null", &["b", "c"]);
    assert_eq!(write(s, puts(vec![second.clone()])).await, vec![blob("a")]);
    let again = latest(s, "k").await.expect("there");
    assert!(again.seq > got.seq, "{} then {}", got.seq, again.seq);
    assert_eq!(again.blobs, second.blobs);
    assert_eq!(all_versions(s).await.len(), 2, "replaced, not added");
    // An inline replacement frees every blob.
    let freed = write(s, puts(vec![inline("k", b"x")])).await;
    assert_eq!(freed, vec![blob("b"), blob("c")]);
}

/// In a versioned key the latest version is the last written; deleting it makes the previous
/// one latest; a delete marker is latest (read by `object_get`) but hides the key from
/// `objects_list`, while `object_versions` shows every version newest first.
pub async fn versions_latest_and_delete_markers<B: Backend>() {
    let h = Harness::<B>::open().await;
    let s = h.store();
    write(s, puts(vec![version("k", "v1", &["1"])])).await;
    write(s, puts(vec![version("k", "v2", &["2"])])).await;
    write(s, puts(vec![version("k", "v3", &["3"])])).await;
    write(s, puts(vec![version("z", "v1", &["z"])])).await;
    assert_eq!(latest(s, "k").await.expect("k").version_id, "v3");
    assert_eq!(
        all_versions(s).await,
        vec![
            v("k", "v3", true, false),
            v("k", "v2", false, false),
            v("k", "v1", false, false),
            v("z", "v1", true, false),
        ]
    );
    // Deleting the latest: the previous one is latest again, and its blob is freed.
    assert_eq!(write(s, delete("k", "v3")).await, vec![blob("3")]);
    assert_eq!(latest(s, "k").await.expect("k").version_id, "v2");
    // Deleting an older one changes nothing else; deleting what is not there is nothing.
    assert_eq!(write(s, delete("k", "v1")).await, vec![blob("1")]);
    assert!(write(s, delete("k", "v1")).await.is_empty());
    assert!(write(s, delete("nothing", "v1")).await.is_empty());
    assert_eq!(latest(s, "k").await.expect("k").version_id, "v2");
    // Writing an old version id again makes it the latest (a new position).
    write(s, puts(vec![version("z", "v0", &["z0"])])).await;
    write(s, puts(vec![version("z", "v1", &["z"])])).await;
    assert_eq!(latest(s, "z").await.expect("z").version_id, "v1");
    // A delete marker.
    write(s, puts(vec![marker("k", "m1")])).await;
    let m = latest(s, "k").await.expect("the marker is the latest");
    assert!(m.delete_marker && m.latest && m.blobs.is_empty());
    assert_eq!(listed(s, "", None, 100).await, vec!["z"]);
    assert_eq!(
        all_versions(s).await,
        vec![
            v("k", "m1", true, true),
            v("k", "v2", false, false),
            v("z", "v1", true, false),
            v("z", "v0", false, false),
        ]
    );
    // Removing the marker brings the key back.
    assert!(write(s, delete("k", "m1")).await.is_empty());
    assert_eq!(listed(s, "", None, 100).await, vec!["k", "z"]);
    let listed_k = s.objects_list(query("k", None, 1)).await.expect("list");
    assert_eq!(listed_k[0].version_id, "v2");
    assert!(listed_k[0].latest);
}

/// `objects_list` pages through latest versions in byte order (multi-byte UTF-8 included), by
/// prefix (keys that differ only past it, and keys just outside it), `after` and `limit`;
/// `object_versions` pages by `(key, seq)`.
pub async fn listings_page_in_byte_order<B: Backend>() {
    let h = Harness::<B>::open().await;
    let s = h.store();
    let keys = [
        "a",
        "a/1",
        "a/10",
        "a/2",
        "a/é",
        "a/z",
        "a0",
        "aé",
        "a\u{10FFFF}",
        "b",
        "é",
        "z",
        "日本",
        "日本/x",
        "\u{1F600}",
    ];
    let mut records: Vec<ObjectRecord> = keys.iter().map(|k| inline(k, k.as_bytes())).collect();
    // Another bucket, interleaved.
    records.push(ObjectRecord {
        bucket: "c".into(),
        ..inline("a/1", b"c")
    });
    write(s, puts(records)).await;
    let mut sorted: Vec<&str> = keys.to_vec();
    sorted.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    assert_eq!(listed(s, "", None, 1000).await, sorted);
    // Pages of 4 through everything.
    let mut paged = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = listed(s, "", after.as_deref(), 4).await;
        assert!(page.len() <= 4);
        let Some(last) = page.last().cloned() else {
            break;
        };
        paged.extend(page);
        after = Some(last);
    }
    assert_eq!(paged, sorted);
    // Prefixes.
    assert_eq!(
        listed(s, "a/", None, 1000).await,
        vec!["a/1", "a/10", "a/2", "a/z", "a/é"]
    );
    assert_eq!(listed(s, "a/1", None, 1000).await, vec!["a/1", "a/10"]);
    assert_eq!(listed(s, "a/", Some("a/10"), 2).await, vec!["a/2", "a/z"]);
    assert_eq!(listed(s, "a/", Some("a/é"), 10).await, Vec::<String>::new());
    assert_eq!(listed(s, "a/", Some("0"), 1).await, vec!["a/1"]);
    assert_eq!(listed(s, "日本", None, 10).await, vec!["日本", "日本/x"]);
    assert_eq!(
        listed(s, "a\u{10FFFF}", None, 10).await,
        vec!["a\u{10FFFF}"]
    );
    assert_eq!(listed(s, "\u{1F600}", None, 10).await, vec!["\u{1F600}"]);
    assert_eq!(listed(s, "q", None, 10).await, Vec::<String>::new());
    assert_eq!(
        listed(s, "", Some("z"), 10).await,
        vec!["é", "日本", "日本/x", "\u{1F600}"]
    );
    // Versions, paged by (key, seq).
    write(s, puts(vec![version("a/1", "v2", &[])])).await;
    write(s, puts(vec![version("a/1", "v3", &[])])).await;
    let q = |after: Option<(String, i64)>| VersionQuery {
        bucket: "b".into(),
        prefix: "a/1".into(),
        after,
        limit: 2,
    };
    let first = s.object_versions(q(None)).await.expect("versions");
    let ids: Vec<(&str, &str)> = first
        .iter()
        .map(|o| (o.key.as_str(), o.version_id.as_str()))
        .collect();
    assert_eq!(ids, vec![("a/1", "v3"), ("a/1", "v2")]);
    let last = first.last().expect("a page");
    let second = s
        .object_versions(q(Some((last.key.clone(), last.seq))))
        .await
        .expect("versions");
    let ids: Vec<(&str, &str)> = second
        .iter()
        .map(|o| (o.key.as_str(), o.version_id.as_str()))
        .collect();
    assert_eq!(ids, vec![("a/1", "null"), ("a/10", "null")]);
}

/// A `Meta` change replaces a version's metadata and keeps its position (and which version is
/// latest); on a version that is not there it does nothing.
pub async fn a_meta_change_keeps_the_position<B: Backend>() {
    let h = Harness::<B>::open().await;
    let s = h.store();
    write(s, puts(vec![version("k", "v1", &["1"])])).await;
    write(s, puts(vec![version("k", "v2", &["2"])])).await;
    let before = s
        .object_get("b".into(), "k".into(), Some("v1".into()))
        .await
        .expect("get")
        .expect("v1");
    let meta = |version_id: &str| ObjectWrite {
        changes: vec![ObjectChange::Meta {
            bucket: "b".into(),
            key: "k".into(),
            version_id: version_id.into(),
            meta: "{\"tags\":1}".into(),
        }],
        ..ObjectWrite::default()
    };
    assert!(write(s, meta("v1")).await.is_empty());
    assert!(write(s, meta("gone")).await.is_empty());
    let after = s
        .object_get("b".into(), "k".into(), Some("v1".into()))
        .await
        .expect("get")
        .expect("v1");
    assert_eq!(after.meta, "{\"tags\":1}");
    assert_eq!(after.seq, before.seq);
    assert_eq!(latest(s, "k").await.expect("k").version_id, "v2");
    assert!(
        s.object_get("b".into(), "k".into(), Some("gone".into()))
            .await
            .expect("get")
            .is_none()
    );
}

fn upload(id: &str, key: &str, initiated_ms: i64) -> UploadRecord {
    UploadRecord {
        upload_id: id.into(),
        bucket: "b".into(),
        key: key.into(),
        initiated_ms,
        meta: format!("{{\"u\":\"{id}\"}}"),
    }
}

fn part(upload_id: &str, n: u32, blob_name: &str) -> PartRecord {
    PartRecord {
        upload_id: upload_id.into(),
        part_number: n,
        blob: blob_ref(blob_name, 5),
        etag: format!("\"{blob_name}\""),
        modified_ms: T0,
        meta: "{}".into(),
    }
}

/// Uploads are created, read and listed (by key, then initiation, with `after`); parts are put
/// and replaced (the replaced blob freed), listed in order; a part of an upload that is not
/// there writes nothing and answers `None`; completing with `keep` frees the other parts'
/// blobs and removes the upload, while the object takes the kept ones.
pub async fn multipart_uploads_and_their_parts<B: Backend>() {
    let h = Harness::<B>::open().await;
    let s = h.store();
    for u in [
        upload("u2", "k", T0 + 1),
        upload("u1", "k", T0 + 2),
        upload("u3", "a", T0 + 3),
        upload("u4", "x/1", T0),
    ] {
        s.upload_create(u).await.expect("create");
    }
    s.upload_create(UploadRecord {
        bucket: "other".into(),
        ..upload("u5", "k", T0)
    })
    .await
    .expect("create");
    assert_eq!(
        s.upload_get("u1".into()).await.expect("get"),
        Some(upload("u1", "k", T0 + 2))
    );
    assert_eq!(s.upload_get("nope".into()).await.expect("get"), None);
    let list = |prefix: &str, after: Option<(&str, &str)>, limit: usize| {
        let after = after.map(|(k, u)| (k.to_owned(), u.to_owned()));
        let prefix = prefix.to_owned();
        async move {
            s.uploads_list("b".into(), prefix, after, limit)
                .await
                .expect("uploads")
                .into_iter()
                .map(|u| u.upload_id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(list("", None, 10).await, vec!["u3", "u2", "u1", "u4"]);
    assert_eq!(list("k", None, 10).await, vec!["u2", "u1"]);
    assert_eq!(list("", Some(("k", "u2")), 10).await, vec!["u1", "u4"]);
    assert_eq!(list("", Some(("a", "u3")), 2).await, vec!["u2", "u1"]);
    assert_eq!(list("x/", None, 10).await, vec!["u4"]);
    // Parts.
    for (n, b) in [(2, "p2"), (1, "p1"), (3, "p3")] {
        assert_eq!(
            s.upload_part_put(part("u1", n, b)).await.expect("part"),
            Some(Vec::new())
        );
    }
    assert_eq!(
        s.upload_part_put(part("u1", 2, "p2b")).await.expect("part"),
        Some(vec![blob("p2")]),
        "the replaced part's blob is freed"
    );
    assert_eq!(
        s.upload_part_put(part("nope", 1, "orphan"))
            .await
            .expect("part"),
        None
    );
    assert!(
        s.blobs_referenced(vec![blob("orphan")])
            .await
            .expect("referenced")
            .is_empty(),
        "a part of a missing upload is not recorded"
    );
    let parts = s.upload_parts("u1".into(), 0, 10).await.expect("parts");
    assert_eq!(
        parts,
        vec![
            part("u1", 1, "p1"),
            part("u1", 2, "p2b"),
            part("u1", 3, "p3")
        ]
    );
    let rest = s.upload_parts("u1".into(), 1, 1).await.expect("parts");
    assert_eq!(rest, vec![part("u1", 2, "p2b")]);
    // Completing with parts 1 and 2: part 3's blob is freed, the object owns the others.
    let complete = ObjectWrite {
        changes: vec![ObjectChange::Put(version("k", "null", &["p1", "p2b"]))],
        upload: Some(UploadChange::Finish {
            upload_id: "u1".into(),
            keep: vec![blob("p1"), blob("p2b")],
        }),
        append: AppendBatch::default(),
    };
    assert_eq!(write(s, complete).await, vec![blob("p3")]);
    assert_eq!(s.upload_get("u1".into()).await.expect("get"), None);
    assert!(
        s.upload_parts("u1".into(), 0, 10)
            .await
            .expect("parts")
            .is_empty()
    );
    assert_eq!(
        s.upload_part_put(part("u1", 4, "late"))
            .await
            .expect("part"),
        None,
        "a completed upload takes no more parts"
    );
    let mut referenced = s
        .blobs_referenced(vec![blob("p1"), blob("p2b"), blob("p3"), blob("p2")])
        .await
        .expect("referenced");
    referenced.sort();
    assert_eq!(referenced, vec![blob("p1"), blob("p2b")]);
    // Aborting (nothing kept) frees every part.
    s.upload_part_put(part("u2", 1, "q1")).await.expect("part");
    let abort = ObjectWrite {
        upload: Some(UploadChange::Finish {
            upload_id: "u2".into(),
            keep: Vec::new(),
        }),
        ..ObjectWrite::default()
    };
    assert_eq!(write(s, abort).await, vec![blob("q1")]);
    assert_eq!(list("k", None, 10).await, Vec::<String>::new());
}

/// An object write commits its events (with their work) and its ticks with its records; one
/// whose ack names a lost lease, or whose tick was taken, writes nothing at all, neither
/// records nor events nor upload changes, and fails with `LeaseLost` / `TickTaken`.
pub async fn an_object_write_is_atomic_with_its_append<B: Backend>() {
    let h = Harness::<B>::open().await;
    let s = h.store();
    s.append(with_work("w", 1, T0)).await.expect("append");
    let items = s.lease(None, T0, 1, 60_000).await.expect("lease");
    let lease = items[0].lease();
    // The lease is lost: the item settled by someone else.
    assert!(s.ack(vec![lease]).await.expect("ack").is_empty());
    s.upload_create(upload("u", "k", T0)).await.expect("create");
    s.upload_part_put(part("u", 1, "p")).await.expect("part");
    let mut append = with_work("obj", 1, T0);
    append.ack = vec![lease];
    let refused = ObjectWrite {
        changes: vec![ObjectChange::Put(version("k", "null", &["p"]))],
        upload: Some(UploadChange::Finish {
            upload_id: "u".into(),
            keep: vec![blob("p")],
        }),
        append,
    };
    match s.objects_write(refused).await {
        Err(StoreError::LeaseLost(lost)) => assert_eq!(lost, vec![lease]),
        other => panic!("expected LeaseLost, got {other:?}"),
    }
    assert!(latest(s, "k").await.is_none(), "no record");
    assert!(
        s.upload_get("u".into()).await.expect("get").is_some(),
        "the upload stays"
    );
    assert_eq!(
        s.upload_parts("u".into(), 0, 10)
            .await
            .expect("parts")
            .len(),
        1
    );
    let events = s.events(0, 10).await.expect("events");
    assert_eq!(events.len(), 1, "no event of the refused write: {events:?}");
    // A tick taken refuses the write whole as well.
    let tick = |tick_ms| Tick {
        schedule: "s".into(),
        tick_ms,
    };
    let fired = AppendBatch {
        ticks: vec![tick(100)],
        ..AppendBatch::default()
    };
    s.append(fired).await.expect("tick");
    let mut again = with_work("again", 1, T0);
    again.ticks = vec![tick(100)];
    let taken = ObjectWrite {
        changes: vec![ObjectChange::Put(version("k2", "null", &[]))],
        append: again,
        ..ObjectWrite::default()
    };
    assert!(matches!(
        s.objects_write(taken).await,
        Err(StoreError::TickTaken(_))
    ));
    assert!(latest(s, "k2").await.is_none());
    assert_eq!(s.events(0, 10).await.expect("events").len(), 1);
    // The same write with a current lease and a later tick commits everything.
    s.append(with_work("w2", 1, T0)).await.expect("append");
    let lease = s.lease(None, T0, 1, 60_000).await.expect("lease")[0].lease();
    let mut append = with_work("obj", 1, T0);
    append.ack = vec![lease];
    append.ticks = vec![tick(200)];
    let done = ObjectWrite {
        changes: vec![ObjectChange::Put(version("k", "null", &["p"]))],
        upload: Some(UploadChange::Finish {
            upload_id: "u".into(),
            keep: vec![blob("p")],
        }),
        append,
    };
    assert!(write(s, done).await.is_empty());
    assert_eq!(
        latest(s, "k").await.expect("k").blobs,
        vec![blob_ref("p", 10)]
    );
    assert!(s.upload_get("u".into()).await.expect("get").is_none());
    let events = s.events(0, 10).await.expect("events");
    assert_eq!(
        events.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
        vec!["w0", "w20", "obj0"]
    );
    assert_eq!(s.ticks().await.expect("ticks"), vec![("s".to_owned(), 200)]);
    let owed = s.lease(None, T0, 10, 60_000).await.expect("lease");
    assert_eq!(
        owed.len(),
        1,
        "the write's delivery is owed, the acked one settled"
    );
    assert_eq!(owed[0].event_id, "obj0");
    // An empty append is fine.
    assert!(write(s, puts(vec![inline("plain", b"p")])).await.is_empty());
    assert!(latest(s, "plain").await.is_some());
}

/// An upload `u` of key `k` with parts 1 and 2 in blobs `p1` and `p2`.
async fn two_part_upload(s: &dyn Store) {
    s.upload_create(upload("u", "k", T0)).await.expect("create");
    for (n, b) in [(1, "p1"), (2, "p2")] {
        s.upload_part_put(part("u", n, b)).await.expect("part");
    }
}

/// The completion of upload `u` as `version_id` of `k` made of (and keeping) blobs `keep`,
/// with one event owing one delivery.
fn completion(version_id: &str, keep: &[&str]) -> ObjectWrite {
    ObjectWrite {
        changes: vec![ObjectChange::Put(version("k", version_id, keep))],
        upload: Some(UploadChange::Finish {
            upload_id: "u".into(),
            keep: keep.iter().map(|b| blob(b)).collect(),
        }),
        append: with_work(&format!("done-{version_id}-"), 1, T0),
    }
}

fn abort(upload_id: &str) -> ObjectWrite {
    ObjectWrite {
        upload: Some(UploadChange::Finish {
            upload_id: upload_id.into(),
            keep: Vec::new(),
        }),
        ..ObjectWrite::default()
    }
}

/// Of these blobs, those referenced, sorted.
async fn referenced(s: &dyn Store, names: &[&str]) -> Vec<String> {
    let mut found = s
        .blobs_referenced(names.iter().map(|n| blob(n)).collect())
        .await
        .expect("referenced");
    found.sort();
    found
}

/// Nothing of a refused completion is there: no version of `k`, no event, no work.
async fn no_completion(s: &dyn Store) {
    assert!(all_versions(s).await.is_empty(), "no version");
    let events = s.events(0, 10).await.expect("events");
    assert!(events.is_empty(), "no event: {events:?}");
    assert_eq!(s.counts().await.expect("counts").work_items, 0, "no work");
}

/// A finish of an upload that is gone (aborted, or never there) writes nothing at all, neither
/// records nor events, and fails with `UploadGone`: a completion that lost to an abort never
/// makes an object of the blobs the abort freed.
pub async fn a_finish_of_a_finished_upload_is_refused_whole<B: Backend>() {
    let h = Harness::<B>::open().await;
    let s = h.store();
    two_part_upload(s).await;
    let mut freed = write(s, abort("u")).await;
    freed.sort();
    assert_eq!(
        freed,
        vec![blob("p1"), blob("p2")],
        "the abort frees every part"
    );
    match s.objects_write(completion("v1", &["p1", "p2"])).await {
        Err(StoreError::UploadGone(id)) => assert_eq!(id, "u"),
        other => panic!("expected UploadGone, got {other:?}"),
    }
    no_completion(s).await;
    assert!(referenced(s, &["p1", "p2"]).await.is_empty());
    // An abort of an aborted upload, and a finish of one never there, are refused alike.
    assert!(matches!(
        s.objects_write(abort("u")).await,
        Err(StoreError::UploadGone(id)) if id == "u"
    ));
    assert!(matches!(
        s.objects_write(abort("never")).await,
        Err(StoreError::UploadGone(id)) if id == "never"
    ));
    no_completion(s).await;
    // A completed upload is gone too: completing it again is refused.
    s.upload_create(upload("u", "k", T0)).await.expect("create");
    s.upload_part_put(part("u", 1, "q1")).await.expect("part");
    assert!(write(s, completion("v1", &["q1"])).await.is_empty());
    assert!(matches!(
        s.objects_write(completion("v2", &["q1"])).await,
        Err(StoreError::UploadGone(_))
    ));
    assert_eq!(
        all_versions(s).await,
        vec![v("k", "v1", true, false)],
        "only the first completion's version"
    );
    assert_eq!(s.events(0, 10).await.expect("events").len(), 1);
    // The kept blob is referenced once: deleting the object frees it.
    assert_eq!(write(s, delete("k", "v1")).await, vec![blob("q1")]);
    assert!(referenced(s, &["q1"]).await.is_empty());
}

/// A completion keeping a blob that is no longer a part (the part was uploaded again since the
/// parts were read) writes nothing and fails with `PartReplaced` naming that blob; the upload
/// and its parts stay as the part upload left them, and a completion with the parts as they
/// are now then goes through.
pub async fn a_finish_keeping_a_replaced_part_is_refused_whole<B: Backend>() {
    let h = Harness::<B>::open().await;
    let s = h.store();
    two_part_upload(s).await;
    assert_eq!(
        s.upload_part_put(part("u", 2, "p2b")).await.expect("part"),
        Some(vec![blob("p2")]),
        "the replaced part's blob is freed"
    );
    match s.objects_write(completion("v1", &["p1", "p2"])).await {
        Err(StoreError::PartReplaced { upload_id, blobs }) => {
            assert_eq!(upload_id, "u");
            assert_eq!(blobs, vec![blob("p2")]);
        }
        other => panic!("expected PartReplaced, got {other:?}"),
    }
    no_completion(s).await;
    assert!(
        s.upload_get("u".into()).await.expect("get").is_some(),
        "the upload stays"
    );
    assert_eq!(
        s.upload_parts("u".into(), 0, 10).await.expect("parts"),
        vec![part("u", 1, "p1"), part("u", 2, "p2b")]
    );
    assert_eq!(referenced(s, &["p1", "p2", "p2b"]).await, {
        let mut r = vec![blob("p1"), blob("p2b")];
        r.sort();
        r
    });
    // A blob that never was a part of it is refused the same way.
    assert!(matches!(
        s.objects_write(completion("v1", &["p1", "elsewhere"])).await,
        Err(StoreError::PartReplaced { blobs, .. }) if blobs == vec![blob("elsewhere")]
    ));
    no_completion(s).await;
    // Completing with the parts as they are now: the object owns them, nothing is freed.
    assert!(write(s, completion("v1", &["p1", "p2b"])).await.is_empty());
    assert_eq!(
        latest(s, "k").await.expect("k").blobs,
        vec![blob_ref("p1", 10), blob_ref("p2b", 10)]
    );
    assert_eq!(s.events(0, 10).await.expect("events").len(), 1);
    let mut freed = write(s, delete("k", "v1")).await;
    freed.sort();
    let mut expected = vec![blob("p1"), blob("p2b")];
    expected.sort();
    assert_eq!(freed, expected, "each kept blob is referenced once");
}

/// Finishes of one upload racing each other (two completions, a completion and an abort) and a
/// completion racing a part upload that replaces a part it keeps: exactly one finish commits,
/// the other is refused whole, and every blob is referenced as many times as it is named.
pub async fn racing_finishes_of_one_upload_commit_once<B: Backend>() {
    let h = Harness::<B>::open().await;
    let s = h.store();
    // Two completions at once (as two versions, to see both were they both to land).
    two_part_upload(s).await;
    let racing = vec![
        s.objects_write(completion("v1", &["p1", "p2"])),
        s.objects_write(completion("v2", &["p1", "p2"])),
    ];
    let answers = crate::join_all(racing).await;
    let won: Vec<_> = answers.iter().filter(|r| r.is_ok()).collect();
    assert_eq!(won.len(), 1, "one completion commits: {answers:?}");
    assert!(
        answers
            .iter()
            .any(|r| matches!(r, Err(StoreError::UploadGone(id)) if id == "u")),
        "the other is refused: {answers:?}"
    );
    let versions = all_versions(s).await;
    assert_eq!(versions.len(), 1, "one version: {versions:?}");
    assert_eq!(s.events(0, 10).await.expect("events").len(), 1);
    let mut freed = write(s, delete("k", &versions[0].1)).await;
    freed.sort();
    assert_eq!(
        freed,
        vec![blob("p1"), blob("p2")],
        "the blobs were referenced once, by the one object"
    );
    // A completion and an abort at once: one of them.
    two_part_upload(s).await;
    let racing = vec![
        s.objects_write(completion("v3", &["p1", "p2"])),
        s.objects_write(abort("u")),
    ];
    let answers = crate::join_all(racing).await;
    match &answers[..] {
        [Ok(freed), Err(StoreError::UploadGone(_))] => {
            assert!(freed.is_empty());
            assert!(latest(s, "k").await.is_some());
            assert_eq!(referenced(s, &["p1", "p2"]).await.len(), 2);
            write(s, delete("k", "v3")).await;
        }
        [Err(StoreError::UploadGone(_)), Ok(freed)] => {
            assert_eq!(freed.len(), 2, "the abort frees every part");
            assert!(latest(s, "k").await.is_none(), "no object of freed blobs");
        }
        other => panic!("one of a completion and an abort commits: {other:?}"),
    }
    assert!(referenced(s, &["p1", "p2"]).await.is_empty());
    // A completion and a part upload replacing a part it keeps, at once.
    two_part_upload(s).await;
    let racing: Vec<eddy_store::BoxFuture<'_, eddy_store::Result<Option<Vec<String>>>>> = vec![
        Box::pin(async {
            s.objects_write(completion("v4", &["p1", "p2"]))
                .await
                .map(Some)
        }),
        s.upload_part_put(part("u", 2, "p2b")),
    ];
    let answers = crate::join_all(racing).await;
    match &answers[..] {
        [Ok(Some(freed)), Ok(None)] => {
            assert!(freed.is_empty());
            assert_eq!(
                latest(s, "k").await.expect("k").blobs,
                vec![blob_ref("p1", 10), blob_ref("p2", 10)]
            );
            assert_eq!(referenced(s, &["p1", "p2", "p2b"]).await.len(), 2);
        }
        [Err(StoreError::PartReplaced { blobs, .. }), Ok(Some(freed))] => {
            assert_eq!(blobs, &vec![blob("p2")]);
            assert_eq!(
                freed,
                &vec![blob("p2")],
                "the part upload frees the old blob"
            );
            assert!(
                latest(s, "k").await.is_none(),
                "no object of the freed blob"
            );
            let mut expected = vec![blob("p1"), blob("p2b")];
            expected.sort();
            assert_eq!(referenced(s, &["p1", "p2", "p2b"]).await, expected);
        }
        other => panic!("a completion and a part upload follow one another: {other:?}"),
    }
}

/// A bucket is empty until it holds a version, a delete marker or an upload; purging removes
/// them all (other buckets untouched) and answers every blob they held.
pub async fn bucket_is_empty_and_purge<B: Backend>() {
    let h = Harness::<B>::open().await;
    let s = h.store();
    assert!(s.bucket_is_empty("b".into()).await.expect("empty"));
    write(s, puts(vec![marker("m", "1")])).await;
    assert!(!s.bucket_is_empty("b".into()).await.expect("empty"));
    write(s, delete("m", "1")).await;
    assert!(s.bucket_is_empty("b".into()).await.expect("empty"));
    s.upload_create(upload("u", "k", T0)).await.expect("create");
    assert!(!s.bucket_is_empty("b".into()).await.expect("empty"));
    s.upload_part_put(part("u", 1, "p")).await.expect("part");
    write(s, puts(vec![version("k", "v1", &["1", "2"])])).await;
    write(s, puts(vec![version("k", "v2", &["3"])])).await;
    write(
        s,
        puts(vec![ObjectRecord {
            bucket: "keep".into(),
            ..version("k", "null", &["other"])
        }]),
    )
    .await;
    let mut freed = s.bucket_purge("b".into()).await.expect("purge");
    freed.sort();
    let mut expected = vec![blob("1"), blob("2"), blob("3"), blob("p")];
    expected.sort();
    assert_eq!(freed, expected);
    assert!(s.bucket_is_empty("b".into()).await.expect("empty"));
    assert!(s.upload_get("u".into()).await.expect("get").is_none());
    assert!(!s.bucket_is_empty("keep".into()).await.expect("empty"));
    assert_eq!(
        s.blobs_referenced(vec![blob("1"), blob("other"), blob("p")])
            .await
            .expect("referenced"),
        vec![blob("other")]
    );
}

/// `blobs_referenced` answers the ids a version or a part names, and only those.
pub async fn blobs_referenced_by_versions_and_parts<B: Backend>() {
    let h = Harness::<B>::open().await;
    let s = h.store();
    write(s, puts(vec![version("k", "v1", &["a", "b"])])).await;
    s.upload_create(upload("u", "k", T0)).await.expect("create");
    s.upload_part_put(part("u", 1, "c")).await.expect("part");
    let ask = vec![blob("a"), blob("x"), blob("c"), blob("b")];
    let mut found = s.blobs_referenced(ask).await.expect("referenced");
    found.sort();
    let mut expected = vec![blob("a"), blob("b"), blob("c")];
    expected.sort();
    assert_eq!(found, expected);
    assert!(
        s.blobs_referenced(Vec::new())
            .await
            .expect("referenced")
            .is_empty()
    );
}

/// Reset wipes the object index (versions, uploads, parts); positions go on growing after it.
pub async fn reset_wipes_the_object_index<B: Backend>() {
    let h = Harness::<B>::open().await;
    let s = h.store();
    write(s, puts(vec![version("k", "v1", &["a"])])).await;
    let before = latest(s, "k").await.expect("k").seq;
    s.upload_create(upload("u", "k", T0)).await.expect("create");
    s.upload_part_put(part("u", 1, "p")).await.expect("part");
    s.reset().await.expect("reset");
    assert!(latest(s, "k").await.is_none());
    assert!(s.bucket_is_empty("b".into()).await.expect("empty"));
    assert!(s.upload_get("u".into()).await.expect("get").is_none());
    assert!(
        s.upload_parts("u".into(), 0, 10)
            .await
            .expect("parts")
            .is_empty()
    );
    assert!(
        s.blobs_referenced(vec![blob("a"), blob("p")])
            .await
            .expect("referenced")
            .is_empty()
    );
    write(s, puts(vec![version("k", "v1", &["a"])])).await;
    assert!(
        latest(s, "k").await.expect("k").seq > before,
        "positions are never reused"
    );
}

/// Many object writes at once (a group commit) are all kept, each key's latest the one written.
pub async fn concurrent_object_writes_are_all_kept<B: Backend>() {
    let h = Harness::<B>::open().await;
    let s = h.store();
    let writes: Vec<_> = (0..200)
        .map(|i| {
            let append = AppendBatch {
                events: vec![crate::event(&format!("e{i}"), "r:default", 0)],
                ..AppendBatch::default()
            };
            s.objects_write(ObjectWrite {
                changes: vec![ObjectChange::Put(inline(
                    &format!("k{i:03}"),
                    &[i as u8; 64],
                ))],
                append,
                ..ObjectWrite::default()
            })
        })
        .collect();
    for r in crate::join_all(writes).await {
        assert!(r.expect("write").is_empty());
    }
    let all = s.objects_list(query("k", None, 1000)).await.expect("list");
    assert_eq!(all.len(), 200);
    assert_eq!(all[7].inline.as_deref(), Some(&[7u8; 64][..]));
    assert_eq!(s.events(0, 1000).await.expect("events").len(), 200);
}
