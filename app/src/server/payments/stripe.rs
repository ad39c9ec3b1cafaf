//! Stripe Checkout Sessions (providers.md §2): create with `Idempotency-Key`, retrieve for
//! lookups, expire on cancel, and `Stripe-Signature`-verified webhooks.

pub mod sandbox;
pub mod signature;
mod wire;

use super::{
    now_secs, transport_error, Capabilities, Outcome, PaymentError, PaymentProvider, PaymentUpdate,
    StartRequest, Started, WebhookError,
};
use crate::model::{Currency, ProviderId};
use axum::http::HeaderMap;
use secrecy::{ExposeSecret, SecretString};
use wire::{ApiError, Event, Session};

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
    refunds: true,
    partial_refunds: true,
};

pub struct Stripe {
    http: reqwest::Client,
    base: String,
    secret_key: SecretString,
    webhook_secret: SecretString,
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
        let response = request.send().await.map_err(transport_error)?;
        let status = response.status();
        let body = response.bytes().await.map_err(transport_error)?;
        if status.is_success() {
            return serde_json::from_slice::<Session>(&body).map_err(|e| {
                PaymentError::Unavailable(format!("unexpected Stripe response: {e}"))
            });
        }
        let message = serde_json::from_slice::<ApiError>(&body)
            .map(|e| e.error.message.unwrap_or(e.error.kind))
            .unwrap_or_else(|_| format!("HTTP {status}"));
        if status.is_server_error() || status.as_u16() == 429 || status.as_u16() == 409 {
            Err(PaymentError::Unavailable(message))
        } else {
            Err(PaymentError::Refused(format!(
                "Stripe refused the payment: {message}"
            )))
        }
    }

    fn update(
        &self,
        session: &Session,
        event_id: String,
        source: &'static str,
        kind: String,
        outcome: Outcome,
        payload: String,
    ) -> PaymentUpdate {
        PaymentUpdate {
            provider: ProviderId::Stripe,
            attempt_reference: session.client_reference_id.clone().unwrap_or_default(),
            event_id,
            source,
            kind,
            outcome,
            payload,
        }
    }
}

/// What a session's state says about the payment.
fn session_outcome(session: &Session) -> Outcome {
    match (session.status.as_deref(), session.payment_status.as_deref()) {
        (Some("complete"), Some("paid")) => paid(session),
        (Some("expired"), _) => Outcome::Expired,
        _ => Outcome::Pending,
    }
}

fn paid(session: &Session) -> Outcome {
    Outcome::Paid {
        amount_minor: session.amount_total.unwrap_or(0),
        currency: session.currency.clone().unwrap_or_default().to_uppercase(),
    }
}

#[async_trait::async_trait]
impl PaymentProvider for Stripe {
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
            redirect_url: url,
        })
    }

    async fn verify_webhook(
        &self,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Option<PaymentUpdate>, WebhookError> {
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
        .map_err(|e| WebhookError::NotVerified(e.to_string()))?;
        let event: Event = serde_json::from_slice(body)
            .map_err(|e| WebhookError::NotVerified(format!("not a Stripe event: {e}")))?;
        if event.data.object.object.as_deref() != Some("checkout.session") {
            return Ok(None);
        }
        let session = &event.data.object;
        let outcome = match event.kind.as_str() {
            "checkout.session.completed" => session_outcome(session),
            "checkout.session.async_payment_succeeded" => paid(session),
            "checkout.session.async_payment_failed" => Outcome::Failed,
            "checkout.session.expired" => Outcome::Expired,
            _ => return Ok(None),
        };
        if session.client_reference_id.is_none() {
            return Ok(None);
        }
        Ok(Some(self.update(
            session,
            event.id.clone(),
            "webhook",
            event.kind.clone(),
            outcome,
            String::from_utf8_lossy(body).into_owned(),
        )))
    }

    async fn lookup(
        &self,
        attempt_reference: &str,
        session_id: &str,
    ) -> Result<PaymentUpdate, PaymentError> {
        let mut session = self
            .session_call(self.request(
                reqwest::Method::GET,
                &format!("checkout/sessions/{}", wire::path_segment(session_id)),
            ))
            .await?;
        if session.client_reference_id.as_deref() != Some(attempt_reference) {
            return Err(PaymentError::Unavailable(format!(
                "session {session_id} does not belong to {attempt_reference}"
            )));
        }
        session.client_reference_id = Some(attempt_reference.to_string());
        let outcome = session_outcome(&session);
        let kind = format!(
            "session {} / {}",
            session.status.as_deref().unwrap_or("?"),
            session.payment_status.as_deref().unwrap_or("?")
        );
        let event_id = format!("lookup:{}:{kind}", session.id);
        let payload = serde_json::to_string(&session).unwrap_or_default();
        Ok(self.update(&session, event_id, "lookup", kind, outcome, payload))
    }

    async fn cancel(
        &self,
        attempt_reference: &str,
        session_id: &str,
    ) -> Result<PaymentUpdate, PaymentError> {
        let expired = self
            .session_call(
                self.request(
                    reqwest::Method::POST,
                    &format!(
                        "checkout/sessions/{}/expire",
                        wire::path_segment(session_id)
                    ),
                )
                .header("Idempotency-Key", format!("{attempt_reference}-cancel")),
            )
            .await;
        match expired {
            Ok(session) if session.status.as_deref() == Some("expired") => {
                let payload = serde_json::to_string(&session).unwrap_or_default();
                let mut update = self.update(
                    &session,
                    format!("cancel:{}", session.id),
                    "cancel",
                    "shopper cancelled; session expired".into(),
                    Outcome::Cancelled,
                    payload,
                );
                update.attempt_reference = attempt_reference.to_string();
                Ok(update)
            }
            // Already complete or expired: ask what it is now.
            _ => self.lookup(attempt_reference, session_id).await,
        }
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
            Outcome::Paid {
                amount_minor: 1500,
                currency: "JPY".into()
            }
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
}
