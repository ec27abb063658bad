//! `/pro/api/accounts`: a Pro user's mailboxes (made with `POST /api/accounts` and a Pro
//! credential): list, delete, reset a password, read the messages. Another user's mailbox, an
//! anonymous one, or an id that is not a UUID is 404, like one that does not exist.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, put};
use axum::{Json, Router};
use mailcx_common::{
    ErrorCode, MessageList, NewPassword, PasswordReset, ProAccount, ProAccountList, timestamp,
};
use uuid::Uuid;

use crate::api::messages::Page;
use crate::api::{ApiJson, AppState, accounts as mailboxes};
use crate::auth::{Pro, unix_now};
use crate::error::{ApiError, ApiResult};
use crate::store::{accounts, messages};

/// The routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/pro/api/accounts", get(list))
        .route("/pro/api/accounts/{id}", delete(remove))
        .route("/pro/api/accounts/{id}/reset-password", put(reset_password))
        .route("/pro/api/accounts/{id}/messages", get(messages))
}

/// A mailbox id from the path; one that is not a UUID names no mailbox.
fn mailbox_id(id: &str) -> ApiResult<Uuid> {
    Uuid::parse_str(id).map_err(|_| no_mailbox())
}

fn no_mailbox() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "no such mailbox")
}

/// `no_mailbox` unless the mailbox `id` belongs to `user_id`.
async fn ensure_owned(state: &AppState, user_id: Uuid, id: Uuid) -> ApiResult<()> {
    state
        .store
        .read(move |conn| accounts::owned(conn, user_id, id))
        .await?
        .map(|_| ())
        .ok_or_else(no_mailbox)
}

/// `GET /pro/api/accounts?page=N`: 100 a page, newest first. A page is kept as sent while
/// nothing is written: listing is what dashboards and scripts poll.
async fn list(State(state): State<AppState>, Pro(caller): Pro, Page(page): Page) -> ApiResult<Response> {
    let key = (caller.user.id, page);
    // Read before the query: a write that lands meanwhile makes the kept page stale at once.
    let generation = state.store.generation();
    let body = match state.pro_pages.get(&key, generation) {
        Some(body) => body,
        None => {
            let body = render_page(&state, key).await?;
            state.pro_pages.put(key, generation, body.clone());
            body
        }
    };
    Ok(([(CONTENT_TYPE, "application/json")], body).into_response())
}

/// The JSON of page `page` of `user_id`'s mailboxes, read from the database.
async fn render_page(state: &AppState, (user_id, page): (Uuid, u32)) -> ApiResult<Bytes> {
    let rows = state
        .store
        .read(move |conn| accounts::owned_page(conn, user_id, page))
        .await?;
    let accounts = rows
        .into_iter()
        .map(|account| ProAccount {
            id: account.id,
            address: account.address,
            quota: account.quota,
            used: account.used,
            created_at: timestamp(account.created_at),
            messages: account.messages,
            unread: account.unread,
        })
        .collect();
    let list = ProAccountList { accounts, page };
    let json = serde_json::to_vec(&list).map_err(ApiError::internal)?;
    Ok(Bytes::from(json))
}

/// `DELETE /pro/api/accounts/{id}` → 204: the mailbox and its mail, as `DELETE /api/account`
/// removes them.
async fn remove(
    State(state): State<AppState>,
    Pro(caller): Pro,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id = mailbox_id(&id)?;
    // The owner never changes, so a mailbox found owned here is still this user's below.
    ensure_owned(&state, caller.user.id, id).await?;
    if mailboxes::remove(&state, id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(no_mailbox())
    }
}

/// `PUT /pro/api/accounts/{id}/reset-password` → `{"message":"password_reset"}`; every token
/// of the mailbox issued before stops working on its next request.
async fn reset_password(
    State(state): State<AppState>,
    Pro(caller): Pro,
    Path(id): Path<String>,
    ApiJson(new): ApiJson<NewPassword>,
) -> ApiResult<Json<PasswordReset>> {
    let id = mailbox_id(&id)?;
    mailboxes::check_password(&new.password)?;
    let user_id = caller.user.id;
    // Spares a password hash for an id that is not the caller's; the update checks again.
    ensure_owned(&state, user_id, id).await?;
    let hash = state.auth.hash_password(new.password).await?;
    let reset = state
        .store
        .write(move |conn| accounts::reset_owned_password(conn, user_id, id, &hash))
        .await?;
    if !reset {
        return Err(no_mailbox());
    }
    Ok(Json(PasswordReset {
        message: "password_reset".into(),
    }))
}

/// `GET /pro/api/accounts/{id}/messages?page=N`: the shape of `GET /api/messages`.
async fn messages(
    State(state): State<AppState>,
    Pro(caller): Pro,
    Path(id): Path<String>,
    Page(page): Page,
) -> ApiResult<Json<MessageList>> {
    let id = mailbox_id(&id)?;
    let user_id = caller.user.id;
    let now = unix_now() as i64;
    let rows = state
        .store
        .read(move |conn| match accounts::owned(conn, user_id, id)? {
            Some(_) => messages::page(conn, id, page, now).map(Some),
            None => Ok(None),
        })
        .await?
        .ok_or_else(no_mailbox)?;
    Ok(Json(MessageList { messages: rows, page }))
}
