//! The same payment scenarios over every provider, on both databases: pay, decline, cancel, a
//! forged delivery, a partial refund, a refused refund, and, for the providers that confirm a
//! payment by webhook, a webhook duplicated five times, webhooks reordered and a webhook never
//! sent (found by the return's lookup). A provider gets all of them by writing its [`Driver`]
//! and one line in the `conformance!` list at the end. The provider-specific tests stay in each
//! provider's file.

use crate::helpers::{forms, Browser, HtmlForm, Page, TestApp};
use crate::pay::reference_in;
use reqwest::header::{LOCATION, REFERER};
use reqwest::StatusCode;

/// What a shopper chooses on a provider's page: a button (`pay`, `decline`, `cancel`) and the
/// sandbox's test controls for the webhooks (`normal`, `delayed`, `duplicated`, `reordered`,
/// `never`) and for later refunds (`succeed`, `refuse`, …).
#[derive(Debug, Clone, Copy)]
pub struct Press<'a> {
    pub action: &'a str,
    pub webhook: &'a str,
    pub refunds: &'a str,
}

impl<'a> Press<'a> {
    pub fn new(action: &'a str, webhook: &'a str) -> Press<'a> {
        Press {
            action,
            webhook,
            refunds: "succeed",
        }
    }
}

/// Where a button on the provider's page leaves the shopper.
#[derive(Debug, Clone)]
pub enum Back {
    /// Redirected to this URL of the shop.
    Redirect(String),
    /// A form the page posts back to the shop at once (SSLCOMMERZ's return).
    Post(HtmlForm),
    /// Still on the provider's page, which offers a link back (Authorize.Net's decline).
    Link(String),
    /// Still on the provider's page, which shows this (Alipay's cashier after a decline).
    Stays(String),
}

impl Back {
    /// The URL of a redirect back to the shop.
    pub fn redirect(self) -> String {
        match self {
            Back::Redirect(url) => url,
            other => panic!("expected a redirect: {other:?}"),
        }
    }

    /// The URL the provider's button leads to, if any.
    pub fn url(&self) -> Option<&str> {
        match self {
            Back::Redirect(url) | Back::Link(url) => Some(url),
            Back::Post(form) => Some(&form.action),
            Back::Stays(_) => None,
        }
    }

    /// Go back to the shop as the browser does: the page it lands on.
    pub async fn follow(&self, shopper: &Browser) -> Page {
        match self {
            Back::Redirect(url) | Back::Link(url) => shopper.follow(url).await,
            Back::Post(form) => {
                let path = shopper.local(&form.action);
                let response = shopper
                    .client
                    .post(format!("{}{path}", shopper.base))
                    .header("sec-fetch-site", "cross-site")
                    .form(&form.fields)
                    .send()
                    .await
                    .unwrap();
                assert!(response.status().is_redirection(), "{}", response.status());
                shopper
                    .follow(response.headers()[LOCATION].to_str().unwrap())
                    .await
            }
            Back::Stays(html) => panic!("the provider's page offers no way back: {html}"),
        }
    }
}

/// What pressing Decline does at this provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Declined {
    /// The payment fails, and so does the order (its stock goes back).
    FailsTheOrder,
    /// The provider's page says so and lets the shopper try again: nothing fails (Alipay).
    MayTryAgain,
}

/// What pressing Cancel on the provider's page does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cancelled {
    /// Back to the shop with nothing changed: the shopper's own Cancel there ends the order.
    BackToTheShop,
    /// The provider tells the shop (SSLCOMMERZ's IPN), which cancels the order.
    CancelsTheOrder,
}

/// How the tests drive one provider like a shopper.
pub trait Driver {
    /// Its name in the checkout form and the URLs.
    const PROVIDER: &'static str;
    /// The currency the shopper chooses, and two tote bags' price in it as the shop shows it.
    const CURRENCY: &'static str = "USD";
    const TWO_TOTES: &'static str = "$36.00";
    const DECLINE: Declined = Declined::FailsTheOrder;
    const CANCEL: Cancelled = Cancelled::BackToTheShop;
    /// What pressing a button on its page needs (the page's URL, its form, …).
    type Visit;

    /// With the cart filled, from Pay to the provider's page.
    async fn open(&self, shopper: &Browser) -> Self::Visit;

    /// Press a button on the page.
    async fn press(&self, shopper: &Browser, visit: &Self::Visit, press: Press<'_>) -> Back;

    /// Wait until a paid order's payment may be partly refunded.
    async fn settled(&self, _app: &TestApp) {}
}

/// Open the provider's page (it must show Pay, Decline and Cancel) and press one: its answer.
async fn press_on_page(shopper: &Browser, page: &str, press: Press<'_>) -> reqwest::Response {
    let path = shopper.local(page);
    let shown = shopper.get(&path).await;
    assert_eq!(shown.status, StatusCode::OK, "{}", shown.html);
    for button in [">Pay<", ">Decline<", ">Cancel<"] {
        assert!(shown.contains(button), "{button}: {}", shown.html);
    }
    shopper
        .client
        .post(format!("{}{path}", shopper.base))
        .header(REFERER, format!("{}{path}", shopper.base))
        .form(&[
            ("action", press.action),
            ("webhook", press.webhook),
            ("refunds", press.refunds),
        ])
        .send()
        .await
        .unwrap()
}

/// A page that redirects the browser back (Stripe, PayPal, Square).
async fn press_redirecting(shopper: &Browser, page: &str, press: Press<'_>) -> Back {
    let response = press_on_page(shopper, page, press).await;
    assert!(response.status().is_redirection(), "{}", response.status());
    Back::Redirect(response.headers()[LOCATION].to_str().unwrap().to_string())
}

/// Press Pay with `provider` at checkout: where the shop sends the browser, which must contain
/// `expected`.
async fn pay_with(shopper: &Browser, provider: &str, expected: &str) -> String {
    let checkout = shopper.get("/checkout").await;
    assert!(checkout.offers(provider), "{provider} is offered");
    let url = shopper.pay(provider).await;
    assert!(url.contains(expected), "{url}");
    url
}

/// The form of the shop's own page at `url` that carries the shopper to the provider (posted
/// by its Continue button without JavaScript).
async fn provider_form(shopper: &Browser, url: &str) -> HtmlForm {
    let page = shopper.get(&shopper.local(url)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.contains(">Continue</button>"), "{}", page.html);
    forms(&page.html)
        .into_iter()
        .find(|f| {
            page.contains(&format!(
                r#"<form id="provider-form" method="post" action="{}""#,
                f.action.replace('&', "&amp;")
            ))
        })
        .expect("the provider form")
}

/// Post `form` as the browser does: the status and page of the answer.
async fn post(shopper: &Browser, form: &HtmlForm, extra: &[(&str, &str)]) -> reqwest::Response {
    let mut fields = form.fields.clone();
    fields.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let url = if form.action.starts_with('/') {
        format!("{}{}", shopper.base, form.action)
    } else {
        form.action.clone()
    };
    shopper.client.post(url).form(&fields).send().await.unwrap()
}

/// Where a provider's answer leaves the browser: its redirect, or its page.
async fn back_from(response: reqwest::Response) -> Back {
    if response.status().is_redirection() {
        return Back::Redirect(response.headers()[LOCATION].to_str().unwrap().to_string());
    }
    assert_eq!(response.status(), StatusCode::OK);
    let html = response.text().await.unwrap();
    let link = regex_lite::Regex::new(r#"href="([^"]+)">Continue</a>"#)
        .unwrap()
        .captures(&html)
        .map(|c| crate::helpers::unescape(&c[1]));
    match link {
        Some(url) => Back::Link(url),
        None => Back::Stays(html),
    }
}

pub struct Sslcommerz;
pub struct Alipay;
pub struct AuthorizeNet;
pub struct Braintree;

/// A driver for a provider whose page redirects the browser back ([`press_redirecting`]):
/// its type, name and what the URL of its page contains.
macro_rules! redirecting_driver {
    ($($driver:ident: $provider:literal, $page:literal;)*) => {$(
        pub struct $driver;

        impl Driver for $driver {
            const PROVIDER: &'static str = $provider;
            type Visit = String;

            async fn open(&self, shopper: &Browser) -> String {
                pay_with(shopper, Self::PROVIDER, $page).await
            }

            async fn press(&self, shopper: &Browser, page: &String, press: Press<'_>) -> Back {
                press_redirecting(shopper, page, press).await
            }
        }
    )*};
}

redirecting_driver! {
    Stripe: "stripe", "/sandbox/stripe/c/pay/";
    Paypal: "paypal", "/sandbox/paypal/checkoutnow?token=";
    Square: "square", "/sandbox/square/checkout/";
}

/// SSLCOMMERZ's gateway page answers every button with a form the browser posts back to the
/// shop (cross-site); its Cancel is told to the shop by IPN.
impl Driver for Sslcommerz {
    const PROVIDER: &'static str = "sslcommerz";
    const CURRENCY: &'static str = "BDT";
    const TWO_TOTES: &'static str = "৳4,320.00";
    const CANCEL: Cancelled = Cancelled::CancelsTheOrder;
    type Visit = String;

    async fn open(&self, shopper: &Browser) -> String {
        pay_with(
            shopper,
            Self::PROVIDER,
            "/sandbox/sslcommerz/gwprocess/v4/gw.php?Q=pay&SESSIONKEY=",
        )
        .await
    }

    async fn press(&self, shopper: &Browser, page: &String, press: Press<'_>) -> Back {
        let response = press_on_page(shopper, page, press).await;
        assert_eq!(response.status(), StatusCode::OK);
        let html = response.text().await.unwrap();
        let back = forms(&html)
            .into_iter()
            .find(|f| f.method == "post")
            .expect("the return form the page posts");
        Back::Post(back)
    }
}

/// Alipay: the shop's page posts `alipay.trade.page.pay` to the gateway, whose cashier has the
/// buttons. A decline stays on the cashier, where the shopper may pay again.
impl Driver for Alipay {
    const PROVIDER: &'static str = "alipay";
    const CURRENCY: &'static str = "CNY";
    const TWO_TOTES: &'static str = "CN¥258.00";
    const DECLINE: Declined = Declined::MayTryAgain;
    type Visit = HtmlForm;

    async fn open(&self, shopper: &Browser) -> HtmlForm {
        let go = pay_with(shopper, Self::PROVIDER, "/payments/alipay/go/ORD-").await;
        let to_gateway = provider_form(shopper, &go).await;
        let cashier = post(shopper, &to_gateway, &[]).await;
        assert_eq!(cashier.status(), StatusCode::OK);
        let html = cashier.text().await.unwrap();
        assert!(html.contains("<h1>Alipay sandbox cashier</h1>"), "{html}");
        for button in [">Pay<", ">Decline<", ">Cancel<"] {
            assert!(html.contains(button), "{button}: {html}");
        }
        forms(&html)
            .into_iter()
            .find(|f| f.action.ends_with("/sandbox/alipay/cashier"))
            .expect("the cashier's form")
    }

    async fn press(&self, shopper: &Browser, cashier: &HtmlForm, press: Press<'_>) -> Back {
        let choice = [
            ("action", press.action),
            ("webhook", press.webhook),
            ("refunds", press.refunds),
        ];
        back_from(post(shopper, cashier, &choice).await).await
    }
}

/// Authorize.Net: the shop's page posts the Accept Hosted token to the hosted form. A decline
/// shows the reason there with a Continue link to the shop's return.
impl Driver for AuthorizeNet {
    const PROVIDER: &'static str = "authorizenet";
    type Visit = HtmlForm;

    async fn open(&self, shopper: &Browser) -> HtmlForm {
        let go = pay_with(shopper, Self::PROVIDER, "/payments/authorizenet/go/ORD-").await;
        let token = provider_form(shopper, &go).await;
        let page = post(shopper, &token, &[]).await;
        assert_eq!(page.status(), StatusCode::OK);
        let html = page.text().await.unwrap();
        assert!(
            html.contains("<h1>Authorize.Net sandbox payment form</h1>"),
            "{html}"
        );
        token
    }

    async fn press(&self, shopper: &Browser, token: &HtmlForm, press: Press<'_>) -> Back {
        let response = shopper
            .client
            .post(format!(
                "{}/sandbox/authorizenet/payment/action",
                shopper.base
            ))
            .form(&[
                ("token", token.field("token")),
                ("card", "4111111111111111"),
                ("expiry", "12/30"),
                ("action", press.action),
                ("webhook", press.webhook),
                ("settlement", "settled"),
                ("refunds", press.refunds),
            ])
            .send()
            .await
            .unwrap();
        back_from(response).await
    }
}

/// Braintree: the shop's own page opens the sandbox's stand-in Drop-in, whose Pay and Decline
/// post a nonce to the shop (which makes the sale) and whose Cancel is a link back. Its webhooks
/// follow the sale and have no delivery control.
impl Driver for Braintree {
    const PROVIDER: &'static str = "braintree";
    /// The Drop-in's nonce form and its Cancel form.
    type Visit = (HtmlForm, HtmlForm);

    async fn open(&self, shopper: &Browser) -> (HtmlForm, HtmlForm) {
        let go = pay_with(shopper, Self::PROVIDER, "/payments/braintree/go/ORD-").await;
        let page = shopper.get(&shopper.local(&go)).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.html);
        let to_dropin = forms(&page.html)
            .into_iter()
            .find(|f| f.action == "/sandbox/braintree/dropin")
            .expect("the stand-in Drop-in form");
        let dropin = post(shopper, &to_dropin, &[]).await;
        assert_eq!(dropin.status(), StatusCode::OK);
        let html = dropin.text().await.unwrap();
        for button in [">Pay<", ">Decline<", ">Cancel<"] {
            assert!(html.contains(button), "{button}: {html}");
        }
        let found = forms(&html);
        let nonce = found.iter().find(|f| f.method == "post").unwrap().clone();
        let cancel = found.iter().find(|f| f.method == "get").unwrap().clone();
        (nonce, cancel)
    }

    async fn press(&self, shopper: &Browser, dropin: &Self::Visit, press: Press<'_>) -> Back {
        let (nonce_form, cancel) = dropin;
        let nonce = match press.action {
            "pay" => "fake-valid-nonce",
            "decline" => "fake-processor-declined-visa-nonce",
            _ => return Back::Redirect(cancel.action.clone()),
        };
        let mut fields = nonce_form.fields.clone();
        fields.push(("payment_method_nonce".into(), nonce.into()));
        let response = shopper
            .client
            .post(format!(
                "{}{}",
                shopper.base,
                shopper.local(&nonce_form.action)
            ))
            .header(
                REFERER,
                format!("{}/sandbox/braintree/dropin", shopper.base),
            )
            .form(&fields)
            .send()
            .await
            .unwrap();
        back_from(response).await
    }

    /// Until its sale settles (its `transaction_settled` webhook says when), only a void of the
    /// whole amount is possible.
    async fn settled(&self, app: &TestApp) {
        deliveries_settled(app, 1).await;
    }
}

/// Wait until at least `n` deliveries are in the inbox with an outcome (duplicates arrive at once).
pub async fn deliveries_settled(app: &TestApp, n: usize) {
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

/// A new shopper with two tote bags in the cart, on the provider's page.
async fn opened<D: Driver>(app: &TestApp, driver: &D) -> (Browser, D::Visit, String) {
    let shopper = app.browser();
    shopper.set_currency(D::CURRENCY).await;
    shopper.add_to_cart(1, 2).await;
    let visit = driver.open(&shopper).await;
    assert_eq!(app.stock_of(1).await, 38, "the order holds its stock");
    let reference = app.latest_order().await;
    (shopper, visit, reference)
}

/// A new shopper presses a button on the provider's page: the shopper, where the page leaves
/// them, and the order's reference.
async fn pressed<D: Driver>(
    app: &TestApp,
    driver: &D,
    press: Press<'_>,
) -> (Browser, Back, String) {
    let (shopper, visit, reference) = opened(app, driver).await;
    let back = driver.press(&shopper, &visit, press).await;
    if let Some(url) = back.url() {
        assert!(!url.contains("/sandbox/"), "back to the shop: {url}");
        assert_eq!(reference_in(url), reference, "{url}");
    }
    (shopper, back, reference)
}

/// Go back to the shop, whose order page must say `status`.
async fn back_to(shopper: &Browser, back: &Back, status: &str) -> Page {
    let shown = back.follow(shopper).await;
    assert_eq!(
        shown.order_status().as_deref(),
        Some(status),
        "{}",
        shown.html
    );
    shown
}

pub async fn pay<D: Driver>(app: &TestApp, driver: &D) {
    let (shopper, back, reference) = pressed(app, driver, Press::new("pay", "normal")).await;
    app.wait_for(&reference, "paid").await;
    assert_eq!(app.transitions(&reference).await, 1);
    let shown = back_to(&shopper, &back, "Paid").await;
    assert!(shown.contains(D::TWO_TOTES), "{}", shown.html);
}

pub async fn decline<D: Driver>(app: &TestApp, driver: &D) {
    let (shopper, visit, reference) = opened(app, driver).await;
    let back = driver
        .press(&shopper, &visit, Press::new("decline", "normal"))
        .await;
    match D::DECLINE {
        Declined::FailsTheOrder => {
            back.follow(&shopper).await;
            app.wait_for(&reference, "failed").await;
            assert_eq!(
                app.stock_of(1).await,
                40,
                "a failed order gives its stock back"
            );
            let shown = shopper.follow(&format!("/orders/{reference}")).await;
            assert!(shown.contains("Try again"), "{}", shown.html);
        }
        Declined::MayTryAgain => {
            let Back::Stays(html) = &back else {
                panic!("a decline stays on the provider's page: {back:?}")
            };
            assert!(
                html.contains("role=\"alert\""),
                "the decline is said: {html}"
            );
            assert_eq!(app.status_of(&reference).await, "awaiting_payment");
            let again = driver
                .press(&shopper, &visit, Press::new("pay", "normal"))
                .await;
            app.wait_for(&reference, "paid").await;
            back_to(&shopper, &again, "Paid").await;
        }
    }
}

pub async fn cancel<D: Driver>(app: &TestApp, driver: &D) {
    let (shopper, back, reference) = pressed(app, driver, Press::new("cancel", "normal")).await;
    match D::CANCEL {
        Cancelled::BackToTheShop => {
            back_to(&shopper, &back, "Awaiting payment").await;
            assert_eq!(
                app.transitions(&reference).await,
                0,
                "a cancel at the provider changes nothing by itself"
            );
            // The shopper's own Cancel on the order page does.
            let action = format!("/payments/{}/cancel/{reference}", D::PROVIDER);
            let shown = shopper
                .submit(&format!("/orders/{reference}"), &action, &[("key", "")])
                .await;
            assert_eq!(
                shown.order_status().as_deref(),
                Some("Cancelled"),
                "{}",
                shown.html
            );
        }
        Cancelled::CancelsTheOrder => {
            app.wait_for(&reference, "cancelled").await;
            back_to(&shopper, &back, "Cancelled").await;
        }
    }
    assert_eq!(app.stock_of(1).await, 40);
}

pub async fn duplicated<D: Driver>(app: &TestApp, driver: &D) {
    let (_, _, reference) = pressed(app, driver, Press::new("pay", "duplicated")).await;
    app.wait_for(&reference, "paid").await;
    deliveries_settled(app, 5).await;
    assert_eq!(
        app.transitions(&reference).await,
        1,
        "five copies move the order once"
    );
    let outcomes = app.inbox_outcomes().await;
    assert!(outcomes.iter().any(|o| o == "duplicate"), "{outcomes:?}");
}

pub async fn reordered<D: Driver>(app: &TestApp, driver: &D) {
    let (_, _, reference) = pressed(app, driver, Press::new("pay", "reordered")).await;
    app.wait_for(&reference, "paid").await;
    assert_eq!(app.transitions(&reference).await, 1);
}

pub async fn never_sent<D: Driver>(app: &TestApp, driver: &D) {
    let (shopper, back, reference) = pressed(app, driver, Press::new("pay", "never")).await;
    assert_eq!(
        app.status_of(&reference).await,
        "awaiting_payment",
        "paying alone changes nothing"
    );
    // No webhook: the return asks the provider.
    back_to(&shopper, &back, "Paid").await;
    assert_eq!(app.transitions(&reference).await, 1);
    assert!(
        app.inbox_outcomes().await.is_empty(),
        "no delivery was made"
    );
}

pub async fn forged<D: Driver>(app: &TestApp, driver: &D) {
    let (_, _, reference) = opened(app, driver).await;
    // A delivery naming the order, signed by nobody.
    let body = format!(
        r#"{{"id":"evt_forged","type":"checkout.session.completed","reference":"{reference}"}}"#
    );
    let answer = reqwest::Client::new()
        .post(format!("{}/webhooks/{}", app.base, D::PROVIDER))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_client_error(), "{}", answer.status());
    assert_eq!(app.status_of(&reference).await, "awaiting_payment");
    assert_eq!(app.ledger_rows(&reference).await, 0);
}

/// Paid (and waited for), with this refunds test control: the order's reference.
async fn paid<D: Driver>(app: &TestApp, driver: &D, refunds: &str) -> String {
    let press = Press {
        refunds,
        ..Press::new("pay", "normal")
    };
    let (shopper, back, reference) = pressed(app, driver, press).await;
    app.wait_for(&reference, "paid").await;
    back_to(&shopper, &back, "Paid").await;
    reference
}

fn refund_key() -> String {
    format!("refund-{}", uuid::Uuid::new_v4().simple())
}

/// Wait until the order's refunds are `expected`.
async fn refunds_become(app: &TestApp, reference: &str, expected: &[(i64, &str)]) {
    let expected: Vec<(i64, String)> = expected.iter().map(|(a, s)| (*a, s.to_string())).collect();
    for _ in 0..200 {
        if app.refund_rows(reference).await == expected {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(app.refund_rows(reference).await, expected);
}

/// A third of the order, in the order's currency's major units.
fn a_third<D: Driver>() -> (&'static str, i64) {
    match D::CURRENCY {
        "BDT" => ("1440.00", 144_000),
        "CNY" => ("86.00", 8_600),
        _ => ("12.00", 1_200),
    }
}

pub async fn partial_refund<D: Driver>(app: &TestApp, driver: &D) {
    let reference = paid(app, driver, "succeed").await;
    driver.settled(app).await;
    let merchant = app.merchant().await;
    let (amount, minor) = a_third::<D>();
    let (status, answer) = merchant.ask_refund(&reference, amount, &refund_key()).await;
    assert!(status.is_success(), "{status} {answer}");
    app.wait_for(&reference, "partially_refunded").await;
    refunds_become(app, &reference, &[(minor, "succeeded")]).await;
    let page = merchant.get(&format!("/admin/orders/{reference}")).await;
    assert!(page.contains("Partially refunded"), "{}", page.html);
}

pub async fn refused_refund<D: Driver>(app: &TestApp, driver: &D) {
    let reference = paid(app, driver, "refuse").await;
    let merchant = app.merchant().await;
    let (amount, minor) = a_third::<D>();
    let (status, answer) = merchant.ask_refund(&reference, amount, &refund_key()).await;
    assert!(
        !status.is_success(),
        "a refused refund is an error the merchant reads: {answer}"
    );
    refunds_become(app, &reference, &[(minor, "failed")]).await;
    assert_eq!(
        app.status_of(&reference).await,
        "paid",
        "the order keeps its money"
    );
}

/// Every scenario for each `provider: Driver`, on SQLite and PostgreSQL; `webhooks` adds the
/// delivery scenarios for providers that confirm a payment by webhook.
macro_rules! conformance {
    (@common $driver:expr) => {
        crate::helpers::both_backends! {
            async fn pay(app) { crate::conformance::pay(&app, &$driver).await }
            async fn decline(app) { crate::conformance::decline(&app, &$driver).await }
            async fn cancel(app) { crate::conformance::cancel(&app, &$driver).await }
            async fn forged(app) { crate::conformance::forged(&app, &$driver).await }
            async fn partial_refund(app) { crate::conformance::partial_refund(&app, &$driver).await }
        }
    };
    (@refused $driver:expr) => {
        crate::helpers::both_backends! {
            async fn refused_refund(app) { crate::conformance::refused_refund(&app, &$driver).await }
        }
    };
    (@webhooks $driver:expr) => {
        crate::helpers::both_backends! {
            async fn duplicated(app) { crate::conformance::duplicated(&app, &$driver).await }
            async fn reordered(app) { crate::conformance::reordered(&app, &$driver).await }
            async fn never_sent(app) { crate::conformance::never_sent(&app, &$driver).await }
        }
    };
    ($($provider:ident: $driver:expr $(, $extra:ident)*;)*) => {$(
        mod $provider {
            conformance!(@common $driver);
            $(conformance!(@$extra $driver);)*
        }
    )*};
}

conformance! {
    stripe: crate::conformance::Stripe, webhooks, refused;
    paypal: crate::conformance::Paypal, webhooks, refused;
    square: crate::conformance::Square, webhooks, refused;
    sslcommerz: crate::conformance::Sslcommerz, webhooks, refused;
    alipay: crate::conformance::Alipay, webhooks, refused;
    authorizenet: crate::conformance::AuthorizeNet, webhooks;
    braintree: crate::conformance::Braintree;
}
