//! Messages after a form was sent: errors as alerts, successes as polite status.

use crate::error::AppError;
use leptos::prelude::*;

/// The error text of an action's last result, if it failed.
pub fn error_text<T>(result: Option<Result<T, AppError>>) -> Option<String> {
    match result {
        Some(Err(e)) => Some(e.to_string()),
        _ => None,
    }
}

/// An error announced to assistive tech as soon as it appears.
#[component]
pub fn Alert(#[prop(into)] message: Signal<Option<String>>) -> impl IntoView {
    move || {
        message
            .get()
            .map(|m| view! { <p class="alert" role="alert">{m}</p> })
    }
}

/// A success message; the live region is always present so screen readers announce changes.
#[component]
pub fn Status(#[prop(into)] message: Signal<Option<String>>) -> impl IntoView {
    view! { <p class="status" role="status">{move || message.get()}</p> }
}
