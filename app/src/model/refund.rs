//! Refunds as pages show them (the customer's order page and the merchant's order page), and
//! the merchant's refund form.

use super::Money;
use serde::{Deserialize, Serialize};

/// Where a refund stands (the `refunds.status` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundStatus {
    Pending,
    Succeeded,
    Failed,
}

impl RefundStatus {
    pub const ALL: [RefundStatus; 3] = [
        RefundStatus::Pending,
        RefundStatus::Succeeded,
        RefundStatus::Failed,
    ];

    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            RefundStatus::Pending => "pending",
            RefundStatus::Succeeded => "succeeded",
            RefundStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<RefundStatus> {
        RefundStatus::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// What a person reads.
    pub fn label(self) -> &'static str {
        match self {
            RefundStatus::Pending => "Pending",
            RefundStatus::Succeeded => "Refunded",
            RefundStatus::Failed => "Failed",
        }
    }
}

/// One refund of an order. The customer's page shows amount, status and date; the merchant's
/// page also the reason, the provider's refund id and why it failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RefundView {
    pub amount: Money,
    pub status: RefundStatus,
    pub created_at: i64,
    /// Merchant-only details: `None` on the customer's page.
    pub details: Option<RefundDetails>,
}

/// What only the merchant reads about a refund.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundDetails {
    pub reason: String,
    pub provider_refund_id: Option<String>,
    pub failure: Option<String>,
}

/// The refund form of one order: what may still be refunded, or why nothing can be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundFormData {
    pub offer: Option<RefundOffer>,
    /// Why the order offers no refund (not paid, all refunded, provider without refunds).
    pub unavailable: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundOffer {
    /// What the provider captured.
    pub captured: Money,
    /// Captured minus pending and succeeded refunds: the form's pre-filled amount.
    pub left: Money,
    /// Whether less than the whole amount may be refunded.
    pub partial: bool,
    /// Who captured the payment (and so refunds it).
    pub provider: super::ProviderId,
    /// The form's idempotency key: a second press of this form is the same refund.
    pub key: String,
}

/// A refund checked and waiting for the merchant's **Refund $5.00** (the form's second step).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundConfirmation {
    pub amount: Money,
    pub reason: String,
    /// The form's idempotency key, carried on to the refund.
    pub key: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_names_round_trip() {
        for r in RefundStatus::ALL {
            assert_eq!(RefundStatus::parse(r.as_str()), Some(r));
        }
        assert_eq!(RefundStatus::parse("done"), None);
    }
}
