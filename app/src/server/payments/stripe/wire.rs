//! Stripe's wire types and the form encoding of a Checkout Session (bracket nesting, indexed arrays).

use super::super::StartRequest;
use serde::{Deserialize, Serialize};

/// The fields of a `checkout.session` the shop reads (unknown fields are ignored).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Session {
    pub id: String,
    #[serde(default)]
    pub object: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub payment_status: Option<String>,
    #[serde(default)]
    pub amount_total: Option<i64>,
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    pub client_reference_id: Option<String>,
    /// The payment intent, once the session is complete (what refunds name).
    #[serde(default)]
    pub payment_intent: Option<String>,
}

/// The fields of a `refund` the shop reads.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Refund {
    pub id: String,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub amount: i64,
    #[serde(default)]
    pub currency: String,
    #[serde(default)]
    pub payment_intent: Option<String>,
    #[serde(default)]
    pub failure_reason: Option<String>,
    #[serde(default)]
    pub metadata: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
pub struct Event {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub data: EventData,
}

#[derive(Debug, Deserialize)]
pub struct EventData {
    /// A session, a refund or a charge: read by its `object` field.
    pub object: serde_json::Value,
}

/// The form body of `POST /v1/refunds`: the shop's attempt and key travel in the metadata, so
/// the refund's webhooks name them.
pub fn create_refund_form(
    payment_intent: &str,
    amount_minor: i64,
    attempt_reference: &str,
    refund_key: &str,
    reason: &str,
) -> String {
    let reason: String = reason.chars().take(500).collect();
    let fields: Vec<(&str, String)> = vec![
        ("payment_intent", payment_intent.to_string()),
        ("amount", amount_minor.to_string()),
        ("metadata[attempt]", attempt_reference.to_string()),
        ("metadata[refund_key]", refund_key.to_string()),
        ("metadata[reason]", reason),
    ];
    serde_urlencoded::to_string(&fields).expect("string pairs always encode")
}

#[derive(Debug, Deserialize)]
pub struct ApiError {
    pub error: ApiErrorBody,
}

#[derive(Debug, Deserialize)]
pub struct ApiErrorBody {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub message: Option<String>,
}

/// The form body of `POST /v1/checkout/sessions` for one attempt.
pub fn create_session_form(request: &StartRequest) -> String {
    let order = &request.order_reference;
    let mut fields: Vec<(String, String)> = vec![
        ("mode".into(), "payment".into()),
        (
            "client_reference_id".into(),
            request.attempt_reference.clone(),
        ),
        ("customer_email".into(), request.customer.email.clone()),
        (
            "success_url".into(),
            format!(
                "{}?session_id={{CHECKOUT_SESSION_ID}}",
                request.urls.return_url
            ),
        ),
        ("cancel_url".into(), request.urls.cancel_url.clone()),
        ("expires_at".into(), expires_at(request).to_string()),
        ("metadata[order]".into(), order.clone()),
        ("payment_intent_data[metadata][order]".into(), order.clone()),
    ];
    let currency = request.total.currency.code().to_ascii_lowercase();
    for (i, line) in request.lines.iter().enumerate() {
        let item = |field: &str| format!("line_items[{i}]{field}");
        fields.push((item("[price_data][currency]"), currency.clone()));
        fields.push((
            item("[price_data][unit_amount]"),
            line.unit.minor.to_string(),
        ));
        fields.push((item("[price_data][product_data][name]"), line.name.clone()));
        fields.push((item("[quantity]"), line.quantity.to_string()));
    }
    serde_urlencoded::to_string(&fields).expect("string pairs always encode")
}

/// The session's `expires_at`: the order's hold, within what Stripe takes (30 minutes to 24 hours
/// after the session is made; a shorter hold is closed by the shop itself). Counted from the
/// attempt's creation, never from now: a retry of the same attempt sends byte-identical parameters
/// under the same `Idempotency-Key`, or Stripe answers `idempotency_error`.
pub fn expires_at(request: &StartRequest) -> i64 {
    let made = request.attempt_created;
    request
        .hold_until
        .max(made + 30 * 60 + 60)
        .min(made + 24 * 60 * 60)
}

/// An id placed in a URL path; Stripe ids are `[A-Za-z0-9_]`, anything else is dropped.
pub fn path_segment(id: &str) -> String {
    id.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Currency, Money};
    use crate::server::payments::{Customer, QuoteLine};

    #[test]
    fn encodes_lines_with_bracket_nesting_in_minor_units() {
        let request = StartRequest {
            order_reference: "ORD-000007".into(),
            attempt_reference: "ORD-000007-A1".into(),
            total: Money::new(3000, Currency::Jpy),
            lines: vec![QuoteLine {
                name: "Tea & cups".into(),
                quantity: 2,
                unit: Money::new(1500, Currency::Jpy),
            }],
            customer: Customer {
                email: "a@b.co".into(),
                name: "A".into(),
                address: "x".into(),
                city: "y".into(),
                postcode: "1".into(),
                country: "JP".into(),
                phone: String::new(),
            },
            urls: crate::server::payments::ShopUrls::new(
                "http://shop.test",
                crate::model::ProviderId::Stripe,
                "ORD-000007",
            ),
            hold_until: crate::server::payments::now_secs() + 3600,
            attempt_created: crate::server::payments::now_secs(),
        };
        let form = create_session_form(&request);
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(&form).unwrap();
        let get = |k: &str| {
            pairs
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("line_items[0][price_data][currency]"), Some("jpy"));
        assert_eq!(get("line_items[0][price_data][unit_amount]"), Some("1500"));
        assert_eq!(
            get("line_items[0][price_data][product_data][name]"),
            Some("Tea & cups")
        );
        assert_eq!(get("line_items[0][quantity]"), Some("2"));
        assert_eq!(get("client_reference_id"), Some("ORD-000007-A1"));
        assert_eq!(
            get("expires_at"),
            Some(request.hold_until.to_string().as_str())
        );
        assert_eq!(
            get("success_url"),
            Some("http://shop.test/payments/stripe/return/ORD-000007?session_id={CHECKOUT_SESSION_ID}")
        );
    }

    #[test]
    fn expires_at_depends_on_the_attempt_not_on_when_it_is_sent() {
        let made = 1_700_000_000;
        let request = |hold_until: i64| StartRequest {
            order_reference: "ORD-000007".into(),
            attempt_reference: "ORD-000007-A1".into(),
            total: Money::new(1800, Currency::Usd),
            lines: vec![],
            customer: Customer {
                email: "a@b.co".into(),
                name: "A".into(),
                address: "x".into(),
                city: "y".into(),
                postcode: "1".into(),
                country: "US".into(),
                phone: String::new(),
            },
            urls: crate::server::payments::ShopUrls::new(
                "http://shop.test",
                crate::model::ProviderId::Stripe,
                "ORD-000007",
            ),
            hold_until,
            attempt_created: made,
        };
        // A 5-minute hold (long past now): Stripe's floor after the attempt, whenever it is sent.
        assert_eq!(expires_at(&request(made + 300)), made + 31 * 60);
        assert_eq!(expires_at(&request(made + 3600)), made + 3600);
        assert_eq!(expires_at(&request(made + 90_000)), made + 86_400);
        let form = create_session_form(&request(made + 300));
        assert_eq!(form, create_session_form(&request(made + 300)));
        assert!(
            form.contains(&format!("expires_at={}", made + 31 * 60)),
            "{form}"
        );
    }

    #[test]
    fn path_segments_cannot_escape() {
        assert_eq!(path_segment("cs_test_abc/../x"), "cs_test_abcx");
    }
}
