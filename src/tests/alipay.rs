//! Alipay through its built-in sandbox: page.pay as a form the browser posts (Continue without
//! JavaScript), the cashier's Pay / Decline / Cancel, RSA2-signed notifies answered `success`,
//! trade.query on the return, trade.close on the shopper's cancel, refunds from the admin page,
//! forged, tampered, foreign and replayed notifies, and a gateway that is down. Product 1
//! (Canvas Tote) is CN¥129.00.

use crate::helpers::{both_backends, on_both_backends, spawn_app_with, Backend, Browser, TestApp};
use app::model::ProviderId;
use app::server::payments::alipay::{keys, sign};
use app::server::payments::{AttemptRef, Outcome};
use axum::extract::State;
use regex_lite::Regex;
use reqwest::header::LOCATION;
use reqwest::StatusCode;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// The page.pay form on the shop's `/payments/alipay/go/…` page.
struct GatewayForm {
    action: String,
    fields: Vec<(String, String)>,
}

impl GatewayForm {
    fn field(&self, k: &str) -> &str {
        self.fields
            .iter()
            .find(|(name, _)| name == k)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }
}

impl Browser {
    /// One tote bag in CNY, Pay with Alipay: the form the shop's page carries to the gateway.
    async fn alipay_form(&self) -> GatewayForm {
        self.set_currency("CNY").await;
        self.add_to_cart(1, 1).await;
        let go = self.pay("alipay").await;
        assert!(go.contains("/payments/alipay/go/ORD-"), "{go}");
        self.gateway_form(&go).await
    }

    async fn gateway_form(&self, go: &str) -> GatewayForm {
        let page = self.get(&self.local(go)).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.html);
        assert!(
            page.contains(">Continue</button>"),
            "a Continue button without JavaScript"
        );
        let action = page
            .capture(r#"<form id="provider-form" method="post" action="([^"]+)""#)
            .map(|a| unescape(&a))
            .expect("the gateway form");
        let fields = Regex::new(r#"<input type="hidden" name="([^"]+)" value="([^"]*)">"#)
            .unwrap()
            .captures_iter(&page.html)
            .map(|c| (unescape(&c[1]), unescape(&c[2])))
            .collect();
        GatewayForm { action, fields }
    }

    /// Post the form to the gateway as the browser does: the cashier page (or the gateway's
    /// error page).
    async fn post_gateway(&self, form: &GatewayForm) -> (StatusCode, String) {
        let url = if form.action.starts_with('/') {
            format!("{}{}", self.base, form.action)
        } else {
            form.action.clone()
        };
        let response = self
            .client
            .post(url)
            .form(&form.fields)
            .send()
            .await
            .unwrap();
        (response.status(), response.text().await.unwrap())
    }

    async fn open_cashier(&self, form: &GatewayForm) -> String {
        let (status, html) = self.post_gateway(form).await;
        assert_eq!(status, StatusCode::OK, "{html}");
        assert!(html.contains("<h1>Alipay sandbox cashier</h1>"), "{html}");
        html
    }

    /// Press a cashier button with a notify test control.
    async fn on_cashier(&self, cashier: &str, action: &str, webhook: &str) -> reqwest::Response {
        self.on_cashier_with_refunds(cashier, action, webhook, "succeed")
            .await
    }

    /// The same, with the refunds test control (`succeed`, `later`, `refuse`).
    async fn on_cashier_with_refunds(
        &self,
        cashier: &str,
        action: &str,
        webhook: &str,
        refunds: &str,
    ) -> reqwest::Response {
        let trade = Regex::new(r#"name="trade" value="([^"]+)""#)
            .unwrap()
            .captures(cashier)
            .map(|c| unescape(&c[1]))
            .expect("trade field");
        self.client
            .post(format!("{}/sandbox/alipay/cashier", self.base))
            .form(&[
                ("trade", trade.as_str()),
                ("action", action),
                ("webhook", webhook),
                ("refunds", refunds),
            ])
            .send()
            .await
            .unwrap()
    }
}

/// A notify for the order's first attempt, as the sandbox "Alipay" sends it.
fn notify(attempt: &str, status: &str, amount: &str, notify_id: &str) -> BTreeMap<String, String> {
    let out_trade_no = sign::out_trade_no(attempt);
    [
        ("notify_time", "2026-12-01 12:00:00"),
        ("notify_type", "trade_status_sync"),
        ("notify_id", notify_id),
        ("app_id", keys::SANDBOX_APP_ID),
        ("charset", "utf-8"),
        ("version", "1.0"),
        ("sign_type", "RSA2"),
        ("trade_no", "2026120122001400000000000001"),
        ("out_trade_no", out_trade_no.as_str()),
        ("trade_status", status),
        ("total_amount", amount),
        ("subject", "Canvas Tote & more"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// The fields signed (over all but `sign` and `sign_type`) with `key`, form-encoded.
fn signed_body(mut fields: BTreeMap<String, String>, key_pem: &str) -> String {
    let key = sign::PrivateKey::parse(key_pem).unwrap();
    let content = sign::content(
        fields.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        &["sign", "sign_type"],
    );
    fields.insert("sign".into(), key.sign(&content));
    serde_urlencoded::to_string(&fields).unwrap()
}

impl TestApp {
    /// Post a notify body; the status and the body of the answer.
    async fn alipay_notify(&self, body: String) -> (StatusCode, String) {
        let response = reqwest::Client::new()
            .post(format!("{}/webhooks/alipay", self.base))
            .header(
                "content-type",
                "application/x-www-form-urlencoded; charset=utf-8",
            )
            .body(body)
            .send()
            .await
            .unwrap();
        (response.status(), response.text().await.unwrap())
    }

    /// What the sandbox says about the attempt's trade now (`alipay.trade.query`).
    async fn alipay_trade(&self, attempt: &str) -> Outcome {
        let provider = self.state.payments.get(ProviderId::Alipay).unwrap();
        let at = AttemptRef {
            reference: attempt,
            session_id: None,
        };
        provider.lookup(at).await.unwrap().outcome
    }
}

both_backends! {
    async fn alipay_in_cny_pays_through_the_cashier_and_the_return_asks_the_gateway(app) {
        let shopper = app.browser();
        shopper.set_currency("CNY").await;
        shopper.add_to_cart(1, 1).await;
        let checkout = shopper.get("/checkout").await;
        assert!(checkout.offers("alipay") && checkout.offers("stripe"), "CNY offers Stripe and Alipay");
        let go = shopper.pay("alipay").await;
        let form = shopper.gateway_form(&go).await;
        assert_eq!(form.action, "/sandbox/alipay/gateway.do?charset=utf-8");
        assert_eq!(form.field("method"), "alipay.trade.page.pay");
        assert_eq!(form.field("sign_type"), "RSA2");
        assert_eq!(form.field("notify_url"), "http://shop.example.test/webhooks/alipay");
        assert_eq!(form.field("return_url"), "http://shop.example.test/payments/alipay/return/ORD-000001");
        let biz: serde_json::Value = serde_json::from_str(form.field("biz_content")).unwrap();
        assert_eq!(biz["out_trade_no"], sign::out_trade_no(&app.attempt_ref("ORD-000001", 1)));
        assert_eq!(biz["total_amount"], "129.00");
        assert_eq!(biz["product_code"], "FAST_INSTANT_TRADE_PAY");
        assert!(!form.fields.iter().any(|(_, v)| v.contains("PRIVATE KEY")), "no key in the page");
        let cashier = shopper.open_cashier(&form).await;
        assert!(cashier.contains("CNY 129.00") && cashier.contains("ORD_000001_A1"));
        assert!(cashier.contains(">Pay<") && cashier.contains(">Decline<") && cashier.contains(">Cancel<"));
        // No notify (test control): the return's trade.query finds it paid.
        let response = shopper.on_cashier(&cashier, "pay", "never").await;
        assert!(response.status().is_redirection(), "{}", response.status());
        let back = response.headers()[LOCATION].to_str().unwrap().to_string();
        assert!(back.starts_with("http://shop.example.test/payments/alipay/return/ORD-000001?"), "{back}");
        assert!(back.contains("sign="), "signed return parameters");
        assert_eq!(app.status_of("ORD-000001").await, "awaiting_payment", "paying alone changes nothing");
        let page = shopper.follow(&back).await;
        assert_eq!(page.order_status().as_deref(), Some("Paid"), "{}", page.html);
        assert!(page.contains("CN¥129.00"));
        assert_eq!(app.transitions("ORD-000001").await, 1);
    }

    async fn decline_leaves_the_trade_waiting_and_paying_again_works(app) {
        let shopper = app.browser();
        let form = shopper.alipay_form().await;
        let cashier = shopper.open_cashier(&form).await;
        let response = shopper.on_cashier(&cashier, "decline", "normal").await;
        assert_eq!(response.status(), StatusCode::OK);
        let declined = response.text().await.unwrap();
        assert!(declined.contains("role=\"alert\"") && declined.contains("Payment declined"), "{declined}");
        assert_eq!(app.alipay_trade(&app.attempt_ref("ORD-000001", 1)).await, Outcome::Pending);
        assert_eq!(app.status_of("ORD-000001").await, "awaiting_payment");
        // The go page's form again opens the same trade; Pay now succeeds.
        let again = shopper.open_cashier(&form).await;
        shopper.on_cashier(&again, "pay", "normal").await;
        app.wait_for("ORD-000001", "paid").await;
    }

    async fn cancel_returns_to_the_shop_and_the_shoppers_cancel_closes_the_trade(app) {
        let shopper = app.browser();
        let form = shopper.alipay_form().await;
        let cashier = shopper.open_cashier(&form).await;
        let response = shopper.on_cashier(&cashier, "cancel", "normal").await;
        let back = response.headers()[LOCATION].to_str().unwrap().to_string();
        assert_eq!(back, "http://shop.example.test/payments/alipay/return/ORD-000001");
        let page = shopper.follow(&back).await;
        assert_eq!(page.order_status().as_deref(), Some("Awaiting payment"), "{}", page.html);
        assert_eq!(app.alipay_trade(&app.attempt_ref("ORD-000001", 1)).await, Outcome::Pending);
        let response = shopper
            .post_form("/orders/ORD-000001", "/payments/alipay/cancel/ORD-000001", &[("key", "")])
            .await;
        assert_eq!(response.headers()[LOCATION].to_str().unwrap(), "/orders/ORD-000001");
        assert_eq!(app.status_of("ORD-000001").await, "cancelled");
        assert_eq!(app.alipay_trade(&app.attempt_ref("ORD-000001", 1)).await, Outcome::Cancelled, "closed at the gateway");
        let (status, html) = shopper.post_gateway(&form).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "a closed trade cannot be paid: {html}");
        assert!(html.contains("ACQ.TRADE_HAS_CLOSE"));
    }

    async fn a_cancelled_orders_gateway_form_is_not_served_again(app) {
        // The shopper never opened the cashier, so closing answers ACQ.TRADE_NOT_EXIST and the
        // order is cancelled; a form kept in the browser (back button, a reopened link) must not
        // open a trade that could still be paid.
        let shopper = app.browser();
        shopper.set_currency("CNY").await;
        shopper.add_to_cart(1, 1).await;
        let go = shopper.pay("alipay").await;
        shopper.gateway_form(&go).await;
        shopper
            .post_form("/orders/ORD-000001", "/payments/alipay/cancel/ORD-000001", &[("key", "")])
            .await;
        assert_eq!(app.status_of("ORD-000001").await, "cancelled");
        let again = shopper.get(&shopper.local(&go)).await;
        assert!(again.status.is_redirection(), "{} {}", again.status, again.html);
        assert!(!again.contains("provider-form"), "{}", again.html);
    }

    async fn five_identical_notifies_at_once_apply_once_and_a_replay_is_a_duplicate(app) {
        let shopper = app.browser();
        shopper.alipay_form().await;
        let body = signed_body(notify(&app.attempt_ref("ORD-000001", 1), "TRADE_SUCCESS", "129.00", "n-1"), keys::SANDBOX_ALIPAY_PRIVATE_KEY);
        let sends = (0..5).map(|_| app.alipay_notify(body.clone()));
        for (status, text) in futures_util::future::join_all(sends).await {
            assert_eq!((status, text.as_str()), (StatusCode::OK, "success"));
        }
        assert_eq!(app.status_of("ORD-000001").await, "paid");
        assert_eq!(app.transitions("ORD-000001").await, 1);
        assert_eq!(app.ledger_rows("ORD-000001").await, 1);
        let (status, text) = app.alipay_notify(body).await;
        assert_eq!((status, text.as_str()), (StatusCode::OK, "success"), "a replay is acknowledged");
        assert_eq!(app.ledger_rows("ORD-000001").await, 1);
    }

    async fn forged_tampered_and_foreign_notifies_are_refused(app) {
        let shopper = app.browser();
        shopper.alipay_form().await;
        // Signed with the app's key, not Alipay's.
        let forged = signed_body(notify(&app.attempt_ref("ORD-000001", 1), "TRADE_SUCCESS", "129.00", "n-1"), keys::SANDBOX_APP_PRIVATE_KEY);
        assert_eq!(app.alipay_notify(forged).await.0, StatusCode::BAD_REQUEST);
        // Genuine, then the amount changed.
        let genuine = signed_body(notify(&app.attempt_ref("ORD-000001", 1), "TRADE_SUCCESS", "0.01", "n-2"), keys::SANDBOX_ALIPAY_PRIVATE_KEY);
        let tampered = genuine.replace("total_amount=0.01", "total_amount=129.00");
        assert_ne!(tampered, genuine);
        assert_eq!(app.alipay_notify(tampered).await.0, StatusCode::BAD_REQUEST);
        // Signed by Alipay, for another app.
        let mut foreign = notify(&app.attempt_ref("ORD-000001", 1), "TRADE_SUCCESS", "129.00", "n-3");
        foreign.insert("app_id".into(), "2021000000009999".into());
        let foreign = signed_body(foreign, keys::SANDBOX_ALIPAY_PRIVATE_KEY);
        assert_eq!(app.alipay_notify(foreign).await.0, StatusCode::BAD_REQUEST);
        assert_eq!(app.status_of("ORD-000001").await, "awaiting_payment");
        assert_eq!(app.ledger_rows("ORD-000001").await, 0);
    }

    async fn a_notify_for_another_amount_needs_review(app) {
        let shopper = app.browser();
        shopper.alipay_form().await;
        let body = signed_body(notify(&app.attempt_ref("ORD-000001", 1), "TRADE_SUCCESS", "1.29", "n-1"), keys::SANDBOX_ALIPAY_PRIVATE_KEY);
        assert_eq!(app.alipay_notify(body).await, (StatusCode::OK, "success".to_string()));
        assert_eq!(app.status_of("ORD-000001").await, "needs_review");
    }

    async fn wait_buyer_pay_is_acknowledged_and_trade_closed_cancels(app) {
        let shopper = app.browser();
        shopper.alipay_form().await;
        let waiting = signed_body(notify(&app.attempt_ref("ORD-000001", 1), "WAIT_BUYER_PAY", "129.00", "n-1"), keys::SANDBOX_ALIPAY_PRIVATE_KEY);
        assert_eq!(app.alipay_notify(waiting).await, (StatusCode::OK, "success".to_string()));
        assert_eq!(app.status_of("ORD-000001").await, "awaiting_payment");
        assert_eq!(app.ledger_rows("ORD-000001").await, 0);
        let closed = signed_body(notify(&app.attempt_ref("ORD-000001", 1), "TRADE_CLOSED", "129.00", "n-2"), keys::SANDBOX_ALIPAY_PRIVATE_KEY);
        assert_eq!(app.alipay_notify(closed).await, (StatusCode::OK, "success".to_string()));
        assert_eq!(app.status_of("ORD-000001").await, "cancelled");
    }

    async fn an_alipay_refund_is_made_only_once_money_moved(app) {
        let shopper = app.browser();
        let form = shopper.alipay_form().await;
        let cashier = shopper.open_cashier(&form).await;
        shopper.on_cashier_with_refunds(&cashier, "pay", "normal", "later").await;
        app.wait_for("ORD-000001", "paid").await;
        let merchant = app.merchant().await;
        // Alipay accepts the refund (10000) but moves no money yet (fund_change N): pending.
        let said = merchant.refund("ORD-000001", "129.00", "refund-key-later").await.unwrap();
        assert!(said.contains("pending at Alipay"), "{said}");
        assert_eq!(app.status_of("ORD-000001").await, "paid");
        assert_eq!(app.refund_rows("ORD-000001").await, vec![(12900, "pending".to_string())]);
        let look_up = || merchant.submit("/admin/orders/ORD-000001", "/api/admin/look_up_now", &[("reference", "ORD-000001")]);
        // The first refund query finds no status yet: still pending, never failed.
        look_up().await;
        assert_eq!(app.refund_rows("ORD-000001").await, vec![(12900, "pending".to_string())]);
        // The next one finds REFUND_SUCCESS.
        look_up().await;
        assert_eq!(app.refund_rows("ORD-000001").await, vec![(12900, "succeeded".to_string())]);
        assert_eq!(app.status_of("ORD-000001").await, "refunded");
    }

    async fn product_names_with_characters_alipay_refuses_still_pay(app) {
        app.exec("UPDATE products SET name = 'Tote / Bag & Co = 1' WHERE id = 1").await;
        let shopper = app.browser();
        let form = shopper.alipay_form().await;
        let subject = serde_json::from_str::<serde_json::Value>(form.field("biz_content")).unwrap()["subject"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(!subject.contains(['/', '=', '&']), "{subject}");
        assert!(subject.contains("Tote"), "{subject}");
        let cashier = shopper.open_cashier(&form).await;
        shopper.on_cashier(&cashier, "pay", "normal").await;
        app.wait_for("ORD-000001", "paid").await;
    }

    async fn refunds_from_the_admin_page_go_through_trade_refund(app) {
        let shopper = app.browser();
        let form = shopper.alipay_form().await;
        let cashier = shopper.open_cashier(&form).await;
        shopper.on_cashier(&cashier, "pay", "normal").await;
        app.wait_for("ORD-000001", "paid").await;
        let merchant = app.merchant().await;
        let said = merchant.refund("ORD-000001", "29.00", "refund-key-1").await.unwrap();
        assert!(said.contains("29.00"), "{said}");
        assert_eq!(app.status_of("ORD-000001").await, "partially_refunded");
        // The same key again refunds nothing more (out_request_no).
        let _ = merchant.refund("ORD-000001", "29.00", "refund-key-1").await;
        let said = merchant.refund("ORD-000001", "100.00", "refund-key-2").await.unwrap();
        assert!(said.contains("100.00"), "{said}");
        assert_eq!(app.status_of("ORD-000001").await, "refunded");
        assert_eq!(
            app.refund_rows("ORD-000001").await,
            vec![(2900, "succeeded".to_string()), (10000, "succeeded".to_string())]
        );
        let more = merchant.refund("ORD-000001", "0.01", "refund-key-3").await.unwrap_err();
        assert!(more.contains("refunded"), "{more}");
    }
}

both_backends! {
    async fn the_reconciler_finds_a_payment_whose_notify_never_came(app) {
        let shopper = app.browser();
        let form = shopper.alipay_form().await;
        let cashier = shopper.open_cashier(&form).await;
        // Paid at the cashier, no notify, and the shopper never comes back.
        shopper.on_cashier(&cashier, "pay", "never").await;
        let reconcile = || app::server::services::reconciler::run_once(&app.state);
        assert_eq!(reconcile().await.unwrap(), 0, "nothing is due yet");
        app.exec("UPDATE payment_attempts SET next_lookup_at = next_lookup_at - 30000").await;
        assert_eq!(reconcile().await.unwrap(), 1);
        assert_eq!(app.status_of("ORD-000001").await, "paid");
    }

    async fn a_hold_that_runs_out_closes_the_trade_at_alipay(app) {
        let shopper = app.browser();
        let form = shopper.alipay_form().await;
        let biz: serde_json::Value = serde_json::from_str(form.field("biz_content")).unwrap();
        assert!(biz["time_expire"].as_str().is_some_and(|t| t.len() == 19), "{biz}");
        shopper.open_cashier(&form).await;
        app.exec("UPDATE orders SET hold_until = 1").await;
        assert_eq!(app::server::services::reconciler::run_once(&app.state).await.unwrap(), 1);
        assert_eq!(app.status_of("ORD-000001").await, "expired");
        assert_eq!(app.alipay_trade(&app.attempt_ref("ORD-000001", 1)).await, Outcome::Cancelled, "closed at the gateway");
        // Money that still arrives goes to a person.
        let late = signed_body(notify(&app.attempt_ref("ORD-000001", 1), "TRADE_SUCCESS", "129.00", "n-late"), keys::SANDBOX_ALIPAY_PRIVATE_KEY);
        assert_eq!(app.alipay_notify(late).await, (StatusCode::OK, "success".to_string()));
        assert_eq!(app.status_of("ORD-000001").await, "needs_review");
    }
}

/// A gateway in front of the sandbox that can be switched off (answers 502) and on.
#[derive(Default)]
struct Switch {
    up: AtomicBool,
    target: Mutex<String>,
}

async fn switched(
    State(switch): State<Arc<Switch>>,
    uri: axum::http::Uri,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    if !switch.up.load(Ordering::SeqCst) {
        return (axum::http::StatusCode::BAD_GATEWAY, "down").into_response();
    }
    let target = switch.target.lock().unwrap().clone();
    let url = format!("{target}?{}", uri.query().unwrap_or_default());
    let mut request = reqwest::Client::new().post(url).body(body);
    if let Some(ct) = headers.get("content-type") {
        request = request.header("content-type", ct.to_str().unwrap());
    }
    let answer = request.send().await.unwrap();
    let status = axum::http::StatusCode::from_u16(answer.status().as_u16()).unwrap();
    let ct = answer
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string());
    let text = answer.text().await.unwrap();
    (
        status,
        [("content-type", ct.unwrap_or_else(|| "text/plain".into()))],
        text,
    )
        .into_response()
}

async fn the_gateway_down_is_a_clear_message_and_pay_again_works_once_it_is_back(backend: Backend) {
    let switch = Arc::new(Switch::default());
    let router = axum::Router::new()
        .route("/gateway.do", axum::routing::post(switched))
        .with_state(switch.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gateway = format!("http://{}/gateway.do", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    let app = spawn_app_with(backend, &[("ALIPAY_GATEWAY", &gateway)]).await;
    // A second instance on the same database with the built-in sandbox stands for Alipay.
    let alipay = app.another_instance().await;
    *switch.target.lock().unwrap() = format!("{}/sandbox/alipay/gateway.do", alipay.base);

    let shopper = app.browser();
    shopper.set_currency("CNY").await;
    shopper.add_to_cart(1, 1).await;
    let response = shopper
        .pay_with_key("alipay", &shopper.checkout_key().await)
        .await;
    let page = shopper
        .follow(response.headers()[LOCATION].to_str().unwrap())
        .await;
    let alert = page.alert().expect("an error message");
    assert!(
        alert.contains("Alipay is not answering") && alert.contains("ORD-000001"),
        "{alert}"
    );
    assert!(
        !alert.contains("502") && !alert.contains("down"),
        "the gateway's own text is not shown"
    );
    assert_eq!(app.status_of("ORD-000001").await, "awaiting_payment");

    switch.up.store(true, Ordering::SeqCst);
    let go = shopper.pay("alipay").await;
    assert!(
        go.ends_with(&format!(
            "/payments/alipay/go/{}",
            app.attempt_ref("ORD-000001", 1)
        )),
        "the same attempt: {go}"
    );
    let form = shopper.gateway_form(&go).await;
    assert_eq!(form.action, format!("{gateway}?charset=utf-8"));
    let cashier = shopper.open_cashier(&form).await;
    assert!(cashier.contains("ORD_000001_A1"));
    assert_eq!(app.order_count().await, 1);
}

/// The sandbox's own surface: the published keys, signed answers, signature refusals.
async fn the_sandbox_publishes_its_keys_and_signs_its_answers(backend: Backend) {
    let app = crate::helpers::spawn_app(backend).await;
    let client = reqwest::Client::new();
    let published: serde_json::Value = client
        .get(format!("{}/sandbox/alipay/keys", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(published["app_id"], keys::SANDBOX_APP_ID);
    let app_key = sign::PrivateKey::parse(published["app_private_key"].as_str().unwrap()).unwrap();
    let alipay_key =
        sign::PublicKey::parse(published["alipay_public_key"].as_str().unwrap()).unwrap();
    let call = |sign_with: sign::PrivateKey| {
        let mut params: BTreeMap<&str, String> = [
            ("app_id", keys::SANDBOX_APP_ID.to_string()),
            ("method", "alipay.trade.query".into()),
            ("charset", "utf-8".into()),
            ("sign_type", "RSA2".into()),
            ("timestamp", "2026-12-01 10:00:00".into()),
            ("version", "1.0".into()),
            ("biz_content", "{\"out_trade_no\":\"nobody_1\"}".into()),
        ]
        .into_iter()
        .collect();
        let content = sign::content(params.iter().map(|(k, v)| (*k, v.as_str())), &[]);
        params.insert("sign", sign_with.sign(&content));
        let biz = params.remove("biz_content").unwrap();
        client
            .post(format!("{}/sandbox/alipay/gateway.do", app.base))
            .query(&params)
            .form(&[("biz_content", biz)])
            .send()
    };
    let raw = call(app_key).await.unwrap().text().await.unwrap();
    let (object, signature) = sign::signed_response(&raw, "alipay_trade_query_response").unwrap();
    assert!(alipay_key.verify(object, &signature.unwrap()), "{raw}");
    let answer: serde_json::Value = serde_json::from_str(object).unwrap();
    assert_eq!(
        (answer["code"].as_str(), answer["sub_code"].as_str()),
        (Some("40004"), Some("ACQ.TRADE_NOT_EXIST"))
    );
    let wrong = sign::PrivateKey::parse(keys::SANDBOX_ALIPAY_PRIVATE_KEY).unwrap();
    let raw = call(wrong).await.unwrap().text().await.unwrap();
    let (object, _) = sign::signed_response(&raw, "alipay_trade_query_response").unwrap();
    let answer: serde_json::Value = serde_json::from_str(object).unwrap();
    assert_eq!(
        (answer["code"].as_str(), answer["sub_code"].as_str()),
        (Some("40002"), Some("isv.invalid-signature"))
    );
}

on_both_backends! {
    the_gateway_down_is_a_clear_message_and_pay_again_works_once_it_is_back,
    the_sandbox_publishes_its_keys_and_signs_its_answers,
}
