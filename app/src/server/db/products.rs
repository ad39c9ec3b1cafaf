//! Products and their prices.

use super::Row;
use crate::model::{Currency, Money, ProductCard};
use sqlx::{AnyConnection, Row as _};

/// A product priced in one currency; `price` is `None` if the product has no price in it.
#[derive(Debug, Clone)]
pub struct PricedProduct {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub description: String,
    pub image: String,
    pub stock: i64,
    pub active: bool,
    pub price: Option<Money>,
}

impl PricedProduct {
    /// The grid card, if the product can be sold in that currency.
    pub fn card(&self) -> Option<ProductCard> {
        Some(ProductCard {
            id: self.id,
            slug: self.slug.clone(),
            name: self.name.clone(),
            image: self.image.clone(),
            price: self.price?,
            stock: self.stock,
            photo: None,
        })
    }
}

const SELECT_PRICED: &str =
    "SELECT p.id, p.slug, p.name, p.description, p.image, p.stock, p.active, pp.amount_minor \
     FROM products p LEFT JOIN product_prices pp ON pp.product_id = p.id AND pp.currency = $1";

fn from_row(row: &Row, currency: Currency) -> Result<PricedProduct, sqlx::Error> {
    let amount: Option<i64> = row.try_get("amount_minor")?;
    Ok(PricedProduct {
        id: row.try_get("id")?,
        slug: row.try_get("slug")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        image: row.try_get("image")?,
        stock: row.try_get("stock")?,
        active: row.try_get::<i64, _>("active")? != 0,
        price: amount.map(|minor| Money::new(minor, currency)),
    })
}

/// Which products a listing includes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listing {
    /// Active products with a price in the currency: the shop's grid.
    ForSale,
    /// Every product not archived, on sale or hidden: the merchant's list.
    All,
}

/// Where a page of the catalogue starts: at the beginning, or just after or just before a product
/// (its position and id, the catalogue's order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageAt {
    First,
    After { position: i64, id: i64 },
    Before { position: i64, id: i64 },
}

/// One page of the catalogue and whether there is more on either side.
#[derive(Debug, Clone)]
pub struct CataloguePage {
    pub products: Vec<PricedProduct>,
    pub position_of: Vec<i64>,
    pub more_before: bool,
    pub more_after: bool,
}

/// A page (up to `size`, keyset by position and id) of the `listing`'s products priced in
/// `currency`, in catalogue order, narrowed to a category (its slug; empty: all) and to a search
/// (`text` found in the name, description or SKU, any case; empty: all).
pub async fn page_of(
    conn: &mut AnyConnection,
    currency: Currency,
    listing: Listing,
    category: &str,
    text: &str,
    at: PageAt,
    size: usize,
) -> Result<CataloguePage, sqlx::Error> {
    let pattern = if text.is_empty() {
        String::new()
    } else {
        let escaped = text
            .to_lowercase()
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        format!("%{escaped}%")
    };
    let for_sale = match listing {
        Listing::ForSale => {
            "AND p.active = 1 AND EXISTS (SELECT 1 FROM product_prices pp \
             WHERE pp.product_id = p.id AND pp.currency = $1)"
        }
        Listing::All => "",
    };
    let (seek, order, key) = match at {
        PageAt::First => ("", "p.position, p.id", None),
        PageAt::After { position, id } => (
            "AND (p.position > $4 OR (p.position = $4 AND p.id > $5))",
            "p.position, p.id",
            Some((position, id)),
        ),
        PageAt::Before { position, id } => (
            "AND (p.position < $4 OR (p.position = $4 AND p.id < $5))",
            "p.position DESC, p.id DESC",
            Some((position, id)),
        ),
    };
    // The price is a subquery, not a join: the page is read in the catalogue order's index and
    // stops at `size + 1` rows (joined, SQLite read every price first and sorted them all).
    let sql = format!(
        "SELECT p.id, p.slug, p.name, p.description, p.image, p.stock, p.active, p.position, \
         (SELECT pp.amount_minor FROM product_prices pp \
          WHERE pp.product_id = p.id AND pp.currency = $1) AS amount_minor \
         FROM products p \
         WHERE p.archived = 0 {for_sale} \
         AND ($2 = '' OR p.category_id = (SELECT c.id FROM categories c WHERE c.slug = $2)) \
         AND ($3 = '' OR lower(p.name) LIKE $3 ESCAPE '\\' OR lower(p.description) LIKE $3 ESCAPE '\\' \
              OR lower(p.sku) LIKE $3 ESCAPE '\\') \
         {seek} \
         ORDER BY {order} LIMIT {}",
        size + 1
    );
    let mut query = sqlx::query(&sql)
        .bind(currency.code())
        .bind(category)
        .bind(pattern);
    if let Some((position, id)) = key {
        query = query.bind(position).bind(id);
    }
    let rows = query.fetch_all(conn).await?;
    let more = rows.len() > size;
    let mut page = Vec::with_capacity(size);
    for row in rows.iter().take(size) {
        page.push((from_row(row, currency)?, row.try_get::<i64, _>("position")?));
    }
    let (more_before, more_after) = match at {
        PageAt::First => (false, more),
        PageAt::After { .. } => (true, more),
        PageAt::Before { .. } => {
            page.reverse();
            (more, true)
        }
    };
    let (products, position_of) = page.into_iter().unzip();
    Ok(CataloguePage {
        products,
        position_of,
        more_before,
        more_after,
    })
}

pub async fn by_slug(
    conn: &mut AnyConnection,
    slug: &str,
    currency: Currency,
) -> Result<Option<PricedProduct>, sqlx::Error> {
    let sql = format!("{SELECT_PRICED} WHERE p.slug = $2");
    let row = sqlx::query(&sql)
        .bind(currency.code())
        .bind(slug)
        .fetch_optional(conn)
        .await?;
    row.map(|r| from_row(&r, currency)).transpose()
}

/// The products with these ids (missing ids are simply absent from the result).
pub async fn by_ids(
    conn: &mut AnyConnection,
    ids: &[i64],
    currency: Currency,
) -> Result<Vec<PricedProduct>, sqlx::Error> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "{SELECT_PRICED} WHERE p.id IN ({})",
        super::placeholders(2, ids.len())
    );
    let mut query = sqlx::query(&sql).bind(currency.code());
    for id in ids {
        query = query.bind(*id);
    }
    let rows = query.fetch_all(conn).await?;
    rows.iter().map(|r| from_row(r, currency)).collect()
}

/// Set a product's price in one currency (insert or replace).
pub async fn set_price(
    conn: &mut AnyConnection,
    product_id: i64,
    price: Money,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO product_prices (product_id, currency, amount_minor) VALUES ($1, $2, $3) \
         ON CONFLICT (product_id, currency) DO UPDATE SET amount_minor = excluded.amount_minor",
    )
    .bind(product_id)
    .bind(price.currency.code())
    .bind(price.minor)
    .execute(conn)
    .await?;
    Ok(())
}

/// Set the stock and whether the product is for sale; false if there is no such product.
pub async fn set_stock_and_active(
    conn: &mut AnyConnection,
    product_id: i64,
    stock: i64,
    active: bool,
) -> Result<bool, sqlx::Error> {
    let done =
        sqlx::query("UPDATE products SET stock = $1, active = $2, updated_at = $3 WHERE id = $4")
            .bind(stock)
            .bind(i64::from(active))
            .bind(super::now_ms())
            .bind(product_id)
            .execute(conn)
            .await?;
    Ok(done.rows_affected() == 1)
}
