//! What the eddy-bench tests share: where the `eddy` binary they run is, and reading the one
//! JSON line a bench prints.

use std::path::PathBuf;
use std::process::Output;

/// The report of a bench run that must have succeeded: its one JSON line.
pub fn report(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "{out:?}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(stdout.trim()).expect("one JSON line")
}

/// The `eddy` binary next to `eddy-bench` in the target directory (built by
/// `cargo nextest run --workspace` or `cargo build -p eddy`), or the one `EDDY_BIN` names.
pub fn eddy_bin() -> PathBuf {
    let eddy = std::env::var_os("EDDY_BIN").map_or_else(
        || PathBuf::from(env!("CARGO_BIN_EXE_eddy-bench")).with_file_name("eddy"),
        PathBuf::from,
    );
    assert!(
        eddy.is_file(),
        "{} does not exist: build it with `cargo build -p eddy` or set EDDY_BIN",
        eddy.display()
    );
    eddy
}
