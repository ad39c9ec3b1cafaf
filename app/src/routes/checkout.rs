//! `/checkout`: the re-priced order summary. Payment (the provider choice and Pay) is not built yet.

use crate::api::cart::get_cart;
use crate::components::layout::use_shop_actions;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn CheckoutPage() -> impl IntoView {
    let actions = use_shop_actions();
    let cart = Resource::new(move || actions.version(), |_| get_cart());
    view! {
        <Title text="Checkout" />
        <h1>"Checkout"</h1>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match cart.await {
                    Ok(cart) if cart.is_empty() => view! {
                        <p>"Your cart is empty. " <a href="/">"Browse the shop"</a></p>
                    }
                    .into_any(),
                    Ok(cart) => view! {
                        <h2>"Order summary"</h2>
                        <ul class="summary">
                            {cart.lines.into_iter().map(|l| view! {
                                <li>{format!("{} × {}", l.quantity, l.name)} <span>{l.line_total.to_string()}</span></li>
                            }).collect_view()}
                        </ul>
                        <p class="summary-total">"Total: " <strong>{cart.total.to_string()}</strong></p>
                        <p class="notice" role="status">
                            "Online payment is not available yet, so orders cannot be placed. Your cart is kept."
                        </p>
                        <p><a href="/cart">"Back to the cart"</a></p>
                    }
                    .into_any(),
                    Err(e) => view! { <p class="alert" role="alert">{e.to_string()}</p> }.into_any(),
                }
            })}
        </Transition>
    }
}
