//! The end-to-end harness: `TestServer` starts the real server on free loopback ports over a
//! database in a temporary directory, and hands out clients for it. Plain helpers, no framework.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use mailcx_common::{AccountToken, Client, Credentials};
use mailcx_server::{Config, RunningServer, Server};
use reqwest::header::CONTENT_TYPE;
use reqwest::{Response, StatusCode};
use serde_json::Value;
use tempfile::TempDir;

pub use mailcx_server;
pub mod dns;
pub mod mail;

/// The password every mailbox made by `TestServer::create_mailbox` gets.
pub const PASSWORD: &str = "correct horse battery";

/// A real server over a database in its own temporary directory; the directory outlives restarts.
pub struct TestServer {
    dir: TempDir,
    config: Config,
    running: Option<RunningServer>,
    url: String,
    http: reqwest::Client,
}

impl TestServer {
    /// Starts a server with the test defaults: ephemeral ports, no rate or creation limits.
    pub async fn start() -> TestServer {
        Self::start_with(|_| {}).await
    }

    /// Starts a server with the test defaults, changed by `configure` before start.
    pub async fn start_with(configure: impl FnOnce(&mut Config)) -> TestServer {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut config = Config::ephemeral(dir.path().join("mailcx.db"));
        config.rate_limit = 0;
        config.accounts_per_hour = 0;
        configure(&mut config);
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("a reqwest client");
        let mut server = TestServer {
            dir,
            config,
            running: None,
            url: String::new(),
            http,
        };
        server.boot().await;
        server
    }

    async fn boot(&mut self) {
        assert!(self.running.is_none(), "the server is already running");
        let running = Server::start(self.config.clone())
            .await
            .unwrap_or_else(|e| panic!("the server did not start: {e:#}"));
        self.url = running.http_url();
        self.running = Some(running);
    }

    /// Stops the server (graceful shutdown); the database file and its directory stay.
    pub async fn stop(&mut self) {
        if let Some(running) = self.running.take() {
            running.shutdown().await;
        }
    }

    /// Stops the server if it runs and starts it again on the same database file.
    pub async fn restart(&mut self) {
        self.restart_with(|_| {}).await;
    }

    /// Stops the server if it runs, changes its config, and starts it again on the same file.
    pub async fn restart_with(&mut self, configure: impl FnOnce(&mut Config)) {
        self.stop().await;
        configure(&mut self.config);
        self.boot().await;
    }

    /// The running server's handle (bound addresses).
    pub fn running(&self) -> &RunningServer {
        self.running.as_ref().expect("the server is stopped")
    }

    /// The config the server was (or will be) started with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The HTTP base URL, e.g. `http://127.0.0.1:41234`; it changes on restart.
    pub fn url(&self) -> &str {
        assert!(self.running.is_some(), "the server is stopped");
        &self.url
    }

    /// The full URL of `path` (which starts with `/`).
    pub fn endpoint(&self, path: &str) -> String {
        format!("{}{path}", self.url())
    }

    /// A typed client without a token.
    pub fn client(&self) -> Client {
        Client::new(self.url())
    }

    /// A raw HTTP client, for checking statuses, headers and bodies exactly.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// The SQLite database file.
    pub fn db_path(&self) -> PathBuf {
        self.config.db_path()
    }

    /// The temporary directory that holds the database.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The first configured domain.
    pub fn domain(&self) -> &str {
        &self.config.domains[0]
    }

    /// `local@<first domain>`.
    pub fn address(&self, local: &str) -> String {
        format!("{local}@{}", self.domain())
    }

    /// Creates `local@<first domain>` with `PASSWORD`; returns its token and a client carrying it.
    pub async fn create_mailbox(&self, local: &str) -> (AccountToken, Client) {
        let credentials = credentials(&self.address(local), PASSWORD);
        let account = self
            .client()
            .create_account(&credentials)
            .await
            .unwrap_or_else(|e| panic!("creating {}: {e:?}", credentials.address));
        let client = self.client().with_token(account.token.clone());
        (account, client)
    }

    /// Adds a Pro user as the operator would (`mailcx-server user add`) and signs them in;
    /// returns their Pro JWT.
    pub async fn create_pro_user(&self, email: &str) -> String {
        let db = self.db_path();
        let owned = email.to_string();
        tokio::task::spawn_blocking(move || mailcx_server::admin::add_user(&db, &owned, PASSWORD))
            .await
            .expect("the admin task")
            .unwrap_or_else(|e| panic!("adding Pro user {email}: {e:#}"));
        let login = serde_json::json!({"email": email, "password": PASSWORD});
        let session = expect_json(self.post_json("/pro/api/login", &login).await, StatusCode::OK).await;
        session["token"].as_str().expect("a token").to_string()
    }

    /// Mints a `tm_pro_` API token named `name` with the Pro JWT `jwt`; returns its secret.
    pub async fn mint_pro_token(&self, jwt: &str, name: &str) -> String {
        let minted = self
            .http
            .post(self.endpoint("/pro/api/tokens"))
            .bearer_auth(jwt)
            .json(&serde_json::json!({ "name": name }))
            .send()
            .await
            .expect("the request reaches the server");
        expect_json(minted, StatusCode::CREATED).await["token"]
            .as_str()
            .expect("a token")
            .to_string()
    }

    /// `POST path` with `body` as JSON, raw; the future borrows neither the server nor the body.
    pub fn post_json(&self, path: &str, body: &Value) -> impl Future<Output = Response> + use<> {
        let pending = self.http.post(self.endpoint(path)).json(body).send();
        async move { pending.await.expect("the request reaches the server") }
    }

    /// `GET path` with an optional Bearer token, raw; the future borrows nothing.
    pub fn get(&self, path: &str, token: Option<&str>) -> impl Future<Output = Response> + use<> {
        let mut request = self.http.get(self.endpoint(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let pending = request.send();
        async move { pending.await.expect("the request reaches the server") }
    }
}

/// `Credentials` from an address and a password.
pub fn credentials(address: &str, password: &str) -> Credentials {
    Credentials {
        address: address.to_string(),
        password: password.to_string(),
    }
}

/// Reads a JSON success response: checks the status and `Content-Type`, returns the body.
pub async fn expect_json(response: Response, status: StatusCode) -> Value {
    let (got, content_type, body) = read(response).await;
    assert_eq!(got, status, "unexpected status; body: {body}");
    assert_json_content_type(&content_type, &body);
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("not JSON ({e}): {body:?}"))
}

/// Reads an error response and checks it is exactly the contract's `{"error","message"}` JSON
/// with this status and code; returns the message.
pub async fn expect_error(response: Response, status: StatusCode, code: &str) -> String {
    let (got, content_type, body) = read(response).await;
    assert_eq!(got, status, "unexpected status; body: {body}");
    assert_json_content_type(&content_type, &body);
    let value: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("not JSON ({e}): {body:?}"));
    let object = value
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {body}"));
    assert_eq!(keys(&value), ["error", "message"], "error body: {body}");
    assert_eq!(object["error"], code, "error body: {body}");
    let message = object["message"]
        .as_str()
        .unwrap_or_else(|| panic!("message not a string: {body}"));
    assert!(!message.trim().is_empty(), "empty message: {body}");
    message.to_string()
}

/// The status, `Content-Type` and body text of a response.
pub async fn read(response: Response) -> (StatusCode, String, String) {
    let status = response.status();
    let content_type = response
        .headers()
        .get(CONTENT_TYPE)
        .map(|v| v.to_str().unwrap_or("<not text>").to_string())
        .unwrap_or_default();
    let body = response.text().await.expect("a readable body");
    (status, content_type, body)
}

fn assert_json_content_type(content_type: &str, body: &str) {
    assert!(
        content_type.starts_with("application/json"),
        "Content-Type is {content_type:?}, not JSON; body: {body}"
    );
}

/// The sorted keys of a JSON object (panics on anything else).
pub fn keys(value: &Value) -> Vec<String> {
    let mut keys: Vec<String> = value
        .as_object()
        .unwrap_or_else(|| panic!("not a JSON object: {value}"))
        .keys()
        .cloned()
        .collect();
    keys.sort();
    keys
}

/// Whether `text` is a wire timestamp: `YYYY-MM-DDTHH:MM:SSZ`, UTC, whole seconds.
pub fn is_wire_timestamp(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 20
        && bytes.iter().enumerate().all(|(i, &b)| match i {
            4 | 7 => b == b'-',
            10 => b == b'T',
            13 | 16 => b == b':',
            19 => b == b'Z',
            _ => b.is_ascii_digit(),
        })
}

/// Calls `check` every `every` until it yields `Some`, or panics with `what` after `timeout`.
pub async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, every: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(every).await;
    }
}

/// CPU time (user + system) of this process's threads whose name starts with `prefix`, from
/// `/proc/self/task` (zero where there is none): lets a benchmark say which part of the server
/// spent what, beside throughput figures a shared machine makes noisy.
pub fn threads_cpu(prefix: &str) -> Duration {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return Duration::ZERO;
    };
    let ticks: u64 = tasks
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("stat")).ok())
        .filter_map(|stat| {
            // `pid (name) state ...`: the name may hold spaces, so split at the parentheses.
            let (head, rest) = stat.rsplit_once(')')?;
            let name = head.split_once('(')?.1;
            if !name.starts_with(prefix) {
                return None;
            }
            let fields: Vec<&str> = rest.split_whitespace().collect();
            // utime and stime are the file's fields 14 and 15; those after the name start at 3.
            let field = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
            Some(field(11) + field(12))
        })
        .sum();
    // Clock ticks, 100 a second on Linux.
    Duration::from_millis(ticks * 10)
}
