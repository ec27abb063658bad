//! What survives a restart on the same database file (mailboxes, the generated JWT secret, domain
//! ids), what the file holds, and start-up failures that must be clear errors, not panics.

use mailcx_server::{Config, Server};
use mailcx_tests::{PASSWORD, TestServer, credentials, expect_error, expect_json};
use reqwest::StatusCode;

#[tokio::test]
async fn mailboxes_and_old_tokens_survive_a_restart() {
    let mut server = TestServer::start().await;
    let (account, client) = server.create_mailbox("durable").await;
    let before = client.me().await.unwrap();

    server.restart().await;
    // The old token still works: the generated secret was kept in the database.
    let me = expect_json(server.get("/api/me", Some(&account.token)).await, StatusCode::OK).await;
    assert_eq!(
        serde_json::to_value(&before).unwrap(),
        me,
        "the mailbox is unchanged"
    );
    let signed = server
        .client()
        .sign_in(&credentials("durable@mail.cx", PASSWORD))
        .await
        .unwrap();
    assert_eq!(signed.id, account.id);
    assert_eq!(
        server.client().with_token(signed.token).me().await.unwrap(),
        before
    );
    // And the address is still taken.
    let body = serde_json::json!({"address": "durable@mail.cx", "password": PASSWORD});
    let response = server.post_json("/api/accounts", &body).await;
    expect_error(response, StatusCode::CONFLICT, "address_taken").await;
}

#[tokio::test]
async fn a_configured_secret_wins_over_the_stored_one_without_replacing_it() {
    let mut server = TestServer::start().await;
    let (account, _) = server.create_mailbox("secret").await;

    server
        .restart_with(|c| c.jwt_secret = Some("an operator's secret".into()))
        .await;
    let response = server.get("/api/me", Some(&account.token)).await;
    expect_error(response, StatusCode::UNAUTHORIZED, "invalid_token").await;
    let signed = server
        .client()
        .sign_in(&credentials("secret@mail.cx", PASSWORD))
        .await
        .unwrap();
    let configured_token = signed.token;
    expect_json(
        server.get("/api/me", Some(&configured_token)).await,
        StatusCode::OK,
    )
    .await;

    // Back to the generated secret: the first token works again, the other one does not.
    server.restart_with(|c| c.jwt_secret = None).await;
    expect_json(server.get("/api/me", Some(&account.token)).await, StatusCode::OK).await;
    let response = server.get("/api/me", Some(&configured_token)).await;
    expect_error(response, StatusCode::UNAUTHORIZED, "invalid_token").await;
}

#[tokio::test]
async fn a_deleted_mailbox_stays_deleted_after_a_restart() {
    let mut server = TestServer::start().await;
    let (account, client) = server.create_mailbox("erased").await;
    client.delete_account().await.unwrap();
    server.restart().await;
    let response = server.get("/api/me", Some(&account.token)).await;
    expect_error(response, StatusCode::UNAUTHORIZED, "invalid_token").await;
    let body = serde_json::json!({"address": "erased@mail.cx", "password": PASSWORD});
    let response = server.post_json("/api/token", &body).await;
    expect_error(response, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
}

#[tokio::test]
async fn domain_ids_are_stable_across_restarts() {
    let domains = || vec!["mail.cx".to_string(), "example.org".to_string()];
    let mut server = TestServer::start_with(|c| c.domains = domains()).await;
    let first = server.client().domains().await.unwrap();
    server.restart().await;
    assert_eq!(server.client().domains().await.unwrap(), first);

    // The id belongs to the name: reordering the list moves the default, not the ids.
    server.restart_with(|c| c.domains.reverse()).await;
    let reordered = server.client().domains().await.unwrap();
    let names: Vec<&str> = reordered.iter().map(|d| d.domain.as_str()).collect();
    assert_eq!(names, ["example.org", "mail.cx"]);
    assert!(reordered[0].default && !reordered[1].default);
    assert_eq!(reordered[0].id, first[1].id);
    assert_eq!(reordered[1].id, first[0].id);
}

#[tokio::test]
async fn the_file_holds_lower_cased_addresses_and_argon2id_hashes_only() {
    let mut server = TestServer::start().await;
    let credentials = credentials("Stored.Case@MAIL.cx", PASSWORD);
    server.client().create_account(&credentials).await.unwrap();
    server.stop().await;

    let db = rusqlite::Connection::open(server.db_path()).unwrap();
    let (address, hash): (String, String) = db
        .query_row("SELECT address, password_hash FROM accounts", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(address, "stored.case@mail.cx");
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "not Argon2id with the contract's cost: {hash}"
    );
    assert!(!hash.contains(PASSWORD));
    let raw = std::fs::read(server.db_path()).unwrap();
    let needle = PASSWORD.as_bytes();
    assert!(
        !raw.windows(needle.len()).any(|w| w == needle),
        "the password is in the file"
    );
}

fn user_version(path: &std::path::Path) -> i64 {
    let db = rusqlite::Connection::open(path).unwrap();
    db.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap()
}

#[tokio::test]
async fn a_database_from_a_newer_build_is_refused_and_left_alone() {
    let mut server = TestServer::start().await;
    server.create_mailbox("future").await;
    server.stop().await;
    let path = server.db_path();
    let known = user_version(&path);
    assert!(known >= 1, "the schema is versioned");
    let newer = known + 1;
    rusqlite::Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", newer)
        .unwrap();

    let error = match Server::start(server.config().clone()).await {
        Ok(running) => {
            running.shutdown().await;
            panic!("a database of schema {newer} was accepted by a build that knows {known}");
        }
        Err(error) => format!("{error:#}"),
    };
    assert!(error.contains("newer"), "{error}");
    assert!(
        error.contains(&path.display().to_string()),
        "the error names the file: {error}"
    );
    assert_eq!(user_version(&path), newer, "the refused file was not migrated");
}

async fn start_error(config: Config) -> String {
    match Server::start(config).await {
        Ok(running) => {
            running.shutdown().await;
            panic!("the server started");
        }
        Err(error) => format!("{error:#}"),
    }
}

#[tokio::test]
async fn a_directory_given_as_the_database_fails_start_up_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let error = start_error(Config::ephemeral(dir.path())).await;
    assert!(
        error.contains(&dir.path().display().to_string()),
        "the error names the path: {error}"
    );
    assert!(error.lines().count() <= 2, "{error}");
}

#[tokio::test]
async fn a_database_path_that_cannot_be_created_fails_start_up_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"not a directory").unwrap();
    let path = file.join("sub").join("mailcx.db");
    let error = start_error(Config::ephemeral(&path)).await;
    assert!(
        error.contains(&path.display().to_string()),
        "the error names the path: {error}"
    );
    assert!(
        error.to_lowercase().contains("not a directory"),
        "the error says why: {error}"
    );
    assert_eq!(
        std::fs::read(&file).unwrap(),
        b"not a directory",
        "the file is untouched"
    );
}

#[tokio::test]
async fn a_file_that_is_not_a_database_fails_start_up_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mailcx.db");
    let junk = b"this is not an SQLite database, just some text that is long enough".repeat(100);
    std::fs::write(&path, &junk).unwrap();
    let error = start_error(Config::ephemeral(&path)).await;
    assert!(
        error.contains(&path.display().to_string()),
        "the error names the path: {error}"
    );
    assert_eq!(std::fs::read(&path).unwrap(), junk, "the file is untouched");
}

#[tokio::test]
async fn a_second_server_on_the_same_file_is_refused_until_the_first_stops() {
    let mut server = TestServer::start().await;
    let (account, _) = server.create_mailbox("single").await;
    let second = Server::start(Config::ephemeral(server.db_path())).await;
    let error = match second {
        Ok(_) => panic!("a second server started on a database in use"),
        Err(e) => format!("{e:#}"),
    };
    assert!(error.contains("in use by another mailcx server"), "{error}");
    // The first is unharmed, and once it stops the file can be opened again.
    let me = expect_json(server.get("/api/me", Some(&account.token)).await, StatusCode::OK).await;
    assert_eq!(me["address"], "single@mail.cx");
    server.stop().await;
    let again = Server::start(Config::ephemeral(server.db_path()))
        .await
        .expect("the file is free again");
    again.shutdown().await;
}
