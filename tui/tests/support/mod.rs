//! Fixtures shared by the screen-test binaries: the app on a made-up embedded server, a fixed
//! clock, message summaries, API errors and snapshots at two sizes. Each binary uses only some.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use mailcx::saved::{Saved, SavedMailbox};
use mailcx::testing::Harness;
use mailcx::{ServerInfo, Settings};
use mailcx_common::{Client, ClientError, ErrorBody, ErrorCode, MessageSummary, Timestamp};
use uuid::Uuid;

/// Nothing listens here: requests the screens start fail, but they are never pumped.
pub const NOWHERE: &str = "http://127.0.0.1:9";

/// The moment every screen test is drawn at, so ages read the same in every snapshot.
pub fn now() -> Timestamp {
    "2025-01-15T10:30:00Z".parse().unwrap()
}

/// `minutes` before `now()`.
pub fn ago(minutes: i64) -> Timestamp {
    now() - chrono::Duration::minutes(minutes)
}

/// The embedded server on the usual ports, as the screens show it.
pub fn embedded() -> ServerInfo {
    ServerInfo::Embedded {
        http: "127.0.0.1:8080".parse().unwrap(),
        smtp: "127.0.0.1:2525".parse().unwrap(),
        db: PathBuf::from("/data/mailcx.db"),
    }
}

/// A signed-in mailbox to save.
pub fn mailbox(address: &str, id: u128, token: &str) -> SavedMailbox {
    SavedMailbox {
        address: address.into(),
        id: Uuid::from_u128(id),
        token: token.into(),
        password: None,
        open: false,
    }
}

/// An app shown as `embedded()` but talking to `url`, with `saved` saved in its config dir
/// `dir`, and its clock at `now()`.
pub fn harness_with(dir: &Path, url: &str, saved: Vec<SavedMailbox>) -> Harness {
    let server = embedded();
    let (mut list, _) = Saved::load(dir, &server.key());
    for mailbox in saved {
        list.upsert(mailbox).unwrap();
    }
    let mut h = Harness::new(Settings {
        server,
        client: Client::new(url),
        config_dir: dir.into(),
        downloads: PathBuf::from("/home/me/Downloads"),
    });
    h.app.set_clock(now());
    h
}

/// A list entry numbered `n` (its id and size follow from it).
pub fn summary(
    n: u128,
    from: &str,
    subject: &str,
    preview: &str,
    minutes: i64,
    read: bool,
) -> MessageSummary {
    MessageSummary {
        id: Uuid::from_u128(n),
        sender: "bounce@example.org".into(),
        from: from.into(),
        subject: subject.into(),
        preview_text: preview.into(),
        size: 1200 * n as u64 + 345,
        created_at: ago(minutes),
        is_read: read,
    }
}

/// The error the server answers with `code` and `message`.
pub fn api_error(code: ErrorCode, message: &str) -> ClientError {
    ClientError::Api {
        status: code.status(),
        body: ErrorBody {
            error: code,
            message: message.into(),
        },
        retry_after: None,
    }
}

/// Snapshots the screen as it is at 80×24 and at 40×12, named `name_80x24` and `name_40x12`.
/// A macro, so that the snapshots are named and stored as the calling test file's.
#[allow(unused_macros)]
macro_rules! both {
    ($h:expr, $name:expr) => {{
        let (h, name): (&mut Harness, &str) = ($h, $name);
        h.resize(80, 24);
        insta::assert_snapshot!(format!("{name}_80x24"), h.screen());
        h.resize(40, 12);
        insta::assert_snapshot!(format!("{name}_40x12"), h.screen());
        h.resize(80, 24);
    }};
}
#[allow(unused_imports)]
pub(crate) use both;
