//! End-to-end robustness of the terminal app against a real server (issue 9's bugs): a server
//! with a tiny rate limit, and a server that stops and starts again under an open inbox. Waits are
//! on conditions with deadlines.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use mailcx::crossterm::event::KeyCode;
use mailcx::saved::{Saved, SavedMailbox};
use mailcx::testing::Harness;
use mailcx::{embedded, launch};
use mailcx_common::{Client, Credentials};
use mailcx_server::{Config, RunningServer, Server};

/// The longest any one step may take (argon2 in a debug build is the slow part).
const WAIT: Duration = Duration::from_secs(60);

async fn start_server(db: &Path, rate_limit: u32, http: Option<SocketAddr>) -> RunningServer {
    let mut config = Config::ephemeral(db);
    config.rate_limit = rate_limit;
    config.accounts_per_hour = 0;
    if let Some(http) = http {
        config.http_addr = http;
    }
    Server::start(config).await.expect("the server starts")
}

/// Makes a mailbox over the API and saves it in the app's list, as a sign-in would.
async fn saved_mailbox(url: &str, config_dir: &Path, address: &str) {
    let token = Client::new(url)
        .create_account(&Credentials {
            address: address.into(),
            password: "secret-password".into(),
        })
        .await
        .expect("the mailbox is made");
    let (mut saved, _) = Saved::load(config_dir, url);
    saved
        .upsert(SavedMailbox {
            address: token.address,
            id: token.id,
            token: token.token,
            password: None,
            open: false,
        })
        .unwrap();
}

/// The app on `url`, its config in `dir`, with `address` made and saved and its inbox open, live.
async fn live_inbox(url: &str, dir: &Path, address: &str) -> Harness {
    let config_dir = dir.join("config");
    saved_mailbox(url, &config_dir, address).await;
    let mut h = Harness::remote(url, &config_dir, dir);
    h.app.start();
    h.key(KeyCode::Enter);
    h.wait_for_text("● live", WAIT).await.unwrap();
    h
}

/// Redraws until `text` is on the screen or `timeout` passes: for what changes on the screen
/// without an answer arriving (a countdown).
async fn poll_for_text(h: &mut Harness, text: &str, timeout: Duration) -> Result<String, String> {
    let deadline = Instant::now() + timeout;
    loop {
        h.pump();
        let screen = h.screen();
        if screen.contains(text) {
            return Ok(screen);
        }
        if Instant::now() > deadline {
            return Err(format!("no {text:?} after {timeout:?}; the screen:\n{screen}"));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fast_reading_under_a_tiny_rate_limit_waits_behind_one_gate() {
    let dir = tempfile::tempdir().unwrap();
    // One request a second (burst 16): the app runs out almost at once.
    let server = start_server(&dir.path().join("mailcx.db"), 1, None).await;
    let mut h = live_inbox(&server.http_url(), dir.path(), "busy@mail.cx").await;

    // Reload far faster than the server allows: the burst runs out, and every request waits
    // behind the one gate, shown as a countdown, instead of failing or retrying on its own.
    for _ in 0..24 {
        h.key(KeyCode::Char('r'));
    }
    let screen = poll_for_text(&mut h, "server busy, retrying in 1s", WAIT)
        .await
        .unwrap();
    assert!(!screen.contains("too many requests"), "{screen}");

    // Every spinner ends, every request got through, and not one popup was shown.
    h.settle(WAIT).await.unwrap();
    let screen = h.screen();
    assert!(h.app.popups().is_empty(), "no popup storm:\n{screen}");
    assert!(!screen.contains("server busy"), "{screen}");
    assert!(screen.contains("● live"), "{screen}");

    drop(h);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_connection_comes_back_soon_after_a_long_outage() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("mailcx.db");
    let server = start_server(&db, 0, None).await;
    let http = server.http_addr;
    let mut h = live_inbox(&server.http_url(), dir.path(), "restart@mail.cx").await;

    // Down for longer than doubling waits would take to pass 2 s (0.5, 1, 2, 4, 8…): the
    // countdown still never shows more than 2 s, so the server is seen within 2 s of its return.
    server.shutdown().await;
    let down = Instant::now();
    h.wait_for_text("offline, retrying", WAIT).await.unwrap();
    let mut longest = 0;
    while down.elapsed() < Duration::from_secs(10) {
        h.pump();
        let screen = h.screen();
        for secs in 1..=60 {
            if screen.contains(&format!("offline, retrying in {secs}s")) {
                longest = longest.max(secs);
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        (1..=2).contains(&longest),
        "the countdown showed up to {longest}s"
    );

    // Back on the same port and database: live again.
    let server = start_server(&db, 0, Some(http)).await;
    let back = Instant::now();
    h.wait_for_text("● live", WAIT).await.unwrap();
    eprintln!("live again {:?} after the server was back", back.elapsed());

    drop(h);
    server.shutdown().await;
}

fn bundled_cli(dir: &Path, data_dir: std::path::PathBuf) -> mailcx::Cli {
    mailcx::Cli {
        server: None,
        config_dir: Some(dir.join("config")),
        data_dir: Some(data_dir),
        downloads: Some(dir.join("downloads")),
        smtp_port: 0,
    }
}

/// Bug 11: the saved list is keyed by the resolved data directory, and a second bundled app on
/// the same directory is told which server runs there and can use it, with the same list.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_bundled_app_on_the_same_data_directory_uses_the_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let first = launch::prepare(&bundled_cli(dir.path(), dir.path().join("data")))
        .await
        .expect("the first bundled server starts");
    let server = first.server.expect("a bundled server");
    let key = first.app.ctx().server.key();
    let (mut saved, _) = Saved::load(&dir.path().join("config"), &key);
    saved
        .upsert(SavedMailbox {
            address: "shared@mail.cx".into(),
            id: uuid::Uuid::nil(),
            token: "t".into(),
            password: None,
            open: false,
        })
        .unwrap();

    // The same directory written another way: `x/../data`.
    std::fs::create_dir(dir.path().join("x")).unwrap();
    let second_cli = bundled_cli(dir.path(), dir.path().join("x").join("..").join("data"));
    let refused = launch::prepare(&second_cli)
        .await
        .err()
        .expect("a second server on the same database is refused");
    let running = refused
        .downcast_ref::<embedded::AlreadyRunning>()
        .unwrap_or_else(|| panic!("says which server runs there: {refused:#}"))
        .clone();
    assert_eq!((running.http, running.smtp), (server.http_addr, server.smtp_addr));
    assert!(refused.to_string().contains(&server.http_addr.to_string()));

    let second = launch::prepare_with(&second_cli, Some(&running))
        .await
        .expect("the second app uses the running server");
    assert!(second.server.is_none(), "no second server");
    assert_eq!(second.app.ctx().server.key(), key, "one saved list");
    let mut h = Harness::from_prepared(second.app, second.actions);
    h.wait_for_text("shared@mail.cx", WAIT).await.unwrap();
    // Its requests reach the running server (the made-up token is refused there).
    h.wait_for_text("signed out", WAIT).await.unwrap();

    drop(h);
    drop(first.app);
    embedded::stop(server, &dir.path().join("data"), || {}).await;
}

/// Bug 12: quitting while an SMTP client is connected says so and stops within a short grace,
/// not after the server's default 5 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quitting_with_an_smtp_client_connected_says_so_and_is_prompt() {
    use tokio::io::AsyncBufReadExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let prepared = launch::prepare(&bundled_cli(dir.path(), data.clone()))
        .await
        .expect("the bundled server starts");
    let server = prepared.server.expect("a bundled server");
    let smtp = tokio::net::TcpStream::connect(server.smtp_addr).await.unwrap();
    let mut smtp = tokio::io::BufReader::new(smtp);
    let mut banner = String::new();
    smtp.read_line(&mut banner).await.unwrap();
    assert!(banner.starts_with("220"), "{banner}");

    drop(prepared.app);
    let mut said = false;
    let stopped = tokio::time::timeout(
        Duration::from_secs(4),
        embedded::stop(server, &data, || said = true),
    )
    .await;
    assert_eq!(
        stopped,
        Ok(true),
        "stopped within the grace, after saying why it waits"
    );
    assert!(said);
    assert!(!data.join(embedded::ADDR_FILE).exists());
}
