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

/// With JavaScript on, follow a list's Server-Sent Events (one stream for the page) and hand each
/// status change to `on_status`.
#[allow(unused_variables)]
pub fn follow_stream(
    url: &'static str,
    on_status: impl Fn(crate::model::OrderStatusJson) + 'static,
) {
    #[cfg(feature = "hydrate")]
    {
        use send_wrapper::SendWrapper;
        use wasm_bindgen::closure::Closure;
        use wasm_bindgen::JsCast;
        let Ok(source) = web_sys::EventSource::new(url) else {
            return;
        };
        let source = SendWrapper::new(source);
        let listener = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(
            move |event: web_sys::MessageEvent| {
                let Some(text) = event.data().as_string() else {
                    return;
                };
                if let Ok(status) = serde_json::from_str::<crate::model::OrderStatusJson>(&text) {
                    on_status(status);
                }
            },
        );
        let _ =
            source.add_event_listener_with_callback("status", listener.as_ref().unchecked_ref());
        listener.forget();
        on_cleanup(move || source.close());
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
