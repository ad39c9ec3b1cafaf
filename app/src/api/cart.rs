//! Cart changes and the re-priced cart.

use crate::error::AppError;
use crate::model::CartView;
use leptos::prelude::*;

/// The cart for this session or account, re-priced now.
#[server(endpoint = "cart")]
pub async fn get_cart() -> Result<CartView, AppError> {
    let ctx = crate::server::context::ctx().await?;
    let cart = ctx.cart().await?;
    let currency = ctx.session.currency().await?;
    Ok(cart.view(currency).await?)
}

/// Add a product (from a card or a product page).
#[server(endpoint = "add_to_cart")]
pub async fn add_to_cart(product_id: String, quantity: String) -> Result<String, AppError> {
    use crate::model::Quantity;
    let product_id = crate::server::context::parse_id(&product_id)?;
    let quantity = Quantity::parse(&quantity).map_err(AppError::invalid)?;
    let ctx = crate::server::context::ctx().await?;
    let currency = ctx.session.currency().await?;
    Ok(ctx
        .cart()
        .await?
        .add(product_id, quantity, currency)
        .await?)
}

/// Change a line's quantity (the cart page's Update button).
#[server(endpoint = "update_cart_line")]
pub async fn update_cart_line(product_id: String, quantity: String) -> Result<(), AppError> {
    use crate::model::Quantity;
    let product_id = crate::server::context::parse_id(&product_id)?;
    let quantity = Quantity::parse(&quantity).map_err(AppError::invalid)?;
    let ctx = crate::server::context::ctx().await?;
    let currency = ctx.session.currency().await?;
    Ok(ctx
        .cart()
        .await?
        .update(product_id, quantity, currency)
        .await?)
}

/// Remove a line (the cart page's Remove button).
#[server(endpoint = "remove_from_cart")]
pub async fn remove_from_cart(product_id: String) -> Result<(), AppError> {
    let product_id = crate::server::context::parse_id(&product_id)?;
    let ctx = crate::server::context::ctx().await?;
    Ok(ctx.cart().await?.remove(product_id).await?)
}
