//! `eddy serve` as the benches that start their own start it: a fresh data directory, free
//! ports, the AWS endpoint and the HTTP listener read off its first line, killed (and the
//! directory removed) on drop.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::{Context, ensure};

/// `eddy serve` started by the bench: killed, and its fresh data directory removed, on drop.
pub struct Server {
    pub child: Child,
    pub aws: String,
    /// `host:port` of the HTTP routes listener.
    pub http: String,
    remove: Option<PathBuf>,
}

impl Server {
    pub fn start(eddy: &Path, dir: &Path, remove: bool) -> anyhow::Result<Self> {
        Self::start_with(eddy, dir, remove, &[])
    }

    /// [`Server::start`] with more arguments for `eddy serve` (`--code-root DIR`, …).
    pub fn start_with(
        eddy: &Path,
        dir: &Path,
        remove: bool,
        extra: &[&OsStr],
    ) -> anyhow::Result<Self> {
        ensure!(
            eddy.is_file(),
            "{} does not exist: build it (`cargo build --release -p eddy`) or pass --eddy",
            eddy.display()
        );
        ensure!(
            !dir.exists(),
            "{} exists: give a fresh --data-dir",
            dir.display()
        );
        let child = Command::new(eddy)
            .args(["serve", "--aws-listen", "127.0.0.1:0"])
            .args(["--http-listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir)
            .args(extra)
            .env_remove("EDDY_STORE")
            .env_remove("EDDY_CONFIG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("start {}", eddy.display()))?;
        let mut server = Self {
            aws: String::new(),
            http: String::new(),
            remove: remove.then(|| dir.to_owned()),
            child,
        };
        let stdout = server.child.stdout.take().context("no stdout")?;
        let mut lines = BufReader::new(stdout);
        let mut line = String::new();
        lines.read_line(&mut line)?;
        let address = |key: &str| {
            line.split_whitespace()
                .find_map(|w| w.strip_prefix(key))
                .map(str::to_owned)
                .with_context(|| format!("no {key} address in eddy's first line {line:?}"))
        };
        server.aws = address("aws=http://")?;
        server.http = address("http=http://")?;
        // Keep reading, so eddy never blocks on a full pipe.
        std::thread::spawn(move || std::io::copy(&mut lines, &mut std::io::sink()));
        Ok(server)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _gone = self.child.kill();
        let _reaped = self.child.wait();
        if let Some(dir) = &self.remove {
            let _removed = std::fs::remove_dir_all(dir);
        }
    }
}
