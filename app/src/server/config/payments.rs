//! Payment settings: `PAYMENTS_MODE` and each built provider's credentials (design.md §2).
//!
//! In sandbox mode (the default) a provider without credentials talks to the built-in sandbox with
//! fixed sandbox keys; with credentials it talks to the real API (or its `*_API_BASE`). Live mode
//! mounts no sandbox and refuses to start while an enabled provider lacks a credential.

use super::{bad, ConfigError};
use secrecy::SecretString;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentsMode {
    Sandbox,
    Live,
}

/// Where a provider's calls go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// The built-in sandbox of this instance.
    Sandbox,
    /// A real API (or an override) at this bare root, e.g. `https://api.stripe.com`.
    Remote(String),
}

#[derive(Debug, Clone)]
pub struct StripeSettings {
    pub secret_key: SecretString,
    pub webhook_secret: SecretString,
    pub endpoint: Endpoint,
}

#[derive(Debug, Clone)]
pub struct SslcommerzSettings {
    pub store_id: String,
    pub store_password: SecretString,
    pub endpoint: Endpoint,
}

#[derive(Debug, Clone)]
pub struct PaymentSettings {
    pub mode: PaymentsMode,
    pub stripe: Option<StripeSettings>,
    pub sslcommerz: Option<SslcommerzSettings>,
}

/// The fixed keys the sandboxes accept and sign with (like a provider's published test keys).
pub mod sandbox_keys {
    pub const STRIPE_SECRET_KEY: &str = "sk_test_storefront_sandbox";
    pub const STRIPE_WEBHOOK_SECRET: &str = "whsec_storefront_sandbox_0123456789abcdef";
    pub const SSLCOMMERZ_STORE_ID: &str = "storefronttest";
    pub const SSLCOMMERZ_STORE_PASSWORD: &str = "storefronttest@ssl";
}

pub const STRIPE_LIVE_BASE: &str = "https://api.stripe.com";
pub const SSLCOMMERZ_SANDBOX_BASE: &str = "https://sandbox.sslcommerz.com";
pub const SSLCOMMERZ_LIVE_BASE: &str = "https://securepay.sslcommerz.com";

fn base_url(var: &'static str, value: Option<String>) -> Result<Option<String>, ConfigError> {
    match value {
        None => Ok(None),
        Some(v) if v.starts_with("http://") || v.starts_with("https://") => {
            Ok(Some(v.trim_end_matches('/').to_string()))
        }
        Some(_) => Err(bad(
            var,
            "expected a bare http:// or https:// root such as https://api.stripe.com",
        )),
    }
}

impl PaymentSettings {
    pub fn from_lookup(var: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mode = match var("PAYMENTS_MODE").as_deref() {
            None | Some("sandbox") => PaymentsMode::Sandbox,
            Some("live") => PaymentsMode::Live,
            Some(_) => return Err(bad("PAYMENTS_MODE", "expected sandbox or live")),
        };
        let stripe = stripe(var, mode)?;
        let sslcommerz = sslcommerz(var, mode)?;
        if mode == PaymentsMode::Live && stripe.is_none() && sslcommerz.is_none() {
            return Err(bad(
                "PAYMENTS_MODE",
                "live mode needs at least one provider's credentials (e.g. STRIPE_SECRET_KEY)",
            ));
        }
        Ok(PaymentSettings {
            mode,
            stripe,
            sslcommerz,
        })
    }
}

fn stripe(
    var: &dyn Fn(&str) -> Option<String>,
    mode: PaymentsMode,
) -> Result<Option<StripeSettings>, ConfigError> {
    let key = var("STRIPE_SECRET_KEY");
    let secret = var("STRIPE_WEBHOOK_SECRET");
    let base = base_url("STRIPE_API_BASE", var("STRIPE_API_BASE"))?;
    if let Some(k) = &key {
        if !(k.starts_with("sk_") || k.starts_with("rk_")) {
            return Err(bad(
                "STRIPE_SECRET_KEY",
                "expected a key starting sk_ or rk_",
            ));
        }
    }
    if let Some(s) = &secret {
        if !s.starts_with("whsec_") {
            return Err(bad(
                "STRIPE_WEBHOOK_SECRET",
                "expected a secret starting whsec_",
            ));
        }
    }
    match (key, secret, mode) {
        (None, None, PaymentsMode::Live) => Ok(None),
        (None, None, PaymentsMode::Sandbox) => Ok(Some(StripeSettings {
            secret_key: sandbox_keys::STRIPE_SECRET_KEY.into(),
            webhook_secret: sandbox_keys::STRIPE_WEBHOOK_SECRET.into(),
            endpoint: base.map_or(Endpoint::Sandbox, Endpoint::Remote),
        })),
        (Some(_), None, _) => Err(bad(
            "STRIPE_WEBHOOK_SECRET",
            "required when STRIPE_SECRET_KEY is set (whsec_… from the webhook endpoint)",
        )),
        (None, Some(_), _) => Err(bad(
            "STRIPE_SECRET_KEY",
            "required when STRIPE_WEBHOOK_SECRET is set",
        )),
        (Some(key), Some(secret), _) => Ok(Some(StripeSettings {
            secret_key: key.into(),
            webhook_secret: secret.into(),
            endpoint: Endpoint::Remote(base.unwrap_or_else(|| STRIPE_LIVE_BASE.to_string())),
        })),
    }
}

fn sslcommerz(
    var: &dyn Fn(&str) -> Option<String>,
    mode: PaymentsMode,
) -> Result<Option<SslcommerzSettings>, ConfigError> {
    let id = var("SSLCOMMERZ_STORE_ID");
    let password = var("SSLCOMMERZ_STORE_PASSWORD");
    let base = base_url("SSLCOMMERZ_API_BASE", var("SSLCOMMERZ_API_BASE"))?;
    match (id, password, mode) {
        (None, None, PaymentsMode::Live) => Ok(None),
        (None, None, PaymentsMode::Sandbox) => Ok(Some(SslcommerzSettings {
            store_id: sandbox_keys::SSLCOMMERZ_STORE_ID.into(),
            store_password: sandbox_keys::SSLCOMMERZ_STORE_PASSWORD.into(),
            endpoint: base.map_or(Endpoint::Sandbox, Endpoint::Remote),
        })),
        (Some(_), None, _) => Err(bad(
            "SSLCOMMERZ_STORE_PASSWORD",
            "required when SSLCOMMERZ_STORE_ID is set",
        )),
        (None, Some(_), _) => Err(bad(
            "SSLCOMMERZ_STORE_ID",
            "required when SSLCOMMERZ_STORE_PASSWORD is set",
        )),
        (Some(id), Some(password), mode) => Ok(Some(SslcommerzSettings {
            store_id: id,
            store_password: password.into(),
            endpoint: Endpoint::Remote(base.unwrap_or_else(|| {
                match mode {
                    PaymentsMode::Live => SSLCOMMERZ_LIVE_BASE,
                    PaymentsMode::Sandbox => SSLCOMMERZ_SANDBOX_BASE,
                }
                .to_string()
            })),
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn parse(pairs: &[(&str, &str)]) -> Result<PaymentSettings, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        PaymentSettings::from_lookup(&|k| map.get(k).cloned())
    }

    #[test]
    fn sandbox_by_default_for_every_built_provider() {
        let p = parse(&[]).unwrap();
        assert_eq!(p.mode, PaymentsMode::Sandbox);
        assert_eq!(p.stripe.unwrap().endpoint, Endpoint::Sandbox);
        assert_eq!(p.sslcommerz.unwrap().endpoint, Endpoint::Sandbox);
    }

    #[test]
    fn real_keys_switch_to_the_real_api() {
        let p = parse(&[
            ("STRIPE_SECRET_KEY", "sk_test_abc"),
            ("STRIPE_WEBHOOK_SECRET", "whsec_abc"),
            ("SSLCOMMERZ_STORE_ID", "shop"),
            ("SSLCOMMERZ_STORE_PASSWORD", "pw"),
        ])
        .unwrap();
        assert_eq!(
            p.stripe.unwrap().endpoint,
            Endpoint::Remote(STRIPE_LIVE_BASE.into())
        );
        assert_eq!(
            p.sslcommerz.unwrap().endpoint,
            Endpoint::Remote(SSLCOMMERZ_SANDBOX_BASE.into())
        );
    }

    #[test]
    fn live_mode_needs_complete_credentials() {
        assert_eq!(
            parse(&[("PAYMENTS_MODE", "live")]).unwrap_err().var,
            "PAYMENTS_MODE"
        );
        let e = parse(&[
            ("PAYMENTS_MODE", "live"),
            ("STRIPE_SECRET_KEY", "sk_live_x"),
        ])
        .unwrap_err();
        assert_eq!(e.var, "STRIPE_WEBHOOK_SECRET");
        let p = parse(&[
            ("PAYMENTS_MODE", "live"),
            ("SSLCOMMERZ_STORE_ID", "shop"),
            ("SSLCOMMERZ_STORE_PASSWORD", "pw"),
        ])
        .unwrap();
        assert!(p.stripe.is_none());
        assert_eq!(
            p.sslcommerz.unwrap().endpoint,
            Endpoint::Remote(SSLCOMMERZ_LIVE_BASE.into())
        );
        assert_eq!(
            parse(&[("PAYMENTS_MODE", "test")]).unwrap_err().var,
            "PAYMENTS_MODE"
        );
        assert_eq!(
            parse(&[("STRIPE_API_BASE", "localhost:1")])
                .unwrap_err()
                .var,
            "STRIPE_API_BASE"
        );
    }
}
