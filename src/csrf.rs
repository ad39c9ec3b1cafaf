//! Cross-site request forgery guard for every state-changing request.
//!
//! The session cookie is `SameSite=Lax`, so browsers do not send it on cross-site POSTs. On top of
//! that, a POST/PUT/PATCH/DELETE whose `Sec-Fetch-Site` says `cross-site`, or whose `Origin` is
//! neither the host addressed nor the configured `PUBLIC_URL` (a reverse proxy may rewrite `Host`),
//! is refused with 403 before it reaches any handler. Provider webhooks (`/webhooks/…`) are exempt:
//! they are verified by signature instead. So are the provider returns (`/payments/…/return/…`),
//! which SSLCOMMERZ posts from its own site: they change nothing but trigger a status lookup at
//! the provider.

use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// The shop's own origin as configured (`PUBLIC_URL`), e.g. `https://shop.example.com`.
#[derive(Clone)]
pub struct PublicOrigin(pub Arc<str>);

pub async fn guard(State(public): State<PublicOrigin>, request: Request, next: Next) -> Response {
    if is_cross_site_write(&request, &public.0) {
        tracing::warn!(path = %request.uri().path(), "refused cross-site form post");
        return (
            StatusCode::FORBIDDEN,
            "Cross-site form posts are not accepted.",
        )
            .into_response();
    }
    next.run(request).await
}

fn is_cross_site_write(request: &Request, public_origin: &str) -> bool {
    let writes = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    let path = request.uri().path();
    if !writes || path.starts_with("/webhooks/") || is_provider_return(path) {
        return false;
    }
    let headers = request.headers();
    if headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) == Some("cross-site") {
        return true;
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    if origin.eq_ignore_ascii_case(public_origin) {
        return false;
    }
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let origin_host = origin.split("://").nth(1).unwrap_or_default();
    origin == "null" || !origin_host.eq_ignore_ascii_case(host)
}

/// `/payments/{provider}/return/{reference}`: where a provider sends the shopper back.
fn is_provider_return(path: &str) -> bool {
    let mut parts = path.trim_start_matches('/').split('/');
    matches!(
        (parts.next(), parts.next(), parts.next(), parts.next(), parts.next()),
        (Some("payments"), Some(_), Some("return"), Some(r), None) if !r.is_empty()
    )
}
