//! The payment path's metrics, named in one place so the list in docs/operating.md#metrics is
//! this file.
//!
//! These only record through the `metrics` facade; the server binary installs the Prometheus
//! recorder that renders them at `/metrics` (without one, recording is a no-op, as in unit tests).
//! Every label takes values from a closed set (provider ids, fixed outcome words), so the number of
//! series stays bounded whatever a client sends.

use crate::model::{OrderStatus, ProviderId};
use std::time::Duration;

pub const PAYMENTS_STARTED: &str = "storefront_payments_started_total";
pub const PAYMENTS_FINISHED: &str = "storefront_payments_finished_total";
pub const WEBHOOKS: &str = "storefront_webhooks_total";
pub const WEBHOOK_VERIFICATION: &str = "storefront_webhook_verification_seconds";
pub const WEBHOOK_LAG: &str = "storefront_webhook_lag_seconds";

/// What became of one webhook delivery, as counted in [`WEBHOOKS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookOutcome {
    /// Verified and recorded in the ledger (whether or not the order moved).
    Applied,
    /// Verified, but this event was applied before.
    Duplicate,
    /// Failed its signature or verification (400), or refused unread from an address that sent
    /// too many such (429).
    Rejected,
    /// Verified, but about nothing this shop acts on (an event type it ignores, an attempt that
    /// is not ours).
    Ignored,
    /// Could not be handled now (the provider's validation API down, a database error): a 5xx,
    /// so the provider retries.
    Error,
}

impl WebhookOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookOutcome::Applied => "applied",
            WebhookOutcome::Duplicate => "duplicate",
            WebhookOutcome::Rejected => "rejected",
            WebhookOutcome::Ignored => "ignored",
            WebhookOutcome::Error => "error",
        }
    }
}

/// A provider accepted the start of a payment (a session, a form, a page of ours).
pub fn payment_started(provider: ProviderId) {
    metrics::counter!(PAYMENTS_STARTED, "provider" => provider.as_str()).increment(1);
}

/// A provider's statement moved an order to a payment outcome (paid, failed, cancelled, expired,
/// needs_review); other moves (refunds) are not payments finishing.
pub fn payment_finished(provider: ProviderId, status: OrderStatus) {
    if matches!(
        status,
        OrderStatus::Paid
            | OrderStatus::Failed
            | OrderStatus::Cancelled
            | OrderStatus::Expired
            | OrderStatus::NeedsReview
    ) {
        metrics::counter!(PAYMENTS_FINISHED, "provider" => provider.as_str(), "status" => status.as_str())
            .increment(1);
    }
}

/// One webhook delivery and what became of it.
pub fn webhook(provider: ProviderId, outcome: WebhookOutcome) {
    metrics::counter!(WEBHOOKS, "provider" => provider.as_str(), "outcome" => outcome.as_str())
        .increment(1);
}

/// How long verifying a delivery took: the offline signature check plus, where the provider has
/// one, its validation API (PayPal, SSLCOMMERZ), which is what makes this worth watching.
pub fn webhook_verification(provider: ProviderId, took: Duration) {
    metrics::histogram!(WEBHOOK_VERIFICATION, "provider" => provider.as_str())
        .record(took.as_secs_f64());
}

/// From the provider's own event time to the moment the event was applied here.
pub fn webhook_lag(provider: ProviderId, event_at_ms: i64, applied_at_ms: i64) {
    let lag = (applied_at_ms - event_at_ms).max(0) as f64 / 1000.0;
    metrics::histogram!(WEBHOOK_LAG, "provider" => provider.as_str()).record(lag);
}
