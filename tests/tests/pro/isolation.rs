//! The isolation matrix: two Pro users, each holding a mailbox, an API token, a custom domain and
//! a webhook with deliveries, beside an anonymous mailbox. Across every Pro route, one user's ids
//! answer the other exactly as ids that do not exist do (404, the same body), the anonymous
//! mailbox is nobody's, credentials that are not Pro ones are 401, lists show only the caller's
//! own, and nothing one user tried changed what the other holds.

use std::time::Duration;

use mailcx_tests::dns::DnsServer;
use mailcx_tests::mail::{deliver, text_message};
use mailcx_tests::{PASSWORD, TestServer, expect_error, expect_json, read, wait_for};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use super::tokens::{call, mint};

const SENDER: &str = "isolation@example.org";
/// How long a test waits for the webhook worker.
const PATIENCE: Duration = Duration::from_secs(30);

/// What a route's `{id}` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Account,
    Token,
    Domain,
    Webhook,
}

/// One Pro route: method, path (`{id}` stands for an id of `kind`), and a body that is valid
/// for it, so that only the caller or the id decides the answer.
struct Route {
    method: Method,
    path: &'static str,
    kind: Option<Kind>,
    body: Option<Value>,
}

impl Route {
    /// The path with `id` in place of `{id}`.
    fn path_with(&self, id: &str) -> String {
        self.path.replace("{id}", id)
    }
}

/// Every route under `/pro/api` but sign-in, which takes no credential.
fn every_pro_route() -> Vec<Route> {
    let route = |method: Method, path: &'static str, kind: Option<Kind>, body: Option<Value>| Route {
        method,
        path,
        kind,
        body,
    };
    let password = json!({"password": "a brand new secret"});
    let webhook = json!({"url": "http://127.0.0.1:1/other", "events": ["email.received"]});
    vec![
        route(Method::GET, "/pro/api/accounts", None, None),
        route(
            Method::DELETE,
            "/pro/api/accounts/{id}",
            Some(Kind::Account),
            None,
        ),
        route(
            Method::PUT,
            "/pro/api/accounts/{id}/reset-password",
            Some(Kind::Account),
            Some(password),
        ),
        route(
            Method::GET,
            "/pro/api/accounts/{id}/messages",
            Some(Kind::Account),
            None,
        ),
        route(Method::GET, "/pro/api/tokens", None, None),
        route(Method::POST, "/pro/api/tokens", None, Some(json!({"name": "x"}))),
        route(Method::DELETE, "/pro/api/tokens/{id}", Some(Kind::Token), None),
        route(Method::GET, "/pro/api/domains", None, None),
        route(
            Method::POST,
            "/pro/api/domains",
            None,
            Some(json!({"domain": "new.example"})),
        ),
        route(Method::DELETE, "/pro/api/domains/{id}", Some(Kind::Domain), None),
        route(
            Method::POST,
            "/pro/api/domains/{id}/verify",
            Some(Kind::Domain),
            None,
        ),
        route(Method::GET, "/pro/api/webhooks", None, None),
        route(Method::POST, "/pro/api/webhooks", None, Some(webhook)),
        route(
            Method::DELETE,
            "/pro/api/webhooks/{id}",
            Some(Kind::Webhook),
            None,
        ),
        route(
            Method::POST,
            "/pro/api/webhooks/{id}/rotate",
            Some(Kind::Webhook),
            None,
        ),
        route(
            Method::GET,
            "/pro/api/webhooks/{id}/deliveries",
            Some(Kind::Webhook),
            None,
        ),
    ]
}

/// One Pro user and what they hold.
struct Holder {
    jwt: String,
    /// An API token of theirs, and its id.
    token: String,
    token_id: String,
    /// Their mailbox: id, address and its own JWT.
    account: String,
    address: String,
    account_token: String,
    domain: String,
    webhook: String,
    webhook_secret: String,
}

impl Holder {
    fn id(&self, kind: Kind) -> &str {
        match kind {
            Kind::Account => &self.account,
            Kind::Token => &self.token_id,
            Kind::Domain => &self.domain,
            Kind::Webhook => &self.webhook,
        }
    }
}

/// Both users, the anonymous mailbox (id and JWT), and the DNS server the domains are checked
/// against (it must outlive the test).
struct World {
    server: TestServer,
    alice: Holder,
    bob: Holder,
    anonymous: (String, String),
    _dns: DnsServer,
}

/// A Pro user `name@example.com` with a mailbox `name@<system domain>`, an API token, the
/// (pending) domain `name.example` and a webhook to a closed port.
async fn holder(server: &TestServer, name: &str) -> Holder {
    let jwt = server.create_pro_user(&format!("{name}@example.com")).await;
    let (token_id, token) = mint(server, &jwt, name).await;
    let address = server.address(name);
    let body = json!({"address": address, "password": PASSWORD});
    let account = expect_json(
        call(server, Method::POST, "/api/accounts", &token, Some(body)).await,
        StatusCode::CREATED,
    )
    .await;
    let body = json!({"domain": format!("{name}.example")});
    let domain = expect_json(
        call(server, Method::POST, "/pro/api/domains", &jwt, Some(body)).await,
        StatusCode::CREATED,
    )
    .await;
    let body = json!({"url": format!("http://127.0.0.1:1/{name}"), "events": ["email.received"]});
    let webhook = expect_json(
        call(server, Method::POST, "/pro/api/webhooks", &jwt, Some(body)).await,
        StatusCode::CREATED,
    )
    .await;
    let text = |v: &Value, key: &str| v[key].as_str().unwrap().to_string();
    Holder {
        jwt,
        token,
        token_id,
        account: text(&account, "id"),
        address,
        account_token: text(&account, "token"),
        domain: text(&domain, "id"),
        webhook: text(&webhook, "id"),
        webhook_secret: text(&webhook, "secret"),
    }
}

/// The deliveries listed for `holder`'s webhook.
async fn deliveries(server: &TestServer, holder: &Holder) -> Vec<Value> {
    let path = format!("/pro/api/webhooks/{}/deliveries", holder.webhook);
    let list = expect_json(
        call(server, Method::GET, &path, &holder.jwt, None).await,
        StatusCode::OK,
    )
    .await;
    list["deliveries"].as_array().unwrap().clone()
}

/// Two users holding one of everything, and mail to each one's mailbox, so each webhook has a
/// delivery (a failed one: the target's port is closed).
async fn world() -> World {
    let dns = DnsServer::start().await;
    let resolver = dns.addr();
    let server = TestServer::start_with(move |config| {
        config.dns_resolver = Some(resolver);
        config.webhook_allow_private = true;
    })
    .await;
    let alice = holder(&server, "alice").await;
    let bob = holder(&server, "bob").await;
    let (anonymous, _) = server.create_mailbox("anon").await;
    for holder in [&alice, &bob] {
        let message = text_message(SENDER, &holder.address, "hello", "Body");
        deliver(server.smtp_addr(), SENDER, &[&holder.address], &message).await;
        wait_for(
            "a delivery attempt",
            PATIENCE,
            Duration::from_millis(20),
            || async { (!deliveries(&server, holder).await.is_empty()).then_some(()) },
        )
        .await;
    }
    World {
        server,
        alice,
        bob,
        anonymous: (anonymous.id.to_string(), anonymous.token),
        _dns: dns,
    }
}

/// Calls `route` with `credential` and `id`; returns the status and body text.
async fn answer(server: &TestServer, route: &Route, credential: &str, id: &str) -> (StatusCode, String) {
    let response = call(
        server,
        route.method.clone(),
        &route.path_with(id),
        credential,
        route.body.clone(),
    )
    .await;
    let (status, _, body) = read(response).await;
    (status, body)
}

#[tokio::test]
async fn another_users_ids_answer_exactly_as_ids_that_do_not_exist() {
    let world = world().await;
    let server = &world.server;
    let anonymous_id = world.anonymous.0.as_str();
    let mut checked = 0;
    for (caller, other) in [(&world.alice, &world.bob), (&world.bob, &world.alice)] {
        for credential in [&caller.jwt, &caller.token] {
            for route in every_pro_route() {
                let Some(kind) = route.kind else { continue };
                let unknown = answer(server, &route, credential, &Uuid::new_v4().to_string()).await;
                assert_eq!(
                    unknown.0,
                    StatusCode::NOT_FOUND,
                    "{} {}: {unknown:?}",
                    route.method,
                    route.path
                );
                assert!(unknown.1.contains("\"not_found\""), "{unknown:?}");
                let mut foreign = vec![other.id(kind).to_string(), "not-a-uuid".to_string()];
                if kind == Kind::Account {
                    // The anonymous mailbox is nobody's.
                    foreign.push(anonymous_id.to_string());
                }
                for id in foreign {
                    let got = answer(server, &route, credential, &id).await;
                    assert_eq!(
                        got,
                        unknown,
                        "{} {} with {id}",
                        route.method,
                        route.path_with(&id)
                    );
                    checked += 1;
                }
            }
        }
    }
    // Three mailbox routes with three foreign ids, six other routes with two; both ways, with
    // both kinds of credential.
    assert_eq!(checked, 2 * 2 * (3 * 3 + 6 * 2), "every id route was checked");
    assert_everything_intact(&world).await;
}

#[tokio::test]
async fn credentials_that_are_not_pro_ones_are_401_on_every_pro_route() {
    let world = world().await;
    let server = &world.server;
    // A revoked token of alice's.
    let (revoked_id, revoked) = mint(server, &world.alice.jwt, "revoked").await;
    let path = format!("/pro/api/tokens/{revoked_id}");
    let response = call(server, Method::DELETE, &path, &world.alice.jwt, None).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let credentials = [
        world.anonymous.1.as_str(),
        world.alice.account_token.as_str(),
        revoked.as_str(),
        "tm_pro_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "garbage",
        "",
    ];
    for route in every_pro_route() {
        // The owner's own ids: only the credential is wrong.
        let id = route.kind.map_or("", |kind| world.alice.id(kind));
        for credential in credentials {
            let response = call(
                server,
                route.method.clone(),
                &route.path_with(id),
                credential,
                route.body.clone(),
            )
            .await;
            expect_error(response, StatusCode::UNAUTHORIZED, "invalid_token").await;
        }
    }
    assert_everything_intact(&world).await;
}

#[tokio::test]
async fn lists_show_only_the_callers_own() {
    let world = world().await;
    let server = &world.server;
    for (caller, other) in [(&world.alice, &world.bob), (&world.bob, &world.alice)] {
        for (path, key, own) in [
            ("/pro/api/accounts", "accounts", &caller.account),
            ("/pro/api/tokens", "tokens", &caller.token_id),
            ("/pro/api/domains", "domains", &caller.domain),
            ("/pro/api/webhooks", "webhooks", &caller.webhook),
        ] {
            let list = expect_json(
                call(server, Method::GET, path, &caller.token, None).await,
                StatusCode::OK,
            )
            .await;
            let ids: Vec<&str> = list[key]
                .as_array()
                .unwrap()
                .iter()
                .map(|item| item["id"].as_str().unwrap())
                .collect();
            assert_eq!(ids, [own.as_str()], "{path}: {list}");
            let text = list.to_string();
            for foreign in [&other.account, &other.token_id, &other.domain, &other.webhook] {
                assert!(!text.contains(foreign.as_str()), "{path} shows {foreign}: {text}");
            }
            assert!(
                !text.contains(&world.anonymous.0),
                "{path} shows the anonymous mailbox"
            );
        }
        // Deliveries: only the caller's own webhook's events, never the other's.
        let own = deliveries(server, caller).await;
        let theirs = deliveries(server, other).await;
        assert!(!own.is_empty());
        for delivery in &own {
            assert!(
                theirs.iter().all(|t| t["event_id"] != delivery["event_id"]),
                "an event of one user's shows in the other's deliveries"
            );
        }
        // The messages of the caller's mailbox are the caller's mail only.
        let path = format!("/pro/api/accounts/{}/messages", caller.account);
        let list = expect_json(
            call(server, Method::GET, &path, &caller.jwt, None).await,
            StatusCode::OK,
        )
        .await;
        assert_eq!(list["messages"].as_array().unwrap().len(), 1, "{list}");
    }
}

/// Everything both users hold is still there, unchanged: each mailbox signs in with its
/// password and its token works, each API token works, each domain and webhook is listed with
/// the same secret, and each mailbox still has its one message.
async fn assert_everything_intact(world: &World) {
    let server = &world.server;
    for holder in [&world.alice, &world.bob] {
        let response = server.get("/api/me", Some(&holder.account_token)).await;
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "{}'s mailbox token",
            holder.address
        );
        let body = json!({"address": holder.address, "password": PASSWORD});
        expect_json(server.post_json("/api/token", &body).await, StatusCode::OK).await;
        let messages = expect_json(
            server.get("/api/messages", Some(&holder.account_token)).await,
            StatusCode::OK,
        )
        .await;
        assert_eq!(messages["messages"].as_array().unwrap().len(), 1);
        let domains = expect_json(
            call(server, Method::GET, "/pro/api/domains", &holder.token, None).await,
            StatusCode::OK,
        )
        .await;
        assert_eq!(domains["domains"][0]["id"], holder.domain.as_str());
        let hooks = expect_json(
            call(server, Method::GET, "/pro/api/webhooks", &holder.token, None).await,
            StatusCode::OK,
        )
        .await;
        assert_eq!(hooks["webhooks"][0]["id"], holder.webhook.as_str());
        assert_eq!(hooks["webhooks"][0]["secret"], holder.webhook_secret.as_str());
        let tokens = expect_json(
            call(server, Method::GET, "/pro/api/tokens", &holder.jwt, None).await,
            StatusCode::OK,
        )
        .await;
        let own = tokens["tokens"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["id"] == holder.token_id.as_str())
            .cloned()
            .unwrap();
        assert!(own["revoked_at"].is_null(), "{own}");
    }
    let response = server.get("/api/me", Some(&world.anonymous.1)).await;
    assert_eq!(response.status(), StatusCode::OK, "the anonymous mailbox");
}
