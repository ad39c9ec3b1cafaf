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

/// A merchant page refused: "Not allowed", with a way to log in when nobody is.
#[component]
pub fn NotAllowed(error: AppError) -> impl IntoView {
    let why = match error {
        AppError::Unauthorized => view! {
            <p class="alert" role="alert">"Please " <a href="/login">"log in"</a> " with a merchant account."</p>
        }
        .into_any(),
        other => view! { <p class="alert" role="alert">{other.to_string()}</p> }.into_any(),
    };
    view! {
        <leptos_meta::Title text="Not allowed" />
        <h1>"Not allowed"</h1>
        {why}
    }
}
