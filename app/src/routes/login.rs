//! `/login`.

use crate::api::account::{refused_form, LOGIN_FORM};
use crate::components::feedback::{error_text, Alert};
use crate::components::field::FieldMessage;
use crate::components::layout::use_shop_actions;
use crate::model::order_list::safe_next;
use crate::model::{FieldState, FormEcho};
use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn LoginPage() -> impl IntoView {
    // What a refused log-in left: the email typed, and why.
    let refused = Resource::new(|| (), |_| refused_form(LOGIN_FORM.to_string()));
    view! {
        <Title text="Log in" />
        <h1>"Log in"</h1>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                let echo = refused.await.ok().flatten().unwrap_or_default();
                view! { <LoginForm echo /> }
            })}
        </Transition>
        <p>"New here? " <a href="/register">"Create an account"</a></p>
    }
}

#[component]
fn LoginForm(echo: FormEcho) -> impl IntoView {
    let actions = use_shop_actions();
    // Where to return after logging in (checked again on the server): the link's, or the refused
    // form's.
    let query = use_query_map();
    let next = query
        .read_untracked()
        .get("next")
        .or_else(|| Some(echo.value("next")))
        .filter(|n| safe_next(n).is_some())
        .unwrap_or_default();
    let email = FieldState::of(&echo.errors, "email", None);
    let password = FieldState::of(&echo.errors, "password", None);
    view! {
        <Alert message=Signal::derive(move || error_text(actions.log_in.value().get())) />
        <ActionForm action=actions.log_in attr:class="stacked">
            <input type="hidden" name="next" value=next />
            <label for="email">"Email"</label>
            <input id="email" name="email" type="email" autocomplete="email" required
                value=echo.value("email") aria-invalid=email.invalid
                aria-describedby=email.describedby.clone() autofocus=email.autofocus />
            <FieldMessage state=email />
            <label for="password">"Password"</label>
            <input id="password" name="password" type="password" autocomplete="current-password" required
                aria-invalid=password.invalid aria-describedby=password.describedby.clone()
                autofocus=password.autofocus />
            <FieldMessage state=password />
            <button type="submit" class="primary" disabled=move || actions.log_in.pending().get()>"Log in"</button>
        </ActionForm>
    }
}
