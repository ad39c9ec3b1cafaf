//! The Stripe sandbox, mounted at `/sandbox/stripe` (docs/sandboxes.md#stripe-sandboxstripe): `POST /v1/checkout/sessions`
//! (form-encoded, bracket nesting, `Idempotency-Key` replay), `GET /v1/checkout/sessions/{id}`,
//! `POST /v1/checkout/sessions/{id}/expire`, and the hosted page `/c/pay/{id}` with **Pay**,
//! **Decline** and **Cancel**. Events are signed with the shop's webhook secret and delivered to
//! `/webhooks/stripe`, retried until acknowledged.

use super::delivery::{self, DeliveryPlan, Message};
use super::dialect::{Dialect, Refusal, Reply};
use super::idempotency::{self, Keyed, Repeat};
use super::objects::{shown, Kind, Loaded, TRIES};
use super::page::{
    card, delivery_controls, escape, is_shop_url, line_row, line_rows, money_text, page,
    refund_controls, RefundPlan, PAY_DECLINE_CANCEL,
};
use super::refunds::{self, Balance, Desk, PLAN_KEY, REFUNDED_KEY};
use super::{clock, wire, Sandbox};
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
/// Sessions (`cs_…`) and refunds (`re_…`) are kept under their own ids.
const SESSIONS: Kind = Kind::new(PROVIDER, "");
const REFUNDS: Kind = Kind::new(PROVIDER, "");
/// Kept inside the stored session, never shown: the line items.
const LINES_KEY: &str = "_sandbox_line_items";

pub fn routes() -> Router<Sandbox> {
    Router::new()
        .route("/v1/checkout/sessions", post(create_session))
        .route("/v1/checkout/sessions/{id}", get(retrieve_session))
        .route("/v1/checkout/sessions/{id}/expire", post(expire_session))
        .route("/v1/refunds", post(create_refund))
        .route("/v1/refunds/{id}", get(retrieve_refund))
        .route("/c/pay/{id}", get(hosted_page).post(hosted_action))
}

/// Stripe's way of refusing: `{"error": {"type", "message", "param"…}}`.
pub struct Stripe;

type Error = Refusal<Stripe>;

impl Dialect for Stripe {
    const NAME: &'static str = "stripe";
    type Body = Json<Value>;

    fn internal() -> Error {
        Error::api(
            StatusCode::INTERNAL_SERVER_ERROR,
            "api_error",
            "sandbox error",
            None,
        )
    }
}

impl Error {
    fn api(status: StatusCode, kind: &str, message: &str, param: Option<&str>) -> Error {
        let mut body = json!({"error": {"type": kind, "message": message}});
        if let Some(p) = param {
            body["error"]["param"] = json!(p);
        }
        Refusal::new(status, Json(body))
    }

    fn invalid(message: &str, param: Option<&str>) -> Error {
        Error::api(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            message,
            param,
        )
    }

    fn unknown(key: &str) -> Error {
        Error::invalid(&format!("Received unknown parameter: {key}"), Some(key))
    }

    fn no_such(what: &str, id: &str, param: &str) -> Error {
        let message = format!("No such {what}: '{id}'");
        Error::api(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            &message,
            Some(param),
        )
    }

    /// A refused refund: with its error `code`, and `param` even when there is none.
    fn refund(status: StatusCode, code: &str, message: &str, param: Option<&str>) -> Error {
        let error = json!({"type": "invalid_request_error", "code": code, "message": message, "param": param});
        Refusal::new(status, Json(json!({ "error": error })))
    }
}

/// Like Stripe: a secret key as Bearer, or as the Basic user name.
fn authenticated(headers: &HeaderMap) -> Result<(), Error> {
    let ok =
        wire::authorization(headers).is_some_and(|value| match value.strip_prefix("Bearer ") {
            Some(key) => key.starts_with("sk_") || key.starts_with("rk_"),
            None => value.starts_with("Basic "),
        });
    if ok {
        return Ok(());
    }
    Err(Error::api(
        StatusCode::UNAUTHORIZED,
        "invalid_request_error",
        "You did not provide an API key. Provide your secret key as a Bearer token.",
        None,
    ))
}

fn random_id(prefix: &str) -> String {
    format!("{prefix}{}", wire::random_hex(32))
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
fn build_session(pairs: &[(String, String)], state: &Sandbox) -> Result<Value, Error> {
    let public_url = &*state.shop_url;
    let mut top: HashMap<&str, &str> = HashMap::new();
    let mut lines: Vec<Map<String, Value>> = Vec::new();
    let mut metadata = Map::new();
    for (key, value) in pairs {
        let name = key.split('[').next().unwrap_or("");
        if !KNOWN.contains(&name) {
            return Err(Error::unknown(key));
        }
        if let Some(rest) = key.strip_prefix("line_items[") {
            let (index, field) = rest
                .split_once(']')
                .ok_or_else(|| Error::invalid("Invalid line_items", Some(key)))?;
            let index: usize = index
                .parse()
                .map_err(|_| Error::invalid("Invalid array index", Some(key)))?;
            if index > 99 {
                return Err(Error::invalid("Too many line items", Some(key)));
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
        return Err(Error::invalid(
            "The sandbox supports mode=payment only.",
            Some("mode"),
        ));
    }
    let success_url = top.get("success_url").ok_or_else(|| {
        Error::invalid("Missing required param: success_url.", Some("success_url"))
    })?;
    for param in ["success_url", "cancel_url"] {
        if top
            .get(param)
            .is_some_and(|url| !is_shop_url(url, public_url))
        {
            return Err(Error::invalid(
                &format!(
                    "The sandbox only sends shoppers back to the shop's own origin ({public_url})."
                ),
                Some(param),
            ));
        }
    }
    if lines.is_empty() {
        return Err(Error::invalid(
            "Missing required param: line_items.",
            Some("line_items"),
        ));
    }
    let mut currency: Option<String> = None;
    let mut total: i64 = 0;
    let mut stored_lines = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let field = |f: &str| line.get(f).and_then(Value::as_str).map(str::to_string);
        let invalid =
            |message: &str, f: &str| Error::invalid(message, Some(&format!("line_items[{i}]{f}")));
        let (currency_param, unit_param) = ("[price_data][currency]", "[price_data][unit_amount]");
        let c = field(currency_param)
            .ok_or_else(|| invalid("Missing price_data currency", currency_param))?;
        if c.len() != 3 || !c.chars().all(|ch| ch.is_ascii_alphabetic()) {
            return Err(invalid(&format!("Invalid currency: {c}"), currency_param));
        }
        if currency.get_or_insert(c.clone()) != &c {
            return Err(invalid(
                "All line items must share one currency.",
                currency_param,
            ));
        }
        let unit: i64 = field(unit_param)
            .and_then(|v| v.parse().ok())
            .filter(|v| *v >= 0)
            .ok_or_else(|| invalid("Invalid integer: unit_amount", unit_param))?;
        let quantity: i64 = field("[quantity]")
            .and_then(|v| v.parse().ok())
            .filter(|v| *v >= 1)
            .ok_or_else(|| invalid("Invalid integer: quantity", "[quantity]"))?;
        let name_param = "[price_data][product_data][name]";
        let name =
            field(name_param).ok_or_else(|| invalid("Missing product_data name", name_param))?;
        total = unit
            .checked_mul(quantity)
            .and_then(|l| total.checked_add(l))
            .ok_or_else(|| Error::invalid("Amount too large", None))?;
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

/// An API POST's form fields, once its key is accepted.
fn api_form(headers: &HeaderMap, body: &[u8]) -> Result<Vec<(String, String)>, Error> {
    authenticated(headers)?;
    serde_urlencoded::from_bytes(body)
        .map_err(|_| Error::invalid("Invalid form-encoded body", None))
}

/// Like every Stripe POST: idempotent on `Idempotency-Key`.
fn idempotency_key(headers: &HeaderMap) -> Option<&str> {
    headers.get("idempotency-key")?.to_str().ok()
}

/// Stripe's answers to a repeated `Idempotency-Key`: the stored reply, a changed request
/// (`idempotency_error`), a concurrent twin (409); every answer carries a `request-id`.
impl Keyed for Stripe {
    const RULES: &'static idempotency::Rules = &idempotency::STRIPE;

    fn repeat(repeat: Repeat) -> Response {
        let conflict = |status, message| Error::api(status, "idempotency_error", message, None);
        match repeat {
            Repeat::OtherRequest => conflict(
                StatusCode::BAD_REQUEST,
                "Keys for idempotent requests can only be used with the same parameters they were first used with.",
            )
            .into_response(),
            Repeat::InProgress => conflict(
                StatusCode::CONFLICT,
                "There is currently another in-progress request using this Idempotent Key.",
            )
            .into_response(),
            Repeat::Replay { status, body } => {
                let headers = [
                    ("idempotent-replayed", "true".to_string()),
                    ("request-id", random_id("req_")),
                ];
                (status, headers, Json(body)).into_response()
            }
        }
    }

    fn answer(status: StatusCode, body: Value) -> Response {
        (status, [("request-id", random_id("req_"))], Json(body)).into_response()
    }
}

async fn create_session(
    State(state): State<Sandbox>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Reply<Stripe> {
    let pairs = api_form(&headers, &body)?;
    // The key's claim, the session and the stored reply in one commit: a twin with the same key
    // waits for it and gets the reply, and a failure leaves no claim behind.
    let mut tx = state.db.begin_write().await?;
    let key = idempotency_key(&headers);
    let reply = idempotency::once(&state.db, Some(&mut tx), key, &body, async |tx| {
        let session = build_session(&pairs, &state)?;
        let id = session["id"].as_str().unwrap_or_default();
        SESSIONS.insert_in(&state.db, tx, id, &session).await?;
        Ok((StatusCode::OK, shown(&session)))
    })
    .await?;
    tx.commit().await?;
    Ok(reply)
}

/// A session, for the API and the hosted page (a refund's id is not one).
async fn load(state: &Sandbox, id: &str) -> Result<Option<Loaded<Value>>, sqlx::Error> {
    if !id.starts_with("cs_") {
        return Ok(None);
    }
    SESSIONS.load(&state.db, id).await
}

/// An API call on one session: authenticated, and the session must exist.
async fn api_session(
    state: &Sandbox,
    headers: &HeaderMap,
    id: &str,
) -> Result<Loaded<Value>, Error> {
    authenticated(headers)?;
    let found = load(state, id).await?;
    found.ok_or_else(|| Error::no_such("checkout.session", id, "session"))
}

async fn retrieve_session(
    State(state): State<Sandbox>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Reply<Stripe> {
    let session = api_session(&state, &headers, &id).await?;
    Ok(Json(shown(&session)).into_response())
}

async fn expire_session(
    State(state): State<Sandbox>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Reply<Stripe> {
    let session = api_session(&state, &headers, &id).await?;
    if session["status"] != "open" {
        return Err(Error::invalid(
            "Only Checkout Sessions with a status of `open` can be expired.",
            None,
        ));
    }
    let mut expired = session.value.clone();
    expired["status"] = json!("expired");
    expired["url"] = Value::Null;
    if !session.save(&state.db, &expired).await? {
        return Err(Error::invalid("The session changed; retry.", None));
    }
    send_events(
        &state,
        &[("checkout.session.expired", &expired)],
        DeliveryPlan::Normal,
    );
    Ok(Json(shown(&expired)).into_response())
}

/// Sign and deliver events about these objects (shown as the API shows them) to the shop's Stripe
/// webhook endpoint.
fn send_events(state: &Sandbox, events: &[(&str, &Value)], plan: DeliveryPlan) {
    // Always the fixed sandbox secret: this sandbox is only mounted while the shop uses it.
    let secret = sandbox_keys::STRIPE_WEBHOOK_SECRET;
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
                "data": {"object": shown(object)},
            });
            let body = event.to_string().into_bytes();
            let header = signature::sign(&body, secret, clock::now_secs());
            let url = state.webhook_url(PROVIDER);
            Message::new(url, "application/json; charset=utf-8", body)
                .header("stripe-signature", header)
        })
        .collect();
    delivery::spawn(state, messages, plan);
}

async fn hosted_page(State(state): State<Sandbox>, Path(id): Path<String>) -> Reply<Stripe> {
    let Some(session) = load(&state, &id).await? else {
        return Ok((
            StatusCode::NOT_FOUND,
            page(
                "Checkout not found",
                "<h1>This checkout session does not exist.</h1>",
            ),
        )
            .into_response());
    };
    let currency = session["currency"].as_str().unwrap_or("").to_uppercase();
    let amount = |minor: i64| money_text(minor, &currency);
    if session["status"] != "open" {
        let status = escape(session["status"].as_str().unwrap_or("closed"));
        return Ok(card(
            StatusCode::GONE,
            "Checkout closed",
            &format!("This checkout session is {status}."),
            Some("Return to the shop to start again."),
        ));
    }
    let lines = line_rows(&session[LINES_KEY], |l| {
        let quantity = l["quantity"].as_i64().unwrap_or(0);
        let name = escape(l["name"].as_str().unwrap_or(""));
        let unit = l["unit_amount"].as_i64().unwrap_or(0);
        line_row(&l["quantity"].to_string(), &name, &amount(unit * quantity))
    });
    let body = format!(
        r#"<main class="card"><h1>Stripe sandbox checkout</h1>
<p>Pay <strong data-testid="sandbox-amount">{total}</strong>{email}</p>
<p>Merchant reference (<code>client_reference_id</code>): <code data-testid="sandbox-reference">{reference}</code></p>
<table>{lines}</table>
<form method="post">
<p>Test card 4242 4242 4242 4242 is assumed for <strong>Pay</strong>; <strong>Decline</strong> fails the payment; <strong>Cancel</strong> goes back to the shop.</p>
{PAY_DECLINE_CANCEL}
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
    Ok(page("Stripe sandbox checkout", &body))
}

async fn hosted_action(
    State(state): State<Sandbox>,
    Path(id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Reply<Stripe> {
    let Some(session) = load(&state, &id).await? else {
        return Ok(StatusCode::NOT_FOUND.into_response());
    };
    let action = wire::field(&form, "action");
    let plan = DeliveryPlan::chosen(&form);
    if action == "cancel" {
        let back = session["cancel_url"]
            .as_str()
            .or(session["success_url"].as_str())
            .unwrap_or("/");
        return Ok(Redirect::to(back).into_response());
    }
    if session["status"] != "open" || !matches!(action, "pay" | "decline") {
        return hosted_page(State(state), Path(id)).await;
    }
    let mut completed = session.value.clone();
    completed["status"] = json!("complete");
    completed["url"] = Value::Null;
    completed["payment_intent"] = json!(random_id("pi_"));
    completed["customer_details"] = json!({"email": session["customer_email"]});
    completed[PLAN_KEY] = json!(RefundPlan::chosen(&form).as_str());
    completed[REFUNDED_KEY] = json!(0);
    let unpaid = {
        let mut s = completed.clone();
        s["payment_status"] = json!("unpaid");
        s
    };
    let mut paid = completed.clone();
    paid["payment_status"] = json!("paid");
    let (stored, events): (&Value, Vec<(&str, &Value)>) = match (action, plan) {
        // A delayed payment method: completed (unpaid), then async success; sent last-first.
        ("pay", DeliveryPlan::Reordered) => (
            &paid,
            vec![
                ("checkout.session.completed", &unpaid),
                ("checkout.session.async_payment_succeeded", &paid),
            ],
        ),
        ("pay", _) => (&paid, vec![("checkout.session.completed", &paid)]),
        _ => (
            &unpaid,
            vec![
                ("checkout.session.completed", &unpaid),
                ("checkout.session.async_payment_failed", &unpaid),
            ],
        ),
    };
    if !session.save(&state.db, stored).await? {
        return hosted_page(State(state), Path(id)).await;
    }
    send_events(&state, &events, plan);
    tracing::info!(session = %id, action, at = clock::now_ms(), "stripe sandbox: shopper finished");
    let success = session["success_url"]
        .as_str()
        .unwrap_or("/")
        .replace("{CHECKOUT_SESSION_ID}", &id);
    Ok(Redirect::to(&success).into_response())
}

/// The accepted parameters of a refund.
const REFUND_KNOWN: &[&str] = &["payment_intent", "amount", "reason", "metadata", "expand"];

/// `POST /v1/refunds`: refund part or all of a completed session's payment intent, at most what
/// is left; idempotent on `Idempotency-Key` like every Stripe POST.
async fn create_refund(
    State(state): State<Sandbox>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Reply<Stripe> {
    let pairs = api_form(&headers, &body)?;
    if let Some((key, _)) = pairs
        .iter()
        .find(|(k, _)| !REFUND_KNOWN.contains(&k.split('[').next().unwrap_or("")))
    {
        return Err(Error::unknown(key));
    }
    // The claim and the stored reply are writes of their own: the refund commits its own way,
    // and no write transaction is held while the refund's events go out.
    let key = idempotency_key(&headers);
    idempotency::once(&state.db, None, key, &body, async |_| {
        Ok((StatusCode::OK, make_refund(&state, &pairs).await?))
    })
    .await
}

/// Stripe's refunds: of a paid session's payment intent, kept under the refund's id.
impl Desk for Stripe {
    const PAYMENTS: Kind = SESSIONS;
    const REFUNDS: Kind = REFUNDS;

    fn total(session: &Value) -> i64 {
        session["amount_total"].as_i64().unwrap_or(0)
    }

    fn failed(refund: &Value) -> Value {
        let mut failed = refund.clone();
        failed["status"] = json!("failed");
        failed["failure_reason"] = json!("expired_or_canceled_card");
        failed
    }

    async fn send_failed(state: &Sandbox, failed: Value) {
        send_events(state, &[("refund.updated", &failed)], DeliveryPlan::Normal);
    }
}

async fn make_refund(state: &Sandbox, pairs: &[(String, String)]) -> Result<Value, Error> {
    let get = |k: &str| {
        pairs
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    let Some(intent) = get("payment_intent").filter(|p| p.starts_with("pi_")) else {
        return Err(Error::refund(
            StatusCode::BAD_REQUEST,
            "parameter_missing",
            "One of the following params should be provided for this request: payment_intent or charge.",
            Some("payment_intent"),
        ));
    };
    // Sessions change under a compare-and-set: a concurrent refund of the same payment retries.
    for _ in 0..TRIES {
        let session = SESSIONS
            .search::<Value>(&state.db, intent)
            .await?
            .into_iter()
            .find(|s| s.id().starts_with("cs_") && s["payment_intent"] == intent);
        let Some(session) = session.filter(|s| s["payment_status"] == "paid") else {
            return Err(Error::refund(
                StatusCode::NOT_FOUND,
                "resource_missing",
                &format!("No such payment_intent: '{intent}'"),
                Some("payment_intent"),
            ));
        };
        let balance = Balance::of::<Stripe>(&session);
        let charge = format!("ch_{}", intent.trim_start_matches("pi_"));
        if balance.plan == RefundPlan::Refuse {
            return Err(Error::refund(
                StatusCode::BAD_REQUEST,
                "charge_disputed",
                &format!("Charge {charge} has been charged back; cannot issue a refund."),
                None,
            ));
        }
        let left = balance.left();
        let amount = match get("amount") {
            None => left,
            Some(text) => match text.parse::<i64>() {
                Ok(a) if a > 0 => a,
                _ => {
                    return Err(Error::refund(
                        StatusCode::BAD_REQUEST,
                        "parameter_invalid_integer",
                        "Invalid positive integer",
                        Some("amount"),
                    ))
                }
            },
        };
        let currency = session["currency"].as_str().unwrap_or("");
        if amount > left || left <= 0 {
            return Err(Error::refund(
                StatusCode::BAD_REQUEST,
                "amount_too_large",
                &format!(
                    "Refund amount ({}) is greater than unrefunded amount on charge ({})",
                    money_text(amount, currency),
                    money_text(left.max(0), currency)
                ),
                Some("amount"),
            ));
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
            "status": if balance.plan == RefundPlan::Fail { "pending" } else { "succeeded" },
            "failure_reason": null,
        });
        if !refunds::take::<Stripe>(state, &session, amount, &refund).await? {
            continue;
        }
        let refunded = balance.refunded + amount;
        let charge_object = json!({
            "id": charge,
            "object": "charge",
            "payment_intent": intent,
            "amount": balance.total,
            "amount_refunded": refunded,
            "currency": currency,
            "refunded": refunded == balance.total,
            // Since API version 2022-11-15 a charge lists no refunds (`refunds` is only there
            // when expanded, which an event never is).
        });
        send_events(
            state,
            &[
                ("refund.created", &refund),
                ("charge.refunded", &charge_object),
            ],
            DeliveryPlan::Normal,
        );
        return Ok(refund);
    }
    let busy = json!({"type": "invalid_request_error", "code": "lock_timeout",
        "message": "This object cannot be accessed right now because another API request or Stripe process is currently accessing it."});
    Err(Refusal::new(
        StatusCode::CONFLICT,
        Json(json!({ "error": busy })),
    ))
}

/// `GET /v1/refunds/{id}`.
async fn retrieve_refund(
    State(state): State<Sandbox>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Reply<Stripe> {
    authenticated(&headers)?;
    let refund = if id.starts_with("re_") {
        REFUNDS.load::<Value>(&state.db, &id).await?
    } else {
        None
    };
    match refund {
        Some(refund) => Ok(Json(refund.value).into_response()),
        None => Err(Error::no_such("refund", &id, "id")),
    }
}
