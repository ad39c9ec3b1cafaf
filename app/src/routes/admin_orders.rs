//! `/admin/orders`: every order for merchants. The history's filters plus Currency, a search that
//! also finds a customer's email or a provider's id, 50 a page, totals per currency for the
//! filtered set, an Export CSV link with the same filters, and a Refresh link; with JavaScript, a
//! note when the list changed (a new order or status on `/events/admin/orders`) links to the
//! refreshed list, so a search being typed is never wiped by a reload.
//! Anyone but a merchant gets the 404 page and no data.

use crate::api::order_lists::admin_orders;
use crate::components::order_list::{items_text, use_list_query, FilterForm, ListChanged, Pager};
use crate::error::AppError;
use crate::model::utc::format_minute_utc;
use crate::model::{CurrencyTotal, ListedOrder, OrderListPage, OrderListQuery};
use crate::routes::NotFound;
use leptos::prelude::*;
use leptos_meta::Title;

const PATH: &str = "/admin/orders";

#[component]
pub fn AdminOrdersPage() -> impl IntoView {
    let query = use_list_query();
    let orders = Resource::new(move || query.get(), admin_orders);
    view! {
        <Title text="Orders" />
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                let q = query.get_untracked();
                match orders.await {
                    Ok(page) => view! { <AdminOrders page query=q /> }.into_any(),
                    Err(AppError::Unauthorized | AppError::Forbidden) => view! { <NotFound /> }.into_any(),
                    Err(e) => view! {
                        <h1>"Orders"</h1>
                        <FilterForm action=PATH query=q merchant=true />
                        <p class="alert" role="alert">{e.to_string()}</p>
                    }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn AdminOrders(page: OrderListPage, query: OrderListQuery) -> impl IntoView {
    let csv = query.link("/admin/orders.csv", None);
    let refresh = query.link(PATH, None);
    let body = if page.orders.is_empty() {
        view! { <p class="empty-state">"No orders match these filters."</p> }.into_any()
    } else {
        view! {
            <table class="order-list admin-orders stack">
                <thead><tr>
                    <th scope="col">"Reference"</th><th scope="col">"Date"</th>
                    <th scope="col">"Customer"</th><th scope="col">"Items"</th>
                    <th scope="col">"Total"</th><th scope="col">"Refunded"</th>
                    <th scope="col">"Payment method"</th><th scope="col">"Status"</th>
                </tr></thead>
                <tbody>{page.orders.into_iter().map(|o| view! { <AdminRow order=o /> }).collect_view()}</tbody>
            </table>
        }
        .into_any()
    };
    view! {
        <h1>"Orders"</h1>
        <DeadEmails />
        <crate::components::sales_chart::SalesChart />
        <FilterForm action=PATH query=query.clone() merchant=true />
        <p class="list-actions">
            <a href=csv download="orders.csv">"Export CSV"</a>
            " "
            <a href=refresh.clone()>"Refresh"</a>
        </p>
        <ListChanged stream="/events/admin/orders".to_string() refresh />
        <Totals totals=page.totals />
        <h2>"Order list"</h2>
        {body}
        <Pager path=PATH query older=page.older newer=page.newer />
    }
}

/// A warning while some emails were given up on: their orders' pages say which and why.
#[component]
fn DeadEmails() -> impl IntoView {
    let dead = Resource::new(|| (), |_| crate::api::admin_orders::dead_emails());
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                match dead.await {
                    Ok(n) if n > 0 => Some(view! {
                        <p class="alert" role="alert" data-testid="dead-emails">
                            {if n == 1 {
                                "1 email could not be sent and was given up.".to_string()
                            } else {
                                format!("{n} emails could not be sent and were given up.")
                            }}
                            " Each order's page lists its emails with the last error."
                        </p>
                    }),
                    _ => None,
                }
            })}
        </Suspense>
    }
}

#[component]
fn Totals(totals: Vec<CurrencyTotal>) -> impl IntoView {
    (!totals.is_empty()).then(|| {
        view! {
            <h2>"Totals of the orders listed"</h2>
            <p class="hint" id="totals-hint">
                "Every order that matches the filters, whatever its status: choose Status "
                <em>"Paid"</em>" to count paid orders only. Refunded is what refunds gave back."
            </p>
            <table class="order-totals stack" aria-describedby="totals-hint">
                <thead><tr>
                    <th scope="col">"Currency"</th><th scope="col">"Orders"</th>
                    <th scope="col">"Order totals"</th><th scope="col">"Refunded"</th>
                </tr></thead>
                <tbody>
                    {totals.into_iter().map(|t| view! {
                        <tr>
                            <th scope="row">{t.total.currency.code()}</th>
                            <td data-label="Orders">{t.orders}</td>
                            <td data-label="Order totals" class="money" data-testid=format!("total-{}", t.total.currency.code())>{t.total.to_string()}</td>
                            <td data-label="Refunded" class="money">{t.refunded.to_string()}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        }
    })
}

#[component]
fn AdminRow(order: ListedOrder) -> impl IntoView {
    let (email, name) = order.customer.clone().unwrap_or_default();
    view! {
        <tr>
            <th scope="row"><a href=format!("/admin/orders/{}", order.reference)>{order.reference.clone()}</a></th>
            <td data-label="Date">{format_minute_utc(order.created_at)}</td>
            <td data-label="Customer">{name} <br /> <span class="email">{email}</span></td>
            <td data-label="Items">{items_text(&order.items)}</td>
            <td data-label="Total" class="money">{order.total.to_string()}</td>
            <td data-label="Refunded" class="money">{order.refunded.to_string()}</td>
            <td data-label="Payment method">{order.provider.map(|p| p.label()).unwrap_or("—")}</td>
            <td data-label="Status"><span class=order.status.badge_class() data-testid="order-status">{order.status.label()}</span></td>
        </tr>
    }
}
