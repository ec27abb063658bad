//! Attacks: MIME trees built to crash or bloat the parser. Each message is stored (raw bytes
//! intact, best-effort fields), the server keeps serving, and what is stored is what `used` counts.

use mailcx_tests::mail::deliver;
use mailcx_tests::{TestServer, expect_json};
use reqwest::StatusCode;
use rusqlite::Connection;

const SENDER: &str = "attacker@evil.example";

/// A message of `levels` nested `message/rfc822` parts (~31 bytes a level).
fn nested_message(levels: usize) -> Vec<u8> {
    let mut raw = b"From: deep@evil.example\r\nSubject: deep\r\n".to_vec();
    for _ in 0..levels {
        raw.extend_from_slice(b"Content-Type: message/rfc822\r\n\r\n");
    }
    raw.extend_from_slice(b"Subject: inner\r\n\r\nhello\r\n");
    raw
}

/// A multipart message of `parts` tiny attachments (~43 bytes a part).
fn many_parts(parts: usize) -> Vec<u8> {
    let mut raw =
        b"From: parts@evil.example\r\nSubject: parts\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
            .to_vec();
    for _ in 0..parts {
        raw.extend_from_slice(b"--b\r\nContent-Disposition: attachment\r\n\r\nx\r\n");
    }
    raw.extend_from_slice(b"--b--\r\n");
    raw
}

/// Delivers `raw` to a new mailbox and checks that it is listed, readable and served byte-exact,
/// that `used` is its size and that the database grew by about that much, not by a parsed copy.
async fn survives(raw: &[u8], subject: &str) {
    let server = TestServer::start_with(|config| config.max_message_size = 12 << 20).await;
    let (account, client) = server.create_mailbox("victim").await;
    let db_bytes = || {
        let conn = Connection::open(server.db_path()).unwrap();
        let pages: i64 = conn.query_row("PRAGMA page_count", [], |r| r.get(0)).unwrap();
        let free: i64 = conn.query_row("PRAGMA freelist_count", [], |r| r.get(0)).unwrap();
        let size: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0)).unwrap();
        (pages - free) * size
    };
    let before = db_bytes();
    deliver(server.smtp_addr(), SENDER, &[&account.address], raw).await;

    let list = client.messages(1).await.expect("the list");
    assert_eq!(list.messages.len(), 1);
    let summary = &list.messages[0];
    assert_eq!(summary.subject, subject);
    assert_eq!(summary.size, raw.len() as u64);
    let path = format!("/api/messages/{}", summary.id);
    let full = expect_json(server.get(&path, Some(&account.token)).await, StatusCode::OK).await;
    assert!(
        full["attachments"].as_array().unwrap().len() <= 500,
        "the attachment list is capped"
    );
    let source = server.get(&format!("{path}/source"), Some(&account.token)).await;
    assert_eq!(source.status(), StatusCode::OK);
    assert!(source.bytes().await.unwrap() == raw, "source is byte-exact");
    assert_eq!(client.me().await.unwrap().used, raw.len() as u64);
    let grown = db_bytes() - before;
    assert!(
        grown < raw.len() as i64 * 11 / 10 + 64 * 1024,
        "{} bytes of mail grew the database by {grown} bytes",
        raw.len()
    );
    // Still alive for everyone else.
    server.create_mailbox("bystander").await;
}

#[tokio::test]
async fn forty_thousand_nested_messages_do_not_crash_the_server() {
    let raw = nested_message(40_000);
    assert!(raw.len() > 1_000_000);
    survives(&raw, "deep").await;
}

#[tokio::test]
async fn two_hundred_twenty_thousand_tiny_parts_store_no_more_than_the_message() {
    let raw = many_parts(220_000);
    assert!(raw.len() > 9_000_000);
    survives(&raw, "parts").await;
}
