//! The ledger step: how every provider statement (a webhook, a lookup's answer, the shop's own
//! expiry, a refund call's answer) reaches its order, in one transaction read top to bottom:
//!
//! 1. **lock**: the order's row, first (every writer of an order queues there, so a second
//!    delivery of the same event waits for the first to commit);
//! 2. **record**: the ledger row, which refuses a provider event it already has (a duplicate);
//! 3. **decide and apply**: one of two appliers, [`payment`] or [`refund`], reads the attempt
//!    under the lock and writes what the statement means, or ignores it (rolled back: no ledger
//!    row for someone else's session or payment);
//! 4. **close**: the ledger row's outcome and the webhook's inbox row, then the commit;
//! 5. **after the commit**: live listeners, metrics and logs ([`Effect::announce`]).

mod payment;
mod refund;

use crate::model::{OrderStatus, ProviderId, Transition};
use crate::server::db::attempts::{self, AttemptRow};
use crate::server::db::inbox::{self, NewInbox};
use crate::server::db::ledger::{self, NewEvent};
use crate::server::db::orders::{self, OrderRow};
use crate::server::db::Db;
use crate::server::error::{ServerError, ServerResult};
use crate::server::events::OrderEvents;
use crate::server::payments::{Outcome, PaymentUpdate, RefundReport};
use crate::server::services::order_views;
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

/// What an applier did inside the step: for the ledger row, the inbox and, after the commit,
/// the listeners.
#[derive(Debug, Clone)]
struct Effect {
    provider: ProviderId,
    /// The order's status before the statement, and after it.
    from: OrderStatus,
    to: OrderStatus,
    /// What the statement asked for (`to`, unless refused or held).
    wanted: OrderStatus,
    /// `None` when the statement asked for no status.
    transition: Option<Transition>,
    note: Option<String>,
    /// A review, or a statement the shop could not read: a person should look.
    needs_person: bool,
}

/// An applier's answer: apply its effect, or ignore the statement (rolled back, nothing recorded).
enum Verdict {
    Apply(Effect),
    Ignore(Applied),
}

impl Effect {
    /// Recorded, and the order stays as it was.
    fn unchanged(provider: ProviderId, status: OrderStatus, note: String) -> Effect {
        Effect {
            provider,
            from: status,
            to: status,
            wanted: status,
            transition: None,
            note: Some(note),
            needs_person: false,
        }
    }

    fn applied(&self) -> Applied {
        Applied::Recorded {
            from: self.from,
            to: self.wanted,
            transition: self.transition,
            note: self.note.clone(),
        }
    }

    /// After the commit: tell the order's page and the catalogue, count, and log.
    fn announce(&self, events: &OrderEvents, order: &OrderRow, event_id: &str) {
        let (from, to) = (self.from.as_str(), self.to.as_str());
        match self.transition {
            Some(Transition::Applied) => {
                tracing::info!(order = %order.reference, event = %event_id, from, to, "order status changed");
                crate::server::metrics::payment_finished(self.provider, self.to);
                if self.to.releases_stock() {
                    events.catalogue_changed();
                }
                let provider = Some(self.provider.as_str().to_string());
                events.publish(order_views::status_json(order, self.to, provider));
            }
            Some(Transition::Refused) => tracing::warn!(
                order = %order.reference, event = %event_id, from,
                wanted = self.wanted.as_str(), "refused a backwards status change"
            ),
            _ => {}
        }
        if let (true, Some(note)) = (self.needs_person, &self.note) {
            tracing::warn!(order = %order.reference, event = %event_id, %note, "payment needs a person");
        }
    }
}

/// The step itself, for the order `order_id`: lock, record `event`, let `apply` decide and
/// write, close, commit, announce.
async fn step(
    db: &Db,
    events: &OrderEvents,
    order_id: i64,
    event: &NewEvent<'_>,
    inbox: Option<Inbox<'_>>,
    apply: impl AsyncFnOnce(&mut AnyConnection, &OrderRow) -> ServerResult<Verdict>,
) -> ServerResult<Applied> {
    let mut tx = db.begin_write().await?;
    let order = orders::lock(&mut tx, order_id)
        .await?
        .ok_or_else(|| ServerError::Internal(format!("order {order_id} vanished")))?;
    if !ledger::insert_event(&mut tx, event).await? {
        return Ok(Applied::Duplicate);
    }
    let effect = match apply(&mut tx, &order).await? {
        Verdict::Apply(effect) => effect,
        Verdict::Ignore(applied) => return Ok(applied),
    };
    let applied = effect.applied();
    let outcome = applied.describe();
    let (from, to) = (effect.from.as_str(), effect.to.as_str());
    ledger::finish_event(&mut tx, event.provider, event.event_id, from, to, &outcome).await?;
    close_inbox(&mut tx, inbox, event.event_id, &outcome).await?;
    tx.commit().await?;
    effect.announce(events, &order, event.event_id);
    Ok(applied)
}

/// Apply a verified statement that came without an inbox row (a lookup, the shop's expiry).
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
    let (amount_minor, currency) = match &update.outcome {
        Outcome::Paid {
            amount_minor,
            currency,
            ..
        } => (Some(*amount_minor), Some(currency.as_str())),
        Outcome::Refund(report) => (Some(report.amount_minor), Some(report.currency.as_str())),
        _ => (None, None),
    };
    let event = NewEvent {
        attempt_reference: &update.attempt_reference,
        provider: update.provider.as_str(),
        event_id: &update.event_id,
        source: update.source.as_str(),
        kind: &update.kind,
        amount_minor,
        currency,
        payload: &update.payload,
    };
    step(db, events, order_id, &event, inbox, async |conn, order| {
        // Read under the order's lock: every decision about an attempt's outcome (an update,
        // the shopper's cancel) is taken under it.
        let (attempt, current) = attempts::attempt_and_if_latest(conn, &update.attempt_reference)
            .await?
            .ok_or_else(|| {
                ServerError::Internal(format!("attempt {} vanished", update.attempt_reference))
            })?;
        if let (Some(stored), Some(said)) = (&attempt.provider_session_id, &update.session_id) {
            if stored != said {
                tracing::warn!(attempt = %attempt.reference, event = %update.event_id, "a verified statement about another session than the attempt's was ignored");
                return Ok(Verdict::Ignore(Applied::ForeignSession));
            }
        }
        match &update.outcome {
            Outcome::Refund(report) => {
                let payment = update.payment_id.as_deref();
                refund::notice(conn, order, &attempt, payment, report).await
            }
            _ => payment::apply(conn, order, &attempt, current, update).await,
        }
    })
    .await
}

/// The answer of the shop's own refund call, or of a lookup of that refund, about `attempt`'s
/// refund `report`: recorded once per state the provider reported (`event`).
pub async fn apply_refund_answer(
    db: &Db,
    events: &OrderEvents,
    order_id: i64,
    attempt: &AttemptRow,
    event: &NewEvent<'_>,
    report: &RefundReport,
) -> ServerResult<Applied> {
    step(db, events, order_id, event, None, async |conn, order| {
        Ok(Verdict::Apply(
            refund::apply(conn, order, attempt, report).await?,
        ))
    })
    .await
}

/// Close the webhook's inbox row with what was recorded, storing it first if it is not yet.
async fn close_inbox(
    conn: &mut AnyConnection,
    inbox: Option<Inbox<'_>>,
    event_id: &str,
    outcome: &str,
) -> Result<(), sqlx::Error> {
    match inbox {
        None => Ok(()),
        Some(Inbox::Stored(id)) => inbox::finish_inbox(conn, id, Some(event_id), outcome).await,
        Some(Inbox::Received(new)) => {
            inbox::insert_closed_inbox(conn, &new, Some(event_id), outcome).await
        }
    }
}
