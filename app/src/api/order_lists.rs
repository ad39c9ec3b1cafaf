//! The order lists: a customer's transaction history and the merchant's orders.

use crate::error::AppError;
use crate::model::{OrderListPage, OrderListQuery};
use leptos::prelude::*;

/// One page of the logged-in customer's own orders; `Unauthorized` for anyone else.
#[server(endpoint = "account/orders")]
pub async fn account_orders(query: OrderListQuery) -> Result<OrderListPage, AppError> {
    use crate::server::services::order_search::{self, Lister};
    let ctx = crate::server::context::ctx().await?;
    let user = ctx.user().await?.ok_or(AppError::Unauthorized)?;
    Ok(order_search::list(ctx.db(), Lister::Customer(user.id), &query).await?)
}

/// One page of every order, with totals per currency; merchants only.
#[server(endpoint = "admin/orders")]
pub async fn admin_orders(query: OrderListQuery) -> Result<OrderListPage, AppError> {
    use crate::server::services::order_search::{self, Lister};
    let ctx = crate::server::context::ctx().await?;
    ctx.require_merchant().await?;
    Ok(order_search::list(ctx.db(), Lister::Merchant, &query).await?)
}

/// Whether the logged-in customer placed this order, so its page links back to the history.
#[server(endpoint = "account/in_history")]
pub async fn in_history(reference: String) -> Result<bool, AppError> {
    use crate::server::services::order_search;
    let ctx = crate::server::context::ctx().await?;
    match ctx.session.user_id().await? {
        Some(user_id) => Ok(order_search::in_history(ctx.db(), user_id, &reference).await?),
        None => Ok(false),
    }
}
