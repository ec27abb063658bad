//! `GET /api/me`'s `messages` and `unread` (extensions) are exact through arrivals, read marks,
//! deletes and `DELETE /api/messages` (extension), which empties the mailbox and `used`.

use mailcx_tests::mail::{deliver, text_message};
use mailcx_tests::{TestServer, expect_error};
use reqwest::StatusCode;

const SENDER: &str = "counts@example.org";

#[tokio::test]
async fn counts_follow_arrivals_reads_and_deletes() {
    let server = TestServer::start().await;
    let (_, client) = server.create_mailbox("counted").await;
    let (_, other) = server.create_mailbox("other").await;
    let to = server.address("counted");
    // More than a page, so the counts cannot be a page's.
    for n in 0..35 {
        let message = text_message(SENDER, &to, &format!("n{n}"), "x");
        deliver(server.smtp_addr(), SENDER, &[&to], &message).await;
    }
    let me = client.me().await.unwrap();
    assert_eq!((me.messages, me.unread), (35, 35));

    let page = client.messages(1).await.unwrap().messages;
    client.mark_read(page[0].id).await.unwrap();
    client.mark_read(page[0].id).await.unwrap();
    client.mark_read(page[1].id).await.unwrap();
    let me = client.me().await.unwrap();
    assert_eq!(
        (me.messages, me.unread),
        (35, 33),
        "a second mark changes nothing"
    );

    client.delete_message(page[0].id).await.unwrap();
    client.delete_message(page[2].id).await.unwrap();
    let me = client.me().await.unwrap();
    assert_eq!((me.messages, me.unread), (33, 32), "one read and one unread gone");

    let me = other.me().await.unwrap();
    assert_eq!((me.messages, me.unread), (0, 0), "another mailbox is untouched");
}

#[tokio::test]
async fn delete_all_empties_the_mailbox_and_its_used() {
    let server = TestServer::start().await;
    let (account, client) = server.create_mailbox("full").await;
    let (_, other) = server.create_mailbox("spared").await;
    for to in [server.address("full"), server.address("spared")] {
        for n in 0..5 {
            let message = text_message(SENDER, &to, &format!("m{n}"), "x");
            deliver(server.smtp_addr(), SENDER, &[&to], &message).await;
        }
    }
    assert!(client.me().await.unwrap().used > 0);

    let response = server
        .http()
        .delete(server.endpoint("/api/messages"))
        .bearer_auth(&account.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(response.bytes().await.unwrap().is_empty());
    let me = client.me().await.unwrap();
    assert_eq!((me.used, me.messages, me.unread), (0, 0, 0));
    assert!(client.messages(1).await.unwrap().messages.is_empty());
    // Again on an empty mailbox: still 204.
    client.delete_all_messages().await.unwrap();
    assert_eq!(
        other.me().await.unwrap().messages,
        5,
        "another mailbox keeps its mail"
    );

    let anonymous = server
        .http()
        .delete(server.endpoint("/api/messages"))
        .send()
        .await
        .unwrap();
    expect_error(anonymous, StatusCode::UNAUTHORIZED, "invalid_token").await;
}
