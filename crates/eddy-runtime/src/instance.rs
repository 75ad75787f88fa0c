//! One function instance: a process started from the function's code with its own Runtime API
//! listener, a task that waits for it to exit (and fails the invocation it was running), a
//! memory watchdog (MemorySize is enforced on the process's resident set), and the readers
//! that turn its stdout and stderr into log lines.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use tokio::io::AsyncRead;
use tokio::net::TcpListener;
use tokio::process::Command;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::logs::{Intake, LineReader, LogLine, LogSink, Tail, Watched};
use crate::spec::{FunctionSpec, RuntimeConfig, RuntimeKind, environment};

/// An invocation handed to an instance, waiting for its `/next`.
pub(crate) struct Pending {
    pub id: String,
    pub payload: Bytes,
    pub invoked_arn: String,
    pub trace_id: String,
    pub client_context: Option<String>,
    pub cognito_identity: Option<String>,
    pub timeout: Duration,
    /// Told when the runtime picked the invocation up.
    pub picked: Option<oneshot::Sender<Instant>>,
}

/// How an invocation ended on an instance.
#[derive(Debug)]
pub(crate) enum Reply {
    /// The runtime's response body.
    Response(Bytes),
    /// The runtime reported a function error (body = the error JSON).
    Error(Bytes),
    /// eddy ended the invocation (timeout, crash, init failure): the error JSON, and whether
    /// the instance can keep serving.
    Failed { payload: Bytes, reusable: bool },
}

impl Reply {
    pub fn failed(kind: &str, message: String, reusable: bool) -> Self {
        let value = serde_json::json!({"errorType": kind, "errorMessage": message});
        Self::Failed {
            payload: Bytes::from(value.to_string()),
            reusable,
        }
    }
}

struct Running {
    id: String,
    reply: oneshot::Sender<Reply>,
}

/// State shared by the instance's owner, its Runtime API handlers and its monitor.
pub(crate) struct Shared {
    pub spec: Arc<FunctionSpec>,
    pub next_rx: tokio::sync::Mutex<mpsc::Receiver<Pending>>,
    /// The invocations handed to the process and not yet answered (at most the spec's
    /// `instance_concurrency`).
    running: Mutex<Vec<Running>>,
    init_error: Mutex<Option<Bytes>>,
    pub tail: Mutex<Tail>,
    ready_at: OnceLock<Instant>,
    exited: AtomicBool,
    out_of_memory: AtomicBool,
    /// The largest resident set the watchdog saw, in kB (the REPORT line's Max Memory Used).
    peak_kb: std::sync::atomic::AtomicU64,
    stream: String,
    sink: Arc<dyn LogSink>,
    /// The process's stdout and stderr: a duplicate of each pipe's read end (to count the bytes
    /// not read yet) and its reader's intake.
    outputs: Mutex<Vec<(std::os::fd::OwnedFd, Arc<Intake>)>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    pub fn mark_ready(&self, at: Instant) {
        let _already = self.ready_at.set(at).is_err();
    }

    pub fn is_running(&self, id: &str) -> bool {
        lock(&self.running).iter().any(|r| r.id == id)
    }

    /// Ends the running invocation `id` with `reply`; false when `id` is not running.
    pub fn finish(&self, id: &str, reply: Reply) -> bool {
        let taken = {
            let mut running = lock(&self.running);
            running
                .iter()
                .position(|r| r.id == id)
                .map(|i| running.swap_remove(i))
        };
        match taken {
            Some(r) => {
                let _gone = r.reply.send(reply).is_err();
                true
            }
            None => false,
        }
    }

    /// Forgets the running invocation `id` (its caller gave up on it), so the Runtime API and
    /// the exit monitor no longer answer it.
    pub fn abandon(&self, id: &str) {
        lock(&self.running).retain(|r| r.id != id);
    }

    pub fn set_init_error(&self, payload: Bytes) {
        *lock(&self.init_error) = Some(payload);
    }

    /// Waits (at most [`SETTLE_OUTPUT`]) until everything the process wrote to stdout and stderr
    /// so far is logged: called when an invocation ends, so that the lines it printed come
    /// before its `END` line and are in its tail (the runtime writes them before it posts the
    /// response, but their reader may not have run yet).
    pub async fn settle_output(&self) {
        let start = Instant::now();
        loop {
            let pending = lock(&self.outputs).iter().any(|(fd, intake)| {
                // The pipe first, then the reader: bytes a read took after the count were
                // marked held before it.
                rustix::io::ioctl_fionread(fd).unwrap_or(0) > 0 || intake.holding()
            });
            if !pending || start.elapsed() >= SETTLE_OUTPUT {
                return;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// Writes one log line of this instance (to the sink and the invocation's tail).
    pub fn log(&self, message: &str) {
        lock(&self.tail).push(message);
        self.sink.write(LogLine {
            region: self.spec.region.clone(),
            group: self.spec.log_group(),
            stream: self.stream.clone(),
            time_ms: crate::epoch_ms(),
            message: message.to_owned(),
        });
    }

    /// The process is gone: fails whatever it was running.
    fn exited(&self, how: String) {
        self.exited.store(true, Ordering::Release);
        let running = std::mem::take(&mut *lock(&self.running));
        let init = lock(&self.init_error).take();
        for r in running {
            self.fail_exited(r, &how, init.clone());
        }
    }

    fn fail_exited(&self, r: Running, how: &str, init: Option<Bytes>) {
        let reply = if let Some(init) = init {
            Reply::Failed {
                payload: init,
                reusable: false,
            }
        } else if self.out_of_memory.load(Ordering::Acquire) {
            Reply::failed(
                "Runtime.OutOfMemory",
                format!(
                    "RequestId: {} Error: Runtime exited with error: {how}",
                    r.id
                ),
                false,
            )
        } else {
            Reply::failed(
                "Runtime.ExitError",
                format!(
                    "RequestId: {} Error: Runtime exited with error: {how}",
                    r.id
                ),
                false,
            )
        };
        self.log(&format!(
            "RequestId: {} Error: Runtime exited with error: {how}",
            r.id
        ));
        let _gone = r.reply.send(reply).is_err();
    }
}

/// A running instance, owned by its function's pool. Dropping it kills the process.
pub(crate) struct Instance {
    shared: Arc<Shared>,
    next_tx: mpsc::Sender<Pending>,
    pid: Option<u32>,
    tasks: Vec<JoinHandle<()>>,
    spawned_at: Instant,
    /// Reported once, on the first invocation's `REPORT` line.
    init_reported: AtomicBool,
    last_used: Mutex<Instant>,
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.kill();
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Why an instance could not start.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SpawnError {
    #[error("{0}")]
    Entrypoint(String),
    #[error("cannot listen for the Runtime API: {0}")]
    Listen(std::io::Error),
    #[error("cannot start {program}: {source}")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
    #[error(
        "cannot start {program} as user {uid}: {source}; make the program and the code \
         directory readable (and their directories searchable) by that user, or start eddy with \
         `--function-user current`"
    )]
    SpawnAs {
        program: String,
        uid: u32,
        source: std::io::Error,
    },
}

impl SpawnError {
    pub fn reply(&self) -> Reply {
        match self {
            Self::Entrypoint(m) => Reply::failed("Runtime.InvalidEntrypoint", m.clone(), false),
            other => Reply::failed("Runtime.Unavailable", other.to_string(), false),
        }
    }
}

impl Instance {
    /// Starts an instance of `spec` as `run_as` (user and group id; eddy's own user when
    /// `None`), without waiting: the pool holds its lock across this.
    pub fn spawn(
        spec: Arc<FunctionSpec>,
        config: &RuntimeConfig,
        sink: Arc<dyn LogSink>,
        run_as: Option<(u32, u32)>,
    ) -> Result<Self, SpawnError> {
        let (program, args) = match &spec.runtime {
            RuntimeKind::Provided(_) => {
                let bootstrap = bootstrap(&spec.code_dir).map_err(SpawnError::Entrypoint)?;
                (bootstrap.display().to_string(), vec![])
            }
            RuntimeKind::Python(runtime) => (
                config
                    .pythons
                    .for_runtime(runtime, &config.path)
                    .display()
                    .to_string(),
                vec![
                    "-m".to_owned(),
                    "awslambdaric".to_owned(),
                    spec.handler.clone(),
                ],
            ),
        };
        let listener = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.set_nonblocking(true).map(|()| l))
            .and_then(TcpListener::from_std)
            .map_err(SpawnError::Listen)?;
        let addr = listener.local_addr().map_err(SpawnError::Listen)?;
        let stream = log_stream_name(&spec.version);
        let slots = spec.instance_concurrency.max(1) as usize;
        let (next_tx, next_rx) = mpsc::channel(slots);
        let shared = Arc::new(Shared {
            spec: spec.clone(),
            next_rx: tokio::sync::Mutex::new(next_rx),
            running: Mutex::new(Vec::with_capacity(slots)),
            init_error: Mutex::new(None),
            tail: Mutex::new(Tail::default()),
            ready_at: OnceLock::new(),
            exited: AtomicBool::new(false),
            out_of_memory: AtomicBool::new(false),
            peak_kb: std::sync::atomic::AtomicU64::new(0),
            stream: stream.clone(),
            sink,
            outputs: Mutex::new(Vec::with_capacity(2)),
        });
        let mut tasks = Vec::with_capacity(4);
        let router = crate::api::router(shared.clone());
        tasks.push(tokio::spawn(async move {
            let served = eddy_net::serve(
                listener,
                router,
                crate::api::limits(),
                std::future::pending(),
            );
            if let Err(e) = served.await {
                tracing::warn!(error = %e, "Runtime API listener failed");
            }
        }));
        let mut cmd = Command::new(&program);
        cmd.args(&args)
            .env_clear()
            .envs(environment(&spec, config, &addr.to_string(), &stream))
            .current_dir(&spec.code_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .process_group(0);
        if let Some((uid, gid)) = run_as {
            cmd.uid(uid).gid(gid);
        }
        limit_resources(&mut cmd);
        let spawned_at = Instant::now();
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(source) => {
                for t in &tasks {
                    t.abort();
                }
                return Err(match run_as {
                    Some((uid, _)) if source.kind() == std::io::ErrorKind::PermissionDenied => {
                        SpawnError::SpawnAs {
                            program,
                            uid,
                            source,
                        }
                    }
                    _ => SpawnError::Spawn { program, source },
                });
            }
        };
        let pid = child.id();
        if let Some(out) = child.stdout.take() {
            tasks.push(tokio::spawn(read_lines(
                watch_output(&shared, out),
                shared.clone(),
            )));
        }
        if let Some(err) = child.stderr.take() {
            tasks.push(tokio::spawn(read_lines(
                watch_output(&shared, err),
                shared.clone(),
            )));
        }
        let monitor = shared.clone();
        let limit_kb = u64::from(spec.memory_mb) * 1024;
        tasks.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            let status = loop {
                tokio::select! {
                    status = child.wait() => break status,
                    _ = tick.tick() => {
                        // VmHWM: the peak resident set since the process started.
                        if let Some(pid) = pid
                            && let Some(kb) = rss_kb(pid, "VmHWM:")
                        {
                            monitor.peak_kb.fetch_max(kb, Ordering::Relaxed);
                            if kb > limit_kb {
                                monitor.out_of_memory.store(true, Ordering::Release);
                                kill_group(pid);
                            }
                        }
                    }
                }
            };
            let how = match status {
                Ok(s) => describe_exit(s),
                Err(e) => format!("wait failed: {e}"),
            };
            monitor.exited(how);
        }));
        Ok(Self {
            shared,
            next_tx,
            pid,
            tasks,
            spawned_at,
            init_reported: AtomicBool::new(false),
            last_used: Mutex::new(Instant::now()),
        })
    }

    /// When the instance last finished an invocation (or started).
    pub fn last_used(&self) -> Instant {
        *lock(&self.last_used)
    }

    pub fn is_alive(&self) -> bool {
        !self.shared.exited.load(Ordering::Acquire)
    }

    pub fn revision(&self) -> &str {
        &self.shared.spec.revision
    }

    pub fn kill(&self) {
        if let Some(pid) = self.pid
            && self.is_alive()
        {
            kill_group(pid);
        }
    }

    /// Runs one invocation; returns how it ended, the log tail, and the time spent.
    pub async fn invoke(
        &self,
        mut pending: Pending,
        init_timeout: Duration,
        want_tail: bool,
    ) -> (Reply, String, Duration) {
        let id = pending.id.clone();
        let timeout = pending.timeout;
        let (reply_tx, mut reply_rx) = oneshot::channel();
        let (picked_tx, picked_rx) = oneshot::channel();
        pending.picked = Some(picked_tx);
        lock(&self.shared.running).push(Running {
            id: id.clone(),
            reply: reply_tx,
        });
        if !self.is_alive() {
            self.shared
                .exited("the process had already exited".to_owned());
        }
        let start = Instant::now();
        if self.next_tx.send(pending).await.is_err() {
            return (
                Reply::failed("Runtime.Unavailable", "instance closed".into(), false),
                String::new(),
                start.elapsed(),
            );
        }
        // Phase one: the runtime starts (cold) or is already polling (warm).
        let picked_at = tokio::select! {
            r = &mut reply_rx => {
                let reply = r.unwrap_or_else(|_| Reply::failed("Runtime.Unavailable", "instance closed".into(), false));
                return (reply, self.take_tail(&id, start.elapsed(), want_tail).await, start.elapsed());
            }
            p = tokio::time::timeout(init_timeout, picked_rx) => match p {
                Ok(Ok(at)) => at,
                _ => {
                    self.kill();
                    let reply = Reply::failed(
                        "Runtime.InitTimeout",
                        format!("RequestId: {id} Error: Runtime failed to start within {:.2} seconds", init_timeout.as_secs_f64()),
                        false,
                    );
                    self.shared.abandon(&id);
                    return (reply, self.take_tail(&id, start.elapsed(), want_tail).await, start.elapsed());
                }
            },
        };
        // Phase two: the handler runs, bounded by the function's timeout.
        let reply = match tokio::time::timeout(timeout, &mut reply_rx).await {
            Ok(Ok(r)) => r,
            Ok(Err(_)) => Reply::failed("Runtime.Unavailable", "instance closed".into(), false),
            Err(_) => {
                self.kill();
                self.shared.abandon(&id);
                let message = format!(
                    "RequestId: {id} Error: Task timed out after {:.2} seconds",
                    timeout.as_secs_f64()
                );
                self.shared.log(&format!("{} {message}", crate::iso_now()));
                Reply::failed("Sandbox.Timedout", message, false)
            }
        };
        let took = picked_at.elapsed();
        *lock(&self.last_used) = Instant::now();
        (reply, self.take_tail(&id, took, want_tail).await, took)
    }

    /// Writes `END` and `REPORT` and returns the invocation's log tail (empty unless wanted).
    async fn take_tail(&self, id: &str, took: Duration, want_tail: bool) -> String {
        self.shared.settle_output().await;
        let init = if self.init_reported.swap(true, Ordering::Relaxed) {
            None
        } else {
            self.shared
                .ready_at
                .get()
                .map(|r| r.duration_since(self.spawned_at))
        };
        // Sampled by the watchdog (every 100 ms) rather than read per invocation.
        let max_mb = self.shared.peak_kb.load(Ordering::Relaxed).div_ceil(1024);
        self.shared.log(&crate::logs::end_line(id));
        self.shared.log(&crate::logs::report_line(
            id,
            took,
            self.shared.spec.memory_mb,
            max_mb,
            init,
        ));
        if want_tail {
            lock(&self.shared.tail).text()
        } else {
            String::new()
        }
    }
}

/// How long an ending invocation waits at most for the lines its process printed to be logged.
const SETTLE_OUTPUT: Duration = Duration::from_millis(200);

/// Registers an output pipe with [`Shared::settle_output`] and wraps it to report its intake.
fn watch_output<R: AsyncRead + Unpin + std::os::fd::AsFd>(
    shared: &Shared,
    pipe: R,
) -> (Watched<R>, Arc<Intake>) {
    let intake = Arc::new(Intake::default());
    match rustix::io::dup(pipe.as_fd()) {
        Ok(fd) => lock(&shared.outputs).push((fd, intake.clone())),
        Err(e) => tracing::debug!(error = %e, "cannot watch an output pipe"),
    }
    (Watched::new(pipe, intake.clone()), intake)
}

/// Logs every line the process writes to `out` until it closes it (see [`crate::logs`]).
async fn read_lines<R: AsyncRead + Unpin>(
    (out, intake): (Watched<R>, Arc<Intake>),
    shared: Arc<Shared>,
) {
    let mut lines = LineReader::new(out);
    while let Some(line) = lines.next_line().await {
        shared.log(&line);
        if lines.idle() {
            intake.logged();
        }
    }
    intake.logged();
}

/// A `provided` function's entry point: the executable `bootstrap` at the root of its code, or
/// Lambda's words for its absence.
pub(crate) fn bootstrap(code_dir: &Path) -> Result<PathBuf, String> {
    let bootstrap = code_dir.join("bootstrap");
    if is_executable(&bootstrap) {
        Ok(bootstrap)
    } else {
        Err(format!(
            "Couldn't find valid bootstrap(s): [{}]",
            bootstrap.display()
        ))
    }
}

pub(crate) fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// A Lambda-style log stream name: `YYYY/MM/DD/[VERSION]<32 hex>`.
fn log_stream_name(version: &str) -> String {
    let day = crate::iso_now();
    let day = day.get(..10).unwrap_or("1970-01-01").replace('-', "/");
    format!("{day}/[{version}]{}", uuid::Uuid::new_v4().simple())
}

/// A `/proc/PID/status` memory field in kB.
fn rss_kb(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line[field.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// Lambda's per-instance limits, set in the child between fork and exec: 1,024 open files, no
/// core dumps. The child is also killed when eddy dies (even by SIGKILL), so no instance
/// outlives the server that owns it.
#[allow(unsafe_code)]
fn limit_resources(cmd: &mut Command) {
    use rustix::process::{Resource, Rlimit, Signal, setrlimit};
    let eddy = rustix::process::getpid();
    // SAFETY: the closure runs in the forked child before exec. It only makes system calls
    // (setrlimit, prctl, getppid: async-signal-safe), allocates nothing and takes no locks.
    // Lowering limits needs no privilege, so it works after the child switched to an
    // unprivileged user; std applies the user switch before this closure, so the death signal
    // set here survives it.
    unsafe {
        cmd.pre_exec(move || {
            rustix::process::set_parent_process_death_signal(Some(Signal::KILL))
                .map_err(std::io::Error::from)?;
            // eddy died between the fork and the prctl: the signal will never come.
            if rustix::process::getppid() != Some(eddy) {
                return Err(std::io::Error::other("eddy exited"));
            }
            for (resource, n) in [(Resource::Nofile, 1024), (Resource::Core, 0)] {
                let limit = Rlimit {
                    current: Some(n),
                    maximum: Some(n),
                };
                setrlimit(resource, limit).map_err(std::io::Error::from)?;
            }
            Ok(())
        });
    }
}

fn kill_group(pid: u32) {
    if let Some(pid) = rustix::process::Pid::from_raw(pid as i32) {
        let _gone =
            rustix::process::kill_process_group(pid, rustix::process::Signal::KILL).is_err();
    }
}

fn describe_exit(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(9)) => "signal: killed".to_owned(),
        (None, Some(sig)) => format!("signal: {sig}"),
        (None, None) => "exited".to_owned(),
    }
}
