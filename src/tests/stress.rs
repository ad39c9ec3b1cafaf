//! The write path under a crowd: 200 rounds of a double-submitted Pay, duplicated webhooks and
//! concurrent refunds, eight rounds at a time, with requests cut off at random points (a client
//! that gives up drops its connection, and the server drops the request's handler wherever it
//! was: queued at the write gate, inside the group, or waiting for the group's COMMIT).
//!
//! Whatever was cut off, every request that got an answer got one that is not a server error,
//! and at the end of each round, after one uncut retry of each step, exactly one order, one
//! reservation of stock, one applied payment and one refund exist: nothing lost, nothing doubled.

use crate::helpers::{both_backends, Browser, TestApp};
use crate::pay::{reference_in, stripe_event};
use base64::Engine as _;
use futures_util::future::join_all;
use reqwest::header::{LOCATION, REFERER};
use reqwest::StatusCode;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

const ROUNDS: usize = 200;
const AT_ONCE: usize = 8;

/// A random number below `n`, from the operating system's randomness (via a v4 UUID).
fn below(n: u64) -> u64 {
    (uuid::Uuid::new_v4().as_u128() % u128::from(n)) as u64
}

/// Run `request`, or cut it off after a random moment (about half the time); `None` if cut off.
async fn maybe_cut<T>(request: impl Future<Output = T>) -> Option<T> {
    if below(2) == 0 {
        return Some(request.await);
    }
    let after = Duration::from_micros(below(30_000));
    tokio::time::timeout(after, request).await.ok()
}

/// The server-function error a no-JavaScript redirect carries, decoded (empty if none).
fn error_in(location: &str) -> String {
    let Some((_, query)) = location.split_once('?') else {
        return String::new();
    };
    serde_urlencoded::from_str::<Vec<(String, String)>>(query)
        .unwrap_or_default()
        .into_iter()
        .filter(|(k, _)| k == "__err")
        .filter_map(|(_, v)| base64::engine::general_purpose::URL_SAFE.decode(v).ok())
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .collect()
}

/// A Pay press's answer: never a server error, never an internal one behind a redirect.
fn assert_pay_answer(response: &reqwest::Response) {
    let status = response.status();
    assert!(!status.is_server_error(), "Pay answered {status}");
    if let Some(location) = response.headers().get(LOCATION) {
        let error = error_in(location.to_str().unwrap());
        assert!(!error.contains("Internal"), "Pay redirected with {error}");
    }
}

async fn round(app: Arc<TestApp>, merchant: Arc<Browser>) {
    let shopper = app.browser();
    shopper.add_to_cart(1, 1).await;
    let key = shopper.checkout_key().await;

    // Pay pressed twice at once, each possibly cut off, then once more after a "timeout".
    let (a, b) = tokio::join!(
        maybe_cut(shopper.pay_with_key("stripe", &key)),
        maybe_cut(shopper.pay_with_key("stripe", &key)),
    );
    for response in [a, b].iter().flatten() {
        assert_pay_answer(response);
    }
    let again = shopper.pay_with_key("stripe", &key).await;
    assert_pay_answer(&again);
    let location = again.headers()[LOCATION].to_str().unwrap().to_string();
    assert!(location.contains("/c/pay/cs_test_"), "{location}");

    // Paid on the provider's page, with no webhook from the sandbox: the test sends its own.
    let back = shopper
        .pay_on_stripe_page(&location, "never", "succeed")
        .await;
    let reference = reference_in(&back);
    let (attempt, session) = app.attempt_of(&reference).await;
    let paid = stripe_event(
        "checkout.session.completed",
        &attempt,
        &session,
        "paid",
        1800,
        "usd",
    );

    // The same event three times at once, each possibly cut off, then once more.
    let deliveries = (0..3).map(|_| maybe_cut(app.stripe_event(&paid)));
    for status in join_all(deliveries).await.into_iter().flatten() {
        assert!(!status.is_server_error(), "webhook answered {status}");
    }
    assert_eq!(app.stripe_event(&paid).await, StatusCode::OK);
    assert_eq!(app.status_of(&reference).await, "paid");
    assert_eq!(
        app.transitions(&reference).await,
        1,
        "{reference}: one applied payment"
    );

    // Refund pressed twice at once with the form's key, each possibly cut off, then once more.
    let refund_key = format!("refund-{}", uuid::Uuid::new_v4().simple());
    let refund = || {
        merchant
            .client
            .post(format!("{}/api/admin/refund", merchant.base))
            .header(
                REFERER,
                format!("{}/admin/orders/{reference}", merchant.base),
            )
            .form(&[
                ("reference", reference.as_str()),
                ("amount", "18.00"),
                ("reason", "stress"),
                ("key", refund_key.as_str()),
            ])
            .send()
    };
    let (a, b) = tokio::join!(maybe_cut(refund()), maybe_cut(refund()));
    for response in [a, b].into_iter().flatten() {
        let status = response.unwrap().status();
        assert!(!status.is_server_error(), "Refund answered {status}");
    }
    let last = refund().await.unwrap();
    assert!(last.status().is_success(), "Refund: {}", last.status());
    // A press told again while an earlier (cut off) one still asks the provider answers with the
    // pending refund; that one finishes on its own.
    app.wait_for(&reference, "refunded").await;

    // Nothing lost, nothing doubled.
    let one = |sql: &'static str| {
        let app = app.clone();
        let reference = reference.clone();
        async move { app.scalar(sql, &reference).await }
    };
    assert_eq!(
        one(
            "SELECT COUNT(*) FROM payment_events e JOIN orders o ON o.id = e.order_id \
             WHERE o.reference = $1 AND e.outcome LIKE 'applied%' AND e.to_status = 'paid'"
        )
        .await,
        1,
        "{reference}: the payment applied once"
    );
    assert_eq!(
        one("SELECT COUNT(*) FROM payment_attempts a JOIN orders o ON o.id = a.order_id WHERE o.reference = $1").await,
        1,
        "{reference}: one provider session"
    );
    assert_eq!(
        one("SELECT COUNT(*) FROM refunds r JOIN orders o ON o.id = r.order_id WHERE o.reference = $1").await,
        1,
        "{reference}: one refund"
    );
    assert_eq!(
        one("SELECT refunded_minor FROM orders WHERE reference = $1").await,
        1800,
        "{reference}: refunded once"
    );
    assert_eq!(app.status_of(&reference).await, "refunded");
}

both_backends! {
    async fn two_hundred_rounds_of_double_pay_duplicate_webhooks_and_refunds_with_cut_requests(app) {
        app.exec("UPDATE products SET stock = 100000 WHERE id = 1").await;
        let merchant = Arc::new(app.merchant().await);
        let app = Arc::new(app);
        let mut started = 0;
        while started < ROUNDS {
            let batch = (started..(started + AT_ONCE).min(ROUNDS))
                .map(|_| tokio::spawn(round(app.clone(), merchant.clone())));
            started += AT_ONCE;
            for done in join_all(batch).await {
                done.expect("a round passed");
            }
        }
        assert_eq!(app.order_count().await, ROUNDS as i64, "one order per shopper");
        assert_eq!(app.stock_of(1).await, 100000 - ROUNDS as i64, "stock reserved once per order");
    }
}
