//! Server configuration: what `eddy serve` and the test sandbox set.

use std::path::PathBuf;

/// Everything [`crate::run`] needs besides its listeners and shutdown signal.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Where the embedded store lives.
    pub data_dir: PathBuf,
    /// Development mode: enables `POST /_eddy/reset`, `/moto-api/reset` and `POST /_eddy/clock`.
    pub dev: bool,
    /// The account id in ARNs and envelopes.
    pub account_id: String,
    /// The region used when a request carries no SigV4 credential scope.
    pub default_region: String,
    /// Largest total size of the entries of one PutEvents request, in bytes, measured as AWS
    /// does (Source + DetailType + Detail + Resources, plus 14 bytes when Time is set).
    pub max_entries_size: usize,
    /// Largest event pattern accepted, in characters (EventBridge: 2048 by default, at most 4096).
    pub max_pattern_len: usize,
    /// Largest request body accepted on the AWS endpoint, in bytes.
    pub max_body_bytes: usize,
    /// Deliveries in flight at once to one target.
    pub target_concurrency: usize,
    /// Fsync every commit (never turn off outside a benchmark of the fsync's cost).
    pub sync: bool,
}

impl ServerConfig {
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            dev: false,
            account_id: eddy_model::DEFAULT_ACCOUNT_ID.to_owned(),
            default_region: eddy_model::DEFAULT_REGION.to_owned(),
            max_entries_size: 256 * 1024,
            max_pattern_len: 2048,
            max_body_bytes: 8 * 1024 * 1024,
            target_concurrency: 256,
            sync: true,
        }
    }
}
