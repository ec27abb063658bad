//! Webhooks: one per Pro user, an outbox of events written in the same transaction as the mail
//! they announce, and a log of every delivery attempt.
//!
//! Units: `webhook_events.next_attempt_at` is in Unix *milliseconds* (retries can be sub-second
//! apart in tests); every other time here is in Unix seconds, like the rest of the schema. An
//! event's row lives until it is acknowledged or given up, then goes: the outbox only ever holds
//! pending events, and the delivery log keeps the history.

use mailcx_common::{EmailReceived, WebhookEvent, WebhookStatus, timestamp};
use rusqlite::{Connection, OptionalExtension, Row, params};
use uuid::Uuid;

use super::{StoreError, StoreResult};

/// The only event type there is.
pub const EMAIL_RECEIVED: &str = "email.received";
/// Delivery attempts shown on one page.
pub const DELIVERIES_PAGE_SIZE: u32 = 100;
/// Attempts kept in a webhook's log; older ones are pruned now and then.
const DELIVERIES_KEPT: i64 = 10_000;
/// A webhook's log is pruned after about this many attempts (when the new row's seq is a
/// multiple of it), so pruning costs little per attempt.
const PRUNE_EVERY: i64 = 256;
/// Failed events in a row after which a webhook is `failing`.
pub const FAILING_AFTER: u32 = 5;

/// A webhook as stored.
#[derive(Clone)]
pub struct Webhook {
    pub id: Uuid,
    pub user_id: Uuid,
    pub url: String,
    pub events: Vec<String>,
    pub secret: String,
    pub status: WebhookStatus,
    /// Events given up in a row since the last acknowledged one.
    pub failure_count: u32,
    /// Unix seconds of the last delivery attempt.
    pub last_triggered_at: Option<i64>,
    pub created_at: i64,
}

impl std::fmt::Debug for Webhook {
    // The secret never reaches a log through Debug.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook")
            .field("id", &self.id)
            .field("user_id", &self.user_id)
            .field("status", &self.status)
            .field("failure_count", &self.failure_count)
            .finish_non_exhaustive()
    }
}

/// One recorded delivery attempt.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub id: Uuid,
    pub event_id: String,
    pub event_type: String,
    pub status_code: Option<u16>,
    pub error: Option<String>,
    pub attempt: u32,
    pub duration_ms: u64,
    /// Unix seconds.
    pub created_at: i64,
}

/// Where a pending event waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pending {
    /// In `webhook_outbox`, as written with its mail: not attempted yet.
    Fresh(i64),
    /// In `webhook_events`, written out in full after a failed attempt.
    Retry(i64),
}

/// A pending event that is due, with what its delivery needs.
#[derive(Clone)]
pub struct DueEvent {
    pub key: Pending,
    pub id: String,
    pub webhook_id: Uuid,
    pub event_type: String,
    /// The exact body to POST; `None` for a fresh event whose mail was deleted before it could
    /// be sent (there is nothing left to announce).
    pub body: Option<String>,
    /// Attempts already made.
    pub attempts: u32,
    pub url: String,
    pub secret: String,
}

impl std::fmt::Debug for DueEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DueEvent")
            .field("key", &self.key)
            .field("id", &self.id)
            .field("webhook_id", &self.webhook_id)
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

/// What one attempt came to, as recorded in the log.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub webhook_id: Uuid,
    pub event_id: String,
    pub event_type: String,
    pub status_code: Option<u16>,
    pub error: Option<String>,
    /// 1 for the first attempt.
    pub attempt: u32,
    pub duration_ms: u64,
    /// Unix seconds.
    pub at: i64,
}

fn status_from(name: &str) -> WebhookStatus {
    match name {
        "failing" => WebhookStatus::Failing,
        "disabled" => WebhookStatus::Disabled,
        _ => WebhookStatus::Active,
    }
}

fn uuid(text: &str) -> Uuid {
    Uuid::parse_str(text).unwrap_or_default()
}

const COLUMNS: &str =
    "id, user_id, url, events, secret, status, failure_count, last_triggered_at, created_at";

fn webhook_from_row(row: &Row<'_>) -> rusqlite::Result<Webhook> {
    let events: String = row.get(3)?;
    let status: String = row.get(5)?;
    Ok(Webhook {
        id: uuid(&row.get::<_, String>(0)?),
        user_id: uuid(&row.get::<_, String>(1)?),
        url: row.get(2)?,
        events: serde_json::from_str(&events).unwrap_or_default(),
        secret: row.get(4)?,
        status: status_from(&status),
        failure_count: row.get(6)?,
        last_triggered_at: row.get(7)?,
        created_at: row.get(8)?,
    })
}

/// Stores a user's webhook; `None` when they already have one (one per user).
pub fn create(
    conn: &Connection,
    user_id: Uuid,
    id: Uuid,
    url: &str,
    events: &[String],
    secret: &str,
    now: i64,
) -> StoreResult<Option<Webhook>> {
    let events_json = serde_json::to_string(events).expect("a list of strings serializes");
    let inserted = conn
        .prepare_cached(
            "INSERT INTO webhooks (id, user_id, url, events, secret, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?
        .execute(params![
            id.to_string(),
            user_id.to_string(),
            url,
            events_json,
            secret,
            now
        ])
        .map_err(StoreError::from_insert);
    match inserted {
        // `user_id` is unique: the user has their one webhook already.
        Err(StoreError::Conflict) => Ok(None),
        Err(e) => Err(e),
        Ok(_) => Ok(Some(Webhook {
            id,
            user_id,
            url: url.to_string(),
            events: events.to_vec(),
            secret: secret.to_string(),
            status: WebhookStatus::Active,
            failure_count: 0,
            last_triggered_at: None,
            created_at: now,
        })),
    }
}

/// A user's webhooks (none or one).
pub fn list(conn: &Connection, user_id: Uuid) -> StoreResult<Vec<Webhook>> {
    let sql = format!("SELECT {COLUMNS} FROM webhooks WHERE user_id = ?1 ORDER BY created_at, id");
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map([user_id.to_string()], webhook_from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The user's webhook with this id; `None` for another user's as for one that does not exist.
pub fn get(conn: &Connection, user_id: Uuid, id: Uuid) -> StoreResult<Option<Webhook>> {
    let sql = format!("SELECT {COLUMNS} FROM webhooks WHERE id = ?1 AND user_id = ?2");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row([id.to_string(), user_id.to_string()], webhook_from_row)
        .optional()?)
}

/// Deletes the user's webhook with its pending events and log; false when they have no such one.
pub fn delete(conn: &Connection, user_id: Uuid, id: Uuid) -> StoreResult<bool> {
    let deleted = conn.execute(
        "DELETE FROM webhooks WHERE id = ?1 AND user_id = ?2",
        [id.to_string(), user_id.to_string()],
    )?;
    Ok(deleted > 0)
}

/// Gives the user's webhook a new secret, which signs every attempt from now on (pending events
/// too); `None` when they have no such webhook.
pub fn rotate_secret(
    conn: &Connection,
    user_id: Uuid,
    id: Uuid,
    secret: &str,
) -> StoreResult<Option<Webhook>> {
    let changed = conn.execute(
        "UPDATE webhooks SET secret = ?3 WHERE id = ?1 AND user_id = ?2",
        params![id.to_string(), user_id.to_string(), secret],
    )?;
    if changed == 0 {
        return Ok(None);
    }
    get(conn, user_id, id)
}

/// Page `page` (from 1) of the attempts to deliver the user's webhook, newest first; `None` when
/// the user has no such webhook.
pub fn deliveries(
    conn: &Connection,
    user_id: Uuid,
    id: Uuid,
    page: u32,
) -> StoreResult<Option<Vec<Delivery>>> {
    if get(conn, user_id, id)?.is_none() {
        return Ok(None);
    }
    let offset = i64::from(page.saturating_sub(1)) * i64::from(DELIVERIES_PAGE_SIZE);
    let mut stmt = conn.prepare_cached(
        "SELECT id, event_id, event_type, status_code, error, attempt, duration_ms, created_at
         FROM webhook_deliveries WHERE webhook_id = ?1 ORDER BY seq DESC LIMIT ?2 OFFSET ?3",
    )?;
    let rows = stmt.query_map(params![id.to_string(), DELIVERIES_PAGE_SIZE, offset], |row| {
        Ok(Delivery {
            id: uuid(&row.get::<_, String>(0)?),
            event_id: row.get(1)?,
            event_type: row.get(2)?,
            status_code: row.get(3)?,
            error: row.get(4)?,
            attempt: row.get(5)?,
            duration_ms: row.get::<_, i64>(6)? as u64,
            created_at: row.get(7)?,
        })
    })?;
    Ok(Some(rows.collect::<Result<_, _>>()?))
}

/// Queues an `email.received` event for each stored copy, given as (its mailbox's owner, its
/// id), whose owner has a webhook (not disabled) subscribed to it, due at once. Called inside
/// the transaction that stores the copies, so a message acknowledged with 250 always has its
/// event. One statement a copy: it runs on the store's writer for every owned message. Returns
/// how many events were queued.
pub fn enqueue_for_recipients(
    conn: &Connection,
    stored: impl IntoIterator<Item = (Uuid, Uuid)>,
) -> StoreResult<usize> {
    let mut insert = conn.prepare_cached(
        "INSERT INTO webhook_outbox (webhook_id, message_id)
         SELECT id, ?2 FROM webhooks
         WHERE user_id = ?1 AND status != 'disabled' AND instr(events, ?3) > 0",
    )?;
    // `events` is a JSON list of names; a name in quotes is one of its items.
    let subscribed = format!("\"{EMAIL_RECEIVED}\"");
    let mut queued = 0;
    for (owner, message) in stored {
        queued += insert.execute(params![owner.to_string(), message.to_string(), subscribed])?;
    }
    Ok(queued)
}

/// The id of the `email.received` event of the stored copy `email_id`: one event per copy, so
/// the copy's id makes it, and every attempt (a retry after a crash too) carries the same one.
pub fn event_id(email_id: &str) -> String {
    format!("evt_{email_id}")
}

/// Up to `limit` due events, as (where, webhook id): the retries due by `now_ms` (Unix
/// milliseconds), the longest due first, then the fresh ones after `fresh_after` in order of
/// arrival (their seqs only ever grow); leaving out those in `skip` (under way).
pub fn due(
    conn: &Connection,
    now_ms: i64,
    skip: &[Pending],
    fresh_after: i64,
    limit: u32,
) -> StoreResult<Vec<(Pending, Uuid)>> {
    let (mut fresh_skip, mut retry_skip) = (Vec::new(), Vec::new());
    for key in skip {
        match key {
            Pending::Fresh(seq) => fresh_skip.push(*seq),
            Pending::Retry(seq) => retry_skip.push(*seq),
        }
    }
    let as_json = |seqs: &[i64]| serde_json::to_string(seqs).expect("a list of numbers serializes");
    // The skipped ones are left out by their key, before their row is read.
    let mut retries = conn.prepare_cached(
        "SELECT seq, webhook_id FROM webhook_events
         WHERE next_attempt_at <= ?1 AND seq NOT IN (SELECT value FROM json_each(?2))
         ORDER BY next_attempt_at, seq LIMIT ?3",
    )?;
    let mut due: Vec<(Pending, Uuid)> = retries
        .query_map(params![now_ms, as_json(&retry_skip), limit], |row| {
            Ok((Pending::Retry(row.get(0)?), uuid(&row.get::<_, String>(1)?)))
        })?
        .collect::<Result<_, _>>()?;
    let left = limit.saturating_sub(due.len() as u32);
    if left > 0 {
        let mut fresh = conn.prepare_cached(
            "SELECT seq, webhook_id FROM webhook_outbox
             WHERE seq > ?1 AND seq NOT IN (SELECT value FROM json_each(?2)) ORDER BY seq LIMIT ?3",
        )?;
        let rows = fresh.query_map(params![fresh_after, as_json(&fresh_skip), left], |row| {
            Ok((Pending::Fresh(row.get(0)?), uuid(&row.get::<_, String>(1)?)))
        })?;
        for row in rows {
            due.push(row?);
        }
    }
    Ok(due)
}

/// A pending event with what its delivery needs: its body, and its webhook's URL and current
/// secret; `None` once it is gone.
pub fn pending_event(conn: &Connection, key: Pending) -> StoreResult<Option<DueEvent>> {
    match key {
        Pending::Retry(seq) => retry_event(conn, seq),
        Pending::Fresh(seq) => fresh_event(conn, seq),
    }
}

fn retry_event(conn: &Connection, seq: i64) -> StoreResult<Option<DueEvent>> {
    let mut stmt = conn.prepare_cached(
        "SELECT e.id, e.webhook_id, e.event_type, e.body, e.attempts, w.url, w.secret
         FROM webhook_events e JOIN webhooks w ON w.id = e.webhook_id WHERE e.seq = ?1",
    )?;
    Ok(stmt
        .query_row([seq], |row| {
            Ok(DueEvent {
                key: Pending::Retry(seq),
                id: row.get(0)?,
                webhook_id: uuid(&row.get::<_, String>(1)?),
                event_type: row.get(2)?,
                body: Some(row.get(3)?),
                attempts: row.get(4)?,
                url: row.get(5)?,
                secret: row.get(6)?,
            })
        })
        .optional()?)
}

/// A fresh event, its body made from its message (the address as written, else the
/// mailbox's own).
fn fresh_event(conn: &Connection, seq: i64) -> StoreResult<Option<DueEvent>> {
    let mut stmt = conn.prepare_cached(
        "SELECT o.message_id, o.webhook_id, w.url, w.secret,
                m.id, m.account_id, COALESCE(m.address, a.address), m.from_header, m.sender,
                m.subject, m.preview_text, m.size, m.created_at
         FROM webhook_outbox o JOIN webhooks w ON w.id = o.webhook_id
         LEFT JOIN messages m ON m.id = o.message_id
         LEFT JOIN accounts a ON a.id = m.account_id
         WHERE o.seq = ?1",
    )?;
    Ok(stmt
        .query_row([seq], |row| {
            let message_id: String = row.get(0)?;
            let body = match row.get::<_, Option<String>>(4)? {
                None => None,
                Some(email_id) => {
                    let created_at = timestamp(row.get(12)?);
                    let event = WebhookEvent {
                        id: event_id(&message_id),
                        event_type: EMAIL_RECEIVED.to_string(),
                        created_at,
                        data: EmailReceived {
                            email_id: uuid(&email_id),
                            account_id: uuid(&row.get::<_, String>(5)?),
                            address: row.get::<_, Option<String>>(6)?.unwrap_or_default(),
                            from: row.get(7)?,
                            sender: row.get(8)?,
                            subject: row.get(9)?,
                            preview_text: row.get(10)?,
                            size: row.get::<_, i64>(11)? as u64,
                            created_at,
                        },
                    };
                    Some(serde_json::to_string(&event).expect("an event serializes"))
                }
            };
            Ok(DueEvent {
                key: Pending::Fresh(seq),
                id: event_id(&message_id),
                webhook_id: uuid(&row.get::<_, String>(1)?),
                event_type: EMAIL_RECEIVED.to_string(),
                body,
                attempts: 0,
                url: row.get(2)?,
                secret: row.get(3)?,
            })
        })
        .optional()?)
}

/// When the next retry falls due after `after_ms` (Unix milliseconds), if any does. (Fresh
/// events are due at once.)
pub fn next_due(conn: &Connection, after_ms: i64) -> StoreResult<Option<i64>> {
    Ok(conn
        .prepare_cached("SELECT MIN(next_attempt_at) FROM webhook_events WHERE next_attempt_at > ?1")?
        .query_row([after_ms], |r| r.get(0))?)
}

/// Records one attempt in its webhook's log (pruned to the newest `DELIVERIES_KEPT` now and then)
/// and when the webhook was last triggered; false when the webhook is gone (deleted while the
/// attempt was under way).
pub fn record_attempt(conn: &Connection, attempt: &Attempt) -> StoreResult<bool> {
    let webhook_id = attempt.webhook_id.to_string();
    let inserted = conn
        .prepare_cached(
            "INSERT INTO webhook_deliveries
                 (id, webhook_id, event_id, event_type, status_code, error, attempt, duration_ms, created_at)
             SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9 WHERE EXISTS (SELECT 1 FROM webhooks WHERE id = ?2)",
        )?
        .execute(params![
            Uuid::now_v7().to_string(),
            webhook_id,
            attempt.event_id,
            attempt.event_type,
            attempt.status_code,
            attempt.error,
            attempt.attempt,
            attempt.duration_ms as i64,
            attempt.at
        ])?;
    if inserted == 0 {
        return Ok(false);
    }
    let seq = conn.last_insert_rowid();
    // Whole seconds: under load most attempts find it set already, and write nothing.
    conn.prepare_cached(
        "UPDATE webhooks SET last_triggered_at = ?2
         WHERE id = ?1 AND (last_triggered_at IS NULL OR last_triggered_at < ?2)",
    )?
    .execute(params![webhook_id, attempt.at])?;
    if seq % PRUNE_EVERY == 0 {
        conn.prepare_cached(
            "DELETE FROM webhook_deliveries WHERE webhook_id = ?1 AND seq < (
                 SELECT seq FROM webhook_deliveries WHERE webhook_id = ?1
                 ORDER BY seq DESC LIMIT 1 OFFSET ?2)",
        )?
        .execute(params![webhook_id, DELIVERIES_KEPT - 1])?;
    }
    Ok(true)
}

/// What follows an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Acknowledged (2xx): never sent again.
    Delivered,
    /// Failed; tried again at this time (Unix milliseconds).
    RetryAt(i64),
    /// Failed, and it was the last attempt.
    GiveUp,
    /// Not sent: its mail was deleted before the first attempt. Not a failure of the receiver.
    Dropped,
}

/// Records an attempt at the pending event `key` and what follows it; nothing when the webhook
/// was deleted meanwhile (its events went with it). A fresh event to be retried is written out
/// in full, with `body` (what the first attempt sent), so its retries no longer need its mail.
pub fn record(
    conn: &Connection,
    key: Pending,
    attempt: &Attempt,
    next: Next,
    body: Option<&str>,
) -> StoreResult<()> {
    if !record_attempt(conn, attempt)? {
        return Ok(());
    }
    match key {
        Pending::Retry(seq) => match next {
            Next::RetryAt(at_ms) => schedule_retry(conn, seq, attempt.attempt, at_ms)?,
            // Acknowledged or given up: it leaves the outbox, never to be sent again.
            _ => {
                conn.prepare_cached("DELETE FROM webhook_events WHERE seq = ?1")?
                    .execute([seq])?;
            }
        },
        Pending::Fresh(seq) => {
            conn.prepare_cached("DELETE FROM webhook_outbox WHERE seq = ?1")?
                .execute([seq])?;
            if let (Next::RetryAt(at_ms), Some(body)) = (next, body) {
                conn.prepare_cached(
                    "INSERT INTO webhook_events
                         (id, webhook_id, event_type, body, attempts, next_attempt_at, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )?
                .execute(params![
                    attempt.event_id,
                    attempt.webhook_id.to_string(),
                    attempt.event_type,
                    body,
                    attempt.attempt,
                    at_ms,
                    attempt.at
                ])?;
            }
        }
    }
    match next {
        Next::Delivered => end_failures(conn, attempt.webhook_id),
        Next::GiveUp => count_failure(conn, attempt.webhook_id),
        Next::RetryAt(_) | Next::Dropped => Ok(()),
    }
}

/// An event was acknowledged (2xx): its webhook's run of failures ends.
fn end_failures(conn: &Connection, webhook_id: Uuid) -> StoreResult<()> {
    // Most of the time there is no run of failures to end: then nothing is written.
    conn.prepare_cached(
        "UPDATE webhooks SET failure_count = 0, status = CASE status WHEN 'failing' THEN 'active' ELSE status END
         WHERE id = ?1 AND (failure_count != 0 OR status = 'failing')",
    )?
    .execute([webhook_id.to_string()])?;
    Ok(())
}

/// An attempt failed and another is left: the event is tried again at `at_ms` (Unix
/// milliseconds), with `attempts` made so far.
fn schedule_retry(conn: &Connection, seq: i64, attempts: u32, at_ms: i64) -> StoreResult<()> {
    conn.prepare_cached("UPDATE webhook_events SET attempts = ?2, next_attempt_at = ?3 WHERE seq = ?1")?
        .execute(params![seq, attempts, at_ms])?;
    Ok(())
}

/// An event's last attempt failed: one more failed event in a row is counted; at
/// `FAILING_AFTER` the webhook is `failing`.
fn count_failure(conn: &Connection, webhook_id: Uuid) -> StoreResult<()> {
    conn.prepare_cached(
        "UPDATE webhooks SET failure_count = failure_count + 1,
             status = CASE WHEN status = 'active' AND failure_count + 1 >= ?2 THEN 'failing' ELSE status END
         WHERE id = ?1",
    )?
    .execute(params![webhook_id.to_string(), FAILING_AFTER])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::messages::NewMessage;

    fn setup() -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::store::open_for_admin(&dir.path().join("w.db")).unwrap();
        conn.execute_batch(
            "INSERT INTO pro_users (id, email, password_hash, max_mailboxes, max_domains, max_tokens, created_at)
                 VALUES ('00000000-0000-0000-0000-000000000001', 'o@example.com', 'h', 1, 1, 1, 0);
             INSERT INTO accounts (id, address, password_hash, quota, created_at, owner_id)
                 VALUES ('00000000-0000-0000-0000-0000000000a1', 'owned@mail.cx', 'h', 1000000, 0,
                         '00000000-0000-0000-0000-000000000001');
             INSERT INTO accounts (id, address, password_hash, quota, created_at)
                 VALUES ('00000000-0000-0000-0000-0000000000a2', 'plain@mail.cx', 'h', 1000000, 0);",
        )
        .unwrap();
        (dir, conn)
    }

    fn copy(account: &str) -> NewMessage<'static> {
        NewMessage {
            id: Uuid::now_v7(),
            account_id: Uuid::parse_str(account).unwrap(),
            address: "owned@mail.cx",
            sender: "s@example.org",
            from: "S <s@example.org>",
            subject: "hi",
            preview_text: "hello",
            search_text: "hello",
            raw: b"raw bytes",
            created_at: 1_700_000_000,
            expires_at: None,
        }
    }

    fn attempt(hook: Uuid, event: &DueEvent, at: i64) -> Attempt {
        Attempt {
            webhook_id: hook,
            event_id: event.id.clone(),
            event_type: event.event_type.clone(),
            status_code: Some(500),
            error: None,
            attempt: event.attempts + 1,
            duration_ms: 1,
            at,
        }
    }

    #[test]
    fn only_owned_mailboxes_with_a_subscribed_webhook_queue_events() {
        let (_dir, conn) = setup();
        let user = Uuid::parse_str("00000000-0000-0000-0000-000000000001").unwrap();
        let owned = NewMessage {
            address: "owned+tag@mail.cx",
            ..copy("00000000-0000-0000-0000-0000000000a1")
        };
        let plain = copy("00000000-0000-0000-0000-0000000000a2");
        crate::store::messages::deliver_all(&conn, &[owned, plain]).unwrap();
        // No webhook yet: nothing queued.
        assert_eq!(enqueue_for_recipients(&conn, [(user, owned.id)]).unwrap(), 0);
        let hook = create(
            &conn,
            user,
            Uuid::new_v4(),
            "http://h/",
            &[EMAIL_RECEIVED.into()],
            "s",
            1,
        )
        .unwrap()
        .unwrap();
        assert!(
            create(&conn, user, Uuid::new_v4(), "http://h/", &[], "s", 1)
                .unwrap()
                .is_none(),
            "one per user"
        );
        assert_eq!(enqueue_for_recipients(&conn, [(user, owned.id)]).unwrap(), 1);

        // Fresh: due at once, its body made from the stored message.
        let due_now = due(&conn, 0, &[], 0, 10).unwrap();
        assert_eq!(due_now.len(), 1);
        let (key, webhook) = due_now[0];
        assert!(matches!(key, Pending::Fresh(_)));
        assert_eq!(webhook, hook.id);
        let event = pending_event(&conn, key).unwrap().unwrap();
        let body: WebhookEvent = serde_json::from_str(event.body.as_deref().unwrap()).unwrap();
        assert_eq!(body.id, event.id);
        assert_eq!(event.id, format!("evt_{}", owned.id));
        assert_eq!(body.data.address, "owned+tag@mail.cx");
        assert_eq!(body.data.email_id, owned.id);
        assert_eq!(body.data.subject, "hi");
        assert_eq!(body.data.size, owned.raw.len() as u64);
        assert!(
            due(&conn, 0, &[key], 0, 10).unwrap().is_empty(),
            "skipped while under way"
        );

        // A failed first attempt writes the event out in full, due at its retry time.
        let sent = event.body.clone().unwrap();
        record(
            &conn,
            key,
            &attempt(hook.id, &event, 5),
            Next::RetryAt(1_000),
            Some(&sent),
        )
        .unwrap();
        assert!(due(&conn, 999, &[], 0, 10).unwrap().is_empty());
        assert_eq!(next_due(&conn, 0).unwrap(), Some(1_000));
        let (key, _) = due(&conn, 1_000, &[], 0, 10).unwrap()[0];
        assert!(matches!(key, Pending::Retry(_)));
        let retry = pending_event(&conn, key).unwrap().unwrap();
        assert_eq!((retry.id.as_str(), retry.attempts), (event.id.as_str(), 1));
        assert_eq!(
            retry.body.as_deref(),
            Some(sent.as_str()),
            "the same body, byte for byte"
        );
        // Even once its mail is gone.
        conn.execute("DELETE FROM messages", []).unwrap();
        assert_eq!(pending_event(&conn, key).unwrap().unwrap().body, Some(sent));
        record(&conn, key, &attempt(hook.id, &retry, 6), Next::GiveUp, None).unwrap();
        assert!(due(&conn, i64::MAX, &[], 0, 10).unwrap().is_empty());
        assert_eq!(get(&conn, user, hook.id).unwrap().unwrap().failure_count, 1);

        // A fresh event whose mail was deleted first has nothing to send, and is no failure.
        crate::store::messages::deliver_all(&conn, &[owned]).unwrap();
        enqueue_for_recipients(&conn, [(user, owned.id)]).unwrap();
        conn.execute("DELETE FROM messages", []).unwrap();
        let (key, _) = due(&conn, 0, &[], 0, 10).unwrap()[0];
        // The outbox was empty, yet the number is new: a reader's cursor never misses it.
        assert_eq!(key, Pending::Fresh(2));
        let gone = pending_event(&conn, key).unwrap().unwrap();
        assert_eq!(gone.body, None);
        record(&conn, key, &attempt(hook.id, &gone, 7), Next::Dropped, None).unwrap();
        assert!(due(&conn, i64::MAX, &[], 0, 10).unwrap().is_empty());
        assert_eq!(get(&conn, user, hook.id).unwrap().unwrap().failure_count, 1);

        // Five events given up in a row make it failing; one acknowledged resets it.
        for _ in 1..FAILING_AFTER {
            count_failure(&conn, hook.id).unwrap();
        }
        let after = get(&conn, user, hook.id).unwrap().unwrap();
        assert_eq!((after.status, after.failure_count), (WebhookStatus::Failing, 5));
        end_failures(&conn, hook.id).unwrap();
        let after = get(&conn, user, hook.id).unwrap().unwrap();
        assert_eq!((after.status, after.failure_count), (WebhookStatus::Active, 0));
        assert_eq!(next_due(&conn, 0).unwrap(), None);
    }
}
