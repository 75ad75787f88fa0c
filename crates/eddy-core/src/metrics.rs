//! Every metric eddy's server exports, declared once. Names are `eddy_<subsystem>_<thing>`;
//! labels are bounded (bus, rule, outcome), never event ids.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BusLabels {
    pub bus: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RuleLabels {
    pub bus: String,
    pub rule: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DeliveryLabels {
    pub rule: String,
    pub target: String,
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CodeLabels {
    pub code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OperationLabels {
    pub operation: String,
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    /// The API id (`-` when no API matched).
    pub api: String,
    /// The route key (`-` when no route matched).
    pub route: String,
    pub status: String,
}

/// How often a scrape recounts the store gauges.
const STORE_GAUGES_EVERY: Duration = Duration::from_secs(1);

/// The server's metrics and the registry that renders them.
pub struct Metrics {
    registry: Registry,
    /// Events accepted by PutEvents, per bus.
    pub events_put: Family<BusLabels, Counter>,
    /// PutEvents entries that failed, per error code.
    pub failed_entries: Family<CodeLabels, Counter>,
    /// Events matched, per rule.
    pub matched: Family<RuleLabels, Counter>,
    /// Events on which a rule's array-consistency search ran out of steps (the rule did not
    /// match them), per rule.
    pub search_budget_exhausted: Family<RuleLabels, Counter>,
    /// Work items (event, rule, target) recorded for delivery.
    pub work_items: Counter,
    /// Delivery attempts by rule, target and outcome (delivered, retried, dead_lettered, failed,
    /// dropped).
    pub deliveries: Family<DeliveryLabels, Counter>,
    /// From an event's ingestion to its delivery.
    pub delivery_latency_seconds: Histogram,
    /// Settlements (ack, nack, dead-letter, a delivery that acks in the same write) refused
    /// because the delivery's lease was no longer current: its item was not settled by it.
    pub stale_lease_acks: Counter,
    /// Leases renewed because their delivery was still running.
    pub lease_renewals: Counter,
    /// Events the retention sweep deleted from the log.
    pub expired_events: Counter,
    /// Dead letters the retention sweep deleted.
    pub expired_dead_letters: Counter,
    /// Log events deleted because they outlived their group's retention.
    pub expired_log_events: Counter,
    /// Bytes the store gave back to the file system (see `retention`).
    pub reclaimed_bytes: Counter,
    /// AWS API requests by operation and outcome (`ok` or the error code).
    pub requests: Family<OperationLabels, Counter>,
    /// Requests on the HTTP routes listener by API, route and status.
    pub http_requests: Family<RouteLabels, Counter>,
    /// Time the routes listener took to answer (integration included).
    pub http_request_seconds: Histogram,
    /// Time from the start of a store commit to its fsync returning.
    pub store_commit_seconds: Histogram,
    /// Caller requests folded into each store commit.
    pub store_commit_requests: Histogram,
    /// Work items waiting in the store (sampled at scrape).
    pub store_work_items: Gauge,
    /// Events in the store's log (sampled at scrape).
    pub store_events: Gauge,
    /// The store's files' size on disk, in bytes (sampled at scrape).
    pub store_bytes: Gauge,
    /// Age of the oldest event in the store's log, by eddy's clock, in seconds; 0 when the log
    /// is empty (sampled at scrape).
    pub event_log_oldest_age_seconds: Gauge,
    /// When the store gauges were last refreshed (see [`Metrics::store_gauges_stale`]).
    store_gauges_at: Mutex<Option<Instant>>,
    /// Schedule ticks fired (rules and Scheduler schedules).
    pub scheduler_ticks: Counter,
    /// From a tick's due time (nominal time plus any flexible window) to its durable append.
    pub scheduler_lateness_seconds: Histogram,
    /// Schedules and scheduled rules the scheduler keeps (sampled at scrape).
    pub scheduler_schedules: Gauge,
    /// What log groups' metric filters counted (their `metricValue`s summed).
    pub log_metric_filters: Family<LogFilterLabels, Counter<f64, std::sync::atomic::AtomicU64>>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LogFilterLabels {
    pub group: String,
    pub filter: String,
    pub namespace: String,
    pub metric: String,
}

impl Metrics {
    /// Metrics without a node label (tests, tools).
    pub fn new() -> Arc<Self> {
        Self::with_registry(Registry::default())
    }

    /// The metrics of node `node`: every sample carries `node="NAME"`, so several nodes sharing
    /// a store can be told apart when scraped together.
    pub fn for_node(node: &str) -> Arc<Self> {
        let labels = [(
            std::borrow::Cow::Borrowed("node"),
            std::borrow::Cow::Owned(node.to_owned()),
        )];
        Self::with_registry(Registry::with_labels(labels.into_iter()))
    }

    fn with_registry(mut registry: Registry) -> Arc<Self> {
        let events_put = Family::<BusLabels, Counter>::default();
        registry.register(
            "eddy_events_put",
            "Events accepted by PutEvents",
            events_put.clone(),
        );
        let failed_entries = Family::<CodeLabels, Counter>::default();
        registry.register(
            "eddy_events_failed_entries",
            "PutEvents entries rejected, by error code",
            failed_entries.clone(),
        );
        let matched = Family::<RuleLabels, Counter>::default();
        registry.register(
            "eddy_rule_matched_events",
            "Events matched by a rule",
            matched.clone(),
        );
        let search_budget_exhausted = Family::<RuleLabels, Counter>::default();
        registry.register(
            "eddy_pattern_search_budget_exhausted",
            "Events on which a rule's array-consistency search ran out of steps, so the rule \
             did not match them",
            search_budget_exhausted.clone(),
        );
        let work_items = Counter::default();
        registry.register(
            "eddy_delivery_work_items",
            "Deliveries (event, rule, target) recorded",
            work_items.clone(),
        );
        let deliveries = Family::<DeliveryLabels, Counter>::default();
        registry.register(
            "eddy_delivery_attempts",
            "Delivery attempts by rule, target and outcome",
            deliveries.clone(),
        );
        let delivery_latency_seconds = Histogram::new(exponential_buckets(0.000_1, 2.0, 20));
        registry.register(
            "eddy_delivery_latency_seconds",
            "Time from an event's ingestion to its delivery",
            delivery_latency_seconds.clone(),
        );
        let stale_lease_acks = Counter::default();
        registry.register(
            "eddy_delivery_stale_lease_acks",
            "Settlements of deliveries refused because their lease was no longer current",
            stale_lease_acks.clone(),
        );
        let expired_events = Counter::default();
        registry.register(
            "eddy_retention_expired_events",
            "Events deleted from the event log because nothing needed them any more",
            expired_events.clone(),
        );
        let expired_dead_letters = Counter::default();
        registry.register(
            "eddy_retention_expired_dead_letters",
            "Dead letters deleted because they outlived their retention",
            expired_dead_letters.clone(),
        );
        let expired_log_events = Counter::default();
        registry.register(
            "eddy_retention_expired_log_events",
            "Log events deleted because they outlived their log group's retention",
            expired_log_events.clone(),
        );
        let reclaimed_bytes = Counter::default();
        registry.register(
            "eddy_store_reclaimed_bytes",
            "Bytes of deleted data the store gave back to the file system",
            reclaimed_bytes.clone(),
        );
        let lease_renewals = Counter::default();
        registry.register(
            "eddy_delivery_lease_renewals",
            "Leases renewed because their delivery was still running",
            lease_renewals.clone(),
        );
        let requests = Family::<OperationLabels, Counter>::default();
        registry.register(
            "eddy_aws_requests",
            "AWS API requests by operation and outcome",
            requests.clone(),
        );
        let http_requests = Family::<RouteLabels, Counter>::default();
        registry.register(
            "eddy_http_requests",
            "Requests on the HTTP routes listener by API, route and status",
            http_requests.clone(),
        );
        let http_request_seconds = Histogram::new(exponential_buckets(0.000_05, 2.0, 20));
        registry.register(
            "eddy_http_request_seconds",
            "Time the HTTP routes listener took to answer, integration included",
            http_request_seconds.clone(),
        );
        let store_commit_seconds = Histogram::new(exponential_buckets(0.000_05, 2.0, 16));
        registry.register(
            "eddy_store_commit_seconds",
            "Duration of one store commit including its fsync",
            store_commit_seconds.clone(),
        );
        let store_commit_requests = Histogram::new(exponential_buckets(1.0, 2.0, 13));
        registry.register(
            "eddy_store_commit_requests",
            "Caller requests sharing one store commit (group commit)",
            store_commit_requests.clone(),
        );
        let store_work_items = Gauge::default();
        registry.register(
            "eddy_store_work_items",
            "Work items waiting in the store",
            store_work_items.clone(),
        );
        let store_events = Gauge::default();
        registry.register(
            "eddy_store_events",
            "Events in the store's log",
            store_events.clone(),
        );
        let store_bytes = Gauge::default();
        registry.register(
            "eddy_store_bytes",
            "Size of the store's files on disk (database and write-ahead log), in bytes",
            store_bytes.clone(),
        );
        let event_log_oldest_age_seconds = Gauge::default();
        registry.register(
            "eddy_event_log_oldest_age_seconds",
            "Age of the oldest event in the store's log by eddy's clock (0 when empty)",
            event_log_oldest_age_seconds.clone(),
        );
        let scheduler_ticks = Counter::default();
        registry.register(
            "eddy_scheduler_ticks",
            "Schedule ticks fired",
            scheduler_ticks.clone(),
        );
        let scheduler_lateness_seconds = Histogram::new(exponential_buckets(0.000_1, 2.0, 20));
        registry.register(
            "eddy_scheduler_lateness_seconds",
            "From a tick's due time to its durable append",
            scheduler_lateness_seconds.clone(),
        );
        let log_metric_filters =
            Family::<LogFilterLabels, Counter<f64, std::sync::atomic::AtomicU64>>::default();
        registry.register(
            "eddy_log_metric_filter_value",
            "What log groups' metric filters counted: the sum of their metric values",
            log_metric_filters.clone(),
        );
        let scheduler_schedules = Gauge::default();
        registry.register(
            "eddy_scheduler_schedules",
            "Schedules and scheduled rules the scheduler keeps",
            scheduler_schedules.clone(),
        );
        Arc::new(Self {
            registry,
            events_put,
            failed_entries,
            matched,
            search_budget_exhausted,
            work_items,
            deliveries,
            delivery_latency_seconds,
            stale_lease_acks,
            lease_renewals,
            expired_events,
            expired_dead_letters,
            expired_log_events,
            reclaimed_bytes,
            requests,
            http_requests,
            http_request_seconds,
            store_commit_seconds,
            store_commit_requests,
            store_work_items,
            store_events,
            store_bytes,
            event_log_oldest_age_seconds,
            store_gauges_at: Mutex::new(None),
            scheduler_ticks,
            scheduler_lateness_seconds,
            scheduler_schedules,
            log_metric_filters,
        })
    }

    /// Whether the store gauges (events, work items) should be recounted for this scrape, at
    /// most once a second: counting runs on the store's writer thread, and a scraper polling
    /// fast must not hold up appends and deliveries behind it.
    pub fn store_gauges_stale(&self) -> bool {
        let mut at = self
            .store_gauges_at
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if at.is_some_and(|t| now.duration_since(t) < STORE_GAUGES_EVERY) {
            return false;
        }
        *at = Some(now);
        true
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

/// Feeds the store's commit timings into the metrics.
pub struct StoreMetrics(pub Arc<Metrics>);

impl eddy_store::StoreObserver for StoreMetrics {
    fn committed(&self, duration: Duration, requests: usize) {
        self.0.store_commit_seconds.observe(duration.as_secs_f64());
        self.0.store_commit_requests.observe(requests as f64);
    }
}
