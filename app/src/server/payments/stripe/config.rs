//! Stripe's settings: `STRIPE_SECRET_KEY` + `STRIPE_WEBHOOK_SECRET` (both or neither) and
//! `STRIPE_API_BASE`. A live key (`sk_live_…`, `rk_live_…`) only in live mode, a test key only in
//! sandbox mode: a shop must never take real money while it shows "Test mode", or pretend to.

use super::Stripe;
use crate::model::ProviderId;
use crate::server::config::error::{bad, ConfigError};
use crate::server::payments::kernel::Endpoint;
use crate::server::payments::kernel::Env;
use crate::server::payments::kernel::{
    base_url, hosted_pages, pair, sandbox_keys, Configured, PaymentsMode,
};
use secrecy::SecretString;
use std::sync::Arc;

pub const LIVE_BASE: &str = "https://api.stripe.com";

fn is_live_key(key: &str) -> bool {
    key.starts_with("sk_live_") || key.starts_with("rk_live_")
}

pub fn configure(env: Env<'_>, mode: PaymentsMode) -> Result<Option<Configured>, ConfigError> {
    let base = base_url("STRIPE_API_BASE", env("STRIPE_API_BASE"))?;
    let credentials = pair(env, "STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET")?;
    let (key, secret, endpoint) = match credentials {
        None if mode == PaymentsMode::Live => return Ok(None),
        None => (
            sandbox_keys::STRIPE_SECRET_KEY.to_string(),
            sandbox_keys::STRIPE_WEBHOOK_SECRET.to_string(),
            base.map_or(Endpoint::Sandbox, Endpoint::Remote),
        ),
        Some((key, secret)) => {
            if !(key.starts_with("sk_") || key.starts_with("rk_")) {
                return Err(bad(
                    "STRIPE_SECRET_KEY",
                    "expected a key starting sk_ or rk_",
                ));
            }
            if !secret.starts_with("whsec_") {
                return Err(bad(
                    "STRIPE_WEBHOOK_SECRET",
                    "expected a secret starting whsec_",
                ));
            }
            match (mode, is_live_key(&key)) {
                (PaymentsMode::Sandbox, true) => {
                    return Err(bad(
                        "STRIPE_SECRET_KEY",
                        "a live key (sk_live_…) in sandbox mode: set PAYMENTS_MODE=live, or use a test key (sk_test_…)",
                    ))
                }
                (PaymentsMode::Live, false) => {
                    return Err(bad(
                        "STRIPE_SECRET_KEY",
                        "a test key in live mode: use a live key (sk_live_…), or PAYMENTS_MODE=sandbox",
                    ))
                }
                _ => {}
            }
            let root = base.unwrap_or_else(|| LIVE_BASE.to_string());
            (key, secret, Endpoint::Remote(root))
        }
    };
    let key = SecretString::from(key);
    let secret = SecretString::from(secret);
    // Stripe Checkout's pages, reached by a redirect from the checkout.
    let pages = hosted_pages(
        &endpoint,
        &[("api.stripe.com", &["https://checkout.stripe.com"])],
    );
    Ok(Some(
        Configured::new(ProviderId::Stripe, endpoint, move |ctx| {
            Arc::new(Stripe::new(
                ctx.http.clone(),
                ctx.api_root.clone(),
                key.clone(),
                secret.clone(),
            ))
        })
        .sending_browser_to(pages),
    ))
}

#[cfg(test)]
mod tests {
    use crate::model::ProviderId;
    use crate::server::config::Endpoint;

    use crate::server::config::payments::parse_for_tests as parse;

    #[test]
    fn test_keys_switch_to_the_real_api() {
        let p = parse(&[
            ("STRIPE_SECRET_KEY", "sk_test_abc"),
            ("STRIPE_WEBHOOK_SECRET", "whsec_abc"),
        ])
        .unwrap();
        assert_eq!(
            p.get(ProviderId::Stripe).unwrap().endpoint,
            Endpoint::Remote(super::LIVE_BASE.into())
        );
    }

    #[test]
    fn keys_must_match_the_mode() {
        let live_in_sandbox = parse(&[
            ("STRIPE_SECRET_KEY", "sk_live_abc"),
            ("STRIPE_WEBHOOK_SECRET", "whsec_abc"),
        ])
        .unwrap_err();
        assert_eq!(live_in_sandbox.var, "STRIPE_SECRET_KEY");
        assert!(live_in_sandbox.expected.contains("sandbox mode"));
        assert!(
            !live_in_sandbox.to_string().contains("abc"),
            "no secret in the message"
        );
        let test_in_live = parse(&[
            ("PAYMENTS_MODE", "live"),
            ("STRIPE_SECRET_KEY", "rk_test_abc"),
            ("STRIPE_WEBHOOK_SECRET", "whsec_abc"),
        ])
        .unwrap_err();
        assert_eq!(test_in_live.var, "STRIPE_SECRET_KEY");
        let live = parse(&[
            ("PAYMENTS_MODE", "live"),
            ("STRIPE_SECRET_KEY", "sk_live_abc"),
            ("STRIPE_WEBHOOK_SECRET", "whsec_abc"),
        ])
        .unwrap();
        assert!(live.get(ProviderId::Stripe).is_some());
        assert!(live.get(ProviderId::Sslcommerz).is_none());
    }

    #[test]
    fn credentials_come_in_pairs_and_are_checked() {
        let e = parse(&[
            ("PAYMENTS_MODE", "live"),
            ("STRIPE_SECRET_KEY", "sk_live_x"),
        ])
        .unwrap_err();
        assert_eq!(e.var, "STRIPE_WEBHOOK_SECRET");
        let e = parse(&[
            ("STRIPE_SECRET_KEY", "pk_x"),
            ("STRIPE_WEBHOOK_SECRET", "whsec_x"),
        ])
        .unwrap_err();
        assert_eq!(e.var, "STRIPE_SECRET_KEY");
        assert_eq!(
            parse(&[("STRIPE_API_BASE", "localhost:1")])
                .unwrap_err()
                .var,
            "STRIPE_API_BASE"
        );
    }
}
