//! eddy's function runtime: unmodified Lambda functions run as warm local processes.
//!
//! Each function has a [`Pool`] of instances. An instance is an ordinary process started from
//! the function's code ([`spec`]: `bootstrap` for `provided.*`, the official `awslambdaric` for
//! `python3.x`) with an environment like Lambda's, and its own loopback Runtime API listener
//! ([`api`]) through which it long-polls for invocations and posts results. [`Pools`] holds
//! every function's pool and reaps idle instances. [`code`] unpacks zip archives safely and
//! keeps unpacked code private to the function that runs it.
//!
//! Which user instances run as is the [`FunctionUsers`] policy, applied where functions are
//! deployed ([`Pools::deploy`]): when eddy runs as root each function gets its own user and
//! group id from [`FUNCTION_IDS`], so that functions cannot read each other's code or signal
//! each other's processes.
//!
//! What it guarantees: an invocation either gets the function's response, the function's
//! error, or an error eddy made (timeout, crash, out of memory, start failure) in Lambda's
//! shape; an instance that timed out or crashed is killed (its whole process group) and never
//! reused; instances never see eddy's own environment.
//!
//! What it is not: durable. Asynchronous invocations are made durable by the server, which
//! keeps them in the store until an invocation through this crate ends.

pub mod api;
pub mod code;
mod instance;
pub mod logs;
mod pool;
pub mod python;
pub mod spec;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

pub use logs::{DiscardLogs, LogLine, LogSink};
pub use pool::{Invocation, InvokeError, Outcome, Pool};
pub use python::{Pythons, Readiness};
pub use spec::{FUNCTION_IDS, FunctionSpec, FunctionUsers, RuntimeConfig, RuntimeKind};

pub(crate) fn epoch_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Now as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub(crate) fn iso_now() -> String {
    let ms = epoch_ms();
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        ms.rem_euclid(1000)
    )
}

/// Every function's pool.
pub struct Pools {
    pools: RwLock<HashMap<String, Arc<Pool>>>,
    config: Arc<RuntimeConfig>,
    sink: Arc<dyn LogSink>,
    python: python::PythonCheck,
    ids: Arc<pool::Ids>,
}

impl Pools {
    pub fn new(config: RuntimeConfig, sink: Arc<dyn LogSink>) -> Self {
        Self {
            pools: RwLock::new(HashMap::new()),
            config: Arc::new(config),
            sink,
            python: python::PythonCheck::default(),
            ids: Arc::new(pool::Ids::default()),
        }
    }

    pub fn config(&self) -> &RuntimeConfig {
        &self.config
    }

    /// Adds a function or updates its definition (keyed by `key`, e.g. region and name). A new
    /// function gets its user here (see [`FunctionUsers`]); an update keeps it.
    pub fn deploy(&self, key: &str, spec: FunctionSpec) -> Arc<Pool> {
        let mut pools = self.pools.write().unwrap_or_else(|e| e.into_inner());
        if let Some(p) = pools.get(key) {
            p.update(spec);
            return p.clone();
        }
        let pool = Arc::new(Pool::new(
            spec,
            self.config.clone(),
            self.sink.clone(),
            self.python.clone(),
            pool::RunAs::for_function(self.config.users, &self.ids, key),
        ));
        pools.insert(key.to_owned(), pool.clone());
        pool
    }

    pub fn get(&self, key: &str) -> Option<Arc<Pool>> {
        self.pools
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .cloned()
    }

    /// Removes a function; its idle instances are killed, busy ones when they finish.
    pub fn remove(&self, key: &str) {
        let removed = self
            .pools
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
        if let Some(p) = removed {
            p.drain();
        }
    }

    /// Removes every function.
    pub fn clear(&self) {
        let all: Vec<_> = self
            .pools
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .drain()
            .collect();
        for (_, p) in all {
            p.drain();
        }
    }

    /// Reaps idle instances every few seconds until the returned task is aborted.
    pub fn spawn_reaper(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let this = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(pool::REAP_EVERY).await;
                let Some(pools) = this.upgrade() else { return };
                let all: Vec<_> = pools
                    .pools
                    .read()
                    .unwrap_or_else(|e| e.into_inner())
                    .values()
                    .cloned()
                    .collect();
                let now = Instant::now();
                for p in all {
                    p.reap(now);
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn iso_now_shape() {
        let s = super::iso_now();
        assert_eq!(s.len(), 24, "{s}");
        assert!(s.ends_with('Z'));
    }
}
