//! PutEvents and deliveries on the PostgreSQL store, next to the embedded store: how many events
//! per second several nodes sharing one database make durable, and how many work items they
//! deliver (lease + ack).
//!
//! `cargo bench -p eddy-store --bench pg_append [-- NODES CLIENTS BATCH SECONDS RATE]` (defaults
//! 3, 96, 10, 5, 0) opens NODES PostgreSQL stores (the nodes, in this one process) on a fresh schema of
//! the server at `EDDY_TEST_PG` (default `postgres://postgres@127.0.0.1:5432/postgres`; see
//! `scripts/postgres`), then runs CLIENTS concurrent clients spread over the nodes, each
//! appending batches of BATCH events (each owing one delivery) for SECONDS, together at most
//! RATE events/s when RATE is not 0 (for latency at a given load), and prints one JSON line: events/s, appends per commit, append latency p50/p99. Then as many workers lease 100
//! items and ack them until the backlog is gone: deliveries/s. The same runs on an embedded
//! store (one node) follow, for comparison. Commits wait for the WAL flush
//! (`synchronous_commit` as the server has it), as in production.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use eddy_store::{
    AppendBatch, EmbeddedStore, EmbeddedStoreOptions, NewEvent, NewWork, PostgresStore,
    PostgresStoreOptions, Store, StoreObserver, WorkItem,
};

/// Counts commits and the requests they held.
#[derive(Default)]
struct Commits {
    commits: AtomicU64,
    requests: AtomicU64,
}

impl StoreObserver for Commits {
    fn committed(&self, _: Duration, requests: usize) {
        self.commits.fetch_add(1, Ordering::Relaxed);
        self.requests.fetch_add(requests as u64, Ordering::Relaxed);
    }
}

fn batch(client: usize, n: u64, size: usize, now: i64) -> AppendBatch {
    let mut b = AppendBatch {
        now_ms: Some(now),
        ..AppendBatch::default()
    };
    for i in 0..size {
        let id = format!("c{client}-{n}-{i}");
        b.events.push(NewEvent {
            body: format!(
                r#"{{"version":"0","id":"{id}","detail-type":"order","source":"shop","detail":{{"pad":"{}"}}}}"#,
                "x".repeat(200)
            ),
            id,
            bus: "us-east-1/default".into(),
            time_ms: now,
            hops: 0,
        });
        b.work.push(NewWork {
            event: i,
            rule: "arn:aws:events:us-east-1:000000000000:rule/r".into(),
            target: "t".into(),
        });
    }
    b
}

fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(((v.len() as f64 * p) as usize).min(v.len().saturating_sub(1)))
        .copied()
        .unwrap_or(0.0)
}

/// What one run does.
#[derive(Clone, Copy)]
struct Load {
    clients: usize,
    size: usize,
    secs: u64,
    /// Events per second over all clients; 0: as fast as they can.
    rate: usize,
}

async fn run(name: &str, nodes: &[Arc<dyn Store>], commits: &Commits, load: Load) {
    let Load {
        clients,
        size,
        secs,
        rate,
    } = load;
    let now = 1_800_000_000_000i64;
    let run = Duration::from_secs(secs);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let store = nodes[c % nodes.len()].clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut n = 0;
            // Each client's share of the rate: one append every `every`.
            let every =
                (rate > 0).then(|| Duration::from_secs_f64((clients * size) as f64 / rate as f64));
            // Clients start spread over one interval, so that they do not all append at once.
            let mut pace = every.map(|every| {
                let first = tokio::time::Instant::now() + every.mul_f64(c as f64 / clients as f64);
                let mut i = tokio::time::interval_at(first, every);
                i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                i
            });
            while start.elapsed() < run {
                if let Some(pace) = &mut pace {
                    pace.tick().await;
                }
                let t = Instant::now();
                store.append(batch(c, n, size, now)).await.expect("append");
                lat.push(t.elapsed().as_secs_f64() * 1e3);
                n += 1;
            }
            lat
        }));
    }
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await.expect("client"));
    }
    let took = start.elapsed().as_secs_f64();
    let events = lat.len() * size;
    let (c, r) = (
        commits.commits.load(Ordering::Relaxed),
        commits.requests.load(Ordering::Relaxed),
    );
    println!(
        r#"{{"store":"{name}","phase":"append","nodes":{},"clients":{clients},"batch":{size},"rate":{rate},"events":{events},"events_per_s":{:.0},"appends_per_commit":{:.1},"p50_ms":{:.2},"p99_ms":{:.2}}}"#,
        nodes.len(),
        events as f64 / took,
        r as f64 / c.max(1) as f64,
        percentile(&mut lat, 0.5),
        percentile(&mut lat, 0.99),
    );
    // Deliveries: every worker leases 100 and acks them, until nothing is left.
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let store = nodes[c % nodes.len()].clone();
        tasks.push(tokio::spawn(async move {
            let mut done = 0u64;
            loop {
                let items = store
                    .lease(None, now + 1, 100, 60_000)
                    .await
                    .expect("lease");
                if items.is_empty() {
                    return done;
                }
                done += items.len() as u64;
                let refused = store
                    .ack(items.iter().map(WorkItem::lease).collect())
                    .await
                    .expect("ack");
                assert!(refused.is_empty());
            }
        }));
    }
    let mut delivered = 0;
    for t in tasks {
        delivered += t.await.expect("worker");
    }
    let took = start.elapsed().as_secs_f64();
    println!(
        r#"{{"store":"{name}","phase":"deliver","nodes":{},"workers":{clients},"delivered":{delivered},"deliveries_per_s":{:.0}}}"#,
        nodes.len(),
        delivered as f64 / took,
    );
}

fn main() {
    let arg = common::args();
    let nodes = arg(0, 3);
    let load = Load {
        clients: arg(1, 96),
        size: arg(2, 10),
        secs: arg(3, 5) as u64,
        rate: arg(4, 0),
    };
    let server = common::server();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let schema = format!("eddy_bench_{}", std::process::id());
        let uri = common::fresh_schema(&server, &schema).await;
        let commits = Arc::new(Commits::default());
        let mut stores: Vec<Arc<dyn Store>> = Vec::new();
        for n in 0..nodes {
            let store = PostgresStore::connect(
                &uri,
                PostgresStoreOptions {
                    node: format!("bench-{n}"),
                    connections: 8,
                    observer: commits.clone(),
                    ..PostgresStoreOptions::default()
                },
            )
            .await
            .expect("open the PostgreSQL store");
            stores.push(Arc::new(store));
        }
        run("postgres", &stores, &commits, load).await;
        drop(stores);
        common::drop_schema(&server, &schema).await;

        let dir = tempfile::tempdir().expect("tempdir");
        let commits = Arc::new(Commits::default());
        let embedded = EmbeddedStore::open_with(
            dir.path(),
            EmbeddedStoreOptions {
                observer: commits.clone(),
                ..EmbeddedStoreOptions::default()
            },
        )
        .expect("open the embedded store");
        let stores: Vec<Arc<dyn Store>> = vec![Arc::new(embedded)];
        run("embedded", &stores, &commits, load).await;
    });
}
