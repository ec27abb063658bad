//! The SMTP receiver at the protocol level, over real TCP: the EHLO extensions, recipients, size
//! and quota limits, line and recipient limits, idle and connection limits, RSET, junk input and
//! pipelining. Every refusal is checked for its reply code and enhanced status code, and for what
//! it left in the mailboxes (nothing).

use std::time::Duration;

use mailcx_common::Client;
use mailcx_tests::mail::{
    Reply, Smtp, data_payload, deliver, lettre_code, message_of_size, send_raw, text_message,
};
use mailcx_tests::{TestServer, wait_for};

const FROM: &str = "sender@example.org";

/// The messages on page 1 of a mailbox.
async fn count(client: &Client) -> usize {
    client.messages(1).await.expect("the list").messages.len()
}

async fn used(client: &Client) -> u64 {
    client.me().await.expect("me").used
}

/// The EHLO keywords (every line after the first), upper-cased.
fn keywords(ehlo: &Reply) -> Vec<String> {
    ehlo.lines[1..].iter().map(|l| l.to_ascii_uppercase()).collect()
}

#[tokio::test]
async fn ehlo_advertises_size_8bitmime_pipelining_smtputf8_and_enhanced_status_codes() {
    let server = TestServer::start_with(|c| c.max_message_size = 123_456).await;
    let mut smtp = Smtp::connect(server.smtp_addr()).await;
    let greeting = smtp.reply().await;
    greeting.assert_code(220);

    let ehlo = smtp.command("EHLO client.example").await;
    ehlo.assert_code(250);
    let advertised = keywords(&ehlo);
    for wanted in [
        "SIZE 123456",
        "8BITMIME",
        "PIPELINING",
        "SMTPUTF8",
        "ENHANCEDSTATUSCODES",
    ] {
        assert!(
            advertised.iter().any(|k| k == wanted),
            "EHLO lacks {wanted}: {ehlo:?}"
        );
    }
    // HELO works too, NOOP answers, QUIT says goodbye and closes.
    smtp.expect("HELO client.example", 250).await;
    smtp.expect("NOOP", 250).await;
    smtp.expect("QUIT", 221).await;
    assert!(smtp.closed().await.is_empty());

    // The default limit is the documented 10 MiB.
    let default = TestServer::start().await;
    let (_, ehlo) = Smtp::open_with_ehlo(default.smtp_addr()).await;
    assert!(keywords(&ehlo).contains(&"SIZE 10485760".to_string()), "{ehlo:?}");
}

#[tokio::test]
async fn unknown_and_foreign_recipients_get_550_5_1_1() {
    let server = TestServer::start().await;
    let (_, demo) = server.create_mailbox("demo").await;
    let mut smtp = Smtp::open(server.smtp_addr()).await;
    smtp.expect(&format!("MAIL FROM:<{FROM}>"), 250).await;
    for refused in [
        "nobody@mail.cx",
        "demo@example.org",
        "demo@mail.cx.example.org",
        "demo@sub.mail.cx",
        "demo",
    ] {
        let reply = smtp.command(&format!("RCPT TO:<{refused}>")).await;
        assert!(reply.code >= 500, "RCPT {refused}: {reply:?}");
        if refused.contains('@') {
            reply.assert_status(550, "5.1.1");
        }
    }
    // Nothing accepted yet: DATA is refused.
    assert_eq!(smtp.command("DATA").await.code / 100, 5);
    smtp.expect("RCPT TO:<demo@mail.cx>", 250).await;
    let message = text_message(FROM, "demo@mail.cx", "after refusals", "Hello");
    smtp.data(&message).await.assert_code(250);
    assert_eq!(count(&demo).await, 1);

    // lettre sees the same refusal as a permanent error.
    let error = send_raw(server.smtp_addr(), FROM, &["nobody@mail.cx"], &message)
        .await
        .unwrap_err();
    assert_eq!(lettre_code(&error).as_deref(), Some("550"), "{error}");
    assert!(error.is_permanent());
    assert_eq!(count(&demo).await, 1);
}

#[tokio::test]
async fn recipient_matching_ignores_letter_case() {
    let server = TestServer::start().await;
    let (_, demo) = server.create_mailbox("demo").await;
    let message = text_message(FROM, "DeMo@Mail.CX", "mixed case", "Hello");
    deliver(server.smtp_addr(), FROM, &["DeMo@Mail.CX"], &message).await;

    let mut smtp = Smtp::open(server.smtp_addr()).await;
    let second = text_message(FROM, "DEMO@MAIL.CX", "upper case", "Hello");
    smtp.transaction(FROM, &["DEMO@MAIL.CX"], &second)
        .await
        .assert_code(250);

    let list = demo.messages(1).await.unwrap().messages;
    let subjects: Vec<&str> = list.iter().map(|m| m.subject.as_str()).collect();
    assert_eq!(subjects, ["upper case", "mixed case"]);
    let full = demo.message(list[0].id).await.unwrap();
    assert_eq!(full.address, "demo@mail.cx");
}

#[tokio::test]
async fn a_declared_size_over_the_limit_is_refused_at_mail_from() {
    let server = TestServer::start_with(|c| c.max_message_size = 10_000).await;
    server.create_mailbox("demo").await;
    let (mut smtp, ehlo) = Smtp::open_with_ehlo(server.smtp_addr()).await;
    assert!(keywords(&ehlo).contains(&"SIZE 10000".to_string()), "{ehlo:?}");

    smtp.command(&format!("MAIL FROM:<{FROM}> SIZE=10001"))
        .await
        .assert_status(552, "5.3.4");
    smtp.command(&format!("MAIL FROM:<{FROM}> SIZE=999999999"))
        .await
        .assert_status(552, "5.3.4");
    // At the limit it is fine, and the transaction goes through.
    smtp.expect(&format!("MAIL FROM:<{FROM}> SIZE=10000"), 250).await;
    smtp.expect("RCPT TO:<demo@mail.cx>", 250).await;
    let message = text_message(FROM, "demo@mail.cx", "declared", "Hello");
    smtp.data(&message).await.assert_code(250);
}

#[tokio::test]
async fn an_oversize_message_without_size_is_refused_after_data_and_not_stored() {
    let server = TestServer::start_with(|c| c.max_message_size = 10_000).await;
    let (_, demo) = server.create_mailbox("demo").await;
    let mut smtp = Smtp::open(server.smtp_addr()).await;

    for size in [10_001, 25_000] {
        let big = message_of_size(FROM, "demo@mail.cx", "too big", size);
        smtp.expect(&format!("MAIL FROM:<{FROM}>"), 250).await;
        smtp.expect("RCPT TO:<demo@mail.cx>", 250).await;
        smtp.data(&big).await.assert_status(552, "5.3.4");
        assert_eq!(count(&demo).await, 0, "a refused message is not stored");
        assert_eq!(used(&demo).await, 0);
    }

    // The same connection goes on, and a message of exactly the limit is taken whole.
    let exact = message_of_size(FROM, "demo@mail.cx", "exactly the limit", 10_000);
    smtp.transaction(FROM, &["demo@mail.cx"], &exact)
        .await
        .assert_code(250);
    let list = demo.messages(1).await.unwrap().messages;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].size, 10_000);
    assert_eq!(used(&demo).await, 10_000);
    assert_eq!(demo.source(list[0].id).await.unwrap().bytes, exact);
}

#[tokio::test]
async fn a_full_mailbox_refuses_at_rcpt_while_others_still_receive() {
    let server = TestServer::start_with(|c| c.quota = 4096).await;
    let (_, full) = server.create_mailbox("full").await;
    let (_, other) = server.create_mailbox("other").await;
    let addr = server.smtp_addr();

    // Fill `full` to the byte.
    let filler = message_of_size(FROM, "full@mail.cx", "filler", 4096);
    deliver(addr, FROM, &["full@mail.cx"], &filler).await;
    assert_eq!(used(&full).await, 4096);
    let more = text_message(FROM, "full@mail.cx", "one more", "Hi");
    let error = send_raw(addr, FROM, &["full@mail.cx"], &more).await.unwrap_err();
    assert_eq!(lettre_code(&error).as_deref(), Some("552"), "{error}");

    // One transaction for both: the full one is refused, the other gets the message.
    let mut smtp = Smtp::open(addr).await;
    smtp.expect(&format!("MAIL FROM:<{FROM}>"), 250).await;
    smtp.command("RCPT TO:<full@mail.cx>")
        .await
        .assert_status(552, "5.2.2");
    smtp.expect("RCPT TO:<other@mail.cx>", 250).await;
    let shared = text_message(FROM, "full@mail.cx, other@mail.cx", "shared", "For both");
    smtp.data(&shared).await.assert_code(250);
    assert_eq!(
        count(&full).await,
        1,
        "the full mailbox still holds only the filler"
    );
    assert_eq!(used(&full).await, 4096);
    let got = other.messages(1).await.unwrap().messages;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].subject, "shared");
    let other_used = used(&other).await;
    assert_eq!(other_used, shared.len() as u64);

    // A declared size that would not fit is refused at RCPT too.
    smtp.expect(&format!("MAIL FROM:<{FROM}> SIZE=4000"), 250).await;
    smtp.command("RCPT TO:<other@mail.cx>")
        .await
        .assert_status(552, "5.2.2");
    smtp.expect("RSET", 250).await;

    // Without SIZE the recipient is accepted, and the message that does not fit is refused
    // after DATA, storing nothing.
    let too_much = message_of_size(FROM, "other@mail.cx", "does not fit", 4096);
    smtp.expect(&format!("MAIL FROM:<{FROM}>"), 250).await;
    smtp.expect("RCPT TO:<other@mail.cx>", 250).await;
    smtp.data(&too_much).await.assert_status(552, "5.2.2");
    assert_eq!(count(&other).await, 1);
    assert_eq!(used(&other).await, other_used);
}

/// Pins today's behaviour: the 250 covers both recipients though only one copy was stored (no
/// bounce is sent for the other); an all-or-nothing answer may be preferable.
#[tokio::test]
async fn a_message_that_fits_one_recipient_but_not_another_is_stored_for_neither() {
    let server = TestServer::start_with(|c| c.quota = 4096).await;
    let (_, late) = server.create_mailbox("late").await;
    let (_, roomy) = server.create_mailbox("roomy").await;
    let addr = server.smtp_addr();
    deliver(
        addr,
        FROM,
        &["late@mail.cx"],
        &message_of_size(FROM, "late@mail.cx", "first", 3000),
    )
    .await;

    let mut smtp = Smtp::open(addr).await;
    let second = message_of_size(FROM, "late@mail.cx", "second", 2000);
    // Without SIZE both RCPTs pass; at DATA the real size no longer fits "late". A 250 would
    // promise a copy to both, so nothing is stored and the sender is told 552.
    smtp.transaction(FROM, &["late@mail.cx", "roomy@mail.cx"], &second)
        .await
        .assert_status(552, "5.2.2");
    assert_eq!(count(&late).await, 1);
    assert_eq!(used(&late).await, 3000);
    assert_eq!(count(&roomy).await, 0);
    assert_eq!(used(&roomy).await, 0);
    // The same message to the mailbox with room alone goes through.
    smtp.transaction(FROM, &["roomy@mail.cx"], &second)
        .await
        .assert_code(250);
    assert_eq!(count(&roomy).await, 1);
    assert_eq!(used(&roomy).await, 2000);
}

#[tokio::test]
async fn the_recipient_limit_answers_452_4_5_3() {
    let server = TestServer::start_with(|c| c.max_recipients = 3).await;
    let mut clients = Vec::new();
    for local in ["r1", "r2", "r3", "r4"] {
        clients.push(server.create_mailbox(local).await.1);
    }
    let mut smtp = Smtp::open(server.smtp_addr()).await;
    smtp.expect(&format!("MAIL FROM:<{FROM}>"), 250).await;
    for local in ["r1", "r2", "r3"] {
        smtp.expect(&format!("RCPT TO:<{local}@mail.cx>"), 250).await;
    }
    smtp.command("RCPT TO:<r4@mail.cx>")
        .await
        .assert_status(452, "4.5.3");
    let message = text_message(FROM, "r1@mail.cx", "three of four", "Hi");
    smtp.data(&message).await.assert_code(250);
    let counts = [
        count(&clients[0]).await,
        count(&clients[1]).await,
        count(&clients[2]).await,
        count(&clients[3]).await,
    ];
    assert_eq!(counts, [1, 1, 1, 0]);

    // The limit is per message: the next transaction may name r4.
    smtp.transaction(FROM, &["r4@mail.cx"], &message)
        .await
        .assert_code(250);
    assert_eq!(count(&clients[3]).await, 1);
}

#[tokio::test]
async fn an_over_long_line_in_data_is_refused_and_the_server_goes_on() {
    let server = TestServer::start().await;
    let (_, demo) = server.create_mailbox("demo").await;
    let addr = server.smtp_addr();
    let mut smtp = Smtp::open(addr).await;

    // 999 characters and CRLF: 1001 octets, one more than RFC 5321 allows.
    for length in [999, 5000, 200_000] {
        let body = format!("before\n{}\nafter", "y".repeat(length));
        let message = text_message(FROM, "demo@mail.cx", "long line", &body);
        smtp.expect(&format!("MAIL FROM:<{FROM}>"), 250).await;
        smtp.expect("RCPT TO:<demo@mail.cx>", 250).await;
        let reply = smtp.data(&message).await;
        assert!((500..600).contains(&reply.code), "{length}: {reply:?}");
        assert_eq!(count(&demo).await, 0);
        assert_eq!(used(&demo).await, 0);
        smtp.expect("NOOP", 250).await;
    }

    // A line of exactly 1000 octets with its CRLF is fine, and comes back as sent.
    let body = format!("before\n{}\nafter", "z".repeat(998));
    let longest = text_message(FROM, "demo@mail.cx", "longest line", &body);
    smtp.transaction(FROM, &["demo@mail.cx"], &longest)
        .await
        .assert_code(250);
    let list = demo.messages(1).await.unwrap().messages;
    assert_eq!(list.len(), 1);
    assert_eq!(demo.source(list[0].id).await.unwrap().bytes, longest);

    // And a new connection is served normally.
    let next = text_message(FROM, "demo@mail.cx", "next", "Hi");
    deliver(addr, FROM, &["demo@mail.cx"], &next).await;
    assert_eq!(count(&demo).await, 2);
}

#[tokio::test]
async fn an_over_long_command_line_gets_500() {
    let server = TestServer::start().await;
    let (_, demo) = server.create_mailbox("demo").await;
    let mut smtp = Smtp::open(server.smtp_addr()).await;
    let long_noop = format!("NOOP {}", "x".repeat(2000));
    smtp.command(&long_noop).await.assert_code(500);
    let long_from = format!("MAIL FROM:<{}@example.org>", "a".repeat(1200));
    smtp.command(&long_from).await.assert_code(500);
    let huge = format!("EHLO {}", "h".repeat(100_000));
    smtp.command(&huge).await.assert_code(500);
    // The connection is still usable, and the long MAIL FROM left no transaction behind.
    smtp.expect("NOOP", 250).await;
    smtp.expect(&format!("MAIL FROM:<{FROM}>"), 250).await;
    smtp.expect("RCPT TO:<demo@mail.cx>", 250).await;
    let message = text_message(FROM, "demo@mail.cx", "after long commands", "Hi");
    smtp.data(&message).await.assert_code(250);
    assert_eq!(count(&demo).await, 1);
}

#[tokio::test]
async fn an_idle_client_gets_421_and_is_disconnected() {
    let server = TestServer::start_with(|c| c.smtp_idle_timeout = Duration::from_secs(1)).await;
    let (_, demo) = server.create_mailbox("demo").await;

    // The three clients sit out the idle timeout side by side rather than one after another.
    // Silent from the start.
    let silent = async {
        let mut silent = Smtp::connect(server.smtp_addr()).await;
        silent.reply().await.assert_code(220);
        silent.reply().await.assert_status(421, "4.4.2");
        silent.closed().await;
    };

    // Silent in the middle of a transaction, and in the middle of DATA.
    let midway = async {
        let mut midway = Smtp::open(server.smtp_addr()).await;
        midway.expect(&format!("MAIL FROM:<{FROM}>"), 250).await;
        midway.reply().await.assert_code(421);
        midway.closed().await;
    };

    let in_data = async {
        let mut in_data = Smtp::open(server.smtp_addr()).await;
        in_data.expect(&format!("MAIL FROM:<{FROM}>"), 250).await;
        in_data.expect("RCPT TO:<demo@mail.cx>", 250).await;
        in_data.expect("DATA", 354).await;
        in_data.write(b"Subject: half\r\n\r\nhalf a mes").await;
        in_data.reply().await.assert_code(421);
        in_data.closed().await;
    };
    tokio::join!(silent, midway, in_data);
    assert_eq!(count(&demo).await, 0, "half a message is never stored");

    // A client that keeps talking is served.
    let mut busy = Smtp::open(server.smtp_addr()).await;
    busy.expect("NOOP", 250).await;
}

#[tokio::test]
async fn connections_over_the_limit_get_421() {
    let server = TestServer::start_with(|c| c.smtp_max_connections = 2).await;
    let addr = server.smtp_addr();
    let mut first = Smtp::connect(addr).await;
    first.reply().await.assert_code(220);
    let mut second = Smtp::connect(addr).await;
    second.reply().await.assert_code(220);

    let mut third = Smtp::connect(addr).await;
    third.reply().await.assert_code(421);
    third.closed().await;

    // Once one leaves, a new connection is admitted (when the server has noticed).
    first.expect("QUIT", 221).await;
    first.closed().await;
    let mut admitted = wait_for(
        "a connection slot to free up",
        Duration::from_secs(20),
        Duration::from_millis(50),
        move || async move {
            let mut smtp = Smtp::connect(addr).await;
            let greeting = smtp.try_reply().await?;
            (greeting.code == 220).then_some(smtp)
        },
    )
    .await;
    admitted.expect("EHLO client.example", 250).await;
    second.expect("NOOP", 250).await;

    // Two are open again: a third is turned away again.
    let mut refused = Smtp::connect(addr).await;
    refused.reply().await.assert_code(421);
}

#[tokio::test]
async fn rset_clears_the_transaction() {
    let server = TestServer::start().await;
    let (_, one) = server.create_mailbox("one").await;
    let (_, two) = server.create_mailbox("two").await;
    let mut smtp = Smtp::open(server.smtp_addr()).await;

    smtp.expect(&format!("MAIL FROM:<{FROM}>"), 250).await;
    smtp.expect("RCPT TO:<one@mail.cx>", 250).await;
    smtp.command("RSET").await.assert_status(250, "2.0.0");
    // No sender, no recipients any more.
    smtp.expect("DATA", 503).await;
    smtp.expect("RCPT TO:<two@mail.cx>", 503).await;
    // A new sender is accepted (not "sender already given"), and only the new recipient counts.
    smtp.expect("MAIL FROM:<other@example.org>", 250).await;
    smtp.expect("RCPT TO:<two@mail.cx>", 250).await;
    let message = text_message("other@example.org", "two@mail.cx", "after rset", "Hi");
    smtp.data(&message).await.assert_code(250);

    assert_eq!(count(&one).await, 0);
    let got = two.messages(1).await.unwrap().messages;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].sender, "other@example.org");
}

/// A deterministic stream of junk bytes (xorshift).
fn junk(len: usize, mut seed: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as u8
        })
        .collect()
}

#[tokio::test]
async fn garbage_and_broken_clients_do_not_hurt_the_server() {
    let server = TestServer::start().await;
    let (_, demo) = server.create_mailbox("demo").await;
    let addr = server.smtp_addr();

    // Binary junk with and without line breaks, without even reading the greeting.
    for (i, len) in [10usize, 4096, 300_000].into_iter().enumerate() {
        let mut smtp = Smtp::connect(addr).await;
        smtp.try_write(&junk(len, 0x9e37_79b9_7f4a_7c15 + i as u64)).await;
        drop(smtp);
    }

    // Junk lines and commands out of order each get a 5xx, and the session goes on.
    let mut smtp = Smtp::open(addr).await;
    let lines: [&[u8]; 6] = [
        b"\x00\x01\x02\x03\r\n",
        b"\xff\xfe\xfd MAIL FROM:<\xff@\x00>\r\n",
        b"RCPT TO:<>\r\n",
        b"MAIL FROM:<no-brackets\r\n",
        b"\x1b[31mred\x1b[0m\r\n",
        b"DATA DATA DATA\r\n",
    ];
    for line in lines {
        smtp.write(line).await;
        let reply = smtp.reply().await;
        assert!(reply.code >= 500, "{line:?} must be refused: {reply:?}");
    }
    smtp.expect("NOOP", 250).await;

    // Unparseable lines in a row end the session with 421.
    let mut replies = Vec::new();
    for i in 0..100u64 {
        let mut line = junk(40, 7 + i);
        line.retain(|&b| b != b'\n' && b != b'\r');
        line.extend_from_slice(b"\r\n");
        if !smtp.try_write(&line).await {
            break;
        }
        match smtp.try_reply().await {
            Some(reply) if reply.code == 421 => {
                replies.push(reply);
                break;
            }
            Some(reply) => replies.push(reply),
            None => break,
        }
    }
    let (last, before) = replies.split_last().expect("some replies");
    assert!(
        before.iter().all(|r| r.code >= 500),
        "junk must be refused: {before:?}"
    );
    assert_eq!(last.code, 421, "too many errors end the session: {replies:?}");
    smtp.closed().await;

    // A client that leaves in the middle of a line, and one that leaves in the middle of DATA.
    let mut half_line = Smtp::open(addr).await;
    half_line.write(b"MAIL FROM:<half").await;
    drop(half_line);
    let mut half_data = Smtp::open(addr).await;
    half_data.expect(&format!("MAIL FROM:<{FROM}>"), 250).await;
    half_data.expect("RCPT TO:<demo@mail.cx>", 250).await;
    half_data.expect("DATA", 354).await;
    half_data
        .write(b"Subject: never finished\r\n\r\nsome text\r\n")
        .await;
    drop(half_data);

    // The server answers the next client normally, and nothing half-sent was stored.
    let message = text_message(FROM, "demo@mail.cx", "after the junk", "Hi");
    deliver(addr, FROM, &["demo@mail.cx"], &message).await;
    let list = demo.messages(1).await.unwrap().messages;
    let subjects: Vec<&str> = list.iter().map(|m| m.subject.as_str()).collect();
    assert_eq!(subjects, ["after the junk"]);
}

#[tokio::test]
async fn pipelined_commands_get_their_replies_in_order() {
    let server = TestServer::start().await;
    let (_, demo) = server.create_mailbox("demo").await;
    let (_, demo2) = server.create_mailbox("demo2").await;
    let (mut smtp, ehlo) = Smtp::open_with_ehlo(server.smtp_addr()).await;
    assert!(keywords(&ehlo).contains(&"PIPELINING".to_string()));

    smtp.write(
        format!(
            "MAIL FROM:<{FROM}>\r\nRCPT TO:<demo@mail.cx>\r\nRCPT TO:<nobody@mail.cx>\r\n\
             RCPT TO:<demo2@mail.cx>\r\nDATA\r\n"
        )
        .as_bytes(),
    )
    .await;
    let codes = [
        smtp.reply().await.code,
        smtp.reply().await.code,
        smtp.reply().await.code,
        smtp.reply().await.code,
        smtp.reply().await.code,
    ];
    assert_eq!(codes, [250, 250, 550, 250, 354]);

    // The message, then a whole second transaction, in one write.
    let first = text_message(FROM, "demo@mail.cx", "pipelined one", ".starts with a dot\n..two");
    let second = text_message(FROM, "demo@mail.cx", "pipelined two", "Second");
    let mut batch = data_payload(&first);
    batch.extend_from_slice(format!("MAIL FROM:<{FROM}>\r\nRCPT TO:<demo@mail.cx>\r\nDATA\r\n").as_bytes());
    smtp.write(&batch).await;
    let codes = [
        smtp.reply().await.code,
        smtp.reply().await.code,
        smtp.reply().await.code,
        smtp.reply().await.code,
    ];
    assert_eq!(codes, [250, 250, 250, 354]);
    let mut batch = data_payload(&second);
    batch.extend_from_slice(b"NOOP\r\nQUIT\r\n");
    smtp.write(&batch).await;
    let codes = [
        smtp.reply().await.code,
        smtp.reply().await.code,
        smtp.reply().await.code,
    ];
    assert_eq!(codes, [250, 250, 221]);
    smtp.closed().await;

    let list = demo.messages(1).await.unwrap().messages;
    let subjects: Vec<&str> = list.iter().map(|m| m.subject.as_str()).collect();
    assert_eq!(subjects, ["pipelined two", "pipelined one"]);
    assert_eq!(demo.source(list[1].id).await.unwrap().bytes, first);
    assert_eq!(demo.source(list[0].id).await.unwrap().bytes, second);
    let other = demo2.messages(1).await.unwrap().messages;
    assert_eq!(other.len(), 1);
    assert_eq!(demo2.source(other[0].id).await.unwrap().bytes, first);
}

#[tokio::test]
async fn the_null_sender_and_a_utf8_sender_are_accepted_and_listed_as_given() {
    let server = TestServer::start().await;
    let (_, demo) = server.create_mailbox("demo").await;
    let mut smtp = Smtp::open(server.smtp_addr()).await;
    // Bounces come from the null reverse-path; RFC 5321 says it must be accepted.
    smtp.expect("MAIL FROM:<>", 250).await;
    smtp.expect("RCPT TO:<demo@mail.cx>", 250).await;
    let bounce = text_message(
        "MAILER-DAEMON@example.org",
        "demo@mail.cx",
        "bounce",
        "Undeliverable",
    );
    smtp.data(&bounce).await.assert_code(250);
    // An internationalised sender with SMTPUTF8.
    smtp.expect("MAIL FROM:<jürgen@exämple.org> SMTPUTF8", 250).await;
    smtp.expect("RCPT TO:<demo@mail.cx>", 250).await;
    let utf8 = text_message("jürgen@exämple.org", "demo@mail.cx", "utf8 sender", "Hallo");
    smtp.data(&utf8).await.assert_code(250);

    let list = demo.messages(1).await.unwrap().messages;
    assert_eq!(list.len(), 2);
    assert_eq!(list[0].subject, "utf8 sender");
    assert_eq!(list[0].sender, "jürgen@exämple.org");
    assert_eq!(list[1].subject, "bounce");
    assert_eq!(list[1].sender, "");
}

#[tokio::test]
async fn a_recipient_named_twice_gets_one_copy() {
    let server = TestServer::start().await;
    let (_, demo) = server.create_mailbox("demo").await;
    let mut smtp = Smtp::open(server.smtp_addr()).await;
    let message = text_message(FROM, "demo@mail.cx", "once", "Hi");
    smtp.transaction(FROM, &["demo@mail.cx", "DEMO@mail.cx", "demo@MAIL.CX"], &message)
        .await
        .assert_code(250);
    assert_eq!(count(&demo).await, 1);
    assert_eq!(used(&demo).await, message.len() as u64);
}

#[tokio::test]
async fn a_mailbox_deleted_between_rcpt_and_data_gets_nothing() {
    let server = TestServer::start().await;
    let (_, doomed) = server.create_mailbox("doomed").await;
    let mut smtp = Smtp::open(server.smtp_addr()).await;
    smtp.expect(&format!("MAIL FROM:<{FROM}>"), 250).await;
    smtp.expect("RCPT TO:<doomed@mail.cx>", 250).await;
    doomed.delete_account().await.unwrap();
    let message = text_message(FROM, "doomed@mail.cx", "too late", "Hi");
    let reply = smtp.data(&message).await;
    assert_eq!(reply.code / 100, 5, "nothing could be stored: {reply:?}");
    // The address is free and empty.
    let (_, again) = server.create_mailbox("doomed").await;
    assert_eq!(count(&again).await, 0);
    assert_eq!(used(&again).await, 0);
}

#[tokio::test]
async fn concurrent_deliveries_never_push_a_mailbox_over_its_quota() {
    let server = TestServer::start_with(|c| c.quota = 10_000).await;
    let (_, demo) = server.create_mailbox("demo").await;
    let addr = server.smtp_addr();
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            tokio::spawn(async move {
                let message = message_of_size(FROM, "demo@mail.cx", &format!("racer {i}"), 3000);
                let mut smtp = Smtp::open(addr).await;
                smtp.expect(&format!("MAIL FROM:<{FROM}>"), 250).await;
                match smtp.command("RCPT TO:<demo@mail.cx>").await.code {
                    250 => smtp.data(&message).await.code,
                    code => code,
                }
            })
        })
        .collect();
    let mut stored = 0;
    for task in tasks {
        match task.await.unwrap() {
            250 => stored += 1,
            552 => {}
            other => panic!("unexpected reply {other}"),
        }
    }
    assert_eq!(stored, 3, "exactly three 3000-byte messages fit in 10000 bytes");
    assert_eq!(count(&demo).await, 3);
    assert_eq!(used(&demo).await, 9000);

    // Deleting one makes room again.
    let first = demo.messages(1).await.unwrap().messages[0].id;
    demo.delete_message(first).await.unwrap();
    let again = message_of_size(FROM, "demo@mail.cx", "room again", 3000);
    deliver(addr, FROM, &["demo@mail.cx"], &again).await;
    assert_eq!(used(&demo).await, 9000);
}

#[tokio::test]
async fn only_crlf_dot_crlf_ends_data_so_nothing_can_be_smuggled_after_a_bare_lf() {
    let server = TestServer::start().await;
    let (_, demo) = server.create_mailbox("smuggle").await;
    let (_, victim) = server.create_mailbox("victim").await;
    let mut smtp = Smtp::open(server.smtp_addr()).await;
    smtp.expect(&format!("MAIL FROM:<{FROM}>"), 250).await;
    smtp.expect("RCPT TO:<smuggle@mail.cx>", 250).await;
    smtp.expect("DATA", 354).await;
    // A lenient relay may pass "<LF>.<CRLF>" through: here it must not end the data, so the
    // "commands" after it are text of this one message.
    let smuggled = "Subject: outer\r\n\r\nhello\n.\r\nMAIL FROM:<forged@example.org>\r\n\
                    RCPT TO:<victim@mail.cx>\r\nDATA\r\nSubject: smuggled\r\n\r\nevil\r\n.\r\n";
    smtp.write(smuggled.as_bytes()).await;
    smtp.reply().await.assert_code(250);
    smtp.expect("QUIT", 221).await;

    assert_eq!(count(&victim).await, 0, "a smuggled message was delivered");
    let list = demo.messages(1).await.expect("the list");
    assert_eq!(list.messages.len(), 1);
    let source = demo.source(list.messages[0].id).await.expect("the source").bytes;
    let expected = b"Subject: outer\r\n\r\nhello\n.\r\nMAIL FROM:<forged@example.org>\r\n\
                     RCPT TO:<victim@mail.cx>\r\nDATA\r\nSubject: smuggled\r\n\r\nevil\r\n";
    assert_eq!(
        String::from_utf8_lossy(&source),
        String::from_utf8_lossy(expected)
    );
}

#[tokio::test]
async fn one_client_cannot_take_every_connection() {
    let server = TestServer::start_with(|c| {
        c.smtp_max_connections = 10;
        c.smtp_max_connections_per_client = 2;
    })
    .await;
    let addr = server.smtp_addr();
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut smtp = Smtp::connect(addr).await;
        smtp.reply().await.assert_code(220);
        held.push(smtp);
    }
    let mut third = Smtp::connect(addr).await;
    third.reply().await.assert_status(421, "4.3.2");
    third.closed().await;

    // Another client is still served.
    let mut other = Smtp::connect_from(std::net::Ipv4Addr::new(127, 0, 0, 2), addr).await;
    other.reply().await.assert_code(220);
    other.expect("EHLO other.example", 250).await;
}

/// RCPT answers from what it remembers of each address; a mailbox made or deleted meanwhile,
/// and mail that leaves a mailbox short of room, must show in the very next answer.
#[tokio::test]
async fn rcpt_answers_follow_mailboxes_made_deleted_and_filled() {
    let server = TestServer::start_with(|c| {
        c.quota = 20_000;
        c.max_message_size = 4_000;
    })
    .await;
    let mut smtp = Smtp::open(server.smtp_addr()).await;
    smtp.expect(&format!("MAIL FROM:<{FROM}>"), 250).await;
    smtp.command("RCPT TO:<late@mail.cx>")
        .await
        .assert_status(550, "5.1.1");
    let (_, late) = server.create_mailbox("late").await;
    smtp.expect("RCPT TO:<late@mail.cx>", 250).await;
    smtp.expect("RSET", 250).await;
    late.delete_account().await.unwrap();
    smtp.expect(&format!("MAIL FROM:<{FROM}>"), 250).await;
    smtp.command("RCPT TO:<late@mail.cx>")
        .await
        .assert_status(550, "5.1.1");
    smtp.expect("RSET", 250).await;

    // Six messages of 3,000 bytes leave 2,000 of 20,000: less than a message may need.
    let (_, filling) = server.create_mailbox("filling").await;
    for i in 0..6 {
        let message = message_of_size(FROM, "filling@mail.cx", &format!("part {i}"), 3_000);
        smtp.expect(&format!("MAIL FROM:<{FROM}> SIZE=3000"), 250).await;
        smtp.expect("RCPT TO:<filling@mail.cx>", 250).await;
        smtp.data(&message).await.assert_code(250);
    }
    assert_eq!(used(&filling).await, 18_000);
    smtp.expect(&format!("MAIL FROM:<{FROM}> SIZE=3000"), 250).await;
    smtp.command("RCPT TO:<filling@mail.cx>")
        .await
        .assert_status(552, "5.2.2");
    smtp.expect("RSET", 250).await;
    // Room made again shows at once too.
    filling.delete_all_messages().await.unwrap();
    smtp.expect(&format!("MAIL FROM:<{FROM}> SIZE=3000"), 250).await;
    smtp.expect("RCPT TO:<filling@mail.cx>", 250).await;
}
