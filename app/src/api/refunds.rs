//! Refunds from the merchant's order page. Every call checks the merchant role.

use crate::error::AppError;
use leptos::prelude::*;

/// Refund `amount` (major units of the order's currency) of an order's captured payment. `key`
/// comes from the form as drawn, so a second press of the same form is the same refund.
///
/// `step=review` (the order page's form) refunds nothing yet: the amount is checked and kept for
/// the page to ask "Refund $5.00?" ([`refund_confirmation`]), whose button sends the same fields
/// without the step.
#[server(endpoint = "admin/refund")]
pub async fn refund_order(
    reference: String,
    amount: String,
    reason: String,
    key: String,
    #[server(default)] step: Option<String>,
) -> Result<String, AppError> {
    use crate::model::RefundConfirmation;
    use crate::server::services::refunds::{self, RefundForm};
    let ctx = crate::server::context::ctx().await?;
    let merchant = ctx.require_merchant().await?;
    if step.as_deref() == Some("review") {
        let checked = refunds::preview(&ctx.state, reference.trim(), &amount).await?;
        let confirmation = RefundConfirmation {
            amount: checked,
            reason: reason.chars().take(200).collect(),
            key,
        };
        ctx.session
            .set_refund_confirmation(reference.trim(), &confirmation)
            .await?;
        return Ok(format!("Confirm the refund of {checked}."));
    }
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

/// The refund the merchant is asked to confirm on this order's page, if the form was just sent
/// for review; taken once.
#[server(endpoint = "admin/refund_confirmation")]
pub async fn refund_confirmation(
    reference: String,
) -> Result<Option<crate::model::RefundConfirmation>, AppError> {
    let ctx = crate::server::context::ctx().await?;
    ctx.require_merchant().await?;
    Ok(ctx
        .session
        .take_refund_confirmation(reference.trim())
        .await?)
}

/// The refund form of an order: what is left to refund and a fresh key, or why there is nothing.
#[server(endpoint = "admin/refund_form")]
pub async fn refund_form(reference: String) -> Result<crate::model::RefundFormData, AppError> {
    use crate::server::services::refunds;
    let ctx = crate::server::context::ctx().await?;
    ctx.require_merchant().await?;
    Ok(refunds::form_data(&ctx.state, &reference).await?)
}
