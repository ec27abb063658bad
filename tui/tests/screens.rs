//! Screen tests: every screen and popup at 80×24, driven by keys with made-up server answers,
//! compared with the committed snapshots in `tests/snapshots`.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use mailcx::crossterm::event::KeyCode;
use mailcx::saved::Saved;
use mailcx::testing::Harness;
use mailcx::{Action, LiveEvent, Reply};
use mailcx_common::client::Download;
use mailcx_common::{
    AccountToken, Attachment, ClientError, Domain, ErrorCode, Me, Message, MessageList, MessageSummary,
    NewEmail, Role,
};
use uuid::Uuid;

use support::{NOWHERE, ago, api_error, embedded, mailbox, now, summary};

/// An app with `saved` mailboxes in a temp config dir, talking to `url`, shown as the embedded
/// server on the usual ports.
fn harness_at(dir: &Path, url: &str, saved: &[&str]) -> Harness {
    let saved = saved
        .iter()
        .enumerate()
        .map(|(i, address)| mailbox(address, i as u128 + 1, &format!("token-{i}")))
        .collect();
    support::harness_with(dir, url, saved)
}

fn harness(dir: &Path, saved: &[&str]) -> Harness {
    harness_at(dir, NOWHERE, saved)
}

fn domains() -> Reply {
    let domain = |name: &str, default, order| Domain {
        id: Uuid::from_u128(order as u128 + 100),
        domain: name.into(),
        default,
        sort_order: order,
    };
    Reply::Domains(Ok(vec![
        domain("mail.cx", true, 0),
        domain("example.org", false, 1),
    ]))
}

fn me(address: &str, used: u64) -> Me {
    Me {
        id: Uuid::from_u128(1),
        address: address.into(),
        role: Role::User,
        quota: 41_943_040,
        used,
        created_at: ago(60 * 26),
        messages: 0,
        unread: 0,
    }
}

fn inbox_messages() -> Vec<MessageSummary> {
    vec![
        summary(
            5,
            "GitHub <noreply@github.com>",
            "Your sign-in code",
            "Use 482913 to sign in. It expires in 10 minutes.",
            2,
            false,
        ),
        summary(
            4,
            "\"Anna Schmidt\" <anna@example.org>",
            "Re: Saturday hike",
            "Sounds great! Let's meet at the station at 8.",
            47,
            false,
        ),
        summary(
            3,
            "Shop <orders@shop.example>",
            "Order #1042 shipped",
            "Your parcel is on its way and should arrive by Friday.",
            60 * 5,
            true,
        ),
        summary(
            2,
            "newsletter@news.example",
            "This week in Rust",
            "Hello and welcome to another issue of This Week in Rust!",
            60 * 30,
            true,
        ),
        summary(
            1,
            "<no-reply@service.example>",
            "",
            "Please confirm your address by clicking the link below.",
            60 * 24 * 3,
            true,
        ),
    ]
}

fn message(text: bool, html: bool) -> Message {
    let s = &inbox_messages()[1];
    Message {
        id: s.id,
        sender: s.sender.clone(),
        from: s.from.clone(),
        subject: s.subject.clone(),
        address: "demo@mail.cx".into(),
        size: s.size,
        created_at: s.created_at,
        is_read: false,
        text_body: text.then(|| {
            "Sounds great! Let's meet at the station at 8.\n\nI'll bring sandwiches; could you bring \
             the map and something warm to drink? The forecast says it will be sunny but cold on \
             the ridge.\n\nSee you Saturday,\nAnna"
                .into()
        }),
        html_body: html.then(|| {
            "<html><body><h1>Saturday</h1><p>Sounds <b>great</b>! Meet at the \
             <a href=\"https://maps.example/station\">station</a> at 8.</p>\
             <ul><li>sandwiches</li><li>map</li><li>tea</li></ul></body></html>"
                .into()
        }),
        attachments: vec![
            Attachment {
                index: 0,
                filename: "route.gpx".into(),
                content_type: "application/gpx+xml".into(),
                size: 48_213,
            },
            Attachment {
                index: 1,
                filename: "summit.jpg".into(),
                content_type: "image/jpeg".into(),
                size: 2_431_002,
            },
        ],
    }
}

/// An app with one mailbox whose inbox is open with the sample messages, live.
fn open_inbox(dir: &Path) -> Harness {
    let mut h = harness(dir, &["demo@mail.cx"]);
    h.answer(domains());
    h.answer(Reply::Me {
        address: "demo@mail.cx".into(),
        result: Ok(me("demo@mail.cx", 123_456)),
    });
    h.key(KeyCode::Enter);
    h.answer(Reply::Page {
        address: "demo@mail.cx".into(),
        page: 1,
        result: Ok(MessageList {
            messages: inbox_messages(),
            page: 1,
        }),
    });
    h.send(Action::Live {
        address: "demo@mail.cx".into(),
        event: LiveEvent::Connected,
    });
    // The reconnect catch-up request: answer it too, so no spinner shows.
    h.answer(Reply::Page {
        address: "demo@mail.cx".into(),
        page: 1,
        result: Ok(MessageList {
            messages: inbox_messages(),
            page: 1,
        }),
    });
    h
}

/// The inbox with the second message open in the reader.
fn open_reader(dir: &Path, text: bool, html: bool) -> Harness {
    let mut h = open_inbox(dir);
    h.key(KeyCode::Down);
    h.key(KeyCode::Enter);
    h.answer(Reply::Message {
        address: "demo@mail.cx".into(),
        id: Uuid::from_u128(4),
        result: Ok(message(text, html)),
    });
    // Opening marks it read.
    h.answer(Reply::MarkedRead {
        address: "demo@mail.cx".into(),
        id: Uuid::from_u128(4),
        result: Ok(()),
    });
    h
}

/// The one line of `screen` that shows `text`; panics if none or several do.
fn line_with<'a>(screen: &'a str, text: &str) -> &'a str {
    let lines: Vec<&str> = screen.lines().filter(|l| l.contains(text)).collect();
    assert_eq!(lines.len(), 1, "one line with {text:?}:\n{screen}");
    lines[0]
}

/// The rows inside the main frame: the lines between its top and bottom borders.
fn framed_rows(screen: &str) -> Vec<&str> {
    screen
        .lines()
        .skip_while(|l| !l.starts_with('┌'))
        .skip(1)
        .take_while(|l| !l.starts_with('└'))
        .collect()
}

macro_rules! snap {
    ($name:expr, $h:expr) => {
        insta::assert_snapshot!($name, $h.screen())
    };
}

#[tokio::test]
async fn home_without_mailboxes() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(dir.path(), &[]);
    snap!("home_empty", h);
}

#[tokio::test]
async fn home_lists_mailboxes_with_their_state() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(
        dir.path(),
        &["demo@mail.cx", "old@mail.cx", "far@example.org", "new@mail.cx"],
    );
    h.app.start();
    h.answer(domains());
    h.answer(Reply::Me {
        address: "demo@mail.cx".into(),
        result: Ok(me("demo@mail.cx", 123_456)),
    });
    h.answer(Reply::Me {
        address: "old@mail.cx".into(),
        result: Err(api_error(ErrorCode::InvalidToken, "token expired")),
    });
    h.answer(Reply::Me {
        address: "far@example.org".into(),
        result: Err(ClientError::Protocol("HTTP 502 Bad Gateway".into())),
    });
    // new@mail.cx is still being checked: its row spins.
    snap!("home_mailboxes", h);
    h.key(KeyCode::Char('?'));
    snap!("home_help", h);
}

#[tokio::test]
async fn create_form_checks_as_you_type_and_shows_server_errors_by_their_field() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(dir.path(), &[]);
    h.answer(domains());
    h.key(KeyCode::Char('n'));
    snap!("create_empty", h);

    h.type_text("bad name!");
    h.key(KeyCode::Tab);
    h.key(KeyCode::Right);
    h.key(KeyCode::Tab);
    h.type_text("123");
    h.key(KeyCode::Tab);
    h.type_text("1234");
    snap!("create_invalid", h);

    // Fix everything and submit: the server says the address is taken.
    h.key(KeyCode::BackTab);
    h.key(KeyCode::BackTab);
    h.key(KeyCode::Left);
    h.key(KeyCode::BackTab);
    h.ctrl('u');
    h.type_text("demo");
    h.key(KeyCode::Tab);
    h.key(KeyCode::Tab);
    h.type_text("456");
    h.key(KeyCode::Tab);
    h.type_text("56");
    h.key(KeyCode::Enter);
    snap!("create_submitting", h);
    h.answer(Reply::Created {
        address: "demo@mail.cx".into(),
        result: Err(api_error(
            ErrorCode::AddressTaken,
            "demo@mail.cx is already taken",
        )),
    });
    snap!("create_address_taken", h);

    h.type_text("2");
    h.key(KeyCode::Enter);
    h.answer(Reply::Created {
        address: "demo2@mail.cx".into(),
        result: Err(api_error(
            ErrorCode::PasswordTooShort,
            "password must be at least 8 characters",
        )),
    });
    snap!("create_password_refused", h);

    h.key(KeyCode::Enter);
    h.answer(Reply::Created {
        address: "demo2@mail.cx".into(),
        result: Err(api_error(
            ErrorCode::AccountLimitReached,
            "too many mailboxes created from this address; try again in an hour",
        )),
    });
    snap!("create_limit_popup", h);
}

#[tokio::test]
async fn creating_a_mailbox_lists_it_and_selects_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(dir.path(), &["first@mail.cx"]);
    h.answer(domains());
    h.key(KeyCode::Char('n'));
    h.ctrl('r');
    let typed = h.screen();
    assert!(typed.contains("@mail.cx"), "a random address fills in:\n{typed}");
    h.key(KeyCode::Tab);
    h.key(KeyCode::Tab);
    h.type_text("secret1");
    h.key(KeyCode::Tab);
    h.type_text("secret1");
    h.key(KeyCode::Enter);
    h.answer(Reply::Created {
        address: "second@mail.cx".into(),
        result: Ok(AccountToken {
            id: Uuid::from_u128(2),
            address: "second@mail.cx".into(),
            token: "jwt".into(),
        }),
    });
    let screen = h.screen();
    assert!(screen.contains("Created second@mail.cx"), "{screen}");
    assert!(
        screen.contains("› second@mail.cx"),
        "the new mailbox is selected:\n{screen}"
    );
    let (saved, _) = Saved::load(dir.path(), &embedded().key());
    assert_eq!(saved.mailboxes().len(), 2);
    assert_eq!(saved.get("second@mail.cx").unwrap().token, "jwt");
}

#[tokio::test]
async fn a_refused_sign_in_keeps_the_form_filled() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(dir.path(), &[]);
    h.key(KeyCode::Char('s'));
    h.type_text("demo@mail");
    snap!("signin_typing", h);
    h.type_text(".cx");
    h.key(KeyCode::Tab);
    h.type_text("wrong-password");
    h.key(KeyCode::Enter);
    h.answer(Reply::SignedIn {
        address: "demo@mail.cx".into(),
        result: Err(api_error(
            ErrorCode::InvalidCredentials,
            "wrong address or password",
        )),
    });
    snap!("signin_refused", h);
}

#[tokio::test]
async fn inspect_shows_the_mailbox_and_its_quota() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(dir.path(), &["demo@mail.cx"]);
    h.key(KeyCode::Char('i'));
    snap!("inspect_loading", h);
    h.answer(Reply::Me {
        address: "demo@mail.cx".into(),
        result: Ok(me("demo@mail.cx", 12_582_912)),
    });
    snap!("inspect", h);
}

#[tokio::test]
async fn deleting_a_mailbox_asks_first_then_drops_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(dir.path(), &["demo@mail.cx", "keep@mail.cx"]);
    // The hint says `y`: every other answer cancels, `⏎` included, and nothing is requested.
    for cancel in [
        KeyCode::Enter,
        KeyCode::Char('n'),
        KeyCode::Esc,
        KeyCode::Char('q'),
    ] {
        h.key(KeyCode::Char('d'));
        assert!(h.screen().contains("Delete mailbox"), "{cancel:?}");
        h.key(cancel);
        let screen = h.screen();
        assert!(!screen.contains("Delete mailbox"), "{cancel:?} closes:\n{screen}");
        assert!(!h.app.is_busy(), "{cancel:?} must not delete");
        assert!(
            line_with(&screen, "Mailboxes (").contains("Mailboxes (2)"),
            "{screen}"
        );
    }
    h.key(KeyCode::Char('d'));
    snap!("delete_mailbox_confirm", h);
    h.key(KeyCode::Char('y'));
    h.answer(Reply::AccountDeleted {
        address: "demo@mail.cx".into(),
        result: Ok(()),
    });
    let screen = h.screen();
    // The list no longer has the deleted mailbox (the status bar still names it), and the one
    // left is selected.
    let rows = framed_rows(&screen);
    assert!(rows.iter().all(|row| !row.contains("demo@mail.cx")), "{screen}");
    assert!(
        line_with(&screen, "Mailboxes (").contains("Mailboxes (1)"),
        "{screen}"
    );
    assert!(line_with(&screen, "keep@mail.cx").starts_with("│› "), "{screen}");
    assert!(screen.contains("Deleted demo@mail.cx"), "{screen}");
    let (saved, _) = Saved::load(dir.path(), &embedded().key());
    assert_eq!(saved.mailboxes().len(), 1);
}

#[tokio::test]
async fn forgetting_a_mailbox_asks_first() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(dir.path(), &["demo@mail.cx", "keep@mail.cx"]);
    h.key(KeyCode::Char('x'));
    snap!("forget_confirm", h);
    h.key(KeyCode::Enter);
    let (saved, _) = Saved::load(dir.path(), &embedded().key());
    assert_eq!(saved.mailboxes().len(), 2, "⏎ cancels: the token is kept");
    assert!(!h.screen().contains("Forget mailbox"));
    h.key(KeyCode::Char('x'));
    h.key(KeyCode::Char('y'));
    let screen = h.screen();
    assert!(screen.contains("Removed demo@mail.cx"), "{screen}");
    assert!(
        framed_rows(&screen).iter().all(|r| !r.contains("demo@mail.cx")),
        "{screen}"
    );
    let (saved, _) = Saved::load(dir.path(), &embedded().key());
    assert_eq!(saved.mailboxes().len(), 1);
    assert_eq!(saved.mailboxes()[0].address, "keep@mail.cx");
}

#[tokio::test]
async fn deleting_a_message_without_subject_names_it_plainly() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = open_inbox(dir.path());
    // The oldest sample message has an empty subject.
    h.key(KeyCode::End);
    h.key(KeyCode::Char('d'));
    let screen = h.screen();
    assert!(!screen.contains("“”"), "{screen}");
    snap!("delete_message_no_subject", h);
    h.key(KeyCode::Enter);
    assert!(!h.app.is_busy(), "⏎ cancels a message delete too");
    assert!(!h.screen().contains("Delete message"));
}

#[tokio::test]
async fn an_expired_token_offers_sign_in() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(dir.path(), &["demo@mail.cx"]);
    h.key(KeyCode::Enter);
    h.answer(Reply::Page {
        address: "demo@mail.cx".into(),
        page: 1,
        result: Err(api_error(ErrorCode::InvalidToken, "token expired")),
    });
    snap!("signed_out_popup", h);
    h.key(KeyCode::Char('y'));
    snap!("signin_prefilled", h);
}

#[tokio::test]
async fn inbox_states() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(dir.path(), &["demo@mail.cx"]);
    h.key(KeyCode::Enter);
    snap!("inbox_loading", h);
    h.answer(Reply::Page {
        address: "demo@mail.cx".into(),
        page: 1,
        result: Ok(MessageList {
            messages: vec![],
            page: 1,
        }),
    });
    h.send(Action::Live {
        address: "demo@mail.cx".into(),
        event: LiveEvent::Connected,
    });
    h.answer(Reply::Page {
        address: "demo@mail.cx".into(),
        page: 1,
        result: Ok(MessageList {
            messages: vec![],
            page: 1,
        }),
    });
    snap!("inbox_empty", h);
}

#[tokio::test]
async fn inbox_lists_messages_and_new_mail_arrives_live() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = open_inbox(dir.path());
    snap!("inbox", h);
    h.send(Action::Live {
        address: "demo@mail.cx".into(),
        event: LiveEvent::Email(NewEmail {
            id: Uuid::from_u128(6),
            sender: "carol@example.org".into(),
            from: "Carol <carol@example.org>".into(),
            subject: "Lunch?".into(),
            preview_text: "Are you free at noon tomorrow?".into(),
            size: 2048,
            created_at: now(),
            account_id: Uuid::from_u128(1),
            address: "demo@mail.cx".into(),
        }),
    });
    snap!("inbox_new_mail", h);
    h.send(Action::Live {
        address: "demo@mail.cx".into(),
        event: LiveEvent::Disconnected {
            retry_in: Duration::from_secs(4),
            reason: "the server closed the connection".into(),
        },
    });
    snap!("inbox_offline", h);
    h.key(KeyCode::Char('?'));
    snap!("inbox_help", h);
}

#[tokio::test]
async fn reader_shows_text_html_and_attachments() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = open_reader(dir.path(), true, true);
    snap!("reader_text", h);
    h.key(KeyCode::Char('h'));
    snap!("reader_html", h);
    h.key(KeyCode::Tab);
    h.key(KeyCode::Char('s'));
    h.answer(Reply::Saved(Ok(PathBuf::from("/home/me/Downloads/summit.jpg"))));
    snap!("reader_saved_popup", h);
    h.key(KeyCode::Enter);
    h.key(KeyCode::Char('d'));
    snap!("reader_delete_confirm", h);
    h.key(KeyCode::Char('y'));
    h.answer(Reply::MessageDeleted {
        address: "demo@mail.cx".into(),
        id: Uuid::from_u128(4),
        result: Ok(()),
    });
    snap!("inbox_after_delete", h);
}

#[tokio::test]
async fn reader_of_an_html_only_message_renders_the_html() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = open_reader(dir.path(), false, true);
    snap!("reader_html_only", h);
}

#[tokio::test]
async fn source_view_shows_the_raw_message() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = open_reader(dir.path(), true, false);
    h.key(KeyCode::Char('v'));
    let raw = "Return-Path: <anna@example.org>\r\nFrom: \"Anna Schmidt\" <anna@example.org>\r\n\
               To: demo@mail.cx\r\nSubject: Re: Saturday hike\r\nDate: Wed, 15 Jan 2025 09:43:00 +0000\r\n\
               Message-ID: <c0ffee@example.org>\r\nMIME-Version: 1.0\r\n\
               Content-Type: text/plain; charset=utf-8\r\n\r\nSounds great! Let's meet at the station at 8.\r\n";
    h.answer(Reply::Source {
        address: "demo@mail.cx".into(),
        id: Uuid::from_u128(4),
        result: Ok(Download {
            content_type: "message/rfc822".into(),
            filename: Some("x.eml".into()),
            bytes: raw.as_bytes().to_vec(),
        }),
    });
    snap!("source", h);
}

#[tokio::test]
async fn a_server_that_is_down_gets_an_error_popup() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(dir.path(), &["demo@mail.cx"]);
    h.app.start();
    h.settle(Duration::from_secs(10)).await.unwrap();
    snap!("server_down", h);
}

#[tokio::test]
async fn a_server_answering_garbage_gets_an_error_popup() {
    // A "server" that answers every request with a body that is not JSON.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = socket.read(&mut buf).await;
                let _ = socket
                    .write_all(
                        b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\nConnection: close\r\n\r\n<html>?</html>",
                    )
                    .await;
            });
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness_at(dir.path(), &url, &["demo@mail.cx"]);
    h.app.start();
    h.settle(Duration::from_secs(10)).await.unwrap();
    snap!("server_garbage", h);
}

#[tokio::test]
async fn pages_load_as_you_scroll() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(dir.path(), &["demo@mail.cx"]);
    h.key(KeyCode::Enter);
    let page = |first: u128, count: u128| {
        (first..first + count)
            .map(|n| summary(1000 - n, "a@b.c", &format!("message {n}"), "", n as i64, true))
            .collect::<Vec<_>>()
    };
    h.answer(Reply::Page {
        address: "demo@mail.cx".into(),
        page: 1,
        result: Ok(MessageList {
            messages: page(0, 30),
            page: 1,
        }),
    });
    assert!(h.screen().contains("30+ messages"));
    assert!(!h.app.is_busy());
    // Near the end of what is loaded, the next page is asked for.
    h.key(KeyCode::End);
    assert!(h.screen().contains("loading more"), "{}", h.screen());
    h.answer(Reply::Page {
        address: "demo@mail.cx".into(),
        page: 2,
        result: Ok(MessageList {
            messages: page(30, 12),
            page: 2,
        }),
    });
    let screen = h.screen();
    assert!(
        screen.contains("42 messages"),
        "a short page is the last:\n{screen}"
    );
    // At the end of the last page nothing more is asked.
    h.key(KeyCode::End);
    assert!(!h.app.is_busy());
}

#[tokio::test]
async fn mouse_selects_opens_and_scrolls() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = open_inbox(dir.path());
    h.screen();
    // Row 3 of the screen is the first message (title bar, border, header); row 5 the third.
    h.click(30, 5);
    // The click moved the selection marker from the first message to the third.
    let screen = h.screen();
    assert!(
        line_with(&screen, "Order #1042 shipped").starts_with("│› "),
        "{screen}"
    );
    assert!(
        line_with(&screen, "Your sign-in code").starts_with("│ ●"),
        "{screen}"
    );
    h.click(30, 5);
    let screen = h.screen();
    assert!(screen.contains("Order #1042 shipped"), "{screen}");
    assert!(
        screen.contains("Loading the message"),
        "a second click opens it:\n{screen}"
    );
    h.key(KeyCode::Char('q'));
    h.scroll(true, 30, 5);
    h.key(KeyCode::Enter);
    assert!(
        h.screen().contains("(no subject)"),
        "the wheel moved to the last:\n{}",
        h.screen()
    );
}

#[tokio::test]
async fn copying_the_address_goes_to_the_clipboard() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(dir.path(), &["demo@mail.cx"]);
    h.key(KeyCode::Char('c'));
    assert_eq!(h.app.take_clipboard(), vec!["demo@mail.cx".to_string()]);
    assert!(h.screen().contains("Copied demo@mail.cx"));
}

#[tokio::test]
async fn every_screen_draws_at_any_size_without_panicking() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = open_reader(dir.path(), true, true);
    for (w, hgt) in [(1, 1), (10, 3), (20, 6), (40, 10), (200, 60), (80, 24)] {
        h.resize(w, hgt);
        h.screen();
        h.key(KeyCode::Char('h'));
        h.screen();
        h.key(KeyCode::Char('?'));
        h.screen();
        h.key(KeyCode::Esc);
    }
    h.key(KeyCode::Char('q'));
    for (w, hgt) in [(1, 1), (10, 3), (30, 8)] {
        h.resize(w, hgt);
        h.screen();
        h.key(KeyCode::Down);
    }
    h.key(KeyCode::Char('q'));
    h.key(KeyCode::Char('n'));
    for (w, hgt) in [(1, 1), (10, 3), (30, 8)] {
        h.resize(w, hgt);
        h.screen();
    }
}

#[tokio::test]
async fn refresh_reloads_the_list_from_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = open_inbox(dir.path());
    assert!(h.screen().contains("Order #1042 shipped"));
    h.key(KeyCode::Char('r'));
    // Meanwhile two messages were deleted elsewhere: the reload drops them.
    h.answer(Reply::Page {
        address: "demo@mail.cx".into(),
        page: 1,
        result: Ok(MessageList {
            messages: inbox_messages().into_iter().take(3).collect(),
            page: 1,
        }),
    });
    let screen = h.screen();
    assert!(screen.contains("3 messages"), "{screen}");
    assert!(!screen.contains("This week in Rust"), "{screen}");
}

#[tokio::test]
async fn the_smtp_address_is_whole_in_a_40x12_status_bar() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(dir.path(), &["demo@mail.cx"]);
    h.resize(40, 12);
    let status_bar = |screen: &str| screen.lines().nth(10).unwrap().to_string();
    // Idle: no room for the HTTP address, so only where to send mail shows.
    let screen = h.screen();
    assert!(status_bar(&screen).ends_with("SMTP 127.0.0.1:2525"), "{screen}");
    snap!("status_bar_40x12", h);
    // A request running: the spinner's label is what gets cut.
    h.app.start();
    let screen = h.screen();
    assert!(status_bar(&screen).ends_with("SMTP 127.0.0.1:2525"), "{screen}");
    // A long notice: cut too, the address stays whole.
    h.key(KeyCode::Char('c'));
    let screen = h.screen();
    assert!(status_bar(&screen).contains("Copied"), "{screen}");
    assert!(status_bar(&screen).ends_with("SMTP 127.0.0.1:2525"), "{screen}");
    snap!("status_bar_40x12_notice", h);
    // Narrower than the label: the bare address, never a cut one.
    h.resize(18, 12);
    let screen = h.screen();
    assert!(status_bar(&screen).ends_with("127.0.0.1:2525"), "{screen}");
}

#[tokio::test]
async fn t_makes_a_throwaway_mailbox_opens_it_and_copies_its_address() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(dir.path(), &["demo@mail.cx"]);
    h.answer(domains());
    h.key(KeyCode::Char('t'));
    let screen = h.screen();
    assert!(screen.contains("Creating a throwaway mailbox"), "{screen}");
    // The server's answer names the made-up address; the password is the one that was sent.
    h.answer(Reply::Throwaway {
        address: "k3x9q2m7wa@mail.cx".into(),
        password: "Q7mZp2Lx9WcR4tYb8NvK3sHd".into(),
        result: Ok(AccountToken {
            id: Uuid::from_u128(9),
            address: "k3x9q2m7wa@mail.cx".into(),
            token: "token-t".into(),
        }),
    });
    let screen = h.screen();
    assert!(screen.contains("Mailboxes › k3x9q2m7wa@mail.cx"), "{screen}");
    assert!(screen.contains("Created k3x9q2m7wa@mail.cx"), "{screen}");
    assert_eq!(h.app.take_clipboard(), vec!["k3x9q2m7wa@mail.cx".to_string()]);
    let (saved, _) = Saved::load(dir.path(), &embedded().key());
    let kept = saved.get("k3x9q2m7wa@mail.cx").expect("the throwaway is saved");
    assert_eq!(kept.token, "token-t");
    assert_eq!(kept.password.as_deref(), Some("Q7mZp2Lx9WcR4tYb8NvK3sHd"));

    // Its details show the password, and `p` copies it.
    h.key(KeyCode::Char('q'));
    h.key(KeyCode::Char('i'));
    h.answer(Reply::Me {
        address: "k3x9q2m7wa@mail.cx".into(),
        result: Ok(me("k3x9q2m7wa@mail.cx", 0)),
    });
    snap!("throwaway_inspect", h);
    h.key(KeyCode::Char('p'));
    assert_eq!(
        h.app.take_clipboard(),
        vec!["Q7mZp2Lx9WcR4tYb8NvK3sHd".to_string()]
    );
}

#[tokio::test]
async fn a_throwaway_the_server_refuses_shows_why() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(dir.path(), &[]);
    h.answer(domains());
    h.key(KeyCode::Char('t'));
    h.answer(Reply::Throwaway {
        address: "k3x9q2m7wa@mail.cx".into(),
        password: "x".repeat(24),
        result: Err(api_error(
            ErrorCode::RateLimited,
            "too many accounts created, try again later",
        )),
    });
    let screen = h.screen();
    assert!(screen.contains("Cannot create k3x9q2m7wa@mail.cx"), "{screen}");
    assert!(screen.contains("too many accounts created"), "{screen}");
    assert!(!h.app.is_busy());
    // A real request to a server that is not there: the random address is on the default domain.
    h.key(KeyCode::Esc);
    h.key(KeyCode::Char('t'));
    h.settle(Duration::from_secs(10)).await.unwrap();
    let screen = h.screen();
    let title = line_with(&screen, "Cannot create");
    assert!(title.contains("@mail.cx"), "{screen}");
    let (saved, _) = Saved::load(dir.path(), &embedded().key());
    assert!(saved.mailboxes().is_empty());
}

/// Bug 10: a right-to-left override in a subject, a sender or an attachment name would make the
/// terminal show `invoice\u{202E}fdp.exe` as `invoiceexe.pdf`; it never reaches the screen.
#[tokio::test]
async fn bidi_controls_from_the_server_never_reach_the_screen() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(dir.path(), &["demo@mail.cx"]);
    h.key(KeyCode::Enter);
    let evil = summary(
        7,
        "\"Billing\u{202E}gnilliB\u{202C}\" <b@x.example>",
        "Invoice\u{202E}fdp.exe\u{2066}\u{200F}",
        "see\u{202E} attached",
        1,
        false,
    );
    h.answer(Reply::Page {
        address: "demo@mail.cx".into(),
        page: 1,
        result: Ok(MessageList {
            messages: vec![evil.clone()],
            page: 1,
        }),
    });
    let screen = h.screen();
    assert!(screen.contains("Invoicefdp.exe"), "{screen}");
    assert!(screen.contains("BillinggnilliB"), "{screen}");
    h.key(KeyCode::Enter);
    let mut full = message(true, false);
    full.id = evil.id;
    full.from = evil.from.clone();
    full.subject = evil.subject.clone();
    full.attachments[0].filename = "invoice\u{202E}fdp.exe".into();
    h.answer(Reply::Message {
        address: "demo@mail.cx".into(),
        id: evil.id,
        result: Ok(full),
    });
    h.answer(Reply::MarkedRead {
        address: "demo@mail.cx".into(),
        id: evil.id,
        result: Ok(()),
    });
    let screen = h.screen();
    assert!(screen.contains("invoicefdp.exe"), "{screen}");
    assert!(screen.contains("Invoicefdp.exe"), "{screen}");
    for c in ['\u{202A}', '\u{202C}', '\u{202E}', '\u{2066}', '\u{200F}'] {
        assert!(!screen.contains(c), "{c:?} on screen:\n{screen}");
    }
    snap!("reader_bidi_stripped", h);
}

/// Bug 13: an `https://` URL for a plain HTTP server says to use `http://`, not "received corrupt
/// message of type InvalidContentType".
#[tokio::test]
async fn https_to_a_plain_http_server_says_to_use_http() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = socket.read(&mut buf).await;
                let answer = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
                let _ = socket.write_all(answer).await;
            });
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness_at(dir.path(), &format!("https://{addr}/api/"), &["demo@mail.cx"]);
    h.app.start();
    h.settle(Duration::from_secs(10)).await.unwrap();
    let screen = h.screen();
    assert!(
        screen.contains("does not speak HTTPS"),
        "the popup names the wrong scheme:\n{screen}"
    );
    assert!(screen.contains("try http://127.0.0.1:"), "{screen}");
    assert!(!screen.contains("InvalidContentType"), "{screen}");
}

/// `G` goes to the end of the mailbox, not of the loaded page: it asks for every remaining page
/// and lands on the oldest message once the last page is in.
#[tokio::test]
async fn g_goes_to_the_end_of_every_page() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(dir.path(), &["demo@mail.cx"]);
    h.key(KeyCode::Enter);
    let page = |first: u128, count: u128| {
        (first..first + count)
            .map(|n| summary(1000 - n, "a@b.c", &format!("message {n}"), "", n as i64, true))
            .collect::<Vec<_>>()
    };
    let answer = |h: &mut Harness, number: u32, messages| {
        h.answer(Reply::Page {
            address: "demo@mail.cx".into(),
            page: number,
            result: Ok(MessageList {
                messages,
                page: number,
            }),
        })
    };
    answer(&mut h, 1, page(0, 30));
    h.key(KeyCode::Char('G'));
    let screen = h.screen();
    assert!(line_with(&screen, "message 29").starts_with("│›"), "{screen}");
    assert!(screen.contains("loading more"), "{screen}");
    // Each page that arrives moves the cursor to its end and asks for the next by itself.
    answer(&mut h, 2, page(30, 30));
    let screen = h.screen();
    assert!(line_with(&screen, "message 59").starts_with("│›"), "{screen}");
    assert!(h.app.is_busy(), "page 3 is asked for without a key:\n{screen}");
    answer(&mut h, 3, page(60, 7));
    assert!(!h.app.is_busy(), "the short page was the last");
    let screen = h.screen();
    assert!(screen.contains("67 messages"), "{screen}");
    assert!(line_with(&screen, "message 66").starts_with("│›"), "{screen}");
    snap!("inbox_g_at_the_end", h);

    // Another move before the end stops the trip: the next page no longer moves the cursor.
    let mut h = harness(dir.path(), &["demo@mail.cx"]);
    h.key(KeyCode::Enter);
    answer(&mut h, 1, page(0, 30));
    h.key(KeyCode::Char('G'));
    h.key(KeyCode::Up);
    answer(&mut h, 2, page(30, 30));
    let screen = h.screen();
    assert!(line_with(&screen, "message 28").starts_with("│›"), "{screen}");
    assert!(!h.app.is_busy(), "no more pages asked for:\n{screen}");
}
