//! mailcx-server: the Mail.cx HTTP API over one SQLite file. `Server::start` runs it; the
//! binary, the TUI's embedded mode and the tests all start it that way.

pub mod api;
pub mod auth;
pub mod config;
pub mod error;
pub mod ratelimit;
pub mod store;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use config::Config;

use crate::api::AppState;
use crate::auth::Auth;
use crate::ratelimit::{CreationLimiter, RateLimiter};
use crate::store::{Store, settings};

/// Starts servers.
pub struct Server;

/// A started server: where it listens, and the handle that stops it.
pub struct RunningServer {
    /// The address the HTTP API really bound.
    pub http_addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    http_task: JoinHandle<()>,
    store: Store,
}

impl Server {
    /// Opens the database, binds the listeners and serves until `RunningServer::shutdown`.
    pub async fn start(config: Config) -> anyhow::Result<RunningServer> {
        let db_path = config.db_path();
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
        let auth = Arc::new(Auth::new(&secret, config.token_lifetime()));
        let http = TcpListener::bind(config.http_addr)
            .await
            .with_context(|| format!("cannot listen for HTTP on {}", config.http_addr))?;
        let http_addr = http.local_addr()?;
        let state = AppState {
            domains: Arc::new(api::domains_list(&config.domains)),
            rate_limiter: RateLimiter::new(config.rate_limit).map(Arc::new),
            creations: CreationLimiter::new(config.accounts_per_hour),
            config: Arc::new(config),
            store: store.clone(),
            auth,
        };
        tracing::info!("HTTP API listening on http://{http_addr}");
        tracing::info!("database: {}", db_path.display());

        let (shutdown, mut stopped) = watch::channel(false);
        let app = api::router(state).into_make_service_with_connect_info::<SocketAddr>();
        let http_task = tokio::spawn(async move {
            let signal = async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            };
            if let Err(e) = axum::serve(http, app).with_graceful_shutdown(signal).await {
                tracing::error!("HTTP server stopped: {e}");
            }
        });
        Ok(RunningServer {
            http_addr,
            shutdown,
            http_task,
            store,
        })
    }
}

impl RunningServer {
    /// The HTTP API's base URL, e.g. `http://127.0.0.1:8080`.
    pub fn http_url(&self) -> String {
        format!("http://{}", self.http_addr)
    }

    /// Stops accepting, lets in-flight requests finish, then closes the database cleanly.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        let _ = self.http_task.await;
        let store = self.store;
        let _ = tokio::task::spawn_blocking(move || store.close()).await;
        tracing::info!("server stopped");
    }
}
