//! The eddy server: the AWS endpoint, the HTTP routes listener, and the pieces between them and
//! the store.
//!
//! [`run`] takes already-bound listeners, a [`ServerConfig`] and a shutdown future (so tests bind
//! port 0 and stop the server when they like). Inside:
//!
//! * [`aws`]: the AWS endpoint (JSON 1.1 dispatch, EventBridge operations, error shapes);
//! * [`catalog`]: bus and rule definitions, persisted in the store, compiled into a matcher per
//!   bus;
//! * [`follow`]: keeps every cache of definitions in step with the store's change feed;
//! * [`bus`]: PutEvents' path: envelope, match, durable append of the event and its work items;
//! * [`queues`]: SQS-shaped queues (definitions, send, receive with long polling);
//! * [`delivery`]: the delivery engine (targets, input shaping, retries, dead letters);
//! * [`destinations`], [`logs`]: API destinations (HTTP targets) and log groups;
//! * [`functions`]: function definitions, their code on disk, and the runtime pools running
//!   them (`eddy-runtime`);
//! * [`ops`]: health, Prometheus metrics, dev-mode reset and clock, `POST /_eddy/apply`;
//! * [`admin`]: endpoints for the eddy CLI (`events tail`, `dlq redrive`);
//! * [`apply`]: applying an app manifest (`eddy.toml`) through eddy's own operations;
//! * [`clock`]: the server's clock (system time plus an offset `--dev` mode can move);
//! * [`schedules`], [`scheduler`]: EventBridge Scheduler's schedules and the loop that fires
//!   them and scheduled rules;
//! * [`routes`]: HTTP APIs (routes, integrations, authorizers), compiled into the table
//!   [`gateway`], the HTTP routes listener, serves from.
//!
//! What it is not: the pattern language (`eddy-pattern`), the storage engine (`eddy-store`), or
//! the CLI (`eddy`).

pub mod admin;
pub mod apply;
pub mod archives;
pub mod aws;
pub mod bus;
pub mod catalog;
pub mod clock;
pub mod config;
pub mod core_error;
pub mod delivery;
pub mod destinations;
pub mod egress;
pub mod error;
pub mod follow;
pub mod functions;
pub mod gateway;
pub mod logs;
pub mod metrics;
pub mod ops;
pub mod queues;
pub mod registry;
pub mod retention;
pub mod routes;
pub mod scheduler;
pub mod schedules;
pub mod work;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use eddy_store::{Store, StoreOptions, StoreUri};
use tokio::net::TcpListener;

pub use config::ServerConfig;

use crate::bus::Bus;
use crate::catalog::Catalog;
use crate::metrics::{Metrics, StoreMetrics};

/// Everything a request handler can reach.
pub struct App {
    pub config: ServerConfig,
    pub store: Arc<dyn Store>,
    pub catalog: Arc<Catalog>,
    pub bus: Bus,
    pub queues: queues::Queues,
    pub archives: archives::Archives,
    pub destinations: destinations::Destinations,
    pub log_groups: logs::LogGroups,
    pub functions: functions::Functions,
    /// Serialises manifest applies.
    pub apply_lock: tokio::sync::Mutex<()>,
    pub routes: routes::Routes,
    /// The HTTP client API destinations are called with (pooled connections).
    pub http: delivery::http::HttpClient,
    pub metrics: Arc<Metrics>,
    /// The time every due time is measured against (movable in `--dev` mode).
    pub clock: clock::Clock,
    pub schedules: schedules::Schedules,
    pub scheduler: scheduler::Scheduler,
    /// The version of the definitions the caches reflect, and their changes as applied.
    pub feed: Arc<follow::Feed>,
    /// The memory large request bodies in flight may hold together, on both listeners.
    pub bodies: eddy_net::BodyBudget,
}

impl App {
    /// Opens the store `config.store` names (the embedded store in `config.data_dir` when it
    /// names none) and loads everything it holds.
    pub async fn open(config: ServerConfig) -> anyhow::Result<Arc<Self>> {
        Self::open_with_clock(config, clock::Clock::system()).await
    }

    /// [`App::open`] on a given clock (tests use [`clock::Clock::manual`]).
    pub async fn open_with_clock(
        config: ServerConfig,
        clock: clock::Clock,
    ) -> anyhow::Result<Arc<Self>> {
        let metrics = Metrics::new();
        private_data_dir(&config).await?;
        let uri = config
            .store
            .clone()
            .unwrap_or_else(|| StoreUri::embedded(&config.data_dir));
        let options = StoreOptions {
            sync: config.sync,
            observer: Arc::new(StoreMetrics(metrics.clone())),
        };
        let store = tokio::task::spawn_blocking(move || eddy_store::open(&uri, options)).await??;
        Self::assemble(config, clock, store, metrics).await
    }

    /// [`App::open_with_clock`] on a store opened elsewhere (a test's, or one a caller chose
    /// itself); `config.store` is not looked at.
    pub async fn open_with_store(
        config: ServerConfig,
        clock: clock::Clock,
        store: Arc<dyn Store>,
    ) -> anyhow::Result<Arc<Self>> {
        private_data_dir(&config).await?;
        Self::assemble(config, clock, store, Metrics::new()).await
    }

    /// Loads everything the store holds into the parts of the app.
    async fn assemble(
        config: ServerConfig,
        clock: clock::Clock,
        store: Arc<dyn Store>,
        metrics: Arc<Metrics>,
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
        let feed = follow::Feed::new(version);
        let catalog = Arc::new(Catalog::load(
            store.clone(),
            feed.clone(),
            &definitions,
            metrics.clone(),
            config.account_id.clone(),
            limits,
            clock.clone(),
        )?);
        let bus = Bus::new(
            catalog.clone(),
            store.clone(),
            metrics.clone(),
            clock.clone(),
        );
        let queues =
            queues::Queues::load(store.clone(), feed.clone(), &definitions, clock.clone())?;
        let schedules =
            schedules::Schedules::load(store.clone(), feed.clone(), &definitions, clock.now_ms())?;
        let archives =
            archives::Archives::load(store.clone(), feed.clone(), &definitions, clock.clone())?;
        let destinations =
            destinations::Destinations::load(store.clone(), feed.clone(), &definitions)?;
        let log_groups = logs::LogGroups::load(store.clone(), feed.clone(), &definitions)?;
        let endpoint = config
            .aws_endpoint
            .clone()
            .unwrap_or_else(|| "http://127.0.0.1:4566".to_owned());
        let functions = functions::Functions::load(
            store.clone(),
            feed.clone(),
            &definitions,
            &config,
            endpoint,
            clock.clone(),
        )?;
        let http = delivery::http::HttpClient::new()?;
        // One process-wide TLS provider (a second install is fine).
        let _already = rustls::crypto::ring::default_provider()
            .install_default()
            .is_err();
        let keys = routes::auth::KeySources::new(config.code_roots.clone(), config.egress.clone())?;
        let routes = routes::Routes::load(store.clone(), feed.clone(), &definitions, keys)?;
        drop(definitions);
        let app = Arc::new(Self {
            store,
            catalog,
            bus,
            queues,
            archives,
            destinations,
            log_groups,
            functions,
            apply_lock: tokio::sync::Mutex::new(()),
            routes,
            http,
            metrics,
            clock,
            schedules,
            scheduler: scheduler::Scheduler::new(),
            feed,
            bodies: eddy_net::BodyBudget::new(config.max_body_memory),
            config,
        });
        follow::spawn(Arc::downgrade(&app), changes);
        Ok(app)
    }

    /// The router of the AWS listener: the browser boundary first, then credentials for
    /// everything but health, metrics and the dev-mode endpoints (see [`aws::require_credentials`]),
    /// then eddy's own endpoints and every AWS service.
    ///
    /// What browsers may call legitimately once eddy serves it (S3 presigned URLs under a
    /// bucket's CORS configuration, function URLs under theirs) is answered by that resource's
    /// own CORS rules, as AWS does: it must be routed before this guard, not through it.
    pub fn aws_router(self: &Arc<Self>) -> Router {
        let guard = eddy_net::Guard::new(self.config.boundary.clone(), aws::refuse_at_boundary);
        Router::new()
            .merge(ops::router())
            .fallback(aws::dispatch)
            .layer(axum::middleware::from_fn(aws::require_credentials))
            .layer(axum::middleware::from_fn(aws::request_id))
            .layer(axum::middleware::from_fn_with_state(
                guard,
                eddy_net::enforce,
            ))
            .with_state(self.clone())
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

/// The listeners [`run`] serves.
pub struct Listeners {
    /// The AWS-compatible endpoint.
    pub aws: TcpListener,
    /// User HTTP routes.
    pub http: TcpListener,
}

impl Listeners {
    pub fn addrs(&self) -> std::io::Result<(SocketAddr, SocketAddr)> {
        Ok((self.aws.local_addr()?, self.http.local_addr()?))
    }
}

/// Serves until `shutdown` completes, then drains in-flight requests and returns.
pub async fn run(
    listeners: Listeners,
    config: ServerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let mut config = config;
    if config.aws_endpoint.is_none() {
        config.aws_endpoint = Some(format!("http://{}", listeners.aws.local_addr()?));
    }
    if config.http_endpoint.is_none() {
        config.http_endpoint = Some(format!("http://{}", listeners.http.local_addr()?));
    }
    let app = App::open(config).await?;
    serve(app, listeners, shutdown).await
}

/// Serves an opened [`App`] (see [`run`]).
pub async fn serve(
    app: Arc<App>,
    listeners: Listeners,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _closed = stop_tx.send(true).is_err();
    });
    let wait = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _gone = rx.wait_for(|v| *v).await.is_err();
    };
    // Replays interrupted by the last stop resume now, not at the first archive API call.
    app.archives.attach(&app.bus, app.catalog.limits());
    let engine = tokio::spawn(delivery::run(app.clone(), stop_rx.clone()));
    let scheduler = scheduler::spawn(app.clone(), stop_rx.clone());
    let retention = tokio::spawn(retention::run(app.clone(), stop_rx.clone()));
    let limits = app.config.limits.clone();
    let aws = eddy_net::serve(
        listeners.aws,
        app.aws_router(),
        limits.clone(),
        wait(stop_rx.clone()),
    );
    let http = eddy_net::serve(
        listeners.http,
        gateway::router(app.clone()),
        limits,
        wait(stop_rx),
    );
    let (a, h) = tokio::join!(aws, http);
    // Deliveries in flight finish or return to the store at the next start.
    engine.abort();
    retention.abort();
    if let Some(s) = scheduler {
        s.abort();
    }
    a.context("AWS listener failed")?;
    h.context("HTTP listener failed")?;
    Ok(())
}
