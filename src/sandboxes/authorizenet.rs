//! The Authorize.Net sandbox, mounted at `/sandbox/authorizenet` (docs/sandboxes.md#authorizenet-sandboxauthorizenet):
//!
//! - `POST /xml/v1/request.api`: JSON or XML (told apart by the Content-Type or the first byte),
//!   answered in the same format, every answer starting with the UTF-8 byte-order mark, errors as
//!   HTTP 200 with `messages.resultCode: "Error"`. Any API login id and transaction key are
//!   accepted. Requests: `getHostedPaymentPageRequest`, `getTransactionDetailsRequest`,
//!   `getUnsettledTransactionListRequest`, `getSettledBatchListRequest`,
//!   `getTransactionListRequest`, `createTransactionRequest` (`refundTransaction`,
//!   `voidTransaction`).
//! - `POST /payment/payment` with `token` (valid 15 minutes): the hosted form with **Pay**,
//!   **Decline** and **Cancel** (plain HTML, no JavaScript needed):
//!   - **Pay**: a captured transaction (settled at once, or left unsettled: a test control), a
//!     signed `net.authorize.payment.authcapture.created` webhook to the shop, retried until a
//!     2xx, then the browser goes to the return URL (`showReceipt: false`) or a receipt with
//!     **Continue**;
//!   - **Decline**: a declined transaction (responseCode 2), shown, with **Continue** to the
//!     return URL;
//!   - **Cancel**: the cancel URL.

use super::delivery::{self, DeliveryPlan, Message};
use super::dialect::{self, Dialect, Refusal, Reply};
use super::objects::{Kind, Loaded, TRIES};
use super::page::{delivery_controls, escape, is_shop_url, notice, page, PAY_DECLINE_CANCEL};
use super::wire::{field, random_hex};
use super::{clock, Sandbox};
use app::model::{Currency, Money};
use app::server::config::payments::sandbox_keys;
use app::server::payments::authorizenet::signature;
use app::server::payments::authorizenet::wire::{self, Node, BOM};
use app::server::payments::authorizenet::{API_PATH, FORM_PATH, MAX_INVOICE};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use axum::{Form, Router};
use serde_json::{json, Value};
use std::collections::HashMap;

const PROVIDER: &str = "authorizenet";
const ACTION_PATH: &str = "/payment/action";
/// A form token's life: 15 minutes, used once (docs/payments.md#authorizenet).
const TOKEN_SECS: i64 = 15 * 60;
const TOKENS: Kind = Kind::new(PROVIDER, "anet-token:");
const TRANSACTIONS: Kind = Kind::new(PROVIDER, "anet-tx:");

pub fn routes() -> Router<Sandbox> {
    Router::new()
        .route(API_PATH, post(api))
        .route(FORM_PATH, post(hosted_form))
        .route(ACTION_PATH, post(form_action))
}

/// Authorize.Net refuses inside its answers (HTTP 200, `resultCode: Error`) or, on the hosted
/// form, with a page; a plain 500 when the sandbox fails.
pub struct AuthorizeNet;

type Error = Refusal<AuthorizeNet>;

impl Dialect for AuthorizeNet {
    const NAME: &'static str = "authorizenet";
    type Body = Response;

    fn internal() -> Error {
        dialect::plain_internal()
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Xml,
}

/// How one API request is answered: as `{reply}` (its request's name, `…Response`), in the
/// request's format, after the UTF-8 byte-order mark.
struct Api {
    format: Format,
    reply: String,
}

impl Api {
    fn answer(&self, fields: Vec<(&str, Node)>) -> Response {
        let node = Node::obj(fields);
        let (content_type, text) = match self.format {
            Format::Json => ("application/json; charset=utf-8", node.to_json()),
            Format::Xml => (
                "application/xml; charset=utf-8",
                Node::to_xml(&self.reply, &node),
            ),
        };
        let mut body = BOM.to_vec();
        body.extend_from_slice(text.as_bytes());
        ([(header::CONTENT_TYPE, content_type)], body).into_response()
    }

    /// `messages` saying "Successful.", then `fields`.
    fn ok(&self, fields: Vec<(&str, Node)>) -> Response {
        let messages = messages(true, "I00001", "Successful.");
        self.answer([vec![("messages", messages)], fields].concat())
    }

    fn error(&self, code: &str, text: &str) -> Response {
        self.answer(vec![("messages", messages(false, code, text))])
    }

    fn no_records(&self) -> Response {
        self.answer(vec![(
            "messages",
            messages(true, "I00004", "No records found."),
        )])
    }

    /// A list as the format writes one: a JSON array, or an element per item in XML.
    fn list(&self, item: &str, items: Vec<Node>) -> Node {
        match self.format {
            Format::Json => Node::Arr(items),
            Format::Xml => Node::obj([(item, Node::Arr(items))]),
        }
    }
}

fn messages(ok: bool, code: &str, text: &str) -> Node {
    Node::obj([
        ("resultCode", Node::s(if ok { "Ok" } else { "Error" })),
        (
            "message",
            Node::Arr(vec![Node::obj([
                ("code", Node::s(code)),
                ("text", Node::s(text)),
            ])]),
        ),
    ])
}

async fn api(State(state): State<Sandbox>, headers: HeaderMap, body: Bytes) -> Response {
    let raw = wire::strip_bom(&body);
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let first = raw.iter().find(|b| !b.is_ascii_whitespace()).copied();
    let format = if content_type.contains("xml") || first == Some(b'<') {
        Format::Xml
    } else {
        Format::Json
    };
    let parsed = match format {
        Format::Xml => std::str::from_utf8(raw).ok().and_then(wire::read_xml),
        Format::Json => serde_json::from_slice::<Value>(raw)
            .ok()
            .and_then(|v| match v {
                Value::Object(map) if map.len() == 1 => map.into_iter().next(),
                _ => None,
            }),
    };
    let Some((name, request)) = parsed else {
        let reply = "ErrorResponse".to_string();
        return Api { format, reply }.error(
            "E00003",
            "The request could not be read (sandbox: not one JSON or XML request document).",
        );
    };
    let reply = format!("{}Response", name.trim_end_matches("Request"));
    let api = Api { format, reply };
    let auth = &request["merchantAuthentication"];
    if wire::text(&auth["name"]).is_empty() || wire::text(&auth["transactionKey"]).is_empty() {
        return api.error(
            "E00007",
            "User authentication failed due to invalid authentication values.",
        );
    }
    let result = match name.as_str() {
        "getHostedPaymentPageRequest" => hosted_page(&state, &api, &request).await,
        "getTransactionDetailsRequest" => details(&state, &api, &request).await,
        "getUnsettledTransactionListRequest" => transaction_list(&state, &api, None).await,
        "getSettledBatchListRequest" => batch_list(&state, &api).await,
        "getTransactionListRequest" => {
            let batch = wire::text(&request["batchId"]);
            transaction_list(&state, &api, Some(batch)).await
        }
        "createTransactionRequest" => create_transaction(&state, &api, &request).await,
        _ => Ok(api.error(
            "E00045",
            "The root node does not reference a valid XML namespace (sandbox: unknown request).",
        )),
    };
    result.unwrap_or_else(IntoResponse::into_response)
}

async fn all_transactions(state: &Sandbox) -> Result<Vec<Value>, sqlx::Error> {
    let found = TRANSACTIONS.search::<Value>(&state.db, "").await?;
    Ok(found.into_iter().map(|t| t.value).collect())
}

fn dollars(minor: i64) -> String {
    Money::new(minor, Currency::Usd).to_decimal_string()
}

/// What a transaction settled: its amount if it was approved, else nothing.
fn settle_amount(t: &Value) -> String {
    let amount = t["amount"].as_i64().unwrap_or(0);
    dollars(if t["responseCode"] == "1" { amount } else { 0 })
}

/// A time as the `…TimeUTC` and `…TimeLocal` fields write it (the sandbox's local time is UTC).
fn utc_and_local(secs: i64) -> (Node, Node) {
    let local = clock::plain_utc(secs);
    (Node::s(format!("{local}Z")), Node::s(local))
}

/// A setting's JSON value from `hostedPaymentSettings.setting[]`.
fn setting(request: &Value, name: &str) -> Value {
    wire::list(&request["hostedPaymentSettings"]["setting"])
        .into_iter()
        .find(|s| wire::text(&s["settingName"]) == name)
        .and_then(|s| serde_json::from_str(&wire::text(&s["settingValue"])).ok())
        .unwrap_or(Value::Null)
}

async fn hosted_page(state: &Sandbox, api: &Api, request: &Value) -> Reply<AuthorizeNet> {
    let tx = &request["transactionRequest"];
    let invalid = |text: &str| api.error("E00003", text);
    let kind = wire::text(&tx["transactionType"]);
    if kind != "authCaptureTransaction" {
        return Ok(invalid(
            "The sandbox takes transactionType authCaptureTransaction only.",
        ));
    }
    let Some(amount) = wire::amount_minor(&tx["amount"]).filter(|a| *a > 0) else {
        return Ok(invalid(
            "The 'AnetApi/xml/v1/schema/AnetApiSchema.xsd:amount' element is invalid.",
        ));
    };
    let invoice = wire::text(&tx["order"]["invoiceNumber"]);
    if invoice.len() > MAX_INVOICE {
        return Ok(invalid("The 'AnetApi/xml/v1/schema/AnetApiSchema.xsd:invoiceNumber' element is invalid - The value is invalid according to its datatype 'String' - The actual length is greater than the MaxLength value."));
    }
    let options = setting(request, "hostedPaymentReturnOptions");
    let shop = &*state.shop_url;
    for k in ["url", "cancelUrl"] {
        let url = options[k].as_str().unwrap_or("");
        if !url.is_empty() && !is_shop_url(url, shop) {
            return Ok(invalid(&format!(
                "hostedPaymentReturnOptions.{k} must be on the shop's own origin ({shop}) in this sandbox."
            )));
        }
    }
    let token = format!("{}{}", random_hex(32), random_hex(32));
    let data = json!({
        "token": token,
        "invoice": invoice,
        "description": wire::text(&tx["order"]["description"]),
        "email": wire::text(&tx["customer"]["email"]),
        "amount": amount,
        "return_url": options["url"].as_str().unwrap_or(""),
        "cancel_url": options["cancelUrl"].as_str().unwrap_or(""),
        "show_receipt": options["showReceipt"].as_bool().unwrap_or(true),
        "created": clock::now_secs(),
        "used": false,
    });
    TOKENS.insert(&state.db, &token, &data).await?;
    Ok(api.ok(vec![("token", Node::s(token))]))
}

/// A transaction as `getTransactionDetailsResponse.transaction` (the XSD's order).
fn details_node(t: &Value) -> Node {
    let s = |k: &str| Node::s(wire::text(&t[k]));
    let (utc, local) = utc_and_local(t["submitted"].as_i64().unwrap_or(0));
    let mut fields: Vec<(&str, Node)> = vec![("transId", s("transId"))];
    if !wire::text(&t["refTransId"]).is_empty() {
        fields.push(("refTransId", s("refTransId")));
    }
    fields.extend([
        ("submitTimeUTC", utc.clone()),
        ("submitTimeLocal", local.clone()),
        ("transactionType", s("type")),
        ("transactionStatus", s("status")),
        ("responseCode", s("responseCode")),
        ("responseReasonCode", s("responseCode")),
        ("responseReasonDescription", s("reason")),
    ]);
    if !wire::text(&t["authCode"]).is_empty() {
        fields.push(("authCode", s("authCode")));
    }
    fields.push(("AVSResponse", Node::s("Y")));
    if let Some(batch) = t["batchId"].as_str() {
        fields.push((
            "batch",
            Node::obj([
                ("batchId", Node::s(batch)),
                ("settlementTimeUTC", utc),
                ("settlementTimeLocal", local),
                ("settlementState", Node::s("settledSuccessfully")),
            ]),
        ));
    }
    fields.push((
        "order",
        Node::obj([
            ("invoiceNumber", s("invoice")),
            ("description", s("description")),
        ]),
    ));
    let amount = dollars(t["amount"].as_i64().unwrap_or(0));
    fields.extend([
        ("authAmount", Node::s(amount)),
        ("settleAmount", Node::s(settle_amount(t))),
        ("taxExempt", Node::s("false")),
        (
            "payment",
            Node::obj([(
                "creditCard",
                Node::obj([
                    ("cardNumber", s("card")),
                    ("expirationDate", Node::s("XXXX")),
                    ("cardType", Node::s("Visa")),
                ]),
            )]),
        ),
        ("recurringBilling", Node::s("false")),
        ("product", Node::s("Card Not Present")),
        ("marketType", Node::s("eCommerce")),
    ]);
    Node::obj(fields)
}

async fn details(state: &Sandbox, api: &Api, request: &Value) -> Reply<AuthorizeNet> {
    let id = wire::text(&request["transId"]);
    let Some(t) = TRANSACTIONS.load::<Value>(&state.db, &id).await? else {
        return Ok(api.error("E00040", "The record cannot be found."));
    };
    Ok(api.ok(vec![("transaction", details_node(&t))]))
}

fn summary_node(t: &Value) -> Node {
    let s = |k: &str| Node::s(wire::text(&t[k]));
    let (utc, local) = utc_and_local(t["submitted"].as_i64().unwrap_or(0));
    Node::obj([
        ("transId", s("transId")),
        ("submitTimeUTC", utc),
        ("submitTimeLocal", local),
        ("transactionStatus", s("status")),
        ("invoiceNumber", s("invoice")),
        ("accountType", Node::s("Visa")),
        ("accountNumber", s("card")),
        ("settleAmount", Node::s(settle_amount(t))),
        ("marketType", Node::s("eCommerce")),
        ("product", Node::s("Card Not Present")),
    ])
}

fn is_settled(t: &Value) -> bool {
    t["batchId"].is_string()
}

async fn transaction_list(
    state: &Sandbox,
    api: &Api,
    batch: Option<String>,
) -> Reply<AuthorizeNet> {
    let list: Vec<Node> = all_transactions(state)
        .await?
        .iter()
        .filter(|t| match &batch {
            None => !is_settled(t),
            Some(b) => t["batchId"].as_str() == Some(b.as_str()),
        })
        .map(summary_node)
        .collect();
    if list.is_empty() {
        return Ok(api.no_records());
    }
    Ok(api.ok(vec![("transactions", api.list("transaction", list))]))
}

async fn batch_list(state: &Sandbox, api: &Api) -> Reply<AuthorizeNet> {
    let mut batches: Vec<String> = all_transactions(state)
        .await?
        .iter()
        .filter_map(|t| t["batchId"].as_str().map(str::to_string))
        .collect();
    batches.sort();
    batches.dedup();
    if batches.is_empty() {
        return Ok(api.no_records());
    }
    let (utc, local) = utc_and_local(clock::now_secs());
    let list: Vec<Node> = batches
        .into_iter()
        .map(|b| {
            Node::obj([
                ("batchId", Node::s(b)),
                ("settlementTimeUTC", utc.clone()),
                ("settlementTimeLocal", local.clone()),
                ("settlementState", Node::s("settledSuccessfully")),
                ("paymentMethod", Node::s("creditCard")),
            ])
        })
        .collect();
    Ok(api.ok(vec![("batchList", api.list("batch", list))]))
}

fn new_trans_id() -> String {
    let random = uuid::Uuid::new_v4().as_u128() % 9_000_000_000;
    (60_000_000_000u64 + random as u64).to_string()
}

/// `createTransactionResponse` with a transaction response.
fn transaction_answer(
    api: &Api,
    code: &str,
    trans_id: &str,
    ref_trans_id: &str,
    card: &str,
    error: Option<(&str, &str)>,
) -> Response {
    let mut tr: Vec<(&str, Node)> = vec![
        ("responseCode", Node::s(code)),
        ("authCode", Node::s(if code == "1" { "SBX001" } else { "" })),
        ("avsResultCode", Node::s("P")),
        ("cvvResultCode", Node::s("")),
        ("cavvResultCode", Node::s("")),
        ("transId", Node::s(trans_id)),
        ("refTransID", Node::s(ref_trans_id)),
        ("transHash", Node::s("")),
        ("testRequest", Node::s("0")),
        ("accountNumber", Node::s(card)),
        ("accountType", Node::s("Visa")),
    ];
    let top = match error {
        None => {
            tr.push((
                "messages",
                Node::Arr(vec![Node::obj([
                    ("code", Node::s("1")),
                    (
                        "description",
                        Node::s("This transaction has been approved."),
                    ),
                ])]),
            ));
            messages(true, "I00001", "Successful.")
        }
        Some((error_code, text)) => {
            let item = Node::obj([
                ("errorCode", Node::s(error_code)),
                ("errorText", Node::s(text)),
            ]);
            tr.push(("errors", api.list("error", vec![item])));
            messages(false, "E00027", "The transaction was unsuccessful.")
        }
    };
    let response = Node::Obj(tr.into_iter().map(|(k, v)| (k.to_string(), v)).collect());
    api.answer(vec![("transactionResponse", response), ("messages", top)])
}

async fn create_transaction(state: &Sandbox, api: &Api, request: &Value) -> Reply<AuthorizeNet> {
    let tx = &request["transactionRequest"];
    let kind = wire::text(&tx["transactionType"]);
    let ref_id = wire::text(&tx["refTransId"]);
    let refuse =
        |code: &str, text: &str| transaction_answer(api, "3", "0", &ref_id, "", Some((code, text)));
    if kind != "refundTransaction" && kind != "voidTransaction" {
        return Ok(refuse(
            "3",
            "The sandbox takes refundTransaction and voidTransaction only.",
        ));
    }
    for _ in 0..TRIES {
        let Some(original) = TRANSACTIONS.load::<Value>(&state.db, &ref_id).await? else {
            return Ok(refuse("16", "The transaction cannot be found."));
        };
        let card = wire::text(&original["card"]);
        let status = wire::text(&original["status"]);
        if kind == "voidTransaction" {
            match status.as_str() {
                "voided" => return Ok(refuse("310", "This transaction has already been voided.")),
                "capturedPendingSettlement" => {}
                _ => return Ok(refuse("16", "The transaction cannot be found (sandbox: only unsettled transactions can be voided).")),
            }
            let mut voided = original.value.clone();
            voided["status"] = json!("voided");
            if original.save(&state.db, &voided).await? {
                let approved = transaction_answer(api, "1", &ref_id, &ref_id, &card, None);
                return Ok(approved);
            }
            continue;
        }
        // refundTransaction
        if status != "settledSuccessfully" || original["refund_plan"] == "refuse" {
            return Ok(refuse(
                "54",
                "The referenced transaction does not meet the criteria for issuing a credit.",
            ));
        }
        let given = wire::text(&tx["payment"]["creditCard"]["cardNumber"]);
        let digits: String = card.chars().filter(char::is_ascii_digit).collect();
        if given
            .chars()
            .filter(char::is_ascii_digit)
            .collect::<String>()
            != digits
        {
            return Ok(refuse(
                "54",
                "The referenced transaction does not meet the criteria for issuing a credit.",
            ));
        }
        let Some(amount) = wire::amount_minor(&tx["amount"]).filter(|a| *a > 0) else {
            return Ok(refuse("5", "A valid amount is required."));
        };
        let refunded = original["refunded"].as_i64().unwrap_or(0);
        if refunded + amount > original["amount"].as_i64().unwrap_or(0) {
            return Ok(refuse("55", "The sum of credits against the referenced transaction would exceed original debit amount."));
        }
        let mut updated = original.value.clone();
        updated["refunded"] = json!(refunded + amount);
        if !original.save(&state.db, &updated).await? {
            continue;
        }
        let refund_id = new_trans_id();
        let refund = json!({
            "transId": refund_id,
            "refTransId": ref_id,
            "type": "refundTransaction",
            "status": "refundPendingSettlement",
            "responseCode": "1",
            "reason": "This transaction has been approved.",
            "invoice": original["invoice"],
            "description": original["description"],
            "amount": amount,
            "card": card,
            "submitted": clock::now_secs(),
        });
        TRANSACTIONS.insert(&state.db, &refund_id, &refund).await?;
        let approved = transaction_answer(api, "1", &refund_id, &ref_id, &card, None);
        return Ok(approved);
    }
    Ok(api.error("E00053", "Server too busy"))
}

/// The token's record, if it is known, unused and not older than 15 minutes.
async fn open_token(state: &Sandbox, token: &str) -> Result<Loaded<Value>, Error> {
    let record = if token.is_empty() || token.len() > 200 {
        None
    } else {
        TOKENS.load::<Value>(&state.db, token).await?
    };
    let refused = |status, title, detail| Err(notice(status, title, detail).into());
    let Some(record) = record else {
        return refused(
            StatusCode::BAD_REQUEST,
            "Invalid payment form",
            "This form's token is not known: open the payment again from the shop.",
        );
    };
    if record["used"] == true {
        return refused(
            StatusCode::GONE,
            "Payment form already used",
            "This payment form has been used. Return to the shop to see your order.",
        );
    }
    if clock::now_secs() - record["created"].as_i64().unwrap_or(0) > TOKEN_SECS {
        return refused(StatusCode::GONE, "Payment form expired", "This payment form's token is older than 15 minutes. Return to the shop and choose Pay again.");
    }
    Ok(record)
}

async fn hosted_form(
    State(state): State<Sandbox>,
    Form(form): Form<HashMap<String, String>>,
) -> Reply<AuthorizeNet> {
    let token = field(&form, "token");
    let record = open_token(&state, token).await?;
    let s = |k: &str| escape(record[k].as_str().unwrap_or(""));
    let body = format!(
        r#"<main class="card"><h1>Authorize.Net sandbox payment form</h1>
<p>Storefront sandbox merchant asks for <strong data-testid="sandbox-amount">USD {amount}</strong>.</p>
<p>Invoice number: <code data-testid="sandbox-reference">{invoice}</code><br>{description}</p>
<form method="post" action="/sandbox/authorizenet{ACTION_PATH}">
<input type="hidden" name="token" value="{token}">
<p><label for="card">Card number</label><br><input id="card" name="card" value="4111111111111111" inputmode="numeric" autocomplete="cc-number"></p>
<p><label for="expiry">Expiry (MM/YY)</label><br><input id="expiry" name="expiry" value="12/30" autocomplete="cc-exp"></p>
<p><strong>Pay</strong> charges the test card; <strong>Decline</strong> makes a declined transaction; <strong>Cancel</strong> returns to the shop without paying.</p>
{PAY_DECLINE_CANCEL}
{controls}
<fieldset><legend>Settlement (test control)</legend>
<label><input type="radio" name="settlement" value="settled" checked> Settled at once (refunds use refundTransaction)</label><br>
<label><input type="radio" name="settlement" value="unsettled"> Left unsettled (only a void of the whole amount)</label>
</fieldset>
<fieldset><legend>Refunds of this payment (test control)</legend>
<label><input type="radio" name="refunds" value="succeed" checked> Succeed</label><br>
<label><input type="radio" name="refunds" value="refuse"> Refused (error 54)</label>
</fieldset>
</form></main>"#,
        amount = dollars(record["amount"].as_i64().unwrap_or(0)),
        invoice = s("invoice"),
        description = s("description"),
        token = escape(token),
        controls = delivery_controls(),
    );
    Ok(page("Authorize.Net sandbox payment form", &body))
}

/// The webhook Authorize.Net sends for a new transaction, signed with the sandbox Signature Key.
pub fn webhook_body(event_type: &str, transaction: &Value) -> String {
    json!({
        "notificationId": uuid::Uuid::new_v4().to_string(),
        "eventType": event_type,
        "eventDate": format!("{}Z", clock::plain_utc(clock::now_secs())),
        "webhookId": "5a4d2b7e-0000-4000-8000-000000000001",
        "payload": {
            "responseCode": transaction["responseCode"].as_str().unwrap_or("").parse::<i64>().unwrap_or(0),
            "authCode": transaction["authCode"],
            "avsResponse": "Y",
            "authAmount": dollars(transaction["amount"].as_i64().unwrap_or(0)).parse::<f64>().unwrap_or(0.0),
            "invoiceNumber": transaction["invoice"],
            "entityName": "transaction",
            "id": transaction["transId"],
        }
    })
    .to_string()
}

async fn form_action(
    State(state): State<Sandbox>,
    Form(form): Form<HashMap<String, String>>,
) -> Reply<AuthorizeNet> {
    let record = open_token(&state, field(&form, "token")).await?;
    let return_url = record["return_url"].as_str().unwrap_or("").to_string();
    let action = field(&form, "action");
    if action == "cancel" {
        let cancel = record["cancel_url"].as_str().unwrap_or("");
        return Ok(if cancel.is_empty() {
            notice(
                StatusCode::OK,
                "Payment cancelled",
                "You left the payment form without paying.",
            )
        } else {
            Redirect::to(cancel).into_response()
        });
    }
    let approved = match action {
        "pay" => true,
        "decline" => false,
        _ => return hosted_form(State(state), Form(form)).await,
    };
    let mut used = record.value.clone();
    used["used"] = json!(true);
    if !record.save(&state.db, &used).await? {
        let detail = "This payment form has been used.";
        return Err(notice(StatusCode::CONFLICT, "Payment form already used", detail).into());
    }
    let digits: String = form
        .get("card")
        .map(|c| c.chars().filter(char::is_ascii_digit).collect())
        .unwrap_or_default();
    let last4 = if digits.len() >= 4 {
        digits[digits.len() - 4..].to_string()
    } else {
        "1111".into()
    };
    let trans_id = new_trans_id();
    let settled = approved && form.get("settlement").map(String::as_str) != Some("unsettled");
    let now = clock::now_secs();
    let mut transaction = json!({
        "transId": trans_id,
        "type": "authCaptureTransaction",
        "status": if !approved { "declined" } else if settled { "settledSuccessfully" } else { "capturedPendingSettlement" },
        "responseCode": if approved { "1" } else { "2" },
        "reason": if approved { "This transaction has been approved." } else { "This transaction has been declined." },
        "authCode": if approved { "SBX001" } else { "" },
        "invoice": record["invoice"],
        "description": record["description"],
        "amount": record["amount"],
        "card": format!("XXXX{last4}"),
        "submitted": now,
        "refunded": 0,
        "refund_plan": form.get("refunds").map(String::as_str).unwrap_or("succeed"),
    });
    if settled {
        transaction["batchId"] = json!(format!("{}", 10_000_000 + now / 86_400));
    }
    TRANSACTIONS
        .insert(&state.db, &trans_id, &transaction)
        .await?;
    if approved {
        let body = webhook_body("net.authorize.payment.authcapture.created", &transaction);
        let signed = signature::sign(body.as_bytes(), sandbox_keys::AUTHORIZENET_SIGNATURE_KEY);
        let message = Message::new(state.webhook_url(PROVIDER), "application/json", body)
            .header("X-ANET-Signature", signed);
        delivery::spawn(&state, vec![message], DeliveryPlan::chosen(&form));
        if record["show_receipt"] == false && !return_url.is_empty() {
            return Ok(Redirect::to(&return_url).into_response());
        }
    }
    let (title, words) = if approved {
        ("Payment approved", "This transaction has been approved.")
    } else {
        (
            "Payment declined",
            "This transaction has been declined (response code 2).",
        )
    };
    let next = if return_url.is_empty() {
        String::new()
    } else {
        format!(
            "<p><a class=\"button\" href=\"{}\">Continue</a></p>",
            escape(&return_url)
        )
    };
    Ok(page(
        title,
        &format!(
            "<main class=\"card\"><h1>{title}</h1><p role=\"status\" data-testid=\"sandbox-result\">{words}</p><p>Transaction id: <code>{trans_id}</code>, invoice <code>{invoice}</code>, USD {amount}.</p>{next}</main>",
            invoice = escape(record["invoice"].as_str().unwrap_or("")),
            amount = dollars(record["amount"].as_i64().unwrap_or(0)),
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn authorizenet_sandbox_answers_start_with_the_bom_in_the_requests_format() {
        for (format, starts) in [(Format::Json, "{\"messages\""), (Format::Xml, "<?xml")] {
            let reply = "getTransactionDetailsResponse".to_string();
            let response = Api { format, reply }.error("E00040", "The record cannot be found.");
            let body = axum::body::to_bytes(response.into_body(), 1 << 16)
                .await
                .unwrap();
            assert!(body.starts_with(BOM));
            let text = std::str::from_utf8(&body[3..]).unwrap();
            assert!(text.starts_with(starts), "{text}");
            assert!(text.contains("E00040"));
        }
    }

    #[test]
    fn authorizenet_sandbox_webhooks_verify_with_the_sandbox_key() {
        let t = json!({"transId": "60001", "responseCode": "1", "amount": 1800, "invoice": "ORD-000001-A1", "authCode": "SBX001"});
        let body = webhook_body("net.authorize.payment.authcapture.created", &t);
        let header = signature::sign(body.as_bytes(), sandbox_keys::AUTHORIZENET_SIGNATURE_KEY);
        assert!(signature::verify(
            &header,
            body.as_bytes(),
            sandbox_keys::AUTHORIZENET_SIGNATURE_KEY
        )
        .is_ok());
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["payload"]["id"], "60001");
        assert_eq!(v["payload"]["entityName"], "transaction");
    }
}
