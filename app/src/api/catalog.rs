//! Catalogue and currency.

use crate::error::AppError;
use crate::model::{CatalogView, Currency, ProductDetail};
use leptos::prelude::*;

/// The catalogue grid in the shopper's currency: every product for sale, or those of one category
/// (`category`, its slug) and those matching a search (`q`: name, description or SKU), one page
/// after or before the cursor a page link carries.
#[server(endpoint = "products")]
pub async fn list_products(
    #[server(default)] category: String,
    #[server(default)] q: String,
    #[server(default)] after: String,
    #[server(default)] before: String,
) -> Result<CatalogView, AppError> {
    use crate::server::{context::ctx, http::set_status, services::catalog};
    let ctx = ctx().await?;
    let currency = ctx.session.currency().await?;
    let view = catalog::browse(ctx.db(), currency, &category, &q, &after, &before).await;
    if matches!(
        view,
        Err(crate::server::error::ServerError::User(AppError::NotFound))
    ) {
        set_status(axum::http::StatusCode::NOT_FOUND);
    }
    Ok(view?)
}

/// One product page; an unknown or withdrawn product answers 404, a renamed one's old slug 301.
#[server(endpoint = "product")]
pub async fn get_product(slug: String) -> Result<ProductDetail, AppError> {
    use crate::server::{context::ctx, http::set_status, services::catalog};
    let ctx = ctx().await?;
    let currency = ctx.session.currency().await?;
    let result = catalog::product(ctx.db(), &slug, currency).await;
    if matches!(
        result,
        Err(crate::server::error::ServerError::User(AppError::NotFound))
    ) {
        // A renamed product's old address leads to its new one, for good (301).
        let renamed =
            crate::server::services::catalog_admin::renamed(&ctx.state, slug.trim()).await?;
        if let Some(current) = renamed {
            leptos_axum::redirect(&format!("/products/{current}"));
            set_status(axum::http::StatusCode::MOVED_PERMANENTLY);
        } else {
            set_status(axum::http::StatusCode::NOT_FOUND);
        }
    }
    Ok(result?)
}

/// Remember the shopper's currency in the session.
#[server(endpoint = "set_currency")]
pub async fn set_currency(currency: String) -> Result<Currency, AppError> {
    use crate::server::context::ctx;
    let currency: Currency = currency.parse().map_err(AppError::invalid)?;
    ctx().await?.session.set_currency(currency).await?;
    Ok(currency)
}
