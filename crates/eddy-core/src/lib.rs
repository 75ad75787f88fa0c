//! eddy's domain core: what eddy does, in its own words, over the store. No listener, no AWS
//! wire shapes: the protocol adapters (`eddy-server`: the AWS endpoint, the HTTP routes gateway,
//! the admin endpoints) parse requests, call the core and map [`core_error::CoreError`] to their
//! wire's errors.
//!
//! One PutEvents, in one direction: the adapter hands prepared entries to [`bus::Bus::put`],
//! which matches them against the bus's compiled rules ([`catalog`]) and appends each event with
//! the work items it owes ([`work::Work`]) to the store, durably; the delivery engine
//! ([`delivery`]) leases those work items and delivers each to its target (a queue in
//! [`queues`], a function in [`functions`], an HTTP endpoint in [`destinations`], a log group
//! in [`logs`], another bus), with retries and dead letters.
//!
//! * [`Core`]: the parts, assembled from one store; [`Core::open`] loads what the store holds;
//! * [`catalog`]: bus and rule definitions, compiled into a matcher per bus;
//! * [`bus`]: PutEvents' path: envelope, match, durable append of the event and its work items;
//! * [`work`]: the kinds of work items (rule targets, schedule ticks, asynchronous invokes);
//! * [`delivery`]: the delivery engine (targets, input shaping, retries, dead letters, leases);
//! * [`queues`], [`functions`], [`destinations`], [`logs`], [`topics`]: what targets deliver to
//!   (topics fan out to their subscriptions in turn);
//! * [`schedules`], [`scheduler`]: EventBridge Scheduler's schedules and the loop that fires
//!   them and scheduled rules;
//! * [`archives`]: archives and replays;
//! * [`buckets`]: S3-shaped object storage (blobs, the object index, multipart uploads) whose
//!   changes are events;
//! * [`sources`]: Lambda's event source mappings (SQS queues polled for functions) and their
//!   pollers;
//! * [`registry`], [`follow`]: definitions held in memory, following the store's change feed;
//! * [`retention`]: what the event log, dead letters and log groups forget, and when;
//! * [`cluster`]: this node among the nodes sharing a store (heartbeats, who is alive);
//! * [`clock`]: eddy's one clock (system time plus an offset `--dev` mode can move);
//! * [`config`], [`egress`], [`metrics`], [`core_error`]: settings, the egress policy, the
//!   Prometheus metrics, the core's errors.

pub mod archives;
pub mod buckets;
pub mod bus;
pub mod catalog;
pub mod clock;
pub mod cluster;
pub mod config;
pub mod core_error;
pub mod delivery;
pub mod destinations;
pub mod egress;
pub mod follow;
pub mod functions;
pub mod log_queries;
pub mod log_subscriptions;
pub mod logs;
pub mod metric_filters;
pub mod metrics;
pub mod queues;
pub mod registry;
pub mod retention;
pub mod scheduler;
pub mod schedules;
pub mod sources;
pub mod topics;
pub mod work;

use std::sync::Arc;

use anyhow::Context;
use eddy_store::{Definition, Store, StoreOptions, StoreUri};

pub use config::ServerConfig;

use crate::bus::Bus;
use crate::catalog::Catalog;
use crate::follow::{Feed, Follow};
use crate::metrics::{Metrics, StoreMetrics};

/// The parts of the core, assembled over one store.
pub struct Core {
    pub config: ServerConfig,
    /// The store, behind the core's operations: no adapter reads or writes it directly.
    store: Arc<dyn Store>,
    pub catalog: Arc<Catalog>,
    pub bus: Bus,
    pub queues: queues::Queues,
    pub archives: archives::Archives,
    pub destinations: destinations::Destinations,
    pub log_groups: Arc<logs::LogGroups>,
    /// Logs Insights queries run on this node.
    pub log_queries: log_queries::LogQueries,
    pub functions: functions::Functions,
    pub topics: topics::Topics,
    /// Buckets: object storage whose changes are events.
    pub buckets: buckets::Buckets,
    /// Event source mappings (queues polled for functions); [`sources::run`] runs their pollers.
    pub sources: sources::Sources,
    /// The HTTP client API destinations are called with (pooled connections).
    pub(crate) http: delivery::http::HttpClient,
    pub metrics: Arc<Metrics>,
    /// The time every due time is measured against (movable in `--dev` mode).
    pub clock: clock::Clock,
    pub schedules: schedules::Schedules,
    pub scheduler: scheduler::Scheduler,
    /// The version of the definitions the caches reflect, and their changes as applied.
    pub feed: Arc<Feed>,
}

/// What an adapter's own caches of definitions load from, while the core is assembled (see
/// [`Core::open_with_store`]).
pub struct Loading<'a> {
    pub config: &'a ServerConfig,
    pub store: &'a Arc<dyn Store>,
    pub feed: &'a Arc<Feed>,
    pub definitions: &'a [Definition],
}

/// Builds an adapter's own caches of definitions, which then follow the feed with the core's.
/// The adapter must keep them (the follower holds them weakly).
pub type Extra<'a> =
    Box<dyn FnOnce(&Loading<'_>) -> anyhow::Result<Vec<Arc<dyn Follow>>> + Send + 'a>;

impl Core {
    /// Opens the store `config.store` names (the embedded store in `config.data_dir` when it
    /// names none) and loads everything it holds.
    pub async fn open(
        config: ServerConfig,
        clock: clock::Clock,
        extra: Extra<'_>,
    ) -> anyhow::Result<Arc<Self>> {
        // Nodes sharing a store are told apart by a `node` label on every sample; one node on its
        // own store needs none.
        let metrics = match &config.store {
            Some(StoreUri::Postgres(_)) => Metrics::for_node(&config.node),
            _ => Metrics::new(),
        };
        private_data_dir(&config).await?;
        let uri = config
            .store
            .clone()
            .unwrap_or_else(|| StoreUri::embedded(&config.data_dir));
        let options = StoreOptions {
            sync: config.sync,
            observer: Arc::new(StoreMetrics(metrics.clone())),
            node: Some(config.node.clone()),
        };
        let store = tokio::task::spawn_blocking(move || eddy_store::open(&uri, options)).await??;
        Self::assemble(config, clock, store, metrics, extra).await
    }

    /// [`Core::open`] on a store opened elsewhere (a test's, or one a caller chose itself);
    /// `config.store` is not looked at.
    pub async fn open_with_store(
        config: ServerConfig,
        clock: clock::Clock,
        store: Arc<dyn Store>,
        extra: Extra<'_>,
    ) -> anyhow::Result<Arc<Self>> {
        private_data_dir(&config).await?;
        Self::assemble(config, clock, store, Metrics::new(), extra).await
    }

    /// Loads everything the store holds into the parts of the core (and `extra`'s), then
    /// starts following the store's change feed.
    async fn assemble(
        config: ServerConfig,
        clock: clock::Clock,
        store: Arc<dyn Store>,
        metrics: Arc<Metrics>,
        extra: Extra<'_>,
    ) -> anyhow::Result<Arc<Self>> {
        let limits = eddy_pattern::Limits {
            max_pattern_len: config.max_pattern_len,
            ..eddy_pattern::Limits::default()
        };
        // Subscribe before reading, so that no change committed meanwhile is missed.
        let changes = store.watch();
        // Every definition, read once for all the parts, and dropped once they are loaded.
        let eddy_store::Definitions {
            version,
            items: definitions,
        } = store.definitions().await?;
        let feed = Feed::new(version);
        let catalog = Arc::new(Catalog::load(
            store.clone(),
            feed.clone(),
            &definitions,
            metrics.clone(),
            config.account_id.clone(),
            limits.clone(),
            clock.clone(),
        )?);
        let bus = Bus::new(
            catalog.clone(),
            store.clone(),
            metrics.clone(),
            clock.clone(),
        );
        let queues = queues::Queues::load(
            store.clone(),
            feed.clone(),
            &definitions,
            clock.clone(),
            matches!(config.store, Some(StoreUri::Postgres(_))).then_some(queues::SHARED_RECHECK),
        )?;
        let schedules =
            schedules::Schedules::load(store.clone(), feed.clone(), &definitions, clock.clone())?;
        let archives =
            archives::Archives::load(store.clone(), feed.clone(), &definitions, clock.clone())?;
        let destinations = destinations::Destinations::load(
            store.clone(),
            feed.clone(),
            &definitions,
            config.account_id.clone(),
            clock.clone(),
        )?;
        let log_groups = Arc::new(logs::LogGroups::load(
            store.clone(),
            feed.clone(),
            &definitions,
            metrics.clone(),
        )?);
        let endpoint = config
            .aws_endpoint
            .clone()
            .unwrap_or_else(|| "http://127.0.0.1:4566".to_owned());
        let functions = functions::Functions::load(
            store.clone(),
            feed.clone(),
            &definitions,
            &config,
            endpoint.clone(),
            clock.clone(),
        )?;
        let topics = topics::Topics::load(
            store.clone(),
            feed.clone(),
            &definitions,
            config.account_id.clone(),
            clock.clone(),
            bus.work_ready(),
            endpoint,
        )?;
        let buckets =
            buckets::Buckets::load(store.clone(), feed.clone(), &definitions, clock.clone())?;
        let sources = sources::Sources::load(
            store.clone(),
            feed.clone(),
            &definitions,
            clock.clone(),
            limits,
        )?;
        // One process-wide TLS provider for outgoing HTTPS (a second install is fine).
        let _already = rustls::crypto::ring::default_provider()
            .install_default()
            .is_err();
        let http = delivery::http::HttpClient::new()?;
        let extra = extra(&Loading {
            config: &config,
            store: &store,
            feed: &feed,
            definitions: &definitions,
        })?;
        drop(definitions);
        let core = Arc::new(Self {
            store,
            catalog,
            bus,
            queues,
            archives,
            destinations,
            log_groups,
            log_queries: Default::default(),
            functions,
            topics,
            buckets,
            sources,
            http,
            metrics,
            clock,
            schedules,
            scheduler: scheduler::Scheduler::new(),
            feed,
            config,
        });
        // The adapter keeps its caches; the follower holds them weakly.
        let extra = extra.iter().map(Arc::downgrade).collect();
        follow::spawn(Arc::downgrade(&core), extra, changes);
        if let Some(rx) = core.functions.take_log_receiver() {
            functions::spawn_log_writer(Arc::downgrade(&core), rx);
        }
        Ok(core)
    }
}

/// The store's state, as the core's operations show it to the adapters.
impl Core {
    /// Whether the store takes writes (it reports a full disk).
    pub fn store_health(&self) -> eddy_store::StoreHealth {
        self.store.health()
    }

    /// How much the store holds (events, work items, bytes, the oldest event's time).
    pub async fn store_counts(&self) -> Result<eddy_store::StoreCounts, core_error::CoreError> {
        Ok(self.store.counts().await?)
    }

    /// Events of the event log after position `after`, in append order (at most `limit`).
    pub async fn events(
        &self,
        after: i64,
        limit: usize,
    ) -> Result<Vec<eddy_store::StoredEvent>, core_error::CoreError> {
        Ok(self.store.events(after, limit).await?)
    }

    /// Forgets everything (`--dev` mode's reset); returns once every cache reflects it.
    pub async fn reset(&self) -> Result<(), core_error::CoreError> {
        let version = self.store.reset().await?;
        self.feed.caught_up(version).await;
        // The object index is gone, so every blob is an orphan now.
        let later = std::time::SystemTime::now() + std::time::Duration::from_secs(1);
        if let Err(e) = self.buckets.sweep(later).await {
            tracing::warn!(error = %e, "object data left after a reset could not be removed");
        }
        Ok(())
    }

    /// A value an adapter keeps among the definitions under a `kind` of its own (the manifest's
    /// last applied state), if there is one.
    pub async fn adapter_state(
        &self,
        kind: &str,
        key: &str,
    ) -> Result<Option<Vec<u8>>, core_error::CoreError> {
        let defs = self.store.definitions().await?;
        Ok(defs
            .items
            .into_iter()
            .find(|(k, name, _)| k == kind && name == key)
            .map(|(_, _, value)| value))
    }

    /// Saves a value an adapter keeps under a `kind` of its own, durably.
    pub async fn save_adapter_state(
        &self,
        kind: &str,
        key: &str,
        value: Vec<u8>,
    ) -> Result<(), core_error::CoreError> {
        let change = eddy_store::DefinitionChange::put(kind, key, value);
        let version = self.store.apply(vec![change]).await?;
        self.feed.caught_up(version).await;
        Ok(())
    }
}

/// Makes the data directory eddy's alone: 0700, or 0711 when functions run as other users (they
/// may pass through it to their own code, not list it).
async fn private_data_dir(config: &ServerConfig) -> anyhow::Result<()> {
    let (dir, user) = (config.data_dir.clone(), config.function_user);
    tokio::task::spawn_blocking(move || functions::make_data_dir_private(&dir, user))
        .await?
        .with_context(|| {
            format!(
                "cannot make the data directory {} private",
                config.data_dir.display()
            )
        })
}
