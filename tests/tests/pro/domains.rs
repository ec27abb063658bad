//! Custom domains, checked against a real DNS server run by the test (`mailcx_tests::dns`) that
//! the server asks through `--dns-resolver`: the TXT record decides `verified`, the MX record
//! `mx_configured`; a changed record counts at the next verify; a resolver that does not answer
//! is a clear error; a domain pending past its window answers 410; deleting a domain removes its
//! mailboxes with their mail; SMTP takes mail for a verified domain only.

use std::time::{Duration, Instant};

use mailcx_tests::dns::DnsServer;
use mailcx_tests::mail::{Smtp, text_message};
use mailcx_tests::mailcx_server::store::accounts::{self, NewAccount};
use mailcx_tests::mailcx_server::store::{self as server_store, pro};
use mailcx_tests::{PASSWORD, TestServer, credentials, expect_error, expect_json, is_wire_timestamp, keys};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use super::tokens::call;

/// A server that checks domains with `dns`.
async fn server_with(dns: &DnsServer) -> TestServer {
    let resolver = dns.addr();
    TestServer::start_with(move |config| config.dns_resolver = Some(resolver)).await
}

/// `POST /pro/api/domains` for `domain`, raw.
async fn add(server: &TestServer, credential: &str, domain: &str) -> reqwest::Response {
    call(
        server,
        Method::POST,
        "/pro/api/domains",
        credential,
        Some(json!({"domain": domain})),
    )
    .await
}

/// Adds `domain`, expecting 201; returns the body.
async fn added(server: &TestServer, credential: &str, domain: &str) -> Value {
    expect_json(add(server, credential, domain).await, StatusCode::CREATED).await
}

/// `POST /pro/api/domains/{id}/verify`, raw.
async fn verify(server: &TestServer, credential: &str, id: &str) -> reqwest::Response {
    let path = format!("/pro/api/domains/{id}/verify");
    call(server, Method::POST, &path, credential, None).await
}

/// Verifies, expecting 200; returns the body.
async fn verified(server: &TestServer, credential: &str, id: &str) -> Value {
    expect_json(verify(server, credential, id).await, StatusCode::OK).await
}

/// `GET /pro/api/domains`'s list.
async fn listed(server: &TestServer, credential: &str) -> Vec<Value> {
    let response = call(server, Method::GET, "/pro/api/domains", credential, None).await;
    let body = expect_json(response, StatusCode::OK).await;
    assert_eq!(keys(&body), ["domains"]);
    body["domains"].as_array().expect("a list").clone()
}

/// `DELETE /pro/api/domains/{id}`, raw.
async fn delete(server: &TestServer, credential: &str, id: &str) -> reqwest::Response {
    let path = format!("/pro/api/domains/{id}");
    call(server, Method::DELETE, &path, credential, None).await
}

/// The `ok` of the verify answer's record of `record_type`.
fn ok_of(check: &Value, record_type: &str) -> bool {
    let record = check["dns_records"]
        .as_array()
        .expect("records")
        .iter()
        .find(|r| r["type"] == record_type)
        .unwrap_or_else(|| panic!("no {record_type} record in {check}"));
    record["ok"]
        .as_bool()
        .unwrap_or_else(|| panic!("no ok in {record}"))
}

/// Sets in DNS exactly the records a created domain asks for.
fn publish(dns: &DnsServer, created: &Value) {
    for record in created["dns_records"].as_array().expect("records") {
        let (host, value) = (
            record["host"].as_str().unwrap(),
            record["value"].as_str().unwrap(),
        );
        match record["type"].as_str().unwrap() {
            "TXT" => dns.set_txt(host, &[value]),
            "MX" => dns.set_mx(host, &[(record["priority"].as_u64().unwrap() as u16, value)]),
            other => panic!("unexpected record type {other}"),
        }
    }
}

/// Adds `domain` for `credential` and verifies it against `dns`; returns its id.
async fn verified_domain(server: &TestServer, dns: &DnsServer, credential: &str, domain: &str) -> String {
    let created = added(server, credential, domain).await;
    publish(dns, &created);
    let id = created["id"].as_str().unwrap().to_string();
    let check = verified(server, credential, &id).await;
    assert_eq!(check["verify_status"], "verified", "{check}");
    id
}

/// Creates the mailbox `address` (password `PASSWORD`) with a Pro credential, as its owner does:
/// on a system domain or one of their verified domains.
async fn create_mailbox(server: &TestServer, credential: &str, address: &str) {
    let body = json!({"address": address, "password": PASSWORD});
    let response = call(server, Method::POST, "/api/accounts", credential, Some(body)).await;
    expect_json(response, StatusCode::CREATED).await;
}

/// Puts the mailbox `address` (password `PASSWORD`) of the Pro user `owner` on the domain
/// `domain_id` straight into the database beside the running server, as `POST /api/accounts`
/// stores one. Only for a mailbox on a pending domain, which no request can make: one whose
/// domain lost its verification (as a domain being deleted does).
async fn stored_mailbox_on(server: &TestServer, owner: &str, domain_id: &str, address: &str) {
    let db = server.db_path();
    let (owner, address) = (owner.to_string(), address.to_string());
    let domain_id = Uuid::parse_str(domain_id).unwrap();
    tokio::task::spawn_blocking(move || {
        let conn = server_store::open_for_admin(&db).unwrap();
        let user = pro::user_by_email(&conn, &owner).unwrap().expect("the Pro user");
        let hash = mailcx_tests::mailcx_server::auth::hash_password_now(PASSWORD).unwrap();
        let new = NewAccount {
            id: Uuid::new_v4(),
            address: &address,
            password_hash: &hash,
            quota: 52_428_800,
            created_at: 1_700_000_000,
            owner_id: Some(user.id),
            domain_id: Some(domain_id),
        };
        accounts::insert(&conn, &new).unwrap();
        server_store::mark_changed(&db).unwrap();
    })
    .await
    .unwrap();
}

/// Signs `address` in with `PASSWORD`; the raw answer.
async fn sign_in(server: &TestServer, address: &str) -> reqwest::Response {
    let body = serde_json::to_value(credentials(address, PASSWORD)).unwrap();
    server.post_json("/api/token", &body).await
}

/// The subjects in `address`'s mailbox.
async fn subjects(server: &TestServer, address: &str) -> Vec<String> {
    let session = expect_json(sign_in(server, address).await, StatusCode::OK).await;
    let token = session["token"].as_str().unwrap();
    let list = expect_json(server.get("/api/messages", Some(token)).await, StatusCode::OK).await;
    list["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["subject"].as_str().unwrap().to_string())
        .collect()
}

/// The reply to `RCPT TO:<to>` in a fresh transaction.
async fn rcpt(server: &TestServer, to: &str) -> u16 {
    let mut smtp = Smtp::open(server.smtp_addr()).await;
    smtp.expect("MAIL FROM:<sender@elsewhere.example>", 250).await;
    smtp.command(&format!("RCPT TO:<{to}>")).await.code
}

/// Sends one message with `subject` to `to`, expecting 250.
async fn send(server: &TestServer, to: &str, subject: &str) {
    let mut smtp = Smtp::open(server.smtp_addr()).await;
    let message = text_message("sender@elsewhere.example", to, subject, "hello");
    smtp.transaction("sender@elsewhere.example", &[to], &message)
        .await
        .assert_code(250);
}

#[tokio::test]
async fn a_domain_is_added_with_the_records_to_set_and_listed_as_pending() {
    let dns = DnsServer::start().await;
    let resolver = dns.addr();
    let server = TestServer::start_with(move |config| {
        config.dns_resolver = Some(resolver);
        config.mx_host = Some("inbound.mailcx.example".into());
    })
    .await;
    let jwt = server.create_pro_user("owner@example.com").await;
    // Letter case and a final dot do not matter; the name is stored lower-case.
    let created = added(&server, &jwt, "Example.COM.").await;
    assert_eq!(
        keys(&created),
        ["dns_records", "domain", "id", "verify_status", "verify_token"]
    );
    assert_eq!(created["domain"], "example.com");
    assert_eq!(created["verify_status"], "pending");
    let token = created["verify_token"].as_str().unwrap();
    let random = token.strip_prefix("mailcx-verify-").expect("the token's prefix");
    assert_eq!(random.len(), 32, "{token}");
    assert!(random.chars().all(|c| c.is_ascii_alphanumeric()), "{token}");
    assert_eq!(
        created["dns_records"],
        json!([
            {"type": "TXT", "host": "_mailcx-verify.example.com", "value": token},
            {"type": "MX", "host": "example.com", "value": "inbound.mailcx.example", "priority": 10},
        ])
    );
    // Each domain gets its own token.
    let other = added(&server, &jwt, "example.org").await;
    assert_ne!(other["verify_token"], created["verify_token"]);

    let domains = listed(&server, &jwt).await;
    assert_eq!(domains.len(), 2);
    let listed = &domains[0];
    assert_eq!(
        keys(listed),
        [
            "created_at",
            "domain",
            "id",
            "mx_configured",
            "verified_at",
            "verify_status",
            "verify_token"
        ]
    );
    assert_eq!(listed["id"], created["id"]);
    assert_eq!(listed["domain"], "example.com");
    assert_eq!(listed["verify_status"], "pending");
    assert_eq!(listed["verify_token"], created["verify_token"]);
    assert_eq!(listed["verified_at"], Value::Null);
    assert_eq!(listed["mx_configured"], false);
    assert!(
        is_wire_timestamp(listed["created_at"].as_str().unwrap()),
        "{listed}"
    );
    // Adding asks DNS nothing.
    assert_eq!(dns.queries(), 0);
}

#[tokio::test]
async fn the_mx_host_defaults_to_mx_of_the_first_system_domain() {
    let dns = DnsServer::start().await;
    let resolver = dns.addr();
    let server = TestServer::start_with(move |config| {
        config.dns_resolver = Some(resolver);
        config.domains = vec!["first.example".into(), "second.example".into()];
    })
    .await;
    let jwt = server.create_pro_user("owner@example.com").await;
    let created = added(&server, &jwt, "example.com").await;
    assert_eq!(created["dns_records"][1]["value"], "mx.first.example");
}

#[tokio::test]
async fn both_records_in_dns_verify_the_domain_and_configure_mx() {
    let dns = DnsServer::start().await;
    let server = server_with(&dns).await;
    let jwt = server.create_pro_user("owner@example.com").await;
    let created = added(&server, &jwt, "example.com").await;
    let id = created["id"].as_str().unwrap();
    publish(&dns, &created);
    let check = verified(&server, &jwt, id).await;
    assert_eq!(keys(&check), ["dns_records", "verify_status"]);
    assert_eq!(check["verify_status"], "verified");
    let token = created["verify_token"].as_str().unwrap();
    assert_eq!(
        check["dns_records"],
        json!([
            {"type": "TXT", "host": "_mailcx-verify.example.com", "value": token, "ok": true,
             "found": [token]},
            {"type": "MX", "host": "example.com", "value": "mx.mail.cx", "priority": 10, "ok": true,
             "found": ["10 mx.mail.cx"]},
        ])
    );
    // The server really asked: one TXT and one MX query at least.
    assert!(dns.queries() >= 2, "{} queries", dns.queries());
    let domain = &listed(&server, &jwt).await[0];
    assert_eq!(domain["verify_status"], "verified");
    assert_eq!(domain["mx_configured"], true);
    assert!(
        is_wire_timestamp(domain["verified_at"].as_str().unwrap()),
        "{domain}"
    );

    // The MX host compares without regard to case, and any priority will do.
    dns.set_mx(
        "example.com",
        &[(5, "backup.elsewhere.example"), (20, "MX.Mail.CX")],
    );
    let check = verified(&server, &jwt, id).await;
    assert!(ok_of(&check, "MX"), "{check}");
}

#[tokio::test]
async fn a_wrong_txt_value_leaves_the_domain_pending_until_it_is_fixed() {
    let dns = DnsServer::start().await;
    let server = server_with(&dns).await;
    let jwt = server.create_pro_user("owner@example.com").await;
    let created = added(&server, &jwt, "example.com").await;
    let id = created["id"].as_str().unwrap();
    publish(&dns, &created);
    // Another domain's token, or this one's with a typo, proves nothing.
    let token = created["verify_token"].as_str().unwrap();
    let typo = format!("{}x", &token[..token.len() - 1]);
    dns.set_txt(
        "_mailcx-verify.example.com",
        &["mailcx-verify-somebodyelse", &typo],
    );
    let check = verified(&server, &jwt, id).await;
    assert_eq!(check["verify_status"], "pending");
    assert!(!ok_of(&check, "TXT"), "{check}");
    assert!(ok_of(&check, "MX"), "{check}");
    // What DNS answered is said (extension), so the user can see the typo.
    assert_eq!(
        check["dns_records"][0]["found"],
        json!(["mailcx-verify-somebodyelse", typo]),
        "{check}"
    );
    let domain = &listed(&server, &jwt).await[0];
    assert_eq!(domain["verify_status"], "pending");
    assert_eq!(domain["verified_at"], Value::Null);
    // MX follows its own check even while pending.
    assert_eq!(domain["mx_configured"], true);

    // Fixed (beside an unrelated TXT record): the next verify sees it, though the wrong answer
    // came with an hour's TTL.
    dns.set_txt("_mailcx-verify.example.com", &["v=spf1 -all", token]);
    let check = verified(&server, &jwt, id).await;
    assert_eq!(check["verify_status"], "verified", "{check}");
    assert!(ok_of(&check, "TXT"));
}

#[tokio::test]
async fn a_missing_txt_record_leaves_the_domain_pending_until_it_is_set() {
    let dns = DnsServer::start().await;
    let server = server_with(&dns).await;
    let jwt = server.create_pro_user("owner@example.com").await;
    let created = added(&server, &jwt, "example.com").await;
    let id = created["id"].as_str().unwrap();
    // Nothing at all in DNS (NXDOMAIN): an answer, not an error.
    let check = verified(&server, &jwt, id).await;
    assert_eq!(check["verify_status"], "pending");
    assert!(!ok_of(&check, "TXT"));
    assert!(!ok_of(&check, "MX"));
    // The MX alone, the TXT name still unknown.
    dns.set_mx("example.com", &[(10, "mx.mail.cx")]);
    let check = verified(&server, &jwt, id).await;
    assert_eq!(check["verify_status"], "pending");
    assert!(!ok_of(&check, "TXT"));
    assert!(ok_of(&check, "MX"));
    // Set now: the "no such name" before is not remembered.
    publish(&dns, &created);
    let check = verified(&server, &jwt, id).await;
    assert_eq!(check["verify_status"], "verified", "{check}");
}

#[tokio::test]
async fn without_the_mx_record_a_domain_is_verified_but_mx_is_not_configured() {
    let dns = DnsServer::start().await;
    let server = server_with(&dns).await;
    let jwt = server.create_pro_user("owner@example.com").await;
    let created = added(&server, &jwt, "example.com").await;
    let id = created["id"].as_str().unwrap();
    let token = created["verify_token"].as_str().unwrap();
    dns.set_txt("_mailcx-verify.example.com", &[token]);
    let check = verified(&server, &jwt, id).await;
    assert_eq!(check["verify_status"], "verified");
    assert!(ok_of(&check, "TXT"));
    assert!(!ok_of(&check, "MX"));
    assert_eq!(listed(&server, &jwt).await[0]["mx_configured"], false);
    // An MX that points elsewhere is no better.
    dns.set_mx("example.com", &[(10, "mx.other-provider.example")]);
    let check = verified(&server, &jwt, id).await;
    assert!(!ok_of(&check, "MX"));
    // Pointed here: configured; taken away again: not any more. Ownership, once proven, stays.
    dns.set_mx("example.com", &[(10, "mx.mail.cx")]);
    assert!(ok_of(&verified(&server, &jwt, id).await, "MX"));
    assert_eq!(listed(&server, &jwt).await[0]["mx_configured"], true);
    dns.set_mx("example.com", &[]);
    dns.set_txt("_mailcx-verify.example.com", &[]);
    let check = verified(&server, &jwt, id).await;
    assert_eq!(check["verify_status"], "verified");
    assert!(!ok_of(&check, "TXT"));
    assert!(!ok_of(&check, "MX"));
    let domain = &listed(&server, &jwt).await[0];
    assert_eq!(domain["mx_configured"], false);
    assert_eq!(domain["verify_status"], "verified");
}

#[tokio::test]
async fn a_resolver_that_does_not_answer_is_a_clear_error_not_a_500() {
    // A UDP port that takes queries and never answers (and no TCP listener beside it).
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let resolver = silent.local_addr().unwrap();
    let server = TestServer::start_with(move |config| config.dns_resolver = Some(resolver)).await;
    let jwt = server.create_pro_user("owner@example.com").await;
    let created = added(&server, &jwt, "example.com").await;
    let id = created["id"].as_str().unwrap();
    let started = Instant::now();
    let message = expect_error(
        verify(&server, &jwt, id).await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
    )
    .await;
    assert!(message.contains("DNS resolver did not answer"), "{message}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    // Nothing about the domain changed.
    let domain = &listed(&server, &jwt).await[0];
    assert_eq!(domain["verify_status"], "pending");
    assert_eq!(domain["mx_configured"], false);
    drop(silent);
}

#[tokio::test]
async fn a_resolver_that_fails_the_lookup_is_a_clear_error_too() {
    let dns = DnsServer::start().await;
    let server = server_with(&dns).await;
    let jwt = server.create_pro_user("owner@example.com").await;
    let created = added(&server, &jwt, "example.com").await;
    publish(&dns, &created);
    dns.fail("_mailcx-verify.example.com");
    let message = expect_error(
        verify(&server, &jwt, created["id"].as_str().unwrap()).await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
    )
    .await;
    assert!(message.contains("_mailcx-verify.example.com"), "{message}");
    assert_eq!(listed(&server, &jwt).await[0]["verify_status"], "pending");
}

#[tokio::test]
async fn a_domain_pending_past_its_window_answers_410_and_frees_the_name() {
    let dns = DnsServer::start().await;
    let resolver = dns.addr();
    let server = TestServer::start_with(move |config| {
        config.dns_resolver = Some(resolver);
        config.domain_verify_window = Duration::from_secs(1);
    })
    .await;
    let alice = server.create_pro_user("alice@example.com").await;
    let bob = server.create_pro_user("bob@example.com").await;
    let stale = added(&server, &alice, "stale.example").await;
    let kept = added(&server, &alice, "kept.example").await;
    // Verified within the window: it never expires.
    publish(&dns, &kept);
    let kept_id = kept["id"].as_str().unwrap();
    assert_eq!(
        verified(&server, &alice, kept_id).await["verify_status"],
        "verified"
    );
    // Timestamps are whole seconds: past a 1 s window for sure after 2.2 s.
    tokio::time::sleep(Duration::from_millis(2200)).await;
    // The right records now are too late: no DNS query is even made.
    publish(&dns, &stale);
    let queries = dns.queries();
    expect_error(
        verify(&server, &alice, stale["id"].as_str().unwrap()).await,
        StatusCode::GONE,
        "domain_expired",
    )
    .await;
    assert_eq!(dns.queries(), queries);
    assert_eq!(
        verified(&server, &alice, kept_id).await["verify_status"],
        "verified"
    );
    // The lapsed claim does not keep the name from someone else; a verified one does.
    let taken = added(&server, &bob, "stale.example").await;
    assert_ne!(taken["verify_token"], stale["verify_token"]);
    expect_error(
        add(&server, &bob, "kept.example").await,
        StatusCode::CONFLICT,
        "domain_already_exists",
    )
    .await;
    let names: Vec<Value> = listed(&server, &alice)
        .await
        .iter()
        .map(|d| d["domain"].clone())
        .collect();
    assert_eq!(names, [json!("kept.example")]);
}

#[tokio::test]
async fn adding_refuses_bad_names_system_domains_duplicates_and_more_than_the_limit() {
    let dns = DnsServer::start().await;
    let server = server_with(&dns).await;
    let alice = server.create_pro_user("alice@example.com").await;
    let bob = server.create_pro_user("bob@example.com").await;
    for bad in [
        "",
        "localhost",
        "not a domain",
        "bad_domain.com",
        "-dash.example",
        "a..b.example",
        "ünicode.example",
        "example.com/path",
        &format!("{}.example", "a".repeat(64)),
    ] {
        let response = add(&server, &alice, bad).await;
        expect_error(response, StatusCode::BAD_REQUEST, "invalid_domain").await;
    }
    // The server's own domains, in any case: anyone may use them already.
    for system in ["mail.cx", "MAIL.CX."] {
        let message = expect_error(
            add(&server, &alice, system).await,
            StatusCode::BAD_REQUEST,
            "invalid_domain",
        )
        .await;
        assert!(message.contains("system domain"), "{message}");
    }
    let response = call(
        &server,
        Method::POST,
        "/pro/api/domains",
        &alice,
        Some(json!({"name": "x.example"})),
    )
    .await;
    expect_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;

    added(&server, &alice, "example.com").await;
    for (who, name) in [
        (&alice, "example.com"),
        (&bob, "Example.Com"),
        (&bob, "example.com."),
    ] {
        let response = add(&server, who, name).await;
        expect_error(response, StatusCode::CONFLICT, "domain_already_exists").await;
    }

    // The operator sets Bob's limit to 2: the third is refused, and frees up on delete.
    let db = server.db_path();
    tokio::task::spawn_blocking(move || {
        mailcx_tests::mailcx_server::admin::run(
            &db,
            &mailcx_tests::mailcx_server::config::UserCommand::Limits {
                email: "bob@example.com".into(),
                mailboxes: None,
                domains: Some(2),
                tokens: None,
            },
        )
    })
    .await
    .unwrap()
    .unwrap();
    let first = added(&server, &bob, "one.example").await;
    added(&server, &bob, "two.example").await;
    let response = add(&server, &bob, "three.example").await;
    expect_error(response, StatusCode::FORBIDDEN, "domain_limit_reached").await;
    let response = delete(&server, &bob, first["id"].as_str().unwrap()).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    added(&server, &bob, "three.example").await;
    // Alice's default limit is the contract's 10.
    for n in 1..10 {
        added(&server, &alice, &format!("d{n}.example")).await;
    }
    let response = add(&server, &alice, "d10.example").await;
    expect_error(response, StatusCode::FORBIDDEN, "domain_limit_reached").await;
}

#[tokio::test]
async fn another_users_domain_is_not_found_and_bad_credentials_are_401() {
    let dns = DnsServer::start().await;
    let server = server_with(&dns).await;
    let alice = server.create_pro_user("alice@example.com").await;
    let bob = server.create_pro_user("bob@example.com").await;
    let created = added(&server, &alice, "example.com").await;
    publish(&dns, &created);
    let id = created["id"].as_str().unwrap();
    let unknown = Uuid::new_v4().to_string();
    for (credential, id) in [(&bob, id), (&alice, unknown.as_str()), (&alice, "not-a-uuid")] {
        expect_error(
            verify(&server, credential, id).await,
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
        expect_error(
            delete(&server, credential, id).await,
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
    }
    assert!(listed(&server, &bob).await.is_empty());
    // Bob's attempts changed nothing of Alice's.
    let domain = &listed(&server, &alice).await[0];
    assert_eq!(domain["verify_status"], "pending");
    // A mailbox's token, or none, is no Pro credential.
    let (mailbox, _) = server.create_mailbox("plain").await;
    for credential in [
        mailbox.token.as_str(),
        "",
        "tm_pro_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ] {
        let response = call(&server, Method::GET, "/pro/api/domains", credential, None).await;
        expect_error(response, StatusCode::UNAUTHORIZED, "invalid_token").await;
        let response = add(&server, credential, "other.example").await;
        expect_error(response, StatusCode::UNAUTHORIZED, "invalid_token").await;
        let response = verify(&server, credential, id).await;
        expect_error(response, StatusCode::UNAUTHORIZED, "invalid_token").await;
        let response = delete(&server, credential, id).await;
        expect_error(response, StatusCode::UNAUTHORIZED, "invalid_token").await;
    }
}

#[tokio::test]
async fn smtp_takes_mail_for_a_verified_domains_mailbox_and_refuses_a_pending_ones() {
    let dns = DnsServer::start().await;
    let server = server_with(&dns).await;
    let jwt = server.create_pro_user("owner@example.com").await;
    verified_domain(&server, &dns, &jwt, "live.example").await;
    let pending = added(&server, &jwt, "pending.example").await;
    create_mailbox(&server, &jwt, "team@live.example").await;
    stored_mailbox_on(
        &server,
        "owner@example.com",
        pending["id"].as_str().unwrap(),
        "team@pending.example",
    )
    .await;

    // A verified domain's mailbox takes mail like a system domain's, in any letter case.
    send(&server, "team@live.example", "first").await;
    send(&server, "Team@LIVE.Example", "second").await;
    let mut got = subjects(&server, "team@live.example").await;
    got.sort();
    assert_eq!(got, ["first", "second"]);
    // Its unknown local parts are refused like a system domain's; a local part that SMTP allows
    // but the address rule does not is 553.
    assert_eq!(rcpt(&server, "nobody@live.example").await, 550);
    assert_eq!(rcpt(&server, "a!b@live.example").await, 553);
    // A pending domain's mailbox takes none, nor does a domain nobody added.
    assert_eq!(rcpt(&server, "team@pending.example").await, 550);
    assert_eq!(rcpt(&server, "team@unknown.example").await, 550);
    assert!(subjects(&server, "team@pending.example").await.is_empty());

    // Verified now: its mail is taken from the next RCPT on.
    publish(&dns, &pending);
    let check = verified(&server, &jwt, pending["id"].as_str().unwrap()).await;
    assert_eq!(check["verify_status"], "verified");
    send(&server, "team@pending.example", "now").await;
    assert_eq!(subjects(&server, "team@pending.example").await, ["now"]);
}

#[tokio::test]
async fn deleting_a_domain_removes_its_mailboxes_and_their_mail_and_nothing_else() {
    let dns = DnsServer::start().await;
    let server = server_with(&dns).await;
    let jwt = server.create_pro_user("owner@example.com").await;
    let doomed = verified_domain(&server, &dns, &jwt, "doomed.example").await;
    verified_domain(&server, &dns, &jwt, "kept.example").await;
    for local in ["a", "b", "c"] {
        create_mailbox(&server, &jwt, &format!("{local}@doomed.example")).await;
    }
    create_mailbox(&server, &jwt, "a@kept.example").await;
    let (plain, _) = server.create_mailbox("a").await;
    for to in [
        "a@doomed.example",
        "b@doomed.example",
        "a@kept.example",
        &plain.address,
    ] {
        send(&server, to, "hello").await;
    }
    // More mail than one batch of the delete, for one mailbox.
    let mut smtp = Smtp::open(server.smtp_addr()).await;
    for n in 0..250 {
        let message = text_message(
            "sender@elsewhere.example",
            "c@doomed.example",
            &format!("m{n}"),
            "x",
        );
        smtp.transaction("sender@elsewhere.example", &["c@doomed.example"], &message)
            .await
            .assert_code(250);
    }
    drop(smtp);

    let response = delete(&server, &jwt, &doomed).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(response.text().await.unwrap().is_empty());
    for local in ["a", "b", "c"] {
        let address = format!("{local}@doomed.example");
        let response = sign_in(&server, &address).await;
        expect_error(response, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
        assert_eq!(rcpt(&server, &address).await, 550);
    }
    // Not a message of theirs is left in the database.
    let db = server.db_path();
    let (mailboxes, messages): (i64, i64) = tokio::task::spawn_blocking(move || {
        let conn = rusqlite::Connection::open(db).unwrap();
        let mailboxes = conn
            .query_row(
                "SELECT COUNT(*) FROM accounts WHERE address LIKE '%@doomed.example'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        let messages = conn
            .query_row(
                "SELECT COUNT(*) FROM messages WHERE account_id NOT IN (SELECT id FROM accounts)",
                [],
                |r| r.get(0),
            )
            .unwrap();
        (mailboxes, messages)
    })
    .await
    .unwrap();
    assert_eq!((mailboxes, messages), (0, 0));
    // The other domain, its mailbox and a system domain's mailbox are untouched.
    let names: Vec<Value> = listed(&server, &jwt)
        .await
        .iter()
        .map(|d| d["domain"].clone())
        .collect();
    assert_eq!(names, [json!("kept.example")]);
    assert_eq!(subjects(&server, "a@kept.example").await, ["hello"]);
    assert_eq!(subjects(&server, &plain.address).await, ["hello"]);
    // Gone: a second delete is 404, and the name can be added again.
    let response = delete(&server, &jwt, &doomed).await;
    expect_error(response, StatusCode::NOT_FOUND, "not_found").await;
    added(&server, &jwt, "doomed.example").await;
}
