//! Where providers send the shopper back, and the shopper's cancel.
//!
//! - `GET|POST /payments/{provider}/return/{reference}`: a return never marks an order paid by
//!   itself; the provider completes it its way (a lookup, or PayPal's capture) and its answer is
//!   applied. Then the browser goes to the order page.
//! - `GET /payments/{provider}/cancel/{reference}`: the shopper left the provider's page. It asks
//!   the provider, like a return, and changes nothing by itself: the order page offers **Cancel
//!   order**.
//! - `POST /payments/{provider}/cancel/{reference}`: that button. Behind the CSRF guard, for the
//!   order's owner (or a merchant) only.
//! - `GET /payments/{provider}/go/{attempt}`: for providers whose start is a form the browser
//!   posts to them, the page that carries it (auto-submitted with JavaScript, **Continue**
//!   without), for the attempt's owner only.

use super::handoff_page;
use app::model::{OrderStatus, ProviderId};
use app::server::auth::ShopSession;
use app::server::csp::PageSources;
use app::server::html::escape;
use app::server::payments::attempt::AttemptState;
use app::server::payments::NextStep;
use app::server::services::orders::{self, Viewer};
use app::server::state::AppState;
use axum::body::Bytes;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use serde::Deserialize;
use tower_sessions::Session;

/// Order references are `ORD-` and digits; anything else goes nowhere.
fn checked(reference: &str) -> Option<&str> {
    let digits = reference.strip_prefix("ORD-")?;
    (!digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit())).then_some(reference)
}

fn order_page(reference: &str, key: Option<&str>) -> Redirect {
    order_page_with(reference, key, &[])
}

/// The order page, keeping the guest link's key, with fixed flags (never text) for the page.
fn order_page_with(reference: &str, key: Option<&str>, flags: &[(&str, &str)]) -> Redirect {
    let key = key.filter(|k| !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric()));
    let query: Vec<(&str, &str)> = key
        .map(|k| ("key", k))
        .into_iter()
        .chain(flags.iter().copied())
        .collect();
    if query.is_empty() {
        Redirect::to(&format!("/orders/{reference}"))
    } else {
        let query = serde_urlencoded::to_string(&query).unwrap_or_default();
        Redirect::to(&format!("/orders/{reference}?{query}"))
    }
}

fn pairs(text: &[u8]) -> Vec<(String, String)> {
    serde_urlencoded::from_bytes(text).unwrap_or_default()
}

async fn come_back(
    state: &AppState,
    provider: &str,
    reference: &str,
    params: Vec<(String, String)>,
    posted: bool,
    flags: &[(&str, &str)],
) -> Redirect {
    let (Some(provider), Some(reference)) = (ProviderId::parse(provider), checked(reference))
    else {
        return Redirect::to("/");
    };
    orders::returned(state, provider, reference, &params, posted).await;
    order_page_with(reference, None, flags)
}

/// A GET return (Stripe's `success_url`, PayPal's `return_url`…).
pub async fn provider_return(
    State(state): State<AppState>,
    Path((provider, reference)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Redirect {
    let params = pairs(query.unwrap_or_default().as_bytes());
    come_back(&state, &provider, &reference, params, false, &[]).await
}

/// The provider's cancel link: it likewise only asks the provider and changes nothing by itself,
/// and the order page, still awaiting payment, then says the shopper left the payment page and
/// offers **Resume payment** and **Back to cart** (`?left=1`).
pub async fn provider_cancel(
    State(state): State<AppState>,
    Path((provider, reference)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Redirect {
    let params = pairs(query.unwrap_or_default().as_bytes());
    come_back(
        &state,
        &provider,
        &reference,
        params,
        false,
        &[("left", "1")],
    )
    .await
}

/// A POST return (SSLCOMMERZ's success / fail / cancel form, posted from its own site).
pub async fn provider_return_post(
    State(state): State<AppState>,
    Path((provider, reference)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Redirect {
    let mut params = pairs(query.unwrap_or_default().as_bytes());
    params.extend(pairs(&body));
    come_back(&state, &provider, &reference, params, true, &[]).await
}

#[derive(Deserialize)]
pub struct CancelForm {
    #[serde(default)]
    key: Option<String>,
}

/// **Cancel order** on the order page.
pub async fn cancel_order(
    State(state): State<AppState>,
    session: Session,
    Path((provider, reference)): Path<(String, String)>,
    Form(form): Form<CancelForm>,
) -> Response {
    let (Some(provider), Some(reference)) = (ProviderId::parse(&provider), checked(&reference))
    else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let session = ShopSession(session);
    let viewer = Viewer {
        session: &session,
        key: form.key.as_deref(),
    };
    let order = match orders::visible(&state.db, &viewer, reference).await {
        Ok(Some(order)) => order,
        Ok(None) => return StatusCode::NOT_FOUND.into_response(),
        Err(e) => {
            tracing::error!(error = %e, "cancel failed");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    match orders::cancel(&state, provider, &order).await {
        Ok(()) => order_page(reference, form.key.as_deref()).into_response(),
        Err(e) => {
            // The page says so in the shop's own words (a fixed flag, not the error's text); the
            // reason is logged.
            tracing::info!(order = reference, error = %e, "cancel refused");
            order_page_with(reference, form.key.as_deref(), &[("cancel", "failed")]).into_response()
        }
    }
}

#[derive(Deserialize)]
pub struct GoQuery {
    #[serde(default)]
    key: Option<String>,
}

/// The page that takes the shopper to a provider whose start is a form to post, or a page of the
/// shop's own that the provider fills in.
pub async fn go_to_provider(
    State(state): State<AppState>,
    session: Session,
    Path((provider, attempt_reference)): Path<(String, String)>,
    Query(query): Query<GoQuery>,
) -> Response {
    let Some(provider_id) = ProviderId::parse(&provider) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let found = orders::handoff(&state.db, provider_id, &attempt_reference);
    let Ok(Some((order, attempt))) = found.await else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let session = ShopSession(session);
    let viewer = Viewer {
        session: &session,
        key: query.key.as_deref(),
    };
    if !matches!(orders::may_view(&state.db, &viewer, &order).await, Ok(true)) {
        return StatusCode::NOT_FOUND.into_response();
    }
    // Only an attempt the shopper can still pay leads on to the provider: a form kept in the
    // browser's history or a reopened link must not open a payment for a cancelled, expired or
    // superseded attempt (the money would land on an order that no longer waits for it).
    if attempt.state != AttemptState::Open || order.status != OrderStatus::AwaitingPayment {
        return order_page(&order.reference, query.key.as_deref()).into_response();
    }
    let step = attempt
        .next_step
        .as_deref()
        .and_then(|s| serde_json::from_str::<NextStep>(s).ok());
    let (body, sources) = match step {
        Some(NextStep::PostForm { action, fields }) => (
            form_page(&action, &fields),
            PageSources::hand_written(&[AUTO_SUBMIT], &[]),
        ),
        Some(NextStep::ShopPage { values }) => {
            match state
                .payments
                .get(provider_id)
                .and_then(|p| p.shop_page(&attempt.reference, &values))
            {
                Some(page) => {
                    let mut sources = page.sources;
                    sources.img.push("data:".into());
                    (page.body, sources)
                }
                None => return StatusCode::NOT_FOUND.into_response(),
            }
        }
        Some(NextStep::Redirect { url }) => return Redirect::to(&url).into_response(),
        None => return order_page(&order.reference, query.key.as_deref()).into_response(),
    };
    // This page hands the shopper to a provider: other sites learn nothing of its URL.
    let sources = sources.same_origin_referrer();
    let lines = orders::lines_of(&state.db, &order)
        .await
        .unwrap_or_default();
    let summary = handoff_page::Summary {
        reference: &order.reference,
        lines: &lines,
        total: order.total(),
    };
    let title = format!("Continue to {}", provider_id.label());
    (
        Extension(sources),
        Html(handoff_page::page(
            &state.leptos_options,
            &title,
            &summary,
            &body,
        )),
    )
        .into_response()
}

/// A form posted to the provider: sent at once with JavaScript, a **Continue** button without.
pub fn form_page(action: &str, fields: &[(String, String)]) -> String {
    let inputs: String = fields
        .iter()
        .map(|(name, value)| {
            format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                escape(name),
                escape(value)
            )
        })
        .collect();
    format!(
        "<form id=\"provider-form\" method=\"post\" action=\"{}\">{inputs}\
         <p>Taking you to the payment page…</p><button type=\"submit\">Continue</button></form>\
         <script>{AUTO_SUBMIT}</script>",
        escape(action)
    )
}

/// Posts the provider form at once. Fixed text, allowed by its hash in the page's policy.
const AUTO_SUBMIT: &str = "document.getElementById('provider-form').submit();";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_provider_form_is_escaped_and_has_a_continue_button() {
        let page = form_page(
            "https://pay.example/gateway.do?charset=utf-8",
            &[("sign".into(), "a\"><script>x</script>".into())],
        );
        assert!(page.contains(">Continue</button>"));
        assert!(page.contains("value=\"a&quot;&gt;&lt;script&gt;x&lt;/script&gt;\""));
        assert!(!page.contains("<script>x"));
    }
}
