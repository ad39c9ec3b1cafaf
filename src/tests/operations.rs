//! Running it for real (docs/operating.md#metrics-logs-and-alerts): `/metrics` for the merchant and the scraper only, webhooks
//! counted by outcome, request ids, `/healthz` and `/readyz`, and `X-Forwarded-For` believed only
//! from `TRUSTED_PROXIES`. Metrics are process-wide and other tests run alongside, so counters are
//! compared before and after (at least the increments this test caused).

use crate::helpers::{on_both_backends, spawn_app_with, Backend, TestApp};
use crate::pay::{reference_in, stripe_event};
use app::server::background::Worker;
use reqwest::StatusCode;

const TOKEN: &str = "scrape-token-0123456789";

async fn metrics_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, &[("METRICS_TOKEN", TOKEN)]).await
}

impl TestApp {
    /// `GET /metrics` with this `Authorization` header (or none).
    async fn metrics_with(&self, authorization: Option<&str>) -> reqwest::Response {
        let mut request = reqwest::Client::new().get(format!("{}/metrics", self.base));
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        request.send().await.unwrap()
    }

    /// A scrape as Prometheus makes it.
    async fn scrape(&self) -> String {
        let response = self.metrics_with(Some(&format!("Bearer {TOKEN}"))).await;
        assert_eq!(response.status(), StatusCode::OK);
        response.text().await.unwrap()
    }

    async fn get_json(&self, path: &str) -> (StatusCode, serde_json::Value) {
        let response = reqwest::get(format!("{}{path}", self.base)).await.unwrap();
        let status = response.status();
        (status, response.json().await.unwrap())
    }
}

/// The sum of the samples of `name` whose labels include all of `labels` (0 when none).
fn sample(scrape: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    scrape
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.rsplit_once(' '))
        .filter(|(series, _)| {
            (*series == name || series.starts_with(&format!("{name}{{")))
                && labels
                    .iter()
                    .all(|(k, v)| series.contains(&format!("{k}=\"{v}\"")))
        })
        .filter_map(|(_, value)| value.parse::<f64>().ok())
        .sum()
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

async fn metrics_are_for_the_merchant_and_the_scraper_only(backend: Backend) {
    let app = metrics_app(backend).await;
    assert_eq!(
        app.browser().get("/metrics").await.status,
        StatusCode::NOT_FOUND,
        "a stranger"
    );
    let customer = app.browser();
    customer
        .register("curious@example.com", "curious-pass-1")
        .await
        .unwrap();
    assert_eq!(
        customer.get("/metrics").await.status,
        StatusCode::NOT_FOUND,
        "a customer"
    );
    for wrong in [
        format!("Bearer {TOKEN}x"),
        "Bearer scrape-token".to_string(),
        TOKEN.to_string(),
        format!("Basic {TOKEN}"),
    ] {
        let response = app.metrics_with(Some(&wrong)).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{wrong}");
    }
    let scraper = app.metrics_with(Some(&format!("Bearer {TOKEN}"))).await;
    assert_eq!(scraper.status(), StatusCode::OK);
    assert!(scraper.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = scraper.text().await.unwrap();
    assert!(
        sample(
            &text,
            "storefront_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        ) == 1.0,
        "{text}"
    );
    let merchant = app.merchant().await;
    assert_eq!(merchant.get("/cart").await.status, StatusCode::OK);
    let page = merchant.get("/metrics").await;
    assert_eq!(page.status, StatusCode::OK);
    // Requests are counted by route pattern: pages, server functions, plain routes.
    let text = page.html;
    assert!(
        sample(
            &text,
            "storefront_http_requests_total",
            &[("route", "/cart"), ("method", "GET"), ("status", "200")]
        ) >= 1.0,
        "{text}"
    );
    assert!(
        sample(
            &text,
            "storefront_http_requests_total",
            &[("route", "/metrics"), ("status", "404")]
        ) >= 1.0,
        "{text}"
    );
    assert!(
        text.contains("storefront_http_request_duration_seconds_bucket{"),
        "{text}"
    );
    assert!(
        sample(
            &text,
            "storefront_http_request_duration_seconds_count",
            &[("route", "/cart")]
        ) >= 1.0,
        "{text}"
    );
    for gauge in [
        "storefront_reconciler_backlog",
        "storefront_outbox_backlog",
        "storefront_outbox_dead",
        "storefront_sse_listeners",
        "storefront_db_pool_connections",
        "storefront_db_pool_idle",
    ] {
        assert!(
            text.lines().any(|l| l.starts_with(gauge)),
            "{gauge} in {text}"
        );
    }
    // An unknown path is one `other` series, not one per path.
    app.browser().get("/no/such/page/12345").await;
    let text = app.scrape().await;
    assert!(!text.contains("/no/such/page"), "{text}");
    assert!(
        sample(
            &text,
            "storefront_http_requests_total",
            &[("route", "other"), ("status", "404")]
        ) >= 1.0,
        "{text}"
    );
}

async fn webhooks_are_counted_by_outcome(backend: Backend) {
    let app = metrics_app(backend).await;
    let before = app.scrape().await;
    let shopper = app.browser();
    shopper.add_to_cart(1, 1).await;
    let page = shopper.pay("stripe").await;
    let reference = reference_in(&shopper.on_stripe_page(&page, "pay", "never").await);
    let (attempt, session) = app.attempt_of(&reference).await;
    let event = stripe_event(
        "checkout.session.completed",
        &attempt,
        &session,
        "paid",
        1800,
        "usd",
    );
    assert_eq!(app.stripe_event(&event).await, StatusCode::OK, "applied");
    assert_eq!(app.stripe_event(&event).await, StatusCode::OK, "duplicate");
    let body = event.to_string();
    let wrong =
        app::server::payments::stripe::signature::sign(body.as_bytes(), "whsec_wrong", now_secs());
    let status = app
        .post_webhook(
            "stripe",
            "application/json",
            &[("stripe-signature", wrong)],
            body.into_bytes(),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "rejected");
    let unrelated = serde_json::json!({
        "id": format!("evt_test_{}", uuid::Uuid::new_v4().simple()),
        "object": "event",
        "created": now_secs(),
        "livemode": false,
        "type": "customer.created",
        "data": {"object": {"id": "cus_test_1", "object": "customer"}},
    });
    assert_eq!(
        app.stripe_event(&unrelated).await,
        StatusCode::OK,
        "ignored"
    );
    assert_eq!(app.status_of(&reference).await, "paid");

    let after = app.scrape().await;
    let delta = |name: &str, labels: &[(&str, &str)]| {
        sample(&after, name, labels) - sample(&before, name, labels)
    };
    for outcome in ["applied", "duplicate", "rejected", "ignored"] {
        let up = delta(
            "storefront_webhooks_total",
            &[("provider", "stripe"), ("outcome", outcome)],
        );
        assert!(up >= 1.0, "{outcome}: {up}\n{after}");
    }
    assert!(
        delta(
            "storefront_webhook_verification_seconds_count",
            &[("provider", "stripe")]
        ) >= 4.0,
        "{after}"
    );
    assert!(
        after.contains("storefront_webhook_verification_seconds_bucket{"),
        "{after}"
    );
    assert!(
        delta(
            "storefront_webhook_lag_seconds_count",
            &[("provider", "stripe")]
        ) >= 1.0,
        "{after}"
    );
    assert!(
        delta(
            "storefront_payments_started_total",
            &[("provider", "stripe")]
        ) >= 1.0,
        "{after}"
    );
    assert!(
        delta(
            "storefront_payments_finished_total",
            &[("provider", "stripe"), ("status", "paid")]
        ) >= 1.0,
        "{after}"
    );
    assert!(
        delta(
            "storefront_http_requests_total",
            &[
                ("route", "/webhooks/{provider}"),
                ("method", "POST"),
                ("status", "400")
            ]
        ) >= 1.0,
        "{after}"
    );
}

async fn health_reports_the_workers_and_readiness_follows_the_instance(backend: Backend) {
    let mut app = crate::helpers::spawn_app_with(backend, &[("SHUTDOWN_DELAY_SECONDS", "2")]).await;
    let (status, health) = app.get_json("/healthz").await;
    assert_eq!(status, StatusCode::OK, "{health}");
    assert_eq!(health["database"], "ok");
    for worker in ["reconciler", "outbox"] {
        assert!(
            health["workers"][worker].get("last_run").is_some(),
            "{health}"
        );
    }
    let at = app::server::db::now_ms() - 5_000;
    app.state.background.record_run(Worker::Outbox, at);
    let (_, health) = app.get_json("/healthz").await;
    let outbox = &health["workers"]["outbox"];
    assert!(outbox["last_run_ms"].as_i64().unwrap() >= at, "{health}");
    assert!(
        outbox["last_run"].as_str().unwrap().ends_with('Z'),
        "{health}"
    );
    assert!(outbox["seconds_ago"].as_i64().unwrap() <= 5, "{health}");

    let (status, ready) = app.get_json("/readyz").await;
    assert_eq!(status, StatusCode::OK, "{ready}");
    // The database gone: neither healthy nor ready.
    app.state.db.pool.close().await;
    let (status, health) = app.get_json("/healthz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(health["database"], "error");
    let (status, ready) = app.get_json("/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(ready["reason"], "database unreachable");
    // Asked to stop (SIGTERM): readiness fails at once while it still serves for
    // SHUTDOWN_DELAY_SECONDS, so the balancer takes it out; then it stops accepting connections.
    app.begin_stop();
    let (status, ready) = app.get_json("/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(ready["reason"], "stopping");
    app.stopped().await.expect("it shuts down cleanly");
    assert!(reqwest::get(format!("{}/readyz", app.base)).await.is_err());
}

async fn request_ids_are_taken_or_made_and_returned(backend: Backend) {
    let app = crate::helpers::spawn_app(backend).await;
    let client = reqwest::Client::new();
    let get = |id: Option<&'static str>| {
        let mut request = client.get(format!("{}/healthz", app.base));
        if let Some(id) = id {
            request = request.header("x-request-id", id);
        }
        async move {
            let response = request.send().await.unwrap();
            response.headers()["x-request-id"]
                .to_str()
                .unwrap()
                .to_string()
        }
    };
    assert_eq!(get(Some("lb-7f3a.2_x")).await, "lb-7f3a.2_x");
    let replaced = get(Some("two words")).await;
    assert!(
        replaced != "two words" && storefront::request_id::is_sane(&replaced),
        "{replaced}"
    );
    let made = get(None).await;
    assert!(storefront::request_id::is_sane(&made));
    assert_ne!(made, get(None).await, "a new id per request");
    // Pages too, whatever answers them.
    let page = app
        .browser()
        .client
        .get(format!("{}/cart", app.base))
        .send()
        .await
        .unwrap();
    assert!(page.headers().contains_key("x-request-id"));
}

/// The registration limit (10 per address per hour) counts the address a trusted proxy names; a
/// client talking to the shop directly cannot pick its address with the header.
async fn forwarded_addresses_are_believed_only_from_trusted_proxies(backend: Backend) {
    let behind_proxy =
        spawn_app_with(backend, &[("TRUSTED_PROXIES", "127.0.0.1/32, ::1/128")]).await;
    let direct = behind_proxy.another_instance().await;
    let now = app::server::db::now_ms();
    for ip in ["198.51.100.1", "127.0.0.1"] {
        for _ in 0..10 {
            behind_proxy
                .exec(&format!(
                    "INSERT INTO registration_attempts (ip, at_ms) VALUES ('{ip}', {now})"
                ))
                .await;
        }
    }
    let from = |app: &TestApp, ip: &str| app.browser_with_headers(&[("x-forwarded-for", ip)]);
    let refused = from(&behind_proxy, "198.51.100.1")
        .register("one@example.com", "a-fine-password")
        .await;
    assert!(refused.unwrap_err().starts_with("Too many accounts"));
    from(&behind_proxy, "198.51.100.2")
        .register("two@example.com", "a-fine-password")
        .await
        .unwrap();
    // The client's own entry left of what the proxy appended changes nothing.
    let forged = from(&behind_proxy, "198.51.100.9, 198.51.100.1")
        .register("three@example.com", "a-fine-password")
        .await;
    assert!(forged.unwrap_err().starts_with("Too many accounts"));
    // Without TRUSTED_PROXIES the socket peer (127.0.0.1, at its limit) is the client.
    let direct_try = from(&direct, "198.51.100.3")
        .register("four@example.com", "a-fine-password")
        .await;
    assert!(direct_try.unwrap_err().starts_with("Too many accounts"));
}

on_both_backends!(
    metrics_are_for_the_merchant_and_the_scraper_only,
    webhooks_are_counted_by_outcome,
    health_reports_the_workers_and_readiness_follows_the_instance,
    request_ids_are_taken_or_made_and_returned,
    forwarded_addresses_are_believed_only_from_trusted_proxies,
);
