//! Fixtures shared by the screen-test binaries: a fixed clock and message summaries.

use mailcx_common::{MessageSummary, Timestamp};
use uuid::Uuid;

/// The moment every screen test is drawn at, so ages read the same in every snapshot.
pub fn now() -> Timestamp {
    "2025-01-15T10:30:00Z".parse().unwrap()
}

/// `minutes` before `now()`.
pub fn ago(minutes: i64) -> Timestamp {
    now() - chrono::Duration::minutes(minutes)
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
