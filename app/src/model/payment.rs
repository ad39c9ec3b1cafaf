//! Payment providers as the pages see them, and the checkout and order views.

use super::{CartView, Money, OrderStatus, RefundView};
use serde::{Deserialize, Serialize};

/// The seven providers the shop takes payments with; [`ProviderId::label`] is the name people read.
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

    /// A processor whose hosted page takes cards (the shopper picks "Card", not the company).
    pub fn is_card_processor(self) -> bool {
        matches!(
            self,
            ProviderId::Stripe
                | ProviderId::Square
                | ProviderId::Braintree
                | ProviderId::AuthorizeNet
        )
    }

    /// What the shopper pays with, as the checkout's choice names it.
    pub fn method_label(self) -> &'static str {
        match self {
            ProviderId::Paypal => "PayPal",
            ProviderId::Alipay => "Alipay",
            ProviderId::Sslcommerz => "SSLCOMMERZ: bKash, Nagad, cards",
            _ => "Card",
        }
    }
}

/// One choice under Payment method: what the shopper pays with and, for cards, who processes them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentChoice {
    pub provider: ProviderId,
    /// "Card", "PayPal", "SSLCOMMERZ: bKash, Nagad, cards"; "Card (Square)" when several card
    /// processors are offered side by side.
    pub label: String,
    /// A line under the label: where the shopper goes to pay.
    pub hint: String,
}

impl PaymentChoice {
    /// The choices for these providers, in their order. Card processors read "Card" when only one is
    /// offered, and "Card (Stripe)" when several are.
    pub fn for_providers(providers: &[ProviderId]) -> Vec<PaymentChoice> {
        let card_processors = providers.iter().filter(|p| p.is_card_processor()).count();
        providers
            .iter()
            .map(|&provider| {
                let label = if provider.is_card_processor() && card_processors > 1 {
                    format!("Card ({})", provider.label())
                } else {
                    provider.method_label().to_string()
                };
                let hint = match provider {
                    ProviderId::Paypal => "You log in to PayPal to pay.".to_string(),
                    ProviderId::Alipay => {
                        "You pay in the Alipay app or on Alipay's page.".to_string()
                    }
                    ProviderId::Sslcommerz => {
                        "bKash, Nagad, Rocket, cards and internet banking, on SSLCOMMERZ's page."
                            .to_string()
                    }
                    card => format!(
                        "Visa, Mastercard, American Express; on {}'s secure page.",
                        card.label()
                    ),
                };
                PaymentChoice {
                    provider,
                    label,
                    hint,
                }
            })
            .collect()
    }
}

/// What the shopper typed at checkout, kept in their session so a refused or abandoned payment, a
/// Try again or a Back to cart finds the form filled in. `provider` is the method last chosen.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckoutDetails {
    pub email: String,
    pub name: String,
    pub address: String,
    pub city: String,
    pub postcode: String,
    pub country: String,
    pub phone: String,
    pub provider: String,
}

/// What the checkout page needs: the re-priced cart, the payment methods that can take it, the
/// form's values and errors, and the form's idempotency key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckoutView {
    pub cart: CartView,
    /// The payment methods that can take this cart, in display order.
    pub methods: Vec<PaymentChoice>,
    /// The form's values: what the shopper typed last, or their account's email.
    pub details: CheckoutDetails,
    /// Why the last Pay was refused, field by field (once, right after the refusal).
    pub errors: super::form::FieldErrors,
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
    /// While the order awaits payment and its attempt is still open at the provider: the link
    /// that takes the shopper back to the payment page (**Resume payment**).
    #[serde(default)]
    pub resume_url: Option<String>,
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
