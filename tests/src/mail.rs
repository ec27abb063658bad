//! SMTP helpers for the end-to-end tests: sending whole messages with lettre, a raw SMTP
//! conversation over a `TcpStream` for protocol-level checks, and small builders for test mail.
//!
//! Both ways of sending keep one rule: a message is its bytes up to and including the CRLF that
//! ends its last line, and that is exactly what the server must store and serve back as `source`.

use std::net::SocketAddr;
use std::time::Duration;

use lettre::address::{Address, Envelope};
use lettre::transport::smtp::Error as LettreError;
use lettre::transport::smtp::client::AsyncSmtpConnection;
use lettre::transport::smtp::extension::ClientId;
use lettre::transport::smtp::response::Response as LettreResponse;
use lettre::{AsyncSmtpTransport, Tokio1Executor};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

use crate::TestServer;

/// How long any single SMTP read or write may take before the test fails as stalled.
pub const SMTP_DEADLINE: Duration = Duration::from_secs(30);

impl TestServer {
    /// The address the SMTP receiver bound.
    pub fn smtp_addr(&self) -> SocketAddr {
        self.running().smtp_addr
    }
}

// ---------------------------------------------------------------------------------------------
// lettre

/// A lettre transport to the server at `addr`: plain SMTP, no TLS, no pool (one connection per
/// message).
pub fn transport(addr: SocketAddr) -> AsyncSmtpTransport<Tokio1Executor> {
    AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(addr.ip().to_string())
        .port(addr.port())
        .timeout(Some(SMTP_DEADLINE))
        .build()
}

/// An envelope from `from` to `to` (panics on an address lettre will not take).
pub fn envelope(from: &str, to: &[&str]) -> Envelope {
    let parse = |a: &str| {
        a.parse::<Address>()
            .unwrap_or_else(|e| panic!("bad address {a:?}: {e}"))
    };
    Envelope::new(Some(parse(from)), to.iter().map(|a| parse(a)).collect())
        .unwrap_or_else(|e| panic!("bad envelope: {e}"))
}

/// Sends `message` with lettre, as its `send_raw` does but over a socket with `TCP_NODELAY`.
/// `message` must end with CRLF; that last CRLF is handed to lettre as the start of its
/// `CRLF . CRLF` terminator, so the server receives `message` exactly. lettre dot-stuffs by itself
/// (a line starting with `.` goes out as `..`), and says `BODY=8BITMIME` when the bytes are not
/// ASCII.
pub async fn send_raw(
    addr: SocketAddr,
    from: &str,
    to: &[&str],
    message: &[u8],
) -> Result<LettreResponse, LettreError> {
    let body = message
        .strip_suffix(b"\r\n")
        .unwrap_or_else(|| panic!("a message to send must end with CRLF: {:?}", tail(message)));
    let send = async {
        // lettre writes the message and its `CRLF . CRLF` separately; with Nagle's algorithm the
        // second write waits for the server's delayed ACK, 40 ms a message on Linux.
        let stream = TcpStream::connect(addr)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to SMTP {addr}: {e}"));
        let _ = stream.set_nodelay(true);
        let mut connection =
            AsyncSmtpConnection::connect_with_transport(Box::new(stream), &ClientId::default()).await?;
        let response = connection.send(&envelope(from, to), body).await?;
        connection.abort().await;
        Ok(response)
    };
    let sent = tokio::time::timeout(SMTP_DEADLINE * 2, send).await;
    sent.unwrap_or_else(|_| panic!("sending to {to:?} over SMTP stalled"))
}

/// Sends `message` like [`send_raw`] and panics unless the server answered 250.
pub async fn deliver(addr: SocketAddr, from: &str, to: &[&str], message: &[u8]) -> LettreResponse {
    let response = send_raw(addr, from, to, message)
        .await
        .unwrap_or_else(|e| panic!("delivery to {to:?} failed: {e}"));
    assert_eq!(response.code().to_string(), "250", "{response:?}");
    response
}

/// The SMTP reply code of a lettre error (`"550"`), or `None` when it was not an SMTP reply.
pub fn lettre_code(error: &LettreError) -> Option<String> {
    error.status().map(|code| code.to_string())
}

/// Builds a message with lettre's builder and sends it; returns the bytes the server must store.
pub async fn send_built(addr: SocketAddr, message: &lettre::Message) -> Vec<u8> {
    let mut bytes = message.formatted();
    if !bytes.ends_with(b"\r\n") {
        bytes.extend_from_slice(b"\r\n");
    }
    let envelope = message.envelope();
    let from = envelope.from().map(|a| a.to_string()).unwrap_or_default();
    let to: Vec<String> = envelope.to().iter().map(|a| a.to_string()).collect();
    let to: Vec<&str> = to.iter().map(String::as_str).collect();
    deliver(addr, &from, &to, &bytes).await;
    bytes
}

// ---------------------------------------------------------------------------------------------
// Raw SMTP

/// One SMTP reply: its code and the text of each line (without code and separator).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    pub lines: Vec<String>,
}

impl Reply {
    /// The enhanced status code of the last line, e.g. `5.1.1`, if it has one.
    pub fn enhanced(&self) -> Option<&str> {
        let first = self.lines.last()?.split_whitespace().next()?;
        let parts: Vec<&str> = first.split('.').collect();
        let numeric = parts.len() == 3
            && parts
                .iter()
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        numeric.then_some(first)
    }

    /// All lines joined with newlines.
    pub fn text(&self) -> String {
        self.lines.join("\n")
    }

    /// Panics unless the reply has this code.
    #[track_caller]
    pub fn assert_code(&self, code: u16) -> &Self {
        assert_eq!(self.code, code, "expected {code}, got {self:?}");
        self
    }

    /// Panics unless the reply has this code and enhanced status code.
    #[track_caller]
    pub fn assert_status(&self, code: u16, enhanced: &str) -> &Self {
        assert_eq!(self.code, code, "expected {code} {enhanced}, got {self:?}");
        assert_eq!(
            self.enhanced(),
            Some(enhanced),
            "expected {code} {enhanced}, got {self:?}"
        );
        self
    }
}

/// A raw SMTP conversation: write exactly the bytes a test wants, read replies one at a time.
/// Every read has a deadline; a stall fails the test instead of hanging it.
pub struct Smtp {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
}

impl Smtp {
    /// Connects; the greeting is left unread.
    pub async fn connect(addr: SocketAddr) -> Smtp {
        let stream = tokio::time::timeout(SMTP_DEADLINE, TcpStream::connect(addr))
            .await
            .unwrap_or_else(|_| panic!("connecting to SMTP {addr} stalled"))
            .unwrap_or_else(|e| panic!("cannot connect to SMTP {addr}: {e}"));
        Smtp::over(stream)
    }

    /// Connects from the loopback address `from` (e.g. 127.0.0.2: another client).
    pub async fn connect_from(from: std::net::Ipv4Addr, addr: SocketAddr) -> Smtp {
        let socket = tokio::net::TcpSocket::new_v4().expect("a socket");
        socket
            .bind(SocketAddr::from((from, 0)))
            .expect("binding a loopback address");
        let stream = tokio::time::timeout(SMTP_DEADLINE, socket.connect(addr))
            .await
            .unwrap_or_else(|_| panic!("connecting to SMTP {addr} stalled"))
            .unwrap_or_else(|e| panic!("cannot connect to SMTP {addr} from {from}: {e}"));
        Smtp::over(stream)
    }

    fn over(stream: TcpStream) -> Smtp {
        let _ = stream.set_nodelay(true);
        let (read, write) = stream.into_split();
        Smtp {
            reader: BufReader::new(read),
            writer: write,
        }
    }

    /// Connects, checks the `220` greeting and says `EHLO`; returns the conversation and the EHLO
    /// reply.
    pub async fn open_with_ehlo(addr: SocketAddr) -> (Smtp, Reply) {
        let mut smtp = Smtp::connect(addr).await;
        smtp.reply().await.assert_code(220);
        let ehlo = smtp.command("EHLO client.example").await;
        ehlo.assert_code(250);
        (smtp, ehlo)
    }

    /// Connects, checks the greeting and says `EHLO`.
    pub async fn open(addr: SocketAddr) -> Smtp {
        Smtp::open_with_ehlo(addr).await.0
    }

    /// Writes `bytes` as they are.
    pub async fn write(&mut self, bytes: &[u8]) {
        tokio::time::timeout(SMTP_DEADLINE, self.writer.write_all(bytes))
            .await
            .expect("writing to the SMTP server stalled")
            .expect("writing to the SMTP server failed");
    }

    /// Writes `bytes` as they are; `false` if the server had already closed the connection.
    pub async fn try_write(&mut self, bytes: &[u8]) -> bool {
        matches!(
            tokio::time::timeout(SMTP_DEADLINE, self.writer.write_all(bytes)).await,
            Ok(Ok(()))
        )
    }

    /// Writes `line` and CRLF.
    pub async fn send(&mut self, line: &str) {
        self.write(format!("{line}\r\n").as_bytes()).await;
    }

    /// The next reply, all its lines; `None` when the server closed the connection (or reset it)
    /// before a reply began. Panics on a stall or a malformed reply.
    pub async fn try_reply(&mut self) -> Option<Reply> {
        let mut code = None;
        let mut lines = Vec::new();
        loop {
            let mut raw = Vec::new();
            let read = tokio::time::timeout(SMTP_DEADLINE, self.reader.read_until(b'\n', &mut raw))
                .await
                .expect("waiting for an SMTP reply stalled");
            match read {
                Ok(0) | Err(_) if code.is_none() => return None,
                Ok(0) | Err(_) => panic!("the connection closed in the middle of a reply: {lines:?}"),
                Ok(_) => {}
            }
            let line = String::from_utf8_lossy(&raw);
            assert!(
                line.ends_with("\r\n"),
                "a reply line must end with CRLF: {line:?}"
            );
            let line = line.trim_end_matches("\r\n");
            let this: u16 = line
                .get(..3)
                .and_then(|c| c.parse().ok())
                .unwrap_or_else(|| panic!("not an SMTP reply line: {line:?}"));
            if let Some(code) = code {
                assert_eq!(code, this, "a multi-line reply changed its code: {line:?}");
            }
            code = Some(this);
            let separator = line.as_bytes().get(3).copied();
            lines.push(line.get(4..).unwrap_or("").to_string());
            match separator {
                Some(b'-') => continue,
                None | Some(b' ') => break,
                Some(_) => panic!("bad separator in reply line {line:?}"),
            }
        }
        Some(Reply {
            code: code.expect("a reply has a code"),
            lines,
        })
    }

    /// The next reply; panics if the connection closed instead.
    pub async fn reply(&mut self) -> Reply {
        self.try_reply()
            .await
            .expect("the server closed the connection instead of replying")
    }

    /// Sends `line` and reads the reply.
    pub async fn command(&mut self, line: &str) -> Reply {
        self.send(line).await;
        self.reply().await
    }

    /// Sends `line` and panics unless the reply has `code`.
    #[track_caller]
    pub fn expect<'a>(&'a mut self, line: &'a str, code: u16) -> impl Future<Output = Reply> + 'a {
        let caller = std::panic::Location::caller();
        async move {
            let reply = self.command(line).await;
            assert_eq!(reply.code, code, "{line:?} → {reply:?} (at {caller})");
            reply
        }
    }

    /// `DATA`, expecting 354, then `message` (which must end with CRLF) dot-stuffed and
    /// terminated; returns the reply to the message.
    pub async fn data(&mut self, message: &[u8]) -> Reply {
        self.expect("DATA", 354).await;
        self.write(&data_payload(message)).await;
        self.reply().await
    }

    /// A whole transaction: `MAIL FROM`, every `RCPT TO` (each must get 250), and `DATA`; returns
    /// the reply to the message.
    pub async fn transaction(&mut self, from: &str, to: &[&str], message: &[u8]) -> Reply {
        self.expect(&format!("MAIL FROM:<{from}>"), 250).await;
        for to in to {
            self.expect(&format!("RCPT TO:<{to}>"), 250).await;
        }
        self.data(message).await
    }

    /// Waits until the server closes the connection (EOF or reset), ignoring anything it still
    /// sends; returns the replies read on the way. Panics if it stays open past the deadline.
    pub async fn closed(&mut self) -> Vec<String> {
        let mut seen = Vec::new();
        loop {
            let mut raw = Vec::new();
            let read = tokio::time::timeout(SMTP_DEADLINE, self.reader.read_until(b'\n', &mut raw))
                .await
                .expect("the server did not close the connection");
            match read {
                Ok(0) | Err(_) => return seen,
                Ok(_) => seen.push(String::from_utf8_lossy(&raw).trim_end().to_string()),
            }
        }
    }
}

/// What goes on the wire after `354` for `message` (ending in CRLF): dot-stuffed lines, then
/// `.` CRLF.
pub fn data_payload(message: &[u8]) -> Vec<u8> {
    assert!(
        message.ends_with(b"\r\n"),
        "a message to send must end with CRLF: {:?}",
        tail(message)
    );
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

fn tail(bytes: &[u8]) -> String {
    String::from_utf8_lossy(&bytes[bytes.len().saturating_sub(20)..]).into_owned()
}

// ---------------------------------------------------------------------------------------------
// Test mail

/// `text` with every line ending (LF or CRLF) made CRLF, and a final CRLF if it had none.
pub fn crlf(text: &str) -> Vec<u8> {
    let mut bytes = normalize_crlf(text.as_bytes());
    if !bytes.ends_with(b"\r\n") {
        bytes.extend_from_slice(b"\r\n");
    }
    bytes
}

/// `bytes` with every bare LF made CRLF (CRLF and lone CR stay as they are).
pub fn normalize_crlf(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + bytes.len() / 32);
    let mut previous = 0u8;
    for &byte in bytes {
        if byte == b'\n' && previous != b'\r' {
            out.push(b'\r');
        }
        out.push(byte);
        previous = byte;
    }
    out
}

/// A small plain-text UTF-8 message, CRLF line endings.
pub fn text_message(from: &str, to: &str, subject: &str, body: &str) -> Vec<u8> {
    crlf(&format!(
        "From: {from}\nTo: {to}\nSubject: {subject}\nDate: Mon, 13 Jan 2025 10:30:00 +0000\n\
         Message-ID: <{}@test.example>\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\
         Content-Transfer-Encoding: 8bit\n\n{body}",
        uuid::Uuid::new_v4()
    ))
}

/// A plain-text message of exactly `size` bytes (at least a few hundred), padded with lines of
/// `x` no longer than 78 characters.
pub fn message_of_size(from: &str, to: &str, subject: &str, size: usize) -> Vec<u8> {
    let mut message = text_message(from, to, subject, "");
    assert!(
        message.len() + 2 <= size,
        "{size} bytes is too small for a message"
    );
    while message.len() < size {
        let remaining = size - message.len();
        // A line is `n` x's and CRLF; never leave a single byte that no line can fill.
        let n = match remaining {
            0..=80 => remaining - 2,
            81 => 77,
            _ => 78,
        };
        message.extend(std::iter::repeat_n(b'x', n));
        message.extend_from_slice(b"\r\n");
    }
    assert_eq!(message.len(), size);
    message
}

/// Base64 of `bytes` in lines of 76 characters, each ending with CRLF.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut encoded = String::with_capacity(bytes.len() * 4 / 3 + 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                encoded.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                encoded.push('=');
            }
        }
    }
    let mut out = String::with_capacity(encoded.len() + encoded.len() / 38);
    for line in encoded.as_bytes().chunks(76) {
        out.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        out.push_str("\r\n");
    }
    out
}

/// The `preview_text` rule on the test side: whitespace runs collapsed, first 100 characters.
pub fn expected_preview(text: &str) -> String {
    let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
    collapsed.chars().take(100).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_known_vectors() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==\r\n");
        assert_eq!(base64(b"fo"), "Zm8=\r\n");
        assert_eq!(base64(b"foo"), "Zm9v\r\n");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy\r\n");
        assert_eq!(base64(&[0xff; 57]).lines().next().unwrap().len(), 76);
    }

    #[test]
    fn dot_stuffing_and_line_endings() {
        assert_eq!(data_payload(b".a\r\nb.\r\n.\r\n"), b"..a\r\nb.\r\n..\r\n.\r\n");
        assert_eq!(normalize_crlf(b"a\nb\r\nc\rd\n"), b"a\r\nb\r\nc\rd\r\n");
        assert_eq!(crlf("x"), b"x\r\n");
        assert_eq!(expected_preview("  a \r\n\t b "), "a b");
    }
}
