//! Small helpers for the HTTP response being built for the current page or server function.

use axum::http::StatusCode;
use leptos::prelude::use_context;
use leptos_axum::ResponseOptions;

/// Set the status code of the response being rendered (404 pages, refusals).
pub fn set_status(status: StatusCode) {
    if let Some(response) = use_context::<ResponseOptions>() {
        response.set_status(status);
    }
}

/// Mark the response 404 unless it already redirects (a renamed product's old address answers
/// 301 while its page draws the not-found view).
pub fn set_not_found() {
    if let Some(response) = use_context::<ResponseOptions>() {
        let redirects = response
            .0
            .read()
            .map(|parts| parts.status.is_some_and(|s| s.is_redirection()))
            .unwrap_or(false);
        if !redirects {
            response.set_status(StatusCode::NOT_FOUND);
        }
    }
}
