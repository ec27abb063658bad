//! The `mailcx-server` binary: parses flags, then runs an operator's command or starts the
//! server and stops it on SIGINT or SIGTERM.

use clap::Parser;
use mailcx_server::config::Command;
use mailcx_server::{Config, Server, admin};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .init();
    let config = Config::parse();
    if let Some(Command::User(command)) = &config.command {
        let db = config.db_path();
        let done = tokio::task::spawn_blocking({
            let command = command.clone();
            move || admin::run(&db, &command)
        })
        .await;
        match done {
            Ok(Ok(())) => return,
            Ok(Err(e)) => eprintln!("mailcx-server: {e:#}"),
            Err(e) => eprintln!("mailcx-server: {e}"),
        }
        std::process::exit(1);
    }
    let server = match Server::start(config).await {
        Ok(server) => server,
        Err(e) => {
            eprintln!("mailcx-server: {e:#}");
            std::process::exit(1);
        }
    };
    wait_for_signal().await;
    tracing::info!("shutting down");
    server.shutdown().await;
}

/// Resolves on the first SIGINT (Ctrl-C) or SIGTERM.
async fn wait_for_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = interrupt => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = interrupt.await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}
