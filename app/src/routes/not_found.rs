//! The 404 page.

use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn NotFound() -> impl IntoView {
    crate::set_not_found_status();
    view! {
        <Title text="Not found" />
        <h1>"Page not found"</h1>
        <p>"We could not find that page. " <a href="/">"Back to the shop"</a></p>
    }
}
