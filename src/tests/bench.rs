//! Payment benchmarks (docs/benchmarks.md), run on demand and never as part of the test suite:
//!
//! ```text
//! cargo test --release --test integration bench -- --ignored --nocapture --test-threads 1
//! ```
//!
//! Each prints its figures; none asserts a time. They drive the real app over HTTP on SQLite with
//! the built-in Stripe sandbox, like the other integration tests.

use crate::helpers::{spawn_app, spawn_app_with, Backend, Browser, TestApp};
use crate::pay::stripe_event;
use futures_util::StreamExt;
use reqwest::header::LOCATION;
use std::time::{Duration, Instant};

const SHOPPERS: usize = 32;
const ROUNDS: usize = 10;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

fn report(what: &str, mut samples: Vec<Duration>) {
    samples.sort();
    println!(
        "{what}: n={} p50={:.2} ms p99={:.2} ms max={:.2} ms",
        samples.len(),
        percentile(&samples, 0.50).as_secs_f64() * 1e3,
        percentile(&samples, 0.99).as_secs_f64() * 1e3,
        samples.last().unwrap().as_secs_f64() * 1e3,
    );
}

/// `SHOPPERS` shoppers with one product in the cart and the checkout form's key, ready to Pay.
async fn ready_shoppers(app: &TestApp) -> Vec<(Browser, String)> {
    let mut shoppers = Vec::new();
    for _ in 0..SHOPPERS {
        let shopper = app.browser();
        shopper.add_to_cart(25, 1).await;
        let key = shopper.checkout_key().await;
        shoppers.push((shopper, key));
    }
    shoppers
}

/// Checkouts that each end with a Stripe sandbox session; returns the order references.
async fn checkouts(app: &TestApp, rounds: usize, latencies: &mut Vec<Duration>) -> Vec<String> {
    let mut references = Vec::new();
    for _ in 0..rounds {
        let shoppers = ready_shoppers(app).await;
        let runs = shoppers.iter().map(|(shopper, key)| async move {
            let started = Instant::now();
            let response = shopper.pay_with_key("stripe", key).await;
            let elapsed = started.elapsed();
            let location = response.headers()[LOCATION].to_str().unwrap().to_string();
            assert!(location.contains("/c/pay/cs_test_"), "{location}");
            elapsed
        });
        latencies.extend(futures_util::future::join_all(runs).await);
    }
    for id in 1..=(rounds * SHOPPERS) {
        references.push(format!("ORD-{id:06}"));
    }
    references
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "benchmark: run on demand with --ignored --nocapture"]
async fn bench_checkout_and_webhooks() {
    checkout_and_webhooks(Backend::Sqlite).await;
}

/// The same on PostgreSQL, with webhook → browser also across two instances sharing it.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "benchmark: run on demand with --ignored --nocapture"]
async fn bench_checkout_and_webhooks_postgres() {
    checkout_and_webhooks(Backend::Postgres).await;
}

async fn checkout_and_webhooks(backend: Backend) {
    let name = match backend {
        Backend::Sqlite => "SQLite",
        Backend::Postgres => "PostgreSQL",
    };
    // Every shopper of the bench is one client address: the per-address cap on unpaid orders is
    // lifted as for a load test from one machine.
    let app = spawn_app_with(backend, &[("MAX_OPEN_ORDERS_PER_ADDRESS", "10000")]).await;
    app.exec("UPDATE products SET stock = 1000000 WHERE id = 25")
        .await;

    // Warm up the connection pools and caches.
    let mut warm = Vec::new();
    checkouts(&app, 1, &mut warm).await;

    let mut latencies = Vec::new();
    let references = checkouts(&app, ROUNDS, &mut latencies).await;
    report(
        &format!(
            "checkout (re-price, order, Stripe sandbox session), {SHOPPERS} concurrent shoppers, {name}"
        ),
        latencies,
    );

    // Verified webhooks: one checkout.session.completed per order, 16 in flight at a time.
    let mut events = Vec::new();
    for reference in references.iter().skip(SHOPPERS) {
        let (attempt, session) = app.attempt_of(reference).await;
        events.push(stripe_event(
            "checkout.session.completed",
            &attempt,
            &session,
            "paid",
            1500,
            "usd",
        ));
    }
    let started = Instant::now();
    let statuses: Vec<_> = futures_util::stream::iter(events.iter().map(|e| app.stripe_event(e)))
        .buffer_unordered(16)
        .collect()
        .await;
    let elapsed = started.elapsed();
    assert!(statuses.iter().all(|s| s.is_success()));
    for reference in references.iter().skip(SHOPPERS) {
        assert_eq!(app.status_of(reference).await, "paid", "nothing lost");
    }
    println!(
        "verified webhooks on {name}: {} in {:.2} s = {:.0} per second (16 in flight)",
        events.len(),
        elapsed.as_secs_f64(),
        events.len() as f64 / elapsed.as_secs_f64()
    );

    // The database's own single-row commit rate on the same file, with the same concurrency.
    app.exec(match backend {
        Backend::Sqlite => {
            "CREATE TABLE bench_commits (id INTEGER PRIMARY KEY, note TEXT NOT NULL)"
        }
        Backend::Postgres => {
            "CREATE TABLE bench_commits (id BIGSERIAL PRIMARY KEY, note TEXT NOT NULL)"
        }
    })
    .await;
    // Through the shop's own write gate, as its writers go (on SQLite one writer at a time, none
    // sleeping in SQLite's busy handler: the best rate the file gives the shop's driver; on
    // PostgreSQL the gate is open).
    let db = app.state.db.clone();
    let commits = 1000;
    let started = Instant::now();
    futures_util::stream::iter((0..commits).map(|i| {
        let db = db.clone();
        async move {
            let mut conn = db.write().await.unwrap();
            sqlx::query("INSERT INTO bench_commits (note) VALUES ($1)")
                .bind(format!("row {i}"))
                .execute(&mut *conn)
                .await
                .unwrap();
        }
    }))
    .buffer_unordered(16)
    .collect::<Vec<_>>()
    .await;
    let elapsed = started.elapsed();
    println!(
        "{name} single-row commits on the same database: {commits} in {:.2} s = {:.0} per second (16 in flight)",
        elapsed.as_secs_f64(),
        commits as f64 / elapsed.as_secs_f64()
    );

    // Webhook → browser: time from posting a webhook to its status arriving on the order's stream,
    // the webhook sent to the instance serving the stream, or (PostgreSQL) to another one.
    // Orders are numbered in the order placed: the warm-up's (the first SHOPPERS) and the last
    // round's (the burst above paid ORD-(SHOPPERS+1) to ORD-(ROUNDS*SHOPPERS)) are still unpaid.
    let unpaid = |from: usize| -> Vec<String> {
        (from..from + SHOPPERS)
            .map(|id| format!("ORD-{id:06}"))
            .collect()
    };
    report(
        &format!("webhook -> browser live status (SSE), one instance, {name}"),
        webhook_to_browser(&app, &app, &unpaid(1)).await,
    );
    if matches!(backend, Backend::Postgres) {
        let other = app.another_instance().await;
        report(
            "webhook -> browser live status (SSE), two instances, PostgreSQL",
            webhook_to_browser(&app, &other, &unpaid(ROUNDS * SHOPPERS + 1)).await,
        );
    }
}

/// For each order: open its status stream on `watched`, post its paid webhook to `receiver`, and
/// time until the stream says paid.
async fn webhook_to_browser(
    watched: &TestApp,
    receiver: &TestApp,
    references: &[String],
) -> Vec<Duration> {
    let app = watched;
    let mut delays = Vec::new();
    for reference in references {
        let owner = app.browser();
        let key = reference_key(app, reference).await;
        let response = owner
            .client
            .get(format!("{}/events/orders/{reference}?key={key}", app.base))
            .send()
            .await
            .unwrap();
        let mut stream = response.bytes_stream();
        let mut seen = String::new();
        while !seen.contains("awaiting_payment") {
            seen.push_str(&String::from_utf8_lossy(
                &stream.next().await.unwrap().unwrap(),
            ));
        }
        let (attempt, session) = app.attempt_of(reference).await;
        let event = stripe_event(
            "checkout.session.completed",
            &attempt,
            &session,
            "paid",
            1500,
            "usd",
        );
        let started = Instant::now();
        let post = receiver.stripe_event(&event);
        let wait = async {
            while !seen.contains("\"paid\"") {
                seen.push_str(&String::from_utf8_lossy(
                    &stream.next().await.unwrap().unwrap(),
                ));
            }
            started.elapsed()
        };
        let (_, delay) = tokio::join!(post, wait);
        delays.push(delay);
    }
    delays
}

async fn reference_key(app: &TestApp, reference: &str) -> String {
    use sqlx::Row as _;
    sqlx::query("SELECT guest_token FROM orders WHERE reference = $1")
        .bind(reference)
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap()
        .try_get(0)
        .unwrap()
}

/// The render of one catalogue page in isolation (the catalogue row of docs/benchmarks.md without
/// the cache):
/// the catalogue version is bumped before each request, so every one of them renders the page.
/// Run with `cargo test --release --test integration bench_catalogue_render -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "benchmark: run on demand with --ignored --nocapture"]
async fn bench_catalogue_render() {
    let app = spawn_app(Backend::Sqlite).await;
    let visitor = app.browser();
    let mut rendered = Vec::new();
    let mut cached = Vec::new();
    for round in 0..220 {
        app.state.events.catalogue_changed();
        let started = Instant::now();
        let page = visitor.get("/").await;
        let render = started.elapsed();
        let started = Instant::now();
        let again = visitor.get("/").await;
        let hit = started.elapsed();
        assert!(page.contains("$18.00") && again.contains("$18.00"));
        // The first rounds warm up the pools.
        if round >= 20 {
            rendered.push(render);
            cached.push(hit);
        }
    }
    report(
        "catalogue page, rendered (cache bypassed), over HTTP",
        rendered,
    );
    report("catalogue page, from the render cache, over HTTP", cached);
}
