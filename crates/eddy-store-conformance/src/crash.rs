//! Crash points: whatever the store acknowledged before a crash is there after it, whole, and
//! nothing it refused or did not finish is. A restart ([`Backend::restart`]) is a process crash;
//! a power loss ([`Backend::power_loss`]) also loses what the store wrote but did not make
//! durable, so it shows a store that acknowledges before it syncs.

use eddy_store::queue::DEDUP_WINDOW_MS;
use eddy_store::{DefinitionChange, Lease, NewMessage, ReceiveOptions, Store, StoreError, Tick};

use crate::{Backend, Harness, T0, log, message, whole_group, with_work};

const HOUR_MS: i64 = 3_600_000;

/// What [`acknowledge_one_of_everything`] left, to find again.
struct Acknowledged {
    /// The work item still leased (for an hour), with its lease.
    held: Lease,
    /// The receipt of the message in flight.
    receipt: String,
}

fn receive(now_ms: i64) -> ReceiveOptions {
    ReceiveOptions {
        now_ms,
        max: 1,
        visibility_ms: 30_000,
        fifo: false,
        redrive: None,
        retention_ms: 4 * 24 * HOUR_MS,
    }
}

/// One acknowledged change of every kind: events with their work and a tick, a work item
/// settled, one dead-lettered and one still leased; definitions put and deleted; messages sent
/// (one in flight, one with a deduplication id); log events.
async fn acknowledge_one_of_everything(s: &dyn Store) -> Acknowledged {
    let mut batch = with_work("e", 3, T0);
    batch.ticks = vec![Tick {
        schedule: "s".into(),
        tick_ms: 60_000,
    }];
    s.append(batch).await.expect("append");
    let items = s.lease(None, T0, 3, HOUR_MS).await.expect("lease");
    assert!(s.ack(vec![items[0].lease()]).await.expect("ack").is_empty());
    assert!(
        s.dead_letter(items[1].lease(), "gave up".into(), T0)
            .await
            .expect("dead letter")
    );
    s.apply(vec![
        DefinitionChange::put("bus", "a", b"1".to_vec()),
        DefinitionChange::put("bus", "b", b"2".to_vec()),
    ])
    .await
    .expect("apply");
    s.apply(vec![DefinitionChange::delete("bus", "a")])
        .await
        .expect("apply");
    s.queue_send(
        "q".into(),
        vec![message("m1"), message("m2")],
        T0,
        Vec::new(),
    )
    .await
    .expect("send");
    let deduplicated = NewMessage {
        group_id: Some("g".into()),
        dedup_id: Some("d".into()),
        ..message("f1")
    };
    s.queue_send("q.fifo".into(), vec![deduplicated], T0, Vec::new())
        .await
        .expect("send");
    let got = s
        .queue_receive("q".into(), receive(T0))
        .await
        .expect("receive");
    s.logs_append(vec![log("g", "s", 1), log("g", "s", 2)], T0, Vec::new())
        .await
        .expect("logs");
    Acknowledged {
        held: items[2].lease(),
        receipt: got[0].receipt.clone(),
    }
}

/// Finds every change of [`acknowledge_one_of_everything`] again.
async fn find_it_all(s: &dyn Store, acked: &Acknowledged) {
    let ids: Vec<String> = s
        .events(0, 100)
        .await
        .expect("events")
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(ids, ["e0", "e1", "e2"]);
    let c = s.counts().await.expect("counts");
    assert_eq!(
        (c.events, c.work_items, c.dead_letters, c.definitions),
        (3, 1, 1, 1)
    );
    let dead = s.dead_letters(10).await.expect("dead letters");
    assert_eq!(
        (dead[0].event_id.as_str(), dead[0].reason.as_str()),
        ("e1", "gave up")
    );
    assert_eq!(s.ticks().await.expect("ticks"), [("s".to_owned(), 60_000)]);
    // The lease is still current, and still runs: nobody else gets the item.
    assert!(
        s.lease(None, T0 + 1, 10, 1_000)
            .await
            .expect("lease")
            .is_empty()
    );
    assert!(
        s.extend(vec![acked.held], HOUR_MS)
            .await
            .expect("extend")
            .is_empty()
    );
    assert_eq!(
        s.definitions().await.expect("definitions").items,
        [("bus".to_owned(), "b".to_owned(), b"2".to_vec())]
    );
    let st = s.queue_stats("q".into(), T0).await.expect("stats");
    assert_eq!((st.visible, st.in_flight), (1, 1));
    assert_eq!(
        s.queue_delete("q".into(), vec![acked.receipt.clone()])
            .await
            .expect("delete"),
        [true],
        "the receipt handed out before the crash still deletes"
    );
    let again = NewMessage {
        group_id: Some("g".into()),
        dedup_id: Some("d".into()),
        ..message("f2")
    };
    let sent = s
        .queue_send(
            "q.fifo".into(),
            vec![again],
            T0 + DEDUP_WINDOW_MS - 1,
            Vec::new(),
        )
        .await
        .expect("send");
    assert!(sent[0].duplicate, "the deduplication id is remembered");
    let logs = s.logs_read(whole_group("g")).await.expect("logs");
    assert_eq!(logs.len(), 2);
}

/// Everything acknowledged before a restart is there after it.
pub async fn acknowledged_state_survives_a_restart<B: Backend>() {
    let mut h = Harness::<B>::open().await;
    let acked = acknowledge_one_of_everything(h.store()).await;
    h.restart().await;
    find_it_all(h.store(), &acked).await;
}

/// A lease is durable when it is handed out: after a restart (without `release_leases`) the item
/// is not handed out again before the lease ends by the store's clock, and its holder can still
/// settle it; then it ends as usual.
pub async fn a_lease_survives_a_restart<B: Backend>() {
    let mut h = Harness::<B>::open().await;
    h.store()
        .append(with_work("e", 2, T0))
        .await
        .expect("append");
    let held = h.store().lease(None, T0, 2, 1_000).await.expect("lease");
    h.restart().await;
    let s = h.store();
    assert!(
        s.lease(None, T0, 10, 1_000)
            .await
            .expect("lease")
            .is_empty()
    );
    assert!(s.ack(vec![held[0].lease()]).await.expect("ack").is_empty());
    h.clock().advance(1_000);
    let again = s.lease(None, T0, 10, 1_000).await.expect("lease");
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].id, held[1].id);
    assert!(again[0].token > held[1].token);
    assert_eq!(again[0].attempts, 2);
}

/// Writes refused (lost leases) or failed (a work item naming no event) are absent after a
/// restart: nothing of them was half-written.
pub async fn a_refused_write_is_absent_after_a_restart<B: Backend>() {
    let mut h = Harness::<B>::open().await;
    let s = h.store();
    s.append(with_work("e", 1, T0)).await.expect("append");
    let item = s.lease(None, T0, 1, 1_000).await.expect("lease");
    let lost = item[0].lease();
    assert!(s.nack(lost, T0).await.expect("nack"));
    let lost_lease = |r: Result<_, StoreError>| {
        assert!(matches!(r, Err(StoreError::LeaseLost(_))), "a lost lease");
    };
    lost_lease(
        s.queue_send("q".into(), vec![message("m")], T0, vec![lost])
            .await
            .map(drop),
    );
    lost_lease(s.logs_append(vec![log("g", "s", 1)], T0, vec![lost]).await);
    let mut forward = with_work("fwd", 1, T0);
    forward.ack = vec![lost];
    forward.ticks = vec![Tick {
        schedule: "s".into(),
        tick_ms: 1,
    }];
    lost_lease(s.append(forward).await);
    let mut bad = with_work("bad", 1, T0);
    bad.work[0].event = 3;
    assert!(s.append(bad).await.is_err());
    h.restart().await;
    let s = h.store();
    let c = s.counts().await.expect("counts");
    assert_eq!((c.events, c.work_items), (1, 1));
    assert_eq!(
        s.queue_stats("q".into(), T0).await.expect("stats").visible,
        0
    );
    assert!(
        s.logs_read(whole_group("g"))
            .await
            .expect("logs")
            .is_empty()
    );
    assert!(s.ticks().await.expect("ticks").is_empty());
    // The item is due again, as the nack said: nothing settled it.
    assert_eq!(s.lease(None, T0, 10, 1_000).await.expect("lease").len(), 1);
}

/// Everything acknowledged before a power loss is there after the reboot: the store made each
/// change durable before answering. Backends that cannot simulate a power loss skip this check
/// (it says so on stderr).
pub async fn acknowledged_state_survives_a_power_loss<B: Backend>() {
    let mut h = Harness::<B>::open_for_power_loss().await;
    let acked = acknowledge_one_of_everything(h.store()).await;
    if !h.power_loss().await {
        eprintln!("skipped: this backend cannot simulate a power loss");
        return;
    }
    find_it_all(h.store(), &acked).await;
}

/// An object write, its upload's completion and the events it owes, acknowledged: all
/// durable together.
async fn acknowledge_object_writes(s: &dyn Store) {
    use crate::objects::{blob, inline, version};
    use eddy_store::{ObjectChange, ObjectWrite, PartRecord, UploadChange, UploadRecord};
    s.upload_create(UploadRecord {
        upload_id: "u".into(),
        bucket: "b".into(),
        key: "big".into(),
        initiated_ms: T0,
        meta: "{}".into(),
    })
    .await
    .expect("create");
    for n in 1..=2 {
        let part = PartRecord {
            upload_id: "u".into(),
            part_number: n,
            blob: eddy_store::BlobRef {
                id: blob(&format!("p{n}")),
                size: 10,
            },
            etag: "\"e\"".into(),
            modified_ms: T0,
            meta: "{}".into(),
        };
        s.upload_part_put(part).await.expect("part");
    }
    let freed = s
        .objects_write(ObjectWrite {
            changes: vec![ObjectChange::Put(version("big", "null", &["p1"]))],
            upload: Some(UploadChange::Finish {
                upload_id: "u".into(),
                keep: vec![blob("p1")],
            }),
            append: with_work("o", 1, T0),
        })
        .await
        .expect("complete");
    assert_eq!(freed, vec![blob("p2")]);
    s.objects_write(ObjectWrite {
        changes: vec![ObjectChange::Put(inline("small", &[7; 4096]))],
        ..ObjectWrite::default()
    })
    .await
    .expect("put");
}

async fn find_object_writes(s: &dyn Store) {
    use crate::objects::blob;
    let big = s
        .object_get("b".into(), "big".into(), None)
        .await
        .expect("get")
        .expect("the completed object is there");
    assert_eq!(big.blobs[0].id, blob("p1"));
    let small = s
        .object_get("b".into(), "small".into(), None)
        .await
        .expect("get")
        .expect("the small object is there");
    assert_eq!(small.inline.as_deref(), Some(&[7u8; 4096][..]));
    assert!(s.upload_get("u".into()).await.expect("get").is_none());
    assert_eq!(
        s.blobs_referenced(vec![blob("p1"), blob("p2")])
            .await
            .expect("referenced"),
        vec![blob("p1")]
    );
    let events = s.events(0, 10).await.expect("events");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].id, "o0");
    assert_eq!(s.counts().await.expect("counts").work_items, 1);
}

/// An acknowledged object write (records, upload completion and events) is there after a
/// restart.
pub async fn an_acknowledged_object_write_survives_a_restart<B: Backend>() {
    let mut h = Harness::<B>::open().await;
    acknowledge_object_writes(h.store()).await;
    h.restart().await;
    find_object_writes(h.store()).await;
}

/// The same after a power loss, where the backend can simulate one.
pub async fn an_acknowledged_object_write_survives_a_power_loss<B: Backend>() {
    let mut h = Harness::<B>::open_for_power_loss().await;
    acknowledge_object_writes(h.store()).await;
    if !h.power_loss().await {
        eprintln!("skipped: this backend cannot simulate a power loss");
        return;
    }
    find_object_writes(h.store()).await;
}

/// A finished blob (and a copy of it) is there after a restart, whole; an unfinished one is not.
pub async fn a_finished_blob_survives_a_restart<B: Backend>() {
    use crate::blobs::{MIB, pattern, read, write};
    let mut h = Harness::<B>::open().await;
    let blobs = h.store().blob_store();
    let data = pattern(12, 2 * MIB + 3);
    let a = write(&*blobs, &data).await;
    let c = blobs.copy(a.id.clone()).await.expect("copy");
    let mut unfinished = blobs.create().await.expect("create");
    unfinished
        .write(bytes::Bytes::from(pattern(13, MIB + 1)))
        .await
        .expect("write");
    // Dropped unfinished as the process dies (what a crash leaves of it is the sweep's, checked
    // by `blobs::a_dropped_sink_leaves_nothing_and_is_swept`).
    drop(unfinished);
    drop(blobs);
    h.restart().await;
    let blobs = h.store().blob_store();
    assert!(read(&*blobs, &[(&a.id, 0, a.size)]).await.expect("read") == data);
    let got = read(&*blobs, &[(&c.id, MIB - 1, MIB + 4)])
        .await
        .expect("read");
    assert!(got == data[(MIB - 1) as usize..(2 * MIB + 3) as usize]);
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(3600);
    let mut found = blobs.sweep(later).await.expect("sweep");
    found.sort();
    let mut expected = vec![a.id, c.id];
    expected.sort();
    assert_eq!(
        found, expected,
        "the finished blobs, not the unfinished one"
    );
}
