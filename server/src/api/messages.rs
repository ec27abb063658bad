//! A mailbox's messages: list, read, raw source, attachments, mark read, delete.

use std::collections::HashMap;
use std::ops::Range;

use axum::Json;
use axum::body::Body;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use mail_parser::Encoding;
use mailcx_common::{ErrorCode, Message, MessageList};
use rusqlite::Connection;
use uuid::Uuid;

use super::AppState;
use crate::auth::{Mailbox, unix_now};
use crate::error::{ApiError, ApiResult};
use crate::mail::{self, Content};
use crate::store::StoreResult;
use crate::store::messages::{self, Lookup};

/// `?page=N` (default 1); anything but a whole number from 1 is `invalid_request`.
pub struct Page(pub u32);

impl<S: Send + Sync> FromRequestParts<S> for Page {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let invalid = || ApiError::invalid_request("page must be a whole number from 1");
        let query = parts.uri.query().unwrap_or("");
        let mut page = None;
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            if key == "page" {
                if page.is_some() {
                    return Err(invalid());
                }
                page = Some(
                    value
                        .parse::<u32>()
                        .ok()
                        .filter(|p| *p >= 1)
                        .ok_or_else(invalid)?,
                );
            }
        }
        Ok(Page(page.unwrap_or(1)))
    }
}

/// Longest search text taken, in bytes: more is `invalid_request`, not a slow query.
const MAX_SEARCH_BYTES: usize = 1024;

/// `?q=TEXT` (extension): `None` when absent or blank (no filter), else the FTS5 expression, or
/// `Some(None)` when the text has no word to look for (it then matches nothing, never
/// everything). A second `q` or one over `MAX_SEARCH_BYTES` is `invalid_request`.
pub struct Search(pub Option<Option<String>>);

impl<S: Send + Sync> FromRequestParts<S> for Search {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        let mut text = None;
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            if key == "q" {
                if text.is_some() {
                    return Err(ApiError::invalid_request("q may be given once"));
                }
                if value.len() > MAX_SEARCH_BYTES {
                    return Err(ApiError::invalid_request(format!(
                        "q is at most {MAX_SEARCH_BYTES} bytes"
                    )));
                }
                text = Some(value.into_owned());
            }
        }
        let text = text.filter(|t| !t.trim().is_empty());
        Ok(Search(text.map(|t| messages::search_expression(&t))))
    }
}

/// The `{id}` (and `{index}`) of a message path. An id that is not a UUID names no message.
pub struct MessagePath {
    id: Uuid,
    index: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for MessagePath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(params) = Path::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::not_found())?;
        let id = params
            .get("id")
            .and_then(|id| Uuid::parse_str(id).ok())
            .ok_or_else(ApiError::not_found)?;
        Ok(MessagePath {
            id,
            index: params.get("index").cloned(),
        })
    }
}

/// Whether an operation on one message reads or changes it.
enum Access {
    Read,
    Write,
}

/// Runs a store operation on one of the caller's messages; expired is 410, missing is 404.
async fn on_message<T: Send + 'static>(
    state: &AppState,
    access: Access,
    account_id: Uuid,
    id: Uuid,
    operation: fn(&Connection, Uuid, Uuid, i64) -> StoreResult<Lookup<T>>,
) -> ApiResult<T> {
    let run = move |conn: &Connection| operation(conn, account_id, id, now());
    let lookup = match access {
        Access::Read => state.store.read(run).await?,
        Access::Write => state.store.write(run).await?,
    };
    found(lookup)
}

fn found<T>(lookup: Lookup<T>) -> ApiResult<T> {
    match lookup {
        Lookup::Found(value) => Ok(value),
        Lookup::Expired => Err(ApiError::new(
            ErrorCode::Expired,
            "this message was removed by retention",
        )),
        Lookup::Missing => Err(ApiError::new(ErrorCode::NotFound, "no such message")),
    }
}

fn now() -> i64 {
    unix_now() as i64
}

/// `GET /api/messages?page=N&q=TEXT` (`q` is an extension).
pub async fn list(
    State(state): State<AppState>,
    Mailbox(account): Mailbox,
    Page(page): Page,
    Search(search): Search,
) -> ApiResult<Json<MessageList>> {
    let rows = match search {
        None => {
            state
                .store
                .read(move |conn| messages::page(conn, account.id, page, now()))
                .await?
        }
        Some(None) => Vec::new(),
        Some(Some(matching)) => {
            // A full disk, say: the search still runs, without the newest mail.
            if let Err(e) = state.store.index_waiting_mail().await {
                tracing::warn!("searching without the mail still waiting for the index: {e}");
            }
            state
                .store
                .read(move |conn| messages::search(conn, account.id, &matching, page, now()))
                .await?
        }
    };
    Ok(Json(MessageList { messages: rows, page }))
}

/// `DELETE /api/messages` (extension): every message of the mailbox, in batches so a full
/// mailbox never holds the writer (and with it every SMTP `250`) for long.
pub async fn delete_all(State(state): State<AppState>, Mailbox(account): Mailbox) -> ApiResult<StatusCode> {
    let id = account.id;
    while state
        .store
        .write(move |conn| messages::delete_some_of(conn, id, super::accounts::DELETE_BATCH))
        .await?
    {}
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/messages/{id}`.
pub async fn get(
    State(state): State<AppState>,
    Mailbox(account): Mailbox,
    MessagePath { id, .. }: MessagePath,
) -> ApiResult<Json<Message>> {
    let full = on_message(&state, Access::Read, account.id, id, messages::get).await?;
    let (summary, raw) = (full.summary, full.raw);
    let body = tokio::task::spawn_blocking(move || mail::body(&raw))
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(Message {
        id: summary.id,
        sender: summary.sender,
        from: summary.from,
        subject: summary.subject,
        // Mail stored before the address as written was kept went to the mailbox's own.
        address: full.address.unwrap_or(account.address),
        size: summary.size,
        created_at: summary.created_at,
        is_read: summary.is_read,
        text_body: body.text_body,
        html_body: body.html_body,
        attachments: body.attachments,
    }))
}

/// `DELETE /api/messages/{id}`.
pub async fn delete(
    State(state): State<AppState>,
    Mailbox(account): Mailbox,
    MessagePath { id, .. }: MessagePath,
) -> ApiResult<StatusCode> {
    on_message(&state, Access::Write, account.id, id, messages::delete).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `PUT /api/messages/{id}/read`.
pub async fn mark_read(
    State(state): State<AppState>,
    Mailbox(account): Mailbox,
    MessagePath { id, .. }: MessagePath,
) -> ApiResult<StatusCode> {
    on_message(&state, Access::Write, account.id, id, messages::mark_read).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/messages/{id}/source`: the bytes exactly as received, read from the store piece by
/// piece as the client takes them.
pub async fn source(
    State(state): State<AppState>,
    Mailbox(account): Mailbox,
    MessagePath { id, .. }: MessagePath,
) -> ApiResult<Response> {
    let (seq, size) = on_message(&state, Access::Read, account.id, id, messages::raw_location).await?;
    let pieces = mail::plain_pieces(size as usize);
    let body = stream_pieces(&state, messages::raw_piece, seq, id, Encoding::None, pieces);
    Ok(download("message/rfc822", &format!("{id}.eml"), size, body))
}

/// `GET /api/messages/{id}/attachments/{index}`: the decoded attachment.
pub async fn attachment(
    State(state): State<AppState>,
    Mailbox(account): Mailbox,
    MessagePath { id, index }: MessagePath,
) -> ApiResult<Response> {
    let raw = on_message(&state, Access::Read, account.id, id, messages::raw).await?;
    let invalid_index = || ApiError::new(ErrorCode::InvalidIndex, "no attachment at that index");
    let index: u32 = index.and_then(|i| i.parse().ok()).ok_or_else(invalid_index)?;
    let found = tokio::task::spawn_blocking(move || mail::attachment(&raw, index))
        .await
        .map_err(ApiError::internal)?;
    let file = found.ok_or_else(invalid_index)?;
    let (size, body) = match file.content {
        Content::Bytes(bytes) => (bytes.len() as u64, Body::from(bytes)),
        Content::Pieces { encoding, pieces } => {
            let seq = on_message(&state, Access::Read, account.id, id, messages::raw_location)
                .await?
                .0;
            let body = stream_pieces(&state, messages::raw_piece, seq, id, encoding, pieces);
            (file.meta.size, body)
        }
    };
    Ok(download(&file.content_type, &file.meta.filename, size, body))
}

/// Reads bytes `range` of message `id`'s raw bytes stored under `seq`; `None` once it is gone
/// (`messages::raw_piece`, `open::raw_piece`).
pub(crate) type PieceReader = fn(&Connection, i64, Uuid, Range<usize>) -> StoreResult<Option<Vec<u8>>>;

/// A body of the pieces of message `id`'s raw bytes (stored under `seq`, read by `read`), each
/// read and decoded only when the client has taken the one before: a client that stops reading
/// holds one piece.
pub(crate) fn stream_pieces(
    state: &AppState,
    read: PieceReader,
    seq: i64,
    id: Uuid,
    encoding: Encoding,
    pieces: Vec<Range<usize>>,
) -> Body {
    let store = state.store.clone();
    let pieces = futures_util::stream::iter(pieces).then(move |range| {
        let store = store.clone();
        async move {
            let read = store.read(move |conn| {
                let piece = read(conn, seq, id, range)?;
                Ok(piece.map(|p| mail::decode_piece(&p, encoding).into_owned()))
            });
            match read.await {
                Ok(Some(bytes)) => Ok(Bytes::from(bytes)),
                // The connection breaks off: a short body must not pass for the whole one.
                Ok(None) => Err(std::io::Error::other("the message was deleted while being sent")),
                Err(e) => Err(std::io::Error::other(e)),
            }
        }
    });
    Body::from_stream(pieces)
}

/// A body served as a file download of `size` bytes.
pub(crate) fn download(content_type: &str, filename: &str, size: u64, body: Body) -> Response {
    let content_type = if content_type.bytes().all(|b| b.is_ascii_graphic() || b == b' ') {
        content_type
    } else {
        "application/octet-stream"
    };
    (
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (header::CONTENT_DISPOSITION, disposition(filename)),
            // The type comes from the sender: browsers must not second-guess it into HTML.
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
            (header::CONTENT_LENGTH, size.to_string()),
        ],
        body,
    )
        .into_response()
}

/// `attachment; filename="…"` with an ASCII fallback, plus RFC 5987 `filename*` for other names.
fn disposition(filename: &str) -> String {
    let ascii: String = filename
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if ascii == filename {
        return format!("attachment; filename=\"{ascii}\"");
    }
    let encoded: String = filename
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dispositions_quote_safely() {
        assert_eq!(disposition("a.pdf"), "attachment; filename=\"a.pdf\"");
        assert_eq!(disposition("my file.txt"), "attachment; filename=\"my file.txt\"");
        assert_eq!(
            disposition("é\"x.txt"),
            "attachment; filename=\"__x.txt\"; filename*=UTF-8''%C3%A9%22x.txt"
        );
    }
}
