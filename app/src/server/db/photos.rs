//! Product photos (their files are in `MEDIA_DIR`, [`crate::server::media`]).

use sqlx::{AnyConnection, Row as _};
use std::collections::HashMap;

/// One stored photo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhotoRow {
    pub id: i64,
    pub product_id: i64,
    pub position: i64,
    pub name: String,
    pub format: String,
    pub widths: Vec<u32>,
    pub width: i64,
    pub height: i64,
    pub alt: String,
}

const SELECT: &str =
    "SELECT id, product_id, position, name, format, widths, width, height, alt FROM product_photos";

fn from_row(row: &super::Row) -> Result<PhotoRow, sqlx::Error> {
    let widths: String = row.try_get("widths")?;
    Ok(PhotoRow {
        id: row.try_get("id")?,
        product_id: row.try_get("product_id")?,
        position: row.try_get("position")?,
        name: row.try_get("name")?,
        format: row.try_get("format")?,
        widths: widths
            .split_whitespace()
            .filter_map(|w| w.parse().ok())
            .collect(),
        width: row.try_get("width")?,
        height: row.try_get("height")?,
        alt: row.try_get("alt")?,
    })
}

/// A new photo to store, last of its product's.
pub struct NewPhoto<'a> {
    pub product_id: i64,
    pub name: &'a str,
    pub format: &'a str,
    pub widths: &'a [u32],
    pub width: u32,
    pub height: u32,
    pub alt: &'a str,
}

pub async fn insert(conn: &mut AnyConnection, photo: &NewPhoto<'_>) -> Result<i64, sqlx::Error> {
    let widths: Vec<String> = photo.widths.iter().map(u32::to_string).collect();
    let row = sqlx::query(
        "INSERT INTO product_photos \
         (product_id, position, name, format, widths, width, height, alt, created_at) \
         VALUES ($1, (SELECT COALESCE(MAX(position), 0) + 1 FROM product_photos WHERE product_id = $1), \
                 $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(photo.product_id)
    .bind(photo.name)
    .bind(photo.format)
    .bind(widths.join(" "))
    .bind(i64::from(photo.width))
    .bind(i64::from(photo.height))
    .bind(photo.alt)
    .bind(super::now_ms())
    .fetch_one(conn)
    .await?;
    row.try_get("id")
}

/// A product's photos, first first.
pub async fn of_product(
    conn: &mut AnyConnection,
    product_id: i64,
) -> Result<Vec<PhotoRow>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "{SELECT} WHERE product_id = $1 ORDER BY position, id"
    ))
    .bind(product_id)
    .fetch_all(conn)
    .await?;
    rows.iter().map(from_row).collect()
}

/// The first photo of each of these products that has one.
pub async fn first_of(
    conn: &mut AnyConnection,
    product_ids: &[i64],
) -> Result<HashMap<i64, PhotoRow>, sqlx::Error> {
    if product_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let sql = format!(
        "{SELECT} WHERE product_id IN ({}) ORDER BY product_id, position, id",
        super::placeholders(1, product_ids.len())
    );
    let mut query = sqlx::query(&sql);
    for id in product_ids {
        query = query.bind(*id);
    }
    let mut first = HashMap::new();
    for row in query.fetch_all(conn).await? {
        let photo = from_row(&row)?;
        first.entry(photo.product_id).or_insert(photo);
    }
    Ok(first)
}

/// One photo of a product, if it is that product's.
pub async fn get(
    conn: &mut AnyConnection,
    product_id: i64,
    photo_id: i64,
) -> Result<Option<PhotoRow>, sqlx::Error> {
    let row = sqlx::query(&format!("{SELECT} WHERE product_id = $1 AND id = $2"))
        .bind(product_id)
        .bind(photo_id)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(from_row).transpose()
}

pub async fn delete(conn: &mut AnyConnection, photo_id: i64) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM product_photos WHERE id = $1")
        .bind(photo_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Whether any photo row still names these files.
pub async fn name_in_use(conn: &mut AnyConnection, name: &str) -> Result<bool, sqlx::Error> {
    Ok(
        sqlx::query("SELECT 1 FROM product_photos WHERE name = $1 LIMIT 1")
            .bind(name)
            .fetch_optional(conn)
            .await?
            .is_some(),
    )
}

pub async fn set_position(
    conn: &mut AnyConnection,
    photo_id: i64,
    position: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE product_photos SET position = $1 WHERE id = $2")
        .bind(position)
        .bind(photo_id)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn set_alt(
    conn: &mut AnyConnection,
    photo_id: i64,
    alt: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE product_photos SET alt = $1 WHERE id = $2")
        .bind(alt)
        .bind(photo_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Every photo, by product and order.
pub async fn all(conn: &mut AnyConnection) -> Result<HashMap<i64, Vec<PhotoRow>>, sqlx::Error> {
    let rows = sqlx::query(&format!("{SELECT} ORDER BY product_id, position, id"))
        .fetch_all(conn)
        .await?;
    let mut photos: HashMap<i64, Vec<PhotoRow>> = HashMap::new();
    for row in &rows {
        let photo = from_row(row)?;
        photos.entry(photo.product_id).or_default().push(photo);
    }
    Ok(photos)
}

/// Any stored photo made from these files (by their name), to give another product.
pub async fn by_name(
    conn: &mut AnyConnection,
    name: &str,
) -> Result<Option<PhotoRow>, sqlx::Error> {
    let row = sqlx::query(&format!("{SELECT} WHERE name = $1 ORDER BY id LIMIT 1"))
        .bind(name)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// Remove every photo of a product (its files stay: other rows may name them).
pub async fn delete_of_product(
    conn: &mut AnyConnection,
    product_id: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM product_photos WHERE product_id = $1")
        .bind(product_id)
        .execute(conn)
        .await?;
    Ok(())
}
