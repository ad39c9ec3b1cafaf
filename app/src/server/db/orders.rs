//! Orders, their lines and the stock they hold. Their payment attempts are in [`super::attempts`],
//! the payment ledger in [`super::ledger`], the webhook inbox in [`super::inbox`].

//!
//! Rows are typed when they are read: an order's status and currency, an attempt's provider and
//! state. A value the code does not know is a decoding error naming the column, never a guess.

use super::now_ms;
use crate::model::{Currency, Money, OrderStatus, ProviderId};
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
pub(super) fn corrupt(column: &str, value: &str) -> sqlx::Error {
    sqlx::Error::ColumnDecode {
        index: column.to_string(),
        source: format!("unknown value {value:?}").into(),
    }
}

pub(super) fn parsed<T>(
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
