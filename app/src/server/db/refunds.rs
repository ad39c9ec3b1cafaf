//! Refunds: one row per refund the merchant asked for (or the provider reported), `pending` until
//! the provider says it `succeeded` or `failed`. A pending or succeeded row counts against what is
//! left to refund; only a failed one gives its amount back.

use super::now_ms;
use crate::model::{Currency, Money, ProviderId};
use sqlx::{AnyConnection, Row as _};

pub use crate::model::RefundStatus;

#[derive(Debug, Clone)]
pub struct RefundRow {
    pub id: i64,
    pub order_id: i64,
    pub attempt_id: i64,
    pub provider: ProviderId,
    pub idempotency_key: String,
    pub amount_minor: i64,
    pub currency: Currency,
    pub reason: String,
    pub status: RefundStatus,
    pub provider_refund_id: Option<String>,
    pub failure: Option<String>,
    pub requested_by: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl RefundRow {
    pub fn amount(&self) -> Money {
        Money::new(self.amount_minor, self.currency)
    }
}

const COLUMNS: &str =
    "id, order_id, attempt_id, provider, idempotency_key, amount_minor, currency, \
     reason, status, provider_refund_id, failure, requested_by, created_at, updated_at";

fn corrupt(column: &str, value: &str) -> sqlx::Error {
    sqlx::Error::ColumnDecode {
        index: column.to_string(),
        source: format!("unknown value {value:?}").into(),
    }
}

fn row(r: &super::Row) -> Result<RefundRow, sqlx::Error> {
    let text = |column: &str| -> Result<String, sqlx::Error> { r.try_get(column) };
    let provider = text("provider")?;
    let currency = text("currency")?;
    let status = text("status")?;
    Ok(RefundRow {
        id: r.try_get("id")?,
        order_id: r.try_get("order_id")?,
        attempt_id: r.try_get("attempt_id")?,
        provider: ProviderId::parse(&provider).ok_or_else(|| corrupt("provider", &provider))?,
        idempotency_key: text("idempotency_key")?,
        amount_minor: r.try_get("amount_minor")?,
        currency: currency
            .parse()
            .map_err(|_| corrupt("currency", &currency))?,
        reason: text("reason")?,
        status: RefundStatus::parse(&status).ok_or_else(|| corrupt("status", &status))?,
        provider_refund_id: r.try_get("provider_refund_id")?,
        failure: r.try_get("failure")?,
        requested_by: r.try_get("requested_by")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

pub struct NewRefund<'a> {
    pub order_id: i64,
    pub attempt_id: i64,
    pub provider: ProviderId,
    pub idempotency_key: &'a str,
    pub amount: Money,
    pub reason: &'a str,
    pub status: RefundStatus,
    pub provider_refund_id: Option<&'a str>,
    pub requested_by: Option<i64>,
}

/// Insert a refund unless one with this idempotency key exists; `None` means it does.
pub async fn insert(
    conn: &mut AnyConnection,
    new: &NewRefund<'_>,
) -> Result<Option<RefundRow>, sqlx::Error> {
    let now = now_ms();
    let id: Option<i64> = sqlx::query(
        "INSERT INTO refunds (order_id, attempt_id, provider, idempotency_key, amount_minor, \
         currency, reason, status, provider_refund_id, requested_by, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) \
         ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
    )
    .bind(new.order_id)
    .bind(new.attempt_id)
    .bind(new.provider.as_str())
    .bind(new.idempotency_key)
    .bind(new.amount.minor)
    .bind(new.amount.currency.code())
    .bind(new.reason)
    .bind(new.status.as_str())
    .bind(new.provider_refund_id)
    .bind(new.requested_by)
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?
    .map(|r| r.try_get("id"))
    .transpose()?;
    match id {
        Some(id) => by_id(conn, id).await,
        None => Ok(None),
    }
}

pub async fn by_id(conn: &mut AnyConnection, id: i64) -> Result<Option<RefundRow>, sqlx::Error> {
    sqlx::query(&format!("SELECT {COLUMNS} FROM refunds WHERE id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await?
        .as_ref()
        .map(row)
        .transpose()
}

pub async fn by_key(conn: &mut AnyConnection, key: &str) -> Result<Option<RefundRow>, sqlx::Error> {
    sqlx::query(&format!(
        "SELECT {COLUMNS} FROM refunds WHERE idempotency_key = $1"
    ))
    .bind(key)
    .fetch_optional(conn)
    .await?
    .as_ref()
    .map(row)
    .transpose()
}

pub async fn by_provider_id(
    conn: &mut AnyConnection,
    provider: ProviderId,
    refund_id: &str,
) -> Result<Option<RefundRow>, sqlx::Error> {
    sqlx::query(&format!(
        "SELECT {COLUMNS} FROM refunds WHERE provider = $1 AND provider_refund_id = $2"
    ))
    .bind(provider.as_str())
    .bind(refund_id)
    .fetch_optional(conn)
    .await?
    .as_ref()
    .map(row)
    .transpose()
}

/// The shop's own pending refunds of an attempt that the provider has not named yet (no provider
/// id; a refund recorded from the provider always has one), of exactly this amount: what a provider's notice about one of them, overtaking the answer
/// to the refund call, can be matched with.
pub async fn unnamed_pending(
    conn: &mut AnyConnection,
    attempt_id: i64,
    amount: Money,
) -> Result<Vec<RefundRow>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM refunds WHERE attempt_id = $1 AND status = 'pending' \
         AND provider_refund_id IS NULL AND amount_minor = $2 AND currency = $3 ORDER BY id"
    ))
    .bind(attempt_id)
    .bind(amount.minor)
    .bind(amount.currency.code())
    .fetch_all(conn)
    .await?;
    rows.iter().map(row).collect()
}

/// An order's refunds, oldest first.
pub async fn for_order(
    conn: &mut AnyConnection,
    order_id: i64,
) -> Result<Vec<RefundRow>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM refunds WHERE order_id = $1 ORDER BY id"
    ))
    .bind(order_id)
    .fetch_all(conn)
    .await?;
    rows.iter().map(row).collect()
}

/// What pending and succeeded refunds of an attempt's payment take, in minor units.
pub async fn committed_minor(
    conn: &mut AnyConnection,
    attempt_id: i64,
) -> Result<i64, sqlx::Error> {
    let total: i64 = sqlx::query(
        "SELECT CAST(COALESCE(SUM(amount_minor), 0) AS BIGINT) AS n FROM refunds \
         WHERE attempt_id = $1 AND status IN ('pending', 'succeeded')",
    )
    .bind(attempt_id)
    .fetch_one(conn)
    .await?
    .try_get("n")?;
    Ok(total)
}

/// Move a pending refund on (only a pending one moves: the first final word wins).
pub async fn settle(
    conn: &mut AnyConnection,
    id: i64,
    status: RefundStatus,
    provider_refund_id: Option<&str>,
    failure: Option<&str>,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE refunds SET status = $1, provider_refund_id = COALESCE($2, provider_refund_id), \
         failure = $3, updated_at = $4 WHERE id = $5 AND status = 'pending'",
    )
    .bind(status.as_str())
    .bind(provider_refund_id)
    .bind(failure)
    .bind(now_ms())
    .bind(id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Pending refunds last touched before `before`, oldest first (the reconciler asks about them).
pub async fn pending_before(
    conn: &mut AnyConnection,
    before: i64,
    limit: i64,
) -> Result<Vec<RefundRow>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM refunds WHERE status = 'pending' AND updated_at < $1 \
         ORDER BY updated_at LIMIT $2"
    ))
    .bind(before)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter().map(row).collect()
}

/// Note that a pending refund was looked at (moves it to the back of the reconciler's queue).
pub async fn touch(
    conn: &mut AnyConnection,
    id: i64,
    note: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE refunds SET updated_at = $1, failure = $2 WHERE id = $3 AND status = 'pending'",
    )
    .bind(now_ms())
    .bind(note)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Add a succeeded refund to the order's refunded total.
pub async fn add_refunded(
    conn: &mut AnyConnection,
    order_id: i64,
    amount_minor: i64,
) -> Result<i64, sqlx::Error> {
    sqlx::query("UPDATE orders SET refunded_minor = refunded_minor + $1 WHERE id = $2")
        .bind(amount_minor)
        .bind(order_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query("SELECT refunded_minor FROM orders WHERE id = $1")
        .bind(order_id)
        .fetch_one(conn)
        .await?
        .try_get("refunded_minor")
}

/// Remember the provider's id of a pending refund.
pub async fn touch_with_id(
    conn: &mut AnyConnection,
    id: i64,
    provider_refund_id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE refunds SET provider_refund_id = $1, failure = NULL, updated_at = $2 \
         WHERE id = $3 AND status = 'pending' AND provider_refund_id IS NULL",
    )
    .bind(provider_refund_id)
    .bind(now_ms())
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Claim a pending refund for one look by moving its time on; only the instance whose update
/// matches the old time gets it.
pub async fn claim(conn: &mut AnyConnection, id: i64, seen_at: i64) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE refunds SET updated_at = $1 WHERE id = $2 AND updated_at = $3 AND status = 'pending'",
    )
    .bind(now_ms())
    .bind(id)
    .bind(seen_at)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}
