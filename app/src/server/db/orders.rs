//! Orders, their lines and payment attempts, the payment ledger, the webhook inbox and the outbox.

//!
//! Rows are typed when they are read: an order's status and currency, an attempt's provider and
//! state. A value the code does not know is a decoding error naming the column, never a guess.

use super::now_ms;
use crate::model::{Currency, Money, OrderStatus, ProviderId};
use crate::server::payments::attempt::AttemptState;
use crate::server::payments::reference;
use sqlx::{AnyConnection, Row as _};

#[derive(Debug, Clone)]
pub struct OrderRow {
    pub id: i64,
    pub reference: String,
    pub user_id: Option<i64>,
    pub guest_token: String,
    pub email: String,
    pub currency: Currency,
    pub total_minor: i64,
    pub status: OrderStatus,
    pub stock_released: bool,
    /// The address JSON (the shopper's details as given at checkout).
    pub address: String,
    /// Until when the order holds its stock while unpaid (ms since the epoch).
    pub hold_until: Option<i64>,
    /// The provider of the order's newest attempt.
    pub provider: Option<ProviderId>,
    /// What succeeded refunds gave back, in minor units of the order's currency.
    pub refunded_minor: i64,
    /// When the order was placed (ms since the epoch).
    pub created_at: i64,
}

impl OrderRow {
    pub fn total(&self) -> Money {
        Money::new(self.total_minor, self.currency)
    }
}

const ORDER_COLUMNS: &str = "id, reference, user_id, guest_token, email, currency, total_minor, \
     status, stock_released, address, hold_until, provider, refunded_minor, created_at";

/// A stored value this code does not know: the row is corrupt or from a newer version.
fn corrupt(column: &str, value: &str) -> sqlx::Error {
    sqlx::Error::ColumnDecode {
        index: column.to_string(),
        source: format!("unknown value {value:?}").into(),
    }
}

fn parsed<T>(
    r: &super::Row,
    column: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<T, sqlx::Error> {
    let text: String = r.try_get(column)?;
    parse(&text).ok_or_else(|| corrupt(column, &text))
}

fn order(r: &super::Row) -> Result<OrderRow, sqlx::Error> {
    Ok(OrderRow {
        id: r.try_get("id")?,
        reference: r
            .try_get::<Option<String>, _>("reference")?
            .unwrap_or_default(),
        user_id: r.try_get("user_id")?,
        guest_token: r.try_get("guest_token")?,
        email: r.try_get("email")?,
        currency: parsed(r, "currency", |s| s.parse().ok())?,
        total_minor: r.try_get("total_minor")?,
        status: parsed(r, "status", OrderStatus::parse)?,
        stock_released: r.try_get::<i64, _>("stock_released")? != 0,
        address: r.try_get("address")?,
        hold_until: r.try_get("hold_until")?,
        provider: r
            .try_get::<Option<String>, _>("provider")?
            .map(|p| ProviderId::parse(&p).ok_or_else(|| corrupt("provider", &p)))
            .transpose()?,
        refunded_minor: r.try_get("refunded_minor")?,
        created_at: r.try_get("created_at")?,
    })
}

pub struct NewOrder<'a> {
    /// The form's key bound to the fingerprint of what is bought: unique per order.
    pub idempotency_key: &'a str,
    /// The checkout form's key as posted (several orders may come from one form).
    pub checkout_key: &'a str,
    pub hold_until: i64,
    pub user_id: Option<i64>,
    pub guest_token: &'a str,
    pub email: &'a str,
    pub name: &'a str,
    pub address: &'a str,
    pub currency: &'a str,
    pub total_minor: i64,
    /// The client address it was placed from, as per-address limits count it.
    pub client_key: Option<&'a str>,
}

/// Insert an order unless one with this idempotency key exists; its reference is `ORD-{id:06}`.
pub async fn insert(
    conn: &mut AnyConnection,
    new: &NewOrder<'_>,
) -> Result<Option<OrderRow>, sqlx::Error> {
    let now = now_ms();
    let id: Option<i64> = sqlx::query(
        "INSERT INTO orders (idempotency_key, user_id, guest_token, email, name, address, currency, \
         total_minor, status, created_at, updated_at, checkout_key, hold_until, client_key) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'awaiting_payment', $9, $9, $10, $11, $12) \
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
    .bind(new.checkout_key)
    .bind(new.hold_until)
    .bind(new.client_key)
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

/// The newest order placed from this checkout form.
pub async fn latest_by_checkout_key(
    conn: &mut AnyConnection,
    key: &str,
) -> Result<Option<OrderRow>, sqlx::Error> {
    sqlx::query(&format!(
        "SELECT {ORDER_COLUMNS} FROM orders WHERE checkout_key = $1 ORDER BY id DESC LIMIT 1"
    ))
    .bind(key)
    .fetch_optional(conn)
    .await?
    .as_ref()
    .map(order)
    .transpose()
}

/// How many of these orders still wait for payment.
/// Unpaid orders placed from this client address (an address's key, see `client_addr::limit_key`).
pub async fn count_awaiting_from(
    conn: &mut AnyConnection,
    client_key: &str,
) -> Result<i64, sqlx::Error> {
    sqlx::query(
        "SELECT COUNT(*) AS n FROM orders WHERE client_key = $1 AND status = 'awaiting_payment'",
    )
    .bind(client_key)
    .fetch_one(conn)
    .await?
    .try_get("n")
}

pub async fn count_awaiting(
    conn: &mut AnyConnection,
    references: &[String],
    user_id: Option<i64>,
) -> Result<i64, sqlx::Error> {
    // References are `ORD-` and digits (checked by the caller's source, the session); bound, not
    // spliced, one placeholder each.
    let mut sql = String::from(
        "SELECT COUNT(*) AS n FROM orders WHERE status = 'awaiting_payment' AND (user_id = $1",
    );
    for i in 0..references.len() {
        sql.push_str(&format!(" OR reference = ${}", i + 2));
    }
    sql.push(')');
    let mut query = sqlx::query(&sql).bind(user_id.unwrap_or(-1));
    for r in references {
        query = query.bind(r);
    }
    query.fetch_one(conn).await?.try_get("n")
}

/// Unpaid orders whose hold has run out: (id, reference), oldest first.
pub async fn overdue(
    conn: &mut AnyConnection,
    now: i64,
    limit: i64,
) -> Result<Vec<(i64, String)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, reference FROM orders WHERE status = 'awaiting_payment' \
         AND hold_until IS NOT NULL AND hold_until <= $1 ORDER BY hold_until LIMIT $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("id")?, r.try_get("reference")?)))
        .collect()
}

pub async fn by_reference(
    conn: &mut AnyConnection,
    reference: &str,
) -> Result<Option<OrderRow>, sqlx::Error> {
    find(conn, Lookup::Text("reference", reference)).await
}

/// Lock an order for the rest of the transaction and read it. The lock is a write (a no-op
/// update), so it is the same on both databases: PostgreSQL holds the row until commit, SQLite
/// takes its single write lock. Made the first statement of a transaction, it makes every
/// writer of one order queue behind the others, with no read-then-upgrade in between. One
/// statement: the row comes back from the update itself (`RETURNING`, after any wait for the lock).
pub async fn lock(conn: &mut AnyConnection, id: i64) -> Result<Option<OrderRow>, sqlx::Error> {
    sqlx::query(&format!(
        "UPDATE orders SET updated_at = updated_at WHERE id = $1 RETURNING {ORDER_COLUMNS}"
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
    status: OrderStatus,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE orders SET status = $1, updated_at = $2 WHERE id = $3")
        .bind(status.as_str())
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
