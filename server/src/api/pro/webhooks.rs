//! `/pro/api/webhooks`: a Pro user's webhook (one each), its secret's rotation and its log of
//! delivery attempts. Delivery itself is `crate::webhooks`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use mailcx_common::{
    ErrorCode, NewWebhook, Webhook, WebhookDelivery, WebhookDeliveryList, WebhookList, timestamp,
};
use uuid::Uuid;

use crate::api::messages::Page;
use crate::api::{ApiJson, AppState};
use crate::auth::{Pro, unix_now};
use crate::error::{ApiError, ApiResult};
use crate::store::webhooks::{self, EMAIL_RECEIVED};

/// The routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/pro/api/webhooks", get(list).post(create))
        .route("/pro/api/webhooks/{id}", delete(remove))
        .route("/pro/api/webhooks/{id}/rotate", post(rotate))
        .route("/pro/api/webhooks/{id}/deliveries", get(deliveries))
}

/// A new signing secret: `whsec_` and 32 alphanumerics from a CSPRNG. The whole string is the
/// HMAC key.
fn new_secret() -> String {
    use rand::Rng;
    use rand::distr::Alphanumeric;
    let random: String = rand::rng()
        .sample_iter(Alphanumeric)
        .take(32)
        .map(char::from)
        .collect();
    format!("whsec_{random}")
}

fn wire(hook: webhooks::Webhook) -> Webhook {
    Webhook {
        id: hook.id,
        url: hook.url,
        events: hook.events,
        secret: hook.secret,
        status: hook.status,
        failure_count: hook.failure_count,
        last_triggered_at: hook.last_triggered_at.map(timestamp),
        created_at: timestamp(hook.created_at),
    }
}

/// An id from the path; one that is not a UUID names nothing.
fn webhook_id(id: &str) -> ApiResult<Uuid> {
    Uuid::parse_str(id).map_err(|_| ApiError::not_found())
}

/// `GET /pro/api/webhooks`.
async fn list(State(state): State<AppState>, Pro(caller): Pro) -> ApiResult<Json<WebhookList>> {
    let user_id = caller.user.id;
    let hooks = state
        .store
        .read(move |conn| webhooks::list(conn, user_id))
        .await?;
    Ok(Json(WebhookList {
        webhooks: hooks.into_iter().map(wire).collect(),
    }))
}

/// `POST /pro/api/webhooks` → 201; 400 for a URL that is not http(s) or an unknown event, 403
/// when the user has their one webhook already.
async fn create(
    State(state): State<AppState>,
    Pro(caller): Pro,
    ApiJson(new): ApiJson<NewWebhook>,
) -> ApiResult<(StatusCode, Json<Webhook>)> {
    let url = new.url.trim().to_string();
    if let Some(problem) = crate::webhooks::url_problem(&url, state.config.webhook_allow_private) {
        return Err(ApiError::invalid_request(problem));
    }
    if new.events.is_empty() {
        return Err(ApiError::invalid_request(format!(
            "events must list at least one event: {EMAIL_RECEIVED}"
        )));
    }
    if let Some(unknown) = new.events.iter().find(|e| *e != EMAIL_RECEIVED) {
        return Err(ApiError::invalid_request(format!(
            "unknown event {unknown:?}; the events are: {EMAIL_RECEIVED}"
        )));
    }
    let events = vec![EMAIL_RECEIVED.to_string()];
    let user_id = caller.user.id;
    let secret = new_secret();
    let created = state
        .store
        .write(move |conn| {
            webhooks::create(
                conn,
                user_id,
                Uuid::new_v4(),
                &url,
                &events,
                &secret,
                unix_now() as i64,
            )
        })
        .await?;
    match created {
        Some(hook) => Ok((StatusCode::CREATED, Json(wire(hook)))),
        None => Err(ApiError::new(
            ErrorCode::WebhookLimitReached,
            "an account has one webhook; delete it to make another",
        )),
    }
}

/// `DELETE /pro/api/webhooks/{id}` → 204; its pending events go with it.
async fn remove(
    State(state): State<AppState>,
    Pro(caller): Pro,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id = webhook_id(&id)?;
    let user_id = caller.user.id;
    let deleted = state
        .store
        .write(move |conn| webhooks::delete(conn, user_id, id))
        .await?;
    if deleted {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found())
    }
}

/// `POST /pro/api/webhooks/{id}/rotate` → the webhook with a new secret, which signs every
/// attempt from now on.
async fn rotate(
    State(state): State<AppState>,
    Pro(caller): Pro,
    Path(id): Path<String>,
) -> ApiResult<Json<Webhook>> {
    let id = webhook_id(&id)?;
    let user_id = caller.user.id;
    let secret = new_secret();
    let rotated = state
        .store
        .write(move |conn| webhooks::rotate_secret(conn, user_id, id, &secret))
        .await?;
    rotated
        .map(|hook| Json(wire(hook)))
        .ok_or_else(ApiError::not_found)
}

/// `GET /pro/api/webhooks/{id}/deliveries?page=N`: attempts, newest first.
async fn deliveries(
    State(state): State<AppState>,
    Pro(caller): Pro,
    Path(id): Path<String>,
    Page(page): Page,
) -> ApiResult<Json<WebhookDeliveryList>> {
    let id = webhook_id(&id)?;
    let user_id = caller.user.id;
    let rows = state
        .store
        .read(move |conn| webhooks::deliveries(conn, user_id, id, page))
        .await?
        .ok_or_else(ApiError::not_found)?;
    let deliveries = rows
        .into_iter()
        .map(|d| WebhookDelivery {
            id: d.id,
            event_type: d.event_type,
            event_id: d.event_id,
            status_code: d.status_code,
            error: d.error,
            attempt: d.attempt,
            duration_ms: d.duration_ms,
            created_at: timestamp(d.created_at),
        })
        .collect();
    Ok(Json(WebhookDeliveryList { deliveries, page }))
}
