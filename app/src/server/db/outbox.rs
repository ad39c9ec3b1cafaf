//! The outbox's delivery state (migration 0011): claiming due messages under a lease, recording
//! each attempt's outcome, and what the merchant's pages show of it.
//!
//! A row is *due* while it is neither sent nor dead, its `next_attempt_at` has come and no live
//! lease (`claimed_until` in the future) holds it. A claim sets the lease and a fresh random
//! `claim_token`; only the token's holder can then mark the row sent or failed, so a worker whose
//! lease ran out can never overwrite what the next holder did.

use super::{now_ms, Backend, Row};
use sqlx::{AnyConnection, Row as _};

/// The outbox kinds the payment path writes (the `kind` column).
pub mod kind {
    /// To the shopper, on *Paid*: the order confirmation.
    pub const ORDER_PAID: &str = "order_paid_email";
    /// To the shopper, on *Failed*: the payment did not go through.
    pub const ORDER_FAILED: &str = "order_failed_email";
    /// To the shopper, on *Expired*: the order's hold ran out unpaid.
    pub const ORDER_EXPIRED: &str = "order_expired_email";
    /// To the shopper, when a refund succeeded.
    pub const REFUND: &str = "refund_email";
    /// To the merchant, on *Needs review*.
    pub const NEEDS_REVIEW: &str = "order_needs_review";
}

/// Queue a side effect (an email, `db::outbox::kind`) to be sent after the transaction commits: the
/// caller's transaction, so the message exists exactly when the state change it reports does.
/// `reference` is the order it is about (the merchant's order page lists its emails by it).
pub async fn insert_outbox(
    conn: &mut AnyConnection,
    kind: &str,
    reference: &str,
    payload: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO outbox (kind, payload, created_at, reference) VALUES ($1, $2, $3, $4)",
    )
    .bind(kind)
    .bind(payload)
    .bind(now_ms())
    .bind(reference)
    .execute(conn)
    .await?;
    Ok(())
}

/// A claimed message, as the worker sends it.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub id: i64,
    pub kind: String,
    pub payload: String,
    /// Tries made before this one.
    pub attempts: i64,
    pub reference: Option<String>,
    /// The lease's end: the worker does not start a send it could not finish before it.
    pub claimed_until: i64,
}

/// One message of an order, for the merchant's order page.
#[derive(Debug, Clone)]
pub struct OutboxEntry {
    pub id: i64,
    pub kind: String,
    pub created_at: i64,
    pub sent_at: Option<i64>,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub last_error: Option<String>,
    pub dead_at: Option<i64>,
}

/// Claim up to `limit` due messages until `lease_until` under `token`, oldest first. On
/// PostgreSQL the candidates are locked with `FOR UPDATE SKIP LOCKED`, so concurrent workers take
/// different rows without waiting; on SQLite the one-statement `UPDATE` runs under the database's
/// single write lock, which serialises claims the same way.
pub async fn claim_due(
    conn: &mut AnyConnection,
    backend: Backend,
    now: i64,
    lease_until: i64,
    token: &str,
    limit: i64,
) -> Result<Vec<Claimed>, sqlx::Error> {
    let lock = match backend {
        Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        Backend::Sqlite => "",
    };
    let sql = format!(
        "UPDATE outbox SET claimed_until = $1, claim_token = $2 \
         WHERE id IN (SELECT id FROM outbox \
             WHERE sent_at IS NULL AND dead_at IS NULL AND next_attempt_at <= $3 \
             AND (claimed_until IS NULL OR claimed_until <= $3) \
             ORDER BY id LIMIT $4{lock}) \
         AND sent_at IS NULL AND dead_at IS NULL \
         AND (claimed_until IS NULL OR claimed_until <= $3) \
         RETURNING id, kind, payload, attempts, reference, claimed_until"
    );
    let rows = sqlx::query(&sql)
        .bind(lease_until)
        .bind(token)
        .bind(now)
        .bind(limit)
        .fetch_all(conn)
        .await?;
    let mut claimed = rows
        .iter()
        .map(|r: &Row| {
            Ok(Claimed {
                id: r.try_get("id")?,
                kind: r.try_get("kind")?,
                payload: r.try_get("payload")?,
                attempts: r.try_get("attempts")?,
                reference: r.try_get("reference")?,
                claimed_until: r.try_get("claimed_until")?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    // `RETURNING` does not promise an order.
    claimed.sort_by_key(|c| c.id);
    Ok(claimed)
}

/// The message went out: true if `token` still held it (it always should: the lease is far
/// longer than one send may take).
pub async fn mark_sent(
    conn: &mut AnyConnection,
    id: i64,
    token: &str,
    at: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE outbox SET sent_at = $1, attempts = attempts + 1, last_error = NULL, \
         claimed_until = NULL, claim_token = NULL WHERE id = $2 AND claim_token = $3",
    )
    .bind(at)
    .bind(id)
    .bind(token)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A try failed: count it, keep the (short, secret-free) error, and either schedule the next try
/// or, with `dead_at`, give up.
pub async fn mark_failed(
    conn: &mut AnyConnection,
    id: i64,
    token: &str,
    error: &str,
    next_attempt_at: i64,
    dead_at: Option<i64>,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE outbox SET attempts = attempts + 1, last_error = $1, next_attempt_at = $2, \
         dead_at = $3, claimed_until = NULL, claim_token = NULL WHERE id = $4 AND claim_token = $5",
    )
    .bind(error)
    .bind(next_attempt_at)
    .bind(dead_at)
    .bind(id)
    .bind(token)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Give back the leases of `token`'s rows that were not sent (shutdown, or a lease too short for
/// another send): any instance may take them at once.
pub async fn release(conn: &mut AnyConnection, token: &str) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE outbox SET claimed_until = NULL, claim_token = NULL \
         WHERE claim_token = $1 AND sent_at IS NULL",
    )
    .bind(token)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// The messages about one order, oldest first.
pub async fn for_reference(
    conn: &mut AnyConnection,
    reference: &str,
) -> Result<Vec<OutboxEntry>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, kind, created_at, sent_at, attempts, next_attempt_at, last_error, dead_at \
         FROM outbox WHERE reference = $1 ORDER BY id",
    )
    .bind(reference)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r: &Row| {
            Ok(OutboxEntry {
                id: r.try_get("id")?,
                kind: r.try_get("kind")?,
                created_at: r.try_get("created_at")?,
                sent_at: r.try_get("sent_at")?,
                attempts: r.try_get("attempts")?,
                next_attempt_at: r.try_get("next_attempt_at")?,
                last_error: r.try_get("last_error")?,
                dead_at: r.try_get("dead_at")?,
            })
        })
        .collect()
}

/// How many messages were given up on.
pub async fn dead_count(conn: &mut AnyConnection) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE dead_at IS NOT NULL")
        .fetch_one(conn)
        .await
}
