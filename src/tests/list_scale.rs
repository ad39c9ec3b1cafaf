//! The order lists at scale (docs/benchmarks.md), run on demand and never as part of the test suite:
//!
//! ```text
//! RUST_LOG=warn cargo test --release --test integration list_scale -- --ignored --nocapture --test-threads 1
//! ```
//!
//! Seeds 100,000 orders (`order_seed`) into a fresh database, then measures over HTTP: the
//! merchant's list for every filter and the search, a heavy customer's history, and the full CSV
//! export's time and the process's memory while it streams. Prints figures; asserts no time.

use crate::helpers::{spawn_app, Backend, Browser, TestApp};
use crate::order_seed;
use app::model::OrderListQuery;
use app::server::services::order_search::{self, Lister};
use futures_util::StreamExt;
use reqwest::StatusCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const ORDERS: i64 = 100_000;
const SAMPLES: usize = 60;
const PASSWORD: &str = "bench-password-1";

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// The database's plan for the list query of `query` (and its totals, for merchants).
async fn plan(app: &TestApp, query: &str, lister: Lister) {
    let parsed: OrderListQuery = serde_urlencoded::from_str(query).unwrap();
    let mut conn = app.state.db.pool.acquire().await.unwrap();
    let filter = order_search::filter(&mut conn, &parsed, lister)
        .await
        .unwrap();
    let cursor = order_search::cursor(&parsed).unwrap();
    let limit = match lister {
        Lister::Merchant => order_search::ADMIN_PAGE,
        Lister::Customer(_) => order_search::HISTORY_PAGE,
    };
    let lines = app::server::db::order_search::explain(
        &mut conn,
        app.state.db.backend,
        &filter,
        cursor,
        limit,
    )
    .await
    .unwrap();
    // The history reads no totals: its plan is the list query's alone.
    let list_only = matches!(lister, Lister::Customer(_));
    let shown: Vec<&str> = lines
        .iter()
        .take_while(|l| !(list_only && l.as_str() == "--"))
        .map(|l| l.trim())
        .filter(|l| !l.starts_with("Filter:") && !l.starts_with("Sort Key"))
        .collect();
    println!("      plan: {}", shown.join(" | "));
}

/// `SAMPLES` sequential requests of `path` (after two warm-ups); prints p50 / p95 / max.
async fn measure(browser: &Browser, label: &str, path: &str) {
    for _ in 0..2 {
        browser.get(path).await;
    }
    let mut samples = Vec::with_capacity(SAMPLES);
    let mut rows = 0;
    for _ in 0..SAMPLES {
        let started = Instant::now();
        let page = browser.get(path).await;
        samples.push(started.elapsed());
        assert_eq!(page.status, StatusCode::OK, "{path}");
        rows = page.html.matches("<tr><th scope=\"row\"><a href=").count();
    }
    samples.sort();
    println!(
        "  {label:<34} rows={rows:<3} p50={:>6.2} ms  p95={:>6.2} ms  max={:>6.2} ms",
        percentile(&samples, 0.50).as_secs_f64() * 1e3,
        percentile(&samples, 0.95).as_secs_f64() * 1e3,
        samples.last().unwrap().as_secs_f64() * 1e3,
    );
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

async fn csv(merchant: &Browser) {
    let before = rss_kib();
    let peak = Arc::new(AtomicU64::new(before));
    let watcher = {
        let peak = peak.clone();
        tokio::spawn(async move {
            loop {
                peak.fetch_max(rss_kib(), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    let started = Instant::now();
    let response = merchant
        .client
        .get(format!("{}/admin/orders.csv", merchant.base))
        .send()
        .await
        .unwrap();
    let first_byte = started.elapsed();
    let mut stream = response.bytes_stream();
    let (mut bytes, mut lines) = (0usize, 0usize);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.unwrap();
        bytes += chunk.len();
        lines += chunk.iter().filter(|b| **b == b'\n').count();
    }
    let elapsed = started.elapsed();
    watcher.abort();
    println!(
        "  CSV of all orders: {} rows, {:.1} MB in {:.2} s (first byte {:.0} ms); RSS {} MiB before, peak {} MiB (+{} MiB)",
        lines - 1,
        bytes as f64 / 1e6,
        elapsed.as_secs_f64(),
        first_byte.as_secs_f64() * 1e3,
        before / 1024,
        peak.load(Ordering::Relaxed) / 1024,
        (peak.load(Ordering::Relaxed).saturating_sub(before)) / 1024,
    );
}

async fn run(backend: Backend) {
    let app: TestApp = spawn_app(backend).await;
    println!("order lists on {backend:?}, {ORDERS} orders");
    // Two customers who log in: one with thousands of orders, one with a few.
    let heavy_browser = app.browser();
    heavy_browser
        .register("heavy@example.com", PASSWORD)
        .await
        .unwrap();
    let light_browser = app.browser();
    light_browser
        .register("light@example.com", PASSWORD)
        .await
        .unwrap();
    let id_of = |email: &'static str| {
        let pool = app.state.db.pool.clone();
        async move {
            let row = sqlx::query("SELECT id FROM users WHERE email = $1")
                .bind(email)
                .fetch_one(&pool)
                .await
                .unwrap();
            sqlx::Row::get::<i64, _>(&row, "id")
        }
    };
    let heavy = id_of("heavy@example.com").await;
    let tail = order_seed::customers(&app.state.db.pool, 300).await;
    let mut heavy_ids = vec![heavy];
    heavy_ids.extend(tail.iter().take(3));
    let took = order_seed::seed(
        &app.state.db.pool,
        matches!(backend, Backend::Postgres),
        ORDERS,
        &heavy_ids,
        &tail[3..],
    )
    .await;
    let heavy_count: i64 = sqlx::Row::get(
        &sqlx::query("SELECT COUNT(*) AS n FROM orders WHERE user_id = $1")
            .bind(heavy)
            .fetch_one(&app.state.db.pool)
            .await
            .unwrap(),
        "n",
    );
    println!(
        "  seeded in {:.1} s; the heavy customer has {heavy_count} orders",
        took.as_secs_f64()
    );
    let merchant = app.merchant().await;
    println!(" /admin/orders (50 a page)");
    for (label, query) in [
        ("no filter", ""),
        ("status=paid", "status=paid"),
        ("status=needs_review (rare)", "status=needs_review"),
        ("provider=alipay", "provider=alipay"),
        ("currency=JPY", "currency=JPY"),
        ("from/to (one month)", "from=2026-03-01&to=2026-03-31"),
        (
            "status+provider+currency",
            "status=paid&provider=sslcommerz&currency=BDT",
        ),
        ("search reference", "q=ORD-050000"),
        ("search product name", "q=mug"),
        ("search email (heavy)", "q=heavy%40example.com"),
        ("search email (guest)", "q=guest-123%40example.com"),
        ("search provider id", "q=cs_bench_77777"),
        ("page deep (before=2000)", "before=2000"),
        ("older than 50,000, paid", "status=paid&before=50000"),
    ] {
        measure(&merchant, label, &format!("/admin/orders?{query}")).await;
        plan(&app, query, Lister::Merchant).await;
    }
    println!(" /account/orders (heavy customer, 20 a page)");
    for (label, query) in [
        ("no filter", ""),
        ("status=failed", "status=failed"),
        ("provider=square", "provider=square"),
        ("from/to (one month)", "from=2026-03-01&to=2026-03-31"),
        ("search product name", "q=apron"),
        ("search reference", "q=ORD-050000"),
    ] {
        measure(&heavy_browser, label, &format!("/account/orders?{query}")).await;
        plan(&app, query, Lister::Customer(heavy)).await;
    }
    measure(
        &light_browser,
        "light customer, no filter",
        "/account/orders",
    )
    .await;
    csv(&merchant).await;
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "benchmark: run on demand with --ignored --nocapture"]
async fn sqlite() {
    run(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "benchmark: run on demand with --ignored --nocapture"]
async fn postgres() {
    run(Backend::Postgres).await;
}
