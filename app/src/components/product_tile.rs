//! A product in the catalogue grid, and the Add to cart form it shares with the product page.

use super::live;
use crate::api::AddToCart;
use crate::model::{Photo, ProductCard};
use leptos::form::ActionForm;
use leptos::prelude::*;

/// `note`: what adding this product just said, when the page came back from a no-JavaScript Add to
/// cart.
#[component]
pub fn ProductTile(product: ProductCard, note: Option<String>) -> impl IntoView {
    let href = format!("/products/{}", product.slug);
    let name_id = format!("product-{}-name", product.id);
    let sold_out = product.stock <= 0;
    let stock_note = match product.stock {
        0 => Some("Out of stock".to_string()),
        n if n <= 5 => Some(format!("Only {n} left")),
        _ => None,
    };
    view! {
        <article class="product-card" id=ProductCard::anchor(product.id)>
            <a href=href.clone() class="product-link">
                <CardImage image=product.image photo=product.photo />
                <h2 id=name_id.clone()>{product.name}</h2>
            </a>
            <p class="price">{product.price.to_string()}</p>
            {stock_note.map(|n| view! { <p class="stock-note">{n}</p> })}
            <AddToCartForm product_id=product.id describedby=Some(name_id) sold_out quantity_max=None note />
        </article>
    }
}

/// A card's picture: the product's first photo in every width it has (the browser picks one for
/// the card's width), else its stand-in image. The name under it says what it is: `alt` is empty.
#[component]
pub fn CardImage(image: String, photo: Option<Photo>) -> impl IntoView {
    match photo {
        Some(photo) => view! {
            <img
                src=photo.src
                srcset=photo.srcset
                sizes="(max-width: 40rem) 100vw, 20rem"
                alt=""
                width=photo.width
                height=photo.height
                loading="lazy"
            />
        }
        .into_any(),
        None => {
            view! { <img src=image alt="" width="320" height="240" loading="lazy" /> }.into_any()
        }
    }
}

/// **Add to cart**. With JavaScript the form is sent in place: the focus stays on the button, the
/// header's count follows, and a small cart note (fixed at the bottom of the window, so nothing on
/// the page moves) says what happened, with **View cart** and **Checkout**. Without JavaScript it
/// is a plain POST that comes back to this product with the same note (`note`).
/// `quantity_max`: a labelled Quantity field up to this many (the product page); else one item.
#[island]
pub fn AddToCartForm(
    product_id: i64,
    describedby: Option<String>,
    sold_out: bool,
    quantity_max: Option<i64>,
    note: Option<String>,
) -> impl IntoView {
    let action = ServerAction::<AddToCart>::new();
    let shared = live::shared();
    let last_added = shared.as_ref().map(|s| s.last_added.clone());
    if let Some(shared) = shared {
        Effect::new(move |_| {
            let Some(result) = action.value().get() else {
                return;
            };
            shared.last_added.set(Some(product_id));
            if result.is_ok() {
                let count = shared.cart_count.clone();
                leptos::task::spawn_local(async move {
                    if let Ok(header) = crate::api::account::header_data().await {
                        count.set(Some(header.cart_count));
                    }
                });
            }
        });
    }
    // What this form shows: its own last answer while it was the last one used on the page, else
    // what the server rendered.
    let answer = move || {
        let mine = last_added
            .as_ref()
            .is_none_or(|l| l.get().is_none_or(|id| id == product_id));
        // Only an answer to a press on this page: a refusal sent back in the URL (no JavaScript)
        // would reach every form's action, and the page shows it once, above.
        let pressed_here = action.version().get() > 0;
        match action.value().get() {
            Some(result) if mine && pressed_here => Some(result.map_err(|e| e.to_string())),
            _ => note.clone().map(Ok),
        }
    };
    let success = {
        let answer = answer.clone();
        move || answer().and_then(Result::ok)
    };
    let failure = move || answer().and_then(Result::err);
    let quantity = match quantity_max {
        Some(max) => view! {
            <label for="quantity">"Quantity"</label>
            <input id="quantity" name="quantity" type="number" inputmode="numeric" min="1" max=max.to_string() value="1" required />
        }
        .into_any(),
        None => view! { <input type="hidden" name="quantity" value="1" /> }.into_any(),
    };
    // A second press while the first is on its way is ignored (the button keeps the focus: a
    // disabled button would lose it).
    let on_click = move |ev: leptos::ev::MouseEvent| {
        if action.pending().get_untracked() {
            ev.prevent_default();
        }
    };
    view! {
        <ActionForm action attr:class=quantity_max.map_or("add-form", |_| "add-form with-quantity")>
            <input type="hidden" name="product_id" value=product_id.to_string() />
            {quantity}
            <button
                type="submit"
                aria-describedby=describedby
                disabled=sold_out
                aria-disabled=move || action.pending().get().then_some("true")
                on:click=on_click
            >
                "Add to cart"
            </button>
        </ActionForm>
        <p class="alert add-error" role="alert">{failure}</p>
        <div class="cart-note" role="status">
            {move || success().map(|message| view! {
                <p>{message}</p>
                <p class="cart-note-links">
                    <a href="/cart">"View cart"</a>
                    <a href="/checkout" class="button primary">"Checkout"</a>
                </p>
            })}
        </div>
    }
}
