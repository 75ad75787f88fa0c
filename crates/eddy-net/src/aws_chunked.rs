//! Decoding the `aws-chunked` content encoding: the framing S3 clients use for streaming uploads
//! (`x-amz-content-sha256: STREAMING-…`, `Content-Encoding: aws-chunked`), described in AWS's
//! "Signature Calculations for the Authorization Header: Transferring Payload in Multiple Chunks
//! (Chunked Upload)" and "… Including Trailing Headers".
//!
//! ```text
//! hex-size[;chunk-signature=SIG]\r\n  data  \r\n      (repeated)
//! 0[;chunk-signature=SIG]\r\n
//! name:value\r\n                                     (zero or more trailers)
//! \r\n
//! ```
//!
//! [`AwsChunked`] wraps any request body (`http_body::Body<Data = Bytes>`) and is itself a body
//! yielding the decoded payload, so it can go into `axum::body::Body::new`. It streams: a chunk's
//! data is handed on as slices of the frames it arrived in, never gathered, so memory stays at one
//! incoming frame plus one line (capped at [`MAX_LINE`]) plus the trailers (capped at
//! [`MAX_TRAILERS`] lines), whatever the sender declares.
//!
//! Both forms are accepted: signed (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]`, each size
//! line carrying `;chunk-signature=…`) and unsigned (`STREAMING-UNSIGNED-PAYLOAD-TRAILER`, no
//! extension). **Chunk and trailer signatures are not verified**: eddy's development mode cannot
//! know the secret key, so every extension after `;` on a size line is ignored, and the
//! `x-amz-trailer-signature` trailer is kept in [`Trailers`] like any other, for the caller to
//! drop. Nor are the checksums in trailers (`x-amz-checksum-crc32`, …) checked here.
//!
//! Leniency, where real clients differ: trailer lines may end in a bare LF, and the body may end
//! right after the final `0` line or after the last trailer line without the closing empty line.
//! (botocore writes `0\r\nx-amz-checksum-crc32:…\r\n\r\n`, with it.) Everything else is strict and
//! ends the body with a [`ChunkedError`]: the data must be followed by CRLF, size lines must end in
//! CRLF, nothing may follow the end, and the decoded length must equal the caller's
//! `x-amz-decoded-content-length` when given (checked as soon as a size line would overrun it).

use std::error::Error as StdError;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

type BoxError = Box<dyn StdError + Send + Sync>;

/// The longest size line or trailer line accepted, CRLF included. A signed size line is about 90
/// bytes (`hex;chunk-signature=` and 64 hex digits).
pub const MAX_LINE: usize = 4096;

/// The most trailer lines accepted (S3 sends one checksum and, signed, one signature).
pub const MAX_TRAILERS: usize = 32;

/// Whether a request's body is `aws-chunked`: its `x-amz-content-sha256` is one of the
/// `STREAMING-…` values (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD`,
/// `STREAMING-UNSIGNED-PAYLOAD-TRAILER`, …), or its `Content-Encoding` lists `aws-chunked`.
pub fn is_aws_chunked(content_sha256: Option<&str>, content_encoding: Option<&str>) -> bool {
    let streaming = content_sha256.is_some_and(|v| {
        v.trim()
            .get(..10)
            .is_some_and(|p| p.eq_ignore_ascii_case("STREAMING-"))
    });
    let encoded = content_encoding.is_some_and(|v| {
        v.split(',')
            .any(|c| c.trim().eq_ignore_ascii_case("aws-chunked"))
    });
    streaming || encoded
}

/// The `Content-Encoding` a decoded body keeps: the header's codings without `aws-chunked`
/// (botocore sends `gzip,aws-chunked`), joined by `,`; `None` when none are left.
pub fn content_encoding_without_aws_chunked(content_encoding: &str) -> Option<String> {
    let rest: Vec<&str> = content_encoding
        .split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty() && !c.eq_ignore_ascii_case("aws-chunked"))
        .collect();
    (!rest.is_empty()).then(|| rest.join(","))
}

/// Why an `aws-chunked` body could not be decoded.
#[derive(Debug)]
pub enum ChunkedError {
    /// A size line is not `hex-size[;extensions]` ended by CRLF (the line, shortened).
    BadChunkSize(String),
    /// A size line is longer than [`MAX_LINE`].
    SizeLineTooLong,
    /// A chunk's data is not followed by CRLF.
    MissingCrlf,
    /// A trailer line is not `name:value` (the line, shortened).
    BadTrailer(String),
    /// A trailer line is longer than [`MAX_LINE`].
    TrailerTooLong,
    /// More than [`MAX_TRAILERS`] trailer lines.
    TooManyTrailers,
    /// The body ended before the final chunk (or within a trailer line).
    Truncated,
    /// Bytes follow the end of the encoding.
    TrailingData,
    /// The decoded payload is not as long as `x-amz-decoded-content-length` says; `decoded` is
    /// what the framing gives, counted up to the point the mismatch was found.
    LengthMismatch { expected: u64, decoded: u64 },
    /// The underlying body failed.
    Body(BoxError),
}

impl std::fmt::Display for ChunkedError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::BadChunkSize(line) => write!(f, "malformed `aws-chunked` size line `{line}`"),
            Self::SizeLineTooLong => write!(
                f,
                "an `aws-chunked` size line is longer than {MAX_LINE} bytes"
            ),
            Self::MissingCrlf => {
                f.write_str("an `aws-chunked` chunk's data is not followed by CRLF")
            }
            Self::BadTrailer(line) => write!(f, "malformed `aws-chunked` trailer `{line}`"),
            Self::TrailerTooLong => write!(
                f,
                "an `aws-chunked` trailer is longer than {MAX_LINE} bytes"
            ),
            Self::TooManyTrailers => {
                write!(f, "more than {MAX_TRAILERS} `aws-chunked` trailers")
            }
            Self::Truncated => f.write_str("the `aws-chunked` body ended early"),
            Self::TrailingData => f.write_str("data follows the end of the `aws-chunked` body"),
            Self::LengthMismatch { expected, decoded } => write!(
                f,
                "the `aws-chunked` body decodes to {decoded} bytes, \
                 `x-amz-decoded-content-length` says {expected}"
            ),
            Self::Body(e) => write!(f, "cannot read the request body: {e}"),
        }
    }
}

impl StdError for ChunkedError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            Self::Body(e) => Some(e.as_ref()),
            _ => None,
        }
    }
}

/// The trailers of an [`AwsChunked`] body, readable once it has ended.
#[derive(Debug, Clone, Default)]
pub struct Trailers(Arc<Mutex<Option<Vec<Trailer>>>>);

/// A trailer's name and value.
pub type Trailer = (String, String);

impl Trailers {
    /// The trailers in the order sent, names lowercased and values trimmed, including
    /// `x-amz-trailer-signature` when sent; `None` until the body has been decoded to its end
    /// without error (an empty list when it had none).
    pub fn get(&self) -> Option<Vec<Trailer>> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The value of the trailer `name` (ASCII case-insensitive), once the body has ended.
    pub fn value(&self, name: &str) -> Option<String> {
        let guard = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        guard
            .as_ref()?
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    }

    fn set(&self, trailers: Vec<Trailer>) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(trailers);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading a size line into `line`.
    Size,
    /// Within a chunk's data, `left` bytes to go.
    Data { left: u64 },
    /// After a chunk's data: expecting CR (`cr` false) or LF (`cr` true).
    DataEnd { cr: bool },
    /// After the final chunk: reading trailer lines into `line`.
    Trailers,
    /// The encoding has ended; the rest of the body must be empty.
    Drain,
    /// Ended or failed: nothing more is yielded.
    Finished,
}

/// A body decoding the `aws-chunked` body it wraps (see the [module docs](self)).
///
/// The wrapped body must be `Unpin` (hyper's and axum's are); pin others with `Box::pin`.
/// Frames of the wrapped body that are not data (HTTP trailers) are dropped.
#[derive(Debug)]
pub struct AwsChunked<B> {
    inner: B,
    state: State,
    /// The unread rest of the last data frame of `inner`.
    pending: Bytes,
    /// The size or trailer line read so far (no more than [`MAX_LINE`] bytes).
    line: Vec<u8>,
    decoded: u64,
    expected: Option<u64>,
    trailers: Vec<Trailer>,
    handle: Trailers,
}

impl<B> AwsChunked<B> {
    /// Decodes `inner`; `decoded_length` is the request's `x-amz-decoded-content-length`, if
    /// it had one, which the decoded payload must then match.
    pub fn new(inner: B, decoded_length: Option<u64>) -> Self {
        Self {
            inner,
            state: State::Size,
            pending: Bytes::new(),
            line: Vec::new(),
            decoded: 0,
            expected: decoded_length,
            trailers: Vec::new(),
            handle: Trailers::default(),
        }
    }

    /// A handle on the trailers, filled when the body has been decoded to its end.
    pub fn trailers(&self) -> Trailers {
        self.handle.clone()
    }

    /// Decodes from `pending` until it has data to yield or `pending` is used up.
    fn advance(&mut self) -> Result<Option<Bytes>, ChunkedError> {
        while !self.pending.is_empty() {
            match self.state {
                State::Size | State::Trailers => {
                    let Some(line) = self.take_line()? else {
                        continue;
                    };
                    if self.state == State::Size {
                        self.size_line(&line)?;
                    } else {
                        self.trailer_line(&line)?;
                    }
                }
                State::Data { left } => {
                    let n = usize::try_from(left)
                        .unwrap_or(usize::MAX)
                        .min(self.pending.len());
                    let data = self.pending.split_to(n);
                    let left = left - n as u64;
                    self.decoded += n as u64;
                    self.state = if left == 0 {
                        State::DataEnd { cr: false }
                    } else {
                        State::Data { left }
                    };
                    return Ok(Some(data));
                }
                State::DataEnd { cr } => {
                    let byte = self.pending.split_to(1)[0];
                    self.state = match (cr, byte) {
                        (false, b'\r') => State::DataEnd { cr: true },
                        (true, b'\n') => State::Size,
                        _ => return Err(ChunkedError::MissingCrlf),
                    };
                }
                State::Drain => return Err(ChunkedError::TrailingData),
                State::Finished => self.pending.clear(),
            }
        }
        Ok(None)
    }

    /// Moves `pending` into `line` up to and including the next LF; the whole line (without the
    /// LF) once it has one.
    fn take_line(&mut self) -> Result<Option<Vec<u8>>, ChunkedError> {
        let too_long = || match self.state {
            State::Size => ChunkedError::SizeLineTooLong,
            _ => ChunkedError::TrailerTooLong,
        };
        let (part, complete) = match self.pending.iter().position(|&b| b == b'\n') {
            Some(i) => (self.pending.split_to(i + 1), true),
            None => (std::mem::take(&mut self.pending), false),
        };
        if self.line.len() + part.len() > MAX_LINE {
            return Err(too_long());
        }
        self.line.extend_from_slice(&part);
        if !complete {
            return Ok(None);
        }
        let mut line = std::mem::take(&mut self.line);
        line.pop();
        Ok(Some(line))
    }

    fn size_line(&mut self, line: &[u8]) -> Result<(), ChunkedError> {
        let bad = || ChunkedError::BadChunkSize(shorten(line));
        let line = line.strip_suffix(b"\r").ok_or_else(bad)?;
        let hex = match line.iter().position(|&b| b == b';') {
            Some(i) => &line[..i],
            None => line,
        };
        if hex.is_empty() {
            return Err(bad());
        }
        let mut size: u64 = 0;
        for &b in hex {
            let digit = (b as char).to_digit(16).ok_or_else(bad)?;
            size = size
                .checked_mul(16)
                .and_then(|s| s.checked_add(u64::from(digit)))
                .ok_or_else(bad)?;
        }
        let total = self.decoded.saturating_add(size);
        match self.expected {
            Some(expected) if total > expected || (size == 0 && total != expected) => {
                return Err(ChunkedError::LengthMismatch {
                    expected,
                    decoded: total,
                });
            }
            _ => {}
        }
        self.state = if size == 0 {
            State::Trailers
        } else {
            State::Data { left: size }
        };
        Ok(())
    }

    fn trailer_line(&mut self, line: &[u8]) -> Result<(), ChunkedError> {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            self.state = State::Drain;
            return Ok(());
        }
        if self.trailers.len() == MAX_TRAILERS {
            return Err(ChunkedError::TooManyTrailers);
        }
        let bad = || ChunkedError::BadTrailer(shorten(line));
        let text = std::str::from_utf8(line).map_err(|_| bad())?;
        let (name, value) = text.split_once(':').ok_or_else(bad)?;
        let name = name.trim();
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(bad());
        }
        self.trailers
            .push((name.to_ascii_lowercase(), value.trim().to_owned()));
        Ok(())
    }

    /// The wrapped body has ended: publishes the trailers if the encoding is complete.
    fn finish(&mut self) -> Option<Result<Frame<Bytes>, ChunkedError>> {
        let state = std::mem::replace(&mut self.state, State::Finished);
        match state {
            // `Trailers` with no partial line: the closing empty line left out (or the whole
            // trailer section after `0\r\n`).
            State::Drain => {}
            State::Trailers if self.line.is_empty() => {}
            State::Finished => return None,
            _ => return Some(Err(ChunkedError::Truncated)),
        }
        self.handle.set(std::mem::take(&mut self.trailers));
        None
    }
}

/// At most 64 bytes of `line`, for an error message.
fn shorten(line: &[u8]) -> String {
    let end = line.len().min(64);
    String::from_utf8_lossy(&line[..end]).into_owned()
}

impl<B> Body for AwsChunked<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = ChunkedError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, ChunkedError>>> {
        let this = self.get_mut();
        loop {
            if this.state == State::Finished {
                return Poll::Ready(None);
            }
            match this.advance() {
                Ok(Some(data)) => return Poll::Ready(Some(Ok(Frame::data(data)))),
                Ok(None) => {}
                Err(e) => {
                    this.state = State::Finished;
                    return Poll::Ready(Some(Err(e)));
                }
            }
            match Pin::new(&mut this.inner).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(frame))) => {
                    if let Ok(data) = frame.into_data() {
                        this.pending = data;
                    }
                }
                Poll::Ready(Some(Err(e))) => {
                    this.state = State::Finished;
                    return Poll::Ready(Some(Err(ChunkedError::Body(e.into()))));
                }
                Poll::Ready(None) => return Poll::Ready(this.finish()),
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.state == State::Finished
    }

    fn size_hint(&self) -> SizeHint {
        match self.expected {
            Some(expected) => SizeHint::with_exact(expected.saturating_sub(self.decoded)),
            None => SizeHint::default(),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::VecDeque;
    use std::convert::Infallible;

    use super::*;

    /// A body handing out the given frames, always ready.
    pub(crate) struct Frames(pub VecDeque<Bytes>);

    impl Frames {
        /// `bytes` cut into frames of `size` bytes.
        pub(crate) fn split(bytes: &[u8], size: usize) -> Self {
            Self(
                bytes
                    .chunks(size.max(1))
                    .map(Bytes::copy_from_slice)
                    .collect(),
            )
        }
    }

    impl Body for Frames {
        type Data = Bytes;
        type Error = Infallible;

        fn poll_frame(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
            Poll::Ready(self.get_mut().0.pop_front().map(|b| Ok(Frame::data(b))))
        }
    }

    /// Polls `body` to its end (it must never be pending): the data, and the error it ended
    /// with, if any.
    pub(crate) fn drain<B: Body<Data = Bytes> + Unpin>(mut body: B) -> (Vec<u8>, Option<B::Error>) {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let mut out = Vec::new();
        loop {
            match Pin::new(&mut body).poll_frame(&mut cx) {
                Poll::Ready(Some(Ok(frame))) => {
                    if let Ok(data) = frame.into_data() {
                        out.extend_from_slice(&data);
                    }
                }
                Poll::Ready(Some(Err(e))) => {
                    // Fused: nothing after an error.
                    assert!(matches!(
                        Pin::new(&mut body).poll_frame(&mut cx),
                        Poll::Ready(None)
                    ));
                    return (out, Some(e));
                }
                Poll::Ready(None) => return (out, None),
                Poll::Pending => panic!("test bodies are always ready"),
            }
        }
    }

    const SIG: &str = "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648";

    /// `payload` encoded in chunks of `chunk` bytes, signed or not, with `trailers` and the
    /// closing empty line.
    pub(crate) fn encode(
        payload: &[u8],
        chunk: usize,
        signed: bool,
        trailers: &[(&str, &str)],
    ) -> Vec<u8> {
        let ext = if signed {
            format!(";chunk-signature={SIG}")
        } else {
            String::new()
        };
        let mut out = Vec::new();
        for piece in payload.chunks(chunk.max(1)) {
            out.extend_from_slice(format!("{:x}{ext}\r\n", piece.len()).as_bytes());
            out.extend_from_slice(piece);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(format!("0{ext}\r\n").as_bytes());
        for (name, value) in trailers {
            out.extend_from_slice(format!("{name}:{value}\r\n").as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        out
    }

    fn decode(
        encoded: &[u8],
        frame: usize,
        expected: Option<u64>,
    ) -> (Vec<u8>, Option<ChunkedError>, Trailers) {
        let body = AwsChunked::new(Frames::split(encoded, frame), expected);
        let trailers = body.trailers();
        let (out, err) = drain(body);
        (out, err, trailers)
    }

    fn payload(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 + i / 256) as u8).collect()
    }

    #[test]
    fn signed_without_trailers_in_any_framing() {
        let data = payload(300);
        let encoded = encode(&data, 64, true, &[]);
        for frame in [1, 2, 7, 64, 91, 1000, encoded.len()] {
            let (out, err, trailers) = decode(&encoded, frame, Some(300));
            assert!(err.is_none(), "frame {frame}: {err:?}");
            assert_eq!(out, data, "frame {frame}");
            assert_eq!(trailers.get(), Some(vec![]));
        }
    }

    #[test]
    fn every_split_point_of_signed_and_unsigned_with_trailers() {
        let data = payload(40);
        let cases = [
            encode(
                &data,
                16,
                true,
                &[
                    ("x-amz-checksum-crc32", "sOO8/Q=="),
                    ("x-amz-trailer-signature", SIG),
                ],
            ),
            encode(&data, 16, false, &[("x-amz-checksum-crc32", "sOO8/Q==")]),
        ];
        for encoded in cases {
            for frame in [1, 7] {
                let (out, err, trailers) = decode(&encoded, frame, Some(40));
                assert!(err.is_none(), "frame {frame}: {err:?}");
                assert_eq!(out, data);
                assert_eq!(
                    trailers.value("X-Amz-Checksum-Crc32").as_deref(),
                    Some("sOO8/Q==")
                );
            }
            // Two frames, cut at every byte.
            for cut in 0..=encoded.len() {
                let frames = Frames(
                    [&encoded[..cut], &encoded[cut..]]
                        .into_iter()
                        .map(Bytes::copy_from_slice)
                        .collect(),
                );
                let body = AwsChunked::new(frames, None);
                let trailers = body.trailers();
                let (out, err) = drain(body);
                assert!(err.is_none(), "cut {cut}: {err:?}");
                assert_eq!(out, data, "cut {cut}");
                assert!(trailers.value("x-amz-checksum-crc32").is_some());
            }
        }
    }

    #[test]
    fn trailer_signature_is_kept() {
        let encoded = encode(b"abc", 3, true, &[("x-amz-trailer-signature", SIG)]);
        let (_, err, trailers) = decode(&encoded, 5, Some(3));
        assert!(err.is_none());
        assert_eq!(
            trailers.get(),
            Some(vec![("x-amz-trailer-signature".into(), SIG.into())])
        );
    }

    #[test]
    fn botocore_unsigned_trailer_form() {
        let encoded = b"5\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\n";
        let (out, err, trailers) = decode(encoded, 3, Some(5));
        assert!(err.is_none());
        assert_eq!(out, b"hello");
        assert_eq!(
            trailers.get(),
            Some(vec![("x-amz-checksum-crc32".into(), "NhCmhg==".into())])
        );
    }

    #[test]
    fn tolerated_endings() {
        for encoded in [
            &b"5\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n"[..],
            b"5\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\n\n",
            b"5\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\n",
        ] {
            let (out, err, trailers) = decode(encoded, 4, Some(5));
            assert!(err.is_none(), "{err:?}");
            assert_eq!(out, b"hello");
            assert!(trailers.value("x-amz-checksum-crc32").is_some());
        }
        let (out, err, trailers) = decode(b"5\r\nhello\r\n0\r\n", 4, None);
        assert!(err.is_none());
        assert_eq!(out, b"hello");
        assert_eq!(trailers.get(), Some(vec![]));
    }

    #[test]
    fn empty_payload() {
        let (out, err, trailers) = decode(b"0\r\n\r\n", 1, Some(0));
        assert!(err.is_none());
        assert!(out.is_empty());
        assert_eq!(trailers.get(), Some(vec![]));
    }

    /// The variant of `e`, with the lengths of a mismatch.
    fn kind(e: &ChunkedError) -> String {
        match e {
            ChunkedError::LengthMismatch { expected, decoded } => {
                format!("LengthMismatch {expected} {decoded}")
            }
            other => format!("{other:?}")
                .split(['(', ' '])
                .next()
                .unwrap_or_default()
                .to_owned(),
        }
    }

    #[test]
    fn errors() {
        let cases: &[(&[u8], Option<u64>, &str)] = &[
            (b"zz\r\nhello\r\n0\r\n\r\n", None, "BadChunkSize"),
            (b";chunk-signature=x\r\n", None, "BadChunkSize"),
            (b"5\nhello\r\n0\r\n\r\n", None, "BadChunkSize"),
            (b"10000000000000000\r\n", None, "BadChunkSize"),
            (b"5\r\nhelloX\r\n0\r\n\r\n", None, "MissingCrlf"),
            (b"5\r\nhello\rX0\r\n\r\n", None, "MissingCrlf"),
            (b"5\r\nhello\r\n", None, "Truncated"),
            (b"5\r\nhel", None, "Truncated"),
            (b"5\r\nhello\r", None, "Truncated"),
            (b"5;chunk-sig", None, "Truncated"),
            (b"", None, "Truncated"),
            (b"0\r\nx-amz-checksum-crc32:ab", None, "Truncated"),
            (b"0\r\nno-colon\r\n\r\n", None, "BadTrailer"),
            (b"0\r\n:value\r\n\r\n", None, "BadTrailer"),
            (b"0\r\nbad name:value\r\n\r\n", None, "BadTrailer"),
            (b"0\r\n\r\nextra", None, "TrailingData"),
            (b"5\r\nhello\r\n0\r\n\r\n", Some(4), "LengthMismatch 4 5"),
            (b"5\r\nhello\r\n0\r\n\r\n", Some(6), "LengthMismatch 6 5"),
        ];
        for (encoded, expected, want) in cases {
            let shown = String::from_utf8_lossy(encoded);
            for frame in [1, 3, 100] {
                let (_, err, trailers) = decode(encoded, frame, *expected);
                let err = err.unwrap_or_else(|| panic!("{shown:?} decoded"));
                assert_eq!(kind(&err), *want, "{shown:?}");
                assert_eq!(trailers.get(), None, "{shown:?}");
                assert!(!err.to_string().is_empty());
            }
        }
    }

    #[test]
    fn overrun_is_refused_before_the_data() {
        // The size line alone overruns the declared length: nothing is yielded.
        let (out, err, _) = decode(b"10\r\n0123456789abcdef\r\n0\r\n\r\n", 100, Some(4));
        assert!(out.is_empty());
        assert!(matches!(
            err,
            Some(ChunkedError::LengthMismatch {
                expected: 4,
                decoded: 16
            })
        ));
    }

    #[test]
    fn line_caps() {
        let mut long = b"5;".to_vec();
        long.extend(std::iter::repeat_n(b'a', MAX_LINE));
        let (_, err, _) = decode(&long, 1000, None);
        assert!(matches!(err, Some(ChunkedError::SizeLineTooLong)));

        let mut long = b"0\r\nx:".to_vec();
        long.extend(std::iter::repeat_n(b'a', MAX_LINE));
        let (_, err, _) = decode(&long, 1000, None);
        assert!(matches!(err, Some(ChunkedError::TrailerTooLong)));

        let mut many = b"0\r\n".to_vec();
        for i in 0..=MAX_TRAILERS {
            many.extend_from_slice(format!("x-{i}:v\r\n").as_bytes());
        }
        many.extend_from_slice(b"\r\n");
        let (_, err, _) = decode(&many, 1000, None);
        assert!(matches!(err, Some(ChunkedError::TooManyTrailers)));
    }

    #[test]
    fn data_is_passed_through_not_gathered() {
        // A 1 MiB chunk arriving in 8 KiB frames comes out as 8 KiB frames.
        let data = payload(1 << 20);
        let encoded = encode(&data, 1 << 20, true, &[]);
        let mut body = AwsChunked::new(Frames::split(&encoded, 8192), Some(1 << 20));
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let mut total = 0;
        while let Poll::Ready(Some(frame)) = Pin::new(&mut body).poll_frame(&mut cx) {
            let data = frame.expect("decodes").into_data().expect("data");
            assert!(data.len() <= 8192);
            total += data.len();
        }
        assert_eq!(total, 1 << 20);
        assert!(body.is_end_stream());
        assert_eq!(body.size_hint().exact(), Some(0));
    }

    #[test]
    fn inner_errors_surface() {
        struct Failing;
        impl Body for Failing {
            type Data = Bytes;
            type Error = std::io::Error;
            fn poll_frame(
                self: Pin<&mut Self>,
                _: &mut Context<'_>,
            ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
                Poll::Ready(Some(Err(std::io::Error::other("reset"))))
            }
        }
        let (_, err) = drain(AwsChunked::new(Failing, None));
        assert!(matches!(err, Some(ChunkedError::Body(_))));
    }

    #[test]
    fn detection() {
        for sha in [
            "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
            "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
            "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
            "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD",
        ] {
            assert!(is_aws_chunked(Some(sha), None), "{sha}");
        }
        assert!(is_aws_chunked(None, Some("aws-chunked")));
        assert!(is_aws_chunked(None, Some("gzip, AWS-chunked")));
        assert!(!is_aws_chunked(Some("UNSIGNED-PAYLOAD"), Some("gzip")));
        assert!(!is_aws_chunked(Some(SIG), None));
        assert!(!is_aws_chunked(Some("STREAM"), None));
        assert!(!is_aws_chunked(None, None));

        assert_eq!(content_encoding_without_aws_chunked("aws-chunked"), None);
        assert_eq!(
            content_encoding_without_aws_chunked("gzip,aws-chunked").as_deref(),
            Some("gzip")
        );
        assert_eq!(
            content_encoding_without_aws_chunked("aws-chunked, gzip, br").as_deref(),
            Some("gzip,br")
        );
    }

    /// The first error of type `E` in `e`'s source chain.
    pub(crate) fn find<'a, E: StdError + 'static>(
        e: &'a (dyn StdError + 'static),
    ) -> Option<&'a E> {
        let mut next = Some(e);
        while let Some(e) = next {
            if let Some(found) = e.downcast_ref::<E>() {
                return Some(found);
            }
            next = e.source();
        }
        None
    }

    #[tokio::test]
    async fn wraps_into_an_axum_body() {
        use axum::body::{Body as AxumBody, to_bytes};
        let inner = AxumBody::from("5;chunk-signature=ab\r\nhello\r\n0;chunk-signature=cd\r\n\r\n");
        let body = AxumBody::new(AwsChunked::new(inner, Some(5)));
        assert_eq!(body.size_hint().exact(), Some(5));
        assert_eq!(&to_bytes(body, 1024).await.unwrap()[..], b"hello");

        let inner = AxumBody::from("5\r\nhel");
        let err = to_bytes(AxumBody::new(AwsChunked::new(inner, None)), 1024)
            .await
            .unwrap_err();
        let found = find::<ChunkedError>(&err);
        assert!(matches!(found, Some(ChunkedError::Truncated)), "{err:?}");
    }

    proptest::proptest! {
        #[test]
        fn round_trip(
            data in proptest::collection::vec(proptest::num::u8::ANY, 0..2000),
            chunk in 1usize..600,
            frame in 1usize..300,
            signed in proptest::bool::ANY,
            with_trailer in proptest::bool::ANY,
        ) {
            let trailers: &[(&str, &str)] = if with_trailer {
                &[("x-amz-checksum-crc32", "AAAAAA==")]
            } else {
                &[]
            };
            let encoded = encode(&data, chunk, signed, trailers);
            let (out, err, got) = decode(&encoded, frame, Some(data.len() as u64));
            proptest::prop_assert!(err.is_none(), "{:?}", err);
            proptest::prop_assert_eq!(out, data);
            proptest::prop_assert_eq!(got.get().map(|t| t.len()), Some(trailers.len()));
        }

        #[test]
        fn never_panics(input in proptest::collection::vec(proptest::num::u8::ANY, 0..300), frame in 1usize..20) {
            let _ = decode(&input, frame, None);
        }
    }
}
