//! Server settings kept in the database, such as the generated JWT secret.

use rusqlite::{Connection, OptionalExtension, params};

use super::StoreResult;

/// Returns the stored value for `key`, or stores `make()` there first.
pub fn get_or_insert(conn: &Connection, key: &str, make: impl FnOnce() -> Vec<u8>) -> StoreResult<Vec<u8>> {
    let existing: Option<Vec<u8>> = conn
        .query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| r.get(0))
        .optional()?;
    if let Some(value) = existing {
        return Ok(value);
    }
    let value = make();
    conn.execute(
        "INSERT INTO settings (key, value) VALUES (?1, ?2)",
        params![key, value],
    )?;
    Ok(value)
}
