//! The one list of payment providers. Start-up, the checkout, webhooks, returns, the reconciler and
//! the sandboxes all read it (through the settings and [`super::Payments`]); nothing else names a
//! provider.
//!
//! Adding a provider: a folder `payments/<provider>/` with its module (configuration, the trait,
//! wire types) and `sandbox.rs`, its `ProviderId` in `model::payment`, and one line below.

use super::{alipay, authorizenet, braintree, paypal, square, sslcommerz, stripe};
use crate::model::ProviderId;
use crate::server::config::payments::{Configured, PaymentsMode};
use crate::server::config::ConfigError;

/// How a provider's module reads the environment.
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// What the shop needs to know of one provider module.
pub struct Registration {
    pub id: ProviderId,
    /// Read and check this provider's variables; `None` when it is not enabled (live mode
    /// without its credentials).
    pub configure: fn(Env<'_>, PaymentsMode) -> Result<Option<Configured>, ConfigError>,
    /// The keys its built-in sandbox accepts and signs with, by the variable that would hold
    /// them. They are published (in this source, like a provider's own test keys), so live mode
    /// refuses to start with any of them (see [`refuse_published_keys`]).
    pub published_keys: &'static [(&'static str, &'static str)],
}

/// The providers, in the order the checkout offers them.
pub static PROVIDERS: &[Registration] = &[
    stripe::REGISTRATION,
    paypal::REGISTRATION,
    braintree::REGISTRATION,
    square::REGISTRATION,
    alipay::REGISTRATION,
    authorizenet::REGISTRATION,
    sslcommerz::REGISTRATION,
];

pub fn registration(id: ProviderId) -> Option<&'static Registration> {
    PROVIDERS.iter().find(|r| r.id == id)
}

/// Why live mode refuses a key.
pub const PUBLISHED_IN_LIVE: &str =
    "one of the built-in sandbox's published keys, in live mode: use your own from the provider";

/// Live mode: the first variable, of any registered provider, that holds one of its published
/// sandbox keys. A live shop verifying webhooks with a published secret would take anyone's
/// forged notification as genuine; one signing with a published store password or access token
/// is not the merchant's account at all. Hex keys are compared without regard to case.
pub fn refuse_published_keys(env: Env<'_>) -> Result<(), ConfigError> {
    for registration in PROVIDERS {
        for (var, published) in registration.published_keys {
            if env(var).is_some_and(|value| value.trim().eq_ignore_ascii_case(published)) {
                return Err(crate::server::config::bad(var, PUBLISHED_IN_LIVE));
            }
        }
    }
    Ok(())
}
