//! End-to-end: the terminal app's Pro area driven with key presses against a real server. With
//! the bundled server the app creates the local Pro user itself and mints a token a plain HTTP
//! client then uses; against a standalone server it signs in, adds a custom domain and verifies
//! it with an in-process DNS server, creates a mailbox on it, sees mail arrive live, and sees a
//! webhook delivery to a local receiver appear. A refused session leads back to sign-in.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::routing::post;
use mailcx::crossterm::event::KeyCode;
use mailcx::pro::session::{self, Session};
use mailcx::saved::Saved;
use mailcx::testing::Harness;
use mailcx::{Cli, launch};
use mailcx_tests::dns::DnsServer;
use mailcx_tests::mail::send_built;
use mailcx_tests::{PASSWORD, TestServer};
use reqwest::StatusCode;

/// The longest any one step may take (argon2 in a debug build is the slow part).
const WAIT: Duration = Duration::from_secs(30);

/// A plain message from Bob to `to`.
fn mail(to: &str, subject: &str) -> lettre::Message {
    lettre::Message::builder()
        .from("Bob Example <bob@example.org>".parse().unwrap())
        .to(to.parse().unwrap())
        .subject(subject)
        .body("Hello.".to_string())
        .unwrap()
}

/// The one clipboard text the last key put there.
fn copied(h: &mut Harness) -> String {
    let mut texts = h.app.take_clipboard();
    assert_eq!(texts.len(), 1, "one copy: {texts:?}");
    texts.remove(0)
}

/// The word on screen that starts with `prefix`.
fn word_starting(screen: &str, prefix: &str) -> String {
    screen
        .split(|c: char| c.is_whitespace() || c == '│')
        .find(|w| w.starts_with(prefix))
        .unwrap_or_else(|| panic!("no {prefix}… on the screen:\n{screen}"))
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bundled_server_makes_a_local_pro_user_whose_minted_token_works_from_http() {
    let dir = tempfile::tempdir().unwrap();
    let config_dir = dir.path().join("config");
    let cli = Cli {
        server: None,
        config_dir: Some(config_dir.clone()),
        data_dir: Some(dir.path().join("data")),
        downloads: Some(dir.path().join("downloads")),
        smtp_port: 2525,
    };
    let prepared = launch::prepare(&cli).await.expect("the bundled server starts");
    let mailcx::ServerInfo::Embedded { http, .. } = prepared.app.ctx().server.clone() else {
        panic!("without --server the app runs the bundled server")
    };
    let key = prepared.app.ctx().server.key();
    let url = format!("http://{http}");
    let mut h = Harness::from_prepared(prepared.app, prepared.actions);
    h.settle(WAIT).await.unwrap();

    // Two keystrokes: P opens the Pro area's sign-in, ^N makes the local Pro user.
    h.key(KeyCode::Char('P'));
    h.wait_for_text("Sign in to Pro", WAIT).await.unwrap();
    h.ctrl('n');
    h.wait_for_text("Local Pro user created", WAIT).await.unwrap();
    h.key(KeyCode::Char('c'));
    let password = copied(&mut h);
    assert_eq!(password.len(), 24, "a generated password");
    h.key(KeyCode::Esc);
    h.wait_for_text("● live", WAIT).await.unwrap();
    let saved = session::load(&config_dir, &key).expect("the session is saved");
    assert_eq!(saved.email, "owner@mailcx.local");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(config_dir.join(session::FILE_NAME))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // Tokens tab: mint one; it is shown once, copied with c, and works from a plain client.
    h.key(KeyCode::Tab);
    h.key(KeyCode::Tab);
    h.wait_for_text("No API tokens", WAIT).await.unwrap();
    h.key(KeyCode::Char('n'));
    h.key(KeyCode::Enter);
    h.wait_for_text("type something first", WAIT).await.unwrap();
    h.type_text("ci");
    h.key(KeyCode::Enter);
    h.wait_for_text("you will not see it again", WAIT).await.unwrap();
    h.key(KeyCode::Char('c'));
    let token = copied(&mut h);
    assert!(token.starts_with("tm_pro_"), "{token}");
    assert!(
        !h.screen().contains(&format!("Copied {token}")),
        "the notice does not show the secret"
    );
    h.key(KeyCode::Esc);
    let http_client = reqwest::Client::new();
    let list_tokens = || {
        http_client
            .get(format!("{url}/pro/api/tokens"))
            .bearer_auth(&token)
            .send()
    };
    assert_eq!(list_tokens().await.unwrap().status(), StatusCode::OK);
    h.key(KeyCode::Char('r'));
    h.wait_for_text("used just now", WAIT).await.unwrap();

    // Revoke it after the question; the plain client is refused from then on.
    h.key(KeyCode::Char('d'));
    h.wait_for_text("Revoke the token", WAIT).await.unwrap();
    h.key(KeyCode::Char('y'));
    h.wait_for_text("Revoked the token “ci”", WAIT).await.unwrap();
    assert_eq!(list_tokens().await.unwrap().status(), StatusCode::UNAUTHORIZED);

    // The saved session opens the area directly next time; a refused one leads to sign-in.
    h.key(KeyCode::Esc);
    h.key(KeyCode::Char('P'));
    h.wait_for_text("● live", WAIT).await.unwrap();
    h.key(KeyCode::Esc);
    let forged = Session {
        email: saved.email.clone(),
        token: "not-a-jwt".into(),
    };
    session::store(&config_dir, &key, Some(forged)).unwrap();
    h.key(KeyCode::Char('P'));
    h.wait_for_text("Signed out of Pro", WAIT).await.unwrap();
    assert!(
        session::load(&config_dir, &key).is_none(),
        "the refused session is forgotten"
    );
    h.type_text(&password);
    h.key(KeyCode::Enter);
    h.wait_for_text("● live", WAIT).await.unwrap();

    drop(h);
    if let Some(server) = prepared.server {
        server.shutdown().await;
    }
}

/// A webhook receiver on loopback that answers 200 and counts the POSTs.
async fn receiver() -> (String, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    let app = Router::new().route(
        "/hook",
        post(move || {
            let counted = counted.clone();
            async move {
                counted.fetch_add(1, Ordering::SeqCst);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/hook"), hits)
}

/// Signs in through the Pro form (the home screen must be showing).
async fn sign_in(h: &mut Harness, email: &str, password: &str) {
    h.key(KeyCode::Char('P'));
    h.wait_for_text("Sign in to Pro", WAIT).await.unwrap();
    h.type_text(email);
    h.key(KeyCode::Tab);
    h.type_text(password);
    h.key(KeyCode::Enter);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custom_domain_is_verified_its_mailbox_gets_mail_live_and_the_webhook_delivery_shows() {
    let dns = DnsServer::start().await;
    let resolver = dns.addr();
    let server = TestServer::start_with(move |config| {
        config.dns_resolver = Some(resolver);
        config.webhook_allow_private = true;
    })
    .await;
    server.create_pro_user("boss@example.com").await;
    let dir = tempfile::tempdir().unwrap();
    let config_dir = dir.path().join("config");
    let mut h = Harness::remote(server.url(), &config_dir, &dir.path().join("downloads"));
    h.app.start();
    h.settle(WAIT).await.unwrap();

    // A wrong password: the server's message under the password, what was typed kept.
    sign_in(&mut h, "boss@example.com", "wrong password").await;
    h.wait_for_text("↳", WAIT).await.unwrap();
    assert!(h.screen().contains("boss@example.com"));
    h.key(KeyCode::Esc);
    sign_in(&mut h, "boss@example.com", PASSWORD).await;
    h.wait_for_text("● live", WAIT).await.unwrap();

    // Domains: a bad name gets the server's error under the field; a good one its records.
    h.key(KeyCode::Tab);
    h.wait_for_text("No custom domains", WAIT).await.unwrap();
    h.key(KeyCode::Char('a'));
    h.type_text("not a domain");
    h.key(KeyCode::Enter);
    h.wait_for("the server's error under the field", WAIT, |_, s| {
        s.contains("↳") && !s.contains("type something")
    })
    .await
    .unwrap();
    h.key(KeyCode::Esc);
    h.key(KeyCode::Char('a'));
    h.type_text("example.org");
    h.key(KeyCode::Enter);
    h.wait_for_text("DNS records for example.org", WAIT)
        .await
        .unwrap();
    let screen = h.screen();
    let verify_token = word_starting(&screen, "mailcx-verify-");
    h.key(KeyCode::Char('c'));
    assert_eq!(copied(&mut h), verify_token, "the first record's value is copied");
    h.key(KeyCode::Esc);

    // Verify before DNS has the records: ✗; after: ✓ and verified.
    h.wait_for_text("› example.org", WAIT).await.unwrap();
    h.key(KeyCode::Char('v'));
    h.wait_for_text("example.org is not verified yet", WAIT)
        .await
        .unwrap();
    assert!(h.screen().contains("✗"));
    h.key(KeyCode::Esc);
    dns.set_txt("_mailcx-verify.example.org", &[&verify_token]);
    let mx = server.config().mx_host();
    dns.set_mx("example.org", &[(10, mx.as_str())]);
    h.key(KeyCode::Char('v'));
    h.wait_for_text("example.org is verified", WAIT).await.unwrap();
    let screen = h.screen();
    assert_eq!(screen.matches('✓').count(), 2, "both records found:\n{screen}");
    h.key(KeyCode::Esc);
    h.wait_for_text("✓ verified", WAIT).await.unwrap();

    // A mailbox on the verified domain; mail to it over SMTP shows live as new.
    h.key(KeyCode::BackTab);
    h.key(KeyCode::Char('n'));
    h.type_text("sales@example.org");
    h.key(KeyCode::Enter);
    h.wait_for_text("Created sales@example.org", WAIT).await.unwrap();
    h.wait_for_text("› sales@example.org", WAIT).await.unwrap();
    let smtp = server.running().smtp_addr;
    send_built(smtp, &mail("sales@example.org", "First order")).await;
    h.wait_for_text("1 unread", WAIT).await.unwrap();

    // ⏎ opens it in the ordinary inbox (the app kept its sign-in), the mail in it.
    h.key(KeyCode::Enter);
    h.wait_for_text("First order", WAIT).await.unwrap();
    h.key(KeyCode::Esc);
    h.wait_for_text("Mailboxes (1)", WAIT).await.unwrap();
    let (saved, _) = Saved::load(&config_dir, server.url());
    assert!(saved.get("sales@example.org").is_some());

    // Webhook: a refused URL gets the server's message inline; a local receiver gets mail.
    h.key(KeyCode::BackTab);
    h.wait_for_text("No webhook", WAIT).await.unwrap();
    h.key(KeyCode::Char('n'));
    h.type_text("ftp://example.org/hook");
    h.key(KeyCode::Enter);
    h.wait_for("the server's error under the URL", WAIT, |_, s| s.contains("↳"))
        .await
        .unwrap();
    h.key(KeyCode::Esc);
    let (hook_url, hits) = receiver().await;
    h.key(KeyCode::Char('n'));
    h.type_text(&hook_url);
    h.key(KeyCode::Enter);
    h.wait_for_text("active", WAIT).await.unwrap();
    assert!(
        h.screen().contains("••••••••"),
        "the secret is hidden until asked for"
    );
    h.key(KeyCode::Char('s'));
    h.wait_for("the secret shown", WAIT, |_, s| !s.contains("••••••••"))
        .await
        .unwrap();
    send_built(smtp, &mail("sales@example.org", "Second order")).await;
    h.wait_for("the delivery in the list", WAIT, |_, s| {
        s.contains("Deliveries (1)") && s.contains("200")
    })
    .await
    .unwrap();
    assert_eq!(hits.load(Ordering::SeqCst), 1);

    drop(h);
}

/// Waits until `check` holds for what the server says, or panics with `what`.
async fn until_server<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_delete_rotate_and_webhook_delete_take_effect_on_the_server() {
    let server = TestServer::start_with(|config| config.webhook_allow_private = true).await;
    let jwt = server.create_pro_user("boss@example.com").await;
    let dir = tempfile::tempdir().unwrap();
    let config_dir = dir.path().join("config");
    let mut h = Harness::remote(server.url(), &config_dir, &dir.path().join("downloads"));
    h.app.start();
    h.settle(WAIT).await.unwrap();
    sign_in(&mut h, "boss@example.com", PASSWORD).await;
    h.wait_for_text("● live", WAIT).await.unwrap();
    let pro_get = |path: &str| server.http().get(server.endpoint(path)).bearer_auth(&jwt).send();

    // A mailbox, then `p`: after one question a new password, shown once and copyable; it signs
    // in, and the sign-in made with the old one stops working.
    let address = server.address("ops");
    h.key(KeyCode::Char('n'));
    h.type_text(&address);
    h.key(KeyCode::Enter);
    h.wait_for_text(&format!("› {address}"), WAIT).await.unwrap();
    let old_token = Saved::load(&config_dir, server.url())
        .0
        .get(&address)
        .expect("the app keeps the new mailbox's sign-in")
        .token
        .clone();
    h.key(KeyCode::Char('p'));
    h.wait_for_text("Reset password", WAIT).await.unwrap();
    h.key(KeyCode::Char('y'));
    h.wait_for_text("New password", WAIT).await.unwrap();
    h.key(KeyCode::Char('c'));
    let password = copied(&mut h);
    h.key(KeyCode::Esc);
    mailcx_common::Client::new(server.url())
        .sign_in(&mailcx_common::Credentials {
            address: address.clone(),
            password,
        })
        .await
        .expect("the new password signs in");
    let me = |token: String| {
        server
            .http()
            .get(server.endpoint("/api/me"))
            .bearer_auth(token)
            .send()
    };
    assert_eq!(me(old_token).await.unwrap().status(), StatusCode::UNAUTHORIZED);

    // `d`: after one question the mailbox is gone from the server and the list.
    h.key(KeyCode::Char('d'));
    h.wait_for_text("Delete mailbox", WAIT).await.unwrap();
    h.key(KeyCode::Char('y'));
    h.wait_for_text(&format!("Deleted {address}"), WAIT)
        .await
        .unwrap();
    until_server("the mailbox gone", || async {
        let list: serde_json::Value = pro_get("/pro/api/accounts").await.unwrap().json().await.unwrap();
        list["accounts"].as_array().is_some_and(|a| a.is_empty())
    })
    .await;

    // Webhook: `R` gives it a new secret after a question, `d` deletes it after one.
    let (hook_url, _) = receiver().await;
    h.key(KeyCode::BackTab);
    h.wait_for_text("No webhook", WAIT).await.unwrap();
    h.key(KeyCode::Char('n'));
    h.type_text(&hook_url);
    h.key(KeyCode::Enter);
    h.wait_for_text("active", WAIT).await.unwrap();
    let secret = || async {
        let list: serde_json::Value = pro_get("/pro/api/webhooks").await.unwrap().json().await.unwrap();
        list["webhooks"][0]["secret"].as_str().map(str::to_string)
    };
    let before = secret().await.expect("the webhook exists");
    h.key(KeyCode::Char('R'));
    h.wait_for_text("Rotate", WAIT).await.unwrap();
    h.key(KeyCode::Char('y'));
    until_server("a new secret", || async {
        secret().await.is_some_and(|s| s != before)
    })
    .await;
    h.key(KeyCode::Char('d'));
    h.wait_for_text("Delete", WAIT).await.unwrap();
    h.key(KeyCode::Char('y'));
    until_server("the webhook gone", || async { secret().await.is_none() }).await;
    h.wait_for_text("No webhook", WAIT).await.unwrap();

    drop(h);
}
