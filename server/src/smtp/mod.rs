//! The SMTP receiver: accepts connections within a limit and runs a session on each.

mod deliver;
mod session;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use crate::config::Config;
use crate::events::Events;
use crate::ratelimit::client_key;
use crate::slots::Slots;
use crate::store::Store;

/// Longest line accepted, command or message text: RFC 5321's 1000 octets including CRLF.
pub const MAX_LINE: usize = 1000;

/// What every SMTP session needs.
pub struct SmtpContext {
    pub store: Store,
    pub events: Events,
    /// The domains mail is accepted for, lower-case.
    pub domains: Vec<String>,
    /// The name the server gives itself in the greeting.
    pub hostname: String,
    pub max_message_size: usize,
    pub max_recipients: usize,
    pub idle_timeout: Duration,
    pub max_connections: usize,
    pub max_connections_per_client: usize,
    /// How long stored mail is kept; zero keeps it forever.
    pub retention: Duration,
    /// How long sessions get to finish once shutdown starts.
    pub shutdown_grace: Duration,
}

impl SmtpContext {
    /// The SMTP settings of `config`.
    pub fn new(config: &Config, store: Store, events: Events) -> SmtpContext {
        SmtpContext {
            store,
            events,
            domains: config.domains.clone(),
            hostname: config.domains.first().cloned().unwrap_or_else(|| "mailcx".into()),
            max_message_size: config.max_message_size,
            max_recipients: config.max_recipients,
            idle_timeout: config.smtp_idle_timeout,
            max_connections: config.smtp_max_connections,
            max_connections_per_client: config.smtp_max_connections_per_client,
            retention: config.retention,
            shutdown_grace: config.shutdown_grace,
        }
    }
}

/// Accepts connections until `shutdown` turns true, within the overall and per-client limits
/// (a client is an IPv4 address or an IPv6 /64).
pub async fn serve(listener: TcpListener, context: Arc<SmtpContext>, mut shutdown: watch::Receiver<bool>) {
    let permits = Arc::new(Semaphore::new(context.max_connections));
    let per_client = Slots::new(context.max_connections_per_client);
    let mut sessions = JoinSet::new();
    loop {
        tokio::select! {
            _ = crate::stopping(&mut shutdown) => break,
            Some(_) = sessions.join_next(), if !sessions.is_empty() => {}
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        // Out of file descriptors and the like: back off instead of spinning.
                        tracing::warn!("SMTP accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let slot = per_client.admit(client_key(peer.ip()));
                match (permits.clone().try_acquire_owned(), slot) {
                    (Ok(permit), Some(slot)) => {
                        let context = context.clone();
                        sessions.spawn(async move {
                            session::run(stream, peer, context).await;
                            drop((permit, slot));
                        });
                    }
                    _ => {
                        tokio::spawn(turn_away(stream, peer));
                    }
                }
            }
        }
    }
    let drain = async { while sessions.join_next().await.is_some() {} };
    // Give up a tenth before the server's own grace ends, so sessions are ended here, not aborted
    // with the whole task.
    if tokio::time::timeout(context.shutdown_grace * 9 / 10, drain)
        .await
        .is_err()
    {
        sessions.abort_all();
    }
}

async fn turn_away(mut stream: TcpStream, peer: SocketAddr) {
    tracing::warn!("SMTP connection from {peer} refused: too many connections");
    let _ = stream
        .write_all(b"421 4.3.2 Too many connections, try again later\r\n")
        .await;
    let _ = stream.shutdown().await;
}
