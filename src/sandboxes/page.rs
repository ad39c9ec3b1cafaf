//! The plain HTML shared by the sandboxes' hosted pages (no Leptos: they stand for another site).

use app::server::csp::PageSources;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::Extension;
use serde_json::Value;
use std::collections::HashMap;

pub use app::server::html::escape;

/// A URL on the shop's own origin (`PUBLIC_URL`), without spaces or control characters: the only
/// place a sandbox sends a shopper or a notification. Anything else would make the shop's domain
/// an open redirect, or make the shop send requests to other hosts.
pub fn is_shop_url(url: &str, public_url: &str) -> bool {
    url.strip_prefix(public_url)
        .is_some_and(|rest| rest.starts_with('/'))
        && !url.chars().any(|c| c.is_control() || c.is_whitespace())
}

/// The sandbox pages' stylesheet, inline so a sandbox needs no files of its own; allowed by its
/// hash in the pages' Content Security Policy.
const STYLE: &str = "
body{font-family:system-ui,sans-serif;max-width:34rem;margin:2rem auto;padding:0 1rem;color:#1a1a2e;background:#f4f4fb}
.banner{background:#ffd84d;padding:.5rem .75rem;border-radius:.4rem;font-weight:600}
.card{background:#fff;border-radius:.6rem;padding:1.25rem;box-shadow:0 1px 4px #0002;margin-top:1rem}
button{font-size:1rem;padding:.6rem 1.2rem;margin:.25rem .5rem .25rem 0;border-radius:.4rem;border:1px solid #555;cursor:pointer}
button.pay{background:#2d6a4f;color:#fff;border-color:#2d6a4f}
fieldset{margin-top:1rem;border-radius:.4rem} td{padding:.2rem .6rem .2rem 0}
";

/// A complete page in the sandbox's own look, so nobody mistakes it for the shop.
pub fn page(title: &str, body: &str) -> Response {
    page_with_scripts(title, body, &[])
}

/// [`page`] whose body carries these fixed inline scripts (each exactly as in the body, between
/// its `<script>` tags): the page's Content Security Policy allows them by hash, and no other.
pub fn page_with_scripts(title: &str, body: &str, scripts: &[&str]) -> Response {
    let html = Html(format!(
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="icon" href="data:,">
<style>{STYLE}</style></head>
<body><header><p class="banner" role="note">Sandbox: no real money moves. Test controls are below.</p></header>
{body}
</body></html>"#,
        title = escape(title),
    ));
    (
        Extension(PageSources::hand_written(scripts, &[STYLE])),
        html,
    )
        .into_response()
}

/// [`page`] with this status, whose body is a card: a heading and, if any, a paragraph (both
/// HTML).
pub fn card(status: StatusCode, title: &str, heading: &str, text: Option<&str>) -> Response {
    let text = text.map(|t| format!("<p>{t}</p>")).unwrap_or_default();
    let body = format!("<main class=\"card\"><h1>{heading}</h1>{text}</main>");
    (status, page(title, &body)).into_response()
}

/// [`page`] with this status telling what went wrong (or how the shopper left) in words a test
/// can find (`sandbox-error`).
pub fn notice(status: StatusCode, title: &str, detail: &str) -> Response {
    let body = format!(
        "<main class=\"card\"><h1>{}</h1><p role=\"alert\" data-testid=\"sandbox-error\">{}</p></main>",
        escape(title),
        escape(detail)
    );
    (status, page(title, &body)).into_response()
}

/// The three buttons of every hosted checkout (`action` = `pay`, `decline` or `cancel`).
pub const PAY_DECLINE_CANCEL: &str = r#"<button class="pay" name="action" value="pay">Pay</button>
<button name="action" value="decline">Decline</button>
<button name="action" value="cancel">Cancel</button>"#;

/// One line of a checkout's table: `quantity × name`, and its amount (all HTML).
pub fn line_row(quantity: &str, name: &str, amount: &str) -> String {
    format!("<tr><td>{quantity} × {name}</td><td>{amount}</td></tr>")
}

/// A hidden form field, its name and value escaped.
pub fn hidden(name: &str, value: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
        escape(name),
        escape(value)
    )
}

/// The rows of a checkout's table: `row` of each item in `list` (none when it is not a list).
pub fn line_rows(list: &Value, row: impl Fn(&Value) -> String) -> String {
    list.as_array().into_iter().flatten().map(row).collect()
}

/// An amount in minor units as the shop writes it (`$18.00`), or the bare number and currency.
pub fn money_text(minor: i64, currency: &str) -> String {
    match currency.parse::<app::model::Currency>() {
        Ok(c) => app::model::Money::new(minor, c).to_string(),
        Err(_) => format!("{minor} {}", escape(currency)),
    }
}

/// The test-control fieldset: how the sandbox delivers this payment's webhooks.
pub fn delivery_controls() -> &'static str {
    r#"<fieldset><legend>Webhook delivery (test control)</legend>
<label><input type="radio" name="webhook" value="normal" checked> Normal</label><br>
<label><input type="radio" name="webhook" value="delayed"> Delayed by 3 seconds</label><br>
<label><input type="radio" name="webhook" value="duplicated"> Duplicated (each sent 5 times at once)</label><br>
<label><input type="radio" name="webhook" value="reordered"> Reordered (events sent last-first)</label><br>
<label><input type="radio" name="webhook" value="never"> Never sent</label>
</fieldset>"#
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_shops_own_origin_is_a_shop_url() {
        let shop = "http://shop.example.test";
        assert!(is_shop_url(
            "http://shop.example.test/payments/stripe/return/ORD-1",
            shop
        ));
        for other in [
            "http://shop.example.test.evil.example/x",
            "http://shop.example.test@evil.example/x",
            "https://evil.example/x",
            "http://shop.example.test",
            "javascript:alert(1)",
            "http://shop.example.test/x y",
        ] {
            assert!(!is_shop_url(other, shop), "{other}");
        }
    }
}

/// How the sandbox treats refunds of a payment, chosen on its hosted page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundPlan {
    /// Refunds succeed.
    Succeed,
    /// Refunds are accepted, then fail (Stripe's test card 4000 0000 0000 5126).
    Fail,
    /// Refunds are refused at once (a disputed payment).
    Refuse,
}

impl RefundPlan {
    /// The plan chosen on a hosted page's form (`refunds=`).
    pub fn chosen(form: &HashMap<String, String>) -> RefundPlan {
        RefundPlan::parse(form.get("refunds").map(String::as_str))
    }

    pub fn parse(value: Option<&str>) -> RefundPlan {
        match value {
            Some("fail") => RefundPlan::Fail,
            Some("refuse") => RefundPlan::Refuse,
            _ => RefundPlan::Succeed,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RefundPlan::Succeed => "succeed",
            RefundPlan::Fail => "fail",
            RefundPlan::Refuse => "refuse",
        }
    }
}

/// The test-control fieldset: what later refunds of this payment do.
pub fn refund_controls() -> &'static str {
    r#"<fieldset><legend>Refunds of this payment (test control)</legend>
<label><input type="radio" name="refunds" value="succeed" checked> Succeed</label><br>
<label><input type="radio" name="refunds" value="fail"> Accepted, then fail</label><br>
<label><input type="radio" name="refunds" value="refuse"> Refused at once (disputed payment)</label>
</fieldset>"#
}
