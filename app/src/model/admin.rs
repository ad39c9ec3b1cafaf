//! What the merchant's order page shows (`/admin/orders/{reference}`): the order, its attempts,
//! its refunds and one timeline of the ledger and the webhook inbox. Everything secret is taken out
//! on the server before a value of these types is built (signatures redacted, card-like numbers
//! masked); times are milliseconds since the epoch, shown in UTC.

use super::{Money, OrderLineView, OrderStatus, ProviderId, RefundView};
use serde::{Deserialize, Serialize};

/// The merchant's view of one order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdminOrderView {
    pub reference: String,
    pub status: OrderStatus,
    pub created_at: i64,
    pub email: String,
    /// From the order's address JSON; empty when it could not be read.
    pub name: String,
    /// The address lines as given at checkout (street, city and postcode, country, phone).
    pub address: Vec<String>,
    pub lines: Vec<OrderLineView>,
    pub total: Money,
    pub refunded: Money,
    pub attempts: Vec<AdminAttemptView>,
    pub refunds: Vec<RefundView>,
    /// Ledger events and inbox deliveries, oldest first.
    pub timeline: Vec<TimelineItem>,
    /// Why the order needs review (the ledger's note), while it does.
    pub review_reason: Option<String>,
    /// Whether any attempt is open at its provider (what **Look up now** asks about).
    pub has_open_attempt: bool,
    /// The emails about this order (the outbox), oldest first.
    #[serde(default)]
    pub emails: Vec<EmailEntry>,
}

/// One email about an order, as the merchant sees its delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailEntry {
    /// What the message is, in words ("Order confirmation").
    pub kind: String,
    pub created_at: i64,
    pub status: EmailStatus,
    /// Tries made so far.
    pub attempts: i64,
    /// Why the last try failed (no message body, no credentials).
    pub last_error: Option<String>,
}

/// Where an email's delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EmailStatus {
    Sent {
        at: i64,
    },
    /// Queued; the next try is due at `next_at` (at once when already past).
    Waiting {
        next_at: i64,
    },
    /// Given up after too many failed tries (or a message that could never be sent).
    Dead {
        at: i64,
    },
}

/// One payment attempt as the merchant sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdminAttemptView {
    pub reference: String,
    pub provider: ProviderId,
    /// The provider's session id (Stripe `cs_…`, SSLCOMMERZ `sessionkey`).
    pub session_id: Option<String>,
    /// The provider's id of the captured payment (Stripe's payment intent), once known.
    pub payment_id: Option<String>,
    /// The attempt's own state, in words (`open at the provider`, `paid`, `needs review`…).
    pub state: String,
    /// Whether the provider may still act on it (a next scheduled lookup means something).
    pub live: bool,
    /// Whether it is open at the provider with a session to look up (**Look up now**).
    pub open: bool,
    pub created_at: i64,
    /// How many scheduled lookups the reconciler made.
    pub lookups: i64,
    /// When a lookup's answer last reached the ledger.
    pub last_lookup_at: Option<i64>,
    /// The next scheduled lookup, if any.
    pub next_lookup_at: Option<i64>,
}

/// One line of the timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum TimelineItem {
    Event(LedgerEntry),
    Delivery(DeliveryEntry),
}

impl TimelineItem {
    /// When it happened (ms since the epoch).
    pub fn at(&self) -> i64 {
        match self {
            TimelineItem::Event(e) => e.at,
            TimelineItem::Delivery(d) => d.at,
        }
    }
}

/// A row of the payment ledger: a verified statement and what it did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LedgerEntry {
    pub at: i64,
    pub attempt: String,
    pub provider: ProviderId,
    /// `webhook`, `lookup`, `cancel`, `expiry`, `refund` or `merchant`.
    pub source: String,
    /// The provider's own name for the event (`checkout.session.completed`).
    pub kind: String,
    pub event_id: String,
    pub from_status: Option<OrderStatus>,
    pub to_status: Option<OrderStatus>,
    /// What applying it did (`applied: awaiting_payment -> paid`).
    pub outcome: String,
    /// The amount and currency the provider reported, formatted (`$18.00`, `100 XYZ`).
    pub amount: Option<String>,
    /// The verified message, masked.
    pub payload: String,
}

/// What became of a webhook delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeliveryOutcome {
    /// Verified and moved the order.
    Applied,
    /// Verified and written to the ledger without moving the order.
    Recorded,
    /// Verified, but its event was applied before.
    Duplicate,
    /// The signature or the provider's validation refused it.
    Rejected,
    /// Verified, about nothing the shop acts on.
    Ignored,
    /// Not finished yet (the provider is asked to retry).
    Pending,
    /// Never finished: the shop stopped (or failed) while handling it, and the provider sends it
    /// again; closed by the reconciler once it is clearly abandoned.
    Unfinished,
}

impl DeliveryOutcome {
    /// Classify the inbox's outcome text.
    pub fn of(outcome: Option<&str>) -> DeliveryOutcome {
        match outcome {
            None => DeliveryOutcome::Pending,
            Some(o) if o.starts_with("applied") => DeliveryOutcome::Applied,
            Some(o) if o.starts_with("duplicate") => DeliveryOutcome::Duplicate,
            Some(o) if o.starts_with("rejected") => DeliveryOutcome::Rejected,
            Some(o) if o.starts_with("ignored") => DeliveryOutcome::Ignored,
            Some(o) if o.starts_with("unfinished") => DeliveryOutcome::Unfinished,
            Some(_) => DeliveryOutcome::Recorded,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            DeliveryOutcome::Applied => "applied",
            DeliveryOutcome::Recorded => "recorded",
            DeliveryOutcome::Duplicate => "duplicate",
            DeliveryOutcome::Rejected => "rejected",
            DeliveryOutcome::Ignored => "ignored",
            DeliveryOutcome::Pending => "pending",
            DeliveryOutcome::Unfinished => "unfinished",
        }
    }
}

/// A webhook delivery from the inbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryEntry {
    pub at: i64,
    pub provider: String,
    /// The attempt it is about (for a rejected delivery: the one its body names, unverified).
    pub attempt: String,
    pub event_id: Option<String>,
    pub outcome: DeliveryOutcome,
    /// The inbox's outcome text in full (`rejected: bad signature`).
    pub detail: String,
    /// Stored headers as `name: value` lines, signature values redacted.
    pub headers: String,
    /// The raw body, card-like numbers masked (cut after a few kilobytes).
    pub payload: String,
}

/// The sales chart's figures for the last days.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SalesReport {
    /// The first day shown (days since 1970-01-01, UTC) and how many days.
    pub first_day: i64,
    pub days: i64,
    /// Net sales per currency: paid orders' totals minus what was refunded, by the day the
    /// order was placed.
    pub currencies: Vec<CurrencySales>,
    /// Payment success per provider over attempts that reached an end in the same days.
    pub providers: Vec<ProviderSuccess>,
}

/// One currency's sales per day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurrencySales {
    pub currency: super::Currency,
    /// (day, net sales in minor units), only days with sales, oldest first.
    pub per_day: Vec<(i64, i64)>,
    pub total: Money,
}

/// How often a provider's attempts ended paid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderSuccess {
    pub provider: ProviderId,
    pub paid: i64,
    /// Attempts that reached an end: paid, failed, cancelled, expired or needs review.
    pub ended: i64,
}

impl ProviderSuccess {
    /// The success rate in tenths of a percent (`667` = 66.7 %), rounded half up.
    pub fn per_mille(&self) -> i64 {
        if self.ended == 0 {
            return 0;
        }
        (self.paid * 2000 + self.ended) / (2 * self.ended)
    }

    /// `66.7 %`.
    pub fn rate_label(&self) -> String {
        let p = self.per_mille();
        format!("{}.{} %", p / 10, p % 10)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivery_outcomes_are_classified() {
        assert_eq!(
            DeliveryOutcome::of(Some("applied: awaiting_payment -> paid")),
            DeliveryOutcome::Applied
        );
        assert_eq!(
            DeliveryOutcome::of(Some("duplicate")),
            DeliveryOutcome::Duplicate
        );
        assert_eq!(
            DeliveryOutcome::of(Some("rejected: bad signature")),
            DeliveryOutcome::Rejected
        );
        assert_eq!(
            DeliveryOutcome::of(Some("ignored: unknown attempt")),
            DeliveryOutcome::Ignored
        );
        assert_eq!(
            DeliveryOutcome::of(Some("refused: paid -> expired")),
            DeliveryOutcome::Recorded
        );
        assert_eq!(DeliveryOutcome::of(None), DeliveryOutcome::Pending);
        assert_eq!(
            DeliveryOutcome::of(Some(
                "unfinished: the shop stopped before it finished; the provider sends it again"
            )),
            DeliveryOutcome::Unfinished
        );
    }

    #[test]
    fn success_rates_round_half_up() {
        let rate = |paid, ended| ProviderSuccess {
            provider: ProviderId::Stripe,
            paid,
            ended,
        };
        assert_eq!(rate(2, 3).rate_label(), "66.7 %");
        assert_eq!(rate(1, 3).rate_label(), "33.3 %");
        assert_eq!(rate(3, 3).rate_label(), "100.0 %");
        assert_eq!(rate(1, 8).rate_label(), "12.5 %");
        assert_eq!(rate(0, 0).rate_label(), "0.0 %");
    }
}
