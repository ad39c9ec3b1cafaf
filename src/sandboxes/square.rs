//! The Square sandbox, mounted at `/sandbox/square` (providers.md §6, §10): Bearer auth (any
//! token), snake_case JSON, integer money `{amount, currency}`, errors in Square's shape
//! (`{"errors":[{"category","code","detail","field"}]}`), and every create idempotent on the body's
//! `idempotency_key` (the same key with another body is `IDEMPOTENCY_KEY_REUSED`).
//!
//! - `POST/GET/DELETE /v2/online-checkout/payment-links[/{id}]` (create makes a DRAFT order)
//! - `GET /v2/orders/{id}`, `POST /v2/orders/search`
//! - `GET /v2/payments/{id}`, `GET /v2/payments`
//! - `POST /v2/refunds`, `GET /v2/refunds/{id}`
//! - `GET /v2/locations` (one location, [`sandbox_keys::SQUARE_LOCATION_ID`]; it takes USD, EUR and
//!   JPY so a shop configured with any `SQUARE_CURRENCY` can be tried)
//! - the checkout page `/checkout/{link id}` with **Pay**, **Decline** and **Cancel**:
//!   - **Pay**: a COMPLETED payment on the order (which becomes OPEN with the payment as its
//!     tender); `payment.created` (APPROVED) and `payment.updated` (COMPLETED) are sent; the
//!     browser goes to `redirect_url`.
//!   - **Decline**: a FAILED payment naming the order (no tender; the order stays payable, as at
//!     Square); `payment.created` and `payment.updated` (FAILED) are sent. Square itself keeps a
//!     declined buyer on its page to try another card; the sandbox sends them to `redirect_url`
//!     so the shop can show the failure.
//!   - **Cancel**: Square has no cancel URL; the browser goes to `redirect_url` with nothing paid.
//!
//! Notifications are signed with the sandbox signature key over `{PUBLIC_URL}/webhooks/square`
//! (the subscription's URL), delivered to this instance's `/webhooks/square`, and retried until
//! acknowledged. Refunds send `refund.created` (and `refund.updated` when one fails later).

use super::delivery::{self, DeliveryPlan, Message};
use super::idempotency::{self, Claimed, Repeat};
use super::page::{delivery_controls, escape, is_shop_url, page, refund_controls, RefundPlan};
use super::store;
use super::{clock, Sandbox};
use app::server::config::payments::sandbox_keys;
use app::server::payments::square::signature;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde_json::{json, Value};
use std::collections::HashMap;

const PROVIDER: &str = "square";
const LINK: &str = "sq-link:";
const ORDER: &str = "sq-order:";
const PAYMENT: &str = "sq-payment:";
const REFUND: &str = "sq-refund:";
const MERCHANT: &str = "MLSTOREFRONTSANDBOX";
/// Currencies the sandbox location takes.
const CURRENCIES: &[&str] = &["USD", "EUR", "JPY"];

/// Kept inside the stored payment, never shown: what its refunds do, and what they took.
const REFUND_PLAN_KEY: &str = "_sandbox_refunds";
const REFUNDED_KEY: &str = "_sandbox_refunded";

pub fn routes() -> Router<Sandbox> {
    Router::new()
        .route("/v2/online-checkout/payment-links", post(create_link))
        .route(
            "/v2/online-checkout/payment-links/{id}",
            get(get_link).delete(delete_link),
        )
        .route("/v2/orders/search", post(search_orders))
        .route("/v2/orders/{id}", get(get_order))
        .route("/v2/payments", get(list_payments))
        .route("/v2/payments/{id}", get(get_payment))
        .route("/v2/refunds", post(create_refund))
        .route("/v2/refunds/{id}", get(get_refund))
        .route("/v2/locations", get(locations))
        .route("/checkout/{id}", get(checkout_page).post(checkout_action))
}

fn new_id(len: usize) -> String {
    let mut id = uuid::Uuid::new_v4()
        .simple()
        .to_string()
        .to_ascii_uppercase();
    id.truncate(len);
    id
}

fn now_text() -> String {
    clock::rfc3339_millis_now()
}

/// A refused request: the status and Square's error body.
type Refusal = (StatusCode, Value);

fn refusal(
    status: StatusCode,
    category: &str,
    code: &str,
    detail: &str,
    field: Option<&str>,
) -> Refusal {
    let mut item = json!({"category": category, "code": code, "detail": detail});
    if let Some(f) = field {
        item["field"] = json!(f);
    }
    (status, json!({"errors": [item]}))
}

fn invalid(code: &str, detail: &str, field: Option<&str>) -> Refusal {
    refusal(
        StatusCode::BAD_REQUEST,
        "INVALID_REQUEST_ERROR",
        code,
        detail,
        field,
    )
}

fn respond((status, body): Refusal) -> Response {
    (status, Json(body)).into_response()
}

fn not_found(what: &str, id: &str) -> Response {
    respond(refusal(
        StatusCode::NOT_FOUND,
        "INVALID_REQUEST_ERROR",
        "NOT_FOUND",
        &format!("{what} not found for id {id}"),
        None,
    ))
}

fn internal(e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "square sandbox failed");
    respond(refusal(
        StatusCode::INTERNAL_SERVER_ERROR,
        "API_ERROR",
        "INTERNAL_SERVER_ERROR",
        "sandbox error",
        None,
    ))
}

/// Like Square's sandbox for a test account: any Bearer token.
fn authenticated(headers: &HeaderMap) -> Result<(), Box<Response>> {
    let ok = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|t| !t.trim().is_empty());
    if ok {
        Ok(())
    } else {
        Err(Box::new(respond(refusal(
            StatusCode::UNAUTHORIZED,
            "AUTHENTICATION_ERROR",
            "UNAUTHORIZED",
            "This request could not be authorized.",
            None,
        ))))
    }
}

async fn conn(state: &Sandbox) -> Result<sqlx::pool::PoolConnection<sqlx::Any>, Response> {
    state.db.pool.acquire().await.map_err(internal)
}

async fn load(state: &Sandbox, prefix: &str, id: &str) -> Result<Option<Value>, Response> {
    let mut conn = conn(state).await?;
    let found = store::get(&mut conn, &format!("{prefix}{id}"))
        .await
        .map_err(internal)?;
    Ok(found.and_then(|o| serde_json::from_str(&o.data).ok()))
}

async fn insert(state: &Sandbox, prefix: &str, object: &Value) -> Result<(), Response> {
    let id = format!("{prefix}{}", object["id"].as_str().unwrap_or_default());
    store::insert_committed(&state.db, PROVIDER, &id, None, "", 200, &object.to_string())
        .await
        .map_err(internal)?;
    Ok(())
}

/// Compare-and-set: false if somebody changed the object meanwhile.
async fn save(
    state: &Sandbox,
    prefix: &str,
    before: &Value,
    after: &Value,
) -> Result<bool, Response> {
    let id = format!("{prefix}{}", after["id"].as_str().unwrap_or_default());
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

/// The object as the API shows it: without the sandbox's own `_sandbox…` fields.
fn shown(object: &Value) -> Value {
    let mut object = object.clone();
    if let Some(map) = object.as_object_mut() {
        map.retain(|k, _| !k.starts_with('_'));
    }
    object
}

fn parse_body(headers: &HeaderMap, body: &[u8]) -> Result<Value, Box<Response>> {
    authenticated(headers)?;
    serde_json::from_slice::<Value>(body)
        .ok()
        .filter(Value::is_object)
        .ok_or_else(|| {
            Box::new(respond(invalid(
                "INVALID_CONTENT_TYPE",
                "The request body must be a JSON object.",
                None,
            )))
        })
}

/// Claim the body's `idempotency_key` for `scope` before acting, in a write transaction of its
/// own: `Ok(claim)` to go on (then [`finish`]), or Square's answer to a repeat (the first reply),
/// to the same key with another body (`IDEMPOTENCY_KEY_REUSED`) or to a twin still in progress
/// (409).
async fn begin(state: &Sandbox, scope: &str, body: &Value) -> Result<Option<Claimed>, Response> {
    let Some(key) = body["idempotency_key"].as_str().filter(|k| !k.is_empty()) else {
        return Ok(None);
    };
    if key.len() > 192 {
        return Err(respond(invalid(
            "VALUE_TOO_LONG",
            "idempotency_key is too long.",
            Some("idempotency_key"),
        )));
    }
    let scoped = format!("{scope}|{key}");
    let request = body.to_string();
    match idempotency::claim(
        &state.db,
        None,
        &idempotency::SQUARE,
        &scoped,
        request.as_bytes(),
    )
    .await
    {
        Ok(Ok(claimed)) => Ok(Some(claimed)),
        Ok(Err(Repeat::OtherRequest)) => Err(respond(invalid(
            "IDEMPOTENCY_KEY_REUSED",
            "The idempotency key can only be retried with the same request data.",
            Some("idempotency_key"),
        ))),
        Ok(Err(Repeat::InProgress)) => Err(respond(refusal(
            StatusCode::CONFLICT,
            "INVALID_REQUEST_ERROR",
            "CONFLICT",
            "Another request with this idempotency key is in progress.",
            None,
        ))),
        Ok(Err(Repeat::Replay { status, body })) => Err((status, Json(body)).into_response()),
        Err(e) => Err(internal(e)),
    }
}

/// Store the reply under the claimed key (a server error is not kept) and send it.
async fn finish(state: &Sandbox, claimed: Option<Claimed>, (status, body): Refusal) -> Response {
    if let Some(claimed) = &claimed {
        if let Err(e) = claimed.finish(&state.db, None, status, &body).await {
            return internal(e);
        }
    }
    (status, Json(body)).into_response()
}

/// Integer money in a currency this location takes.
fn read_money(money: &Value, field: &str) -> Result<(i64, String), Refusal> {
    let amount = money["amount"]
        .as_i64()
        .filter(|a| *a >= 0)
        .ok_or_else(|| {
            invalid(
                "INVALID_VALUE",
                "Expected a non-negative integer amount.",
                Some(field),
            )
        })?;
    let currency = money["currency"].as_str().unwrap_or("");
    if !CURRENCIES.contains(&currency) {
        return Err(invalid(
            "UNSUPPORTED_CURRENCY",
            &format!("The location does not take currency {currency:?}."),
            Some(field),
        ));
    }
    Ok((amount, currency.to_string()))
}

fn money(amount: i64, currency: &str) -> Value {
    json!({"amount": amount, "currency": currency})
}

/// The link and its DRAFT order from a create request.
fn build_link(state: &Sandbox, body: &Value) -> Result<(Value, Value), Refusal> {
    let location = sandbox_keys::SQUARE_LOCATION_ID;
    let (line_items, reference_id, order_location) = match (&body["quick_pay"], &body["order"]) {
        (Value::Object(q), Value::Null) => {
            let (amount, currency) = read_money(
                &q.get("price_money").cloned().unwrap_or(Value::Null),
                "quick_pay.price_money",
            )?;
            let name = q.get("name").and_then(Value::as_str).unwrap_or("");
            if name.is_empty() {
                return Err(invalid(
                    "MISSING_REQUIRED_PARAMETER",
                    "quick_pay.name is required.",
                    Some("quick_pay.name"),
                ));
            }
            (
                vec![json!({"uid": new_id(22), "name": name, "quantity": "1",
                    "base_price_money": money(amount, &currency),
                    "total_money": money(amount, &currency)})],
                Value::Null,
                q.get("location_id").cloned().unwrap_or(Value::Null),
            )
        }
        (Value::Null, Value::Object(o)) => {
            let lines = o
                .get("line_items")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            if lines.is_empty() {
                return Err(invalid(
                    "MISSING_REQUIRED_PARAMETER",
                    "order.line_items is required.",
                    Some("order.line_items"),
                ));
            }
            let mut items = Vec::new();
            for (i, line) in lines.iter().enumerate() {
                let field = format!("order.line_items[{i}]");
                let quantity: i64 = line["quantity"]
                    .as_str()
                    .and_then(|q| q.parse().ok())
                    .filter(|q| *q > 0)
                    .ok_or_else(|| {
                        invalid(
                            "INVALID_VALUE",
                            "quantity must be a positive whole number as a string.",
                            Some(&field),
                        )
                    })?;
                let (unit, currency) = read_money(
                    &line["base_price_money"],
                    &format!("{field}.base_price_money"),
                )?;
                let total = unit
                    .checked_mul(quantity)
                    .ok_or_else(|| invalid("INVALID_VALUE", "amount too large", Some(&field)))?;
                items.push(json!({"uid": new_id(22), "name": line["name"], "quantity": quantity.to_string(),
                    "base_price_money": money(unit, &currency), "total_money": money(total, &currency)}));
            }
            (
                items,
                o.get("reference_id").cloned().unwrap_or(Value::Null),
                o.get("location_id").cloned().unwrap_or(Value::Null),
            )
        }
        _ => {
            return Err(invalid(
                "INVALID_REQUEST_ERROR",
                "Exactly one of quick_pay or order is required.",
                None,
            ))
        }
    };
    if order_location.as_str() != Some(location) {
        return Err(refusal(
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST_ERROR",
            "NOT_FOUND",
            &format!("Location {order_location} not found; the sandbox location is {location}."),
            Some("location_id"),
        ));
    }
    let currency = line_items[0]["total_money"]["currency"]
        .as_str()
        .unwrap_or("")
        .to_string();
    if line_items
        .iter()
        .any(|l| l["total_money"]["currency"] != json!(currency))
    {
        return Err(invalid(
            "CURRENCY_MISMATCH",
            "All line items must use one currency.",
            Some("order.line_items"),
        ));
    }
    let total: i64 = line_items
        .iter()
        .map(|l| l["total_money"]["amount"].as_i64().unwrap_or(0))
        .sum();
    if total < 1 {
        return Err(invalid(
            "INVALID_VALUE",
            "The order total must be positive.",
            None,
        ));
    }
    let redirect = body["checkout_options"]["redirect_url"].as_str();
    if redirect.is_some_and(|url| !is_shop_url(url, &state.shop_url)) {
        return Err(invalid(
            "INVALID_VALUE",
            &format!(
                "The sandbox only sends buyers back to the shop's own origin ({}).",
                state.shop_url
            ),
            Some("checkout_options.redirect_url"),
        ));
    }
    let now = now_text();
    let order_id = new_id(24);
    let mut order = json!({
        "id": order_id, "location_id": location, "line_items": line_items, "state": "DRAFT",
        "version": 1, "created_at": now, "updated_at": now,
        "total_money": money(total, &currency), "net_amount_due_money": money(total, &currency),
        "source": {"name": "Sandbox payment link"},
    });
    if !reference_id.is_null() {
        order["reference_id"] = reference_id;
    }
    let link_id = new_id(16);
    let url = format!("{}/sandbox/square/checkout/{link_id}", state.site_url);
    let mut link = json!({
        "id": link_id, "version": 1, "order_id": order_id, "url": url, "long_url": url,
        "created_at": now,
    });
    for field in [
        "description",
        "checkout_options",
        "pre_populated_data",
        "payment_note",
    ] {
        if !body[field].is_null() {
            link[field] = body[field].clone();
        }
    }
    Ok((link, order))
}

async fn create_link(
    State(state): State<Sandbox>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let body = match parse_body(&headers, &body) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    let record = match begin(&state, "payment-link", &body).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    let answer = match build_link(&state, &body) {
        Ok((link, order)) => {
            if let Err(r) = insert(&state, ORDER, &order).await {
                return r;
            }
            if let Err(r) = insert(&state, LINK, &link).await {
                return r;
            }
            (
                StatusCode::OK,
                json!({"payment_link": link, "related_resources": {"orders": [order]}}),
            )
        }
        Err(refused) => refused,
    };
    finish(&state, record, answer).await
}

async fn get_link(
    State(state): State<Sandbox>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Err(r) = authenticated(&headers) {
        return *r;
    }
    match load(&state, LINK, &id).await {
        Ok(Some(link)) if link["_deleted"] != json!(true) => {
            Json(json!({"payment_link": shown(&link)})).into_response()
        }
        Ok(_) => not_found("Payment link", &id),
        Err(r) => r,
    }
}

/// Delete a link: its order is cancelled unless it was paid.
async fn delete_link(
    State(state): State<Sandbox>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Err(r) = authenticated(&headers) {
        return *r;
    }
    let link = match load(&state, LINK, &id).await {
        Ok(Some(link)) if link["_deleted"] != json!(true) => link,
        Ok(_) => return not_found("Payment link", &id),
        Err(r) => return r,
    };
    let order_id = link["order_id"].as_str().unwrap_or_default().to_string();
    let mut deleted = link.clone();
    deleted["_deleted"] = json!(true);
    match save(&state, LINK, &link, &deleted).await {
        Ok(true) => {}
        Ok(false) => return not_found("Payment link", &id),
        Err(r) => return r,
    }
    let mut cancelled = Value::Null;
    if let Ok(Some(order)) = load(&state, ORDER, &order_id).await {
        if order["tenders"].as_array().is_none_or(|t| t.is_empty()) {
            let mut after = order.clone();
            after["state"] = json!("CANCELED");
            after["updated_at"] = json!(now_text());
            after["version"] = json!(order["version"].as_i64().unwrap_or(1) + 1);
            if matches!(save(&state, ORDER, &order, &after).await, Ok(true)) {
                cancelled = json!(order_id);
            }
        }
    }
    let mut answer = json!({"deleted_payment_link_id": id});
    if !cancelled.is_null() {
        answer["cancelled_order_id"] = cancelled;
    }
    Json(answer).into_response()
}

async fn get_order(
    State(state): State<Sandbox>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Err(r) = authenticated(&headers) {
        return *r;
    }
    match load(&state, ORDER, &id).await {
        Ok(Some(order)) => Json(json!({"order": shown(&order)})).into_response(),
        Ok(None) => not_found("Order", &id),
        Err(r) => r,
    }
}

/// `POST /v2/orders/search`: the orders of the given locations, newest last; `query.filter.
/// state_filter.states` narrows them. (`return_entries` and cursors are not modelled.)
async fn search_orders(
    State(state): State<Sandbox>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let body = match parse_body(&headers, &body) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    let locations: Vec<&str> = body["location_ids"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if locations.is_empty() {
        return respond(invalid(
            "MISSING_REQUIRED_PARAMETER",
            "location_ids is required.",
            Some("location_ids"),
        ));
    }
    let states: Vec<&str> = body["query"]["filter"]["state_filter"]["states"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut conn = match conn(&state).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let found = match store::search(&mut conn, PROVIDER, ORDER, "").await {
        Ok(f) => f,
        Err(e) => return internal(e),
    };
    let orders: Vec<Value> = found
        .iter()
        .filter_map(|o| serde_json::from_str::<Value>(&o.data).ok())
        .filter(|o| locations.iter().any(|l| o["location_id"] == json!(l)))
        .filter(|o| states.is_empty() || states.iter().any(|s| o["state"] == json!(s)))
        .map(|o| shown(&o))
        .collect();
    Json(json!({"orders": orders})).into_response()
}

async fn get_payment(
    State(state): State<Sandbox>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Err(r) = authenticated(&headers) {
        return *r;
    }
    match load(&state, PAYMENT, &id).await {
        Ok(Some(payment)) => Json(json!({"payment": shown(&payment)})).into_response(),
        Ok(None) => not_found("Payment", &id),
        Err(r) => r,
    }
}

async fn list_payments(State(state): State<Sandbox>, headers: HeaderMap) -> Response {
    if let Err(r) = authenticated(&headers) {
        return *r;
    }
    let mut conn = match conn(&state).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    match store::search(&mut conn, PROVIDER, PAYMENT, "").await {
        Ok(found) => {
            let payments: Vec<Value> = found
                .iter()
                .filter_map(|o| serde_json::from_str::<Value>(&o.data).ok())
                .map(|p| shown(&p))
                .collect();
            Json(json!({"payments": payments})).into_response()
        }
        Err(e) => internal(e),
    }
}

async fn locations(headers: HeaderMap) -> Response {
    if let Err(r) = authenticated(&headers) {
        return *r;
    }
    Json(json!({"locations": [{
        "id": sandbox_keys::SQUARE_LOCATION_ID, "name": "Storefront sandbox", "status": "ACTIVE",
        "country": "US", "currency": "USD", "merchant_id": MERCHANT, "type": "PHYSICAL",
        "capabilities": ["CREDIT_CARD_PROCESSING"],
    }]}))
    .into_response()
}

/// Sign and deliver notifications about `objects` (`(type, object kind, object)`).
fn notify(state: &Sandbox, events: &[(&str, &str, Value)], plan: DeliveryPlan) {
    let notification_url = format!("{}/webhooks/square", state.shop_url);
    let url = format!("{}/webhooks/square", state.webhook_root);
    let messages = events
        .iter()
        .map(|(kind, object_kind, object)| {
            let body = json!({
                "merchant_id": MERCHANT,
                "type": kind,
                "event_id": uuid::Uuid::new_v4().to_string(),
                "created_at": now_text(),
                "data": {"type": object_kind, "id": object["id"], "object": {*object_kind: shown(object)}},
            })
            .to_string()
            .into_bytes();
            let signed = signature::sign(sandbox_keys::SQUARE_WEBHOOK_SIGNATURE_KEY, &notification_url, &body);
            Message {
                url: url.clone(),
                content_type: "application/json",
                headers: vec![
                    (signature::HEADER, signed),
                    ("square-environment", "Sandbox".to_string()),
                    ("square-initial-delivery-timestamp", now_text()),
                    ("square-retry-number", "0".to_string()),
                ],
                body, answer: None,
            }
        })
        .collect();
    delivery::spawn(state, messages, plan);
}

fn amount_text(minor: i64, currency: &str) -> String {
    match currency.parse::<app::model::Currency>() {
        Ok(c) => app::model::Money::new(minor, c).to_string(),
        Err(_) => format!("{minor} {}", escape(currency)),
    }
}

fn gone(title: &str, text: &str) -> Response {
    let body = format!(
        "<main class=\"card\"><h1>{}</h1><p>{}</p></main>",
        escape(title),
        escape(text)
    );
    (StatusCode::GONE, page(title, &body)).into_response()
}

/// The link, its order, and whether it can still be paid.
async fn link_and_order(state: &Sandbox, id: &str) -> Result<Option<(Value, Value)>, Response> {
    let Some(link) = load(state, LINK, id).await? else {
        return Ok(None);
    };
    let Some(order) = load(state, ORDER, link["order_id"].as_str().unwrap_or_default()).await?
    else {
        return Ok(None);
    };
    Ok(Some((link, order)))
}

fn payable(link: &Value, order: &Value) -> bool {
    link["_deleted"] != json!(true)
        && matches!(order["state"].as_str(), Some("DRAFT") | Some("OPEN"))
        && order["tenders"].as_array().is_none_or(|t| t.is_empty())
}

async fn checkout_page(State(state): State<Sandbox>, Path(id): Path<String>) -> Response {
    let (link, order) = match link_and_order(&state, &id).await {
        Ok(Some(found)) => found,
        Ok(None) => {
            return (
                StatusCode::NOT_FOUND,
                page(
                    "Payment link not found",
                    "<main class=\"card\"><h1>This payment link does not exist.</h1></main>",
                ),
            )
                .into_response()
        }
        Err(r) => return r,
    };
    if !payable(&link, &order) {
        return gone(
            "This payment link is closed.",
            "It was paid or deleted. Return to the shop to start again.",
        );
    }
    let currency = order["total_money"]["currency"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let lines: String = order["line_items"]
        .as_array()
        .map(|lines| {
            lines
                .iter()
                .map(|l| {
                    format!(
                        "<tr><td>{} × {}</td><td>{}</td></tr>",
                        escape(l["quantity"].as_str().unwrap_or("1")),
                        escape(l["name"].as_str().unwrap_or("")),
                        amount_text(l["total_money"]["amount"].as_i64().unwrap_or(0), &currency)
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let body = format!(
        r#"<main class="card"><h1>Square sandbox checkout</h1>
<p>Pay <strong data-testid="sandbox-amount">{total}</strong>{email}</p>
<p>Order reference (<code>reference_id</code>): <code data-testid="sandbox-reference">{reference}</code></p>
<table><caption>Order lines</caption>{lines}</table>
<form method="post">
<p>Test card 4111 1111 1111 1111 is assumed for <strong>Pay</strong>; <strong>Decline</strong> fails the payment; <strong>Cancel</strong> goes back to the shop with nothing paid.</p>
<button class="pay" name="action" value="pay">Pay</button>
<button name="action" value="decline">Decline</button>
<button name="action" value="cancel">Cancel</button>
{controls}
{refund_controls}
</form></main>"#,
        total = amount_text(
            order["total_money"]["amount"].as_i64().unwrap_or(0),
            &currency
        ),
        email = link["pre_populated_data"]["buyer_email"]
            .as_str()
            .map(|e| format!(" as {}", escape(e)))
            .unwrap_or_default(),
        reference = escape(order["reference_id"].as_str().unwrap_or("")),
        controls = delivery_controls(),
        refund_controls = refund_controls(),
    );
    page("Square sandbox checkout", &body).into_response()
}

async fn checkout_action(
    State(state): State<Sandbox>,
    Path(id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let (link, order) = match link_and_order(&state, &id).await {
        Ok(Some(found)) => found,
        Ok(None) => return StatusCode::NOT_FOUND.into_response(),
        Err(r) => return r,
    };
    let back = link["checkout_options"]["redirect_url"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| format!("{}/", state.shop_url));
    let action = form.get("action").map(String::as_str).unwrap_or("");
    if action == "cancel" {
        return Redirect::to(&back).into_response();
    }
    if !payable(&link, &order) || !matches!(action, "pay" | "decline") {
        return checkout_page(State(state), Path(id)).await;
    }
    let plan = DeliveryPlan::parse(form.get("webhook").map(String::as_str));
    let now = now_text();
    let total = order["total_money"].clone();
    let payment_id = new_id(24);
    let mut payment = json!({
        "id": payment_id, "created_at": now, "updated_at": now,
        "amount_money": total, "total_money": total, "approved_money": total,
        "status": "APPROVED", "source_type": "CARD",
        "card_details": {"status": "AUTHORIZED", "card": {"card_brand": "VISA", "last_4": "1111", "exp_month": 12, "exp_year": 2030}},
        "location_id": order["location_id"], "order_id": order["id"],
        "delay_action": "CANCEL", "version_token": new_id(20),
    });
    if let Some(reference) = order["reference_id"].as_str() {
        payment["reference_id"] = json!(reference);
    }
    let created = payment.clone();
    let events = if action == "pay" {
        payment["status"] = json!("COMPLETED");
        payment["card_details"]["status"] = json!("CAPTURED");
        payment["refunded_money"] =
            money(0, order["total_money"]["currency"].as_str().unwrap_or(""));
        payment[REFUND_PLAN_KEY] =
            json!(RefundPlan::parse(form.get("refunds").map(String::as_str)).as_str());
        payment[REFUNDED_KEY] = json!(0);
        let mut paid = order.clone();
        paid["state"] = json!("OPEN");
        paid["updated_at"] = json!(now);
        paid["version"] = json!(order["version"].as_i64().unwrap_or(1) + 1);
        paid["tenders"] = json!([{"id": new_id(24), "payment_id": payment_id, "type": "CARD",
            "amount_money": order["total_money"], "location_id": order["location_id"], "created_at": now}]);
        paid["net_amount_due_money"] =
            money(0, order["total_money"]["currency"].as_str().unwrap_or(""));
        // The order is the lock: two presses pay once.
        match save(&state, ORDER, &order, &paid).await {
            Ok(true) => {}
            Ok(false) => return checkout_page(State(state), Path(id)).await,
            Err(r) => return r,
        }
        vec![
            ("payment.created", "payment", created),
            ("payment.updated", "payment", payment.clone()),
        ]
    } else {
        payment["status"] = json!("FAILED");
        payment["card_details"]["status"] = json!("FAILED");
        payment["card_details"]["errors"] = json!([{"category": "PAYMENT_METHOD_ERROR", "code": "GENERIC_DECLINE", "detail": "Authorization error: 'GENERIC_DECLINE'"}]);
        let mut failed_created = payment.clone();
        failed_created["updated_at"] = json!(now);
        vec![
            ("payment.created", "payment", failed_created),
            ("payment.updated", "payment", payment.clone()),
        ]
    };
    if let Err(r) = insert(&state, PAYMENT, &payment).await {
        return r;
    }
    notify(&state, &events, plan);
    tracing::info!(link = %id, action, "square sandbox: buyer finished");
    Redirect::to(&back).into_response()
}

/// `POST /v2/refunds`: part or all of a COMPLETED payment, at most what is left; idempotent on the
/// required `idempotency_key`.
async fn create_refund(
    State(state): State<Sandbox>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let body = match parse_body(&headers, &body) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    if body["idempotency_key"].as_str().is_none_or(str::is_empty) {
        return respond(invalid(
            "MISSING_REQUIRED_PARAMETER",
            "idempotency_key is required.",
            Some("idempotency_key"),
        ));
    }
    if body["idempotency_key"]
        .as_str()
        .is_some_and(|k| k.len() > 45)
    {
        return respond(invalid(
            "VALUE_TOO_LONG",
            "idempotency_key must be at most 45 characters.",
            Some("idempotency_key"),
        ));
    }
    let record = match begin(&state, "refund", &body).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    let answer = match make_refund(&state, &body).await {
        Ok(answer) => answer,
        Err(Ok(refused)) => refused,
        Err(Err(response)) => return response,
    };
    finish(&state, record, answer).await
}

async fn make_refund(state: &Sandbox, body: &Value) -> Result<Refusal, Result<Refusal, Response>> {
    let payment_id = body["payment_id"].as_str().unwrap_or("");
    let (amount, currency) = read_money(&body["amount_money"], "amount_money").map_err(Ok)?;
    let Some(payment) = load(state, PAYMENT, payment_id).await.map_err(Err)? else {
        return Err(Ok(refusal(
            StatusCode::NOT_FOUND,
            "INVALID_REQUEST_ERROR",
            "NOT_FOUND",
            &format!("Payment not found for id {payment_id}"),
            Some("payment_id"),
        )));
    };
    if payment["status"] != "COMPLETED" {
        return Err(Ok(invalid(
            "PAYMENT_NOT_REFUNDABLE",
            "Only COMPLETED payments can be refunded.",
            Some("payment_id"),
        )));
    }
    if payment["total_money"]["currency"] != json!(currency) {
        return Err(Ok(invalid(
            "CURRENCY_MISMATCH",
            "The refund's currency is not the payment's.",
            Some("amount_money.currency"),
        )));
    }
    if payment[REFUND_PLAN_KEY] == "refuse" {
        return Err(Ok(refusal(
            StatusCode::BAD_REQUEST,
            "REFUND_ERROR",
            "REFUND_DECLINED",
            "The payment is disputed and cannot be refunded.",
            None,
        )));
    }
    let taken = payment[REFUNDED_KEY].as_i64().unwrap_or(0);
    let paid = payment["total_money"]["amount"].as_i64().unwrap_or(0);
    if amount < 1 || taken + amount > paid {
        return Err(Ok(invalid(
            "REFUND_AMOUNT_INVALID",
            "The refund is more than what is left of the payment.",
            Some("amount_money.amount"),
        )));
    }
    let fail_later = payment[REFUND_PLAN_KEY] == "fail";
    let mut after = payment.clone();
    after[REFUNDED_KEY] = json!(taken + amount);
    after["refunded_money"] = money(taken + amount, &currency);
    let now = now_text();
    let refund = json!({
        "id": format!("{payment_id}_{}", new_id(20)),
        "status": if fail_later { "PENDING" } else { "COMPLETED" },
        "amount_money": money(amount, &currency), "payment_id": payment_id,
        "order_id": payment["order_id"], "location_id": payment["location_id"],
        "reason": body["reason"], "created_at": now, "updated_at": now,
    });
    after["refund_ids"] = {
        let mut ids = payment["refund_ids"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        ids.push(refund["id"].clone());
        json!(ids)
    };
    match save(state, PAYMENT, &payment, &after).await.map_err(Err)? {
        true => {}
        false => {
            return Err(Ok(refusal(
                StatusCode::CONFLICT,
                "INVALID_REQUEST_ERROR",
                "CONFLICT",
                "The payment changed; retry.",
                None,
            )))
        }
    }
    insert(state, REFUND, &refund).await.map_err(Err)?;
    notify(
        state,
        &[("refund.created", "refund", refund.clone())],
        DeliveryPlan::Normal,
    );
    if fail_later {
        tokio::spawn(fail_refund_later(state.clone(), refund.clone(), amount));
    }
    Ok((StatusCode::OK, json!({"refund": refund})))
}

/// A refund accepted as PENDING that then fails (test control): the amount is free again and
/// `refund.updated` says FAILED.
async fn fail_refund_later(state: Sandbox, refund: Value, amount: i64) {
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let mut failed = refund.clone();
    failed["status"] = json!("FAILED");
    failed["updated_at"] = json!(now_text());
    if !matches!(save(&state, REFUND, &refund, &failed).await, Ok(true)) {
        return;
    }
    let payment_id = refund["payment_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    for _ in 0..5 {
        let Ok(Some(payment)) = load(&state, PAYMENT, &payment_id).await else {
            break;
        };
        let mut after = payment.clone();
        let left = payment[REFUNDED_KEY].as_i64().unwrap_or(0) - amount;
        after[REFUNDED_KEY] = json!(left);
        after["refunded_money"]["amount"] = json!(left);
        if matches!(save(&state, PAYMENT, &payment, &after).await, Ok(true)) {
            break;
        }
    }
    notify(
        &state,
        &[("refund.updated", "refund", failed)],
        DeliveryPlan::Normal,
    );
}

async fn get_refund(
    State(state): State<Sandbox>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Err(r) = authenticated(&headers) {
        return *r;
    }
    match load(&state, REFUND, &id).await {
        Ok(Some(refund)) => Json(json!({"refund": shown(&refund)})).into_response(),
        Ok(None) => not_found("Refund", &id),
        Err(r) => r,
    }
}
