//! EventBridge archives and replays over AWS JSON 1.1 (`AWSEvents.CreateArchive` …).

use super::Ctx;
use crate::App;
use crate::error::ApiError;

/// Runs one archive or replay operation.
pub async fn call(_app: &App, _ctx: &Ctx, op: &str, _body: &[u8]) -> Result<Vec<u8>, ApiError> {
    Err(ApiError::unknown_operation(format!(
        "Unknown operation AWSEvents.{op}: eddy does not implement it yet"
    )))
}
