//! The live connection of an open inbox: `/api/ws` through `Client::subscribe`, reopened after
//! the server restarts or the network breaks: every 2 s at most for the first minute of an outage
//! (a restarted server is back within seconds), then with growing waits. An open inbox's live
//! connection is a chain of `/v1` long polls instead, retried the same way.

use std::time::Duration;

use mailcx_common::v1::InboxQuery;
use mailcx_common::{Client, ClientError, ErrorCode};
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::AbortHandle;

use crate::action::{Action, LiveEvent};

/// First wait before reconnecting; doubles after each failure.
const FIRST_RETRY: Duration = Duration::from_millis(500);
/// Longest wait between attempts in the first minute of an outage.
const QUICK_RETRY: Duration = Duration::from_secs(2);
/// How long an outage is retried quickly before the waits grow.
const QUICK_FOR: Duration = Duration::from_secs(60);
/// Longest wait between reconnection attempts.
const MAX_RETRY: Duration = Duration::from_secs(30);

/// Whole seconds until `at`, rounded up (a countdown shows 1 until the moment, never 0 early).
pub fn seconds_left(at: std::time::Instant) -> u64 {
    crate::format::whole_seconds(at.saturating_duration_since(std::time::Instant::now()))
}

/// The wait before the next attempt, `attempt` failures (from 0) and `outage` into an outage.
pub fn retry_wait(attempt: u32, outage: Duration) -> Duration {
    let grown = FIRST_RETRY.saturating_mul(2u32.saturating_pow(attempt.min(16)));
    let cap = if outage < QUICK_FOR {
        QUICK_RETRY
    } else {
        MAX_RETRY
    };
    grown.min(cap)
}

/// Where a connection is in an outage: how many attempts failed, since when.
#[derive(Default)]
struct Outage {
    attempt: u32,
    began: Option<tokio::time::Instant>,
}

impl Outage {
    /// The connection works again; true if it was out.
    fn end(&mut self) -> bool {
        self.attempt = 0;
        self.began.take().is_some()
    }

    /// One more attempt failed: how long to wait before the next.
    fn next_wait(&mut self) -> Duration {
        let began = *self.began.get_or_insert_with(tokio::time::Instant::now);
        let wait = retry_wait(self.attempt, began.elapsed());
        self.attempt += 1;
        wait
    }
}

/// How a live connection starts: [`spawn`] for a mailbox, [`spawn_open`] for an open inbox.
pub type Spawn = fn(Client, String, UnboundedSender<Action>) -> AbortHandle;

/// Starts the live connection of `address` (whose token `client` carries). Abort the returned
/// handle when the inbox closes; to retry at once, start a new one.
pub fn spawn(client: Client, address: String, tx: UnboundedSender<Action>) -> AbortHandle {
    let send = move |event| {
        tx.send(Action::Live {
            address: address.clone(),
            event,
        })
        .is_ok()
    };
    tokio::spawn(async move {
        let mut outage = Outage::default();
        loop {
            let reason = match client.subscribe().await {
                Ok(mut subscription) => {
                    outage.end();
                    if !send(LiveEvent::Connected) {
                        return;
                    }
                    loop {
                        match subscription.next_email().await {
                            Some(Ok(email)) => {
                                if !send(LiveEvent::Email(email)) {
                                    return;
                                }
                            }
                            Some(Err(e)) if e.code() == Some(ErrorCode::InvalidToken) => {
                                send(LiveEvent::Refused(e));
                                return;
                            }
                            // One frame we do not understand is no reason to drop the connection.
                            Some(Err(mailcx_common::ClientError::Protocol(_))) => continue,
                            Some(Err(e)) => break e.to_string(),
                            None => break "the server closed the connection".to_string(),
                        }
                    }
                }
                Err(e) if e.code() == Some(ErrorCode::InvalidToken) => {
                    send(LiveEvent::Refused(e));
                    return;
                }
                Err(e) => e.to_string(),
            };
            let retry_in = outage.next_wait();
            if !send(LiveEvent::Disconnected { retry_in, reason }) {
                return;
            }
            tokio::time::sleep(retry_in).await;
        }
    })
    .abort_handle()
}

/// Most emails one long poll brings (the server's maximum).
const OPEN_BATCH: u32 = 50;

/// Starts the live connection of the open inbox `address`: long polls on `/v1/inbox/{address}`
/// one after the other, each from the cursor of the last, so nothing comes twice. Mail already
/// there when it starts is reported as [`LiveEvent::Existing`], the rest as it arrives.
pub fn spawn_open(client: Client, address: String, tx: UnboundedSender<Action>) -> AbortHandle {
    let send = {
        let address = address.clone();
        move |event| {
            tx.send(Action::Live {
                address: address.clone(),
                event,
            })
            .is_ok()
        }
    };
    tokio::spawn(async move {
        // Mail from before this second is what was there already, not news.
        let started = chrono::Utc::now() - chrono::Duration::seconds(1);
        let mut query = InboxQuery {
            limit: Some(OPEN_BATCH),
            ..InboxQuery::default()
        };
        let mut outage = Outage::default();
        if !send(LiveEvent::Connected) {
            return;
        }
        loop {
            let reason = match client.v1_wait(&address, &query).await {
                Ok(list) => {
                    if outage.end() && !send(LiveEvent::Connected) {
                        return;
                    }
                    let Some(list) = list else { continue };
                    query.since = Some(list.next_since);
                    // Oldest first, as they arrived.
                    let (old, new): (Vec<_>, Vec<_>) = list
                        .emails
                        .into_iter()
                        .rev()
                        .map(|e| crate::origin::new_email_of(&address, e))
                        .partition(|e| e.created_at < started);
                    if !old.is_empty() && !send(LiveEvent::Existing(old)) {
                        return;
                    }
                    for email in new {
                        if !send(LiveEvent::Email(email)) {
                            return;
                        }
                    }
                    continue;
                }
                // The server refuses this address for good (a closed domain, a bad address).
                Err(
                    e @ ClientError::Api {
                        status: 400..=404, ..
                    },
                ) => {
                    send(LiveEvent::Refused(e));
                    return;
                }
                Err(e) => e.to_string(),
            };
            let retry_in = outage.next_wait();
            if !send(LiveEvent::Disconnected { retry_in, reason }) {
                return;
            }
            tokio::time::sleep(retry_in).await;
        }
    })
    .abort_handle()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outage_is_retried_every_two_seconds_at_most_then_less_often() {
        let secs = |s| Duration::from_secs(s);
        assert_eq!(retry_wait(0, secs(0)), FIRST_RETRY);
        assert_eq!(retry_wait(1, secs(1)), secs(1));
        assert_eq!(retry_wait(2, secs(2)), secs(2));
        assert_eq!(
            retry_wait(9, secs(40)),
            secs(2),
            "a restarted server is seen within 2 s"
        );
        assert_eq!(retry_wait(30, secs(59)), secs(2));
        assert_eq!(retry_wait(30, secs(60)), MAX_RETRY, "then the waits grow");
        assert_eq!(retry_wait(u32::MAX, secs(3600)), MAX_RETRY);
    }
}
