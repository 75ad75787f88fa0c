//! `eddy init [DIR]`: a starter app in a directory: an `eddy.toml` with an HTTP route that turns
//! a request into an event, a rule that sends matching events to a Python function and to a
//! queue, and the function's code. It validates as written (a test says so) and refuses to
//! overwrite anything.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Arguments of `eddy init`.
#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// Where to write the app (created when missing).
    #[arg(default_value = ".")]
    dir: PathBuf,
}

/// The starter manifest.
pub const MANIFEST: &str = r#"# A starter eddy app (`eddy init`). Run it with `eddy serve` in this directory, then:
#   curl -X POST localhost:3000/orders -d '{"id": "1", "total": 250}'
#   eddy logs handle-order         # the function got the event
#   eddy queue receive big-orders  # orders over 100 also reach this queue
# The reference for every key: docs/manifest.md in eddy's repository.
version = 1

[buses.orders]
description = "Order events"

# A queue for big orders, with a dead-letter queue for messages received 5 times.
[queues.big-orders]
redrive = { dead_letter_queue = "big-orders-dlq", max_receive_count = 5 }

[queues.big-orders-dlq]

# A Python function: functions/handle_order/app.py. It runs under the official Lambda runtime
# client (`awslambdaric`); `eddy serve --python PATH` names an interpreter that has it. The
# runtime is your python3's version (eddy init asked it).
[functions.handle-order]
code = "functions/handle_order"
runtime = "{runtime}"
handler = "app.handler"

# Every OrderPlaced event goes to the function ...
[rules.orders]
bus = "orders"
pattern = { source = ["shop"], "detail-type" = ["OrderPlaced"] }

[[rules.orders.targets]]
function = "handle-order"

# ... and the big ones to the queue as well.
[rules.big-orders]
bus = "orders"
pattern = { source = ["shop"], "detail-type" = ["OrderPlaced"], detail = { total = [{ numeric = [">", 100] }] } }

[[rules.big-orders.targets]]
queue = "big-orders"
input_path = "$.detail"

# POST /orders on the HTTP listener (port 3000) puts the request body on the bus as an
# OrderPlaced event and answers 202 once it is durable.
[apis.shop]

[[apis.shop.routes]]
route = "POST /orders"
bus = "orders"
source = "shop"
detail_type = "OrderPlaced"
"#;

/// The starter function.
pub const FUNCTION: &str = r#""""Handles OrderPlaced events from the `orders` bus (see eddy.toml)."""

import json


def handler(event, context):
    order = event.get("detail", {})
    print(f"order {order.get('id')} placed, total {order.get('total')}")
    return {"handled": order.get("id")}
"#;

/// The Lambda runtime of the `python3` on PATH (`python3.11`), when Lambda has one; else
/// `python3.12`. The function then runs on the Python it names.
fn local_python_runtime() -> String {
    let version = std::process::Command::new("python3")
        .args(["-c", "import sys; print('%d.%d' % sys.version_info[:2])"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| format!("python{}", String::from_utf8_lossy(&o.stdout).trim()));
    match version {
        Some(v) if eddy_model::function::SUPPORTED_RUNTIMES.contains(&v.as_str()) => v,
        _ => "python3.12".to_owned(),
    }
}

/// The files `eddy init` writes, relative to its directory, for a function on `runtime`.
pub fn files(runtime: &str) -> [(&'static str, String); 2] {
    [
        ("eddy.toml", MANIFEST.replace("{runtime}", runtime)),
        ("functions/handle_order/app.py", FUNCTION.to_owned()),
    ]
}

fn write_all(dir: &Path, runtime: &str) -> Result<Vec<PathBuf>, String> {
    let planned: Vec<(PathBuf, String)> = files(runtime)
        .into_iter()
        .map(|(rel, text)| (dir.join(rel), text))
        .collect();
    if let Some((existing, _)) = planned.iter().find(|(p, _)| p.exists()) {
        return Err(format!(
            "{} already exists; eddy init writes only into a directory without it",
            existing.display()
        ));
    }
    let mut written = Vec::with_capacity(planned.len());
    for (path, text) in planned {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
        std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}

pub fn run(args: InitArgs) -> ExitCode {
    match write_all(&args.dir, &local_python_runtime()) {
        Ok(written) => {
            for p in &written {
                say!("wrote {}", p.display());
            }
            let cd = if args.dir == Path::new(".") {
                String::new()
            } else {
                format!("cd {} && ", args.dir.display())
            };
            say!(
                "next: {cd}eddy serve   (Python functions need awslambdaric: \
                 `python3 -m venv .venv && .venv/bin/pip install awslambdaric`, then \
                 `eddy serve --python .venv/bin/python`)"
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("eddy init: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_starter_app_validates_and_is_never_written_over() {
        let dir = tempfile::tempdir().unwrap();
        let written = write_all(dir.path(), &local_python_runtime()).unwrap();
        assert_eq!(written.len(), 2);
        let manifest = eddy_manifest::load(&dir.path().join("eddy.toml"))
            .unwrap_or_else(|e| panic!("the starter manifest does not validate:\n{e}"));
        let r = manifest.resources(&eddy_manifest::Scope::new("us-east-1", "123456789012"));
        assert_eq!(r.functions.len(), 1);
        assert_eq!(r.rules.len(), 2);
        assert_eq!(r.queues.len(), 2);
        assert_eq!(r.apis.len(), 1);
        let again = write_all(dir.path(), "python3.12").unwrap_err();
        assert!(again.contains("already exists"), "{again}");
    }
}
