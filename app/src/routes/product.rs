//! `/products/{slug}`: one product with a quantity to add.

use crate::api::catalog::get_product;
use crate::components::feedback::{error_text, Alert};
use crate::components::layout::use_shop_actions;
use crate::components::product_tile::AddToCartForm;
use crate::error::AppError;
use crate::model::{Photo, ProductDetail, Quantity};
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
    let availability = if sold_out {
        "Out of stock".to_string()
    } else {
        format!("{} in stock", card.stock)
    };
    view! {
        <Title text=card.name.clone() />
        <article class="product-detail">
            <ProductPhotos photos=detail.photos image=card.image />
            <div>
                <h1>{card.name}</h1>
                <p class="price">{card.price.to_string()}</p>
                <div class="description" inner_html=detail.description_html></div>
                <p class="stock-note">{availability}</p>
                <Alert message=Signal::derive(move || error_text(actions.add_to_cart.value().get())) />
                <AddToCartForm product_id=card.id describedby=None sold_out quantity_max=Some(max) note />
                <p><a href="/">"Back to the shop"</a></p>
            </div>
        </article>
    }
}

/// The product's photos, the first large and the others after it, each with its alt text; the
/// stand-in image when it has none.
#[component]
fn ProductPhotos(photos: Vec<Photo>, image: String) -> impl IntoView {
    if photos.is_empty() {
        return view! { <img src=image alt="" width="320" height="240" /> }.into_any();
    }
    view! {
        <div class="product-photos">
            {photos.into_iter().enumerate().map(|(i, photo)| {
                let (sizes, loading) = if i == 0 {
                    ("(max-width: 40rem) 100vw, 30rem", "eager")
                } else {
                    ("(max-width: 40rem) 50vw, 15rem", "lazy")
                };
                view! {
                    <img
                        src=photo.src
                        srcset=photo.srcset
                        sizes=sizes
                        alt=photo.alt
                        width=photo.width
                        height=photo.height
                        loading=loading
                    />
                }
            }).collect_view()}
        </div>
    }
    .into_any()
}
