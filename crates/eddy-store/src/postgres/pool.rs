//! The PostgreSQL store's connections: a small pool of [`Client`]s, opened on first need and
//! kept while they stay healthy. A connection that broke (PostgreSQL restarted, the network cut)
//! is dropped, never handed out again; the next caller opens a fresh one, so the store recovers
//! by itself once PostgreSQL is back.
//!
//! Each connection keeps the statements it prepared ([`Statements`]): a statement prepared
//! once runs in one round trip afterwards (an unprepared one takes two: parse, then bind and
//! execute).

use std::collections::HashMap;
use std::sync::Mutex;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{Semaphore, SemaphorePermit, mpsc};
use tokio::task::AbortHandle;
use tokio_postgres::types::ToSql;
use tokio_postgres::{
    AsyncMessage, Client, Config, Connection, GenericClient, NoTls, Row, Socket, Statement,
    Transaction,
};

use super::tls::Tls;
use super::{PgError, PgResult};

/// At most `size` connections open at once; callers beyond that wait for one.
pub(crate) struct Pool {
    config: Config,
    /// How connections are encrypted (`None`: they are not).
    tls: Option<Tls>,
    /// Statements every new connection runs first (session settings).
    setup: String,
    idle: Mutex<Vec<(Client, Statements)>>,
    permits: Semaphore,
    /// How long [`Pool::get`] waits for a free connection.
    wait: std::time::Duration,
}

/// The statements one connection prepared, by their SQL.
#[derive(Default)]
pub(crate) struct Statements(HashMap<String, Statement>);

impl Statements {
    /// `sql` prepared on `client` (a connection, or a transaction on it): from the cache, or
    /// prepared now and kept.
    pub(crate) async fn get<C: GenericClient + Sync>(
        &mut self,
        client: &C,
        sql: &str,
    ) -> Result<Statement, PgError> {
        if let Some(st) = self.0.get(sql) {
            return Ok(st.clone());
        }
        let st = client.prepare(sql).await?;
        self.0.insert(sql.to_owned(), st.clone());
        Ok(st)
    }
}

/// A connection taken from the pool; it goes back when dropped, unless it broke.
pub(crate) struct Conn<'a> {
    client: Option<Client>,
    statements: Statements,
    pool: &'a Pool,
    _permit: SemaphorePermit<'a>,
}

impl Pool {
    pub(crate) fn new(
        config: Config,
        tls: Option<Tls>,
        setup: String,
        size: usize,
        wait: std::time::Duration,
    ) -> Self {
        Self {
            config,
            tls,
            setup,
            idle: Mutex::new(Vec::new()),
            permits: Semaphore::new(size.max(1)),
            wait,
        }
    }

    /// Opens a new connection outside the pool, its driver running on a task of the current
    /// runtime; with `notifications`, the task sends one wake-up per `NOTIFY` received.
    async fn open(
        &self,
        notifications: Option<mpsc::UnboundedSender<()>>,
    ) -> Result<(Client, AbortHandle), PgError> {
        let (client, driver) = match &self.tls {
            Some(tls) => {
                let (client, connection) = self.config.connect(tls.clone()).await?;
                (client, drive(connection, notifications))
            }
            None => {
                let (client, connection) = self.config.connect(NoTls).await?;
                (client, drive(connection, notifications))
            }
        };
        if !self.setup.is_empty() {
            client.batch_execute(&self.setup).await?;
        }
        Ok((client, driver))
    }

    /// A new connection for the pool.
    async fn connect(&self) -> Result<Client, PgError> {
        Ok(self.open(None).await?.0)
    }

    /// A connection of its own for `LISTEN`: the client, a wake-up per notification (the channel
    /// closes when the connection ends), and its driver task (to stop with the listener).
    pub(crate) async fn listener(
        &self,
    ) -> Result<(Client, mpsc::UnboundedReceiver<()>, AbortHandle), PgError> {
        let (wake, woken) = mpsc::unbounded_channel();
        let (client, driver) = self.open(Some(wake)).await?;
        Ok((client, woken, driver))
    }

    /// An idle healthy connection, or a new one; [`PgError::Unavailable`] when none is free
    /// within the pool's wait.
    pub(crate) async fn get(&self) -> Result<Conn<'_>, PgError> {
        let permit = tokio::time::timeout(self.wait, self.permits.acquire())
            .await
            .map_err(|_| {
                PgError::Unavailable(format!(
                    "no connection to the database was free within {:?}",
                    self.wait
                ))
            })?
            .map_err(|_| PgError::Closed)?;
        let idle = loop {
            let next = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
            match next {
                Some((c, _)) if c.is_closed() => continue,
                other => break other,
            }
        };
        let (client, statements) = match idle {
            Some(c) => c,
            None => (self.connect().await?, Statements::default()),
        };
        Ok(Conn {
            client: Some(client),
            statements,
            pool: self,
            _permit: permit,
        })
    }
}

/// Drives a connection until it ends; with `notifications`, sends a wake-up per `NOTIFY`.
fn drive<T>(
    mut connection: Connection<Socket, T>,
    notifications: Option<mpsc::UnboundedSender<()>>,
) -> AbortHandle
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    tokio::spawn(async move {
        loop {
            match std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                Some(Ok(AsyncMessage::Notification(_))) => {
                    if let Some(wake) = &notifications
                        && wake.send(()).is_err()
                    {
                        break;
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    tracing::debug!(error = %e, "a store connection ended");
                    break;
                }
                None => break,
            }
        }
    })
    .abort_handle()
}

impl Conn<'_> {
    /// The connection and its statements, apart: a transaction borrows the one while the other
    /// prepares statements on it.
    pub(crate) fn parts(&mut self) -> (&mut Client, &mut Statements) {
        (
            self.client
                .as_mut()
                .expect("a taken connection holds its client"),
            &mut self.statements,
        )
    }
}

/// Statement parameters.
pub(crate) type Params<'p> = [&'p (dyn ToSql + Sync)];

/// The queries of [`Conn`] and [`Tx`]: `sql` prepared once per connection, then run.
macro_rules! prepared_queries {
    () => {
        pub(crate) async fn query(&mut self, sql: &str, params: &Params<'_>) -> PgResult<Vec<Row>> {
            let (client, statements) = self.split();
            let st = statements.get(client, sql).await?;
            Ok(client.query(&st, params).await?)
        }

        pub(crate) async fn query_one(&mut self, sql: &str, params: &Params<'_>) -> PgResult<Row> {
            let (client, statements) = self.split();
            let st = statements.get(client, sql).await?;
            Ok(client.query_one(&st, params).await?)
        }

        #[allow(
            dead_code,
            reason = "not every kind of query runs outside a transaction"
        )]
        pub(crate) async fn query_opt(
            &mut self,
            sql: &str,
            params: &Params<'_>,
        ) -> PgResult<Option<Row>> {
            let (client, statements) = self.split();
            let st = statements.get(client, sql).await?;
            Ok(client.query_opt(&st, params).await?)
        }

        pub(crate) async fn execute(&mut self, sql: &str, params: &Params<'_>) -> PgResult<u64> {
            let (client, statements) = self.split();
            let st = statements.get(client, sql).await?;
            Ok(client.execute(&st, params).await?)
        }
    };
}

impl<'a> Conn<'a> {
    fn split(&mut self) -> (&Client, &mut Statements) {
        (
            self.client
                .as_ref()
                .expect("a taken connection holds its client"),
            &mut self.statements,
        )
    }

    prepared_queries!();

    /// Begins a transaction (read committed).
    pub(crate) async fn begin(&mut self) -> PgResult<Tx<'_>> {
        let (client, statements) = self.parts();
        Ok(Tx {
            tx: client.transaction().await?,
            statements,
        })
    }

    /// Begins a read-only transaction that reads one snapshot throughout.
    pub(crate) async fn begin_snapshot(&mut self) -> PgResult<Tx<'_>> {
        let (client, statements) = self.parts();
        let tx = client
            .build_transaction()
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await?;
        Ok(Tx { tx, statements })
    }
}

/// A transaction on a pooled connection, running its statements prepared. Dropped without
/// [`Tx::commit`], it rolls back.
pub(crate) struct Tx<'a> {
    tx: Transaction<'a>,
    statements: &'a mut Statements,
}

impl Tx<'_> {
    fn split(&mut self) -> (&Transaction<'_>, &mut Statements) {
        (&self.tx, &mut *self.statements)
    }

    prepared_queries!();

    pub(crate) async fn batch_execute(&self, sql: &str) -> PgResult<()> {
        Ok(self.tx.batch_execute(sql).await?)
    }

    pub(crate) async fn commit(self) -> PgResult<()> {
        Ok(self.tx.commit().await?)
    }
}

impl std::ops::Deref for Conn<'_> {
    type Target = Client;

    fn deref(&self) -> &Client {
        self.client
            .as_ref()
            .expect("a taken connection holds its client")
    }
}

impl std::ops::DerefMut for Conn<'_> {
    fn deref_mut(&mut self) -> &mut Client {
        self.client
            .as_mut()
            .expect("a taken connection holds its client")
    }
}

impl Drop for Conn<'_> {
    fn drop(&mut self) {
        if let Some(client) = self.client.take()
            && !client.is_closed()
        {
            self.pool
                .idle
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((client, std::mem::take(&mut self.statements)));
        }
    }
}
