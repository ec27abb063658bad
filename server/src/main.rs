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
    // Listened for before the server starts: a signal that comes as soon as it answers must
    // stop it gracefully, not kill it.
    let stop = stop_signal();
    let server = match Server::start(config).await {
        Ok(server) => server,
        Err(e) => {
            eprintln!("mailcx-server: {e:#}");
            std::process::exit(1);
        }
    };
    stop.await;
    tracing::info!("shutting down");
    server.shutdown().await;
}

/// Resolves on the first SIGINT (Ctrl-C) or SIGTERM after this call; the signals are
/// taken over at once, before the future is first polled.
fn stop_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let interrupt = signal(SignalKind::interrupt());
        let terminate = signal(SignalKind::terminate());
        async move {
            match (interrupt, terminate) {
                (Ok(mut interrupt), Ok(mut terminate)) => {
                    tokio::select! {
                        _ = interrupt.recv() => {}
                        _ = terminate.recv() => {}
                    }
                }
                _ => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}
