//! `/admin/products`: the merchant's product list: quick price, stock and status edits in place,
//! **New product**, **Edit** (every field) and **Remove** (archived when it has orders) per row,
//! and the way to the categories.

use crate::api::admin::{admin_products, take_admin_notice, PRODUCTS_PAGE};
use crate::components::feedback::{error_text, Alert, Status};
use crate::components::layout::{use_shop_actions, ShopActions};
use crate::error::AppError;
use crate::model::{AdminProduct, AdminProductsPage};
use crate::routes::catalog::CataloguePager;
use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn AdminProductsPage() -> impl IntoView {
    let actions = use_shop_actions();
    let query = use_query_map();
    let (search, after, before) = query.with_untracked(|q| {
        (
            q.get("q").unwrap_or_default(),
            q.get("after").unwrap_or_default(),
            q.get("before").unwrap_or_default(),
        )
    });
    let products = Resource::new(
        move || (search.clone(), after.clone(), before.clone()),
        |(q, after, before)| admin_products(q, after, before),
    );
    // What a Save sent from this page said (the page is drawn again after it).
    let notice = Resource::new(|| PRODUCTS_PAGE.to_string(), take_admin_notice);
    view! {
        <Title text="Manage products" />
        <h1>"Manage products"</h1>
        <Alert message=Signal::derive(move || error_text(actions.update_product.value().get())) />
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                let notice = notice.await.ok().flatten();
                let body = match products.await {
                    Ok(AdminProductsPage { products: list, search, previous, next }) => view! {
                        <p class="list-actions">
                            <a href="/admin/products/new" class="button primary">"New product"</a>
                            <a href="/admin/categories">"Categories"</a>
                            <a href="/admin/products/import">"Import or export (CSV)"</a>
                        </p>
                        <form method="get" action="/admin/products" role="search" class="catalog-search">
                            <label for="product-search">"Search products"</label>
                            <input id="product-search" name="q" type="search" value=search.clone() maxlength="100" />
                            <button type="submit">"Search"</button>
                        </form>
                        {(list.is_empty()).then(|| view! { <p class="empty-state">{
                            if search.is_empty() { "No products yet: add one, or import a CSV.".to_string() }
                            else { format!("No products match “{search}”.") }
                        }</p> })}
                        <p class="hint">"Prices are in the currency picked in the header."</p>
                        <table class="admin-products stack">
                            <thead><tr>
                                <th scope="col">"Product"</th><th scope="col">"Price"</th>
                                <th scope="col">"Stock"</th><th scope="col">"Status"</th><th scope="col">"Actions"</th>
                            </tr></thead>
                            <tbody>{list.into_iter().map(|p| view! { <AdminRow product=p actions /> }).collect_view()}</tbody>
                        </table>
                        <CataloguePager path="/admin/products" search=search previous next />
                    }
                    .into_any(),
                    Err(AppError::Unauthorized) => view! {
                        <p class="alert" role="alert">"Please " <a href="/login">"log in"</a> " with a merchant account."</p>
                    }
                    .into_any(),
                    Err(e) => view! { <p class="alert" role="alert">{e.to_string()}</p> }.into_any(),
                };
                view! { <Status message=Signal::stored(notice) /> {body} }
            })}
        </Transition>
    }
}

#[component]
fn AdminRow(product: AdminProduct, actions: ShopActions) -> impl IntoView {
    let form_id = format!("edit-{}", product.id);
    let price = product
        .price
        .map(|p| p.to_decimal_string())
        .unwrap_or_default();
    let label = |what: &str| format!("{what} of {}", product.name);
    let act = |what: &str| format!("{what} {}", product.name);
    let remove_path =
        <crate::api::catalog_admin::RemoveProduct as leptos::server_fn::ServerFn>::PATH;
    view! {
        <tr>
            <th scope="row">{product.name.clone()}</th>
            <td data-label="Price"><input form=form_id.clone() name="price" inputmode="decimal" value=price aria-label=label("Price") required /></td>
            <td data-label="Stock"><input form=form_id.clone() name="stock" type="number" min="0" value=product.stock.to_string() aria-label=label("Stock") required /></td>
            <td data-label="Status">
                <select form=form_id.clone() name="status" aria-label=label("Status")>
                    <option value="active" selected=product.active>"On sale"</option>
                    <option value="hidden" selected=!product.active>"Hidden"</option>
                </select>
            </td>
            <td class="row-actions">
                <ActionForm action=actions.update_product attr:id=form_id>
                    <input type="hidden" name="product_id" value=product.id.to_string() />
                    <button type="submit">"Save"</button>
                </ActionForm>
                <a href=format!("/admin/products/{}/edit", product.id) aria-label=act("Edit")>"Edit"</a>
                <form method="post" action=remove_path class="inline">
                    <input type="hidden" name="product_id" value=product.id.to_string() />
                    <button type="submit" aria-label=act("Remove")>"Remove"</button>
                </form>
            </td>
        </tr>
    }
}
