//! `config.toml` beside `mailboxes.json`: the settings a person may keep. Every key is
//! optional; command-line flags and their environment variables win over the file.
//!
//! ```toml
//! theme = "auto"            # auto | light | dark (NO_COLOR in the environment wins)
//! notifications = "off"     # off | bell | desktop: how mail for a mailbox not on screen is announced
//! downloads = "~/Downloads" # where attachments and sources are saved
//! server = "https://mail.example.com" # use this server instead of the bundled one
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::theme::ThemeChoice;
use crate::watch::Notify;

/// The file's name in the config directory.
pub const FILE: &str = "config.toml";

/// What `config.toml` says; defaults for what it leaves out.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Light or dark styles.
    pub theme: ThemeChoice,
    /// Bell or desktop notification for new mail elsewhere.
    pub notifications: Notify,
    /// Where saved files go.
    pub downloads: Option<PathBuf>,
    /// A server URL instead of the bundled server.
    pub server: Option<String>,
}

impl Config {
    /// Reads `config.toml` in `dir`. No file is the defaults; a file that cannot be read or
    /// parsed is the defaults plus a warning saying what is wrong, so the app still starts.
    pub fn load(dir: &Path) -> (Config, Option<String>) {
        let path = dir.join(FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return (Config::default(), None),
            Err(e) => {
                return (
                    Config::default(),
                    Some(format!("Cannot read {}: {e}", path.display())),
                );
            }
        };
        match toml::from_str::<Config>(&text) {
            Ok(mut config) => {
                config.downloads = config.downloads.map(|d| expand_home(&d));
                (config, None)
            }
            Err(e) => (
                Config::default(),
                Some(format!("{} is not used: {}", path.display(), e.message())),
            ),
        }
    }
}

/// `~/x` as the home directory's `x`.
fn expand_home(path: &Path) -> PathBuf {
    match (path.strip_prefix("~"), dirs::home_dir()) {
        (Ok(rest), Some(home)) => home.join(rest),
        _ => path.to_path_buf(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> (Config, Option<String>) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE), text).unwrap();
        Config::load(dir.path())
    }

    #[test]
    fn every_key() {
        let (config, warning) = load(
            "theme = \"light\"\nnotifications = \"desktop\"\ndownloads = \"/tmp/dl\"\n\
             server = \"https://mail.example.com\"\n",
        );
        assert_eq!(warning, None);
        assert_eq!(
            config,
            Config {
                theme: ThemeChoice::Light,
                notifications: Notify::Desktop,
                downloads: Some("/tmp/dl".into()),
                server: Some("https://mail.example.com".into()),
            }
        );
    }

    #[test]
    fn no_file_is_the_defaults_and_a_bad_one_is_named() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Config::load(dir.path()), (Config::default(), None));
        assert_eq!(Config::default().notifications, Notify::Off, "off by default");

        let (config, warning) = load("theme = \"purple\"\n");
        assert_eq!(config, Config::default());
        let warning = warning.unwrap();
        assert!(warning.contains("config.toml is not used"), "{warning}");
        assert!(
            warning.contains("purple") || warning.contains("unknown variant"),
            "{warning}"
        );

        let (_, warning) = load("colour = \"red\"\n");
        assert!(warning.unwrap().contains("colour"));
    }

    #[test]
    fn a_tilde_is_the_home_directory() {
        let (config, _) = load("downloads = \"~/Downloads\"\n");
        if let Some(home) = dirs::home_dir() {
            assert_eq!(config.downloads, Some(home.join("Downloads")));
        }
    }
}
