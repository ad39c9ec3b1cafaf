//! `/products/{slug}`: one product with a quantity to add.

use crate::api::catalog::get_product;
use crate::components::feedback::{error_text, Alert, Status};
use crate::components::layout::use_shop_actions;
use crate::error::AppError;
use crate::model::{ProductDetail, Quantity};
use crate::routes::NotFound;
use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

#[component]
pub fn ProductPage() -> impl IntoView {
    let actions = use_shop_actions();
    let params = use_params_map();
    let product = Resource::new(
        move || {
            (
                params.read().get("slug").unwrap_or_default(),
                actions.version(),
            )
        },
        |(slug, _)| get_product(slug),
    );
    view! {
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match product.await {
                    Ok(detail) => view! { <ProductView detail /> }.into_any(),
                    Err(AppError::NotFound) => view! { <NotFound /> }.into_any(),
                    Err(e) => view! { <p class="alert" role="alert">{e.to_string()}</p> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn ProductView(detail: ProductDetail) -> impl IntoView {
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
                <Status message=Signal::derive(move || actions.add_to_cart.value().get().and_then(|r| r.ok())) />
                <ActionForm action=actions.add_to_cart attr:class="add-form">
                    <input type="hidden" name="product_id" value=card.id.to_string() />
                    <label for="quantity">"Quantity"</label>
                    <input id="quantity" name="quantity" type="number" inputmode="numeric" min="1" max=max.to_string() value="1" required />
                    <button type="submit" disabled=move || sold_out || actions.add_to_cart.pending().get()>
                        "Add to cart"
                    </button>
                </ActionForm>
                <p><a href="/">"Back to the shop"</a></p>
            </div>
        </article>
    }
}
