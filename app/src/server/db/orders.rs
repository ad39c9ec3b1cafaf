//! Orders, their lines and payment attempts, the payment ledger, the webhook inbox and the outbox.

use super::{now_ms, Backend};
use sqlx::{AnyConnection, Row as _};

#[derive(Debug, Clone)]
pub struct OrderRow {
    pub id: i64,
    pub reference: String,
    pub user_id: Option<i64>,
    pub guest_token: String,
    pub email: String,
    pub currency: String,
    pub total_minor: i64,
    pub status: String,
    pub stock_released: bool,
}

const ORDER_COLUMNS: &str =
    "id, reference, user_id, guest_token, email, currency, total_minor, status, stock_released";

fn order(r: &super::Row) -> Result<OrderRow, sqlx::Error> {
    Ok(OrderRow {
        id: r.try_get("id")?,
        reference: r
            .try_get::<Option<String>, _>("reference")?
            .unwrap_or_default(),
        user_id: r.try_get("user_id")?,
        guest_token: r.try_get("guest_token")?,
        email: r.try_get("email")?,
        currency: r.try_get("currency")?,
        total_minor: r.try_get("total_minor")?,
        status: r.try_get("status")?,
        stock_released: r.try_get::<i64, _>("stock_released")? != 0,
    })
}

pub struct NewOrder<'a> {
    pub idempotency_key: &'a str,
    pub user_id: Option<i64>,
    pub guest_token: &'a str,
    pub email: &'a str,
    pub name: &'a str,
    pub address: &'a str,
    pub currency: &'a str,
    pub total_minor: i64,
}

/// Insert an order unless one with this idempotency key exists; its reference is `ORD-{id:06}`.
pub async fn insert(
    conn: &mut AnyConnection,
    new: &NewOrder<'_>,
) -> Result<Option<OrderRow>, sqlx::Error> {
    let now = now_ms();
    let id: Option<i64> = sqlx::query(
        "INSERT INTO orders (idempotency_key, user_id, guest_token, email, name, address, currency, \
         total_minor, status, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'awaiting_payment', $9, $9) \
         ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
    )
    .bind(new.idempotency_key)
    .bind(new.user_id)
    .bind(new.guest_token)
    .bind(new.email)
    .bind(new.name)
    .bind(new.address)
    .bind(new.currency)
    .bind(new.total_minor)
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?
    .map(|r| r.try_get("id"))
    .transpose()?;
    let Some(id) = id else { return Ok(None) };
    sqlx::query("UPDATE orders SET reference = $1 WHERE id = $2")
        .bind(format!("ORD-{id:06}"))
        .bind(id)
        .execute(&mut *conn)
        .await?;
    by_id(conn, id).await
}

/// How an order is looked up: a fixed column (never input) and its value.
enum Lookup<'a> {
    Id(i64),
    Text(&'static str, &'a str),
}

async fn find(
    conn: &mut AnyConnection,
    lookup: Lookup<'_>,
) -> Result<Option<OrderRow>, sqlx::Error> {
    let column = match lookup {
        Lookup::Id(_) => "id",
        Lookup::Text(column, _) => column,
    };
    let sql = format!("SELECT {ORDER_COLUMNS} FROM orders WHERE {column} = $1");
    let query = match lookup {
        Lookup::Id(id) => sqlx::query(&sql).bind(id),
        Lookup::Text(_, value) => sqlx::query(&sql).bind(value),
    };
    query
        .fetch_optional(conn)
        .await?
        .as_ref()
        .map(order)
        .transpose()
}

pub async fn by_id(conn: &mut AnyConnection, id: i64) -> Result<Option<OrderRow>, sqlx::Error> {
    find(conn, Lookup::Id(id)).await
}

pub async fn by_key(conn: &mut AnyConnection, key: &str) -> Result<Option<OrderRow>, sqlx::Error> {
    find(conn, Lookup::Text("idempotency_key", key)).await
}

pub async fn by_reference(
    conn: &mut AnyConnection,
    reference: &str,
) -> Result<Option<OrderRow>, sqlx::Error> {
    find(conn, Lookup::Text("reference", reference)).await
}

/// Re-read an order inside a transaction, holding its row until commit (PostgreSQL `FOR UPDATE`;
/// on SQLite the transaction already holds the database's write lock after its first write).
pub async fn lock(
    conn: &mut AnyConnection,
    backend: Backend,
    id: i64,
) -> Result<Option<OrderRow>, sqlx::Error> {
    let lock = match backend {
        Backend::Postgres => " FOR UPDATE",
        Backend::Sqlite => "",
    };
    sqlx::query(&format!(
        "SELECT {ORDER_COLUMNS} FROM orders WHERE id = $1{lock}"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await?
    .as_ref()
    .map(order)
    .transpose()
}

pub async fn set_status(
    conn: &mut AnyConnection,
    id: i64,
    status: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE orders SET status = $1, updated_at = $2 WHERE id = $3")
        .bind(status)
        .bind(now_ms())
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

#[derive(Debug, Clone)]
pub struct LineRow {
    pub product_id: i64,
    pub name: String,
    pub unit_minor: i64,
    pub quantity: i64,
    pub line_minor: i64,
}

pub async fn insert_line(
    conn: &mut AnyConnection,
    order_id: i64,
    line: &LineRow,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO order_lines (order_id, product_id, name, unit_minor, quantity, line_minor) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(order_id)
    .bind(line.product_id)
    .bind(&line.name)
    .bind(line.unit_minor)
    .bind(line.quantity)
    .bind(line.line_minor)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn lines(conn: &mut AnyConnection, order_id: i64) -> Result<Vec<LineRow>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT product_id, name, unit_minor, quantity, line_minor FROM order_lines \
         WHERE order_id = $1 ORDER BY name, product_id",
    )
    .bind(order_id)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(LineRow {
                product_id: r.try_get("product_id")?,
                name: r.try_get("name")?,
                unit_minor: r.try_get("unit_minor")?,
                quantity: r.try_get("quantity")?,
                line_minor: r.try_get("line_minor")?,
            })
        })
        .collect()
}

/// Take `quantity` from the stock if that much is left; false if not.
pub async fn reserve_stock(
    conn: &mut AnyConnection,
    product_id: i64,
    quantity: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("UPDATE products SET stock = stock - $1 WHERE id = $2 AND stock >= $1")
        .bind(quantity)
        .bind(product_id)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Give an order's reserved stock back, once.
pub async fn release_stock(conn: &mut AnyConnection, order_id: i64) -> Result<(), sqlx::Error> {
    let claimed =
        sqlx::query("UPDATE orders SET stock_released = 1 WHERE id = $1 AND stock_released = 0")
            .bind(order_id)
            .execute(&mut *conn)
            .await?;
    if claimed.rows_affected() == 1 {
        sqlx::query(
            "UPDATE products SET stock = stock + (SELECT l.quantity FROM order_lines l \
             WHERE l.order_id = $1 AND l.product_id = products.id) \
             WHERE id IN (SELECT product_id FROM order_lines WHERE order_id = $1)",
        )
        .bind(order_id)
        .execute(conn)
        .await?;
    }
    Ok(())
}

#[derive(Debug, Clone)]
pub struct AttemptRow {
    pub id: i64,
    pub order_id: i64,
    pub reference: String,
    pub provider: String,
    pub state: String,
    pub provider_session_id: Option<String>,
    pub redirect_url: Option<String>,
    pub claimed_at: Option<i64>,
}

const ATTEMPT_COLUMNS: &str =
    "id, order_id, reference, provider, state, provider_session_id, redirect_url, claimed_at";

fn attempt(r: &super::Row) -> Result<AttemptRow, sqlx::Error> {
    Ok(AttemptRow {
        id: r.try_get("id")?,
        order_id: r.try_get("order_id")?,
        reference: r.try_get("reference")?,
        provider: r.try_get("provider")?,
        state: r.try_get("state")?,
        provider_session_id: r.try_get("provider_session_id")?,
        redirect_url: r.try_get("redirect_url")?,
        claimed_at: r.try_get("claimed_at")?,
    })
}

/// Add attempt number n+1 (`ORD-000123-A{n+1}`) in state `new`.
pub async fn insert_attempt(
    conn: &mut AnyConnection,
    order: &OrderRow,
    provider: &str,
) -> Result<AttemptRow, sqlx::Error> {
    let count: i64 = sqlx::query("SELECT COUNT(*) AS n FROM payment_attempts WHERE order_id = $1")
        .bind(order.id)
        .fetch_one(&mut *conn)
        .await?
        .try_get("n")?;
    let reference = format!("{}-A{}", order.reference, count + 1);
    let now = now_ms();
    sqlx::query(
        "INSERT INTO payment_attempts (order_id, reference, provider, state, created_at, updated_at) \
         VALUES ($1, $2, $3, 'new', $4, $4)",
    )
    .bind(order.id)
    .bind(&reference)
    .bind(provider)
    .bind(now)
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

/// Claim the right to call the provider for an attempt: it is new, or an earlier claim is older
/// than `stale_before` (that caller died). True if this caller holds the claim.
pub async fn claim_attempt(
    conn: &mut AnyConnection,
    id: i64,
    stale_before: i64,
) -> Result<bool, sqlx::Error> {
    let now = now_ms();
    let done = sqlx::query(
        "UPDATE payment_attempts SET state = 'starting', claimed_at = $1, updated_at = $1 \
         WHERE id = $2 AND (state = 'new' OR (state = 'starting' AND claimed_at < $3))",
    )
    .bind(now)
    .bind(id)
    .bind(stale_before)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The provider session is open; the reconciler first looks it up at `first_lookup_at`.
pub async fn attempt_started(
    conn: &mut AnyConnection,
    id: i64,
    session_id: &str,
    url: &str,
    first_lookup_at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE payment_attempts SET state = 'open', provider_session_id = $1, redirect_url = $2, \
         updated_at = $3, next_lookup_at = $4 WHERE id = $5 AND state = 'starting'",
    )
    .bind(session_id)
    .bind(url)
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
    state: &str,
    error: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE payment_attempts SET state = $1, error = $2, updated_at = $3 WHERE id = $4",
    )
    .bind(state)
    .bind(error)
    .bind(now_ms())
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Open attempts whose next reconciler lookup is due: (id, reference, provider, session id, lookups, due at).
pub async fn due_lookups(
    conn: &mut AnyConnection,
    now: i64,
    limit: i64,
) -> Result<Vec<(i64, String, String, String, i64, i64)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, reference, provider, provider_session_id, lookups, next_lookup_at FROM payment_attempts \
         WHERE state IN ('open', 'cancelling') AND next_lookup_at <= $1 ORDER BY next_lookup_at LIMIT $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("id")?,
                r.try_get("reference")?,
                r.try_get("provider")?,
                r.try_get::<Option<String>, _>("provider_session_id")?
                    .unwrap_or_default(),
                r.try_get("lookups")?,
                r.try_get("next_lookup_at")?,
            ))
        })
        .collect()
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
/// already there. False means a duplicate or an unknown attempt. Being a write, it is the first
/// statement of the transaction that applies the event, so concurrent twins queue behind it.
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

/// Store a webhook as received, before anything else looks at it.
pub async fn insert_inbox(
    conn: &mut AnyConnection,
    provider: &str,
    headers: &str,
    body: &[u8],
) -> Result<i64, sqlx::Error> {
    sqlx::query(
        "INSERT INTO webhook_inbox (provider, headers, body, received_at) VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(provider)
    .bind(headers)
    .bind(body.to_vec())
    .bind(now_ms())
    .fetch_one(conn)
    .await?
    .try_get("id")
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

/// Queue a side effect (an email) to be sent after the transaction commits.
pub async fn insert_outbox(
    conn: &mut AnyConnection,
    kind: &str,
    payload: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO outbox (kind, payload, created_at) VALUES ($1, $2, $3)")
        .bind(kind)
        .bind(payload)
        .bind(now_ms())
        .execute(conn)
        .await?;
    Ok(())
}
