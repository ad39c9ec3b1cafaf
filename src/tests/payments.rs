//! The payment path end to end over HTTP: checkout → the built-in sandboxes → webhooks → order
//! status, and every delivery pathology the sandboxes can produce. Products: 1 Canvas Tote $18.00
//! (৳2,160.00; stock 40), 2 Ceramic Mug $14.00 (stock 60).

use crate::helpers::{both_backends, spawn_app_with, Backend};
use crate::pay::{reference_in, stripe_event};
use futures_util::StreamExt;
use reqwest::header::LOCATION;
use reqwest::StatusCode;
use std::time::Duration;

both_backends! {
    async fn stripe_pay_then_webhook_marks_the_order_paid(app) {
        let shopper = app.browser();
        shopper.add_to_cart(1, 2).await;
        let checkout = shopper.get("/checkout").await;
        assert!(checkout.offers("stripe") && !checkout.offers("sslcommerz"), "USD offers Stripe only");
        let stripe_page = shopper.pay("stripe").await;
        assert!(stripe_page.contains("/sandbox/stripe/c/pay/cs_test_"), "{stripe_page}");
        assert_eq!(app.stock_of(1).await, 38, "stock is reserved when the attempt starts");
        assert_eq!(shopper.cart().await.line_quantity(1), None, "the cart went into the order");
        let back = shopper.on_stripe_page(&stripe_page, "pay", "never").await;
        assert!(back.contains("/payments/stripe/return/ORD-"), "{back}");
        let reference = reference_in(&back);
        assert_eq!(app.status_of(&reference).await, "awaiting_payment", "paying alone changes nothing");
        // No webhook was sent (test control): the return's lookup at the provider finds it paid.
        let page = shopper.follow(&back).await;
        assert_eq!(page.order_status().as_deref(), Some("Paid"), "{}", page.html);
        assert!(page.contains("$36.00"));
        assert_eq!(app.transitions(&reference).await, 1);
        // A paid order cannot be started again; the refusal is shown and nothing changes.
        let again = shopper
            .submit(&format!("/orders/{reference}"), "/api/try_again", &[("reference", &reference), ("key", "")])
            .await;
        assert!(again.alert().is_some_and(|a| a.contains("nothing to try again")), "{:?}", again.alert());
        assert_eq!(shopper.cart().await.line_quantity(1), None);
    }

    async fn stripe_decline_fails_the_order_releases_stock_and_offers_a_retry(app) {
        let shopper = app.browser();
        shopper.add_to_cart(1, 3).await;
        let stripe_page = shopper.pay("stripe").await;
        let back = shopper.on_stripe_page(&stripe_page, "decline", "normal").await;
        let reference = reference_in(&back);
        app.wait_for(&reference, "failed").await;
        assert_eq!(app.stock_of(1).await, 40, "stock released on failure");
        let page = shopper.follow(&back).await;
        assert_eq!(page.order_status().as_deref(), Some("Failed"));
        assert!(page.contains(">Try again<"));
        let checkout = shopper
            .submit(&format!("/orders/{reference}"), "/api/try_again", &[("reference", &reference), ("key", "")])
            .await;
        assert!(checkout.contains("name=\"checkout_key\""), "back on the checkout page");
        assert_eq!(shopper.cart().await.line_quantity(1), Some(3), "the lines are back in the cart");
    }

    async fn the_same_webhook_five_times_at_once_applies_once(app) {
        let shopper = app.browser();
        shopper.add_to_cart(1, 1).await;
        let stripe_page = shopper.pay("stripe").await;
        let reference = reference_in(&shopper.on_stripe_page(&stripe_page, "pay", "never").await);
        let (attempt, session) = app.attempt_of(&reference).await;
        let event = stripe_event("checkout.session.completed", &attempt, &session, "paid", 1800, "usd");
        let deliveries = (0..5).map(|_| app.stripe_event(&event));
        let statuses = futures_util::future::join_all(deliveries).await;
        assert!(statuses.iter().all(|s| *s == StatusCode::OK), "{statuses:?}");
        assert_eq!(app.status_of(&reference).await, "paid");
        assert_eq!(app.ledger_rows(&reference).await, 1, "one ledger row");
        assert_eq!(app.transitions(&reference).await, 1, "one transition");
        // Every delivery is kept in the inbox with what became of it.
        let outcomes = app.inbox_outcomes().await;
        assert_eq!(outcomes.len(), 5, "{outcomes:?}");
        assert_eq!(outcomes.iter().filter(|o| o.starts_with("applied: awaiting_payment -> paid")).count(), 1, "{outcomes:?}");
        assert_eq!(outcomes.iter().filter(|o| *o == "duplicate").count(), 4, "{outcomes:?}");
    }

    async fn the_reconciler_finds_a_payment_whose_webhook_never_came(app) {
        let shopper = app.browser();
        shopper.add_to_cart(1, 1).await;
        let page = shopper.pay("stripe").await;
        // Paid on the provider's page, but no webhook and the shopper never comes back.
        let reference = reference_in(&shopper.on_stripe_page(&page, "pay", "never").await);
        let reconcile = || app::server::services::reconciler::run_once(&app.state);
        assert_eq!(reconcile().await.unwrap(), 0, "nothing is due before 30 s");
        assert_eq!(app.status_of(&reference).await, "awaiting_payment");
        app.exec("UPDATE payment_attempts SET next_lookup_at = next_lookup_at - 30000").await;
        assert_eq!(reconcile().await.unwrap(), 1);
        assert_eq!(app.status_of(&reference).await, "paid");
        assert_eq!(reconcile().await.unwrap(), 0, "the next lookup is scheduled later");
    }

    async fn events_out_of_order_end_in_the_right_state(app) {
        // Success: async_payment_succeeded arrives before completed (unpaid).
        let shopper = app.browser();
        shopper.add_to_cart(1, 1).await;
        let page = shopper.pay("stripe").await;
        let paid = reference_in(&shopper.on_stripe_page(&page, "pay", "reordered").await);
        // Failure: async_payment_failed arrives before completed (unpaid).
        shopper.add_to_cart(2, 1).await;
        let page = shopper.pay("stripe").await;
        let failed = reference_in(&shopper.on_stripe_page(&page, "decline", "reordered").await);
        app.wait_for(&paid, "paid").await;
        app.wait_for(&failed, "failed").await;
        // A late "expired" for the paid order is refused, not applied.
        let (attempt, session) = app.attempt_of(&paid).await;
        let late = stripe_event("checkout.session.expired", &attempt, &session, "unpaid", 1800, "usd");
        assert_eq!(app.stripe_event(&late).await, StatusCode::OK);
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(app.status_of(&paid).await, "paid");
        assert_eq!(app.status_of(&failed).await, "failed");
    }

    async fn a_bad_signature_is_refused_and_changes_nothing(app) {
        let shopper = app.browser();
        shopper.add_to_cart(1, 1).await;
        let page = shopper.pay("stripe").await;
        let reference = reference_in(&shopper.on_stripe_page(&page, "pay", "never").await);
        let (attempt, session) = app.attempt_of(&reference).await;
        let body = stripe_event("checkout.session.completed", &attempt, &session, "paid", 1800, "usd").to_string();
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
        let wrong = app::server::payments::stripe::signature::sign(body.as_bytes(), "whsec_wrong", now);
        let status = app.post_webhook("stripe", "application/json", &[("stripe-signature", wrong)], body.clone().into_bytes()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let stale = app::server::payments::stripe::signature::sign(
            body.as_bytes(), app::server::config::payments::sandbox_keys::STRIPE_WEBHOOK_SECRET, now - 600);
        let status = app.post_webhook("stripe", "application/json", &[("stripe-signature", stale)], body.clone().into_bytes()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "a replay older than 5 minutes");
        let status = app.post_webhook("stripe", "application/json", &[], body.into_bytes()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "no signature at all");
        assert_eq!(app.status_of(&reference).await, "awaiting_payment");
        assert_eq!(app.ledger_rows(&reference).await, 0);
        let outcomes = app.inbox_outcomes().await;
        assert_eq!(outcomes.len(), 3);
        assert!(outcomes.iter().all(|o| o.starts_with("rejected: ")), "{outcomes:?}");
    }

    async fn a_paid_amount_that_differs_from_the_quote_needs_review(app) {
        let shopper = app.browser();
        shopper.add_to_cart(1, 1).await;
        let page = shopper.pay("stripe").await;
        let reference = reference_in(&shopper.on_stripe_page(&page, "pay", "never").await);
        let (attempt, session) = app.attempt_of(&reference).await;
        let short = stripe_event("checkout.session.completed", &attempt, &session, "paid", 100, "usd");
        assert_eq!(app.stripe_event(&short).await, StatusCode::OK);
        assert_eq!(app.status_of(&reference).await, "needs_review");
        let page = shopper.get(&format!("/orders/{reference}")).await;
        assert_eq!(page.order_status().as_deref(), Some("Needs review"));
    }

    async fn the_providers_expiry_after_a_cancel_still_reads_cancelled(app) {
        let shopper = app.browser();
        shopper.add_to_cart(1, 1).await;
        let page = shopper.pay("stripe").await;
        let reference = reference_in(&shopper.on_stripe_page(&page, "pay", "never").await);
        // The shop asked Stripe to expire the session for a cancel; Stripe's "expired" event
        // overtakes the answer.
        app.exec("UPDATE payment_attempts SET state = 'cancelling'").await;
        let (attempt, session) = app.attempt_of(&reference).await;
        let expired = stripe_event("checkout.session.expired", &attempt, &session, "unpaid", 1800, "usd");
        assert_eq!(app.stripe_event(&expired).await, StatusCode::OK);
        assert_eq!(app.status_of(&reference).await, "cancelled");
    }

    async fn money_for_an_order_already_given_up_goes_to_review(app) {
        let shopper = app.browser();
        shopper.add_to_cart(1, 1).await;
        let page = shopper.pay("stripe").await;
        let reference = reference_in(&shopper.on_stripe_page(&page, "decline", "normal").await);
        app.wait_for(&reference, "failed").await;
        let (attempt, session) = app.attempt_of(&reference).await;
        let late = stripe_event("checkout.session.async_payment_succeeded", &attempt, &session, "paid", 1800, "usd");
        assert_eq!(app.stripe_event(&late).await, StatusCode::OK);
        assert_eq!(app.status_of(&reference).await, "needs_review", "never silently refused");
    }

    async fn sslcommerz_in_bdt_pays_through_ipn_and_validation(app) {
        let shopper = app.browser();
        shopper.set_currency("BDT").await;
        shopper.add_to_cart(1, 1).await;
        let checkout = shopper.get("/checkout").await;
        assert!(checkout.offers("sslcommerz") && !checkout.offers("stripe"), "BDT offers SSLCOMMERZ only");
        let gateway = shopper.pay("sslcommerz").await;
        assert!(gateway.contains("/sandbox/sslcommerz/gwprocess/v4/gw.php?Q=pay&SESSIONKEY="), "{gateway}");
        let (action, fields) = shopper.on_sslcommerz_page(&gateway, "pay", "normal").await;
        let reference = reference_in(&action);
        app.wait_for(&reference, "paid").await;
        // The shopper's browser posts back cross-site; the page shows the confirmed status.
        let page = shopper.return_from_sslcommerz(&action, &fields).await;
        assert_eq!(page.order_status().as_deref(), Some("Paid"), "{}", page.html);
        assert!(page.contains("৳2,160.00"));
    }

    async fn sslcommerz_decline_and_cancel(app) {
        let shopper = app.browser();
        shopper.set_currency("BDT").await;
        shopper.add_to_cart(1, 1).await;
        let gateway = shopper.pay("sslcommerz").await;
        let (action, fields) = shopper.on_sslcommerz_page(&gateway, "decline", "never").await;
        let failed = reference_in(&action);
        // No IPN: the return's transaction query finds the failure.
        let page = shopper.return_from_sslcommerz(&action, &fields).await;
        assert_eq!(page.order_status().as_deref(), Some("Failed"));
        shopper.add_to_cart(1, 1).await;
        let gateway = shopper.pay("sslcommerz").await;
        let (action, _) = shopper.on_sslcommerz_page(&gateway, "cancel", "normal").await;
        let cancelled = reference_in(&action);
        app.wait_for(&cancelled, "cancelled").await;
        assert_ne!(failed, cancelled);
    }

    async fn an_sslcommerz_ipn_whose_verify_key_names_fields_it_did_not_post_pays(app) {
        let shopper = app.browser();
        shopper.set_currency("BDT").await;
        shopper.add_to_cart(1, 1).await;
        let gateway = shopper.pay("sslcommerz").await;
        let (action, fields) = shopper.on_sslcommerz_page(&gateway, "pay", "normal").await;
        // Like SSLCOMMERZ, the sandbox names its empty passthrough fields in verify_key without
        // posting them.
        let field = |k: &str| fields.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let verify_key = field("verify_key").expect("verify_key");
        assert!(verify_key.split(',').any(|k| k == "value_b"), "{verify_key}");
        assert_eq!(field("value_b"), None);
        // The IPN alone (the shopper does not come back) pays the order.
        app.wait_for(&reference_in(&action), "paid").await;
    }

    async fn an_ipn_about_an_earlier_sslcommerz_try_is_acknowledged(app) {
        use app::server::config::payments::sandbox_keys;
        let shopper = app.browser();
        shopper.set_currency("BDT").await;
        shopper.add_to_cart(1, 1).await;
        let first = shopper.pay("sslcommerz").await;
        let reference = app.latest_order().await;
        let (attempt, _) = app.attempt_of(&reference).await;
        // A second try on the same transaction at SSLCOMMERZ.
        let ipn_url = format!("{}/webhooks/sslcommerz", crate::helpers::PUBLIC_URL);
        let form: Vec<(&str, String)> = crate::pay::sslcommerz_session_fields(&ipn_url)
            .into_iter()
            .map(|(k, v)| match k {
                "store_id" => (k, sandbox_keys::SSLCOMMERZ_STORE_ID.to_string()),
                "store_passwd" => (k, sandbox_keys::SSLCOMMERZ_STORE_PASSWORD.to_string()),
                "tran_id" => (k, attempt.clone()),
                "total_amount" => (k, "2160.00".to_string()),
                _ => (k, v),
            })
            .collect();
        let session: serde_json::Value = reqwest::Client::new()
            .post(format!("{}/sandbox/sslcommerz/gwprocess/v4/api.php", app.base))
            .form(&form)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let second = session["GatewayPageURL"].as_str().expect("a second session").to_string();
        // The first try is declined (its IPN held back), then the second is cancelled.
        let (_, declined) = shopper.on_sslcommerz_page(&first, "decline", "never").await;
        shopper.on_sslcommerz_page(&second, "cancel", "never").await;
        // The first try's IPN arrives now: genuine, but not the latest try. It is acknowledged
        // (each time SSLCOMMERZ sends it), not refused for ever, and decides nothing.
        let body = serde_urlencoded::to_string(&declined).unwrap();
        for _ in 0..2 {
            let status = app
                .post_webhook("sslcommerz", "application/x-www-form-urlencoded", &[], body.clone().into_bytes())
                .await;
            assert_eq!(status, StatusCode::OK);
        }
        assert_eq!(app.status_of(&reference).await, "awaiting_payment");
        // An IPN for a try SSLCOMMERZ does not list is still refused.
        let forged: Vec<(String, String)> = declined
            .iter()
            .filter(|(k, _)| k != "verify_sign" && k != "verify_key")
            .map(|(k, v)| (k.clone(), if k == "bank_tran_id" { "SBXunknown".to_string() } else { v.clone() }))
            .collect();
        let fields: Vec<(&str, &str)> = forged.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(app.sslcommerz_ipn(&fields).await, StatusCode::BAD_REQUEST);
    }

    async fn an_ipn_the_validation_api_disowns_is_not_paid(app) {
        let shopper = app.browser();
        shopper.set_currency("BDT").await;
        shopper.add_to_cart(1, 1).await;
        let gateway = shopper.pay("sslcommerz").await;
        let _ = shopper.get(&shopper.local(&gateway)).await;
        let reference = app.latest_order().await;
        let (attempt, _) = app.attempt_of(&reference).await;
        // Correctly signed (the store password is known), but no such val_id at the provider.
        let status = app
            .sslcommerz_ipn(&[
                ("status", "VALID"),
                ("tran_id", &attempt),
                ("val_id", "2611221234forged"),
                ("amount", "2160.00"),
                ("currency", "BDT"),
            ])
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        // A tampered signature is refused before the provider is even asked.
        let status = app
            .post_webhook("sslcommerz", "application/x-www-form-urlencoded", &[],
                format!("status=VALID&tran_id={attempt}&val_id=x&verify_key=status,tran_id&verify_sign=00").into_bytes())
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(app.status_of(&reference).await, "awaiting_payment");
        assert_eq!(app.ledger_rows(&reference).await, 0);
    }

    async fn a_double_submit_makes_one_order_and_one_provider_session(app) {
        let shopper = app.browser();
        shopper.add_to_cart(1, 1).await;
        let key = shopper.checkout_key().await;
        let (a, b) = tokio::join!(shopper.pay_with_key("stripe", &key), shopper.pay_with_key("stripe", &key));
        let a = a.headers()[LOCATION].to_str().unwrap().to_string();
        let b = b.headers()[LOCATION].to_str().unwrap().to_string();
        assert!(a.contains("/c/pay/cs_test_"), "{a}");
        assert_eq!(a, b, "the same provider session");
        // A retry after a timeout, with the same key, finds the same order too.
        let c = shopper.pay_with_key("stripe", &key).await;
        assert!(c.status().is_redirection());
        assert_eq!(app.order_count().await, 1);
        assert_eq!(app.stock_of(1).await, 39, "stock reserved once");
    }

    async fn only_the_owner_or_a_merchant_sees_an_order(app) {
        let shopper = app.browser();
        shopper.add_to_cart(1, 1).await;
        let page = shopper.pay("stripe").await;
        let back = shopper.on_stripe_page(&page, "pay", "never").await;
        let reference = reference_in(&back);
        let mine = shopper.follow(&back).await;
        let link = mine.capture(r#"href="([^"]+\?key=[0-9a-f]+)""#).expect("a bookmarkable guest link");
        let json = shopper.get(&format!("/api/orders/{reference}/status")).await;
        assert_eq!(json.status, StatusCode::OK);
        let value: serde_json::Value = serde_json::from_str(&json.html).unwrap();
        assert_eq!(value["reference"], reference.as_str());
        assert_eq!(value["status"], "paid");
        assert_eq!(value["amount_minor"], 1800);
        assert_eq!(value["currency"], "USD");
        assert_eq!(value["provider"], "stripe");
        let stranger = app.browser();
        assert_eq!(stranger.get(&format!("/orders/{reference}")).await.status, StatusCode::NOT_FOUND);
        assert_eq!(stranger.get(&format!("/api/orders/{reference}/status")).await.status, StatusCode::NOT_FOUND);
        assert_eq!(stranger.get(&format!("/events/orders/{reference}")).await.status, StatusCode::NOT_FOUND);
        assert_eq!(stranger.get(&format!("/api/orders/{reference}/status?key=0000")).await.status, StatusCode::NOT_FOUND);
        let with_link = stranger.get(&stranger.local(&link)).await;
        assert_eq!(with_link.order_status().as_deref(), Some("Paid"), "the guest link opens it anywhere");
        let merchant = app.merchant().await;
        assert_eq!(merchant.get(&format!("/api/orders/{reference}/status")).await.status, StatusCode::OK);
    }

    async fn the_live_stream_reports_the_change(app) {
        let shopper = app.browser();
        shopper.add_to_cart(1, 1).await;
        let page = shopper.pay("stripe").await;
        let reference = reference_in(&shopper.on_stripe_page(&page, "pay", "never").await);
        let response = shopper
            .client
            .get(format!("{}/events/orders/{reference}", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
        let mut stream = response.bytes_stream();
        let mut seen = String::new();
        macro_rules! read_until {
            ($needle:expr) => {
                while !seen.contains($needle) {
                    let chunk = tokio::time::timeout(Duration::from_secs(10), stream.next())
                        .await
                        .expect("an event in time");
                    seen.push_str(&String::from_utf8(chunk.unwrap().unwrap().to_vec()).unwrap());
                }
            };
        }
        read_until!("awaiting_payment");
        let (attempt, session) = app.attempt_of(&reference).await;
        let event = stripe_event("checkout.session.completed", &attempt, &session, "paid", 1800, "usd");
        assert_eq!(app.stripe_event(&event).await, StatusCode::OK);
        read_until!("\"paid\"");
        assert!(seen.contains("event: status"), "{seen}");
    }
}

both_backends! {
    async fn a_customer_checkout_prefills_the_email_and_keeps_the_order(app) {
        let shopper = app.browser();
        shopper.register("buyer@example.com", "a-long-password").await.unwrap();
        shopper.add_to_cart(2, 1).await;
        let checkout = shopper.get("/checkout").await;
        assert!(checkout.contains(r#"value="buyer@example.com""#), "email pre-filled");
        let page = shopper.pay("stripe").await;
        let back = shopper.on_stripe_page(&page, "pay", "normal").await;
        let reference = reference_in(&back);
        app.wait_for(&reference, "paid").await;
        // After logging out and in again (a new session), the order is still theirs.
        shopper.submit("/", "/api/logout", &[]).await;
        shopper.log_in("buyer@example.com", "a-long-password").await.unwrap();
        assert_eq!(shopper.get(&format!("/orders/{reference}")).await.order_status().as_deref(), Some("Paid"));
    }

    async fn checkout_refuses_bad_details_with_a_clear_message(app) {
        let shopper = app.browser();
        shopper.add_to_cart(1, 1).await;
        let key = shopper.checkout_key().await;
        let response = shopper
            .post_form("/checkout", "/api/place_order", &[
                ("checkout_key", key.as_str()), ("email", "not-an-email"), ("name", "A"), ("address", "B"),
                ("city", "C"), ("postcode", "1"), ("country", "Bangladesh"), ("provider", "stripe"),
            ])
            .await;
        let page = shopper.follow(response.headers()[LOCATION].to_str().unwrap()).await;
        assert!(page.alert().is_some_and(|a| a.to_lowercase().contains("email")), "{:?}", page.alert());
        let response = shopper
            .post_form("/checkout", "/api/place_order", &[
                ("checkout_key", key.as_str()), ("email", "a@b.co"), ("name", "A"), ("address", "B"),
                ("city", "C"), ("postcode", "1"), ("country", "Bangladesh"), ("provider", "sslcommerz"),
            ])
            .await;
        let page = shopper.follow(response.headers()[LOCATION].to_str().unwrap()).await;
        assert!(page.alert().is_some_and(|a| a.contains("SSLCOMMERZ cannot take")), "{:?}", page.alert());
        assert_eq!(app.order_count().await, 0);
    }
}

/// A provider that does not answer: a clear message, the order kept, and Pay again reuses it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_outage_keeps_the_order_for_a_retry() {
    let app = spawn_app_with(
        Backend::Sqlite,
        &[("STRIPE_API_BASE", "http://127.0.0.1:9")],
    )
    .await;
    let shopper = app.browser();
    shopper.add_to_cart(1, 1).await;
    let key = shopper.checkout_key().await;
    let response = shopper.pay_with_key("stripe", &key).await;
    let page = shopper
        .follow(response.headers()[LOCATION].to_str().unwrap())
        .await;
    let alert = page.alert().expect("an error message");
    assert!(
        alert.contains("Stripe is not answering") && alert.contains("ORD-000001"),
        "{alert}"
    );
    assert_eq!(
        shopper.cart().await.line_quantity(1),
        Some(1),
        "the cart is kept"
    );
    let again = shopper
        .pay_with_key("stripe", &shopper.checkout_key().await)
        .await;
    let page = shopper
        .follow(again.headers()[LOCATION].to_str().unwrap())
        .await;
    assert!(
        page.alert().is_some_and(|a| a.contains("ORD-000001")),
        "the same order"
    );
    assert_eq!(app.order_count().await, 1);
    assert_eq!(
        app.attempt_of("ORD-000001").await.0,
        app.attempt_ref("ORD-000001", 1),
        "the same attempt and idempotency key: the provider may have opened a session"
    );
}

/// With PostgreSQL, a webhook handled by one instance reaches a shopper streaming from another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_status_crosses_instances_on_postgres() {
    let a = crate::helpers::spawn_app(Backend::Postgres).await;
    let b = a.another_instance().await;
    let shopper = a.browser();
    shopper.add_to_cart(1, 1).await;
    let page = shopper.pay("stripe").await;
    let reference = reference_in(&shopper.on_stripe_page(&page, "pay", "never").await);
    let link_key = {
        use sqlx::Row as _;
        sqlx::query("SELECT guest_token FROM orders WHERE reference = $1")
            .bind(&reference)
            .fetch_one(&a.state.db.pool)
            .await
            .unwrap()
            .try_get::<String, _>(0)
            .unwrap()
    };
    let response = reqwest::Client::new()
        .get(format!(
            "{}/events/orders/{reference}?key={link_key}",
            b.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let mut stream = response.bytes_stream();
    let mut seen = String::new();
    crate::helpers::read_until(&mut stream, &mut seen, "awaiting_payment").await;
    let (attempt, session) = a.attempt_of(&reference).await;
    let event = stripe_event(
        "checkout.session.completed",
        &attempt,
        &session,
        "paid",
        1800,
        "usd",
    );
    assert_eq!(
        a.stripe_event(&event).await,
        StatusCode::OK,
        "handled by instance A"
    );
    // instance B's stream reports the change
    crate::helpers::read_until(&mut stream, &mut seen, "\"paid\"").await;
}

/// The SSLCOMMERZ sandbox takes the session request as multipart (how the node SDK sends it) as
/// well as form-urlencoded, and its validator answers POST like GET (the node SDK always POSTs).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sslcommerz_sandbox_speaks_what_its_sdks_send() {
    let app = crate::helpers::spawn_app(Backend::Sqlite).await;
    let client = reqwest::Client::new();
    let mut form = reqwest::multipart::Form::new();
    for (k, v) in crate::pay::sslcommerz_session_fields("") {
        form = form.text(k, v);
    }
    let init: serde_json::Value = client
        .post(format!(
            "{}/sandbox/sslcommerz/gwprocess/v4/api.php",
            app.base
        ))
        .multipart(form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(init["status"], "SUCCESS", "{init}");
    assert!(init["GatewayPageURL"]
        .as_str()
        .unwrap()
        .contains("SESSIONKEY="));
    let missing: serde_json::Value = client
        .post(format!(
            "{}/sandbox/sslcommerz/gwprocess/v4/api.php",
            app.base
        ))
        .form(&[("store_id", "testbox"), ("store_passwd", "qwerty")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(missing["status"], "FAILED");
    assert!(
        missing["failedreason"]
            .as_str()
            .unwrap()
            .contains("total_amount"),
        "{missing}"
    );
    let query: serde_json::Value = client
        .post(format!(
            "{}/sandbox/sslcommerz/validator/api/merchantTransIDvalidationAPI.php?tran_id=SDK-1&store_id=testbox&store_passwd=qwerty&format=json",
            app.base
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(query["APIConnect"], "DONE");
    assert_eq!(query["no_of_trans_found"], 0, "nothing paid yet");
}

/// With real Stripe keys the Stripe sandbox is not mounted, so nobody can mint signed events
/// through it; the SSLCOMMERZ sandbox (still in use) stays. Sandbox URLs must be http(s).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sandbox_exists_only_while_its_provider_uses_it() {
    let app = spawn_app_with(
        Backend::Sqlite,
        &[
            ("STRIPE_SECRET_KEY", "sk_test_real_looking"),
            ("STRIPE_WEBHOOK_SECRET", "whsec_real_looking"),
        ],
    )
    .await;
    let client = reqwest::Client::new();
    let stripe = client
        .post(format!("{}/sandbox/stripe/v1/checkout/sessions", app.base))
        .bearer_auth("sk_test_x")
        .form(&[("mode", "payment")])
        .send()
        .await
        .unwrap();
    assert_eq!(stripe.status(), StatusCode::NOT_FOUND);
    let sslcommerz: serde_json::Value = client
        .post(format!(
            "{}/sandbox/sslcommerz/gwprocess/v4/api.php",
            app.base
        ))
        .form(&[("store_id", "x")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        sslcommerz["status"], "FAILED",
        "the SSLCOMMERZ sandbox still answers"
    );

    let sandbox = crate::helpers::spawn_app(Backend::Sqlite).await;
    let refused = crate::pay::stripe_sandbox_session(
        &sandbox.base,
        &[("success_url", "javascript:alert(1)")],
    )
    .await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
}

/// A Stripe stand-in in front of another shop's Stripe sandbox: it passes every call on, keeps
/// each session create's body, and answers the first create with a gateway timeout after a
/// second (the session was made; its answer is lost).
struct TimingOutStripe {
    target: String,
    creates: std::sync::Mutex<Vec<(String, Vec<u8>)>>,
}

async fn timing_out_stripe_call(
    axum::extract::State(proxy): axum::extract::State<std::sync::Arc<TimingOutStripe>>,
    method: axum::http::Method,
    uri: axum::http::Uri,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let mut request = reqwest::Client::new()
        .request(method.clone(), format!("{}{path}", proxy.target))
        .body(body.clone());
    for name in [
        "authorization",
        "idempotency-key",
        "content-type",
        "stripe-version",
    ] {
        if let Some(value) = headers.get(name) {
            request = request.header(name, value.as_bytes());
        }
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    if method == axum::http::Method::POST && uri.path() == "/v1/checkout/sessions" {
        let key = headers
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let first = {
            let mut creates = proxy.creates.lock().unwrap();
            creates.push((key, body.to_vec()));
            creates.len() == 1
        };
        if first {
            // The gateway gives up after a while: the retry comes in a later second.
            tokio::time::sleep(Duration::from_millis(1100)).await;
            return (axum::http::StatusCode::GATEWAY_TIMEOUT, "upstream timeout").into_response();
        }
    }
    (
        axum::http::StatusCode::from_u16(status).unwrap(),
        [("content-type", "application/json")],
        text,
    )
        .into_response()
}

/// A session whose answer was lost is asked for again under the same `Idempotency-Key` with
/// byte-identical parameters (its `expires_at` counted from the attempt, not from the call), so
/// Stripe answers with the same session instead of `idempotency_error`. The hold is shorter than
/// Stripe's 30-minute floor, where `expires_at` is not simply the order's hold.
async fn a_stripe_session_asked_for_again_later_is_the_same_session(backend: Backend) {
    let provider = crate::helpers::spawn_app(backend).await;
    let proxy = std::sync::Arc::new(TimingOutStripe {
        target: format!("{}/sandbox/stripe", provider.base),
        creates: std::sync::Mutex::new(Vec::new()),
    });
    let router = axum::Router::new()
        .fallback(timing_out_stripe_call)
        .with_state(proxy.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy_url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    let app = spawn_app_with(
        backend,
        &[("STRIPE_API_BASE", &proxy_url), ("ORDER_HOLD_MINUTES", "5")],
    )
    .await;
    let shopper = app.browser();
    shopper.add_to_cart(1, 1).await;
    let refused = shopper
        .pay_with_key("stripe", &shopper.checkout_key().await)
        .await;
    let location = refused.headers()[LOCATION].to_str().unwrap().to_string();
    assert!(
        location.contains("__err"),
        "the lost answer is an error: {location}"
    );
    // Pay again: the same attempt, the same key, the same parameters, the same session.
    let page = shopper.pay("stripe").await;
    assert!(page.contains("/c/pay/cs_test_"), "{page}");
    let creates = proxy.creates.lock().unwrap().clone();
    assert_eq!(creates.len(), 2);
    assert_eq!(creates[0].0, creates[1].0, "the same Idempotency-Key");
    assert_eq!(
        String::from_utf8_lossy(&creates[0].1),
        String::from_utf8_lossy(&creates[1].1),
        "the same parameters"
    );
    let sessions: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM sandbox_objects WHERE id LIKE 'cs_%'")
            .fetch_one(&provider.sandbox().db.pool)
            .await
            .unwrap();
    assert_eq!(sessions, 1, "Stripe made one session");
}

crate::helpers::on_both_backends!(a_stripe_session_asked_for_again_later_is_the_same_session);

/// The Stripe sandbox, like Stripe, remembers what each `Idempotency-Key` was first used with: the
/// same key with other parameters is a 400 `idempotency_error`, the same parameters a replay.
async fn the_stripe_sandbox_refuses_a_key_reused_with_other_parameters(backend: Backend) {
    let app = crate::helpers::spawn_app(backend).await;
    let create = |expires_at: i64| {
        let now = app::server::payments::now_secs();
        reqwest::Client::new()
            .post(format!("{}/sandbox/stripe/v1/checkout/sessions", app.base))
            .bearer_auth(app::server::config::payments::sandbox_keys::STRIPE_SECRET_KEY)
            .header("Idempotency-Key", "ORD-000099-A1")
            .form(&[
                ("mode", "payment".to_string()),
                ("success_url", format!("{}/s", crate::helpers::PUBLIC_URL)),
                ("line_items[0][price_data][currency]", "usd".into()),
                ("line_items[0][price_data][unit_amount]", "1800".into()),
                (
                    "line_items[0][price_data][product_data][name]",
                    "Tote".into(),
                ),
                ("line_items[0][quantity]", "1".into()),
                ("expires_at", (now + expires_at).to_string()),
            ])
            .send()
    };
    let first = create(3600).await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    let later = create(3601).await.unwrap();
    assert_eq!(later.status(), StatusCode::BAD_REQUEST);
    let error: serde_json::Value = later.json().await.unwrap();
    assert_eq!(error["error"]["type"], "idempotency_error", "{error}");
}

crate::helpers::on_both_backends!(the_stripe_sandbox_refuses_a_key_reused_with_other_parameters);
