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

/// **Back to cart** after leaving the provider's page: the order is cancelled (the provider's
/// session closed, the stock given back), its lines go back into the cart and its details into the
/// checkout form.
#[server(endpoint = "back_to_cart")]
pub async fn back_to_cart(reference: String, key: Option<String>) -> Result<(), AppError> {
    use crate::model::OrderStatus;
    use crate::server::services::orders::{self, Viewer};
    let ctx = crate::server::context::ctx().await?;
    let viewer = Viewer {
        session: &ctx.session,
        key: key.as_deref(),
    };
    let mut order = orders::require_visible(ctx.db(), &viewer, &reference).await?;
    if order.status == OrderStatus::AwaitingPayment {
        let provider = order.provider.ok_or(AppError::NotFound)?;
        orders::cancel(&ctx.state, provider, &order).await?;
        order = orders::require_visible(ctx.db(), &viewer, &reference).await?;
    }
    crate::server::services::checkout::refill(&ctx.state, &ctx.session, &ctx.cart().await?, &order)
        .await?;
    leptos_axum::redirect("/cart");
    Ok(())
}

/// Put a failed, cancelled or expired order's lines back into the cart and its details into the
/// checkout form, and go to the checkout.
#[server(endpoint = "try_again")]
pub async fn try_again(reference: String, key: Option<String>) -> Result<(), AppError> {
    use crate::server::services::orders::{self, Viewer};
    let ctx = crate::server::context::ctx().await?;
    let viewer = Viewer {
        session: &ctx.session,
        key: key.as_deref(),
    };
    let order = orders::require_visible(ctx.db(), &viewer, &reference).await?;
    crate::server::services::checkout::refill(&ctx.state, &ctx.session, &ctx.cart().await?, &order)
        .await?;
    leptos_axum::redirect("/checkout");
    Ok(())
}
