//! Log retention at depth: what does one retention chunk cost in a group of 1,000,000 log events,
//! and how long does an append wait behind it?
//!
//! `cargo bench -p eddy-store --bench log_retention [-- ROWS CHUNK]` fills a fresh embedded
//! store's group with ROWS 200-byte log events (one per ms of event time, plus a second group of
//! the same size that retention does not touch), then expires the older half CHUNK rows per
//! `logs_expire` call, appending 100 events between chunks, and prints one JSON line: the median
//! and worst chunk time, the median append time, and the total. Store fsyncs are on, as in
//! production.

use std::time::Instant;

use eddy_store::{EmbeddedStore, LogStore, NewLogEvent};

fn event(group: &str, ts: i64) -> NewLogEvent {
    NewLogEvent {
        group: group.into(),
        stream: format!("s{}", ts % 16),
        timestamp_ms: ts,
        message: format!("{ts} {}", "x".repeat(200)),
    }
}

fn quantile(v: &mut [f64], q: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(((v.len() as f64 - 1.0) * q) as usize)
        .copied()
        .unwrap_or(0.0)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<i64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let rows = args.first().copied().unwrap_or(1_000_000);
    let chunk = args.get(1).copied().unwrap_or(2000) as usize;
    let dir = tempfile::tempdir().expect("tempdir");
    let store = EmbeddedStore::open(dir.path()).expect("open");
    let fill = Instant::now();
    for group in ["other", "g"] {
        let mut i = 0;
        while i < rows {
            let n = (rows - i).min(5000);
            let batch = (i..i + n).map(|ts| event(group, ts)).collect();
            store
                .logs_append(batch, 0, Vec::new())
                .await
                .expect("append");
            i += n;
        }
    }
    let fill_s = fill.elapsed().as_secs_f64();
    let (mut chunk_ms, mut append_ms) = (Vec::new(), Vec::new());
    let mut deleted = 0;
    let start = Instant::now();
    let mut next = rows;
    loop {
        let t = Instant::now();
        let n = store
            .logs_expire("g".into(), rows / 2, chunk)
            .await
            .expect("expire");
        chunk_ms.push(t.elapsed().as_secs_f64() * 1e3);
        deleted += n;
        let t = Instant::now();
        let batch = (next..next + 100).map(|ts| event("g", ts)).collect();
        store
            .logs_append(batch, 0, Vec::new())
            .await
            .expect("append");
        append_ms.push(t.elapsed().as_secs_f64() * 1e3);
        next += 100;
        if n < chunk {
            break;
        }
    }
    let total_s = start.elapsed().as_secs_f64();
    assert_eq!(deleted as i64, rows / 2);
    println!(
        "{{\"rows\":{rows},\"chunk\":{chunk},\"chunks\":{},\"chunk_p50_ms\":{:.2},\"chunk_max_ms\":{:.2},\"append100_p50_ms\":{:.2},\"expired_per_s\":{:.0},\"total_s\":{total_s:.2},\"fill_s\":{fill_s:.1}}}",
        chunk_ms.len(),
        quantile(&mut chunk_ms.clone(), 0.5),
        quantile(&mut chunk_ms, 1.0),
        quantile(&mut append_ms, 0.5),
        deleted as f64 / total_s,
    );
}
