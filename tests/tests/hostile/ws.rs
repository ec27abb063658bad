//! Attacks: WebSockets that go half-open and keep a mailbox's three slots.

use std::time::Duration;

use futures_util::SinkExt;
use mailcx_tests::{TestServer, wait_for};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message as Frame;

#[tokio::test]
async fn sockets_that_stop_answering_pings_give_their_slots_back() {
    let server = TestServer::start_with(|config| config.ws_ping_interval = Duration::from_millis(200)).await;
    let (account, client) = server.create_mailbox("halfopen").await;
    let url = format!("{}/api/ws", server.url().replacen("http", "ws", 1));
    // Three sockets that authenticate, then are never read again: they answer no ping, as a
    // peer that vanished without a FIN would not.
    let mut silent = Vec::new();
    for _ in 0..3 {
        let (mut socket, _) = tokio_tungstenite::connect_async(url.as_str()).await.unwrap();
        let auth = json!({"type": "auth", "token": account.token}).to_string();
        socket.send(Frame::text(auth)).await.unwrap();
        silent.push(socket);
    }
    // Once the server has given up on them, a new socket is admitted.
    let subscription = wait_for(
        "a free WebSocket slot",
        Duration::from_secs(10),
        Duration::from_millis(100),
        || async { client.subscribe().await.ok() },
    )
    .await;
    drop((subscription, silent));
}
