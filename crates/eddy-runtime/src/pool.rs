//! The warm pool of one function: idle instances are reused (most recently used first), new
//! ones start on demand up to the function's concurrency, instances of an older revision are
//! drained, and idle ones are reaped after the configured time.
//!
//! The pool hands out slots: an instance has `instance_concurrency` of them (1 for classic
//! Lambda, more for a function configured like a Lambda Managed Instance), and a free slot of a
//! running instance is used before a new instance starts.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use tokio::sync::Semaphore;

use crate::instance::{Instance, Pending, Reply};
use crate::logs::LogSink;
use crate::spec::{FunctionSpec, RuntimeConfig, RuntimeKind};

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
    python_checked: crate::PythonCheck,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Pool {
    pub(crate) fn new(
        spec: FunctionSpec,
        config: Arc<RuntimeConfig>,
        sink: Arc<dyn LogSink>,
        python_checked: crate::PythonCheck,
    ) -> Self {
        let permits = Arc::new(Semaphore::new(spec.concurrency as usize));
        Self {
            spec: Mutex::new(Arc::new(spec)),
            permits: Mutex::new(permits),
            idle: Mutex::new(Vec::new()),
            config,
            sink,
            python_checked,
        }
    }

    pub fn spec(&self) -> Arc<FunctionSpec> {
        lock(&self.spec).clone()
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
        *cur = Arc::new(spec);
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
        if let RuntimeKind::Python(_) = spec.runtime
            && lock(&self.idle).is_empty()
            && let Err(message) = self.python_checked.check(&self.config.python).await
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
                None => match Instance::spawn(spec.clone(), &self.config, self.sink.clone()) {
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
