//! The SSLCOMMERZ sandbox, mounted at `/sandbox/sslcommerz` (docs/sandboxes.md#sslcommerz-sandboxsslcommerz): the session API
//! (`/gwprocess/v4/api.php`), a hosted page with **Pay**, **Decline** and **Cancel** that posts the
//! shopper back to success / fail / cancel URLs and sends a signed IPN (retried until a 2xx), and
//! the validation and transaction-query APIs (GET or POST; VALID first, then VALIDATED), and the
//! refund API on the same endpoint (`refund_trans_id` required: at most 30 characters, one refund
//! each). As at SSLCOMMERZ, `verify_key` names every callback field, but empty ones are not posted.

use super::delivery::{self, DeliveryPlan, Message};
use super::dialect::{self, Dialect, Refusal, Reply};
use super::objects::{Kind, Loaded, TRIES};
use super::page::{
    card, delivery_controls, escape, hidden, is_shop_url, page, page_with_scripts, refund_controls,
    RefundPlan,
};
use super::refunds::PLAN_KEY as REFUND_PLAN_KEY;
use super::{clock, wire, Sandbox};
use app::model::{Currency, Money};
use app::server::payments::sslcommerz::verify_sign::{password_md5, sign_with_password_md5};
use app::server::payments::sslcommerz::{parse_amount, INIT_PATH, QUERY_PATH, VALIDATION_PATH};
use axum::extract::{FromRequest, Multipart, Query, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};

const PROVIDER: &str = "sslcommerz";
const SESSIONS: Kind = Kind::new(PROVIDER, "sslcz:");
const GATEWAY_PATH: &str = "/gwprocess/v4/gw.php";

pub fn routes() -> Router<Sandbox> {
    Router::new()
        .route(INIT_PATH, post(init_session))
        .route(GATEWAY_PATH, get(hosted_page).post(hosted_action))
        .route(VALIDATION_PATH, get(validation).post(validation))
        .route(QUERY_PATH, get(transaction_query).post(transaction_query))
}

/// SSLCOMMERZ refuses inside HTTP 200 answers (`FAILED`, `INVALID_REQUEST`, `failed`); a plain
/// 500 when the sandbox fails.
pub struct Sslcommerz;

type Error = Refusal<Sslcommerz>;

impl Dialect for Sslcommerz {
    const NAME: &'static str = "sslcommerz";
    type Body = Response;

    fn internal() -> Error {
        dialect::plain_internal()
    }
}

/// A session request refused.
fn failed(reason: &str) -> Error {
    let answer =
        json!({"status": "FAILED", "failedreason": reason, "sessionkey": "", "GatewayPageURL": ""});
    Json(answer).into_response().into()
}

const REQUIRED: &[&str] = &[
    "store_id",
    "store_passwd",
    "total_amount",
    "currency",
    "tran_id",
    "success_url",
    "fail_url",
    "cancel_url",
    "cus_name",
    "cus_email",
    "cus_add1",
    "cus_city",
    "cus_postcode",
    "cus_country",
    "cus_phone",
    "shipping_method",
    "product_name",
    "product_category",
    "product_profile",
];

/// The session request's fields, form-urlencoded (python SDK, most libraries) or multipart (the
/// node SDK).
async fn session_fields(
    state: &Sandbox,
    request: Request,
) -> Result<HashMap<String, String>, Error> {
    let multipart = request
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    if !multipart {
        let Form(form) = Form::<HashMap<String, String>>::from_request(request, state)
            .await
            .map_err(|_| failed("Invalid request body"))?;
        return Ok(form);
    }
    let mut parts = Multipart::from_request(request, state)
        .await
        .map_err(|_| failed("Invalid multipart body"))?;
    let mut form = HashMap::new();
    while let Some(field) = parts
        .next_field()
        .await
        .map_err(|_| failed("Invalid multipart body"))?
    {
        let name = field.name().unwrap_or_default().to_string();
        let value = field
            .text()
            .await
            .map_err(|_| failed("Invalid multipart body"))?;
        form.insert(name, value);
    }
    Ok(form)
}

async fn init_session(State(state): State<Sandbox>, request: Request) -> Reply<Sslcommerz> {
    let form = session_fields(&state, request).await?;
    let field = |k: &str| wire::field(&form, k).trim();
    if let Some(missing) = REQUIRED.iter().find(|k| field(k).is_empty()) {
        return Err(failed(&format!("{missing} is required")));
    }
    let Ok(currency) = field("currency").parse::<Currency>() else {
        return Err(failed("Invalid currency"));
    };
    let Some(amount) = parse_amount(field("total_amount"), currency) else {
        return Err(failed("Invalid total_amount"));
    };
    if currency == Currency::Bdt && !(1_000..=50_000_000).contains(&amount) {
        return Err(failed(
            "total_amount must be between 10.00 and 500000.00 BDT",
        ));
    }
    let shop = &*state.shop_url;
    for param in ["success_url", "fail_url", "cancel_url"] {
        if !is_shop_url(field(param), shop) {
            return Err(failed(&format!(
                "{param} must be a URL on the shop's own origin ({shop})"
            )));
        }
    }
    if !field("ipn_url").is_empty() && !is_shop_url(field("ipn_url"), shop) {
        return Err(failed(&format!(
            "ipn_url must be a URL on the shop's own origin ({shop})"
        )));
    }
    if field("tran_id").len() > 30 {
        return Err(failed("tran_id must be at most 30 characters"));
    }
    let session_key = wire::random_upper(32);
    let keep = |k: &str| json!(field(k));
    let session = json!({
        "sessionkey": session_key,
        "store_id": field("store_id"),
        "passwd_md5": password_md5(field("store_passwd")),
        "total_amount": amount,
        "currency": currency.code(),
        "tran_id": field("tran_id"),
        "success_url": keep("success_url"),
        "fail_url": keep("fail_url"),
        "cancel_url": keep("cancel_url"),
        "ipn_url": keep("ipn_url"),
        "cus_name": keep("cus_name"),
        "cus_email": keep("cus_email"),
        "product_name": keep("product_name"),
        "value_a": keep("value_a"), "value_b": keep("value_b"),
        "value_c": keep("value_c"), "value_d": keep("value_d"),
        "status": "PENDING",
        "transactions": [],
    });
    SESSIONS.insert(&state.db, &session_key, &session).await?;
    let gateway = format!(
        "{}/sandbox/sslcommerz{GATEWAY_PATH}?Q=pay&SESSIONKEY={session_key}",
        state.site_url
    );
    Ok(Json(json!({
        "status": "SUCCESS",
        "failedreason": "",
        "sessionkey": session_key,
        "gw": {"visa": "", "master": "", "amex": "", "othercards": "", "internetbanking": "", "mobilebanking": ""},
        "redirectGatewayURL": "",
        "directPaymentURLBank": "",
        "directPaymentURLCard": "",
        "directPaymentURL": "",
        "redirectGatewayURLFailed": "",
        "GatewayPageURL": gateway,
        "storeBanner": "",
        "storeLogo": "",
        "store_name": "Storefront sandbox store",
        "desc": [],
        "is_direct_pay_enable": "0",
    }))
    .into_response())
}

/// The session's currency, BDT by default.
fn currency_of(session: &Value) -> Currency {
    let currency = session["currency"].as_str().and_then(|c| c.parse().ok());
    currency.unwrap_or(Currency::Bdt)
}

fn amount_text(session: &Value) -> String {
    let minor = session["total_amount"].as_i64().unwrap_or(0);
    Money::new(minor, currency_of(session)).to_decimal_string()
}

async fn hosted_page(
    State(state): State<Sandbox>,
    Query(query): Query<HashMap<String, String>>,
) -> Reply<Sslcommerz> {
    let key = wire::field(&query, "SESSIONKEY");
    let Some(session) = SESSIONS.load::<Value>(&state.db, key).await? else {
        let invalid = page("Session not found", "<h1>Invalid session.</h1>");
        return Ok((StatusCode::NOT_FOUND, invalid).into_response());
    };
    if session["status"] != "PENDING" {
        let closed = "This payment session is closed.";
        return Ok(card(StatusCode::GONE, "Session closed", closed, None));
    }
    let body = format!(
        r#"<main class="card"><h1>SSLCOMMERZ sandbox payment</h1>
<p>{store} asks for <strong data-testid="sandbox-amount">{currency} {amount}</strong> for {product}.</p>
<p>Transaction (<code>tran_id</code>): <code data-testid="sandbox-reference">{tran_id}</code></p>
<form method="post">
<p>Test card 4111 1111 1111 1111 is assumed for <strong>Pay</strong>; <strong>Pay, flagged risky</strong> pays with SSLCOMMERZ's <code>risk_level</code> 1; <strong>Decline</strong> fails it; <strong>Cancel</strong> returns to the shop.</p>
<button class="pay" name="action" value="pay">Pay</button>
<button name="action" value="risky">Pay, flagged risky</button>
<button name="action" value="decline">Decline</button>
<button name="action" value="cancel">Cancel</button>
{controls}
{refund_controls}
</form></main>"#,
        refund_controls = refund_controls(),
        store = "Storefront sandbox store",
        currency = escape(session["currency"].as_str().unwrap_or("")),
        amount = amount_text(&session),
        product = escape(session["product_name"].as_str().unwrap_or("")),
        controls = delivery_controls(),
        tran_id = escape(session["tran_id"].as_str().unwrap_or("")),
    );
    Ok(page("SSLCOMMERZ sandbox payment", &body))
}

/// Sends the browser back to the shop with SSLCOMMERZ's fields, as SSLCOMMERZ's own page does.
const AUTO_SUBMIT: &str = "document.getElementById('back').submit()";

/// The fields SSLCOMMERZ posts to the shop (browser and IPN), signed with `verify_sign`.
fn callback_fields(
    session: &Value,
    status: &str,
    val_id: &str,
    risky: bool,
) -> BTreeMap<String, String> {
    let s = |k: &str| session[k].as_str().unwrap_or("").to_string();
    let amount = amount_text(session);
    let tran_date = clock::spaced_now();
    let mut f = BTreeMap::new();
    let mut put = |k: &str, v: String| {
        f.insert(k.to_string(), v);
    };
    put("status", status.to_string());
    put("tran_date", tran_date);
    put("tran_id", s("tran_id"));
    put("val_id", val_id.to_string());
    put("amount", amount.clone());
    put("store_amount", amount.clone());
    put("currency", s("currency"));
    put(
        "bank_tran_id",
        format!("SBX{}", uuid::Uuid::new_v4().simple()),
    );
    put("card_type", "VISA-Dutch Bangla".into());
    put("card_no", "411111XXXXXX1111".into());
    put("card_issuer", "STANDARD CHARTERED BANK".into());
    put("card_brand", "VISA".into());
    put("card_issuer_country", "Bangladesh".into());
    put("card_issuer_country_code", "BD".into());
    put("currency_type", s("currency"));
    put("currency_amount", amount);
    put("currency_rate", "1.0000".into());
    put("base_fair", "0.00".into());
    for k in ["value_a", "value_b", "value_c", "value_d"] {
        put(k, s(k));
    }
    if risky {
        put("risk_level", "1".into());
        put(
            "risk_title",
            "Card holder not verified (sandbox test control)".into(),
        );
    } else {
        put("risk_level", "0".into());
        put("risk_title", "Safe".into());
    }
    put("store_id", s("store_id"));
    if status == "FAILED" {
        put("error", "Declined by the sandbox (test control)".into());
    }
    // Like SSLCOMMERZ, `verify_key` names every field, but empty ones are not posted.
    let verify_key = f.keys().cloned().collect::<Vec<_>>().join(",");
    f.retain(|_, v| !v.is_empty());
    let sign = sign_with_password_md5(
        &f,
        &verify_key,
        session["passwd_md5"].as_str().unwrap_or(""),
    )
    .unwrap_or_default();
    f.insert("verify_sign".into(), sign);
    f.insert("verify_key".into(), verify_key);
    f
}

async fn hosted_action(
    State(state): State<Sandbox>,
    Query(query): Query<HashMap<String, String>>,
    Form(form): Form<HashMap<String, String>>,
) -> Reply<Sslcommerz> {
    let key = wire::field(&query, "SESSIONKEY");
    let session = match SESSIONS.load::<Value>(&state.db, key).await? {
        Some(s) if s["status"] == "PENDING" => s,
        _ => return hosted_page(State(state), Query(query)).await,
    };
    let (status, back) = match form.get("action").map(String::as_str) {
        Some("pay" | "risky") => ("VALID", "success_url"),
        Some("decline") => ("FAILED", "fail_url"),
        Some("cancel") => ("CANCELLED", "cancel_url"),
        _ => return hosted_page(State(state), Query(query)).await,
    };
    let val_id = if status == "VALID" {
        format!("{}{}", clock::compact_now(), wire::random_hex(32))
    } else {
        String::new()
    };
    let risky = form.get("action").map(String::as_str) == Some("risky");
    let fields = callback_fields(&session, status, &val_id, risky);
    let mut updated = session.value.clone();
    updated["status"] = json!(status);
    let mut transaction: serde_json::Map<String, Value> =
        fields.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
    transaction.insert("validated".into(), json!(false));
    let refunds = RefundPlan::chosen(&form);
    transaction.insert(REFUND_PLAN_KEY.into(), json!(refunds.as_str()));
    if let Some(list) = updated["transactions"].as_array_mut() {
        list.push(Value::Object(transaction));
    }
    if !session.save(&state.db, &updated).await? {
        return hosted_page(State(state), Query(query)).await;
    }
    let body = serde_urlencoded::to_string(&fields).unwrap_or_default();
    let ipn_url = session["ipn_url"].as_str().unwrap_or("");
    if !ipn_url.is_empty() {
        let content_type = "application/x-www-form-urlencoded";
        let message = Message::new(state.reach(ipn_url), content_type, body);
        delivery::spawn(&state, vec![message], DeliveryPlan::chosen(&form));
    }
    // The browser goes back with the same fields, as an auto-submitted POST.
    let action = session[back].as_str().unwrap_or("/");
    let inputs: String = fields.iter().map(|(k, v)| hidden(k, v)).collect();
    let html = format!(
        r#"<main class="card"><h1>Returning to the shop…</h1>
<form id="back" method="post" action="{action}">{inputs}<button class="pay">Continue to the shop</button></form>
<script>{AUTO_SUBMIT}</script></main>"#,
        action = escape(action)
    );
    Ok(page_with_scripts(
        "Returning to the shop",
        &html,
        &[AUTO_SUBMIT],
    ))
}

/// Query string and form body merged (the node SDK POSTs what the docs call GET).
fn merged(query: HashMap<String, String>, body: &[u8]) -> HashMap<String, String> {
    let mut all = query;
    if let Ok(form) = serde_urlencoded::from_bytes::<Vec<(String, String)>>(body) {
        all.extend(form);
    }
    all
}

/// Sessions whose store credentials match the request (`INVALID_REQUEST` without credentials).
async fn sessions_matching(
    state: &Sandbox,
    params: &HashMap<String, String>,
    needle: &str,
) -> Result<Vec<Loaded<Value>>, Error> {
    let store_id = wire::field(params, "store_id");
    let passwd = wire::field(params, "store_passwd");
    if store_id.is_empty() || passwd.is_empty() {
        return Err(invalid_request());
    }
    let found = SESSIONS.search::<Value>(&state.db, needle).await?;
    Ok(found
        .into_iter()
        .filter(|s| s["store_id"] == store_id && s["passwd_md5"] == password_md5(passwd))
        .collect())
}

fn invalid_request() -> Error {
    let answer = json!({"APIConnect": "INVALID_REQUEST", "status": "INVALID_REQUEST"});
    Json(answer).into_response().into()
}

async fn validation(
    State(state): State<Sandbox>,
    Query(query): Query<HashMap<String, String>>,
    body: axum::body::Bytes,
) -> Reply<Sslcommerz> {
    let params = merged(query, &body);
    let val_id = wire::field(&params, "val_id");
    if val_id.is_empty() {
        return Err(invalid_request());
    }
    for session in sessions_matching(&state, &params, val_id).await? {
        let Some(list) = session["transactions"].as_array() else {
            continue;
        };
        let Some(index) = list.iter().position(|t| t["val_id"] == val_id) else {
            continue;
        };
        let mut updated = session.value.clone();
        let first = !list[index]["validated"].as_bool().unwrap_or(false);
        updated["transactions"][index]["validated"] = json!(true);
        if first {
            session.overwrite(&state.db, &updated).await?;
        }
        let t = &list[index];
        let mut answer = t.clone();
        if let Some(map) = answer.as_object_mut() {
            for k in [
                "verify_sign",
                "verify_key",
                "validated",
                "status",
                REFUND_PLAN_KEY,
            ] {
                map.remove(k);
            }
            map.insert(
                "status".into(),
                json!(if first { "VALID" } else { "VALIDATED" }),
            );
            map.insert("validated_on".into(), t["tran_date"].clone());
            map.insert("gw_version".into(), json!("sandbox"));
            map.insert("APIConnect".into(), json!("DONE"));
        }
        return Ok(Json(answer).into_response());
    }
    let invalid = json!({"APIConnect": "DONE", "status": "INVALID_TRANSACTION", "val_id": val_id});
    Ok(Json(invalid).into_response())
}

async fn transaction_query(
    State(state): State<Sandbox>,
    Query(query): Query<HashMap<String, String>>,
    body: axum::body::Bytes,
) -> Reply<Sslcommerz> {
    let params = merged(query, &body);
    // The same endpoint initiates refunds and answers refund queries (docs/payments.md#sslcommerz).
    if params.contains_key("refund_amount") {
        return initiate_refund(&state, &params).await;
    }
    if let Some(refund_ref_id) = params.get("refund_ref_id") {
        return refund_query(&state, &params, refund_ref_id).await;
    }
    let tran_id = wire::field(&params, "tran_id");
    if tran_id.is_empty() {
        return Err(invalid_request());
    }
    let sessions = sessions_matching(&state, &params, tran_id).await?;
    let elements: Vec<Value> = sessions
        .iter()
        .filter(|s| s["tran_id"] == tran_id)
        .flat_map(|s| s["transactions"].as_array().cloned().unwrap_or_default())
        .map(|mut t| {
            if let Some(map) = t.as_object_mut() {
                let validated = map
                    .remove("validated")
                    .and_then(|v| v.as_bool())
                    .unwrap_or(false);
                map.remove("verify_sign");
                map.remove("verify_key");
                map.remove(REFUND_PLAN_KEY);
                if validated && map.get("status") == Some(&json!("VALID")) {
                    map.insert("status".into(), json!("VALIDATED"));
                }
                map.insert(
                    "validated_on".into(),
                    map.get("tran_date").cloned().unwrap_or(Value::Null),
                );
                map.insert("bank_gw".into(), json!("sandbox"));
                map.insert("gw_version".into(), json!("sandbox"));
            }
            t
        })
        .collect();
    Ok(Json(json!({
        "APIConnect": "DONE",
        "no_of_trans_found": elements.len(),
        "element": elements,
    }))
    .into_response())
}

fn refund_failed(reason: &str) -> Error {
    let answer = json!({"APIConnect": "DONE", "status": "failed", "errorReason": reason});
    Json(answer).into_response().into()
}

/// A refund initiated (or found again), as SSLCOMMERZ answers it.
fn refund_initiated(bank_tran_id: &str, session: &Value, refund_ref_id: &Value) -> Response {
    Json(json!({"APIConnect": "DONE", "bank_tran_id": bank_tran_id,
        "trans_id": session["tran_id"], "refund_ref_id": refund_ref_id,
        "status": "success", "errorReason": ""}))
    .into_response()
}

/// Initiate a refund of a paid transaction named by `bank_tran_id`: at most what is left, once per
/// `refe_id` (a repeat answers the first refund again).
async fn initiate_refund(state: &Sandbox, params: &HashMap<String, String>) -> Reply<Sslcommerz> {
    let bank_tran_id = wire::field(params, "bank_tran_id");
    if bank_tran_id.is_empty() {
        return Err(refund_failed("bank_tran_id is required"));
    }
    let refe_id = wire::field(params, "refe_id");
    for _ in 0..TRIES {
        let sessions = sessions_matching(state, params, bank_tran_id).await?;
        let Some(session) = sessions.into_iter().find(|s| {
            s["transactions"].as_array().is_some_and(|list| {
                list.iter()
                    .any(|t| t["bank_tran_id"] == bank_tran_id && t["status"] == "VALID")
            })
        }) else {
            return Err(refund_failed("No paid transaction with this bank_tran_id"));
        };
        let transaction = session["transactions"]
            .as_array()
            .and_then(|l| {
                l.iter()
                    .find(|t| t["bank_tran_id"] == bank_tran_id)
                    .cloned()
            })
            .unwrap_or(Value::Null);
        let refunds = session["refunds"].as_array().cloned().unwrap_or_default();
        if !refe_id.is_empty() {
            if let Some(same) = refunds.iter().find(|r| r["refe_id"] == refe_id) {
                return Ok(refund_initiated(
                    bank_tran_id,
                    &session,
                    &same["refund_ref_id"],
                ));
            }
        }
        // `refund_trans_id`: the refund's own id, required, at most 30 characters, one refund
        // each (the same id again on the same payment is that refund).
        let trans_id = wire::field(params, "refund_trans_id");
        if trans_id.is_empty() {
            return Err(refund_failed("refund_trans_id is required"));
        }
        if trans_id.chars().count() > 30 {
            return Err(refund_failed(
                "refund_trans_id must be at most 30 characters",
            ));
        }
        if let Some(same) = refunds.iter().find(|r| r["refund_trans_id"] == trans_id) {
            return Ok(refund_initiated(
                bank_tran_id,
                &session,
                &same["refund_ref_id"],
            ));
        }
        if refund_trans_id_used(state, params, trans_id).await? {
            return Err(refund_failed("Duplicate refund_trans_id"));
        }
        let plan = RefundPlan::parse(transaction[REFUND_PLAN_KEY].as_str());
        if plan == RefundPlan::Refuse {
            return Err(refund_failed(
                "Refund is not allowed for this transaction (sandbox test control)",
            ));
        }
        let Some(amount) = params
            .get("refund_amount")
            .and_then(|a| parse_amount(a, currency_of(&session)))
            .filter(|a| *a > 0)
        else {
            return Err(refund_failed("Invalid refund_amount"));
        };
        let taken: i64 = refunds
            .iter()
            .filter(|r| r["status"] != "cancelled")
            .map(|r| r["amount"].as_i64().unwrap_or(0))
            .sum();
        let total = session["total_amount"].as_i64().unwrap_or(0);
        if amount > total - taken {
            return Err(refund_failed(
                "Refund amount is greater than the refundable amount",
            ));
        }
        let refund_ref_id = format!("SBXR{}", wire::random_hex(32));
        let mut updated = session.value.clone();
        let mut list = refunds.clone();
        list.push(json!({
            "refund_ref_id": refund_ref_id,
            "refe_id": refe_id,
            "refund_trans_id": trans_id,
            "amount": amount,
            "remarks": wire::field(params, "refund_remarks"),
            "status": if plan == RefundPlan::Fail { "cancelled" } else { "refunded" },
            "initiated_on": clock::compact_now(),
        }));
        updated["refunds"] = Value::Array(list);
        if session.save(&state.db, &updated).await? {
            return Ok(refund_initiated(
                bank_tran_id,
                &session,
                &json!(refund_ref_id),
            ));
        }
    }
    let busy =
        json!({"APIConnect": "FAILED", "status": "failed", "errorReason": "busy, try again"});
    Ok(Json(busy).into_response())
}

/// Whether a refund of any of the store's payments already has this `refund_trans_id`.
async fn refund_trans_id_used(
    state: &Sandbox,
    params: &HashMap<String, String>,
    trans_id: &str,
) -> Result<bool, Error> {
    let sessions = sessions_matching(state, params, trans_id).await?;
    Ok(sessions.iter().any(|s| {
        s["refunds"]
            .as_array()
            .is_some_and(|l| l.iter().any(|r| r["refund_trans_id"] == trans_id))
    }))
}

/// Where a refund stands: `refunded`, or `cancelled` when the payment's refunds fail.
async fn refund_query(
    state: &Sandbox,
    params: &HashMap<String, String>,
    refund_ref_id: &str,
) -> Reply<Sslcommerz> {
    if refund_ref_id.is_empty() {
        return Err(invalid_request());
    }
    let sessions = sessions_matching(state, params, refund_ref_id).await?;
    let found = sessions.iter().find_map(|s| {
        s["refunds"].as_array().and_then(|l| {
            l.iter()
                .find(|r| r["refund_ref_id"] == refund_ref_id)
                .cloned()
        })
    });
    let Some(r) = found else {
        return Err(refund_failed("No refund with this refund_ref_id"));
    };
    Ok(Json(json!({
            "APIConnect": "DONE",
            "refund_ref_id": refund_ref_id,
            "status": r["status"],
            "initiated_on": r["initiated_on"],
            "refunded_on": if r["status"] == "refunded" { r["initiated_on"].clone() } else { Value::Null },
            "errorReason": if r["status"] == "cancelled" { json!("Refund cancelled by the bank (sandbox test control)") } else { json!("") },
    }))
    .into_response())
}
