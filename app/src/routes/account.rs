//! `/account`: who is logged in.

use crate::api::account::header_data;
use crate::model::Role;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn AccountPage() -> impl IntoView {
    let info = Resource::new(|| (), |_| header_data());
    view! {
        <Title text="Your account" />
        <h1>"Your account"</h1>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match info.await.map(|h| h.user) {
                    Ok(Some(user)) => view! {
                        <p>"Logged in as " <strong>{user.email}</strong>
                            {if user.role == Role::Merchant { " (merchant)" } else { "" }}</p>
                        <p><a href="/cart">"Your cart"</a></p>
                        {(user.role == Role::Merchant).then(|| view! { <p><a href="/admin/products">"Manage products"</a></p> })}
                    }
                    .into_any(),
                    Ok(None) => view! { <p>"You are not logged in. " <a href="/login">"Log in"</a></p> }.into_any(),
                    Err(e) => view! { <p class="alert" role="alert">{e.to_string()}</p> }.into_any(),
                }
            })}
        </Transition>
    }
}
