//! Alipay (docs/payments.md#alipay): `alipay.trade.page.pay` as a form the browser posts to the gateway,
//! the async notify at `/webhooks/alipay` (RSA2 over the sorted form fields, answered `success`),
//! `alipay.trade.query` for returns and lookups, `alipay.trade.close` for the shopper's cancel,
//! `alipay.trade.refund` (deduplicated by `out_request_no`) and
//! `alipay.trade.fastpay.refund.query`. Every request is RSA2-signed with the app's private key;
//! every answer used is checked with Alipay's public key over its exact raw bytes.
//!
//! The attempt `ORD-000123-A1` is the `out_trade_no` `ORD_000123_A1` (Alipay allows letters,
//! digits and `_` only), and that is also the session id the shop stores.

pub mod config;
pub mod keys;
pub mod sign;

use super::http;
use super::kernel::Registration;
use super::{
    now_secs, AttemptRef, Capabilities, NextStep, Outcome, PaymentError, PaymentProvider,
    PaymentUpdate, RefundOutcome, RefundRequest, RefundState, Source, StartRequest, Started,
    WebhookError,
};
use crate::model::{Currency, ProviderId};
use axum::http::HeaderMap;
use serde_json::{json, Value};
use sign::{PrivateKey, PublicKey};
use std::collections::BTreeMap;

pub const REGISTRATION: Registration = Registration {
    id: ProviderId::Alipay,
    configure: config::configure,
    // Its key pairs are also refused in any encoding, by comparing the keys (`config`).
    published_keys: &[("ALIPAY_APP_ID", keys::SANDBOX_APP_ID)],
};

/// The gateway's path under the built-in sandbox's root.
pub const GATEWAY_PATH: &str = "/gateway.do";

/// CNY 0.01 to 100,000,000.00 per trade, Alipay's limit for `total_amount`.
static CAPABILITIES: Capabilities = Capabilities {
    currencies: &[(Currency::Cny, 1, 10_000_000_000)],
    refunds: true,
    partial_refunds: true,
    // `out_request_no` is the refund's idempotency key: a repeat answers the same refund.
    idempotent_refunds: true,
    // `alipay.trade.close`.
    closes_sessions: true,
};

pub struct Alipay {
    http: reqwest::Client,
    /// The full gateway URL for the shop's own calls.
    gateway: String,
    /// Where the shopper's browser posts the page.pay form.
    browser_gateway: String,
    app_id: String,
    app_key: PrivateKey,
    alipay_key: PublicKey,
}

/// A verified gateway answer: the response object, and its raw text for the timeline.
struct Answer {
    body: Value,
    raw: String,
}

impl Answer {
    fn field(&self, k: &str) -> &str {
        self.body.get(k).and_then(Value::as_str).unwrap_or("")
    }

    fn code(&self) -> &str {
        self.field("code")
    }

    fn sub_code(&self) -> &str {
        self.field("sub_code")
    }

    fn describe(&self) -> String {
        format!(
            "{} {} {} {}",
            self.code(),
            self.field("msg"),
            self.sub_code(),
            self.field("sub_msg")
        )
        .trim()
        .to_string()
    }
}

/// The trade's `subject`: the order and its lines, without the characters Alipay does not allow
/// in it (`/`, `=`, `&`) or any control character, at most 250 characters.
fn subject(request: &StartRequest) -> String {
    let clean = |text: &str| -> String {
        let kept: String = text
            .chars()
            .map(|c| {
                if matches!(c, '/' | '=' | '&') || c.is_control() {
                    ' '
                } else {
                    c
                }
            })
            .collect();
        kept.split_whitespace().collect::<Vec<_>>().join(" ")
    };
    let names: Vec<String> = request.lines.iter().map(|l| clean(&l.name)).collect();
    let order = clean(&request.order_reference);
    let subject = format!("{order} {}", names.join(", "));
    if subject.chars().count() > 250 {
        format!("{order} ({} items)", names.len())
    } else {
        subject
    }
}

/// What a trade status means for the order.
fn outcome_of(status: &str, total_amount: &str, currency: &str) -> Outcome {
    match status {
        "TRADE_SUCCESS" | "TRADE_FINISHED" => Outcome::paid(
            sign::parse_yuan(total_amount).unwrap_or(-1),
            if currency.is_empty() { "CNY" } else { currency },
        ),
        "WAIT_BUYER_PAY" => Outcome::Pending,
        "TRADE_CLOSED" => Outcome::Cancelled,
        other => Outcome::Unrecognised(format!("trade status {other}")),
    }
}

impl Alipay {
    pub fn new(
        http: reqwest::Client,
        gateway: String,
        browser_gateway: String,
        app_id: String,
        app_key: PrivateKey,
        alipay_key: PublicKey,
    ) -> Alipay {
        Alipay {
            http,
            gateway,
            browser_gateway,
            app_id,
            app_key,
            alipay_key,
        }
    }

    /// The common parameters every gateway request carries (`app_id`, `method`, `charset`,
    /// `sign_type`, `timestamp`, `version`, `biz_content`), without `sign`.
    fn common(&self, method: &str, biz_content: &Value) -> BTreeMap<String, String> {
        let mut p = BTreeMap::new();
        for (k, v) in [
            ("app_id", self.app_id.clone()),
            ("method", method.to_string()),
            ("format", "JSON".to_string()),
            ("charset", "utf-8".to_string()),
            ("sign_type", "RSA2".to_string()),
            ("timestamp", sign::beijing_time(now_secs())),
            ("version", "1.0".to_string()),
            ("biz_content", biz_content.to_string()),
        ] {
            p.insert(k.to_string(), v);
        }
        p
    }

    /// Sign the parameters in place.
    fn sign(&self, params: &mut BTreeMap<String, String>) {
        let content = sign::content(
            params.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            &["sign"],
        );
        params.insert("sign".into(), self.app_key.sign(&content));
    }

    /// Call an API method: common parameters in the query, `biz_content` in the form body (as the
    /// SDKs place them), the answer's signature checked over the raw response object.
    async fn call(&self, method: &str, biz_content: Value) -> Result<Answer, PaymentError> {
        let mut params = self.common(method, &biz_content);
        self.sign(&mut params);
        let biz = params.remove("biz_content").unwrap_or_default();
        let request = self
            .http
            .post(&self.gateway)
            .query(&params)
            .form(&[("biz_content", biz)]);
        // The gateway answers 200 with its own codes; any error status is its trouble.
        let reply = http::send(ProviderId::Alipay, request, |_| None)
            .await
            .map_err(|e| match e {
                PaymentError::Refused(detail) => PaymentError::Unavailable(detail),
                unavailable => unavailable,
            })?;
        let raw = String::from_utf8_lossy(&reply.body).into_owned();
        let key = format!("{}_response", method.replace('.', "_"));
        let Some((text, signature)) = sign::signed_response(&raw, &key)
            .or_else(|| sign::signed_response(&raw, "error_response"))
        else {
            tracing::warn!(provider = "alipay", method, "unreadable gateway answer");
            return Err(PaymentError::Unavailable(format!(
                "unexpected Alipay answer to {method}"
            )));
        };
        let body: Value = serde_json::from_str(text).map_err(|e| {
            PaymentError::Unavailable(format!("unreadable Alipay answer to {method}: {e}"))
        })?;
        let verified = signature
            .as_deref()
            .is_some_and(|s| self.alipay_key.verify(text, s));
        let answer = Answer {
            body,
            raw: text.to_string(),
        };
        if !verified {
            // Alipay leaves some refusals (a bad request signature) unsigned: such an answer is
            // only ever taken as a refusal, never as a trade's state.
            tracing::warn!(provider = "alipay", method, said = %answer.describe(), "gateway answer without a valid signature");
            return Err(if answer.code() == "10000" {
                PaymentError::Unavailable(format!(
                    "Alipay's answer to {method} is not signed by Alipay"
                ))
            } else {
                PaymentError::Refused(answer.describe())
            });
        }
        match answer.code() {
            // Alipay's own trouble inside a business answer: "call again with the same
            // parameters" (the same out_trade_no / out_request_no), never a refusal.
            "40004" if answer.sub_code() == "ACQ.SYSTEM_ERROR" => {
                Err(PaymentError::Unavailable(answer.describe()))
            }
            "10000" | "40004" => Ok(answer),
            // Service unavailable: may be retried.
            "20000" => Err(PaymentError::Unavailable(answer.describe())),
            _ => {
                tracing::warn!(provider = "alipay", method, said = %answer.describe(), "gateway refused");
                Err(PaymentError::Refused(answer.describe()))
            }
        }
    }

    /// `alipay.trade.query` by `out_trade_no`: the trade's status (`None`: no such trade yet).
    async fn query(&self, out_trade_no: &str) -> Result<(Option<String>, Answer), PaymentError> {
        let answer = self
            .call(
                "alipay.trade.query",
                json!({ "out_trade_no": out_trade_no }),
            )
            .await?;
        match (answer.code(), answer.sub_code()) {
            ("10000", _) => {
                if answer.field("out_trade_no") != out_trade_no {
                    return Err(PaymentError::Unavailable(
                        "Alipay answered about another trade".into(),
                    ));
                }
                Ok((Some(answer.field("trade_status").to_string()), answer))
            }
            (_, "ACQ.TRADE_NOT_EXIST") => Ok((None, answer)),
            _ => Err(PaymentError::Refused(answer.describe())),
        }
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
            provider: ProviderId::Alipay,
            attempt_reference: attempt_reference.to_string(),
            // The session id is the out_trade_no itself; the app_id (checked) and Alipay's
            // signature are what tie a message to this shop.
            session_id: None,
            event_id,
            source,
            kind,
            outcome,
            payload,
            payment_id,
        }
    }

    /// The notify's fields, if Alipay's signature holds.
    fn signed_fields(&self, body: &[u8]) -> Result<BTreeMap<String, String>, WebhookError> {
        let fields = sign::form_fields(body)
            .ok_or_else(|| WebhookError::NotVerified("not a form-encoded notify".into()))?;
        if !sign::verify_fields(&fields, &self.alipay_key) {
            return Err(WebhookError::NotVerified(
                "RSA2 signature does not verify".into(),
            ));
        }
        Ok(fields)
    }

    /// `alipay.trade.refund` answering `10000` only accepted the request: money moved when it
    /// says `fund_change = Y`. Otherwise (`N`: a repeat of a refund made before, or one Alipay has
    /// not settled yet) the refund stays pending until `alipay.trade.fastpay.refund.query`
    /// confirms it.
    fn refund_outcome(answer: &Answer, out_request_no: &str) -> RefundOutcome {
        RefundOutcome {
            refund_id: out_request_no.to_string(),
            state: if answer.field("fund_change") == "Y" {
                RefundState::Succeeded
            } else {
                RefundState::Pending
            },
            payload: answer.raw.clone(),
        }
    }
}

#[async_trait::async_trait]
impl PaymentProvider for Alipay {
    fn id(&self) -> ProviderId {
        ProviderId::Alipay
    }

    fn capabilities(&self) -> &Capabilities {
        &CAPABILITIES
    }

    /// page.pay is a form the browser posts; the shop itself calls nothing to open it. It asks
    /// `alipay.trade.query` first: a gateway that does not answer is reported before the shopper
    /// is sent to it, a key the gateway refuses shows at once, and a closed or paid trade is not
    /// offered again.
    async fn start(&self, request: &StartRequest) -> Result<Started, PaymentError> {
        let out_trade_no = sign::out_trade_no(&request.attempt_reference);
        match self.query(&out_trade_no).await?.0.as_deref() {
            None | Some("WAIT_BUYER_PAY") => {}
            // Paid already (its notify not yet applied): kept as unanswered, so the lookup that
            // follows (the reconciler's) applies the payment to this attempt.
            Some(status @ ("TRADE_SUCCESS" | "TRADE_FINISHED")) => {
                return Err(PaymentError::Unavailable(format!(
                    "trade {out_trade_no} is already {status}"
                )))
            }
            // Closed: it can never be paid; the next Pay makes a new attempt.
            Some(status) => {
                return Err(PaymentError::Refused(format!(
                    "trade {out_trade_no} is already {status}"
                )))
            }
        }
        let subject = subject(request);
        let mut biz = json!({
            "out_trade_no": &out_trade_no,
            "product_code": "FAST_INSTANT_TRADE_PAY",
            "total_amount": sign::yuan(request.total),
            "subject": subject,
        });
        if request.hold_until > now_secs() {
            biz["time_expire"] = json!(sign::beijing_time(request.hold_until));
        }
        let mut params = self.common("alipay.trade.page.pay", &biz);
        params.insert("notify_url".into(), request.urls.notify_url.clone());
        params.insert("return_url".into(), request.urls.return_url.clone());
        self.sign(&mut params);
        let action = if self.browser_gateway.contains('?') {
            self.browser_gateway.clone()
        } else {
            format!("{}?charset=utf-8", self.browser_gateway)
        };
        Ok(Started {
            session_id: out_trade_no,
            next: NextStep::PostForm {
                action,
                fields: params.into_iter().collect(),
            },
        })
    }

    fn check_signature(&self, _headers: &HeaderMap, body: &[u8]) -> Result<(), WebhookError> {
        self.signed_fields(body).map(|_| ())
    }

    /// Verified by the RSA2 signature over the notify's parameters alone.
    fn verifies_offline(&self) -> bool {
        true
    }

    async fn verify_webhook(
        &self,
        _headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Option<PaymentUpdate>, WebhookError> {
        let fields = self.signed_fields(body)?;
        let field = |k: &str| fields.get(k).map(String::as_str).unwrap_or("");
        // Signed by Alipay, but for another app on the same account: not ours to act on.
        if field("app_id") != self.app_id {
            return Err(WebhookError::NotVerified(format!(
                "notify for app_id {:?}, not this shop's",
                field("app_id")
            )));
        }
        let notify_id = field("notify_id");
        if notify_id.is_empty() {
            return Err(WebhookError::NotVerified("notify without notify_id".into()));
        }
        let Some(reference) = sign::attempt_reference(field("out_trade_no")) else {
            // A genuine notify about a trade this shop did not make.
            return Ok(None);
        };
        let status = field("trade_status");
        // Refund notifies (a refund_fee on a paid trade, or the TRADE_CLOSED of a full refund)
        // are settled through the refund's own answer and lookup; WAIT_BUYER_PAY changes nothing.
        let refunded = !field("refund_fee").is_empty() || !field("gmt_refund").is_empty();
        if status == "WAIT_BUYER_PAY" || refunded {
            return Ok(None);
        }
        let outcome = outcome_of(status, field("total_amount"), field("trans_currency"));
        let trade_no = Some(field("trade_no").to_string()).filter(|t| !t.is_empty());
        let payload = serde_json::to_string(
            &fields
                .iter()
                .filter(|(k, _)| k.as_str() != "sign")
                .collect::<BTreeMap<_, _>>(),
        )
        .unwrap_or_default();
        Ok(Some(Self::update(
            &reference,
            format!("notify:{notify_id}"),
            Source::Webhook,
            format!("notify {status}"),
            outcome,
            payload,
            trade_no,
        )))
    }

    async fn lookup(&self, attempt: AttemptRef<'_>) -> Result<PaymentUpdate, PaymentError> {
        let out_trade_no = sign::out_trade_no(attempt.reference);
        let (status, answer) = self.query(&out_trade_no).await?;
        let Some(status) = status else {
            // The shopper never opened the cashier: still pending.
            return Ok(Self::update(
                attempt.reference,
                format!("lookup:{out_trade_no}:NOT_EXIST"),
                Source::Lookup,
                "trade query: ACQ.TRADE_NOT_EXIST".into(),
                Outcome::Pending,
                answer.raw,
                None,
            ));
        };
        let outcome = outcome_of(
            &status,
            answer.field("total_amount"),
            answer.field("trans_currency"),
        );
        let trade_no = Some(answer.field("trade_no").to_string()).filter(|t| !t.is_empty());
        Ok(Self::update(
            attempt.reference,
            format!("lookup:{out_trade_no}:{status}"),
            Source::Lookup,
            format!("trade query: {status}"),
            outcome,
            answer.raw,
            trade_no,
        ))
    }

    /// `alipay.trade.close`, then what the trade now says. A trade Alipay never saw (the shopper
    /// never opened the cashier) is closed by that answer too.
    async fn cancel(&self, attempt: AttemptRef<'_>) -> Result<PaymentUpdate, PaymentError> {
        let out_trade_no = sign::out_trade_no(attempt.reference);
        let answer = self
            .call(
                "alipay.trade.close",
                json!({ "out_trade_no": &out_trade_no }),
            )
            .await?;
        match (answer.code(), answer.sub_code()) {
            ("10000", _) => {
                let mut update = self.lookup(attempt).await?;
                update.source = Source::Cancel;
                Ok(update)
            }
            (_, "ACQ.TRADE_NOT_EXIST") => Ok(Self::update(
                attempt.reference,
                format!("close:{out_trade_no}:NOT_EXIST"),
                Source::Cancel,
                "trade close: ACQ.TRADE_NOT_EXIST".into(),
                Outcome::Cancelled,
                answer.raw,
                None,
            )),
            // Paid (or otherwise past closing): say what it is now.
            (_, "ACQ.TRADE_STATUS_ERROR") => self.lookup(attempt).await,
            _ => Err(PaymentError::Refused(answer.describe())),
        }
    }

    async fn refund(&self, request: &RefundRequest<'_>) -> Result<RefundOutcome, PaymentError> {
        let out_trade_no = sign::out_trade_no(request.attempt.reference);
        let reason: String = request.reason.chars().take(200).collect();
        let answer = self
            .call(
                "alipay.trade.refund",
                json!({
                    "out_trade_no": &out_trade_no,
                    "refund_amount": sign::yuan(request.amount),
                    "out_request_no": request.idempotency_key,
                    "refund_reason": reason,
                }),
            )
            .await?;
        if answer.code() != "10000" {
            return Err(PaymentError::Refused(answer.describe()));
        }
        if answer.field("out_trade_no") != out_trade_no {
            return Err(PaymentError::Unavailable(
                "Alipay answered about another trade".into(),
            ));
        }
        Ok(Self::refund_outcome(&answer, request.idempotency_key))
    }

    async fn lookup_refund(
        &self,
        attempt: AttemptRef<'_>,
        refund_id: &str,
    ) -> Result<RefundOutcome, PaymentError> {
        let out_trade_no = sign::out_trade_no(attempt.reference);
        let answer = self
            .call(
                "alipay.trade.fastpay.refund.query",
                json!({ "out_trade_no": out_trade_no, "out_request_no": refund_id }),
            )
            .await?;
        if answer.code() != "10000" {
            return Err(PaymentError::Refused(answer.describe()));
        }
        // Only REFUND_SUCCESS confirms a refund. An answer without it (asked before Alipay has
        // settled the refund, or a status this code does not know) keeps the refund pending,
        // its amount held, never failed: a refund the shop asked for may still be made.
        let state = match answer.field("refund_status") {
            "REFUND_SUCCESS" => RefundState::Succeeded,
            _ => RefundState::Pending,
        };
        Ok(RefundOutcome {
            refund_id: refund_id.to_string(),
            state,
            payload: answer.raw,
        })
    }

    fn acknowledgement(&self) -> &'static str {
        "success"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trade_statuses_are_named_and_unknown_ones_held() {
        assert_eq!(
            outcome_of("TRADE_SUCCESS", "88.00", ""),
            Outcome::paid(8_800, "CNY")
        );
        assert_eq!(
            outcome_of("TRADE_FINISHED", "88.00", ""),
            Outcome::paid(8_800, "CNY")
        );
        assert_eq!(
            outcome_of("TRADE_SUCCESS", "1.00", "USD"),
            Outcome::paid(100, "USD")
        );
        assert_eq!(outcome_of("WAIT_BUYER_PAY", "", ""), Outcome::Pending);
        assert_eq!(outcome_of("TRADE_CLOSED", "", ""), Outcome::Cancelled);
        assert!(matches!(
            outcome_of("TRADE_PENDING", "", ""),
            Outcome::Unrecognised(_)
        ));
        assert!(matches!(
            outcome_of("TRADE_SUCCESS", "abc", ""),
            Outcome::Paid {
                amount_minor: -1,
                ..
            }
        ));
    }

    #[test]
    fn the_subject_has_no_characters_alipay_refuses() {
        use crate::model::Money;
        use crate::server::payments::{Customer, QuoteLine, ShopUrls};
        let line = |name: &str| QuoteLine {
            name: name.into(),
            quantity: 1,
            unit: Money::new(100, Currency::Cny),
        };
        let request = StartRequest {
            order_reference: "ORD-000007".into(),
            attempt_reference: "ORD-000007-A1".into(),
            total: Money::new(200, Currency::Cny),
            lines: vec![line("Tea & cups / 2=1"), line("Mug\u{7}\nbig")],
            customer: Customer {
                email: "a@b.co".into(),
                name: "A".into(),
                address: "x".into(),
                city: "y".into(),
                postcode: "1".into(),
                country: "CN".into(),
                phone: String::new(),
            },
            urls: ShopUrls::new("http://shop.test", ProviderId::Alipay, "ORD-000007"),
            hold_until: 0,
            attempt_created: 0,
        };
        assert_eq!(subject(&request), "ORD-000007 Tea cups 2 1, Mug big");
    }

    #[test]
    fn capabilities_are_cny_from_a_fen_to_a_hundred_million_yuan() {
        use crate::model::Money;
        assert!(CAPABILITIES.accepts(Money::new(1, Currency::Cny)));
        assert!(CAPABILITIES.accepts(Money::new(10_000_000_000, Currency::Cny)));
        assert!(!CAPABILITIES.accepts(Money::new(10_000_000_001, Currency::Cny)));
        assert!(!CAPABILITIES.accepts(Money::new(100, Currency::Usd)));
    }
}
