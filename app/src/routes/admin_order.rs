//! `/admin/orders/{reference}`: the merchant's order page — the order and its customer, each
//! payment attempt, the refunds with the **Refund** form, and one timeline of
//! the payment ledger and the webhook inbox. Under review it says why and offers **Accept as
//! paid**; with an open attempt, **Look up now**. Merchants only: the server function refuses
//! anyone else with a 403 and no data.

use crate::api::admin::take_admin_notice;
use crate::api::admin_orders::{admin_order, AcceptAsPaid, LookUpNow};
use crate::api::refunds::{refund_confirmation, RefundOrder};
use crate::components::feedback::{error_text, Alert, NotAllowed, Status};
use crate::components::refund_list::RefundTable;
use crate::components::refund_panel::RefundPanel;
use crate::components::utc_time::UtcTime;
use crate::error::AppError;
use crate::model::{
    AdminAttemptView, AdminOrderView, DeliveryEntry, EmailEntry, EmailStatus, LedgerEntry,
    OrderStatus, RefundConfirmation, TimelineItem,
};
use crate::routes::NotFound;
use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

#[component]
pub fn AdminOrderPage() -> impl IntoView {
    let params = use_params_map();
    let reference = move || params.read().get("reference").unwrap_or_default();
    let accept = ServerAction::<AcceptAsPaid>::new();
    let look_up = ServerAction::<LookUpNow>::new();
    let refund = ServerAction::<RefundOrder>::new();
    let order = Resource::new(reference, admin_order);
    // What the form sent from this page said (the page is drawn again after each).
    let notice = Resource::new(reference, take_admin_notice);
    // A refund waiting for the merchant's confirmation. Taken once, so read here, at the top of the
    // page: a resource made inside the Suspend below could be made (and asked) twice.
    let asked = Resource::new(reference, refund_confirmation);
    view! {
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                let notice = notice.await.ok().flatten();
                let asked = asked.await.ok().flatten();
                match order.await {
                    Ok(order) => view! { <AdminOrderDetails order notice asked accept look_up refund /> }.into_any(),
                    Err(AppError::NotFound) => view! { <NotFound /> }.into_any(),
                    Err(error) => view! { <NotAllowed error /> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn AdminOrderDetails(
    order: AdminOrderView,
    notice: Option<String>,
    asked: Option<RefundConfirmation>,
    accept: ServerAction<AcceptAsPaid>,
    look_up: ServerAction<LookUpNow>,
    refund: ServerAction<RefundOrder>,
) -> impl IntoView {
    let reference = order.reference.clone();
    let under_review = order.status == OrderStatus::NeedsReview;
    view! {
        <Title text=format!("Order {} (admin)", order.reference) />
        <h1>"Order " {order.reference.clone()}</h1>
        <p><a href="/admin/orders">"All orders"</a></p>
        <Alert message=Signal::derive(move || error_text(accept.value().get())) />
        <Alert message=Signal::derive(move || error_text(look_up.value().get())) />
        <Status message=Signal::stored(notice) />
        <section aria-labelledby="summary-heading">
            <h2 id="summary-heading">"Summary"</h2>
            <dl class="order-summary">
                <dt>"Status"</dt><dd><span class=order.status.badge_class() data-testid="admin-order-status">{order.status.label()}</span></dd>
                <dt>"Placed"</dt><dd><UtcTime ms=order.created_at /></dd>
                <dt>"Total (quoted)"</dt><dd data-testid="admin-order-total">{order.total.to_string()}</dd>
                <dt>"Refunded"</dt><dd>{order.refunded.to_string()}</dd>
                <dt>"Email"</dt><dd>{order.email.clone()}</dd>
                <dt>"Name"</dt><dd>{order.name.clone()}</dd>
                <dt>"Address"</dt>
                <dd><address>{order.address.iter().map(|l| view! { {l.clone()} <br /> }).collect_view()}</address></dd>
            </dl>
        </section>
        {under_review.then(|| {
            let reason = order.review_reason.clone().unwrap_or_else(|| "The ledger gives no reason.".into());
            let reference = reference.clone();
            view! {
                <section aria-labelledby="review-heading" class="review">
                    <h2 id="review-heading">"Needs review"</h2>
                    <p data-testid="review-reason">{format!("Why: {reason}")}</p>
                    <p>"Accept the money received as this order's payment, or refund it below."</p>
                    <ActionForm action=accept attr:class="inline">
                        <input type="hidden" name="reference" value=reference />
                        <button type="submit" class="primary">"Accept as paid"</button>
                    </ActionForm>
                </section>
            }
        })}
        <section aria-labelledby="refund-heading" data-testid="refund-section">
            <h2 id="refund-heading">"Refunds"</h2>
            <RefundTable refunds=order.refunds.clone() />
            <RefundPanel reference=reference.clone() asked refund />
        </section>
        <section aria-labelledby="lines-heading">
            <h2 id="lines-heading">"Lines"</h2>
            <table class="stack">
                <thead><tr>
                    <th scope="col">"Product"</th><th scope="col">"Quantity"</th>
                    <th scope="col">"Unit price"</th><th scope="col">"Line total"</th>
                </tr></thead>
                <tbody>{order.lines.iter().map(|l| view! {
                    <tr>
                        <th scope="row">{l.name.clone()}</th><td data-label="Quantity">{l.quantity}</td>
                        <td data-label="Unit price">{l.unit_price.to_string()}</td><td data-label="Line total">{l.line_total.to_string()}</td>
                    </tr>
                }).collect_view()}</tbody>
                <tfoot><tr><th scope="row" colspan="3">"Total"</th><td>{order.total.to_string()}</td></tr></tfoot>
            </table>
        </section>
        <section aria-labelledby="attempts-heading">
            <h2 id="attempts-heading">"Payment attempts"</h2>
            <AttemptTable attempts=order.attempts.clone() />
            {order.has_open_attempt.then(|| view! {
                <ActionForm action=look_up attr:class="inline">
                    <input type="hidden" name="reference" value=reference.clone() />
                    <button type="submit">"Look up now"</button>
                </ActionForm>
            })}
        </section>
        <section aria-labelledby="emails-heading">
            <h2 id="emails-heading">"Emails"</h2>
            <EmailTable emails=order.emails.clone() />
        </section>
        <section aria-labelledby="timeline-heading">
            <h2 id="timeline-heading">"Timeline"</h2>
            <Timeline items=order.timeline />
        </section>
    }
}

#[component]
fn AttemptTable(attempts: Vec<AdminAttemptView>) -> impl IntoView {
    if attempts.is_empty() {
        return view! { <p>"No payment was started."</p> }.into_any();
    }
    view! {
        <table class="stack" data-testid="attempts">
            <thead><tr>
                <th scope="col">"Attempt"</th><th scope="col">"Provider"</th>
                <th scope="col">"Provider's ids"</th><th scope="col">"State"</th>
                <th scope="col">"Created"</th><th scope="col">"Lookups"</th>
            </tr></thead>
            <tbody>{attempts.into_iter().map(|a| {
                // Only an attempt the provider may still act on has a next scheduled lookup.
                let live = a.live;
                view! {
                <tr>
                    <th scope="row" class="ref">{a.reference}</th>
                    <td data-label="Provider">{a.provider.label()}</td>
                    <td data-label="Provider's ids" class="ids">
                        {a.session_id.map(|s| view! { "Session " <code>{s}</code> })}
                        {a.payment_id.map(|p| view! { <br /> "Payment " <code>{p}</code> })}
                    </td>
                    <td data-label="State">{a.state}</td>
                    <td data-label="Created"><UtcTime ms=a.created_at /></td>
                    <td data-label="Lookups">
                        {a.lookups} " scheduled"
                        {a.last_lookup_at.map(|at| view! { <br /> "last answer " <UtcTime ms=at /> })}
                        {a.next_lookup_at.filter(|_| live).map(|at| view! { <br /> "next " <UtcTime ms=at /> })}
                    </td>
                </tr>
            }}).collect_view()}</tbody>
        </table>
    }
    .into_any()
}

/// The outbox rows of the order: what was sent, what waits for its next try, what was given up.
#[component]
fn EmailTable(emails: Vec<EmailEntry>) -> impl IntoView {
    if emails.is_empty() {
        return view! { <p>"No email about this order."</p> }.into_any();
    }
    view! {
        <table class="stack" data-testid="emails">
            <thead><tr>
                <th scope="col">"Email"</th><th scope="col">"Queued"</th><th scope="col">"Status"</th>
                <th scope="col">"Tries"</th><th scope="col">"Last error"</th>
            </tr></thead>
            <tbody>{emails.into_iter().map(|e| {
                let (label, at) = match e.status {
                    EmailStatus::Sent { at } => ("sent", at),
                    EmailStatus::Waiting { next_at } => ("waiting, next try", next_at),
                    EmailStatus::Dead { at } => ("dead (given up)", at),
                };
                let class = match e.status {
                    EmailStatus::Sent { .. } => "sent",
                    EmailStatus::Waiting { .. } => "waiting",
                    EmailStatus::Dead { .. } => "dead",
                };
                view! {
                    <tr data-email-status=class>
                        <th scope="row">{e.kind}</th>
                        <td data-label="Queued"><UtcTime ms=e.created_at /></td>
                        <td data-label="Status">{label} " " <UtcTime ms=at /></td>
                        <td data-label="Tries">{e.attempts}</td>
                        <td data-label="Last error">{e.last_error.unwrap_or_default()}</td>
                    </tr>
                }
            }).collect_view()}</tbody>
        </table>
    }
    .into_any()
}

#[component]
fn Timeline(items: Vec<TimelineItem>) -> impl IntoView {
    if items.is_empty() {
        return view! { <p>"Nothing has happened yet."</p> }.into_any();
    }
    view! {
        <ol class="timeline" data-testid="timeline">
            {items.into_iter().map(|item| match item {
                TimelineItem::Event(e) => view! { <EventItem event=e /> }.into_any(),
                TimelineItem::Delivery(d) => view! { <DeliveryItem delivery=d /> }.into_any(),
            }).collect_view()}
        </ol>
    }
    .into_any()
}

/// What a ledger entry did, in a sentence: "Paid by Stripe webhook", "Cancelled by the shopper",
/// "Stripe webhook: no change (Paid)".
pub fn event_headline(event: &LedgerEntry) -> String {
    let provider = event.provider.label();
    let by = match event.source.as_str() {
        "webhook" => format!("{provider} webhook"),
        "lookup" => format!("asking {provider}"),
        "cancel" => "the shopper's cancel".to_string(),
        "expiry" => "the hold running out".to_string(),
        "refund" => format!("a {provider} refund"),
        "merchant" => "the merchant".to_string(),
        other => other.to_string(),
    };
    match (event.from_status, event.to_status) {
        (Some(from), Some(to)) if from != to => format!("{} by {by}", to.label()),
        (_, Some(to)) => {
            let mut by = by;
            if let Some(first) = by.get(..1) {
                by.replace_range(..1, &first.to_uppercase());
            }
            format!("{by}: no change ({})", to.label())
        }
        _ => format!("Recorded from {by}"),
    }
}

#[component]
fn EventItem(event: LedgerEntry) -> impl IntoView {
    let headline = event_headline(&event);
    let change = match (event.from_status, event.to_status) {
        (Some(from), Some(to)) if from != to => format!("{} → {}", from.label(), to.label()),
        (_, Some(to)) => format!("stays {}", to.label()),
        _ => String::new(),
    };
    view! {
        <li class="event" data-source=event.source.clone()>
            <UtcTime ms=event.at />
            " " <strong class="headline">{headline}</strong>
            {event.amount.map(|a| view! { " · " <span class="amount">{format!("{a} reported")}</span> })}
            <details class="technical">
                <summary>"Technical details"</summary>
                <p>
                    "Ledger · " {event.source.clone()} " · " {event.provider.label()} " " <code>{event.kind}</code>
                    " · " <span class="ref">{event.attempt}</span>
                    <br /> <span class="change">{change}</span> " — " <span class="outcome">{event.outcome}</span>
                </p>
                <p>{format!("Payload of {}", event.event_id)}</p>
                <pre>{event.payload}</pre>
            </details>
        </li>
    }
}

#[component]
fn DeliveryItem(delivery: DeliveryEntry) -> impl IntoView {
    let outcome = delivery.outcome.label();
    let provider = crate::model::ProviderId::parse(&delivery.provider)
        .map_or_else(|| delivery.provider.clone(), |p| p.label().to_string());
    view! {
        <li class="delivery" data-outcome=outcome>
            <UtcTime ms=delivery.at />
            " " <strong class="headline">{format!("{provider} webhook received: {outcome}")}</strong>
            <br /> <span class="outcome">{delivery.detail}</span>
            <details class="technical">
                <summary>"Technical details"</summary>
                <p>
                    {delivery.provider} " · " <span class="ref">{delivery.attempt}</span>
                    {delivery.event_id.map(|id| view! { " · " <code>{id}</code> })}
                </p>
                <pre class="headers">{delivery.headers}</pre>
                <pre>{delivery.payload}</pre>
            </details>
        </li>
    }
}
