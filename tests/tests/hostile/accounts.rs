//! Attacks: racing deletes of one mailbox with one token, and deleting a big mailbox.

use mailcx_tests::TestServer;
use mailcx_tests::mail::{Smtp, text_message};
use rusqlite::Connection;

#[tokio::test]
async fn of_parallel_deletes_with_one_token_exactly_one_succeeds() {
    let server = TestServer::start().await;
    let (account, _) = server.create_mailbox("racer").await;
    let deletes: Vec<_> = (0..10)
        .map(|_| {
            server
                .http()
                .delete(server.endpoint("/api/account"))
                .bearer_auth(&account.token)
                .send()
        })
        .collect();
    let mut statuses: Vec<u16> = futures_util::future::join_all(deletes)
        .await
        .into_iter()
        .map(|r| r.unwrap().status().as_u16())
        .collect();
    statuses.sort();
    assert_eq!(statuses, [204, 401, 401, 401, 401, 401, 401, 401, 401, 401]);
}

#[tokio::test]
async fn a_big_mailbox_is_deleted_whole_in_batches() {
    let server = TestServer::start().await;
    let (account, client) = server.create_mailbox("big").await;
    let mut smtp = Smtp::open(server.smtp_addr()).await;
    for i in 0..1_000 {
        let message = text_message("a@example.org", &account.address, &format!("m{i}"), "hello");
        smtp.transaction("a@example.org", &[&account.address], &message)
            .await
            .assert_code(250);
    }
    client.delete_account().await.unwrap();
    let conn = Connection::open(server.db_path()).unwrap();
    let left: i64 = conn
        .query_row("SELECT COUNT(*) FROM messages", [], |r| r.get(0))
        .unwrap();
    assert_eq!(left, 0);
    // The address is free again at once.
    server.create_mailbox("big").await;
}
