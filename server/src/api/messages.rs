//! A mailbox's messages: list, read, raw source, attachments, mark read, delete.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use mailcx_common::{ErrorCode, Message, MessageList, MessageSummary};
use serde::Deserialize;
use uuid::Uuid;

use super::{AppState, timestamp};
use crate::auth::{Mailbox, unix_now};
use crate::error::{ApiError, ApiResult};
use crate::mail;
use crate::store::messages::{self, Lookup, Summary};

/// `?page=N` as it arrives: checked by hand so `page=0` and `page=abc` get `invalid_request`.
#[derive(Deserialize)]
pub struct PageQuery {
    page: Option<String>,
}

fn parse_page(query: &PageQuery) -> ApiResult<u32> {
    match &query.page {
        None => Ok(1),
        Some(text) => match text.parse::<u32>() {
            Ok(page) if page >= 1 => Ok(page),
            _ => Err(ApiError::invalid_request("page must be a whole number from 1")),
        },
    }
}

/// A message id from the path; anything that is not a UUID names no message.
fn message_id(id: &str) -> ApiResult<Uuid> {
    Uuid::parse_str(id).map_err(|_| ApiError::not_found())
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

fn to_wire(summary: Summary) -> MessageSummary {
    MessageSummary {
        id: summary.id,
        sender: summary.sender,
        from: summary.from,
        subject: summary.subject,
        preview_text: summary.preview_text,
        size: summary.size,
        created_at: timestamp(summary.created_at),
        is_read: summary.is_read,
    }
}

/// `GET /api/messages?page=N`.
pub async fn list(
    State(state): State<AppState>,
    Mailbox(account): Mailbox,
    Query(query): Query<PageQuery>,
) -> ApiResult<Json<MessageList>> {
    let page = parse_page(&query)?;
    let rows = state
        .store
        .read(move |conn| messages::page(conn, account.id, page, now()))
        .await?;
    Ok(Json(MessageList {
        messages: rows.into_iter().map(to_wire).collect(),
        page,
    }))
}

/// `GET /api/messages/{id}`.
pub async fn get(
    State(state): State<AppState>,
    Mailbox(account): Mailbox,
    Path(id): Path<String>,
) -> ApiResult<Json<Message>> {
    let id = message_id(&id)?;
    let full = found(
        state
            .store
            .read(move |conn| messages::get(conn, account.id, id, now()))
            .await?,
    )?;
    let summary = full.summary;
    Ok(Json(Message {
        id: summary.id,
        sender: summary.sender,
        from: summary.from,
        subject: summary.subject,
        address: account.address,
        size: summary.size,
        created_at: timestamp(summary.created_at),
        is_read: summary.is_read,
        text_body: full.text_body,
        html_body: full.html_body,
        attachments: full.attachments,
    }))
}

/// `DELETE /api/messages/{id}`.
pub async fn delete(
    State(state): State<AppState>,
    Mailbox(account): Mailbox,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id = message_id(&id)?;
    found(
        state
            .store
            .write(move |conn| messages::delete(conn, account.id, id, now()))
            .await?,
    )?;
    Ok(StatusCode::NO_CONTENT)
}

/// `PUT /api/messages/{id}/read`.
pub async fn mark_read(
    State(state): State<AppState>,
    Mailbox(account): Mailbox,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id = message_id(&id)?;
    found(
        state
            .store
            .write(move |conn| messages::mark_read(conn, account.id, id, now()))
            .await?,
    )?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/messages/{id}/source`: the bytes exactly as received.
pub async fn source(
    State(state): State<AppState>,
    Mailbox(account): Mailbox,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let id = message_id(&id)?;
    let raw = found(
        state
            .store
            .read(move |conn| messages::raw(conn, account.id, id, now()))
            .await?,
    )?;
    Ok(download("message/rfc822", &format!("{id}.eml"), raw))
}

/// `GET /api/messages/{id}/attachments/{index}`: the decoded attachment.
pub async fn attachment(
    State(state): State<AppState>,
    Mailbox(account): Mailbox,
    Path((id, index)): Path<(String, String)>,
) -> ApiResult<Response> {
    let id = message_id(&id)?;
    let raw = found(
        state
            .store
            .read(move |conn| messages::raw(conn, account.id, id, now()))
            .await?,
    )?;
    let invalid_index = || ApiError::new(ErrorCode::InvalidIndex, "no attachment at that index");
    let index: u32 = index.parse().map_err(|_| invalid_index())?;
    let found = tokio::task::spawn_blocking(move || mail::attachment(&raw, index))
        .await
        .map_err(ApiError::internal)?;
    let (meta, bytes) = found.ok_or_else(invalid_index)?;
    Ok(download(&meta.content_type, &meta.filename, bytes))
}

/// A body served as a file download.
fn download(content_type: &str, filename: &str, bytes: Vec<u8>) -> Response {
    let content_type = if content_type.bytes().all(|b| b.is_ascii_graphic()) {
        content_type
    } else {
        "application/octet-stream"
    };
    (
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (header::CONTENT_DISPOSITION, disposition(filename)),
        ],
        Body::from(bytes),
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
