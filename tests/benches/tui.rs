//! TUI benchmarks (run with `cargo bench -p mailcx-tests --bench tui`):
//! - launch: from start-up (bundled server on its SQLite file) to the first frame drawn;
//! - frame: drawing one frame of an inbox holding 10,000 messages;
//! - idle: the real event loop with an open, live inbox and no input for a few seconds:
//!   redraws, loop wake-ups, CPU time and context switches of the whole process;
//! - take: a sign-up mail arrives over SMTP in a live inbox, then `y`: from the key to its code
//!   on the clipboard (the body is fetched in the background, the code found and copied).
//!
//! Targets: first frame under 200 ms, one frame under 2 ms, no redraw or wake-up while idle.

use std::path::Path;
use std::time::{Duration, Instant};

use mailcx::crossterm::event::KeyCode;
use mailcx::ratatui::Terminal;
use mailcx::ratatui::backend::TestBackend;
use mailcx::run::{LoopStats, run_loop};
use mailcx::saved::{Saved, SavedMailbox};
use mailcx::testing::Harness;
use mailcx::{Cli, Reply, ServerInfo, Settings, launch};
use mailcx_common::{Client, MessageList, MessageSummary, Timestamp};
use uuid::Uuid;

const WAIT: Duration = Duration::from_secs(30);

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        launch_to_first_frame().await;
        inbox_frame();
        idle().await;
        key_to_code().await;
    });
}

/// `y` on a new mail, to its code on the clipboard: bundled server, a throwaway mailbox's live
/// inbox, one sign-up mail at a time over SMTP.
async fn key_to_code() {
    use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
    let dir = tempfile::tempdir().unwrap();
    let prepared = launch::prepare(&cli(dir.path())).await.expect("start-up");
    let ServerInfo::Embedded { smtp, .. } = prepared.app.ctx().server.clone() else {
        unreachable!("the bench runs the bundled server")
    };
    let mut h = Harness::from_prepared(prepared.app, prepared.actions);
    h.settle(WAIT).await.unwrap();
    h.key(KeyCode::Char('t'));
    h.wait_for_text("● live", WAIT).await.unwrap();
    let address = h.app.ctx().saved.mailboxes()[0].address.clone();
    h.app.take_clipboard();
    let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(smtp.ip().to_string())
        .port(smtp.port())
        .build();
    let mut times = Vec::new();
    for i in 0..30u32 {
        let code = format!("{:06}", 314_159 + i * 7919);
        let subject = format!("Confirm your account ({i})");
        let mail = Message::builder()
            .from("Example <no-reply@example.com>".parse().unwrap())
            .to(address.parse().unwrap())
            .subject(&subject)
            .body(format!(
                "Welcome!\n\nYour verification code is {code}. It expires in 10 minutes.\n\n\
                 Or open https://app.example.com/verify?t={i}\n"
            ))
            .unwrap();
        transport.send(mail).await.expect("the mail is accepted");
        h.wait_for_text(&subject, WAIT).await.unwrap();
        h.settle(WAIT).await.unwrap();
        let started = Instant::now();
        h.key(KeyCode::Char('y'));
        h.wait_for_text(&format!("Copied the code {code}"), WAIT)
            .await
            .unwrap();
        let copied = h.app.take_clipboard();
        times.push(started.elapsed());
        assert_eq!(copied, vec![code]);
    }
    times.sort();
    println!(
        "take: y on a new mail to its code on the clipboard: median {:.1} ms, p90 {:.1} ms, max {:.1} ms ({} mails)",
        ms(times[times.len() / 2]),
        ms(times[times.len() * 9 / 10]),
        ms(*times.last().unwrap()),
        times.len()
    );
    drop(h);
    if let Some(server) = prepared.server {
        server.shutdown().await;
    }
}

fn cli(dir: &Path) -> Cli {
    Cli {
        server: None,
        config_dir: Some(dir.join("config")),
        data_dir: Some(dir.join("data")),
        downloads: Some(dir.join("downloads")),
        smtp_port: 2525,
    }
}

/// Time from `launch::prepare` (bundled server start included) to the first frame drawn.
async fn launch_to_first_frame() {
    let dir = tempfile::tempdir().unwrap();
    let mut times = Vec::new();
    for run in 0..6 {
        let started = Instant::now();
        let prepared = launch::prepare(&cli(dir.path())).await.expect("start-up");
        let mut app = prepared.app;
        let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
        terminal.draw(|frame| app.render(frame)).unwrap();
        let elapsed = started.elapsed();
        if run == 0 {
            println!("launch: first frame, new database      {:>8.1} ms", ms(elapsed));
        } else {
            times.push(elapsed);
        }
        drop(app);
        if let Some(server) = prepared.server {
            server.shutdown().await;
        }
    }
    times.sort();
    println!(
        "launch: first frame, existing database median {:.1} ms, max {:.1} ms (5 runs; target < 200 ms)",
        ms(times[times.len() / 2]),
        ms(*times.last().unwrap())
    );
}

/// One frame of an inbox holding `count` messages, selection moved by a key before each frame.
fn inbox_frame() {
    for count in [30usize, 10_000] {
        let dir = tempfile::tempdir().unwrap();
        let mut h = inbox_with(dir.path(), count);
        h.key(KeyCode::Home);
        for _ in 0..(count / 2) / 20 {
            h.key(KeyCode::PageDown);
        }
        let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
        let frames = 2000;
        let mut times = Vec::with_capacity(frames);
        for i in 0..frames {
            let key = if i % 2 == 0 { KeyCode::Down } else { KeyCode::Up };
            let started = Instant::now();
            h.key(key);
            terminal.draw(|frame| h.app.render(frame)).unwrap();
            times.push(started.elapsed());
        }
        times.sort();
        let mean = times.iter().sum::<Duration>() / frames as u32;
        println!(
            "frame: inbox of {count:>6} messages: mean {:.3} ms, median {:.3} ms, p99 {:.3} ms (target < 2 ms)",
            ms(mean),
            ms(times[frames / 2]),
            ms(times[frames * 99 / 100])
        );
    }
}

/// An app with one mailbox whose inbox holds `count` messages (all loaded, last page reached).
fn inbox_with(dir: &Path, count: usize) -> Harness {
    let server = ServerInfo::Remote {
        url: "http://127.0.0.1:9".into(),
    };
    Saved::load(dir, &server.key())
        .0
        .upsert(SavedMailbox {
            address: "bench@mail.cx".into(),
            id: Uuid::nil(),
            token: "t".into(),
            password: None,
            open: false,
        })
        .unwrap();
    let mut h = Harness::new(Settings {
        server,
        client: Client::new("http://127.0.0.1:9"),
        config_dir: dir.into(),
        downloads: dir.into(),
    });
    h.key(KeyCode::Enter);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let messages: Vec<MessageSummary> = (0..count)
        .map(|i| MessageSummary {
            id: Uuid::from_u128(i as u128 + 1),
            sender: "sender@example.org".into(),
            from: format!("Sender {i} <sender{i}@example.org>"),
            subject: format!("Message number {i} with a subject of ordinary length"),
            preview_text:
                "The first hundred characters of the text body, whitespace collapsed, as the list shows"
                    .into(),
            size: 1000 + i as u64,
            created_at: Timestamp::from_timestamp(now - i as i64 * 37, 0).unwrap(),
            is_read: i % 3 == 0,
        })
        .collect();
    for (page, list) in [(1, messages), (2, Vec::new())] {
        h.answer(Reply::Page {
            address: "bench@mail.cx".into(),
            page,
            result: Ok(MessageList { messages: list, page }),
        });
    }
    assert!(h.screen().contains(&format!("{count} messages")));
    h
}

/// The real loop, idle: bundled server, a mailbox with its inbox open and live, no input.
async fn idle() {
    let dir = tempfile::tempdir().unwrap();
    let prepared = launch::prepare(&cli(dir.path())).await.expect("start-up");
    let mut h = Harness::from_prepared(prepared.app, prepared.actions);
    h.settle(WAIT).await.unwrap();
    h.key(KeyCode::Char('n'));
    h.type_text("idle");
    for key in [KeyCode::Tab, KeyCode::Tab] {
        h.key(key);
    }
    h.type_text("secret-password");
    h.key(KeyCode::Tab);
    h.type_text("secret-password");
    h.key(KeyCode::Enter);
    h.wait_for_text("Created idle@mail.cx", WAIT).await.unwrap();
    h.key(KeyCode::Enter);
    h.wait_for("a live, settled inbox", WAIT, |app, screen| {
        screen.contains("● live") && !app.is_busy()
    })
    .await
    .unwrap();
    let (mut app, mut actions) = h.into_parts();
    // Let the loop draw its first frame and the server finish any start-up work.
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
    let mut warmup = LoopStats::default();
    let never = futures_util::stream::pending();
    let _ = tokio::time::timeout(
        Duration::from_millis(500),
        run_loop(&mut terminal, &mut app, never, &mut actions, |_| {}, &mut warmup),
    )
    .await;

    let window = Duration::from_secs(5);
    let mut stats = LoopStats::default();
    let (cpu_before, switches_before) = (cpu_time(), context_switches());
    let started = Instant::now();
    let never = futures_util::stream::pending();
    let _ = tokio::time::timeout(
        window,
        run_loop(&mut terminal, &mut app, never, &mut actions, |_| {}, &mut stats),
    )
    .await;
    let wall = started.elapsed();
    let cpu = cpu_time() - cpu_before;
    let switches = context_switches().saturating_sub(switches_before);
    // The loop draws once on entry (it cannot know the screen is already up to date).
    println!(
        "idle: {:.1} s with an open live inbox: {} redraw(s) after the entry frame, {} loop wake-up(s) \
         (target 0 and 0)",
        wall.as_secs_f64(),
        stats.draws.saturating_sub(1),
        stats.wakeups
    );
    println!(
        "idle: whole process (app + bundled server): CPU {:.1} ms ({:.3}% of one core), {} context switches",
        ms(cpu),
        100.0 * cpu.as_secs_f64() / wall.as_secs_f64(),
        switches
    );
    drop(app);
    if let Some(server) = prepared.server {
        server.shutdown().await;
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// User + system CPU time of this process, from /proc/self/stat (zero where there is none).
fn cpu_time() -> Duration {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return Duration::ZERO;
    };
    // Fields after the command name (which is in parentheses and may hold spaces).
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
    // utime and stime are fields 14 and 15 of the file; the fields after the name start at field 3.
    // They count clock ticks, which are 100 a second on Linux.
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

/// Voluntary and involuntary context switches of all threads of this process.
fn context_switches() -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("status")).ok())
        .flat_map(|status| {
            status
                .lines()
                .filter(|l| l.contains("ctxt_switches"))
                .filter_map(|l| l.split_whitespace().last()?.parse::<u64>().ok())
                .collect::<Vec<_>>()
        })
        .sum()
}
