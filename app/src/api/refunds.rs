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
    // In a task of its own: a press whose request is cut off (a double click, a dropped
    // connection) still records the provider's answer, so the next press with the form's key
    // tells the outcome instead of finding the refund stuck mid-way until the reconciler asks.
    let state = ctx.state.clone();
    let refund_reference = reference.clone();
    let refunding = tokio::spawn(async move {
        let form = RefundForm {
            amount: &amount,
            reason: &reason,
            key: &key,
        };
        refunds::refund(&state, &merchant, &refund_reference, &form).await
    });
    let done = refunding.await.map_err(|e| {
        crate::server::error::ServerError::Internal(format!("the refund task failed: {e}"))
    })??;
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
