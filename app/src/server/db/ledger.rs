//! The payment ledger: one row per provider statement applied to an order (deduplicated on the
//! provider's event id), with the transition it made.

use super::now_ms;
use sqlx::AnyConnection;

pub struct NewEvent<'a> {
    pub attempt_reference: &'a str,
    pub provider: &'a str,
    pub event_id: &'a str,
    pub source: &'a str,
    pub kind: &'a str,
    pub amount_minor: Option<i64>,
    pub currency: Option<&'a str>,
    pub payload: &'a str,
}

/// Append to the ledger, for the attempt with this reference, unless this provider event is
/// already there. False means a duplicate or an unknown attempt.
pub async fn insert_event(conn: &mut AnyConnection, e: &NewEvent<'_>) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO payment_events (order_id, attempt_id, provider, event_id, source, kind, amount_minor, \
         currency, from_status, to_status, outcome, payload, created_at) \
         SELECT a.order_id, a.id, $1, $2, $3, $4, $5, $6, '', '', '', $7, $8 \
         FROM payment_attempts a WHERE a.reference = $9 AND a.provider = $1 \
         ON CONFLICT (provider, event_id) DO NOTHING",
    )
    .bind(e.provider)
    .bind(e.event_id)
    .bind(e.source)
    .bind(e.kind)
    .bind(e.amount_minor)
    .bind(e.currency)
    .bind(e.payload)
    .bind(now_ms())
    .bind(e.attempt_reference)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Fill in an event's outcome after the transition was decided (same transaction).
pub async fn finish_event(
    conn: &mut AnyConnection,
    provider: &str,
    event_id: &str,
    from_status: &str,
    to_status: &str,
    outcome: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE payment_events SET from_status = $1, to_status = $2, outcome = $3 \
         WHERE provider = $4 AND event_id = $5",
    )
    .bind(from_status)
    .bind(to_status)
    .bind(outcome)
    .bind(provider)
    .bind(event_id)
    .execute(conn)
    .await?;
    Ok(())
}
