//! `GET /v1/email/{id}` (with `/raw` and `/attachments/{index}`) and `DELETE /v1/email/{id}`.
//! Knowing an open email's id is enough to read it, as on mail.cx; ids carry 74 random bits.

use std::collections::{BTreeMap, HashMap};

use axum::Json;
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use mail_parser::{Encoding, MessageParser};
use mailcx_common::v1::Email;
use mailcx_common::{ErrorCode, timestamp};
use uuid::Uuid;

use super::{found, from_email, now};
use crate::api::AppState;
use crate::api::messages::{download, stream_pieces};
use crate::error::{ApiError, ApiResult};
use crate::mail::{self, Content};
use crate::store::open::{self, OpenEmail};

/// Longest header value kept in `headers`, in bytes: the list is for reading, not for storage.
const MAX_HEADER_VALUE: usize = 8 * 1024;

/// An email path's parameters, or why they did not parse.
type EmailPath = Result<Path<HashMap<String, String>>, PathRejection>;

/// The `{id}` and `{index}` of an email path; an id that is not a UUID names no email.
fn email_path(path: EmailPath) -> ApiResult<(Uuid, Option<String>)> {
    let missing = || ApiError::new(ErrorCode::NotFound, "no such email");
    let Path(params) = path.map_err(|_| missing())?;
    let id = params
        .get("id")
        .and_then(|id| Uuid::parse_str(id).ok())
        .ok_or_else(missing)?;
    Ok((id, params.get("index").cloned()))
}

/// The email with its raw bytes; 410 or 404 when it is not there.
async fn load(state: &AppState, id: Uuid) -> ApiResult<(OpenEmail, Vec<u8>)> {
    found(state.store.read(move |conn| open::get(conn, id, now())).await?)
}

/// `GET /v1/email/{id}`.
pub async fn get(State(state): State<AppState>, path: EmailPath) -> ApiResult<Json<Email>> {
    let (id, _) = email_path(path)?;
    let (email, raw) = load(&state, id).await?;
    let (body, headers) = tokio::task::spawn_blocking(move || (mail::body(&raw), headers(&raw)))
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(Email {
        id: email.id,
        from_email: from_email(&email.from, &email.sender),
        address: email.address,
        from: email.from,
        subject: email.subject,
        created_at: timestamp(email.created_at),
        size: email.size,
        text_body: body.text_body,
        html_body: body.html_body,
        headers,
        attachments: body.attachments,
    }))
}

/// The message's top-level headers by lower-case name, unfolded; repeated ones joined by
/// newlines (oldest `Received` last, as written).
fn headers(raw: &[u8]) -> BTreeMap<String, String> {
    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    let Some(message) = MessageParser::default().parse_headers(raw) else {
        return headers;
    };
    for (name, value) in message.headers_raw() {
        let mut value: String = value
            .split(['\r', '\n'])
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        if value.len() > MAX_HEADER_VALUE {
            let mut end = MAX_HEADER_VALUE;
            while !value.is_char_boundary(end) {
                end -= 1;
            }
            value.truncate(end);
        }
        headers
            .entry(name.to_ascii_lowercase())
            .and_modify(|earlier| {
                earlier.push('\n');
                earlier.push_str(&value);
            })
            .or_insert(value);
    }
    headers
}

/// `GET /v1/email/{id}/raw`: the bytes exactly as received, read from the store piece by piece
/// as the client takes them (as `/api`'s source).
pub async fn raw(State(state): State<AppState>, path: EmailPath) -> ApiResult<Response> {
    let (id, _) = email_path(path)?;
    let (seq, size) = found(
        state
            .store
            .read(move |conn| open::raw_location(conn, id, now()))
            .await?,
    )?;
    let pieces = mail::plain_pieces(size as usize);
    let body = stream_pieces(&state, open::raw_piece, seq, id, Encoding::None, pieces);
    Ok(download("message/rfc822", &format!("{id}.eml"), size, body))
}

/// `GET /v1/email/{id}/attachments/{index}`: the decoded attachment, an encoded one decoded piece
/// by piece as the client takes it; an index with no attachment is `not_found`.
pub async fn attachment(State(state): State<AppState>, path: EmailPath) -> ApiResult<Response> {
    let (id, index) = email_path(path)?;
    let (email, raw) = load(&state, id).await?;
    let missing = || ApiError::new(ErrorCode::NotFound, "no attachment at that index");
    let index: u32 = index.and_then(|i| i.parse().ok()).ok_or_else(missing)?;
    let file = tokio::task::spawn_blocking(move || mail::attachment(&raw, index))
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(missing)?;
    let (size, body) = match file.content {
        Content::Bytes(bytes) => (bytes.len() as u64, Body::from(bytes)),
        Content::Pieces { encoding, pieces } => {
            let body = stream_pieces(&state, open::raw_piece, email.seq, id, encoding, pieces);
            (file.meta.size, body)
        }
    };
    Ok(download(&file.content_type, &file.meta.filename, size, body))
}

/// `DELETE /v1/email/{id}`.
pub async fn delete(State(state): State<AppState>, path: EmailPath) -> ApiResult<StatusCode> {
    let (id, _) = email_path(path)?;
    found(
        state
            .store
            .write(move |conn| open::delete(conn, id, now()))
            .await?,
    )?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_unfolded_by_lower_case_name() {
        let raw = b"Received: a\r\nReceived: b\r\nSubject: one\r\n two\r\nX-Y: z\r\n\r\nbody";
        let headers = headers(raw);
        assert_eq!(headers["received"], "a\nb");
        assert_eq!(headers["subject"], "one two");
        assert_eq!(headers["x-y"], "z");
    }
}
