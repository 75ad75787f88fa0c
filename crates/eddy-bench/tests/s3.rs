//! `eddy-bench s3` starting its own `eddy serve`, tiny: a 16 MiB object put in one request and
//! as a multipart upload (4 parts of 5 MiB, the last smaller) and read back byte for byte, a
//! second of small PUTs and GETs, and a few object events received from a queue.
//!
//! The server is the `eddy` binary next to `eddy-bench` in the target directory (built by
//! `cargo nextest run --workspace` or `cargo build -p eddy`), or the one `EDDY_BIN` names.

use std::process::{Command, Stdio};

mod common;

#[test]
fn s3_puts_gets_and_delivers_object_events() {
    let eddy = common::eddy_bin();
    let dir = tempfile::tempdir().expect("tempdir");
    let mib = 1024 * 1024;
    let out = Command::new(env!("CARGO_BIN_EXE_eddy-bench"))
        .arg("s3")
        .arg("--eddy")
        .arg(&eddy)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .args(["--large-bytes", &(16 * mib).to_string()])
        .args(["--part-bytes", &(5 * mib).to_string()])
        .args(["--concurrency", "2", "--seconds", "1", "--events", "5"])
        .stdin(Stdio::null())
        .output()
        .expect("run eddy-bench");
    // Success includes every GET byte matching what was put, and every event received.
    let report = common::report(&out);
    assert_eq!(report["bench"], "s3", "{report}");
    let large = &report["large"];
    assert_eq!(large["parts"], 4, "{report}");
    for transfer in ["put_single", "get_single", "put_multipart", "get_multipart"] {
        assert!(
            large[transfer]["mib_per_sec"]
                .as_f64()
                .is_some_and(|r| r > 0.0),
            "{report}"
        );
        assert!(
            large[transfer]["rss_max_mib"]
                .as_f64()
                .is_some_and(|r| r > 0.0),
            "{report}"
        );
    }
    assert_eq!(large["dd"].as_array().map(Vec::len), Some(2), "{report}");
    let run = &report["small"]["runs"][0];
    assert_eq!(run["concurrency"], 2, "{report}");
    for op in ["put", "get"] {
        assert!(run[op]["ops"].as_u64().is_some_and(|n| n > 0), "{report}");
    }
    assert_eq!(report["events"]["events"], 5, "{report}");
    assert_eq!(report["events"]["unexpected_messages"], 0, "{report}");
}
