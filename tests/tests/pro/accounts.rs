//! A Pro user's mailboxes: `POST /api/accounts` with a Pro credential (owned, role `pro`, the Pro
//! quota, the user's mailbox limit instead of the per-IP one), listing, deleting, resetting a
//! password (older tokens die on the next request), reading a mailbox's messages, and the Pro
//! WebSocket that hears every mailbox of its user.

use std::time::Duration;

use futures_util::future::join_all;
use mailcx_common::ErrorCode;
use mailcx_server::config::UserCommand;
use mailcx_tests::dns::DnsServer;
use mailcx_tests::mail::{deliver, text_message};
use mailcx_tests::{PASSWORD, TestServer, expect_error, expect_json, is_wire_timestamp, keys};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::tokens::{call, mint};

const SENDER: &str = "pro-sender@example.org";
/// Far longer than anything should take; only a stall reaches it.
const DEADLINE: Duration = Duration::from_secs(30);

/// `POST /api/accounts` for `local@<first domain>` with `credential` as the Bearer value, raw.
async fn create_with(server: &TestServer, credential: &str, local: &str) -> reqwest::Response {
    let body = json!({"address": server.address(local), "password": PASSWORD});
    call(server, Method::POST, "/api/accounts", credential, Some(body)).await
}

/// Creates `local@<first domain>` owned by the holder of `credential`; returns `{id,address,token}`.
async fn create_owned(server: &TestServer, credential: &str, local: &str) -> Value {
    expect_json(create_with(server, credential, local).await, StatusCode::CREATED).await
}

/// `GET /api/me` with a mailbox token, as JSON.
async fn me(server: &TestServer, token: &str) -> Value {
    expect_json(server.get("/api/me", Some(token)).await, StatusCode::OK).await
}

/// The ids listed on page `page` of `GET /pro/api/accounts`, in order.
async fn listed_ids(server: &TestServer, credential: &str, page: u32) -> Vec<String> {
    let path = format!("/pro/api/accounts?page={page}");
    let list = expect_json(
        call(server, Method::GET, &path, credential, None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(keys(&list), ["accounts", "page"]);
    assert_eq!(list["page"], page);
    list["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_string())
        .collect()
}

/// Sets a Pro user's mailbox limit as the operator would.
async fn limit_mailboxes(server: &TestServer, email: &str, mailboxes: u32) {
    let db = server.db_path();
    let command = UserCommand::Limits {
        email: email.into(),
        mailboxes: Some(mailboxes),
        domains: None,
        tokens: None,
    };
    tokio::task::spawn_blocking(move || mailcx_server::admin::run(&db, &command))
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn a_pro_credential_creates_an_owned_pro_mailbox_and_lists_it() {
    let server = TestServer::start().await;
    let jwt = server.create_pro_user("owner@example.com").await;
    let (_, secret) = mint(&server, &jwt, "ci").await;

    let first = create_owned(&server, &jwt, "first").await;
    assert_eq!(keys(&first), ["address", "id", "token"]);
    let second = create_owned(&server, &secret, "second").await;
    for created in [&first, &second] {
        let me = me(&server, created["token"].as_str().unwrap()).await;
        assert_eq!(me["role"], "pro", "{me}");
        assert_eq!(me["quota"], 52_428_800);
    }
    // An anonymous mailbox beside them is a free one and nobody's.
    let (anonymous, _) = server.create_mailbox("anon").await;
    let anon_me = me(&server, &anonymous.token).await;
    assert_eq!(anon_me["role"], "user");
    assert_eq!(anon_me["quota"], 41_943_040);

    let list = expect_json(
        call(&server, Method::GET, "/pro/api/accounts", &secret, None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(list["page"], 1, "page 1 without ?page");
    let accounts = list["accounts"].as_array().unwrap();
    assert_eq!(accounts.len(), 2, "{list}");
    // Newest first.
    assert_eq!(accounts[0]["id"], second["id"]);
    assert_eq!(accounts[1]["id"], first["id"]);
    let listed = &accounts[0];
    // The contract's fields, and the mail counts `/api/me` has too (extension).
    assert_eq!(
        keys(listed),
        [
            "address",
            "created_at",
            "id",
            "messages",
            "quota",
            "unread",
            "used"
        ]
    );
    assert_eq!(
        (listed["messages"].as_u64(), listed["unread"].as_u64()),
        (Some(0), Some(0))
    );
    assert_eq!(listed["address"], server.address("second"));
    assert_eq!(listed["quota"], 52_428_800);
    assert_eq!(listed["used"], 0);
    assert!(
        is_wire_timestamp(listed["created_at"].as_str().unwrap()),
        "{listed}"
    );

    // Mail counts in `used` as it does in /api/me.
    let message = text_message(SENDER, &server.address("first"), "hello", "Body");
    deliver(server.smtp_addr(), SENDER, &[&server.address("first")], &message).await;
    let list = expect_json(
        call(&server, Method::GET, "/pro/api/accounts", &jwt, None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(list["accounts"][1]["used"], message.len());
    assert_eq!(list["accounts"][1]["messages"], 1);
    assert_eq!(list["accounts"][1]["unread"], 1, "counted exactly, by the store");
}

#[tokio::test]
async fn a_pro_token_that_does_not_verify_is_401_and_other_authorization_is_ignored() {
    let server = TestServer::start().await;
    let jwt = server.create_pro_user("owner@example.com").await;
    let (token_id, secret) = mint(&server, &jwt, "soon revoked").await;
    let response = call(
        &server,
        Method::DELETE,
        &format!("/pro/api/tokens/{token_id}"),
        &jwt,
        None,
    )
    .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    for (credential, local) in [
        (secret.as_str(), "revoked"),
        ("tm_pro_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "unknown"),
        ("tm_pro_", "empty"),
    ] {
        let response = create_with(&server, credential, local).await;
        expect_error(response, StatusCode::UNAUTHORIZED, "invalid_token").await;
    }
    // A mailbox's own JWT, or anything else that is no Pro credential, makes an anonymous mailbox.
    let (mailbox, _) = server.create_mailbox("plain").await;
    for (credential, local) in [(mailbox.token.as_str(), "by-jwt"), ("garbage", "by-garbage")] {
        let created = create_owned(&server, credential, local).await;
        let me = me(&server, created["token"].as_str().unwrap()).await;
        assert_eq!(me["role"], "user", "{credential}: {me}");
    }
    assert_eq!(listed_ids(&server, &jwt, 1).await, Vec::<String>::new());
    // No Authorization at all: the ordinary anonymous path.
    let body = json!({"address": server.address("no-auth"), "password": PASSWORD});
    expect_json(
        server.post_json("/api/accounts", &body).await,
        StatusCode::CREATED,
    )
    .await;
}

#[tokio::test]
async fn pro_creations_are_not_counted_by_the_per_ip_limit() {
    let server = TestServer::start_with(|config| config.accounts_per_hour = 1).await;
    let jwt = server.create_pro_user("owner@example.com").await;
    for local in ["pro-1", "pro-2", "pro-3"] {
        create_owned(&server, &jwt, local).await;
    }
    // The IP's one anonymous creation is still there to use, and then spent.
    let body = |local: &str| json!({"address": server.address(local), "password": PASSWORD});
    expect_json(
        server.post_json("/api/accounts", &body("anon-1")).await,
        StatusCode::CREATED,
    )
    .await;
    let response = server.post_json("/api/accounts", &body("anon-2")).await;
    expect_error(response, StatusCode::FORBIDDEN, "account_limit_reached").await;
    // The Pro user still creates.
    create_owned(&server, &jwt, "pro-4").await;
}

#[tokio::test]
async fn the_mailbox_limit_holds_under_racing_creations_and_frees_up_on_delete() {
    let server = TestServer::start().await;
    let jwt = server.create_pro_user("owner@example.com").await;
    let other = server.create_pro_user("other@example.com").await;
    limit_mailboxes(&server, "owner@example.com", 3).await;

    let attempts = (0..8).map(|n| {
        let body = json!({"address": server.address(&format!("race-{n}")), "password": PASSWORD});
        call(&server, Method::POST, "/api/accounts", &jwt, Some(body))
    });
    let mut created = 0;
    for response in join_all(attempts).await {
        match response.status() {
            StatusCode::CREATED => created += 1,
            _ => {
                expect_error(response, StatusCode::FORBIDDEN, "account_limit_reached").await;
            }
        }
    }
    assert_eq!(created, 3, "exactly the limit was created");
    let ids = listed_ids(&server, &jwt, 1).await;
    assert_eq!(ids.len(), 3);
    let response = create_with(&server, &jwt, "one-more").await;
    expect_error(response, StatusCode::FORBIDDEN, "account_limit_reached").await;
    // Another user's limit is their own.
    create_owned(&server, &other, "others").await;

    let response = call(
        &server,
        Method::DELETE,
        &format!("/pro/api/accounts/{}", ids[0]),
        &jwt,
        None,
    )
    .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    create_owned(&server, &jwt, "one-more").await;
}

#[tokio::test]
async fn creation_errors_with_a_pro_credential() {
    let server = TestServer::start().await;
    let jwt = server.create_pro_user("owner@example.com").await;
    let (taken, _) = server.create_mailbox("taken").await;
    let post = |body: Value| call(&server, Method::POST, "/api/accounts", &jwt, Some(body));

    // A domain that is neither a system domain nor one of the user's verified domains.
    let response = post(json!({"address": "someone@example.net", "password": PASSWORD})).await;
    expect_error(response, StatusCode::BAD_REQUEST, "invalid_address").await;
    let response = post(json!({"address": "no-at-sign", "password": PASSWORD})).await;
    expect_error(response, StatusCode::BAD_REQUEST, "invalid_address").await;
    let response = post(json!({"address": server.address("short"), "password": "12345"})).await;
    expect_error(response, StatusCode::BAD_REQUEST, "password_too_short").await;
    let response = post(json!({"address": server.address("x")})).await;
    expect_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
    // Taken by an anonymous mailbox, in any letter case.
    let response = post(json!({"address": taken.address.to_uppercase(), "password": PASSWORD})).await;
    expect_error(response, StatusCode::CONFLICT, "address_taken").await;
    assert_eq!(listed_ids(&server, &jwt, 1).await, Vec::<String>::new());
}

/// Adds `domain` for `credential`; with `verify`, publishes its TXT record in `dns` and verifies
/// it. Returns its id.
async fn custom_domain(
    server: &TestServer,
    dns: &DnsServer,
    credential: &str,
    domain: &str,
    verify: bool,
) -> String {
    let body = json!({"domain": domain});
    let response = call(server, Method::POST, "/pro/api/domains", credential, Some(body)).await;
    let created = expect_json(response, StatusCode::CREATED).await;
    let id = created["id"].as_str().unwrap().to_string();
    if verify {
        let host = format!("_mailcx-verify.{domain}");
        dns.set_txt(&host, &[created["verify_token"].as_str().unwrap()]);
        let path = format!("/pro/api/domains/{id}/verify");
        let check = expect_json(
            call(server, Method::POST, &path, credential, None).await,
            StatusCode::OK,
        )
        .await;
        assert_eq!(check["verify_status"], "verified", "{check}");
    }
    id
}

#[tokio::test]
async fn mailboxes_go_on_the_owners_verified_domains_only() {
    let dns = DnsServer::start().await;
    let resolver = dns.addr();
    let server = TestServer::start_with(move |config| config.dns_resolver = Some(resolver)).await;
    let alice = server.create_pro_user("alice@example.com").await;
    let bob = server.create_pro_user("bob@example.com").await;
    let verified = custom_domain(&server, &dns, &alice, "alice.example", true).await;
    custom_domain(&server, &dns, &alice, "pending.example", false).await;

    // In any letter case, stored lower-case; owned, and mail for it arrives.
    let body = json!({"address": "Box@Alice.Example", "password": PASSWORD});
    let response = call(&server, Method::POST, "/api/accounts", &alice, Some(body)).await;
    let created = expect_json(response, StatusCode::CREATED).await;
    assert_eq!(created["address"], "box@alice.example");
    let token = created["token"].as_str().unwrap();
    assert_eq!(me(&server, token).await["role"], "pro");
    assert_eq!(
        listed_ids(&server, &alice, 1).await,
        [created["id"].as_str().unwrap()]
    );
    let message = text_message(SENDER, "box@alice.example", "custom", "Body");
    deliver(server.smtp_addr(), SENDER, &["box@alice.example"], &message).await;
    let messages = expect_json(server.get("/api/messages", Some(token)).await, StatusCode::OK).await;
    assert_eq!(messages["messages"][0]["subject"], "custom");

    // A pending domain, another user's domain, or no Pro credential at all: invalid_address.
    for (credential, address) in [
        (alice.as_str(), "box@pending.example"),
        (bob.as_str(), "bob@alice.example"),
        ("", "anon@alice.example"),
    ] {
        let body = json!({"address": address, "password": PASSWORD});
        let response = call(&server, Method::POST, "/api/accounts", credential, Some(body)).await;
        expect_error(response, StatusCode::BAD_REQUEST, "invalid_address").await;
    }

    // A deleted domain takes no new mailbox.
    let path = format!("/pro/api/domains/{verified}");
    assert_eq!(
        call(&server, Method::DELETE, &path, &alice, None).await.status(),
        StatusCode::NO_CONTENT
    );
    let body = json!({"address": "again@alice.example", "password": PASSWORD});
    let response = call(&server, Method::POST, "/api/accounts", &alice, Some(body)).await;
    expect_error(response, StatusCode::BAD_REQUEST, "invalid_address").await;
}

#[tokio::test]
async fn the_list_pages_by_100_newest_first() {
    let server = TestServer::start().await;
    let jwt = server.create_pro_user("owner@example.com").await;
    // A few at a time: each creation hashes a password. Within a batch the order is the
    // server's; across batches it is known.
    let locals: Vec<String> = (0..101).map(|n| format!("box-{n:03}")).collect();
    let mut batches = Vec::new();
    for batch in locals.chunks(4) {
        let creations = batch.iter().map(|local| create_owned(&server, &jwt, local));
        let mut ids: Vec<String> = join_all(creations)
            .await
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_string())
            .collect();
        ids.sort();
        batches.push(ids);
    }
    let first = listed_ids(&server, &jwt, 1).await;
    let second = listed_ids(&server, &jwt, 2).await;
    assert_eq!(first.len(), 100);
    assert_eq!(second.len(), 1);
    assert!(listed_ids(&server, &jwt, 3).await.is_empty());
    // Newest first: the last batch heads page 1, the first batch ends on page 2.
    let listed: Vec<String> = first.into_iter().chain(second).collect();
    let mut offset = 0;
    for batch in batches.iter().rev() {
        let mut ids = listed[offset..offset + batch.len()].to_vec();
        ids.sort();
        assert_eq!(&ids, batch, "mailboxes are listed newest first");
        offset += batch.len();
    }
    for bad in ["0", "abc", "-1", "1&page=2"] {
        let path = format!("/pro/api/accounts?page={bad}");
        let response = call(&server, Method::GET, &path, &jwt, None).await;
        expect_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
    }
}

#[tokio::test]
async fn deleting_a_mailbox_removes_it_with_its_mail_and_its_tokens() {
    let server = TestServer::start().await;
    let jwt = server.create_pro_user("owner@example.com").await;
    let created = create_owned(&server, &jwt, "doomed").await;
    let (id, token) = (
        created["id"].as_str().unwrap(),
        created["token"].as_str().unwrap(),
    );
    let address = server.address("doomed");
    for n in 0..3 {
        let message = text_message(SENDER, &address, &format!("mail {n}"), "Body");
        deliver(server.smtp_addr(), SENDER, &[&address], &message).await;
    }
    let mut socket = server
        .client()
        .with_token(token)
        .subscribe()
        .await
        .expect("auth_ok");

    let path = format!("/pro/api/accounts/{id}");
    let response = call(&server, Method::DELETE, &path, &jwt, None).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(response.text().await.unwrap().is_empty());
    // The mailbox's socket is closed, its token dead, its address free, its list entry gone.
    let closed = tokio::time::timeout(DEADLINE, socket.next_email()).await.unwrap();
    assert!(closed.is_none(), "the socket closes: {closed:?}");
    let response = server.get("/api/me", Some(token)).await;
    expect_error(response, StatusCode::UNAUTHORIZED, "invalid_token").await;
    assert!(listed_ids(&server, &jwt, 1).await.is_empty());
    let path_messages = format!("/pro/api/accounts/{id}/messages");
    let response = call(&server, Method::GET, &path_messages, &jwt, None).await;
    expect_error(response, StatusCode::NOT_FOUND, "not_found").await;
    let response = call(&server, Method::DELETE, &path, &jwt, None).await;
    expect_error(response, StatusCode::NOT_FOUND, "not_found").await;
    let again = create_owned(&server, &jwt, "doomed").await;
    let token = again["token"].as_str().unwrap();
    let messages = expect_json(server.get("/api/messages", Some(token)).await, StatusCode::OK).await;
    assert_eq!(
        messages["messages"],
        json!([]),
        "no mail came back with the address"
    );
}

#[tokio::test]
async fn reset_password_retires_every_older_token_on_the_next_request() {
    let server = TestServer::start().await;
    let jwt = server.create_pro_user("owner@example.com").await;
    let (_, secret) = mint(&server, &jwt, "ci").await;
    let created = create_owned(&server, &jwt, "reset").await;
    let id = created["id"].as_str().unwrap();
    let address = server.address("reset");
    // Two tokens of the mailbox: from creation and from a sign-in; both work now.
    let signed_in = expect_json(
        server
            .post_json("/api/token", &json!({"address": address, "password": PASSWORD}))
            .await,
        StatusCode::OK,
    )
    .await;
    let old_tokens = [
        created["token"].as_str().unwrap().to_string(),
        signed_in["token"].as_str().unwrap().to_string(),
    ];
    for token in &old_tokens {
        me(&server, token).await;
    }

    let path = format!("/pro/api/accounts/{id}/reset-password");
    let response = call(
        &server,
        Method::PUT,
        &path,
        &secret,
        Some(json!({"password": "a brand new secret"})),
    )
    .await;
    assert_eq!(
        expect_json(response, StatusCode::OK).await,
        json!({"message": "password_reset"})
    );
    for token in &old_tokens {
        let response = server.get("/api/me", Some(token)).await;
        expect_error(response, StatusCode::UNAUTHORIZED, "invalid_token").await;
    }
    let response = server
        .post_json("/api/token", &json!({"address": address, "password": PASSWORD}))
        .await;
    expect_error(response, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    let fresh = expect_json(
        server
            .post_json(
                "/api/token",
                &json!({"address": address, "password": "a brand new secret"}),
            )
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(me(&server, fresh["token"].as_str().unwrap()).await["role"], "pro");

    // The password rule of every mailbox; a body that is not one is invalid_request.
    for (body, status, code) in [
        (
            json!({"password": "12345"}),
            StatusCode::BAD_REQUEST,
            "password_too_short",
        ),
        (
            json!({"password": "x".repeat(257)}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (json!({}), StatusCode::BAD_REQUEST, "invalid_request"),
    ] {
        let response = call(&server, Method::PUT, &path, &jwt, Some(body)).await;
        expect_error(response, status, code).await;
    }
    // The failed attempts changed nothing.
    me(&server, fresh["token"].as_str().unwrap()).await;
}

#[tokio::test]
async fn a_mailboxs_messages_read_as_get_api_messages_does() {
    let server = TestServer::start().await;
    let jwt = server.create_pro_user("owner@example.com").await;
    let created = create_owned(&server, &jwt, "reader").await;
    let (id, token) = (
        created["id"].as_str().unwrap(),
        created["token"].as_str().unwrap(),
    );
    let address = server.address("reader");
    for n in 0..32 {
        let message = text_message(SENDER, &address, &format!("mail {n}"), "Some   text");
        deliver(server.smtp_addr(), SENDER, &[&address], &message).await;
    }
    for page in [1, 2, 3] {
        let own = expect_json(
            server
                .get(&format!("/api/messages?page={page}"), Some(token))
                .await,
            StatusCode::OK,
        )
        .await;
        let pro = expect_json(
            call(
                &server,
                Method::GET,
                &format!("/pro/api/accounts/{id}/messages?page={page}"),
                &jwt,
                None,
            )
            .await,
            StatusCode::OK,
        )
        .await;
        assert_eq!(pro, own, "page {page}");
    }
    let default_page = expect_json(
        call(
            &server,
            Method::GET,
            &format!("/pro/api/accounts/{id}/messages"),
            &jwt,
            None,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(default_page["page"], 1);
    assert_eq!(default_page["messages"].as_array().unwrap().len(), 30);
    assert_eq!(default_page["messages"][0]["subject"], "mail 31");
    let response = call(
        &server,
        Method::GET,
        &format!("/pro/api/accounts/{id}/messages?page=0"),
        &jwt,
        None,
    )
    .await;
    expect_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
}

#[tokio::test]
async fn ids_that_are_not_the_callers_mailboxes_are_not_found() {
    let server = TestServer::start().await;
    let jwt = server.create_pro_user("owner@example.com").await;
    let other = server.create_pro_user("other@example.com").await;
    let others = create_owned(&server, &other, "others").await;
    let (anonymous, _) = server.create_mailbox("anon").await;
    let ids = [
        others["id"].as_str().unwrap().to_string(),
        anonymous.id.to_string(),
        uuid::Uuid::new_v4().to_string(),
        "not-a-uuid".to_string(),
    ];
    for id in &ids {
        for (method, path, body) in [
            (Method::DELETE, format!("/pro/api/accounts/{id}"), None),
            (
                Method::PUT,
                format!("/pro/api/accounts/{id}/reset-password"),
                Some(json!({"password": "a brand new secret"})),
            ),
            (Method::GET, format!("/pro/api/accounts/{id}/messages"), None),
        ] {
            let response = call(&server, method.clone(), &path, &jwt, body).await;
            expect_error(response, StatusCode::NOT_FOUND, "not_found").await;
        }
    }
    // Untouched: both still sign in with their passwords and tokens.
    me(&server, others["token"].as_str().unwrap()).await;
    me(&server, &anonymous.token).await;
}

#[tokio::test]
async fn a_pro_socket_hears_every_mailbox_of_its_user_and_nothing_else() {
    let server = TestServer::start().await;
    let jwt = server.create_pro_user("owner@example.com").await;
    let (_, secret) = mint(&server, &jwt, "ws").await;
    let other = server.create_pro_user("other@example.com").await;
    let one = create_owned(&server, &jwt, "one").await;
    let two = create_owned(&server, &secret, "two").await;
    create_owned(&server, &other, "others").await;
    server.create_mailbox("anon").await;

    let mut by_jwt = server
        .client()
        .with_token(&jwt)
        .subscribe()
        .await
        .expect("auth_ok");
    let mut by_token = server
        .client()
        .with_token(&secret)
        .subscribe()
        .await
        .expect("auth_ok");
    let mut mailbox_socket = server
        .client()
        .with_token(one["token"].as_str().unwrap())
        .subscribe()
        .await
        .expect("auth_ok");

    // Mail for strangers first: none of it may reach the Pro sockets, whose next events must be
    // their own mailboxes'.
    for to in ["others", "anon"] {
        let address = server.address(to);
        let message = text_message(SENDER, &address, "not yours", "Body");
        deliver(server.smtp_addr(), SENDER, &[&address], &message).await;
    }
    let mut expected = Vec::new();
    for (created, local) in [(&one, "one"), (&two, "two")] {
        let address = server.address(local);
        let subject = format!("for {local}");
        let message = text_message(SENDER, &address, &subject, "Body");
        deliver(server.smtp_addr(), SENDER, &[&address], &message).await;
        expected.push((created["id"].as_str().unwrap().to_string(), address, subject));
    }
    for socket in [&mut by_jwt, &mut by_token] {
        for (account_id, address, subject) in &expected {
            let email = tokio::time::timeout(DEADLINE, socket.next_email())
                .await
                .expect("no new_email arrived")
                .expect("the socket closed")
                .expect("an error frame instead of new_email");
            assert_eq!(email.account_id.to_string(), *account_id);
            assert_eq!(&email.address, address);
            assert_eq!(&email.subject, subject);
        }
    }
    // The mailbox's own socket hears only that mailbox.
    let email = tokio::time::timeout(DEADLINE, mailbox_socket.next_email())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(email.account_id.to_string(), expected[0].0);

    // Three sockets per Pro user, whichever credential opened them; the mailbox's own socket
    // does not count against its owner.
    let third = server
        .client()
        .with_token(&jwt)
        .subscribe()
        .await
        .expect("a third socket");
    let fourth = server.client().with_token(&secret).subscribe().await;
    assert_eq!(
        fourth.err().and_then(|e| e.code()),
        Some(ErrorCode::TooManyConnections)
    );
    server
        .client()
        .with_token(&other)
        .subscribe()
        .await
        .expect("another user's sockets are counted apart");
    drop(third);
    let reopened = mailcx_tests::wait_for(
        "the third socket's slot to free up",
        DEADLINE,
        Duration::from_millis(50),
        || async { server.client().with_token(&jwt).subscribe().await.ok() },
    )
    .await;
    drop(reopened);

    for credential in ["tm_pro_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "garbage"] {
        let refused = server.client().with_token(credential).subscribe().await;
        assert_eq!(
            refused.err().and_then(|e| e.code()),
            Some(ErrorCode::InvalidToken)
        );
    }
}

#[tokio::test]
async fn sockets_end_when_their_credential_stops_working() {
    let server = TestServer::start_with(|config| config.ws_ping_interval = Duration::from_millis(200)).await;
    let jwt = server.create_pro_user("owner@example.com").await;
    let (token_id, secret) = mint(&server, &jwt, "ws").await;
    let created = create_owned(&server, &jwt, "mailbox").await;
    let mut by_token = server
        .client()
        .with_token(&secret)
        .subscribe()
        .await
        .expect("auth_ok");
    let mut by_mailbox = server
        .client()
        .with_token(created["token"].as_str().unwrap())
        .subscribe()
        .await
        .expect("auth_ok");
    let mut by_jwt = server
        .client()
        .with_token(&jwt)
        .subscribe()
        .await
        .expect("auth_ok");

    let revoke = format!("/pro/api/tokens/{token_id}");
    assert_eq!(
        call(&server, Method::DELETE, &revoke, &jwt, None).await.status(),
        StatusCode::NO_CONTENT
    );
    let reset = format!(
        "/pro/api/accounts/{}/reset-password",
        created["id"].as_str().unwrap()
    );
    let response = call(
        &server,
        Method::PUT,
        &reset,
        &jwt,
        Some(json!({"password": "a brand new secret"})),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    for socket in [&mut by_token, &mut by_mailbox] {
        let ended = tokio::time::timeout(DEADLINE, socket.next_email())
            .await
            .expect("the socket stayed open");
        let code = ended.and_then(|e| e.err()).and_then(|e| e.code());
        assert_eq!(code, Some(ErrorCode::InvalidToken));
        let rest = tokio::time::timeout(DEADLINE, socket.next_email()).await.unwrap();
        assert!(rest.is_none(), "then it closes: {rest:?}");
    }
    // The JWT still works: its socket still hears the mailbox.
    let address = server.address("mailbox");
    let message = text_message(SENDER, &address, "still heard", "Body");
    deliver(server.smtp_addr(), SENDER, &[&address], &message).await;
    let email = tokio::time::timeout(DEADLINE, by_jwt.next_email())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(email.subject, "still heard");
}
