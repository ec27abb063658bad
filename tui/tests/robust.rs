//! Screen tests for issue 9's robustness bugs: the offline countdown and `r`, small terminals,
//! wide and ambiguous characters, heavy work off the update loop. Snapshots at 80×24 and 40×12.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use mailcx::crossterm::event::KeyCode;
use mailcx::testing::Harness;
use mailcx::{Action, LiveEvent, Reply};
use mailcx_common::client::Download;
use mailcx_common::{Attachment, Domain, Message, MessageList};
use uuid::Uuid;

use support::{NOWHERE, mailbox, summary};

const ADDRESS: &str = "demo@mail.cx";

/// An app with one saved mailbox, shown as the embedded server on the usual ports.
fn harness(dir: &Path) -> Harness {
    support::harness_with(dir, NOWHERE, vec![mailbox(ADDRESS, 1, "token")])
}

fn page() -> Reply {
    page_of(vec![
        summary(
            2,
            "GitHub <noreply@github.com>",
            "Your sign-in code",
            "Use 482913.",
            2,
            false,
        ),
        summary(
            1,
            "Shop <orders@shop.example>",
            "Order shipped",
            "On its way.",
            300,
            true,
        ),
    ])
}

fn page_of(messages: Vec<mailcx_common::MessageSummary>) -> Reply {
    Reply::Page {
        address: ADDRESS.into(),
        page: 1,
        result: Ok(MessageList { messages, page: 1 }),
    }
}

/// The mailbox's inbox, open and loaded.
fn inbox(dir: &Path) -> Harness {
    let mut h = harness(dir);
    h.answer(Reply::Domains(Ok(vec![Domain {
        id: Uuid::from_u128(100),
        domain: "mail.cx".into(),
        default: true,
        sort_order: 0,
    }])));
    h.key(KeyCode::Enter);
    h.answer(page());
    h
}

/// The mailbox's inbox, its live connection down with `retry_in` to go.
fn offline_inbox(dir: &Path, retry_in: Duration) -> Harness {
    let mut h = inbox(dir);
    h.send(Action::Live {
        address: ADDRESS.into(),
        event: LiveEvent::Disconnected {
            retry_in,
            reason: "cannot reach the server".into(),
        },
    });
    h
}

#[tokio::test]
async fn the_offline_countdown_counts_down_and_wakes_the_loop_only_for_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = offline_inbox(dir.path(), Duration::from_secs(2));
    assert!(h.screen().contains("offline, retrying in 2s"), "{}", h.screen());
    // The loop wakes by itself once a second to redraw the number, not more often.
    let wake = h.app.next_wake().expect("a countdown on screen wakes the loop");
    assert!(wake <= Duration::from_millis(1001), "{wake:?}");

    let deadline = Instant::now() + Duration::from_secs(20);
    while !h.screen().contains("offline, retrying in 1s") {
        assert!(Instant::now() < deadline, "no countdown:\n{}", h.screen());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Live again: the countdown is gone; only the ages on screen ("2m") still wake the loop,
    // once a minute.
    h.send(Action::Live {
        address: ADDRESS.into(),
        event: LiveEvent::Connected,
    });
    h.answer(page());
    assert!(h.screen().contains("● live"));
    assert_eq!(h.app.next_wake(), Some(Duration::from_secs(60)));
}

#[tokio::test]
async fn r_in_an_offline_inbox_retries_the_live_connection_now() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = offline_inbox(dir.path(), Duration::from_secs(16));
    let screen = h.screen();
    assert!(screen.contains("offline, retrying in 16s"), "{screen}");
    h.key(KeyCode::Char('r'));
    let screen = h.screen();
    assert!(screen.contains("connecting"), "r reconnects at once:\n{screen}");
    assert!(!screen.contains("offline"), "{screen}");
}

/// The first message of the inbox open in the reader, with these bodies and attachments.
fn reader(dir: &Path, text: Option<String>, html: Option<String>, files: usize) -> Harness {
    let mut h = inbox(dir);
    h.key(KeyCode::Enter);
    let s = summary(
        2,
        "GitHub <noreply@github.com>",
        "Your sign-in code",
        "",
        2,
        false,
    );
    let attachments = (0..files)
        .map(|i| Attachment {
            index: i as u32,
            filename: format!("file-{i}.pdf"),
            content_type: "application/pdf".into(),
            size: 48_213,
        })
        .collect();
    h.answer(Reply::Message {
        address: ADDRESS.into(),
        id: s.id,
        result: Ok(Message {
            id: s.id,
            sender: s.sender,
            from: s.from,
            subject: s.subject,
            address: ADDRESS.into(),
            size: s.size,
            created_at: s.created_at,
            is_read: true,
            text_body: text,
            html_body: html,
            attachments,
        }),
    });
    h
}

/// A large HTML body: rendering it as text takes long enough to freeze a frame.
fn large_html() -> String {
    let mut html = String::from("<html><body><h1>Quarterly report</h1>");
    for i in 0..4000 {
        html.push_str(&format!(
            "<p>Paragraph {i} of the <b>report</b>, with a <a href=\"https://x.example/{i}\">link</a>.</p>"
        ));
    }
    html.push_str("</body></html>");
    html
}

#[tokio::test]
async fn large_html_is_rendered_in_the_background_once_per_width() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = reader(dir.path(), None, Some(large_html()), 0);
    // The frame does not wait for the conversion: a spinner shows, a task does the work.
    let screen = h.screen();
    assert!(screen.contains("Rendering the HTML…"), "{screen}");
    assert!(h.app.is_busy());
    h.wait_for_text("Quarterly report", Duration::from_secs(60))
        .await
        .unwrap();

    // A resize renders again, in the background; back at the old width it is at hand.
    h.resize(40, 12);
    // The first frame at the new width finds the text missing and starts the task; the next
    // shows it running (in the body, or in the status bar when a popup covers the body).
    h.screen();
    let screen = h.screen();
    assert!(screen.contains("Rendering the HT"), "{screen}");
    h.settle(Duration::from_secs(60)).await.unwrap();
    h.resize(80, 24);
    let screen = h.screen();
    assert!(
        !screen.contains("Rendering the HTML"),
        "cached per width:\n{screen}"
    );
    assert!(!h.app.is_busy());
}

#[tokio::test]
async fn a_large_source_is_split_into_lines_in_the_background() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = reader(dir.path(), Some("Hi".into()), None, 0);
    h.settle(Duration::from_secs(10)).await.ok();
    h.key(KeyCode::Char('v'));
    let mut source = b"Subject: big\r\n\r\n".to_vec();
    while source.len() < 2 * 1024 * 1024 {
        source.extend_from_slice(b"0123456789 abcdefghijklmnopqrstuvwxyz 0123456789\r\n");
    }
    let id = support::summary(2, "", "", "", 0, false).id;
    h.answer(Reply::Source {
        address: ADDRESS.into(),
        id,
        result: Ok(Download {
            content_type: "message/rfc822".into(),
            filename: None,
            bytes: source,
        }),
    });
    let screen = h.screen();
    assert!(screen.contains("Decoding the source"), "{screen}");
    assert!(!screen.contains("┌ Source"), "{screen}");
    h.wait_for_text("Subject: big", Duration::from_secs(60))
        .await
        .unwrap();
}

/// Bug 2: a flag (two regional indicators), a ZWJ family, an emoji with VS16 and a skin tone are
/// drawn with the widths every terminal agrees on, so no glyph spills into the next cell and
/// stays behind on another screen; ^L repaints every cell anyway.
#[tokio::test]
async fn flags_and_emoji_sequences_are_drawn_in_agreed_widths() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(dir.path());
    h.key(KeyCode::Enter);
    h.answer(page_of(vec![summary(
        1,
        "\u{1F1E9}\u{1F1EA} Bahn <tickets@bahn.example>",
        "Your tickets \u{1F1E9}\u{1F1EA}\u{2192}\u{1F1EB}\u{1F1F7} \u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467} \u{2764}\u{FE0F}",
        "Have a good trip \u{1F44B}\u{1F3FD}",
        5,
        false,
    )]));
    insta::assert_snapshot!("emoji_inbox", h.screen());
    h.resize(40, 12);
    insta::assert_snapshot!("emoji_inbox_40x12", h.screen());
    assert!(!h.screen().contains('\u{1F1E9}'));

    assert!(!h.app.take_full_redraw());
    h.ctrl('l');
    assert!(h.app.take_full_redraw(), "^L asks for a full repaint");
    assert!(!h.app.take_full_redraw(), "once");
}

/// Bug 4: at 40×12 the create form shows the focused field and its error, scrolling to each
/// field in turn; nothing is cut off for good.
#[tokio::test]
async fn the_create_form_scrolls_to_every_field_and_its_error_at_40x12() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(dir.path());
    h.answer(Reply::Domains(Ok(vec![Domain {
        id: Uuid::from_u128(100),
        domain: "mail.cx".into(),
        default: true,
        sort_order: 0,
    }])));
    h.resize(40, 12);
    h.key(KeyCode::Char('n'));
    h.type_text("Bad Name");
    h.key(KeyCode::Tab);
    h.key(KeyCode::Tab);
    h.type_text("short");
    h.key(KeyCode::Tab);
    h.type_text("other");
    insta::assert_snapshot!("create_40x12_confirm", h.screen());
    // Submitting focuses the first bad field: the address, with its error, scrolled into view.
    h.key(KeyCode::Enter);
    insta::assert_snapshot!("create_40x12_address", h.screen());
    h.key(KeyCode::Tab);
    h.key(KeyCode::Tab);
    insta::assert_snapshot!("create_40x12_password", h.screen());
    h.resize(80, 24);
    insta::assert_snapshot!("create_80x24_errors", h.screen());
}

/// Bug 4: the sign-in form at 40×12 shows both fields and the refusal under the password.
#[tokio::test]
async fn the_sign_in_form_shows_both_fields_and_its_error_at_40x12() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(dir.path());
    h.resize(40, 12);
    h.key(KeyCode::Char('s'));
    h.type_text("someone@mail.cx");
    h.key(KeyCode::Tab);
    h.type_text("wrong-password");
    h.key(KeyCode::Enter);
    h.answer(Reply::SignedIn {
        address: "someone@mail.cx".into(),
        result: Err(mailcx_common::ClientError::Api {
            status: 401,
            body: mailcx_common::ErrorBody {
                error: mailcx_common::ErrorCode::InvalidCredentials,
                message: "wrong address or password".into(),
            },
            retry_after: None,
        }),
    });
    insta::assert_snapshot!("signin_40x12_refused", h.screen());
    h.resize(80, 24);
    insta::assert_snapshot!("signin_80x24_refused", h.screen());
}

/// Bug 4: the reader of a message with attachments still shows its body at 40×12.
#[tokio::test]
async fn the_reader_with_attachments_shows_the_body_at_40x12() {
    let dir = tempfile::tempdir().unwrap();
    let body = "Your code is 482913.\n\nIt expires in 10 minutes.";
    let mut h = reader(dir.path(), Some(body.into()), None, 3);
    h.resize(40, 12);
    let screen = h.screen();
    insta::assert_snapshot!("reader_attachments_40x12", screen);
    assert!(screen.contains("Your code is 482913."), "{screen}");
    h.key(KeyCode::Tab);
    assert!(h.screen().contains("file-1.pdf"), "{}", h.screen());
    h.resize(80, 24);
    insta::assert_snapshot!("reader_attachments_80x24", h.screen());
}

/// Bug 4: the help popup scrolls when the terminal is too short for every key.
#[tokio::test]
async fn the_help_popup_scrolls_at_40x12() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(dir.path());
    h.resize(40, 12);
    h.key(KeyCode::Char('?'));
    insta::assert_snapshot!("help_40x12_top", h.screen());
    h.key(KeyCode::Char('G'));
    let screen = h.screen();
    insta::assert_snapshot!("help_40x12_bottom", screen);
    assert!(
        screen.contains("quit at once"),
        "the last key is reachable:\n{screen}"
    );
    h.key(KeyCode::Up);
    assert!(h.screen().contains("↑↓ more"), "{}", h.screen());
    h.resize(80, 24);
    insta::assert_snapshot!("help_80x24", h.screen());
}

/// Bug 7: a live connection the server refused for good (too many sockets) does not claim to be
/// retrying; it says `r` retries, and `r` does.
#[tokio::test]
async fn a_refused_live_connection_says_r_retries() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = inbox(dir.path());
    h.send(Action::Live {
        address: ADDRESS.into(),
        event: LiveEvent::Refused(mailcx_common::ClientError::Api {
            status: 429,
            body: mailcx_common::ErrorBody {
                error: mailcx_common::ErrorCode::TooManyConnections,
                message: "the mailbox already has 3 sockets open".into(),
            },
            retry_after: None,
        }),
    });
    let screen = h.screen();
    assert!(screen.contains("offline, r retries"), "{screen}");
    // No countdown to redraw each second (the ages in the rows still wake it once a minute).
    let wake = h.app.next_wake();
    assert!(wake.is_none_or(|w| w > Duration::from_secs(1)), "{wake:?}");
    h.key(KeyCode::Char('r'));
    assert!(h.screen().contains("connecting"), "{}", h.screen());
}
