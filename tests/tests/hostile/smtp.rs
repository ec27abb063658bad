//! Attacks on the SMTP receiver, over real TCP: addresses the two sides disagreed on, and more
//! below. Each test shows the attack is refused and that the server goes on serving others.

use mailcx_common::Client;
use mailcx_tests::mail::{Smtp, deliver, text_message};
use mailcx_tests::{PASSWORD, TestServer, expect_error};
use reqwest::StatusCode;
use serde_json::json;

const FROM: &str = "sender@example.org";

/// The messages on page 1 of a mailbox.
async fn count(client: &Client) -> usize {
    client.messages(1).await.expect("the list").messages.len()
}

/// Leading, trailing and doubled dots in the local part: the API used to create such mailboxes
/// (201) that SMTP could never deliver to. One rule, in `common`, now refuses them on both sides.
#[tokio::test]
async fn addresses_with_stray_dots_are_refused_by_the_api_and_by_rcpt_alike() {
    let server = TestServer::start().await;
    let dotted = [
        "a..b@mail.cx",
        ".x@mail.cx",
        "x.@mail.cx",
        "..@mail.cx",
        ".@mail.cx",
    ];
    for address in dotted {
        let body = json!({"address": address, "password": PASSWORD});
        let message = expect_error(
            server.post_json("/api/accounts", &body).await,
            StatusCode::BAD_REQUEST,
            "invalid_address",
        )
        .await;
        assert!(message.contains("dot"), "{address}: {message}");
    }

    let mut smtp = Smtp::open(server.smtp_addr()).await;
    smtp.expect(&format!("MAIL FROM:<{FROM}>"), 250).await;
    for address in dotted {
        let reply = smtp.command(&format!("RCPT TO:<{address}>")).await;
        assert_eq!(reply.code / 100, 5, "RCPT {address}: {reply:?}");
    }

    // An ordinary address with dots in the middle works end to end, whatever its letter case.
    let (_, client) = server.create_mailbox("first.middle.last").await;
    let message = text_message(FROM, "first.middle.last@mail.cx", "dots", "Hello");
    deliver(server.smtp_addr(), FROM, &["First.Middle.Last@mail.cx"], &message).await;
    smtp.expect("RCPT TO:<first.middle.last@MAIL.CX>", 250).await;
    smtp.data(&message).await.assert_code(250);
    assert_eq!(count(&client).await, 2);
}
