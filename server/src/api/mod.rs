//! The HTTP API: the router, its shared state, and the pieces every handler uses.

mod accounts;
mod domains;
mod messages;
mod pro;
pub mod v1;
mod ws;

pub use domains::system_domains as domains_list;
pub use ws::MAX_SOCKETS_PER_MAILBOX;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequest, FromRequestParts, Request, State};
use axum::http::StatusCode;
use axum::http::header::CONTENT_LENGTH;
use axum::http::request::Parts;
use axum::http::{Extensions, HeaderMap};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use mailcx_common::{DomainList, ErrorCode};
use serde::de::DeserializeOwned;
use tokio::sync::watch;
use tower_http::LatencyUnit;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;
use uuid::Uuid;

use crate::auth::{Auth, ProCaller};
use crate::config::Config;
use crate::error::ApiError;
use crate::events::Events;
use crate::ratelimit::{CreationLimiter, RateLimiter};
use crate::slots::Slots;
use crate::store::{Cache, Store};

/// Largest JSON request body accepted (64 KiB).
pub const MAX_JSON_BODY: usize = 64 * 1024;

/// What every handler can reach: one shared value, so the clone each extractor makes is one
/// count, not one per field.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    /// The state of a server with these parts.
    pub fn new(shared: Shared) -> AppState {
        AppState(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The parts of `AppState`.
pub struct Shared {
    pub config: Arc<Config>,
    pub store: Store,
    pub auth: Arc<Auth>,
    pub domains: Arc<DomainList>,
    pub rate_limiter: Option<Arc<RateLimiter>>,
    /// Requests per Pro user, for requests with a Pro credential.
    pub pro_rate_limiter: Option<Arc<RateLimiter<Uuid>>>,
    pub creations: Option<Arc<CreationLimiter>>,
    pub events: Events,
    /// Open WebSockets per mailbox.
    pub sockets: Arc<Slots<Uuid>>,
    /// Turns true when the server is stopping.
    pub shutdown: watch::Receiver<bool>,
    /// The resolver custom domains are verified with.
    pub dns: Arc<crate::dns::Dns>,
    /// Open inboxes: the open domains and who waits on them.
    pub v1: Arc<v1::V1State>,
    /// Pages of `GET /pro/api/accounts` as sent, by Pro user and page, while nothing is written.
    pub pro_pages: Arc<Cache<(Uuid, u32), Bytes>>,
}

/// The whole API as one router.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/api/domains", get(domains::list))
        .route("/api/accounts", post(accounts::create))
        .route("/api/token", post(accounts::sign_in))
        .route("/api/me", get(accounts::me))
        .route("/api/account", delete(accounts::delete))
        .route("/api/messages", get(messages::list).delete(messages::delete_all))
        .route("/api/messages/{id}", get(messages::get).delete(messages::delete))
        .route("/api/messages/{id}/read", put(messages::mark_read))
        .route("/api/messages/{id}/source", get(messages::source))
        .route(
            "/api/messages/{id}/attachments/{index}",
            get(messages::attachment),
        )
        .route("/api/ws", get(ws::connect))
        .merge(pro::routes())
        .merge(v1::routes())
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(state.clone(), rate_limit))
        .layer(DefaultBodyLimit::max(MAX_JSON_BODY))
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::internal("a handler panicked").into_response()
        }))
        // The access log: one line per request at info level with method, path (never the
        // query), status and duration.
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &axum::http::Request<Body>| {
                    tracing::info_span!("request", method = %request.method(), path = %request.uri().path())
                })
                .on_request(())
                .on_response(DefaultOnResponse::new().level(Level::INFO).latency_unit(LatencyUnit::Micros)),
        )
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "no such route")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(ErrorCode::MethodNotAllowed, "this path does not take that method")
}

/// Answers 429 with `Retry-After` once a client IP has used up its bucket.
/// A request with a valid Pro credential counts against its Pro user's bucket (20 a second, burst
/// 40) wherever it comes from; any other against its client IP's.
/// The caller it resolves rides along in the request's extensions for the `Pro` extractor.
async fn rate_limit(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    if v1::is_v1(request.uri().path()) {
        return v1::rate_limit(state, request, next).await;
    }
    // Taken out first: the request itself cannot be held across an await here.
    let credential = crate::auth::bearer_token(request.headers()).map(str::to_string);
    let verdict = match pro_caller_of(&state, credential).await {
        Some(caller) => {
            let user = caller.user.id;
            request.extensions_mut().insert(caller);
            state.pro_rate_limiter.as_ref().map(|limiter| limiter.take(user))
        }
        None => client_verdict(&state, &request),
    };
    if let Some(Err(retry_after)) = verdict {
        return too_many_requests(ErrorCode::RateLimited, retry_after);
    }
    next.run(request).await
}

/// The rate limit's verdict for the request's client IP: `None` when there is no limit (or no
/// IP), else whether it may go on or how many seconds it must wait.
fn client_verdict(state: &AppState, request: &Request) -> Option<Result<(), u64>> {
    let ip = client_ip(
        request.headers(),
        request.extensions(),
        &state.config.trusted_proxies,
    );
    state
        .rate_limiter
        .as_ref()
        .zip(ip)
        .map(|(limiter, ip)| limiter.check(ip))
}

/// 429 with the error `code` and `Retry-After: retry_after` seconds.
fn too_many_requests(code: ErrorCode, retry_after: u64) -> Response {
    let mut error = ApiError::new(code, "too many requests; slow down");
    error.retry_after = Some(retry_after);
    error.into_response()
}

/// The Pro user (and token) a valid Pro credential stands for.
async fn pro_caller_of(state: &AppState, credential: Option<String>) -> Option<ProCaller> {
    let credential = credential?;
    if !crate::auth::looks_like_pro(&state.auth, &credential) {
        return None;
    }
    state.auth.pro_caller(state, &credential).await.ok()
}

/// The client a request came from: the connection's peer or, when that is a trusted proxy, the
/// nearest address in `X-Forwarded-For` that is not a trusted proxy (what proxies further left
/// wrote can be forged by the client, so it is not believed past the first untrusted hop).
fn client_ip(headers: &HeaderMap, extensions: &Extensions, trusted: &[IpAddr]) -> Option<IpAddr> {
    let peer = extensions.get::<ConnectInfo<SocketAddr>>()?.0.ip();
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .collect();
    for hop in hops.iter().rev() {
        match hop.parse::<IpAddr>() {
            Ok(ip) if trusted.contains(&ip) => continue,
            Ok(ip) => return Some(ip),
            Err(_) => break,
        }
    }
    Some(peer)
}

/// The client a request came from (see `client_ip`), for handlers that limit per client.
pub struct ClientIp(pub IpAddr);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        client_ip(&parts.headers, &parts.extensions, &state.config.trusted_proxies)
            .map(ClientIp)
            .ok_or_else(|| ApiError::internal("a request without a peer address"))
    }
}

/// A JSON body whose every rejection is the contract's `invalid_request` or `payload_too_large`.
/// A declared length over the limit is refused before any of the body is read, and the body must
/// arrive whole within `--http-body-timeout`.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        refuse_declared_too_large(&request)?;
        match within_body_deadline(state, Json::<T>::from_request(request, state)).await? {
            Ok(Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

/// A body of any type under `ApiJson`'s rules (declared length, size limit, deadline), for a
/// route that also takes an empty body or one sent without a JSON content type.
pub struct ApiBytes(pub Bytes);

impl FromRequest<AppState> for ApiBytes {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        refuse_declared_too_large(&request)?;
        match within_body_deadline(state, Bytes::from_request(request, state)).await? {
            Ok(bytes) => Ok(ApiBytes(bytes)),
            Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(too_large()),
            Err(_) => Err(ApiError::invalid_request("the request body broke off")),
        }
    }
}

/// A declared `Content-Length` over the limit is refused before any of the body is read.
fn refuse_declared_too_large(request: &Request) -> Result<(), ApiError> {
    let declared = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    match declared {
        Some(len) if len > MAX_JSON_BODY as u64 => Err(too_large()),
        _ => Ok(()),
    }
}

/// Reading a body, cut off once `--http-body-timeout` passes.
async fn within_body_deadline<T>(state: &AppState, read: impl Future<Output = T>) -> Result<T, ApiError> {
    let deadline = state.config.http_body_timeout;
    tokio::time::timeout(deadline, read).await.map_err(|_| {
        ApiError::invalid_request(format!(
            "the request body did not arrive within {} seconds",
            deadline.as_secs_f64()
        ))
    })
}

fn too_large() -> ApiError {
    ApiError::new(
        ErrorCode::PayloadTooLarge,
        format!("the body is larger than {} KiB", MAX_JSON_BODY / 1024),
    )
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
        other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => too_large(),
        JsonRejection::BytesRejection(_) => ApiError::invalid_request("the request body broke off"),
        other => ApiError::invalid_request(other.body_text()),
    }
}

/// serde's reason with the field it concerns, without axum's prefix, e.g.
/// "address: invalid type: integer `1`, expected a string at line 1 column 13".
fn data_error(text: &str) -> &str {
    const PREFIX: &str = "Failed to deserialize the JSON body into the target type: ";
    text.strip_prefix(PREFIX).unwrap_or(text)
}
