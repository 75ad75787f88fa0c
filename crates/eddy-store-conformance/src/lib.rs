//! The conformance suite of the store contract: the checks every store backend must pass.
//!
//! `eddy-store` states the contract (its crate docs, "Durability contract", and the traits
//! bundled as [`Store`]); this crate checks it, backend-neutrally, through nothing but those
//! traits. The embedded SQLite store passes it (`tests/embedded.rs`); a new backend passes it
//! before anything else uses it.
//!
//! # Running it against a backend
//!
//! A backend plugs in through [`Backend`]: open a fresh, empty store whose lease deadlines follow
//! a given [`StoreClock`], hand it out as `&dyn Store`, restart it (a process crash: close it and
//! open the same store again), and, if it can, lose power. Then one line in a test file of the
//! backend's crate (which dev-depends on this one) expands into one `#[test]` per check:
//!
//! ```ignore
//! struct MyBackend { /* what it needs to reopen the same store */ }
//!
//! impl eddy_store_conformance::Backend for MyBackend {
//!     async fn open(options: eddy_store_conformance::Options) -> Self { todo!() }
//!     fn store(&self) -> &dyn eddy_store::Store { todo!() }
//!     async fn restart(&mut self) { todo!() }
//! }
//!
//! eddy_store_conformance::suite!(MyBackend);
//! ```
//!
//! Each test is named after its concern and check (`work::a_stale_holders_ack_is_refused`), so a
//! failure says which rule of the contract broke. Every check opens its own store, so they run in
//! parallel; each builds its own single-threaded tokio runtime, so the backend's crate needs no
//! tokio test macros.
//!
//! A backend built inside `eddy-store` itself (as the embedded one is) runs the suite from a test
//! file of *this* crate (`tests/embedded.rs`, `tests/postgres.rs`...): `eddy-store` must not
//! dev-depend on this crate, which would give its tests a second copy of every store type.
//!
//! The checks stay short (a few dozen store calls each, no sleeps but the blob sweep's fifth of a second) and the property test runs a
//! modest number of cases, so the whole suite takes seconds and runs in CI for every backend.
//!
//! # What it checks
//!
//! One module per concern of the contract, each check short:
//!
//! | module | concern |
//! | --- | --- |
//! | [`events`] | [`EventLog`](eddy_store::EventLog): append atomicity (with work, acks and ticks), positions in order and never reused, reads by position and by event time, counts, expiry |
//! | [`work`] | [`WorkStore`](eddy_store::WorkStore): leases, renewals, acks, nacks, dead letters; fencing (stale holders refused, fenced writes refused whole with [`LeaseLost`](eddy_store::StoreError::LeaseLost)); the store's clock against the callers' |
//! | [`queues`] | [`QueueStore`](eddy_store::QueueStore): send, receive, visibility, receipt handles, FIFO groups and deduplication, redrive, retention, purge, stats |
//! | [`definitions`] | [`DefinitionStore`](eddy_store::DefinitionStore): atomic applies (never seen half done), order, the change feed and its versions |
//! | [`logs`] | [`LogStore`](eddy_store::LogStore): append, read (filters, paging both ways), streams, delete, expiry, fencing |
//! | [`ticks`] | [`TickStore`](eddy_store::TickStore): recorded with their events, each tick once (a tick not later than the recorded one refused whole with [`TickTaken`](eddy_store::StoreError::TickTaken), racing appends too), forget |
//! | [`cluster`] | [`ClusterStore`](eddy_store::ClusterStore): heartbeats on the store's clock, a lone store leads |
//! | [`objects`] | [`ObjectStore`](eddy_store::ObjectStore): versions and the latest one, delete markers, listings in byte order (prefix, `after`, limit), metadata changes, multipart uploads and parts, the blobs each change frees, object writes atomic with their append (fencing and ticks), a finish of an upload refused whole when the upload is gone or a part it keeps was replaced ([`UploadGone`](eddy_store::StoreError::UploadGone), [`PartReplaced`](eddy_store::StoreError::PartReplaced)), racing finishes and part uploads |
//! | [`blobs`] | [`BlobStore`](eddy_store::BlobStore) ([`Store::blob_store`]): blobs written in small pieces read back whole and by ranges across chunk boundaries; only finished blobs exist; copies, deletes (of missing blobs too), sweeps; a missing blob fails a read before it streams |
//! | [`store`] | [`Store`] itself: reset wipes every concern and tells watchers (with a version); health; reclaiming space in bounded steps |
//! | [`crash`] | crash points: everything acknowledged before a restart (and, where the backend can simulate it, a power loss) is there after it, finished blobs included, and nothing half-done is |
//! | [`model`] | a model-based property test: random sequences of appends, leases, settles, renewals, clock moves, queue operations and restarts (and, where the backend can simulate them, power losses), checked against an in-memory model of the contract; sequences that once failed are kept as a check of their own |
//!
//! A new check is a `pub async fn name<B: Backend>()` in its concern's module, opening its store
//! with [`Harness::open`], and one more name in [`suite!`].
//!
//! # Time
//!
//! Two clocks, as the contract has them. The **callers' clock** is a plain `now_ms` the checks
//! pass (it says what is due and stamps what they append); the **store's clock** is a
//! [`TestClock`] the backend is opened with and the checks move by hand (lease deadlines follow
//! it). Nothing waits on the wall clock, so no check depends on the machine's speed.

pub mod blobs;
pub mod cluster;
pub mod crash;
pub mod definitions;
pub mod events;
pub mod logs;
pub mod model;
pub mod objects;
pub mod queues;
pub mod store;
pub mod ticks;
pub mod work;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use eddy_store::{
    AppendBatch, LogQuery, NewEvent, NewLogEvent, NewMessage, NewWork, Store, StoreClock, WorkItem,
};

/// A store backend under test.
///
/// Its methods panic on failure (a backend that cannot open its store fails the check there).
pub trait Backend: Sized + 'static {
    /// Opens a fresh, empty store (a new directory, a new database or schema...) whose lease
    /// deadlines are kept on `options.clock`. The backend keeps what it needs to open the same
    /// store again in [`Backend::restart`].
    fn open(options: Options) -> impl Future<Output = Self>;

    /// The open store.
    fn store(&self) -> &dyn Store;

    /// A process crash: the store is closed without any further call (the handle is dropped),
    /// then opened again, with the same clock, as a new process would. Changes acknowledged
    /// before must all be there; changes not acknowledged may or may not be.
    fn restart(&mut self) -> impl Future<Output = ()>;

    /// A power loss, then a reboot and the store opened again: everything the store wrote but
    /// did not make durable is lost. Called only on stores opened with
    /// [`Options::power_loss`]; answers `false` when the backend cannot simulate it (the default),
    /// and the check that asked says so and passes without it.
    fn power_loss(&mut self) -> impl Future<Output = bool> {
        async { false }
    }
}

/// How [`Backend::open`] opens a store. (More may come: backends read it, only the suite makes
/// one.)
#[derive(Clone)]
#[non_exhaustive]
pub struct Options {
    /// The store's own clock (the one lease deadlines follow).
    pub clock: Arc<dyn StoreClock>,
    /// The check will cut the power ([`Backend::power_loss`]): open the store so that it can be
    /// (for the embedded store, through a disk that can lose power, with every commit synced).
    /// Otherwise a backend may skip what only a power loss would show (the embedded store skips
    /// the fsync), to keep the suite fast.
    pub power_loss: bool,
}

/// The store's clock in the checks: it moves only when a check moves it.
pub struct TestClock(AtomicI64);

impl TestClock {
    pub fn new(now_ms: i64) -> Self {
        Self(AtomicI64::new(now_ms))
    }

    /// Moves the clock forward by `ms`.
    pub fn advance(&self, ms: i64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
}

impl StoreClock for TestClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// Where both clocks start: year 2096, far from zero and from any real clock, so that a backend
/// that reads the wall clock instead of the one it was given is caught.
pub const T0: i64 = 4_000_000_000_000;

/// A store under test with its clock: what every check works on.
pub struct Harness<B: Backend> {
    backend: B,
    clock: Arc<TestClock>,
}

impl<B: Backend> Harness<B> {
    /// A fresh store, both clocks at [`T0`].
    pub async fn open() -> Self {
        Self::open_with(false).await
    }

    /// A fresh store that [`Harness::power_loss`] may cut the power of.
    pub async fn open_for_power_loss() -> Self {
        Self::open_with(true).await
    }

    async fn open_with(power_loss: bool) -> Self {
        let clock = Arc::new(TestClock::new(T0));
        let backend = B::open(Options {
            clock: clock.clone(),
            power_loss,
        })
        .await;
        Self { backend, clock }
    }

    pub fn store(&self) -> &dyn Store {
        self.backend.store()
    }

    /// The store's clock.
    pub fn clock(&self) -> &TestClock {
        &self.clock
    }

    /// Now by the store's clock.
    pub fn store_now(&self) -> i64 {
        self.clock.now_ms()
    }

    /// A process crash and a restart ([`Backend::restart`]).
    pub async fn restart(&mut self) {
        self.backend.restart().await;
    }

    /// A power loss and a reboot ([`Backend::power_loss`]); `false` when the backend cannot.
    pub async fn power_loss(&mut self) -> bool {
        self.backend.power_loss().await
    }
}

/// Runs one check to its end on a fresh single-threaded runtime (what [`suite!`]'s tests call).
#[doc(hidden)]
pub fn run<F: Future<Output = ()>>(check: F) {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime for the check")
        .block_on(check);
}

/// Expands into one `#[test]` per check of the suite, run against the [`Backend`] `$backend`,
/// in one module per concern (`events::...`, `work::...`).
#[macro_export]
macro_rules! suite {
    ($backend:ty) => {
        $crate::__suite! { $backend;
            events {
                appended_events_read_back_in_order,
                a_failed_append_leaves_nothing,
                a_stale_forward_appends_nothing,
                positions_are_never_reused,
                events_by_time_reads_a_window_in_event_time_order,
                events_by_time_filters_by_ingestion_time,
                counts_count_what_the_store_holds,
                expiry_deletes_only_what_nothing_needs,
                a_dead_letter_keeps_its_event_until_it_expires,
                expiry_deletes_at_most_max_events_per_call,
                concurrent_appends_are_all_kept,
            }
            work {
                appended_work_is_leased_with_its_event,
                an_append_without_a_time_is_stamped_by_the_stores_clock,
                lease_order_is_lapsed_leases_then_oldest_due,
                lease_by_target,
                a_stale_holders_ack_is_refused,
                a_batch_ack_settles_the_current_leases_and_answers_the_stale_ones,
                a_stale_holders_nack_and_dead_letter_are_refused,
                a_nack_makes_the_item_due_at_the_callers_time,
                dead_letters_keep_the_item_and_the_reason,
                renewal_keeps_a_lease_and_a_stale_holder_cannot_renew,
                the_callers_clock_jumping_forward_never_ends_a_lease,
                a_stale_holders_delivery_with_its_ack_is_refused_whole,
                release_leases_makes_every_lease_due_at_once,
                release_leases_except_keeps_the_named_leases,
                next_due_ignores_leased_items,
                ids_are_never_reused,
            }
            queues {
                a_sent_message_is_received_as_sent,
                a_received_message_is_invisible_until_its_visibility_ends,
                only_the_latest_receipt_deletes_or_changes_visibility,
                change_visibility_moves_a_message_in_flight,
                delayed_messages_wait,
                stats_count_visible_in_flight_and_delayed,
                fifo_groups_are_received_in_order_one_holder_at_a_time,
                fifo_deduplication_within_the_window,
                purge_empties_a_queue_and_forgets_deduplication,
                redrive_moves_a_message_received_too_often,
                retention_drops_old_messages,
                a_send_with_its_ack_settles_the_work_item,
                an_append_sends_its_messages_with_its_events,
            }
            definitions {
                apply_commits_a_group_and_announces_it,
                definitions_are_ordered_by_kind_then_key,
                the_feed_follows_commit_order,
                a_reader_never_sees_half_an_apply,
                the_feed_and_the_definitions_carry_versions,
            }
            logs {
                logs_read_in_time_order_with_filters,
                logs_page_forwards_and_backwards_without_gaps,
                logs_streams_describe_each_stream,
                logs_delete_group_deletes_one_group,
                logs_delete_stream_deletes_one_stream,
                logs_expire_in_bounded_steps,
                logs_append_is_fenced,
                logs_write_is_atomic_with_its_append,
            }
            ticks {
                a_tick_not_later_than_the_recorded_one_is_refused_whole,
                the_same_tick_appended_at_once_is_recorded_once,
                a_failed_append_records_no_tick,
                forget_ticks_forgets_only_those_named,
            }
            cluster {
                a_heartbeat_is_recorded_on_the_stores_clock,
                a_lone_store_leads,
            }
            objects {
                a_put_reads_back_and_a_replacement_frees_its_blobs,
                versions_latest_and_delete_markers,
                listings_page_in_byte_order,
                a_meta_change_keeps_the_position,
                multipart_uploads_and_their_parts,
                an_object_write_is_atomic_with_its_append,
                a_finish_of_a_finished_upload_is_refused_whole,
                a_finish_keeping_a_replaced_part_is_refused_whole,
                racing_finishes_of_one_upload_commit_once,
                bucket_is_empty_and_purge,
                blobs_referenced_by_versions_and_parts,
                reset_wipes_the_object_index,
                concurrent_object_writes_are_all_kept,
            }
            blobs {
                a_blob_reads_back_whole_and_by_ranges,
                a_dropped_sink_leaves_nothing_and_is_swept,
                a_copy_is_a_blob_of_its_own,
                delete_removes_blobs_and_missing_ones_are_fine,
                sweep_answers_finished_blobs_made_before_its_time,
                a_read_of_a_missing_blob_fails_before_streaming,
            }
            store {
                reset_wipes_everything_and_says_so,
                health_is_ok_while_writes_succeed,
                reclaim_is_bounded_and_changes_nothing_read,
            }
            crash {
                acknowledged_state_survives_a_restart,
                a_lease_survives_a_restart,
                a_refused_write_is_absent_after_a_restart,
                acknowledged_state_survives_a_power_loss,
                an_acknowledged_object_write_survives_a_restart,
                an_acknowledged_object_write_survives_a_power_loss,
                a_finished_blob_survives_a_restart,
            }
            model {
                store_agrees_with_the_model,
                power_losses_agree_with_the_model,
                known_sequences_agree_with_the_model,
            }
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __suite {
    ($backend:ty; $($concern:ident { $($check:ident),* $(,)? })*) => {
        #[allow(dead_code)]
        type __ConformanceBackend = $backend;
        $(
            mod $concern {
                $(
                    #[test]
                    fn $check() {
                        $crate::run($crate::$concern::$check::<super::__ConformanceBackend>());
                    }
                )*
            }
        )*
    };
}

// Fixtures the checks share.

/// An event on `bus` with event time `time_ms`; its body names its id.
pub fn event(id: &str, bus: &str, time_ms: i64) -> NewEvent {
    NewEvent {
        id: id.to_owned(),
        bus: bus.to_owned(),
        time_ms,
        body: format!("{{\"id\":\"{id}\"}}"),
        hops: 0,
    }
}

/// `n` events `{prefix}0`... on `r:default` ingested at `now_ms`, each owing one delivery to
/// target `t`.
pub fn with_work(prefix: &str, n: usize, now_ms: i64) -> AppendBatch {
    let mut batch = AppendBatch {
        now_ms: Some(now_ms),
        ..AppendBatch::default()
    };
    for i in 0..n {
        batch
            .events
            .push(event(&format!("{prefix}{i}"), "r:default", 0));
        batch.work.push(NewWork {
            event: i,
            rule: "rule".into(),
            target: "t".into(),
        });
    }
    batch
}

/// A standard-queue message.
pub fn message(id: &str) -> NewMessage {
    NewMessage {
        message_id: id.to_owned(),
        body: format!("body of {id}"),
        attributes: "{}".into(),
        delay_ms: 0,
        group_id: None,
        dedup_id: None,
    }
}

/// A log event.
pub fn log(group: &str, stream: &str, timestamp_ms: i64) -> NewLogEvent {
    NewLogEvent {
        group: group.into(),
        stream: stream.into(),
        timestamp_ms,
        message: format!("{group} {stream} {timestamp_ms}"),
    }
}

/// Every log event of `group`, oldest first.
pub fn whole_group(group: &str) -> LogQuery {
    LogQuery {
        group: group.into(),
        limit: 10_000,
        ..LogQuery::default()
    }
}

/// The ids of `items`, in order.
pub fn ids(items: &[WorkItem]) -> Vec<i64> {
    items.iter().map(|w| w.id).collect()
}

/// Polls every future to its end, concurrently, on the current task: answers in order.
pub async fn join_all<T>(futures: Vec<eddy_store::BoxFuture<'_, T>>) -> Vec<T> {
    let mut futures: Vec<Option<eddy_store::BoxFuture<'_, T>>> =
        futures.into_iter().map(Some).collect();
    let mut answers: Vec<Option<T>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, a) in futures.iter_mut().zip(answers.iter_mut()) {
            if let Some(fut) = f {
                match fut.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => {
                        *a = Some(v);
                        *f = None;
                    }
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    answers.into_iter().map(|a| a.expect("answered")).collect()
}
