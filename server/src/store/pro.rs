//! Pro users and their API tokens.

use rusqlite::{Connection, OptionalExtension, Row, params};
use uuid::Uuid;

use super::{StoreError, StoreResult};

/// A Pro user; never holds the password hash.
#[derive(Debug, Clone)]
pub struct ProUser {
    pub id: Uuid,
    pub email: String,
    /// Bumped by a password change: older Pro JWTs stop working.
    pub token_version: i64,
    pub limits: Limits,
    /// Unix seconds.
    pub created_at: i64,
}

/// What a Pro user may hold at most.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub mailboxes: u32,
    pub domains: u32,
    pub tokens: u32,
}

impl Default for Limits {
    /// The contract's defaults: 1,000 mailboxes, 10 custom domains, 10 active tokens.
    fn default() -> Self {
        Limits {
            mailboxes: 1000,
            domains: 10,
            tokens: 10,
        }
    }
}

/// One row of `user list`.
#[derive(Debug, Clone)]
pub struct UserSummary {
    pub user: ProUser,
    pub mailboxes: u64,
    pub domains: u64,
    pub tokens: u64,
}

/// An API token as stored: its hash stays here.
#[derive(Debug, Clone)]
pub struct Token {
    pub id: Uuid,
    pub user_id: Uuid,
    pub name: String,
    pub last_used_at: Option<i64>,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

const USER_COLUMNS: &str = "id, email, token_version, max_mailboxes, max_domains, max_tokens, created_at";

fn user_from_row(row: &Row<'_>) -> rusqlite::Result<ProUser> {
    let id: String = row.get(0)?;
    Ok(ProUser {
        id: Uuid::parse_str(&id).unwrap_or_default(),
        email: row.get(1)?,
        token_version: row.get(2)?,
        limits: Limits {
            mailboxes: row.get(3)?,
            domains: row.get(4)?,
            tokens: row.get(5)?,
        },
        created_at: row.get(6)?,
    })
}

/// Inserts a Pro user; `StoreError::Conflict` when the email is taken (any letter case).
pub fn insert_user(
    conn: &Connection,
    id: Uuid,
    email: &str,
    password_hash: &str,
    created_at: i64,
) -> StoreResult<()> {
    let limits = Limits::default();
    conn.execute(
        "INSERT INTO pro_users (id, email, password_hash, max_mailboxes, max_domains, max_tokens, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            id.to_string(),
            email,
            password_hash,
            limits.mailboxes,
            limits.domains,
            limits.tokens,
            created_at
        ],
    )
    .map_err(StoreError::from_insert)?;
    Ok(())
}

/// The Pro user with this id.
pub fn user(conn: &Connection, id: Uuid) -> StoreResult<Option<ProUser>> {
    let sql = format!("SELECT {USER_COLUMNS} FROM pro_users WHERE id = ?1");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row([id.to_string()], user_from_row)
        .optional()?)
}

/// The Pro user with this email (any letter case) and their password hash, for sign-in.
pub fn user_by_email_with_hash(conn: &Connection, email: &str) -> StoreResult<Option<(ProUser, String)>> {
    let sql = format!("SELECT {USER_COLUMNS}, password_hash FROM pro_users WHERE email = ?1");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row([email], |row| Ok((user_from_row(row)?, row.get(7)?)))
        .optional()?)
}

/// The Pro user with this email (any letter case).
pub fn user_by_email(conn: &Connection, email: &str) -> StoreResult<Option<ProUser>> {
    Ok(user_by_email_with_hash(conn, email)?.map(|(user, _)| user))
}

/// Every Pro user with what they hold, oldest first.
pub fn list_users(conn: &Connection) -> StoreResult<Vec<UserSummary>> {
    let sql = format!(
        "SELECT {USER_COLUMNS},
            (SELECT COUNT(*) FROM accounts a WHERE a.owner_id = u.id),
            (SELECT COUNT(*) FROM domains d WHERE d.user_id = u.id),
            (SELECT COUNT(*) FROM pro_tokens t WHERE t.user_id = u.id AND t.revoked_at IS NULL)
         FROM pro_users u ORDER BY created_at, email"
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map([], |row| {
        Ok(UserSummary {
            user: user_from_row(row)?,
            mailboxes: row.get::<_, i64>(7)? as u64,
            domains: row.get::<_, i64>(8)? as u64,
            tokens: row.get::<_, i64>(9)? as u64,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Sets a Pro user's password and retires their Pro JWTs; false when there is no such user.
pub fn set_password(conn: &Connection, id: Uuid, password_hash: &str) -> StoreResult<bool> {
    let changed = conn.execute(
        "UPDATE pro_users SET password_hash = ?2, token_version = token_version + 1 WHERE id = ?1",
        params![id.to_string(), password_hash],
    )?;
    Ok(changed > 0)
}

/// Sets a Pro user's limits; false when there is no such user.
pub fn set_limits(conn: &Connection, id: Uuid, limits: Limits) -> StoreResult<bool> {
    let changed = conn.execute(
        "UPDATE pro_users SET max_mailboxes = ?2, max_domains = ?3, max_tokens = ?4 WHERE id = ?1",
        params![id.to_string(), limits.mailboxes, limits.domains, limits.tokens],
    )?;
    Ok(changed > 0)
}

/// Deletes a Pro user whose mailboxes are already gone; their tokens, domains and webhook go
/// with them. False when there is no such user.
pub fn delete_user(conn: &Connection, id: Uuid) -> StoreResult<bool> {
    let deleted = conn.execute("DELETE FROM pro_users WHERE id = ?1", [id.to_string()])?;
    Ok(deleted > 0)
}

/// Up to `limit` ids of a Pro user's mailboxes, to remove them in batches.
pub fn some_mailboxes_of(conn: &Connection, user_id: Uuid, limit: u32) -> StoreResult<Vec<Uuid>> {
    let mut stmt = conn.prepare_cached("SELECT id FROM accounts WHERE owner_id = ?1 LIMIT ?2")?;
    let rows = stmt.query_map(params![user_id.to_string(), limit], |r| r.get::<_, String>(0))?;
    let ids: Vec<String> = rows.collect::<Result<_, _>>()?;
    Ok(ids.iter().filter_map(|id| Uuid::parse_str(id).ok()).collect())
}

/// A live token and its hash as stored.
pub type StoredToken = (Token, Vec<u8>);

const TOKEN_COLUMNS: &str = "id, user_id, name, last_used_at, created_at, revoked_at";

fn token_from_row(row: &Row<'_>) -> rusqlite::Result<Token> {
    let id: String = row.get(0)?;
    let user_id: String = row.get(1)?;
    Ok(Token {
        id: Uuid::parse_str(&id).unwrap_or_default(),
        user_id: Uuid::parse_str(&user_id).unwrap_or_default(),
        name: row.get(2)?,
        last_used_at: row.get(3)?,
        created_at: row.get(4)?,
        revoked_at: row.get(5)?,
    })
}

/// Stores a new token (its hash only) for a user, within their limit of active tokens; `None`
/// when the limit is reached.
pub fn insert_token(
    conn: &Connection,
    user: &ProUser,
    id: Uuid,
    name: &str,
    hash: &[u8],
    created_at: i64,
) -> StoreResult<Option<Token>> {
    let active: i64 = conn
        .prepare_cached("SELECT COUNT(*) FROM pro_tokens WHERE user_id = ?1 AND revoked_at IS NULL")?
        .query_row([user.id.to_string()], |r| r.get(0))?;
    if active >= i64::from(user.limits.tokens) {
        return Ok(None);
    }
    conn.prepare_cached(
        "INSERT INTO pro_tokens (id, user_id, name, hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        id.to_string(),
        user.id.to_string(),
        name,
        hash,
        created_at
    ])?;
    Ok(Some(Token {
        id,
        user_id: user.id,
        name: name.to_string(),
        last_used_at: None,
        created_at,
        revoked_at: None,
    }))
}

/// The live (not revoked) token with this hash, and its hash as stored.
pub fn token_by_hash(conn: &Connection, hash: &[u8]) -> StoreResult<Option<StoredToken>> {
    let sql = format!("SELECT {TOKEN_COLUMNS}, hash FROM pro_tokens WHERE hash = ?1 AND revoked_at IS NULL");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row([hash], |row| Ok((token_from_row(row)?, row.get(6)?)))
        .optional()?)
}

/// A user's tokens, revoked ones too, oldest first.
pub fn tokens_of(conn: &Connection, user_id: Uuid) -> StoreResult<Vec<Token>> {
    let sql = format!("SELECT {TOKEN_COLUMNS} FROM pro_tokens WHERE user_id = ?1 ORDER BY created_at, id");
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map([user_id.to_string()], token_from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Revokes one of a user's tokens; false when the user has no such live token.
pub fn revoke_token(conn: &Connection, user_id: Uuid, id: Uuid, now: i64) -> StoreResult<bool> {
    let changed = conn.execute(
        "UPDATE pro_tokens SET revoked_at = ?3 WHERE id = ?1 AND user_id = ?2 AND revoked_at IS NULL",
        params![id.to_string(), user_id.to_string(), now],
    )?;
    Ok(changed > 0)
}

/// Revokes every live token of a user and retires their Pro JWTs (before they are removed).
pub fn revoke_all(conn: &Connection, user_id: Uuid, now: i64) -> StoreResult<()> {
    conn.execute(
        "UPDATE pro_tokens SET revoked_at = ?2 WHERE user_id = ?1 AND revoked_at IS NULL",
        params![user_id.to_string(), now],
    )?;
    conn.execute(
        "UPDATE pro_users SET token_version = token_version + 1 WHERE id = ?1",
        [user_id.to_string()],
    )?;
    Ok(())
}

/// Records when tokens were last used (ids with Unix seconds), never moving a time back.
pub fn record_token_use(conn: &Connection, uses: &[(Uuid, i64)]) -> StoreResult<()> {
    let mut stmt = conn.prepare_cached(
        "UPDATE pro_tokens SET last_used_at = MAX(COALESCE(last_used_at, 0), ?2) WHERE id = ?1",
    )?;
    for (id, at) in uses {
        stmt.execute(params![id.to_string(), at])?;
    }
    Ok(())
}
