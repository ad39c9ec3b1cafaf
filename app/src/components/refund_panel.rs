//! The merchant's refund form for one order: **Amount** (empty: the merchant types it; what is left
//! is shown beside), **Reason** and **Refund**, which asks to confirm the amount in words
//! ("Refund $10.00 to the customer?") before anything is refunded. Each drawing of the form carries
//! a fresh idempotency key, carried through the confirmation, so pressing Refund twice is one
//! refund; after a refund the form is drawn again with a new key and the new amount left.

use crate::api::refunds::{refund_form, RefundOrder};
use crate::components::feedback::{error_text, Alert};
use crate::model::RefundConfirmation;
use leptos::form::ActionForm;
use leptos::prelude::*;

/// `refund` is created by the page, which reads a refused refund's error from it, and `asked` is the
/// refund it asks the merchant to confirm (taken once, by the page); what a refund
/// did is the page's notice, drawn after the form comes back.
#[component]
pub fn RefundPanel(
    reference: String,
    asked: Option<RefundConfirmation>,
    refund: ServerAction<RefundOrder>,
) -> impl IntoView {
    let form_reference = reference.clone();
    let data = Resource::new(move || reference.clone(), refund_form);
    view! {
        <div class="refund-panel">
            <h3>"Refund"</h3>
            <Alert message=Signal::derive(move || error_text(refund.value().get())) />
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || {
                    let reference = form_reference.clone();
                    let asked = asked.clone();
                    Suspend::new(async move {
                        match (data.await, asked) {
                            (Ok(form), Some(asked)) if form.offer.is_some() => {
                                view! { <ConfirmRefund reference asked refund /> }.into_any()
                            }
                            (Ok(form), _) => match form.offer {
                                Some(offer) => view! {
                                    <p class="hint" id="refund-left">
                                        {format!("Captured {}; {} can still be refunded", offer.captured, offer.left)}
                                        {(!offer.partial).then_some(" (this provider refunds only the whole amount)")}
                                        "."
                                    </p>
                                    <ActionForm action=refund attr:class="stacked refund-form">
                                        <input type="hidden" name="reference" value=reference />
                                        <input type="hidden" name="key" value=offer.key />
                                        <input type="hidden" name="step" value="review" />
                                        <label for="refund-amount">"Amount"</label>
                                        <input id="refund-amount" name="amount" inputmode="decimal" required
                                            placeholder=offer.left.to_decimal_string()
                                            aria-describedby="refund-currency refund-left" />
                                        <span id="refund-currency" class="hint">{format!("In {}; you confirm it on the next step.", offer.left.currency.code())}</span>
                                        <label for="refund-reason">"Reason"</label>
                                        <input id="refund-reason" name="reason" maxlength="200" />
                                        <button type="submit" class="primary">"Refund"</button>
                                    </ActionForm>
                                }
                                .into_any(),
                                None => view! {
                                    <p>{form.unavailable.unwrap_or_default()}</p>
                                }
                                .into_any(),
                            },
                            (Err(e), _) => view! { <p class="alert" role="alert">{e.to_string()}</p> }.into_any(),
                        }
                    })
                }}
            </Transition>
        </div>
    }
}

/// The form's second step: the amount checked, in words, and the button that refunds it.
#[component]
fn ConfirmRefund(
    reference: String,
    asked: RefundConfirmation,
    refund: ServerAction<RefundOrder>,
) -> impl IntoView {
    let back = format!("/admin/orders/{reference}");
    view! {
        <div class="confirm-refund" data-testid="confirm-refund">
            <p><strong>{format!("Refund {} to the customer?", asked.amount)}</strong></p>
            <p class="hint">"The money goes back through the provider that took it. A refund cannot be undone."</p>
            {(!asked.reason.is_empty()).then(|| view! { <p>"Reason: " {asked.reason.clone()}</p> })}
            <ActionForm action=refund attr:class="inline">
                <input type="hidden" name="reference" value=reference />
                <input type="hidden" name="key" value=asked.key />
                <input type="hidden" name="amount" value=asked.amount.to_decimal_string() />
                <input type="hidden" name="reason" value=asked.reason />
                <button type="submit" class="primary">{format!("Refund {}", asked.amount)}</button>
            </ActionForm>
            " " <a href=back>"Change the amount"</a>
        </div>
    }
}
