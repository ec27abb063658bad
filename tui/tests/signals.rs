//! Bug 5: the real `mailcx` binary in a pseudo-terminal (util-linux `script`), stopped with a
//! signal from outside: it must put the terminal back (mouse reporting off, alternate screen
//! left) before it exits. `^Z` needs a job-control shell to resume it; it was checked by hand
//! (`mailcx`, `^Z`, `fg`, and `kill -TSTP` from another terminal, then `fg`).

use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const MOUSE_ON: &[u8] = b"\x1b[?1000h";
const MOUSE_OFF: &[u8] = b"\x1b[?1000l";
const LEAVE_ALTERNATE_SCREEN: &[u8] = b"\x1b[?1049l";

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

/// Runs the app in a pty, sends it `signal` once it has taken the terminal, and checks what it
/// wrote afterwards.
fn signal_puts_the_terminal_back(signal: &str) {
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
    let _stdin = script.stdin.take();
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

    wait_for(&out, "app on the screen", Duration::from_secs(60), |o| {
        find(o, MOUSE_ON).is_some() && find(o, b"Mailboxes").is_some()
    });
    let pid = {
        let text = String::from_utf8_lossy(&out.lock().unwrap()).into_owned();
        let at = text.find("PID=").unwrap() + 4;
        text[at..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
    };
    let mark = out.lock().unwrap().len();
    let killed = Command::new("kill").args([&format!("-{signal}"), &pid]).status();
    assert!(killed.unwrap().success());

    let deadline = Instant::now() + Duration::from_secs(30);
    while script.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "the app did not exit on SIG{signal}");
        std::thread::sleep(Duration::from_millis(20));
    }
    reader.join().unwrap();
    let out = out.lock().unwrap();
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
