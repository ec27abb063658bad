//! What the `/v1` tests share: a server with an open domain, mail sent to an address, and raw
//! `/v1` requests.

use std::time::Duration;

use mailcx_server::Config;
use mailcx_tests::TestServer;
use mailcx_tests::mail::{deliver, text_message};
use reqwest::{Response, StatusCode};
use serde_json::Value;

/// The open domain of the test servers (the first, default domain).
pub const OPEN: &str = "open.test";
/// A second system domain that stays closed.
pub const CLOSED: &str = "closed.test";

/// A server whose default domain is open and whose second is not; the long poll holds `hold`.
pub async fn open_server(hold: Duration) -> TestServer {
    open_server_with(hold, |_| {}).await
}

/// Like `open_server`, changed by `configure` before start.
pub async fn open_server_with(hold: Duration, configure: impl FnOnce(&mut Config)) -> TestServer {
    TestServer::start_with(|config| {
        config.domains = vec![OPEN.into(), CLOSED.into()];
        config.open_domains = vec![OPEN.into()];
        config.long_poll_hold = hold;
        // A waiting poll sends nothing: its connection must not be closed as idle first.
        config.http_idle_timeout = config.http_idle_timeout.max(hold + Duration::from_secs(5));
        configure(config);
    })
    .await
}

/// `local@open.test`.
pub fn open_address(local: &str) -> String {
    format!("{local}@{OPEN}")
}

/// Sends a small text message to `to` over SMTP; returns its bytes as stored.
pub async fn send(server: &TestServer, to: &str, subject: &str) -> Vec<u8> {
    let message = text_message(
        "Ann <ann@sender.example>",
        to,
        subject,
        &format!("Body of {subject}."),
    );
    deliver(server.smtp_addr(), "bounce@sender.example", &[to], &message).await;
    message
}

/// A raw `/v1` request, optionally with an `x-api-token`.
pub async fn v1(server: &TestServer, method: reqwest::Method, path: &str, token: Option<&str>) -> Response {
    let mut request = server.http().request(method, server.endpoint(path));
    if let Some(token) = token {
        request = request.header("x-api-token", token);
    }
    request.send().await.expect("the request reaches the server")
}

/// `GET path` on `/v1` without a token.
pub async fn get(server: &TestServer, path: &str) -> Response {
    v1(server, reqwest::Method::GET, path, None).await
}

/// The long poll on `address` with `query`; the status and, for 200, the body.
pub async fn poll(server: &TestServer, address: &str, query: &str) -> (StatusCode, Option<Value>) {
    let response = get(server, &format!("/v1/inbox/{address}?{query}")).await;
    let status = response.status();
    let body = match status {
        StatusCode::OK => Some(response.json().await.expect("a JSON list")),
        _ => {
            let text = response.text().await.unwrap_or_default();
            assert!(
                text.is_empty() || status != StatusCode::NO_CONTENT,
                "204 with a body: {text}"
            );
            None
        }
    };
    (status, body)
}

/// The subjects of a listing, in its order.
pub fn subjects(list: &Value) -> Vec<String> {
    list["emails"]
        .as_array()
        .expect("emails")
        .iter()
        .map(|e| e["subject"].as_str().unwrap_or_default().to_string())
        .collect()
}
