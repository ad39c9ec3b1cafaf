//! The merchant's side of the catalogue: categories, a product's full record, its prices in every
//! currency, its former slugs, archiving.

use crate::model::{Category, Currency, Money};
use sqlx::{AnyConnection, Row as _};

/// Every category, in the merchant's order.
pub async fn categories(conn: &mut AnyConnection) -> Result<Vec<Category>, sqlx::Error> {
    let rows =
        sqlx::query("SELECT id, slug, name, position FROM categories ORDER BY position, name, id")
            .fetch_all(conn)
            .await?;
    rows.iter()
        .map(|r| {
            Ok(Category {
                id: r.try_get("id")?,
                slug: r.try_get("slug")?,
                name: r.try_get("name")?,
                position: r.try_get("position")?,
            })
        })
        .collect()
}

/// The category with this slug other than `except`, if any.
pub async fn category_slug_owner(
    conn: &mut AnyConnection,
    slug: &str,
    except: Option<i64>,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar::<_, i64>("SELECT id FROM categories WHERE slug = $1 AND id <> $2")
        .bind(slug)
        .bind(except.unwrap_or(0))
        .fetch_optional(conn)
        .await
}

/// Create a category, or change one (`id`); false if there is no such category.
pub async fn save_category(
    conn: &mut AnyConnection,
    id: Option<i64>,
    category: &Category,
) -> Result<bool, sqlx::Error> {
    let done = match id {
        None => {
            sqlx::query("INSERT INTO categories (slug, name, position) VALUES ($1, $2, $3)")
                .bind(&category.slug)
                .bind(&category.name)
                .bind(category.position)
                .execute(conn)
                .await?
        }
        Some(id) => {
            sqlx::query("UPDATE categories SET slug = $1, name = $2, position = $3 WHERE id = $4")
                .bind(&category.slug)
                .bind(&category.name)
                .bind(category.position)
                .bind(id)
                .execute(conn)
                .await?
        }
    };
    Ok(done.rows_affected() == 1)
}

/// A product as the merchant edits it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductRecord {
    pub slug: String,
    pub name: String,
    pub description: String,
    pub sku: String,
    pub category_id: Option<i64>,
    pub stock: i64,
    pub active: bool,
    /// Its price in each currency it is sold in.
    pub prices: Vec<Money>,
}

/// A product that is not archived, by id.
pub async fn product(
    conn: &mut AnyConnection,
    id: i64,
) -> Result<Option<ProductRecord>, sqlx::Error> {
    let Some(row) = sqlx::query(
        "SELECT slug, name, description, sku, category_id, stock, active FROM products \
         WHERE id = $1 AND archived = 0",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Ok(None);
    };
    let prices =
        sqlx::query("SELECT currency, amount_minor FROM product_prices WHERE product_id = $1")
            .bind(id)
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .filter_map(|r| {
                let code: String = r.try_get("currency").ok()?;
                let currency: Currency = code.parse().ok()?;
                Some(Money::new(r.try_get("amount_minor").ok()?, currency))
            })
            .collect();
    Ok(Some(record_from(&row, prices)?))
}

/// A product row's record, with its prices.
fn record_from(row: &super::Row, prices: Vec<Money>) -> Result<ProductRecord, sqlx::Error> {
    Ok(ProductRecord {
        slug: row.try_get("slug")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        sku: row.try_get::<Option<String>, _>("sku")?.unwrap_or_default(),
        category_id: row.try_get("category_id")?,
        stock: row.try_get("stock")?,
        active: row.try_get::<i64, _>("active")? != 0,
        prices,
    })
}

/// The product (archived or not) whose current slug or SKU is this, other than `except`.
pub async fn owner_of(
    conn: &mut AnyConnection,
    column: OwnedBy,
    value: &str,
    except: Option<i64>,
) -> Result<Option<i64>, sqlx::Error> {
    let sql = match column {
        OwnedBy::Slug => "SELECT id FROM products WHERE slug = $1 AND id <> $2",
        OwnedBy::Sku => "SELECT id FROM products WHERE sku = $1 AND id <> $2",
    };
    sqlx::query_scalar::<_, i64>(sql)
        .bind(value)
        .bind(except.unwrap_or(0))
        .fetch_optional(conn)
        .await
}

/// Which unique field [`owner_of`] looks at.
#[derive(Debug, Clone, Copy)]
pub enum OwnedBy {
    Slug,
    Sku,
}

/// Create a product (last in the catalogue's order); its id.
pub async fn insert_product(
    conn: &mut AnyConnection,
    product: &ProductRecord,
    image: &str,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar::<_, i64>(
        "INSERT INTO products (slug, name, description, image, stock, active, position, \
         updated_at, sku, category_id) \
         VALUES ($1, $2, $3, $4, $5, $6, \
         (SELECT COALESCE(MAX(position), 0) + 1 FROM products), $7, $8, $9) RETURNING id",
    )
    .bind(&product.slug)
    .bind(&product.name)
    .bind(&product.description)
    .bind(image)
    .bind(product.stock)
    .bind(i64::from(product.active))
    .bind(super::now_ms())
    .bind(&product.sku)
    .bind(product.category_id)
    .fetch_one(conn)
    .await
}

/// Change a product's fields (not its prices); false if there is no such product.
pub async fn update_product(
    conn: &mut AnyConnection,
    id: i64,
    product: &ProductRecord,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE products SET slug = $1, name = $2, description = $3, stock = $4, active = $5, \
         updated_at = $6, sku = $7, category_id = $8 WHERE id = $9 AND archived = 0",
    )
    .bind(&product.slug)
    .bind(&product.name)
    .bind(&product.description)
    .bind(product.stock)
    .bind(i64::from(product.active))
    .bind(super::now_ms())
    .bind(&product.sku)
    .bind(product.category_id)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The product's prices become exactly these (a currency left out is not sold in).
pub async fn replace_prices(
    conn: &mut AnyConnection,
    id: i64,
    prices: &[Money],
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM product_prices WHERE product_id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    for price in prices {
        super::products::set_price(&mut *conn, id, *price).await?;
    }
    Ok(())
}

/// `old` now leads to product `id` (after a rename); `current` is its slug again if it was an old
/// one (a rename back), so it no longer redirects.
pub async fn moved_slug(
    conn: &mut AnyConnection,
    id: i64,
    old: &str,
    current: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM product_old_slugs WHERE slug = $1")
        .bind(current)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO product_old_slugs (slug, product_id) VALUES ($1, $2) \
         ON CONFLICT (slug) DO UPDATE SET product_id = excluded.product_id",
    )
    .bind(old)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

/// A new product's slug that was another's old one: it is this product's page now.
pub async fn forget_old_slug(conn: &mut AnyConnection, slug: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM product_old_slugs WHERE slug = $1")
        .bind(slug)
        .execute(conn)
        .await?;
    Ok(())
}

/// Where an old slug leads now: the product's current slug, if it is on sale.
pub async fn current_slug(
    conn: &mut AnyConnection,
    old: &str,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar::<_, String>(
        "SELECT p.slug FROM product_old_slugs o JOIN products p ON p.id = o.product_id \
         WHERE o.slug = $1 AND p.active = 1",
    )
    .bind(old)
    .fetch_optional(conn)
    .await
}

/// Whether any order was placed for the product.
pub async fn has_orders(conn: &mut AnyConnection, id: i64) -> Result<bool, sqlx::Error> {
    Ok(
        sqlx::query_scalar::<_, i64>("SELECT 1 FROM order_lines WHERE product_id = $1 LIMIT 1")
            .bind(id)
            .fetch_optional(conn)
            .await?
            .is_some(),
    )
}

/// Take the product out of the shop and the product list, keeping it for its orders.
pub async fn archive(conn: &mut AnyConnection, id: i64) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE products SET archived = 1, active = 0, updated_at = $1 WHERE id = $2 AND archived = 0",
    )
    .bind(super::now_ms())
    .bind(id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Delete a product no order names (its prices, old slugs and cart lines go with it).
pub async fn delete(conn: &mut AnyConnection, id: i64) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM products WHERE id = $1")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Every product (archived ones too, which keep their SKU and slug) with its full record, in the
/// catalogue's order: for the CSV export and import.
pub async fn all_records(
    conn: &mut AnyConnection,
) -> Result<Vec<(i64, bool, ProductRecord)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, slug, name, description, sku, category_id, stock, active, archived \
         FROM products ORDER BY position, id",
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut prices: std::collections::HashMap<i64, Vec<Money>> = Default::default();
    for row in sqlx::query("SELECT product_id, currency, amount_minor FROM product_prices")
        .fetch_all(&mut *conn)
        .await?
    {
        let code: String = row.try_get("currency")?;
        if let Ok(currency) = code.parse::<Currency>() {
            prices
                .entry(row.try_get("product_id")?)
                .or_default()
                .push(Money::new(row.try_get("amount_minor")?, currency));
        }
    }
    rows.iter()
        .map(|row| {
            let id: i64 = row.try_get("id")?;
            let mut own = prices.remove(&id).unwrap_or_default();
            own.sort_by_key(|m| Currency::ALL.iter().position(|c| *c == m.currency));
            Ok((
                id,
                row.try_get::<i64, _>("archived")? != 0,
                record_from(row, own)?,
            ))
        })
        .collect()
}

/// Create a category; its id.
pub async fn insert_category(
    conn: &mut AnyConnection,
    category: &Category,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar::<_, i64>(
        "INSERT INTO categories (slug, name, position) VALUES ($1, $2, $3) RETURNING id",
    )
    .bind(&category.slug)
    .bind(&category.name)
    .bind(category.position)
    .fetch_one(conn)
    .await
}
