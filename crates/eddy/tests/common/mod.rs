//! What eddy's black-box test binaries share: the real `eddy serve` binary on free ports.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// `eddy serve` on `127.0.0.1:0`, killed on drop.
pub struct Server {
    pub child: Child,
    /// `host:port` of the AWS endpoint.
    pub aws: String,
}

impl Server {
    /// Starts eddy on `data_dir`, its standard error going to `stderr`, and waits for its ready
    /// line.
    pub fn start(data_dir: &Path, stderr: Stdio) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_eddy"))
            .args([
                "serve",
                "--aws-listen",
                "127.0.0.1:0",
                "--http-listen",
                "127.0.0.1:0",
            ])
            .arg("--data-dir")
            .arg(data_dir)
            .stdout(Stdio::piped())
            .stderr(stderr)
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

    /// Kills eddy (SIGKILL) and reaps it.
    pub fn stop(&mut self) {
        let _gone = self.child.kill();
        let _reaped = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}
