//! The real `mailcx-server` executable: it logs where it listens, serves, exits 0 promptly on
//! SIGTERM with its data on disk, and refuses bad flags or an unusable database with a short error.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::support::{PASSWORD, SERVER_BINARY, credentials};

/// The binary with a clean environment, so no `MAILCX_*` or `RUST_LOG` of the caller leaks in.
pub(crate) fn server_command() -> Command {
    server_command_under(&[])
}

/// The binary run by `wrapper` (a program and its arguments, e.g. `prlimit --nofile=64 --`).
fn server_command_under(wrapper: &[&str]) -> Command {
    let mut command = match wrapper.split_first() {
        Some((program, args)) => {
            let mut command = Command::new(program);
            command.args(args).arg(SERVER_BINARY);
            command
        }
        None => Command::new(SERVER_BINARY),
    };
    command
        .env_clear()
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// Kills the child if a test fails before it exited on its own.
pub(crate) struct Running(pub(crate) Child);

impl Drop for Running {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Waits for the child to exit, polling until `timeout`.
fn wait_exit(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().expect("waitpid") {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Forwards every line the child prints on stdout and stderr to a channel.
fn lines_of(child: &mut Child) -> mpsc::Receiver<String> {
    let (send, lines) = mpsc::channel();
    let outputs: [Box<dyn Read + Send>; 2] = [
        Box::new(child.stdout.take().unwrap()),
        Box::new(child.stderr.take().unwrap()),
    ];
    for output in outputs {
        let send = send.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(output).lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    break;
                }
            }
        });
    }
    lines
}

/// Starts the binary on free loopback ports over `db` with `flags`; returns it and its HTTP base
/// URL, learnt from the log line.
pub(crate) fn start_binary(db: &Path, flags: &[&str]) -> (Running, String) {
    let (child, url, lines) = start_binary_under(&[], db, flags);
    // Keep draining its output so it never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, url)
}

/// Starts the binary under `wrapper` like `start_binary`; also returns the lines it prints from
/// then on, which the caller must keep reading.
fn start_binary_under(
    wrapper: &[&str],
    db: &Path,
    flags: &[&str],
) -> (Running, String, mpsc::Receiver<String>) {
    let child = server_command_under(wrapper)
        .args(["--http-addr", "127.0.0.1:0", "--smtp-addr", "127.0.0.1:0", "--db"])
        .arg(db)
        .args(flags)
        .spawn()
        .expect("the binary starts");
    let mut child = Running(child);
    let lines = lines_of(&mut child.0);
    const MARK: &str = "HTTP API listening on http://";
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = Vec::new();
    let addr = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) => {
                if let Some(at) = line.find(MARK) {
                    let rest = &line[at + MARK.len()..];
                    let end = rest.find(|c: char| c.is_whitespace()).unwrap_or(rest.len());
                    break rest[..end].to_string();
                }
                seen.push(line);
            }
            Err(e) => panic!("no {MARK:?} line ({e}); the binary printed: {seen:#?}"),
        }
    };
    (child, format!("http://{addr}"), lines)
}

/// Sends SIGTERM to the child and waits (with a deadline) for it to exit.
pub(crate) fn terminate(child: &mut Running) -> Option<ExitStatus> {
    let pid = child.0.id().to_string();
    let kill = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill runs");
    assert!(kill.success());
    wait_exit(&mut child.0, Duration::from_secs(20))
}

#[tokio::test]
async fn the_binary_serves_and_exits_0_promptly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("data").join("mailcx.db");
    let (mut child, url) = start_binary(&db, &[]);
    let client = mailcx_common::Client::new(&url);
    assert_eq!(client.domains().await.unwrap()[0].domain, "mail.cx");
    let account = client
        .create_account(&credentials("binary@mail.cx", PASSWORD))
        .await
        .unwrap();

    let pid = child.0.id().to_string();
    let kill = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill runs");
    assert!(kill.success());
    let status = wait_exit(&mut child.0, Duration::from_secs(20)).expect("the server exits after SIGTERM");
    assert_eq!(status.code(), Some(0), "exit status {status:?}");

    // It is really gone, and what it acknowledged is in the file.
    assert!(
        reqwest::get(format!("{url}/api/domains")).await.is_err(),
        "something still answers on {url}"
    );
    let conn = rusqlite::Connection::open(&db).unwrap();
    let id: String = conn
        .query_row(
            "SELECT id FROM accounts WHERE address = 'binary@mail.cx'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(id, account.id.to_string());
}

#[tokio::test]
async fn sigterm_is_not_held_up_by_clients_that_stall_mid_request() {
    let dir = tempfile::tempdir().unwrap();
    // A short grace (the flag takes whole seconds), so the test does not sit out the default 5 s.
    let (mut child, url) = start_binary(&dir.path().join("mailcx.db"), &["--shutdown-grace", "1s"]);
    let addr = url.trim_start_matches("http://").to_string();
    // One client stops halfway through its headers, another halfway through its body: a slow or
    // hostile client must not be able to keep the server from stopping.
    let mut partial_headers = TcpStream::connect(&addr).unwrap();
    partial_headers
        .write_all(b"GET /api/domains HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    let mut partial_body = TcpStream::connect(&addr).unwrap();
    let head = "POST /api/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n";
    partial_body
        .write_all(format!("{head}Content-Length: 100\r\n\r\n{{\"address\"").as_bytes())
        .unwrap();
    // A request on a third connection is answered, so the stalled ones are surely being served.
    let domains = mailcx_common::Client::new(&url).domains().await.unwrap();
    assert_eq!(domains[0].domain, "mail.cx");

    let status = terminate(&mut child);
    drop((partial_headers, partial_body));
    let status = status.expect("the server still runs 20 s after SIGTERM, held up by stalled clients");
    assert_eq!(status.code(), Some(0), "exit status {status:?}");
}

/// Runs the binary to completion (it must exit by itself): its status and every line it printed
/// on stdout and stderr.
fn run_to_exit(args: &[&str]) -> (ExitStatus, String) {
    let mut child = Running(server_command().args(args).spawn().expect("the binary starts"));
    let lines = lines_of(&mut child.0);
    let status = wait_exit(&mut child.0, Duration::from_secs(20)).expect("the binary exits by itself");
    let printed: Vec<String> = lines.iter().collect();
    (status, printed.join("\n"))
}

#[test]
fn a_bad_flag_value_exits_non_zero_with_a_short_error() {
    let (status, output) = run_to_exit(&["--rate-limit", "abc", "--http-addr", "127.0.0.1:0"]);
    assert!(!status.success(), "{status:?}");
    assert_ne!(
        status.code(),
        None,
        "it exited, not killed by a signal: {status:?}"
    );
    let meaningful: Vec<&str> = output.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(meaningful.len() <= 3, "a short message, not a wall: {output}");
    assert!(
        output.contains("--rate-limit") && output.contains("abc"),
        "{output}"
    );
    assert!(!output.contains("panicked"), "{output}");
}

#[test]
fn an_unknown_flag_exits_non_zero_with_a_short_error() {
    let (status, output) = run_to_exit(&["--no-such-flag"]);
    assert!(!status.success(), "{status:?}");
    assert!(output.contains("--no-such-flag"), "{output}");
    assert!(
        output.lines().filter(|l| !l.trim().is_empty()).count() <= 4,
        "{output}"
    );
}

#[test]
fn an_unusable_database_exits_1_with_one_line_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().to_str().unwrap();
    let (status, output) = run_to_exit(&[
        "--http-addr",
        "127.0.0.1:0",
        "--smtp-addr",
        "127.0.0.1:0",
        "--db",
        db,
    ]);
    assert_eq!(status.code(), Some(1), "{output}");
    let errors: Vec<&str> = output.lines().filter(|l| l.contains(db)).collect();
    assert_eq!(errors.len(), 1, "one line names the file: {output}");
    assert!(errors[0].starts_with("mailcx-server: "), "{output}");
    assert!(!output.contains("panicked"), "{output}");
}

#[tokio::test]
async fn running_out_of_file_descriptors_is_logged_once_and_ridden_out() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("mailcx.db");
    let (mut child, url, lines) = start_binary_under(&["prlimit", "--nofile=64", "--"], &db, &[]);
    let addr = url.trim_start_matches("http://").to_string();
    // More connections than the server has descriptors: accept fails with EMFILE.
    let flood: Vec<TcpStream> = (0..120).map(|_| TcpStream::connect(&addr).unwrap()).collect();
    const FAILED: &str = "accepting a connection failed";
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seen = Vec::new();
    while !seen.iter().any(|l: &String| l.contains(FAILED)) {
        let left = deadline.saturating_duration_since(Instant::now());
        seen.push(
            lines
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("no {FAILED:?} line: {seen:#?}")),
        );
    }
    // The flood goes away and the server serves again; it said so once, not once per try.
    drop(flood);
    let domains = mailcx_common::Client::new(&url).domains().await.unwrap();
    assert_eq!(domains[0].domain, "mail.cx");
    let _ = terminate(&mut child);
    seen.extend(lines.iter());
    let failures = seen.iter().filter(|l| l.contains(FAILED)).count();
    assert_eq!(failures, 1, "{seen:#?}");
}
