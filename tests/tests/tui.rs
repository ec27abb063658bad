//! End-to-end: the terminal app driven with key presses against a real in-process server: create
//! a mailbox through the form, receive mail over SMTP live in the inbox, read it, delete the
//! mailbox, and check through the API that it is gone. Waits are on conditions with deadlines.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use mailcx::crossterm::event::KeyCode;
use mailcx::saved::Saved;
use mailcx::testing::Harness;
use mailcx::{Cli, launch};
use mailcx_common::{Client, Credentials, ErrorCode};
use mailcx_server::{Config, RunningServer, Server};

/// The longest any one step may take (argon2 in a debug build is the slow part).
const WAIT: Duration = Duration::from_secs(30);

async fn start_server(dir: &Path) -> RunningServer {
    let mut config = Config::ephemeral(dir.join("mailcx.db"));
    config.rate_limit = 0;
    config.accounts_per_hour = 0;
    Server::start(config).await.expect("the server starts")
}

/// Sends a plain message from Bob to `to` over SMTP and expects it accepted.
async fn send_mail(smtp: SocketAddr, to: &str, subject: &str, body: &str) {
    let message = Message::builder()
        .from("Bob Example <bob@example.org>".parse().unwrap())
        .to(to.parse().unwrap())
        .subject(subject)
        .body(body.to_string())
        .unwrap();
    let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(smtp.ip().to_string())
        .port(smtp.port())
        .timeout(Some(WAIT))
        .build();
    transport
        .send(message)
        .await
        .expect("the server accepts the mail");
}

/// Fills and submits the create form (the home screen must be showing).
fn create_through_the_form(h: &mut Harness, local: &str, password: &str) {
    h.key(KeyCode::Char('n'));
    h.type_text(local);
    h.key(KeyCode::Tab);
    h.key(KeyCode::Tab);
    h.type_text(password);
    h.key(KeyCode::Tab);
    h.type_text(password);
    h.key(KeyCode::Enter);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_receive_read_and_delete_a_mailbox_from_the_tui() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_server(dir.path()).await;
    let url = server.http_url();
    let config_dir = dir.path().join("config");
    let mut h = Harness::remote(&url, &config_dir, &dir.path().join("downloads"));
    h.app.start();
    h.settle(WAIT).await.unwrap();

    // Create a mailbox through the form; it shows on the home screen, selected, and checked.
    let address = "tui-e2e@mail.cx";
    create_through_the_form(&mut h, "tui-e2e", "secret-password");
    h.wait_for_text(&format!("Created {address}"), WAIT)
        .await
        .unwrap();
    h.wait_for("the new mailbox's usage on the home screen", WAIT, |_, screen| {
        screen.contains(&format!("› {address}")) && screen.contains("0 B of 40 MiB used")
    })
    .await
    .unwrap();
    let (saved, _) = Saved::load(&config_dir, &url);
    let token = saved.get(address).expect("the mailbox is saved").token.clone();
    let mailbox = Client::new(&url).with_token(token);
    assert_eq!(mailbox.me().await.unwrap().address, address);

    // Open its inbox and wait until the live connection is up.
    h.key(KeyCode::Enter);
    h.wait_for("the empty inbox, live", WAIT, |_, screen| {
        screen.contains("No mail yet") && screen.contains("● live")
    })
    .await
    .unwrap();

    // Mail sent over SMTP appears without a key press (the harness only applies answers).
    send_mail(
        server.smtp_addr,
        address,
        "Hello from the test",
        "The body of the end-to-end message.",
    )
    .await;
    h.wait_for_text("Hello from the test", WAIT).await.unwrap();
    let screen = h.screen();
    assert!(screen.contains("New mail from Bob Example"), "{screen}");
    assert!(screen.contains("● Bob Example"), "unread marker:\n{screen}");

    // Open it: the body shows, and the server marks it read.
    h.key(KeyCode::Enter);
    h.wait_for_text("The body of the end-to-end message.", WAIT)
        .await
        .unwrap();
    h.settle(WAIT).await.unwrap();
    let list = mailbox.messages(1).await.unwrap();
    assert_eq!(list.messages.len(), 1);
    assert!(list.messages[0].is_read, "opening a message marks it read");

    // Back to the home screen and delete the mailbox: it leaves the list.
    h.key(KeyCode::Char('q'));
    h.key(KeyCode::Char('q'));
    h.key(KeyCode::Char('d'));
    h.wait_for_text(&format!("Delete {address}"), WAIT).await.unwrap();
    h.key(KeyCode::Char('y'));
    h.wait_for("the mailbox to leave the list", WAIT, |_, screen| {
        screen.contains(&format!("Deleted {address}")) && screen.contains("No mailboxes yet")
    })
    .await
    .unwrap();
    assert!(Saved::load(&config_dir, &url).0.mailboxes().is_empty());

    // Gone on the server: the token is refused and the address signs in no more.
    assert_eq!(
        mailbox.me().await.unwrap_err().code(),
        Some(ErrorCode::InvalidToken)
    );
    let credentials = Credentials {
        address: address.into(),
        password: "secret-password".into(),
    };
    let refused = Client::new(&url).sign_in(&credentials).await.unwrap_err();
    assert_eq!(refused.code(), Some(ErrorCode::InvalidCredentials));

    drop(h);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_inbox_reconnects_after_the_server_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_server(dir.path()).await;
    let (http, smtp) = (server.http_addr, server.smtp_addr);
    let url = server.http_url();
    let mut h = Harness::remote(&url, &dir.path().join("config"), dir.path());
    h.app.start();
    h.settle(WAIT).await.unwrap();
    create_through_the_form(&mut h, "restart", "secret-password");
    h.wait_for_text("Created restart@mail.cx", WAIT).await.unwrap();
    h.key(KeyCode::Enter);
    h.wait_for_text("● live", WAIT).await.unwrap();

    // Stop the server: the inbox says it is offline and keeps retrying by itself.
    server.shutdown().await;
    h.wait_for_text("offline, retrying", WAIT).await.unwrap();

    // Start it again on the same ports: the inbox comes back live, and new mail shows up.
    let mut config = Config::ephemeral(dir.path().join("mailcx.db"));
    config.rate_limit = 0;
    config.accounts_per_hour = 0;
    config.http_addr = http;
    config.smtp_addr = smtp;
    let server = Server::start(config).await.expect("the server starts again");
    h.wait_for_text("● live", WAIT).await.unwrap();
    send_mail(smtp, "restart@mail.cx", "After the restart", "Still here.").await;
    h.wait_for_text("After the restart", WAIT).await.unwrap();

    drop(h);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bundled_server_starts_and_receives_mail() {
    let dir = tempfile::tempdir().unwrap();
    let cli = Cli {
        server: None,
        config_dir: Some(dir.path().join("config")),
        data_dir: Some(dir.path().join("data")),
        downloads: Some(dir.path().join("downloads")),
        smtp_port: 2525,
    };
    let prepared = launch::prepare(&cli).await.expect("the bundled server starts");
    let mailcx::ServerInfo::Embedded { smtp, http, .. } = prepared.app.ctx().server.clone() else {
        panic!("without --server the app runs the bundled server")
    };
    assert!(smtp.ip().is_loopback() && smtp.port() >= 2525, "{smtp}");
    assert!(http.ip().is_loopback(), "{http}");
    assert!(dir.path().join("data").join("mailcx.db").exists());

    let mut h = Harness::from_prepared(prepared.app, prepared.actions);
    h.wait_for("both addresses in the status bar", WAIT, |_, screen| {
        screen.contains(&format!("HTTP {http} · SMTP {smtp}"))
    })
    .await
    .unwrap();
    h.settle(WAIT).await.unwrap();
    create_through_the_form(&mut h, "local", "secret-password");
    h.wait_for_text("Created local@mail.cx", WAIT).await.unwrap();
    h.key(KeyCode::Enter);
    h.wait_for_text("● live", WAIT).await.unwrap();
    send_mail(smtp, "local@mail.cx", "To the bundled server", "Hi.").await;
    h.wait_for_text("To the bundled server", WAIT).await.unwrap();

    drop(h);
    if let Some(server) = prepared.server {
        server.shutdown().await;
    }
}
