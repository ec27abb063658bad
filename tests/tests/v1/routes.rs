//! Every `/v1` route with its errors, open retention, quotas and a registered mailbox's precedence.

use std::time::Duration;

use mailcx_tests::mail::{Smtp, base64, crlf, deliver, lettre_code, message_of_size, send_raw, text_message};
use mailcx_tests::{expect_error, expect_json, is_wire_timestamp, keys, wait_for};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{
    CLOSED, OPEN, get, open_address, open_server, open_server_with, poll, send, subjects, v1,
};

const SHORT_HOLD: Duration = Duration::from_millis(300);

fn multipart(to: &str, attachment: &[u8]) -> Vec<u8> {
    crlf(&format!(
        "From: \"Ann Example\" <ann@sender.example>\nTo: {to}\nSubject: Report attached\n\
         MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"b1\"\n\n\
         --b1\nContent-Type: multipart/alternative; boundary=\"b2\"\n\n\
         --b2\nContent-Type: text/plain; charset=utf-8\n\nYour code is 424242.\n\
         --b2\nContent-Type: text/html; charset=utf-8\n\n<p>Your code is <b>424242</b>.</p>\n\
         --b2--\n\
         --b1\nContent-Type: application/pdf; name=\"report.pdf\"\n\
         Content-Disposition: attachment; filename=\"report.pdf\"\nContent-Transfer-Encoding: base64\n\n\
         {}--b1--\n",
        base64(attachment)
    ))
}

#[tokio::test]
async fn config_lists_system_and_open_domains_and_the_open_retention() {
    let server = open_server(SHORT_HOLD).await;
    let config = expect_json(get(&server, "/v1/config").await, StatusCode::OK).await;
    assert_eq!(
        config,
        json!({
            "system_domains": [{"domain": OPEN, "default": true}, {"domain": CLOSED, "default": false}],
            "open_domains": [OPEN],
            "local_part_rules": {"pattern": "^[a-z0-9._+-]{1,64}$", "max_length": 64},
            "retention_seconds": 3600
        })
    );
    let typed = server.client().v1_config().await.unwrap();
    assert_eq!(typed.open_domains, [OPEN]);
}

#[tokio::test]
async fn a_new_inbox_is_a_random_address_on_an_open_domain_and_stores_nothing() {
    let server = open_server(SHORT_HOLD).await;
    let before_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let created = expect_json(
        server.post_json("/v1/inbox", &json!({})).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(keys(&created), ["address", "expires_at"]);
    let address = created["address"].as_str().unwrap();
    assert!(address.ends_with(&format!("@{OPEN}")), "{address}");
    let expires_at = created["expires_at"].as_i64().unwrap();
    assert!(
        expires_at > before_ms + 3_500_000,
        "about an hour ahead, in ms: {expires_at}"
    );
    // No body at all is `{}` too; each address is new.
    let bare = server
        .http()
        .post(server.endpoint("/v1/inbox"))
        .send()
        .await
        .unwrap();
    let other = expect_json(bare, StatusCode::CREATED).await;
    assert_ne!(other["address"], created["address"]);
    let named = server.client().v1_new_inbox(Some(OPEN)).await.unwrap();
    assert!(named.address.ends_with(OPEN));
    let closed = server.post_json("/v1/inbox", &json!({"domain": CLOSED})).await;
    expect_error(closed, StatusCode::BAD_REQUEST, "invalid_address").await;
    let unknown = server
        .post_json("/v1/inbox", &json!({"domain": "elsewhere.example"}))
        .await;
    expect_error(unknown, StatusCode::BAD_REQUEST, "invalid_address").await;
    let ill_typed = server.post_json("/v1/inbox", &json!({"domain": 5})).await;
    expect_error(ill_typed, StatusCode::BAD_REQUEST, "invalid_request").await;
    let garbage = server
        .http()
        .post(server.endpoint("/v1/inbox"))
        .body("{not json")
        .send()
        .await
        .unwrap();
    expect_error(garbage, StatusCode::BAD_REQUEST, "invalid_request").await;
    // Nothing was stored: the new inbox is empty.
    let (status, _) = poll(&server, address, "").await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn an_open_email_is_read_whole_raw_and_by_attachment_then_deleted() {
    let server = open_server(SHORT_HOLD).await;
    let to = open_address("reader+tag");
    let attachment: Vec<u8> = (0..3000u32).map(|i| (i * 7 % 256) as u8).collect();
    let message = multipart(&to, &attachment);
    deliver(server.smtp_addr(), "bounce@sender.example", &[&to], &message).await;

    let (status, list) = poll(&server, &to, "").await;
    assert_eq!(status, StatusCode::OK);
    let list = list.unwrap();
    assert_eq!(keys(&list), ["emails", "next_since"]);
    let entry = &list["emails"][0];
    assert_eq!(
        keys(entry),
        ["created_at", "from_email", "id", "preview_text", "subject"]
    );
    assert_eq!(entry["from_email"], "ann@sender.example");
    assert_eq!(entry["subject"], "Report attached");
    assert_eq!(entry["preview_text"], "Your code is 424242.");
    assert!(is_wire_timestamp(entry["created_at"].as_str().unwrap()));
    let id = entry["id"].as_str().unwrap().to_string();
    let uuid = uuid::Uuid::parse_str(&id).unwrap();
    assert_eq!(uuid.get_version_num(), 7, "time-ordered ids");

    let email = expect_json(get(&server, &format!("/v1/email/{id}")).await, StatusCode::OK).await;
    assert_eq!(
        keys(&email),
        [
            "address",
            "attachments",
            "created_at",
            "from",
            "from_email",
            "headers",
            "html_body",
            "id",
            "size",
            "subject",
            "text_body"
        ]
    );
    assert_eq!(email["address"], to.as_str());
    assert_eq!(email["from"], "Ann Example <ann@sender.example>");
    assert_eq!(email["size"], message.len());
    assert_eq!(email["text_body"], "Your code is 424242.");
    assert!(email["html_body"].as_str().unwrap().contains("<b>424242</b>"));
    assert_eq!(email["headers"]["subject"], "Report attached");
    assert_eq!(
        email["attachments"],
        json!([{"index": 0, "filename": "report.pdf", "content_type": "application/pdf", "size": 3000}])
    );
    let typed = server.client().v1_email(uuid).await.unwrap();
    assert_eq!(typed.attachments.len(), 1);

    let raw = get(&server, &format!("/v1/email/{id}/raw")).await;
    assert_eq!(raw.status(), StatusCode::OK);
    assert_eq!(raw.headers()["content-type"], "message/rfc822");
    assert_eq!(raw.bytes().await.unwrap(), message, "the exact bytes received");
    let file = server.client().v1_attachment(uuid, 0).await.unwrap();
    assert_eq!(file.content_type, "application/pdf");
    assert_eq!(file.filename.as_deref(), Some("report.pdf"));
    assert_eq!(file.bytes, attachment);
    for missing in ["1", "99999999999", "x"] {
        let response = get(&server, &format!("/v1/email/{id}/attachments/{missing}")).await;
        expect_error(response, StatusCode::NOT_FOUND, "not_found").await;
    }

    server.client().v1_delete_email(uuid).await.unwrap();
    for path in [format!("/v1/email/{id}"), format!("/v1/email/{id}/raw")] {
        expect_error(get(&server, &path).await, StatusCode::NOT_FOUND, "not_found").await;
    }
    let again = v1(&server, Method::DELETE, &format!("/v1/email/{id}"), None).await;
    expect_error(again, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(poll(&server, &to, "").await.0, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn deleting_an_inbox_removes_every_email_of_that_address_only() {
    let server = open_server(SHORT_HOLD).await;
    let (a, b) = (open_address("clear-a"), open_address("clear-b"));
    for n in 0..3 {
        send(&server, &a, &format!("a{n}")).await;
    }
    send(&server, &b, "b0").await;
    let response = v1(&server, Method::DELETE, &format!("/v1/inbox/{a}"), None).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(response.text().await.unwrap(), "");
    assert_eq!(poll(&server, &a, "").await.0, StatusCode::NO_CONTENT);
    assert_eq!(subjects(&poll(&server, &b, "").await.1.unwrap()), ["b0"]);
    // Clearing an empty inbox is fine; clearing one on a closed domain is not.
    server.client().v1_clear_inbox(&a).await.unwrap();
    let closed = v1(&server, Method::DELETE, &format!("/v1/inbox/x@{CLOSED}"), None).await;
    expect_error(closed, StatusCode::BAD_REQUEST, "invalid_address").await;
}

#[tokio::test]
async fn bad_addresses_ids_cursors_and_methods_get_their_error_codes() {
    let server = open_server(SHORT_HOLD).await;
    let huge = format!("{}@{OPEN}", "a".repeat(10_000));
    let long_local = format!("{}@{OPEN}", "a".repeat(65));
    for address in [
        "no-at-sign",
        "@open.test",
        "a@closed.test",
        "a@elsewhere.example",
        "a%20b@open.test",
        "a..b@open.test",
        "%FF%FE@open.test",
        &long_local,
        &huge,
    ] {
        let response = get(&server, &format!("/v1/inbox/{address}")).await;
        expect_error(response, StatusCode::BAD_REQUEST, "invalid_address").await;
    }
    let sse = get(&server, &format!("/v1/sse/addr?address={huge}")).await;
    expect_error(sse, StatusCode::BAD_REQUEST, "invalid_address").await;
    let address = open_address("errors");
    for query in [
        "since=abc",
        "since=-1",
        "since=1e3",
        "count=0",
        "count=51",
        "limit=0",
        "limit=1000",
        "count=x",
        "since=1&since=2",
    ] {
        let response = get(&server, &format!("/v1/inbox/{address}?{query}")).await;
        expect_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
    }
    let long_filter = format!("/v1/inbox/{address}?subject={}", "s".repeat(300));
    expect_error(
        get(&server, &long_filter).await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
    )
    .await;
    let unknown = uuid::Uuid::now_v7();
    for path in [
        format!("/v1/email/{unknown}"),
        format!("/v1/email/{unknown}/raw"),
        format!("/v1/email/{unknown}/attachments/0"),
        "/v1/email/not-a-uuid".to_string(),
        "/v1/nothing-here".to_string(),
    ] {
        expect_error(get(&server, &path).await, StatusCode::NOT_FOUND, "not_found").await;
    }
    let wrong = v1(&server, Method::PUT, "/v1/config", None).await;
    expect_error(wrong, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;
    let no_address = get(&server, "/v1/sse/addr").await;
    expect_error(no_address, StatusCode::BAD_REQUEST, "invalid_request").await;
}

#[tokio::test]
async fn an_api_token_must_be_a_live_pro_token_and_lifts_the_rate_limit() {
    let server = open_server_with(SHORT_HOLD, |config| config.rate_limit = 1).await;
    for token in [
        "tm_live_from_mail_cx",
        "tm_pro_doesnotexist0000000000000000000",
        "",
    ] {
        let response = v1(&server, Method::GET, "/v1/config", Some(token)).await;
        expect_error(response, StatusCode::UNAUTHORIZED, "invalid_token").await;
    }
    // A Pro token, made before the IP's bucket runs dry (signing in counts against it).
    let jwt = server.create_pro_user("owner@example.org").await;
    let token = server.mint_pro_token(&jwt, "v1").await;
    // Anonymous: burst 16 per IP, then 429 with Retry-After.
    let mut limited = None;
    for _ in 0..40 {
        let response = get(&server, "/v1/config").await;
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(response);
            break;
        }
    }
    let limited = limited.expect("the per-IP limit applies to /v1");
    let retry_after: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after >= 1);
    expect_error(limited, StatusCode::TOO_MANY_REQUESTS, "rate_limit_exceeded").await;
    // A Pro token counts against its user's own bucket (burst 40), wherever it comes from.
    for n in 0..30 {
        let response = v1(&server, Method::GET, "/v1/config", Some(&token)).await;
        assert_eq!(response.status(), StatusCode::OK, "request {n} with a Pro token");
    }
    // A Pro JWT is not an API token.
    let response = v1(&server, Method::GET, "/v1/config", Some(&jwt)).await;
    expect_error(response, StatusCode::UNAUTHORIZED, "invalid_token").await;
}

#[tokio::test]
async fn a_registered_mailbox_keeps_its_mail_and_is_never_readable_through_v1() {
    let server = open_server(SHORT_HOLD).await;
    let (_, mailbox) = server.create_mailbox("demo").await;
    let own = open_address("demo");
    let tagged = open_address("demo+news");
    let stranger = open_address("nobody+news");
    send(&server, &own, "to the mailbox").await;
    send(&server, &tagged, "to a tag of the mailbox").await;
    send(&server, &stranger, "to an open inbox").await;

    let messages = mailbox.messages(1).await.unwrap().messages;
    assert_eq!(
        messages.len(),
        2,
        "plain and plus-addressed mail go to the mailbox"
    );
    for address in [&own, &tagged] {
        assert_eq!(
            poll(&server, address, "").await.0,
            StatusCode::NO_CONTENT,
            "{address}"
        );
    }
    for message in &messages {
        let path = format!("/v1/email/{}", message.id);
        expect_error(get(&server, &path).await, StatusCode::NOT_FOUND, "not_found").await;
    }
    let open = poll(&server, &stranger, "").await.1.unwrap();
    assert_eq!(subjects(&open), ["to an open inbox"]);
    // And the open inbox's mail is not the mailbox's.
    let id = open["emails"][0]["id"].as_str().unwrap();
    let through_api = server.get(&format!("/api/messages/{id}"), mailbox.token()).await;
    expect_error(through_api, StatusCode::NOT_FOUND, "not_found").await;
    // A closed domain still takes mail only for its mailboxes.
    let closed = format!("nobody@{CLOSED}");
    let refused = send_raw(
        server.smtp_addr(),
        "a@b.example",
        &[&closed],
        &crlf("Subject: x\n\nx"),
    )
    .await;
    assert_eq!(lettre_code(&refused.unwrap_err()).as_deref(), Some("550"));
}

#[tokio::test]
async fn an_open_inbox_holds_a_free_mailboxs_quota_per_address() {
    let server = open_server_with(SHORT_HOLD, |config| config.quota = 3000).await;
    let (full, other) = (open_address("full"), open_address("other"));
    let message = message_of_size("a@b.example", &full, "big", 2000);
    deliver(server.smtp_addr(), "a@b.example", &[&full], &message).await;
    let refused = send_raw(server.smtp_addr(), "a@b.example", &[&full], &message).await;
    assert_eq!(lettre_code(&refused.unwrap_err()).as_deref(), Some("552"));
    deliver(server.smtp_addr(), "a@b.example", &[&other], &message).await;
    // Deleting gives the room back.
    server.client().v1_clear_inbox(&full).await.unwrap();
    deliver(server.smtp_addr(), "a@b.example", &[&full], &message).await;
}

#[tokio::test]
async fn open_retention_sweeps_mail_and_its_ids_answer_email_expired() {
    let server = open_server_with(SHORT_HOLD, |config| {
        config.open_retention = Duration::from_secs(1);
    })
    .await;
    let (_, mailbox) = server.create_mailbox("keeper").await;
    let to = open_address("brief");
    // The id from the 250 itself: a poll after it could already find the email gone (expiry is
    // in whole seconds, so "1 s" can be over within milliseconds).
    let mut smtp = Smtp::open(server.smtp_addr()).await;
    let message = text_message("a@sender.example", &to, "short-lived", "x");
    let stored = smtp.transaction("a@sender.example", &[&to], &message).await;
    stored.assert_code(250);
    let id = stored.text().rsplit(' ').next().unwrap().to_string();
    send(&server, &open_address("keeper"), "kept by the mailbox").await;
    let path = format!("/v1/email/{id}");
    wait_for(
        "the open email to expire",
        Duration::from_secs(10),
        Duration::from_millis(100),
        || async { (get(&server, &path).await.status() == StatusCode::GONE).then_some(()) },
    )
    .await;
    expect_error(get(&server, &path).await, StatusCode::GONE, "email_expired").await;
    let raw = get(&server, &format!("{path}/raw")).await;
    expect_error(raw, StatusCode::GONE, "email_expired").await;
    let delete = v1(&server, Method::DELETE, &path, None).await;
    expect_error(delete, StatusCode::GONE, "email_expired").await;
    assert_eq!(poll(&server, &to, "").await.0, StatusCode::NO_CONTENT);
    // Swept, not just hidden: the row goes and its id is remembered for the 410.
    wait_for(
        "the sweep",
        Duration::from_secs(10),
        Duration::from_millis(100),
        || {
            let db = server.db_path();
            async move {
                let counts = tokio::task::spawn_blocking(move || {
                    let conn = rusqlite::Connection::open(db).unwrap();
                    let count = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap();
                    (
                        count("SELECT COUNT(*) FROM open_messages"),
                        count("SELECT COUNT(*) FROM open_expired"),
                    )
                })
                .await
                .unwrap();
                (counts == (0, 1)).then_some(())
            }
        },
    )
    .await;
    expect_error(get(&server, &path).await, StatusCode::GONE, "email_expired").await;
    // The mailbox's mail keeps its own, longer retention.
    assert_eq!(mailbox.messages(1).await.unwrap().messages.len(), 1);
}

/// Every error on `/v1` is the one JSON shape, whatever the route.
#[tokio::test]
async fn v1_errors_are_json_everywhere() {
    let server = open_server(SHORT_HOLD).await;
    let body: Value = get(&server, "/v1/email/x/attachments/y")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(keys(&body), ["error", "message"]);
}

/// Open emails (`open_messages` rows) stored for `address`, read from the database itself.
async fn stored_open(server: &mailcx_tests::TestServer, address: &str) -> i64 {
    let (db, address) = (server.db_path(), address.to_string());
    tokio::task::spawn_blocking(move || {
        let conn = rusqlite::Connection::open(db).unwrap();
        let sql = "SELECT COUNT(*) FROM open_messages WHERE address = ?1";
        conn.query_row(sql, [address], |r| r.get::<_, i64>(0)).unwrap()
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn a_mailbox_made_between_rcpt_and_the_end_of_data_gets_no_open_copy() {
    let server = open_server(SHORT_HOLD).await;
    // Alone: RCPT chose the open inbox, the commit finds a mailbox, and nothing is delivered.
    let late = open_address("late");
    let mut smtp = Smtp::open(server.smtp_addr()).await;
    smtp.expect("MAIL FROM:<a@sender.example>", 250).await;
    smtp.expect(&format!("RCPT TO:<{late}>"), 250).await;
    let (_, mailbox) = server.create_mailbox("late").await;
    let message = text_message("a@sender.example", &late, "too late", "x");
    smtp.data(&message).await.assert_code(550);
    assert_eq!(stored_open(&server, &late).await, 0);
    assert!(mailbox.messages(1).await.unwrap().messages.is_empty());
    // Beside another open recipient, through plus-addressing: only the other one gets it.
    let (tagged, other) = (open_address("later+news"), open_address("unclaimed"));
    smtp.expect("MAIL FROM:<a@sender.example>", 250).await;
    smtp.expect(&format!("RCPT TO:<{tagged}>"), 250).await;
    smtp.expect(&format!("RCPT TO:<{other}>"), 250).await;
    server.create_mailbox("later").await;
    let message = text_message("a@sender.example", &other, "for the unclaimed", "x");
    smtp.data(&message).await.assert_code(250);
    assert_eq!(stored_open(&server, &tagged).await, 0);
    let list = poll(&server, &other, "").await.1.unwrap();
    assert_eq!(subjects(&list), ["for the unclaimed"]);
}

/// Sends `request` on a new connection and reads one response: its status and JSON body.
async fn exchange(server: &mailcx_tests::TestServer, request: &[u8]) -> (u16, Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(server.running().http_addr)
        .await
        .unwrap();
    stream.write_all(request).await.unwrap();
    let mut got = Vec::new();
    let read_one = async {
        let mut buf = [0u8; 4096];
        loop {
            let text = String::from_utf8_lossy(&got).to_string();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let length = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().to_string())
                    })
                    .and_then(|v| v.parse::<usize>().ok())
                    .unwrap_or(0);
                if body.len() >= length {
                    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
                    return (status, serde_json::from_str(&body[..length]).unwrap());
                }
            }
            let n = stream.read(&mut buf).await.unwrap();
            assert!(n > 0, "closed before a whole response: {text}");
            got.extend_from_slice(&buf[..n]);
        }
    };
    tokio::time::timeout(Duration::from_secs(15), read_one)
        .await
        .expect("an answer in time")
}

#[tokio::test]
async fn a_new_inbox_body_that_is_too_large_or_never_arrives_is_answered_at_once() {
    let server = open_server_with(SHORT_HOLD, |config| {
        config.http_body_timeout = Duration::from_millis(300);
    })
    .await;
    // Declared over the limit: 413 before any of it is read.
    let (status, body) = exchange(
        &server,
        b"POST /v1/inbox HTTP/1.1\r\nhost: x\r\ncontent-length: 1000000000\r\n\r\n",
    )
    .await;
    assert_eq!((status, body["error"].as_str()), (413, Some("payload_too_large")));
    // Declared 50, one byte sent: an error once the body deadline passes.
    let (status, body) = exchange(
        &server,
        b"POST /v1/inbox HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 50\r\n\r\n{",
    )
    .await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_request")));
    assert!(
        body["message"].as_str().unwrap().contains("did not arrive"),
        "{body}"
    );
}

#[tokio::test]
async fn raw_and_attachment_downloads_are_read_as_taken_and_break_off_when_the_email_goes() {
    const MIB: usize = 1024 * 1024;
    let server = open_server_with(SHORT_HOLD, |config| {
        config.max_message_size = 16 * MIB;
        config.quota = 64 * MIB as u64;
    })
    .await;
    let to = open_address("large");
    // Far more than the sockets between server and client hold while the client reads nothing.
    let attachment: Vec<u8> = (0..8 * MIB as u32).map(|i| (i % 251) as u8).collect();
    let message = multipart(&to, &attachment);
    deliver(server.smtp_addr(), "a@sender.example", &[&to], &message).await;
    let id = poll(&server, &to, "").await.1.unwrap()["emails"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut downloads = Vec::new();
    for path in [
        format!("/v1/email/{id}/raw"),
        format!("/v1/email/{id}/attachments/0"),
    ] {
        let mut response = get(&server, &path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let size: usize = response.headers()["content-length"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        let first = response.chunk().await.unwrap().expect("a first piece");
        downloads.push((path, response, size, first.len()));
    }
    assert_eq!(downloads[0].2, message.len());
    assert_eq!(downloads[1].2, attachment.len());
    let deleted = v1(&server, Method::DELETE, &format!("/v1/email/{id}"), None).await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    for (path, response, size, first) in downloads {
        // What was not sent before the delete is never sent: the body breaks off short.
        if let Ok(rest) = response.bytes().await {
            assert!(first + rest.len() < size, "{path} was sent whole");
        }
    }
    // A whole download of a live one still matches byte for byte.
    deliver(server.smtp_addr(), "a@sender.example", &[&to], &message).await;
    let id = poll(&server, &to, "").await.1.unwrap()["emails"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let raw = get(&server, &format!("/v1/email/{id}/raw"))
        .await
        .bytes()
        .await
        .unwrap();
    assert!(raw == message, "the raw bytes as received");
    let file = get(&server, &format!("/v1/email/{id}/attachments/0"))
        .await
        .bytes()
        .await
        .unwrap();
    assert!(file == attachment, "the attachment decoded");
}

#[tokio::test]
async fn a_server_with_open_domains_refuses_a_hold_its_idle_timeout_would_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = mailcx_server::Config::ephemeral(dir.path().join("mailcx.db"));
    config.domains = vec![OPEN.into()];
    config.open_domains = vec![OPEN.into()];
    config.long_poll_hold = Duration::from_secs(60);
    config.http_idle_timeout = Duration::from_secs(60);
    let refused = mailcx_server::Server::start(config.clone())
        .await
        .err()
        .expect("refused");
    let message = refused.to_string();
    assert!(
        message.contains("--long-poll-hold") && message.contains("--http-idle-timeout"),
        "{message}"
    );
    // A retention so long it would overflow the expiry times is refused too.
    config.long_poll_hold = Duration::from_secs(25);
    config.open_retention = Duration::from_secs(u64::MAX);
    let refused = mailcx_server::Server::start(config.clone())
        .await
        .err()
        .expect("refused");
    assert!(refused.to_string().contains("--open-retention"), "{refused}");
    config.open_retention = Duration::from_secs(3600);
    mailcx_server::Server::start(config)
        .await
        .unwrap()
        .shutdown()
        .await;
}
