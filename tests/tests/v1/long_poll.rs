//! The long poll: it answers on arrival, 204 after the hold, its cursor never repeats an email,
//! `count`/`limit`/`from`/`subject` shape it, and waiters are bounded per address, per token
//! and on the whole server.

use std::time::Duration;

use mailcx_common::v1::InboxQuery;
use mailcx_tests::mail::{deliver, text_message};
use mailcx_tests::{TestServer, expect_error, expect_json, wait_for};
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::{get, open_address, open_server, open_server_with, poll, send, subjects, v1};

/// Longer than any test waits for an arrival: a waiter that answers does so because of the mail.
const LONG_HOLD: Duration = Duration::from_secs(60);

#[tokio::test]
async fn a_waiting_poll_answers_when_mail_arrives_with_just_that_mail() {
    let server = open_server(LONG_HOLD).await;
    let to = open_address("waiter");
    let client = server.client();
    let waiting = tokio::spawn({
        let (client, to) = (client.clone(), to.clone());
        async move { client.v1_wait(&to, &InboxQuery::default()).await }
    });
    send(&server, &to, "the awaited one").await;
    let list = tokio::time::timeout(Duration::from_secs(20), waiting)
        .await
        .expect("the poll answers once mail is stored")
        .unwrap()
        .unwrap()
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
    let server = open_server(LONG_HOLD).await;
    let to = open_address("shaped");
    let waiting = tokio::spawn({
        let (client, to) = (server.client(), to.clone());
        async move {
            let query = InboxQuery {
                count: Some(3),
                limit: Some(2),
                ..InboxQuery::default()
            };
            client.v1_wait(&to, &query).await
        }
    });
    for n in 1..=3 {
        send(&server, &to, &format!("c{n}")).await;
        if n < 3 {
            // Fewer than `count` do not answer it.
            tokio::time::sleep(Duration::from_millis(20)).await;
            assert!(!waiting.is_finished(), "answered after {n} of 3");
        }
    }
    let list = tokio::time::timeout(Duration::from_secs(20), waiting)
        .await
        .unwrap()
        .unwrap()
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

/// Sends requests until one is refused with `code`; one that is let in instead (the others were
/// not all waiting yet) is dropped after a moment, which gives its slot back.
async fn refused_with(server: &TestServer, path: &str, token: Option<&str>, code: &str) {
    let url = server.endpoint(path);
    let answer = wait_for(code, Duration::from_secs(20), Duration::from_millis(50), || {
        let mut request = server.http().get(&url).timeout(Duration::from_millis(500));
        if let Some(token) = token {
            request = request.header("x-api-token", token);
        }
        async move {
            let response = request.send().await.ok()?;
            (response.status() == StatusCode::TOO_MANY_REQUESTS).then_some(response)
        }
    })
    .await;
    assert!(answer.headers().contains_key("retry-after"));
    expect_error(answer, StatusCode::TOO_MANY_REQUESTS, code).await;
}

#[tokio::test]
async fn more_than_ten_waits_on_one_address_are_addr_busy() {
    let server = open_server(LONG_HOLD).await;
    let to = open_address("crowded");
    let waiters: Vec<_> = (0..10)
        .map(|_| {
            let (client, to) = (server.client(), to.clone());
            tokio::spawn(async move { client.v1_wait(&to, &InboxQuery::default()).await })
        })
        .collect();
    refused_with(&server, &format!("/v1/inbox/{to}"), None, "addr_busy").await;
    // Other addresses are not affected, and the ten still get their mail.
    let other = open_address("calm");
    send(&server, &other, "x").await;
    assert_eq!(poll(&server, &other, "").await.0, StatusCode::OK);
    send(&server, &to, "for all ten").await;
    for waiter in waiters {
        let list = tokio::time::timeout(Duration::from_secs(20), waiter)
            .await
            .unwrap()
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(list.emails[0].subject, "for all ten");
    }
}

#[tokio::test]
async fn a_second_wait_with_one_api_token_is_token_busy() {
    let server = open_server(LONG_HOLD).await;
    let jwt = server.create_pro_user("waiter@example.org").await;
    let minted = server
        .http()
        .post(server.endpoint("/pro/api/tokens"))
        .bearer_auth(&jwt)
        .json(&json!({"name": "poller"}))
        .send()
        .await
        .unwrap();
    let token = expect_json(minted, StatusCode::CREATED).await["token"]
        .as_str()
        .unwrap()
        .to_string();
    let first = open_address("token-a");
    let wait_first = || {
        let request = server
            .http()
            .get(server.endpoint(&format!("/v1/inbox/{first}")))
            .header("x-api-token", &token);
        tokio::spawn(async move { request.send().await })
    };
    let mut waiting = wait_first();
    let probe = server.endpoint(&format!("/v1/inbox/{}", open_address("token-b")));
    // Until the probe is refused: a probe let in first (the other was not waiting yet) holds the
    // token until it is dropped, and the other, refused meanwhile, is sent again.
    let refused = loop {
        if waiting.is_finished() {
            let early = waiting.await.unwrap().unwrap();
            expect_error(early, StatusCode::TOO_MANY_REQUESTS, "token_busy").await;
            waiting = wait_first();
        }
        let attempt = server
            .http()
            .get(&probe)
            .header("x-api-token", &token)
            .timeout(Duration::from_millis(500))
            .send()
            .await;
        if let Ok(response) = attempt {
            break response;
        }
    };
    assert!(refused.headers().contains_key("retry-after"));
    expect_error(refused, StatusCode::TOO_MANY_REQUESTS, "token_busy").await;
    // The waiting one is answered as usual.
    send(&server, &first, "release").await;
    let answered = waiting.await.unwrap().unwrap();
    assert_eq!(answered.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_server_holds_at_most_its_bound_of_waiters() {
    let server = open_server_with(LONG_HOLD, |config| config.long_poll_max_waiters = 3).await;
    let waiters: Vec<_> = (0..3)
        .map(|n| {
            let (client, to) = (server.client(), open_address(&format!("bound{n}")));
            tokio::spawn(async move { client.v1_wait(&to, &InboxQuery::default()).await })
        })
        .collect();
    let path = format!("/v1/inbox/{}", open_address("one-too-many"));
    refused_with(&server, &path, None, "rate_limit_exceeded").await;
    // A poll that can answer at once needs no slot.
    let ready = open_address("ready");
    send(&server, &ready, "here already").await;
    assert_eq!(poll(&server, &ready, "").await.0, StatusCode::OK);
    for waiter in waiters {
        waiter.abort();
    }
}

#[tokio::test]
async fn hundreds_of_waiters_on_distinct_addresses_each_get_their_own_answer() {
    const WAITERS: usize = 300;
    let server = open_server_with(Duration::from_secs(3), |config| {
        config.http_max_connections_per_client = 1024;
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
