//! The eddy server: the protocol adapters over the core (`eddy-core`), and [`run`], which
//! serves them.
//!
//! [`run`] takes already-bound listeners, a [`ServerConfig`] and a shutdown future (so tests bind
//! port 0 and stop the server when they like). The adapters parse and validate their wire's
//! requests, call the core and map its errors to their wire's:
//!
//! * [`aws`]: the AWS endpoint (one module per service, JSON 1.1 / REST dispatch, error shapes);
//! * [`gateway`], [`routes`]: HTTP APIs (routes, integrations, authorizers), compiled into the
//!   table the HTTP routes listener serves from;
//! * [`ops`]: health, Prometheus metrics, dev-mode reset and clock, `POST /_eddy/apply`;
//! * [`admin`]: endpoints for the eddy CLI (`events tail`, `dlq redrive`);
//! * [`apply`]: applying an app manifest (`eddy.toml`);
//! * [`error`]: AWS's error shapes, and the mapping of the core's errors to them.
//!
//! The core's modules are re-exported under their own names (`eddy_server::bus` is
//! `eddy_core::bus`) for the adapters and the CLI.
//!
//! What it is not: the domain (`eddy-core`), the pattern language (`eddy-pattern`), the storage
//! engine (`eddy-store`), or the CLI (`eddy`).

pub mod admin;
pub mod apply;
pub mod aws;
pub mod error;
pub mod function_urls;
pub mod gateway;
pub mod ops;
pub mod routes;

pub use eddy_core::{
    Core, ServerConfig, archives, bus, catalog, clock, config, core_error, delivery, destinations,
    egress, follow, functions, log_queries, log_subscriptions, logs, metric_filters, metrics,
    queues, registry, retention, scheduler, schedules, work,
};

use std::future::Future;
use std::net::SocketAddr;
use std::ops::Deref;
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use eddy_core::follow::Follow;
use eddy_store::Store;
use tokio::net::TcpListener;

/// Everything a request handler can reach: the core, and what only the adapters keep.
pub struct App {
    pub(crate) core: Arc<Core>,
    /// Serialises manifest applies.
    pub(crate) apply_lock: tokio::sync::Mutex<()>,
    /// HTTP APIs, compiled for the gateway; they follow the store's feed with the core's caches.
    pub(crate) routes: Arc<routes::Routes>,
    /// The memory large request bodies in flight may hold together, on both listeners.
    pub(crate) bodies: eddy_net::BodyBudget,
    /// S3's protocol (`s3s`), over the core's buckets.
    pub(crate) s3: s3s::service::S3Service,
    /// The client of `HTTP_PROXY` route integrations (under the egress policy; redirects are
    /// the caller's to follow).
    pub(crate) proxy_client: reqwest::Client,
}

impl Deref for App {
    type Target = Core;

    fn deref(&self) -> &Core {
        &self.core
    }
}

impl App {
    /// The core, for what runs beside the adapters (the scheduler and delivery loops).
    pub fn core(&self) -> &Arc<Core> {
        &self.core
    }

    /// The S3 service.
    pub(crate) fn s3(&self) -> &s3s::service::S3Service {
        &self.s3
    }

    /// The HTTP APIs the gateway serves.
    pub fn apis(&self) -> &routes::Routes {
        &self.routes
    }

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
        let mut routes = None;
        let core = Core::open(config, clock, Self::routes(&mut routes)).await?;
        Self::assemble(core, routes)
    }

    /// [`App::open_with_clock`] on a store opened elsewhere (a test's, or one a caller chose
    /// itself); `config.store` is not looked at.
    pub async fn open_with_store(
        config: ServerConfig,
        clock: clock::Clock,
        store: Arc<dyn Store>,
    ) -> anyhow::Result<Arc<Self>> {
        let mut routes = None;
        let core = Core::open_with_store(config, clock, store, Self::routes(&mut routes)).await?;
        Self::assemble(core, routes)
    }

    /// Loads the HTTP APIs while the core is assembled, into `slot`.
    fn routes(slot: &mut Option<Arc<routes::Routes>>) -> eddy_core::Extra<'_> {
        Box::new(move |l| {
            let keys = routes::auth::KeySources::new(
                l.config.code_roots.clone(),
                l.config.egress.clone(),
            )?;
            let routes = Arc::new(routes::Routes::load(
                l.store.clone(),
                l.feed.clone(),
                l.definitions,
                keys,
            )?);
            *slot = Some(routes.clone());
            Ok(vec![routes as Arc<dyn Follow>])
        })
    }

    fn assemble(core: Arc<Core>, routes: Option<Arc<routes::Routes>>) -> anyhow::Result<Arc<Self>> {
        let routes = routes.context("the HTTP APIs were not loaded")?;
        let proxy_client = core
            .config
            .egress
            .proxy_client(std::time::Duration::from_secs(30))
            .context("cannot build the HTTP client of HTTP_PROXY integrations")?;
        Ok(Arc::new_cyclic(|weak| Self {
            proxy_client,
            bodies: eddy_net::BodyBudget::new(core.config.max_body_memory),
            core,
            apply_lock: tokio::sync::Mutex::new(()),
            routes,
            s3: aws::s3::build(weak.clone()),
        }))
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
            .layer(axum::middleware::from_fn_with_state(
                self.clone(),
                aws::s3::cors::gate,
            ))
            .with_state(self.clone())
    }
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
    let engine = tokio::spawn(delivery::run(app.core.clone(), stop_rx.clone()));
    let pollers = tokio::spawn(eddy_core::sources::run(app.core.clone(), stop_rx.clone()));
    let scheduler = scheduler::spawn(app.core.clone(), stop_rx.clone());
    let retention = tokio::spawn(retention::run(app.core.clone(), stop_rx.clone()));
    // Object data a crash left unrecorded (a blob written but not yet in the index, or freed
    // but not yet deleted). Alone on its data directory, a process may take everything older
    // than its start; nodes sharing a store leave an hour's margin.
    let started = std::time::SystemTime::now();
    let margin = match &app.config.store {
        Some(eddy_store::StoreUri::Postgres(_)) => std::time::Duration::from_secs(3600),
        _ => std::time::Duration::ZERO,
    };
    let sweeper = app.core.clone();
    tokio::spawn(async move {
        match sweeper.buckets.sweep(started - margin).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(blobs = n, "removed object data a crash left behind"),
            Err(e) => tracing::warn!(error = %e, "cannot sweep object data a crash left behind"),
        }
    });
    let heartbeats = tokio::spawn(eddy_core::cluster::heartbeats(
        app.core.clone(),
        stop_rx.clone(),
    ));
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
    pollers.abort();
    retention.abort();
    heartbeats.abort();
    if let Some(s) = scheduler {
        s.abort();
    }
    a.context("AWS listener failed")?;
    h.context("HTTP listener failed")?;
    Ok(())
}
