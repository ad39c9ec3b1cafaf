//! The merchant's order page (`/admin/orders/{reference}`), its server functions and the sales
//! chart's figures. Products: 1 Canvas Tote $18.00 (stock 40), 2 Ceramic Mug $14.00.

use crate::helpers::{both_backends, on_both_backends, spawn_app, Backend, Browser, TestApp};
use crate::pay::{reference_in, stripe_event};
use app::model::{Currency, ProviderId};
use app::server::services::sales_report;
use reqwest::header::{ACCEPT, REFERER};
use reqwest::StatusCode;
use sqlx::Row as _;

/// A Stripe order the shopper paid on the sandbox's page, with no webhook sent (still awaiting
/// payment): (reference, attempt, session).
async fn unconfirmed_stripe_order(app: &TestApp, shopper: &Browser) -> (String, String, String) {
    shopper.add_to_cart(1, 1).await;
    let page = shopper.pay("stripe").await;
    let reference = reference_in(&shopper.on_stripe_page(&page, "pay", "never").await);
    let (attempt, session) = app.attempt_of(&reference).await;
    (reference, attempt, session)
}

/// A Stripe order moved to *Needs review* by a signed webhook reporting $1.00 for an $18.00 quote.
async fn order_under_review(app: &TestApp, shopper: &Browser) -> String {
    let (reference, attempt, session) = unconfirmed_stripe_order(app, shopper).await;
    let short = stripe_event(
        "checkout.session.completed",
        &attempt,
        &session,
        "paid",
        100,
        "usd",
    );
    assert_eq!(app.stripe_event(&short).await, StatusCode::OK);
    assert_eq!(app.status_of(&reference).await, "needs_review");
    reference
}

/// Post to a server function as a script would (no `Accept: text/html`): status and body.
async fn call(browser: &Browser, endpoint: &str, fields: &[(&str, &str)]) -> (StatusCode, String) {
    let response = browser
        .client
        .post(format!("{}{endpoint}", browser.base))
        .header(REFERER, format!("{}/admin/orders/ORD-000001", browser.base))
        .form(fields)
        .send()
        .await
        .unwrap();
    (response.status(), response.text().await.unwrap())
}

/// Post a form without JavaScript (`Accept: text/html`): status and body.
async fn press(browser: &Browser, endpoint: &str, fields: &[(&str, &str)]) -> (StatusCode, String) {
    let response = browser
        .client
        .post(format!("{}{endpoint}", browser.base))
        .header(ACCEPT, "text/html")
        .header(REFERER, format!("{}/admin/orders/ORD-000001", browser.base))
        .form(fields)
        .send()
        .await
        .unwrap();
    (response.status(), response.text().await.unwrap())
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    sqlx::query(sql)
        .fetch_one(&app.state.db.pool)
        .await
        .expect(sql)
        .try_get(0)
        .unwrap()
}

/// What no refused caller may see of ORD-000001.
fn assert_no_order_data(body: &str) {
    for secret in [
        "shopper@example.com",
        "Rahim",
        "Dhaka",
        "cs_test_",
        // Any attempt of the order (its reference starts so).
        "ORD-000001-A1",
        "$18.00",
    ] {
        assert!(!body.contains(secret), "{secret} leaked: {body}");
    }
}

const ENDPOINTS: [&str; 4] = [
    "/api/admin/order",
    "/api/admin/accept_as_paid",
    "/api/admin/look_up_now",
    "/api/admin/sales_report",
];

both_backends! {
    async fn only_merchants_see_the_order_page_and_call_its_functions(app) {
        let shopper = app.browser();
        let reference = order_under_review(&app, &shopper).await;
        let customer = app.browser();
        customer.register("nosy@example.com", "customer-pass").await.unwrap();
        for (who, browser) in [("guest", app.browser()), ("customer", customer), ("the shopper", shopper)] {
            let page = browser.get(&format!("/admin/orders/{reference}")).await;
            assert_eq!(page.status, StatusCode::FORBIDDEN, "{who}");
            assert_no_order_data(&page.html);
            for endpoint in ENDPOINTS {
                let fields = [("reference", reference.as_str())];
                let (status, body) = call(&browser, endpoint, &fields).await;
                assert_eq!(status, StatusCode::FORBIDDEN, "{who} {endpoint}: {body}");
                assert_no_order_data(&body);
                let (status, body) = press(&browser, endpoint, &fields).await;
                assert_eq!(status, StatusCode::FORBIDDEN, "{who} {endpoint} without JavaScript: {body}");
                assert_no_order_data(&body);
            }
        }
        assert_eq!(app.status_of(&reference).await, "needs_review", "nobody but a merchant accepts");
        assert_eq!(count(&app, "SELECT COUNT(*) FROM payment_events WHERE source = 'merchant'").await, 0);

        let merchant = app.merchant().await;
        let page = merchant.get(&format!("/admin/orders/{reference}")).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.html);
        for shown in [
            "<h1>Order <!>ORD-000001</h1>", "shopper@example.com", "Rahim Uddin", "House 12, Road 5",
            "1207 Dhaka", "Bangladesh", "Canvas Tote Bag", "$18.00", app.attempt_ref("ORD-000001", 1).as_str(), "Stripe",
            "cs_test_", "Needs review", "<h2 id=\"refund-heading\">Refunds</h2>",
        ] {
            assert!(page.contains(shown), "{shown} missing: {}", page.html);
        }
        assert_eq!(page.capture(r#"data-testid="admin-order-status"[^>]*>([^<]+)<"#).as_deref(), Some("Needs review"));
        let missing = merchant.get("/admin/orders/ORD-999999").await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
    }

    async fn the_timeline_lists_the_ledger_and_every_delivery_masked(app) {
        let shopper = app.browser();
        let (reference, attempt, session) = unconfirmed_stripe_order(&app, &shopper).await;
        // A forged delivery (bad signature) naming the attempt, carrying a card number.
        let mut forged = stripe_event("checkout.session.completed", &attempt, &session, "paid", 1800, "usd");
        forged["data"]["object"]["card"] = "4000 0566 5566 5556".into();
        let body = forged.to_string();
        let wrong = app::server::payments::stripe::signature::sign(body.as_bytes(), "whsec_wrong", 1_700_000_000);
        let status = app.post_webhook("stripe", "application/json", &[("stripe-signature", wrong.clone())], body.into_bytes()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        // The real event, with a card number in it, delivered twice; and one the shop ignores.
        let mut paid = stripe_event("checkout.session.completed", &attempt, &session, "paid", 1800, "usd");
        paid["data"]["object"]["metadata"] = serde_json::json!({"note": "card 4242424242424242"});
        assert_eq!(app.stripe_event(&paid).await, StatusCode::OK);
        assert_eq!(app.stripe_event(&paid).await, StatusCode::OK);
        let other = stripe_event("checkout.session.something_new", &attempt, &session, "paid", 1800, "usd");
        assert_eq!(app.stripe_event(&other).await, StatusCode::OK);
        assert_eq!(app.status_of(&reference).await, "paid");

        let merchant = app.merchant().await;
        let page = merchant.get(&format!("/admin/orders/{reference}")).await;
        assert_eq!(page.status, StatusCode::OK);
        let timeline = page.capture(r#"(?s)(<ol data-testid="timeline".*</ol>)"#).expect("a timeline");
        let outcomes: Vec<&str> = timeline.match_indices("data-outcome=\"").map(|(i, _)| {
            let rest = &timeline[i + 14..];
            &rest[..rest.find('"').unwrap()]
        }).collect();
        assert_eq!(outcomes, ["rejected", "applied", "duplicate", "ignored"], "{timeline}");
        assert_eq!(timeline.matches("data-source=\"webhook\"").count(), 1, "one ledger row");
        assert!(timeline.contains("checkout.session.completed"));
        assert!(timeline.contains("Awaiting payment → Paid"), "{timeline}");
        assert!(timeline.contains("<span class=\"amount\">$18.00 reported</span>"), "{timeline}");
        // In plain words first; the raw ledger and deliveries folded under Technical details.
        assert!(timeline.contains(">Paid by Stripe webhook</strong>"), "{timeline}");
        assert!(timeline.contains(">Stripe webhook received: applied</strong>"), "{timeline}");
        assert!(timeline.contains("rejected: "), "the rejection's reason is shown");
        // The ledger row comes after the delivery that carried it.
        let delivery = timeline.find("data-outcome=\"applied\"").unwrap();
        let event = timeline.find("data-source=\"webhook\"").unwrap();
        assert!(delivery < event);
        // Payloads sit behind <details>, masked; signatures are redacted.
        assert!(timeline.contains(r#"<details class="technical"><summary>Technical details</summary>"#), "{timeline}");
        assert!(timeline.contains("************4242") && !timeline.contains("4242424242424242"));
        assert!(timeline.contains("**** **** **** 5556") && !timeline.contains("4000 0566 5566 5556"));
        assert!(timeline.contains("stripe-signature: [redacted]"));
        let v1 = wrong.split("v1=").nth(1).unwrap();
        assert!(!page.contains(v1), "the signature is never shown");
        assert!(page.contains("datetime=\"") && page.contains(" UTC</time>"), "times in UTC");
    }

    async fn accept_as_paid_settles_a_review_once_and_only_a_review(app) {
        let shopper = app.browser();
        let reference = order_under_review(&app, &shopper).await;
        let merchant = app.merchant().await;
        let from = format!("/admin/orders/{reference}");
        let page = merchant.get(&from).await;
        assert!(page.contains("Why: paid 100 USD, quoted 1800 USD"), "{}", page.html);
        assert!(page.contains(">Accept as paid</button>"));

        let page = merchant.submit(&from, "/api/admin/accept_as_paid", &[("reference", &reference)]).await;
        assert_eq!(page.alert(), None, "{}", page.html);
        assert_eq!(page.capture(r#"data-testid="admin-order-status"[^>]*>([^<]+)<"#).as_deref(), Some("Paid"));
        assert!(!page.contains(">Accept as paid</button>"));
        assert!(page.contains("data-source=\"merchant\""), "the decision is on the timeline");
        assert_eq!(app.status_of(&reference).await, "paid");
        let merchant_rows = "SELECT COUNT(*) FROM payment_events WHERE source = 'merchant' \
             AND event_id = 'merchant-accept-ORD-000001' AND from_status = 'needs_review' AND to_status = 'paid'";
        assert_eq!(count(&app, merchant_rows).await, 1);
        assert_eq!(count(&app, "SELECT COUNT(*) FROM payment_attempts WHERE state = 'paid'").await, 1);
        assert_eq!(count(&app, "SELECT COUNT(*) FROM outbox WHERE kind = 'order_paid_email'").await, 1);
        assert_eq!(shopper.get(&format!("/orders/{reference}")).await.order_status().as_deref(), Some("Paid"));

        // Two merchants pressing at the same moment on another order under review: one decision.
        let second = order_under_review(&app, &shopper).await;
        let fields = [("reference", second.as_str())];
        let presses = (0..2).map(|_| merchant.post_form(&from, "/api/admin/accept_as_paid", &fields));
        futures_util::future::join_all(presses).await;
        assert_eq!(app.status_of(&second).await, "paid");
        assert_eq!(count(&app, "SELECT COUNT(*) FROM payment_events WHERE source = 'merchant'").await, 2);
        assert_eq!(count(&app, "SELECT COUNT(*) FROM outbox WHERE kind = 'order_paid_email'").await, 2);

        // A second press (a double-click, or the form sent again) changes nothing.
        let page = merchant.submit(&from, "/api/admin/accept_as_paid", &[("reference", &reference)]).await;
        assert_eq!(page.alert(), None);
        assert_eq!(count(&app, "SELECT COUNT(*) FROM payment_events WHERE source = 'merchant'").await, 2);
        assert_eq!(count(&app, "SELECT COUNT(*) FROM outbox WHERE kind = 'order_paid_email'").await, 2);

        // An order that is not under review is refused, and nothing is written.
        let (other, attempt, session) = unconfirmed_stripe_order(&app, &shopper).await;
        let paid = stripe_event("checkout.session.completed", &attempt, &session, "paid", 1800, "usd");
        assert_eq!(app.stripe_event(&paid).await, StatusCode::OK);
        let page = merchant.submit(&format!("/admin/orders/{other}"), "/api/admin/accept_as_paid", &[("reference", &other)]).await;
        assert_eq!(
            page.alert().as_deref(),
            Some("Only an order that needs review can be accepted as paid; ORD-000003 is paid.")
        );
        assert_eq!(count(&app, "SELECT COUNT(*) FROM payment_events WHERE source = 'merchant'").await, 2);
    }

    async fn accepting_money_for_a_given_up_order_takes_its_stock_again(app) {
        let shopper = app.browser();
        shopper.add_to_cart(1, 2).await;
        let page = shopper.pay("stripe").await;
        let reference = reference_in(&shopper.on_stripe_page(&page, "decline", "normal").await);
        app.wait_for(&reference, "failed").await;
        assert_eq!(app.stock_of(1).await, 40, "given back");
        let (attempt, session) = app.attempt_of(&reference).await;
        let late = stripe_event("checkout.session.async_payment_succeeded", &attempt, &session, "paid", 3600, "usd");
        assert_eq!(app.stripe_event(&late).await, StatusCode::OK);
        assert_eq!(app.status_of(&reference).await, "needs_review");
        let merchant = app.merchant().await;
        let from = format!("/admin/orders/{reference}");
        assert!(merchant.get(&from).await.contains("Why: money after the order was failed"));
        let page = merchant.submit(&from, "/api/admin/accept_as_paid", &[("reference", &reference)]).await;
        assert_eq!(page.alert(), None);
        assert_eq!(app.status_of(&reference).await, "paid");
        assert_eq!(app.stock_of(1).await, 38, "the paid order's stock is taken again");
        merchant.submit(&from, "/api/admin/accept_as_paid", &[("reference", &reference)]).await;
        assert_eq!(app.stock_of(1).await, 38, "once");
    }

    async fn look_up_now_applies_the_providers_answer(app) {
        let shopper = app.browser();
        let (reference, _, _) = unconfirmed_stripe_order(&app, &shopper).await;
        let merchant = app.merchant().await;
        let from = format!("/admin/orders/{reference}");
        let page = merchant.get(&from).await;
        assert!(page.contains(">Look up now</button>"), "{}", page.html);
        assert!(page.contains(r#"<td data-label="State">open at the provider</td>"#), "{}", page.html);
        assert_eq!(app.status_of(&reference).await, "awaiting_payment");
        let page = merchant.submit(&from, "/api/admin/look_up_now", &[("reference", &reference)]).await;
        assert_eq!(page.alert(), None, "{}", page.html);
        assert_eq!(app.status_of(&reference).await, "paid");
        assert_eq!(count(&app, "SELECT COUNT(*) FROM payment_events WHERE source = 'lookup'").await, 1);
        assert!(page.contains("data-source=\"lookup\""));
        assert!(!page.contains(">Look up now</button>"), "nothing open is left to ask about");
        assert!(page.contains(r#"<td data-label="State">paid</td>"#), "the attempt is paid");
    }

    async fn the_order_pages_show_refunds(app) {
        let shopper = app.browser();
        let reference = order_under_review(&app, &shopper).await;
        app.exec(
            "INSERT INTO refunds (order_id, attempt_id, provider, idempotency_key, amount_minor, currency, \
             reason, status, provider_refund_id, failure, created_at, updated_at) VALUES \
             (1, 1, 'stripe', 'k1', 100, 'USD', 'Paid the wrong amount', 'succeeded', 're_123', NULL, 1700000000000, 1700000000000), \
             (1, 1, 'stripe', 'k2', 50, 'USD', 'Second try', 'failed', NULL, 'card expired', 1700000060000, 1700000060000)",
        ).await;
        let page = shopper.get(&format!("/orders/{reference}")).await;
        let refunds = page.capture(r#"(?s)data-testid="refunds"(.*?)</table>"#).expect("refunds on the customer's page");
        assert!(refunds.contains("$1.00") && refunds.contains("Refunded") && refunds.contains("2023-11-14 22:13:20 UTC"), "{refunds}");
        assert!(refunds.contains("$0.50") && refunds.contains("Failed"));
        assert!(!page.contains("Paid the wrong amount") && !page.contains("re_123") && !page.contains("card expired"),
            "the merchant's details stay on the merchant's page");
        let page = app.merchant().await.get(&format!("/admin/orders/{reference}")).await;
        let refunds = page.capture(r#"(?s)data-testid="refunds"(.*?)</table>"#).expect("refunds on the merchant's page");
        for shown in ["$1.00", "Paid the wrong amount", "re_123", "Refunded", "$0.50", "card expired", "Failed"] {
            assert!(refunds.contains(shown), "{shown}: {refunds}");
        }
    }

    async fn the_sales_figures_for_a_known_set_of_orders(app) {
        const DAY: i64 = 86_400_000;
        let today = 20_000; // 2024-10-04
        let now = today * DAY + DAY / 2;
        let order = |id: i64, day: i64, currency: &str, total: i64, status: &str, refunded: i64| format!(
            "({id}, 'ORD-{id:06}', 'key-{id}', 'g', 'a@b.co', 'A', '{{}}', '{currency}', {total}, '{status}', {}, {}, {refunded})",
            day * DAY + 3_600_000, day * DAY + 3_600_000,
        );
        let rows = [
            order(1, today, "USD", 1800, "paid", 0),
            order(2, today, "USD", 3600, "partially_refunded", 600),
            order(3, today - 1, "EUR", 1000, "paid", 0),
            order(4, today - 1, "USD", 500, "failed", 0),
            order(5, today - 1, "BDT", 216_000, "paid", 0),
            order(6, today - 29, "USD", 100, "paid", 0),
            order(7, today - 30, "USD", 999, "paid", 0),
            order(8, today, "JPY", 1500, "awaiting_payment", 0),
            order(9, today, "USD", 700, "refunded", 700),
        ];
        app.exec(&format!(
            "INSERT INTO orders (id, reference, idempotency_key, guest_token, email, name, address, currency, \
             total_minor, status, created_at, updated_at, refunded_minor) VALUES {}",
            rows.join(", ")
        )).await;
        let attempt = |n: i64, provider: &str, state: &str, day: i64| format!(
            "(1, 'ORD-000001-A{n}', '{provider}', '{state}', {}, {})", day * DAY, day * DAY
        );
        let attempts = [
            attempt(1, "stripe", "paid", today),
            attempt(2, "stripe", "paid", today - 3),
            attempt(3, "stripe", "failed", today),
            attempt(4, "stripe", "expired", today - 10),
            attempt(5, "stripe", "open", today),
            attempt(6, "stripe", "needs_review", today),
            attempt(7, "sslcommerz", "paid", today),
            attempt(8, "sslcommerz", "cancelled", today - 2),
            attempt(9, "stripe", "paid", today - 30),
            attempt(10, "sslcommerz", "refused", today),
        ];
        app.exec(&format!(
            "INSERT INTO payment_attempts (order_id, reference, provider, state, created_at, updated_at) VALUES {}",
            attempts.join(", ")
        )).await;

        let report = sales_report::report(&app.state.db, now).await.unwrap();
        assert_eq!((report.first_day, report.days), (today - 29, 30));
        let figures: Vec<_> = report.currencies.iter()
            .map(|c| (c.currency, c.per_day.clone(), c.total.minor)).collect();
        assert_eq!(figures, vec![
            (Currency::Usd, vec![(today - 29, 100), (today, 1800 + 3000)], 4900),
            (Currency::Eur, vec![(today - 1, 1000)], 1000),
            (Currency::Bdt, vec![(today - 1, 216_000)], 216_000),
        ]);
        let rates: Vec<(ProviderId, i64, i64, String)> = report.providers.iter()
            .map(|p| (p.provider, p.paid, p.ended, p.rate_label())).collect();
        assert_eq!(rates, vec![
            (ProviderId::Sslcommerz, 1, 2, "50.0 %".to_string()),
            (ProviderId::Stripe, 2, 5, "40.0 %".to_string()),
        ]);

        // Over HTTP: the merchant gets the figures, nobody else does.
        let (status, body) = call(&app.merchant().await, "/api/admin/sales_report", &[]).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(body.contains("\"first_day\":"), "{body}");
        let (status, body) = call(&app.browser(), "/api/admin/sales_report", &[]).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(!body.contains("first_day"));
    }
}

/// **Look up now** against a provider that does not answer says so and changes nothing.
async fn look_up_now_says_when_the_provider_does_not_answer(backend: Backend) {
    let app = spawn_app(backend).await;
    let shopper = app.browser();
    let (reference, _, _) = unconfirmed_stripe_order(&app, &shopper).await;
    // A second instance on the same database, whose Stripe is unreachable.
    let cut_off = app
        .another_instance_with(&[("STRIPE_API_BASE", "http://127.0.0.1:9")])
        .await;
    let merchant = cut_off.merchant().await;
    let from = format!("/admin/orders/{reference}");
    let page = merchant
        .submit(
            &from,
            "/api/admin/look_up_now",
            &[("reference", &reference)],
        )
        .await;
    assert_eq!(
        page.alert().as_deref(),
        Some(&*format!(
            "{}: Stripe did not answer; nothing was changed. Try again in a moment.",
            app.attempt_ref("ORD-000001", 1)
        ))
    );
    assert_eq!(app.status_of(&reference).await, "awaiting_payment");
    assert_eq!(app.ledger_rows(&reference).await, 0);
    assert!(page.contains(">Look up now</button>"), "still offered");
}

on_both_backends!(look_up_now_says_when_the_provider_does_not_answer);
