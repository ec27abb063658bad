//! The headers a person asks about (To, Cc, Reply-To, Message-ID, List-Unsubscribe, the full
//! subject), read from a message's raw source: the message JSON does not carry them.

use mail_parser::{Address, MessageParser};

/// One header as shown: its name and its decoded value on one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderRow {
    /// The header's name, e.g. `Reply-To`.
    pub name: &'static str,
    /// Its decoded value (encoded words decoded, folding undone).
    pub value: String,
}

/// The interesting headers of a raw message, in a fixed order; the absent ones are left out.
/// Parses only the header block, but call it off the UI thread: sources can be megabytes.
pub fn parse(source: &[u8]) -> Vec<HeaderRow> {
    let Some(message) = MessageParser::default().parse_headers(source) else {
        return Vec::new();
    };
    let addresses = |a: Option<&Address>| a.map(list).filter(|s| !s.is_empty());
    let raw = |name: &str| message.header_raw(name).map(unfold).filter(|s| !s.is_empty());
    let rows = [
        ("Subject", message.subject().map(crate::format::one_line)),
        ("From", addresses(message.from())),
        ("To", addresses(message.to())),
        ("Cc", addresses(message.cc())),
        ("Reply-To", addresses(message.reply_to())),
        ("Date", raw("Date")),
        ("Message-ID", message.message_id().map(|id| format!("<{id}>"))),
        ("List-Unsubscribe", raw("List-Unsubscribe")),
        ("Return-Path", raw("Return-Path")),
    ];
    rows.into_iter()
        .filter_map(|(name, value)| value.map(|value| HeaderRow { name, value }))
        .collect()
}

/// `Name <address>, ...`, each part cleaned of control and bidi characters.
fn list(address: &Address) -> String {
    address
        .iter()
        .map(|a| match (a.name(), a.address()) {
            (Some(name), Some(addr)) => format!("{} <{}>", crate::format::one_line(name), addr),
            (None, Some(addr)) => addr.to_string(),
            (Some(name), None) => crate::format::one_line(name),
            (None, None) => String::new(),
        })
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(", ")
}

/// A raw header value on one line: folding undone, controls dropped.
fn unfold(value: &str) -> String {
    crate::format::one_line(&value.split_whitespace().collect::<Vec<_>>().join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_headers_people_ask_for() {
        let source = b"From: \"Example\" <hi@example.com>\r\n\
To: a@mail.cx, \"Bob B\" <b@mail.cx>\r\n\
Cc: c@mail.cx\r\n\
Reply-To: support@example.com\r\n\
Subject: =?UTF-8?Q?Caf=C3=A9_receipt?= for a very long subject that goes on\r\n and on\r\n\
Message-ID: <abc.123@example.com>\r\n\
List-Unsubscribe: <mailto:u@example.com>,\r\n <https://example.com/u?id=1>\r\n\
\r\n\
Body.\r\n";
        let rows = parse(source);
        let get = |name: &str| rows.iter().find(|r| r.name == name).map(|r| r.value.as_str());
        assert_eq!(
            get("Subject"),
            Some("Café receipt for a very long subject that goes on and on")
        );
        assert_eq!(get("To"), Some("a@mail.cx, Bob B <b@mail.cx>"));
        assert_eq!(get("Cc"), Some("c@mail.cx"));
        assert_eq!(get("Reply-To"), Some("support@example.com"));
        assert_eq!(get("Message-ID"), Some("<abc.123@example.com>"));
        assert_eq!(
            get("List-Unsubscribe"),
            Some("<mailto:u@example.com>, <https://example.com/u?id=1>")
        );
        assert_eq!(get("Date"), None, "absent headers are left out");
    }

    #[test]
    fn garbage_gives_no_rows_rather_than_a_panic() {
        assert!(parse(b"").is_empty());
        let rows = parse(b"\xff\xfe not a header\r\n\r\n");
        assert!(rows.iter().all(|r| !r.value.is_empty()));
    }
}
