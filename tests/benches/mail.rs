//! SMTP ingest and message-list latency, against the real server in-process over TCP.
//!
//! Run with `cargo bench -p mailcx-tests --bench mail`. Prints:
//! - durable SMTP ingest of 5 KB messages over 8 concurrent connections, in messages per second
//!   (every message counted has had its `250`, which the server sends only after the commit);
//! - `GET /api/messages` p50/p99 for a mailbox holding 1,000 and then 100,000 messages;
//! - the largest the WAL file grew to meanwhile.
//!
//! `MAILCX_BENCH_SOAK_SECS=300` adds a soak: ingest over 8 connections for that long, printing the
//! rate and the WAL's ceiling each minute.

use std::time::{Duration, Instant};

use mailcx_common::{Client, Credentials};
use mailcx_server::{Config, Server};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

const CONNECTIONS: usize = 8;
const MESSAGE_BYTES: usize = 5 * 1024;
const SMALL_MAILBOX: usize = 1_000;
const LARGE_MAILBOX: usize = 100_000;
const PAGE_SAMPLES: usize = 2_000;

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = Config::ephemeral(dir.path().join("bench.db"));
    config.rate_limit = 0;
    config.accounts_per_hour = 0;
    config.retention = Duration::ZERO;
    config.quota = u64::MAX / 2;
    let server = Server::start(config).await.expect("server starts");
    let wal = WalWatch::start(dir.path().join("bench.db-wal"));
    let client = Client::new(&server.http_url());
    let credentials = Credentials {
        address: "bench@mail.cx".into(),
        password: "benchmark".into(),
    };
    let token = client.create_account(&credentials).await.expect("mailbox").token;
    let mailbox = client.with_token(token);
    let message = five_kb_message();

    println!(
        "mailcx mail benchmark: {} byte messages, {CONNECTIONS} SMTP connections",
        message.len()
    );
    ingest(server.smtp_addr, &message, SMALL_MAILBOX).await;
    let small = page_latency(&mailbox).await;

    let (sent, elapsed) = ingest(server.smtp_addr, &message, LARGE_MAILBOX - SMALL_MAILBOX).await;
    let rate = sent as f64 / elapsed.as_secs_f64();
    let large = page_latency(&mailbox).await;

    println!();
    println!("SMTP ingest (durable, 250 after commit)");
    println!(
        "  {sent} messages in {:.2} s = {rate:.0} messages/s (target >= 4000)",
        elapsed.as_secs_f64()
    );
    println!();
    println!("GET /api/messages?page=1 ({PAGE_SAMPLES} sequential requests)");
    println!(
        "  mailbox of {SMALL_MAILBOX:>7}: p50 {:>7.3} ms  p99 {:>7.3} ms",
        small.0, small.1
    );
    println!(
        "  mailbox of {LARGE_MAILBOX:>7}: p50 {:>7.3} ms  p99 {:>7.3} ms  (target: p99 < 5 ms at both)",
        large.0, large.1
    );
    println!();
    println!(
        "WAL file at most {:.1} MiB (target: tens of MiB)",
        wal.ceiling_mib()
    );
    if let Some(secs) = std::env::var("MAILCX_BENCH_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        soak(server.smtp_addr, &message, Duration::from_secs(secs), &wal).await;
    }
    server.shutdown().await;
}

/// The largest size a WAL file reached, sampled every 20 ms.
struct WalWatch {
    ceiling: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl WalWatch {
    fn start(path: std::path::PathBuf) -> WalWatch {
        let ceiling = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let seen = ceiling.clone();
        std::thread::spawn(move || {
            loop {
                let size = std::fs::metadata(&path).map_or(0, |m| m.len());
                seen.fetch_max(size, std::sync::atomic::Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        WalWatch { ceiling }
    }

    fn ceiling_mib(&self) -> f64 {
        self.ceiling.load(std::sync::atomic::Ordering::Relaxed) as f64 / (1 << 20) as f64
    }
}

/// Ingests for `length` in rounds of a minute at most, printing each round's rate and the WAL's
/// ceiling so far.
async fn soak(addr: std::net::SocketAddr, message: &[u8], length: Duration, wal: &WalWatch) {
    println!();
    println!("soak: {CONNECTIONS} connections for {} s", length.as_secs());
    let started = Instant::now();
    let mut total = 0;
    while started.elapsed() < length {
        let round = Instant::now();
        let mut sent = 0;
        while round.elapsed() < Duration::from_secs(60) && started.elapsed() < length {
            sent += ingest(addr, message, 8_000).await.0;
        }
        total += sent;
        println!(
            "  {:>4} s: {:.0} messages/s this round, WAL at most {:.1} MiB",
            started.elapsed().as_secs(),
            sent as f64 / round.elapsed().as_secs_f64(),
            wal.ceiling_mib()
        );
    }
    println!(
        "  {total} messages in {:.0} s = {:.0} messages/s; WAL at most {:.1} MiB",
        started.elapsed().as_secs_f64(),
        total as f64 / started.elapsed().as_secs_f64(),
        wal.ceiling_mib()
    );
}

/// A 5 KB plain-text message with a few headers.
fn five_kb_message() -> Vec<u8> {
    let mut message =
        b"From: Bench <bench@example.org>\r\nTo: bench@mail.cx\r\nSubject: benchmark message\r\n\r\n"
            .to_vec();
    let line = b"The quick brown fox jumps over the lazy dog, again and again and again.\r\n";
    while message.len() + line.len() <= MESSAGE_BYTES {
        message.extend_from_slice(line);
    }
    message
}

/// Sends `total` messages over `CONNECTIONS` connections; returns how many got 250 and the time.
async fn ingest(addr: std::net::SocketAddr, message: &[u8], total: usize) -> (usize, Duration) {
    let started = Instant::now();
    let mut senders = Vec::new();
    for worker in 0..CONNECTIONS {
        let count = total / CONNECTIONS + usize::from(worker < total % CONNECTIONS);
        let message = message.to_vec();
        senders.push(tokio::spawn(
            async move { send_many(addr, &message, count).await },
        ));
    }
    let mut sent = 0;
    for sender in senders {
        sent += sender.await.expect("sender task");
    }
    let elapsed = started.elapsed();
    assert_eq!(sent, total, "every message must be acknowledged");
    (sent, elapsed)
}

/// One SMTP connection sending `count` messages, each MAIL/RCPT/DATA pipelined.
async fn send_many(addr: std::net::SocketAddr, message: &[u8], count: usize) -> usize {
    let stream = TcpStream::connect(addr).await.expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    expect(&mut read, "220").await;
    write.write_all(b"EHLO bench\r\n").await.expect("write");
    expect(&mut read, "250").await;
    let mut body = message.to_vec();
    body.extend_from_slice(b".\r\n");
    let mut sent = 0;
    for _ in 0..count {
        write
            .write_all(b"MAIL FROM:<sender@example.org>\r\nRCPT TO:<bench@mail.cx>\r\nDATA\r\n")
            .await
            .expect("write");
        expect(&mut read, "250").await;
        expect(&mut read, "250").await;
        expect(&mut read, "354").await;
        write.write_all(&body).await.expect("write");
        expect(&mut read, "250").await;
        sent += 1;
    }
    write.write_all(b"QUIT\r\n").await.expect("write");
    sent
}

/// Reads one (possibly multi-line) reply and checks its code.
async fn expect(read: &mut BufReader<tokio::net::tcp::OwnedReadHalf>, code: &str) {
    let mut line = String::new();
    loop {
        line.clear();
        read.read_line(&mut line).await.expect("read reply");
        assert!(line.starts_with(code), "expected {code}, got {line:?}");
        if line.as_bytes().get(3) != Some(&b'-') {
            return;
        }
    }
}

/// p50 and p99 in milliseconds of fetching the first page.
async fn page_latency(mailbox: &Client) -> (f64, f64) {
    // Warm up for a while: right after a large ingest the checkpointer is still copying pages.
    let warm_up = Instant::now();
    while warm_up.elapsed() < Duration::from_secs(2) {
        mailbox.messages(1).await.expect("warm-up page");
    }
    let mut samples = Vec::with_capacity(PAGE_SAMPLES);
    for _ in 0..PAGE_SAMPLES {
        let started = Instant::now();
        let page = mailbox.messages(1).await.expect("page");
        samples.push(started.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(page.messages.len(), 30);
    }
    samples.sort_by(f64::total_cmp);
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    (at(0.50), at(0.99))
}
