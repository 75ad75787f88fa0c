//! `eddy-bench put-events` against the real `eddy serve`: a one-second load with two connections
//! completes, every request succeeds, and the report shows a nonzero throughput.
//!
//! The server is the `eddy` binary next to `eddy-bench` in the target directory (built by
//! `cargo nextest run --workspace` or `cargo build -p eddy`), or the one `EDDY_BIN` names.

use std::process::{Command, Stdio};

mod common;

#[test]
fn put_events_reports_a_nonzero_throughput() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = common::Server::start(dir.path());
    let out = Command::new(env!("CARGO_BIN_EXE_eddy-bench"))
        .args(["put-events", "--endpoint", &server.aws])
        .args(["--connections", "2", "--batch", "2", "--seconds", "1"])
        .arg("--setup-rule")
        .stdin(Stdio::null())
        .output()
        .expect("run eddy-bench");
    drop(server);
    let report = common::report(&out);
    assert_eq!(report["bench"], "put-events", "{report}");
    assert_eq!(report["failed_requests"], 0, "{report}");
    assert!(
        report["requests"].as_u64().is_some_and(|r| r > 0),
        "{report}"
    );
    assert!(
        report["events_per_sec"].as_f64().is_some_and(|r| r > 0.0),
        "{report}"
    );
}
