//! The `mailcx` binary: parses the command line and runs the app.

use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = mailcx::Cli::parse();
    match mailcx::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mailcx: {e:#}");
            ExitCode::FAILURE
        }
    }
}
