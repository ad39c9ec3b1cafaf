//! The merchant's order page and sales chart. Every call checks the merchant role on the server;
//! anyone else gets a 403 and no data.

use crate::error::AppError;
use crate::model::{AdminOrderView, SalesReport};
use leptos::prelude::*;

/// The merchant's view of one order: lines, customer, attempts, refunds and timeline.
#[server(endpoint = "admin/order")]
pub async fn admin_order(reference: String) -> Result<AdminOrderView, AppError> {
    use crate::server::services::admin_orders;
    let ctx = crate::server::context::ctx().await?;
    admin_orders::merchant_only(&ctx).await?;
    Ok(admin_orders::view(&ctx.state, reference.trim()).await?)
}

/// How many emails were given up on after their last try (the order list warns about them).
#[server(endpoint = "admin/dead_emails")]
pub async fn dead_emails() -> Result<i64, AppError> {
    use crate::server::services::admin_orders;
    let ctx = crate::server::context::ctx().await?;
    ctx.require_merchant().await?;
    Ok(admin_orders::dead_emails(&ctx.state).await?)
}

/// **Accept as paid**: the merchant takes the money of an order under review as its payment.
#[server(endpoint = "admin/accept_as_paid")]
pub async fn accept_as_paid(reference: String) -> Result<String, AppError> {
    use crate::server::services::admin_orders::{self, Accepted};
    let ctx = crate::server::context::ctx().await?;
    let merchant = admin_orders::merchant_only(&ctx).await?;
    let reference = reference.trim();
    let message = match admin_orders::accept_as_paid(&ctx.state, &merchant, reference).await? {
        Accepted::Now { stock_short: false } => format!("Order {reference} is now paid."),
        Accepted::Now { stock_short: true } => format!(
            "Order {reference} is now paid. Some of its products are out of stock: check before shipping."
        ),
        Accepted::Already => format!("Order {reference} was already accepted as paid."),
    };
    ctx.session.set_notice(reference, &message).await?;
    Ok(message)
}

/// **Look up now**: ask the provider about each open attempt and apply its answer.
#[server(endpoint = "admin/look_up_now")]
pub async fn look_up_now(reference: String) -> Result<String, AppError> {
    use crate::server::services::admin_orders;
    let ctx = crate::server::context::ctx().await?;
    admin_orders::merchant_only(&ctx).await?;
    let reference = reference.trim();
    let message = admin_orders::look_up_now(&ctx.state, reference).await?;
    ctx.session.set_notice(reference, &message).await?;
    Ok(message)
}

/// The sales chart's figures for the last 30 days.
#[server(endpoint = "admin/sales_report")]
pub async fn get_sales_report() -> Result<SalesReport, AppError> {
    use crate::server::services::{admin_orders, sales_report};
    let ctx = crate::server::context::ctx().await?;
    admin_orders::merchant_only(&ctx).await?;
    Ok(sales_report::report(ctx.db(), crate::server::db::now_ms()).await?)
}
