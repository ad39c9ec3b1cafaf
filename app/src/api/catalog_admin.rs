//! The merchant's catalogue: the product form, removing a product, categories. Every call checks
//! the merchant role. The forms are plain POSTs: a refused one comes back to its page with what
//! was typed and each field's problem; a saved one goes to the product list, which says so.

// A server function's arguments are its form fields; the product form simply has many.
#![allow(clippy::too_many_arguments)]

use crate::error::AppError;
use crate::model::{CategoriesPage, ProductEditor};
use leptos::prelude::*;

/// The New product (`product_id` empty) or Edit page's data.
#[server(endpoint = "admin/product_editor")]
pub async fn get_product_editor(product_id: String) -> Result<ProductEditor, AppError> {
    use crate::server::services::catalog_admin;
    let ctx = crate::server::context::ctx().await?;
    ctx.require_merchant().await?;
    let id = crate::server::context::parse_optional_id(&product_id)?;
    let refused = ctx
        .session
        .take_form_echo(&catalog_admin::product_form(id))
        .await?;
    Ok(catalog_admin::editor(&ctx.state, id, refused).await?)
}

/// Save the product form: create (`product_id` empty) or change.
#[server(endpoint = "admin/save_product")]
pub async fn save_product(
    product_id: String,
    name: String,
    slug: String,
    description: String,
    sku: String,
    category: String,
    price_usd: String,
    price_eur: String,
    price_bdt: String,
    price_cny: String,
    price_jpy: String,
    stock: String,
    status: String,
) -> Result<(), AppError> {
    use crate::api::admin::PRODUCTS_PAGE;
    use crate::server::services::catalog_admin;
    let ctx = crate::server::context::ctx().await?;
    ctx.require_merchant().await?;
    let id = crate::server::context::parse_optional_id(&product_id)?;
    let fields = [
        ("name", name),
        ("slug", slug),
        ("description", description),
        ("sku", sku),
        ("category", category),
        ("price_usd", price_usd),
        ("price_eur", price_eur),
        ("price_bdt", price_bdt),
        ("price_cny", price_cny),
        ("price_jpy", price_jpy),
        ("stock", stock),
        ("status", status),
    ];
    let values = fields
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    match catalog_admin::save_product(&ctx.state, id, &values).await {
        Ok(name) => {
            let message = if id.is_some() {
                format!("Saved {name}.")
            } else {
                format!("Added {name} to the catalogue.")
            };
            ctx.session.set_notice(PRODUCTS_PAGE, &message).await?;
            leptos_axum::redirect(PRODUCTS_PAGE);
            Ok(())
        }
        Err(refusal) => {
            let kept: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            Err(ctx
                .session
                .keep_refused_form(&catalog_admin::product_form(id), &kept, refusal)
                .await
                .into())
        }
    }
}

/// **Remove**: archived if it has orders, deleted if not.
#[server(endpoint = "admin/remove_product")]
pub async fn remove_product(product_id: String) -> Result<(), AppError> {
    use crate::api::admin::PRODUCTS_PAGE;
    use crate::server::services::catalog_admin;
    let ctx = crate::server::context::ctx().await?;
    ctx.require_merchant().await?;
    let id = crate::server::context::parse_id(&product_id)?;
    let message = catalog_admin::remove_product(&ctx.state, id).await?;
    ctx.session.set_notice(PRODUCTS_PAGE, &message).await?;
    leptos_axum::redirect(PRODUCTS_PAGE);
    Ok(())
}

/// The categories page's data.
#[server(endpoint = "admin/categories")]
pub async fn get_categories() -> Result<CategoriesPage, AppError> {
    use crate::server::services::catalog_admin;
    let ctx = crate::server::context::ctx().await?;
    ctx.require_merchant().await?;
    let refused = ctx
        .session
        .take_form_echo(catalog_admin::CATEGORY_FORM)
        .await?;
    Ok(catalog_admin::categories_page(&ctx.state, refused).await?)
}

/// Create (`category_id` empty) or change a category.
#[server(endpoint = "admin/save_category")]
pub async fn save_category(
    category_id: String,
    name: String,
    slug: String,
    position: String,
) -> Result<(), AppError> {
    use crate::server::services::catalog_admin;
    let ctx = crate::server::context::ctx().await?;
    ctx.require_merchant().await?;
    let id = crate::server::context::parse_optional_id(&category_id)?;
    match catalog_admin::save_category(&ctx.state, id, &name, &slug, &position).await {
        Ok(saved) => {
            ctx.session
                .set_notice(CATEGORIES_PAGE, &format!("Saved the category {saved}."))
                .await?;
            leptos_axum::redirect(CATEGORIES_PAGE);
            Ok(())
        }
        Err(refusal) => {
            let kept = [
                ("name", name.as_str()),
                ("slug", slug.as_str()),
                ("position", position.as_str()),
            ];
            let form = if id.is_some() {
                "category:edit"
            } else {
                catalog_admin::CATEGORY_FORM
            };
            Err(ctx
                .session
                .keep_refused_form(form, &kept, refusal)
                .await
                .into())
        }
    }
}

/// The notice key of the categories page.
pub const CATEGORIES_PAGE: &str = "/admin/categories";
