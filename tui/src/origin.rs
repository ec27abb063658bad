//! Where an inbox's mail comes from: a mailbox signed into with a token (`/api`), or an open
//! inbox read by its address alone (`/v1`). The inbox, the reader and the code/link keys work on
//! either through this one type; `/v1` answers are turned into the `/api` shapes they show.

use mailcx_common::client::Download;
use mailcx_common::v1::{Email, EmailSummary};
use mailcx_common::{Client, ClientError, Message, NewEmail};
use uuid::Uuid;

/// The source of one inbox's mail.
#[derive(Debug, Clone)]
pub enum Origin {
    /// A mailbox: the client carries its token.
    Mailbox(Client),
    /// An open inbox: anyone who knows the address reads it.
    Open { client: Client, address: String },
}

impl Origin {
    /// One message, with its bodies.
    pub async fn message(&self, id: Uuid) -> Result<Message, ClientError> {
        match self {
            Origin::Mailbox(client) => client.message(id).await,
            Origin::Open { client, .. } => client.v1_email(id).await.map(message_of),
        }
    }

    /// The exact bytes received.
    pub async fn source(&self, id: Uuid) -> Result<Download, ClientError> {
        match self {
            Origin::Mailbox(client) => client.source(id).await,
            Origin::Open { client, .. } => client.v1_raw(id).await,
        }
    }

    /// One attachment.
    pub async fn attachment(&self, id: Uuid, index: u32) -> Result<Download, ClientError> {
        match self {
            Origin::Mailbox(client) => client.attachment(id, index).await,
            Origin::Open { client, .. } => client.v1_attachment(id, index).await,
        }
    }

    /// Deletes one message.
    pub async fn delete_message(&self, id: Uuid) -> Result<(), ClientError> {
        match self {
            Origin::Mailbox(client) => client.delete_message(id).await,
            Origin::Open { client, .. } => client.v1_delete_email(id).await,
        }
    }

    /// Deletes every message of the inbox.
    pub async fn delete_all_messages(&self) -> Result<(), ClientError> {
        match self {
            Origin::Mailbox(client) => client.delete_all_messages().await,
            Origin::Open { client, address } => client.v1_clear_inbox(address).await,
        }
    }
}

/// A `/v1` email as the reader shows a message. Open inboxes have no read state on the server;
/// the app keeps its own (opening one marks it read in the list, with no request).
pub fn message_of(email: Email) -> Message {
    Message {
        id: email.id,
        sender: email.from_email,
        from: email.from,
        subject: email.subject,
        address: email.address,
        size: email.size,
        created_at: email.created_at,
        is_read: false,
        text_body: email.text_body,
        html_body: email.html_body,
        attachments: email.attachments,
    }
}

/// A `/v1` listing entry of `address` as the live connection of a mailbox reports new mail.
pub fn new_email_of(address: &str, email: EmailSummary) -> NewEmail {
    NewEmail {
        id: email.id,
        sender: email.from_email.clone(),
        from: email.from_email,
        subject: email.subject,
        preview_text: email.preview_text,
        // Not in a `/v1` listing; the reader shows the size once the message is open.
        size: 0,
        created_at: email.created_at,
        account_id: Uuid::nil(),
        address: address.to_string(),
    }
}
