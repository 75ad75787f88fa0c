//! `eddy serve` as the benches that start their own start it: a fresh data directory, free
//! ports, the AWS endpoint read off its first line, killed (and the directory removed) on drop.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::{Context, ensure};

/// `eddy serve` started by the bench: killed, and its fresh data directory removed, on drop.
pub struct Server {
    pub child: Child,
    pub aws: String,
    remove: Option<PathBuf>,
}

impl Server {
    pub fn start(eddy: &Path, dir: &Path, remove: bool) -> anyhow::Result<Self> {
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
            .env_remove("EDDY_STORE")
            .env_remove("EDDY_CONFIG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("start {}", eddy.display()))?;
        let mut server = Self {
            aws: String::new(),
            remove: remove.then(|| dir.to_owned()),
            child,
        };
        let stdout = server.child.stdout.take().context("no stdout")?;
        let mut lines = BufReader::new(stdout);
        let mut line = String::new();
        lines.read_line(&mut line)?;
        server.aws = line
            .split_whitespace()
            .find_map(|w| w.strip_prefix("aws=http://"))
            .with_context(|| format!("no aws address in eddy's first line {line:?}"))?
            .to_owned();
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
