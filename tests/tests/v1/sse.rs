//! `GET /v1/sse/addr`: arrivals as events with their cursor as id, a reconnect that replays by
//! `Last-Event-ID`, the keep-alive comment, and streams that end at their maximum age.

use std::time::Duration;

use mailcx_tests::{TestServer, expect_error};
use reqwest::StatusCode;
use serde_json::Value;

use crate::support::{open_address, open_server, open_server_with, poll, send};

/// How long a test waits for the next piece of a stream before failing as stalled.
const STALL: Duration = Duration::from_secs(20);

/// One parsed event of a stream.
#[derive(Debug)]
struct SseEvent {
    event: String,
    id: String,
    data: Value,
}

/// An open event stream, read a chunk at a time.
struct Stream {
    response: reqwest::Response,
    buffer: String,
}

impl Stream {
    async fn open(server: &TestServer, address: &str, last_event_id: Option<&str>) -> Stream {
        let mut request = server
            .http()
            .get(server.endpoint(&format!("/v1/sse/addr?address={address}")));
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        Stream {
            response,
            buffer: String::new(),
        }
    }

    /// The next block (up to a blank line), comments included.
    async fn block(&mut self) -> String {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block = self.buffer[..end].to_string();
                self.buffer.drain(..end + 2);
                return block;
            }
            let chunk = tokio::time::timeout(STALL, self.response.chunk())
                .await
                .expect("the stream stalled")
                .unwrap()
                .expect("the stream ended");
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }

    /// Reads on until the server ends the stream; panics if it is still open after `STALL`
    /// without a word.
    async fn until_end(mut self) {
        while let Some(chunk) = tokio::time::timeout(STALL, self.response.chunk())
            .await
            .expect("the stream did not end")
            .unwrap()
        {
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }

    /// The next event, skipping comments.
    async fn event(&mut self) -> SseEvent {
        loop {
            let block = self.block().await;
            let field = |name: &str| {
                block
                    .lines()
                    .find_map(|line| line.strip_prefix(&format!("{name}:")))
                    .map(|v| v.trim_start().to_string())
            };
            if let Some(data) = field("data") {
                return SseEvent {
                    event: field("event").unwrap_or_default(),
                    id: field("id").unwrap_or_default(),
                    data: serde_json::from_str(&data).unwrap(),
                };
            }
        }
    }
}

#[tokio::test]
async fn arrivals_stream_as_events_and_a_reconnect_replays_what_it_missed() {
    let server = open_server(Duration::from_millis(200)).await;
    let to = open_address("streamed");
    send(&server, &to, "before the stream").await;
    let mut stream = Stream::open(&server, &to, None).await;
    send(&server, &to, "s1").await;
    send(&server, &open_address("someone-else"), "not for this stream").await;
    send(&server, &to, "s2").await;
    let first = stream.event().await;
    assert_eq!(first.event, "email");
    assert_eq!(first.data["subject"], "s1", "a new stream starts from now");
    let second = stream.event().await;
    assert_eq!(second.data["subject"], "s2");
    assert!(second.id.parse::<i64>().unwrap() > first.id.parse::<i64>().unwrap());
    let mut keys: Vec<_> = second.data.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    assert_eq!(
        keys,
        ["created_at", "from_email", "id", "preview_text", "subject"]
    );
    drop(stream);

    // Mail while disconnected is replayed after the last id seen, then the stream goes on live.
    send(&server, &to, "s3 while away").await;
    send(&server, &to, "s4 while away").await;
    let mut again = Stream::open(&server, &to, Some(&second.id)).await;
    assert_eq!(again.event().await.data["subject"], "s3 while away");
    assert_eq!(again.event().await.data["subject"], "s4 while away");
    send(&server, &to, "s5 live").await;
    assert_eq!(again.event().await.data["subject"], "s5 live");
    // From the very first id, everything of the address comes back, once, in order.
    let mut all = Stream::open(&server, &to, Some("0")).await;
    let mut seen = Vec::new();
    for _ in 0..6 {
        seen.push(all.event().await.data["subject"].as_str().unwrap().to_string());
    }
    assert_eq!(
        seen,
        [
            "before the stream",
            "s1",
            "s2",
            "s3 while away",
            "s4 while away",
            "s5 live"
        ]
    );
}

#[tokio::test]
async fn a_quiet_stream_gets_keep_alive_comments() {
    let server = open_server_with(Duration::from_millis(200), |config| {
        config.sse_keep_alive = Duration::from_millis(100);
    })
    .await;
    let mut stream = Stream::open(&server, &open_address("quiet"), None).await;
    let block = stream.block().await;
    assert!(block.starts_with(':'), "a comment line: {block:?}");
}

#[tokio::test]
async fn a_bad_last_event_id_or_address_is_refused() {
    let server = open_server(Duration::from_millis(200)).await;
    let to = open_address("refused");
    for id in ["abc", "-5", "1.5"] {
        let response = server
            .http()
            .get(server.endpoint(&format!("/v1/sse/addr?address={to}")))
            .header("last-event-id", id)
            .send()
            .await
            .unwrap();
        expect_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
    }
    let closed = server
        .http()
        .get(server.endpoint("/v1/sse/addr?address=a@closed.test"))
        .send()
        .await
        .unwrap();
    expect_error(closed, StatusCode::BAD_REQUEST, "invalid_address").await;
}

#[tokio::test]
async fn streams_count_against_the_addresss_waiters() {
    let server = open_server(Duration::from_millis(200)).await;
    let to = open_address("popular");
    let mut streams = Vec::new();
    for _ in 0..10 {
        streams.push(Stream::open(&server, &to, None).await);
    }
    let response = server
        .http()
        .get(server.endpoint(&format!("/v1/sse/addr?address={to}")))
        .send()
        .await
        .unwrap();
    expect_error(response, StatusCode::TOO_MANY_REQUESTS, "addr_busy").await;
    drop(streams);
}

#[tokio::test]
async fn an_empty_last_event_id_is_no_cursor() {
    let server = open_server(Duration::from_millis(200)).await;
    let to = open_address("empty-id");
    send(&server, &to, "before").await;
    let mut empty = Stream::open(&server, &to, Some("")).await;
    let mut blank = Stream::open(&server, &to, Some(" ")).await;
    send(&server, &to, "after").await;
    assert_eq!(empty.event().await.data["subject"], "after", "starts from now");
    assert_eq!(blank.event().await.data["subject"], "after");
}

#[tokio::test]
async fn streams_end_at_their_age_give_their_slots_back_and_resume_by_last_event_id() {
    let server = open_server_with(Duration::from_millis(200), |config| {
        config.sse_max_age = Duration::from_secs(2);
    })
    .await;
    let to = open_address("aging");
    send(&server, &to, "first").await;
    let since = poll(&server, &to, "").await.1.unwrap()["next_since"]
        .as_str()
        .unwrap()
        .to_string();
    // As many streams as the address takes: without an age they would lock it out for ever.
    let mut streams = Vec::new();
    for _ in 0..10 {
        streams.push(Stream::open(&server, &to, Some(&since)).await);
    }
    for stream in streams {
        stream.until_end().await;
    }
    // Their slots are back: a long poll on the address is let in and waits out its hold.
    assert_eq!(
        poll(&server, &to, &format!("since={since}")).await.0,
        StatusCode::NO_CONTENT
    );
    // Resuming from the last id seen misses nothing that came in between.
    send(&server, &to, "while reconnecting").await;
    let mut resumed = Stream::open(&server, &to, Some(&since)).await;
    assert_eq!(resumed.event().await.data["subject"], "while reconnecting");
}
