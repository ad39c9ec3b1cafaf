//! The same payment scenarios over every provider with a driver, on both databases: pay, decline,
//! cancel, a webhook duplicated five times, webhooks reordered, a webhook never sent (found by the
//! return's lookup), a forged delivery. A provider gets all of them by writing its [`Driver`] and
//! one line in the `conformance!` list below. The provider-specific tests stay in each provider's
//! file.
//!
//! Drivers so far: the providers whose hosted page has Pay, Decline and Cancel with the sandbox's
//! webhook control (Stripe, PayPal, Square). SSLCOMMERZ (its return is a POST), Alipay and
//! Authorize.Net (a form the browser posts) and Braintree (the shop's own page) have none yet.

use crate::helpers::{Browser, Page, TestApp};
use crate::pay::reference_in;
use reqwest::header::{LOCATION, REFERER};
use reqwest::StatusCode;

/// How the tests drive one provider like a shopper.
pub struct Driver {
    /// Its name in the checkout form and the URLs.
    pub provider: &'static str,
    /// What the URL of its hosted page contains.
    pub page: &'static str,
}

pub const STRIPE: Driver = Driver {
    provider: "stripe",
    page: "/sandbox/stripe/c/pay/",
};

pub const PAYPAL: Driver = Driver {
    provider: "paypal",
    page: "/sandbox/paypal/checkoutnow?token=",
};

pub const SQUARE: Driver = Driver {
    provider: "square",
    page: "/sandbox/square/checkout/",
};

impl Driver {
    /// Two tote bags ($36.00) in the cart, Pay pressed with this provider: its page's URL.
    pub async fn open(&self, shopper: &Browser) -> String {
        shopper.add_to_cart(1, 2).await;
        let checkout = shopper.get("/checkout").await;
        assert!(
            checkout.offers(self.provider),
            "{} is offered in USD",
            self.provider
        );
        let page = shopper.pay(self.provider).await;
        assert!(page.contains(self.page), "{page}");
        page
    }

    /// On its page, press `action` (`pay`, `decline`, `cancel`) with this webhook plan
    /// (`normal`, `delayed`, `duplicated`, `reordered`, `never`): where the browser is sent back to.
    pub async fn press(
        &self,
        shopper: &Browser,
        page: &str,
        action: &str,
        webhook: &str,
    ) -> String {
        self.press_with(shopper, page, action, webhook, "succeed")
            .await
    }

    /// [`Driver::press`] with a refunds plan too (`succeed`, `fail`, `refuse`).
    pub async fn press_with(
        &self,
        shopper: &Browser,
        page: &str,
        action: &str,
        webhook: &str,
        refunds: &str,
    ) -> String {
        let path = shopper.local(page);
        let shown = shopper.get(&path).await;
        assert_eq!(shown.status, StatusCode::OK, "{}", shown.html);
        for button in [">Pay<", ">Decline<", ">Cancel<"] {
            assert!(shown.contains(button), "{button}: {}", shown.html);
        }
        let response = shopper
            .client
            .post(format!("{}{path}", shopper.base))
            .header(REFERER, format!("{}{path}", shopper.base))
            .form(&[
                ("action", action),
                ("webhook", webhook),
                ("refunds", refunds),
            ])
            .send()
            .await
            .unwrap();
        assert!(response.status().is_redirection(), "{}", response.status());
        response.headers()[LOCATION].to_str().unwrap().to_string()
    }
}

/// Wait until at least `n` deliveries are in the inbox with an outcome (duplicates arrive at once).
async fn deliveries_settled(app: &TestApp, n: usize) {
    for _ in 0..200 {
        let outcomes = app.inbox_outcomes().await;
        if outcomes.iter().filter(|o| !o.is_empty()).count() >= n {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!(
        "fewer than {n} deliveries settled: {:?}",
        app.inbox_outcomes().await
    );
}

/// A new shopper presses `action` on the provider's page for two tote bags, with this webhook
/// plan: the shopper, the URL the provider sends them back to, and the order's reference.
async fn pressed(
    app: &TestApp,
    driver: &Driver,
    action: &str,
    webhook: &str,
) -> (Browser, String, String) {
    let shopper = app.browser();
    let page = driver.open(&shopper).await;
    assert_eq!(app.stock_of(1).await, 38, "the order holds its stock");
    let back = driver.press(&shopper, &page, action, webhook).await;
    assert!(
        back.contains(&format!("/payments/{}/", driver.provider)),
        "back to the shop: {back}"
    );
    let reference = reference_in(&back);
    (shopper, back, reference)
}

/// Follow `url` (a provider's return) to the order page, which must say `status`.
async fn follow_to(shopper: &Browser, url: &str, status: &str) -> Page {
    let shown = shopper.follow(url).await;
    assert_eq!(
        shown.order_status().as_deref(),
        Some(status),
        "{}",
        shown.html
    );
    shown
}

pub async fn pay(app: &TestApp, driver: &Driver) {
    let (shopper, back, reference) = pressed(app, driver, "pay", "normal").await;
    assert!(
        back.contains(&format!("/payments/{}/return/ORD-", driver.provider)),
        "{back}"
    );
    app.wait_for(&reference, "paid").await;
    assert_eq!(app.transitions(&reference).await, 1);
    let shown = follow_to(&shopper, &back, "Paid").await;
    assert!(shown.contains("$36.00"));
}

pub async fn decline(app: &TestApp, driver: &Driver) {
    let (shopper, back, reference) = pressed(app, driver, "decline", "normal").await;
    let shown = shopper.follow(&back).await;
    app.wait_for(&reference, "failed").await;
    assert_eq!(
        app.stock_of(1).await,
        40,
        "a failed order gives its stock back"
    );
    assert!(shown.status.is_success(), "{}", shown.status);
}

pub async fn cancel(app: &TestApp, driver: &Driver) {
    // Back to the shop: its cancel URL, or (Square, which has none) its return.
    let (shopper, back, reference) = pressed(app, driver, "cancel", "normal").await;
    follow_to(&shopper, &back, "Awaiting payment").await;
    assert_eq!(
        app.transitions(&reference).await,
        0,
        "a cancel at the provider changes nothing by itself"
    );
    // The shopper's own Cancel on the order page does.
    let action = format!("/payments/{}/cancel/{reference}", driver.provider);
    let shown = shopper
        .submit(&format!("/orders/{reference}"), &action, &[("key", "")])
        .await;
    assert_eq!(
        shown.order_status().as_deref(),
        Some("Cancelled"),
        "{}",
        shown.html
    );
    assert_eq!(app.stock_of(1).await, 40);
}

pub async fn duplicated(app: &TestApp, driver: &Driver) {
    let (_, _, reference) = pressed(app, driver, "pay", "duplicated").await;
    app.wait_for(&reference, "paid").await;
    deliveries_settled(app, 5).await;
    assert_eq!(
        app.transitions(&reference).await,
        1,
        "five copies move the order once"
    );
    assert!(
        app.inbox_outcomes().await.iter().any(|o| o == "duplicate"),
        "{:?}",
        app.inbox_outcomes().await
    );
}

pub async fn reordered(app: &TestApp, driver: &Driver) {
    let (_, _, reference) = pressed(app, driver, "pay", "reordered").await;
    app.wait_for(&reference, "paid").await;
    assert_eq!(app.transitions(&reference).await, 1);
}

pub async fn never_sent(app: &TestApp, driver: &Driver) {
    let (shopper, back, reference) = pressed(app, driver, "pay", "never").await;
    assert_eq!(
        app.status_of(&reference).await,
        "awaiting_payment",
        "paying alone changes nothing"
    );
    // No webhook: the return asks the provider.
    follow_to(&shopper, &back, "Paid").await;
    assert_eq!(app.transitions(&reference).await, 1);
    assert!(
        app.inbox_outcomes().await.is_empty(),
        "no delivery was made"
    );
}

pub async fn forged(app: &TestApp, driver: &Driver) {
    let (_, _, reference) = pressed(app, driver, "pay", "never").await;
    // A delivery naming the order, signed by nobody.
    let body = format!(
        r#"{{"id":"evt_forged","type":"checkout.session.completed","reference":"{reference}"}}"#
    );
    let answer = reqwest::Client::new()
        .post(format!("{}/webhooks/{}", app.base, driver.provider))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_client_error(), "{}", answer.status());
    assert_eq!(app.status_of(&reference).await, "awaiting_payment");
    assert_eq!(app.transitions(&reference).await, 0);
}

/// Every scenario for each `provider: DRIVER`, on SQLite and PostgreSQL.
macro_rules! conformance {
    ($($provider:ident: $driver:expr),* $(,)?) => {$(
        mod $provider {
            crate::helpers::both_backends! {
                async fn pay(app) { crate::conformance::pay(&app, &$driver).await }
                async fn decline(app) { crate::conformance::decline(&app, &$driver).await }
                async fn cancel(app) { crate::conformance::cancel(&app, &$driver).await }
                async fn duplicated(app) { crate::conformance::duplicated(&app, &$driver).await }
                async fn reordered(app) { crate::conformance::reordered(&app, &$driver).await }
                async fn never_sent(app) { crate::conformance::never_sent(&app, &$driver).await }
                async fn forged(app) { crate::conformance::forged(&app, &$driver).await }
            }
        }
    )*};
}

conformance! {
    stripe: crate::conformance::STRIPE,
    paypal: crate::conformance::PAYPAL,
    square: crate::conformance::SQUARE,
}
