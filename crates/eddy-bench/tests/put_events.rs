//! `eddy-bench put-events` against the real `eddy serve`: a one-second load with two connections
//! completes, every request succeeds, and the report shows a nonzero throughput.
//!
//! The server is the `eddy` binary next to `eddy-bench` in the target directory (built by
//! `cargo nextest run --workspace` or `cargo build -p eddy`), or the one `EDDY_BIN` names.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

mod common;

/// `eddy serve` on free ports, killed on drop.
struct Server {
    child: Child,
    /// `host:port` of the AWS endpoint.
    aws: String,
}

impl Server {
    fn start(dir: &std::path::Path) -> Self {
        let eddy = common::eddy_bin();
        let mut child = Command::new(&eddy)
            .args([
                "serve",
                "--aws-listen",
                "127.0.0.1:0",
                "--http-listen",
                "127.0.0.1:0",
            ])
            .arg("--data-dir")
            .arg(dir.join("data"))
            .current_dir(dir)
            .env_remove("EDDY_STORE")
            .env_remove("EDDY_CONFIG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start eddy");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("ready line");
        let aws = line
            .split_whitespace()
            .find_map(|w| w.strip_prefix("aws=http://"))
            .unwrap_or_else(|| panic!("no aws address in {line:?}"))
            .to_owned();
        Self { child, aws }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _gone = self.child.kill();
        let _reaped = self.child.wait();
    }
}

#[test]
fn put_events_reports_a_nonzero_throughput() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path());
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
