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

/// Add a product (from a card or a product page). Sent from a plain form (no JavaScript), the
/// browser comes back to the product it pressed, whose card then says what happened
/// ([`added_note`]).
#[server(endpoint = "add_to_cart")]
pub async fn add_to_cart(product_id: String, quantity: String) -> Result<String, AppError> {
    use crate::model::Quantity;
    use crate::server::{context, services::cart};
    let product_id = context::parse_id(&product_id)?;
    let quantity = Quantity::parse(&quantity).map_err(AppError::invalid)?;
    let ctx = context::ctx().await?;
    let currency = ctx.session.currency().await?;
    let message = ctx
        .cart()
        .await?
        .add(product_id, quantity, currency)
        .await?;
    if let Some(page) = context::plain_form_referer_path() {
        ctx.session
            .set_notice(&cart::added_note_key(product_id), &message)
            .await?;
        leptos_axum::redirect(&cart::added_url(&page, product_id));
    }
    Ok(message)
}

/// What adding `product_id` said, for the page a plain-form Add to cart came back to (`?added=`);
/// taken once.
#[server(endpoint = "added_note")]
pub async fn added_note(product_id: i64) -> Result<Option<String>, AppError> {
    let ctx = crate::server::context::ctx().await?;
    Ok(ctx
        .session
        .take_notice(&crate::server::services::cart::added_note_key(product_id))
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
