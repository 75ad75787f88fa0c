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

/// Echoes the body's length, or why it could not be read.
async fn echo(req: Request) -> String {
    let (parts, body) = req.into_parts();
    let budget = BodyBudget::new(1024 * 1024);
    match eddy_net::read_body(&parts.headers, body, LIMIT, &budget).await {
        Ok((b, _guard)) => format!("ok {}", b.len()),
        Err(BodyError::TooLarge { .. }) => "too large".to_owned(),
        Err(BodyError::TimedOut) => "timed out".to_owned(),
        Err(BodyError::Failed(_)) => "failed".to_owned(),
    }
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

#[tokio::test]
async fn connections_beyond_the_cap_wait_for_a_free_slot() {
    let (addr, _stop) = start(Limits {
        max_connections: 2,
        header_timeout: Duration::from_secs(30),
        idle_timeout: Duration::from_millis(500),
        ..limits()
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 256];
        let n = s.read(&mut buf).await.unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).contains("hello"));
        held.push(s);
    }
    // A third connects (the kernel's backlog) but is not served while both slots are taken...
    let mut third = TcpStream::connect(addr).await.unwrap();
    third
        .write_all(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 256];
    let early = tokio::time::timeout(Duration::from_millis(200), third.read(&mut buf)).await;
    assert!(early.is_err(), "served beyond the cap");
    // ...until the held ones idle out and free their slots.
    let n = tokio::time::timeout(Duration::from_secs(3), third.read(&mut buf))
        .await
        .expect("never served")
        .unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).contains("hello"));
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
