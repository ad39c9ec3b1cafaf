//! Refunds from the merchant's order page. Every call checks the merchant role.

use crate::error::AppError;
use leptos::prelude::*;

/// Refund `amount` (major units of the order's currency) of an order's captured payment. `key`
/// comes from the form as drawn, so a second press of the same form is the same refund.
#[server(endpoint = "admin/refund")]
pub async fn refund_order(
    reference: String,
    amount: String,
    reason: String,
    key: String,
) -> Result<String, AppError> {
    use crate::server::services::refunds::{self, RefundForm};
    let ctx = crate::server::context::ctx().await?;
    let merchant = ctx.require_merchant().await?;
    let done = refunds::refund(
        &ctx.state,
        &merchant,
        &reference,
        &RefundForm {
            amount: &amount,
            reason: &reason,
            key: &key,
        },
    )
    .await?;
    ctx.session
        .set_notice(reference.trim(), &done.message)
        .await?;
    Ok(done.message)
}

/// The refund form of an order: what is left to refund and a fresh key, or why there is nothing.
#[server(endpoint = "admin/refund_form")]
pub async fn refund_form(reference: String) -> Result<crate::model::RefundFormData, AppError> {
    use crate::server::services::refunds;
    let ctx = crate::server::context::ctx().await?;
    ctx.require_merchant().await?;
    Ok(refunds::form_data(&ctx.state, &reference).await?)
}
