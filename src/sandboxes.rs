//! The built-in provider sandboxes: for each of the seven providers, its API, hosted page and
//! signed webhooks, speaking that provider's wire protocol, so that the whole payment path runs
//! with no account and no network.
//!
//! Compiled only with the `sandboxes` feature (on by default, for development and the tests). The
//! live build (`--no-default-features`) has none of this code: it cannot mint a signed provider
//! event, and it refuses to start in sandbox mode. The shop mounts a sandbox at
//! `/sandbox/{provider}` for each provider that uses it ([`mount`]); the `sandboxes` binary serves
//! all seven on a port of their own for anyone building against these providers.
//!
//! A sandbox sees only a [`Sandbox`]: its own store, an HTTP client and three URLs. It never
//! touches the shop's database or state.
//!
//! What the seven share (the kit): [`objects`] (their objects in the [`store`], typed, changed by
//! compare-and-set), [`dialect`] (each provider's way of refusing, so that a handler's `?` speaks
//! it), [`idempotency`], [`refunds`] (the refund desk Stripe, PayPal and Square keep), [`delivery`]
//! (webhooks and IPNs), [`page`] (the hosted pages' HTML), [`wire`] (ids, credentials, URLs) and
//! [`clock`].

pub mod alipay;
pub mod authorizenet;
pub mod braintree;
pub mod clock;
pub mod delivery;
pub mod dialect;
pub mod idempotency;
pub mod objects;
pub mod page;
pub mod paypal;
pub mod refunds;
pub mod square;
pub mod sslcommerz;
pub mod store;
pub mod stripe;
pub mod wire;

use app::model::ProviderId;
use app::server::db::Db;
use axum::Router;
use std::sync::Arc;

/// What a sandbox handler may use.
#[derive(Clone)]
pub struct Sandbox {
    /// The sandboxes' own store ([`store::open`]).
    pub db: Db,
    /// For webhook and IPN deliveries.
    pub http: reqwest::Client,
    /// The shop's public origin, e.g. `https://shop.example`: the only place a sandbox sends a
    /// shopper back to, and the origin the shop's notification URLs must be on.
    pub shop_url: Arc<str>,
    /// Where browsers reach the sandboxes' own pages (`{site_url}/sandbox/{provider}/…`): the
    /// shop's public URL when the shop serves them.
    pub site_url: Arc<str>,
    /// Where this process reaches the shop's webhook handlers (`{webhook_root}/webhooks/…`): the
    /// shop's internal URL when the shop serves them.
    pub webhook_root: Arc<str>,
}

impl Sandbox {
    /// Where this process posts `provider`'s webhooks: the shop's `/webhooks/{provider}`.
    pub fn webhook_url(&self, provider: &str) -> String {
        format!("{}/webhooks/{provider}", self.webhook_root)
    }

    /// A URL the shop gave (on its public origin, [`page::is_shop_url`]) as this process reaches
    /// it: where an IPN to a shop-given notification URL goes.
    pub fn reach(&self, shop_url: &str) -> String {
        match shop_url.strip_prefix(&*self.shop_url) {
            Some(path) => format!("{}{path}", self.webhook_root),
            None => shop_url.to_string(),
        }
    }
}

/// One provider's sandbox routes, to be nested at `/sandbox/{provider}`.
pub fn routes(id: ProviderId) -> Router<Sandbox> {
    match id {
        ProviderId::Stripe => stripe::routes(),
        ProviderId::Paypal => paypal::routes(),
        ProviderId::Braintree => braintree::routes(),
        ProviderId::Square => square::routes(),
        ProviderId::Alipay => alipay::routes(),
        ProviderId::AuthorizeNet => authorizenet::routes(),
        ProviderId::Sslcommerz => sslcommerz::routes(),
    }
}

/// These providers' sandboxes, each at `/sandbox/{provider}`.
pub fn mount<S: Clone + Send + Sync + 'static>(
    sandbox: Sandbox,
    ids: impl IntoIterator<Item = ProviderId>,
) -> Router<S> {
    let mut router = Router::new();
    for id in ids {
        router = router.nest(&format!("/sandbox/{}", id.as_str()), routes(id));
    }
    router.with_state(sandbox)
}
