//! Work outside the app's screen: a command the message text is piped into (`|`, the TUI
//! suspended meanwhile) and the private temp file an HTML part is opened from (`O`).

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::Duration;

/// How long an HTML temp file stays: long enough for a browser to read it.
pub const HTML_FILE_LIFETIME: Duration = Duration::from_secs(60);

/// A command to run with `text` on its standard input, in the terminal (the run loop hands the
/// terminal over while it runs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pipe {
    /// A shell command line (`sh -c`), e.g. `less` or `grep -o 'https://[^ ]*'`.
    pub command: String,
    /// What goes to its standard input.
    pub text: String,
}

impl Pipe {
    /// Runs the command to its end; its output goes to the terminal.
    pub fn run(&self) -> io::Result<ExitStatus> {
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(&self.command)
            .stdin(Stdio::piped())
            .spawn()?;
        let mut stdin = child.stdin.take().expect("stdin was piped");
        let text = self.text.clone();
        // Written from a thread: a pager reads as it shows, and may quit before reading it all.
        let writer = std::thread::spawn(move || {
            let _ = stdin.write_all(text.as_bytes());
        });
        let status = child.wait();
        let _ = writer.join();
        status
    }
}

/// Writes `bytes` to a new file in `dir` that only this user can read (mode 0600), named
/// `mailcx-<random>.<ext>`; never follows or replaces an existing file.
pub fn write_private(dir: &Path, ext: &str, bytes: &[u8]) -> io::Result<PathBuf> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    for _ in 0..8 {
        let path = dir.join(format!("mailcx-{:016x}.{ext}", rand::random::<u64>()));
        match options.open(&path) {
            Ok(mut file) => {
                file.write_all(bytes)?;
                return Ok(path);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other("no free temp file name"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pipe_gets_the_whole_text_and_reports_failure() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let pipe = Pipe {
            command: format!("cat > '{}'", out.display()),
            text: "line one\nline two\n".into(),
        };
        assert!(pipe.run().unwrap().success());
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "line one\nline two\n");
        let failing = Pipe {
            command: "exit 3".into(),
            text: "x".repeat(1 << 20),
        };
        assert_eq!(
            failing.run().unwrap().code(),
            Some(3),
            "a reader that quits early is fine"
        );
    }

    #[cfg(unix)]
    #[test]
    fn private_files_are_0600_and_new() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let a = write_private(dir.path(), "html", b"<p>hi</p>").unwrap();
        let b = write_private(dir.path(), "html", b"<p>hi</p>").unwrap();
        assert_ne!(a, b);
        let mode = std::fs::metadata(&a).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(std::fs::read(&a).unwrap(), b"<p>hi</p>");
    }
}
