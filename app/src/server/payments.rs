//! Payment providers: one module each (`<provider>.rs` and `<provider>/`), one trait, a
//! [`Capabilities`] value per provider; each provider's sandbox, which speaks its wire protocol,
//! is in the server crate's `sandboxes` module. [`registry`] names the providers; nothing else in
//! the shop does. Adding one: docs/architecture.md#adding-a-provider.
//!
//! The trait never changes an order by itself: it turns what a provider says (a webhook, a lookup,
//! a cancel) into a [`PaymentUpdate`], and `services::payment_updates` applies that to the order.

pub mod alipay;
pub mod attempt;
pub mod authorizenet;
pub mod braintree;
pub mod http;
pub mod kernel;
pub mod logged;
pub mod paypal;
pub mod reference;
pub mod registry;
pub mod rejections;
pub mod square;
pub mod sslcommerz;
pub mod stripe;

use crate::model::{Currency, Money, ProviderId};
use axum::http::HeaderMap;
use kernel::{Configured, Endpoint};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

pub use http::{http_client, transport_error};

/// What a provider can do; the checkout only offers providers whose capabilities cover the cart.
#[derive(Debug, Clone)]
pub struct Capabilities {
    /// Currencies the provider settles in, each with the smallest and largest amount it takes.
    pub currencies: &'static [(Currency, i64, i64)],
    /// Whether [`PaymentProvider::refund`] is built for this provider.
    pub refunds: bool,
    /// Whether a refund may be for less than what was captured.
    pub partial_refunds: bool,
    /// Whether the provider recognises a repeated refund request by its idempotency key, so a
    /// refund whose answer was lost may be asked for again. Where it does not (or that is not
    /// confirmed), an unanswered refund waits for a person instead.
    pub idempotent_refunds: bool,
    /// Whether the shop can close an open session at the provider (used when a hold runs out).
    pub closes_sessions: bool,
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

/// Where a provider sends the shopper and its notifications, built in one place from `PUBLIC_URL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShopUrls {
    /// `/payments/{provider}/return/{order}`: success and failure both land here (GET or POST).
    pub return_url: String,
    /// `/payments/{provider}/cancel/{order}`: the shopper left the provider's page (a GET that
    /// shows the order and asks the provider; it changes nothing by itself).
    pub cancel_url: String,
    /// `/webhooks/{provider}`.
    pub notify_url: String,
}

impl ShopUrls {
    pub fn new(public_url: &str, provider: ProviderId, order_reference: &str) -> ShopUrls {
        let p = provider.as_str();
        ShopUrls {
            return_url: format!("{public_url}/payments/{p}/return/{order_reference}"),
            cancel_url: format!("{public_url}/payments/{p}/cancel/{order_reference}"),
            notify_url: format!("{public_url}/webhooks/{p}"),
        }
    }
}

/// Everything a provider needs to open a hosted payment for one attempt.
#[derive(Debug, Clone)]
pub struct StartRequest {
    pub order_reference: String,
    /// `ORD-000123-A1-K7QX2M` (see [`reference`]): the merchant reference and the idempotency key
    /// of the create call.
    pub attempt_reference: String,
    pub total: Money,
    pub lines: Vec<QuoteLine>,
    pub customer: Customer,
    pub urls: ShopUrls,
    /// When the order stops holding its stock (seconds since the epoch); providers whose sessions
    /// can expire are asked to expire them then (Stripe `expires_at`).
    pub hold_until: i64,
    /// When the attempt was made (seconds since the epoch). Time limits a provider needs beyond
    /// the hold are counted from it, never from the moment of the call: a retry of the same
    /// attempt must send the same parameters (Stripe refuses a repeated `Idempotency-Key` with
    /// others).
    pub attempt_created: i64,
}

/// How the browser gets to the provider (docs/payments.md#placing-an-order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NextStep {
    /// A GET to the provider's hosted page (Stripe, PayPal's approval link, SSLCOMMERZ, Square).
    Redirect { url: String },
    /// A form the browser posts to the provider (Alipay `page.pay`, Authorize.Net Accept Hosted):
    /// auto-submitted with JavaScript, a visible **Continue** button without.
    PostForm {
        action: String,
        fields: Vec<(String, String)>,
    },
    /// A page of the shop's own that the provider fills in (Braintree's Drop-in): the provider
    /// renders its body from these values with [`PaymentProvider::shop_page`].
    ShopPage { values: Vec<(String, String)> },
}

/// A page of the shop's own that a provider fills in ([`NextStep::ShopPage`]): its body, and
/// the sources beyond the shop's own origin its Content Security Policy must allow (Braintree's
/// Drop-in in live mode), on this page only.
#[derive(Debug, Clone)]
pub struct ShopPage {
    pub body: String,
    pub sources: crate::server::csp::PageSources,
}

/// The provider's answer to *start*.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Started {
    /// The provider's id for the session (Stripe `cs_…`, SSLCOMMERZ `sessionkey`).
    pub session_id: String,
    pub next: NextStep,
}

/// What the provider says about a payment, once verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Money captured: the amount and currency the provider reports (compared with the quote).
    /// `flagged` carries the provider's own warning (SSLCOMMERZ `risk_level = 1`): a person
    /// must look before the goods go out.
    Paid {
        amount_minor: i64,
        currency: String,
        flagged: Option<String>,
    },
    /// Nothing final yet (a delayed method, an open session).
    Pending,
    Failed,
    Cancelled,
    Expired,
    /// A status this code does not know: logged and held, never taken as pending or paid.
    Unrecognised(String),
    /// What the provider says about one of the shop's refunds of this attempt's payment.
    Refund(RefundReport),
}

/// A provider's statement about a refund (its webhook, or the answer to a refund lookup).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundReport {
    /// The provider's id for the refund (`re_…`, SSLCOMMERZ `refund_ref_id`).
    pub refund_id: String,
    /// The shop's idempotency key of the refund, where the provider echoes it (Stripe metadata).
    pub refund_key: Option<String>,
    pub state: RefundState,
    pub amount_minor: i64,
    pub currency: String,
}

/// Where a refund stands at the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundState {
    Pending,
    Succeeded,
    /// The refund did not happen; the reason is the provider's own words (for the merchant).
    Failed(String),
}

impl Outcome {
    pub fn paid(amount_minor: i64, currency: impl Into<String>) -> Outcome {
        Outcome::Paid {
            amount_minor,
            currency: currency.into(),
            flagged: None,
        }
    }
}

/// Where an update came from (the ledger's `source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Webhook,
    Lookup,
    Cancel,
    /// The shop itself: an order whose hold ran out.
    Expiry,
    /// A refund asked for by the merchant, and what the provider said about it.
    Refund,
    /// A merchant's own decision (accepting a payment under review as paid).
    Merchant,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Webhook => "webhook",
            Source::Lookup => "lookup",
            Source::Cancel => "cancel",
            Source::Expiry => "expiry",
            Source::Refund => "refund",
            Source::Merchant => "merchant",
        }
    }
}

/// A verified statement about one attempt, ready to be applied to its order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentUpdate {
    pub provider: ProviderId,
    pub attempt_reference: String,
    /// The provider's own id for the session or transaction the statement is about, where the
    /// provider reports one: it must match the attempt's stored id, so a signed event for another
    /// shop on the same account (which may also have an `ORD-000123-A1`) touches nothing here.
    pub session_id: Option<String>,
    /// Unique per provider; the ledger refuses a second row with the same id (deduplication).
    pub event_id: String,
    pub source: Source,
    /// The provider's own name for what happened (`checkout.session.completed`, `VALID`…).
    pub kind: String,
    pub outcome: Outcome,
    /// The verified message, for the order's timeline.
    pub payload: String,
    /// The provider's id of the captured payment, once paid (Stripe's payment intent,
    /// SSLCOMMERZ's `bank_tran_id`): what a refund names, and what the merchant can search by.
    pub payment_id: Option<String>,
}

impl PaymentUpdate {
    /// The shopper's cancel at a provider whose open session the shop cannot close (Square's
    /// payment link, Authorize.Net's hosted-form token, SSLCOMMERZ's gateway session): a lookup
    /// that found nothing paid becomes the shop's cancel of the attempt (the order is abandoned,
    /// as when its hold runs out), and money paid later on the still-open session is a late
    /// payment the shop puts in front of a person. Any other answer stays what it is.
    pub fn abandoned_unless_paid(mut self) -> PaymentUpdate {
        if self.outcome == Outcome::Pending {
            self.outcome = Outcome::Cancelled;
            self.source = Source::Cancel;
            self.event_id = format!("cancel:{}", self.attempt_reference);
            self.kind = format!("{}; abandoned by the shop", self.kind);
        }
        self
    }
}

/// A provider call that did not work. The detail is for the log; shoppers read
/// [`PaymentError::shopper_message`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PaymentError {
    /// The provider refused the request (a 4xx, or its own refusal in a 200).
    #[error("refused: {0}")]
    Refused(String),
    /// The provider could not be reached, timed out or failed on its side: it may have acted,
    /// so the same call is tried again with the same idempotency key.
    #[error("unavailable: {0}")]
    Unavailable(String),
}

impl PaymentError {
    /// A plain sentence for the shopper, never the provider's own text.
    pub fn shopper_message(&self, provider: ProviderId) -> String {
        match self {
            PaymentError::Refused(_) => format!(
                "{} could not open a payment for this order.",
                provider.label()
            ),
            PaymentError::Unavailable(_) => {
                format!("{} is not answering right now.", provider.label())
            }
        }
    }
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

/// The attempt a call is about.
#[derive(Debug, Clone, Copy)]
pub struct AttemptRef<'a> {
    pub reference: &'a str,
    /// The provider's session id, once the provider answered *start*.
    pub session_id: Option<&'a str>,
}

/// A refund to make, asked for from the merchant's order page.
#[derive(Debug, Clone)]
pub struct RefundRequest<'a> {
    pub attempt: AttemptRef<'a>,
    /// The captured payment's id at the provider, when the shop has it.
    pub payment_id: Option<&'a str>,
    pub amount: Money,
    /// The same key for a retry of the same refund: the provider must refund once.
    pub idempotency_key: &'a str,
    pub reason: &'a str,
}

/// The provider's answer to a refund: its id for the refund and where the refund stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundOutcome {
    pub refund_id: String,
    pub state: RefundState,
    /// The provider's answer as received, for the order's timeline.
    pub payload: String,
}

#[async_trait::async_trait]
pub trait PaymentProvider: Send + Sync {
    fn id(&self) -> ProviderId;

    fn capabilities(&self) -> &Capabilities;

    /// Open a hosted payment for the attempt (idempotent on the attempt reference).
    async fn start(&self, request: &StartRequest) -> Result<Started, PaymentError>;

    /// The cheap, offline part of a webhook's verification (a signature over the raw bytes),
    /// done before anything is stored.
    fn check_signature(&self, headers: &HeaderMap, body: &[u8]) -> Result<(), WebhookError>;

    /// Whether [`Self::check_signature`] proves a delivery genuine on its own (a signature over
    /// the body). PayPal's cannot (only PayPal's verify API can say), so there an address that
    /// keeps sending deliveries the full verification refuses is turned away before the next one
    /// is stored or costs a verify call.
    fn signature_checked_offline(&self) -> bool {
        true
    }

    /// Whether [`Self::verify_webhook`] needs nothing but the delivery itself (no call to the
    /// provider's API). Then the webhook route stores the delivery in the same commit that applies
    /// it; otherwise it is stored first, so a delivery whose verification is slow or fails is kept.
    /// Either way it is acknowledged only after that commit.
    fn verifies_offline(&self) -> bool {
        false
    }

    /// Verify a webhook fully (signature, and where the provider wants it its validation API).
    /// `Ok(None)` means a genuine event the shop has no use for.
    async fn verify_webhook(
        &self,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Option<PaymentUpdate>, WebhookError>;

    /// Ask the provider for the attempt's current state.
    async fn lookup(&self, attempt: AttemptRef<'_>) -> Result<PaymentUpdate, PaymentError>;

    /// The shopper is back on the return URL with these parameters (query and form). Providers
    /// that must act on the return (PayPal's capture) do it here; the others ask the provider.
    /// What the browser carries is never taken as proof of payment.
    async fn complete_return(
        &self,
        attempt: AttemptRef<'_>,
        _params: &[(String, String)],
    ) -> Result<PaymentUpdate, PaymentError> {
        self.lookup(attempt).await
    }

    /// Close the session where the provider allows it (the shopper's cancel, a hold that ran out)
    /// and say what the provider now reports.
    async fn cancel(&self, attempt: AttemptRef<'_>) -> Result<PaymentUpdate, PaymentError> {
        self.lookup(attempt).await
    }

    /// Refund part or all of a captured payment.
    async fn refund(&self, _request: &RefundRequest<'_>) -> Result<RefundOutcome, PaymentError> {
        Err(PaymentError::Refused(format!(
            "refunds are not built for {} yet",
            self.id().label()
        )))
    }

    /// Ask the provider where a refund it answered before stands now.
    async fn lookup_refund(
        &self,
        _attempt: AttemptRef<'_>,
        refund_id: &str,
    ) -> Result<RefundOutcome, PaymentError> {
        Err(PaymentError::Unavailable(format!(
            "{} cannot look up refund {refund_id}",
            self.id().label()
        )))
    }

    /// The body of a page of the shop's own for [`NextStep::ShopPage`], and what it loads from
    /// elsewhere.
    fn shop_page(
        &self,
        _attempt_reference: &str,
        _values: &[(String, String)],
    ) -> Option<ShopPage> {
        None
    }

    /// A sentence for the shopper on why a payment failed, from the provider's own statement
    /// that failed it (its ledger `kind`), where the provider gives one fit to show.
    fn failure_reason(&self, _kind: &str) -> Option<String> {
        None
    }

    /// The body of a successful acknowledgement, as the provider expects it.
    fn acknowledgement(&self) -> &'static str {
        "ok"
    }

    /// When the provider says the event in this (verified) webhook body happened, in Unix
    /// milliseconds, for the webhook-lag metric. `None` where the provider's body carries no
    /// unambiguous instant (the default).
    fn event_time_ms(&self, _body: &[u8]) -> Option<i64> {
        None
    }
}

/// The instant in a JSON webhook body's top-level `field`: Unix seconds (Stripe's `created`) or
/// an RFC 3339 timestamp (PayPal's `create_time`, Square's `created_at`), in Unix milliseconds.
pub fn json_event_time_ms(body: &[u8], field: &str) -> Option<i64> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    match value.get(field)? {
        serde_json::Value::Number(n) => n.as_i64().map(|secs| secs.saturating_mul(1000)),
        serde_json::Value::String(s) => {
            let at = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
                .ok()?;
            i64::try_from(at.unix_timestamp_nanos() / 1_000_000).ok()
        }
        _ => None,
    }
}

/// The configured providers.
#[derive(Clone)]
pub struct Payments {
    providers: Vec<Arc<dyn PaymentProvider>>,
    /// `CARD_PROVIDERS`: the card processors in order of preference; empty offers them all.
    card_preference: Vec<ProviderId>,
}

/// A once-only claim on an attempt's capture, shared by every instance on the database, for
/// providers whose payment needs a second call from the shop after the shopper approves (PayPal's
/// capture). The provider modules hold no SQL: `services::capture_claims` implements this.
#[async_trait::async_trait]
pub trait CaptureClaims: Send + Sync {
    /// True for exactly one caller while the attempt is open and its provider session is
    /// `session_id` (or after the holder's claim went stale); everyone else should look the
    /// payment up instead of capturing.
    async fn claim(&self, attempt_reference: &str, session_id: &str) -> Result<bool, PaymentError>;
    /// Give the claim back: the capture call failed before the provider acted on it.
    async fn release(&self, attempt_reference: &str) -> Result<(), PaymentError>;
}

/// What building a provider needs besides its own settings.
pub struct BuildContext {
    pub http: reqwest::Client,
    /// The bare root its calls go to: its real API (or override), or this instance's sandbox.
    pub api_root: String,
    /// The shop's `PUBLIC_URL` (Square's default notification URL is built from it).
    pub public_url: String,
    pub captures: Arc<dyn CaptureClaims>,
}

impl Payments {
    /// Build the configured providers (`card_preference` is `CARD_PROVIDERS`). `public_url` is
    /// the shop's `PUBLIC_URL`; `internal_url` is how this instance reaches itself (its
    /// sandboxes) without going through the public address.
    pub fn new(
        configured: &[Configured],
        card_preference: &[ProviderId],
        public_url: &str,
        internal_url: &str,
        captures: Arc<dyn CaptureClaims>,
    ) -> Payments {
        let http = http_client();
        let providers = configured
            .iter()
            .map(|configured| {
                let api_root = match &configured.endpoint {
                    Endpoint::Remote(base) => base.clone(),
                    Endpoint::Sandbox => {
                        format!("{internal_url}/sandbox/{}", configured.id.as_str())
                    }
                };
                let provider = configured.build(&BuildContext {
                    http: http.clone(),
                    api_root,
                    public_url: public_url.to_string(),
                    captures: captures.clone(),
                });
                Arc::new(logged::Logged(provider)) as Arc<dyn PaymentProvider>
            })
            .collect();
        Payments {
            providers,
            card_preference: card_preference.to_vec(),
        }
    }

    pub fn get(&self, id: ProviderId) -> Option<&Arc<dyn PaymentProvider>> {
        self.providers.iter().find(|p| p.id() == id)
    }

    /// The configured providers' ids.
    pub fn ids(&self) -> Vec<ProviderId> {
        self.providers.iter().map(|p| p.id()).collect()
    }

    /// The providers that can take a payment of `total`, in display order: cards first (the
    /// merchant's preferred processor that can take it, or every one when no preference is set),
    /// then PayPal, Alipay and SSLCOMMERZ.
    pub fn offered_for(&self, total: Money) -> Vec<ProviderId> {
        let accepts = |id: ProviderId| {
            self.get(id)
                .is_some_and(|p| p.capabilities().accepts(total))
        };
        let cards: Vec<ProviderId> = if self.card_preference.is_empty() {
            ProviderId::ALL
                .into_iter()
                .filter(|id| id.is_card_processor() && accepts(*id))
                .collect()
        } else {
            self.card_preference
                .iter()
                .copied()
                .find(|id| accepts(*id))
                .into_iter()
                .collect()
        };
        let others = ProviderId::ALL
            .into_iter()
            .filter(|id| !id.is_card_processor() && accepts(*id));
        cards.into_iter().chain(others).collect()
    }
}

/// Seconds since the Unix epoch.
pub fn now_secs() -> i64 {
    crate::server::db::now_ms() / 1000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_times_from_json_bodies() {
        assert_eq!(
            json_event_time_ms(br#"{"created": 1700000000}"#, "created"),
            Some(1_700_000_000_000)
        );
        assert_eq!(
            json_event_time_ms(
                br#"{"create_time": "2023-11-14T22:13:20.5Z"}"#,
                "create_time"
            ),
            Some(1_700_000_000_500)
        );
        assert_eq!(
            json_event_time_ms(br#"{"created": "soon"}"#, "created"),
            None
        );
        assert_eq!(json_event_time_ms(b"not json", "created"), None);
    }

    #[test]
    fn capabilities_check_currency_and_range() {
        let caps = Capabilities {
            currencies: &[(Currency::Bdt, 1000, 50_000_000)],
            refunds: true,
            partial_refunds: true,
            idempotent_refunds: true,
            closes_sessions: false,
        };
        assert!(caps.accepts(Money::new(1000, Currency::Bdt)));
        assert!(!caps.accepts(Money::new(999, Currency::Bdt)));
        assert!(!caps.accepts(Money::new(50_000_001, Currency::Bdt)));
        assert!(!caps.accepts(Money::new(5000, Currency::Usd)));
    }

    #[test]
    fn shop_urls_are_built_from_the_public_url() {
        let urls = ShopUrls::new("https://shop.example", ProviderId::Sslcommerz, "ORD-000007");
        assert_eq!(
            urls.return_url,
            "https://shop.example/payments/sslcommerz/return/ORD-000007"
        );
        assert_eq!(
            urls.cancel_url,
            "https://shop.example/payments/sslcommerz/cancel/ORD-000007"
        );
        assert_eq!(urls.notify_url, "https://shop.example/webhooks/sslcommerz");
    }

    #[test]
    fn next_steps_survive_storage() {
        for step in [
            NextStep::Redirect {
                url: "https://pay.example/x".into(),
            },
            NextStep::PostForm {
                action: "https://pay.example/gateway.do".into(),
                fields: vec![("biz_content".into(), "{\"a\":1}".into())],
            },
        ] {
            let stored = serde_json::to_string(&step).unwrap();
            assert_eq!(serde_json::from_str::<NextStep>(&stored).unwrap(), step);
        }
    }
}
