//! `POST /webhooks/{provider}` (design.md §4.3): a body over [`MAX_BODY`] is a 413; the cheap
//! offline signature check comes first, and a delivery that fails it is a 400 with only the first
//! [`KEPT_OF_REJECTED`] bytes stored (pruned after a week), or a 429 unread once its address has
//! sent too many. A signed delivery goes to the inbox whole, is verified fully (validation APIs),
//! applied (deduplicated, locked, compared, transitioned) and acknowledged the way the provider
//! expects. A failure on our side is a 5xx so the provider retries; an event we have no use for
//! is a 200.

use app::model::ProviderId;
use app::server::client_addr::ClientAddr;
use app::server::db::{admin_orders, orders};
use app::server::metrics::{self, WebhookOutcome};
use app::server::payments::WebhookError;
use app::server::services::{payment_updates, timeline};
use app::server::state::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use std::time::Instant;

/// The largest webhook body accepted (every provider's events are far smaller).
pub const MAX_BODY: usize = 256 * 1024;
/// How much of a delivery that fails its signature check is kept, for diagnosis.
const KEPT_OF_REJECTED: usize = 2048;

/// Headers kept with the raw body (credentials and cookies are never stored).
fn stored_headers(headers: &HeaderMap) -> String {
    let kept: serde_json::Map<String, serde_json::Value> = headers
        .iter()
        .filter(|(name, _)| !matches!(name.as_str(), "authorization" | "cookie"))
        .map(|(name, value)| {
            (
                name.as_str().to_string(),
                serde_json::Value::from(String::from_utf8_lossy(value.as_bytes()).into_owned()),
            )
        })
        .collect();
    serde_json::Value::Object(kept).to_string()
}

pub async fn receive(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    Path(provider): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(provider) = ProviderId::parse(&provider).and_then(|id| state.payments.get(id)) else {
        return (StatusCode::NOT_FOUND, "unknown provider").into_response();
    };
    let provider = provider.clone();
    let id = provider.id();
    // Counted once per delivery, whichever way it leaves.
    let outcome = |o: WebhookOutcome| metrics::webhook(id, o);
    let verifying = Instant::now();
    if let Err(e) = provider.check_signature(&headers, &body) {
        metrics::webhook_verification(id, verifying.elapsed());
        outcome(WebhookOutcome::Rejected);
        let reason = e.to_string();
        let limiter = &state.webhook_rejections;
        if limiter.exhausted(client) {
            return (
                StatusCode::TOO_MANY_REQUESTS,
                "too many unverified webhooks",
            )
                .into_response();
        }
        limiter.record_failure(client);
        tracing::warn!(provider = provider.id().as_str(), %reason, client = %client, "webhook refused");
        let stored = async {
            let mut conn = state.db.pool.acquire().await?;
            orders::insert_rejected_inbox(
                &mut conn,
                provider.id().as_str(),
                &stored_headers(&headers),
                &body,
                KEPT_OF_REJECTED,
                &format!("rejected: {reason}"),
                timeline::claimed_reference(&body).as_deref(),
            )
            .await
        };
        if let Err(e) = stored.await {
            tracing::error!(error = %e, "could not record a rejected webhook");
        }
        return (StatusCode::BAD_REQUEST, "webhook not verified").into_response();
    }
    // Where the offline check proves nothing (PayPal), an address whose deliveries keep failing
    // the full verification is refused before another is stored or sent to the verify API.
    if !provider.signature_checked_offline() && state.webhook_rejections.exhausted(client) {
        outcome(WebhookOutcome::Rejected);
        return (
            StatusCode::TOO_MANY_REQUESTS,
            "too many unverified webhooks",
        )
            .into_response();
    }
    // The attempt the body names, so the order's timeline lists this delivery whatever becomes
    // of it; replaced by the verified statement's attempt below if that differs.
    let claimed = timeline::claimed_reference(&body);
    let inbox_id = {
        let stored = async {
            let mut conn = state.db.pool.acquire().await?;
            orders::insert_inbox(
                &mut conn,
                provider.id().as_str(),
                &stored_headers(&headers),
                &body,
                claimed.as_deref(),
            )
            .await
        };
        match stored.await {
            Ok(id) => id,
            Err(e) => {
                tracing::error!(error = %e, "webhook inbox write failed");
                outcome(WebhookOutcome::Error);
                return (StatusCode::SERVICE_UNAVAILABLE, "try again").into_response();
            }
        }
    };
    let finish = |event_id: Option<String>, outcome: String| {
        let db = state.db.clone();
        async move {
            let done = async {
                let mut conn = db.pool.acquire().await?;
                orders::finish_inbox(&mut conn, inbox_id, event_id.as_deref(), &outcome).await
            };
            if let Err(e) = done.await {
                tracing::error!(error = %e, inbox_id, "could not record the webhook's outcome");
            }
        }
    };
    let verified = provider.verify_webhook(&headers, &body).await;
    metrics::webhook_verification(id, verifying.elapsed());
    let update = match verified {
        Ok(Some(update)) => update,
        Ok(None) => {
            outcome(WebhookOutcome::Ignored);
            finish(None, "ignored".into()).await;
            return (StatusCode::OK, provider.acknowledgement()).into_response();
        }
        Err(WebhookError::NotVerified(reason)) => {
            outcome(WebhookOutcome::Rejected);
            state.webhook_rejections.record_failure(client);
            tracing::warn!(provider = provider.id().as_str(), %reason, "webhook refused");
            finish(None, format!("rejected: {reason}")).await;
            return (StatusCode::BAD_REQUEST, "webhook not verified").into_response();
        }
        Err(WebhookError::Unconfirmed(reason)) => {
            outcome(WebhookOutcome::Error);
            tracing::warn!(provider = provider.id().as_str(), %reason, "webhook could not be confirmed yet");
            return (StatusCode::SERVICE_UNAVAILABLE, "could not confirm; retry").into_response();
        }
    };
    if claimed.as_deref() != Some(update.attempt_reference.as_str()) {
        let linked = async {
            let mut conn = state.db.pool.acquire().await?;
            admin_orders::link_inbox(&mut conn, inbox_id, &update.attempt_reference).await
        };
        if let Err(e) = linked.await {
            tracing::warn!(error = %e, inbox_id, "could not link a webhook to its attempt");
        }
    }
    match payment_updates::apply_from_inbox(&state.db, &state.events, &update, Some(inbox_id)).await
    {
        Ok(applied) => {
            outcome(match applied {
                payment_updates::Applied::Duplicate => WebhookOutcome::Duplicate,
                payment_updates::Applied::UnknownAttempt
                | payment_updates::Applied::ForeignSession => WebhookOutcome::Ignored,
                payment_updates::Applied::Recorded { .. } => WebhookOutcome::Applied,
            });
            if let (payment_updates::Applied::Recorded { .. }, Some(at)) =
                (&applied, provider.event_time_ms(&body))
            {
                metrics::webhook_lag(id, at, app::server::db::now_ms());
            }
            if !matches!(applied, payment_updates::Applied::Recorded { .. }) {
                finish(Some(update.event_id.clone()), applied.describe()).await;
            }
            (StatusCode::OK, provider.acknowledgement()).into_response()
        }
        Err(e) => {
            outcome(WebhookOutcome::Error);
            tracing::error!(error = %e, event = %update.event_id, "webhook could not be applied");
            (StatusCode::INTERNAL_SERVER_ERROR, "try again").into_response()
        }
    }
}
