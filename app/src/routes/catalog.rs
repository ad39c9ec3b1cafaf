//! `/`: the product grid.

use crate::api::cart::added_note;
use crate::api::catalog::list_products;
use crate::components::feedback::{error_text, Alert};
use crate::components::layout::use_shop_actions;
use crate::components::product_tile::ProductTile;
use crate::error::AppError;
use crate::model::order_list::encode_component;
use crate::model::CatalogView;
use crate::routes::NotFound;
use leptos::prelude::*;
use leptos_meta::Title;
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
    let query = use_query_map();
    let (category, search, after, before) = query.with_untracked(|q| {
        (
            q.get("category").unwrap_or_default(),
            q.get("q").unwrap_or_default(),
            q.get("after").unwrap_or_default(),
            q.get("before").unwrap_or_default(),
        )
    });
    let products = Resource::new(
        move || {
            (
                category.clone(),
                search.clone(),
                after.clone(),
                before.clone(),
            )
        },
        |(category, q, after, before)| list_products(category, q, after, before),
    );
    let added = added_product();
    let note = added_note_resource(added);
    view! {
        // A refused Add to cart sent without JavaScript comes back here with its error.
        <Alert message=Signal::derive(move || error_text(actions.add_to_cart.value().get())) />
        <Transition fallback=|| view! { <h1>"Shop"</h1> <p>"Loading products…"</p> }>
            {move || Suspend::new(async move {
                let note = note.await;
                match products.await {
                    Ok(view) => view! { <Catalog view note added /> }.into_any(),
                    Err(AppError::NotFound) => view! { <NotFound /> }.into_any(),
                    Err(e) => view! { <h1>"Shop"</h1> <p class="alert" role="alert">{e.to_string()}</p> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// The heading, the categories and the search, then the grid.
#[component]
fn Catalog(view: CatalogView, note: Option<String>, added: Option<i64>) -> impl IntoView {
    let CatalogView {
        products,
        categories,
        category,
        search,
        previous,
        next,
    } = view;
    let heading = match (&category, search.is_empty()) {
        (Some(c), true) => c.name.clone(),
        (Some(c), false) => format!("{}: “{search}”", c.name),
        (None, false) => format!("Search: “{search}”"),
        (None, true) => "Shop".to_string(),
    };
    let chosen = category
        .as_ref()
        .map(|c| c.slug.clone())
        .unwrap_or_default();
    let nav = (!categories.is_empty()).then(|| {
        let all_current = chosen.is_empty().then_some("page");
        view! {
            <nav aria-label="Categories" class="categories-nav">
                <a href="/" aria-current=all_current>"All"</a>
                {categories.into_iter().map(|c| {
                    let current = (c.slug == chosen).then_some("page");
                    view! { <a href=format!("/?category={}", c.slug) aria-current=current>{c.name}</a> }
                }).collect_view()}
            </nav>
        }
    });
    let search_kept = search.clone();
    let empty = if search.is_empty() {
        "No products are for sale here right now.".to_string()
    } else {
        format!("No products match “{search}”.")
    };
    let grid = if products.is_empty() {
        view! { <p class="empty-state">{empty}</p> }.into_any()
    } else {
        view! {
            <div class="product-grid">
                {products.into_iter().map(|product| {
                    let note = (Some(product.id) == added).then(|| note.clone()).flatten();
                    view! { <ProductTile product note /> }
                }).collect_view()}
            </div>
        }
        .into_any()
    };
    view! {
        <Title text=heading.clone() />
        <h1>{heading}</h1>
        <div class="catalog-tools">
            {nav}
            <form method="get" action="/" role="search" class="catalog-search">
                {(!chosen.is_empty()).then(|| view! { <input type="hidden" name="category" value=chosen.clone() /> })}
                <label for="catalog-search">"Search products"</label>
                <input id="catalog-search" name="q" type="search" value=search maxlength="100" />
                <button type="submit">"Search"</button>
            </form>
        </div>
        {grid}
        <CataloguePager path="/" category=chosen search=search_kept previous next />
    }
}

/// Previous page / Next page links under `path` that keep the category and the search.
#[component]
pub fn CataloguePager(
    path: &'static str,
    #[prop(optional)] category: String,
    search: String,
    previous: Option<String>,
    next: Option<String>,
) -> impl IntoView {
    let link = move |key: &str, cursor: &str| {
        let mut query = Vec::new();
        if !category.is_empty() {
            query.push(format!("category={}", encode_component(&category)));
        }
        if !search.is_empty() {
            query.push(format!("q={}", encode_component(&search)));
        }
        query.push(format!("{key}={}", encode_component(cursor)));
        format!("{path}?{}", query.join("&"))
    };
    let previous = previous.map(|c| link("before", &c));
    let next = next.map(|c| link("after", &c));
    (previous.is_some() || next.is_some()).then(|| {
        view! {
            <nav aria-label="Pages" class="pager">
                {previous.map(|href| view! { <a href=href rel="prev">"Previous page"</a> })}
                {next.map(|href| view! { <a href=href rel="next">"Next page"</a> })}
            </nav>
        }
    })
}
