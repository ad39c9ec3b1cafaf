//! The one list of payment providers. Start-up, the checkout, webhooks, returns, the reconciler and
//! the sandboxes all read it (through the settings and [`super::Payments`]); nothing else names a
//! provider.
//!
//! Adding a provider: its module `payments/<provider>.rs` and `payments/<provider>/` (configuration,
//! the trait, wire types), its `ProviderId` in `model::payment`, and one line below; its sandbox
//! goes in the server crate's `sandboxes` module. Every file it touches:
//! docs/architecture.md#adding-a-provider.

use super::kernel::Registration;
use super::{alipay, authorizenet, braintree, paypal, square, sslcommerz, stripe};
use crate::model::ProviderId;
use crate::server::config::error::{bad, ConfigError};

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
pub fn refuse_published_keys(env: super::kernel::Env<'_>) -> Result<(), ConfigError> {
    for registration in PROVIDERS {
        for (var, published) in registration.published_keys {
            if env(var).is_some_and(|value| value.trim().eq_ignore_ascii_case(published)) {
                return Err(bad(var, PUBLISHED_IN_LIVE));
            }
        }
    }
    Ok(())
}
