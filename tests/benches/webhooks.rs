//! `cargo bench -p mailcx-tests --bench webhooks`: what signed webhooks cost SMTP ingest, and how
//! soon a webhook hears of a message, against the real server in-process over loopback TCP and a
//! real receiver (an axum server that checks every signature).
//!
//! Prints:
//! - durable SMTP ingest of 5 KB messages over 8 connections to a mailbox whose Pro owner has a
//!   webhook, against the same to an anonymous mailbox, rounds alternated, medians compared
//!   (target: at least 90%); the deliveries run while the ingest does, and each round waits for
//!   the receiver to have every event before the next starts;
//! - the time from the sender reading `250` to the receiver getting the POST, p50 and p99, with
//!   mail paced at about 500 messages per second.
//!
//! Run any other way (`cargo test --benches`), a short smoke run checks the harness only.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use hmac::{Hmac, Mac};
use mailcx_tests::{PASSWORD, TestServer, threads_cpu};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedReadHalf;
use uuid::Uuid;

const CONNECTIONS: usize = 8;
const MESSAGE_BYTES: usize = 5 * 1024;
/// Paced rate of the latency phase, messages per second.
const PACED_RATE: u64 = 500;

/// How much each phase does.
#[derive(Clone, Copy)]
struct Sizes {
    /// Messages per ingest round.
    round: usize,
    /// Rounds per mailbox.
    rounds: usize,
    /// Length of the paced phase.
    paced: Duration,
    smoke: bool,
}

fn sizes() -> Sizes {
    if std::env::args().any(|a| a == "--bench") {
        Sizes {
            round: 6_000,
            rounds: 5,
            paced: Duration::from_secs(10),
            smoke: false,
        }
    } else {
        Sizes {
            round: 80,
            rounds: 1,
            paced: Duration::from_millis(400),
            smoke: true,
        }
    }
}

/// What the receiver has seen: when each email's event arrived, and how many were badly signed.
#[derive(Default)]
struct Seen {
    arrivals: HashMap<Uuid, Instant>,
    posts: usize,
    bad_signatures: usize,
}

struct Receiver {
    seen: Mutex<Seen>,
    secret: Mutex<String>,
}

async fn receive(State(receiver): State<Arc<Receiver>>, headers: HeaderMap, body: String) -> StatusCode {
    let at = Instant::now();
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    };
    let secret = receiver.secret.lock().unwrap().clone();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(header("x-webhook-timestamp").as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    let valid =
        header("x-webhook-signature") == format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    let email_id = serde_json::from_str::<Value>(&body).ok().and_then(|event| {
        event["data"]["email_id"]
            .as_str()
            .and_then(|id| Uuid::parse_str(id).ok())
    });
    let mut seen = receiver.seen.lock().unwrap();
    seen.posts += 1;
    if !valid {
        seen.bad_signatures += 1;
    }
    if let Some(id) = email_id {
        seen.arrivals.entry(id).or_insert(at);
    }
    StatusCode::OK
}

#[tokio::main]
async fn main() {
    let sizes = sizes();
    let server = TestServer::start_with(|config| {
        config.retention = Duration::ZERO;
        config.quota = u64::MAX / 4;
        config.pro_quota = u64::MAX / 4;
        config.webhook_allow_private = true;
    })
    .await;
    let smtp = server.smtp_addr();
    let jwt = server.create_pro_user("bench@example.com").await;
    server.create_mailbox("plain").await;
    let owned = server
        .http()
        .post(server.endpoint("/api/accounts"))
        .bearer_auth(&jwt)
        .json(&json!({"address": server.address("owned"), "password": PASSWORD}))
        .send()
        .await
        .expect("the request reaches the server");
    assert_eq!(owned.status(), 201, "an owned mailbox");

    let receiver = Arc::new(Receiver {
        seen: Mutex::default(),
        secret: Mutex::default(),
    });
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(receive))
        .with_state(receiver.clone());
    // The receiver stands for another machine: a thread and a runtime of its own, so its work
    // is not queued among the server's tasks (it still shares the cores).
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            axum::serve(listener, app).await.unwrap()
        });
    });
    let hook: Value = server
        .http()
        .post(server.endpoint("/pro/api/webhooks"))
        .bearer_auth(&jwt)
        .json(&json!({"url": url, "events": ["email.received"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    *receiver.secret.lock().unwrap() = hook["secret"].as_str().expect("a webhook").to_string();

    let plain = server.address("plain");
    let owned = server.address("owned");
    let message = five_kb_message();
    println!(
        "mailcx webhook benchmark: {} byte messages, {CONNECTIONS} SMTP connections{}",
        message.len(),
        if sizes.smoke {
            " (smoke run: figures not meaningful)"
        } else {
            ""
        }
    );

    // Warm-up: both mailboxes once, and the webhook's connection.
    ingest(smtp, &plain, &message, CONNECTIONS * 10).await;
    ingest(smtp, &owned, &message, CONNECTIONS * 10).await;
    let mut expected = CONNECTIONS * 10;
    drained(&receiver, expected).await;

    let (mut without, mut with, mut drains) = (Vec::new(), Vec::new(), Vec::new());
    let (mut writer_without, mut writer_with) = (Vec::new(), Vec::new());
    let mut posts_during = Vec::new();
    for _ in 0..sizes.rounds {
        let writer = threads_cpu(WRITER_THREAD);
        let (sent, elapsed) = ingest(smtp, &plain, &message, sizes.round).await;
        without.push(sent as f64 / elapsed.as_secs_f64());
        writer_without.push(per_message_us(threads_cpu(WRITER_THREAD) - writer, sent));
        let writer = threads_cpu(WRITER_THREAD);
        let posts = receiver.seen.lock().unwrap().posts;
        let (sent, elapsed) = ingest(smtp, &owned, &message, sizes.round).await;
        with.push(sent as f64 / elapsed.as_secs_f64());
        writer_with.push(per_message_us(threads_cpu(WRITER_THREAD) - writer, sent));
        posts_during.push((receiver.seen.lock().unwrap().posts - posts) as f64);
        let started = Instant::now();
        expected += sent;
        drained(&receiver, expected).await;
        drains.push(started.elapsed());
    }
    let (without, with) = (median(&mut without), median(&mut with));
    println!();
    println!(
        "SMTP ingest c{CONNECTIONS}, {} rounds of {} messages each, medians",
        sizes.rounds, sizes.round
    );
    println!("  anonymous mailbox (no webhook):      {without:>7.0} messages/s");
    println!("  Pro mailbox with a webhook:          {with:>7.0} messages/s");
    println!(
        "  ratio {:.1}% (target >= 90%); the receiver had every event {:.2} s after a round's last 250 at most",
        with / without * 100.0,
        drains.iter().max().unwrap().as_secs_f64()
    );
    println!(
        "  the store's writer thread, CPU per message while the round ran: {:.0} us without, {:.0} us with",
        median(&mut writer_without),
        median(&mut writer_with)
    );
    println!(
        "  webhook POSTs made while a round of mail was arriving: {:.0} of {} (median)",
        median(&mut posts_during),
        sizes.round
    );

    let latencies = paced(smtp, &owned, &message, sizes.paced, &receiver).await;
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    println!();
    println!(
        "250 -> webhook POST received, {} messages paced at {PACED_RATE}/s",
        latencies.len()
    );
    println!(
        "  p50 {:>7.2} ms  p99 {:>7.2} ms  max {:>7.2} ms",
        at(0.5),
        at(0.99),
        at(1.0)
    );
    let (posts, events, bad) = {
        let seen = receiver.seen.lock().unwrap();
        (seen.posts, seen.arrivals.len(), seen.bad_signatures)
    };
    println!();
    println!("receiver: {posts} POSTs, {events} events, {bad} badly signed");
    assert_eq!(bad, 0, "every POST must verify");
    assert_eq!(posts, events, "no event may arrive twice");
    let mut server = server;
    server.stop().await;
}

/// Waits until the receiver has `events` distinct events.
async fn drained(receiver: &Receiver, events: usize) {
    let deadline = Instant::now() + Duration::from_secs(300);
    while receiver.seen.lock().unwrap().arrivals.len() < events {
        assert!(Instant::now() < deadline, "the webhook fell behind for good");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The name the store's writer thread goes by in `/proc` (15 characters at most).
const WRITER_THREAD: &str = "mailcx-store-wr";

fn per_message_us(cpu: Duration, messages: usize) -> f64 {
    cpu.as_secs_f64() * 1e6 / messages.max(1) as f64
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Sends messages to `to` at `PACED_RATE` for `length`; returns, sorted, the milliseconds from
/// each `250` to the receiver's having its event (negative when the POST won the race).
async fn paced(
    smtp: SocketAddr,
    to: &str,
    message: &[u8],
    length: Duration,
    receiver: &Receiver,
) -> Vec<f64> {
    let per_connection = Duration::from_micros(1_000_000 * CONNECTIONS as u64 / PACED_RATE);
    let count = (length.as_secs_f64() * PACED_RATE as f64 / CONNECTIONS as f64) as usize;
    let mut senders = Vec::new();
    for n in 0..CONNECTIONS {
        let (to, message) = (to.to_string(), message.to_vec());
        senders.push(tokio::spawn(async move {
            // Spread the connections over one period.
            tokio::time::sleep(per_connection * n as u32 / CONNECTIONS as u32).await;
            let mut connection = Connection::open(smtp).await;
            let mut ticks = tokio::time::interval(per_connection);
            let mut acks = Vec::with_capacity(count);
            for _ in 0..count {
                ticks.tick().await;
                acks.push(connection.send(&to, &message).await);
            }
            acks
        }));
    }
    let mut acks = Vec::new();
    for sender in senders {
        acks.extend(sender.await.expect("a sender"));
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(latencies) = latencies(&acks, &receiver.seen.lock().unwrap()) {
            return latencies;
        }
        assert!(Instant::now() < deadline, "paced events did not all arrive");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Once every acknowledged message's event arrived: the milliseconds from each `250` to its
/// arrival, sorted.
fn latencies(acks: &[(Uuid, Instant)], seen: &Seen) -> Option<Vec<f64>> {
    let mut latencies = Vec::with_capacity(acks.len());
    for (id, acked) in acks {
        let arrived = *seen.arrivals.get(id)?;
        latencies.push(match arrived.checked_duration_since(*acked) {
            Some(after) => after.as_secs_f64() * 1000.0,
            None => -(acked.duration_since(arrived).as_secs_f64() * 1000.0),
        });
    }
    latencies.sort_by(f64::total_cmp);
    Some(latencies)
}

/// A 5 KB plain-text message.
fn five_kb_message() -> Vec<u8> {
    let mut message =
        b"From: Bench <bench@example.org>\r\nTo: someone@mail.cx\r\nSubject: webhook benchmark\r\n\r\n"
            .to_vec();
    let line = b"The quick brown fox jumps over the lazy dog, again and again and again.\r\n";
    while message.len() + line.len() <= MESSAGE_BYTES {
        message.extend_from_slice(line);
    }
    message
}

/// Sends `total` messages to `to` over `CONNECTIONS` connections; returns how many got 250 and
/// the time.
async fn ingest(smtp: SocketAddr, to: &str, message: &[u8], total: usize) -> (usize, Duration) {
    let started = Instant::now();
    let mut senders = Vec::new();
    for worker in 0..CONNECTIONS {
        let count = total / CONNECTIONS + usize::from(worker < total % CONNECTIONS);
        let (to, message) = (to.to_string(), message.to_vec());
        senders.push(tokio::spawn(async move {
            let mut connection = Connection::open(smtp).await;
            for _ in 0..count {
                connection.send(&to, &message).await;
            }
            count
        }));
    }
    let mut sent = 0;
    for sender in senders {
        sent += sender.await.expect("a sender");
    }
    (sent, started.elapsed())
}

/// One SMTP connection sending messages, MAIL/RCPT/DATA pipelined.
struct Connection {
    read: BufReader<OwnedReadHalf>,
    write: tokio::net::tcp::OwnedWriteHalf,
}

impl Connection {
    async fn open(smtp: SocketAddr) -> Connection {
        let stream = TcpStream::connect(smtp).await.expect("connect");
        stream.set_nodelay(true).expect("TCP_NODELAY");
        let (read, write) = stream.into_split();
        let mut connection = Connection {
            read: BufReader::new(read),
            write,
        };
        connection.reply("220").await;
        connection.write.write_all(b"EHLO bench\r\n").await.unwrap();
        connection.reply("250").await;
        connection
    }

    /// Sends one message; returns the stored id from the `250` and when it was read.
    async fn send(&mut self, to: &str, message: &[u8]) -> (Uuid, Instant) {
        let commands = format!("MAIL FROM:<sender@example.org>\r\nRCPT TO:<{to}>\r\nDATA\r\n");
        self.write.write_all(commands.as_bytes()).await.unwrap();
        self.reply("250").await;
        self.reply("250").await;
        self.reply("354").await;
        let mut body = message.to_vec();
        body.extend_from_slice(b".\r\n");
        self.write.write_all(&body).await.unwrap();
        let line = self.reply("250").await;
        let acked = Instant::now();
        let id = line.trim_end().rsplit(' ').next().unwrap_or_default();
        (
            Uuid::parse_str(id).unwrap_or_else(|_| panic!("no id in {line:?}")),
            acked,
        )
    }

    /// Reads one (possibly multi-line) reply, checks its code, returns its last line.
    async fn reply(&mut self, code: &str) -> String {
        let mut line = String::new();
        loop {
            line.clear();
            self.read.read_line(&mut line).await.expect("read a reply");
            assert!(line.starts_with(code), "expected {code}, got {line:?}");
            if line.as_bytes().get(3) != Some(&b'-') {
                return line;
            }
        }
    }
}
