//! The payment applier of the ledger step: what a verified statement about a payment (paid,
//! pending, failed, cancelled, expired, or something the shop cannot read) does to its attempt
//! and order. [`decide`] is pure: the quote comparison, superseded attempts and second payments.
//! [`apply`] writes what it decided: the attempt's own state and captured money, the monotonic
//! transition, stock released, and the email queued by the outbox.

use super::{Effect, Verdict};
use crate::model::{Currency, Money, OrderStatus, Transition};
use crate::server::db::attempts::{self, AttemptRow};
use crate::server::db::orders::{self, OrderRow};
use crate::server::db::{now_ms, outbox};
use crate::server::error::ServerResult;
use crate::server::payments::attempt::AttemptState;
use crate::server::payments::{Outcome, PaymentUpdate, Source};
use crate::server::services::capture_claims::STALE_AFTER_MS;
use sqlx::AnyConnection;

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

/// Apply a payment statement about `attempt` (read under the order's lock; `current` says
/// whether it is the order's newest).
pub(super) async fn apply(
    conn: &mut AnyConnection,
    order: &OrderRow,
    attempt: &AttemptRow,
    current: bool,
    update: &PaymentUpdate,
) -> ServerResult<Verdict> {
    let from = order.status;
    let decision = decide(&update.outcome, update.source, order, attempt, current);
    if update.source == Source::Expiry
        && decision.attempt == Some(AttemptState::Expired)
        && !attempts::no_capture_in_flight(conn, attempt.id, now_ms() - STALE_AFTER_MS).await?
    {
        // A capture (PayPal) or a sale (Braintree) claimed a moment ago may take the money: the
        // order must not expire under it. Rolled back; the reconciler tries again later.
        tracing::info!(attempt = %attempt.reference, "expiry deferred: a payment is being taken");
        return Ok(Verdict::Ignore(super::Applied::PaymentInFlight));
    }
    let transition = decision.order.map(|t| from.transition(t));
    let to = match (decision.order, transition) {
        (Some(t), Some(Transition::Applied)) => t,
        _ => from,
    };
    record_on_attempt(conn, attempt, &decision, update).await?;
    if transition == Some(Transition::Applied) {
        orders::set_status(conn, order.id, to).await?;
        if to.releases_stock() {
            orders::release_stock(conn, order.id).await?;
        }
        queue_mail(conn, order, to, decision.note.as_deref()).await?;
    }
    let needs_person = decision.note.is_some()
        && (decision.order == Some(OrderStatus::NeedsReview)
            || matches!(update.outcome, Outcome::Unrecognised(_)));
    Ok(Verdict::Apply(Effect {
        provider: attempt.provider,
        from,
        to,
        wanted: decision.order.unwrap_or(from),
        transition,
        note: decision.note,
        needs_person,
    }))
}

/// The attempt's own state, and for a payment the money it received (what refunds draw on) and
/// the provider's id for it.
async fn record_on_attempt(
    conn: &mut AnyConnection,
    attempt: &AttemptRow,
    decision: &Decision,
    update: &PaymentUpdate,
) -> ServerResult<()> {
    let new_state = decision.attempt.filter(|s| *s != attempt.state);
    if let (
        Outcome::Paid {
            amount_minor,
            currency,
            ..
        },
        Some(AttemptState::Paid | AttemptState::NeedsReview),
    ) = (&update.outcome, decision.attempt)
    {
        if let Ok(currency) = currency.trim().parse::<Currency>() {
            let captured = Money::new(*amount_minor, currency);
            let payment_id = update.payment_id.as_deref();
            attempts::set_captured(conn, attempt.id, new_state, captured, payment_id).await?;
            return Ok(());
        }
        // Held for review with nothing captured on record: the ledger row keeps the raw value,
        // and a refund of it is for a person in the provider's dashboard.
    }
    if let Some(state) = new_state {
        attempts::set_attempt_state(conn, attempt.id, state, None).await?;
    }
    if let (Outcome::Paid { .. }, Some(id)) = (&update.outcome, &update.payment_id) {
        attempts::set_payment_id(conn, attempt.id, id).await?;
    }
    Ok(())
}

/// The email that tells of the change, sent by the outbox worker once the step commits; the
/// merchant's alert says why (the decision's note).
async fn queue_mail(
    conn: &mut AnyConnection,
    order: &OrderRow,
    to: OrderStatus,
    note: Option<&str>,
) -> ServerResult<()> {
    let kind = match to {
        OrderStatus::Paid => outbox::kind::ORDER_PAID,
        OrderStatus::Failed => outbox::kind::ORDER_FAILED,
        OrderStatus::Expired => outbox::kind::ORDER_EXPIRED,
        OrderStatus::NeedsReview => outbox::kind::NEEDS_REVIEW,
        _ => return Ok(()),
    };
    let body = serde_json::json!({
        "reference": order.reference,
        "email": order.email,
        "note": note,
    })
    .to_string();
    outbox::insert_outbox(conn, kind, &order.reference, &body).await?;
    Ok(())
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
