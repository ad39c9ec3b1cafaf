//! A product in the catalogue grid, and the Add to cart form it shares with the product page.

use super::feedback::{Alert, Status};
use super::live;
use crate::api::AddToCart;
use crate::model::ProductCard;
use leptos::form::ActionForm;
use leptos::prelude::*;

#[component]
pub fn ProductTile(product: ProductCard) -> impl IntoView {
    let href = format!("/products/{}", product.slug);
    let name_id = format!("product-{}-name", product.id);
    let sold_out = product.stock <= 0;
    let stock_note = match product.stock {
        0 => Some("Out of stock".to_string()),
        n if n <= 5 => Some(format!("Only {n} left")),
        _ => None,
    };
    view! {
        <article class="product-card">
            <a href=href.clone() class="product-link">
                <img src=product.image alt="" width="320" height="240" loading="lazy" />
                <h2 id=name_id.clone()>{product.name}</h2>
            </a>
            <p class="price">{product.price.to_string()}</p>
            {stock_note.map(|n| view! { <p class="stock-note">{n}</p> })}
            <AddToCartForm product_id=product.id describedby=Some(name_id) sold_out quantity_max=None />
        </article>
    }
}

/// **Add to cart**. With JavaScript the form is sent in place: the page's [`CartNotice`] says what
/// happened and the header's count follows. Without it, a plain POST that comes back to the page.
/// `quantity_max`: a labelled Quantity field up to this many (the product page); else one item.
#[island]
pub fn AddToCartForm(
    product_id: i64,
    describedby: Option<String>,
    sold_out: bool,
    quantity_max: Option<i64>,
) -> impl IntoView {
    let action = ServerAction::<AddToCart>::new();
    Effect::new(move |_| {
        let (Some(result), Some(shared)) = (action.value().get(), live::shared()) else {
            return;
        };
        match result {
            Ok(message) => {
                shared.notice.set(Some(Ok(message)));
                let count = shared.cart_count;
                leptos::task::spawn_local(async move {
                    if let Ok(header) = crate::api::account::header_data().await {
                        count.set(Some(header.cart_count));
                    }
                });
            }
            Err(e) => shared.notice.set(Some(Err(e.to_string()))),
        }
    });
    let quantity = match quantity_max {
        Some(max) => view! {
            <label for="quantity">"Quantity"</label>
            <input id="quantity" name="quantity" type="number" inputmode="numeric" min="1" max=max.to_string() value="1" required />
        }
        .into_any(),
        None => view! { <input type="hidden" name="quantity" value="1" /> }.into_any(),
    };
    view! {
        <ActionForm action attr:class=quantity_max.map(|_| "add-form")>
            <input type="hidden" name="product_id" value=product_id.to_string() />
            {quantity}
            <button
                type="submit"
                aria-describedby=describedby
                disabled=move || sold_out || action.pending().get()
            >
                "Add to cart"
            </button>
        </ActionForm>
    }
}

/// The page's answer to Add to cart with JavaScript: a polite status, or an alert. (Without
/// JavaScript the page comes back and the server renders an error, if any.)
#[island]
pub fn CartNotice() -> impl IntoView {
    let notice = live::shared().map(|s| s.notice);
    let read = move |ok: bool| {
        let notice = notice.clone();
        Signal::derive(move || {
            notice
                .as_ref()
                .and_then(|n| n.get())
                .and_then(|r| if ok { r.ok() } else { r.err() })
        })
    };
    view! {
        <Alert message=read(false) />
        <Status message=read(true) />
    }
}
