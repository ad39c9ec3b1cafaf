//! One policy for every provider call: short timeouts, no redirects followed, and the same reading
//! of the answer. A transport failure, a timeout, a 5xx, a 429 or a 409 (a concurrent twin) means
//! "unavailable": the provider may have acted, so the same call is tried again with the same
//! idempotency key. Any other 4xx is a refusal. The provider's raw text is logged, never shown.
//! Each request is logged with its method, path (never the query), status and duration; the
//! provider, operation and attempt come from the `provider_call` span around it (`logged.rs`).

use super::PaymentError;
use crate::model::ProviderId;
use axum::body::Bytes;
use std::time::Duration;

/// The shop's HTTP client for provider calls.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(20))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("storefront/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("the HTTP client's settings are valid")
}

/// Map a transport failure to [`PaymentError::Unavailable`] without leaking URLs with secrets.
pub fn transport_error(e: reqwest::Error) -> PaymentError {
    PaymentError::Unavailable(e.without_url().to_string())
}

/// A successful (2xx) answer.
#[derive(Debug)]
pub struct Reply {
    pub status: reqwest::StatusCode,
    pub body: Bytes,
}

/// At most this much of a provider's error text goes into the log.
const LOGGED_BODY: usize = 500;

/// Send a provider call and sort the answer by the shared policy. `refusal` turns the body of a
/// refusing answer into the detail kept in the error (e.g. Stripe's `error.message`).
pub async fn send(
    provider: ProviderId,
    request: reqwest::RequestBuilder,
    refusal: impl Fn(&[u8]) -> Option<String>,
) -> Result<Reply, PaymentError> {
    let (client, request) = request.build_split();
    let request = request.map_err(transport_error)?;
    // The path only: some providers (Alipay) carry signed parameters in the query.
    let method = request.method().clone();
    let path = request.url().path().to_string();
    let started = std::time::Instant::now();
    let response = client.execute(request).await.map_err(|e| {
        let e = transport_error(e);
        tracing::warn!(provider = provider.as_str(), %method, %path, error = %e, "provider request failed");
        e
    })?;
    let status = response.status();
    tracing::info!(
        provider = provider.as_str(),
        %method,
        %path,
        status = status.as_u16(),
        duration_ms = started.elapsed().as_millis() as u64,
        "provider request"
    );
    let body = response.bytes().await.map_err(transport_error)?;
    if status.is_success() {
        return Ok(Reply { status, body });
    }
    let detail = refusal(&body).unwrap_or_else(|| {
        let text = String::from_utf8_lossy(&body[..body.len().min(LOGGED_BODY)]).into_owned();
        format!("HTTP {status}: {text}")
    });
    tracing::warn!(provider = provider.as_str(), %status, detail = %detail, "provider answered with an error");
    if status.is_server_error() || status.as_u16() == 429 || status.as_u16() == 409 {
        Err(PaymentError::Unavailable(detail))
    } else {
        Err(PaymentError::Refused(detail))
    }
}

/// Read a successful answer as JSON; an unreadable one counts as "unavailable" (try again later).
pub fn json<T: serde::de::DeserializeOwned>(
    provider: ProviderId,
    reply: &Reply,
) -> Result<T, PaymentError> {
    serde_json::from_slice(&reply.body).map_err(|e| {
        tracing::warn!(provider = provider.as_str(), error = %e, "unreadable provider answer");
        PaymentError::Unavailable(format!("unexpected {} response: {e}", provider.label()))
    })
}
