//! The refund applier of the ledger step: what a provider's statement about a refund (its
//! webhook, the refund call's answer, a lookup) does to the shop's refund row and the order,
//! inside the step's transaction, which holds the order's lock and has recorded the statement in
//! the ledger. Each refund settles once (`pending → succeeded | failed`); a success adds to the
//! order's refunded total, moves it to *Partially refunded* or *Refunded*, and queues the email.

use super::{Effect, Verdict};
use crate::model::{Money, OrderStatus, Transition};
use crate::server::db::attempts::{self, AttemptRow};
use crate::server::db::orders::{self, OrderRow};
use crate::server::db::outbox;
use crate::server::db::refunds::{self as rows, NewRefund, RefundRow, RefundStatus};
use crate::server::error::{ServerError, ServerResult};
use crate::server::payments::{RefundReport, RefundState};
use sqlx::AnyConnection;

/// A provider's refund notice (a webhook, or a lookup of the payment): applied when it concerns
/// this attempt's payment ([`concerns_attempt`]), ignored (rolled back, no ledger row) when it is
/// about another shop's payment on the same provider account.
pub(super) async fn notice(
    conn: &mut AnyConnection,
    order: &OrderRow,
    attempt: &AttemptRow,
    refunded_payment: Option<&str>,
    report: &RefundReport,
) -> ServerResult<Verdict> {
    if !concerns_attempt(conn, attempt, refunded_payment, report).await? {
        tracing::warn!(attempt = %attempt.reference, refund = %report.refund_id, "a refund notice about another payment than the attempt's was ignored");
        return Ok(Verdict::Ignore(super::Applied::ForeignPayment));
    }
    Ok(Verdict::Apply(apply(conn, order, attempt, report).await?))
}

/// Apply what a provider says about a refund. A refund the shop does not know (made in the
/// provider's dashboard) is recorded as one.
pub(super) async fn apply(
    conn: &mut AnyConnection,
    order: &OrderRow,
    attempt: &AttemptRow,
    report: &RefundReport,
) -> ServerResult<Effect> {
    let from = order.status;
    let unchanged = |note: String| Effect::unchanged(attempt.provider, from, note);
    let known = match known_refund(conn, attempt, report).await? {
        Some(refund) => Some(refund),
        None => match unanswered_own(conn, attempt, report).await? {
            Unanswered::One(refund) => Some(refund),
            Unanswered::Several(n) => {
                return Ok(unchanged(format!(
                    "refund {} matches {n} of the shop's refunds still waiting for an answer; \
                     their answers settle them",
                    report.refund_id
                )))
            }
            Unanswered::None => None,
        },
    };
    let refund = match known {
        Some(refund) => refund,
        None => {
            if matches!(report.state, RefundState::Failed(_)) || report.refund_id.is_empty() {
                return Ok(unchanged("a failed refund the shop did not ask for".into()));
            }
            let Ok(currency) = report.currency.to_ascii_uppercase().parse() else {
                return Ok(unchanged(format!(
                    "a refund in an unknown currency {}",
                    report.currency
                )));
            };
            let key = format!(
                "provider-{}-{}",
                attempt.provider.as_str(),
                report.refund_id
            );
            rows::insert(
                conn,
                &NewRefund {
                    order_id: order.id,
                    attempt_id: attempt.id,
                    provider: attempt.provider,
                    idempotency_key: &key,
                    amount: Money::new(report.amount_minor, currency),
                    reason: &format!("Made in {}'s dashboard", attempt.provider.label()),
                    status: RefundStatus::Pending,
                    provider_refund_id: Some(&report.refund_id),
                    requested_by: None,
                },
            )
            .await?;
            rows::by_key(conn, &key)
                .await?
                .ok_or_else(|| ServerError::Internal("refund row vanished".into()))?
        }
    };
    if refund.order_id != order.id {
        return Ok(unchanged(format!(
            "refund {} belongs to another order",
            report.refund_id
        )));
    }
    let provider_id = (!report.refund_id.is_empty()).then_some(report.refund_id.as_str());
    match &report.state {
        RefundState::Pending => {
            if let Some(id) = provider_id.filter(|_| refund.provider_refund_id.is_none()) {
                rows::touch_with_id(conn, refund.id, id).await?;
            }
            Ok(unchanged("refund pending".into()))
        }
        RefundState::Failed(reason) => {
            if rows::settle(
                conn,
                refund.id,
                RefundStatus::Failed,
                provider_id,
                Some(reason),
            )
            .await?
            {
                Ok(unchanged(format!("refund failed: {reason}")))
            } else {
                Ok(unchanged(format!(
                    "refund already {}; the failure needs a person",
                    refund.status.as_str()
                )))
            }
        }
        RefundState::Succeeded => {
            if !rows::settle(conn, refund.id, RefundStatus::Succeeded, provider_id, None).await? {
                return Ok(unchanged(format!(
                    "refund already {}",
                    refund.status.as_str()
                )));
            }
            let refunded = rows::add_refunded(conn, order.id, refund.amount_minor).await?;
            // Every payment the order received counts: an order paid twice is not refunded
            // while one of its payments stands.
            let captured = match attempts::captured_total(conn, order.id).await? {
                0 => order.total_minor,
                total => total,
            };
            let to = if refunded >= captured {
                OrderStatus::Refunded
            } else {
                OrderStatus::PartiallyRefunded
            };
            let changed = from.transition(to) == Transition::Applied;
            if changed {
                orders::set_status(conn, order.id, to).await?;
            }
            let note = serde_json::json!({
                "reference": order.reference,
                "email": order.email,
                "refund": refund.amount().to_decimal_string(),
                "currency": refund.currency.code(),
            })
            .to_string();
            outbox::insert_outbox(conn, outbox::kind::REFUND, &order.reference, &note).await?;
            let to = if changed { to } else { from };
            Ok(Effect {
                provider: attempt.provider,
                from,
                to,
                wanted: to,
                transition: changed.then_some(Transition::Applied),
                note: Some(format!("refunded {}", refund.amount())),
                needs_person: false,
            })
        }
    }
}

/// The refund a report is about, where the shop has it: by the provider's id for it, else by
/// the shop's key the provider echoes.
async fn known_refund(
    conn: &mut AnyConnection,
    attempt: &AttemptRow,
    report: &RefundReport,
) -> ServerResult<Option<RefundRow>> {
    if !report.refund_id.is_empty() {
        if let Some(refund) =
            rows::by_provider_id(conn, attempt.provider, &report.refund_id).await?
        {
            return Ok(Some(refund));
        }
    }
    match &report.refund_key {
        Some(key) => Ok(rows::by_key(conn, key).await?),
        None => Ok(None),
    }
}

/// What a report that names neither a known refund id nor a key may be: one of the shop's own
/// refunds whose call has not been answered yet (its notice overtook the answer).
enum Unanswered {
    None,
    One(RefundRow),
    Several(usize),
}

/// A provider that does not echo the shop's key (Square) can report one of the shop's refunds
/// before the refund call's answer names it. The report is matched with the attempt's pending
/// refund of the same amount that no provider id names yet, when there is exactly one: each
/// provider refund id then stays on one row, so nothing is counted twice. With several such
/// refunds the report is left to their answers (each names its own id).
async fn unanswered_own(
    conn: &mut AnyConnection,
    attempt: &AttemptRow,
    report: &RefundReport,
) -> ServerResult<Unanswered> {
    if report.refund_key.is_some() || report.refund_id.is_empty() {
        return Ok(Unanswered::None);
    }
    let Ok(currency) = report.currency.to_ascii_uppercase().parse() else {
        return Ok(Unanswered::None);
    };
    let amount = Money::new(report.amount_minor, currency);
    let mut found = rows::unnamed_pending(conn, attempt.id, amount).await?;
    Ok(match found.len() {
        0 => Unanswered::None,
        1 => Unanswered::One(found.remove(0)),
        n => Unanswered::Several(n),
    })
}

/// Whether a provider's refund notice is about this attempt's payment, as the shop stored it: it
/// names one of the attempt's refunds the shop knows (by the provider's id or the shop's key), or
/// the payment it refunds is the attempt's captured payment. A notice naming the same reference
/// but another payment (another shop on the same provider account) is not.
async fn concerns_attempt(
    conn: &mut AnyConnection,
    attempt: &AttemptRow,
    refunded_payment: Option<&str>,
    report: &RefundReport,
) -> ServerResult<bool> {
    if let Some(refund) = known_refund(conn, attempt, report).await? {
        return Ok(refund.attempt_id == attempt.id);
    }
    Ok(matches!(
        (attempt.provider_payment_id.as_deref(), refunded_payment),
        (Some(stored), Some(named)) if stored == named
    ))
}
