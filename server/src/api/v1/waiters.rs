//! The bounds on long polls and event streams: per address, per API token and server-wide. A
//! waiter holds its slots while it waits; they go back when it is dropped.

use std::sync::Arc;

use mailcx_common::ErrorCode;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use uuid::Uuid;

use crate::error::ApiError;
use crate::slots::{Slot, Slots};

/// Waits on one address at once; the next is `addr_busy`.
pub const PER_ADDRESS: usize = 10;
/// Long polls of one API token at once; the next is `token_busy`.
pub const PER_TOKEN: usize = 1;
/// What a refused waiter is told to wait before trying again, in seconds.
const RETRY_AFTER_SECS: u64 = 1;

/// The counts of who waits.
pub struct Waiters {
    addresses: Arc<Slots<String>>,
    tokens: Arc<Slots<Uuid>>,
    all: Arc<Semaphore>,
}

/// The slots one waiter holds.
pub struct Waiting {
    _address: Slot<String>,
    _token: Option<Slot<Uuid>>,
    _all: OwnedSemaphorePermit,
}

impl Waiters {
    /// At most `max` waiters on the whole server.
    pub fn new(max: usize) -> Waiters {
        Waiters {
            addresses: Slots::new(PER_ADDRESS),
            tokens: Slots::new(PER_TOKEN),
            all: Arc::new(Semaphore::new(max.min(Semaphore::MAX_PERMITS))),
        }
    }

    /// Slots for one more waiter on `address` (and for `token`, when the caller sent one).
    pub fn admit(&self, address: &str, token: Option<Uuid>) -> Result<Waiting, ApiError> {
        let all = self.all.clone().try_acquire_owned().map_err(|_| {
            busy(
                ErrorCode::RateLimitExceeded,
                "the server holds as many waiting requests as it may; try again shortly",
            )
        })?;
        let token = match token {
            Some(token) => Some(self.tokens.admit(token).ok_or_else(|| {
                busy(
                    ErrorCode::TokenBusy,
                    "this API token already has a request waiting",
                )
            })?),
            None => None,
        };
        let address = self.addresses.admit(address.to_string()).ok_or_else(|| {
            busy(
                ErrorCode::AddrBusy,
                format!("{PER_ADDRESS} requests already wait on this address"),
            )
        })?;
        Ok(Waiting {
            _address: address,
            _token: token,
            _all: all,
        })
    }
}

fn busy(code: ErrorCode, message: impl Into<String>) -> ApiError {
    let mut error = ApiError::new(code, message);
    error.retry_after = Some(RETRY_AFTER_SECS);
    error
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_bound_refuses_with_its_own_code() {
        let waiters = Waiters::new(12);
        let on_a: Vec<_> = (0..PER_ADDRESS)
            .map(|_| waiters.admit("a@x.test", None).unwrap())
            .collect();
        let code = |r: Result<Waiting, ApiError>| r.err().map(|e| e.code);
        assert_eq!(code(waiters.admit("a@x.test", None)), Some(ErrorCode::AddrBusy));
        let token = Uuid::new_v4();
        let held = waiters.admit("b@x.test", Some(token)).unwrap();
        assert_eq!(
            code(waiters.admit("c@x.test", Some(token))),
            Some(ErrorCode::TokenBusy)
        );
        let _last = waiters.admit("c@x.test", None).unwrap();
        assert_eq!(
            code(waiters.admit("d@x.test", None)),
            Some(ErrorCode::RateLimitExceeded),
            "12 wait on the server"
        );
        drop(held);
        drop(on_a);
        assert!(waiters.admit("a@x.test", Some(token)).is_ok(), "slots come back");
    }
}
