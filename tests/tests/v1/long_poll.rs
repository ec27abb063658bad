//! The long poll: it answers on arrival, 204 after the hold, its cursor never repeats an email,
//! `count`/`limit`/`from`/`subject` shape it, and waiters are bounded per address, per token,
//! per client and on the whole server.

use std::time::Duration;

use mailcx_common::ClientError;
use mailcx_common::v1::{EmailList, InboxQuery};
use mailcx_tests::mail::{deliver, text_message};
use mailcx_tests::{TestServer, expect_error, expect_json};
use reqwest::{Method, StatusCode};
use tokio::task::JoinHandle;

use crate::support::{get, open_address, open_server, open_server_with, poll, send, subjects, v1};

/// Longer than any test waits for an arrival: a waiter that answers does so because of the mail.
const LONG_HOLD: Duration = Duration::from_secs(60);

/// A server on which one client may have one wait at a time, so a second wait from the test
/// proves the first one is past its first read and waiting.
async fn one_wait_per_client_server() -> TestServer {
    open_server_with(LONG_HOLD, |config| config.long_poll_max_waiters_per_client = 1).await
}

/// A poll with `query` that is certainly waiting (admitted after its first read found too little),
/// on one of two fresh addresses named after `name`: of two polls from this one client, exactly
/// one is refused, and the other is returned.
async fn waiting_poll(server: &TestServer, name: &str, query: InboxQuery) -> Waiter {
    let two = ["a", "b"]
        .map(|side| Waiter::start_with(server, &open_address(&format!("{name}-{side}")), query.clone()));
    let mut left = one_refused(two.into(), "rate_limit_exceeded").await;
    left.pop().expect("the other poll waits")
}

#[tokio::test]
async fn a_waiting_poll_answers_when_mail_arrives_with_just_that_mail() {
    let server = one_wait_per_client_server().await;
    let waiter = waiting_poll(&server, "waiter", InboxQuery::default()).await;
    send(&server, &waiter.address, "the awaited one").await;
    let list = tokio::time::timeout(Duration::from_secs(20), waiter.answer())
        .await
        .expect("the poll answers once mail is stored")
        .expect("200, not 204");
    assert_eq!(list.emails.len(), 1);
    assert_eq!(list.emails[0].subject, "the awaited one");
    assert_eq!(list.emails[0].from_email, "ann@sender.example");
}

#[tokio::test]
async fn an_empty_inbox_answers_204_after_the_configured_hold() {
    let server = open_server(Duration::from_millis(200)).await;
    let to = open_address("quiet");
    let response = get(&server, &format!("/v1/inbox/{to}")).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(response.bytes().await.unwrap().is_empty());
    let typed = server
        .client()
        .v1_wait(&to, &InboxQuery::default())
        .await
        .unwrap();
    assert_eq!(typed, None);
}

#[tokio::test]
async fn the_cursor_only_ever_returns_strictly_newer_mail() {
    let server = open_server(Duration::from_millis(200)).await;
    let to = open_address("cursor");
    for n in 1..=3 {
        send(&server, &to, &format!("m{n}")).await;
    }
    let first = poll(&server, &to, "").await.1.unwrap();
    assert_eq!(subjects(&first), ["m3", "m2", "m1"], "newest first");
    let since = first["next_since"].as_str().unwrap().to_string();
    assert_eq!(
        poll(&server, &to, &format!("since={since}")).await.0,
        StatusCode::NO_CONTENT
    );
    for n in 4..=5 {
        send(&server, &to, &format!("m{n}")).await;
    }
    let second = poll(&server, &to, &format!("since={since}")).await.1.unwrap();
    assert_eq!(subjects(&second), ["m5", "m4"]);
    let next = second["next_since"].as_str().unwrap().to_string();
    assert_ne!(next, since);
    // The newest is deleted: the next mail still counts as newer than the cursor past it.
    let newest = second["emails"][0]["id"].as_str().unwrap();
    let deleted = v1(&server, Method::DELETE, &format!("/v1/email/{newest}"), None).await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    send(&server, &to, "m6").await;
    let third = poll(&server, &to, &format!("since={next}")).await.1.unwrap();
    assert_eq!(subjects(&third), ["m6"]);
    // Another address's mail never moves this one's answers.
    send(&server, &open_address("neighbour"), "elsewhere").await;
    let last = third["next_since"].as_str().unwrap();
    assert_eq!(
        poll(&server, &to, &format!("since={last}")).await.0,
        StatusCode::NO_CONTENT
    );
}

#[tokio::test]
async fn count_waits_for_enough_mail_and_limit_from_and_subject_shape_the_answer() {
    let server = one_wait_per_client_server().await;
    let query = InboxQuery {
        count: Some(3),
        limit: Some(2),
        ..InboxQuery::default()
    };
    let waiter = waiting_poll(&server, "shaped", query).await;
    let to = waiter.address.clone();
    for n in 1..=3 {
        send(&server, &to, &format!("c{n}")).await;
    }
    // It answers once only: had the first or second arrival answered it, c3 would be missing.
    let list = tokio::time::timeout(Duration::from_secs(20), waiter.answer())
        .await
        .unwrap()
        .unwrap();
    let got: Vec<_> = list.emails.iter().map(|e| e.subject.as_str()).collect();
    assert_eq!(got, ["c3", "c2"], "the newest `limit` of them");

    let other = text_message("Bob <bob@other.example>", &to, "Invoice 7", "pay");
    deliver(server.smtp_addr(), "b@other.example", &[&to], &other).await;
    let by_from = poll(&server, &to, "from=BOB@other").await.1.unwrap();
    assert_eq!(subjects(&by_from), ["Invoice 7"]);
    let by_subject = poll(&server, &to, "subject=c1").await.1.unwrap();
    assert_eq!(subjects(&by_subject), ["c1"]);
    let all = poll(&server, &to, "limit=50").await.1.unwrap();
    assert_eq!(all["emails"].as_array().unwrap().len(), 4);
}

/// A long poll in flight, on its address.
struct Waiter {
    address: String,
    task: JoinHandle<Result<Option<EmailList>, ClientError>>,
}

impl Waiter {
    fn start(server: &TestServer, address: &str) -> Waiter {
        Waiter::start_with(server, address, InboxQuery::default())
    }

    fn start_with(server: &TestServer, address: &str, query: InboxQuery) -> Waiter {
        let (client, to) = (server.client(), address.to_string());
        Waiter {
            address: address.to_string(),
            task: tokio::spawn(async move { client.v1_wait(&to, &query).await }),
        }
    }

    /// Its answer (panics if it failed other than by being refused).
    async fn answer(self) -> Option<EmailList> {
        self.task.await.unwrap().unwrap()
    }
}

/// Waits for the first of `waiters` to finish, which must be a refusal with `code` (none of them
/// gets mail, so only a refusal ends one); returns the others, which all wait then.
async fn one_refused(waiters: Vec<Waiter>, code: &str) -> Vec<Waiter> {
    let (addresses, tasks): (Vec<_>, Vec<_>) = waiters.into_iter().map(|w| (w.address, w.task)).unzip();
    let first = futures_util::future::select_all(tasks);
    let (result, index, rest) = tokio::time::timeout(Duration::from_secs(30), first)
        .await
        .expect("one wait is refused");
    match result.unwrap() {
        Err(ClientError::Api {
            status,
            body,
            retry_after,
        }) => {
            assert_eq!((status, body.error.as_str()), (429, code));
            assert!(retry_after.is_some(), "429 carries Retry-After");
        }
        other => panic!("expected {code}, got {other:?}"),
    }
    let mut addresses = addresses;
    addresses.remove(index);
    addresses
        .into_iter()
        .zip(rest)
        .map(|(address, task)| Waiter { address, task })
        .collect()
}

#[tokio::test]
async fn more_than_ten_waits_on_one_address_are_addr_busy() {
    let server = open_server(LONG_HOLD).await;
    let to = open_address("crowded");
    let eleven: Vec<_> = (0..11).map(|_| Waiter::start(&server, &to)).collect();
    let waiters = one_refused(eleven, "addr_busy").await;
    // Other addresses are not affected, and the ten still get their mail.
    let other = open_address("calm");
    send(&server, &other, "x").await;
    assert_eq!(poll(&server, &other, "").await.0, StatusCode::OK);
    send(&server, &to, "for all ten").await;
    for waiter in waiters {
        let list = tokio::time::timeout(Duration::from_secs(20), waiter.answer())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(list.emails[0].subject, "for all ten");
    }
}

#[tokio::test]
async fn a_second_wait_with_one_api_token_is_token_busy() {
    let server = open_server(LONG_HOLD).await;
    let jwt = server.create_pro_user("waiter@example.org").await;
    let token = server.mint_pro_token(&jwt, "poller").await;
    // Two waits with one token, on two addresses: one is refused, the other waits.
    let addresses = [open_address("token-a"), open_address("token-b")];
    let tasks: Vec<_> = addresses
        .iter()
        .map(|address| {
            let request = server
                .http()
                .get(server.endpoint(&format!("/v1/inbox/{address}")))
                .header("x-api-token", &token);
            tokio::spawn(request.send())
        })
        .collect();
    let first = futures_util::future::select_all(tasks);
    let (refused, index, mut rest) = tokio::time::timeout(Duration::from_secs(30), first)
        .await
        .expect("one wait is refused");
    let refused = refused.unwrap().unwrap();
    assert!(refused.headers().contains_key("retry-after"));
    expect_error(refused, StatusCode::TOO_MANY_REQUESTS, "token_busy").await;
    // The waiting one is answered as usual.
    send(&server, &addresses[1 - index], "release").await;
    let answered = rest.pop().unwrap().await.unwrap().unwrap();
    assert_eq!(answered.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_server_holds_at_most_its_bound_of_waiters() {
    let server = open_server_with(LONG_HOLD, |config| config.long_poll_max_waiters = 3).await;
    let four: Vec<_> = (0..4)
        .map(|n| Waiter::start(&server, &open_address(&format!("bound{n}"))))
        .collect();
    let waiters = one_refused(four, "rate_limit_exceeded").await;
    // A poll that can answer at once needs no slot.
    let ready = open_address("ready");
    send(&server, &ready, "here already").await;
    assert_eq!(poll(&server, &ready, "").await.0, StatusCode::OK);
    for waiter in waiters {
        waiter.task.abort();
    }
}

#[tokio::test]
async fn hundreds_of_waiters_on_distinct_addresses_each_get_their_own_answer() {
    const WAITERS: usize = 300;
    let server = open_server_with(Duration::from_secs(3), |config| {
        config.http_max_connections_per_client = 1024;
        config.long_poll_max_waiters_per_client = 1024;
    })
    .await;
    let waiters: Vec<_> = (0..WAITERS)
        .map(|n| {
            let (client, to) = (server.client(), open_address(&format!("many{n}")));
            tokio::spawn(async move { client.v1_wait(&to, &InboxQuery::default()).await })
        })
        .collect();
    let lucky = 17;
    send(&server, &open_address(&format!("many{lucky}")), "only for 17").await;
    for (n, waiter) in waiters.into_iter().enumerate() {
        let answer = waiter.await.unwrap().unwrap();
        if n == lucky {
            assert_eq!(answer.unwrap().emails[0].subject, "only for 17");
        } else {
            assert_eq!(answer, None, "waiter {n} got someone else's mail");
        }
    }
}

#[tokio::test]
async fn stopping_the_server_answers_waiting_polls_instead_of_holding_it_up() {
    let mut server = open_server(LONG_HOLD).await;
    let to = open_address("at-shutdown");
    let eleven: Vec<_> = (0..11).map(|_| Waiter::start(&server, &to)).collect();
    // One refused: the other ten are all in and waiting.
    let waiters = one_refused(eleven, "addr_busy").await;
    server.stop().await;
    for waiter in waiters {
        assert_eq!(waiter.answer().await, None, "204, not held until the hold ends");
    }
}

#[tokio::test]
async fn a_limit_below_the_new_mail_answers_the_newest_and_its_cursor_skips_the_rest() {
    let server = open_server(Duration::from_millis(200)).await;
    let to = open_address("skipped");
    for n in 1..=5 {
        send(&server, &to, &format!("n{n}")).await;
    }
    let first = poll(&server, &to, "limit=2").await.1.unwrap();
    assert_eq!(subjects(&first), ["n5", "n4"], "newest first, at most `limit`");
    // The cursor is past the newest: n1 to n3 are never answered to it (see the README).
    let since = first["next_since"].as_str().unwrap();
    assert_eq!(
        poll(&server, &to, &format!("since={since}&limit=2")).await.0,
        StatusCode::NO_CONTENT
    );
    send(&server, &to, "n6").await;
    let next = poll(&server, &to, &format!("since={since}")).await.1.unwrap();
    assert_eq!(subjects(&next), ["n6"]);
}

/// A raw wait on `address` from `forwarded` (an `X-Forwarded-For` client), as a task.
fn forwarded_wait(server: &TestServer, address: &str, forwarded: &str) -> JoinHandle<reqwest::Response> {
    let request = server
        .http()
        .get(server.endpoint(&format!("/v1/inbox/{address}")))
        .header("x-forwarded-for", forwarded);
    tokio::spawn(async move { request.send().await.unwrap() })
}

#[tokio::test]
async fn one_client_holds_at_most_its_share_of_waits_and_streams_even_behind_a_proxy() {
    let server = open_server_with(LONG_HOLD, |config| {
        config.long_poll_max_waiters_per_client = 2;
        config.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    let greedy = "198.51.100.7";
    let three: Vec<_> = (0..3)
        .map(|n| forwarded_wait(&server, &open_address(&format!("share{n}")), greedy))
        .collect();
    let first = futures_util::future::select_all(three);
    let (refused, _, waiting) = tokio::time::timeout(Duration::from_secs(30), first)
        .await
        .expect("one wait is refused");
    let refused = refused.unwrap();
    assert!(refused.headers().contains_key("retry-after"));
    expect_error(refused, StatusCode::TOO_MANY_REQUESTS, "rate_limit_exceeded").await;
    // Its event stream needs one of the same slots.
    let stream = server
        .http()
        .get(server.endpoint(&format!("/v1/sse/addr?address={}", open_address("share-sse"))))
        .header("x-forwarded-for", greedy)
        .send()
        .await
        .unwrap();
    expect_error(stream, StatusCode::TOO_MANY_REQUESTS, "rate_limit_exceeded").await;
    // Another client behind the same proxy still gets its wait, which answers its mail.
    let other = open_address("share-other");
    let patient = forwarded_wait(&server, &other, "198.51.100.8");
    send(&server, &other, "for the other client").await;
    let answered = tokio::time::timeout(Duration::from_secs(20), patient)
        .await
        .unwrap()
        .unwrap();
    let list: serde_json::Value = expect_json(answered, StatusCode::OK).await;
    assert_eq!(subjects(&list), ["for the other client"]);
    for task in waiting {
        task.abort();
    }
}
