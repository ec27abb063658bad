//! Screen tests of watching an open inbox (`w`): the watch form, an open inbox on the home
//! screen and in its inbox, and its popups, at 80×24 and 40×12, with made-up server answers.

mod support;

use std::path::Path;

use mailcx::crossterm::event::KeyCode;
use mailcx::saved::SavedMailbox;
use mailcx::testing::Harness;
use mailcx::{Action, LiveEvent, Reply};
use mailcx_common::NewEmail;
use mailcx_common::v1::{Config, LocalPartRules, SystemDomain};
use uuid::Uuid;

use support::{NOWHERE, ago, both, mailbox};

/// An app on the embedded server's usual ports with a mailbox and an open inbox saved.
fn harness(dir: &Path) -> Harness {
    let saved = vec![
        mailbox("demo@mail.cx", 1, "token"),
        SavedMailbox::open_inbox("signup-test@mail.cx"),
    ];
    support::harness_with(dir, NOWHERE, saved)
}

fn config(open_domains: &[&str]) -> Reply {
    Reply::OpenConfig(Ok(Config {
        system_domains: vec![SystemDomain {
            domain: "mail.cx".into(),
            default: true,
        }],
        open_domains: open_domains.iter().map(|d| d.to_string()).collect(),
        local_part_rules: LocalPartRules {
            pattern: mailcx_common::v1::LOCAL_PART_PATTERN.into(),
            max_length: 64,
        },
        retention_seconds: 3600,
    }))
}

fn email(n: u128, subject: &str, minutes: i64) -> NewEmail {
    NewEmail {
        id: Uuid::from_u128(n),
        sender: "no-reply@example.com".into(),
        from: "no-reply@example.com".into(),
        subject: subject.into(),
        preview_text: format!("Your code is 48291{n}"),
        size: 0,
        created_at: ago(minutes),
        account_id: Uuid::nil(),
        address: "signup-test@mail.cx".into(),
    }
}

/// Answers the open-domain config, whatever else `start` asked for.
fn start_with(h: &mut Harness, open_domains: &[&str]) {
    h.app.start();
    h.send(Action::Net {
        task: 0,
        reply: config(open_domains),
    });
}

#[tokio::test]
async fn home_marks_an_open_inbox_with_its_count_and_retention() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(dir.path());
    start_with(&mut h, &["mail.cx"]);
    h.send(Action::Live {
        address: "signup-test@mail.cx".into(),
        event: LiveEvent::Existing(vec![email(1, "Welcome", 5), email(2, "Your code", 2)]),
    });
    h.key(KeyCode::Down);
    let screen = h.screen();
    assert!(screen.contains("open · 2 mail · kept 1h"), "{screen}");
    both!(&mut h, "watch_home");

    // `i` tells what an open inbox is; `x` asks before forgetting it.
    h.key(KeyCode::Char('i'));
    both!(&mut h, "watch_inspect");
    h.key(KeyCode::Esc);
    h.key(KeyCode::Char('x'));
    both!(&mut h, "watch_forget");
}

#[tokio::test]
async fn the_watch_form_checks_the_address_and_offers_a_random_one() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(dir.path());
    start_with(&mut h, &["mail.cx", "tempmail.example"]);
    h.key(KeyCode::Char('w'));
    both!(&mut h, "watch_form_empty");

    // A mailbox with a password is not an open inbox.
    h.type_text("demo");
    h.key(KeyCode::Enter);
    assert!(matches!(
        h.app.screens().last(),
        Some(mailcx::screens::Screen::Watch(_))
    ));
    both!(&mut h, "watch_form_mailbox");

    // Another open domain, chosen with the arrows on the domain field.
    h.key(KeyCode::Tab);
    h.key(KeyCode::Right);
    let screen = h.screen();
    assert!(screen.contains("demo@tempmail.example"), "{screen}");

    // ^R fills in a random local part on the chosen domain.
    h.key(KeyCode::Tab);
    h.ctrl('r');
    let screen = h.screen();
    let line = screen
        .lines()
        .find(|l| l.contains("Will watch"))
        .unwrap()
        .to_string();
    assert!(
        line.contains("@tempmail.example") && !line.contains("demo@"),
        "{line}"
    );
}

#[tokio::test]
async fn a_server_without_open_domains_is_said_in_the_form() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(dir.path());
    start_with(&mut h, &[]);
    h.key(KeyCode::Char('w'));
    h.type_text("anyone");
    h.key(KeyCode::Enter);
    both!(&mut h, "watch_form_no_open_domains");
}

#[tokio::test]
async fn an_open_inbox_opens_at_once_and_fills_from_its_live_polls() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(dir.path());
    start_with(&mut h, &["mail.cx"]);
    h.key(KeyCode::Down);
    h.key(KeyCode::Enter);
    // Empty at once, not loading: the list comes from the long polls.
    let screen = h.screen();
    assert!(screen.contains("Mailboxes › signup-test@mail.cx"), "{screen}");
    h.send(Action::Live {
        address: "signup-test@mail.cx".into(),
        event: LiveEvent::Connected,
    });
    h.send(Action::Live {
        address: "signup-test@mail.cx".into(),
        event: LiveEvent::Existing(vec![email(1, "Welcome", 5)]),
    });
    h.send(Action::Live {
        address: "signup-test@mail.cx".into(),
        event: LiveEvent::Email(email(2, "Your code", 0)),
    });
    both!(&mut h, "watch_inbox");
}
