//! `eddy-bench logs-insights` starting its own `eddy serve`, tiny: 20,000 log events written,
//! each query run once; the counts it reports must be the events written.

use std::process::{Command, Stdio};

mod common;

#[test]
fn logs_insights_writes_and_queries() {
    let eddy = common::eddy_bin();
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Command::new(env!("CARGO_BIN_EXE_eddy-bench"))
        .arg("logs-insights")
        .arg("--eddy")
        .arg(&eddy)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .args(["--events", "20000", "--runs", "1"])
        .stdin(Stdio::null())
        .output()
        .expect("run eddy-bench");
    let report = common::report(&out);
    assert_eq!(report["bench"], "logs-insights", "{report}");
    let queries = report["queries"].as_array().expect("queries");
    assert_eq!(queries.len(), 3, "{report}");
    for q in queries {
        assert_eq!(q["records_scanned"], 20000.0, "{report}");
        assert!(q["rows"].as_u64().is_some_and(|r| r > 0), "{report}");
    }
}
