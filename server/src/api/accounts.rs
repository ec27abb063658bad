//! Mailboxes: create, sign in, describe, delete.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use mailcx_common::validate::{self, PasswordError};
use mailcx_common::{AccountToken, Credentials, ErrorCode, Me, timestamp};
use uuid::Uuid;

use super::{ApiJson, AppState, ClientIp};
use crate::auth::{Mailbox, unix_now};
use crate::error::{ApiError, ApiResult};
use crate::events::Event;
use crate::store::StoreError;
use crate::store::accounts::{self, NewAccount};
use crate::store::messages;

/// Messages removed per transaction when a mailbox is deleted.
const DELETE_BATCH: u32 = 200;

/// `POST /api/accounts`.
pub async fn create(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    ApiJson(credentials): ApiJson<Credentials>,
) -> ApiResult<(StatusCode, Json<AccountToken>)> {
    let names: Vec<&str> = state.domains.domains.iter().map(|d| d.domain.as_str()).collect();
    let address = validate::normalize_address(&credentials.address, &names)
        .map_err(|e| ApiError::new(ErrorCode::InvalidAddress, e.to_string()))?;
    validate::validate_password(&credentials.password).map_err(|e| match e {
        PasswordError::TooShort => ApiError::new(ErrorCode::PasswordTooShort, e.to_string()),
        PasswordError::TooLong => ApiError::invalid_request(e.to_string()),
    })?;
    let reservation = match &state.creations {
        Some(limiter) => Some(limiter.reserve(client).ok_or_else(|| {
            ApiError::new(
                ErrorCode::AccountLimitReached,
                "too many mailboxes created from this address; try again later",
            )
        })?),
        None => None,
    };
    // A cheap early answer for a taken address; the unique index below is what makes it race-free.
    let lookup = address.clone();
    if state
        .store
        .read(move |conn| accounts::by_address(conn, &lookup))
        .await?
        .is_some()
    {
        return Err(address_taken());
    }
    let password_hash = state.auth.hash_password(credentials.password).await?;
    let id = Uuid::new_v4();
    let quota = state.config.quota;
    let created_at = unix_now() as i64;
    let account = state
        .store
        .write(move |conn| {
            let new = NewAccount {
                id,
                address: &address,
                password_hash: &password_hash,
                quota,
                created_at,
                owner_id: None,
                domain_id: None,
            };
            accounts::insert(conn, &new)
        })
        .await
        .map_err(|e| match e {
            StoreError::Conflict => address_taken(),
            other => other.into(),
        })?;
    if let Some(reservation) = reservation {
        reservation.commit();
    }
    let token = state.auth.issue(&account)?;
    let created = AccountToken {
        id: account.id,
        address: account.address,
        token,
    };
    Ok((StatusCode::CREATED, Json(created)))
}

fn address_taken() -> ApiError {
    ApiError::new(ErrorCode::AddressTaken, "that address is already in use")
}

/// `POST /api/token`.
pub async fn sign_in(
    State(state): State<AppState>,
    ApiJson(credentials): ApiJson<Credentials>,
) -> ApiResult<Json<AccountToken>> {
    let address = credentials.address.trim().to_ascii_lowercase();
    let found = state
        .store
        .read(move |conn| accounts::by_address_with_hash(conn, &address))
        .await?;
    let (account, hash) = match found {
        Some((account, hash)) => (Some(account), Some(hash)),
        None => (None, None),
    };
    let matches = state.auth.verify_password(credentials.password, hash).await?;
    match account {
        Some(account) if matches => {
            let token = state.auth.issue(&account)?;
            Ok(Json(AccountToken {
                id: account.id,
                address: account.address,
                token,
            }))
        }
        _ => Err(ApiError::new(
            ErrorCode::InvalidCredentials,
            "wrong address or password",
        )),
    }
}

/// `GET /api/me`.
pub async fn me(Mailbox(account): Mailbox) -> Json<Me> {
    Json(Me {
        id: account.id,
        address: account.address,
        role: account.role,
        quota: account.quota,
        used: account.used,
        created_at: timestamp(account.created_at),
    })
}

/// `DELETE /api/account`. The mail goes first, in batches, so a big mailbox never holds the writer
/// (and with it every SMTP `250`) for long; then the mailbox. Of racing deletes with one token,
/// one gets 204 and the others find no mailbox: 401, like any later use of the token.
pub async fn delete(State(state): State<AppState>, Mailbox(account): Mailbox) -> ApiResult<StatusCode> {
    let id = account.id;
    while state
        .store
        .write(move |conn| messages::delete_some_of(conn, id, DELETE_BATCH))
        .await?
    {}
    let deleted = state.store.write(move |conn| accounts::delete(conn, id)).await?;
    if !deleted {
        return Err(ApiError::invalid_token());
    }
    state.events.publish(Event::AccountDeleted(id));
    Ok(StatusCode::NO_CONTENT)
}
