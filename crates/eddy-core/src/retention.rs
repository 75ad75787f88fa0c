//! Retention: the event log, the dead letters and the log groups do not grow without end.
//!
//! A sweep runs every minute (and whenever the dev clock moves) and asks the store to expire
//! ([`eddy_store::EventLog::expire`]):
//! * **dead letters** older than [`ServerConfig::dead_letter_retention_ms`] (default 14 days,
//!   SQS's longest message retention), unless redriven before;
//! * **events** ingested longer ago than [`ServerConfig::event_retention_ms`] (default 24 hours)
//!   that nothing needs any more: no work item (pending delivery, retry, asynchronous
//!   invocation) and no dead letter refers to them, and no archive of their bus covers them.
//!   An archive with `RetentionDays` 0 keeps its bus's events for ever; one with N days keeps
//!   the last N days of them;
//! * **log events** older than their group's retention (see [`crate::logs::expire`]).
//!
//! Times are eddy's clock, so moving the dev clock forward expires what that much time would.
//! The store finds expired events on a read connection and deletes them in batches of
//! [`BATCH`], so a sweep never holds the writer for long. Freed space is reused by new writes,
//! and each sweep then gives what is left over back to the file system
//! ([`eddy_store::Store::reclaim`]) in steps of [`RECLAIM_STEP`] bytes, each its own short
//! store call, so ingest goes on between them.
//!
//! [`ServerConfig::dead_letter_retention_ms`]: crate::config::ServerConfig::dead_letter_retention_ms
//! [`ServerConfig::event_retention_ms`]: crate::config::ServerConfig::event_retention_ms

use std::sync::Arc;
use std::time::Duration;

use eddy_store::Expiry;

use crate::Core;

/// Events deleted per store call.
const BATCH: usize = 5_000;
/// Most store calls per sweep (the rest waits for the next sweep).
const MAX_CALLS: usize = 40;
/// Bytes given back to the file system per store call: each call moves this much of the file's
/// end into free space inside the writer's transaction, so it must stay a few milliseconds.
pub const RECLAIM_STEP: u64 = 256 << 10;
/// Most reclaim calls per sweep (64 MiB).
const MAX_RECLAIMS: usize = 256;
/// The pause between two reclaim calls, which leaves the writer to the other work.
const RECLAIM_PAUSE: Duration = Duration::from_millis(5);
/// How often a sweep runs.
const EVERY: Duration = Duration::from_secs(60);

/// Sweeps until `stop` turns true.
pub async fn run(app: Arc<Core>, mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut moved = app.clock.moved();
    loop {
        sweep(&app).await;
        crate::logs::sweep(&app).await;
        reclaim(&app).await;
        tokio::select! {
            () = tokio::time::sleep(EVERY) => {}
            _ = moved.changed() => {}
            _ = stop.changed() => return,
        }
    }
}

/// One sweep: answers how many events and dead letters it deleted.
pub async fn sweep(app: &Core) -> (u64, u64) {
    let now = app.clock.now_ms();
    let mut expiry = Expiry {
        events_before_ms: app.config.event_retention_ms.map(|r| now.saturating_sub(r)),
        keep: app.archives.kept_from(now),
        dead_before_ms: app
            .config
            .dead_letter_retention_ms
            .map(|r| now.saturating_sub(r)),
        max_events: BATCH,
    };
    let (mut events, mut dead) = (0, 0);
    for _ in 0..MAX_CALLS {
        match app.store.expire(expiry.clone()).await {
            Ok(e) => {
                events += e.events;
                dead += e.dead_letters;
                if (e.events as usize) < BATCH {
                    break;
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot expire old events; trying again at the next sweep");
                break;
            }
        }
        expiry.dead_before_ms = None;
    }
    if events > 0 || dead > 0 {
        app.metrics.expired_events.inc_by(events);
        app.metrics.expired_dead_letters.inc_by(dead);
        tracing::debug!(events, dead_letters = dead, "expired");
    }
    (events, dead)
}

/// Gives the space deletes left behind back to the file system, a step at a time: answers the
/// bytes given back.
pub async fn reclaim(app: &Core) -> u64 {
    let mut given = 0;
    for _ in 0..MAX_RECLAIMS {
        match app.store.reclaim(RECLAIM_STEP).await {
            Ok(n) => {
                given += n;
                if n < RECLAIM_STEP {
                    break;
                }
                tokio::time::sleep(RECLAIM_PAUSE).await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot give free space back; trying again at the next sweep");
                break;
            }
        }
    }
    if given > 0 {
        app.metrics.reclaimed_bytes.inc_by(given);
        tracing::debug!(bytes = given, "gave free space back to the file system");
    }
    given
}
