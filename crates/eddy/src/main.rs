//! The `eddy` binary: command-line parsing only. Everything it runs lives in the library crates.

/// Prints one line to stdout. When stdout is a closed pipe (`eddy rules | head -3`) the program
/// ends quietly, as Unix tools do, instead of panicking on the write.
macro_rules! say {
    ($($t:tt)*) => {
        $crate::print_line(format_args!($($t)*))
    };
}

/// mimalloc instead of glibc's allocator: see BENCHMARKS.md ("Allocator") for what it changes.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc's `mi_option_e` (the same index in its v2 and v3).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Makes mimalloc return freed memory to the system at once rather than after v3's default 1 s:
/// a burst of large request bodies (Lambda code uploads of tens of megabytes, read one after
/// another on different threads) then does not stack up in resident memory (8 concurrent 67 MB
/// uploads: 82-88 MiB above idle, against 90-107 MiB with a 10 ms delay and 140 MiB with 1 s).
/// PutEvents throughput is unchanged (BENCHMARKS.md, issue 14).
fn tune_allocator() {
    // SAFETY: `mi_option_set` only stores an integer option; it is safe to call at any time from
    // any thread, and the index names the purge delay in the mimalloc this crate links.
    #[allow(unsafe_code)]
    unsafe {
        libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0);
    }
}

mod apply_cmd;
mod cli;
mod data_dir;
mod init_cmd;
mod pattern_cmd;
mod validate_cmd;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

/// Event-driven web backends in one binary.
///
/// Environment: `EDDY_LOG` sets what the server logs (`info` by default; a level such as
/// `debug`, or `TARGET=LEVEL` directives such as `eddy_core=debug,info`); `NO_COLOR` turns colours off (logs are
/// plain whenever standard error is not a terminal). Most options also read an `EDDY_*`
/// variable, named in each command's `--help`.
#[derive(Debug, Parser)]
#[command(name = "eddy", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run eddy: the AWS-compatible endpoint and the HTTP routes listener.
    ///
    /// Example: `eddy serve --dev` then
    /// `aws --endpoint-url http://127.0.0.1:4566 events list-event-buses`
    Serve(Box<ServeArgs>),
    /// Test event patterns and benchmark the matcher.
    #[command(subcommand)]
    Pattern(pattern_cmd::PatternCommand),
    /// Apply an app manifest (`eddy.toml`) to a running eddy: creates, updates and deletes
    /// what changed since the last apply; a second apply of the same file changes nothing.
    ///
    /// Example: `eddy apply` (reads ./eddy.toml), `eddy apply app/eddy.toml --dry-run`
    Apply(apply_cmd::ApplyArgs),
    /// Put events on a bus (JSON arguments, or JSON lines on stdin).
    PutEvents(cli::events::PutEventsArgs),
    /// Publish messages to a topic (arguments, or one message per stdin line).
    Publish(cli::topics::PublishArgs),
    /// List topics with their subscriptions (protocol, endpoint, filter policy, pending).
    Topics(cli::topics::TopicsArgs),
    /// List buckets with their region, versioning and notifications (EventBridge, queues,
    /// topics, functions with their events and key filters).
    Buckets(cli::buckets::BucketsArgs),
    /// Invoke a function and print its response.
    Invoke(cli::functions::InvokeArgs),
    /// Print a function's logs (START/END/REPORT and its own output).
    Logs(cli::functions::LogsArgs),
    /// List a bus's rules with how many events each matched.
    Rules(cli::events::RulesArgs),
    /// Watch events on a bus.
    #[command(subcommand)]
    Events(EventsCommand),
    /// Send to and receive from queues.
    #[command(subcommand)]
    Queue(cli::queues::QueueCommand),
    /// Dead-letter queues.
    #[command(subcommand)]
    Dlq(cli::queues::DlqCommand),
    /// What the running eddy runs: buses, rules, queues with their depth, functions with their
    /// instances, topics, buckets, schedules with their next tick, HTTP APIs.
    Status(cli::status::StatusArgs),
    /// Functions.
    #[command(subcommand)]
    Functions(FunctionsCommand),
    /// Write a starter `eddy.toml` (an HTTP route, a rule, a queue and a Python function) in a
    /// directory.
    Init(init_cmd::InitArgs),
    /// Check an app manifest (`eddy.toml`) without a server.
    ///
    /// Prints `eddy.toml: ok (…)`, or each mistake as `file:line:column: message` and exits 1.
    /// Example: `eddy validate examples/orders/eddy.toml`
    Validate(validate_cmd::ValidateArgs),
}

#[derive(Debug, Subcommand)]
enum FunctionsCommand {
    /// List functions with their warm instances, running invocations and whether they can
    /// start (with the fix when they cannot).
    List(cli::status::StatusArgs),
}

#[derive(Debug, Subcommand)]
enum EventsCommand {
    /// Print every event put on a bus as it is committed, with the rules it matched.
    Tail(cli::events::TailArgs),
}

#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// eddy's own files (function code) and, unless `--store` names another, the embedded store.
    #[arg(long, env = "EDDY_DATA_DIR", default_value = ".eddy")]
    data_dir: PathBuf,
    /// The store: `sqlite:DIR` (the embedded store with its database in DIR; the default is the
    /// embedded store in `--data-dir`) or `postgres://USER@HOST/DATABASE` (a PostgreSQL database
    /// several eddy nodes share; see docs/cluster.md).
    #[arg(long, env = "EDDY_STORE", value_name = "URI")]
    store: Option<eddy_server::config::StoreUri>,
    /// This node's name among the nodes sharing a PostgreSQL store: unique and stable per node
    /// (its leases, heartbeats and metrics carry it). Default: the host name.
    #[arg(long, env = "EDDY_NODE", value_name = "NAME")]
    node: Option<String>,
    /// Address of the AWS-compatible endpoint (port 0 picks a free port).
    #[arg(long, env = "EDDY_AWS_LISTEN", default_value = "127.0.0.1:4566")]
    aws_listen: SocketAddr,
    /// Address of the HTTP routes listener (port 0 picks a free port).
    #[arg(long, env = "EDDY_HTTP_LISTEN", default_value = "127.0.0.1:3000")]
    http_listen: SocketAddr,
    /// The app manifest applied at start-up (default: `eddy.toml` when present).
    #[arg(long, env = "EDDY_CONFIG")]
    config: Option<PathBuf>,
    /// Re-apply the manifest when it changes, and restart a function's instances when its code
    /// changes.
    #[arg(long)]
    watch: bool,
    /// Let the manifest take over resources it declares that already exist but were made
    /// through the API (without it, eddy refuses to start rather than touch them).
    #[arg(long)]
    adopt: bool,
    /// Development mode: enables `POST /_eddy/reset` (and `/moto-api/reset`), which deletes
    /// everything in the store (the manifest's resources too: `eddy apply` makes them again),
    /// and `POST /_eddy/clock` (move eddy's clock forward, firing what falls due).
    #[arg(long, env = "EDDY_DEV")]
    dev: bool,
    /// Account id used in ARNs and event envelopes.
    #[arg(long, env = "EDDY_ACCOUNT_ID", default_value = "123456789012")]
    account_id: String,
    /// Region used when a request carries no SigV4 credential scope.
    #[arg(long, env = "EDDY_REGION", default_value = "us-east-1")]
    region: String,
    /// Largest total size of one PutEvents request's entries, in bytes.
    #[arg(long, default_value_t = 256 * 1024)]
    max_entries_size: usize,
    /// Largest event pattern, in characters (2048 like EventBridge; at most 4096).
    #[arg(long, default_value_t = 2048, value_parser = clap::value_parser!(u32).range(1..=4096))]
    max_pattern_len: u32,
    /// Instances one function may run at once, unless PutFunctionConcurrency reserves another
    /// number.
    #[arg(long, env = "EDDY_FUNCTION_CONCURRENCY", default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=10000))]
    function_concurrency: u32,
    /// The Python interpreter `python3.x` functions run under (it must have `awslambdaric`):
    /// `PATH` for every version, or `3.12=PATH` for one; repeatable. Without one for a
    /// version, `python3.X` on PATH runs runtime `python3.X`, else `python3`.
    #[arg(long, env = "EDDY_PYTHON", value_name = "[3.X=]PATH")]
    python: Vec<String>,
    /// Seconds an unused function instance stays warm.
    #[arg(long, env = "EDDY_FUNCTION_IDLE_SECS", default_value_t = 600)]
    function_idle_secs: u64,
    /// The user function processes run as: `auto` (as root, each function its own user id from
    /// 2000000000-2000065535), `current`, `UID` or `UID:GID` (one user for all functions).
    #[arg(long, env = "EDDY_FUNCTION_USER", default_value = "auto")]
    function_user: eddy_server::config::FunctionUser,
    /// A web origin (`http://localhost:5173`) whose pages may call the AWS endpoint; repeatable.
    /// Requests from any other web page are refused.
    #[arg(long = "allow-origin", value_name = "ORIGIN")]
    allow_origins: Vec<String>,
    /// A host name clients use to reach the AWS endpoint besides loopback names and addresses
    /// (`eddy.internal`, or `.internal` for every name under it); repeatable. Requests naming any
    /// other host are refused (DNS rebinding).
    #[arg(long = "allow-host", value_name = "NAME")]
    allow_hosts: Vec<String>,
    /// Let `--aws-listen` bind an address other machines can reach, although eddy does not
    /// authenticate requests yet: anyone who reaches it controls eddy and runs code as its
    /// function user.
    #[arg(long)]
    allow_unauthenticated_remote: bool,
    /// Connections each listener serves at once (more wait to be accepted).
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    max_connections: u32,
    /// Seconds a client may take to send a request's headers.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    header_timeout_secs: u64,
    /// Seconds a client may take to send a request's body.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86400))]
    body_timeout_secs: u64,
    /// Seconds a kept-alive connection may wait for its next request.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86400))]
    idle_timeout_secs: u64,
    /// A directory under which API requests may name code directories (`S3Bucket=hot-reload`)
    /// and JWKS files; repeatable. The manifest's directory (the working directory when there
    /// is no `--config`) is one unless it is `/`.
    #[arg(long = "code-root", value_name = "DIR")]
    code_roots: Vec<PathBuf>,
    /// An address range JWT authorizers may fetch keys from although it is link-local or a
    /// cloud metadata address (refused by default); repeatable.
    #[arg(long = "allow-fetch", value_name = "CIDR")]
    allow_fetch: Vec<String>,
    /// MiB of memory large request bodies in flight may hold together (more wait their turn).
    #[arg(long, default_value_t = 80, value_parser = clap::value_parser!(u64).range(80..=65536))]
    max_body_memory_mb: u64,
    /// Days a function's log group (`/aws/lambda/NAME`) keeps log events when it has no
    /// retention policy of its own (`PutRetentionPolicy` wins); 0 keeps them forever.
    #[arg(long, env = "EDDY_FUNCTION_LOG_RETENTION_DAYS", default_value_t = eddy_server::config::DEFAULT_FUNCTION_LOG_RETENTION_DAYS, value_parser = clap::value_parser!(u32).range(0..=3653))]
    function_log_retention_days: u32,
    /// Milliseconds a delivery's lease lasts between renewals (tests shorten it to show that
    /// long work is renewed, not repeated).
    #[arg(long, hide = true, default_value_t = eddy_server::delivery::lease::LEASE_MS, value_parser = clap::value_parser!(i64).range(300..=3_600_000))]
    lease_ms: i64,
    /// How long the event log keeps events that nothing needs any more (no pending delivery, no
    /// dead letter, no archive covering them): a number with a unit, `90s`, `5m`, `24h`, `7d`;
    /// `0` keeps them for ever.
    #[arg(long, default_value = "24h", value_parser = parse_retention)]
    event_retention: Retention,
    /// Days dead letters are kept unless redriven; 0 keeps them for ever.
    #[arg(long, default_value_t = 14, value_parser = clap::value_parser!(u64).range(0..=36_500))]
    dead_letter_retention_days: u64,
}

/// A retention period in milliseconds; `None` keeps for ever.
#[derive(Debug, Clone, Copy)]
struct Retention(Option<i64>);

/// `90s`, `5m`, `24h`, `7d` (at least one second, at most 100 years), or `0` (for ever).
fn parse_retention(s: &str) -> Result<Retention, String> {
    if s == "0" {
        return Ok(Retention(None));
    }
    let unit_at = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(unit_at);
    let n: i64 = n
        .parse()
        .map_err(|_| format!("`{s}` is not a duration like `90s`, `5m`, `24h`, `7d` or `0`"))?;
    let ms = match unit {
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => {
            return Err(format!(
                "`{s}` needs a unit: `s`, `m`, `h` or `d` (or `0` for ever)"
            ));
        }
    };
    match n.checked_mul(ms) {
        Some(total) if n > 0 && total <= 100 * 365 * 86_400_000 => Ok(Retention(Some(total))),
        _ => Err(format!(
            "`{s}` must be between 1s and 100 years (or `0` for ever)"
        )),
    }
}

/// See [`say!`].
pub(crate) fn print_line(args: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if writeln!(out, "{args}").is_err() {
        std::process::exit(0);
    }
}

fn main() -> ExitCode {
    tune_allocator();
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => match serve(*args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("eddy: {e:#}");
                ExitCode::FAILURE
            }
        },
        Command::Pattern(cmd) => pattern_cmd::run(cmd),
        Command::Apply(args) => apply_cmd::run(args),
        Command::PutEvents(args) => cli::events::put_events(args),
        Command::Publish(args) => cli::topics::publish(args),
        Command::Topics(args) => cli::topics::topics(args),
        Command::Buckets(args) => cli::buckets::buckets(args),
        Command::Invoke(args) => cli::functions::invoke(args),
        Command::Logs(args) => cli::functions::logs(args),
        Command::Rules(args) => cli::events::rules(args),
        Command::Events(EventsCommand::Tail(args)) => cli::events::tail(args),
        Command::Queue(cmd) => cli::queues::run(cmd),
        Command::Dlq(cmd) => cli::queues::dlq(cmd),
        Command::Validate(args) => validate_cmd::run(args),
        Command::Status(args) => cli::status::run(args, cli::status::Part::All),
        Command::Functions(FunctionsCommand::List(args)) => {
            cli::status::run(args, cli::status::Part::Functions)
        }
        Command::Init(args) => init_cmd::run(args),
    }
}

/// Whether log lines may carry ANSI colours: only on a terminal, and never with `NO_COLOR` set
/// (<https://no-color.org>).
fn colour_logs() -> bool {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let default = || tracing_subscriber::filter::Targets::new().with_default(tracing::Level::INFO);
    let filter = match std::env::var("EDDY_LOG") {
        Ok(directives) => directives.parse().unwrap_or_else(|e| {
            eprintln!(
                "eddy: EDDY_LOG=`{directives}` ignored ({e}); it takes `LEVEL` or `TARGET=LEVEL,…`"
            );
            default()
        }),
        Err(_) => default(),
    };
    tracing_subscriber::fmt()
        .with_ansi(colour_logs())
        .with_writer(std::io::stderr)
        .with_max_level(tracing::Level::TRACE)
        .finish()
        .with(filter)
        .init();
    let manifest = match &args.config {
        Some(path) => {
            anyhow::ensure!(
                path.exists(),
                "config file {} does not exist",
                path.display()
            );
            Some(path.clone())
        }
        None => {
            let default = PathBuf::from("eddy.toml");
            default.exists().then_some(default)
        }
    };
    // Absolute, so that the start-up line says which manifest was applied.
    let manifest = manifest.map(|m| std::fs::canonicalize(&m).unwrap_or(m));
    let mut pythons = eddy_server::config::Pythons::default();
    for p in &args.python {
        pythons
            .add(p)
            .map_err(|e| anyhow::anyhow!("--python {e}"))?;
    }
    let exposed = exposure(&args)?;
    let code_roots = code_roots(&args, manifest.as_deref())?;
    let egress = eddy_server::egress::Egress::new(args.allow_fetch.clone())
        .map_err(|e| anyhow::anyhow!("--allow-fetch: {e}"))?;
    let boundary = eddy_net::Boundary::new(args.allow_origins.clone(), args.allow_hosts.clone())
        .map_err(|e| anyhow::anyhow!("--allow-origin/--allow-host: {e}"))?;
    // Taken once the arguments are known to be good, and held until the process ends: a second
    // `eddy serve` on this data directory refuses to start.
    let _data_dir_lock = data_dir::lock(&args.data_dir)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let aws = tokio::net::TcpListener::bind(args.aws_listen)
            .await
            .map_err(|e| {
                anyhow::anyhow!("cannot listen on {} (--aws-listen): {e}", args.aws_listen)
            })?;
        let http = tokio::net::TcpListener::bind(args.http_listen)
            .await
            .map_err(|e| {
                anyhow::anyhow!("cannot listen on {} (--http-listen): {e}", args.http_listen)
            })?;
        let listeners = eddy_server::Listeners { aws, http };
        let (aws_addr, http_addr) = listeners.addrs()?;
        let mut config = eddy_server::ServerConfig::new(args.data_dir);
        config.store = args.store;
        if let Some(node) = args.node {
            config.node = node;
        }
        config.dev = args.dev;
        config.account_id = args.account_id;
        config.default_region = args.region;
        config.max_entries_size = args.max_entries_size;
        config.max_pattern_len = args.max_pattern_len as usize;
        config.aws_endpoint = Some(format!("http://{aws_addr}"));
        config.http_endpoint = Some(format!("http://{http_addr}"));
        config.function_concurrency = args.function_concurrency;
        config.pythons = pythons;
        config.function_idle_secs = args.function_idle_secs;
        config.function_user = args.function_user;
        config.boundary = std::sync::Arc::new(boundary);
        config.limits = eddy_net::Limits {
            max_connections: args.max_connections as usize,
            header_timeout: Duration::from_secs(args.header_timeout_secs),
            body_timeout: Duration::from_secs(args.body_timeout_secs),
            idle_timeout: Duration::from_secs(args.idle_timeout_secs),
            ..eddy_net::Limits::default()
        };
        config.max_body_memory = (args.max_body_memory_mb as usize) * 1024 * 1024;
        config.lease_ms = args.lease_ms;
        config.event_retention_ms = args.event_retention.0;
        config.dead_letter_retention_ms = (args.dead_letter_retention_days > 0)
            .then(|| args.dead_letter_retention_days as i64 * 86_400_000);
        config.function_log_retention_days =
            (args.function_log_retention_days > 0).then_some(args.function_log_retention_days);
        config.code_roots = code_roots;
        config.egress = egress;
        if let Some(warning) = &exposed {
            tracing::warn!("{warning}");
        }
        config.exposed = exposed;
        let app = eddy_server::App::open(config).await?;
        if let Some(file) = &manifest {
            match apply_cmd::apply_local(&app, file, args.adopt).await {
                Ok(summary) => eprintln!("{summary}"),
                Err(e) => anyhow::bail!("{e}"),
            }
            if args.watch {
                apply_cmd::watch(app.clone(), file.clone());
            }
        }
        println!("eddy ready aws=http://{aws_addr} http=http://{http_addr}");
        eddy_server::serve(app, listeners, shutdown_signal()).await
    })
}

/// The code roots: `--code-root` directories and the manifest's directory (the working
/// directory without `--config`), except `/`, which would allow every path.
fn code_roots(
    args: &ServeArgs,
    manifest: Option<&std::path::Path>,
) -> anyhow::Result<eddy_server::config::CodeRoots> {
    let mut dirs = args.code_roots.clone();
    let home = match manifest.and_then(std::path::Path::parent) {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => std::env::current_dir()?,
    };
    match std::fs::canonicalize(&home) {
        Ok(h) if h.parent().is_none() => tracing::warn!(
            "the working directory `/` is not made a code root (it would allow every path); \
             pass --code-root DIR for function code directories"
        ),
        Ok(h) => dirs.push(h),
        Err(_) => {}
    }
    eddy_server::config::CodeRoots::new(dirs).map_err(|e| anyhow::anyhow!("--code-root: {e}"))
}

/// Refuses a non-loopback `--aws-listen` unless the operator said they accept that it is
/// unauthenticated; then the warning `/_eddy/health` and the log repeat.
fn exposure(args: &ServeArgs) -> anyhow::Result<Option<String>> {
    let ip = args.aws_listen.ip();
    if ip.is_loopback() {
        return Ok(None);
    }
    anyhow::ensure!(
        args.allow_unauthenticated_remote,
        "--aws-listen {} is reachable from other machines, and eddy does not authenticate \
         requests yet: whoever reaches it can run code on this machine. Listen on a loopback \
         address (127.0.0.1), or pass --allow-unauthenticated-remote if this network is trusted",
        args.aws_listen
    );
    Ok(Some(format!(
        "the AWS endpoint listens on {} without authentication (--allow-unauthenticated-remote): \
         anyone who can reach it controls eddy",
        args.aws_listen
    )))
}

/// Completes on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _failed = tokio::signal::ctrl_c().await.is_err();
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down");
}
