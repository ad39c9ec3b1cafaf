//! Braintree (docs/payments.md#braintree): no hosted page. *Start* asks the gateway for a client token and
//! answers with a page of the shop's own ([`NextStep::ShopPage`]) whose form carries
//! `payment_method_nonce` to the return URL: Braintree's Drop-in fills it in with real keys, the
//! built-in sandbox's stand-in Drop-in page (`/sandbox/braintree/dropin`) with a test nonce.
//! The return then makes `transaction.sale` (the quoted amount, `options.submit_for_settlement =
//! true`, `order_id` = the attempt reference tagged with the attempt's session,
//! `ORD-000123-A1/bt_…`: see [`wire::tagged_order_id`]).
//!
//! **Only this shop's transactions.** Another shop on the same Braintree account can have the same
//! reference. Searches are on the tagged `order_id`, and a notice about a sale must carry the
//! attempt's session (checked against the stored one like any provider session), so their sales
//! never pay or fail an order here. Refunds carry the refund's key the same way
//! (`ORD-000123-A1/{key}`), and a refund notice counts only for the attempt's own sale.
//!
//! **Sell once, for the owner only.** The page's form carries a token (HMAC-SHA256 of the attempt
//! and its session under the private key) that only the attempt's owner sees on the owner-only
//! page `/payments/braintree/go/{attempt}`; a nonce posted without it sells nothing (the return
//! route is open to cross-site posts). The sale is made by the one caller that wins the attempt's
//! [`CaptureClaims`] claim, and, since Braintree has no idempotency key, only after a
//! transaction search on `order_id` found no earlier sale (one whose answer was lost).
//!
//! Webhooks: `bt_signature` / `bt_payload` (form-urlencoded), HMAC-SHA1 keyed by SHA-1 of the
//! private key over the payload as received, the pair with our public key, compared in constant
//! time. `check` is acknowledged; `transaction_settled` confirms a sale (or a refund),
//! `transaction_settlement_declined` and disputes are held on the timeline for a person.

pub mod config;
pub mod wire;
pub mod xml;

use super::kernel::Registration;
use super::{
    transport_error, AttemptRef, Capabilities, CaptureClaims, NextStep, Outcome, PaymentError,
    PaymentProvider, PaymentUpdate, RefundOutcome, RefundReport, RefundRequest, RefundState,
    ShopPage, Source, StartRequest, Started, WebhookError,
};
use crate::model::{Currency, Money, ProviderId};
use crate::server::csp::{hash_source, PageSources};
use crate::server::html::escape;
use crate::server::payments::kernel::sandbox_keys;
use axum::http::HeaderMap;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use std::borrow::Cow;
use std::sync::Arc;
use wire::{SaleResult, Transaction};

pub const REGISTRATION: Registration = Registration {
    id: ProviderId::Braintree,
    configure: config::configure,
    published_keys: &[
        ("BRAINTREE_MERCHANT_ID", sandbox_keys::BRAINTREE_MERCHANT_ID),
        ("BRAINTREE_PUBLIC_KEY", sandbox_keys::BRAINTREE_PUBLIC_KEY),
        ("BRAINTREE_PRIVATE_KEY", sandbox_keys::BRAINTREE_PRIVATE_KEY),
    ],
};

const BRAINTREE: ProviderId = ProviderId::Braintree;
/// The API version the shop speaks (and the sandbox asks for).
pub const API_VERSION: &str = "6";
/// Braintree's Drop-in UI script (loaded from Braintree with real keys only).
pub const DROPIN_SCRIPT: &str =
    "https://js.braintreegateway.com/web/dropin/1.43.0/js/dropin.min.js";
/// The page's own script that starts Drop-in and posts its nonce. Fixed text, so the page's
/// Content Security Policy allows exactly it by hash.
const DROPIN_START: &str = "(function(){var f=document.getElementById('braintree-form');\
var c=document.getElementById('braintree-dropin');\
if(!window.braintree){c.textContent='Braintree\\'s Drop-in could not be loaded.';return;}\
braintree.dropin.create({authorization:c.dataset.clientToken,container:'#braintree-dropin'},\
function(err,dropin){if(err){c.textContent='Braintree\\'s Drop-in could not start.';return;}\
f.addEventListener('submit',function(e){e.preventDefault();\
dropin.requestPaymentMethod(function(err,p){if(err){return;}\
document.getElementById('braintree-nonce').value=p.nonce;f.submit();});});});})();";
/// Braintree's hosts that Drop-in loads from and talks to (its script, the card-field frames,
/// the client API and its analytics), production and sandbox. Allowed on its page only.
const DROPIN_SCRIPT_ORIGINS: [&str; 2] = [
    "https://js.braintreegateway.com",
    "https://assets.braintreegateway.com",
];
const DROPIN_CONNECT_ORIGINS: [&str; 6] = [
    "https://api.braintreegateway.com",
    "https://api.sandbox.braintreegateway.com",
    "https://client-analytics.braintreegateway.com",
    "https://client-analytics.sandbox.braintreegateway.com",
    "https://payments.braintree-api.com",
    "https://payments.sandbox.braintree-api.com",
];
const DROPIN_ASSETS: &str = "https://assets.braintreegateway.com";
/// Braintree's published test nonces: one that pays, one a processor declines.
pub const VALID_NONCE: &str = "fake-valid-nonce";
pub const DECLINED_NONCE: &str = "fake-processor-declined-visa-nonce";
/// The validation code of a refund before settlement (void instead).
const NOT_SETTLED: &str = "91506";

/// A merchant account settles in exactly one currency: the one configured
/// (`BRAINTREE_CURRENCY`, default USD). The bounds only keep totals sane.
pub fn capabilities(currency: Currency) -> &'static Capabilities {
    macro_rules! caps {
        ($c:expr) => {{
            static CAPS: Capabilities = Capabilities {
                currencies: &[($c, 1, 99_999_999)],
                // `transaction.refund`, full or partial, once settled; a full refund before
                // settlement is a void.
                refunds: true,
                partial_refunds: true,
                // Braintree has no idempotency key: an unanswered refund waits for a person.
                idempotent_refunds: false,
                // Nothing exists at Braintree until the sale; the shop just never sells.
                closes_sessions: false,
            };
            &CAPS
        }};
    }
    match currency {
        Currency::Usd => caps!(Currency::Usd),
        Currency::Eur => caps!(Currency::Eur),
        Currency::Jpy => caps!(Currency::Jpy),
        Currency::Bdt => caps!(Currency::Bdt),
        Currency::Cny => caps!(Currency::Cny),
    }
}

pub struct Braintree {
    pub(crate) http: reqwest::Client,
    pub(crate) base: String,
    pub(crate) merchant_id: String,
    pub(crate) public_key: String,
    pub(crate) private_key: SecretString,
    pub(crate) merchant_account_id: Option<String>,
    pub(crate) currency: Currency,
    /// The built-in sandbox's keys: the page offers its stand-in Drop-in, not Braintree's.
    pub(crate) stand_in: bool,
    pub(crate) captures: Arc<dyn CaptureClaims>,
}

/// An answer of the gateway: 200, 201 or 422 (the others are errors by the shared policy).
struct Answer {
    status: u16,
    body: axum::body::Bytes,
}

/// A Braintree amount in minor units (`"18.00"`; `"1500.00"` reads as 1500 yen).
fn parse_amount(text: &str, currency: Currency) -> Option<Money> {
    let text = text.trim();
    let text = if currency.exponent() == 0 {
        text.split_once('.')
            .filter(|(_, frac)| frac.chars().all(|c| c == '0'))
            .map_or(text, |(whole, _)| whole)
    } else {
        text
    };
    Money::parse_decimal(text, currency).ok()
}

/// A path segment the gateway could have issued (transaction ids are short alphanumerics).
fn segment(id: &str) -> Option<&str> {
    (!id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'))
    .then_some(id)
}

impl Braintree {
    fn url(&self, path: &str) -> String {
        format!("{}/merchants/{}{path}", self.base, self.merchant_id)
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<String>,
    ) -> Result<Answer, PaymentError> {
        let verb = method.clone();
        let mut request = self
            .http
            .request(method, self.url(path))
            .basic_auth(&self.public_key, Some(self.private_key.expose_secret()))
            .header("X-ApiVersion", API_VERSION)
            .header("Accept", "application/xml");
        if let Some(body) = body {
            request = request.header("content-type", "application/xml").body(body);
        }
        let started = std::time::Instant::now();
        let response = request.send().await.map_err(|e| {
            let e = transport_error(e);
            tracing::warn!(provider = "braintree", %path, error = %e, "provider request failed");
            e
        })?;
        let status = response.status().as_u16();
        // Like `http::send`: the operation and attempt come from the `provider_call` span.
        tracing::info!(
            provider = "braintree",
            method = %verb,
            %path,
            status,
            duration_ms = started.elapsed().as_millis() as u64,
            "provider request"
        );
        let body = response.bytes().await.map_err(transport_error)?;
        if matches!(status, 200 | 201 | 422) {
            return Ok(Answer { status, body });
        }
        let text = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
        let detail = format!("HTTP {status}: {text}");
        tracing::warn!(provider = "braintree", status, detail = %detail, "provider answered with an error");
        if status >= 500 || status == 429 || status == 408 {
            Err(PaymentError::Unavailable(detail))
        } else {
            Err(PaymentError::Refused(detail))
        }
    }

    fn unreadable(e: String) -> PaymentError {
        tracing::warn!(provider = "braintree", error = %e, "unreadable provider answer");
        PaymentError::Unavailable(format!("unexpected Braintree response: {e}"))
    }

    /// The form token of an attempt's page: only the attempt's owner is shown it.
    /// It also binds the quoted amount the form carries, so the amount cannot be changed.
    fn form_mac(&self, attempt: &str, session: &str, amount: &str, currency: &str) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(self.private_key.expose_secret().as_bytes())
            .expect("HMAC takes any key length");
        mac.update(
            format!("storefront-braintree-form|{attempt}|{session}|{amount}|{currency}").as_bytes(),
        );
        mac
    }

    fn form_token(&self, attempt: &str, session: &str, amount: &str, currency: &str) -> String {
        hex::encode(
            self.form_mac(attempt, session, amount, currency)
                .finalize()
                .into_bytes(),
        )
    }

    fn form_token_ok(
        &self,
        attempt: &str,
        session: &str,
        amount: &str,
        currency: &str,
        given: &str,
    ) -> bool {
        let Ok(given) = hex::decode(given) else {
            return false;
        };
        self.form_mac(attempt, session, amount, currency)
            .verify_slice(&given)
            .is_ok()
    }

    /// What a sale transaction says about the payment.
    fn outcome(&self, tx: &Transaction) -> Outcome {
        if tx.is_captured() {
            let code = tx
                .currency
                .clone()
                .unwrap_or_else(|| self.currency.code().to_string())
                .to_ascii_uppercase();
            return match code
                .parse::<Currency>()
                .ok()
                .and_then(|c| parse_amount(&tx.amount, c))
            {
                Some(money) => Outcome::paid(money.minor, money.currency.code()),
                None => Outcome::paid(-1, code),
            };
        }
        match tx.status.as_str() {
            "authorized" | "authorizing" => Outcome::Pending,
            "processor_declined" | "gateway_rejected" | "failed" => Outcome::Failed,
            "voided" => Outcome::Cancelled,
            "authorization_expired" => Outcome::Expired,
            other => Outcome::Unrecognised(format!("transaction status {other}")),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn update(
        &self,
        attempt: &str,
        session: Option<&str>,
        tx: &Transaction,
        event_id: String,
        source: Source,
        kind: String,
        payload: String,
    ) -> PaymentUpdate {
        let outcome = self.outcome(tx);
        PaymentUpdate {
            provider: BRAINTREE,
            attempt_reference: attempt.to_string(),
            session_id: session.map(str::to_string),
            event_id,
            source,
            kind,
            payment_id: matches!(outcome, Outcome::Paid { .. }).then(|| tx.id.clone()),
            outcome,
            payload,
        }
    }

    /// The sales made for this attempt (transaction search on `order_id`), and the raw answer.
    async fn search(&self, order_id: &str) -> Result<(Vec<Transaction>, String), PaymentError> {
        let answer = self
            .call(
                reqwest::Method::POST,
                "/transactions/advanced_search_ids",
                Some(wire::search_body(order_id, None)),
            )
            .await?;
        if answer.status == 422 {
            return Err(PaymentError::Refused(
                String::from_utf8_lossy(&answer.body).into_owned(),
            ));
        }
        let ids = wire::search_ids(&answer.body).map_err(Self::unreadable)?;
        if ids.is_empty() {
            return Ok((
                Vec::new(),
                String::from_utf8_lossy(&answer.body).into_owned(),
            ));
        }
        let answer = self
            .call(
                reqwest::Method::POST,
                "/transactions/advanced_search",
                Some(wire::search_body(order_id, Some(&ids))),
            )
            .await?;
        let found = wire::search_transactions(&answer.body).map_err(Self::unreadable)?;
        let sales = found
            .into_iter()
            .filter(|t| t.kind == "sale" && t.order_id.as_deref() == Some(order_id))
            .collect();
        Ok((sales, String::from_utf8_lossy(&answer.body).into_owned()))
    }

    /// The attempt and session a sale in a notification was made for, from its tagged `order_id`.
    /// A sale without the shop's tag is not one this shop made (another shop on the account with
    /// the same reference, or one made by hand): `None`, and the notice is acknowledged and ignored.
    fn sale_owner(tx: &Transaction) -> Option<(String, String)> {
        let order_id = tx.order_id.as_deref()?;
        match wire::split_order_id(order_id) {
            (reference, Some(session)) => Some((reference.to_string(), session.to_string())),
            (_, None) => {
                tracing::warn!(transaction = %tx.id, "a Braintree notice about a sale without the shop's tag was ignored");
                None
            }
        }
    }

    /// The most telling sale: a captured one, else the latest.
    fn best(sales: &[Transaction]) -> Option<&Transaction> {
        sales
            .iter()
            .find(|t| t.is_captured())
            .or_else(|| sales.last())
    }

    /// The attempt's sale, found by its tagged `order_id` (only this shop's session matches).
    async fn look_up(&self, attempt: AttemptRef<'_>) -> Result<PaymentUpdate, PaymentError> {
        let (sales, payload) = match attempt.session_id {
            Some(session) => {
                self.search(&wire::tagged_order_id(attempt.reference, session))
                    .await?
            }
            // No session, no page: nothing can have been sold for the attempt.
            None => (Vec::new(), String::new()),
        };
        Ok(match Self::best(&sales) {
            Some(tx) => self.update(
                attempt.reference,
                attempt.session_id,
                tx,
                format!("lookup:{}:{}", tx.id, tx.status),
                Source::Lookup,
                format!("transaction.search: {}", tx.status),
                payload,
            ),
            None => PaymentUpdate {
                provider: BRAINTREE,
                attempt_reference: attempt.reference.to_string(),
                session_id: attempt.session_id.map(str::to_string),
                event_id: format!("lookup:{}:none", attempt.reference),
                source: Source::Lookup,
                kind: "transaction.search: no sale yet".into(),
                outcome: Outcome::Pending,
                payload,
                payment_id: None,
            },
        })
    }

    /// `transaction.sale`, once (see the module documentation).
    async fn sell_once(
        &self,
        attempt: &str,
        session: &str,
        nonce: &str,
        amount: Money,
    ) -> Result<PaymentUpdate, PaymentError> {
        let at = AttemptRef {
            reference: attempt,
            session_id: Some(session),
        };
        if !self.captures.claim(attempt, session).await? {
            let mut update = self.look_up(at).await?;
            update.kind = format!("{}; sale claimed by another caller", update.kind);
            return Ok(update);
        }
        let order_id = wire::tagged_order_id(attempt, session);
        // A sale made before whose answer was lost (the claim of a caller that died went stale).
        let earlier = match self.search(&order_id).await {
            Ok((sales, payload)) => Self::best(&sales).cloned().map(|tx| (tx, payload)),
            Err(e) => {
                self.captures.release(attempt).await?;
                return Err(e);
            }
        };
        if let Some((tx, payload)) = earlier {
            return Ok(self.update(
                attempt,
                Some(session),
                &tx,
                format!("lookup:{}:{}", tx.id, tx.status),
                Source::Lookup,
                format!("transaction.search before the sale: {}", tx.status),
                payload,
            ));
        }
        let body = wire::sale_body(
            &amount.to_decimal_string(),
            nonce,
            &order_id,
            self.merchant_account_id.as_deref(),
        );
        let answer = match self
            .call(reqwest::Method::POST, "/transactions", Some(body))
            .await
        {
            Ok(answer) => answer,
            Err(e @ PaymentError::Refused(_)) => {
                // Braintree answered and refused: nothing was sold, the next try may sell.
                self.captures.release(attempt).await?;
                return Err(e);
            }
            Err(e) => {
                // No answer: it may have sold, and Braintree has no idempotency key. The claim
                // is kept until it goes stale, so until then every caller only looks the sale up
                // (the return, the reconciler); after that the next try searches before selling.
                return Err(e);
            }
        };
        let payload = String::from_utf8_lossy(&answer.body).into_owned();
        let result = wire::sale_result(&answer.body).map_err(Self::unreadable)?;
        Ok(match result {
            SaleResult::Accepted(tx) => self.update(
                attempt,
                Some(session),
                &tx,
                format!("sale:{}:{}", tx.id, tx.status),
                Source::Lookup,
                format!("transaction.sale: {}", tx.status),
                payload,
            ),
            SaleResult::Declined(tx) => {
                let mut update = self.update(
                    attempt,
                    Some(session),
                    &tx,
                    format!("sale:{}:{}", tx.id, tx.status),
                    Source::Lookup,
                    format!("transaction.sale {}", tx.reason()),
                    payload,
                );
                if !matches!(update.outcome, Outcome::Failed) {
                    update.outcome = Outcome::Failed;
                }
                update
            }
            SaleResult::Invalid(summary) => PaymentUpdate {
                provider: BRAINTREE,
                attempt_reference: attempt.to_string(),
                session_id: Some(session.to_string()),
                event_id: format!("sale:{attempt}:invalid"),
                source: Source::Lookup,
                kind: format!("transaction.sale refused: {summary}"),
                outcome: Outcome::Failed,
                payload,
                payment_id: None,
            },
        })
    }

    /// The amount the page quoted, kept in the step's values.
    fn quoted(values: &[(String, String)]) -> Option<(String, String)> {
        let get = |k: &str| values.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        Some((get("amount")?, get("currency")?))
    }

    async fn transaction(&self, id: &str) -> Result<(Transaction, String), PaymentError> {
        let id = segment(id)
            .ok_or_else(|| PaymentError::Refused(format!("not a transaction id: {id:?}")))?;
        let answer = self
            .call(reqwest::Method::GET, &format!("/transactions/{id}"), None)
            .await?;
        let root = xml::parse_bytes(&answer.body).map_err(Self::unreadable)?;
        let tx = Transaction::from_node(&root)
            .ok_or_else(|| Self::unreadable("no transaction".into()))?;
        Ok((tx, String::from_utf8_lossy(&answer.body).into_owned()))
    }

    fn refund_state(tx: &Transaction) -> RefundState {
        match tx.status.as_str() {
            "submitted_for_settlement"
            | "settling"
            | "settled"
            | "settlement_pending"
            | "settlement_confirmed"
            | "voided" => RefundState::Succeeded,
            "processor_declined" | "gateway_rejected" | "failed" | "settlement_declined" => {
                RefundState::Failed(tx.reason())
            }
            _ => RefundState::Pending,
        }
    }
}

/// The form fields the page carries to the return URL, and where to.
fn values_get<'a>(values: &'a [(String, String)], name: &str) -> &'a str {
    values
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or("")
}

#[async_trait::async_trait]
impl PaymentProvider for Braintree {
    fn id(&self) -> ProviderId {
        BRAINTREE
    }

    fn capabilities(&self) -> &Capabilities {
        capabilities(self.currency)
    }

    async fn start(&self, request: &StartRequest) -> Result<Started, PaymentError> {
        if request.total.currency != self.currency {
            return Err(PaymentError::Refused(format!(
                "the merchant account settles in {}, not {}",
                self.currency.code(),
                request.total.currency.code()
            )));
        }
        let mut token_request =
            xml::Node::new("client-token").with(xml::Node::typed("version", "integer", "2"));
        if let Some(account) = &self.merchant_account_id {
            token_request =
                token_request.with(xml::Node::text("merchant-account-id", account.as_str()));
        }
        let answer = self
            .call(
                reqwest::Method::POST,
                "/client_token",
                Some(token_request.document()),
            )
            .await?;
        if answer.status == 422 {
            let root = xml::parse_bytes(&answer.body).map_err(Self::unreadable)?;
            return Err(PaymentError::Refused(wire::error_summary(&root)));
        }
        let root = xml::parse_bytes(&answer.body).map_err(Self::unreadable)?;
        let client_token = root
            .get("value")
            .ok_or_else(|| Self::unreadable("a client token without a value".into()))?
            .to_string();
        let session = format!("bt_{}", uuid::Uuid::new_v4().simple());
        let amount = request.total.to_decimal_string();
        let currency = request.total.currency.code().to_string();
        let form_token = self.form_token(&request.attempt_reference, &session, &amount, &currency);
        let values = vec![
            ("client_token".to_string(), client_token),
            ("form_token".to_string(), form_token),
            ("amount".to_string(), amount),
            ("currency".to_string(), currency),
            ("shown".to_string(), request.total.to_string()),
            ("return_url".to_string(), request.urls.return_url.clone()),
            ("cancel_url".to_string(), request.urls.cancel_url.clone()),
        ];
        Ok(Started {
            session_id: session,
            next: NextStep::ShopPage { values },
        })
    }

    fn check_signature(&self, _headers: &HeaderMap, body: &[u8]) -> Result<(), WebhookError> {
        let form: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
            .map_err(|_| WebhookError::NotVerified("not a form".into()))?;
        let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        let (Some(signature), Some(payload)) = (get("bt_signature"), get("bt_payload")) else {
            return Err(WebhookError::NotVerified(
                "bt_signature and bt_payload are required".into(),
            ));
        };
        wire::verify(
            &self.public_key,
            self.private_key.expose_secret(),
            signature,
            payload,
        )
        .map_err(WebhookError::NotVerified)
    }

    /// Verified by the HMAC over the `bt_payload` alone.
    fn verifies_offline(&self) -> bool {
        true
    }

    async fn verify_webhook(
        &self,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Option<PaymentUpdate>, WebhookError> {
        self.check_signature(headers, body)?;
        let form: Vec<(String, String)> = serde_urlencoded::from_bytes(body).unwrap_or_default();
        let payload = form
            .iter()
            .find(|(k, _)| k == "bt_payload")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        let notification = wire::notification(&payload).map_err(WebhookError::NotVerified)?;
        // Braintree's notifications carry no id: the signed payload itself is the event.
        let event_id = format!(
            "bt:{}",
            hex::encode(&Sha256::digest(payload.as_bytes())[..16])
        );
        let xml_text = {
            use base64::Engine as _;
            let compact: String = payload.chars().filter(|c| *c != '\n').collect();
            base64::engine::general_purpose::STANDARD
                .decode(compact)
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default()
        };
        let kind = notification.kind.clone();
        if kind.starts_with("dispute_") {
            let Some((dispute_id, tx)) = notification.dispute else {
                return Ok(None);
            };
            let Some((attempt, session)) = Self::sale_owner(&tx) else {
                return Ok(None);
            };
            return Ok(Some(PaymentUpdate {
                provider: BRAINTREE,
                attempt_reference: attempt,
                session_id: Some(session),
                event_id,
                source: Source::Webhook,
                kind: format!("{kind} (dispute {dispute_id})"),
                outcome: Outcome::Unrecognised(format!(
                    "{kind}: dispute {dispute_id} on transaction {}",
                    tx.id
                )),
                payload: xml_text,
                payment_id: Some(tx.id.clone()),
            }));
        }
        let Some(tx) = notification.transaction else {
            // `check` and kinds about other things: acknowledged, nothing to apply.
            return Ok(None);
        };
        let Some(order_id) = tx.order_id.clone() else {
            return Ok(None);
        };
        let (reference, own_id) = wire::split_order_id(&order_id);
        let mut attempt = reference.to_string();
        // A sale names the attempt's session; a credit the refund's key, and the sale it refunds
        // (which must be the attempt's captured payment, see `services::refunds`).
        let mut session_id = None;
        let outcome = match (kind.as_str(), tx.kind.as_str()) {
            ("transaction_settled", "sale") | ("transaction_settlement_declined", "sale") => {
                let Some((owner, session)) = Self::sale_owner(&tx) else {
                    return Ok(None);
                };
                (attempt, session_id) = (owner, Some(session));
                if kind == "transaction_settled" {
                    self.outcome(&tx)
                } else {
                    Outcome::Unrecognised(format!("settlement declined for transaction {}", tx.id))
                }
            }
            ("transaction_settled", "credit") | ("transaction_settlement_declined", "credit") => {
                let currency = tx
                    .currency
                    .clone()
                    .unwrap_or_else(|| self.currency.code().to_string());
                let amount_minor = currency
                    .parse::<Currency>()
                    .ok()
                    .and_then(|c| parse_amount(&tx.amount, c))
                    .map_or(-1, |m| m.minor);
                Outcome::Refund(RefundReport {
                    refund_id: tx.id.clone(),
                    refund_key: own_id.map(str::to_string),
                    state: if kind == "transaction_settled" {
                        RefundState::Succeeded
                    } else {
                        RefundState::Failed("settlement declined".into())
                    },
                    amount_minor,
                    currency,
                })
            }
            _ => return Ok(None),
        };
        let payment_id = if tx.kind == "credit" {
            tx.refunded_transaction_id.clone()
        } else {
            Some(tx.id.clone())
        };
        Ok(Some(PaymentUpdate {
            provider: BRAINTREE,
            attempt_reference: attempt,
            session_id,
            event_id,
            source: Source::Webhook,
            kind,
            outcome,
            payload: xml_text,
            payment_id,
        }))
    }

    async fn lookup(&self, attempt: AttemptRef<'_>) -> Result<PaymentUpdate, PaymentError> {
        self.look_up(attempt).await
    }

    /// The page's form came back. A nonce with this attempt's form token is sold (once); anything
    /// else only looks the attempt up.
    async fn complete_return(
        &self,
        attempt: AttemptRef<'_>,
        params: &[(String, String)],
    ) -> Result<PaymentUpdate, PaymentError> {
        let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        let (Some(session), Some(nonce)) = (attempt.session_id, get("payment_method_nonce")) else {
            return self.look_up(attempt).await;
        };
        let nonce = nonce.trim();
        let (amount, currency) = (get("amount").unwrap_or(""), get("currency").unwrap_or(""));
        let token_ok = get("form_token")
            .is_some_and(|t| self.form_token_ok(attempt.reference, session, amount, currency, t));
        if !token_ok {
            tracing::warn!(
                attempt = attempt.reference,
                "a nonce without the attempt's form token: nothing sold"
            );
            return self.look_up(attempt).await;
        }
        if nonce.is_empty() || nonce.len() > 512 || nonce.chars().any(|c| c.is_control()) {
            return self.look_up(attempt).await;
        }
        let Some(amount) = currency
            .parse::<Currency>()
            .ok()
            .and_then(|c| parse_amount(amount, c))
        else {
            return self.look_up(attempt).await;
        };
        self.sell_once(attempt.reference, session, nonce, amount)
            .await
    }

    /// Nothing exists at Braintree before the sale, and the attempt is already `cancelling`, so
    /// no sale can claim it any more: an attempt without a sale is cancelled. (A sale claimed just
    /// before is still running then: the shop's cancel refuses while its claim stands, see
    /// `services::orders::cancel`.)
    async fn cancel(&self, attempt: AttemptRef<'_>) -> Result<PaymentUpdate, PaymentError> {
        let mut update = self.look_up(attempt).await?;
        if update.outcome == Outcome::Pending {
            update.outcome = Outcome::Cancelled;
            update.source = Source::Cancel;
            update.event_id = format!("cancel:{}", attempt.reference);
            update.kind = "no sale; abandoned by the shop".into();
        }
        Ok(update)
    }

    async fn refund(&self, request: &RefundRequest<'_>) -> Result<RefundOutcome, PaymentError> {
        let tx_id = match (request.payment_id, request.attempt.session_id) {
            (Some(id), _) => id.to_string(),
            (None, None) => return Err(PaymentError::Refused("no sale to refund".into())),
            (None, Some(session)) => {
                let order_id = wire::tagged_order_id(request.attempt.reference, session);
                let (sales, _) = self.search(&order_id).await?;
                sales
                    .iter()
                    .find(|t| t.is_captured())
                    .map(|t| t.id.clone())
                    .ok_or_else(|| PaymentError::Refused("no settled sale to refund".into()))?
            }
        };
        let id = segment(&tx_id)
            .ok_or_else(|| PaymentError::Refused(format!("not a transaction id: {tx_id:?}")))?
            .to_string();
        let answer = self
            .call(
                reqwest::Method::POST,
                &format!("/transactions/{id}/refund"),
                // The credit's `order_id` carries the refund's key, so its notice names the
                // shop's refund even before this call's answer does.
                Some(wire::refund_body(
                    &request.amount.to_decimal_string(),
                    &wire::tagged_order_id(request.attempt.reference, request.idempotency_key),
                )),
            )
            .await?;
        let payload = String::from_utf8_lossy(&answer.body).into_owned();
        match wire::sale_result(&answer.body).map_err(Self::unreadable)? {
            SaleResult::Accepted(credit) => Ok(RefundOutcome {
                refund_id: credit.id.clone(),
                state: Self::refund_state(&credit),
                payload,
            }),
            SaleResult::Declined(credit) => Ok(RefundOutcome {
                refund_id: credit.id.clone(),
                state: RefundState::Failed(credit.reason()),
                payload,
            }),
            SaleResult::Invalid(summary) if wire::has_code(&summary, NOT_SETTLED) => {
                // Not settled yet: a full refund is a void of the sale.
                let (sale, _) = self.transaction(&id).await?;
                let whole = parse_amount(&sale.amount, request.amount.currency);
                if whole != Some(request.amount) {
                    return Err(PaymentError::Refused(
                        "the payment has not settled yet: only a full refund (a void) is possible now".into(),
                    ));
                }
                let answer = self
                    .call(
                        reqwest::Method::PUT,
                        &format!("/transactions/{id}/void"),
                        None,
                    )
                    .await?;
                let payload = String::from_utf8_lossy(&answer.body).into_owned();
                match wire::sale_result(&answer.body).map_err(Self::unreadable)? {
                    SaleResult::Accepted(voided) if voided.status == "voided" => {
                        Ok(RefundOutcome {
                            refund_id: format!("void:{}", voided.id),
                            state: RefundState::Succeeded,
                            payload,
                        })
                    }
                    SaleResult::Invalid(summary) => Err(PaymentError::Refused(summary)),
                    _ => Err(PaymentError::Refused(format!(
                        "the void did not happen: {payload}"
                    ))),
                }
            }
            SaleResult::Invalid(summary) => Err(PaymentError::Refused(summary)),
        }
    }

    async fn lookup_refund(
        &self,
        _attempt: AttemptRef<'_>,
        refund_id: &str,
    ) -> Result<RefundOutcome, PaymentError> {
        if let Some(sale) = refund_id.strip_prefix("void:") {
            let (tx, payload) = self.transaction(sale).await?;
            let state = if tx.status == "voided" {
                RefundState::Succeeded
            } else {
                RefundState::Failed(format!("the sale is {}, not voided", tx.status))
            };
            return Ok(RefundOutcome {
                refund_id: refund_id.to_string(),
                state,
                payload,
            });
        }
        let (tx, payload) = self.transaction(refund_id).await?;
        Ok(RefundOutcome {
            refund_id: tx.id.clone(),
            state: Self::refund_state(&tx),
            payload,
        })
    }

    /// The decline as the shopper reads it: the processor's response (a card issuer's standard
    /// wording such as "Do Not Honor") and code, or the kind of refusal; never anything else.
    fn failure_reason(&self, kind: &str) -> Option<String> {
        shopper_reason(kind)
    }

    fn shop_page(&self, attempt_reference: &str, values: &[(String, String)]) -> Option<ShopPage> {
        let (amount, currency) = Self::quoted(values)?;
        let return_url = values_get(values, "return_url");
        let cancel_url = values_get(values, "cancel_url");
        let hidden = |name: &str, value: &str| {
            format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                escape(name),
                escape(value)
            )
        };
        let carried = [
            hidden("form_token", values_get(values, "form_token")),
            hidden("amount", &amount),
            hidden("currency", &currency),
        ]
        .concat();
        let intro = format!(
            "<p>Order payment <code data-testid=\"attempt-reference\">{}</code>: \
             <strong data-testid=\"braintree-amount\">{}</strong>.</p>",
            escape(attempt_reference),
            escape(values_get(values, "shown")),
        );
        let cancel = format!(
            "<form method=\"get\" action=\"{}\"><button type=\"submit\">Cancel</button></form>",
            escape(cancel_url)
        );
        if self.stand_in {
            let body = format!(
                "{intro}<h2>Card details</h2>\
                 <p>Test mode: Braintree's Drop-in is not loaded. The built-in sandbox's test \
                 Drop-in stands in for it and hands back a test nonce.</p>\
                 <form id=\"braintree-standin\" method=\"post\" action=\"/sandbox/braintree/dropin\">{carried}\
                 {ret}{can}{shown}{reference}\
                 <button type=\"submit\" class=\"primary\">Continue to the test Drop-in</button></form>{cancel}\
                 <script>{STANDIN_SUBMIT}</script>",
                ret = hidden("return_url", return_url),
                can = hidden("cancel_url", cancel_url),
                shown = hidden("shown", values_get(values, "shown")),
                reference = hidden("reference", attempt_reference),
            );
            // With JavaScript the stand-in opens at once, as Braintree's own Drop-in would load
            // in place: no extra click.
            return Some(ShopPage {
                body,
                sources: PageSources::hand_written(&[STANDIN_SUBMIT], &[]),
            });
        }
        let client_token = values_get(values, "client_token");
        let body = format!(
            "{intro}<h2>Card details</h2>\
             <form id=\"braintree-form\" method=\"post\" action=\"{action}\">{carried}\
             <input type=\"hidden\" id=\"braintree-nonce\" name=\"payment_method_nonce\" value=\"\">\
             <div id=\"braintree-dropin\" data-client-token=\"{token}\"></div>\
             <noscript><p>Braintree's card form (Drop-in) needs JavaScript; please turn it on to pay \
             with Braintree, or go back and choose another payment method.</p></noscript>\
             <button type=\"submit\" class=\"primary\">Pay</button></form>{cancel}\
             <script src=\"{DROPIN_SCRIPT}\"></script>\
             <script>{DROPIN_START}</script>",
            action = escape(return_url),
            token = escape(client_token),
        );
        Some(ShopPage {
            body,
            sources: dropin_sources(),
        })
    }
}

/// Opens the sandbox's stand-in Drop-in at once. Fixed text, allowed by its hash.
const STANDIN_SUBMIT: &str = "document.getElementById('braintree-standin').submit();";

/// What Drop-in needs beyond the shop's own origin, on its page only: Braintree's script and
/// stylesheet, its card-field frames and images, and its client API. Drop-in sets inline styles
/// on the elements it builds, so this page alone allows inline styles (never inline scripts: its
/// one inline script is allowed by hash).
fn dropin_sources() -> PageSources {
    let owned = |list: &[&'static str]| list.iter().map(|s| Cow::Borrowed(*s)).collect::<Vec<_>>();
    let mut script = owned(&DROPIN_SCRIPT_ORIGINS);
    script.push(hash_source(DROPIN_START).into());
    PageSources {
        script,
        style: owned(&[DROPIN_ASSETS, "'unsafe-inline'"]),
        img: owned(&[DROPIN_ASSETS, "data:"]),
        frame: owned(&[DROPIN_ASSETS]),
        connect: owned(&DROPIN_CONNECT_ORIGINS),
        referrer: None,
    }
}

/// See [`PaymentProvider::failure_reason`]: only the shapes this module writes are read.
fn shopper_reason(kind: &str) -> Option<String> {
    let plain = |t: &str| {
        t.chars()
            .filter(|c| c.is_ascii_alphanumeric() || " -,.'()/".contains(*c))
            .take(80)
            .collect::<String>()
    };
    if let Some(rest) = kind.strip_prefix("transaction.sale processor declined: ") {
        let (text, code) = rest.rsplit_once(" (").unwrap_or((rest, ""));
        let code = code.trim_end_matches(')');
        return Some(format!(
            "Braintree: the card was declined ({}, code {}). Try again with another card.",
            plain(text),
            plain(code)
        ));
    }
    if let Some(reason) = kind.strip_prefix("transaction.sale gateway rejected: ") {
        return Some(format!(
            "Braintree rejected the payment ({}). Try again, or with another card.",
            plain(reason)
        ));
    }
    if kind.starts_with("transaction.sale failed") {
        return Some("Braintree: the card processor could not take the payment. Try again.".into());
    }
    if kind.starts_with("transaction.sale refused") {
        return Some("Braintree refused the card details it was given. Try again.".into());
    }
    if kind.contains("processor_declined") {
        return Some("Braintree: the card was declined. Try again with another card.".into());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declines_are_told_in_plain_words() {
        assert_eq!(
            shopper_reason("transaction.sale processor declined: Do Not Honor (2000)").as_deref(),
            Some("Braintree: the card was declined (Do Not Honor, code 2000). Try again with another card.")
        );
        assert!(shopper_reason("transaction.sale gateway rejected: cvv")
            .unwrap()
            .contains("(cvv)"));
        assert!(
            !shopper_reason("transaction.sale processor declined: <b>x</b> (1)")
                .unwrap()
                .contains('<')
        );
        assert_eq!(shopper_reason("transaction_settled"), None);
    }

    #[test]
    fn amounts_read_in_the_accounts_currency() {
        assert_eq!(
            parse_amount("18.00", Currency::Usd),
            Some(Money::new(1800, Currency::Usd))
        );
        assert_eq!(
            parse_amount("1500.00", Currency::Jpy),
            Some(Money::new(1500, Currency::Jpy))
        );
        assert_eq!(parse_amount("1500.5", Currency::Jpy), None);
        assert_eq!(parse_amount("x", Currency::Usd), None);
        assert!(capabilities(Currency::Usd).accepts(Money::new(1800, Currency::Usd)));
        assert!(!capabilities(Currency::Usd).accepts(Money::new(1800, Currency::Eur)));
    }

    #[test]
    fn transaction_ids_are_plain_segments() {
        assert_eq!(segment("abc123"), Some("abc123"));
        assert_eq!(segment("../x"), None);
        assert_eq!(segment(""), None);
    }
}
