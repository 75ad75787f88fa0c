//! `eddy-bench sqs-protocols` starting its own `eddy serve`: two short rounds over both
//! protocols, every SendMessage and every delete answered without a failure, and every filled
//! message received and deleted.
//!
//! The server is the `eddy` binary next to `eddy-bench` in the target directory (built by
//! `cargo nextest run --workspace` or `cargo build -p eddy`), or the one `EDDY_BIN` names.

use std::process::{Command, Stdio};

mod common;

#[test]
fn sqs_protocols_sends_and_drains_over_both_protocols() {
    let eddy = common::eddy_bin();
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Command::new(env!("CARGO_BIN_EXE_eddy-bench"))
        .arg("sqs-protocols")
        .arg("--eddy")
        .arg(&eddy)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .args(["--connections", "2", "--rounds", "2", "--seconds", "1"])
        .args(["--receive-messages", "45", "--fill-connections", "2"])
        .args(["--message-bytes", "20"])
        .stdin(Stdio::null())
        .output()
        .expect("run eddy-bench");
    let report = common::report(&out);
    assert_eq!(report["bench"], "sqs-protocols", "{report}");
    for phase in ["send", "receive_delete"] {
        for protocol in ["json", "query"] {
            let p = &report[phase][protocol];
            assert!(
                p["median_msgs_per_sec"].as_f64().is_some_and(|r| r > 0.0),
                "{phase} {protocol}: {report}"
            );
            let runs = p["runs"].as_array().expect("runs");
            assert_eq!(runs.len(), 2, "{report}");
            for run in runs {
                assert_eq!(run["failures"], 0, "{phase} {protocol}: {report}");
                if phase == "receive_delete" {
                    assert_eq!(run["messages"], 45, "{protocol}: {report}");
                }
            }
        }
        assert!(
            report[phase]["ratio_query_json"]
                .as_f64()
                .is_some_and(|r| r > 0.0),
            "{report}"
        );
    }
}
