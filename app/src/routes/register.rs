//! `/register`.

use crate::api::account::{refused_form, REGISTER_FORM};
use crate::components::feedback::{error_text, Alert};
use crate::components::field::FieldMessage;
use crate::components::layout::use_shop_actions;
use crate::model::{FieldState, FormEcho, Password};
use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn RegisterPage() -> impl IntoView {
    // What a refused registration left: the email typed, and why.
    let refused = Resource::new(|| (), |_| refused_form(REGISTER_FORM.to_string()));
    view! {
        <Title text="Create account" />
        <h1>"Create account"</h1>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                let echo = refused.await.ok().flatten().unwrap_or_default();
                view! { <RegisterForm echo /> }
            })}
        </Transition>
        <p>"Already have an account? " <a href="/login">"Log in"</a></p>
    }
}

#[component]
fn RegisterForm(echo: FormEcho) -> impl IntoView {
    let actions = use_shop_actions();
    let email = FieldState::of(&echo.errors, "email", None);
    let password = FieldState::of(&echo.errors, "password", Some("password-hint"));
    view! {
        <Alert message=Signal::derive(move || error_text(actions.register.value().get())) />
        <ActionForm action=actions.register attr:class="stacked">
            <label for="email">"Email"</label>
            <input id="email" name="email" type="email" autocomplete="email" required
                value=echo.value("email") aria-invalid=email.invalid
                aria-describedby=email.describedby.clone() autofocus=email.autofocus />
            <FieldMessage state=email />
            <label for="password">"Password"</label>
            <input id="password" name="password" type="password" autocomplete="new-password" required
                minlength=Password::MIN_CHARS.to_string() maxlength=Password::MAX_CHARS.to_string()
                aria-invalid=password.invalid aria-describedby=password.describedby.clone()
                autofocus=password.autofocus />
            <p id="password-hint" class="hint">{format!("At least {} characters.", Password::MIN_CHARS)}</p>
            <FieldMessage state=password />
            <button type="submit" class="primary" disabled=move || actions.register.pending().get()>"Create account"</button>
        </ActionForm>
    }
}
