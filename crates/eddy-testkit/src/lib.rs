//! `Sandbox`: a real eddy server, in process, for black-box tests.
//!
//! [`Sandbox::start`] opens a fresh store in a temporary directory, binds the AWS endpoint and the
//! HTTP routes listener on `127.0.0.1:0`, and serves them until [`Sandbox::shutdown`] (or drop).
//! Tests talk to it over real HTTP: [`Sandbox::aws_call`] sends one AWS JSON 1.1 request.
//!
//! [`Sandbox::start_on_store`] serves a store the test opened itself (the power-loss test opens
//! one through [`powerloss::PowerLossDisk`]'s VFS).
//!
//! What it is not: a mock. Everything behind the listeners is the production code path, with
//! the store's fsyncs on.

pub mod powerloss;
pub mod tmpfs;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use eddy_server::clock::Clock;
use eddy_server::{App, Listeners, ServerConfig};
use eddy_store::Store;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::oneshot;

/// The `Authorization` header raw AWS requests carry (eddy does not check signatures yet, but
/// refuses AWS requests without one): the credential scope names `us-east-1` and `events`.
pub const AUTHORIZATION: &str = "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/events/\
                                 aws4_request, SignedHeaders=host, Signature=0";

/// A running eddy server on free ports with its own data directory.
pub struct Sandbox {
    /// The AWS-compatible endpoint.
    pub aws: SocketAddr,
    /// The HTTP routes listener.
    pub http: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    /// The data directory, when the sandbox made it (removed on drop).
    _dir: Option<tempfile::TempDir>,
}

impl Sandbox {
    /// Starts a server in development mode (reset endpoints enabled).
    pub async fn start() -> anyhow::Result<Self> {
        Self::start_with(|_| {}).await
    }

    /// Starts a server after `configure` adjusted its configuration.
    pub async fn start_with(configure: impl FnOnce(&mut ServerConfig)) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir().context("temporary data directory")?;
        Self::serve(dir.path().to_owned(), None, Some(dir), configure).await
    }

    /// Starts a server (development mode, system clock) on `store`, with `data_dir` as its data
    /// directory (the test keeps both; `config.store` is not looked at).
    pub async fn start_on_store(
        data_dir: &Path,
        store: Arc<dyn Store>,
        configure: impl FnOnce(&mut ServerConfig),
    ) -> anyhow::Result<Self> {
        Self::serve(data_dir.to_owned(), Some(store), None, configure).await
    }

    /// Serves the store in `data_dir` (`store`, or the one `App::open` opens); `owned` is the
    /// data directory when the sandbox made it.
    async fn serve(
        data_dir: PathBuf,
        store: Option<Arc<dyn Store>>,
        owned: Option<tempfile::TempDir>,
        configure: impl FnOnce(&mut ServerConfig),
    ) -> anyhow::Result<Self> {
        let mut config = ServerConfig::new(&data_dir);
        config.dev = true;
        // Tests keep their function code in temporary directories.
        config.code_roots = eddy_server::config::CodeRoots::new([std::env::temp_dir()])
            .map_err(anyhow::Error::msg)?;
        configure(&mut config);
        let listeners = Listeners {
            aws: tokio::net::TcpListener::bind("127.0.0.1:0").await?,
            http: tokio::net::TcpListener::bind("127.0.0.1:0").await?,
        };
        let (aws, http) = listeners.addrs()?;
        config.aws_endpoint = Some(format!("http://{aws}"));
        config.http_endpoint = Some(format!("http://{http}"));
        let app = match store {
            Some(store) => App::open_with_store(config, Clock::system(), store).await?,
            None => App::open(config).await?,
        };
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(eddy_server::serve(app, listeners, async move {
            let _dropped = stopped.await.is_err();
        }));
        Ok(Self {
            aws,
            http,
            stop: Some(stop),
            task: Some(task),
            _dir: owned,
        })
    }

    /// `http://127.0.0.1:PORT` of the AWS endpoint, for SDK clients.
    pub fn endpoint_url(&self) -> String {
        format!("http://{}", self.aws)
    }

    /// Sends one AWS JSON 1.1 request (`X-Amz-Target: target`) and returns the status and the
    /// parsed JSON answer.
    pub async fn aws_call(
        &self,
        target: &str,
        body: serde_json::Value,
    ) -> anyhow::Result<(u16, serde_json::Value)> {
        let headers =
            format!("X-Amz-Target: {target}\r\nContent-Type: application/x-amz-json-1.1\r\n");
        self.post("/", &headers, body).await
    }

    /// Sends `POST path` with a JSON body to one of eddy's own endpoints on the AWS listener
    /// (`/_eddy/clock`, ...) and returns the status and the parsed JSON answer.
    pub async fn eddy_post(
        &self,
        path: &str,
        body: serde_json::Value,
    ) -> anyhow::Result<(u16, serde_json::Value)> {
        self.post(path, "Content-Type: application/json\r\n", body)
            .await
    }

    async fn post(
        &self,
        path: &str,
        headers: &str,
        body: serde_json::Value,
    ) -> anyhow::Result<(u16, serde_json::Value)> {
        let body = body.to_string();
        let mut s = tokio::net::TcpStream::connect(self.aws).await?;
        let req = format!(
            "POST {path} HTTP/1.1\r\nHost: {}\r\n{headers}Authorization: {AUTHORIZATION}\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.aws,
            body.len()
        );
        s.write_all(req.as_bytes()).await?;
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).await?;
        let text = String::from_utf8_lossy(&raw);
        let (head, payload) = text.split_once("\r\n\r\n").context("no header end")?;
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .context("no status")?;
        let value = if payload.trim().is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_str(payload).context("answer is not JSON")?
        };
        Ok((status, value))
    }

    /// Stops the server and waits until it has drained.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _gone = stop.send(()).is_err();
        }
        if let Some(task) = self.task.take() {
            task.await??;
        }
        Ok(())
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _gone = stop.send(()).is_err();
        }
    }
}
