//! The merchant's product list and edits. Every call checks the merchant role.

use crate::error::AppError;
use crate::model::AdminProductsPage;
use leptos::prelude::*;

/// The notice key of the products page (an order's admin page uses the order's reference).
pub const PRODUCTS_PAGE: &str = "/admin/products";

/// What the last form sent from a merchant page said, for that page drawn after it (once): the
/// products page ([`PRODUCTS_PAGE`]) or an order's page (its reference: Accept as paid, Look up
/// now, Refund). The forms are plain POSTs that come back to the page.
#[server(endpoint = "admin/notice")]
pub async fn take_admin_notice(page: String) -> Result<Option<String>, AppError> {
    let ctx = crate::server::context::ctx().await?;
    ctx.require_merchant().await?;
    Ok(ctx.session.take_notice(page.trim()).await?)
}

#[server(endpoint = "admin/products")]
pub async fn admin_products(
    #[server(default)] q: String,
    #[server(default)] after: String,
    #[server(default)] before: String,
) -> Result<AdminProductsPage, AppError> {
    use crate::server::services::catalog;
    let ctx = crate::server::context::ctx().await?;
    ctx.require_merchant().await?;
    let currency = ctx.session.currency().await?;
    Ok(catalog::admin_list(ctx.db(), currency, &q, &after, &before).await?)
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
    let edit = ProductEdit {
        product_id: crate::server::context::parse_id(&product_id)?,
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
    let message = catalog::update_product(&ctx.state, edit).await?;
    // The plain POST comes back to the list, which says so.
    ctx.session.set_notice(PRODUCTS_PAGE, &message).await?;
    Ok(message)
}
