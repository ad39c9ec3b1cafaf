//! The merchant's refund form for one order: **Amount** (pre-filled with what is left, in the
//! order currency's major units), **Reason** and **Refund**. Each drawing of the form carries a
//! fresh idempotency key, so pressing Refund twice on one form is one refund; after a refund the
//! form is drawn again with a new key and the new amount left.

use crate::api::refunds::{refund_form, RefundOrder};
use crate::components::feedback::{error_text, Alert};
use leptos::form::ActionForm;
use leptos::prelude::*;

/// `refund` is created by the page, which reads a refused refund's error from it; what a refund
/// did is the page's notice, drawn after the form comes back.
#[component]
pub fn RefundPanel(reference: String, refund: ServerAction<RefundOrder>) -> impl IntoView {
    let form_reference = reference.clone();
    let data = Resource::new(move || reference.clone(), refund_form);
    view! {
        <div class="refund-panel">
            <h3>"Refund"</h3>
            <Alert message=Signal::derive(move || error_text(refund.value().get())) />
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || {
                    let reference = form_reference.clone();
                    Suspend::new(async move {
                        match data.await {
                            Ok(form) => match form.offer {
                                Some(offer) => view! {
                                    <p class="hint">
                                        {format!("Captured {}; {} can still be refunded", offer.captured, offer.left)}
                                        {(!offer.partial).then_some(" (this provider refunds only the whole amount)")}
                                        "."
                                    </p>
                                    <ActionForm action=refund attr:class="stacked refund-form">
                                        <input type="hidden" name="reference" value=reference />
                                        <input type="hidden" name="key" value=offer.key />
                                        <label for="refund-amount">"Amount"</label>
                                        <input id="refund-amount" name="amount" inputmode="decimal" required
                                            value=offer.left.to_decimal_string() aria-describedby="refund-currency" />
                                        <span id="refund-currency" class="hint">{format!("In {}", offer.left.currency.code())}</span>
                                        <label for="refund-reason">"Reason"</label>
                                        <input id="refund-reason" name="reason" maxlength="200" />
                                        <button type="submit" class="primary" disabled=move || refund.pending().get()>"Refund"</button>
                                    </ActionForm>
                                }
                                .into_any(),
                                None => view! {
                                    <p>{form.unavailable.unwrap_or_default()}</p>
                                }
                                .into_any(),
                            },
                            Err(e) => view! { <p class="alert" role="alert">{e.to_string()}</p> }.into_any(),
                        }
                    })
                }}
            </Transition>
        </div>
    }
}
