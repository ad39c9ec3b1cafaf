//! The merchant's product list and edits. Every call checks the merchant role.

use crate::error::AppError;
use crate::model::AdminProduct;
use leptos::prelude::*;

#[server(endpoint = "admin/products")]
pub async fn admin_products() -> Result<Vec<AdminProduct>, AppError> {
    use crate::server::services::catalog;
    let ctx = crate::server::context::ctx().await?;
    ctx.require_merchant().await?;
    let currency = ctx.session.currency().await?;
    Ok(catalog::admin_list(ctx.db(), currency).await?)
}

/// Set one product's price (in the merchant's current currency), stock and status.
#[server(endpoint = "admin/update_product")]
pub async fn update_product(
    product_id: String,
    price: String,
    stock: String,
    status: String,
) -> Result<String, AppError> {
    use crate::model::Money;
    use crate::server::services::catalog::{self, ProductEdit};
    let ctx = crate::server::context::ctx().await?;
    ctx.require_merchant().await?;
    let currency = ctx.session.currency().await?;
    let edit_id = crate::server::context::parse_id(&product_id)?;
    let edit = ProductEdit {
        product_id: edit_id,
        price: Money::parse_decimal(&price, currency).map_err(AppError::invalid)?,
        stock: stock
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|s| (0..=1_000_000).contains(s))
            .ok_or_else(|| AppError::invalid("Stock must be a whole number from 0 to 1000000."))?,
        active: match status.as_str() {
            "active" => true,
            "hidden" => false,
            _ => return Err(AppError::invalid("Status must be active or hidden.")),
        },
    };
    catalog::update_product(&ctx.state, edit).await?;
    // Back to the list, which says so (the form is a plain POST: the page is drawn again).
    leptos_axum::redirect(&format!("/admin/products?saved={}", edit_id));
    Ok("Product saved.".to_string())
}
