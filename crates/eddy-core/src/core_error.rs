//! The errors of eddy's domain (the core): what went wrong in the core's own words, never an AWS
//! error code or an HTTP status. The protocol adapters map them to their wire's errors
//! (`eddy_server::error::ApiError` for the AWS endpoint, once, in its `From` impls).
//!
//! Operations whose caller decides what is acceptable (a registry's `upsert` runs the adapter's
//! `decide`) are generic over the caller's error type, which must take a [`CoreError`].

/// Why a core operation failed for reasons of its own (the store, encoding), not the caller's.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// The store failed; its error says whether it is full.
    #[error(transparent)]
    Store(#[from] eddy_store::StoreError),
    /// A definition could not be encoded for the store (a bug, not the caller's mistake).
    #[error("cannot encode definition: {0}")]
    Encode(#[from] serde_json::Error),
}
