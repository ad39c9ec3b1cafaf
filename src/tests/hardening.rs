//! What an anonymous stranger could make the shop do, probed from outside: forged webhooks that
//! fill the disk or bury an order's timeline, redirects and messages the shop did not write,
//! stock hoarded from fresh cookies, return links that call the provider on every hit, live streams
//! without end, and a merchant locked out by someone else's wrong passwords.

use crate::helpers::{both_backends, on_both_backends, spawn_app_with, Backend, TestApp};
use crate::pay::{reference_in, stripe_event};
use app::server::payments::rejections::FAILURES_PER_WINDOW;
use futures_util::future::join_all;
use reqwest::header::LOCATION;
use reqwest::StatusCode;
use sqlx::Row as _;

impl TestApp {
    /// Webhook inbox rows of a provider: how many, and their stored bytes (headers and body).
    async fn inbox_size(&self, provider: &str) -> (i64, i64) {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n, COALESCE(SUM(LENGTH(headers) + LENGTH(body)), 0) AS bytes \
             FROM webhook_inbox WHERE provider = $1",
        )
        .bind(provider)
        .fetch_one(&self.state.db.pool)
        .await
        .unwrap();
        (
            row.try_get("n").unwrap(),
            row.try_get::<i64, _>("bytes").unwrap(),
        )
    }

    /// Post a forged (unsigned) delivery with a big body and a big junk header.
    async fn forged(&self, provider: &str, attempt: &str) -> StatusCode {
        let body = format!(
            "{{\"client_reference_id\":\"{attempt}\",\"custom_id\":\"{attempt}\",\"pad\":\"{}\"}}",
            "x".repeat(200 * 1024)
        );
        reqwest::Client::new()
            .post(format!("{}/webhooks/{provider}", self.base))
            .header("content-type", "application/json")
            .header("stripe-signature", "t=1,v1=00")
            .header("x-junk", "j".repeat(16 * 1024))
            .header("cookie", "session=secret")
            .body(body)
            .send()
            .await
            .unwrap()
            .status()
    }
}

/// Follow redirects from `path` like a browser (never to another host) until a page.
async fn land(browser: &crate::helpers::Browser, mut path: String) -> (StatusCode, String) {
    for _ in 0..4 {
        let response = browser
            .client
            .get(format!("{}{path}", browser.base))
            .send()
            .await
            .unwrap();
        let Some(to) = response.headers().get(LOCATION) else {
            return (response.status(), response.text().await.unwrap());
        };
        let to = to.to_str().unwrap().to_string();
        assert!(!to.starts_with("//"), "a redirect to another host: {to}");
        path = browser.local(&to);
    }
    panic!("too many redirects from {path}");
}

both_backends! {
    async fn a_flood_of_forged_stripe_webhooks_grows_the_database_by_kilobytes(app) {
        let sent = 200;
        let statuses = join_all((0..sent).map(|_| app.forged("stripe", "ORD-000001-1"))).await;
        let refused = statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count();
        let rejected = statuses.iter().filter(|s| **s == StatusCode::BAD_REQUEST).count();
        assert_eq!(rejected, FAILURES_PER_WINDOW as usize, "the budget, counted before storing");
        assert_eq!(refused, sent - rejected);
        let (rows, bytes) = app.inbox_size("stripe").await;
        assert_eq!(rows, i64::from(FAILURES_PER_WINDOW));
        assert!(bytes < 48 * 1024, "{bytes} bytes kept for {rows} forged deliveries");
        let headers: String = sqlx::query_scalar("SELECT headers FROM webhook_inbox LIMIT 1")
            .fetch_one(&app.state.db.pool)
            .await
            .unwrap();
        assert!(headers.contains("stripe-signature"), "{headers}");
        assert!(!headers.contains("x-junk") && !headers.contains("cookie"), "{headers}");
        // The order the bodies name does not exist: nothing is listed under it.
        let attached: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM webhook_inbox WHERE attempt_reference IS NOT NULL",
        )
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
        assert_eq!(attached, 0);
    }

    async fn forged_paypal_webhooks_keep_a_prefix_and_reach_the_verify_api_at_most_the_budget(app) {
        let sent = 100;
        let statuses = join_all((0..sent).map(|_| app.forged("paypal", "ORD-000001-1"))).await;
        let refused = statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count();
        assert_eq!(refused, sent - FAILURES_PER_WINDOW as usize, "{statuses:?}");
        let (rows, bytes) = app.inbox_size("paypal").await;
        assert!(rows <= i64::from(FAILURES_PER_WINDOW), "{rows} stored (each one verify call)");
        assert!(bytes < 48 * 1024, "{bytes} bytes kept for {rows} forged deliveries");
    }

    async fn forged_deliveries_do_not_bury_an_orders_genuine_ones(app) {
        let shopper = app.browser();
        shopper.add_to_cart(1, 1).await;
        let page = shopper.pay("stripe").await;
        let reference = reference_in(&shopper.on_stripe_page(&page, "pay", "never").await);
        let (attempt, session) = app.attempt_of(&reference).await;
        // One after another: on PostgreSQL simultaneous ones could each count fewer than the cap.
        for _ in 0..FAILURES_PER_WINDOW {
            assert_eq!(app.forged("stripe", &attempt).await, StatusCode::BAD_REQUEST);
        }
        let attached: i64 = app
            .scalar("SELECT COUNT(*) FROM webhook_inbox WHERE attempt_reference = $1", &attempt)
            .await;
        assert_eq!(attached, app::server::db::inbox::MAX_REJECTED_PER_ATTEMPT, "capped per attempt");
        let paid = stripe_event("checkout.session.completed", &attempt, &session, "paid", 1800, "usd");
        assert_eq!(app.stripe_event(&paid).await, StatusCode::OK);
        let mut conn = app.state.db.pool.acquire().await.unwrap();
        let listed = app::server::db::admin_orders::deliveries(&mut conn, std::slice::from_ref(&attempt), 5)
            .await
            .unwrap();
        assert_eq!(listed.len(), 5);
        assert!(
            listed[0].outcome.as_deref().is_some_and(|o| o.starts_with("applied")),
            "the verified delivery comes first: {:?}",
            listed[0].outcome
        );
        assert!(listed[1..].iter().all(|d| d.outcome.as_deref().is_some_and(|o| o.starts_with("rejected"))));
    }

    async fn next_cannot_leave_the_shop_and_its_error_text_is_never_signed(app) {
        let shopper = app.browser();
        shopper.register("nell@example.com", "correct horse battery").await.unwrap();
        shopper.client.post(format!("{}/api/logout", app.base)).header("accept", "text/html").send().await.unwrap();
        let forged = "eyJJbnZhbGlkIjoiQ2FsbCB1cyJ9";
        for next in [
            "/.//evil.example?__sig".to_string(),
            "/%2e//evil.example".to_string(),
            format!("/cart?__path=/api/login&__err={forged}"),
        ] {
            let response = shopper
                .post_form(
                    "/login",
                    "/api/login",
                    &[("email", "nell@example.com"), ("password", "correct horse battery"), ("next", &next)],
                )
                .await;
            let location = response.headers()[LOCATION].to_str().unwrap().to_string();
            assert!(location.starts_with('/') && !location.starts_with("//"), "{next}: {location}");
            assert!(!location.contains("evil.example") || location.starts_with("/account"), "{next}: {location}");
            assert!(!location.contains("__sig"), "{next}: nothing signed: {location}");
            let (status, html) = land(&shopper, shopper.local(&location)).await;
            assert_eq!(status, StatusCode::OK, "{next}");
            assert!(!html.contains("Call us"), "{next}: the forged message is not shown");
        }
    }

    async fn a_query_that_mentions_the_error_parameters_renders_the_page(app) {
        let shopper = app.browser();
        for path in ["/?x=__path", "/?q=__err", "/cart?note=__path%3D1"] {
            let page = shopper.get(path).await;
            assert_eq!(page.status, StatusCode::OK, "{path}");
        }
        // Percent-encoded names are the same names to the page: still redirected without them.
        let encoded = "/cart?%5F%5Fpath=%2Fapi%2Fupdate_cart_line&%5F%5Ferr=eyJJbnZhbGlkIjoiQ2FsbCB1cyJ9";
        let response = shopper.client.get(format!("{}{encoded}", app.base)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{encoded}");
        assert_eq!(response.headers()[LOCATION], "/cart");
        shopper.register("ola@example.com", "correct horse battery").await.unwrap();
        let page = shopper.get("/account/orders?search=__path").await;
        assert_eq!(page.status, StatusCode::OK);
    }

    async fn an_unpaid_order_may_hold_only_so_much_of_a_product(app) {
        let shopper = app.browser();
        shopper.add_to_cart(1, 11).await;
        let key = shopper.checkout_key().await;
        let response = shopper.pay_with_key("stripe", &key).await;
        let page = shopper.get(&shopper.local(response.headers()[LOCATION].to_str().unwrap())).await;
        let alert = page.alert().expect("refused");
        assert!(alert.contains("at most 10 of Canvas Tote"), "{alert}");
        assert_eq!(app.order_count().await, 0);
        assert_eq!(app.stock_of(1).await, 40);
    }

    async fn return_links_opened_again_and_again_ask_the_provider_once(app) {
        let shopper = app.browser();
        shopper.add_to_cart(1, 1).await;
        let page = shopper.pay("stripe").await;
        let back = shopper.on_stripe_page(&page, "pay", "never").await;
        let reference = reference_in(&back);
        let (attempt, _) = app.attempt_of(&reference).await;
        // The lookup slot is taken, as by a lookup in flight: every hit reads the stored state.
        let slot = app.state.limits.lookups.begin(&attempt, true).expect("free");
        let stranger = app.browser();
        let back_path = stranger.local(&back);
        let hits = join_all((0..20).map(|_| stranger.get(&back_path))).await;
        assert!(hits.iter().all(|p| p.status == StatusCode::SEE_OTHER), "each hit shows the order");
        assert_eq!(app.status_of(&reference).await, "awaiting_payment", "no provider call was made");
        drop(slot);
        assert!(app.state.limits.lookups.begin(&attempt, true).is_none(), "and none again at once");
    }

    async fn live_streams_are_capped_per_session(app) {
        let shopper = app.browser();
        shopper.add_to_cart(1, 1).await;
        let page = shopper.pay("stripe").await;
        let reference = reference_in(&shopper.on_stripe_page(&page, "pay", "never").await);
        let path = format!("{}/events/orders/{reference}", app.base);
        let mut open = Vec::new();
        for _ in 0..app::server::limits::STREAMS_PER_SESSION {
            let response = shopper.client.get(&path).send().await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            open.push(response);
        }
        let refused = shopper.client.get(&path).send().await.unwrap();
        assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(refused.headers()["retry-after"], "30");
        // A browser's EventSource gives up for good on any status but 200: it is told to come
        // back in 30 s instead, and the stream ends at once.
        let browser = shopper.client.get(&path).header("accept", "text/event-stream").send().await.unwrap();
        assert_eq!(browser.status(), StatusCode::OK);
        let said = browser.text().await.unwrap();
        assert!(said.starts_with("retry: 30000") && !said.contains("event:"), "{said}");
        // Another shopper (another session) is not affected.
        let other = app.browser().client.get(&path).send().await.unwrap();
        assert_eq!(other.status(), StatusCode::NOT_FOUND, "not theirs: refused for that, not the cap");
        drop(open);
    }
}

/// Unpaid orders are capped per client address, however many fresh sessions place them; the twin
/// of the order that reaches the cap is that order, not a refusal.
async fn unpaid_orders_are_capped_per_address(backend: Backend) {
    let app = spawn_app_with(backend, &[("MAX_OPEN_ORDERS_PER_ADDRESS", "2")]).await;
    for n in 0..3 {
        let shopper = app.browser();
        shopper.add_to_cart(2, 1).await;
        let key = shopper.checkout_key().await;
        let (response, twin) = tokio::join!(
            shopper.pay_with_key("stripe", &key),
            shopper.pay_with_key("stripe", &key)
        );
        assert_eq!(
            response.headers()[LOCATION],
            twin.headers()[LOCATION],
            "a double click: the same answer twice"
        );
        let location = response.headers()[LOCATION].to_str().unwrap().to_string();
        if n < 2 {
            assert!(location.contains("/c/pay/"), "{location}");
        } else {
            let page = shopper.get(&shopper.local(&location)).await;
            let alert = page.alert().expect("refused");
            assert!(
                alert.contains("Too many unpaid orders were placed from your network"),
                "{alert}"
            );
        }
    }
    assert_eq!(app.order_count().await, 2);
}

/// Wrong passwords for the merchant's email from one address lock out that address, not the
/// merchant logging in from another.
async fn a_stranger_cannot_lock_the_merchant_out(backend: Backend) {
    let app = spawn_app_with(backend, &[("TRUSTED_PROXIES", "127.0.0.1/32, ::1/128")]).await;
    let stranger = app.browser_with_headers(&[("x-forwarded-for", "2001:db8:bad:1::7")]);
    for _ in 0..6 {
        let said = stranger
            .log_in(crate::helpers::ADMIN_EMAIL, "wrong password!")
            .await
            .unwrap_err();
        assert!(
            said.contains("incorrect") || said.contains("Too many"),
            "{said}"
        );
    }
    // Another address in the same /64 is the same client.
    let neighbour = app.browser_with_headers(&[("x-forwarded-for", "2001:db8:bad:1::8")]);
    let said = neighbour
        .log_in(crate::helpers::ADMIN_EMAIL, crate::helpers::ADMIN_PASSWORD)
        .await
        .unwrap_err();
    assert!(said.contains("Too many failed log-in attempts"), "{said}");
    let merchant = app.browser_with_headers(&[("x-forwarded-for", "198.51.100.20")]);
    merchant
        .log_in(crate::helpers::ADMIN_EMAIL, crate::helpers::ADMIN_PASSWORD)
        .await
        .expect("the merchant logs in from elsewhere");
}

on_both_backends!(
    unpaid_orders_are_capped_per_address,
    a_stranger_cannot_lock_the_merchant_out
);
