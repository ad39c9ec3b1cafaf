//! What every provider module is built on, and what the settings need of one: the mode, where a
//! provider's calls go ([`Endpoint`]), an enabled provider ([`Configured`]), a provider's entry in
//! the registry ([`Registration`]), how it reads the environment ([`Env`]), the helpers its
//! settings reader uses, and the sandboxes' published keys.
//!
//! It depends on no provider and on no settings module: the settings read the registry, the
//! registry names the providers, and the providers build on this.

use super::{BuildContext, PaymentProvider};
use crate::model::ProviderId;
use crate::server::config::error::{bad, ConfigError};
use std::sync::Arc;

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

type Builder = dyn Fn(&BuildContext) -> Arc<dyn PaymentProvider> + Send + Sync;

/// One enabled provider, as its module read it from the environment.
#[derive(Clone)]
pub struct Configured {
    pub id: ProviderId,
    pub endpoint: Endpoint,
    /// The origins this provider sends the shopper's browser to: the hosted page a checkout
    /// redirects to, or the gateway a form is posted to. Empty for the built-in sandbox (it is on
    /// the shop's own origin) and for a provider whose page is the shop's own. The shop's
    /// `form-action` allows exactly these (see `server::csp`).
    pub browser_origins: Vec<String>,
    /// Built from its credentials (which it holds, and never shows) once the shop knows where it
    /// reaches its sandboxes.
    builder: Arc<Builder>,
}

impl Configured {
    pub fn new(
        id: ProviderId,
        endpoint: Endpoint,
        builder: impl Fn(&BuildContext) -> Arc<dyn PaymentProvider> + Send + Sync + 'static,
    ) -> Configured {
        Configured {
            id,
            endpoint,
            browser_origins: Vec::new(),
            builder: Arc::new(builder),
        }
    }

    /// The origins of these URLs (paths and anything not http(s) are left out: they are the
    /// shop's own).
    pub fn sending_browser_to<S: AsRef<str>>(
        mut self,
        urls: impl IntoIterator<Item = S>,
    ) -> Configured {
        let origins = urls
            .into_iter()
            .filter_map(|url| crate::server::csp::origin_of(url.as_ref()));
        for origin in origins {
            if !self.browser_origins.contains(&origin) {
                self.browser_origins.push(origin);
            }
        }
        self
    }

    pub fn build(&self, ctx: &BuildContext) -> Arc<dyn PaymentProvider> {
        (self.builder)(ctx)
    }
}

impl std::fmt::Debug for Configured {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Configured")
            .field("id", &self.id)
            .field("endpoint", &self.endpoint)
            .field("browser_origins", &self.browser_origins)
            .finish_non_exhaustive()
    }
}

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

/// The fixed keys the sandboxes accept and sign with (like a provider's published test keys).
pub mod sandbox_keys {
    pub const STRIPE_SECRET_KEY: &str = "sk_test_storefront_sandbox";
    pub const STRIPE_WEBHOOK_SECRET: &str = "whsec_storefront_sandbox_0123456789abcdef";
    pub const SSLCOMMERZ_STORE_ID: &str = "storefronttest";
    pub const SSLCOMMERZ_STORE_PASSWORD: &str = "storefronttest@ssl";
    pub const PAYPAL_CLIENT_ID: &str = "storefront-sandbox-client";
    pub const PAYPAL_CLIENT_SECRET: &str = "storefront-sandbox-secret";
    pub const PAYPAL_WEBHOOK_ID: &str = "WH-STOREFRONT-SANDBOX";
    pub const BRAINTREE_MERCHANT_ID: &str = "storefrontsandbox";
    pub const BRAINTREE_PUBLIC_KEY: &str = "storefront-sandbox-public";
    pub const BRAINTREE_PRIVATE_KEY: &str = "storefront-sandbox-private";
    pub const SQUARE_ACCESS_TOKEN: &str = "EAAAstorefront-sandbox-token";
    pub const SQUARE_LOCATION_ID: &str = "LSTOREFRONTSANDBOX";
    pub const SQUARE_WEBHOOK_SIGNATURE_KEY: &str = "storefront-square-sandbox-signature-key";
    pub const AUTHORIZENET_API_LOGIN_ID: &str = "sfSandbox01";
    pub const AUTHORIZENET_TRANSACTION_KEY: &str = "sfSandboxTxnKey1";
    pub const AUTHORIZENET_SIGNATURE_KEY: &str = "5A692C1B4895F8E56F73DEC0E4CA2C9D44CBF28B31C9FC197ED2AE06D78B1FA162F6235A1D037536B9397CA2A382DE4B45688CD110D768FB76B638562FEF22EE";
}

/// A `*_API_BASE` value: a bare http(s) root without a trailing slash.
pub fn base_url(var: &'static str, value: Option<String>) -> Result<Option<String>, ConfigError> {
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

/// Where a redirecting provider's hosted pages are, for [`Configured::sending_browser_to`]:
/// nothing for the built-in sandbox (the shop's own origin); the pages of the provider's own
/// site when the API root is one of its official hosts (`official`: API host, page URLs); else
/// the override's own origin (a self-hosted sandbox or a test fake serves its pages beside its
/// API).
pub fn hosted_pages(endpoint: &Endpoint, official: &[(&str, &[&'static str])]) -> Vec<String> {
    let Endpoint::Remote(root) = endpoint else {
        return Vec::new();
    };
    let host = crate::server::csp::origin_of(root)
        .and_then(|o| o.split_once("://").map(|(_, h)| h.to_string()))
        .unwrap_or_default();
    match official.iter().find(|(api, _)| *api == host) {
        Some((_, pages)) => pages.iter().map(|p| p.to_string()).collect(),
        None => vec![root.clone()],
    }
}

/// Credentials given in pairs: both or neither, naming the missing one.
pub fn pair(
    env: Env<'_>,
    first: &'static str,
    second: &'static str,
) -> Result<Option<(String, String)>, ConfigError> {
    match (env(first), env(second)) {
        (None, None) => Ok(None),
        (Some(a), Some(b)) => Ok(Some((a, b))),
        (Some(_), None) => Err(bad(second, format!("required when {first} is set"))),
        (None, Some(_)) => Err(bad(first, format!("required when {second} is set"))),
    }
}
