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
/// [`crate::ServerConfig::lease_ms`]). A running delivery renews it every third of this.
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
            self.renew_due().await;
        }
    }

    /// One round of renewals.
    async fn renew_due(&self) {
        let now = Instant::now();
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
