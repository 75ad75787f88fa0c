//! The conformance suite against the PostgreSQL store ([`PostgresStore`]): every check of
//! `eddy_store_conformance`, one test each.
//!
//! The server is the one at `EDDY_TEST_PG` (default `postgres://postgres@127.0.0.1:5432/postgres`;
//! `scripts/postgres` finds or starts one and prints its URI, and `scripts/test` exports it).
//! Each store lives in a schema of its own, created for the check and dropped after it, so the
//! checks run in parallel on one database. A restart drops the store (its tasks stop and its
//! connections close, as a killed process's would) and connects again to the same schema.
//! PostgreSQL's own durability (the WAL flushed at commit) is the server's business: the
//! power-loss checks say they cannot simulate it and pass without it.

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
    /// Drops the check's schema, on a thread of its own (this runs inside the check's runtime).
    fn drop(&mut self) {
        drop(self.store.take());
        let sql = format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema);
        let dropped = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime")
                .block_on(admin(&sql));
        })
        .join();
        if dropped.is_err() {
            eprintln!("could not drop the schema `{}`", self.schema);
        }
    }
}

eddy_store_conformance::suite!(Postgres);
