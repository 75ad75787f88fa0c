//! What the eddy-bench tests share: where the `eddy` binary they run is, a server started from
//! it, and reading the one JSON line a bench prints.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};

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

/// `eddy serve` on free ports, killed on drop.
#[allow(dead_code)] // not every test binary starts one
pub struct Server {
    child: Child,
    /// `host:port` of the AWS endpoint.
    pub aws: String,
}

#[allow(dead_code)] // not every test binary starts one
impl Server {
    pub fn start(dir: &std::path::Path) -> Self {
        Self::start_with(dir, &[])
    }

    /// [`Server::start`] with more arguments for `eddy serve`.
    pub fn start_with(dir: &std::path::Path, args: &[&std::ffi::OsStr]) -> Self {
        let eddy = eddy_bin();
        let mut child = Command::new(&eddy)
            .args([
                "serve",
                "--aws-listen",
                "127.0.0.1:0",
                "--http-listen",
                "127.0.0.1:0",
            ])
            .args(args)
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
