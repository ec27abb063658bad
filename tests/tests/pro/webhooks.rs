//! Webhooks: every `/pro/api/webhooks` route and error code, and delivery to a real receiver (an
//! axum server on a free port) that checks each POST's HMAC signature the way a user's would:
//! retries with backoff, `failing` after five events given up in a row, secret rotation,
//! isolation between Pro users, and targets on non-public addresses refused without
//! `--webhook-allow-private`.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use hmac::{Hmac, Mac};
use mailcx_tests::mail::{deliver, text_message};
use mailcx_tests::{PASSWORD, TestServer, expect_error, expect_json, is_wire_timestamp, keys, wait_for};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use super::tokens::call;

/// How long a test waits for something the worker does.
const PATIENCE: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(20);

/// One POST the receiver got.
#[derive(Debug, Clone)]
struct Hit {
    id: String,
    timestamp: String,
    signature: String,
    content_type: String,
    body: String,
    at: Instant,
}

impl Hit {
    /// Whether the signature is `sha256=` HMAC-SHA256(secret, timestamp "." body), in lowercase
    /// hex, as a receiver would check it.
    fn signed_with(&self, secret: &str) -> bool {
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("{}.{}", self.timestamp, self.body).as_bytes());
        self.signature == format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// What the receiver saw and what it answers next.
#[derive(Default)]
struct Log {
    hits: Vec<Hit>,
    /// Answers for the next POSTs, in order; 200 once they run out.
    script: VecDeque<u16>,
    /// Answer when the script is empty.
    otherwise: Option<u16>,
    /// How long to wait before answering.
    stall: Duration,
}

/// A webhook receiver on a free loopback port.
struct Receiver {
    url: String,
    port: u16,
    log: Arc<Mutex<Log>>,
}

impl Receiver {
    async fn start() -> Receiver {
        let log = Arc::new(Mutex::new(Log::default()));
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(receive))
            .with_state(log.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver {
            url: format!("http://127.0.0.1:{port}/hook"),
            port,
            log,
        }
    }

    /// Answers `codes` to the next POSTs, then `otherwise` (200 when `None`).
    fn answer(&self, codes: &[u16], otherwise: Option<u16>) {
        let mut log = self.log.lock().unwrap();
        log.script = codes.iter().copied().collect();
        log.otherwise = otherwise;
    }

    /// Makes every answer wait `stall` first.
    fn stall(&self, stall: Duration) {
        self.log.lock().unwrap().stall = stall;
    }

    fn hits(&self) -> Vec<Hit> {
        self.log.lock().unwrap().hits.clone()
    }

    /// Waits until the receiver got at least `count` POSTs; returns them all.
    async fn wait_for_hits(&self, count: usize) -> Vec<Hit> {
        wait_for(&format!("{count} webhook POSTs"), PATIENCE, POLL, || async {
            let hits = self.hits();
            (hits.len() >= count).then_some(hits)
        })
        .await
    }
}

async fn receive(State(log): State<Arc<Mutex<Log>>>, headers: HeaderMap, body: String) -> AxumStatus {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let stall = log.lock().unwrap().stall;
    tokio::time::sleep(stall).await;
    let mut log = log.lock().unwrap();
    log.hits.push(Hit {
        id: header("x-webhook-id"),
        timestamp: header("x-webhook-timestamp"),
        signature: header("x-webhook-signature"),
        content_type: header("content-type"),
        body,
        at: Instant::now(),
    });
    let code = log.script.pop_front().or(log.otherwise).unwrap_or(200);
    AxumStatus::from_u16(code).unwrap()
}

/// A server whose webhooks may reach the loopback receiver, retrying after `backoff`.
async fn server_with_backoff(backoff: Duration) -> TestServer {
    TestServer::start_with(|config| {
        config.webhook_allow_private = true;
        config.webhook_backoff = backoff;
    })
    .await
}

/// Creates `local@<domain>` with a Pro credential, so it is that Pro user's; returns its id.
async fn owned_mailbox(server: &TestServer, credential: &str, local: &str) -> Uuid {
    let body = json!({"address": server.address(local), "password": PASSWORD});
    let response = call(server, Method::POST, "/api/accounts", credential, Some(body)).await;
    let created = expect_json(response, StatusCode::CREATED).await;
    Uuid::parse_str(created["id"].as_str().unwrap()).unwrap()
}

/// Creates a webhook to `url` for `credential`; returns the created JSON.
async fn create_webhook(server: &TestServer, credential: &str, url: &str) -> Value {
    let body = json!({"url": url, "events": ["email.received"]});
    let response = call(server, Method::POST, "/pro/api/webhooks", credential, Some(body)).await;
    expect_json(response, StatusCode::CREATED).await
}

/// The caller's deliveries of webhook `id` (page 1), newest first.
async fn deliveries(server: &TestServer, credential: &str, id: &str) -> Vec<Value> {
    let path = format!("/pro/api/webhooks/{id}/deliveries");
    let page = expect_json(
        call(server, Method::GET, &path, credential, None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(page["page"], 1);
    page["deliveries"].as_array().unwrap().clone()
}

/// The caller's one webhook as listed.
async fn listed(server: &TestServer, credential: &str) -> Value {
    let list = expect_json(
        call(server, Method::GET, "/pro/api/webhooks", credential, None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(keys(&list), ["webhooks"]);
    list["webhooks"][0].clone()
}

/// Sends one message to `to`; returns the stored message's id from the `250` reply.
async fn send(server: &TestServer, to: &str, subject: &str) -> Uuid {
    let message = text_message("sender@example.org", to, subject, "Hello from the test.");
    let reply = deliver(server.smtp_addr(), "sender@example.org", &[to], &message).await;
    let text = reply.message().collect::<Vec<_>>().join(" ");
    let id = text.rsplit(' ').next().unwrap();
    Uuid::parse_str(id).unwrap_or_else(|e| panic!("no id in {text:?}: {e}"))
}

#[tokio::test]
async fn a_webhook_is_created_listed_rotated_and_deleted() {
    let server = server_with_backoff(Duration::from_secs(60)).await;
    let jwt = server.create_pro_user("owner@example.com").await;
    let (_, token) = super::tokens::mint(&server, &jwt, "ci").await;
    // A tm_pro_ token works as well as the JWT.
    let created = create_webhook(&server, &token, "https://hooks.example.com/in").await;
    assert_eq!(
        keys(&created),
        [
            "created_at",
            "events",
            "failure_count",
            "id",
            "last_triggered_at",
            "secret",
            "status",
            "url"
        ]
    );
    assert_eq!(created["url"], "https://hooks.example.com/in");
    assert_eq!(created["events"], json!(["email.received"]));
    assert_eq!(created["status"], "active");
    assert_eq!(created["failure_count"], 0);
    assert!(created["last_triggered_at"].is_null());
    assert!(is_wire_timestamp(created["created_at"].as_str().unwrap()));
    let secret = created["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_") && secret.len() >= 32, "{secret}");
    let id = created["id"].as_str().unwrap().to_string();

    assert_eq!(listed(&server, &jwt).await, created);
    assert_eq!(deliveries(&server, &jwt, &id).await, Vec::<Value>::new());

    let path = format!("/pro/api/webhooks/{id}/rotate");
    let rotated = expect_json(
        call(&server, Method::POST, &path, &jwt, None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(rotated["id"], id.as_str());
    assert_ne!(rotated["secret"], secret.as_str());
    assert_eq!(listed(&server, &jwt).await["secret"], rotated["secret"]);

    let path = format!("/pro/api/webhooks/{id}");
    let response = call(&server, Method::DELETE, &path, &jwt, None).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(listed(&server, &jwt).await.is_null());
    // Gone: every route of it is 404, and another can be made.
    for (method, path) in [
        (Method::DELETE, format!("/pro/api/webhooks/{id}")),
        (Method::POST, format!("/pro/api/webhooks/{id}/rotate")),
        (Method::GET, format!("/pro/api/webhooks/{id}/deliveries")),
        (Method::DELETE, "/pro/api/webhooks/not-a-uuid".to_string()),
    ] {
        let response = call(&server, method, &path, &jwt, None).await;
        expect_error(response, StatusCode::NOT_FOUND, "not_found").await;
    }
    create_webhook(&server, &jwt, "https://hooks.example.com/again").await;
}

#[tokio::test]
async fn bad_urls_unknown_events_a_second_webhook_and_bad_credentials_are_refused() {
    let server = server_with_backoff(Duration::from_secs(60)).await;
    let jwt = server.create_pro_user("owner@example.com").await;
    for body in [
        json!({"url": "ftp://hooks.example.com/in", "events": ["email.received"]}),
        json!({"url": "hooks.example.com/in", "events": ["email.received"]}),
        json!({"url": "javascript:alert(1)", "events": ["email.received"]}),
        json!({"url": "", "events": ["email.received"]}),
        json!({"url": format!("https://example.com/{}", "a".repeat(3000)), "events": ["email.received"]}),
        json!({"url": "https://hooks.example.com/in", "events": ["email.deleted"]}),
        json!({"url": "https://hooks.example.com/in", "events": ["email.received", "nope"]}),
        json!({"url": "https://hooks.example.com/in", "events": []}),
        json!({"url": "https://hooks.example.com/in"}),
        json!({"events": ["email.received"]}),
    ] {
        let response = call(
            &server,
            Method::POST,
            "/pro/api/webhooks",
            &jwt,
            Some(body.clone()),
        )
        .await;
        let message = expect_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
        assert!(!message.is_empty(), "{body}");
    }
    create_webhook(&server, &jwt, "https://hooks.example.com/in").await;
    let body = json!({"url": "https://hooks.example.com/second", "events": ["email.received"]});
    let response = call(&server, Method::POST, "/pro/api/webhooks", &jwt, Some(body)).await;
    expect_error(response, StatusCode::FORBIDDEN, "webhook_limit_reached").await;

    // Credentials: none, garbage, or a mailbox's JWT are all 401 on every route.
    let (mailbox, _) = server.create_mailbox("plain").await;
    let id = Uuid::new_v4();
    for credential in [
        "",
        "garbage",
        "tm_pro_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        mailbox.token.as_str(),
    ] {
        for (method, path) in [
            (Method::GET, "/pro/api/webhooks".to_string()),
            (Method::POST, "/pro/api/webhooks".to_string()),
            (Method::DELETE, format!("/pro/api/webhooks/{id}")),
            (Method::POST, format!("/pro/api/webhooks/{id}/rotate")),
            (Method::GET, format!("/pro/api/webhooks/{id}/deliveries")),
        ] {
            let body = json!({"url": "https://hooks.example.com/in", "events": ["email.received"]});
            let response = call(&server, method, &path, credential, Some(body)).await;
            expect_error(response, StatusCode::UNAUTHORIZED, "invalid_token").await;
        }
    }
    // A bad page number is a bad request.
    let hook = listed(&server, &jwt).await;
    let path = format!(
        "/pro/api/webhooks/{}/deliveries?page=0",
        hook["id"].as_str().unwrap()
    );
    let response = call(&server, Method::GET, &path, &jwt, None).await;
    expect_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
}

#[tokio::test]
async fn mail_to_an_owned_mailbox_is_posted_once_signed_and_logged() {
    let server = server_with_backoff(Duration::from_secs(60)).await;
    let receiver = Receiver::start().await;
    let jwt = server.create_pro_user("owner@example.com").await;
    let account_id = owned_mailbox(&server, &jwt, "owned").await;
    server.create_mailbox("plain").await;
    let hook = create_webhook(&server, &jwt, &receiver.url).await;
    let secret = hook["secret"].as_str().unwrap();

    let before = time_now();
    // Plus-addressing: the event carries the address as written.
    let email_id = send(&server, &server.address("owned+news"), "Webhook one").await;
    // An anonymous mailbox's mail makes no event.
    send(&server, &server.address("plain"), "not for the webhook").await;
    let hits = receiver.wait_for_hits(1).await;
    let hit = &hits[0];
    assert!(hit.signed_with(secret), "bad signature: {hit:?}");
    assert!(!hit.signed_with("whsec_wrong"));
    assert!(hit.content_type.starts_with("application/json"), "{hit:?}");
    let stamp: u64 = hit.timestamp.parse().expect("Unix seconds");
    assert!(
        (before..=time_now()).contains(&stamp),
        "{stamp} not within the test"
    );
    let event = hit.json();
    assert_eq!(keys(&event), ["created_at", "data", "id", "type"]);
    assert_eq!(event["id"], hit.id.as_str());
    assert!(
        hit.id.starts_with("evt_") && Uuid::parse_str(&hit.id[4..]).is_ok(),
        "{}",
        hit.id
    );
    assert_eq!(event["type"], "email.received");
    assert!(is_wire_timestamp(event["created_at"].as_str().unwrap()));
    let data = &event["data"];
    assert_eq!(
        keys(data),
        [
            "account_id",
            "address",
            "created_at",
            "email_id",
            "from",
            "preview_text",
            "sender",
            "size",
            "subject"
        ]
    );
    assert_eq!(data["email_id"], email_id.to_string());
    assert_eq!(data["account_id"], account_id.to_string());
    assert_eq!(data["address"], server.address("owned+news"));
    assert_eq!(data["sender"], "sender@example.org");
    assert_eq!(data["from"], "sender@example.org");
    assert_eq!(data["subject"], "Webhook one");
    assert_eq!(data["preview_text"], "Hello from the test.");
    assert!(data["size"].as_u64().unwrap() > 100);

    // Logged as one acknowledged attempt; the hook shows when it was last triggered.
    let id = hook["id"].as_str().unwrap();
    let log = wait_for("the attempt to be logged", PATIENCE, POLL, || async {
        let log = deliveries(&server, &jwt, id).await;
        (!log.is_empty()).then_some(log)
    })
    .await;
    assert_eq!(log.len(), 1, "{log:?}");
    let attempt = &log[0];
    assert_eq!(
        keys(attempt),
        [
            "attempt",
            "created_at",
            "duration_ms",
            "error",
            "event_id",
            "event_type",
            "id",
            "status_code"
        ]
    );
    assert_eq!(attempt["event_id"], hit.id.as_str());
    assert_eq!(attempt["event_type"], "email.received");
    assert_eq!(attempt["status_code"], 200);
    assert!(attempt["error"].is_null());
    assert_eq!(attempt["attempt"], 1);
    assert!(attempt["duration_ms"].is_u64());
    let shown = listed(&server, &jwt).await;
    assert!(
        is_wire_timestamp(shown["last_triggered_at"].as_str().unwrap()),
        "{shown}"
    );
    assert_eq!(shown["failure_count"], 0);

    // Never again after the 2xx, and nothing for the anonymous mailbox.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.hits().len(), 1);
}

#[tokio::test]
async fn failed_attempts_are_retried_with_growing_waits_until_one_succeeds() {
    let backoff = Duration::from_millis(300);
    let server = server_with_backoff(backoff).await;
    let receiver = Receiver::start().await;
    receiver.answer(&[500, 503], None);
    let jwt = server.create_pro_user("owner@example.com").await;
    owned_mailbox(&server, &jwt, "owned").await;
    let hook = create_webhook(&server, &jwt, &receiver.url).await;
    send(&server, &server.address("owned"), "Retry me").await;

    let hits = receiver.wait_for_hits(3).await;
    // The same event, byte for byte, each time freshly signed.
    for hit in &hits {
        assert_eq!(hit.id, hits[0].id);
        assert_eq!(hit.body, hits[0].body);
        assert!(hit.signed_with(hook["secret"].as_str().unwrap()));
    }
    let first_wait = hits[1].at - hits[0].at;
    let second_wait = hits[2].at - hits[1].at;
    assert!(first_wait >= backoff, "first retry after {first_wait:?}");
    assert!(second_wait >= backoff * 2, "second retry after {second_wait:?}");

    let id = hook["id"].as_str().unwrap();
    let log = wait_for("three logged attempts", PATIENCE, POLL, || async {
        let log = deliveries(&server, &jwt, id).await;
        (log.len() == 3).then_some(log)
    })
    .await;
    // Newest first.
    let seen: Vec<(u64, u64)> = log
        .iter()
        .map(|d| (d["attempt"].as_u64().unwrap(), d["status_code"].as_u64().unwrap()))
        .collect();
    assert_eq!(seen, [(3, 200), (2, 503), (1, 500)]);
    assert!(log.iter().all(|d| d["event_id"] == hits[0].id.as_str()));
    tokio::time::sleep(backoff * 5).await;
    assert_eq!(receiver.hits().len(), 3, "delivered again after a 2xx");
    assert_eq!(listed(&server, &jwt).await["status"], "active");
}

#[tokio::test]
async fn five_events_given_up_in_a_row_make_a_webhook_failing_until_one_gets_through() {
    let server = server_with_backoff(Duration::from_millis(20)).await;
    let receiver = Receiver::start().await;
    receiver.answer(&[], Some(500));
    let jwt = server.create_pro_user("owner@example.com").await;
    owned_mailbox(&server, &jwt, "owned").await;
    let hook = create_webhook(&server, &jwt, &receiver.url).await;
    let id = hook["id"].as_str().unwrap();

    for n in 0..4 {
        send(&server, &server.address("owned"), &format!("doomed {n}")).await;
    }
    let after_four = wait_for("four events given up", PATIENCE, POLL, || async {
        let hook = listed(&server, &jwt).await;
        (hook["failure_count"] == 4).then_some(hook)
    })
    .await;
    assert_eq!(after_four["status"], "active", "four are not enough");
    send(&server, &server.address("owned"), "doomed 4").await;
    let failing = wait_for("five events given up", PATIENCE, POLL, || async {
        let hook = listed(&server, &jwt).await;
        (hook["failure_count"] == 5).then_some(hook)
    })
    .await;
    assert_eq!(failing["status"], "failing");
    // Five attempts each, all logged.
    assert_eq!(receiver.hits().len(), 25);
    let path = format!("/pro/api/webhooks/{id}/deliveries");
    let log = expect_json(
        call(&server, Method::GET, &path, &jwt, None).await,
        StatusCode::OK,
    )
    .await;
    let log = log["deliveries"].as_array().unwrap();
    assert_eq!(log.len(), 25);
    assert_eq!(log.iter().filter(|d| d["attempt"] == 5).count(), 5);
    assert!(log.iter().all(|d| d["status_code"] == 500));
    // Page 2 is empty: 25 fit on one.
    let path = format!("/pro/api/webhooks/{id}/deliveries?page=2");
    let page = expect_json(
        call(&server, Method::GET, &path, &jwt, None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(page, json!({"deliveries": [], "page": 2}));

    // A failing webhook is still tried; one acknowledged event resets it.
    receiver.answer(&[], None);
    send(&server, &server.address("owned"), "this one lands").await;
    let recovered = wait_for("the webhook to recover", PATIENCE, POLL, || async {
        let hook = listed(&server, &jwt).await;
        (hook["status"] == "active").then_some(hook)
    })
    .await;
    assert_eq!(recovered["failure_count"], 0);
}

#[tokio::test]
async fn a_rotated_secret_signs_every_later_attempt() {
    let server = server_with_backoff(Duration::from_millis(300)).await;
    let receiver = Receiver::start().await;
    let jwt = server.create_pro_user("owner@example.com").await;
    owned_mailbox(&server, &jwt, "owned").await;
    let hook = create_webhook(&server, &jwt, &receiver.url).await;
    let old = hook["secret"].as_str().unwrap().to_string();
    send(&server, &server.address("owned"), "before").await;
    let first = receiver.wait_for_hits(1).await.remove(0);
    assert!(first.signed_with(&old));

    let path = format!("/pro/api/webhooks/{}/rotate", hook["id"].as_str().unwrap());
    let rotated = expect_json(
        call(&server, Method::POST, &path, &jwt, None).await,
        StatusCode::OK,
    )
    .await;
    let new = rotated["secret"].as_str().unwrap().to_string();
    assert_ne!(new, old);
    // A pending event's next attempt is signed with the new secret too.
    receiver.answer(&[500], None);
    send(&server, &server.address("owned"), "after").await;
    let hits = receiver.wait_for_hits(3).await;
    for hit in &hits[1..] {
        assert!(hit.signed_with(&new), "{hit:?}");
        assert!(!hit.signed_with(&old), "still signed with the old secret");
    }
}

#[tokio::test]
async fn another_users_webhook_and_its_deliveries_are_not_found() {
    let server = server_with_backoff(Duration::from_secs(60)).await;
    let receiver = Receiver::start().await;
    let alice = server.create_pro_user("alice@example.com").await;
    let bob = server.create_pro_user("bob@example.com").await;
    owned_mailbox(&server, &alice, "alice").await;
    let hook = create_webhook(&server, &alice, &receiver.url).await;
    let id = hook["id"].as_str().unwrap();
    send(&server, &server.address("alice"), "for alice").await;
    receiver.wait_for_hits(1).await;

    for (method, path) in [
        (Method::DELETE, format!("/pro/api/webhooks/{id}")),
        (Method::POST, format!("/pro/api/webhooks/{id}/rotate")),
        (Method::GET, format!("/pro/api/webhooks/{id}/deliveries")),
    ] {
        let response = call(&server, method, &path, &bob, None).await;
        expect_error(response, StatusCode::NOT_FOUND, "not_found").await;
    }
    assert!(listed(&server, &bob).await.is_null(), "bob sees alice's webhook");
    // Bob may have his own; Alice's is untouched, secret and all.
    create_webhook(&server, &bob, &receiver.url).await;
    assert_eq!(listed(&server, &alice).await["secret"], hook["secret"]);
    assert_eq!(
        wait_for("alice's log", PATIENCE, POLL, || async {
            let log = deliveries(&server, &alice, id).await;
            (!log.is_empty()).then_some(log.len())
        })
        .await,
        1
    );
}

#[tokio::test]
async fn non_public_targets_are_refused_without_the_operators_flag() {
    let server = TestServer::start_with(|config| config.webhook_backoff = Duration::from_millis(50)).await;
    let receiver = Receiver::start().await;
    let jwt = server.create_pro_user("owner@example.com").await;
    owned_mailbox(&server, &jwt, "owned").await;
    // An address written in the URL is refused at once.
    for url in [
        format!("http://127.0.0.1:{}/hook", receiver.port),
        format!("http://[::1]:{}/hook", receiver.port),
        "http://10.0.0.1/hook".to_string(),
        "http://169.254.169.254/latest/meta-data".to_string(),
        "http://0x7f000001/hook".to_string(),
    ] {
        let body = json!({"url": url, "events": ["email.received"]});
        let response = call(&server, Method::POST, "/pro/api/webhooks", &jwt, Some(body)).await;
        expect_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
    }
    // A name is checked on what it resolves to, at each attempt.
    let hook = create_webhook(&server, &jwt, &format!("http://localhost:{}/hook", receiver.port)).await;
    send(&server, &server.address("owned"), "probe").await;
    let id = hook["id"].as_str().unwrap();
    let log = wait_for("all five attempts refused", PATIENCE, POLL, || async {
        let log = deliveries(&server, &jwt, id).await;
        (log.len() == 5).then_some(log)
    })
    .await;
    for attempt in &log {
        assert!(attempt["status_code"].is_null(), "{attempt}");
        let error = attempt["error"].as_str().unwrap();
        assert!(error.contains("non-public"), "{error}");
        assert!(!error.contains("/hook"), "the URL is not logged: {error}");
    }
    assert!(receiver.hits().is_empty(), "the receiver was reached");
    assert_eq!(listed(&server, &jwt).await["failure_count"], 1);
}

#[tokio::test]
async fn a_stalled_receiver_does_not_hold_up_another_users_webhook() {
    let server = server_with_backoff(Duration::from_secs(60)).await;
    let stalled = Receiver::start().await;
    stalled.stall(Duration::from_secs(60));
    let healthy = Receiver::start().await;
    let alice = server.create_pro_user("alice@example.com").await;
    let bob = server.create_pro_user("bob@example.com").await;
    owned_mailbox(&server, &alice, "alice").await;
    owned_mailbox(&server, &bob, "bob").await;
    create_webhook(&server, &alice, &stalled.url).await;
    create_webhook(&server, &bob, &healthy.url).await;
    // More of Alice's events than there are delivery slots, all hanging until the timeout.
    for n in 0..12 {
        send(&server, &server.address("alice"), &format!("stuck {n}")).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    send(&server, &server.address("bob"), "through").await;
    healthy.wait_for_hits(1).await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "bob's event waited {:?} behind alice's stalled receiver",
        started.elapsed()
    );
}

/// Unix seconds now.
fn time_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}
