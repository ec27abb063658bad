//! The command line: where the server is, where settings and downloads go.

use std::path::PathBuf;

use clap::Parser;

/// Command-line flags, each with an environment variable.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "mailcx",
    version,
    about = "Manage disposable mailboxes in the terminal. Without --server it starts the bundled server."
)]
pub struct Cli {
    /// Use the mailcx server at this URL instead of starting the bundled one.
    #[arg(long, env = "MAILCX_SERVER")]
    pub server: Option<String>,

    /// Directory of the saved-mailboxes file [default: <platform config dir>/mailcx].
    #[arg(long, env = "MAILCX_CONFIG_DIR")]
    pub config_dir: Option<PathBuf>,

    /// Directory of the bundled server's database and log [default: <platform data dir>/mailcx].
    #[arg(long, env = "MAILCX_DATA_DIR")]
    pub data_dir: Option<PathBuf>,

    /// Where saved attachments go [default: the platform downloads dir, else the current dir].
    #[arg(long, env = "MAILCX_DOWNLOADS")]
    pub downloads: Option<PathBuf>,

    /// First SMTP port the bundled server tries; it takes the next free one if this is taken.
    #[arg(long, env = "MAILCX_SMTP_PORT", default_value_t = 2525)]
    pub smtp_port: u16,
}

impl Cli {
    /// The directory of the saved-mailboxes file.
    pub fn config_dir(&self) -> PathBuf {
        self.config_dir.clone().unwrap_or_else(|| {
            dirs::config_dir()
                .map(|d| d.join("mailcx"))
                .unwrap_or_else(|| PathBuf::from(".mailcx"))
        })
    }

    /// The bundled server's data directory.
    pub fn data_dir(&self) -> PathBuf {
        self.data_dir
            .clone()
            .unwrap_or_else(mailcx_server::config::default_data_dir)
    }

    /// Where saved attachments and sources go.
    pub fn downloads_dir(&self) -> PathBuf {
        self.downloads
            .clone()
            .or_else(dirs::download_dir)
            .unwrap_or_else(|| PathBuf::from("."))
    }
}
