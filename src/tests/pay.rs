//! Helpers for the payment tests: checking out through the form, acting on the sandboxes' hosted
//! pages like a shopper, and reading what the shop recorded.

use crate::helpers::{Browser, Page, TestApp};
use app::server::config::payments::sandbox_keys;
use app::server::payments::sslcommerz::verify_sign;
use app::server::payments::stripe::signature;
use regex_lite::Regex;
use reqwest::header::{LOCATION, REFERER};
use reqwest::StatusCode;
use sqlx::Row as _;
use std::collections::BTreeMap;
use std::time::Duration;

/// The checkout form's fields for a shopper in Dhaka.
pub fn address() -> Vec<(&'static str, &'static str)> {
    vec![
        ("email", "shopper@example.com"),
        ("name", "Rahim Uddin"),
        ("address", "House 12, Road 5"),
        ("city", "Dhaka"),
        ("postcode", "1207"),
        ("country", "Bangladesh"),
        ("phone", "+880 1700 000000"),
    ]
}

/// Open a Checkout Session in the shop's Stripe sandbox directly (as an SDK would), one line of
/// "Canvas Tote Bag" at $18.00, with these fields added (e.g. `success_url`).
pub async fn stripe_sandbox_session(base: &str, extra: &[(&str, &str)]) -> reqwest::Response {
    let mut form = vec![
        ("mode", "payment"),
        ("line_items[0][price_data][currency]", "usd"),
        ("line_items[0][price_data][unit_amount]", "1800"),
        (
            "line_items[0][price_data][product_data][name]",
            "Canvas Tote Bag",
        ),
        ("line_items[0][quantity]", "1"),
    ];
    form.extend_from_slice(extra);
    reqwest::Client::new()
        .post(format!("{base}/sandbox/stripe/v1/checkout/sessions"))
        .bearer_auth("sk_test_any_key")
        .form(&form)
        .send()
        .await
        .unwrap()
}

/// A complete SSLCOMMERZ session request as its SDKs send it, with `ipn_url` as given.
pub fn sslcommerz_session_fields(ipn_url: &str) -> Vec<(&'static str, String)> {
    let mut fields: Vec<(&'static str, String)> = [
        ("store_id", "testbox"),
        ("store_passwd", "qwerty"),
        ("total_amount", "150.00"),
        ("currency", "BDT"),
        ("tran_id", "SDK-1"),
        ("success_url", "http://shop.example.test/s"),
        ("fail_url", "http://shop.example.test/f"),
        ("cancel_url", "http://shop.example.test/c"),
        ("cus_name", "A"),
        ("cus_email", "a@b.co"),
        ("cus_add1", "x"),
        ("cus_city", "Dhaka"),
        ("cus_postcode", "1000"),
        ("cus_country", "Bangladesh"),
        ("cus_phone", "017"),
        ("shipping_method", "NO"),
        ("product_name", "Mug"),
        ("product_category", "general"),
        ("product_profile", "general"),
        ("multi_card_name", ""),
        ("value_a", ""),
    ]
    .into_iter()
    .map(|(k, v)| (k, v.to_string()))
    .collect();
    fields.push(("ipn_url", ipn_url.to_string()));
    fields
}

impl Browser {
    /// The hidden idempotency key of the checkout form.
    pub async fn checkout_key(&self) -> String {
        let page = self.get("/checkout").await;
        page.capture(r#"name="checkout_key" value="([^"]+)""#)
            .unwrap_or_else(|| panic!("no checkout form: {}", page.html))
    }

    /// Press Pay with `provider` and a given key; the raw response.
    pub async fn pay_with_key(&self, provider: &str, key: &str) -> reqwest::Response {
        let mut fields = address();
        fields.push(("provider", provider));
        fields.push(("checkout_key", key));
        self.post_form("/checkout", "/api/place_order", &fields)
            .await
    }

    /// Press Pay and return where the shop sends the browser (the provider's page).
    pub async fn pay(&self, provider: &str) -> String {
        let key = self.checkout_key().await;
        let response = self.pay_with_key(provider, &key).await;
        assert!(
            response.status().is_redirection(),
            "Pay: {}",
            response.status()
        );
        let location = response.headers()[LOCATION].to_str().unwrap().to_string();
        assert!(!location.contains("__err"), "Pay was refused: {location}");
        location
    }

    /// On the Stripe sandbox page, press `action` (Pay, Decline, Cancel) with a webhook test
    /// control; returns where the sandbox sends the browser back to.
    pub async fn on_stripe_page(&self, page_url: &str, action: &str, webhook: &str) -> String {
        let path = self.local(page_url);
        let page = self.get(&path).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.html);
        assert!(page.contains(">Pay<") && page.contains(">Decline<") && page.contains(">Cancel<"));
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .header(REFERER, format!("{}{path}", self.base))
            .form(&[("action", action), ("webhook", webhook)])
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_redirection(),
            "sandbox: {}",
            response.status()
        );
        response.headers()[LOCATION].to_str().unwrap().to_string()
    }

    /// On the Stripe sandbox page press Pay with a webhook and a refunds test control (`succeed`,
    /// `fail`, `refuse`); returns where the sandbox sends the browser back to.
    pub async fn pay_on_stripe_page(&self, page_url: &str, webhook: &str, refunds: &str) -> String {
        let path = self.local(page_url);
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .header(REFERER, format!("{}{path}", self.base))
            .form(&[
                ("action", "pay"),
                ("webhook", webhook),
                ("refunds", refunds),
            ])
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_redirection(),
            "sandbox: {}",
            response.status()
        );
        response.headers()[LOCATION].to_str().unwrap().to_string()
    }

    /// Follow redirects (from a provider return) until a page.
    pub async fn follow(&self, url: &str) -> Page {
        let mut path = self.local(url);
        for _ in 0..5 {
            let response = self
                .client
                .get(format!("{}{path}", self.base))
                .send()
                .await
                .unwrap();
            if !response.status().is_redirection() {
                let status = response.status();
                return Page {
                    status,
                    html: response.text().await.unwrap(),
                };
            }
            path = self.local(response.headers()[LOCATION].to_str().unwrap());
        }
        panic!("redirect loop from {url}");
    }

    /// On the SSLCOMMERZ sandbox page press `action`; returns the auto-submitted return form
    /// (its action URL and fields), which the caller may post back to the shop or not.
    pub async fn on_sslcommerz_page(
        &self,
        page_url: &str,
        action: &str,
        webhook: &str,
    ) -> (String, Vec<(String, String)>) {
        let path = self.local(page_url);
        let page = self.get(&path).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.html);
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .form(&[("action", action), ("webhook", webhook)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let html = response.text().await.unwrap();
        let form_action = Regex::new(r#"<form id="back" method="post" action="([^"]+)""#)
            .unwrap()
            .captures(&html)
            .map(|c| c[1].replace("&amp;", "&"))
            .expect("auto-submit form");
        let fields = Regex::new(r#"<input type="hidden" name="([^"]+)" value="([^"]*)">"#)
            .unwrap()
            .captures_iter(&html)
            .map(|c| (c[1].to_string(), c[2].replace("&amp;", "&")))
            .collect();
        (form_action, fields)
    }

    /// Post the sandbox's return form to the shop (as the shopper's browser does) and follow.
    pub async fn return_from_sslcommerz(&self, action: &str, fields: &[(String, String)]) -> Page {
        let path = self.local(action);
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .header("sec-fetch-site", "cross-site")
            .header("origin", "https://sandbox.sslcommerz.com")
            .form(fields)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_redirection(),
            "return: {}",
            response.status()
        );
        let location = response.headers()[LOCATION].to_str().unwrap().to_string();
        self.follow(&location).await
    }
}

impl Page {
    /// The status shown on the order page.
    pub fn order_status(&self) -> Option<String> {
        self.capture(r#"data-testid="order-status"[^>]*>([^<]+)<"#)
    }

    /// Whether the checkout offers `provider` (its radio under Payment method).
    pub fn offers(&self, provider: &str) -> bool {
        self.contains(&format!(r#"id="provider-{provider}""#))
    }
}

/// The reference in an order page URL.
pub fn reference_in(url: &str) -> String {
    Regex::new(r"(ORD-\d+)")
        .unwrap()
        .captures(url)
        .map(|c| c[1].to_string())
        .expect("order reference")
}

/// The latest attempt of an order in this database: its reference and the provider's session id
/// (for a shop that runs in another process, e.g. the real binary).
pub async fn attempt_in(db: &sqlx::AnyPool, reference: &str) -> (String, String) {
    let row = sqlx::query(
        "SELECT a.reference, a.provider_session_id FROM payment_attempts a \
         JOIN orders o ON o.id = a.order_id WHERE o.reference = $1 ORDER BY a.id DESC LIMIT 1",
    )
    .bind(reference)
    .fetch_one(db)
    .await
    .unwrap();
    (
        row.try_get(0).unwrap(),
        row.try_get::<Option<String>, _>(1)
            .unwrap()
            .unwrap_or_default(),
    )
}

impl TestApp {
    pub async fn scalar(&self, sql: &str, reference: &str) -> i64 {
        sqlx::query(sql)
            .bind(reference)
            .fetch_one(&self.state.db.pool)
            .await
            .expect(sql)
            .try_get(0)
            .unwrap()
    }

    pub async fn status_of(&self, reference: &str) -> String {
        sqlx::query("SELECT status FROM orders WHERE reference = $1")
            .bind(reference)
            .fetch_one(&self.state.db.pool)
            .await
            .unwrap()
            .try_get("status")
            .unwrap()
    }

    /// Wait until the order has `status` (webhooks arrive in the background); fail after 10 s.
    pub async fn wait_for(&self, reference: &str, status: &str) {
        for _ in 0..200 {
            if self.status_of(reference).await == status {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "{reference} never became {status}; it is {}",
            self.status_of(reference).await
        );
    }

    pub async fn ledger_rows(&self, reference: &str) -> i64 {
        self.scalar(
            "SELECT COUNT(*) FROM payment_events e JOIN orders o ON o.id = e.order_id WHERE o.reference = $1",
            reference,
        )
        .await
    }

    /// Ledger rows that moved the order.
    pub async fn transitions(&self, reference: &str) -> i64 {
        self.scalar(
            "SELECT COUNT(*) FROM payment_events e JOIN orders o ON o.id = e.order_id \
             WHERE o.reference = $1 AND e.outcome LIKE 'applied%'",
            reference,
        )
        .await
    }

    /// What became of each webhook received, oldest first.
    pub async fn inbox_outcomes(&self) -> Vec<String> {
        sqlx::query("SELECT outcome FROM webhook_inbox ORDER BY id")
            .fetch_all(&self.state.db.pool)
            .await
            .unwrap()
            .iter()
            .map(|r| {
                r.try_get::<Option<String>, _>(0)
                    .unwrap()
                    .unwrap_or_default()
            })
            .collect()
    }

    /// The reference of the newest order.
    pub async fn latest_order(&self) -> String {
        sqlx::query("SELECT reference FROM orders ORDER BY id DESC LIMIT 1")
            .fetch_one(&self.state.db.pool)
            .await
            .unwrap()
            .try_get(0)
            .unwrap()
    }

    /// The shop's refunds of an order: amount and status, oldest first.
    pub async fn refund_rows(&self, reference: &str) -> Vec<(i64, String)> {
        sqlx::query(
            "SELECT r.amount_minor, r.status FROM refunds r JOIN orders o ON o.id = r.order_id \
             WHERE o.reference = $1 ORDER BY r.id",
        )
        .bind(reference)
        .fetch_all(&self.state.db.pool)
        .await
        .unwrap()
        .iter()
        .map(|r| (r.try_get(0).unwrap(), r.try_get(1).unwrap()))
        .collect()
    }

    pub async fn order_count(&self) -> i64 {
        sqlx::query("SELECT COUNT(*) FROM orders")
            .fetch_one(&self.state.db.pool)
            .await
            .unwrap()
            .try_get(0)
            .unwrap()
    }

    pub async fn stock_of(&self, product_id: i64) -> i64 {
        sqlx::query("SELECT stock FROM products WHERE id = $1")
            .bind(product_id)
            .fetch_one(&self.state.db.pool)
            .await
            .unwrap()
            .try_get(0)
            .unwrap()
    }

    /// The latest attempt of an order: (reference, provider session id).
    pub async fn attempt_of(&self, reference: &str) -> (String, String) {
        attempt_in(&self.state.db.pool, reference).await
    }

    /// Post a Stripe event to the shop, signed like Stripe with the sandbox's webhook secret.
    pub async fn stripe_event(&self, event: &serde_json::Value) -> StatusCode {
        let body = event.to_string();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let header = signature::sign(body.as_bytes(), sandbox_keys::STRIPE_WEBHOOK_SECRET, now);
        self.post_webhook(
            "stripe",
            "application/json",
            &[("stripe-signature", header)],
            body.into_bytes(),
        )
        .await
    }

    pub async fn post_webhook(
        &self,
        provider: &str,
        content_type: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> StatusCode {
        let mut request = reqwest::Client::new()
            .post(format!("{}/webhooks/{provider}", self.base))
            .header("content-type", content_type)
            .body(body);
        for (k, v) in headers {
            request = request.header(*k, v);
        }
        request.send().await.unwrap().status()
    }

    /// Post an SSLCOMMERZ IPN with these fields, signed with the sandbox store password.
    pub async fn sslcommerz_ipn(&self, fields: &[(&str, &str)]) -> StatusCode {
        let mut map: BTreeMap<String, String> = fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let verify_key = map.keys().cloned().collect::<Vec<_>>().join(",");
        let sign =
            verify_sign::sign(&map, &verify_key, sandbox_keys::SSLCOMMERZ_STORE_PASSWORD).unwrap();
        map.insert("verify_sign".into(), sign);
        map.insert("verify_key".into(), verify_key);
        let body = serde_urlencoded::to_string(&map).unwrap();
        self.post_webhook(
            "sslcommerz",
            "application/x-www-form-urlencoded",
            &[],
            body.into_bytes(),
        )
        .await
    }
}

/// A `checkout.session` event for an attempt, as Stripe would send it.
pub fn stripe_event(
    kind: &str,
    attempt: &str,
    session_id: &str,
    payment_status: &str,
    amount: i64,
    currency: &str,
) -> serde_json::Value {
    serde_json::json!({
        "id": format!("evt_test_{}", uuid::Uuid::new_v4().simple()),
        "object": "event",
        "api_version": "2026-10-28.endive",
        "created": 1_700_000_000,
        "livemode": false,
        "type": kind,
        "data": {"object": {
            "id": session_id,
            "object": "checkout.session",
            "client_reference_id": attempt,
            "status": "complete",
            "payment_status": payment_status,
            "amount_total": amount,
            "currency": currency,
        }},
    })
}
