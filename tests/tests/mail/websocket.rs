//! `/api/ws` over a real socket: `new_email` pushes after `auth_ok` with every field, the refusals
//! (`invalid_token`, `invalid_auth_message`, `too_many_connections`, each followed by close 1008),
//! the auth deadline, the per-mailbox socket limit, mailbox deletion closing sockets, and
//! a plain GET answering JSON.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use mailcx_common::{Client, ErrorCode, MessageSummary, NewEmail, Subscription};
use mailcx_tests::mail::{deliver, text_message};
use mailcx_tests::{TestServer, expect_error, keys, wait_for};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as Frame;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

const SENDER: &str = "ws-sender@example.org";
/// Far longer than anything should take; only a stall reaches it.
const DEADLINE: Duration = Duration::from_secs(30);

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

async fn open(server: &TestServer) -> Socket {
    let url = format!("ws://{}/api/ws", server.running().http_addr);
    let (socket, _) = tokio::time::timeout(DEADLINE, tokio_tungstenite::connect_async(url.as_str()))
        .await
        .expect("the WebSocket handshake stalled")
        .expect("the WebSocket handshake failed");
    socket
}

/// The next frame other than ping/pong; `None` once the stream ended.
async fn next_frame(socket: &mut Socket) -> Option<Frame> {
    loop {
        let frame = tokio::time::timeout(DEADLINE, socket.next())
            .await
            .expect("waiting for a WebSocket frame stalled");
        match frame? {
            Ok(Frame::Ping(_) | Frame::Pong(_)) => continue,
            Ok(frame) => return Some(frame),
            Err(e) => panic!("WebSocket error: {e}"),
        }
    }
}

/// The next frame as JSON; panics on anything but a text frame.
async fn next_json(socket: &mut Socket) -> Value {
    match next_frame(socket).await {
        Some(Frame::Text(text)) => {
            serde_json::from_str(text.as_str()).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
        }
        other => panic!("expected a JSON text frame, got {other:?}"),
    }
}

async fn send_auth(socket: &mut Socket, token: &str) {
    let auth = json!({"type": "auth", "token": token}).to_string();
    socket.send(Frame::text(auth)).await.expect("sending auth");
}

/// Expects `{"error": code}` exactly, then a close frame with code 1008, then the end.
async fn expect_refusal(socket: &mut Socket, code: &str) {
    assert_eq!(next_json(socket).await, json!({"error": code}));
    match next_frame(socket).await {
        Some(Frame::Close(Some(close))) => {
            assert_eq!(u16::from(close.code), 1008, "close code for {code}: {close:?}")
        }
        other => panic!("expected close 1008 after {code}, got {other:?}"),
    }
}

/// Waits for the next `new_email` on a subscription.
async fn next_email(subscription: &mut Subscription) -> NewEmail {
    tokio::time::timeout(DEADLINE, subscription.next_email())
        .await
        .expect("no new_email arrived")
        .expect("the socket closed instead")
        .expect("an error frame instead of new_email")
}

async fn newest(client: &Client) -> MessageSummary {
    client.messages(1).await.unwrap().messages[0].clone()
}

fn assert_event_matches(email: &NewEmail, listed: &MessageSummary) {
    assert_eq!(email.id, listed.id);
    assert_eq!(email.sender, listed.sender);
    assert_eq!(email.from, listed.from);
    assert_eq!(email.subject, listed.subject);
    assert_eq!(email.preview_text, listed.preview_text);
    assert_eq!(email.size, listed.size);
    assert_eq!(email.created_at, listed.created_at);
}

#[tokio::test]
async fn new_email_arrives_after_auth_ok_with_every_field() {
    let server = TestServer::start().await;
    let (account, client) = server.create_mailbox("demo").await;
    server.create_mailbox("other").await;
    let mut subscription = client.subscribe().await.expect("auth_ok");

    // Mail for another mailbox is not pushed here; the next event is demo's own message.
    let elsewhere = text_message(SENDER, "other@mail.cx", "not for demo", "Hi");
    deliver(server.smtp_addr(), SENDER, &["other@mail.cx"], &elsewhere).await;
    let message = text_message(
        "Live Sender <live@example.org>",
        "demo@mail.cx",
        "live push",
        "Pushed   body",
    );
    deliver(server.smtp_addr(), SENDER, &["demo@mail.cx"], &message).await;

    let email = next_email(&mut subscription).await;
    let listed = newest(&client).await;
    assert_event_matches(&email, &listed);
    assert_eq!(email.account_id, account.id);
    assert_eq!(email.address, "demo@mail.cx");
    assert_eq!(email.sender, SENDER);
    assert_eq!(email.from, "Live Sender <live@example.org>");
    assert_eq!(email.subject, "live push");
    assert_eq!(email.preview_text, "Pushed body");
    assert_eq!(email.size, message.len() as u64);

    // A second message, a second event, in order.
    let again = text_message(SENDER, "demo@mail.cx", "second push", "Again");
    deliver(server.smtp_addr(), SENDER, &["demo@mail.cx"], &again).await;
    let email = next_email(&mut subscription).await;
    assert_eq!(email.subject, "second push");
    assert_event_matches(&email, &newest(&client).await);
}

#[tokio::test]
async fn the_frames_have_exactly_the_documented_shape() {
    let server = TestServer::start().await;
    let (account, client) = server.create_mailbox("demo").await;
    let mut socket = open(&server).await;
    send_auth(&mut socket, &account.token).await;
    assert_eq!(next_json(&mut socket).await, json!({"type": "auth_ok"}));

    let message = text_message(SENDER, "demo@mail.cx", "shape", "Body");
    deliver(server.smtp_addr(), SENDER, &["demo@mail.cx"], &message).await;
    let frame = next_json(&mut socket).await;
    assert_eq!(
        keys(&frame),
        [
            "account_id",
            "address",
            "created_at",
            "from",
            "id",
            "preview_text",
            "sender",
            "size",
            "subject",
            "type"
        ]
    );
    assert_eq!(frame["type"], "new_email");
    let listed = serde_json::to_value(newest(&client).await).unwrap();
    for field in [
        "id",
        "sender",
        "from",
        "subject",
        "preview_text",
        "size",
        "created_at",
    ] {
        assert_eq!(frame[field], listed[field], "{field}");
    }
    assert_eq!(frame["account_id"], account.id.to_string());
    assert_eq!(frame["address"], "demo@mail.cx");
}

#[tokio::test]
async fn a_bad_token_gets_invalid_token_and_close_1008() {
    let server = TestServer::start().await;
    let (_, client) = server.create_mailbox("gone").await;
    let deleted_token = client.token().unwrap().to_string();
    client.delete_account().await.unwrap();

    for token in ["garbage", "a.b.c", "", deleted_token.as_str()] {
        let mut socket = open(&server).await;
        send_auth(&mut socket, token).await;
        expect_refusal(&mut socket, "invalid_token").await;
    }
    // The typed client reports it as invalid_token.
    let error = server
        .client()
        .with_token("garbage")
        .subscribe()
        .await
        .err()
        .expect("refused");
    assert_eq!(error.code(), Some(ErrorCode::InvalidToken));
}

#[tokio::test]
async fn a_first_frame_that_is_not_auth_gets_invalid_auth_message() {
    let server = TestServer::start().await;
    let (account, _) = server.create_mailbox("demo").await;
    let wrong = [
        Frame::text("hello"),
        Frame::text("{}"),
        Frame::text(r#"{"type":"subscribe","token":"x"}"#),
        Frame::text(r#"{"type":"auth"}"#),
        Frame::text(r#"{"type":"auth","token":42}"#),
        Frame::text(format!(r#"{{"token":"{}"}}"#, account.token)),
    ];
    for frame in wrong {
        let mut socket = open(&server).await;
        socket.send(frame.clone()).await.unwrap();
        // Even a good auth right after does not rescue the socket.
        let _ = socket
            .send(Frame::text(
                json!({"type":"auth","token":account.token}).to_string(),
            ))
            .await;
        expect_refusal(&mut socket, "invalid_auth_message").await;
    }
}

#[tokio::test]
async fn a_binary_first_frame_is_not_an_auth_frame() {
    let server = TestServer::start().await;
    let (account, _) = server.create_mailbox("demo").await;
    let mut socket = open(&server).await;
    let auth = json!({"type": "auth", "token": account.token}).to_string();
    socket
        .send(Frame::binary(auth.clone().into_bytes()))
        .await
        .unwrap();
    socket.send(Frame::text(auth)).await.unwrap();
    expect_refusal(&mut socket, "invalid_auth_message").await;
}

#[tokio::test]
async fn no_auth_frame_within_the_deadline_gets_invalid_auth_message() {
    // Short, so the test does not sit out the default 10 s; the refusal is the same.
    const AUTH_TIMEOUT: Duration = Duration::from_millis(300);
    let server = TestServer::start_with(|c| c.ws_auth_timeout = AUTH_TIMEOUT).await;
    let started = tokio::time::Instant::now();
    let mut socket = open(&server).await;
    expect_refusal(&mut socket, "invalid_auth_message").await;
    assert!(
        started.elapsed() >= AUTH_TIMEOUT,
        "refused after {:?}, before the deadline",
        started.elapsed()
    );
    assert!(
        next_frame(&mut socket).await.is_none(),
        "the socket ends after the close"
    );
}

#[tokio::test]
async fn a_fourth_socket_is_refused_until_one_of_three_closes() {
    let server = TestServer::start().await;
    let (account, client) = server.create_mailbox("demo").await;
    let mut first = client.subscribe().await.unwrap();
    let mut second = client.subscribe().await.unwrap();
    let third = client.subscribe().await.unwrap();

    let mut fourth = open(&server).await;
    send_auth(&mut fourth, &account.token).await;
    expect_refusal(&mut fourth, "too_many_connections").await;
    assert!(
        client.subscribe().await.is_err(),
        "the typed client is refused too"
    );
    // Another mailbox is not affected.
    let (_, other) = server.create_mailbox("other").await;
    other
        .subscribe()
        .await
        .expect("another mailbox has its own three");

    // The three open ones still work.
    let message = text_message(SENDER, "demo@mail.cx", "to all three", "Hi");
    deliver(server.smtp_addr(), SENDER, &["demo@mail.cx"], &message).await;
    assert_eq!(next_email(&mut first).await.subject, "to all three");
    assert_eq!(next_email(&mut second).await.subject, "to all three");

    // One closes (the client just goes away); a new one is admitted once the server noticed.
    drop(third);
    let mut replacement = wait_for(
        "a socket slot to free up",
        Duration::from_secs(20),
        Duration::from_millis(50),
        || async { client.subscribe().await.ok() },
    )
    .await;
    let message = text_message(SENDER, "demo@mail.cx", "after the swap", "Hi");
    deliver(server.smtp_addr(), SENDER, &["demo@mail.cx"], &message).await;
    assert_eq!(next_email(&mut replacement).await.subject, "after the swap");
    assert_eq!(next_email(&mut first).await.subject, "after the swap");
    // And three are open again.
    let mut fifth = open(&server).await;
    send_auth(&mut fifth, &account.token).await;
    expect_refusal(&mut fifth, "too_many_connections").await;
}

#[tokio::test]
async fn deleting_the_mailbox_closes_its_sockets() {
    let server = TestServer::start().await;
    let (account, client) = server.create_mailbox("demo").await;
    let (_, other) = server.create_mailbox("other").await;
    let mut typed = client.subscribe().await.unwrap();
    let mut raw = open(&server).await;
    send_auth(&mut raw, &account.token).await;
    assert_eq!(next_json(&mut raw).await, json!({"type": "auth_ok"}));
    let mut bystander = other.subscribe().await.unwrap();

    client.delete_account().await.unwrap();
    let closed = tokio::time::timeout(DEADLINE, typed.next_email())
        .await
        .expect("the socket was not closed");
    assert!(closed.is_none(), "expected the socket to close, got {closed:?}");
    match next_frame(&mut raw).await {
        Some(Frame::Close(_)) | None => {}
        other => panic!("expected the socket to close, got {other:?}"),
    }

    // The other mailbox's socket is still live.
    let message = text_message(SENDER, "other@mail.cx", "still here", "Hi");
    deliver(server.smtp_addr(), SENDER, &["other@mail.cx"], &message).await;
    assert_eq!(next_email(&mut bystander).await.subject, "still here");
}

#[tokio::test]
async fn a_plain_get_without_upgrade_answers_a_json_400() {
    let server = TestServer::start().await;
    let (account, _) = server.create_mailbox("demo").await;
    expect_error(
        server.get("/api/ws", None).await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
    )
    .await;
    expect_error(
        server.get("/api/ws", Some(&account.token)).await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
    )
    .await;
}

#[tokio::test]
async fn a_message_for_two_mailboxes_is_pushed_to_each_with_its_own_id() {
    let server = TestServer::start().await;
    let (alice, alice_client) = server.create_mailbox("alice").await;
    let (bob, bob_client) = server.create_mailbox("bob").await;
    let mut alice_socket = alice_client.subscribe().await.unwrap();
    let mut bob_socket = bob_client.subscribe().await.unwrap();

    let message = text_message(SENDER, "alice@mail.cx", "for both", "Hi");
    deliver(
        server.smtp_addr(),
        SENDER,
        &["alice@mail.cx", "bob@mail.cx"],
        &message,
    )
    .await;
    let to_alice = next_email(&mut alice_socket).await;
    let to_bob = next_email(&mut bob_socket).await;
    assert_event_matches(&to_alice, &newest(&alice_client).await);
    assert_event_matches(&to_bob, &newest(&bob_client).await);
    assert_ne!(to_alice.id, to_bob.id, "each mailbox stores its own copy");
    assert_eq!(
        (to_alice.account_id, to_alice.address.as_str()),
        (alice.id, "alice@mail.cx")
    );
    assert_eq!(
        (to_bob.account_id, to_bob.address.as_str()),
        (bob.id, "bob@mail.cx")
    );
}

#[tokio::test]
async fn an_oversized_first_frame_is_not_buffered_and_the_socket_ends() {
    let server = TestServer::start().await;
    let (account, _) = server.create_mailbox("big-frame").await;
    let mut socket = open(&server).await;
    // A valid auth frame padded to 100 KiB: far over the 4 KiB a client may send.
    let padded = json!({"type": "auth", "token": account.token, "pad": "x".repeat(100 * 1024)});
    let _ = socket.send(Frame::text(padded.to_string())).await;
    loop {
        let frame = tokio::time::timeout(DEADLINE, socket.next())
            .await
            .expect("the socket stayed open");
        match frame {
            None | Some(Err(_)) | Some(Ok(Frame::Close(_))) => break,
            Some(Ok(Frame::Text(text))) => panic!("an oversized frame was read: got {text}"),
            Some(Ok(_)) => continue,
        }
    }
    // The server goes on serving sockets.
    let subscribed = server
        .client()
        .with_token(account.token.clone())
        .subscribe()
        .await;
    assert!(
        subscribed.is_ok(),
        "a new socket was refused: {:?}",
        subscribed.err()
    );
}
