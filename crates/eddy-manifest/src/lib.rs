//! # eddy-manifest: the `eddy.toml` app manifest
//!
//! What it is: a pure library (no async, no network) that reads the manifest a user writes to
//! describe a whole event-driven backend (buses, queues, API destinations, functions, rules,
//! schedules, HTTP APIs, buckets), rejects every mistake with `file:line:column: message` (all of them,
//! in file order, each saying how to fix it), and computes the plan that brings a set of
//! running resources to what the manifest declares.
//!
//! What it is not: it does not talk to a server, apply anything, or run functions. `eddy
//! validate` and (later) `eddy serve` / `eddy apply` call it; apply executes the [`plan`].
//! The only I/O is reading the manifest in [`load`] and, when a base directory is given,
//! checking that `code` and `jwks_file` paths exist.
//!
//! ## Main types and functions
//! - [`parse`] / [`load`] → [`Manifest`] (see [`model`]) or [`Errors`] (a list of
//!   [`Diagnostic`]s: file, line, column, message).
//! - [`Manifest::resources`] → [`Resources`]: each resource as canonical JSON, AWS-shaped.
//! - [`plan()`]: desired [`Resources`] vs current [`Resources`] → ordered [`Change`]s.
//!
//! ## How errors get their positions
//! The file is first parsed into `toml`'s spanned document tree, which gives every syntax error
//! its byte span. Each resource (`[functions.notify]`, …) is then deserialised on its own from
//! that tree, so one bad resource does not hide mistakes in the others; serde's messages are
//! reworded with the resource and key they are about. Semantic checks run afterwards on the
//! typed values and locate their findings by key path in the same tree. Byte offsets become
//! 1-based lines and columns (columns count characters).

mod parse;
mod plan;
mod resources;
mod validate;

pub mod model;

use std::fmt;
use std::path::Path;

pub use model::{
    Api, ApiDestination, AsyncInvoke, Authorizer, Bucket, BucketCors, BucketNotification, Bus,
    Cors, Function, InputTransformer, Jwt, Manifest, Missed, Queue, Redrive, Retry, Route, Rule,
    Schedule, ScheduleTarget, State, Target, Throttle,
};
pub use plan::{Action, Change, Kind, plan};
pub use resources::{Resources, Scope};

/// The manifest version this eddy reads.
pub const VERSION: u32 = 1;

/// One problem in a manifest. `Display`: `file:line:column: message`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Diagnostic {
    /// The file name as given to [`parse`] (or the path given to [`load`]).
    pub file: String,
    /// 1-based.
    pub line: usize,
    /// 1-based, in characters.
    pub column: usize,
    /// What is wrong and how to fix it.
    pub message: String,
    #[serde(skip)]
    offset: usize,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.message
        )
    }
}

/// Every problem found in a manifest, in file order. `Display`: one diagnostic per line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Errors(pub Vec<Diagnostic>);

impl fmt::Display for Errors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            d.fmt(f)?;
        }
        Ok(())
    }
}

impl std::error::Error for Errors {}

/// A manifest's text and where it came from.
#[derive(Debug, Clone, Copy)]
pub struct Source<'a> {
    /// The name diagnostics start with (`eddy.toml`, `examples/orders/eddy.toml`).
    pub name: &'a str,
    /// The TOML text.
    pub text: &'a str,
    /// The directory `code` and `jwks_file` paths are relative to; `None` skips the checks
    /// that those paths exist.
    pub base_dir: Option<&'a Path>,
}

/// Parses and validates a manifest. Returns every problem found, in file order.
pub fn parse(source: &Source<'_>) -> Result<Manifest, Errors> {
    parse::parse(source)
}

/// Reads `path` and [`parse`]s it, with paths relative to the file's directory.
pub fn load(path: &Path) -> Result<Manifest, Errors> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        Errors(vec![Diagnostic {
            file: name.clone(),
            line: 1,
            column: 1,
            message: format!("cannot read the manifest: {e}"),
            offset: 0,
        }])
    })?;
    let base_dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    parse(&Source {
        name: &name,
        text: &text,
        base_dir: Some(base_dir),
    })
}

impl Diagnostic {
    /// A diagnostic at byte `offset` of `text`.
    pub(crate) fn at(file: &str, text: &str, offset: usize, message: String) -> Self {
        let offset = offset.min(text.len());
        let before = text.get(..offset).unwrap_or(text);
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let line = before.matches('\n').count() + 1;
        let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
        Diagnostic {
            file: file.to_owned(),
            line,
            column,
            message,
            offset,
        }
    }
}

impl Manifest {
    /// Counts for a one-line summary: `2 buses, 3 rules, 4 functions, …` (non-empty kinds
    /// only; `no resources` when there are none).
    pub fn summary(&self) -> String {
        let routes: usize = self.apis.values().map(|a| a.routes.len()).sum();
        let parts = [
            (self.buses.len(), "bus", "buses"),
            (self.queues.len(), "queue", "queues"),
            (
                self.api_destinations.len(),
                "api destination",
                "api destinations",
            ),
            (self.functions.len(), "function", "functions"),
            (self.topics.len(), "topic", "topics"),
            (self.buckets.len(), "bucket", "buckets"),
            (self.rules.len(), "rule", "rules"),
            (self.schedules.len(), "schedule", "schedules"),
            (self.apis.len(), "api", "apis"),
            (routes, "route", "routes"),
        ];
        let out: Vec<String> = parts
            .iter()
            .filter(|(n, _, _)| *n > 0)
            .map(|(n, one, many)| format!("{n} {}", if *n == 1 { one } else { many }))
            .collect();
        if out.is_empty() {
            "no resources".to_owned()
        } else {
            out.join(", ")
        }
    }
}
