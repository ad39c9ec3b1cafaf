//! Square (Checkout API payment links) through its built-in sandbox: pay, decline and cancel on
//! the checkout page; webhooks signed over the configured notification URL (genuine, five at once,
//! tampered, forged, unsigned, replayed, with another amount or currency); an outage; a refund
//! from the admin page; the reconciler finding a payment whose webhook never came; the sandbox's
//! wire protocol. Product 1 (Canvas Tote) is $18.00, stock 40.

use crate::helpers::{both_backends, spawn_app_with, Backend, Browser, TestApp, PUBLIC_URL};
use crate::pay::reference_in;
use app::server::config::payments::sandbox_keys;
use app::server::payments::square::signature;
use reqwest::header::LOCATION;
use reqwest::StatusCode;
use serde_json::json;
use sqlx::Row as _;
use std::time::Duration;

/// The notification URL the shop verifies against by default: `{PUBLIC_URL}/webhooks/square`
/// (the tests reach the shop at another address, as behind a proxy).
fn notification_url() -> String {
    format!("{PUBLIC_URL}/webhooks/square")
}

impl Browser {
    /// On the Square checkout page press `action` (`pay`, `decline`, `cancel`) with webhook and
    /// refund test controls; returns where the sandbox sends the browser.
    async fn on_square_page(
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
        crate::conformance::Square
            .press(self, &page, press)
            .await
            .redirect()
    }

    /// Add `quantity` tote bags, press Pay with Square; the checkout page's URL.
    async fn start_square(&self, quantity: i64) -> String {
        self.add_to_cart(1, quantity).await;
        let checkout = self.get("/checkout").await;
        assert!(checkout.offers("square"), "USD offers Square");
        let page = self.pay("square").await;
        assert!(page.contains("/sandbox/square/checkout/"), "{page}");
        page
    }
}

impl TestApp {
    async fn sq_count(&self, sql: &str, like: &str) -> i64 {
        sqlx::query(sql)
            .bind(like)
            .fetch_one(&self.state.db.pool)
            .await
            .unwrap()
            .try_get(0)
            .unwrap()
    }

    async fn sq_sandbox_count(&self, sql: &str, like: &str) -> i64 {
        sqlx::query(sql)
            .bind(like)
            .fetch_one(&self.sandbox().db.pool)
            .await
            .unwrap()
            .try_get(0)
            .unwrap()
    }

    /// Post a body with these headers to the shop's Square webhook.
    async fn square_post(&self, headers: &[(&'static str, String)], body: &[u8]) -> StatusCode {
        self.post_webhook("square", "application/json", headers, body.to_vec())
            .await
    }

    /// Sign a body as Square does for the shop's subscription; the header.
    fn square_signed(body: &[u8]) -> Vec<(&'static str, String)> {
        vec![(
            signature::HEADER,
            signature::sign(
                sandbox_keys::SQUARE_WEBHOOK_SIGNATURE_KEY,
                &notification_url(),
                body,
            ),
        )]
    }
}

/// A `payment.updated` notification for a Square order.
fn payment_event(order_id: &str, status: &str, amount: i64, currency: &str) -> serde_json::Value {
    let payment_id = uuid::Uuid::new_v4().simple().to_string();
    json!({
        "merchant_id": "MLSTOREFRONTSANDBOX",
        "type": "payment.updated",
        "event_id": uuid::Uuid::new_v4().to_string(),
        "created_at": "2026-12-01T10:00:00.000Z",
        "data": {"type": "payment", "id": payment_id, "object": {"payment": {
            "id": payment_id, "status": status, "order_id": order_id,
            "amount_money": {"amount": amount, "currency": currency},
            "total_money": {"amount": amount, "currency": currency},
        }}},
    })
}

both_backends! {
    async fn square_pay_marks_the_order_paid_by_webhook_and_on_return(app) {
        let shopper = app.browser();
        let page = shopper.start_square(2).await;
        assert_eq!(app.stock_of(1).await, 38, "stock is reserved when the attempt starts");
        let back = shopper.on_square_page(&page, "pay", "normal", "succeed").await;
        assert!(back.contains("/payments/square/return/ORD-"), "{back}");
        let reference = reference_in(&back);
        let shown = shopper.follow(&back).await;
        assert_eq!(shown.order_status().as_deref(), Some("Paid"), "{}", shown.html);
        assert!(shown.contains("$36.00"));
        // payment.created (APPROVED) and payment.updated (COMPLETED) arrive too: one transition.
        tokio::time::sleep(Duration::from_millis(800)).await;
        assert_eq!(app.status_of(&reference).await, "paid");
        assert_eq!(app.transitions(&reference).await, 1);
        let (attempt, order_id) = app.attempt_of(&reference).await;
        assert_eq!(attempt, app.attempt_ref(&reference, 1));
        let stored: String = sqlx::query("SELECT data FROM sandbox_objects WHERE id = $1")
            .bind(format!("sq-order:{order_id}"))
            .fetch_one(&app.sandbox().db.pool)
            .await
            .unwrap()
            .try_get(0)
            .unwrap();
        let order: serde_json::Value = serde_json::from_str(&stored).unwrap();
        assert_eq!(order["reference_id"], attempt.as_str(), "the order names the attempt");
        assert_eq!(order["location_id"], sandbox_keys::SQUARE_LOCATION_ID);
        assert_eq!(order["total_money"], json!({"amount": 3600, "currency": "USD"}));
    }

    async fn square_decline_fails_the_order_and_cancel_changes_nothing_until_asked(app) {
        let shopper = app.browser();
        let page = shopper.start_square(3).await;
        let back = shopper.on_square_page(&page, "decline", "normal", "succeed").await;
        let reference = reference_in(&back);
        let shown = shopper.follow(&back).await;
        assert!(matches!(shown.order_status().as_deref(), Some("Failed") | Some("Awaiting payment")));
        app.wait_for(&reference, "failed").await;
        assert_eq!(app.stock_of(1).await, 40, "stock released on failure");

        let page = shopper.start_square(1).await;
        let back = shopper.on_square_page(&page, "cancel", "normal", "succeed").await;
        let cancelled = reference_in(&back);
        let shown = shopper.follow(&back).await;
        assert_eq!(shown.order_status().as_deref(), Some("Awaiting payment"), "{}", shown.html);
        assert_eq!(app.sq_sandbox_count("SELECT COUNT(*) FROM sandbox_objects WHERE id LIKE $1", "sq-payment:%").await, 1, "only the declined payment");
        let action = format!("/payments/square/cancel/{cancelled}");
        let shown = shopper.submit(&format!("/orders/{cancelled}"), &action, &[("key", "")]).await;
        assert_eq!(shown.order_status().as_deref(), Some("Cancelled"), "{}", shown.html);
        assert_eq!(app.stock_of(1).await, 40);
    }

    async fn square_is_offered_in_usd_only_by_default(app) {
        for currency in ["EUR", "JPY", "BDT", "CNY"] {
            let shopper = app.browser();
            shopper.set_currency(currency).await;
            shopper.add_to_cart(1, 1).await;
            let checkout = shopper.get("/checkout").await;
            assert!(!checkout.offers("square"), "{currency}: the location takes USD only");
        }
    }

    async fn a_genuine_square_notification_five_times_at_once_applies_once(app) {
        let shopper = app.browser();
        let page = shopper.start_square(1).await;
        let reference = reference_in(&shopper.on_square_page(&page, "pay", "never", "succeed").await);
        let (_, order_id) = app.attempt_of(&reference).await;
        let body = payment_event(&order_id, "COMPLETED", 1800, "USD").to_string().into_bytes();
        let headers = TestApp::square_signed(&body);
        let deliveries = (0..5).map(|_| app.square_post(&headers, &body));
        let statuses = futures_util::future::join_all(deliveries).await;
        assert!(statuses.iter().all(|s| *s == StatusCode::OK), "{statuses:?}");
        assert_eq!(app.status_of(&reference).await, "paid");
        assert_eq!(app.ledger_rows(&reference).await, 1, "one ledger row");
        assert_eq!(app.transitions(&reference).await, 1, "one transition");
        let outcomes = app.inbox_outcomes().await;
        assert_eq!(outcomes.iter().filter(|o| *o == "duplicate").count(), 4, "{outcomes:?}");
        // A replay later is a duplicate: 2xx, nothing changes.
        assert_eq!(app.square_post(&headers, &body).await, StatusCode::OK);
        assert_eq!(app.ledger_rows(&reference).await, 1);
        assert_eq!(app.inbox_outcomes().await.last().map(String::as_str), Some("duplicate"));
    }

    async fn tampered_forged_and_unsigned_square_notifications_are_refused(app) {
        let shopper = app.browser();
        let page = shopper.start_square(1).await;
        let reference = reference_in(&shopper.on_square_page(&page, "pay", "never", "succeed").await);
        let (_, order_id) = app.attempt_of(&reference).await;
        let genuine = payment_event(&order_id, "COMPLETED", 1800, "USD");
        let body = genuine.to_string().into_bytes();
        let headers = TestApp::square_signed(&body);
        // Tampered: the genuine signature over another body.
        let mut other = genuine.clone();
        other["data"]["object"]["payment"]["amount_money"]["amount"] = json!(100);
        assert_eq!(app.square_post(&headers, other.to_string().as_bytes()).await, StatusCode::BAD_REQUEST);
        // Forged: signed with another key, or over the URL the request arrived at.
        let forged = vec![(signature::HEADER, signature::sign("not-the-key", &notification_url(), &body))];
        assert_eq!(app.square_post(&forged, &body).await, StatusCode::BAD_REQUEST);
        let arrived = format!("{}/webhooks/square", app.base);
        let wrong_url = vec![(signature::HEADER, signature::sign(sandbox_keys::SQUARE_WEBHOOK_SIGNATURE_KEY, &arrived, &body))];
        assert_eq!(app.square_post(&wrong_url, &body).await, StatusCode::BAD_REQUEST);
        // Unsigned, or a signature that is not base64.
        assert_eq!(app.square_post(&[], &body).await, StatusCode::BAD_REQUEST);
        assert_eq!(app.square_post(&[(signature::HEADER, "%%%".into())], &body).await, StatusCode::BAD_REQUEST);
        assert_eq!(app.status_of(&reference).await, "awaiting_payment");
        assert_eq!(app.ledger_rows(&reference).await, 0);
        // The genuine one still works.
        assert_eq!(app.square_post(&headers, &body).await, StatusCode::OK);
        assert_eq!(app.status_of(&reference).await, "paid");
    }

    async fn a_square_payment_of_another_amount_or_currency_needs_review(app) {
        let shopper = app.browser();
        let page = shopper.start_square(1).await;
        let reference = reference_in(&shopper.on_square_page(&page, "pay", "never", "succeed").await);
        let (_, order_id) = app.attempt_of(&reference).await;
        let body = payment_event(&order_id, "COMPLETED", 1799, "USD").to_string().into_bytes();
        assert_eq!(app.square_post(&TestApp::square_signed(&body), &body).await, StatusCode::OK);
        assert_eq!(app.status_of(&reference).await, "needs_review");

        let shopper = app.browser();
        let page = shopper.start_square(1).await;
        let other = reference_in(&shopper.on_square_page(&page, "pay", "never", "succeed").await);
        let (_, order_id) = app.attempt_of(&other).await;
        let body = payment_event(&order_id, "COMPLETED", 1800, "EUR").to_string().into_bytes();
        assert_eq!(app.square_post(&TestApp::square_signed(&body), &body).await, StatusCode::OK);
        assert_eq!(app.status_of(&other).await, "needs_review", "another currency");
    }

    async fn a_signed_square_payment_for_an_unknown_order_changes_nothing(app) {
        let shopper = app.browser();
        let page = shopper.start_square(1).await;
        let reference = reference_in(&shopper.on_square_page(&page, "pay", "never", "succeed").await);
        // Square does not know this order: nothing the shop can tie it to.
        let body = payment_event("NOSUCHORDER", "COMPLETED", 1800, "USD").to_string().into_bytes();
        assert!(app.square_post(&TestApp::square_signed(&body), &body).await.is_success());
        assert_eq!(app.status_of(&reference).await, "awaiting_payment");
        assert_eq!(app.ledger_rows(&reference).await, 0);
    }

    async fn the_reconciler_finds_a_square_payment_whose_webhook_never_came(app) {
        let shopper = app.browser();
        let page = shopper.start_square(1).await;
        let reference = reference_in(&shopper.on_square_page(&page, "pay", "never", "succeed").await);
        let reconcile = || app::server::services::reconciler::run_once(&app.state);
        assert_eq!(reconcile().await.unwrap(), 0, "nothing is due before 30 s");
        app.exec("UPDATE payment_attempts SET next_lookup_at = next_lookup_at - 30000").await;
        assert_eq!(reconcile().await.unwrap(), 1);
        assert_eq!(app.status_of(&reference).await, "paid");
        assert_eq!(app.transitions(&reference).await, 1);
    }

    async fn a_refund_from_the_admin_page_goes_through_square(app) {
        let shopper = app.browser();
        let page = shopper.start_square(2).await;
        let reference = reference_in(&shopper.on_square_page(&page, "pay", "normal", "succeed").await);
        app.wait_for(&reference, "paid").await;
        let merchant = app.merchant().await;
        let (status, said) = merchant.refund_with_new_key(&reference, "10.00").await;
        assert!(status.is_success() && said.contains("Refunded $10.00."), "{status} {said}");
        assert_eq!(app.status_of(&reference).await, "partially_refunded");
        let (status, said) = merchant.refund_with_new_key(&reference, "26.00").await;
        assert!(status.is_success() && said.contains("Refunded $26.00."), "{status} {said}");
        assert_eq!(app.status_of(&reference).await, "refunded");
        // refund.created arrives for each and changes nothing more.
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert_eq!(app.status_of(&reference).await, "refunded");
        assert_eq!(app.sq_count("SELECT COUNT(*) FROM refunds WHERE status = $1", "succeeded").await, 2);
        assert_eq!(app.sq_sandbox_count("SELECT COUNT(*) FROM sandbox_objects WHERE id LIKE $1", "sq-refund:%").await, 2);
    }

    async fn a_square_refund_can_fail_after_it_was_accepted_or_be_refused(app) {
        let shopper = app.browser();
        let page = shopper.start_square(1).await;
        let reference = reference_in(&shopper.on_square_page(&page, "pay", "normal", "fail").await);
        app.wait_for(&reference, "paid").await;
        let merchant = app.merchant().await;
        let (status, said) = merchant.refund_with_new_key(&reference, "18.00").await;
        assert!(status.is_success(), "{status} {said}");
        // refund.updated FAILED arrives: the order stays paid.
        for _ in 0..100 {
            if app.sq_count("SELECT COUNT(*) FROM refunds WHERE status = $1", "failed").await == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(app.sq_count("SELECT COUNT(*) FROM refunds WHERE status = $1", "failed").await, 1);
        assert_eq!(app.status_of(&reference).await, "paid");

        let page = shopper.start_square(1).await;
        let disputed = reference_in(&shopper.on_square_page(&page, "pay", "normal", "refuse").await);
        app.wait_for(&disputed, "paid").await;
        let (status, said) = merchant.refund_with_new_key(&disputed, "18.00").await;
        assert!(!status.is_success(), "{status} {said}");
        assert_eq!(app.status_of(&disputed).await, "paid");
    }
}

/// Square does not answer: a clear message at checkout, the order kept, and Pay again works once
/// it is back (the same attempt, so the same `idempotency_key`). A notification that cannot be
/// tied to its attempt meanwhile (the order lookup fails) is a 503, so Square retries it.
async fn a_square_outage_shows_a_clear_message_and_pay_again_works(backend: Backend) {
    let (port, target) = crate::helpers::switchable_proxy().await;
    let base = format!("http://127.0.0.1:{port}/sandbox/square");
    let app = spawn_app_with(backend, &[("SQUARE_API_BASE", base.as_str())]).await;
    let shopper = app.browser();
    shopper.add_to_cart(1, 1).await;
    let response = shopper
        .pay_with_key("square", &shopper.checkout_key().await)
        .await;
    let page = shopper
        .follow(response.headers()[LOCATION].to_str().unwrap())
        .await;
    let alert = page.alert().expect("an error message");
    assert!(
        alert.contains("Square is not answering") && alert.contains("ORD-000001"),
        "{alert}"
    );
    assert_eq!(
        shopper.cart().await.line_quantity(1),
        Some(1),
        "the cart is kept"
    );
    let square = app.another_instance().await;
    target.send_replace(Some(square.base.trim_start_matches("http://").to_string()));
    let location = shopper.pay("square").await;
    assert!(location.contains("/sandbox/square/checkout/"), "{location}");
    assert_eq!(app.order_count().await, 1, "the same order");
    let (attempt, order_id) = app.attempt_of("ORD-000001").await;
    assert_eq!(
        attempt,
        app.attempt_ref("ORD-000001", 1),
        "the same attempt and idempotency key"
    );
    assert!(!order_id.is_empty());
    // Down again: a genuine notification cannot be tied to its attempt yet.
    let body = payment_event(&order_id, "COMPLETED", 1800, "USD")
        .to_string()
        .into_bytes();
    target.send_replace(None);
    assert_eq!(
        app.square_post(&TestApp::square_signed(&body), &body).await,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(app.status_of("ORD-000001").await, "awaiting_payment");
    target.send_replace(Some(square.base.trim_start_matches("http://").to_string()));
    assert_eq!(
        app.square_post(&TestApp::square_signed(&body), &body).await,
        StatusCode::OK
    );
    assert_eq!(app.status_of("ORD-000001").await, "paid");
    // The delivery Square could not confirm was stored and never finished (Square sent it again,
    // and that one was applied). Ten minutes on, the reconciler closes it as unfinished, so the
    // timeline does not show it pending forever; a fresh one is left alone.
    let open = "SELECT COUNT(*) FROM webhook_inbox WHERE processed_at IS NULL";
    assert_eq!(app.number(open).await, 1);
    app.run_reconciler().await;
    assert_eq!(app.number(open).await, 1, "a fresh delivery is left alone");
    app.exec(
        "UPDATE webhook_inbox SET received_at = received_at - 600001 WHERE processed_at IS NULL",
    )
    .await;
    app.run_reconciler().await;
    assert_eq!(app.number(open).await, 0);
    assert_eq!(
        app.number("SELECT COUNT(*) FROM webhook_inbox WHERE outcome LIKE 'unfinished:%'")
            .await,
        1
    );
    assert_eq!(
        app.number("SELECT COUNT(*) FROM webhook_inbox WHERE outcome LIKE 'applied:%'")
            .await,
        1,
        "the delivery that was finished keeps its outcome"
    );
}

crate::helpers::on_both_backends!(a_square_outage_shows_a_clear_message_and_pay_again_works);

/// The sandbox answers Square's wire protocol: Bearer auth, payment links idempotent on
/// `idempotency_key`, orders, locations, deletion, and errors in Square's shape.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_square_sandbox_speaks_squares_protocol() {
    let app = crate::helpers::spawn_app(Backend::Sqlite).await;
    let base = format!("{}/sandbox/square", app.base);
    let http = reqwest::Client::new();
    let unauthorised = http
        .get(format!("{base}/v2/locations"))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthorised.status(), StatusCode::UNAUTHORIZED);
    let e: serde_json::Value = unauthorised.json().await.unwrap();
    assert_eq!(e["errors"][0]["category"], "AUTHENTICATION_ERROR");
    let locations: serde_json::Value = http
        .get(format!("{base}/v2/locations"))
        .bearer_auth("any")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let location = locations["locations"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let body = json!({"idempotency_key": "k-1", "quick_pay": {"name": "Tote", "location_id": location,
        "price_money": {"amount": 1500, "currency": "JPY"}},
        "checkout_options": {"redirect_url": format!("{PUBLIC_URL}/done")}});
    let create = |body: serde_json::Value| {
        http.post(format!("{base}/v2/online-checkout/payment-links"))
            .bearer_auth("any")
            .json(&body)
            .send()
    };
    let first: serde_json::Value = create(body.clone()).await.unwrap().json().await.unwrap();
    let second: serde_json::Value = create(body.clone()).await.unwrap().json().await.unwrap();
    assert_eq!(
        first["payment_link"]["id"], second["payment_link"]["id"],
        "same key, same link"
    );
    assert_eq!(first["related_resources"]["orders"][0]["state"], "DRAFT");
    let mut changed = body.clone();
    changed["quick_pay"]["price_money"]["amount"] = json!(1600);
    let reused = create(changed).await.unwrap();
    assert_eq!(reused.status(), StatusCode::BAD_REQUEST);
    let reused: serde_json::Value = reused.json().await.unwrap();
    assert_eq!(reused["errors"][0]["code"], "IDEMPOTENCY_KEY_REUSED");
    let bdt = create(json!({"idempotency_key": "k-2", "quick_pay": {"name": "x", "location_id": location, "price_money": {"amount": 100, "currency": "BDT"}}})).await.unwrap();
    assert_eq!(bdt.status(), StatusCode::BAD_REQUEST);
    let elsewhere = create(json!({"quick_pay": {"name": "x", "location_id": location, "price_money": {"amount": 100, "currency": "USD"}},
        "checkout_options": {"redirect_url": "https://evil.example/x"}})).await.unwrap();
    assert_eq!(
        elsewhere.status(),
        StatusCode::BAD_REQUEST,
        "only the shop's own origin"
    );
    let id = first["payment_link"]["id"].as_str().unwrap();
    let order_id = first["payment_link"]["order_id"].as_str().unwrap();
    let got: serde_json::Value = http
        .get(format!("{base}/v2/online-checkout/payment-links/{id}"))
        .bearer_auth("any")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(got["payment_link"], first["payment_link"]);
    let order: serde_json::Value = http
        .get(format!("{base}/v2/orders/{order_id}"))
        .bearer_auth("any")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        order["order"]["total_money"],
        json!({"amount": 1500, "currency": "JPY"})
    );
    let found: serde_json::Value = http
        .post(format!("{base}/v2/orders/search"))
        .bearer_auth("any")
        .json(&json!({"location_ids": [location]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(found["orders"].as_array().unwrap().len(), 1);
    let deleted: serde_json::Value = http
        .delete(format!("{base}/v2/online-checkout/payment-links/{id}"))
        .bearer_auth("any")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(deleted["deleted_payment_link_id"], id);
    assert_eq!(deleted["cancelled_order_id"], order_id);
    let gone = http
        .get(format!("{base}/v2/online-checkout/payment-links/{id}"))
        .bearer_auth("any")
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    let gone: serde_json::Value = gone.json().await.unwrap();
    assert_eq!(gone["errors"][0]["code"], "NOT_FOUND");
    let no_key = http
        .post(format!("{base}/v2/refunds"))
        .bearer_auth("any")
        .json(&json!({"payment_id": "P", "amount_money": {"amount": 1, "currency": "USD"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(no_key.status(), StatusCode::BAD_REQUEST);
    let payments: serde_json::Value = http
        .get(format!("{base}/v2/payments"))
        .bearer_auth("any")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(payments["payments"].as_array().unwrap().is_empty());
}

/// Square's `refund.updated` (COMPLETED) arrives before the answer to the shop's `POST
/// /v2/refunds`. Square does not echo the shop's key, so the notice names an unknown refund of the
/// attempt's payment: it settles the shop's own refund still waiting for its answer (the only one
/// of that amount), never a second "dashboard" refund.
async fn a_square_refund_notice_before_the_answer_settles_the_shops_own_refund(backend: Backend) {
    let (port, forward_to, mut held) = crate::helpers::gate(
        reqwest::Method::POST,
        "/v2/refunds",
        crate::helpers::Hold::Answer,
    )
    .await;
    let base = format!("http://127.0.0.1:{port}/sandbox/square");
    let app = spawn_app_with(backend, &[("SQUARE_API_BASE", base.as_str())]).await;
    // Square: the sandbox of another instance on the same database.
    let square = app.another_instance().await;
    forward_to(&square.base);
    let shopper = app.browser();
    let page = shopper.start_square(1).await;
    let on_square = square.browser();
    let reference = reference_in(
        &on_square
            .on_square_page(&page, "pay", "normal", "succeed")
            .await,
    );
    app.wait_for(&reference, "paid").await;
    let merchant = app.merchant().await;
    let refunding = merchant.refund_with_new_key(&reference, "18.00");
    let overtaking = async {
        let answer = held.recv().await.expect("the refund reaches Square");
        let mut refund: serde_json::Value = serde_json::from_str(&answer.body).unwrap();
        let mut done = refund["refund"].take();
        done["status"] = json!("COMPLETED");
        let body = json!({
            "merchant_id": "MLSTOREFRONTSANDBOX",
            "type": "refund.updated",
            "event_id": uuid::Uuid::new_v4().to_string(),
            "created_at": "2026-01-01T00:00:00Z",
            "data": {"type": "refund", "id": done["id"], "object": {"refund": done}},
        })
        .to_string();
        let acknowledged = app
            .square_post(&TestApp::square_signed(body.as_bytes()), body.as_bytes())
            .await;
        let rows = app.refund_rows(&reference).await;
        let status = app.status_of(&reference).await;
        answer.release.send(()).unwrap();
        (acknowledged, rows, status)
    };
    let ((code, said), (acknowledged, rows, status)) = tokio::join!(refunding, overtaking);
    assert!(acknowledged.is_success(), "{acknowledged}");
    assert_eq!(
        rows,
        vec![(1800, "succeeded".to_string())],
        "the notice settled the shop's own refund"
    );
    assert_eq!(status, "refunded");
    assert!(
        code.is_success() && said.contains("Refunded $18.00."),
        "{code} {said}"
    );
    assert_eq!(
        app.refund_rows(&reference).await,
        vec![(1800, "succeeded".to_string())]
    );
    assert_eq!(app.status_of(&reference).await, "refunded");
}

crate::helpers::on_both_backends!(
    a_square_refund_notice_before_the_answer_settles_the_shops_own_refund
);

impl TestApp {}
