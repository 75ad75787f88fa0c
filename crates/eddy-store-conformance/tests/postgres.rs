//! The conformance suite against the PostgreSQL store ([`PostgresStore`]): every check of
//! `eddy_store_conformance`, one test each.
//!
//! The server is the one at `EDDY_TEST_PG` (default `postgres://postgres@127.0.0.1:5432/postgres`;
//! `scripts/postgres` finds or starts one and prints its URI, and `scripts/test` exports it).
//! Each store lives in a schema of its own, so the checks run in parallel on one database. A
//! restart drops the store (its tasks stop and its connections close, as a killed process's
//! would) and connects again to the same schema.
//!
//! Making a schema and migrating it costs tens of milliseconds, and the model test opens a fresh
//! store for each of its 200 cases. So a schema whose store was dropped is kept for the next
//! store of the same test process, wiped back to what a fresh migration leaves ([`WIPE`]) before
//! it is handed out again; schemas left by test processes that ended are dropped by the first
//! store the next test process opens.
//! PostgreSQL's own durability (the WAL flushed at commit) is the server's business: the
//! power-loss checks say they cannot simulate it and pass without it.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use eddy_store::{PostgresStore, PostgresStoreOptions, Store};
use eddy_store_conformance::{Backend, Options};

/// The server the checks use.
fn server() -> String {
    std::env::var("EDDY_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// Runs `sql` on the server (outside any store).
async fn admin(sql: &str) {
    let (client, connection) = tokio_postgres::connect(&server(), tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "cannot reach the test PostgreSQL at `{}` ({e}): run `scripts/postgres` and \
                 export EDDY_TEST_PG as it prints",
                server()
            )
        });
    let driver = tokio::spawn(connection);
    client.batch_execute(sql).await.expect(sql);
    drop(client);
    driver.await.expect("join").expect("connection");
}

/// What makes a used schema fresh again: every table of the store's schema emptied (`DELETE`:
/// far cheaper than `TRUNCATE` on tables this small), its sequences restarted (`setval`), and the rows
/// migration 1 seeds put back. [`KNOWN`] lists the tables it knows; a schema with another
/// table (a new migration) fails the check until this learns it.
const WIPE: &str = "
    DELETE FROM events; DELETE FROM event_log; DELETE FROM work; DELETE FROM dead;
    DELETE FROM messages; DELETE FROM dedup; DELETE FROM log_events; DELETE FROM ticks;
    DELETE FROM definitions; DELETE FROM definitions_version; DELETE FROM definition_log;
    SELECT setval(s, 1, false)
    FROM unnest('{work_id_seq,dead_id_seq,messages_id_seq,log_events_seq_seq}'::text[]) AS s;
    INSERT INTO event_log VALUES (1, 0, 0);
    INSERT INTO definitions_version VALUES (1, 0);";

/// The tables and sequences [`WIPE`] knows (and `eddy_schema`, which it keeps).
const KNOWN: &[&str] = &[
    "events",
    "event_log",
    "work",
    "dead",
    "messages",
    "dedup",
    "log_events",
    "ticks",
    "definitions",
    "definitions_version",
    "definition_log",
    "eddy_schema",
    "work_id_seq",
    "dead_id_seq",
    "messages_id_seq",
    "log_events_seq_seq",
];

/// Schemas of this process whose store was dropped, ready to be wiped and used again.
static FREE: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Drops the test schemas of processes that no longer run (`eddy_test_PID_N`).
const DROP_STALE: &str = r"
    DO $$
    DECLARE s text;
    BEGIN
      FOR s IN SELECT nspname FROM pg_namespace WHERE nspname LIKE 'eddy\_test\_%' LOOP
        IF split_part(s, '_', 3) = ANY(string_to_array(current_setting('eddy.live'), ',')) THEN
          CONTINUE;
        END IF;
        -- Another test process may be dropping it at the same time.
        BEGIN
          EXECUTE format('DROP SCHEMA IF EXISTS %I CASCADE', s);
        EXCEPTION WHEN OTHERS THEN NULL;
        END;
      END LOOP;
    END $$";

/// The ids of the processes running on this machine.
fn live_pids() -> String {
    std::fs::read_dir("/proc")
        .map(|dir| {
            dir.filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|name| name.bytes().all(|b| b.is_ascii_digit()))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default()
}

/// A fresh schema: a wiped one of this process's, or a new one.
async fn fresh_schema() -> String {
    static CLEANED: std::sync::Once = std::sync::Once::new();
    let mut first = false;
    CLEANED.call_once(|| first = true);
    if first {
        admin(&format!("SET eddy.live = '{}'; {DROP_STALE}", live_pids())).await;
    }
    let reused = FREE.lock().unwrap_or_else(|e| e.into_inner()).pop();
    if let Some(schema) = reused {
        let (client, connection) = tokio_postgres::connect(&server(), tokio_postgres::NoTls)
            .await
            .expect("connect");
        let driver = tokio::spawn(connection);
        let unknown: Vec<String> = client
            .query(
                "SELECT relname::text FROM pg_class
                 WHERE relnamespace = $1::text::regnamespace AND relkind IN ('r', 'S')",
                &[&schema],
            )
            .await
            .expect("the schema's tables")
            .iter()
            .map(|r| r.get::<_, String>(0))
            .filter(|t| !KNOWN.contains(&t.as_str()))
            .collect();
        assert!(
            unknown.is_empty(),
            "tests/postgres.rs cannot wipe {unknown:?}: add them to WIPE and KNOWN"
        );
        client
            .batch_execute(&format!(
                "SET search_path = {schema}; BEGIN; {WIPE} COMMIT;"
            ))
            .await
            .expect("wipe");
        drop(client);
        driver.await.expect("join").expect("connection");
        return schema;
    }
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let schema = format!(
        "eddy_test_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    admin(&format!(
        "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
    ))
    .await;
    schema
}

struct Postgres {
    schema: String,
    options: Options,
    store: Option<PostgresStore>,
}

impl Postgres {
    async fn open_store(&self) -> PostgresStore {
        let base = server();
        let sep = if base.contains('?') { '&' } else { '?' };
        let uri = format!("{base}{sep}options=-c%20search_path%3D{}", self.schema);
        PostgresStore::connect(
            &uri,
            PostgresStoreOptions {
                clock: Some(self.options.clock.clone()),
                node: "conformance".into(),
                connections: 4,
                ..PostgresStoreOptions::default()
            },
        )
        .await
        .expect("open the PostgreSQL store")
    }
}

impl Backend for Postgres {
    async fn open(options: Options) -> Self {
        let schema = fresh_schema().await;
        let mut backend = Self {
            schema,
            options,
            store: None,
        };
        backend.store = Some(backend.open_store().await);
        backend
    }

    fn store(&self) -> &dyn Store {
        self.store.as_ref().expect("the store is open")
    }

    async fn restart(&mut self) {
        drop(self.store.take());
        self.store = Some(self.open_store().await);
    }
}

impl Drop for Postgres {
    /// Closes the store and keeps its schema for the next store of this process.
    fn drop(&mut self) {
        drop(self.store.take());
        FREE.lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(std::mem::take(&mut self.schema));
    }
}

eddy_store_conformance::suite!(Postgres);
