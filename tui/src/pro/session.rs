//! The Pro sign-in kept between runs: the Pro JWT per server in `pro.json` beside the saved
//! mailboxes, private like them (mode 0600), since it opens every mailbox of the account.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::saved::{create_private_dir, private_file};

/// File name of the Pro sessions inside the config directory.
pub const FILE_NAME: &str = "pro.json";

/// One server's Pro sign-in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// The Pro user's email.
    pub email: String,
    /// The Pro JWT (7 days; then the server answers 401 and the app asks to sign in again).
    pub token: String,
}

/// The whole file: a session per server key.
#[derive(Debug, Default, Serialize, Deserialize)]
struct SessionFile {
    #[serde(default)]
    servers: BTreeMap<String, Session>,
}

/// The saved session of `server`, if any (an unreadable file counts as none).
pub fn load(dir: &Path, server: &str) -> Option<Session> {
    read(dir).servers.get(server).cloned()
}

/// Saves (or, with `None`, forgets) the session of `server`, keeping the other servers'.
pub fn store(dir: &Path, server: &str, session: Option<Session>) -> Result<(), String> {
    let path = dir.join(FILE_NAME);
    let fail = |e: std::io::Error| format!("cannot save {}: {e}", path.display());
    let mut file = read(dir);
    match session {
        Some(session) => file.servers.insert(server.to_string(), session),
        None => file.servers.remove(server),
    };
    create_private_dir(dir).map_err(fail)?;
    let json = serde_json::to_vec_pretty(&file).expect("the sessions serialize");
    let tmp = path.with_extension("json.tmp");
    let mut out = private_file(&tmp).map_err(fail)?;
    out.write_all(&json).map_err(fail)?;
    std::fs::rename(&tmp, &path).map_err(fail)
}

fn read(dir: &Path) -> SessionFile {
    std::fs::read(dir.join(FILE_NAME))
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_are_kept_per_server_in_a_private_file() {
        let dir = tempfile::tempdir().unwrap();
        let a = Session {
            email: "a@example.com".into(),
            token: "jwt-a".into(),
        };
        store(dir.path(), "http://a", Some(a.clone())).unwrap();
        store(
            dir.path(),
            "http://b",
            Some(Session {
                token: "jwt-b".into(),
                ..a.clone()
            }),
        )
        .unwrap();
        assert_eq!(load(dir.path(), "http://a"), Some(a));
        store(dir.path(), "http://b", None).unwrap();
        assert_eq!(load(dir.path(), "http://b"), None);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(FILE_NAME))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
