//! The sweeper that removes mail whose retention ran out, in small batches. It sleeps until the
//! next message is due, so an idle server with no mail never wakes for it.

use std::time::Duration;

use tokio::sync::{broadcast, watch};

use crate::auth::unix_now;
use crate::events::Events;
use crate::store::Store;
use crate::store::messages;

/// Messages removed per transaction, so a large sweep never holds the writer for long.
const BATCH: u32 = 200;
/// Longest sleep between sweeps, so a changed clock is noticed within the hour.
const MAX_SLEEP: Duration = Duration::from_secs(3600);
/// Pause after a failed sweep before trying again.
const RETRY_AFTER_ERROR: Duration = Duration::from_secs(30);

/// Sweeps until `shutdown` turns true. Expired mail already answers 410 before it is swept; the
/// sweep frees its space. Each message carries the expiry in force when it arrived, so mail kept
/// under an earlier setting still goes when due.
pub async fn run(store: Store, events: Events, mut shutdown: watch::Receiver<bool>) {
    let mut new_mail = events.subscribe();
    loop {
        let wait = match sweep(&store).await {
            Ok(Some(due)) => Duration::from_secs(due.saturating_sub(unix_now() as i64).max(1) as u64),
            Ok(None) => MAX_SLEEP,
            Err(e) => {
                tracing::error!("retention sweep failed: {e}");
                RETRY_AFTER_ERROR
            }
        };
        tokio::select! {
            _ = crate::stopping(&mut shutdown) => return,
            _ = tokio::time::sleep(wait.min(MAX_SLEEP)) => {}
            // With nothing due, new mail may bring the next expiry.
            received = new_mail.recv(), if wait == MAX_SLEEP => {
                if let Err(broadcast::error::RecvError::Closed) = received {
                    return;
                }
            }
        }
    }
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
            return store.read(messages::next_expiry).await;
        }
        tokio::task::yield_now().await;
    }
}
