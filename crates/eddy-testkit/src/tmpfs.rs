//! A tmpfs for tests that need a small, fillable file system (a full disk, for real).
//!
//! Mounting needs root; [`on_tmpfs`] otherwise runs the test again inside a user and mount
//! namespace (`unshare --user --map-root-user --mount`), or says why it skipped. eddy-store's
//! own tests include this file by path (they cannot depend on this crate).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// A tmpfs mounted on a fresh temporary directory, unmounted on drop (also when a test fails).
pub struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    pub fn mount(size: &str) -> Result<Self, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let out = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0755"),
                "tmpfs",
            ])
            .arg(dir.path())
            .output()
            .map_err(|e| format!("mount: {e}"))?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).trim().to_owned());
        }
        Ok(Self { dir })
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        for _ in 0..40 {
            let done = Command::new("umount")
                .arg(self.path())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if done {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _detached = Command::new("umount").arg("-l").arg(self.path()).status();
    }
}

/// Runs `test` with a tmpfs of `size`: here when this process may mount one, else in a fresh
/// user and mount namespace (this test binary again, running only test `name`).
pub fn on_tmpfs(name: &str, size: &str, test: impl FnOnce(&Tmpfs)) {
    let why = match Tmpfs::mount(size) {
        Ok(fs) => return test(&fs),
        Err(why) => why,
    };
    assert!(
        std::env::var_os("EDDY_TEST_IN_USERNS").is_none(),
        "cannot mount a tmpfs even in a user namespace: {why}"
    );
    let userns = Command::new("unshare")
        .args(["--user", "--map-root-user", "--mount", "true"])
        .status()
        .is_ok_and(|s| s.success());
    if !userns {
        eprintln!("skipped: cannot mount a tmpfs ({why}) and cannot create a user namespace");
        return;
    }
    let exe = std::env::current_exe().expect("test binary");
    let status = Command::new("unshare")
        .args(["--user", "--map-root-user", "--mount"])
        .arg(exe)
        .args(["--exact", name, "--nocapture"])
        .env("EDDY_TEST_IN_USERNS", "1")
        .status()
        .expect("run unshare");
    assert!(status.success(), "the test failed in a user namespace");
}
