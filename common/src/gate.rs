//! `RateGate`: one backoff gate per server, shared by every clone of a [`crate::Client`]. After a
//! 429 every request waits until the server's `Retry-After` has passed (capped), and for a while
//! after that they go one at a time, so waiting requests do not all rush the server at once and
//! earn another 429 each.

use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::{Semaphore, SemaphorePermit};
use tokio::time::Instant;

/// The longest a `Retry-After` is honoured: a server asking for more gets asked again sooner.
pub const MAX_WAIT: Duration = Duration::from_secs(30);
/// How long after the gate reopens requests still go one at a time.
const SINGLE_FILE_FOR: Duration = Duration::from_secs(10);

/// The gate: closed until an instant after a 429, single file for a while after that.
#[derive(Debug)]
pub struct RateGate {
    until: Mutex<Option<Instant>>,
    lane: Semaphore,
}

impl Default for RateGate {
    fn default() -> Self {
        RateGate {
            until: Mutex::new(None),
            lane: Semaphore::new(1),
        }
    }
}

impl RateGate {
    /// How long the gate stays closed, if it is closed now.
    pub fn remaining(&self) -> Option<Duration> {
        let until = (*self.until.lock().expect("gate lock"))?;
        let left = until.saturating_duration_since(Instant::now());
        (!left.is_zero()).then_some(left)
    }

    /// Closes the gate for `retry_after` seconds (at least 1, at most [`MAX_WAIT`]), or longer
    /// if it is already closed for longer.
    pub fn close(&self, retry_after: u64) {
        let wait = Duration::from_secs(retry_after.max(1)).min(MAX_WAIT);
        self.close_until(Instant::now() + wait);
    }

    fn close_until(&self, new: Instant) {
        let mut until = self.until.lock().expect("gate lock");
        if until.is_none_or(|u| u < new) {
            *until = Some(new);
        }
    }

    /// Whether a 429 was seen recently enough that requests should go one at a time.
    fn single_file(&self) -> bool {
        self.until
            .lock()
            .expect("gate lock")
            .is_some_and(|u| Instant::now() < u + SINGLE_FILE_FOR)
    }

    /// Waits until a request may go. While requests go single file the returned permit is the
    /// turn: hold it until the answer is in. The turn is taken before waiting out the gate, so
    /// requests keep their order and each waits for one turn, not for a lucky wake-up.
    pub async fn pass(&self) -> Option<SemaphorePermit<'_>> {
        loop {
            if !self.single_file() {
                return None;
            }
            let permit = self.lane.acquire().await.expect("the lane is never closed");
            if let Some(left) = self.remaining() {
                tokio::time::sleep(left).await;
            }
            // Another request (one that went before single file began) may have closed it again.
            if self.remaining().is_none() {
                return Some(permit);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_is_capped_and_never_shortened() {
        let gate = RateGate::default();
        assert!(gate.remaining().is_none());
        gate.close(3600);
        let left = gate.remaining().unwrap();
        assert!(
            left <= MAX_WAIT && left > MAX_WAIT - Duration::from_secs(5),
            "{left:?}"
        );

        let gate = RateGate::default();
        gate.close(5);
        gate.close(1);
        assert!(gate.remaining().unwrap() > Duration::from_secs(3));
    }

    #[tokio::test]
    async fn after_a_429_requests_go_single_file_then_freely() {
        let gate = RateGate::default();
        assert!(gate.pass().await.is_none(), "an open gate lets everyone through");

        // Just reopened: one request at a time.
        gate.close_until(Instant::now());
        let first = gate.pass().await.expect("single file after a 429");
        let second = gate.pass();
        tokio::pin!(second);
        let waited = tokio::time::timeout(Duration::from_millis(50), &mut second).await;
        assert!(
            waited.is_err(),
            "the second request waits for the first one's turn"
        );
        drop(first);
        assert!(second.await.is_some());

        // Long after the last 429: everyone goes at once again.
        let gate = RateGate::default();
        gate.close_until(Instant::now() - SINGLE_FILE_FOR - Duration::from_secs(1));
        assert!(gate.pass().await.is_none());
    }
}
