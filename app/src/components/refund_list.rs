//! An order's refunds: the merchant's table (amount, reason, status, date, the provider's refund
//! id, why it failed) and the customer's shorter one (amount, status, date).

use crate::components::utc_time::UtcTime;
use crate::model::RefundView;
use leptos::prelude::*;

/// The merchant's table of an order's refunds (or a sentence when there are none).
#[component]
pub fn RefundTable(refunds: Vec<RefundView>) -> impl IntoView {
    if refunds.is_empty() {
        return view! { <p data-testid="no-refunds">"No refunds yet."</p> }.into_any();
    }
    view! {
        <table class="refunds stack" data-testid="refunds">
            <caption class="visually-hidden">"Refunds of this order"</caption>
            <thead><tr>
                <th scope="col">"Amount"</th><th scope="col">"Reason"</th><th scope="col">"Status"</th>
                <th scope="col">"Requested"</th><th scope="col">"Provider's refund id"</th>
                <th scope="col">"Failure"</th>
            </tr></thead>
            <tbody>{refunds.into_iter().map(|r| {
                let details = r.details.unwrap_or_else(|| crate::model::RefundDetails {
                    reason: String::new(), provider_refund_id: None, failure: None,
                });
                view! {
                    <tr>
                        <td data-label="Amount">{r.amount.to_string()}</td>
                        <td data-label="Reason">{details.reason}</td>
                        <td data-label="Status">{r.status.label()}</td>
                        <td data-label="Requested"><UtcTime ms=r.created_at /></td>
                        <td data-label="Provider's refund id" class="ref">{details.provider_refund_id.unwrap_or_else(|| "—".into())}</td>
                        <td data-label="Failure">{details.failure.unwrap_or_else(|| "—".into())}</td>
                    </tr>
                }
            }).collect_view()}</tbody>
        </table>
    }
    .into_any()
}

/// The customer's list of their order's refunds; nothing at all when there are none.
#[component]
pub fn CustomerRefunds(refunds: Vec<RefundView>) -> impl IntoView {
    (!refunds.is_empty()).then(|| {
        view! {
            <section aria-labelledby="refunds-heading">
                <h2 id="refunds-heading">"Refunds"</h2>
                <table class="refunds stack" data-testid="refunds">
                    <thead><tr>
                        <th scope="col">"Amount"</th><th scope="col">"Status"</th><th scope="col">"Date"</th>
                    </tr></thead>
                    <tbody>{refunds.into_iter().map(|r| view! {
                        <tr>
                            <td data-label="Amount">{r.amount.to_string()}</td>
                            <td data-label="Status">{r.status.label()}</td>
                            <td data-label="Date"><UtcTime ms=r.created_at /></td>
                        </tr>
                    }).collect_view()}</tbody>
                </table>
            </section>
        }
    })
}
