//! Numbered schema migrations, tracked in `PRAGMA user_version`.

use std::path::Path;

use rusqlite::Connection;

use super::{StoreError, StoreResult, classify_open_error};

/// Migration N (1-based) is `MIGRATIONS[N - 1]`. Append only; never edit a released one.
const MIGRATIONS: &[&str] = &[
    // 1: settings and accounts.
    "CREATE TABLE settings (
        key   TEXT PRIMARY KEY,
        value BLOB NOT NULL
    ) STRICT;
    CREATE TABLE accounts (
        id            TEXT PRIMARY KEY,
        address       TEXT NOT NULL UNIQUE COLLATE NOCASE,
        password_hash TEXT NOT NULL,
        role          TEXT NOT NULL DEFAULT 'user',
        quota         INTEGER NOT NULL,
        used          INTEGER NOT NULL DEFAULT 0,
        token_version INTEGER NOT NULL DEFAULT 0,
        created_at    INTEGER NOT NULL
    ) STRICT;",
    // 2: messages. Summary columns stay small so list pages never touch bodies or raw bytes;
    // `seq` orders by arrival; expired ids are remembered for a while to answer 410.
    "CREATE TABLE messages (
        seq          INTEGER PRIMARY KEY,
        id           TEXT NOT NULL UNIQUE,
        account_id   TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        sender       TEXT NOT NULL,
        from_header  TEXT NOT NULL,
        subject      TEXT NOT NULL,
        preview_text TEXT NOT NULL,
        size         INTEGER NOT NULL,
        is_read      INTEGER NOT NULL DEFAULT 0,
        created_at   INTEGER NOT NULL,
        expires_at   INTEGER
    ) STRICT;
    CREATE INDEX messages_by_account ON messages(account_id, seq DESC);
    CREATE INDEX messages_by_expiry ON messages(expires_at) WHERE expires_at IS NOT NULL;
    CREATE TABLE message_contents (
        seq         INTEGER PRIMARY KEY REFERENCES messages(seq) ON DELETE CASCADE,
        raw         BLOB NOT NULL,
        text_body   TEXT,
        html_body   TEXT,
        attachments TEXT NOT NULL
    ) STRICT;
    CREATE TABLE expired_messages (
        id         TEXT PRIMARY KEY,
        account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        expired_at INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX expired_messages_by_account ON expired_messages(account_id);
    CREATE INDEX expired_messages_by_time ON expired_messages(expired_at);",
    // 3: only the raw bytes are stored. Bodies and attachment lists are parsed when read, so
    // what a message stores is what its mailbox's `used` counts, whatever its MIME tree holds.
    "ALTER TABLE message_contents DROP COLUMN text_body;
    ALTER TABLE message_contents DROP COLUMN html_body;
    ALTER TABLE message_contents DROP COLUMN attachments;",
    // 4: Pro users with their API tokens (stored as SHA-256 hashes), custom domains, one webhook
    // each with an outbox of events and a log of delivery attempts; mailboxes may belong to a
    // Pro user and live on one of their domains.
    "CREATE TABLE pro_users (
        id            TEXT PRIMARY KEY,
        email         TEXT NOT NULL UNIQUE COLLATE NOCASE,
        password_hash TEXT NOT NULL,
        token_version INTEGER NOT NULL DEFAULT 0,
        max_mailboxes INTEGER NOT NULL,
        max_domains   INTEGER NOT NULL,
        max_tokens    INTEGER NOT NULL,
        created_at    INTEGER NOT NULL
    ) STRICT;
    CREATE TABLE pro_tokens (
        id           TEXT PRIMARY KEY,
        user_id      TEXT NOT NULL REFERENCES pro_users(id) ON DELETE CASCADE,
        name         TEXT NOT NULL,
        hash         BLOB NOT NULL UNIQUE,
        last_used_at INTEGER,
        created_at   INTEGER NOT NULL,
        revoked_at   INTEGER
    ) STRICT;
    CREATE INDEX pro_tokens_by_user ON pro_tokens(user_id, created_at);
    CREATE TABLE domains (
        id            TEXT PRIMARY KEY,
        user_id       TEXT NOT NULL REFERENCES pro_users(id) ON DELETE CASCADE,
        domain        TEXT NOT NULL UNIQUE COLLATE NOCASE,
        verify_token  TEXT NOT NULL,
        verified_at   INTEGER,
        mx_configured INTEGER NOT NULL DEFAULT 0,
        created_at    INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX domains_by_user ON domains(user_id, created_at);
    ALTER TABLE accounts ADD COLUMN owner_id TEXT REFERENCES pro_users(id);
    ALTER TABLE accounts ADD COLUMN domain_id TEXT REFERENCES domains(id);
    CREATE INDEX accounts_by_owner ON accounts(owner_id, created_at) WHERE owner_id IS NOT NULL;
    CREATE INDEX accounts_by_domain ON accounts(domain_id) WHERE domain_id IS NOT NULL;
    CREATE TABLE webhooks (
        id                TEXT PRIMARY KEY,
        user_id           TEXT NOT NULL UNIQUE REFERENCES pro_users(id) ON DELETE CASCADE,
        url               TEXT NOT NULL,
        events            TEXT NOT NULL,
        secret            TEXT NOT NULL,
        status            TEXT NOT NULL DEFAULT 'active',
        failure_count     INTEGER NOT NULL DEFAULT 0,
        last_triggered_at INTEGER,
        created_at        INTEGER NOT NULL
    ) STRICT;
    CREATE TABLE webhook_events (
        seq             INTEGER PRIMARY KEY,
        id              TEXT NOT NULL UNIQUE,
        webhook_id      TEXT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
        event_type      TEXT NOT NULL,
        body            TEXT NOT NULL,
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER,
        delivered_at    INTEGER,
        created_at      INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX webhook_events_due ON webhook_events(next_attempt_at) WHERE next_attempt_at IS NOT NULL;
    CREATE INDEX webhook_events_by_webhook ON webhook_events(webhook_id);
    CREATE TABLE webhook_deliveries (
        seq         INTEGER PRIMARY KEY,
        id          TEXT NOT NULL UNIQUE,
        webhook_id  TEXT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
        event_id    TEXT NOT NULL,
        event_type  TEXT NOT NULL,
        status_code INTEGER,
        error       TEXT,
        attempt     INTEGER NOT NULL,
        duration_ms INTEGER NOT NULL,
        created_at  INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries(webhook_id, seq);",
    // 5: the recipient address as written (plus-addressing; NULL on older rows means the
    // mailbox's own address), exact per-mailbox counts kept by triggers on every path that adds,
    // removes or reads mail (cascades included), and a full-text index of subject, From and the
    // first of the text. The index is contentless: the text lives only in the index, never as a
    // second copy of the body. Older mail is indexed by its subject, From and preview.
    "ALTER TABLE messages ADD COLUMN address TEXT;
    ALTER TABLE accounts ADD COLUMN message_count INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE accounts ADD COLUMN unread_count INTEGER NOT NULL DEFAULT 0;
    UPDATE accounts SET
        message_count = (SELECT COUNT(*) FROM messages m WHERE m.account_id = accounts.id),
        unread_count = (SELECT COUNT(*) FROM messages m WHERE m.account_id = accounts.id AND m.is_read = 0);
    CREATE VIRTUAL TABLE messages_fts USING fts5(
        subject, from_header, body,
        content = '', contentless_delete = 1, tokenize = 'unicode61 remove_diacritics 2'
    );
    INSERT INTO messages_fts (rowid, subject, from_header, body)
        SELECT seq, subject, from_header, preview_text FROM messages;
    CREATE TRIGGER messages_added AFTER INSERT ON messages BEGIN
        UPDATE accounts SET message_count = message_count + 1,
            unread_count = unread_count + (new.is_read = 0)
        WHERE id = new.account_id;
    END;
    CREATE TRIGGER messages_removed AFTER DELETE ON messages BEGIN
        UPDATE accounts SET message_count = message_count - 1,
            unread_count = unread_count - (old.is_read = 0)
        WHERE id = old.account_id;
        DELETE FROM messages_fts WHERE rowid = old.seq;
    END;
    CREATE TRIGGER messages_read AFTER UPDATE OF is_read ON messages
    WHEN old.is_read <> new.is_read BEGIN
        UPDATE accounts SET unread_count = unread_count + old.is_read - new.is_read
        WHERE id = new.account_id;
    END;",
    // 6: open inboxes (`/v1`): mail to an address on an open domain that has no mailbox. Kept
    // apart from mailboxes' mail so it can never be read through `/api`, nor theirs through
    // `/v1`. Only the raw bytes are stored, like messages. AUTOINCREMENT: `seq` is the long
    // poll's cursor, so a deleted newest row's number must never come back. `used` per address
    // is kept by triggers; swept ids are remembered for a while to answer 410.
    "CREATE TABLE open_messages (
        seq          INTEGER PRIMARY KEY AUTOINCREMENT,
        id           TEXT NOT NULL UNIQUE,
        address      TEXT NOT NULL,
        sender       TEXT NOT NULL,
        from_header  TEXT NOT NULL,
        subject      TEXT NOT NULL,
        preview_text TEXT NOT NULL,
        size         INTEGER NOT NULL,
        created_at   INTEGER NOT NULL,
        expires_at   INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX open_messages_by_address ON open_messages(address, seq);
    CREATE INDEX open_messages_by_expiry ON open_messages(expires_at);
    CREATE TABLE open_contents (
        seq INTEGER PRIMARY KEY REFERENCES open_messages(seq) ON DELETE CASCADE,
        raw BLOB NOT NULL
    ) STRICT;
    CREATE TABLE open_inboxes (
        address TEXT PRIMARY KEY,
        used    INTEGER NOT NULL
    ) STRICT;
    CREATE TABLE open_expired (
        id         TEXT PRIMARY KEY,
        expired_at INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX open_expired_by_time ON open_expired(expired_at);
    CREATE TRIGGER open_added AFTER INSERT ON open_messages BEGIN
        INSERT INTO open_inboxes (address, used) VALUES (new.address, new.size)
            ON CONFLICT (address) DO UPDATE SET used = used + new.size;
    END;
    CREATE TRIGGER open_removed AFTER DELETE ON open_messages BEGIN
        UPDATE open_inboxes SET used = used - old.size WHERE address = old.address;
        DELETE FROM open_inboxes WHERE address = old.address AND used <= 0;
    END;",
    // 7: a fresh webhook event is a short row (which message, which webhook) with no index,
    // written with its mail; its body is made from the message at the first attempt. Only an
    // event that has to be tried again is written out in full, in `webhook_events`. The full row
    // and its three index entries cost storing mail a third of its rate; this costs it little.
    // AUTOINCREMENT: the worker reads on from the last seq it started, so an emptied outbox
    // must never hand out a number again. The delivery log loses its unique index on ids,
    // which nothing looks up.
    "CREATE TABLE webhook_outbox (
        seq        INTEGER PRIMARY KEY AUTOINCREMENT,
        webhook_id TEXT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
        message_id TEXT NOT NULL
    ) STRICT;
    CREATE TABLE webhook_deliveries_new (
        seq         INTEGER PRIMARY KEY,
        id          TEXT NOT NULL,
        webhook_id  TEXT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
        event_id    TEXT NOT NULL,
        event_type  TEXT NOT NULL,
        status_code INTEGER,
        error       TEXT,
        attempt     INTEGER NOT NULL,
        duration_ms INTEGER NOT NULL,
        created_at  INTEGER NOT NULL
    ) STRICT;
    INSERT INTO webhook_deliveries_new SELECT seq, id, webhook_id, event_id, event_type,
        status_code, error, attempt, duration_ms, created_at FROM webhook_deliveries;
    DROP TABLE webhook_deliveries;
    ALTER TABLE webhook_deliveries_new RENAME TO webhook_deliveries;
    CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries(webhook_id, seq);",
    // 8: a mailbox's mail indexed in arrival order. New mail now lands at the end of its
    // mailbox's entries instead of at their start. For the mailbox whose entries end the index
    // (the only one, on a server with one busy mailbox) SQLite then fills pages before splitting
    // them: 3.75 index pages went into each commit under load, now 2.3. Elsewhere it is the same
    // either way. Pages of newest first read the index backwards, as fast.
    "DROP INDEX messages_by_account;
    CREATE INDEX messages_by_account ON messages(account_id, seq);",
];

/// Brings the schema to the latest version; refuses a database from a newer build.
pub(super) fn run(conn: &mut Connection, path: &Path) -> StoreResult<()> {
    let known = MIGRATIONS.len() as i64;
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(|e| classify_open_error(path, e))?;
    let found: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found > known {
        return Err(StoreError::NewerSchema {
            path: path.to_path_buf(),
            found,
            known,
        });
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", index as i64 + 1)?;
    }
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mail_stored_with_parsed_bodies_keeps_its_raw_bytes_through_migration_3() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v2.db");
        let mut conn = Connection::open(&path).unwrap();
        // A database as the build with two migrations left it, with one message.
        let tx = conn.transaction().unwrap();
        for sql in &MIGRATIONS[..2] {
            tx.execute_batch(sql).unwrap();
        }
        tx.pragma_update(None, "user_version", 2).unwrap();
        tx.execute_batch(
            "INSERT INTO accounts (id, address, password_hash, quota, created_at) VALUES ('a', 'a@mail.cx', 'h', 10, 0);
             INSERT INTO messages (seq, id, account_id, sender, from_header, subject, preview_text, size, created_at)
                 VALUES (1, 'm', 'a', 's', 'f', 'subject', 'p', 3, 0);
             INSERT INTO message_contents (seq, raw, text_body, html_body, attachments) VALUES (1, x'616263', 't', NULL, '[]');",
        )
        .unwrap();
        tx.commit().unwrap();
        run(&mut conn, &path).unwrap();
        let raw: Vec<u8> = conn
            .query_row("SELECT raw FROM message_contents WHERE seq = 1", [], |r| r.get(0))
            .unwrap();
        assert_eq!(raw, b"abc");
        let columns: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM pragma_table_info('message_contents')",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(columns, 2, "seq and raw are left");
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
        assert_eq!(version, MIGRATIONS.len() as i64);
    }

    #[test]
    fn migration_5_counts_and_indexes_older_mail_and_its_triggers_keep_both_in_step() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v4.db");
        let mut conn = Connection::open(&path).unwrap();
        conn.execute_batch("PRAGMA foreign_keys=ON").unwrap();
        let tx = conn.transaction().unwrap();
        for sql in &MIGRATIONS[..4] {
            tx.execute_batch(sql).unwrap();
        }
        tx.pragma_update(None, "user_version", 4).unwrap();
        tx.execute_batch(
            "INSERT INTO accounts (id, address, password_hash, quota, created_at) VALUES ('a', 'a@mail.cx', 'h', 10, 0);
             INSERT INTO messages (seq, id, account_id, sender, from_header, subject, preview_text, size, is_read, created_at)
                 VALUES (1, 'm1', 'a', 's', 'Ann <ann@x.org>', 'Invoice', 'pay soon', 3, 0, 0),
                        (2, 'm2', 'a', 's', 'Bob <bob@x.org>', 'Lunch', 'noon', 3, 1, 0);",
        )
        .unwrap();
        tx.commit().unwrap();
        run(&mut conn, &path).unwrap();
        let counts = |conn: &Connection| -> (i64, i64) {
            conn.query_row(
                "SELECT message_count, unread_count FROM accounts WHERE id = 'a'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap()
        };
        let matches = |conn: &Connection, q: &str| -> i64 {
            conn.query_row(
                "SELECT COUNT(*) FROM messages_fts WHERE messages_fts MATCH ?1",
                [q],
                |r| r.get(0),
            )
            .unwrap()
        };
        assert_eq!(counts(&conn), (2, 1));
        assert_eq!(matches(&conn, "pay"), 1, "older mail is found by its preview");
        assert_eq!(matches(&conn, "bob"), 1);
        let address: Option<String> = conn
            .query_row("SELECT address FROM messages WHERE seq = 1", [], |r| r.get(0))
            .unwrap();
        assert_eq!(address, None, "older mail falls back to the mailbox's address");

        conn.execute("UPDATE messages SET is_read = 1 WHERE seq = 1", [])
            .unwrap();
        conn.execute("UPDATE messages SET is_read = 1 WHERE seq = 1", [])
            .unwrap();
        assert_eq!(counts(&conn), (2, 0));
        conn.execute("DELETE FROM messages WHERE seq = 1", []).unwrap();
        assert_eq!(counts(&conn), (1, 0));
        assert_eq!(matches(&conn, "invoice"), 0, "a deleted message leaves the index");
        // A mailbox's delete cascades to its mail, and the index follows.
        conn.execute("DELETE FROM accounts WHERE id = 'a'", []).unwrap();
        assert_eq!(matches(&conn, "bob"), 0);
        let left: i64 = conn
            .query_row("SELECT COUNT(*) FROM messages", [], |r| r.get(0))
            .unwrap();
        assert_eq!(left, 0);
    }
}
