//! The Braintree sandbox, mounted at `/sandbox/braintree` (docs/sandboxes.md#braintree-sandboxbraintree): the gateway's XML
//! API under `/merchants/{merchant_id}/…` for any merchant id and keys (HTTP Basic, `X-ApiVersion`
//! 4 or later), and the stand-in for Drop-in.
//!
//! - `POST …/client_token` → `<client-token><value>` (base64 JSON, version 2).
//! - `POST …/transactions` (`transaction.sale`): Braintree's published test nonces and amounts (docs/payments.md#braintree) — 201 with a
//!   `<transaction>` (`submitted_for_settlement` with `submit_for_settlement`, else `authorized`),
//!   422 `<api-error-response>` with the `<transaction>` for processor declines (`fake-processor-
//!   declined-*` nonces, amounts 2000.00–2999.99), failures (3000.00–3000.99) and gateway
//!   rejections (5001.00), and without one for validation errors (unknown nonce 91565, consumed
//!   nonce 93107, amount 81502/81503). Like Braintree, no idempotency: every call sells.
//! - `GET …/transactions/{id}`, `POST …/transactions/advanced_search_ids` and
//!   `…/advanced_search` (on `order_id` and `ids`), `POST …/transactions/{id}/refund` (settled
//!   sales only, else 91506), `PUT …/transactions/{id}/void`.
//! - A sale settles a second later and `transaction_settled` is sent to `/webhooks/braintree`,
//!   signed with the sandbox keys (`bt_signature` / `bt_payload`, form-urlencoded), retried until
//!   a 2xx.
//! - `POST /dropin`: the stand-in Drop-in page, with **Pay** (`fake-valid-nonce`), **Decline**
//!   (`fake-processor-declined-visa-nonce`) and **Cancel**; Pay and Decline post the nonce and the
//!   shop's own form fields to the shop's return URL.

use super::delivery::{self, DeliveryPlan, Message};
use super::dialect::{Dialect, Refusal, Reply};
use super::objects::{Kind, Loaded};
use super::page::{card, escape, hidden, is_shop_url, page};
use super::{clock, wire, Sandbox};
use app::model::{Currency, Money};
use app::server::config::payments::sandbox_keys;
use app::server::payments::braintree::wire::{self as bt, Transaction};
use app::server::payments::braintree::xml::{self, Node};
use app::server::payments::braintree::{DECLINED_NONCE, VALID_NONCE};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Form, Router};
use base64::Engine as _;
use std::collections::HashMap;
use std::time::Duration;

const PROVIDER: &str = "braintree";
/// One row per transaction (tests count sales by `order_id`).
pub const TRANSACTION: &str = "bt-tx:";
const TRANSACTIONS: Kind = Kind::new(PROVIDER, TRANSACTION);
/// How long after a sale it settles.
const SETTLE_AFTER: Duration = Duration::from_millis(800);

pub fn routes() -> Router<Sandbox> {
    let merchant = Router::new()
        .route("/client_token", post(client_token))
        .route("/transactions", post(sale))
        .route("/transactions/{id}", get(find))
        .route("/transactions/advanced_search_ids", post(search_ids))
        .route("/transactions/advanced_search", post(search))
        .route("/transactions/{id}/refund", post(refund))
        .route("/transactions/{id}/void", put(void));
    Router::new()
        .nest("/merchants/{merchant}", merchant)
        .route("/dropin", post(dropin_page))
}

/// The gateway's way of refusing: a bare status (401, 404, 426…) or an XML
/// `<api-error-response>`; a bare 500 when the sandbox fails.
pub struct Braintree;

type Error = Refusal<Braintree>;

impl Dialect for Braintree {
    const NAME: &'static str = "braintree";
    type Body = Response;

    fn internal() -> Error {
        bare(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

fn bare(status: StatusCode) -> Error {
    status.into_response().into()
}

fn xml_reply(status: StatusCode, node: &Node) -> Response {
    (
        status,
        [("content-type", "application/xml; charset=utf-8")],
        node.document(),
    )
        .into_response()
}

/// HTTP Basic with any non-empty public and private key, and `X-ApiVersion` ≥ 4 (else 426, as
/// the gateway answers old clients).
fn authenticated(headers: &HeaderMap) -> Result<(), Error> {
    let keys = wire::basic(headers);
    if !keys.is_some_and(|(public, private)| !public.is_empty() && !private.is_empty()) {
        return Err(bare(StatusCode::UNAUTHORIZED));
    }
    let version = headers
        .get("x-apiversion")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u32>().ok());
    if version.is_none_or(|v| v < 4) {
        return Err(bare(StatusCode::UPGRADE_REQUIRED));
    }
    Ok(())
}

fn validation_error(code: &str, attribute: &str, message: &str, params: Node) -> Error {
    let error = Node::new("error")
        .with(Node::text("code", code))
        .with(Node::typed("attribute", "symbol", attribute))
        .with(Node::text("message", message));
    let body = Node::new("api-error-response")
        .with(
            Node::new("errors")
                .with(Node::typed("errors", "array", ""))
                .with(
                    Node::new("transaction").with(Node::typed("errors", "array", "").with(error)),
                ),
        )
        .with(Node::new("params").with(params))
        .with(Node::text("message", message));
    xml_reply(StatusCode::UNPROCESSABLE_ENTITY, &body).into()
}

/// An authenticated request's XML body.
fn read_body(headers: &HeaderMap, body: &[u8]) -> Result<Node, Error> {
    authenticated(headers)?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Node::new("empty"));
    }
    xml::parse_bytes(body).map_err(|e| {
        tracing::info!(error = %e, "braintree sandbox: unreadable XML");
        bare(StatusCode::BAD_REQUEST)
    })
}

/// A stored transaction: the wire fields, and the sandbox's own (refunded so far, the merchant
/// account).
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
struct Stored {
    id: String,
    status: String,
    kind: String,
    amount: String,
    currency: String,
    order_id: Option<String>,
    merchant_account_id: String,
    processor_response_code: Option<String>,
    processor_response_text: Option<String>,
    gateway_rejection_reason: Option<String>,
    refunded_transaction_id: Option<String>,
    #[serde(default)]
    refund_ids: Vec<String>,
    #[serde(default)]
    refunded_minor: i64,
    created_at: String,
}

impl Stored {
    fn wire(&self) -> Transaction {
        Transaction {
            id: self.id.clone(),
            status: self.status.clone(),
            kind: self.kind.clone(),
            amount: self.amount.clone(),
            currency: Some(self.currency.clone()),
            order_id: self.order_id.clone(),
            processor_response_code: self.processor_response_code.clone(),
            processor_response_text: self.processor_response_text.clone(),
            gateway_rejection_reason: self.gateway_rejection_reason.clone(),
            refunded_transaction_id: self.refunded_transaction_id.clone(),
        }
    }

    fn node(&self) -> Node {
        let mut node = bt::transaction_node(&self.wire())
            .with(Node::text(
                "merchant-account-id",
                self.merchant_account_id.as_str(),
            ))
            .with(Node::typed(
                "created-at",
                "datetime",
                self.created_at.as_str(),
            ))
            .with(Node::typed("updated-at", "datetime", clock::rfc3339_now()))
            .with(Node::text("payment-instrument-type", "credit_card"))
            .with(Node::typed("refund-ids", "array", ""));
        if let Some(ids) = node.children.iter_mut().find(|c| c.name == "refund-ids") {
            for id in &self.refund_ids {
                ids.children.push(Node::text("item", id.as_str()));
            }
        }
        node
    }
}

/// The transaction with this id (404 if there is none), with what a save compares.
async fn load(state: &Sandbox, id: &str) -> Result<Loaded<Stored>, Error> {
    let found = TRANSACTIONS.load(&state.db, id).await?;
    found.ok_or_else(|| bare(StatusCode::NOT_FOUND))
}

/// The merchant account's currency: `…_eur`-style account ids settle in that currency, all others
/// in USD (the sandbox's default account).
fn account_currency(account: &str) -> Currency {
    account
        .rsplit(['_', '-'])
        .next()
        .and_then(|c| c.to_ascii_uppercase().parse().ok())
        .unwrap_or(Currency::Usd)
}

async fn client_token(
    Path(merchant): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Reply<Braintree> {
    read_body(&headers, &body)?;
    let blob = serde_json::json!({
        "version": 2,
        "authorizationFingerprint": format!("sandbox-fingerprint-{}", wire::random_hex(32)),
        "configUrl": format!("/sandbox/braintree/merchants/{merchant}/client_api/v1/configuration"),
        "environment": "sandbox",
        "merchantId": merchant,
        "challenges": [],
    });
    let value = base64::engine::general_purpose::STANDARD.encode(blob.to_string());
    Ok(xml_reply(
        StatusCode::CREATED,
        &Node::new("client-token").with(Node::text("value", value)),
    ))
}

/// What a nonce and an amount do, as in Braintree's testing reference (docs/payments.md#braintree).
enum Verdict {
    Approved,
    Declined(String, String),
    Failed,
    Rejected(&'static str),
}

fn verdict(nonce: &str, minor: i64) -> Result<Verdict, (&'static str, &'static str)> {
    if nonce == "fake-consumed-nonce" {
        return Err(("93107", "Cannot use a payment_method_nonce more than once."));
    }
    if nonce.starts_with("fake-processor-declined") {
        return Ok(Verdict::Declined("2000".into(), "Do Not Honor".into()));
    }
    if !nonce.starts_with("fake-valid") && !nonce.starts_with("fake-") {
        return Err(("91565", "Unknown or expired payment_method_nonce."));
    }
    Ok(match minor {
        200_000..=299_999 => {
            Verdict::Declined((minor / 100).to_string(), "Processor Declined".into())
        }
        300_000..=300_099 => Verdict::Failed,
        500_100 => Verdict::Rejected("application_incomplete"),
        _ => Verdict::Approved,
    })
}

async fn sale(
    State(state): State<Sandbox>,
    Path(_merchant): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Reply<Braintree> {
    let request = read_body(&headers, &body)?;
    let tx = if request.name == "transaction" {
        request
    } else {
        request.child("transaction").cloned().unwrap_or_default()
    };
    let params = Node::new("transaction")
        .with(Node::text("amount", tx.get("amount").unwrap_or("")))
        .with(Node::text("order-id", tx.get("order-id").unwrap_or("")));
    let account = tx
        .get("merchant-account-id")
        .unwrap_or("storefront_usd")
        .to_string();
    let currency = account_currency(&account);
    let Some(amount_text) = tx.get("amount") else {
        let message = "Amount is required.";
        return Err(validation_error("81502", "amount", message, params));
    };
    let Ok(money) = Money::parse_decimal(amount_text, currency) else {
        let message = "Amount is an invalid format.";
        return Err(validation_error("81503", "amount", message, params));
    };
    if money.minor <= 0 {
        let message = "Amount must be greater than zero.";
        return Err(validation_error("81531", "amount", message, params));
    }
    let nonce = tx.get("payment-method-nonce").unwrap_or("");
    let verdict = match verdict(nonce, money.minor) {
        Ok(v) => v,
        Err((code, message)) => {
            return Err(validation_error(
                code,
                "payment_method_nonce",
                message,
                params,
            ))
        }
    };
    let settle = tx
        .at(&["options", "submit-for-settlement"])
        .is_some_and(|n| n.text.trim() == "true");
    let mut stored = Stored {
        id: wire::random_hex(8),
        kind: "sale".into(),
        amount: money.to_decimal_string(),
        currency: currency.code().into(),
        order_id: tx.get("order-id").map(str::to_string),
        merchant_account_id: account,
        created_at: clock::rfc3339_now(),
        ..Stored::default()
    };
    let message = match &verdict {
        Verdict::Approved => {
            stored.status = if settle {
                "submitted_for_settlement".into()
            } else {
                "authorized".into()
            };
            stored.processor_response_code = Some("1000".into());
            stored.processor_response_text = Some("Approved".into());
            None
        }
        Verdict::Declined(code, text) => {
            stored.status = "processor_declined".into();
            stored.processor_response_code = Some(code.clone());
            stored.processor_response_text = Some(text.clone());
            Some(text.clone())
        }
        Verdict::Failed => {
            stored.status = "failed".into();
            stored.processor_response_code = Some("3000".into());
            stored.processor_response_text =
                Some("Processor Network Unavailable - Try Again".into());
            Some("Processor Network Unavailable - Try Again".into())
        }
        Verdict::Rejected(reason) => {
            stored.status = "gateway_rejected".into();
            stored.gateway_rejection_reason = Some((*reason).into());
            Some(format!("Gateway Rejected: {reason}"))
        }
    };
    TRANSACTIONS.insert(&state.db, &stored.id, &stored).await?;
    tracing::info!(tx = %stored.id, status = %stored.status, "braintree sandbox: sale");
    let Some(message) = message else {
        if settle {
            tokio::spawn(settle_later(state.clone(), stored.id.clone()));
        }
        return Ok(xml_reply(StatusCode::CREATED, &stored.node()));
    };
    let body = Node::new("api-error-response")
        .with(Node::new("errors").with(Node::typed("errors", "array", "")))
        .with(Node::new("params").with(params))
        .with(Node::text("message", message))
        .with(stored.node());
    Ok(xml_reply(StatusCode::UNPROCESSABLE_ENTITY, &body))
}

/// The sale settles, and `transaction_settled` is sent.
async fn settle_later(state: Sandbox, id: String) {
    tokio::time::sleep(SETTLE_AFTER).await;
    let Ok(tx) = load(&state, &id).await else {
        return;
    };
    if tx.status != "submitted_for_settlement" {
        return;
    }
    let mut settled = tx.value.clone();
    settled.status = "settled".into();
    if !matches!(tx.save(&state.db, &settled).await, Ok(true)) {
        return;
    }
    send_notification(
        &state,
        "transaction_settled",
        &settled,
        DeliveryPlan::Normal,
    );
}

/// The notification XML of `kind` about a transaction.
pub fn notification_xml(kind: &str, tx: &Node) -> String {
    Node::new("notification")
        .with(Node::typed("timestamp", "datetime", clock::rfc3339_now()))
        .with(Node::text("kind", kind))
        .with(Node::new("subject").with(tx.clone()))
        .document()
}

/// `bt_signature=…&bt_payload=…`, signed with the sandbox keys: what the sandbox sends, and what
/// tests use to make genuine notifications of their own.
pub fn signed_form(xml: &str) -> String {
    let payload = bt::encode_payload(xml);
    let signature = bt::bt_signature(
        sandbox_keys::BRAINTREE_PUBLIC_KEY,
        sandbox_keys::BRAINTREE_PRIVATE_KEY,
        payload.as_bytes(),
    );
    serde_urlencoded::to_string([("bt_signature", signature), ("bt_payload", payload)])
        .unwrap_or_default()
}

fn send_notification(state: &Sandbox, kind: &str, tx: &Stored, plan: DeliveryPlan) {
    let body = signed_form(&notification_xml(kind, &tx.node()));
    let url = state.webhook_url(PROVIDER);
    let message = Message::new(url, "application/x-www-form-urlencoded", body);
    delivery::spawn(state, vec![message], plan);
}

async fn find(
    State(state): State<Sandbox>,
    Path((_merchant, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Reply<Braintree> {
    authenticated(&headers)?;
    Ok(xml_reply(StatusCode::OK, &load(&state, &id).await?.node()))
}

async fn by_order(state: &Sandbox, order_id: &str) -> Result<Vec<Stored>, Error> {
    let needle = serde_json::to_string(order_id).map_err(Error::internal)?;
    let found = TRANSACTIONS
        .search::<Stored>(&state.db, &format!("\"order_id\":{needle}"))
        .await?;
    Ok(found
        .into_iter()
        .map(|t| t.value)
        .filter(|t| t.order_id.as_deref() == Some(order_id))
        .collect())
}

/// The `order_id` criterion of a search (`<order-id><is>…</is></order-id>`).
fn order_criterion(search: &Node) -> Option<String> {
    let search = if search.name == "search" {
        search
    } else {
        search.child("search")?
    };
    search
        .child("order-id")
        .and_then(|o| o.get("is"))
        .map(str::to_string)
}

async fn search_ids(
    State(state): State<Sandbox>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Reply<Braintree> {
    let request = read_body(&headers, &body)?;
    let found = match order_criterion(&request) {
        Some(order_id) => by_order(&state, &order_id).await?,
        None => Vec::new(),
    };
    let mut ids = Node::typed("ids", "array", "");
    for tx in &found {
        ids.children.push(Node::text("item", tx.id.as_str()));
    }
    Ok(xml_reply(
        StatusCode::OK,
        &Node::new("search-results")
            .with(Node::typed("page-size", "integer", "50"))
            .with(ids),
    ))
}

async fn search(
    State(state): State<Sandbox>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Reply<Braintree> {
    let request = read_body(&headers, &body)?;
    let search = if request.name == "search" {
        &request
    } else {
        request.child("search").unwrap_or(&request)
    };
    let ids: Vec<String> = search
        .child("ids")
        .map(|i| {
            i.children
                .iter()
                .map(|c| c.text.trim().to_string())
                .collect()
        })
        .unwrap_or_default();
    let mut found = Vec::new();
    for id in ids.iter().take(50) {
        if let Some(tx) = TRANSACTIONS.load::<Stored>(&state.db, id).await? {
            found.push(tx.value);
        }
    }
    if let Some(order_id) = order_criterion(&request) {
        found.retain(|t| t.order_id.as_deref() == Some(order_id.as_str()));
    }
    let mut list = Node::new("credit-card-transactions");
    list.attrs.push(("type".into(), "collection".into()));
    list = list
        .with(Node::typed("current-page-number", "integer", "1"))
        .with(Node::typed("page-size", "integer", "50"))
        .with(Node::typed(
            "total-items",
            "integer",
            found.len().to_string(),
        ));
    for tx in &found {
        list.children.push(tx.node());
    }
    Ok(xml_reply(StatusCode::OK, &list))
}

async fn refund(
    State(state): State<Sandbox>,
    Path((_merchant, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Reply<Braintree> {
    let request = read_body(&headers, &body)?;
    let sale = load(&state, &id).await?;
    let params =
        Node::new("transaction").with(Node::text("amount", request.get("amount").unwrap_or("")));
    if sale.kind != "sale" || !matches!(sale.status.as_str(), "settled" | "settling") {
        return Err(validation_error(
            "91506",
            "base",
            "Cannot refund transaction unless it is settled.",
            params,
        ));
    }
    let currency = sale.currency.parse::<Currency>().unwrap_or(Currency::Usd);
    let whole = Money::parse_decimal(&sale.amount, currency)
        .map_err(|_| Error::internal("stored amount unreadable"))?;
    let amount = match request.get("amount") {
        None => Money::new(whole.minor - sale.refunded_minor, currency),
        Some(text) => match Money::parse_decimal(text, currency) {
            Ok(m) if m.minor > 0 => m,
            _ => {
                let message = "Amount is an invalid format.";
                return Err(validation_error("81503", "amount", message, params));
            }
        },
    };
    if amount.minor + sale.refunded_minor > whole.minor {
        let message = "Refund amount is too large.";
        return Err(validation_error("91521", "amount", message, params));
    }
    let credit = Stored {
        id: wire::random_hex(8),
        status: "submitted_for_settlement".into(),
        kind: "credit".into(),
        amount: amount.to_decimal_string(),
        currency: sale.currency.clone(),
        order_id: request
            .get("order-id")
            .map(str::to_string)
            .or(sale.order_id.clone()),
        merchant_account_id: sale.merchant_account_id.clone(),
        processor_response_code: Some("1002".into()),
        processor_response_text: Some("Processed".into()),
        refunded_transaction_id: Some(sale.id.clone()),
        created_at: clock::rfc3339_now(),
        ..Stored::default()
    };
    let mut after = sale.value.clone();
    after.refunded_minor += amount.minor;
    after.refund_ids.push(credit.id.clone());
    if !sale.save(&state.db, &after).await? {
        // A concurrent refund changed the sale: Braintree answers such a race with a 5xx.
        return Err(bare(StatusCode::SERVICE_UNAVAILABLE));
    }
    TRANSACTIONS.insert(&state.db, &credit.id, &credit).await?;
    Ok(xml_reply(StatusCode::CREATED, &credit.node()))
}

async fn void(
    State(state): State<Sandbox>,
    Path((_merchant, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Reply<Braintree> {
    authenticated(&headers)?;
    let tx = load(&state, &id).await?;
    if !matches!(
        tx.status.as_str(),
        "authorized" | "submitted_for_settlement" | "settlement_pending"
    ) {
        return Err(validation_error(
            "91504",
            "base",
            "Transaction can only be voided if status is authorized, submitted_for_settlement, or - for PayPal - settlement_pending.",
            Node::new("transaction"),
        ));
    }
    let mut voided = tx.value.clone();
    voided.status = "voided".into();
    if !tx.save(&state.db, &voided).await? {
        return Err(bare(StatusCode::SERVICE_UNAVAILABLE));
    }
    Ok(xml_reply(StatusCode::OK, &voided.node()))
}

/// The stand-in Drop-in: what the shop's page posted (its form token, amount and return URL), and
/// **Pay**, **Decline** and **Cancel**.
async fn dropin_page(
    State(state): State<Sandbox>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let get = |k: &str| wire::field(&form, k);
    let public = &*state.shop_url;
    let (return_url, cancel_url) = (get("return_url"), get("cancel_url"));
    if !is_shop_url(return_url, public) || !is_shop_url(cancel_url, public) {
        return card(
            StatusCode::BAD_REQUEST,
            "Braintree sandbox Drop-in",
            "This Drop-in was not opened from the shop.",
            None,
        );
    }
    let body = format!(
        r#"<main class="card"><h1>Braintree sandbox Drop-in</h1>
<p>Pay <strong data-testid="sandbox-amount">{shown}</strong> to storefront</p>
<p>Merchant reference (<code>order_id</code>): <code data-testid="sandbox-reference">{reference}</code></p>
<p>This page stands in for Braintree's Drop-in: it hands the shop a test nonce, and the shop then
makes the sale. <strong>Pay</strong> sends <code>{VALID_NONCE}</code>; <strong>Decline</strong> sends
<code>{DECLINED_NONCE}</code> (the processor declines the sale); <strong>Cancel</strong> goes back to
the shop.</p>
<form method="post" action="{action}">{token}{amount}{currency}
<button class="pay" type="submit" name="payment_method_nonce" value="{VALID_NONCE}">Pay</button>
<button type="submit" name="payment_method_nonce" value="{DECLINED_NONCE}">Decline</button>
</form>
<form method="get" action="{cancel}"><button type="submit">Cancel</button></form>
</main>"#,
        shown = escape(get("shown")),
        reference = escape(get("reference")),
        action = escape(return_url),
        cancel = escape(cancel_url),
        token = hidden("form_token", get("form_token")),
        amount = hidden("amount", get("amount")),
        currency = hidden("currency", get("currency")),
    );
    page("Braintree sandbox Drop-in", &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_and_amounts_decide_the_sale() {
        assert!(matches!(verdict(VALID_NONCE, 1800), Ok(Verdict::Approved)));
        assert!(matches!(
            verdict(DECLINED_NONCE, 1800),
            Ok(Verdict::Declined(..))
        ));
        assert!(
            matches!(verdict(VALID_NONCE, 200_000), Ok(Verdict::Declined(c, _)) if c == "2000")
        );
        assert!(matches!(verdict(VALID_NONCE, 300_000), Ok(Verdict::Failed)));
        assert!(matches!(
            verdict(VALID_NONCE, 500_100),
            Ok(Verdict::Rejected(_))
        ));
        assert!(matches!(
            verdict("fake-consumed-nonce", 1),
            Err(("93107", _))
        ));
        assert!(matches!(verdict("tokencc_xyz", 1), Err(("91565", _))));
        assert_eq!(account_currency("storefront_eur"), Currency::Eur);
        assert_eq!(account_currency("storefront"), Currency::Usd);
    }

    #[test]
    fn notifications_are_signed_with_the_sandbox_keys() {
        let tx = Node::new("transaction").with(Node::text("id", "t1"));
        let form = signed_form(&notification_xml("check", &tx));
        let pairs: HashMap<String, String> = serde_urlencoded::from_str(&form).unwrap();
        assert!(bt::verify(
            sandbox_keys::BRAINTREE_PUBLIC_KEY,
            sandbox_keys::BRAINTREE_PRIVATE_KEY,
            &pairs["bt_signature"],
            &pairs["bt_payload"],
        )
        .is_ok());
        assert_eq!(
            bt::notification(&pairs["bt_payload"]).unwrap().kind,
            "check"
        );
    }
}
