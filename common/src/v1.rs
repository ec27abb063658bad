//! The JSON shapes of the `/v1` API (open inboxes, mail.cx's current generation), one definition
//! each, and the typed client calls for it.

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::client::{Client, ClientError, Download};
use crate::types::{Attachment, Timestamp};

/// The header that carries an optional Pro API token on `/v1`.
pub const API_TOKEN_HEADER: &str = "x-api-token";
/// The local-part pattern `GET /v1/config` advertises.
pub const LOCAL_PART_PATTERN: &str = "^[a-z0-9._+-]{1,64}$";

/// One system domain in `GET /v1/config`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemDomain {
    pub domain: String,
    pub default: bool,
}

/// The local-part rule in `GET /v1/config`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalPartRules {
    pub pattern: String,
    pub max_length: u32,
}

/// `GET /v1/config` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
    pub system_domains: Vec<SystemDomain>,
    pub open_domains: Vec<String>,
    pub local_part_rules: LocalPartRules,
    pub retention_seconds: u64,
}

/// Body of `POST /v1/inbox`: an open domain, or the default open domain when absent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewInbox {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
}

/// `POST /v1/inbox` response: a fresh address and when mail sent to it now would expire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inbox {
    pub address: String,
    /// Unix milliseconds.
    pub expires_at: i64,
}

/// One email in a `/v1` inbox listing (and an SSE event's data).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailSummary {
    pub id: Uuid,
    pub from_email: String,
    pub subject: String,
    pub preview_text: String,
    pub created_at: Timestamp,
}

/// 200 answer of the long poll `GET /v1/inbox/{address}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailList {
    pub emails: Vec<EmailSummary>,
    /// Opaque cursor: passed as `since`, only strictly newer mail is answered.
    pub next_since: String,
}

/// `GET /v1/email/{id}` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Email {
    pub id: Uuid,
    pub address: String,
    pub from_email: String,
    /// The raw `From:` header.
    pub from: String,
    pub subject: String,
    pub created_at: Timestamp,
    pub size: u64,
    pub text_body: Option<String>,
    pub html_body: Option<String>,
    /// Top-level headers by lower-case name; a repeated header's values joined by newlines.
    pub headers: BTreeMap<String, String>,
    pub attachments: Vec<Attachment>,
}

/// What to wait for in a long poll; `Default` is the server's defaults (no cursor, count 1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InboxQuery {
    pub since: Option<String>,
    pub count: Option<u32>,
    pub limit: Option<u32>,
    pub from: Option<String>,
    pub subject: Option<String>,
}

impl InboxQuery {
    /// The query string, without the `?`.
    fn encode(&self) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        let pairs = [
            ("since", self.since.clone()),
            ("count", self.count.map(|n| n.to_string())),
            ("limit", self.limit.map(|n| n.to_string())),
            ("from", self.from.clone()),
            ("subject", self.subject.clone()),
        ];
        for (key, value) in pairs {
            if let Some(value) = value {
                query.append_pair(key, &value);
            }
        }
        query.finish()
    }
}

/// The long poll's own timeout on the client: longer than any server hold (25 s by default).
const LONG_POLL_TIMEOUT: Duration = Duration::from_secs(60);

impl Client {
    /// `GET /v1/config`.
    pub async fn v1_config(&self) -> Result<Config, ClientError> {
        self.json(Method::GET, "/v1/config", None::<&()>).await
    }

    /// `POST /v1/inbox`: a random address on `domain` (or the default open domain).
    pub async fn v1_new_inbox(&self, domain: Option<&str>) -> Result<Inbox, ClientError> {
        let body = NewInbox {
            domain: domain.map(str::to_string),
        };
        self.json(Method::POST, "/v1/inbox", Some(&body)).await
    }

    /// The long poll `GET /v1/inbox/{address}`: `Some` list once enough mail is there, `None`
    /// when the server's hold passed with nothing new (204).
    pub async fn v1_wait(&self, address: &str, query: &InboxQuery) -> Result<Option<EmailList>, ClientError> {
        let path = format!("/v1/inbox/{}?{}", path_segment(address), query.encode());
        let response = self
            .send_with_timeout(Method::GET, &path, LONG_POLL_TIMEOUT)
            .await?;
        if response.status() == StatusCode::NO_CONTENT {
            return Ok(None);
        }
        let bytes = response.bytes().await.map_err(|e| self.transport(e))?;
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| ClientError::Protocol(e.to_string()))
    }

    /// `DELETE /v1/inbox/{address}`: every email of that open inbox.
    pub async fn v1_clear_inbox(&self, address: &str) -> Result<(), ClientError> {
        self.empty(Method::DELETE, &format!("/v1/inbox/{}", path_segment(address)))
            .await
    }

    /// `GET /v1/email/{id}`.
    pub async fn v1_email(&self, id: Uuid) -> Result<Email, ClientError> {
        self.json(Method::GET, &format!("/v1/email/{id}"), None::<&()>)
            .await
    }

    /// `GET /v1/email/{id}/raw`: the exact bytes received.
    pub async fn v1_raw(&self, id: Uuid) -> Result<Download, ClientError> {
        self.download(&format!("/v1/email/{id}/raw")).await
    }

    /// `GET /v1/email/{id}/attachments/{index}`.
    pub async fn v1_attachment(&self, id: Uuid, index: u32) -> Result<Download, ClientError> {
        self.download(&format!("/v1/email/{id}/attachments/{index}"))
            .await
    }

    /// `DELETE /v1/email/{id}`.
    pub async fn v1_delete_email(&self, id: Uuid) -> Result<(), ClientError> {
        self.empty(Method::DELETE, &format!("/v1/email/{id}")).await
    }
}

/// An address made safe as one path segment (it may hold `+`).
fn path_segment(address: &str) -> String {
    form_urlencoded::byte_serialize(address.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_encode_only_what_is_set() {
        assert_eq!(InboxQuery::default().encode(), "");
        let query = InboxQuery {
            since: Some("12".into()),
            count: Some(2),
            subject: Some("a b&c".into()),
            ..InboxQuery::default()
        };
        assert_eq!(query.encode(), "since=12&count=2&subject=a+b%26c");
    }

    #[test]
    fn addresses_are_one_path_segment() {
        assert_eq!(path_segment("a+b@mail.cx"), "a%2Bb%40mail.cx");
    }
}
