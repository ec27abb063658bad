//! `POST /pro/api/login`: a Pro user's email and password for a Pro JWT.

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use mailcx_common::{ErrorCode, ProLogin, ProSession};

use crate::api::{ApiJson, AppState};
use crate::error::{ApiError, ApiResult};
use crate::store::pro;

/// The routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new().route("/pro/api/login", post(login))
}

/// `POST /pro/api/login`. A wrong email and a wrong password answer alike, and cost alike.
async fn login(
    State(state): State<AppState>,
    ApiJson(login): ApiJson<ProLogin>,
) -> ApiResult<Json<ProSession>> {
    let email = login.email.trim().to_ascii_lowercase();
    let found = state
        .store
        .read(move |conn| pro::user_by_email_with_hash(conn, &email))
        .await?;
    let (user, hash) = match found {
        Some((user, hash)) => (Some(user), Some(hash)),
        None => (None, None),
    };
    let matches = state.auth.verify_password(login.password, hash).await?;
    match user {
        Some(user) if matches => Ok(Json(ProSession {
            token: state.auth.issue_pro(&user)?,
        })),
        _ => Err(ApiError::new(
            ErrorCode::InvalidCredentials,
            "wrong email or password",
        )),
    }
}
