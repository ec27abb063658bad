//! Per-client-IP limits: a token bucket on every request, and a window on mailbox creation.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Requests a client may send at once before the rate applies.
pub const BURST: f64 = 16.0;
/// Past this many tracked clients, full buckets are forgotten.
const MAX_TRACKED: usize = 10_000;

struct Bucket {
    tokens: f64,
    refilled: Instant,
}

/// A token bucket per client IP: `rate` tokens a second, up to `BURST`.
pub struct RateLimiter {
    rate: f64,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

impl RateLimiter {
    /// A limiter of `per_second` requests a second; `None` when 0 turns limiting off.
    pub fn new(per_second: u32) -> Option<RateLimiter> {
        (per_second > 0).then(|| RateLimiter {
            rate: f64::from(per_second),
            buckets: Mutex::new(HashMap::new()),
        })
    }

    /// Takes one token for `ip`, or says how many seconds until one is there.
    pub fn check(&self, ip: IpAddr) -> Result<(), u64> {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().expect("rate limiter lock");
        if buckets.len() > MAX_TRACKED {
            let full_after = Duration::from_secs_f64(BURST / self.rate);
            buckets.retain(|_, b| now.duration_since(b.refilled) < full_after);
        }
        let bucket = buckets.entry(ip).or_insert(Bucket {
            tokens: BURST,
            refilled: now,
        });
        let elapsed = now.duration_since(bucket.refilled).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.rate).min(BURST);
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
    created: Mutex<HashMap<IpAddr, VecDeque<Instant>>>,
}

impl CreationLimiter {
    /// A limiter of `per_hour` creations; `None` when 0 turns it off.
    pub fn new(per_hour: u32) -> Option<Arc<CreationLimiter>> {
        (per_hour > 0).then(|| {
            Arc::new(CreationLimiter {
                per_hour: per_hour as usize,
                window: Duration::from_secs(3600),
                created: Mutex::new(HashMap::new()),
            })
        })
    }

    /// Reserves one creation for `ip`; `None` when the hour's allowance is used up. The slot is
    /// given back unless the reservation is committed, so failed creations do not count.
    pub fn reserve(self: &Arc<Self>, ip: IpAddr) -> Option<Reservation> {
        let now = Instant::now();
        let mut created = self.created.lock().expect("creation limiter lock");
        let log = created.entry(ip).or_default();
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
        if let Some(log) = created.get_mut(&self.ip)
            && let Some(pos) = log.iter().position(|t| *t == self.at)
        {
            log.remove(pos);
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
    fn creation_slots_return_unless_committed() {
        let limiter = CreationLimiter::new(2).unwrap();
        limiter.reserve(IP).unwrap().commit();
        drop(limiter.reserve(IP).unwrap());
        limiter.reserve(IP).unwrap().commit();
        assert!(limiter.reserve(IP).is_none());
    }
}
