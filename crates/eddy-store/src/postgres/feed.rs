//! Definitions and their change feed, across nodes.
//!
//! Every commit that changes definitions (an apply, or a reset) takes the next version from the
//! `definitions_version` row (its row lock orders such commits, so versions follow commit order
//! cluster-wide), records what it changed in `definition_log` under that version, and sends a
//! `NOTIFY` on the store's channel (delivered at commit). Each store (each node) has one task
//! that `LISTEN`s on its own connection: on a notification, on a timer ([`POLL`]) and after every
//! reconnection it **catches up**: it reads the log after the last version it announced and
//! sends each entry to its watchers, in version order ([`Feed::catch_up`], the only place that
//! sends). A lost notification (a dropped connection, a restarted server) therefore only delays
//! a change until the next catch-up; it never loses one.
//!
//! [`DefinitionStore::apply`](crate::DefinitionStore::apply) catches up itself after its commit,
//! so its own version has reached this node's watchers when it returns. The log keeps the last
//! [`LOG_KEEP`] versions; a node that fell further behind than that (it could not reach the
//! database for that long) announces what it finds and says so in its log, and its caches rely
//! on re-reading the definitions as after any lag.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Mutex, broadcast};

use super::pool::Tx;
use super::{PgError, PgResult, Shared};
use crate::{DefinitionChange, Definitions, Notification};

/// How often a node catches up without being notified (the bound on how late a change whose
/// notification was lost reaches it).
const POLL: Duration = Duration::from_millis(500);
/// How long the listener waits before reconnecting after its connection broke (the first time;
/// then longer, up to [`RECONNECT_MAX`]).
const RECONNECT: Duration = Duration::from_millis(250);
const RECONNECT_MAX: Duration = Duration::from_secs(5);
/// How many versions the change log keeps.
const LOG_KEEP: i64 = 100_000;

/// The change feed of one store.
pub(crate) struct Feed {
    pub(crate) notify: broadcast::Sender<Notification>,
    /// The last version announced to this store's watchers; held while catching up, so that
    /// announcements never interleave.
    last: Mutex<u64>,
    pub(crate) channel: String,
}

impl Feed {
    /// A feed that announces the changes committed from now on.
    pub(crate) async fn open(shared: &Shared, channel: String) -> PgResult<Self> {
        let mut conn = shared.pool.get().await?;
        let version: i64 = conn
            .query_one("SELECT version FROM definitions_version WHERE id = 1", &[])
            .await?
            .get(0);
        let (notify, _) = broadcast::channel(1024);
        Ok(Self {
            notify,
            last: Mutex::new(version as u64),
            channel,
        })
    }

    /// Announces every logged version after the last one announced, in order.
    pub(crate) async fn catch_up(&self, shared: &Shared) -> PgResult<()> {
        let mut last = self.last.lock().await;
        let mut conn = shared.pool.get().await?;
        let rows = conn
            .query(
                "SELECT version, reset, kinds, keys, vals FROM definition_log
                 WHERE version > $1 ORDER BY version",
                &[&(*last as i64)],
            )
            .await?;
        for r in rows {
            let version = r.get::<_, i64>(0) as u64;
            let reset = r.get::<_, bool>(1);
            // A reset drops the log before it: a gap before one is expected.
            if version > *last + 1 && !reset {
                tracing::warn!(
                    from = *last + 1,
                    to = version - 1,
                    "definition changes left the change log before this node read them"
                );
            }
            let note = if reset {
                Notification::Reset { version }
            } else {
                let kinds: Vec<String> = r.get(2);
                let keys: Vec<String> = r.get(3);
                let vals: Vec<Option<Vec<u8>>> = r.get(4);
                let changes = kinds
                    .into_iter()
                    .zip(keys)
                    .zip(vals)
                    .map(|((kind, key), value)| DefinitionChange { kind, key, value })
                    .collect();
                Notification::Changed { version, changes }
            };
            let _receivers = self.notify.send(note).unwrap_or(0);
            *last = version;
        }
        Ok(())
    }
}

/// The listener task: `LISTEN`s on its own connection and catches up on every notification, on
/// a timer, and after reconnecting. Runs until the store is dropped.
pub(crate) async fn listen(shared: Arc<Shared>, feed: Arc<Feed>) {
    let mut failures = 0u32;
    loop {
        let started = std::time::Instant::now();
        if let Err(e) = listen_once(&shared, &feed).await {
            // A connection that lived a while broke: a new outage (say so once per outage).
            if started.elapsed() > RECONNECT_MAX {
                failures = 0;
            }
            if failures == 0 {
                tracing::warn!(error = %e, "the definitions feed lost its connection: reconnecting");
            }
            failures = failures.saturating_add(1);
        }
        // 0.5 s after the first failure, then doubling up to 5 s while the database stays away.
        let wait = RECONNECT
            .saturating_mul(1 << failures.min(4))
            .min(RECONNECT_MAX);
        tokio::time::sleep(wait).await;
    }
}

/// One connection's life: answers when it broke.
async fn listen_once(shared: &Shared, feed: &Feed) -> PgResult<()> {
    let (client, mut woken, driver) = shared.pool.listener().await?;
    let _stop = AbortOnDrop(driver);
    client
        .batch_execute(&format!("LISTEN {}", quote_ident(&feed.channel)))
        .await?;
    // Whatever was committed while no connection listened.
    feed.catch_up(shared).await?;
    let mut timer = tokio::time::interval(POLL);
    loop {
        tokio::select! {
            woke = woken.recv() => {
                if woke.is_none() {
                    return Err(PgError::Invalid("the listening connection closed"));
                }
                while woken.try_recv().is_ok() {}
            }
            _ = timer.tick() => {}
        }
        if let Err(e) = feed.catch_up(shared).await {
            tracing::debug!(error = %e, "the definitions feed could not catch up");
        }
    }
}

struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// `name` as a quoted SQL identifier.
fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Takes the next version (under the version row's lock), logs `changes` (or a reset) under it
/// and notifies every node (the notification is delivered at commit).
async fn next_version(
    tx: &mut Tx<'_>,
    feed: &Feed,
    reset: bool,
    changes: &[DefinitionChange],
) -> PgResult<u64> {
    let version: i64 = tx
        .query_one(
            "UPDATE definitions_version SET version = version + 1 WHERE id = 1 RETURNING version",
            &[],
        )
        .await?
        .get(0);
    let kinds: Vec<&str> = changes.iter().map(|c| c.kind.as_str()).collect();
    let keys: Vec<&str> = changes.iter().map(|c| c.key.as_str()).collect();
    let vals: Vec<Option<&[u8]>> = changes.iter().map(|c| c.value.as_deref()).collect();
    tx.execute(
        "INSERT INTO definition_log (version, reset, kinds, keys, vals)
         VALUES ($1, $2, $3, $4, $5)",
        &[&version, &reset, &kinds, &keys, &vals],
    )
    .await?;
    tx.execute(
        "DELETE FROM definition_log WHERE version <= $1",
        &[&(version - LOG_KEEP)],
    )
    .await?;
    tx.execute(
        "SELECT pg_notify($1, $2)",
        &[&feed.channel, &version.to_string()],
    )
    .await?;
    Ok(version as u64)
}

pub(crate) async fn apply(
    shared: &Shared,
    feed: &Feed,
    changes: Vec<DefinitionChange>,
) -> PgResult<u64> {
    let version = {
        let mut conn = shared.pool.get().await?;
        let mut tx = conn.begin().await?;
        let version = next_version(&mut tx, feed, false, &changes).await?;
        // What the group leaves of each definition (its last change), written with one
        // statement for the puts and one for the deletes, however many there are.
        let mut last: HashMap<(&str, &str), Option<&[u8]>> = HashMap::new();
        for c in &changes {
            last.insert((&c.kind, &c.key), c.value.as_deref());
        }
        let (mut put, mut gone) = (Columns::default(), Columns::default());
        for ((kind, key), value) in last {
            let to = if value.is_some() { &mut put } else { &mut gone };
            to.kinds.push(kind);
            to.keys.push(key);
            if let Some(v) = value {
                to.values.push(v);
            }
        }
        if !put.kinds.is_empty() {
            tx.execute(
                "INSERT INTO definitions (kind, key, value)
                 SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[])
                 ON CONFLICT (kind, key) DO UPDATE SET value = excluded.value",
                &[&put.kinds, &put.keys, &put.values],
            )
            .await?;
        }
        if !gone.kinds.is_empty() {
            tx.execute(
                "DELETE FROM definitions d
                 USING unnest($1::text[], $2::text[]) AS g(kind, key)
                 WHERE d.kind = g.kind AND d.key = g.key",
                &[&gone.kinds, &gone.keys],
            )
            .await?;
        }
        tx.commit().await?;
        version
    };
    announced(shared, feed).await;
    Ok(version)
}

/// After a commit of this store: its version reaches this store's watchers before the caller
/// is answered. The commit is durable whatever happens here; if the catch-up fails (the
/// connection broke just after the commit), the listener announces it on its next round.
async fn announced(shared: &Shared, feed: &Feed) {
    if let Err(e) = feed.catch_up(shared).await {
        tracing::warn!(error = %e, "a committed definition change could not be announced yet");
    }
}

/// Definitions column by column (one array parameter each).
#[derive(Default)]
struct Columns<'a> {
    kinds: Vec<&'a str>,
    keys: Vec<&'a str>,
    values: Vec<&'a [u8]>,
}

pub(crate) async fn definitions(shared: &Shared) -> PgResult<Definitions> {
    let mut conn = shared.pool.get().await?;
    let mut tx = conn.begin_snapshot().await?;
    let version: i64 = tx
        .query_one("SELECT version FROM definitions_version WHERE id = 1", &[])
        .await?
        .get(0);
    let items = tx
        .query(
            "SELECT kind, key, value FROM definitions ORDER BY kind, key",
            &[],
        )
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    tx.commit().await?;
    Ok(Definitions {
        version: version as u64,
        items,
    })
}

/// Wipes everything but the versions (see [`crate::Store::reset`]).
pub(crate) async fn reset(shared: &Shared, feed: &Feed) -> PgResult<u64> {
    let version = {
        let mut conn = shared.pool.get().await?;
        let mut tx = conn.begin().await?;
        let version = next_version(&mut tx, feed, true, &[]).await?;
        tx.batch_execute(
            "UPDATE event_log SET missing = top_seq WHERE id = 1;
             DELETE FROM events; DELETE FROM work; DELETE FROM dead; DELETE FROM definitions;
             DELETE FROM messages; DELETE FROM dedup; DELETE FROM log_events;
             DELETE FROM ticks;
             DELETE FROM objects; DELETE FROM uploads; DELETE FROM parts; DELETE FROM blob_refs;
             DELETE FROM blob_chunks; DELETE FROM blobs;",
        )
        .await?;
        tx.execute(
            "DELETE FROM definition_log WHERE version < $1",
            &[&(version as i64)],
        )
        .await?;
        tx.commit().await?;
        version
    };
    announced(shared, feed).await;
    Ok(version)
}
