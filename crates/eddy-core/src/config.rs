//! Server configuration: what `eddy serve` and the test sandbox set.

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use eddy_runtime::Pythons;
pub use eddy_store::StoreUri;

/// How eddy runs: everything the core needs, and the listeners' limits the server applies.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// eddy's own files: function code, and the embedded store unless `store` names another.
    pub data_dir: PathBuf,
    /// The store (`--store`): `None` is the embedded store in `data_dir`.
    pub store: Option<StoreUri>,
    /// This node's name among the nodes sharing a store (`--node`): the leases it holds, its
    /// heartbeats and its metrics carry it. Unique and stable per node; the host name when unset.
    pub node: String,
    /// Development mode: enables `POST /_eddy/reset`, `/moto-api/reset` and `POST /_eddy/clock`.
    pub dev: bool,
    /// The account id in ARNs and envelopes.
    pub account_id: String,
    /// The region used when a request carries no SigV4 credential scope.
    pub default_region: String,
    /// Largest total size of the entries of one PutEvents request, in bytes, measured as AWS
    /// does (Source + DetailType + Detail + Resources, plus 14 bytes when Time is set).
    pub max_entries_size: usize,
    /// Largest event pattern accepted, in characters (EventBridge: 2048 by default, at most 4096).
    pub max_pattern_len: usize,
    /// Largest request body accepted on the AWS endpoint, in bytes.
    pub max_body_bytes: usize,
    /// Deliveries in flight at once to one target.
    pub target_concurrency: usize,
    /// How long a delivery's lease on its work item lasts, in milliseconds, before another
    /// attempt may take the item over; a running attempt renews it every third of this (see
    /// [`crate::delivery::lease`]). Only tests shorten it.
    pub lease_ms: i64,
    /// How long the event log keeps events nothing needs any more (no pending work, no dead
    /// letter, no archive); `None` keeps them for ever. See [`crate::retention`].
    pub event_retention_ms: Option<i64>,
    /// How long dead letters are kept unless redriven; `None` keeps them for ever.
    pub dead_letter_retention_ms: Option<i64>,
    /// Fsync every commit (never turn off outside a benchmark of the fsync's cost).
    pub sync: bool,
    /// Instances a function may run at once unless `PutFunctionConcurrency` says otherwise.
    pub function_concurrency: u32,
    /// The interpreters `python3.x` functions run under (`--python`).
    pub pythons: Pythons,
    /// How long an unused function instance stays warm, in seconds.
    pub function_idle_secs: u64,
    /// Which user function processes run as.
    pub function_user: FunctionUser,
    /// The AWS endpoint's URL as functions reach it (`AWS_ENDPOINT_URL`); set from the bound
    /// listener by whoever binds it.
    pub aws_endpoint: Option<String>,
    /// The HTTP routes listener's URL (`http://HOST:PORT`), for the `ApiEndpoint` of HTTP APIs;
    /// set from the bound listener by whoever binds it.
    pub http_endpoint: Option<String>,
    /// The browser boundary of the AWS listener (and `/_eddy/*`): the web origins and host names
    /// allowed besides eddy's own.
    pub boundary: Arc<eddy_net::Boundary>,
    /// Connection limits and timeouts of both listeners.
    pub limits: eddy_net::Limits,
    /// Memory that large request bodies in flight may hold together, in bytes.
    pub max_body_memory: usize,
    /// Why the AWS listener is reachable from other machines without authentication, when an
    /// operator chose that (`--allow-unauthenticated-remote`): reported by `/_eddy/health`.
    pub exposed: Option<String>,
    /// The directories API requests may name files and directories under (hot-reload code,
    /// JWKS files).
    pub code_roots: CodeRoots,
    /// Which addresses eddy's own fetches (JWKS documents, OpenID discovery) may reach.
    pub egress: crate::egress::Egress,
    /// How many days a function's log group (`/aws/lambda/NAME`) keeps its events when it has
    /// no retention policy of its own; `None` is forever (Lambda's default).
    pub function_log_retention_days: Option<u32>,
}

/// The directories under which API requests may name paths on this machine: a function's
/// hot-reload code directory, an authorizer's JWKS file. Anything else is refused, so that no
/// request can make eddy run or read an arbitrary file (`/`, `/etc`, another user's home).
#[derive(Debug, Clone, Default)]
pub struct CodeRoots(Vec<PathBuf>);

impl CodeRoots {
    /// Roots from directories that must exist; each is resolved (symbolic links, `..`).
    pub fn new(dirs: impl IntoIterator<Item = PathBuf>) -> Result<Self, String> {
        let mut roots = Vec::new();
        for d in dirs {
            let canonical = std::fs::canonicalize(&d)
                .map_err(|e| format!("code root `{}`: {e}", d.display()))?;
            if !canonical.is_dir() {
                return Err(format!("code root `{}` is not a directory", d.display()));
            }
            if !roots.contains(&canonical) {
                roots.push(canonical);
            }
        }
        Ok(Self(roots))
    }

    /// The roots, resolved.
    pub fn dirs(&self) -> &[PathBuf] {
        &self.0
    }

    /// `path` resolved, when it exists and lies under a root; else why not.
    pub fn check(&self, path: &Path) -> Result<PathBuf, String> {
        let canonical = std::fs::canonicalize(path)
            .map_err(|e| format!("`{}` cannot be used: {e}", path.display()))?;
        if self.0.iter().any(|root| canonical.starts_with(root)) {
            return Ok(canonical);
        }
        let roots = if self.0.is_empty() {
            "none".to_owned()
        } else {
            self.0
                .iter()
                .map(|r| format!("`{}`", r.display()))
                .collect::<Vec<_>>()
                .join(", ")
        };
        Err(format!(
            "`{}` is outside eddy's code roots ({roots}): start eddy with `--code-root DIR` \
             naming a directory that contains it",
            path.display()
        ))
    }
}

/// Which user function processes run as (`--function-user`).
///
/// Function code that eddy unpacked from a zip is readable only by the function's user: owned
/// by eddy, with the function's group and no access for others (see `eddy_runtime::code`); a
/// hot-reload directory is used as it is. The data directory is 0700, or 0711 when functions
/// run as another user than eddy (they may pass through it to their code, not list it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FunctionUser {
    /// When eddy runs as root, each function runs as its own unprivileged user and group id,
    /// allocated from `eddy_runtime::FUNCTION_IDS` (2,000,000,000-2,000,065,535, no passwd entry
    /// needed) and unique among the deployed functions, so that functions cannot read each
    /// other's code or the store, or signal each other's processes; the ids are not kept across
    /// restarts. Otherwise eddy's own user.
    Auto,
    /// eddy's own user, even when it is root. Functions can read everything eddy can.
    Current,
    /// This user and group id for every function. It isolates functions from eddy, not from
    /// each other.
    Id(u32, u32),
}

impl FunctionUser {
    /// The runtime's policy for this setting.
    pub fn users(self) -> eddy_runtime::FunctionUsers {
        match self {
            Self::Auto => eddy_runtime::FunctionUsers::auto(),
            Self::Current => eddy_runtime::FunctionUsers::Current,
            Self::Id(uid, gid) => eddy_runtime::FunctionUsers::Shared { uid, gid },
        }
    }
}

impl std::str::FromStr for FunctionUser {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(Self::Auto),
            "current" => Ok(Self::Current),
            _ => {
                let (u, g) = s.split_once(':').unwrap_or((s, s));
                match (u.parse(), g.parse()) {
                    (Ok(u), Ok(g)) => Ok(Self::Id(u, g)),
                    _ => Err(format!(
                        "`{s}` is not a function user: use `auto`, `current`, `UID` or `UID:GID`"
                    )),
                }
            }
        }
    }
}

/// See [`ServerConfig::function_log_retention_days`]: a week, so that a server left running
/// stays bounded while yesterday's invocations are still there to read.
pub const DEFAULT_FUNCTION_LOG_RETENTION_DAYS: u32 = 7;

impl ServerConfig {
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            store: None,
            dev: false,
            account_id: eddy_model::DEFAULT_ACCOUNT_ID.to_owned(),
            default_region: eddy_model::DEFAULT_REGION.to_owned(),
            max_entries_size: 256 * 1024,
            max_pattern_len: 2048,
            max_body_bytes: 8 * 1024 * 1024,
            target_concurrency: 256,
            lease_ms: crate::delivery::lease::LEASE_MS,
            event_retention_ms: Some(DEFAULT_EVENT_RETENTION_MS),
            dead_letter_retention_ms: Some(DEFAULT_DEAD_LETTER_RETENTION_MS),
            sync: true,
            function_concurrency: 32,
            pythons: Pythons::default(),
            function_idle_secs: 600,
            function_user: FunctionUser::Auto,
            aws_endpoint: None,
            http_endpoint: None,
            boundary: Arc::new(eddy_net::Boundary::default()),
            limits: eddy_net::Limits::default(),
            max_body_memory: 80 * 1024 * 1024,
            exposed: None,
            code_roots: CodeRoots::default(),
            egress: crate::egress::Egress::default(),
            function_log_retention_days: Some(DEFAULT_FUNCTION_LOG_RETENTION_DAYS),
            node: default_node_name(),
        }
    }
}

/// The host name (the kernel's), or `eddy` when it cannot be read: a node's default name.
pub fn default_node_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "eddy".to_owned())
}

/// The event log's default retention: 24 hours.
pub const DEFAULT_EVENT_RETENTION_MS: i64 = 24 * 3_600_000;
/// Dead letters' default retention: 14 days (SQS's longest message retention).
pub const DEFAULT_DEAD_LETTER_RETENTION_MS: i64 = 14 * 86_400_000;
