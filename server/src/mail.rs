//! MIME parsing with mail-parser: what the API shows of a message. Never fails: mail that cannot
//! be parsed keeps empty fields and is still stored and served raw.

use std::borrow::Cow;

use mail_parser::decoders::base64::base64_decode;
use mail_parser::decoders::quoted_printable::quoted_printable_decode;
use mail_parser::{Address, Encoding, Message, MessageParser, MessagePart, MimeHeaders, PartType};
use mailcx_common::Attachment;

/// Characters of body text kept in `preview_text`.
const PREVIEW_CHARS: usize = 100;

/// The parsed fields stored beside a message's raw bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParsedMail {
    pub from: String,
    pub subject: String,
    pub preview_text: String,
    pub text_body: Option<String>,
    pub html_body: Option<String>,
    pub attachments: Vec<Attachment>,
}

/// Parses raw RFC 5322 bytes.
pub fn parse(raw: &[u8]) -> ParsedMail {
    let Some(message) = MessageParser::default().parse(raw) else {
        return ParsedMail::default();
    };
    let text_body = message.text_part(0).and_then(|part| match &part.body {
        PartType::Text(text) => Some(text.to_string()),
        _ => None,
    });
    let html_body = message.html_part(0).and_then(|part| match &part.body {
        PartType::Html(html) => Some(html.to_string()),
        _ => None,
    });
    // With no text part, mail-parser renders the HTML part as text here.
    let preview_source = match &text_body {
        Some(text) => Some(text.clone()),
        None => message.body_text(0).map(|t| t.into_owned()),
    };
    ParsedMail {
        from: from_header(&message),
        subject: message.subject().unwrap_or_default().to_string(),
        preview_text: preview_source.as_deref().map(preview).unwrap_or_default(),
        text_body,
        html_body,
        attachments: message
            .attachments()
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
    pub bytes: Vec<u8>,
}

/// The attachment at `index`, its transfer encoding undone.
pub fn attachment(raw: &[u8], index: u32) -> Option<AttachmentFile> {
    let message = MessageParser::default().parse(raw)?;
    let part = message.attachment(index)?;
    let meta = describe(raw, index as usize, part);
    let content_type = match part.content_type().and_then(|ct| ct.attribute("charset")) {
        Some(charset) if part.is_text() => format!("{}; charset={charset}", meta.content_type),
        _ => meta.content_type.clone(),
    };
    Some(AttachmentFile {
        bytes: original_bytes(raw, part).into_owned(),
        content_type,
        meta,
    })
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
        let mail = parse(raw);
        assert_eq!(mail.from, "Jörg <j@example.org>");
        assert_eq!(mail.subject, "café");
        assert_eq!(mail.text_body.as_deref().map(str::trim_end), Some("naïve   text"));
        assert_eq!(mail.preview_text, "naïve text");
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
        assert_eq!(attachment(raw, 0).unwrap().bytes, b"%PDF-");
        assert!(attachment(raw, 1).is_none());
    }

    #[test]
    fn text_attachments_keep_their_own_charset() {
        let raw = b"From: a@b.c\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n\
--b\r\nContent-Type: text/plain\r\n\r\nbody\r\n\
--b\r\nContent-Type: text/csv; charset=iso-8859-1\r\nContent-Disposition: attachment; filename=a.csv\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\r\ncaf=E9;1\r\n\
--b\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename=b.txt\r\n\r\nna\xefve\r\n--b--\r\n";
        let mail = parse(raw);
        assert_eq!(mail.attachments[0].size, 6);
        let csv = attachment(raw, 0).unwrap();
        assert_eq!(csv.bytes, b"caf\xe9;1");
        assert_eq!(csv.content_type, "text/csv; charset=iso-8859-1");
        let plain = attachment(raw, 1).unwrap();
        assert_eq!(plain.bytes, b"na\xefve");
        assert_eq!(mail.attachments[1].size, 5);
    }

    #[test]
    fn display_names_with_specials_stay_quoted() {
        let mail = parse(b"From: \"Reports, Inc.\" <r@x.org>, Bob <b@x.org>\r\n\r\nhi\r\n");
        assert_eq!(mail.from, "\"Reports, Inc.\" <r@x.org>, Bob <b@x.org>");
    }

    #[test]
    fn html_only_mail_has_no_text_body_but_a_preview() {
        let raw = b"From: a@b.c\r\nContent-Type: text/html\r\n\r\n<p>Hi <b>there</b></p>\r\n";
        let mail = parse(raw);
        assert_eq!(mail.text_body, None);
        assert!(mail.html_body.unwrap().contains("<b>there</b>"));
        assert_eq!(mail.preview_text, "Hi there");
    }

    #[test]
    fn garbage_parses_to_empty_fields() {
        let mail = parse(b"\x00\xff\xfe not a mail");
        assert!(mail.subject.is_empty());
        assert!(mail.attachments.is_empty());
    }
}
