//! Mail that arrives over SMTP and is read over HTTP: the parsed fields of plain, HTML-only,
//! multipart, legacy-charset, 8-bit and broken messages; the exact source bytes; attachments;
//! read marks; pagination; deletion and `used`; isolation between mailboxes; and the auth wall.

use std::time::{SystemTime, UNIX_EPOCH};

use mailcx_common::{Client, MessageSummary};
use mailcx_tests::mail::{
    Smtp, base64, crlf, deliver, expected_preview, message_of_size, send_raw, text_message,
};
use mailcx_tests::{TestServer, expect_error, expect_json, is_wire_timestamp, keys, read};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use serde_json::Value;
use uuid::Uuid;

const SENDER: &str = "bounces+42@sender.example";

fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

/// The only message of page 1 of a mailbox.
async fn only_message(client: &Client) -> MessageSummary {
    let list = client.messages(1).await.expect("the list");
    assert_eq!(list.messages.len(), 1, "{list:?}");
    list.messages[0].clone()
}

/// `GET path` with `token`, expecting 200 JSON.
async fn get_json(server: &TestServer, path: &str, token: &str) -> Value {
    expect_json(server.get(path, Some(token)).await, StatusCode::OK).await
}

/// Delivers `message` to `demo@mail.cx` from `SENDER` and returns its list entry (raw JSON) and
/// the full message (raw JSON), after checking both shapes and the fields every message has.
async fn receive(server: &TestServer, token: &str, message: &[u8]) -> (Value, Value) {
    let before = unix_now();
    deliver(server.smtp_addr(), SENDER, &["demo@mail.cx"], message).await;
    let after = unix_now();

    let list = get_json(server, "/api/messages", token).await;
    assert_eq!(keys(&list), ["messages", "page"]);
    assert_eq!(list["page"], 1);
    let entry = list["messages"][0].clone();
    assert_eq!(
        keys(&entry),
        [
            "created_at",
            "from",
            "id",
            "is_read",
            "preview_text",
            "sender",
            "size",
            "subject"
        ]
    );
    assert_eq!(entry["sender"], SENDER, "sender is the envelope sender");
    assert_eq!(entry["size"], message.len(), "size is the raw byte length");
    assert_eq!(entry["is_read"], false);
    let created_at = entry["created_at"].as_str().expect("created_at is a string");
    assert!(is_wire_timestamp(created_at), "created_at {created_at:?}");
    let parsed: mailcx_common::Timestamp = serde_json::from_value(entry["created_at"].clone()).unwrap();
    assert!(
        (before..=after).contains(&parsed.timestamp()),
        "{created_at} not in {before}..={after}"
    );

    let id = entry["id"].as_str().expect("id is a string");
    Uuid::parse_str(id).expect("id is a UUID");
    let full = get_json(server, &format!("/api/messages/{id}"), token).await;
    assert_eq!(
        keys(&full),
        [
            "address",
            "attachments",
            "created_at",
            "from",
            "html_body",
            "id",
            "is_read",
            "sender",
            "size",
            "subject",
            "text_body"
        ]
    );
    for field in ["id", "sender", "from", "subject", "size", "created_at", "is_read"] {
        assert_eq!(
            full[field], entry[field],
            "{field} differs between list and message"
        );
    }
    assert_eq!(full["address"], "demo@mail.cx");

    // The source is exactly what was sent.
    let source = server
        .get(&format!("/api/messages/{id}/source"), Some(token))
        .await;
    assert_eq!(source.status(), StatusCode::OK);
    assert_eq!(source.headers()[CONTENT_TYPE], "message/rfc822");
    assert_eq!(
        source.headers()[CONTENT_DISPOSITION].to_str().unwrap(),
        format!("attachment; filename=\"{id}.eml\"")
    );
    let bytes = source.bytes().await.unwrap();
    assert_eq!(String::from_utf8_lossy(&bytes), String::from_utf8_lossy(message));
    assert_eq!(&bytes[..], message, "source must be byte-identical");
    (entry, full)
}

/// Normalises a body for comparison: CRLF → LF, trailing whitespace dropped.
fn body(value: &Value) -> String {
    value
        .as_str()
        .unwrap_or_else(|| panic!("not a string: {value}"))
        .replace("\r\n", "\n")
        .trim_end()
        .to_string()
}

#[tokio::test]
async fn a_plain_text_message_is_listed_and_read_with_every_field() {
    let server = TestServer::start().await;
    let (account, client) = server.create_mailbox("demo").await;
    let text = "Hello   there,\n\n\tthis is the first line of a plain message whose preview must be cut \
                at exactly one hundred characters, whitespace collapsed.\nSecond line.";
    let message = crlf(&format!(
        "From: Ann Example <ann@example.org>\nTo: demo@mail.cx\nSubject: Plain hello\n\
         Date: Mon, 13 Jan 2025 10:30:00 +0000\nMessage-ID: <plain@example.org>\nMIME-Version: 1.0\n\
         Content-Type: text/plain; charset=utf-8\n\n{text}"
    ));
    let (entry, full) = receive(&server, &account.token, &message).await;
    assert_eq!(entry["from"], "Ann Example <ann@example.org>");
    assert_eq!(entry["subject"], "Plain hello");
    let preview = entry["preview_text"].as_str().unwrap();
    assert_eq!(preview, expected_preview(text));
    assert_eq!(preview.chars().count(), 100);
    assert!(preview.starts_with("Hello there, this is the first"), "{preview}");
    assert_eq!(body(&full["text_body"]), text.replace("\r\n", "\n"));
    assert_eq!(full["html_body"], Value::Null);
    assert_eq!(full["attachments"], serde_json::json!([]));
    let id = entry["id"].as_str().unwrap();
    let none = server
        .get(&format!("/api/messages/{id}/attachments/0"), Some(&account.token))
        .await;
    expect_error(none, StatusCode::BAD_REQUEST, "invalid_index").await;

    // Reading does not mark read; PUT /read does (204, empty), and both views say so.
    let id: Uuid = serde_json::from_value(entry["id"].clone()).unwrap();
    assert!(!client.message(id).await.unwrap().is_read);
    assert!(!only_message(&client).await.is_read);
    let response = server
        .http()
        .put(server.endpoint(&format!("/api/messages/{id}/read")))
        .bearer_auth(&account.token)
        .send()
        .await
        .unwrap();
    let (status, _, text) = read(response).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(text, "");
    assert!(only_message(&client).await.is_read);
    assert!(client.message(id).await.unwrap().is_read);
    // Marking again is fine.
    client.mark_read(id).await.unwrap();
    assert!(client.message(id).await.unwrap().is_read);
}

#[tokio::test]
async fn an_html_only_message_has_no_text_body_and_a_preview_from_the_html() {
    let server = TestServer::start().await;
    let (account, _) = server.create_mailbox("demo").await;
    let html = "<html><head><title>ignored title</title><style>p { color: red; }</style></head>\n<body>\
                <h1>Weekly   report</h1>\n<p>Numbers are <b>up</b> &amp; to the right.</p></body></html>";
    let message = crlf(&format!(
        "From: Reports Team <reports@example.org>\nTo: demo@mail.cx\nSubject: HTML only\n\
         MIME-Version: 1.0\nContent-Type: text/html; charset=utf-8\n\n{html}"
    ));
    let (entry, full) = receive(&server, &account.token, &message).await;
    assert_eq!(entry["from"], "Reports Team <reports@example.org>");
    assert_eq!(full["text_body"], Value::Null, "no text part: text_body is null");
    assert_eq!(body(&full["html_body"]), html.replace("\r\n", "\n"));
    let preview = entry["preview_text"].as_str().unwrap();
    // The HTML's text: no tags, no entities, no <title> or <style>, whitespace collapsed.
    assert_eq!(preview, "Weekly report Numbers are up & to the right.");
}

/// Bytes 0..=255 repeated: every byte value, in an attachment that must come back intact.
fn binary_attachment() -> Vec<u8> {
    (0..3000u32).map(|i| (i * 7 % 256) as u8).collect()
}

fn multipart_message() -> Vec<u8> {
    let pdf = base64(&binary_attachment());
    crlf(&format!(
        "From: Multi Part <multi@example.org>\nTo: demo@mail.cx\nSubject: Alternative with attachment\n\
         MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"outer-boundary\"\n\n\
         This is a multi-part message in MIME format.\n\
         --outer-boundary\nContent-Type: multipart/alternative; boundary=\"inner-boundary\"\n\n\
         --inner-boundary\nContent-Type: text/plain; charset=utf-8\n\nThe plain version.\n\
         --inner-boundary\nContent-Type: text/html; charset=utf-8\n\n<p>The <i>HTML</i> version.</p>\n\
         --inner-boundary--\n\
         --outer-boundary\nContent-Type: application/pdf; name=\"report.pdf\"\n\
         Content-Disposition: attachment; filename=\"report.pdf\"\nContent-Transfer-Encoding: base64\n\n\
         {pdf}--outer-boundary\nContent-Type: text/plain; charset=utf-8; name=\"notes.txt\"\n\
         Content-Disposition: attachment; filename=\"notes.txt\"\nContent-Transfer-Encoding: quoted-printable\n\n\
         caf=C3=A9 notes=\nsoft break\n--outer-boundary--\n"
    ))
}

#[tokio::test]
async fn a_multipart_alternative_message_has_both_bodies_and_downloadable_attachments() {
    let server = TestServer::start().await;
    let (account, client) = server.create_mailbox("demo").await;
    let message = multipart_message();
    let (entry, full) = receive(&server, &account.token, &message).await;
    assert_eq!(entry["subject"], "Alternative with attachment");
    assert_eq!(entry["preview_text"], "The plain version.");
    assert_eq!(body(&full["text_body"]), "The plain version.");
    assert_eq!(body(&full["html_body"]), "<p>The <i>HTML</i> version.</p>");
    let pdf = binary_attachment();
    assert_eq!(
        full["attachments"],
        serde_json::json!([
            {"index": 0, "filename": "report.pdf", "content_type": "application/pdf", "size": pdf.len()},
            {"index": 1, "filename": "notes.txt", "content_type": "text/plain", "size": "café notessoft break".len()},
        ])
    );

    let id = entry["id"].as_str().unwrap();
    let response = server
        .get(&format!("/api/messages/{id}/attachments/0"), Some(&account.token))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[CONTENT_TYPE], "application/pdf");
    assert_eq!(
        response.headers()[CONTENT_DISPOSITION],
        "attachment; filename=\"report.pdf\""
    );
    assert_eq!(
        &response.bytes().await.unwrap()[..],
        &pdf[..],
        "attachment bytes must be identical"
    );

    let notes = client.attachment(Uuid::parse_str(id).unwrap(), 1).await.unwrap();
    assert!(notes.content_type.starts_with("text/plain"), "{notes:?}");
    assert_eq!(notes.filename.as_deref(), Some("notes.txt"));
    assert_eq!(notes.bytes, "café notessoft break".as_bytes());

    for bad in ["2", "9", "4294967296", "-1", "abc"] {
        let response = server
            .get(
                &format!("/api/messages/{id}/attachments/{bad}"),
                Some(&account.token),
            )
            .await;
        expect_error(response, StatusCode::BAD_REQUEST, "invalid_index").await;
    }
}

#[tokio::test]
async fn legacy_charsets_and_encoded_words_come_back_as_utf8() {
    let server = TestServer::start().await;
    let (account, _) = server.create_mailbox("demo").await;
    let message = crlf(
        "From: =?ISO-8859-1?Q?Andr=E9_Kr=FCger?= <andre@example.org>\nTo: demo@mail.cx\n\
         Subject: =?ISO-8859-1?Q?Caf=E9_cr=E8me_br=FBl=E9e?= =?UTF-8?B?4oCUIGZpbg==?=\n\
         MIME-Version: 1.0\nContent-Type: text/plain; charset=ISO-8859-1\n\
         Content-Transfer-Encoding: quoted-printable\n\n\
         Voil=E0 le menu: caf=E9, cr=E8me, na=EFve, =\n\
         soft-broken line.\nPrix: 5 =A4, 3=B0C.",
    );
    let (entry, full) = receive(&server, &account.token, &message).await;
    assert_eq!(entry["from"], "André Krüger <andre@example.org>");
    assert_eq!(entry["subject"], "Café crème brûlée— fin");
    let text = "Voilà le menu: café, crème, naïve, soft-broken line.\nPrix: 5 ¤, 3°C.";
    assert_eq!(body(&full["text_body"]), text);
    assert_eq!(entry["preview_text"], expected_preview(text));
}

#[tokio::test]
async fn an_eight_bit_body_sent_with_8bitmime_is_stored_as_sent() {
    let server = TestServer::start().await;
    let (_, client) = server.create_mailbox("demo").await;
    let utf8_text = "Grüße aus Köln — 日本語のテキスト ✓\nZweite Zeile.";
    let utf8 = crlf(&format!(
        "From: Jürgen <j@example.org>\nTo: demo@mail.cx\nSubject: Grüße 8bit\nMIME-Version: 1.0\n\
         Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n{utf8_text}"
    ));
    // Latin-1 bytes straight on the wire.
    let mut latin1 = crlf(
        "From: latin@example.org\nTo: demo@mail.cx\nSubject: latin-1 8bit\nMIME-Version: 1.0\n\
         Content-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: 8bit\n",
    );
    latin1.extend_from_slice(b"\r\nD\xe9j\xe0 vu, \xa9 2025.\r\n");

    let mut smtp = Smtp::open(server.smtp_addr()).await;
    for message in [&utf8, &latin1] {
        smtp.expect(&format!("MAIL FROM:<{SENDER}> BODY=8BITMIME"), 250)
            .await;
        smtp.expect("RCPT TO:<demo@mail.cx>", 250).await;
        smtp.data(message).await.assert_code(250);
    }
    let list = client.messages(1).await.unwrap().messages;
    assert_eq!(list.len(), 2);
    let (latin, utf) = (&list[0], &list[1]);

    assert_eq!(utf.subject, "Grüße 8bit");
    assert_eq!(utf.from, "Jürgen <j@example.org>");
    assert_eq!(utf.preview_text, expected_preview(utf8_text));
    assert_eq!(utf.size, utf8.len() as u64);
    let full = client.message(utf.id).await.unwrap();
    assert_eq!(
        full.text_body.unwrap().replace("\r\n", "\n").trim_end(),
        utf8_text
    );
    assert_eq!(client.source(utf.id).await.unwrap().bytes, utf8);

    assert_eq!(latin.subject, "latin-1 8bit");
    assert_eq!(latin.preview_text, "Déjà vu, © 2025.");
    assert_eq!(client.source(latin.id).await.unwrap().bytes, latin1);

    // The whole exchange through lettre, which says BODY=8BITMIME by itself.
    let again = text_message(SENDER, "demo@mail.cx", "ünïcødé via lettre", "Ça marche — ✓");
    deliver(server.smtp_addr(), SENDER, &["demo@mail.cx"], &again).await;
    let newest = &client.messages(1).await.unwrap().messages[0];
    assert_eq!(newest.subject, "ünïcødé via lettre");
    assert_eq!(newest.preview_text, "Ça marche — ✓");
}

#[tokio::test]
async fn broken_mime_is_stored_and_served_byte_for_byte() {
    let server = TestServer::start().await;
    let (account, client) = server.create_mailbox("demo").await;
    let unclosed = crlf(
        "From: broken\nSubject: Broken MIME\nMIME-Version: 1.0\n\
         Content-Type: multipart/mixed; boundary=\"never-closed\"\nContent-Transfer-Encoding: base64\n\n\
         --never-closed\nContent-Type: text/plain\nContent-Transfer-Encoding: base64\n\n\
         !!!! not base64 at all ####\n--never-closed\nContent-Type: application/octet-stream; name=\n\
         Content-Disposition: attachment; filename*=UTF-8''%FF%FE\n\nraw",
    );
    let no_headers = crlf("just a line of text, no headers at all\n\nand another");
    let header_soup = crlf(
        "Subject\nFrom: <<<>>>\nContent-Type: text/plain; charset=no-such-charset\n\
         Content-Transfer-Encoding: quoted-printable\n: empty name\n\n=ZZ=4\n=",
    );
    let mut binary = b"Subject: binary\r\nContent-Type: text/plain\r\n\r\n".to_vec();
    binary.extend((0u8..=255).filter(|b| *b != b'\n' && *b != b'\r'));
    binary.extend_from_slice(b"\r\n\0\0\0\r\n");
    let only_headers = crlf("Subject: only headers\nFrom: a@b.example");

    for message in [&unclosed, &no_headers, &header_soup, &binary, &only_headers] {
        deliver(server.smtp_addr(), SENDER, &["demo@mail.cx"], message).await;
        let entry = &client.messages(1).await.unwrap().messages[0];
        assert_eq!(entry.size, message.len() as u64);
        assert_eq!(entry.sender, SENDER);
        let full = get_json(&server, &format!("/api/messages/{}", entry.id), &account.token).await;
        assert!(full["attachments"].is_array(), "{full}");
        let source = client.source(entry.id).await.unwrap();
        assert_eq!(source.content_type, "message/rfc822");
        assert_eq!(source.bytes, *message, "source must be byte-identical");
        // Every attachment the server lists can be downloaded.
        let count = full["attachments"].as_array().unwrap().len() as u32;
        for index in 0..count {
            client.attachment(entry.id, index).await.unwrap();
        }
    }
    let subjects: Vec<String> = client
        .messages(1)
        .await
        .unwrap()
        .messages
        .into_iter()
        .map(|m| m.subject)
        .collect();
    assert_eq!(subjects[0], "only headers");
    assert_eq!(subjects[4], "Broken MIME");
}

#[tokio::test]
async fn source_undoes_dot_stuffing_exactly() {
    let server = TestServer::start().await;
    let (_, client) = server.create_mailbox("demo").await;
    let body = ".starts with a dot\n..starts with two dots\n.\n. \nmiddle . dot\n...\nlast";
    let message = text_message(SENDER, "demo@mail.cx", "dots", body);
    // Once through lettre (which stuffs by itself), once stuffed by hand on a raw connection.
    deliver(server.smtp_addr(), SENDER, &["demo@mail.cx"], &message).await;
    let mut smtp = Smtp::open(server.smtp_addr()).await;
    smtp.transaction(SENDER, &["demo@mail.cx"], &message)
        .await
        .assert_code(250);
    // A message whose very first byte is a dot.
    let leading = crlf(".hidden: header-ish\nSubject: leading dot\n\n.body");
    deliver(server.smtp_addr(), SENDER, &["demo@mail.cx"], &leading).await;

    let list = client.messages(1).await.unwrap().messages;
    assert_eq!(list.len(), 3);
    let download = client.source(list[0].id).await.unwrap();
    assert_eq!(download.bytes, leading);
    assert_eq!(download.filename, Some(format!("{}.eml", list[0].id)));
    for entry in &list[1..] {
        let source = client.source(entry.id).await.unwrap();
        assert_eq!(
            String::from_utf8_lossy(&source.bytes),
            String::from_utf8_lossy(&message)
        );
        assert_eq!(entry.size, message.len() as u64);
    }
    let text = client.message(list[1].id).await.unwrap().text_body.unwrap();
    assert_eq!(text.replace("\r\n", "\n").trim_end(), body);
}

#[tokio::test]
async fn a_message_of_the_full_default_size_round_trips() {
    let server = TestServer::start().await;
    let (_, client) = server.create_mailbox("demo").await;
    let big = message_of_size(SENDER, "demo@mail.cx", "ten mebibytes", 10 * 1024 * 1024);
    let mut smtp = Smtp::open(server.smtp_addr()).await;
    smtp.expect(&format!("MAIL FROM:<{SENDER}> SIZE={}", big.len()), 250)
        .await;
    smtp.expect("RCPT TO:<demo@mail.cx>", 250).await;
    smtp.data(&big).await.assert_code(250);
    let entry = only_message(&client).await;
    assert_eq!(entry.subject, "ten mebibytes");
    assert_eq!(entry.size, big.len() as u64);
    assert_eq!(client.me().await.unwrap().used, big.len() as u64);
    client.message(entry.id).await.expect("the message opens");
    assert!(
        client.source(entry.id).await.unwrap().bytes == big,
        "source is byte-identical"
    );
}

#[tokio::test]
async fn sixty_five_messages_page_as_30_30_5_newest_first() {
    let server = TestServer::start().await;
    let (account, client) = server.create_mailbox("demo").await;
    let mut smtp = Smtp::open(server.smtp_addr()).await;
    for n in 1..=65 {
        let message = text_message(SENDER, "demo@mail.cx", &format!("Message {n:02}"), "Hi");
        smtp.transaction(SENDER, &["demo@mail.cx"], &message)
            .await
            .assert_code(250);
    }
    let mut expected = (1..=65).rev().map(|n| format!("Message {n:02}"));
    for (page, size) in [(1, 30), (2, 30), (3, 5), (4, 0), (5, 0)] {
        let list = client.messages(page).await.unwrap();
        assert_eq!(list.page, page);
        assert_eq!(list.messages.len(), size, "page {page}");
        for entry in &list.messages {
            assert_eq!(Some(entry.subject.clone()), expected.next(), "page {page}");
        }
    }
    // No page parameter is page 1.
    let first = get_json(&server, "/api/messages", &account.token).await;
    assert_eq!(first["page"], 1);
    assert_eq!(first["messages"][0]["subject"], "Message 65");
    let empty = get_json(&server, "/api/messages?page=4", &account.token).await;
    assert_eq!(empty, serde_json::json!({"messages": [], "page": 4}));

    for bad in ["0", "abc", "-1", "1.5", ""] {
        let response = server
            .get(&format!("/api/messages?page={bad}"), Some(&account.token))
            .await;
        expect_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
    }
}

#[tokio::test]
async fn delete_answers_204_then_404_and_gives_the_size_back() {
    let server = TestServer::start().await;
    let (account, client) = server.create_mailbox("demo").await;
    let first = text_message(SENDER, "demo@mail.cx", "keep", "Keep me");
    let second = text_message(SENDER, "demo@mail.cx", "delete", &"Delete me. ".repeat(50));
    deliver(server.smtp_addr(), SENDER, &["demo@mail.cx"], &first).await;
    assert_eq!(
        client.me().await.unwrap().used,
        first.len() as u64,
        "used rises on delivery"
    );
    deliver(server.smtp_addr(), SENDER, &["demo@mail.cx"], &second).await;
    let total = (first.len() + second.len()) as u64;
    assert_eq!(client.me().await.unwrap().used, total);

    let victim = client.messages(1).await.unwrap().messages[0].clone();
    assert_eq!(victim.subject, "delete");
    let path = format!("/api/messages/{}", victim.id);
    let delete = || {
        server
            .http()
            .delete(server.endpoint(&path))
            .bearer_auth(&account.token)
            .send()
    };
    let (status, _, text) = read(delete().await.unwrap()).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(text, "");
    assert_eq!(
        client.me().await.unwrap().used,
        first.len() as u64,
        "used drops by the size"
    );

    expect_error(delete().await.unwrap(), StatusCode::NOT_FOUND, "not_found").await;
    expect_error(
        server.get(&path, Some(&account.token)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let source = server.get(&format!("{path}/source"), Some(&account.token)).await;
    expect_error(source, StatusCode::NOT_FOUND, "not_found").await;
    let list = client.messages(1).await.unwrap().messages;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].subject, "keep");
    assert_eq!(client.me().await.unwrap().used, first.len() as u64);
}

#[tokio::test]
async fn another_mailbox_gets_404_for_everything_never_403() {
    let server = TestServer::start().await;
    let (_, owner) = server.create_mailbox("demo").await;
    let (intruder, _) = server.create_mailbox("intruder").await;
    deliver(
        server.smtp_addr(),
        SENDER,
        &["demo@mail.cx"],
        &multipart_message(),
    )
    .await;
    let id = only_message(&owner).await.id;

    let listed = get_json(&server, "/api/messages", &intruder.token).await;
    assert_eq!(listed["messages"], serde_json::json!([]));
    let http = server.http();
    let requests = [
        http.get(server.endpoint(&format!("/api/messages/{id}"))),
        http.get(server.endpoint(&format!("/api/messages/{id}/source"))),
        http.get(server.endpoint(&format!("/api/messages/{id}/attachments/0"))),
        http.get(server.endpoint(&format!("/api/messages/{id}/attachments/9"))),
        http.put(server.endpoint(&format!("/api/messages/{id}/read"))),
        http.delete(server.endpoint(&format!("/api/messages/{id}"))),
    ];
    for request in requests {
        let response = request.bearer_auth(&intruder.token).send().await.unwrap();
        expect_error(response, StatusCode::NOT_FOUND, "not_found").await;
    }
    // The owner's message is untouched: there, unread.
    let still = owner.message(id).await.unwrap();
    assert!(!still.is_read);
    assert_eq!(only_message(&owner).await.id, id);
}

#[tokio::test]
async fn ids_that_are_not_uuids_or_unknown_are_404() {
    let server = TestServer::start().await;
    let (account, _) = server.create_mailbox("demo").await;
    let unknown = Uuid::new_v4();
    for id in ["not-a-uuid", "123", "%20", &unknown.to_string()] {
        let http = server.http();
        let requests = [
            http.get(server.endpoint(&format!("/api/messages/{id}"))),
            http.get(server.endpoint(&format!("/api/messages/{id}/source"))),
            http.get(server.endpoint(&format!("/api/messages/{id}/attachments/0"))),
            http.put(server.endpoint(&format!("/api/messages/{id}/read"))),
            http.delete(server.endpoint(&format!("/api/messages/{id}"))),
        ];
        for request in requests {
            let response = request.bearer_auth(&account.token).send().await.unwrap();
            expect_error(response, StatusCode::NOT_FOUND, "not_found").await;
        }
    }
}

#[tokio::test]
async fn every_message_endpoint_wants_a_valid_token() {
    let server = TestServer::start().await;
    let (_, owner) = server.create_mailbox("demo").await;
    deliver(
        server.smtp_addr(),
        SENDER,
        &["demo@mail.cx"],
        &multipart_message(),
    )
    .await;
    let id = only_message(&owner).await.id;
    let http = server.http();
    for token in [None, Some("garbage"), Some("a.b.c"), Some("")] {
        let requests = [
            http.get(server.endpoint("/api/messages")),
            http.get(server.endpoint("/api/messages?page=0")),
            http.get(server.endpoint(&format!("/api/messages/{id}"))),
            http.get(server.endpoint("/api/messages/not-a-uuid")),
            http.get(server.endpoint(&format!("/api/messages/{id}/source"))),
            http.get(server.endpoint(&format!("/api/messages/{id}/attachments/0"))),
            http.put(server.endpoint(&format!("/api/messages/{id}/read"))),
            http.delete(server.endpoint(&format!("/api/messages/{id}"))),
        ];
        for request in requests {
            let request = match token {
                Some(token) => request.bearer_auth(token),
                None => request,
            };
            let response = request.send().await.unwrap();
            expect_error(response, StatusCode::UNAUTHORIZED, "invalid_token").await;
        }
    }
    // Nothing happened to the message.
    let still = owner.message(id).await.unwrap();
    assert!(!still.is_read);
}

#[tokio::test]
async fn deleting_the_mailbox_removes_its_mail_and_the_address_starts_empty_again() {
    let server = TestServer::start().await;
    let (account, client) = server.create_mailbox("demo").await;
    for n in 0..3 {
        let message = text_message(SENDER, "demo@mail.cx", &format!("old {n}"), "Old mail");
        deliver(server.smtp_addr(), SENDER, &["demo@mail.cx"], &message).await;
    }
    let old = client.messages(1).await.unwrap().messages;
    assert_eq!(old.len(), 3);
    assert!(client.me().await.unwrap().used > 0);
    client.delete_account().await.unwrap();

    // SMTP no longer knows the address.
    let mut smtp = Smtp::open(server.smtp_addr()).await;
    smtp.expect(&format!("MAIL FROM:<{SENDER}>"), 250).await;
    smtp.command("RCPT TO:<demo@mail.cx>")
        .await
        .assert_status(550, "5.1.1");
    let message = text_message(SENDER, "demo@mail.cx", "after delete", "Hi");
    let error = send_raw(server.smtp_addr(), SENDER, &["demo@mail.cx"], &message)
        .await
        .unwrap_err();
    assert!(error.is_permanent(), "{error}");

    // A new mailbox with the same address starts empty, and cannot see the old ids.
    let (fresh, client) = server.create_mailbox("demo").await;
    assert_ne!(fresh.id, account.id);
    let me = client.me().await.unwrap();
    assert_eq!(me.used, 0);
    assert!(client.messages(1).await.unwrap().messages.is_empty());
    for entry in &old {
        let response = server
            .get(&format!("/api/messages/{}", entry.id), Some(&fresh.token))
            .await;
        expect_error(response, StatusCode::NOT_FOUND, "not_found").await;
    }
    // And it receives mail again.
    deliver(server.smtp_addr(), SENDER, &["demo@mail.cx"], &message).await;
    assert_eq!(only_message(&client).await.subject, "after delete");
    assert_eq!(client.me().await.unwrap().used, message.len() as u64);
}

#[tokio::test]
async fn a_text_attachment_in_a_legacy_charset_downloads_as_its_own_bytes() {
    let server = TestServer::start().await;
    let (_, client) = server.create_mailbox("demo").await;
    let csv = b"caf\xe9;cr\xe8me\r\nna\xefve;\xa4\r\n";
    let message = crlf(&format!(
        "From: a@example.org\nTo: demo@mail.cx\nSubject: latin-1 attachment\nMIME-Version: 1.0\n\
         Content-Type: multipart/mixed; boundary=b\n\n\
         --b\nContent-Type: text/plain\n\nSee the attached file.\n\
         --b\nContent-Type: text/csv; charset=iso-8859-1; name=\"latin.csv\"\n\
         Content-Disposition: attachment; filename=\"latin.csv\"\nContent-Transfer-Encoding: base64\n\n{}\
         --b--\n",
        base64(csv)
    ));
    deliver(server.smtp_addr(), SENDER, &["demo@mail.cx"], &message).await;
    let id = only_message(&client).await.id;
    let full = client.message(id).await.unwrap();
    assert_eq!(full.attachments.len(), 1);
    assert_eq!(full.attachments[0].filename, "latin.csv");
    assert_eq!(
        full.attachments[0].size,
        csv.len() as u64,
        "the size of the attached file"
    );
    let download = client.attachment(id, 0).await.unwrap();
    assert!(
        download.content_type.starts_with("text/csv"),
        "{}",
        download.content_type
    );
    assert_eq!(
        download.bytes, csv,
        "the attached file's own bytes, not a UTF-8 transcoding"
    );
}
