//! The PayPal sandbox, mounted at `/sandbox/paypal` (providers.md §3): `POST /v1/oauth2/token`
//! (any client id and secret), `POST /v2/checkout/orders`, `GET /v2/checkout/orders/{id}`,
//! `POST /v2/checkout/orders/{id}/capture`, `POST /v2/payments/captures/{id}/refund`,
//! `GET /v2/payments/captures/{id}`, `GET /v2/payments/refunds/{id}`,
//! `POST /v1/notifications/verify-webhook-signature`, and the approval page `/checkoutnow?token=`
//! with **Pay**, **Decline** and **Cancel**. Every POST is idempotent on `PayPal-Request-Id`.
//! Wire names are snake_case; errors have PayPal's shape (`name`, `message`, `debug_id`,
//! `details[].issue`).
//!
//! - **Pay**: the order becomes APPROVED and the browser goes to `return_url?token={id}&PayerID=…`;
//!   `CHECKOUT.ORDER.APPROVED` is sent. The capture then completes and sends
//!   `PAYMENT.CAPTURE.COMPLETED`.
//! - **Decline**: the order is approved too, but its capture answers 422 `INSTRUMENT_DECLINED`, as
//!   PayPal's negative testing does (`PayPal-Mock-Response: {"mock_application_codes":
//!   "INSTRUMENT_DECLINED"}`, also honoured on any capture). No capture exists, so no capture
//!   webhook is sent.
//! - **Cancel**: the browser goes to `cancel_url?token={id}`; the order stays as it was.
//! - Refunds: like PayPal, a refund whose `invoice_id` an earlier refund used (on any capture) is
//!   refused with 422 `DUPLICATE_INVOICE_ID`; a repeat with the same `PayPal-Request-Id` is
//!   answered with the first refund before that check.
//!
//! Webhooks carry `PAYPAL-TRANSMISSION-ID/TIME/SIG`, `PAYPAL-CERT-URL` and `PAYPAL-AUTH-ALGO`
//! and are retried until acknowledged. The sandbox keeps each transmission it sent; its
//! verify-webhook-signature answers SUCCESS only for a transmission it sent, with the same
//! headers, the sandbox's webhook id and the same event. (It signs nothing with a real key: the
//! `transmission_sig` is a digest that only this lookup checks.)

use super::delivery::{self, DeliveryPlan, Message};
use super::idempotency::{self, Claimed, Repeat};
use super::page::{delivery_controls, escape, is_shop_url, page, refund_controls, RefundPlan};
use super::store;
use super::{clock, Sandbox};
use app::server::config::payments::sandbox_keys;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use base64::Engine as _;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::HashMap;

const PROVIDER: &str = "paypal";
const ORDER: &str = "pp-order:";
const REFUND: &str = "pp-refund:";
/// One row per refund `invoice_id` used (PayPal allows each once).
const REFUND_INVOICE: &str = "pp-refund-invoice:";
const TOKEN: &str = "pp-token:";
const TRANSMISSION: &str = "pp-tx:";
/// One row per capture call received (tests count them).
pub const CAPTURE_CALL: &str = "pp-capture-call:";

/// Kept inside the stored order, never shown.
const RETURN_KEY: &str = "_sandbox_return_url";
const CANCEL_KEY: &str = "_sandbox_cancel_url";
const DECLINE_KEY: &str = "_sandbox_decline";
const PLAN_KEY: &str = "_sandbox_webhooks";
const REFUND_PLAN_KEY: &str = "_sandbox_refunds";
const REFUNDED_KEY: &str = "_sandbox_refunded";

pub fn routes() -> Router<Sandbox> {
    Router::new()
        .route("/v1/oauth2/token", post(token))
        .route("/v2/checkout/orders", post(create_order))
        .route("/v2/checkout/orders/{id}", get(get_order))
        .route("/v2/checkout/orders/{id}/capture", post(capture_order))
        .route("/v2/payments/captures/{id}", get(get_capture))
        .route("/v2/payments/captures/{id}/refund", post(refund_capture))
        .route("/v2/payments/refunds/{id}", get(get_refund))
        .route(
            "/v1/notifications/verify-webhook-signature",
            post(verify_signature),
        )
        .route("/checkoutnow", get(approval_page).post(approval_action))
}

/// A PayPal-style id: 17 upper-case letters and digits.
fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..17].to_ascii_uppercase()
}

fn now_text() -> String {
    clock::rfc3339_now()
}

/// PayPal's error body.
fn error_body(name: &str, message: &str, issue: Option<(&str, &str)>) -> Value {
    let mut body = json!({
        "name": name,
        "message": message,
        "debug_id": new_id().to_ascii_lowercase(),
    });
    if let Some((issue, description)) = issue {
        body["details"] = json!([{"issue": issue, "description": description}]);
        body["links"] = json!([{
            "href": format!("https://developer.paypal.com/api/rest/reference/orders/v2/errors/#{issue}"),
            "rel": "information_link",
            "method": "GET",
        }]);
    }
    body
}

fn error(status: StatusCode, name: &str, message: &str, issue: Option<(&str, &str)>) -> Response {
    (status, Json(error_body(name, message, issue))).into_response()
}

/// A refusal before it becomes a response: PayPal's status and error body.
type Refusal = (StatusCode, Value);

fn respond((status, body): Refusal) -> Response {
    (status, Json(body)).into_response()
}

fn unprocessable_r(issue: &str, description: &str) -> Refusal {
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        error_body(
            "UNPROCESSABLE_ENTITY",
            "The requested action could not be performed, semantically incorrect, or failed business validation.",
            Some((issue, description)),
        ),
    )
}

fn invalid_r(issue: &str, description: &str) -> Refusal {
    (
        StatusCode::BAD_REQUEST,
        error_body(
            "INVALID_REQUEST",
            "Request is not well-formed, syntactically incorrect, or violates schema.",
            Some((issue, description)),
        ),
    )
}

fn unprocessable(issue: &str, description: &str) -> Response {
    error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "UNPROCESSABLE_ENTITY",
        "The requested action could not be performed, semantically incorrect, or failed business validation.",
        Some((issue, description)),
    )
}

fn invalid(issue: &str, description: &str) -> Response {
    error(
        StatusCode::BAD_REQUEST,
        "INVALID_REQUEST",
        "Request is not well-formed, syntactically incorrect, or violates schema.",
        Some((issue, description)),
    )
}

fn not_found(description: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        "RESOURCE_NOT_FOUND",
        "The specified resource does not exist.",
        Some(("INVALID_RESOURCE_ID", description)),
    )
}

fn internal(e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "paypal sandbox failed");
    error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "INTERNAL_SERVER_ERROR",
        "An internal server error has occurred.",
        None,
    )
}

async fn conn(state: &Sandbox) -> Result<sqlx::pool::PoolConnection<sqlx::Any>, Response> {
    state.db.pool.acquire().await.map_err(internal)
}

/// Like PayPal: a Bearer token this sandbox issued, else 401 `invalid_token`.
async fn authenticated(state: &Sandbox, headers: &HeaderMap) -> Result<(), Response> {
    let refused = || {
        (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "invalid_token", "error_description": "Token signature verification failed"})),
        )
            .into_response()
    };
    let Some(token) = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return Err(refused());
    };
    let mut conn = conn(state).await?;
    match store::get(&mut conn, &format!("{TOKEN}{token}")).await {
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err(refused()),
        Err(e) => Err(internal(e)),
    }
}

/// `POST /v1/oauth2/token`: client credentials as HTTP Basic (any id and secret), the form
/// `grant_type=client_credentials`.
async fn token(
    State(state): State<Sandbox>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let basic = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
        })
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| {
            s.split_once(':')
                .map(|(id, secret)| (id.to_string(), secret.to_string()))
        });
    let Some((client_id, secret)) =
        basic.filter(|(id, secret)| !id.is_empty() && !secret.is_empty())
    else {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "invalid_client", "error_description": "Client Authentication failed"})),
        )
            .into_response();
    };
    let _ = secret;
    let form: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    if !form
        .iter()
        .any(|(k, v)| k == "grant_type" && v == "client_credentials")
    {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "unsupported_grant_type", "error_description": "Grant Type is NULL"})),
        )
            .into_response();
    }
    let access_token = format!("A21AA{}", uuid::Uuid::new_v4().simple());
    let record = json!({"client_id": client_id}).to_string();
    if let Err(e) = store::insert_committed(
        &state.db,
        PROVIDER,
        &format!("{TOKEN}{access_token}"),
        None,
        "",
        200,
        &record,
    )
    .await
    {
        return internal(e);
    }
    Json(json!({
        "scope": "https://uri.paypal.com/services/payments/payment https://uri.paypal.com/services/payments/refund",
        "access_token": access_token,
        "token_type": "Bearer",
        "app_id": "APP-80W284485P519543T",
        "expires_in": 32400,
        "nonce": format!("{}{}", now_text(), new_id()),
    }))
    .into_response()
}

/// Claim a `PayPal-Request-Id` (scoped to `scope`) before acting, in a write transaction of its
/// own: `Ok(claim)` to go on (then [`finish`]), or PayPal's answer to a repeat (the stored reply,
/// whatever the new body) or a concurrent twin (409).
async fn begin(
    state: &Sandbox,
    scope: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Option<Claimed>, Response> {
    let Some(request_id) = headers
        .get("paypal-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
    else {
        return Ok(None);
    };
    let key = format!("{scope}|{request_id}");
    match idempotency::claim(&state.db, None, &idempotency::PAYPAL, &key, body).await {
        Ok(Ok(claimed)) => Ok(Some(claimed)),
        Ok(Err(Repeat::InProgress | Repeat::OtherRequest)) => Err(error(
            StatusCode::CONFLICT,
            "RESOURCE_CONFLICT",
            "The server has detected a conflict while processing this request.",
            Some((
                "PREVIOUS_REQUEST_IN_PROGRESS",
                "A previous request with this PayPal-Request-Id is still in progress.",
            )),
        )),
        Ok(Err(Repeat::Replay { status, body })) => Err((status, Json(body)).into_response()),
        Err(e) => Err(internal(e)),
    }
}

/// Store the reply under the claimed request id (a refusal too, like PayPal; a server error is
/// not kept, so the next try acts again) and send it.
async fn finish(
    state: &Sandbox,
    claimed: Option<Claimed>,
    status: StatusCode,
    body: Value,
) -> Response {
    if let Some(claimed) = &claimed {
        if let Err(e) = claimed.finish(&state.db, None, status, &body).await {
            return internal(e);
        }
    }
    (status, Json(body)).into_response()
}

/// Decimal places PayPal allows in a currency (providers.md §3.2).
fn decimals(currency: &str) -> u32 {
    match currency {
        "JPY" | "HUF" | "TWD" => 0,
        _ => 2,
    }
}

/// Currencies this sandbox's merchant account receives. BDT is not a PayPal currency; CNY is only
/// for accounts inside China.
const CURRENCIES: &[&str] = &[
    "USD", "EUR", "JPY", "GBP", "AUD", "CAD", "CHF", "HUF", "TWD",
];

/// A PayPal amount value in minor units: digits, at most the currency's decimals.
fn minor_units(value: &str, currency: &str) -> Result<i64, &'static str> {
    let (whole, fraction) = value.split_once('.').unwrap_or((value, ""));
    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    if whole.is_empty()
        || whole.len() > 10
        || !digits(whole)
        || !digits(fraction)
        || value.ends_with('.')
    {
        return Err("INVALID_PARAMETER_SYNTAX");
    }
    let places = decimals(currency);
    if fraction.len() > places as usize {
        return Err("DECIMAL_PRECISION");
    }
    let whole: i64 = whole.parse().map_err(|_| "INVALID_PARAMETER_SYNTAX")?;
    let fraction_value: i64 = if fraction.is_empty() {
        0
    } else {
        fraction.parse().map_err(|_| "INVALID_PARAMETER_SYNTAX")?
    };
    Ok(whole * 10i64.pow(places) + fraction_value * 10i64.pow(places - fraction.len() as u32))
}

fn amount_value(minor: i64, currency: &str) -> String {
    let places = decimals(currency);
    if places == 0 {
        return minor.to_string();
    }
    let scale = 10i64.pow(places);
    format!(
        "{}.{:0width$}",
        minor / scale,
        minor % scale,
        width = places as usize
    )
}

fn amount_json(minor: i64, currency: &str) -> Value {
    json!({"currency_code": currency, "value": amount_value(minor, currency)})
}

/// A checked `{currency_code, value}`: the currency and the minor units.
fn read_amount(amount: &Value, field: &str) -> Result<(String, i64), Refusal> {
    let currency = amount["currency_code"].as_str().unwrap_or("");
    if currency.len() != 3 || !currency.chars().all(|c| c.is_ascii_uppercase()) {
        return Err(invalid_r(
            "INVALID_PARAMETER_VALUE",
            &format!("{field}/currency_code must be a three-letter ISO 4217 code."),
        ));
    }
    if !CURRENCIES.contains(&currency) {
        return Err(unprocessable_r(
            "CURRENCY_NOT_SUPPORTED",
            &format!("Currency code {currency} is not currently supported."),
        ));
    }
    let value = amount["value"].as_str().unwrap_or("");
    match minor_units(value, currency) {
        Ok(minor) => Ok((currency.to_string(), minor)),
        Err("DECIMAL_PRECISION") => Err(unprocessable_r(
            "DECIMAL_PRECISION",
            &format!("If the currency supports decimals, only two decimal place precision is supported; {currency} has {}.", decimals(currency)),
        )),
        Err(issue) => Err(invalid_r(issue, &format!("{field}/value must be a decimal string."))),
    }
}

fn order_link(state: &Sandbox, id: &str) -> String {
    format!("{}/sandbox/paypal/v2/checkout/orders/{id}", state.site_url)
}

fn approval_url(state: &Sandbox, id: &str) -> String {
    format!("{}/sandbox/paypal/checkoutnow?token={id}", state.site_url)
}

/// Parse and check a create-order body into the stored order.
fn build_order(state: &Sandbox, body: &Value) -> Result<Value, Refusal> {
    if !body.is_object() {
        return Err(invalid_r(
            "MALFORMED_REQUEST_JSON",
            "The request JSON is not well formed.",
        ));
    }
    match body["intent"].as_str() {
        Some("CAPTURE") => {}
        Some("AUTHORIZE") => {
            return Err(unprocessable_r(
                "UNSUPPORTED_INTENT",
                "This sandbox supports intent CAPTURE only.",
            ))
        }
        _ => {
            return Err(invalid_r(
                "MISSING_REQUIRED_PARAMETER",
                "/intent is required (CAPTURE).",
            ))
        }
    }
    let units = body["purchase_units"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if units.len() != 1 {
        return Err(invalid_r(
            "INVALID_ARRAY_MAX_ITEMS",
            "This sandbox takes exactly one purchase unit.",
        ));
    }
    let unit = &units[0];
    let (currency, total) = read_amount(
        &unit["amount"],
        "/purchase_units/@reference_id=='default'/amount",
    )?;
    if total <= 0 {
        return Err(unprocessable_r(
            "CANNOT_BE_ZERO_OR_NEGATIVE",
            "The amount must be greater than zero.",
        ));
    }
    let mut items = Vec::new();
    if let Some(list) = unit["items"].as_array() {
        let mut sum = 0i64;
        for item in list {
            let (c, unit_minor) = read_amount(
                &item["unit_amount"],
                "/purchase_units/@reference_id=='default'/items/unit_amount",
            )?;
            let quantity: i64 = item["quantity"]
                .as_str()
                .and_then(|q| q.parse().ok())
                .filter(|q| *q >= 1)
                .ok_or_else(|| {
                    invalid_r(
                        "INVALID_PARAMETER_VALUE",
                        "items/quantity must be a whole number as a string.",
                    )
                })?;
            if c != currency {
                return Err(unprocessable_r(
                    "ITEM_CURRENCY_MISMATCH",
                    "Items must be in the purchase unit's currency.",
                ));
            }
            sum += unit_minor * quantity;
            items.push(json!({
                "name": item["name"].as_str().unwrap_or("").chars().take(127).collect::<String>(),
                "quantity": quantity.to_string(),
                "unit_amount": amount_json(unit_minor, &currency),
            }));
        }
        let item_total = &unit["amount"]["breakdown"]["item_total"];
        if item_total.is_null() {
            return Err(unprocessable_r(
                "ITEM_TOTAL_REQUIRED",
                "If item details are specified, amount.breakdown.item_total is required.",
            ));
        }
        let (_, declared) = read_amount(item_total, "amount/breakdown/item_total")?;
        if declared != sum {
            return Err(unprocessable_r(
                "ITEM_TOTAL_MISMATCH",
                "Should equal sum of (unit_amount * quantity) across all items.",
            ));
        }
        if declared != total {
            return Err(unprocessable_r("AMOUNT_MISMATCH", "Should equal item_total + tax_total + shipping + handling + insurance - shipping_discount - discount."));
        }
    }
    let context = if body["payment_source"]["paypal"]["experience_context"].is_object() {
        Some(&body["payment_source"]["paypal"]["experience_context"])
    } else if body["application_context"].is_object() {
        Some(&body["application_context"])
    } else {
        None
    };
    let modern = body["payment_source"]["paypal"].is_object();
    let url = |k: &str| context.and_then(|c| c[k].as_str()).map(str::to_string);
    for (key, value) in [
        ("return_url", url("return_url")),
        ("cancel_url", url("cancel_url")),
    ] {
        if let Some(v) = value {
            if !is_shop_url(&v, &state.shop_url) {
                return Err(unprocessable_r(
                    "INVALID_PARAMETER_VALUE",
                    &format!(
                        "The sandbox only sends buyers back to the shop's own origin ({}): {key}.",
                        state.shop_url
                    ),
                ));
            }
        }
    }
    let id = new_id();
    let text = |v: &Value| v.as_str().map(|s| json!(s)).unwrap_or(Value::Null);
    let mut stored_unit = json!({
        "reference_id": unit["reference_id"].as_str().unwrap_or("default"),
        "amount": unit["amount"].clone(),
        "payee": {"email_address": "merchant@storefront.example", "merchant_id": "STOREFRONTSBX1"},
    });
    for field in ["invoice_id", "custom_id", "description", "soft_descriptor"] {
        if !unit[field].is_null() {
            stored_unit[field] = text(&unit[field]);
        }
    }
    if !items.is_empty() {
        stored_unit["items"] = json!(items);
    }
    let status = if modern {
        "PAYER_ACTION_REQUIRED"
    } else {
        "CREATED"
    };
    let approve_rel = if modern { "payer-action" } else { "approve" };
    let mut order = json!({
        "id": id,
        "intent": "CAPTURE",
        "status": status,
        "purchase_units": [stored_unit],
        "create_time": now_text(),
        "links": [
            {"href": order_link(state, &id), "rel": "self", "method": "GET"},
            {"href": approval_url(state, &id), "rel": approve_rel, "method": "GET"},
            {"href": order_link(state, &id), "rel": "update", "method": "PATCH"},
            {"href": format!("{}/capture", order_link(state, &id)), "rel": "capture", "method": "POST"},
        ],
        RETURN_KEY: url("return_url"),
        CANCEL_KEY: url("cancel_url"),
        REFUNDED_KEY: 0,
    });
    if modern {
        order["payment_source"] = json!({"paypal": {}});
    }
    Ok(order)
}

/// The order as the API shows it (without the sandbox's private fields).
fn public_view(order: &Value) -> Value {
    let mut value = order.clone();
    if let Some(map) = value.as_object_mut() {
        map.retain(|k, _| !k.starts_with("_sandbox_"));
    }
    value
}

async fn load(state: &Sandbox, key: &str) -> Result<Option<Value>, Response> {
    let mut conn = conn(state).await?;
    let object = store::get(&mut conn, key).await.map_err(internal)?;
    Ok(object.and_then(|o| serde_json::from_str(&o.data).ok()))
}

async fn load_order(state: &Sandbox, id: &str) -> Result<Option<Value>, Response> {
    load(state, &format!("{ORDER}{id}")).await
}

/// Save a changed order if nobody changed it meanwhile; false if they did.
async fn save_order(state: &Sandbox, before: &Value, after: &Value) -> Result<bool, Response> {
    let id = format!("{ORDER}{}", after["id"].as_str().unwrap_or_default());
    store::update_committed(
        &state.db,
        &id,
        200,
        &after.to_string(),
        Some(&before.to_string()),
    )
    .await
    .map_err(internal)
}

async fn create_order(
    State(state): State<Sandbox>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if let Err(r) = authenticated(&state, &headers).await {
        return r;
    }
    let parsed: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(_) => {
            return invalid(
                "MALFORMED_REQUEST_JSON",
                "The request JSON is not well formed.",
            )
        }
    };
    let record = match begin(&state, "orders", &headers, &body).await {
        Ok(r) => r,
        Err(replayed) => return replayed,
    };
    let (status, reply) = match build_order(&state, &parsed) {
        Ok(order) => {
            let id = order["id"].as_str().unwrap_or_default().to_string();
            if let Err(e) = store::insert_committed(
                &state.db,
                PROVIDER,
                &format!("{ORDER}{id}"),
                None,
                "",
                200,
                &order.to_string(),
            )
            .await
            {
                return internal(e);
            }
            (StatusCode::CREATED, public_view(&order))
        }
        Err(refused) => refused,
    };
    finish(&state, record, status, reply).await
}

async fn get_order(
    State(state): State<Sandbox>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Err(r) = authenticated(&state, &headers).await {
        return r;
    }
    match load_order(&state, &id).await {
        Ok(Some(order)) => Json(public_view(&order)).into_response(),
        Ok(None) => not_found(&format!("Specified resource ID {id} does not exist.")),
        Err(r) => r,
    }
}

/// `POST /v2/checkout/orders/{id}/capture`: an APPROVED order becomes COMPLETED with one capture
/// (or 422 `INSTRUMENT_DECLINED` for a declined buyer); idempotent on `PayPal-Request-Id`.
async fn capture_order(
    State(state): State<Sandbox>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    if let Err(r) = authenticated(&state, &headers).await {
        return r;
    }
    let counted = store::insert_committed(
        &state.db,
        PROVIDER,
        &format!("{CAPTURE_CALL}{}", uuid::Uuid::new_v4().simple()),
        None,
        "",
        200,
        &json!({"order_id": id}).to_string(),
    )
    .await;
    if let Err(e) = counted {
        return internal(e);
    }
    let record = match begin(&state, &format!("capture:{id}"), &headers, &body).await {
        Ok(r) => r,
        Err(replayed) => return replayed,
    };
    let mock_decline = headers
        .get("paypal-mock-response")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("INSTRUMENT_DECLINED"));
    let (status, reply) = match capture(&state, &id, mock_decline).await {
        Ok(order) => (StatusCode::CREATED, order),
        Err(refused) => {
            let status = refused.status();
            let bytes = axum::body::to_bytes(refused.into_body(), 64 * 1024)
                .await
                .unwrap_or_default();
            (
                status,
                serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            )
        }
    };
    finish(&state, record, status, reply).await
}

async fn capture(state: &Sandbox, id: &str, mock_decline: bool) -> Result<Value, Response> {
    for _ in 0..5 {
        let Some(order) = load_order(state, id).await? else {
            return Err(not_found(&format!(
                "Specified resource ID {id} does not exist."
            )));
        };
        match order["status"].as_str() {
            Some("APPROVED") => {}
            Some("COMPLETED") => {
                return Err(unprocessable("ORDER_ALREADY_CAPTURED", "Order already captured. If 'intent=CAPTURE' only one capture per order is allowed."))
            }
            _ => {
                return Err(unprocessable("ORDER_NOT_APPROVED", "Payer has not yet approved the Order for payment."))
            }
        }
        if mock_decline || order[DECLINE_KEY] == true {
            return Err(unprocessable(
                "INSTRUMENT_DECLINED",
                "The instrument presented was either declined by the processor or bank, or it can't be used for this payment.",
            ));
        }
        let unit = &order["purchase_units"][0];
        let capture_id = new_id();
        let currency = unit["amount"]["currency_code"]
            .as_str()
            .unwrap_or("")
            .to_string();
        let capture_link = format!(
            "{}/sandbox/paypal/v2/payments/captures/{capture_id}",
            state.site_url
        );
        let mut capture = json!({
            "id": capture_id,
            "status": "COMPLETED",
            "amount": unit["amount"].clone(),
            "final_capture": true,
            "seller_protection": {"status": "ELIGIBLE", "dispute_categories": ["ITEM_NOT_RECEIVED", "UNAUTHORIZED_TRANSACTION"]},
            "seller_receivable_breakdown": {
                "gross_amount": {"currency_code": currency, "value": unit["amount"]["value"].clone()},
                "paypal_fee": amount_json(0, &currency),
                "net_amount": {"currency_code": currency, "value": unit["amount"]["value"].clone()},
            },
            "create_time": now_text(),
            "update_time": now_text(),
            "links": [
                {"href": capture_link, "rel": "self", "method": "GET"},
                {"href": format!("{capture_link}/refund"), "rel": "refund", "method": "POST"},
                {"href": order_link(state, id), "rel": "up", "method": "GET"},
            ],
        });
        for field in ["invoice_id", "custom_id"] {
            if !unit[field].is_null() {
                capture[field] = unit[field].clone();
            }
        }
        let mut after = order.clone();
        after["status"] = json!("COMPLETED");
        after["update_time"] = json!(now_text());
        after["purchase_units"][0]["payments"] = json!({"captures": [capture.clone()]});
        if !save_order(state, &order, &after).await? {
            continue;
        }
        let mut event_resource = capture.clone();
        event_resource["supplementary_data"] = json!({"related_ids": {"order_id": id}});
        let plan = DeliveryPlan::parse(order[PLAN_KEY].as_str());
        send_events(
            state,
            &[("PAYMENT.CAPTURE.COMPLETED", "capture", event_resource)],
            plan,
        )
        .await;
        return Ok(public_view(&after));
    }
    Err(error(
        StatusCode::CONFLICT,
        "RESOURCE_CONFLICT",
        "The order changed meanwhile; retry.",
        None,
    ))
}

/// The order holding a capture, and that capture.
async fn order_of_capture(
    state: &Sandbox,
    capture_id: &str,
) -> Result<Option<(Value, Value)>, Response> {
    let mut conn = conn(state).await?;
    let found = store::search(&mut conn, PROVIDER, ORDER, capture_id)
        .await
        .map_err(internal)?
        .into_iter()
        .filter_map(|o| serde_json::from_str::<Value>(&o.data).ok())
        .find_map(|order| {
            let capture = order["purchase_units"][0]["payments"]["captures"]
                .as_array()?
                .iter()
                .find(|c| c["id"] == capture_id)?
                .clone();
            Some((order, capture))
        });
    Ok(found)
}

async fn get_capture(
    State(state): State<Sandbox>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Err(r) = authenticated(&state, &headers).await {
        return r;
    }
    match order_of_capture(&state, &id).await {
        Ok(Some((order, mut capture))) => {
            capture["supplementary_data"] = json!({"related_ids": {"order_id": order["id"]}});
            Json(capture).into_response()
        }
        Ok(None) => not_found(&format!("Specified resource ID {id} does not exist.")),
        Err(r) => r,
    }
}

/// `POST /v2/payments/captures/{id}/refund`: all that is left (no body) or `amount`, idempotent on
/// `PayPal-Request-Id`; what it does follows the payment's refund test control.
async fn refund_capture(
    State(state): State<Sandbox>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    if let Err(r) = authenticated(&state, &headers).await {
        return r;
    }
    let request: Value = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(_) => {
                return invalid(
                    "MALFORMED_REQUEST_JSON",
                    "The request JSON is not well formed.",
                )
            }
        }
    };
    let record = match begin(&state, "refunds", &headers, &body).await {
        Ok(r) => r,
        Err(replayed) => return replayed,
    };
    let (status, reply) = match make_refund(&state, &id, &request).await {
        Ok(refund) => (StatusCode::CREATED, refund),
        Err(refused) => {
            let status = refused.status();
            let bytes = axum::body::to_bytes(refused.into_body(), 64 * 1024)
                .await
                .unwrap_or_default();
            (
                status,
                serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            )
        }
    };
    finish(&state, record, status, reply).await
}

async fn make_refund(
    state: &Sandbox,
    capture_id: &str,
    request: &Value,
) -> Result<Value, Response> {
    for _ in 0..5 {
        let Some((order, capture)) = order_of_capture(state, capture_id).await? else {
            return Err(not_found(&format!(
                "Specified resource ID {capture_id} does not exist."
            )));
        };
        let plan = RefundPlan::parse(order[REFUND_PLAN_KEY].as_str());
        if plan == RefundPlan::Refuse {
            return Err(unprocessable(
                "REFUND_NOT_PERMITTED_DUE_TO_CHARGEBACK",
                "Refunds not allowed on this capture due to a chargeback on the card or bank. Please contact the payee to resolve the chargeback.",
            ));
        }
        let currency = capture["amount"]["currency_code"]
            .as_str()
            .unwrap_or("")
            .to_string();
        let (total_currency, total) =
            read_amount(&capture["amount"], "capture").map_err(respond)?;
        let refunded = order[REFUNDED_KEY].as_i64().unwrap_or(0);
        let left = total - refunded;
        if left <= 0 {
            return Err(unprocessable(
                "CAPTURE_FULLY_REFUNDED",
                "The capture has already been fully refunded.",
            ));
        }
        let amount = if request["amount"].is_null() {
            left
        } else {
            let (c, a) = read_amount(&request["amount"], "/amount").map_err(respond)?;
            if c != total_currency {
                return Err(unprocessable(
                    "REFUND_CURRENCY_MISMATCH",
                    "Refund must be in the same currency as the capture.",
                ));
            }
            if a <= 0 {
                return Err(unprocessable(
                    "CANNOT_BE_ZERO_OR_NEGATIVE",
                    "The refund amount must be greater than zero.",
                ));
            }
            a
        };
        if amount > left {
            return Err(unprocessable(
                "REFUND_AMOUNT_EXCEEDED",
                "The refund amount must be less than or equal to the capture amount that has not yet been refunded.",
            ));
        }
        for field in ["invoice_id", "custom_id"] {
            if request[field]
                .as_str()
                .is_some_and(|v| v.is_empty() || v.chars().count() > 127)
            {
                return Err(invalid(
                    "INVALID_STRING_LENGTH",
                    &format!("The value of /{field} must be 1 to 127 characters."),
                ));
            }
        }
        // PayPal refuses a refund whose invoice_id an earlier refund used, on any capture of
        // the account. Claimed before the refund is recorded, given back if that is retried.
        let invoice = request["invoice_id"].as_str().filter(|v| !v.is_empty());
        let invoice_claim = match invoice {
            Some(invoice) => {
                let id = format!("{REFUND_INVOICE}{}", hex::encode(Sha256::digest(invoice)));
                let fresh =
                    store::insert_committed(&state.db, PROVIDER, &id, None, "", 200, invoice)
                        .await
                        .map_err(internal)?;
                if !fresh {
                    return Err(unprocessable(
                        "DUPLICATE_INVOICE_ID",
                        "Invoice ID was previously used to refund a capture.",
                    ));
                }
                Some(id)
            }
            None => None,
        };
        let mut after = order.clone();
        after[REFUNDED_KEY] = json!(refunded + amount);
        after["purchase_units"][0]["payments"]["captures"][0]["status"] =
            json!(if refunded + amount == total {
                "REFUNDED"
            } else {
                "PARTIALLY_REFUNDED"
            });
        if !save_order(state, &order, &after).await? {
            if let Some(id) = &invoice_claim {
                store::delete_committed(&state.db, id)
                    .await
                    .map_err(internal)?;
            }
            continue;
        }
        let refund_id = new_id();
        let public = &state.site_url;
        let mut refund = json!({
            "id": refund_id,
            "status": if plan == RefundPlan::Fail { "PENDING" } else { "COMPLETED" },
            "amount": amount_json(amount, &currency),
            "seller_payable_breakdown": {
                "gross_amount": amount_json(amount, &currency),
                "paypal_fee": amount_json(0, &currency),
                "net_amount": amount_json(amount, &currency),
                "total_refunded_amount": amount_json(refunded + amount, &currency),
            },
            "create_time": now_text(),
            "update_time": now_text(),
            "links": [
                {"href": format!("{public}/sandbox/paypal/v2/payments/refunds/{refund_id}"), "rel": "self", "method": "GET"},
                {"href": format!("{public}/sandbox/paypal/v2/payments/captures/{capture_id}"), "rel": "up", "method": "GET"},
            ],
        });
        if plan == RefundPlan::Fail {
            refund["status_details"] = json!({"reason": "ECHECK"});
        }
        for field in ["invoice_id", "custom_id", "note_to_payer"] {
            if let Some(v) = request[field].as_str() {
                refund[field] = json!(v);
            }
        }
        store::insert_committed(
            &state.db,
            PROVIDER,
            &format!("{REFUND}{refund_id}"),
            None,
            "",
            200,
            &refund.to_string(),
        )
        .await
        .map_err(internal)?;
        if plan == RefundPlan::Fail {
            send_events(
                state,
                &[("PAYMENT.REFUND.PENDING", "refund", refund.clone())],
                DeliveryPlan::Normal,
            )
            .await;
            let (state, refund, order_id) = (state.clone(), refund.clone(), order["id"].clone());
            tokio::spawn(async move { fail_refund_later(state, refund, order_id, amount).await });
        } else {
            send_events(
                state,
                &[("PAYMENT.CAPTURE.REFUNDED", "refund", refund.clone())],
                DeliveryPlan::Normal,
            )
            .await;
        }
        return Ok(refund);
    }
    Err(error(
        StatusCode::CONFLICT,
        "RESOURCE_CONFLICT",
        "The capture changed meanwhile; retry.",
        None,
    ))
}

/// A refund accepted as pending fails: its amount goes back to the capture, and
/// `PAYMENT.REFUND.FAILED` says so.
async fn fail_refund_later(state: Sandbox, refund: Value, order_id: Value, amount: i64) {
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let id = refund["id"].as_str().unwrap_or_default().to_string();
    let mut failed = refund.clone();
    failed["status"] = json!("FAILED");
    failed["status_details"] = json!({"reason": "ECHECK"});
    failed["update_time"] = json!(now_text());
    for _ in 0..5 {
        let Ok(Some(order)) = load_order(&state, order_id.as_str().unwrap_or_default()).await
        else {
            return;
        };
        let mut after = order.clone();
        let refunded = order[REFUNDED_KEY].as_i64().unwrap_or(0) - amount;
        after[REFUNDED_KEY] = json!(refunded);
        after["purchase_units"][0]["payments"]["captures"][0]["status"] = json!(if refunded == 0 {
            "COMPLETED"
        } else {
            "PARTIALLY_REFUNDED"
        });
        if matches!(save_order(&state, &order, &after).await, Ok(true)) {
            break;
        }
    }
    let _ = store::update_committed(
        &state.db,
        &format!("{REFUND}{id}"),
        200,
        &failed.to_string(),
        Some(&refund.to_string()),
    )
    .await;
    send_events(
        &state,
        &[("PAYMENT.REFUND.FAILED", "refund", failed)],
        DeliveryPlan::Normal,
    )
    .await;
}

async fn get_refund(
    State(state): State<Sandbox>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Err(r) = authenticated(&state, &headers).await {
        return r;
    }
    match load(&state, &format!("{REFUND}{id}")).await {
        Ok(Some(refund)) => Json(refund).into_response(),
        Ok(None) => not_found(&format!("Specified resource ID {id} does not exist.")),
        Err(r) => r,
    }
}

/// The headers of one transmission, as the sandbox sends them and remembers them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmission {
    pub id: String,
    pub time: String,
    pub sig: String,
    pub cert_url: String,
    pub auth_algo: String,
}

impl Transmission {
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        vec![
            ("paypal-transmission-id", self.id.clone()),
            ("paypal-transmission-time", self.time.clone()),
            ("paypal-transmission-sig", self.sig.clone()),
            ("paypal-cert-url", self.cert_url.clone()),
            ("paypal-auth-algo", self.auth_algo.clone()),
        ]
    }
}

/// Record a transmission of `body` (an event) and give its headers: what the sandbox does before
/// each delivery, and what tests use to send a genuine event of their own making.
pub async fn transmit(state: &Sandbox, body: &[u8]) -> Result<Transmission, sqlx::Error> {
    let id = uuid::Uuid::new_v4().to_string();
    let time = now_text();
    let webhook_id = sandbox_keys::PAYPAL_WEBHOOK_ID;
    let digest = Sha256::digest(
        format!(
            "{id}|{time}|{webhook_id}|{}",
            hex::encode(Sha256::digest(body))
        )
        .as_bytes(),
    );
    let transmission = Transmission {
        sig: base64::engine::general_purpose::STANDARD.encode(digest),
        cert_url: format!(
            "{}/sandbox/paypal/v1/notifications/certs/CERT-360caa42-fca2a594-storefront",
            state.site_url
        ),
        auth_algo: "SHA256withRSA".into(),
        id,
        time,
    };
    let record = json!({
        "transmission_id": transmission.id,
        "transmission_time": transmission.time,
        "transmission_sig": transmission.sig,
        "cert_url": transmission.cert_url,
        "auth_algo": transmission.auth_algo,
        "webhook_id": webhook_id,
        "event": String::from_utf8_lossy(body),
    });
    store::insert_committed(
        &state.db,
        PROVIDER,
        &format!("{TRANSMISSION}{}", transmission.id),
        None,
        "",
        200,
        &record.to_string(),
    )
    .await?;
    Ok(transmission)
}

/// Build, record and deliver events to the shop's PayPal webhook endpoint.
async fn send_events(state: &Sandbox, events: &[(&str, &str, Value)], plan: DeliveryPlan) {
    let url = format!("{}/webhooks/paypal", state.webhook_root);
    let mut messages = Vec::new();
    for (event_type, resource_type, resource) in events {
        let event_id = format!("WH-{}-{}", new_id(), new_id());
        let event = json!({
            "id": event_id,
            "event_version": "1.0",
            "create_time": now_text(),
            "resource_type": resource_type,
            "resource_version": "2.0",
            "event_type": event_type,
            "summary": summary(event_type),
            "resource": public_view(resource),
            "links": [{
                "href": format!("{}/sandbox/paypal/v1/notifications/webhooks-events/{event_id}", state.site_url),
                "rel": "self",
                "method": "GET",
            }],
        });
        let body = event.to_string().into_bytes();
        match transmit(state, &body).await {
            Ok(transmission) => messages.push(Message {
                url: url.clone(),
                content_type: "application/json",
                headers: transmission.headers(),
                body,
                answer: None,
            }),
            Err(e) => {
                tracing::error!(error = %e, "paypal sandbox: could not record a transmission")
            }
        }
    }
    delivery::spawn(state, messages, plan);
}

fn summary(event_type: &str) -> &'static str {
    match event_type {
        "CHECKOUT.ORDER.APPROVED" => "An order has been approved by buyer",
        "PAYMENT.CAPTURE.COMPLETED" => "Payment completed",
        "PAYMENT.CAPTURE.REFUNDED" => "A payment capture has been refunded",
        "PAYMENT.REFUND.PENDING" => "A refund is pending",
        "PAYMENT.REFUND.FAILED" => "A refund has failed",
        _ => "",
    }
}

/// `POST /v1/notifications/verify-webhook-signature`: SUCCESS only for a transmission this
/// sandbox sent, with the same headers, its webhook id and the same event.
async fn verify_signature(
    State(state): State<Sandbox>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if let Err(r) = authenticated(&state, &headers).await {
        return r;
    }
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return invalid(
            "MALFORMED_REQUEST_JSON",
            "The request JSON is not well formed.",
        );
    };
    const FIELDS: [&str; 6] = [
        "auth_algo",
        "cert_url",
        "transmission_id",
        "transmission_sig",
        "transmission_time",
        "webhook_id",
    ];
    for field in FIELDS {
        if request[field].as_str().is_none_or(str::is_empty) {
            return error(
                StatusCode::BAD_REQUEST,
                "VALIDATION_ERROR",
                "Invalid request - see details",
                Some((
                    "MISSING_REQUIRED_PARAMETER",
                    &format!("{field} is required"),
                )),
            );
        }
    }
    if !request["webhook_event"].is_object() {
        return error(
            StatusCode::BAD_REQUEST,
            "VALIDATION_ERROR",
            "Invalid request - see details",
            Some(("MISSING_REQUIRED_PARAMETER", "webhook_event is required")),
        );
    }
    let id = request["transmission_id"].as_str().unwrap_or_default();
    let stored = match load(&state, &format!("{TRANSMISSION}{id}")).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let genuine = stored.is_some_and(|sent| {
        FIELDS.iter().all(|f| sent[*f] == request[*f])
            && sent["event"]
                .as_str()
                .and_then(|e| serde_json::from_str::<Value>(e).ok())
                .is_some_and(|event| event == request["webhook_event"])
    });
    Json(json!({"verification_status": if genuine { "SUCCESS" } else { "FAILURE" }}))
        .into_response()
}

#[derive(serde::Deserialize)]
struct TokenQuery {
    #[serde(default)]
    token: String,
}

fn shown_amount(amount: &Value) -> String {
    let currency = amount["currency_code"].as_str().unwrap_or("");
    let value = amount["value"].as_str().unwrap_or("");
    match (
        currency.parse::<app::model::Currency>(),
        minor_units(value, currency),
    ) {
        (Ok(c), Ok(minor)) => app::model::Money::new(minor, c).to_string(),
        _ => format!("{} {}", escape(value), escape(currency)),
    }
}

/// The approval page: what the buyer approves, and **Pay**, **Decline** and **Cancel**.
async fn approval_page(State(state): State<Sandbox>, Query(query): Query<TokenQuery>) -> Response {
    render_approval(&state, &query.token).await
}

async fn render_approval(state: &Sandbox, id: &str) -> Response {
    let order = match load_order(state, id).await {
        Ok(Some(o)) => o,
        Ok(None) => {
            return (
                StatusCode::NOT_FOUND,
                page(
                    "PayPal checkout not found",
                    "<main class=\"card\"><h1>This PayPal order does not exist.</h1></main>",
                ),
            )
                .into_response()
        }
        Err(r) => return r,
    };
    let status = order["status"].as_str().unwrap_or("");
    if !matches!(status, "CREATED" | "PAYER_ACTION_REQUIRED") {
        let body = format!(
            "<main class=\"card\"><h1>This PayPal order is {}.</h1><p>Return to the shop to start again.</p></main>",
            escape(&status.to_lowercase())
        );
        return (StatusCode::GONE, page("PayPal checkout closed", &body)).into_response();
    }
    let unit = &order["purchase_units"][0];
    let lines: String = unit["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|i| {
                    format!(
                        "<tr><td>{} × {}</td><td>{}</td></tr>",
                        escape(i["quantity"].as_str().unwrap_or("")),
                        escape(i["name"].as_str().unwrap_or("")),
                        shown_amount(&i["unit_amount"])
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let table = if lines.is_empty() {
        String::new()
    } else {
        format!("<table><caption>Items</caption>{lines}</table>")
    };
    let body = format!(
        r#"<main class="card"><h1>PayPal sandbox checkout</h1>
<p>Pay <strong data-testid="sandbox-amount">{total}</strong> to storefront</p>
<p>Merchant reference (<code>invoice_id</code>): <code data-testid="sandbox-reference">{reference}</code></p>
{table}
<form method="post" action="/sandbox/paypal/checkoutnow?token={id}">
<input type="hidden" name="token" value="{id}">
<p>The sandbox buyer account is assumed. <strong>Pay</strong> approves the order (the shop then captures it);
<strong>Decline</strong> approves it with a funding source whose capture is declined (<code>INSTRUMENT_DECLINED</code>);
<strong>Cancel</strong> goes back to the shop.</p>
<button class="pay" name="action" value="pay">Pay</button>
<button name="action" value="decline">Decline</button>
<button name="action" value="cancel">Cancel</button>
{controls}
{refund_controls}
</form></main>"#,
        total = shown_amount(&unit["amount"]),
        reference = escape(unit["invoice_id"].as_str().unwrap_or("")),
        id = escape(id),
        controls = delivery_controls(),
        refund_controls = refund_controls(),
    );
    page("PayPal sandbox checkout", &body).into_response()
}

/// Append query parameters to a shop URL.
fn with_query(url: &str, params: &[(&str, &str)]) -> String {
    let query = serde_urlencoded::to_string(params).unwrap_or_default();
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}{query}")
}

async fn approval_action(
    State(state): State<Sandbox>,
    Query(query): Query<TokenQuery>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let id = form.get("token").cloned().unwrap_or(query.token);
    let order = match load_order(&state, &id).await {
        Ok(Some(o)) => o,
        Ok(None) => return render_approval(&state, &id).await,
        Err(r) => return r,
    };
    let action = form.get("action").map(String::as_str).unwrap_or("");
    let done_page = |text: &str| {
        page("PayPal sandbox checkout", &format!("<main class=\"card\"><h1>{}</h1><p>No return address was given; close this page.</p></main>", escape(text))).into_response()
    };
    if action == "cancel" {
        return match order[CANCEL_KEY].as_str() {
            Some(url) => Redirect::to(&with_query(url, &[("token", &id)])).into_response(),
            None => done_page("You cancelled this PayPal payment."),
        };
    }
    let open = matches!(
        order["status"].as_str(),
        Some("CREATED" | "PAYER_ACTION_REQUIRED")
    );
    if !open || !matches!(action, "pay" | "decline") {
        return render_approval(&state, &id).await;
    }
    let plan = form.get("webhook").map(String::as_str).unwrap_or("normal");
    let payer_id = new_id()[..13].to_string();
    let mut approved = order.clone();
    approved["status"] = json!("APPROVED");
    approved["update_time"] = json!(now_text());
    approved["payer"] = json!({
        "name": {"given_name": "Sandbox", "surname": "Buyer"},
        "email_address": "buyer@storefront.example",
        "payer_id": payer_id,
    });
    approved["payment_source"] = json!({"paypal": {
        "email_address": "buyer@storefront.example",
        "account_id": payer_id,
        "account_status": "VERIFIED",
        "name": {"given_name": "Sandbox", "surname": "Buyer"},
    }});
    if let Some(links) = approved["links"].as_array_mut() {
        links.retain(|l| l["rel"] != "approve" && l["rel"] != "payer-action");
    }
    approved[DECLINE_KEY] = json!(action == "decline");
    approved[PLAN_KEY] = json!(plan);
    approved[REFUND_PLAN_KEY] =
        json!(RefundPlan::parse(form.get("refunds").map(String::as_str)).as_str());
    match save_order(&state, &order, &approved).await {
        Ok(true) => {}
        Ok(false) => return render_approval(&state, &id).await,
        Err(r) => return r,
    }
    send_events(
        &state,
        &[(
            "CHECKOUT.ORDER.APPROVED",
            "checkout-order",
            approved.clone(),
        )],
        DeliveryPlan::parse(Some(plan)),
    )
    .await;
    tracing::info!(order = %id, action, "paypal sandbox: buyer approved");
    match approved[RETURN_KEY].as_str() {
        Some(url) => Redirect::to(&with_query(url, &[("token", &id), ("PayerID", &payer_id)]))
            .into_response(),
        None => done_page("You approved this PayPal payment."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_follow_each_currencys_decimals() {
        assert_eq!(minor_units("10.00", "USD"), Ok(1000));
        assert_eq!(minor_units("10.5", "EUR"), Ok(1050));
        assert_eq!(minor_units("1000", "JPY"), Ok(1000));
        assert_eq!(minor_units("10.00", "JPY"), Err("DECIMAL_PRECISION"));
        assert_eq!(minor_units("1.234", "USD"), Err("DECIMAL_PRECISION"));
        assert_eq!(minor_units("-1", "USD"), Err("INVALID_PARAMETER_SYNTAX"));
        assert_eq!(minor_units("1.", "USD"), Err("INVALID_PARAMETER_SYNTAX"));
        assert_eq!(amount_value(1000, "USD"), "10.00");
        assert_eq!(amount_value(5, "EUR"), "0.05");
        assert_eq!(amount_value(1000, "JPY"), "1000");
    }

    #[test]
    fn return_urls_keep_their_query() {
        assert_eq!(
            with_query("http://s/r/ORD-1", &[("token", "A"), ("PayerID", "B")]),
            "http://s/r/ORD-1?token=A&PayerID=B"
        );
        assert_eq!(
            with_query("http://s/r?x=1", &[("token", "A")]),
            "http://s/r?x=1&token=A"
        );
    }
}
