//! Sign-in and API tokens: a Pro JWT and a `tm_pro_` token each work on `/pro/api`, neither
//! passes for a mailbox JWT nor the reverse, revocation and password changes take effect on the
//! next request, and a token's secret is never listed.

use mailcx_tests::{PASSWORD, TestServer, expect_error, expect_json, keys};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// `method path` with a Bearer credential and an optional JSON body, raw.
pub async fn call(
    server: &TestServer,
    method: reqwest::Method,
    path: &str,
    credential: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let mut request = server
        .http()
        .request(method, server.endpoint(path))
        .bearer_auth(credential);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.expect("the request reaches the server")
}

/// Mints an API token named `name` with `credential`; returns (id, secret).
pub async fn mint(server: &TestServer, credential: &str, name: &str) -> (String, String) {
    let response = call(
        server,
        reqwest::Method::POST,
        "/pro/api/tokens",
        credential,
        Some(json!({"name": name})),
    )
    .await;
    let created = expect_json(response, StatusCode::CREATED).await;
    assert_eq!(keys(&created), ["id", "name", "token"]);
    (
        created["id"].as_str().unwrap().to_string(),
        created["token"].as_str().unwrap().to_string(),
    )
}

#[tokio::test]
async fn login_gives_a_pro_jwt_and_wrong_credentials_answer_alike() {
    let server = TestServer::start().await;
    let jwt = server.create_pro_user("owner@example.com").await;
    assert!(!jwt.starts_with("tm_pro_"));
    for body in [
        json!({"email": "owner@example.com", "password": "wrong password"}),
        json!({"email": "nobody@example.com", "password": PASSWORD}),
    ] {
        let response = server.post_json("/pro/api/login", &body).await;
        expect_error(response, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    }
    // Case does not matter for the email.
    let response = server
        .post_json(
            "/pro/api/login",
            &json!({"email": "Owner@Example.com", "password": PASSWORD}),
        )
        .await;
    expect_json(response, StatusCode::OK).await;
}

#[tokio::test]
async fn tokens_are_minted_listed_without_secrets_used_and_revoked() {
    let server = TestServer::start().await;
    let jwt = server.create_pro_user("owner@example.com").await;
    let (id, secret) = mint(&server, &jwt, "ci").await;
    assert!(secret.starts_with("tm_pro_"));
    let random = &secret["tm_pro_".len()..];
    assert_eq!(random.len(), 32);
    assert!(random.chars().all(|c| c.is_ascii_alphanumeric()));

    // The token works on /pro/api; its use shows as last_used_at.
    let listed = expect_json(
        call(&server, reqwest::Method::GET, "/pro/api/tokens", &secret, None).await,
        StatusCode::OK,
    )
    .await;
    let tokens = listed["tokens"].as_array().unwrap();
    assert_eq!(tokens.len(), 1);
    assert_eq!(
        keys(&tokens[0]),
        ["created_at", "id", "last_used_at", "name", "revoked_at"]
    );
    assert_eq!(tokens[0]["id"], id.as_str());
    assert!(tokens[0]["last_used_at"].is_string(), "{listed}");
    assert!(!listed.to_string().contains(random), "a secret was listed");

    // Revoked: 401 on the very next request, and listed as revoked.
    let response = call(
        &server,
        reqwest::Method::DELETE,
        &format!("/pro/api/tokens/{id}"),
        &jwt,
        None,
    )
    .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let response = call(&server, reqwest::Method::GET, "/pro/api/tokens", &secret, None).await;
    expect_error(response, StatusCode::UNAUTHORIZED, "invalid_token").await;
    let listed = expect_json(
        call(&server, reqwest::Method::GET, "/pro/api/tokens", &jwt, None).await,
        StatusCode::OK,
    )
    .await;
    assert!(listed["tokens"][0]["revoked_at"].is_string());
    // Revoking it again, or an unknown id, is a 404.
    let response = call(
        &server,
        reqwest::Method::DELETE,
        &format!("/pro/api/tokens/{id}"),
        &jwt,
        None,
    )
    .await;
    expect_error(response, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn pro_and_mailbox_credentials_never_pass_for_each_other() {
    let server = TestServer::start().await;
    let jwt = server.create_pro_user("owner@example.com").await;
    let (_, secret) = mint(&server, &jwt, "ci").await;
    let (mailbox, _) = server.create_mailbox("plain").await;
    for credential in [jwt.as_str(), secret.as_str()] {
        let response = server.get("/api/me", Some(credential)).await;
        expect_error(response, StatusCode::UNAUTHORIZED, "invalid_token").await;
    }
    for credential in [
        mailbox.token.as_str(),
        "tm_pro_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "garbage",
        "",
    ] {
        let response = call(&server, reqwest::Method::GET, "/pro/api/tokens", credential, None).await;
        expect_error(response, StatusCode::UNAUTHORIZED, "invalid_token").await;
    }
}

#[tokio::test]
async fn another_users_token_is_not_found() {
    let server = TestServer::start().await;
    let alice = server.create_pro_user("alice@example.com").await;
    let bob = server.create_pro_user("bob@example.com").await;
    let (alice_token, _) = mint(&server, &alice, "alice's").await;
    let response = call(
        &server,
        reqwest::Method::DELETE,
        &format!("/pro/api/tokens/{alice_token}"),
        &bob,
        None,
    )
    .await;
    expect_error(response, StatusCode::NOT_FOUND, "not_found").await;
    let listed = expect_json(
        call(&server, reqwest::Method::GET, "/pro/api/tokens", &bob, None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(listed["tokens"], json!([]));
}

#[tokio::test]
async fn the_operators_commands_take_effect_on_a_running_server_at_once() {
    let server = TestServer::start().await;
    let jwt = server.create_pro_user("owner@example.com").await;
    let (_, secret) = mint(&server, &jwt, "ci").await;
    let ok = call(&server, reqwest::Method::GET, "/pro/api/tokens", &secret, None).await;
    assert_eq!(ok.status(), StatusCode::OK);
    // The operator removes the user from another "process" (a connection of its own).
    let db = server.db_path();
    tokio::task::spawn_blocking(move || {
        mailcx_server::admin::run(
            &db,
            &mailcx_server::config::UserCommand::Remove {
                email: "owner@example.com".into(),
                yes: true,
            },
        )
    })
    .await
    .unwrap()
    .unwrap();
    for credential in [jwt.as_str(), secret.as_str()] {
        let response = call(&server, reqwest::Method::GET, "/pro/api/tokens", credential, None).await;
        expect_error(response, StatusCode::UNAUTHORIZED, "invalid_token").await;
    }
}

#[tokio::test]
async fn a_pro_credential_has_the_pro_rate_limit_wherever_it_comes_from() {
    let server = TestServer::start_with(|config| config.rate_limit = 1).await;
    let jwt = server.create_pro_user("owner@example.com").await;
    let (_, secret) = mint(&server, &jwt, "ci").await;
    let mut statuses = Vec::new();
    for _ in 0..60 {
        let response = call(&server, reqwest::Method::GET, "/pro/api/tokens", &secret, None).await;
        statuses.push(response.status().as_u16());
    }
    // Burst 40 for the user (the mint above took one of them), not the 16 of an address.
    let served = statuses.iter().take_while(|s| **s == 200).count();
    assert!(served >= 39, "{statuses:?}");
    assert!(statuses.contains(&429), "{statuses:?}");
    // Anonymous requests from the same address have their own bucket.
    let response = server.get("/api/domains", None).await;
    assert_eq!(response.status(), StatusCode::OK);
}
