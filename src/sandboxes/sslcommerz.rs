//! The SSLCOMMERZ sandbox, mounted at `/sandbox/sslcommerz` (providers.md §10): the session API
//! (`/gwprocess/v4/api.php`), a hosted page with **Pay**, **Decline** and **Cancel** that posts the
//! shopper back to success / fail / cancel URLs and sends a signed IPN (retried until a 2xx), and
//! the validation and transaction-query APIs (GET or POST; VALID first, then VALIDATED), and the
//! refund API on the same endpoint (`refund_trans_id` required: at most 30 characters, one refund
//! each). As at SSLCOMMERZ, `verify_key` names every callback field, but empty ones are not posted.

use super::delivery::{self, DeliveryPlan, Message};
use super::page::{
    delivery_controls, escape, is_shop_url, page, page_with_scripts, refund_controls, RefundPlan,
};
use super::store;
use super::{clock, Sandbox};
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
const GATEWAY_PATH: &str = "/gwprocess/v4/gw.php";

pub fn routes() -> Router<Sandbox> {
    Router::new()
        .route(INIT_PATH, post(init_session))
        .route(GATEWAY_PATH, get(hosted_page).post(hosted_action))
        .route(VALIDATION_PATH, get(validation).post(validation))
        .route(QUERY_PATH, get(transaction_query).post(transaction_query))
}

fn internal(e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "sslcommerz sandbox failed");
    (StatusCode::INTERNAL_SERVER_ERROR, "sandbox error").into_response()
}

fn failed(reason: &str) -> Response {
    Json(
        json!({"status": "FAILED", "failedreason": reason, "sessionkey": "", "GatewayPageURL": ""}),
    )
    .into_response()
}

fn object_id(session_key: &str) -> String {
    format!("sslcz:{session_key}")
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
) -> Result<HashMap<String, String>, Response> {
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

async fn init_session(State(state): State<Sandbox>, request: Request) -> Response {
    let form = match session_fields(&state, request).await {
        Ok(form) => form,
        Err(refused) => return refused,
    };
    let field = |k: &str| form.get(k).map(|v| v.trim()).unwrap_or("");
    if let Some(missing) = REQUIRED.iter().find(|k| field(k).is_empty()) {
        return failed(&format!("{missing} is required"));
    }
    let Ok(currency) = field("currency").parse::<Currency>() else {
        return failed("Invalid currency");
    };
    let Some(amount) = parse_amount(field("total_amount"), currency) else {
        return failed("Invalid total_amount");
    };
    if currency == Currency::Bdt && !(1_000..=50_000_000).contains(&amount) {
        return failed("total_amount must be between 10.00 and 500000.00 BDT");
    }
    let shop = &*state.shop_url;
    for param in ["success_url", "fail_url", "cancel_url"] {
        if !is_shop_url(field(param), shop) {
            return failed(&format!(
                "{param} must be a URL on the shop's own origin ({shop})"
            ));
        }
    }
    if !field("ipn_url").is_empty() && !is_shop_url(field("ipn_url"), shop) {
        return failed(&format!(
            "ipn_url must be a URL on the shop's own origin ({shop})"
        ));
    }
    if field("tran_id").len() > 30 {
        return failed("tran_id must be at most 30 characters");
    }
    let session_key = uuid::Uuid::new_v4().simple().to_string().to_uppercase();
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
    if let Err(e) = store::insert_committed(
        &state.db,
        PROVIDER,
        &object_id(&session_key),
        None,
        "",
        200,
        &session.to_string(),
    )
    .await
    {
        return internal(e);
    }
    let gateway = format!(
        "{}/sandbox/sslcommerz{GATEWAY_PATH}?Q=pay&SESSIONKEY={session_key}",
        state.site_url
    );
    Json(json!({
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
    .into_response()
}

async fn load(state: &Sandbox, session_key: &str) -> Result<Option<Value>, Response> {
    let mut conn = state.db.pool.acquire().await.map_err(internal)?;
    Ok(store::get(&mut conn, &object_id(session_key))
        .await
        .map_err(internal)?
        .and_then(|o| serde_json::from_str(&o.data).ok()))
}

fn amount_text(session: &Value) -> String {
    let currency = session["currency"]
        .as_str()
        .and_then(|c| c.parse::<Currency>().ok())
        .unwrap_or(Currency::Bdt);
    Money::new(session["total_amount"].as_i64().unwrap_or(0), currency).to_decimal_string()
}

async fn hosted_page(
    State(state): State<Sandbox>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let key = query.get("SESSIONKEY").cloned().unwrap_or_default();
    let session = match load(&state, &key).await {
        Ok(Some(s)) => s,
        Ok(None) => {
            return (
                StatusCode::NOT_FOUND,
                page("Session not found", "<h1>Invalid session.</h1>"),
            )
                .into_response()
        }
        Err(r) => return r,
    };
    if session["status"] != "PENDING" {
        return (
            StatusCode::GONE,
            page(
                "Session closed",
                "<main class=\"card\"><h1>This payment session is closed.</h1></main>",
            ),
        )
            .into_response();
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
    page("SSLCOMMERZ sandbox payment", &body).into_response()
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
) -> Response {
    let key = query.get("SESSIONKEY").cloned().unwrap_or_default();
    let session = match load(&state, &key).await {
        Ok(Some(s)) if s["status"] == "PENDING" => s,
        Ok(_) => return hosted_page(State(state), Query(query)).await,
        Err(r) => return r,
    };
    let (status, back) = match form.get("action").map(String::as_str) {
        Some("pay" | "risky") => ("VALID", "success_url"),
        Some("decline") => ("FAILED", "fail_url"),
        Some("cancel") => ("CANCELLED", "cancel_url"),
        _ => return hosted_page(State(state), Query(query)).await,
    };
    let val_id = if status == "VALID" {
        format!("{}{}", chrono_free_date(), uuid::Uuid::new_v4().simple())
    } else {
        String::new()
    };
    let risky = form.get("action").map(String::as_str) == Some("risky");
    let fields = callback_fields(&session, status, &val_id, risky);
    let mut updated = session.clone();
    updated["status"] = json!(status);
    let mut transaction: serde_json::Map<String, Value> =
        fields.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
    transaction.insert("validated".into(), json!(false));
    transaction.insert(
        REFUND_PLAN_KEY.into(),
        json!(RefundPlan::parse(form.get("refunds").map(String::as_str)).as_str()),
    );
    if let Some(list) = updated["transactions"].as_array_mut() {
        list.push(Value::Object(transaction));
    }
    match store::update_committed(
        &state.db,
        &object_id(&key),
        200,
        &updated.to_string(),
        Some(&session.to_string()),
    )
    .await
    {
        Ok(true) => {}
        Ok(false) => return hosted_page(State(state), Query(query)).await,
        Err(e) => return internal(e),
    }
    let body = serde_urlencoded::to_string(&fields)
        .unwrap_or_default()
        .into_bytes();
    let ipn_url = session["ipn_url"].as_str().unwrap_or("");
    if !ipn_url.is_empty() {
        let url = match ipn_url.strip_prefix(&*state.shop_url) {
            Some(path) => format!("{}{path}", state.webhook_root),
            None => ipn_url.to_string(),
        };
        let plan = DeliveryPlan::parse(form.get("webhook").map(String::as_str));
        let message = Message {
            url,
            content_type: "application/x-www-form-urlencoded",
            headers: vec![],
            body,
            answer: None,
        };
        delivery::spawn(&state, vec![message], plan);
    }
    // The browser goes back with the same fields, as an auto-submitted POST.
    let action = session[back].as_str().unwrap_or("/");
    let inputs: String = fields
        .iter()
        .map(|(k, v)| {
            format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                escape(k),
                escape(v)
            )
        })
        .collect();
    let html = format!(
        r#"<main class="card"><h1>Returning to the shop…</h1>
<form id="back" method="post" action="{action}">{inputs}<button class="pay">Continue to the shop</button></form>
<script>{AUTO_SUBMIT}</script></main>"#,
        action = escape(action)
    );
    page_with_scripts("Returning to the shop", &html, &[AUTO_SUBMIT])
}

/// `YYMMDDhhmmss`-style prefix like SSLCOMMERZ's val_ids, from the clock without extra crates.
fn chrono_free_date() -> String {
    clock::compact_now()
}

/// Query string and form body merged (the node SDK POSTs what the docs call GET).
fn merged(query: HashMap<String, String>, body: &[u8]) -> HashMap<String, String> {
    let mut all = query;
    if let Ok(form) = serde_urlencoded::from_bytes::<Vec<(String, String)>>(body) {
        all.extend(form);
    }
    all
}

/// Sessions whose store credentials match the request.
async fn sessions_matching(
    state: &Sandbox,
    params: &HashMap<String, String>,
    needle: &str,
) -> Result<Option<Vec<Value>>, Response> {
    let store_id = params.get("store_id").map(String::as_str).unwrap_or("");
    let passwd = params.get("store_passwd").map(String::as_str).unwrap_or("");
    if store_id.is_empty() || passwd.is_empty() {
        return Ok(None);
    }
    let mut conn = state.db.pool.acquire().await.map_err(internal)?;
    let found = store::search(&mut conn, PROVIDER, "sslcz:", needle)
        .await
        .map_err(internal)?
        .into_iter()
        .filter_map(|o| serde_json::from_str::<Value>(&o.data).ok())
        .filter(|s| s["store_id"] == store_id && s["passwd_md5"] == password_md5(passwd))
        .collect();
    Ok(Some(found))
}

fn invalid_request() -> Response {
    Json(json!({"APIConnect": "INVALID_REQUEST", "status": "INVALID_REQUEST"})).into_response()
}

async fn validation(
    State(state): State<Sandbox>,
    Query(query): Query<HashMap<String, String>>,
    body: axum::body::Bytes,
) -> Response {
    let params = merged(query, &body);
    let val_id = params.get("val_id").cloned().unwrap_or_default();
    if val_id.is_empty() {
        return invalid_request();
    }
    let sessions = match sessions_matching(&state, &params, &val_id).await {
        Ok(Some(s)) => s,
        Ok(None) => return invalid_request(),
        Err(r) => return r,
    };
    for session in sessions {
        let Some(list) = session["transactions"].as_array() else {
            continue;
        };
        let Some(index) = list.iter().position(|t| t["val_id"] == val_id.as_str()) else {
            continue;
        };
        let mut updated = session.clone();
        let first = !list[index]["validated"].as_bool().unwrap_or(false);
        updated["transactions"][index]["validated"] = json!(true);
        if first {
            let key = session["sessionkey"].as_str().unwrap_or("");
            let data = updated.to_string();
            if let Err(e) =
                store::update_committed(&state.db, &object_id(key), 200, &data, None).await
            {
                return internal(e);
            }
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
        return Json(answer).into_response();
    }
    Json(json!({"APIConnect": "DONE", "status": "INVALID_TRANSACTION", "val_id": val_id}))
        .into_response()
}

async fn transaction_query(
    State(state): State<Sandbox>,
    Query(query): Query<HashMap<String, String>>,
    body: axum::body::Bytes,
) -> Response {
    let params = merged(query, &body);
    // The same endpoint initiates refunds and answers refund queries (providers.md §5.6).
    if params.contains_key("refund_amount") {
        return initiate_refund(&state, &params).await;
    }
    if let Some(refund_ref_id) = params.get("refund_ref_id") {
        return refund_query(&state, &params, refund_ref_id).await;
    }
    let tran_id = params.get("tran_id").cloned().unwrap_or_default();
    if tran_id.is_empty() {
        return invalid_request();
    }
    let sessions = match sessions_matching(&state, &params, &tran_id).await {
        Ok(Some(s)) => s,
        Ok(None) => return invalid_request(),
        Err(r) => return r,
    };
    let elements: Vec<Value> = sessions
        .iter()
        .filter(|s| s["tran_id"] == tran_id.as_str())
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
    Json(json!({
        "APIConnect": "DONE",
        "no_of_trans_found": elements.len(),
        "element": elements,
    }))
    .into_response()
}

/// Kept inside a stored transaction: what refunds of it do (a hosted-page test control).
const REFUND_PLAN_KEY: &str = "_sandbox_refunds";

fn refund_failed(reason: &str) -> Response {
    Json(json!({"APIConnect": "DONE", "status": "failed", "errorReason": reason})).into_response()
}

/// Initiate a refund of a paid transaction named by `bank_tran_id`: at most what is left, once per
/// `refe_id` (a repeat answers the first refund again).
async fn initiate_refund(state: &Sandbox, params: &HashMap<String, String>) -> Response {
    let bank_tran_id = params.get("bank_tran_id").cloned().unwrap_or_default();
    if bank_tran_id.is_empty() {
        return refund_failed("bank_tran_id is required");
    }
    let refe_id = params.get("refe_id").cloned().unwrap_or_default();
    for _ in 0..5 {
        let sessions = match sessions_matching(state, params, &bank_tran_id).await {
            Ok(Some(s)) => s,
            Ok(None) => return invalid_request(),
            Err(r) => return r,
        };
        let Some(session) = sessions.into_iter().find(|s| {
            s["transactions"].as_array().is_some_and(|list| {
                list.iter()
                    .any(|t| t["bank_tran_id"] == bank_tran_id.as_str() && t["status"] == "VALID")
            })
        }) else {
            return refund_failed("No paid transaction with this bank_tran_id");
        };
        let transaction = session["transactions"]
            .as_array()
            .and_then(|l| {
                l.iter()
                    .find(|t| t["bank_tran_id"] == bank_tran_id.as_str())
                    .cloned()
            })
            .unwrap_or(Value::Null);
        let refunds = session["refunds"].as_array().cloned().unwrap_or_default();
        if !refe_id.is_empty() {
            if let Some(same) = refunds.iter().find(|r| r["refe_id"] == refe_id.as_str()) {
                return Json(json!({"APIConnect": "DONE", "bank_tran_id": bank_tran_id,
                    "trans_id": session["tran_id"], "refund_ref_id": same["refund_ref_id"],
                    "status": "success", "errorReason": ""}))
                .into_response();
            }
        }
        // `refund_trans_id`: the refund's own id, required, at most 30 characters, one refund
        // each (the same id again on the same payment is that refund).
        let trans_id = params.get("refund_trans_id").cloned().unwrap_or_default();
        if trans_id.is_empty() {
            return refund_failed("refund_trans_id is required");
        }
        if trans_id.chars().count() > 30 {
            return refund_failed("refund_trans_id must be at most 30 characters");
        }
        if let Some(same) = refunds
            .iter()
            .find(|r| r["refund_trans_id"] == trans_id.as_str())
        {
            return Json(json!({"APIConnect": "DONE", "bank_tran_id": bank_tran_id,
                "trans_id": session["tran_id"], "refund_ref_id": same["refund_ref_id"],
                "status": "success", "errorReason": ""}))
            .into_response();
        }
        match refund_trans_id_used(state, params, &trans_id).await {
            Ok(false) => {}
            Ok(true) => return refund_failed("Duplicate refund_trans_id"),
            Err(r) => return r,
        }
        let plan = RefundPlan::parse(transaction[REFUND_PLAN_KEY].as_str());
        if plan == RefundPlan::Refuse {
            return refund_failed(
                "Refund is not allowed for this transaction (sandbox test control)",
            );
        }
        let currency = session["currency"]
            .as_str()
            .and_then(|c| c.parse::<Currency>().ok())
            .unwrap_or(Currency::Bdt);
        let Some(amount) = params
            .get("refund_amount")
            .and_then(|a| parse_amount(a, currency))
            .filter(|a| *a > 0)
        else {
            return refund_failed("Invalid refund_amount");
        };
        let taken: i64 = refunds
            .iter()
            .filter(|r| r["status"] != "cancelled")
            .map(|r| r["amount"].as_i64().unwrap_or(0))
            .sum();
        let total = session["total_amount"].as_i64().unwrap_or(0);
        if amount > total - taken {
            return refund_failed("Refund amount is greater than the refundable amount");
        }
        let refund_ref_id = format!("SBXR{}", uuid::Uuid::new_v4().simple());
        let mut updated = session.clone();
        let mut list = refunds.clone();
        list.push(json!({
            "refund_ref_id": refund_ref_id,
            "refe_id": refe_id,
            "refund_trans_id": trans_id,
            "amount": amount,
            "remarks": params.get("refund_remarks").cloned().unwrap_or_default(),
            "status": if plan == RefundPlan::Fail { "cancelled" } else { "refunded" },
            "initiated_on": chrono_free_date(),
        }));
        updated["refunds"] = Value::Array(list);
        let key = session["sessionkey"].as_str().unwrap_or("");
        match store::update_committed(
            &state.db,
            &object_id(key),
            200,
            &updated.to_string(),
            Some(&session.to_string()),
        )
        .await
        {
            Ok(true) => {
                return Json(json!({"APIConnect": "DONE", "bank_tran_id": bank_tran_id,
                    "trans_id": session["tran_id"], "refund_ref_id": refund_ref_id,
                    "status": "success", "errorReason": ""}))
                .into_response()
            }
            Ok(false) => continue,
            Err(e) => return internal(e),
        }
    }
    Json(json!({"APIConnect": "FAILED", "status": "failed", "errorReason": "busy, try again"}))
        .into_response()
}

/// Whether a refund of any of the store's payments already has this `refund_trans_id`.
async fn refund_trans_id_used(
    state: &Sandbox,
    params: &HashMap<String, String>,
    trans_id: &str,
) -> Result<bool, Response> {
    let sessions = sessions_matching(state, params, trans_id)
        .await?
        .unwrap_or_default();
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
) -> Response {
    if refund_ref_id.is_empty() {
        return invalid_request();
    }
    let sessions = match sessions_matching(state, params, refund_ref_id).await {
        Ok(Some(s)) => s,
        Ok(None) => return invalid_request(),
        Err(r) => return r,
    };
    let found = sessions.iter().find_map(|s| {
        s["refunds"].as_array().and_then(|l| {
            l.iter()
                .find(|r| r["refund_ref_id"] == refund_ref_id)
                .cloned()
        })
    });
    match found {
        Some(r) => Json(json!({
            "APIConnect": "DONE",
            "refund_ref_id": refund_ref_id,
            "status": r["status"],
            "initiated_on": r["initiated_on"],
            "refunded_on": if r["status"] == "refunded" { r["initiated_on"].clone() } else { Value::Null },
            "errorReason": if r["status"] == "cancelled" { json!("Refund cancelled by the bank (sandbox test control)") } else { json!("") },
        }))
        .into_response(),
        None => refund_failed("No refund with this refund_ref_id"),
    }
}
