//! Bug 5: the real `mailcx` binary in a pseudo-terminal (util-linux `script`), stopped with a
//! signal from outside: it must put the terminal back (mouse reporting off, alternate screen
//! left) before it exits; `^Z` (or `kill -TSTP`) puts the terminal back and stops the process,
//! and `SIGCONT` (what `fg` sends) takes the terminal again and repaints.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const MOUSE_ON: &[u8] = b"\x1b[?1000h";
const MOUSE_OFF: &[u8] = b"\x1b[?1000l";
const LEAVE_ALTERNATE_SCREEN: &[u8] = b"\x1b[?1049l";
const ENTER_ALTERNATE_SCREEN: &[u8] = b"\x1b[?1049h";

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Waits until `done` holds for the output so far, or panics after `timeout` showing it.
fn wait_for(out: &Mutex<Vec<u8>>, what: &str, timeout: Duration, done: impl Fn(&[u8]) -> bool) {
    let deadline = Instant::now() + timeout;
    loop {
        if done(&out.lock().unwrap()) {
            return;
        }
        if Instant::now() > deadline {
            let out = String::from_utf8_lossy(&out.lock().unwrap()).into_owned();
            panic!("no {what} after {timeout:?}; the output: {out:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The app running in a pseudo-terminal under `script`, its output collected as it comes.
/// Dropping it kills both, so a failed test leaves nothing running.
struct Pty {
    script: std::process::Child,
    stdin: std::process::ChildStdin,
    out: Arc<Mutex<Vec<u8>>>,
    reader: Option<std::thread::JoinHandle<()>>,
    /// The app's process id (the shell `script` runs execs it).
    pid: String,
    _dir: tempfile::TempDir,
}

impl Pty {
    /// Starts the app with its bundled server in a fresh directory and waits for its first frame.
    fn start() -> Pty {
        let dir = tempfile::tempdir().unwrap();
        let bin = env!("CARGO_BIN_EXE_mailcx");
        let d = dir.path().display();
        let command = format!(
            "stty cols 80 rows 24; echo PID=$$; exec '{bin}' --data-dir '{d}/data' \
             --config-dir '{d}/config' --downloads '{d}' --smtp-port 0"
        );
        let mut script = Command::new("script")
            .args(["-qfec", &command, "/dev/null"])
            .env("TERM", "xterm-256color")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("util-linux script runs");
        // Kept open: at the end of its input `script` would end the session itself.
        let stdin = script.stdin.take().unwrap();
        let mut stdout = script.stdout.take().unwrap();
        let out = Arc::new(Mutex::new(Vec::new()));
        let reader = {
            let out = out.clone();
            std::thread::spawn(move || {
                let mut chunk = [0u8; 4096];
                while let Ok(n) = stdout.read(&mut chunk) {
                    if n == 0 {
                        break;
                    }
                    out.lock().unwrap().extend_from_slice(&chunk[..n]);
                }
            })
        };
        // Built before waiting, so a start that fails is cleaned up too.
        let mut pty = Pty {
            script,
            stdin,
            out,
            reader: Some(reader),
            pid: String::new(),
            _dir: dir,
        };
        wait_for(&pty.out, "app on the screen", Duration::from_secs(60), |o| {
            find(o, MOUSE_ON).is_some() && find(o, b"Mailboxes").is_some()
        });
        let text = String::from_utf8_lossy(&pty.out.lock().unwrap()).into_owned();
        let at = text.find("PID=").unwrap() + 4;
        pty.pid = text[at..].chars().take_while(char::is_ascii_digit).collect();
        pty
    }

    /// How much output there is so far (a mark to look after).
    fn mark(&self) -> usize {
        self.out.lock().unwrap().len()
    }

    /// Sends `signal` to the app.
    fn kill(&self, signal: &str) {
        let sent = Command::new("kill")
            .args([&format!("-{signal}"), &self.pid])
            .status();
        assert!(sent.unwrap().success(), "kill -{signal}");
    }

    /// Types `bytes` into the terminal.
    fn type_bytes(&mut self, bytes: &[u8]) {
        self.stdin.write_all(bytes).unwrap();
        self.stdin.flush().unwrap();
    }

    /// Waits until `script` (so the app) has ended, then for the last of the output.
    fn wait_for_exit(&mut self, why: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.script.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "the app did not exit on {why}");
            std::thread::sleep(Duration::from_millis(20));
        }
        if let Some(reader) = self.reader.take() {
            reader.join().unwrap();
        }
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        // Ended already in a passing test; stopped or running after a failed one.
        if !self.pid.is_empty() {
            let _ = Command::new("kill").args(["-KILL", &self.pid]).status();
        }
        let _ = self.script.kill();
        let _ = self.script.wait();
    }
}

/// Runs the app in a pty, sends it `signal` once it has taken the terminal, and checks what it
/// wrote afterwards.
fn signal_puts_the_terminal_back(signal: &str) {
    let mut app = Pty::start();
    let mark = app.mark();
    app.kill(signal);
    app.wait_for_exit(&format!("SIG{signal}"));
    let out = app.out.lock().unwrap();
    let after = &out[mark..];
    let shown = String::from_utf8_lossy(after);
    assert!(
        find(after, MOUSE_OFF).is_some(),
        "SIG{signal}: mouse reporting left on: {shown:?}"
    );
    assert!(
        find(after, LEAVE_ALTERNATE_SCREEN).is_some(),
        "SIG{signal}: still in the alternate screen: {shown:?}"
    );
}

#[test]
fn sigint_from_outside_puts_the_terminal_back() {
    signal_puts_the_terminal_back("INT");
}

#[test]
fn sigquit_from_outside_puts_the_terminal_back() {
    signal_puts_the_terminal_back("QUIT");
}

#[test]
fn sigterm_puts_the_terminal_back() {
    signal_puts_the_terminal_back("TERM");
}

/// The process state letter in `/proc/<pid>/stat` (`T` when stopped).
fn state(pid: &str) -> char {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // After the command name in parentheses: " S ...".
    stat.rsplit(')')
        .next()
        .and_then(|rest| rest.trim().chars().next())
        .unwrap_or('?')
}

/// Runs the app in a pty, suspends it with `suspend` (a ^Z typed, or SIGTSTP sent), checks the
/// terminal was put back and the process stopped, continues it and checks it took the terminal
/// again, then quits it with `q`.
fn suspend_and_resume(by_key: bool) {
    let mut app = Pty::start();
    let mark = app.mark();
    if by_key {
        app.type_bytes(b"\x1a");
    } else {
        app.kill("TSTP");
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while state(&app.pid) != 'T' {
        assert!(
            Instant::now() < deadline,
            "not stopped: state {}",
            state(&app.pid)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // `fg`: SIGCONT to the job. `script` stops itself when its child stops (job control passed
    // up), so it is continued too; what the app wrote before stopping comes through then.
    let script_pid = app.script.id().to_string();
    let continued = Command::new("kill").args(["-CONT", &script_pid]).status();
    assert!(continued.unwrap().success());
    app.kill("CONT");
    wait_for(
        &app.out,
        "the app back on the screen",
        Duration::from_secs(30),
        |o| {
            let after = &o[mark..];
            let back = find(after, ENTER_ALTERNATE_SCREEN);
            back.is_some_and(|at| find(&after[at..], b"Mailboxes").is_some())
        },
    );
    let after = app.out.lock().unwrap()[mark..].to_vec();
    let shown = String::from_utf8_lossy(&after).into_owned();
    let left = find(&after, LEAVE_ALTERNATE_SCREEN).expect("the alternate screen was left");
    let mouse_off = find(&after, MOUSE_OFF).expect("mouse reporting was turned off");
    let back = find(&after, ENTER_ALTERNATE_SCREEN).unwrap();
    assert!(
        left < back && mouse_off < back,
        "put back before stopping: {shown:?}"
    );
    assert!(
        find(&after[back..], MOUSE_ON).is_some(),
        "mouse reporting on again: {shown:?}"
    );

    app.type_bytes(b"q");
    app.wait_for_exit("q");
}

#[test]
fn ctrl_z_suspends_with_the_terminal_put_back_and_fg_resumes() {
    suspend_and_resume(true);
}

#[test]
fn sigtstp_from_outside_suspends_cleanly_too() {
    suspend_and_resume(false);
}
