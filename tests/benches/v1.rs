//! `cargo bench -p mailcx-tests --bench v1`: what thousands of `/v1` long polls cost the server
//! while they wait, and how soon a waiter hears of its mail. The server runs in this process;
//! the waiters run in a child process (this same binary, started with `--v1-waiters`), so the
//! memory and CPU measured here are the server's alone.
//!
//! Prints:
//! - the server's RSS before and while 5,000 long polls on distinct addresses wait, and per
//!   waiter;
//! - the server's CPU while they wait idle (a waiting long poll should cost nothing);
//! - the time from the sender reading `250` to the waiter reading its `200`, p50, p99 and max,
//!   with mail paced at 500 messages per second, one message per waiting address.
//!
//! Run any other way (`cargo test --benches`), a short smoke run checks the harness only.

use std::collections::HashMap;
use std::io::Write;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mailcx_tests::TestServer;
use mailcx_tests::mail::{Smtp, text_message};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;
use tokio::sync::Mutex;

/// The open domain of the benchmark's server.
const DOMAIN: &str = "open.bench";
/// Paced rate of the latency phase, messages per second.
const PACED_RATE: u64 = 500;
/// SMTP connections the paced mail is spread over.
const SENDERS: usize = 4;
/// The long poll's hold: longer than the whole run, so no waiter comes back with 204 meanwhile.
const HOLD: Duration = Duration::from_secs(600);

/// How much the run does.
struct Sizes {
    waiters: usize,
    /// How long the idle waiters are watched.
    idle: Duration,
    smoke: bool,
}

fn sizes() -> Sizes {
    if std::env::args().any(|a| a == "--bench") {
        Sizes {
            waiters: 5_000,
            idle: Duration::from_secs(10),
            smoke: false,
        }
    } else {
        Sizes {
            waiters: 50,
            idle: Duration::from_millis(500),
            smoke: true,
        }
    }
}

/// Microseconds since the Unix epoch: the one clock the two processes share.
fn now_micros() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_micros() as u64
}

/// This process's resident memory, from `/proc/self/status`, in KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// This process's CPU time (user + system), from `/proc/self/stat`.
fn cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return Duration::ZERO;
    };
    let fields: Vec<u64> = rest.split_whitespace().map(|f| f.parse().unwrap_or(0)).collect();
    // utime and stime are the file's fields 14 and 15; those after the name start at 3.
    let ticks = fields.get(11).unwrap_or(&0) + fields.get(12).unwrap_or(&0);
    // Clock ticks, 100 a second on Linux.
    Duration::from_millis(ticks * 10)
}

/// Raises the soft limit of open files to the hard one: each waiter is a socket on each side.
fn raise_file_limit(needed: u64) {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    if limit.current.is_some_and(|current| current < needed) {
        limit.current = limit.maximum;
        if setrlimit(Resource::Nofile, limit).is_err() {
            eprintln!("warning: could not raise the open-file limit; {needed} may not fit");
        }
    }
}

fn address(n: usize) -> String {
    format!("waiter{n}@{DOMAIN}")
}

/// The child: `waiters` long polls on distinct addresses; prints `n micros` when waiter `n`
/// gets its 200 (a 204 polls again), and exits once every waiter has been answered.
async fn waiters_process(url: String, waiters: usize) {
    raise_file_limit(waiters as u64 + 256);
    let http = reqwest::Client::builder()
        .timeout(HOLD * 2)
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let (answered, mut answers) = tokio::sync::mpsc::unbounded_channel();
    for n in 0..waiters {
        let (http, answered) = (http.clone(), answered.clone());
        let url = format!("{url}/v1/inbox/{}", address(n));
        tokio::spawn(async move {
            loop {
                match http.get(&url).send().await {
                    Ok(response) if response.status() == 200 => {
                        let at = now_micros();
                        let _ = response.bytes().await;
                        let _ = answered.send((n, at));
                        return;
                    }
                    Ok(response) if response.status() == 204 => continue,
                    Ok(response) => {
                        eprintln!("waiter {n}: HTTP {}", response.status());
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    Err(e) => {
                        eprintln!("waiter {n}: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
        });
    }
    drop(answered);
    let mut out = std::io::stdout().lock();
    while let Some((n, at)) = answers.recv().await {
        let _ = writeln!(out, "{n} {at}");
        let _ = out.flush();
    }
}

/// Waits until the server's CPU has been still for a while: every waiter has been taken in.
async fn settle(deadline: Duration) -> Duration {
    let started = Instant::now();
    let mut before = cpu();
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let after = cpu();
        if after.saturating_sub(before) <= Duration::from_millis(20) || started.elapsed() > deadline {
            return started.elapsed();
        }
        before = after;
    }
}

/// Established TCP connections to local `port`, from `/proc/net/tcp` (the kernel's view).
fn connections_to(port: u16) -> usize {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    let port = format!(":{port:04X}");
    table
        .lines()
        .skip(1)
        .filter(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // `sl local_address rem_address st ...`; state 01 is ESTABLISHED.
            fields.len() > 3 && fields[1].ends_with(&port) && fields[3] == "01"
        })
        .count()
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == "--v1-waiters") {
        let url = args[at + 1].clone();
        let waiters = args[at + 2].parse().unwrap();
        return waiters_process(url, waiters).await;
    }
    let sizes = sizes();
    raise_file_limit(sizes.waiters as u64 + 1024);
    let server = TestServer::start_with(|config| {
        config.domains = vec![DOMAIN.into()];
        config.open_domains = vec![DOMAIN.into()];
        config.long_poll_hold = HOLD;
        config.http_max_connections = sizes.waiters + 1024;
        config.http_max_connections_per_client = sizes.waiters + 1024;
        config.http_idle_timeout = HOLD * 2;
        config.long_poll_max_waiters = sizes.waiters + 1024;
        // Every waiter comes from this one machine.
        config.long_poll_max_waiters_per_client = sizes.waiters + 1024;
        config.retention = Duration::ZERO;
    })
    .await;
    settle(Duration::from_secs(5)).await;
    let rss_before = rss_kib();

    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--v1-waiters", server.url(), &sizes.waiters.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let answers: Arc<Mutex<HashMap<usize, u64>>> = Arc::default();
    let reader = {
        let answers = answers.clone();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                let mut parts = line.split_whitespace();
                let n: usize = parts.next().unwrap().parse().unwrap();
                let at: u64 = parts.next().unwrap().parse().unwrap();
                answers.lock().await.insert(n, at);
            }
        })
    };
    // Every waiter connected, then the server quiet: all are parked.
    let started = Instant::now();
    let port = server.running().http_addr.port();
    while connections_to(port) < sizes.waiters && started.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    settle(Duration::from_secs(60)).await;
    let took = started.elapsed();
    let rss_waiting = rss_kib();
    let idle_from = cpu();
    tokio::time::sleep(sizes.idle).await;
    let idle_cpu = cpu().saturating_sub(idle_from);
    let idle_share = idle_cpu.as_secs_f64() / sizes.idle.as_secs_f64() * 100.0;
    assert!(
        answers.lock().await.is_empty(),
        "no waiter may answer before its mail"
    );

    // One message per address, paced, over a few SMTP connections; each 250's time is kept.
    let sent_at: Arc<Mutex<HashMap<usize, u64>>> = Arc::default();
    let interval = Duration::from_micros(1_000_000 * SENDERS as u64 / PACED_RATE);
    let senders: Vec<_> = (0..SENDERS)
        .map(|s| {
            let (smtp, sent_at) = (server.smtp_addr(), sent_at.clone());
            let mine: Vec<usize> = (s..sizes.waiters).step_by(SENDERS).collect();
            tokio::spawn(async move {
                let mut session = Smtp::open(smtp).await;
                let mut tick = tokio::time::interval(interval);
                for n in mine {
                    tick.tick().await;
                    let to = address(n);
                    let message = text_message("bench@sender.example", &to, "bench", "paced mail");
                    session
                        .transaction("bench@sender.example", &[&to], &message)
                        .await
                        .assert_code(250);
                    sent_at.lock().await.insert(n, now_micros());
                }
            })
        })
        .collect();
    for sender in senders {
        sender.await.unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while answers.lock().await.len() < sizes.waiters && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = child.kill().await;
    reader.abort();

    let answers = answers.lock().await;
    let sent_at = sent_at.lock().await;
    let mut latencies: Vec<i64> = sent_at
        .iter()
        .filter_map(|(n, sent)| Some(*answers.get(n)? as i64 - *sent as i64))
        .collect();
    latencies.sort_unstable();
    let percentile = |p: f64| {
        let index = ((latencies.len() as f64 * p).ceil() as usize).saturating_sub(1);
        latencies.get(index).copied().unwrap_or(0) as f64 / 1000.0
    };
    println!("v1 long poll, {} waiters on distinct addresses", sizes.waiters);
    println!("  taken in within:        {:.1} s", took.as_secs_f64());
    println!("  server RSS before:      {:.1} MiB", rss_before as f64 / 1024.0);
    println!("  server RSS waiting:     {:.1} MiB", rss_waiting as f64 / 1024.0);
    println!(
        "  per waiter:             {:.1} KiB",
        rss_waiting.saturating_sub(rss_before) as f64 / sizes.waiters as f64
    );
    println!(
        "  server CPU while idle:  {:.0} ms in {:.1} s ({idle_share:.2}% of a core)",
        idle_cpu.as_secs_f64() * 1000.0,
        sizes.idle.as_secs_f64()
    );
    println!(
        "  250 -> 200 at {PACED_RATE}/s:   p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({} of {} answered)",
        percentile(0.50),
        percentile(0.99),
        percentile(1.0),
        latencies.len(),
        sizes.waiters
    );
    assert_eq!(latencies.len(), sizes.waiters, "every waiter hears of its mail");
    if sizes.smoke {
        println!("(smoke run: numbers mean nothing; run with cargo bench)");
    }
}
