//! The reconciler (docs/payments.md#the-reconciler), one pass every few seconds on every instance:
//! - open payment attempts whose webhook never came are looked up at the provider on a back-off
//!   schedule (30 s, 2 min, 10 min, 1 h, 6 h, 24 h after the session opened), and the answer is
//!   applied like a webhook;
//! - attempts whose provider never answered *start* (a timeout: it may have opened the session)
//!   are started again with the same idempotency key until the provider answers;
//! - unpaid orders whose hold (`ORDER_HOLD_MINUTES`) ran out are expired: their sessions closed
//!   where the provider allows it, a last lookup made, the stock released (not while a capture or
//!   a sale claimed a moment ago may still take the money: then a later pass expires it);
//! - pending refunds are asked about again (looked up, or asked for again with the same key when
//!   the provider never answered);
//! - rejected webhook deliveries older than a week are deleted.
//!
//! Several instances may run it: each lookup is claimed by moving its due time, each restart by
//! the attempt's claim, and an expiry is one ledger event that applies once.

use super::checkout::{self, StartError};
use super::lookup_schedule::{anchor, next_due, SCHEDULE_MS};
use super::payment_updates;
use crate::server::db::attempts;
use crate::server::db::inbox;
use crate::server::db::{now_ms, orders};
use crate::server::error::{ServerError, ServerResult};
use crate::server::payments::attempt::AttemptState;
use crate::server::payments::{AttemptRef, Outcome, PaymentUpdate, Source};
use crate::server::state::AppState;
use std::time::Duration;

/// How often the reconciler looks for due work.
const TICK: Duration = Duration::from_secs(10);
const BATCH: i64 = 50;
/// A starting attempt whose claim is older than this lost its caller.
const CLAIM_TIMEOUT_MS: i64 = 30_000;
/// Rejected webhook deliveries are kept this long.
const KEEP_REJECTED_MS: i64 = 7 * 86_400_000;
/// A delivery with no outcome after this long is abandoned: handling one takes seconds at most
/// (the provider calls of its verification time out well before).
const ABANDONED_AFTER_MS: i64 = 10 * 60_000;

/// Run in the background until the instance stops. A pass in progress when the stop comes is
/// finished (its claims are then settled, not left to time out); no new pass starts.
pub fn spawn(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(TICK) => {}
                _ = state.background.stopped() => break,
            }
            let pass = run_once(&state).await;
            if pass.is_ok() {
                state
                    .background
                    .record_run(crate::server::background::Worker::Reconciler, now_ms());
            }
            match pass {
                Ok(0) => {}
                Ok(n) => tracing::info!(done = n, "reconciler pass"),
                Err(e) => tracing::warn!(error = %e, "reconciler pass failed"),
            }
        }
        tracing::info!("reconciler stopped");
    })
}

/// One pass. Returns how many attempts were looked up or started again, and orders expired.
/// One item's failure is logged and the pass goes on.
pub async fn run_once(state: &AppState) -> ServerResult<usize> {
    let mut done = look_up_due(state).await?;
    done += expire_overdue(state).await?;
    done += super::refunds::reconcile_pending(state, BATCH).await?;
    let pruned = {
        let mut conn = state.db.write().await?;
        inbox::prune_rejected_inbox(&mut conn, now_ms() - KEEP_REJECTED_MS).await?
    };
    if pruned > 0 {
        tracing::info!(pruned, "deleted old rejected webhook deliveries");
    }
    let abandoned = {
        let mut conn = state.db.write().await?;
        inbox::close_abandoned_inbox(&mut conn, now_ms() - ABANDONED_AFTER_MS).await?
    };
    if abandoned > 0 {
        tracing::warn!(
            abandoned,
            "closed webhook deliveries left unfinished (a stop or a failure while handling them)"
        );
    }
    Ok(done)
}

async fn look_up_due(state: &AppState) -> ServerResult<usize> {
    let due = {
        let mut conn = state.db.pool.acquire().await?;
        // Only providers this instance has: an unconfigured one never takes a slot.
        attempts::due_lookups(&mut conn, &state.payments.ids(), now_ms(), BATCH).await?
    };
    let mut done = 0;
    for attempt in due {
        // Stopping: the attempts not yet claimed stay due for another instance.
        if state.background.is_stopping() {
            break;
        }
        let Some(due_at) = attempt.next_lookup_at else {
            continue;
        };
        let next = match attempt.state {
            // The schedule is anchored on the first due time: opened + 30 s.
            AttemptState::Open | AttemptState::Cancelling => {
                let first_due = if attempt.lookups == 0 {
                    due_at
                } else {
                    anchor(due_at, attempt.lookups)
                };
                next_due(first_due, attempt.lookups)
            }
            // Restarts back off on the same delays from now, and never stop.
            _ => {
                let step = usize::try_from(attempt.lookups + 1)
                    .unwrap_or(0)
                    .min(SCHEDULE_MS.len() - 1);
                Some(now_ms() + SCHEDULE_MS[step])
            }
        };
        let claimed = {
            let mut conn = state.db.write().await?;
            attempts::claim_lookup(&mut conn, attempt.id, due_at, next).await?
        };
        if !claimed {
            continue;
        }
        done += 1;
        if let Err(e) = reconcile(state, &attempt).await {
            tracing::warn!(attempt = %attempt.reference, error = %e, "reconciler could not settle an attempt");
        }
    }
    Ok(done)
}

async fn reconcile(state: &AppState, attempt: &attempts::AttemptRow) -> ServerResult<()> {
    let provider = state.payments.get(attempt.provider).ok_or_else(|| {
        ServerError::Internal(format!("{} is not configured", attempt.provider.as_str()))
    })?;
    match attempt.state {
        AttemptState::Open | AttemptState::Cancelling => {
            let at = AttemptRef {
                reference: &attempt.reference,
                session_id: attempt.provider_session_id.as_deref(),
            };
            let update = provider
                .lookup(at)
                .await
                .map_err(|e| ServerError::Internal(e.to_string()))?;
            let applied = payment_updates::apply(&state.db, &state.events, &update).await?;
            tracing::info!(attempt = %attempt.reference, outcome = %applied.describe(), "reconciler lookup");
        }
        AttemptState::Unanswered | AttemptState::Starting => {
            let (order, claimed) = {
                let mut conn = state.db.write().await?;
                let order = orders::by_id(&mut conn, attempt.order_id).await?;
                let claimed =
                    attempts::claim_attempt(&mut conn, attempt.id, now_ms() - CLAIM_TIMEOUT_MS)
                        .await?;
                (order, claimed)
            };
            let Some(order) = order.filter(|_| claimed) else {
                return Ok(());
            };
            match checkout::start(state, &order, attempt).await {
                Ok(_) => {
                    tracing::info!(attempt = %attempt.reference, "the provider answered a retried start")
                }
                Err(StartError::Provider(e)) => {
                    tracing::info!(attempt = %attempt.reference, error = %e, "retried start failed")
                }
                Err(StartError::Server(e)) => return Err(e),
            }
        }
        _ => {}
    }
    Ok(())
}

/// Expire unpaid orders whose hold ran out. Returns how many were settled.
async fn expire_overdue(state: &AppState) -> ServerResult<usize> {
    let overdue = {
        let mut conn = state.db.pool.acquire().await?;
        orders::overdue(&mut conn, now_ms(), BATCH).await?
    };
    let mut expired = 0;
    for (id, reference) in overdue {
        match expire(state, id).await {
            Ok(true) => expired += 1,
            Ok(false) => {}
            Err(e) => tracing::warn!(order = %reference, error = %e, "could not expire an order"),
        }
    }
    Ok(expired)
}

/// Close what can be closed at the provider, take a last look, then expire the order if it is
/// still unpaid. Money that arrives later goes to *Needs review*. True once the order is settled.
pub async fn expire(state: &AppState, order_id: i64) -> ServerResult<bool> {
    let attempts = {
        let mut conn = state.db.pool.acquire().await?;
        attempts::live_attempts(&mut conn, order_id).await?
    };
    for attempt in &attempts {
        let Some(provider) = state.payments.get(attempt.provider) else {
            continue;
        };
        let Some(session_id) = attempt.provider_session_id.as_deref() else {
            continue;
        };
        let at = AttemptRef {
            reference: &attempt.reference,
            session_id: Some(session_id),
        };
        let answer = if provider.capabilities().closes_sessions {
            provider.cancel(at).await
        } else {
            provider.lookup(at).await
        };
        match answer {
            Ok(mut update) => {
                if update.outcome == Outcome::Cancelled {
                    // Closed by the shop because the hold ran out: that is an expiry.
                    update.outcome = Outcome::Expired;
                    update.source = Source::Expiry;
                }
                payment_updates::apply(&state.db, &state.events, &update).await?;
            }
            Err(e) => {
                tracing::warn!(attempt = %attempt.reference, error = %e, "could not close a session whose hold ran out")
            }
        }
    }
    let (order, latest) = {
        let mut conn = state.db.pool.acquire().await?;
        let order = orders::by_id(&mut conn, order_id).await?;
        let latest = attempts::latest_attempt(&mut conn, order_id).await?;
        (order, latest)
    };
    let (Some(order), Some(latest)) = (order, latest) else {
        return Ok(false);
    };
    if order.status != crate::model::OrderStatus::AwaitingPayment {
        // Settled while its sessions were closed (expired there, or paid at the last moment).
        return Ok(true);
    }
    let update = PaymentUpdate {
        provider: latest.provider,
        attempt_reference: latest.reference.clone(),
        session_id: None,
        event_id: format!("expiry:{}", order.reference),
        source: Source::Expiry,
        kind: "hold ran out".into(),
        outcome: Outcome::Expired,
        payload: serde_json::json!({"hold_until": order.hold_until}).to_string(),
        payment_id: None,
    };
    let applied = payment_updates::apply(&state.db, &state.events, &update).await?;
    tracing::info!(order = %order.reference, outcome = %applied.describe(), "unpaid order's hold ran out");
    // A payment being taken right now: the next pass looks again.
    Ok(applied != payment_updates::Applied::PaymentInFlight)
}
