//! The bundled server: started in-process on the SQLite file in the data directory, HTTP on a
//! free loopback port, SMTP on 127.0.0.1:2525 or the next free port, without per-IP limits
//! (one local user). Its logs go to a file, never over the interface.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use mailcx_server::{Config, RunningServer, Server};

use crate::saved::create_private_dir;

/// File name of the log in the data directory.
pub const LOG_FILE: &str = "mailcx.log";
/// File in the data directory that names the running bundled server's addresses, so a second
/// mailcx on the same directory can say which server is there and use it.
pub const ADDR_FILE: &str = "mailcx.addr";
/// How long a client still connected at exit (an SMTP session) may hold the bundled server up.
const SHUTDOWN_GRACE: Duration = Duration::from_millis(500);
/// Stopping an idle server takes less than this; past it the person is told what is going on.
const QUIET_STOP: Duration = Duration::from_millis(200);

/// A started bundled server.
pub struct Embedded {
    /// The running server (shut it down on exit).
    pub server: RunningServer,
    /// Where it receives mail.
    pub smtp: SocketAddr,
    /// Its database file.
    pub db: PathBuf,
}

/// The bundled server another mailcx already runs on a data directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlreadyRunning {
    /// The data directory, as resolved.
    pub data_dir: PathBuf,
    /// Its HTTP API.
    pub http: SocketAddr,
    /// Its SMTP receiver.
    pub smtp: SocketAddr,
}

impl std::fmt::Display for AlreadyRunning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "a mailcx is already running on {} (HTTP {}, SMTP {})",
            self.data_dir.display(),
            self.http,
            self.smtp
        )
    }
}

impl std::error::Error for AlreadyRunning {}

impl AlreadyRunning {
    /// How this app talks to that server: the same saved list as the bundled one (keyed by the
    /// database), its addresses.
    pub fn server_info(&self) -> crate::app::ServerInfo {
        crate::app::ServerInfo::Embedded {
            http: self.http,
            smtp: self.smtp,
            db: self.data_dir.join(DB_FILE),
        }
    }
}

/// File name of the database in the data directory.
const DB_FILE: &str = "mailcx.db";

/// The data directory with `.`, `..` and symbolic links resolved, so `./data` and its absolute
/// path name one saved list. Creates it first.
pub fn resolve_data_dir(data_dir: &Path) -> anyhow::Result<PathBuf> {
    create_private_dir(data_dir).with_context(|| format!("cannot create {}", data_dir.display()))?;
    std::fs::canonicalize(data_dir).with_context(|| format!("cannot resolve {}", data_dir.display()))
}

/// Starts the bundled server with its database in `data_dir`, SMTP on `first_smtp_port` or the
/// next free port. When another mailcx runs a server there, the error is [`AlreadyRunning`].
pub async fn start(data_dir: &Path, first_smtp_port: u16) -> anyhow::Result<Embedded> {
    let data_dir = &resolve_data_dir(data_dir)?;
    let db = data_dir.join(DB_FILE);
    let mut config = Config::ephemeral(&db);
    // One person on their own machine: the per-IP limits protect public servers, not this.
    config.rate_limit = 0;
    config.accounts_per_hour = 0;
    // Every watched open inbox is a long poll from this one client.
    config.long_poll_max_waiters_per_client = config.long_poll_max_waiters;
    // Any address on the default domain receives mail at once (open inboxes, read through /v1).
    config.open_domains = config.domains.iter().take(1).cloned().collect();
    config.smtp_addr = free_smtp_addr(first_smtp_port);
    config.shutdown_grace = SHUTDOWN_GRACE;
    let started = Server::start(config).await;
    if let Err(e) = &started
        && matches!(e.downcast_ref(), Some(mailcx_server::store::StoreError::InUse(_)))
        && let Some((http, smtp)) = read_addr_file(data_dir)
    {
        return Err(AlreadyRunning {
            data_dir: data_dir.clone(),
            http,
            smtp,
        }
        .into());
    }
    let server = started.with_context(|| {
        format!(
            "cannot start the bundled server on {} (to use a server that is already running, \
                 pass --server URL; for a separate bundled one, --data-dir DIR)",
            db.display()
        )
    })?;
    let smtp = server.smtp_addr;
    // Best effort: without it a second mailcx only says the database is in use.
    let _ = std::fs::write(
        data_dir.join(ADDR_FILE),
        format!("{}\n{smtp}\n", server.http_addr),
    );
    Ok(Embedded { server, smtp, db })
}

/// The HTTP and SMTP addresses in the data directory's [`ADDR_FILE`].
fn read_addr_file(data_dir: &Path) -> Option<(SocketAddr, SocketAddr)> {
    let text = std::fs::read_to_string(data_dir.join(ADDR_FILE)).ok()?;
    let mut lines = text.lines();
    Some((lines.next()?.parse().ok()?, lines.next()?.parse().ok()?))
}

/// Stops the bundled server. Idle, it stops at once; a client still connected (an SMTP session)
/// holds it up for [`SHUTDOWN_GRACE`] at most, and `waiting` is called first, so the person is
/// told why the exit takes a moment. Returns whether it had to wait.
pub async fn stop(server: RunningServer, data_dir: &Path, waiting: impl FnOnce()) -> bool {
    let _ = std::fs::remove_file(data_dir.join(ADDR_FILE));
    let shutdown = server.shutdown();
    tokio::pin!(shutdown);
    if tokio::time::timeout(QUIET_STOP, &mut shutdown).await.is_ok() {
        return false;
    }
    waiting();
    shutdown.await;
    true
}

/// 127.0.0.1 with the first port from `first` that is free now (probed with a bind), else any
/// free port.
pub fn free_smtp_addr(first: u16) -> SocketAddr {
    let free = |port: u16| {
        TcpListener::bind(("127.0.0.1", port))
            .and_then(|l| l.local_addr())
            .ok()
    };
    (first..=first.saturating_add(100))
        .find_map(free)
        .or_else(|| free(0))
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], first)))
}

/// Sends the server's tracing output to `mailcx.log` in `data_dir` (level from `MAILCX_LOG`,
/// default `info`). Never to the terminal: it would scribble over the interface.
pub fn log_to_file(data_dir: &Path) -> anyhow::Result<PathBuf> {
    create_private_dir(data_dir)?;
    let path = data_dir.join(LOG_FILE);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    let filter = tracing_subscriber::EnvFilter::try_from_env("MAILCX_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::sync::Mutex::new(file))
        .with_ansi(false)
        .try_init()
        .map_err(|e| anyhow::anyhow!(e))?;
    Ok(path)
}
