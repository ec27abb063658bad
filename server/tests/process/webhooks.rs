//! "A 250 always leads to a delivery": with the webhook's receiver down, the real binary takes
//! mail for a Pro user's mailbox, is killed with SIGKILL, and is started again on the same file;
//! once the receiver comes up, every acknowledged message's event reaches it exactly once, signed
//! with the webhook's secret.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use tokio::process::Child;

use crate::binary::server_command;
use crate::support::{self, PASSWORD, Smtp, data_payload, text_message};

const OWNER: &str = "owner@example.com";
const ADDRESS: &str = "hooked@mail.cx";
const FROM: &str = "sender@example.org";
const MESSAGES: usize = 40;

/// The binary with webhooks allowed to reach the loopback receiver and retrying after 500 ms,
/// set through the environment's names for them, as an operator would.
async fn spawn_server(db: &Path) -> (Child, SocketAddr, SocketAddr) {
    let server = support::spawn_server(
        db,
        &[
            ("MAILCX_WEBHOOK_ALLOW_PRIVATE", "1"),
            ("MAILCX_WEBHOOK_BACKOFF", "500ms"),
        ],
    )
    .await;
    (server.child, server.http, server.smtp)
}

/// One POST the receiver got: its event id header, timestamp, signature and body.
#[derive(Debug, Clone)]
struct Hit {
    id: String,
    timestamp: String,
    signature: String,
    body: String,
}

async fn receive(State(hits): State<Arc<Mutex<Vec<Hit>>>>, headers: HeaderMap, body: String) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    hits.lock().unwrap().push(Hit {
        id: header("x-webhook-id"),
        timestamp: header("x-webhook-timestamp"),
        signature: header("x-webhook-signature"),
        body,
    });
    StatusCode::NO_CONTENT
}

/// `sha256=` and the lowercase hex HMAC-SHA256 of `timestamp.body` under `secret`.
fn expected_signature(secret: &str, timestamp: &str, body: &str) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{timestamp}.{body}").as_bytes());
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Adds the Pro user with the binary's own command, the password on stdin.
fn add_pro_user(db: &Path) {
    let mut child = server_command()
        .arg("--db")
        .arg(db)
        .args(["user", "add", OWNER])
        .stdin(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    writeln!(child.stdin.take().unwrap(), "{PASSWORD}").unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "user add failed: {output:?}");
}

#[tokio::test]
async fn every_acknowledged_message_reaches_the_webhook_once_across_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("mailcx.db");
    // A port for the receiver, which is not listening yet: every attempt is refused.
    let receiver_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    add_pro_user(&db);
    let (mut server, http, smtp) = spawn_server(&db).await;
    let client = reqwest::Client::new();
    let login = client
        .post(format!("http://{http}/pro/api/login"))
        .json(&json!({"email": OWNER, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    let jwt = login.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    // A Pro credential on POST /api/accounts makes the mailbox the Pro user's.
    let mailbox = client
        .post(format!("http://{http}/api/accounts"))
        .bearer_auth(&jwt)
        .json(&json!({"address": ADDRESS, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(mailbox.status(), 201);
    let hook: Value = client
        .post(format!("http://{http}/pro/api/webhooks"))
        .bearer_auth(&jwt)
        .json(&json!({"url": format!("http://127.0.0.1:{receiver_port}/hook"), "events": ["email.received"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let secret = hook["secret"].as_str().expect("a created webhook").to_string();

    // Mail arrives and is acknowledged while the receiver is down.
    let mut acknowledged = HashSet::new();
    let mut session = Smtp::open(smtp).await;
    for n in 0..MESSAGES {
        let message = text_message(FROM, ADDRESS, &format!("hooked {n}"), "For the webhook.");
        let commands = format!("MAIL FROM:<{FROM}>\r\nRCPT TO:<{ADDRESS}>\r\nDATA\r\n");
        assert!(session.try_write(commands.as_bytes()).await);
        for expected in [250, 250, 354] {
            assert_eq!(session.try_reply().await, Some(expected));
        }
        assert!(session.try_write(&data_payload(&message)).await);
        assert_eq!(session.try_reply().await, Some(250), "message {n}");
        acknowledged.insert(format!("hooked {n}"));
    }
    // Whatever was tried so far failed: nothing listens on the receiver's port.
    let path = format!(
        "http://{http}/pro/api/webhooks/{}/deliveries",
        hook["id"].as_str().unwrap()
    );
    let before: Value = client
        .get(&path)
        .bearer_auth(&jwt)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let tried = before["deliveries"].as_array().unwrap();
    assert!(tried.iter().all(|d| d["status_code"].is_null()), "{before}");
    eprintln!("webhooks: {} failed attempts before SIGKILL", tried.len());
    server.start_kill().expect("SIGKILL");
    let status = tokio::time::timeout(Duration::from_secs(30), server.wait())
        .await
        .expect("the killed server did not exit")
        .unwrap();
    assert!(!status.success(), "killed, not exited: {status:?}");

    // Started again on the same file; then the receiver comes up.
    let (_server, http, _) = spawn_server(&db).await;
    let hits = Arc::new(Mutex::new(Vec::new()));
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(receive))
        .with_state(hits.clone());
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", receiver_port))
        .await
        .expect("the receiver's port is still free");
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    // Retries were scheduled 0.5 to 4 s apart: all are due well within the deadline.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while hits.lock().unwrap().len() < MESSAGES {
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {} of {MESSAGES} events arrived",
            hits.lock().unwrap().len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Long enough for any duplicate or leftover retry to show.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let hits = hits.lock().unwrap().clone();
    let mut per_event: HashMap<&str, usize> = HashMap::new();
    let mut subjects = HashSet::new();
    for hit in &hits {
        *per_event.entry(hit.id.as_str()).or_default() += 1;
        assert_eq!(
            hit.signature,
            expected_signature(&secret, &hit.timestamp, &hit.body),
            "a POST not signed with the webhook's secret"
        );
        let event: Value = serde_json::from_str(&hit.body).unwrap();
        assert_eq!(event["id"], hit.id.as_str());
        assert_eq!(event["data"]["address"], ADDRESS);
        subjects.insert(event["data"]["subject"].as_str().unwrap().to_string());
    }
    let twice: Vec<_> = per_event.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "delivered more than once: {twice:?}");
    assert_eq!(hits.len(), MESSAGES, "one POST per acknowledged message");
    assert_eq!(
        subjects, acknowledged,
        "every acknowledged message's event arrived"
    );

    // The log agrees: every event ends with an acknowledged attempt.
    let log: Value = client
        .get(format!(
            "http://{http}/pro/api/webhooks/{}/deliveries",
            hook["id"].as_str().unwrap()
        ))
        .bearer_auth(&jwt)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let acknowledged_attempts = log["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["status_code"] == 204)
        .count();
    assert_eq!(acknowledged_attempts, MESSAGES, "{log}");
}
