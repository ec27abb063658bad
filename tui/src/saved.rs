//! The mailboxes this user signed into, with their tokens, kept in `mailboxes.json` in the config
//! directory (mode 0600, since the tokens open the mailboxes), one list per server.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// File name of the saved list inside the config directory.
pub const FILE_NAME: &str = "mailboxes.json";

/// One saved mailbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedMailbox {
    /// The address, lower-cased as the server returned it.
    pub address: String,
    /// The mailbox id.
    pub id: Uuid,
    /// The mailbox JWT (valid 7 days).
    pub token: String,
    /// The password, kept only for mailboxes the app made up itself (`t`, throwaway), so that
    /// they can be signed into again once the token expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// An open inbox watched by its address (`/v1`), not a mailbox: no id, token or password.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub open: bool,
}

impl SavedMailbox {
    /// An open inbox to keep in the list.
    pub fn open_inbox(address: &str) -> SavedMailbox {
        SavedMailbox {
            address: address.to_string(),
            id: Uuid::nil(),
            token: String::new(),
            password: None,
            open: true,
        }
    }
}

/// The whole file: a list per server key, so embedded and remote mailboxes never mix.
#[derive(Debug, Default, Serialize, Deserialize)]
struct SavedFile {
    #[serde(default)]
    servers: BTreeMap<String, Vec<SavedMailbox>>,
}

/// The saved mailboxes of one server, backed by the file.
#[derive(Debug)]
pub struct Saved {
    path: PathBuf,
    server: String,
    mailboxes: Vec<SavedMailbox>,
}

impl Saved {
    /// Reads the list of `server` from `dir`. A missing file is an empty list; an unreadable one
    /// is set aside as `mailboxes.json.bad` (so it is not overwritten) and reported.
    pub fn load(dir: &Path, server: &str) -> (Saved, Option<String>) {
        let path = dir.join(FILE_NAME);
        let (file, warning) = match read(&path) {
            Ok(file) => (file, None),
            Err(e) => {
                let aside = path.with_extension("json.bad");
                let _ = std::fs::rename(&path, &aside);
                let warning = format!(
                    "The saved mailboxes in {} could not be read ({e}); the file was moved to {}.",
                    path.display(),
                    aside.display()
                );
                (SavedFile::default(), Some(warning))
            }
        };
        let mailboxes = file.servers.get(server).cloned().unwrap_or_default();
        let saved = Saved {
            path,
            server: server.to_string(),
            mailboxes,
        };
        (saved, warning)
    }

    /// The directory of the file (other private settings go beside it).
    pub fn dir(&self) -> Option<&Path> {
        self.path.parent()
    }

    /// The saved mailboxes, in the order they were added.
    pub fn mailboxes(&self) -> &[SavedMailbox] {
        &self.mailboxes
    }

    /// The saved mailbox with this address.
    pub fn get(&self, address: &str) -> Option<&SavedMailbox> {
        self.mailboxes
            .iter()
            .find(|m| m.address.eq_ignore_ascii_case(address))
    }

    /// Adds a mailbox, or replaces the token of the one with the same address; then writes.
    pub fn upsert(&mut self, mailbox: SavedMailbox) -> Result<(), String> {
        match self
            .mailboxes
            .iter_mut()
            .find(|m| m.address.eq_ignore_ascii_case(&mailbox.address))
        {
            Some(existing) => {
                // A new sign-in brings a token, not the password the app generated: keep it.
                let password = mailbox.password.clone().or(existing.password.take());
                *existing = SavedMailbox { password, ..mailbox };
            }
            None => self.mailboxes.push(mailbox),
        }
        self.write()
    }

    /// Removes a mailbox from the list; then writes.
    pub fn remove(&mut self, address: &str) -> Result<(), String> {
        self.mailboxes
            .retain(|m| !m.address.eq_ignore_ascii_case(address));
        self.write()
    }

    /// Writes this server's list into the file, keeping the other servers' lists as they are on
    /// disk now (another mailcx may have changed them), through a temporary file and a rename.
    fn write(&self) -> Result<(), String> {
        let fail = |e: std::io::Error| format!("cannot save {}: {e}", self.path.display());
        let mut file = read(&self.path).unwrap_or_default();
        if self.mailboxes.is_empty() {
            file.servers.remove(&self.server);
        } else {
            file.servers.insert(self.server.clone(), self.mailboxes.clone());
        }
        if let Some(dir) = self.path.parent() {
            create_private_dir(dir).map_err(fail)?;
        }
        let json = serde_json::to_vec_pretty(&file).expect("the saved list serializes");
        let tmp = self.path.with_extension("json.tmp");
        let mut out = private_file(&tmp).map_err(fail)?;
        out.write_all(&json).map_err(fail)?;
        std::fs::rename(&tmp, &self.path).map_err(fail)?;
        sync_in_background(self.path.clone());
        Ok(())
    }
}

/// Flushes the written file and its directory to disk on a thread of its own: an fsync can take
/// tens of milliseconds, and the list is written from the update loop, which must not wait.
/// (Replacing a file by rename is flushed in order by ext4, XFS and btrfs alike.)
fn sync_in_background(path: PathBuf) {
    std::thread::spawn(move || {
        if let Ok(file) = std::fs::File::open(&path) {
            let _ = file.sync_all();
        }
        if let Some(dir) = path.parent()
            && let Ok(dir) = std::fs::File::open(dir)
        {
            let _ = dir.sync_all();
        }
    });
}

/// Moves the list saved under `from` to `to` in the file in `dir`, when `to` has none and the
/// keys differ (a list keyed by a path as typed, now keyed by the path resolved). Best effort: a
/// list that cannot be moved stays where it was.
pub fn adopt(dir: &Path, from: &str, to: &str) {
    if from == to {
        return;
    }
    let (mut target, _) = Saved::load(dir, to);
    let (mut source, _) = Saved::load(dir, from);
    if !target.mailboxes.is_empty() || source.mailboxes.is_empty() {
        return;
    }
    target.mailboxes = source.mailboxes.clone();
    if target.write().is_ok() {
        source.mailboxes.clear();
        let _ = source.write();
    }
}

fn read(path: &Path) -> Result<SavedFile, String> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| e.to_string()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(SavedFile::default()),
        Err(e) => Err(e.to_string()),
    }
}

/// Creates `dir` (and parents); on Unix the last level is readable by the owner only.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Creates (or truncates) a file only its owner may read: it holds tokens.
pub(crate) fn private_file(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options.open(path)?;
    // `mode` only applies when the file is created; a leftover file gets the same rights.
    #[cfg(unix)]
    file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mailbox(address: &str, token: &str) -> SavedMailbox {
        SavedMailbox {
            address: address.into(),
            id: Uuid::nil(),
            token: token.into(),
            password: None,
            open: false,
        }
    }

    #[test]
    fn lists_are_kept_per_server_in_a_private_file() {
        let dir = tempfile::tempdir().unwrap();
        let (mut a, warning) = Saved::load(dir.path(), "http://a");
        assert!(warning.is_none());
        a.upsert(mailbox("x@mail.cx", "t1")).unwrap();
        let (mut b, _) = Saved::load(dir.path(), "http://b");
        b.upsert(mailbox("y@mail.cx", "t2")).unwrap();
        a.upsert(mailbox("X@mail.cx", "t3")).unwrap();

        let (a, _) = Saved::load(dir.path(), "http://a");
        assert_eq!(a.mailboxes(), &[mailbox("X@mail.cx", "t3")]);
        let (b, _) = Saved::load(dir.path(), "http://b");
        assert_eq!(b.mailboxes(), &[mailbox("y@mail.cx", "t2")]);
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

    #[test]
    fn a_list_under_an_old_key_is_adopted_once() {
        let dir = tempfile::tempdir().unwrap();
        let (mut old, _) = Saved::load(dir.path(), "embedded:./data/mailcx.db");
        old.upsert(mailbox("x@mail.cx", "t")).unwrap();
        adopt(
            dir.path(),
            "embedded:./data/mailcx.db",
            "embedded:/abs/data/mailcx.db",
        );
        let (new, _) = Saved::load(dir.path(), "embedded:/abs/data/mailcx.db");
        assert_eq!(new.mailboxes(), &[mailbox("x@mail.cx", "t")]);
        let (old, _) = Saved::load(dir.path(), "embedded:./data/mailcx.db");
        assert!(old.mailboxes().is_empty(), "moved, not copied");

        // A list already under the new key is never overwritten.
        let (mut stale, _) = Saved::load(dir.path(), "embedded:./data/mailcx.db");
        stale.upsert(mailbox("y@mail.cx", "u")).unwrap();
        adopt(
            dir.path(),
            "embedded:./data/mailcx.db",
            "embedded:/abs/data/mailcx.db",
        );
        let (new, _) = Saved::load(dir.path(), "embedded:/abs/data/mailcx.db");
        assert_eq!(new.mailboxes(), &[mailbox("x@mail.cx", "t")]);
    }

    #[test]
    fn a_broken_file_is_set_aside() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE_NAME), "not json").unwrap();
        let (mut saved, warning) = Saved::load(dir.path(), "s");
        assert!(warning.unwrap().contains("could not be read"));
        assert!(dir.path().join("mailboxes.json.bad").exists());
        saved.upsert(mailbox("x@mail.cx", "t")).unwrap();
        saved.remove("x@mail.cx").unwrap();
        assert!(saved.mailboxes().is_empty());
    }
}
