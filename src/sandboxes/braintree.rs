//! The Braintree sandbox, mounted at `/sandbox/braintree` (providers.md §7, §10): the gateway's XML
//! API under `/merchants/{merchant_id}/…` for any merchant id and keys (HTTP Basic, `X-ApiVersion`
//! 4 or later), and the stand-in for Drop-in.
//!
//! - `POST …/client_token` → `<client-token><value>` (base64 JSON, version 2).
//! - `POST …/transactions` (`transaction.sale`): test nonces and amounts as §7.9 — 201 with a
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
use super::page::{escape, is_shop_url, page};
use super::store;
use super::{clock, Sandbox};
use app::model::{Currency, Money};
use app::server::config::payments::sandbox_keys;
use app::server::payments::braintree::wire::{self, Transaction};
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
/// How long after a sale it settles.
const SETTLE_AFTER: Duration = Duration::from_millis(800);

pub fn routes() -> Router<Sandbox> {
    Router::new()
        .route("/merchants/{merchant}/client_token", post(client_token))
        .route("/merchants/{merchant}/transactions", post(sale))
        .route("/merchants/{merchant}/transactions/{id}", get(find))
        .route(
            "/merchants/{merchant}/transactions/advanced_search_ids",
            post(search_ids),
        )
        .route(
            "/merchants/{merchant}/transactions/advanced_search",
            post(search),
        )
        .route(
            "/merchants/{merchant}/transactions/{id}/refund",
            post(refund),
        )
        .route("/merchants/{merchant}/transactions/{id}/void", put(void))
        .route("/dropin", post(dropin_page))
}

fn xml_reply(status: StatusCode, node: &Node) -> Response {
    (
        status,
        [("content-type", "application/xml; charset=utf-8")],
        node.document(),
    )
        .into_response()
}

fn internal(e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "braintree sandbox: internal error");
    StatusCode::INTERNAL_SERVER_ERROR.into_response()
}

/// HTTP Basic with any non-empty public and private key, and `X-ApiVersion` ≥ 4 (else 426, as
/// the gateway answers old clients).
fn authenticated(headers: &HeaderMap) -> Result<(), Box<Response>> {
    let basic = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
        })
        .and_then(|b| String::from_utf8(b).ok());
    let ok = basic
        .as_deref()
        .and_then(|s| s.split_once(':'))
        .is_some_and(|(public, private)| !public.is_empty() && !private.is_empty());
    if !ok {
        return Err(Box::new(StatusCode::UNAUTHORIZED.into_response()));
    }
    let version = headers
        .get("x-apiversion")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u32>().ok());
    if version.is_none_or(|v| v < 4) {
        return Err(Box::new(StatusCode::UPGRADE_REQUIRED.into_response()));
    }
    Ok(())
}

fn validation_error(code: &str, attribute: &str, message: &str, params: Node) -> Response {
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
    xml_reply(StatusCode::UNPROCESSABLE_ENTITY, &body)
}

fn read_body(body: &[u8]) -> Result<Node, Box<Response>> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Node::new("empty"));
    }
    xml::parse_bytes(body).map_err(|e| {
        tracing::info!(error = %e, "braintree sandbox: unreadable XML");
        Box::new(StatusCode::BAD_REQUEST.into_response())
    })
}

fn now_text() -> String {
    clock::rfc3339_now()
}

/// A stored transaction: the wire fields, and the sandbox's own (refunded so far, the merchant
/// account).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
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
        let mut node = wire::transaction_node(&self.wire())
            .with(Node::text(
                "merchant-account-id",
                self.merchant_account_id.as_str(),
            ))
            .with(Node::typed(
                "created-at",
                "datetime",
                self.created_at.as_str(),
            ))
            .with(Node::typed("updated-at", "datetime", now_text()))
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

fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..8].to_string()
}

async fn conn(state: &Sandbox) -> Result<sqlx::pool::PoolConnection<sqlx::Any>, Response> {
    state.db.pool.acquire().await.map_err(internal)
}

async fn load(state: &Sandbox, id: &str) -> Result<Option<(Stored, String)>, Response> {
    let mut conn = conn(state).await?;
    let object = store::get(&mut conn, &format!("{TRANSACTION}{id}"))
        .await
        .map_err(internal)?;
    Ok(object.and_then(|o| serde_json::from_str(&o.data).ok().map(|s| (s, o.data))))
}

async fn insert(state: &Sandbox, tx: &Stored) -> Result<(), Response> {
    let data = serde_json::to_string(tx).map_err(internal)?;
    store::insert_committed(
        &state.db,
        PROVIDER,
        &format!("{TRANSACTION}{}", tx.id),
        None,
        "",
        200,
        &data,
    )
    .await
    .map_err(internal)?;
    Ok(())
}

/// Save a changed transaction if nobody changed it meanwhile.
async fn save(state: &Sandbox, before: &str, after: &Stored) -> Result<bool, Response> {
    let data = serde_json::to_string(after).map_err(internal)?;
    store::update_committed(
        &state.db,
        &format!("{TRANSACTION}{}", after.id),
        200,
        &data,
        Some(before),
    )
    .await
    .map_err(internal)
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
) -> Response {
    if let Err(r) = authenticated(&headers) {
        return *r;
    }
    if let Err(r) = read_body(&body) {
        return *r;
    }
    let blob = serde_json::json!({
        "version": 2,
        "authorizationFingerprint": format!("sandbox-fingerprint-{}", uuid::Uuid::new_v4().simple()),
        "configUrl": format!("/sandbox/braintree/merchants/{merchant}/client_api/v1/configuration"),
        "environment": "sandbox",
        "merchantId": merchant,
        "challenges": [],
    });
    let value = base64::engine::general_purpose::STANDARD.encode(blob.to_string());
    xml_reply(
        StatusCode::CREATED,
        &Node::new("client-token").with(Node::text("value", value)),
    )
}

/// What a nonce and an amount do (providers.md §7.9).
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
) -> Response {
    if let Err(r) = authenticated(&headers) {
        return *r;
    }
    let request = match read_body(&body) {
        Ok(n) => n,
        Err(r) => return *r,
    };
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
        return validation_error("81502", "amount", "Amount is required.", params);
    };
    let Ok(money) = Money::parse_decimal(amount_text, currency) else {
        return validation_error("81503", "amount", "Amount is an invalid format.", params);
    };
    if money.minor <= 0 {
        return validation_error(
            "81531",
            "amount",
            "Amount must be greater than zero.",
            params,
        );
    }
    let nonce = tx.get("payment-method-nonce").unwrap_or("");
    let verdict = match verdict(nonce, money.minor) {
        Ok(v) => v,
        Err((code, message)) => {
            return validation_error(code, "payment_method_nonce", message, params)
        }
    };
    let settle = tx
        .at(&["options", "submit-for-settlement"])
        .is_some_and(|n| n.text.trim() == "true");
    let mut stored = Stored {
        id: new_id(),
        status: String::new(),
        kind: "sale".into(),
        amount: money.to_decimal_string(),
        currency: currency.code().into(),
        order_id: tx.get("order-id").map(str::to_string),
        merchant_account_id: account,
        processor_response_code: None,
        processor_response_text: None,
        gateway_rejection_reason: None,
        refunded_transaction_id: None,
        refund_ids: Vec::new(),
        refunded_minor: 0,
        created_at: now_text(),
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
    if let Err(r) = insert(&state, &stored).await {
        return r;
    }
    tracing::info!(tx = %stored.id, status = %stored.status, "braintree sandbox: sale");
    match message {
        None => {
            if settle {
                tokio::spawn(settle_later(state.clone(), stored.id.clone()));
            }
            xml_reply(StatusCode::CREATED, &stored.node())
        }
        Some(message) => {
            let body = Node::new("api-error-response")
                .with(Node::new("errors").with(Node::typed("errors", "array", "")))
                .with(Node::new("params").with(params))
                .with(Node::text("message", message))
                .with(stored.node());
            xml_reply(StatusCode::UNPROCESSABLE_ENTITY, &body)
        }
    }
}

/// The sale settles, and `transaction_settled` is sent.
async fn settle_later(state: Sandbox, id: String) {
    tokio::time::sleep(SETTLE_AFTER).await;
    let Ok(Some((tx, before))) = load(&state, &id).await else {
        return;
    };
    if tx.status != "submitted_for_settlement" {
        return;
    }
    let mut settled = tx.clone();
    settled.status = "settled".into();
    if !matches!(save(&state, &before, &settled).await, Ok(true)) {
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
        .with(Node::typed("timestamp", "datetime", now_text()))
        .with(Node::text("kind", kind))
        .with(Node::new("subject").with(tx.clone()))
        .document()
}

/// `bt_signature=…&bt_payload=…`, signed with the sandbox keys: what the sandbox sends, and what
/// tests use to make genuine notifications of their own.
pub fn signed_form(xml: &str) -> String {
    let payload = wire::encode_payload(xml);
    let signature = wire::bt_signature(
        sandbox_keys::BRAINTREE_PUBLIC_KEY,
        sandbox_keys::BRAINTREE_PRIVATE_KEY,
        payload.as_bytes(),
    );
    serde_urlencoded::to_string([("bt_signature", signature), ("bt_payload", payload)])
        .unwrap_or_default()
}

fn send_notification(state: &Sandbox, kind: &str, tx: &Stored, plan: DeliveryPlan) {
    let body = signed_form(&notification_xml(kind, &tx.node()));
    let message = Message {
        url: format!("{}/webhooks/braintree", state.webhook_root),
        content_type: "application/x-www-form-urlencoded",
        headers: Vec::new(),
        body: body.into_bytes(),
        answer: None,
    };
    delivery::spawn(state, vec![message], plan);
}

async fn find(
    State(state): State<Sandbox>,
    Path((_merchant, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = authenticated(&headers) {
        return *r;
    }
    match load(&state, &id).await {
        Ok(Some((tx, _))) => xml_reply(StatusCode::OK, &tx.node()),
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(r) => r,
    }
}

async fn by_order(state: &Sandbox, order_id: &str) -> Result<Vec<Stored>, Response> {
    let mut conn = conn(state).await?;
    let needle = serde_json::to_string(order_id).map_err(internal)?;
    let rows = store::search(
        &mut conn,
        PROVIDER,
        TRANSACTION,
        &format!("\"order_id\":{needle}"),
    )
    .await
    .map_err(internal)?;
    Ok(rows
        .iter()
        .filter_map(|o| serde_json::from_str::<Stored>(&o.data).ok())
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
) -> Response {
    if let Err(r) = authenticated(&headers) {
        return *r;
    }
    let request = match read_body(&body) {
        Ok(n) => n,
        Err(r) => return *r,
    };
    let found = match order_criterion(&request) {
        Some(order_id) => match by_order(&state, &order_id).await {
            Ok(found) => found,
            Err(r) => return r,
        },
        None => Vec::new(),
    };
    let mut ids = Node::typed("ids", "array", "");
    for tx in &found {
        ids.children.push(Node::text("item", tx.id.as_str()));
    }
    xml_reply(
        StatusCode::OK,
        &Node::new("search-results")
            .with(Node::typed("page-size", "integer", "50"))
            .with(ids),
    )
}

async fn search(
    State(state): State<Sandbox>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if let Err(r) = authenticated(&headers) {
        return *r;
    }
    let request = match read_body(&body) {
        Ok(n) => n,
        Err(r) => return *r,
    };
    let search = if request.name == "search" {
        &request
    } else {
        match request.child("search") {
            Some(s) => s,
            None => &request,
        }
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
        match load(&state, id).await {
            Ok(Some((tx, _))) => found.push(tx),
            Ok(None) => {}
            Err(r) => return r,
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
    xml_reply(StatusCode::OK, &list)
}

async fn refund(
    State(state): State<Sandbox>,
    Path((_merchant, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if let Err(r) = authenticated(&headers) {
        return *r;
    }
    let request = match read_body(&body) {
        Ok(n) => n,
        Err(r) => return *r,
    };
    let (sale, before) = match load(&state, &id).await {
        Ok(Some(found)) => found,
        Ok(None) => return StatusCode::NOT_FOUND.into_response(),
        Err(r) => return r,
    };
    let params =
        Node::new("transaction").with(Node::text("amount", request.get("amount").unwrap_or("")));
    if sale.kind != "sale" || !matches!(sale.status.as_str(), "settled" | "settling") {
        return validation_error(
            "91506",
            "base",
            "Cannot refund transaction unless it is settled.",
            params,
        );
    }
    let currency = sale.currency.parse::<Currency>().unwrap_or(Currency::Usd);
    let Some(whole) = Money::parse_decimal(&sale.amount, currency).ok() else {
        return internal("stored amount unreadable");
    };
    let amount = match request.get("amount") {
        None => Money::new(whole.minor - sale.refunded_minor, currency),
        Some(text) => match Money::parse_decimal(text, currency) {
            Ok(m) if m.minor > 0 => m,
            _ => {
                return validation_error("81503", "amount", "Amount is an invalid format.", params)
            }
        },
    };
    if amount.minor + sale.refunded_minor > whole.minor {
        return validation_error("91521", "amount", "Refund amount is too large.", params);
    }
    let credit = Stored {
        id: new_id(),
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
        gateway_rejection_reason: None,
        refunded_transaction_id: Some(sale.id.clone()),
        refund_ids: Vec::new(),
        refunded_minor: 0,
        created_at: now_text(),
    };
    let mut after = sale.clone();
    after.refunded_minor += amount.minor;
    after.refund_ids.push(credit.id.clone());
    match save(&state, &before, &after).await {
        Ok(true) => {}
        // A concurrent refund changed the sale: Braintree answers such a race with a 5xx.
        Ok(false) => return StatusCode::SERVICE_UNAVAILABLE.into_response(),
        Err(r) => return r,
    }
    if let Err(r) = insert(&state, &credit).await {
        return r;
    }
    xml_reply(StatusCode::CREATED, &credit.node())
}

async fn void(
    State(state): State<Sandbox>,
    Path((_merchant, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = authenticated(&headers) {
        return *r;
    }
    let (tx, before) = match load(&state, &id).await {
        Ok(Some(found)) => found,
        Ok(None) => return StatusCode::NOT_FOUND.into_response(),
        Err(r) => return r,
    };
    if !matches!(
        tx.status.as_str(),
        "authorized" | "submitted_for_settlement" | "settlement_pending"
    ) {
        return validation_error(
            "91504",
            "base",
            "Transaction can only be voided if status is authorized, submitted_for_settlement, or - for PayPal - settlement_pending.",
            Node::new("transaction"),
        );
    }
    let mut voided = tx.clone();
    voided.status = "voided".into();
    match save(&state, &before, &voided).await {
        Ok(true) => xml_reply(StatusCode::OK, &voided.node()),
        Ok(false) => StatusCode::SERVICE_UNAVAILABLE.into_response(),
        Err(r) => r,
    }
}

/// The stand-in Drop-in: what the shop's page posted (its form token, amount and return URL), and
/// **Pay**, **Decline** and **Cancel**.
async fn dropin_page(
    State(state): State<Sandbox>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let get = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
    let public = &*state.shop_url;
    let (return_url, cancel_url) = (get("return_url"), get("cancel_url"));
    if !is_shop_url(return_url, public) || !is_shop_url(cancel_url, public) {
        return (
            StatusCode::BAD_REQUEST,
            page(
                "Braintree sandbox Drop-in",
                "<main class=\"card\"><h1>This Drop-in was not opened from the shop.</h1></main>",
            ),
        )
            .into_response();
    }
    let hidden = |name: &str| {
        format!(
            "<input type=\"hidden\" name=\"{name}\" value=\"{}\">",
            escape(get(name))
        )
    };
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
        token = hidden("form_token"),
        amount = hidden("amount"),
        currency = hidden("currency"),
    );
    page("Braintree sandbox Drop-in", &body).into_response()
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
        assert!(wire::verify(
            sandbox_keys::BRAINTREE_PUBLIC_KEY,
            sandbox_keys::BRAINTREE_PRIVATE_KEY,
            &pairs["bt_signature"],
            &pairs["bt_payload"],
        )
        .is_ok());
        assert_eq!(
            wire::notification(&pairs["bt_payload"]).unwrap().kind,
            "check"
        );
    }
}
