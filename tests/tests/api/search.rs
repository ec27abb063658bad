//! `GET /api/messages?q=` (extension): words of the subject, `From` and text (HTML-only mail by its
//! text), case-insensitive, a prefix on the last word, newest first, the list's own shape; never
//! another mailbox's mail, nor deleted or expired mail; hostile text answers cleanly.

use std::time::Duration;

use mailcx_common::Client;
use mailcx_tests::mail::{crlf, deliver, text_message};
use mailcx_tests::{TestServer, expect_error, expect_json, keys, wait_for};
use reqwest::StatusCode;

const SENDER: &str = "search@example.org";

/// Subjects of page 1 of the search for `q`.
async fn found(client: &Client, q: &str) -> Vec<String> {
    let list = client
        .search_messages(q, 1)
        .await
        .unwrap_or_else(|e| panic!("searching {q:?}: {e}"));
    list.messages.into_iter().map(|m| m.subject).collect()
}

/// Delivers a plain-text message to `to` with a `From:` of `from`.
async fn send(server: &TestServer, to: &str, from: &str, subject: &str, body: &str) {
    deliver(
        server.smtp_addr(),
        SENDER,
        &[to],
        &text_message(from, to, subject, body),
    )
    .await;
}

#[tokio::test]
async fn words_match_subject_from_and_text_by_prefix_in_any_case_newest_first() {
    let server = TestServer::start().await;
    let (account, client) = server.create_mailbox("finder").await;
    let to = server.address("finder");
    send(
        &server,
        &to,
        "GitHub <noreply@github.com>",
        "Verify your device",
        "Code 918273",
    )
    .await;
    send(
        &server,
        &to,
        "Slack <feedback@slack.com>",
        "Confirm your email",
        "Your confirmation code is ABC-123",
    )
    .await;
    send(
        &server,
        &to,
        "Ann <ann@example.org>",
        "Lunch",
        "Shall we meet at the café?",
    )
    .await;
    let html = crlf(&format!(
        "From: Shop <shop@example.net>\nTo: {to}\nSubject: Order shipped\nMIME-Version: 1.0\n\
         Content-Type: text/html; charset=utf-8\n\n<html><body><p>Track parcel <b>ZX99</b></p></body></html>"
    ));
    deliver(server.smtp_addr(), SENDER, &[&to], &html).await;

    assert_eq!(found(&client, "verify").await, ["Verify your device"], "subject");
    assert_eq!(
        found(&client, "github.com").await,
        ["Verify your device"],
        "From address"
    );
    assert_eq!(found(&client, "slack").await, ["Confirm your email"], "From name");
    assert_eq!(found(&client, "918273").await, ["Verify your device"], "text");
    assert_eq!(
        found(&client, "parcel zx99").await,
        ["Order shipped"],
        "HTML's text"
    );
    assert_eq!(
        found(&client, "CONFIRMATION").await,
        ["Confirm your email"],
        "case"
    );
    assert_eq!(found(&client, "cafe").await, ["Lunch"], "diacritics");
    assert_eq!(
        found(&client, "conf").await,
        ["Confirm your email"],
        "prefix of the last word"
    );
    assert!(
        found(&client, "conf email").await.is_empty(),
        "earlier words are whole"
    );
    assert_eq!(
        found(&client, "your").await,
        ["Confirm your email", "Verify your device"],
        "newest first"
    );
    assert!(
        found(&client, "your lunch").await.is_empty(),
        "every word must match"
    );
    assert!(found(&client, "nothing-like-it").await.is_empty());

    // The list's own shape, with the page echoed; later pages are empty.
    let list = expect_json(
        server
            .get("/api/messages?q=your&page=2", Some(&account.token))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(keys(&list), ["messages", "page"]);
    assert_eq!(list["page"], 2);
    assert_eq!(list["messages"].as_array().unwrap().len(), 0);
    // A blank q is no filter at all.
    assert_eq!(found(&client, "  ").await.len(), 4);
}

#[tokio::test]
async fn another_mailboxs_mail_never_matches_and_deleted_mail_leaves_the_results() {
    let server = TestServer::start().await;
    let (_, mine) = server.create_mailbox("mine").await;
    let (_, theirs) = server.create_mailbox("theirs").await;
    send(&server, &server.address("theirs"), SENDER, "Secret invoice", "x").await;
    send(&server, &server.address("mine"), SENDER, "My invoice", "x").await;
    assert_eq!(found(&mine, "invoice").await, ["My invoice"]);
    assert_eq!(found(&theirs, "invoice").await, ["Secret invoice"]);

    let id = mine.messages(1).await.unwrap().messages[0].id;
    mine.delete_message(id).await.unwrap();
    assert!(found(&mine, "invoice").await.is_empty());
    theirs.delete_all_messages().await.unwrap();
    assert!(found(&theirs, "invoice").await.is_empty());
}

#[tokio::test]
async fn expired_mail_leaves_the_results() {
    let server = TestServer::start_with(|c| c.retention = Duration::from_secs(1)).await;
    let (_, client) = server.create_mailbox("brief").await;
    send(&server, &server.address("brief"), SENDER, "Fleeting", "x").await;
    assert_eq!(found(&client, "fleeting").await, ["Fleeting"]);
    wait_for(
        "the message to be swept",
        Duration::from_secs(30),
        Duration::from_millis(100),
        || {
            let client = client.clone();
            async move { (client.me().await.unwrap().messages == 0).then_some(()) }
        },
    )
    .await;
    assert!(found(&client, "fleeting").await.is_empty());
}

#[tokio::test]
async fn hostile_queries_answer_cleanly_and_never_match_everything() {
    let server = TestServer::start().await;
    let (account, client) = server.create_mailbox("hostile").await;
    let to = server.address("hostile");
    // A From with no word that an operator is a prefix of (`example.org` would match `OR*`).
    let from = "tester@example.net";
    send(&server, &to, from, "Alpha report", "quarterly numbers").await;
    send(&server, &to, from, "Beta report", "nothing else").await;

    for q in [
        "\"",
        "\"\"",
        "*",
        "**",
        "OR",
        "AND",
        "NOT",
        "NEAR(",
        "NEAR(alpha beta)",
        "alpha OR",
        "OR beta",
        "-",
        "^",
        "{subject}: x",
        "subject:alpha",
        "alpha:",
        "(",
        ")",
        "a\"b",
        "'",
        "\\",
        "%",
        "\u{0}",
        "😀",
        "*alpha",
        "alpha*beta",
    ] {
        let result = found(&client, q).await;
        assert!(result.len() < 2, "{q:?} matched everything: {result:?}");
    }
    // Operators are plain words: `alpha OR beta` asks for all three words.
    assert!(found(&client, "alpha OR beta").await.is_empty());
    assert_eq!(found(&client, "\"alpha\"").await, ["Alpha report"]);
    assert_eq!(found(&client, "alpha*").await, ["Alpha report"]);

    // Over the limit: 400, never a slow query or a 500.
    let long = "a".repeat(10 * 1024);
    let path = format!("/api/messages?q={long}");
    expect_error(
        server.get(&path, Some(&account.token)).await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
    )
    .await;
    let many = "ab ".repeat(340);
    assert!(
        found(&client, &many).await.is_empty(),
        "many words, within the limit"
    );
    let twice = "/api/messages?q=alpha&q=beta";
    expect_error(
        server.get(twice, Some(&account.token)).await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
    )
    .await;
    // Bytes that are not UTF-8 are replaced, not a 500.
    let path = "/api/messages?q=%FF%FE";
    expect_json(server.get(path, Some(&account.token)).await, StatusCode::OK).await;
}
