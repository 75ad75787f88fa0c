//! Queue depth: does a queue of 1,000,000 messages receive and delete as fast as one of 1,000?
//!
//! `cargo bench -p eddy-store --bench queue_depth [-- DEPTH...]` fills a fresh embedded store's
//! queue with each depth of messages (standard, and FIFO with 100 groups), then runs
//! receive-10 + delete-10 cycles on it from a single client for a few seconds, and prints one
//! JSON line per queue: messages per second drained, and the median receive and delete latency.
//! Store fsyncs are on, as in production.

use std::time::{Duration, Instant};

use eddy_store::{EmbeddedStore, NewMessage, QueueStore, ReceiveOptions};

const RUN: Duration = Duration::from_secs(4);

fn message(i: u64, fifo: bool) -> NewMessage {
    NewMessage {
        message_id: format!("m-{i}"),
        body: format!(r#"{{"order":{i},"pad":"{}"}}"#, "x".repeat(200)),
        attributes: "{}".into(),
        delay_ms: 0,
        group_id: fifo.then(|| format!("g{}", i % 100)),
        dedup_id: fifo.then(|| format!("d{i}")),
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

async fn run(store: &EmbeddedStore, depth: u64, fifo: bool) {
    let queue = format!("q-{depth}-{fifo}");
    let now = 1_800_000_000_000i64;
    let fill = Instant::now();
    let mut i = 0;
    while i < depth {
        let n = (depth - i).min(1000);
        let batch = (i..i + n).map(|k| message(k, fifo)).collect();
        store
            .queue_send(queue.clone(), batch, now, Vec::new())
            .await
            .expect("send");
        i += n;
    }
    let fill_s = fill.elapsed().as_secs_f64();
    let opts = ReceiveOptions {
        now_ms: now + 1,
        max: 10,
        visibility_ms: 30_000,
        fifo,
        redrive: None,
        retention_ms: 4 * 24 * 3_600_000,
    };
    let (mut receive_ms, mut delete_ms) = (Vec::new(), Vec::new());
    let mut drained = 0u64;
    let start = Instant::now();
    while start.elapsed() < RUN {
        let t = Instant::now();
        let got = store
            .queue_receive(queue.clone(), opts.clone())
            .await
            .expect("receive");
        receive_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        if got.is_empty() {
            break;
        }
        let t = Instant::now();
        let receipts = got.iter().map(|m| m.receipt.clone()).collect();
        let deleted = store
            .queue_delete(queue.clone(), receipts)
            .await
            .expect("delete");
        delete_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        drained += deleted.iter().filter(|d| **d).count() as u64;
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{{\"bench\":\"queue_depth\",\"depth\":{depth},\"fifo\":{fifo},\"fill_seconds\":{fill_s:.1},\
         \"drained_per_sec\":{:.0},\"receive10_p50_ms\":{:.3},\"delete10_p50_ms\":{:.3}}}",
        drained as f64 / secs,
        median(&mut receive_ms),
        median(&mut delete_ms)
    );
}

fn main() {
    let depths: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let depths = if depths.is_empty() {
        vec![1_000, 1_000_000]
    } else {
        depths
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        for fifo in [false, true] {
            for &depth in &depths {
                // A fresh store per queue, so one queue's rows do not slow another's.
                let dir = tempfile::tempdir().expect("tempdir");
                let store = EmbeddedStore::open(dir.path()).expect("open");
                run(&store, depth, fifo).await;
            }
        }
    });
}
