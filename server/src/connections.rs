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
/// Refused connections are logged at most this often, so a flood of them cannot flood the log.
const REFUSALS_LOGGED_EVERY: Duration = Duration::from_secs(1);

/// How many connections are served at once, in all and per client.
pub struct ConnectionLimits {
    /// What is served ("HTTP", "SMTP"), for the log.
    what: &'static str,
    total: Arc<Semaphore>,
    per_client: Arc<Slots<IpAddr>>,
    /// Clients the per-client cap does not apply to (trusted proxies carry many clients).
    exempt: Vec<IpAddr>,
    /// When refusals were last logged, and how many came since.
    refusals: Mutex<(Option<Instant>, u64)>,
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
            refusals: Mutex::new((None, 0)),
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
        let mut refusals = self.refusals.lock().expect("refusal log lock");
        refusals.1 += 1;
        if refusals
            .0
            .is_none_or(|logged| logged.elapsed() >= REFUSALS_LOGGED_EVERY)
        {
            tracing::warn!(
                "{}: refused {} connection(s) over the limits, the last from {peer}",
                self.what,
                refusals.1
            );
            *refusals = (Some(Instant::now()), 0);
        }
    }
}

/// Accepts the next connection. A failed accept (out of file descriptors, mostly) is logged once
/// per run of failures, then retried after a short pause, so the listener neither spins nor dies.
pub async fn accept(listener: &TcpListener, what: &str, failing: &mut bool) -> (TcpStream, SocketAddr) {
    loop {
        match listener.accept().await {
            Ok(accepted) => {
                if std::mem::take(failing) {
                    tracing::info!("{what}: accepting connections again");
                }
                return accepted;
            }
            Err(e) => {
                if !std::mem::replace(failing, true) {
                    tracing::warn!("{what}: accepting a connection failed ({e}); retrying");
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
