//! The live connection of an open inbox: `/api/ws` through `Client::subscribe`, reopened with
//! growing waits after the server restarts or the network breaks.

use std::time::Duration;

use mailcx_common::{Client, ErrorCode};
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::AbortHandle;

use crate::action::{Action, LiveEvent};

/// First wait before reconnecting; doubles after each failure.
const FIRST_RETRY: Duration = Duration::from_millis(500);
/// Longest wait between reconnection attempts.
const MAX_RETRY: Duration = Duration::from_secs(30);

/// Starts the live connection of `address` (whose token `client` carries). Abort the returned
/// handle when the inbox closes.
pub fn spawn(client: Client, address: String, tx: UnboundedSender<Action>) -> AbortHandle {
    let send = move |event| {
        tx.send(Action::Live {
            address: address.clone(),
            event,
        })
        .is_ok()
    };
    tokio::spawn(async move {
        let mut retry = FIRST_RETRY;
        loop {
            let reason = match client.subscribe().await {
                Ok(mut subscription) => {
                    retry = FIRST_RETRY;
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
            if !send(LiveEvent::Disconnected {
                retry_in: retry,
                reason,
            }) {
                return;
            }
            tokio::time::sleep(retry).await;
            retry = (retry * 2).min(MAX_RETRY);
        }
    })
    .abort_handle()
}
