//! The API's error codes and the `{"error","message"}` body every error response carries.

use serde::{Deserialize, Serialize};

/// Every error code of the API contract, serialized as its snake_case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    InvalidRequest,
    InvalidAddress,
    PasswordTooShort,
    InvalidDomain,
    InvalidIndex,
    InvalidCredentials,
    InvalidToken,
    AccountLimitReached,
    DomainLimitReached,
    WebhookLimitReached,
    NotFound,
    MethodNotAllowed,
    AddressTaken,
    DomainAlreadyExists,
    Expired,
    DomainExpired,
    PayloadTooLarge,
    RateLimited,
    InternalError,
    /// `/api/ws` only: the first frame was not an `auth` frame, or came too late.
    InvalidAuthMessage,
    /// `/api/ws` only: the mailbox already has its 3 sockets open.
    TooManyConnections,
    /// `/v1` only: the email existed but was removed by the open retention.
    EmailExpired,
    /// `/v1` only: too many requests (the `/v1` name of `rate_limited`).
    RateLimitExceeded,
    /// `/v1` only: more than 10 long polls wait on one address.
    AddrBusy,
    /// `/v1` only: more than one long poll waits for one API token.
    TokenBusy,
    /// A code this build does not know (a newer server); never sent by this server.
    #[serde(other)]
    Unknown,
}

impl ErrorCode {
    /// The HTTP status the contract pairs with this code.
    pub fn status(self) -> u16 {
        use ErrorCode::*;
        match self {
            InvalidRequest | InvalidAddress | PasswordTooShort | InvalidDomain | InvalidIndex
            | InvalidAuthMessage => 400,
            InvalidCredentials | InvalidToken => 401,
            AccountLimitReached | DomainLimitReached | WebhookLimitReached => 403,
            NotFound => 404,
            MethodNotAllowed => 405,
            AddressTaken | DomainAlreadyExists => 409,
            Expired | DomainExpired | EmailExpired => 410,
            PayloadTooLarge => 413,
            RateLimited | TooManyConnections | RateLimitExceeded | AddrBusy | TokenBusy => 429,
            InternalError | Unknown => 500,
        }
    }

    /// The wire name, e.g. `"address_taken"`.
    pub fn as_str(self) -> &'static str {
        use ErrorCode::*;
        match self {
            InvalidRequest => "invalid_request",
            InvalidAddress => "invalid_address",
            PasswordTooShort => "password_too_short",
            InvalidDomain => "invalid_domain",
            InvalidIndex => "invalid_index",
            InvalidCredentials => "invalid_credentials",
            InvalidToken => "invalid_token",
            AccountLimitReached => "account_limit_reached",
            DomainLimitReached => "domain_limit_reached",
            WebhookLimitReached => "webhook_limit_reached",
            NotFound => "not_found",
            MethodNotAllowed => "method_not_allowed",
            AddressTaken => "address_taken",
            DomainAlreadyExists => "domain_already_exists",
            Expired => "expired",
            DomainExpired => "domain_expired",
            PayloadTooLarge => "payload_too_large",
            RateLimited => "rate_limited",
            InternalError => "internal_error",
            InvalidAuthMessage => "invalid_auth_message",
            TooManyConnections => "too_many_connections",
            EmailExpired => "email_expired",
            RateLimitExceeded => "rate_limit_exceeded",
            AddrBusy => "addr_busy",
            TokenBusy => "token_busy",
            Unknown => "unknown",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The body of every error response: `{"error":"<code>","message":"<human text>"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorCode,
    pub message: String,
}
