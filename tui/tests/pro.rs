//! Screen tests of the Pro area: the sign-in form and every tab and box at 80×24 and 40×12,
//! driven by keys with made-up server answers, compared with the snapshots in `tests/snapshots`.

mod support;

use std::path::Path;

use mailcx::crossterm::event::KeyCode;
use mailcx::keys;
use mailcx::pro::session::{self, Session};
use mailcx::pro::{ProAction, ProReply};
use mailcx::screens::{pro_area, pro_signin};
use mailcx::testing::Harness;
use mailcx::{Action, Reply};
use mailcx_common::{
    CreatedDomain, CreatedToken, CustomDomain, DnsRecord, DomainCheck, ErrorCode, ProAccount, ProAccountList,
    TokenInfo, VerifyStatus, Webhook, WebhookDelivery, WebhookDeliveryList, WebhookStatus,
};
use uuid::Uuid;

use support::{NOWHERE, ago, api_error, both, embedded, now};

/// An app for the embedded server with its config in `dir`, optionally signed in to Pro.
fn harness(dir: &Path, signed_in: bool) -> Harness {
    if signed_in {
        let s = Session {
            email: "owner@example.com".into(),
            token: "pro-jwt".into(),
        };
        session::store(dir, &embedded().key(), Some(s)).unwrap();
    }
    support::harness_with(dir, NOWHERE, Vec::new())
}

fn account(n: u128, address: &str, used: u64) -> ProAccount {
    ProAccount {
        id: Uuid::from_u128(n),
        address: address.into(),
        quota: 52_428_800,
        used,
        created_at: ago(n as i64 * 60),
        messages: n as u64,
        unread: n as u64 % 2,
    }
}

fn domain(n: u128, name: &str, verified: bool) -> CustomDomain {
    CustomDomain {
        id: Uuid::from_u128(100 + n),
        domain: name.into(),
        verify_status: if verified {
            VerifyStatus::Verified
        } else {
            VerifyStatus::Pending
        },
        verify_token: format!("mailcx-verify-{n:0>32}"),
        verified_at: verified.then(|| ago(30)),
        mx_configured: verified,
        created_at: ago(120),
    }
}

fn hook() -> Webhook {
    Webhook {
        id: Uuid::from_u128(300),
        url: "https://hooks.example.com/mailcx".into(),
        events: vec!["email.received".into()],
        secret: "whsec_0123456789abcdef0123456789abcdef".into(),
        status: WebhookStatus::Active,
        failure_count: 0,
        last_triggered_at: Some(ago(2)),
        created_at: ago(600),
    }
}

/// The Pro area with its four lists answered (in the order the app asks for them).
fn area(dir: &Path) -> Harness {
    let mut h = harness(dir, true);
    h.send(Action::Pro(ProAction::Open));
    h.answer(Reply::Pro(ProReply::Accounts(Ok(ProAccountList {
        accounts: vec![
            account(1, "sales@example.org", 123_456),
            account(2, "support@example.org", 0),
            account(3, "signups@mail.cx", 4_200_000),
        ],
        page: 1,
    }))));
    h.answer(Reply::Pro(ProReply::Domains(Ok(vec![
        domain(1, "example.org", true),
        domain(2, "shop.example.net", false),
    ]))));
    h.answer(Reply::Pro(ProReply::Tokens(Ok(vec![
        TokenInfo {
            id: Uuid::from_u128(201),
            name: "ci".into(),
            last_used_at: Some(ago(5)),
            created_at: ago(3000),
            revoked_at: None,
        },
        TokenInfo {
            id: Uuid::from_u128(202),
            name: "laptop".into(),
            last_used_at: None,
            created_at: ago(2000),
            revoked_at: None,
        },
        TokenInfo {
            id: Uuid::from_u128(203),
            name: "old script".into(),
            last_used_at: Some(ago(4000)),
            created_at: ago(9000),
            revoked_at: Some(ago(1500)),
        },
    ]))));
    h.answer(Reply::Pro(ProReply::Webhooks(Ok(vec![hook()]))));
    h
}

#[tokio::test]
async fn the_sign_in_form_offers_the_local_pro_user_and_shows_the_servers_refusal() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(dir.path(), false);
    h.key(KeyCode::Char('P'));
    both!(&mut h, "pro_signin");
    h.type_text("owner@example.com");
    h.key(KeyCode::Tab);
    h.type_text("wrong");
    h.key(KeyCode::Enter);
    h.answer(Reply::Pro(ProReply::LoggedIn {
        email: "owner@example.com".into(),
        result: Err(api_error(
            ErrorCode::InvalidCredentials,
            "wrong email or password",
        )),
    }));
    both!(&mut h, "pro_signin_refused");
}

#[tokio::test]
async fn the_mailboxes_tab_lists_usage_and_live_mail_and_filters() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = area(dir.path());
    let email = mailcx_common::NewEmail {
        id: Uuid::from_u128(900),
        sender: "bob@example.net".into(),
        from: "Bob <bob@example.net>".into(),
        subject: "Order 1234".into(),
        preview_text: "Hello".into(),
        size: 2048,
        created_at: now(),
        account_id: Uuid::from_u128(2),
        address: "support@example.org".into(),
    };
    h.send(Action::Live {
        address: mailcx::pro::LIVE_KEY.into(),
        event: mailcx::LiveEvent::Connected,
    });
    h.send(Action::Live {
        address: mailcx::pro::LIVE_KEY.into(),
        event: mailcx::LiveEvent::Email(email),
    });
    both!(&mut h, "pro_mailboxes");
    h.key(KeyCode::Char('/'));
    h.type_text("example");
    both!(&mut h, "pro_mailboxes_filter");
    h.key(KeyCode::Enter);
    h.key(KeyCode::Char('n'));
    h.type_text("sales@example.org");
    h.key(KeyCode::Enter);
    h.answer(Reply::Pro(ProReply::MailboxCreated {
        password: "x".into(),
        result: Err(api_error(
            ErrorCode::AddressTaken,
            "this address is already in use",
        )),
    }));
    both!(&mut h, "pro_mailboxes_new_taken");
}

#[tokio::test]
async fn a_reset_password_is_shown_once_with_a_copy_key() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = area(dir.path());
    h.key(KeyCode::Char('p'));
    both!(&mut h, "pro_mailboxes_reset_question");
    h.key(KeyCode::Char('y'));
    h.answer(Reply::Pro(ProReply::PasswordReset {
        address: "sales@example.org".into(),
        password: "N3wPassw0rdN3wPassw0rdAB".into(),
        result: Ok(mailcx_common::AccountToken {
            id: Uuid::from_u128(1),
            address: "sales@example.org".into(),
            token: "mailbox-jwt".into(),
        }),
    }));
    both!(&mut h, "pro_mailboxes_new_password");
    h.key(KeyCode::Char('c'));
    assert_eq!(h.app.take_clipboard(), ["N3wPassw0rdN3wPassw0rdAB"]);
}

#[tokio::test]
async fn the_domains_tab_shows_records_verify_marks_and_what_delete_takes() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = area(dir.path());
    h.key(KeyCode::Tab);
    both!(&mut h, "pro_domains");
    h.key(KeyCode::Char('a'));
    h.type_text("shop.example.com");
    h.key(KeyCode::Enter);
    let record = |kind: &str, host: &str, value: &str, priority, ok| DnsRecord {
        record_type: kind.into(),
        host: host.into(),
        value: value.into(),
        priority,
        ok,
        found: None,
    };
    h.answer(Reply::Pro(ProReply::DomainAdded(Ok(CreatedDomain {
        id: Uuid::from_u128(103),
        domain: "shop.example.com".into(),
        verify_status: VerifyStatus::Pending,
        verify_token: "mailcx-verify-abc".into(),
        dns_records: vec![
            record(
                "TXT",
                "_mailcx-verify.shop.example.com",
                "mailcx-verify-abc",
                None,
                None,
            ),
            record("MX", "shop.example.com", "mx.mail.cx", Some(10), None),
        ],
    }))));
    both!(&mut h, "pro_domains_records");
    h.key(KeyCode::Down);
    h.key(KeyCode::Char('c'));
    assert_eq!(h.app.take_clipboard(), ["mx.mail.cx"]);
    h.key(KeyCode::Esc);
    h.key(KeyCode::Down);
    h.key(KeyCode::Char('v'));
    h.answer(Reply::Pro(ProReply::Verified {
        id: Uuid::from_u128(102),
        result: Ok(DomainCheck {
            verify_status: VerifyStatus::Pending,
            dns_records: vec![
                record(
                    "TXT",
                    "_mailcx-verify.shop.example.net",
                    "mailcx-verify-2",
                    None,
                    Some(true),
                ),
                record("MX", "shop.example.net", "mx.mail.cx", Some(10), Some(false)),
            ],
        }),
    }));
    // The verify box asks this machine's DNS too (the oldest request is the list reload).
    h.answer(Reply::Pro(ProReply::Domains(Ok(vec![
        domain(1, "example.org", true),
        domain(2, "shop.example.net", false),
    ]))));
    h.answer(Reply::Pro(ProReply::DnsAnswers {
        title: "shop.example.net is not verified yet".into(),
        answers: vec!["mailcx-verify-2".into(), "10 mx.elsewhere.example".into()],
    }));
    both!(&mut h, "pro_domains_verify");
    h.key(KeyCode::Esc);
    h.key(KeyCode::Up);
    h.key(KeyCode::Char('d'));
    both!(&mut h, "pro_domains_delete_question");
}

#[tokio::test]
async fn a_minted_token_is_shown_once_and_revoking_asks_first() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = area(dir.path());
    h.key(KeyCode::Tab);
    h.key(KeyCode::Tab);
    both!(&mut h, "pro_tokens");
    h.key(KeyCode::Char('n'));
    h.type_text("deploy");
    both!(&mut h, "pro_tokens_mint");
    h.key(KeyCode::Enter);
    h.answer(Reply::Pro(ProReply::Minted(Ok(CreatedToken {
        id: Uuid::from_u128(204),
        name: "deploy".into(),
        token: "tm_pro_0123456789abcdefghijABCDEFGHIJ01".into(),
    }))));
    both!(&mut h, "pro_tokens_minted");
    h.key(KeyCode::Char('c'));
    assert_eq!(
        h.app.take_clipboard(),
        ["tm_pro_0123456789abcdefghijABCDEFGHIJ01"]
    );
    assert!(
        !h.screen().contains("Copied tm_pro_"),
        "the notice keeps the secret out"
    );
    h.key(KeyCode::Esc);
    h.key(KeyCode::Char('d'));
    both!(&mut h, "pro_tokens_revoke_question");
}

#[tokio::test]
async fn the_webhook_tab_shows_deliveries_the_secret_on_demand_and_inline_errors() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = area(dir.path());
    h.key(KeyCode::BackTab);
    let delivery = |n: u128, code: Option<u16>, error: Option<&str>, attempt| WebhookDelivery {
        id: Uuid::from_u128(400 + n),
        event_type: "email.received".into(),
        event_id: format!("evt_{n}"),
        status_code: code,
        error: error.map(String::from),
        attempt,
        duration_ms: 12 * n as u64,
        created_at: ago(n as i64),
    };
    h.send(Action::Net {
        task: 0,
        reply: Reply::Pro(ProReply::Deliveries(Ok(WebhookDeliveryList {
            deliveries: vec![
                delivery(1, Some(200), None, 2),
                delivery(3, None, Some("connection refused"), 1),
                delivery(7, Some(500), None, 1),
            ],
            page: 1,
        }))),
    });
    both!(&mut h, "pro_webhook");
    h.key(KeyCode::Char('s'));
    both!(&mut h, "pro_webhook_secret");

    // Without a webhook: create one; the server's refusal shows under the URL.
    h.send(Action::Net {
        task: 0,
        reply: Reply::Pro(ProReply::Webhooks(Ok(Vec::new()))),
    });
    h.key(KeyCode::Char('n'));
    h.type_text("ftp://example.com");
    h.key(KeyCode::Enter);
    h.answer(Reply::Pro(ProReply::WebhookSaved(Err(api_error(
        ErrorCode::InvalidRequest,
        "the webhook URL must be http or https",
    )))));
    both!(&mut h, "pro_webhook_invalid_url");
}

#[tokio::test]
async fn a_refused_session_leads_back_to_sign_in_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = area(dir.path());
    h.send(Action::Net {
        task: 0,
        reply: Reply::Pro(ProReply::Tokens(Err(api_error(
            ErrorCode::InvalidToken,
            "the token is invalid or expired",
        )))),
    });
    both!(&mut h, "pro_signed_out");
    assert!(session::load(dir.path(), &embedded().key()).is_none());
}

#[test]
fn every_pro_key_hint_names_a_bound_key() {
    keys::check_table(pro_area::MAILBOX_KEYS).unwrap();
    keys::check_table(pro_area::DOMAIN_KEYS).unwrap();
    keys::check_table(pro_area::TOKEN_KEYS).unwrap();
    keys::check_table(pro_area::WEBHOOK_KEYS).unwrap();
    keys::check_table(pro_area::INPUT_KEYS).unwrap();
    keys::check_table(pro_area::SHOW_KEYS).unwrap();
    keys::check_table(pro_signin::KEYS).unwrap();
}

#[tokio::test]
async fn the_wheel_moves_the_selection_and_a_click_picks_a_tab() {
    use mailcx::crossterm::event::{Event, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
    let dir = tempfile::tempdir().unwrap();
    let mut h = area(dir.path());
    let mouse = |kind, column, row| {
        Event::Mouse(MouseEvent {
            kind,
            column,
            row,
            modifiers: KeyModifiers::NONE,
        })
    };
    h.app.handle_event(mouse(MouseEventKind::ScrollDown, 10, 5));
    assert!(h.screen().contains("› signups@mail.cx"), "{}", h.screen());
    // The tab bar is the first row under the title: " Mailboxes  Domains  Tokens  Webhook".
    h.app
        .handle_event(mouse(MouseEventKind::Down(MouseButton::Left), 24, 1));
    assert!(h.screen().contains("API tokens"), "{}", h.screen());
}
