//! Attacks: HTTP connections that go silent, stall, never read, send bodies that never arrive,
//! or send what is not HTTP. Each is closed or answered with the API's JSON error, and everyone
//! else is still served.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use mailcx_tests::TestServer;
use mailcx_tests::mail::{Smtp, deliver, message_of_size};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// Long enough for anything the server should do at once; short enough to fail fast.
const DEADLINE: Duration = Duration::from_secs(15);

async fn connect_from(from: Ipv4Addr, addr: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::from((from, 0))).unwrap();
    socket.connect(addr).await.unwrap()
}

/// Reads until the server closes the connection; `None` if it is still open after `DEADLINE`.
async fn read_to_close(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut got = Vec::new();
    let mut buf = [0u8; 8192];
    let read = async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(DEADLINE, read).await.ok()?;
    Some(got)
}

/// Status code and JSON body of a whole HTTP/1.1 response.
fn parse_response(bytes: &[u8]) -> (u16, Value) {
    let text = String::from_utf8_lossy(bytes);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("not an HTTP response: {text:?}"));
    let status = head[9..12].parse().unwrap();
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{head}"
    );
    let body = serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body:?}"));
    (status, body)
}

/// Sends `request` on a new connection and reads the answer to the close.
async fn exchange(addr: SocketAddr, request: &[u8]) -> (u16, Value) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let response = read_to_close(&mut stream).await.expect("an answer and a close");
    parse_response(&response)
}

/// The server still answers a plain request from another client.
async fn still_serves(server: &TestServer) {
    let mut stream = connect_from(Ipv4Addr::new(127, 0, 0, 2), server.running().http_addr).await;
    stream
        .write_all(b"GET /api/domains HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let response = read_to_close(&mut stream).await.expect("an answer");
    assert!(
        response.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&response)
    );
}

#[tokio::test]
async fn silent_and_half_open_connections_are_closed_and_capped() {
    let server = TestServer::start_with(|config| {
        config.http_idle_timeout = Duration::from_millis(500);
        config.http_max_connections = 40;
        config.http_max_connections_per_client = 10;
    })
    .await;
    let addr = server.running().http_addr;
    let mut silent = Vec::new();
    for _ in 0..10 {
        silent.push(TcpStream::connect(addr).await.unwrap());
    }
    // Half an HTTP/2 preface, then nothing.
    let mut half = connect_from(Ipv4Addr::new(127, 0, 0, 3), addr).await;
    half.write_all(b"PRI * HTTP/2.0\r\n").await.unwrap();
    // Over the per-client cap: answered 429 with the JSON body, then closed.
    let mut over = TcpStream::connect(addr).await.unwrap();
    let refused = read_to_close(&mut over).await.expect("a refusal");
    let (status, body) = parse_response(&refused);
    assert_eq!(status, 429);
    assert_eq!(body["error"], "too_many_connections");
    // Others are still served meanwhile, and so is SMTP.
    still_serves(&server).await;
    Smtp::open(server.smtp_addr())
        .await
        .command("QUIT")
        .await
        .assert_code(221);
    // Every silent connection is closed by the server, and so is the half preface.
    for stream in &mut silent {
        assert!(
            read_to_close(stream).await.is_some(),
            "a silent connection stays open"
        );
    }
    assert!(
        read_to_close(&mut half).await.is_some(),
        "half a preface stays open"
    );
    // Their places are given back.
    let mut again = TcpStream::connect(addr).await.unwrap();
    again
        .write_all(b"GET /api/domains HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let response = read_to_close(&mut again).await.unwrap();
    assert!(response.starts_with(b"HTTP/1.1 200"));
    server.create_mailbox("alive").await;
}

#[tokio::test]
async fn a_body_that_never_arrives_is_answered_with_json() {
    let server = TestServer::start_with(|config| config.http_body_timeout = Duration::from_millis(300)).await;
    let addr = server.running().http_addr;
    // Declared over the limit: 413 at once, without waiting for the body.
    let (status, body) = exchange(
        addr,
        b"POST /api/accounts HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 1000000000\r\n\r\n",
    )
    .await;
    assert_eq!((status, body["error"].as_str()), (413, Some("payload_too_large")));
    // Declared 50, one byte sent: a JSON error once the body deadline passes.
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"POST /api/token HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 50\r\n\r\n{")
        .await
        .unwrap();
    let mut response = vec![0u8; 4096];
    let n = tokio::time::timeout(DEADLINE, stream.read(&mut response))
        .await
        .expect("an answer to a body that never arrives")
        .unwrap();
    let (status, body) = parse_response(&response[..n]);
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_request")));
    assert!(
        body["message"].as_str().unwrap().contains("did not arrive"),
        "{body}"
    );
}

#[tokio::test]
async fn what_is_not_http_is_answered_with_json() {
    let server = TestServer::start().await;
    let addr = server.running().http_addr;
    let (status, body) = exchange(addr, b"GARBAGE\x01\x02 / HTTP/1.1\r\n\r\n").await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_request")));
    let (status, body) = exchange(addr, b"GET /api/domains HTTP/1.1\r\nbad header\r\n\r\n").await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_request")));
    let long_uri = format!("GET /{} HTTP/1.1\r\nhost: x\r\n\r\n", "a".repeat(70_000));
    let (status, body) = exchange(addr, long_uri.as_bytes()).await;
    assert_eq!((status, body["error"].as_str()), (414, Some("invalid_request")));
    let many_headers: String = (0..200)
        .map(|i| format!("x-h{i}: {}\r\n", "v".repeat(1000)))
        .collect();
    let big = format!("GET /api/domains HTTP/1.1\r\nhost: x\r\n{many_headers}\r\n");
    let (status, body) = exchange(addr, big.as_bytes()).await;
    assert_eq!((status, body["error"].as_str()), (431, Some("invalid_request")));
    still_serves(&server).await;
}

/// How many TCP connections to local `port` are established, on the side that listens (from
/// the kernel's tables: a socket the server closed is no longer established, even while the
/// data it had queued still waits for a peer that does not read).
fn established_on(port: u16) -> usize {
    const ESTABLISHED: &str = "01";
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|table| std::fs::read_to_string(table).ok())
        .flat_map(|text| {
            text.lines()
                .skip(1)
                .filter(|line| {
                    let fields: Vec<&str> = line.split_whitespace().collect();
                    let local_port = fields
                        .get(1)
                        .and_then(|a| a.rsplit_once(':'))
                        .and_then(|(_, p)| u16::from_str_radix(p, 16).ok());
                    local_port == Some(port) && fields.get(3) == Some(&ESTABLISHED)
                })
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .count()
}

/// This process's resident memory, in bytes.
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() * 1024
}

#[tokio::test]
async fn clients_that_never_read_a_large_source_pin_no_memory_and_are_dropped() {
    const IDLE: Duration = Duration::from_millis(500);
    const CLIENTS: usize = 60;
    let server = TestServer::start_with(|config| {
        config.http_idle_timeout = IDLE;
        config.max_message_size = 11 << 20;
    })
    .await;
    let (account, _) = server.create_mailbox("big").await;
    let message = message_of_size("a@example.org", &account.address, "big", 10 << 20);
    deliver(server.smtp_addr(), "a@example.org", &[&account.address], &message).await;
    let list = server
        .client()
        .with_token(account.token.clone())
        .messages(1)
        .await
        .unwrap();
    let id = list.messages[0].id;
    let request = format!(
        "GET /api/messages/{id}/source HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {}\r\n\r\n",
        account.token
    );
    let before = rss();
    let mut readers = Vec::new();
    for _ in 0..CLIENTS {
        let mut stream = TcpStream::connect(server.running().http_addr).await.unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        readers.push(stream);
    }
    // Watch memory while the server writes all it can into sockets nobody reads.
    let mut peak = before;
    let until = tokio::time::Instant::now() + Duration::from_secs(1);
    while tokio::time::Instant::now() < until {
        peak = peak.max(rss());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let grown = peak.saturating_sub(before);
    eprintln!(
        "{CLIENTS} clients not reading a 10 MiB source: resident memory grew by {} MiB",
        grown >> 20
    );
    // Each holds a piece or two in the server; a whole copy each would be 600 MiB.
    assert!(
        grown < 100 << 20,
        "{CLIENTS} stalled readers of 10 MiB pinned {} MiB",
        grown >> 20
    );
    // The server gives up on them once nothing has moved for the idle timeout: each connection
    // ends short of the whole body. Reading before the server has let go would let it move
    // again, so the test waits (by the kernel's view of the server's sockets) until none of
    // them is still established.
    let port = server.running().http_addr.port();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while established_on(port) > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} stalled readers still held after a minute",
            established_on(port)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for stream in &mut readers {
        let got = read_to_close(stream).await.expect("a stalled reader is dropped");
        assert!(
            got.len() < message.len(),
            "the whole body was sent to a client that never read"
        );
    }
    still_serves(&server).await;
}

#[tokio::test]
async fn a_forged_forwarded_for_is_believed_only_from_a_trusted_proxy() {
    let server = TestServer::start_with(|config| {
        config.rate_limit = 1;
        config.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    let get = |forwarded: &'static str| {
        let request = server
            .http()
            .get(server.endpoint("/api/domains"))
            .header("x-forwarded-for", forwarded)
            .send();
        async move { request.await.unwrap().status().as_u16() }
    };
    // The client behind the proxy uses up its burst; another client behind it is not affected.
    let mut statuses = Vec::new();
    for _ in 0..20 {
        statuses.push(get("203.0.113.9, 198.51.100.1").await);
    }
    assert!(statuses.contains(&429), "{statuses:?}");
    assert_eq!(get("203.0.113.9, 198.51.100.2").await, 200);

    // Without a trusted proxy the header is the client's own word, and is ignored.
    let direct = TestServer::start_with(|config| config.rate_limit = 1).await;
    let mut statuses = Vec::new();
    for i in 0..20 {
        let forged = format!("198.51.100.{i}");
        let response = direct
            .http()
            .get(direct.endpoint("/api/domains"))
            .header("x-forwarded-for", forged)
            .send()
            .await
            .unwrap();
        statuses.push(response.status().as_u16());
    }
    assert!(
        statuses.contains(&429),
        "a forged header escaped the limit: {statuses:?}"
    );
}

#[tokio::test]
async fn an_ill_typed_field_is_named_in_the_error() {
    let server = TestServer::start().await;
    let response = server
        .post_json(
            "/api/accounts",
            &serde_json::json!({"address": 1, "password": "secret1"}),
        )
        .await;
    let message =
        mailcx_tests::expect_error(response, reqwest::StatusCode::BAD_REQUEST, "invalid_request").await;
    assert!(message.contains("address: invalid type"), "{message}");
}
