//! Operations settings: who may read `/metrics` (`METRICS_TOKEN`), whose `X-Forwarded-For` is
//! believed (`TRUSTED_PROXIES`) and how log lines are written (`LOG_FORMAT`).
//!
//! `LOG_FORMAT` is also read straight from the environment by the server's `telemetry::init`,
//! which runs before these settings exist (so that a bad setting is itself logged); reading it
//! here as well means a typo stops start-up with the usual message instead of being ignored.

use super::{bad, ConfigError};
use ipnet::IpNet;
use secrecy::{ExposeSecret, SecretString};
use std::net::IpAddr;
use subtle::ConstantTimeEq;

/// The longest `SHUTDOWN_DELAY_SECONDS` (a balancer notices within seconds, not minutes).
const MAX_SHUTDOWN_DELAY_SECONDS: u64 = 120;

/// `Settings.operations`.
#[derive(Debug, Clone, Default)]
pub struct OperationsSettings {
    /// Bearer token a scraper sends to `GET /metrics`; without it only a logged-in merchant may.
    pub metrics_token: Option<SecretString>,
    /// Proxies (load balancers) whose `X-Forwarded-For` names the real client.
    pub trusted_proxies: TrustedProxies,
    pub log_format: LogFormat,
    /// `SHUTDOWN_DELAY_SECONDS`: after SIGTERM, how long the instance keeps serving with a failing
    /// `/readyz` before it stops accepting connections.
    pub shutdown_delay: std::time::Duration,
}

/// `LOG_FORMAT`: human-readable lines (default) or one JSON object per line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

impl LogFormat {
    /// `text` or `json`, any case; `None` for anything else.
    pub fn parse(value: &str) -> Option<LogFormat> {
        match value.trim().to_ascii_lowercase().as_str() {
            "text" => Some(LogFormat::Text),
            "json" => Some(LogFormat::Json),
            _ => None,
        }
    }
}

/// The networks of `TRUSTED_PROXIES`; empty (the default) believes no forwarded header at all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Comma-separated CIDRs (`10.0.0.0/8, 192.168.1.7/32, ::1/128`); a bare address counts as
    /// that one host. The error names the entry that is not a network.
    pub fn parse(list: &str) -> Result<TrustedProxies, String> {
        let mut nets = Vec::new();
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let net = entry
                .parse::<IpNet>()
                .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| format!("{entry:?} is not a CIDR such as 10.0.0.0/8 or ::1/128"))?;
            nets.push(net);
        }
        Ok(TrustedProxies(nets))
    }

    /// True when `ip` lies inside one of the trusted networks. An IPv4 address seen as IPv6
    /// (`::ffff:10.0.0.1`, a dual-stack listener) is compared as the IPv4 address it is.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|net| net.contains(&ip))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// An IPv4-mapped IPv6 address as plain IPv4; anything else unchanged.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

impl OperationsSettings {
    pub(super) fn from_lookup(
        var: &impl Fn(&str) -> Option<String>,
    ) -> Result<OperationsSettings, ConfigError> {
        let metrics_token = match var("METRICS_TOKEN") {
            Some(t) if t.len() < METRICS_TOKEN_MIN_LEN => {
                return Err(bad(
                    "METRICS_TOKEN",
                    format!(
                        "expected at least {METRICS_TOKEN_MIN_LEN} characters (it guards /metrics)"
                    ),
                ))
            }
            Some(t) => Some(SecretString::from(t)),
            None => None,
        };
        let trusted_proxies = match var("TRUSTED_PROXIES") {
            Some(list) => TrustedProxies::parse(&list).map_err(|e| bad("TRUSTED_PROXIES", e))?,
            None => TrustedProxies::default(),
        };
        let log_format = match var("LOG_FORMAT") {
            Some(v) => LogFormat::parse(&v)
                .ok_or_else(|| bad("LOG_FORMAT", format!("expected text or json, got {v:?}")))?,
            None => LogFormat::Text,
        };
        let shutdown_delay = match var("SHUTDOWN_DELAY_SECONDS") {
            Some(v) => match v.trim().parse::<u64>() {
                Ok(secs) if secs <= MAX_SHUTDOWN_DELAY_SECONDS => {
                    std::time::Duration::from_secs(secs)
                }
                _ => {
                    return Err(bad(
                        "SHUTDOWN_DELAY_SECONDS",
                        format!(
                        "expected whole seconds from 0 to {MAX_SHUTDOWN_DELAY_SECONDS}, got {v:?}"
                    ),
                    ))
                }
            },
            None => std::time::Duration::ZERO,
        };
        Ok(OperationsSettings {
            metrics_token,
            trusted_proxies,
            log_format,
            shutdown_delay,
        })
    }

    /// True when `authorization` is exactly `Bearer {METRICS_TOKEN}`. The token is compared in
    /// constant time, so response timing tells nothing about how much of a guess was right; no
    /// token configured means no header is ever enough.
    pub fn metrics_bearer_ok(&self, authorization: Option<&str>) -> bool {
        let (Some(token), Some(header)) = (&self.metrics_token, authorization) else {
            return false;
        };
        let Some(given) = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
        else {
            return false;
        };
        bool::from(
            given
                .trim()
                .as_bytes()
                .ct_eq(token.expose_secret().as_bytes()),
        )
    }
}

/// A shorter bearer token is too easy to guess for an endpoint reachable from the internet.
pub const METRICS_TOKEN_MIN_LEN: usize = 16;

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn parses_cidrs_and_bare_addresses() {
        let t = TrustedProxies::parse(" 10.0.0.0/8, 192.168.1.7 ,fd00::/8,").unwrap();
        assert!(t.contains(ip("10.1.2.3")));
        assert!(t.contains(ip("192.168.1.7")));
        assert!(!t.contains(ip("192.168.1.8")));
        assert!(t.contains(ip("fd12::1")));
        assert!(!t.contains(ip("2001:db8::1")));
        assert!(
            t.contains(ip("::ffff:10.9.9.9")),
            "IPv4-mapped IPv6 counts as IPv4"
        );
        assert!(TrustedProxies::parse("").unwrap().is_empty());
    }

    #[test]
    fn a_bad_cidr_is_named() {
        let e = TrustedProxies::parse("10.0.0.0/8, 10.0.0.0/33").unwrap_err();
        assert!(e.contains("\"10.0.0.0/33\""), "{e}");
        assert!(TrustedProxies::parse("proxy.internal").is_err());
        let lookup = |k: &str| (k == "TRUSTED_PROXIES").then(|| "nope/8".to_string());
        let e = OperationsSettings::from_lookup(&lookup).unwrap_err();
        assert_eq!(e.var, "TRUSTED_PROXIES");
        assert!(e.expected.contains("nope/8"), "{e}");
    }

    #[test]
    fn log_format_is_text_or_json() {
        assert_eq!(LogFormat::parse("JSON"), Some(LogFormat::Json));
        assert_eq!(LogFormat::parse("text"), Some(LogFormat::Text));
        assert_eq!(LogFormat::parse("logfmt"), None);
        let lookup = |k: &str| (k == "LOG_FORMAT").then(|| "yaml".to_string());
        assert_eq!(
            OperationsSettings::from_lookup(&lookup).unwrap_err().var,
            "LOG_FORMAT"
        );
    }

    #[test]
    fn bearer_check() {
        let token = "s3cret-token-for-scrapes";
        let lookup = |k: &str| (k == "METRICS_TOKEN").then(|| token.to_string());
        let ops = OperationsSettings::from_lookup(&lookup).unwrap();
        assert!(ops.metrics_bearer_ok(Some(&format!("Bearer {token}"))));
        assert!(!ops.metrics_bearer_ok(Some(&format!("Bearer {token}x"))));
        assert!(!ops.metrics_bearer_ok(Some("Bearer s3cret")));
        assert!(
            !ops.metrics_bearer_ok(Some(token)),
            "the scheme is required"
        );
        assert!(!ops.metrics_bearer_ok(Some(&format!("Basic {token}"))));
        assert!(!ops.metrics_bearer_ok(None));
        assert!(!format!("{ops:?}").contains(token), "never printed");
        // Without a token, no header opens /metrics.
        let none = OperationsSettings::default();
        assert!(!none.metrics_bearer_ok(Some("Bearer ")));
        let short = |k: &str| (k == "METRICS_TOKEN").then(|| "short".to_string());
        assert_eq!(
            OperationsSettings::from_lookup(&short).unwrap_err().var,
            "METRICS_TOKEN"
        );
    }
}
