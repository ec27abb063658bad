//! Per-client limits: a token bucket on every request, and a window on mailbox creation. A client
//! is an IPv4 address or an IPv6 /64 (one host's usual share, so rotating addresses within it
//! gains nothing).

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Requests a client may send at once before the rate applies.
pub const BURST: f64 = 16.0;
/// Requests per second of a Pro user, whatever address they come from (API.md: 20, burst 40).
pub const PRO_RATE: u32 = 20;
/// Requests a Pro user may send at once before their rate applies.
pub const PRO_BURST: f64 = 40.0;
/// Past this many tracked clients, idle ones are forgotten (at most once a second).
const MAX_TRACKED: usize = 10_000;
/// Least time between two clean-ups of a full map, so a flood does not pay for one per request.
const CLEAN_UP_EVERY: Duration = Duration::from_secs(1);

/// The key a client is limited by: its IPv4 address, or the /64 of its IPv6 address.
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
        },
    }
}

struct Bucket {
    tokens: f64,
    refilled: Instant,
}

/// A token bucket per client (an IP, or a Pro user): `rate` tokens a second, up to `burst`.
pub struct RateLimiter<K = IpAddr> {
    rate: f64,
    burst: f64,
    buckets: Mutex<Tracked<Bucket, K>>,
}

/// Per-client state and when it was last cleaned up.
struct Tracked<T, K = IpAddr> {
    clients: HashMap<K, T>,
    cleaned: Instant,
}

impl<T, K: Eq + Hash> Tracked<T, K> {
    fn new() -> Self {
        Tracked {
            clients: HashMap::new(),
            cleaned: Instant::now(),
        }
    }

    /// Drops the clients `keep` says no, when the map is large and was not cleaned just now.
    fn clean_up(&mut self, now: Instant, keep: impl FnMut(&K, &mut T) -> bool) {
        if self.clients.len() > MAX_TRACKED && now.duration_since(self.cleaned) >= CLEAN_UP_EVERY {
            self.clients.retain(keep);
            self.cleaned = now;
        }
    }
}

impl RateLimiter {
    /// A limiter of `per_second` requests a second per client IP (burst 16); `None` when 0
    /// turns limiting off.
    pub fn new(per_second: u32) -> Option<RateLimiter> {
        RateLimiter::with_burst(per_second, BURST)
    }

    /// Takes one token for the client at `ip`, or says how many seconds until one is there.
    pub fn check(&self, ip: IpAddr) -> Result<(), u64> {
        self.take(client_key(ip))
    }
}

impl<K: Eq + Hash> RateLimiter<K> {
    /// A limiter of `per_second` requests a second per key, up to `burst` at once; `None` when
    /// 0 turns limiting off.
    pub fn with_burst(per_second: u32, burst: f64) -> Option<RateLimiter<K>> {
        (per_second > 0).then(|| RateLimiter {
            rate: f64::from(per_second),
            burst,
            buckets: Mutex::new(Tracked::new()),
        })
    }

    /// Takes one token for `key`, or says how many seconds until one is there.
    pub fn take(&self, key: K) -> Result<(), u64> {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().expect("rate limiter lock");
        // A bucket that has refilled completely is the same as no bucket.
        let full_after = Duration::from_secs_f64(self.burst / self.rate);
        buckets.clean_up(now, |_, b| now.duration_since(b.refilled) < full_after);
        let bucket = buckets.clients.entry(key).or_insert(Bucket {
            tokens: self.burst,
            refilled: now,
        });
        let elapsed = now.duration_since(bucket.refilled).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.rate).min(self.burst);
        bucket.refilled = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - bucket.tokens) / self.rate).ceil().max(1.0) as u64)
        }
    }
}

/// At most `per_hour` mailbox creations per client IP in any sliding hour.
pub struct CreationLimiter {
    per_hour: usize,
    window: Duration,
    created: Mutex<Tracked<VecDeque<Instant>>>,
}

impl CreationLimiter {
    /// A limiter of `per_hour` creations; `None` when 0 turns it off.
    pub fn new(per_hour: u32) -> Option<Arc<CreationLimiter>> {
        (per_hour > 0).then(|| {
            Arc::new(CreationLimiter {
                per_hour: per_hour as usize,
                window: Duration::from_secs(3600),
                created: Mutex::new(Tracked::new()),
            })
        })
    }

    /// Reserves one creation for the client at `ip`; `None` when the hour's allowance is used
    /// up. The slot is given back unless the reservation is committed, so failed creations do
    /// not count.
    pub fn reserve(self: &Arc<Self>, ip: IpAddr) -> Option<Reservation> {
        let now = Instant::now();
        let ip = client_key(ip);
        let window = self.window;
        let mut created = self.created.lock().expect("creation limiter lock");
        created.clean_up(now, |_, log| {
            log.back().is_some_and(|t| now.duration_since(*t) < window)
        });
        let log = created.clients.entry(ip).or_default();
        while log.front().is_some_and(|t| now.duration_since(*t) >= self.window) {
            log.pop_front();
        }
        if log.len() >= self.per_hour {
            return None;
        }
        log.push_back(now);
        Some(Reservation {
            limiter: self.clone(),
            ip,
            at: now,
            committed: false,
        })
    }
}

/// One reserved mailbox creation; released on drop unless committed.
pub struct Reservation {
    limiter: Arc<CreationLimiter>,
    ip: IpAddr,
    at: Instant,
    committed: bool,
}

impl Reservation {
    /// Keeps the slot: the mailbox was created.
    pub fn commit(mut self) {
        self.committed = true;
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if self.committed {
            return;
        }
        let mut created = self.limiter.created.lock().expect("creation limiter lock");
        if let Some(log) = created.clients.get_mut(&self.ip) {
            if let Some(pos) = log.iter().position(|t| *t == self.at) {
                log.remove(pos);
            }
            if log.is_empty() {
                created.clients.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    #[test]
    fn bucket_allows_the_burst_then_limits() {
        let limiter = RateLimiter::new(8).unwrap();
        for _ in 0..16 {
            assert!(limiter.check(IP).is_ok());
        }
        assert_eq!(limiter.check(IP), Err(1));
        let other = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));
        assert!(limiter.check(other).is_ok(), "another client has its own bucket");
    }

    #[test]
    fn an_ipv6_client_is_its_slash_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(client_key(a), client_key(b));
        assert_ne!(client_key(a), client_key(c));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(client_key(mapped), "192.0.2.7".parse::<IpAddr>().unwrap());

        let limiter = RateLimiter::new(8).unwrap();
        for _ in 0..16 {
            assert!(limiter.check(a).is_ok());
        }
        assert!(
            limiter.check(b).is_err(),
            "another address in the same /64 shares the bucket"
        );
        assert!(limiter.check(c).is_ok());
    }

    #[test]
    fn creation_slots_return_unless_committed() {
        let limiter = CreationLimiter::new(2).unwrap();
        limiter.reserve(IP).unwrap().commit();
        drop(limiter.reserve(IP).unwrap());
        limiter.reserve(IP).unwrap().commit();
        assert!(limiter.reserve(IP).is_none());
    }
}
