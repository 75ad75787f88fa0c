//! What the test binaries of this crate share.

use std::path::PathBuf;

/// A code directory holding the test function as `bootstrap`, readable by anyone (instances run
/// as other users when the tests run as root), like a developer's hot-reload directory. Keep the
/// `TempDir` alive while it is used.
pub fn code_dir() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let code = dir.path().join("code");
    std::fs::create_dir(&code).unwrap();
    std::fs::copy(
        env!("CARGO_BIN_EXE_eddy-test-function"),
        code.join("bootstrap"),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    for p in [dir.path(), code.as_path()] {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    (dir, code)
}
