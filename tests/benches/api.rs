//! `cargo bench -p mailcx-tests --bench api`: throughput and latency of the real server over
//! loopback TCP, against a baseline axum server whose one route does no work, on one runtime.
//!
//! Phases (each after a warm-up, bounded by time and by request count):
//! (a) baseline `GET /noop`; (b) `GET /api/me` with a valid token; (c) `GET /api/me` again while
//! 16 connections sign in (`POST /api/token`, Argon2id) in a loop; (d) `GET /pro/api/accounts` with
//! a `tm_pro_` token, for a Pro user with 20 mailboxes. Every connection is its own
//! keep-alive HTTP/1.1 connection driven by a raw hyper client (the least client overhead).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use mailcx_tests::{PASSWORD, TestServer};
use tokio::net::{TcpListener, TcpStream};

/// Connections that read (`GET /noop`, `GET /api/me`).
const READERS: usize = 32;
/// Connections that sign in during phase (c).
const SIGNERS: usize = 16;
/// Upper bound on the requests one connection sends in one phase.
const MAX_PER_CONNECTION: usize = 200_000;

/// How long each phase runs: the warm-up, then the measured part.
#[derive(Clone, Copy)]
struct Timing {
    warm_up: Duration,
    phase: Duration,
    /// A short run that checks the harness; its numbers are not judged against the targets.
    smoke: bool,
}

/// `cargo bench` passes `--bench`: full phases. Run any other way (`cargo test --benches`), a
/// short smoke run that only checks the harness and that every request answers 200.
fn timing() -> Timing {
    if std::env::args().any(|a| a == "--bench") {
        Timing {
            warm_up: Duration::from_secs(1),
            phase: Duration::from_secs(3),
            smoke: false,
        }
    } else {
        Timing {
            warm_up: Duration::from_millis(100),
            phase: Duration::from_millis(300),
            smoke: true,
        }
    }
}

/// One kind of request a connection repeats.
#[derive(Clone)]
struct Call {
    addr: SocketAddr,
    method: Method,
    path: &'static str,
    token: Option<String>,
    body: Option<Bytes>,
}

/// What one connection saw in one phase.
#[derive(Default)]
struct Tally {
    /// Latency of each successful request, in microseconds.
    latencies: Vec<u32>,
    errors: usize,
    elapsed: Duration,
}

/// Repeats `call` on one keep-alive connection until `deadline` or `MAX_PER_CONNECTION`.
async fn drive(call: Arc<Call>, deadline: Instant) -> Tally {
    let stream = TcpStream::connect(call.addr).await.expect("connect");
    stream.set_nodelay(true).expect("TCP_NODELAY");
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake::<_, Full<Bytes>>(TokioIo::new(stream))
            .await
            .expect("HTTP/1.1 handshake");
    let driver = tokio::spawn(connection);
    let started = Instant::now();
    let mut tally = Tally {
        latencies: Vec::with_capacity(16_384),
        ..Tally::default()
    };
    while Instant::now() < deadline && tally.latencies.len() + tally.errors < MAX_PER_CONNECTION {
        let mut request = Request::builder()
            .method(call.method.clone())
            .uri(call.path)
            .header(HOST, "127.0.0.1");
        if let Some(token) = &call.token {
            request = request.header(AUTHORIZATION, format!("Bearer {token}"));
        }
        if call.body.is_some() {
            request = request.header(CONTENT_TYPE, "application/json");
        }
        let request = request
            .body(Full::new(call.body.clone().unwrap_or_default()))
            .expect("a valid request");
        let sent = Instant::now();
        sender.ready().await.expect("the connection stays open");
        let response = sender.send_request(request).await.expect("a response");
        let status = response.status();
        response.into_body().collect().await.expect("the body");
        if status == StatusCode::OK {
            tally
                .latencies
                .push(sent.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
        } else {
            tally.errors += 1;
        }
    }
    tally.elapsed = started.elapsed();
    drop(sender);
    let _ = driver.await;
    tally
}

/// Runs `connections` connections of `call` for `duration` and merges what they saw.
async fn phase(call: &Call, connections: usize, duration: Duration) -> Tally {
    let call = Arc::new(call.clone());
    let deadline = Instant::now() + duration;
    let tasks: Vec<_> = (0..connections)
        .map(|_| tokio::spawn(drive(call.clone(), deadline)))
        .collect();
    merge(tasks).await
}

async fn merge(tasks: Vec<tokio::task::JoinHandle<Tally>>) -> Tally {
    let mut all = Tally::default();
    for task in tasks {
        let tally = task.await.expect("a load task");
        all.latencies.extend(tally.latencies);
        all.errors += tally.errors;
        all.elapsed = all.elapsed.max(tally.elapsed);
    }
    all.latencies.sort_unstable();
    all
}

/// Warm-up (discarded), then the measured phase.
async fn measure(call: &Call, connections: usize, timing: Timing) -> Tally {
    phase(call, connections, timing.warm_up).await;
    phase(call, connections, timing.phase).await
}

struct Row {
    name: &'static str,
    tally: Tally,
}

impl Row {
    fn per_second(&self) -> f64 {
        self.tally.latencies.len() as f64 / self.tally.elapsed.as_secs_f64()
    }

    fn percentile_ms(&self, p: f64) -> f64 {
        let latencies = &self.tally.latencies;
        if latencies.is_empty() {
            return f64::NAN;
        }
        let rank = ((p / 100.0) * latencies.len() as f64).ceil() as usize;
        f64::from(latencies[rank.clamp(1, latencies.len()) - 1]) / 1000.0
    }
}

async fn baseline_server() -> SocketAddr {
    let app = Router::new().route(
        "/noop",
        get(|| async { axum::Json(serde_json::json!({"ok": true})) }),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the baseline");
    let addr = listener.local_addr().expect("baseline address");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("the baseline serves") });
    addr
}

async fn run(timing: Timing) {
    let baseline = baseline_server().await;
    let server = TestServer::start().await;
    let (account, _) = server.create_mailbox("bench").await;
    let addr = server.running().http_addr;
    let pro_token = pro_user_with_mailboxes(&server, 20).await;

    let noop = Call {
        addr: baseline,
        method: Method::GET,
        path: "/noop",
        token: None,
        body: None,
    };
    let me = Call {
        addr,
        method: Method::GET,
        path: "/api/me",
        token: Some(account.token.clone()),
        body: None,
    };
    let sign_in = Call {
        addr,
        method: Method::POST,
        path: "/api/token",
        token: None,
        body: Some(Bytes::from(
            serde_json::json!({"address": account.address, "password": PASSWORD}).to_string(),
        )),
    };

    let a = Row {
        name: "(a) baseline GET /noop",
        tally: measure(&noop, READERS, timing).await,
    };
    let b = Row {
        name: "(b) GET /api/me",
        tally: measure(&me, READERS, timing).await,
    };
    // (c): the sign-in loops start with the readers' warm-up and end with their measured phase.
    let sign_in = Arc::new(sign_in);
    let deadline = Instant::now() + timing.warm_up + timing.phase;
    let signers: Vec<_> = (0..SIGNERS)
        .map(|_| tokio::spawn(drive(sign_in.clone(), deadline)))
        .collect();
    let c = Row {
        name: "(c) GET /api/me during sign-ins",
        tally: measure(&me, READERS, timing).await,
    };
    let s = Row {
        name: "(c) POST /api/token (sign-in)",
        tally: merge(signers).await,
    };

    let pro_accounts = Call {
        addr,
        method: Method::GET,
        path: "/pro/api/accounts",
        token: Some(pro_token),
        body: None,
    };
    let d = Row {
        name: "(d) GET /pro/api/accounts tm_pro_",
        tally: measure(&pro_accounts, READERS, timing).await,
    };

    println!();
    println!(
        "mailcx API benchmark: loopback TCP, keep-alive HTTP/1.1, {:.1} s per phase after {:.1} s warm-up",
        timing.phase.as_secs_f64(),
        timing.warm_up.as_secs_f64()
    );
    println!(
        "readers: {READERS} connections; phase (c) adds {SIGNERS} sign-in connections; {} CPU(s)",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!();
    println!(
        "{:<34} {:>6} {:>10} {:>10} {:>9} {:>9} {:>7}",
        "phase", "conns", "requests", "req/s", "p50 ms", "p99 ms", "errors"
    );
    println!("{}", "-".repeat(91));
    for (row, conns) in [
        (&a, READERS),
        (&b, READERS),
        (&c, READERS),
        (&s, SIGNERS),
        (&d, READERS),
    ] {
        println!(
            "{:<34} {:>6} {:>10} {:>10.0} {:>9.2} {:>9.2} {:>7}",
            row.name,
            conns,
            row.tally.latencies.len(),
            row.per_second(),
            row.percentile_ms(50.0),
            row.percentile_ms(99.0),
            row.tally.errors
        );
    }
    println!();
    let ratio = b.per_second() / a.per_second() * 100.0;
    let verdict = |ok: bool| match (timing.smoke, ok) {
        (true, _) => "not judged in a smoke run; use cargo bench",
        (false, true) => "met",
        (false, false) => "MISSED",
    };
    println!(
        "GET /api/me throughput / baseline:     {ratio:6.1} %   (target >= 40 %: {})",
        verdict(ratio >= 40.0)
    );
    let p99 = c.percentile_ms(99.0);
    println!(
        "GET /api/me p99 under sign-in load:    {p99:6.2} ms  (target < 20 ms: {})",
        verdict(p99 < 20.0)
    );
    println!("sign-ins per second under that load:   {:6.1}", s.per_second());
    let pro_ratio = d.per_second() / a.per_second() * 100.0;
    println!(
        "GET /pro/api/accounts / baseline:      {pro_ratio:6.1} %   (target >= 50 %: {})",
        verdict(pro_ratio >= 50.0)
    );
    let errors = a.tally.errors + b.tally.errors + c.tally.errors + s.tally.errors + d.tally.errors;
    assert_eq!(errors, 0, "some requests did not answer 200");
}

/// A Pro user with `mailboxes` mailboxes; returns an API token of theirs.
async fn pro_user_with_mailboxes(server: &TestServer, mailboxes: usize) -> String {
    let jwt = server.create_pro_user("bench@example.com").await;
    let token = server.mint_pro_token(&jwt, "bench").await;
    for i in 0..mailboxes {
        let body = serde_json::json!({"address": format!("pro{i}@mail.cx"), "password": PASSWORD});
        let response = server
            .http()
            .post(server.endpoint("/api/accounts"))
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await
            .expect("creating a mailbox");
        assert_eq!(response.status(), StatusCode::CREATED.as_u16());
    }
    token
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a Tokio runtime");
    runtime.block_on(run(timing()));
}
