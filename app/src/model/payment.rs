//! Payment providers as the pages see them, and the checkout and order views.

use super::{CartView, Money, OrderStatus, RefundView};
use serde::{Deserialize, Serialize};

/// The seven providers the shop is designed for (design.md §1 lists their visible names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderId {
    Stripe,
    Paypal,
    Alipay,
    Sslcommerz,
    Square,
    Braintree,
    AuthorizeNet,
}

impl ProviderId {
    pub const ALL: [ProviderId; 7] = [
        ProviderId::Stripe,
        ProviderId::Paypal,
        ProviderId::Alipay,
        ProviderId::Sslcommerz,
        ProviderId::Square,
        ProviderId::Braintree,
        ProviderId::AuthorizeNet,
    ];

    /// The name a shopper reads on the Payment method choice.
    pub fn label(self) -> &'static str {
        match self {
            ProviderId::Stripe => "Stripe",
            ProviderId::Paypal => "PayPal",
            ProviderId::Alipay => "Alipay",
            ProviderId::Sslcommerz => "SSLCOMMERZ",
            ProviderId::Square => "Square",
            ProviderId::Braintree => "Braintree",
            ProviderId::AuthorizeNet => "Authorize.Net",
        }
    }

    /// The stored form and the path segment (`/webhooks/{provider}`).
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderId::Stripe => "stripe",
            ProviderId::Paypal => "paypal",
            ProviderId::Alipay => "alipay",
            ProviderId::Sslcommerz => "sslcommerz",
            ProviderId::Square => "square",
            ProviderId::Braintree => "braintree",
            ProviderId::AuthorizeNet => "authorizenet",
        }
    }

    pub fn parse(s: &str) -> Option<ProviderId> {
        ProviderId::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

/// What the checkout page needs: the re-priced cart, the providers that can take its currency,
/// a pre-filled email for customers, and the form's idempotency key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckoutView {
    pub cart: CartView,
    pub providers: Vec<ProviderId>,
    pub email: Option<String>,
    pub checkout_key: String,
}

/// One line of a placed order, as quoted at checkout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderLineView {
    pub name: String,
    pub quantity: i64,
    pub unit_price: Money,
    pub line_total: Money,
}

/// The payment-redirect page's view of an order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderView {
    pub reference: String,
    pub status: OrderStatus,
    pub email: String,
    pub lines: Vec<OrderLineView>,
    pub total: Money,
    pub provider: Option<ProviderId>,
    /// The unguessable link a guest can bookmark (present for guest orders shown to their owner).
    pub guest_link: Option<String>,
    /// The order's refunds, oldest first (amount, status, date; no merchant details).
    pub refunds: Vec<RefundView>,
    /// Why the payment failed, in the shop's words, where the provider gave a reason the shopper
    /// may read (Braintree's processor decline).
    #[serde(default)]
    pub failure_reason: Option<String>,
}

/// `GET /api/orders/{reference}/status` and the live-status stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderStatusJson {
    pub reference: String,
    pub status: OrderStatus,
    pub amount_minor: i64,
    pub currency: String,
    pub provider: Option<String>,
    /// The customer account the order belongs to (none for a guest's): for the server's live
    /// streams to pick a customer's own orders without a query. Never in the JSON sent out.
    #[serde(skip)]
    pub owner: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_names_round_trip() {
        for p in ProviderId::ALL {
            assert_eq!(ProviderId::parse(p.as_str()), Some(p));
        }
        assert_eq!(ProviderId::AuthorizeNet.label(), "Authorize.Net");
        assert_eq!(ProviderId::parse("bitcoin"), None);
    }
}
