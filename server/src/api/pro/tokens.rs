//! `/pro/api/tokens`: a Pro user's API tokens. A token's secret is shown once, when it is made,
//! and stored only as its SHA-256 hash.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Json, Router};
use mailcx_common::{CreatedToken, ErrorCode, NewToken, TokenInfo, TokenList, timestamp};
use uuid::Uuid;

use crate::api::{ApiJson, AppState};
use crate::auth::{Pro, new_pro_token, pro_token_hash, unix_now};
use crate::error::{ApiError, ApiResult};
use crate::store::pro;

/// Longest token name, in characters.
const MAX_NAME: usize = 100;

/// The routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/pro/api/tokens", get(list).post(create))
        .route("/pro/api/tokens/{id}", delete(revoke))
}

/// `GET /pro/api/tokens`: every token of the caller, revoked ones too, never a secret.
async fn list(State(state): State<AppState>, Pro(caller): Pro) -> ApiResult<Json<TokenList>> {
    let user_id = caller.user.id;
    let tokens = state
        .store
        .read(move |conn| pro::tokens_of(conn, user_id))
        .await?;
    let tokens = tokens
        .into_iter()
        .map(|token| {
            // A use not written out yet counts.
            let last_used = token.last_used_at.max(state.auth.last_use_pending(token.id));
            TokenInfo {
                id: token.id,
                name: token.name,
                last_used_at: last_used.map(timestamp),
                created_at: timestamp(token.created_at),
                revoked_at: token.revoked_at.map(timestamp),
            }
        })
        .collect();
    Ok(Json(TokenList { tokens }))
}

/// `POST /pro/api/tokens` → 201 with the secret, this once.
async fn create(
    State(state): State<AppState>,
    Pro(caller): Pro,
    ApiJson(new): ApiJson<NewToken>,
) -> ApiResult<(StatusCode, Json<CreatedToken>)> {
    let name = new.name.trim().to_string();
    if name.is_empty() || name.chars().count() > MAX_NAME {
        return Err(ApiError::invalid_request(format!(
            "name must be 1 to {MAX_NAME} characters"
        )));
    }
    let secret = new_pro_token();
    let hash = pro_token_hash(&secret);
    let id = Uuid::new_v4();
    let user = caller.user;
    let stored_name = name.clone();
    let created = state
        .store
        .write(move |conn| pro::insert_token(conn, &user, id, &stored_name, &hash, unix_now() as i64))
        .await?;
    if created.is_none() {
        return Err(ApiError::new(
            ErrorCode::InvalidRequest,
            "this account has as many active tokens as it may; revoke one first",
        ));
    }
    Ok((
        StatusCode::CREATED,
        Json(CreatedToken {
            id,
            name,
            token: secret,
        }),
    ))
}

/// `DELETE /pro/api/tokens/{id}` → 204; the token answers 401 from the next request on.
async fn revoke(
    State(state): State<AppState>,
    Pro(caller): Pro,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id = Uuid::parse_str(&id).map_err(|_| ApiError::not_found())?;
    let user_id = caller.user.id;
    let revoked = state
        .store
        .write(move |conn| pro::revoke_token(conn, user_id, id, unix_now() as i64))
        .await?;
    if revoked {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found())
    }
}
