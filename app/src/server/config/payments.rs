//! Payment settings: `PAYMENTS_MODE`, how long unpaid orders hold their stock, and each registered
//! provider's own settings, which that provider's module reads and checks itself
//! (`payments::registry`).
//!
//! In sandbox mode (the default) a provider without credentials talks to the built-in sandbox with
//! fixed sandbox keys; with credentials it talks to the real API (or its `*_API_BASE`), and live
//! (production) credentials refuse to start. Live mode mounts no sandbox and refuses to start
//! while no provider, or a half-configured one, is there, or while a provider has test keys.

use super::{bad, ConfigError};
use crate::model::ProviderId;
pub use crate::server::payments::kernel::sandbox_keys;
use crate::server::payments::kernel::{Configured, Endpoint, Env, PaymentsMode};
use crate::server::payments::registry;

#[derive(Debug, Clone)]
pub struct PaymentSettings {
    pub mode: PaymentsMode,
    /// The enabled providers, in the registry's order.
    pub providers: Vec<Configured>,
    /// `ORDER_HOLD_MINUTES`: how long an unpaid order holds its stock.
    pub hold_minutes: i64,
    /// `MAX_OPEN_ORDERS_PER_SESSION`: unpaid orders one shopper may have at once.
    pub max_open_orders: i64,
    /// `MAX_OPEN_ORDERS_PER_ADDRESS`: unpaid orders placed from one client address (an IPv6
    /// client's /64) at once, however many sessions it uses.
    pub max_open_orders_per_address: i64,
    /// `MAX_UNPAID_UNITS_PER_PRODUCT`: how many of one product an unpaid order may hold.
    pub max_unpaid_units: i64,
    /// `CARD_PROVIDERS`: which configured card processors take cards, in order of preference (for
    /// each order, the first that can take its currency and total is the checkout's one "Card").
    /// Empty: every configured card processor is offered, each named.
    pub card_providers: Vec<ProviderId>,
}

pub const DEFAULT_HOLD_MINUTES: i64 = 60;
pub const DEFAULT_MAX_OPEN_ORDERS: i64 = 5;
pub const DEFAULT_MAX_OPEN_ORDERS_PER_ADDRESS: i64 = 20;
pub const DEFAULT_MAX_UNPAID_UNITS: i64 = 10;

fn whole_number(
    env: Env<'_>,
    var: &'static str,
    default: i64,
    range: std::ops::RangeInclusive<i64>,
) -> Result<i64, ConfigError> {
    match env(var) {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|n| range.contains(n))
            .ok_or_else(|| {
                bad(
                    var,
                    format!(
                        "expected a whole number from {} to {}",
                        range.start(),
                        range.end()
                    ),
                )
            }),
    }
}

/// `CARD_PROVIDERS=square,stripe`: card processors that are configured, each once.
fn card_providers(env: Env<'_>, configured: &[Configured]) -> Result<Vec<ProviderId>, ConfigError> {
    const VAR: &str = "CARD_PROVIDERS";
    let Some(list) = env(VAR) else {
        return Ok(Vec::new());
    };
    let mut chosen = Vec::new();
    for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let id = ProviderId::parse(&name.to_ascii_lowercase()).ok_or_else(|| {
            bad(
                VAR,
                format!("{name:?} is not a provider (stripe, square, braintree, authorizenet)"),
            )
        })?;
        if !id.is_card_processor() {
            return Err(bad(
                VAR,
                format!("{name} does not take cards on its own page"),
            ));
        }
        if !configured.iter().any(|c| c.id == id) {
            return Err(bad(
                VAR,
                format!("{name} is not configured (no credentials)"),
            ));
        }
        if !chosen.contains(&id) {
            chosen.push(id);
        }
    }
    Ok(chosen)
}

impl PaymentSettings {
    pub fn from_lookup(env: Env<'_>) -> Result<Self, ConfigError> {
        let mode = match env("PAYMENTS_MODE").as_deref() {
            None | Some("sandbox") => PaymentsMode::Sandbox,
            Some("live") => PaymentsMode::Live,
            Some(_) => return Err(bad("PAYMENTS_MODE", "expected sandbox or live")),
        };
        if mode == PaymentsMode::Live {
            registry::refuse_published_keys(env)?;
        }
        let mut providers = Vec::new();
        for registration in registry::PROVIDERS {
            if let Some(configured) = (registration.configure)(env, mode)? {
                providers.push(configured);
            }
        }
        if mode == PaymentsMode::Live && providers.is_empty() {
            return Err(bad(
                "PAYMENTS_MODE",
                "live mode needs at least one provider's credentials (e.g. STRIPE_SECRET_KEY)",
            ));
        }
        let card_providers = card_providers(env, &providers)?;
        Ok(PaymentSettings {
            mode,
            providers,
            card_providers,
            // Stripe sessions expire 30 min to 24 h after creation; a shorter hold still works
            // (the shop expires the session itself), a longer one could not be matched.
            hold_minutes: whole_number(env, "ORDER_HOLD_MINUTES", DEFAULT_HOLD_MINUTES, 1..=1440)?,
            max_open_orders: whole_number(
                env,
                "MAX_OPEN_ORDERS_PER_SESSION",
                DEFAULT_MAX_OPEN_ORDERS,
                1..=100,
            )?,
            max_open_orders_per_address: whole_number(
                env,
                "MAX_OPEN_ORDERS_PER_ADDRESS",
                DEFAULT_MAX_OPEN_ORDERS_PER_ADDRESS,
                1..=10_000,
            )?,
            max_unpaid_units: whole_number(
                env,
                "MAX_UNPAID_UNITS_PER_PRODUCT",
                DEFAULT_MAX_UNPAID_UNITS,
                1..=99,
            )?,
        })
    }

    pub fn get(&self, id: ProviderId) -> Option<&Configured> {
        self.providers.iter().find(|p| p.id == id)
    }

    /// Every origin a configured provider sends the shopper's browser to.
    pub fn browser_origins(&self) -> impl Iterator<Item = &String> + '_ {
        self.providers.iter().flat_map(|p| p.browser_origins.iter())
    }

    /// The providers whose built-in sandbox this instance serves.
    pub fn sandboxed(&self) -> impl Iterator<Item = ProviderId> + '_ {
        self.providers
            .iter()
            .filter(move |p| self.mode == PaymentsMode::Sandbox && p.endpoint == Endpoint::Sandbox)
            .map(|p| p.id)
    }
}

/// Payment settings from these variables alone (for the providers' configuration tests).
#[cfg(test)]
pub(crate) fn parse_for_tests(pairs: &[(&str, &str)]) -> Result<PaymentSettings, ConfigError> {
    let map: std::collections::HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    PaymentSettings::from_lookup(&|k| map.get(k).cloned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(pairs: &[(&str, &str)]) -> Result<PaymentSettings, ConfigError> {
        parse_for_tests(pairs)
    }

    #[test]
    fn sandbox_by_default_for_every_registered_provider() {
        let p = parse(&[]).unwrap();
        assert_eq!(p.mode, PaymentsMode::Sandbox);
        assert_eq!(p.providers.len(), registry::PROVIDERS.len());
        assert!(p.providers.iter().all(|c| c.endpoint == Endpoint::Sandbox));
        assert_eq!(p.sandboxed().count(), registry::PROVIDERS.len());
        assert_eq!(p.hold_minutes, 60);
        assert_eq!(p.max_open_orders, 5);
        assert_eq!(p.max_open_orders_per_address, 20);
        assert_eq!(p.max_unpaid_units, 10);
    }

    #[test]
    fn browser_origins_come_from_the_settings() {
        let origins = |pairs: &[(&str, &str)], id: ProviderId| -> Vec<String> {
            parse(pairs)
                .unwrap()
                .get(id)
                .unwrap()
                .browser_origins
                .clone()
        };
        // The built-in sandboxes are on the shop's own origin.
        assert_eq!(parse(&[]).unwrap().browser_origins().count(), 0);
        assert_eq!(
            origins(
                &[
                    ("STRIPE_SECRET_KEY", "sk_test_own"),
                    ("STRIPE_WEBHOOK_SECRET", "whsec_own")
                ],
                ProviderId::Stripe
            ),
            ["https://checkout.stripe.com"]
        );
        // An override serves its own pages.
        assert_eq!(
            origins(
                &[("PAYPAL_API_BASE", "http://127.0.0.1:9/paypal")],
                ProviderId::Paypal
            ),
            ["http://127.0.0.1:9"]
        );
        assert_eq!(
            origins(
                &[
                    ("PAYMENTS_MODE", "live"),
                    ("AUTHORIZENET_API_LOGIN_ID", "liveLogin1"),
                    ("AUTHORIZENET_TRANSACTION_KEY", "liveTxnKey000001"),
                    ("AUTHORIZENET_SIGNATURE_KEY", "ABCDEF0123"),
                ],
                ProviderId::AuthorizeNet
            ),
            ["https://accept.authorize.net"]
        );
        // Braintree's page is the shop's own: nothing to post elsewhere.
        assert!(origins(
            &[
                ("BRAINTREE_MERCHANT_ID", "own"),
                ("BRAINTREE_PUBLIC_KEY", "ownpublic"),
                ("BRAINTREE_PRIVATE_KEY", "ownprivate"),
            ],
            ProviderId::Braintree
        )
        .is_empty());
    }

    #[test]
    fn live_mode_refuses_every_published_sandbox_key_of_every_provider() {
        let mut checked = 0;
        for registration in registry::PROVIDERS {
            assert!(
                !registration.published_keys.is_empty(),
                "{:?} declares no published keys",
                registration.id
            );
            for (var, value) in registration.published_keys {
                let e = parse(&[("PAYMENTS_MODE", "live"), (var, value)]).unwrap_err();
                assert_eq!(e.var, *var);
                assert_eq!(e.expected, registry::PUBLISHED_IN_LIVE);
                assert!(!e.to_string().contains(value), "no key in the message");
                // Pasted with spaces, or a hex key in lower case, is the same key.
                let reworded = format!(" {} ", value.to_ascii_lowercase());
                let e = parse(&[("PAYMENTS_MODE", "live"), (var, &reworded)]).unwrap_err();
                assert_eq!(e.var, *var);
                checked += 1;
            }
        }
        assert!(checked >= 16, "{checked}");
        // SSLCOMMERZ's store password was once on no list: with the published pair and live
        // credentials of its own, live mode started.
        let e = parse(&[
            ("PAYMENTS_MODE", "live"),
            ("SSLCOMMERZ_STORE_ID", "myshop0live"),
            (
                "SSLCOMMERZ_STORE_PASSWORD",
                sandbox_keys::SSLCOMMERZ_STORE_PASSWORD,
            ),
        ])
        .unwrap_err();
        assert_eq!(e.var, "SSLCOMMERZ_STORE_PASSWORD");
        // In sandbox mode they are what the built-in sandboxes run on.
        assert!(parse(&[
            ("SSLCOMMERZ_STORE_ID", sandbox_keys::SSLCOMMERZ_STORE_ID),
            (
                "SSLCOMMERZ_STORE_PASSWORD",
                sandbox_keys::SSLCOMMERZ_STORE_PASSWORD
            ),
        ])
        .is_ok());
    }

    #[test]
    fn live_mode_needs_a_provider_and_the_numbers_are_checked() {
        assert_eq!(
            parse(&[("PAYMENTS_MODE", "live")]).unwrap_err().var,
            "PAYMENTS_MODE"
        );
        assert_eq!(
            parse(&[("PAYMENTS_MODE", "test")]).unwrap_err().var,
            "PAYMENTS_MODE"
        );
        for (var, value) in [
            ("ORDER_HOLD_MINUTES", "0"),
            ("ORDER_HOLD_MINUTES", "1441"),
            ("ORDER_HOLD_MINUTES", "ten"),
            ("MAX_OPEN_ORDERS_PER_SESSION", "0"),
        ] {
            assert_eq!(parse(&[(var, value)]).unwrap_err().var, var);
        }
        let p = parse(&[
            ("ORDER_HOLD_MINUTES", "45"),
            ("MAX_OPEN_ORDERS_PER_SESSION", "2"),
        ])
        .unwrap();
        assert_eq!((p.hold_minutes, p.max_open_orders), (45, 2));
    }
}
