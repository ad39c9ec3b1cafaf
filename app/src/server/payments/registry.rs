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
use crate::server::state::AppState;

/// How a provider's module reads the environment.
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// What the shop needs to know of one provider module.
pub struct Registration {
    pub id: ProviderId,
    /// Read and check this provider's variables; `None` when it is not enabled (live mode
    /// without its credentials).
    pub configure: fn(Env<'_>, PaymentsMode) -> Result<Option<Configured>, ConfigError>,
    /// Its built-in sandbox, mounted at `/sandbox/{provider}` while the shop uses it.
    pub sandbox_routes: fn() -> axum::Router<AppState>,
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
