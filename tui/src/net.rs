//! Background work: every network call (and file write) runs as a tokio task that sends its
//! answer back to the app as an [`Action`], so the interface never waits on the network.

use std::future::Future;
use std::path::{Path, PathBuf};

use tokio::sync::mpsc::UnboundedSender;

use crate::action::{Action, Reply, TaskId};

/// Runs `work` in the background and sends its reply back tagged with `task`.
pub fn spawn<F>(tx: &UnboundedSender<Action>, task: TaskId, work: F)
where
    F: Future<Output = Reply> + Send + 'static,
{
    let tx = tx.clone();
    tokio::spawn(async move {
        let reply = work.await;
        // The app may be gone (quitting); then nobody needs the answer.
        let _ = tx.send(Action::Net { task, reply });
    });
}

/// Writes `bytes` into `dir` under a safe version of `name`, never overwriting a file: a taken
/// name gets ` (1)`, ` (2)`, … before its extension. Returns the path written.
pub async fn save_file(dir: PathBuf, name: String, bytes: Vec<u8>) -> Result<PathBuf, String> {
    tokio::task::spawn_blocking(move || save_file_blocking(&dir, &name, &bytes))
        .await
        .map_err(|e| e.to_string())?
}

fn save_file_blocking(dir: &Path, name: &str, bytes: &[u8]) -> Result<PathBuf, String> {
    use std::io::Write;
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let name = safe_file_name(name);
    let (stem, ext) = match name.rfind('.') {
        Some(dot) if dot > 0 => (&name[..dot], &name[dot..]),
        _ => (name.as_str(), ""),
    };
    for n in 0..1000 {
        let candidate = if n == 0 {
            dir.join(&name)
        } else {
            dir.join(format!("{stem} ({n}){ext}"))
        };
        // create_new: an existing file is never touched, even if it appears meanwhile.
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&candidate)
        {
            Ok(mut file) => {
                file.write_all(bytes)
                    .map_err(|e| format!("cannot write {}: {e}", candidate.display()))?;
                return Ok(candidate);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(format!("cannot write {}: {e}", candidate.display())),
        }
    }
    Err(format!("too many files named {name} in {}", dir.display()))
}

/// A file name from the server made safe: no directories, no control or bidi characters (which
/// would make `ls` show it in a misleading order), no leading dot.
pub fn safe_file_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = base
        .chars()
        .filter(|&c| !crate::text::is_bidi_control(c))
        .map(|c| if c.is_control() || c == ':' { '_' } else { c })
        .collect();
    let cleaned = cleaned.trim().trim_start_matches('.').to_string();
    if cleaned.is_empty() {
        "attachment".into()
    } else {
        cleaned
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_made_safe() {
        assert_eq!(safe_file_name("../../etc/passwd"), "passwd");
        assert_eq!(safe_file_name("C:\\x\\a.pdf"), "a.pdf");
        assert_eq!(safe_file_name(".bashrc"), "bashrc");
        assert_eq!(safe_file_name(""), "attachment");
        assert_eq!(safe_file_name("a\nb.txt"), "a_b.txt");
        assert_eq!(safe_file_name("invoice\u{202E}fdp.exe"), "invoicefdp.exe");
    }

    #[tokio::test]
    async fn files_are_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let first = save_file(dir.path().into(), "a.txt".into(), b"1".to_vec())
            .await
            .unwrap();
        let second = save_file(dir.path().into(), "a.txt".into(), b"2".to_vec())
            .await
            .unwrap();
        assert_eq!(first, dir.path().join("a.txt"));
        assert_eq!(second, dir.path().join("a (1).txt"));
        assert_eq!(std::fs::read(first).unwrap(), b"1");
    }
}
