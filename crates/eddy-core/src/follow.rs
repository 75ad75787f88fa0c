//! The definitions follower: keeps every in-memory cache of definitions (the catalog, the
//! registries, schedules, routes, functions) in step with the store's change feed.
//!
//! Caches change only here, from committed changes, this process's own writes included, so
//! that processes sharing one store see each other's changes the same way they see their own.
//! A writer commits through the store, which answers the commit's version, then waits with
//! [`Feed::caught_up`] until the follower has applied that version: a caller that was told
//! "done" reads its own write. The scheduler, which compiles what the caches hold, hears of each
//! change after the caches applied it ([`Feed::subscribe`]).
//!
//! When the feed lags (more changes than its channel holds), the follower reads every
//! definition again and reloads the caches from them.

use std::sync::{Arc, Weak};

use eddy_store::{Definition, DefinitionChange, Notification};
use tokio::sync::{broadcast, watch};

use crate::Core;

/// A cache of definitions that follows the feed. Implementations must not block or panic: they
/// run on the follower task, between a commit and the writer's answer.
pub trait Follow: Send + Sync {
    /// Applies committed changes, in commit order; changes of other kinds are ignored.
    fn follow(&self, changes: &[DefinitionChange]);

    /// Replaces everything with `definitions` (every definition of every kind), after the feed
    /// lagged.
    fn reload(&self, definitions: &[Definition]);

    /// Everything was wiped ([`eddy_store::Store::reset`]).
    fn reset(&self) {
        self.reload(&[]);
    }
}

/// What the scheduler hears from the follower, once the caches applied it.
#[derive(Debug, Clone)]
pub enum Followed {
    /// These committed changes are in the caches.
    Changed(Arc<Vec<DefinitionChange>>),
    /// Everything was wiped.
    Reset,
    /// The caches were reloaded from the store (changes were missed): rebuild from them.
    Reloaded,
}

/// The version the caches reflect, and the relay of applied changes (see the module docs).
pub struct Feed {
    applied: watch::Sender<u64>,
    relay: broadcast::Sender<Followed>,
}

impl Feed {
    /// A feed whose caches were loaded from definitions of `version`.
    pub fn new(version: u64) -> Arc<Self> {
        Arc::new(Self {
            applied: watch::Sender::new(version),
            relay: broadcast::channel(1024).0,
        })
    }

    /// The version the caches reflect.
    pub fn version(&self) -> u64 {
        *self.applied.borrow()
    }

    /// Waits until the caches reflect `version` (a commit's answer).
    pub async fn caught_up(&self, version: u64) {
        let mut rx = self.applied.subscribe();
        // The sender lives in `self`: the wait ends when the follower gets there.
        let _ended = rx.wait_for(|v| *v >= version).await.is_err();
    }

    /// Changes as the caches applied them, from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Followed> {
        self.relay.subscribe()
    }

    fn applied(&self, version: u64, followed: Followed) {
        // Relay first: whoever waits for this version may expect the scheduler to know.
        let _listeners = self.relay.send(followed).unwrap_or(0);
        self.applied.send_if_modified(|v| {
            let newer = version > *v;
            if newer {
                *v = version;
            }
            newer
        });
    }
}

/// The caches of the core and an adapter's own (`extra`), in the order they apply changes.
fn caches<'a>(core: &'a Core, extra: &'a [Arc<dyn Follow>]) -> Vec<&'a dyn Follow> {
    let mut all: Vec<&dyn Follow> = vec![
        &*core.catalog,
        &core.queues,
        &core.archives,
        &core.destinations,
        &*core.log_groups,
        &core.functions,
        &core.topics,
        &core.buckets,
        &core.sources,
        &core.schedules,
    ];
    all.extend(extra.iter().map(|c| &**c));
    all
}

/// Follows `changes` (subscribed before the caches were loaded) for as long as the core lives.
/// It holds the core and `extra` (an adapter's caches, which the adapter keeps) weakly, so that
/// dropping them closes the store, which ends the feed and this task.
pub fn spawn(
    core: Weak<Core>,
    extra: Vec<Weak<dyn Follow>>,
    mut changes: broadcast::Receiver<Notification>,
) {
    tokio::spawn(async move {
        loop {
            let n = changes.recv().await;
            let Some(core) = core.upgrade() else { return };
            let extra: Vec<Arc<dyn Follow>> = extra.iter().filter_map(Weak::upgrade).collect();
            let feed = &core.feed;
            match n {
                Ok(n) if n.version() <= feed.version() => {}
                Ok(n) => {
                    let version = n.version();
                    let followed = match n {
                        Notification::Changed { changes, .. } => {
                            guarded(&core, &extra, |c| c.follow(&changes))
                                .then(|| Followed::Changed(Arc::new(changes)))
                        }
                        Notification::Reset { .. } => {
                            guarded(&core, &extra, |c| c.reset()).then_some(Followed::Reset)
                        }
                    };
                    match followed {
                        Some(followed) => feed.applied(version, followed),
                        None => reload(&core, &extra).await,
                    }
                }
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "definition changes missed: reloading the caches");
                    reload(&core, &extra).await;
                }
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    });
}

/// Runs `apply` on every cache and answers whether it finished. A cache that panics (a bug) must
/// not stop the follower: writers wait for it, so the follower reloads every cache from the
/// store instead.
fn guarded(core: &Core, extra: &[Arc<dyn Follow>], apply: impl Fn(&dyn Follow)) -> bool {
    let all = || caches(core, extra).into_iter().for_each(&apply);
    let done = std::panic::catch_unwind(std::panic::AssertUnwindSafe(all)).is_ok();
    if !done {
        tracing::error!("a cache failed to apply a definition change");
    }
    done
}

/// Reloads every cache from the store's definitions, retrying until the store answers. The
/// version is marked applied even if a cache fails to reload (a bug, logged), so that writers
/// never wait for ever.
async fn reload(core: &Core, extra: &[Arc<dyn Follow>]) {
    loop {
        match core.store.definitions().await {
            Ok(d) => {
                let _logged = guarded(core, extra, |c| c.reload(&d.items));
                core.feed.applied(d.version, Followed::Reloaded);
                return;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot read definitions to reload the caches");
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            }
        }
    }
}
