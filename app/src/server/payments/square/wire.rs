//! Square's wire types (snake_case JSON, integer money) and the bodies the shop sends.

use crate::model::{Currency, Money};
use crate::server::payments::StartRequest;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// `{"amount": <minor units>, "currency": "USD"}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SqMoney {
    #[serde(default)]
    pub amount: i64,
    #[serde(default)]
    pub currency: String,
}

impl SqMoney {
    pub fn of(money: Money) -> SqMoney {
        SqMoney {
            amount: money.minor,
            currency: money.currency.code().to_string(),
        }
    }

    /// The amount in a currency the shop sells in, or `None`.
    pub fn to_money(&self) -> Option<Money> {
        let currency: Currency = self.currency.to_ascii_uppercase().parse().ok()?;
        Some(Money::new(self.amount, currency))
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ApiError {
    #[serde(default)]
    pub errors: Vec<ErrorItem>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ErrorItem {
    #[serde(default)]
    pub category: String,
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub detail: Option<String>,
    #[serde(default)]
    pub field: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct PaymentLink {
    #[serde(default)]
    pub order_id: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct PaymentLinkAnswer {
    pub payment_link: PaymentLink,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Tender {
    #[serde(default)]
    pub payment_id: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Order {
    pub id: String,
    #[serde(default)]
    pub reference_id: Option<String>,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub tenders: Vec<Tender>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct OrderAnswer {
    pub order: Order,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Payment {
    pub id: String,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub amount_money: Option<SqMoney>,
    #[serde(default)]
    pub total_money: Option<SqMoney>,
    #[serde(default)]
    pub order_id: Option<String>,
}

impl Payment {
    /// What was charged: the total (with any tip), else the amount.
    pub fn charged(&self) -> Option<&SqMoney> {
        self.total_money.as_ref().or(self.amount_money.as_ref())
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct PaymentAnswer {
    pub payment: Payment,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Refund {
    pub id: String,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub amount_money: Option<SqMoney>,
    #[serde(default)]
    pub payment_id: Option<String>,
    #[serde(default)]
    pub order_id: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct RefundAnswer {
    pub refund: Refund,
}

/// A webhook notification.
#[derive(Debug, Clone, Deserialize)]
pub struct Event {
    #[serde(rename = "type")]
    pub kind: String,
    pub event_id: String,
    #[serde(default)]
    pub data: EventData,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct EventData {
    #[serde(default)]
    pub object: Value,
}

/// A path segment that is a plain id (no `/`, `..`, `?`).
pub fn path_segment(id: &str) -> Option<&str> {
    (!id.is_empty()
        && id.len() <= 128
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
    .then_some(id)
}

/// Square's `idempotency_key` is at most 45 characters: a longer key is replaced by a digest of
/// it (the same key always gives the same digest).
pub fn idempotency_key(key: &str) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    if key.len() <= 45 {
        return key.to_string();
    }
    let digest = sha2::Sha256::digest(key.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..32])[..43].to_string()
}

/// `POST /v2/online-checkout/payment-links`: an order with the quoted lines (so Square's page
/// shows them), `reference_id` = the attempt, tipping and shipping off, back to the shop's return
/// URL. When the lines do not add up to the total exactly, one line carries the total instead.
pub fn create_link_body(request: &StartRequest, location_id: &str) -> Value {
    let total = request.total;
    let lines_sum: Option<i64> = request.lines.iter().try_fold(0i64, |sum, l| {
        (l.unit.currency == total.currency)
            .then(|| l.unit.minor.checked_mul(l.quantity))
            .flatten()
            .and_then(|m| sum.checked_add(m))
    });
    let line_items: Vec<Value> = if lines_sum == Some(total.minor) && !request.lines.is_empty() {
        request
            .lines
            .iter()
            .map(|l| {
                json!({
                    "name": truncate(&l.name, 255),
                    "quantity": l.quantity.to_string(),
                    "base_price_money": SqMoney::of(l.unit),
                })
            })
            .collect()
    } else {
        vec![json!({
            "name": format!("Order {}", request.order_reference),
            "quantity": "1",
            "base_price_money": SqMoney::of(total),
        })]
    };
    let mut body = json!({
        "idempotency_key": idempotency_key(&request.attempt_reference),
        "order": {
            "location_id": location_id,
            "reference_id": request.attempt_reference,
            "line_items": line_items,
        },
        "checkout_options": {
            "redirect_url": request.urls.return_url,
            "ask_for_shipping_address": false,
            "allow_tipping": false,
        },
        "payment_note": format!("Order {}", request.order_reference),
        "description": format!("Order {}", request.order_reference),
    });
    if !request.customer.email.is_empty() {
        body["pre_populated_data"] = json!({"buyer_email": request.customer.email});
    }
    body
}

/// `POST /v2/refunds`.
pub fn refund_body(payment_id: &str, amount: Money, key: &str, reason: &str) -> Value {
    json!({
        "idempotency_key": idempotency_key(key),
        "payment_id": payment_id,
        "amount_money": SqMoney::of(amount),
        "reason": truncate(reason, 192),
    })
}

fn truncate(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ProviderId;
    use crate::server::payments::{Customer, QuoteLine, ShopUrls};

    fn request(lines: Vec<QuoteLine>, total: i64) -> StartRequest {
        StartRequest {
            order_reference: "ORD-000042".into(),
            attempt_reference: "ORD-000042-A1".into(),
            total: Money::new(total, Currency::Usd),
            lines,
            customer: Customer {
                email: "a@example.com".into(),
                name: "A".into(),
                address: "1 Road".into(),
                city: "Town".into(),
                postcode: "1000".into(),
                country: "US".into(),
                phone: "".into(),
            },
            urls: ShopUrls::new("https://shop.example", ProviderId::Square, "ORD-000042"),
            hold_until: 0,
            attempt_created: 0,
        }
    }

    #[test]
    fn square_link_body_names_the_attempt_location_and_return() {
        let lines = vec![QuoteLine {
            name: "Tote".into(),
            quantity: 2,
            unit: Money::new(1800, Currency::Usd),
        }];
        let body = create_link_body(&request(lines, 3600), "L1");
        assert_eq!(body["idempotency_key"], "ORD-000042-A1");
        assert_eq!(body["order"]["reference_id"], "ORD-000042-A1");
        assert_eq!(body["order"]["location_id"], "L1");
        assert_eq!(body["order"]["line_items"][0]["quantity"], "2");
        assert_eq!(
            body["order"]["line_items"][0]["base_price_money"],
            json!({"amount": 1800, "currency": "USD"})
        );
        assert_eq!(
            body["checkout_options"]["redirect_url"],
            "https://shop.example/payments/square/return/ORD-000042"
        );
        assert_eq!(body["pre_populated_data"]["buyer_email"], "a@example.com");
        // Lines that do not add up (a discount, shipping): one line for the total.
        let lines = vec![QuoteLine {
            name: "Tote".into(),
            quantity: 1,
            unit: Money::new(1800, Currency::Usd),
        }];
        let body = create_link_body(&request(lines, 2300), "L1");
        assert_eq!(body["order"]["line_items"].as_array().unwrap().len(), 1);
        assert_eq!(
            body["order"]["line_items"][0]["base_price_money"]["amount"],
            2300
        );
    }

    #[test]
    fn square_wire_parses_payments_events_and_errors() {
        let event: Event = serde_json::from_str(
            r#"{"merchant_id":"M","type":"payment.updated","event_id":"e1","created_at":"x",
               "data":{"type":"payment","id":"P1","object":{"payment":{"id":"P1","status":"COMPLETED",
               "amount_money":{"amount":3600,"currency":"USD"},"order_id":"O1","extra":1}}}}"#,
        )
        .unwrap();
        assert_eq!(event.kind, "payment.updated");
        let payment: Payment =
            serde_json::from_value(event.data.object["payment"].clone()).unwrap();
        assert_eq!(payment.order_id.as_deref(), Some("O1"));
        assert_eq!(
            payment.charged().unwrap().to_money(),
            Some(Money::new(3600, Currency::Usd))
        );
        assert_eq!(
            SqMoney {
                amount: 1,
                currency: "GBP".into()
            }
            .to_money(),
            None
        );
        let e: ApiError = serde_json::from_str(
            r#"{"errors":[{"category":"INVALID_REQUEST_ERROR","code":"NOT_FOUND","detail":"no"}]}"#,
        )
        .unwrap();
        assert_eq!(e.errors[0].code, "NOT_FOUND");
    }

    #[test]
    fn square_keys_fit_in_45_characters_and_ids_are_plain() {
        assert_eq!(idempotency_key("refund-1"), "refund-1");
        let long = "x".repeat(80);
        assert_eq!(idempotency_key(&long).len(), 43);
        assert_eq!(idempotency_key(&long), idempotency_key(&long));
        assert_eq!(path_segment("P1_a-b"), Some("P1_a-b"));
        assert_eq!(path_segment("../x"), None);
    }
}
