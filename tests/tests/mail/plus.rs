//! Plus-addressing over real SMTP: `local+tag@domain` lands in `local@domain` with the address as
//! written kept (message and `new_email`), a mailbox with the full address wins, an unknown base
//! is refused, and two tags of one mailbox in one transaction make one copy each.

use std::time::Duration;

use mailcx_common::Client;
use mailcx_tests::TestServer;
use mailcx_tests::mail::{Smtp, deliver, text_message};

const SENDER: &str = "plus-sender@example.org";
const DEADLINE: Duration = Duration::from_secs(30);

/// The addresses of every message in the mailbox, newest first.
async fn addresses(client: &Client) -> Vec<String> {
    let mut found = Vec::new();
    for summary in client.messages(1).await.unwrap().messages {
        found.push(client.message(summary.id).await.unwrap().address);
    }
    found
}

#[tokio::test]
async fn plus_mail_lands_in_the_base_mailbox_with_its_address_kept() {
    let server = TestServer::start().await;
    let (account, client) = server.create_mailbox("dev").await;
    let mut socket = client.subscribe().await.unwrap();
    let to = server.address("dev+signup-42");
    deliver(
        server.smtp_addr(),
        SENDER,
        &[&to],
        &text_message(SENDER, &to, "Your code", "1234"),
    )
    .await;

    let event = tokio::time::timeout(DEADLINE, socket.next_email())
        .await
        .expect("no new_email pushed")
        .expect("the socket closed")
        .unwrap();
    assert_eq!(event.address, to, "the event keeps the address as written");
    assert_eq!(event.account_id, account.id);
    assert_eq!(addresses(&client).await, [to]);
    // Mail to the base address itself keeps the base address.
    let base = server.address("dev");
    deliver(
        server.smtp_addr(),
        SENDER,
        &[&base],
        &text_message(SENDER, &base, "plain", "x"),
    )
    .await;
    assert_eq!(addresses(&client).await[0], base);
    // Upper case in the RCPT is stored as the address is stored everywhere: lower-cased.
    let shouted = format!("DEV+Loud@{}", server.domain());
    deliver(
        server.smtp_addr(),
        SENDER,
        &[&shouted],
        &text_message(SENDER, &shouted, "loud", "x"),
    )
    .await;
    assert_eq!(addresses(&client).await[0], server.address("dev+loud"));
}

#[tokio::test]
async fn a_mailbox_with_the_full_plus_address_takes_precedence() {
    let server = TestServer::start().await;
    let (_, base) = server.create_mailbox("team").await;
    let (_, exact) = server.create_mailbox("team+ops").await;
    let to = server.address("team+ops");
    deliver(
        server.smtp_addr(),
        SENDER,
        &[&to],
        &text_message(SENDER, &to, "ops", "x"),
    )
    .await;
    assert_eq!(addresses(&exact).await, [to]);
    assert!(base.messages(1).await.unwrap().messages.is_empty());
}

#[tokio::test]
async fn an_unknown_base_or_an_empty_one_is_refused() {
    let server = TestServer::start().await;
    server.create_mailbox("known").await;
    let mut smtp = Smtp::open(server.smtp_addr()).await;
    smtp.expect(&format!("MAIL FROM:<{SENDER}>"), 250).await;
    for to in ["nobody+tag", "+known", "known2+tag"] {
        smtp.command(&format!("RCPT TO:<{}>", server.address(to)))
            .await
            .assert_status(550, "5.1.1");
    }
    // A tag on a tag is still the base's: only the first `+` splits.
    smtp.expect(&format!("RCPT TO:<{}>", server.address("known+a+b")), 250)
        .await;
}

#[tokio::test]
async fn two_tags_of_one_mailbox_in_one_transaction_make_one_copy_each() {
    let server = TestServer::start().await;
    let (_, client) = server.create_mailbox("qa").await;
    let (one, two) = (server.address("qa+one"), server.address("qa+two"));
    let message = text_message(SENDER, &one, "twice", "x");
    let mut smtp = Smtp::open(server.smtp_addr()).await;
    // The same address twice is one recipient; two tags are two.
    let reply = smtp.transaction(SENDER, &[&one, &two, &one], &message).await;
    reply.assert_code(250);
    let mut found = addresses(&client).await;
    found.sort();
    assert_eq!(found, [one, two]);
    let me = client.me().await.unwrap();
    assert_eq!(me.used, 2 * message.len() as u64, "each copy counts");
    assert_eq!((me.messages, me.unread), (2, 2));
}

#[tokio::test]
async fn copies_for_two_tags_must_fit_the_quota_together() {
    let server = TestServer::start_with(|c| c.quota = 1000).await;
    let (_, client) = server.create_mailbox("tight").await;
    let (one, two) = (server.address("tight+one"), server.address("tight+two"));
    let message = mailcx_tests::mail::message_of_size(SENDER, &one, "big", 600);
    let mut smtp = Smtp::open(server.smtp_addr()).await;
    smtp.expect(&format!("MAIL FROM:<{SENDER}>"), 250).await;
    smtp.expect(&format!("RCPT TO:<{one}>"), 250).await;
    smtp.expect(&format!("RCPT TO:<{two}>"), 250).await;
    smtp.data(&message).await.assert_code(552);
    assert!(
        client.messages(1).await.unwrap().messages.is_empty(),
        "nothing stored"
    );
}
