//! A per-address budget for webhook deliveries that are not (yet) verified. Providers deliver in
//! bursts, so verified deliveries are never counted against it; an address that keeps sending
//! forgeries gets 429 without its bodies being stored or sent to a provider's verify API.
//!
//! A delivery is charged to its sender *before* it is stored or verified ([`RejectionLimiter::charge`]
//! checks and counts in one step), so a burst of concurrent forgeries cannot all slip in before the
//! first failure is counted; a delivery that proves genuine gets its charge back
//! ([`RejectionLimiter::refund`]). Addresses are counted by [`limit_key`]: an IPv6 client by its /64.

use crate::server::client_addr::limit_key;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Unverified deliveries one address may send per window before it is refused unread.
pub const FAILURES_PER_WINDOW: u32 = 30;
pub const WINDOW: Duration = Duration::from_secs(60);
/// Past this many tracked addresses, finished windows are dropped.
const TRACKED: usize = 10_000;

#[derive(Debug, Default)]
pub struct RejectionLimiter {
    seen: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl RejectionLimiter {
    /// Whether this address has used up its budget for now.
    pub fn exhausted(&self, ip: IpAddr) -> bool {
        let seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        seen.get(&limit_key(ip))
            .is_some_and(|(start, n)| start.elapsed() < WINDOW && *n >= FAILURES_PER_WINDOW)
    }

    /// Charge one unverified delivery to its address, unless the address has used up its budget
    /// (then `false`: refuse the delivery unread).
    pub fn charge(&self, ip: IpAddr) -> bool {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if seen.len() >= TRACKED {
            seen.retain(|_, (start, _)| start.elapsed() < WINDOW);
        }
        let entry = seen.entry(limit_key(ip)).or_insert((Instant::now(), 0));
        if entry.0.elapsed() >= WINDOW {
            *entry = (Instant::now(), 0);
        }
        if entry.1 >= FAILURES_PER_WINDOW {
            return false;
        }
        entry.1 += 1;
        true
    }

    /// Give a charge back: the delivery proved genuine (or could not be checked on our side).
    pub fn refund(&self, ip: IpAddr) {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(entry) = seen.get_mut(&limit_key(ip)) {
            entry.1 = entry.1.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_refused_after_its_budget_and_a_genuine_delivery_costs_nothing() {
        let limiter = RejectionLimiter::default();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        for _ in 0..FAILURES_PER_WINDOW {
            assert!(!limiter.exhausted(a));
            assert!(limiter.charge(a));
        }
        assert!(limiter.exhausted(a));
        assert!(!limiter.charge(a), "refused once the budget is spent");
        assert!(!limiter.exhausted(b), "other addresses are not affected");
        limiter.refund(a);
        assert!(limiter.charge(a), "a refunded charge frees a place");
    }

    #[test]
    fn an_ipv6_client_is_one_address_for_its_whole_slash_64() {
        let limiter = RejectionLimiter::default();
        for i in 0..FAILURES_PER_WINDOW {
            let ip: IpAddr = format!("2001:db8:0:1::{:x}", i + 1).parse().unwrap();
            assert!(limiter.charge(ip));
        }
        assert!(!limiter.charge("2001:db8:0:1:ffff::9".parse().unwrap()));
        assert!(limiter.charge("2001:db8:0:2::1".parse().unwrap()));
    }
}
