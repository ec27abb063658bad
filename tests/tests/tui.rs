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

/// A server on `dir` without rate limits, its config changed by `adjust`.
async fn start_server_with(dir: &Path, adjust: impl FnOnce(&mut Config)) -> RunningServer {
    let mut config = Config::ephemeral(dir.join("mailcx.db"));
    config.rate_limit = 0;
    config.accounts_per_hour = 0;
    adjust(&mut config);
    Server::start(config).await.expect("the server starts")
}

async fn start_server(dir: &Path) -> RunningServer {
    start_server_with(dir, |_| {}).await
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

/// Makes the app's opener a fake browser that writes the link it was given to `path`.
fn record_opened_links(h: &mut Harness, path: &Path) {
    h.app.set_opener(vec![
        "sh".into(),
        "-c".into(),
        format!("printf %s \"$1\" > '{}'", path.display()),
        "sh".into(),
    ]);
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

/// The text OSC 52 puts on the clipboard: the sequence's base64 payload, decoded.
fn osc52_payload(sequence: &str) -> String {
    let payload = sequence
        .strip_prefix("\x1b]52;c;")
        .and_then(|s| s.strip_suffix('\x07').or_else(|| s.strip_suffix("\x1b\\")))
        .unwrap_or_else(|| panic!("not an OSC 52 sequence: {sequence:?}"));
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bits = 0u32;
    let mut count = 0;
    let mut out = Vec::new();
    for c in payload.bytes().filter(|&c| c != b'=') {
        let v = ALPHABET.iter().position(|&a| a == c).expect("base64") as u32;
        bits = (bits << 6) | v;
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// The first text copied since the last look, as the terminal receives it.
fn first_copied(h: &mut Harness) -> String {
    let copied = h.app.take_clipboard();
    osc52_payload(&launch::osc52(&copied[0]))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_up_mail_arrives_and_y_copies_its_code_and_o_opens_its_link() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_server(dir.path()).await;
    let url = server.http_url();
    let mut h = Harness::remote(&url, &dir.path().join("config"), &dir.path().join("downloads"));
    let opened = dir.path().join("opened");
    record_opened_links(&mut h, &opened);
    open_new_inbox(&mut h, "signup").await;

    send_mail(
        server.smtp_addr,
        "signup@mail.cx",
        "Confirm your Example account",
        "Your verification code is 482913. It expires at 10:45 on 2025-01-15.\n\n\
         Or confirm with this link: https://app.example.com/verify?token=abc123&next=%2F.\n",
    )
    .await;
    h.wait_for_text("Confirm your Example account", WAIT)
        .await
        .unwrap();

    // `y` on the inbox row: the body is fetched in the background, then the code is copied.
    h.key(KeyCode::Char('y'));
    h.wait_for_text("Copied the code 482913", WAIT).await.unwrap();
    let copied: Vec<String> = h
        .app
        .take_clipboard()
        .iter()
        .map(|text| osc52_payload(&launch::osc52(text)))
        .collect();
    assert_eq!(copied, vec!["482913".to_string()]);

    // `o` runs the opener with exactly the link, trailing full stop left out.
    h.key(KeyCode::Char('o'));
    let mut link = String::new();
    for _ in 0..400 {
        link = std::fs::read_to_string(&opened).unwrap_or_default();
        if !link.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(link, "https://app.example.com/verify?token=abc123&next=%2F");

    // A second mail while the cursor is on the top row: the cursor follows it, so `y` copies the
    // new code, not the stale one.
    send_mail(
        server.smtp_addr,
        "signup@mail.cx",
        "Your new code",
        "Use 551234 to sign in.",
    )
    .await;
    h.wait_for_text("Your new code", WAIT).await.unwrap();
    h.key(KeyCode::Char('y'));
    h.wait_for_text("Copied the code 551234", WAIT).await.unwrap();
    assert_eq!(first_copied(&mut h), "551234");

    drop(h);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t_makes_a_throwaway_mailbox_whose_code_y_copies() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_server(dir.path()).await;
    let url = server.http_url();
    let config_dir = dir.path().join("config");
    let mut h = Harness::remote(&url, &config_dir, &dir.path().join("downloads"));
    h.app.start();

    // One key: the mailbox is made, its inbox opens live, and its address is on the clipboard.
    // Pressed at once, before the server's domains are known, and twice in impatience: exactly
    // one mailbox is made, as soon as the domains are in.
    h.key(KeyCode::Char('t'));
    h.key(KeyCode::Char('t'));
    h.wait_for_text("● live", WAIT).await.unwrap();
    h.settle(WAIT).await.unwrap();
    let copied = h.app.take_clipboard();
    assert_eq!(copied.len(), 1, "{copied:?}");
    assert_eq!(
        Saved::load(&config_dir, &url).0.mailboxes().len(),
        1,
        "one mailbox, not two"
    );
    let address = osc52_payload(&launch::osc52(&copied[0]));
    assert!(address.ends_with("@mail.cx"), "{address}");
    assert!(h.screen().contains(&format!("Mailboxes › {address}")));

    // The generated password is saved and really is the mailbox's password.
    let saved = Saved::load(&config_dir, &url).0;
    let password = saved
        .get(&address)
        .and_then(|m| m.password.clone())
        .expect("the throwaway's password is saved");
    assert!(password.len() >= 20, "a strong password: {password}");
    Client::new(&url)
        .sign_in(&Credentials {
            address: address.clone(),
            password,
        })
        .await
        .expect("the saved password signs in");

    send_mail(
        server.smtp_addr,
        &address,
        "Your sign-in code",
        "Your verification code is 739104.",
    )
    .await;
    h.wait_for_text("Your sign-in code", WAIT).await.unwrap();
    h.key(KeyCode::Char('y'));
    h.wait_for_text("Copied the code 739104", WAIT).await.unwrap();
    assert_eq!(first_copied(&mut h), "739104");

    drop(h);
    server.shutdown().await;
}

/// Creates `local@mail.cx` through the form and opens its inbox, live.
async fn open_new_inbox(h: &mut Harness, local: &str) {
    h.app.start();
    h.settle(WAIT).await.unwrap();
    create_through_the_form(h, local, "secret-password");
    h.wait_for_text(&format!("Created {local}@mail.cx"), WAIT)
        .await
        .unwrap();
    h.key(KeyCode::Enter);
    h.wait_for_text("● live", WAIT).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slash_filters_the_inbox_through_the_server_and_esc_shows_all_again() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_server(dir.path()).await;
    let url = server.http_url();
    let mut h = Harness::remote(&url, &dir.path().join("config"), &dir.path().join("downloads"));
    open_new_inbox(&mut h, "filter").await;
    let to = "filter@mail.cx";
    send_mail(server.smtp_addr, to, "Your invoice", "Total: 12 EUR.").await;
    send_mail(server.smtp_addr, to, "Weekly digest", "Nothing about money.").await;
    send_mail(server.smtp_addr, to, "Receipt", "Thanks for the invoice payment.").await;
    h.wait_for("three messages listed", WAIT, |_, s| s.contains("3 messages"))
        .await
        .unwrap();

    // Subject and text both match; the digest does not.
    h.key(KeyCode::Char('/'));
    h.type_text("invoice");
    h.key(KeyCode::Enter);
    h.wait_for("two matches", WAIT, |_, s| s.contains("2 matches"))
        .await
        .unwrap();
    let screen = h.screen();
    assert!(screen.contains("“invoice”"), "the filter line stays:\n{screen}");
    assert!(
        screen.contains("Your invoice") && screen.contains("Receipt"),
        "{screen}"
    );
    assert!(!screen.contains("Weekly digest"), "{screen}");

    // New mail while filtered: the server decides; a match shows, others do not.
    send_mail(server.smtp_addr, to, "Another invoice", "Due now.").await;
    h.wait_for_text("Another invoice", WAIT).await.unwrap();
    send_mail(server.smtp_addr, to, "Lunch?", "Noon.").await;
    h.wait_for_text("New mail from Bob Example", WAIT).await.unwrap();
    h.settle(WAIT).await.unwrap();
    assert!(h.screen().contains("3 matches") && !h.screen().contains("Lunch?"));

    // A search that finds nothing says so; Esc brings back the whole inbox.
    h.key(KeyCode::Char('/'));
    h.type_text(" zebra");
    h.key(KeyCode::Enter);
    h.wait_for_text("No message matches “invoice zebra”", WAIT)
        .await
        .unwrap();
    h.key(KeyCode::Esc);
    h.wait_for("all five again", WAIT, |_, s| {
        s.contains("5 messages") && s.contains("Weekly digest") && !s.contains("“")
    })
    .await
    .unwrap();

    drop(h);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn space_picks_messages_d_deletes_them_and_shift_d_deletes_all() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_server(dir.path()).await;
    let url = server.http_url();
    let config_dir = dir.path().join("config");
    let mut h = Harness::remote(&url, &config_dir, &dir.path().join("downloads"));
    open_new_inbox(&mut h, "bulk").await;
    let to = "bulk@mail.cx";
    for subject in ["First", "Second", "Third", "Fourth"] {
        send_mail(server.smtp_addr, to, subject, "Hi.").await;
    }
    h.wait_for("four messages listed", WAIT, |_, s| s.contains("4 messages"))
        .await
        .unwrap();
    let token = Saved::load(&config_dir, &url).0.get(to).unwrap().token.clone();
    let mailbox = Client::new(&url).with_token(token);

    // Newest first: Fourth, Third, Second, First. Pick Fourth and Second.
    h.key(KeyCode::Char(' '));
    h.key(KeyCode::Down);
    h.key(KeyCode::Char(' '));
    h.wait_for_text("2 selected", WAIT).await.unwrap();
    h.key(KeyCode::Char('d'));
    h.wait_for_text("Delete the 2 selected messages", WAIT)
        .await
        .unwrap();
    h.key(KeyCode::Char('y'));
    h.wait_for_text("Deleted 2 messages", WAIT).await.unwrap();
    let left: Vec<String> = mailbox
        .messages(1)
        .await
        .unwrap()
        .messages
        .into_iter()
        .map(|m| m.subject)
        .collect();
    assert_eq!(left, vec!["Third".to_string(), "First".to_string()]);
    assert!(h.screen().contains("2 messages"));

    // D asks once, then the server empties the mailbox; the mailbox itself stays.
    h.key(KeyCode::Char('D'));
    h.wait_for_text("Delete every message of bulk@mail.cx", WAIT)
        .await
        .unwrap();
    h.key(KeyCode::Char('y'));
    h.wait_for_text("No mail yet", WAIT).await.unwrap();
    assert!(mailbox.messages(1).await.unwrap().messages.is_empty());
    let me = mailbox.me().await.unwrap();
    assert_eq!((me.messages, me.used), (0, 0));

    drop(h);
    server.shutdown().await;
}

/// The home screen's row of `address`.
fn row_of<'a>(screen: &'a str, address: &str) -> &'a str {
    screen
        .lines()
        .find(|l| l.contains(address))
        .unwrap_or_else(|| panic!("{address} is not listed:\n{screen}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn home_counts_stay_true_and_mail_for_another_mailbox_gets_a_notice() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_server(dir.path()).await;
    let url = server.http_url();
    let mut h = Harness::remote(&url, &dir.path().join("config"), &dir.path().join("downloads"));
    h.app.start();
    h.settle(WAIT).await.unwrap();
    create_through_the_form(&mut h, "first", "secret-password");
    h.wait_for_text("Created first@mail.cx", WAIT).await.unwrap();
    create_through_the_form(&mut h, "second", "secret-password");
    h.wait_for_text("Created second@mail.cx", WAIT).await.unwrap();
    h.settle(WAIT).await.unwrap();
    // Both are watched over connections that are up before any mail is sent.
    h.wait_for("both mailboxes watched live", WAIT, |app, _| {
        app.watcher_connected("first@mail.cx") && app.watcher_connected("second@mail.cx")
    })
    .await
    .unwrap();

    // On the home screen, mail for either mailbox is noticed and counted as it arrives.
    send_mail(server.smtp_addr, "second@mail.cx", "Welcome", "Hello there.").await;
    h.wait_for("the notice and the count", WAIT, |_, s| {
        s.contains("New mail for second@mail.cx from Bob Example: Welcome")
            && row_of(s, "second@mail.cx").contains("1 unread")
    })
    .await
    .unwrap();
    assert!(row_of(&h.screen(), "first@mail.cx").contains("0 unread · 0 B of"));

    // Read it in the inbox of `second` while mail arrives for `first`: back home, both rows
    // show the server's counts, `used` included.
    h.key(KeyCode::Enter);
    h.wait_for("the inbox, live, with the mail", WAIT, |_, s| {
        s.contains("● live") && s.contains("Welcome")
    })
    .await
    .unwrap();
    h.key(KeyCode::Enter);
    h.wait_for("the reader", WAIT, |app, _| {
        matches!(app.screens().last(), Some(mailcx::screens::Screen::Reader(r)) if r.message.is_some())
    })
    .await
    .unwrap();
    send_mail(
        server.smtp_addr,
        "first@mail.cx",
        "Elsewhere",
        "Noticed anywhere.",
    )
    .await;
    h.wait_for_text("New mail for first@mail.cx", WAIT).await.unwrap();
    h.key(KeyCode::Char('q'));
    h.key(KeyCode::Char('q'));
    h.settle(WAIT).await.unwrap();
    let (saved, _) = Saved::load(&dir.path().join("config"), &url);
    for (address, unread) in [("first@mail.cx", 1), ("second@mail.cx", 0)] {
        let me = Client::new(&url)
            .with_token(saved.get(address).unwrap().token.clone())
            .me()
            .await
            .unwrap();
        assert_eq!(me.unread, unread);
        assert!(me.used > 0);
        let used = mailcx::format::size(me.used);
        let screen = h.screen();
        let row = row_of(&screen, address);
        assert!(row.contains(&format!("{unread} unread · {used} of")), "{row}");
    }

    drop(h);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_toml_names_the_server_and_the_downloads_and_a_bad_one_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_server(dir.path()).await;
    let url = server.http_url();
    let config_dir = dir.path().join("config");
    std::fs::create_dir_all(&config_dir).unwrap();
    let downloads = dir.path().join("saved-here");
    std::fs::write(
        config_dir.join("config.toml"),
        format!(
            "theme = \"light\"\nnotifications = \"bell\"\nserver = \"{url}\"\ndownloads = \"{}\"\n",
            downloads.display()
        ),
    )
    .unwrap();
    let cli = Cli {
        server: None,
        config_dir: Some(config_dir.clone()),
        data_dir: Some(dir.path().join("data")),
        downloads: None,
        smtp_port: 2525,
    };
    let prepared = launch::prepare(&cli).await.expect("start-up");
    assert!(
        prepared.server.is_none(),
        "the file's server is used, none bundled"
    );
    assert_eq!(
        prepared.app.ctx().server,
        mailcx::ServerInfo::Remote { url: url.clone() }
    );
    let mut h = Harness::from_prepared(prepared.app, prepared.actions);
    h.settle(WAIT).await.unwrap();
    assert!(h.app.popups().is_empty(), "a good file warns of nothing");

    // A mail's source saved with `s` lands in the file's downloads directory.
    h.key(KeyCode::Char('t'));
    h.wait_for_text("● live", WAIT).await.unwrap();
    let address = h.app.ctx().saved.mailboxes()[0].address.clone();
    send_mail(server.smtp_addr, &address, "Keep me", "Body.").await;
    h.wait_for_text("Keep me", WAIT).await.unwrap();
    h.key(KeyCode::Enter);
    h.wait_for_text("Body.", WAIT).await.unwrap();
    h.key(KeyCode::Char('v'));
    h.wait_for_text("Source", WAIT).await.unwrap();
    h.key(KeyCode::Char('s'));
    h.wait_for_text("Saved to", WAIT).await.unwrap();
    let saved: Vec<_> = std::fs::read_dir(&downloads).unwrap().collect();
    assert_eq!(saved.len(), 1);
    drop(h);

    // A file with a mistake: the app still starts (defaults), and says what is wrong.
    std::fs::write(config_dir.join("config.toml"), "theme = \"purple\"\n").unwrap();
    let cli = Cli {
        server: Some(url.clone()),
        ..cli
    };
    let prepared = launch::prepare(&cli).await.expect("start-up despite the file");
    let mut h = Harness::from_prepared(prepared.app, prepared.actions);
    let screen = h.screen();
    assert!(screen.contains("config.toml is not used"), "{screen}");

    drop(h);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plus_addressed_mail_arrives_live_in_the_base_mailbox() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_server(dir.path()).await;
    let url = server.http_url();
    let mut h = Harness::remote(&url, &dir.path().join("config"), &dir.path().join("downloads"));
    open_new_inbox(&mut h, "base").await;

    // One mailbox serves many test runs: the tag after `+` picks none of its own.
    send_mail(
        server.smtp_addr,
        "base+run42@mail.cx",
        "Run 42",
        "Code 120934 is your code.",
    )
    .await;
    h.wait_for_text("Run 42", WAIT).await.unwrap();
    h.key(KeyCode::Enter);
    h.wait_for("the reader with the address as written", WAIT, |_, s| {
        s.contains("base+run42@mail.cx") && s.contains("Code 120934")
    })
    .await
    .unwrap();
    h.key(KeyCode::Char('y'));
    h.wait_for_text("Copied the code 120934", WAIT).await.unwrap();

    // A tag on an address that has no mailbox is still refused.
    let refused = Message::builder()
        .from("Bob Example <bob@example.org>".parse().unwrap())
        .to("nobody+run42@mail.cx".parse().unwrap())
        .subject("Lost")
        .body("x".to_string())
        .unwrap();
    let transport =
        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(server.smtp_addr.ip().to_string())
            .port(server.smtp_addr.port())
            .build();
    assert!(transport.send(refused).await.is_err());

    drop(h);
    server.shutdown().await;
}

/// A server whose default domain is open, as the TUI's bundled server is.
async fn start_open_server(dir: &Path) -> RunningServer {
    start_server_with(dir, |config| config.open_domains = vec!["mail.cx".into()]).await
}

/// Waits until the fake opener wrote the link it was given.
async fn opened_link(path: &Path) -> String {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let link = std::fs::read_to_string(path).unwrap_or_default();
        if !link.is_empty() || tokio::time::Instant::now() > deadline {
            return link;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn w_watches_any_address_live_y_copies_its_code_o_opens_its_link_and_it_stays_saved() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_open_server(dir.path()).await;
    let url = server.http_url();
    let config_dir = dir.path().join("config");
    let mut h = Harness::remote(&url, &config_dir, &dir.path().join("downloads"));
    let opened = dir.path().join("opened");
    record_opened_links(&mut h, &opened);
    h.app.start();
    h.settle(WAIT).await.unwrap();

    // Mail already waiting in the open inbox shows when it is watched.
    send_mail(server.smtp_addr, "watched@mail.cx", "Sent before", "Early.").await;
    h.key(KeyCode::Char('w'));
    h.wait_for_text("Watch an address", WAIT).await.unwrap();
    h.type_text("watched");
    h.key(KeyCode::Enter);
    h.wait_for("the open inbox, live, with the earlier mail", WAIT, |_, s| {
        s.contains("Mailboxes › watched@mail.cx") && s.contains("● live") && s.contains("Sent before")
    })
    .await
    .unwrap();
    assert_eq!(first_copied(&mut h), "watched@mail.cx");

    // New mail arrives live; `y` copies its code and `o` opens its link, through `/v1`.
    send_mail(
        server.smtp_addr,
        "watched@mail.cx",
        "Confirm your Example account",
        "Your verification code is 482913.\n\n\
         Or confirm with this link: https://app.example.com/verify?token=abc123.\n",
    )
    .await;
    h.wait_for_text("Confirm your Example account", WAIT)
        .await
        .unwrap();
    h.key(KeyCode::Char('y'));
    h.wait_for_text("Copied the code 482913", WAIT).await.unwrap();
    assert_eq!(first_copied(&mut h), "482913");
    h.key(KeyCode::Char('o'));
    assert_eq!(
        opened_link(&opened).await,
        "https://app.example.com/verify?token=abc123"
    );

    // The reader reads it through `/v1` too.
    h.key(KeyCode::Enter);
    h.wait_for("the reader with the body", WAIT, |_, s| {
        s.contains("verification code is 482913")
    })
    .await
    .unwrap();

    // Saved as an open inbox: a new start of the app lists it, marked, with its retention and
    // the mail it holds.
    let (saved, _) = Saved::load(&config_dir, &url);
    assert!(saved.get("watched@mail.cx").is_some_and(|m| m.open));
    drop(h);
    let mut h = Harness::remote(&url, &config_dir, &dir.path().join("downloads"));
    h.app.start();
    h.wait_for("the watched address on the home screen", WAIT, |_, s| {
        s.contains("watched@mail.cx") && row_of(s, "watched@mail.cx").contains("open · 2 mail · kept 1h")
    })
    .await
    .unwrap();

    // `d` deletes its mail through `/v1`, after asking.
    h.key(KeyCode::Char('d'));
    h.wait_for_text("Delete every message of watched@mail.cx", WAIT)
        .await
        .unwrap();
    h.key(KeyCode::Char('y'));
    h.settle(WAIT).await.unwrap();
    let left = Client::new(&url)
        .v1_wait("watched@mail.cx", &Default::default())
        .await
        .unwrap();
    assert!(left.is_none(), "the open inbox is empty: {left:?}");

    // Forgetting it asks first, then it leaves the list.
    h.key(KeyCode::Char('x'));
    h.wait_for_text("Stop watching watched@mail.cx", WAIT)
        .await
        .unwrap();
    h.key(KeyCode::Char('y'));
    h.wait_for("the empty list", WAIT, |_, s| s.contains("Mailboxes (0)"))
        .await
        .unwrap();
    assert!(Saved::load(&config_dir, &url).0.mailboxes().is_empty());

    drop(h);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mailbox_with_a_password_cannot_be_watched_and_bad_addresses_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_open_server(dir.path()).await;
    let url = server.http_url();
    let config_dir = dir.path().join("config");
    let mut h = Harness::remote(&url, &config_dir, &dir.path().join("downloads"));
    h.app.start();
    h.settle(WAIT).await.unwrap();
    create_through_the_form(&mut h, "owned", "secret-password");
    h.wait_for_text("Created owned@mail.cx", WAIT).await.unwrap();

    h.key(KeyCode::Char('w'));
    h.type_text("owned");
    h.key(KeyCode::Enter);
    h.wait_for_text("is a mailbox with a password", WAIT)
        .await
        .unwrap();
    assert!(matches!(
        h.app.screens().last(),
        Some(mailcx::screens::Screen::Watch(_))
    ));
    // A local part the server's rules refuse is refused in the form.
    h.ctrl('u');
    h.type_text("bad..dots");
    h.key(KeyCode::Enter);
    h.wait_for_text("have two dots", WAIT).await.unwrap();
    h.key(KeyCode::Esc);
    let (saved, _) = Saved::load(&config_dir, &url);
    assert_eq!(saved.mailboxes().len(), 1, "nothing was watched");
    assert!(!saved.get("owned@mail.cx").unwrap().open);

    drop(h);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_without_open_domains_says_so_in_the_watch_form() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_server(dir.path()).await;
    let url = server.http_url();
    let mut h = Harness::remote(&url, &dir.path().join("config"), &dir.path().join("downloads"));
    h.app.start();
    h.settle(WAIT).await.unwrap();
    h.key(KeyCode::Char('w'));
    h.type_text("anyone");
    h.key(KeyCode::Enter);
    h.wait_for_text("this server has no open domains", WAIT)
        .await
        .unwrap();
    drop(h);
    server.shutdown().await;
}
