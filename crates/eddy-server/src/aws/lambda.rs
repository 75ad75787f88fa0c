//! The Lambda API (rest-json, paths under `/2015-03-31/`).

use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::Response;

use super::Ctx;
use super::rest::RestRequest;
use crate::App;
use crate::error::ApiError;

/// Answers one Lambda API call: the operation's name (for metrics) and its response.
pub async fn call(
    _app: &Arc<App>,
    _ctx: &Ctx,
    req: RestRequest,
) -> (&'static str, Result<Response, ApiError>) {
    let path = req.path().join("/");
    (
        "unknown",
        Err(ApiError::new(
            "UnknownOperationException",
            StatusCode::NOT_FOUND,
            format!("Unknown operation {} /{path}", req.method),
        )),
    )
}
