//! PayPal's settings: `PAYPAL_CLIENT_ID` + `PAYPAL_CLIENT_SECRET` + `PAYPAL_WEBHOOK_ID` (all or
//! none) and `PAYPAL_API_BASE`. PayPal's credentials do not say whether they are live, so the mode
//! and the host do: with credentials, sandbox mode talks to `api-m.sandbox.paypal.com` and never to
//! PayPal's live host, live mode talks to `api-m.paypal.com` and never to the sandbox host.

use super::Paypal;
use crate::model::ProviderId;
use crate::server::config::error::{bad, ConfigError};
use crate::server::payments::kernel::Endpoint;
use crate::server::payments::kernel::Env;
use crate::server::payments::kernel::{
    base_url, hosted_pages, pair, sandbox_keys, Configured, PaymentsMode,
};
use secrecy::SecretString;
use std::sync::Arc;

pub const SANDBOX_BASE: &str = "https://api-m.sandbox.paypal.com";
pub const LIVE_BASE: &str = "https://api-m.paypal.com";
const LIVE_HOSTS: &[&str] = &["api-m.paypal.com", "api.paypal.com"];
const SANDBOX_HOSTS: &[&str] = &["api-m.sandbox.paypal.com", "api.sandbox.paypal.com"];

fn host_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    rest.split(['/', ':']).next().unwrap_or(rest)
}

pub fn configure(env: Env<'_>, mode: PaymentsMode) -> Result<Option<Configured>, ConfigError> {
    let base = base_url("PAYPAL_API_BASE", env("PAYPAL_API_BASE"))?;
    let host = base.as_deref().map(host_of).unwrap_or("");
    match mode {
        PaymentsMode::Sandbox if LIVE_HOSTS.contains(&host) => {
            return Err(bad(
                "PAYPAL_API_BASE",
                "PayPal's live host in sandbox mode: set PAYMENTS_MODE=live, or use https://api-m.sandbox.paypal.com",
            ))
        }
        PaymentsMode::Live if SANDBOX_HOSTS.contains(&host) => {
            return Err(bad(
                "PAYPAL_API_BASE",
                "PayPal's sandbox host in live mode: use https://api-m.paypal.com, or PAYMENTS_MODE=sandbox",
            ))
        }
        _ => {}
    }
    let credentials = pair(env, "PAYPAL_CLIENT_ID", "PAYPAL_CLIENT_SECRET")?;
    let webhook_id = env("PAYPAL_WEBHOOK_ID");
    let (client_id, secret, webhook_id, endpoint) = match (credentials, webhook_id) {
        (None, Some(_)) => {
            return Err(bad(
                "PAYPAL_CLIENT_ID",
                "required (with PAYPAL_CLIENT_SECRET) when PAYPAL_WEBHOOK_ID is set",
            ))
        }
        (Some(_), None) => {
            return Err(bad(
                "PAYPAL_WEBHOOK_ID",
                "required when PAYPAL_CLIENT_ID is set: the id of the webhook in the PayPal app (verify-webhook-signature needs it)",
            ))
        }
        (None, None) if mode == PaymentsMode::Live => return Ok(None),
        (None, None) => (
            sandbox_keys::PAYPAL_CLIENT_ID.to_string(),
            sandbox_keys::PAYPAL_CLIENT_SECRET.to_string(),
            sandbox_keys::PAYPAL_WEBHOOK_ID.to_string(),
            base.map_or(Endpoint::Sandbox, Endpoint::Remote),
        ),
        (Some((id, secret)), Some(webhook_id)) => {
            if webhook_id.trim().is_empty() || webhook_id.chars().any(char::is_whitespace) {
                return Err(bad("PAYPAL_WEBHOOK_ID", "expected a webhook id such as 8PT597110X687430LKGECATA"));
            }
            let root = base.unwrap_or_else(|| {
                match mode {
                    PaymentsMode::Live => LIVE_BASE,
                    PaymentsMode::Sandbox => SANDBOX_BASE,
                }
                .to_string()
            });
            (id, secret, webhook_id, Endpoint::Remote(root))
        }
    };
    let secret = SecretString::from(secret);
    // PayPal's approval pages, reached by a redirect from the checkout.
    let pages = hosted_pages(
        &endpoint,
        &[
            ("api-m.paypal.com", &["https://www.paypal.com"]),
            ("api.paypal.com", &["https://www.paypal.com"]),
            (
                "api-m.sandbox.paypal.com",
                &["https://www.sandbox.paypal.com"],
            ),
            (
                "api.sandbox.paypal.com",
                &["https://www.sandbox.paypal.com"],
            ),
        ],
    );
    Ok(Some(
        Configured::new(ProviderId::Paypal, endpoint, move |ctx| {
            Arc::new(Paypal::new(
                ctx.http.clone(),
                ctx.api_root.clone(),
                client_id.clone(),
                secret.clone(),
                webhook_id.clone(),
                ctx.captures.clone(),
            ))
        })
        .sending_browser_to(pages),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::config::payments::parse_for_tests as parse;

    const KEYS: [(&str, &str); 3] = [
        ("PAYPAL_CLIENT_ID", "AbC123"),
        ("PAYPAL_CLIENT_SECRET", "EFg456-secret"),
        ("PAYPAL_WEBHOOK_ID", "8PT597110X687430LKGECATA"),
    ];

    fn with(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
        KEYS.iter().copied().chain(extra.iter().copied()).collect()
    }

    #[test]
    fn sandbox_by_default_and_credentials_pick_the_host_by_mode() {
        let p = parse(&[]).unwrap();
        assert_eq!(
            p.get(ProviderId::Paypal).unwrap().endpoint,
            Endpoint::Sandbox
        );
        let p = parse(&with(&[])).unwrap();
        assert_eq!(
            p.get(ProviderId::Paypal).unwrap().endpoint,
            Endpoint::Remote(SANDBOX_BASE.into())
        );
        let p = parse(&with(&[("PAYMENTS_MODE", "live")])).unwrap();
        assert_eq!(
            p.get(ProviderId::Paypal).unwrap().endpoint,
            Endpoint::Remote(LIVE_BASE.into())
        );
        let p = parse(&[("PAYPAL_API_BASE", "http://127.0.0.1:9/")]).unwrap();
        assert_eq!(
            p.get(ProviderId::Paypal).unwrap().endpoint,
            Endpoint::Remote("http://127.0.0.1:9".into())
        );
        let live_without = parse(&[
            ("PAYMENTS_MODE", "live"),
            ("STRIPE_SECRET_KEY", "sk_live_x"),
            ("STRIPE_WEBHOOK_SECRET", "whsec_x"),
        ])
        .unwrap();
        assert!(
            live_without.get(ProviderId::Paypal).is_none(),
            "not enabled without keys"
        );
    }

    #[test]
    fn the_host_must_match_the_mode_and_nothing_secret_is_shown() {
        let e = parse(&with(&[("PAYPAL_API_BASE", "https://api-m.paypal.com")])).unwrap_err();
        assert_eq!(e.var, "PAYPAL_API_BASE");
        assert!(e.expected.contains("sandbox mode"));
        assert!(!e.to_string().contains("EFg456"));
        let e = parse(&with(&[
            ("PAYMENTS_MODE", "live"),
            ("PAYPAL_API_BASE", "https://api-m.sandbox.paypal.com"),
        ]))
        .unwrap_err();
        assert_eq!(e.var, "PAYPAL_API_BASE");
    }

    #[test]
    fn credentials_and_webhook_id_come_together() {
        let e = parse(&[("PAYPAL_CLIENT_ID", "x"), ("PAYPAL_CLIENT_SECRET", "y")]).unwrap_err();
        assert_eq!(e.var, "PAYPAL_WEBHOOK_ID");
        let e = parse(&[("PAYPAL_CLIENT_ID", "x"), ("PAYPAL_WEBHOOK_ID", "W")]).unwrap_err();
        assert_eq!(e.var, "PAYPAL_CLIENT_SECRET");
        let e = parse(&[("PAYPAL_WEBHOOK_ID", "W")]).unwrap_err();
        assert_eq!(e.var, "PAYPAL_CLIENT_ID");
        let e = parse(&[
            ("PAYMENTS_MODE", "live"),
            ("PAYPAL_CLIENT_ID", "x"),
            ("PAYPAL_CLIENT_SECRET", "y"),
        ])
        .unwrap_err();
        assert_eq!(
            e.var, "PAYPAL_WEBHOOK_ID",
            "live mode refuses a half-configured PayPal"
        );
    }
}
