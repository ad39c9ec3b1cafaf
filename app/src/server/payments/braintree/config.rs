//! Braintree's settings: `BRAINTREE_MERCHANT_ID` + `BRAINTREE_PUBLIC_KEY` +
//! `BRAINTREE_PRIVATE_KEY` (all or none), `BRAINTREE_API_BASE`, and optionally
//! `BRAINTREE_MERCHANT_ACCOUNT_ID` with `BRAINTREE_CURRENCY` (the account's one currency, default
//! USD). Braintree's keys do not say whether they are live, so the mode and the host do: sandbox
//! mode never talks to `api.braintreegateway.com`, live mode never to the sandbox host. Without
//! keys, sandbox mode uses the built-in sandbox with its own keys.

use super::Braintree;
use crate::model::{Currency, ProviderId};
use crate::server::config::error::{bad, ConfigError};
use crate::server::payments::kernel::Endpoint;
use crate::server::payments::kernel::Env;
use crate::server::payments::kernel::{base_url, sandbox_keys, Configured, PaymentsMode};
use secrecy::SecretString;
use std::sync::Arc;

pub const SANDBOX_BASE: &str = "https://api.sandbox.braintreegateway.com";
pub const LIVE_BASE: &str = "https://api.braintreegateway.com";
const LIVE_HOST: &str = "api.braintreegateway.com";
const SANDBOX_HOST: &str = "api.sandbox.braintreegateway.com";

const KEYS: [&str; 3] = [
    "BRAINTREE_MERCHANT_ID",
    "BRAINTREE_PUBLIC_KEY",
    "BRAINTREE_PRIVATE_KEY",
];

fn host_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    rest.split(['/', ':']).next().unwrap_or(rest)
}

pub fn configure(env: Env<'_>, mode: PaymentsMode) -> Result<Option<Configured>, ConfigError> {
    let base = base_url("BRAINTREE_API_BASE", env("BRAINTREE_API_BASE"))?;
    let host = base.as_deref().map(host_of).unwrap_or("");
    match mode {
        PaymentsMode::Sandbox if host == LIVE_HOST => {
            return Err(bad(
                "BRAINTREE_API_BASE",
                "Braintree's live host in sandbox mode: set PAYMENTS_MODE=live, or use https://api.sandbox.braintreegateway.com",
            ))
        }
        PaymentsMode::Live if host == SANDBOX_HOST => {
            return Err(bad(
                "BRAINTREE_API_BASE",
                "Braintree's sandbox host in live mode: use https://api.braintreegateway.com, or PAYMENTS_MODE=sandbox",
            ))
        }
        _ => {}
    }
    let given: Vec<Option<String>> = KEYS.iter().map(|k| env(k)).collect();
    let currency = match env("BRAINTREE_CURRENCY") {
        None => Currency::Usd,
        Some(code) => code
            .trim()
            .to_ascii_uppercase()
            .parse::<Currency>()
            .map_err(|_| {
                bad(
                "BRAINTREE_CURRENCY",
                "the merchant account's currency, one the shop sells in: USD, EUR, JPY, BDT or CNY",
            )
            })?,
    };
    let account = env("BRAINTREE_MERCHANT_ACCOUNT_ID").filter(|a| !a.trim().is_empty());
    if env("BRAINTREE_CURRENCY").is_some() && account.is_none() && given[0].is_some() {
        return Err(bad(
            "BRAINTREE_MERCHANT_ACCOUNT_ID",
            "required with BRAINTREE_CURRENCY: the merchant account that settles in that currency",
        ));
    }
    let (merchant_id, public_key, private_key, endpoint, stand_in) = match given.as_slice() {
        [None, None, None] if mode == PaymentsMode::Live => return Ok(None),
        [None, None, None] => (
            sandbox_keys::BRAINTREE_MERCHANT_ID.to_string(),
            sandbox_keys::BRAINTREE_PUBLIC_KEY.to_string(),
            sandbox_keys::BRAINTREE_PRIVATE_KEY.to_string(),
            base.map_or(Endpoint::Sandbox, Endpoint::Remote),
            true,
        ),
        [Some(m), Some(p), Some(k)] => {
            for (var, value) in KEYS.iter().zip([m, p, k]) {
                if value.trim().is_empty() || value.chars().any(char::is_whitespace) {
                    return Err(bad(
                        var,
                        "expected the value from Braintree's Control Panel (API keys)",
                    ));
                }
            }
            let root = base.unwrap_or_else(|| {
                match mode {
                    PaymentsMode::Live => LIVE_BASE,
                    PaymentsMode::Sandbox => SANDBOX_BASE,
                }
                .to_string()
            });
            (
                m.clone(),
                p.clone(),
                k.clone(),
                Endpoint::Remote(root),
                false,
            )
        }
        _ => {
            let missing = KEYS
                .iter()
                .zip(&given)
                .find(|(_, v)| v.is_none())
                .map(|(k, _)| *k)
                .unwrap_or(KEYS[0]);
            return Err(bad(
                missing,
                "BRAINTREE_MERCHANT_ID, BRAINTREE_PUBLIC_KEY and BRAINTREE_PRIVATE_KEY come together",
            ));
        }
    };
    let private_key = SecretString::from(private_key);
    Ok(Some(Configured::new(
        ProviderId::Braintree,
        endpoint,
        move |ctx| {
            Arc::new(Braintree {
                http: ctx.http.clone(),
                base: ctx.api_root.clone(),
                merchant_id: merchant_id.clone(),
                public_key: public_key.clone(),
                private_key: private_key.clone(),
                merchant_account_id: account.clone(),
                currency,
                stand_in,
                captures: ctx.captures.clone(),
            })
        },
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::config::payments::parse_for_tests as parse;

    const KEYS_SET: [(&str, &str); 3] = [
        ("BRAINTREE_MERCHANT_ID", "m4rch4nt"),
        ("BRAINTREE_PUBLIC_KEY", "pub123"),
        ("BRAINTREE_PRIVATE_KEY", "priv-secret-456"),
    ];

    fn with(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
        KEYS_SET
            .iter()
            .copied()
            .chain(extra.iter().copied())
            .collect()
    }

    #[test]
    fn braintree_sandbox_by_default_and_keys_pick_the_host_by_mode() {
        let p = parse(&[]).unwrap();
        assert_eq!(
            p.get(ProviderId::Braintree).unwrap().endpoint,
            Endpoint::Sandbox
        );
        let p = parse(&with(&[])).unwrap();
        assert_eq!(
            p.get(ProviderId::Braintree).unwrap().endpoint,
            Endpoint::Remote(SANDBOX_BASE.into())
        );
        let p = parse(&with(&[("PAYMENTS_MODE", "live")])).unwrap();
        assert_eq!(
            p.get(ProviderId::Braintree).unwrap().endpoint,
            Endpoint::Remote(LIVE_BASE.into())
        );
        let live_without = parse(&[
            ("PAYMENTS_MODE", "live"),
            ("STRIPE_SECRET_KEY", "sk_live_x"),
            ("STRIPE_WEBHOOK_SECRET", "whsec_x"),
        ])
        .unwrap();
        assert!(live_without.get(ProviderId::Braintree).is_none());
    }

    #[test]
    fn braintree_host_must_match_the_mode_and_keys_come_together() {
        let e = parse(&with(&[(
            "BRAINTREE_API_BASE",
            "https://api.braintreegateway.com",
        )]))
        .unwrap_err();
        assert_eq!(e.var, "BRAINTREE_API_BASE");
        assert!(!e.to_string().contains("priv-secret"));
        let e = parse(&with(&[
            ("PAYMENTS_MODE", "live"),
            (
                "BRAINTREE_API_BASE",
                "https://api.sandbox.braintreegateway.com",
            ),
        ]))
        .unwrap_err();
        assert_eq!(e.var, "BRAINTREE_API_BASE");
        let e = parse(&[
            ("BRAINTREE_MERCHANT_ID", "m"),
            ("BRAINTREE_PUBLIC_KEY", "p"),
        ])
        .unwrap_err();
        assert_eq!(e.var, "BRAINTREE_PRIVATE_KEY");
        let e = parse(&with(&[("BRAINTREE_CURRENCY", "XXX")])).unwrap_err();
        assert_eq!(e.var, "BRAINTREE_CURRENCY");
        let e = parse(&with(&[("BRAINTREE_CURRENCY", "EUR")])).unwrap_err();
        assert_eq!(e.var, "BRAINTREE_MERCHANT_ACCOUNT_ID");
        assert!(parse(&with(&[
            ("BRAINTREE_CURRENCY", "EUR"),
            ("BRAINTREE_MERCHANT_ACCOUNT_ID", "shop_eur")
        ]))
        .is_ok());
    }
}
