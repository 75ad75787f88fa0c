//! The nodes sharing one database ([`crate::ClusterStore`]): leadership of singleton roles and
//! the node registry.
//!
//! # Leadership
//!
//! One task per role ([`lead`]) keeps a connection of its own (outside the pool) and tries, every
//! [`RETRY`], to take a **session advisory lock** whose key is derived from the store's schema
//! and the role (`pg_try_advisory_lock`). The session that holds it leads; PostgreSQL releases it
//! when that session ends, so when a leader dies (its process killed, its store dropped, its
//! connection cut) another node's next try takes it.
//!
//! While it leads, the task pings its session every [`RETRY`] and reports leadership only up to
//! [`HOLD`] after it *sent* its last ping that was answered, and only while the connection is
//! open: a leader cut off from the database reports `false` at once when its connection breaks,
//! and within [`HOLD`] when it only stops hearing from the server. The server, on its side, ends
//! a session that stays idle for [`SERVER_IDLE`] (`idle_session_timeout`, longer than
//! [`HOLD`]): a cut-off leader's lock is released after that, not after the kernel's TCP
//! timeouts, and by then the cut-off node has stopped reporting that it leads. Clocks only need
//! to run at the same rate for this, not agree. The margin is a few seconds, and a runtime
//! stalled for longer could overlap two leaders briefly: that is why leadership is only for
//! efficiency and the data enforces what must never happen twice (see the crate docs).
//!
//! # Registry
//!
//! The `nodes` table holds one row per node name, its `last_seen_ms` written by the store's
//! clock at each heartbeat. A heartbeat also forgets nodes not seen for [`FORGET_MS`].

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use super::{PgError, PgResult, Shared};
use crate::NodeInfo;

/// How often a node that does not lead tries to, and how often a leader pings its session.
pub(crate) const RETRY: Duration = Duration::from_secs(1);
/// How long after sending its last answered ping a leader still reports that it leads.
pub(crate) const HOLD: Duration = Duration::from_secs(3);
/// How long the server lets the leadership session stay idle before it ends it (and so
/// releases the lock): longer than [`HOLD`], so a cut-off leader has stopped leading first.
const SERVER_IDLE: &str = "6s";
/// Nodes not seen for this long leave the registry (at the next heartbeat of any node).
const FORGET_MS: i64 = 24 * 60 * 60 * 1000;

/// Takes the role's lock when it is free; answers whether this session holds it now.
const TRY_LOCK: &str = "SELECT pg_try_advisory_lock(hashtextextended('eddy.leader.' || current_schema() || '.' || $1, 0))";

/// The leadership task of `role`: runs until the store is dropped (which aborts it and closes
/// its connection, releasing the lock).
pub(crate) async fn lead(shared: Arc<Shared>, role: String, leads: watch::Sender<bool>) {
    // Whether the current outage was reported (once per outage, as the change feed does).
    let mut reported = false;
    loop {
        let started = Instant::now();
        let Err(e) = hold(&shared, &role, &leads).await;
        if started.elapsed() > HOLD {
            reported = false;
        }
        if !reported {
            tracing::warn!(error = %e, role, "leadership lost its connection: reconnecting");
            reported = true;
        }
        set(&leads, false, &role);
        tokio::time::sleep(RETRY).await;
    }
}

/// Sets the leadership, telling the receivers (and the log) only when it changed.
fn set(leads: &watch::Sender<bool>, to: bool, role: &str) {
    if leads.send_if_modified(|now| std::mem::replace(now, to) != to) {
        if to {
            tracing::info!(role, "this node leads");
        } else {
            tracing::info!(role, "this node no longer leads");
        }
    }
}

/// One connection's life: tries for the lock, then holds it; answers when the connection broke
/// or went quiet (having reported `false` at once).
async fn hold(
    shared: &Shared,
    role: &str,
    leads: &watch::Sender<bool>,
) -> Result<std::convert::Infallible, PgError> {
    let (client, mut ended, driver) = shared.pool.listener().await?;
    let _stop = AbortOnDrop(driver);
    // Not every server knows `idle_session_timeout` (PostgreSQL 14 and later): without it, a
    // cut-off leader's lock lasts until the server's TCP keepalives end its session.
    if let Err(e) = client
        .batch_execute(&format!("SET idle_session_timeout = '{SERVER_IDLE}'"))
        .await
    {
        tracing::debug!(error = %e, "no idle_session_timeout on this server");
    }
    let try_lock = client.prepare(TRY_LOCK).await?;
    let ping = client.prepare("SELECT 1").await?;
    let mut leading_until: Option<Instant> = None;
    loop {
        let sent = Instant::now();
        // A leader waits for its ping no longer than it may still lead; one that does not lead
        // waits as long as the connection's own timeouts allow.
        let asked = async {
            match leading_until {
                Some(_) => client.query_one(&ping, &[]).await.map(|_| true),
                None => client
                    .query_one(&try_lock, &[&role])
                    .await
                    .map(|r| r.get::<_, bool>(0)),
            }
        };
        let answered = match leading_until {
            Some(until) => tokio::time::timeout_at(until, asked).await,
            None => Ok(asked.await),
        };
        match answered {
            Ok(Ok(true)) => {
                leading_until = Some(sent + HOLD);
                set(leads, true, role);
            }
            Ok(Ok(false)) => {}
            Ok(Err(e)) => return Err(e.into()),
            Err(_) => {
                set(leads, false, role);
                return Err(PgError::Unavailable(format!(
                    "the database did not answer within {HOLD:?}"
                )));
            }
        }
        let next = sent + RETRY;
        tokio::select! {
            _ = tokio::time::sleep_until(next) => {}
            woke = ended.recv() => if woke.is_none() {
                set(leads, false, role);
                return Err(PgError::Unavailable(
                    "the leadership connection closed".into(),
                ));
            }
        }
    }
}

struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

pub(crate) async fn heartbeat(shared: &Shared, node: NodeInfo) -> PgResult<()> {
    let mut conn = shared.pool.get().await?;
    conn.execute(
        "WITH seen AS (
            INSERT INTO nodes (name, address, version, started_ms, last_seen_ms)
            VALUES ($1, $2, $3, $4, coalesce($5::bigint, eddy_now_ms()))
            ON CONFLICT (name) DO UPDATE SET address = excluded.address,
                version = excluded.version, started_ms = excluded.started_ms,
                last_seen_ms = excluded.last_seen_ms
        )
        DELETE FROM nodes
        WHERE last_seen_ms < coalesce($5::bigint, eddy_now_ms()) - $6 AND name <> $1",
        &[
            &node.name,
            &node.address,
            &node.version,
            &node.started_ms,
            &shared.store_now(),
            &FORGET_MS,
        ],
    )
    .await?;
    Ok(())
}

pub(crate) async fn nodes(shared: &Shared) -> PgResult<Vec<NodeInfo>> {
    let mut conn = shared.pool.get().await?;
    let rows = conn
        .query(
            "SELECT name, address, version, started_ms, last_seen_ms FROM nodes ORDER BY name",
            &[],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| NodeInfo {
            name: r.get(0),
            address: r.get(1),
            version: r.get(2),
            started_ms: r.get(3),
            last_seen_ms: r.get(4),
        })
        .collect())
}
