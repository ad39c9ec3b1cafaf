//! The intake of a provider's webhook, IPN or notify delivery (`POST /webhooks/{provider}`; a body
//! over [`MAX_BODY`] is refused by the route with a 413). The cheap offline signature check comes
//! first, and a delivery that fails it is a 400 with only the first
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

use crate::model::ProviderId;
use crate::server::db::inbox;
use crate::server::db::{admin_orders, Db};
use crate::server::metrics::{self, WebhookOutcome};
use crate::server::payments::rejections::RejectionLimiter;
use crate::server::payments::WebhookError;
use crate::server::services::{payment_updates, timeline};
use crate::server::state::AppState;
use axum::http::HeaderMap;
use std::net::IpAddr;
use std::time::Instant;

/// How a delivery is answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// 404: no such provider is configured.
    UnknownProvider,
    /// 400: its signature or verification failed.
    NotVerified,
    /// 429 (retry after a minute): its sender's budget of unverified deliveries is spent.
    TooMany,
    /// 200 with the provider's acknowledgement: stored, and applied or of no use to the shop.
    Acknowledged(&'static str),
    /// 503: not stored, or not confirmed yet (the provider did not answer); the provider retries.
    TryAgain(&'static str),
    /// 500: stored, but applying it failed; the provider retries.
    Failed,
}

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

/// Take one delivery for `provider` (as named in its URL) from `client`.
pub async fn receive(
    state: &AppState,
    provider: &str,
    client: IpAddr,
    headers: &HeaderMap,
    body: &[u8],
) -> Answer {
    let Some(provider) = ProviderId::parse(provider).and_then(|id| state.payments.get(id)) else {
        return Answer::UnknownProvider;
    };
    let provider = provider.clone();
    let id = provider.id();
    // Counted once per delivery, whichever way it leaves.
    let outcome = |o: WebhookOutcome| metrics::webhook(id, o);
    let verifying = Instant::now();
    let limiter = &state.webhook_rejections;
    if let Err(e) = provider.check_signature(headers, body) {
        metrics::webhook_verification(id, verifying.elapsed());
        outcome(WebhookOutcome::Rejected);
        // Counted before anything is stored, so concurrent forgeries cannot all slip in.
        if !limiter.charge(client) {
            return Answer::TooMany;
        }
        let reason = e.to_string();
        tracing::warn!(provider = provider.id().as_str(), %reason, client = %client, "webhook refused");
        let stored = state.db.committed(async |conn| {
            inbox::insert_rejected_inbox(
                conn,
                provider.id().as_str(),
                &stored_headers(headers),
                body,
                KEPT_OF_UNVERIFIED,
                &format!("rejected: {reason}"),
                timeline::claimed_reference(body).as_deref(),
            )
            .await
        });
        if let Err(e) = stored.await {
            tracing::error!(error = %e, "could not record a rejected webhook");
        }
        return Answer::NotVerified;
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
            return Answer::TooMany;
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
        timeline::claimed_reference(body)
    };
    let kept_headers = stored_headers(headers);
    let received = inbox::NewInbox {
        provider: id.as_str(),
        headers: &kept_headers,
        body,
        attempt_reference: claimed.as_deref(),
        received_at: crate::server::db::now_ms(),
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
            body
        };
        let unverified = inbox::NewInbox {
            body: kept,
            ..received
        };
        let stored = state
            .db
            .committed(async |conn| inbox::insert_inbox(conn, &unverified).await);
        match stored.await {
            Ok(id) => Some(id),
            Err(e) => {
                tracing::error!(error = %e, "webhook inbox write failed");
                outcome(WebhookOutcome::Error);
                return Answer::TryAgain("try again");
            }
        }
    };
    let verified = provider.verify_webhook(headers, body).await;
    metrics::webhook_verification(id, verifying.elapsed());
    let update = match verified {
        Ok(Some(update)) => update,
        Ok(None) => {
            outcome(WebhookOutcome::Ignored);
            if let Some(inbox_id) = inbox_id.filter(|_| charged) {
                // Verified, of no use to the shop: its whole body is kept all the same.
                let kept = state.db.committed(async |conn| {
                    admin_orders::verified_inbox(conn, inbox_id, body, None).await
                });
                if let Err(e) = kept.await {
                    tracing::warn!(error = %e, inbox_id, "could not keep an ignored webhook's body");
                }
            }
            record(&state.db, inbox_id, &received, None, Some("ignored")).await;
            return Answer::Acknowledged(provider.acknowledgement());
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
            return Answer::NotVerified;
        }
        Err(WebhookError::Unconfirmed(reason)) => {
            // Not the sender's fault (the provider did not answer): no charge.
            outcome(WebhookOutcome::Error);
            tracing::warn!(provider = provider.id().as_str(), %reason, "webhook could not be confirmed yet");
            if inbox_id.is_none() {
                record(&state.db, None, &received, None, None).await;
            }
            return Answer::TryAgain("could not confirm; retry");
        }
    };
    if let Some(inbox_id) = inbox_id {
        // Verified: its whole body is kept now, listed under the attempt it is about.
        let about = Some(update.attempt_reference.as_str());
        let kept = state.db.committed(async |conn| {
            admin_orders::verified_inbox(conn, inbox_id, body, about).await
        });
        if let Err(e) = kept.await {
            tracing::error!(error = %e, inbox_id, "could not keep a verified webhook");
            outcome(WebhookOutcome::Error);
            return Answer::TryAgain("try again");
        }
    }
    // Listed under the attempt the verified statement is about.
    let received = inbox::NewInbox {
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
                (&applied, provider.event_time_ms(body))
            {
                metrics::webhook_lag(id, at, crate::server::db::now_ms());
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
            Answer::Acknowledged(provider.acknowledgement())
        }
        Err(e) => {
            outcome(WebhookOutcome::Error);
            tracing::error!(error = %e, event = %update.event_id, "webhook could not be applied");
            if inbox_id.is_none() {
                record(&state.db, None, &received, None, None).await;
            }
            Answer::Failed
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

/// Close a delivery's inbox row (`row`) with its outcome, storing it first if it is not stored yet.
/// Without an outcome, a delivery not stored yet is stored open, as one whose handling failed.
async fn record(
    db: &Db,
    row: Option<i64>,
    received: &inbox::NewInbox<'_>,
    event_id: Option<&str>,
    outcome: Option<&str>,
) {
    let done = db.committed(async |conn| match (row, outcome) {
        (Some(row), Some(outcome)) => inbox::finish_inbox(conn, row, event_id, outcome).await,
        (Some(_), None) => Ok(()),
        (None, Some(outcome)) => {
            inbox::insert_closed_inbox(conn, received, event_id, outcome).await
        }
        (None, None) => inbox::insert_inbox(conn, received).await.map(|_| ()),
    });
    if let Err(e) = done.await {
        tracing::error!(error = %e, inbox_id = ?row, "could not record the webhook's outcome");
    }
}
