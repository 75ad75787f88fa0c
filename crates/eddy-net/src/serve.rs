//! The accept loop and one task per connection (HTTP/1.1 through hyper), with [`Limits`].
//!
//! Each connection is in one of three phases, tracked from its socket reads and its requests:
//! *idle* (a kept-alive connection with no request in flight and no byte of the next one yet;
//! cut after [`Limits::idle_timeout`]), *head* (a new connection, or bytes of a request arrived
//! but its head is not complete; cut [`Limits::header_timeout`] after the connection opened or the
//! first byte arrived), or *busy* (a request is being answered; its
//! body must arrive within [`Limits::body_timeout`] of the handler starting to read it, see
//! [`crate::body`]). A connection cut in the idle or head phase has no request in flight, so
//! nothing is lost but the socket.
//!
//! At most [`Limits::max_connections`] connections are served at once. When a client connects at
//! the cap, the connections that have waited at least a quarter of a second for a request (no byte of one
//! received) close to make room, as their clients would reconnect anyway; while every connection
//! is busy the new client waits for a slot (further ones in the kernel's backlog).

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, Semaphore, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tower::ServiceExt;

use crate::body::{DeadlineBody, Finish};

/// What one listener allows its clients. The defaults are generous enough that a developer
/// never meets them and tight enough that a hostile client cannot hold eddy's memory or
/// connections for long.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Connections served at once; more wait to be accepted.
    pub max_connections: usize,
    /// How long a request's head may take, from its first byte (or from the connection's
    /// opening, for its first request).
    pub header_timeout: Duration,
    /// How long a kept-alive connection may wait for its next request.
    pub idle_timeout: Duration,
    /// How long a request's body may take, from when its handler starts reading it.
    pub body_timeout: Duration,
    /// The largest request head (request line and headers), in bytes.
    pub max_header_bytes: usize,
    /// How long a graceful shutdown waits for requests in flight.
    pub drain_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_connections: 1024,
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            body_timeout: Duration::from_secs(60),
            max_header_bytes: 64 * 1024,
            drain_timeout: Duration::from_secs(10),
        }
    }
}

/// How long a connection must have waited for a request before it may be closed to make room
/// for a new one at the connection cap (a client between two quick requests keeps its own).
const EVICT_AFTER: Duration = Duration::from_millis(250);

/// The address a request arrived on (the accepting socket's local address), in every request's
/// extensions; beside it, axum's `ConnectInfo<SocketAddr>` carries the peer's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalAddr(pub SocketAddr);

/// Serves `router` on `listener` within `limits` until `shutdown` completes, then stops
/// accepting, lets requests in flight finish for at most [`Limits::drain_timeout`], and returns.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _closed = stop_tx.send(true).is_err();
    });
    let limits = Arc::new(limits);
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    // Bumped when a client waits for a slot: connections waiting idle for a request close.
    let (pressure, pressure_rx) = watch::channel(0u64);
    let mut conns = JoinSet::new();
    let mut stop = stop_rx.clone();
    let mut waiting: Option<(TcpStream, SocketAddr)> = None;
    loop {
        tokio::select! {
            biased;
            () = stopped(&mut stop) => break,
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            accepted = listener.accept(), if waiting.is_none() => match accepted {
                Ok(client) => {
                    if slots.available_permits() == 0 {
                        pressure.send_modify(|p| *p += 1);
                    }
                    waiting = Some(client);
                }
                Err(e) => accept_failed(&e).await,
            },
            // Still no slot: ask again (connections may have waited long enough by now).
            () = tokio::time::sleep(EVICT_AFTER), if waiting.is_some() => {
                pressure.send_modify(|p| *p += 1);
            }
            permit = slots.clone().acquire_owned(), if waiting.is_some() => {
                let (Ok(permit), Some((stream, peer))) = (permit, waiting.take()) else {
                    break;
                };
                let local = stream.local_addr().unwrap_or(peer);
                let (router, limits) = (router.clone(), limits.clone());
                let (stop, pressure) = (stop_rx.clone(), pressure_rx.clone());
                conns.spawn(async move {
                    connection(stream, peer, local, router, &limits, stop, pressure).await;
                    drop(permit);
                });
            }
        }
    }
    drop(listener);
    let drained = tokio::time::timeout(limits.drain_timeout, async {
        while conns.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::info!(
            connections = conns.len(),
            "closing connections still busy after the shutdown drain"
        );
    }
    conns.shutdown().await;
    Ok(())
}

/// An accept that failed: a connection that went away before it was accepted is nothing;
/// running out of file descriptors waits a little for some to be released, rather than
/// spinning.
async fn accept_failed(e: &io::Error) {
    use io::ErrorKind::*;
    if matches!(
        e.kind(),
        ConnectionAborted | ConnectionReset | ConnectionRefused
    ) {
        return;
    }
    tracing::warn!(error = %e, "cannot accept a connection");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// Serves one connection until it closes, breaks a limit, or shutdown drains it.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    local: SocketAddr,
    router: Router,
    limits: &Limits,
    mut stop: watch::Receiver<bool>,
    mut pressure: watch::Receiver<u64>,
) {
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Watched {
        io: stream,
        activity: activity.clone(),
    });
    let body_timeout = limits.body_timeout;
    let on_request = activity.clone();
    let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        on_request.begin();
        let mut req = req.map(|b| Body::new(DeadlineBody::new(b, body_timeout)));
        req.extensions_mut().insert(ConnectInfo(peer));
        req.extensions_mut().insert(LocalAddr(local));
        let (router, activity) = (router.clone(), on_request.clone());
        async move {
            let res = match router.oneshot(req).await {
                Ok(res) => res,
                Err(never) => match never {},
            };
            Ok::<_, Infallible>(res.map(|b| Body::new(Finish::new(b, activity))))
        }
    });
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        // The phases above replace hyper's own head timer, which would also cut a kept-alive
        // connection after the head timeout.
        .header_read_timeout(None)
        .max_header_size(limits.max_header_bytes.max(8 * 1024));
    let conn = http.serve_connection(io, service);
    tokio::pin!(conn);
    let mut draining = false;
    loop {
        let deadline = activity.deadline(limits);
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(%peer, error = %e, "connection ended with an error");
                }
                return;
            }
            () = sleep_until(deadline) => {
                if activity.deadline(limits).is_some_and(|d| d <= Instant::now()) {
                    tracing::debug!(%peer, "connection cut: no complete request in time");
                    return;
                }
            }
            () = activity.changed.notified() => {}
            Ok(()) = pressure.changed() => {
                if activity.evictable() {
                    tracing::debug!(%peer, "idle connection closed to make room for a new one");
                    return;
                }
            }
            () = stopped(&mut stop), if !draining => {
                draining = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

/// Completes once shutdown was asked for (or its sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _gone = stop.wait_for(|s| *s).await.is_err();
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// Where a connection is between requests (see the module's documentation).
#[derive(Debug, Clone, Copy)]
enum Phase {
    /// No byte of a request yet, since `since`: a new connection (`first`), or a kept-alive one.
    Waiting { since: Instant, first: bool },
    /// Part of a request's head arrived; its time runs from `since`.
    Head(Instant),
    /// Requests are being answered.
    Busy(usize),
}

/// A connection's phase, updated by its socket reads and its requests, watched by its task.
struct Activity {
    phase: Mutex<Phase>,
    changed: Notify,
}

impl Activity {
    fn new() -> Self {
        Self {
            phase: Mutex::new(Phase::Waiting {
                since: Instant::now(),
                first: true,
            }),
            changed: Notify::new(),
        }
    }

    fn set(&self, f: impl FnOnce(Phase) -> Phase) {
        let mut phase = self.phase.lock().unwrap_or_else(|e| e.into_inner());
        let before = *phase;
        *phase = f(before);
        let wake = !matches!((before, *phase), (Phase::Busy(_), Phase::Busy(_)));
        drop(phase);
        if wake {
            self.changed.notify_one();
        }
    }

    /// Bytes arrived: a waiting connection starts a request head (a new connection's first
    /// head is timed from the connection's opening).
    fn read(&self) {
        let mut phase = self.phase.lock().unwrap_or_else(|e| e.into_inner());
        if let Phase::Waiting { since, first } = *phase {
            *phase = Phase::Head(if first { since } else { Instant::now() });
            drop(phase);
            self.changed.notify_one();
        }
    }

    /// Whether no byte of a request has arrived for [`EVICT_AFTER`] since the last answer (or
    /// the opening): such a connection can be closed to make room without losing anything.
    fn evictable(&self) -> bool {
        matches!(
            *self.phase.lock().unwrap_or_else(|e| e.into_inner()),
            Phase::Waiting { since, .. } if since.elapsed() >= EVICT_AFTER
        )
    }

    /// A request's head is complete and its handler runs.
    fn begin(&self) {
        self.set(|p| match p {
            Phase::Busy(n) => Phase::Busy(n + 1),
            _ => Phase::Busy(1),
        });
    }

    /// A response was sent (or abandoned).
    fn end(&self) {
        self.set(|p| match p {
            Phase::Busy(n) if n > 1 => Phase::Busy(n - 1),
            Phase::Busy(_) => Phase::Waiting {
                since: Instant::now(),
                first: false,
            },
            other => other,
        });
    }

    fn deadline(&self, limits: &Limits) -> Option<Instant> {
        match *self.phase.lock().unwrap_or_else(|e| e.into_inner()) {
            Phase::Waiting { since, first: true } | Phase::Head(since) => {
                Some(since + limits.header_timeout)
            }
            Phase::Waiting { since, .. } => Some(since + limits.idle_timeout),
            Phase::Busy(_) => None,
        }
    }
}

/// A response body's end (or drop) ends its request's busy phase.
pub(crate) struct Ended(Option<Arc<Activity>>);

impl Ended {
    pub(crate) fn now(&mut self) {
        if let Some(a) = self.0.take() {
            a.end();
        }
    }
}

impl Drop for Ended {
    fn drop(&mut self) {
        self.now();
    }
}

impl Finish {
    fn new(inner: Body, activity: Arc<Activity>) -> Self {
        Self::wrap(inner, Ended(Some(activity)))
    }
}

/// The socket, reporting reads to the connection's [`Activity`].
struct Watched {
    io: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let r = Pin::new(&mut this.io).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.activity.read();
        }
        r
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}
