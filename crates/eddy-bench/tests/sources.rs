//! `eddy-bench sources` against the real `eddy serve` and the real test function: a small run
//! of each phase (drain, live, latency) in which every message reaches the function once.

use std::process::{Command, Stdio};

mod common;

#[test]
fn sources_delivers_every_message_to_the_function() {
    let dir = tempfile::tempdir().expect("tempdir");
    // The bench puts the function's code in the temporary directory.
    let tmp = std::env::temp_dir();
    let server = common::Server::start_with(
        dir.path(),
        &[
            "--code-root".as_ref(),
            tmp.as_os_str(),
            "--function-user".as_ref(),
            "current".as_ref(),
        ],
    );
    let out = Command::new(env!("CARGO_BIN_EXE_eddy-bench"))
        .args(["sources", "--endpoint", &server.aws])
        .args(["--messages", "200", "--connections", "2"])
        .args([
            "--latency-messages",
            "20",
            "--rate",
            "100",
            "--timeout",
            "60",
        ])
        .stdin(Stdio::null())
        .output()
        .expect("run eddy-bench");
    drop(server);
    let report = common::report(&out);
    assert_eq!(report["bench"], "sources", "{report}");
    for key in ["drain_per_sec", "live_per_sec"] {
        assert!(
            report[key].as_f64().is_some_and(|r| r > 0.0),
            "{key}: {report}"
        );
    }
    assert_eq!(report["latency_messages"], 20, "{report}");
}
