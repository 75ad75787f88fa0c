//! Creating and changing functions: the one place that decides whether a function's definition
//! is valid (runtime, handler, limits, environment, where its code comes from) and whether a
//! change may be made (revision ids, concurrency, asynchronous invocation settings), for every
//! caller (the Lambda API, the manifest). Refusals are [`FunctionError`]s in the core's words;
//! the Lambda adapter words them as AWS does.

use std::collections::BTreeMap;
use std::path::PathBuf;

use eddy_model::limits::function as limits;
use eddy_runtime::{Readiness, RuntimeKind};

use super::{CapacityProvider, CodeLocation, EventInvokeConfig, FunctionDef, Functions};
use crate::core_error::CoreError;
use crate::delivery::target::TargetKind;

/// Where a function's code comes from.
#[derive(Debug, Clone)]
pub enum CodeSource {
    /// A zip upload as the base64 text of Lambda's `ZipFile` (unpacked into a new revision).
    ZipBase64(bytes::Bytes),
    /// A zip archive on this machine, under a code root (the manifest's `code = "x.zip"`).
    ZipFile(PathBuf),
    /// A directory on this machine, under a code root, used in place (hot reload).
    Directory(PathBuf),
}

/// What CreateFunction and UpdateFunctionConfiguration set: on create, `None` takes Lambda's
/// default; on update, `None` keeps what is there.
#[derive(Debug, Clone, Default)]
pub struct FunctionSettings {
    pub runtime: Option<String>,
    pub role: Option<String>,
    pub handler: Option<String>,
    pub description: Option<String>,
    /// Seconds.
    pub timeout: Option<i64>,
    /// MiB.
    pub memory_size: Option<i64>,
    pub environment: Option<BTreeMap<String, String>>,
    pub ephemeral_storage: Option<u32>,
    pub tracing_mode: Option<String>,
    pub capacity_provider: Option<CapacityProvider>,
    /// Layer version ARNs, in order (`Some(vec![])` removes them).
    pub layers: Option<Vec<String>>,
}

/// A change of a function's asynchronous invocation settings.
#[derive(Debug, Clone, Default)]
pub struct EventInvokeUpdate {
    pub maximum_retry_attempts: Option<i64>,
    pub maximum_event_age_in_seconds: Option<i64>,
    pub on_success: Option<String>,
    pub on_failure: Option<String>,
}

/// Why a function operation refused.
#[derive(Debug, thiserror::Error)]
pub enum FunctionError {
    #[error("runtime {0} is not supported")]
    UnsupportedRuntime(String),
    /// A zip package needs a runtime, and a Python one a handler.
    #[error("runtime and handler are required")]
    RuntimeAndHandlerRequired,
    /// A number outside its limits (`eddy_model::limits::function`).
    #[error("{member} {value} is out of range")]
    OutOfRange { member: &'static str, value: i64 },
    /// Environment variables Lambda sets itself.
    #[error("reserved environment variables: {}", .0.join(", "))]
    ReservedVariables(Vec<String>),
    #[error("environment variable name {0} is not valid")]
    VariableName(String),
    /// The environment's JSON (given) is over 4 KB.
    #[error("the environment is over 4 KB")]
    EnvironmentTooLarge(String),
    /// A code directory that is not an absolute path to a directory.
    #[error("{} is not an absolute path to a directory", .0.display())]
    NotADirectory(PathBuf),
    /// The code cannot be used (why, in words: outside the code roots, unreadable).
    #[error("{0}")]
    Code(String),
    /// An uploaded zip that cannot be unpacked.
    #[error(transparent)]
    Unpack(#[from] eddy_runtime::code::CodeError),
    #[error("function {0} already exists")]
    Exists(String),
    #[error("function {0} does not exist")]
    NotFound(String),
    /// The revision id given is not the function's latest.
    #[error("the revision id is not the latest")]
    RevisionMismatch,
    /// More reserved concurrency than the account has (`limit`).
    #[error("reserved concurrency {n} is above {limit}")]
    ConcurrencyAboveLimit { n: i64, limit: i64 },
    /// An asynchronous invocation destination that is not a queue, bus or function.
    #[error("destination {0} is not a queue, a bus or a function")]
    Destination(String),
    /// The function has no asynchronous invocation settings to delete.
    #[error("function {0} has no event invoke config")]
    NoEventInvokeConfig(String),
    /// A version or alias that the function does not have.
    #[error("function {name} has no version or alias {qualifier}")]
    QualifierNotFound { name: String, qualifier: String },
    /// PublishVersion's `CodeSha256` is not `$LATEST`'s.
    #[error("code sha256 {given} is not the latest ({latest})")]
    CodeShaMismatch { given: String, latest: String },
    /// `$LATEST` cannot be deleted on its own.
    #[error("$LATEST cannot be deleted")]
    DeleteLatest,
    /// A version that an alias points to.
    #[error("version {version} is used by aliases {aliases:?}")]
    VersionInUse {
        version: String,
        aliases: Vec<String>,
    },
    #[error("alias name {0} is not valid")]
    AliasName(String),
    #[error("alias {0} already exists")]
    AliasExists(String),
    #[error("alias {0} does not exist")]
    AliasNotFound(String),
    /// An alias naming a version the function does not have.
    #[error("version {0} does not exist")]
    VersionNotFound(String),
    /// An alias's routing configuration that Lambda refuses (why, in Lambda's words).
    #[error("{0}")]
    Routing(String),
    #[error("routing weight {weight} of version {version} is not between 0 and 1")]
    RoutingWeight { version: String, weight: f64 },
    /// AddPermission with a statement id already in the policy.
    #[error("statement {0} already exists")]
    StatementExists(String),
    /// RemovePermission of a statement the policy does not have.
    #[error("statement {0} does not exist")]
    StatementNotFound(String),
    /// GetPolicy of a function (or qualifier) without a policy.
    #[error("no policy")]
    NoPolicy,
    /// AddPermission would make the policy larger than Lambda's quota (its size).
    #[error("the policy would be {0} bytes")]
    PolicyTooLong(usize),
    /// A permission's action or principal that Lambda refuses (why).
    #[error("{0}")]
    Permission(String),
    /// CreateFunctionUrlConfig where there is one already.
    #[error("function URL config exists for {0}")]
    UrlExists(String),
    /// A function URL config that does not exist.
    #[error("no function URL config for {0}")]
    UrlNotFound(String),
    /// A function URL on a version number (only `$LATEST`'s function or an alias may have one).
    #[error("function URLs are for the function or an alias, not version {0}")]
    UrlQualifier(String),
    /// A layer a function cannot use, or a layer operation that failed (why, in Lambda's words).
    #[error("{0}")]
    Layer(String),
    #[error(transparent)]
    Core(#[from] CoreError),
}

/// The largest environment, as Lambda measures it (its JSON).
const ENVIRONMENT_MAX_BYTES: usize = 4096;

fn check_range(
    member: &'static str,
    value: Option<i64>,
    limits: std::ops::RangeInclusive<i64>,
) -> Result<(), FunctionError> {
    match value {
        Some(v) if !limits.contains(&v) => Err(FunctionError::OutOfRange { member, value: v }),
        _ => Ok(()),
    }
}

/// Checks environment variables: none reserved, names `[a-zA-Z][a-zA-Z0-9_]+`, at most 4 KB.
pub fn check_environment(vars: &BTreeMap<String, String>) -> Result<(), FunctionError> {
    let reserved = eddy_runtime::spec::reserved_in(vars.keys());
    if !reserved.is_empty() {
        return Err(FunctionError::ReservedVariables(
            reserved.iter().map(|s| (*s).to_owned()).collect(),
        ));
    }
    for k in vars.keys() {
        let mut chars = k.chars();
        let ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            && k.len() >= 2
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ok {
            return Err(FunctionError::VariableName(k.clone()));
        }
    }
    let measured = serde_json::to_string(vars).unwrap_or_default();
    if measured.len() > ENVIRONMENT_MAX_BYTES {
        return Err(FunctionError::EnvironmentTooLarge(measured));
    }
    Ok(())
}

/// Checks the settings CreateFunction and UpdateFunctionConfiguration share.
pub fn check_settings(s: &FunctionSettings) -> Result<(), FunctionError> {
    check_range("Timeout", s.timeout, limits::TIMEOUT)?;
    check_range("MemorySize", s.memory_size, limits::MEMORY_SIZE)?;
    if let Some(rt) = &s.runtime
        && RuntimeKind::parse(rt).is_none()
    {
        return Err(FunctionError::UnsupportedRuntime(rt.clone()));
    }
    if let Some(env) = &s.environment {
        check_environment(env)?;
    }
    Ok(())
}

/// A number checked against its limits, as the `u32` a definition keeps.
fn as_u32(v: i64) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

impl Functions {
    fn existing(&self, region: &str, name: &str) -> Result<FunctionDef, FunctionError> {
        self.get(region, name)
            .ok_or_else(|| FunctionError::NotFound(name.to_owned()))
    }

    /// Where code from `source` will run from for function `name`, its hash and size: a zip is
    /// unpacked into a new revision; a directory is used in place. Files are taken only from
    /// under a code root.
    pub async fn take_code(
        &self,
        region: &str,
        name: &str,
        source: CodeSource,
    ) -> Result<(CodeLocation, String, u64), FunctionError> {
        let code = |e: String| FunctionError::Code(e);
        let zip_base64 = match source {
            CodeSource::Directory(path) => {
                if !path.is_absolute() || !path.is_dir() {
                    return Err(FunctionError::NotADirectory(path));
                }
                self.code_roots.check(&path).map_err(code)?;
                let sha = eddy_runtime::code::sha256_base64(path.as_os_str().as_encoded_bytes());
                return Ok((CodeLocation::Local { path }, sha, 0));
            }
            CodeSource::ZipFile(path) => {
                let path = self.code_roots.check(&path).map_err(code)?;
                let bytes = tokio::task::spawn_blocking(move || {
                    std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))
                })
                .await
                .map_err(|e| code(e.to_string()))?
                .map_err(code)?;
                use base64::Engine;
                bytes::Bytes::from(base64::engine::general_purpose::STANDARD.encode(bytes))
            }
            CodeSource::ZipBase64(text) => text,
        };
        let (revision, sha, size) = self.unpack_base64(region, name, zip_base64).await?;
        Ok((CodeLocation::Unpacked { revision }, sha, size))
    }

    /// Creates a function (CreateFunction) with its code; its pool runs it once committed.
    /// (`Core::create_function` also makes its log group.)
    pub async fn create(
        &self,
        region: &str,
        name: &str,
        settings: FunctionSettings,
        source: CodeSource,
        tags: BTreeMap<String, String>,
        architectures: Vec<String>,
    ) -> Result<FunctionDef, FunctionError> {
        check_settings(&settings)?;
        let Some(runtime) = settings.runtime else {
            return Err(FunctionError::RuntimeAndHandlerRequired);
        };
        let handler = settings.handler.unwrap_or_default();
        if handler.is_empty() && runtime.starts_with("python") {
            return Err(FunctionError::RuntimeAndHandlerRequired);
        }
        if self.get(region, name).is_some() {
            return Err(FunctionError::Exists(name.to_owned()));
        }
        let (code, code_sha256, code_size) = self.take_code(region, name, source).await?;
        let (layers, opt_dir) = match &settings.layers {
            Some(arns) => self.take_layers(region, name, arns).await?,
            None => (Vec::new(), None),
        };
        let def = FunctionDef {
            region: region.to_owned(),
            name: name.to_owned(),
            runtime,
            role: settings.role.unwrap_or_default(),
            handler,
            description: settings.description.unwrap_or_default(),
            timeout: as_u32(settings.timeout.unwrap_or(3)),
            memory_size: as_u32(settings.memory_size.unwrap_or(128)),
            environment: settings.environment.unwrap_or_default(),
            code,
            code_sha256,
            code_size,
            last_modified_ms: self.clock.now_ms(),
            revision_id: uuid::Uuid::new_v4().to_string(),
            reserved_concurrency: None,
            event_invoke: None,
            tags,
            architectures,
            ephemeral_storage: settings.ephemeral_storage,
            tracing_mode: settings.tracing_mode,
            capacity_provider: settings.capacity_provider,
            versions: BTreeMap::new(),
            last_version: 0,
            aliases: BTreeMap::new(),
            policy: BTreeMap::new(),
            urls: BTreeMap::new(),
            layers,
            opt_dir,
        };
        // A second create racing this one loses here rather than overwriting.
        if self.get(region, name).is_some() {
            return Err(FunctionError::Exists(name.to_owned()));
        }
        self.put(def.clone()).await?;
        self.check_ready(region, name).await;
        Ok(def)
    }

    /// Stores a changed function as a new revision (new `LastModified` and `RevisionId`).
    async fn save_revision(&self, mut d: FunctionDef) -> Result<FunctionDef, FunctionError> {
        d.last_modified_ms = self.clock.now_ms();
        d.revision_id = uuid::Uuid::new_v4().to_string();
        self.put(d.clone()).await?;
        self.check_ready(&d.region, &d.name).await;
        Ok(d)
    }

    /// Checks now, rather than at the first invocation, whether the function can start (its
    /// interpreter and runtime client, or its `bootstrap`); [`Functions::readiness`] keeps the
    /// answer. `None` when this node runs no pool for it.
    pub async fn check_ready(&self, region: &str, name: &str) -> Option<Readiness> {
        let pool = self.pool(region, name)?;
        Some(pool.check_ready().await)
    }

    /// What the last check of whether the function can start found (see
    /// [`Functions::check_ready`]); `None` before any.
    pub fn readiness(&self, region: &str, name: &str) -> Option<Readiness> {
        self.pool(region, name)?.readiness()
    }

    /// Changes a function's settings (UpdateFunctionConfiguration), only if `revision` (when
    /// given) is its latest.
    pub async fn update_configuration(
        &self,
        region: &str,
        name: &str,
        settings: FunctionSettings,
        revision: Option<&str>,
    ) -> Result<FunctionDef, FunctionError> {
        let mut d = self.existing(region, name)?;
        check_settings(&settings)?;
        check_revision(&d, revision)?;
        if let Some(r) = settings.runtime {
            d.runtime = r;
        }
        if let Some(r) = settings.role {
            d.role = r;
        }
        if let Some(h) = settings.handler {
            d.handler = h;
        }
        if let Some(x) = settings.description {
            d.description = x;
        }
        if let Some(t) = settings.timeout {
            d.timeout = as_u32(t);
        }
        if let Some(m) = settings.memory_size {
            d.memory_size = as_u32(m);
        }
        if let Some(e) = settings.environment {
            d.environment = e;
        }
        if let Some(s) = settings.ephemeral_storage {
            d.ephemeral_storage = Some(s);
        }
        if let Some(t) = settings.tracing_mode {
            d.tracing_mode = Some(t);
        }
        if let Some(cp) = settings.capacity_provider {
            d.capacity_provider = Some(cp);
        }
        if let Some(arns) = &settings.layers {
            let (layers, opt_dir) = self.take_layers(region, name, arns).await?;
            d.layers = layers;
            d.opt_dir = opt_dir;
        }
        self.save_revision(d).await
    }

    /// Replaces a function's code (UpdateFunctionCode), only if `revision` (when given) is its
    /// latest; `dry_run` checks and changes nothing.
    pub async fn update_code(
        &self,
        region: &str,
        name: &str,
        source: CodeSource,
        architectures: Option<Vec<String>>,
        revision: Option<&str>,
        dry_run: bool,
    ) -> Result<FunctionDef, FunctionError> {
        let mut d = self.existing(region, name)?;
        check_revision(&d, revision)?;
        if let Some(a) = architectures {
            d.architectures = a;
        }
        if dry_run {
            return Ok(d);
        }
        let (code, sha, size) = self.take_code(region, name, source).await?;
        d.code = code;
        d.code_sha256 = sha;
        d.code_size = size;
        self.save_revision(d).await
    }

    /// Deletes a function: its definition, then its instances and its unpacked code.
    pub async fn delete_function(&self, region: &str, name: &str) -> Result<(), FunctionError> {
        let d = self.existing(region, name)?;
        Ok(self.delete(&d).await?)
    }

    /// Reserves concurrency for a function (PutFunctionConcurrency).
    pub async fn put_concurrency(
        &self,
        region: &str,
        name: &str,
        n: i64,
    ) -> Result<(), FunctionError> {
        let mut d = self.existing(region, name)?;
        check_range("ReservedConcurrentExecutions", Some(n), 0..=i64::MAX)?;
        let limit = i64::from(self.default_concurrency()).max(*limits::RESERVED_CONCURRENCY.end());
        if n > limit {
            return Err(FunctionError::ConcurrencyAboveLimit { n, limit });
        }
        d.reserved_concurrency = Some(as_u32(n));
        Ok(self.put(d).await?)
    }

    /// Removes a function's reserved concurrency (DeleteFunctionConcurrency).
    pub async fn delete_concurrency(&self, region: &str, name: &str) -> Result<(), FunctionError> {
        let mut d = self.existing(region, name)?;
        if d.reserved_concurrency.is_none() {
            return Ok(());
        }
        d.reserved_concurrency = None;
        Ok(self.put(d).await?)
    }

    /// Sets a function's asynchronous invocation settings: `merge` keeps what `update` leaves
    /// out (UpdateFunctionEventInvokeConfig), else it replaces them
    /// (PutFunctionEventInvokeConfig).
    pub async fn put_event_invoke_config(
        &self,
        region: &str,
        name: &str,
        update: EventInvokeUpdate,
        merge: bool,
    ) -> Result<(FunctionDef, EventInvokeConfig), FunctionError> {
        let mut d = self.existing(region, name)?;
        check_range(
            "MaximumRetryAttempts",
            update.maximum_retry_attempts,
            limits::ASYNC_RETRY_ATTEMPTS,
        )?;
        check_range(
            "MaximumEventAgeInSeconds",
            update.maximum_event_age_in_seconds,
            limits::ASYNC_EVENT_AGE,
        )?;
        for dest in [&update.on_success, &update.on_failure]
            .into_iter()
            .flatten()
        {
            if !matches!(
                TargetKind::of(dest),
                TargetKind::Queue { .. } | TargetKind::Bus { .. } | TargetKind::Function { .. }
            ) {
                return Err(FunctionError::Destination(dest.clone()));
            }
        }
        let base = if merge {
            d.event_invoke.clone().unwrap_or_default()
        } else {
            EventInvokeConfig::default()
        };
        let c = EventInvokeConfig {
            maximum_retry_attempts: update
                .maximum_retry_attempts
                .map(as_u32)
                .or(base.maximum_retry_attempts),
            maximum_event_age_in_seconds: update
                .maximum_event_age_in_seconds
                .map(as_u32)
                .or(base.maximum_event_age_in_seconds),
            on_success: update.on_success.or(base.on_success),
            on_failure: update.on_failure.or(base.on_failure),
            last_modified_ms: self.clock.now_ms(),
        };
        d.event_invoke = Some(c.clone());
        self.put(d.clone()).await?;
        Ok((d, c))
    }

    /// Deletes a function's asynchronous invocation settings.
    pub async fn delete_event_invoke_config(
        &self,
        region: &str,
        name: &str,
    ) -> Result<(), FunctionError> {
        let mut d = self.existing(region, name)?;
        if d.event_invoke.is_none() {
            return Err(FunctionError::NoEventInvokeConfig(name.to_owned()));
        }
        d.event_invoke = None;
        Ok(self.put(d).await?)
    }
}

impl crate::Core {
    /// Creates a function ([`Functions::create`]) and its log group `/aws/lambda/NAME`, so the
    /// CloudWatch Logs API reads its logs.
    pub async fn create_function(
        &self,
        region: &str,
        name: &str,
        settings: FunctionSettings,
        source: CodeSource,
        tags: BTreeMap<String, String>,
        architectures: Vec<String>,
    ) -> Result<FunctionDef, FunctionError> {
        let def = self
            .functions
            .create(region, name, settings, source, tags, architectures)
            .await?;
        let group = format!("/aws/lambda/{name}");
        if self.log_groups.get(region, &group).is_none() {
            let g = crate::logs::LogGroupDef {
                region: region.to_owned(),
                name: group,
                retention_in_days: None,
                tags: BTreeMap::new(),
                streams: Default::default(),
                metric_filters: Default::default(),
                subscription_filters: Default::default(),
                created_ms: self.clock.now_ms(),
            };
            if let Err(e) = self.log_groups.put(g).await {
                tracing::warn!(error = %e, "cannot create the function's log group");
            }
        }
        Ok(def)
    }
}

fn check_revision(d: &FunctionDef, revision: Option<&str>) -> Result<(), FunctionError> {
    match revision {
        Some(r) if r != d.revision_id => Err(FunctionError::RevisionMismatch),
        _ => Ok(()),
    }
}
