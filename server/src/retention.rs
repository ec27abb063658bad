//! The sweeper that removes mail whose retention ran out, in small batches. It sleeps until the
//! earliest expiry it knows of, and is woken only when a delivery brings an earlier one (mostly:
//! the first expiring message after none), so neither an idle server nor steady mail wakes it.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use tokio::sync::{Notify, watch};

use crate::auth::unix_now;
use crate::store::Store;
use crate::store::{messages, open};

/// Messages removed per transaction, so a large sweep never holds the writer for long.
const BATCH: u32 = 200;
/// Longest sleep between sweeps, so a changed clock is noticed within the hour.
const MAX_SLEEP: Duration = Duration::from_secs(3600);
/// Pause after a failed sweep before trying again.
const RETRY_AFTER_ERROR: Duration = Duration::from_secs(30);
/// "Nothing is due": no stored message has an expiry.
const NEVER: i64 = i64::MAX;

/// When the sweeper is next due (Unix seconds), and how deliveries wake it earlier.
#[derive(Default)]
pub struct Schedule {
    next_due: AtomicI64,
    wake: Notify,
}

impl Schedule {
    /// A schedule with nothing due.
    pub fn new() -> Arc<Schedule> {
        Arc::new(Schedule {
            next_due: AtomicI64::new(NEVER),
            wake: Notify::new(),
        })
    }

    /// A message that expires at `at` was committed: wakes the sweeper if that is earlier than
    /// anything it waits for.
    pub fn expires(&self, at: i64) {
        if self.next_due.fetch_min(at, Ordering::AcqRel) > at {
            self.wake.notify_one();
        }
    }
}

/// Sweeps until `shutdown` turns true. Expired mail already answers 410 before it is swept; the
/// sweep frees its space. Each message carries the expiry in force when it arrived, so mail kept
/// under an earlier setting still goes when due.
pub async fn run(store: Store, schedule: Arc<Schedule>, mut shutdown: watch::Receiver<bool>) {
    loop {
        // Forget the old due time first: an expiry announced from here on is kept by
        // `fetch_min`, and one committed before the sweep's read is in what the read returns.
        schedule.next_due.store(NEVER, Ordering::Release);
        let wait = match sweep(&store).await {
            Ok(due) => {
                let due = due.unwrap_or(NEVER);
                let due = schedule.next_due.fetch_min(due, Ordering::AcqRel).min(due);
                until(due)
            }
            Err(e) => {
                tracing::error!("retention sweep failed: {e}");
                RETRY_AFTER_ERROR
            }
        };
        tokio::select! {
            _ = crate::stopping(&mut shutdown) => return,
            _ = tokio::time::sleep(wait) => {}
            _ = schedule.wake.notified() => {}
        }
    }
}

/// How long until `due` (Unix seconds), at least a second and at most `MAX_SLEEP`.
fn until(due: i64) -> Duration {
    if due == NEVER {
        return MAX_SLEEP;
    }
    let secs = due.saturating_sub(unix_now() as i64).max(1) as u64;
    Duration::from_secs(secs).min(MAX_SLEEP)
}

/// Removes everything due now; returns when the next message falls due (Unix seconds).
async fn sweep(store: &Store) -> crate::store::StoreResult<Option<i64>> {
    loop {
        let now = unix_now() as i64;
        let removed = store
            .write(move |conn| messages::sweep_expired(conn, now, BATCH))
            .await?;
        if removed > 0 {
            tracing::debug!("retention removed {removed} messages");
        }
        if (removed as u32) < BATCH {
            break;
        }
        tokio::task::yield_now().await;
    }
    // Open inboxes keep mail for their own (shorter) time, swept the same way.
    loop {
        let now = unix_now() as i64;
        let removed = store
            .write(move |conn| open::sweep_expired(conn, now, BATCH))
            .await?;
        if removed > 0 {
            tracing::debug!("open retention removed {removed} emails");
        }
        if (removed as u32) < BATCH {
            break;
        }
        tokio::task::yield_now().await;
    }
    store
        .read(|conn| {
            let (mail, open) = (messages::next_expiry(conn)?, open::next_expiry(conn)?);
            Ok(mail.into_iter().chain(open).min())
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_earlier_expiry_wakes_the_sweeper() {
        let schedule = Schedule::new();
        schedule.expires(100);
        let woken = schedule.wake.notified();
        tokio::pin!(woken);
        assert!(woken.as_mut().enable(), "the first expiry wakes it");
        schedule.expires(200);
        schedule.expires(150);
        assert_eq!(schedule.next_due.load(Ordering::Acquire), 100);
        let again = schedule.wake.notified();
        tokio::pin!(again);
        assert!(!again.as_mut().enable(), "later expiries do not");
        schedule.expires(50);
        assert!(again.as_mut().enable(), "an earlier one does");
    }
}
