//! The Pro API under `/pro/api/`: sign-in, API tokens, a Pro user's mailboxes, custom domains and
//! webhook. Everything of one Pro user is invisible to every other caller: another user's id
//! answers 404 exactly like an id that does not exist.

mod accounts;
mod domains;
mod login;
mod tokens;
mod webhooks;

use axum::Router;

use super::AppState;

/// Every `/pro/api` route.
pub fn routes() -> Router<AppState> {
    Router::new()
        .merge(login::routes())
        .merge(tokens::routes())
        .merge(accounts::routes())
        .merge(domains::routes())
        .merge(webhooks::routes())
}
