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

/// The same for S3: the credential scope's service (`s3`) is what routes a request to S3.
pub const S3_AUTHORIZATION: &str = "AWS4-HMAC-SHA256 \
    Credential=test/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0";

/// The same for SQS, whose two protocols (AWS JSON 1.0 and the query protocol) are then told
/// apart by `X-Amz-Target` and the form's `Action`, as a real SDK's requests are.
pub const SQS_AUTHORIZATION: &str = "AWS4-HMAC-SHA256 \
    Credential=test/20260101/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=0";

pub struct Conn {
    stream: BufReader<TcpStream>,
    host: String,
    buf: Vec<u8>,
    authorization: &'static str,
}

pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
    /// The `ETag` header, if any (S3's UploadPart answers a part's ETag only there).
    pub etag: Option<String>,
}

/// A reply's head: its status, body length and `ETag`.
struct Head {
    status: u16,
    len: usize,
    etag: Option<String>,
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
            authorization: AUTHORIZATION,
        })
    }

    /// A connection whose requests are S3's ([`S3_AUTHORIZATION`]).
    pub async fn connect_s3(addr: &str) -> anyhow::Result<Self> {
        let mut conn = Self::connect(addr).await?;
        conn.authorization = S3_AUTHORIZATION;
        Ok(conn)
    }

    /// A connection whose requests are SQS's ([`SQS_AUTHORIZATION`]).
    pub async fn connect_sqs(addr: &str) -> anyhow::Result<Self> {
        let mut conn = Self::connect(addr).await?;
        conn.authorization = SQS_AUTHORIZATION;
        Ok(conn)
    }

    /// Sends `host` as the `Host` header of the requests that follow (a function URL's
    /// `URL_ID.lambda-url.REGION.localhost:PORT` on a connection to the listener's address).
    pub fn set_host(&mut self, host: &str) {
        host.clone_into(&mut self.host);
    }

    /// POSTs `body` to `/` with an `X-Amz-Target` header (an AWS JSON 1.1 call).
    pub async fn aws_call(&mut self, target: &str, body: &[u8]) -> anyhow::Result<Reply> {
        self.buf.clear();
        self.buf.extend_from_slice(
            format!(
                "POST / HTTP/1.1\r\nHost: {}\r\nContent-Type: application/x-amz-json-1.1\r\n\
                 Authorization: {}\r\nX-Amz-Target: {target}\r\n\
                 Content-Length: {}\r\n\r\n",
                self.host,
                self.authorization,
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
        self.head(method, path, headers, body.len() as u64);
        self.buf.extend_from_slice(body);
        self.stream.get_mut().write_all(&self.buf).await?;
        self.read_reply().await
    }

    /// Writes a request's head announcing a `len`-byte body, which the caller then writes with
    /// [`Conn::write_body`] (a body streamed rather than held) before [`Conn::reply`].
    pub async fn send_head(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        len: u64,
    ) -> anyhow::Result<()> {
        self.head(method, path, headers, len);
        self.stream.get_mut().write_all(&self.buf).await?;
        Ok(())
    }

    /// Writes part of a body announced by [`Conn::send_head`].
    pub async fn write_body(&mut self, chunk: &[u8]) -> anyhow::Result<()> {
        self.stream.get_mut().write_all(chunk).await?;
        Ok(())
    }

    /// Reads the reply to a request sent with [`Conn::send_head`] and [`Conn::write_body`].
    pub async fn reply(&mut self) -> anyhow::Result<Reply> {
        self.read_reply().await
    }

    /// Reads a reply whose body is handed to `sink` in pieces as it arrives rather than held
    /// (at most `chunk` bytes at a time). Returns the status and the body's length.
    pub async fn reply_streamed(
        &mut self,
        chunk: usize,
        mut sink: impl FnMut(&[u8]) -> anyhow::Result<()>,
    ) -> anyhow::Result<(u16, u64)> {
        let head = self.read_head().await?;
        let mut buf = vec![0; chunk.min(head.len).max(1)];
        let mut left = head.len;
        while left > 0 {
            let want = left.min(buf.len());
            let n = self.stream.read(&mut buf[..want]).await?;
            if n == 0 {
                bail!("connection closed with {left} bytes of the body unread");
            }
            sink(&buf[..n])?;
            left -= n;
        }
        Ok((head.status, head.len as u64))
    }

    /// Puts a request's head in `buf`.
    fn head(&mut self, method: &str, path: &str, headers: &[(&str, &str)], len: u64) {
        self.buf.clear();
        self.buf.extend_from_slice(
            format!(
                "{method} {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: {}\r\n",
                self.host, self.authorization
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
            .extend_from_slice(format!("Content-Length: {len}\r\n\r\n").as_bytes());
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
        let head = self.read_head().await?;
        let mut body = vec![0; head.len];
        self.stream.read_exact(&mut body).await?;
        Ok(Reply {
            status: head.status,
            body,
            etag: head.etag,
        })
    }

    async fn read_head(&mut self) -> anyhow::Result<Head> {
        let mut line = String::new();
        self.stream.read_line(&mut line).await?;
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .with_context(|| format!("bad status line {line:?}"))?;
        let (mut len, mut etag) = (None, None);
        loop {
            line.clear();
            if self.stream.read_line(&mut line).await? == 0 {
                bail!("connection closed mid-response");
            }
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    len = v.trim().parse::<usize>().ok();
                } else if k.eq_ignore_ascii_case("etag") {
                    etag = Some(v.trim().to_owned());
                }
            }
        }
        let len = len.context("response without content-length")?;
        Ok(Head { status, len, etag })
    }
}
