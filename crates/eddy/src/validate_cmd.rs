//! `eddy validate [FILE]`: checks an app manifest without a server and reports every mistake
//! as `file:line:column: message` (or as JSON with `--json`). The checks live in
//! `eddy-manifest`; this module only prints.

use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::json;

/// Arguments of `eddy validate`.
#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// The manifest to check; paths in it are relative to its directory.
    #[arg(default_value = "eddy.toml")]
    file: PathBuf,
    /// Print the result as JSON: `{"file", "ok", "summary", "errors": [{"file", "line",
    /// "column", "message"}]}`.
    #[arg(long)]
    json: bool,
}

/// Runs `eddy validate`: exit 0 when the manifest is valid, 1 otherwise.
pub fn run(args: ValidateArgs) -> ExitCode {
    let file = args.file.display().to_string();
    let result = eddy_manifest::load(&args.file);
    if args.json {
        let out = match &result {
            Ok(m) => json!({ "file": file, "ok": true, "summary": m.summary(), "errors": [] }),
            Err(e) => json!({ "file": file, "ok": false, "errors": e.0 }),
        };
        say!("{out}");
    } else {
        match &result {
            Ok(m) => say!("{file}: ok ({})", m.summary()),
            Err(e) => {
                for d in &e.0 {
                    eprintln!("{d}");
                }
                let n = e.0.len();
                eprintln!("{file}: {n} error{}", if n == 1 { "" } else { "s" });
            }
        }
    }
    if result.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
