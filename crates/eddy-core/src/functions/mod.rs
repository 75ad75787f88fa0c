//! Functions as eddy keeps them: definitions (persisted in the store's definitions), their code
//! on disk (`DATA_DIR/functions/REGION/NAME/REVISION`, or a local directory for development),
//! and the runtime's warm pools that run them. Function logs go to the store under
//! `/aws/lambda/NAME`, written in batches.
//!
//! Who may read the code: the `functions`, region and name directories are 0711 when functions
//! run as other users than eddy (each function passes through them to its own revision
//! directory, and can list none of them), else 0700; a revision directory is private to eddy
//! until the runtime gives it to the function's user before an instance starts
//! (`eddy_runtime::code`). Which user that is, is `--function-user` ([`FunctionUser`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use eddy_runtime::{FunctionSpec, LogLine, LogSink, Pools, RuntimeConfig, RuntimeKind};
use eddy_store::{Definition, NewLogEvent, Store};
use serde::{Deserialize, Serialize};

use crate::config::{CodeRoots, FunctionUser};
use crate::core_error::CoreError;
use crate::follow::{Feed, Follow};
use crate::registry::{self, Changed, Named, Registry};

mod definition;
pub mod layers;
pub mod permissions;
pub mod urls;
pub mod versions;

pub use definition::{
    CodeSource, EventInvokeUpdate, FunctionError, FunctionSettings, check_environment,
    check_settings,
};
pub use layers::{LayerDef, LayerInfo, LayerRef, LayerVersion};
pub use permissions::Permission;
pub use urls::{UrlConfig, UrlCors, UrlUpdate};
pub use versions::{Alias, AliasUpdate, LATEST, Resolved};

/// Where a function's code lives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub enum CodeLocation {
    /// Unpacked by eddy from an uploaded zip into its revision directory.
    Unpacked { revision: String },
    /// A directory on this machine, used in place (`S3Bucket: hot-reload`, `S3Key: PATH`).
    Local { path: PathBuf },
}

/// `PutFunctionEventInvokeConfig`: how asynchronous invocations are retried and where their
/// results go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct EventInvokeConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum_retry_attempts: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum_event_age_in_seconds: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_success: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_failure: Option<String>,
    pub last_modified_ms: i64,
}

impl EventInvokeConfig {
    /// Lambda's defaults: 2 retries, 6 hours.
    pub fn retries(&self) -> u32 {
        self.maximum_retry_attempts.unwrap_or(2)
    }

    pub fn max_age_ms(&self) -> i64 {
        i64::from(self.maximum_event_age_in_seconds.unwrap_or(21_600)) * 1000
    }
}

/// One function's definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FunctionDef {
    pub region: String,
    pub name: String,
    pub runtime: String,
    pub role: String,
    pub handler: String,
    #[serde(default)]
    pub description: String,
    pub timeout: u32,
    pub memory_size: u32,
    #[serde(default)]
    pub environment: BTreeMap<String, String>,
    pub code: CodeLocation,
    pub code_sha256: String,
    pub code_size: u64,
    pub last_modified_ms: i64,
    pub revision_id: String,
    #[serde(default)]
    pub reserved_concurrency: Option<u32>,
    #[serde(default)]
    pub event_invoke: Option<EventInvokeConfig>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    #[serde(default)]
    pub architectures: Vec<String>,
    #[serde(default)]
    pub ephemeral_storage: Option<u32>,
    /// `TracingConfig.Mode`: `PassThrough` (the default) or `Active` (kept; eddy does not trace).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracing_mode: Option<String>,
    /// `CapacityProviderConfig`: the function runs like a Lambda Managed Instance, several
    /// invocations per instance.
    #[serde(default)]
    pub capacity_provider: Option<CapacityProvider>,
    /// Published versions by number (see [`versions`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub versions: BTreeMap<u32, FunctionDef>,
    /// The highest version number ever published (numbers are never reused).
    #[serde(default)]
    pub last_version: u32,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub aliases: BTreeMap<String, Alias>,
    /// Resource-based policy statements by qualifier (`""` for the unqualified function); see
    /// [`permissions`].
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub policy: BTreeMap<String, Vec<serde_json::Value>>,
    /// Function URLs by qualifier (`""` or an alias); see [`urls`].
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub urls: BTreeMap<String, UrlConfig>,
    /// The layer versions the function uses, in order (see [`layers`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub layers: Vec<LayerRef>,
    /// The directory (beside the code revisions) its layers are merged into.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opt_dir: Option<String>,
}

/// A function's `LambdaManagedInstancesCapacityProviderConfig`. eddy has no fleet to manage:
/// the provider's ARN is kept as given, and what it changes is how many invocations one
/// instance (one process) runs at once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CapacityProvider {
    pub arn: String,
    /// `PerExecutionEnvironmentMaxConcurrency` as given (1-1600).
    #[serde(default)]
    pub max_concurrency: Option<u32>,
    /// `ExecutionEnvironmentMemoryGiBPerVCpu` as given (2-8); kept, not applied.
    #[serde(default)]
    pub memory_gib_per_vcpu: Option<f64>,
}

/// Invocations per instance of a function with a capacity provider and no
/// `PerExecutionEnvironmentMaxConcurrency` (eddy's choice: AWS documents no default).
pub const DEFAULT_INSTANCE_CONCURRENCY: u32 = 16;

impl CapacityProvider {
    /// How many invocations one instance runs at once.
    pub fn instance_concurrency(&self) -> u32 {
        self.max_concurrency
            .unwrap_or(DEFAULT_INSTANCE_CONCURRENCY)
            .max(1)
    }
}

impl Named for FunctionDef {
    const KIND: &'static str = "function";

    fn region(&self) -> &str {
        &self.region
    }

    fn name(&self) -> &str {
        &self.name
    }
}

impl FunctionDef {
    pub fn arn(&self, account: &str) -> String {
        format!(
            "arn:aws:lambda:{}:{account}:function:{}",
            self.region, self.name
        )
    }
}

/// See the module docs.
pub struct Functions {
    defs: Registry<FunctionDef>,
    pools: Arc<Pools>,
    code_root: PathBuf,
    /// The mode of the `functions`, region and name directories: see the module docs.
    tree_mode: u32,
    account: String,
    default_concurrency: u32,
    /// Where code may be taken from on this machine.
    code_roots: CodeRoots,
    clock: crate::clock::Clock,
    /// Function URL ids, following the definitions (see [`urls`]).
    url_index: std::sync::RwLock<urls::UrlIndex>,
    layers: Registry<LayerDef>,
    /// `DATA_DIR/layers`.
    layer_root: PathBuf,
    /// The function log lines' receiver, until the core starts its writer
    /// ([`spawn_log_writer`]).
    log_rx: std::sync::Mutex<Option<tokio::sync::mpsc::UnboundedReceiver<LogLine>>>,
}

/// Function log lines on their way to the store, written in batches by [`spawn_log_writer`].
pub struct StoreLogs {
    tx: tokio::sync::mpsc::UnboundedSender<LogLine>,
}

impl LogSink for StoreLogs {
    fn write(&self, line: LogLine) {
        let _closed = self.tx.send(line).is_err();
    }
}

/// Writes function log lines every 200 ms (or 2,000 lines) through [`crate::Core::write_logs`]
/// (metric and subscription filters apply); started once the core exists.
pub fn spawn_log_writer(
    core: std::sync::Weak<crate::Core>,
    mut rx: tokio::sync::mpsc::UnboundedReceiver<LogLine>,
) {
    tokio::spawn(async move {
        let mut buf: Vec<LogLine> = Vec::new();
        loop {
            let n = rx.recv_many(&mut buf, 2000).await;
            if n == 0 {
                return;
            }
            if buf.len() < 2000 {
                tokio::time::sleep(Duration::from_millis(200)).await;
                while buf.len() < 2000 {
                    match rx.try_recv() {
                        Ok(l) => buf.push(l),
                        Err(_) => break,
                    }
                }
            }
            let events = buf
                .drain(..)
                .map(|l| NewLogEvent {
                    group: registry::key(&l.region, &l.group),
                    stream: l.stream,
                    timestamp_ms: l.time_ms,
                    message: l.message,
                })
                .collect();
            let Some(core) = core.upgrade() else { return };
            let now = core.clock.now_ms();
            if let Err(e) = core.write_logs(events, now, Vec::new()).await {
                tracing::warn!(error = %e, "cannot store function logs");
            }
        }
    });
}

impl Functions {
    /// Loads the definitions and prepares (but does not start) their pools.
    pub fn load(
        store: Arc<dyn Store>,
        feed: Arc<Feed>,
        definitions: &[Definition],
        config: &crate::config::ServerConfig,
        endpoint_url: String,
        clock: crate::clock::Clock,
    ) -> anyhow::Result<Self> {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let mut rc = RuntimeConfig::new(endpoint_url);
        // Relative to eddy's working directory: instances run in their code directory, where a
        // relative path would mean something else.
        rc.pythons = match std::env::current_dir() {
            Ok(dir) => config.pythons.clone().absolute(&dir),
            Err(_) => config.pythons.clone(),
        };
        rc.idle_timeout = Duration::from_secs(config.function_idle_secs);
        rc.users = config.function_user.users();
        let tree_mode = code_tree_mode(config.function_user);
        let pools = Arc::new(Pools::new(rc, Arc::new(StoreLogs { tx })));
        pools.spawn_reaper();
        let code_root = config.data_dir.join("functions");
        let this = Self {
            log_rx: std::sync::Mutex::new(Some(rx)),
            layers: Registry::load(store.clone(), feed.clone(), definitions)?,
            layer_root: config.data_dir.join("layers"),
            defs: Registry::load(store, feed, definitions)?,
            pools,
            code_root,
            tree_mode,
            account: config.account_id.clone(),
            default_concurrency: config.function_concurrency.max(1),
            code_roots: config.code_roots.clone(),
            clock,
            url_index: Default::default(),
        };
        for def in this.defs.all() {
            this.deploy(&def);
            if let Ok(mut index) = this.url_index.write() {
                index.changed(None, Some(&def));
            }
        }
        Ok(this)
    }

    pub fn account(&self) -> &str {
        &self.account
    }

    /// The function log lines' receiver, once (the core's writer takes it).
    pub fn take_log_receiver(&self) -> Option<tokio::sync::mpsc::UnboundedReceiver<LogLine>> {
        self.log_rx.lock().ok()?.take()
    }

    pub fn get(&self, region: &str, name: &str) -> Option<FunctionDef> {
        self.defs.get(region, name)
    }

    pub fn list(&self, region: &str) -> Vec<FunctionDef> {
        self.defs.list(region)
    }

    /// Every function, of every region.
    pub fn all(&self) -> Vec<FunctionDef> {
        self.defs.all()
    }

    pub fn default_concurrency(&self) -> u32 {
        self.default_concurrency
    }

    /// Where uploaded code of `name` is unpacked.
    pub fn code_root(&self, region: &str, name: &str) -> PathBuf {
        self.code_root.join(region).join(name)
    }

    /// The directory a definition's code runs from.
    pub fn code_dir(&self, def: &FunctionDef) -> PathBuf {
        match &def.code {
            CodeLocation::Unpacked { revision } => {
                self.code_root(&def.region, &def.name).join(revision)
            }
            CodeLocation::Local { path } => path.clone(),
        }
    }

    fn spec(&self, def: &FunctionDef, version: &str) -> Option<FunctionSpec> {
        Some(FunctionSpec {
            name: def.name.clone(),
            arn: def.arn(&self.account),
            version: version.to_owned(),
            runtime: RuntimeKind::parse(&def.runtime)?,
            handler: def.handler.clone(),
            code_dir: self.code_dir(def),
            private_code: matches!(def.code, CodeLocation::Unpacked { .. }),
            opt_dir: def
                .opt_dir
                .as_ref()
                .map(|d| self.code_root(&def.region, &def.name).join(d)),
            timeout: Duration::from_secs(u64::from(def.timeout)),
            memory_mb: def.memory_size,
            environment: def.environment.clone(),
            concurrency: def.reserved_concurrency.unwrap_or(self.default_concurrency),
            instance_concurrency: def
                .capacity_provider
                .as_ref()
                .map_or(1, CapacityProvider::instance_concurrency),
            region: def.region.clone(),
            revision: def.revision_id.clone(),
        })
    }

    /// Makes the pools run `$LATEST` and every published version of `def`.
    fn deploy(&self, def: &FunctionDef) {
        if let Some(spec) = self.spec(def, LATEST) {
            self.pools
                .deploy(&registry::key(&def.region, &def.name), spec);
        }
        for (n, v) in &def.versions {
            let key = versions::version_key(&def.region, &def.name, *n);
            // A published version never changes: its pool, once there, stays as it is, unless
            // the number now names another snapshot (the function was deleted and made again).
            let current = self
                .pools
                .get(&key)
                .is_some_and(|p| p.spec().revision == v.revision_id);
            if !current && let Some(spec) = self.spec(v, &n.to_string()) {
                self.pools.deploy(&key, spec);
            }
        }
    }

    /// The directories one definition runs from: its code revision and its merged layers.
    fn dirs(d: &FunctionDef) -> impl Iterator<Item = String> + '_ {
        let code = match &d.code {
            CodeLocation::Unpacked { revision } => Some(revision.clone()),
            CodeLocation::Local { .. } => None,
        };
        code.into_iter().chain(d.opt_dir.clone())
    }

    /// Every directory `def` runs from (`$LATEST`'s and its versions').
    fn revisions(def: &FunctionDef) -> impl Iterator<Item = String> + '_ {
        std::iter::once(def)
            .chain(def.versions.values())
            .flat_map(Self::dirs)
    }

    /// Changes function `name` atomically: `change` edits a copy of its definition and gives
    /// the answer; its refusal, or the function's absence (`NotFound`), changes nothing.
    async fn change<A>(
        &self,
        region: &str,
        name: &str,
        change: impl FnOnce(&mut FunctionDef) -> Result<A, FunctionError>,
    ) -> Result<A, FunctionError> {
        self.defs
            .upsert(region, name, |cur| {
                let mut d = cur
                    .cloned()
                    .ok_or_else(|| FunctionError::NotFound(name.to_owned()))?;
                let answer = change(&mut d)?;
                Ok((d, answer))
            })
            .await
    }

    /// Stores a definition; once it is committed its pool runs it (instances of an older
    /// revision drain).
    pub async fn put(&self, def: FunctionDef) -> Result<(), CoreError> {
        self.defs.put(def).await
    }

    /// Deletes a function: its definition, then its instances and its unpacked code.
    pub async fn delete(&self, def: &FunctionDef) -> Result<(), CoreError> {
        self.defs.delete(&def.region, &def.name).await
    }

    /// Makes the pools follow a committed change of a definition.
    fn changed(&self, change: Changed<FunctionDef>) {
        if let Ok(mut index) = self.url_index.write() {
            index.changed(change.before.as_ref(), change.after.as_ref());
        }
        match (change.before, change.after) {
            (previous, Some(def)) => {
                self.deploy(&def);
                if let Some(p) = &previous {
                    for n in p.versions.keys().filter(|n| !def.versions.contains_key(n)) {
                        self.pools
                            .remove(&versions::version_key(&def.region, &def.name, *n));
                    }
                }
                // New code (or a new function, or a version gone): remove other revisions'
                // files, keeping the previous one for instances still finishing on it, and
                // every published version's. Configuration-only changes touch no files.
                let versions_gone = previous
                    .as_ref()
                    .is_some_and(|p| p.versions.len() > def.versions.len());
                if versions_gone
                    || previous
                        .as_ref()
                        .is_none_or(|p| p.code != def.code || p.opt_dir != def.opt_dir)
                {
                    let previous_dirs = previous.iter().flat_map(Self::dirs);
                    let keep: Vec<String> = Self::revisions(&def).chain(previous_dirs).collect();
                    let root = self.code_root(&def.region, &def.name);
                    tokio::task::spawn_blocking(move || eddy_runtime::code::prune(&root, &keep));
                }
            }
            (Some(gone), None) => {
                self.pools.remove(&registry::key(&gone.region, &gone.name));
                for n in gone.versions.keys() {
                    self.pools
                        .remove(&versions::version_key(&gone.region, &gone.name, *n));
                }
                let root = self.code_root(&gone.region, &gone.name);
                tokio::task::spawn_blocking(move || {
                    let _best_effort = std::fs::remove_dir_all(&root).is_err();
                });
            }
            (None, None) => {}
        }
    }

    /// The pool running a function.
    pub fn pool(&self, region: &str, name: &str) -> Option<Arc<eddy_runtime::Pool>> {
        self.pools.get(&registry::key(region, name))
    }

    /// Unpacks a zip upload for function `name`, given as the base64 text of Lambda's
    /// `ZipFile`, on a blocking thread (see [`eddy_runtime::code`]): the text is decoded into a
    /// private file beside the code (never held decoded in memory), then unpacked. Returns the
    /// new revision directory's name, the upload's `CodeSha256` and its size.
    pub async fn unpack_base64(
        &self,
        region: &str,
        name: &str,
        zip_base64: bytes::Bytes,
    ) -> Result<(String, String, u64), eddy_runtime::code::CodeError> {
        use eddy_runtime::code::{self, CodeError};
        let base = self.code_root.clone();
        let (region, name) = (region.to_owned(), name.to_owned());
        let mode = self.tree_mode;
        let revision = uuid::Uuid::new_v4().simple().to_string();
        let rev = revision.clone();
        let (sha, size) = tokio::task::spawn_blocking(move || {
            let root = base.join(&region).join(&name);
            for dir in [base.clone(), base.join(&region), root.clone()] {
                make_dir(&dir, mode)?;
            }
            let zip = code::spool_base64(&zip_base64, &root)?;
            drop(zip_base64);
            code::unpack_spooled(&zip, &root, &rev)?;
            Ok::<_, CodeError>((zip.sha256.clone(), zip.size))
        })
        .await
        .map_err(|e| CodeError::Io(std::io::Error::other(format!("unpacking failed: {e}"))))??;
        Ok((revision, sha, size))
    }
}

/// The mode of the directories above revision directories (see the module docs).
pub fn code_tree_mode(user: FunctionUser) -> u32 {
    if user.users().other_than_eddy() {
        0o711
    } else {
        0o700
    }
}

/// Creates the data directory when needed and gives it, and the `functions`, region and name
/// directories under it, the mode [`code_tree_mode`] says (code unpacked by an earlier eddy, or
/// under another `--function-user`, gets this one's modes; revision directories are given to
/// their function's user before its first instance). Blocking.
/// A shared directory (`/`, or one with the sticky bit such as `/tmp`) is refused rather than
/// made private.
pub fn make_data_dir_private(data_dir: &Path, user: FunctionUser) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = code_tree_mode(user);
    std::fs::create_dir_all(data_dir)?;
    let sticky = std::fs::metadata(data_dir)?.permissions().mode() & 0o1000 != 0;
    if sticky || data_dir.canonicalize()?.parent().is_none() {
        return Err(std::io::Error::other(
            "it is a shared directory (the root or one with the sticky bit, like /tmp); give \
             eddy a directory of its own with `--data-dir`",
        ));
    }
    std::fs::set_permissions(data_dir, std::fs::Permissions::from_mode(mode))?;
    set_tree_modes(&data_dir.join("functions"), mode)
}

/// Creates `dir` (its parent exists) or leaves it, and gives it `mode`.
fn make_dir(dir: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    match std::fs::DirBuilder::new().mode(mode).create(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => return Err(e),
        _ => {}
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode))
}

/// Gives `functions` and its region and name directories `mode`, when they exist.
fn set_tree_modes(functions: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let set = |p: &Path| std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode));
    if !functions.is_dir() {
        return Ok(());
    }
    set(functions)?;
    for region in std::fs::read_dir(functions)? {
        let region = region?;
        if !region.file_type()?.is_dir() {
            continue;
        }
        set(&region.path())?;
        for name in std::fs::read_dir(region.path())? {
            let name = name?;
            if name.file_type()?.is_dir() {
                set(&name.path())?;
            }
        }
    }
    Ok(())
}

impl Follow for Functions {
    fn follow(&self, changes: &[eddy_store::DefinitionChange]) {
        for c in self.defs.follow(changes) {
            self.changed(c);
        }
        let _layers = self.layers.follow(changes);
    }

    fn reload(&self, definitions: &[Definition]) {
        for c in self.defs.reload(definitions) {
            self.changed(c);
        }
        let _layers = self.layers.reload(definitions);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn the_data_directory_and_the_code_tree_are_made_private() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let name = data.join("functions/us-east-1/f");
        std::fs::create_dir_all(&name).unwrap();
        for d in [&data, &data.join("functions"), &name] {
            std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        make_data_dir_private(&data, FunctionUser::Current).unwrap();
        for d in [
            &data,
            &data.join("functions"),
            &data.join("functions/us-east-1"),
            &name,
        ] {
            assert_eq!(mode(d), 0o700, "{}", d.display());
        }
        // Functions as another user than eddy's: they may pass through, not list.
        make_data_dir_private(&data, FunctionUser::Id(65534, 65534)).unwrap();
        let other = euid() != 65534;
        for d in [&data, &data.join("functions"), &name] {
            assert_eq!(mode(d), if other { 0o711 } else { 0o700 });
        }
        // A data directory that does not exist yet is created private.
        let fresh = dir.path().join("fresh/data");
        make_data_dir_private(&fresh, FunctionUser::Current).unwrap();
        assert_eq!(mode(&fresh), 0o700);
    }

    #[test]
    fn shared_directories_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o1777)).unwrap();
        let e = make_data_dir_private(dir.path(), FunctionUser::Current).unwrap_err();
        assert!(e.to_string().contains("shared directory"), "{e}");
        assert_eq!(mode(dir.path()), 0o1777);
        assert!(make_data_dir_private(Path::new("/"), FunctionUser::Current).is_err());
    }

    fn euid() -> u32 {
        std::fs::read_to_string("/proc/self/status")
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|u| u.parse().ok())
            .unwrap()
    }
}
