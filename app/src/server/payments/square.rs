//! Square Checkout API payment links (docs/payments.md#square): a payment link is created from an order
//! whose `reference_id` is the attempt and whose `idempotency_key` is the attempt's key; the
//! shopper pays on Square's page and comes back to the shop's return URL. The attempt's provider
//! session id is the Square **order id**: payments and refunds name it (`order_id`), lookups read
//! `GET /v2/orders/{id}` and then `GET /v2/payments/{id}` for its tender.
//!
//! Webhooks (`payment.created`, `payment.updated`, `refund.updated`) are
//! verified with `x-square-hmacsha256-signature` over `SQUARE_WEBHOOK_URL` exactly as configured
//! plus the raw body. A payment names only its order, so the attempt is found by reading the order
//! from Square (`reference_id`), and the order id must match the attempt's stored one.
//!
//! **Cancel.** The attempt keeps one provider id, the order id (what payments and webhooks name),
//! and Square offers no way from an order to its payment link, so the link cannot be deleted
//! (`DELETE /v2/online-checkout/payment-links/{id}` needs the link's id). The shop abandons the
//! order instead: a cancel looks the order up and, when nothing is paid, reports it cancelled; a
//! payment made later on the still-open link is a late payment the shop puts in front of a person
//! (`closes_sessions` is false).

pub mod config;
pub mod signature;
mod wire;

use super::http::{self, Reply};
use super::kernel::Registration;
use super::{
    AttemptRef, Capabilities, NextStep, Outcome, PaymentError, PaymentProvider, PaymentUpdate,
    RefundOutcome, RefundReport, RefundRequest, RefundState, Source, StartRequest, Started,
    WebhookError,
};
use crate::model::{Currency, ProviderId};
use crate::server::payments::kernel::sandbox_keys;
use axum::http::HeaderMap;
use secrecy::{ExposeSecret, SecretString};
use wire::{
    ApiError, Event, Order, OrderAnswer, Payment, PaymentAnswer, PaymentLinkAnswer, Refund,
    RefundAnswer,
};

pub use wire::SqMoney;

pub const REGISTRATION: Registration = Registration {
    id: ProviderId::Square,
    configure: config::configure,
    published_keys: &[
        ("SQUARE_ACCESS_TOKEN", sandbox_keys::SQUARE_ACCESS_TOKEN),
        ("SQUARE_LOCATION_ID", sandbox_keys::SQUARE_LOCATION_ID),
        (
            "SQUARE_WEBHOOK_SIGNATURE_KEY",
            sandbox_keys::SQUARE_WEBHOOK_SIGNATURE_KEY,
        ),
    ],
};

const SQUARE: ProviderId = ProviderId::Square;

/// The `Square-Version` the wire types follow (what the current SDKs send).
pub const API_VERSION: &str = "2026-09-16";

/// A Square location settles in its own country's currency only, so the shop offers Square in
/// the one currency of `SQUARE_LOCATION_ID` (`SQUARE_CURRENCY`: USD by default, EUR or JPY). Square
/// takes neither BDT nor CNY. Card payments start at 1.00 (¥100); the top only keeps totals sane.
const fn capabilities(currency: &'static [(Currency, i64, i64)]) -> Capabilities {
    Capabilities {
        currencies: currency,
        // `POST /v2/refunds`, full or partial, as long as something is left.
        refunds: true,
        partial_refunds: true,
        // `idempotency_key` = the refund's key: Square answers a repeat with the first refund.
        idempotent_refunds: true,
        // See the module notes: the payment link is abandoned, not deleted.
        closes_sessions: false,
    }
}
static USD: Capabilities = capabilities(&[(Currency::Usd, 100, 99_999_999)]);
static EUR: Capabilities = capabilities(&[(Currency::Eur, 100, 99_999_999)]);
static JPY: Capabilities = capabilities(&[(Currency::Jpy, 100, 99_999_999)]);

pub struct Square {
    http: reqwest::Client,
    base: String,
    token: SecretString,
    location_id: String,
    signature_key: SecretString,
    notification_url: String,
    capabilities: &'static Capabilities,
}

/// Square's error list, for the log: `CATEGORY/CODE: detail` for each.
fn error_detail(body: &[u8]) -> Option<String> {
    let e: ApiError = serde_json::from_slice(body).ok()?;
    if e.errors.is_empty() {
        return None;
    }
    Some(
        e.errors
            .iter()
            .map(|i| {
                format!(
                    "{}/{}: {}{}",
                    i.category,
                    i.code,
                    i.detail.as_deref().unwrap_or(""),
                    i.field
                        .as_deref()
                        .map(|f| format!(" ({f})"))
                        .unwrap_or_default()
                )
            })
            .collect::<Vec<_>>()
            .join("; "),
    )
}

/// What a payment's status says.
fn payment_outcome(payment: &Payment) -> Outcome {
    match payment.status.as_deref() {
        Some("COMPLETED") => match payment.charged() {
            Some(money) => match money.to_money() {
                Some(m) => Outcome::paid(m.minor, m.currency.code()),
                // A currency the shop does not sell in can only mismatch the quote: review.
                None => Outcome::paid(-1, money.currency.to_ascii_uppercase()),
            },
            None => Outcome::paid(-1, ""),
        },
        // APPROVED is authorised but not captured (payment links capture at once).
        Some("APPROVED") | Some("PENDING") => Outcome::Pending,
        Some("FAILED") => Outcome::Failed,
        Some("CANCELED") => Outcome::Cancelled,
        other => Outcome::Unrecognised(format!("payment status {}", other.unwrap_or("(none)"))),
    }
}

/// What an order without a paid tender says.
fn order_outcome(order: &Order) -> Outcome {
    match order.state.as_deref() {
        Some("DRAFT") | Some("OPEN") => Outcome::Pending,
        Some("CANCELED") => Outcome::Cancelled,
        // COMPLETED without a tender is not what a payment link makes: hold it for a person.
        other => Outcome::Unrecognised(format!("order state {}", other.unwrap_or("(none)"))),
    }
}

fn refund_state(refund: &Refund) -> RefundState {
    match refund.status.as_deref() {
        Some("COMPLETED") => RefundState::Succeeded,
        Some("REJECTED") | Some("FAILED") => {
            RefundState::Failed(refund.status.clone().unwrap_or_default())
        }
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

fn payload_of(reply: &Reply) -> String {
    String::from_utf8_lossy(&reply.body).into_owned()
}

impl Square {
    pub fn new(
        http: reqwest::Client,
        base: String,
        token: SecretString,
        location_id: String,
        signature_key: SecretString,
        notification_url: String,
        currency: Currency,
    ) -> Square {
        let capabilities = match currency {
            Currency::Eur => &EUR,
            Currency::Jpy => &JPY,
            _ => &USD,
        };
        Square {
            http,
            base,
            token,
            location_id,
            signature_key,
            notification_url,
            capabilities,
        }
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(self.token.expose_secret())
            .header("Square-Version", API_VERSION)
            .header("content-type", "application/json")
            .header("accept", "application/json")
    }

    async fn call(&self, request: reqwest::RequestBuilder) -> Result<Reply, PaymentError> {
        http::send(SQUARE, request, error_detail).await
    }

    async fn get_order(&self, order_id: &str) -> Result<(Order, String), PaymentError> {
        let id = wire::path_segment(order_id)
            .ok_or_else(|| PaymentError::Refused(format!("not an order id: {order_id:?}")))?;
        let reply = self
            .call(self.request(reqwest::Method::GET, &format!("/v2/orders/{id}")))
            .await?;
        let answer: OrderAnswer = http::json(SQUARE, &reply)?;
        Ok((answer.order, payload_of(&reply)))
    }

    async fn get_payment(&self, payment_id: &str) -> Result<(Payment, String), PaymentError> {
        let id = wire::path_segment(payment_id)
            .ok_or_else(|| PaymentError::Refused(format!("not a payment id: {payment_id:?}")))?;
        let reply = self
            .call(self.request(reqwest::Method::GET, &format!("/v2/payments/{id}")))
            .await?;
        let answer: PaymentAnswer = http::json(SQUARE, &reply)?;
        Ok((answer.payment, payload_of(&reply)))
    }

    /// The order's paid tender's payment, if it has one.
    async fn order_payment(
        &self,
        order: &Order,
    ) -> Result<Option<(Payment, String)>, PaymentError> {
        let Some(payment_id) = order.tenders.iter().find_map(|t| t.payment_id.clone()) else {
            return Ok(None);
        };
        Ok(Some(self.get_payment(&payment_id).await?))
    }

    /// The attempt a signed statement about `order_id` is for: the order's `reference_id`, as
    /// Square reports it now.
    async fn attempt_of_order(&self, order_id: &str) -> Result<Option<String>, WebhookError> {
        match self.get_order(order_id).await {
            Ok((order, _)) => Ok(order.reference_id),
            // Not this account's order (or not an order at all): nothing the shop knows.
            Err(PaymentError::Refused(_)) => Ok(None),
            Err(PaymentError::Unavailable(e)) => Err(WebhookError::Unconfirmed(e)),
        }
    }
}

#[async_trait::async_trait]
impl PaymentProvider for Square {
    /// The event's own `created_at`, for the webhook-lag metric.
    fn event_time_ms(&self, body: &[u8]) -> Option<i64> {
        super::json_event_time_ms(body, "created_at")
    }

    fn id(&self) -> ProviderId {
        SQUARE
    }

    fn capabilities(&self) -> &Capabilities {
        self.capabilities
    }

    async fn start(&self, request: &StartRequest) -> Result<Started, PaymentError> {
        let body = wire::create_link_body(request, &self.location_id).to_string();
        let reply = self
            .call(
                self.request(reqwest::Method::POST, "/v2/online-checkout/payment-links")
                    .body(body),
            )
            .await?;
        let answer: PaymentLinkAnswer = http::json(SQUARE, &reply)?;
        let link = answer.payment_link;
        let (Some(order_id), Some(url)) = (link.order_id, link.url) else {
            return Err(PaymentError::Unavailable(
                "Square returned a payment link without an order or a url".into(),
            ));
        };
        Ok(Started {
            session_id: order_id,
            next: NextStep::Redirect { url },
        })
    }

    fn check_signature(&self, headers: &HeaderMap, body: &[u8]) -> Result<(), WebhookError> {
        let header = headers
            .get(signature::HEADER)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| {
                WebhookError::NotVerified("no x-square-hmacsha256-signature header".into())
            })?;
        signature::verify(
            header,
            self.signature_key.expose_secret(),
            &self.notification_url,
            body,
        )
        .map_err(|e| WebhookError::NotVerified(e.to_string()))
    }

    async fn verify_webhook(
        &self,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Option<PaymentUpdate>, WebhookError> {
        self.check_signature(headers, body)?;
        let event: Event = serde_json::from_slice(body)
            .map_err(|e| WebhookError::NotVerified(format!("not a Square event: {e}")))?;
        let payload = String::from_utf8_lossy(body).into_owned();
        match event.kind.as_str() {
            "payment.created" | "payment.updated" => {
                let payment: Payment = serde_json::from_value(event.data.object["payment"].clone())
                    .map_err(|e| WebhookError::NotVerified(format!("not a payment: {e}")))?;
                let Some(order_id) = payment.order_id.clone() else {
                    return Ok(None);
                };
                let Some(attempt) = self.attempt_of_order(&order_id).await? else {
                    return Ok(None);
                };
                Ok(Some(PaymentUpdate {
                    provider: SQUARE,
                    attempt_reference: attempt,
                    session_id: Some(order_id),
                    event_id: event.event_id.clone(),
                    source: Source::Webhook,
                    kind: format!(
                        "{} {}",
                        event.kind,
                        payment.status.as_deref().unwrap_or("(no status)")
                    ),
                    outcome: payment_outcome(&payment),
                    payload,
                    payment_id: Some(payment.id.clone()),
                }))
            }
            // `refund.created` is not used: the answer to the shop's own `POST /v2/refunds` (and
            // `lookup_refund`) covers the shop's refunds, and `refund.updated` says how any refund
            // ended. Square does not echo the shop's refund key, so a `refund.updated` that
            // overtakes that answer is matched with the shop's pending refund of the same amount
            // (`services::refunds`), never recorded as a second refund.
            "refund.updated" => {
                let refund: Refund = serde_json::from_value(event.data.object["refund"].clone())
                    .map_err(|e| WebhookError::NotVerified(format!("not a refund: {e}")))?;
                let Some(order_id) = refund.order_id.clone() else {
                    return Ok(None);
                };
                let Some(attempt) = self.attempt_of_order(&order_id).await? else {
                    return Ok(None);
                };
                let money = refund.amount_money.clone().unwrap_or_default();
                let (amount_minor, currency) = match money.to_money() {
                    Some(m) => (m.minor, m.currency.code().to_string()),
                    None => (-1, money.currency.to_ascii_uppercase()),
                };
                Ok(Some(PaymentUpdate {
                    provider: SQUARE,
                    attempt_reference: attempt,
                    session_id: Some(order_id),
                    event_id: event.event_id.clone(),
                    source: Source::Webhook,
                    kind: event.kind.clone(),
                    outcome: Outcome::Refund(RefundReport {
                        refund_id: refund.id.clone(),
                        refund_key: None,
                        state: refund_state(&refund),
                        amount_minor,
                        currency,
                    }),
                    payload,
                    payment_id: refund.payment_id.clone(),
                }))
            }
            _ => Ok(None),
        }
    }

    async fn lookup(&self, attempt: AttemptRef<'_>) -> Result<PaymentUpdate, PaymentError> {
        let Some(order_id) = attempt.session_id else {
            return Err(PaymentError::Unavailable(format!(
                "{} has no Square order to look up",
                attempt.reference
            )));
        };
        let (order, order_payload) = self.get_order(order_id).await?;
        let (outcome, kind, payload, payment_id) = match self.order_payment(&order).await? {
            Some((payment, payload)) => (
                payment_outcome(&payment),
                format!(
                    "payment {}",
                    payment.status.as_deref().unwrap_or("(no status)")
                ),
                payload,
                Some(payment.id.clone()),
            ),
            None => (
                order_outcome(&order),
                format!("order {}", order.state.as_deref().unwrap_or("(no state)")),
                order_payload,
                None,
            ),
        };
        Ok(PaymentUpdate {
            provider: SQUARE,
            attempt_reference: attempt.reference.to_string(),
            session_id: Some(order.id.clone()),
            event_id: format!(
                "lookup:{}:{}",
                order.id,
                payment_id.as_deref().unwrap_or(kind.as_str())
            ),
            source: Source::Lookup,
            kind,
            outcome,
            payload,
            payment_id,
        })
    }

    /// Square's payment link cannot be found from the order (see the module notes).
    async fn cancel(&self, attempt: AttemptRef<'_>) -> Result<PaymentUpdate, PaymentError> {
        Ok(self.lookup(attempt).await?.abandoned_unless_paid())
    }

    async fn refund(&self, request: &RefundRequest<'_>) -> Result<RefundOutcome, PaymentError> {
        let payment_id = match request.payment_id {
            Some(id) => id.to_string(),
            None => {
                let order_id = request.attempt.session_id.ok_or_else(|| {
                    PaymentError::Refused("the attempt has no Square order".into())
                })?;
                let (order, _) = self.get_order(order_id).await?;
                order
                    .tenders
                    .iter()
                    .find_map(|t| t.payment_id.clone())
                    .ok_or_else(|| {
                        PaymentError::Refused("the order has no payment to refund".into())
                    })?
            }
        };
        let body = wire::refund_body(
            &payment_id,
            request.amount,
            request.idempotency_key,
            request.reason,
        )
        .to_string();
        let reply = self
            .call(
                self.request(reqwest::Method::POST, "/v2/refunds")
                    .body(body),
            )
            .await?;
        let answer: RefundAnswer = http::json(SQUARE, &reply)?;
        Ok(refund_outcome(&answer.refund, payload_of(&reply)))
    }

    async fn lookup_refund(
        &self,
        _attempt: AttemptRef<'_>,
        refund_id: &str,
    ) -> Result<RefundOutcome, PaymentError> {
        let id = wire::path_segment(refund_id)
            .ok_or_else(|| PaymentError::Refused(format!("not a refund id: {refund_id:?}")))?;
        let reply = self
            .call(self.request(reqwest::Method::GET, &format!("/v2/refunds/{id}")))
            .await?;
        let answer: RefundAnswer = http::json(SQUARE, &reply)?;
        Ok(refund_outcome(&answer.refund, payload_of(&reply)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wire::SqMoney;

    fn payment(status: &str, amount: i64, currency: &str) -> Payment {
        Payment {
            id: "P1".into(),
            status: Some(status.into()),
            amount_money: Some(SqMoney {
                amount,
                currency: currency.into(),
            }),
            total_money: None,
            order_id: Some("O1".into()),
        }
    }

    #[test]
    fn square_only_a_completed_payment_is_paid() {
        assert_eq!(
            payment_outcome(&payment("COMPLETED", 3600, "USD")),
            Outcome::paid(3600, "USD")
        );
        assert_eq!(
            payment_outcome(&payment("COMPLETED", 1500, "JPY")),
            Outcome::paid(1500, "JPY")
        );
        assert_eq!(
            payment_outcome(&payment("COMPLETED", 3600, "GBP")),
            Outcome::paid(-1, "GBP")
        );
        assert_eq!(
            payment_outcome(&payment("APPROVED", 1, "USD")),
            Outcome::Pending
        );
        assert_eq!(
            payment_outcome(&payment("FAILED", 1, "USD")),
            Outcome::Failed
        );
        assert_eq!(
            payment_outcome(&payment("CANCELED", 1, "USD")),
            Outcome::Cancelled
        );
        assert!(matches!(
            payment_outcome(&payment("WEIRD", 1, "USD")),
            Outcome::Unrecognised(_)
        ));
        let mut tipped = payment("COMPLETED", 3600, "USD");
        tipped.total_money = Some(SqMoney {
            amount: 4000,
            currency: "USD".into(),
        });
        assert_eq!(payment_outcome(&tipped), Outcome::paid(4000, "USD"));
    }

    #[test]
    fn square_orders_and_refunds_map_to_states() {
        let order = |state: &str| Order {
            id: "O1".into(),
            state: Some(state.into()),
            ..Order::default()
        };
        assert_eq!(order_outcome(&order("DRAFT")), Outcome::Pending);
        assert_eq!(order_outcome(&order("OPEN")), Outcome::Pending);
        assert_eq!(order_outcome(&order("CANCELED")), Outcome::Cancelled);
        assert!(matches!(
            order_outcome(&order("COMPLETED")),
            Outcome::Unrecognised(_)
        ));
        let refund = |status: &str| Refund {
            id: "R1".into(),
            status: Some(status.into()),
            ..Refund::default()
        };
        assert_eq!(refund_state(&refund("COMPLETED")), RefundState::Succeeded);
        assert_eq!(refund_state(&refund("PENDING")), RefundState::Pending);
        assert!(matches!(
            refund_state(&refund("REJECTED")),
            RefundState::Failed(_)
        ));
    }

    #[test]
    fn square_errors_keep_category_and_code() {
        let d = error_detail(
            br#"{"errors":[{"category":"INVALID_REQUEST_ERROR","code":"CURRENCY_MISMATCH","detail":"no","field":"order"}]}"#,
        )
        .unwrap();
        assert_eq!(d, "INVALID_REQUEST_ERROR/CURRENCY_MISMATCH: no (order)");
        assert_eq!(error_detail(b"{}"), None);
    }
}
