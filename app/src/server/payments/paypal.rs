//! PayPal Orders v2 (docs/payments.md#paypal): an OAuth2 client-credentials token (cached until it expires,
//! renewed once when PayPal answers 401 `invalid_token`), orders created with `PayPal-Request-Id`,
//! the shopper sent to the `payer-action` (or `approve`) link, and the capture made exactly once.
//!
//! **Capture once.** After the shopper approves, the shop must capture. Three callers may find an
//! approved order: the shopper's return ([`PaymentProvider::complete_return`]), the
//! `CHECKOUT.ORDER.APPROVED` webhook and the reconciler's lookup. Each goes through
//! [`CaptureClaims`] (a conditional UPDATE on the attempt's row, outside this module): the one
//! caller that wins calls `POST /v2/checkout/orders/{id}/capture` with the stable
//! `PayPal-Request-Id` `{attempt}-capture`, so a retry after a crash is a replay at PayPal; the
//! others only look the order up (it reads *approved* until the capture lands; the winner's answer
//! and the `PAYMENT.CAPTURE.*` webhook then settle the order).
//!
//! Webhooks are verified through `POST /v1/notifications/verify-webhook-signature` with
//! `PAYPAL_WEBHOOK_ID` and the raw body embedded verbatim; the offline check only sees that the
//! `PAYPAL-TRANSMISSION-*` headers are there and well formed.

pub mod config;
mod wire;

use super::http::{self, Reply};
use super::kernel::Registration;
use super::{
    AttemptRef, Capabilities, CaptureClaims, NextStep, Outcome, PaymentError, PaymentProvider,
    PaymentUpdate, RefundOutcome, RefundReport, RefundRequest, RefundState, Source, StartRequest,
    Started, WebhookError,
};
use crate::model::{Currency, ProviderId};
use crate::server::payments::kernel::sandbox_keys;
use axum::http::HeaderMap;
use secrecy::{ExposeSecret, SecretString};
use std::sync::Arc;
use std::time::{Duration, Instant};
use wire::{ApiError, Capture, Event, Order, Refund, Token, VerifyAnswer};

pub use wire::Amount;

pub const REGISTRATION: Registration = Registration {
    id: ProviderId::Paypal,
    configure: config::configure,
    published_keys: &[
        ("PAYPAL_CLIENT_ID", sandbox_keys::PAYPAL_CLIENT_ID),
        ("PAYPAL_CLIENT_SECRET", sandbox_keys::PAYPAL_CLIENT_SECRET),
        ("PAYPAL_WEBHOOK_ID", sandbox_keys::PAYPAL_WEBHOOK_ID),
    ],
};

const PAYPAL: ProviderId = ProviderId::Paypal;

/// USD, EUR and JPY. PayPal does not take BDT at all, and CNY only between accounts inside China,
/// so neither is offered. The bounds only keep totals sane.
static CAPABILITIES: Capabilities = Capabilities {
    currencies: &[
        (Currency::Usd, 1, 99_999_999),
        (Currency::Eur, 1, 99_999_999),
        (Currency::Jpy, 1, 99_999_999),
    ],
    // `POST /v2/payments/captures/{id}/refund`, full or partial, as long as something is left.
    refunds: true,
    partial_refunds: true,
    // `PayPal-Request-Id` = the refund's key: PayPal answers a repeat with the first refund.
    idempotent_refunds: true,
    // An Orders v2 order cannot be closed; the shop simply never captures it.
    closes_sessions: false,
};

/// The header names of a PayPal webhook delivery.
pub const TRANSMISSION_HEADERS: [&str; 5] = [
    "paypal-transmission-id",
    "paypal-transmission-time",
    "paypal-transmission-sig",
    "paypal-cert-url",
    "paypal-auth-algo",
];

/// How a refused call's detail starts when PayPal disowned the access token (it expired early,
/// or was revoked): the call is made once more with a new token.
const INVALID_TOKEN: &str = "invalid_token";
/// How a refused token call's detail starts.
const TOKEN_REFUSED: &str = "token refused";
/// A token is renewed this long before PayPal says it expires.
const TOKEN_MARGIN: Duration = Duration::from_secs(60);

struct CachedToken {
    value: SecretString,
    renew_at: Instant,
}

pub struct Paypal {
    http: reqwest::Client,
    base: String,
    client_id: String,
    client_secret: SecretString,
    webhook_id: String,
    token: tokio::sync::Mutex<Option<CachedToken>>,
    captures: Arc<dyn CaptureClaims>,
}

/// PayPal's error body, for the log: its name, the issues, its message and `debug_id`.
fn error_detail(body: &[u8]) -> Option<String> {
    let e: ApiError = serde_json::from_slice(body).ok()?;
    if let Some(error) = &e.error {
        return Some(format!(
            "{error}: {}",
            e.error_description.as_deref().unwrap_or("")
        ));
    }
    Some(format!(
        "{} [{}] {} (debug_id {})",
        e.name.as_deref().unwrap_or("ERROR"),
        e.issues().join(","),
        e.message.as_deref().unwrap_or(""),
        e.debug_id.as_deref().unwrap_or("-")
    ))
}

fn has_issue(error: &PaymentError, issue: &str) -> bool {
    matches!(error, PaymentError::Refused(d) if d.contains(&format!("[{issue}")) || d.contains(&format!(",{issue}")))
}

/// The first link with one of these relations.
fn link<'a>(order: &'a Order, rels: &[&str]) -> Option<&'a str> {
    order
        .links
        .iter()
        .find(|l| rels.contains(&l.rel.as_str()))
        .map(|l| l.href.as_str())
}

/// The first capture of the order's purchase unit.
fn first_capture(order: &Order) -> Option<&Capture> {
    order
        .purchase_units
        .first()?
        .payments
        .as_ref()?
        .captures
        .first()
}

/// What a capture's status says: only COMPLETED is money in.
fn capture_outcome(capture: &Capture) -> Outcome {
    match capture.status.as_deref() {
        // A refunded capture was paid first; its refunds are their own statements.
        Some("COMPLETED") | Some("PARTIALLY_REFUNDED") | Some("REFUNDED") => {
            match capture.amount.as_ref() {
                Some(amount) => match amount.to_money() {
                    Some(money) => Outcome::paid(money.minor, money.currency.code()),
                    // A currency the shop does not sell in, or an unreadable value: compared with
                    // the quote it can only mismatch, so the order goes to review.
                    None => Outcome::paid(-1, amount.currency_code.to_ascii_uppercase()),
                },
                None => Outcome::paid(-1, ""),
            }
        }
        Some("PENDING") => Outcome::Pending,
        Some("DECLINED") | Some("FAILED") => Outcome::Failed,
        other => Outcome::Unrecognised(format!("capture status {}", other.unwrap_or("(none)"))),
    }
}

/// What an order's state says about the payment (an APPROVED order is captured before this is
/// asked, except by the loser of the capture claim, for whom it is still pending).
fn order_outcome(order: &Order) -> Outcome {
    match order.status.as_deref() {
        Some("COMPLETED") => match first_capture(order) {
            Some(capture) => capture_outcome(capture),
            None => Outcome::Unrecognised("completed order without a capture".into()),
        },
        Some("CREATED") | Some("SAVED") | Some("PAYER_ACTION_REQUIRED") | Some("APPROVED") => {
            Outcome::Pending
        }
        Some("VOIDED") => Outcome::Cancelled,
        other => Outcome::Unrecognised(format!("order status {}", other.unwrap_or("(none)"))),
    }
}

fn refund_state(refund: &Refund) -> RefundState {
    match refund.status.as_deref() {
        Some("COMPLETED") => RefundState::Succeeded,
        Some("FAILED") | Some("CANCELLED") => RefundState::Failed(
            refund
                .status_details
                .as_ref()
                .and_then(|d| d.reason.clone())
                .unwrap_or_else(|| refund.status.clone().unwrap_or_default()),
        ),
        // PENDING, or a status this code does not know: the amount stays reserved.
        _ => RefundState::Pending,
    }
}

fn refund_outcome(refund: &Refund, payload: String) -> RefundOutcome {
    RefundOutcome {
        refund_id: refund.id.clone(),
        state: refund_state(refund),
        payload,
    }
}

fn order_update(
    order: &Order,
    attempt: &str,
    event_id: String,
    source: Source,
    kind: String,
    payload: String,
) -> PaymentUpdate {
    PaymentUpdate {
        provider: PAYPAL,
        attempt_reference: attempt.to_string(),
        session_id: Some(order.id.clone()),
        event_id,
        source,
        kind,
        outcome: order_outcome(order),
        payload,
        payment_id: first_capture(order).map(|c| c.id.clone()),
    }
}

fn invoice_of(order: &Order) -> Option<&str> {
    order.purchase_units.first()?.invoice_id.as_deref()
}

/// Whether a webhook header value is plain printable text of a sane length.
fn well_formed(value: &str) -> bool {
    !value.is_empty() && value.len() <= 2048 && value.chars().all(|c| c.is_ascii_graphic())
}

impl Paypal {
    pub fn new(
        http: reqwest::Client,
        base: String,
        client_id: String,
        client_secret: SecretString,
        webhook_id: String,
        captures: Arc<dyn CaptureClaims>,
    ) -> Paypal {
        Paypal {
            http,
            base,
            client_id,
            client_secret,
            webhook_id,
            token: tokio::sync::Mutex::new(None),
            captures,
        }
    }

    /// A valid access token: the cached one, or a new one. `stale` is a token PayPal has just
    /// refused; it is replaced unless another call already did.
    async fn token(&self, stale: Option<&str>) -> Result<SecretString, PaymentError> {
        let mut cached = self.token.lock().await;
        if let Some(token) = cached.as_ref() {
            let refused = stale.is_some_and(|s| s == token.value.expose_secret());
            if !refused && Instant::now() < token.renew_at {
                return Ok(token.value.clone());
            }
        }
        let reply = http::send(
            PAYPAL,
            self.http
                .post(format!("{}/v1/oauth2/token", self.base))
                .basic_auth(&self.client_id, Some(self.client_secret.expose_secret()))
                .header("content-type", "application/x-www-form-urlencoded")
                .body("grant_type=client_credentials"),
            |body| {
                Some(format!(
                    "{TOKEN_REFUSED}: {}",
                    error_detail(body).unwrap_or_default()
                ))
            },
        )
        .await
        .map_err(|e| match e {
            PaymentError::Refused(d) if !d.starts_with(TOKEN_REFUSED) => {
                PaymentError::Refused(format!("{TOKEN_REFUSED}: {d}"))
            }
            other => other,
        })?;
        let token: Token = http::json(PAYPAL, &reply)?;
        let lifetime = Duration::from_secs(token.expires_in.unwrap_or(0).max(0) as u64);
        let value = SecretString::from(token.access_token);
        *cached = Some(CachedToken {
            value: value.clone(),
            renew_at: Instant::now() + lifetime.saturating_sub(TOKEN_MARGIN),
        });
        Ok(value)
    }

    /// An API call with the access token; once more with a new token if PayPal disowns it.
    async fn call(
        &self,
        build: impl Fn(&str) -> reqwest::RequestBuilder,
    ) -> Result<Reply, PaymentError> {
        let token = self.token(None).await?;
        match http::send(PAYPAL, build(token.expose_secret()), error_detail).await {
            Err(PaymentError::Refused(d)) if d.starts_with(INVALID_TOKEN) => {
                tracing::info!("PayPal refused the access token; renewing it once");
                let renewed = self.token(Some(token.expose_secret())).await?;
                http::send(PAYPAL, build(renewed.expose_secret()), error_detail).await
            }
            other => other,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn json_request(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
    ) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.url(path))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .header("prefer", "return=representation")
    }

    async fn get_order(&self, order_id: &str) -> Result<(Order, String), PaymentError> {
        let id = wire::path_segment(order_id)
            .ok_or_else(|| PaymentError::Refused(format!("not a PayPal order id: {order_id:?}")))?;
        let path = format!("/v2/checkout/orders/{id}");
        let reply = self
            .call(|t| self.json_request(reqwest::Method::GET, &path, t))
            .await?;
        let order: Order = http::json(PAYPAL, &reply)?;
        Ok((order, String::from_utf8_lossy(&reply.body).into_owned()))
    }

    /// Capture an approved order, exactly once across every caller and instance (see the module
    /// documentation). `event_id`, `source` and `kind` name the statement the answer becomes.
    async fn capture_once(
        &self,
        attempt: &str,
        order: Order,
        order_payload: String,
        event_id: String,
        source: Source,
        kind: String,
    ) -> Result<PaymentUpdate, PaymentError> {
        if !self.captures.claim(attempt, &order.id).await? {
            // Someone else captures (or the attempt is no longer open): say what is known, under
            // an id of its own so the winner's answer is never taken for a duplicate of this.
            let event_id = match source {
                // Not the webhook's own id: the winner may be answering that same delivery (a
                // re-delivery racing the first), and its Paid must not meet a ledger row of ours
                // under that id and be taken for a duplicate.
                Source::Webhook => format!("{event_id}:claim-lost"),
                _ => format!(
                    "lookup:{}:{}",
                    order.id,
                    order.status.as_deref().unwrap_or("?")
                ),
            };
            let kind = format!("{kind}; capture claimed by another caller");
            return Ok(order_update(
                &order,
                attempt,
                event_id,
                source,
                kind,
                order_payload,
            ));
        }
        let path = format!("/v2/checkout/orders/{}/capture", order.id);
        let request_id = format!("{attempt}-capture");
        let captured = self
            .call(|t| {
                self.json_request(reqwest::Method::POST, &path, t)
                    .header("PayPal-Request-Id", &request_id)
                    .body("{}")
            })
            .await;
        match captured {
            Ok(reply) => {
                let captured: Order = http::json(PAYPAL, &reply)?;
                let payload = String::from_utf8_lossy(&reply.body).into_owned();
                let kind = format!(
                    "{kind}; captured: {}",
                    captured.status.as_deref().unwrap_or("?")
                );
                Ok(order_update(
                    &captured, attempt, event_id, source, kind, payload,
                ))
            }
            Err(e) if has_issue(&e, "INSTRUMENT_DECLINED") => {
                // PayPal declined the buyer's funding: this attempt failed (the order page offers
                // Try again, which starts a new PayPal order).
                let detail = e.to_string();
                Ok(PaymentUpdate {
                    provider: PAYPAL,
                    attempt_reference: attempt.to_string(),
                    session_id: Some(order.id.clone()),
                    event_id,
                    source,
                    kind: format!("{kind}; capture declined (INSTRUMENT_DECLINED)"),
                    outcome: Outcome::Failed,
                    payload: serde_json::json!({"capture": "declined", "detail": detail})
                        .to_string(),
                    payment_id: None,
                })
            }
            Err(e) if has_issue(&e, "ORDER_ALREADY_CAPTURED") => {
                let (order, payload) = self.get_order(&order.id).await?;
                Ok(order_update(
                    &order, attempt, event_id, source, kind, payload,
                ))
            }
            Err(e) => {
                // PayPal did not capture (or may have: the same PayPal-Request-Id makes the next
                // try a replay), so the next caller may try again.
                if let Err(release) = self.captures.release(attempt).await {
                    tracing::warn!(attempt, error = %release, "could not release a capture claim");
                }
                Err(e)
            }
        }
    }

    /// The order behind an attempt, checked to be the attempt's; captured if it is approved.
    async fn settle(
        &self,
        attempt: AttemptRef<'_>,
        capture: bool,
    ) -> Result<PaymentUpdate, PaymentError> {
        let Some(order_id) = attempt.session_id else {
            return Err(PaymentError::Unavailable(format!(
                "{} has no PayPal order to look up",
                attempt.reference
            )));
        };
        let (order, payload) = self.get_order(order_id).await?;
        if invoice_of(&order) != Some(attempt.reference) || order.id != order_id {
            return Err(PaymentError::Unavailable(format!(
                "PayPal order {order_id} does not belong to {}",
                attempt.reference
            )));
        }
        let status = order.status.clone().unwrap_or_else(|| "?".into());
        let kind = format!("order {status}");
        if capture && status == "APPROVED" {
            let event_id = format!("capture:{}", order.id);
            return self
                .capture_once(
                    attempt.reference,
                    order,
                    payload,
                    event_id,
                    Source::Lookup,
                    kind,
                )
                .await;
        }
        let event_id = format!(
            "lookup:{}:{status}:{}",
            order.id,
            first_capture(&order)
                .and_then(|c| c.status.clone())
                .unwrap_or_default()
        );
        Ok(order_update(
            &order,
            attempt.reference,
            event_id,
            Source::Lookup,
            kind,
            payload,
        ))
    }

    /// Ask PayPal whether this transmission is genuine. The event goes in verbatim (re-encoding it
    /// could change the bytes PayPal signed).
    async fn verify_transmission(
        &self,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<(), WebhookError> {
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string()
        };
        let mut fields = serde_json::json!({
            "auth_algo": header("paypal-auth-algo"),
            "cert_url": header("paypal-cert-url"),
            "transmission_id": header("paypal-transmission-id"),
            "transmission_sig": header("paypal-transmission-sig"),
            "transmission_time": header("paypal-transmission-time"),
            "webhook_id": self.webhook_id,
        })
        .to_string();
        let raw = std::str::from_utf8(body)
            .map_err(|_| WebhookError::NotVerified("the body is not UTF-8".into()))?;
        fields.pop(); // the closing brace
        let request_body = format!("{fields},\"webhook_event\":{}}}", raw.trim());
        let answer = self
            .call(|t| {
                self.json_request(
                    reqwest::Method::POST,
                    "/v1/notifications/verify-webhook-signature",
                    t,
                )
                .body(request_body.clone())
            })
            .await;
        let reply = match answer {
            Ok(reply) => reply,
            Err(PaymentError::Unavailable(e)) => return Err(WebhookError::Unconfirmed(e)),
            // Our own credentials were refused: nothing is known about the event, so PayPal
            // should try again once the configuration is fixed.
            Err(PaymentError::Refused(e))
                if e.starts_with(TOKEN_REFUSED) || e.starts_with(INVALID_TOKEN) =>
            {
                return Err(WebhookError::Unconfirmed(e))
            }
            Err(PaymentError::Refused(e)) => return Err(WebhookError::NotVerified(e)),
        };
        let answer: VerifyAnswer = serde_json::from_slice(&reply.body)
            .map_err(|e| WebhookError::Unconfirmed(format!("unreadable verify answer: {e}")))?;
        if answer.verification_status == "SUCCESS" {
            Ok(())
        } else {
            Err(WebhookError::NotVerified(format!(
                "PayPal's verify-webhook-signature said {}",
                answer.verification_status
            )))
        }
    }
}

#[async_trait::async_trait]
impl PaymentProvider for Paypal {
    /// The event's own `create_time`, for the webhook-lag metric.
    fn event_time_ms(&self, body: &[u8]) -> Option<i64> {
        super::json_event_time_ms(body, "create_time")
    }

    fn id(&self) -> ProviderId {
        PAYPAL
    }

    fn capabilities(&self) -> &Capabilities {
        &CAPABILITIES
    }

    async fn start(&self, request: &StartRequest) -> Result<Started, PaymentError> {
        let body = wire::create_order_body(request).to_string();
        let reply = self
            .call(|t| {
                self.json_request(reqwest::Method::POST, "/v2/checkout/orders", t)
                    .header("PayPal-Request-Id", &request.attempt_reference)
                    .body(body.clone())
            })
            .await?;
        let order: Order = http::json(PAYPAL, &reply)?;
        let url = link(&order, &["payer-action", "approve"]).ok_or_else(|| {
            PaymentError::Unavailable("PayPal returned an order without an approval link".into())
        })?;
        Ok(Started {
            session_id: order.id.clone(),
            next: NextStep::Redirect {
                url: url.to_string(),
            },
        })
    }

    fn check_signature(&self, headers: &HeaderMap, _body: &[u8]) -> Result<(), WebhookError> {
        for name in TRANSMISSION_HEADERS {
            let value = headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| WebhookError::NotVerified(format!("no {name} header")))?;
            if !well_formed(value) {
                return Err(WebhookError::NotVerified(format!(
                    "malformed {name} header"
                )));
            }
        }
        Ok(())
    }

    fn signature_checked_offline(&self) -> bool {
        false
    }

    async fn verify_webhook(
        &self,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Option<PaymentUpdate>, WebhookError> {
        self.check_signature(headers, body)?;
        let event: Event = serde_json::from_slice(body)
            .map_err(|e| WebhookError::NotVerified(format!("not a PayPal event: {e}")))?;
        self.verify_transmission(headers, body).await?;
        let payload = || String::from_utf8_lossy(body).into_owned();
        let kind = event.event_type.clone();
        match kind.as_str() {
            "CHECKOUT.ORDER.APPROVED" => {
                let order: Order = serde_json::from_value(event.resource.clone())
                    .map_err(|e| WebhookError::NotVerified(format!("not an order: {e}")))?;
                let Some(attempt) = invoice_of(&order).map(str::to_string) else {
                    return Ok(None);
                };
                // The event only says the buyer approved; the capture (once) makes it money.
                let update = self
                    .capture_once(
                        &attempt,
                        order,
                        payload(),
                        event.id.clone(),
                        Source::Webhook,
                        kind,
                    )
                    .await
                    .map_err(|e| WebhookError::Unconfirmed(e.to_string()))?;
                Ok(Some(update))
            }
            "PAYMENT.CAPTURE.COMPLETED"
            | "PAYMENT.CAPTURE.PENDING"
            | "PAYMENT.CAPTURE.DENIED"
            | "PAYMENT.CAPTURE.DECLINED" => {
                let capture: Capture = serde_json::from_value(event.resource.clone())
                    .map_err(|e| WebhookError::NotVerified(format!("not a capture: {e}")))?;
                let Some(attempt) = capture.invoice_id.clone() else {
                    return Ok(None);
                };
                let outcome = match kind.as_str() {
                    "PAYMENT.CAPTURE.DENIED" | "PAYMENT.CAPTURE.DECLINED" => Outcome::Failed,
                    _ => capture_outcome(&capture),
                };
                Ok(Some(PaymentUpdate {
                    provider: PAYPAL,
                    attempt_reference: attempt,
                    session_id: capture.order_id().map(str::to_string),
                    event_id: event.id.clone(),
                    source: Source::Webhook,
                    kind,
                    outcome,
                    payload: payload(),
                    payment_id: Some(capture.id.clone()),
                }))
            }
            "PAYMENT.CAPTURE.REFUNDED" | "PAYMENT.REFUND.PENDING" | "PAYMENT.REFUND.FAILED" => {
                let refund: Refund = serde_json::from_value(event.resource.clone())
                    .map_err(|e| WebhookError::NotVerified(format!("not a refund: {e}")))?;
                // The refund's invoice_id starts with the attempt; the shop's refund key (its
                // `custom_id`) says which of the attempt's refunds this is.
                let Some(attempt) = refund
                    .invoice_id
                    .as_deref()
                    .and_then(wire::attempt_of_invoice)
                    .map(str::to_string)
                else {
                    return Ok(None);
                };
                let money = refund.amount.as_ref();
                let (amount_minor, currency) = match money.and_then(|a| a.to_money()) {
                    Some(m) => (m.minor, m.currency.code().to_string()),
                    None => (
                        -1,
                        money.map(|a| a.currency_code.clone()).unwrap_or_default(),
                    ),
                };
                let state = match kind.as_str() {
                    "PAYMENT.REFUND.FAILED" => RefundState::Failed(
                        refund
                            .status_details
                            .as_ref()
                            .and_then(|d| d.reason.clone())
                            .unwrap_or_else(|| "FAILED".into()),
                    ),
                    _ => refund_state(&refund),
                };
                Ok(Some(PaymentUpdate {
                    provider: PAYPAL,
                    attempt_reference: attempt,
                    session_id: None,
                    event_id: event.id.clone(),
                    source: Source::Webhook,
                    kind,
                    outcome: Outcome::Refund(RefundReport {
                        refund_id: refund.id.clone(),
                        refund_key: refund.custom_id.clone(),
                        state,
                        amount_minor,
                        currency,
                    }),
                    payload: payload(),
                    payment_id: refund.capture_id(),
                }))
            }
            _ => Ok(None),
        }
    }

    async fn lookup(&self, attempt: AttemptRef<'_>) -> Result<PaymentUpdate, PaymentError> {
        self.settle(attempt, true).await
    }

    /// The shopper is back (`?token={order id}&PayerID=…`). Nothing they carry is trusted: the
    /// order is looked up and, if approved, captured through the once-only claim.
    async fn complete_return(
        &self,
        attempt: AttemptRef<'_>,
        _params: &[(String, String)],
    ) -> Result<PaymentUpdate, PaymentError> {
        self.settle(attempt, true).await
    }

    /// PayPal cannot close an order; the shop abandons it instead. The attempt is already
    /// `cancelling`, so no new capture can claim it: an order the shopper has not approved is
    /// reported cancelled, a completed one as what it is. An **approved** one stays pending (the
    /// cancel is refused): a capture claimed a moment earlier may be in flight, and abandoning the
    /// order under it would take the money for a cancelled order. The return, the webhook or the
    /// reconciler captures it, and a refund undoes it.
    async fn cancel(&self, attempt: AttemptRef<'_>) -> Result<PaymentUpdate, PaymentError> {
        let mut update = self.settle(attempt, false).await?;
        // `settle` without capturing names the order's status in `kind`.
        let approved = update.kind == "order APPROVED";
        if update.outcome == Outcome::Pending && !approved {
            update.outcome = Outcome::Cancelled;
            update.source = Source::Cancel;
            update.event_id = format!("cancel:{}", update.session_id.clone().unwrap_or_default());
            update.kind = format!("{}; abandoned by the shop", update.kind);
        }
        Ok(update)
    }

    async fn refund(&self, request: &RefundRequest<'_>) -> Result<RefundOutcome, PaymentError> {
        let capture_id = match request.payment_id {
            Some(id) => id.to_string(),
            None => {
                let order_id = request.attempt.session_id.ok_or_else(|| {
                    PaymentError::Refused("the attempt has no PayPal order".into())
                })?;
                let (order, _) = self.get_order(order_id).await?;
                first_capture(&order).map(|c| c.id.clone()).ok_or_else(|| {
                    PaymentError::Refused("the order has no capture to refund".into())
                })?
            }
        };
        let id = wire::path_segment(&capture_id)
            .ok_or_else(|| PaymentError::Refused(format!("not a capture id: {capture_id:?}")))?;
        let path = format!("/v2/payments/captures/{id}/refund");
        let body = wire::refund_body(
            request.amount,
            request.attempt.reference,
            request.idempotency_key,
            request.reason,
        )
        .to_string();
        // `PayPal-Request-Id` = the refund's key: a retry of the same refund (same key, same
        // body) is answered with the first refund for 45 days.
        let reply = self
            .call(|t| {
                self.json_request(reqwest::Method::POST, &path, t)
                    .header("PayPal-Request-Id", request.idempotency_key)
                    .body(body.clone())
            })
            .await
            .map_err(|e| {
                if has_issue(&e, "DUPLICATE_INVOICE_ID") {
                    // This refund's invoice_id is its own (derived from its key): PayPal has
                    // seen it, so this refund was made before. Never a refusal that would free
                    // the amount for a second refund; it stays pending for a person to check.
                    PaymentError::Unavailable(format!(
                        "PayPal says this refund was already made (DUPLICATE_INVOICE_ID): {e}"
                    ))
                } else {
                    e
                }
            })?;
        let refund: Refund = http::json(PAYPAL, &reply)?;
        Ok(refund_outcome(
            &refund,
            String::from_utf8_lossy(&reply.body).into_owned(),
        ))
    }

    async fn lookup_refund(
        &self,
        _attempt: AttemptRef<'_>,
        refund_id: &str,
    ) -> Result<RefundOutcome, PaymentError> {
        let id = wire::path_segment(refund_id)
            .ok_or_else(|| PaymentError::Refused(format!("not a refund id: {refund_id:?}")))?;
        let path = format!("/v2/payments/refunds/{id}");
        let reply = self
            .call(|t| self.json_request(reqwest::Method::GET, &path, t))
            .await?;
        let refund: Refund = http::json(PAYPAL, &reply)?;
        Ok(refund_outcome(
            &refund,
            String::from_utf8_lossy(&reply.body).into_owned(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn capture(status: &str, value: &str, code: &str) -> Capture {
        Capture {
            id: "3C6".into(),
            status: Some(status.into()),
            amount: Some(Amount {
                currency_code: code.into(),
                value: value.into(),
            }),
            ..Capture::default()
        }
    }

    #[test]
    fn only_a_completed_capture_is_paid() {
        assert_eq!(
            capture_outcome(&capture("COMPLETED", "36.00", "USD")),
            Outcome::paid(3600, "USD")
        );
        assert_eq!(
            capture_outcome(&capture("COMPLETED", "1500", "JPY")),
            Outcome::paid(1500, "JPY")
        );
        assert_eq!(
            capture_outcome(&capture("PENDING", "1", "USD")),
            Outcome::Pending
        );
        assert_eq!(
            capture_outcome(&capture("DECLINED", "1", "USD")),
            Outcome::Failed
        );
        assert!(matches!(
            capture_outcome(&capture("ON_HOLD", "1", "USD")),
            Outcome::Unrecognised(_)
        ));
        // A currency the shop does not sell in can never match a quote.
        assert_eq!(
            capture_outcome(&capture("COMPLETED", "36.00", "GBP")),
            Outcome::paid(-1, "GBP")
        );
    }

    #[test]
    fn an_order_waits_until_it_is_captured() {
        let order = |status: &str| Order {
            id: "5O1".into(),
            status: Some(status.into()),
            ..Order::default()
        };
        for status in ["CREATED", "PAYER_ACTION_REQUIRED", "APPROVED"] {
            assert_eq!(order_outcome(&order(status)), Outcome::Pending, "{status}");
        }
        assert_eq!(order_outcome(&order("VOIDED")), Outcome::Cancelled);
        assert!(matches!(
            order_outcome(&order("COMPLETED")),
            Outcome::Unrecognised(_)
        ));
    }

    #[test]
    fn errors_keep_paypals_issue_and_token_refusals_are_recognised() {
        let detail = error_detail(
            br#"{"name":"UNPROCESSABLE_ENTITY","message":"declined","debug_id":"d1","details":[{"issue":"INSTRUMENT_DECLINED"}]}"#,
        )
        .unwrap();
        assert!(has_issue(
            &PaymentError::Refused(detail.clone()),
            "INSTRUMENT_DECLINED"
        ));
        assert!(!has_issue(
            &PaymentError::Refused(detail),
            "ORDER_ALREADY_CAPTURED"
        ));
        let detail =
            error_detail(br#"{"error":"invalid_token","error_description":"Token expired"}"#)
                .unwrap();
        assert!(detail.starts_with(INVALID_TOKEN));
    }

    #[test]
    fn webhook_headers_must_be_present_and_plain() {
        assert!(well_formed("SHA256withRSA"));
        assert!(!well_formed(""));
        assert!(!well_formed("a b"));
        assert!(!well_formed("line\nbreak"));
    }
}
