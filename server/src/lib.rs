//! mailcx-server: the Mail.cx HTTP API and an SMTP receiver over one SQLite file. `Server::start` runs it; the
//! binary, the TUI's embedded mode and the tests all start it that way.

pub mod admin;
pub mod api;
pub mod auth;
pub mod config;
pub mod connections;
pub mod dns;
pub mod error;
pub mod events;
pub mod http;
pub mod idle;
pub mod mail;
pub mod ratelimit;
pub mod retention;
pub mod slots;
pub mod smtp;
pub mod store;
pub mod webhooks;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use config::Config;

use crate::api::AppState;
use crate::auth::Auth;
use crate::connections::ConnectionLimits;
use crate::events::Events;
use crate::ratelimit::{CreationLimiter, RateLimiter};
use crate::slots::Slots;
use crate::smtp::SmtpContext;
use crate::store::{Store, settings};

/// Starts servers.
pub struct Server;

/// A started server: where it listens, and the handle that stops it.
pub struct RunningServer {
    /// The address the HTTP API really bound.
    pub http_addr: SocketAddr,
    /// The address the SMTP receiver really bound.
    pub smtp_addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    store: Store,
    /// How long in-flight requests and SMTP transactions get to finish once shutdown starts.
    shutdown_grace: Duration,
}

impl Server {
    /// Opens the database, binds the HTTP and SMTP listeners and serves until
    /// `RunningServer::shutdown`.
    pub async fn start(config: Config) -> anyhow::Result<RunningServer> {
        config.checked_open_domains().map_err(anyhow::Error::msg)?;
        config.check_waits().map_err(anyhow::Error::msg)?;
        let db_path = config.db_path();
        let shutdown_grace = config.shutdown_grace;
        let store = {
            let path = db_path.clone();
            tokio::task::spawn_blocking(move || Store::open(&path)).await??
        };
        let secret = match &config.jwt_secret {
            Some(secret) => secret.clone().into_bytes(),
            None => {
                store
                    .write(|conn| {
                        settings::get_or_insert(conn, "jwt_secret", || rand::random::<[u8; 32]>().to_vec())
                    })
                    .await?
            }
        };
        let lifetime = config.token_lifetime();
        let auth = Arc::new(tokio::task::spawn_blocking(move || Auth::new(&secret, lifetime)).await?);
        let http = TcpListener::bind(config.http_addr)
            .await
            .with_context(|| format!("cannot listen for HTTP on {}", config.http_addr))?;
        let http_addr = http.local_addr()?;
        let smtp = TcpListener::bind(config.smtp_addr)
            .await
            .with_context(|| format!("cannot listen for SMTP on {}", config.smtp_addr))?;
        let smtp_addr = smtp.local_addr()?;
        let events = Events::default();
        let (shutdown, stopped) = watch::channel(false);
        let schedule = retention::Schedule::new();
        let smtp_context = Arc::new(SmtpContext::new(
            &config,
            store.clone(),
            events.clone(),
            schedule.clone(),
        ));
        let dns = Arc::new(dns::Dns::new(config.dns_resolver));
        tracing::info!("custom domains are checked with {}", dns.source());
        let v1 = api::v1::V1State::new(&config);
        let state = AppState::new(api::Shared {
            domains: Arc::new(api::domains_list(&config.domains)),
            rate_limiter: RateLimiter::new(config.rate_limit).map(Arc::new),
            // Off with the per-IP limit (`--rate-limit 0`), else the contract's Pro rate.
            pro_rate_limiter: (config.rate_limit > 0)
                .then(|| RateLimiter::with_burst(ratelimit::PRO_RATE, ratelimit::PRO_BURST))
                .flatten()
                .map(Arc::new),
            creations: CreationLimiter::new(config.accounts_per_hour),
            config: Arc::new(config),
            store: store.clone(),
            auth: auth.clone(),
            events: events.clone(),
            sockets: Slots::new(api::MAX_SOCKETS_PER_MAILBOX),
            shutdown: stopped.clone(),
            dns,
            v1,
            pro_pages: Arc::default(),
        });
        let webhook_outbox = smtp_context.webhooks.clone();
        let webhook_settings = webhooks::Settings::new(&state.config);
        tracing::info!("HTTP API listening on http://{http_addr}");
        tracing::info!("SMTP listening on {smtp_addr}");
        tracing::info!("database: {}", db_path.display());

        let limits = http::HttpLimits {
            header_timeout: state.config.http_header_timeout,
            idle_timeout: state.config.http_idle_timeout,
            connections: ConnectionLimits::new(
                "HTTP",
                state.config.http_max_connections,
                state.config.http_max_connections_per_client,
                state.config.trusted_proxies.clone(),
            ),
        };
        let http_task = tokio::spawn(http::serve(http, api::router(state), limits, stopped.clone()));
        let smtp_task = tokio::spawn(smtp::serve(smtp, smtp_context, stopped.clone()));
        let mut tasks = vec![http_task, smtp_task];
        tasks.push(tokio::spawn(auth::write_token_uses(
            store.clone(),
            auth,
            stopped.clone(),
        )));
        tasks.push(tokio::spawn(webhooks::run(
            store.clone(),
            webhook_outbox,
            webhook_settings,
            stopped.clone(),
        )));
        tasks.push(tokio::spawn(retention::run(store.clone(), schedule, stopped)));
        Ok(RunningServer {
            http_addr,
            smtp_addr,
            shutdown,
            tasks,
            store,
            shutdown_grace,
        })
    }
}

impl RunningServer {
    /// The HTTP API's base URL, e.g. `http://127.0.0.1:8080`.
    pub fn http_url(&self) -> String {
        format!("http://{}", self.http_addr)
    }

    /// Stops accepting, lets in-flight requests and SMTP transactions finish, then closes the
    /// database cleanly.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        let grace = self.shutdown_grace;
        for mut task in self.tasks {
            // A client stalled mid-request must not hold the server up forever.
            if tokio::time::timeout(grace, &mut task).await.is_err() {
                tracing::warn!("connections still open after {grace:?}; closing them");
                task.abort();
                let _ = task.await;
            }
        }
        let store = self.store;
        let _ = tokio::task::spawn_blocking(move || store.close()).await;
        tracing::info!("server stopped");
    }
}

/// Resolves once `shutdown` turns true (or its sender is gone).
pub(crate) async fn stopping(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}
