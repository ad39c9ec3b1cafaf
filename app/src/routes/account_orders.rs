//! `/account/orders`: the logged-in customer's transaction history. Newest first, 20 a page,
//! filtered by one GET form; an awaiting order's Status follows the page's live stream
//! (`/events/account/orders`) with JavaScript on, and the page reloads itself without it.
//! Anyone not logged in is sent to log in and comes back here.

use crate::api::order_lists::account_orders;
use crate::components::order_list::{
    items_text, use_list_query, FilterForm, LiveStatus, Pager, NO_JS_REFRESH_SECS,
};
use crate::error::AppError;
use crate::model::order_list::encode_component;
use crate::model::utc::format_minute_utc;
use crate::model::{ListedOrder, OrderListPage, OrderListQuery, OrderStatus};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Redirect;
use leptos_router::hooks::use_location;

const PATH: &str = "/account/orders";
/// The customer's orders' live statuses.
const STREAM: &str = "/events/account/orders";

#[component]
pub fn AccountOrdersPage() -> impl IntoView {
    let query = use_list_query();
    let orders = Resource::new(move || query.get(), account_orders);
    let location = use_location();
    view! {
        <Title text="Your orders" />
        <h1>"Your orders"</h1>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                let q = query.get_untracked();
                match orders.await {
                    Ok(page) => view! { <History page query=q /> }.into_any(),
                    Err(AppError::Unauthorized) => {
                        let search = location.search.get_untracked();
                        let search = search.trim_start_matches('?');
                        let path = location.pathname.get_untracked();
                        let here = if search.is_empty() { path } else { format!("{path}?{search}") };
                        let target = format!("/login?next={}", encode_component(&here));
                        view! { <Redirect path=target /> }.into_any()
                    }
                    Err(e) => view! {
                        <FilterForm action=PATH query=q merchant=false />
                        <p class="alert" role="alert">{e.to_string()}</p>
                    }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn History(page: OrderListPage, query: OrderListQuery) -> impl IntoView {
    let awaiting = page
        .orders
        .iter()
        .any(|o| o.status == OrderStatus::AwaitingPayment);
    let filtered = !query.filters().is_empty();
    let body = if page.orders.is_empty() {
        let text = if filtered {
            "No orders match these filters."
        } else {
            "You have no orders yet."
        };
        view! {
            <p class="empty-state">{text} " " <a href="/">"Browse the shop"</a></p>
        }
        .into_any()
    } else {
        view! {
            <table class="order-list stack">
                <thead><tr>
                    <th scope="col">"Reference"</th><th scope="col">"Date"</th>
                    <th scope="col">"Items"</th><th scope="col">"Total"</th>
                    <th scope="col">"Payment method"</th><th scope="col">"Status"</th>
                </tr></thead>
                <tbody>
                    {page.orders.into_iter().map(|o| view! { <HistoryRow order=o /> }).collect_view()}
                </tbody>
            </table>
        }
        .into_any()
    };
    view! {
        {awaiting.then(|| view! {
            <noscript inner_html=format!(r#"<meta http-equiv="refresh" content="{NO_JS_REFRESH_SECS}">"#) />
        })}
        <FilterForm action=PATH query=query.clone() merchant=false />
        {body}
        <Pager path=PATH query older=page.older newer=page.newer />
    }
}

#[component]
fn HistoryRow(order: ListedOrder) -> impl IntoView {
    view! {
        <tr>
            <th scope="row"><a href=format!("/orders/{}", order.reference)>{order.reference.clone()}</a></th>
            <td data-label="Date">{format_minute_utc(order.created_at)}</td>
            <td data-label="Items">{items_text(&order.items)}</td>
            <td data-label="Total" class="money">{order.total.to_string()}</td>
            <td data-label="Payment method">{order.provider.map(|p| p.label()).unwrap_or("—")}</td>
            <td data-label="Status" data-testid="order-status" data-reference=order.reference.clone() aria-live="polite">
                <LiveStatus stream=STREAM.to_string() reference=order.reference.clone() status=order.status />
            </td>
        </tr>
    }
}
