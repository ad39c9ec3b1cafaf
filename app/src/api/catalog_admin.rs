//! The merchant's catalogue: the product form, removing a product, categories. Every call checks
//! the merchant role. The forms are plain POSTs: a refused one comes back to its page with what
//! was typed and each field's problem; a saved one goes to the product list, which says so.

// A server function's arguments are its form fields; the product form simply has many.
#![allow(clippy::too_many_arguments)]

use crate::error::AppError;
use crate::model::{CategoriesPage, ImportReport, ProductEditor};
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
    let (photo_form, photo_notice) = match id {
        Some(id) => {
            let form = crate::server::services::photos::photo_form(id);
            (
                ctx.session.take_form_echo(&form).await?,
                ctx.session.take_notice(&form).await?,
            )
        }
        None => (None, None),
    };
    Ok(catalog_admin::editor(&ctx.state, id, refused, photo_form, photo_notice).await?)
}

/// A photo's buttons on the Edit page: `action` is `alt` (save its alt text), `up`, `down` or
/// `remove`. Comes back to the page's Photos section, which says what happened.
#[server(endpoint = "admin/photo")]
pub async fn change_photo(
    product_id: String,
    photo_id: String,
    action: String,
    #[server(default)] alt: String,
) -> Result<(), AppError> {
    use crate::server::error::ServerError;
    use crate::server::services::photos;
    let ctx = crate::server::context::ctx().await?;
    ctx.require_merchant().await?;
    let product = crate::server::context::parse_id(&product_id)?;
    let photo = crate::server::context::parse_id(&photo_id)?;
    let form = photos::photo_form(product);
    let done = match action.as_str() {
        "alt" => photos::set_alt(&ctx.state, product, photo, &alt).await,
        "up" | "down" => photos::move_photo(&ctx.state, product, photo, action == "up").await,
        "remove" => photos::remove(&ctx.state, product, photo).await,
        _ => Err(AppError::invalid("Choose one of the photo's buttons.").into()),
    };
    match done {
        Ok(message) => ctx.session.set_notice(&form, &message).await?,
        Err(ServerError::User(AppError::Invalid(message))) => {
            let mut echo = crate::model::FormEcho::default();
            let field = format!("alt-{photo}");
            echo.values
                .insert(field.clone(), alt.chars().take(300).collect());
            echo.errors.add(&field, message);
            ctx.session.set_form_echo(&form, &echo).await?;
        }
        Err(other) => return Err(other.into()),
    }
    leptos_axum::redirect(&format!("/admin/products/{product}/edit#photos"));
    Ok(())
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

/// What the last catalogue CSV check or import found, once (the import page reads it).
#[server(endpoint = "admin/import_report")]
pub async fn get_import_report() -> Result<Option<ImportReport>, AppError> {
    let ctx = crate::server::context::ctx().await?;
    ctx.require_merchant().await?;
    Ok(ctx.session.take_import_report().await?)
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
