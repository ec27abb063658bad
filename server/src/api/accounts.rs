//! Mailboxes: create, sign in, describe, delete.

use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use mailcx_common::validate::{self, AddressError, PasswordError};
use mailcx_common::{AccountToken, Credentials, ErrorCode, Me, timestamp};
use uuid::Uuid;

use super::{ApiJson, AppState, ClientIp};
use crate::auth::{Mailbox, ProCaller, bearer_token, looks_like_pro, unix_now};
use crate::error::{ApiError, ApiResult};
use crate::events::Event;
use crate::store::StoreError;
use crate::store::accounts::{self, Account, NewAccount};
use crate::store::pro::ProUser;
use crate::store::{domains, messages};

/// Messages removed per transaction when a mailbox is deleted.
pub(super) const DELETE_BATCH: u32 = 200;

/// `POST /api/accounts`: an anonymous mailbox, within the per-IP creation limit; or, with a Pro
/// credential, a mailbox owned by that user, within their mailbox limit instead.
pub async fn create(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    Owner(owner): Owner,
    ApiJson(credentials): ApiJson<Credentials>,
) -> ApiResult<(StatusCode, Json<AccountToken>)> {
    let owner = owner.map(|caller| caller.user);
    let (address, domain_id) = address_for(&state, owner.as_ref(), &credentials.address).await?;
    check_password(&credentials.password)?;
    // A Pro user's creations count against their own limit, not their IP's.
    let reservation = match (&state.creations, &owner) {
        (Some(limiter), None) => Some(limiter.reserve(client).ok_or_else(|| {
            ApiError::new(
                ErrorCode::AccountLimitReached,
                "too many mailboxes created from this address; try again later",
            )
        })?),
        _ => None,
    };
    refuse_early(&state, owner.as_ref(), &address).await?;
    let password_hash = state.auth.hash_password(credentials.password).await?;
    let account = insert(&state, owner.as_ref(), address, password_hash, domain_id).await?;
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

/// Cheap early answers that spare a password hash: the owner's mailbox limit reached, the
/// address taken. `insert` is what makes both race-free.
async fn refuse_early(state: &AppState, owner: Option<&ProUser>, address: &str) -> ApiResult<()> {
    if let Some(user) = owner {
        let user_id = user.id;
        let owned = state
            .store
            .read(move |conn| accounts::count_owned(conn, user_id))
            .await?;
        if owned >= user.limits.mailboxes {
            return Err(mailbox_limit_reached());
        }
    }
    let lookup = address.to_string();
    if state
        .store
        .read(move |conn| accounts::by_address(conn, &lookup))
        .await?
        .is_some()
    {
        return Err(address_taken());
    }
    Ok(())
}

/// Inserts the mailbox. For an owner, in the same transaction: their mailbox count against
/// their limit, and their custom domain still verified (a domain being deleted turns pending
/// first, and must take no new mailbox).
async fn insert(
    state: &AppState,
    owner: Option<&ProUser>,
    address: String,
    password_hash: String,
    domain_id: Option<Uuid>,
) -> ApiResult<Account> {
    let owner = owner.map(|user| (user.id, user.limits.mailboxes));
    let quota = match owner {
        Some(_) => state.config.pro_quota,
        None => state.config.quota,
    };
    let (id, created_at) = (Uuid::new_v4(), unix_now() as i64);
    let inserted = state
        .store
        .write(move |conn| {
            let new = NewAccount {
                id,
                address: &address,
                password_hash: &password_hash,
                quota,
                created_at,
                owner_id: owner.map(|(id, _)| id),
                domain_id,
            };
            let Some((owner_id, limit)) = owner else {
                return accounts::insert(conn, &new).map(Inserted::Created);
            };
            if let Some(domain_id) = domain_id {
                let domain = address.rsplit_once('@').map_or("", |(_, d)| d);
                if domains::verified_for(conn, owner_id, domain)? != Some(domain_id) {
                    return Ok(Inserted::DomainGone);
                }
            }
            let created = accounts::insert_owned(conn, &new, limit)?;
            Ok(created.map_or(Inserted::LimitReached, Inserted::Created))
        })
        .await
        .map_err(|e| match e {
            StoreError::Conflict => address_taken(),
            other => other.into(),
        })?;
    match inserted {
        Inserted::Created(account) => Ok(account),
        Inserted::LimitReached => Err(mailbox_limit_reached()),
        Inserted::DomainGone => Err(ApiError::new(
            ErrorCode::InvalidAddress,
            "that domain is not one of your verified domains",
        )),
    }
}

/// What became of a mailbox insert.
enum Inserted {
    Created(Account),
    LimitReached,
    DomainGone,
}

/// The Pro user a `POST /api/accounts` is made for. A Pro credential (by its form) must verify,
/// else 401; any other Authorization value is ignored, since some clients send their own
/// tokens there.
pub struct Owner(Option<ProCaller>);

impl FromRequestParts<AppState> for Owner {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        match bearer_token(&parts.headers) {
            Some(credential) if looks_like_pro(&state.auth, credential) => {
                let caller = state.auth.pro_caller(state, credential).await?;
                Ok(Owner(Some(caller)))
            }
            _ => Ok(Owner(None)),
        }
    }
}

/// The address as stored, and the custom domain it is on: a system domain for anyone, or one of
/// the owner's verified domains.
async fn address_for(
    state: &AppState,
    owner: Option<&ProUser>,
    address: &str,
) -> ApiResult<(String, Option<Uuid>)> {
    let invalid = |e: AddressError| ApiError::new(ErrorCode::InvalidAddress, e.to_string());
    let names: Vec<&str> = state.domains.domains.iter().map(|d| d.domain.as_str()).collect();
    match (validate::normalize_address(address, &names), owner) {
        (Ok(address), _) => Ok((address, None)),
        (Err(AddressError::UnknownDomain(domain)), Some(owner)) => {
            let Some(domain_id) = custom_domain(state, owner, &domain).await? else {
                return Err(invalid(AddressError::UnknownDomain(domain)));
            };
            let address = validate::normalize_address(address, &[domain]).map_err(invalid)?;
            Ok((address, Some(domain_id)))
        }
        (Err(e), _) => Err(invalid(e)),
    }
}

/// The id of `domain` if it is one of the owner's verified custom domains.
async fn custom_domain(state: &AppState, owner: &ProUser, domain: &str) -> ApiResult<Option<Uuid>> {
    let (user_id, domain) = (owner.id, domain.to_string());
    Ok(state
        .store
        .read(move |conn| domains::verified_for(conn, user_id, &domain))
        .await?)
}

/// A mailbox password against the rule: `password_too_short`, or `invalid_request` when too long.
pub fn check_password(password: &str) -> ApiResult<()> {
    validate::validate_password(password).map_err(|e| match e {
        PasswordError::TooShort => ApiError::new(ErrorCode::PasswordTooShort, e.to_string()),
        PasswordError::TooLong => ApiError::invalid_request(e.to_string()),
    })
}

fn mailbox_limit_reached() -> ApiError {
    ApiError::new(
        ErrorCode::AccountLimitReached,
        "this Pro account has as many mailboxes as it may; delete one first",
    )
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
        messages: account.messages,
        unread: account.unread,
    })
}

/// `DELETE /api/account`. Of racing deletes with one token, one gets 204 and the others find no
/// mailbox: 401, like any later use of the token.
pub async fn delete(State(state): State<AppState>, Mailbox(account): Mailbox) -> ApiResult<StatusCode> {
    if !remove(&state, account.id).await? {
        return Err(ApiError::invalid_token());
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Removes a mailbox and tells its sockets; false when it was gone already. The mail goes first,
/// in batches, so a big mailbox never holds the writer (and with it every SMTP `250`) for long;
/// then the mailbox.
pub async fn remove(state: &AppState, id: Uuid) -> ApiResult<bool> {
    while state
        .store
        .write(move |conn| messages::delete_some_of(conn, id, DELETE_BATCH))
        .await?
    {}
    let deleted = state.store.write(move |conn| accounts::delete(conn, id)).await?;
    if deleted {
        state.events.publish(Event::AccountDeleted(id));
    }
    Ok(deleted)
}
