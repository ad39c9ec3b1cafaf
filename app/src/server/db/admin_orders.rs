//! What the merchant's order page and the sales chart read: an order's attempts, ledger, inbox
//! deliveries and refunds (one query each, never one per row), and the chart's two grouped
//! queries (served by `orders_sales_chart` and `payment_attempts_sales_chart`, migration 0009).

use super::placeholders;
use sqlx::{AnyConnection, Row as _};

/// An attempt with everything the merchant's page shows.
#[derive(Debug, Clone)]
pub struct AttemptDetailRow {
    pub id: i64,
    pub reference: String,
    pub provider: String,
    pub state: String,
    pub provider_session_id: Option<String>,
    pub provider_payment_id: Option<String>,
    pub lookups: i64,
    pub next_lookup_at: Option<i64>,
    pub created_at: i64,
}

pub async fn attempts(
    conn: &mut AnyConnection,
    order_id: i64,
) -> Result<Vec<AttemptDetailRow>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, reference, provider, state, provider_session_id, provider_payment_id, lookups, \
         next_lookup_at, created_at FROM payment_attempts WHERE order_id = $1 ORDER BY id",
    )
    .bind(order_id)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(AttemptDetailRow {
                id: r.try_get("id")?,
                reference: r.try_get("reference")?,
                provider: r.try_get("provider")?,
                state: r.try_get("state")?,
                provider_session_id: r.try_get("provider_session_id")?,
                provider_payment_id: r.try_get("provider_payment_id")?,
                lookups: r.try_get("lookups")?,
                next_lookup_at: r.try_get("next_lookup_at")?,
                created_at: r.try_get("created_at")?,
            })
        })
        .collect()
}

/// A ledger row with its attempt's reference.
#[derive(Debug, Clone)]
pub struct EventRow {
    pub attempt_reference: String,
    pub provider: String,
    pub event_id: String,
    pub source: String,
    pub kind: String,
    pub amount_minor: Option<i64>,
    pub currency: Option<String>,
    pub from_status: String,
    pub to_status: String,
    pub outcome: String,
    pub payload: String,
    pub created_at: i64,
}

/// The order's ledger, oldest first.
pub async fn events(conn: &mut AnyConnection, order_id: i64) -> Result<Vec<EventRow>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT COALESCE(a.reference, '') AS attempt_reference, e.provider, e.event_id, e.source, \
         e.kind, e.amount_minor, e.currency, e.from_status, e.to_status, e.outcome, e.payload, \
         e.created_at FROM payment_events e LEFT JOIN payment_attempts a ON a.id = e.attempt_id \
         WHERE e.order_id = $1 ORDER BY e.id",
    )
    .bind(order_id)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(EventRow {
                attempt_reference: r.try_get("attempt_reference")?,
                provider: r.try_get("provider")?,
                event_id: r.try_get("event_id")?,
                source: r.try_get("source")?,
                kind: r.try_get("kind")?,
                amount_minor: r.try_get("amount_minor")?,
                currency: r.try_get("currency")?,
                from_status: r.try_get("from_status")?,
                to_status: r.try_get("to_status")?,
                outcome: r.try_get("outcome")?,
                payload: r.try_get("payload")?,
                created_at: r.try_get("created_at")?,
            })
        })
        .collect()
}

/// A webhook delivery as stored.
#[derive(Debug, Clone)]
pub struct DeliveryRow {
    pub provider: String,
    pub attempt_reference: String,
    pub event_id: Option<String>,
    pub headers: String,
    pub body: Vec<u8>,
    pub received_at: i64,
    pub outcome: Option<String>,
}

/// Deliveries about these attempts, at most `limit`: every delivery that passed verification (or
/// is still being handled) first, oldest first, then the newest of those rejected, newest first.
/// Forged deliveries naming an order can neither make its page unbounded nor push the genuine
/// ones off it.
pub async fn deliveries(
    conn: &mut AnyConnection,
    attempt_references: &[String],
    limit: i64,
) -> Result<Vec<DeliveryRow>, sqlx::Error> {
    if attempt_references.is_empty() {
        return Ok(Vec::new());
    }
    let mut rows = deliveries_where(conn, attempt_references, false, limit).await?;
    let left = limit - rows.len() as i64;
    if left > 0 {
        rows.extend(deliveries_where(conn, attempt_references, true, left).await?);
    }
    Ok(rows)
}

async fn deliveries_where(
    conn: &mut AnyConnection,
    attempt_references: &[String],
    rejected: bool,
    limit: i64,
) -> Result<Vec<DeliveryRow>, sqlx::Error> {
    let n = attempt_references.len();
    let (filter, order) = if rejected {
        ("outcome LIKE 'rejected%'", "id DESC")
    } else {
        ("(outcome IS NULL OR outcome NOT LIKE 'rejected%')", "id")
    };
    let sql = format!(
        "SELECT provider, attempt_reference, event_id, headers, body, received_at, outcome \
         FROM webhook_inbox WHERE attempt_reference IN ({}) AND {filter} ORDER BY {order} LIMIT ${}",
        placeholders(1, n),
        n + 1
    );
    let mut query = sqlx::query(&sql);
    for r in attempt_references {
        query = query.bind(r);
    }
    let rows = query.bind(limit).fetch_all(conn).await?;
    rows.iter()
        .map(|r| {
            Ok(DeliveryRow {
                provider: r.try_get("provider")?,
                attempt_reference: r
                    .try_get::<Option<String>, _>("attempt_reference")?
                    .unwrap_or_default(),
                event_id: r.try_get("event_id")?,
                headers: r.try_get("headers")?,
                body: r.try_get("body")?,
                received_at: r.try_get("received_at")?,
                outcome: r.try_get("outcome")?,
            })
        })
        .collect()
}

/// Once a delivery stored before its verification (perhaps only a prefix of its body) is verified:
/// keep its whole body and say which attempt it is about, if any.
pub async fn verified_inbox(
    conn: &mut AnyConnection,
    inbox_id: i64,
    body: &[u8],
    attempt_reference: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE webhook_inbox SET body = $1, \
         attempt_reference = COALESCE($2, attempt_reference) WHERE id = $3",
    )
    .bind(body.to_vec())
    .bind(attempt_reference)
    .bind(inbox_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Take an order's stock again after it was given back (an order given up, then paid and
/// accepted by the merchant), once. A product with less left than the line is taken to zero.
/// `None` if the order still held its stock; else whether any line was short.
pub async fn take_back_stock(
    conn: &mut AnyConnection,
    order_id: i64,
) -> Result<Option<bool>, sqlx::Error> {
    let claimed =
        sqlx::query("UPDATE orders SET stock_released = 0 WHERE id = $1 AND stock_released = 1")
            .bind(order_id)
            .execute(&mut *conn)
            .await?;
    if claimed.rows_affected() == 0 {
        return Ok(None);
    }
    let short: i64 = sqlx::query(
        "SELECT COUNT(*) AS n FROM order_lines l JOIN products p ON p.id = l.product_id \
         WHERE l.order_id = $1 AND p.stock < l.quantity",
    )
    .bind(order_id)
    .fetch_one(&mut *conn)
    .await?
    .try_get("n")?;
    sqlx::query(
        "UPDATE products SET stock = (SELECT CASE WHEN products.stock >= l.quantity \
         THEN products.stock - l.quantity ELSE 0 END FROM order_lines l \
         WHERE l.order_id = $1 AND l.product_id = products.id) \
         WHERE id IN (SELECT product_id FROM order_lines WHERE order_id = $1)",
    )
    .bind(order_id)
    .execute(conn)
    .await?;
    Ok(Some(short > 0))
}

/// A refund as stored.
#[derive(Debug, Clone)]
pub struct RefundRow {
    pub amount_minor: i64,
    pub currency: String,
    pub reason: String,
    pub status: String,
    pub provider_refund_id: Option<String>,
    pub failure: Option<String>,
    pub created_at: i64,
}

/// The order's refunds, oldest first.
pub async fn refunds(
    conn: &mut AnyConnection,
    order_id: i64,
) -> Result<Vec<RefundRow>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT amount_minor, currency, reason, status, provider_refund_id, failure, created_at \
         FROM refunds WHERE order_id = $1 ORDER BY id",
    )
    .bind(order_id)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(RefundRow {
                amount_minor: r.try_get("amount_minor")?,
                currency: r.try_get("currency")?,
                reason: r.try_get("reason")?,
                status: r.try_get("status")?,
                provider_refund_id: r.try_get("provider_refund_id")?,
                failure: r.try_get("failure")?,
                created_at: r.try_get("created_at")?,
            })
        })
        .collect()
}

/// Net sales (paid totals minus refunds) of orders placed since `since` (ms), per UTC day
/// (days since 1970-01-01) and currency: `(day, currency, minor)`.
pub async fn daily_sales(
    conn: &mut AnyConnection,
    since: i64,
) -> Result<Vec<(i64, String, i64)>, sqlx::Error> {
    // SUM of BIGINT is NUMERIC on PostgreSQL, which the Any driver cannot read: cast it back.
    let rows = sqlx::query(
        "SELECT created_at / 86400000 AS day, currency, \
         CAST(SUM(total_minor - refunded_minor) AS BIGINT) AS net FROM orders \
         WHERE created_at >= $1 AND status IN ('paid', 'partially_refunded', 'refunded') \
         GROUP BY created_at / 86400000, currency ORDER BY day, currency",
    )
    .bind(since)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("day")?, r.try_get("currency")?, r.try_get("net")?)))
        .collect()
}

/// Attempts created since `since` (ms) that reached an end, per provider: `(provider, ended, paid)`.
pub async fn provider_outcomes(
    conn: &mut AnyConnection,
    since: i64,
) -> Result<Vec<(String, i64, i64)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT provider, COUNT(*) AS ended, \
         CAST(SUM(CASE WHEN state = 'paid' THEN 1 ELSE 0 END) AS BIGINT) AS paid \
         FROM payment_attempts WHERE created_at >= $1 \
         AND state IN ('paid', 'failed', 'cancelled', 'expired', 'needs_review') \
         GROUP BY provider ORDER BY provider",
    )
    .bind(since)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("provider")?,
                r.try_get("ended")?,
                r.try_get("paid")?,
            ))
        })
        .collect()
}
