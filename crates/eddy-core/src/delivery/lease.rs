//! The leases the delivery engine holds, renewed while their deliveries run.
//!
//! Every work item the engine leases is held here, with its fencing token, from the lease until
//! its delivery task ends. One renewal task extends, every third of a lease, the leases that
//! have been held (or last renewed) for at least a third of a lease, in one store call: a
//! function invocation that runs for 15 minutes, an API destination attempt waiting on its rate
//! limiter or a slow endpoint keep their item however long they take, and are never handed to a
//! second attempt while they run. Work that finishes within a third of a lease (nearly all of
//! it) costs two map operations and no store write.
//!
//! # Which clock
//!
//! Renewals run on tokio's monotonic timer, and lease deadlines are kept on the store's own
//! clock (see `eddy_store`'s "Work items and leases"), never on eddy's [`crate::clock::Clock`]:
//! moving the dev clock forward (`POST /_eddy/clock`) makes waiting retries and delays due,
//! but cannot end a lease this process holds, so it never duplicates a delivery in flight. A
//! lease ends only when its holder stops renewing it: the process died (then the next start
//! releases its leases at once, [`eddy_store::WorkStore::release_leases`]) or stalled for two
//! thirds of a lease. A holder that lost its lease is refused when it settles
//! ([`super::ack`], [`super::nack`], [`super::lost`]), and counted in `eddy_delivery_stale_lease_acks_total`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use eddy_store::{Lease, Store, WorkItem};
use tokio::time::Instant;

use crate::metrics::Metrics;

/// How long a delivery's lease lasts unless renewed (the default of
/// [`crate::config::ServerConfig::lease_ms`]). A running delivery renews it every third of this.
pub const LEASE_MS: i64 = 60_000;

/// The shortest lease the engine uses: renewals run every third of it.
const MIN_LEASE_MS: i64 = 300;

/// The leases held by this engine (see the module docs).
pub struct Held {
    store: Arc<dyn Store>,
    metrics: Arc<Metrics>,
    lease_ms: i64,
    /// Item id to (token, when leased or last renewed).
    leases: Mutex<HashMap<i64, (i64, Instant)>>,
}

impl Held {
    pub fn new(store: Arc<dyn Store>, metrics: Arc<Metrics>, lease_ms: i64) -> Arc<Self> {
        Arc::new(Self {
            store,
            metrics,
            lease_ms: lease_ms.max(MIN_LEASE_MS),
            leases: Mutex::new(HashMap::new()),
        })
    }

    /// How long each lease lasts.
    pub fn lease_ms(&self) -> i64 {
        self.lease_ms
    }

    /// How often renewals run, and how old a lease is before it is renewed.
    fn period(&self) -> Duration {
        Duration::from_millis((self.lease_ms / 3) as u64)
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<i64, (i64, Instant)>> {
        self.leases.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The items whose leases are held (their deliveries run).
    pub fn ids(&self) -> Vec<i64> {
        self.map().keys().copied().collect()
    }

    /// Holds the leases of freshly leased items.
    pub fn hold(&self, items: &[WorkItem]) {
        let now = Instant::now();
        let mut map = self.map();
        for item in items {
            map.insert(item.id, (item.token, now));
        }
    }

    /// Stops renewing these leases (their deliveries ended). A lease of the same item with
    /// another token (the item was retried and leased again) stays held.
    pub fn release(&self, leases: &[Lease]) {
        let mut map = self.map();
        for l in leases {
            if map.get(&l.id).is_some_and(|(token, _)| *token == l.token) {
                map.remove(&l.id);
            }
        }
    }

    /// Renews, every third of a lease, the leases held for at least that long, until `stop`.
    pub async fn run(self: Arc<Self>, mut stop: tokio::sync::watch::Receiver<bool>) {
        let period = self.period();
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop.changed() => {}
            }
            if *stop.borrow() {
                return;
            }
            self.renew(Instant::now()).await;
        }
    }

    /// One round of renewals, at `now`: the leases held for a third of a lease or more.
    async fn renew(&self, now: Instant) {
        let due: Vec<Lease> = self
            .map()
            .iter()
            .filter(|(_, (_, at))| now.duration_since(*at) >= self.period())
            .map(|(&id, &(token, _))| Lease { id, token })
            .collect();
        if due.is_empty() {
            return;
        }
        match self.store.extend(due.clone(), self.lease_ms).await {
            Ok(refused) => {
                let mut map = self.map();
                for l in &due {
                    if let Some(entry) = map.get_mut(&l.id).filter(|(t, _)| *t == l.token) {
                        entry.1 = now;
                    }
                }
                // Settled while the renewal was on its way (a group's other items ended before
                // it), or lost: either way there is nothing left to renew.
                for l in &refused {
                    if map.get(&l.id).is_some_and(|(token, _)| *token == l.token) {
                        map.remove(&l.id);
                    }
                }
                drop(map);
                let renewed = due.len() - refused.len();
                self.metrics.lease_renewals.inc_by(renewed as u64);
                tracing::debug!(renewed, refused = refused.len(), "delivery leases renewed");
            }
            Err(e) => {
                tracing::error!(error = %e, leases = due.len(),
                    "cannot renew delivery leases; retrying at the next round");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use eddy_store::{AppendBatch, EmbeddedStore, NewEvent, NewWork};

    async fn setup() -> (tempfile::TempDir, Arc<Held>, Arc<dyn Store>, WorkItem) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store: Arc<dyn Store> = Arc::new(EmbeddedStore::open(dir.path()).expect("store"));
        store
            .append(AppendBatch {
                events: vec![NewEvent {
                    id: "e".into(),
                    bus: "r:b".into(),
                    time_ms: 0,
                    body: "{}".into(),
                    hops: 0,
                }],
                work: vec![NewWork {
                    event: 0,
                    rule: "r".into(),
                    target: "t".into(),
                }],
                ..AppendBatch::default()
            })
            .await
            .expect("append");
        let held = Held::new(store.clone(), Metrics::new(), 3_000);
        let mut items = store
            .lease(None, i64::MAX, 1, held.lease_ms())
            .await
            .expect("lease");
        let item = items.pop().expect("an item");
        held.hold(std::slice::from_ref(&item));
        (dir, held, store, item)
    }

    fn renewals(held: &Held) -> u64 {
        held.metrics.lease_renewals.get()
    }

    #[tokio::test]
    async fn only_leases_held_for_a_third_of_a_lease_are_renewed() {
        let (_dir, held, _store, _item) = setup().await;
        let start = Instant::now();
        held.renew(start).await;
        assert_eq!(renewals(&held), 0, "fresh leases cost no store write");
        held.renew(start + Duration::from_millis(1_000)).await;
        assert_eq!(renewals(&held), 1);
        // Renewed at +1 s: not again before +2 s.
        held.renew(start + Duration::from_millis(1_500)).await;
        assert_eq!(renewals(&held), 1);
        held.renew(start + Duration::from_millis(2_000)).await;
        assert_eq!(renewals(&held), 2);
    }

    #[tokio::test]
    async fn a_settled_lease_is_dropped_at_its_next_renewal() {
        let (_dir, held, store, item) = setup().await;
        assert!(store.ack(vec![item.lease()]).await.expect("ack").is_empty());
        held.renew(Instant::now() + Duration::from_secs(2)).await;
        assert_eq!(renewals(&held), 0);
        assert!(held.map().is_empty());
    }

    #[tokio::test]
    async fn releasing_an_older_lease_keeps_the_newer_one() {
        let (_dir, held, _store, item) = setup().await;
        let older = Lease {
            id: item.id,
            token: item.token - 1,
        };
        held.release(&[older]);
        assert_eq!(held.map().len(), 1);
        held.release(&[item.lease()]);
        assert!(held.map().is_empty());
    }
}
