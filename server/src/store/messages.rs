//! Message rows: delivery with the quota check, pages, reads, deletes and retention.

use std::collections::HashMap;
use std::ops::Range;

use mailcx_common::{MessageSummary, timestamp};
use rusqlite::{Connection, OptionalExtension, Row, params};
use uuid::Uuid;

use super::StoreResult;

/// Messages on one page of a list.
pub const PAGE_SIZE: u32 = 30;
/// How long the id of an expired message still answers 410 rather than 404, in seconds.
const EXPIRED_MEMORY_SECS: i64 = 7 * 86_400;

/// A message to store for one recipient mailbox.
#[derive(Clone, Copy)]
pub struct NewMessage<'a> {
    pub id: Uuid,
    pub account_id: Uuid,
    /// The recipient address as written (`local+tag@domain` for plus-addressed mail).
    pub address: &'a str,
    pub sender: &'a str,
    pub from: &'a str,
    pub subject: &'a str,
    pub preview_text: &'a str,
    /// The start of the text body, kept only in the search index.
    pub search_text: &'a str,
    pub raw: &'a [u8],
    pub created_at: i64,
    pub expires_at: Option<i64>,
}

/// What became of one recipient's copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    Stored,
    /// The message does not fit in this mailbox's quota.
    OverQuota,
    /// The mailbox no longer exists.
    NoMailbox,
    /// This mailbox had room, but another recipient's did not, so no copy was stored.
    Withheld,
}

/// A message's summary and the bytes received, from which its bodies are parsed.
#[derive(Debug, Clone)]
pub struct Full {
    pub summary: MessageSummary,
    /// The recipient address as written; `None` for mail stored before it was kept.
    pub address: Option<String>,
    pub raw: Vec<u8>,
}

/// The answer to a lookup by id: there, gone by retention, or never there (for this mailbox).
#[derive(Debug)]
pub enum Lookup<T> {
    Found(T),
    Expired,
    Missing,
}

impl<T> Lookup<T> {
    /// Applies `f` to a found value; expired and missing stay as they are, and `f` finding
    /// nothing (the row went away meanwhile, on a read connection) is missing too.
    pub fn and_then<U>(self, f: impl FnOnce(T) -> StoreResult<Option<U>>) -> StoreResult<Lookup<U>> {
        Ok(match self {
            Lookup::Found(value) => f(value)?.map_or(Lookup::Missing, Lookup::Found),
            Lookup::Expired => Lookup::Expired,
            Lookup::Missing => Lookup::Missing,
        })
    }
}

/// Stores a copy for every recipient, or none at all when any mailbox lacks room: a sender that
/// was told 250 must be able to count on every copy. Also returns the least room (bytes) a
/// stored copy left in its mailbox, `i64::MAX` when none was stored.
pub fn deliver_all(conn: &Connection, copies: &[NewMessage<'_>]) -> StoreResult<(Vec<Delivery>, i64)> {
    let mut outcomes = Vec::with_capacity(copies.len());
    let mut least_room = i64::MAX;
    // Plus-addressing can send several copies to one mailbox: each must fit beside the others.
    let mut planned: HashMap<Uuid, i64> = HashMap::new();
    for copy in copies {
        let earlier = planned.entry(copy.account_id).or_default();
        *earlier += copy.raw.len() as i64;
        let room: Option<i64> = conn
            .prepare_cached("SELECT quota - used FROM accounts WHERE id = ?1")?
            .query_row([copy.account_id.to_string()], |r| r.get(0))
            .optional()?;
        outcomes.push(match room {
            Some(room) if *earlier <= room => {
                least_room = least_room.min(room - *earlier);
                Delivery::Stored
            }
            Some(_) => Delivery::OverQuota,
            None => Delivery::NoMailbox,
        });
    }
    if outcomes.contains(&Delivery::OverQuota) {
        for outcome in &mut outcomes {
            if *outcome == Delivery::Stored {
                *outcome = Delivery::Withheld;
            }
        }
        return Ok((outcomes, i64::MAX));
    }
    for (copy, outcome) in copies.iter().zip(&outcomes) {
        if *outcome == Delivery::Stored {
            insert(conn, copy)?;
        }
    }
    Ok((outcomes, least_room))
}

/// Stores one copy and adds its size to the mailbox's `used`; the caller checked the room.
fn insert(conn: &Connection, message: &NewMessage<'_>) -> StoreResult<()> {
    let size = message.raw.len() as i64;
    let account = message.account_id.to_string();
    conn.prepare_cached("UPDATE accounts SET used = used + ?2 WHERE id = ?1")?
        .execute(params![account, size])?;
    conn.prepare_cached(
        "INSERT INTO messages (id, account_id, sender, from_header, subject, preview_text, size, created_at, expires_at, address)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
        message.id.to_string(),
        account,
        message.sender,
        message.from,
        message.subject,
        message.preview_text,
        size,
        message.created_at,
        message.expires_at,
        message.address
    ])?;
    let seq = conn.last_insert_rowid();
    conn.prepare_cached("INSERT INTO message_contents (seq, raw) VALUES (?1, ?2)")?
        .execute(params![seq, message.raw])?;
    // Removal from the index is the `messages_removed` trigger's, so every delete path keeps it.
    // On the writer's connection the index row waits in memory (`index_deferred`); a
    // connection without the waiting table (a test's own) indexes at once.
    match conn.prepare_cached(
        "INSERT OR REPLACE INTO temp.fts_pending (seq, id, subject, from_header, body)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    ) {
        Ok(mut deferred) => deferred.execute(params![
            seq,
            message.id.to_string(),
            message.subject,
            message.from,
            message.search_text
        ])?,
        Err(_) => conn
            .prepare_cached(
                "INSERT INTO messages_fts (rowid, subject, from_header, body) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![seq, message.subject, message.from, message.search_text])?,
    };
    Ok(())
}

/// Readies the writer's connection to index new mail once per group commit: a temporary table
/// of index rows waiting for it, which forgets a row whose message is removed meanwhile.
pub fn defer_indexing(conn: &Connection) -> StoreResult<()> {
    conn.execute_batch(
        "PRAGMA temp_store = MEMORY;
         CREATE TEMP TABLE fts_pending (
             seq INTEGER PRIMARY KEY, id TEXT NOT NULL, subject TEXT, from_header TEXT, body TEXT
         );
         CREATE TEMP TRIGGER fts_pending_removed AFTER DELETE ON main.messages BEGIN
             DELETE FROM fts_pending WHERE seq = old.seq;
         END;",
    )?;
    Ok(())
}

/// Moves the waiting index rows into the search index, outside any job's savepoint. FTS5
/// writes its pending terms out at every savepoint and every commit, so the writer lets new
/// mail's rows gather over many commits (see `writer_loop`) and moves them in one go: a
/// commit that stores mail writes no index pages, and the index gets few large segments.
pub fn index_deferred(conn: &Connection) -> rusqlite::Result<()> {
    // Joined on the id too: a row whose message another process (the operator's commands)
    // deleted, its seq maybe taken by a newer message since, is left out.
    conn.prepare_cached(
        "INSERT INTO messages_fts (rowid, subject, from_header, body)
         SELECT p.seq, p.subject, p.from_header, p.body
         FROM temp.fts_pending p JOIN main.messages m ON m.seq = p.seq AND m.id = p.id
         ORDER BY p.seq",
    )?
    .execute([])?;
    conn.prepare_cached("DELETE FROM temp.fts_pending")?.execute([])?;
    Ok(())
}

/// Notes in the database whether index rows wait in memory, in the transaction that makes it
/// so: rows lost with the process are then made again at the next start (`index_missed`),
/// whatever became of the write-ahead log meanwhile.
pub fn note_index_waiting(conn: &Connection, waiting: bool) -> rusqlite::Result<()> {
    if waiting {
        conn.prepare_cached("INSERT OR REPLACE INTO settings (key, value) VALUES ('index_waiting', x'01')")?
            .execute([])?;
    } else {
        conn.prepare_cached("DELETE FROM settings WHERE key = 'index_waiting'")?
            .execute([])?;
    }
    Ok(())
}

/// Whether the last process left index rows waiting (`note_index_waiting`).
pub fn index_was_waiting(conn: &Connection) -> StoreResult<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM settings WHERE key = 'index_waiting'")?
        .exists([])?)
}

/// How many stored messages wait to be moved into the search index (`index_deferred`).
pub fn waiting_for_index(conn: &Connection) -> rusqlite::Result<usize> {
    conn.prepare_cached("SELECT COUNT(*) FROM temp.fts_pending")?
        .query_row([], |r| r.get::<_, i64>(0))
        .map(|n| n as usize)
}

/// Indexes the messages the search index lacks: those whose index rows were still waiting in
/// memory when the process died. `text_of` gives a message's searchable text from its raw
/// bytes. Returns how many there were.
pub fn index_missed(conn: &Connection, text_of: impl Fn(&[u8]) -> String) -> StoreResult<usize> {
    let tx = conn.unchecked_transaction()?;
    let missed: Vec<(i64, String, String)> = tx
        .prepare(
            "SELECT seq, subject, from_header FROM messages
             WHERE seq NOT IN (SELECT rowid FROM messages_fts)",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    for (seq, subject, from) in &missed {
        let raw: Vec<u8> = tx
            .prepare_cached("SELECT raw FROM message_contents WHERE seq = ?1")?
            .query_row([seq], |r| r.get(0))
            .optional()?
            .unwrap_or_default();
        tx.prepare_cached(
            "INSERT INTO messages_fts (rowid, subject, from_header, body) VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![seq, subject, from, text_of(&raw)])?;
    }
    tx.commit()?;
    Ok(missed.len())
}

const SUMMARY_COLUMNS: &str = "id, sender, from_header, subject, preview_text, size, created_at, is_read";

fn summary(row: &Row<'_>) -> rusqlite::Result<MessageSummary> {
    let id: String = row.get(0)?;
    Ok(MessageSummary {
        id: Uuid::parse_str(&id).unwrap_or_default(),
        sender: row.get(1)?,
        from: row.get(2)?,
        subject: row.get(3)?,
        preview_text: row.get(4)?,
        size: row.get::<_, i64>(5)? as u64,
        created_at: timestamp(row.get(6)?),
        is_read: row.get(7)?,
    })
}

/// The query behind `page`: a mailbox's messages, newest first, read from `messages_by_account`.
fn page_sql() -> String {
    format!(
        "SELECT {SUMMARY_COLUMNS} FROM messages
         WHERE account_id = ?1 AND (expires_at IS NULL OR expires_at > ?2)
         ORDER BY seq DESC LIMIT ?3 OFFSET ?4"
    )
}

/// Page `page` (from 1) of a mailbox's live messages, newest first.
pub fn page(conn: &Connection, account_id: Uuid, page: u32, now: i64) -> StoreResult<Vec<MessageSummary>> {
    let sql = page_sql();
    let offset = i64::from(page.saturating_sub(1)) * i64::from(PAGE_SIZE);
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params![account_id.to_string(), now, PAGE_SIZE, offset], summary)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Page `page` (from 1) of a mailbox's live messages that match the FTS5 expression `matching`
/// (made by `search_expression`), newest first.
pub fn search(
    conn: &Connection,
    account_id: Uuid,
    matching: &str,
    page: u32,
    now: i64,
) -> StoreResult<Vec<MessageSummary>> {
    let sql = format!(
        "SELECT {SUMMARY_COLUMNS} FROM messages
         WHERE seq IN (SELECT rowid FROM messages_fts WHERE messages_fts MATCH ?5)
           AND account_id = ?1 AND (expires_at IS NULL OR expires_at > ?2)
         ORDER BY seq DESC LIMIT ?3 OFFSET ?4"
    );
    let offset = i64::from(page.saturating_sub(1)) * i64::from(PAGE_SIZE);
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(
        params![account_id.to_string(), now, PAGE_SIZE, offset, matching],
        summary,
    )?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The FTS5 expression for a user's search text: every word must match, the last as a prefix;
/// `None` when the text has no word to look for. Only letters and digits reach the expression,
/// each word inside double quotes, so quotes, operators (`OR`, `NEAR(`, `-`, `:`) and `*` in the
/// text are never syntax. A word joined by punctuation (`alice@example.com`) is a phrase of its
/// pieces, as the index splits it.
pub fn search_expression(text: &str) -> Option<String> {
    let phrases: Vec<String> = text
        .split_whitespace()
        .map(|word| {
            word.split(|c: char| !c.is_alphanumeric())
                .filter(|piece| !piece.is_empty())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .filter(|phrase| !phrase.is_empty())
        .map(|phrase| format!("\"{phrase}\""))
        .collect();
    if phrases.is_empty() {
        return None;
    }
    Some(format!("{}*", phrases.join(" ")))
}

/// Finds a mailbox's message row: `(seq, expired)`, or whether it expired and was swept.
fn locate(conn: &Connection, account_id: Uuid, id: Uuid, now: i64) -> StoreResult<Lookup<i64>> {
    let (account, id) = (account_id.to_string(), id.to_string());
    let row: Option<(i64, Option<i64>)> = conn
        .prepare_cached("SELECT seq, expires_at FROM messages WHERE id = ?1 AND account_id = ?2")?
        .query_row([&id, &account], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    Ok(match row {
        Some((_, Some(expires_at))) if expires_at <= now => Lookup::Expired,
        Some((seq, _)) => Lookup::Found(seq),
        None => {
            let expired = conn
                .prepare_cached("SELECT 1 FROM expired_messages WHERE id = ?1 AND account_id = ?2")?
                .exists([&id, &account])?;
            if expired { Lookup::Expired } else { Lookup::Missing }
        }
    })
}

/// A mailbox's message: its summary and raw bytes.
pub fn get(conn: &Connection, account_id: Uuid, id: Uuid, now: i64) -> StoreResult<Lookup<Full>> {
    let sql = format!(
        "SELECT {SUMMARY_COLUMNS}, c.raw, m.address
         FROM messages m JOIN message_contents c ON c.seq = m.seq WHERE m.seq = ?1"
    );
    locate(conn, account_id, id, now)?.and_then(|seq| {
        let full = conn
            .prepare_cached(&sql)?
            .query_row([seq], |row| {
                Ok(Full {
                    summary: summary(row)?,
                    raw: row.get(8)?,
                    address: row.get(9)?,
                })
            })
            .optional()?;
        Ok(full)
    })
}

/// Where a mailbox's message's raw bytes are, to read in pieces: `(seq, size)`.
pub fn raw_location(
    conn: &Connection,
    account_id: Uuid,
    id: Uuid,
    now: i64,
) -> StoreResult<Lookup<(i64, u64)>> {
    locate(conn, account_id, id, now)?.and_then(|seq| {
        let sql = "SELECT size FROM messages WHERE seq = ?1";
        let size: Option<i64> = conn
            .prepare_cached(sql)?
            .query_row([seq], |r| r.get(0))
            .optional()?;
        Ok(size.map(|size| (seq, size as u64)))
    })
}

/// Bytes `range` of message `id`'s raw bytes stored under `seq`, read without loading the rest;
/// `None` once the message is gone (its `seq` may then name another message: checked in the same
/// transaction as the read).
pub fn raw_piece(conn: &Connection, seq: i64, id: Uuid, range: Range<usize>) -> StoreResult<Option<Vec<u8>>> {
    super::blob_piece(conn, "messages", "message_contents", seq, id, range)
}

/// The exact bytes received for a mailbox's message.
pub fn raw(conn: &Connection, account_id: Uuid, id: Uuid, now: i64) -> StoreResult<Lookup<Vec<u8>>> {
    locate(conn, account_id, id, now)?.and_then(|seq| {
        let sql = "SELECT raw FROM message_contents WHERE seq = ?1";
        Ok(conn
            .prepare_cached(sql)?
            .query_row([seq], |r| r.get(0))
            .optional()?)
    })
}

/// Deletes a mailbox's message and gives its size back to the quota.
pub fn delete(conn: &Connection, account_id: Uuid, id: Uuid, now: i64) -> StoreResult<Lookup<()>> {
    locate(conn, account_id, id, now)?.and_then(|seq| remove(conn, seq).map(Some))
}

/// Marks a mailbox's message read.
pub fn mark_read(conn: &Connection, account_id: Uuid, id: Uuid, now: i64) -> StoreResult<Lookup<()>> {
    locate(conn, account_id, id, now)?.and_then(|seq| {
        conn.prepare_cached("UPDATE messages SET is_read = 1 WHERE seq = ?1")?
            .execute([seq])?;
        Ok(Some(()))
    })
}

/// Removes one message row (its contents cascade) and lowers its mailbox's `used`.
fn remove(conn: &Connection, seq: i64) -> StoreResult<()> {
    conn.prepare_cached(
        "UPDATE accounts SET used = MAX(0, used - (SELECT size FROM messages WHERE seq = ?1))
         WHERE id = (SELECT account_id FROM messages WHERE seq = ?1)",
    )?
    .execute([seq])?;
    conn.prepare_cached("DELETE FROM messages WHERE seq = ?1")?
        .execute([seq])?;
    Ok(())
}

/// Removes up to `limit` of a mailbox's messages and remembered expired ids; true while more
/// may be left.
pub fn delete_some_of(conn: &Connection, account_id: Uuid, limit: u32) -> StoreResult<bool> {
    let account = account_id.to_string();
    let seqs: Vec<i64> = conn
        .prepare_cached("SELECT seq FROM messages WHERE account_id = ?1 LIMIT ?2")?
        .query_map(params![account, limit], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for seq in &seqs {
        remove(conn, *seq)?;
    }
    let forgotten = conn
        .prepare_cached(
            "DELETE FROM expired_messages WHERE rowid IN
             (SELECT rowid FROM expired_messages WHERE account_id = ?1 LIMIT ?2)",
        )?
        .execute(params![account, limit])?;
    Ok(seqs.len() as u32 == limit || forgotten as u32 == limit)
}

/// When the next message falls due for removal (Unix seconds), if any has an expiry.
pub fn next_expiry(conn: &Connection) -> StoreResult<Option<i64>> {
    let sql = "SELECT MIN(expires_at) FROM messages WHERE expires_at IS NOT NULL";
    Ok(conn.prepare_cached(sql)?.query_row([], |r| r.get(0))?)
}

/// Removes up to `limit` messages whose retention ran out, remembering their ids; returns how many.
pub fn sweep_expired(conn: &Connection, now: i64, limit: u32) -> StoreResult<usize> {
    let expired: Vec<(i64, String, String)> = conn
        .prepare_cached(
            "SELECT seq, id, account_id FROM messages
             WHERE expires_at IS NOT NULL AND expires_at <= ?1 ORDER BY expires_at LIMIT ?2",
        )?
        .query_map(params![now, limit], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    for (seq, id, account_id) in &expired {
        conn.prepare_cached(
            "INSERT OR IGNORE INTO expired_messages (id, account_id, expired_at) VALUES (?1, ?2, ?3)",
        )?
        .execute(params![id, account_id, now])?;
        remove(conn, *seq)?;
    }
    conn.prepare_cached("DELETE FROM expired_messages WHERE expired_at < ?1")?
        .execute([now - EXPIRED_MEMORY_SECS])?;
    Ok(expired.len())
}

#[cfg(test)]
mod tests {
    use super::super::StoreError;
    use super::*;

    #[test]
    fn search_text_becomes_quoted_phrases_with_only_the_last_a_prefix() {
        let expression = |text: &str| search_expression(text);
        assert_eq!(expression("Verify"), Some("\"Verify\"*".into()));
        assert_eq!(expression(" your  code "), Some("\"your\" \"code\"*".into()));
        assert_eq!(expression("ann@example.org"), Some("\"ann example org\"*".into()));
        assert_eq!(expression("a OR b"), Some("\"a\" \"OR\" \"b\"*".into()));
        assert_eq!(expression("NEAR(x y)"), Some("\"NEAR x\" \"y\"*".into()));
        assert_eq!(
            expression("\"quoted\" *star*"),
            Some("\"quoted\" \"star\"*".into())
        );
        assert_eq!(expression("naïve ünï"), Some("\"naïve\" \"ünï\"*".into()));
        for nothing in ["", "   ", "\"", "*", "-", "()", "\"\" * ^ :"] {
            assert_eq!(expression(nothing), None, "{nothing:?}");
        }
    }

    /// A stored message with this subject for `account`, delivered through the store's writer.
    fn message(account: Uuid, subject: &'static str) -> impl FnOnce(&Connection) -> StoreResult<()> {
        move |conn| {
            let copy = NewMessage {
                id: Uuid::now_v7(),
                account_id: account,
                address: "fts@mail.cx",
                sender: "s@example.org",
                from: "s@example.org",
                subject,
                preview_text: "",
                search_text: "",
                raw: b"Subject: x\r\n\r\nbody\r\n",
                created_at: 1,
                expires_at: None,
            };
            assert_eq!(deliver_all(conn, &[copy])?.0, [Delivery::Stored]);
            Ok(())
        }
    }

    #[tokio::test]
    async fn mail_is_found_once_committed_and_only_mail_that_stayed() {
        let dir = tempfile::tempdir().unwrap();
        let store = super::super::Store::open(&dir.path().join("store.db")).unwrap();
        let account = Uuid::new_v4();
        store
            .write(move |conn| {
                let new = super::super::accounts::NewAccount {
                    id: account,
                    address: "fts@mail.cx",
                    password_hash: "x",
                    quota: 1 << 30,
                    created_at: 1,
                    owner_id: None,
                    domain_id: None,
                };
                super::super::accounts::insert(conn, &new).map(|_| ())
            })
            .await
            .unwrap();
        let found = |word: &'static str| {
            let store = store.clone();
            async move {
                // What a search does first: the index lags behind commits.
                store.index_waiting_mail().await.unwrap();
                let matching = search_expression(word).unwrap();
                let page = store
                    .read(move |conn| search(conn, account, &matching, 1, 0))
                    .await
                    .unwrap();
                page.into_iter().map(|m| m.subject).collect::<Vec<_>>()
            }
        };
        // Several writes at once share a group: each is found after its own commit.
        let writes: Vec<_> = ["alpha", "bravo", "charlie", "delta"]
            .into_iter()
            .map(|subject| {
                let store = store.clone();
                tokio::spawn(async move { store.write(message(account, subject)).await })
            })
            .collect();
        for write in writes {
            write.await.unwrap().unwrap();
        }
        for word in ["alpha", "bravo", "charlie", "delta"] {
            assert_eq!(found(word).await, [word]);
        }
        // A job that fails after storing rolls its index row back with it.
        let failed = store
            .write(move |conn| {
                message(account, "echo")(conn)?;
                Err::<(), _>(StoreError::Conflict)
            })
            .await;
        assert!(failed.is_err());
        // A message removed in the job that stored it leaves no index row, even once a later
        // message takes its seq.
        store
            .write(move |conn| {
                message(account, "foxtrot")(conn)?;
                let seq = conn.query_row("SELECT seq FROM messages WHERE subject = 'foxtrot'", [], |r| {
                    r.get(0)
                })?;
                remove(conn, seq)
            })
            .await
            .unwrap();
        store.write(message(account, "golf")).await.unwrap();
        assert!(found("echo").await.is_empty());
        assert!(found("foxtrot").await.is_empty());
        assert_eq!(found("golf").await, ["golf"]);
        store.close();
    }

    #[test]
    fn a_page_walks_its_mailboxs_index_backwards_without_sorting() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = Connection::open(dir.path().join("plan.db")).unwrap();
        super::super::migrations::run(&mut conn, &dir.path().join("plan.db")).unwrap();
        let plan: Vec<String> = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {}", page_sql()))
            .unwrap()
            .query_map(params!["a", 0, PAGE_SIZE, 0], |r| r.get(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            plan,
            ["SEARCH messages USING INDEX messages_by_account (account_id=?)"]
        );
        // New mail goes at the end of its mailbox's entries (migration 8).
        let descending: Vec<bool> = conn
            .prepare("SELECT desc FROM pragma_index_xinfo('messages_by_account') WHERE key")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(descending, [false, false]);
    }

    #[test]
    fn every_expression_is_valid_fts5() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE VIRTUAL TABLE t USING fts5(a, content = '', contentless_delete = 1)")
            .unwrap();
        for text in [
            "\"", "a\"b", "NEAR(", "OR", "x AND", "col:x", "{a b}: c", "^x", "x + y", "😀 x",
        ] {
            if let Some(expression) = search_expression(text) {
                conn.query_row("SELECT COUNT(*) FROM t WHERE t MATCH ?1", [&expression], |r| {
                    r.get::<_, i64>(0)
                })
                .unwrap_or_else(|e| panic!("{text:?} → {expression:?}: {e}"));
            }
        }
    }
}
