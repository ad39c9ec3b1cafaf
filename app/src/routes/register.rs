//! `/register`.

use crate::components::feedback::{error_text, Alert};
use crate::components::layout::use_shop_actions;
use crate::model::Password;
use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn RegisterPage() -> impl IntoView {
    let actions = use_shop_actions();
    view! {
        <Title text="Create account" />
        <h1>"Create account"</h1>
        <Alert message=Signal::derive(move || error_text(actions.register.value().get())) />
        <ActionForm action=actions.register attr:class="stacked">
            <label for="email">"Email"</label>
            <input id="email" name="email" type="email" autocomplete="email" required />
            <label for="password">"Password"</label>
            <input id="password" name="password" type="password" autocomplete="new-password" required
                minlength=Password::MIN_CHARS.to_string() maxlength=Password::MAX_CHARS.to_string()
                aria-describedby="password-hint" />
            <p id="password-hint" class="hint">{format!("At least {} characters.", Password::MIN_CHARS)}</p>
            <button type="submit" class="primary" disabled=move || actions.register.pending().get()>"Create account"</button>
        </ActionForm>
        <p>"Already have an account? " <a href="/login">"Log in"</a></p>
    }
}
