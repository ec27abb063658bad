//! Attacks on the SMTP receiver, over real TCP: addresses the API and SMTP disagreed on, client
//! bytes echoed in replies, absurd SIZE=, dot-stuffed long lines, and clients that hold on to a
//! connection by never reading, by talking without sending mail, or by never leaving. Each test
//! shows the attack is refused and that the server goes on serving others.

use std::time::Duration;

use mailcx_common::Client;
use mailcx_tests::mail::{Smtp, data_payload, deliver, text_message};
use mailcx_tests::{PASSWORD, TestServer, expect_error, wait_for};
use reqwest::StatusCode;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpSocket;
use tokio::time::Instant;

const FROM: &str = "sender@example.org";

/// The messages on page 1 of a mailbox.
async fn count(client: &Client) -> usize {
    client.messages(1).await.expect("the list").messages.len()
}

/// Leading, trailing and doubled dots in the local part: the API used to create such mailboxes
/// (201) that SMTP could never deliver to. One rule, in `common`, now refuses them on both sides.
#[tokio::test]
async fn addresses_with_stray_dots_are_refused_by_the_api_and_by_rcpt_alike() {
    let server = TestServer::start().await;
    let dotted = [
        "a..b@mail.cx",
        ".x@mail.cx",
        "x.@mail.cx",
        "..@mail.cx",
        ".@mail.cx",
    ];
    for address in dotted {
        let body = json!({"address": address, "password": PASSWORD});
        let message = expect_error(
            server.post_json("/api/accounts", &body).await,
            StatusCode::BAD_REQUEST,
            "invalid_address",
        )
        .await;
        assert!(message.contains("dot"), "{address}: {message}");
    }

    let mut smtp = Smtp::open(server.smtp_addr()).await;
    smtp.expect(&format!("MAIL FROM:<{FROM}>"), 250).await;
    for address in dotted {
        let reply = smtp.command(&format!("RCPT TO:<{address}>")).await;
        assert_eq!(reply.code / 100, 5, "RCPT {address}: {reply:?}");
    }

    // An ordinary address with dots in the middle works end to end, whatever its letter case.
    let (_, client) = server.create_mailbox("first.middle.last").await;
    let message = text_message(FROM, "first.middle.last@mail.cx", "dots", "Hello");
    deliver(server.smtp_addr(), FROM, &["First.Middle.Last@mail.cx"], &message).await;
    smtp.expect("RCPT TO:<first.middle.last@MAIL.CX>", 250).await;
    smtp.data(&message).await.assert_code(250);
    assert_eq!(count(&client).await, 2);
}

/// Replies used to echo the client's bytes (an unsupported MAIL FROM parameter): NULs, escape
/// sequences, DEL and invalid UTF-8 went back as sent, at any length. Echoed text is now
/// printable ASCII only and short, and the conversation stays in step.
#[tokio::test]
async fn replies_echo_only_printable_ascii_and_little_of_it() {
    let server = TestServer::start().await;
    let mut smtp = Smtp::open(server.smtp_addr()).await;
    let mut line = format!("MAIL FROM:<{FROM}> X").into_bytes();
    line.extend_from_slice(b"\x00\x01\x1b[2J\x07\x7f\xff\xfe\xc3\xa9=");
    line.extend(std::iter::repeat_n(b'v', 900));
    line.extend_from_slice(b"\r\nNOOP\r\n");
    smtp.write(&line).await;
    let reply = smtp.reply().await;
    assert_eq!(reply.code / 100, 5, "{reply:?}");
    let text = reply.text();
    assert!(text.starts_with("5.5.4 "), "{text:?}");
    assert!(text.contains('X'), "the parameter is still named: {text:?}");
    assert!(
        text.chars().all(|c| c == ' ' || c.is_ascii_graphic()),
        "unprintable bytes echoed: {text:?}"
    );
    assert!(text.len() <= 120, "{} characters echoed: {text:?}", text.len());
    // The next command gets its own reply: nothing in the echo split or merged replies.
    smtp.reply().await.assert_status(250, "2.0.0");
    smtp.expect(&format!("MAIL FROM:<{FROM}>"), 250).await;
}

/// smtp-proto wraps a SIZE past usize round to a small number, so a 23-digit SIZE was accepted.
/// A SIZE that is not RFC 1870's 1 to 20 digits is a syntax error; a number over the limit,
/// however large, is still 552.
#[tokio::test]
async fn an_absurd_size_is_a_syntax_error_and_a_huge_one_is_over_the_limit() {
    let server = TestServer::start_with(|c| c.max_message_size = 10_000).await;
    let mut smtp = Smtp::open(server.smtp_addr()).await;
    for absurd in [
        "99999999999999999999999",
        "100000000000000000000000000000000000000000010",
    ] {
        smtp.command(&format!("MAIL FROM:<{FROM}> SIZE={absurd}"))
            .await
            .assert_status(501, "5.5.4");
    }
    // 20 digits: well-formed, past u64, and simply too big.
    for huge in ["99999999999999999999", "18446744073709551616", "10001"] {
        smtp.command(&format!("MAIL FROM:<{FROM}> size={huge} BODY=8BITMIME"))
            .await
            .assert_status(552, "5.3.4");
    }
    for junk in ["", "12a", "-1", "+5", "0x10"] {
        let reply = smtp.command(&format!("MAIL FROM:<{FROM}> SIZE={junk}")).await;
        assert_eq!(reply.code, 501, "SIZE={junk}: {reply:?}");
    }
    // Nothing was accepted on the way: a sane SIZE still opens a transaction.
    smtp.expect(&format!("MAIL FROM:<{FROM}> SIZE=00000000000000010000"), 250)
        .await;
}

/// A line of 998 characters starting with `.` is 1,000 octets with its CRLF, within RFC 5321's
/// limit, but 1,001 once dot-stuffed, and was refused. The limit counts the line as the message
/// holds it; a line really too long, stuffed or not, is still refused.
#[tokio::test]
async fn the_line_limit_counts_a_dot_stuffed_line_without_its_stuffing() {
    let server = TestServer::start().await;
    let (_, demo) = server.create_mailbox("demo").await;
    let mut smtp = Smtp::open(server.smtp_addr()).await;

    let longest = format!(".{}", "d".repeat(997));
    let body = format!("before\n{longest}\n..{}\nafter", "e".repeat(996));
    let message = text_message(FROM, "demo@mail.cx", "dotted longest line", &body);
    let payload = data_payload(&message);
    assert!(
        payload
            .windows(1001)
            .any(|w| w.starts_with(b"..") && w.ends_with(b"\r\n")),
        "the dotted line goes out as 1,001 octets"
    );
    smtp.transaction(FROM, &["demo@mail.cx"], &message)
        .await
        .assert_code(250);
    let list = demo.messages(1).await.unwrap().messages;
    assert_eq!(list.len(), 1);
    let stored = demo.source(list[0].id).await.unwrap().bytes;
    assert!(stored == message, "the source differs from what was sent");

    // 999 characters: 1,001 octets as the message holds them, stuffed (1,002) or not.
    for line in [format!(".{}", "f".repeat(998)), "g".repeat(999)] {
        let body = format!("before\n{line}\nafter");
        let message = text_message(FROM, "demo@mail.cx", "too long", &body);
        smtp.expect(&format!("MAIL FROM:<{FROM}>"), 250).await;
        smtp.expect("RCPT TO:<demo@mail.cx>", 250).await;
        smtp.data(&message).await.assert_status(500, "5.5.2");
    }
    assert_eq!(count(&demo).await, 1);
    smtp.expect("NOOP", 250).await;
}

/// A client that pipelines NOOPs and never reads its replies used to hold its connection slot
/// forever: the server's writes waited without a deadline. A write that cannot progress for the
/// idle timeout now ends the session, and the slot comes back.
#[tokio::test]
async fn a_client_that_never_reads_replies_is_cut_off_and_its_slot_comes_back() {
    let server = TestServer::start_with(|c| {
        c.smtp_idle_timeout = Duration::from_secs(1);
        c.smtp_max_connections_per_client = 1;
        // Only the write deadline may end this session.
        c.smtp_max_commands = u32::MAX;
    })
    .await;
    let addr = server.smtp_addr();
    let socket = TcpSocket::new_v4().expect("a socket");
    // A small receive window, so the server's replies back up soon.
    socket.set_recv_buffer_size(4096).expect("a receive buffer size");
    let mut hog = socket.connect(addr).await.expect("connecting");
    let mut greeting = [0u8; 3];
    hog.read_exact(&mut greeting).await.expect("the greeting");
    assert_eq!(&greeting, b"220");

    // The hog holds the client's only slot.
    let mut turned_away = Smtp::connect(addr).await;
    turned_away.reply().await.assert_status(421, "4.3.2");

    let started = Instant::now();
    let flood = tokio::spawn(async move {
        let chunk = b"NOOP\r\n".repeat(10_000);
        let mut written = 0usize;
        loop {
            match hog.write_all(&chunk).await {
                Ok(()) => written += chunk.len(),
                Err(e) => return (written, e),
            }
        }
    });
    let (written, error) = tokio::time::timeout(Duration::from_secs(20), flood)
        .await
        .expect("the server never cut off a client that does not read its replies")
        .expect("the flood task");
    assert!(
        written >= 1 << 20,
        "only {written} bytes were written before {error}"
    );
    let cut_off = started.elapsed();

    let mut fresh = wait_for(
        "the slot to come back",
        Duration::from_secs(10),
        Duration::from_millis(50),
        || async {
            let mut smtp = Smtp::connect(addr).await;
            (smtp.reply().await.code == 220).then_some(smtp)
        },
    )
    .await;
    fresh.expect("EHLO fresh.example", 250).await;
    fresh.expect("NOOP", 250).await;
    eprintln!("{written} bytes of NOOP written; cut off after {cut_off:?} ({error})");
}

/// Commands without a message are budgeted: a client may not talk forever without sending mail.
/// Each accepted message renews the allowance, so a kept connection can send any number.
#[tokio::test]
async fn a_session_has_a_command_budget_that_each_accepted_message_renews() {
    let server = TestServer::start_with(|c| c.smtp_max_commands = 20).await;
    let (_, demo) = server.create_mailbox("demo").await;
    let addr = server.smtp_addr();

    // 1 + 12 × 3 commands on one connection, well past 20: each message renews the allowance.
    let mut keeper = Smtp::open(addr).await;
    for i in 0..12 {
        let message = text_message(FROM, "demo@mail.cx", &format!("kept {i}"), "Hi");
        keeper
            .transaction(FROM, &["demo@mail.cx"], &message)
            .await
            .assert_code(250);
    }

    // EHLO and 19 pipelined NOOPs use up the allowance; the 21st command is refused and the
    // connection closed.
    let mut chatter = Smtp::open(addr).await;
    chatter.write("NOOP\r\n".repeat(19).as_bytes()).await;
    for _ in 0..19 {
        chatter.reply().await.assert_status(250, "2.0.0");
    }
    chatter.command("NOOP").await.assert_status(421, "4.7.0");
    chatter.closed().await;

    // After its last message the kept connection has a whole allowance again, and no more.
    for _ in 0..20 {
        keeper.expect("NOOP", 250).await;
    }
    keeper.command("NOOP").await.assert_status(421, "4.7.0");
    keeper.closed().await;
    assert_eq!(count(&demo).await, 12);
}

/// A session ends after its lifetime, busy or silent, with 421 4.7.0.
#[tokio::test]
async fn a_session_ends_after_its_lifetime_however_busy() {
    let lifetime = Duration::from_millis(1500);
    let server = TestServer::start_with(|c| c.smtp_session_lifetime = lifetime).await;
    let addr = server.smtp_addr();

    let started = Instant::now();
    let mut busy = Smtp::open(addr).await;
    let last = loop {
        let reply = busy.command("NOOP").await;
        if reply.code != 250 {
            break reply;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "a busy session outlived its lifetime"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    last.assert_status(421, "4.7.0");
    assert!(started.elapsed() >= lifetime, "{:?}", started.elapsed());
    busy.closed().await;

    // A silent session ends at its lifetime too, long before the 60 s idle timeout.
    let started = Instant::now();
    let mut silent = Smtp::connect(addr).await;
    silent.reply().await.assert_code(220);
    silent.reply().await.assert_status(421, "4.7.0");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    silent.closed().await;

    Smtp::open(addr).await.expect("NOOP", 250).await;
}
