//! eddy's HTTP listeners, made safe to leave running on a laptop: every listener eddy opens
//! (the AWS endpoint, the HTTP routes listener, each function instance's Runtime API port) is
//! served through this crate.
//!
//! * [`serve`]: the accept loop and connections, with the [`Limits`] that keep memory and
//!   connections bounded whatever clients do: a cap on concurrent connections, a timeout on a
//!   request's head, on its body and on an idle kept-alive connection, a cap on header size, and
//!   a bounded drain at shutdown.
//! * [`body`]: reading a request body against a limit decided before the first byte is read
//!   (a declared length over the limit is refused unread) and a [`BodyBudget`] that bounds the
//!   memory all large bodies in flight may hold together.
//! * [`boundary`]: the browser boundary: requests a web page could have sent (a foreign
//!   `Origin`, `Sec-Fetch-Site: cross-site`) or that reached eddy through a name that is not
//!   eddy's (DNS rebinding) are refused, and CORS preflights get permission only for origins the
//!   operator allowed.
//! * [`url`]: percent-decoding of paths and query strings.
//! * [`aws_chunked`], [`presign`], [`payload_hash`]: turning a SigV4-signed request into an
//!   anonymous one without knowing the secret key: decoding the `aws-chunked` body of streaming
//!   uploads, recognising presigned URLs (expiry checked) and stripping their parameters, and
//!   checking a body against its `x-amz-content-sha256`. Signatures are parsed, never verified.
//!
//! What it is not: any AWS or eddy semantics. Callers decide the limits per request and how a
//! refusal is worded on their wire.

pub mod aws_chunked;
pub mod body;
pub mod boundary;
pub mod payload_hash;
pub mod presign;
mod serve;
pub mod url;

pub use aws_chunked::{AwsChunked, ChunkedError, Trailers, is_aws_chunked};
pub use body::{BodyBudget, BodyError, BodyGuard, read_body};
pub use boundary::{Boundary, Guard, Refusal, enforce};
pub use payload_hash::{PayloadHash, PayloadHashError};
pub use presign::{
    Authorization, CredentialScope, Presigned, SigV4Error, parse_authorization, presigned,
};
pub use serve::{Limits, LocalAddr, serve};
