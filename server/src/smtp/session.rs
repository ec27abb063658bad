//! One SMTP conversation: commands parsed by smtp-proto, lines framed here with the size,
//! line-length and idle limits, replies with enhanced status codes.

use std::net::SocketAddr;
use std::sync::Arc;

use mailcx_common::validate::{self, AddressError};
use smtp_proto::Request;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::time::Instant;

use super::deliver::{self, Recipient};
use super::{MAX_LINE, SmtpContext};
use crate::store::open;

/// Permanent failures (5xx replies) in a row before the connection is dropped.
const MAX_ERRORS: u32 = 20;

/// Most characters of client text echoed in a reply.
const MAX_ECHO: usize = 64;

/// Client text fit to echo in a reply: printable ASCII only (anything else, CR and LF included,
/// becomes `?`), at most `MAX_ECHO` characters (longer text is cut and ends in `...`).
fn printable(text: &str) -> String {
    let mut out: String = text
        .chars()
        .take(MAX_ECHO)
        .map(|c| if c == ' ' || c.is_ascii_graphic() { c } else { '?' })
        .collect();
    if text.chars().nth(MAX_ECHO).is_some() {
        out.push_str("...");
    }
    out
}

/// The value of the `SIZE=` parameter of the MAIL FROM command `line`: `Ok(None)` without one,
/// `Err(())` when it is not RFC 1870's 1 to 20 digits. Read here rather than trusted from
/// smtp-proto, which wraps a value past `usize` round to a small number.
fn declared_size(line: &[u8]) -> Result<Option<u128>, ()> {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    // Parameters are separated by spaces outside the quoted local part of the path.
    let (mut in_quote, mut escaped, mut start) = (false, false, 0);
    let mut size = None;
    for end in 0..=line.len() {
        let byte = line.get(end).copied();
        if in_quote {
            match byte {
                _ if escaped => escaped = false,
                Some(b'\\') => escaped = true,
                Some(b'"') => in_quote = false,
                _ => {}
            }
            if byte.is_some() {
                continue;
            }
        }
        match byte {
            Some(b'"') => in_quote = true,
            Some(b' ' | b'\t') | None => {
                let token = &line[start..end];
                if token.len() >= 5 && token[..5].eq_ignore_ascii_case(b"SIZE=") {
                    let digits = &token[5..];
                    let well_formed =
                        (1..=20).contains(&digits.len()) && digits.iter().all(u8::is_ascii_digit);
                    if !well_formed {
                        return Err(());
                    }
                    let value = std::str::from_utf8(digits).ok().and_then(|d| d.parse().ok());
                    size = Some(value.ok_or(())?);
                }
                start = end + 1;
            }
            _ => {}
        }
    }
    Ok(size)
}

/// Why a session ends whose client stopped taking its replies.
fn not_reading() -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        "the client took no reply for the idle timeout",
    )
}

/// A line read: whole in `Session::line`, or longer than allowed (consumed, not kept).
enum Line {
    Complete,
    TooLong { ended_with_crlf: bool },
}

struct Session {
    context: Arc<SmtpContext>,
    peer: SocketAddr,
    reader: BufReader<OwnedReadHalf>,
    writer: BufWriter<OwnedWriteHalf>,
    line: Vec<u8>,
    greeted: bool,
    /// The envelope sender once MAIL FROM was accepted.
    sender: Option<String>,
    declared_size: usize,
    recipients: Vec<Recipient>,
    errors: u32,
    /// Commands since the session began or a message was last accepted.
    commands: u32,
    /// When the session's lifetime runs out.
    ends_at: Instant,
}

/// Runs the conversation on `stream` to its end.
pub async fn run(stream: TcpStream, peer: SocketAddr, context: Arc<SmtpContext>) {
    let _ = stream.set_nodelay(true);
    let (read, write) = stream.into_split();
    let mut session = Session {
        peer,
        reader: BufReader::new(read),
        writer: BufWriter::new(write),
        line: Vec::with_capacity(MAX_LINE),
        greeted: false,
        sender: None,
        declared_size: 0,
        recipients: Vec::new(),
        errors: 0,
        commands: 0,
        ends_at: Instant::now() + context.session_lifetime,
        context,
    };
    if let Err(e) = session.converse().await {
        tracing::debug!("SMTP session with {peer} ended: {e}");
    }
}

/// Reads one line, CRLF included, into `line`; a longer line than `max` is consumed and reported.
/// `None` once the client closed the connection.
async fn read_line<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    line: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<Option<Line>> {
    line.clear();
    let mut too_long = false;
    // The last two bytes consumed, to tell how a too-long line ended.
    let mut tail = [0u8; 2];
    loop {
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            return Ok(None);
        }
        let (taken, done) = match available.iter().position(|&b| b == b'\n') {
            Some(end) => (end + 1, true),
            None => (available.len(), false),
        };
        if !too_long && line.len() + taken > max {
            too_long = true;
            line.clear();
        }
        if !too_long {
            line.extend_from_slice(&available[..taken]);
        }
        for &byte in &available[taken.saturating_sub(2)..taken] {
            tail = [tail[1], byte];
        }
        reader.consume(taken);
        if done {
            return Ok(Some(if too_long {
                Line::TooLong {
                    ended_with_crlf: tail == *b"\r\n",
                }
            } else {
                Line::Complete
            }));
        }
    }
}

impl Session {
    async fn converse(&mut self) -> std::io::Result<()> {
        let greeting = format!("220 {} ESMTP mailcx ready", self.context.hostname);
        self.reply(&greeting).await?;
        loop {
            let line = match self.next_line(MAX_LINE).await? {
                Some(line) => line,
                None => return Ok(()),
            };
            self.commands = self.commands.saturating_add(1);
            if self.commands > self.context.max_commands {
                tracing::debug!("SMTP client {} sent too many commands without mail", self.peer);
                self.reply("421 4.7.0 Too many commands without a message, closing connection")
                    .await?;
                return self.flush().await;
            }
            let keep_going = match line {
                Line::Complete => self.command().await?,
                Line::TooLong { .. } => {
                    self.reply("500 5.5.2 Line too long").await?;
                    true
                }
            };
            if keep_going && self.errors >= MAX_ERRORS {
                self.reply("421 4.7.0 Too many errors, closing connection")
                    .await?;
            }
            if !keep_going || self.errors >= MAX_ERRORS {
                return self.flush().await;
            }
        }
    }

    /// The next line, at most `max` octets, within the idle timeout and the session's lifetime;
    /// `None` once the client is gone or either ran out.
    async fn next_line(&mut self, max: usize) -> std::io::Result<Option<Line>> {
        if let Some(line) = self.buffered_line(max) {
            return Ok(Some(line));
        }
        // Replies to pipelined commands go out together, once nothing more is waiting to be read.
        if self.reader.buffer().is_empty() {
            self.flush().await?;
        }
        let left = self.ends_at.saturating_duration_since(Instant::now());
        let read = read_line(&mut self.reader, &mut self.line, max);
        let closing = match tokio::time::timeout(self.context.idle_timeout.min(left), read).await {
            Ok(result) => return result,
            Err(_) if Instant::now() >= self.ends_at => {
                tracing::debug!("SMTP session with {} reached its lifetime", self.peer);
                "421 4.7.0 Session lifetime reached, closing connection"
            }
            Err(_) => {
                tracing::debug!("SMTP client {} idle too long", self.peer);
                "421 4.4.2 Idle too long, closing connection"
            }
        };
        self.reply(closing).await?;
        self.flush().await?;
        Ok(None)
    }

    /// The next line when the read buffer already holds all of it, within `max` octets: taken
    /// without a read, so without arming a timer per line (most of a message's lines arrive
    /// this way). `None` when the line needs a read or may be too long.
    fn buffered_line(&mut self, max: usize) -> Option<Line> {
        let available = self.reader.buffer();
        let end = available[..available.len().min(max)]
            .iter()
            .position(|&b| b == b'\n')?
            + 1;
        self.line.clear();
        self.line.extend_from_slice(&available[..end]);
        self.reader.consume(end);
        Some(Line::Complete)
    }

    /// Sends the queued replies; a client that takes none of them for the idle timeout (it does
    /// not read) is cut off.
    async fn flush(&mut self) -> std::io::Result<()> {
        let idle = self.context.idle_timeout;
        tokio::time::timeout(idle, self.writer.flush())
            .await
            .unwrap_or_else(|_| Err(not_reading()))
    }

    /// Queues a reply line; permanent failures in a row are counted, any success resets them.
    async fn reply(&mut self, text: &str) -> std::io::Result<()> {
        match text.as_bytes().first() {
            Some(b'5') => self.errors += 1,
            Some(b'2' | b'3') => self.errors = 0,
            _ => {}
        }
        let idle = self.context.idle_timeout;
        let write = async {
            self.writer.write_all(text.as_bytes()).await?;
            self.writer.write_all(b"\r\n").await
        };
        // Queuing writes out once the buffer is full: the same deadline as `flush`.
        tokio::time::timeout(idle, write)
            .await
            .unwrap_or_else(|_| Err(not_reading()))
    }

    fn reset(&mut self) {
        self.sender = None;
        self.declared_size = 0;
        self.recipients.clear();
    }

    /// Handles the command in `self.line`; false ends the session.
    async fn command(&mut self) -> std::io::Result<bool> {
        let line = std::mem::take(&mut self.line);
        let parsed = Request::parse(&mut line.iter()).map(Request::into_owned);
        self.line = line;
        let reply = match parsed {
            Ok(request) => return self.request(request).await,
            Err(smtp_proto::Error::UnknownCommand) => "500 5.5.1 Command not recognized".to_string(),
            Err(smtp_proto::Error::InvalidSenderAddress) => "501 5.1.7 Bad sender address syntax".to_string(),
            Err(smtp_proto::Error::InvalidRecipientAddress) => {
                "501 5.1.3 Bad recipient address syntax".to_string()
            }
            Err(smtp_proto::Error::SyntaxError { syntax }) => format!("501 5.5.4 Syntax: {syntax}"),
            // smtp-proto refuses some well-formed sizes too large for a usize; they are over the
            // limit like any other.
            Err(smtp_proto::Error::InvalidParameter { param: "SIZE" }) if self.declared_over_limit() => {
                self.size_over_limit()
            }
            Err(smtp_proto::Error::InvalidParameter { param }) => {
                format!("501 5.5.4 Invalid parameter {param}")
            }
            Err(smtp_proto::Error::UnsupportedParameter { param }) => {
                format!("555 5.5.4 Unsupported parameter {}", printable(&param))
            }
            Err(_) => "501 5.5.2 Syntax error".to_string(),
        };
        self.reply(&reply).await?;
        Ok(true)
    }

    async fn request(&mut self, request: Request<String>) -> std::io::Result<bool> {
        match request {
            Request::Ehlo { host: _ } => {
                self.reset();
                self.greeted = true;
                let ehlo = format!(
                    "250-{} greets you\r\n250-SIZE {}\r\n250-8BITMIME\r\n250-PIPELINING\r\n250-SMTPUTF8\r\n250 ENHANCEDSTATUSCODES",
                    self.context.hostname, self.context.max_message_size
                );
                self.reply(&ehlo).await?;
            }
            Request::Helo { host: _ } | Request::Lhlo { host: _ } => {
                self.reset();
                self.greeted = true;
                let text = format!("250 {}", self.context.hostname);
                self.reply(&text).await?;
            }
            Request::Mail { from } => {
                let reply = self.mail_from(from.address, declared_size(&self.line));
                self.reply(&reply).await?;
            }
            Request::Rcpt { to } => {
                let reply = self.rcpt_to(&to.address).await;
                self.reply(&reply).await?;
            }
            Request::Data => return self.data().await,
            Request::Rset => {
                self.reset();
                self.reply("250 2.0.0 Reset").await?;
            }
            Request::Noop { .. } => self.reply("250 2.0.0 OK").await?,
            Request::Vrfy { .. } => {
                self.reply("252 2.5.0 Cannot verify, but will try delivery")
                    .await?
            }
            Request::Quit => {
                self.reply("221 2.0.0 Bye").await?;
                return Ok(false);
            }
            Request::Help { .. } => self.reply("214 2.0.0 See RFC 5321").await?,
            _ => self.reply("502 5.5.1 Command not implemented").await?,
        }
        Ok(true)
    }

    fn mail_from(&mut self, address: String, size: Result<Option<u128>, ()>) -> String {
        let Ok(size) = size else {
            return "501 5.5.4 Invalid parameter SIZE: 1 to 20 digits expected".into();
        };
        let size = size.unwrap_or(0);
        if !self.greeted {
            return "503 5.5.1 Say EHLO first".into();
        }
        if self.sender.is_some() {
            return "503 5.5.1 Sender already given".into();
        }
        if size > self.context.max_message_size as u128 {
            return self.size_over_limit();
        }
        self.sender = Some(address);
        self.declared_size = size as usize;
        "250 2.1.0 Sender OK".into()
    }

    /// Whether the current line declares a well-formed SIZE over the limit.
    fn declared_over_limit(&self) -> bool {
        let max = self.context.max_message_size as u128;
        matches!(declared_size(&self.line), Ok(Some(size)) if size > max)
    }

    fn size_over_limit(&self) -> String {
        let max = self.context.max_message_size;
        format!("552 5.3.4 Message size exceeds the limit of {max} bytes")
    }

    async fn rcpt_to(&mut self, address: &str) -> String {
        if self.sender.is_none() {
            return "503 5.5.1 Need MAIL FROM first".into();
        }
        if self.recipients.len() >= self.context.max_recipients {
            return "452 4.5.3 Too many recipients".into();
        }
        let address = match self.recipient_address(address).await {
            Ok(address) => address,
            Err(reply) => return reply,
        };
        let account = match self.context.store.recipient(&address).await {
            Ok(Some(account)) => account,
            Ok(None) => return self.open_recipient(address).await,
            Err(e) => {
                tracing::error!("SMTP recipient lookup failed: {e}");
                return "451 4.3.0 Temporary failure, try again later".into();
            }
        };
        if account.used.saturating_add(self.declared_size as u64) > account.quota
            || account.used >= account.quota
        {
            return "552 5.2.2 Mailbox full".into();
        }
        // One copy per distinct address as written: two tags of one mailbox were two
        // recipients to the sender, and each copy keeps its own `address`.
        if !self.recipients.iter().any(|r| r.address == address) {
            self.recipients.push(Recipient {
                account_id: account.id,
                address,
                owner_id: account.owner_id,
                open: false,
            });
        }
        "250 2.1.5 Recipient OK".into()
    }

    /// An address without a mailbox: its open inbox when its domain is open (within the quota of
    /// a free mailbox, per address), else refused.
    async fn open_recipient(&mut self, address: String) -> String {
        let domain = address.rsplit_once('@').map_or("", |(_, d)| d);
        if !self.context.open_domains.iter().any(|d| d == domain) {
            return "550 5.1.1 No such mailbox here".into();
        }
        let lookup = address.clone();
        let used = match self
            .context
            .store
            .read(move |conn| open::used(conn, &lookup))
            .await
        {
            Ok(used) => used,
            Err(e) => {
                tracing::error!("SMTP open inbox lookup failed: {e}");
                return "451 4.3.0 Temporary failure, try again later".into();
            }
        };
        let quota = self.context.open_quota;
        if used.saturating_add(self.declared_size as u64) > quota || used >= quota {
            return "552 5.2.2 Mailbox full".into();
        }
        if !self.recipients.iter().any(|r| r.address == address) {
            self.recipients.push(Recipient {
                account_id: open::inbox_key(&address),
                address,
                owner_id: None,
                open: true,
            });
        }
        "250 2.1.5 Recipient OK".into()
    }

    /// `address` by the API's address rule, so SMTP accepts exactly the addresses a mailbox can
    /// have: on a system domain, or on a verified custom domain (the store is asked only for a
    /// domain that is not a system domain). Else the reply that refuses it.
    async fn recipient_address(&self, address: &str) -> Result<String, String> {
        let refused = |e: AddressError| format!("553 5.1.3 Mailbox name not allowed: {e}");
        let domain = match validate::normalize_address(address, &self.context.domains) {
            Ok(address) => return Ok(address),
            Err(AddressError::UnknownDomain(domain)) => domain,
            Err(e) => return Err(refused(e)),
        };
        match self.context.store.verified_domain(&domain).await {
            Ok(Some(_)) => validate::normalize_address(address, &[domain]).map_err(refused),
            // A pending domain's mail is refused like an unknown domain's.
            Ok(None) => Err("550 5.1.1 No such mailbox here".into()),
            Err(e) => {
                tracing::error!("SMTP recipient domain lookup failed: {e}");
                Err("451 4.3.0 Temporary failure, try again later".into())
            }
        }
    }

    async fn data(&mut self) -> std::io::Result<bool> {
        if self.sender.is_none() {
            self.reply("503 5.5.1 Need MAIL FROM first").await?;
            return Ok(true);
        }
        if self.recipients.is_empty() {
            self.reply("554 5.5.1 No valid recipients").await?;
            return Ok(true);
        }
        self.reply("354 End data with <CR><LF>.<CR><LF>").await?;
        let max = self.context.max_message_size;
        // Grows as data arrives: a declared SIZE reserves nothing up front.
        let mut message = Vec::new();
        let (mut oversize, mut line_too_long) = (false, false);
        // Only CRLF "." CRLF ends the data. A "." after a bare LF is data: accepting it as the end
        // would let text smuggled through a lenient relay be read as new commands.
        let mut after_crlf = true;
        loop {
            // One more octet for the dot a client doubles at the start of a line; the limit
            // applies to the line without it.
            match self.next_line(MAX_LINE + 1).await? {
                None => return Ok(false),
                Some(Line::TooLong { ended_with_crlf }) => {
                    line_too_long = true;
                    after_crlf = ended_with_crlf;
                }
                Some(Line::Complete) => {
                    if after_crlf && self.line == b".\r\n" {
                        break;
                    }
                    // Dot-stuffing: a leading dot was doubled by the client (only ever at a line's
                    // start, which is just after a CRLF).
                    let text = match self.line.strip_prefix(b".") {
                        Some(rest) if after_crlf => rest,
                        _ => &self.line[..],
                    };
                    after_crlf = self.line.ends_with(b"\r\n");
                    if text.len() > MAX_LINE {
                        line_too_long = true;
                    }
                    if message.len() + text.len() > max {
                        oversize = true;
                        message = Vec::new();
                    }
                    if !oversize && !line_too_long {
                        message.extend_from_slice(text);
                    }
                }
            }
        }
        let reply = if line_too_long {
            "500 5.5.2 Line too long; message not stored".to_string()
        } else if oversize {
            format!("552 5.3.4 Message exceeds the limit of {max} bytes; not stored")
        } else {
            let sender = self.sender.clone().unwrap_or_default();
            deliver::deliver(&self.context, sender, &self.recipients, message).await
        };
        if reply.starts_with('2') {
            // A delivered message renews the command allowance.
            self.commands = 0;
        }
        self.reset();
        self.reply(&reply).await?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_read_from_the_line_itself() {
        let size = |line: &str| declared_size(line.as_bytes());
        assert_eq!(size("MAIL FROM:<a@b>\r\n"), Ok(None));
        assert_eq!(size("MAIL FROM:<a@b> SIZE=123\r\n"), Ok(Some(123)));
        assert_eq!(size("MAIL FROM:<a@b> body=8BITMIME size=7"), Ok(Some(7)));
        assert_eq!(size("MAIL FROM: <a@b>\tSIZE=0\n"), Ok(Some(0)));
        let twenty = "9".repeat(20);
        assert_eq!(
            size(&format!("MAIL FROM:<a@b> SIZE={twenty}\r\n")),
            Ok(Some(twenty.parse().unwrap()))
        );
        for bad in ["9".repeat(21), "".into(), "1a".into(), "-1".into(), " ".into()] {
            assert_eq!(
                size(&format!("MAIL FROM:<a@b> SIZE={bad}\r\n")),
                Err(()),
                "{bad:?}"
            );
        }
        // SIZE= inside a quoted local part is not a parameter.
        assert_eq!(size("MAIL FROM:<\"x SIZE=no\"@b> SIZE=5\r\n"), Ok(Some(5)));
        assert_eq!(size("MAIL FROM:<\"x \\\" SIZE=no\"@b>\r\n"), Ok(None));
    }

    #[test]
    fn echoed_text_is_printable_ascii_and_bounded() {
        assert_eq!(printable("SIZE=12 x"), "SIZE=12 x");
        assert_eq!(printable("A\0\u{1}\r\n\u{1b}[1m\u{7f}é�"), "A?????[1m???");
        let long = printable(&"v".repeat(1000));
        assert_eq!(long, format!("{}...", "v".repeat(MAX_ECHO)));
        assert_eq!(printable(&"v".repeat(MAX_ECHO)), "v".repeat(MAX_ECHO));
    }
}
