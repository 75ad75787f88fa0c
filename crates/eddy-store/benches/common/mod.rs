//! What the PostgreSQL benches share: the server they run against (`EDDY_TEST_PG`), a fresh
//! schema on it for each store, and their positional numeric arguments.

/// The PostgreSQL server: `EDDY_TEST_PG`, or the machine's own.
pub fn server() -> String {
    std::env::var("EDDY_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// The bench's numeric arguments: `arg(i, default)` is the `i`th, or `default`.
pub fn args() -> impl Fn(usize, usize) -> usize {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    move |i, default| args.get(i).copied().unwrap_or(default)
}

/// Runs `sql` on `server`.
async fn admin(server: &str, sql: &str) {
    let (client, connection) = tokio_postgres::connect(server, tokio_postgres::NoTls)
        .await
        .expect("connect to EDDY_TEST_PG");
    let driver = tokio::spawn(connection);
    client.batch_execute(sql).await.expect(sql);
    drop(client);
    driver.await.expect("join").expect("connection");
}

/// Creates schema `schema` on `server` (dropping what an earlier run left); answers the store
/// URI on it.
pub async fn fresh_schema(server: &str, schema: &str) -> String {
    admin(
        server,
        &format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"),
    )
    .await;
    eddy_store::postgres_uri_with_schema(server, schema)
}

/// Drops schema `schema` of `server`.
pub async fn drop_schema(server: &str, schema: &str) {
    admin(server, &format!("DROP SCHEMA {schema} CASCADE")).await;
}
