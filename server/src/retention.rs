//! The sweeper that removes mail older than the retention period, in small batches.

use std::time::Duration;

use tokio::sync::watch;

use crate::auth::unix_now;
use crate::store::Store;
use crate::store::messages;

/// Messages removed per transaction, so a large sweep never holds the writer for long.
const BATCH: u32 = 200;

/// Sweeps every `interval` until `shutdown` turns true. Expired mail already answers 410 before
/// it is swept; the sweep frees the space.
pub async fn run(store: Store, interval: Duration, mut shutdown: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = crate::stopping(&mut shutdown) => return,
            _ = tokio::time::sleep(interval) => {}
        }
        loop {
            let now = unix_now() as i64;
            match store
                .write(move |conn| messages::sweep_expired(conn, now, BATCH))
                .await
            {
                Ok(removed) if removed as u32 == BATCH => tokio::task::yield_now().await,
                Ok(removed) => {
                    if removed > 0 {
                        tracing::debug!("retention removed {removed} messages");
                    }
                    break;
                }
                Err(e) => {
                    tracing::error!("retention sweep failed: {e}");
                    break;
                }
            }
        }
    }
}

/// How often to sweep for a retention period: often enough to free space promptly, at most
/// once a second and at least once a minute.
pub fn interval(retention: Duration) -> Duration {
    (retention / 10).clamp(Duration::from_secs(1), Duration::from_secs(60))
}
