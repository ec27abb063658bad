//! The JSON shapes of the API contract (`API.md`), one definition each.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::ErrorCode;

/// A timestamp on the wire: RFC 3339, UTC, whole seconds, `Z` suffix.
pub type Timestamp = DateTime<Utc>;

/// The wire timestamp of a count of seconds since the Unix epoch.
pub fn timestamp(unix_secs: i64) -> Timestamp {
    DateTime::from_timestamp(unix_secs, 0).unwrap_or_default()
}

/// One system domain, as listed by `GET /api/domains`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Domain {
    pub id: Uuid,
    pub domain: String,
    pub default: bool,
    pub sort_order: i64,
}

/// `GET /api/domains` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainList {
    pub domains: Vec<Domain>,
}

/// Body of `POST /api/accounts` and `POST /api/token`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    pub address: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    // The password never reaches a log through Debug.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("address", &self.address)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Response of `POST /api/accounts` (201) and `POST /api/token` (200).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountToken {
    pub id: Uuid,
    pub address: String,
    pub token: String,
}

/// Who owns a mailbox: an anonymous user or a Pro user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    User,
    Pro,
}

/// `GET /api/me` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Me {
    pub id: Uuid,
    pub address: String,
    pub role: Role,
    pub quota: u64,
    pub used: u64,
    pub created_at: Timestamp,
    /// Messages in the mailbox (extension; 0 from a server without it).
    #[serde(default)]
    pub messages: u64,
    /// Of those, the ones not marked read (extension; 0 from a server without it).
    #[serde(default)]
    pub unread: u64,
}

/// One entry of a message list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageSummary {
    pub id: Uuid,
    pub sender: String,
    pub from: String,
    pub subject: String,
    pub preview_text: String,
    pub size: u64,
    pub created_at: Timestamp,
    pub is_read: bool,
}

/// `GET /api/messages?page=N` response: newest first, 30 a page, no total.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageList {
    pub messages: Vec<MessageSummary>,
    pub page: u32,
}

/// Attachment metadata inside a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    pub index: u32,
    pub filename: String,
    pub content_type: String,
    pub size: u64,
}

/// `GET /api/messages/{id}` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub id: Uuid,
    pub sender: String,
    pub from: String,
    pub subject: String,
    pub address: String,
    pub size: u64,
    pub created_at: Timestamp,
    pub is_read: bool,
    pub text_body: Option<String>,
    pub html_body: Option<String>,
    pub attachments: Vec<Attachment>,
}

/// The `new_email` event pushed over `/api/ws`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewEmail {
    pub id: Uuid,
    pub sender: String,
    pub from: String,
    pub subject: String,
    pub preview_text: String,
    pub size: u64,
    pub created_at: Timestamp,
    pub account_id: Uuid,
    pub address: String,
}

/// A frame the client sends over `/api/ws`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum WsClientFrame {
    Auth { token: String },
}

/// A frame the server sends over `/api/ws`: `auth_ok`, `new_email`, or `{"error": code}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum WsServerFrame {
    Event(WsEvent),
    Error { error: ErrorCode },
}

/// The typed server frames of `/api/ws`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum WsEvent {
    AuthOk,
    NewEmail(NewEmail),
}
