//! Taking the code or the link out of a mail, and following the newest mail: screen tests at
//! 80×24 (and the picker at 40×12) with made-up server answers, in the style of `screens.rs`.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use mailcx::action::Want;
use mailcx::crossterm::event::KeyCode;
use mailcx::extract::extract;
use mailcx::screens::Screen;
use mailcx::testing::Harness;
use mailcx::{Action, LiveEvent, Reply};
use mailcx_common::{Message, MessageList, MessageSummary, NewEmail};
use uuid::Uuid;

use support::{NOWHERE, mailbox, now, summary};

const ADDRESS: &str = "demo@mail.cx";

fn messages() -> Vec<MessageSummary> {
    vec![
        summary(
            3,
            "GitHub <noreply@github.com>",
            "Your sign-in code",
            "Use 482913 to sign in.",
            2,
            false,
        ),
        summary(
            2,
            "Example App <hi@app.example.com>",
            "Your login link",
            "Click the button below to log in.",
            30,
            false,
        ),
        summary(
            1,
            "newsletter@news.example",
            "This week in Rust",
            "Hello and welcome to another issue.",
            60 * 24,
            false,
        ),
    ]
}

const GITHUB_TEXT: &str = "Use 482913 to sign in. It expires in 10 minutes, at 10:42 UTC.\n\n\
                           Not you? Visit https://github.com/settings/security.";

const MAGIC_HTML: &str = "<p>Your code is: <b>K7Q2XP</b></p><p><a href=\"https://app.example.com/login?\
                          token=eyJhbGciOi.abc_DEF-123&amp;next=%2F\">Log in</a> or \
                          <a href=\"https://app.example.com/unsubscribe?id=9\">unsubscribe</a>.</p>";

fn message(n: u128, text: Option<&str>, html: Option<&str>) -> Message {
    let s = messages()
        .into_iter()
        .find(|m| m.id == Uuid::from_u128(n))
        .unwrap();
    Message {
        id: s.id,
        sender: s.sender,
        from: s.from,
        subject: s.subject,
        address: ADDRESS.into(),
        size: s.size,
        created_at: s.created_at,
        is_read: false,
        text_body: text.map(String::from),
        html_body: html.map(String::from),
        attachments: Vec::new(),
    }
}

fn harness(dir: &Path) -> Harness {
    support::harness_with(dir, NOWHERE, vec![mailbox(ADDRESS, 1, "token-0")])
}

fn page(list: Vec<MessageSummary>) -> Reply {
    Reply::Page {
        address: ADDRESS.into(),
        page: 1,
        result: Ok(MessageList {
            messages: list,
            page: 1,
        }),
    }
}

/// The inbox open with the sample messages, live, the newest selected.
fn open_inbox(dir: &Path) -> Harness {
    let mut h = harness(dir);
    h.send(Action::OpenInbox(ADDRESS.into()));
    h.answer(page(messages()));
    h.send(Action::Live {
        address: ADDRESS.into(),
        event: LiveEvent::Connected,
    });
    h.answer(page(messages()));
    assert!(!h.app.is_busy());
    h
}

/// The message with id `n` open in the reader.
fn open_reader(dir: &Path, n: u128, text: Option<&str>, html: Option<&str>) -> Harness {
    let mut h = open_inbox(dir);
    h.send(Action::OpenMessage {
        address: ADDRESS.into(),
        id: Uuid::from_u128(n),
    });
    h.answer(Reply::Message {
        address: ADDRESS.into(),
        id: Uuid::from_u128(n),
        result: Ok(message(n, text, html)),
    });
    h.answer(Reply::MarkedRead {
        address: ADDRESS.into(),
        id: Uuid::from_u128(n),
        result: Ok(()),
    });
    h
}

fn new_mail(n: u128, subject: &str) -> Action {
    Action::Live {
        address: ADDRESS.into(),
        event: LiveEvent::Email(NewEmail {
            id: Uuid::from_u128(n),
            sender: "carol@example.org".into(),
            from: "Carol <carol@example.org>".into(),
            subject: subject.into(),
            preview_text: "Your code is 111222.".into(),
            size: 2048,
            created_at: now(),
            account_id: Uuid::from_u128(1),
            address: ADDRESS.into(),
        }),
    }
}

fn inbox(h: &Harness) -> &mailcx::screens::Inbox {
    h.app
        .screens()
        .iter()
        .find_map(|s| match s {
            Screen::Inbox(i) => Some(i),
            _ => None,
        })
        .expect("the inbox is open")
}

fn selected(h: &Harness) -> Uuid {
    inbox(h).selected().expect("a row is selected").id
}

macro_rules! snap {
    ($name:expr, $h:expr) => {
        insta::assert_snapshot!($name, $h.screen())
    };
}

/// Snapshots the screen at 80×24 as `name` and at 40×12 as `name_40x12`, then goes back to 80×24.
fn snap_both(h: &mut Harness, name: &str) {
    snap!(name, h);
    h.resize(40, 12);
    snap!(format!("{name}_40x12"), h);
    h.resize(80, 24);
}

#[tokio::test]
async fn y_on_an_inbox_row_fetches_the_body_once_and_copies_the_code() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = open_inbox(dir.path());
    h.key(KeyCode::Char('y'));
    // The body is fetched in the background: nothing copied yet, the spinner says why.
    assert!(h.app.is_busy());
    assert!(h.app.take_clipboard().is_empty());
    assert!(h.screen().contains("Reading the message"));
    let m = message(3, Some(GITHUB_TEXT), None);
    h.answer(Reply::Taken {
        address: ADDRESS.into(),
        id: m.id,
        want: Want::Code,
        result: Ok(extract(&m.subject, m.text_body.as_deref(), None)),
    });
    assert_eq!(h.app.take_clipboard(), vec!["482913".to_string()]);
    snap!("inbox_code_copied", h);

    // Again: no second request, same code.
    h.key(KeyCode::Char('y'));
    assert!(!h.app.is_busy());
    assert_eq!(h.app.take_clipboard(), vec!["482913".to_string()]);
    assert!(h.screen().contains("Copied the code 482913"));
}

#[tokio::test]
async fn a_mail_without_a_code_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = open_reader(
        dir.path(),
        1,
        Some("Rust 1.84 is out: https://blog.rust-lang.org/2025/01/09/Rust-1.84.0.html. 437 PRs merged."),
        None,
    );
    h.key(KeyCode::Char('y'));
    assert!(h.app.take_clipboard().is_empty());
    assert!(h.screen().contains("No code in this message; Y lists its links"));
}

#[tokio::test]
async fn reader_copies_the_code_and_the_picker_lists_codes_then_links() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = open_reader(dir.path(), 2, None, Some(MAGIC_HTML));
    h.key(KeyCode::Char('y'));
    assert!(!h.app.is_busy(), "the reader has the body: no request");
    assert_eq!(h.app.take_clipboard(), vec!["K7Q2XP".to_string()]);
    snap!("reader_code_copied", h);

    h.key(KeyCode::Char('Y'));
    snap_both(&mut h, "picker");
    // ↓ ⏎ copies the chosen row: the magic link, entities decoded.
    h.key(KeyCode::Down);
    h.key(KeyCode::Enter);
    assert_eq!(
        h.app.take_clipboard(),
        vec!["https://app.example.com/login?token=eyJhbGciOi.abc_DEF-123&next=%2F".to_string()]
    );
    assert!(h.app.popups().is_empty());
    assert!(
        h.screen()
            .contains("Copied the link https://app.example.com/login")
    );
}

/// Waits until `path` holds something, and returns it.
async fn read_when_written(path: &Path) -> String {
    for _ in 0..200 {
        if let Ok(text) = std::fs::read_to_string(path)
            && !text.is_empty()
        {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{} was never written", path.display());
}

#[tokio::test]
async fn o_runs_the_opener_with_the_best_link_and_reports_failures() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = open_reader(dir.path(), 2, None, Some(MAGIC_HTML));
    let record = dir.path().join("opened");
    // A fake browser that records its argument.
    h.app.set_opener(vec![
        "sh".into(),
        "-c".into(),
        format!("printf %s \"$1\" > '{}'", record.display()),
        "sh".into(),
    ]);
    h.key(KeyCode::Char('o'));
    assert!(h.screen().contains("Opening https://app.example.com/login"));
    assert_eq!(
        read_when_written(&record).await,
        "https://app.example.com/login?token=eyJhbGciOi.abc_DEF-123&next=%2F"
    );

    // `o` in the picker opens the chosen link, even one `o` alone would not open.
    std::fs::remove_file(&record).unwrap();
    h.key(KeyCode::Char('Y'));
    h.key(KeyCode::Char('G'));
    h.key(KeyCode::Char('o'));
    assert_eq!(
        read_when_written(&record).await,
        "https://app.example.com/unsubscribe?id=9"
    );

    // An opener that cannot start is reported at once; one that fails, by the thread that waits
    // for it. (Last: waiting also applies the failures of the requests made to nowhere.)
    h.app.set_opener(vec!["/nonexistent/browser".into()]);
    h.key(KeyCode::Char('o'));
    let screen = h.screen();
    assert!(screen.contains("Cannot run /nonexistent/browser"), "{screen}");
    h.app.set_opener(vec!["false".into()]);
    h.key(KeyCode::Char('o'));
    h.wait_for_text("false could not open the link", Duration::from_secs(10))
        .await
        .unwrap();
}

#[tokio::test]
async fn new_mail_takes_the_cursor_from_the_top_row_only() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = open_inbox(dir.path());
    // On the top row: the cursor moves onto the new mail.
    h.send(new_mail(10, "Your code"));
    assert_eq!(selected(&h), Uuid::from_u128(10));
    assert!(!h.screen().contains("new ·"));

    // Elsewhere: it stays on its message, and the title counts what arrived above.
    h.key(KeyCode::Down);
    h.key(KeyCode::Down);
    assert_eq!(selected(&h), Uuid::from_u128(2));
    h.send(new_mail(11, "Another code"));
    assert_eq!(selected(&h), Uuid::from_u128(2), "the cursor keeps its message");
    assert_eq!(inbox(&h).new_above(), 1);
    h.send(new_mail(12, "Yet another code"));
    snap!("inbox_new_above", h);
    assert!(h.screen().contains("↑ 2 new"));

    // N opens the newest and clears the marker.
    h.key(KeyCode::Char('N'));
    assert_eq!(selected(&h), Uuid::from_u128(12));
    assert_eq!(inbox(&h).new_above(), 0);
    assert!(
        matches!(h.app.screens().last(), Some(Screen::Reader(r)) if r.id == Uuid::from_u128(12)),
        "the newest is open"
    );
}

#[tokio::test]
async fn n_in_the_reader_opens_the_newer_mail() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = open_reader(dir.path(), 2, None, Some(MAGIC_HTML));
    h.send(new_mail(10, "Your new code"));
    h.key(KeyCode::Char('N'));
    assert!(matches!(h.app.screens().last(), Some(Screen::Reader(r)) if r.id == Uuid::from_u128(10)));
    assert_eq!(
        h.app.screens().len(),
        3,
        "home, inbox, reader: the old reader was closed"
    );
    // Already on the newest: it says so and stays.
    h.key(KeyCode::Char('N'));
    assert!(h.screen().contains("This is the newest message"));
    assert_eq!(h.app.screens().len(), 3);
}

#[tokio::test]
async fn a_reload_keeps_the_cursor_on_its_message() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = open_inbox(dir.path());
    h.key(KeyCode::Down);
    assert_eq!(selected(&h), Uuid::from_u128(2));
    h.key(KeyCode::Char('r'));
    h.answer(page(messages()));
    assert_eq!(selected(&h), Uuid::from_u128(2));
    // Gone meanwhile: the cursor stays at its row.
    h.key(KeyCode::Char('r'));
    let mut fewer = messages();
    fewer.remove(1);
    h.answer(page(fewer));
    assert_eq!(selected(&h), Uuid::from_u128(1));
}

/// The summaries of `messages()` whose ids are listed, in that order.
fn only(ids: &[u128]) -> Vec<MessageSummary> {
    let all = messages();
    ids.iter()
        .map(|n| all.iter().find(|m| m.id == Uuid::from_u128(*n)).unwrap().clone())
        .collect()
}

#[tokio::test]
async fn slash_filters_through_the_server_and_esc_clears() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = open_inbox(dir.path());
    h.key(KeyCode::Char('/'));
    // While typing, letters go to the line, not to the keys (`q` does not leave, `d` asks nothing).
    h.type_text("sign qd");
    h.key(KeyCode::Backspace);
    h.key(KeyCode::Backspace);
    assert!(h.app.popups().is_empty() && h.app.screens().len() == 2);
    snap_both(&mut h, "filter_typing");

    // ⏎ asks the server; its answer replaces the list, the line stays.
    h.key(KeyCode::Enter);
    assert!(h.screen().contains("Searching"));
    h.answer(Reply::Found {
        address: ADDRESS.into(),
        query: "sign".into(),
        page: 1,
        result: Ok(MessageList {
            messages: only(&[3]),
            page: 1,
        }),
    });
    assert_eq!(inbox(&h).query(), "sign");
    assert_eq!(inbox(&h).messages().len(), 1);
    snap_both(&mut h, "filter_applied");

    // An unfiltered page that was on its way does not undo the filter.
    h.send(Action::Net {
        task: 0,
        reply: page(messages()),
    });
    assert_eq!(inbox(&h).messages().len(), 1);

    // Nothing found: it says so, and how to get back.
    h.key(KeyCode::Char('/'));
    h.type_text("zz");
    h.key(KeyCode::Enter);
    h.answer(Reply::Found {
        address: ADDRESS.into(),
        query: "signzz".into(),
        page: 1,
        result: Ok(MessageList {
            messages: Vec::new(),
            page: 1,
        }),
    });
    let screen = h.screen();
    assert!(screen.contains("No message matches “signzz”"), "{screen}");

    // Esc drops the filter and shows everything again; a second Esc leaves the inbox.
    h.key(KeyCode::Esc);
    assert_eq!(inbox(&h).query(), "");
    h.answer(page(messages()));
    assert_eq!(inbox(&h).messages().len(), 3);
    assert!(!h.screen().contains("“"));
    h.key(KeyCode::Esc);
    assert_eq!(h.app.screens().len(), 1);
}

#[tokio::test]
async fn space_picks_rows_and_d_deletes_them_after_one_question() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = open_inbox(dir.path());
    // space picks and moves down: the first and the third.
    h.key(KeyCode::Char(' '));
    h.key(KeyCode::Down);
    h.key(KeyCode::Char(' '));
    assert_eq!(inbox(&h).marked(), vec![Uuid::from_u128(3), Uuid::from_u128(1)]);
    snap!("inbox_marked", h);
    h.key(KeyCode::Char('d'));
    snap_both(&mut h, "delete_marked_confirm");
    // ⏎ does not confirm; only y does.
    h.key(KeyCode::Enter);
    assert!(h.app.popups().is_empty() && !h.app.is_busy());
    h.key(KeyCode::Char('d'));
    h.key(KeyCode::Char('y'));
    assert!(h.screen().contains("Deleting the messages"));
    // The server deleted the first, then failed: the list drops only that one and says why.
    h.answer(Reply::MessagesDeleted {
        address: ADDRESS.into(),
        deleted: vec![Uuid::from_u128(3)],
        error: Some(mailcx_common::ClientError::Transport("connection reset".into())),
    });
    assert_eq!(inbox(&h).messages().len(), 2);
    assert_eq!(inbox(&h).marked(), vec![Uuid::from_u128(1)]);
    assert!(h.screen().contains("Deleted 1 messages, then failed"));

    // Esc first clears the selection, and only then leaves.
    h.key(KeyCode::Esc);
    h.key(KeyCode::Esc);
    assert!(inbox(&h).marked().is_empty());
    assert_eq!(h.app.screens().len(), 2);
}

#[tokio::test]
async fn shift_d_deletes_all_mail_after_one_question() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = open_inbox(dir.path());
    h.key(KeyCode::Char('D'));
    snap_both(&mut h, "delete_all_confirm");
    h.key(KeyCode::Char('n'));
    assert!(h.app.popups().is_empty() && !h.app.is_busy());
    h.key(KeyCode::Char('D'));
    h.key(KeyCode::Char('y'));
    h.answer(Reply::AllDeleted {
        address: ADDRESS.into(),
        result: Ok(()),
    });
    // The list is asked for again (mail may have come meanwhile).
    assert!(h.screen().contains("Deleted all mail of demo@mail.cx"));
    h.answer(page(Vec::new()));
    assert!(h.screen().contains("No mail yet"));
}

const LONG_SUBJECT: &str = "Action required: confirm the e-mail address of your Example Cloud account \
                            before 2025-01-16 to keep access to your projects and billing";

const SOURCE: &[u8] = b"From: \"Example Cloud\" <no-reply@cloud.example.com>\r\n\
To: demo@mail.cx\r\n\
Cc: \"Team Lead\" <lead@example.org>\r\n\
Reply-To: support@cloud.example.com\r\n\
Subject: Action required: confirm the e-mail address of your Example Cloud account\r\n \
before 2025-01-16 to keep access to your projects and billing\r\n\
Date: Wed, 15 Jan 2025 10:28:00 +0000\r\n\
Message-ID: <20250115102800.4711@cloud.example.com>\r\n\
List-Unsubscribe: <mailto:unsub@cloud.example.com?subject=unsubscribe>,\r\n \
<https://cloud.example.com/unsubscribe?u=8f3a>\r\n\
\r\n\
Confirm: https://cloud.example.com/confirm?t=1\r\n";

/// The reader on message 2 with the long subject, a text part and an HTML part.
fn open_long(dir: &Path) -> Harness {
    let mut h = open_inbox(dir);
    let id = Uuid::from_u128(2);
    h.send(Action::OpenMessage {
        address: ADDRESS.into(),
        id,
    });
    let mut m = message(
        2,
        Some("Line one.\nLine two: https://cloud.example.com/confirm?t=1\n"),
        Some(MAGIC_HTML),
    );
    m.subject = LONG_SUBJECT.into();
    h.answer(Reply::Message {
        address: ADDRESS.into(),
        id,
        result: Ok(m),
    });
    h.answer(Reply::MarkedRead {
        address: ADDRESS.into(),
        id,
        result: Ok(()),
    });
    h
}

#[tokio::test]
async fn the_reader_shows_the_whole_subject_and_h_the_headers() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = open_long(dir.path());
    snap!("reader_long_subject", h);
    let screen = h.screen();
    assert!(screen.contains("to keep access to your projects and"), "{screen}");
    assert!(
        screen.contains("│          billing "),
        "wrapped, not cut:\n{screen}"
    );

    h.key(KeyCode::Char('H'));
    assert!(h.screen().contains("Loading the headers"));
    h.answer(Reply::Headers {
        address: ADDRESS.into(),
        id: Uuid::from_u128(2),
        result: Ok(mailcx::headers::parse(SOURCE)),
    });
    snap!("headers", h);
    h.resize(40, 12);
    snap!("headers_40x12", h);
    // Scrolls to the end at 40x12: List-Unsubscribe is whole.
    h.key(KeyCode::Char('G'));
    let screen = h.screen();
    assert!(screen.contains("u=8f3a>"), "{screen}");
    h.key(KeyCode::Char('q'));
    assert!(matches!(h.app.screens().last(), Some(Screen::Reader(_))));
}

#[tokio::test]
async fn headers_that_cannot_load_say_why() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = open_long(dir.path());
    h.key(KeyCode::Char('H'));
    h.answer(Reply::Headers {
        address: ADDRESS.into(),
        id: Uuid::from_u128(2),
        result: Err(mailcx_common::ClientError::Transport("connection refused".into())),
    });
    assert!(h.screen().contains("Cannot load the headers"));
    assert!(matches!(h.app.screens().last(), Some(Screen::Reader(_))));
}

#[tokio::test]
async fn c_copies_the_text_and_pipe_hands_it_to_a_command() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = open_long(dir.path());
    h.key(KeyCode::Char('C'));
    assert_eq!(
        h.app.take_clipboard(),
        vec!["Line one.\nLine two: https://cloud.example.com/confirm?t=1\n".to_string()]
    );
    assert!(h.screen().contains("Copied the message text (2 lines)"));

    // `|` offers $PAGER; ^U clears it for another command. Esc cancels without running.
    h.key(KeyCode::Char('|'));
    h.key(KeyCode::Esc);
    assert!(!h.app.wants_terminal());
    h.key(KeyCode::Char('|'));
    h.ctrl('u');
    let out = dir.path().join("piped");
    h.type_text(&format!("cat > '{}'", out.display()));
    let screen = h.screen();
    assert!(screen.contains("⏎ run"), "{screen}");
    h.key(KeyCode::Enter);
    assert!(h.app.wants_terminal(), "the run loop hands it the terminal");
    let pipe = h.app.take_pipe().unwrap();
    h.app.piped(&pipe.command, pipe.run());
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "Line one.\nLine two: https://cloud.example.com/confirm?t=1\n"
    );
    // A failing command is reported.
    let failing = mailcx::outside::Pipe {
        command: "exit 2".into(),
        text: String::new(),
    };
    h.app.piped("exit 2", failing.run());
    assert!(h.screen().contains("exit 2 ended with exit status: 2"));
}

#[tokio::test]
async fn the_pipe_prompt_at_both_sizes() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = open_long(dir.path());
    h.key(KeyCode::Char('|'));
    h.ctrl('u');
    h.type_text("grep -o 'https://[^ ]*'");
    snap!("pipe_prompt", h);
    h.resize(40, 12);
    snap!("pipe_prompt_40x12", h);
}

#[cfg(unix)]
#[tokio::test]
async fn shift_o_opens_the_html_from_a_private_temp_file_removed_at_the_end() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let mut h = open_long(dir.path());
    let record = dir.path().join("opened");
    h.app.set_opener(vec![
        "sh".into(),
        "-c".into(),
        format!("printf %s \"$1\" > '{}'", record.display()),
        "sh".into(),
    ]);
    h.key(KeyCode::Char('O'));
    h.wait_for_text("Opening", Duration::from_secs(10)).await.unwrap();
    let path = PathBuf::from(read_when_written(&record).await);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), MAGIC_HTML);
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "only this user can read the mail");
    drop(h);
    assert!(!path.exists(), "removed when the app ends");
}

#[tokio::test]
async fn shift_o_on_a_text_only_mail_says_there_is_no_html() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = open_reader(dir.path(), 3, Some(GITHUB_TEXT), None);
    h.key(KeyCode::Char('O'));
    assert!(h.screen().contains("This message has no HTML part"));
    assert!(!h.app.is_busy());
}

#[tokio::test]
async fn home_counts_unread_and_mail_for_a_mailbox_not_on_screen_gets_a_notice() {
    use std::sync::{Arc, Mutex};
    let dir = tempfile::tempdir().unwrap();
    let mut h = open_inbox(dir.path());
    let alerts = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink = alerts.clone();
    h.app.set_notifications(
        mailcx::watch::Notify::Desktop,
        Box::new(move |s| sink.lock().unwrap().push(s.to_string())),
    );
    // Back home: the counts are asked for again, and the mailbox is watched from now on.
    h.key(KeyCode::Char('q'));
    h.answer(Reply::Me {
        address: ADDRESS.into(),
        result: Ok(mailcx_common::Me {
            id: Uuid::from_u128(1),
            address: ADDRESS.into(),
            role: mailcx_common::Role::User,
            quota: 41_943_040,
            used: 5_135,
            created_at: now(),
            messages: 3,
            unread: 2,
        }),
    });
    snap_both(&mut h, "home_unread");

    // Mail for it while home: a notice, the counts go up, and the desktop notification is sent.
    let Action::Live { event, .. } = new_mail(20, "Your code") else {
        unreachable!()
    };
    h.send(Action::Live {
        address: ADDRESS.into(),
        event,
    });
    let screen = h.screen();
    assert!(
        screen.contains("New mail for demo@mail.cx from Carol: Your code"),
        "{screen}"
    );
    assert!(screen.contains("3 unread · 7.0 KiB of 40 MiB used"), "{screen}");
    assert_eq!(
        alerts.lock().unwrap().as_slice(),
        ["\x1b]9;New mail for demo@mail.cx from Carol: Your code\x07".to_string()]
    );
}

#[tokio::test]
async fn notifications_are_off_by_default() {
    use std::sync::{Arc, Mutex};
    let dir = tempfile::tempdir().unwrap();
    let mut h = open_inbox(dir.path());
    let alerts = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink = alerts.clone();
    h.app.set_notifications(
        mailcx::watch::Notify::default(),
        Box::new(move |s| sink.lock().unwrap().push(s.to_string())),
    );
    h.key(KeyCode::Char('q'));
    let Action::Live { event, .. } = new_mail(20, "Your code") else {
        unreachable!()
    };
    h.send(Action::Live {
        address: ADDRESS.into(),
        event,
    });
    assert!(h.screen().contains("New mail for demo@mail.cx"));
    assert!(alerts.lock().unwrap().is_empty());
}

#[tokio::test]
async fn relative_ages_wake_the_loop_at_most_once_a_minute_and_only_when_shown() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(dir.path());
    h.screen();
    assert_eq!(h.app.next_wake(), None, "home shows no age: no wake-up");

    // The inbox shows "2m", "30m", "1d": the first changes in a minute.
    let mut h = open_inbox(dir.path());
    h.screen();
    assert_eq!(h.app.next_wake(), Some(Duration::from_secs(60)));

    // A message 10 s from its next minute: that is when the loop wakes...
    let mut h = harness(dir.path());
    h.send(Action::OpenInbox(ADDRESS.into()));
    let mut list = messages();
    list[0].created_at = now() - chrono::Duration::seconds(170);
    h.answer(page(list));
    h.screen();
    assert_eq!(h.app.next_wake(), Some(Duration::from_secs(10)));
    // ...and after it woke, not again within the minute.
    h.app.tick();
    let wake = h.app.next_wake().unwrap();
    assert!(wake > Duration::from_secs(55), "{wake:?}");

    // An empty inbox shows no age.
    let mut h = harness(dir.path());
    h.send(Action::OpenInbox(ADDRESS.into()));
    h.answer(page(Vec::new()));
    h.screen();
    assert_eq!(h.app.next_wake(), None);
}

#[tokio::test]
async fn the_reader_s_age_wakes_the_loop_too() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = open_reader(dir.path(), 2, Some("Hi."), None);
    h.screen();
    assert!(h.screen().contains("(30m ago)"));
    assert_eq!(h.app.next_wake(), Some(Duration::from_secs(60)));
}

#[tokio::test]
async fn the_loop_returns_to_hand_the_terminal_to_a_piped_command() {
    use mailcx::ratatui::Terminal;
    use mailcx::ratatui::backend::TestBackend;
    use mailcx::run::{LoopStats, run_loop};
    let dir = tempfile::tempdir().unwrap();
    let mut h = open_long(dir.path());
    h.key(KeyCode::Char('|'));
    h.ctrl('u');
    h.type_text("wc -l");
    h.key(KeyCode::Enter);
    let (mut app, mut actions) = h.into_parts();
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
    let mut stats = LoopStats::default();
    // No event ever comes: the loop must return by itself, not wait.
    let returned = tokio::time::timeout(
        Duration::from_secs(10),
        run_loop(
            &mut terminal,
            &mut app,
            futures_util::stream::pending(),
            &mut actions,
            |_| {},
            &mut stats,
        ),
    )
    .await;
    assert!(matches!(returned, Ok(Ok(()))), "{returned:?}");
    assert!(!app.should_quit(), "it returned for the command, not to quit");
    let pipe = app.take_pipe().expect("the command waits for the terminal");
    assert_eq!(pipe.command, "wc -l");
    assert!(pipe.text.starts_with("Line one."));
}
