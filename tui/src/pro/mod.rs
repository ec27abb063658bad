//! The Pro area's messages: what its screens ask the app for ([`ProAction`]) and what the
//! background requests answer ([`ProReply`]). The screens are `screens::pro_*`; the app's side
//! is `hooks.rs`, a child of `app` so it may use the app's request and popup helpers.

pub mod session;

use mailcx_common::{
    AccountToken, ClientError, CreatedDomain, CreatedToken, CustomDomain, DomainCheck, ProAccountList,
    ProSession, TokenInfo, Webhook, WebhookDeliveryList,
};
use uuid::Uuid;

/// What the live connection of the Pro area is called in [`crate::Action::Live`]: no address
/// has no `@`, so it cannot clash with a mailbox's.
pub const LIVE_KEY: &str = "pro area";

/// What a Pro screen asks the app to do.
#[derive(Debug)]
pub enum ProAction {
    /// Open the Pro area: its tabs when a session is saved, else the sign-in form.
    Open,
    /// Sign in with an email and password.
    Login { email: String, password: String },
    /// Create the Pro user on the bundled server (the app is its operator), then sign in.
    CreateLocalUser { email: String, password: String },
    /// Forget the saved session and show the sign-in form.
    SignOut,
    /// Load the first page of mailboxes again, and the tab's own list.
    Reload,
    /// Load one more page of mailboxes.
    LoadAccounts(u32),
    /// Create a mailbox owned by the Pro user (a generated password).
    CreateMailbox(String),
    /// Open a mailbox's inbox (the same inbox and reader as any mailbox).
    OpenMailbox(String),
    /// Give a mailbox a new generated password, show it once and keep a fresh token.
    ResetPassword { id: Uuid, address: String },
    /// Delete a mailbox and its mail.
    DeleteMailbox { id: Uuid, address: String },
    /// Mint an API token with this name.
    MintToken(String),
    /// Revoke an API token.
    RevokeToken { id: Uuid, name: String },
    /// Add a custom domain.
    AddDomain(String),
    /// Ask the server to check a domain's DNS records now.
    VerifyDomain(Uuid),
    /// Delete a domain with its mailboxes.
    DeleteDomain { id: Uuid, domain: String },
    /// Create the webhook for this URL.
    CreateWebhook(String),
    /// Give the webhook a new secret.
    RotateWebhook(Uuid),
    /// Delete the webhook.
    DeleteWebhook(Uuid),
    /// Ask a yes/no question first; `then` runs on yes.
    Ask {
        title: String,
        text: String,
        yes: &'static str,
        then: Box<ProAction>,
    },
    /// Copy a secret: the notice names it (`what`) without showing it.
    CopySecret { what: &'static str, text: String },
}

/// The answer of one Pro request.
#[derive(Debug)]
pub enum ProReply {
    /// `POST /pro/api/login`.
    LoggedIn {
        email: String,
        result: Result<ProSession, ClientError>,
    },
    /// The bundled server's admin function, then the login; the password was generated or typed.
    LocalUser {
        email: String,
        password: String,
        result: Result<ProSession, String>,
    },
    /// `GET /pro/api/accounts?page=N`.
    Accounts(Result<ProAccountList, ClientError>),
    /// `POST /api/accounts` with the Pro credential.
    MailboxCreated {
        password: String,
        result: Result<AccountToken, ClientError>,
    },
    /// `PUT /pro/api/accounts/{id}/reset-password`, then `POST /api/token` with the new one.
    PasswordReset {
        address: String,
        password: String,
        result: Result<AccountToken, ClientError>,
    },
    /// `DELETE /pro/api/accounts/{id}`.
    MailboxDeleted {
        address: String,
        result: Result<(), ClientError>,
    },
    /// `GET /pro/api/tokens`.
    Tokens(Result<Vec<TokenInfo>, ClientError>),
    /// `POST /pro/api/tokens`.
    Minted(Result<CreatedToken, ClientError>),
    /// `DELETE /pro/api/tokens/{id}`.
    Revoked {
        name: String,
        result: Result<(), ClientError>,
    },
    /// `GET /pro/api/domains`.
    Domains(Result<Vec<CustomDomain>, ClientError>),
    /// `POST /pro/api/domains`.
    DomainAdded(Result<CreatedDomain, ClientError>),
    /// `POST /pro/api/domains/{id}/verify`.
    Verified {
        id: Uuid,
        result: Result<DomainCheck, ClientError>,
    },
    /// `DELETE /pro/api/domains/{id}`.
    DomainDeleted {
        domain: String,
        result: Result<(), ClientError>,
    },
    /// `GET /pro/api/webhooks`.
    Webhooks(Result<Vec<Webhook>, ClientError>),
    /// `POST /pro/api/webhooks` or `…/rotate`.
    WebhookSaved(Result<Webhook, ClientError>),
    /// `DELETE /pro/api/webhooks/{id}`.
    WebhookDeleted(Result<(), ClientError>),
    /// `GET /pro/api/webhooks/{id}/deliveries` (also from the poll that keeps the list live).
    Deliveries(Result<WebhookDeliveryList, ClientError>),
    /// What this machine's DNS answers for the records of the box titled `title`, in order.
    DnsAnswers { title: String, answers: Vec<String> },
}
