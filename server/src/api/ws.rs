//! `GET /api/ws`: live `new_email` pushes after an `auth` frame: for one mailbox with its JWT, or
//! for every mailbox of a Pro user with a Pro credential.

use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message as Frame, WebSocket, WebSocketUpgrade};
use axum::response::{IntoResponse, Response};
use mailcx_common::{ErrorCode, WsClientFrame, WsEvent, WsServerFrame};
use tokio::sync::broadcast::error::RecvError;
use tokio::time::Instant;
use uuid::Uuid;

use super::AppState;
use crate::auth::looks_like_pro;
use crate::error::ApiError;
use crate::events::Event;

/// Sockets one mailbox may hold open.
pub const MAX_SOCKETS_PER_MAILBOX: usize = 3;
/// Close code for a socket whose client stopped answering pings.
const GOING_AWAY: u16 = 1001;
/// Close code for a refused socket (policy violation).
const POLICY: u16 = 1008;
/// Close code for a socket that fell behind ("try again later"): it reconnects and re-lists.
const TRY_AGAIN_LATER: u16 = 1013;
/// Largest frame a client may send.
const MAX_CLIENT_FRAME: usize = 4096;
/// A client that does not take a frame within this long is dropped, freeing its slot.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// Upgrades to a WebSocket; a plain request gets a JSON error.
pub async fn connect(
    State(state): State<AppState>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    match upgrade {
        // Clients only ever send a small auth frame; never buffer more than that.
        Ok(upgrade) => upgrade
            .max_message_size(MAX_CLIENT_FRAME)
            .max_frame_size(MAX_CLIENT_FRAME)
            .on_upgrade(move |socket| session(socket, state)),
        Err(_) => ApiError::invalid_request("this endpoint takes a WebSocket upgrade").into_response(),
    }
}

async fn session(mut socket: WebSocket, state: AppState) {
    let deadline = state.config.ws_auth_timeout;
    let token = match tokio::time::timeout(deadline, next_text(&mut socket)).await {
        Ok(Some(text)) => match serde_json::from_str::<WsClientFrame>(&text) {
            Ok(WsClientFrame::Auth { token }) => token,
            Err(_) => {
                return refuse(socket, ErrorCode::InvalidAuthMessage, "expected an auth frame").await;
            }
        },
        Ok(None) => return,
        Err(_) => {
            return refuse(
                socket,
                ErrorCode::InvalidAuthMessage,
                &format!("no auth frame within {deadline:?}"),
            )
            .await;
        }
    };
    let Some(key) = listens_to(&state, &token).await else {
        return refuse(socket, ErrorCode::InvalidToken, "the token is invalid or expired").await;
    };
    let Some(_slot) = state.sockets.admit(key) else {
        return refuse(
            socket,
            ErrorCode::TooManyConnections,
            &format!("this mailbox or Pro user has {MAX_SOCKETS_PER_MAILBOX} sockets open"),
        )
        .await;
    };
    // Subscribed before auth_ok, so nothing stored after auth_ok can be missed.
    let mut listener = state.events.subscribe(key);
    if send(&mut socket, &WsServerFrame::Event(WsEvent::AuthOk))
        .await
        .is_err()
    {
        return;
    }
    let mut shutdown = state.shutdown.clone();
    let every = state.config.ws_ping_interval;
    let mut ping = tokio::time::interval_at(Instant::now() + every, every);
    // When the client last sent anything (a pong counts): a half-open socket sends nothing.
    let mut heard = Instant::now();
    loop {
        tokio::select! {
            _ = crate::stopping(&mut shutdown) => {
                return close(socket, 1001, "server shutting down").await;
            }
            event = listener.receiver.recv() => match event {
                Ok(event) => match event.as_ref() {
                    Event::NewEmail(email) => {
                        let frame = WsServerFrame::Event(WsEvent::NewEmail(email.clone()));
                        if send(&mut socket, &frame).await.is_err() {
                            return;
                        }
                    }
                    Event::AccountDeleted(_) => return close(socket, 1000, "mailbox deleted").await,
                },
                Err(RecvError::Lagged(missed)) => {
                    // It missed mail; closing tells the client to reconnect and list again.
                    tracing::warn!("a WebSocket fell behind by {missed} events; closing it");
                    return close(socket, TRY_AGAIN_LATER, "fell behind; reconnect").await;
                }
                Err(RecvError::Closed) => return,
            },
            incoming = socket.recv() => match incoming {
                None | Some(Err(_)) | Some(Ok(Frame::Close(_))) => return,
                Some(Ok(_)) => heard = Instant::now(),
            },
            _ = ping.tick() => {
                // No answer to the last ping: the other end is gone; give its slot back.
                if heard.elapsed() > every * 2 {
                    tracing::debug!("a WebSocket missed its pongs; closing it");
                    return close(socket, GOING_AWAY, "no pong").await;
                }
                // A password reset, a revoked API token or a removed Pro user ends the socket
                // too, within a ping interval: nothing else would tell it.
                if listens_to(&state, &token).await != Some(key) {
                    return refuse(socket, ErrorCode::InvalidToken, "the token no longer works").await;
                }
                let ping = socket.send(Frame::Ping(Default::default()));
                if !matches!(tokio::time::timeout(SEND_TIMEOUT, ping).await, Ok(Ok(()))) {
                    return;
                }
            }
        }
    }
}

/// Whose events a credential hears: a mailbox JWT its mailbox's (keyed by the mailbox's id), a
/// Pro credential those of every mailbox the user owns (keyed by the user's id); `None` when it
/// does not verify.
async fn listens_to(state: &AppState, token: &str) -> Option<Uuid> {
    if looks_like_pro(&state.auth, token) {
        state
            .auth
            .pro_caller(state, token)
            .await
            .ok()
            .map(|caller| caller.user.id)
    } else {
        state
            .auth
            .account_for_token(state, token)
            .await
            .ok()
            .map(|account| account.id)
    }
}

/// The first data frame as text (a binary frame reads as empty, which no auth frame is);
/// `None` when the socket closes first.
async fn next_text(socket: &mut WebSocket) -> Option<String> {
    loop {
        match socket.recv().await? {
            Ok(Frame::Text(text)) => return Some(text.to_string()),
            Ok(Frame::Binary(_)) => return Some(String::new()),
            Ok(Frame::Close(_)) | Err(_) => return None,
            Ok(Frame::Ping(_) | Frame::Pong(_)) => {}
        }
    }
}

/// Sends one JSON frame; fails when the client does not take it within `SEND_TIMEOUT`.
async fn send(socket: &mut WebSocket, frame: &WsServerFrame) -> Result<(), ()> {
    let json = serde_json::to_string(frame).expect("frames serialize");
    match tokio::time::timeout(SEND_TIMEOUT, socket.send(Frame::Text(json.into()))).await {
        Ok(Ok(())) => Ok(()),
        _ => Err(()),
    }
}

/// Sends `{"error": code}` and closes with 1008.
async fn refuse(mut socket: WebSocket, error: ErrorCode, reason: &str) {
    let _ = send(&mut socket, &WsServerFrame::Error { error }).await;
    close(socket, POLICY, reason).await;
}

async fn close(mut socket: WebSocket, code: u16, reason: &str) {
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    let _ = tokio::time::timeout(SEND_TIMEOUT, socket.send(Frame::Close(Some(frame)))).await;
}
