//! Mailbox rows.

use mailcx_common::Role;
use rusqlite::{Connection, OptionalExtension, Row, params};
use uuid::Uuid;

use super::{StoreError, StoreResult};

/// A mailbox as the API sees it; never holds the password hash.
#[derive(Debug, Clone)]
pub struct Account {
    pub id: Uuid,
    pub address: String,
    pub role: Role,
    pub quota: u64,
    pub used: u64,
    /// Bumped when every older token must stop working (password reset).
    pub token_version: i64,
    /// Unix seconds.
    pub created_at: i64,
    /// The Pro user the mailbox belongs to; `None` for an anonymous mailbox.
    pub owner_id: Option<Uuid>,
    /// Messages stored (kept by triggers; mail past its retention counts until it is swept).
    pub messages: u64,
    /// Of those, the ones not marked read.
    pub unread: u64,
}

/// A mailbox to insert.
pub struct NewAccount<'a> {
    pub id: Uuid,
    pub address: &'a str,
    pub password_hash: &'a str,
    pub quota: u64,
    pub created_at: i64,
    /// The Pro user it belongs to (its role is then `pro`); `None` for an anonymous mailbox.
    pub owner_id: Option<Uuid>,
    /// The owner's custom domain it lives on; `None` on a system domain.
    pub domain_id: Option<Uuid>,
}

/// Mailboxes on one page of a Pro user's list.
pub const OWNED_PAGE_SIZE: u32 = 100;

const COLUMNS: &str =
    "id, address, role, quota, used, token_version, created_at, owner_id, message_count, unread_count";

fn from_row(row: &Row<'_>) -> rusqlite::Result<Account> {
    let id: String = row.get(0)?;
    let role: String = row.get(2)?;
    let owner: Option<String> = row.get(7)?;
    Ok(Account {
        id: Uuid::parse_str(&id).unwrap_or_default(),
        address: row.get(1)?,
        role: if role == "pro" { Role::Pro } else { Role::User },
        quota: row.get::<_, i64>(3)? as u64,
        used: row.get::<_, i64>(4)? as u64,
        token_version: row.get(5)?,
        created_at: row.get(6)?,
        owner_id: owner.and_then(|o| Uuid::parse_str(&o).ok()),
        messages: row.get::<_, i64>(8)?.max(0) as u64,
        unread: row.get::<_, i64>(9)?.max(0) as u64,
    })
}

/// Inserts a mailbox and returns it; `StoreError::Conflict` when the address is taken (any
/// letter case).
pub fn insert(conn: &Connection, account: &NewAccount<'_>) -> StoreResult<Account> {
    let role = if account.owner_id.is_some() {
        Role::Pro
    } else {
        Role::User
    };
    conn.prepare_cached(
        "INSERT INTO accounts (id, address, password_hash, role, quota, created_at, owner_id, domain_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        account.id.to_string(),
        account.address,
        account.password_hash,
        if role == Role::Pro { "pro" } else { "user" },
        account.quota as i64,
        account.created_at,
        account.owner_id.map(|o| o.to_string()),
        account.domain_id.map(|d| d.to_string()),
    ])
    .map_err(StoreError::from_insert)?;
    Ok(Account {
        id: account.id,
        address: account.address.to_string(),
        role,
        quota: account.quota,
        used: 0,
        token_version: 0,
        created_at: account.created_at,
        owner_id: account.owner_id,
        messages: 0,
        unread: 0,
    })
}

/// How many mailboxes a Pro user owns.
pub fn count_owned(conn: &Connection, owner_id: Uuid) -> StoreResult<u32> {
    let count: i64 = conn
        .prepare_cached("SELECT COUNT(*) FROM accounts WHERE owner_id = ?1")?
        .query_row([owner_id.to_string()], |r| r.get(0))?;
    Ok(count as u32)
}

/// Inserts a Pro user's mailbox unless they already own `limit`; `None` when they do. Counted in
/// the insert's own transaction, so racing creations never pass the limit together.
pub fn insert_owned(conn: &Connection, account: &NewAccount<'_>, limit: u32) -> StoreResult<Option<Account>> {
    let owner = account.owner_id.expect("an owned mailbox has an owner");
    if count_owned(conn, owner)? >= limit {
        return Ok(None);
    }
    insert(conn, account).map(Some)
}

/// Page `page` (from 1) of a Pro user's mailboxes, newest first (ties in insertion order).
pub fn owned_page(conn: &Connection, owner_id: Uuid, page: u32) -> StoreResult<Vec<Account>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM accounts WHERE owner_id = ?1
         ORDER BY created_at DESC, rowid DESC LIMIT ?2 OFFSET ?3"
    );
    let offset = i64::from(page.saturating_sub(1)) * i64::from(OWNED_PAGE_SIZE);
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params![owner_id.to_string(), OWNED_PAGE_SIZE, offset], from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The mailbox with this id if `owner_id` owns it: another user's or an anonymous mailbox is
/// `None`, like one that does not exist.
pub fn owned(conn: &Connection, owner_id: Uuid, id: Uuid) -> StoreResult<Option<Account>> {
    let sql = format!("SELECT {COLUMNS} FROM accounts WHERE id = ?1 AND owner_id = ?2");
    let mut stmt = conn.prepare_cached(&sql)?;
    Ok(stmt
        .query_row([id.to_string(), owner_id.to_string()], from_row)
        .optional()?)
}

/// Sets the password of a mailbox `owner_id` owns and retires every token issued before; false
/// when they own no such mailbox.
pub fn reset_owned_password(
    conn: &Connection,
    owner_id: Uuid,
    id: Uuid,
    password_hash: &str,
) -> StoreResult<bool> {
    let changed = conn
        .prepare_cached(
            "UPDATE accounts SET password_hash = ?3, token_version = token_version + 1
             WHERE id = ?1 AND owner_id = ?2",
        )?
        .execute(params![id.to_string(), owner_id.to_string(), password_hash])?;
    Ok(changed > 0)
}

/// The mailbox with this id.
pub fn by_id(conn: &Connection, id: Uuid) -> StoreResult<Option<Account>> {
    let sql = format!("SELECT {COLUMNS} FROM accounts WHERE id = ?1");
    let mut stmt = conn.prepare_cached(&sql)?;
    Ok(stmt.query_row([id.to_string()], from_row).optional()?)
}

/// The mailbox with this address (any letter case) and its password hash, for sign-in.
pub fn by_address_with_hash(conn: &Connection, address: &str) -> StoreResult<Option<(Account, String)>> {
    let sql = format!("SELECT {COLUMNS}, password_hash FROM accounts WHERE address = ?1");
    let mut stmt = conn.prepare_cached(&sql)?;
    let row = stmt
        .query_row([address], |row| Ok((from_row(row)?, row.get::<_, String>(10)?)))
        .optional()?;
    Ok(row)
}

/// Deletes the mailbox (its mail goes with it through foreign keys); false if it was not there.
pub fn delete(conn: &Connection, id: Uuid) -> StoreResult<bool> {
    let deleted = conn.execute("DELETE FROM accounts WHERE id = ?1", [id.to_string()])?;
    Ok(deleted > 0)
}

/// The mailbox mail for `address` goes to: the one with exactly that address, else, for
/// `local+tag@domain`, the one at `local@domain` (plus-addressing).
pub fn for_recipient(conn: &Connection, address: &str) -> StoreResult<Option<Account>> {
    if let Some(account) = by_address(conn, address)? {
        return Ok(Some(account));
    }
    let Some((local, domain)) = address.rsplit_once('@') else {
        return Ok(None);
    };
    match local.split_once('+') {
        Some((base, _)) if !base.is_empty() => by_address(conn, &format!("{base}@{domain}")),
        _ => Ok(None),
    }
}

/// The mailbox with this address (any letter case).
pub fn by_address(conn: &Connection, address: &str) -> StoreResult<Option<Account>> {
    let sql = format!("SELECT {COLUMNS} FROM accounts WHERE address = ?1");
    let mut stmt = conn.prepare_cached(&sql)?;
    Ok(stmt.query_row([address], from_row).optional()?)
}
