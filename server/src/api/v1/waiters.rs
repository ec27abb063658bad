//! The bounds on long polls and event streams: per address, per API token, per client and
//! server-wide. A waiter holds its slots while it waits; they go back when it is dropped.

use std::net::IpAddr;
use std::sync::Arc;

use mailcx_common::ErrorCode;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use uuid::Uuid;

use crate::error::ApiError;
use crate::ratelimit::client_key;
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
    /// Keyed like the rate limit (IPv4 address or IPv6 /64): over HTTP/2 one client's many
    /// streams share one connection, so only this keeps it from taking every server-wide slot.
    clients: Arc<Slots<IpAddr>>,
    per_client: usize,
    all: Arc<Semaphore>,
}

/// The slots one waiter holds.
pub struct Waiting {
    _address: Slot<String>,
    _token: Option<Slot<Uuid>>,
    _client: Slot<IpAddr>,
    _all: OwnedSemaphorePermit,
}

impl Waiters {
    /// At most `max` waiters on the whole server and `per_client` from one client.
    pub fn new(max: usize, per_client: usize) -> Waiters {
        Waiters {
            addresses: Slots::new(PER_ADDRESS),
            tokens: Slots::new(PER_TOKEN),
            clients: Slots::new(per_client),
            per_client,
            all: Arc::new(Semaphore::new(max.min(Semaphore::MAX_PERMITS))),
        }
    }

    /// Slots for one more waiter of `client` on `address` (and for `token`, when the caller sent
    /// one).
    pub fn admit(&self, address: &str, token: Option<Uuid>, client: IpAddr) -> Result<Waiting, ApiError> {
        let all = self.all.clone().try_acquire_owned().map_err(|_| {
            busy(
                ErrorCode::RateLimitExceeded,
                "the server holds as many waiting requests as it may; try again shortly",
            )
        })?;
        let client = self.clients.admit(client_key(client)).ok_or_else(|| {
            busy(
                ErrorCode::RateLimitExceeded,
                format!("{} requests of this client already wait", self.per_client),
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
            _client: client,
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

    const CLIENT: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));

    #[test]
    fn each_bound_refuses_with_its_own_code() {
        let waiters = Waiters::new(12, 100);
        let on_a: Vec<_> = (0..PER_ADDRESS)
            .map(|_| waiters.admit("a@x.test", None, CLIENT).unwrap())
            .collect();
        let code = |r: Result<Waiting, ApiError>| r.err().map(|e| e.code);
        assert_eq!(
            code(waiters.admit("a@x.test", None, CLIENT)),
            Some(ErrorCode::AddrBusy)
        );
        let token = Uuid::new_v4();
        let held = waiters.admit("b@x.test", Some(token), CLIENT).unwrap();
        assert_eq!(
            code(waiters.admit("c@x.test", Some(token), CLIENT)),
            Some(ErrorCode::TokenBusy)
        );
        let _last = waiters.admit("c@x.test", None, CLIENT).unwrap();
        assert_eq!(
            code(waiters.admit("d@x.test", None, CLIENT)),
            Some(ErrorCode::RateLimitExceeded),
            "12 wait on the server"
        );
        drop(held);
        drop(on_a);
        assert!(
            waiters.admit("a@x.test", Some(token), CLIENT).is_ok(),
            "slots come back"
        );
    }

    #[test]
    fn one_client_holds_at_most_its_share_keyed_like_the_rate_limit() {
        let waiters = Waiters::new(100, 2);
        let ip = |text: &str| text.parse::<IpAddr>().unwrap();
        let code = |r: Result<Waiting, ApiError>| r.err().map(|e| e.code);
        let _a = waiters.admit("a@x.test", None, ip("2001:db8::1")).unwrap();
        let b = waiters.admit("b@x.test", None, ip("2001:db8::2")).unwrap();
        assert_eq!(
            code(waiters.admit("c@x.test", None, ip("2001:db8::ffff"))),
            Some(ErrorCode::RateLimitExceeded),
            "one IPv6 /64 is one client"
        );
        assert!(waiters.admit("c@x.test", None, ip("2001:db8:0:1::1")).is_ok());
        assert!(waiters.admit("c@x.test", None, CLIENT).is_ok());
        drop(b);
        assert!(waiters.admit("c@x.test", None, ip("2001:db8::3")).is_ok());
    }
}
