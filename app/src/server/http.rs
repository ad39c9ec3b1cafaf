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
