//! Pieces the two order lists share: the filter form (one GET form, so it works without
//! JavaScript and the URL can be bookmarked), the Older / Newer links, and the items cell.

use crate::model::{Currency, ListedItem, OrderListQuery, OrderStatus, ProviderId};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

/// The list's query as the URL carries it.
pub fn use_list_query() -> Memo<OrderListQuery> {
    let query = use_query_map();
    Memo::new(move |_| {
        let q = query.read();
        let get = |name: &str| q.get(name).unwrap_or_default();
        OrderListQuery {
            status: get("status"),
            provider: get("provider"),
            currency: get("currency"),
            from: get("from"),
            to: get("to"),
            q: get("q"),
            before: get("before"),
            after: get("after"),
        }
    })
}

/// Status, Payment method, (Currency), From, To, Search and **Filter**, all labelled.
#[component]
pub fn FilterForm(
    action: &'static str,
    query: OrderListQuery,
    /// Merchants also filter by currency and search by email and provider id.
    merchant: bool,
) -> impl IntoView {
    let search_hint = if merchant {
        "Reference, product, customer email or provider id"
    } else {
        "Reference or product name"
    };
    let currency = merchant.then(|| {
        let current = query.currency.clone();
        view! {
            <label for="filter-currency">"Currency"</label>
            <select id="filter-currency" name="currency">
                <option value="" selected=current.is_empty()>"All"</option>
                {Currency::ALL.into_iter().map(|c| view! {
                    <option value=c.code() selected=current == c.code()>{c.code()}</option>
                }).collect_view()}
            </select>
        }
    });
    view! {
        <form method="get" action=action class="order-filters" role="search" aria-label="Filter orders">
            <label for="filter-status">"Status"</label>
            <select id="filter-status" name="status">
                <option value="" selected=query.status.is_empty()>"All"</option>
                {OrderStatus::ALL.into_iter().map(|s| view! {
                    <option value=s.as_str() selected=query.status == s.as_str()>{s.label()}</option>
                }).collect_view()}
            </select>
            <label for="filter-provider">"Payment method"</label>
            <select id="filter-provider" name="provider">
                <option value="" selected=query.provider.is_empty()>"All"</option>
                {ProviderId::ALL.into_iter().map(|p| view! {
                    <option value=p.as_str() selected=query.provider == p.as_str()>{p.label()}</option>
                }).collect_view()}
            </select>
            {currency}
            <label for="filter-from">"From"</label>
            <input id="filter-from" name="from" type="date" value=query.from.clone() />
            <label for="filter-to">"To"</label>
            <input id="filter-to" name="to" type="date" value=query.to.clone() />
            <label for="filter-q">"Search"</label>
            <input id="filter-q" name="q" type="search" value=query.q.clone() placeholder=search_hint />
            <button type="submit">"Filter"</button>
        </form>
    }
}

/// Older / Newer links that keep the filters.
#[component]
pub fn Pager(
    path: &'static str,
    query: OrderListQuery,
    older: Option<String>,
    newer: Option<String>,
) -> impl IntoView {
    let newer = newer.map(|c| query.link(path, Some(("after", &c))));
    let older = older.map(|c| query.link(path, Some(("before", &c))));
    (newer.is_some() || older.is_some()).then(|| {
        view! {
            <nav aria-label="Pages" class="pager">
                {newer.map(|href| view! { <a href=href rel="prev">"Newer"</a> })}
                {older.map(|href| view! { <a href=href rel="next">"Older"</a> })}
            </nav>
        }
    })
}

/// `2 × Ceramic Mug, 1 × Canvas Tote Bag`.
pub fn items_text(items: &[ListedItem]) -> String {
    items
        .iter()
        .map(|i| format!("{} × {}", i.quantity, i.name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Seconds between reloads without JavaScript while an order is awaiting payment.
pub const NO_JS_REFRESH_SECS: u32 = 5;

/// An order's status in a list: with JavaScript it follows the page's one live stream.
#[island]
pub fn LiveStatus(stream: String, reference: String, status: OrderStatus) -> impl IntoView {
    let live = super::live::shared().map(|s| s.statuses);
    if live.is_some() {
        super::live::follow_list(&stream);
    }
    let current = move || {
        live.as_ref()
            .and_then(|l| l.with(|m| m.get(&reference).copied()))
            .unwrap_or(status)
    };
    let shown = current.clone();
    view! { <span class=move || current().badge_class()>{move || shown().label()}</span> }
}

/// With JavaScript, a note that the list changed since the page was drawn (a new order or a new
/// status on the page's stream), with a link that draws it again with the same filters.
#[island]
pub fn ListChanged(stream: String, refresh: String) -> impl IntoView {
    let changed = RwSignal::new(false);
    let opened = super::live::follow(&stream, move |_| changed.set(true));
    on_cleanup(move || {
        if let Some(s) = opened {
            s.close();
        }
    });
    view! {
        <p class="status" role="status">
            {move || changed.get().then(|| view! {
                "Orders changed since this list was drawn. " <a href=refresh.clone()>"Show the changes"</a>
            })}
        </p>
    }
}

/// On an order's page: a link back to the transaction history, for the customer who placed it.
#[component]
pub fn HistoryLink(reference: String) -> impl IntoView {
    let mine = Resource::new(
        move || reference.clone(),
        crate::api::order_lists::in_history,
    );
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                matches!(mine.await, Ok(true)).then(|| view! {
                    <p><a href="/account/orders">"Back to your orders"</a></p>
                })
            })}
        </Transition>
    }
}
