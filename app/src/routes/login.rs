//! `/login`.

use crate::components::feedback::{error_text, Alert};
use crate::components::layout::use_shop_actions;
use crate::model::order_list::safe_next;
use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn LoginPage() -> impl IntoView {
    let actions = use_shop_actions();
    // Where to return after logging in (checked again on the server).
    let query = use_query_map();
    let next = move || {
        query
            .read()
            .get("next")
            .filter(|n| safe_next(n).is_some())
            .unwrap_or_default()
    };
    view! {
        <Title text="Log in" />
        <h1>"Log in"</h1>
        <Alert message=Signal::derive(move || error_text(actions.log_in.value().get())) />
        <ActionForm action=actions.log_in attr:class="stacked">
            <input type="hidden" name="next" value=next />
            <label for="email">"Email"</label>
            <input id="email" name="email" type="email" autocomplete="email" required />
            <label for="password">"Password"</label>
            <input id="password" name="password" type="password" autocomplete="current-password" required />
            <button type="submit" class="primary" disabled=move || actions.log_in.pending().get()>"Log in"</button>
        </ActionForm>
        <p>"New here? " <a href="/register">"Create an account"</a></p>
    }
}
