//! `Client`: the typed async HTTP + WebSocket client of the API, used by the TUI and the tests.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use reqwest::{Method, RequestBuilder, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use uuid::Uuid;

use crate::error::{ErrorBody, ErrorCode};
use crate::types::*;

/// What a call through [`Client`] can fail with.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ClientError {
    /// The server answered with a documented error body.
    #[error("{}", .body.message)]
    Api {
        status: u16,
        body: ErrorBody,
        /// `Retry-After` in seconds, on 429.
        retry_after: Option<u64>,
    },
    /// The server could not be reached or the connection broke.
    #[error("cannot reach the server: {0}")]
    Transport(String),
    /// The server answered something that is not the documented shape.
    #[error("unexpected answer from the server: {0}")]
    Protocol(String),
}

impl ClientError {
    /// The API error code, when the server sent one.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            ClientError::Api { body, .. } => Some(body.error),
            _ => None,
        }
    }
}

/// A downloaded file: the attachment or raw source bytes with their headers.
#[derive(Debug, Clone)]
pub struct Download {
    pub content_type: String,
    pub filename: Option<String>,
    pub bytes: Vec<u8>,
}

/// Typed client for one server; cheap to clone. Holds an optional mailbox token.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
    /// How many times a 429 is retried after waiting `Retry-After`.
    rate_limit_retries: u32,
    /// The server's backoff gate, shared by every clone; used only when 429s are retried.
    gate: std::sync::Arc<crate::gate::RateGate>,
}

impl Client {
    /// A client for the server at `base_url` (e.g. `http://127.0.0.1:8080`), with no token. A
    /// trailing `/api` is dropped: the paths already start with it, and a URL copied from an API
    /// call would otherwise get "no such route" for every request.
    pub fn new(base_url: &str) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(30))
            .build()
            .expect("a reqwest client with static settings always builds");
        Client {
            http,
            base: server_address(base_url).to_string(),
            token: None,
            rate_limit_retries: 0,
            gate: Default::default(),
        }
    }

    /// The same client carrying a mailbox JWT as its Bearer token.
    pub fn with_token(&self, token: impl Into<String>) -> Self {
        Client {
            token: Some(token.into()),
            ..self.clone()
        }
    }

    /// The same client, retrying a 429 up to `retries` times after the server's `Retry-After`.
    /// Every clone then waits on one gate: after a 429 all its requests wait out `Retry-After`.
    pub fn retry_rate_limited(&self, retries: u32) -> Self {
        Client {
            rate_limit_retries: retries,
            ..self.clone()
        }
    }

    /// How long requests still wait because the server answered 429, if they wait now.
    pub fn rate_limited_for(&self) -> Option<Duration> {
        self.gate.remaining()
    }

    /// The base URL this client talks to.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// The token this client carries, if any.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// `GET /api/domains`.
    pub async fn domains(&self) -> Result<Vec<Domain>, ClientError> {
        let list: DomainList = self.json(Method::GET, "/api/domains", None::<&()>).await?;
        Ok(list.domains)
    }

    /// `POST /api/accounts`: creates a mailbox and returns its first token.
    pub async fn create_account(&self, credentials: &Credentials) -> Result<AccountToken, ClientError> {
        self.json(Method::POST, "/api/accounts", Some(credentials)).await
    }

    /// `POST /api/token`: signs in to a mailbox.
    pub async fn sign_in(&self, credentials: &Credentials) -> Result<AccountToken, ClientError> {
        self.json(Method::POST, "/api/token", Some(credentials)).await
    }

    /// `GET /api/me`.
    pub async fn me(&self) -> Result<Me, ClientError> {
        self.json(Method::GET, "/api/me", None::<&()>).await
    }

    /// `DELETE /api/account`: deletes this token's mailbox and all its mail.
    pub async fn delete_account(&self) -> Result<(), ClientError> {
        self.empty(Method::DELETE, "/api/account").await
    }

    /// `GET /api/messages?page=N`.
    pub async fn messages(&self, page: u32) -> Result<MessageList, ClientError> {
        self.json(Method::GET, &format!("/api/messages?page={page}"), None::<&()>)
            .await
    }

    /// `GET /api/messages?page=N&q=TEXT` (extension): the mailbox's messages whose subject,
    /// `From` or text match `text` (every word, the last as a prefix), newest first.
    pub async fn search_messages(&self, text: &str, page: u32) -> Result<MessageList, ClientError> {
        let q: String = form_urlencoded::byte_serialize(text.as_bytes()).collect();
        self.json(
            Method::GET,
            &format!("/api/messages?page={page}&q={q}"),
            None::<&()>,
        )
        .await
    }

    /// `DELETE /api/messages` (extension): deletes every message of this token's mailbox.
    pub async fn delete_all_messages(&self) -> Result<(), ClientError> {
        self.empty(Method::DELETE, "/api/messages").await
    }

    /// `GET /api/messages/{id}`.
    pub async fn message(&self, id: Uuid) -> Result<Message, ClientError> {
        self.json(Method::GET, &format!("/api/messages/{id}"), None::<&()>)
            .await
    }

    /// `DELETE /api/messages/{id}`.
    pub async fn delete_message(&self, id: Uuid) -> Result<(), ClientError> {
        self.empty(Method::DELETE, &format!("/api/messages/{id}")).await
    }

    /// `PUT /api/messages/{id}/read`.
    pub async fn mark_read(&self, id: Uuid) -> Result<(), ClientError> {
        self.empty(Method::PUT, &format!("/api/messages/{id}/read")).await
    }

    /// `GET /api/messages/{id}/source`: the exact bytes received over SMTP.
    pub async fn source(&self, id: Uuid) -> Result<Download, ClientError> {
        self.download(&format!("/api/messages/{id}/source")).await
    }

    /// `GET /api/messages/{id}/attachments/{index}`.
    pub async fn attachment(&self, id: Uuid, index: u32) -> Result<Download, ClientError> {
        self.download(&format!("/api/messages/{id}/attachments/{index}"))
            .await
    }

    /// Opens `/api/ws`, authenticates with this client's token and waits for `auth_ok`.
    pub async fn subscribe(&self) -> Result<Subscription, ClientError> {
        let token = self.token.clone().unwrap_or_default();
        if self.rate_limit_retries > 0 {
            let _turn = self.gate.pass().await;
        }
        let url = format!("{}/api/ws", self.base.replacen("http", "ws", 1));
        let connect = tokio_tungstenite::connect_async(url.as_str());
        let (mut socket, _) = tokio::time::timeout(WS_HANDSHAKE_DEADLINE, connect)
            .await
            .map_err(|_| ClientError::Transport("the WebSocket did not open in time".into()))?
            .map_err(|e| self.transport(e))?;
        let auth = serde_json::to_string(&WsClientFrame::Auth { token }).expect("serializable");
        let send = socket.send(WsMessage::text(auth));
        tokio::time::timeout(WS_HANDSHAKE_DEADLINE, send)
            .await
            .map_err(|_| ClientError::Transport("the server did not take the auth frame in time".into()))?
            .map_err(|e| self.transport(e))?;
        let mut subscription = Subscription { socket };
        let answer = tokio::time::timeout(WS_HANDSHAKE_DEADLINE, subscription.next_frame())
            .await
            .map_err(|_| ClientError::Transport("the server did not answer the auth frame in time".into()))?;
        match answer {
            Some(Ok(WsServerFrame::Event(WsEvent::AuthOk))) => Ok(subscription),
            Some(Ok(WsServerFrame::Error { error })) => Err(ws_error(error)),
            Some(Ok(other)) => Err(ClientError::Protocol(format!("expected auth_ok, got {other:?}"))),
            Some(Err(e)) => Err(e),
            None => Err(ClientError::Transport("the server closed the socket".into())),
        }
    }

    /// [`transport`], told what the failure means for this base URL.
    pub(crate) fn transport(&self, error: impl std::error::Error + 'static) -> ClientError {
        explain(&self.base, transport(error))
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let request = self.http.request(method, format!("{}{path}", self.base));
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    /// Sends a request, retrying 429s as configured, and turns error statuses into `ClientError`.
    async fn send<B: Serialize + ?Sized>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<Response, ClientError> {
        let mut retries = self.rate_limit_retries;
        loop {
            let mut request = self.request(method.clone(), path);
            if let Some(body) = body {
                request = request.json(body);
            }
            // Held until the answer is in, while requests go single file after a 429.
            let turn = match self.rate_limit_retries {
                0 => None,
                _ => self.gate.pass().await,
            };
            let response = request.send().await.map_err(|e| self.transport(e))?;
            if response.status().is_success() {
                return Ok(response);
            }
            let error = error_from(response).await;
            drop(turn);
            match &error {
                ClientError::Api {
                    retry_after: Some(secs),
                    ..
                } if retries > 0 => {
                    retries -= 1;
                    // The next pass waits it out, and so does every other request.
                    self.gate.close(*secs);
                }
                _ => return Err(error),
            }
        }
    }

    /// Sends a bodiless request that may take up to `timeout` (a long poll), without retries.
    pub(crate) async fn send_with_timeout(
        &self,
        method: Method,
        path: &str,
        timeout: Duration,
    ) -> Result<Response, ClientError> {
        let request = self.request(method, path).timeout(timeout);
        let response = request.send().await.map_err(|e| self.transport(e))?;
        if response.status().is_success() {
            return Ok(response);
        }
        Err(error_from(response).await)
    }

    pub(crate) async fn json<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<T, ClientError> {
        let response = self.send(method, path, body).await?;
        let bytes = response.bytes().await.map_err(|e| self.transport(e))?;
        serde_json::from_slice(&bytes).map_err(|e| ClientError::Protocol(e.to_string()))
    }

    pub(crate) async fn empty(&self, method: Method, path: &str) -> Result<(), ClientError> {
        self.send(method, path, None::<&()>).await.map(drop)
    }

    pub(crate) async fn download(&self, path: &str) -> Result<Download, ClientError> {
        let response = self.send(Method::GET, path, None::<&()>).await?;
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let content_type = header("content-type").unwrap_or_default();
        let filename = header("content-disposition").and_then(|v| disposition_filename(&v));
        let bytes = response.bytes().await.map_err(|e| self.transport(e))?;
        Ok(Download {
            content_type,
            filename,
            bytes: bytes.to_vec(),
        })
    }
}

/// Reads an error response into `ClientError::Api` (or `Protocol` when the body is not ours).
async fn error_from(response: Response) -> ClientError {
    let status = response.status();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok());
    let bytes = match response.bytes().await {
        Ok(bytes) => bytes,
        Err(e) => return transport(e),
    };
    match serde_json::from_slice::<ErrorBody>(&bytes) {
        Ok(body) => ClientError::Api {
            status: status.as_u16(),
            body,
            retry_after,
        },
        Err(_) => ClientError::Protocol(format!(
            "HTTP {} {}",
            status.as_u16(),
            status.canonical_reason().unwrap_or("")
        )),
    }
}

fn ws_error(error: ErrorCode) -> ClientError {
    ClientError::Api {
        status: error.status(),
        body: ErrorBody {
            error,
            message: format!("the server refused the socket: {error}"),
        },
        retry_after: None,
    }
}

/// The filename of a `Content-Disposition` header: `filename*=UTF-8''…` (RFC 5987) when there,
/// else the plain or quoted `filename=`.
fn disposition_filename(value: &str) -> Option<String> {
    if let Some(start) = value.find("filename*=") {
        let encoded = value[start + "filename*=".len()..].split(';').next()?.trim();
        let (_, encoded) = encoded.split_once("''")?;
        return percent_decode(encoded);
    }
    let rest = value[value.find("filename=")? + "filename=".len()..].trim_start();
    match rest.strip_prefix('"') {
        Some(quoted) => {
            let mut name = String::new();
            let mut chars = quoted.chars();
            while let Some(c) = chars.next() {
                match c {
                    '"' => return Some(name),
                    '\\' => name.push(chars.next()?),
                    c => name.push(c),
                }
            }
            None
        }
        None => Some(rest.split(';').next()?.trim().to_string()),
    }
}

/// Decodes `%XX` escapes into UTF-8 text.
fn percent_decode(text: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(text.len());
    let mut input = text.bytes();
    while let Some(b) = input.next() {
        if b == b'%' {
            let hex = [input.next()?, input.next()?];
            bytes.push(u8::from_str_radix(std::str::from_utf8(&hex).ok()?, 16).ok()?);
        } else {
            bytes.push(b);
        }
    }
    String::from_utf8(bytes).ok()
}

/// How long opening `/api/ws` and its `auth` exchange may each take.
const WS_HANDSHAKE_DEADLINE: Duration = Duration::from_secs(10);
/// How long a live socket may stay silent: three of the server's 30-second pings.
const WS_READ_DEADLINE: Duration = Duration::from_secs(90);

/// A live `/api/ws` connection after `auth_ok`.
pub struct Subscription {
    socket: tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
}

impl Subscription {
    /// The next `new_email` event; `None` once the server closed the socket.
    pub async fn next_email(&mut self) -> Option<Result<NewEmail, ClientError>> {
        loop {
            match self.next_frame().await? {
                Ok(WsServerFrame::Event(WsEvent::NewEmail(email))) => return Some(Ok(email)),
                Ok(WsServerFrame::Event(WsEvent::AuthOk)) => continue,
                Ok(WsServerFrame::Error { error }) => return Some(Err(ws_error(error))),
                Err(e) => return Some(Err(e)),
            }
        }
    }

    /// The next JSON frame, skipping pings; `None` when the socket is closed. The server pings
    /// every 30 s, so a socket silent for `WS_READ_DEADLINE` is half-open: an error.
    async fn next_frame(&mut self) -> Option<Result<WsServerFrame, ClientError>> {
        loop {
            let next = match tokio::time::timeout(WS_READ_DEADLINE, self.socket.next()).await {
                Ok(next) => next?,
                Err(_) => {
                    let silent = "the server sent nothing, not even a ping, for too long";
                    return Some(Err(ClientError::Transport(silent.into())));
                }
            };
            let message = match next {
                Ok(message) => message,
                Err(e) => return Some(Err(transport(e))),
            };
            match message {
                WsMessage::Text(text) => {
                    return Some(
                        serde_json::from_str(text.as_str()).map_err(|e| ClientError::Protocol(e.to_string())),
                    );
                }
                WsMessage::Close(_) => return None,
                _ => continue,
            }
        }
    }
}

/// The server's address from a base URL as typed: without trailing slashes or a trailing `/api`.
fn server_address(base_url: &str) -> &str {
    let base = base_url.trim_end_matches('/');
    base.strip_suffix("/api")
        .map(|b| b.trim_end_matches('/'))
        .unwrap_or(base)
}

/// A transport failure at `base` reworded when its cause is a wrong scheme: TLS's "received
/// corrupt message of type InvalidContentType" means an `https://` URL reached a plain HTTP
/// server, and hyper's "invalid HTTP version parsed" that an `http://` URL reached a TLS one.
fn explain(base: &str, error: ClientError) -> ClientError {
    let ClientError::Transport(why) = &error else {
        return error;
    };
    if let Some(rest) = base.strip_prefix("https://")
        && (why.contains("InvalidContentType") || why.contains("corrupt message"))
    {
        return ClientError::Transport(format!(
            "the server does not speak HTTPS at {base}; try http://{rest}"
        ));
    }
    if let Some(rest) = base.strip_prefix("http://")
        && why.contains("invalid HTTP version")
    {
        return ClientError::Transport(format!(
            "the server answers only HTTPS at {base}; try https://{rest}"
        ));
    }
    error
}

/// A transport failure, described by its innermost cause rather than the outer layers' "error
/// sending request for url (…)", in words that read the same on every platform: "connection
/// refused", not the OS's "Connection refused (os error 111)" or Windows' longer sentence.
fn transport(error: impl std::error::Error + 'static) -> ClientError {
    use std::io::ErrorKind::*;
    let mut cause: &dyn std::error::Error = &error;
    let mut kind = None;
    loop {
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            kind = Some(io.kind());
        }
        match cause.source() {
            Some(source) => cause = source,
            None => break,
        }
    }
    let why = match kind {
        // These kinds name what happened to the connection; their Display is the same everywhere.
        Some(
            kind @ (ConnectionRefused | ConnectionReset | ConnectionAborted | NotConnected | TimedOut
            | HostUnreachable | NetworkUnreachable | NetworkDown | AddrNotAvailable | BrokenPipe
            | UnexpectedEof),
        ) => kind.to_string(),
        // Anything else (a failed name lookup, say): the innermost text, without an errno.
        _ => {
            let text = cause.to_string();
            match text.rsplit_once(" (os error ") {
                Some((words, errno)) if errno.trim_end_matches(')').parse::<i32>().is_ok() => {
                    words.to_string()
                }
                _ => text,
            }
        }
    };
    ClientError::Transport(why)
}

#[cfg(test)]
mod tests {
    use super::{Client, ClientError, disposition_filename, explain, transport};

    /// An error that wraps another, the way reqwest and hyper wrap the I/O error underneath.
    #[derive(Debug)]
    struct Wrapped(std::io::Error);

    impl std::fmt::Display for Wrapped {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("error sending request for url (http://127.0.0.1:9/api/domains)")
        }
    }

    impl std::error::Error for Wrapped {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn transport_errors_read_the_same_on_every_platform() {
        let closed = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let refused = std::net::TcpStream::connect(closed).unwrap_err();
        assert_eq!(
            transport(Wrapped(refused)).to_string(),
            "cannot reach the server: connection refused"
        );
        let other = std::io::Error::other("No such file or directory (os error 2)");
        assert_eq!(
            transport(Wrapped(other)).to_string(),
            "cannot reach the server: No such file or directory"
        );
        let plain = std::io::Error::other("dns error");
        assert_eq!(
            transport(Wrapped(plain)).to_string(),
            "cannot reach the server: dns error"
        );
    }

    #[test]
    fn a_trailing_api_is_not_part_of_the_server_address() {
        let base = |url: &str| Client::new(url).base_url().to_string();
        assert_eq!(base("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
        assert_eq!(base("http://127.0.0.1:8080/"), "http://127.0.0.1:8080");
        assert_eq!(base("http://127.0.0.1:8080/api"), "http://127.0.0.1:8080");
        assert_eq!(base("https://mail.example/api/"), "https://mail.example");
        assert_eq!(base("https://mail.example/x/api"), "https://mail.example/x");
        assert_eq!(base("https://api.example"), "https://api.example");
        assert_eq!(base("https://mail.example/apis"), "https://mail.example/apis");
    }

    #[test]
    fn wrong_schemes_are_named() {
        let tls = ClientError::Transport("received corrupt message of type InvalidContentType".into());
        assert_eq!(
            explain("https://127.0.0.1:8080", tls.clone()).to_string(),
            "cannot reach the server: the server does not speak HTTPS at https://127.0.0.1:8080; \
             try http://127.0.0.1:8080"
        );
        let plain = ClientError::Transport("invalid HTTP version parsed".into());
        assert_eq!(
            explain("http://mail.example", plain).to_string(),
            "cannot reach the server: the server answers only HTTPS at http://mail.example; \
             try https://mail.example"
        );
        // Other failures, and the same words under the other scheme, are left as they are.
        assert_eq!(explain("http://x", tls.clone()).to_string(), tls.to_string());
        let refused = ClientError::Transport("connection refused".into());
        assert_eq!(
            explain("https://x", refused.clone()).to_string(),
            refused.to_string()
        );
    }

    /// The real failure: an `https://` URL for a server that answers plain HTTP.
    #[tokio::test]
    async fn https_to_a_plain_http_server_says_to_use_http() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            while let Ok((mut socket, _)) = listener.accept().await {
                let mut buf = [0u8; 4096];
                let _ = socket.read(&mut buf).await;
                let answer = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
                let _ = socket.write_all(answer).await;
            }
        });
        let error = Client::new(&format!("https://{addr}"))
            .domains()
            .await
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "cannot reach the server: the server does not speak HTTPS at https://{addr}; try http://{addr}"
            )
        );
    }

    #[test]
    fn disposition_filenames_are_read_like_the_server_writes_them() {
        let name = |v: &str| disposition_filename(v);
        assert_eq!(name("attachment; filename=\"a.pdf\"").as_deref(), Some("a.pdf"));
        assert_eq!(
            name("attachment; filename=\"a;b.pdf\"").as_deref(),
            Some("a;b.pdf")
        );
        assert_eq!(
            name("attachment; filename=plain.txt; size=3").as_deref(),
            Some("plain.txt")
        );
        assert_eq!(
            name("attachment; filename=\"__x.txt\"; filename*=UTF-8''%C3%A9%22x.txt").as_deref(),
            Some("é\"x.txt")
        );
        assert_eq!(name("attachment"), None);
    }
}
