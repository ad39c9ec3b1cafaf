//! What the merchant's refund form shows.

use super::Money;
use serde::{Deserialize, Serialize};

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
    /// The form's idempotency key: a second press of this form is the same refund.
    pub key: String,
}
