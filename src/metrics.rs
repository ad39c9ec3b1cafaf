//! `GET /metrics`: Prometheus text, for a scraper with `Authorization: Bearer {METRICS_TOKEN}` or a
//! logged-in merchant. Anyone else gets the same 404 as any unknown path (a wrong token too), so
//! the endpoint does not tell a stranger it exists.
//!
//! Counters and histograms are recorded through the `metrics` facade wherever things happen (HTTP
//! requests here, payments and webhooks in `app::server::metrics`, emails in the outbox worker).
//! The recorder is process-global, so it is installed once ([`handle`]) and every application in
//! the process renders from it; gauges that describe the database (backlogs, pool use) are set
//! from this instance's own state at each scrape instead, so they are never stale.

use app::server::auth::ShopSession;
use app::server::db::now_ms;
use app::server::services::order_search::is_merchant;
use app::server::state::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics::{Counter, Histogram};
use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder, PrometheusHandle};
use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};
use std::time::{Duration, Instant};
use tower_sessions::Session;

pub const HTTP_REQUESTS: &str = "storefront_http_requests_total";
pub const HTTP_DURATION: &str = "storefront_http_request_duration_seconds";
pub const BUILD_INFO: &str = "storefront_build_info";
pub const RECONCILER_BACKLOG: &str = "storefront_reconciler_backlog";
pub const OUTBOX_BACKLOG: &str = "storefront_outbox_backlog";
pub const OUTBOX_DEAD: &str = "storefront_outbox_dead";
pub const SSE_LISTENERS: &str = "storefront_sse_listeners";
pub const DB_POOL_CONNECTIONS: &str = "storefront_db_pool_connections";
pub const DB_POOL_IDLE: &str = "storefront_db_pool_idle";

/// Page and API latencies: from a cached page (a few ms) to a provider call that times out (20 s).
const HTTP_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0,
];
/// Signature checks take microseconds; validation APIs (PayPal, SSLCOMMERZ) up to seconds.
const VERIFICATION_BUCKETS: &[f64] = &[0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 2.5, 5.0];
/// Providers deliver in seconds normally and retry for hours when we were down.
const LAG_BUCKETS: &[f64] = &[
    0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 21600.0, 86400.0,
];
/// How often histograms are folded in while nobody scrapes, so memory stays bounded.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// The process's Prometheus recorder, installed on first use. A second application in the same
/// process (the tests start many) shares it, so counters there are compared before and after.
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        // Only an empty bucket list is refused, and these are constants.
        let builder = builder().unwrap_or_else(|e| {
            tracing::warn!(error = %e, "histogram buckets refused; rendering summaries");
            PrometheusBuilder::new()
        });
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("another metrics recorder is installed; /metrics will be empty");
        }
        describe();
        metrics::gauge!(BUILD_INFO, "version" => env!("CARGO_PKG_VERSION")).set(1.0);
        let upkeep = handle.clone();
        // A thread, not a task: it must outlive whichever runtime happened to install it.
        let spawned = std::thread::Builder::new()
            .name("metrics-upkeep".into())
            .spawn(move || loop {
                std::thread::sleep(UPKEEP_EVERY);
                upkeep.run_upkeep();
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "no metrics upkeep thread; histograms fold in at scrapes");
        }
        handle
    })
}

/// The recorder's settings: explicit buckets for every histogram (without them the exporter
/// would render summaries, which cannot be aggregated across instances).
fn builder() -> Result<PrometheusBuilder, BuildError> {
    use app::server::metrics::{WEBHOOK_LAG, WEBHOOK_VERIFICATION};
    PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full(HTTP_DURATION.into()), HTTP_BUCKETS)?
        .set_buckets_for_metric(
            Matcher::Full(WEBHOOK_VERIFICATION.into()),
            VERIFICATION_BUCKETS,
        )?
        .set_buckets_for_metric(Matcher::Full(WEBHOOK_LAG.into()), LAG_BUCKETS)
}

/// `# HELP` lines, so a person reading the scrape knows what each series is.
fn describe() {
    use app::server::metrics as pay;
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_counter!(
        HTTP_REQUESTS,
        "HTTP requests by route pattern, method and status"
    );
    describe_histogram!(
        HTTP_DURATION,
        Unit::Seconds,
        "HTTP request latency (until the response head) by route pattern and method"
    );
    describe_gauge!(
        BUILD_INFO,
        "Always 1; the version label says which build runs"
    );
    describe_gauge!(
        RECONCILER_BACKLOG,
        "Payment attempts whose status lookup at the provider is due now"
    );
    describe_gauge!(
        OUTBOX_BACKLOG,
        "Outbox rows (emails) not yet sent and not dead"
    );
    describe_gauge!(
        OUTBOX_DEAD,
        "Outbox rows that gave up after their last retry"
    );
    describe_gauge!(
        SSE_LISTENERS,
        "Live status streams (Server-Sent Events) open on this instance"
    );
    describe_gauge!(
        DB_POOL_CONNECTIONS,
        "Open database connections of this instance's pool"
    );
    describe_gauge!(
        DB_POOL_IDLE,
        "Idle database connections of this instance's pool"
    );
    describe_counter!(
        pay::PAYMENTS_STARTED,
        "Payments a provider accepted the start of, by provider"
    );
    describe_counter!(
        pay::PAYMENTS_FINISHED,
        "Orders a provider's statement moved to a payment outcome, by provider and status"
    );
    describe_counter!(
        pay::WEBHOOKS,
        "Webhook deliveries by provider and outcome (applied, duplicate, rejected, ignored, error)"
    );
    describe_histogram!(
        pay::WEBHOOK_VERIFICATION,
        Unit::Seconds,
        "Time to verify a webhook (signature, and the provider's validation API where it has one)"
    );
    describe_histogram!(
        pay::WEBHOOK_LAG,
        Unit::Seconds,
        "From the provider's event time to applied here (Stripe, PayPal, Square, Authorize.Net)"
    );
}

/// Count and time every request by its route pattern (`/orders/{reference}`), never the raw
/// path, which would make a series per order; a request no route matched is `other`.
pub async fn track_http(
    State(handles): State<Arc<RequestMetrics>>,
    request: Request,
    next: Next,
) -> Response {
    let matched = request.extensions().get::<MatchedPath>().cloned();
    let method = method_label(request.method());
    let started = Instant::now();
    let response = next.run(request).await;
    let route = RouteLabel(matched.as_ref()).as_str();
    let (count, time) = handles.for_request(route, method, response.status().as_u16());
    count.increment(1);
    time.record(started.elapsed().as_secs_f64());
    response
}

/// The request counters and timers, looked up in the recorder once per route, method and status
/// and kept: the recorder's own lookup builds and hashes the labels on every call. Routes are
/// patterns (or `other`), so this stays small.
#[derive(Default)]
pub struct RequestMetrics {
    routes: RwLock<HashMap<String, RouteMetrics>>,
}

/// One route's counter and timer by method and status.
type RouteMetrics = HashMap<(&'static str, u16), (Counter, Histogram)>;

impl RequestMetrics {
    fn for_request(&self, route: &str, method: &'static str, status: u16) -> (Counter, Histogram) {
        let routes = self.routes.read().unwrap_or_else(|e| e.into_inner());
        if let Some(kept) = routes.get(route).and_then(|r| r.get(&(method, status))) {
            return kept.clone();
        }
        drop(routes);
        let made = (
            metrics::counter!(HTTP_REQUESTS, "route" => route.to_string(), "method" => method, "status" => status.to_string()),
            metrics::histogram!(HTTP_DURATION, "route" => route.to_string(), "method" => method),
        );
        let mut routes = self.routes.write().unwrap_or_else(|e| e.into_inner());
        let route = routes.entry(route.to_string()).or_default();
        route.insert((method, status), made.clone());
        made
    }
}

/// The matched route pattern, or `other`, as a label (shown without a copy).
pub struct RouteLabel<'a>(pub Option<&'a MatchedPath>);

impl<'a> RouteLabel<'a> {
    pub fn as_str(&self) -> &'a str {
        self.0.map_or("other", MatchedPath::as_str)
    }
}

impl std::fmt::Display for RouteLabel<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The standard methods by name; anything a client invents is `other`.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::HEAD => "HEAD",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// `GET /metrics`.
pub async fn scrape(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
) -> Response {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let allowed = state.settings.operations.metrics_bearer_ok(bearer) || {
        let user = ShopSession(session).user_id().await.ok().flatten();
        is_merchant(&state.db, user).await.unwrap_or(false)
    };
    if !allowed {
        return StatusCode::NOT_FOUND.into_response();
    }
    let handle = handle();
    set_scrape_gauges(&state).await;
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        handle.render(),
    )
        .into_response()
}

/// The gauges read from this instance's state and database at scrape time. A count the database
/// cannot give now is left at its last value and the failure logged (the scrape still answers).
async fn set_scrape_gauges(state: &AppState) {
    metrics::gauge!(SSE_LISTENERS).set(state.events.listeners() as f64);
    let pool = &state.db.pool;
    metrics::gauge!(DB_POOL_CONNECTIONS).set(f64::from(pool.size()));
    metrics::gauge!(DB_POOL_IDLE).set(pool.num_idle() as f64);
    let due = sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM payment_attempts \
         WHERE state IN ('open', 'cancelling', 'error', 'starting') AND next_lookup_at <= $1",
    )
    .bind(now_ms())
    .fetch_one(pool)
    .await;
    set_count(RECONCILER_BACKLOG, due);
    let waiting = sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL AND dead_at IS NULL",
    )
    .fetch_one(pool)
    .await;
    set_count(OUTBOX_BACKLOG, waiting);
    let dead =
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM outbox WHERE dead_at IS NOT NULL")
            .fetch_one(pool)
            .await;
    set_count(OUTBOX_DEAD, dead);
}

fn set_count(name: &'static str, count: Result<i64, sqlx::Error>) {
    match count {
        Ok(n) => metrics::gauge!(name).set(n as f64),
        Err(e) => tracing::warn!(metric = name, error = %e, "metrics: count failed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_stay_bounded() {
        assert_eq!(RouteLabel(None).as_str(), "other");
        assert_eq!(method_label(&Method::GET), "GET");
        let invented = Method::from_bytes(b"BREW").unwrap();
        assert_eq!(method_label(&invented), "other");
    }
}
