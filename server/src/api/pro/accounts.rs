//! `/pro/api/accounts`.

use axum::Router;

use crate::api::AppState;

/// The routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new()
}
