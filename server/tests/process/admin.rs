//! The operator's commands (`mailcx-server user ...`) as a separate process, against the database
//! of a server that is running: their changes count on that server's next request.

use std::io::Write;
use std::process::{Output, Stdio};

use serde_json::{Value, json};

use crate::binary::{server_command, start_binary, terminate};

/// Runs `mailcx-server --db DB user ARGS`, feeding `stdin`; returns its output.
fn user(db: &std::path::Path, args: &[&str], stdin: &str) -> Output {
    let mut child = server_command()
        .arg("--db")
        .arg(db)
        .arg("user")
        .args(args)
        .stdin(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().expect("the command ends")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

async fn login(url: &str, email: &str, password: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{url}/pro/api/login"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_operator_manages_pro_users_beside_a_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("mailcx.db");
    let (mut server, url) = start_binary(&db, &[]);

    let added = user(&db, &["add", "Owner@Example.com"], "first-password\n");
    assert!(added.status.success(), "{}", text(&added));
    let again = user(&db, &["add", "owner@example.com"], "first-password\n");
    assert!(!again.status.success());
    assert!(text(&again).contains("exists already"), "{}", text(&again));
    let short = user(&db, &["add", "other@example.com"], "abc\n");
    assert!(!short.status.success(), "a password under the rule is refused");

    let response = login(&url, "owner@example.com", "first-password").await;
    assert_eq!(response.status(), 200);
    let jwt = response.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let tokens = |credential: String| {
        let url = url.clone();
        async move {
            reqwest::Client::new()
                .get(format!("{url}/pro/api/tokens"))
                .bearer_auth(credential)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(tokens(jwt.clone()).await, 200);

    let list = user(&db, &["list"], "");
    assert!(list.status.success());
    let listed = text(&list);
    assert!(listed.contains("owner@example.com"), "{listed}");
    assert!(listed.contains("0/1000"), "{listed}");

    let limits = user(&db, &["limits", "owner@example.com", "--mailboxes", "5"], "");
    assert!(limits.status.success(), "{}", text(&limits));
    assert!(text(&user(&db, &["list"], "")).contains("0/5"));

    // A new password retires the earlier sign-in at once.
    let passwd = user(&db, &["passwd", "owner@example.com"], "second-password\n");
    assert!(passwd.status.success(), "{}", text(&passwd));
    assert_eq!(tokens(jwt).await, 401);
    assert_eq!(
        login(&url, "owner@example.com", "first-password").await.status(),
        401
    );
    assert_eq!(
        login(&url, "owner@example.com", "second-password").await.status(),
        200
    );

    // Removing asks first; without a terminal it wants --yes.
    let unasked = user(&db, &["remove", "owner@example.com"], "y\n");
    assert!(!unasked.status.success());
    assert!(text(&unasked).contains("--yes"), "{}", text(&unasked));
    let removed = user(&db, &["remove", "owner@example.com", "--yes"], "");
    assert!(removed.status.success(), "{}", text(&removed));
    assert_eq!(
        login(&url, "owner@example.com", "second-password").await.status(),
        401
    );
    let missing = user(&db, &["passwd", "owner@example.com"], "whatever-password\n");
    assert!(text(&missing).contains("no Pro user"), "{}", text(&missing));

    let _ = terminate(&mut server);
}
