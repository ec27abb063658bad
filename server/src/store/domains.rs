//! Custom domains of Pro users. A domain is pending until its TXT record proves ownership
//! (`verified_at` set); only then does it receive mail and take mailboxes. A domain's name is
//! unique across all users, in any letter case.

use rusqlite::{Connection, OptionalExtension, Row, params};
use uuid::Uuid;

use super::{StoreError, StoreResult};

/// A custom domain as stored.
#[derive(Debug, Clone)]
pub struct Domain {
    pub id: Uuid,
    pub user_id: Uuid,
    /// Lower-case, without a final dot.
    pub domain: String,
    pub verify_token: String,
    /// Unix seconds; `None` while pending.
    pub verified_at: Option<i64>,
    pub mx_configured: bool,
    /// Unix seconds.
    pub created_at: i64,
}

impl Domain {
    /// Whether ownership was proven.
    pub fn is_verified(&self) -> bool {
        self.verified_at.is_some()
    }
}

const COLUMNS: &str = "id, user_id, domain, verify_token, verified_at, mx_configured, created_at";

fn from_row(row: &Row<'_>) -> rusqlite::Result<Domain> {
    let id: String = row.get(0)?;
    let user_id: String = row.get(1)?;
    Ok(Domain {
        id: Uuid::parse_str(&id).unwrap_or_default(),
        user_id: Uuid::parse_str(&user_id).unwrap_or_default(),
        domain: row.get(2)?,
        verify_token: row.get(3)?,
        verified_at: row.get(4)?,
        mx_configured: row.get::<_, i64>(5)? != 0,
        created_at: row.get(6)?,
    })
}

/// How many custom domains a user holds.
pub fn count_of(conn: &Connection, user_id: Uuid) -> StoreResult<u32> {
    let count: i64 = conn
        .prepare_cached("SELECT COUNT(*) FROM domains WHERE user_id = ?1")?
        .query_row([user_id.to_string()], |r| r.get(0))?;
    Ok(count as u32)
}

/// Inserts a pending domain; `StoreError::Conflict` when any user holds that name (any letter
/// case).
pub fn insert(conn: &Connection, domain: &Domain) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO domains (id, user_id, domain, verify_token, verified_at, mx_configured, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        domain.id.to_string(),
        domain.user_id.to_string(),
        domain.domain,
        domain.verify_token,
        domain.verified_at,
        domain.mx_configured,
        domain.created_at
    ])
    .map_err(StoreError::from_insert)?;
    Ok(())
}

/// Drops a claim on `domain` that stayed pending past its window (created before
/// `created_before`), whoever made it, so the name's real owner can add it; true if one went.
/// A pending domain has no mailboxes, but a claim that somehow has some is left alone.
pub fn release_expired(conn: &Connection, domain: &str, created_before: i64) -> StoreResult<bool> {
    let released = conn
        .prepare_cached(
            "DELETE FROM domains WHERE domain = ?1 AND verified_at IS NULL AND created_at < ?2
             AND NOT EXISTS (SELECT 1 FROM accounts WHERE accounts.domain_id = domains.id)",
        )?
        .execute(params![domain, created_before])?;
    Ok(released > 0)
}

/// A user's domains, oldest first.
pub fn list_of(conn: &Connection, user_id: Uuid) -> StoreResult<Vec<Domain>> {
    let sql = format!("SELECT {COLUMNS} FROM domains WHERE user_id = ?1 ORDER BY created_at, domain");
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map([user_id.to_string()], from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// One of a user's domains; `None` for another user's, exactly like for an unknown id.
pub fn get(conn: &Connection, user_id: Uuid, id: Uuid) -> StoreResult<Option<Domain>> {
    let sql = format!("SELECT {COLUMNS} FROM domains WHERE id = ?1 AND user_id = ?2");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row(params![id.to_string(), user_id.to_string()], from_row)
        .optional()?)
}

/// Records a DNS check of one of a user's domains: verified from `verified_now` on unless it
/// already was (ownership once proven stays proven), and whether the MX record points here.
/// The domain as it is now; `None` when the user has no such domain (any more).
pub fn record_check(
    conn: &Connection,
    user_id: Uuid,
    id: Uuid,
    verified_now: Option<i64>,
    mx_configured: bool,
) -> StoreResult<Option<Domain>> {
    let changed = conn
        .prepare_cached(
            "UPDATE domains SET verified_at = COALESCE(verified_at, ?3), mx_configured = ?4
             WHERE id = ?1 AND user_id = ?2",
        )?
        .execute(params![
            id.to_string(),
            user_id.to_string(),
            verified_now,
            mx_configured
        ])?;
    if changed == 0 {
        return Ok(None);
    }
    get(conn, user_id, id)
}

/// Takes one of a user's domains back to pending, as its removal starts: from then on it gets
/// no mail and no new mailboxes. False when the user has no such domain.
pub fn unverify(conn: &Connection, user_id: Uuid, id: Uuid) -> StoreResult<bool> {
    let changed = conn
        .prepare_cached("UPDATE domains SET verified_at = NULL WHERE id = ?1 AND user_id = ?2")?
        .execute(params![id.to_string(), user_id.to_string()])?;
    Ok(changed > 0)
}

/// Up to `limit` ids of the mailboxes on a domain, to remove them in batches.
pub fn some_mailboxes_on(conn: &Connection, id: Uuid, limit: u32) -> StoreResult<Vec<Uuid>> {
    let mut stmt = conn.prepare_cached("SELECT id FROM accounts WHERE domain_id = ?1 LIMIT ?2")?;
    let rows = stmt.query_map(params![id.to_string(), limit], |r| r.get::<_, String>(0))?;
    let ids: Vec<String> = rows.collect::<Result<_, _>>()?;
    Ok(ids.iter().filter_map(|id| Uuid::parse_str(id).ok()).collect())
}

/// What `delete` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deleted {
    Deleted,
    /// The user has no such domain (any more).
    NotFound,
    /// Mailboxes are still on it; they must go first.
    HasMailboxes,
}

/// Deletes one of a user's domains once no mailbox is on it.
pub fn delete(conn: &Connection, user_id: Uuid, id: Uuid) -> StoreResult<Deleted> {
    if get(conn, user_id, id)?.is_none() {
        return Ok(Deleted::NotFound);
    }
    if !some_mailboxes_on(conn, id, 1)?.is_empty() {
        return Ok(Deleted::HasMailboxes);
    }
    conn.prepare_cached("DELETE FROM domains WHERE id = ?1 AND user_id = ?2")?
        .execute(params![id.to_string(), user_id.to_string()])?;
    Ok(Deleted::Deleted)
}

/// The id of a verified domain and its owner, for any user: whether mail for `domain` is
/// accepted here (any letter case).
pub fn verified_owner(conn: &Connection, domain: &str) -> StoreResult<Option<(Uuid, Uuid)>> {
    let row: Option<(String, String)> = conn
        .prepare_cached("SELECT id, user_id FROM domains WHERE domain = ?1 AND verified_at IS NOT NULL")?
        .query_row([domain], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    Ok(row.map(|(id, user_id)| {
        (
            Uuid::parse_str(&id).unwrap_or_default(),
            Uuid::parse_str(&user_id).unwrap_or_default(),
        )
    }))
}

/// Whether `user_id` may create mailboxes on `domain`: the id of that domain when it is theirs
/// (any letter case) and verified, else `None`. What `POST /api/accounts` with a Pro credential checks for a
/// domain that is not a system domain, in the same write as the mailbox's insert (so a domain
/// being deleted, which turns pending first, takes no new mailbox); the id is the mailbox's
/// `domain_id`, which is how deleting the domain finds its mailboxes.
pub fn verified_for(conn: &Connection, user_id: Uuid, domain: &str) -> StoreResult<Option<Uuid>> {
    Ok(verified_owner(conn, domain)?
        .filter(|(_, owner)| *owner == user_id)
        .map(|(id, _)| id))
}
