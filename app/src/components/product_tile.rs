//! A product in the catalogue grid.

use super::layout::use_shop_actions;
use crate::model::ProductCard;
use leptos::form::ActionForm;
use leptos::prelude::*;

#[component]
pub fn ProductTile(product: ProductCard) -> impl IntoView {
    let actions = use_shop_actions();
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
            <ActionForm action=actions.add_to_cart>
                <input type="hidden" name="product_id" value=product.id.to_string() />
                <input type="hidden" name="quantity" value="1" />
                <button
                    type="submit"
                    aria-describedby=name_id
                    disabled=move || sold_out || actions.add_to_cart.pending().get()
                >
                    "Add to cart"
                </button>
            </ActionForm>
        </article>
    }
}
