//! The Stripe sandbox, mounted at `/sandbox/stripe` (providers.md §10): `POST /v1/checkout/sessions`
//! (form-encoded, bracket nesting, `Idempotency-Key` replay), `GET /v1/checkout/sessions/{id}`,
//! `POST /v1/checkout/sessions/{id}/expire`, and the hosted page `/c/pay/{id}` with **Pay**,
//! **Decline** and **Cancel**. Events are signed with the shop's webhook secret and delivered to
//! `/webhooks/stripe`, retried until acknowledged.

use super::delivery::{self, DeliveryPlan, Message};
use super::idempotency::{self, Claimed, Repeat};
use super::page::{delivery_controls, escape, is_shop_url, page, refund_controls, RefundPlan};
use super::store;
use super::{clock, Sandbox};
use app::server::config::payments::sandbox_keys;
use app::server::payments::stripe::signature;
use app::server::payments::stripe::API_VERSION;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde_json::{json, Map, Value};
use std::collections::HashMap;

const PROVIDER: &str = "stripe";
/// Kept inside the stored session, never shown: the line items.
const LINES_KEY: &str = "_sandbox_line_items";
/// Kept inside the stored session: what refunds of its payment do (a hosted-page test control).
const REFUND_PLAN_KEY: &str = "_sandbox_refunds";
/// Kept inside the stored session: what refunds not failed have taken, in minor units.
const REFUNDED_KEY: &str = "_sandbox_refunded";

pub fn routes() -> Router<Sandbox> {
    Router::new()
        .route("/v1/checkout/sessions", post(create_session))
        .route("/v1/checkout/sessions/{id}", get(retrieve_session))
        .route("/v1/checkout/sessions/{id}/expire", post(expire_session))
        .route("/v1/refunds", post(create_refund))
        .route("/v1/refunds/{id}", get(retrieve_refund))
        .route("/c/pay/{id}", get(hosted_page).post(hosted_action))
}

fn error(status: StatusCode, kind: &str, message: &str, param: Option<&str>) -> Response {
    let mut body = json!({"error": {"type": kind, "message": message}});
    if let Some(p) = param {
        body["error"]["param"] = json!(p);
    }
    (status, Json(body)).into_response()
}

/// A refused request: Stripe's status and error body.
type Refusal = (StatusCode, Value);

fn refusal(message: &str, param: Option<&str>) -> Refusal {
    let mut body = json!({"error": {"type": "invalid_request_error", "message": message}});
    if let Some(p) = param {
        body["error"]["param"] = json!(p);
    }
    (StatusCode::BAD_REQUEST, body)
}

fn invalid(message: &str, param: Option<&str>) -> Response {
    error(
        StatusCode::BAD_REQUEST,
        "invalid_request_error",
        message,
        param,
    )
}

fn internal(e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "stripe sandbox failed");
    error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "api_error",
        "sandbox error",
        None,
    )
}

/// Like Stripe: a secret key as Bearer, or as the Basic user name.
fn authenticated(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get("authorization").and_then(|v| v.to_str().ok()) else {
        return false;
    };
    if let Some(key) = value.strip_prefix("Bearer ") {
        return key.starts_with("sk_") || key.starts_with("rk_");
    }
    value.starts_with("Basic ")
}

fn unauthenticated() -> Response {
    error(
        StatusCode::UNAUTHORIZED,
        "invalid_request_error",
        "You did not provide an API key. Provide your secret key as a Bearer token.",
        None,
    )
}

fn random_id(prefix: &str) -> String {
    format!("{prefix}{}", uuid::Uuid::new_v4().simple())
}

/// The accepted top-level parameters of a Checkout Session; anything else is refused as Stripe does.
const KNOWN: &[&str] = &[
    "mode",
    "line_items",
    "success_url",
    "cancel_url",
    "client_reference_id",
    "customer_email",
    "metadata",
    "payment_intent_data",
    "expires_at",
    "ui_mode",
    "locale",
    "expand",
];

/// Parse `line_items[i][…]` and the other fields into a session object.
fn build_session(pairs: &[(String, String)], state: &Sandbox) -> Result<Value, Refusal> {
    let public_url = &*state.shop_url;
    let mut top: HashMap<&str, &str> = HashMap::new();
    let mut lines: Vec<Map<String, Value>> = Vec::new();
    let mut metadata = Map::new();
    for (key, value) in pairs {
        let name = key.split('[').next().unwrap_or("");
        if !KNOWN.contains(&name) {
            return Err(refusal(
                &format!("Received unknown parameter: {key}"),
                Some(key),
            ));
        }
        if let Some(rest) = key.strip_prefix("line_items[") {
            let (index, field) = rest
                .split_once(']')
                .ok_or_else(|| refusal("Invalid line_items", Some(key)))?;
            let index: usize = index
                .parse()
                .map_err(|_| refusal("Invalid array index", Some(key)))?;
            if index > 99 {
                return Err(refusal("Too many line items", Some(key)));
            }
            while lines.len() <= index {
                lines.push(Map::new());
            }
            lines[index].insert(field.to_string(), json!(value));
        } else if let Some(k) = key
            .strip_prefix("metadata[")
            .and_then(|k| k.strip_suffix(']'))
        {
            metadata.insert(k.to_string(), json!(value));
        } else {
            top.insert(name, value.as_str());
        }
    }
    if top.get("mode").copied() != Some("payment") {
        return Err(refusal(
            "The sandbox supports mode=payment only.",
            Some("mode"),
        ));
    }
    let success_url = top
        .get("success_url")
        .ok_or_else(|| refusal("Missing required param: success_url.", Some("success_url")))?;
    for param in ["success_url", "cancel_url"] {
        if top
            .get(param)
            .is_some_and(|url| !is_shop_url(url, public_url))
        {
            return Err(refusal(
                &format!(
                    "The sandbox only sends shoppers back to the shop's own origin ({public_url})."
                ),
                Some(param),
            ));
        }
    }
    if lines.is_empty() {
        return Err(refusal(
            "Missing required param: line_items.",
            Some("line_items"),
        ));
    }
    let mut currency: Option<String> = None;
    let mut total: i64 = 0;
    let mut stored_lines = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let field = |f: &str| line.get(f).and_then(Value::as_str).map(str::to_string);
        let param = |f: &str| format!("line_items[{i}]{f}");
        let c = field("[price_data][currency]").ok_or_else(|| {
            refusal(
                "Missing price_data currency",
                Some(&param("[price_data][currency]")),
            )
        })?;
        if c.len() != 3 || !c.chars().all(|ch| ch.is_ascii_alphabetic()) {
            return Err(refusal(
                &format!("Invalid currency: {c}"),
                Some(&param("[price_data][currency]")),
            ));
        }
        if currency.get_or_insert(c.clone()) != &c {
            return Err(refusal(
                "All line items must share one currency.",
                Some(&param("[price_data][currency]")),
            ));
        }
        let unit: i64 = field("[price_data][unit_amount]")
            .and_then(|v| v.parse().ok())
            .filter(|v| *v >= 0)
            .ok_or_else(|| {
                refusal(
                    "Invalid integer: unit_amount",
                    Some(&param("[price_data][unit_amount]")),
                )
            })?;
        let quantity: i64 = field("[quantity]")
            .and_then(|v| v.parse().ok())
            .filter(|v| *v >= 1)
            .ok_or_else(|| refusal("Invalid integer: quantity", Some(&param("[quantity]"))))?;
        let name = field("[price_data][product_data][name]").ok_or_else(|| {
            refusal(
                "Missing product_data name",
                Some(&param("[price_data][product_data][name]")),
            )
        })?;
        total = unit
            .checked_mul(quantity)
            .and_then(|l| total.checked_add(l))
            .ok_or_else(|| refusal("Amount too large", None))?;
        stored_lines.push(json!({"name": name, "quantity": quantity, "unit_amount": unit}));
    }
    let id = random_id("cs_test_");
    let created = clock::now_secs();
    let text = |k: &str| top.get(k).map(|v| json!(v)).unwrap_or(Value::Null);
    Ok(json!({
        "id": id,
        "object": "checkout.session",
        "amount_subtotal": total,
        "amount_total": total,
        "cancel_url": text("cancel_url"),
        "client_reference_id": text("client_reference_id"),
        "created": created,
        "currency": currency,
        "customer": null,
        "customer_details": null,
        "customer_email": text("customer_email"),
        "expires_at": top.get("expires_at").and_then(|v| v.parse::<i64>().ok()).unwrap_or(created + 86_400),
        "livemode": false,
        "metadata": metadata,
        "mode": "payment",
        "payment_intent": null,
        "payment_status": "unpaid",
        "status": "open",
        "success_url": success_url,
        "ui_mode": "hosted_page",
        "url": format!("{}/sandbox/stripe/c/pay/{id}", state.site_url),
        LINES_KEY: stored_lines,
    }))
}

/// The session as the API shows it (without the sandbox's private fields).
fn public_view(stored: &str) -> Value {
    let mut value: Value = serde_json::from_str(stored).unwrap_or(Value::Null);
    if let Some(map) = value.as_object_mut() {
        map.retain(|k, _| !k.starts_with("_sandbox_"));
    }
    value
}

/// An API POST's form fields, once its key is accepted; Stripe's refusal otherwise.
fn api_form(headers: &HeaderMap, body: &[u8]) -> Result<Vec<(String, String)>, Box<Response>> {
    if !authenticated(headers) {
        return Err(Box::new(unauthenticated()));
    }
    serde_urlencoded::from_bytes(body)
        .map_err(|_| Box::new(invalid("Invalid form-encoded body", None)))
}

async fn create_session(
    State(state): State<Sandbox>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let pairs = match api_form(&headers, &body) {
        Ok(p) => p,
        Err(refused) => return *refused,
    };
    // The key's claim, the session and the stored reply in one commit: a twin with the same key
    // waits for it and gets the reply, and a failure leaves no claim behind.
    let Ok(mut tx) = state.db.begin_write().await else {
        return internal("no database connection");
    };
    let record_id = match begin_idempotent(&state, Some(&mut *tx), &headers, &body).await {
        Ok(r) => r,
        Err(replayed) => return replayed,
    };
    let (status, body) = match build_session(&pairs, &state) {
        Ok(session) => {
            let id = session["id"].as_str().unwrap_or_default().to_string();
            let stored = session.to_string();
            if let Err(e) = store::insert(&mut tx, PROVIDER, &id, None, "", 200, &stored).await {
                return internal(e);
            }
            (StatusCode::OK, public_view(&stored))
        }
        Err(refused) => refused,
    };
    let reply = finish_idempotent(&state, Some(&mut *tx), record_id, status, body).await;
    if reply.status().is_server_error() {
        // The reply could not be stored: rolled back, claim and all, so a retry starts afresh.
        return reply;
    }
    match tx.commit().await {
        Ok(()) => reply,
        Err(e) => internal(e),
    }
}

/// Claim an `Idempotency-Key` before acting: `Ok(claim)` to go on (and then
/// [`finish_idempotent`]), or the answer Stripe gives a repeat (the stored reply), a changed
/// request (`idempotency_error`) or a concurrent twin (409). The claim is written in `tx`, to
/// commit with the request's work, or without one in a write transaction of its own.
async fn begin_idempotent(
    state: &Sandbox,
    tx: Option<&mut sqlx::AnyConnection>,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Option<Claimed>, Response> {
    let Some(key) = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
    else {
        return Ok(None);
    };
    match idempotency::claim(&state.db, tx, &idempotency::STRIPE, &key, body).await {
        Ok(Ok(claimed)) => Ok(Some(claimed)),
        Ok(Err(Repeat::OtherRequest)) => Err(error(
            StatusCode::BAD_REQUEST,
            "idempotency_error",
            "Keys for idempotent requests can only be used with the same parameters they were first used with.",
            None,
        )),
        Ok(Err(Repeat::InProgress)) => Err(error(
            StatusCode::CONFLICT,
            "idempotency_error",
            "There is currently another in-progress request using this Idempotent Key.",
            None,
        )),
        Ok(Err(Repeat::Replay { status, body })) => Err(replay(status, body)),
        Err(e) => Err(internal(e)),
    }
}

/// Store the reply under the claimed key (if any) and send it: in `tx`, or without one in a write
/// transaction of its own.
async fn finish_idempotent(
    state: &Sandbox,
    tx: Option<&mut sqlx::AnyConnection>,
    claimed: Option<Claimed>,
    status: StatusCode,
    body: Value,
) -> Response {
    if let Some(claimed) = &claimed {
        if let Err(e) = claimed.finish(&state.db, tx, status, &body).await {
            return internal(e);
        }
    }
    (status, [("request-id", random_id("req_"))], Json(body)).into_response()
}

fn replay(status: StatusCode, body: Value) -> Response {
    (
        status,
        [
            ("idempotent-replayed", "true".to_string()),
            ("request-id", random_id("req_")),
        ],
        Json(body),
    )
        .into_response()
}

async fn load(state: &Sandbox, id: &str) -> Result<Option<Value>, Response> {
    let mut conn = state.db.pool.acquire().await.map_err(internal)?;
    let Some(object) = store::get(&mut conn, id).await.map_err(internal)? else {
        return Ok(None);
    };
    if !id.starts_with("cs_") {
        return Ok(None);
    }
    Ok(serde_json::from_str(&object.data).ok())
}

/// Save a changed session if nobody changed it meanwhile; false if they did.
async fn save(state: &Sandbox, before: &Value, after: &Value) -> Result<bool, Response> {
    let id = after["id"].as_str().unwrap_or_default();
    store::update_committed(
        &state.db,
        id,
        200,
        &after.to_string(),
        Some(&before.to_string()),
    )
    .await
    .map_err(internal)
}

fn no_such_session(id: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        "invalid_request_error",
        &format!("No such checkout.session: '{}'", id),
        Some("session"),
    )
}

/// An API call on one session: authenticated, and the session must exist.
async fn api_session(state: &Sandbox, headers: &HeaderMap, id: &str) -> Result<Value, Response> {
    if !authenticated(headers) {
        return Err(unauthenticated());
    }
    load(state, id).await?.ok_or_else(|| no_such_session(id))
}

async fn retrieve_session(
    State(state): State<Sandbox>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    match api_session(&state, &headers, &id).await {
        Ok(session) => Json(public_view(&session.to_string())).into_response(),
        Err(r) => r,
    }
}

async fn expire_session(
    State(state): State<Sandbox>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let session = match api_session(&state, &headers, &id).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if session["status"] != "open" {
        return invalid(
            "Only Checkout Sessions with a status of `open` can be expired.",
            None,
        );
    }
    let mut expired = session.clone();
    expired["status"] = json!("expired");
    expired["url"] = Value::Null;
    match save(&state, &session, &expired).await {
        Ok(true) => {}
        Ok(false) => return invalid("The session changed; retry.", None),
        Err(r) => return r,
    }
    send_events(
        &state,
        &[("checkout.session.expired", &expired)],
        DeliveryPlan::Normal,
    );
    Json(public_view(&expired.to_string())).into_response()
}

/// Sign and deliver events about sessions (shown as the API shows them) to the shop.
fn send_events(state: &Sandbox, events: &[(&str, &Value)], plan: DeliveryPlan) {
    let shown: Vec<(&str, Value)> = events
        .iter()
        .map(|(kind, session)| (*kind, public_view(&session.to_string())))
        .collect();
    let refs: Vec<(&str, &Value)> = shown.iter().map(|(k, v)| (*k, v)).collect();
    send_objects(state, &refs, plan);
}

/// Sign and deliver events to the shop's Stripe webhook endpoint.
fn send_objects(state: &Sandbox, events: &[(&str, &Value)], plan: DeliveryPlan) {
    // Always the fixed sandbox secret: this sandbox is only mounted while the shop uses it.
    let secret = sandbox_keys::STRIPE_WEBHOOK_SECRET;
    let url = format!("{}/webhooks/stripe", state.webhook_root);
    let messages = events
        .iter()
        .map(|(kind, object)| {
            let event = json!({
                "id": random_id("evt_"),
                "object": "event",
                "api_version": API_VERSION,
                "created": clock::now_secs(),
                "livemode": false,
                "pending_webhooks": 1,
                "request": {"id": null, "idempotency_key": null},
                "type": kind,
                "data": {"object": object},
            });
            let body = event.to_string().into_bytes();
            let header = signature::sign(&body, secret, clock::now_secs());
            Message {
                url: url.clone(),
                content_type: "application/json; charset=utf-8",
                headers: vec![("stripe-signature", header)],
                body,
            }
        })
        .collect();
    delivery::spawn(state.http.clone(), messages, plan);
}

async fn hosted_page(State(state): State<Sandbox>, Path(id): Path<String>) -> Response {
    let session = match load(&state, &id).await {
        Ok(Some(s)) => s,
        Ok(None) => {
            return (
                StatusCode::NOT_FOUND,
                page(
                    "Checkout not found",
                    "<h1>This checkout session does not exist.</h1>",
                ),
            )
                .into_response()
        }
        Err(r) => return r,
    };
    let currency = session["currency"].as_str().unwrap_or("").to_uppercase();
    let amount = |minor: i64| amount_text(minor, &currency);
    if session["status"] != "open" {
        let body = format!(
            "<main class=\"card\"><h1>This checkout session is {}.</h1><p>Return to the shop to start again.</p></main>",
            escape(session["status"].as_str().unwrap_or("closed"))
        );
        return (StatusCode::GONE, page("Checkout closed", &body)).into_response();
    }
    let lines: String = session[LINES_KEY]
        .as_array()
        .map(|lines| {
            lines
                .iter()
                .map(|l| {
                    format!(
                        "<tr><td>{} × {}</td><td>{}</td></tr>",
                        l["quantity"],
                        escape(l["name"].as_str().unwrap_or("")),
                        amount(
                            l["unit_amount"].as_i64().unwrap_or(0)
                                * l["quantity"].as_i64().unwrap_or(0)
                        )
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let body = format!(
        r#"<main class="card"><h1>Stripe sandbox checkout</h1>
<p>Pay <strong data-testid="sandbox-amount">{total}</strong>{email}</p>
<p>Merchant reference (<code>client_reference_id</code>): <code data-testid="sandbox-reference">{reference}</code></p>
<table>{lines}</table>
<form method="post">
<p>Test card 4242 4242 4242 4242 is assumed for <strong>Pay</strong>; <strong>Decline</strong> fails the payment; <strong>Cancel</strong> goes back to the shop.</p>
<button class="pay" name="action" value="pay">Pay</button>
<button name="action" value="decline">Decline</button>
<button name="action" value="cancel">Cancel</button>
{controls}
{refund_controls}
</form></main>"#,
        refund_controls = refund_controls(),
        total = amount(session["amount_total"].as_i64().unwrap_or(0)),
        email = session["customer_email"]
            .as_str()
            .map(|e| format!(" as {}", escape(e)))
            .unwrap_or_default(),
        controls = delivery_controls(),
        reference = escape(session["client_reference_id"].as_str().unwrap_or("")),
    );
    page("Stripe sandbox checkout", &body).into_response()
}

fn amount_text(minor: i64, currency: &str) -> String {
    match currency.parse::<app::model::Currency>() {
        Ok(c) => app::model::Money::new(minor, c).to_string(),
        Err(_) => format!("{minor} {}", escape(currency)),
    }
}

async fn hosted_action(
    State(state): State<Sandbox>,
    Path(id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let session = match load(&state, &id).await {
        Ok(Some(s)) => s,
        Ok(None) => return StatusCode::NOT_FOUND.into_response(),
        Err(r) => return r,
    };
    let action = form.get("action").map(String::as_str).unwrap_or("");
    let plan = DeliveryPlan::parse(form.get("webhook").map(String::as_str));
    if action == "cancel" {
        let back = session["cancel_url"]
            .as_str()
            .or(session["success_url"].as_str())
            .unwrap_or("/");
        return Redirect::to(back).into_response();
    }
    if session["status"] != "open" || !matches!(action, "pay" | "decline") {
        return hosted_page(State(state), Path(id)).await;
    }
    let mut completed = session.clone();
    completed["status"] = json!("complete");
    completed["url"] = Value::Null;
    completed["payment_intent"] = json!(random_id("pi_"));
    completed["customer_details"] = json!({"email": session["customer_email"]});
    completed[REFUND_PLAN_KEY] =
        json!(RefundPlan::parse(form.get("refunds").map(String::as_str)).as_str());
    completed[REFUNDED_KEY] = json!(0);
    let unpaid = {
        let mut s = completed.clone();
        s["payment_status"] = json!("unpaid");
        s
    };
    let (stored, events): (Value, Vec<(&str, Value)>) = match (action, plan) {
        ("pay", DeliveryPlan::Reordered) => {
            // A delayed payment method: completed (unpaid), then async success; sent last-first.
            let mut paid = completed.clone();
            paid["payment_status"] = json!("paid");
            (
                paid.clone(),
                vec![
                    ("checkout.session.completed", unpaid.clone()),
                    ("checkout.session.async_payment_succeeded", paid),
                ],
            )
        }
        ("pay", _) => {
            let mut paid = completed.clone();
            paid["payment_status"] = json!("paid");
            (paid.clone(), vec![("checkout.session.completed", paid)])
        }
        _ => (
            unpaid.clone(),
            vec![
                ("checkout.session.completed", unpaid.clone()),
                ("checkout.session.async_payment_failed", unpaid),
            ],
        ),
    };
    match save(&state, &session, &stored).await {
        Ok(true) => {}
        Ok(false) => return hosted_page(State(state), Path(id)).await,
        Err(r) => return r,
    }
    let refs: Vec<(&str, &Value)> = events.iter().map(|(k, v)| (*k, v)).collect();
    send_events(&state, &refs, plan);
    tracing::info!(session = %id, action, at = clock::now_ms(), "stripe sandbox: shopper finished");
    let success = session["success_url"]
        .as_str()
        .unwrap_or("/")
        .replace("{CHECKOUT_SESSION_ID}", &id);
    Redirect::to(&success).into_response()
}

/// The accepted parameters of a refund.
const REFUND_KNOWN: &[&str] = &["payment_intent", "amount", "reason", "metadata", "expand"];

fn refund_id_ok(id: &str) -> bool {
    id.starts_with("re_")
}

/// `POST /v1/refunds`: refund part or all of a completed session's payment intent, at most what
/// is left; idempotent on `Idempotency-Key` like every Stripe POST.
async fn create_refund(
    State(state): State<Sandbox>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let pairs = match api_form(&headers, &body) {
        Ok(p) => p,
        Err(refused) => return *refused,
    };
    if let Some((key, _)) = pairs
        .iter()
        .find(|(k, _)| !REFUND_KNOWN.contains(&k.split('[').next().unwrap_or("")))
    {
        return invalid(&format!("Received unknown parameter: {key}"), Some(key));
    }
    // The claim and the stored reply are writes of their own: the refund commits its own way,
    // and no write transaction is held while the refund's events go out.
    let record_id = match begin_idempotent(&state, None, &headers, &body).await {
        Ok(r) => r,
        Err(replayed) => return replayed,
    };
    let (status, reply) = match make_refund(&state, &pairs).await {
        Ok(refund) => (StatusCode::OK, refund),
        Err((status, reply)) => (status, reply),
    };
    finish_idempotent(&state, None, record_id, status, reply).await
}

fn refund_error(kind: &str, code: &str, message: &str, param: Option<&str>) -> Refusal {
    (
        StatusCode::BAD_REQUEST,
        json!({"error": {"type": kind, "code": code, "message": message, "param": param}}),
    )
}

async fn make_refund(state: &Sandbox, pairs: &[(String, String)]) -> Result<Value, Refusal> {
    let get = |k: &str| {
        pairs
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    let Some(intent) = get("payment_intent").filter(|p| p.starts_with("pi_")) else {
        return Err(refund_error(
            "invalid_request_error",
            "parameter_missing",
            "One of the following params should be provided for this request: payment_intent or charge.",
            Some("payment_intent"),
        ));
    };
    let server_error = |e: &dyn std::fmt::Display| {
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({"error": {"type": "api_error", "message": e.to_string()}}),
        )
    };
    // Sessions change under a compare-and-set: a concurrent refund of the same payment retries.
    for _ in 0..5 {
        let session = {
            let mut conn = state
                .db
                .pool
                .acquire()
                .await
                .map_err(|e| server_error(&e))?;
            store::search(&mut conn, PROVIDER, "cs_", intent)
                .await
                .map_err(|e| server_error(&e))?
                .into_iter()
                .filter_map(|o| serde_json::from_str::<Value>(&o.data).ok())
                .find(|s| s["payment_intent"] == intent)
        };
        let Some(session) = session.filter(|s| s["payment_status"] == "paid") else {
            return Err((
                StatusCode::NOT_FOUND,
                json!({"error": {"type": "invalid_request_error", "code": "resource_missing",
                    "message": format!("No such payment_intent: '{intent}'"), "param": "payment_intent"}}),
            ));
        };
        let plan = RefundPlan::parse(session[REFUND_PLAN_KEY].as_str());
        let charge = format!("ch_{}", intent.trim_start_matches("pi_"));
        if plan == RefundPlan::Refuse {
            return Err(refund_error(
                "invalid_request_error",
                "charge_disputed",
                &format!("Charge {charge} has been charged back; cannot issue a refund."),
                None,
            ));
        }
        let total = session["amount_total"].as_i64().unwrap_or(0);
        let refunded = session[REFUNDED_KEY].as_i64().unwrap_or(0);
        let left = total - refunded;
        let amount = match get("amount") {
            None => left,
            Some(text) => match text.parse::<i64>() {
                Ok(a) if a > 0 => a,
                _ => {
                    return Err(refund_error(
                        "invalid_request_error",
                        "parameter_invalid_integer",
                        "Invalid positive integer",
                        Some("amount"),
                    ))
                }
            },
        };
        let currency = session["currency"].as_str().unwrap_or("").to_string();
        if amount > left || left <= 0 {
            return Err(refund_error(
                "invalid_request_error",
                "amount_too_large",
                &format!(
                    "Refund amount ({}) is greater than unrefunded amount on charge ({})",
                    amount_text(amount, &currency),
                    amount_text(left.max(0), &currency)
                ),
                Some("amount"),
            ));
        }
        let mut after = session.clone();
        after[REFUNDED_KEY] = json!(refunded + amount);
        if !save(state, &session, &after)
            .await
            .map_err(|_| server_error(&"could not save"))?
        {
            continue;
        }
        let metadata: Map<String, Value> = pairs
            .iter()
            .filter_map(|(k, v)| {
                k.strip_prefix("metadata[")
                    .and_then(|rest| rest.strip_suffix(']'))
                    .map(|name| (name.to_string(), json!(v)))
            })
            .collect();
        let refund = json!({
            "id": random_id("re_"),
            "object": "refund",
            "amount": amount,
            "currency": currency,
            "payment_intent": intent,
            "charge": charge,
            "created": clock::now_secs(),
            "metadata": metadata,
            "reason": get("reason"),
            "status": if plan == RefundPlan::Fail { "pending" } else { "succeeded" },
            "failure_reason": null,
        });
        let id = refund["id"].as_str().unwrap_or_default().to_string();
        store::insert_committed(&state.db, PROVIDER, &id, None, "", 200, &refund.to_string())
            .await
            .map_err(|e| server_error(&e))?;
        let charge_object = json!({
            "id": charge,
            "object": "charge",
            "payment_intent": intent,
            "amount": total,
            "amount_refunded": refunded + amount,
            "currency": currency,
            "refunded": refunded + amount == total,
            // Since API version 2022-11-15 a charge lists no refunds (`refunds` is only there
            // when expanded, which an event never is).
        });
        send_objects(
            state,
            &[
                ("refund.created", &refund),
                ("charge.refunded", &charge_object),
            ],
            DeliveryPlan::Normal,
        );
        if plan == RefundPlan::Fail {
            // Like the test card 4000 0000 0000 5126: the refund fails after it was accepted.
            let state = state.clone();
            let (refund, session_id) = (refund.clone(), after["id"].clone());
            tokio::spawn(async move { fail_refund_later(state, refund, session_id).await });
        }
        return Ok(refund);
    }
    Err((
        StatusCode::CONFLICT,
        json!({"error": {"type": "invalid_request_error", "code": "lock_timeout",
            "message": "This object cannot be accessed right now because another API request or Stripe process is currently accessing it."}}),
    ))
}

/// The refund fails: its amount goes back to the payment, and `refund.updated` says so.
async fn fail_refund_later(state: Sandbox, refund: Value, session_id: Value) {
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let id = refund["id"].as_str().unwrap_or_default().to_string();
    let amount = refund["amount"].as_i64().unwrap_or(0);
    let mut failed = refund.clone();
    failed["status"] = json!("failed");
    failed["failure_reason"] = json!("expired_or_canceled_card");
    for _ in 0..5 {
        let Ok(Some(session)) = load(&state, session_id.as_str().unwrap_or_default()).await else {
            return;
        };
        let mut after = session.clone();
        after[REFUNDED_KEY] = json!(session[REFUNDED_KEY].as_i64().unwrap_or(0) - amount);
        if matches!(save(&state, &session, &after).await, Ok(true)) {
            break;
        }
    }
    let _ = store::update_committed(
        &state.db,
        &id,
        200,
        &failed.to_string(),
        Some(&refund.to_string()),
    )
    .await;
    send_objects(&state, &[("refund.updated", &failed)], DeliveryPlan::Normal);
}

/// `GET /v1/refunds/{id}`.
async fn retrieve_refund(
    State(state): State<Sandbox>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if !authenticated(&headers) {
        return unauthenticated();
    }
    let missing = || {
        error(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            &format!("No such refund: '{id}'"),
            Some("id"),
        )
    };
    if !refund_id_ok(&id) {
        return missing();
    }
    let Ok(mut conn) = state.db.pool.acquire().await else {
        return internal("no database connection");
    };
    match store::get(&mut conn, &id).await {
        Ok(Some(object)) => match serde_json::from_str::<Value>(&object.data) {
            Ok(refund) => Json(refund).into_response(),
            Err(e) => internal(e),
        },
        Ok(None) => missing(),
        Err(e) => internal(e),
    }
}
