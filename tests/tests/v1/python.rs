//! A real third-party mail.cx `/v1` client against this server: PyPI's `multitempmail` (its
//! `mailcx` provider, written for `api.mail.cx/v1`), installed by this test into a throwaway
//! virtualenv, with only its base URL changed. It reads the config, makes an address, long-polls
//! while the test sends mail, reads it with its attachment, and deletes it. Without Python,
//! `venv` or the network the test says SKIP loudly and passes.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use mailcx_tests::mail::{base64, crlf, deliver};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use crate::support::{OPEN, open_server};

/// The client's version this test was written against.
const PACKAGE: &str = "multitempmail==0.2.0";
/// Longest the virtualenv and the install may take together.
const INSTALL_DEADLINE: Duration = Duration::from_secs(45);
/// Longest the client's run may take.
const RUN_DEADLINE: Duration = Duration::from_secs(40);

/// The client's side: the script changes `base_url` and nothing else, prints the address it
/// made, waits for mail, then prints what it read as one JSON line.
const SCRIPT: &str = r#"
import json, sys
from multitempmail.providers.mailcx import MailCxProvider

MailCxProvider.base_url = sys.argv[1] + "/v1"
provider = MailCxProvider()
domains = provider.system_domains()
box = provider.create()
print(json.dumps({"address": box.address}), flush=True)
found = []
for _ in range(5):
    found = provider.wait(box, timeout=20)
    if found:
        break
message = provider.message(box, found[0].id)
attachment = message.attachments[0]
data = provider.download_attachment(box, message.id, attachment)
provider.delete_message(box, message.id)
after_delete = provider.messages(box)
provider.delete_mailbox(box)
print(json.dumps({
    "domains": domains,
    "subject": message.subject,
    "sender": message.sender,
    "text": message.raw.get("text_body"),
    "attachment_name": attachment.filename,
    "attachment_type": attachment.content_type,
    "attachment_hex": data.hex(),
    "left_after_delete": len(after_delete),
}), flush=True)
"#;

/// Prints the loud line a skipped run leaves in the test output.
fn skip(reason: &str) {
    eprintln!("SKIP multitempmail (mail.cx /v1 client) test: {reason}");
    println!("SKIP multitempmail (mail.cx /v1 client) test: {reason}");
}

/// Runs `program args` within `deadline`; the reason it failed, if it did.
async fn run(program: &Path, args: &[&str], deadline: Duration) -> Result<(), String> {
    let mut command = Command::new(program);
    command.args(args).stdin(Stdio::null()).kill_on_drop(true);
    match tokio::time::timeout(deadline, command.output()).await {
        Err(_) => Err(format!(
            "{} {args:?} took longer than {deadline:?}",
            program.display()
        )),
        Ok(Err(e)) => Err(format!("{} cannot run: {e}", program.display())),
        Ok(Ok(output)) if output.status.success() => Ok(()),
        Ok(Ok(output)) => Err(format!(
            "{} {args:?} failed: {}",
            program.display(),
            String::from_utf8_lossy(&output.stderr)
                .lines()
                .last()
                .unwrap_or("")
        )),
    }
}

/// Creates a virtualenv under `dir` and installs the client; its Python, or why not.
async fn install(dir: &Path) -> Result<std::path::PathBuf, String> {
    let venv = dir.join("venv");
    let venv_text = venv.to_string_lossy().to_string();
    let started = tokio::time::Instant::now();
    run(
        Path::new("python3"),
        &["-m", "venv", &venv_text],
        INSTALL_DEADLINE,
    )
    .await?;
    let python = venv.join("bin").join("python");
    let left = INSTALL_DEADLINE.saturating_sub(started.elapsed());
    let pip = [
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-input",
        PACKAGE,
    ];
    run(&python, &pip, left).await?;
    Ok(python)
}

#[tokio::test]
async fn multitempmail_reads_an_open_inbox_through_v1_with_only_its_base_url_changed() {
    let dir = tempfile::tempdir().unwrap();
    let python = match install(dir.path()).await {
        Ok(python) => python,
        Err(reason) => return skip(&reason),
    };
    let script = dir.path().join("client.py");
    std::fs::write(&script, SCRIPT).unwrap();
    // A short hold: the client lists once more after deleting, and an empty list waits it out.
    let server = open_server(Duration::from_secs(3)).await;
    let mut child = Command::new(&python)
        .arg(&script)
        .arg(server.url())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let run = async {
        let first: Value =
            serde_json::from_str(&lines.next_line().await.unwrap().expect("the address line")).unwrap();
        let address = first["address"].as_str().unwrap().to_string();
        assert!(address.ends_with(&format!("@{OPEN}")), "{address}");
        // The client is long-polling now (or about to): this mail is what it waits for.
        let attachment: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        let message = crlf(&format!(
            "From: Sign-up <signup@service.example>\nTo: {address}\nSubject: Your code is 314159\n\
             MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"b\"\n\n\
             --b\nContent-Type: text/plain; charset=utf-8\n\nEnter 314159 to continue.\n\
             --b\nContent-Type: application/octet-stream; name=\"key.bin\"\n\
             Content-Disposition: attachment; filename=\"key.bin\"\nContent-Transfer-Encoding: base64\n\n\
             {}--b--\n",
            base64(&attachment)
        ));
        deliver(
            server.smtp_addr(),
            "bounce@service.example",
            &[&address],
            &message,
        )
        .await;
        let last = lines.next_line().await.unwrap().expect("the result line");
        (attachment, serde_json::from_str::<Value>(&last).unwrap())
    };
    let (attachment, result) = match tokio::time::timeout(RUN_DEADLINE, run).await {
        Ok(done) => done,
        Err(_) => {
            let _ = child.kill().await;
            let output = child.wait_with_output().await.unwrap();
            panic!(
                "the client did not finish: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
    };
    let status = child.wait().await.unwrap();
    assert!(status.success(), "the client failed");
    assert_eq!(result["domains"][0], OPEN);
    assert_eq!(result["subject"], "Your code is 314159");
    assert_eq!(result["sender"], "signup@service.example");
    assert_eq!(result["text"], "Enter 314159 to continue.");
    assert_eq!(result["attachment_name"], "key.bin");
    assert_eq!(result["attachment_type"], "application/octet-stream");
    assert_eq!(result["attachment_hex"], hex(&attachment));
    assert_eq!(result["left_after_delete"], 0);
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
