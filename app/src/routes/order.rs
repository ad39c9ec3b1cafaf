//! `/orders/{reference}`: the payment-redirect page. It shows the order and its status, which
//! follows the server's live stream (`/events/orders/{reference}`) with JavaScript on, and reloads
//! itself every few seconds while awaiting payment with JavaScript off. Only the owner (session or
//! guest link `?key=`) or a merchant sees it; anyone else gets the 404 page.

use crate::api::orders::get_order;
use crate::components::feedback::{error_text, Alert};
use crate::components::refund_list::CustomerRefunds;
use crate::error::AppError;
use crate::model::{OrderStatus, OrderView};
use crate::routes::NotFound;
use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

/// Seconds between reloads while awaiting payment, without JavaScript.
const NO_JS_REFRESH_SECS: u32 = 3;

#[component]
pub fn OrderPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let reference = move || params.read().get("reference").unwrap_or_default();
    let key = move || query.read().get("key");
    // Set by the cancel route when the provider could not close the payment; only this flag
    // travels, the words are the page's own.
    let cancel_failed = move || query.read().get("cancel").as_deref() == Some("failed");
    // Bumped when the live stream reports a settled status, to re-read the order.
    let reloads = RwSignal::new(0usize);
    let order = Resource::new(
        move || (reference(), key(), reloads.get()),
        |(reference, key, _)| get_order(reference, key),
    );
    view! {
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match order.await {
                    Ok(order) => view! { <OrderDetails order key=key() cancel_failed=cancel_failed() reloads /> }.into_any(),
                    Err(AppError::NotFound) => view! { <NotFound /> }.into_any(),
                    Err(e) => view! { <p class="alert" role="alert">{e.to_string()}</p> }.into_any(),
                }
            })}
        </Transition>
    }
}

fn status_class(status: OrderStatus) -> &'static str {
    match status {
        OrderStatus::Paid => "order-status paid",
        OrderStatus::AwaitingPayment => "order-status waiting",
        OrderStatus::NeedsReview | OrderStatus::PartiallyRefunded | OrderStatus::Refunded => {
            "order-status review"
        }
        _ => "order-status failed",
    }
}

fn explanation(status: OrderStatus) -> &'static str {
    match status {
        OrderStatus::AwaitingPayment => {
            "We are waiting for the payment provider to confirm your payment. This page updates by itself."
        }
        OrderStatus::Paid => "Thank you! Your payment is confirmed.",
        OrderStatus::Failed => "The payment did not go through. Nothing was charged.",
        OrderStatus::Cancelled => "The payment was cancelled. Nothing was charged.",
        OrderStatus::Expired => "The payment session expired before it was completed.",
        OrderStatus::NeedsReview => {
            "The payment did not match the order. We are checking it and will contact you."
        }
        OrderStatus::PartiallyRefunded => "Part of this order was refunded.",
        OrderStatus::Refunded => "This order was refunded.",
    }
}

#[component]
fn OrderDetails(
    order: OrderView,
    key: Option<String>,
    cancel_failed: bool,
    reloads: RwSignal<usize>,
) -> impl IntoView {
    let live = RwSignal::new(order.status);
    let reference = order.reference.clone();
    follow_live_status(reference.clone(), key.clone(), live, reloads);
    let try_again = crate::components::layout::use_shop_actions().try_again;
    let retry_error = Signal::derive(move || error_text(try_again.value().get()));
    let provider = order.provider.map(|p| p.label()).unwrap_or("—");
    let retry_reference = reference.clone();
    let retry_key = key.clone().unwrap_or_default();
    // A cancel changes the order: a POST behind the CSRF guard, never a link.
    let cancel_action = order
        .provider
        .map(|p| format!("/payments/{}/cancel/{}", p.as_str(), reference));
    let cancel_key = key.clone().unwrap_or_default();
    view! {
        <Title text=format!("Order {}", order.reference) />
        <h1>"Order " {order.reference.clone()}</h1>
        <section aria-labelledby="status-heading" class="order-status-box">
            <h2 id="status-heading">"Payment status"</h2>
            <p class=move || status_class(live.get()) data-testid="order-status" role="status" aria-live="polite">
                {move || live.get().label()}
            </p>
            <p>{move || explanation(live.get())}</p>
            {order.failure_reason.clone().map(|reason| view! {
                <p data-testid="failure-reason">{reason}</p>
            })}
            <Alert message=retry_error />
            {move || (cancel_failed && live.get() == OrderStatus::AwaitingPayment).then(|| view! {
                <p class="alert" role="alert">
                    "We could not cancel this order just now. Please try again in a moment."
                </p>
            })}
            {move || (live.get() == OrderStatus::AwaitingPayment).then(|| view! {
                <noscript inner_html=format!(r#"<meta http-equiv="refresh" content="{NO_JS_REFRESH_SECS}">"#) />
            })}
            {move || (live.get() == OrderStatus::AwaitingPayment).then(|| cancel_action.clone()).flatten().map(|action| {
                let key = cancel_key.clone();
                view! {
                    <form method="post" action=action class="inline">
                        <input type="hidden" name="key" value=key />
                        <button type="submit">"Cancel order"</button>
                    </form>
                }
            })}
            {move || live.get().releases_stock().then(|| {
                let reference = retry_reference.clone();
                let key = retry_key.clone();
                view! {
                    <ActionForm action=try_again attr:class="inline">
                        <input type="hidden" name="reference" value=reference />
                        <input type="hidden" name="key" value=key />
                        <button type="submit" class="primary">"Try again"</button>
                    </ActionForm>
                    " or " <a href="/">"keep shopping"</a>
                }
            })}
        </section>
        <h2>"Your order"</h2>
        <ul class="summary">
            {order.lines.into_iter().map(|l| view! {
                <li>{format!("{} × {}", l.quantity, l.name)} " " <span>{l.line_total.to_string()}</span></li>
            }).collect_view()}
        </ul>
        <p class="summary-total">"Total: " <strong data-testid="order-total">{order.total.to_string()}</strong></p>
        <p>"Payment method: " {provider} ". Confirmation goes to " {order.email} "."</p>
        <CustomerRefunds refunds=order.refunds />
        <crate::components::order_list::HistoryLink reference=order.reference.clone() />
        {order.guest_link.map(|link| view! {
            <p class="hint">"Bookmark this page to come back to your order: "
                <a href=link.clone()>{link.clone()}</a></p>
        })}
    }
}

/// With JavaScript on, follow the order's Server-Sent Events; a settled status re-reads the order.
#[allow(unused_variables)]
fn follow_live_status(
    reference: String,
    key: Option<String>,
    live: RwSignal<OrderStatus>,
    reloads: RwSignal<usize>,
) {
    #[cfg(feature = "hydrate")]
    {
        use send_wrapper::SendWrapper;
        use wasm_bindgen::closure::Closure;
        use wasm_bindgen::JsCast;
        if live.get_untracked().is_settled() {
            return;
        }
        let query = key.map(|k| format!("?key={k}")).unwrap_or_default();
        let Ok(source) = web_sys::EventSource::new(&format!("/events/orders/{reference}{query}"))
        else {
            return;
        };
        let source = SendWrapper::new(source);
        let closer = source.clone();
        let on_status = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(
            move |event: web_sys::MessageEvent| {
                let Some(text) = event.data().as_string() else {
                    return;
                };
                let Ok(status) = serde_json::from_str::<crate::model::OrderStatusJson>(&text)
                else {
                    return;
                };
                if status.status != live.get_untracked() {
                    live.set(status.status);
                    if status.status.is_settled() {
                        closer.close();
                        reloads.update(|n| *n += 1);
                    }
                }
            },
        );
        let _ =
            source.add_event_listener_with_callback("status", on_status.as_ref().unchecked_ref());
        on_status.forget();
        on_cleanup(move || source.close());
    }
}
