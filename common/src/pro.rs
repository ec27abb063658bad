//! The JSON shapes of the Pro API (`/pro/api/*`) and of webhook deliveries, one definition each.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::types::Timestamp;

/// Body of `POST /pro/api/login`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProLogin {
    pub email: String,
    pub password: String,
}

impl std::fmt::Debug for ProLogin {
    // The password never reaches a log through Debug.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProLogin")
            .field("email", &self.email)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Response of `POST /pro/api/login`: a Pro JWT.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProSession {
    pub token: String,
}

/// One API token as listed; the secret is never listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenInfo {
    pub id: Uuid,
    pub name: String,
    pub last_used_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

/// `GET /pro/api/tokens` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenList {
    pub tokens: Vec<TokenInfo>,
}

/// Body of `POST /pro/api/tokens`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewToken {
    pub name: String,
}

/// Response of `POST /pro/api/tokens` (201): the secret, shown this once.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedToken {
    pub id: Uuid,
    pub name: String,
    pub token: String,
}

impl std::fmt::Debug for CreatedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedToken")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("token", &"<redacted>")
            .finish()
    }
}

/// One mailbox of a Pro user as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProAccount {
    pub id: Uuid,
    pub address: String,
    pub quota: u64,
    pub used: u64,
    pub created_at: Timestamp,
    /// Messages in the mailbox (extension, as on `/api/me`; 0 from a server without it).
    #[serde(default)]
    pub messages: u64,
    /// Of those, the ones not marked read (extension; 0 from a server without it).
    #[serde(default)]
    pub unread: u64,
}

/// `GET /pro/api/accounts?page=N` response: 100 a page, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProAccountList {
    pub accounts: Vec<ProAccount>,
    pub page: u32,
}

/// Body of `PUT /pro/api/accounts/{id}/reset-password`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewPassword {
    pub password: String,
}

impl std::fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewPassword")
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Response of `PUT /pro/api/accounts/{id}/reset-password`: `{"message":"password_reset"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordReset {
    pub message: String,
}

/// Whether a custom domain's ownership is proven.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerifyStatus {
    Pending,
    Verified,
}

/// A custom domain as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomDomain {
    pub id: Uuid,
    pub domain: String,
    pub verify_status: VerifyStatus,
    pub verify_token: String,
    pub verified_at: Option<Timestamp>,
    pub mx_configured: bool,
    pub created_at: Timestamp,
}

/// `GET /pro/api/domains` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomDomainList {
    pub domains: Vec<CustomDomain>,
}

/// Body of `POST /pro/api/domains`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewDomain {
    pub domain: String,
}

/// A DNS record a domain's owner must set; `ok` says, after a verify, whether DNS has it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnsRecord {
    #[serde(rename = "type")]
    pub record_type: String,
    pub host: String,
    pub value: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ok: Option<bool>,
    /// After a verify, what the server's DNS answered for this name and type (extension): TXT
    /// values, MX records as `priority host`; empty when it had none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub found: Option<Vec<String>>,
}

/// Response of `POST /pro/api/domains` (201).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedDomain {
    pub id: Uuid,
    pub domain: String,
    pub verify_status: VerifyStatus,
    pub verify_token: String,
    pub dns_records: Vec<DnsRecord>,
}

/// Response of `POST /pro/api/domains/{id}/verify`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainCheck {
    pub verify_status: VerifyStatus,
    pub dns_records: Vec<DnsRecord>,
}

/// How a webhook is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookStatus {
    Active,
    Failing,
    Disabled,
}

/// A webhook as listed (with its secret: its owner signs with it).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Webhook {
    pub id: Uuid,
    pub url: String,
    pub events: Vec<String>,
    pub secret: String,
    pub status: WebhookStatus,
    pub failure_count: u32,
    pub last_triggered_at: Option<Timestamp>,
    pub created_at: Timestamp,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook")
            .field("id", &self.id)
            .field("url", &self.url)
            .field("events", &self.events)
            .field("secret", &"<redacted>")
            .field("status", &self.status)
            .field("failure_count", &self.failure_count)
            .field("last_triggered_at", &self.last_triggered_at)
            .field("created_at", &self.created_at)
            .finish()
    }
}

/// `GET /pro/api/webhooks` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookList {
    pub webhooks: Vec<Webhook>,
}

/// Body of `POST /pro/api/webhooks`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewWebhook {
    pub url: String,
    pub events: Vec<String>,
}

/// One attempt to deliver a webhook event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookDelivery {
    pub id: Uuid,
    pub event_type: String,
    pub event_id: String,
    pub status_code: Option<u16>,
    pub error: Option<String>,
    pub attempt: u32,
    pub duration_ms: u64,
    pub created_at: Timestamp,
}

/// `GET /pro/api/webhooks/{id}/deliveries?page=N` response, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookDeliveryList {
    pub deliveries: Vec<WebhookDelivery>,
    pub page: u32,
}

/// The body POSTed to a webhook for `email.received`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookEvent {
    /// `evt_<uuid>`.
    pub id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub created_at: Timestamp,
    pub data: EmailReceived,
}

/// The `data` of an `email.received` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailReceived {
    pub email_id: Uuid,
    pub account_id: Uuid,
    pub address: String,
    pub from: String,
    pub sender: String,
    pub subject: String,
    pub preview_text: String,
    pub size: u64,
    pub created_at: Timestamp,
}
