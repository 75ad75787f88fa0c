//! A minimal HTTP/1.1 keep-alive client for the load generators: one request at a time on one
//! connection, `Content-Length` bodies only. Small on purpose, so the generator costs the machine
//! as little as possible and measures the server, not a client library.

use anyhow::{Context, bail};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// An AWS-shaped `Authorization` header without a signature (eddy does not check signatures
/// yet, but refuses AWS requests without one, as a web page could send those) and without a
/// credential scope, so the server uses its default region.
pub const AUTHORIZATION: &str = "AWS4-HMAC-SHA256 Credential=eddy, SignedHeaders=host, Signature=0";

pub struct Conn {
    stream: BufReader<TcpStream>,
    host: String,
    buf: Vec<u8>,
}

pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Conn {
    pub async fn connect(addr: &str) -> anyhow::Result<Self> {
        let stream = TcpStream::connect(addr)
            .await
            .with_context(|| format!("connect {addr}"))?;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream: BufReader::new(stream),
            host: addr.to_owned(),
            buf: Vec::new(),
        })
    }

    /// POSTs `body` to `/` with an `X-Amz-Target` header (an AWS JSON 1.1 call).
    pub async fn aws_call(&mut self, target: &str, body: &[u8]) -> anyhow::Result<Reply> {
        self.buf.clear();
        self.buf.extend_from_slice(
            format!(
                "POST / HTTP/1.1\r\nHost: {}\r\nContent-Type: application/x-amz-json-1.1\r\n\
                 Authorization: {AUTHORIZATION}\r\nX-Amz-Target: {target}\r\n\
                 Content-Length: {}\r\n\r\n",
                self.host,
                body.len()
            )
            .as_bytes(),
        );
        self.buf.extend_from_slice(body);
        self.stream.get_mut().write_all(&self.buf).await?;
        self.read_reply().await
    }

    /// POSTs a form body to `/` (an AWS query-protocol call, `Action=…`).
    pub async fn query_call(&mut self, form: &str) -> anyhow::Result<Reply> {
        self.request(
            "POST",
            "/",
            &[("Content-Type", "application/x-www-form-urlencoded")],
            form.as_bytes(),
        )
        .await
    }

    /// Sends one request with a `Content-Length` body (a rest-json call).
    pub async fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> anyhow::Result<Reply> {
        self.buf.clear();
        self.buf.extend_from_slice(
            format!(
                "{method} {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: {AUTHORIZATION}\r\n",
                self.host
            )
            .as_bytes(),
        );
        if !headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        {
            self.buf
                .extend_from_slice(b"Content-Type: application/json\r\n");
        }
        for (k, v) in headers {
            self.buf
                .extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
        }
        self.buf
            .extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
        self.buf.extend_from_slice(body);
        self.stream.get_mut().write_all(&self.buf).await?;
        self.read_reply().await
    }

    /// Sends a rest-json request (`method path` with a JSON body; empty for none).
    pub async fn rest_call(
        &mut self,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> anyhow::Result<Reply> {
        self.request(method, path, &[], body).await
    }

    async fn read_reply(&mut self) -> anyhow::Result<Reply> {
        let mut line = String::new();
        self.stream.read_line(&mut line).await?;
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .with_context(|| format!("bad status line {line:?}"))?;
        let mut len = None;
        loop {
            line.clear();
            if self.stream.read_line(&mut line).await? == 0 {
                bail!("connection closed mid-response");
            }
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                len = v.trim().parse::<usize>().ok();
            }
        }
        let len = len.context("response without content-length")?;
        let mut body = vec![0; len];
        self.stream.read_exact(&mut body).await?;
        Ok(Reply { status, body })
    }
}
