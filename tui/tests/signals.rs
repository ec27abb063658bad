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
    let mut stdin = script.stdin.take().unwrap();
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
    if by_key {
        stdin.write_all(b"\x1a").unwrap();
        stdin.flush().unwrap();
    } else {
        assert!(
            Command::new("kill")
                .args(["-TSTP", &pid])
                .status()
                .unwrap()
                .success()
        );
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while state(&pid) != 'T' {
        assert!(Instant::now() < deadline, "not stopped: state {}", state(&pid));
        std::thread::sleep(Duration::from_millis(20));
    }
    // `fg`: SIGCONT to the job. `script` stops itself when its child stops (job control passed
    // up), so it is continued too; what the app wrote before stopping comes through then.
    let script_pid = script.id().to_string();
    for pid in [&script_pid, &pid] {
        assert!(
            Command::new("kill")
                .args(["-CONT", pid])
                .status()
                .unwrap()
                .success()
        );
    }
    wait_for(&out, "the app back on the screen", Duration::from_secs(30), |o| {
        let after = &o[mark..];
        let back = find(after, ENTER_ALTERNATE_SCREEN);
        back.is_some() && find(&after[back.unwrap()..], b"Mailboxes").is_some()
    });
    let after = out.lock().unwrap()[mark..].to_vec();
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

    stdin.write_all(b"q").unwrap();
    stdin.flush().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while script.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "the app did not quit on q");
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(stdin);
    reader.join().unwrap();
}

#[test]
fn ctrl_z_suspends_with_the_terminal_put_back_and_fg_resumes() {
    suspend_and_resume(true);
}

#[test]
fn sigtstp_from_outside_suspends_cleanly_too() {
    suspend_and_resume(false);
}
