//! Applying a verified provider statement to its order, in one transaction (design.md §4.3):
//! ledger row first (deduplicating on the provider's event id), lock the order, compare the paid
//! amount and currency with the quote, make the monotonic transition, release stock or queue the
//! confirmation email, then tell live listeners after the commit.

use crate::model::{OrderStatus, OrderStatusJson, Transition};
use crate::server::db::orders::{self, NewEvent, OrderRow};
use crate::server::db::Db;
use crate::server::error::{ServerError, ServerResult};
use crate::server::events::OrderEvents;
use crate::server::payments::{Outcome, PaymentUpdate};

/// What applying an update did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// This provider event was applied before; nothing changed.
    Duplicate,
    /// No attempt has this reference (not ours, or from another shop on the same account).
    UnknownAttempt,
    /// Recorded in the ledger; `transition` says whether the order moved.
    Recorded {
        from: OrderStatus,
        to: OrderStatus,
        transition: Option<Transition>,
    },
}

impl Applied {
    /// A short text for the inbox's outcome column and logs.
    pub fn describe(&self) -> String {
        match self {
            Applied::Duplicate => "duplicate".into(),
            Applied::UnknownAttempt => "ignored: unknown attempt".into(),
            Applied::Recorded {
                from,
                to,
                transition,
                ..
            } => match transition {
                None => format!("recorded: still {}", from.as_str()),
                Some(Transition::Applied) => {
                    format!("applied: {} -> {}", from.as_str(), to.as_str())
                }
                Some(Transition::Unchanged) => format!("unchanged: {}", to.as_str()),
                Some(Transition::Refused) => {
                    format!("refused: {} -> {}", from.as_str(), to.as_str())
                }
            },
        }
    }
}

/// The status a verified outcome asks for, given the order's quote.
fn target(outcome: &Outcome, order: &OrderRow) -> Option<OrderStatus> {
    match outcome {
        Outcome::Paid { .. } if order.stock_released => {
            // Money arrived after the order was given up (failed, cancelled, expired): someone
            // must look at it; it is never silently refused.
            Some(OrderStatus::NeedsReview)
        }
        Outcome::Paid {
            amount_minor,
            currency,
        } => {
            if *amount_minor == order.total_minor && currency.eq_ignore_ascii_case(&order.currency)
            {
                Some(OrderStatus::Paid)
            } else {
                Some(OrderStatus::NeedsReview)
            }
        }
        Outcome::Pending => None,
        Outcome::Failed => Some(OrderStatus::Failed),
        Outcome::Cancelled => Some(OrderStatus::Cancelled),
        Outcome::Expired => Some(OrderStatus::Expired),
    }
}

fn attempt_state(status: OrderStatus) -> &'static str {
    match status {
        OrderStatus::Paid => "paid",
        OrderStatus::Failed => "failed",
        OrderStatus::Cancelled => "cancelled",
        OrderStatus::Expired => "expired",
        OrderStatus::NeedsReview => "needs_review",
        _ => "open",
    }
}

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
        currency: order.currency.clone(),
        provider,
    }
}

pub async fn apply(db: &Db, events: &OrderEvents, update: &PaymentUpdate) -> ServerResult<Applied> {
    apply_from_inbox(db, events, update, None).await
}

/// [`apply`] for a webhook whose inbox row is closed in the same transaction when it is recorded
/// (a duplicate or an unknown attempt leaves closing it to the caller).
pub async fn apply_from_inbox(
    db: &Db,
    events: &OrderEvents,
    update: &PaymentUpdate,
    inbox_id: Option<i64>,
) -> ServerResult<Applied> {
    let (amount, currency) = match &update.outcome {
        Outcome::Paid {
            amount_minor,
            currency,
        } => (Some(*amount_minor), Some(currency.as_str())),
        _ => (None, None),
    };
    let provider = update.provider.as_str();
    let mut tx = db.pool.begin().await?;
    // The first statement is the ledger write: a second delivery of the same event stops here
    // (waiting while the first one's transaction is open), so it can never apply twice.
    let fresh = orders::insert_event(
        &mut tx,
        &NewEvent {
            attempt_reference: &update.attempt_reference,
            provider,
            event_id: &update.event_id,
            source: update.source,
            kind: &update.kind,
            amount_minor: amount,
            currency,
            payload: &update.payload,
        },
    )
    .await?;
    // The attempt must be this provider's: a verified event from one provider never moves an
    // order another provider is collecting.
    let attempt = orders::attempt_by_reference(&mut tx, &update.attempt_reference)
        .await?
        .filter(|a| a.provider == provider);
    let Some(attempt) = attempt else {
        return Ok(Applied::UnknownAttempt);
    };
    if !fresh {
        return Ok(Applied::Duplicate);
    }
    let order = orders::lock(&mut tx, db.backend, attempt.order_id)
        .await?
        .ok_or_else(|| ServerError::Internal(format!("order of {} vanished", attempt.reference)))?;
    let from = OrderStatus::parse(&order.status)
        .ok_or_else(|| ServerError::Internal(format!("unknown order status {:?}", order.status)))?;
    // The shopper's cancel expires the session at the provider, whose own "expired" event may
    // arrive before the cancel's answer: for an attempt being cancelled, expired means cancelled.
    let target = match target(&update.outcome, &order) {
        Some(OrderStatus::Expired) if attempt.state == "cancelling" => Some(OrderStatus::Cancelled),
        other => other,
    };
    let transition = target.map(|t| from.transition(t));
    let to = match (target, transition) {
        (Some(t), Some(Transition::Applied)) => t,
        _ => from,
    };
    if transition == Some(Transition::Applied) {
        orders::set_status(&mut tx, order.id, to.as_str()).await?;
        orders::set_attempt_state(&mut tx, attempt.id, attempt_state(to), None).await?;
        if to.releases_stock() {
            orders::release_stock(&mut tx, order.id).await?;
        }
        let note =
            serde_json::json!({"reference": order.reference, "email": order.email}).to_string();
        match to {
            OrderStatus::Paid => orders::insert_outbox(&mut tx, "order_paid_email", &note).await?,
            OrderStatus::NeedsReview => {
                orders::insert_outbox(&mut tx, "order_needs_review", &note).await?
            }
            _ => {}
        }
    }
    let applied = Applied::Recorded {
        from,
        to: target.unwrap_or(from),
        transition,
    };
    orders::finish_event(
        &mut tx,
        provider,
        &update.event_id,
        from.as_str(),
        to.as_str(),
        &applied.describe(),
    )
    .await?;
    if let Some(id) = inbox_id {
        orders::finish_inbox(&mut tx, id, Some(&update.event_id), &applied.describe()).await?;
    }
    tx.commit().await?;
    match transition {
        Some(Transition::Applied) => {
            tracing::info!(order = %order.reference, event = %update.event_id, from = from.as_str(), to = to.as_str(), "order status changed");
            events.publish(status_json(&order, to, Some(attempt.provider.clone())));
        }
        Some(Transition::Refused) => tracing::warn!(
            order = %order.reference, event = %update.event_id, from = from.as_str(),
            wanted = target.map(OrderStatus::as_str), "refused a backwards status change"
        ),
        _ => {}
    }
    if target == Some(OrderStatus::NeedsReview) {
        tracing::warn!(order = %order.reference, event = %update.event_id, "paid amount or currency differs from the quote");
    }
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(total_minor: i64, currency: &str) -> OrderRow {
        OrderRow {
            id: 1,
            reference: "ORD-000001".into(),
            user_id: None,
            guest_token: "t".into(),
            email: "a@b.co".into(),
            currency: currency.into(),
            total_minor,
            status: "awaiting_payment".into(),
            stock_released: false,
        }
    }

    fn paid(amount_minor: i64, currency: &str) -> Outcome {
        Outcome::Paid {
            amount_minor,
            currency: currency.into(),
        }
    }

    #[test]
    fn a_payment_matching_the_quote_is_paid() {
        let o = order(3600, "USD");
        assert_eq!(target(&paid(3600, "USD"), &o), Some(OrderStatus::Paid));
        assert_eq!(
            target(&paid(3600, "usd"), &o),
            Some(OrderStatus::Paid),
            "Stripe writes lowercase"
        );
    }

    #[test]
    fn any_difference_from_the_quote_needs_review() {
        let o = order(3600, "USD");
        assert_eq!(
            target(&paid(3599, "USD"), &o),
            Some(OrderStatus::NeedsReview)
        );
        assert_eq!(
            target(&paid(3601, "USD"), &o),
            Some(OrderStatus::NeedsReview)
        );
        assert_eq!(
            target(&paid(3600, "EUR"), &o),
            Some(OrderStatus::NeedsReview)
        );
        assert_eq!(
            target(&paid(-1, "BDT"), &order(100, "BDT")),
            Some(OrderStatus::NeedsReview),
            "unreadable amount"
        );
    }

    #[test]
    fn other_outcomes_map_to_their_status() {
        let o = order(100, "BDT");
        assert_eq!(target(&Outcome::Pending, &o), None);
        assert_eq!(target(&Outcome::Failed, &o), Some(OrderStatus::Failed));
        assert_eq!(
            target(&Outcome::Cancelled, &o),
            Some(OrderStatus::Cancelled)
        );
        assert_eq!(target(&Outcome::Expired, &o), Some(OrderStatus::Expired));
    }
}
