//! Every provider wrapped once, in [`super::Payments::new`], so each call the shop makes to a
//! provider runs in a `provider_call` span naming the provider, the operation and the attempt
//! reference, and ends with one log line: its outcome and how long it took. The HTTP requests the
//! provider module sends inside it (`http::send`) log their method, path and status in the same
//! span, so a call's lines can be followed without any provider module knowing about logging.
//!
//! Only names, references, statuses and timings are logged: never credentials, card data or the
//! bodies of requests and answers.

use super::{
    AttemptRef, Capabilities, PaymentError, PaymentProvider, PaymentUpdate, RefundOutcome,
    RefundRequest, StartRequest, Started, WebhookError,
};
use crate::model::ProviderId;
use axum::http::HeaderMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;
use tracing::Instrument;

/// A provider whose calls are logged.
pub struct Logged(pub Arc<dyn PaymentProvider>);

/// Run one provider call inside its span and log how it went.
async fn logged<T, E: std::fmt::Display>(
    provider: ProviderId,
    operation: &'static str,
    attempt: Option<&str>,
    call: impl Future<Output = Result<T, E>>,
) -> Result<T, E> {
    let span = tracing::info_span!(
        "provider_call",
        provider = provider.as_str(),
        operation,
        attempt = attempt.unwrap_or(""),
    );
    let started = Instant::now();
    let result = call.instrument(span.clone()).await;
    let duration_ms = started.elapsed().as_millis() as u64;
    span.in_scope(|| match &result {
        Ok(_) => tracing::info!(duration_ms, "provider call done"),
        Err(e) => tracing::warn!(duration_ms, error = %e, "provider call failed"),
    });
    result
}

#[async_trait::async_trait]
impl PaymentProvider for Logged {
    fn id(&self) -> ProviderId {
        self.0.id()
    }

    fn capabilities(&self) -> &Capabilities {
        self.0.capabilities()
    }

    async fn start(&self, request: &StartRequest) -> Result<Started, PaymentError> {
        let attempt = Some(request.attempt_reference.as_str());
        logged(self.id(), "start", attempt, self.0.start(request)).await
    }

    fn check_signature(&self, headers: &HeaderMap, body: &[u8]) -> Result<(), WebhookError> {
        self.0.check_signature(headers, body)
    }

    fn signature_checked_offline(&self) -> bool {
        self.0.signature_checked_offline()
    }

    fn verifies_offline(&self) -> bool {
        self.0.verifies_offline()
    }

    async fn verify_webhook(
        &self,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Option<PaymentUpdate>, WebhookError> {
        let call = self.0.verify_webhook(headers, body);
        logged(self.id(), "verify_webhook", None, call).await
    }

    async fn lookup(&self, attempt: AttemptRef<'_>) -> Result<PaymentUpdate, PaymentError> {
        let reference = Some(attempt.reference);
        logged(self.id(), "lookup", reference, self.0.lookup(attempt)).await
    }

    async fn complete_return(
        &self,
        attempt: AttemptRef<'_>,
        params: &[(String, String)],
    ) -> Result<PaymentUpdate, PaymentError> {
        let reference = Some(attempt.reference);
        let call = self.0.complete_return(attempt, params);
        logged(self.id(), "complete_return", reference, call).await
    }

    async fn cancel(&self, attempt: AttemptRef<'_>) -> Result<PaymentUpdate, PaymentError> {
        let reference = Some(attempt.reference);
        logged(self.id(), "cancel", reference, self.0.cancel(attempt)).await
    }

    async fn refund(&self, request: &RefundRequest<'_>) -> Result<RefundOutcome, PaymentError> {
        let reference = Some(request.attempt.reference);
        logged(self.id(), "refund", reference, self.0.refund(request)).await
    }

    async fn lookup_refund(
        &self,
        attempt: AttemptRef<'_>,
        refund_id: &str,
    ) -> Result<RefundOutcome, PaymentError> {
        let reference = Some(attempt.reference);
        let call = self.0.lookup_refund(attempt, refund_id);
        logged(self.id(), "lookup_refund", reference, call).await
    }

    fn shop_page(
        &self,
        attempt_reference: &str,
        values: &[(String, String)],
    ) -> Option<super::ShopPage> {
        self.0.shop_page(attempt_reference, values)
    }

    fn failure_reason(&self, kind: &str) -> Option<String> {
        self.0.failure_reason(kind)
    }

    fn acknowledgement(&self) -> &'static str {
        self.0.acknowledgement()
    }

    fn event_time_ms(&self, body: &[u8]) -> Option<i64> {
        self.0.event_time_ms(body)
    }
}
