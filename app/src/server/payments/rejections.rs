//! A per-address budget for webhook deliveries that fail verification. Providers deliver in
//! bursts, so verified deliveries are never counted or slowed; an address that keeps sending
//! forgeries gets 429 without its bodies being stored.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failed deliveries one address may send per window before it is refused unread.
pub const FAILURES_PER_WINDOW: u32 = 30;
pub const WINDOW: Duration = Duration::from_secs(60);
/// Past this many tracked addresses, finished windows are dropped.
const TRACKED: usize = 10_000;

#[derive(Debug, Default)]
pub struct RejectionLimiter {
    seen: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl RejectionLimiter {
    /// Whether this address has used up its budget of failures for now.
    pub fn exhausted(&self, ip: IpAddr) -> bool {
        let seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        seen.get(&ip)
            .is_some_and(|(start, n)| start.elapsed() < WINDOW && *n >= FAILURES_PER_WINDOW)
    }

    /// Count one failed delivery from this address.
    pub fn record_failure(&self, ip: IpAddr) {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if seen.len() >= TRACKED {
            seen.retain(|_, (start, _)| start.elapsed() < WINDOW);
        }
        let entry = seen.entry(ip).or_insert((Instant::now(), 0));
        if entry.0.elapsed() >= WINDOW {
            *entry = (Instant::now(), 0);
        }
        entry.1 = entry.1.saturating_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_refused_after_its_budget_of_failures() {
        let limiter = RejectionLimiter::default();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        for _ in 0..FAILURES_PER_WINDOW {
            assert!(!limiter.exhausted(a));
            limiter.record_failure(a);
        }
        assert!(limiter.exhausted(a));
        assert!(!limiter.exhausted(b), "other addresses are not affected");
    }
}
