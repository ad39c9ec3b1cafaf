//! `/checkout`: the re-priced order summary, contact and delivery details, the Payment method
//! choice (only providers that can take the cart's currency and total) and **Pay**.
//!
//! The form is a plain POST to the `place_order` server function, with JavaScript on or off: the
//! answer is a redirect to the provider's page, which is a full navigation either way. With
//! JavaScript, the Pay button (an island) says that the shopper is on the way.

use crate::api::checkout::get_checkout;
use crate::api::PlaceOrder;
use crate::components::feedback::{error_text, Alert};
use crate::components::field::{CountryField, FieldMessage, Kind, TextField};
use crate::model::{CheckoutView, FieldState};
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
        methods,
        details,
        errors,
        checkout_key,
    } = view;
    let chosen = methods
        .iter()
        .find(|m| m.provider.as_str() == details.provider)
        .or(methods.first())
        .map(|m| m.provider);
    let no_method = methods.is_empty();
    let currency = cart.currency;
    let total = cart.total;
    let place_order_path = <PlaceOrder as leptos::server_fn::ServerFn>::PATH;
    let method_state = FieldState::of(&errors, "provider", None);
    let method_has_error = method_state.message.is_some();
    let method_describedby = method_state.describedby.clone();
    let text = |name: &'static str, label: &'static str, kind: Kind, value: String| {
        view! { <TextField name label kind value errors=errors.clone() /> }
    };
    view! {
        <Alert message=error />
        <div class="checkout-layout">
            <aside class="checkout-summary" aria-labelledby="summary-heading">
                <h2 id="summary-heading">"Order summary"</h2>
                <ul class="summary">
                    {cart.notices.into_iter().map(|n| view! { <li class="notice" role="status">{n}</li> }).collect_view()}
                    {cart.lines.into_iter().map(|l| view! {
                        <li><span>{format!("{} × {}", l.quantity, l.name)}</span> " " <span class="money">{l.line_total.to_string()}</span></li>
                    }).collect_view()}
                </ul>
                <p class="summary-total">"Total " <strong data-testid="checkout-total">{total.to_string()}</strong></p>
                <p><A href="/cart">"Change the cart"</A></p>
            </aside>
            <form method="post" action=place_order_path class="payment-form">
                <input type="hidden" name="checkout_key" value=checkout_key />
                <h2>"Contact and delivery"</h2>
                {text("email", "Email", Kind { input_type: "email", ..Kind::text("email", 254) }, details.email)}
                {text("name", "Name", Kind::text("name", 100), details.name)}
                {text("address", "Address", Kind::text("street-address", 200), details.address)}
                {text("city", "City", Kind::text("address-level2", 60), details.city)}
                {text("postcode", "Postcode", Kind::text("postal-code", 20), details.postcode)}
                <CountryField value=details.country errors=errors.clone() />
                {text("phone", "Phone (optional)", Kind { input_type: "tel", required: false, ..Kind::text("tel", 20) }, details.phone)}
                <fieldset
                    class="payment-methods"
                    class:has-error=method_has_error
                    aria-describedby=method_describedby
                >
                    <legend>"Payment method"</legend>
                    {methods.into_iter().map(|m| {
                        let id = format!("provider-{}", m.provider.as_str());
                        let hint_id = format!("{id}-hint");
                        view! {
                            <div class="payment-choice">
                                <input type="radio" name="provider" id=id.clone() value=m.provider.as_str()
                                    checked=Some(m.provider) == chosen required aria-describedby=hint_id.clone() />
                                <label for=id>{m.label}</label>
                                <span class="hint" id=hint_id>{m.hint}</span>
                            </div>
                        }
                    }).collect_view()}
                    {no_method.then(|| view! {
                        <p class="notice" role="status">
                            {format!("No payment method can take this order in {currency}. Try another currency.")}
                        </p>
                    })}
                    <FieldMessage state=method_state />
                </fieldset>
                <p class="hint">"You pay on the provider's secure page; card details never reach this shop."</p>
                <PayButton label=format!("Pay {total}") disabled=no_method />
            </form>
        </div>
    }
}

/// **Pay $82.00**, and a status that the shopper is being sent to the payment page once the form is valid
/// and on its way (announced politely; the page itself then navigates).
#[island]
fn PayButton(label: String, disabled: bool) -> impl IntoView {
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
        <button type="submit" class="primary" disabled=disabled node_ref=button on:click=on_click>{label}</button>
        <p class="status" role="status">{move || sending.get().then_some("Sending you to the payment page…")}</p>
    }
}
