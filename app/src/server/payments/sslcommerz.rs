//! SSLCOMMERZ (docs/payments.md#sslcommerz): session API, hosted page via `GatewayPageURL`, IPN checked with
//! `verify_sign` and then always confirmed through the provider's own APIs (validation by `val_id`
//! for VALID, transaction query by `tran_id` otherwise) before anything changes.

pub mod config;
pub mod verify_sign;

use super::http;
use super::kernel::Registration;
use super::{
    AttemptRef, Capabilities, NextStep, Outcome, PaymentError, PaymentProvider, PaymentUpdate,
    RefundOutcome, RefundRequest, RefundState, Source, StartRequest, Started, WebhookError,
};
use crate::model::{Currency, Money, ProviderId};
use crate::server::payments::kernel::sandbox_keys;
use axum::http::HeaderMap;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

pub const REGISTRATION: Registration = Registration {
    id: ProviderId::Sslcommerz,
    configure: config::configure,
    published_keys: &[
        ("SSLCOMMERZ_STORE_ID", sandbox_keys::SSLCOMMERZ_STORE_ID),
        (
            "SSLCOMMERZ_STORE_PASSWORD",
            sandbox_keys::SSLCOMMERZ_STORE_PASSWORD,
        ),
    ],
};

/// BDT 10.00 to 500,000.00 per transaction.
static CAPABILITIES: Capabilities = Capabilities {
    currencies: &[(Currency::Bdt, 1_000, 50_000_000)],
    // The refund API on the captured `bank_tran_id`, any amount up to what is left.
    refunds: true,
    partial_refunds: true,
    // The shop sends its key as `refe_id`; that SSLCOMMERZ refuses a repeat by it is UNCONFIRMED
    // (no documentation says so), so a refund whose answer was lost is not asked for again.
    idempotent_refunds: false,
    // SSLCOMMERZ has no call to close a session; an abandoned one simply never completes.
    closes_sessions: false,
};

/// A transaction's `status` as SSLCOMMERZ writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum TxStatus {
    Valid,
    Validated,
    Failed,
    Cancelled,
    Expired,
    Unattempted,
    Pending,
    InvalidTransaction,
    Other(String),
}

impl TxStatus {
    fn parse(s: &str) -> TxStatus {
        match s {
            "VALID" => TxStatus::Valid,
            "VALIDATED" => TxStatus::Validated,
            "FAILED" => TxStatus::Failed,
            "CANCELLED" => TxStatus::Cancelled,
            "EXPIRED" => TxStatus::Expired,
            "UNATTEMPTED" => TxStatus::Unattempted,
            "PENDING" => TxStatus::Pending,
            "INVALID_TRANSACTION" => TxStatus::InvalidTransaction,
            other => TxStatus::Other(other.to_string()),
        }
    }

    fn is_paid(&self) -> bool {
        matches!(self, TxStatus::Valid | TxStatus::Validated)
    }
}

pub const INIT_PATH: &str = "/gwprocess/v4/api.php";
pub const VALIDATION_PATH: &str = "/validator/api/validationserverAPI.php";
pub const QUERY_PATH: &str = "/validator/api/merchantTransIDvalidationAPI.php";

pub struct Sslcommerz {
    http: reqwest::Client,
    base: String,
    store_id: String,
    store_password: SecretString,
}

#[derive(Debug, Deserialize)]
struct InitResponse {
    status: String,
    #[serde(default)]
    failedreason: Option<String>,
    #[serde(default)]
    sessionkey: Option<String>,
    #[serde(default, rename = "GatewayPageURL")]
    gateway_page_url: Option<String>,
}

/// The validation API's answer, and one element of the transaction query's answer.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
struct Transaction {
    #[serde(default)]
    status: String,
    #[serde(default)]
    tran_id: String,
    #[serde(default)]
    val_id: String,
    #[serde(default)]
    amount: String,
    #[serde(default)]
    currency: String,
    #[serde(default)]
    currency_type: Option<String>,
    #[serde(default)]
    currency_amount: Option<String>,
    /// `"0"` safe, `"1"` risky (a person must look before the goods go out).
    #[serde(default)]
    risk_level: Option<String>,
    #[serde(default)]
    risk_title: Option<String>,
    /// The bank's id of the payment: what a refund names.
    #[serde(default)]
    bank_tran_id: Option<String>,
}

/// The refund API's answer (initiate and query share the endpoint).
#[derive(Debug, Deserialize, serde::Serialize)]
struct RefundAnswer {
    #[serde(default, rename = "APIConnect")]
    api_connect: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    refund_ref_id: Option<String>,
    #[serde(default, rename = "errorReason")]
    error_reason: Option<String>,
}

#[derive(Debug, Deserialize)]
struct QueryResponse {
    #[serde(default, rename = "APIConnect")]
    api_connect: String,
    #[serde(default)]
    element: Vec<Transaction>,
}

/// The longest `refund_trans_id` SSLCOMMERZ takes.
pub const REFUND_TRANS_ID_MAX: usize = 30;

/// The `refund_trans_id` of a refund: `R` and the first 29 hex digits of the SHA-256 of the shop's
/// refund key (up to 100 characters, more than SSLCOMMERZ's 30). Distinct keys give distinct ids
/// (a cut of the key itself would not: two keys may share their first 30 characters), and a retry
/// of the same refund sends the same id.
pub fn refund_trans_id(refund_key: &str) -> String {
    let digest = hex::encode(Sha256::digest(refund_key.as_bytes()));
    format!("R{}", &digest[..REFUND_TRANS_ID_MAX - 1])
}

/// An amount as SSLCOMMERZ writes it (`"100.00"`, sometimes more zeros) in minor units.
pub fn parse_amount(text: &str, currency: Currency) -> Option<i64> {
    let text = text.trim();
    let trimmed = match text.split_once('.') {
        Some((whole, frac)) => {
            let keep = frac.trim_end_matches('0');
            if keep.is_empty() {
                whole.to_string()
            } else {
                format!("{whole}.{keep}")
            }
        }
        None => text.to_string(),
    };
    Money::parse_decimal(&trimmed, currency)
        .ok()
        .map(|m| m.minor)
}

impl Sslcommerz {
    pub fn new(
        http: reqwest::Client,
        base: String,
        store_id: String,
        store_password: SecretString,
    ) -> Sslcommerz {
        Sslcommerz {
            http,
            base,
            store_id,
            store_password,
        }
    }

    fn credentials(&self) -> [(&'static str, &str); 2] {
        [
            ("store_id", self.store_id.as_str()),
            ("store_passwd", self.store_password.expose_secret()),
        ]
    }

    async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<(T, String), PaymentError> {
        let request = self
            .http
            .get(format!("{}{path}", self.base))
            .query(query)
            .query(&self.credentials())
            .query(&[("v", "1"), ("format", "json")]);
        // Its query APIs answer 200 with their own words; any error status is its trouble.
        let reply = http::send(ProviderId::Sslcommerz, request, |_| None)
            .await
            .map_err(|e| PaymentError::Unavailable(e.to_string()))?;
        let value = http::json(ProviderId::Sslcommerz, &reply)?;
        Ok((value, String::from_utf8_lossy(&reply.body).into_owned()))
    }

    /// The validation API for a `val_id`: VALID or VALIDATED with matching `tran_id`, else `None`.
    async fn validate(
        &self,
        val_id: &str,
        tran_id: &str,
    ) -> Result<Option<Transaction>, PaymentError> {
        let (t, _) = self
            .get_json::<Transaction>(VALIDATION_PATH, &[("val_id", val_id)])
            .await?;
        let valid = TxStatus::parse(&t.status).is_paid() && t.tran_id == tran_id;
        Ok(valid.then_some(t))
    }

    /// The transaction query by `tran_id`: every try the shopper made for this attempt.
    async fn query(&self, tran_id: &str) -> Result<(Vec<Transaction>, String), PaymentError> {
        let (q, raw) = self
            .get_json::<QueryResponse>(QUERY_PATH, &[("tran_id", tran_id)])
            .await?;
        if q.api_connect != "DONE" {
            return Err(PaymentError::Unavailable(format!(
                "SSLCOMMERZ query said APIConnect={}",
                q.api_connect
            )));
        }
        let mine = q
            .element
            .into_iter()
            .filter(|t| t.tran_id == tran_id)
            .collect();
        Ok((mine, raw))
    }

    /// The IPN's fields, if its `verify_sign` holds (offline: MD5 over the signed fields).
    fn signed_fields(&self, body: &[u8]) -> Result<BTreeMap<String, String>, WebhookError> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
            .map_err(|_| WebhookError::NotVerified("not a form-encoded IPN".into()))?;
        let fields: BTreeMap<String, String> = pairs.into_iter().collect();
        verify_sign::verify(&fields, self.store_password.expose_secret())
            .map_err(|e| WebhookError::NotVerified(e.to_string()))?;
        Ok(fields)
    }

    fn paid(t: &Transaction) -> Outcome {
        // For a non-BDT charge the validation reports the original currency's amount separately.
        let (amount, currency) = match (&t.currency_type, &t.currency_amount) {
            (Some(ct), Some(ca)) if !ct.is_empty() && ct != "BDT" => (ca.as_str(), ct.as_str()),
            _ => (t.amount.as_str(), t.currency.as_str()),
        };
        let amount_minor = currency
            .parse::<Currency>()
            .ok()
            .and_then(|c| parse_amount(amount, c))
            .unwrap_or(-1);
        let flagged = match t.risk_level.as_deref().map(str::trim) {
            None | Some("") | Some("0") => None,
            Some(level) => Some(format!(
                "SSLCOMMERZ risk level {level}: {}",
                t.risk_title.as_deref().unwrap_or("no reason given")
            )),
        };
        Outcome::Paid {
            amount_minor,
            currency: currency.to_string(),
            flagged,
        }
    }

    fn update(
        &self,
        tran_id: &str,
        event_id: String,
        source: Source,
        kind: &str,
        outcome: Outcome,
        payload: String,
    ) -> PaymentUpdate {
        PaymentUpdate {
            provider: ProviderId::Sslcommerz,
            attempt_reference: tran_id.to_string(),
            // Its messages carry no session key; the validation API, asked with this store's
            // own credentials, is what ties a transaction to this shop.
            session_id: None,
            event_id,
            source,
            kind: kind.to_string(),
            outcome,
            payload,
            payment_id: None,
        }
    }

    /// The captured payment's `bank_tran_id`, from the transaction query.
    async fn bank_tran_id(&self, tran_id: &str) -> Result<String, PaymentError> {
        let (transactions, _) = self.query(tran_id).await?;
        transactions
            .iter()
            .find(|t| TxStatus::parse(&t.status).is_paid())
            .and_then(|t| t.bank_tran_id.clone())
            .ok_or_else(|| PaymentError::Refused(format!("no captured payment for {tran_id}")))
    }

    fn refund_outcome(answer: &RefundAnswer, raw: String) -> Option<RefundOutcome> {
        let refund_id = answer.refund_ref_id.clone().unwrap_or_default();
        let state = match answer.status.as_str() {
            "refunded" => RefundState::Succeeded,
            "success" | "processing" => RefundState::Pending,
            "cancelled" | "failed" => RefundState::Failed(
                answer
                    .error_reason
                    .clone()
                    .unwrap_or_else(|| answer.status.clone()),
            ),
            _ => return None,
        };
        Some(RefundOutcome {
            refund_id,
            state,
            payload: raw,
        })
    }

    /// Whether the transaction query lists the try an IPN is about, other than as the latest: the
    /// same status and, where both carry them, the same `bank_tran_id` and `val_id`.
    fn is_earlier_try(transactions: &[Transaction], ipn: &BTreeMap<String, String>) -> bool {
        let field = |k: &str| ipn.get(k).map(String::as_str).unwrap_or("");
        let same =
            |mine: &str, theirs: &str| mine.is_empty() || theirs.is_empty() || mine == theirs;
        let Some((_, earlier)) = transactions.split_last() else {
            return false;
        };
        earlier.iter().any(|t| {
            t.status == field("status")
                && same(field("val_id"), &t.val_id)
                && same(
                    field("bank_tran_id"),
                    t.bank_tran_id.as_deref().unwrap_or(""),
                )
        })
    }

    /// What the provider's query says about a `tran_id`: paid wins, then the latest state; every
    /// status is named, and one this code does not know is held.
    fn outcome_of(transactions: &[Transaction]) -> (Outcome, String) {
        if let Some(t) = transactions
            .iter()
            .find(|t| TxStatus::parse(&t.status).is_paid())
        {
            return (Self::paid(t), t.status.clone());
        }
        let Some(last) = transactions.last() else {
            return (Outcome::Pending, "no transaction yet".into());
        };
        let outcome = match TxStatus::parse(&last.status) {
            TxStatus::Valid | TxStatus::Validated => Self::paid(last),
            TxStatus::Failed => Outcome::Failed,
            TxStatus::Cancelled => Outcome::Cancelled,
            TxStatus::Expired => Outcome::Expired,
            TxStatus::Unattempted | TxStatus::Pending => Outcome::Pending,
            TxStatus::InvalidTransaction | TxStatus::Other(_) => {
                Outcome::Unrecognised(format!("transaction status {}", last.status))
            }
        };
        (outcome, last.status.clone())
    }
}

#[async_trait::async_trait]
impl PaymentProvider for Sslcommerz {
    fn id(&self) -> ProviderId {
        ProviderId::Sslcommerz
    }

    fn capabilities(&self) -> &Capabilities {
        &CAPABILITIES
    }

    async fn start(&self, request: &StartRequest) -> Result<Started, PaymentError> {
        let back = request.urls.return_url.as_str();
        let c = &request.customer;
        let names: Vec<&str> = request.lines.iter().map(|l| l.name.as_str()).collect();
        let mut product_name = names.join(", ");
        if product_name.len() > 250 {
            product_name = format!("{} items", names.len());
        }
        let phone = if c.phone.is_empty() { "N/A" } else { &c.phone };
        let items: i64 = request.lines.iter().map(|l| l.quantity).sum();
        let amount = request.total.to_decimal_string();
        let items = items.to_string();
        let mut form: Vec<(&str, &str)> = self.credentials().to_vec();
        form.extend([
            ("total_amount", amount.as_str()),
            ("currency", request.total.currency.code()),
            ("tran_id", request.attempt_reference.as_str()),
            ("success_url", back),
            ("fail_url", back),
            ("cancel_url", back),
            ("cus_name", c.name.as_str()),
            ("cus_email", c.email.as_str()),
            ("cus_add1", c.address.as_str()),
            ("cus_city", c.city.as_str()),
            ("cus_postcode", c.postcode.as_str()),
            ("cus_country", c.country.as_str()),
            ("cus_phone", phone),
            ("shipping_method", "Courier"),
            ("ship_name", c.name.as_str()),
            ("ship_add1", c.address.as_str()),
            ("ship_city", c.city.as_str()),
            ("ship_postcode", c.postcode.as_str()),
            ("ship_country", c.country.as_str()),
            ("num_of_item", items.as_str()),
            ("product_name", product_name.as_str()),
            ("product_category", "general"),
            ("product_profile", "physical-goods"),
            ("value_a", request.order_reference.as_str()),
        ]);
        form.push(("ipn_url", request.urls.notify_url.as_str()));
        let request = self
            .http
            .post(format!("{}{INIT_PATH}", self.base))
            .form(&form);
        let reply = http::send(ProviderId::Sslcommerz, request, |_| None).await?;
        let body: InitResponse = http::json(ProviderId::Sslcommerz, &reply)?;
        match (body.status.as_str(), body.sessionkey, body.gateway_page_url) {
            ("SUCCESS", Some(session_id), Some(url)) if !url.is_empty() => Ok(Started {
                session_id,
                next: NextStep::Redirect { url },
            }),
            _ => Err(PaymentError::Refused(
                body.failedreason
                    .unwrap_or_else(|| "no reason given".into()),
            )),
        }
    }

    fn check_signature(&self, _headers: &HeaderMap, body: &[u8]) -> Result<(), WebhookError> {
        self.signed_fields(body).map(|_| ())
    }

    async fn verify_webhook(
        &self,
        _headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Option<PaymentUpdate>, WebhookError> {
        let fields = self.signed_fields(body)?;
        let field = |k: &str| fields.get(k).map(String::as_str).unwrap_or("");
        let (tran_id, status) = (field("tran_id"), field("status"));
        if tran_id.is_empty() {
            return Err(WebhookError::NotVerified("IPN without tran_id".into()));
        }
        let unconfirmed = |e: PaymentError| WebhookError::Unconfirmed(e.to_string());
        if TxStatus::parse(status).is_paid() {
            let val_id = field("val_id");
            let Some(t) = self.validate(val_id, tran_id).await.map_err(unconfirmed)? else {
                return Err(WebhookError::NotVerified(format!(
                    "the validation API does not confirm val_id {val_id:?}"
                )));
            };
            let payload = serde_json::to_string(&t).unwrap_or_default();
            let mut update = self.update(
                tran_id,
                format!("ipn:{tran_id}:{val_id}"),
                Source::Webhook,
                &format!("IPN {status}, validation {}", t.status),
                Self::paid(&t),
                payload,
            );
            update.payment_id = t.bank_tran_id.clone();
            return Ok(Some(update));
        }
        // Not paid: believe it only as far as the transaction query confirms it.
        let (transactions, raw) = self.query(tran_id).await.map_err(unconfirmed)?;
        let (outcome, said) = Self::outcome_of(&transactions);
        if outcome == Outcome::Pending || said != status && !matches!(outcome, Outcome::Paid { .. })
        {
            if Self::is_earlier_try(&transactions, &fields) {
                // A genuine IPN about a try the shopper made before the latest one (a declined
                // card, then another try): acknowledged, or SSLCOMMERZ would re-send it for ever.
                // The latest try speaks for the payment (its own IPN, the return, the lookups).
                return Ok(None);
            }
            return Err(WebhookError::NotVerified(format!(
                "IPN says {status:?} but the transaction query says {said:?}"
            )));
        }
        Ok(Some(self.update(
            tran_id,
            format!("ipn:{tran_id}:{said}"),
            Source::Webhook,
            &format!("IPN {status}, query {said}"),
            outcome,
            raw,
        )))
    }

    async fn lookup(&self, attempt: AttemptRef<'_>) -> Result<PaymentUpdate, PaymentError> {
        let attempt_reference = attempt.reference;
        let (transactions, raw) = self.query(attempt_reference).await?;
        let (outcome, said) = Self::outcome_of(&transactions);
        let mut update = self.update(
            attempt_reference,
            format!("lookup:{attempt_reference}:{said}"),
            Source::Lookup,
            &format!("transaction query: {said}"),
            outcome,
            raw,
        );
        update.payment_id = transactions
            .iter()
            .find(|t| TxStatus::parse(&t.status).is_paid())
            .and_then(|t| t.bank_tran_id.clone());
        Ok(update)
    }

    /// SSLCOMMERZ has no call that closes a gateway session: one with nothing paid is abandoned
    /// by the shop and reported cancelled.
    async fn cancel(&self, attempt: AttemptRef<'_>) -> Result<PaymentUpdate, PaymentError> {
        Ok(self.lookup(attempt).await?.abandoned_unless_paid())
    }

    async fn refund(&self, request: &RefundRequest<'_>) -> Result<RefundOutcome, PaymentError> {
        let bank_tran_id = match request.payment_id {
            Some(id) => id.to_string(),
            None => self.bank_tran_id(request.attempt.reference).await?,
        };
        let amount = request.amount.to_decimal_string();
        let remarks: String = request.reason.chars().take(255).collect();
        // `refe_id` carries the shop's key: the sandbox (and, per the node SDK, the provider)
        // treats a repeat with the same id as the same refund. `refund_trans_id` is the
        // refund's own id at SSLCOMMERZ (unique, at most 30 characters), derived from the key.
        let refund_trans_id = refund_trans_id(request.idempotency_key);
        let (answer, raw) = self
            .get_json::<RefundAnswer>(
                QUERY_PATH,
                &[
                    ("bank_tran_id", bank_tran_id.as_str()),
                    ("refund_amount", amount.as_str()),
                    ("refund_remarks", remarks.as_str()),
                    ("refe_id", request.idempotency_key),
                    ("refund_trans_id", refund_trans_id.as_str()),
                ],
            )
            .await?;
        if answer.api_connect != "DONE" {
            return Err(PaymentError::Unavailable(format!(
                "SSLCOMMERZ refund said APIConnect={}",
                answer.api_connect
            )));
        }
        if answer.status == "failed" {
            return Err(PaymentError::Refused(
                answer
                    .error_reason
                    .unwrap_or_else(|| "no reason given".into()),
            ));
        }
        let initiated = Self::refund_outcome(&answer, raw).ok_or_else(|| {
            PaymentError::Unavailable(format!("SSLCOMMERZ refund status {:?}", answer.status))
        })?;
        // Initiated: ask at once where it stands (a quick refund is then settled already).
        if initiated.refund_id.is_empty() {
            return Ok(initiated);
        }
        match self
            .lookup_refund(request.attempt, &initiated.refund_id)
            .await
        {
            Ok(now) => Ok(now),
            Err(_) => Ok(initiated),
        }
    }

    async fn lookup_refund(
        &self,
        _attempt: AttemptRef<'_>,
        refund_id: &str,
    ) -> Result<RefundOutcome, PaymentError> {
        let (answer, raw) = self
            .get_json::<RefundAnswer>(QUERY_PATH, &[("refund_ref_id", refund_id)])
            .await?;
        if answer.api_connect != "DONE" {
            return Err(PaymentError::Unavailable(format!(
                "SSLCOMMERZ refund query said APIConnect={}",
                answer.api_connect
            )));
        }
        let mut outcome = Self::refund_outcome(&answer, raw).ok_or_else(|| {
            PaymentError::Unavailable(format!("SSLCOMMERZ refund status {:?}", answer.status))
        })?;
        if outcome.refund_id.is_empty() {
            outcome.refund_id = refund_id.to_string();
        }
        Ok(outcome)
    }

    fn acknowledgement(&self) -> &'static str {
        "IPN received"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_in_provider_format() {
        assert_eq!(parse_amount("100.00", Currency::Bdt), Some(10_000));
        assert_eq!(parse_amount("1250.5", Currency::Bdt), Some(125_050));
        assert_eq!(parse_amount("99.9900", Currency::Bdt), Some(9_999));
        assert_eq!(parse_amount("12", Currency::Bdt), Some(1_200));
        assert_eq!(parse_amount("1.005", Currency::Bdt), None);
        assert_eq!(parse_amount("abc", Currency::Bdt), None);
    }

    fn tx(status: &str, risk: Option<&str>) -> Transaction {
        Transaction {
            status: status.into(),
            tran_id: "ORD-000001-A1".into(),
            val_id: "v".into(),
            amount: "100.00".into(),
            currency: "BDT".into(),
            currency_type: None,
            currency_amount: None,
            risk_level: risk.map(str::to_string),
            risk_title: risk.map(|_| "Card holder unverified".to_string()),
            bank_tran_id: None,
        }
    }

    #[test]
    fn a_risky_payment_is_flagged_and_a_safe_one_is_not() {
        assert_eq!(
            Sslcommerz::paid(&tx("VALID", Some("0"))),
            Outcome::paid(10_000, "BDT")
        );
        assert!(matches!(
            Sslcommerz::paid(&tx("VALID", Some("1"))),
            Outcome::Paid { flagged: Some(reason), .. } if reason.contains("risk level 1")
        ));
    }

    #[test]
    fn refund_trans_ids_are_short_distinct_and_stable() {
        let long = "A".repeat(100);
        let other = format!("{}B", "A".repeat(99));
        let id = refund_trans_id(&long);
        assert_eq!(id.len(), REFUND_TRANS_ID_MAX);
        assert!(id.chars().all(|c| c.is_ascii_alphanumeric()), "{id}");
        assert_eq!(id, refund_trans_id(&long), "a retry sends the same id");
        assert_ne!(
            id,
            refund_trans_id(&other),
            "keys sharing 30 characters differ"
        );
    }

    #[test]
    fn an_ipn_about_an_earlier_try_is_recognised() {
        let ipn = |status: &str, bank: &str| -> BTreeMap<String, String> {
            [("status", status), ("bank_tran_id", bank), ("val_id", "")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let mut declined = tx("FAILED", None);
        declined.bank_tran_id = Some("B1".into());
        let mut cancelled = tx("CANCELLED", None);
        cancelled.bank_tran_id = Some("B2".into());
        let tries = [declined, cancelled];
        assert!(Sslcommerz::is_earlier_try(&tries, &ipn("FAILED", "B1")));
        assert!(
            !Sslcommerz::is_earlier_try(&tries, &ipn("FAILED", "B9")),
            "not a try it knows"
        );
        assert!(
            !Sslcommerz::is_earlier_try(&tries, &ipn("CANCELLED", "B2")),
            "the latest"
        );
        assert!(!Sslcommerz::is_earlier_try(&[], &ipn("FAILED", "B1")));
    }

    #[test]
    fn every_status_is_named_and_unknown_ones_are_held() {
        let outcome = |s: &str| Sslcommerz::outcome_of(&[tx(s, None)]).0;
        assert_eq!(outcome("FAILED"), Outcome::Failed);
        assert_eq!(outcome("CANCELLED"), Outcome::Cancelled);
        assert_eq!(outcome("EXPIRED"), Outcome::Expired);
        assert_eq!(outcome("UNATTEMPTED"), Outcome::Pending);
        assert!(matches!(
            outcome("INVALID_TRANSACTION"),
            Outcome::Unrecognised(_)
        ));
        assert!(matches!(outcome("ON_HOLD"), Outcome::Unrecognised(_)));
        assert_eq!(Sslcommerz::outcome_of(&[]).0, Outcome::Pending);
    }
}
