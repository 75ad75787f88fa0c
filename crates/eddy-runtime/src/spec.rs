//! What a function is, as the runtime needs it: its code, runtime, handler, limits and
//! environment, and the environment a runtime process is started with.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// The language runtime a function's instances are started with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuntimeKind {
    /// `provided.al2023` / `provided.al2`: an executable `bootstrap` in the code root.
    Provided(String),
    /// `python3.x`: the handler runs under the official `awslambdaric` runtime client.
    Python(String),
}

pub use eddy_model::function::SUPPORTED_RUNTIMES;

impl RuntimeKind {
    /// The runtime named `name`, when eddy can start it.
    pub fn parse(name: &str) -> Option<Self> {
        if !SUPPORTED_RUNTIMES.contains(&name) {
            return None;
        }
        if name.starts_with("python") {
            Some(Self::Python(name.to_owned()))
        } else {
            Some(Self::Provided(name.to_owned()))
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Self::Provided(n) | Self::Python(n) => n,
        }
    }
}

/// One function version, ready to run.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionSpec {
    pub name: String,
    /// The unqualified function ARN.
    pub arn: String,
    pub version: String,
    pub runtime: RuntimeKind,
    pub handler: String,
    /// The unpacked code (`LAMBDA_TASK_ROOT`, the process's working directory).
    pub code_dir: PathBuf,
    /// `code_dir` is eddy's own copy of the code (unpacked from a zip): before an instance
    /// starts, it is made readable by the function's user and nobody else (see
    /// [`crate::code::grant`]). False for a developer's directory used in place, which eddy never
    /// changes.
    pub private_code: bool,
    /// The function's layers, merged in order into one directory eddy made (Lambda's `/opt`):
    /// its `bin` goes on `PATH`, its `lib` on `LD_LIBRARY_PATH`, its `python` and
    /// `python/lib/pythonX.Y/site-packages` on `PYTHONPATH`, and it is `EDDY_LAYERS_DIR`.
    /// Private to eddy until given to the function's user, like `code_dir`.
    pub opt_dir: Option<PathBuf>,
    pub timeout: Duration,
    pub memory_mb: u32,
    /// The user's `Environment.Variables` (reserved names were rejected on the API).
    pub environment: BTreeMap<String, String>,
    /// The most instances that may run at once (`PutFunctionConcurrency`, or the default).
    pub concurrency: u32,
    /// How many invocations one instance runs at once (Lambda Managed Instances'
    /// `PerExecutionEnvironmentMaxConcurrency`; 1 is classic Lambda). Above 1 the process gets
    /// `AWS_LAMBDA_MAX_CONCURRENCY` and may hold that many `/next` polls open.
    pub instance_concurrency: u32,
    pub region: String,
    /// Changes whenever the code or configuration changes; instances of an older revision are
    /// drained.
    pub revision: String,
}

impl FunctionSpec {
    pub fn log_group(&self) -> String {
        format!("/aws/lambda/{}", self.name)
    }
}

pub use eddy_model::function::RESERVED_VARIABLES;

/// The reserved names among `vars`, in order.
pub fn reserved_in<'a>(vars: impl IntoIterator<Item = &'a String>) -> Vec<&'a str> {
    vars.into_iter()
        .map(String::as_str)
        .filter(|k| RESERVED_VARIABLES.contains(k))
        .collect()
}

/// Settings shared by every function of one eddy.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// What `AWS_ENDPOINT_URL` points at: eddy's AWS endpoint.
    pub endpoint_url: String,
    /// The Python interpreters for `python3.x` functions (see [`crate::python`]).
    pub pythons: crate::python::Pythons,
    /// How long an unused instance stays warm.
    pub idle_timeout: Duration,
    /// How long an instance may take to reach its first `/next`.
    pub init_timeout: Duration,
    /// Which user instances run as.
    pub users: FunctionUsers,
    /// The `PATH` function processes get.
    pub path: String,
}

/// The user and group ids functions get when each runs as its own user: 65,536 ids from
/// 2,000,000,000 (0x77359400). The range is above the ids of people and system users
/// (below 60,000), `nobody` (65,534), systemd's dynamic users (61,184-65,519), the subordinate
/// ids `useradd` hands out for rootless containers (from 100,000, 65,536 per user, up to
/// 600,100,000 by default) and systemd-nspawn's container ranges (524,288-1,879,048,191), and
/// below systemd's foreign range (from 2,147,352,576) and the ids at 2^31 and up that some
/// programs mistake for negative numbers. No passwd entry is needed.
pub const FUNCTION_IDS: std::ops::RangeInclusive<u32> = 2_000_000_000..=2_000_065_535;

/// Which user function processes run as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FunctionUsers {
    /// eddy's own user.
    Current,
    /// One user and group for every function. Functions are not isolated from each other: each
    /// can read the others' code and signal their processes.
    Shared { uid: u32, gid: u32 },
    /// Each deployed function its own user and group id (the same number), from
    /// [`FUNCTION_IDS`], unique among the functions deployed at once (needs root). The ids are
    /// held in memory only: after a restart a function may get another one, and its code is
    /// given to the new one before its first instance starts.
    PerFunction,
}

impl FunctionUsers {
    /// The default: [`Self::PerFunction`] when eddy runs as root, else [`Self::Current`].
    pub fn auto() -> Self {
        if rustix::process::geteuid().is_root() {
            Self::PerFunction
        } else {
            Self::Current
        }
    }

    /// Whether function processes run as another user than eddy (and so need the data
    /// directory to be searchable, though not readable, by others).
    pub fn other_than_eddy(&self) -> bool {
        match self {
            Self::Current => false,
            Self::Shared { uid, .. } => *uid != rustix::process::geteuid().as_raw(),
            Self::PerFunction => true,
        }
    }
}

impl RuntimeConfig {
    /// Defaults: `python3` from `PATH`, 10 minutes warm, 10 s init, [`FunctionUsers::auto`].
    pub fn new(endpoint_url: impl Into<String>) -> Self {
        Self {
            endpoint_url: endpoint_url.into(),
            pythons: crate::python::Pythons::default(),
            idle_timeout: Duration::from_secs(600),
            init_timeout: Duration::from_secs(10),
            users: FunctionUsers::auto(),
            path: std::env::var("PATH")
                .unwrap_or_else(|_| "/usr/local/bin:/usr/bin:/bin".to_owned()),
        }
    }
}

/// The environment of one instance's process: only what a Lambda runtime gets, never eddy's own.
pub fn environment(
    spec: &FunctionSpec,
    config: &RuntimeConfig,
    runtime_api: &str,
    log_stream: &str,
) -> Vec<(String, String)> {
    let mut env: BTreeMap<String, String> = spec.environment.clone();
    let code = spec.code_dir.display().to_string();
    let mut set = |k: &str, v: &str| {
        env.insert(k.to_owned(), v.to_owned());
    };
    match &spec.opt_dir {
        Some(opt) => {
            let opt = opt.display();
            set("PATH", &format!("{}:{opt}/bin", config.path));
            set("LD_LIBRARY_PATH", &format!("{code}:{code}/lib:{opt}/lib"));
            set("EDDY_LAYERS_DIR", &opt.to_string());
        }
        None => set("PATH", &config.path),
    }
    set("LANG", "en_US.UTF-8");
    set("TZ", ":UTC");
    set("TMPDIR", "/tmp");
    set("AWS_LAMBDA_RUNTIME_API", runtime_api);
    set("_HANDLER", &spec.handler);
    set("LAMBDA_TASK_ROOT", &code);
    set("LAMBDA_RUNTIME_DIR", &code);
    set("AWS_LAMBDA_FUNCTION_NAME", &spec.name);
    set("AWS_LAMBDA_FUNCTION_VERSION", &spec.version);
    set(
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        &spec.memory_mb.to_string(),
    );
    set("AWS_LAMBDA_LOG_GROUP_NAME", &spec.log_group());
    set("AWS_LAMBDA_LOG_STREAM_NAME", log_stream);
    set("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand");
    if spec.instance_concurrency > 1 {
        set(
            "AWS_LAMBDA_MAX_CONCURRENCY",
            &spec.instance_concurrency.to_string(),
        );
    }
    set("AWS_REGION", &spec.region);
    set("AWS_DEFAULT_REGION", &spec.region);
    set(
        "AWS_EXECUTION_ENV",
        &format!("AWS_Lambda_{}", spec.runtime.name()),
    );
    set("AWS_ACCESS_KEY_ID", "eddy");
    set("AWS_SECRET_ACCESS_KEY", "eddy");
    set("AWS_SESSION_TOKEN", "eddy");
    if !spec.environment.contains_key("AWS_ENDPOINT_URL") {
        set("AWS_ENDPOINT_URL", &config.endpoint_url);
    }
    if let RuntimeKind::Python(_) = spec.runtime {
        set("PYTHONUNBUFFERED", "1");
        let mut path = code.clone();
        if let (Some(opt), RuntimeKind::Python(version)) = (&spec.opt_dir, &spec.runtime) {
            let opt = opt.display();
            let minor = version.trim_start_matches("python");
            path = format!("{path}:{opt}/python/lib/python{minor}/site-packages:{opt}/python");
        }
        if let Some(user) = spec.environment.get("PYTHONPATH") {
            path = format!("{path}:{user}");
        }
        set("PYTHONPATH", &path);
    }
    env.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> FunctionSpec {
        FunctionSpec {
            name: "f".into(),
            arn: "arn:aws:lambda:us-east-1:123456789012:function:f".into(),
            version: "$LATEST".into(),
            runtime: RuntimeKind::parse("python3.12").unwrap(),
            handler: "app.handler".into(),
            code_dir: PathBuf::from("/code"),
            private_code: false,
            opt_dir: None,
            timeout: Duration::from_secs(3),
            memory_mb: 128,
            environment: [
                ("AWS_REGION".to_owned(), "evil".to_owned()),
                ("MINE".to_owned(), "1".to_owned()),
            ]
            .into_iter()
            .collect(),
            concurrency: 10,
            instance_concurrency: 1,
            region: "eu-west-1".into(),
            revision: "r1".into(),
        }
    }

    #[test]
    fn reserved_variables_win_and_user_ones_pass() {
        let env: BTreeMap<_, _> =
            environment(&spec(), &RuntimeConfig::new("http://e"), "127.0.0.1:9", "s")
                .into_iter()
                .collect();
        assert_eq!(env["AWS_REGION"], "eu-west-1");
        assert_eq!(env["MINE"], "1");
        assert_eq!(env["AWS_LAMBDA_RUNTIME_API"], "127.0.0.1:9");
        assert_eq!(env["AWS_ENDPOINT_URL"], "http://e");
        assert_eq!(env["PYTHONPATH"], "/code");
        assert_eq!(env["AWS_EXECUTION_ENV"], "AWS_Lambda_python3.12");
        assert_eq!(reserved_in(spec().environment.keys()), ["AWS_REGION"]);
    }

    #[test]
    fn runtimes() {
        assert_eq!(
            RuntimeKind::parse("provided.al2023"),
            Some(RuntimeKind::Provided("provided.al2023".into()))
        );
        assert_eq!(RuntimeKind::parse("nodejs22.x"), None);
    }
}
