//! Attacks: mail that fills the disk. On a real small filesystem (a tmpfs this test mounts), the
//! server answers `452 4.3.1` while full, keeps serving reads, lets deletes free room, takes mail
//! again once there is room, and the database stays intact throughout.

use std::path::{Path, PathBuf};
use std::process::Command;

use mailcx_tests::TestServer;
use mailcx_tests::mail::{Smtp, message_of_size};
use reqwest::StatusCode;
use rusqlite::{Connection, OpenFlags};

/// A tmpfs of a few MiB, unmounted on drop.
struct SmallDisk {
    path: PathBuf,
}

impl SmallDisk {
    fn mount(path: &Path, mib: u32) -> SmallDisk {
        std::fs::create_dir_all(path).unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}m"), "tmpfs"])
            .arg(path)
            .status()
            .expect("mount runs");
        assert!(
            status.success(),
            "this test mounts a small tmpfs to fill it for real; it needs root (CI runs as root)"
        );
        SmallDisk {
            path: path.to_path_buf(),
        }
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

fn integrity_ok(db: &Path) {
    let conn = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let result: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(result, "ok");
}

#[tokio::test]
async fn a_full_disk_refuses_mail_with_452_keeps_reads_and_deletes_and_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let disk = SmallDisk::mount(&dir.path().join("disk"), 24);
    let db = disk.path.join("mailcx.db");
    let server = TestServer::start_with(|config| {
        config.db = Some(db.clone());
        config.quota = 1 << 30;
    })
    .await;
    let (account, client) = server.create_mailbox("filler").await;
    let to = account.address.as_str();
    let from = "sender@example.org";

    // Fill the disk: every 250 is a promise, the first refusal is 452 4.3.1.
    let mut smtp = Smtp::open(server.smtp_addr()).await;
    let mut acked = 0;
    let refusal = loop {
        let message = message_of_size(from, to, &format!("m{acked}"), 256 << 10);
        let reply = smtp.transaction(from, &[to], &message).await;
        if reply.code != 250 {
            break reply;
        }
        acked += 1;
        assert!(acked < 200, "a 24 MiB disk took 50 MiB of mail");
    };
    refusal.assert_status(452, "4.3.1");
    assert!(acked >= 10, "only {acked} messages fit");
    // While full: still 452, never 250 or 451.
    let message = message_of_size(from, to, "while full", 256 << 10);
    smtp.transaction(from, &[to], &message)
        .await
        .assert_status(452, "4.3.1");
    integrity_ok(&db);

    // Reads keep working, and every acknowledged message is there.
    let mut listed = Vec::new();
    for page in 1.. {
        let list = client.messages(page).await.expect("reads work while full");
        let last = list.messages.len() < 30;
        listed.extend(list.messages);
        if last {
            break;
        }
    }
    assert_eq!(listed.len(), acked);
    let source = server
        .get(
            &format!("/api/messages/{}/source", listed[0].id),
            Some(&account.token),
        )
        .await;
    assert_eq!(source.status(), StatusCode::OK);
    assert_eq!(source.bytes().await.unwrap().len() as u64, listed[0].size);

    // Deletes work while full and make room for a few messages: mail is taken again.
    for summary in &listed[..4] {
        client
            .delete_message(summary.id)
            .await
            .expect("deletes work while full");
    }
    let message = message_of_size(from, to, "after room was made", 256 << 10);
    smtp.transaction(from, &[to], &message).await.assert_code(250);
    integrity_ok(&db);
    let first = client.messages(1).await.unwrap().messages;
    assert_eq!(first[0].subject, "after room was made");
    drop(smtp);
    let mut server = server;
    server.stop().await;
    integrity_ok(&db);
    drop(disk);
}
