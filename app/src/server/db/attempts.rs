//! Payment attempts: one per hand-off to a provider (its reference, state, provider session, the
//! reconciler's lookups) and the capture claims of providers that capture after approval.

use super::now_ms;
use super::orders::OrderRow;
use super::orders::{corrupt, parsed};
use crate::model::{Money, ProviderId};
use crate::server::payments::attempt::AttemptState;
use crate::server::payments::reference;
use sqlx::{AnyConnection, Row as _};

#[derive(Debug, Clone)]
pub struct AttemptRow {
    pub id: i64,
    pub order_id: i64,
    pub reference: String,
    pub provider: ProviderId,
    pub state: AttemptState,
    pub provider_session_id: Option<String>,
    /// How the browser gets to the provider (JSON of `payments::NextStep`), once open.
    pub next_step: Option<String>,
    pub claimed_at: Option<i64>,
    pub lookups: i64,
    pub next_lookup_at: Option<i64>,
    /// The provider's id of the captured payment (what a refund names).
    pub provider_payment_id: Option<String>,
    /// What the provider reported as captured, once the attempt is paid or under review.
    pub captured: Option<Money>,
    pub created_at: i64,
    pub updated_at: i64,
}

const ATTEMPT_COLUMNS: &str = "id, order_id, reference, provider, state, provider_session_id, \
     next_step, claimed_at, lookups, next_lookup_at, provider_payment_id, captured_minor, \
     captured_currency, created_at, updated_at";

fn attempt(r: &super::Row) -> Result<AttemptRow, sqlx::Error> {
    Ok(AttemptRow {
        id: r.try_get("id")?,
        order_id: r.try_get("order_id")?,
        reference: r.try_get("reference")?,
        provider: parsed(r, "provider", ProviderId::parse)?,
        state: parsed(r, "state", AttemptState::parse)?,
        provider_session_id: r.try_get("provider_session_id")?,
        next_step: r.try_get("next_step")?,
        claimed_at: r.try_get("claimed_at")?,
        lookups: r.try_get("lookups")?,
        next_lookup_at: r.try_get("next_lookup_at")?,
        provider_payment_id: r.try_get("provider_payment_id")?,
        captured: match (
            r.try_get::<Option<i64>, _>("captured_minor")?,
            r.try_get::<Option<String>, _>("captured_currency")?,
        ) {
            (Some(minor), Some(code)) => Some(Money::new(
                minor,
                code.parse()
                    .map_err(|_| corrupt("captured_currency", &code))?,
            )),
            _ => None,
        },
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

/// Remember what the provider captured for an attempt and its id for the payment.
pub async fn set_captured(
    conn: &mut AnyConnection,
    id: i64,
    state: Option<AttemptState>,
    captured: Money,
    payment_id: Option<&str>,
) -> Result<(), sqlx::Error> {
    // A new state clears the error and moves `updated_at`, as `set_attempt_state` does.
    sqlx::query(
        "UPDATE payment_attempts SET captured_minor = $1, captured_currency = $2, \
         provider_payment_id = COALESCE($3, provider_payment_id), \
         state = COALESCE($5, state), \
         error = CASE WHEN $5 IS NULL THEN error ELSE NULL END, \
         updated_at = CASE WHEN $5 IS NULL THEN updated_at ELSE $6 END WHERE id = $4",
    )
    .bind(captured.minor)
    .bind(captured.currency.code())
    .bind(payment_id)
    .bind(id)
    .bind(state.map(AttemptState::as_str))
    .bind(now_ms())
    .execute(conn)
    .await?;
    Ok(())
}

/// Fill in the provider's payment id where it is still missing.
pub async fn set_payment_id(
    conn: &mut AnyConnection,
    id: i64,
    payment_id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE payment_attempts SET provider_payment_id = $1 \
         WHERE id = $2 AND provider_payment_id IS NULL",
    )
    .bind(payment_id)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

/// The order's attempts whose payment was received (paid, or under review), newest first: one,
/// or more when the shopper paid twice.
pub async fn captured_attempts(
    conn: &mut AnyConnection,
    order_id: i64,
) -> Result<Vec<AttemptRow>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT {ATTEMPT_COLUMNS} FROM payment_attempts WHERE order_id = $1 \
         AND state IN ('paid', 'needs_review') AND captured_minor IS NOT NULL \
         ORDER BY id DESC"
    ))
    .bind(order_id)
    .fetch_all(conn)
    .await?;
    rows.iter().map(attempt).collect()
}

/// What every payment received for an order captured together, in minor units.
pub async fn captured_total(conn: &mut AnyConnection, order_id: i64) -> Result<i64, sqlx::Error> {
    sqlx::query(
        "SELECT CAST(COALESCE(SUM(captured_minor), 0) AS BIGINT) AS n FROM payment_attempts \
         WHERE order_id = $1 AND state IN ('paid', 'needs_review') AND captured_minor IS NOT NULL",
    )
    .bind(order_id)
    .fetch_one(conn)
    .await?
    .try_get("n")
}

pub async fn attempts_of(
    conn: &mut AnyConnection,
    order_id: i64,
) -> Result<Vec<AttemptRow>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT {ATTEMPT_COLUMNS} FROM payment_attempts WHERE order_id = $1 ORDER BY id"
    ))
    .bind(order_id)
    .fetch_all(conn)
    .await?;
    rows.iter().map(attempt).collect()
}

/// Add attempt number n+1 (`ORD-000123-A{n+1}-{installation}`) in state `new`.
pub async fn insert_attempt(
    conn: &mut AnyConnection,
    order: &OrderRow,
    provider: ProviderId,
    installation: &str,
) -> Result<AttemptRow, sqlx::Error> {
    let count: i64 = sqlx::query("SELECT COUNT(*) AS n FROM payment_attempts WHERE order_id = $1")
        .bind(order.id)
        .fetch_one(&mut *conn)
        .await?
        .try_get("n")?;
    let reference = reference::attempt_reference(&order.reference, count + 1, installation);
    let now = now_ms();
    sqlx::query(
        "INSERT INTO payment_attempts (order_id, reference, provider, state, created_at, updated_at) \
         VALUES ($1, $2, $3, 'new', $4, $4)",
    )
    .bind(order.id)
    .bind(&reference)
    .bind(provider.as_str())
    .bind(now)
    .execute(&mut *conn)
    .await?;
    // The order lists read the newest attempt's provider from the order.
    sqlx::query("UPDATE orders SET provider = $1 WHERE id = $2")
        .bind(provider.as_str())
        .bind(order.id)
        .execute(&mut *conn)
        .await?;
    attempt_by_reference(conn, &reference)
        .await?
        .ok_or(sqlx::Error::RowNotFound)
}

pub async fn attempt_by_reference(
    conn: &mut AnyConnection,
    reference: &str,
) -> Result<Option<AttemptRow>, sqlx::Error> {
    sqlx::query(&format!(
        "SELECT {ATTEMPT_COLUMNS} FROM payment_attempts WHERE reference = $1"
    ))
    .bind(reference)
    .fetch_optional(conn)
    .await?
    .as_ref()
    .map(attempt)
    .transpose()
}

/// What the provider said when the order was marked failed (the ledger row's `kind`).
pub async fn failure_kind(
    conn: &mut AnyConnection,
    order_id: i64,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query(
        "SELECT kind FROM payment_events WHERE order_id = $1 AND to_status = 'failed' \
         AND outcome LIKE 'applied%' ORDER BY id DESC LIMIT 1",
    )
    .bind(order_id)
    .fetch_optional(conn)
    .await?
    .map(|r| r.try_get("kind"))
    .transpose()
}

/// An attempt by its reference, and whether it is its order's latest (one statement, for the
/// webhook's transaction).
pub async fn attempt_and_if_latest(
    conn: &mut AnyConnection,
    reference: &str,
) -> Result<Option<(AttemptRow, bool)>, sqlx::Error> {
    let row = sqlx::query(&format!(
        "SELECT {ATTEMPT_COLUMNS}, (SELECT MAX(l.id) FROM payment_attempts l \
         WHERE l.order_id = payment_attempts.order_id) AS latest_id \
         FROM payment_attempts WHERE reference = $1"
    ))
    .bind(reference)
    .fetch_optional(conn)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let found = attempt(&row)?;
    let latest = row.try_get::<Option<i64>, _>("latest_id")? == Some(found.id);
    Ok(Some((found, latest)))
}

pub async fn latest_attempt(
    conn: &mut AnyConnection,
    order_id: i64,
) -> Result<Option<AttemptRow>, sqlx::Error> {
    sqlx::query(&format!(
        "SELECT {ATTEMPT_COLUMNS} FROM payment_attempts WHERE order_id = $1 ORDER BY id DESC LIMIT 1"
    ))
    .bind(order_id)
    .fetch_optional(conn)
    .await?
    .as_ref()
    .map(attempt)
    .transpose()
}

/// Claim the right to call the provider for an attempt: it is new, its provider did not answer
/// last time (the same idempotency key is tried again), or an earlier claim is older than
/// `stale_before` (that caller died). True if this caller holds the claim.
pub async fn claim_attempt(
    conn: &mut AnyConnection,
    id: i64,
    stale_before: i64,
) -> Result<bool, sqlx::Error> {
    let now = now_ms();
    let done = sqlx::query(
        "UPDATE payment_attempts SET state = 'starting', claimed_at = $1, updated_at = $1, \
         next_lookup_at = $4 \
         WHERE id = $2 AND (state IN ('new', 'error') OR (state = 'starting' AND claimed_at < $3))",
    )
    .bind(now)
    .bind(id)
    .bind(stale_before)
    // If this caller dies before the provider answers, the reconciler takes the attempt over.
    .bind(now + 60_000)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The provider session is open; the reconciler first looks it up at `first_lookup_at`.
pub async fn attempt_started(
    conn: &mut AnyConnection,
    id: i64,
    session_id: &str,
    next_step: &str,
    first_lookup_at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE payment_attempts SET state = 'open', provider_session_id = $1, next_step = $2, \
         updated_at = $3, next_lookup_at = $4, lookups = 0 WHERE id = $5 AND state = 'starting'",
    )
    .bind(session_id)
    .bind(next_step)
    .bind(now_ms())
    .bind(first_lookup_at)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn set_attempt_state(
    conn: &mut AnyConnection,
    id: i64,
    state: AttemptState,
    error: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE payment_attempts SET state = $1, error = $2, updated_at = $3 WHERE id = $4",
    )
    .bind(state.as_str())
    .bind(error)
    .bind(now_ms())
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Attempts of these providers whose next reconciler lookup is due: open ones, and ones whose
/// provider never answered (or whose caller died) while starting.
pub async fn due_lookups(
    conn: &mut AnyConnection,
    providers: &[ProviderId],
    now: i64,
    limit: i64,
) -> Result<Vec<AttemptRow>, sqlx::Error> {
    if providers.is_empty() {
        return Ok(Vec::new());
    }
    let list = providers
        .iter()
        .map(|p| format!("'{}'", p.as_str()))
        .collect::<Vec<_>>()
        .join(", ");
    let rows = sqlx::query(&format!(
        "SELECT {ATTEMPT_COLUMNS} FROM payment_attempts \
         WHERE state IN ('open', 'cancelling', 'error', 'starting') AND provider IN ({list}) \
         AND next_lookup_at <= $1 ORDER BY next_lookup_at LIMIT $2"
    ))
    .bind(now)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter().map(attempt).collect()
}

/// Schedule the reconciler's first look at an attempt (one whose provider did not answer).
pub async fn schedule_lookup(
    conn: &mut AnyConnection,
    id: i64,
    at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE payment_attempts SET next_lookup_at = $1, updated_at = $2 WHERE id = $3")
        .bind(at)
        .bind(now_ms())
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// The attempts of an order that may still have a live session at the provider.
pub async fn live_attempts(
    conn: &mut AnyConnection,
    order_id: i64,
) -> Result<Vec<AttemptRow>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT {ATTEMPT_COLUMNS} FROM payment_attempts WHERE order_id = $1 \
         AND state IN ('open', 'cancelling', 'error', 'starting', 'new') ORDER BY id"
    ))
    .bind(order_id)
    .fetch_all(conn)
    .await?;
    rows.iter().map(attempt).collect()
}

/// Claim a due lookup by moving its schedule on (`next` = `None` ends the schedule). Only the
/// instance whose update matches the old due time gets it.
pub async fn claim_lookup(
    conn: &mut AnyConnection,
    id: i64,
    due_at: i64,
    next: Option<i64>,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE payment_attempts SET lookups = lookups + 1, next_lookup_at = $1 \
         WHERE id = $2 AND next_lookup_at = $3",
    )
    .bind(next)
    .bind(id)
    .bind(due_at)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Claim the one capture of an open attempt whose provider session is `session_id` (PayPal's
/// order id): true for the single caller whose update matched. A claim older than `stale_before` (its holder died mid-call) may be taken over; the
/// provider's idempotency key makes that second call a replay of the first.
pub async fn claim_capture(
    conn: &mut AnyConnection,
    reference: &str,
    session_id: &str,
    stale_before: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE payment_attempts SET capture_claimed_at = $1 WHERE reference = $2 \
         AND provider_session_id = $3 AND state = 'open' \
         AND (capture_claimed_at IS NULL OR capture_claimed_at < $4)",
    )
    .bind(now_ms())
    .bind(reference)
    .bind(session_id)
    .bind(stale_before)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Whether no payment is being taken on the attempt right now (no capture claim newer than
/// `stale_before`). True also holds the attempt's row until the transaction ends: a claim needs
/// the attempt `open`, so once the caller moves the attempt on in the same transaction no claim
/// can follow, and a claim being made at this moment is waited for and then seen (false).
pub async fn no_capture_in_flight(
    conn: &mut AnyConnection,
    attempt_id: i64,
    stale_before: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE payment_attempts SET capture_claimed_at = capture_claimed_at WHERE id = $1 \
         AND (capture_claimed_at IS NULL OR capture_claimed_at < $2)",
    )
    .bind(attempt_id)
    .bind(stale_before)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Give a capture claim back (the call did not reach the provider, or it did not act).
pub async fn release_capture(conn: &mut AnyConnection, reference: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE payment_attempts SET capture_claimed_at = NULL WHERE reference = $1")
        .bind(reference)
        .execute(conn)
        .await?;
    Ok(())
}
