//! Stripe Checkout Sessions (docs/payments.md#stripe): create with `Idempotency-Key`, retrieve for
//! lookups, expire on cancel, and `Stripe-Signature`-verified webhooks.

pub mod config;
pub mod signature;
mod wire;

use super::http::{self, Reply};
use super::kernel::Registration;
use super::{
    now_secs, AttemptRef, Capabilities, NextStep, Outcome, PaymentError, PaymentProvider,
    PaymentUpdate, RefundOutcome, RefundReport, RefundRequest, RefundState, Source, StartRequest,
    Started, WebhookError,
};
use crate::model::{Currency, ProviderId};
use crate::server::payments::kernel::sandbox_keys;
use axum::http::HeaderMap;
use secrecy::{ExposeSecret, SecretString};
use wire::{ApiError, Event, Refund, Session};

pub const REGISTRATION: Registration = Registration {
    id: ProviderId::Stripe,
    configure: config::configure,
    published_keys: &[
        ("STRIPE_SECRET_KEY", sandbox_keys::STRIPE_SECRET_KEY),
        ("STRIPE_WEBHOOK_SECRET", sandbox_keys::STRIPE_WEBHOOK_SECRET),
    ],
};

/// The API version the wire types follow (what the current SDKs send).
pub const API_VERSION: &str = "2026-10-28.endive";

/// Stripe takes any amount its currencies allow; these bounds only keep totals sane.
static CAPABILITIES: Capabilities = Capabilities {
    currencies: &[
        (Currency::Usd, 50, 99_999_999),
        (Currency::Eur, 50, 99_999_999),
        (Currency::Cny, 400, 99_999_999),
        (Currency::Jpy, 50, 99_999_999),
    ],
    // `POST /v1/refunds` on the session's payment intent, as many times as the amount allows.
    refunds: true,
    partial_refunds: true,
    // `Idempotency-Key` on every POST: Stripe replays the first answer.
    idempotent_refunds: true,
    closes_sessions: true,
};

pub struct Stripe {
    http: reqwest::Client,
    base: String,
    secret_key: SecretString,
    webhook_secret: SecretString,
}

/// A Checkout Session's `status`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum SessionStatus {
    Open,
    Complete,
    Expired,
    Other(String),
}

/// A Checkout Session's `payment_status`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum PaymentStatus {
    Paid,
    Unpaid,
    NoPaymentRequired,
    Other(String),
}

impl SessionStatus {
    fn of(session: &Session) -> SessionStatus {
        match session.status.as_deref() {
            Some("open") => SessionStatus::Open,
            Some("complete") => SessionStatus::Complete,
            Some("expired") => SessionStatus::Expired,
            other => SessionStatus::Other(other.unwrap_or("(none)").to_string()),
        }
    }
}

impl PaymentStatus {
    fn of(session: &Session) -> PaymentStatus {
        match session.payment_status.as_deref() {
            Some("paid") => PaymentStatus::Paid,
            Some("unpaid") => PaymentStatus::Unpaid,
            Some("no_payment_required") => PaymentStatus::NoPaymentRequired,
            other => PaymentStatus::Other(other.unwrap_or("(none)").to_string()),
        }
    }
}

/// Stripe's error body's message, for the log.
fn error_message(body: &[u8]) -> Option<String> {
    serde_json::from_slice::<ApiError>(body)
        .ok()
        .map(|e| e.error.message.unwrap_or(e.error.kind))
}

impl Stripe {
    pub fn new(
        http: reqwest::Client,
        base: String,
        secret_key: SecretString,
        webhook_secret: SecretString,
    ) -> Stripe {
        Stripe {
            http,
            base,
            secret_key,
            webhook_secret,
        }
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}/v1/{path}", self.base))
            .bearer_auth(self.secret_key.expose_secret())
            .header("Stripe-Version", API_VERSION)
    }

    async fn session_call(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<Session, PaymentError> {
        let reply: Reply = http::send(ProviderId::Stripe, request, error_message).await?;
        http::json(ProviderId::Stripe, &reply)
    }
}

/// A statement about a session, for the shop to apply.
fn update(
    session: &Session,
    attempt_reference: String,
    event_id: String,
    source: Source,
    kind: String,
    outcome: Outcome,
    payload: String,
) -> PaymentUpdate {
    PaymentUpdate {
        provider: ProviderId::Stripe,
        attempt_reference,
        session_id: Some(session.id.clone()),
        event_id,
        source,
        kind,
        outcome,
        payload,
        payment_id: session.payment_intent.clone(),
    }
}

/// Where a Stripe refund stands; a status this code does not know keeps the refund pending (its
/// amount stays reserved) until a person or a later answer settles it.
fn refund_state(refund: &Refund) -> RefundState {
    match refund.status.as_deref() {
        Some("succeeded") => RefundState::Succeeded,
        Some("failed") | Some("canceled") => RefundState::Failed(
            refund
                .failure_reason
                .clone()
                .unwrap_or_else(|| refund.status.clone().unwrap_or_default()),
        ),
        _ => RefundState::Pending,
    }
}

fn refund_outcome(refund: &Refund) -> RefundOutcome {
    RefundOutcome {
        refund_id: refund.id.clone(),
        state: refund_state(refund),
        payload: serde_json::to_string(refund).unwrap_or_default(),
    }
}

/// A refund webhook as an update about the attempt named in the refund's metadata.
fn refund_update(event: &Event, refund: &Refund, payload: String) -> Option<PaymentUpdate> {
    let attempt = refund.metadata.get("attempt")?.clone();
    Some(PaymentUpdate {
        provider: ProviderId::Stripe,
        attempt_reference: attempt,
        session_id: None,
        event_id: event.id.clone(),
        source: Source::Webhook,
        kind: event.kind.clone(),
        outcome: Outcome::Refund(RefundReport {
            refund_id: refund.id.clone(),
            refund_key: refund.metadata.get("refund_key").cloned(),
            state: refund_state(refund),
            amount_minor: refund.amount,
            currency: refund.currency.to_ascii_uppercase(),
        }),
        payload,
        payment_id: refund.payment_intent.clone(),
    })
}

/// What a session's state says about the payment; every pair is named.
fn session_outcome(session: &Session) -> Outcome {
    use PaymentStatus as P;
    use SessionStatus as S;
    match (SessionStatus::of(session), PaymentStatus::of(session)) {
        (S::Complete, P::Paid) => paid(session),
        // A delayed method (bank debit): the async_payment events say how it ends.
        (S::Complete, P::Unpaid) | (S::Open, P::Unpaid) => Outcome::Pending,
        (S::Expired, P::Unpaid) => Outcome::Expired,
        // A session that needs no payment, or a paid one not yet complete, is not what the shop
        // creates: hold it for a person.
        (S::Complete | S::Open | S::Expired, P::NoPaymentRequired)
        | (S::Open | S::Expired, P::Paid) => Outcome::Unrecognised(format!(
            "session {} / {}",
            session.status.as_deref().unwrap_or("?"),
            session.payment_status.as_deref().unwrap_or("?")
        )),
        (S::Other(status), _) => Outcome::Unrecognised(format!("session status {status}")),
        (_, P::Other(status)) => Outcome::Unrecognised(format!("payment_status {status}")),
    }
}

fn paid(session: &Session) -> Outcome {
    Outcome::paid(
        session.amount_total.unwrap_or(-1),
        session.currency.clone().unwrap_or_default().to_uppercase(),
    )
}

#[async_trait::async_trait]
impl PaymentProvider for Stripe {
    /// The event's own `created`, for the webhook-lag metric.
    fn event_time_ms(&self, body: &[u8]) -> Option<i64> {
        super::json_event_time_ms(body, "created")
    }

    fn id(&self) -> ProviderId {
        ProviderId::Stripe
    }

    fn capabilities(&self) -> &Capabilities {
        &CAPABILITIES
    }

    async fn start(&self, request: &StartRequest) -> Result<Started, PaymentError> {
        let form = wire::create_session_form(request);
        let session = self
            .session_call(
                self.request(reqwest::Method::POST, "checkout/sessions")
                    .header("Idempotency-Key", &request.attempt_reference)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(form),
            )
            .await?;
        let url = session.url.clone().ok_or_else(|| {
            PaymentError::Unavailable("Stripe returned a session without a url".into())
        })?;
        Ok(Started {
            session_id: session.id,
            next: NextStep::Redirect { url },
        })
    }

    fn check_signature(&self, headers: &HeaderMap, body: &[u8]) -> Result<(), WebhookError> {
        let header = headers
            .get("stripe-signature")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| WebhookError::NotVerified("no Stripe-Signature header".into()))?;
        signature::verify(
            header,
            body,
            self.webhook_secret.expose_secret(),
            now_secs(),
        )
        .map(|_| ())
        .map_err(|e| WebhookError::NotVerified(e.to_string()))
    }

    /// Verified by the `Stripe-Signature` HMAC over the body alone.
    fn verifies_offline(&self) -> bool {
        true
    }

    async fn verify_webhook(
        &self,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Option<PaymentUpdate>, WebhookError> {
        self.check_signature(headers, body)?;
        let event: Event = serde_json::from_slice(body)
            .map_err(|e| WebhookError::NotVerified(format!("not a Stripe event: {e}")))?;
        let payload = || String::from_utf8_lossy(body).into_owned();
        let object = &event.data.object;
        match object["object"].as_str() {
            Some("checkout.session") => {}
            // `refund.created` / `refund.updated` / `refund.failed` and `charge.refund.updated`
            // carry the refund itself, with the shop's key in its metadata. `charge.refunded`
            // is not used: its charge has listed no refunds since API version 2022-11-15.
            Some("refund")
                if event.kind.starts_with("refund.") || event.kind == "charge.refund.updated" =>
            {
                let refund: Refund = serde_json::from_value(object.clone())
                    .map_err(|e| WebhookError::NotVerified(format!("not a refund: {e}")))?;
                return Ok(refund_update(&event, &refund, payload()));
            }
            _ => return Ok(None),
        }
        let session: Session = serde_json::from_value(object.clone())
            .map_err(|e| WebhookError::NotVerified(format!("not a session: {e}")))?;
        let session = &session;
        let outcome = match event.kind.as_str() {
            "checkout.session.completed" => session_outcome(session),
            "checkout.session.async_payment_succeeded" => paid(session),
            "checkout.session.async_payment_failed" => Outcome::Failed,
            "checkout.session.expired" => Outcome::Expired,
            _ => return Ok(None),
        };
        let Some(reference) = session.client_reference_id.clone() else {
            return Ok(None);
        };
        Ok(Some(update(
            session,
            reference,
            event.id.clone(),
            Source::Webhook,
            event.kind.clone(),
            outcome,
            payload(),
        )))
    }

    async fn lookup(&self, attempt: AttemptRef<'_>) -> Result<PaymentUpdate, PaymentError> {
        let Some(session_id) = attempt.session_id else {
            return Err(PaymentError::Unavailable(format!(
                "{} has no Stripe session to look up",
                attempt.reference
            )));
        };
        let session = self
            .session_call(self.request(
                reqwest::Method::GET,
                &format!("checkout/sessions/{}", wire::path_segment(session_id)),
            ))
            .await?;
        if session.client_reference_id.as_deref() != Some(attempt.reference) {
            return Err(PaymentError::Unavailable(format!(
                "session {session_id} does not belong to {}",
                attempt.reference
            )));
        }
        let outcome = session_outcome(&session);
        let kind = format!(
            "session {} / {}",
            session.status.as_deref().unwrap_or("?"),
            session.payment_status.as_deref().unwrap_or("?")
        );
        let event_id = format!("lookup:{}:{kind}", session.id);
        let payload = serde_json::to_string(&session).unwrap_or_default();
        Ok(update(
            &session,
            attempt.reference.to_string(),
            event_id,
            Source::Lookup,
            kind,
            outcome,
            payload,
        ))
    }

    async fn cancel(&self, attempt: AttemptRef<'_>) -> Result<PaymentUpdate, PaymentError> {
        let Some(session_id) = attempt.session_id else {
            return self.lookup(attempt).await;
        };
        let expired = self
            .session_call(
                self.request(
                    reqwest::Method::POST,
                    &format!(
                        "checkout/sessions/{}/expire",
                        wire::path_segment(session_id)
                    ),
                )
                .header("Idempotency-Key", format!("{}-cancel", attempt.reference)),
            )
            .await;
        match expired {
            Ok(session)
                if session.status.as_deref() == Some("expired")
                    && session.client_reference_id.as_deref() == Some(attempt.reference) =>
            {
                let payload = serde_json::to_string(&session).unwrap_or_default();
                Ok(update(
                    &session,
                    attempt.reference.to_string(),
                    format!("cancel:{}", session.id),
                    Source::Cancel,
                    "session expired by the shop".into(),
                    Outcome::Cancelled,
                    payload,
                ))
            }
            // Already complete or expired: ask what it is now.
            _ => self.lookup(attempt).await,
        }
    }

    async fn refund(&self, request: &RefundRequest<'_>) -> Result<RefundOutcome, PaymentError> {
        let payment_intent = match request.payment_id {
            Some(id) => id.to_string(),
            None => {
                let session_id = request.attempt.session_id.ok_or_else(|| {
                    PaymentError::Refused("the attempt has no Stripe session".into())
                })?;
                let session = self
                    .session_call(self.request(
                        reqwest::Method::GET,
                        &format!("checkout/sessions/{}", wire::path_segment(session_id)),
                    ))
                    .await?;
                session.payment_intent.ok_or_else(|| {
                    PaymentError::Refused("the session has no payment to refund".into())
                })?
            }
        };
        let form = wire::create_refund_form(
            &payment_intent,
            request.amount.minor,
            request.attempt.reference,
            request.idempotency_key,
            request.reason,
        );
        let reply = http::send(
            ProviderId::Stripe,
            self.request(reqwest::Method::POST, "refunds")
                .header("Idempotency-Key", request.idempotency_key)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form),
            error_message,
        )
        .await?;
        let refund: Refund = http::json(ProviderId::Stripe, &reply)?;
        Ok(refund_outcome(&refund))
    }

    async fn lookup_refund(
        &self,
        _attempt: AttemptRef<'_>,
        refund_id: &str,
    ) -> Result<RefundOutcome, PaymentError> {
        let reply = http::send(
            ProviderId::Stripe,
            self.request(
                reqwest::Method::GET,
                &format!("refunds/{}", wire::path_segment(refund_id)),
            ),
            error_message,
        )
        .await?;
        let refund: Refund = http::json(ProviderId::Stripe, &reply)?;
        Ok(refund_outcome(&refund))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(status: &str, payment_status: &str) -> Session {
        Session {
            id: "cs_test_1".into(),
            status: Some(status.into()),
            payment_status: Some(payment_status.into()),
            amount_total: Some(1500),
            currency: Some("jpy".into()),
            ..Session::default()
        }
    }

    #[test]
    fn only_a_complete_and_paid_session_is_paid() {
        assert_eq!(
            session_outcome(&session("complete", "paid")),
            Outcome::paid(1500, "JPY")
        );
        assert_eq!(
            session_outcome(&session("complete", "unpaid")),
            Outcome::Pending,
            "a delayed method"
        );
        assert_eq!(
            session_outcome(&session("open", "unpaid")),
            Outcome::Pending
        );
        assert_eq!(
            session_outcome(&session("expired", "unpaid")),
            Outcome::Expired
        );
    }

    #[test]
    fn an_unknown_status_is_held_never_pending_or_paid() {
        for (status, payment) in [
            ("complete", "processing"),
            ("locked", "paid"),
            ("open", "paid"),
            ("complete", "no_payment_required"),
        ] {
            assert!(
                matches!(
                    session_outcome(&session(status, payment)),
                    Outcome::Unrecognised(_)
                ),
                "{status} / {payment}"
            );
        }
    }
}
