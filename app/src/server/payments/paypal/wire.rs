//! PayPal's wire types (Orders v2, Payments v2, OAuth2, webhooks; snake_case JSON) and the
//! create-order body. Amounts are decimal strings from the shop's one conversion
//! ([`Money::to_decimal_string`]): `"10.00"` in USD, `"1000"` in JPY.

use super::super::StartRequest;
use crate::model::{Currency, Money};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// `{"currency_code":"USD","value":"10.00"}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Amount {
    pub currency_code: String,
    pub value: String,
}

impl Amount {
    pub fn of(money: Money) -> Amount {
        Amount {
            currency_code: money.currency.code().to_string(),
            value: money.to_decimal_string(),
        }
    }

    /// The amount in minor units and the currency code as PayPal wrote it; `None` when the
    /// currency is not one the shop knows or the value is not a plain decimal in it.
    pub fn to_money(&self) -> Option<Money> {
        let currency: Currency = self.currency_code.parse().ok()?;
        Money::parse_decimal(&self.value, currency).ok()
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Link {
    pub href: String,
    #[serde(default)]
    pub rel: String,
    #[serde(default)]
    pub method: Option<String>,
}

/// The fields of an order the shop reads (unknown fields are ignored).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Order {
    pub id: String,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub intent: Option<String>,
    #[serde(default)]
    pub purchase_units: Vec<PurchaseUnit>,
    #[serde(default)]
    pub links: Vec<Link>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PurchaseUnit {
    #[serde(default)]
    pub reference_id: Option<String>,
    #[serde(default)]
    pub invoice_id: Option<String>,
    #[serde(default)]
    pub custom_id: Option<String>,
    #[serde(default)]
    pub amount: Option<Amount>,
    #[serde(default)]
    pub payments: Option<UnitPayments>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct UnitPayments {
    #[serde(default)]
    pub captures: Vec<Capture>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StatusDetails {
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RelatedIds {
    #[serde(default)]
    pub order_id: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SupplementaryData {
    #[serde(default)]
    pub related_ids: Option<RelatedIds>,
}

/// A capture (in an order's purchase unit, or a `PAYMENT.CAPTURE.*` event's resource).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Capture {
    pub id: String,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub status_details: Option<StatusDetails>,
    #[serde(default)]
    pub amount: Option<Amount>,
    #[serde(default)]
    pub invoice_id: Option<String>,
    #[serde(default)]
    pub custom_id: Option<String>,
    #[serde(default)]
    pub supplementary_data: Option<SupplementaryData>,
}

impl Capture {
    /// The order this capture belongs to (events link back to it this way).
    pub fn order_id(&self) -> Option<&str> {
        self.supplementary_data
            .as_ref()?
            .related_ids
            .as_ref()?
            .order_id
            .as_deref()
    }
}

/// A refund (the refund API's answer, or a refund event's resource).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Refund {
    pub id: String,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub status_details: Option<StatusDetails>,
    #[serde(default)]
    pub amount: Option<Amount>,
    #[serde(default)]
    pub invoice_id: Option<String>,
    /// The shop's idempotency key of the refund (sent as `custom_id`).
    #[serde(default)]
    pub custom_id: Option<String>,
    #[serde(default)]
    pub links: Vec<Link>,
}

impl Refund {
    /// The refunded capture's id, from the `up` link.
    pub fn capture_id(&self) -> Option<String> {
        self.links
            .iter()
            .find(|l| l.rel == "up")
            .and_then(|l| l.href.rsplit('/').next())
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    }
}

/// `POST /v1/oauth2/token`'s answer.
#[derive(Debug, Clone, Deserialize)]
pub struct Token {
    pub access_token: String,
    #[serde(default)]
    pub expires_in: Option<i64>,
}

/// A PayPal error body: the REST shape (`name`, `message`, `debug_id`, `details[].issue`) or the
/// OAuth2 shape (`error`, `error_description`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ApiError {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub debug_id: Option<String>,
    #[serde(default)]
    pub details: Vec<ErrorDetail>,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub error_description: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ErrorDetail {
    #[serde(default)]
    pub issue: Option<String>,
}

impl ApiError {
    pub fn issues(&self) -> Vec<&str> {
        self.details
            .iter()
            .filter_map(|d| d.issue.as_deref())
            .collect()
    }
}

/// A webhook event.
#[derive(Debug, Clone, Deserialize)]
pub struct Event {
    pub id: String,
    pub event_type: String,
    #[serde(default)]
    pub resource: Value,
}

#[derive(Debug, Clone, Deserialize)]
pub struct VerifyAnswer {
    pub verification_status: String,
}

/// The JSON body of `POST /v2/checkout/orders` for an attempt: intent CAPTURE, one purchase unit
/// whose `invoice_id` is the attempt reference, its lines (when they add up to the total), and
/// the shop's return and cancel URLs.
pub fn create_order_body(request: &StartRequest) -> Value {
    let total = request.total;
    let mut unit = json!({
        "reference_id": "default",
        "invoice_id": request.attempt_reference,
        "custom_id": request.order_reference,
        "description": format!("Order {}", request.order_reference),
        "amount": Amount::of(total),
    });
    let sum = request.lines.iter().try_fold(0i64, |acc, l| {
        (l.unit.currency == total.currency)
            .then(|| l.unit.minor.checked_mul(l.quantity))
            .flatten()
            .and_then(|line| acc.checked_add(line))
    });
    if sum == Some(total.minor) && !request.lines.is_empty() {
        unit["amount"]["breakdown"] = json!({"item_total": Amount::of(total)});
        unit["items"] = request
            .lines
            .iter()
            .map(|l| {
                json!({
                    "name": l.name.chars().take(127).collect::<String>(),
                    "quantity": l.quantity.to_string(),
                    "unit_amount": Amount::of(l.unit),
                    "category": "PHYSICAL_GOODS",
                })
            })
            .collect();
    }
    json!({
        "intent": "CAPTURE",
        "purchase_units": [unit],
        "payment_source": {"paypal": {"experience_context": {
            "return_url": request.urls.return_url,
            "cancel_url": request.urls.cancel_url,
            "user_action": "PAY_NOW",
            "shipping_preference": "NO_SHIPPING",
            "brand_name": "storefront",
        }}},
    })
}

/// The body of a refund: the amount, the shop's refund key as `custom_id` (PayPal echoes it in
/// the refund's events and lookups, which is how they are matched), an `invoice_id` of this refund
/// alone ([`refund_invoice_id`]) and the reason for the buyer.
pub fn refund_body(amount: Money, attempt: &str, refund_key: &str, reason: &str) -> Value {
    let mut body = json!({
        "amount": Amount::of(amount),
        "invoice_id": refund_invoice_id(attempt, refund_key),
        "custom_id": refund_key,
    });
    let note: String = reason.chars().take(255).collect();
    if !note.trim().is_empty() {
        body["note_to_payer"] = json!(note);
    }
    body
}

/// What separates the attempt from the refund's own part in a refund's `invoice_id`. Attempt
/// references never contain it.
const INVOICE_SEPARATOR: char = '/';

/// The `invoice_id` of one refund: the attempt, then a digest of the refund's key. PayPal refuses a
/// refund whose `invoice_id` an earlier refund used (`DUPLICATE_INVOICE_ID`), so the attempt alone
/// would stop every refund after the first; the key's digest makes each refund's own, and the same
/// for a retry of the same refund. It stays far under PayPal's 127 characters whatever the key's
/// length, and the attempt it starts with is how a refund event finds its payment.
pub fn refund_invoice_id(attempt: &str, refund_key: &str) -> String {
    let digest = hex::encode(Sha256::digest(refund_key.as_bytes()));
    format!("{attempt}{INVOICE_SEPARATOR}R{}", &digest[..20])
}

/// The attempt an `invoice_id` names: a refund's ([`refund_invoice_id`]) or an order's (the
/// attempt itself).
pub fn attempt_of_invoice(invoice_id: &str) -> Option<&str> {
    let attempt = invoice_id.split(INVOICE_SEPARATOR).next()?;
    (!attempt.is_empty()).then_some(attempt)
}

/// A path segment as PayPal ids are written (letters, digits, `-`, `_`); anything else is refused
/// so an id can never change the path.
pub fn path_segment(id: &str) -> Option<&str> {
    (!id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
    .then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ProviderId;
    use crate::server::payments::{Customer, QuoteLine, ShopUrls};

    #[test]
    fn amounts_are_decimal_strings_in_each_currencys_exponent() {
        let of = |minor, c| Amount::of(Money::new(minor, c)).value;
        assert_eq!(of(1000, Currency::Usd), "10.00");
        assert_eq!(of(1000, Currency::Jpy), "1000");
        assert_eq!(of(1999, Currency::Eur), "19.99");
        assert_eq!(of(5, Currency::Eur), "0.05");
        let back = |value: &str, code: &str| {
            Amount {
                currency_code: code.into(),
                value: value.into(),
            }
            .to_money()
        };
        assert_eq!(back("10.00", "USD"), Some(Money::new(1000, Currency::Usd)));
        assert_eq!(back("1000", "JPY"), Some(Money::new(1000, Currency::Jpy)));
        assert_eq!(back("10.5", "EUR"), Some(Money::new(1050, Currency::Eur)));
        assert_eq!(back("10.50", "JPY"), None, "JPY has no decimals");
        assert_eq!(back("10.00", "GBP"), None, "not a currency of the shop");
        assert_eq!(back("-1.00", "USD"), None);
    }

    fn start_request(total: Money, lines: Vec<QuoteLine>) -> StartRequest {
        StartRequest {
            order_reference: "ORD-000007".into(),
            attempt_reference: "ORD-000007-A1".into(),
            total,
            lines,
            customer: Customer {
                email: "a@example.com".into(),
                name: "A".into(),
                address: "x".into(),
                city: "y".into(),
                postcode: "1".into(),
                country: "US".into(),
                phone: "1".into(),
            },
            urls: ShopUrls::new("https://shop.example", ProviderId::Paypal, "ORD-000007"),
            hold_until: 0,
            attempt_created: 0,
        }
    }

    #[test]
    fn the_create_body_names_the_attempt_and_the_shops_urls() {
        let total = Money::new(3000, Currency::Jpy);
        let body = create_order_body(&start_request(
            total,
            vec![QuoteLine {
                name: "Mug".into(),
                quantity: 2,
                unit: Money::new(1500, Currency::Jpy),
            }],
        ));
        assert_eq!(body["intent"], "CAPTURE");
        let unit = &body["purchase_units"][0];
        assert_eq!(unit["invoice_id"], "ORD-000007-A1");
        assert_eq!(unit["amount"]["value"], "3000");
        assert_eq!(unit["amount"]["currency_code"], "JPY");
        assert_eq!(unit["items"][0]["quantity"], "2");
        assert_eq!(unit["items"][0]["unit_amount"]["value"], "1500");
        let ctx = &body["payment_source"]["paypal"]["experience_context"];
        assert_eq!(
            ctx["return_url"],
            "https://shop.example/payments/paypal/return/ORD-000007"
        );
        assert_eq!(
            ctx["cancel_url"],
            "https://shop.example/payments/paypal/cancel/ORD-000007"
        );
        // Lines that do not add up to the total are left out rather than refused by PayPal.
        let body = create_order_body(&start_request(Money::new(1000, Currency::Usd), vec![]));
        assert!(body["purchase_units"][0].get("items").is_none());
        assert_eq!(body["purchase_units"][0]["amount"]["value"], "10.00");
    }

    #[test]
    fn order_capture_refund_and_event_bodies_parse() {
        let order: Order = serde_json::from_str(
            r#"{"id":"5O190127TN364715T","status":"COMPLETED","intent":"CAPTURE",
            "purchase_units":[{"reference_id":"default","invoice_id":"ORD-000001-A1",
              "amount":{"currency_code":"USD","value":"36.00"},
              "payments":{"captures":[{"id":"3C679366HH908993F","status":"COMPLETED",
                "amount":{"currency_code":"USD","value":"36.00"},"final_capture":true,
                "invoice_id":"ORD-000001-A1"}]}}],
            "links":[{"href":"https://api-m.paypal.com/v2/checkout/orders/5O190127TN364715T","rel":"self","method":"GET"}],
            "payer":{"name":{"given_name":"John"}}}"#,
        )
        .unwrap();
        let capture = &order.purchase_units[0].payments.as_ref().unwrap().captures[0];
        assert_eq!(capture.id, "3C679366HH908993F");
        assert_eq!(
            capture.amount.as_ref().unwrap().to_money(),
            Some(Money::new(3600, Currency::Usd))
        );
        let event: Event = serde_json::from_str(
            r#"{"id":"WH-58D329510W468432D-8HN650336L201105X","event_version":"1.0",
            "event_type":"PAYMENT.CAPTURE.COMPLETED","resource_type":"capture",
            "resource":{"id":"3C679366HH908993F","status":"COMPLETED","invoice_id":"ORD-000001-A1",
              "amount":{"currency_code":"JPY","value":"1500"},
              "supplementary_data":{"related_ids":{"order_id":"5O190127TN364715T"}}}}"#,
        )
        .unwrap();
        let capture: Capture = serde_json::from_value(event.resource).unwrap();
        assert_eq!(capture.order_id(), Some("5O190127TN364715T"));
        assert_eq!(
            capture.amount.unwrap().to_money(),
            Some(Money::new(1500, Currency::Jpy))
        );
        let refund: Refund = serde_json::from_str(
            r#"{"id":"1JU08902781691411","status":"COMPLETED","custom_id":"rf-key",
            "amount":{"currency_code":"EUR","value":"5.00"},"invoice_id":"ORD-000001-A1",
            "links":[{"href":"https://api-m.paypal.com/v2/payments/refunds/1JU08902781691411","rel":"self"},
                     {"href":"https://api-m.paypal.com/v2/payments/captures/3C679366HH908993F","rel":"up"}]}"#,
        )
        .unwrap();
        assert_eq!(refund.capture_id().as_deref(), Some("3C679366HH908993F"));
        assert_eq!(refund.custom_id.as_deref(), Some("rf-key"));
        let error: ApiError = serde_json::from_str(
            r#"{"name":"UNPROCESSABLE_ENTITY","message":"The requested action could not be performed.",
            "debug_id":"90957fca61718","details":[{"issue":"INSTRUMENT_DECLINED","description":"The instrument presented was declined."}]}"#,
        )
        .unwrap();
        assert_eq!(error.issues(), vec!["INSTRUMENT_DECLINED"]);
    }

    #[test]
    fn each_refund_has_an_invoice_id_of_its_own_that_names_its_attempt() {
        let long_key = "k".repeat(100);
        let first = refund_body(
            Money::new(1000, Currency::Usd),
            "ORD-000007-A1-K7QX2M",
            &long_key,
            "",
        );
        let second = refund_body(
            Money::new(2600, Currency::Usd),
            "ORD-000007-A1-K7QX2M",
            "another-key",
            "",
        );
        assert_eq!(first["custom_id"], long_key.as_str());
        assert_ne!(first["invoice_id"], second["invoice_id"]);
        let invoice = first["invoice_id"].as_str().unwrap();
        assert!(invoice.len() <= 127, "{invoice}");
        assert_eq!(attempt_of_invoice(invoice), Some("ORD-000007-A1-K7QX2M"));
        // A retry of the same refund sends the same body.
        assert_eq!(
            first,
            refund_body(
                Money::new(1000, Currency::Usd),
                "ORD-000007-A1-K7QX2M",
                &long_key,
                ""
            )
        );
        // An order's invoice_id is the attempt itself.
        assert_eq!(attempt_of_invoice("ORD-000007-A1"), Some("ORD-000007-A1"));
        assert_eq!(attempt_of_invoice(""), None);
    }

    #[test]
    fn path_segments_are_plain_ids() {
        assert_eq!(path_segment("5O190127TN364715T"), Some("5O190127TN364715T"));
        assert_eq!(path_segment("../v1/x"), None);
        assert_eq!(path_segment(""), None);
    }
}
