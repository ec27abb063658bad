//! Every error the accounts and domains endpoints can answer, checked on the wire: status,
//! `Content-Type`, and exactly `{"error","message"}`; plus 404/405 for routes and the rate limit.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use mailcx_common::ErrorCode;
use mailcx_tests::{PASSWORD, TestServer, credentials, expect_error, expect_json, read, wait_for};
use reqwest::header::{CONTENT_TYPE, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use uuid::Uuid;

const SECRET: &str = "the secret the server signs with";

#[tokio::test]
async fn bodies_that_are_not_the_expected_json_are_invalid_request() {
    let server = TestServer::start().await;
    let cases: &[(&str, Option<&str>)] = &[
        ("{", None),
        ("not json at all", None),
        ("", None),
        ("{\"address\":\"a@mail.cx\",\"password\":\"secret1\"", None),
        ("[]", None),
        ("null", None),
        ("\"a@mail.cx\"", None),
        (r#"{"address":"a@mail.cx"}"#, Some("password")),
        (r#"{"password":"secret12"}"#, Some("address")),
        (r#"{}"#, None),
        (r#"{"address":5,"password":"secret12"}"#, None),
        (r#"{"address":"a@mail.cx","password":123456}"#, None),
        (r#"{"address":null,"password":"secret12"}"#, None),
        (r#"{"address":["a@mail.cx"],"password":"secret12"}"#, None),
    ];
    for path in ["/api/accounts", "/api/token"] {
        for (body, names) in cases {
            let response = server
                .http()
                .post(server.endpoint(path))
                .header(CONTENT_TYPE, "application/json")
                .body(body.to_string())
                .send()
                .await
                .unwrap();
            let message = expect_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
            if let Some(field) = names {
                assert!(
                    message.contains(field),
                    "{path} {body:?}: message {message:?} names no {field}"
                );
            }
        }
    }
}

#[tokio::test]
async fn a_body_without_a_json_content_type_is_invalid_request() {
    let server = TestServer::start().await;
    let body = json!({"address": "ctype@mail.cx", "password": PASSWORD}).to_string();
    for path in ["/api/accounts", "/api/token"] {
        for content_type in [
            None,
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
            Some(""),
        ] {
            let mut request = server.http().post(server.endpoint(path)).body(body.clone());
            if let Some(value) = content_type {
                request = request.header(CONTENT_TYPE, value);
            }
            let response = request.send().await.unwrap();
            expect_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
        }
    }
    // Nothing was created by those, and a charset parameter is fine.
    let response = server
        .http()
        .post(server.endpoint("/api/accounts"))
        .header(CONTENT_TYPE, "application/json; charset=utf-8")
        .body(body)
        .send()
        .await
        .unwrap();
    expect_json(response, StatusCode::CREATED).await;
}

#[tokio::test]
async fn addresses_that_break_the_rules_are_invalid_address() {
    let server = TestServer::start_with(|c| c.domains = vec!["mail.cx".into(), "example.org".into()]).await;
    let too_long_local = format!("{}@mail.cx", "a".repeat(65));
    let too_long = format!("{}@{}.mail.cx", "a".repeat(60), "b".repeat(190));
    let cases = [
        "demo",
        "demo@",
        "@mail.cx",
        "demo@@mail.cx",
        "a@b@mail.cx",
        "",
        "dé@mail.cx",
        "a b@mail.cx",
        "demo!@mail.cx",
        "de\"mo@mail.cx",
        "demo@other.com",
        "demo@mail.cx.evil.com",
        "demo@sub.mail.cx",
        too_long_local.as_str(),
        too_long.as_str(),
    ];
    for address in cases {
        let response = server.post_json(
            "/api/accounts",
            &json!({"address": address, "password": PASSWORD}),
        );
        expect_error(response.await, StatusCode::BAD_REQUEST, "invalid_address").await;
    }
    // The boundaries themselves are accepted: a 64-character local part on a configured domain.
    let longest = format!("{}@example.org", "a".repeat(64));
    let response = server.post_json(
        "/api/accounts",
        &json!({"address": longest, "password": PASSWORD}),
    );
    expect_json(response.await, StatusCode::CREATED).await;
}

#[tokio::test]
async fn password_length_is_counted_in_characters() {
    let server = TestServer::start().await;
    for password in ["", "12345", "ééééé"] {
        let body = json!({"address": "pw@mail.cx", "password": password});
        let response = server.post_json("/api/accounts", &body).await;
        expect_error(response, StatusCode::BAD_REQUEST, "password_too_short").await;
    }
    // Over the 256-character maximum: refused (the contract has no code of its own for it).
    let body = json!({"address": "pw@mail.cx", "password": "x".repeat(257)});
    expect_error(
        server.post_json("/api/accounts", &body).await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
    )
    .await;
    // Six characters, multi-byte ones included, are enough; the password then signs in.
    let body = json!({"address": "pw@mail.cx", "password": "éééééé"});
    expect_json(
        server.post_json("/api/accounts", &body).await,
        StatusCode::CREATED,
    )
    .await;
    server
        .client()
        .sign_in(&credentials("pw@mail.cx", "éééééé"))
        .await
        .unwrap();
}

#[tokio::test]
async fn wrong_password_and_unknown_address_get_the_identical_answer() {
    let server = TestServer::start().await;
    server.create_mailbox("known").await;
    let mut answers = Vec::new();
    for (address, password) in [
        ("known@mail.cx", "wrong password"),
        ("unknown@mail.cx", PASSWORD),
        ("unknown@mail.cx", "wrong password"),
        ("not even an address", PASSWORD),
        ("known@mail.cx", ""),
    ] {
        let response = server.post_json("/api/token", &json!({"address": address, "password": password}));
        let response = response.await;
        let (status, content_type, body) = read(response).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{address}: {body}");
        assert!(content_type.starts_with("application/json"), "{content_type}");
        let value: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(value["error"], "invalid_credentials");
        answers.push(body);
    }
    assert!(
        answers.windows(2).all(|w| w[0] == w[1]),
        "the bodies differ: {answers:#?}"
    );
    // The right password still works after all those.
    server
        .client()
        .sign_in(&credentials("known@mail.cx", PASSWORD))
        .await
        .unwrap();
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// A mailbox JWT made by hand: HS-signed claims as the server issues them.
fn forge(algorithm: Algorithm, secret: &str, sub: Uuid, ver: i64, iat: u64, exp: u64) -> String {
    let claims = json!({"sub": sub, "ver": ver, "iat": iat, "exp": exp});
    jsonwebtoken::encode(
        &Header::new(algorithm),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

/// Base64url without padding, for hand-made JWT parts.
fn b64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

#[tokio::test]
async fn tokens_are_hs256_with_the_account_as_subject_and_a_seven_day_lifetime() {
    let server = TestServer::start_with(|c| c.jwt_secret = Some(SECRET.into())).await;
    let before = unix_now();
    let (account, _) = server.create_mailbox("claims").await;
    let mut validation = jsonwebtoken::Validation::new(Algorithm::HS256);
    validation.set_required_spec_claims(&["exp", "sub", "iat"]);
    let data = jsonwebtoken::decode::<serde_json::Value>(
        &account.token,
        &jsonwebtoken::DecodingKey::from_secret(SECRET.as_bytes()),
        &validation,
    )
    .expect("the token is HS256-signed with the configured secret");
    assert_eq!(data.header.alg, Algorithm::HS256);
    assert_eq!(data.claims["sub"], account.id.to_string());
    let iat = data.claims["iat"].as_u64().unwrap();
    let exp = data.claims["exp"].as_u64().unwrap();
    assert!(iat >= before && iat <= unix_now(), "iat {iat}");
    assert_eq!(exp - iat, 7 * 24 * 3600, "tokens live 7 days");
}

#[tokio::test]
async fn every_kind_of_bad_token_is_invalid_token() {
    let server = TestServer::start_with(|c| c.jwt_secret = Some(SECRET.into())).await;
    let (account, _) = server.create_mailbox("target").await;
    let (id, now) = (account.id, unix_now());

    // The control: a hand-made token exactly like the server's is accepted, so the forgeries
    // below fail for the one thing each changes.
    let genuine = forge(Algorithm::HS256, SECRET, id, 0, now, now + 3600);
    let me = expect_json(server.get("/api/me", Some(&genuine)).await, StatusCode::OK).await;
    assert_eq!(me["id"], id.to_string());

    let payload = b64(json!({"sub": id, "ver": 0, "iat": now, "exp": now + 3600})
        .to_string()
        .as_bytes());
    let unsigned = format!("{}.{payload}.", b64(br#"{"alg":"none","typ":"JWT"}"#));
    // Change one character in the middle of the signature (the last one may carry unused bits).
    let mut tampered: Vec<char> = genuine.chars().collect();
    let at = tampered.len() - 10;
    tampered[at] = if tampered[at] == 'x' { 'y' } else { 'x' };
    let tampered: String = tampered.into_iter().collect();
    let bad_tokens = [
        ("garbage", "garbage".to_string()),
        ("three dots", "a.b.c".to_string()),
        (
            "another secret",
            forge(Algorithm::HS256, "some other secret", id, 0, now, now + 3600),
        ),
        ("HS512", forge(Algorithm::HS512, SECRET, id, 0, now, now + 3600)),
        ("alg none", unsigned),
        ("tampered signature", tampered),
        (
            "expired",
            forge(Algorithm::HS256, SECRET, id, 0, now - 7200, now - 60),
        ),
        (
            "older token version",
            forge(Algorithm::HS256, SECRET, id, 1, now, now + 3600),
        ),
        (
            "unknown mailbox",
            forge(Algorithm::HS256, SECRET, Uuid::new_v4(), 0, now, now + 3600),
        ),
    ];
    for (what, token) in &bad_tokens {
        println!("token case: {what}");
        let response = server.get("/api/me", Some(token)).await;
        expect_error(response, StatusCode::UNAUTHORIZED, "invalid_token").await;
        let response = server
            .http()
            .delete(server.endpoint("/api/account"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        expect_error(response, StatusCode::UNAUTHORIZED, "invalid_token").await;
    }

    // Broken Authorization headers.
    let headers = [
        None,
        Some("Bearer".to_string()),
        Some("Bearer ".to_string()),
        Some(format!("Basic {}", account.token)),
        Some(account.token.clone()),
        Some(format!("Token {}", account.token)),
    ];
    for header in headers {
        println!("header case: {header:?}");
        for method in [Method::GET, Method::DELETE] {
            let path = if method == Method::GET {
                "/api/me"
            } else {
                "/api/account"
            };
            let mut request = server.http().request(method, server.endpoint(path));
            if let Some(value) = &header {
                request = request.header("authorization", value);
            }
            let response = request.send().await.unwrap();
            expect_error(response, StatusCode::UNAUTHORIZED, "invalid_token").await;
        }
    }

    // None of that touched the mailbox, and the scheme is case-insensitive.
    let response = server
        .http()
        .get(server.endpoint("/api/me"))
        .header("authorization", format!("bearer {}", account.token))
        .send()
        .await
        .unwrap();
    expect_json(response, StatusCode::OK).await;
}

#[tokio::test]
async fn a_token_from_another_server_is_invalid_token() {
    let one = TestServer::start().await;
    let two = TestServer::start().await;
    let (account, _) = two.create_mailbox("elsewhere").await;
    let response = one.get("/api/me", Some(&account.token)).await;
    expect_error(response, StatusCode::UNAUTHORIZED, "invalid_token").await;
    // The token is fine where it came from.
    expect_json(two.get("/api/me", Some(&account.token)).await, StatusCode::OK).await;
}

#[tokio::test]
async fn bodies_over_64_kib_are_payload_too_large() {
    let server = TestServer::start().await;
    let big = json!({"address": "big@mail.cx", "password": "x".repeat(70 * 1024)});
    for path in ["/api/accounts", "/api/token"] {
        let response = server.post_json(path, &big).await;
        expect_error(response, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    }
    // Just under the limit the body is read and judged on its content instead.
    let under = json!({"address": "big@mail.cx", "password": "x".repeat(60 * 1024)});
    let response = server.post_json("/api/accounts", &under).await;
    expect_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
}

#[tokio::test]
async fn a_chunked_body_over_64_kib_is_payload_too_large() {
    let server = TestServer::start().await;
    let mut stream = TcpStream::connect(server.running().http_addr).await.unwrap();
    let head = "POST /api/accounts HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
                Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
    let mut request = head.as_bytes().to_vec();
    let body = json!({"address": "chunked@mail.cx", "password": "y".repeat(80 * 1024)}).to_string();
    for chunk in body.as_bytes().chunks(8 * 1024) {
        request.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        request.extend_from_slice(chunk);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    // The server may answer before it has read everything; a failed write is fine then.
    let _ = stream.write_all(&request).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(
        answer
            .to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{answer}"
    );
    assert!(answer.contains(r#""error":"payload_too_large""#), "{answer}");
}

#[tokio::test]
async fn unknown_routes_are_json_404() {
    let server = TestServer::start().await;
    let (account, _) = server.create_mailbox("routes").await;
    let cases = [
        (Method::GET, "/"),
        (Method::GET, "/api"),
        (Method::GET, "/api/"),
        (Method::GET, "/api/nope"),
        (Method::POST, "/api/nope"),
        (Method::DELETE, "/api/accounts/everything"),
        (Method::GET, "/api/me/extra"),
        (Method::GET, "/index.html"),
        (Method::GET, "/API/DOMAINS"),
    ];
    for (method, path) in cases {
        for token in [None, Some(&account.token)] {
            let mut request = server.http().request(method.clone(), server.endpoint(path));
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            let response = request.send().await.unwrap();
            expect_error(response, StatusCode::NOT_FOUND, "not_found").await;
        }
    }
}

#[tokio::test]
async fn a_wrong_method_is_json_405() {
    let server = TestServer::start().await;
    let cases = [
        (Method::POST, "/api/domains"),
        (Method::DELETE, "/api/domains"),
        (Method::GET, "/api/accounts"),
        (Method::PUT, "/api/accounts"),
        (Method::GET, "/api/token"),
        (Method::POST, "/api/me"),
        (Method::PATCH, "/api/me"),
        (Method::DELETE, "/api/me"),
        (Method::GET, "/api/account"),
        (Method::POST, "/api/account"),
    ];
    for (method, path) in cases {
        let response = server
            .http()
            .request(method.clone(), server.endpoint(path))
            .header(CONTENT_TYPE, "application/json")
            .body("{}")
            .send()
            .await
            .unwrap();
        expect_error(response, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;
    }
}

/// Sends `GET /api/domains` from `http`; the status and `Retry-After` it got.
async fn domains_status(http: &reqwest::Client, server: &TestServer) -> (StatusCode, Option<u64>) {
    let response = http.get(server.endpoint("/api/domains")).send().await.unwrap();
    let retry_after = response.headers().get(RETRY_AFTER).map(|v| {
        v.to_str()
            .unwrap()
            .parse::<u64>()
            .expect("Retry-After is whole seconds")
    });
    let status = response.status();
    if status == StatusCode::TOO_MANY_REQUESTS {
        expect_error(response, status, "rate_limited").await;
    }
    (status, retry_after)
}

#[tokio::test]
async fn a_burst_is_rate_limited_with_retry_after_and_then_served_again() {
    let server = TestServer::start_with(|c| c.rate_limit = 8).await;
    let http = server.http().clone();
    let started = tokio::time::Instant::now();
    let mut results = Vec::new();
    for _ in 0..40 {
        results.push(domains_status(&http, &server).await);
    }
    let elapsed = started.elapsed().as_secs_f64();
    assert_eq!(results[0].0, StatusCode::OK, "a fresh client is served");
    let served = results.iter().filter(|(s, _)| *s == StatusCode::OK).count();
    let limited: Vec<u64> = results
        .iter()
        .filter(|(s, _)| *s == StatusCode::TOO_MANY_REQUESTS)
        .map(|(_, retry)| retry.expect("every 429 carries Retry-After"))
        .collect();
    assert_eq!(served + limited.len(), 40, "only 200s and 429s: {results:?}");
    assert!(
        !limited.is_empty(),
        "40 requests in {elapsed:.2}s were never limited"
    );
    // A burst of 16, then 8 a second for the time the loop took (plus one for rounding).
    let allowed = 16 + (8.0 * elapsed).ceil() as usize + 1;
    assert!(
        served <= allowed,
        "{served} served in {elapsed:.2}s, at most {allowed} allowed"
    );
    assert!(
        limited.iter().all(|&secs| secs >= 1),
        "Retry-After under 1 s: {limited:?}"
    );
    assert!(
        results.iter().all(|(s, r)| (*s == StatusCode::OK) == r.is_none()),
        "{results:?}"
    );

    // Honour the last Retry-After, then the client is served again.
    let wait = *limited.last().unwrap();
    tokio::time::sleep(Duration::from_secs(wait)).await;
    let status = wait_for(
        "the limit to lift",
        Duration::from_secs(10),
        Duration::from_millis(100),
        || {
            let http = http.clone();
            let server = &server;
            async move {
                let (status, _) = domains_status(&http, server).await;
                (status == StatusCode::OK).then_some(status)
            }
        },
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn each_client_ip_has_its_own_rate_limit() {
    let server = TestServer::start_with(|c| c.rate_limit = 8).await;
    let other_ip = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
    let other = reqwest::Client::builder()
        .local_address(other_ip)
        .build()
        .unwrap();
    let first = server.http().clone();
    let mut limited = false;
    for _ in 0..60 {
        if domains_status(&first, &server).await.0 == StatusCode::TOO_MANY_REQUESTS {
            limited = true;
            break;
        }
    }
    assert!(limited, "127.0.0.1 was never limited");
    assert_eq!(
        domains_status(&other, &server).await.0,
        StatusCode::OK,
        "127.0.0.2 is another client"
    );
}

#[tokio::test]
async fn the_typed_client_waits_out_a_429_when_asked_to() {
    let server = TestServer::start_with(|c| c.rate_limit = 8).await;
    let client = server.client();
    let mut refused = None;
    for _ in 0..60 {
        if let Err(error) = client.domains().await {
            refused = Some(error);
            break;
        }
    }
    let refused = refused.expect("the burst was never limited");
    assert_eq!(refused.code(), Some(ErrorCode::RateLimited));
    match refused {
        mailcx_common::ClientError::Api {
            status, retry_after, ..
        } => {
            assert_eq!(status, 429);
            assert!(retry_after.is_some_and(|s| s >= 1), "{retry_after:?}");
        }
        other => panic!("{other:?}"),
    }
    let domains = client
        .retry_rate_limited(5)
        .domains()
        .await
        .expect("served after waiting");
    assert_eq!(domains[0].domain, "mail.cx");
}

#[tokio::test]
async fn a_client_trickling_its_headers_is_cut_off() {
    let server = TestServer::start_with(|c| c.http_header_timeout = Duration::from_secs(1)).await;
    let mut stream = TcpStream::connect(server.running().http_addr).await.unwrap();
    stream
        .write_all(b"GET /api/domains HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    // The headers never end; the server must close the connection rather than wait forever.
    let mut answer = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut answer)).await;
    assert!(closed.is_ok(), "the connection was still open after 20 s");
    // The server goes on serving.
    let domains = server
        .client()
        .domains()
        .await
        .expect("domains after the stalled client");
    assert_eq!(domains.len(), 1);
}
