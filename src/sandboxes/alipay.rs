//! The Alipay sandbox, mounted at `/sandbox/alipay` (docs/sandboxes.md#alipay-sandboxalipay), with FIXED public test
//! keys ([`super::keys`], published at `GET /sandbox/alipay/keys` for the official SDKs):
//!
//! - `/gateway.do` (GET or POST): query and form body merged, the request's RSA2 signature
//!   checked with the app public key over every parameter but `sign` (again without empty values
//!   if that fails), then by `method`:
//!   - `alipay.trade.page.pay`: the cashier page with **Pay**, **Decline** and **Cancel**;
//!   - `alipay.trade.query`, `.close`, `.refund`, `.fastpay.refund.query`: signed JSON
//!     `{"<method_underscored>_response":{…},"sign":"…"}`, the sign over the object's exact bytes;
//!     errors in Alipay's codes (`40002 isv.invalid-signature`, `40004 ACQ.TRADE_NOT_EXIST`…).
//! - The cashier's buttons (`POST /cashier`):
//!   - **Pay**: the trade becomes `TRADE_SUCCESS`; an RSA2-signed notify (form-urlencoded) goes
//!     to `notify_url`, re-sent until the answer's body is exactly `success`; the browser goes to
//!     `return_url` with signed parameters.
//!   - **Decline**: as at Alipay, a failed payment inside the cashier leaves the trade
//!     `WAIT_BUYER_PAY`: the cashier shows the error and the shopper may pay again or leave.
//!   - **Cancel**: back to the shop's `return_url` without paying; the trade stays open until the
//!     shop closes it (`alipay.trade.close`) or its `time_expire` passes.
//! - As at Alipay: a `subject` with `/`, `=`, `&` or a control character is refused; an
//!   `out_trade_no` used before with other parameters is `ACQ.CONTEXT_INCONSISTENT`; a refund
//!   answers `fund_change` Y only when money moved (N for a repeat of the same `out_request_no`,
//!   or for a refund the cashier's test control leaves to settle later).

use super::delivery::{self, DeliveryPlan, Message};
use super::dialect::{self, Dialect, Refusal, Reply};
use super::objects::{Kind, Loaded, TRIES};
use super::page::{delivery_controls, escape, is_shop_url, notice, page, PAY_DECLINE_CANCEL};
use super::{clock, store, wire, Sandbox};
use app::model::{Currency, Money};
use app::server::payments::alipay::keys;
use app::server::payments::alipay::sign::{self, PrivateKey, PublicKey};
use app::server::payments::alipay::GATEWAY_PATH;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;

const PROVIDER: &str = "alipay";
/// Trades, kept as `alipay:{app_id}:{out_trade_no}` ([`trade_id`]).
const TRADES: Kind = Kind::new(PROVIDER, "");
const CASHIER_PATH: &str = "/cashier";
/// The most a trade may be: CNY 100,000,000.00, in fen.
const MAX_FEN: i64 = 10_000_000_000;

pub fn routes() -> Router<Sandbox> {
    Router::new()
        .route(GATEWAY_PATH, get(gateway).post(gateway))
        .route(CASHIER_PATH, post(cashier_action))
        .route("/keys", get(published_keys))
}

/// The sandbox "Alipay" key that signs, and the app key it checks requests with.
fn alipay_key() -> &'static PrivateKey {
    static KEY: OnceLock<PrivateKey> = OnceLock::new();
    KEY.get_or_init(|| {
        PrivateKey::parse(keys::SANDBOX_ALIPAY_PRIVATE_KEY).expect("the sandbox key reads")
    })
}

fn app_public_key() -> &'static PublicKey {
    static KEY: OnceLock<PublicKey> = OnceLock::new();
    KEY.get_or_init(|| {
        PublicKey::parse(keys::SANDBOX_APP_PUBLIC_KEY).expect("the sandbox key reads")
    })
}

async fn published_keys() -> Json<Value> {
    Json(json!({
        "app_id": keys::SANDBOX_APP_ID,
        "app_private_key": keys::SANDBOX_APP_PRIVATE_KEY,
        "alipay_public_key": keys::SANDBOX_ALIPAY_PUBLIC_KEY,
    }))
}

/// Alipay's ways of refusing are answers of their own (a signed `sub_code`, or a page for the
/// shopper); a plain 500 when the sandbox fails.
pub struct Alipay;

type Error = Refusal<Alipay>;

impl Dialect for Alipay {
    const NAME: &'static str = "alipay";
    type Body = Response;

    fn internal() -> Error {
        dialect::plain_internal()
    }
}

/// A signed gateway answer: the response object first, then `sign` over its exact bytes.
fn signed(method: &str, object: Value) -> Response {
    let key = format!("{}_response", method.replace('.', "_"));
    let inner = object.to_string();
    let sign = alipay_key().sign(&inner);
    let body = format!("{{\"{key}\":{inner},\"sign\":\"{sign}\"}}");
    (
        [(header::CONTENT_TYPE, "application/json;charset=utf-8")],
        body,
    )
        .into_response()
}

fn api_error(method: &str, code: &str, msg: &str, sub_code: &str, sub_msg: &str) -> Response {
    signed(
        method,
        json!({"code": code, "msg": msg, "sub_code": sub_code, "sub_msg": sub_msg}),
    )
}

/// A business refusal (`40004 Business Failed`).
fn business(method: &str, sub_code: &str, sub_msg: &str) -> Response {
    api_error(method, "40004", "Business Failed", sub_code, sub_msg)
}

fn not_exist(method: &str) -> Response {
    business(method, "ACQ.TRADE_NOT_EXIST", "交易不存在")
}

/// Alipay's answer when the trade kept changing under the request.
fn busy(method: &str) -> Response {
    let (code, msg) = ("20000", "Service Currently Unavailable");
    api_error(method, code, msg, "aop.unknow-error", "busy, try again")
}

/// Query string and form body merged (the SDKs put the common parameters in the query and
/// `biz_content` in the body); `None` when a parameter comes twice with different values.
fn merged(query: Option<&str>, body: &[u8]) -> Option<BTreeMap<String, String>> {
    let mut all = BTreeMap::new();
    let from_query: Vec<(String, String)> =
        serde_urlencoded::from_str(query.unwrap_or_default()).ok()?;
    let from_body: Vec<(String, String)> = serde_urlencoded::from_bytes(body).unwrap_or_default();
    for (k, v) in from_query.into_iter().chain(from_body) {
        if let Some(old) = all.insert(k, v.clone()) {
            if old != v {
                return None;
            }
        }
    }
    Some(all)
}

/// The request's RSA2 signature, over everything but `sign`, and again without empty values.
fn request_verifies(params: &BTreeMap<String, String>) -> bool {
    let Some(sign) = params.get("sign") else {
        return false;
    };
    let all = params.iter().map(|(k, v)| (k.as_str(), v.as_str()));
    if app_public_key().verify(&sign::content(all, &["sign"]), sign) {
        return true;
    }
    let non_empty = params
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (k.as_str(), v.as_str()));
    app_public_key().verify(&sign::content(non_empty, &["sign"]), sign)
}

async fn gateway(
    State(state): State<Sandbox>,
    RawQuery(raw_query): RawQuery,
    body: Bytes,
) -> Response {
    let Some(params) = merged(raw_query.as_deref(), &body) else {
        return notice(
            StatusCode::BAD_REQUEST,
            "Invalid request",
            "A parameter was sent twice with different values.",
        );
    };
    let p = |k: &str| params.get(k).map(String::as_str).unwrap_or("");
    let method = p("method").to_string();
    let page_flow = method == "alipay.trade.page.pay";
    let refuse = |sub_code: &str, sub_msg: &str| {
        if page_flow {
            notice(
                StatusCode::BAD_REQUEST,
                "Alipay sandbox: request refused",
                &format!("{sub_code}: {sub_msg}"),
            )
        } else {
            let m = if method.is_empty() {
                "error"
            } else {
                method.as_str()
            };
            api_error(m, "40002", "Invalid Arguments", sub_code, sub_msg)
        }
    };
    for required in ["app_id", "method", "sign_type", "sign", "timestamp"] {
        if p(required).is_empty() {
            return refuse(
                &format!("isv.missing-{}", required.replace('_', "-")),
                &format!("{required} is required"),
            );
        }
    }
    if p("sign_type") != "RSA2" {
        return refuse("isv.invalid-signature-type", "only RSA2 is supported");
    }
    if !request_verifies(&params) {
        return refuse("isv.invalid-signature", "验签出错: the RSA2 signature does not verify with the app public key published at /sandbox/alipay/keys");
    }
    let biz: Value = match p("biz_content") {
        "" => json!({}),
        text => match serde_json::from_str(text) {
            Ok(v) => v,
            Err(_) => return refuse("isv.invalid-biz-content", "biz_content is not JSON"),
        },
    };
    let app_id = p("app_id").to_string();
    let result = match method.as_str() {
        "alipay.trade.page.pay" => page_pay(&state, &params, &app_id, &biz).await,
        "alipay.trade.query" => query(&state, &app_id, &biz).await,
        "alipay.trade.close" => close(&state, &app_id, &biz).await,
        "alipay.trade.refund" => refund(&state, &app_id, &biz).await,
        "alipay.trade.fastpay.refund.query" => refund_query(&state, &app_id, &biz).await,
        _ => Ok(refuse("isv.invalid-method", "unknown method")),
    };
    result.unwrap_or_else(IntoResponse::into_response)
}

fn trade_id(app_id: &str, out_trade_no: &str) -> String {
    format!("alipay:{app_id}:{out_trade_no}")
}

/// The trade a query-style call names (`out_trade_no`, or Alipay's `trade_no`).
async fn find(
    state: &Sandbox,
    app_id: &str,
    biz: &Value,
) -> Result<Option<Loaded<Value>>, sqlx::Error> {
    if let Some(out) = biz["out_trade_no"].as_str().filter(|s| !s.is_empty()) {
        return TRADES.load(&state.db, &trade_id(app_id, out)).await;
    }
    let Some(trade_no) = biz["trade_no"].as_str().filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let app = trade_id(app_id, "");
    let found = TRADES.search::<Value>(&state.db, trade_no).await?;
    Ok(found
        .into_iter()
        .find(|t| t.id().starts_with(&app) && t["trade_no"] == trade_no))
}

/// The trade's status now: an unpaid trade past its `time_expire` reads closed.
fn status_of(trade: &Value) -> String {
    let status = trade["status"].as_str().unwrap_or("").to_string();
    let expire = trade["time_expire"].as_str().unwrap_or("");
    if status == "WAIT_BUYER_PAY"
        && !expire.is_empty()
        && sign::beijing_time(clock::now_secs()).as_str() > expire
    {
        return "TRADE_CLOSED".into();
    }
    status
}

fn fen(trade: &Value, k: &str) -> i64 {
    trade[k].as_i64().unwrap_or(0)
}

fn yuan(minor: i64) -> String {
    sign::yuan(Money::new(minor, Currency::Cny))
}

fn valid_out_trade_no(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

async fn page_pay(
    state: &Sandbox,
    params: &BTreeMap<String, String>,
    app_id: &str,
    biz: &Value,
) -> Reply<Alipay> {
    let bad = |detail: &str| -> Error {
        notice(
            StatusCode::BAD_REQUEST,
            "Alipay sandbox: request refused",
            detail,
        )
        .into()
    };
    let out_trade_no = biz["out_trade_no"].as_str().unwrap_or("");
    if !valid_out_trade_no(out_trade_no) {
        return Err(bad(
            "ACQ.INVALID_PARAMETER: out_trade_no must be 1–64 letters, digits or _",
        ));
    }
    if biz["product_code"].as_str() != Some("FAST_INSTANT_TRADE_PAY") {
        return Err(bad(
            "ACQ.INVALID_PARAMETER: product_code must be FAST_INSTANT_TRADE_PAY",
        ));
    }
    let amount = biz["total_amount"]
        .as_str()
        .map(str::to_string)
        .or_else(|| biz["total_amount"].as_f64().map(|f| format!("{f}")))
        .and_then(|t| sign::parse_yuan(&t))
        .filter(|a| (1..=MAX_FEN).contains(a));
    let Some(amount) = amount else {
        return Err(bad(
            "ACQ.INVALID_PARAMETER: total_amount must be 0.01 to 100000000.00 yuan",
        ));
    };
    let subject = biz["subject"].as_str().unwrap_or("");
    if subject.is_empty() || subject.chars().count() > 256 {
        return Err(bad(
            "ACQ.INVALID_PARAMETER: subject is required (at most 256 characters)",
        ));
    }
    if subject
        .chars()
        .any(|c| matches!(c, '/' | '=' | '&') || c.is_control())
    {
        return Err(bad(
            "ACQ.INVALID_PARAMETER: subject must not contain special characters such as /, = or &",
        ));
    }
    let shop = &*state.shop_url;
    for k in ["notify_url", "return_url"] {
        let url = params.get(k).map(String::as_str).unwrap_or("");
        if !url.is_empty() && !is_shop_url(url, shop) {
            return Err(bad(&format!(
                "{k} must be a URL on the shop's own origin ({shop})"
            )));
        }
    }
    let id = trade_id(app_id, out_trade_no);
    let now = clock::now_secs();
    let trade = json!({
        "app_id": app_id,
        "out_trade_no": out_trade_no,
        "trade_no": format!("{}{:010}", sign::beijing_time(now).replace(['-', ' ', ':'], ""), uuid::Uuid::new_v4().as_u128() % 10_000_000_000),
        "total_amount": amount,
        "subject": subject,
        "notify_url": params.get("notify_url").cloned().unwrap_or_default(),
        "return_url": params.get("return_url").cloned().unwrap_or_default(),
        "time_expire": biz["time_expire"].as_str().unwrap_or(""),
        "gmt_create": sign::beijing_time(now),
        "status": "WAIT_BUYER_PAY",
        "refunds": [],
    });
    // The same out_trade_no again: the same trade, if nothing differs (ACQ.CONTEXT_INCONSISTENT).
    // Read back in the insert's transaction: the trade the insert met, this request's or a twin's.
    let stored = state
        .db
        .committed(async |conn| {
            TRADES
                .insert_in(&state.db, Some(&mut *conn), &id, &trade)
                .await?;
            store::get(conn, &id).await
        })
        .await?;
    let Some(stored) = stored.and_then(|o| serde_json::from_str::<Value>(&o.data).ok()) else {
        return Err(Error::internal("trade vanished"));
    };
    if fen(&stored, "total_amount") != amount || stored["subject"] != subject {
        return Err(bad(
            "ACQ.CONTEXT_INCONSISTENT: this out_trade_no was used with other parameters",
        ));
    }
    match status_of(&stored).as_str() {
        "WAIT_BUYER_PAY" => Ok(cashier(&stored, None)),
        "TRADE_SUCCESS" | "TRADE_FINISHED" => {
            Err(bad("ACQ.TRADE_HAS_SUCCESS: this trade is already paid"))
        }
        _ => Err(bad("ACQ.TRADE_HAS_CLOSE: this trade is closed")),
    }
}

/// What later refunds of a payment do (a test control on the cashier).
fn refund_controls() -> &'static str {
    r#"<fieldset><legend>Refunds of this payment (test control)</legend>
<label><input type="radio" name="refunds" value="succeed" checked> Succeed</label><br>
<label><input type="radio" name="refunds" value="later"> Accepted, settled later (<code>fund_change</code> N; the first refund query finds no status)</label><br>
<label><input type="radio" name="refunds" value="refuse"> Refused (ACQ.TRADE_NOT_ALLOW_REFUND)</label>
</fieldset>"#
}

/// The cashier page for an open trade.
fn cashier(trade: &Value, error: Option<&str>) -> Response {
    let s = |k: &str| escape(trade[k].as_str().unwrap_or(""));
    let alert = error
        .map(|e| {
            format!(
                "<p role=\"alert\" data-testid=\"sandbox-error\"><strong>{}</strong></p>",
                escape(e)
            )
        })
        .unwrap_or_default();
    let body = format!(
        r#"<main class="card"><h1>Alipay sandbox cashier</h1>
<p>Storefront sandbox merchant asks for <strong data-testid="sandbox-amount">CNY {amount}</strong> for {subject}.</p>
<p>Merchant order number (<code>out_trade_no</code>): <code data-testid="sandbox-reference">{out_trade_no}</code><br>Alipay trade number: <code>{trade_no}</code></p>
{alert}<form method="post" action="/sandbox/alipay{CASHIER_PATH}">
<input type="hidden" name="trade" value="{trade_key}">
<p><strong>Pay</strong> pays from the sandbox buyer's balance; <strong>Decline</strong> fails the payment and leaves the trade waiting for payment; <strong>Cancel</strong> returns to the shop without paying.</p>
{PAY_DECLINE_CANCEL}
{controls}
{refunds}
</form></main>"#,
        amount = yuan(fen(trade, "total_amount")),
        subject = s("subject"),
        out_trade_no = s("out_trade_no"),
        trade_no = s("trade_no"),
        trade_key = escape(&trade_id(
            trade["app_id"].as_str().unwrap_or(""),
            trade["out_trade_no"].as_str().unwrap_or("")
        )),
        controls = delivery_controls(),
        refunds = refund_controls(),
    );
    page("Alipay sandbox cashier", &body).into_response()
}

/// Fields signed with the sandbox Alipay key (over everything but `sign` and `sign_type`).
fn sign_fields(mut fields: BTreeMap<String, String>) -> BTreeMap<String, String> {
    let content = sign::content(
        fields.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        &["sign", "sign_type"],
    );
    fields.insert("sign".into(), alipay_key().sign(&content));
    fields
}

fn common_fields(trade: &Value) -> BTreeMap<String, String> {
    let s = |k: &str| trade[k].as_str().unwrap_or("").to_string();
    let amount = yuan(fen(trade, "total_amount"));
    [
        ("app_id", s("app_id")),
        ("auth_app_id", s("app_id")),
        ("charset", "utf-8".to_string()),
        ("version", "1.0".to_string()),
        ("sign_type", "RSA2".to_string()),
        ("trade_no", s("trade_no")),
        ("out_trade_no", s("out_trade_no")),
        ("seller_id", "2088000000000001".to_string()),
        ("total_amount", amount),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// The async notify for a trade's status.
fn notify_fields(trade: &Value, status: &str) -> BTreeMap<String, String> {
    let s = |k: &str| trade[k].as_str().unwrap_or("").to_string();
    let amount = yuan(fen(trade, "total_amount"));
    let mut f = common_fields(trade);
    let now = sign::beijing_time(clock::now_secs());
    for (k, v) in [
        ("notify_time", now.clone()),
        ("notify_type", "trade_status_sync".to_string()),
        ("notify_id", format!("{}", uuid::Uuid::new_v4().simple())),
        ("trade_status", status.to_string()),
        ("buyer_id", "2088102000000001".to_string()),
        ("buyer_logon_id", "sbx***@sandbox.com".to_string()),
        ("seller_email", "merchant@sandbox.com".to_string()),
        ("receipt_amount", amount.clone()),
        ("invoice_amount", amount.clone()),
        ("buyer_pay_amount", amount.clone()),
        ("point_amount", "0.00".to_string()),
        ("subject", s("subject")),
        ("gmt_create", s("gmt_create")),
        ("gmt_payment", s("gmt_payment")),
        (
            "fund_bill_list",
            json!([{"amount": amount, "fundChannel": "ALIPAYACCOUNT"}]).to_string(),
        ),
    ] {
        f.insert(k.to_string(), v);
    }
    sign_fields(f)
}

/// Send the notify to `notify_url`, again until the shop answers exactly `success` (Alipay re-sends
/// anything else).
fn deliver(state: &Sandbox, notify_url: &str, body: String, plan: DeliveryPlan) {
    if notify_url.is_empty() {
        return;
    }
    let content_type = "application/x-www-form-urlencoded; charset=utf-8";
    let message = Message::new(state.reach(notify_url), content_type, body).answered_by("success");
    delivery::spawn(state, vec![message], plan);
}

async fn cashier_action(
    State(state): State<Sandbox>,
    Form(form): Form<HashMap<String, String>>,
) -> Reply<Alipay> {
    let id = wire::field(&form, "trade");
    let Some(trade) = TRADES.load::<Value>(&state.db, id).await? else {
        return Err(notice(
            StatusCode::NOT_FOUND,
            "Trade not found",
            "ACQ.TRADE_NOT_EXIST",
        )
        .into());
    };
    if status_of(&trade) != "WAIT_BUYER_PAY" {
        return Err(notice(
            StatusCode::GONE,
            "This trade is no longer open",
            &format!("The trade is {}.", status_of(&trade)),
        )
        .into());
    }
    let return_url = trade["return_url"].as_str().unwrap_or("");
    match form.get("action").map(String::as_str) {
        Some("pay") => {}
        Some("decline") => {
            return Ok(cashier(
                &trade,
                Some("Payment declined (sandbox test control). The trade is still waiting for payment: pay again, or cancel to return to the shop."),
            ))
        }
        Some("cancel") if return_url.is_empty() => {
            let left = "You left the cashier without paying.";
            return Ok(notice(StatusCode::OK, "Payment cancelled", left));
        }
        Some("cancel") => return Ok(Redirect::to(return_url).into_response()),
        _ => return Ok(cashier(&trade, None)),
    }
    let mut paid = trade.value.clone();
    paid["status"] = json!("TRADE_SUCCESS");
    paid["gmt_payment"] = json!(sign::beijing_time(clock::now_secs()));
    paid["refund_plan"] = json!(form.get("refunds").map(String::as_str).unwrap_or("succeed"));
    if !trade.save(&state.db, &paid).await? {
        let changed = notice(
            StatusCode::CONFLICT,
            "This trade changed",
            "Reload the cashier.",
        );
        return Err(changed.into());
    }
    let notify = notify_fields(&paid, "TRADE_SUCCESS");
    let body = serde_urlencoded::to_string(&notify).unwrap_or_default();
    let notify_url = paid["notify_url"].as_str().unwrap_or("");
    deliver(&state, notify_url, body, DeliveryPlan::chosen(&form));
    if return_url.is_empty() {
        return Ok(notice(StatusCode::OK, "Paid", "The sandbox trade is paid."));
    }
    let mut back = common_fields(&paid);
    back.insert("method".into(), "alipay.trade.page.pay.return".into());
    back.insert("timestamp".into(), sign::beijing_time(clock::now_secs()));
    let back = sign_fields(back);
    Ok(Redirect::to(&wire::with_query(return_url, &back)).into_response())
}

async fn query(state: &Sandbox, app_id: &str, biz: &Value) -> Reply<Alipay> {
    const M: &str = "alipay.trade.query";
    let Some(trade) = find(state, app_id, biz).await? else {
        return Ok(not_exist(M));
    };
    let status = status_of(&trade);
    let paid = matches!(status.as_str(), "TRADE_SUCCESS" | "TRADE_FINISHED");
    let refunded: i64 = trade["refunds"]
        .as_array()
        .map(|l| l.iter().map(|r| fen(r, "amount")).sum())
        .unwrap_or(0);
    let was_paid = paid || refunded > 0;
    let amount = yuan(fen(&trade, "total_amount"));
    let mut answer = json!({
        "code": "10000",
        "msg": "Success",
        "trade_no": trade["trade_no"],
        "out_trade_no": trade["out_trade_no"],
        "buyer_logon_id": "sbx***@sandbox.com",
        "trade_status": status,
        "total_amount": amount,
        "buyer_pay_amount": if was_paid { amount.clone() } else { "0.00".into() },
        "point_amount": "0.00",
        "invoice_amount": if was_paid { amount.clone() } else { "0.00".into() },
        "receipt_amount": if was_paid { amount.clone() } else { "0.00".into() },
        "buyer_user_id": "2088102000000001",
    });
    if was_paid {
        answer["send_pay_date"] = trade["gmt_payment"].clone();
    }
    Ok(signed(M, answer))
}

async fn close(state: &Sandbox, app_id: &str, biz: &Value) -> Reply<Alipay> {
    const M: &str = "alipay.trade.close";
    for _ in 0..TRIES {
        let Some(trade) = find(state, app_id, biz).await? else {
            return Ok(not_exist(M));
        };
        let ok = json!({"code": "10000", "msg": "Success", "trade_no": trade["trade_no"], "out_trade_no": trade["out_trade_no"]});
        match status_of(&trade).as_str() {
            "TRADE_CLOSED" => return Ok(signed(M, ok)),
            "WAIT_BUYER_PAY" => {
                let mut closed = trade.value.clone();
                closed["status"] = json!("TRADE_CLOSED");
                if trade.save(&state.db, &closed).await? {
                    return Ok(signed(M, ok));
                }
            }
            _ => return Ok(business(M, "ACQ.TRADE_STATUS_ERROR", "交易状态不合法")),
        }
    }
    Ok(busy(M))
}

async fn refund(state: &Sandbox, app_id: &str, biz: &Value) -> Reply<Alipay> {
    const M: &str = "alipay.trade.refund";
    for _ in 0..TRIES {
        let Some(trade) = find(state, app_id, biz).await? else {
            return Ok(not_exist(M));
        };
        let request_no = biz["out_request_no"]
            .as_str()
            .filter(|s| !s.is_empty())
            .or(trade["out_trade_no"].as_str())
            .unwrap_or("")
            .to_string();
        let Some(amount) = biz["refund_amount"]
            .as_str()
            .and_then(sign::parse_yuan)
            .filter(|a| *a > 0)
        else {
            return Ok(api_error(
                M,
                "40002",
                "Invalid Arguments",
                "isv.invalid-parameter",
                "refund_amount is invalid",
            ));
        };
        let refunds = trade["refunds"].as_array().cloned().unwrap_or_default();
        let taken: i64 = refunds.iter().map(|r| fen(r, "amount")).sum();
        let answer = |fund_change: &str, total_refunded: i64| {
            json!({
                "code": "10000", "msg": "Success",
                "trade_no": trade["trade_no"], "out_trade_no": trade["out_trade_no"],
                "buyer_logon_id": "sbx***@sandbox.com", "fund_change": fund_change,
                "refund_fee": yuan(total_refunded), "gmt_refund_pay": sign::beijing_time(clock::now_secs()),
                "buyer_user_id": "2088102000000001",
            })
        };
        // The same out_request_no again: the same refund, no money moves (fund_change N).
        if let Some(same) = refunds
            .iter()
            .find(|r| r["out_request_no"] == request_no.as_str())
        {
            if fen(same, "amount") != amount {
                return Ok(business(
                    M,
                    "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL",
                    "退款金额与原请求不一致",
                ));
            }
            return Ok(signed(M, answer("N", taken)));
        }
        let status = status_of(&trade);
        if !matches!(status.as_str(), "TRADE_SUCCESS") {
            return Ok(business(M, "ACQ.TRADE_STATUS_ERROR", "交易状态不合法"));
        }
        if trade["refund_plan"] == "refuse" {
            return Ok(business(
                M,
                "ACQ.TRADE_NOT_ALLOW_REFUND",
                "当前交易不允许退款 (sandbox test control)",
            ));
        }
        let total = fen(&trade, "total_amount");
        if amount > total - taken {
            return Ok(business(
                M,
                "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL",
                "退款金额超限",
            ));
        }
        // Settled at once (money moved: fund_change Y), or accepted to settle later (N).
        let later = trade["refund_plan"] == "later";
        let mut updated = trade.value.clone();
        let mut list = refunds.clone();
        list.push(json!({
            "out_request_no": request_no,
            "amount": amount,
            "reason": biz["refund_reason"].as_str().unwrap_or(""),
            "gmt_refund_pay": sign::beijing_time(clock::now_secs()),
            "settled": !later,
        }));
        updated["refunds"] = Value::Array(list);
        if taken + amount == total {
            // A fully refunded trade is closed.
            updated["status"] = json!("TRADE_CLOSED");
        }
        if trade.save(&state.db, &updated).await? {
            let fund_change = if later { "N" } else { "Y" };
            return Ok(signed(M, answer(fund_change, taken + amount)));
        }
    }
    Ok(busy(M))
}

/// `alipay.trade.fastpay.refund.query`: `REFUND_SUCCESS` with the amount for a settled refund;
/// no status for one Alipay does not know or has not settled. A refund accepted to settle later
/// settles at the query after the first one that found it unsettled.
async fn refund_query(state: &Sandbox, app_id: &str, biz: &Value) -> Reply<Alipay> {
    const M: &str = "alipay.trade.fastpay.refund.query";
    let request_no = biz["out_request_no"].as_str().unwrap_or("");
    let mut found = None;
    let mut trade = Value::Null;
    for _ in 0..TRIES {
        let Some(current) = find(state, app_id, biz).await? else {
            return Ok(not_exist(M));
        };
        trade = current.value.clone();
        let Some(index) = trade["refunds"]
            .as_array()
            .and_then(|l| l.iter().position(|r| r["out_request_no"] == request_no))
        else {
            break;
        };
        let refund = &trade["refunds"][index];
        if refund["settled"] != false {
            found = Some(refund.clone());
            break;
        }
        // Not settled yet: this query finds no status; the next one finds it settled.
        let mut updated = trade.clone();
        updated["refunds"][index]["settled"] = json!(true);
        if current.save(&state.db, &updated).await? {
            break;
        }
    }
    let mut answer = json!({
        "code": "10000", "msg": "Success",
        "trade_no": trade["trade_no"], "out_trade_no": trade["out_trade_no"],
        "out_request_no": request_no,
    });
    if let Some(r) = found {
        answer["total_amount"] = json!(yuan(fen(&trade, "total_amount")));
        answer["refund_amount"] = json!(yuan(fen(&r, "amount")));
        answer["refund_status"] = json!("REFUND_SUCCESS");
        answer["gmt_refund_pay"] = r["gmt_refund_pay"].clone();
    }
    Ok(signed(M, answer))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_and_body_merge_and_a_conflict_is_refused() {
        let m = merged(Some("a=1&sign=x%2By"), b"biz_content=%7B%7D&a=1").unwrap();
        assert_eq!(m["sign"], "x+y");
        assert_eq!(m["biz_content"], "{}");
        assert!(merged(Some("a=1"), b"a=2").is_none());
    }

    #[tokio::test]
    async fn answers_are_signed_over_the_exact_object() {
        let response = signed(
            "alipay.trade.query",
            json!({"code": "10000", "msg": "Success"}),
        );
        let body = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        let raw = String::from_utf8(body.to_vec()).unwrap();
        assert!(
            raw.starts_with("{\"alipay_trade_query_response\":{"),
            "{raw}"
        );
        let (text, sign) = sign::signed_response(&raw, "alipay_trade_query_response").unwrap();
        let public = PublicKey::parse(keys::SANDBOX_ALIPAY_PUBLIC_KEY).unwrap();
        assert!(public.verify(text, &sign.unwrap()));
    }
}
