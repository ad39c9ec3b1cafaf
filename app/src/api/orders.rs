//! The payment-redirect page's order, and starting again after a failed payment.

use crate::error::AppError;
use crate::model::OrderView;
use leptos::prelude::*;

/// The order, for its owner (session or guest link `key`) or a merchant; "Not found" otherwise.
#[server(endpoint = "order")]
pub async fn get_order(reference: String, key: Option<String>) -> Result<OrderView, AppError> {
    use crate::server::services::orders::{self, Viewer};
    let ctx = crate::server::context::ctx().await?;
    let viewer = Viewer {
        session: &ctx.session,
        key: key.as_deref(),
    };
    let order = orders::require_visible(ctx.db(), &viewer, &reference).await?;
    Ok(orders::view(&ctx.state, &viewer, &order).await?)
}

/// Put a failed, cancelled or expired order's lines back into the cart and go to the checkout.
#[server(endpoint = "try_again")]
pub async fn try_again(reference: String, key: Option<String>) -> Result<(), AppError> {
    use crate::server::services::orders::{self, Viewer};
    let ctx = crate::server::context::ctx().await?;
    let viewer = Viewer {
        session: &ctx.session,
        key: key.as_deref(),
    };
    let order = orders::require_visible(ctx.db(), &viewer, &reference).await?;
    orders::refill_cart(&ctx.state, &ctx.cart().await?, &order).await?;
    leptos_axum::redirect("/checkout");
    Ok(())
}
