//! Manifests on a server: `eddy apply [FILE]` sends a validated manifest's resources to a
//! running eddy (`POST /_eddy/apply`) and prints what changed; `eddy serve` applies `eddy.toml`
//! at start and, with `--watch`, again whenever the file or a function's code changes.
//! Resources that exist but no manifest made are left alone unless `--adopt` says otherwise.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use eddy_manifest::{Action, Change, Resources, Scope};
use serde_json::{Value, json};

use eddy_server::apply::ApplyOptions;

use crate::cli::{self, Client, Endpoint};

/// Arguments of `eddy apply`.
#[derive(Debug, clap::Args)]
pub struct ApplyArgs {
    /// The manifest; paths in it are relative to its directory.
    #[arg(default_value = "eddy.toml")]
    file: PathBuf,
    #[command(flatten)]
    endpoint: Endpoint,
    /// Account id used in ARNs (must match the server's `--account-id`).
    #[arg(long, default_value = "123456789012")]
    account_id: String,
    /// Show the plan without changing anything.
    #[arg(long)]
    dry_run: bool,
    /// Take over resources the manifest declares that already exist but were made through the
    /// API (without it, eddy refuses to touch them and changes nothing).
    #[arg(long)]
    adopt: bool,
    /// Print the changes as JSON.
    #[arg(long)]
    json: bool,
}

/// Loads and validates a manifest and turns it into resources with absolute paths.
pub fn resources(file: &Path, scope: &Scope) -> Result<Resources, String> {
    let manifest = eddy_manifest::load(file).map_err(|e| e.to_string())?;
    let mut r = manifest.resources(scope);
    let base = match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    eddy_server::apply::prepare(&mut r, &base);
    Ok(r)
}

/// One line per change that did something, and a count line.
pub fn describe(file: &str, changes: &[Change]) -> String {
    let mut out = String::new();
    let mut counts = [0usize; 5];
    for c in changes {
        let (i, word) = match c.action {
            Action::Create => (0, "created"),
            Action::Update => (1, "updated"),
            Action::Delete => (2, "deleted"),
            Action::Kept => (4, "kept (not empty)"),
            Action::Unchanged => (3, ""),
        };
        counts[i] += 1;
        if i != 3 {
            out.push_str(&format!("  {word} {} {}\n", c.kind.as_str(), c.name));
        }
    }
    out.push_str(&format!(
        "{file}: {} created, {} updated, {} deleted, {} unchanged",
        counts[0], counts[1], counts[2], counts[3]
    ));
    if counts[4] > 0 {
        out.push_str(&format!(", {} kept", counts[4]));
    }
    out
}

pub fn run(args: ApplyArgs) -> ExitCode {
    let file = args.file.display().to_string();
    let region = args.endpoint.region.clone();
    let scope = Scope::new(&region, &args.account_id);
    let resources = match resources(&args.file, &scope) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let body = json!({
        "Region": region,
        "Resources": resources,
        "DryRun": args.dry_run,
        "Adopt": args.adopt,
    });
    cli::block_on(async move {
        let client = Client::new(&args.endpoint)?;
        let (status, value) = client.eddy_answer("/_eddy/apply", body).await?;
        if args.json {
            say!("{value}");
        }
        let changes: Vec<Change> = value
            .get("Changes")
            .cloned()
            .and_then(|c| serde_json::from_value(c).ok())
            .unwrap_or_default();
        if status != 200 {
            if !args.json {
                if !changes.is_empty() {
                    eprintln!("{}", describe(&file, &changes));
                }
                eprintln!(
                    "{file}: apply failed: {}",
                    value.get("message").and_then(Value::as_str).unwrap_or("")
                );
            }
            return Ok(ExitCode::FAILURE);
        }
        if !args.json {
            let prefix = if args.dry_run { "(dry run) " } else { "" };
            say!("{prefix}{}", describe(&file, &changes));
            for w in value["Warnings"].as_array().into_iter().flatten() {
                eprintln!("warning: {}", w.as_str().unwrap_or_default());
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// Applies the manifest in process (for `eddy serve`).
pub async fn apply_local(
    app: &Arc<eddy_server::App>,
    file: &Path,
    adopt: bool,
) -> Result<String, String> {
    let scope = Scope::new(&app.config.default_region, &app.config.account_id);
    let resources = resources(file, &scope)?;
    let options = ApplyOptions {
        dry_run: false,
        adopt,
    };
    let applied = eddy_server::apply::apply(app, &app.config.default_region, &resources, options)
        .await
        .map_err(|e| {
            let mut msg = String::new();
            if !e.done.is_empty() {
                msg.push_str(&describe(&file.display().to_string(), &e.done));
                msg.push('\n');
            }
            msg.push_str(&format!("{}: apply failed: {e}", file.display()));
            msg
        })?;
    let mut out = describe(&file.display().to_string(), &applied.changes);
    for w in &applied.warnings {
        out.push_str(&format!("\nwarning: {w}"));
    }
    Ok(out)
}

/// Re-applies the manifest whenever it or a function's code changes (polled every 500 ms).
pub fn watch(app: Arc<eddy_server::App>, file: PathBuf) {
    tokio::spawn(async move {
        let scope = Scope::new(&app.config.default_region, &app.config.account_id);
        let fingerprint = |file: &Path| -> Option<String> {
            let meta = std::fs::metadata(file).ok()?;
            let r = resources(file, &scope).ok();
            Some(format!(
                "{:?}{}{}",
                meta.modified().ok(),
                meta.len(),
                r.map(|r| serde_json::to_string(&r).unwrap_or_default())
                    .unwrap_or_default()
            ))
        };
        let mut last = fingerprint(&file);
        loop {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let now = fingerprint(&file);
            if now == last {
                continue;
            }
            last = now;
            // What the first apply adopted is the manifest's now; nothing else is taken over.
            match apply_local(&app, &file, false).await {
                Ok(summary) => eprintln!("{summary}"),
                Err(e) => eprintln!("{e}"),
            }
        }
    });
}
