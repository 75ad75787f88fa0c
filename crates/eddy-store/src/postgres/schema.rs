//! The PostgreSQL store's schema and its migrations: a list of numbered steps, each run once, in
//! order, recorded in `eddy_schema`. Opening a store runs the steps it has not seen yet inside
//! one transaction that first takes an advisory lock (scoped to the schema the store lives in),
//! so nodes starting at once migrate one after another and the later ones find nothing to do.
//! A step, once released, is never edited: a change is a new step.
//!
//! Text columns that something is ordered by use the `"C"` collation (byte order), as the
//! embedded store orders them, whatever the database's locale.

use tokio_postgres::Client;

use super::PgError;

/// The migration steps; step `n` is `MIGRATIONS[n - 1]`.
const MIGRATIONS: &[&str] = &[
    // 1: everything of the first store contract.
    r#"
CREATE FUNCTION eddy_now_ms() RETURNS bigint LANGUAGE sql STABLE
    AS $$ SELECT (extract(epoch FROM now()) * 1000)::bigint $$;
CREATE TABLE events (
    seq bigint PRIMARY KEY,
    id text NOT NULL,
    bus text NOT NULL,
    time_ms bigint NOT NULL,
    ingested_ms bigint NOT NULL,
    hops integer NOT NULL DEFAULT 0,
    body text NOT NULL
);
CREATE INDEX events_by_bus_time ON events (bus, time_ms, seq);
-- One row: `top_seq` is the last log position handed out (appends take positions from it under
-- its row lock, so positions follow commit order across nodes), `missing` how many positions up
-- to it hold no event any more (expired or reset): the log holds `top_seq - missing` events.
CREATE TABLE event_log (
    id integer PRIMARY KEY CHECK (id = 1),
    top_seq bigint NOT NULL,
    missing bigint NOT NULL
);
INSERT INTO event_log VALUES (1, 0, 0);
CREATE TABLE work (
    id bigserial PRIMARY KEY,
    event_seq bigint NOT NULL,
    rule text NOT NULL,
    target text NOT NULL,
    due_ms bigint NOT NULL,
    attempts bigint NOT NULL DEFAULT 0,
    leased boolean NOT NULL DEFAULT false,
    created_ms bigint NOT NULL,
    token bigint NOT NULL DEFAULT 0,
    holder text
);
CREATE INDEX work_by_state ON work (leased, due_ms, id);
CREATE INDEX work_by_event ON work (event_seq);
CREATE TABLE dead (
    id bigserial PRIMARY KEY,
    work_id bigint NOT NULL,
    event_seq bigint NOT NULL,
    rule text NOT NULL,
    target text NOT NULL,
    attempts bigint NOT NULL,
    reason text NOT NULL,
    dead_ms bigint NOT NULL
);
CREATE INDEX dead_by_time ON dead (dead_ms, id);
CREATE INDEX dead_by_event ON dead (event_seq);
CREATE TABLE messages (
    id bigserial PRIMARY KEY,
    queue text NOT NULL,
    message_id text NOT NULL,
    body text NOT NULL,
    attributes text NOT NULL,
    sent_ms bigint NOT NULL,
    visible_ms bigint NOT NULL,
    receive_count bigint NOT NULL DEFAULT 0,
    first_receive_ms bigint,
    receipt text,
    group_id text,
    dedup_id text
);
CREATE INDEX messages_by_visibility ON messages (queue, visible_ms, id);
CREATE INDEX messages_by_age ON messages (queue, sent_ms);
CREATE INDEX messages_in_order ON messages (queue, id);
CREATE TABLE dedup (
    queue text NOT NULL,
    dedup_id text NOT NULL,
    message_id text NOT NULL,
    seq bigint NOT NULL,
    sent_ms bigint NOT NULL,
    PRIMARY KEY (queue, dedup_id)
);
CREATE INDEX dedup_by_age ON dedup (queue, sent_ms);
CREATE TABLE log_events (
    seq bigserial PRIMARY KEY,
    grp text NOT NULL,
    stream text COLLATE "C" NOT NULL,
    ts_ms bigint NOT NULL,
    ingest_ms bigint NOT NULL,
    message text NOT NULL
);
CREATE INDEX log_events_by_time ON log_events (grp, ts_ms, seq);
CREATE TABLE ticks (
    schedule text PRIMARY KEY,
    tick_ms bigint NOT NULL
);
CREATE TABLE definitions (
    kind text COLLATE "C" NOT NULL,
    key text COLLATE "C" NOT NULL,
    value bytea NOT NULL,
    PRIMARY KEY (kind, key)
);
-- One row: the version of the last commit that changed definitions (its row lock orders
-- applies, so versions follow commit order across nodes).
CREATE TABLE definitions_version (
    id integer PRIMARY KEY CHECK (id = 1),
    version bigint NOT NULL
);
INSERT INTO definitions_version VALUES (1, 0);
-- The change feed: what each version changed (or that it was a reset), read by every node's
-- watchers after a notification, or when they catch up.
CREATE TABLE definition_log (
    version bigint PRIMARY KEY,
    reset boolean NOT NULL,
    kinds text[] NOT NULL,
    keys text[] NOT NULL,
    vals bytea[] NOT NULL
);
"#,
    // 2: the node registry (`cluster.rs`).
    r#"
CREATE TABLE nodes (
    name text COLLATE "C" PRIMARY KEY,
    address text NOT NULL,
    version text NOT NULL,
    started_ms bigint NOT NULL,
    last_seen_ms bigint NOT NULL
);
"#,
    // 3: the object index (`objects.rs`).
    r#"
CREATE SEQUENCE object_seq;
CREATE TABLE objects (
    bucket text COLLATE "C" NOT NULL,
    key text COLLATE "C" NOT NULL,
    version_id text COLLATE "C" NOT NULL,
    seq bigint NOT NULL,
    latest boolean NOT NULL,
    delete_marker boolean NOT NULL,
    blobs text NOT NULL,
    inline bytea,
    size bigint NOT NULL,
    etag text NOT NULL,
    modified_ms bigint NOT NULL,
    meta text NOT NULL,
    PRIMARY KEY (bucket, key, version_id)
);
CREATE INDEX objects_by_key ON objects (bucket, key, seq DESC);
CREATE INDEX objects_listed ON objects (bucket, key) WHERE latest AND NOT delete_marker;
CREATE TABLE uploads (
    upload_id text COLLATE "C" PRIMARY KEY,
    bucket text COLLATE "C" NOT NULL,
    key text COLLATE "C" NOT NULL,
    initiated_ms bigint NOT NULL,
    meta text NOT NULL
);
CREATE INDEX uploads_by_key ON uploads (bucket, key, initiated_ms, upload_id);
CREATE TABLE parts (
    upload_id text COLLATE "C" NOT NULL,
    part_number bigint NOT NULL,
    blob_id text NOT NULL,
    blob_size bigint NOT NULL,
    etag text NOT NULL,
    modified_ms bigint NOT NULL,
    meta text NOT NULL,
    PRIMARY KEY (upload_id, part_number)
);
CREATE TABLE blob_refs (
    id text COLLATE "C" PRIMARY KEY,
    refs bigint NOT NULL
);
"#,
    // 4: object data (`blobs.rs`).
    r#"
CREATE TABLE blobs (
    id text COLLATE "C" PRIMARY KEY,
    size bigint NOT NULL,
    chunk integer NOT NULL,
    finished boolean NOT NULL,
    created_ms bigint NOT NULL
);
CREATE TABLE blob_chunks (
    blob text COLLATE "C" NOT NULL REFERENCES blobs (id) ON DELETE CASCADE,
    n integer NOT NULL,
    data bytea NOT NULL,
    PRIMARY KEY (blob, n)
);
-- Out of line, not compressed: read in slices (see `blobs.rs`).
ALTER TABLE blob_chunks ALTER COLUMN data SET STORAGE EXTERNAL;
"#,
];

/// Brings the schema of the connection's `search_path` up to date (see the module docs).
pub(crate) async fn migrate(client: &mut Client) -> Result<(), PgError> {
    let tx = client.transaction().await?;
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended('eddy.migrate.' || current_schema(), 0))",
        &[],
    )
    .await?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS eddy_schema (version integer NOT NULL)")
        .await?;
    let done: i64 = tx
        .query_one(
            "SELECT coalesce(max(version), 0)::bigint FROM eddy_schema",
            &[],
        )
        .await?
        .get(0);
    for (n, step) in MIGRATIONS.iter().enumerate() {
        let version = n as i64 + 1;
        if version <= done {
            continue;
        }
        tx.batch_execute(step).await?;
        tx.execute(
            "INSERT INTO eddy_schema (version) VALUES ($1::bigint::integer)",
            &[&version],
        )
        .await?;
        tracing::info!(version, "store schema migrated");
    }
    tx.commit().await?;
    Ok(())
}
