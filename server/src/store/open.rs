//! Open inboxes (`/v1`): mail kept per address on an open domain, without a mailbox. Rows are
//! numbered by `seq` (never reused), which is the long poll's and the event stream's cursor.

use std::collections::HashMap;
use std::ops::Range;

use rusqlite::{Connection, OptionalExtension, Row, params};
use uuid::Uuid;

use super::StoreResult;
use super::accounts;
use super::messages::{Delivery, Lookup};

/// How long the id of a swept email still answers 410 rather than 404, in seconds.
const EXPIRED_MEMORY_SECS: i64 = 7 * 86_400;
/// The namespace of open inboxes' event keys (see `inbox_key`).
const KEY_NAMESPACE: Uuid = Uuid::from_u128(0x6d61_696c_6378_4f70_656e_496e_626f_7853);

/// The key an open inbox's events are published under: a name-based UUID (v5) of the address,
/// which can never equal a mailbox's random or time-based id.
pub fn inbox_key(address: &str) -> Uuid {
    Uuid::new_v5(&KEY_NAMESPACE, address.as_bytes())
}

/// A new email id: UUID v7 (time-ordered) whose 74 other bits all come from the operating
/// system's CSPRNG, since knowing an id is enough to read the email.
pub fn new_id() -> Uuid {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let random: [u8; 10] = rand::random();
    uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid()
}

/// An email to store in an open inbox.
pub struct NewOpenEmail<'a> {
    pub id: Uuid,
    pub address: &'a str,
    pub sender: &'a str,
    pub from: &'a str,
    pub subject: &'a str,
    pub preview_text: &'a str,
    pub raw: &'a [u8],
    pub created_at: i64,
    pub expires_at: i64,
}

/// An open inbox's email as listed, with its cursor.
#[derive(Debug, Clone)]
pub struct OpenEmail {
    pub seq: i64,
    pub id: Uuid,
    pub address: String,
    pub sender: String,
    pub from: String,
    pub subject: String,
    pub preview_text: String,
    pub size: u64,
    pub created_at: i64,
}

/// What the long poll looks for: emails after the cursor `since` matching both substrings
/// (case-insensitive; empty matches all).
pub struct Filter {
    pub since: i64,
    pub from: String,
    pub subject: String,
}

const COLUMNS: &str = "seq, id, address, sender, from_header, subject, preview_text, size, created_at";

fn row(row: &Row<'_>) -> rusqlite::Result<OpenEmail> {
    let id: String = row.get(1)?;
    Ok(OpenEmail {
        seq: row.get(0)?,
        id: Uuid::parse_str(&id).unwrap_or_default(),
        address: row.get(2)?,
        sender: row.get(3)?,
        from: row.get(4)?,
        subject: row.get(5)?,
        preview_text: row.get(6)?,
        size: row.get::<_, i64>(7)? as u64,
        created_at: row.get(8)?,
    })
}

/// Bytes stored for `address`.
pub fn used(conn: &Connection, address: &str) -> StoreResult<u64> {
    let used: Option<i64> = conn
        .prepare_cached("SELECT used FROM open_inboxes WHERE address = ?1")?
        .query_row([address], |r| r.get(0))
        .optional()?;
    Ok(used.unwrap_or(0).max(0) as u64)
}

/// Whether each email fits its address's `quota` beside what is stored and the emails before it
/// (one message to several tags of one address is several copies).
pub fn fits(conn: &Connection, emails: &[NewOpenEmail<'_>], quota: u64) -> StoreResult<Vec<bool>> {
    let mut planned: HashMap<&str, u64> = HashMap::new();
    let mut fits = Vec::with_capacity(emails.len());
    for email in emails {
        let stored = used(conn, email.address)?;
        let earlier = planned.entry(email.address).or_default();
        *earlier += email.raw.len() as u64;
        fits.push(stored.saturating_add(*earlier) <= quota);
    }
    Ok(fits)
}

/// Stores one email, unless a mailbox has taken its address (plus-addressing included) since
/// RCPT chose the open inbox: then nothing is stored (`NoMailbox`, as for a mailbox deleted
/// meanwhile), since a mailbox's mail must never be readable through `/v1`. Checked in the
/// caller's transaction, so no mailbox can appear between check and commit. The caller checked
/// the quota.
pub fn insert(conn: &Connection, email: &NewOpenEmail<'_>) -> StoreResult<Delivery> {
    if accounts::for_recipient(conn, email.address)?.is_some() {
        return Ok(Delivery::NoMailbox);
    }
    conn.prepare_cached(
        "INSERT INTO open_messages (id, address, sender, from_header, subject, preview_text, size, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        email.id.to_string(),
        email.address,
        email.sender,
        email.from,
        email.subject,
        email.preview_text,
        email.raw.len() as i64,
        email.created_at,
        email.expires_at
    ])?;
    let seq = conn.last_insert_rowid();
    conn.prepare_cached("INSERT INTO open_contents (seq, raw) VALUES (?1, ?2)")?
        .execute(params![seq, email.raw])?;
    Ok(Delivery::Stored)
}

/// Up to `limit` live emails of `address` newer than the filter's cursor that match it, newest
/// first.
pub fn newer(
    conn: &Connection,
    address: &str,
    filter: &Filter,
    limit: u32,
    now: i64,
) -> StoreResult<Vec<OpenEmail>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM open_messages
         WHERE address = ?1 AND seq > ?2 AND expires_at > ?3
           AND instr(lower(from_header), lower(?4)) > 0 AND instr(lower(subject), lower(?5)) > 0
         ORDER BY seq DESC LIMIT ?6"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(
        params![address, filter.since, now, filter.from, filter.subject, limit],
        row,
    )?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Up to `limit` live emails of `address` after the cursor `since`, oldest first (what an event
/// stream sends next).
pub fn after(
    conn: &Connection,
    address: &str,
    since: i64,
    limit: u32,
    now: i64,
) -> StoreResult<Vec<OpenEmail>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM open_messages
         WHERE address = ?1 AND seq > ?2 AND expires_at > ?3 ORDER BY seq LIMIT ?4"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params![address, since, now, limit], row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The cursor of the newest email ever stored (0 when none): a new event stream starts there.
pub fn latest_cursor(conn: &Connection) -> StoreResult<i64> {
    let sql = "SELECT COALESCE(MAX(seq), 0) FROM open_messages";
    Ok(conn.prepare_cached(sql)?.query_row([], |r| r.get(0))?)
}

/// Finds an email by id: there, gone by retention (or due to go), or never there.
fn locate(conn: &Connection, id: Uuid, now: i64) -> StoreResult<Lookup<i64>> {
    let id = id.to_string();
    let found: Option<(i64, i64)> = conn
        .prepare_cached("SELECT seq, expires_at FROM open_messages WHERE id = ?1")?
        .query_row([&id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    Ok(match found {
        Some((_, expires_at)) if expires_at <= now => Lookup::Expired,
        Some((seq, _)) => Lookup::Found(seq),
        None => {
            let expired = conn
                .prepare_cached("SELECT 1 FROM open_expired WHERE id = ?1")?
                .exists([&id])?;
            if expired { Lookup::Expired } else { Lookup::Missing }
        }
    })
}

/// An email with its raw bytes.
pub fn get(conn: &Connection, id: Uuid, now: i64) -> StoreResult<Lookup<(OpenEmail, Vec<u8>)>> {
    let sql = format!(
        "SELECT {COLUMNS}, (SELECT raw FROM open_contents c WHERE c.seq = m.seq)
         FROM open_messages m WHERE seq = ?1"
    );
    locate(conn, id, now)?.and_then(|seq| {
        Ok(conn
            .prepare_cached(&sql)?
            .query_row([seq], |r| Ok((row(r)?, r.get(9)?)))
            .optional()?)
    })
}

/// Where an email's raw bytes are stored (its `seq`) and their size, to read them piece by piece.
pub fn raw_location(conn: &Connection, id: Uuid, now: i64) -> StoreResult<Lookup<(i64, u64)>> {
    locate(conn, id, now)?.and_then(|seq| {
        let size: Option<i64> = conn
            .prepare_cached("SELECT size FROM open_messages WHERE seq = ?1")?
            .query_row([seq], |r| r.get(0))
            .optional()?;
        Ok(size.map(|size| (seq, size as u64)))
    })
}

/// Bytes `range` of email `id`'s raw bytes stored under `seq`, read without loading the rest;
/// `None` once the email is gone (checked in the same transaction as the read). The open
/// inboxes' twin of `messages::raw_piece`.
pub fn raw_piece(conn: &Connection, seq: i64, id: Uuid, range: Range<usize>) -> StoreResult<Option<Vec<u8>>> {
    super::blob_piece(conn, "open_messages", "open_contents", seq, id, range)
}

/// Deletes one email.
pub fn delete(conn: &Connection, id: Uuid, now: i64) -> StoreResult<Lookup<()>> {
    locate(conn, id, now)?.and_then(|seq| {
        conn.prepare_cached("DELETE FROM open_messages WHERE seq = ?1")?
            .execute([seq])?;
        Ok(Some(()))
    })
}

/// Deletes up to `limit` emails of `address`; true while more may be left.
pub fn clear_some(conn: &Connection, address: &str, limit: u32) -> StoreResult<bool> {
    let removed = conn
        .prepare_cached(
            "DELETE FROM open_messages WHERE seq IN
             (SELECT seq FROM open_messages WHERE address = ?1 LIMIT ?2)",
        )?
        .execute(params![address, limit])?;
    Ok(removed as u32 == limit)
}

/// When the next open email falls due for removal (Unix seconds), if any.
pub fn next_expiry(conn: &Connection) -> StoreResult<Option<i64>> {
    let sql = "SELECT MIN(expires_at) FROM open_messages";
    Ok(conn.prepare_cached(sql)?.query_row([], |r| r.get(0))?)
}

/// Removes up to `limit` emails whose open retention ran out, remembering their ids; returns how
/// many.
pub fn sweep_expired(conn: &Connection, now: i64, limit: u32) -> StoreResult<usize> {
    let expired: Vec<(i64, String)> = conn
        .prepare_cached(
            "SELECT seq, id FROM open_messages WHERE expires_at <= ?1 ORDER BY expires_at LIMIT ?2",
        )?
        .query_map(params![now, limit], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    for (seq, id) in &expired {
        conn.prepare_cached("INSERT OR IGNORE INTO open_expired (id, expired_at) VALUES (?1, ?2)")?
            .execute(params![id, now])?;
        conn.prepare_cached("DELETE FROM open_messages WHERE seq = ?1")?
            .execute([seq])?;
    }
    conn.prepare_cached("DELETE FROM open_expired WHERE expired_at < ?1")?
        .execute([now - EXPIRED_MEMORY_SECS])?;
    Ok(expired.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email<'a>(address: &'a str, raw: &'a [u8], expires_at: i64) -> NewOpenEmail<'a> {
        NewOpenEmail {
            id: new_id(),
            address,
            sender: "s@x.test",
            from: "Ann <ann@x.test>",
            subject: "hello",
            preview_text: "hi",
            raw,
            created_at: 0,
            expires_at,
        }
    }

    #[test]
    fn used_follows_every_insert_and_delete_and_cursors_never_come_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("open.db");
        let mut conn = Connection::open(&path).unwrap();
        super::super::migrations::run(&mut conn, &path).unwrap();
        let (a, b) = ("a@open.test", "b@open.test");
        for _ in 0..2 {
            insert(&conn, &email(a, b"12345", 100)).unwrap();
        }
        insert(&conn, &email(b, b"123", 50)).unwrap();
        assert_eq!((used(&conn, a).unwrap(), used(&conn, b).unwrap()), (10, 3));
        let plan = [email(a, b"123456", 100), email(a, b"1", 100)];
        assert_eq!(
            fits(&conn, &plan, 16).unwrap(),
            [true, false],
            "copies fit together or not"
        );
        let all = Filter {
            since: 0,
            from: String::new(),
            subject: String::new(),
        };
        let newest = newer(&conn, a, &all, 10, 0).unwrap();
        assert_eq!(newest.len(), 2);
        assert!(newest[0].seq > newest[1].seq, "newest first");
        // The newest row goes; the next one must still be newer than its cursor.
        assert!(matches!(
            delete(&conn, newest[0].id, 0).unwrap(),
            Lookup::Found(())
        ));
        insert(&conn, &email(a, b"1", 100)).unwrap();
        let since = Filter {
            since: newest[0].seq,
            ..all
        };
        assert_eq!(newer(&conn, a, &since, 10, 0).unwrap().len(), 1);
        assert_eq!(used(&conn, a).unwrap(), 6);
        // Swept: gone, remembered as expired, and `used` back to nothing.
        assert_eq!(sweep_expired(&conn, 60, 100).unwrap(), 1);
        assert_eq!(used(&conn, b).unwrap(), 0);
        assert_eq!(next_expiry(&conn).unwrap(), Some(100));
        while clear_some(&conn, a, 1).unwrap() {}
        assert_eq!(used(&conn, a).unwrap(), 0);
        let rows: i64 = conn
            .query_row("SELECT COUNT(*) FROM open_inboxes", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 0, "an emptied inbox leaves no row behind");
    }

    #[test]
    fn an_address_a_mailbox_took_gets_no_open_copy_and_pieces_read_what_was_stored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("open.db");
        let mut conn = Connection::open(&path).unwrap();
        super::super::migrations::run(&mut conn, &path).unwrap();
        let raw: Vec<u8> = (0..200u32).map(|i| i as u8).collect();
        let open = email("free@open.test", &raw, 100);
        assert_eq!(insert(&conn, &open).unwrap(), Delivery::Stored);
        let (seq, size) = match raw_location(&conn, open.id, 0).unwrap() {
            Lookup::Found(found) => found,
            _ => panic!("stored"),
        };
        assert_eq!(size, 200);
        assert_eq!(
            raw_piece(&conn, seq, open.id, 10..20).unwrap().unwrap(),
            &raw[10..20]
        );
        assert_eq!(
            raw_piece(&conn, seq, open.id, 190..264).unwrap().unwrap(),
            &raw[190..]
        );
        assert_eq!(
            raw_piece(&conn, seq, new_id(), 0..10).unwrap(),
            None,
            "another id"
        );
        // A mailbox appears for the base address: neither it nor a tag of it gets an open copy.
        let mailbox = accounts::NewAccount {
            id: Uuid::now_v7(),
            address: "taken@open.test",
            password_hash: "x",
            quota: 1000,
            created_at: 0,
            owner_id: None,
            domain_id: None,
        };
        accounts::insert(&conn, &mailbox).unwrap();
        for address in ["taken@open.test", "taken+tag@open.test"] {
            assert_eq!(
                insert(&conn, &email(address, b"hi", 100)).unwrap(),
                Delivery::NoMailbox,
                "{address}"
            );
            assert_eq!(used(&conn, address).unwrap(), 0);
        }
        assert!(matches!(delete(&conn, open.id, 0).unwrap(), Lookup::Found(())));
        assert_eq!(raw_piece(&conn, seq, open.id, 0..10).unwrap(), None, "gone");
    }

    #[test]
    fn ids_are_v7_and_keys_never_look_like_ids() {
        let (a, b) = (new_id(), new_id());
        assert_eq!(a.get_version_num(), 7);
        assert_ne!(a, b);
        assert_eq!(inbox_key("a@mail.cx").get_version_num(), 5);
        assert_eq!(inbox_key("a@mail.cx"), inbox_key("a@mail.cx"));
        assert_ne!(inbox_key("a@mail.cx"), inbox_key("b@mail.cx"));
    }
}
