//! The client's address, the one answer every caller uses (log-in and registration throttling,
//! the webhook rejection limiter, the request log).
//!
//! The socket peer is the client unless the peer is one of `TRUSTED_PROXIES`. Only then is
//! `X-Forwarded-For` read, from the right: each proxy appends the peer it saw, so the right-most
//! entry that is not itself a trusted proxy is the first address no proxy of ours vouches for.
//! Everything left of it was written by the client and is ignored, so a client cannot pick the
//! address it is throttled under by sending the header itself.

use super::config::operations::canonical;
use super::config::TrustedProxies;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::HeaderMap;
use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// The request's client address, put in the request's extensions once by the server's request
/// middleware; handlers and server functions read it from there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

/// Who sent this request: `peer` itself, or what trusted proxies in front of it say.
pub fn client_addr(peer: IpAddr, headers: &HeaderMap, trusted: &TrustedProxies) -> IpAddr {
    let peer = canonical(peer);
    if trusted.is_empty() || !trusted.contains(peer) {
        return peer;
    }
    // Several X-Forwarded-For headers are one list in order (RFC 9110 §5.3).
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        // A hop no proxy of ours could have written: stop at the last address we can vouch for.
        let Some(ip) = parse_hop(hop) else {
            return client;
        };
        client = ip;
        if !trusted.contains(ip) {
            return ip;
        }
    }
    client
}

/// The key a per-address limit counts a client under: an IPv4 address itself, an IPv6 client by
/// its /64 (one subscriber's prefix: a host there can take a fresh address for every request).
pub fn limit_key(ip: IpAddr) -> IpAddr {
    match canonical(ip) {
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(std::net::Ipv6Addr::from(bits))
        }
        v4 => v4,
    }
}

/// One `X-Forwarded-For` entry: an address, possibly with a port (`1.2.3.4:5678`, `[::1]:80`)
/// or in brackets without one (`[::1]`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let bare = hop
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(hop);
    bare.parse::<IpAddr>()
        .or_else(|_| hop.parse::<SocketAddr>().map(|s| s.ip()))
        .ok()
        .map(canonical)
}

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = Infallible;

    /// The address the middleware found; without the middleware (a router built bare, in a
    /// test), the socket peer, never a forwarded header.
    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        if let Some(addr) = parts.extensions.get::<ClientAddr>() {
            return Ok(*addr);
        }
        let peer = parts
            .extensions
            .get::<axum::extract::ConnectInfo<SocketAddr>>()
            .map(|c| canonical(c.0.ip()))
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        Ok(ClientAddr(peer))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    #[test]
    fn limits_count_an_ipv6_client_by_its_slash_64() {
        assert_eq!(
            limit_key(ip("2001:db8:1:2:aaaa::1")),
            limit_key(ip("2001:db8:1:2:ffff:1:2:3"))
        );
        assert_eq!(limit_key(ip("2001:db8:1:2:aaaa::1")), ip("2001:db8:1:2::"));
        assert_ne!(
            limit_key(ip("2001:db8:1:2::1")),
            limit_key(ip("2001:db8:1:3::1"))
        );
        assert_eq!(limit_key(ip("203.0.113.9")), ip("203.0.113.9"));
        assert_eq!(limit_key(ip("::ffff:203.0.113.9")), ip("203.0.113.9"));
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_says() {
        let trusted = TrustedProxies::parse("10.0.0.0/8").unwrap();
        let h = headers(&["1.2.3.4"]);
        assert_eq!(
            client_addr(ip("203.0.113.9"), &h, &trusted),
            ip("203.0.113.9")
        );
        // No proxies configured: the header is never read.
        let none = TrustedProxies::default();
        assert_eq!(client_addr(ip("10.0.0.1"), &h, &none), ip("10.0.0.1"));
    }

    #[test]
    fn a_trusted_peer_is_believed_from_the_right() {
        let trusted = TrustedProxies::parse("10.0.0.0/8, 192.168.0.0/16").unwrap();
        let peer = ip("10.0.0.1");
        assert_eq!(
            client_addr(peer, &headers(&["198.51.100.7"]), &trusted),
            ip("198.51.100.7")
        );
        // The client forged an entry; our proxies appended the real one, then one of their own.
        let h = headers(&["6.6.6.6, 198.51.100.7", "192.168.1.1"]);
        assert_eq!(client_addr(peer, &h, &trusted), ip("198.51.100.7"));
        // Ports and IPv6 are understood; IPv4-mapped addresses are compared as IPv4.
        assert_eq!(
            client_addr(peer, &headers(&["[2001:db8::6]"]), &trusted),
            ip("2001:db8::6")
        );
        assert_eq!(
            client_addr(peer, &headers(&["[2001:db8::5]:4711"]), &trusted),
            ip("2001:db8::5")
        );
        assert_eq!(
            client_addr(
                ip("::ffff:10.0.0.1"),
                &headers(&["198.51.100.8:80"]),
                &trusted
            ),
            ip("198.51.100.8")
        );
    }

    #[test]
    fn garbage_or_nothing_falls_back_to_what_we_can_vouch_for() {
        let trusted = TrustedProxies::parse("10.0.0.0/8").unwrap();
        let peer = ip("10.0.0.1");
        assert_eq!(client_addr(peer, &HeaderMap::new(), &trusted), peer);
        assert_eq!(
            client_addr(peer, &headers(&["1.1.1.1, unknown, 10.0.0.2"]), &trusted),
            ip("10.0.0.2")
        );
        // Only proxies in the chain: the left-most of them is the best we know.
        assert_eq!(
            client_addr(peer, &headers(&["10.0.0.3, 10.0.0.2"]), &trusted),
            ip("10.0.0.3")
        );
    }
}
