//! Refunds from the merchant's order page (docs/payments.md#refunds), never paying out more than was
//! captured:
//! - refundable = captured − (pending + succeeded refunds), decided under the order's lock, so two
//!   merchants pressing Refund at once (or one pressing twice) queue, and the second sees the
//!   first's pending row;
//! - the pending row is written and committed *before* the provider is called, with the form's
//!   idempotency key, which is also the provider's: a retry (the same form again, or the
//!   reconciler after a timeout) asks the provider with the same key and cannot refund twice;
//! - the provider's answer, its webhook or a lookup settles the row once (`pending → succeeded |
//!   failed`), through the ledger step ([`payment_updates`]): in one transaction with the ledger
//!   event, the order's refunded total and status (*Partially refunded* / *Refunded*) and the
//!   outbox.

use super::payment_updates;
use crate::error::AppError;
use crate::model::{CurrentUser, Money, OrderStatus, RefundFormData, RefundOffer};
use crate::server::db::attempts;
use crate::server::db::attempts::AttemptRow;
use crate::server::db::ledger::NewEvent;
use crate::server::db::now_ms;
use crate::server::db::orders::{self, OrderRow};
use crate::server::db::refunds::{self as rows, NewRefund, RefundRow, RefundStatus};
use crate::server::error::{ServerError, ServerResult};
use crate::server::payments::{
    AttemptRef, PaymentError, RefundOutcome, RefundReport, RefundRequest, RefundState,
};
use crate::server::state::AppState;
use sqlx::AnyConnection;

/// The longest reason kept; providers cap theirs too.
const MAX_REASON: usize = 200;
/// A pending refund is asked about again after this long.
const RECHECK_AFTER_MS: i64 = 30_000;

/// What the refund form posted.
pub struct RefundForm<'a> {
    /// In the order currency's major units (`12.50`).
    pub amount: &'a str,
    pub reason: &'a str,
    /// Made when the form was drawn: a second press of the same form is the same refund.
    pub key: &'a str,
}

/// What an order's captured payment still allows.
#[derive(Debug, Clone)]
pub struct Refundable {
    pub attempt: AttemptRow,
    pub captured: Money,
    /// Captured minus pending and succeeded refunds.
    pub left: Money,
    /// Whether the provider's refunds are built here.
    pub refunds_built: bool,
    /// Whether the provider takes less than the whole captured amount.
    pub partial: bool,
}

/// What pressing Refund did.
#[derive(Debug, Clone)]
pub struct RefundDone {
    pub refund: RefundRow,
    /// A sentence for the merchant.
    pub message: String,
}

/// What the order's payment allows now; `None` when nothing was captured.
pub async fn refundable(state: &AppState, order: &OrderRow) -> ServerResult<Option<Refundable>> {
    let mut conn = state.db.pool.acquire().await?;
    refundable_in(state, &mut conn, order).await
}

async fn refundable_in(
    state: &AppState,
    conn: &mut AnyConnection,
    order: &OrderRow,
) -> ServerResult<Option<Refundable>> {
    // An order paid twice has two payments to refund: the newest one with something left.
    let mut chosen = None;
    for attempt in attempts::captured_attempts(conn, order.id).await? {
        let Some(captured) = attempt.captured else {
            continue;
        };
        let committed = rows::committed_minor(conn, attempt.id).await?;
        let left = captured.minor - committed;
        let newest = chosen.is_none();
        if newest || left > 0 {
            chosen = Some((attempt, captured, committed));
        }
        if left > 0 {
            break;
        }
    }
    let Some((attempt, captured, committed)) = chosen else {
        return Ok(None);
    };
    let caps = state
        .payments
        .get(attempt.provider)
        .map(|p| p.capabilities().clone());
    Ok(Some(Refundable {
        left: Money::new((captured.minor - committed).max(0), captured.currency),
        captured,
        refunds_built: caps.as_ref().is_some_and(|c| c.refunds),
        partial: caps.as_ref().is_some_and(|c| c.partial_refunds),
        attempt,
    }))
}

/// The form's key: letters, digits, `-` and `_`, 8 to 100 of them.
fn checked_key(key: &str) -> ServerResult<&str> {
    let key = key.trim();
    let fine = (8..=100).contains(&key.len())
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if fine {
        Ok(key)
    } else {
        Err(ServerError::invalid(
            "This refund form has expired. Reload the page and try again.",
        ))
    }
}

fn checked_reason(reason: &str) -> ServerResult<String> {
    let reason = reason.trim();
    if reason.chars().count() > MAX_REASON {
        return Err(ServerError::invalid(format!(
            "Keep the reason under {MAX_REASON} characters."
        )));
    }
    Ok(if reason.is_empty() {
        "Requested by the customer".to_string()
    } else {
        reason.to_string()
    })
}

/// Refund part or all of an order's captured payment. Only a merchant may; the caller checked the
/// role and passes the account.
pub async fn refund(
    state: &AppState,
    merchant: &CurrentUser,
    reference: &str,
    form: &RefundForm<'_>,
) -> ServerResult<RefundDone> {
    let key = checked_key(form.key)?;
    let reason = checked_reason(form.reason)?;
    // An order's id never changes: read it before the transaction, whose first statement must be
    // the lock (on SQLite a read first would make the lock an upgrade that can fail at once).
    let order_id = {
        let mut conn = state.db.pool.acquire().await?;
        orders::by_reference(&mut conn, reference)
            .await?
            .ok_or(AppError::NotFound)?
            .id
    };
    let (refund, attempt) = {
        let mut tx = state.db.begin_write().await?;
        let order = orders::lock(&mut tx, order_id)
            .await?
            .ok_or(AppError::NotFound)?;
        if let Some(existing) = rows::by_key(&mut tx, key).await? {
            if existing.order_id != order.id {
                return Err(ServerError::invalid(
                    "This refund form belongs to another order. Reload the page and try again.",
                ));
            }
            let attempt = attempts::attempts_of(&mut tx, order.id)
                .await?
                .into_iter()
                .find(|a| a.id == existing.attempt_id)
                .ok_or_else(|| ServerError::Internal("refund without its attempt".into()))?;
            tx.commit().await?;
            // Pressed again after the provider answered, or while the first press is still
            // asking it: the same refund, told again. Only a refund whose provider did not
            // answer is asked for again (with the same key).
            let unanswered = existing.status == RefundStatus::Pending
                && existing.provider_refund_id.is_none()
                && existing.failure.is_some();
            if !unanswered {
                return Ok(RefundDone {
                    message: told(&existing),
                    refund: existing,
                });
            }
            // The provider did not answer last time: ask again with the same key, where the
            // provider recognises it.
            if !retry_is_safe(state, &attempt) {
                return Ok(RefundDone {
                    message: unanswered_message(&existing),
                    refund: existing,
                });
            }
            (existing, attempt)
        } else {
            let refundable_statuses = [
                OrderStatus::Paid,
                OrderStatus::PartiallyRefunded,
                OrderStatus::NeedsReview,
            ];
            if !refundable_statuses.contains(&order.status) {
                return Err(ServerError::invalid(format!(
                    "Only a paid order can be refunded; this one is {}.",
                    order.status.label().to_lowercase()
                )));
            }
            let can = refundable_in(state, &mut tx, &order)
                .await?
                .ok_or_else(|| ServerError::invalid("No payment was received for this order."))?;
            let label = can.attempt.provider.label();
            if !can.refunds_built {
                return Err(ServerError::invalid(format!(
                    "Refunds through {label} are not built yet; refund it in {label}'s own dashboard."
                )));
            }
            let amount = checked_amount(form.amount, can.captured, can.left, can.partial, label)?;
            let refund = rows::insert(
                &mut tx,
                &NewRefund {
                    order_id: order.id,
                    attempt_id: can.attempt.id,
                    provider: can.attempt.provider,
                    idempotency_key: key,
                    amount,
                    reason: &reason,
                    status: RefundStatus::Pending,
                    provider_refund_id: None,
                    requested_by: Some(merchant.id),
                },
            )
            .await?
            .ok_or_else(|| ServerError::Internal("refund key taken under the lock".into()))?;
            tx.commit().await?;
            tracing::info!(order = %order.reference, amount = %amount, merchant = merchant.id, "refund asked for");
            (refund, can.attempt)
        }
    };
    call_provider(state, &refund, &attempt).await
}

/// Ask the provider to make a pending refund and record its answer.
async fn call_provider(
    state: &AppState,
    refund: &RefundRow,
    attempt: &AttemptRow,
) -> ServerResult<RefundDone> {
    let provider = state.payments.get(attempt.provider).ok_or_else(|| {
        ServerError::invalid(format!(
            "{} is not configured on this shop.",
            attempt.provider.label()
        ))
    })?;
    let answer = provider
        .refund(&RefundRequest {
            attempt: AttemptRef {
                reference: &attempt.reference,
                session_id: attempt.provider_session_id.as_deref(),
            },
            payment_id: attempt.provider_payment_id.as_deref(),
            amount: refund.amount(),
            idempotency_key: &refund.idempotency_key,
            reason: &refund.reason,
        })
        .await;
    let label = attempt.provider.label();
    match answer {
        Ok(outcome) => {
            record_answer(state, refund, attempt, &outcome).await?;
            let now = reload(state, refund.id).await?;
            Ok(RefundDone {
                message: told(&now),
                refund: now,
            })
        }
        Err(PaymentError::Refused(reason)) => {
            let reason = provider_words(&reason);
            let failed = RefundOutcome {
                refund_id: String::new(),
                state: RefundState::Failed(reason.clone()),
                payload: serde_json::json!({"refused": reason}).to_string(),
            };
            record_answer(state, refund, attempt, &failed).await?;
            Err(ServerError::invalid(format!(
                "{label} refused the refund: {reason}. Nothing was refunded."
            )))
        }
        Err(PaymentError::Unavailable(detail)) => {
            tracing::warn!(refund = refund.id, error = %detail, "the provider did not answer a refund");
            let (note, message) = if retry_is_safe(state, attempt) {
                (
                    "The provider did not answer yet; the shop asks again.".to_string(),
                    format!(
                        "{label} did not answer. The refund of {} is pending: the shop asks {label} again with the same request, so it is never made twice.",
                        refund.amount()
                    ),
                )
            } else {
                (unanswered_message(refund), unanswered_message(refund))
            };
            state
                .db
                .committed(async |conn| rows::touch(conn, refund.id, Some(&note)).await)
                .await?;
            Ok(RefundDone {
                message,
                refund: reload(state, refund.id).await?,
            })
        }
    }
}

/// Whether a refund the provider never answered may be asked for again (with the same key).
fn retry_is_safe(state: &AppState, attempt: &AttemptRow) -> bool {
    state
        .payments
        .get(attempt.provider)
        .is_some_and(|p| p.capabilities().idempotent_refunds)
}

fn unanswered_message(refund: &RefundRow) -> String {
    let label = refund.provider.label();
    format!(
        "{label} did not answer the refund of {} and may have made it: check {label}'s merchant panel before refunding again. The amount stays held.",
        refund.amount()
    )
}

/// Provider text shown to a merchant: one line, bounded.
fn provider_words(text: &str) -> String {
    let line: String = text.chars().filter(|c| !c.is_control()).take(300).collect();
    if line.trim().is_empty() {
        "no reason given".into()
    } else {
        line.trim().to_string()
    }
}

fn told(refund: &RefundRow) -> String {
    match refund.status {
        RefundStatus::Succeeded => format!("Refunded {}.", refund.amount()),
        RefundStatus::Pending => format!(
            "The refund of {} is pending at {}.",
            refund.amount(),
            refund.provider.label()
        ),
        RefundStatus::Failed => format!(
            "The refund of {} failed: {}.",
            refund.amount(),
            refund.failure.as_deref().unwrap_or("no reason given")
        ),
    }
}

async fn reload(state: &AppState, id: i64) -> ServerResult<RefundRow> {
    let mut conn = state.db.pool.acquire().await?;
    rows::by_id(&mut conn, id)
        .await?
        .ok_or_else(|| ServerError::Internal(format!("refund {id} vanished")))
}

/// Record the provider's direct answer about one of our refunds (its call, or a lookup).
async fn record_answer(
    state: &AppState,
    refund: &RefundRow,
    attempt: &AttemptRow,
    outcome: &RefundOutcome,
) -> ServerResult<()> {
    let (word, failure) = match &outcome.state {
        RefundState::Pending => ("pending", None),
        RefundState::Succeeded => ("succeeded", None),
        RefundState::Failed(reason) => ("failed", Some(reason.as_str())),
    };
    let report = RefundReport {
        refund_id: outcome.refund_id.clone(),
        refund_key: Some(refund.idempotency_key.clone()),
        state: outcome.state.clone(),
        amount_minor: refund.amount_minor,
        currency: refund.currency.code().to_string(),
    };
    // One ledger row per state the provider reported for this refund.
    let event_id = format!(
        "refund:{}:{}:{word}",
        refund.idempotency_key,
        if outcome.refund_id.is_empty() {
            "-"
        } else {
            &outcome.refund_id
        }
    );
    let kind = match failure {
        Some(reason) => format!("refund {word}: {reason}"),
        None => format!("refund {word}"),
    };
    let event = NewEvent {
        attempt_reference: &attempt.reference,
        provider: attempt.provider.as_str(),
        event_id: &event_id,
        source: "refund",
        kind: &kind,
        amount_minor: Some(refund.amount_minor),
        currency: Some(refund.currency.code()),
        payload: &outcome.payload,
    };
    let order_id = refund.order_id;
    payment_updates::apply_refund_answer(
        &state.db,
        &state.events,
        order_id,
        attempt,
        &event,
        &report,
    )
    .await?;
    Ok(())
}

/// Ask providers about pending refunds: those the provider answered are looked up, those it never
/// answered are asked for again with the same key. Returns how many were looked at.
pub async fn reconcile_pending(state: &AppState, limit: i64) -> ServerResult<usize> {
    let pending = {
        let mut conn = state.db.pool.acquire().await?;
        rows::pending_before(&mut conn, now_ms() - RECHECK_AFTER_MS, limit).await?
    };
    let mut done = 0;
    for refund in pending {
        // Move it to the back of the queue first, so another instance does not take it too.
        let claimed = state
            .db
            .committed(async |conn| rows::claim(conn, refund.id, refund.updated_at).await)
            .await?;
        if !claimed {
            continue;
        }
        done += 1;
        if let Err(e) = recheck(state, &refund).await {
            tracing::warn!(refund = refund.id, error = %e, "could not settle a pending refund");
        }
    }
    Ok(done)
}

/// Ask about one pending refund now (the reconciler, and **Look up now** on the order page).
pub async fn recheck(state: &AppState, refund: &RefundRow) -> ServerResult<()> {
    let attempt = {
        let mut conn = state.db.pool.acquire().await?;
        attempts::attempts_of(&mut conn, refund.order_id)
            .await?
            .into_iter()
            .find(|a| a.id == refund.attempt_id)
            .ok_or_else(|| ServerError::Internal("refund without its attempt".into()))?
    };
    let Some(refund_id) = refund.provider_refund_id.as_deref() else {
        // Never answered: the same request again, under the same key, where the provider
        // recognises it; elsewhere a person checks the provider's dashboard.
        if !retry_is_safe(state, &attempt) {
            let note = unanswered_message(refund);
            state
                .db
                .committed(async |conn| rows::touch(conn, refund.id, Some(&note)).await)
                .await?;
            return Ok(());
        }
        return call_provider(state, refund, &attempt).await.map(|_| ());
    };
    let provider = state
        .payments
        .get(attempt.provider)
        .ok_or_else(|| ServerError::Internal("provider not configured".into()))?;
    let answer = provider
        .lookup_refund(
            AttemptRef {
                reference: &attempt.reference,
                session_id: attempt.provider_session_id.as_deref(),
            },
            refund_id,
        )
        .await
        .map_err(|e| ServerError::Internal(e.to_string()))?;
    record_answer(state, refund, &attempt, &answer).await
}

/// The refund form's data for an order: what is left and a fresh key, or why nothing can be
/// refunded.
pub async fn form_data(state: &AppState, reference: &str) -> ServerResult<RefundFormData> {
    let order = {
        let mut conn = state.db.pool.acquire().await?;
        orders::by_reference(&mut conn, reference)
            .await?
            .ok_or(AppError::NotFound)?
    };
    let none = |why: String| RefundFormData {
        offer: None,
        unavailable: Some(why),
    };
    if order.status == OrderStatus::Refunded {
        return Ok(none("Nothing is left to refund on this order.".into()));
    }
    if !matches!(
        order.status,
        OrderStatus::Paid | OrderStatus::PartiallyRefunded | OrderStatus::NeedsReview
    ) {
        return Ok(none(format!(
            "Only a paid order can be refunded; this one is {}.",
            order.status.label().to_lowercase()
        )));
    }
    let Some(can) = refundable(state, &order).await? else {
        return Ok(none("No payment was received for this order.".into()));
    };
    let label = can.attempt.provider.label();
    if !can.refunds_built {
        return Ok(none(format!(
            "Refunds through {label} are not built yet; refund it in {label}'s own dashboard."
        )));
    }
    if can.left.minor == 0 {
        return Ok(none("Nothing is left to refund on this order.".into()));
    }
    Ok(RefundFormData {
        offer: Some(RefundOffer {
            captured: can.captured,
            left: can.left,
            partial: can.partial,
            provider: can.attempt.provider,
            key: uuid::Uuid::new_v4().simple().to_string(),
        }),
        unavailable: None,
    })
}

/// The amount the merchant typed, if a refund of it may be asked for: a number in the order's
/// currency, more than zero, at most what is left, and the whole amount where the provider refunds
/// only that.
fn checked_amount(
    text: &str,
    captured: Money,
    left: Money,
    partial: bool,
    label: &str,
) -> ServerResult<Money> {
    let amount = Money::parse_decimal(text, captured.currency).map_err(|_| {
        ServerError::invalid(format!(
            "Enter the amount in {} as a number, like {}.",
            captured.currency.code(),
            left.to_decimal_string()
        ))
    })?;
    if amount.minor <= 0 {
        return Err(ServerError::invalid("The amount must be more than zero."));
    }
    if amount.minor > left.minor {
        return Err(ServerError::invalid(if left.minor == 0 {
            "Nothing is left to refund on this order.".to_string()
        } else {
            format!("At most {left} can be refunded.")
        }));
    }
    if !partial && amount != captured {
        return Err(ServerError::invalid(format!(
            "{label} refunds only the whole amount ({captured})."
        )));
    }
    Ok(amount)
}

/// Before a refund is asked for: the amount the merchant typed, checked by the same rules as
/// [`refund`], for the confirmation that names it.
pub async fn preview(state: &AppState, reference: &str, amount: &str) -> ServerResult<Money> {
    let data = form_data(state, reference).await?;
    let offer = data
        .offer
        .ok_or_else(|| ServerError::invalid(data.unavailable.unwrap_or_default()))?;
    checked_amount(
        amount,
        offer.captured,
        offer.left,
        offer.partial,
        offer.provider.label(),
    )
}

/// The order's pending refunds.
pub async fn pending_of(state: &AppState, order_id: i64) -> ServerResult<Vec<RefundRow>> {
    let mut conn = state.db.pool.acquire().await?;
    Ok(rows::for_order(&mut conn, order_id)
        .await?
        .into_iter()
        .filter(|r| r.status == RefundStatus::Pending)
        .collect())
}

/// Every refund of an order, oldest first.
pub async fn list(state: &AppState, order_id: i64) -> ServerResult<Vec<RefundRow>> {
    let mut conn = state.db.pool.acquire().await?;
    Ok(rows::for_order(&mut conn, order_id).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_reasons_are_checked() {
        assert!(checked_key("abcd-1234_EF").is_ok());
        assert!(checked_key("short").is_err());
        assert!(checked_key("has space in it").is_err());
        assert!(checked_key(&"x".repeat(101)).is_err());
        assert_eq!(checked_reason("  ").unwrap(), "Requested by the customer");
        assert_eq!(checked_reason(" damaged ").unwrap(), "damaged");
        assert!(checked_reason(&"x".repeat(201)).is_err());
    }

    #[test]
    fn provider_words_are_one_bounded_line() {
        assert_eq!(provider_words("a\nb"), "ab");
        assert_eq!(provider_words("   "), "no reason given");
        assert_eq!(provider_words(&"y".repeat(500)).len(), 300);
    }
}
