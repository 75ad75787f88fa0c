//! `eddy-bench queue-depth` starting its own `eddy serve`: a tiny queue (25 messages) filled,
//! drained while PutEvents runs, and every message accounted for (drained or still in the
//! queue), with no failed request in either phase.
//!
//! The server is the `eddy` binary next to `eddy-bench` in the target directory (built by
//! `cargo nextest run --workspace` or `cargo build -p eddy`), or the one `EDDY_BIN` names.

use std::process::{Command, Stdio};

mod common;

#[test]
fn queue_depth_accounts_for_every_message() {
    let eddy = common::eddy_bin();
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Command::new(env!("CARGO_BIN_EXE_eddy-bench"))
        .arg("queue-depth")
        .arg("--eddy")
        .arg(&eddy)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .args(["--depths", "25", "--rate", "100", "--batch", "5"])
        .args([
            "--seconds",
            "1",
            "--put-connections",
            "2",
            "--drainers",
            "2",
        ])
        .args(["--fill-connections", "2", "--message-bytes", "40"])
        .stdin(Stdio::null())
        .output()
        .expect("run eddy-bench");
    // Success includes every generated event reaching the rule's queue after each phase.
    let report = common::report(&out);
    assert_eq!(report["bench"], "queue-depth", "{report}");
    assert_eq!(report["rule"], "queue", "{report}");
    let baseline = &report["baseline"]["put_events"];
    assert_eq!(baseline["failed_requests"], 0, "{report}");
    assert!(
        baseline["requests"].as_u64().is_some_and(|r| r > 0),
        "{report}"
    );
    let phase = &report["depths"][0];
    assert_eq!(phase["depth"], 25, "{report}");
    assert_eq!(phase["visible_after_fill"], 25, "{report}");
    let drained = phase["drained"].as_u64().expect("drained");
    let left = phase["left_in_queue"].as_u64().expect("left_in_queue");
    assert_eq!(drained + left, 25, "{report}");
    assert_eq!(phase["put_events"]["failed_requests"], 0, "{report}");
    assert!(
        phase["put_events"]["requests"]
            .as_u64()
            .is_some_and(|r| r > 0),
        "{report}"
    );
}
