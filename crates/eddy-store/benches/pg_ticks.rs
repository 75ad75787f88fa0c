//! Schedule ticks on the PostgreSQL store, next to the embedded store: how many ticks per second
//! the store records when one node fires them (a leader), and when several nodes fire the same
//! ticks at once (no leader: every tick is raced, and the database lets one append of each
//! through, [`StoreError::TickTaken`] for the others).
//!
//! `cargo bench -p eddy-store --bench pg_ticks [-- SCHEDULES ROUNDS PER_APPEND]` (defaults 2000,
//! 5, 1) fires ROUNDS ticks of SCHEDULES schedules, each tick an event with one delivery, in
//! appends of PER_APPEND ticks (1: one append per tick, so a taken tick refuses only itself;
//! more: a refused tick refuses the whole append, so racing nodes record fewer), all appends of
//! a round issued at once per node. Prints one JSON line per run (PostgreSQL with 1 and 3 nodes
//! on a fresh schema of the server at `EDDY_TEST_PG`, then the embedded store): ticks recorded
//! per second, appends refused, and whether every tick was recorded exactly once.

mod common;

use std::sync::Arc;
use std::time::Instant;

use eddy_store::{
    AppendBatch, EmbeddedStore, NewEvent, NewWork, PostgresStore, PostgresStoreOptions, Store,
    StoreError, Tick,
};

/// The append of ticks `tick_ms` of `schedules`.
fn fire(schedules: &[usize], tick_ms: i64) -> AppendBatch {
    let mut b = AppendBatch {
        now_ms: Some(tick_ms),
        ..AppendBatch::default()
    };
    for (i, s) in schedules.iter().enumerate() {
        let schedule = format!("rule:us-east-1:default:r{s}");
        b.events.push(NewEvent {
            id: format!("{s}-{tick_ms}"),
            bus: "us-east-1/default".into(),
            time_ms: tick_ms,
            body: format!(r#"{{"id":"{s}-{tick_ms}","detail-type":"Scheduled Event"}}"#),
            hops: 0,
        });
        b.work.push(NewWork {
            event: i,
            rule: schedule.clone(),
            target: "t".into(),
        });
        b.ticks.push(Tick { schedule, tick_ms });
    }
    b
}

async fn run(name: &str, nodes: &[Arc<dyn Store>], schedules: usize, rounds: usize, per: usize) {
    let started = Instant::now();
    let (mut written, mut taken, mut failed) = (0u64, 0u64, 0u64);
    for round in 0..rounds {
        let tick_ms = 60_000 * (round as i64 + 1);
        let mut appends = tokio::task::JoinSet::new();
        for node in nodes {
            let all: Vec<usize> = (0..schedules).collect();
            for chunk in all.chunks(per.max(1)) {
                let (node, chunk) = (node.clone(), chunk.to_vec());
                appends.spawn(async move { node.append(fire(&chunk, tick_ms)).await });
            }
        }
        while let Some(answer) = appends.join_next().await {
            match answer.expect("join") {
                Ok(()) => written += 1,
                Err(StoreError::TickTaken(_)) => taken += 1,
                Err(e) => {
                    failed += 1;
                    eprintln!("append failed: {e}");
                }
            }
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let counts = nodes[0].counts().await.expect("counts");
    let ticks = nodes[0].ticks().await.expect("ticks");
    let once = counts.events == (schedules * rounds) as u64
        && ticks.len() == schedules
        && ticks.iter().all(|(_, t)| *t == 60_000 * rounds as i64);
    println!(
        "{{\"store\":\"{name}\",\"nodes\":{},\"per_append\":{per},\"ticks_per_s\":{:.0},\
         \"appends_written\":{written},\"appends_taken\":{taken},\"appends_failed\":{failed},\
         \"events\":{},\"each_tick_once\":{once},\"seconds\":{secs:.2}}}",
        nodes.len(),
        counts.events as f64 / secs,
        counts.events,
    );
}

fn main() {
    let arg = common::args();
    let (schedules, rounds, per) = (arg(0, 2000), arg(1, 5), arg(2, 1));
    let server = common::server();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        for nodes in [1, 3] {
            let schema = format!("eddy_bench_ticks_{}", std::process::id());
            let uri = common::fresh_schema(&server, &schema).await;
            let mut stores: Vec<Arc<dyn Store>> = Vec::new();
            for n in 0..nodes {
                let options = PostgresStoreOptions {
                    node: format!("bench-{n}"),
                    ..PostgresStoreOptions::default()
                };
                let store = PostgresStore::connect(&uri, options)
                    .await
                    .expect("open the PostgreSQL store");
                stores.push(Arc::new(store));
            }
            run("postgres", &stores, schedules, rounds, per).await;
            drop(stores);
            common::drop_schema(&server, &schema).await;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let embedded = EmbeddedStore::open(dir.path()).expect("open the embedded store");
        run("embedded", &[Arc::new(embedded)], schedules, rounds, per).await;
    });
}
