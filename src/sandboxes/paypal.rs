//! The PayPal sandbox, mounted at `/sandbox/paypal` (docs/sandboxes.md#paypal-sandboxpaypal): `POST /v1/oauth2/token`
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
use super::dialect::{Dialect, Refusal, Reply};
use super::idempotency::{self, Keyed, Repeat};
use super::objects::{shown, Kind, Loaded, TRIES};
use super::page::{
    card, delivery_controls, escape, is_shop_url, line_row, line_rows, page, refund_controls,
    RefundPlan, PAY_DECLINE_CANCEL,
};
use super::refunds::{self, Balance, Desk, PLAN_KEY as REFUND_PLAN_KEY, REFUNDED_KEY};
use super::{clock, store, wire, Sandbox};
use app::server::config::payments::sandbox_keys;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use base64::Engine as _;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use sqlx::AnyConnection;
use std::collections::HashMap;

const PROVIDER: &str = "paypal";
const ORDERS: Kind = Kind::new(PROVIDER, "pp-order:");
const REFUNDS: Kind = Kind::new(PROVIDER, "pp-refund:");
/// One row per refund `invoice_id` used (PayPal allows each once).
const REFUND_INVOICE: &str = "pp-refund-invoice:";
const TOKENS: Kind = Kind::new(PROVIDER, "pp-token:");
const TRANSMISSIONS: Kind = Kind::new(PROVIDER, "pp-tx:");
/// One row per capture call received (tests count them).
pub const CAPTURE_CALL: &str = "pp-capture-call:";
const CAPTURE_CALLS: Kind = Kind::new(PROVIDER, CAPTURE_CALL);

/// Kept inside the stored order, never shown.
const RETURN_KEY: &str = "_sandbox_return_url";
const CANCEL_KEY: &str = "_sandbox_cancel_url";
const DECLINE_KEY: &str = "_sandbox_decline";
const PLAN_KEY: &str = "_sandbox_webhooks";

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

/// PayPal's way of refusing: `name`, `message`, `debug_id` and `details[].issue`.
pub struct Paypal;

type Error = Refusal<Paypal>;

impl Dialect for Paypal {
    const NAME: &'static str = "paypal";
    type Body = Json<Value>;

    fn internal() -> Error {
        Error::paypal(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL_SERVER_ERROR",
            "An internal server error has occurred.",
            None,
        )
    }
}

impl Error {
    fn paypal(status: StatusCode, name: &str, message: &str, issue: Option<(&str, &str)>) -> Error {
        let mut body = json!({
            "name": name,
            "message": message,
            "debug_id": wire::random_hex(17),
        });
        if let Some((issue, description)) = issue {
            body["details"] = json!([{"issue": issue, "description": description}]);
            body["links"] = json!([{
                "href": format!("https://developer.paypal.com/api/rest/reference/orders/v2/errors/#{issue}"),
                "rel": "information_link",
                "method": "GET",
            }]);
        }
        Refusal::new(status, Json(body))
    }

    fn unprocessable(issue: &str, description: &str) -> Error {
        Error::paypal(
            StatusCode::UNPROCESSABLE_ENTITY,
            "UNPROCESSABLE_ENTITY",
            "The requested action could not be performed, semantically incorrect, or failed business validation.",
            Some((issue, description)),
        )
    }

    fn invalid(issue: &str, description: &str) -> Error {
        Error::paypal(
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            "Request is not well-formed, syntactically incorrect, or violates schema.",
            Some((issue, description)),
        )
    }

    fn malformed() -> Error {
        Error::invalid(
            "MALFORMED_REQUEST_JSON",
            "The request JSON is not well formed.",
        )
    }

    fn conflict(message: &str) -> Error {
        Error::paypal(StatusCode::CONFLICT, "RESOURCE_CONFLICT", message, None)
    }

    fn missing(description: &str) -> Error {
        Error::paypal(
            StatusCode::BAD_REQUEST,
            "VALIDATION_ERROR",
            "Invalid request - see details",
            Some(("MISSING_REQUIRED_PARAMETER", description)),
        )
    }

    fn not_found(id: &str) -> Error {
        Error::paypal(
            StatusCode::NOT_FOUND,
            "RESOURCE_NOT_FOUND",
            "The specified resource does not exist.",
            Some((
                "INVALID_RESOURCE_ID",
                &format!("Specified resource ID {id} does not exist."),
            )),
        )
    }

    /// The OAuth endpoints' own error shape.
    fn oauth(status: StatusCode, error: &str, description: &str) -> Error {
        Refusal::new(
            status,
            Json(json!({"error": error, "error_description": description})),
        )
    }
}

/// Like PayPal: a Bearer token this sandbox issued, else 401 `invalid_token`.
async fn authenticated(state: &Sandbox, headers: &HeaderMap) -> Result<(), Error> {
    let issued = match wire::bearer(headers) {
        Some(token) => TOKENS.load::<Value>(&state.db, token).await?.is_some(),
        None => false,
    };
    if !issued {
        return Err(Error::oauth(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "Token signature verification failed",
        ));
    }
    Ok(())
}

/// `POST /v1/oauth2/token`: client credentials as HTTP Basic (any id and secret), the form
/// `grant_type=client_credentials`.
async fn token(
    State(state): State<Sandbox>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Reply<Paypal> {
    let Some((client_id, _)) =
        wire::basic(&headers).filter(|(id, secret)| !id.is_empty() && !secret.is_empty())
    else {
        return Err(Error::oauth(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Client Authentication failed",
        ));
    };
    let form: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    if !form
        .iter()
        .any(|(k, v)| k == "grant_type" && v == "client_credentials")
    {
        return Err(Error::oauth(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "Grant Type is NULL",
        ));
    }
    let access_token = format!("A21AA{}", wire::random_hex(32));
    let record = json!({"client_id": client_id});
    TOKENS.insert(&state.db, &access_token, &record).await?;
    Ok(Json(json!({
        "scope": "https://uri.paypal.com/services/payments/payment https://uri.paypal.com/services/payments/refund",
        "access_token": access_token,
        "token_type": "Bearer",
        "app_id": "APP-80W284485P519543T",
        "expires_in": 32400,
        "nonce": format!("{}{}", clock::rfc3339_now(), wire::random_upper(17)),
    }))
    .into_response())
}

/// Every POST is idempotent on `PayPal-Request-Id`, scoped to what it acts on.
fn request_key(headers: &HeaderMap, scope: &str) -> Option<String> {
    let request_id = headers.get("paypal-request-id")?.to_str().ok()?;
    (!request_id.is_empty()).then(|| format!("{scope}|{request_id}"))
}

/// PayPal's answers to a repeated `PayPal-Request-Id`: the stored reply, whatever the new body
/// (a refusal too; a server error is not kept, so the next try acts again), or 409 while the
/// first is in progress.
impl Keyed for Paypal {
    const RULES: &'static idempotency::Rules = &idempotency::PAYPAL;

    fn repeat(repeat: Repeat) -> Response {
        match repeat {
            Repeat::InProgress | Repeat::OtherRequest => Error::paypal(
                StatusCode::CONFLICT,
                "RESOURCE_CONFLICT",
                "The server has detected a conflict while processing this request.",
                Some((
                    "PREVIOUS_REQUEST_IN_PROGRESS",
                    "A previous request with this PayPal-Request-Id is still in progress.",
                )),
            )
            .into_response(),
            Repeat::Replay { status, body } => (status, Json(body)).into_response(),
        }
    }
}

/// Decimal places PayPal allows in a currency: JPY none (docs/payments.md#paypal).
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
fn read_amount(amount: &Value, field: &str) -> Result<(String, i64), Error> {
    let currency = amount["currency_code"].as_str().unwrap_or("");
    if currency.len() != 3 || !currency.chars().all(|c| c.is_ascii_uppercase()) {
        return Err(Error::invalid(
            "INVALID_PARAMETER_VALUE",
            &format!("{field}/currency_code must be a three-letter ISO 4217 code."),
        ));
    }
    if !CURRENCIES.contains(&currency) {
        return Err(Error::unprocessable(
            "CURRENCY_NOT_SUPPORTED",
            &format!("Currency code {currency} is not currently supported."),
        ));
    }
    let value = amount["value"].as_str().unwrap_or("");
    match minor_units(value, currency) {
        Ok(minor) => Ok((currency.to_string(), minor)),
        Err("DECIMAL_PRECISION") => Err(Error::unprocessable(
            "DECIMAL_PRECISION",
            &format!("If the currency supports decimals, only two decimal place precision is supported; {currency} has {}.", decimals(currency)),
        )),
        Err(issue) => Err(Error::invalid(issue, &format!("{field}/value must be a decimal string."))),
    }
}

fn order_link(state: &Sandbox, id: &str) -> String {
    format!("{}/sandbox/paypal/v2/checkout/orders/{id}", state.site_url)
}

fn approval_url(state: &Sandbox, id: &str) -> String {
    format!("{}/sandbox/paypal/checkoutnow?token={id}", state.site_url)
}

/// Parse and check a create-order body into the stored order.
fn build_order(state: &Sandbox, body: &Value) -> Result<Value, Error> {
    if !body.is_object() {
        return Err(Error::malformed());
    }
    match body["intent"].as_str() {
        Some("CAPTURE") => {}
        Some("AUTHORIZE") => {
            return Err(Error::unprocessable(
                "UNSUPPORTED_INTENT",
                "This sandbox supports intent CAPTURE only.",
            ))
        }
        _ => {
            return Err(Error::invalid(
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
        return Err(Error::invalid(
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
        return Err(Error::unprocessable(
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
                    Error::invalid(
                        "INVALID_PARAMETER_VALUE",
                        "items/quantity must be a whole number as a string.",
                    )
                })?;
            if c != currency {
                return Err(Error::unprocessable(
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
            return Err(Error::unprocessable(
                "ITEM_TOTAL_REQUIRED",
                "If item details are specified, amount.breakdown.item_total is required.",
            ));
        }
        let (_, declared) = read_amount(item_total, "amount/breakdown/item_total")?;
        if declared != sum {
            return Err(Error::unprocessable(
                "ITEM_TOTAL_MISMATCH",
                "Should equal sum of (unit_amount * quantity) across all items.",
            ));
        }
        if declared != total {
            return Err(Error::unprocessable("AMOUNT_MISMATCH", "Should equal item_total + tax_total + shipping + handling + insurance - shipping_discount - discount."));
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
                return Err(Error::unprocessable(
                    "INVALID_PARAMETER_VALUE",
                    &format!(
                        "The sandbox only sends buyers back to the shop's own origin ({}): {key}.",
                        state.shop_url
                    ),
                ));
            }
        }
    }
    let id = wire::random_upper(17);
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
        "create_time": clock::rfc3339_now(),
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

async fn create_order(
    State(state): State<Sandbox>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Reply<Paypal> {
    authenticated(&state, &headers).await?;
    let parsed: Value = serde_json::from_slice(&body).map_err(|_| Error::malformed())?;
    let key = request_key(&headers, "orders");
    idempotency::once(&state.db, None, key.as_deref(), &body, async |_| {
        let order = build_order(&state, &parsed)?;
        let id = order["id"].as_str().unwrap_or_default();
        ORDERS.insert(&state.db, id, &order).await?;
        Ok((StatusCode::CREATED, shown(&order)))
    })
    .await
}

async fn get_order(
    State(state): State<Sandbox>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Reply<Paypal> {
    authenticated(&state, &headers).await?;
    match ORDERS.load::<Value>(&state.db, &id).await? {
        Some(order) => Ok(Json(shown(&order)).into_response()),
        None => Err(Error::not_found(&id)),
    }
}

/// `POST /v2/checkout/orders/{id}/capture`: an APPROVED order becomes COMPLETED with one capture
/// (or 422 `INSTRUMENT_DECLINED` for a declined buyer); idempotent on `PayPal-Request-Id`.
async fn capture_order(
    State(state): State<Sandbox>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Reply<Paypal> {
    authenticated(&state, &headers).await?;
    let call = json!({"order_id": id});
    CAPTURE_CALLS
        .insert(&state.db, &wire::random_hex(32), &call)
        .await?;
    let mock_decline = headers
        .get("paypal-mock-response")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("INSTRUMENT_DECLINED"));
    let key = request_key(&headers, &format!("capture:{id}"));
    idempotency::once(&state.db, None, key.as_deref(), &body, async |_| {
        Ok((
            StatusCode::CREATED,
            capture(&state, &id, mock_decline).await?,
        ))
    })
    .await
}

async fn capture(state: &Sandbox, id: &str, mock_decline: bool) -> Result<Value, Error> {
    for _ in 0..TRIES {
        let Some(order) = ORDERS.load::<Value>(&state.db, id).await? else {
            return Err(Error::not_found(id));
        };
        match order["status"].as_str() {
            Some("APPROVED") => {}
            Some("COMPLETED") => {
                return Err(Error::unprocessable("ORDER_ALREADY_CAPTURED", "Order already captured. If 'intent=CAPTURE' only one capture per order is allowed."))
            }
            _ => {
                return Err(Error::unprocessable("ORDER_NOT_APPROVED", "Payer has not yet approved the Order for payment."))
            }
        }
        if mock_decline || order[DECLINE_KEY] == true {
            return Err(Error::unprocessable(
                "INSTRUMENT_DECLINED",
                "The instrument presented was either declined by the processor or bank, or it can't be used for this payment.",
            ));
        }
        let unit = &order["purchase_units"][0];
        let capture_id = wire::random_upper(17);
        let currency = unit["amount"]["currency_code"].as_str().unwrap_or("");
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
                "paypal_fee": amount_json(0, currency),
                "net_amount": {"currency_code": currency, "value": unit["amount"]["value"].clone()},
            },
            "create_time": clock::rfc3339_now(),
            "update_time": clock::rfc3339_now(),
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
        let mut after = order.value.clone();
        after["status"] = json!("COMPLETED");
        after["update_time"] = json!(clock::rfc3339_now());
        after["purchase_units"][0]["payments"] = json!({"captures": [capture.clone()]});
        if !order.save(&state.db, &after).await? {
            continue;
        }
        let mut event_resource = capture;
        event_resource["supplementary_data"] = json!({"related_ids": {"order_id": id}});
        let plan = DeliveryPlan::parse(order[PLAN_KEY].as_str());
        send_events(
            state,
            &[("PAYMENT.CAPTURE.COMPLETED", "capture", event_resource)],
            plan,
        )
        .await;
        return Ok(shown(&after));
    }
    Err(Error::conflict("The order changed meanwhile; retry."))
}

/// The order holding a capture, and that capture.
async fn order_of_capture(
    state: &Sandbox,
    capture_id: &str,
) -> Result<Option<(Loaded<Value>, Value)>, sqlx::Error> {
    let orders = ORDERS.search::<Value>(&state.db, capture_id).await?;
    Ok(orders.into_iter().find_map(|order| {
        let capture = order["purchase_units"][0]["payments"]["captures"]
            .as_array()?
            .iter()
            .find(|c| c["id"] == capture_id)?
            .clone();
        Some((order, capture))
    }))
}

async fn get_capture(
    State(state): State<Sandbox>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Reply<Paypal> {
    authenticated(&state, &headers).await?;
    let Some((order, mut capture)) = order_of_capture(&state, &id).await? else {
        return Err(Error::not_found(&id));
    };
    capture["supplementary_data"] = json!({"related_ids": {"order_id": order["id"]}});
    Ok(Json(capture).into_response())
}

/// `POST /v2/payments/captures/{id}/refund`: all that is left (no body) or `amount`, idempotent on
/// `PayPal-Request-Id`; what it does follows the payment's refund test control.
async fn refund_capture(
    State(state): State<Sandbox>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Reply<Paypal> {
    authenticated(&state, &headers).await?;
    let request: Value = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        serde_json::from_slice(&body).map_err(|_| Error::malformed())?
    };
    let key = request_key(&headers, "refunds");
    idempotency::once(&state.db, None, key.as_deref(), &body, async |_| {
        Ok((
            StatusCode::CREATED,
            make_refund(&state, &id, &request).await?,
        ))
    })
    .await
}

/// PayPal's refunds: of an order's capture, kept as `pp-refund:{id}`; the capture's status shows
/// what they took.
impl Desk for Paypal {
    const PAYMENTS: Kind = ORDERS;
    const REFUNDS: Kind = REFUNDS;

    fn total(order: &Value) -> i64 {
        let amount = &order["purchase_units"][0]["amount"];
        let currency = amount["currency_code"].as_str().unwrap_or("");
        minor_units(amount["value"].as_str().unwrap_or(""), currency).unwrap_or(0)
    }

    fn show_refunded(order: &mut Value, refunded: i64) {
        let status = if refunded == 0 {
            "COMPLETED"
        } else if refunded == Paypal::total(order) {
            "REFUNDED"
        } else {
            "PARTIALLY_REFUNDED"
        };
        order["purchase_units"][0]["payments"]["captures"][0]["status"] = json!(status);
    }

    fn failed(refund: &Value) -> Value {
        let mut failed = refund.clone();
        failed["status"] = json!("FAILED");
        failed["status_details"] = json!({"reason": "ECHECK"});
        failed["update_time"] = json!(clock::rfc3339_now());
        failed
    }

    async fn send_failed(state: &Sandbox, failed: Value) {
        let event = ("PAYMENT.REFUND.FAILED", "refund", failed);
        send_events(state, &[event], DeliveryPlan::Normal).await;
    }
}

async fn make_refund(state: &Sandbox, capture_id: &str, request: &Value) -> Result<Value, Error> {
    for _ in 0..TRIES {
        let Some((order, capture)) = order_of_capture(state, capture_id).await? else {
            return Err(Error::not_found(capture_id));
        };
        let balance = Balance::of::<Paypal>(&order);
        if balance.plan == RefundPlan::Refuse {
            return Err(Error::unprocessable(
                "REFUND_NOT_PERMITTED_DUE_TO_CHARGEBACK",
                "Refunds not allowed on this capture due to a chargeback on the card or bank. Please contact the payee to resolve the chargeback.",
            ));
        }
        let currency = capture["amount"]["currency_code"].as_str().unwrap_or("");
        let left = balance.left();
        if left <= 0 {
            return Err(Error::unprocessable(
                "CAPTURE_FULLY_REFUNDED",
                "The capture has already been fully refunded.",
            ));
        }
        let amount = if request["amount"].is_null() {
            left
        } else {
            let (c, a) = read_amount(&request["amount"], "/amount")?;
            if c != currency {
                return Err(Error::unprocessable(
                    "REFUND_CURRENCY_MISMATCH",
                    "Refund must be in the same currency as the capture.",
                ));
            }
            if a <= 0 {
                return Err(Error::unprocessable(
                    "CANNOT_BE_ZERO_OR_NEGATIVE",
                    "The refund amount must be greater than zero.",
                ));
            }
            a
        };
        if amount > left {
            return Err(Error::unprocessable(
                "REFUND_AMOUNT_EXCEEDED",
                "The refund amount must be less than or equal to the capture amount that has not yet been refunded.",
            ));
        }
        for field in ["invoice_id", "custom_id"] {
            if request[field]
                .as_str()
                .is_some_and(|v| v.is_empty() || v.chars().count() > 127)
            {
                return Err(Error::invalid(
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
                let claim = async |conn: &mut AnyConnection| {
                    store::insert(conn, PROVIDER, &id, None, "", 200, invoice).await
                };
                if !state.db.committed(claim).await? {
                    return Err(Error::unprocessable(
                        "DUPLICATE_INVOICE_ID",
                        "Invoice ID was previously used to refund a capture.",
                    ));
                }
                Some(id)
            }
            None => None,
        };
        let refund = refund_object(state, capture_id, request, (amount, currency), balance);
        if !refunds::take::<Paypal>(state, &order, amount, &refund).await? {
            if let Some(id) = &invoice_claim {
                let release = async |conn: &mut AnyConnection| store::delete(conn, id).await;
                state.db.committed(release).await?;
            }
            continue;
        }
        let event = match balance.plan {
            RefundPlan::Fail => "PAYMENT.REFUND.PENDING",
            _ => "PAYMENT.CAPTURE.REFUNDED",
        };
        let events = [(event, "refund", refund.clone())];
        send_events(state, &events, DeliveryPlan::Normal).await;
        return Ok(refund);
    }
    Err(Error::conflict("The capture changed meanwhile; retry."))
}

/// A refund of `amount` from a capture, pending when the payment's refunds fail.
fn refund_object(
    state: &Sandbox,
    capture_id: &str,
    request: &Value,
    (amount, currency): (i64, &str),
    balance: Balance,
) -> Value {
    let id = wire::random_upper(17);
    let public = &state.site_url;
    let fails = balance.plan == RefundPlan::Fail;
    let mut refund = json!({
        "id": id,
        "status": if fails { "PENDING" } else { "COMPLETED" },
        "amount": amount_json(amount, currency),
        "seller_payable_breakdown": {
            "gross_amount": amount_json(amount, currency),
            "paypal_fee": amount_json(0, currency),
            "net_amount": amount_json(amount, currency),
            "total_refunded_amount": amount_json(balance.refunded + amount, currency),
        },
        "create_time": clock::rfc3339_now(),
        "update_time": clock::rfc3339_now(),
        "links": [
            {"href": format!("{public}/sandbox/paypal/v2/payments/refunds/{id}"), "rel": "self", "method": "GET"},
            {"href": format!("{public}/sandbox/paypal/v2/payments/captures/{capture_id}"), "rel": "up", "method": "GET"},
        ],
    });
    if fails {
        refund["status_details"] = json!({"reason": "ECHECK"});
    }
    for field in ["invoice_id", "custom_id", "note_to_payer"] {
        if let Some(v) = request[field].as_str() {
            refund[field] = json!(v);
        }
    }
    refund
}

async fn get_refund(
    State(state): State<Sandbox>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Reply<Paypal> {
    authenticated(&state, &headers).await?;
    match REFUNDS.load::<Value>(&state.db, &id).await? {
        Some(refund) => Ok(Json(refund.value).into_response()),
        None => Err(Error::not_found(&id)),
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
    let time = clock::rfc3339_now();
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
    TRANSMISSIONS
        .insert(&state.db, &transmission.id, &record)
        .await?;
    Ok(transmission)
}

/// Build, record and deliver events to the shop's PayPal webhook endpoint.
async fn send_events(state: &Sandbox, events: &[(&str, &str, Value)], plan: DeliveryPlan) {
    let mut messages = Vec::new();
    for (event_type, resource_type, resource) in events {
        let event_id = format!("WH-{}-{}", wire::random_upper(17), wire::random_upper(17));
        let event = json!({
            "id": event_id,
            "event_version": "1.0",
            "create_time": clock::rfc3339_now(),
            "resource_type": resource_type,
            "resource_version": "2.0",
            "event_type": event_type,
            "summary": summary(event_type),
            "resource": shown(resource),
            "links": [{
                "href": format!("{}/sandbox/paypal/v1/notifications/webhooks-events/{event_id}", state.site_url),
                "rel": "self",
                "method": "GET",
            }],
        });
        let body = event.to_string().into_bytes();
        match transmit(state, &body).await {
            Ok(transmission) => messages.push(Message {
                headers: transmission.headers(),
                ..Message::new(state.webhook_url(PROVIDER), "application/json", body)
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
) -> Reply<Paypal> {
    authenticated(&state, &headers).await?;
    let request: Value = serde_json::from_slice(&body).map_err(|_| Error::malformed())?;
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
            return Err(Error::missing(&format!("{field} is required")));
        }
    }
    if !request["webhook_event"].is_object() {
        return Err(Error::missing("webhook_event is required"));
    }
    let id = request["transmission_id"].as_str().unwrap_or_default();
    let stored = TRANSMISSIONS.load::<Value>(&state.db, id).await?;
    let genuine = stored.is_some_and(|sent| {
        FIELDS.iter().all(|f| sent[*f] == request[*f])
            && sent["event"]
                .as_str()
                .and_then(|e| serde_json::from_str::<Value>(e).ok())
                .is_some_and(|event| event == request["webhook_event"])
    });
    let status = if genuine { "SUCCESS" } else { "FAILURE" };
    Ok(Json(json!({ "verification_status": status })).into_response())
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
async fn approval_page(
    State(state): State<Sandbox>,
    Query(query): Query<TokenQuery>,
) -> Reply<Paypal> {
    render_approval(&state, &query.token).await
}

fn is_open(order: &Value) -> bool {
    matches!(
        order["status"].as_str(),
        Some("CREATED" | "PAYER_ACTION_REQUIRED")
    )
}

async fn render_approval(state: &Sandbox, id: &str) -> Reply<Paypal> {
    let Some(order) = ORDERS.load::<Value>(&state.db, id).await? else {
        return Ok(card(
            StatusCode::NOT_FOUND,
            "PayPal checkout not found",
            "This PayPal order does not exist.",
            None,
        ));
    };
    if !is_open(&order) {
        let status = order["status"].as_str().unwrap_or("").to_lowercase();
        return Ok(card(
            StatusCode::GONE,
            "PayPal checkout closed",
            &format!("This PayPal order is {}.", escape(&status)),
            Some("Return to the shop to start again."),
        ));
    }
    let unit = &order["purchase_units"][0];
    let lines = line_rows(&unit["items"], |i| {
        line_row(
            &escape(i["quantity"].as_str().unwrap_or("")),
            &escape(i["name"].as_str().unwrap_or("")),
            &shown_amount(&i["unit_amount"]),
        )
    });
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
{PAY_DECLINE_CANCEL}
{controls}
{refund_controls}
</form></main>"#,
        total = shown_amount(&unit["amount"]),
        reference = escape(unit["invoice_id"].as_str().unwrap_or("")),
        id = escape(id),
        controls = delivery_controls(),
        refund_controls = refund_controls(),
    );
    Ok(page("PayPal sandbox checkout", &body))
}

async fn approval_action(
    State(state): State<Sandbox>,
    Query(query): Query<TokenQuery>,
    Form(form): Form<HashMap<String, String>>,
) -> Reply<Paypal> {
    let id = form.get("token").cloned().unwrap_or(query.token);
    let Some(order) = ORDERS.load::<Value>(&state.db, &id).await? else {
        return render_approval(&state, &id).await;
    };
    let action = wire::field(&form, "action");
    let done_page = |text: &str| {
        page("PayPal sandbox checkout", &format!("<main class=\"card\"><h1>{}</h1><p>No return address was given; close this page.</p></main>", escape(text)))
    };
    if action == "cancel" {
        return Ok(match order[CANCEL_KEY].as_str() {
            Some(url) => Redirect::to(&wire::with_query(url, [("token", &id)])).into_response(),
            None => done_page("You cancelled this PayPal payment."),
        });
    }
    if !is_open(&order) || !matches!(action, "pay" | "decline") {
        return render_approval(&state, &id).await;
    }
    let plan = form.get("webhook").map(String::as_str).unwrap_or("normal");
    let payer_id = wire::random_upper(13);
    let mut approved = order.value.clone();
    approved["status"] = json!("APPROVED");
    approved["update_time"] = json!(clock::rfc3339_now());
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
    approved[REFUND_PLAN_KEY] = json!(RefundPlan::chosen(&form).as_str());
    if !order.save(&state.db, &approved).await? {
        return render_approval(&state, &id).await;
    }
    let event = (
        "CHECKOUT.ORDER.APPROVED",
        "checkout-order",
        approved.clone(),
    );
    send_events(&state, &[event], DeliveryPlan::parse(Some(plan))).await;
    tracing::info!(order = %id, action, "paypal sandbox: buyer approved");
    let back = [("token", id.as_str()), ("PayerID", &payer_id)];
    Ok(match approved[RETURN_KEY].as_str() {
        Some(url) => Redirect::to(&wire::with_query(url, back)).into_response(),
        None => done_page("You approved this PayPal payment."),
    })
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
}
