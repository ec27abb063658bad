//! Retention over real time: with a 2-second retention a message expires, then answers 410
//! `expired` (message and source), leaves the list, and its size leaves `used` once swept.

use std::time::Duration;

use mailcx_tests::mail::{deliver, text_message};
use mailcx_tests::{TestServer, expect_error, read, wait_for};
use reqwest::StatusCode;

const SENDER: &str = "retention@example.org";

#[tokio::test]
async fn an_expired_message_answers_410_leaves_the_list_and_frees_its_space() {
    let server = TestServer::start_with(|c| c.retention = Duration::from_secs(2)).await;
    let (account, client) = server.create_mailbox("demo").await;
    let message = text_message(SENDER, "demo@mail.cx", "short-lived", "Gone soon");
    deliver(server.smtp_addr(), SENDER, &["demo@mail.cx"], &message).await;

    let listed = client.messages(1).await.unwrap().messages;
    assert_eq!(listed.len(), 1);
    let id = listed[0].id;
    assert_eq!(client.me().await.unwrap().used, message.len() as u64);
    let path = format!("/api/messages/{id}");

    // Readable until it expires; then 410.
    wait_for(
        "the message to expire",
        Duration::from_secs(30),
        Duration::from_millis(100),
        || {
            let response = server.get(&path, Some(&account.token));
            async move {
                let (status, _, body) = read(response.await).await;
                match status {
                    StatusCode::OK => None,
                    StatusCode::GONE => Some(()),
                    other => panic!("before or after expiry only 200 or 410, got {other}: {body}"),
                }
            }
        },
    )
    .await;
    expect_error(
        server.get(&path, Some(&account.token)).await,
        StatusCode::GONE,
        "expired",
    )
    .await;
    let source = server.get(&format!("{path}/source"), Some(&account.token)).await;
    expect_error(source, StatusCode::GONE, "expired").await;
    assert!(
        client.messages(1).await.unwrap().messages.is_empty(),
        "an expired message is not listed"
    );

    // The sweeper gives the space back, and the id still answers 410 afterwards.
    wait_for(
        "the sweep to free the space",
        Duration::from_secs(30),
        Duration::from_millis(100),
        || async { (client.me().await.unwrap().used == 0).then_some(()) },
    )
    .await;
    expect_error(
        server.get(&path, Some(&account.token)).await,
        StatusCode::GONE,
        "expired",
    )
    .await;
    let source = server.get(&format!("{path}/source"), Some(&account.token)).await;
    expect_error(source, StatusCode::GONE, "expired").await;
    assert!(client.messages(1).await.unwrap().messages.is_empty());

    // Another mailbox never learns that the id existed.
    let (other, _) = server.create_mailbox("other").await;
    expect_error(
        server.get(&path, Some(&other.token)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;

    // New mail still arrives and is readable.
    let fresh = text_message(SENDER, "demo@mail.cx", "fresh", "New");
    deliver(server.smtp_addr(), SENDER, &["demo@mail.cx"], &fresh).await;
    let listed = client.messages(1).await.unwrap().messages;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].subject, "fresh");
}

#[tokio::test]
async fn mail_keeps_the_expiry_it_arrived_with_after_a_restart_that_keeps_mail_forever() {
    let mut server = TestServer::start_with(|c| c.retention = Duration::from_secs(3)).await;
    let (_, client) = server.create_mailbox("stamped").await;
    let old = text_message(SENDER, "stamped@mail.cx", "old rules", "Expires in 3 s");
    deliver(server.smtp_addr(), SENDER, &["stamped@mail.cx"], &old).await;

    server.restart_with(|c| c.retention = Duration::ZERO).await;
    let client = server.client().with_token(client.token().unwrap().to_string());
    let new = text_message(SENDER, "stamped@mail.cx", "new rules", "Kept forever");
    deliver(server.smtp_addr(), SENDER, &["stamped@mail.cx"], &new).await;

    // The old message still goes when due, and its space with it; the new one stays.
    wait_for(
        "the old message to be swept",
        Duration::from_secs(30),
        Duration::from_millis(100),
        || async { (client.me().await.unwrap().used == new.len() as u64).then_some(()) },
    )
    .await;
    let listed = client.messages(1).await.unwrap().messages;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].subject, "new rules");
}
