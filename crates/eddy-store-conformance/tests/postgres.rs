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
    DELETE FROM nodes;
    DELETE FROM objects; DELETE FROM uploads; DELETE FROM parts; DELETE FROM blob_refs;
    DELETE FROM blob_chunks; DELETE FROM blobs;
    SELECT setval(s, 1, false)
    FROM unnest('{work_id_seq,dead_id_seq,messages_id_seq,log_events_seq_seq,object_seq}'::text[])
        AS s;
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
    "nodes",
    "eddy_schema",
    "work_id_seq",
    "dead_id_seq",
    "messages_id_seq",
    "log_events_seq_seq",
    "objects",
    "uploads",
    "parts",
    "blob_refs",
    "object_seq",
    "blobs",
    "blob_chunks",
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

/// A store on `schema` for the node `node`, its leases on `clock` (the database's when `None`).
async fn open_node(
    schema: &str,
    node: &str,
    clock: Option<std::sync::Arc<dyn eddy_store::StoreClock>>,
) -> PostgresStore {
    let uri = eddy_store::postgres_uri_with_schema(&server(), schema);
    PostgresStore::connect(
        &uri,
        PostgresStoreOptions {
            clock,
            node: node.into(),
            connections: 4,
            ..PostgresStoreOptions::default()
        },
    )
    .await
    .expect("open the PostgreSQL store")
}

impl Postgres {
    async fn open_store(&self) -> PostgresStore {
        open_node(
            &self.schema,
            "conformance",
            Some(self.options.clock.clone()),
        )
        .await
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

/// What the conformance suite cannot see: several nodes (stores) sharing one schema, as eddy
/// nodes share one database, with the database's clock for their leases.
mod nodes {
    use std::collections::HashSet;
    use std::time::Duration;

    use eddy_store::{
        AppendBatch, ClusterStore, DefinitionChange, DefinitionStore, EventLog, NewWork,
        Notification, QueueStore, ReceiveOptions, Store, StoreError, Tick, TickStore, WorkStore,
    };
    use eddy_store_conformance::{join_all, message, with_work};

    use super::{FREE, admin, fresh_schema, open_node};

    /// Runs a check on a runtime of its own.
    fn run(check: impl Future<Output = ()>) {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(check);
    }

    /// A schema shared by the nodes of one check, given back for reuse at its end.
    struct Shared(String);

    impl Drop for Shared {
        fn drop(&mut self) {
            FREE.lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(std::mem::take(&mut self.0));
        }
    }

    async fn nodes(names: &[&str]) -> (Shared, Vec<eddy_store::PostgresStore>) {
        let schema = Shared(fresh_schema().await);
        let mut stores = Vec::new();
        for n in names {
            stores.push(open_node(&schema.0, n, None).await);
        }
        (schema, stores)
    }

    fn now_ms() -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_millis() as i64
    }

    /// A change applied through one node reaches another node's watchers (through
    /// `LISTEN/NOTIFY` and the change log), with its version and its changes.
    #[test]
    fn a_change_through_one_node_reaches_the_others_watchers() {
        run(async {
            let (_schema, n) = nodes(&["a", "b"]).await;
            let mut watch = n[1].watch();
            let change = DefinitionChange::put("rule", "r1", b"v".to_vec());
            let version = n[0].apply(vec![change.clone()]).await.expect("apply");
            let note = tokio::time::timeout(Duration::from_secs(5), watch.recv())
                .await
                .expect("the other node heard of the change within 5 s")
                .expect("notification");
            assert_eq!(
                note,
                Notification::Changed {
                    version,
                    changes: vec![change]
                }
            );
            let reset = n[0].reset().await.expect("reset");
            let note = tokio::time::timeout(Duration::from_secs(5), watch.recv())
                .await
                .expect("the other node heard of the reset within 5 s")
                .expect("notification");
            assert_eq!(note, Notification::Reset { version: reset });
            assert_eq!(
                n[1].definitions().await.expect("definitions").version,
                reset
            );
        });
    }

    /// Nodes leasing at once never hold the same item, and together lease every item once.
    #[test]
    fn nodes_leasing_at_once_never_hold_the_same_item() {
        run(async {
            let (_schema, n) = nodes(&["a", "b", "c"]).await;
            let now = now_ms();
            n[0].append(with_work("e", 300, now)).await.expect("append");
            async fn take(s: &dyn Store, now: i64) -> Vec<i64> {
                let mut ids = Vec::new();
                loop {
                    let got = s.lease(None, now, 7, 60_000).await.expect("lease");
                    if got.is_empty() {
                        return ids;
                    }
                    ids.extend(got.iter().map(|w| w.id));
                }
            }
            let (a, b, c) = tokio::join!(take(&n[0], now), take(&n[1], now), take(&n[2], now));
            let all: Vec<i64> = a.iter().chain(&b).chain(&c).copied().collect();
            let unique: HashSet<i64> = all.iter().copied().collect();
            assert_eq!(
                all.len(),
                300,
                "every item leased once: {} {} {}",
                a.len(),
                b.len(),
                c.len()
            );
            assert_eq!(unique.len(), 300, "no item leased twice");
        });
    }

    /// Consumers on several nodes never receive the same message within its visibility timeout.
    #[test]
    fn consumers_on_several_nodes_never_receive_the_same_message() {
        run(async {
            let (_schema, n) = nodes(&["a", "b", "c"]).await;
            let now = now_ms();
            let messages = (0..200).map(|i| message(&format!("m{i}"))).collect();
            n[0].queue_send("q".into(), messages, now, Vec::new())
                .await
                .expect("send");
            async fn take(s: &dyn Store, now: i64) -> Vec<String> {
                let mut ids = Vec::new();
                loop {
                    let opts = ReceiveOptions {
                        now_ms: now,
                        max: 10,
                        visibility_ms: 60_000,
                        fifo: false,
                        redrive: None,
                        retention_ms: 3_600_000,
                    };
                    let got = s.queue_receive("q".into(), opts).await.expect("receive");
                    if got.is_empty() {
                        return ids;
                    }
                    ids.extend(got.into_iter().map(|m| m.message_id));
                }
            }
            let (a, b, c) = tokio::join!(take(&n[0], now), take(&n[1], now), take(&n[2], now));
            let all: Vec<&String> = a.iter().chain(&b).chain(&c).collect();
            let unique: HashSet<&String> = all.iter().copied().collect();
            assert_eq!(all.len(), 200);
            assert_eq!(unique.len(), 200, "no message received twice");
        });
    }

    /// A FIFO group has one holder at a time across nodes: while one node holds its first
    /// message, the others receive nothing of the group.
    #[test]
    fn a_fifo_group_has_one_holder_across_nodes() {
        run(async {
            let (_schema, n) = nodes(&["a", "b"]).await;
            let now = now_ms();
            let mut messages = Vec::new();
            for i in 0..20 {
                let mut m = message(&format!("m{i}"));
                m.group_id = Some("g".into());
                m.dedup_id = Some(format!("d{i}"));
                messages.push(m);
            }
            n[0].queue_send("q.fifo".into(), messages, now, Vec::new())
                .await
                .expect("send");
            let opts = ReceiveOptions {
                now_ms: now,
                max: 1,
                visibility_ms: 60_000,
                fifo: true,
                redrive: None,
                retention_ms: 3_600_000,
            };
            let (a, b) = tokio::join!(
                n[0].queue_receive("q.fifo".into(), opts.clone()),
                n[1].queue_receive("q.fifo".into(), opts.clone())
            );
            let (a, b) = (a.expect("receive"), b.expect("receive"));
            assert_eq!(a.len() + b.len(), 1, "one holder of the group: {a:?} {b:?}");
            let held = a.into_iter().chain(b).next().expect("one message");
            assert_eq!(held.message_id, "m0");
            assert!(
                n[1].queue_receive("q.fifo".into(), opts.clone())
                    .await
                    .expect("receive")
                    .is_empty()
            );
            assert_eq!(
                n[1].queue_delete("q.fifo".into(), vec![held.receipt])
                    .await
                    .expect("delete"),
                vec![true]
            );
            let next = n[1]
                .queue_receive("q.fifo".into(), opts)
                .await
                .expect("receive");
            assert_eq!(next[0].message_id, "m1");
        });
    }

    /// `release_leases` after a node's restart ends that node's leases only: the other node's
    /// are held by a live process.
    #[test]
    fn release_leases_ends_only_this_nodes_leases() {
        run(async {
            let (schema, mut n) = nodes(&["a", "b"]).await;
            let now = now_ms();
            n[0].append(with_work("e", 4, now)).await.expect("append");
            let a = n[0].lease(None, now, 2, 3_600_000).await.expect("lease");
            let b = n[1].lease(None, now, 2, 3_600_000).await.expect("lease");
            assert_eq!((a.len(), b.len()), (2, 2));
            drop(n.remove(0));
            let a_again = open_node(&schema.0, "a", None).await;
            assert_eq!(a_again.release_leases(now).await.expect("release"), 2);
            let again = a_again.lease(None, now, 10, 60_000).await.expect("lease");
            let again: HashSet<i64> = again.iter().map(|w| w.id).collect();
            assert_eq!(
                again,
                a.iter().map(|w| w.id).collect(),
                "only a's items came back"
            );
            let refused = n[0]
                .ack(b.iter().map(|w| w.lease()).collect())
                .await
                .expect("ack");
            assert!(refused.is_empty(), "b's leases were left alone");
        });
    }

    /// Nodes writing versions of the same keys at once (several keys per write, in different
    /// orders, each write with an event and a queue message) all succeed (no deadlock), and
    /// leave exactly one latest version per key: the one with the highest position.
    #[test]
    fn object_writes_through_several_nodes_keep_one_latest_version_per_key() {
        use eddy_store::{ObjectChange, ObjectStore, ObjectWrite, QueueMessages, VersionQuery};
        use eddy_store_conformance::objects::version;
        run(async {
            let (_schema, n) = nodes(&["a", "b"]).await;
            async fn writer(s: &dyn Store, name: String) {
                for i in 0..15 {
                    let mut keys = ["k0", "k1", "k2", "k3"];
                    if i % 2 == 1 {
                        keys.reverse();
                    }
                    let mut append = with_work(&format!("{name}-{i}-"), 1, 0);
                    append.messages = vec![QueueMessages {
                        queue: "q".into(),
                        messages: vec![message(&format!("{name}-{i}"))],
                    }];
                    let w = ObjectWrite {
                        changes: keys
                            .iter()
                            .map(|k| ObjectChange::Put(version(k, &format!("{name}-{i}"), &[])))
                            .collect(),
                        upload: None,
                        append,
                    };
                    s.objects_write(w).await.expect("object write");
                }
            }
            let writers = (0..4).map(|w| {
                let s: &dyn Store = &n[w % 2];
                writer(s, format!("w{w}"))
            });
            futures_join(writers.collect()).await;
            let versions = n[0]
                .object_versions(VersionQuery {
                    bucket: "b".into(),
                    prefix: String::new(),
                    after: None,
                    limit: 10_000,
                })
                .await
                .expect("versions");
            assert_eq!(versions.len(), 4 * 4 * 15);
            for key in ["k0", "k1", "k2", "k3"] {
                let of_key: Vec<_> = versions.iter().filter(|v| v.key == key).collect();
                let latest: Vec<_> = of_key.iter().filter(|v| v.latest).collect();
                assert_eq!(latest.len(), 1, "one latest version of {key}");
                let top = of_key.iter().map(|v| v.seq).max().expect("versions");
                assert_eq!(
                    latest[0].seq, top,
                    "the latest of {key} has the highest position"
                );
            }
            assert_eq!(n[1].events(0, 1_000).await.expect("events").len(), 60);
            let stats = n[1].queue_stats("q".into(), now_ms()).await.expect("stats");
            assert_eq!(stats.visible, 60);
        });
    }

    /// Polls every future to its end, concurrently, on the current task.
    async fn futures_join<F: Future<Output = ()>>(futures: Vec<F>) {
        let mut futures: Vec<_> = futures.into_iter().map(Box::pin).map(Some).collect();
        std::future::poll_fn(|cx| {
            let mut pending = false;
            for f in &mut futures {
                if let Some(fut) = f {
                    if fut.as_mut().poll(cx).is_ready() {
                        *f = None;
                    } else {
                        pending = true;
                    }
                }
            }
            if pending {
                std::task::Poll::Pending
            } else {
                std::task::Poll::Ready(())
            }
        })
        .await;
    }

    /// Appends through several nodes at once are all kept, at distinct positions that follow
    /// commit order (a reader tailing the log by position never skips one).
    #[test]
    fn appends_through_several_nodes_take_distinct_positions() {
        run(async {
            let (_schema, n) = nodes(&["a", "b"]).await;
            let now = now_ms();
            async fn put(s: &dyn Store, name: &str, now: i64) {
                for i in 0..20 {
                    s.append(with_work(&format!("{name}{i}-"), 5, now))
                        .await
                        .expect("append");
                }
            }
            tokio::join!(put(&n[0], "a", now), put(&n[1], "b", now));
            let events = n[1].events(0, 1_000).await.expect("events");
            assert_eq!(events.len(), 200);
            let seqs: Vec<i64> = events.iter().map(|e| e.seq).collect();
            assert_eq!(
                seqs,
                (1..=200).collect::<Vec<_>>(),
                "positions 1..=200, no gaps"
            );
            assert_eq!(n[0].counts().await.expect("counts").work_items, 200);
        });
    }

    /// A connection the server ends is an error for the call that used it (never a panic), and
    /// the store recovers by itself with new connections.
    #[test]
    fn a_lost_connection_is_an_error_and_the_store_recovers() {
        run(async {
            let (_schema, n) = nodes(&["lost"]).await;
            let s = &n[0];
            let now = now_ms();
            s.append(with_work("e", 1, now)).await.expect("append");
            admin(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                 WHERE application_name = 'eddy lost' AND pid <> pg_backend_pid()",
            )
            .await;
            let mut errors = 0;
            let mut recovered = false;
            for _ in 0..20 {
                match s.counts().await {
                    Ok(c) => {
                        assert_eq!(c.events, 1);
                        recovered = true;
                        break;
                    }
                    // The connection the server ended: the database could not be reached.
                    Err(StoreError::Unavailable(_)) => errors += 1,
                    Err(e) => panic!("not an unavailable store: {e:?}"),
                }
            }
            assert!(recovered, "the store recovered ({errors} errors first)");
            s.append(with_work("f", 1, now))
                .await
                .expect("append after the loss");
            assert_eq!(s.counts().await.expect("counts").events, 2);
        });
    }

    /// A large apply (a manifest of many schedules) is one statement per kind of change, keeps
    /// the last change of a key that it changes twice, and reaches another node whole.
    #[test]
    fn a_large_apply_is_written_and_announced_whole() {
        run(async {
            let (_schema, n) = nodes(&["a", "b"]).await;
            let mut watch = n[1].watch();
            let mut changes: Vec<DefinitionChange> = (0..20_000)
                .map(|i| DefinitionChange::put("schedule", format!("s{i:05}"), vec![1; 100]))
                .collect();
            changes.push(DefinitionChange::delete("schedule", "s00007"));
            changes.push(DefinitionChange::put(
                "schedule",
                "s00008",
                b"last".to_vec(),
            ));
            let started = std::time::Instant::now();
            let version = n[0].apply(changes.clone()).await.expect("apply");
            eprintln!("20,002 changes applied in {:?}", started.elapsed());
            let defs = n[1].definitions().await.expect("definitions");
            assert_eq!(defs.version, version);
            assert_eq!(defs.items.len(), 19_999);
            assert!(!defs.items.iter().any(|(_, k, _)| k == "s00007"));
            let s8 = defs
                .items
                .iter()
                .find(|(_, k, _)| k == "s00008")
                .expect("s00008");
            assert_eq!(s8.2, b"last");
            let note = tokio::time::timeout(Duration::from_secs(5), watch.recv())
                .await
                .expect("announced within 5 s")
                .expect("notification");
            assert_eq!(note, Notification::Changed { version, changes });
        });
    }

    /// The first column of the first row of `sql`, as text.
    async fn show(sql: &str) -> String {
        let (client, connection) = tokio_postgres::connect(&super::server(), tokio_postgres::NoTls)
            .await
            .expect("connect");
        let driver = tokio::spawn(connection);
        let value: String = client.query_one(sql, &[]).await.expect(sql).get(0);
        drop(client);
        driver.await.expect("join").expect("connection");
        value
    }

    /// Object data is in the database: a blob written through one node reads whole through
    /// another; a sink dropped unfinished deletes its rows (no chunk of it is left behind); a
    /// reset wipes every blob.
    #[test]
    fn blobs_are_in_the_database_for_every_node() {
        use eddy_store_conformance::blobs::{MIB, pattern, read, write};
        run(async {
            let (schema, n) = nodes(&["a", "b"]).await;
            let (on_a, on_b) = (n[0].blob_store(), n[1].blob_store());
            let data = pattern(1, 2 * MIB + 1);
            let blob = write(&*on_a, &data).await;
            let got = read(&*on_b, &[(&blob.id, 0, blob.size)]).await;
            assert!(got.expect("read through the other node") == data);
            let rows = |table: &'static str| {
                let sql = format!("SELECT count(*)::text FROM {}.{table}", schema.0);
                async move { show(&sql).await }
            };
            assert_eq!(
                (rows("blobs").await, rows("blob_chunks").await),
                ("1".into(), "3".into())
            );
            let mut sink = on_a.create().await.expect("create");
            sink.write(bytes::Bytes::from(pattern(2, 3 * MIB)))
                .await
                .expect("write");
            drop(sink);
            // The rows go on a task of the store's.
            let deadline = std::time::Instant::now() + Duration::from_secs(5);
            while (rows("blobs").await, rows("blob_chunks").await) != ("1".into(), "3".into()) {
                assert!(
                    std::time::Instant::now() < deadline,
                    "a dropped sink's rows are still there after 5 s"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            n[1].reset().await.expect("reset");
            assert_eq!(
                (rows("blobs").await, rows("blob_chunks").await),
                ("0".into(), "0".into())
            );
            assert!(read(&*on_a, &[(&blob.id, 0, 1)]).await.is_err());
        });
    }

    /// `sslmode=require` encrypts, and verifies the server's certificate (chain and name)
    /// against `sslrootcert`: a store connected to `localhost` with the server's CA uses TLS; one
    /// that names another host, or trusts other roots, is refused. Runs where the test server has
    /// TLS on with a certificate for `localhost` that this user can read (Debian's own server:
    /// its "snakeoil" certificate); says so and passes elsewhere.
    #[test]
    fn tls_is_used_and_verified() {
        run(async {
            let (ssl, cert) = (show("SHOW ssl").await, show("SHOW ssl_cert_file").await);
            let pem = std::fs::read_to_string(&cert).unwrap_or_default();
            let base = super::server();
            let local = base.contains("@127.0.0.1:") || base.contains("@localhost:");
            if ssl != "on" || !pem.contains("BEGIN CERTIFICATE") || !local {
                eprintln!("skipped: the test server has no TLS certificate this check can read");
                return;
            }
            let schema = Shared(fresh_schema().await);
            let at = |host: &str, root: &str| {
                let uri = base
                    .replacen("@127.0.0.1:", &format!("@{host}:"), 1)
                    .replacen("@localhost:", &format!("@{host}:"), 1);
                let sep = if uri.contains('?') { '&' } else { '?' };
                let tls = format!("{uri}{sep}sslmode=require&sslrootcert={root}");
                eddy_store::postgres_uri_with_schema(&tls, &schema.0)
            };
            let open = |uri: String| async move {
                let options = eddy_store::PostgresStoreOptions {
                    node: "tls-check".into(),
                    ..Default::default()
                };
                eddy_store::PostgresStore::connect(&uri, options).await
            };
            let store = open(at("localhost", &cert))
                .await
                .expect("a TLS connection");
            store
                .apply(vec![DefinitionChange::put("k", "v", b"1".to_vec())])
                .await
                .expect("apply over TLS");
            let encrypted = show(
                "SELECT bool_and(s.ssl)::text FROM pg_stat_ssl s
                 JOIN pg_stat_activity a USING (pid)
                 WHERE a.application_name = 'eddy tls-check'",
            )
            .await;
            assert_eq!(
                encrypted, "true",
                "every connection of the store is encrypted"
            );
            drop(store);
            eprintln!("encrypted: {encrypted}");
            let Err(e) = open(at("127.0.0.1", &cert)).await else {
                panic!("a certificate for `localhost` was accepted for 127.0.0.1");
            };
            assert!(matches!(e, StoreError::Backend(_)), "{e}");
            assert!(e.to_string().contains("certificate"), "{e}");
            // Without `sslrootcert`: the built-in roots, which never signed a snakeoil certificate.
            let mut uri = at("localhost", "");
            uri = uri.replace("&sslrootcert=&", "&");
            let Err(e) = open(uri).await else {
                panic!("a server that no trusted root signed was accepted");
            };
            assert!(e.to_string().contains("certificate"), "{e}");
            eprintln!("refused as it should: {e}");
        });
    }

    /// One scheduler's append of tick `tick_ms` of `schedule`.
    fn fired(schedule: &str, tick_ms: i64) -> AppendBatch {
        let mut batch = with_work(&format!("{schedule}@{tick_ms}-"), 1, tick_ms);
        batch.work = vec![NewWork {
            event: 0,
            rule: schedule.into(),
            target: "t".into(),
        }];
        batch.ticks = vec![Tick {
            schedule: schedule.into(),
            tick_ms,
        }];
        batch
    }

    /// Two nodes firing the same ticks at once (the first tick of a schedule, with no row yet,
    /// and later ones): for each tick exactly one append is recorded, the other is refused whole
    /// with `TickTaken`, so each tick's event is in the log once.
    #[test]
    fn nodes_racing_the_same_tick_record_it_once() {
        run(async {
            let (_schema, n) = nodes(&["a", "b", "c"]).await;
            let rounds = 40;
            for round in 0..rounds {
                // Schedules 0..3 each fire their `round`-th tick on all three nodes at once.
                let mut appends = Vec::new();
                for schedule in 0..3 {
                    let name = format!("s{schedule}");
                    for node in &n {
                        appends.push(node.append(fired(&name, 60_000 * (round + 1))));
                    }
                }
                let answers = join_all(appends).await;
                for (schedule, three) in answers.chunks(3).enumerate() {
                    let won = three.iter().filter(|a| a.is_ok()).count();
                    assert_eq!(won, 1, "round {round}, s{schedule}: {three:?}");
                    for a in three {
                        if let Err(e) = a {
                            assert!(matches!(e, StoreError::TickTaken(_)), "{e:?}");
                        }
                    }
                }
            }
            let counts = n[0].counts().await.expect("counts");
            assert_eq!(counts.events, 3 * rounds as u64, "one event per tick");
            assert_eq!(counts.work_items, 3 * rounds as u64);
            let mut ticks = n[1].ticks().await.expect("ticks");
            ticks.sort();
            let last = 60_000 * rounds;
            assert_eq!(
                ticks,
                [
                    ("s0".to_owned(), last),
                    ("s1".to_owned(), last),
                    ("s2".to_owned(), last)
                ]
            );
        });
    }

    /// Waits up to `within` for exactly one of `leads` to lead; answers which.
    async fn one_leader(
        leads: &mut [tokio::sync::watch::Receiver<bool>],
        within: Duration,
    ) -> usize {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let leaders: Vec<usize> = (0..leads.len()).filter(|i| *leads[*i].borrow()).collect();
            assert!(leaders.len() <= 1, "two leaders at once: {leaders:?}");
            if let [one] = leaders[..] {
                return one;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no leader within {within:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Of two nodes on one schema, one leads a role; the other does not while it lives. When the
    /// leader's store is dropped (as when its process dies), the other leads within a few
    /// seconds. Roles are led independently.
    #[test]
    fn one_node_leads_and_hands_over_when_it_dies() {
        run(async {
            let (schema, mut n) = nodes(&["a", "b"]).await;
            let mut leads: Vec<_> = n.iter().map(|s| s.leadership("scheduler")).collect();
            let leader = one_leader(&mut leads, Duration::from_secs(5)).await;
            // Several rounds of retries: still one leader, the same.
            for _ in 0..25 {
                assert_eq!(one_leader(&mut leads, Duration::from_secs(1)).await, leader);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            // Another role has its own lock.
            let mut other: Vec<_> = n.iter().map(|s| s.leadership("janitor")).collect();
            one_leader(&mut other, Duration::from_secs(5)).await;
            let started = std::time::Instant::now();
            let dead = leads[leader].clone();
            drop(n.remove(leader));
            assert!(!*dead.borrow(), "a dropped store leads nothing");
            let mut survivor = vec![leads.remove(1 - leader)];
            one_leader(&mut survivor, Duration::from_secs(5)).await;
            eprintln!("leadership moved in {:?}", started.elapsed());
            // The dead node comes back: it does not take the lead from the survivor.
            let back = open_node(&schema.0, if leader == 0 { "a" } else { "b" }, None).await;
            let mut both = vec![survivor.remove(0), back.leadership("scheduler")];
            tokio::time::sleep(Duration::from_secs(2)).await;
            assert_eq!(one_leader(&mut both, Duration::from_secs(1)).await, 0);
        });
    }

    /// A leader whose connection the server ends reports `false` at once (well before any
    /// other node could take the lock), and leads again once it reconnects.
    #[test]
    fn a_leader_that_loses_its_connection_stops_leading_at_once() {
        run(async {
            let (_schema, n) = nodes(&["cut"]).await;
            let mut leads = n[0].leadership("scheduler");
            tokio::time::timeout(Duration::from_secs(5), leads.wait_for(|l| *l))
                .await
                .expect("leads within 5 s")
                .expect("followed");
            let cut = std::time::Instant::now();
            admin(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                 WHERE application_name = 'eddy cut' AND pid <> pg_backend_pid()",
            )
            .await;
            tokio::time::timeout(Duration::from_secs(1), leads.wait_for(|l| !*l))
                .await
                .expect("stopped leading within 1 s")
                .expect("followed");
            eprintln!("stopped leading {:?} after the cut", cut.elapsed());
            tokio::time::timeout(Duration::from_secs(10), leads.wait_for(|l| *l))
                .await
                .expect("leads again within 10 s")
                .expect("followed");
        });
    }

    /// The registry lists every node that sent a heartbeat, each once, on the database's clock.
    #[test]
    fn every_node_is_in_the_registry() {
        run(async {
            let (_schema, n) = nodes(&["a", "b", "c"]).await;
            let before = now_ms();
            for (i, s) in n.iter().enumerate() {
                let name = ["a", "b", "c"][i];
                let info = eddy_store::NodeInfo {
                    name: name.into(),
                    address: format!("10.0.0.{i}:4566"),
                    version: "test".into(),
                    started_ms: before,
                    last_seen_ms: 0,
                };
                s.heartbeat(info.clone()).await.expect("heartbeat");
                s.heartbeat(info).await.expect("heartbeat again");
            }
            let nodes = n[2].nodes().await.expect("nodes");
            let names: Vec<&str> = nodes.iter().map(|n| n.name.as_str()).collect();
            assert_eq!(names, ["a", "b", "c"]);
            for node in &nodes {
                assert!(
                    (node.last_seen_ms - now_ms()).abs() < 60_000,
                    "the database's clock: {node:?}"
                );
            }
        });
    }

    /// Every pooled connection busy past the store's wait: the call fails at once with
    /// `Unavailable` (retryable), not `Backend`, and the store works again when one is free.
    #[test]
    fn no_free_connection_in_time_is_unavailable() {
        run(async {
            let schema = Shared(fresh_schema().await);
            let uri = eddy_store::postgres_uri_with_schema(&super::server(), &schema.0);
            let store = eddy_store::PostgresStore::connect(
                &uri,
                eddy_store::PostgresStoreOptions {
                    node: "busy".into(),
                    connections: 1,
                    acquire_timeout: Duration::from_millis(300),
                    ..Default::default()
                },
            )
            .await
            .expect("open");
            // Another session holds the work table: the store's one connection waits behind it.
            let (client, connection) = tokio_postgres::connect(&uri, tokio_postgres::NoTls)
                .await
                .expect("connect");
            let driver = tokio::spawn(connection);
            client
                .batch_execute("BEGIN; LOCK TABLE work IN ACCESS EXCLUSIVE MODE")
                .await
                .expect("lock");
            let now = now_ms();
            let stuck = store.lease(None, now, 1, 60_000);
            let waiting = async {
                // Let the lease take the connection first.
                tokio::time::sleep(Duration::from_millis(200)).await;
                let started = std::time::Instant::now();
                let e = store.counts().await.expect_err("no connection was free");
                (e, started.elapsed())
            };
            let release = async {
                tokio::time::sleep(Duration::from_millis(1_500)).await;
                client.batch_execute("COMMIT").await.expect("unlock");
            };
            let (leased, (e, waited), ()) = tokio::join!(stuck, waiting, release);
            assert!(matches!(e, StoreError::Unavailable(_)), "{e:?}");
            assert!(waited < Duration::from_secs(1), "failed after {waited:?}");
            eprintln!("unavailable after {waited:?}: {e}");
            assert!(
                leased
                    .expect("the lease went through once unlocked")
                    .is_empty()
            );
            assert_eq!(store.counts().await.expect("counts again").events, 0);
            drop(client);
            driver.await.expect("join").expect("connection");
        });
    }

    /// Sends `signal` to a process; false when that is not possible here.
    fn signal(pid: i32, signal: &str) -> bool {
        std::process::Command::new("kill")
            .args([&format!("-{signal}"), &pid.to_string()])
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Resumes a stopped server process when the check ends, however it ends.
    struct Resume(i32);

    impl Drop for Resume {
        fn drop(&mut self) {
            let _resumed = signal(self.0, "CONT");
        }
    }

    /// A leader whose database stops answering without closing the connection (its server
    /// process frozen: a partition as the leader sees it) stops leading within the hold time,
    /// while its lock is still held: for that while no node leads, never two. Once the server
    /// process runs again, it finds the connection the leader gave up and ends, releasing the
    /// lock, and one node leads again. Runs where this user may signal the test server's
    /// processes (a local server run by this user, or root); says so and passes elsewhere.
    #[test]
    fn a_leader_whose_database_goes_quiet_stops_leading_within_its_hold() {
        run(async {
            let (_schema, n) = nodes(&["quiet", "other"]).await;
            let mut quiet = n[0].leadership("scheduler");
            tokio::time::timeout(Duration::from_secs(5), quiet.wait_for(|l| *l))
                .await
                .expect("leads within 5 s")
                .expect("followed");
            let other = n[1].leadership("scheduler");
            tokio::time::sleep(Duration::from_millis(1_500)).await;
            assert!(!*other.borrow(), "two leaders");
            // The leader's session is the one that pings (`SELECT 1`).
            let pid: i32 = show(
                "SELECT pid::text FROM pg_stat_activity
                 WHERE application_name = 'eddy quiet' AND query = 'SELECT 1'",
            )
            .await
            .parse()
            .expect("the leadership session's pid");
            if !signal(pid, "STOP") {
                eprintln!("skipped: cannot signal the test server's processes");
                return;
            }
            let resume = Resume(pid);
            let frozen = std::time::Instant::now();
            tokio::time::timeout(Duration::from_secs(5), quiet.wait_for(|l| !*l))
                .await
                .expect("stopped leading within 5 s of the database going quiet")
                .expect("followed");
            let stopped = frozen.elapsed();
            eprintln!("stopped leading {stopped:?} after the database went quiet");
            assert!(stopped <= Duration::from_millis(3_500), "{stopped:?}");
            // The lock is still held by the frozen session: nobody leads meanwhile.
            tokio::time::sleep(Duration::from_secs(1)).await;
            assert!(
                !*other.borrow() && !*quiet.borrow(),
                "a leader while the lock is held"
            );
            drop(resume);
            let resumed = std::time::Instant::now();
            // Either node may take the lock first once it is free, but only one.
            let mut both = [quiet, other];
            let leader = one_leader(&mut both, Duration::from_secs(10)).await;
            eprintln!(
                "{} leads {:?} after the resume",
                ["quiet", "other"][leader],
                resumed.elapsed()
            );
            for _ in 0..20 {
                assert_eq!(one_leader(&mut both, Duration::from_secs(1)).await, leader);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
    }

    /// A leader that goes silent without closing its connection (its process hung, or cut off
    /// from the database: here its runtime is simply no longer driven, so it neither pings nor
    /// answers) loses the lock when the server ends its idle session, and another node leads
    /// within seconds, not after the kernel's TCP timeouts. Once it runs again, it reports
    /// that it no longer leads.
    #[test]
    fn a_silent_leader_loses_the_lock_to_the_servers_idle_timeout() {
        let main = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let schema = Shared(main.block_on(fresh_schema()));
        // The leader runs only while this thread drives its runtime.
        let stalled = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let leader = stalled.block_on(open_node(&schema.0, "silent", None));
        let mut leads = leader.leadership("scheduler");
        stalled.block_on(async {
            tokio::time::timeout(Duration::from_secs(5), leads.wait_for(|l| *l))
                .await
                .expect("leads within 5 s")
                .expect("followed");
        });
        let silent = std::time::Instant::now();
        let other = main.block_on(open_node(&schema.0, "other", None));
        let mut other_leads = other.leadership("scheduler");
        main.block_on(async {
            tokio::time::sleep(Duration::from_secs(2)).await;
            assert!(
                !*other_leads.borrow(),
                "took the lead of a session still alive"
            );
            tokio::time::timeout(Duration::from_secs(20), other_leads.wait_for(|l| *l))
                .await
                .expect("the other node leads within 20 s")
                .expect("followed");
        });
        let moved = silent.elapsed();
        eprintln!("leadership moved {moved:?} after the leader went silent");
        assert!(moved < Duration::from_secs(12), "{moved:?}");
        stalled.block_on(async {
            tokio::time::timeout(Duration::from_secs(5), leads.wait_for(|l| !*l))
                .await
                .expect("the silent leader, running again, stopped leading within 5 s")
                .expect("followed");
        });
        drop(leader);
        drop(other);
        drop(stalled);
        drop(schema);
    }
}
