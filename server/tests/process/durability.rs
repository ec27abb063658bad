//! "250 means stored": the real `mailcx-server` binary takes mail from concurrent senders and is
//! killed with SIGKILL in the middle of the stream; restarted on the same database file, it must
//! hold every message it acknowledged, each readable and byte-identical, with `used` matching.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mailcx_common::Client;

use crate::support::{PASSWORD, Smtp, credentials, data_payload, spawn_server, text_message};

const SENDERS: usize = 4;
/// Each sender stops after this many messages even if the kill never came.
const MAX_PER_SENDER: usize = 400;
/// The server is killed once this many messages were acknowledged in all.
const KILL_AFTER: usize = 80;
const ADDRESS: &str = "durable@mail.cx";
const FROM: &str = "load@example.org";

/// What the senders did: every message they started (by subject) and the ones answered 250.
#[derive(Default)]
struct Ledger {
    attempted: HashMap<String, Vec<u8>>,
    acknowledged: Vec<String>,
}

/// Sends messages on one connection, pipelining MAIL, RCPT and DATA, until the connection dies
/// or `MAX_PER_SENDER` is reached.
async fn sender(id: usize, smtp_addr: SocketAddr, ledger: Arc<Mutex<Ledger>>, acked: Arc<AtomicUsize>) {
    let mut smtp = Smtp::open(smtp_addr).await;
    for n in 0..MAX_PER_SENDER {
        let subject = format!("durable {id}-{n:03}");
        // Sizes vary, and some lines start with a dot.
        let lines = 1 + (n * 37 + id * 11) % 120;
        let body = format!(".line {n}\n{}", "payload text, a line of it\n".repeat(lines));
        let message = text_message(FROM, ADDRESS, &subject, &body);
        ledger
            .lock()
            .unwrap()
            .attempted
            .insert(subject.clone(), message.clone());
        let commands = format!("MAIL FROM:<{FROM}>\r\nRCPT TO:<{ADDRESS}>\r\nDATA\r\n");
        if !smtp.try_write(commands.as_bytes()).await {
            return;
        }
        for expected in [250, 250, 354] {
            match smtp.try_reply().await {
                Some(code) => assert_eq!(code, expected, "{subject}"),
                None => return,
            }
        }
        if !smtp.try_write(&data_payload(&message)).await {
            return;
        }
        match smtp.try_reply().await {
            Some(code) => {
                assert_eq!(code, 250, "{subject}");
                ledger.lock().unwrap().acknowledged.push(subject);
                acked.fetch_add(1, Ordering::SeqCst);
            }
            None => return,
        }
    }
}

#[tokio::test]
async fn every_acknowledged_message_survives_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("mailcx.db");
    let mut server = spawn_server(&db, &[]).await;
    let client = Client::new(&format!("http://{}", server.http));
    let account = client
        .create_account(&credentials(ADDRESS, PASSWORD))
        .await
        .expect("a mailbox");

    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let acked = Arc::new(AtomicUsize::new(0));
    let senders: Vec<_> = (0..SENDERS)
        .map(|id| tokio::spawn(sender(id, server.smtp, ledger.clone(), acked.clone())))
        .collect();

    // Kill -9 in the middle of the stream.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while acked.load(Ordering::SeqCst) < KILL_AFTER {
        if senders.iter().all(|s| s.is_finished()) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {} messages acknowledged in time",
            acked.load(Ordering::SeqCst)
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(
        senders.iter().any(|s| !s.is_finished()),
        "every sender stopped before the kill"
    );
    server.child.start_kill().expect("SIGKILL");
    let status = tokio::time::timeout(Duration::from_secs(30), server.child.wait())
        .await
        .expect("the killed server did not exit")
        .unwrap();
    assert!(!status.success(), "killed, not exited: {status:?}");
    for sender in senders {
        tokio::time::timeout(Duration::from_secs(60), sender)
            .await
            .expect("a sender did not stop after the kill")
            .expect("a sender panicked");
    }
    let ledger = Arc::try_unwrap(ledger).ok().unwrap().into_inner().unwrap();
    assert!(
        ledger.acknowledged.len() < SENDERS * MAX_PER_SENDER,
        "the kill came after the senders were done"
    );

    // Restart on the same file; the old token still works (the secret is in the file).
    let server = spawn_server(&db, &[]).await;
    let client = Client::new(&format!("http://{}", server.http)).with_token(account.token.clone());
    let mut listed = Vec::new();
    for page in 1.. {
        let messages = client
            .messages(page)
            .await
            .expect("the list after restart")
            .messages;
        let last = messages.len() < 30;
        listed.extend(messages);
        if last {
            break;
        }
    }
    let subjects: HashSet<&str> = listed.iter().map(|m| m.subject.as_str()).collect();
    assert_eq!(subjects.len(), listed.len(), "a message is listed twice");
    let lost: Vec<&String> = ledger
        .acknowledged
        .iter()
        .filter(|s| !subjects.contains(s.as_str()))
        .collect();
    assert!(lost.is_empty(), "acknowledged with 250 but lost: {lost:?}");

    // The search finds every stored message too: index rows that were still waiting in memory
    // at the kill are made again at start.
    let mut found = 0;
    for page in 1.. {
        let hits = client
            .search_messages("payload", page)
            .await
            .expect("the search after restart")
            .messages;
        found += hits.len();
        if hits.len() < 30 {
            break;
        }
    }
    assert_eq!(found, listed.len(), "stored messages the search does not find");

    let mut total = 0;
    for entry in &listed {
        let sent = ledger
            .attempted
            .get(&entry.subject)
            .unwrap_or_else(|| panic!("a message nobody sent: {entry:?}"));
        assert_eq!(entry.size, sent.len() as u64, "{}", entry.subject);
        let full = client.message(entry.id).await.expect("the message opens");
        assert_eq!(full.subject, entry.subject);
        let source = client.source(entry.id).await.expect("the source downloads");
        assert!(!source.bytes.is_empty());
        assert_eq!(
            source.bytes, *sent,
            "{}: source differs from what was sent",
            entry.subject
        );
        total += entry.size;
    }
    assert_eq!(
        client.me().await.unwrap().used,
        total,
        "used is the sum of the stored sizes"
    );
    eprintln!(
        "durability: {} acknowledged, {} stored ({} committed without a 250 reaching the sender), {} attempted",
        ledger.acknowledged.len(),
        listed.len(),
        listed.len() - ledger.acknowledged.len(),
        ledger.attempted.len()
    );

    // The restarted server takes mail as usual.
    let after = text_message(FROM, ADDRESS, "after restart", "Still here");
    let mut smtp = Smtp::open(server.smtp).await;
    assert_eq!(smtp.transaction(FROM, ADDRESS, &after).await, Some(250));
    assert_eq!(
        client.messages(1).await.unwrap().messages[0].subject,
        "after restart"
    );
}
