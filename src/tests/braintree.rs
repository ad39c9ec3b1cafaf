//! Braintree through its built-in sandbox: the shop's own payment page, the sandbox's stand-in
//! Drop-in (Pay, Decline, Cancel), `transaction.sale` made once (the nonce form posted five times
//! at once; a sale whose answer was lost found by search), only for the attempt's owner; signed
//! webhooks (genuine five at once, replayed, tampered, forged, unsigned, `check`, another amount);
//! an outage; refunds and voids from the admin page; the reconciler. Product 1 (Canvas Tote) is
//! $18.00, stock 40.

use crate::helpers::{
    both_backends, forms, gate, spawn_app_with, Backend, Browser, Hold, HtmlForm, TestApp,
};
use crate::pay::reference_in;
use app::server::config::payments::sandbox_keys;
use app::server::payments::braintree::wire;
use reqwest::header::{LOCATION, REFERER};
use reqwest::StatusCode;
use sqlx::Row as _;
use std::time::Duration;
use storefront::sandboxes::braintree as sandbox;

impl Browser {
    /// Add tote bags, press Pay with Braintree: the shop's own payment page (its URL and HTML).
    async fn start_braintree(&self, quantity: i64) -> (String, String) {
        self.add_to_cart(1, quantity).await;
        let checkout = self.get("/checkout").await;
        assert!(checkout.offers("braintree"), "USD offers Braintree");
        let go = self.pay("braintree").await;
        assert!(go.contains("/payments/braintree/go/ORD-"), "{go}");
        let page = self.get(&self.local(&go)).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.html);
        (go, page.html)
    }

    /// From the shop's page to the sandbox's stand-in Drop-in: its nonce form (Pay / Decline) and
    /// its Cancel form.
    async fn open_dropin(&self, shop_page: &str) -> (HtmlForm, HtmlForm) {
        let to_dropin = forms(shop_page)
            .into_iter()
            .find(|f| f.action == "/sandbox/braintree/dropin")
            .expect("the stand-in Drop-in form");
        let fields: Vec<(&str, &str)> = to_dropin
            .fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let response = self
            .post_form("/payments/braintree/go/x", &to_dropin.action, &fields)
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let html = response.text().await.unwrap();
        assert!(html.contains(">Pay<") && html.contains(">Decline<") && html.contains(">Cancel<"));
        assert!(
            html.contains("<h1>Braintree sandbox Drop-in</h1>"),
            "{html}"
        );
        let found = forms(&html);
        let nonce = found.iter().find(|f| f.method == "post").unwrap().clone();
        let cancel = found.iter().find(|f| f.method == "get").unwrap().clone();
        assert!(
            nonce.action.contains("/payments/braintree/return/ORD-"),
            "{nonce:?}"
        );
        (nonce, cancel)
    }

    /// Post the Drop-in's form with this nonce (as its Pay or Decline button does): where the
    /// shop sends the browser.
    async fn post_nonce(&self, form: &HtmlForm, nonce: &str) -> String {
        let mut fields: Vec<(String, String)> = form.fields.clone();
        fields.push(("payment_method_nonce".into(), nonce.into()));
        let path = self.local(&form.action);
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .header(REFERER, format!("{}/sandbox/braintree/dropin", self.base))
            .form(&fields)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_redirection(), "{}", response.status());
        response.headers()[LOCATION].to_str().unwrap().to_string()
    }

    /// Pay through the stand-in Drop-in: the order page the shopper lands on.
    async fn pay_with_braintree(&self, quantity: i64, nonce: &str) -> (String, HtmlForm) {
        let (_, page) = self.start_braintree(quantity).await;
        let (form, _) = self.open_dropin(&page).await;
        let back = self.post_nonce(&form, nonce).await;
        assert!(back.starts_with("/orders/ORD-"), "{back}");
        (reference_in(&back), form)
    }
}

impl TestApp {
    async fn bt_count(&self, sql: &str, like: &str) -> i64 {
        sqlx::query(sql)
            .bind(like)
            .fetch_one(&self.sandbox().db.pool)
            .await
            .unwrap()
            .try_get(0)
            .unwrap()
    }

    /// Sales the sandbox made for an attempt (every `transaction.sale` call that got that far),
    /// under the shop's `order_id` (the reference tagged with the attempt's session).
    async fn sales(&self, attempt: &str) -> i64 {
        self.bt_count(
            "SELECT COUNT(*) FROM sandbox_objects WHERE id LIKE 'bt-tx:%' AND data LIKE $1 AND data LIKE '%\"kind\":\"sale\"%'",
            &format!("%\"order_id\":\"{attempt}/%"),
        )
        .await
    }

    /// The `order_id` this shop gives the attempt's sale: its reference tagged with its session.
    async fn order_id_of(&self, attempt: &str) -> String {
        let session: String =
            sqlx::query("SELECT provider_session_id FROM payment_attempts WHERE reference = $1")
                .bind(attempt)
                .fetch_one(&self.state.db.pool)
                .await
                .unwrap()
                .try_get(0)
                .unwrap();
        format!("{attempt}/{session}")
    }

    /// Post a Braintree notification form to the shop.
    async fn bt_post(&self, body: String) -> StatusCode {
        self.post_webhook(
            "braintree",
            "application/x-www-form-urlencoded",
            &[],
            body.into_bytes(),
        )
        .await
    }

    async fn kinds_of(&self, reference: &str) -> Vec<String> {
        sqlx::query(
            "SELECT e.kind FROM payment_events e JOIN orders o ON o.id = e.order_id WHERE o.reference = $1 ORDER BY e.id",
        )
        .bind(reference)
        .fetch_all(&self.state.db.pool)
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get::<String, _>(0).unwrap())
        .collect()
    }
}

/// A `transaction_settled` notification about a sale under `order_id`.
fn settled_xml(order_id: &str, amount: &str, currency: &str) -> String {
    let tx = wire::transaction_node(&wire::Transaction {
        id: format!("t{}", &uuid::Uuid::new_v4().simple().to_string()[..7]),
        status: "settled".into(),
        kind: "sale".into(),
        amount: amount.into(),
        currency: Some(currency.into()),
        order_id: Some(order_id.into()),
        ..wire::Transaction::default()
    });
    sandbox::notification_xml("transaction_settled", &tx)
}

/// A sale straight at the sandbox's API under `order_id` (as if the shop's own call had lost its
/// answer, or as another shop on the same account would make it).
async fn direct_sale(app: &TestApp, order_id: &str, nonce: &str) -> reqwest::Response {
    let body = wire::sale_body("18.00", nonce, order_id, None);
    reqwest::Client::new()
        .post(format!(
            "{}/sandbox/braintree/merchants/{}/transactions",
            app.base,
            sandbox_keys::BRAINTREE_MERCHANT_ID
        ))
        .basic_auth("any-public", Some("any-private"))
        .header("X-ApiVersion", "6")
        .header("content-type", "application/xml")
        .body(body)
        .send()
        .await
        .unwrap()
}

both_backends! {
    async fn braintree_pay_sells_once_and_marks_the_order_paid(app) {
        let shopper = app.browser();
        let (go, page) = shopper.start_braintree(2).await;
        assert!(page.contains("<h1>Continue to Braintree</h1>") && page.contains("$36.00"), "{page}");
        assert!(page.contains("Braintree's Drop-in is not loaded"), "sandbox mode says so");
        assert!(!page.contains(sandbox_keys::BRAINTREE_PRIVATE_KEY), "never the private key");
        assert_eq!(app.stock_of(1).await, 38, "stock is reserved when the attempt starts");
        let attempt = go.rsplit('/').next().unwrap().to_string();
        let (form, _) = shopper.open_dropin(&page).await;
        assert_eq!(app.sales(&attempt).await, 0, "nothing is sold before the nonce comes back");
        let back = shopper.post_nonce(&form, "fake-valid-nonce").await;
        let reference = reference_in(&back);
        assert_eq!(back, format!("/orders/{reference}"));
        let shown = shopper.follow(&back).await;
        assert_eq!(shown.order_status().as_deref(), Some("Paid"), "{}", shown.html);
        assert_eq!(app.sales(&attempt).await, 1);
        assert_eq!(app.transitions(&reference).await, 1);
        // The same form again sells nothing more; transaction_settled arrives and changes nothing.
        shopper.post_nonce(&form, "fake-valid-nonce").await;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(app.sales(&attempt).await, 1);
        assert_eq!(app.status_of(&reference).await, "paid");
        assert_eq!(app.transitions(&reference).await, 1);
        assert!(app.inbox_outcomes().await.iter().any(|o| !o.is_empty()), "the settlement webhook was received");
    }

    async fn braintree_decline_fails_with_the_reason_and_cancel_changes_nothing_until_asked(app) {
        let shopper = app.browser();
        let (reference, form) = shopper.pay_with_braintree(3, "fake-processor-declined-visa-nonce").await;
        let shown = shopper.follow(&format!("/orders/{reference}")).await;
        assert_eq!(shown.order_status().as_deref(), Some("Failed"), "{}", shown.html);
        assert!(shown.contains("Try again"));
        assert!(
            shown.contains("Braintree: the card was declined (Do Not Honor, code 2000)."),
            "the reason is shown: {}", shown.html
        );
        assert_eq!(app.stock_of(1).await, 40, "stock released on failure");
        let kinds = app.kinds_of(&reference).await;
        assert!(kinds.iter().any(|k| k.contains("processor declined: Do Not Honor (2000)")), "{kinds:?}");
        let attempt = form.action.rsplit('/').next().unwrap().to_string();
        let attempt = app.attempt_ref(&attempt, 1);
        assert_eq!(app.sales(&attempt).await, 1, "the declined sale was the only one");

        let (_, page) = shopper.start_braintree(1).await;
        let (_, cancel) = shopper.open_dropin(&page).await;
        assert!(cancel.action.contains("/payments/braintree/cancel/ORD-"), "{cancel:?}");
        let cancelled = reference_in(&cancel.action);
        let shown = shopper.follow(&cancel.action).await;
        assert_eq!(shown.order_status().as_deref(), Some("Awaiting payment"), "{}", shown.html);
        let action = format!("/payments/braintree/cancel/{cancelled}");
        let shown = shopper.submit(&format!("/orders/{cancelled}"), &action, &[("key", "")]).await;
        assert_eq!(shown.order_status().as_deref(), Some("Cancelled"), "{}", shown.html);
        assert_eq!(app.stock_of(1).await, 40);
    }

    async fn the_nonce_form_posted_five_times_at_once_sells_once(app) {
        let shopper = app.browser();
        let (go, page) = shopper.start_braintree(1).await;
        let attempt = go.rsplit('/').next().unwrap().to_string();
        let (form, _) = shopper.open_dropin(&page).await;
        let posts = (0..5).map(|_| shopper.post_nonce(&form, "fake-valid-nonce"));
        let landed = futures_util::future::join_all(posts).await;
        let reference = reference_in(&landed[0]);
        app.wait_for(&reference, "paid").await;
        assert_eq!(app.sales(&attempt).await, 1, "one transaction.sale");
        assert_eq!(app.transitions(&reference).await, 1);
    }

    async fn only_the_attempts_owner_can_make_the_sale(app) {
        let shopper = app.browser();
        let (go, page) = shopper.start_braintree(1).await;
        let attempt = go.rsplit('/').next().unwrap().to_string();
        let reference = reference_in(&attempt);
        // Someone else cannot open the owner's page.
        let stranger = app.browser();
        assert_eq!(stranger.get(&shopper.local(&go)).await.status, StatusCode::NOT_FOUND);
        let (form, _) = shopper.open_dropin(&page).await;
        // A cross-site post of a nonce without the page's form token sells nothing.
        let forged = HtmlForm { fields: vec![("amount".into(), "18.00".into()), ("currency".into(), "USD".into())], ..form.clone() };
        stranger.post_nonce(&forged, "fake-valid-nonce").await;
        // Nor with another amount than the token was made for.
        let mut cheaper = form.clone();
        for (k, v) in cheaper.fields.iter_mut() {
            if k == "amount" {
                *v = "0.01".into();
            }
        }
        shopper.post_nonce(&cheaper, "fake-valid-nonce").await;
        assert_eq!(app.sales(&attempt).await, 0);
        assert_eq!(app.status_of(&reference).await, "awaiting_payment");
        shopper.post_nonce(&form, "fake-valid-nonce").await;
        assert_eq!(app.status_of(&reference).await, "paid");
        assert_eq!(app.sales(&attempt).await, 1);
    }

    async fn a_sale_whose_answer_was_lost_is_found_before_selling_again(app) {
        let shopper = app.browser();
        let (go, page) = shopper.start_braintree(1).await;
        let attempt = go.rsplit('/').next().unwrap().to_string();
        let reference = reference_in(&attempt);
        let (form, _) = shopper.open_dropin(&page).await;
        let ours = app.order_id_of(&attempt).await;
        assert_eq!(direct_sale(&app, &ours, "fake-valid-nonce").await.status(), StatusCode::CREATED);
        shopper.post_nonce(&form, "fake-valid-nonce").await;
        assert_eq!(app.status_of(&reference).await, "paid");
        assert_eq!(app.sales(&attempt).await, 1, "the search found the earlier sale");
    }

    async fn the_reconciler_finds_a_sale_nobody_came_back_for(app) {
        let shopper = app.browser();
        let (go, _) = shopper.start_braintree(1).await;
        let attempt = go.rsplit('/').next().unwrap().to_string();
        let reference = reference_in(&attempt);
        let reconcile = || app::server::services::reconciler::run_once(&app.state);
        assert_eq!(reconcile().await.unwrap(), 0, "nothing is due before 30 s");
        app.exec("UPDATE payment_attempts SET next_lookup_at = next_lookup_at - 30000").await;
        assert_eq!(reconcile().await.unwrap(), 1);
        assert_eq!(app.status_of(&reference).await, "awaiting_payment", "no sale yet");
        let ours = app.order_id_of(&attempt).await;
        assert_eq!(direct_sale(&app, &ours, "fake-valid-nonce").await.status(), StatusCode::CREATED);
        app.exec("UPDATE payment_attempts SET next_lookup_at = 0").await;
        reconcile().await.unwrap();
        assert_eq!(app.status_of(&reference).await, "paid");
    }

    async fn a_genuine_settled_webhook_five_times_at_once_applies_once_and_a_replay_is_a_duplicate(app) {
        let shopper = app.browser();
        let (go, _) = shopper.start_braintree(1).await;
        let attempt = go.rsplit('/').next().unwrap().to_string();
        let reference = reference_in(&attempt);
        let body = sandbox::signed_form(&settled_xml(&app.order_id_of(&attempt).await, "18.00", "USD"));
        let posts = (0..5).map(|_| app.bt_post(body.clone()));
        for status in futures_util::future::join_all(posts).await {
            assert!(status.is_success(), "{status}");
        }
        assert_eq!(app.status_of(&reference).await, "paid");
        assert_eq!(app.transitions(&reference).await, 1);
        assert_eq!(app.ledger_rows(&reference).await, 1);
        assert!(app.bt_post(body).await.is_success(), "a replay is acknowledged");
        assert_eq!(app.ledger_rows(&reference).await, 1, "and changes nothing");
        // The check kind is acknowledged.
        let check = sandbox::signed_form("<notification><kind>check</kind><subject><check type=\"boolean\">true</check></subject></notification>");
        assert_eq!(app.bt_post(check).await, StatusCode::OK);
    }

    async fn tampered_forged_and_unsigned_braintree_webhooks_are_refused(app) {
        let shopper = app.browser();
        let (go, _) = shopper.start_braintree(1).await;
        let attempt = go.rsplit('/').next().unwrap().to_string();
        let reference = reference_in(&attempt);
        let ours = app.order_id_of(&attempt).await;
        let genuine: Vec<(String, String)> = serde_urlencoded::from_str(&sandbox::signed_form(&settled_xml(&ours, "18.00", "USD"))).unwrap();
        let (signature, payload) = (genuine[0].1.clone(), genuine[1].1.clone());
        let other = wire::encode_payload(&settled_xml(&ours, "18.00", "USD"));
        let forged_sig = wire::bt_signature(sandbox_keys::BRAINTREE_PUBLIC_KEY, "not-the-private-key", other.as_bytes());
        let form = |pairs: &[(&str, &str)]| serde_urlencoded::to_string(pairs).unwrap();
        for body in [
            form(&[("bt_signature", &signature), ("bt_payload", &other)]),
            form(&[("bt_signature", &forged_sig), ("bt_payload", &other)]),
            form(&[("bt_signature", &signature.replace(sandbox_keys::BRAINTREE_PUBLIC_KEY, "someone-else")), ("bt_payload", &payload)]),
            form(&[("bt_payload", &payload)]),
            form(&[("bt_signature", &signature), ("bt_payload", "<notification/>")]),
            String::new(),
        ] {
            let status = app.bt_post(body.clone()).await;
            assert!(status.is_client_error(), "{status} for {body}");
        }
        assert_eq!(app.status_of(&reference).await, "awaiting_payment");
        assert_eq!(app.ledger_rows(&reference).await, 0);
    }

    async fn a_braintree_sale_of_another_amount_or_currency_needs_review(app) {
        for (amount, currency) in [("1.00", "USD"), ("18.00", "EUR")] {
            let shopper = app.browser();
            let (go, _) = shopper.start_braintree(1).await;
            let attempt = go.rsplit('/').next().unwrap().to_string();
            let reference = reference_in(&attempt);
            let ours = app.order_id_of(&attempt).await;
            let status = app.bt_post(sandbox::signed_form(&settled_xml(&ours, amount, currency))).await;
            assert!(status.is_success(), "{status}");
            assert_eq!(app.status_of(&reference).await, "needs_review", "{amount} {currency}");
        }
    }

    async fn refunds_from_the_admin_page_go_through_braintree(app) {
        let shopper = app.browser();
        let (reference, _) = shopper.pay_with_braintree(2, "fake-valid-nonce").await;
        assert_eq!(app.status_of(&reference).await, "paid");
        // Settled a moment later (its webhook says so): refunds then are transaction.refund,
        // partial or whole.
        crate::conformance::deliveries_settled(&app, 1).await;
        let merchant = app.merchant().await;
        let (status, said) = merchant.refund_with_new_key(&reference, "10.00").await;
        assert!(status.is_success() && said.contains("Refunded $10.00."), "{status} {said}");
        assert_eq!(app.status_of(&reference).await, "partially_refunded");
        let (status, said) = merchant.refund_with_new_key(&reference, "26.00").await;
        assert!(status.is_success() && said.contains("Refunded $26.00."), "{status} {said}");
        assert_eq!(app.status_of(&reference).await, "refunded");
        assert_eq!(app.bt_count("SELECT COUNT(*) FROM sandbox_objects WHERE data LIKE $1", "%\"kind\":\"credit\"%").await, 2);

        // Before settlement a whole refund is a void.
        let (reference, _) = shopper.pay_with_braintree(1, "fake-valid-nonce").await;
        let (status, said) = merchant.refund_with_new_key(&reference, "18.00").await;
        assert!(status.is_success() && said.contains("Refunded $18.00."), "{status} {said}");
        assert_eq!(app.status_of(&reference).await, "refunded");
    }
}

/// Braintree does not answer: a clear message at checkout, the order kept, and Pay again works
/// once it is back; a sale that cannot reach it leaves the order waiting, and the nonce posted
/// again once it is back sells once.
async fn a_braintree_outage_shows_a_clear_message_and_pay_again_works(backend: Backend) {
    let (port, target) = crate::helpers::switchable_proxy().await;
    let base = format!("http://127.0.0.1:{port}/sandbox/braintree");
    let app = spawn_app_with(backend, &[("BRAINTREE_API_BASE", base.as_str())]).await;
    let shopper = app.browser();
    shopper.add_to_cart(1, 1).await;
    let response = shopper
        .pay_with_key("braintree", &shopper.checkout_key().await)
        .await;
    let page = shopper
        .follow(response.headers()[LOCATION].to_str().unwrap())
        .await;
    let alert = page.alert().expect("an error message");
    assert!(
        alert.contains("Braintree is not answering") && alert.contains("ORD-000001"),
        "{alert}"
    );
    assert_eq!(
        shopper.cart().await.line_quantity(1),
        Some(1),
        "the cart is kept"
    );
    // Braintree is back (another instance on the same database serves the sandbox).
    let braintree = app.another_instance().await;
    let upstream = braintree.base.trim_start_matches("http://").to_string();
    target.send_replace(Some(upstream.clone()));
    let go = shopper.pay("braintree").await;
    assert!(
        go.ends_with(&format!(
            "/payments/braintree/go/{}",
            app.attempt_ref("ORD-000001", 1)
        )),
        "{go}"
    );
    assert_eq!(app.order_count().await, 1, "the same order");
    let page = shopper.get(&shopper.local(&go)).await;
    let to_dropin = forms(&page.html)
        .into_iter()
        .find(|f| f.action == "/sandbox/braintree/dropin")
        .expect("the stand-in form");
    let mut fields = to_dropin.fields.clone();
    fields.retain(|(k, _)| matches!(k.as_str(), "form_token" | "amount" | "currency"));
    let form = HtmlForm {
        method: "post".into(),
        action: "/payments/braintree/return/ORD-000001".into(),
        fields,
    };
    // Down again while the nonce comes back: nothing sold, the order waits.
    target.send_replace(None);
    shopper.post_nonce(&form, "fake-valid-nonce").await;
    assert_eq!(app.status_of("ORD-000001").await, "awaiting_payment");
    target.send_replace(Some(upstream));
    shopper.post_nonce(&form, "fake-valid-nonce").await;
    assert_eq!(app.status_of("ORD-000001").await, "paid");
    assert_eq!(app.sales(&app.attempt_ref("ORD-000001", 1)).await, 1);
}

crate::helpers::on_both_backends!(a_braintree_outage_shows_a_clear_message_and_pay_again_works);

/// The sandbox speaks the gateway's XML: auth and API version, client token, sale (approved,
/// declined, validation errors), find, search, refund before settlement refused, void.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_braintree_sandbox_speaks_the_gateways_xml() {
    let app = crate::helpers::spawn_app(Backend::Sqlite).await;
    let base = format!("{}/sandbox/braintree/merchants/any-merchant", app.base);
    let http = reqwest::Client::new();
    let call = |method: reqwest::Method, path: &str, body: Option<String>| {
        let mut request = http
            .request(method, format!("{base}{path}"))
            .basic_auth("pub", Some("priv"))
            .header("X-ApiVersion", "6")
            .header("content-type", "application/xml");
        if let Some(body) = body {
            request = request.body(body);
        }
        request.send()
    };
    let unauthenticated = http
        .post(format!("{base}/client_token"))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status(), StatusCode::UNAUTHORIZED);
    let old = http
        .post(format!("{base}/client_token"))
        .basic_auth("pub", Some("priv"))
        .send()
        .await
        .unwrap();
    assert_eq!(old.status(), StatusCode::UPGRADE_REQUIRED);
    let token = call(
        reqwest::Method::POST,
        "/client_token",
        Some("<client_token><version type=\"integer\">2</version></client_token>".into()),
    )
    .await
    .unwrap();
    assert_eq!(token.status(), StatusCode::CREATED);
    assert!(token
        .text()
        .await
        .unwrap()
        .contains("<client-token><value>"));

    let python_style = "<transaction><amount>10.00</amount><payment_method_nonce>fake-valid-nonce</payment_method_nonce><order_id>SDK-1</order_id><options><submit_for_settlement type=\"boolean\">true</submit_for_settlement></options><type>sale</type></transaction>";
    let sold = call(
        reqwest::Method::POST,
        "/transactions",
        Some(python_style.into()),
    )
    .await
    .unwrap();
    assert_eq!(sold.status(), StatusCode::CREATED);
    let wire::SaleResult::Accepted(tx) = wire::sale_result(&sold.bytes().await.unwrap()).unwrap()
    else {
        panic!("accepted")
    };
    assert_eq!(tx.status, "submitted_for_settlement");
    assert_eq!(tx.currency.as_deref(), Some("USD"));

    let declined = call(
        reqwest::Method::POST,
        "/transactions",
        Some(wire::sale_body(
            "2001.00",
            "fake-valid-nonce",
            "SDK-2",
            None,
        )),
    )
    .await
    .unwrap();
    assert_eq!(declined.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let wire::SaleResult::Declined(d) =
        wire::sale_result(&declined.bytes().await.unwrap()).unwrap()
    else {
        panic!("declined")
    };
    assert_eq!(
        (d.status.as_str(), d.processor_response_code.as_deref()),
        ("processor_declined", Some("2001"))
    );

    let invalid = call(
        reqwest::Method::POST,
        "/transactions",
        Some(wire::sale_body("1.00", "tokencc_unknown", "SDK-3", None)),
    )
    .await
    .unwrap();
    assert_eq!(invalid.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let wire::SaleResult::Invalid(summary) =
        wire::sale_result(&invalid.bytes().await.unwrap()).unwrap()
    else {
        panic!("invalid")
    };
    assert!(wire::has_code(&summary, "91565"), "{summary}");

    let found = call(
        reqwest::Method::GET,
        &format!("/transactions/{}", tx.id),
        None,
    )
    .await
    .unwrap();
    assert_eq!(found.status(), StatusCode::OK);
    let ids = call(
        reqwest::Method::POST,
        "/transactions/advanced_search_ids",
        Some(wire::search_body("SDK-1", None)),
    )
    .await
    .unwrap();
    let ids = wire::search_ids(&ids.bytes().await.unwrap()).unwrap();
    assert_eq!(ids, vec![tx.id.clone()]);
    let listed = call(
        reqwest::Method::POST,
        "/transactions/advanced_search",
        Some(wire::search_body("SDK-1", Some(&ids))),
    )
    .await
    .unwrap();
    assert_eq!(
        wire::search_transactions(&listed.bytes().await.unwrap())
            .unwrap()
            .len(),
        1
    );

    let early = call(
        reqwest::Method::POST,
        &format!("/transactions/{}/refund", tx.id),
        Some(wire::refund_body("1.00", "SDK-1")),
    )
    .await
    .unwrap();
    assert_eq!(early.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(early.text().await.unwrap().contains("91506"));
    let voided = call(
        reqwest::Method::PUT,
        &format!("/transactions/{}/void", tx.id),
        None,
    )
    .await
    .unwrap();
    assert_eq!(voided.status(), StatusCode::OK);
    assert!(voided
        .text()
        .await
        .unwrap()
        .contains("<status>voided</status>"));
    let missing = call(reqwest::Method::GET, "/transactions/nosuch", None)
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

/// A credit (refund) notice under `order_id`, refunding the sale `refunded`.
fn credit_xml(order_id: &str, refunded: &str, id: &str) -> String {
    let tx = wire::transaction_node(&wire::Transaction {
        id: id.into(),
        status: "settled".into(),
        kind: "credit".into(),
        amount: "18.00".into(),
        currency: Some("USD".into()),
        order_id: Some(order_id.into()),
        refunded_transaction_id: Some(refunded.into()),
        ..wire::Transaction::default()
    });
    sandbox::notification_xml("transaction_settled", &tx)
}

impl TestApp {
    async fn attempt_text(&self, attempt: &str, column: &str) -> String {
        sqlx::query(&format!(
            "SELECT {column} FROM payment_attempts WHERE reference = $1"
        ))
        .bind(attempt)
        .fetch_one(&self.state.db.pool)
        .await
        .unwrap()
        .try_get(0)
        .unwrap()
    }
}

both_backends! {
    async fn sales_another_shop_made_under_the_same_reference_change_nothing_here(app) {
        // Another shop on the same Braintree account has its own ORD-000001-A1: its sales carry
        // the same reference, but not this shop's session.
        let shopper = app.browser();
        let (go, page) = shopper.start_braintree(1).await;
        let attempt = go.rsplit('/').next().unwrap().to_string();
        let reference = reference_in(&attempt);
        for theirs in [attempt.clone(), format!("{attempt}/bt_someone_else")] {
            assert_eq!(direct_sale(&app, &theirs, "fake-valid-nonce").await.status(), StatusCode::CREATED);
            // Their settlement notice reaches this shop too: acknowledged, and ignored.
            let notice = sandbox::signed_form(&settled_xml(&theirs, "18.00", "USD"));
            assert!(app.bt_post(notice).await.is_success());
        }
        // Nor does the reconciler's search take their sales for this shop's.
        app.exec("UPDATE payment_attempts SET next_lookup_at = 0").await;
        app::server::services::reconciler::run_once(&app.state).await.unwrap();
        assert_eq!(app.status_of(&reference).await, "awaiting_payment");
        assert_eq!(app.transitions(&reference).await, 0);
        // The shopper's own nonce sells: their sales are not taken for an earlier one of ours.
        let (form, _) = shopper.open_dropin(&page).await;
        shopper.post_nonce(&form, "fake-valid-nonce").await;
        assert_eq!(app.status_of(&reference).await, "paid");
        let ours = app.order_id_of(&attempt).await;
        let sold = app
            .bt_count("SELECT COUNT(*) FROM sandbox_objects WHERE data LIKE $1", &format!("%\"order_id\":\"{ours}\"%"))
            .await;
        assert_eq!(sold, 1, "one sale of this shop's own");
    }

    async fn a_refund_notice_about_another_shops_sale_records_nothing(app) {
        let shopper = app.browser();
        let (reference, _) = shopper.pay_with_braintree(1, "fake-valid-nonce").await;
        let (attempt, _) = app.attempt_of(&reference).await;
        // A credit of another shop's sale under the same reference, with or without a key.
        for theirs in [attempt.clone(), format!("{attempt}/refund-theirs-0001")] {
            let notice = sandbox::signed_form(&credit_xml(&theirs, "tforeign1", &format!("c{}", &uuid::Uuid::new_v4().simple().to_string()[..7])));
            assert!(app.bt_post(notice).await.is_success(), "acknowledged");
        }
        assert_eq!(app.refund_rows(&reference).await, vec![], "no refund recorded");
        assert_eq!(app.status_of(&reference).await, "paid");
        // A credit of this shop's own sale made in Braintree's control panel is recorded.
        let sale = app.attempt_text(&attempt, "provider_payment_id").await;
        let notice = sandbox::signed_form(&credit_xml(&attempt, &sale, "cpanel01"));
        assert!(app.bt_post(notice).await.is_success());
        assert_eq!(app.refund_rows(&reference).await, vec![(1800, "succeeded".to_string())]);
        assert_eq!(app.status_of(&reference).await, "refunded");
    }

    async fn an_order_paid_twice_is_not_refunded_while_one_payment_stands(app) {
        let shopper = app.browser();
        let (reference, _) = shopper.pay_with_braintree(1, "fake-valid-nonce").await;
        // The shopper paid a second time, through a second attempt (a possible double charge the
        // shop put in front of a person).
        let second = format!("{reference}-A2");
        let sold = direct_sale(&app, &format!("{second}/bt_second"), "fake-valid-nonce").await;
        let wire::SaleResult::Accepted(tx) = wire::sale_result(&sold.bytes().await.unwrap()).unwrap() else {
            panic!("the second sale is accepted")
        };
        app.exec(&format!(
            "INSERT INTO payment_attempts (order_id, reference, provider, state, provider_session_id, \
             provider_payment_id, captured_minor, captured_currency, created_at, updated_at) \
             SELECT id, '{second}', 'braintree', 'needs_review', 'bt_second', '{}', 1800, 'USD', 0, 0 \
             FROM orders WHERE reference = '{reference}'",
            tx.id
        ))
        .await;
        app.exec(&format!("UPDATE orders SET status = 'needs_review' WHERE reference = '{reference}'")).await;
        let merchant = app.merchant().await;
        // The second payment given back: the first still stands.
        let (status, said) = merchant.refund_with_new_key(&reference, "18.00").await;
        assert!(status.is_success() && said.contains("Refunded $18.00."), "{status} {said}");
        assert_eq!(app.status_of(&reference).await, "partially_refunded");
        // The first can be given back too; then the order is refunded.
        let (status, said) = merchant.refund_with_new_key(&reference, "18.00").await;
        assert!(status.is_success() && said.contains("Refunded $18.00."), "{status} {said}");
        assert_eq!(app.status_of(&reference).await, "refunded");
        let (status, said) = merchant.refund_with_new_key(&reference, "1.00").await;
        assert!(!status.is_success(), "nothing is left: {status} {said}");
    }
}

/// The shopper presses Cancel order, and the hold runs out, while the shop's `transaction.sale` is
/// on its way to Braintree: the order is neither cancelled nor expired under it (the money would be
/// taken for a dead order); the sale then pays it.
async fn a_cancel_or_an_expiry_waits_for_a_sale_in_flight(backend: Backend) {
    let (port, forward_to, mut held) =
        gate(reqwest::Method::POST, "/transactions", Hold::Request).await;
    let base = format!("http://127.0.0.1:{port}/sandbox/braintree");
    let app = spawn_app_with(backend, &[("BRAINTREE_API_BASE", base.as_str())]).await;
    // Braintree: the sandbox of another instance on the same database.
    let braintree = app.another_instance().await;
    forward_to(&braintree.base);
    let shopper = app.browser();
    let (go, page) = shopper.start_braintree(1).await;
    let attempt = go.rsplit('/').next().unwrap().to_string();
    let reference = reference_in(&attempt);
    let form = nonce_form(&page, &reference);
    let paying = shopper.post_nonce(&form, "fake-valid-nonce");
    let meanwhile = async {
        let sale = held
            .recv()
            .await
            .expect("the sale is on its way to Braintree");
        let action = format!("/payments/braintree/cancel/{reference}");
        let cancel = shopper
            .post_form(&format!("/orders/{reference}"), &action, &[("key", "")])
            .await;
        let told = cancel.headers()[LOCATION].to_str().unwrap().to_string();
        let after_cancel = app.status_of(&reference).await;
        app.exec("UPDATE orders SET hold_until = 1").await;
        app::server::services::reconciler::run_once(&app.state)
            .await
            .unwrap();
        let after_expiry = app.status_of(&reference).await;
        sale.release.send(()).unwrap();
        (told, after_cancel, after_expiry)
    };
    let (back, (told, after_cancel, after_expiry)) = tokio::join!(paying, meanwhile);
    assert!(
        told.ends_with("?cancel=failed"),
        "the cancel says it cannot be done yet: {told}"
    );
    assert_eq!(
        after_cancel, "awaiting_payment",
        "not cancelled under the sale"
    );
    assert_eq!(
        after_expiry, "awaiting_payment",
        "not expired under the sale"
    );
    assert_eq!(back, format!("/orders/{reference}"));
    assert_eq!(
        app.status_of(&reference).await,
        "paid",
        "the sale pays the order"
    );
    assert_eq!(app.sales(&attempt).await, 1);
    assert_eq!(
        app.stock_of(1).await,
        39,
        "the stock stays with the paid order"
    );
}

crate::helpers::on_both_backends!(a_cancel_or_an_expiry_waits_for_a_sale_in_flight);

/// Braintree's notice of a refund arrives before the answer to the shop's refund call: it settles
/// the shop's own refund (its key is in the credit's `order_id`), never a second one.
async fn a_refund_notice_before_the_answer_settles_the_shops_own_refund(backend: Backend) {
    let (port, forward_to, mut held) = gate(reqwest::Method::POST, "/refund", Hold::Answer).await;
    let base = format!("http://127.0.0.1:{port}/sandbox/braintree");
    let app = spawn_app_with(backend, &[("BRAINTREE_API_BASE", base.as_str())]).await;
    // Braintree: the sandbox of another instance on the same database.
    let braintree = app.another_instance().await;
    forward_to(&braintree.base);
    let shopper = app.browser();
    let (_, page) = shopper.start_braintree(1).await;
    let reference = app.latest_order().await;
    let back = shopper
        .post_nonce(&nonce_form(&page, &reference), "fake-valid-nonce")
        .await;
    assert_eq!(back, format!("/orders/{reference}"));
    assert_eq!(app.status_of(&reference).await, "paid");
    // Settled, so the refund is a `transaction.refund` (a credit), not a void.
    app.sandbox_exec("UPDATE sandbox_objects SET data = REPLACE(data, '\"status\":\"submitted_for_settlement\"', '\"status\":\"settled\"') WHERE id LIKE 'bt-tx:%'").await;
    let merchant = app.merchant().await;
    let refunding = merchant.refund_with_new_key(&reference, "18.00");
    let overtaking = async {
        let answer = held.recv().await.expect("the refund reaches Braintree");
        let wire::SaleResult::Accepted(credit) = wire::sale_result(answer.body.as_bytes()).unwrap()
        else {
            panic!("the refund is accepted: {}", answer.body)
        };
        let notice = sandbox::signed_form(&sandbox::notification_xml(
            "transaction_settled",
            &wire::transaction_node(&wire::Transaction {
                status: "settled".into(),
                ..credit
            }),
        ));
        let acknowledged = app.bt_post(notice).await;
        let rows = app.refund_rows(&reference).await;
        let status = app.status_of(&reference).await;
        answer.release.send(()).unwrap();
        (acknowledged, rows, status)
    };
    let ((code, said), (acknowledged, rows, status)) = tokio::join!(refunding, overtaking);
    assert!(acknowledged.is_success());
    assert_eq!(
        rows,
        vec![(1800, "succeeded".to_string())],
        "the notice settled the shop's own refund"
    );
    assert_eq!(status, "refunded");
    assert!(
        code.is_success() && said.contains("Refunded $18.00."),
        "{code} {said}"
    );
    assert_eq!(
        app.refund_rows(&reference).await,
        vec![(1800, "succeeded".to_string())]
    );
    assert_eq!(app.status_of(&reference).await, "refunded");
}

crate::helpers::on_both_backends!(a_refund_notice_before_the_answer_settles_the_shops_own_refund);

/// The stand-in Drop-in's nonce form without opening it (when this shop does not serve the
/// sandbox): the shop page's own fields, posted to the return URL.
fn nonce_form(shop_page: &str, reference: &str) -> HtmlForm {
    let to_dropin = forms(shop_page)
        .into_iter()
        .find(|f| f.action == "/sandbox/braintree/dropin")
        .expect("the stand-in form");
    let mut fields = to_dropin.fields;
    fields.retain(|(k, _)| matches!(k.as_str(), "form_token" | "amount" | "currency"));
    HtmlForm {
        method: "post".into(),
        action: format!("/payments/braintree/return/{reference}"),
        fields,
    }
}
