//! Admitting TCP connections, for HTTP and SMTP alike: a cap in all and per client (an IPv4
//! address or IPv6 /64), and an accept loop that rides out running out of file descriptors.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::ratelimit::client_key;
use crate::slots::{Slot, Slots};

/// Pause after a failed accept (out of descriptors and the like) before the next try.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// How many connections are served at once, in all and per client.
pub struct ConnectionLimits {
    total: Arc<Semaphore>,
    per_client: Arc<Slots<IpAddr>>,
    /// Clients the per-client cap does not apply to (trusted proxies carry many clients).
    exempt: Vec<IpAddr>,
}

/// One admitted connection; its place is given back on drop.
pub struct ConnectionPermit {
    _total: OwnedSemaphorePermit,
    _client: Option<Slot<IpAddr>>,
}

impl ConnectionLimits {
    /// At most `total` connections, `per_client` of them from one client, except from `exempt`.
    pub fn new(total: usize, per_client: usize, exempt: Vec<IpAddr>) -> ConnectionLimits {
        ConnectionLimits {
            total: Arc::new(Semaphore::new(total)),
            per_client: Slots::new(per_client),
            exempt,
        }
    }

    /// A place for a connection from `ip`, or `None` when a limit is reached.
    pub fn admit(&self, ip: IpAddr) -> Option<ConnectionPermit> {
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
        let limits = ConnectionLimits::new(3, 1, vec![proxy]);
        let a = limits.admit("192.0.2.1".parse().unwrap()).unwrap();
        assert!(limits.admit("192.0.2.1".parse().unwrap()).is_none(), "per client");
        let _p1 = limits.admit(proxy).unwrap();
        let _p2 = limits.admit(proxy).unwrap();
        assert!(limits.admit(proxy).is_none(), "in all");
        drop(a);
        assert!(limits.admit("192.0.2.9".parse().unwrap()).is_some());
    }
}
