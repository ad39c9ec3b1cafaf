//! Refunds from the merchant's order page, through the built-in Stripe and SSLCOMMERZ sandboxes:
//! full and partial refunds, over-refunds, two refunds at once, a provider's refusal, a refund
//! that fails after it was accepted, and who may ask. Product 1 (Canvas Tote) is $18.00 /
//! ৳2,160.00.

use crate::helpers::{both_backends, Browser, TestApp};
use crate::pay::reference_in;
use reqwest::header::LOCATION;
use reqwest::StatusCode;
use sqlx::Row as _;
use std::time::Duration;

impl Browser {
    /// On the Stripe sandbox page press Pay with a refunds test control (`succeed`, `fail`,
    /// `refuse`); returns the order reference once the shop has it paid.
    async fn pay_stripe_with_refunds(&self, app: &TestApp, quantity: i64, refunds: &str) -> String {
        self.add_to_cart(1, quantity).await;
        let page_url = self.pay("stripe").await;
        let back = self.pay_on_stripe_page(&page_url, "normal", refunds).await;
        let reference = reference_in(&back);
        app.wait_for(&reference, "paid").await;
        reference
    }

    /// One tote bag in BDT paid on the SSLCOMMERZ sandbox page with `action` (`pay`, `risky`);
    /// returns the order reference once the shop has it in `status`.
    async fn pay_sslcommerz(&self, app: &TestApp, action: &str, status: &str) -> String {
        self.set_currency("BDT").await;
        self.add_to_cart(1, 1).await;
        let page_url = self.pay("sslcommerz").await;
        let path = self.local(&page_url);
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .form(&[
                ("action", action),
                ("webhook", "normal"),
                ("refunds", "succeed"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let reference = app.latest_order().await;
        app.wait_for(&reference, status).await;
        reference
    }
}

fn key() -> String {
    format!("refund-{}", uuid::Uuid::new_v4().simple())
}

impl TestApp {
    async fn refunded_minor(&self, reference: &str) -> i64 {
        sqlx::query("SELECT refunded_minor FROM orders WHERE reference = $1")
            .bind(reference)
            .fetch_one(&self.state.db.pool)
            .await
            .unwrap()
            .try_get(0)
            .unwrap()
    }

    /// Refund objects the Stripe sandbox made (what the provider actually paid out).
    async fn sandbox_refunds(&self) -> i64 {
        sqlx::query("SELECT COUNT(*) FROM sandbox_objects WHERE id LIKE 're_%'")
            .fetch_one(&self.sandbox().db.pool)
            .await
            .unwrap()
            .try_get(0)
            .unwrap()
    }

    /// Wait until a refund row has `status`; fail after 10 s.
    async fn wait_for_refund(&self, reference: &str, index: usize, status: &str) {
        for _ in 0..200 {
            if self
                .refund_rows(reference)
                .await
                .get(index)
                .is_some_and(|(_, s)| s == status)
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "refund {index} of {reference} never became {status}: {:?}",
            self.refund_rows(reference).await
        );
    }
}

both_backends! {
    async fn a_full_refund_makes_the_order_refunded(app) {
        let shopper = app.browser();
        let reference = shopper.pay_stripe_with_refunds(&app, 2, "succeed").await;
        let merchant = app.merchant().await;
        let said = merchant.refund(&reference, "36.00", &key()).await.unwrap();
        assert_eq!(said, "Refunded $36.00.");
        assert_eq!(app.status_of(&reference).await, "refunded");
        assert_eq!(app.refunded_minor(&reference).await, 3600);
        assert_eq!(app.refund_rows(&reference).await, vec![(3600, "succeeded".to_string())]);
        // The refund's webhooks (refund.created, and charge.refunded, which the shop ignores)
        // arrive and change nothing more.
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(app.refunded_minor(&reference).await, 3600);
        let page = shopper.get(&format!("/orders/{reference}")).await;
        assert!(page.contains("Refunded"), "{}", page.html);
        let more = merchant.refund(&reference, "0.01", &key()).await.unwrap_err();
        assert!(more.contains("Only a paid order can be refunded; this one is refunded."), "{more}");
    }

    async fn two_partial_refunds_end_in_refunded(app) {
        let reference = app.browser().pay_stripe_with_refunds(&app, 2, "succeed").await;
        let merchant = app.merchant().await;
        assert_eq!(merchant.refund(&reference, "10", &key()).await.unwrap(), "Refunded $10.00.");
        assert_eq!(app.status_of(&reference).await, "partially_refunded");
        let over = merchant.refund(&reference, "26.01", &key()).await.unwrap_err();
        assert!(over.contains("At most $26.00 can be refunded."), "{over}");
        assert_eq!(merchant.refund(&reference, "26.00", &key()).await.unwrap(), "Refunded $26.00.");
        assert_eq!(app.status_of(&reference).await, "refunded");
        assert_eq!(app.refunded_minor(&reference).await, 3600);
        assert_eq!(app.sandbox_refunds().await, 2);
    }

    async fn bad_amounts_and_unpaid_orders_are_refused_with_a_reason(app) {
        let reference = app.browser().pay_stripe_with_refunds(&app, 1, "succeed").await;
        let merchant = app.merchant().await;
        for (amount, says) in [
            ("18.01", "At most $18.00 can be refunded."),
            ("0", "The amount must be more than zero."),
            ("-5", "Enter the amount in USD as a number"),
            ("ten", "Enter the amount in USD as a number"),
            ("1.234", "Enter the amount in USD as a number"),
        ] {
            let refused = merchant.refund(&reference, amount, &key()).await.unwrap_err();
            assert!(refused.contains(says), "{amount}: {refused}");
        }
        let refused = merchant.refund(&reference, "1", "bad key!").await.unwrap_err();
        assert!(refused.contains("This refund form has expired"), "{refused}");
        assert_eq!(app.refund_rows(&reference).await, vec![]);
        assert_eq!(app.status_of(&reference).await, "paid");
        // An order still awaiting payment has nothing to refund.
        let shopper = app.browser();
        shopper.add_to_cart(1, 1).await;
        let page_url = shopper.pay("stripe").await;
        let _ = page_url;
        let awaiting = app.latest_order().await;
        let refused = merchant.refund(&awaiting, "1", &key()).await.unwrap_err();
        assert!(refused.contains("this one is awaiting payment"), "{refused}");
        let unknown = merchant.refund("ORD-999999", "1", &key()).await.unwrap_err();
        assert!(unknown.contains("Not found") || unknown.contains("NotFound"), "{unknown}");
    }

    async fn two_refunds_of_everything_at_once_refund_once(app) {
        let reference = app.browser().pay_stripe_with_refunds(&app, 2, "succeed").await;
        let (first, second) = (app.merchant().await, app.merchant().await);
        let (key_a, key_b) = (key(), key());
        let (a, b) = tokio::join!(
            first.refund(&reference, "36.00", &key_a),
            second.refund(&reference, "36.00", &key_b),
        );
        assert!(a.is_ok() != b.is_ok(), "exactly one refund goes through: {a:?} / {b:?}");
        let refused = a.err().or(b.err()).unwrap();
        assert!(refused.contains("Nothing is left to refund") || refused.contains("this one is refunded"), "{refused}");
        assert_eq!(app.refunded_minor(&reference).await, 3600);
        assert_eq!(app.sandbox_refunds().await, 1, "the provider paid out once");
    }

    async fn pressing_refund_twice_on_one_form_refunds_once(app) {
        let reference = app.browser().pay_stripe_with_refunds(&app, 2, "succeed").await;
        let merchant = app.merchant().await;
        let form_key = key();
        let (a, b) = tokio::join!(
            merchant.refund(&reference, "5.00", &form_key),
            merchant.refund(&reference, "5.00", &form_key),
        );
        for said in [a.unwrap(), b.unwrap()] {
            assert!(
                said == "Refunded $5.00." || said == "The refund of $5.00 is pending at Stripe.",
                "{said}"
            );
        }
        let again = merchant.refund(&reference, "5.00", &form_key).await.unwrap();
        assert_eq!(again, "Refunded $5.00.", "the same form, later: the same refund");
        assert_eq!(app.refund_rows(&reference).await, vec![(500, "succeeded".to_string())]);
        assert_eq!(app.refunded_minor(&reference).await, 500);
        assert_eq!(app.sandbox_refunds().await, 1);
        assert_eq!(app.status_of(&reference).await, "partially_refunded");
    }

    async fn a_providers_refusal_shows_its_reason_and_changes_nothing(app) {
        let reference = app.browser().pay_stripe_with_refunds(&app, 1, "refuse").await;
        let merchant = app.merchant().await;
        let refused = merchant.refund(&reference, "18.00", &key()).await.unwrap_err();
        assert!(refused.contains("Stripe refused the refund") && refused.contains("charged back"), "{refused}");
        assert_eq!(app.status_of(&reference).await, "paid");
        assert_eq!(app.refunded_minor(&reference).await, 0);
        assert_eq!(app.refund_rows(&reference).await, vec![(1800, "failed".to_string())]);
        // Still refundable in full: the failed refund holds nothing back.
        let again = merchant.refund(&reference, "18.00", &key()).await.unwrap_err();
        assert!(again.contains("charged back"), "{again}");
    }

    async fn a_refund_that_fails_later_gives_the_amount_back(app) {
        let reference = app.browser().pay_stripe_with_refunds(&app, 1, "fail").await;
        let merchant = app.merchant().await;
        let said = merchant.refund(&reference, "18.00", &key()).await.unwrap();
        assert_eq!(said, "The refund of $18.00 is pending at Stripe.");
        let held = merchant.refund(&reference, "0.01", &key()).await.unwrap_err();
        assert!(held.contains("Nothing is left to refund"), "a pending refund holds its amount: {held}");
        // The sandbox fails it (refund.updated → failed): the order stays paid, the money is free.
        app.wait_for_refund(&reference, 0, "failed").await;
        assert_eq!(app.status_of(&reference).await, "paid");
        assert_eq!(app.refunded_minor(&reference).await, 0);
        let retry = merchant.refund(&reference, "18.00", &key()).await.unwrap();
        assert_eq!(retry, "The refund of $18.00 is pending at Stripe.");
    }

    async fn only_merchants_may_refund(app) {
        let shopper = app.browser();
        let reference = shopper.pay_stripe_with_refunds(&app, 1, "succeed").await;
        let guest = app.browser().refund(&reference, "18.00", &key()).await.unwrap_err();
        assert!(guest.contains("Unauthorized"), "{guest}");
        let customer = app.browser();
        customer.register("buyer@example.com", "a-long-password-1").await.unwrap();
        let refused = customer.refund(&reference, "18.00", &key()).await.unwrap_err();
        assert!(refused.contains("Forbidden"), "{refused}");
        let owner = shopper.refund(&reference, "18.00", &key()).await.unwrap_err();
        assert!(owner.contains("Unauthorized"), "{owner}");
        assert_eq!(app.refund_rows(&reference).await, vec![]);
        assert_eq!(app.status_of(&reference).await, "paid");
    }

    async fn the_refund_form_works_without_javascript(app) {
        let reference = app.browser().pay_stripe_with_refunds(&app, 1, "succeed").await;
        let merchant = app.merchant().await;
        let from = format!("/admin/orders/{reference}");
        let response = merchant
            .post_form(&from, "/api/admin/refund", &[
                ("reference", reference.as_str()),
                ("amount", "99"),
                ("reason", ""),
                ("key", &key()),
                ("step", "review"),
            ])
            .await;
        assert!(response.status().is_redirection());
        let location = response.headers()[LOCATION].to_str().unwrap().to_string();
        assert!(location.contains("__err=") && location.contains("__sig="), "{location}");
        let page = merchant.get(&merchant.local(&location)).await;
        assert_eq!(page.alert().as_deref(), Some("At most $18.00 can be refunded."), "{}", page.html);
        assert_eq!(app.refund_rows(&reference).await, vec![]);
        // The form on the page: Amount empty (what is left shown beside it), a key, Reason,
        // Refund, which first asks to confirm the amount.
        assert!(page.contains(r#"name="amount""#) && page.contains(r#"placeholder="18.00""#), "{}", page.html);
        assert!(page.contains("$18.00 can still be refunded") && page.contains(r#"name="step" value="review""#));
        assert!(page.contains(">Refund</button>"));
        let form_key = page.capture(r#"name="key" value="([0-9a-f]{32})""#).expect("a form key");
        let review = merchant
            .submit(&from, "/api/admin/refund", &[
                ("reference", reference.as_str()),
                ("amount", "18"),
                ("reason", "Changed their mind"),
                ("key", &form_key),
                ("step", "review"),
            ])
            .await;
        assert!(review.contains("Refund $18.00 to the customer?"), "{}", review.html);
        assert!(review.contains(">Refund $18.00</button>") && review.contains(r#"name="amount" value="18.00""#));
        assert_eq!(app.refund_rows(&reference).await, vec![], "nothing is refunded before the confirmation");
        assert_eq!(
            review.capture(r#"name="key" value="([0-9a-f]{32})""#).as_deref(),
            Some(form_key.as_str()),
            "the confirmation carries the form's key"
        );
        assert!(!merchant.get(&from).await.contains("to the customer?"), "asked once; a reload shows the form");
        let done = merchant
            .post_form(&from, "/api/admin/refund", &[
                ("reference", reference.as_str()),
                ("amount", "18.00"),
                ("reason", "Changed their mind"),
                ("key", &form_key),
            ])
            .await;
        assert!(done.status().is_redirection());
        // Another order's page does not take the refund's message; this order's page shows it,
        // once.
        let other = app.browser().pay_stripe_with_refunds(&app, 1, "succeed").await;
        let page = merchant.get(&format!("/admin/orders/{other}")).await;
        assert_eq!(page.status(), None, "{}", page.html);
        let page = merchant.get(&from).await;
        assert!(page.contains("Changed their mind") && page.contains("Nothing is left to refund"), "{}", page.html);
        assert_eq!(page.status().as_deref(), Some("Refunded $18.00."), "{}", page.html);
        assert_eq!(merchant.get(&from).await.status(), None);
        assert_eq!(app.status_of(&reference).await, "refunded");
    }

    async fn money_under_review_can_be_given_back(app) {
        // SSLCOMMERZ flags the payment risky: the money is received but the order needs a person.
        let reference = app.browser().pay_sslcommerz(&app, "risky", "needs_review").await;
        let merchant = app.merchant().await;
        let page = merchant.get(&format!("/admin/orders/{reference}")).await;
        assert!(page.contains("Accept as paid") && page.contains(r#"placeholder="2160.00""#), "{}", page.html);
        assert_eq!(merchant.refund(&reference, "2160.00", &key()).await.unwrap(), "Refunded ৳2,160.00.");
        assert_eq!(app.status_of(&reference).await, "refunded");
    }

    async fn an_unanswered_sslcommerz_refund_is_not_asked_for_again(app) {
        // SSLCOMMERZ does not promise to recognise a repeated refund: a refund whose answer was
        // lost waits for a person, it is never sent again by the shop.
        let reference = app.browser().pay_sslcommerz(&app, "pay", "paid").await;
        // As if the refund call had timed out: pending, no provider id, the shop's note.
        app.exec(
            "INSERT INTO refunds (order_id, attempt_id, provider, idempotency_key, amount_minor, \
             currency, reason, status, failure, created_at, updated_at) \
             SELECT a.order_id, a.id, 'sslcommerz', 'lost-answer-key-1', 100000, 'BDT', 'x', \
             'pending', 'The provider did not answer yet', 0, 0 FROM payment_attempts a",
        )
        .await;
        app::server::services::reconciler::run_once(&app.state).await.unwrap();
        assert_eq!(app.refund_rows(&reference).await, vec![(100_000, "pending".to_string())]);
        let merchant = app.merchant().await;
        let said = merchant.refund(&reference, "1000.00", "lost-answer-key-1").await.unwrap();
        assert!(said.contains("SSLCOMMERZ did not answer the refund of ৳1,000.00 and may have made it"), "{said}");
        let held = merchant.refund(&reference, "1160.01", &key()).await.unwrap_err();
        assert!(held.contains("At most ৳1,160.00 can be refunded."), "the amount stays held: {held}");
        let made: i64 = sqlx::query("SELECT COUNT(*) FROM sandbox_objects WHERE data LIKE '%refund_ref_id%'")
            .fetch_one(&app.sandbox().db.pool)
            .await
            .unwrap()
            .try_get(0)
            .unwrap();
        assert_eq!(made, 0, "nothing was sent to SSLCOMMERZ");
    }

    async fn sslcommerz_refunds_in_part_then_the_rest(app) {
        let reference = app.browser().pay_sslcommerz(&app, "pay", "paid").await;
        let merchant = app.merchant().await;
        assert_eq!(merchant.refund(&reference, "1000.00", &key()).await.unwrap(), "Refunded ৳1,000.00.");
        assert_eq!(app.status_of(&reference).await, "partially_refunded");
        let over = merchant.refund(&reference, "1160.01", &key()).await.unwrap_err();
        assert!(over.contains("At most ৳1,160.00 can be refunded."), "{over}");
        assert_eq!(merchant.refund(&reference, "1160", &key()).await.unwrap(), "Refunded ৳1,160.00.");
        assert_eq!(app.status_of(&reference).await, "refunded");
        assert_eq!(app.refunded_minor(&reference).await, 216_000);
    }

    async fn stripe_refunds_are_read_from_refund_events_not_a_charges_refund_list(app) {
        // charge.refunded is not a refund statement: since API 2022-11-15 its charge lists no
        // refunds, and a list one carries (an older API version) is not read. refund.* is.
        let reference = app.browser().pay_stripe_with_refunds(&app, 1, "succeed").await;
        let (attempt, _) = app.attempt_of(&reference).await;
        let intent: String = sqlx::query("SELECT provider_payment_id FROM payment_attempts WHERE reference = $1")
            .bind(&attempt)
            .fetch_one(&app.state.db.pool)
            .await
            .unwrap()
            .try_get(0)
            .unwrap();
        let refund = |id: &str| serde_json::json!({
            "id": id, "object": "refund", "amount": 1800, "currency": "usd", "status": "succeeded",
            "payment_intent": intent, "metadata": {"attempt": attempt, "refund_key": "dashboard-key-1"},
        });
        let event = |kind: &str, object: serde_json::Value| serde_json::json!({
            "id": format!("evt_test_{}", uuid::Uuid::new_v4().simple()), "object": "event",
            "api_version": "2026-10-28.endive", "created": 1_700_000_000, "livemode": false,
            "type": kind, "data": {"object": object},
        });
        let charge = serde_json::json!({
            "id": "ch_test_1", "object": "charge", "payment_intent": intent, "amount": 1800,
            "amount_refunded": 1800, "currency": "usd", "refunded": true,
            "refunds": {"object": "list", "data": [refund("re_test_listed")]},
        });
        assert_eq!(app.stripe_event(&event("charge.refunded", charge)).await, StatusCode::OK);
        assert_eq!(app.status_of(&reference).await, "paid");
        assert!(app.refund_rows(&reference).await.is_empty());
        // The same refund as its own event (a refund made in Stripe's dashboard) is recorded.
        assert_eq!(app.stripe_event(&event("charge.refund.updated", refund("re_test_listed"))).await, StatusCode::OK);
        assert_eq!(app.refund_rows(&reference).await, vec![(1800, "succeeded".to_string())]);
        assert_eq!(app.status_of(&reference).await, "refunded");
    }

    async fn sslcommerz_refunds_send_a_short_refund_trans_id_of_their_own(app) {
        // The longest keys the refund form takes, alike in their first 99 characters: each
        // refund still gets its own refund_trans_id within SSLCOMMERZ's 30 characters.
        let reference = app.browser().pay_sslcommerz(&app, "pay", "paid").await;
        let merchant = app.merchant().await;
        let (first, second) = ("A".repeat(100), format!("{}B", "A".repeat(99)));
        assert_eq!(merchant.refund(&reference, "1000.00", &first).await.unwrap(), "Refunded ৳1,000.00.");
        assert_eq!(merchant.refund(&reference, "1160.00", &second).await.unwrap(), "Refunded ৳1,160.00.");
        assert_eq!(app.status_of(&reference).await, "refunded");
        let sessions: Vec<String> = sqlx::query("SELECT data FROM sandbox_objects WHERE id LIKE 'sslcz:%' AND data LIKE '%refund_trans_id%'")
            .fetch_all(&app.sandbox().db.pool)
            .await
            .unwrap()
            .iter()
            .map(|r| r.try_get(0).unwrap())
            .collect();
        assert_eq!(sessions.len(), 1, "{sessions:?}");
        let session: serde_json::Value = serde_json::from_str(&sessions[0]).unwrap();
        let ids: Vec<&str> = session["refunds"].as_array().unwrap().iter().map(|r| r["refund_trans_id"].as_str().unwrap()).collect();
        assert_eq!(ids.len(), 2);
        assert_ne!(ids[0], ids[1]);
        assert!(ids.iter().all(|id| !id.is_empty() && id.len() <= 30), "{ids:?}");
    }
}

/// A Stripe stand-in in front of another shop's Stripe sandbox: it passes every call on, but
/// loses the answer of the first refund (a gateway timeout after the refund was made).
struct LosingProxy {
    target: String,
    lose: std::sync::atomic::AtomicUsize,
    refund_keys: std::sync::Mutex<Vec<String>>,
}

async fn losing_proxy_call(
    axum::extract::State(proxy): axum::extract::State<std::sync::Arc<LosingProxy>>,
    method: axum::http::Method,
    uri: axum::http::Uri,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    use std::sync::atomic::Ordering;
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let mut request = reqwest::Client::new()
        .request(method.clone(), format!("{}{path}", proxy.target))
        .body(body);
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
    if method == axum::http::Method::POST && uri.path() == "/v1/refunds" {
        let key = headers
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        proxy.refund_keys.lock().unwrap().push(key.to_string());
        let lost = proxy
            .lose
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if lost {
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

/// A refund whose answer was lost is pending, holds its amount, and is asked for again with the
/// same key (by the reconciler, or by pressing the same form again): the provider refunds once.
async fn a_refund_whose_answer_was_lost_is_made_once(backend: crate::helpers::Backend) {
    use crate::helpers::spawn_app_with;
    let provider = crate::helpers::spawn_app(backend).await;
    let proxy = std::sync::Arc::new(LosingProxy {
        target: format!("{}/sandbox/stripe", provider.base),
        lose: std::sync::atomic::AtomicUsize::new(1),
        refund_keys: std::sync::Mutex::new(Vec::new()),
    });
    let router = axum::Router::new()
        .fallback(losing_proxy_call)
        .with_state(proxy.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy_url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    let app = spawn_app_with(backend, &[("STRIPE_API_BASE", &proxy_url)]).await;

    let shopper = app.browser();
    shopper.add_to_cart(1, 1).await;
    let page_url = shopper.pay("stripe").await;
    // The shopper pays on the provider's page (the other shop's sandbox).
    let at_provider = provider.browser();
    let path = at_provider.local(&page_url);
    let paid = at_provider
        .client
        .post(format!("{}{path}", at_provider.base))
        .form(&[
            ("action", "pay"),
            ("webhook", "never"),
            ("refunds", "succeed"),
        ])
        .send()
        .await
        .unwrap();
    let back = paid.headers()[LOCATION].to_str().unwrap().to_string();
    let reference = reference_in(&back);
    assert_eq!(
        shopper.follow(&back).await.order_status().as_deref(),
        Some("Paid")
    );

    let merchant = app.merchant().await;
    let form_key = key();
    let said = merchant
        .refund(&reference, "18.00", &form_key)
        .await
        .unwrap();
    assert!(
        said.starts_with("Stripe did not answer. The refund of $18.00 is pending"),
        "{said}"
    );
    assert_eq!(
        app.refund_rows(&reference).await,
        vec![(1800, "pending".to_string())]
    );
    assert_eq!(provider.sandbox_refunds().await, 1, "the provider made it");
    let held = merchant
        .refund(&reference, "1.00", &key())
        .await
        .unwrap_err();
    assert!(held.contains("Nothing is left to refund"), "{held}");
    assert_eq!(app.status_of(&reference).await, "paid");

    // The reconciler asks again once it is due, with the same key: the provider replays.
    app.exec("UPDATE refunds SET updated_at = 0").await;
    app::server::services::reconciler::run_once(&app.state)
        .await
        .unwrap();
    assert_eq!(
        app.refund_rows(&reference).await,
        vec![(1800, "succeeded".to_string())]
    );
    assert_eq!(app.status_of(&reference).await, "refunded");
    // Pressing the same form again tells the same refund.
    let again = merchant
        .refund(&reference, "18.00", &form_key)
        .await
        .unwrap();
    assert_eq!(again, "Refunded $18.00.");
    assert_eq!(provider.sandbox_refunds().await, 1, "refunded once");
    let keys = proxy.refund_keys.lock().unwrap().clone();
    assert_eq!(
        keys,
        vec![form_key.clone(), form_key],
        "the same key both times"
    );
}

crate::helpers::on_both_backends!(a_refund_whose_answer_was_lost_is_made_once);

/// A Stripe `refund.updated` naming `attempt` in its metadata, about a succeeded refund of
/// `payment_intent` that the shop never asked for.
fn refund_notice(attempt: &str, payment_intent: &str) -> serde_json::Value {
    let refund_id = format!("re_test_{}", uuid::Uuid::new_v4().simple());
    serde_json::json!({
        "id": format!("evt_test_{}", uuid::Uuid::new_v4().simple()),
        "object": "event",
        "api_version": "2026-10-28.endive",
        "created": 1_700_000_000,
        "livemode": false,
        "type": "refund.updated",
        "data": {"object": {
            "id": refund_id,
            "object": "refund",
            "status": "succeeded",
            "amount": 1800,
            "currency": "usd",
            "payment_intent": payment_intent,
            "metadata": {"attempt": attempt},
        }},
    })
}

both_backends! {
    async fn a_refund_notice_about_another_shops_payment_records_nothing(app) {
        // Another shop on the same Stripe account has its own ORD-000001-A1 and refunds its
        // payment: Stripe sends the notice here too.
        let shopper = app.browser();
        let reference = shopper.pay_stripe_with_refunds(&app, 1, "succeed").await;
        let (attempt, _) = app.attempt_of(&reference).await;
        let theirs = refund_notice(&attempt, "pi_someone_else");
        assert_eq!(app.stripe_event(&theirs).await, StatusCode::OK, "acknowledged");
        assert_eq!(app.refund_rows(&reference).await, vec![], "no refund recorded");
        assert_eq!(app.status_of(&reference).await, "paid");
        assert_eq!(app.refunded_minor(&reference).await, 0);
        let outcomes = app.inbox_outcomes().await;
        assert!(outcomes.last().is_some_and(|o| o.contains("another payment")), "{outcomes:?}");
        // A refund of this shop's own payment made in Stripe's dashboard is recorded.
        let ours: String = sqlx::query("SELECT provider_payment_id FROM payment_attempts WHERE reference = $1")
            .bind(&attempt)
            .fetch_one(&app.state.db.pool)
            .await
            .unwrap()
            .try_get(0)
            .unwrap();
        assert_eq!(app.stripe_event(&refund_notice(&attempt, &ours)).await, StatusCode::OK);
        assert_eq!(app.refund_rows(&reference).await, vec![(1800, "succeeded".to_string())]);
        assert_eq!(app.status_of(&reference).await, "refunded");
    }
}
