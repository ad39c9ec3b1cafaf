//! The payment path against its known ways to lose money or let a stranger in: a stale
//! checkout form, a provider that times out, unpaid orders that hold stock, superseded attempts,
//! second payments, signed events for another shop's session, races between a cancel and a
//! payment, a cancel link, the reconciler's batch, risky SSLCOMMERZ payments, and the webhook
//! endpoint's limits. Products: 1 Canvas Tote $18.00 (৳2,160.00; stock 40), 2 Ceramic Mug $14.00
//! (stock 60).

use crate::helpers::{both_backends, on_both_backends, spawn_app_with, Backend, Browser, TestApp};
use crate::pay::{reference_in, stripe_event};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use axum::response::IntoResponse;
use reqwest::header::LOCATION;
use reqwest::StatusCode;
use sqlx::Row as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

impl TestApp {
    /// The first column of the first row.
    async fn one<T>(&self, sql: &str) -> T
    where
        T: for<'r> sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>,
    {
        sqlx::query(sql)
            .fetch_one(&self.state.db.pool)
            .await
            .expect(sql)
            .try_get(0)
            .unwrap()
    }

    async fn text(&self, sql: &str) -> String {
        self.one(sql).await
    }

    pub(crate) async fn number(&self, sql: &str) -> i64 {
        self.one(sql).await
    }

    /// A second attempt `-A2` on the order, open at the provider with session `session`: what a
    /// Pay after a refusal makes.
    async fn second_attempt(&self, reference: &str, session: &str) -> String {
        self.exec(&format!(
            "INSERT INTO payment_attempts (order_id, reference, provider, state, provider_session_id, \
             created_at, updated_at) SELECT id, '{reference}-A2', 'stripe', 'open', '{session}', 0, 0 \
             FROM orders WHERE reference = '{reference}'"
        ))
        .await;
        format!("{reference}-A2")
    }

    async fn attempt_state(&self, attempt: &str) -> String {
        self.text(&format!(
            "SELECT state FROM payment_attempts WHERE reference = '{attempt}'"
        ))
        .await
    }

    pub(crate) async fn run_reconciler(&self) -> usize {
        app::server::services::reconciler::run_once(&self.state)
            .await
            .expect("a reconciler pass")
    }
}

/// An open Stripe order (the shopper is on the sandbox's page): (reference, attempt, session).
async fn open_stripe_order(shopper: &Browser, app: &TestApp) -> (String, String, String, String) {
    shopper.add_to_cart(1, 1).await;
    let page = shopper.pay("stripe").await;
    let reference = app.latest_order().await;
    let (attempt, session) = app.attempt_of(&reference).await;
    (reference, attempt, session, page)
}

/// Where a refused form post sends the browser, and the alert shown there.
async fn refusal(shopper: &Browser, response: reqwest::Response) -> String {
    let location = response.headers()[LOCATION].to_str().unwrap().to_string();
    shopper
        .follow(&location)
        .await
        .alert()
        .unwrap_or_else(|| panic!("no alert after {location}"))
}

both_backends! {
    async fn a_changed_cart_behind_an_old_checkout_form_is_a_new_order(app) {
        let shopper = app.browser();
        shopper.add_to_cart(1, 1).await;
        let old_key = shopper.checkout_key().await;
        let first = shopper.pay_with_key("stripe", &old_key).await;
        assert!(first.status().is_redirection());
        assert_eq!(app.order_count().await, 1);
        // Another tab still has the old form: the cart is now two mugs.
        shopper.add_to_cart(2, 2).await;
        let second = shopper.pay_with_key("stripe", &old_key).await;
        let location = second.headers()[LOCATION].to_str().unwrap().to_string();
        assert!(location.contains("/sandbox/stripe/c/pay/"), "{location}");
        assert_eq!(app.order_count().await, 2, "the changed cart is a new order");
        let newest = app.latest_order().await;
        assert_eq!(
            app.number(&format!("SELECT total_minor FROM orders WHERE reference = '{newest}'")).await,
            2800,
            "the new order charges the new cart"
        );
        assert_eq!(app.stock_of(2).await, 58, "the mugs are reserved");
        // The same form pressed twice for the same cart is still one order.
        let again = shopper.pay_with_key("stripe", &old_key).await;
        assert!(again.status().is_redirection());
        assert_eq!(app.order_count().await, 2);
    }

    async fn an_unpaid_order_expires_when_its_hold_runs_out(app) {
        let shopper = app.browser();
        let (reference, attempt, session, page) = open_stripe_order(&shopper, &app).await;
        assert_eq!(app.stock_of(1).await, 39);
        // Stripe is asked to expire the session when the hold ends (60 minutes by default).
        let hold_until = app
            .number(&format!("SELECT hold_until FROM orders WHERE reference = '{reference}'"))
            .await;
        let stripe: serde_json::Value = reqwest::Client::new()
            .get(format!("{}/sandbox/stripe/v1/checkout/sessions/{session}", app.base))
            .bearer_auth("sk_test_x")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(stripe["expires_at"].as_i64(), Some(hold_until / 1000));
        assert_eq!(app.run_reconciler().await, 0, "nothing is due yet");
        assert_eq!(app.status_of(&reference).await, "awaiting_payment");

        app.exec("UPDATE orders SET hold_until = 1").await;
        assert_eq!(app.run_reconciler().await, 1);
        assert_eq!(app.status_of(&reference).await, "expired");
        assert_eq!(app.stock_of(1).await, 40, "the stock is back");
        assert_eq!(app.attempt_state(&attempt).await, "expired");
        let closed = shopper.get(&shopper.local(&page)).await;
        assert_eq!(closed.status, StatusCode::GONE, "the session was closed at the provider");
        // Money that still arrives goes to a person.
        let late = stripe_event("checkout.session.completed", &attempt, &session, "paid", 1800, "usd");
        assert_eq!(app.stripe_event(&late).await, StatusCode::OK);
        assert_eq!(app.status_of(&reference).await, "needs_review");
    }

    async fn a_late_failure_of_a_superseded_attempt_leaves_the_order_alone(app) {
        let shopper = app.browser();
        let (reference, first, first_session, _) = open_stripe_order(&shopper, &app).await;
        let second = app.second_attempt(&reference, "cs_test_second").await;
        let late = stripe_event("checkout.session.expired", &first, &first_session, "unpaid", 1800, "usd");
        assert_eq!(app.stripe_event(&late).await, StatusCode::OK);
        assert_eq!(app.status_of(&reference).await, "awaiting_payment", "A2 is still collecting");
        assert_eq!(app.attempt_state(&first).await, "expired", "A1 records its own end");
        let paid = stripe_event("checkout.session.completed", &second, "cs_test_second", "paid", 1800, "usd");
        assert_eq!(app.stripe_event(&paid).await, StatusCode::OK);
        assert_eq!(app.status_of(&reference).await, "paid");
        assert_eq!(app.attempt_state(&second).await, "paid");
    }

    async fn a_second_payment_for_a_paid_order_needs_review(app) {
        let shopper = app.browser();
        let (reference, first, first_session, _) = open_stripe_order(&shopper, &app).await;
        let paid = stripe_event("checkout.session.completed", &first, &first_session, "paid", 1800, "usd");
        assert_eq!(app.stripe_event(&paid).await, StatusCode::OK);
        assert_eq!(app.status_of(&reference).await, "paid");
        // The same payment reported again (another event id) changes nothing.
        let again = stripe_event("checkout.session.async_payment_succeeded", &first, &first_session, "paid", 1800, "usd");
        assert_eq!(app.stripe_event(&again).await, StatusCode::OK);
        assert_eq!(app.status_of(&reference).await, "paid");
        // Money through another attempt is a possible double charge.
        let second = app.second_attempt(&reference, "cs_test_second").await;
        let twice = stripe_event("checkout.session.completed", &second, "cs_test_second", "paid", 1800, "usd");
        assert_eq!(app.stripe_event(&twice).await, StatusCode::OK);
        assert_eq!(app.status_of(&reference).await, "needs_review");
        let outcome = app
            .text("SELECT outcome FROM payment_events ORDER BY id DESC LIMIT 1")
            .await;
        assert!(outcome.contains("double charge"), "{outcome}");
    }

    async fn a_payment_in_a_currency_the_shop_does_not_know_is_held_and_its_pages_still_work(app) {
        // A provider's statement with an empty or unknown currency: the raw value stays in the
        // ledger; nothing the attempt's reader refuses is stored, so the order's pages, the
        // admin page and later webhooks keep answering.
        let merchant = app.merchant().await;
        for currency in ["", "xts"] {
            let shopper = app.browser();
            let (reference, attempt, session, _) = open_stripe_order(&shopper, &app).await;
            let paid = stripe_event("checkout.session.completed", &attempt, &session, "paid", 1800, currency);
            assert_eq!(app.stripe_event(&paid).await, StatusCode::OK);
            assert_eq!(app.status_of(&reference).await, "needs_review", "{currency:?}");
            let raw = app
                .text(&format!(
                    "SELECT COALESCE(currency, '(none)') FROM payment_events WHERE attempt_id = \
                     (SELECT id FROM payment_attempts WHERE reference = '{attempt}') ORDER BY id DESC LIMIT 1"
                ))
                .await;
            assert!(raw.eq_ignore_ascii_case(currency), "the ledger keeps what the provider said: {raw:?}");
            let page = shopper.get(&format!("/orders/{reference}")).await;
            assert_eq!(page.status, StatusCode::OK, "{}", page.html);
            assert_eq!(page.order_status().as_deref(), Some("Needs review"), "{}", page.html);
            let admin = merchant.get(&format!("/admin/orders/{reference}")).await;
            assert_eq!(admin.status, StatusCode::OK, "{}", admin.html);
            let note = app
                .text(&format!(
                    "SELECT outcome FROM payment_events WHERE attempt_id = \
                     (SELECT id FROM payment_attempts WHERE reference = '{attempt}') ORDER BY id DESC LIMIT 1"
                ))
                .await;
            assert!(note.contains("currency this shop does not know"), "{note}");
            // A later statement about the same attempt is still read and recorded.
            let again = stripe_event("checkout.session.completed", &attempt, &session, "paid", 1800, "usd");
            assert_eq!(app.stripe_event(&again).await, StatusCode::OK);
            assert_eq!(app.status_of(&reference).await, "needs_review");
        }
    }

    async fn a_signed_event_about_another_session_is_ignored(app) {
        let shopper = app.browser();
        let (reference, attempt, _, _) = open_stripe_order(&shopper, &app).await;
        // Another shop on the same Stripe account also has an ORD-000001-A1.
        let theirs = stripe_event("checkout.session.completed", &attempt, "cs_test_someone_else", "paid", 1800, "usd");
        assert_eq!(app.stripe_event(&theirs).await, StatusCode::OK, "acknowledged, so Stripe stops");
        assert_eq!(app.status_of(&reference).await, "awaiting_payment");
        assert_eq!(app.ledger_rows(&reference).await, 0);
        let outcomes = app.inbox_outcomes().await;
        assert!(outcomes.last().is_some_and(|o| o.contains("another session")), "{outcomes:?}");
    }

    async fn a_cancel_link_changes_nothing_and_the_cancel_button_posts(app) {
        let shopper = app.browser();
        shopper.add_to_cart(1, 1).await;
        let stripe_page = shopper.pay("stripe").await;
        let back = shopper.on_stripe_page(&stripe_page, "cancel", "normal").await;
        assert!(back.contains("/payments/stripe/cancel/ORD-"), "{back}");
        let reference = reference_in(&back);
        // Following the link (or a link planted on another site) only shows the order.
        let page = shopper.follow(&back).await;
        assert_eq!(page.order_status().as_deref(), Some("Awaiting payment"), "{}", page.html);
        assert!(page.contains(">Cancel order<"), "{}", page.html);
        assert_eq!(app.status_of(&reference).await, "awaiting_payment");
        let action = format!("/payments/stripe/cancel/{reference}");
        // A stranger cannot cancel it, and neither can a post from another site.
        let stranger = app.browser();
        let refused = stranger.post_form("/", &action, &[("key", "")]).await;
        assert_eq!(refused.status(), StatusCode::NOT_FOUND);
        let cross_site = shopper
            .client
            .post(format!("{}{action}", app.base))
            .header("sec-fetch-site", "cross-site")
            .form(&[("key", "")])
            .send()
            .await
            .unwrap();
        assert_eq!(cross_site.status(), StatusCode::FORBIDDEN);
        assert_eq!(app.status_of(&reference).await, "awaiting_payment");
        // The owner's button does.
        let page = shopper.submit(&format!("/orders/{reference}"), &action, &[("key", "")]).await;
        assert_eq!(page.order_status().as_deref(), Some("Cancelled"), "{}", page.html);
        assert_eq!(app.stock_of(1).await, 40);
        let closed = shopper.get(&shopper.local(&stripe_page)).await;
        assert_eq!(closed.status, StatusCode::GONE, "the session can no longer be paid");
    }

    async fn a_cancel_and_a_payment_at_the_same_moment_never_lose_the_money(app) {
        let shopper = app.browser();
        let (reference, attempt, session, _) = open_stripe_order(&shopper, &app).await;
        let action = format!("/payments/stripe/cancel/{reference}");
        let paid = stripe_event("checkout.session.completed", &attempt, &session, "paid", 1800, "usd");
        let from = format!("/orders/{reference}");
        let (cancel, webhook) = tokio::join!(
            shopper.post_form(&from, &action, &[("key", "")]),
            app.stripe_event(&paid)
        );
        assert!(cancel.status().is_redirection());
        assert_eq!(webhook, StatusCode::OK);
        let status = app.status_of(&reference).await;
        assert!(
            status == "paid" || status == "needs_review",
            "money was taken: the order is {status}, never cancelled or awaiting"
        );
    }

    async fn a_risky_sslcommerz_payment_needs_review(app) {
        let shopper = app.browser();
        shopper.set_currency("BDT").await;
        shopper.add_to_cart(1, 1).await;
        let gateway = shopper.pay("sslcommerz").await;
        let (action, _) = shopper.on_sslcommerz_page(&gateway, "risky", "normal").await;
        let reference = reference_in(&action);
        app.wait_for(&reference, "needs_review").await;
        let outcome = app
            .text("SELECT outcome FROM payment_events ORDER BY id DESC LIMIT 1")
            .await;
        assert!(outcome.contains("risk level 1"), "{outcome}");
    }
}

/// A Stripe stand-in that answers `POST /v1/checkout/sessions` like Stripe, after failing the
/// first `fail` calls with a gateway timeout (as if the answer was lost on the way back).
#[derive(Default)]
struct FlakyStripe {
    fail: AtomicUsize,
    calls: Mutex<Vec<(String, String)>>,
}

async fn flaky_create(
    State(fake): State<Arc<FlakyStripe>>,
    headers: HeaderMap,
    body: String,
) -> axum::response::Response {
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    fake.calls.lock().unwrap().push((key, body.clone()));
    if fake
        .fail
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
    {
        return (AxumStatus::GATEWAY_TIMEOUT, "upstream timeout").into_response();
    }
    let form: Vec<(String, String)> = serde_urlencoded::from_str(&body).unwrap();
    let get = |k: &str| {
        form.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
    };
    axum::Json(serde_json::json!({
        "id": "cs_test_flaky_1",
        "object": "checkout.session",
        "url": "https://checkout.flaky.test/c/pay/cs_test_flaky_1",
        "status": "open",
        "payment_status": "unpaid",
        "client_reference_id": get("client_reference_id"),
        "currency": get("line_items[0][price_data][currency]"),
        "amount_total": 1800,
    }))
    .into_response()
}

async fn flaky_stripe(fail: usize) -> (String, Arc<FlakyStripe>) {
    let fake = Arc::new(FlakyStripe {
        fail: AtomicUsize::new(fail),
        ..FlakyStripe::default()
    });
    let router = axum::Router::new()
        .route("/v1/checkout/sessions", axum::routing::post(flaky_create))
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    (url, fake)
}

/// A provider that times out may have opened the session: the same attempt is retried with the
/// same idempotency key (by the shopper's next Pay or by the reconciler), never a new one.
async fn a_provider_timeout_is_retried_with_the_same_attempt_and_key(backend: Backend) {
    let (stripe, fake) = flaky_stripe(1).await;
    let app = spawn_app_with(backend, &[("STRIPE_API_BASE", &stripe)]).await;
    let shopper = app.browser();
    shopper.add_to_cart(1, 1).await;
    let key = shopper.checkout_key().await;
    let alert = refusal(&shopper, shopper.pay_with_key("stripe", &key).await).await;
    assert!(
        alert.contains("Stripe is not answering") && alert.contains("ORD-000001"),
        "{alert}"
    );
    assert!(
        !alert.contains("upstream timeout"),
        "the provider's own text is not shown"
    );
    assert_eq!(
        app.attempt_state(&app.attempt_ref("ORD-000001", 1)).await,
        "error"
    );
    assert_eq!(app.stock_of(1).await, 39);
    // The shopper walks away; the reconciler asks again once it is due.
    app.exec("UPDATE payment_attempts SET next_lookup_at = 0")
        .await;
    assert_eq!(app.run_reconciler().await, 1);
    assert_eq!(
        app.attempt_state(&app.attempt_ref("ORD-000001", 1)).await,
        "open"
    );
    // Pay again goes to the session the provider opened, without another call.
    let again = shopper
        .pay_with_key("stripe", &shopper.checkout_key().await)
        .await;
    assert_eq!(
        again.headers()[LOCATION].to_str().unwrap(),
        "https://checkout.flaky.test/c/pay/cs_test_flaky_1"
    );
    let calls = fake.calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert!(
        calls
            .iter()
            .all(|(key, _)| key == &app.attempt_ref("ORD-000001", 1)),
        "{calls:?}"
    );
    assert_eq!(calls[0].1, calls[1].1, "the same request both times");
    assert_eq!(app.order_count().await, 1);
    assert_eq!(
        app.attempt_of("ORD-000001").await,
        (app.attempt_ref("ORD-000001", 1), "cs_test_flaky_1".into())
    );
    assert_eq!(app.stock_of(1).await, 39, "stock reserved once");
}

/// When the provider cannot close the session, Cancel order says so in the shop's words and the
/// order stays as it was.
async fn a_cancel_the_provider_cannot_carry_out_says_so(backend: Backend) {
    // The fake opens sessions but has no expire call: Stripe's answer to it is a 404.
    let (stripe, _fake) = flaky_stripe(0).await;
    let app = spawn_app_with(backend, &[("STRIPE_API_BASE", &stripe)]).await;
    let shopper = app.browser();
    shopper.add_to_cart(1, 1).await;
    shopper.pay("stripe").await;
    let action = "/payments/stripe/cancel/ORD-000001";
    let response = shopper
        .post_form("/orders/ORD-000001", action, &[("key", "")])
        .await;
    let location = response.headers()[LOCATION].to_str().unwrap().to_string();
    assert_eq!(location, "/orders/ORD-000001?cancel=failed");
    let page = shopper.get(&location).await;
    assert_eq!(
        page.alert().as_deref(),
        Some("We could not cancel this order just now. Please try again in a moment.")
    );
    assert_eq!(app.status_of("ORD-000001").await, "awaiting_payment");
    assert_eq!(app.stock_of(1).await, 39);
}

/// After a failed Pay the form is kept; choosing another currency and method makes a new order
/// instead of charging the old one.
async fn another_method_after_a_failed_pay_is_a_new_order(backend: Backend) {
    let (stripe, _fake) = flaky_stripe(usize::MAX).await;
    let app = spawn_app_with(backend, &[("STRIPE_API_BASE", &stripe)]).await;
    let shopper = app.browser();
    shopper.add_to_cart(1, 1).await;
    let key = shopper.checkout_key().await;
    refusal(&shopper, shopper.pay_with_key("stripe", &key).await).await;
    shopper.set_currency("BDT").await;
    assert_eq!(
        shopper.checkout_key().await,
        key,
        "the form's key is kept after a failure"
    );
    let response = shopper.pay_with_key("sslcommerz", &key).await;
    let location = response.headers()[LOCATION].to_str().unwrap().to_string();
    assert!(location.contains("/sandbox/sslcommerz/"), "{location}");
    assert_eq!(app.order_count().await, 2);
    assert_eq!(
        app.text("SELECT currency FROM orders WHERE reference = 'ORD-000002'")
            .await,
        "BDT"
    );
}

/// A shopper may hold only MAX_OPEN_ORDERS_PER_SESSION unpaid orders.
async fn unpaid_orders_per_session_are_capped(backend: Backend) {
    let app = spawn_app_with(backend, &[("MAX_OPEN_ORDERS_PER_SESSION", "2")]).await;
    let shopper = app.browser();
    for _ in 0..2 {
        shopper.add_to_cart(1, 1).await;
        shopper.pay("stripe").await;
    }
    shopper.add_to_cart(1, 1).await;
    let key = shopper.checkout_key().await;
    let alert = refusal(&shopper, shopper.pay_with_key("stripe", &key).await).await;
    assert!(
        alert.contains("You already have 2 unpaid orders"),
        "{alert}"
    );
    assert_eq!(app.order_count().await, 2);
    assert_eq!(
        app.stock_of(1).await,
        38,
        "the third order reserved nothing"
    );
    // Cancelling one makes room.
    let action = "/payments/stripe/cancel/ORD-000001";
    shopper
        .submit("/orders/ORD-000001", action, &[("key", "")])
        .await;
    assert_eq!(app.status_of("ORD-000001").await, "cancelled");
    let response = shopper.pay_with_key("stripe", &key).await;
    assert!(response.headers()[LOCATION]
        .to_str()
        .unwrap()
        .contains("/sandbox/stripe/"));
    assert_eq!(app.order_count().await, 3);
}

/// One attempt's failure does not abort the reconciler's pass, and attempts of a provider this
/// shop does not have never take a lookup slot.
async fn the_reconciler_goes_on_past_a_failure_and_skips_unconfigured_providers(backend: Backend) {
    let app = crate::helpers::spawn_app(backend).await;
    let mut references = Vec::new();
    for _ in 0..2 {
        let shopper = app.browser();
        shopper.add_to_cart(1, 1).await;
        let page = shopper.pay("stripe").await;
        references.push(reference_in(
            &shopper.on_stripe_page(&page, "pay", "never").await,
        ));
    }
    // The first order's row is corrupt (a status this version does not know); it comes first.
    app.exec(&format!(
        "UPDATE orders SET status = 'shipped' WHERE reference = '{}'",
        references[0]
    ))
    .await;
    app.exec(&format!(
        "UPDATE payment_attempts SET next_lookup_at = 1 WHERE reference = '{}'",
        app.attempt_ref(&references[0], 1)
    ))
    .await;
    app.exec(&format!(
        "UPDATE payment_attempts SET next_lookup_at = 2 WHERE reference = '{}'",
        app.attempt_ref(&references[1], 1)
    ))
    .await;
    app.exec(&format!(
        "INSERT INTO payment_attempts (order_id, reference, provider, state, provider_session_id, \
         next_lookup_at, created_at, updated_at) SELECT id, 'ORD-000009-A1', 'worldpay', 'open', 'wp-txn-1', 0, 0, 0 \
         FROM orders WHERE reference = '{}'",
        references[0]
    ))
    .await;
    app.run_reconciler().await;
    assert_eq!(
        app.status_of(&references[1]).await,
        "paid",
        "the pass went on"
    );
    assert_eq!(
        app.number("SELECT lookups FROM payment_attempts WHERE reference = 'ORD-000009-A1'")
            .await,
        0,
        "a provider this shop does not have (every one of its own is configured in sandbox mode): its attempt is not touched"
    );
}

/// The webhook endpoint's limits: a body over 256 KB is refused unread, a delivery that fails its
/// signature check is kept only in part, and an address that keeps sending forgeries is refused
/// while signed deliveries from it still go through.
async fn the_webhook_endpoint_limits_what_it_reads_and_keeps(backend: Backend) {
    let app = crate::helpers::spawn_app(backend).await;
    let huge = vec![b'x'; 300 * 1024];
    let status = app
        .post_webhook(
            "stripe",
            "application/json",
            &[("stripe-signature", "t=1,v1=00".into())],
            huge,
        )
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(app.inbox_outcomes().await.len(), 0, "nothing stored");

    let forged = vec![b'y'; 20 * 1024];
    let mut statuses = Vec::new();
    for _ in 0..40 {
        statuses.push(
            app.post_webhook(
                "stripe",
                "application/json",
                &[("stripe-signature", "t=1,v1=00".into())],
                forged.clone(),
            )
            .await,
        );
    }
    assert_eq!(statuses[0], StatusCode::BAD_REQUEST);
    assert_eq!(*statuses.last().unwrap(), StatusCode::TOO_MANY_REQUESTS);
    let stored = app.number("SELECT COUNT(*) FROM webhook_inbox").await;
    assert!(
        (1..40).contains(&stored),
        "only the first forgeries are kept: {stored}"
    );
    assert!(
        app.number("SELECT MAX(LENGTH(body)) FROM webhook_inbox")
            .await
            <= 2048,
        "a rejected body is kept only in part"
    );

    // A signed delivery from the same address is still taken.
    let shopper = app.browser();
    let (reference, attempt, session, _) = open_stripe_order(&shopper, &app).await;
    let paid = stripe_event(
        "checkout.session.completed",
        &attempt,
        &session,
        "paid",
        1800,
        "usd",
    );
    assert_eq!(app.stripe_event(&paid).await, StatusCode::OK);
    assert_eq!(app.status_of(&reference).await, "paid");
    let body: i64 = app
        .number("SELECT LENGTH(body) FROM webhook_inbox ORDER BY id DESC LIMIT 1")
        .await;
    assert_eq!(
        body as usize,
        paid.to_string().len(),
        "an accepted delivery is kept whole"
    );

    // A week on, the rejected deliveries are pruned; the accepted one stays.
    app.exec("UPDATE webhook_inbox SET received_at = received_at - 8 * 86400000")
        .await;
    app.run_reconciler().await;
    assert_eq!(app.number("SELECT COUNT(*) FROM webhook_inbox").await, 1);
}

/// Anyone may open a session in the sandbox (it takes any credentials, as the official SDKs
/// need), even one naming another shopper's attempt; paying it touches nobody's order.
async fn a_sandbox_session_naming_someone_elses_reference_cannot_pay_their_order(backend: Backend) {
    let app = crate::helpers::spawn_app(backend).await;
    let victim = app.browser();
    let (reference, attempt, _, _) = open_stripe_order(&victim, &app).await;
    let session: serde_json::Value = crate::pay::stripe_sandbox_session(
        &app.base,
        &[
            ("client_reference_id", attempt.as_str()),
            (
                "success_url",
                "http://shop.example.test/payments/stripe/return/ORD-000001",
            ),
        ],
    )
    .await
    .json()
    .await
    .unwrap();
    let attacker = app.browser();
    let url = session["url"].as_str().expect("a session url");
    attacker.on_stripe_page(url, "pay", "normal").await;
    // The sandbox delivers its signed event; the shop acknowledges and ignores it.
    let ignored = || async {
        app.inbox_outcomes()
            .await
            .iter()
            .any(|o| o.contains("another session"))
    };
    for _ in 0..100 {
        if ignored().await {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(ignored().await, "{:?}", app.inbox_outcomes().await);
    assert_eq!(app.status_of(&reference).await, "awaiting_payment");
    assert_eq!(app.ledger_rows(&reference).await, 0);
}

/// The sandboxes send shoppers and notifications only to the shop's own origin.
async fn sandboxes_refuse_urls_off_the_shops_origin(backend: Backend) {
    let app = crate::helpers::spawn_app(backend).await;
    let client = reqwest::Client::new();
    for url in [
        "https://evil.example/return",
        "http://shop.example.test.evil.example/x",
    ] {
        let stripe = crate::pay::stripe_sandbox_session(&app.base, &[("success_url", url)]).await;
        assert_eq!(stripe.status(), StatusCode::BAD_REQUEST, "{url}");
    }
    let form = crate::pay::sslcommerz_session_fields("http://169.254.169.254/latest");
    let answer: serde_json::Value = client
        .post(format!(
            "{}/sandbox/sslcommerz/gwprocess/v4/api.php",
            app.base
        ))
        .form(&form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["status"], "FAILED", "{answer}");
    assert!(
        answer["failedreason"]
            .as_str()
            .unwrap_or("")
            .contains("ipn_url"),
        "{answer}"
    );
}

on_both_backends!(
    a_cancel_the_provider_cannot_carry_out_says_so,
    a_provider_timeout_is_retried_with_the_same_attempt_and_key,
    another_method_after_a_failed_pay_is_a_new_order,
    unpaid_orders_per_session_are_capped,
    the_reconciler_goes_on_past_a_failure_and_skips_unconfigured_providers,
    the_webhook_endpoint_limits_what_it_reads_and_keeps,
    a_sandbox_session_naming_someone_elses_reference_cannot_pay_their_order,
    sandboxes_refuse_urls_off_the_shops_origin,
);
