//! The SMTP receiver: accepts connections within a limit and runs a session on each.

mod deliver;
mod session;

use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::config::Config;
use crate::connections::{ConnectionLimits, LogThrottle, accept};
use crate::events::Events;
use crate::retention::Schedule;
use crate::store::Store;

/// Longest line accepted, command or message text: RFC 5321's 1000 octets including CRLF.
pub const MAX_LINE: usize = 1000;

/// What every SMTP session needs.
pub struct SmtpContext {
    pub store: Store,
    pub events: Events,
    /// Told of each stored message's expiry, so the retention sweeper wakes when it must.
    pub schedule: Arc<Schedule>,
    /// The domains mail is accepted for, lower-case.
    pub domains: Vec<String>,
    /// The name the server gives itself in the greeting.
    pub hostname: String,
    pub max_message_size: usize,
    pub max_recipients: usize,
    /// A read or a write that cannot progress for this long ends the session.
    pub idle_timeout: Duration,
    /// The longest a session may last, however busy.
    pub session_lifetime: Duration,
    /// Commands a session may send without a message being accepted.
    pub max_commands: u32,
    pub max_connections: usize,
    pub max_connections_per_client: usize,
    /// How long stored mail is kept; zero keeps it forever.
    pub retention: Duration,
    /// How long sessions get to finish once shutdown starts.
    pub shutdown_grace: Duration,
    /// Told when a commit queued webhook events, so the delivery worker wakes.
    pub webhooks: Arc<crate::webhooks::Outbox>,
    /// Domains whose addresses without a mailbox receive mail in open inboxes, lower-case.
    pub open_domains: Vec<String>,
    /// How long open inboxes keep mail.
    pub open_retention: Duration,
    /// Bytes an open inbox may hold: a free mailbox's quota.
    pub open_quota: u64,
}

impl SmtpContext {
    /// The SMTP settings of `config`.
    pub fn new(config: &Config, store: Store, events: Events, schedule: Arc<Schedule>) -> SmtpContext {
        SmtpContext {
            store,
            events,
            schedule,
            domains: config.domains.clone(),
            hostname: config.domains.first().cloned().unwrap_or_else(|| "mailcx".into()),
            max_message_size: config.max_message_size,
            max_recipients: config.max_recipients,
            idle_timeout: config.smtp_idle_timeout,
            session_lifetime: config.smtp_session_lifetime,
            max_commands: config.smtp_max_commands,
            max_connections: config.smtp_max_connections,
            max_connections_per_client: config.smtp_max_connections_per_client,
            retention: config.retention,
            shutdown_grace: config.shutdown_grace,
            webhooks: crate::webhooks::Outbox::new(),
            open_domains: config.checked_open_domains().unwrap_or_default(),
            open_retention: config.open_retention,
            open_quota: config.quota,
        }
    }
}

/// Accepts connections until `shutdown` turns true, within the overall and per-client limits
/// (a client is an IPv4 address or an IPv6 /64).
pub async fn serve(listener: TcpListener, context: Arc<SmtpContext>, mut shutdown: watch::Receiver<bool>) {
    let limits = ConnectionLimits::new(
        "SMTP",
        context.max_connections,
        context.max_connections_per_client,
        Vec::new(),
    );
    let mut sessions = JoinSet::new();
    let failures = LogThrottle::default();
    loop {
        tokio::select! {
            _ = crate::stopping(&mut shutdown) => break,
            Some(_) = sessions.join_next(), if !sessions.is_empty() => {}
            (stream, peer) = accept(&listener, "SMTP", &failures) => {
                match limits.admit(peer) {
                    Some(permit) => {
                        let context = context.clone();
                        sessions.spawn(async move {
                            session::run(stream, peer, context).await;
                            drop(permit);
                        });
                    }
                    None => {
                        tokio::spawn(turn_away(stream));
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

/// Answers a connection over the limits with `421` and closes it, within a deadline.
async fn turn_away(mut stream: TcpStream) {
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        stream
            .write_all(b"421 4.3.2 Too many connections, try again later\r\n")
            .await?;
        stream.shutdown().await
    })
    .await;
}
