//! Payment providers: one module each, one trait, a [`Capabilities`] value per provider, and a
//! sandbox beside each (`<provider>/sandbox.rs`) that speaks the provider's wire protocol.
//!
//! The trait never changes an order by itself: it turns what a provider says (a webhook, a lookup,
//! a cancel) into a [`PaymentUpdate`], and `services::payment_updates` applies that to the order.

pub mod delivery;
pub mod sandbox_page;
pub mod sslcommerz;
pub mod stripe;

use crate::model::{Currency, Money, ProviderId};
use crate::server::config::{Endpoint, Settings};
use axum::http::HeaderMap;
use std::sync::Arc;
use std::time::Duration;

/// What a provider can do; the checkout only offers providers whose capabilities cover the cart.
#[derive(Debug, Clone)]
pub struct Capabilities {
    /// Currencies the provider settles in, each with the smallest and largest amount it takes.
    pub currencies: &'static [(Currency, i64, i64)],
    pub refunds: bool,
    pub partial_refunds: bool,
}

impl Capabilities {
    /// Whether this provider can take a payment of `total`.
    pub fn accepts(&self, total: Money) -> bool {
        self.currencies
            .iter()
            .any(|(c, min, max)| *c == total.currency && (*min..=*max).contains(&total.minor))
    }
}

/// One quoted line, as sent to providers that show lines on their page.
#[derive(Debug, Clone)]
pub struct QuoteLine {
    pub name: String,
    pub quantity: i64,
    pub unit: Money,
}

/// The shopper's contact and delivery details.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Customer {
    pub email: String,
    pub name: String,
    pub address: String,
    pub city: String,
    pub postcode: String,
    pub country: String,
    pub phone: String,
}

/// Everything a provider needs to open a hosted payment for one attempt.
#[derive(Debug, Clone)]
pub struct StartRequest {
    pub order_reference: String,
    /// `ORD-000123-A1`: the merchant reference and the idempotency key of the create call.
    pub attempt_reference: String,
    pub total: Money,
    pub lines: Vec<QuoteLine>,
    pub customer: Customer,
    /// The shop's public origin, for return and notification URLs.
    pub public_url: String,
}

/// How the browser gets to the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Started {
    /// The provider's id for the session (Stripe `cs_…`, SSLCOMMERZ `sessionkey`).
    pub session_id: String,
    /// Where to send the shopper (a GET redirect for both built providers).
    pub redirect_url: String,
}

/// What the provider says about a payment, once verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Money captured: the amount and currency the provider reports (compared with the quote).
    Paid {
        amount_minor: i64,
        currency: String,
    },
    /// Nothing final yet (a delayed method, an open session).
    Pending,
    Failed,
    Cancelled,
    Expired,
}

/// A verified statement about one attempt, ready to be applied to its order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentUpdate {
    pub provider: ProviderId,
    pub attempt_reference: String,
    /// Unique per provider; the ledger refuses a second row with the same id (deduplication).
    pub event_id: String,
    /// `webhook`, `lookup` or `cancel`.
    pub source: &'static str,
    /// The provider's own name for what happened (`checkout.session.completed`, `VALID`…).
    pub kind: String,
    pub outcome: Outcome,
    /// The verified message, for the order's timeline.
    pub payload: String,
}

/// A provider call that did not work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PaymentError {
    /// The provider refused the request; the text is safe to show.
    #[error("{0}")]
    Refused(String),
    /// The provider could not be reached or failed on its side.
    #[error("the payment provider is unavailable: {0}")]
    Unavailable(String),
}

/// Why a webhook was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    /// Signature missing or wrong, stale, or the provider's validation API disowns it: 400.
    #[error("not verified: {0}")]
    NotVerified(String),
    /// The provider could not confirm it right now: 503, so the provider retries.
    #[error("could not confirm with the provider: {0}")]
    Unconfirmed(String),
}

#[async_trait::async_trait]
pub trait PaymentProvider: Send + Sync {
    fn id(&self) -> ProviderId;

    fn capabilities(&self) -> &Capabilities;

    /// Open a hosted payment for the attempt (idempotent on the attempt reference).
    async fn start(&self, request: &StartRequest) -> Result<Started, PaymentError>;

    /// Verify a webhook over its raw bytes (and, where the provider wants it, through its
    /// validation API). `Ok(None)` means a genuine event the shop has no use for.
    async fn verify_webhook(
        &self,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Option<PaymentUpdate>, WebhookError>;

    /// Ask the provider for the attempt's current state.
    async fn lookup(
        &self,
        attempt_reference: &str,
        session_id: &str,
    ) -> Result<PaymentUpdate, PaymentError>;

    /// The shopper cancelled on the provider's page: close the session where the provider allows
    /// it and say what the provider now reports.
    async fn cancel(
        &self,
        attempt_reference: &str,
        session_id: &str,
    ) -> Result<PaymentUpdate, PaymentError> {
        self.lookup(attempt_reference, session_id).await
    }

    /// The body of a successful acknowledgement, as the provider expects it.
    fn acknowledgement(&self) -> &'static str {
        "ok"
    }
}

/// The configured providers.
#[derive(Clone)]
pub struct Payments {
    providers: Vec<Arc<dyn PaymentProvider>>,
}

/// The shop's HTTP client for provider calls: short timeouts, no redirects followed.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(20))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("storefront/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("the HTTP client's settings are valid")
}

/// The bare root a provider's calls go to: its real API, or this instance's sandbox.
fn api_root(endpoint: &Endpoint, internal_url: &str, provider: ProviderId) -> String {
    match endpoint {
        Endpoint::Remote(base) => base.clone(),
        Endpoint::Sandbox => format!("{internal_url}/sandbox/{}", provider.as_str()),
    }
}

impl Payments {
    /// Build the providers from the settings. `internal_url` is how this instance reaches itself
    /// (its sandboxes) without going through the public address.
    pub fn new(settings: &Settings, internal_url: &str) -> Payments {
        let http = http_client();
        let mut providers: Vec<Arc<dyn PaymentProvider>> = Vec::new();
        if let Some(s) = &settings.payments.stripe {
            providers.push(Arc::new(stripe::Stripe::new(
                http.clone(),
                api_root(&s.endpoint, internal_url, ProviderId::Stripe),
                s.secret_key.clone(),
                s.webhook_secret.clone(),
            )));
        }
        if let Some(s) = &settings.payments.sslcommerz {
            providers.push(Arc::new(sslcommerz::Sslcommerz::new(
                http.clone(),
                api_root(&s.endpoint, internal_url, ProviderId::Sslcommerz),
                s.store_id.clone(),
                s.store_password.clone(),
            )));
        }
        Payments { providers }
    }

    pub fn get(&self, id: ProviderId) -> Option<&Arc<dyn PaymentProvider>> {
        self.providers.iter().find(|p| p.id() == id)
    }

    /// The providers that can take a payment of `total`, in display order.
    pub fn offered_for(&self, total: Money) -> Vec<ProviderId> {
        ProviderId::ALL
            .into_iter()
            .filter(|id| {
                self.get(*id)
                    .is_some_and(|p| p.capabilities().accepts(total))
            })
            .collect()
    }
}

/// Seconds since the Unix epoch.
pub fn now_secs() -> i64 {
    crate::server::db::now_ms() / 1000
}

/// Map a transport failure to [`PaymentError::Unavailable`] without leaking URLs with secrets.
pub fn transport_error(e: reqwest::Error) -> PaymentError {
    PaymentError::Unavailable(e.without_url().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capabilities_check_currency_and_range() {
        let caps = Capabilities {
            currencies: &[(Currency::Bdt, 1000, 50_000_000)],
            refunds: true,
            partial_refunds: true,
        };
        assert!(caps.accepts(Money::new(1000, Currency::Bdt)));
        assert!(!caps.accepts(Money::new(999, Currency::Bdt)));
        assert!(!caps.accepts(Money::new(50_000_001, Currency::Bdt)));
        assert!(!caps.accepts(Money::new(5000, Currency::Usd)));
    }
}
