//! The Square sandbox, mounted at `/sandbox/square` (docs/sandboxes.md#square-sandboxsquare): Bearer auth (any
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
use super::dialect::{Dialect, Refusal, Reply};
use super::idempotency::{self, Keyed, Repeat};
use super::objects::{shown, Kind, Loaded};
use super::page::{
    card, delivery_controls, escape, is_shop_url, line_row, line_rows, money_text, page,
    refund_controls, RefundPlan, PAY_DECLINE_CANCEL,
};
use super::refunds::{self, Balance, Desk, PLAN_KEY, REFUNDED_KEY};
use super::{clock, wire, Sandbox};
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
const LINKS: Kind = Kind::new(PROVIDER, "sq-link:");
const ORDERS: Kind = Kind::new(PROVIDER, "sq-order:");
const PAYMENTS: Kind = Kind::new(PROVIDER, "sq-payment:");
const REFUNDS: Kind = Kind::new(PROVIDER, "sq-refund:");
const MERCHANT: &str = "MLSTOREFRONTSANDBOX";
/// Currencies the sandbox location takes.
const CURRENCIES: &[&str] = &["USD", "EUR", "JPY"];

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

/// Square's way of refusing: `{"errors": [{"category", "code", "detail", "field"}]}`.
pub struct Square;

type Error = Refusal<Square>;

impl Dialect for Square {
    const NAME: &'static str = "square";
    type Body = Json<Value>;

    fn internal() -> Error {
        Error::square(
            StatusCode::INTERNAL_SERVER_ERROR,
            "API_ERROR",
            "INTERNAL_SERVER_ERROR",
            "sandbox error",
            None,
        )
    }
}

impl Error {
    fn square(
        status: StatusCode,
        category: &str,
        code: &str,
        detail: &str,
        field: Option<&str>,
    ) -> Error {
        let mut item = json!({"category": category, "code": code, "detail": detail});
        if let Some(f) = field {
            item["field"] = json!(f);
        }
        Refusal::new(status, Json(json!({ "errors": [item] })))
    }

    fn invalid(code: &str, detail: &str, field: Option<&str>) -> Error {
        Error::square(
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST_ERROR",
            code,
            detail,
            field,
        )
    }

    fn missing(field: &str) -> Error {
        let detail = format!("{field} is required.");
        Error::invalid("MISSING_REQUIRED_PARAMETER", &detail, Some(field))
    }

    fn not_found(what: &str, id: &str, field: Option<&str>) -> Error {
        Error::square(
            StatusCode::NOT_FOUND,
            "INVALID_REQUEST_ERROR",
            "NOT_FOUND",
            &format!("{what} not found for id {id}"),
            field,
        )
    }

    fn conflict(detail: &str) -> Error {
        Error::square(
            StatusCode::CONFLICT,
            "INVALID_REQUEST_ERROR",
            "CONFLICT",
            detail,
            None,
        )
    }
}

/// Like Square's sandbox for a test account: any Bearer token.
fn authenticated(headers: &HeaderMap) -> Result<(), Error> {
    if wire::bearer(headers).is_some_and(|t| !t.trim().is_empty()) {
        return Ok(());
    }
    Err(Error::square(
        StatusCode::UNAUTHORIZED,
        "AUTHENTICATION_ERROR",
        "UNAUTHORIZED",
        "This request could not be authorized.",
        None,
    ))
}

fn parse_body(headers: &HeaderMap, body: &[u8]) -> Result<Value, Error> {
    authenticated(headers)?;
    serde_json::from_slice::<Value>(body)
        .ok()
        .filter(Value::is_object)
        .ok_or_else(|| {
            Error::invalid(
                "INVALID_CONTENT_TYPE",
                "The request body must be a JSON object.",
                None,
            )
        })
}

/// Every create is idempotent on the body's `idempotency_key`, scoped to what it creates.
fn idempotency_key(body: &Value, scope: &str) -> Result<Option<String>, Error> {
    let Some(key) = body["idempotency_key"].as_str().filter(|k| !k.is_empty()) else {
        return Ok(None);
    };
    if key.len() > 192 {
        return Err(Error::invalid(
            "VALUE_TOO_LONG",
            "idempotency_key is too long.",
            Some("idempotency_key"),
        ));
    }
    Ok(Some(format!("{scope}|{key}")))
}

/// Square's answers to a repeated `idempotency_key`: the first reply (a server error is not
/// kept), `IDEMPOTENCY_KEY_REUSED` for the same key with another body, or 409 while the first is
/// in progress.
impl Keyed for Square {
    const RULES: &'static idempotency::Rules = &idempotency::SQUARE;

    fn repeat(repeat: Repeat) -> Response {
        match repeat {
            Repeat::OtherRequest => Error::invalid(
                "IDEMPOTENCY_KEY_REUSED",
                "The idempotency key can only be retried with the same request data.",
                Some("idempotency_key"),
            )
            .into_response(),
            Repeat::InProgress => {
                Error::conflict("Another request with this idempotency key is in progress.")
                    .into_response()
            }
            Repeat::Replay { status, body } => (status, Json(body)).into_response(),
        }
    }
}

/// A keyed create: acts once per `idempotency_key` (compared on the body as read).
async fn create_once(
    state: &Sandbox,
    scope: &str,
    body: &Value,
    act: impl AsyncFnOnce() -> Result<Value, Error>,
) -> Reply<Square> {
    let key = idempotency_key(body, scope)?;
    let request = body.to_string();
    idempotency::once(
        &state.db,
        None,
        key.as_deref(),
        request.as_bytes(),
        async |_| Ok((StatusCode::OK, act().await?)),
    )
    .await
}

/// Integer money in a currency this location takes.
fn read_money(money: &Value, field: &str) -> Result<(i64, String), Error> {
    let amount = money["amount"]
        .as_i64()
        .filter(|a| *a >= 0)
        .ok_or_else(|| {
            Error::invalid(
                "INVALID_VALUE",
                "Expected a non-negative integer amount.",
                Some(field),
            )
        })?;
    let currency = money["currency"].as_str().unwrap_or("");
    if !CURRENCIES.contains(&currency) {
        return Err(Error::invalid(
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
fn build_link(state: &Sandbox, body: &Value) -> Result<(Value, Value), Error> {
    let location = sandbox_keys::SQUARE_LOCATION_ID;
    let (line_items, reference_id, order_location) = match (&body["quick_pay"], &body["order"]) {
        (Value::Object(q), Value::Null) => {
            let (amount, currency) = read_money(
                &q.get("price_money").cloned().unwrap_or(Value::Null),
                "quick_pay.price_money",
            )?;
            let name = q.get("name").and_then(Value::as_str).unwrap_or("");
            if name.is_empty() {
                return Err(Error::missing("quick_pay.name"));
            }
            (
                vec![
                    json!({"uid": wire::random_upper(22), "name": name, "quantity": "1",
                    "base_price_money": money(amount, &currency),
                    "total_money": money(amount, &currency)}),
                ],
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
                return Err(Error::missing("order.line_items"));
            }
            let mut items = Vec::new();
            for (i, line) in lines.iter().enumerate() {
                let field = format!("order.line_items[{i}]");
                let quantity: i64 = line["quantity"]
                    .as_str()
                    .and_then(|q| q.parse().ok())
                    .filter(|q| *q > 0)
                    .ok_or_else(|| {
                        Error::invalid(
                            "INVALID_VALUE",
                            "quantity must be a positive whole number as a string.",
                            Some(&field),
                        )
                    })?;
                let (unit, currency) = read_money(
                    &line["base_price_money"],
                    &format!("{field}.base_price_money"),
                )?;
                let total = unit.checked_mul(quantity).ok_or_else(|| {
                    Error::invalid("INVALID_VALUE", "amount too large", Some(&field))
                })?;
                items.push(json!({"uid": wire::random_upper(22), "name": line["name"], "quantity": quantity.to_string(),
                    "base_price_money": money(unit, &currency), "total_money": money(total, &currency)}));
            }
            (
                items,
                o.get("reference_id").cloned().unwrap_or(Value::Null),
                o.get("location_id").cloned().unwrap_or(Value::Null),
            )
        }
        _ => {
            return Err(Error::invalid(
                "INVALID_REQUEST_ERROR",
                "Exactly one of quick_pay or order is required.",
                None,
            ))
        }
    };
    if order_location.as_str() != Some(location) {
        return Err(Error::square(
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
        return Err(Error::invalid(
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
        return Err(Error::invalid(
            "INVALID_VALUE",
            "The order total must be positive.",
            None,
        ));
    }
    let redirect = body["checkout_options"]["redirect_url"].as_str();
    if redirect.is_some_and(|url| !is_shop_url(url, &state.shop_url)) {
        return Err(Error::invalid(
            "INVALID_VALUE",
            &format!(
                "The sandbox only sends buyers back to the shop's own origin ({}).",
                state.shop_url
            ),
            Some("checkout_options.redirect_url"),
        ));
    }
    let now = clock::rfc3339_millis_now();
    let order_id = wire::random_upper(24);
    let mut order = json!({
        "id": order_id, "location_id": location, "line_items": line_items, "state": "DRAFT",
        "version": 1, "created_at": now, "updated_at": now,
        "total_money": money(total, &currency), "net_amount_due_money": money(total, &currency),
        "source": {"name": "Sandbox payment link"},
    });
    if !reference_id.is_null() {
        order["reference_id"] = reference_id;
    }
    let link_id = wire::random_upper(16);
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
) -> Reply<Square> {
    let body = parse_body(&headers, &body)?;
    create_once(&state, "payment-link", &body, async || {
        let (link, order) = build_link(&state, &body)?;
        ORDERS.insert(&state.db, id_of(&order), &order).await?;
        LINKS.insert(&state.db, id_of(&link), &link).await?;
        Ok(json!({"payment_link": link, "related_resources": {"orders": [order]}}))
    })
    .await
}

fn id_of(object: &Value) -> &str {
    object["id"].as_str().unwrap_or_default()
}

/// A link not deleted.
async fn live_link(state: &Sandbox, id: &str) -> Result<Loaded<Value>, Error> {
    match LINKS.load::<Value>(&state.db, id).await? {
        Some(link) if link["_deleted"] != json!(true) => Ok(link),
        _ => Err(Error::not_found("Payment link", id, None)),
    }
}

async fn get_link(
    State(state): State<Sandbox>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Reply<Square> {
    authenticated(&headers)?;
    let link = live_link(&state, &id).await?;
    Ok(Json(json!({"payment_link": shown(&link)})).into_response())
}

/// Delete a link: its order is cancelled unless it was paid.
async fn delete_link(
    State(state): State<Sandbox>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Reply<Square> {
    authenticated(&headers)?;
    let link = live_link(&state, &id).await?;
    let mut deleted = link.value.clone();
    deleted["_deleted"] = json!(true);
    if !link.save(&state.db, &deleted).await? {
        return Err(Error::not_found("Payment link", &id, None));
    }
    let order_id = link["order_id"].as_str().unwrap_or_default();
    let mut answer = json!({"deleted_payment_link_id": id});
    if let Ok(Some(order)) = ORDERS.load::<Value>(&state.db, order_id).await {
        if order["tenders"].as_array().is_none_or(|t| t.is_empty()) {
            let mut after = order.value.clone();
            after["state"] = json!("CANCELED");
            after["updated_at"] = json!(clock::rfc3339_millis_now());
            after["version"] = json!(order["version"].as_i64().unwrap_or(1) + 1);
            if matches!(order.save(&state.db, &after).await, Ok(true)) {
                answer["cancelled_order_id"] = json!(order_id);
            }
        }
    }
    Ok(Json(answer).into_response())
}

/// `GET` one object: `{"<name>": object}`, or `NOT_FOUND` naming `what` it is.
async fn get_one(
    state: &Sandbox,
    headers: &HeaderMap,
    (kind, name, what): (Kind, &str, &str),
    id: &str,
) -> Reply<Square> {
    authenticated(headers)?;
    match kind.load::<Value>(&state.db, id).await? {
        Some(object) => Ok(Json(json!({ name: shown(&object) })).into_response()),
        None => Err(Error::not_found(what, id, None)),
    }
}

async fn get_order(
    State(state): State<Sandbox>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Reply<Square> {
    get_one(&state, &headers, (ORDERS, "order", "Order"), &id).await
}

/// `POST /v2/orders/search`: the orders of the given locations, newest last; `query.filter.
/// state_filter.states` narrows them. (`return_entries` and cursors are not modelled.)
async fn search_orders(
    State(state): State<Sandbox>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Reply<Square> {
    let body = parse_body(&headers, &body)?;
    let locations: Vec<&str> = body["location_ids"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if locations.is_empty() {
        return Err(Error::missing("location_ids"));
    }
    let states: Vec<&str> = body["query"]["filter"]["state_filter"]["states"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let orders: Vec<Value> = ORDERS
        .search::<Value>(&state.db, "")
        .await?
        .iter()
        .filter(|o| locations.iter().any(|l| o["location_id"] == json!(l)))
        .filter(|o| states.is_empty() || states.iter().any(|s| o["state"] == json!(s)))
        .map(|o| shown(o))
        .collect();
    Ok(Json(json!({"orders": orders})).into_response())
}

async fn get_payment(
    State(state): State<Sandbox>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Reply<Square> {
    get_one(&state, &headers, (PAYMENTS, "payment", "Payment"), &id).await
}

async fn list_payments(State(state): State<Sandbox>, headers: HeaderMap) -> Reply<Square> {
    authenticated(&headers)?;
    let payments: Vec<Value> = PAYMENTS
        .search::<Value>(&state.db, "")
        .await?
        .iter()
        .map(|p| shown(p))
        .collect();
    Ok(Json(json!({"payments": payments})).into_response())
}

async fn locations(headers: HeaderMap) -> Reply<Square> {
    authenticated(&headers)?;
    Ok(Json(json!({"locations": [{
        "id": sandbox_keys::SQUARE_LOCATION_ID, "name": "Storefront sandbox", "status": "ACTIVE",
        "country": "US", "currency": "USD", "merchant_id": MERCHANT, "type": "PHYSICAL",
        "capabilities": ["CREDIT_CARD_PROCESSING"],
    }]}))
    .into_response())
}

/// Sign and deliver notifications about `objects` (`(type, object kind, object)`).
fn notify(state: &Sandbox, events: &[(&str, &str, Value)], plan: DeliveryPlan) {
    let notification_url = format!("{}/webhooks/square", state.shop_url);
    let messages = events
        .iter()
        .map(|(kind, object_kind, object)| {
            let body = json!({
                "merchant_id": MERCHANT,
                "type": kind,
                "event_id": uuid::Uuid::new_v4().to_string(),
                "created_at": clock::rfc3339_millis_now(),
                "data": {"type": object_kind, "id": object["id"], "object": {*object_kind: shown(object)}},
            })
            .to_string();
            let key = sandbox_keys::SQUARE_WEBHOOK_SIGNATURE_KEY;
            let signed = signature::sign(key, &notification_url, body.as_bytes());
            Message::new(state.webhook_url(PROVIDER), "application/json", body)
                .header(signature::HEADER, signed)
                .header("square-environment", "Sandbox")
                .header("square-initial-delivery-timestamp", clock::rfc3339_millis_now())
                .header("square-retry-number", "0")
        })
        .collect();
    delivery::spawn(state, messages, plan);
}

/// The link and its order, if both exist.
async fn link_and_order(
    state: &Sandbox,
    id: &str,
) -> Result<Option<(Value, Loaded<Value>)>, sqlx::Error> {
    let Some(link) = LINKS.load::<Value>(&state.db, id).await? else {
        return Ok(None);
    };
    let order_id = link["order_id"].as_str().unwrap_or_default();
    let order = ORDERS.load(&state.db, order_id).await?;
    Ok(order.map(|order| (link.value, order)))
}

/// Whether the link can still be paid.
fn payable(link: &Value, order: &Value) -> bool {
    link["_deleted"] != json!(true)
        && matches!(order["state"].as_str(), Some("DRAFT") | Some("OPEN"))
        && order["tenders"].as_array().is_none_or(|t| t.is_empty())
}

async fn checkout_page(State(state): State<Sandbox>, Path(id): Path<String>) -> Reply<Square> {
    let Some((link, order)) = link_and_order(&state, &id).await? else {
        return Ok(card(
            StatusCode::NOT_FOUND,
            "Payment link not found",
            "This payment link does not exist.",
            None,
        ));
    };
    if !payable(&link, &order) {
        return Ok(card(
            StatusCode::GONE,
            "This payment link is closed.",
            "This payment link is closed.",
            Some("It was paid or deleted. Return to the shop to start again."),
        ));
    }
    let currency = order["total_money"]["currency"].as_str().unwrap_or("");
    let lines = line_rows(&order["line_items"], |l| {
        line_row(
            &escape(l["quantity"].as_str().unwrap_or("1")),
            &escape(l["name"].as_str().unwrap_or("")),
            &money_text(l["total_money"]["amount"].as_i64().unwrap_or(0), currency),
        )
    });
    let body = format!(
        r#"<main class="card"><h1>Square sandbox checkout</h1>
<p>Pay <strong data-testid="sandbox-amount">{total}</strong>{email}</p>
<p>Order reference (<code>reference_id</code>): <code data-testid="sandbox-reference">{reference}</code></p>
<table><caption>Order lines</caption>{lines}</table>
<form method="post">
<p>Test card 4111 1111 1111 1111 is assumed for <strong>Pay</strong>; <strong>Decline</strong> fails the payment; <strong>Cancel</strong> goes back to the shop with nothing paid.</p>
{PAY_DECLINE_CANCEL}
{controls}
{refund_controls}
</form></main>"#,
        total = money_text(
            order["total_money"]["amount"].as_i64().unwrap_or(0),
            currency
        ),
        email = link["pre_populated_data"]["buyer_email"]
            .as_str()
            .map(|e| format!(" as {}", escape(e)))
            .unwrap_or_default(),
        reference = escape(order["reference_id"].as_str().unwrap_or("")),
        controls = delivery_controls(),
        refund_controls = refund_controls(),
    );
    Ok(page("Square sandbox checkout", &body))
}

async fn checkout_action(
    State(state): State<Sandbox>,
    Path(id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Reply<Square> {
    let Some((link, order)) = link_and_order(&state, &id).await? else {
        return Ok(StatusCode::NOT_FOUND.into_response());
    };
    let back = link["checkout_options"]["redirect_url"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| format!("{}/", state.shop_url));
    let action = wire::field(&form, "action");
    if action == "cancel" {
        return Ok(Redirect::to(&back).into_response());
    }
    if !payable(&link, &order) || !matches!(action, "pay" | "decline") {
        return checkout_page(State(state), Path(id)).await;
    }
    let plan = DeliveryPlan::chosen(&form);
    let now = clock::rfc3339_millis_now();
    let total = order["total_money"].clone();
    let currency = total["currency"].as_str().unwrap_or("");
    let payment_id = wire::random_upper(24);
    let mut payment = json!({
        "id": payment_id, "created_at": now, "updated_at": now,
        "amount_money": total, "total_money": total, "approved_money": total,
        "status": "APPROVED", "source_type": "CARD",
        "card_details": {"status": "AUTHORIZED", "card": {"card_brand": "VISA", "last_4": "1111", "exp_month": 12, "exp_year": 2030}},
        "location_id": order["location_id"], "order_id": order["id"],
        "delay_action": "CANCEL", "version_token": wire::random_upper(20),
    });
    if let Some(reference) = order["reference_id"].as_str() {
        payment["reference_id"] = json!(reference);
    }
    let created = payment.clone();
    let events = if action == "pay" {
        payment["status"] = json!("COMPLETED");
        payment["card_details"]["status"] = json!("CAPTURED");
        payment["refunded_money"] = money(0, currency);
        payment[PLAN_KEY] = json!(RefundPlan::chosen(&form).as_str());
        payment[REFUNDED_KEY] = json!(0);
        let mut paid = order.value.clone();
        paid["state"] = json!("OPEN");
        paid["updated_at"] = json!(now);
        paid["version"] = json!(order["version"].as_i64().unwrap_or(1) + 1);
        paid["tenders"] = json!([{"id": wire::random_upper(24), "payment_id": payment_id, "type": "CARD",
            "amount_money": order["total_money"], "location_id": order["location_id"], "created_at": now}]);
        paid["net_amount_due_money"] = money(0, currency);
        // The order is the lock: two presses pay once.
        if !order.save(&state.db, &paid).await? {
            return checkout_page(State(state), Path(id)).await;
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
    PAYMENTS.insert(&state.db, &payment_id, &payment).await?;
    notify(&state, &events, plan);
    tracing::info!(link = %id, action, "square sandbox: buyer finished");
    Ok(Redirect::to(&back).into_response())
}

/// `POST /v2/refunds`: part or all of a COMPLETED payment, at most what is left; idempotent on the
/// required `idempotency_key`.
async fn create_refund(
    State(state): State<Sandbox>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Reply<Square> {
    let body = parse_body(&headers, &body)?;
    let key = body["idempotency_key"].as_str().unwrap_or("");
    if key.is_empty() {
        return Err(Error::missing("idempotency_key"));
    }
    if key.len() > 45 {
        return Err(Error::invalid(
            "VALUE_TOO_LONG",
            "idempotency_key must be at most 45 characters.",
            Some("idempotency_key"),
        ));
    }
    create_once(&state, "refund", &body, async || {
        Ok(json!({"refund": make_refund(&state, &body).await?}))
    })
    .await
}

/// Square's refunds: of a COMPLETED payment, kept as `sq-refund:{id}`; the payment lists them
/// (`refund_ids`) and shows what they took (`refunded_money`).
impl Desk for Square {
    const PAYMENTS: Kind = PAYMENTS;
    const REFUNDS: Kind = REFUNDS;

    fn total(payment: &Value) -> i64 {
        payment["total_money"]["amount"].as_i64().unwrap_or(0)
    }

    fn show_refunded(payment: &mut Value, refunded: i64) {
        payment["refunded_money"]["amount"] = json!(refunded);
    }

    fn note(payment: &mut Value, refund: &Value) {
        let mut ids = payment["refund_ids"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        ids.push(refund["id"].clone());
        payment["refund_ids"] = json!(ids);
    }

    fn failed(refund: &Value) -> Value {
        let mut failed = refund.clone();
        failed["status"] = json!("FAILED");
        failed["updated_at"] = json!(clock::rfc3339_millis_now());
        failed
    }

    async fn send_failed(state: &Sandbox, failed: Value) {
        let event = ("refund.updated", "refund", failed);
        notify(state, &[event], DeliveryPlan::Normal);
    }
}

async fn make_refund(state: &Sandbox, body: &Value) -> Result<Value, Error> {
    let payment_id = body["payment_id"].as_str().unwrap_or("");
    let (amount, currency) = read_money(&body["amount_money"], "amount_money")?;
    let Some(payment) = PAYMENTS.load::<Value>(&state.db, payment_id).await? else {
        return Err(Error::not_found("Payment", payment_id, Some("payment_id")));
    };
    if payment["status"] != "COMPLETED" {
        return Err(Error::invalid(
            "PAYMENT_NOT_REFUNDABLE",
            "Only COMPLETED payments can be refunded.",
            Some("payment_id"),
        ));
    }
    if payment["total_money"]["currency"] != json!(currency) {
        return Err(Error::invalid(
            "CURRENCY_MISMATCH",
            "The refund's currency is not the payment's.",
            Some("amount_money.currency"),
        ));
    }
    let balance = Balance::of::<Square>(&payment);
    if balance.plan == RefundPlan::Refuse {
        return Err(Error::square(
            StatusCode::BAD_REQUEST,
            "REFUND_ERROR",
            "REFUND_DECLINED",
            "The payment is disputed and cannot be refunded.",
            None,
        ));
    }
    if amount < 1 || amount > balance.left() {
        return Err(Error::invalid(
            "REFUND_AMOUNT_INVALID",
            "The refund is more than what is left of the payment.",
            Some("amount_money.amount"),
        ));
    }
    let now = clock::rfc3339_millis_now();
    let refund = json!({
        "id": format!("{payment_id}_{}", wire::random_upper(20)),
        "status": if balance.plan == RefundPlan::Fail { "PENDING" } else { "COMPLETED" },
        "amount_money": money(amount, &currency), "payment_id": payment_id,
        "order_id": payment["order_id"], "location_id": payment["location_id"],
        "reason": body["reason"], "created_at": now, "updated_at": now,
    });
    // Square answers a concurrent change of the payment at once, without trying again.
    if !refunds::take::<Square>(state, &payment, amount, &refund).await? {
        return Err(Error::conflict("The payment changed; retry."));
    }
    let event = ("refund.created", "refund", refund.clone());
    notify(state, &[event], DeliveryPlan::Normal);
    Ok(refund)
}

async fn get_refund(
    State(state): State<Sandbox>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Reply<Square> {
    get_one(&state, &headers, (REFUNDS, "refund", "Refund"), &id).await
}
