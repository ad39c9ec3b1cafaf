//! Applying a verified provider statement to its order, in one transaction (design.md §4.3):
//! the order locked first (every writer of an order queues there), the ledger row (deduplicating
//! on the provider's event id), the attempt read under that lock, the statement checked against the attempt's
//! stored provider id, the decision (quote comparison, superseded attempts, second payments), the
//! attempt's own state, the monotonic transition, stock released or the email queued, and live
//! listeners told after the commit.

use crate::model::{Currency, Money, OrderStatus, Transition};
use crate::server::db::attempts;
use crate::server::db::attempts::AttemptRow;
use crate::server::db::inbox;
use crate::server::db::inbox::NewInbox;
use crate::server::db::ledger;
use crate::server::db::ledger::NewEvent;
use crate::server::db::orders::{self, OrderRow};
use crate::server::db::{now_ms, outbox, Db};
use crate::server::error::{ServerError, ServerResult};
use crate::server::events::OrderEvents;
use crate::server::payments::attempt::AttemptState;
use crate::server::payments::{Outcome, PaymentUpdate, Source};
use crate::server::services::capture_claims::STALE_AFTER_MS;
use crate::server::services::{order_views, refunds};
use sqlx::AnyConnection;

/// What applying an update did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// This provider event was applied before; nothing changed.
    Duplicate,
    /// No attempt of this provider has this reference (not ours).
    UnknownAttempt,
    /// The attempt exists but the provider's session id differs from the stored one: a signed
    /// statement about someone else's session (another shop on the same account). Ignored.
    ForeignSession,
    /// A refund notice about another payment than the attempt's captured one (and no refund the
    /// shop knows): another shop's on the same account. Ignored.
    ForeignPayment,
    /// The shop's expiry of an attempt whose payment is being taken right now (a capture or a
    /// sale in flight): nothing is changed; the expiry is tried again later.
    PaymentInFlight,
    /// Recorded in the ledger; `transition` says whether the order moved.
    Recorded {
        from: OrderStatus,
        to: OrderStatus,
        transition: Option<Transition>,
        /// Why the order needs review, or why it did not move.
        note: Option<String>,
    },
}

impl Applied {
    /// A short text for the inbox's outcome column and logs.
    pub fn describe(&self) -> String {
        let text = match self {
            Applied::Duplicate => "duplicate".into(),
            Applied::UnknownAttempt => "ignored: unknown attempt".into(),
            Applied::ForeignSession => "ignored: another session than the attempt's".into(),
            Applied::ForeignPayment => "ignored: another payment than the attempt's".into(),
            Applied::PaymentInFlight => "deferred: a payment is being taken".into(),
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
        };
        match self {
            Applied::Recorded {
                note: Some(note), ..
            } => format!("{text} ({note})"),
            _ => text,
        }
    }
}

/// What a verified outcome does to the order and to its own attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Decision {
    order: Option<OrderStatus>,
    attempt: Option<AttemptState>,
    note: Option<String>,
}

impl Decision {
    fn hold(note: impl Into<String>) -> Decision {
        Decision {
            order: None,
            attempt: None,
            note: Some(note.into()),
        }
    }
}

/// Decide, from the locked order and attempt, what an outcome means. `current` says whether the
/// attempt is the order's newest: only its failure ends the order (or the shop's own expiry).
fn decide(
    outcome: &Outcome,
    source: Source,
    order: &OrderRow,
    attempt: &AttemptRow,
    current: bool,
) -> Decision {
    if source == Source::Expiry && *outcome == Outcome::Expired {
        // The hold ran out: the order ends whatever its newest attempt did.
        return Decision {
            order: Some(OrderStatus::Expired),
            attempt: (!attempt.state.is_final()).then_some(AttemptState::Expired),
            note: Some("the hold ran out".into()),
        };
    }
    match outcome {
        Outcome::Paid {
            amount_minor,
            currency,
            flagged,
        } => {
            if matches!(
                attempt.state,
                AttemptState::Paid | AttemptState::NeedsReview
            ) {
                // The same payment reported again (webhook, then lookup): nothing new.
                return Decision {
                    order: None,
                    attempt: None,
                    note: None,
                };
            }
            let review = |note: String| Decision {
                order: Some(OrderStatus::NeedsReview),
                attempt: Some(AttemptState::NeedsReview),
                note: Some(note),
            };
            if order.stock_released {
                // Money arrived after the order was given up (failed, cancelled, expired).
                return review(format!(
                    "money after the order was {}",
                    order.status.as_str()
                ));
            }
            if order.status != OrderStatus::AwaitingPayment {
                return review(format!(
                    "a second payment for an order already {}: possible double charge",
                    order.status.as_str()
                ));
            }
            if currency.trim().parse::<Currency>().is_err() {
                // Kept as the provider wrote it in the ledger; never stored as the captured
                // currency, which every later read of the attempt must understand.
                return review(format!(
                    "paid {amount_minor} in a currency this shop does not know ({currency:?})"
                ));
            }
            if *amount_minor != order.total_minor
                || !currency.trim().eq_ignore_ascii_case(order.currency.code())
            {
                return review(format!(
                    "paid {amount_minor} {currency}, quoted {} {}",
                    order.total_minor,
                    order.currency.code()
                ));
            }
            if let Some(flag) = flagged {
                return review(flag.clone());
            }
            Decision {
                order: Some(OrderStatus::Paid),
                attempt: Some(AttemptState::Paid),
                note: None,
            }
        }
        Outcome::Pending => Decision {
            order: None,
            attempt: None,
            note: None,
        },
        Outcome::Unrecognised(said) => Decision::hold(format!("held: {said}")),
        // Refund statements are applied by the refunds service, never here.
        Outcome::Refund(_) => Decision::hold("a refund statement"),
        Outcome::Failed | Outcome::Cancelled | Outcome::Expired => {
            if attempt.state.is_final() {
                return Decision::hold(format!("attempt already {}", attempt.state.as_str()));
            }
            let (order_status, attempt_state) = match outcome {
                Outcome::Failed => (OrderStatus::Failed, AttemptState::Failed),
                Outcome::Cancelled => (OrderStatus::Cancelled, AttemptState::Cancelled),
                // The shopper's cancel expires the session at the provider, whose own "expired"
                // event may arrive before the cancel's answer: then expired means cancelled.
                _ if attempt.state == AttemptState::Cancelling => {
                    (OrderStatus::Cancelled, AttemptState::Cancelled)
                }
                _ => (OrderStatus::Expired, AttemptState::Expired),
            };
            if !current {
                return Decision {
                    order: None,
                    attempt: Some(attempt_state),
                    note: Some("a superseded attempt: the order follows its newest one".into()),
                };
            }
            Decision {
                order: Some(order_status),
                attempt: Some(attempt_state),
                note: None,
            }
        }
    }
}

pub async fn apply(db: &Db, events: &OrderEvents, update: &PaymentUpdate) -> ServerResult<Applied> {
    apply_from_inbox(db, events, update, None).await
}

/// The inbox row of a webhook being applied.
#[derive(Debug, Clone, Copy)]
pub enum Inbox<'a> {
    /// Stored before verification (its id).
    Stored(i64),
    /// Verified offline and not stored yet: stored by the same commit that records it.
    Received(NewInbox<'a>),
}

/// [`apply`] for a webhook whose inbox row is closed (or stored and closed) in the same
/// transaction when the statement is recorded. A duplicate or an ignored statement commits
/// nothing: closing or storing the row is then left to the caller.
pub async fn apply_from_inbox(
    db: &Db,
    events: &OrderEvents,
    update: &PaymentUpdate,
    inbox: Option<Inbox<'_>>,
) -> ServerResult<Applied> {
    let (amount, currency) = match &update.outcome {
        Outcome::Paid {
            amount_minor,
            currency,
            ..
        } => (Some(*amount_minor), Some(currency.as_str())),
        Outcome::Refund(report) => (Some(report.amount_minor), Some(report.currency.as_str())),
        _ => (None, None),
    };
    let provider = update.provider.as_str();
    // The attempt must be this provider's: a verified event from one provider never moves an
    // order another provider is collecting. (An attempt's order never changes: read it first.)
    let order_id = {
        let mut conn = db.pool.acquire().await?;
        attempts::attempt_by_reference(&mut conn, &update.attempt_reference)
            .await?
            .filter(|a| a.provider == update.provider)
            .map(|a| a.order_id)
    };
    let Some(order_id) = order_id else {
        return Ok(Applied::UnknownAttempt);
    };
    let mut tx = db.begin_write().await?;
    // The order's lock is the first statement: every writer of this order queues here (a second
    // delivery of the same event waits for the first to commit), then the ledger refuses it.
    let order = orders::lock(&mut tx, order_id)
        .await?
        .ok_or_else(|| ServerError::Internal(format!("order {order_id} vanished")))?;
    let fresh = ledger::insert_event(
        &mut tx,
        &NewEvent {
            attempt_reference: &update.attempt_reference,
            provider,
            event_id: &update.event_id,
            source: update.source.as_str(),
            kind: &update.kind,
            amount_minor: amount,
            currency,
            payload: &update.payload,
        },
    )
    .await?;
    if !fresh {
        return Ok(Applied::Duplicate);
    }
    // Read under the order's lock: every decision about an attempt's outcome (an update, the
    // shopper's cancel) is taken under it.
    let (attempt, current) = attempts::attempt_and_if_latest(&mut tx, &update.attempt_reference)
        .await?
        .ok_or_else(|| {
            ServerError::Internal(format!("attempt {} vanished", update.attempt_reference))
        })?;
    if let (Some(stored), Some(said)) = (&attempt.provider_session_id, &update.session_id) {
        if stored != said {
            // Rolled back: no ledger row for someone else's session.
            tracing::warn!(attempt = %attempt.reference, event = %update.event_id, "a verified statement about another session than the attempt's was ignored");
            return Ok(Applied::ForeignSession);
        }
    }
    if let Outcome::Refund(report) = &update.outcome {
        let ours =
            refunds::concerns_attempt(&mut tx, &attempt, update.payment_id.as_deref(), report)
                .await?;
        if !ours {
            // Rolled back, like a foreign session: no ledger row, no refund recorded.
            tracing::warn!(attempt = %attempt.reference, event = %update.event_id, "a refund notice about another payment than the attempt's was ignored");
            return Ok(Applied::ForeignPayment);
        }
        let applied = refunds::apply_report(&mut tx, &order, &attempt, report).await?;
        let recorded = Applied::Recorded {
            from: applied.from,
            to: applied.to,
            transition: applied.changed.then_some(Transition::Applied),
            note: Some(applied.note.clone()),
        };
        ledger::finish_event(
            &mut tx,
            provider,
            &update.event_id,
            applied.from.as_str(),
            applied.to.as_str(),
            &recorded.describe(),
        )
        .await?;
        close_inbox(&mut tx, inbox, update, &recorded.describe()).await?;
        tx.commit().await?;
        applied.publish_to(events, &order, &attempt);
        return Ok(recorded);
    }
    let from = order.status;
    let decision = decide(&update.outcome, update.source, &order, &attempt, current);
    if update.source == Source::Expiry
        && decision.attempt == Some(AttemptState::Expired)
        && !attempts::no_capture_in_flight(&mut tx, attempt.id, now_ms() - STALE_AFTER_MS).await?
    {
        // A capture (PayPal) or a sale (Braintree) claimed a moment ago may take the money: the
        // order must not expire under it. Rolled back; the reconciler tries again later.
        tracing::info!(attempt = %attempt.reference, "expiry deferred: a payment is being taken");
        return Ok(Applied::PaymentInFlight);
    }
    let transition = decision.order.map(|t| from.transition(t));
    let to = match (decision.order, transition) {
        (Some(t), Some(Transition::Applied)) => t,
        _ => from,
    };
    let new_state = decision.attempt.filter(|s| *s != attempt.state);
    match (&update.outcome, decision.attempt) {
        // The money this attempt received (what refunds draw on), with its new state.
        (
            Outcome::Paid {
                amount_minor,
                currency,
                ..
            },
            Some(AttemptState::Paid | AttemptState::NeedsReview),
        ) => match currency.trim().parse::<Currency>() {
            Ok(currency) => {
                attempts::set_captured(
                    &mut tx,
                    attempt.id,
                    new_state,
                    Money::new(*amount_minor, currency),
                    update.payment_id.as_deref(),
                )
                .await?
            }
            // Held for review with nothing captured on record: the ledger row keeps the raw
            // value, and a refund of it is for a person in the provider's dashboard.
            Err(_) => {
                if let Some(state) = new_state {
                    attempts::set_attempt_state(&mut tx, attempt.id, state, None).await?;
                }
                if let Some(id) = &update.payment_id {
                    attempts::set_payment_id(&mut tx, attempt.id, id).await?;
                }
            }
        },
        (outcome, _) => {
            if let Some(state) = new_state {
                attempts::set_attempt_state(&mut tx, attempt.id, state, None).await?;
            }
            if let (Outcome::Paid { .. }, Some(id)) = (outcome, &update.payment_id) {
                attempts::set_payment_id(&mut tx, attempt.id, id).await?;
            }
        }
    }
    if transition == Some(Transition::Applied) {
        orders::set_status(&mut tx, order.id, to).await?;
        if to.releases_stock() {
            orders::release_stock(&mut tx, order.id).await?;
        }
        // The email that tells of the change, sent by the outbox worker once this commits.
        let mail = match to {
            OrderStatus::Paid => Some(outbox::kind::ORDER_PAID),
            OrderStatus::Failed => Some(outbox::kind::ORDER_FAILED),
            OrderStatus::Expired => Some(outbox::kind::ORDER_EXPIRED),
            OrderStatus::NeedsReview => Some(outbox::kind::NEEDS_REVIEW),
            _ => None,
        };
        if let Some(kind) = mail {
            // The merchant's alert says why (the ledger's note).
            let note = serde_json::json!({
                "reference": order.reference,
                "email": order.email,
                "note": decision.note,
            })
            .to_string();
            outbox::insert_outbox(&mut tx, kind, &order.reference, &note).await?;
        }
    }
    let applied = Applied::Recorded {
        from,
        to: decision.order.unwrap_or(from),
        transition,
        note: decision.note.clone(),
    };
    ledger::finish_event(
        &mut tx,
        provider,
        &update.event_id,
        from.as_str(),
        to.as_str(),
        &applied.describe(),
    )
    .await?;
    close_inbox(&mut tx, inbox, update, &applied.describe()).await?;
    tx.commit().await?;
    match transition {
        Some(Transition::Applied) => {
            tracing::info!(order = %order.reference, event = %update.event_id, from = from.as_str(), to = to.as_str(), "order status changed");
            crate::server::metrics::payment_finished(attempt.provider, to);
            if to.releases_stock() {
                events.catalogue_changed();
            }
            events.publish(order_views::status_json(
                &order,
                to,
                Some(attempt.provider.as_str().to_string()),
            ));
        }
        Some(Transition::Refused) => tracing::warn!(
            order = %order.reference, event = %update.event_id, from = from.as_str(),
            wanted = decision.order.map(OrderStatus::as_str), "refused a backwards status change"
        ),
        _ => {}
    }
    if let Some(note) = &decision.note {
        if decision.order == Some(OrderStatus::NeedsReview)
            || matches!(update.outcome, Outcome::Unrecognised(_))
        {
            tracing::warn!(order = %order.reference, event = %update.event_id, %note, "payment needs a person");
        }
    }
    Ok(applied)
}

/// Close the webhook's inbox row with what was recorded, storing it first if it is not yet.
async fn close_inbox(
    conn: &mut AnyConnection,
    inbox: Option<Inbox<'_>>,
    update: &PaymentUpdate,
    outcome: &str,
) -> Result<(), sqlx::Error> {
    match inbox {
        None => Ok(()),
        Some(Inbox::Stored(id)) => {
            inbox::finish_inbox(conn, id, Some(&update.event_id), outcome).await
        }
        Some(Inbox::Received(new)) => {
            inbox::insert_closed_inbox(conn, &new, Some(&update.event_id), outcome).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Currency, ProviderId};

    fn order(total_minor: i64, currency: Currency, status: OrderStatus) -> OrderRow {
        OrderRow {
            id: 1,
            reference: "ORD-000001".into(),
            user_id: None,
            guest_token: "t".into(),
            email: "a@b.co".into(),
            currency,
            total_minor,
            status,
            stock_released: status.releases_stock(),
            address: "{}".into(),
            hold_until: None,
            provider: Some(ProviderId::Stripe),
            refunded_minor: 0,
            created_at: 0,
        }
    }

    fn attempt(state: AttemptState) -> AttemptRow {
        AttemptRow {
            id: 1,
            order_id: 1,
            reference: "ORD-000001-A1".into(),
            provider: ProviderId::Stripe,
            state,
            provider_session_id: Some("cs_1".into()),
            next_step: None,
            claimed_at: None,
            lookups: 0,
            next_lookup_at: None,
            provider_payment_id: None,
            captured: None,
            created_at: 0,
            updated_at: 0,
        }
    }

    fn awaiting(total: i64, currency: Currency) -> OrderRow {
        order(total, currency, OrderStatus::AwaitingPayment)
    }

    fn target(outcome: &Outcome, o: &OrderRow) -> Option<OrderStatus> {
        decide(
            outcome,
            Source::Webhook,
            o,
            &attempt(AttemptState::Open),
            true,
        )
        .order
    }

    #[test]
    fn a_payment_matching_the_quote_is_paid() {
        let o = awaiting(3600, Currency::Usd);
        assert_eq!(
            target(&Outcome::paid(3600, "USD"), &o),
            Some(OrderStatus::Paid)
        );
        assert_eq!(
            target(&Outcome::paid(3600, "usd"), &o),
            Some(OrderStatus::Paid),
            "Stripe writes lowercase"
        );
    }

    #[test]
    fn any_difference_from_the_quote_needs_review() {
        let o = awaiting(3600, Currency::Usd);
        for (amount, currency) in [(3599, "USD"), (3601, "USD"), (3600, "EUR")] {
            assert_eq!(
                target(&Outcome::paid(amount, currency), &o),
                Some(OrderStatus::NeedsReview),
                "{amount} {currency}"
            );
        }
        assert_eq!(
            target(&Outcome::paid(-1, "BDT"), &awaiting(100, Currency::Bdt)),
            Some(OrderStatus::NeedsReview),
            "unreadable amount"
        );
    }

    #[test]
    fn a_flagged_payment_needs_review() {
        let o = awaiting(10_000, Currency::Bdt);
        let risky = Outcome::Paid {
            amount_minor: 10_000,
            currency: "BDT".into(),
            flagged: Some("risk level 1".into()),
        };
        assert_eq!(target(&risky, &o), Some(OrderStatus::NeedsReview));
    }

    #[test]
    fn a_second_payment_needs_review_but_a_repeat_of_the_first_does_not() {
        let paid = order(3600, Currency::Usd, OrderStatus::Paid);
        let second = decide(
            &Outcome::paid(3600, "USD"),
            Source::Webhook,
            &paid,
            &attempt(AttemptState::Open),
            true,
        );
        assert_eq!(second.order, Some(OrderStatus::NeedsReview));
        assert!(second.note.unwrap().contains("double charge"));
        let repeat = decide(
            &Outcome::paid(3600, "USD"),
            Source::Webhook,
            &paid,
            &attempt(AttemptState::Paid),
            true,
        );
        assert_eq!(repeat.order, None);
    }

    #[test]
    fn only_the_newest_attempts_failure_ends_the_order() {
        let o = awaiting(100, Currency::Usd);
        for outcome in [Outcome::Failed, Outcome::Cancelled, Outcome::Expired] {
            let old = decide(
                &outcome,
                Source::Webhook,
                &o,
                &attempt(AttemptState::Open),
                false,
            );
            assert_eq!(old.order, None, "{outcome:?}");
            assert!(
                old.attempt.is_some(),
                "the old attempt still records its end"
            );
            let newest = decide(
                &outcome,
                Source::Webhook,
                &o,
                &attempt(AttemptState::Open),
                true,
            );
            assert!(newest.order.is_some(), "{outcome:?}");
        }
    }

    #[test]
    fn other_outcomes_map_to_their_status() {
        let o = awaiting(100, Currency::Bdt);
        assert_eq!(target(&Outcome::Pending, &o), None);
        assert_eq!(target(&Outcome::Unrecognised("x".into()), &o), None);
        assert_eq!(target(&Outcome::Failed, &o), Some(OrderStatus::Failed));
        assert_eq!(
            target(&Outcome::Cancelled, &o),
            Some(OrderStatus::Cancelled)
        );
        assert_eq!(target(&Outcome::Expired, &o), Some(OrderStatus::Expired));
        let cancelling = decide(
            &Outcome::Expired,
            Source::Webhook,
            &o,
            &attempt(AttemptState::Cancelling),
            true,
        );
        assert_eq!(cancelling.order, Some(OrderStatus::Cancelled));
        let finished = decide(
            &Outcome::Expired,
            Source::Webhook,
            &o,
            &attempt(AttemptState::Paid),
            true,
        );
        assert_eq!(finished.order, None, "a paid attempt does not expire");
        let hold = decide(
            &Outcome::Expired,
            Source::Expiry,
            &o,
            &attempt(AttemptState::Refused),
            true,
        );
        assert_eq!(
            hold.order,
            Some(OrderStatus::Expired),
            "the shop's expiry ends the order"
        );
        assert_eq!(hold.attempt, None, "a finished attempt keeps its state");
    }
}
