//! The HTTP routes listener (`--http-listen`). User routes, their integrations and authorizers
//! arrive with the routes issue; until then every request is answered as API Gateway answers a
//! request that matches no route.

use std::sync::Arc;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::App;

pub fn router(app: Arc<App>) -> Router {
    Router::new().fallback(not_found).with_state(app)
}

async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [("content-type", "application/json")],
        r#"{"message":"Not Found"}"#,
    )
        .into_response()
}
