//! Storing a received message for its recipients, then announcing it.

use std::sync::Arc;

use mailcx_common::{NewEmail, timestamp};
use uuid::Uuid;

use super::SmtpContext;
use crate::auth::unix_now;
use crate::events::Event;
use crate::mail;
use crate::store::StoreResult;
use crate::store::messages::{self, Delivery, NewMessage};
use crate::store::open::{self, NewOpenEmail};
use crate::store::webhooks;

/// The answer while the disk is full: a temporary failure the sender retries later.
const NO_ROOM: &str = "452 4.3.1 Insufficient system storage, try again later";

/// Messages up to this size are parsed on the session's own task: a few tens of microseconds.
const INLINE_PARSE_BYTES: usize = 32 * 1024;

/// A mailbox (or an open inbox) a message is addressed to.
#[derive(Debug, Clone)]
pub struct Recipient {
    /// The mailbox's id; for an open inbox, the key its events go out under.
    pub account_id: Uuid,
    /// The address as written in RCPT TO (normalized): `local+tag@domain` stays as it is.
    pub address: String,
    /// The Pro user who owns the mailbox, told of its mail too.
    pub owner_id: Option<Uuid>,
    /// Whether this is an open inbox (no mailbox: `/v1` only).
    pub open: bool,
}

/// Parses and durably stores `raw` for every recipient; returns the SMTP reply to send.
/// `250` is only ever returned after the commit. When the message no longer fits a recipient's
/// quota (checked at RCPT against the declared SIZE, here against the real one) nothing is stored
/// and the reply is 552, so no copy is ever dropped behind a 250.
pub async fn deliver(
    context: &SmtpContext,
    sender: String,
    recipients: &[Recipient],
    raw: Vec<u8>,
) -> String {
    let need = raw.len() as u64 * recipients.len() as u64;
    match context.store.room_for(need).await {
        Ok(true) => {}
        Ok(false) => return NO_ROOM.into(),
        Err(e) => {
            tracing::error!("checking the disk's room failed: {e}");
            return "451 4.3.0 Could not store the message, try again later".into();
        }
    }
    let raw = Arc::new(raw);
    let parsed = Arc::new(summarize(raw.clone()).await);
    let now = unix_now() as i64;
    let expires_at = (!context.retention.is_zero()).then(|| now + context.retention.as_secs() as i64);
    let open_expires_at = now + context.open_retention.as_secs() as i64;
    let open_quota = context.open_quota;
    let max_size = context.max_message_size as i64;
    // v7 ids are time-ordered, so ids sort like arrivals. An open inbox's ids are all that
    // guards its mail, so theirs carry the most random bits.
    let targets: Arc<Vec<(Uuid, Recipient)>> = Arc::new(
        recipients
            .iter()
            .map(|r| (if r.open { open::new_id() } else { Uuid::now_v7() }, r.clone()))
            .collect(),
    );

    let write = {
        let (raw, parsed, targets, sender) = (raw.clone(), parsed.clone(), targets.clone(), sender.clone());
        context.store.write_mail(move |conn| {
            let (opens, mailboxes): (Vec<_>, Vec<_>) = targets.iter().partition(|(_, r)| r.open);
            let copies: Vec<NewMessage<'_>> = mailboxes
                .iter()
                .map(|(id, recipient)| NewMessage {
                    id: *id,
                    account_id: recipient.account_id,
                    address: &recipient.address,
                    sender: &sender,
                    from: &parsed.from,
                    subject: &parsed.subject,
                    preview_text: &parsed.preview_text,
                    search_text: &parsed.search_text,
                    raw: &raw,
                    created_at: now,
                    expires_at,
                })
                .collect();
            let open_copies: Vec<NewOpenEmail<'_>> = opens
                .iter()
                .map(|(id, recipient)| NewOpenEmail {
                    id: *id,
                    address: &recipient.address,
                    sender: &sender,
                    from: &parsed.from,
                    subject: &parsed.subject,
                    preview_text: &parsed.preview_text,
                    raw: &raw,
                    created_at: now,
                    expires_at: open_expires_at,
                })
                .collect();
            let (outcomes, open_outcomes, least_room) =
                store_copies(conn, &copies, &open_copies, open_quota)?;
            // The owner's webhook events, in this same transaction: a 250 always leads to them.
            // Only a Pro user's mailbox can have a webhook: the others skip the lookup.
            let owned = mailboxes
                .iter()
                .zip(&outcomes)
                .filter_map(|((id, recipient), outcome)| {
                    let owner = recipient.owner_id.filter(|_| *outcome == Delivery::Stored)?;
                    Some((owner, *id))
                });
            let queued = webhooks::enqueue_for_recipients(conn, owned)?;
            // A mailbox left with less room than a message may need: what RCPT remembers of
            // mailboxes must be read again, so a full one is refused at RCPT.
            let nearly_full = least_room < max_size;
            // Back in the recipients' order.
            let (mut outcomes, mut open_outcomes) = (outcomes.into_iter(), open_outcomes.into_iter());
            let all: Vec<Delivery> = targets
                .iter()
                .map(|(_, r)| {
                    let next = if r.open {
                        open_outcomes.next()
                    } else {
                        outcomes.next()
                    };
                    next.unwrap_or(Delivery::Withheld)
                })
                .collect();
            Ok((all, queued, nearly_full))
        })
    };
    let outcomes = match write.await {
        Ok((outcomes, queued, nearly_full)) => {
            if nearly_full {
                context.store.recipients_changed();
            }
            if queued > 0 {
                context.webhooks.queued();
            }
            outcomes
        }
        Err(e) if e.is_disk_full() => return NO_ROOM.into(),
        Err(e) => {
            tracing::error!("storing a message failed: {e}");
            return "451 4.3.0 Could not store the message, try again later".into();
        }
    };

    let stored_in = |open: bool| {
        targets
            .iter()
            .zip(&outcomes)
            .any(|((_, r), outcome)| r.open == open && *outcome == Delivery::Stored)
    };
    if let Some(at) = expires_at
        && stored_in(false)
    {
        context.schedule.expires(at);
    }
    if stored_in(true) {
        context.schedule.expires(open_expires_at);
    }
    let mut stored = Vec::new();
    let mut full = Vec::new();
    for ((id, recipient), outcome) in targets.iter().zip(&outcomes) {
        match outcome {
            Delivery::Stored => {
                stored.push(*id);
                let event = Event::NewEmail(NewEmail {
                    id: *id,
                    sender: sender.clone(),
                    from: parsed.from.clone(),
                    subject: parsed.subject.clone(),
                    preview_text: parsed.preview_text.clone(),
                    size: raw.len() as u64,
                    created_at: timestamp(now),
                    account_id: recipient.account_id,
                    address: recipient.address.clone(),
                });
                context.events.publish_with_owner(event, recipient.owner_id);
            }
            Delivery::OverQuota => full.push(recipient.address.as_str()),
            Delivery::NoMailbox | Delivery::Withheld => {}
        }
    }
    match stored.first() {
        _ if !full.is_empty() => format!(
            "552 5.2.2 Mailbox full: {}; nothing was delivered",
            full.join(", ")
        ),
        Some(id) => format!("250 2.0.0 Stored as {id}"),
        None => "550 5.1.1 Mailbox no longer exists".into(),
    }
}

/// The summary of `raw`: parsed right here when it is small, as most mail is (a hop to the
/// blocking pool and back cost more than parsing 5 KB), else on the blocking pool.
async fn summarize(raw: Arc<Vec<u8>>) -> mail::Summary {
    if raw.len() <= INLINE_PARSE_BYTES {
        return mail::summarize(&raw);
    }
    tokio::task::spawn_blocking(move || mail::summarize(&raw))
        .await
        .unwrap_or_default()
}

/// Stores every copy, in mailboxes and in open inboxes, or none at all when any of them lacks
/// room; returns the outcomes of the mailboxes' copies and of the open inboxes' copies, and the
/// least room a stored copy left in its mailbox (`messages::deliver_all`).
fn store_copies(
    conn: &rusqlite::Connection,
    copies: &[NewMessage<'_>],
    opens: &[NewOpenEmail<'_>],
    open_quota: u64,
) -> StoreResult<(Vec<Delivery>, Vec<Delivery>, i64)> {
    let fits = open::fits(conn, opens, open_quota)?;
    if fits.contains(&false) {
        let open_outcomes = fits
            .iter()
            .map(|fit| {
                if *fit {
                    Delivery::Withheld
                } else {
                    Delivery::OverQuota
                }
            })
            .collect();
        return Ok((vec![Delivery::Withheld; copies.len()], open_outcomes, i64::MAX));
    }
    let (outcomes, least_room) = if copies.is_empty() {
        (Vec::new(), i64::MAX)
    } else {
        messages::deliver_all(conn, copies)?
    };
    if outcomes.contains(&Delivery::OverQuota) {
        return Ok((outcomes, vec![Delivery::Withheld; opens.len()], least_room));
    }
    // An address a mailbox took since RCPT gets no open copy (`NoMailbox`).
    let open_outcomes = opens
        .iter()
        .map(|email| open::insert(conn, email))
        .collect::<StoreResult<_>>()?;
    Ok((outcomes, open_outcomes, least_room))
}
