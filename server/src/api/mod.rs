//! The HTTP API: the router, its shared state, and the pieces every handler uses.

mod accounts;
mod domains;
mod messages;
mod ws;

pub use domains::system_domains as domains_list;
pub use ws::MAX_SOCKETS_PER_MAILBOX;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequest, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use mailcx_common::{DomainList, ErrorCode};
use serde::de::DeserializeOwned;
use tokio::sync::watch;
use tower_http::catch_panic::CatchPanicLayer;
use uuid::Uuid;

use crate::auth::Auth;
use crate::config::Config;
use crate::error::ApiError;
use crate::events::Events;
use crate::ratelimit::{CreationLimiter, RateLimiter};
use crate::slots::Slots;
use crate::store::Store;

/// Largest JSON request body accepted (64 KiB).
pub const MAX_JSON_BODY: usize = 64 * 1024;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Store,
    pub auth: Arc<Auth>,
    pub domains: Arc<DomainList>,
    pub rate_limiter: Option<Arc<RateLimiter>>,
    pub creations: Option<Arc<CreationLimiter>>,
    pub events: Events,
    /// Open WebSockets per mailbox.
    pub sockets: Arc<Slots<Uuid>>,
    /// Turns true when the server is stopping.
    pub shutdown: watch::Receiver<bool>,
}

/// The whole API as one router.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/api/domains", get(domains::list))
        .route("/api/accounts", post(accounts::create))
        .route("/api/token", post(accounts::sign_in))
        .route("/api/me", get(accounts::me))
        .route("/api/account", delete(accounts::delete))
        .route("/api/messages", get(messages::list))
        .route("/api/messages/{id}", get(messages::get).delete(messages::delete))
        .route("/api/messages/{id}/read", put(messages::mark_read))
        .route("/api/messages/{id}/source", get(messages::source))
        .route(
            "/api/messages/{id}/attachments/{index}",
            get(messages::attachment),
        )
        .route("/api/ws", get(ws::connect))
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(state.clone(), rate_limit))
        .layer(DefaultBodyLimit::max(MAX_JSON_BODY))
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::internal("a handler panicked").into_response()
        }))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "no such route")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(ErrorCode::MethodNotAllowed, "this path does not take that method")
}

/// Answers 429 with `Retry-After` once a client IP has used up its bucket.
async fn rate_limit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if let (Some(limiter), Some(ip)) = (&state.rate_limiter, client_ip(&request))
        && let Err(retry_after) = limiter.check(ip)
    {
        let mut error = ApiError::new(ErrorCode::RateLimited, "too many requests; slow down");
        error.retry_after = Some(retry_after);
        return error.into_response();
    }
    next.run(request).await
}

/// The peer address of the connection a request came on.
fn client_ip<B>(request: &axum::http::Request<B>) -> Option<IpAddr> {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
}

/// A JSON body whose every rejection is the contract's `invalid_request` or `payload_too_large`.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(request, state).await {
            Ok(Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => {
            ApiError::invalid_request("the body must be JSON, sent with Content-Type: application/json")
        }
        JsonRejection::JsonSyntaxError(_) => ApiError::invalid_request("the body is not valid JSON"),
        JsonRejection::JsonDataError(e) => ApiError::invalid_request(format!(
            "the JSON does not fit this request: {}",
            data_error(&e.body_text())
        )),
        other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!("the body is larger than {} KiB", MAX_JSON_BODY / 1024),
        ),
        other => ApiError::invalid_request(other.body_text()),
    }
}

/// serde's reason without axum's prefix, e.g. "missing field `password`".
fn data_error(text: &str) -> &str {
    text.rsplit_once(": ").map_or(text, |(_, reason)| reason)
}
