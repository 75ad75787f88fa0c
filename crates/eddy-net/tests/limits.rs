//! The listener limits against real sockets: slow heads, slow and short bodies, idle kept-alive
//! connections, the connection cap, and bodies refused before they are read.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::Request;
use axum::routing::{get, post};
use eddy_net::{BodyBudget, BodyError, Limits};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const LIMIT: usize = 1024;

/// The body budget the test server's `/big` shares: 100 KiB.
fn budget() -> &'static BodyBudget {
    static BUDGET: std::sync::OnceLock<BodyBudget> = std::sync::OnceLock::new();
    BUDGET.get_or_init(|| BodyBudget::new(100 * 1024))
}

/// Reads the body within `limit` and says its length, or why it could not be read.
async fn read(req: Request, limit: usize, budget: &BodyBudget) -> String {
    let (parts, body) = req.into_parts();
    match eddy_net::read_body(&parts.headers, body, limit, budget).await {
        Ok((b, _guard)) => format!("ok {}", b.len()),
        Err(BodyError::TooLarge { .. }) => "too large".to_owned(),
        Err(BodyError::TimedOut) => "timed out".to_owned(),
        Err(BodyError::Failed(_)) => "failed".to_owned(),
        Err(BodyError::Busy) => "busy".to_owned(),
    }
}

async fn echo(req: Request) -> String {
    read(req, LIMIT, &BodyBudget::new(1024 * 1024)).await
}

fn limits() -> Limits {
    Limits {
        max_connections: 4,
        header_timeout: Duration::from_millis(300),
        idle_timeout: Duration::from_millis(600),
        body_timeout: Duration::from_millis(300),
        ..Limits::default()
    }
}

async fn start(limits: Limits) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = Router::new()
        .route("/echo", post(echo))
        .route("/big", post(|req| read(req, 1024 * 1024, budget())))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(1500)).await;
                "slow"
            }),
        )
        .route("/", get(|| async { "hello" }));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(eddy_net::serve(listener, router, limits, async move {
        let _gone = stopped.await.is_err();
    }));
    (addr, stop)
}

/// Reads until the server closes the connection; how long that took and what came.
async fn read_until_closed(s: &mut TcpStream, within: Duration) -> (Duration, String) {
    let started = Instant::now();
    let mut all = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(within, s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => all.extend_from_slice(&buf[..n]),
            Err(_) => panic!("the server kept the connection open for {within:?}"),
        }
    }
    (
        started.elapsed(),
        String::from_utf8_lossy(&all).into_owned(),
    )
}

#[tokio::test]
async fn a_slow_head_is_cut_at_the_header_timeout() {
    let (addr, _stop) = start(limits()).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .await
        .unwrap();
    // Trickle a header byte every 100 ms: never complete.
    let trickle = async {
        for _ in 0..30 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if s.write_all(b"X").await.is_err() {
                break;
            }
        }
    };
    let started = Instant::now();
    trickle.await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the trickle was never cut"
    );
    let (_, got) = read_until_closed(&mut s, Duration::from_secs(2)).await;
    assert!(!got.contains("hello"), "{got}");
}

#[tokio::test]
async fn a_connection_that_sends_nothing_is_cut() {
    let (addr, _stop) = start(limits()).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    let (took, got) = read_until_closed(&mut s, Duration::from_secs(3)).await;
    assert!(got.is_empty(), "{got}");
    assert!(took >= Duration::from_millis(250), "{took:?}");
}

#[tokio::test]
async fn a_body_shorter_than_its_length_times_out() {
    let (addr, _stop) = start(limits()).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\nabc")
        .await
        .unwrap();
    let (took, got) = read_until_closed(&mut s, Duration::from_secs(3)).await;
    assert!(got.contains("timed out"), "{got}");
    assert!(took < Duration::from_secs(2), "{took:?}");
}

#[tokio::test]
async fn a_kept_alive_connection_serves_requests_then_idles_out() {
    let (addr, _stop) = start(limits()).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    for _ in 0..3 {
        s.write_all(b"POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello")
            .await
            .unwrap();
        let mut buf = [0u8; 1024];
        let n = s.read(&mut buf).await.unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).contains("ok 5"));
        // Shorter than the idle timeout, longer than the head timeout: still served.
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    let (took, got) = read_until_closed(&mut s, Duration::from_secs(3)).await;
    assert!(got.is_empty(), "{got}");
    assert!(took >= Duration::from_millis(150), "{took:?}");
}

#[tokio::test]
async fn a_declared_body_over_the_limit_is_refused_without_being_kept() {
    let (addr, _stop) = start(limits()).await;
    // Refused from its headers; with `Expect: 100-continue` nothing of it is read at all.
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(
        b"POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 1000000000\r\n\
          Expect: 100-continue\r\n\r\n",
    )
    .await
    .unwrap();
    let mut buf = [0u8; 1024];
    let n = s.read(&mut buf).await.unwrap();
    let got = String::from_utf8_lossy(&buf[..n]);
    assert!(
        got.contains("too large") && !got.contains("100 Continue"),
        "{got}"
    );
    // Without it, the body is read and thrown away so that the client sees the answer.
    let mut s = TcpStream::connect(addr).await.unwrap();
    let body = vec![b'x'; 200_000];
    s.write_all(
        format!(
            "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    s.write_all(&body).await.unwrap();
    let n = s.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).contains("too large"));
}

#[tokio::test]
async fn a_chunked_body_over_the_limit_is_refused() {
    let (addr, _stop) = start(limits()).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    let mut req = b"POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..4 {
        req.extend_from_slice(format!("{:x}\r\n", 600).as_bytes());
        req.extend_from_slice(&[b'y'; 600]);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"0\r\n\r\n");
    s.write_all(&req).await.unwrap();
    let mut buf = [0u8; 1024];
    let n = s.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).contains("too large"));
}

/// Sends `GET path` and reads the answer (or `None` when nothing came within `within`).
async fn get_on(s: &mut TcpStream, path: &str, within: Duration) -> Option<String> {
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: h\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut buf = [0u8; 512];
    match tokio::time::timeout(within, s.read(&mut buf)).await {
        Ok(Ok(n)) => Some(String::from_utf8_lossy(&buf[..n]).into_owned()),
        _ => None,
    }
}

#[tokio::test]
async fn idle_connections_make_room_for_new_ones_at_the_cap() {
    let (addr, _stop) = start(Limits {
        max_connections: 2,
        header_timeout: Duration::from_secs(30),
        idle_timeout: Duration::from_secs(30),
        ..limits()
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut s = TcpStream::connect(addr).await.unwrap();
        let got = get_on(&mut s, "/", Duration::from_secs(2)).await.unwrap();
        assert!(got.contains("hello"));
        held.push(s);
    }
    // Both slots are taken by kept-alive connections waiting for a request: a new client gets
    // one of them long before the idle timeout.
    let started = Instant::now();
    let mut third = TcpStream::connect(addr).await.unwrap();
    let got = get_on(&mut third, "/", Duration::from_secs(5)).await;
    assert!(got.is_some_and(|g| g.contains("hello")), "not served");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    let mut closed = 0;
    for s in &mut held {
        let mut buf = [0u8; 16];
        if let Ok(Ok(0)) = tokio::time::timeout(Duration::from_millis(500), s.read(&mut buf)).await
        {
            closed += 1;
        }
    }
    assert!(closed >= 1, "no idle connection was closed");
}

#[tokio::test]
async fn busy_connections_keep_their_slots_at_the_cap() {
    let (addr, _stop) = start(Limits {
        max_connections: 1,
        ..limits()
    })
    .await;
    let mut busy = TcpStream::connect(addr).await.unwrap();
    busy.write_all(b"GET /slow HTTP/1.1\r\nHost: h\r\n\r\n")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut second = TcpStream::connect(addr).await.unwrap();
    let early = get_on(&mut second, "/", Duration::from_millis(1000)).await;
    assert!(early.is_none(), "served beyond the cap: {early:?}");
    let mut buf = [0u8; 512];
    let n = busy.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).contains("slow"));
    // The slow request is answered; its connection now waits and gives its slot up.
    let n = tokio::time::timeout(Duration::from_secs(4), second.read(&mut buf))
        .await
        .expect("never served")
        .unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).contains("hello"));
}

#[tokio::test]
async fn a_stalled_body_is_cut_when_another_waits_for_the_budget() {
    let (addr, _stop) = start(Limits {
        body_timeout: Duration::from_secs(30),
        ..limits()
    })
    .await;
    let declare =
        |n: usize| format!("POST /big HTTP/1.1\r\nHost: h\r\nContent-Length: {n}\r\n\r\n");
    // A declares 90 KiB of the 100 KiB budget and stops after a few bytes.
    let mut a = TcpStream::connect(addr).await.unwrap();
    a.write_all(declare(90 * 1024).as_bytes()).await.unwrap();
    a.write_all(b"just a few").await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    // B sends all of its 90 KiB and must wait for A's share.
    let started = Instant::now();
    let mut b = TcpStream::connect(addr).await.unwrap();
    b.write_all(declare(90 * 1024).as_bytes()).await.unwrap();
    b.write_all(&vec![b'b'; 90 * 1024]).await.unwrap();
    let mut buf = [0u8; 512];
    let n = tokio::time::timeout(Duration::from_secs(10), b.read(&mut buf))
        .await
        .expect("B waited for the whole body timeout")
        .unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).contains("ok 92160"));
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "{:?}",
        started.elapsed()
    );
    let (_, got) = read_until_closed(&mut a, Duration::from_secs(2)).await;
    assert!(got.contains("timed out"), "{got}");
}

#[tokio::test]
async fn shutdown_closes_idle_connections_and_returns() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(eddy_net::serve(
        listener,
        Router::new().route("/", get(|| async { "hello" })),
        Limits::default(),
        async move {
            let _gone = stopped.await.is_err();
        },
    ));
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 256];
    let _read = s.read(&mut buf).await.unwrap();
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(3), server)
        .await
        .expect("serve did not return")
        .unwrap()
        .unwrap();
    let (_, got) = read_until_closed(&mut s, Duration::from_secs(1)).await;
    assert!(got.is_empty());
}
