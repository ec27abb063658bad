//! MIME parsing with mail-parser: what the API shows of a message. Never fails: mail that cannot
//! be parsed keeps empty fields and is still stored and served raw. Only the raw bytes are stored;
//! the summary is parsed once on arrival, bodies and attachments each time they are read.

use std::borrow::Cow;
use std::ops::Range;

use mail_parser::decoders::base64::base64_decode;
use mail_parser::decoders::quoted_printable::quoted_printable_decode;
use mail_parser::{Address, Encoding, Message, MessageParser, MessagePart, MimeHeaders, PartType};
use mailcx_common::Attachment;

/// Characters of body text kept in `preview_text`.
const PREVIEW_CHARS: usize = 100;
/// Bytes of body text indexed for search: enough for a sign-up mail's code and link. Indexing
/// 64 KiB of a 5 KB message cut SMTP ingest from 8,000 to 5,000 messages/s and let the WAL grow to
/// 418 MiB (FTS5's merges rewrite long doclists); at 2 KiB: 5,758/s and 68 MiB.
const SEARCH_TEXT_BYTES: usize = 2 * 1024;
/// Past this many `Content-Type` header lines (each nested part needs one) only the top-level
/// headers are parsed: mail-parser nests without a limit and drops nested parts recursively, so
/// a deep tree would overflow the stack.
const MAX_MIME_HEADERS: usize = 1000;
/// Past this many lines that start with `--` (boundaries) only the top-level headers are parsed,
/// so a message of a million tiny parts costs no more than its headers.
const MAX_BOUNDARY_LINES: usize = 5000;
/// Attachments listed per message at most; later ones are neither listed nor served.
pub const MAX_ATTACHMENTS: usize = 500;
/// Size of the pieces a large attachment is served in.
const CHUNK: usize = 64 * 1024;

/// What the message list shows, parsed once when a message arrives.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub from: String,
    pub subject: String,
    pub preview_text: String,
    /// The first `SEARCH_TEXT_BYTES` of the text body (the HTML's text when there is no text
    /// part), for the search index only.
    pub search_text: String,
}

/// What reading one message shows beyond its summary.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Body {
    pub text_body: Option<String>,
    pub html_body: Option<String>,
    pub attachments: Vec<Attachment>,
}

/// Parses raw RFC 5322 bytes, within the structure limits above.
fn parse_bounded(raw: &[u8]) -> Option<Message<'_>> {
    if structure_is_bounded(raw) {
        MessageParser::default().parse(raw)
    } else {
        MessageParser::default().parse_headers(raw)
    }
}

/// Whether the message has few enough MIME headers and boundary lines to parse whole.
fn structure_is_bounded(raw: &[u8]) -> bool {
    let (mut headers, mut boundaries) = (0, 0);
    for line in raw.split(|&b| b == b'\n') {
        if line.starts_with(b"--") {
            boundaries += 1;
        } else if line.len() >= 13 && line[..13].eq_ignore_ascii_case(b"content-type:") {
            headers += 1;
        }
        if headers > MAX_MIME_HEADERS || boundaries > MAX_BOUNDARY_LINES {
            return false;
        }
    }
    true
}

/// The summary of raw RFC 5322 bytes.
pub fn summarize(raw: &[u8]) -> Summary {
    let Some(message) = parse_bounded(raw) else {
        return Summary::default();
    };
    // With no text part, mail-parser renders the HTML part as text here.
    let preview_source = message.body_text(0);
    Summary {
        from: from_header(&message),
        subject: message.subject().unwrap_or_default().to_string(),
        preview_text: preview_source.as_deref().map(preview).unwrap_or_default(),
        search_text: preview_source.as_deref().map(search_text).unwrap_or_default(),
    }
}

/// The bodies and attachment list of raw RFC 5322 bytes.
pub fn body(raw: &[u8]) -> Body {
    let Some(message) = parse_bounded(raw) else {
        return Body::default();
    };
    let text_body = message.text_part(0).and_then(|part| match &part.body {
        PartType::Text(text) => Some(text.to_string()),
        _ => None,
    });
    let html_body = message.html_part(0).and_then(|part| match &part.body {
        PartType::Html(html) => Some(html.to_string()),
        _ => None,
    });
    Body {
        text_body,
        html_body,
        attachments: message
            .attachments()
            .take(MAX_ATTACHMENTS)
            .enumerate()
            .map(|(i, part)| describe(raw, i, part))
            .collect(),
    }
}

/// An attachment ready to download.
pub struct AttachmentFile {
    pub meta: Attachment,
    /// The `Content-Type` to serve: the media type, with the part's charset for text.
    pub content_type: String,
    pub content: Content,
}

/// Where an attachment's bytes come from.
#[derive(Debug, PartialEq, Eq)]
pub enum Content {
    /// Pieces of the raw message, each decoded on its own with `encoding` as it is served, so a
    /// large attachment never sits whole in memory.
    Pieces {
        encoding: Encoding,
        pieces: Vec<Range<usize>>,
    },
    /// The bytes themselves, where the part cannot be decoded piece by piece.
    Bytes(Vec<u8>),
}

/// The attachment at `index`: its metadata and how to produce its bytes (transfer encoding undone).
pub fn attachment(raw: &[u8], index: u32) -> Option<AttachmentFile> {
    if index as usize >= MAX_ATTACHMENTS {
        return None;
    }
    let message = parse_bounded(raw)?;
    let part = message.attachment(index)?;
    let meta = describe(raw, index as usize, part);
    let content_type = match part.content_type().and_then(|ct| ct.attribute("charset")) {
        Some(charset) if part.is_text() => format!("{}; charset={charset}", meta.content_type),
        _ => meta.content_type.clone(),
    };
    Some(AttachmentFile {
        content: content(raw, part),
        content_type,
        meta,
    })
}

/// Splits the part's encoded body into pieces that decode on their own to exactly its bytes;
/// falls back to the bytes when they do not (unusual encodings, broken input).
fn content(raw: &[u8], part: &MessagePart<'_>) -> Content {
    let expected = original_bytes(raw, part);
    let (start, end) = (part.raw_body_offset() as usize, part.raw_end_offset() as usize);
    if let Some(body) = raw.get(start..end) {
        let pieces: Vec<Range<usize>> = split_pieces(body, part.encoding)
            .into_iter()
            .map(|r| r.start + start..r.end + start)
            .collect();
        let mut offset = 0;
        let matches = pieces.iter().all(|range| {
            let decoded = decode_piece(&raw[range.clone()], part.encoding);
            let end = offset + decoded.len();
            let same = expected.get(offset..end) == Some(&decoded[..]);
            offset = end;
            same
        });
        if matches && offset == expected.len() {
            return Content::Pieces {
                encoding: part.encoding,
                pieces,
            };
        }
    }
    Content::Bytes(expected.into_owned())
}

/// `0..len` in pieces of `CHUNK` bytes, the last one shorter.
pub fn plain_pieces(len: usize) -> Vec<Range<usize>> {
    (0..len)
        .step_by(CHUNK)
        .map(|start| start..(start + CHUNK).min(len))
        .collect()
}

/// Ranges of `body` of about `CHUNK` bytes; for encoded bodies they end at line ends, where
/// base64 groups and quoted-printable escapes are whole.
fn split_pieces(body: &[u8], encoding: Encoding) -> Vec<Range<usize>> {
    if encoding == Encoding::None {
        return plain_pieces(body.len());
    }
    let mut pieces = Vec::new();
    let mut start = 0;
    while start < body.len() {
        let mut end = (start + CHUNK).min(body.len());
        if end < body.len() {
            end = match body[end..].iter().position(|&b| b == b'\n') {
                Some(newline) => end + newline + 1,
                None => body.len(),
            };
        }
        pieces.push(start..end);
        start = end;
    }
    pieces
}

/// One piece of an encoded body, decoded; undecodable input decodes to nothing.
pub fn decode_piece(piece: &[u8], encoding: Encoding) -> Cow<'_, [u8]> {
    match encoding {
        Encoding::Base64 => Cow::Owned(base64_decode(piece).unwrap_or_default()),
        Encoding::QuotedPrintable => Cow::Owned(quoted_printable_decode(piece).unwrap_or_default()),
        Encoding::None => Cow::Borrowed(piece),
    }
}

/// An attachment's bytes as the sender attached them. mail-parser converts text parts to UTF-8;
/// a file must come back in its own charset, so for those only the transfer encoding is undone.
fn original_bytes<'a>(raw: &'a [u8], part: &'a MessagePart<'_>) -> Cow<'a, [u8]> {
    if !part.is_text() {
        return Cow::Borrowed(part.contents());
    }
    let (start, end) = (part.raw_body_offset() as usize, part.raw_end_offset() as usize);
    let Some(body) = raw.get(start..end) else {
        return Cow::Borrowed(part.contents());
    };
    let decoded = match part.encoding {
        Encoding::Base64 => base64_decode(body).map(Cow::Owned),
        Encoding::QuotedPrintable => quoted_printable_decode(body).map(Cow::Owned),
        Encoding::None => Some(Cow::Borrowed(body)),
    };
    decoded.unwrap_or(Cow::Borrowed(part.contents()))
}

fn describe(raw: &[u8], index: usize, part: &MessagePart<'_>) -> Attachment {
    let content_type = match part.content_type() {
        Some(ct) => match ct.subtype() {
            Some(sub) => format!("{}/{}", ct.ctype(), sub).to_ascii_lowercase(),
            None => ct.ctype().to_ascii_lowercase(),
        },
        None if part.is_message() => "message/rfc822".to_string(),
        None => "application/octet-stream".to_string(),
    };
    let filename = match part.attachment_name() {
        Some(name) if !name.trim().is_empty() => name.trim().to_string(),
        _ if part.is_message() => format!("message-{}.eml", index + 1),
        _ => format!("attachment-{}", index + 1),
    };
    let size = original_bytes(raw, part).len() as u64;
    Attachment {
        index: index as u32,
        filename,
        content_type,
        size,
    }
}

/// The `From:` header as display name and address, decoded; the raw value when it has no address.
fn from_header(message: &Message<'_>) -> String {
    let rendered = message.from().map(render_address).filter(|s| !s.is_empty());
    rendered
        .or_else(|| message.header_raw("From").map(|raw| unfold(raw.trim())))
        .unwrap_or_default()
}

fn render_address(address: &Address<'_>) -> String {
    let rendered: Vec<String> = address
        .iter()
        .map(|addr| match (addr.name(), addr.address()) {
            (Some(name), Some(email)) if !name.is_empty() => format!("{} <{email}>", display_name(name)),
            (_, Some(email)) => email.to_string(),
            (Some(name), None) => name.to_string(),
            (None, None) => String::new(),
        })
        .filter(|s| !s.is_empty())
        .collect();
    rendered.join(", ")
}

/// A display name as RFC 5322 writes it: quoted when it holds a character with meaning there.
fn display_name(name: &str) -> Cow<'_, str> {
    if name.chars().any(|c| "()<>[]:;@\\,\"".contains(c)) {
        Cow::Owned(format!("\"{}\"", name.replace('\\', "\\\\").replace('"', "\\\"")))
    } else {
        Cow::Borrowed(name)
    }
}

fn unfold(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// At most the first `SEARCH_TEXT_BYTES` of `text`, cut at a character boundary.
fn search_text(text: &str) -> String {
    let mut end = text.len().min(SEARCH_TEXT_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_string()
}

/// The first `PREVIEW_CHARS` characters of `text` with runs of whitespace collapsed to one space.
pub fn preview(text: &str) -> String {
    let mut out = String::new();
    let mut chars = 0;
    for word in text.split_whitespace() {
        if chars > 0 {
            out.push(' ');
            chars += 1;
        }
        out.push_str(word);
        chars += word.chars().count();
        if chars >= PREVIEW_CHARS {
            break;
        }
    }
    out.chars().take(PREVIEW_CHARS).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preview_collapses_whitespace_and_stops_at_100_characters() {
        assert_eq!(preview("  Hello \r\n\t world  "), "Hello world");
        let long = "é".repeat(150);
        assert_eq!(preview(&long).chars().count(), 100);
        assert_eq!(preview(""), "");
    }

    #[test]
    fn parses_a_multipart_message_with_an_attachment() {
        let raw = b"From: =?UTF-8?Q?J=C3=B6rg?= <j@example.org>\r\n\
Subject: =?ISO-8859-1?Q?caf=E9?=\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=b\r\n\r\n\
--b\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nna=EFve   text\r\n\
--b\r\nContent-Type: application/pdf; name=a.pdf\r\nContent-Disposition: attachment; filename=a.pdf\r\n\
Content-Transfer-Encoding: base64\r\n\r\nJVBERi0=\r\n--b--\r\n";
        let summary = summarize(raw);
        assert_eq!(summary.from, "Jörg <j@example.org>");
        assert_eq!(summary.subject, "café");
        assert_eq!(summary.preview_text, "naïve text");
        let mail = body(raw);
        assert_eq!(mail.text_body.as_deref().map(str::trim_end), Some("naïve   text"));
        assert_eq!(mail.html_body, None);
        assert_eq!(
            mail.attachments,
            vec![Attachment {
                index: 0,
                filename: "a.pdf".into(),
                content_type: "application/pdf".into(),
                size: 5
            }]
        );
        assert_eq!(bytes(raw, attachment(raw, 0).unwrap()), b"%PDF-");
        assert!(attachment(raw, 1).is_none());
    }

    #[test]
    fn text_attachments_keep_their_own_charset() {
        let raw = b"From: a@b.c\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n\
--b\r\nContent-Type: text/plain\r\n\r\nbody\r\n\
--b\r\nContent-Type: text/csv; charset=iso-8859-1\r\nContent-Disposition: attachment; filename=a.csv\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\r\ncaf=E9;1\r\n\
--b\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename=b.txt\r\n\r\nna\xefve\r\n--b--\r\n";
        let mail = body(raw);
        assert_eq!(mail.attachments[0].size, 6);
        let csv = attachment(raw, 0).unwrap();
        assert_eq!(csv.content_type, "text/csv; charset=iso-8859-1");
        assert_eq!(bytes(raw, csv), b"caf\xe9;1");
        let plain = attachment(raw, 1).unwrap();
        assert_eq!(bytes(raw, plain), b"na\xefve");
        assert_eq!(mail.attachments[1].size, 5);
    }

    #[test]
    fn display_names_with_specials_stay_quoted() {
        let mail = summarize(b"From: \"Reports, Inc.\" <r@x.org>, Bob <b@x.org>\r\n\r\nhi\r\n");
        assert_eq!(mail.from, "\"Reports, Inc.\" <r@x.org>, Bob <b@x.org>");
    }

    #[test]
    fn html_only_mail_has_no_text_body_but_a_preview() {
        let raw = b"From: a@b.c\r\nContent-Type: text/html\r\n\r\n<p>Hi <b>there</b></p>\r\n";
        let mail = body(raw);
        assert_eq!(mail.text_body, None);
        assert!(mail.html_body.unwrap().contains("<b>there</b>"));
        assert_eq!(summarize(raw).preview_text, "Hi there");
    }

    #[test]
    fn garbage_parses_to_empty_fields() {
        let raw = b"\x00\xff\xfe not a mail";
        assert!(summarize(raw).subject.is_empty());
        assert!(body(raw).attachments.is_empty());
    }

    /// The bytes an attachment serves, joined from its pieces the way the API streams them.
    fn bytes(raw: &[u8], file: AttachmentFile) -> Vec<u8> {
        match file.content {
            Content::Bytes(bytes) => bytes,
            Content::Pieces { encoding, pieces } => pieces
                .iter()
                .flat_map(|r| decode_piece(&raw[r.clone()], encoding).into_owned())
                .collect(),
        }
    }

    #[test]
    fn deeply_nested_messages_keep_their_headers_and_do_not_overflow_the_stack() {
        let mut raw = b"From: deep@example.org\r\nSubject: deep\r\n".to_vec();
        for _ in 0..40_000 {
            raw.extend_from_slice(b"Content-Type: message/rfc822\r\n\r\n");
        }
        raw.extend_from_slice(b"Subject: inner\r\n\r\nhello\r\n");
        let summary = summarize(&raw);
        assert_eq!(summary.subject, "deep");
        assert_eq!(summary.from, "deep@example.org");
        assert!(body(&raw).attachments.is_empty());
        assert!(attachment(&raw, 0).is_none());
    }

    #[test]
    fn nesting_up_to_the_limit_is_parsed_whole() {
        let mut raw = b"From: a@example.org\r\nSubject: outer\r\n".to_vec();
        for _ in 0..MAX_MIME_HEADERS - 1 {
            raw.extend_from_slice(b"Content-Type: message/rfc822\r\n\r\n");
        }
        raw.extend_from_slice(b"Subject: inner\r\n\r\nhello\r\n");
        // Parsed and dropped on a thread with the stack of Tokio's blocking pool (2 MiB).
        let (summary, body) = std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(move || (summarize(&raw), body(&raw)))
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(summary.subject, "outer");
        assert_eq!(body.attachments.len(), 1, "the nested message is an attachment");
    }

    #[test]
    fn a_message_of_220000_parts_lists_none_and_parses_fast() {
        let mut raw =
            b"From: a@example.org\r\nSubject: parts\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
                .to_vec();
        for _ in 0..220_000 {
            raw.extend_from_slice(b"--b\r\nContent-Disposition: attachment\r\n\r\nx\r\n");
        }
        raw.extend_from_slice(b"--b--\r\n");
        assert_eq!(summarize(&raw).subject, "parts");
        assert!(body(&raw).attachments.is_empty());
    }

    #[test]
    fn attachments_listed_stop_at_the_cap() {
        let mut raw = b"From: a@example.org\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n".to_vec();
        for _ in 0..MAX_ATTACHMENTS + 20 {
            raw.extend_from_slice(b"--b\r\nContent-Disposition: attachment\r\n\r\nx\r\n");
        }
        raw.extend_from_slice(b"--b--\r\n");
        assert_eq!(body(&raw).attachments.len(), MAX_ATTACHMENTS);
        assert!(attachment(&raw, MAX_ATTACHMENTS as u32 - 1).is_some());
        assert!(attachment(&raw, MAX_ATTACHMENTS as u32).is_none());
    }

    #[test]
    fn large_encoded_attachments_are_served_in_pieces_that_decode_to_the_whole() {
        let data: Vec<u8> = (0..400_000u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 24) as u8)
            .collect();
        let encoded = base64_lines(&data);
        let mut raw = b"From: a@example.org\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\
Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=x.bin\r\n\
Content-Transfer-Encoding: base64\r\n\r\n"
            .to_vec();
        raw.extend_from_slice(&encoded);
        raw.extend_from_slice(b"--b--\r\n");
        let file = attachment(&raw, 0).unwrap();
        assert!(matches!(&file.content, Content::Pieces { pieces, .. } if pieces.len() > 4));
        assert_eq!(file.meta.size, data.len() as u64);
        assert_eq!(bytes(&raw, file), data);
    }

    fn base64_lines(data: &[u8]) -> Vec<u8> {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut text = Vec::new();
        for group in data.chunks(3) {
            let n = group
                .iter()
                .enumerate()
                .fold(0u32, |n, (i, &b)| n | (b as u32) << (16 - 8 * i));
            for i in 0..4 {
                if i <= group.len() {
                    text.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]);
                } else {
                    text.push(b'=');
                }
            }
        }
        text.chunks(76)
            .flat_map(|line| [line, b"\r\n"].concat())
            .collect()
    }
}
