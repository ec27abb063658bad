//! `GET /v1/sse/addr?address=…`: an open inbox's arrivals as Server-Sent Events (`event: email`,
//! the summary as `data`, its cursor as `id`). `Last-Event-ID` replays what came after it; a
//! comment line keeps quiet streams (and the proxies on their way) open. A stream ends after
//! `--sse-max-age`, so none holds its slots for ever; clients resume by `Last-Event-ID`.

use std::collections::VecDeque;
use std::convert::Infallible;

use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::Stream;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::watch;
use tokio::time::Instant;

use super::waiters::Waiting;
use super::{cursor, now, open_address, summary};
use crate::api::{AppState, ClientIp};
use crate::error::{ApiError, ApiResult};
use crate::events::{Listener, WAKE_CAPACITY};
use crate::store::Store;
use crate::store::open::{self, OpenEmail};

/// Emails read from the store at a time while catching up.
const BATCH: u32 = 50;

/// `GET /v1/sse/addr?address=…`.
pub async fn stream(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    ClientIp(client): ClientIp,
) -> ApiResult<Response> {
    let address = form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes())
        .find(|(key, _)| key == "address")
        .map(|(_, value)| value.into_owned())
        .ok_or_else(|| ApiError::invalid_request("address is required"))?;
    let address = open_address(&state, &address)?;
    let last_seen = match headers
        .get("last-event-id")
        .map(|v| v.to_str().unwrap_or("-").trim())
    {
        // An empty one is no cursor, as with `since`: some clients send it on their first try.
        Some("") | None => None,
        Some(text) => Some(cursor(text)?),
    };
    let waiting = state.v1.waiters.admit(&address, None, client)?;
    // Listening before reading where to start: nothing committed in between is missed.
    let listener = state
        .events
        .subscribe_with_capacity(open::inbox_key(&address), WAKE_CAPACITY);
    let since = match last_seen {
        Some(since) => since,
        None => state.store.read(open::latest_cursor).await?,
    };
    let feed = Feed {
        store: state.store.clone(),
        address,
        since,
        pending: VecDeque::new(),
        listener,
        shutdown: state.shutdown.clone(),
        // Validated at start-up to fit; `None` (never) only as a fallback.
        ends_at: Instant::now().checked_add(state.config.sse_max_age),
        _waiting: waiting,
    };
    let keep_alive = KeepAlive::new()
        .interval(state.config.sse_keep_alive)
        .text("keep-alive");
    Ok(Sse::new(events(feed)).keep_alive(keep_alive).into_response())
}

/// One stream's state: where it is, what it read but did not send yet, and what wakes it.
struct Feed {
    store: Store,
    address: String,
    since: i64,
    pending: VecDeque<OpenEmail>,
    listener: Listener,
    shutdown: watch::Receiver<bool>,
    /// When the stream ends (`--sse-max-age`).
    ends_at: Option<Instant>,
    _waiting: Waiting,
}

/// The stream's events, oldest first; ends when the server stops, the store fails or the
/// stream is old enough.
fn events(feed: Feed) -> impl Stream<Item = Result<Event, Infallible>> {
    futures_util::stream::unfold(feed, |mut feed| async move {
        let email = feed.next().await?;
        let event = Event::default()
            .event("email")
            .id(email.seq.to_string())
            .json_data(summary(&email))
            .unwrap_or_default();
        Some((Ok(event), feed))
    })
}

impl Feed {
    /// The next email after the cursor, waiting for one to arrive; `None` to end the stream.
    async fn next(&mut self) -> Option<OpenEmail> {
        loop {
            // Checked first: a busy inbox must not keep a stream past its age either.
            if self.ends_at.is_some_and(|at| Instant::now() >= at) {
                return None;
            }
            if let Some(email) = self.pending.pop_front() {
                self.since = email.seq;
                return Some(email);
            }
            let (address, since) = (self.address.clone(), self.since);
            match self
                .store
                .read(move |conn| open::after(conn, &address, since, BATCH, now()))
                .await
            {
                Ok(emails) if !emails.is_empty() => {
                    self.pending.extend(emails);
                    continue;
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::error!("reading an open inbox for its event stream failed: {e}");
                    return None;
                }
            }
            let ends = async {
                match self.ends_at {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = ends => return None,
                _ = crate::stopping(&mut self.shutdown) => return None,
                received = self.listener.receiver.recv() => {
                    if matches!(received, Err(RecvError::Closed)) {
                        return None;
                    }
                }
            }
        }
    }
}
