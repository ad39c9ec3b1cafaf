//! Shutting down and running several instances: a stop (what SIGTERM starts) in the middle of a
//! webhook burst loses no acknowledged event; the real binary ends its live streams with a
//! reconnect hint and exits cleanly on SIGTERM; two instances on one PostgreSQL database behind a
//! load balancer share sessions, live status and the reconciler's work.

use crate::helpers::{
    browser_at, on_both_backends, round_robin_proxy, spawn_app, spawn_app_with, Backend, Browser,
    TestApp, ADMIN_EMAIL, ADMIN_PASSWORD, PUBLIC_URL,
};
use crate::pay::{attempt_in, reference_in, stripe_event};
use app::server::config::payments::sandbox_keys;
use app::server::payments::stripe::signature;
use futures_util::stream::{self, StreamExt};
use reqwest::StatusCode;
use sqlx::Row as _;
use std::time::Duration;

/// An order awaiting payment at the Stripe sandbox, with the event that would pay it.
async fn awaiting_stripe(app: &TestApp) -> (String, serde_json::Value) {
    awaiting_stripe_at(&app.browser(), &app.state.db.pool).await
}

/// [`awaiting_stripe`] by `shopper` at a shop whose database is `db` (e.g. the real binary).
pub(crate) async fn awaiting_stripe_at(
    shopper: &Browser,
    db: &sqlx::AnyPool,
) -> (String, serde_json::Value) {
    shopper.add_to_cart(2, 1).await;
    let page = shopper.pay("stripe").await;
    let reference = reference_in(&shopper.on_stripe_page(&page, "pay", "never").await);
    let (attempt, session) = attempt_in(db, &reference).await;
    let event = stripe_event(
        "checkout.session.completed",
        &attempt,
        &session,
        "paid",
        1400,
        "usd",
    );
    (reference, event)
}

/// Deliver a signed Stripe event like Stripe does; `None` when no answer came (refused, reset).
pub(crate) async fn deliver(
    client: &reqwest::Client,
    base: &str,
    event: &serde_json::Value,
) -> Option<u16> {
    let body = event.to_string();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let header = signature::sign(body.as_bytes(), sandbox_keys::STRIPE_WEBHOOK_SECRET, now);
    let response = client
        .post(format!("{base}/webhooks/stripe"))
        .header("content-type", "application/json")
        .header("stripe-signature", header)
        .body(body)
        .send()
        .await
        .ok()?;
    Some(response.status().as_u16())
}

pub(crate) async fn status_of(db: &sqlx::AnyPool, reference: &str) -> String {
    sqlx::query("SELECT status FROM orders WHERE reference = $1")
        .bind(reference)
        .fetch_one(db)
        .await
        .unwrap()
        .try_get::<String, _>(0)
        .unwrap()
}

/// Ledger events that paid this order (exactly one, however often the event came).
pub(crate) async fn paid_events(db: &sqlx::AnyPool, reference: &str) -> i64 {
    sqlx::query(
        "SELECT COUNT(*) FROM payment_events e JOIN orders o ON o.id = e.order_id \
         WHERE o.reference = $1 AND e.to_status = 'paid' AND e.outcome LIKE 'applied:%'",
    )
    .bind(reference)
    .fetch_one(db)
    .await
    .unwrap()
    .try_get::<i64, _>(0)
    .unwrap()
}

/// Twelve payments' webhooks arrive four at a time; the instance is told to stop after the third
/// answer. Every event it acknowledged is applied by the time it has stopped; the provider's
/// retries of the others, to the next instance, pay the rest, each exactly once.
async fn a_stop_during_a_webhook_burst_loses_nothing(backend: Backend) {
    const ORDERS: usize = 12;
    let mut app = spawn_app_with(backend, &[]).await;
    let mut orders = Vec::new();
    for _ in 0..ORDERS {
        orders.push(awaiting_stripe(&app).await);
    }
    let client = reqwest::Client::new();
    let base = app.base.clone();
    let mut answers = stream::iter(orders.iter().enumerate())
        .map(|(i, (_, event))| {
            let client = client.clone();
            let base = base.clone();
            async move { (i, deliver(&client, &base, event).await) }
        })
        .buffer_unordered(4);
    let mut acknowledged = [false; ORDERS];
    let mut answered = 0;
    while let Some((i, answer)) = answers.next().await {
        acknowledged[i] = answer == Some(200);
        answered += 1;
        if answered == 3 {
            app.begin_stop();
        }
    }
    app.stopped()
        .await
        .expect("the instance shuts down cleanly");
    assert!(acknowledged.iter().any(|a| *a), "some events were taken");
    for (i, (reference, _)) in orders.iter().enumerate() {
        if acknowledged[i] {
            assert_eq!(
                status_of(&app.state.db.pool, reference).await,
                "paid",
                "{reference}: its webhook was acknowledged, so it was applied before the stop ended"
            );
        }
    }
    // The provider retries what was not acknowledged (and, to be sure, everything) elsewhere.
    let next = app.another_instance().await;
    for (reference, event) in &orders {
        assert_eq!(deliver(&client, &next.base, event).await, Some(200));
        assert_eq!(status_of(&next.state.db.pool, reference).await, "paid");
        assert_eq!(
            paid_events(&next.state.db.pool, reference).await,
            1,
            "{reference}"
        );
    }
}

on_both_backends!(a_stop_during_a_webhook_burst_loses_nothing);

/// The real binary on SIGTERM: stops accepting, ends an open live stream with a `retry:` hint,
/// and exits with status 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_ends_live_streams_and_exits_cleanly() {
    use std::io::BufRead as _;
    let dir = std::env::temp_dir().join(format!(
        "storefront-sigterm-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_storefront"))
        .current_dir(&dir)
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", dir.join("shop.db").display()),
        )
        .env("LEPTOS_SITE_ADDR", "127.0.0.1:0")
        .env("PUBLIC_URL", PUBLIC_URL)
        .env("ADMIN_EMAIL", ADMIN_EMAIL)
        .env("ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("the storefront binary starts");
    let stdout = child.stdout.take().unwrap();
    let base = tokio::task::spawn_blocking(move || {
        std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .find_map(|line| {
                line.strip_prefix("storefront listening on ")
                    .map(|url| url.trim().to_string())
            })
            .expect("it says where it listens")
    })
    .await
    .unwrap();
    let merchant = browser_at(&base);
    merchant
        .log_in(ADMIN_EMAIL, ADMIN_PASSWORD)
        .await
        .expect("merchant logs in");
    let response = merchant
        .client
        .get(format!("{base}/events/admin/orders"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let pid = child.id().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let body = tokio::time::timeout(Duration::from_secs(20), response.text())
        .await
        .expect("the live stream ends on SIGTERM")
        .unwrap_or_default();
    assert!(
        body.contains("retry: 2000"),
        "the stream's last words tell the browser to reconnect: {body:?}"
    );
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "exit status {status}");
    assert!(
        reqwest::get(format!("{base}/healthz")).await.is_err(),
        "nothing listens any more"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Two instances on one PostgreSQL database behind a round-robin load balancer: the shopper's
/// session, cart and checkout hop between them; a webhook handled by one reaches a live stream on
/// the other; and both reconcilers running at once look each open attempt up once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_behind_a_load_balancer() {
    let a = spawn_app(Backend::Postgres).await;
    let b = a.another_instance().await;
    let address = |app: &TestApp| app.base.trim_start_matches("http://").to_string();
    let balancer = round_robin_proxy(vec![address(&a), address(&b)]).await;

    let shopper = browser_at(&balancer);
    shopper.add_to_cart(1, 1).await;
    shopper.add_to_cart(2, 1).await;
    let cart = shopper.cart().await;
    assert_eq!(
        cart.line_quantity(1),
        Some(1),
        "the cart follows the session"
    );
    assert_eq!(cart.line_quantity(2), Some(1));
    let page = shopper.pay("stripe").await;
    let reference = reference_in(&shopper.on_stripe_page(&page, "pay", "never").await);

    let response = shopper
        .client
        .get(format!("{}/events/orders/{reference}", a.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let mut stream = response.bytes_stream();
    let mut seen = String::new();
    crate::helpers::read_until(&mut stream, &mut seen, "awaiting_payment").await;
    let (attempt, session) = a.attempt_of(&reference).await;
    let event = stripe_event(
        "checkout.session.completed",
        &attempt,
        &session,
        "paid",
        3200,
        "usd",
    );
    assert_eq!(b.stripe_event(&event).await, StatusCode::OK);
    // instance A's stream reports what instance B applied
    crate::helpers::read_until(&mut stream, &mut seen, "\"paid\"").await;

    // Three more shoppers leave their payments open; both reconcilers come due at once.
    let mut open = Vec::new();
    for _ in 0..3 {
        let other = browser_at(&balancer);
        other.add_to_cart(3, 1).await;
        let page = other.pay("stripe").await;
        open.push(reference_in(
            &other.on_stripe_page(&page, "pay", "never").await,
        ));
    }
    // Their first lookup (30 s after opening) is due now.
    a.exec(
        "UPDATE payment_attempts SET next_lookup_at = next_lookup_at - 30000 \
         WHERE state = 'open'",
    )
    .await;
    let (ra, rb) = tokio::join!(
        app::server::services::reconciler::run_once(&a.state),
        app::server::services::reconciler::run_once(&b.state)
    );
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert_eq!(
        ra + rb,
        open.len(),
        "each due attempt was looked up by one instance"
    );
    for reference in &open {
        let lookups: i64 = sqlx::query(
            "SELECT a.lookups FROM payment_attempts a JOIN orders o ON o.id = a.order_id \
             WHERE o.reference = $1",
        )
        .bind(reference)
        .fetch_one(&a.state.db.pool)
        .await
        .unwrap()
        .try_get(0)
        .unwrap();
        assert_eq!(lookups, 1, "{reference} was looked up once in this slot");
    }
}
