//! `/products/{slug}`: one product with a quantity to add.

use crate::api::catalog::get_product;
use crate::components::feedback::{error_text, Alert};
use crate::components::layout::use_shop_actions;
use crate::components::product_tile::AddToCartForm;
use crate::error::AppError;
use crate::model::{ProductDetail, Quantity};
use crate::routes::catalog::{added_note_resource, added_product};
use crate::routes::NotFound;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

#[component]
pub fn ProductPage() -> impl IntoView {
    let params = use_params_map();
    let product = Resource::new(
        move || params.read().get("slug").unwrap_or_default(),
        get_product,
    );
    let note = added_note_resource(added_product());
    view! {
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                let note = note.await;
                match product.await {
                    Ok(detail) => view! { <ProductView detail note /> }.into_any(),
                    Err(AppError::NotFound) => view! { <NotFound /> }.into_any(),
                    Err(e) => view! { <p class="alert" role="alert">{e.to_string()}</p> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn ProductView(detail: ProductDetail, note: Option<String>) -> impl IntoView {
    let actions = use_shop_actions();
    let card = detail.card;
    let max = card.stock.clamp(1, i64::from(Quantity::MAX));
    let sold_out = card.stock <= 0;
    view! {
        <Title text=card.name.clone() />
        <article class="product-detail">
            <img src=card.image alt="" width="320" height="240" />
            <div>
                <h1>{card.name}</h1>
                <p class="price">{card.price.to_string()}</p>
                <p>{detail.description}</p>
                <p class="stock-note">
                    {if sold_out { "Out of stock".to_string() } else { format!("{} in stock", card.stock) }}
                </p>
                <Alert message=Signal::derive(move || error_text(actions.add_to_cart.value().get())) />
                <AddToCartForm product_id=card.id describedby=None sold_out quantity_max=Some(max) note />
                <p><a href="/">"Back to the shop"</a></p>
            </div>
        </article>
    }
}
