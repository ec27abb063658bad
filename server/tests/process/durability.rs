//! "250 means stored": the real `mailcx-server` binary takes mail from concurrent senders and is
//! killed with SIGKILL in the middle of the stream; restarted on the same database file, it must
//! hold every message it acknowledged, each readable and byte-identical, with `used` matching.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mailcx_common::Client;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

use crate::support::{PASSWORD, SERVER_BINARY, Smtp, credentials, data_payload, text_message};

const SENDERS: usize = 4;
/// Each sender stops after this many messages even if the kill never came.
const MAX_PER_SENDER: usize = 400;
/// The server is killed once this many messages were acknowledged in all.
const KILL_AFTER: usize = 80;
const ADDRESS: &str = "durable@mail.cx";
const FROM: &str = "load@example.org";

/// A running `mailcx-server` child and the addresses it logged.
struct ServerProcess {
    child: Child,
    http: SocketAddr,
    smtp: SocketAddr,
}

fn forward_lines(output: impl AsyncRead + Unpin + Send + 'static, lines: mpsc::UnboundedSender<String>) {
    tokio::spawn(async move {
        let mut reader = BufReader::new(output).lines();
        while let Ok(Some(line)) = reader.next_line().await {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
}

/// The address that follows `mark` in `line`, if the line has it.
fn address_after(line: &str, mark: &str) -> Option<SocketAddr> {
    let rest = &line[line.find(mark)? + mark.len()..];
    let end = rest.find(|c: char| c.is_whitespace()).unwrap_or(rest.len());
    Some(
        rest[..end]
            .parse()
            .unwrap_or_else(|e| panic!("bad address in {line:?}: {e}")),
    )
}

/// Starts the binary on `db` with both listeners on free ports, and learns them from its log
/// (stdout or stderr).
async fn spawn_server(db: &Path) -> ServerProcess {
    let mut child = Command::new(SERVER_BINARY)
        .args(["--http-addr", "127.0.0.1:0", "--smtp-addr", "127.0.0.1:0", "--db"])
        .arg(db)
        .args(["--rate-limit", "0", "--accounts-per-hour", "0"])
        .env_clear()
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("mailcx-server starts");
    let (send, mut lines) = mpsc::unbounded_channel();
    forward_lines(child.stdout.take().unwrap(), send.clone());
    forward_lines(child.stderr.take().unwrap(), send);

    let (mut http, mut smtp) = (None, None);
    let mut seen = Vec::new();
    let found = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.recv().await {
            http = http.or_else(|| address_after(&line, "HTTP API listening on http://"));
            smtp = smtp.or_else(|| address_after(&line, "SMTP listening on "));
            seen.push(line);
            if http.is_some() && smtp.is_some() {
                return true;
            }
        }
        false
    })
    .await;
    assert!(
        matches!(found, Ok(true)),
        "the server did not log both addresses; it printed: {seen:#?}"
    );
    // Keep draining the log so the child never blocks on a full pipe.
    tokio::spawn(async move { while lines.recv().await.is_some() {} });
    ServerProcess {
        child,
        http: http.unwrap(),
        smtp: smtp.unwrap(),
    }
}

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
    let mut server = spawn_server(&db).await;
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
    let server = spawn_server(&db).await;
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
