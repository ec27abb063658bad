//! The corpus of real-world and malformed mail (`tests/corpus/eml`, from mail-parser's test
//! resources) goes through the SMTP listener one message at a time; every message must be
//! stored, listed with its fields, readable, its attachments downloadable, and its `source`
//! byte-identical to the CRLF-normalised file. None may crash or stall the server.

use std::path::{Path, PathBuf};

use mail_parser::MessageParser;
use mailcx_common::MessageSummary;
use mailcx_tests::TestServer;
use mailcx_tests::mail::{deliver, expected_preview, lettre_code, normalize_crlf, send_raw, text_message};

const FROM: &str = "corpus@example.org";
const TO: &str = "corpus@mail.cx";
/// RFC 5321's longest line, CRLF included.
const MAX_LINE: usize = 1000;

/// `tests/corpus/eml` in this package; fails loudly if it is not there.
fn corpus_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/eml");
    assert!(
        dir.is_dir(),
        "the mail corpus is missing: expected the directory {}",
        dir.display()
    );
    dir
}

fn eml_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("reading {}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            eml_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "eml") {
            found.push(path);
        }
    }
}

/// A corpus file as SMTP carries it: bare LFs made CRLF, and a final CRLF if the file had none.
fn wire_form(raw: &[u8]) -> Vec<u8> {
    let mut bytes = normalize_crlf(raw);
    if !bytes.ends_with(b"\r\n") {
        bytes.extend_from_slice(b"\r\n");
    }
    bytes
}

fn longest_line(bytes: &[u8]) -> usize {
    bytes
        .split(|&b| b == b'\n')
        .map(|l| l.len() + 1)
        .max()
        .unwrap_or(0)
}

#[tokio::test]
async fn every_corpus_message_is_stored_listed_readable_and_served_byte_for_byte() {
    let root = corpus_dir();
    let mut files = Vec::new();
    eml_files(&root, &mut files);
    files.sort();
    // Exactly what the README promises: a partial checkout fails instead of passing on a few.
    assert_eq!(
        files.len(),
        107,
        "the corpus README promises 107 messages under {}",
        root.display()
    );

    let server = TestServer::start().await;
    let (_, client) = server.create_mailbox(TO.split('@').next().unwrap()).await;
    let addr = server.smtp_addr();

    // In order, one at a time, so the list (newest first) maps back to the files.
    let mut accepted = Vec::new();
    let mut refused = Vec::new();
    for path in &files {
        let name = path.strip_prefix(&root).unwrap().display().to_string();
        let bytes = wire_form(&std::fs::read(path).unwrap());
        let result = send_raw(addr, FROM, &[TO], &bytes).await;
        if longest_line(&bytes) > MAX_LINE {
            // SMTP cannot carry it: the server must refuse it, and store nothing.
            let error = result.expect_err(&format!("{name} has a line over 1000 octets but was accepted"));
            let code = lettre_code(&error).unwrap_or_else(|| panic!("{name}: no SMTP reply: {error}"));
            assert!(code.starts_with('5'), "{name}: {code}");
            refused.push(name);
            continue;
        }
        match result {
            Ok(reply) => assert_eq!(reply.code().to_string(), "250", "{name}: {reply:?}"),
            Err(e) => panic!("{name} was refused: {e}"),
        }
        accepted.push((name, bytes));
    }

    let mut listed: Vec<MessageSummary> = Vec::new();
    for page in 1.. {
        let messages = client.messages(page).await.expect("the list").messages;
        let last = messages.len() < 30;
        listed.extend(messages);
        if last {
            break;
        }
    }
    assert_eq!(
        listed.len(),
        accepted.len(),
        "every accepted message is listed, nothing else"
    );
    listed.reverse();

    let (mut with_attachments, mut with_html, mut with_text, mut attachments_total) = (0, 0, 0, 0);
    let mut used = 0;
    for ((name, bytes), entry) in accepted.iter().zip(&listed) {
        let parsed = MessageParser::default().parse(bytes);
        let subject = parsed.as_ref().and_then(|m| m.subject()).unwrap_or_default();
        assert_eq!(entry.subject, subject, "{name}: subject");
        assert_eq!(entry.sender, FROM, "{name}");
        assert_eq!(entry.size, bytes.len() as u64, "{name}: size");
        assert!(!entry.is_read, "{name}");
        assert!(
            entry.preview_text.chars().count() <= 100,
            "{name}: {:?}",
            entry.preview_text
        );
        let preview = &entry.preview_text;
        assert!(
            !preview.contains("  ") && !preview.contains(['\r', '\n', '\t']) && !preview.starts_with(' '),
            "{name}: preview whitespace not collapsed: {preview:?}"
        );
        used += entry.size;

        let full = client
            .message(entry.id)
            .await
            .unwrap_or_else(|e| panic!("{name}: GET /api/messages/{{id}} failed: {e:?}"));
        assert_eq!(full.id, entry.id);
        assert_eq!(full.subject, entry.subject, "{name}");
        assert_eq!(full.from, entry.from, "{name}");
        assert_eq!(full.address, TO);
        let expected_attachments = parsed.as_ref().map_or(0, |m| m.attachments().count());
        assert_eq!(
            full.attachments.len(),
            expected_attachments,
            "{name}: attachments"
        );
        for (i, attachment) in full.attachments.iter().enumerate() {
            assert_eq!(attachment.index, i as u32, "{name}");
            let download = client
                .attachment(entry.id, attachment.index)
                .await
                .unwrap_or_else(|e| panic!("{name}: attachment {i} failed: {e:?}"));
            assert_eq!(
                download.bytes.len() as u64,
                attachment.size,
                "{name}: attachment {i} size"
            );
        }
        if let Some(text) = &full.text_body {
            assert_eq!(
                entry.preview_text,
                expected_preview(text),
                "{name}: preview of the text body"
            );
        }
        with_attachments += usize::from(!full.attachments.is_empty());
        attachments_total += full.attachments.len();
        with_html += usize::from(full.html_body.is_some());
        with_text += usize::from(full.text_body.is_some());

        let source = client
            .source(entry.id)
            .await
            .unwrap_or_else(|e| panic!("{name}: source failed: {e:?}"));
        assert_eq!(source.content_type, "message/rfc822", "{name}");
        assert!(
            source.bytes == *bytes,
            "{name}: source is not byte-identical to what was sent"
        );
    }
    assert_eq!(
        client.me().await.unwrap().used,
        used,
        "used is the sum of the sizes"
    );

    // Still healthy: the API answers and new mail is taken.
    assert_eq!(server.client().domains().await.unwrap()[0].domain, "mail.cx");
    let last = text_message(FROM, TO, "after the corpus", "Still fine");
    deliver(addr, FROM, &[TO], &last).await;
    assert_eq!(
        client.messages(1).await.unwrap().messages[0].subject,
        "after the corpus"
    );

    eprintln!(
        "corpus: {} files, {} stored, {} refused (line over 1000 octets: {refused:?}); \
         {with_attachments} with attachments ({attachments_total} in all), {with_html} with HTML, \
         {with_text} with a text body",
        files.len(),
        accepted.len(),
        refused.len(),
    );
}
