//! `GET /healthz` (liveness) and `GET /readyz` (readiness), for load balancers and monitors.
//!
//! `/healthz` is 200 when the database answers and 503 otherwise, and reports when the
//! background workers (reconciler, outbox) last finished a pass, so a monitor can alert on a
//! worker that stopped while the web side looks fine.
//!
//! `/readyz` says whether this instance should get traffic: 503 until it serves (it is only
//! built after the migrations ran, and marked ready when it starts serving), again from the
//! moment it is asked to stop (SIGTERM; it keeps serving for `SHUTDOWN_DELAY_SECONDS` so a load
//! balancer takes it out before it refuses connections), and whenever the database does not
//! answer within 2 s; 200 otherwise.

use app::server::background::Worker;
use app::server::db::now_ms;
use app::server::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Set once the instance serves; shared by the router and the [`crate::startup::Application`].
#[derive(Debug, Clone, Default)]
pub struct Readiness(Arc<AtomicBool>);

impl Readiness {
    pub fn set(&self, ready: bool) {
        self.0.store(ready, Ordering::Relaxed);
    }

    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// A database that does not answer within this long counts as unreachable: a check must answer
/// before the balancer's own timeout, not wait for the pool's.
const PING_LIMIT: std::time::Duration = std::time::Duration::from_secs(2);

async fn ping(state: &AppState) -> Result<(), String> {
    match tokio::time::timeout(PING_LIMIT, state.db.ping()).await {
        Ok(result) => result.map_err(|e| e.to_string()),
        Err(_) => Err(format!("no answer within {PING_LIMIT:?}")),
    }
}

pub async fn healthz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let workers = json!({
        "reconciler": last_run(state.background.last_run(Worker::Reconciler)),
        "outbox": last_run(state.background.last_run(Worker::Outbox)),
    });
    match ping(&state).await {
        Ok(()) => (
            StatusCode::OK,
            Json(json!({"status": "ok", "database": "ok", "workers": workers})),
        ),
        Err(e) => {
            tracing::error!(error = %e, "health check: database unreachable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"status": "unavailable", "database": "error", "workers": workers})),
            )
        }
    }
}

/// `{"last_run": RFC 3339, "last_run_ms": Unix ms, "seconds_ago": n}`, all null before the
/// worker's first pass on this instance.
fn last_run(at_ms: Option<i64>) -> Value {
    let Some(at) = at_ms else {
        return json!({"last_run": null, "last_run_ms": null, "seconds_ago": null});
    };
    let text = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(at) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        });
    json!({
        "last_run": text,
        "last_run_ms": at,
        "seconds_ago": (now_ms() - at).max(0) / 1000,
    })
}

pub async fn readyz(
    State(state): State<AppState>,
    Extension(readiness): Extension<Readiness>,
) -> (StatusCode, Json<Value>) {
    let refuse = |reason: &str| {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "not ready", "reason": reason})),
        )
    };
    if state.background.is_stop_requested() {
        return refuse("stopping");
    }
    if !readiness.is_set() {
        return refuse("starting");
    }
    if let Err(e) = ping(&state).await {
        tracing::warn!(error = %e, "readiness: database unreachable");
        return refuse("database unreachable");
    }
    (StatusCode::OK, Json(json!({"status": "ready"})))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_runs_are_null_or_dated() {
        assert_eq!(last_run(None)["last_run"], Value::Null);
        let v = last_run(Some(1_700_000_000_000));
        assert_eq!(v["last_run"], "2023-11-14T22:13:20Z");
        assert_eq!(v["last_run_ms"], 1_700_000_000_000_i64);
        assert!(v["seconds_ago"].as_i64().unwrap() > 0);
    }
}
