//! `/orders/{reference}`: the payment-redirect page. It shows the order and its status, which
//! follows the server's live stream (`/events/orders/{reference}`) with JavaScript on (the
//! [`PaymentStatus`] island), and reloads itself every few seconds while awaiting payment with
//! JavaScript off. Only the owner (session or
//! guest link `?key=`) or a merchant sees it; anyone else gets the 404 page.

use crate::api::orders::get_order;
use crate::components::feedback::{error_text, Alert};
use crate::components::refund_list::CustomerRefunds;
use crate::error::AppError;
use crate::model::{OrderStatus, OrderView};
use crate::routes::NotFound;
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
    // Set by the provider's cancel link: the shopper left the payment page.
    let left = move || query.read().get("left").as_deref() == Some("1");
    let order = Resource::new(
        move || (reference(), key()),
        |(reference, key)| get_order(reference, key),
    );
    view! {
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match order.await {
                    Ok(order) => view! { <OrderDetails order key=key() cancel_failed=cancel_failed() left=left() /> }.into_any(),
                    Err(AppError::NotFound) => view! { <NotFound /> }.into_any(),
                    Err(e) => view! { <p class="alert" role="alert">{e.to_string()}</p> }.into_any(),
                }
            })}
        </Transition>
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
    left: bool,
) -> impl IntoView {
    // A Try again or Back to cart refused without JavaScript comes back here with its error.
    let try_again = crate::components::layout::use_shop_actions().try_again;
    let back_to_cart = ServerAction::<crate::api::BackToCart>::new();
    let retry_error = error_text(try_again.value().get_untracked())
        .or_else(|| error_text(back_to_cart.value().get_untracked()));
    let provider = order.provider.map(|p| p.label()).unwrap_or("—");
    // A cancel changes the order: a POST behind the CSRF guard, never a link.
    let cancel_action = order
        .provider
        .map(|p| format!("/payments/{}/cancel/{}", p.as_str(), order.reference));
    let awaiting = order.status == OrderStatus::AwaitingPayment;
    // Only a shopper who left the payment page is offered it again; without a way back (the
    // attempt closed) the page just waits for the provider's word.
    let left = left && awaiting && order.resume_url.is_some();
    view! {
        <Title text=format!("Order {}", order.reference) />
        <h1>"Order " {order.reference.clone()}</h1>
        {(awaiting && !left).then(|| view! {
            <noscript inner_html=format!(r#"<meta http-equiv="refresh" content="{NO_JS_REFRESH_SECS}">"#) />
        })}
        <PaymentStatus
            reference=order.reference.clone()
            key
            status=order.status
            failure_reason=order.failure_reason.clone()
            cancel_action
            cancel_failed
            retry_error
            left
            resume_url=order.resume_url.clone()
        />
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

/// The Payment status box. With JavaScript it follows the order's live stream
/// (`/events/orders/{reference}`): the status, its explanation and the Cancel / Try again buttons
/// change in place, and a settled status reads the order again for the failure's reason.
#[island]
fn PaymentStatus(
    reference: String,
    key: Option<String>,
    status: OrderStatus,
    failure_reason: Option<String>,
    cancel_action: Option<String>,
    cancel_failed: bool,
    retry_error: Option<String>,
    left: bool,
    resume_url: Option<String>,
) -> impl IntoView {
    let live = RwSignal::new(status);
    let reason = RwSignal::new(failure_reason);
    if !status.is_settled() {
        let query = key
            .as_ref()
            .map(|k| format!("?key={k}"))
            .unwrap_or_default();
        let url = format!("/events/orders/{reference}{query}");
        let (again, key_again) = (reference.clone(), key.clone());
        // Set once the stream is open, so a settled status can close it.
        let stream = StoredValue::new(None::<crate::components::live::Stream>);
        let close = move || stream.with_value(|s| s.iter().for_each(|s| s.close()));
        let opened = crate::components::live::follow(&url, move |s| {
            if s.status == live.get_untracked() {
                return;
            }
            live.set(s.status);
            if s.status.is_settled() {
                close();
                let (reference, key) = (again.clone(), key_again.clone());
                leptos::task::spawn_local(async move {
                    if let Ok(order) = get_order(reference, key).await {
                        reason.set(order.failure_reason);
                    }
                });
            }
        });
        stream.set_value(opened);
        on_cleanup(close);
    }
    let try_again_path = <crate::api::TryAgain as leptos::server_fn::ServerFn>::PATH;
    let back_path = <crate::api::BackToCart as leptos::server_fn::ServerFn>::PATH;
    let left_here = move || left && live.get() == OrderStatus::AwaitingPayment;
    let (back_reference, back_key) = (reference.clone(), key.clone().unwrap_or_default());
    let retry_reference = reference.clone();
    let retry_key = key.clone().unwrap_or_default();
    let cancel_key = key.unwrap_or_default();
    view! {
        <section aria-labelledby="status-heading" class="order-status-box">
            <h2 id="status-heading">"Payment status"</h2>
            <p class=move || format!("order-status {}", live.get().badge_class()) data-testid="order-status" role="status" aria-live="polite">
                {move || live.get().label()}
            </p>
            <p>{move || if left_here() {
                "You left the payment page before paying. Nothing has been charged."
            } else {
                explanation(live.get())
            }}</p>
            {move || left_here().then(|| view! {
                <div class="actions">
                    <a class="button primary" href=resume_url.clone()>"Resume payment"</a>
                    <form method="post" action=back_path class="inline">
                        <input type="hidden" name="reference" value=back_reference.clone() />
                        <input type="hidden" name="key" value=back_key.clone() />
                        <button type="submit">"Back to cart"</button>
                    </form>
                </div>
            })}
            {move || reason.get().map(|reason| view! {
                <p data-testid="failure-reason">{reason}</p>
            })}
            <Alert message=Signal::stored(retry_error) />
            {move || (cancel_failed && live.get() == OrderStatus::AwaitingPayment).then(|| view! {
                <p class="alert" role="alert">
                    "We could not cancel this order just now. Please try again in a moment."
                </p>
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
                    <form method="post" action=try_again_path class="inline">
                        <input type="hidden" name="reference" value=reference />
                        <input type="hidden" name="key" value=key />
                        <button type="submit" class="primary">"Try again"</button>
                    </form>
                    " or " <a href="/">"keep shopping"</a>
                }
            })}
        </section>
    }
}
