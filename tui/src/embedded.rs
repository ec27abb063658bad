//! The bundled server: started in-process on the SQLite file in the data directory, HTTP on a
//! free loopback port, SMTP on 127.0.0.1:2525 or the next free port, without per-IP limits
//! (one local user). Its logs go to a file, never over the interface.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};

use anyhow::Context;
use mailcx_server::{Config, RunningServer, Server};

use crate::saved::create_private_dir;

/// File name of the log in the data directory.
pub const LOG_FILE: &str = "mailcx.log";

/// A started bundled server.
pub struct Embedded {
    /// The running server (shut it down on exit).
    pub server: RunningServer,
    /// Where it receives mail.
    pub smtp: SocketAddr,
    /// Its database file.
    pub db: PathBuf,
}

/// Starts the bundled server with its database in `data_dir`, SMTP on `first_smtp_port` or the
/// next free port.
pub async fn start(data_dir: &Path, first_smtp_port: u16) -> anyhow::Result<Embedded> {
    create_private_dir(data_dir).with_context(|| format!("cannot create {}", data_dir.display()))?;
    let db = data_dir.join("mailcx.db");
    let mut config = Config::ephemeral(&db);
    // One person on their own machine: the per-IP limits protect public servers, not this.
    config.rate_limit = 0;
    config.accounts_per_hour = 0;
    // Any address on the default domain receives mail at once (open inboxes, read through /v1).
    config.open_domains = config.domains.iter().take(1).cloned().collect();
    config.smtp_addr = free_smtp_addr(first_smtp_port);
    let server = Server::start(config).await.with_context(|| {
        format!(
            "cannot start the bundled server on {} (to use a server that is already running, \
                 pass --server URL; for a separate bundled one, --data-dir DIR)",
            db.display()
        )
    })?;
    let smtp = server.smtp_addr;
    Ok(Embedded { server, smtp, db })
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
