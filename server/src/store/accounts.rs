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
}

/// A mailbox to insert.
pub struct NewAccount<'a> {
    pub id: Uuid,
    pub address: &'a str,
    pub password_hash: &'a str,
    pub quota: u64,
    pub created_at: i64,
}

const COLUMNS: &str = "id, address, role, quota, used, token_version, created_at";

fn from_row(row: &Row<'_>) -> rusqlite::Result<Account> {
    let id: String = row.get(0)?;
    let role: String = row.get(2)?;
    Ok(Account {
        id: Uuid::parse_str(&id).unwrap_or_default(),
        address: row.get(1)?,
        role: if role == "pro" { Role::Pro } else { Role::User },
        quota: row.get::<_, i64>(3)? as u64,
        used: row.get::<_, i64>(4)? as u64,
        token_version: row.get(5)?,
        created_at: row.get(6)?,
    })
}

/// Inserts a mailbox and returns it; `StoreError::Conflict` when the address is taken (any
/// letter case).
pub fn insert(conn: &Connection, account: &NewAccount<'_>) -> StoreResult<Account> {
    conn.execute(
        "INSERT INTO accounts (id, address, password_hash, quota, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            account.id.to_string(),
            account.address,
            account.password_hash,
            account.quota as i64,
            account.created_at
        ],
    )
    .map_err(StoreError::from_insert)?;
    Ok(Account {
        id: account.id,
        address: account.address.to_string(),
        role: Role::User,
        quota: account.quota,
        used: 0,
        token_version: 0,
        created_at: account.created_at,
    })
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
        .query_row([address], |row| Ok((from_row(row)?, row.get::<_, String>(7)?)))
        .optional()?;
    Ok(row)
}

/// Deletes the mailbox (its mail goes with it through foreign keys); false if it was not there.
pub fn delete(conn: &Connection, id: Uuid) -> StoreResult<bool> {
    let deleted = conn.execute("DELETE FROM accounts WHERE id = ?1", [id.to_string()])?;
    Ok(deleted > 0)
}

/// The mailbox with this address (any letter case).
pub fn by_address(conn: &Connection, address: &str) -> StoreResult<Option<Account>> {
    let sql = format!("SELECT {COLUMNS} FROM accounts WHERE address = ?1");
    let mut stmt = conn.prepare_cached(&sql)?;
    Ok(stmt.query_row([address], from_row).optional()?)
}
