//! `POST /webhooks/{provider}`: a body over [`MAX_BODY`] is a 413; the cheap offline signature
//! check comes first, and a delivery that fails it is a 400 with only the first
//! [`KEPT_OF_UNVERIFIED`] bytes and an allow-list of headers stored (pruned after a week), or a 429
//! unread once its address has sent too many. A delivery whose verification calls the provider's
//! API (PayPal) is charged to its sender before it is stored, and only a prefix of its body is kept
//! until it is verified. A signed delivery is kept whole in the inbox, verified fully (validation APIs),
//! applied (deduplicated, locked, compared, transitioned) and acknowledged the way the provider
//! expects. Where verification calls the provider's API the delivery is stored first; where it
//! needs nothing but the delivery (Stripe, Alipay, Braintree) the delivery is stored by the same
//! commit that applies it, one commit instead of two. Either way nothing is acknowledged before it
//! is stored. A failure on our side is a 5xx so the provider retries; an event we have no use for
//! is a 200.

use app::model::ProviderId;
use app::server::client_addr::ClientAddr;
use app::server::db::{admin_orders, orders, Db};
use app::server::metrics::{self, WebhookOutcome};
use app::server::payments::rejections::RejectionLimiter;
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
/// How much of a delivery that is not verified is kept: of one that fails its signature check, for
/// diagnosis; of one stored before its verification (PayPal's), until it is verified.
pub const KEPT_OF_UNVERIFIED: usize = 512;
/// The headers kept with a delivery (what tells who sent it and how it was signed); anything else,
/// credentials and cookies included, is never stored.
const KEPT_HEADERS: &[&str] = &[
    "content-type",
    "content-length",
    "user-agent",
    "stripe-signature",
    "paypal-transmission-id",
    "paypal-transmission-time",
    "paypal-transmission-sig",
    "paypal-cert-url",
    "paypal-auth-algo",
    "paypal-auth-version",
    "x-square-hmacsha256-signature",
    "square-version",
    "x-anet-signature",
    "x-request-id",
];
/// Each kept header's value is cut to this many bytes (a PayPal signature is 344).
pub const KEPT_OF_HEADER: usize = 512;

/// The kept headers (see [`KEPT_HEADERS`]), each cut short, as a JSON object.
fn stored_headers(headers: &HeaderMap) -> String {
    let kept: serde_json::Map<String, serde_json::Value> = KEPT_HEADERS
        .iter()
        .filter_map(|name| {
            let value = headers.get(*name)?.as_bytes();
            let cut = &value[..value.len().min(KEPT_OF_HEADER)];
            Some((
                name.to_string(),
                serde_json::Value::from(String::from_utf8_lossy(cut).into_owned()),
            ))
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
    let limiter = &state.webhook_rejections;
    if let Err(e) = provider.check_signature(&headers, &body) {
        metrics::webhook_verification(id, verifying.elapsed());
        outcome(WebhookOutcome::Rejected);
        // Counted before anything is stored, so concurrent forgeries cannot all slip in.
        if !limiter.charge(client) {
            return too_many();
        }
        let reason = e.to_string();
        tracing::warn!(provider = provider.id().as_str(), %reason, client = %client, "webhook refused");
        let stored = state.db.committed(async |conn| {
            orders::insert_rejected_inbox(
                conn,
                provider.id().as_str(),
                &stored_headers(&headers),
                &body,
                KEPT_OF_UNVERIFIED,
                &format!("rejected: {reason}"),
                timeline::claimed_reference(&body).as_deref(),
            )
            .await
        });
        if let Err(e) = stored.await {
            tracing::error!(error = %e, "could not record a rejected webhook");
        }
        return (StatusCode::BAD_REQUEST, "webhook not verified").into_response();
    }
    // Where the offline check proves nothing (PayPal), the delivery is charged to its sender before
    // it is stored or sent to the verify API, and the charge given back once it is verified: an
    // address that keeps sending forgeries costs the verify API at most the budget's calls.
    let charged = !provider.signature_checked_offline();
    // Given back when this handler ends, however it ends (a provider that gives up waiting drops
    // the request), unless the delivery turned out forged.
    let mut charge = None;
    if charged {
        if !limiter.charge(client) {
            outcome(WebhookOutcome::Rejected);
            return too_many();
        }
        charge = Some(Charge {
            limiter,
            client,
            forged: false,
        });
    }
    // The attempt the body names, so the order's timeline lists this delivery whatever becomes
    // of it; replaced by the verified statement's attempt below if that differs. Only where the
    // signature was checked: an unverified delivery is listed under no order.
    let claimed = if charged {
        None
    } else {
        timeline::claimed_reference(&body)
    };
    let kept_headers = stored_headers(&headers);
    let received = orders::NewInbox {
        provider: id.as_str(),
        headers: &kept_headers,
        body: &body,
        attempt_reference: claimed.as_deref(),
        received_at: app::server::db::now_ms(),
    };
    // A delivery whose verification calls the provider is stored first (where its signature
    // proved nothing, only a prefix of its body until it is verified); one verified offline is
    // stored by the commit that applies it (or records why not), and acknowledged after it.
    let inbox_id = if provider.verifies_offline() {
        None
    } else {
        let kept = if charged {
            &body[..body.len().min(KEPT_OF_UNVERIFIED)]
        } else {
            &body[..]
        };
        let unverified = orders::NewInbox {
            body: kept,
            ..received
        };
        let stored = state
            .db
            .committed(async |conn| orders::insert_inbox(conn, &unverified).await);
        match stored.await {
            Ok(id) => Some(id),
            Err(e) => {
                tracing::error!(error = %e, "webhook inbox write failed");
                outcome(WebhookOutcome::Error);
                return (StatusCode::SERVICE_UNAVAILABLE, "try again").into_response();
            }
        }
    };
    let verified = provider.verify_webhook(&headers, &body).await;
    metrics::webhook_verification(id, verifying.elapsed());
    let update = match verified {
        Ok(Some(update)) => update,
        Ok(None) => {
            outcome(WebhookOutcome::Ignored);
            if let Some(inbox_id) = inbox_id.filter(|_| charged) {
                // Verified, of no use to the shop: its whole body is kept all the same.
                let kept = state.db.committed(async |conn| {
                    admin_orders::verified_inbox(conn, inbox_id, &body, None).await
                });
                if let Err(e) = kept.await {
                    tracing::warn!(error = %e, inbox_id, "could not keep an ignored webhook's body");
                }
            }
            record(&state.db, inbox_id, &received, None, Some("ignored")).await;
            return (StatusCode::OK, provider.acknowledgement()).into_response();
        }
        Err(WebhookError::NotVerified(reason)) => {
            // The charge stays: this was a failed delivery.
            if let Some(charge) = charge.as_mut() {
                charge.forged = true;
            }
            outcome(WebhookOutcome::Rejected);
            tracing::warn!(provider = provider.id().as_str(), %reason, "webhook refused");
            let outcome = format!("rejected: {reason}");
            record(&state.db, inbox_id, &received, None, Some(&outcome)).await;
            return (StatusCode::BAD_REQUEST, "webhook not verified").into_response();
        }
        Err(WebhookError::Unconfirmed(reason)) => {
            // Not the sender's fault (the provider did not answer): no charge.
            outcome(WebhookOutcome::Error);
            tracing::warn!(provider = provider.id().as_str(), %reason, "webhook could not be confirmed yet");
            if inbox_id.is_none() {
                record(&state.db, None, &received, None, None).await;
            }
            return (StatusCode::SERVICE_UNAVAILABLE, "could not confirm; retry").into_response();
        }
    };
    if let Some(inbox_id) = inbox_id {
        // Verified: its whole body is kept now, listed under the attempt it is about.
        let about = Some(update.attempt_reference.as_str());
        let kept = state.db.committed(async |conn| {
            admin_orders::verified_inbox(conn, inbox_id, &body, about).await
        });
        if let Err(e) = kept.await {
            tracing::error!(error = %e, inbox_id, "could not keep a verified webhook");
            outcome(WebhookOutcome::Error);
            return (StatusCode::SERVICE_UNAVAILABLE, "try again").into_response();
        }
    }
    // Listed under the attempt the verified statement is about.
    let received = orders::NewInbox {
        attempt_reference: Some(&update.attempt_reference),
        ..received
    };
    let inbox = match inbox_id {
        Some(id) => payment_updates::Inbox::Stored(id),
        None => payment_updates::Inbox::Received(received),
    };
    match payment_updates::apply_from_inbox(&state.db, &state.events, &update, Some(inbox)).await {
        Ok(applied) => {
            outcome(match applied {
                payment_updates::Applied::Duplicate => WebhookOutcome::Duplicate,
                payment_updates::Applied::UnknownAttempt
                | payment_updates::Applied::ForeignSession
                | payment_updates::Applied::ForeignPayment
                | payment_updates::Applied::PaymentInFlight => WebhookOutcome::Ignored,
                payment_updates::Applied::Recorded { .. } => WebhookOutcome::Applied,
            });
            if let (payment_updates::Applied::Recorded { .. }, Some(at)) =
                (&applied, provider.event_time_ms(&body))
            {
                metrics::webhook_lag(id, at, app::server::db::now_ms());
            }
            if !matches!(applied, payment_updates::Applied::Recorded { .. }) {
                let outcome = applied.describe();
                record(
                    &state.db,
                    inbox_id,
                    &received,
                    Some(&update.event_id),
                    Some(&outcome),
                )
                .await;
            }
            (StatusCode::OK, provider.acknowledgement()).into_response()
        }
        Err(e) => {
            outcome(WebhookOutcome::Error);
            tracing::error!(error = %e, event = %update.event_id, "webhook could not be applied");
            if inbox_id.is_none() {
                record(&state.db, None, &received, None, None).await;
            }
            (StatusCode::INTERNAL_SERVER_ERROR, "try again").into_response()
        }
    }
}

/// A delivery's charge against its sender's budget ([`RejectionLimiter`]), given back on drop unless
/// the delivery turned out forged.
struct Charge<'a> {
    limiter: &'a RejectionLimiter,
    client: std::net::IpAddr,
    forged: bool,
}

impl Drop for Charge<'_> {
    fn drop(&mut self) {
        if !self.forged {
            self.limiter.refund(self.client);
        }
    }
}

fn too_many() -> Response {
    (
        StatusCode::TOO_MANY_REQUESTS,
        [(axum::http::header::RETRY_AFTER, "60")],
        "too many unverified webhooks",
    )
        .into_response()
}

/// Close a delivery's inbox row (`row`) with its outcome, storing it first if it is not stored yet.
/// Without an outcome, a delivery not stored yet is stored open, as one whose handling failed.
async fn record(
    db: &Db,
    row: Option<i64>,
    received: &orders::NewInbox<'_>,
    event_id: Option<&str>,
    outcome: Option<&str>,
) {
    let done = db.committed(async |conn| match (row, outcome) {
        (Some(row), Some(outcome)) => orders::finish_inbox(conn, row, event_id, outcome).await,
        (Some(_), None) => Ok(()),
        (None, Some(outcome)) => {
            orders::insert_closed_inbox(conn, received, event_id, outcome).await
        }
        (None, None) => orders::insert_inbox(conn, received).await.map(|_| ()),
    });
    if let Err(e) = done.await {
        tracing::error!(error = %e, inbox_id = ?row, "could not record the webhook's outcome");
    }
}
