//! What the eddy-bench tests share: where the `eddy` binary they run is.

use std::path::PathBuf;

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
