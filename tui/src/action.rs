//! `Action`: every change to the app, whether a person asked for it or a background task reports.

use std::path::PathBuf;
use std::time::Duration;

use mailcx_common::client::Download;
use mailcx_common::{
    AccountToken, Attachment, ClientError, Credentials, Domain, Me, Message, MessageList, NewEmail,
};
use uuid::Uuid;

use crate::extract::Extracted;

/// Identifies one background request, so its spinner entry goes away when it answers.
pub type TaskId = u64;

/// What a screen, a popup or a background task asks the app to do.
#[derive(Debug)]
pub enum Action {
    /// Leave the app.
    Quit,
    /// Close the top screen.
    Back,
    /// Show every key of the current screen.
    Help,
    /// Copy this text to the clipboard (OSC 52).
    Copy(String),
    /// Copy a code or link found in a message; `what` names it in the notice ("code", "link").
    CopyFound { what: &'static str, text: String },
    /// Copy a message's text (`C` in the reader).
    CopyText(String),
    /// Run a command with a message's text on its standard input (`|`), the TUI suspended.
    Pipe { command: String, text: String },
    /// Show a message's headers, read from its source.
    ViewHeaders { address: String, id: Uuid },
    /// Open a message's HTML part in the browser, from a private temp file.
    OpenHtml { id: Uuid, html: String },
    /// Take a code or link out of a message: fetch its body if need be, then do `want`.
    Take { address: String, id: Uuid, want: Want },
    /// Open a link with the system opener (`$BROWSER`, else `xdg-open` / `open`).
    OpenLink(String),
    /// The opener ran but failed (reported by the thread that waits for it).
    OpenFailed(String),
    /// Select the newest message of an inbox and open it.
    OpenNewest(String),
    /// Re-check every saved mailbox and reload the domains.
    RefreshHome,
    /// Open the create-mailbox form.
    OpenCreate,
    /// Open the sign-in form, optionally with the address filled in.
    OpenSignIn(Option<String>),
    /// Create a mailbox.
    Create(Credentials),
    /// Create a throwaway mailbox: a random address on the default domain, a generated password.
    Throwaway,
    /// Sign in to a mailbox.
    SignIn(Credentials),
    /// Open the form that picks an address on an open domain to watch.
    OpenWatch,
    /// Watch an open inbox: keep its address in the saved list and open its inbox, live.
    Watch(String),
    /// Open a saved mailbox's inbox.
    OpenInbox(String),
    /// Show a mailbox's details.
    Inspect(String),
    /// Ask before deleting a mailbox.
    AskDeleteAccount(String),
    /// Delete a mailbox on the server.
    DeleteAccount(String),
    /// Ask before dropping a mailbox from the saved list (its token goes with it).
    AskForget(String),
    /// Drop a mailbox from the saved list without touching the server.
    Forget(String),
    /// Load an inbox's list again from its first page.
    ReloadInbox(String),
    /// Load one page of an inbox.
    LoadPage { address: String, page: u32 },
    /// Open a message in the reader.
    OpenMessage { address: String, id: Uuid },
    /// Ask before deleting a message.
    AskDeleteMessage {
        address: String,
        id: Uuid,
        subject: String,
    },
    /// Delete a message on the server.
    DeleteMessage { address: String, id: Uuid },
    /// Ask before deleting the messages picked with `space`.
    AskDeleteMessages { address: String, ids: Vec<Uuid> },
    /// Delete these messages on the server, one after the other.
    DeleteMessages { address: String, ids: Vec<Uuid> },
    /// Ask before deleting every message of a mailbox.
    AskDeleteAll(String),
    /// Delete every message of a mailbox (`DELETE /api/messages`).
    DeleteAll(String),
    /// Show a message's raw source.
    ViewSource { address: String, id: Uuid },
    /// Download an attachment into the downloads directory.
    SaveAttachment {
        address: String,
        id: Uuid,
        attachment: Attachment,
    },
    /// Write bytes already at hand (a message source) into the downloads directory.
    SaveBytes { name: String, bytes: Vec<u8> },
    /// A background request answered.
    Net { task: TaskId, reply: Reply },
    /// The live connection of an open inbox reports.
    Live { address: String, event: LiveEvent },
    /// Something the Pro area asks for.
    Pro(crate::pro::ProAction),
}

/// The answer of one background request.
#[derive(Debug)]
pub enum Reply {
    /// A request of the Pro area.
    Pro(crate::pro::ProReply),
    /// `GET /api/domains`.
    Domains(Result<Vec<Domain>, ClientError>),
    /// `GET /v1/config`: the open domains and how long their mail is kept.
    OpenConfig(Result<mailcx_common::v1::Config, ClientError>),
    /// `POST /api/accounts`.
    Created {
        address: String,
        result: Result<AccountToken, ClientError>,
    },
    /// `POST /api/accounts` for [`Action::Throwaway`]; the password is kept with the token.
    Throwaway {
        address: String,
        password: String,
        result: Result<AccountToken, ClientError>,
    },
    /// `POST /api/token`.
    SignedIn {
        address: String,
        result: Result<AccountToken, ClientError>,
    },
    /// `GET /api/me`, for the home list's check or for the inspect popup.
    Me {
        address: String,
        result: Result<Me, ClientError>,
    },
    /// `DELETE /api/account`.
    AccountDeleted {
        address: String,
        result: Result<(), ClientError>,
    },
    /// `GET /api/messages?page=N`.
    Page {
        address: String,
        page: u32,
        result: Result<MessageList, ClientError>,
    },
    /// `GET /api/messages?page=N&q=TEXT`: a page of a filtered inbox, for the search `query`.
    Found {
        address: String,
        query: String,
        page: u32,
        result: Result<MessageList, ClientError>,
    },
    /// `GET /api/messages/{id}`.
    Message {
        address: String,
        id: Uuid,
        result: Result<Message, ClientError>,
    },
    /// `PUT /api/messages/{id}/read`.
    MarkedRead {
        address: String,
        id: Uuid,
        result: Result<(), ClientError>,
    },
    /// `DELETE /api/messages/{id}`.
    MessageDeleted {
        address: String,
        id: Uuid,
        result: Result<(), ClientError>,
    },
    /// `DELETE /api/messages/{id}` for each picked message: those deleted (or already gone),
    /// and the error that stopped the rest, if one did.
    MessagesDeleted {
        address: String,
        deleted: Vec<Uuid>,
        error: Option<ClientError>,
    },
    /// `DELETE /api/messages`.
    AllDeleted {
        address: String,
        result: Result<(), ClientError>,
    },
    /// `GET /api/messages/{id}/source`.
    Source {
        address: String,
        id: Uuid,
        result: Result<Download, ClientError>,
    },
    /// `GET /api/messages/{id}/source` for [`Action::ViewHeaders`], its headers read.
    Headers {
        address: String,
        id: Uuid,
        result: Result<Vec<crate::headers::HeaderRow>, ClientError>,
    },
    /// The temp file of [`Action::OpenHtml`] was written (or not).
    HtmlFile(Result<PathBuf, String>),
    /// A message's HTML body rendered as text at `width`, in the background.
    Html {
        address: String,
        id: Uuid,
        width: usize,
        lines: Vec<String>,
    },
    /// A large source split into lines in the background.
    SourceLines {
        id: Uuid,
        bytes: Vec<u8>,
        lines: Vec<String>,
    },
    /// A file was written to disk (or not).
    Saved(Result<PathBuf, String>),
    /// `GET /api/messages/{id}` for [`Action::Take`], with the codes and links already found.
    Taken {
        address: String,
        id: Uuid,
        want: Want,
        result: Result<Extracted, ClientError>,
    },
}

/// What to do with the codes and links of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    /// Copy the best code (`y`).
    Code,
    /// List every code and link in a picker (`Y`).
    Pick,
    /// Open the best link (`o`).
    Link,
}

/// What the live connection of an inbox reports.
#[derive(Debug)]
pub enum LiveEvent {
    /// The socket is open and authenticated.
    Connected,
    /// The socket broke or could not open; it retries after `retry_in`.
    Disconnected { retry_in: Duration, reason: String },
    /// New mail arrived.
    Email(NewEmail),
    /// Mail that was in an open inbox already when its live connection began, oldest first.
    Existing(Vec<NewEmail>),
    /// The server refused the token; the task has stopped.
    Refused(ClientError),
}
