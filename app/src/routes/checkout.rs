//! `/checkout`: the re-priced order summary, contact and delivery details, the Payment method
//! choice (only providers that can take the cart's currency and total) and **Pay**.
//!
//! The form is a plain POST to the `place_order` server function, with JavaScript on or off: the
//! answer is a redirect to the provider's page, which is a full navigation either way. With
//! JavaScript, the Pay button (an island) says that the shopper is on the way.

use crate::api::checkout::get_checkout;
use crate::api::PlaceOrder;
use crate::components::feedback::{error_text, Alert};
use crate::model::CheckoutView;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

#[component]
pub fn CheckoutPage() -> impl IntoView {
    let data = Resource::new(|| (), |_| get_checkout());
    view! {
        <Title text="Checkout" />
        <h1>"Checkout"</h1>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(view) if view.cart.is_empty() => view! {
                        <p>"Your cart is empty. " <a href="/">"Browse the shop"</a></p>
                    }
                    .into_any(),
                    Ok(view) => view! { <CheckoutForm view /> }.into_any(),
                    Err(e) => view! { <p class="alert" role="alert">{e.to_string()}</p> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn CheckoutForm(view: CheckoutView) -> impl IntoView {
    // Only to read an error sent back to this page (`?__err=…`) after a refused Pay.
    let place = ServerAction::<PlaceOrder>::new();
    let error = Signal::derive(move || error_text(place.value().get()));
    let CheckoutView {
        cart,
        providers,
        email,
        checkout_key,
    } = view;
    let first = providers.first().copied();
    let no_method = providers.is_empty();
    let currency = cart.currency;
    let place_order_path = <PlaceOrder as leptos::server_fn::ServerFn>::PATH;
    let field = |id: &'static str, label: &'static str, autocomplete: &'static str| {
        view! {
            <p class="field">
                <label for=id>{label}</label>
                <input id=id name=id type="text" autocomplete=autocomplete required />
            </p>
        }
    };
    view! {
        <h2>"Order summary"</h2>
        <ul class="summary">
            {cart.notices.into_iter().map(|n| view! { <li class="notice" role="status">{n}</li> }).collect_view()}
            {cart.lines.into_iter().map(|l| view! {
                <li>{format!("{} × {}", l.quantity, l.name)} " " <span>{l.line_total.to_string()}</span></li>
            }).collect_view()}
        </ul>
        <p class="summary-total">"Total: " <strong data-testid="checkout-total">{cart.total.to_string()}</strong></p>
        <Alert message=error />
        <form method="post" action=place_order_path class="payment-form">
            <input type="hidden" name="checkout_key" value=checkout_key />
            <h2>"Contact and delivery"</h2>
            <p class="field">
                <label for="email">"Email"</label>
                <input id="email" name="email" type="email" autocomplete="email" required value=email.unwrap_or_default() />
            </p>
            {field("name", "Name", "name")}
            {field("address", "Address", "street-address")}
            {field("city", "City", "address-level2")}
            {field("postcode", "Postcode", "postal-code")}
            {field("country", "Country", "country-name")}
            <p class="field">
                <label for="phone">"Phone (optional)"</label>
                <input id="phone" name="phone" type="tel" autocomplete="tel" />
            </p>
            <fieldset class="payment-methods">
                <legend>"Payment method"</legend>
                {providers.into_iter().map(|p| {
                    let id = format!("provider-{}", p.as_str());
                    view! {
                        <p>
                            <input type="radio" name="provider" id=id.clone() value=p.as_str() checked=Some(p) == first required />
                            <label for=id>{p.label()}</label>
                        </p>
                    }
                }).collect_view()}
                {no_method.then(|| view! {
                    <p class="notice" role="status">
                        {format!("No payment method can take this order in {currency}. Try another currency.")}
                    </p>
                })}
            </fieldset>
            <p class="hint">"You pay on the provider's secure page; card details never reach this shop."</p>
            <PayButton disabled=no_method />
        </form>
        <p><A href="/cart">"Back to the cart"</A></p>
    }
}

/// **Pay**, and a status that the shopper is being sent to the payment page once the form is valid
/// and on its way (announced politely; the page itself then navigates).
#[island]
fn PayButton(disabled: bool) -> impl IntoView {
    let sending = RwSignal::new(false);
    let button = NodeRef::<leptos::html::Button>::new();
    let on_click = move |_| {
        let valid = button
            .get_untracked()
            .and_then(|b| b.form())
            .is_some_and(|form| form.check_validity());
        if valid {
            sending.set(true);
        }
    };
    view! {
        <button type="submit" class="primary" disabled=disabled node_ref=button on:click=on_click>"Pay"</button>
        <p class="status" role="status">{move || sending.get().then_some("Sending you to the payment page…")}</p>
    }
}
