//! The happy paths of the accounts and domains API over real HTTP: exact JSON shapes and statuses,
//! case-insensitive addresses, deletion retiring every token, the creation race, and the per-IP
//! creation allowance.

use std::time::{SystemTime, UNIX_EPOCH};

use mailcx_common::{ErrorCode, Role, Timestamp};
use mailcx_tests::{
    PASSWORD, TestServer, credentials, expect_error, expect_json, is_wire_timestamp, keys, read,
};
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

fn uuid(value: &Value) -> Uuid {
    Uuid::parse_str(value.as_str().unwrap_or_else(|| panic!("not a string: {value}")))
        .unwrap_or_else(|e| panic!("not a UUID ({e}): {value}"))
}

#[tokio::test]
async fn domains_are_the_configured_ones_in_order_with_the_first_default() {
    let server = TestServer::start_with(|c| c.domains = vec!["mail.cx".into(), "example.org".into()]).await;
    let body = expect_json(server.get("/api/domains", None).await, StatusCode::OK).await;
    assert_eq!(keys(&body), ["domains"]);
    let domains = body["domains"].as_array().expect("domains is a list");
    assert_eq!(domains.len(), 2, "{body}");
    for (i, (domain, name)) in domains.iter().zip(["mail.cx", "example.org"]).enumerate() {
        assert_eq!(keys(domain), ["default", "domain", "id", "sort_order"]);
        assert_eq!(domain["domain"], name);
        assert_eq!(domain["default"], i == 0, "only the first is the default: {body}");
        assert_eq!(domain["sort_order"], i, "{body}");
        uuid(&domain["id"]);
    }
    assert_ne!(domains[0]["id"], domains[1]["id"]);

    // The typed client reads the same list, and a mailbox can be made on the second domain too.
    let typed = server.client().domains().await.unwrap();
    assert_eq!(serde_json::to_value(&typed).unwrap(), body["domains"]);
    let account = server
        .client()
        .create_account(&credentials("Second@Example.ORG", PASSWORD))
        .await
        .unwrap();
    assert_eq!(account.address, "second@example.org");
}

#[tokio::test]
async fn the_default_domain_list_is_mail_cx() {
    let server = TestServer::start().await;
    let domains = server.client().domains().await.unwrap();
    assert_eq!(domains.len(), 1, "{domains:?}");
    assert_eq!(domains[0].domain, "mail.cx");
    assert!(domains[0].default);
    assert_eq!(domains[0].sort_order, 0);
}

#[tokio::test]
async fn creation_answers_201_with_id_address_and_a_token_that_works_at_once() {
    let server = TestServer::start().await;
    let body = json!({"address": "Demo.X+1@Mail.CX", "password": PASSWORD});
    let created = expect_json(
        server.post_json("/api/accounts", &body).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(keys(&created), ["address", "id", "token"]);
    assert_eq!(created["address"], "demo.x+1@mail.cx", "stored lower-cased");
    let id = uuid(&created["id"]);
    let token = created["token"].as_str().unwrap();
    assert_eq!(token.split('.').count(), 3, "a JWT: {token}");

    let me = expect_json(server.get("/api/me", Some(token)).await, StatusCode::OK).await;
    assert_eq!(uuid(&me["id"]), id);
    assert_eq!(me["address"], "demo.x+1@mail.cx");
}

#[tokio::test]
async fn a_caller_cannot_choose_its_own_role_quota_or_id() {
    let server = TestServer::start().await;
    let chosen = Uuid::new_v4();
    let body = json!({
        "address": "sneaky@mail.cx", "password": PASSWORD,
        "role": "pro", "quota": 1, "used": 5, "id": chosen, "created_at": "2000-01-01T00:00:00Z",
    });
    let created = expect_json(
        server.post_json("/api/accounts", &body).await,
        StatusCode::CREATED,
    )
    .await;
    assert_ne!(uuid(&created["id"]), chosen);
    let me = server
        .client()
        .with_token(created["token"].as_str().unwrap())
        .me()
        .await
        .unwrap();
    assert_eq!(me.role, Role::User);
    assert_eq!(me.quota, 41_943_040);
    assert_eq!(me.used, 0);
    assert!(me.created_at.timestamp() > 946_684_800);
}

#[tokio::test]
async fn me_has_exactly_the_documented_fields_and_the_counts() {
    let server = TestServer::start().await;
    let before = unix_now();
    let (account, client) = server.create_mailbox("me").await;
    let after = unix_now();

    let me = expect_json(server.get("/api/me", Some(&account.token)).await, StatusCode::OK).await;
    assert_eq!(
        keys(&me),
        // `messages` and `unread` are extensions.
        [
            "address",
            "created_at",
            "id",
            "messages",
            "quota",
            "role",
            "unread",
            "used"
        ]
    );
    assert_eq!((&me["messages"], &me["unread"]), (&0.into(), &0.into()));
    assert_eq!(uuid(&me["id"]), account.id);
    assert_eq!(me["address"], "me@mail.cx");
    assert_eq!(me["role"], "user");
    assert_eq!(me["quota"], 41_943_040, "the default free quota");
    assert_eq!(me["used"], 0);
    let created_at = me["created_at"].as_str().expect("created_at is a string");
    assert!(
        is_wire_timestamp(created_at),
        "created_at {created_at:?} is not YYYY-MM-DDTHH:MM:SSZ"
    );
    let parsed: Timestamp = serde_json::from_value(me["created_at"].clone()).unwrap();
    assert!(
        (before..=after).contains(&parsed.timestamp()),
        "created_at {created_at} is not the creation time ({before}..={after})"
    );

    // The typed client agrees field by field.
    let typed = client.me().await.unwrap();
    assert_eq!(typed.role, Role::User);
    assert_eq!(serde_json::to_value(&typed).unwrap(), me);
}

#[tokio::test]
async fn the_quota_of_new_mailboxes_is_configurable() {
    let server = TestServer::start_with(|c| c.quota = 1_234_567).await;
    let (_, client) = server.create_mailbox("quota").await;
    assert_eq!(client.me().await.unwrap().quota, 1_234_567);
}

#[tokio::test]
async fn sign_in_answers_200_with_the_same_mailbox_in_any_letter_case() {
    let server = TestServer::start().await;
    let (account, _) = server.create_mailbox("signin").await;

    let body = json!({"address": "SignIn@MAIL.cx", "password": PASSWORD});
    let signed = expect_json(server.post_json("/api/token", &body).await, StatusCode::OK).await;
    assert_eq!(keys(&signed), ["address", "id", "token"]);
    assert_eq!(uuid(&signed["id"]), account.id);
    assert_eq!(signed["address"], "signin@mail.cx");
    let token = signed["token"].as_str().unwrap();
    let me = expect_json(server.get("/api/me", Some(token)).await, StatusCode::OK).await;
    assert_eq!(uuid(&me["id"]), account.id);

    // The first token keeps working beside the new one.
    let me = expect_json(server.get("/api/me", Some(&account.token)).await, StatusCode::OK).await;
    assert_eq!(uuid(&me["id"]), account.id);
}

#[tokio::test]
async fn address_taken_ignores_letter_case() {
    let server = TestServer::start().await;
    let first = server.post_json(
        "/api/accounts",
        &json!({"address": "Demo@mail.cx", "password": PASSWORD}),
    );
    let first = expect_json(first.await, StatusCode::CREATED).await;
    assert_eq!(first["address"], "demo@mail.cx");

    for address in ["demo@MAIL.cx", "DEMO@mail.cx", "demo@mail.cx", " demo@mail.cx "] {
        let body = json!({"address": address, "password": "another password"});
        let response = server.post_json("/api/accounts", &body).await;
        expect_error(response, StatusCode::CONFLICT, "address_taken").await;
    }
    // The first owner's password is still the one that signs in.
    let signed = server
        .client()
        .sign_in(&credentials("demo@mail.cx", PASSWORD))
        .await
        .unwrap();
    assert_eq!(signed.id.to_string(), first["id"]);
    let wrong = server
        .client()
        .sign_in(&credentials("demo@mail.cx", "another password"))
        .await
        .unwrap_err();
    assert_eq!(wrong.code(), Some(ErrorCode::InvalidCredentials));
}

#[tokio::test]
async fn delete_answers_204_empty_and_retires_every_token_and_frees_the_address() {
    let server = TestServer::start().await;
    let (first, client) = server.create_mailbox("gone").await;
    let second = client
        .sign_in(&credentials("gone@mail.cx", PASSWORD))
        .await
        .unwrap();

    let response = server
        .http()
        .delete(server.endpoint("/api/account"))
        .bearer_auth(&first.token)
        .send()
        .await
        .unwrap();
    let (status, _, body) = read(response).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(body, "", "204 has an empty body");

    let old_tokens = [&first.token, &second.token];
    for token in old_tokens {
        expect_error(
            server.get("/api/me", Some(token)).await,
            StatusCode::UNAUTHORIZED,
            "invalid_token",
        )
        .await;
        let again = server
            .http()
            .delete(server.endpoint("/api/account"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        expect_error(again, StatusCode::UNAUTHORIZED, "invalid_token").await;
    }
    let body = json!({"address": "gone@mail.cx", "password": PASSWORD});
    expect_error(
        server.post_json("/api/token", &body).await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;

    // The address can be created again (any case); it is a new mailbox, the old tokens stay dead.
    let body = json!({"address": "Gone@Mail.cx", "password": "a new password"});
    let again = expect_json(
        server.post_json("/api/accounts", &body).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(again["address"], "gone@mail.cx");
    assert_ne!(uuid(&again["id"]), first.id, "a new mailbox gets a new id");
    for token in old_tokens {
        expect_error(
            server.get("/api/me", Some(token)).await,
            StatusCode::UNAUTHORIZED,
            "invalid_token",
        )
        .await;
    }
    let me = server
        .client()
        .with_token(again["token"].as_str().unwrap())
        .me()
        .await
        .unwrap();
    assert_eq!(me.id, uuid(&again["id"]));
    // Only the new password signs in.
    let old = server
        .client()
        .sign_in(&credentials("gone@mail.cx", PASSWORD))
        .await
        .unwrap_err();
    assert_eq!(old.code(), Some(ErrorCode::InvalidCredentials));
}

/// `local` with the letters whose bit is set in `mask` upper-cased.
fn letter_case(local: &str, mask: u64) -> String {
    local
        .chars()
        .enumerate()
        .map(|(i, c)| {
            if mask >> (i % 64) & 1 == 1 {
                c.to_ascii_uppercase()
            } else {
                c
            }
        })
        .collect()
}

#[tokio::test]
async fn fifty_concurrent_creations_of_one_address_make_exactly_one_mailbox() {
    let server = TestServer::start().await;
    let mut tasks = Vec::new();
    for i in 0..50u64 {
        let http = server.http().clone();
        let url = server.endpoint("/api/accounts");
        let domain = if i % 2 == 0 { "mail.cx" } else { "MAIL.CX" };
        let address = format!("{}@{domain}", letter_case("racecondition", i * 2_654_435_761));
        let password = format!("password {i}");
        tasks.push(tokio::spawn(async move {
            let body = json!({"address": address, "password": password});
            let response = http.post(url).json(&body).send().await.unwrap();
            let status = response.status();
            (status, response.json::<Value>().await.unwrap(), password)
        }));
    }
    let mut created = Vec::new();
    let mut taken = 0;
    for task in tasks {
        let (status, body, password) = task.await.unwrap();
        match status {
            StatusCode::CREATED => created.push((body, password)),
            StatusCode::CONFLICT => {
                assert_eq!(body["error"], "address_taken", "{body}");
                taken += 1;
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!(created.len(), 1, "exactly one creation wins: {created:?}");
    assert_eq!(taken, 49);
    let (winner, password) = &created[0];
    assert_eq!(winner["address"], "racecondition@mail.cx");
    // The winner's password is the one stored, and its token names the one mailbox.
    let signed = server
        .client()
        .sign_in(&credentials("racecondition@mail.cx", password))
        .await
        .unwrap();
    assert_eq!(signed.id, uuid(&winner["id"]));
    let me = server
        .client()
        .with_token(winner["token"].as_str().unwrap())
        .me()
        .await
        .unwrap();
    assert_eq!(me.id, signed.id);
}

#[tokio::test]
async fn the_creation_allowance_counts_only_mailboxes_actually_created() {
    let server = TestServer::start_with(|c| c.accounts_per_hour = 3).await;
    let create = |address: &str| {
        let body = json!({"address": address, "password": PASSWORD});
        server.post_json("/api/accounts", &body)
    };
    expect_json(create("one@mail.cx").await, StatusCode::CREATED).await;
    expect_json(create("two@mail.cx").await, StatusCode::CREATED).await;
    // Failed creations of every kind leave the allowance alone.
    for _ in 0..3 {
        expect_error(create("ONE@mail.cx").await, StatusCode::CONFLICT, "address_taken").await;
    }
    expect_error(
        create("bad address@mail.cx").await,
        StatusCode::BAD_REQUEST,
        "invalid_address",
    )
    .await;
    expect_error(
        create("x@elsewhere.net").await,
        StatusCode::BAD_REQUEST,
        "invalid_address",
    )
    .await;
    let short = server.post_json(
        "/api/accounts",
        &json!({"address": "short@mail.cx", "password": "12345"}),
    );
    expect_error(short.await, StatusCode::BAD_REQUEST, "password_too_short").await;

    expect_json(create("three@mail.cx").await, StatusCode::CREATED).await;
    expect_error(
        create("four@mail.cx").await,
        StatusCode::FORBIDDEN,
        "account_limit_reached",
    )
    .await;
    // The refused address was not created, and the limit does not touch sign-in or the mailboxes.
    let refused = server
        .client()
        .sign_in(&credentials("four@mail.cx", PASSWORD))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Some(ErrorCode::InvalidCredentials));
    let signed = server
        .client()
        .sign_in(&credentials("three@mail.cx", PASSWORD))
        .await
        .unwrap();
    server.client().with_token(signed.token).me().await.unwrap();
    expect_error(
        create("five@mail.cx").await,
        StatusCode::FORBIDDEN,
        "account_limit_reached",
    )
    .await;
}

#[tokio::test]
async fn racing_creations_give_back_the_slots_they_did_not_use() {
    let server = TestServer::start_with(|c| c.accounts_per_hour = 2).await;
    let racers: Vec<_> = (0..10u64)
        .map(|i| {
            let address = format!("{}@mail.cx", letter_case("contested", i * 2_654_435_761));
            server.post_json(
                "/api/accounts",
                &json!({"address": address, "password": PASSWORD}),
            )
        })
        .map(tokio::spawn)
        .collect();
    let mut created = 0;
    for racer in racers {
        let response = racer.await.unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        match status {
            StatusCode::CREATED => created += 1,
            // While a slot is held by a creation in flight, another may be refused for the limit.
            StatusCode::CONFLICT => assert_eq!(body["error"], "address_taken", "{body}"),
            StatusCode::FORBIDDEN => assert_eq!(body["error"], "account_limit_reached", "{body}"),
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!(created, 1);
    // One mailbox was made, so exactly one slot of the two is left.
    let create = |address: &str| {
        let body = json!({"address": address, "password": PASSWORD});
        server.post_json("/api/accounts", &body)
    };
    expect_json(create("second@mail.cx").await, StatusCode::CREATED).await;
    expect_error(
        create("third@mail.cx").await,
        StatusCode::FORBIDDEN,
        "account_limit_reached",
    )
    .await;
}
