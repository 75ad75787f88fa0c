//! `eddy-bench function-url` starting its own `eddy serve` with the real test function: a few
//! requests through the HTTP API route and through the function URL, each checked to reach the
//! function through its own front end (the bench refuses otherwise), and both measured.
//!
//! The server is the `eddy` binary next to `eddy-bench` in the target directory, or the one
//! `EDDY_BIN` names; the function is `eddy-test-function` next to `eddy-bench` (both built by
//! `cargo nextest run --workspace`, or `cargo build -p eddy -p eddy-test-function`).

use std::process::{Command, Stdio};

mod common;

#[test]
fn function_url_measures_the_url_and_the_route() {
    let eddy = common::eddy_bin();
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Command::new(env!("CARGO_BIN_EXE_eddy-bench"))
        .arg("function-url")
        .arg("--eddy")
        .arg(&eddy)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .args(["--warmup", "3", "--requests", "10", "--rounds", "3"])
        .stdin(Stdio::null())
        .output()
        .expect("run eddy-bench");
    let report = common::report(&out);
    assert_eq!(report["bench"], "function-url", "{report}");
    for front in ["route", "function_url"] {
        assert_eq!(report[front]["requests"], 10, "{front}: {report}");
        assert_eq!(
            report[front]["round_p50_ms"].as_array().map(Vec::len),
            Some(3),
            "{front}: {report}"
        );
        assert!(
            report[front]["p50_ms"].as_f64().is_some_and(|p| p > 0.0),
            "{front}: {report}"
        );
    }
    assert!(report["added_p99_ms"].is_number(), "{report}");
}
