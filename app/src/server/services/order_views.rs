//! How an order shows outside the database: its live-status message and a refund row for a page.
//! Shared by the services that change orders and those that show them.

use crate::model::{
    Currency, Money, OrderStatus, OrderStatusJson, RefundDetails, RefundStatus, RefundView,
};
use crate::server::db::admin_orders::RefundRow;
use crate::server::db::orders::OrderRow;
use crate::server::error::{ServerError, ServerResult};

/// The live-status message for an order.
pub fn status_json(
    order: &OrderRow,
    status: OrderStatus,
    provider: Option<String>,
) -> OrderStatusJson {
    OrderStatusJson {
        reference: order.reference.clone(),
        status,
        amount_minor: order.total_minor,
        currency: order.currency.code().to_string(),
        provider,
        owner: order.user_id,
    }
}

/// A refund row for a page; `merchant` adds the reason, the provider's id and the failure.
pub fn refund_view(row: RefundRow, merchant: bool) -> ServerResult<RefundView> {
    let currency: Currency = row
        .currency
        .parse()
        .map_err(|_| ServerError::Internal(format!("refund currency {:?}", row.currency)))?;
    let status = RefundStatus::parse(&row.status)
        .ok_or_else(|| ServerError::Internal(format!("refund status {:?}", row.status)))?;
    Ok(RefundView {
        amount: Money::new(row.amount_minor, currency),
        status,
        created_at: row.created_at,
        details: merchant.then_some(RefundDetails {
            reason: row.reason,
            provider_refund_id: row.provider_refund_id,
            failure: row.failure,
        }),
    })
}
