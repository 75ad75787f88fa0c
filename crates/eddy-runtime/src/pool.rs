//! The warm pool of one function: idle instances are reused (most recently used first), new
//! ones start on demand up to the function's concurrency, instances of an older revision are
//! drained, and idle ones are reaped after the configured time.
//!
//! The pool hands out slots: an instance has `instance_concurrency` of them (1 for classic
//! Lambda, more for a function configured like a Lambda Managed Instance), and a free slot of a
//! running instance is used before a new instance starts.
//!
//! A pool runs its instances as one user for its whole life ([`RunAs`]); with
//! [`FunctionUsers::PerFunction`] that is an id leased from [`Ids`] when the function is
//! deployed and given back only when the pool is dropped, that is once no instance of it can be
//! running. Before the first instance of a revision with private code starts, the pool gives
//! that user access to the code ([`crate::code::grant`], on a blocking thread).

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use tokio::sync::Semaphore;

use crate::instance::{Instance, Pending, Reply};
use crate::logs::LogSink;
use crate::python::Readiness;
use crate::spec::{FUNCTION_IDS, FunctionSpec, FunctionUsers, RuntimeConfig, RuntimeKind};

/// The ids of [`FUNCTION_IDS`] leased to deployed functions.
#[derive(Default)]
pub(crate) struct Ids(Mutex<HashSet<u32>>);

/// One function's id, given back when dropped.
pub(crate) struct IdLease {
    id: u32,
    ids: Arc<Ids>,
}

impl Drop for IdLease {
    fn drop(&mut self) {
        lock(&self.ids.0).remove(&self.id);
    }
}

impl Ids {
    /// A free id for the function `key`: the same one as last time when it is free (the
    /// search starts at a hash of the key), else the next free one; `None` when all are taken.
    pub fn lease(self: &Arc<Self>, key: &str) -> Option<IdLease> {
        let first = *FUNCTION_IDS.start();
        let count = u64::from(FUNCTION_IDS.end() - first) + 1;
        // FNV-1a: stable across runs and builds, unlike std's hasher.
        let hash = key.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        let mut used = lock(&self.0);
        (0..count)
            .map(|i| first + ((hash + i) % count) as u32)
            .find(|id| used.insert(*id))
            .map(|id| IdLease {
                id,
                ids: self.clone(),
            })
    }

    #[cfg(test)]
    fn in_use(&self) -> usize {
        lock(&self.0).len()
    }
}

/// The user a pool's instances run as.
pub(crate) enum RunAs {
    /// eddy's own user.
    Eddy,
    /// This user and group id (the lease, when the function has its own id).
    User {
        uid: u32,
        gid: u32,
        _lease: Option<IdLease>,
    },
    /// The function should have its own id, and every one is taken.
    NoFreeId,
}

impl RunAs {
    /// How a function deployed under the key `key` runs.
    pub fn for_function(users: FunctionUsers, ids: &Arc<Ids>, key: &str) -> Self {
        match users {
            FunctionUsers::Current => Self::Eddy,
            FunctionUsers::Shared { uid, gid } => Self::User {
                uid,
                gid,
                _lease: None,
            },
            FunctionUsers::PerFunction => match ids.lease(key) {
                Some(lease) => Self::User {
                    uid: lease.id,
                    gid: lease.id,
                    _lease: Some(lease),
                },
                None => Self::NoFreeId,
            },
        }
    }

    fn ids(&self) -> Option<(u32, u32)> {
        match self {
            Self::User { uid, gid, .. } => Some((*uid, *gid)),
            Self::Eddy | Self::NoFreeId => None,
        }
    }
}

/// One invocation as a caller asks for it.
#[derive(Debug, Clone, Default)]
pub struct Invocation {
    pub payload: Bytes,
    /// The ARN the caller used (with its qualifier); the unqualified ARN when empty.
    pub invoked_arn: String,
    pub client_context: Option<String>,
    pub cognito_identity: Option<String>,
    /// The request id; a new uuid when empty.
    pub request_id: String,
    /// Whether the caller wants the log tail (`LogType: Tail`); [`Outcome::log_tail`] is empty
    /// otherwise.
    pub tail: bool,
}

/// How an invocation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub request_id: String,
    /// The response body, or the error JSON when `function_error` is set.
    pub payload: Bytes,
    /// `Unhandled` when the function failed (AWS's `X-Amz-Function-Error`).
    pub function_error: Option<&'static str>,
    /// The last 4 KB of the invocation's log output, when [`Invocation::tail`] asked for it.
    pub log_tail: String,
    /// Whether a new instance was started for this invocation.
    pub cold: bool,
}

/// Why an invocation was not run at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvokeError {
    /// Every instance the function may have is busy.
    #[error("Rate Exceeded.")]
    TooManyRequests,
}

pub struct Pool {
    spec: Mutex<Arc<FunctionSpec>>,
    permits: Mutex<Arc<Semaphore>>,
    /// Free slots, one entry per slot (an instance with two free slots is here twice); the
    /// most recently used last.
    idle: Mutex<Vec<Arc<Instance>>>,
    config: Arc<RuntimeConfig>,
    sink: Arc<dyn LogSink>,
    python_checked: crate::python::PythonCheck,
    /// What the last check of whether this function can start found ([`Pool::check_ready`]).
    readiness: Mutex<Option<Readiness>>,
    run_as: RunAs,
    /// The private code directory last given to `run_as` (see [`Pool::grant_code`]).
    granted: Mutex<Option<PathBuf>>,
    /// Held while giving code, so that concurrent cold starts give it once.
    granting: tokio::sync::Mutex<()>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Pool {
    pub(crate) fn new(
        spec: FunctionSpec,
        config: Arc<RuntimeConfig>,
        sink: Arc<dyn LogSink>,
        python_checked: crate::python::PythonCheck,
        run_as: RunAs,
    ) -> Self {
        let permits = Arc::new(Semaphore::new(spec.concurrency as usize));
        Self {
            spec: Mutex::new(Arc::new(spec)),
            permits: Mutex::new(permits),
            idle: Mutex::new(Vec::new()),
            config,
            sink,
            python_checked,
            readiness: Mutex::new(None),
            run_as,
            granted: Mutex::new(None),
            granting: tokio::sync::Mutex::new(()),
        }
    }

    pub fn spec(&self) -> Arc<FunctionSpec> {
        lock(&self.spec).clone()
    }

    /// The user and group id the function's instances run as; `None` for eddy's own user.
    pub fn user(&self) -> Option<(u32, u32)> {
        self.run_as.ids()
    }

    /// Gives the instances' user read access to the private code of `spec` (and only that
    /// user: see [`crate::code::grant`]), once per code directory. Code that is not there is
    /// left for the start of the instance to report.
    async fn grant_code(&self, spec: &FunctionSpec) -> Result<(), String> {
        let done = |dir: &PathBuf| lock(&self.granted).as_ref() == Some(dir);
        if done(&spec.code_dir) {
            return Ok(());
        }
        let _one = self.granting.lock().await;
        if done(&spec.code_dir) {
            return Ok(());
        }
        let eddy = rustix::process::geteuid().as_raw();
        let gid = match self.run_as {
            RunAs::User { uid, gid, .. } if uid != eddy => Some(gid),
            _ => None,
        };
        let dir = spec.private_code.then(|| spec.code_dir.clone());
        let opt = spec.opt_dir.clone();
        let result = tokio::task::spawn_blocking(move || {
            for d in dir.iter().chain(opt.iter()) {
                crate::code::grant(d, gid)?;
            }
            Ok::<_, std::io::Error>(())
        })
        .await;
        match result {
            Ok(Ok(())) => {
                *lock(&self.granted) = Some(spec.code_dir.clone());
                Ok(())
            }
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Ok(Err(e)) => Err(format!(
                "cannot give the function's user access to its code in `{}`: {e}",
                spec.code_dir.display()
            )),
            Err(e) => Err(format!("giving the function's code failed: {e}")),
        }
    }

    /// Replaces the function's definition. A new revision drains the idle instances (busy ones
    /// finish their invocation and are then discarded); a new concurrency applies to new calls.
    pub fn update(&self, spec: FunctionSpec) {
        let mut cur = lock(&self.spec);
        if cur.concurrency != spec.concurrency {
            *lock(&self.permits) = Arc::new(Semaphore::new(spec.concurrency as usize));
        }
        if cur.revision != spec.revision {
            lock(&self.idle).clear();
        }
        if cur.revision != spec.revision || cur.runtime != spec.runtime {
            *lock(&self.readiness) = None;
        }
        *cur = Arc::new(spec);
    }

    /// Checks whether the function can start an instance (a Python function: its interpreter
    /// starts as the function's user and imports `awslambdaric`; a `provided` one: it has an
    /// executable `bootstrap`) and remembers the answer ([`Pool::readiness`]).
    pub async fn check_ready(&self) -> Readiness {
        let spec = self.spec();
        let ready = match &spec.runtime {
            RuntimeKind::Python(runtime) => {
                let python = self.config.pythons.for_runtime(runtime, &self.config.path);
                self.python_checked
                    .check(&python, self.run_as.ids(), runtime, &self.config.path)
                    .await
            }
            RuntimeKind::Provided(_) => match crate::instance::bootstrap(&spec.code_dir) {
                Ok(_) => Readiness::Ready(None),
                Err(why) => Readiness::NotReady(format!(
                    "{why}: a `provided` function's code needs an executable file named \
                     `bootstrap` at its root"
                )),
            },
        };
        *lock(&self.readiness) = Some(ready.clone());
        ready
    }

    /// What the last [`Pool::check_ready`] (or cold start) found; `None` before any.
    pub fn readiness(&self) -> Option<Readiness> {
        lock(&self.readiness).clone()
    }

    /// Invocations running now.
    pub fn in_flight(&self) -> usize {
        let permits = lock(&self.permits).clone();
        (self.spec().concurrency as usize).saturating_sub(permits.available_permits())
    }

    /// Instances currently idle (warm).
    pub fn idle_count(&self) -> usize {
        lock(&self.idle).len()
    }

    /// Kills every idle instance.
    pub fn drain(&self) {
        lock(&self.idle).clear();
    }

    /// Kills idle instances unused for the configured idle time.
    pub fn reap(&self, now: Instant) {
        let keep = self.config.idle_timeout;
        lock(&self.idle).retain(|i| now.duration_since(i.last_used()) < keep);
    }

    /// Runs one invocation on a warm instance or a new one.
    pub async fn invoke(&self, inv: Invocation) -> Result<Outcome, InvokeError> {
        let permits = lock(&self.permits).clone();
        let _permit = permits
            .try_acquire_owned()
            .map_err(|_| InvokeError::TooManyRequests)?;
        let spec = self.spec();
        let request_id = if inv.request_id.is_empty() {
            uuid::Uuid::new_v4().to_string()
        } else {
            inv.request_id.clone()
        };
        if let RunAs::NoFreeId = self.run_as {
            let (first, last) = (FUNCTION_IDS.start(), FUNCTION_IDS.end());
            return Ok(failed_outcome(
                request_id,
                "Runtime.Unavailable",
                format!(
                    "every user id for functions ({first}-{last}) is taken by another deployed \
                     function; delete functions or start eddy with `--function-user current`"
                ),
            ));
        }
        if (spec.private_code || spec.opt_dir.is_some())
            && let Err(message) = self.grant_code(&spec).await
        {
            tracing::warn!(function = %spec.name, error = %message, "cannot start a function instance");
            return Ok(failed_outcome(request_id, "Runtime.Unavailable", message));
        }
        if let RuntimeKind::Python(_) = spec.runtime
            && lock(&self.idle).is_empty()
            && let Readiness::NotReady(message) = self.check_ready().await
        {
            return Ok(failed_outcome(
                request_id,
                "Runtime.ImportModuleError",
                message,
            ));
        }
        let (instance, cold) = {
            let mut idle = lock(&self.idle);
            let warm = loop {
                match idle.pop() {
                    Some(i) if i.is_alive() && i.revision() == spec.revision => break Some(i),
                    Some(_stale) => continue,
                    None => break None,
                }
            };
            match warm {
                Some(i) => (i, false),
                // Started under the lock, so that callers arriving together share a new
                // instance's slots instead of each starting one.
                None => match Instance::spawn(
                    spec.clone(),
                    &self.config,
                    self.sink.clone(),
                    self.run_as.ids(),
                ) {
                    Ok(i) => {
                        let i = Arc::new(i);
                        for _ in 1..spec.instance_concurrency {
                            idle.push(i.clone());
                        }
                        (i, true)
                    }
                    Err(e) => {
                        drop(idle);
                        tracing::warn!(function = %spec.name, error = %e, "cannot start a function instance");
                        let reply = e.reply();
                        return Ok(outcome(request_id, reply, String::new(), true));
                    }
                },
            }
        };
        let pending = Pending {
            id: request_id.clone(),
            payload: inv.payload,
            invoked_arn: if inv.invoked_arn.is_empty() {
                spec.arn.clone()
            } else {
                inv.invoked_arn
            },
            trace_id: trace_id(),
            client_context: inv.client_context,
            cognito_identity: inv.cognito_identity,
            timeout: spec.timeout,
            picked: None,
        };
        let (reply, tail, _took) = instance
            .invoke(pending, self.config.init_timeout, inv.tail)
            .await;
        let reusable = match &reply {
            Reply::Response(_) | Reply::Error(_) => true,
            Reply::Failed { reusable, .. } => *reusable,
        };
        if reusable && instance.is_alive() && instance.revision() == self.spec().revision {
            lock(&self.idle).push(instance);
        }
        Ok(outcome(request_id, reply, tail, cold))
    }
}

fn outcome(request_id: String, reply: Reply, log_tail: String, cold: bool) -> Outcome {
    let (payload, function_error) = match reply {
        Reply::Response(b) => (b, None),
        Reply::Error(b) | Reply::Failed { payload: b, .. } => (b, Some("Unhandled")),
    };
    Outcome {
        request_id,
        payload,
        function_error,
        log_tail,
        cold,
    }
}

fn failed_outcome(request_id: String, kind: &str, message: String) -> Outcome {
    outcome(
        request_id,
        Reply::failed(kind, message, false),
        String::new(),
        true,
    )
}

/// An X-Ray trace header for one invocation.
fn trace_id() -> String {
    let epoch = crate::epoch_ms() / 1000;
    let a = uuid::Uuid::new_v4().simple().to_string();
    let b = uuid::Uuid::new_v4().simple().to_string();
    format!(
        "Root=1-{epoch:08x}-{};Parent={};Sampled=0",
        &a[..24],
        &b[..16]
    )
}

/// How long an idle reaper waits between passes.
pub const REAP_EVERY: Duration = Duration::from_secs(5);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_stable_per_key_and_given_back() {
        let ids = Arc::new(Ids::default());
        let a = ids.lease("us-east-1/a").unwrap();
        let b = ids.lease("us-east-1/b").unwrap();
        assert_ne!(a.id, b.id);
        assert!(FUNCTION_IDS.contains(&a.id) && FUNCTION_IDS.contains(&b.id));
        // While `a` holds its id, the same key gets another one.
        let a2 = ids.lease("us-east-1/a").unwrap();
        assert_ne!(a2.id, a.id);
        let first = a.id;
        drop(a);
        drop(a2);
        assert_eq!(ids.in_use(), 1);
        // Free again: the same key finds the same id.
        assert_eq!(ids.lease("us-east-1/a").unwrap().id, first);
    }

    #[test]
    fn ids_run_out_without_sharing() {
        let ids = Arc::new(Ids::default());
        let count = (FUNCTION_IDS.end() - FUNCTION_IDS.start() + 1) as usize;
        let leases: Vec<_> = (0..count)
            .map(|i| ids.lease(&format!("f{i}")).unwrap())
            .collect();
        let distinct: HashSet<u32> = leases.iter().map(|l| l.id).collect();
        assert_eq!(distinct.len(), count);
        assert!(ids.lease("one-too-many").is_none());
        assert!(matches!(
            RunAs::for_function(FunctionUsers::PerFunction, &ids, "x"),
            RunAs::NoFreeId
        ));
        drop(leases);
        assert_eq!(ids.in_use(), 0);
    }
}
