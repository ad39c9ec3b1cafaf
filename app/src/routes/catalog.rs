//! `/`: the product grid.

use crate::api::catalog::list_products;
use crate::components::feedback::{error_text, Alert};
use crate::components::layout::use_shop_actions;
use crate::components::product_tile::{CartNotice, ProductTile};
use leptos::prelude::*;

#[component]
pub fn CatalogPage() -> impl IntoView {
    let actions = use_shop_actions();
    let products = Resource::new(|| (), |_| list_products());
    view! {
        <h1>"Shop"</h1>
        // A refused Add to cart sent without JavaScript comes back here with its error.
        <Alert message=Signal::derive(move || error_text(actions.add_to_cart.value().get())) />
        <CartNotice />
        <Transition fallback=|| view! { <p>"Loading products…"</p> }>
            {move || Suspend::new(async move {
                match products.await {
                    Ok(list) if list.is_empty() => view! { <p>"No products are for sale right now."</p> }.into_any(),
                    Ok(list) => view! {
                        <div class="product-grid">
                            {list.into_iter().map(|product| view! { <ProductTile product /> }).collect_view()}
                        </div>
                    }
                    .into_any(),
                    Err(e) => view! { <p class="alert" role="alert">{e.to_string()}</p> }.into_any(),
                }
            })}
        </Transition>
    }
}
