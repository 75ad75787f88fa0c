//! A lean HTTP/1.1 client for `http://` API destinations: keep-alive connections pooled per
//! host and port, one request at a time on each, no redirects, no TLS.
//!
//! Plain HTTP is what local endpoints speak (a developer's webhook receiver on 127.0.0.1), and
//! there a delivery's cost is mostly the client's own work, so this path does only what a
//! delivery needs. `https://` endpoints go through reqwest ([`super::http`]).

use std::collections::HashMap;
use std::sync::Mutex;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Idle connections kept per host and port.
const MAX_IDLE_PER_HOST: usize = 256;
/// The most of a response body read (its status decides the outcome; the body only appears,
/// cut to 256 characters, in a failure's message). A longer body closes the connection.
const MAX_BODY: usize = 64 * 1024;

/// A request to send: method, origin-form target (`/path?query`), headers (including `Host`),
/// body.
#[derive(Clone)]
pub struct Outgoing {
    pub method: hyper::Method,
    pub target: String,
    pub headers: hyper::HeaderMap,
    pub body: Bytes,
}

impl Outgoing {
    fn request(&self) -> Result<hyper::Request<Full<Bytes>>, String> {
        let mut req = hyper::Request::new(Full::new(self.body.clone()));
        *req.method_mut() = self.method.clone();
        *req.uri_mut() = self
            .target
            .parse()
            .map_err(|e| format!("invalid request target {}: {e}", self.target))?;
        *req.headers_mut() = self.headers.clone();
        Ok(req)
    }
}

/// One answer: its status and (at most [`MAX_BODY`] of) its body.
pub struct Answer {
    pub status: u16,
    pub body: Bytes,
}

/// Pooled connections by `host:port`.
#[derive(Default)]
pub struct PlainClient {
    idle: Mutex<HashMap<String, Vec<SendRequest<Full<Bytes>>>>>,
}

impl PlainClient {
    /// Sends `out` to `authority` (`host:port`). A request that fails on a reused connection
    /// (the peer closed it while it was idle) is sent once more on a new one.
    pub async fn send(&self, authority: &str, out: &Outgoing) -> Result<Answer, String> {
        if let Some(sender) = self.checkout(authority)
            && let Ok(answer) = self.exchange(authority, sender, out).await
        {
            return Ok(answer);
        }
        let sender = connect(authority).await?;
        self.exchange(authority, sender, out).await
    }

    async fn exchange(
        &self,
        authority: &str,
        mut sender: SendRequest<Full<Bytes>>,
        out: &Outgoing,
    ) -> Result<Answer, String> {
        let request = out.request()?;
        sender.ready().await.map_err(|e| e.to_string())?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        match Limited::new(response.into_body(), MAX_BODY).collect().await {
            Ok(body) => {
                self.checkin(authority, sender);
                Ok(Answer {
                    status,
                    body: body.to_bytes(),
                })
            }
            // Too long, or cut off: the status stands, the connection is not reused.
            Err(_) => Ok(Answer {
                status,
                body: Bytes::new(),
            }),
        }
    }

    fn checkout(&self, authority: &str) -> Option<SendRequest<Full<Bytes>>> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let senders = idle.get_mut(authority)?;
        while let Some(s) = senders.pop() {
            if !s.is_closed() {
                return Some(s);
            }
        }
        None
    }

    fn checkin(&self, authority: &str, sender: SendRequest<Full<Bytes>>) {
        if sender.is_closed() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let senders = idle.entry(authority.to_owned()).or_default();
        if senders.len() < MAX_IDLE_PER_HOST {
            senders.push(sender);
        }
    }
}

/// A new connection to `authority`, its driver running as its own task until either side
/// closes it.
async fn connect(authority: &str) -> Result<SendRequest<Full<Bytes>>, String> {
    let stream = TcpStream::connect(authority)
        .await
        .map_err(|e| format!("cannot connect to {authority}: {e}"))?;
    let _best_effort = stream.set_nodelay(true);
    let (sender, connection) = http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let _closed = connection.await;
    });
    Ok(sender)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

    /// A server that answers `replies` requests on each connection (200 with a body naming the
    /// connection), then closes it.
    async fn server(replies: usize) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        tokio::spawn(async move {
            let mut n = 0;
            while let Ok((sock, _)) = listener.accept().await {
                n += 1;
                tokio::spawn(async move {
                    let mut r = BufReader::new(sock);
                    for _ in 0..replies {
                        let mut len = 0;
                        loop {
                            let mut line = String::new();
                            if r.read_line(&mut line).await.unwrap_or(0) == 0 {
                                return;
                            }
                            if line == "\r\n" {
                                break;
                            }
                            if let Some(v) =
                                line.to_ascii_lowercase().strip_prefix("content-length:")
                            {
                                len = v.trim().parse().unwrap_or(0);
                            }
                        }
                        let mut body = vec![0; len];
                        if r.read_exact(&mut body).await.is_err() {
                            return;
                        }
                        let text = format!("conn {n}");
                        let reply = format!(
                            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{text}",
                            text.len()
                        );
                        if r.get_mut().write_all(reply.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        addr
    }

    fn post(addr: &str) -> Outgoing {
        let mut headers = hyper::HeaderMap::new();
        headers.insert("host", addr.parse().expect("host"));
        Outgoing {
            method: hyper::Method::POST,
            target: "/hook".into(),
            headers,
            body: Bytes::from_static(b"{}"),
        }
    }

    #[tokio::test]
    async fn connections_are_reused() {
        let addr = server(100).await;
        let client = PlainClient::default();
        for _ in 0..3 {
            let a = client.send(&addr, &post(&addr)).await.expect("send");
            assert_eq!((a.status, &a.body[..]), (200, &b"conn 1"[..]));
        }
    }

    #[tokio::test]
    async fn a_connection_the_peer_closed_is_replaced() {
        // The server closes each connection after one answer: the pooled one is dead by the
        // second request, which must still get through on a new connection.
        let addr = server(1).await;
        let client = PlainClient::default();
        let first = client.send(&addr, &post(&addr)).await.expect("first");
        assert_eq!(&first.body[..], b"conn 1");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let second = client.send(&addr, &post(&addr)).await.expect("second");
        assert_eq!(&second.body[..], b"conn 2");
    }

    #[tokio::test]
    async fn nothing_listening_is_an_error() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        drop(listener);
        let err = PlainClient::default()
            .send(&addr, &post(&addr))
            .await
            .err()
            .expect("no server");
        assert!(err.contains("cannot connect"), "{err}");
    }
}
