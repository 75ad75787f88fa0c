//! Request bodies: read against a limit the caller decides before the first byte (a declared
//! `Content-Length` over it is refused without reading anything), within the listener's body
//! timeout, and within a [`BodyBudget`]: the memory every large body in flight may hold together.
//! A request whose body would not fit waits for others to finish (first come, first served, for
//! at most [`BUDGET_WAIT`]), so a burst of big uploads costs time, not memory; and while some wait,
//! a body arriving slower than [`MIN_RATE`] is cut, so slow clients cannot keep the budget.

use std::error::Error as StdError;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::HeaderMap;
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Sleep;

use crate::serve::Ended;

type BoxError = Box<dyn StdError + Send + Sync>;

/// Bodies declared this long or shorter are read outside the [`BodyBudget`]: the connection cap
/// bounds what they can hold.
pub const SMALL_BODY: usize = 64 * 1024;

/// Why a body could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyError {
    /// Longer than `limit` bytes (declared, or counted while reading).
    TooLarge { limit: usize },
    /// Not complete within the listener's body timeout.
    TimedOut,
    /// The client broke off or sent a malformed body.
    Failed(String),
    /// Large bodies in flight hold the whole [`BodyBudget`]; this one waited [`BUDGET_WAIT`].
    Busy,
}

impl std::fmt::Display for BodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::TooLarge { limit } => write!(f, "the request body is larger than {limit} bytes"),
            Self::TimedOut => f.write_str("the request body did not arrive in time"),
            Self::Failed(e) => write!(f, "cannot read the request body: {e}"),
            Self::Busy => f.write_str(
                "eddy is reading other large request bodies and has no memory left for this \
                 one; retry shortly",
            ),
        }
    }
}

impl StdError for BodyError {}

/// The error a body gives when its deadline passed.
#[derive(Debug)]
struct BodyTimedOut;

impl std::fmt::Display for BodyTimedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("request body timed out")
    }
}

impl StdError for BodyTimedOut {}

/// The memory large request bodies in flight may hold together, shared by the requests of one
/// or several listeners.
#[derive(Debug, Clone)]
pub struct BodyBudget {
    kib: Arc<Semaphore>,
    capacity_kib: u32,
    /// Bodies waiting for their share.
    waiting: Arc<AtomicUsize>,
}

impl BodyBudget {
    /// A budget of `bytes` (at least 1 KiB).
    pub fn new(bytes: usize) -> Self {
        let capacity_kib = u32::try_from(bytes / 1024).unwrap_or(u32::MAX).max(1);
        Self {
            kib: Arc::new(Semaphore::new(capacity_kib as usize)),
            capacity_kib,
            waiting: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// The budget's size in bytes.
    pub fn capacity(&self) -> usize {
        self.capacity_kib as usize * 1024
    }

    /// Waits (first come, first served; at most [`BUDGET_WAIT`]) until `bytes` (at most the
    /// whole budget) are free, and holds them until the guard is dropped.
    async fn reserve(&self, bytes: usize) -> Result<BodyGuard, BodyError> {
        let kib = u32::try_from(bytes.div_ceil(1024))
            .unwrap_or(u32::MAX)
            .clamp(1, self.capacity_kib);
        self.waiting.fetch_add(1, Ordering::Relaxed);
        let got = tokio::time::timeout(BUDGET_WAIT, self.kib.clone().acquire_many_owned(kib)).await;
        self.waiting.fetch_sub(1, Ordering::Relaxed);
        match got {
            Ok(Ok(permit)) => Ok(BodyGuard {
                _permit: Some(permit),
            }),
            // Timed out (the semaphore is never closed).
            _ => Err(BodyError::Busy),
        }
    }

    /// Completes once `received` bytes, read since `started`, lag behind [`MIN_RATE`] (after
    /// [`GRACE`]) while another body waits for the budget.
    async fn lagging(&self, started: tokio::time::Instant, received: usize) {
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if self.waiting.load(Ordering::Relaxed) == 0 {
                continue;
            }
            let due = started.elapsed().saturating_sub(GRACE).as_secs_f64() * MIN_RATE as f64;
            if (received as f64) < due {
                return;
            }
        }
    }
}

/// While other bodies wait for the budget, a body holding a share must arrive at least this
/// fast, in bytes per second (after [`GRACE`]), or it is cut: clients that declare large bodies
/// and send them slowly cannot keep the budget from others. Loopback and local networks are
/// hundreds of times faster.
pub const MIN_RATE: usize = 256 * 1024;

/// How long a body may take to start arriving before [`MIN_RATE`] applies.
pub const GRACE: Duration = Duration::from_millis(250);

/// How long a body waits for its share of the [`BodyBudget`] before it is refused
/// ([`BodyError::Busy`]).
pub const BUDGET_WAIT: Duration = Duration::from_secs(30);

/// Holds a body's share of the [`BodyBudget`] while its bytes are in use: keep it until the
/// request is answered.
#[derive(Debug, Default)]
pub struct BodyGuard {
    _permit: Option<OwnedSemaphorePermit>,
}

/// Reads a request's whole body, refusing it when it is longer than `limit` (before reading
/// anything when its `Content-Length` says so). A body longer than [`SMALL_BODY`] (or of unknown
/// length) first takes its share of `budget`: its declared length, or `limit`.
pub async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
    budget: &BodyBudget,
) -> Result<(Bytes, BodyGuard), BodyError> {
    let declared = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .map(|n| usize::try_from(n).unwrap_or(usize::MAX));
    let expects_continue = headers
        .get(axum::http::header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    if declared.is_some_and(|n| n > limit) {
        if !expects_continue && declared.is_some_and(|n| n <= DRAIN_CAP) {
            discard(body).await;
        }
        return Err(BodyError::TooLarge { limit });
    }
    let (guard, held) = match declared {
        Some(n) if n <= SMALL_BODY => (BodyGuard::default(), None),
        Some(n) => (budget.reserve(n).await?, Some(budget)),
        None => (budget.reserve(limit).await?, Some(budget)),
    };
    let mut body = body;
    match collect(&mut body, limit, declared.unwrap_or(0), held).await {
        Ok(bytes) => Ok((bytes, guard)),
        Err(e @ BodyError::TooLarge { .. }) => {
            drop(guard);
            discard(body).await;
            Err(e)
        }
        Err(e) => Err(e),
    }
}

/// How much of a refused body is read (and thrown away) so that a client that sends its whole
/// body before reading the answer (most do, unless they ask `Expect: 100-continue`) gets the
/// refusal rather than a broken connection. Beyond it the connection is closed.
pub const DRAIN_CAP: usize = 128 * 1024 * 1024;

/// Reads and drops the rest of a refused body, at most [`DRAIN_CAP`] bytes in all, within the
/// body timeout; nothing is kept.
async fn discard(mut body: Body) {
    let mut seen = 0usize;
    while seen <= DRAIN_CAP {
        match std::future::poll_fn(|cx| http_body::Body::poll_frame(Pin::new(&mut body), cx)).await
        {
            Some(Ok(frame)) => seen += frame.data_ref().map_or(0, Bytes::len),
            _ => return,
        }
    }
}

/// Reads `body` whole; `held` is the budget it holds a share of, if any (see [`MIN_RATE`]).
async fn collect(
    body: &mut Body,
    limit: usize,
    expected: usize,
    held: Option<&BodyBudget>,
) -> Result<Bytes, BodyError> {
    // One frame (the usual case for a small body) is kept as it came, without a copy.
    let mut first: Option<Bytes> = None;
    let mut rest: Vec<u8> = Vec::new();
    let mut len = 0usize;
    let started = tokio::time::Instant::now();
    loop {
        let next = std::future::poll_fn(|cx| http_body::Body::poll_frame(Pin::new(&mut *body), cx));
        let frame = match held {
            None => next.await,
            Some(budget) => tokio::select! {
                frame = next => frame,
                () = budget.lagging(started, len) => return Err(BodyError::TimedOut),
            },
        };
        let Some(frame) = frame else { break };
        let Ok(data) = frame.map_err(classify)?.into_data() else {
            continue;
        };
        len += data.len();
        if len > limit {
            return Err(BodyError::TooLarge { limit });
        }
        if first.is_none() && rest.is_empty() {
            first = Some(data);
            continue;
        }
        if let Some(f) = first.take() {
            rest.reserve(expected.max(len).min(limit));
            rest.extend_from_slice(&f);
        }
        rest.extend_from_slice(&data);
    }
    Ok(first.unwrap_or_else(|| Bytes::from(rest)))
}

fn classify(e: axum::Error) -> BodyError {
    let inner = e.into_inner();
    let mut cause: Option<&(dyn StdError + 'static)> = Some(inner.as_ref());
    while let Some(c) = cause {
        if c.is::<BodyTimedOut>() {
            return BodyError::TimedOut;
        }
        cause = c.source();
    }
    BodyError::Failed(inner.to_string())
}

/// A request body with a deadline that starts when it is first read.
pub(crate) struct DeadlineBody {
    inner: Incoming,
    timeout: Duration,
    deadline: Option<Pin<Box<Sleep>>>,
}

impl DeadlineBody {
    pub(crate) fn new(inner: Incoming, timeout: Duration) -> Self {
        Self {
            inner,
            timeout,
            deadline: None,
        }
    }
}

impl http_body::Body for DeadlineBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|r| r.map_err(BoxError::from)));
        }
        let timeout = this.timeout;
        let deadline = this
            .deadline
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        if deadline.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Some(Err(Box::new(BodyTimedOut))));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A response body that tells its connection when it has been sent (or dropped).
pub(crate) struct Finish {
    inner: Body,
    ended: Ended,
}

impl Finish {
    pub(crate) fn wrap(inner: Body, ended: Ended) -> Self {
        Self { inner, ended }
    }
}

impl http_body::Body for Finish {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_frame(cx);
        if let Poll::Ready(None) = r {
            this.ended.now();
        }
        r
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
