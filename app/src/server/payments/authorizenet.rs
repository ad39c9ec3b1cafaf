//! Authorize.Net Accept Hosted (docs/payments.md#authorizenet): `getHostedPaymentPageRequest` gives a form token
//! the shopper's browser posts to the hosted form; `X-ANET-Signature` (HMAC-SHA512) webhooks,
//! each confirmed by `getTransactionDetailsRequest` before anything changes; lookups by invoice
//! number through the unsettled list and the last days' settled batches; refunds with
//! `refundTransaction` (settled) or `voidTransaction` (unsettled, whole amount).
//!
//! The attempt reference `ORD-000123-A1-K7QX2M`, without its `ORD-`, is the transaction's
//! `order.invoiceNumber` (at most 20 characters, see [`invoice_number`]) and the session id the
//! shop stores. The account settles in one currency: this
//! module takes USD only.

pub mod config;
pub mod signature;
pub mod wire;

use super::http;
use super::kernel::Registration;
use super::reference;
use super::{
    AttemptRef, Capabilities, NextStep, Outcome, PaymentError, PaymentProvider, PaymentUpdate,
    RefundOutcome, RefundRequest, RefundState, Source, StartRequest, Started, WebhookError,
};
use crate::model::{Currency, ProviderId};
use crate::server::payments::kernel::sandbox_keys;
use axum::http::HeaderMap;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use wire::{Node, Result_};

pub const REGISTRATION: Registration = Registration {
    id: ProviderId::AuthorizeNet,
    configure: config::configure,
    published_keys: &[
        (
            "AUTHORIZENET_API_LOGIN_ID",
            sandbox_keys::AUTHORIZENET_API_LOGIN_ID,
        ),
        (
            "AUTHORIZENET_TRANSACTION_KEY",
            sandbox_keys::AUTHORIZENET_TRANSACTION_KEY,
        ),
        (
            "AUTHORIZENET_SIGNATURE_KEY",
            sandbox_keys::AUTHORIZENET_SIGNATURE_KEY,
        ),
    ],
};

/// The API's one path under its root (`https://apitest.authorize.net`).
pub const API_PATH: &str = "/xml/v1/request.api";
/// The hosted form's path under a self-hosted root (and the built-in sandbox).
pub const FORM_PATH: &str = "/payment/payment";
/// Authorize.Net's limit on `order.invoiceNumber`.
pub const MAX_INVOICE: usize = 20;
/// The invoice number an attempt goes by: its reference, less the `ORD-` of a reference with an
/// installation tag (`000123-A1-K7QX2M`), so that orders up to 9,999,999 with up to 99 attempts
/// fit the 20 characters. Attempts made before tags keep their whole reference.
pub fn invoice_number(attempt_reference: &str) -> &str {
    match reference::tag_of(attempt_reference) {
        Some(_) => attempt_reference
            .strip_prefix("ORD-")
            .unwrap_or(attempt_reference),
        None => attempt_reference,
    }
}

/// The attempt reference an invoice number stands for ([`invoice_number`] undone).
fn attempt_reference_of(invoice: &str) -> String {
    if reference::tag_of(invoice).is_some() && !invoice.starts_with("ORD-") {
        format!("ORD-{invoice}")
    } else {
        invoice.to_string()
    }
}

/// How far back a lookup searches settled batches.
const SETTLED_DAYS: i64 = 2;

/// USD, the merchant account's currency (Authorize.Net charges in the account's currency; an
/// account in another currency would need its own entry here).
static CAPABILITIES: Capabilities = Capabilities {
    currencies: &[(Currency::Usd, 1, 99_999_999)],
    // `refundTransaction` once settled (partial allowed), `voidTransaction` for the whole amount
    // before that.
    refunds: true,
    partial_refunds: true,
    // No idempotency key: a refund whose answer was lost waits for a person (the refunds service
    // keeps its pending row) instead of being sent again and perhaps paid twice.
    idempotent_refunds: false,
    // A form token cannot be withdrawn; it lapses after 15 minutes.
    closes_sessions: false,
};

pub struct AuthorizeNet {
    http: reqwest::Client,
    /// `{root}/xml/v1/request.api`.
    api_url: String,
    /// Where the browser posts the token.
    form_url: String,
    login: String,
    transaction_key: SecretString,
    signature_key: SecretString,
}

/// What a transaction's status means for the order.
fn outcome_of(transaction: &Value) -> Outcome {
    let status = transaction["transactionStatus"].as_str().unwrap_or("");
    match status {
        "capturedPendingSettlement" | "settledSuccessfully" => {
            let settled = wire::amount_minor(&transaction["settleAmount"]).filter(|a| *a > 0);
            let amount = settled
                .or_else(|| wire::amount_minor(&transaction["authAmount"]))
                .unwrap_or(-1);
            Outcome::paid(amount, "USD")
        }
        "authorizedPendingCapture"
        | "FDSPendingReview"
        | "FDSAuthorizedPendingReview"
        | "underReview"
        | "pendingFinalSettlement"
        | "pendingSettlement" => Outcome::Pending,
        "declined" | "expired" | "generalError" | "failedReview" | "settlementError"
        | "communicationError" => Outcome::Failed,
        "voided" => Outcome::Cancelled,
        other => Outcome::Unrecognised(format!("transaction status {other}")),
    }
}

/// How strongly a transaction speaks for its invoice: a payment beats a hold beats a decline.
fn weight(outcome: &Outcome) -> u8 {
    match outcome {
        Outcome::Paid { .. } => 4,
        Outcome::Unrecognised(_) => 3,
        Outcome::Pending => 2,
        _ => 1,
    }
}

/// `XXXX1111` → `1111`.
fn last_four(masked: &str) -> Option<String> {
    let digits: String = masked.chars().filter(char::is_ascii_digit).collect();
    (digits.len() >= 4).then(|| digits[digits.len() - 4..].to_string())
}

fn date_text(secs: i64) -> String {
    let t =
        time::OffsetDateTime::from_unix_timestamp(secs).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

fn busy(code: &str) -> bool {
    // E00001 an error occurred during processing; E00053 server too busy.
    matches!(code, "E00001" | "E00053")
}

impl AuthorizeNet {
    pub fn new(
        http: reqwest::Client,
        api_url: String,
        form_url: String,
        login: String,
        transaction_key: SecretString,
        signature_key: SecretString,
    ) -> AuthorizeNet {
        AuthorizeNet {
            http,
            api_url,
            form_url,
            login,
            transaction_key,
            signature_key,
        }
    }

    /// Send a request and read the answer (past its byte-order mark), whatever its resultCode.
    async fn send(&self, name: &str, fields: Vec<(&str, Node)>) -> Result<Value, PaymentError> {
        let body = wire::request(
            name,
            &self.login,
            self.transaction_key.expose_secret(),
            fields,
        )
        .to_json();
        let request = self
            .http
            .post(&self.api_url)
            .header("content-type", "application/json")
            .body(body);
        // The API answers 200 even to refusals; any other status is its trouble.
        let reply = http::send(ProviderId::AuthorizeNet, request, |_| None)
            .await
            .map_err(|e| match e {
                PaymentError::Refused(detail) => PaymentError::Unavailable(detail),
                unavailable => unavailable,
            })?;
        wire::parse_answer(&reply.body).map_err(|e| {
            tracing::warn!(provider = "authorizenet", request = name, error = %e, "unreadable answer");
            PaymentError::Unavailable(format!("unexpected Authorize.Net answer to {name}: {e}"))
        })
    }

    /// Send a request; an `Error` result is a refusal (or, when the API is busy, unavailable).
    async fn call(&self, name: &str, fields: Vec<(&str, Node)>) -> Result<Value, PaymentError> {
        let answer = self.send(name, fields).await?;
        match wire::result_of(&answer) {
            Result_::Ok => Ok(answer),
            Result_::Error { code, text } => {
                tracing::warn!(provider = "authorizenet", request = name, %code, %text, "refused");
                let detail = format!("{code} {text}");
                Err(if busy(&code) {
                    PaymentError::Unavailable(detail)
                } else {
                    PaymentError::Refused(detail)
                })
            }
        }
    }

    /// `getTransactionDetailsRequest`: the transaction (`None`: no such transaction, E00040).
    async fn details(&self, trans_id: &str) -> Result<Option<Value>, PaymentError> {
        match self
            .call(
                "getTransactionDetailsRequest",
                vec![("transId", Node::s(trans_id))],
            )
            .await
        {
            Ok(answer) => Ok(Some(answer["transaction"].clone())),
            Err(PaymentError::Refused(detail)) if detail.starts_with("E00040") => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The ids of the transactions whose invoice number is `invoice`, in the unsettled list and
    /// the settled batches of the last [`SETTLED_DAYS`] days.
    async fn transaction_ids(&self, invoice: &str) -> Result<Vec<String>, PaymentError> {
        let mut ids = Vec::new();
        let mut collect = |answer: &Value| {
            let transactions = match &answer["transactions"] {
                Value::Object(o) if o.contains_key("transaction") => o["transaction"].clone(),
                other => other.clone(),
            };
            for t in wire::list(&transactions) {
                if wire::text(&t["invoiceNumber"]) == invoice {
                    let id = wire::text(&t["transId"]);
                    if !id.is_empty() && !ids.contains(&id) {
                        ids.push(id);
                    }
                }
            }
        };
        let unsettled = self
            .call("getUnsettledTransactionListRequest", vec![])
            .await?;
        collect(&unsettled);
        let now = super::now_secs();
        let batches = self
            .call(
                "getSettledBatchListRequest",
                vec![
                    ("includeStatistics", Node::s("false")),
                    (
                        "firstSettlementDate",
                        Node::s(date_text(now - SETTLED_DAYS * 86_400)),
                    ),
                    ("lastSettlementDate", Node::s(date_text(now))),
                ],
            )
            .await?;
        let batch_list = match &batches["batchList"] {
            Value::Object(o) if o.contains_key("batch") => o["batch"].clone(),
            other => other.clone(),
        };
        for batch in wire::list(&batch_list) {
            let batch_id = wire::text(&batch["batchId"]);
            if batch_id.is_empty() {
                continue;
            }
            let answer = self
                .call(
                    "getTransactionListRequest",
                    vec![("batchId", Node::s(batch_id))],
                )
                .await?;
            collect(&answer);
        }
        Ok(ids)
    }

    /// The payment transactions (not refunds) of the invoice, confirmed by their details.
    async fn payments_for(&self, invoice: &str) -> Result<Vec<Value>, PaymentError> {
        let mut found = Vec::new();
        for id in self.transaction_ids(invoice).await? {
            let Some(t) = self.details(&id).await? else {
                continue;
            };
            let is_refund = t["transactionType"].as_str() == Some("refundTransaction");
            if wire::text(&t["order"]["invoiceNumber"]) == invoice && !is_refund {
                found.push(t);
            }
        }
        Ok(found)
    }

    fn update(
        attempt_reference: &str,
        event_id: String,
        source: Source,
        kind: String,
        outcome: Outcome,
        payload: String,
        payment_id: Option<String>,
    ) -> PaymentUpdate {
        PaymentUpdate {
            provider: ProviderId::AuthorizeNet,
            attempt_reference: attempt_reference.to_string(),
            // The session id is the invoice number itself: the signature key and the
            // transaction details fetched with this shop's credentials tie a message to it.
            session_id: None,
            event_id,
            source,
            kind,
            outcome,
            payload,
            payment_id,
        }
    }

    fn signature_ok(&self, headers: &HeaderMap, body: &[u8]) -> Result<(), WebhookError> {
        let header = headers
            .get("x-anet-signature")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| WebhookError::NotVerified("no X-ANET-Signature header".into()))?;
        signature::verify(header, body, self.signature_key.expose_secret())
            .map_err(|e| WebhookError::NotVerified(e.to_string()))
    }

    /// The payment to refund: the stored transaction id, else the invoice's paid transaction.
    async fn paid_transaction(&self, request: &RefundRequest<'_>) -> Result<Value, PaymentError> {
        let invoice = invoice_number(request.attempt.reference);
        let transaction = match request.payment_id {
            Some(id) => self.details(id).await?,
            None => self
                .payments_for(invoice)
                .await?
                .into_iter()
                .find(|t| matches!(outcome_of(t), Outcome::Paid { .. })),
        };
        let transaction = transaction.ok_or_else(|| {
            PaymentError::Refused("Authorize.Net has no payment for this order".into())
        })?;
        if wire::text(&transaction["order"]["invoiceNumber"]) != invoice {
            return Err(PaymentError::Refused(
                "the transaction belongs to another invoice".into(),
            ));
        }
        Ok(transaction)
    }
}

/// What a `createTransactionRequest` answer says: the transaction id, or the refusal's words.
fn transaction_result(answer: &Value) -> Result<(String, String), String> {
    let response = &answer["transactionResponse"];
    let code = wire::text(&response["responseCode"]);
    let trans_id = wire::text(&response["transId"]);
    let errors = match &response["errors"] {
        Value::Object(o) if o.contains_key("error") => o["error"].clone(),
        other => other.clone(),
    };
    let error = wire::list(&errors).first().map(|e| {
        format!(
            "{} {}",
            wire::text(&e["errorCode"]),
            wire::text(&e["errorText"])
        )
    });
    match (wire::result_of(answer), code.as_str()) {
        (Result_::Ok, "1") => Ok((trans_id, code)),
        (Result_::Ok, "4") => Ok((trans_id, code)),
        (result, _) => Err(error.unwrap_or_else(|| match result {
            Result_::Error { code, text } => format!("{code} {text}"),
            Result_::Ok => format!("response code {code}"),
        })),
    }
}

#[async_trait::async_trait]
impl PaymentProvider for AuthorizeNet {
    /// The event's own `eventDate`, for the webhook-lag metric.
    fn event_time_ms(&self, body: &[u8]) -> Option<i64> {
        super::json_event_time_ms(body, "eventDate")
    }

    fn id(&self) -> ProviderId {
        ProviderId::AuthorizeNet
    }

    fn capabilities(&self) -> &Capabilities {
        &CAPABILITIES
    }

    async fn start(&self, request: &StartRequest) -> Result<Started, PaymentError> {
        let invoice = invoice_number(&request.attempt_reference);
        if invoice.len() > MAX_INVOICE {
            return Err(PaymentError::Refused(format!(
                "invoice number {invoice} is longer than Authorize.Net's {MAX_INVOICE} characters"
            )));
        }
        if request.total.currency != Currency::Usd {
            return Err(PaymentError::Refused(format!(
                "Authorize.Net takes USD here, not {}",
                request.total.currency.code()
            )));
        }
        let names: Vec<&str> = request.lines.iter().map(|l| l.name.as_str()).collect();
        let mut description = format!("{} {}", request.order_reference, names.join(", "));
        if description.chars().count() > 255 {
            description = format!("{} ({} items)", request.order_reference, names.len());
        }
        let json = |v: serde_json::Value| Node::s(v.to_string());
        let setting = |name: &str, value: Node| {
            Node::obj([("settingName", Node::s(name)), ("settingValue", value)])
        };
        let mut transaction = vec![
            ("transactionType", Node::s("authCaptureTransaction")),
            ("amount", Node::s(request.total.to_decimal_string())),
            (
                "order",
                Node::obj([
                    ("invoiceNumber", Node::s(invoice)),
                    ("description", Node::s(description)),
                ]),
            ),
        ];
        if !request.customer.email.is_empty() && request.customer.email.len() <= 255 {
            transaction.push((
                "customer",
                Node::obj([("email", Node::s(request.customer.email.clone()))]),
            ));
        }
        let settings = Node::obj([(
            "setting",
            Node::Arr(vec![
                setting(
                    "hostedPaymentReturnOptions",
                    json(serde_json::json!({
                        "showReceipt": false,
                        "url": request.urls.return_url,
                        "urlText": "Continue",
                        "cancelUrl": request.urls.cancel_url,
                        "cancelUrlText": "Cancel",
                    })),
                ),
                setting(
                    "hostedPaymentButtonOptions",
                    json(serde_json::json!({"text": "Pay"})),
                ),
                setting(
                    "hostedPaymentOrderOptions",
                    json(serde_json::json!({"show": true})),
                ),
                setting(
                    "hostedPaymentPaymentOptions",
                    json(
                        serde_json::json!({"cardCodeRequired": true, "showCreditCard": true, "showBankAccount": false}),
                    ),
                ),
            ]),
        )]);
        let ref_id: String = invoice.chars().take(20).collect();
        let answer = self
            .call(
                "getHostedPaymentPageRequest",
                vec![
                    ("refId", Node::s(ref_id)),
                    ("transactionRequest", Node::obj(transaction)),
                    ("hostedPaymentSettings", settings),
                ],
            )
            .await?;
        let token = wire::text(&answer["token"]);
        if token.is_empty() {
            return Err(PaymentError::Unavailable(
                "Authorize.Net answered without a form token".into(),
            ));
        }
        Ok(Started {
            session_id: invoice.to_string(),
            next: NextStep::PostForm {
                action: self.form_url.clone(),
                fields: vec![("token".into(), token)],
            },
        })
    }

    fn check_signature(&self, headers: &HeaderMap, body: &[u8]) -> Result<(), WebhookError> {
        self.signature_ok(headers, body)
    }

    async fn verify_webhook(
        &self,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Option<PaymentUpdate>, WebhookError> {
        self.signature_ok(headers, body)?;
        let event: Value = serde_json::from_slice(body)
            .map_err(|e| WebhookError::NotVerified(format!("not an Authorize.Net event: {e}")))?;
        let notification_id = wire::text(&event["notificationId"]);
        if notification_id.is_empty() {
            return Err(WebhookError::NotVerified(
                "event without notificationId".into(),
            ));
        }
        let event_type = wire::text(&event["eventType"]);
        let about_a_payment = matches!(
            event_type.as_str(),
            "net.authorize.payment.authcapture.created"
                | "net.authorize.payment.capture.created"
                | "net.authorize.payment.priorAuthCapture.created"
                | "net.authorize.payment.authorization.created"
                | "net.authorize.payment.fraud.held"
                | "net.authorize.payment.fraud.approved"
                | "net.authorize.payment.fraud.declined"
        );
        // Refunds and voids are settled by the refund call's own answer (and its lookup);
        // customer and subscription events are not the shop's business.
        if !about_a_payment || event["payload"]["entityName"].as_str() != Some("transaction") {
            return Ok(None);
        }
        let trans_id = wire::text(&event["payload"]["id"]);
        if trans_id.is_empty() {
            return Err(WebhookError::NotVerified(
                "event without a transaction id".into(),
            ));
        }
        // The event carries little: what counts is what the API says about the transaction.
        let transaction = match self.details(&trans_id).await {
            Ok(Some(t)) => t,
            Ok(None) => {
                return Err(WebhookError::NotVerified(format!(
                    "Authorize.Net has no transaction {trans_id}"
                )))
            }
            Err(e) => return Err(WebhookError::Unconfirmed(e.to_string())),
        };
        let invoice = wire::text(&transaction["order"]["invoiceNumber"]);
        if invoice.is_empty() {
            // A payment this shop did not make (no invoice number).
            return Ok(None);
        }
        let status = wire::text(&transaction["transactionStatus"]);
        Ok(Some(Self::update(
            &attempt_reference_of(&invoice),
            format!("notification:{notification_id}"),
            Source::Webhook,
            format!("{event_type} ({status})"),
            outcome_of(&transaction),
            String::from_utf8_lossy(body).into_owned(),
            Some(trans_id),
        )))
    }

    async fn lookup(&self, attempt: AttemptRef<'_>) -> Result<PaymentUpdate, PaymentError> {
        let invoice = invoice_number(attempt.reference);
        let payments = self.payments_for(invoice).await?;
        let best = payments.iter().max_by_key(|t| weight(&outcome_of(t)));
        let Some(transaction) = best else {
            // The shopper has not paid (or not yet opened the form).
            return Ok(Self::update(
                attempt.reference,
                format!("lookup:{invoice}:none"),
                Source::Lookup,
                "no transaction for the invoice".into(),
                Outcome::Pending,
                "{}".into(),
                None,
            ));
        };
        let trans_id = wire::text(&transaction["transId"]);
        let status = wire::text(&transaction["transactionStatus"]);
        Ok(Self::update(
            attempt.reference,
            format!("lookup:{trans_id}:{status}"),
            Source::Lookup,
            format!("transaction details: {status}"),
            outcome_of(transaction),
            transaction.to_string(),
            Some(trans_id).filter(|t| !t.is_empty()),
        ))
    }

    /// Accept Hosted has no call that withdraws a token (it lapses 15 minutes after it was
    /// issued): an invoice with nothing paid is abandoned by the shop and reported cancelled.
    async fn cancel(&self, attempt: AttemptRef<'_>) -> Result<PaymentUpdate, PaymentError> {
        Ok(self.lookup(attempt).await?.abandoned_unless_paid())
    }

    async fn refund(&self, request: &RefundRequest<'_>) -> Result<RefundOutcome, PaymentError> {
        let transaction = self.paid_transaction(request).await?;
        let trans_id = wire::text(&transaction["transId"]);
        let status = wire::text(&transaction["transactionStatus"]);
        let paid = wire::amount_minor(&transaction["settleAmount"]).unwrap_or(-1);
        let (name, fields, refund_id) = match status.as_str() {
            "settledSuccessfully" => {
                let card = wire::text(&transaction["payment"]["creditCard"]["cardNumber"]);
                let last4 = last_four(&card).ok_or_else(|| {
                    PaymentError::Refused("the payment has no card number to refund to".into())
                })?;
                let tx = Node::obj([
                    ("transactionType", Node::s("refundTransaction")),
                    ("amount", Node::s(request.amount.to_decimal_string())),
                    (
                        "payment",
                        Node::obj([(
                            "creditCard",
                            Node::obj([
                                ("cardNumber", Node::s(last4)),
                                ("expirationDate", Node::s("XXXX")),
                            ]),
                        )]),
                    ),
                    ("refTransId", Node::s(trans_id.clone())),
                    (
                        "order",
                        Node::obj([(
                            "invoiceNumber",
                            Node::s(invoice_number(request.attempt.reference)),
                        )]),
                    ),
                ]);
                ("refund", vec![("transactionRequest", tx)], None)
            }
            "capturedPendingSettlement" | "authorizedPendingCapture" => {
                if request.amount.minor != paid {
                    return Err(PaymentError::Refused(
                        "Authorize.Net has not settled this payment yet: until it does (once a day) only the whole amount can be given back (a void)".into(),
                    ));
                }
                let tx = Node::obj([
                    ("transactionType", Node::s("voidTransaction")),
                    ("refTransId", Node::s(trans_id.clone())),
                ]);
                (
                    "void",
                    vec![("transactionRequest", tx)],
                    Some(format!("void:{trans_id}")),
                )
            }
            other => {
                return Err(PaymentError::Refused(format!(
                    "the payment is {other}: nothing to refund"
                )))
            }
        };
        let answer = self.send("createTransactionRequest", fields).await?;
        let payload = answer.to_string();
        if let Result_::Error { code, .. } = wire::result_of(&answer) {
            if busy(&code) {
                return Err(PaymentError::Unavailable(format!("{name}: {code}")));
            }
        }
        match transaction_result(&answer) {
            Ok((id, code)) => Ok(RefundOutcome {
                refund_id: refund_id.unwrap_or(id),
                state: if code == "4" {
                    RefundState::Pending
                } else {
                    RefundState::Succeeded
                },
                payload,
            }),
            Err(words) => {
                tracing::warn!(provider = "authorizenet", %words, "{name} refused");
                Err(PaymentError::Refused(words))
            }
        }
    }

    async fn lookup_refund(
        &self,
        attempt: AttemptRef<'_>,
        refund_id: &str,
    ) -> Result<RefundOutcome, PaymentError> {
        let (trans_id, void) = match refund_id.strip_prefix("void:") {
            Some(id) => (id, true),
            None => (refund_id, false),
        };
        let Some(t) = self.details(trans_id).await? else {
            return Ok(RefundOutcome {
                refund_id: refund_id.to_string(),
                state: RefundState::Failed("Authorize.Net has no such transaction".into()),
                payload: "{}".into(),
            });
        };
        if wire::text(&t["order"]["invoiceNumber"]) != invoice_number(attempt.reference) && !void {
            return Err(PaymentError::Refused(
                "the refund belongs to another invoice".into(),
            ));
        }
        let status = wire::text(&t["transactionStatus"]);
        let state = match (void, status.as_str()) {
            (true, "voided") => RefundState::Succeeded,
            (false, "refundPendingSettlement" | "refundSettledSuccessfully") => {
                RefundState::Succeeded
            }
            (_, "declined" | "generalError" | "couldNotVoid" | "settlementError") => {
                RefundState::Failed(format!("transaction status {status}"))
            }
            _ => RefundState::Pending,
        };
        Ok(RefundOutcome {
            refund_id: refund_id.to_string(),
            state,
            payload: t.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Money;
    use serde_json::json;

    #[test]
    fn authorizenet_statuses_are_named_and_unknown_ones_held() {
        let t = |status: &str| json!({"transactionStatus": status, "authAmount": 18.0, "settleAmount": "18.00"});
        assert_eq!(
            outcome_of(&t("settledSuccessfully")),
            Outcome::paid(1800, "USD")
        );
        assert_eq!(
            outcome_of(&t("capturedPendingSettlement")),
            Outcome::paid(1800, "USD")
        );
        assert_eq!(outcome_of(&t("FDSPendingReview")), Outcome::Pending);
        assert_eq!(outcome_of(&t("declined")), Outcome::Failed);
        assert_eq!(outcome_of(&t("voided")), Outcome::Cancelled);
        assert!(matches!(
            outcome_of(&t("somethingNew")),
            Outcome::Unrecognised(_)
        ));
        let no_settle = json!({"transactionStatus": "capturedPendingSettlement", "authAmount": "17.50", "settleAmount": 0});
        assert_eq!(outcome_of(&no_settle), Outcome::paid(1750, "USD"));
        let garbage = json!({"transactionStatus": "settledSuccessfully", "settleAmount": "abc"});
        assert!(matches!(
            outcome_of(&garbage),
            Outcome::Paid {
                amount_minor: -1,
                ..
            }
        ));
    }

    #[test]
    fn authorizenet_capabilities_are_usd_only_and_refunds_not_idempotent() {
        assert!(CAPABILITIES.accepts(Money::new(1800, Currency::Usd)));
        assert!(!CAPABILITIES.accepts(Money::new(1800, Currency::Eur)));
        assert!(!CAPABILITIES.idempotent_refunds);
    }

    #[test]
    fn authorizenet_invoice_numbers_fit_and_map_back() {
        let tagged = reference::attempt_reference("ORD-9999999", 99, "K7QX2M");
        let invoice = invoice_number(&tagged);
        assert_eq!(invoice, "9999999-A99-K7QX2M");
        assert!(invoice.len() <= MAX_INVOICE, "{invoice}");
        assert_eq!(attempt_reference_of(invoice), tagged);
        // Attempts made before installation tags go by their whole reference, both ways.
        assert_eq!(invoice_number("ORD-000123-A1"), "ORD-000123-A1");
        assert_eq!(attempt_reference_of("ORD-000123-A1"), "ORD-000123-A1");
        assert_eq!(attempt_reference_of(&tagged), tagged);
    }

    #[test]
    fn authorizenet_transaction_answers_are_read() {
        let ok = wire::parse_answer(br#"{"transactionResponse":{"responseCode":"1","transId":"6002","refTransID":"6001","errors":null},"messages":{"resultCode":"Ok","message":[{"code":"I00001","text":"Successful."}]}}"#).unwrap();
        assert_eq!(transaction_result(&ok), Ok(("6002".into(), "1".into())));
        let refused = wire::parse_answer(b"\xEF\xBB\xBF{\"transactionResponse\":{\"responseCode\":\"3\",\"errors\":[{\"errorCode\":\"54\",\"errorText\":\"The referenced transaction does not meet the criteria for issuing a credit.\"}]},\"messages\":{\"resultCode\":\"Error\",\"message\":[{\"code\":\"E00027\",\"text\":\"The transaction was unsuccessful.\"}]}}").unwrap();
        assert_eq!(
            transaction_result(&refused),
            Err(
                "54 The referenced transaction does not meet the criteria for issuing a credit."
                    .into()
            )
        );
        assert_eq!(last_four("XXXX1111").as_deref(), Some("1111"));
        assert_eq!(last_four("XXXX"), None);
        assert_eq!(date_text(0), "1970-01-01T00:00:00Z");
    }
}
