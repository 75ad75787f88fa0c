//! Checking a request body against the SHA-256 its client declared (`x-amz-content-sha256`,
//! when it is a digest rather than `UNSIGNED-PAYLOAD` or a `STREAMING-…` value).
//!
//! With SigV4 the declared digest is part of what the client signed, and a server that verifies
//! signatures checks the body against it. eddy does not verify signatures (it cannot know the
//! secret key), but still checks the digest, so a body damaged in transit is refused as S3 would
//! refuse it (`XAmzContentSHA256Mismatch`). [`PayloadHash`] hashes the body as it streams by
//! (nothing is buffered) and ends it with [`PayloadHashError::Mismatch`] instead of its end when
//! the digest differs: the consumer sees the error before it takes the body as complete.

use std::error::Error as StdError;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use sha2::{Digest, Sha256};

type BoxError = Box<dyn StdError + Send + Sync>;

/// The 32 bytes of a 64-hex-digit SHA-256 (either case); `None` for anything else, such as
/// `UNSIGNED-PAYLOAD` or `STREAMING-…`.
pub fn parse_sha256_hex(s: &str) -> Option<[u8; 32]> {
    let s = s.as_bytes();
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in s.chunks_exact(2).enumerate() {
        let hi = (pair[0] as char).to_digit(16)?;
        let lo = (pair[1] as char).to_digit(16)?;
        out[i] = (hi * 16 + lo) as u8;
    }
    Some(out)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Why a [`PayloadHash`] body failed.
#[derive(Debug)]
pub enum PayloadHashError {
    /// The body's SHA-256 is not the declared one (both lowercase hex).
    Mismatch { expected: String, computed: String },
    /// The underlying body failed.
    Body(BoxError),
}

impl std::fmt::Display for PayloadHashError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Mismatch { expected, computed } => write!(
                f,
                "the request body's SHA-256 is {computed}, `x-amz-content-sha256` says {expected}"
            ),
            Self::Body(e) => write!(f, "cannot read the request body: {e}"),
        }
    }
}

impl StdError for PayloadHashError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            Self::Body(e) => Some(e.as_ref()),
            Self::Mismatch { .. } => None,
        }
    }
}

/// A body passing on the body it wraps and failing at its end if its SHA-256 is not the
/// expected one (see the [module docs](self)).
///
/// The wrapped body must be `Unpin` (hyper's and axum's are); pin others with `Box::pin`.
#[derive(Debug)]
pub struct PayloadHash<B> {
    inner: B,
    /// `None` once the digest was compared (or the body failed).
    hasher: Option<Sha256>,
    expected: [u8; 32],
}

impl<B> PayloadHash<B> {
    /// Checks `inner` against `expected`, the 32 bytes of a SHA-256.
    pub fn new(inner: B, expected: [u8; 32]) -> Self {
        Self {
            inner,
            hasher: Some(Sha256::new()),
            expected,
        }
    }

    /// Checks `inner` against an `x-amz-content-sha256` value; `None` when the value is not a
    /// 64-hex-digit digest (`UNSIGNED-PAYLOAD`, `STREAMING-…`): there is nothing to check.
    pub fn from_header(inner: B, content_sha256: &str) -> Option<Self> {
        parse_sha256_hex(content_sha256.trim()).map(|expected| Self::new(inner, expected))
    }

    /// Compares the digest; the error to end the body with, if it differs.
    fn verify(&mut self) -> Option<PayloadHashError> {
        let computed = self.hasher.take()?.finalize();
        (computed.as_slice() != self.expected).then(|| PayloadHashError::Mismatch {
            expected: hex(&self.expected),
            computed: hex(computed.as_slice()),
        })
    }
}

impl<B> Body for PayloadHash<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = PayloadHashError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, PayloadHashError>>> {
        let this = self.get_mut();
        if this.hasher.is_none() {
            return Poll::Ready(None);
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(Ok(frame))) => {
                if let (Some(data), Some(hasher)) = (frame.data_ref(), this.hasher.as_mut()) {
                    hasher.update(data);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => {
                this.hasher = None;
                Poll::Ready(Some(Err(PayloadHashError::Body(e.into()))))
            }
            Poll::Ready(None) => Poll::Ready(this.verify().map(Err)),
        }
    }

    /// Ends only once the digest was compared, so a consumer that stops at the wrapped body's
    /// end still polls once more and sees a mismatch.
    fn is_end_stream(&self) -> bool {
        self.hasher.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws_chunked::tests::{Frames, drain};

    // SHA-256 of "hello world".
    const HELLO: &str = "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9";
    const EMPTY: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn matching_digest_passes_the_body_through() {
        for frame in [1, 4, 100] {
            let body = PayloadHash::from_header(Frames::split(b"hello world", frame), HELLO)
                .expect("a digest");
            let (out, err) = drain(body);
            assert!(err.is_none(), "{err:?}");
            assert_eq!(out, b"hello world");
        }
        let upper = HELLO.to_ascii_uppercase();
        let (_, err) =
            drain(PayloadHash::from_header(Frames::split(b"hello world", 3), &upper).unwrap());
        assert!(err.is_none());
        let (out, err) = drain(PayloadHash::from_header(Frames::split(b"", 1), EMPTY).unwrap());
        assert!(err.is_none() && out.is_empty());
    }

    #[test]
    fn mismatch_ends_the_body_with_an_error() {
        let body = PayloadHash::from_header(Frames::split(b"hello worle", 5), HELLO).unwrap();
        let (out, err) = drain(body);
        assert_eq!(out, b"hello worle");
        match err {
            Some(PayloadHashError::Mismatch { expected, computed }) => {
                assert_eq!(expected, HELLO);
                assert_eq!(computed.len(), 64);
                assert_ne!(computed, HELLO);
            }
            other => panic!("{other:?}"),
        }
        let (_, err) = drain(PayloadHash::from_header(Frames::split(b"", 1), HELLO).unwrap());
        assert!(matches!(err, Some(PayloadHashError::Mismatch { .. })));
    }

    #[tokio::test]
    async fn wraps_into_an_axum_body() {
        use axum::body::{Body as AxumBody, to_bytes};
        let body = PayloadHash::from_header(AxumBody::from("hello world"), HELLO).unwrap();
        let bytes = to_bytes(AxumBody::new(body), 1024).await.unwrap();
        assert_eq!(&bytes[..], b"hello world");

        let body = PayloadHash::from_header(AxumBody::from("hello"), HELLO).unwrap();
        let err = to_bytes(AxumBody::new(body), 1024).await.unwrap_err();
        let found = crate::aws_chunked::tests::find::<PayloadHashError>(&err);
        assert!(
            matches!(found, Some(PayloadHashError::Mismatch { .. })),
            "{err:?}"
        );
    }

    #[test]
    fn non_digests_are_not_checked() {
        for v in [
            "UNSIGNED-PAYLOAD",
            "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
            "",
            &HELLO[1..],
            &format!("{}g", &HELLO[1..]),
        ] {
            assert!(
                PayloadHash::from_header(Frames::split(b"", 1), v).is_none(),
                "{v}"
            );
        }
    }
}
