//! Serving the router over TCP: HTTP/1.1 and HTTP/2, upgrades for WebSockets, graceful shutdown,
//! and the bounds a public server needs on every connection: a cap in all and per client, a
//! deadline for a request's headers, and an idle deadline on the socket itself (which also covers
//! the HTTP/1-or-2 sniffing, HTTP/2 and clients that stop reading). The HTTP library's own error
//! answers get the API's JSON body here too.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use mailcx_common::{ErrorBody, ErrorCode};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tower::ServiceExt;

use crate::connections::{ConnectionLimits, LogThrottle, accept};
use crate::idle::Idle;

/// How long a refused connection gets to take its `429` before it is dropped.
const REFUSAL_DEADLINE: Duration = Duration::from_secs(2);

/// The bounds every HTTP connection is served within.
pub struct HttpLimits {
    /// A request's headers must arrive within this long.
    pub header_timeout: Duration,
    /// A connection on which nothing moves either way for this long is closed.
    pub idle_timeout: Duration,
    pub connections: ConnectionLimits,
}

/// Serves `app` on `listener` until `shutdown` turns true, then waits for open requests.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: HttpLimits,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    let graceful = GracefulShutdown::new();
    let limits = Arc::new(limits);
    let failures = LogThrottle::default();
    loop {
        let (stream, peer) = tokio::select! {
            _ = crate::stopping(&mut shutdown) => break,
            accepted = accept(&listener, "HTTP", &failures) => accepted,
        };
        let Some(permit) = limits.connections.admit(peer) else {
            tokio::spawn(refuse(stream));
            continue;
        };
        let _ = stream.set_nodelay(true);
        let service = app.clone().map_request(move |mut request: Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
            request
        });
        let io = JsonErrors::new(Idle::new(stream, limits.idle_timeout));
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(io), TowerToHyperService::new(service))
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!("HTTP connection from {peer} ended: {e}");
            }
            drop(permit);
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// Answers a connection over the limits with `429 too_many_connections` and closes it.
async fn refuse(mut stream: TcpStream) {
    let response = error_response(
        "HTTP/1.1 429 Too Many Requests",
        &["retry-after: 1", "connection: close"],
        ErrorCode::TooManyConnections,
        "too many connections from this client; try again later",
    );
    let _ = tokio::time::timeout(REFUSAL_DEADLINE, async {
        stream.write_all(&response).await?;
        stream.shutdown().await
    })
    .await;
}

/// A whole HTTP/1.1 response with the API's JSON error body.
fn error_response(status_line: &str, headers: &[&str], code: ErrorCode, message: &str) -> Vec<u8> {
    let body = serde_json::to_vec(&ErrorBody {
        error: code,
        message: message.to_string(),
    })
    .expect("an error body serializes");
    let mut response = format!("{status_line}\r\n");
    for header in headers {
        response.push_str(header);
        response.push_str("\r\n");
    }
    response.push_str(&format!(
        "content-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    ));
    let mut response = response.into_bytes();
    response.extend_from_slice(&body);
    response
}

/// Gives the HTTP library's own answers to requests it cannot parse (bad request line or headers,
/// URI too long, headers too large), which come with an empty body, the API's JSON error body.
/// They are the only error responses with `content-length: 0`: every error of the API has a body.
struct JsonErrors<T> {
    inner: T,
    /// A rewritten response still to be written, and how much of it is.
    pending: Vec<u8>,
    written: usize,
}

impl<T> JsonErrors<T> {
    fn new(inner: T) -> Self {
        JsonErrors {
            inner,
            pending: Vec::new(),
            written: 0,
        }
    }
}

impl<T: AsyncWrite + Unpin> JsonErrors<T> {
    /// Writes out what is pending first.
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.written < self.pending.len() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &self.pending[self.written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.written += n;
        }
        self.pending.clear();
        self.written = 0;
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for JsonErrors<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for JsonErrors<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        ready!(self.poll_pending(cx))?;
        if let Some(response) = with_json_body(buf) {
            self.pending = response;
            // Taken whole; the rest goes out on the next write, flush or shutdown.
            if let Poll::Ready(Err(e)) = self.poll_pending(cx) {
                return Poll::Ready(Err(e));
            }
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_pending(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_pending(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// `write` rewritten with a JSON error body, when it is exactly the head of a 4xx or 5xx
/// response with `content-length: 0`.
fn with_json_body(write: &[u8]) -> Option<Vec<u8>> {
    if !write.starts_with(b"HTTP/1.")
        || !matches!(write.get(9), Some(b'4' | b'5'))
        || !write.ends_with(b"\r\n\r\n")
    {
        return None;
    }
    let head = std::str::from_utf8(&write[..write.len() - 4]).ok()?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let mut headers = Vec::new();
    let mut empty = false;
    for line in lines {
        let (name, value) = line.split_once(':')?;
        if name.eq_ignore_ascii_case("content-length") {
            empty = value.trim() == "0";
        } else if !name.eq_ignore_ascii_case("content-type") {
            headers.push(line);
        }
    }
    if !empty {
        return None;
    }
    let message = match status_line.get(9..12) {
        Some("414") => "the request target is too long",
        Some("431") => "the request headers are too large",
        _ => "the request is not valid HTTP",
    };
    Some(error_response(
        status_line,
        &headers,
        ErrorCode::InvalidRequest,
        message,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_error_answers_get_a_json_body_and_nothing_else_changes() {
        let head = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\ndate: x\r\n\r\n";
        let rewritten = String::from_utf8(with_json_body(head).unwrap()).unwrap();
        let (head, body) = rewritten.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 431 "));
        assert!(head.contains("\r\ndate: x\r\n"));
        assert!(head.contains(&format!("content-length: {}", body.len())));
        assert!(head.contains("content-type: application/json"));
        let body: ErrorBody = serde_json::from_str(body).unwrap();
        assert_eq!(body.error, ErrorCode::InvalidRequest);

        let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
        assert!(with_json_body(ok).is_none());
        let no_content = b"HTTP/1.1 204 No Content\r\n\r\n";
        assert!(with_json_body(no_content).is_none());
        let api_error =
            b"HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\ncontent-length: 40\r\n\r\n";
        assert!(with_json_body(api_error).is_none());
    }
}
