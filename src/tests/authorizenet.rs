//! Authorize.Net through its built-in sandbox: the Accept Hosted token as a form the browser
//! posts (Continue without JavaScript), the hosted form's Pay / Decline / Cancel, signed
//! `X-ANET-Signature` webhooks confirmed by the transaction's details, lookups by invoice number
//! on the return and from the reconciler, refunds (refundTransaction once settled, a void before),
//! forged, tampered, unsigned and replayed webhooks, and an API that is down. Product 1
//! (Canvas Tote) is $18.00.

use crate::helpers::{both_backends, on_both_backends, spawn_app_with, Backend, Browser, TestApp};
use app::model::ProviderId;
use app::server::config::payments::sandbox_keys;
use app::server::payments::authorizenet::{self, signature, wire};
use app::server::payments::{AttemptRef, Outcome};
use axum::extract::State;
use regex_lite::Regex;
use reqwest::header::LOCATION;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// The token form on the shop's `/payments/authorizenet/go/…` page.
struct TokenForm {
    action: String,
    token: String,
}

impl Browser {
    /// One tote bag in USD, Pay with Authorize.Net: the form the go page posts.
    async fn anet_form(&self) -> TokenForm {
        self.set_currency("USD").await;
        self.add_to_cart(1, 1).await;
        let go = self.pay("authorizenet").await;
        assert!(go.contains("/payments/authorizenet/go/ORD-"), "{go}");
        self.token_form(&go).await
    }

    async fn token_form(&self, go: &str) -> TokenForm {
        let page = self.get(&self.local(go)).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.html);
        assert!(
            page.contains(">Continue</button>"),
            "a Continue button without JavaScript"
        );
        let action = page
            .capture(r#"<form id="provider-form" method="post" action="([^"]+)""#)
            .map(|a| unescape(&a))
            .expect("the token form");
        let token = Regex::new(r#"<input type="hidden" name="token" value="([^"]*)">"#)
            .unwrap()
            .captures(&page.html)
            .map(|c| unescape(&c[1]))
            .expect("the token field");
        TokenForm { action, token }
    }

    /// Post the token to the hosted form as the browser does.
    async fn post_token(&self, form: &TokenForm) -> (StatusCode, String) {
        let url = if form.action.starts_with('/') {
            format!("{}{}", self.base, form.action)
        } else {
            form.action.clone()
        };
        let response = self
            .client
            .post(url)
            .form(&[("token", form.token.as_str())])
            .send()
            .await
            .unwrap();
        (response.status(), response.text().await.unwrap())
    }

    async fn open_hosted_form(&self, form: &TokenForm) -> String {
        let (status, html) = self.post_token(form).await;
        assert_eq!(status, StatusCode::OK, "{html}");
        assert!(
            html.contains("<h1>Authorize.Net sandbox payment form</h1>"),
            "{html}"
        );
        html
    }

    /// Press a hosted-form button with test controls.
    async fn on_hosted_form(
        &self,
        form: &TokenForm,
        action: &str,
        webhook: &str,
        settlement: &str,
    ) -> reqwest::Response {
        self.client
            .post(format!("{}/sandbox/authorizenet/payment/action", self.base))
            .form(&[
                ("token", form.token.as_str()),
                ("card", "4111111111111111"),
                ("expiry", "12/30"),
                ("action", action),
                ("webhook", webhook),
                ("settlement", settlement),
                ("refunds", "succeed"),
            ])
            .send()
            .await
            .unwrap()
    }
}

impl TestApp {
    /// What the provider says about the attempt now (lookup by invoice number).
    async fn anet_lookup(&self, attempt: &str) -> (Outcome, Option<String>) {
        let provider = self.state.payments.get(ProviderId::AuthorizeNet).unwrap();
        let update = provider
            .lookup(AttemptRef {
                reference: attempt,
                session_id: None,
            })
            .await
            .unwrap();
        (update.outcome, update.payment_id)
    }

    async fn anet_webhook(&self, body: &str, signature: Option<String>) -> StatusCode {
        let headers: Vec<(&str, String)> = signature
            .into_iter()
            .map(|s| ("X-ANET-Signature", s))
            .collect();
        self.post_webhook(
            "authorizenet",
            "application/json",
            &headers,
            body.as_bytes().to_vec(),
        )
        .await
    }

    async fn anet_refund_statuses(&self) -> Vec<String> {
        sqlx::query_scalar::<_, String>(
            "SELECT r.status FROM refunds r JOIN orders o ON o.id = r.order_id WHERE o.reference = 'ORD-000002' ORDER BY r.id",
        )
        .fetch_all(&self.state.db.pool)
        .await
        .unwrap()
    }

    /// Call the sandbox API directly, as an SDK would (JSON).
    async fn anet_api(&self, request: Value) -> Value {
        let bytes = reqwest::Client::new()
            .post(format!(
                "{}/sandbox/authorizenet/xml/v1/request.api",
                self.base
            ))
            .header("content-type", "application/json")
            .body(request.to_string())
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert!(bytes.starts_with(wire::BOM), "answers start with the BOM");
        wire::parse_answer(&bytes).unwrap()
    }
}

/// A webhook about transaction `trans_id`, signed with `key`.
fn event(trans_id: &str, notification_id: &str) -> String {
    json!({
        "notificationId": notification_id,
        "eventType": "net.authorize.payment.authcapture.created",
        "eventDate": "2026-12-01T12:00:00Z",
        "webhookId": "wh-1",
        "payload": {"responseCode": 1, "authCode": "SBX001", "avsResponse": "Y", "authAmount": 18.0, "entityName": "transaction", "id": trans_id}
    })
    .to_string()
}

fn signed(body: &str) -> Option<String> {
    Some(signature::sign(
        body.as_bytes(),
        sandbox_keys::AUTHORIZENET_SIGNATURE_KEY,
    ))
}

both_backends! {
    async fn authorizenet_in_usd_pays_through_the_hosted_form_and_the_return_looks_it_up(app) {
        let shopper = app.browser();
        shopper.set_currency("USD").await;
        shopper.add_to_cart(1, 1).await;
        let checkout = shopper.get("/checkout").await;
        assert!(checkout.offers("authorizenet"), "USD offers Authorize.Net");
        let go = shopper.pay("authorizenet").await;
        let form = shopper.token_form(&go).await;
        assert_eq!(form.action, "/sandbox/authorizenet/payment/payment");
        assert!(form.token.len() >= 32);
        let page = shopper.open_hosted_form(&form).await;
        assert!(page.contains("USD 18.00") && page.contains(authorizenet::invoice_number(&app.attempt_ref("ORD-000001", 1))), "{page}");
        assert!(page.contains(">Pay<") && page.contains(">Decline<") && page.contains(">Cancel<"));
        assert!(page.contains("<label for=\"card\">"), "labelled fields");
        // No webhook (test control): the return's lookup finds it paid.
        let response = shopper.on_hosted_form(&form, "pay", "never", "settled").await;
        assert!(response.status().is_redirection(), "{}", response.status());
        let back = response.headers()[LOCATION].to_str().unwrap().to_string();
        assert_eq!(back, "http://shop.example.test/payments/authorizenet/return/ORD-000001");
        assert_eq!(app.status_of("ORD-000001").await, "awaiting_payment", "paying alone changes nothing");
        let page = shopper.follow(&back).await;
        assert_eq!(page.order_status().as_deref(), Some("Paid"), "{}", page.html);
        assert_eq!(app.transitions("ORD-000001").await, 1);
        // The token is spent.
        let (status, _) = shopper.post_token(&form).await;
        assert_eq!(status, StatusCode::GONE);
    }

    async fn authorizenet_decline_is_shown_and_the_return_fails_the_order(app) {
        let shopper = app.browser();
        let form = shopper.anet_form().await;
        let response = shopper.on_hosted_form(&form, "decline", "normal", "settled").await;
        assert_eq!(response.status(), StatusCode::OK);
        let html = response.text().await.unwrap();
        assert!(html.contains("Payment declined") && html.contains("response code 2"), "{html}");
        let back = Regex::new(r#"href="([^"]+)">Continue</a>"#).unwrap().captures(&html).map(|c| unescape(&c[1])).unwrap();
        let page = shopper.follow(&back).await;
        assert_eq!(page.order_status().as_deref(), Some("Failed"), "{}", page.html);
        assert_eq!(app.anet_lookup(&app.attempt_ref("ORD-000001", 1)).await.0, Outcome::Failed);
    }

    async fn authorizenet_cancel_returns_to_the_shops_cancel_url(app) {
        let shopper = app.browser();
        let form = shopper.anet_form().await;
        let response = shopper.on_hosted_form(&form, "cancel", "normal", "settled").await;
        let back = response.headers()[LOCATION].to_str().unwrap().to_string();
        assert_eq!(back, "http://shop.example.test/payments/authorizenet/cancel/ORD-000001");
        let page = shopper.follow(&back).await;
        assert_eq!(page.order_status().as_deref(), Some("Awaiting payment"), "{}", page.html);
        assert_eq!(app.anet_lookup(&app.attempt_ref("ORD-000001", 1)).await.0, Outcome::Pending);
    }

    async fn a_payment_on_the_form_after_the_shoppers_cancel_goes_to_review(app) {
        // Accept Hosted cannot withdraw a token: the shop abandons the unpaid invoice, and money
        // paid later on the still-valid form is put in front of a person.
        let shopper = app.browser();
        let form = shopper.anet_form().await;
        shopper.open_hosted_form(&form).await;
        let response = shopper
            .post_form("/orders/ORD-000001", "/payments/authorizenet/cancel/ORD-000001", &[("key", "")])
            .await;
        assert_eq!(response.headers()[LOCATION].to_str().unwrap(), "/orders/ORD-000001");
        assert_eq!(app.status_of("ORD-000001").await, "cancelled");
        assert_eq!(app.stock_of(1).await, 40);
        shopper.on_hosted_form(&form, "pay", "normal", "settled").await;
        app.wait_for("ORD-000001", "needs_review").await;
    }

    async fn authorizenet_five_identical_webhooks_apply_once_and_a_replay_is_a_duplicate(app) {
        let shopper = app.browser();
        let form = shopper.anet_form().await;
        shopper.on_hosted_form(&form, "pay", "never", "settled").await;
        let (_, trans_id) = app.anet_lookup(&app.attempt_ref("ORD-000001", 1)).await;
        let body = event(&trans_id.unwrap(), "n-1");
        let sends = (0..5).map(|_| app.anet_webhook(&body, signed(&body)));
        for status in futures_util::future::join_all(sends).await {
            assert!(status.is_success(), "{status}");
        }
        assert_eq!(app.status_of("ORD-000001").await, "paid");
        assert_eq!(app.transitions("ORD-000001").await, 1);
        assert_eq!(app.ledger_rows("ORD-000001").await, 1);
        assert!(app.anet_webhook(&body, signed(&body)).await.is_success(), "a replay is acknowledged");
        assert_eq!(app.ledger_rows("ORD-000001").await, 1);
        // Lower-case hex is the same signature.
        let lower = signed(&body).map(|s| s.to_lowercase());
        assert!(app.anet_webhook(&body, lower).await.is_success());
        assert_eq!(app.ledger_rows("ORD-000001").await, 1);
    }

    async fn authorizenet_forged_tampered_and_unsigned_webhooks_are_refused(app) {
        let shopper = app.browser();
        let form = shopper.anet_form().await;
        shopper.on_hosted_form(&form, "pay", "never", "settled").await;
        let (_, trans_id) = app.anet_lookup(&app.attempt_ref("ORD-000001", 1)).await;
        let trans_id = trans_id.unwrap();
        let body = event(&trans_id, "n-1");
        let forged = Some(signature::sign(body.as_bytes(), "0123456789ABCDEF"));
        assert_eq!(app.anet_webhook(&body, forged).await, StatusCode::BAD_REQUEST);
        let tampered = body.replace("n-1", "n-2");
        assert_eq!(app.anet_webhook(&tampered, signed(&body)).await, StatusCode::BAD_REQUEST);
        assert_eq!(app.anet_webhook(&body, None).await, StatusCode::BAD_REQUEST);
        assert_eq!(app.anet_webhook(&body, Some("sha512=abc".into())).await, StatusCode::BAD_REQUEST);
        // Signed, but about a transaction Authorize.Net does not have.
        let unknown = event("99999999999", "n-3");
        assert_eq!(app.anet_webhook(&unknown, signed(&unknown)).await, StatusCode::BAD_REQUEST);
        assert_eq!(app.status_of("ORD-000001").await, "awaiting_payment");
        assert_eq!(app.ledger_rows("ORD-000001").await, 0);
    }

    async fn authorizenet_a_payment_of_another_amount_needs_review(app) {
        let shopper = app.browser();
        shopper.anet_form().await;
        // Someone pays $1.00 against the same invoice number (a token made directly at the API).
        let answer = app.anet_api(json!({"getHostedPaymentPageRequest": {
            "merchantAuthentication": {"name": "any", "transactionKey": "any"},
            "transactionRequest": {"transactionType": "authCaptureTransaction", "amount": "1.00", "order": {"invoiceNumber": authorizenet::invoice_number(&app.attempt_ref("ORD-000001", 1))}},
            "hostedPaymentSettings": {"setting": [{"settingName": "hostedPaymentReturnOptions", "settingValue": "{\"showReceipt\":false}"}]}
        }})).await;
        let token = answer["token"].as_str().unwrap().to_string();
        let other = TokenForm { action: "/sandbox/authorizenet/payment/payment".into(), token };
        shopper.on_hosted_form(&other, "pay", "normal", "settled").await;
        app.wait_for("ORD-000001", "needs_review").await;
    }

    async fn authorizenet_refunds_from_the_admin_page_refund_settled_and_void_unsettled(app) {
        let shopper = app.browser();
        let form = shopper.anet_form().await;
        shopper.on_hosted_form(&form, "pay", "normal", "settled").await;
        app.wait_for("ORD-000001", "paid").await;
        let merchant = app.merchant().await;
        let said = merchant.refund("ORD-000001", "8.00", "refund-key-1").await.unwrap();
        assert!(said.contains("8.00"), "{said}");
        assert_eq!(app.status_of("ORD-000001").await, "partially_refunded");
        let said = merchant.refund("ORD-000001", "10.00", "refund-key-2").await.unwrap();
        assert!(said.contains("10.00"), "{said}");
        assert_eq!(app.status_of("ORD-000001").await, "refunded");
        let more = merchant.refund("ORD-000001", "0.01", "refund-key-3").await.unwrap_err();
        assert!(more.contains("refunded"), "{more}");

        // An unsettled payment: a partial refund is refused, the whole amount is voided.
        let second = app.browser();
        let form = second.anet_form().await;
        second.on_hosted_form(&form, "pay", "normal", "unsettled").await;
        app.wait_for("ORD-000002", "paid").await;
        let _ = merchant.refund("ORD-000002", "8.00", "refund-key-4").await;
        assert_eq!(app.status_of("ORD-000002").await, "paid", "nothing refunded");
        assert_eq!(app.anet_refund_statuses().await, vec!["failed".to_string()], "the partial refund before settlement failed");
        let said = merchant.refund("ORD-000002", "18.00", "refund-key-5").await.unwrap();
        assert!(said.contains("18.00"), "{said}");
        assert_eq!(app.status_of("ORD-000002").await, "refunded");
        assert_eq!(app.anet_lookup(&app.attempt_ref("ORD-000002", 1)).await.0, Outcome::Cancelled, "voided at Authorize.Net");
    }
}

both_backends! {
    async fn authorizenet_the_reconciler_finds_a_payment_whose_webhook_never_came(app) {
        let shopper = app.browser();
        let form = shopper.anet_form().await;
        // Paid, no webhook, and the shopper never comes back; left unsettled, then settled.
        shopper.on_hosted_form(&form, "pay", "never", "settled").await;
        let reconcile = || app::server::services::reconciler::run_once(&app.state);
        assert_eq!(reconcile().await.unwrap(), 0, "nothing is due yet");
        app.exec("UPDATE payment_attempts SET next_lookup_at = next_lookup_at - 30000").await;
        assert_eq!(reconcile().await.unwrap(), 1);
        assert_eq!(app.status_of("ORD-000001").await, "paid");
    }

    async fn authorizenet_the_sandbox_api_speaks_json_and_xml(app) {
        let answer = app.anet_api(json!({"getTransactionDetailsRequest": {
            "merchantAuthentication": {"name": "any", "transactionKey": "any"}, "transId": "1"}})).await;
        assert_eq!(answer["messages"]["resultCode"], "Error");
        assert_eq!(answer["messages"]["message"][0]["code"], "E00040");
        let xml = r#"<?xml version="1.0" encoding="utf-8"?><getHostedPaymentPageRequest xmlns="AnetApi/xml/v1/schema/AnetApiSchema.xsd"><merchantAuthentication><name>any</name><transactionKey>any</transactionKey></merchantAuthentication><transactionRequest><transactionType>authCaptureTransaction</transactionType><amount>12.50</amount><order><invoiceNumber>SDK-1</invoiceNumber></order></transactionRequest></getHostedPaymentPageRequest>"#;
        let response = reqwest::Client::new()
            .post(format!("{}/sandbox/authorizenet/xml/v1/request.api", app.base))
            .header("content-type", "application/xml")
            .body(xml)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let bytes = response.bytes().await.unwrap();
        assert!(bytes.starts_with(wire::BOM));
        let (name, value) = wire::read_xml(std::str::from_utf8(&bytes[3..]).unwrap()).unwrap();
        assert_eq!(name, "getHostedPaymentPageResponse");
        assert_eq!(value["messages"]["resultCode"], "Ok");
        assert!(value["token"].as_str().is_some_and(|t| t.len() >= 32));
        let long = app.anet_api(json!({"getHostedPaymentPageRequest": {
            "merchantAuthentication": {"name": "any", "transactionKey": "any"},
            "transactionRequest": {"transactionType": "authCaptureTransaction", "amount": "1.00", "order": {"invoiceNumber": "ORD-000001-A1-TOO-LONG"}}}})).await;
        assert_eq!(long["messages"]["message"][0]["code"], "E00003", "invoiceNumber is at most 20 characters");
    }
}

/// An API in front of the sandbox that can be switched off (answers 502) and on.
#[derive(Default)]
struct Switch {
    up: AtomicBool,
    target: Mutex<String>,
}

async fn switched(
    State(switch): State<Arc<Switch>>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    if !switch.up.load(Ordering::SeqCst) {
        return (axum::http::StatusCode::BAD_GATEWAY, "down").into_response();
    }
    let target = switch.target.lock().unwrap().clone();
    let mut request = reqwest::Client::new().post(target).body(body);
    if let Some(ct) = headers.get("content-type") {
        request = request.header("content-type", ct.to_str().unwrap());
    }
    let answer = request.send().await.unwrap();
    let status = axum::http::StatusCode::from_u16(answer.status().as_u16()).unwrap();
    let bytes = answer.bytes().await.unwrap();
    (status, [("content-type", "application/json")], bytes).into_response()
}

async fn authorizenet_down_is_a_clear_message_and_pay_again_works_once_it_is_back(
    backend: Backend,
) {
    let switch = Arc::new(Switch::default());
    let router = axum::Router::new()
        .route("/xml/v1/request.api", axum::routing::post(switched))
        .with_state(switch.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let root = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    let app = spawn_app_with(backend, &[("AUTHORIZENET_API_BASE", &root)]).await;
    // A second instance on the same database with the built-in sandbox stands for Authorize.Net.
    let anet = app.another_instance().await;
    *switch.target.lock().unwrap() =
        format!("{}/sandbox/authorizenet/xml/v1/request.api", anet.base);

    let shopper = app.browser();
    shopper.set_currency("USD").await;
    shopper.add_to_cart(1, 1).await;
    let response = shopper
        .pay_with_key("authorizenet", &shopper.checkout_key().await)
        .await;
    let page = shopper
        .follow(response.headers()[LOCATION].to_str().unwrap())
        .await;
    let alert = page.alert().expect("an error message");
    assert!(
        alert.contains("Authorize.Net is not answering") && alert.contains("ORD-000001"),
        "{alert}"
    );
    assert!(
        !alert.contains("502") && !alert.contains("down"),
        "the API's own text is not shown"
    );
    assert_eq!(app.status_of("ORD-000001").await, "awaiting_payment");

    switch.up.store(true, Ordering::SeqCst);
    let go = shopper.pay("authorizenet").await;
    assert!(
        go.ends_with(&format!(
            "/payments/authorizenet/go/{}",
            app.attempt_ref("ORD-000001", 1)
        )),
        "the same attempt: {go}"
    );
    let form = shopper.token_form(&go).await;
    assert_eq!(
        form.action,
        format!("{root}/payment/payment"),
        "the form lives beside the overridden API"
    );
    assert!(form.token.len() >= 32);
    assert_eq!(app.order_count().await, 1);
}

/// A closed port: the same clear sentence.
async fn authorizenet_on_a_closed_port_is_a_clear_message(backend: Backend) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let root = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let app = spawn_app_with(backend, &[("AUTHORIZENET_API_BASE", &root)]).await;
    let shopper = app.browser();
    shopper.set_currency("USD").await;
    shopper.add_to_cart(1, 1).await;
    let response = shopper
        .pay_with_key("authorizenet", &shopper.checkout_key().await)
        .await;
    let page = shopper
        .follow(response.headers()[LOCATION].to_str().unwrap())
        .await;
    let alert = page.alert().expect("an error message");
    assert!(alert.contains("Authorize.Net is not answering"), "{alert}");
}

on_both_backends! {
    authorizenet_down_is_a_clear_message_and_pay_again_works_once_it_is_back,
    authorizenet_on_a_closed_port_is_a_clear_message,
}
