//! Security headers on every response, and the per-request CSP nonce.
//!
//! One middleware, outside everything else but compression:
//!
//! 1. It makes a fresh [`CspNonce`] and puts it in the request's extensions. The Leptos renderer
//!    takes it from there ([`provide_leptos_nonce`]) so the hydration script and the resource
//!    scripts of that very response carry it.
//! 2. On the way out it adds the headers. Every response: `X-Content-Type-Options: nosniff`,
//!    `X-Frame-Options: DENY`, a `Referrer-Policy`, and HSTS when `PUBLIC_URL` is https. HTML
//!    documents also get the `Content-Security-Policy` (with that nonce, the shop-wide
//!    [`ShopPolicy`], and whatever the page asked for in a [`PageSources`] response extension),
//!    `Permissions-Policy` and `Cross-Origin-Opener-Policy`. JSON, SSE, CSS and WASM need no CSP:
//!    a browser applies a CSP to documents only.
//!
//! Referrer policy: `strict-origin-when-cross-origin` by default; `same-origin` when the URL
//! carries a guest key (`?key=…`, the guest link to an order) or the page says so (the pages that
//! hand the shopper to a provider). Nothing here logs URLs.

use app::server::config::Settings;
use app::server::csp::{CspNonce, FixedPolicy, PageSources, Referrer, ShopPolicy};
use axum::extract::{Request, State};
use axum::http::header::{self, HeaderName, HeaderValue};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use leptos::config::LeptosOptions;
use std::sync::Arc;

/// No camera, microphone, location or Payment Request API for the shop or anything it embeds:
/// every provider here takes payment on its own page, or in Braintree's card fields, which need
/// none of them.
const PERMISSIONS_POLICY: &str = "camera=(), microphone=(), geolocation=(), payment=(), usb=()";
/// Two years would be the preload list's ask; one year is the usual first step.
const HSTS: &str = "max-age=31536000; includeSubDomains";

/// What the middleware needs, fixed at start-up.
#[derive(Clone, Debug)]
pub struct SecurityHeaders {
    policy: ShopPolicy,
    /// The policy of most pages, which ask for nothing more: only the nonce is written per
    /// request.
    fixed: FixedPolicy,
    hsts: bool,
}

impl SecurityHeaders {
    pub fn new(settings: &Settings, leptos: &LeptosOptions) -> SecurityHeaders {
        let mut policy = ShopPolicy::new(&settings.public_url, settings.payments.browser_origins());
        // `cargo leptos watch` reloads the page through a websocket on its own port.
        if leptos.env == leptos::config::Env::DEV {
            let host = leptos.site_addr.ip();
            policy
                .connect
                .push(format!("ws://{host}:{}", leptos.reload_port));
        }
        SecurityHeaders {
            fixed: policy.without_page_sources(),
            policy,
            hsts: settings.is_https(),
        }
    }
}

pub async fn add(
    State(config): State<Arc<SecurityHeaders>>,
    mut request: Request,
    next: Next,
) -> Response {
    let nonce = CspNonce::generate();
    let guest_key = carries_guest_key(request.uri().query());
    request.extensions_mut().insert(nonce.clone());
    let mut response = next.run(request).await;
    let page = response.extensions_mut().remove::<PageSources>();
    let referrer = match page.as_ref().and_then(|p| p.referrer) {
        Some(chosen) => chosen,
        None if guest_key => Referrer::SameOrigin,
        None => Referrer::Default,
    };
    let is_html = is_html(response.headers());
    let headers = response.headers_mut();
    set(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(headers, header::X_FRAME_OPTIONS, "DENY");
    set(headers, header::REFERRER_POLICY, referrer.header_value());
    if config.hsts {
        set(headers, header::STRICT_TRANSPORT_SECURITY, HSTS);
    }
    if is_html {
        let csp = match &page {
            Some(page) => config.policy.render(&nonce, Some(page)),
            None => config.fixed.with(&nonce),
        };
        match HeaderValue::from_maybe_shared(axum::body::Bytes::from(csp)) {
            Ok(value) => {
                headers.insert(header::CONTENT_SECURITY_POLICY, value);
            }
            // Only a page's own source list could make this fail; fall back to refusing
            // everything rather than serving the page without a policy.
            Err(_) => {
                tracing::error!("a page's Content-Security-Policy is not a valid header value");
                set(
                    headers,
                    header::CONTENT_SECURITY_POLICY,
                    "default-src 'none'",
                );
            }
        }
        set(
            headers,
            HeaderName::from_static("permissions-policy"),
            PERMISSIONS_POLICY,
        );
        set(
            headers,
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        );
        // A page shows the visitor's cart and account: no shared cache may keep it, and the
        // browser asks again rather than showing a stale price.
        if !headers.contains_key(header::CACHE_CONTROL) {
            set(headers, header::CACHE_CONTROL, "private, no-cache");
        }
    }
    response
}

/// The nonce of the request being rendered, as Leptos' own: call from the Leptos routes'
/// additional context. Leptos has already provided a nonce of its own by then; this one replaces
/// it, so the page's scripts carry the nonce the middleware puts in the header.
pub fn provide_leptos_nonce() {
    use leptos::prelude::{provide_context, use_context};
    let nonce = use_context::<axum::http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<CspNonce>().cloned());
    if let Some(nonce) = nonce {
        provide_context(nonce.to_leptos());
    }
}

fn set(headers: &mut HeaderMap, name: HeaderName, value: &'static str) {
    headers.insert(name, HeaderValue::from_static(value));
}

fn is_html(headers: &HeaderMap) -> bool {
    headers.get(header::CONTENT_TYPE).is_some_and(|v| {
        v.as_bytes()
            .trim_ascii_start()
            .get(..b"text/html".len())
            .is_some_and(|start| start.eq_ignore_ascii_case(b"text/html"))
    })
}

/// Whether the query has a `key` parameter: the guest link's secret.
fn carries_guest_key(query: Option<&str>) -> bool {
    query.is_some_and(|q| {
        q.split('&')
            .any(|pair| pair.split('=').next() == Some("key"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_is_told_by_its_content_type_whatever_its_case() {
        let with = |value: &'static str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(value));
            is_html(&headers)
        };
        assert!(with("text/html; charset=utf-8"));
        assert!(with("  Text/HTML"));
        assert!(!with("text/plain"));
        assert!(!with("text"));
        assert!(!with("application/json"));
        assert!(!is_html(&HeaderMap::new()));
    }

    #[test]
    fn a_key_parameter_is_a_guest_key() {
        assert!(carries_guest_key(Some("key=abc")));
        assert!(carries_guest_key(Some("cancel=failed&key=abc")));
        assert!(!carries_guest_key(Some("monkey=1")));
        assert!(!carries_guest_key(None));
    }
}
