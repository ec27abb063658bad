//! Admitting TCP connections, for HTTP and SMTP alike: a cap in all and per client (an IPv4
//! address or IPv6 /64), and an accept loop that rides out running out of file descriptors.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::ratelimit::client_key;
use crate::slots::{Slot, Slots};

/// Pause after a failed accept (out of descriptors and the like) before the next try.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// Refused connections and failed accepts are logged at most this often, with a count, so a
/// flood of them cannot flood the log.
const LOGGED_EVERY: Duration = Duration::from_secs(10);

/// Counts events and says when to log them: the first at once, then at most once per
/// `LOGGED_EVERY`.
#[derive(Default)]
pub struct LogThrottle {
    state: Mutex<(Option<Instant>, u64)>,
}

impl LogThrottle {
    /// Counts one event; `Some(n)` when it is time for a log line about the `n` since the last.
    pub fn tick(&self) -> Option<u64> {
        let mut state = self.state.lock().expect("log throttle lock");
        state.1 += 1;
        if state.0.is_some_and(|logged| logged.elapsed() < LOGGED_EVERY) {
            return None;
        }
        let count = state.1;
        *state = (Some(Instant::now()), 0);
        Some(count)
    }
}

/// How many connections are served at once, in all and per client.
pub struct ConnectionLimits {
    /// What is served ("HTTP", "SMTP"), for the log.
    what: &'static str,
    total: Arc<Semaphore>,
    per_client: Arc<Slots<IpAddr>>,
    /// Clients the per-client cap does not apply to (trusted proxies carry many clients).
    exempt: Vec<IpAddr>,
    refusals: LogThrottle,
}

/// One admitted connection; its place is given back on drop.
pub struct ConnectionPermit {
    _total: OwnedSemaphorePermit,
    _client: Option<Slot<IpAddr>>,
}

impl ConnectionLimits {
    /// At most `total` connections, `per_client` of them from one client, except from `exempt`.
    pub fn new(what: &'static str, total: usize, per_client: usize, exempt: Vec<IpAddr>) -> ConnectionLimits {
        ConnectionLimits {
            what,
            total: Arc::new(Semaphore::new(total)),
            per_client: Slots::new(per_client),
            exempt,
            refusals: LogThrottle::default(),
        }
    }

    /// A place for a connection from `peer`, or `None` (logged) when a limit is reached.
    pub fn admit(&self, peer: SocketAddr) -> Option<ConnectionPermit> {
        let permit = self.try_admit(peer.ip());
        if permit.is_none() {
            self.log_refusal(peer);
        }
        permit
    }

    fn try_admit(&self, ip: IpAddr) -> Option<ConnectionPermit> {
        let client = if self.exempt.contains(&ip) {
            None
        } else {
            Some(self.per_client.admit(client_key(ip))?)
        };
        let total = self.total.clone().try_acquire_owned().ok()?;
        Some(ConnectionPermit {
            _total: total,
            _client: client,
        })
    }

    fn log_refusal(&self, peer: SocketAddr) {
        if let Some(count) = self.refusals.tick() {
            tracing::warn!(
                "{}: refused {count} connection(s) over the limits, the last from {peer}",
                self.what
            );
        }
    }
}

/// Accepts the next connection. A failed accept (out of file descriptors, mostly) is retried
/// after a short pause, so the listener neither spins nor dies, and logged through `failures`.
pub async fn accept(listener: &TcpListener, what: &str, failures: &LogThrottle) -> (TcpStream, SocketAddr) {
    loop {
        match listener.accept().await {
            Ok(accepted) => return accepted,
            Err(e) => {
                if let Some(count) = failures.tick() {
                    tracing::warn!(
                        "{what}: accepting a connection failed ({e}); retrying ({count} failure(s))"
                    );
                }
                tokio::time::sleep(ACCEPT_BACKOFF).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_throttled_log_speaks_first_then_counts() {
        let log = LogThrottle::default();
        assert_eq!(log.tick(), Some(1));
        assert_eq!(log.tick(), None);
        assert_eq!(log.tick(), None);
        log.state.lock().unwrap().0 = Some(Instant::now() - LOGGED_EVERY);
        assert_eq!(log.tick(), Some(3));
    }

    #[test]
    fn limits_apply_in_all_and_per_client_but_not_to_exempt_clients() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let limits = ConnectionLimits::new("test", 3, 1, vec![proxy]);
        let peer = |ip: IpAddr| SocketAddr::new(ip, 1234);
        let client: IpAddr = "192.0.2.1".parse().unwrap();
        let a = limits.admit(peer(client)).unwrap();
        assert!(limits.admit(peer(client)).is_none(), "per client");
        let _p1 = limits.admit(peer(proxy)).unwrap();
        let _p2 = limits.admit(peer(proxy)).unwrap();
        assert!(limits.admit(peer(proxy)).is_none(), "in all");
        drop(a);
        assert!(limits.admit(peer("192.0.2.9".parse().unwrap())).is_some());
    }
}
