//! The few helpers the process tests need. The end-to-end harness (`mailcx-tests`) depends on this
//! package, so these tests cannot use it without building a second copy of the server.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use mailcx_common::Credentials;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

/// The binary Cargo built for this test run: never a stale one, and no nested `cargo build`.
pub const SERVER_BINARY: &str = env!("CARGO_BIN_EXE_mailcx-server");

/// The password of every mailbox these tests create.
pub const PASSWORD: &str = "correct horse battery";

/// How long any single SMTP read or write may take before the test fails as stalled.
const SMTP_DEADLINE: Duration = Duration::from_secs(30);

/// `Credentials` from an address and a password.
pub fn credentials(address: &str, password: &str) -> Credentials {
    Credentials {
        address: address.to_string(),
        password: password.to_string(),
    }
}

/// A raw SMTP conversation that tolerates the server going away: writes and reads report a
/// closed connection instead of panicking, and a stall fails the test.
pub struct Smtp {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
}

impl Smtp {
    /// Connects, checks the `220` greeting and says `EHLO`.
    pub async fn open(addr: SocketAddr) -> Smtp {
        let stream = tokio::time::timeout(SMTP_DEADLINE, TcpStream::connect(addr))
            .await
            .unwrap_or_else(|_| panic!("connecting to SMTP {addr} stalled"))
            .unwrap_or_else(|e| panic!("cannot connect to SMTP {addr}: {e}"));
        let _ = stream.set_nodelay(true);
        let (read, write) = stream.into_split();
        let mut smtp = Smtp {
            reader: BufReader::new(read),
            writer: write,
        };
        assert_eq!(smtp.try_reply().await, Some(220), "the greeting");
        assert!(smtp.try_write(b"EHLO client.example\r\n").await);
        assert_eq!(smtp.try_reply().await, Some(250), "the EHLO reply");
        smtp
    }

    /// Writes `bytes` as they are; `false` if the server had already closed the connection.
    pub async fn try_write(&mut self, bytes: &[u8]) -> bool {
        matches!(
            tokio::time::timeout(SMTP_DEADLINE, self.writer.write_all(bytes)).await,
            Ok(Ok(()))
        )
    }

    /// The code of the next reply (all its lines read); `None` when the connection closed first.
    pub async fn try_reply(&mut self) -> Option<u16> {
        loop {
            let mut line = Vec::new();
            let read = tokio::time::timeout(SMTP_DEADLINE, self.reader.read_until(b'\n', &mut line))
                .await
                .expect("waiting for an SMTP reply stalled");
            if !matches!(read, Ok(n) if n > 0) {
                return None;
            }
            let text = String::from_utf8_lossy(&line);
            let code = text
                .get(..3)
                .and_then(|c| c.parse().ok())
                .unwrap_or_else(|| panic!("not an SMTP reply line: {text:?}"));
            // `250-` continues a multi-line reply; `250 ` ends it.
            if line.get(3) != Some(&b'-') {
                return Some(code);
            }
        }
    }

    /// A whole transaction from `from` to `to`; the reply code to the message, `None` if the
    /// connection closed on the way.
    pub async fn transaction(&mut self, from: &str, to: &str, message: &[u8]) -> Option<u16> {
        let commands = format!("MAIL FROM:<{from}>\r\nRCPT TO:<{to}>\r\nDATA\r\n");
        if !self.try_write(commands.as_bytes()).await {
            return None;
        }
        for expected in [250, 250, 354] {
            let code = self.try_reply().await?;
            assert_eq!(code, expected, "{commands:?}");
        }
        if !self.try_write(&data_payload(message)).await {
            return None;
        }
        self.try_reply().await
    }
}

/// What goes on the wire after `354` for `message` (ending in CRLF): dot-stuffed lines, then
/// `.` CRLF.
pub fn data_payload(message: &[u8]) -> Vec<u8> {
    assert!(message.ends_with(b"\r\n"), "a message must end with CRLF");
    let mut out = Vec::with_capacity(message.len() + 16);
    let mut line_start = true;
    for &byte in message {
        if line_start && byte == b'.' {
            out.push(b'.');
        }
        out.push(byte);
        line_start = byte == b'\n';
    }
    out.extend_from_slice(b".\r\n");
    out
}

/// A small plain-text UTF-8 message; `body`'s LF line endings become CRLF, and it gets a final
/// line ending if it has none.
pub fn text_message(from: &str, to: &str, subject: &str, body: &str) -> Vec<u8> {
    let mut text = format!(
        "From: {from}\nTo: {to}\nSubject: {subject}\nDate: Mon, 13 Jan 2025 10:30:00 +0000\n\
         Message-ID: <{}@test.example>\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\
         Content-Transfer-Encoding: 8bit\n\n{body}",
        uuid::Uuid::new_v4()
    );
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text.replace('\n', "\r\n").into_bytes()
}

/// A running `mailcx-server` child and the addresses it logged.
pub struct ServerProcess {
    pub child: Child,
    pub http: SocketAddr,
    pub smtp: SocketAddr,
}

fn forward_lines(output: impl AsyncRead + Unpin + Send + 'static, lines: mpsc::UnboundedSender<String>) {
    tokio::spawn(async move {
        let mut reader = BufReader::new(output).lines();
        while let Ok(Some(line)) = reader.next_line().await {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
}

/// The address that follows `mark` in `line`, if the line has it.
fn address_after(line: &str, mark: &str) -> Option<SocketAddr> {
    let rest = &line[line.find(mark)? + mark.len()..];
    let end = rest.find(|c: char| c.is_whitespace()).unwrap_or(rest.len());
    Some(
        rest[..end]
            .parse()
            .unwrap_or_else(|e| panic!("bad address in {line:?}: {e}")),
    )
}

/// Starts the binary on `db` with both listeners on free ports and `env` set (after the
/// environment is cleared), and learns the ports from its log (stdout or stderr).
pub async fn spawn_server(db: &Path, env: &[(&str, &str)]) -> ServerProcess {
    let mut child = Command::new(SERVER_BINARY)
        .args(["--http-addr", "127.0.0.1:0", "--smtp-addr", "127.0.0.1:0", "--db"])
        .arg(db)
        .args(["--rate-limit", "0", "--accounts-per-hour", "0"])
        .env_clear()
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("mailcx-server starts");
    let (send, mut lines) = mpsc::unbounded_channel();
    forward_lines(child.stdout.take().unwrap(), send.clone());
    forward_lines(child.stderr.take().unwrap(), send);

    let (mut http, mut smtp) = (None, None);
    let mut seen = Vec::new();
    let found = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.recv().await {
            http = http.or_else(|| address_after(&line, "HTTP API listening on http://"));
            smtp = smtp.or_else(|| address_after(&line, "SMTP listening on "));
            seen.push(line);
            if http.is_some() && smtp.is_some() {
                return true;
            }
        }
        false
    })
    .await;
    assert!(
        matches!(found, Ok(true)),
        "the server did not log both addresses; it printed: {seen:#?}"
    );
    // Keep draining the log so the child never blocks on a full pipe.
    tokio::spawn(async move { while lines.recv().await.is_some() {} });
    ServerProcess {
        child,
        http: http.unwrap(),
        smtp: smtp.unwrap(),
    }
}
