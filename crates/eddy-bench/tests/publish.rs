//! `eddy-bench publish` against the real `eddy serve`: a small run with two queues subscribed
//! completes, and every published message is counted as delivered to each queue.

use std::process::{Command, Stdio};

mod common;

#[test]
fn publish_delivers_every_message_to_every_subscriber() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = common::Server::start(dir.path());
    let out = Command::new(env!("CARGO_BIN_EXE_eddy-bench"))
        .args(["publish", "--endpoint", &server.aws])
        .args(["--subscribers", "2", "--messages", "200", "--batch", "10"])
        .args(["--connections", "2"])
        .stdin(Stdio::null())
        .output()
        .expect("run eddy-bench");
    drop(server);
    let report = common::report(&out);
    assert_eq!(report["bench"], "publish", "{report}");
    assert_eq!(report["messages"], 200, "{report}");
    assert_eq!(report["deliveries"], 400, "{report}");
    assert!(
        report["deliveries_per_sec"]
            .as_f64()
            .is_some_and(|r| r > 0.0),
        "{report}"
    );
}
