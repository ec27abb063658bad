//! `/v1`: mail.cx's mailbox-less API over open inboxes. No auth; an optional `x-api-token` with
//! a Pro token raises the caller's rate limit. Errors use the `/v1` codes (`email_expired`,
//! `rate_limit_exceeded`, `addr_busy`, `token_busy`) through the one `ApiError`.

mod email;
mod inbox;
mod sse;
pub mod waiters;

use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use mailcx_common::ErrorCode;
use mailcx_common::v1::{API_TOKEN_HEADER, EmailSummary};
use mailcx_common::{timestamp, validate};
use uuid::Uuid;

use super::AppState;
use crate::auth::{PRO_TOKEN_PREFIX, unix_now};
use crate::error::ApiError;
use crate::store::messages::Lookup;
use crate::store::open::OpenEmail;

pub use waiters::Waiters;

/// What `/v1` needs beside the rest of the API's state.
pub struct V1State {
    /// The open domains, in the order of `--domains`.
    pub open_domains: Vec<String>,
    pub waiters: Waiters,
}

impl V1State {
    /// The `/v1` state of `config`.
    pub fn new(config: &crate::Config) -> Arc<V1State> {
        Arc::new(V1State {
            open_domains: config.checked_open_domains().unwrap_or_default(),
            waiters: Waiters::new(
                config.long_poll_max_waiters,
                config.long_poll_max_waiters_per_client,
            ),
        })
    }
}

/// The `/v1` routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/config", get(inbox::config))
        .route("/v1/inbox", axum::routing::post(inbox::create))
        .route("/v1/inbox/{address}", get(inbox::wait).delete(inbox::clear))
        .route("/v1/email/{id}", get(email::get).delete(email::delete))
        .route("/v1/email/{id}/raw", get(email::raw))
        .route("/v1/email/{id}/attachments/{index}", get(email::attachment))
        .route("/v1/sse/addr", get(sse::stream))
}

/// Whether a request path is one of `/v1`'s (its rate limit and codes are its own).
pub fn is_v1(path: &str) -> bool {
    path == "/v1" || path.starts_with("/v1/")
}

/// The API token a `/v1` request carried, resolved by `rate_limit`.
#[derive(Debug, Clone, Copy)]
pub struct TokenId(pub Uuid);

/// `/v1`'s rate limit: a valid Pro token in `x-api-token` counts against its Pro user's bucket,
/// anything else against the client IP's; an invalid token is 401 `invalid_token`; over the
/// limit is 429 `rate_limit_exceeded` with `Retry-After`.
pub async fn rate_limit(state: AppState, mut request: Request, next: Next) -> Response {
    let token = request
        .headers()
        .get(API_TOKEN_HEADER)
        .map(|v| v.to_str().unwrap_or_default().trim().to_string());
    let verdict = match token {
        Some(token) => {
            let caller = if token.starts_with(PRO_TOKEN_PREFIX) {
                state.auth.pro_caller(&state, &token).await.ok()
            } else {
                None
            };
            let Some(caller) = caller.filter(|c| c.token_id.is_some()) else {
                return ApiError::invalid_token().into_response();
            };
            let user = caller.user.id;
            if let Some(id) = caller.token_id {
                request.extensions_mut().insert(TokenId(id));
            }
            state.pro_rate_limiter.as_ref().map(|limiter| limiter.take(user))
        }
        None => super::client_verdict(&state, &request),
    };
    if let Some(Err(retry_after)) = verdict {
        return super::too_many_requests(ErrorCode::RateLimitExceeded, retry_after);
    }
    next.run(request).await
}

/// An address on an open domain, lower-cased; else 400 `invalid_address`.
fn open_address(state: &AppState, address: &str) -> Result<String, ApiError> {
    validate::normalize_address(address, &state.v1.open_domains).map_err(|e| {
        let message = match e {
            validate::AddressError::UnknownDomain(domain) => {
                format!("{domain} is not an open domain of this server")
            }
            other => other.to_string(),
        };
        ApiError::new(ErrorCode::InvalidAddress, message)
    })
}

/// The address of an `{address}` path; one that does not even decode is `invalid_address`.
fn path_text(
    path: Result<axum::extract::Path<String>, axum::extract::rejection::PathRejection>,
) -> Result<String, ApiError> {
    path.map(|axum::extract::Path(text)| text)
        .map_err(|_| ApiError::new(ErrorCode::InvalidAddress, "the address does not decode"))
}

/// A cursor as sent (`since`, `Last-Event-ID`); else 400 `invalid_request`.
fn cursor(text: &str) -> Result<i64, ApiError> {
    text.parse::<i64>()
        .ok()
        .filter(|n| *n >= 0)
        .ok_or_else(|| ApiError::invalid_request("the cursor is not one this server gave out"))
}

/// An email lookup's answer: found, 410 `email_expired`, or 404 `not_found`.
fn found<T>(lookup: Lookup<T>) -> Result<T, ApiError> {
    match lookup {
        Lookup::Found(value) => Ok(value),
        Lookup::Expired => Err(ApiError::new(
            ErrorCode::EmailExpired,
            "this email was removed by retention",
        )),
        Lookup::Missing => Err(ApiError::new(ErrorCode::NotFound, "no such email")),
    }
}

/// The address part of a `From:` header (`Ann <ann@x.org>` → `ann@x.org`), or the envelope
/// sender when the header has none.
fn from_email(from: &str, sender: &str) -> String {
    let inside = from.rfind('<').and_then(|start| {
        from[start + 1..]
            .find('>')
            .map(|end| &from[start + 1..start + 1 + end])
    });
    let bare = from.trim();
    match inside {
        Some(address) if address.contains('@') => address.trim().to_string(),
        _ if bare.contains('@') && !bare.contains(char::is_whitespace) => bare.to_string(),
        _ => sender.to_string(),
    }
}

/// An open email as listed.
fn summary(email: &OpenEmail) -> EmailSummary {
    EmailSummary {
        id: email.id,
        from_email: from_email(&email.from, &email.sender),
        subject: email.subject.clone(),
        preview_text: email.preview_text.clone(),
        created_at: timestamp(email.created_at),
    }
}

fn now() -> i64 {
    unix_now() as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_email_is_the_headers_address_or_the_sender() {
        assert_eq!(from_email("Ann <ann@x.org>", "s@y"), "ann@x.org");
        assert_eq!(from_email("\"A <b>\" <ann@x.org>", "s@y"), "ann@x.org");
        assert_eq!(from_email("ann@x.org", "s@y"), "ann@x.org");
        assert_eq!(from_email("", "s@y"), "s@y");
        assert_eq!(from_email("Just a name", "s@y"), "s@y");
    }

    #[test]
    fn cursors_are_whole_numbers() {
        assert_eq!(cursor("0").unwrap(), 0);
        assert_eq!(cursor("42").unwrap(), 42);
        for bad in ["", "-1", "x", "1.5", "99999999999999999999"] {
            assert!(cursor(bad).is_err(), "{bad:?}");
        }
    }
}
