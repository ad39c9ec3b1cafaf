//! The webhook inbox: every delivery stored before it is acknowledged, with its outcome; a
//! refused one only in part, and pruned after a week.

use super::now_ms;
use sqlx::{AnyConnection, Row as _};

/// A webhook delivery as received: what its inbox row keeps.
#[derive(Debug, Clone, Copy)]
pub struct NewInbox<'a> {
    pub provider: &'a str,
    /// The kept headers, as a JSON object.
    pub headers: &'a str,
    pub body: &'a [u8],
    /// The attempt the body names, if any (unverified until the statement is; the order's
    /// timeline lists it).
    pub attempt_reference: Option<&'a str>,
    pub received_at: i64,
}

/// Store a webhook as received, before or together with what is done with it.
pub async fn insert_inbox(
    conn: &mut AnyConnection,
    new: &NewInbox<'_>,
) -> Result<i64, sqlx::Error> {
    sqlx::query(
        "INSERT INTO webhook_inbox (provider, headers, body, received_at, attempt_reference) \
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(new.provider)
    .bind(new.headers)
    .bind(new.body.to_vec())
    .bind(new.received_at)
    .bind(new.attempt_reference)
    .fetch_one(conn)
    .await?
    .try_get("id")
}

/// Store a webhook with what became of it, in one statement (a delivery verified offline is stored
/// by the commit that handles it).
pub async fn insert_closed_inbox(
    conn: &mut AnyConnection,
    new: &NewInbox<'_>,
    event_id: Option<&str>,
    outcome: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO webhook_inbox (provider, headers, body, received_at, attempt_reference, \
         event_id, outcome, processed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(new.provider)
    .bind(new.headers)
    .bind(new.body.to_vec())
    .bind(new.received_at)
    .bind(new.attempt_reference)
    .bind(event_id)
    .bind(outcome)
    .bind(now_ms())
    .execute(conn)
    .await?;
    Ok(())
}

/// Store a webhook that failed its signature check: only the first `keep` bytes of the body, with
/// its outcome and the attempt it claims to be about, for the timeline and for diagnosing a
/// misconfigured secret.
pub async fn insert_rejected_inbox(
    conn: &mut AnyConnection,
    provider: &str,
    headers: &str,
    body: &[u8],
    keep: usize,
    outcome: &str,
    attempt_reference: Option<&str>,
) -> Result<(), sqlx::Error> {
    let now = now_ms();
    // Listed under the attempt the body names only if that attempt exists and has fewer than
    // MAX_REJECTED_PER_ATTEMPT rejected deliveries already: a forger can neither make rows for
    // orders that do not exist yet nor bury an order's timeline.
    sqlx::query(
        "INSERT INTO webhook_inbox (provider, headers, body, received_at, processed_at, outcome, \
         attempt_reference) VALUES ($1, $2, $3, $4, $4, $5, \
         (SELECT a.reference FROM payment_attempts a WHERE a.reference = $6 \
          AND (SELECT COUNT(*) FROM webhook_inbox w WHERE w.attempt_reference = $6 \
               AND w.outcome LIKE 'rejected%') < $7))",
    )
    .bind(provider)
    .bind(headers)
    .bind(body[..body.len().min(keep)].to_vec())
    .bind(now)
    .bind(outcome)
    .bind(attempt_reference)
    .bind(MAX_REJECTED_PER_ATTEMPT)
    .execute(conn)
    .await?;
    Ok(())
}

/// Rejected deliveries listed under one attempt at most (the rest are kept unattached).
pub const MAX_REJECTED_PER_ATTEMPT: i64 = 20;

/// Close the deliveries received before `before` that never got an outcome: the process handling
/// each stopped (or failed) before it finished, and the provider, never acknowledged, sends it
/// again. Returns how many.
pub async fn close_abandoned_inbox(
    conn: &mut AnyConnection,
    before: i64,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE webhook_inbox SET outcome = $1, processed_at = $2 \
         WHERE processed_at IS NULL AND received_at < $3",
    )
    .bind(ABANDONED_OUTCOME)
    .bind(now_ms())
    .bind(before)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// The outcome of a delivery [`close_abandoned_inbox`] closed.
const ABANDONED_OUTCOME: &str =
    "unfinished: the shop stopped before it finished; the provider sends it again";

/// Delete rejected deliveries received before `before`; accepted ones are kept whole.
pub async fn prune_rejected_inbox(
    conn: &mut AnyConnection,
    before: i64,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "DELETE FROM webhook_inbox WHERE received_at < $1 AND outcome LIKE 'rejected%'",
    )
    .bind(before)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

pub async fn finish_inbox(
    conn: &mut AnyConnection,
    id: i64,
    event_id: Option<&str>,
    outcome: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE webhook_inbox SET event_id = $1, outcome = $2, processed_at = $3 WHERE id = $4",
    )
    .bind(event_id)
    .bind(outcome)
    .bind(now_ms())
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}
