//! PayPal (Orders v2) through its built-in sandbox: pay, decline and cancel on the approval page;
//! the capture made exactly once when the return and the `CHECKOUT.ORDER.APPROVED` webhook race;
//! webhooks verified through verify-webhook-signature (genuine, five at once, tampered, forged,
//! replayed, with another amount); the access token cached and renewed once on a 401; an outage;
//! a refund from the admin page. Product 1 (Canvas Tote) is $18.00, stock 40.

use crate::helpers::{both_backends, spawn_app_with, Backend, Browser, TestApp};
use crate::pay::reference_in;
use reqwest::header::LOCATION;
use reqwest::StatusCode;
use serde_json::json;
use sqlx::Row as _;
use std::time::Duration;
use storefront::sandboxes::paypal as sandbox;

impl Browser {
    /// On the PayPal approval page press `action` (`pay`, `decline`, `cancel`) with webhook and
    /// refund test controls; returns where the sandbox sends the browser.
    async fn on_paypal_page(
        &self,
        page_url: &str,
        action: &str,
        webhook: &str,
        refunds: &str,
    ) -> String {
        use crate::conformance::{Driver, Press};
        let press = Press {
            action,
            webhook,
            refunds,
        };
        let page = page_url.to_string();
        crate::conformance::Paypal
            .press(self, &page, press)
            .await
            .redirect()
    }

    /// Add `quantity` tote bags, press Pay with PayPal; the approval page's URL.
    async fn start_paypal(&self, quantity: i64) -> String {
        self.add_to_cart(1, quantity).await;
        let checkout = self.get("/checkout").await;
        assert!(checkout.offers("paypal"), "USD offers PayPal");
        let page = self.pay("paypal").await;
        assert!(
            page.contains("/sandbox/paypal/checkoutnow?token="),
            "{page}"
        );
        page
    }
}

impl TestApp {
    async fn sandbox_count(&self, sql: &str, like: &str) -> i64 {
        sqlx::query(sql)
            .bind(like)
            .fetch_one(&self.sandbox().db.pool)
            .await
            .unwrap()
            .try_get(0)
            .unwrap()
    }

    async fn count(&self, sql: &str, like: &str) -> i64 {
        sqlx::query(sql)
            .bind(like)
            .fetch_one(&self.state.db.pool)
            .await
            .unwrap()
            .try_get(0)
            .unwrap()
    }

    /// Capture calls the sandbox received for a PayPal order.
    async fn capture_calls(&self, order_id: &str) -> i64 {
        self.sandbox_count(
            "SELECT COUNT(*) FROM sandbox_objects WHERE id LIKE 'pp-capture-call:%' AND data LIKE $1",
            &format!("%{order_id}%"),
        )
        .await
    }

    /// The refunds the PayPal sandbox made, as its API shows them.
    async fn paypal_sandbox_refunds(&self) -> Vec<serde_json::Value> {
        sqlx::query("SELECT data FROM sandbox_objects WHERE id LIKE 'pp-refund:%'")
            .fetch_all(&self.sandbox().db.pool)
            .await
            .unwrap()
            .iter()
            .map(|r| serde_json::from_str(&r.try_get::<String, _>(0).unwrap()).unwrap())
            .collect()
    }

    /// An access token from the sandbox, as a PayPal client gets one.
    async fn paypal_token(&self) -> String {
        let token: serde_json::Value = reqwest::Client::new()
            .post(format!("{}/sandbox/paypal/v1/oauth2/token", self.base))
            .basic_auth("any-id", Some("any-secret"))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        token["access_token"].as_str().unwrap().to_string()
    }

    /// Access tokens the sandbox issued.
    async fn paypal_tokens(&self) -> i64 {
        self.sandbox_count(
            "SELECT COUNT(*) FROM sandbox_objects WHERE id LIKE $1",
            "pp-token:%",
        )
        .await
    }

    /// Post a webhook with these headers and body to the shop.
    async fn paypal_post(&self, headers: &[(&'static str, String)], body: &[u8]) -> StatusCode {
        self.post_webhook("paypal", "application/json", headers, body.to_vec())
            .await
    }

    /// A genuine event: recorded as a transmission at the sandbox (as PayPal would have sent it),
    /// then delivered. Returns the status and the headers (for replays and tampering).
    async fn paypal_event(
        &self,
        event: &serde_json::Value,
    ) -> (StatusCode, Vec<(&'static str, String)>, Vec<u8>) {
        let body = event.to_string().into_bytes();
        let headers = sandbox::transmit(self.sandbox(), &body)
            .await
            .unwrap()
            .headers();
        (self.paypal_post(&headers, &body).await, headers, body)
    }
}

/// A `PAYMENT.CAPTURE.COMPLETED` event for an attempt's PayPal order.
fn capture_event(attempt: &str, order_id: &str, value: &str, currency: &str) -> serde_json::Value {
    json!({
        "id": format!("WH-TEST-{}", uuid::Uuid::new_v4().simple()),
        "event_version": "1.0",
        "create_time": "2026-12-01T10:00:00Z",
        "resource_type": "capture",
        "resource_version": "2.0",
        "event_type": "PAYMENT.CAPTURE.COMPLETED",
        "summary": "Payment completed",
        "resource": {
            "id": format!("CAP{}", &uuid::Uuid::new_v4().simple().to_string()[..14]).to_uppercase(),
            "status": "COMPLETED",
            "amount": {"currency_code": currency, "value": value},
            "final_capture": true,
            "invoice_id": attempt,
            "supplementary_data": {"related_ids": {"order_id": order_id}},
        },
    })
}

both_backends! {
    async fn paypal_pay_and_return_captures_once_and_marks_the_order_paid(app) {
        let shopper = app.browser();
        let page = shopper.start_paypal(2).await;
        assert_eq!(app.stock_of(1).await, 38, "stock is reserved when the attempt starts");
        let back = shopper.on_paypal_page(&page, "pay", "never", "succeed").await;
        assert!(back.contains("/payments/paypal/return/ORD-") && back.contains("token=") && back.contains("PayerID="), "{back}");
        let reference = reference_in(&back);
        assert_eq!(app.status_of(&reference).await, "awaiting_payment", "approving alone changes nothing");
        let (_, order_id) = app.attempt_of(&reference).await;
        assert_eq!(app.capture_calls(&order_id).await, 0);
        // No webhook (test control): the return captures.
        let shown = shopper.follow(&back).await;
        assert_eq!(shown.order_status().as_deref(), Some("Paid"), "{}", shown.html);
        assert!(shown.contains("$36.00"));
        assert_eq!(app.capture_calls(&order_id).await, 1);
        assert_eq!(app.transitions(&reference).await, 1);
        // Create, get and capture shared one access token.
        assert_eq!(app.paypal_tokens().await, 1, "the token is cached");
        // Coming back again captures nothing more.
        shopper.follow(&back).await;
        assert_eq!(app.capture_calls(&order_id).await, 1);
    }

    async fn the_approved_webhook_alone_captures_and_pays(app) {
        let shopper = app.browser();
        let page = shopper.start_paypal(1).await;
        let back = shopper.on_paypal_page(&page, "pay", "normal", "succeed").await;
        let reference = reference_in(&back);
        // The browser never comes back: CHECKOUT.ORDER.APPROVED makes the shop capture.
        app.wait_for(&reference, "paid").await;
        let (_, order_id) = app.attempt_of(&reference).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(app.capture_calls(&order_id).await, 1);
        assert_eq!(app.transitions(&reference).await, 1);
    }

    async fn the_return_and_the_approved_webhook_racing_capture_once(app) {
        let shopper = app.browser();
        let page = shopper.start_paypal(1).await;
        // CHECKOUT.ORDER.APPROVED five times at once, and the shopper's return at the same time.
        let back = shopper.on_paypal_page(&page, "pay", "duplicated", "succeed").await;
        let reference = reference_in(&back);
        let returns = (0..3).map(|_| shopper.follow(&back));
        futures_util::future::join_all(returns).await;
        app.wait_for(&reference, "paid").await;
        tokio::time::sleep(Duration::from_millis(800)).await;
        let (_, order_id) = app.attempt_of(&reference).await;
        assert_eq!(app.capture_calls(&order_id).await, 1, "exactly one capture call at PayPal");
        assert_eq!(app.transitions(&reference).await, 1);
        assert_eq!(app.status_of(&reference).await, "paid");
    }

    async fn paypal_decline_fails_the_order_and_cancel_changes_nothing_until_asked(app) {
        let shopper = app.browser();
        let page = shopper.start_paypal(3).await;
        let back = shopper.on_paypal_page(&page, "decline", "normal", "succeed").await;
        let reference = reference_in(&back);
        let shown = shopper.follow(&back).await;
        app.wait_for(&reference, "failed").await;
        assert!(matches!(shown.order_status().as_deref(), Some("Failed") | Some("Awaiting payment")));
        assert_eq!(app.stock_of(1).await, 40, "stock released on failure");
        let (_, order_id) = app.attempt_of(&reference).await;
        assert_eq!(app.capture_calls(&order_id).await, 1, "the declined capture was the only one");

        let page = shopper.start_paypal(1).await;
        let back = shopper.on_paypal_page(&page, "cancel", "normal", "succeed").await;
        assert!(back.contains("/payments/paypal/cancel/ORD-") && back.contains("token="), "{back}");
        let cancelled = reference_in(&back);
        let shown = shopper.follow(&back).await;
        assert_eq!(shown.order_status().as_deref(), Some("Awaiting payment"), "{}", shown.html);
        let action = format!("/payments/paypal/cancel/{cancelled}");
        let shown = shopper.submit(&format!("/orders/{cancelled}"), &action, &[("key", "")]).await;
        assert_eq!(shown.order_status().as_deref(), Some("Cancelled"), "{}", shown.html);
        assert_eq!(app.stock_of(1).await, 40);
        let (_, order_id) = app.attempt_of(&cancelled).await;
        assert_eq!(app.capture_calls(&order_id).await, 0, "an abandoned order is never captured");
    }

    async fn paypal_takes_eur_and_jpy_but_is_not_offered_for_bdt_or_cny(app) {
        for currency in ["EUR", "JPY"] {
            let shopper = app.browser();
            shopper.set_currency(currency).await;
            let page = shopper.start_paypal(1).await;
            let back = shopper.on_paypal_page(&page, "pay", "never", "succeed").await;
            let reference = reference_in(&back);
            let shown = shopper.follow(&back).await;
            assert_eq!(shown.order_status().as_deref(), Some("Paid"), "{currency}: {}", shown.html);
            let (_, order_id) = app.attempt_of(&reference).await;
            let stored: String = sqlx::query("SELECT data FROM sandbox_objects WHERE id = $1")
                .bind(format!("pp-order:{order_id}"))
                .fetch_one(&app.sandbox().db.pool)
                .await
                .unwrap()
                .try_get(0)
                .unwrap();
            let order: serde_json::Value = serde_json::from_str(&stored).unwrap();
            let value = order["purchase_units"][0]["amount"]["value"].as_str().unwrap().to_string();
            assert_eq!(order["purchase_units"][0]["amount"]["currency_code"], currency);
            if currency == "JPY" {
                assert!(!value.contains('.'), "JPY without decimals: {value}");
            } else {
                assert!(value.split_once('.').is_some_and(|(_, f)| f.len() == 2), "{value}");
            }
        }
        for currency in ["BDT", "CNY"] {
            let shopper = app.browser();
            shopper.set_currency(currency).await;
            shopper.add_to_cart(1, 1).await;
            let checkout = shopper.get("/checkout").await;
            assert!(!checkout.offers("paypal"), "{currency}: PayPal is not offered");
        }
    }

    async fn a_paypal_refund_can_fail_after_it_was_accepted_or_be_refused(app) {
        let shopper = app.browser();
        let page = shopper.start_paypal(1).await;
        let reference = reference_in(&shopper.on_paypal_page(&page, "pay", "normal", "fail").await);
        app.wait_for(&reference, "paid").await;
        let merchant = app.merchant().await;
        let (status, said) = merchant.refund_with_new_key(&reference, "18.00").await;
        assert!(status.is_success() && said.contains("pending at PayPal"), "{status} {said}");
        // PAYMENT.REFUND.FAILED arrives: the order stays paid and the amount is free again.
        for _ in 0..100 {
            if app.count("SELECT COUNT(*) FROM refunds WHERE status = $1", "failed").await == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(app.count("SELECT COUNT(*) FROM refunds WHERE status = $1", "failed").await, 1);
        assert_eq!(app.status_of(&reference).await, "paid");

        let page = shopper.start_paypal(1).await;
        let disputed = reference_in(&shopper.on_paypal_page(&page, "pay", "normal", "refuse").await);
        app.wait_for(&disputed, "paid").await;
        let (status, said) = merchant.refund_with_new_key(&disputed, "18.00").await;
        assert!(!status.is_success(), "{status} {said}");
        assert_eq!(app.status_of(&disputed).await, "paid");
    }

    async fn the_reconciler_captures_an_approved_order_nobody_came_back_for(app) {
        let shopper = app.browser();
        let page = shopper.start_paypal(1).await;
        // Approved, but no webhook and the shopper never comes back.
        let reference = reference_in(&shopper.on_paypal_page(&page, "pay", "never", "succeed").await);
        let reconcile = || app::server::services::reconciler::run_once(&app.state);
        assert_eq!(reconcile().await.unwrap(), 0, "nothing is due before 30 s");
        app.exec("UPDATE payment_attempts SET next_lookup_at = next_lookup_at - 30000").await;
        assert_eq!(reconcile().await.unwrap(), 1);
        assert_eq!(app.status_of(&reference).await, "paid");
        let (_, order_id) = app.attempt_of(&reference).await;
        assert_eq!(app.capture_calls(&order_id).await, 1);
    }

    async fn an_approved_order_is_captured_not_abandoned_when_the_shopper_cancels(app) {
        // Approved at PayPal, and a capture may be on its way: the shop's Cancel order must not
        // abandon the order under it (the money would arrive for a cancelled order).
        let shopper = app.browser();
        let page = shopper.start_paypal(1).await;
        let back = shopper.on_paypal_page(&page, "pay", "never", "succeed").await;
        let reference = reference_in(&back);
        let action = format!("/payments/paypal/cancel/{reference}");
        let shown = shopper.submit(&format!("/orders/{reference}"), &action, &[("key", "")]).await;
        assert_eq!(shown.order_status().as_deref(), Some("Awaiting payment"), "{}", shown.html);
        assert_eq!(app.status_of(&reference).await, "awaiting_payment");
        let (_, order_id) = app.attempt_of(&reference).await;
        assert_eq!(app.capture_calls(&order_id).await, 0);
        // The return (or the webhook, or the reconciler) captures it once.
        shopper.follow(&back).await;
        app.wait_for(&reference, "paid").await;
        assert_eq!(app.capture_calls(&order_id).await, 1);
    }

    async fn an_address_sending_forgeries_is_turned_away_before_the_verify_api(app) {
        // PayPal's offline check proves nothing, so each forgery would be stored whole and cost a
        // verify call: after FAILURES_PER_WINDOW refusals the address gets 429 and nothing more
        // is stored.
        let shopper = app.browser();
        let page = shopper.start_paypal(1).await;
        let reference = reference_in(&shopper.on_paypal_page(&page, "pay", "never", "succeed").await);
        let (attempt, order_id) = app.attempt_of(&reference).await;
        let body = capture_event(&attempt, &order_id, "18.00", "USD").to_string().into_bytes();
        let genuine = sandbox::transmit(app.sandbox(), &body).await.unwrap().headers();
        let limit = app::server::payments::rejections::FAILURES_PER_WINDOW as usize;
        for _ in 0..limit {
            let forged: Vec<(&'static str, String)> = genuine
                .iter()
                .map(|(k, v)| (*k, if *k == "paypal-transmission-id" { uuid::Uuid::new_v4().to_string() } else { v.clone() }))
                .collect();
            assert_eq!(app.paypal_post(&forged, &body).await, StatusCode::BAD_REQUEST);
        }
        let stored = app.inbox_outcomes().await.len();
        assert_eq!(app.paypal_post(&genuine, &body).await, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(app.inbox_outcomes().await.len(), stored, "nothing stored once turned away");
        assert_eq!(app.status_of(&reference).await, "awaiting_payment");
    }

    async fn a_genuine_capture_event_five_times_at_once_applies_once(app) {
        let shopper = app.browser();
        let page = shopper.start_paypal(1).await;
        let reference = reference_in(&shopper.on_paypal_page(&page, "pay", "never", "succeed").await);
        let (attempt, order_id) = app.attempt_of(&reference).await;
        let body = capture_event(&attempt, &order_id, "18.00", "USD").to_string().into_bytes();
        let headers = sandbox::transmit(app.sandbox(), &body).await.unwrap().headers();
        let deliveries = (0..5).map(|_| app.paypal_post(&headers, &body));
        let statuses = futures_util::future::join_all(deliveries).await;
        assert!(statuses.iter().all(|s| *s == StatusCode::OK), "{statuses:?}");
        assert_eq!(app.status_of(&reference).await, "paid");
        assert_eq!(app.ledger_rows(&reference).await, 1, "one ledger row");
        assert_eq!(app.transitions(&reference).await, 1, "one transition");
        let outcomes = app.inbox_outcomes().await;
        assert_eq!(outcomes.iter().filter(|o| *o == "duplicate").count(), 4, "{outcomes:?}");
        // A replay later is a duplicate too: 2xx, nothing changes.
        assert_eq!(app.paypal_post(&headers, &body).await, StatusCode::OK);
        assert_eq!(app.ledger_rows(&reference).await, 1);
        assert_eq!(app.inbox_outcomes().await.last().map(String::as_str), Some("duplicate"));
    }

    async fn tampered_and_forged_paypal_events_are_refused_and_change_nothing(app) {
        let shopper = app.browser();
        let page = shopper.start_paypal(1).await;
        let reference = reference_in(&shopper.on_paypal_page(&page, "pay", "never", "succeed").await);
        let (attempt, order_id) = app.attempt_of(&reference).await;
        let genuine = capture_event(&attempt, &order_id, "18.00", "USD");
        let body = genuine.to_string().into_bytes();
        let headers = sandbox::transmit(app.sandbox(), &body).await.unwrap().headers();
        // Tampered: the same transmission headers over another body (the verify API says FAILURE).
        let mut other = genuine.clone();
        other["resource"]["amount"]["value"] = json!("1.00");
        assert_eq!(app.paypal_post(&headers, other.to_string().as_bytes()).await, StatusCode::BAD_REQUEST);
        // Forged: headers that look right but were never sent by PayPal.
        let forged: Vec<(&'static str, String)> = headers
            .iter()
            .map(|(k, v)| (*k, if *k == "paypal-transmission-id" { uuid::Uuid::new_v4().to_string() } else { v.clone() }))
            .collect();
        assert_eq!(app.paypal_post(&forged, &body).await, StatusCode::BAD_REQUEST);
        // Without the transmission headers at all: refused before anything is stored whole.
        assert_eq!(app.paypal_post(&[], &body).await, StatusCode::BAD_REQUEST);
        let mut missing = headers.clone();
        missing.retain(|(k, _)| *k != "paypal-transmission-sig");
        assert_eq!(app.paypal_post(&missing, &body).await, StatusCode::BAD_REQUEST);
        assert_eq!(app.status_of(&reference).await, "awaiting_payment");
        assert_eq!(app.ledger_rows(&reference).await, 0);
        // The genuine one still works.
        assert_eq!(app.paypal_post(&headers, &body).await, StatusCode::OK);
        assert_eq!(app.status_of(&reference).await, "paid");
    }

    async fn a_paypal_capture_of_another_amount_needs_review(app) {
        let shopper = app.browser();
        let page = shopper.start_paypal(1).await;
        let reference = reference_in(&shopper.on_paypal_page(&page, "pay", "never", "succeed").await);
        let (attempt, order_id) = app.attempt_of(&reference).await;
        let (status, _, _) = app.paypal_event(&capture_event(&attempt, &order_id, "17.99", "USD")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(app.status_of(&reference).await, "needs_review");
        let shopper = app.browser();
        let page = shopper.start_paypal(1).await;
        let other = reference_in(&shopper.on_paypal_page(&page, "pay", "never", "succeed").await);
        let (attempt, order_id) = app.attempt_of(&other).await;
        let (status, _, _) = app.paypal_event(&capture_event(&attempt, &order_id, "18.00", "EUR")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(app.status_of(&other).await, "needs_review", "another currency");
    }

    async fn the_token_is_cached_and_renewed_once_when_paypal_refuses_it(app) {
        let shopper = app.browser();
        let page = shopper.start_paypal(1).await;
        let back = shopper.on_paypal_page(&page, "pay", "never", "succeed").await;
        let reference = reference_in(&back);
        assert_eq!(app.paypal_tokens().await, 1);
        // PayPal forgets every token (as when one expires early): the next call gets 401
        // invalid_token, and the shop asks for one new token and makes the call again.
        app.sandbox_exec("DELETE FROM sandbox_objects WHERE id LIKE 'pp-token:%'").await;
        let shown = shopper.follow(&back).await;
        assert_eq!(shown.order_status().as_deref(), Some("Paid"), "{}", shown.html);
        assert_eq!(app.paypal_tokens().await, 1, "one renewal");
        let (_, order_id) = app.attempt_of(&reference).await;
        assert_eq!(app.capture_calls(&order_id).await, 1);
    }

    async fn the_rest_of_a_partly_refunded_paypal_capture_can_be_refunded(app) {
        let shopper = app.browser();
        let page = shopper.start_paypal(2).await;
        let reference = reference_in(&shopper.on_paypal_page(&page, "pay", "normal", "succeed").await);
        app.wait_for(&reference, "paid").await;
        let merchant = app.merchant().await;
        // The longest key the refund form takes, then an ordinary one.
        let first = "K".repeat(100);
        let second = format!("refund-{}", uuid::Uuid::new_v4().simple());
        let (status, said) = merchant.ask_refund(&reference, "10.00", &first).await;
        assert!(status.is_success() && said.contains("Refunded $10.00."), "{status} {said}");
        let (status, said) = merchant.ask_refund(&reference, "26.00", &second).await;
        assert!(status.is_success() && said.contains("Refunded $26.00."), "{status} {said}");
        assert_eq!(app.status_of(&reference).await, "refunded");
        // At PayPal: each refund carries the shop's key as custom_id and an invoice_id of its own
        // that names the attempt.
        let (attempt, _) = app.attempt_of(&reference).await;
        let refunds = app.paypal_sandbox_refunds().await;
        assert_eq!(refunds.len(), 2, "{refunds:?}");
        let with_key = |key: &str| refunds.iter().find(|r| r["custom_id"] == key).cloned().unwrap_or_else(|| panic!("no refund with custom_id {key}: {refunds:?}"));
        let (a, b) = (with_key(&first), with_key(&second));
        assert_ne!(a["invoice_id"], b["invoice_id"]);
        for refund in [&a, &b] {
            let invoice = refund["invoice_id"].as_str().unwrap();
            assert!(invoice.starts_with(&attempt) && invoice.len() <= 127, "{invoice}");
        }
        assert_eq!(app.count("SELECT COUNT(*) FROM refunds WHERE status = $1", "succeeded").await, 2);
    }

    async fn the_paypal_sandbox_refuses_a_reused_refund_invoice_id_but_replays_a_request_id(app) {
        let shopper = app.browser();
        let page = shopper.start_paypal(2).await;
        let reference = reference_in(&shopper.on_paypal_page(&page, "pay", "normal", "succeed").await);
        app.wait_for(&reference, "paid").await;
        let capture: String = sqlx::query(
            "SELECT a.provider_payment_id FROM payment_attempts a JOIN orders o ON o.id = a.order_id WHERE o.reference = $1",
        )
        .bind(&reference)
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap()
        .try_get(0)
        .unwrap();
        let bearer = app.paypal_token().await;
        let refund = |request_id: &'static str, invoice: &'static str| {
            reqwest::Client::new()
                .post(format!("{}/sandbox/paypal/v2/payments/captures/{capture}/refund", app.base))
                .bearer_auth(&bearer)
                .header("PayPal-Request-Id", request_id)
                .json(&json!({"amount": {"currency_code": "USD", "value": "1.00"}, "invoice_id": invoice}))
                .send()
        };
        let first = refund("req-a", "INV-REUSED").await.unwrap();
        assert_eq!(first.status(), StatusCode::CREATED);
        let first: serde_json::Value = first.json().await.unwrap();
        let reused = refund("req-b", "INV-REUSED").await.unwrap();
        assert_eq!(reused.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let reused: serde_json::Value = reused.json().await.unwrap();
        assert_eq!(reused["details"][0]["issue"], "DUPLICATE_INVOICE_ID");
        // The same request again is answered with the first refund, not refused.
        let again = refund("req-a", "INV-REUSED").await.unwrap();
        assert!(again.status().is_success(), "{}", again.status());
        let again: serde_json::Value = again.json().await.unwrap();
        assert_eq!(again["id"], first["id"]);
        let other = refund("req-c", "INV-OTHER").await.unwrap();
        assert_eq!(other.status(), StatusCode::CREATED);
        assert_eq!(app.paypal_sandbox_refunds().await.len(), 2);
    }

    async fn a_refund_from_the_admin_page_goes_through_paypal(app) {
        let shopper = app.browser();
        let page = shopper.start_paypal(2).await;
        let reference = reference_in(&shopper.on_paypal_page(&page, "pay", "normal", "succeed").await);
        app.wait_for(&reference, "paid").await;
        let merchant = app.merchant().await;
        let (status, said) = merchant.refund_with_new_key(&reference, "10.00").await;
        assert!(status.is_success() && said.contains("Refunded $10.00."), "{status} {said}");
        assert_eq!(app.status_of(&reference).await, "partially_refunded");
        let (status, said) = merchant.refund_with_new_key(&reference, "26.00").await;
        assert!(status.is_success() && said.contains("Refunded $26.00."), "{status} {said}");
        assert_eq!(app.status_of(&reference).await, "refunded");
        // PAYMENT.CAPTURE.REFUNDED arrives for each and changes nothing more.
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(app.status_of(&reference).await, "refunded");
        assert_eq!(
            app.count("SELECT COUNT(*) FROM refunds WHERE status = $1", "succeeded").await,
            2
        );
        assert_eq!(app.sandbox_count("SELECT COUNT(*) FROM sandbox_objects WHERE id LIKE $1", "pp-refund:%").await, 2);
    }
}

/// PayPal does not answer: a clear message at checkout, the order kept, and Pay again works once
/// it is back (the same attempt, so the same `PayPal-Request-Id`).
async fn a_paypal_outage_shows_a_clear_message_and_pay_again_works(backend: Backend) {
    let (port, target) = crate::helpers::switchable_proxy().await;
    let base = format!("http://127.0.0.1:{port}/sandbox/paypal");
    let app = spawn_app_with(backend, &[("PAYPAL_API_BASE", base.as_str())]).await;
    let shopper = app.browser();
    shopper.add_to_cart(1, 1).await;
    let response = shopper
        .pay_with_key("paypal", &shopper.checkout_key().await)
        .await;
    let page = shopper
        .follow(response.headers()[LOCATION].to_str().unwrap())
        .await;
    let alert = page.alert().expect("an error message");
    assert!(
        alert.contains("PayPal is not answering") && alert.contains("ORD-000001"),
        "{alert}"
    );
    assert_eq!(
        shopper.cart().await.line_quantity(1),
        Some(1),
        "the cart is kept"
    );
    // PayPal is back (here: another instance on the same database, which serves the sandbox).
    let paypal = app.another_instance().await;
    target.send_replace(Some(paypal.base.trim_start_matches("http://").to_string()));
    let location = shopper.pay("paypal").await;
    assert!(
        location.contains("/sandbox/paypal/checkoutnow?token="),
        "{location}"
    );
    assert_eq!(app.order_count().await, 1, "the same order");
    let (attempt, order_id) = app.attempt_of("ORD-000001").await;
    assert_eq!(
        attempt,
        app.attempt_ref("ORD-000001", 1),
        "the same attempt and PayPal-Request-Id"
    );
    assert!(!order_id.is_empty());
}

crate::helpers::on_both_backends!(a_paypal_outage_shows_a_clear_message_and_pay_again_works);

/// The sandbox answers PayPal's wire protocol: token, create (idempotent on PayPal-Request-Id),
/// get, refusals in PayPal's error shape, and verify-webhook-signature.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_paypal_sandbox_speaks_paypals_protocol() {
    let app = crate::helpers::spawn_app(Backend::Sqlite).await;
    let base = format!("{}/sandbox/paypal", app.base);
    let http = reqwest::Client::new();
    let refused = http
        .post(format!("{base}/v1/oauth2/token"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let token: serde_json::Value = http
        .post(format!("{base}/v1/oauth2/token"))
        .basic_auth("any-id", Some("any-secret"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let bearer = token["access_token"].as_str().unwrap().to_string();
    assert_eq!(token["token_type"], "Bearer");
    let body = json!({"intent": "CAPTURE", "purchase_units": [{"invoice_id": "X-A1", "amount": {"currency_code": "JPY", "value": "1500"}}],
        "payment_source": {"paypal": {"experience_context": {"return_url": format!("{}/r", crate::helpers::PUBLIC_URL)}}}});
    let create = || {
        http.post(format!("{base}/v2/checkout/orders"))
            .bearer_auth(&bearer)
            .header("PayPal-Request-Id", "req-1")
            .json(&body)
            .send()
    };
    let first = create().await.unwrap();
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: serde_json::Value = first.json().await.unwrap();
    let second: serde_json::Value = create().await.unwrap().json().await.unwrap();
    assert_eq!(
        first["id"], second["id"],
        "same PayPal-Request-Id, same order"
    );
    assert_eq!(first["status"], "PAYER_ACTION_REQUIRED");
    assert!(first["links"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l["rel"] == "payer-action"));
    let bad = http
        .post(format!("{base}/v2/checkout/orders"))
        .bearer_auth(&bearer)
        .json(&json!({"intent": "CAPTURE", "purchase_units": [{"amount": {"currency_code": "BDT", "value": "10.00"}}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let bad: serde_json::Value = bad.json().await.unwrap();
    assert_eq!(bad["name"], "UNPROCESSABLE_ENTITY");
    assert_eq!(bad["details"][0]["issue"], "CURRENCY_NOT_SUPPORTED");
    assert!(bad["debug_id"].is_string());
    let unauthorised = http
        .get(format!(
            "{base}/v2/checkout/orders/{}",
            first["id"].as_str().unwrap()
        ))
        .bearer_auth("nope")
        .send()
        .await
        .unwrap();
    assert_eq!(unauthorised.status(), StatusCode::UNAUTHORIZED);
    let not_approved = http
        .post(format!(
            "{base}/v2/checkout/orders/{}/capture",
            first["id"].as_str().unwrap()
        ))
        .bearer_auth(&bearer)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(not_approved.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let event = json!({"id": "WH-1", "event_type": "PAYMENT.CAPTURE.COMPLETED", "resource": {}});
    let sent = sandbox::transmit(app.sandbox(), event.to_string().as_bytes())
        .await
        .unwrap();
    let verify = |event: serde_json::Value, webhook_id: &str| {
        http.post(format!("{base}/v1/notifications/verify-webhook-signature"))
            .bearer_auth(&bearer)
            .json(&json!({
                "auth_algo": sent.auth_algo, "cert_url": sent.cert_url, "transmission_id": sent.id,
                "transmission_sig": sent.sig, "transmission_time": sent.time,
                "webhook_id": webhook_id, "webhook_event": event,
            }))
            .send()
    };
    let id = app::server::config::payments::sandbox_keys::PAYPAL_WEBHOOK_ID;
    let ok: serde_json::Value = verify(event.clone(), id)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ok["verification_status"], "SUCCESS");
    let other: serde_json::Value = verify(json!({"id": "WH-2"}), id)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(other["verification_status"], "FAILURE");
    let wrong_id: serde_json::Value = verify(event, "WH-OTHER")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(wrong_id["verification_status"], "FAILURE");
}

/// The verify API cannot be reached: the webhook is a 503 (PayPal retries) and nothing changes;
/// once PayPal answers again the same delivery is applied.
async fn a_webhook_paypal_cannot_confirm_is_a_503_and_changes_nothing(backend: Backend) {
    let (port, target) = crate::helpers::switchable_proxy().await;
    let base = format!("http://127.0.0.1:{port}/sandbox/paypal");
    let app = spawn_app_with(backend, &[("PAYPAL_API_BASE", base.as_str())]).await;
    let paypal = app.another_instance().await;
    target.send_replace(Some(paypal.base.trim_start_matches("http://").to_string()));
    let shopper = app.browser();
    let page = shopper.start_paypal(1).await;
    let back = paypal
        .browser()
        .on_paypal_page(&page, "pay", "never", "succeed")
        .await;
    let reference = reference_in(&back);
    let (attempt, order_id) = app.attempt_of(&reference).await;
    let body = capture_event(&attempt, &order_id, "18.00", "USD")
        .to_string()
        .into_bytes();
    let headers = sandbox::transmit(app.sandbox(), &body)
        .await
        .unwrap()
        .headers();
    target.send_replace(None);
    assert_eq!(
        app.paypal_post(&headers, &body).await,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(app.status_of(&reference).await, "awaiting_payment");
    assert_eq!(app.ledger_rows(&reference).await, 0);
    target.send_replace(Some(paypal.base.trim_start_matches("http://").to_string()));
    assert_eq!(app.paypal_post(&headers, &body).await, StatusCode::OK);
    assert_eq!(app.status_of(&reference).await, "paid");
}

crate::helpers::on_both_backends!(a_webhook_paypal_cannot_confirm_is_a_503_and_changes_nothing);
