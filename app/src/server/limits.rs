//! In-process limits on what anonymous requests can make the shop do: provider lookups from
//! return links, and open live-status streams. (Webhook forgeries have their own budget,
//! `payments::rejections`; log-ins, registrations and unpaid orders are counted in the database.)
//! Each instance counts its own: behind a load balancer the figures are per instance.

use super::client_addr::limit_key;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The least time between two provider lookups for one attempt from return and cancel links.
pub const LOOKUP_INTERVAL: Duration = Duration::from_secs(3);
/// Open live-status streams one session may hold (tabs of one browser).
pub const STREAMS_PER_SESSION: usize = 8;
/// Open live-status streams from one client address (an IPv6 client's /64): room for an office
/// or a campus behind one address.
pub const STREAMS_PER_ADDRESS: usize = 100;
/// Open live-status streams on this instance in all.
pub const STREAMS_IN_ALL: usize = 5_000;
/// Past this many remembered attempts, those looked up long ago are forgotten.
const TRACKED: usize = 10_000;

#[derive(Debug, Default)]
pub struct Limits {
    pub lookups: LookupThrottle,
    pub streams: StreamLimits,
}

/// At most one provider lookup per attempt in flight, and, for return links (GET), none sooner
/// than [`LOOKUP_INTERVAL`] after the last one began: a return link opened again and again reads
/// the stored state instead of calling the provider each time. A posted return (a provider's form
/// post, Braintree's card nonce from the shop's own page) carries what the shopper just did, so it
/// waits only for a lookup in flight, never for the interval.
#[derive(Debug, Default)]
pub struct LookupThrottle {
    started: Mutex<HashMap<String, (Instant, bool)>>,
    /// Woken whenever a lookup ends, for posted returns waiting their turn.
    ended: tokio::sync::Notify,
}

/// The longest a posted return waits for a lookup in flight before it gives up (and shows the
/// stored state, like a link).
pub const POSTED_RETURN_WAIT: Duration = Duration::from_secs(15);

/// A lookup's place; the attempt is free again ([`LOOKUP_INTERVAL`] after it began) once dropped.
#[derive(Debug)]
pub struct LookupSlot<'a> {
    throttle: &'a LookupThrottle,
    attempt: String,
}

impl LookupThrottle {
    /// A slot for a lookup of this attempt now, or `None` if one is in flight or (when `spaced`)
    /// one began less than [`LOOKUP_INTERVAL`] ago.
    pub fn begin(&self, attempt: &str, spaced: bool) -> Option<LookupSlot<'_>> {
        let mut started = self.started.lock().unwrap_or_else(|e| e.into_inner());
        if started.len() >= TRACKED {
            started.retain(|_, (at, busy)| *busy || at.elapsed() < LOOKUP_INTERVAL);
        }
        if let Some((at, busy)) = started.get(attempt) {
            if *busy || (spaced && at.elapsed() < LOOKUP_INTERVAL) {
                return None;
            }
        }
        started.insert(attempt.to_string(), (Instant::now(), true));
        Some(LookupSlot {
            throttle: self,
            attempt: attempt.to_string(),
        })
    }

    /// A slot for a posted return (what the shopper just did: it must not be dropped): waits for a
    /// lookup in flight to end, never for the interval; `None` after [`POSTED_RETURN_WAIT`].
    pub async fn begin_posted(&self, attempt: &str) -> Option<LookupSlot<'_>> {
        let deadline = tokio::time::Instant::now() + POSTED_RETURN_WAIT;
        loop {
            let ended = self.ended.notified();
            tokio::pin!(ended);
            // Registered before trying, so an end between the try and the wait is not missed.
            ended.as_mut().enable();
            if let Some(slot) = self.begin(attempt, false) {
                return Some(slot);
            }
            if tokio::time::timeout_at(deadline, ended).await.is_err() {
                return None;
            }
        }
    }
}

impl Drop for LookupSlot<'_> {
    fn drop(&mut self) {
        let mut started = self
            .throttle
            .started
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some((_, busy)) = started.get_mut(&self.attempt) {
            *busy = false;
        }
        drop(started);
        self.throttle.ended.notify_waiters();
    }
}

/// Counts of open live-status streams, per session, per address and in all.
#[derive(Debug, Default)]
pub struct StreamLimits {
    open: Mutex<StreamCounts>,
}

#[derive(Debug, Default)]
struct StreamCounts {
    sessions: HashMap<String, usize>,
    addresses: HashMap<IpAddr, usize>,
    all: usize,
}

/// One open stream, counted until dropped (when the stream ends or the browser goes away).
#[derive(Debug)]
pub struct StreamSlot {
    limits: Arc<super::limits::Limits>,
    session: Option<String>,
    address: IpAddr,
}

impl StreamLimits {
    /// Count a new stream for this session (if it has an id yet) and address, or `None` if one of
    /// the limits is reached.
    pub fn open(limits: &Arc<Limits>, session: Option<String>, ip: IpAddr) -> Option<StreamSlot> {
        let address = limit_key(ip);
        let mut open = limits
            .streams
            .open
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let here = open.addresses.get(&address).copied().unwrap_or(0);
        let mine = session
            .as_ref()
            .and_then(|s| open.sessions.get(s))
            .copied()
            .unwrap_or(0);
        if open.all >= STREAMS_IN_ALL || here >= STREAMS_PER_ADDRESS || mine >= STREAMS_PER_SESSION
        {
            return None;
        }
        open.all += 1;
        *open.addresses.entry(address).or_insert(0) += 1;
        if let Some(s) = &session {
            *open.sessions.entry(s.clone()).or_insert(0) += 1;
        }
        Some(StreamSlot {
            limits: limits.clone(),
            session,
            address,
        })
    }

    /// Streams open now on this instance.
    pub fn count(&self) -> usize {
        self.open.lock().unwrap_or_else(|e| e.into_inner()).all
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = self
            .limits
            .streams
            .open
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        open.all = open.all.saturating_sub(1);
        fn release<K: std::hash::Hash + Eq>(map: &mut HashMap<K, usize>, key: &K) {
            if let Some(n) = map.get_mut(key) {
                *n -= 1;
                if *n == 0 {
                    map.remove(key);
                }
            }
        }
        release(&mut open.addresses, &self.address);
        if let Some(s) = &self.session {
            release(&mut open.sessions, s);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_lookup_per_attempt_at_a_time_and_not_too_often() {
        let throttle = LookupThrottle::default();
        let slot = throttle.begin("ATT-1", true).expect("the first lookup");
        assert!(throttle.begin("ATT-1", true).is_none(), "one in flight");
        assert!(
            throttle.begin("ATT-1", false).is_none(),
            "one in flight, posted or not"
        );
        assert!(
            throttle.begin("ATT-2", true).is_some(),
            "other attempts are free"
        );
        drop(slot);
        assert!(
            throttle.begin("ATT-1", true).is_none(),
            "too soon after the last"
        );
        assert!(
            throttle.begin("ATT-1", false).is_some(),
            "a posted return only waits for one in flight"
        );
    }

    #[tokio::test]
    async fn a_posted_return_waits_for_the_lookup_in_flight_instead_of_being_dropped() {
        let throttle = std::sync::Arc::new(LookupThrottle::default());
        let slot = throttle.begin("ATT-1", true).expect("a link's lookup");
        let waiting = tokio::spawn({
            let throttle = throttle.clone();
            async move { throttle.begin_posted("ATT-1").await.is_some() }
        });
        tokio::task::yield_now().await;
        assert!(
            !waiting.is_finished(),
            "it waits while the lookup is in flight"
        );
        drop(slot);
        assert!(waiting.await.unwrap(), "then it goes, interval or not");
    }

    #[test]
    fn streams_are_capped_per_session_and_per_address_and_freed_when_dropped() {
        let limits = Arc::new(Limits::default());
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        let mut held: Vec<StreamSlot> = (0..STREAMS_PER_SESSION)
            .map(|_| StreamLimits::open(&limits, Some("s1".into()), ip).unwrap())
            .collect();
        assert!(StreamLimits::open(&limits, Some("s1".into()), ip).is_none());
        // Other sessions from the address, up to the address's limit.
        for i in STREAMS_PER_SESSION..STREAMS_PER_ADDRESS {
            held.push(StreamLimits::open(&limits, Some(format!("s{i}x")), ip).unwrap());
        }
        assert!(StreamLimits::open(&limits, Some("fresh".into()), ip).is_none());
        let other: IpAddr = "192.0.2.8".parse().unwrap();
        assert!(StreamLimits::open(&limits, None, other).is_some());
        held.pop();
        assert!(StreamLimits::open(&limits, Some("fresh".into()), ip).is_some());
        drop(held);
        assert_eq!(limits.streams.count(), 0);
    }
}
