//! `/`: the product grid.

use crate::api::cart::added_note;
use crate::api::catalog::list_products;
use crate::components::feedback::{error_text, Alert};
use crate::components::layout::use_shop_actions;
use crate::components::product_tile::ProductTile;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

/// The product a no-JavaScript Add to cart came back for (`?added=7`), if any.
pub fn added_product() -> Option<i64> {
    use_query_map()
        .read_untracked()
        .get("added")
        .and_then(|id| id.parse().ok())
}

/// What adding `product` said, when the page came back from a no-JavaScript Add to cart.
pub fn added_note_resource(product: Option<i64>) -> Resource<Option<String>> {
    Resource::new(
        move || product,
        |product| async move {
            match product {
                Some(id) => added_note(id).await.ok().flatten(),
                None => None,
            }
        },
    )
}

#[component]
pub fn CatalogPage() -> impl IntoView {
    let actions = use_shop_actions();
    let products = Resource::new(|| (), |_| list_products());
    let added = added_product();
    let note = added_note_resource(added);
    view! {
        <h1>"Shop"</h1>
        // A refused Add to cart sent without JavaScript comes back here with its error.
        <Alert message=Signal::derive(move || error_text(actions.add_to_cart.value().get())) />
        <Transition fallback=|| view! { <p>"Loading products…"</p> }>
            {move || Suspend::new(async move {
                let note = note.await;
                match products.await {
                    Ok(list) if list.is_empty() => view! { <p>"No products are for sale right now."</p> }.into_any(),
                    Ok(list) => view! {
                        <div class="product-grid">
                            {list.into_iter().map(|product| {
                                let note = (Some(product.id) == added).then(|| note.clone()).flatten();
                                view! { <ProductTile product note /> }
                            }).collect_view()}
                        </div>
                    }
                    .into_any(),
                    Err(e) => view! { <p class="alert" role="alert">{e.to_string()}</p> }.into_any(),
                }
            })}
        </Transition>
    }
}
