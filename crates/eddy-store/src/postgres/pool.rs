//! The PostgreSQL store's connections: a small pool of [`Client`]s, opened on first need and
//! kept while they stay healthy. A connection that broke (PostgreSQL restarted, the network cut)
//! is dropped, never handed out again; the next caller opens a fresh one, so the store recovers
//! by itself once PostgreSQL is back.

use std::sync::Mutex;

use tokio::sync::{Semaphore, SemaphorePermit};
use tokio_postgres::{Client, Config, NoTls};

use super::PgError;

/// At most `size` connections open at once; callers beyond that wait for one.
pub(crate) struct Pool {
    config: Config,
    /// Statements every new connection runs first (session settings).
    setup: String,
    idle: Mutex<Vec<Client>>,
    permits: Semaphore,
}

/// A connection taken from the pool; it goes back when dropped, unless it broke.
pub(crate) struct Conn<'a> {
    client: Option<Client>,
    pool: &'a Pool,
    _permit: SemaphorePermit<'a>,
}

impl Pool {
    pub(crate) fn new(config: Config, setup: String, size: usize) -> Self {
        Self {
            config,
            setup,
            idle: Mutex::new(Vec::new()),
            permits: Semaphore::new(size.max(1)),
        }
    }

    /// Opens a new connection outside the pool (the feed's listener holds its own), its driver
    /// running on a task of the current runtime.
    pub(crate) async fn connect(&self) -> Result<Client, PgError> {
        let (client, connection) = self.config.connect(NoTls).await?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "a store connection ended");
            }
        });
        if !self.setup.is_empty() {
            client.batch_execute(&self.setup).await?;
        }
        Ok(client)
    }

    /// An idle healthy connection, or a new one.
    pub(crate) async fn get(&self) -> Result<Conn<'_>, PgError> {
        let permit = self.permits.acquire().await.map_err(|_| PgError::Closed)?;
        let idle = loop {
            let next = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
            match next {
                Some(c) if c.is_closed() => continue,
                other => break other,
            }
        };
        let client = match idle {
            Some(c) => c,
            None => self.connect().await?,
        };
        Ok(Conn {
            client: Some(client),
            pool: self,
            _permit: permit,
        })
    }

    /// The settings connections are opened with.
    pub(crate) fn config(&self) -> &Config {
        &self.config
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
                .push(client);
        }
    }
}
