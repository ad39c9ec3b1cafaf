//! Saved carts of logged-in customers. Guests' carts live in their session instead.

use sqlx::{AnyConnection, Row as _};

/// One saved line: the product, how many, and the unit price the shopper last saw.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StoredItem {
    pub product_id: i64,
    pub quantity: i64,
    /// `(currency code, minor units)` last shown, to tell the shopper when a price changed.
    pub seen_price: Option<(String, i64)>,
}

pub async fn items(conn: &mut AnyConnection, user_id: i64) -> Result<Vec<StoredItem>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT product_id, quantity, seen_currency, seen_price_minor FROM cart_items \
         WHERE user_id = $1 ORDER BY added_at, product_id",
    )
    .bind(user_id)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            let currency: Option<String> = r.try_get("seen_currency")?;
            let minor: Option<i64> = r.try_get("seen_price_minor")?;
            Ok(StoredItem {
                product_id: r.try_get("product_id")?,
                quantity: r.try_get("quantity")?,
                seen_price: currency.zip(minor),
            })
        })
        .collect()
}

/// Insert or replace one line.
pub async fn put(
    conn: &mut AnyConnection,
    user_id: i64,
    item: &StoredItem,
) -> Result<(), sqlx::Error> {
    let (currency, minor) = item.seen_price.clone().unzip();
    sqlx::query(
        "INSERT INTO cart_items (user_id, product_id, quantity, seen_currency, seen_price_minor, added_at) \
         VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (user_id, product_id) DO UPDATE SET quantity = excluded.quantity, \
         seen_currency = excluded.seen_currency, seen_price_minor = excluded.seen_price_minor",
    )
    .bind(user_id)
    .bind(item.product_id)
    .bind(item.quantity)
    .bind(currency)
    .bind(minor)
    .bind(super::now_ms())
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn remove(
    conn: &mut AnyConnection,
    user_id: i64,
    product_id: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM cart_items WHERE user_id = $1 AND product_id = $2")
        .bind(user_id)
        .bind(product_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Empty a customer's saved cart (after an order took its lines).
pub async fn clear(conn: &mut AnyConnection, user_id: i64) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM cart_items WHERE user_id = $1")
        .bind(user_id)
        .execute(conn)
        .await?;
    Ok(())
}
